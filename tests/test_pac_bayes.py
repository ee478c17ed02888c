"""genproof.pac_bayes against hand values and closed forms."""

import math

import pytest
import torch

from empirical.data.dataset import Dataset
from empirical.models import ModelConfig, build
from genproof.pac_bayes import (gaussian_kl, gaussian_kl_diag, grid_bound, kl_bernoulli, kl_bound, kl_inverse_upper,
                                grid_delta, pac_bayes_bound, sample_error_upper)
from genproof.network import Network

# The bisection stops when its bracket is 1e-12 wide; kl(q || .) has slope <= 1/(p(1-p)) there,
# so 1e-9 on kl and on p is generous for the values tested and far below any number reported.
TOL = 1e-9


def test_kl_bernoulli_hand_values():
    assert kl_bernoulli(0.5, 0.5) == 0.0
    assert kl_bernoulli(0.1, 0.2) == pytest.approx(0.1 * math.log(0.5) + 0.9 * math.log(0.9 / 0.8), abs=1e-15)
    assert kl_bernoulli(0.0, 0.5) == pytest.approx(math.log(2), abs=1e-15)  # -log(1 - p)
    assert kl_bernoulli(1.0, 0.25) == pytest.approx(math.log(4), abs=1e-15)  # -log p
    assert kl_bernoulli(0.3, 0.0) == math.inf and kl_bernoulli(0.3, 1.0) == math.inf
    with pytest.raises(ValueError, match="probability"):
        kl_bernoulli(1.5, 0.5)


def test_kl_inverse_edges_exact():
    assert kl_inverse_upper(0.2, 0.0) == 0.2
    assert kl_inverse_upper(1.0, 3.0) == 1.0
    assert kl_inverse_upper(0.0, math.log(2)) == pytest.approx(0.5, abs=1e-15)  # kl(0 || 1/2) = log 2
    with pytest.raises(ValueError, match="budget"):
        kl_inverse_upper(0.2, -1.0)


@pytest.mark.parametrize("q", [0.01, 0.1, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("c", [1e-4, 0.01, 0.1, 0.5])
def test_kl_inverse_inverts(q, c):
    p = kl_inverse_upper(q, c)
    assert q <= p <= 1
    if p < 1 - TOL:
        assert kl_bernoulli(q, p) == pytest.approx(c, abs=TOL)
    # and the inverse of a forward kl value returns the point it came from
    p_back = min(1 - 1e-3, q + 0.05)
    assert kl_inverse_upper(q, kl_bernoulli(q, p_back)) == pytest.approx(p_back, abs=1e-8)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    d = 7
    w, w0 = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    s2, lam = 0.3, 1.7
    ones = torch.ones(d, dtype=torch.float64)
    q = torch.distributions.Independent(torch.distributions.Normal(w, math.sqrt(s2) * ones), 1)
    p = torch.distributions.Independent(torch.distributions.Normal(w0, math.sqrt(lam) * ones), 1)
    expected = float(torch.distributions.kl_divergence(q, p))
    assert gaussian_kl(float(((w - w0) ** 2).sum()), d, s2, lam) == pytest.approx(expected, rel=1e-12)
    s2_same = torch.full((d,), s2, dtype=torch.float64)
    assert float(gaussian_kl_diag(w, w0, s2_same, lam)) == pytest.approx(expected, rel=1e-12)
    # per-parameter variances against torch too
    s2_vec = torch.rand(d, generator=g, dtype=torch.float64) + 0.1
    q = torch.distributions.Independent(torch.distributions.Normal(w, s2_vec.sqrt()), 1)
    expected = float(torch.distributions.kl_divergence(q, p))
    assert float(gaussian_kl_diag(w, w0, s2_vec, lam)) == pytest.approx(expected, rel=1e-12)


def test_kl_bound_monotone_in_n_and_above_empirical():
    values = [kl_bound(0.1, 50.0, n, 0.05) for n in (100, 1_000, 10_000, 100_000)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert all(v > 0.1 for v in values)
    # hand value: n = 1000, KL = 0: kl(0 || e) <= log(2 sqrt(1000)/0.05)/1000, so e = 1 - exp(-that)
    c = math.log(2 * math.sqrt(1000) / 0.05) / 1000
    assert kl_bound(0.0, 0.0, 1000, 0.05) == pytest.approx(1 - math.exp(-c), abs=1e-15)


def test_prior_grid_union_bound():
    delta, b, c = 0.04, 100.0, 0.1
    # the delta_j sum to delta (the tail after J terms is below 6 delta / (pi^2 J))
    assert sum(grid_delta(j, delta) for j in range(1, 200_000)) == pytest.approx(delta, rel=1e-5)
    # and log(1/delta_j) is Dziugaite & Roy's 2 log(b log(c/lam)) + log(pi^2/(6 delta)) at lam = c exp(-j/b)
    for j in (1, 7, 250):
        lam = c * math.exp(-j / b)
        dr = 2 * math.log(b * math.log(c / lam)) + math.log(math.pi ** 2 / (6 * delta))
        assert -math.log(grid_delta(j, delta)) == pytest.approx(dr, rel=1e-12)


def test_grid_bound_uses_a_grid_point_near_the_continuous_optimum():
    value, j, kl = grid_bound(0.05, dist2=4.0, d=1000, s2=0.01, n=5000, delta=0.04)
    lam_star = 0.01 + 4.0 / 1000
    assert abs(j - 100 * math.log(0.1 / lam_star)) <= 1
    assert kl == pytest.approx(gaussian_kl(4.0, 1000, 0.01, 0.1 * math.exp(-j / 100)))
    assert 0.05 < value < 1


def test_sample_error_upper():
    ups = [sample_error_upper(0.1, m, 0.01) for m in (10, 100, 1000)]
    assert all(u > 0.1 for u in ups) and ups[0] > ups[1] > ups[2]
    assert sample_error_upper(0.1, 100, 0.01) == pytest.approx(kl_inverse_upper(0.1, math.log(200) / 100))


def _tiny_net():
    """A 1x16 MLP trained on two well-separated Gaussian blobs (a task it cannot get wrong)."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 2
    x = (torch.randn(400, 4, generator=g) + 3 * (2 * y[:, None] - 1)).float()
    data = Dataset("blobs", x[:300], y[:300], x[300:], y[300:], 2)
    init = build(ModelConfig("mlp", width=16), (4,), 2, seed=0).eval()
    model = build(ModelConfig("mlp", width=16), (4,), 2, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
        opt.step()
    return Network(model, (data.x_train, data.y_train), (data.x_test, data.y_test), init=init)


@pytest.mark.parametrize("posterior", ["optimized", "fixed-mean"])
def test_pac_bayes_bound_end_to_end(posterior):
    net = _tiny_net()
    r = pac_bayes_bound(net, 0.05, posterior=posterior, m=100, steps=300, search_samples=4)
    assert r.train_error == 0.0
    assert r.sampled_train_error <= r.sampled_train_error_upper <= r.bound < 1
    assert r.delta_pac_bayes + r.delta_samples == pytest.approx(r.delta)
    assert r.prior_var == pytest.approx(r.c * math.exp(-r.j / r.b))
    rhs = (r.kl + math.log(2 * math.sqrt(r.n) / grid_delta(r.j, r.delta_pac_bayes))) / r.n
    assert r.bound == pytest.approx(kl_inverse_upper(r.sampled_train_error_upper, rhs))
    with pytest.raises(ValueError, match="posterior"):
        pac_bayes_bound(net, posterior="laplace")
