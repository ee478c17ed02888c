"""genproof.measures: the perturbation searches against closed forms, each registered measure on a
tiny trained network (exact where a closed form exists, monotone where the definition says so)."""

import copy

import numpy as np
import pytest
import torch

from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig
from empirical.train import TrainConfig
from genproof.catalog import measure_defaults
from genproof.measures import MEASURES, box_scale, gaussian_scale, largest_scale
from genproof.quantities import COSTS, Undefined
from genproof.norms import margin_at, norm_measures
from genproof.network import Network

TINY = FitConfig(DataConfig("digits", n_train=120, n_test=60), ModelConfig("mlp", width=16, depth=1),
                 TrainConfig(lr=0.1, momentum=0.9, batch_size=32, max_steps=2000, device="cpu", progress=False))


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """One tiny fitted network, measured on one torch thread (as a study's runs are: on a busy 2-core
    machine two threads per tiny forward pass were measured 10-30 times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = Network.from_fit(TINY, tmp_path_factory.mktemp("measures"))
        assert net.summary["fitted"], "the tiny network must fit its training set for the margin measures"
        yield net
    finally:
        torch.set_num_threads(threads)


def test_largest_scale_finds_the_crossing_of_a_closed_form():
    # deviation(s) = s^2 crosses 0.25 at s = 0.5, from above (halving) and from below (doubling)
    for start in (1.0, 0.01):
        s = largest_scale(lambda s: s * s, target=0.25, rel_tol=1e-3, start=start)
        assert 0.5 * (1 - 1e-3) <= s <= 0.5  # the largest point seen at or below the crossing
    with pytest.raises(Undefined, match="even at scale"):
        largest_scale(lambda s: 1.0, target=0.1)  # never at or below the target
    with pytest.raises(Undefined, match="even at scale"):
        largest_scale(lambda s: 0.0, target=0.1)  # never above it
    with pytest.raises(ValueError, match="rel_tol"):
        largest_scale(lambda s: s, rel_tol=1.5)


def test_params_is_the_exact_parameter_count(net):
    # 64 inputs -> 16 hidden -> 10 classes: (64 + 1) * 16 + (16 + 1) * 10 weights and biases
    assert MEASURES.get("params").value(net) == (64 + 1) * 16 + (16 + 1) * 10


def test_distance_from_initialization_is_zero_at_initialization(net):
    at_init = copy.copy(net)
    at_init.model = net.init
    assert MEASURES.get("dist-init").value(at_init) == 0.0
    expected = sum(float(((a.detach().double() - b.detach().double()) ** 2).sum())
                   for (n, a), b in zip(net.model.named_parameters(), net.init.parameters()) if n.endswith("weight"))
    assert MEASURES.get("dist-init").value(net) == pytest.approx(expected, rel=1e-6)  # float32 differences


def test_norm_measures_are_genproof_norms(net):
    m = norm_measures(net)
    assert MEASURES.get("bartlett-spectral").value(net) == m.spectral
    assert MEASURES.get("golowich-frobenius").value(net) == m.frobenius and MEASURES.get("path").value(net) == m.path
    assert MEASURES.get("spectral-product").value(net) == pytest.approx(m.lipschitz_bound ** 2 / m.gamma ** 2)
    assert "spectral" not in MEASURES.names() and "frobenius" not in MEASURES.names()  # renamed for what they are


def test_margin_is_their_order_statistic():
    # their _margin: torch.cat(margins).kthvalue(m // 10)[0]; the k-th smallest, no interpolation
    for n in (10, 25, 30, 99, 1437):
        mg = torch.randn(n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
        assert margin_at(mg, 0.1) == float(mg.kthvalue(n // 10).values)
        assert margin_at(mg, 0.1) != pytest.approx(float(torch.quantile(mg, 0.1)))  # linear interpolation differs
    assert margin_at(torch.tensor([3.0, 1.0, 2.0]), 0.1) == 1.0  # n < 10: their k = 0 fails; we take the smallest
    assert margin_at(torch.arange(100.0), 0.29) == 28.0  # k = 29, though 0.29 * 100 < 29 in floats


def test_spec_orig_is_their_formula(net):
    """Jiang et al.'s (30) against the lines of Dziugaite et al.'s get_all_measures, rewritten here in
    numpy for the weights of an MLP (float64 SVDs) and their margin, and then their log form."""
    weights = [p.detach().double().numpy().reshape(p.shape[0], -1) for n, p in net.model.named_parameters()
               if "bias" not in n]
    logits = net.model.eval()(net.data.x_train).detach().double().numpy()
    y = net.data.y_train.numpy()
    rows = np.arange(len(y))
    correct = logits[rows, y].copy()
    logits[rows, y] = -np.inf
    gamma = abs(np.sort(correct - logits.max(1))[len(y) // 10 - 1])
    spec = np.array([np.linalg.svd(w, compute_uv=False).max() ** 2 for w in weights])
    fro = np.array([(w ** 2).sum() for w in weights])
    log_spec_orig_main = np.log(spec).sum() - 2 * np.log(gamma) + np.log((fro / spec).sum())  # their (30), raw
    value = MEASURES.get("spec-orig").value(net)
    assert value == pytest.approx(np.exp(log_spec_orig_main), rel=1e-9)
    assert value == pytest.approx(np.prod(spec) / gamma ** 2 * (fro / spec).sum(), rel=1e-9)


def test_spec_orig_is_scale_invariant_and_refuses_batch_norm(net):
    scaled = copy.copy(net)
    scaled.model = copy.deepcopy(net.model)
    with torch.no_grad():
        last = [m for m in scaled.model.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.mul_(3.0)
        last.bias.mul_(3.0)
    # prod ||W||^2 grows by 9, gamma^2 by 9: the ratio and sum ||W||_F^2 / ||W||_2^2 are unchanged
    # (rel 1e-5: the margins come from a float32 forward pass, 3x larger logits round differently)
    assert MEASURES.get("spec-orig").value(scaled) == pytest.approx(MEASURES.get("spec-orig").value(net), rel=1e-5)
    bn = copy.copy(net)
    bn.model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8), torch.nn.BatchNorm1d(8),
                                   torch.nn.ReLU(), torch.nn.Linear(8, 10)).eval()
    with pytest.raises(Undefined, match="batch norm"):
        MEASURES.get("spec-orig").value(bn)


def test_flatness_scales_grow_with_the_threshold(net):
    """A larger allowed rise of the training error admits a larger perturbation: sigma' and alpha'
    are non-decreasing in the threshold (the draws are the same at every threshold)."""
    for scale in (gaussian_scale, box_scale):
        for eps in (None, 1e-3):
            found = [scale(net, eps, target=t, seed=0) for t in (0.05, 0.1, 0.3)]
            assert 0 < found[0] <= found[1] <= found[2], (scale.__name__, eps, found)


def test_flatness_measures_are_positive_and_seeded(net):
    for name in ("pacbayes-flatness", "pacbayes-mag-flatness", "sharpness-flatness", "sharpness-mag-flatness"):
        fn = MEASURES.get(name).value
        value = fn(net, seed=0)
        assert 0 < value < float("inf") and fn(net, seed=0) == value, name


def test_the_ascent_finds_perturbations_at_least_as_bad_as_its_random_start(net):
    """The worst error over the ascent's iterates includes its uniform start, so at every alpha the
    rise it reports is at least the start's: the box the ascent allows is no larger than the one the
    random start alone allows (up to the searches' relative precision, 1% each)."""
    ascent = box_scale(net, target=0.1, steps=10)
    start_only = box_scale(net, target=0.1, steps=0)
    assert 0 < ascent <= start_only * 1.02
    with pytest.raises(ValueError, match="ascent steps"):
        box_scale(net, steps=-1)


def test_the_searches_and_margins_in_batches_are_the_searches_in_one(net, monkeypatch):
    """The perturbation searches and the margins read the training set in batches of `EVAL_BATCH`
    (the memory of one batch, for any n): with batches of 32 (120 examples: 32, 32, 32, 24, so the
    last batch's weight in the mean loss matters) they find what one batch finds."""
    from genproof import measures, network
    from genproof.norms import margins

    def run():
        return ([box_scale(net, eps, seed=0) for eps in (None, 1e-3)] + [gaussian_scale(net, seed=0)],
                margins(net.model, net.data.x_train, net.data.y_train))

    whole = run()
    for module in (network, measures):
        monkeypatch.setattr(module, "EVAL_BATCH", 32)
    batched = run()
    assert batched[0] == pytest.approx(whole[0], rel=1e-6)
    assert torch.allclose(batched[1], whole[1], rtol=1e-6, atol=1e-6)


def test_a_settled_point_ends_early_and_finds_the_same_scale(net):
    """The searches read only which side of the target each point's deviation falls on; stopping a
    point's draws or ascent once that is settled finds exactly the scale the full evaluation finds."""
    for eps in (None, 1e-3):
        assert gaussian_scale(net, eps, seed=1) == gaussian_scale(net, eps, seed=1, settle=False)
        assert box_scale(net, eps, seed=1) == box_scale(net, eps, seed=1, settle=False)


def test_incoherence_is_one_minus_a_coherence(net):
    value = MEASURES.get("incoherence").value(net)
    assert 0 <= value <= 1


def test_the_registry_says_what_each_measure_costs():
    assert set(measure_defaults()) == {e.name for e in MEASURES} - {"pac-bayes-bound"}  # the one opt-in: it optimizes
    for entry in MEASURES:
        assert entry.factory.cost in COSTS and entry.factory.source, entry.name
    with pytest.raises(ValueError, match="unknown measure"):
        MEASURES.get("sharpnes")
