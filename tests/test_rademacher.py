"""genproof.rademacher against hand-computed values, exact enumeration and convex programs; the fits of
random signs (empirical.random_signs) it reads."""

import math

import numpy as np
import pytest

from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig
from empirical.random_signs import SignFit, fit_draws, fit_signs
from empirical.train import TrainConfig
from genproof import rademacher as r
from genproof.network import Network

# A fit of a few seconds at most: 100 digits, a 64-unit MLP.
TINY = FitConfig(DataConfig("digits", n_train=100, n_test=50), ModelConfig("mlp", width=64),
                 TrainConfig(lr=0.1, momentum=0.9, batch_size=50, max_steps=400))


def test_exact_enumeration_of_a_two_function_class_on_three_points():
    # H = {+1, -1}: sup = |sigma_1 + sigma_2 + sigma_3| / 3; over the 8 sign vectors |sum| is 3, 1, 1, 1,
    # 1, 1, 1, 3, so R = (12/8) / 3 = 1/2.
    assert r.rademacher_finite_exact([[1, 1, 1], [-1, -1, -1]]) == pytest.approx(0.5, abs=1e-15)
    # H = {(1,1,1), (1,-1,1)}: sup = sigma_1 + sigma_3 + |sigma_2|, mean 1, so R = 1/3.
    assert r.rademacher_finite_exact([[1, 1, 1], [1, -1, 1]]) == pytest.approx(1 / 3, abs=1e-15)


def test_exact_enumeration_extremes():
    assert r.rademacher_finite_exact([[1, -1, 1, 1]]) == pytest.approx(0.0, abs=1e-15)  # one function
    every = np.array(np.meshgrid(*[[-1, 1]] * 3)).reshape(3, -1).T  # all 8 labelings: shattered
    assert r.rademacher_finite_exact(every) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="2\\^n"):
        r.rademacher_finite_exact(np.ones((2, r.MAX_EXACT_N + 1)))


def test_massart_bounds_the_exact_value():
    # max ||h|| = sqrt(3), |H| = 2: sqrt(3) sqrt(2 log 2) / 3 = 0.6797 >= 1/2.
    two = [[1, 1, 1], [-1, -1, -1]]
    assert r.massart_bound(two) == pytest.approx(math.sqrt(3) * math.sqrt(2 * math.log(2)) / 3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        A = rng.choice([-1.0, 1.0], size=(rng.integers(1, 9), 6))
        assert r.rademacher_finite_exact(A) <= r.massart_bound(A) + 1e-12


def test_l2_closed_form_is_the_exact_expectation_on_three_points():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    sigma = np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T
    exact = r.linear_l2_draws(X, 2.0, sigma).mean()
    by_hand = np.mean([2 / 3 * np.linalg.norm(s @ X) for s in sigma])
    assert exact == pytest.approx(by_hand)
    est = r.empirical_rademacher_linear_l2(X, 2.0, n_sigma=20_000, seed=1)
    assert est.ci_low <= exact <= est.ci_high
    assert est.mean <= r.linear_l2_upper(X, 2.0)


@pytest.mark.parametrize("ball, closed", [(r.l2_ball, r.linear_l2_draws), (r.l1_ball, r.linear_l1_draws)])
def test_convex_program_equals_the_closed_form_draw_by_draw(ball, closed):
    X = np.random.default_rng(0).normal(size=(6, 3))
    sigma = r.signs(30, 6, seed=3)
    solved, exact = r.convex_draws(X, ball(1.5), sigma), closed(X, 1.5, sigma)
    # CLARABEL's default relative gap is 1e-8.
    np.testing.assert_allclose(solved, exact, rtol=1e-6)
    est = r.empirical_rademacher_convex(X, ball(1.5), n_sigma=30, seed=3)
    assert est.mean == pytest.approx(exact.mean(), rel=1e-6)


def test_upper_bounds_hold_and_are_tight_for_one_point():
    X = np.random.default_rng(2).normal(size=(50, 4))
    assert r.empirical_rademacher_linear_l2(X, 1.0, 2000).mean <= r.linear_l2_upper(X)
    assert r.empirical_rademacher_linear_l1(X, 1.0, 2000).mean <= r.linear_l1_upper(X)
    # n = 1: sup_{||w|| <= B} sigma <w, x> = B ||x|| for either sign, equal to the Jensen bound.
    x = np.array([[3.0, 4.0]])
    assert r.linear_l2_draws(x, 2.0, r.signs(5, 1, 0)) == pytest.approx([10.0] * 5)
    assert r.linear_l2_upper(x, 2.0) == pytest.approx(10.0)


def test_estimate_interval():
    assert r.Estimate.of([1.0, 1.0, 1.0]) == r.Estimate(1.0, 1.0, 1.0, 3)
    est = r.Estimate.of([0.0, 1.0])  # t_{0.975, 1} = 12.706, s / sqrt(2) = 0.5
    assert est.mean == 0.5 and est.ci_high - 0.5 == pytest.approx(12.7062 * 0.5, rel=1e-4)
    with pytest.raises(ValueError, match="at least 2"):
        r.Estimate.of([1.0])


def test_rademacher_bound_at_hand_computed_inputs():
    # 0.1 + 2 * 0.2 + 4 sqrt(2 log(100) / 800) = 0.1 + 0.4 + 4 * 0.1072983 = 0.9291932
    # by hand: 0.1 + 2 (0.2) + 3 sqrt(ln(2 / 0.04) / 1600) = 0.5 + 3 (0.0494470) = 0.6483413
    assert r.rademacher_bound(0.1, 0.2, 800, 0.04) == pytest.approx(0.6483413, abs=1e-7)
    with pytest.raises(ValueError, match="delta"):
        r.rademacher_bound(0.1, 0.2, 800, 1.5)


def test_fitting_random_signs_is_cached_and_bounded(tmp_path):
    est = r.rademacher_by_fitting(TINY, tmp_path, n_sigma=2)
    draws = [fit_signs(SignFit(TINY, "signs", k), tmp_path).summary["correlation"] for k in range(2)]
    assert all(-1 <= c <= 1 for c in draws) and est.mean == pytest.approx(np.mean(draws))
    assert est.ci_low <= est.mean <= est.ci_high
    assert est.mean > 0.5  # 64 hidden units on 100 points fit most signs
    runs = sorted(tmp_path.glob("rademacher-fit-*"))
    assert len(runs) == 2
    assert r.rademacher_by_fitting(TINY, tmp_path, n_sigma=2) == est  # read from the cache
    assert sorted(tmp_path.glob("rademacher-fit-*")) == runs
    assert [d["correlation"] for d in fit_draws(TINY, tmp_path, n_sigma=2)] == draws
    loss = fit_signs(SignFit(TINY, "loss", 0), tmp_path).summary
    sigma = r.signs(1, 100, 0)[0]
    assert loss["correlation"] <= np.mean(sigma > 0) + 1e-12  # at most the fraction of sigma_i = +1


def test_bound_rows(tmp_path):
    net = Network.from_fit(TINY, tmp_path)
    (row,) = r.bound_rows(net, delta=0.05, n_sigma=2)
    d = row.detail
    assert row.value == pytest.approx(r.rademacher_bound(d["train_error"], d["loss_rademacher"], 100, 0.05))
    assert row.kind == "lower-estimate" and row.delta is None  # it certifies nothing
    assert d["confidence_term"] == pytest.approx(3 * (math.log(40) / 200) ** 0.5)


def test_a_sign_fit_refuses_an_unknown_target():
    with pytest.raises(ValueError, match="target must be one of"):
        SignFit(TINY, "labels")
