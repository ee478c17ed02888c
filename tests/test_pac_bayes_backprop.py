"""PAC-Bayes by backprop: probabilistic networks, the objectives of Perez-Ortiz et al. 2021 against
their code's formulas (expected values computed here, independently), the Monte Carlo bound, and
the certificate end to end on a tiny setting."""

import math
import random

import pytest
import torch
from torch import nn

from empirical.fit import DataConfig
from empirical.models import ModelConfig, build
from empirical.probabilistic import Gaussian, ProbBatchNorm, ProbConv, probabilistic, softplus_inverse
from genproof.pac_bayes import independent_mean_upper, kl_bound, kl_inverse_upper
from empirical.pac_bayes_objectives import PacBayesObjective, bounded_cross_entropy, fclassic, flamb, fquad
from empirical.pbb import PBBConfig, split, stages, stochastic_error, train_posteriors
from genproof.pac_bayes.backprop import certify

# ---- the objectives, against PBB's pbb/bounds.py PBBobj.bound (kl_penalty = 1) --------------------

# (risk, KL, n, delta): a spread of regimes, from a posterior at its prior to a far one
CASES = [(0.1, 50.0, 30_000, 0.025), (0.02, 0.5, 719, 0.04), (0.6, 4000.0, 60_000, 0.025), (0.0, 10.0, 1437, 0.01)]


def _pbb_expected(risk, kl, n, delta, lam):
    """PBB's three objectives written out with math only, term by term as in `PBBobj.bound`."""
    ratio = (kl + math.log((2 * math.sqrt(n)) / delta)) / (2 * n)
    fquad_ = (math.sqrt(risk + ratio) + math.sqrt(ratio)) ** 2
    fclassic_ = risk + math.sqrt(ratio)
    flamb_ = risk / (1 - lam / 2) + (kl + math.log((2 * math.sqrt(n)) / delta)) / (n * lam * (1 - lam / 2))
    return fquad_, fclassic_, flamb_


@pytest.mark.parametrize("risk, kl, n, delta", CASES)
def test_objectives_equal_pbb_formulas(risk, kl, n, delta):
    lam = 0.37
    exp_quad, exp_classic, exp_lamb = _pbb_expected(risk, kl, n, delta, lam)
    r, k = torch.tensor(risk, dtype=torch.float64), torch.tensor(kl, dtype=torch.float64)
    assert fquad(r, k, n, delta).item() == pytest.approx(exp_quad, rel=1e-12)
    assert fclassic(r, k, n, delta).item() == pytest.approx(exp_classic, rel=1e-12)
    assert flamb(r, k, n, delta, lam).item() == pytest.approx(exp_lamb, rel=1e-12)


@pytest.mark.parametrize("risk, kl, n, delta", CASES)
def test_every_objective_relaxes_the_pac_bayes_kl_bound(risk, kl, n, delta):
    """Each objective, evaluated at the 0-1 risk, is at least the kl inversion it relaxes (Pinsker for
    fclassic; kl(q||p) >= (p - q)^2 / (2p) for fquad and flamb, the latter for every lambda)."""
    inversion = kl_bound(risk, kl, n, delta)
    r, k = torch.tensor(risk, dtype=torch.float64), torch.tensor(kl, dtype=torch.float64)
    assert fclassic(r, k, n, delta).item() >= inversion - 1e-9
    assert fquad(r, k, n, delta).item() >= inversion - 1e-9
    for lam in (0.05, 0.3, 1.0, 1.5):
        assert flamb(r, k, n, delta, lam).item() >= inversion - 1e-9


def test_flamb_lambda_stays_in_pbb_range_and_trains():
    obj = PacBayesObjective("flamb", n=10_000, delta=0.025)
    assert 1 / math.sqrt(10_000) <= obj.lam.item() <= 1
    assert [name for name, _ in obj.named_parameters()] == ["lam_logit"]
    with pytest.raises(ValueError, match="objective must be one of"):
        PacBayesObjective("fbbb", n=100, delta=0.025)


def test_bounded_cross_entropy_is_clamped_and_scaled():
    logits = torch.tensor([[10.0, -10.0], [-30.0, 30.0]])
    y = torch.tensor([0, 0])
    pmin = 1e-5
    p0 = torch.softmax(logits[0], 0)[0].item()
    expected = (-math.log(p0) + math.log(1 / pmin)) / 2 / math.log(1 / pmin)  # second example clamped at pmin
    assert bounded_cross_entropy(logits, y, pmin).item() == pytest.approx(expected, rel=1e-5)
    assert 0 <= bounded_cross_entropy(torch.randn(50, 10) * 100, torch.randint(0, 10, (50,)), pmin).item() <= 1


# ---- the Monte Carlo bound ----------------------------------------------------------------------

def test_independent_mean_upper_is_the_one_sided_hoeffding_kl_bound():
    assert independent_mean_upper(0.1, 1000, 0.01) == pytest.approx(kl_inverse_upper(0.1, math.log(100) / 1000))
    assert independent_mean_upper(0.0, 50, 0.05) == pytest.approx(1 - math.exp(-math.log(20) / 50))
    with pytest.raises(ValueError):
        independent_mean_upper(0.1, 0, 0.01)


