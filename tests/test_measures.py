"""genproof.measures: the perturbation searches against closed forms, each registered measure on a
tiny trained network (exact where a closed form exists, monotone where the definition says so)."""

import copy

import pytest
import torch

from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig
from empirical.train import TrainConfig
from genproof.catalog import measure_defaults
from genproof.measures import MEASURES, box_scale, gaussian_scale, largest_scale
from genproof.quantities import COSTS, Undefined
from genproof.norms import norm_measures
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
    assert MEASURES.get("spectral").value(net) == m.spectral
    assert MEASURES.get("frobenius").value(net) == m.frobenius and MEASURES.get("path").value(net) == m.path
    assert MEASURES.get("spectral-product").value(net) == pytest.approx(m.lipschitz_bound ** 2 / m.gamma ** 2)


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


def test_incoherence_is_one_minus_a_coherence(net):
    value = MEASURES.get("incoherence").value(net)
    assert 0 <= value <= 1


def test_the_registry_says_what_each_measure_costs():
    assert set(measure_defaults()) == {e.name for e in MEASURES} - {"pac-bayes-bound"}  # the one opt-in: it optimizes
    for entry in MEASURES:
        assert entry.factory.cost in COSTS and entry.factory.source, entry.name
    with pytest.raises(ValueError, match="unknown measure"):
        MEASURES.get("sharpnes")