def test_independent_mean_upper_covers_non_identical_bernoullis():
    """Coverage by simulation: N independent Bernoulli variables with different means; the bound
    must fall below their average mean in at most a delta fraction of repetitions (here with a
    binomial allowance of 3 standard deviations)."""
    rng = random.Random(0)
    means = [0.02 + 0.3 * (i % 7) / 7 for i in range(200)]
    target, delta, reps = sum(means) / len(means), 0.1, 400
    misses = sum(independent_mean_upper(sum(rng.random() < p for p in means) / len(means), len(means), delta) < target
                 for _ in range(reps))
    assert misses <= delta * reps + 3 * math.sqrt(delta * (1 - delta) * reps)


# ---- probabilistic networks ---------------------------------------------------------------------

def test_weight_posterior_kl_matches_torch_distributions():
    torch.manual_seed(0)
    g = Gaussian(torch.randn(30), prior_sigma=0.1)
    with torch.no_grad():
        g.mu.add_(0.05 * torch.randn(30))
        g.rho.copy_(torch.full((30,), softplus_inverse(0.07)) + 0.3 * torch.randn(30))
    q = torch.distributions.Normal(g.mu, g.sigma)
    p = torch.distributions.Normal(g.prior_mu, torch.full((30,), 0.1))
    assert g.kl().item() == pytest.approx(torch.distributions.kl_divergence(q, p).sum().item(), rel=1e-5)


def test_local_reparameterization_has_the_moments_of_weight_sampling():
    """For a fixed input, the LRT output of a ProbLinear is Gaussian with mean x mu^T + b and
    variance x^2 sigma^2^T + sigma_b^2: the distribution of the output under a weight draw. Checked
    on 20,000 draws against the closed form (tolerances: 4 standard errors of the mean and of the
    variance estimate)."""
    torch.manual_seed(0)
    layer = nn.Linear(5, 3)
    q = probabilistic(nn.Sequential(layer), prior_sigma=0.2, seed=1)
    x = torch.randn(1, 5).repeat(20_000, 1)
    with torch.no_grad():
        out = q.train()(x)
    lin = q.layers[0]
    mean = (x[:1] @ lin.weight.mu.T + lin.bias.mu).squeeze(0)
    var = ((x[:1] ** 2) @ (lin.weight.sigma ** 2).T + lin.bias.sigma ** 2).squeeze(0)
    sd_mean = (var / 20_000).sqrt()
    assert torch.all((out.mean(0) - mean).abs() < 4 * sd_mean)
    assert torch.all((out.var(0) - var).abs() < 4 * var * math.sqrt(2 / 20_000))
    # each row got its own draw: rows are not all equal
    assert out.std(0).min() > 0


@pytest.mark.parametrize("config, shape", [(ModelConfig("mlp", width=16, depth=2, dropout=0.2), (1, 8, 8)),
                                           (ModelConfig("cnn", channels=4), (1, 8, 8))])
def test_probabilistic_network_starts_at_its_prior(config, shape):
    model = build(config, shape, 10, seed=0).eval()
    q = probabilistic(model, 0.03).eval()
    x = torch.randn(4, *shape)
    assert torch.allclose(q(x), model(x), atol=1e-5)  # eval mode: the posterior mean, dropout removed
    assert q.kl().item() == pytest.approx(0.0, abs=1e-4)
    assert q.num_weights() == sum(p.numel() for p in model.parameters())
    with q.sampling():
        assert not torch.allclose(q(x), model(x))


def test_unsupported_layers_are_refused():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x * self.w)

    with pytest.raises(ValueError, match="cannot make Odd probabilistic"):
        probabilistic(Odd(), 0.03)


# ---- the certificate ----------------------------------------------------------------------------

TINY = dict(data=DataConfig("digits", n_train=400, n_test=200), model=ModelConfig("mlp", width=32, depth=1),
            **stages(30, 10, progress=False), mc_draws=3, test_draws=2)


def test_split_is_disjoint_and_honest():
    prior, bound = split(100, PBBConfig(**TINY))
    assert len(prior) == 50 and len(bound) == 50 and not set(prior.tolist()) & set(bound.tolist())
    prior, bound = split(100, PBBConfig(**TINY, prior="data-independent"))
    assert len(prior) == 0 and len(bound) == 100


def test_config_refuses_bad_input():
    with pytest.raises(ValueError, match="prior must be one of"):
        PBBConfig(prior="learnt")
    with pytest.raises(ValueError, match="prior_fraction"):
        PBBConfig(prior_fraction=1.0)
    with pytest.raises(ValueError, match="prior_sigma"):
        PBBConfig(prior_sigma=())
    with pytest.raises(ValueError, match="delta"):
        PBBConfig(delta=0.6, delta_mc=0.5)


def test_certificate_is_recomputed_from_its_parts(tmp_path):
    # three prior scales, the best reported: both the Monte Carlo step and the PAC-Bayes step are union
    # bounds over the three, at delta_mc / 3 and delta / 3, so the row holds w.p. 1 - delta - delta_mc
    record = train_posteriors(PBBConfig(**TINY, prior_sigma=(0.01, 0.03, 0.1)), tmp_path)
    s = certify(record)
    assert s["n_prior"] == 200 and s["n_bound"] == 200
    assert s["mc_independent_draws"] == 200 * 3
    assert s["delta_per_prior_scale"] == pytest.approx(s["delta"] / 3)
    assert s["delta_mc_per_prior_scale"] == pytest.approx(s["delta_mc"] / 3)
    for row in s["prior_scales_tried"]:
        upper = independent_mean_upper(row["stochastic_bound_set_error"], 600, s["delta_mc"] / 3)
        assert row["stochastic_bound_set_error_upper"] == pytest.approx(upper, rel=1e-12)
        assert row["bound"] == pytest.approx(kl_bound(upper, row["kl"], 200, s["delta"] / 3), rel=1e-12)
    assert s["bound"] == min(r["bound"] for r in s["prior_scales_tried"])
    assert s["confidence"] == pytest.approx(1 - 0.025 - 0.01)
    best = min(range(3), key=lambda k: s["prior_scales_tried"][k]["bound"])
    assert s["posterior"] == f"posterior-{best}.pt" and s["run"] == record.path.name
    assert all((record.path / f"posterior-{k}.pt").exists() for k in range(3))  # the record keeps every Q
    assert "bound" not in record.summary["prior_scales"][0]  # the record holds the experiment, not the formula


def test_stages_train_for_the_epochs_they_name():
    from empirical.train import train

    x, y = torch.randn(600, 4), torch.randint(0, 2, (600,))
    result = train(nn.Linear(4, 2), (x, y), stages(3, 1, progress=False)["prior_train"])
    assert result.steps == 3 * math.ceil(600 / 250) and result.epochs == 3
    with pytest.raises(ValueError, match="give a budget"):
        stages(3, 1)["prior_train"].__class__(max_steps=None)


def test_per_example_draws_of_a_cnn_equal_one_network_per_example():
    """Inside sampling(per_example=True) convolutions and batch norms draw every example's weights
    independently (one grouped convolution): the same as drawing a network per example and running
    each on its own example, computed here one example at a time from the same random numbers."""
    model = build(ModelConfig("cnn", channels=4), (1, 8, 8), 10, seed=0).eval()
    x = torch.randn(1, 1, 8, 8).repeat(6, 1, 1, 1)  # six copies of one input
    q = probabilistic(model, 0.05, seed=3).eval()
    with torch.no_grad(), q.sampling(per_example=True):
        got = q.body.features(x)  # every conv and batch-norm weight drawn per example
    assert got.std(0).min() > 0  # six draws, six different feature vectors

    replay = probabilistic(model, 0.05, seed=3).eval()  # same seed: the same random numbers, in forward order
    draws = [(layer, layer.weight.sample(replay.generator, 6), layer.bias.sample(replay.generator, 6))
             for layer in replay.layers if isinstance(layer, (ProbConv, ProbBatchNorm))]
    expected = []
    with torch.no_grad():
        for i in range(6):
            for layer, w, b in draws:  # the i-th draw as the means of a deterministic network
                layer.weight.mu.copy_(w[i])
                layer.bias.mu.copy_(b[i])
            expected.append(replay.body.features(x[i:i + 1]))
    assert torch.allclose(got, torch.cat(expected), atol=1e-5)


def test_stochastic_error_counts_one_draw_per_example_and_pass():
    model = build(ModelConfig("cnn", channels=4), (1, 8, 8), 10, seed=0).eval()
    q = probabilistic(model, 0.03)
    x, y = torch.randn(30, 1, 8, 8), torch.randint(0, 10, (30,))
    mean, count = stochastic_error(q, x, y, draws=4)
    assert count == 120 and 0 <= mean <= 1


def test_bound_family_rows_say_what_they_bound(tmp_path):
    """The `pbb` rows of the bounds table: two stochastic certificates (data-dependent and
    data-independent prior) with Q's own errors beside them and delta split 4:1."""
    from empirical.fit import FitConfig
    from empirical.train import TrainConfig
    from genproof.pac_bayes.backprop import bound_rows
    from genproof.network import Network

    fit = FitConfig(DataConfig("digits", n_train=300, n_test=100), ModelConfig("mlp", width=16),
                    TrainConfig(lr=0.1, max_steps=200, device="cpu", progress=False))
    net = Network.from_fit(fit, tmp_path)
    rows = bound_rows(net, delta=0.05)
    assert [r.kind for r in rows] == ["stochastic", "stochastic"]
    assert ["data-dependent" in rows[0].name, "data-independent" in rows[1].name] == [True, True]
    for row in rows:
        assert row.delta == 0.05
        assert row.detail["delta"] + row.detail["delta_mc"] == pytest.approx(0.05)
        assert row.train_error == row.detail["stochastic_bound_set_error"] <= row.value <= 1
        assert row.test_error == row.detail["stochastic_test_error"]
    assert rows[0].detail["n_bound"] == 150 and rows[1].detail["n_bound"] == 300
    assert len(rows[1].detail["scales"]) == 3
