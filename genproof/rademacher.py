"""Rademacher complexity: closed forms, exact enumeration, convex programs, the "fit random signs"
estimate for a trained model class, and the generalization bound that uses it.

Notation (Shalev-Shwartz & Ben-David, *Understanding Machine Learning*, 2014, ch. 26; "SSBD"): for
a set A of vectors in R^n, R(A) = E_sigma [ sup_{a in A} (1/n) sum_i sigma_i a_i ], sigma uniform on
{-1, +1}^n. The empirical Rademacher complexity of a class H on a sample S = (x_1..x_n) is
R(H o S) with H o S = {(h(x_1), .., h(x_n)) : h in H} (Mohri, Rostamizadeh & Talwalkar 2018, Definition 3.1;
Bartlett & Mendelson 2002's Definition 2 differs by a factor 2 and an absolute value).

Every Monte Carlo estimate draws its signs from `signs(n_sigma, n, seed)` (`empirical.random_signs`),
so two estimators given the same seed see the same sigma draws and can be compared draw by draw. The
"fit random signs" estimate reads the runs of the experiment `empirical.random_signs`, which trains
on labels derived from the same draws.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

from empirical.fit import FitConfig
from empirical.random_signs import fit_draws, signs

from .network import Network
from .quantities import Bound, bound_family

MAX_EXACT_N = 20  # rademacher_finite_exact enumerates 2^n sign vectors


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo mean over `n_sigma` sign draws and its 95% confidence interval (Student t
    over the draws; a zero-width interval when every draw gave the same value)."""

    mean: float
    ci_low: float
    ci_high: float
    n_sigma: int

    @classmethod
    def of(cls, values) -> "Estimate":
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or len(values) < 2:
            raise ValueError(f"an estimate needs at least 2 sign draws, got {values.shape}")
        mean = float(values.mean())
        half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
        return cls(mean, mean - half, mean + half, len(values))


def _matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X must hold n >= 1 examples along its first axis, got shape {X.shape}")
    return X.reshape(len(X), -1)


# --- linear classes: closed forms --------------------------------------------------------------

def linear_l2_draws(X, B: float, sigma: np.ndarray) -> np.ndarray:
    """sup_{||w||_2 <= B} (1/n) sum_i sigma_i <w, x_i> = (B/n) ||sum_i sigma_i x_i||_2 for each row
    of `sigma` (Cauchy-Schwarz, attained at w = B v/||v||; SSBD proof of Lemma 26.10)."""
    X = _matrix(X)
    return B / len(X) * np.linalg.norm(sigma @ X, axis=1)


def linear_l1_draws(X, B: float, sigma: np.ndarray) -> np.ndarray:
    """sup_{||w||_1 <= B} (1/n) sum_i sigma_i <w, x_i> = (B/n) ||sum_i sigma_i x_i||_inf for each row
    of `sigma` (Hoelder, the l1 ball's extreme points are +-B e_j; SSBD proof of Lemma 26.11)."""
    X = _matrix(X)
    return B / len(X) * np.abs(sigma @ X).max(axis=1)


def empirical_rademacher_linear_l2(X, B: float = 1.0, n_sigma: int = 1000, seed: int = 0) -> Estimate:
    """R({x -> <w, x> : ||w||_2 <= B} o S) by Monte Carlo over sigma of (B/n) ||sum_i sigma_i x_i||_2."""
    X = _matrix(X)
    return Estimate.of(linear_l2_draws(X, B, signs(n_sigma, len(X), seed)))


def empirical_rademacher_linear_l1(X, B: float = 1.0, n_sigma: int = 1000, seed: int = 0) -> Estimate:
    """R({x -> <w, x> : ||w||_1 <= B} o S) by Monte Carlo over sigma of (B/n) ||sum_i sigma_i x_i||_inf."""
    X = _matrix(X)
    return Estimate.of(linear_l1_draws(X, B, signs(n_sigma, len(X), seed)))


def linear_l2_upper(X, B: float = 1.0) -> float:
    """(B/n) sqrt(sum_i ||x_i||_2^2) >= R of the l2 ball: Jensen, E||sum sigma_i x_i|| <=
    sqrt(E||sum sigma_i x_i||^2) = sqrt(sum ||x_i||^2) (SSBD Lemma 26.10, whose statement then
    weakens it to B max_i ||x_i||_2 / sqrt(n))."""
    X = _matrix(X)
    return float(B / len(X) * math.sqrt(np.sum(X ** 2)))


def linear_l1_upper(X, B: float = 1.0) -> float:
    """B max_i ||x_i||_inf sqrt(2 log(2d) / n) >= R of the l1 ball in R^d (SSBD Lemma 26.11, via
    Massart's lemma on the 2d vectors +-(x_1j..x_nj))."""
    X = _matrix(X)
    n, d = X.shape
    return float(B * np.abs(X).max() * math.sqrt(2 * math.log(2 * d) / n))


# --- a general convex class: the supremum as a convex program ------------------------------------

def l2_ball(B: float = 1.0) -> Callable:
    """Constraint builder for {||w||_2 <= B}, for `empirical_rademacher_convex`."""
    import cvxpy as cp

    return lambda w: [cp.norm(w, 2) <= B]


def l1_ball(B: float = 1.0) -> Callable:
    """Constraint builder for {||w||_1 <= B}, for `empirical_rademacher_convex`."""
    import cvxpy as cp

    return lambda w: [cp.norm(w, 1) <= B]


def convex_draws(X, constraint: Callable, sigma: np.ndarray, solver: str = "CLARABEL") -> np.ndarray:
    """sup_{w in C} (1/n) <w, sum_i sigma_i x_i> for each row of `sigma`, solved by cvxpy: C is the
    convex set {w : constraint(w)} (`constraint` maps a cvxpy Variable to a list of constraints).
    The program is built once with (1/n) X^T sigma as a parameter and re-solved per draw."""
    import cvxpy as cp

    X = _matrix(X)
    n, d = X.shape
    w, v = cp.Variable(d), cp.Parameter(d)
    problem = cp.Problem(cp.Maximize(v @ w), constraint(w))
    out = np.empty(len(sigma))
    for k, s in enumerate(sigma):
        v.value = s @ X / n
        problem.solve(solver=solver)
        if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise RuntimeError(f"the supremum for sign draw {k} ended with solver status {problem.status!r}; "
                               f"is the class {{w : constraint(w)}} bounded and non-empty?")
        out[k] = problem.value
    return out


def empirical_rademacher_convex(X, constraint: Callable, n_sigma: int = 100, seed: int = 0,
                                solver: str = "CLARABEL") -> Estimate:
    """R({x -> <w, x> : w in C} o S) by Monte Carlo over sigma, each supremum a convex program
    (`convex_draws`); with the same `seed` it sees the sign draws of the closed-form estimators."""
    X = _matrix(X)
    return Estimate.of(convex_draws(X, constraint, signs(n_sigma, len(X), seed), solver))


# --- finite classes ------------------------------------------------------------------------------

def _predictions(predictions) -> np.ndarray:
    A = np.asarray(predictions, dtype=np.float64)
    if A.ndim != 2 or 0 in A.shape:
        raise ValueError(f"predictions must be a non-empty (|H|, n) matrix, one row per function, got {A.shape}")
    return A


def rademacher_finite_exact(predictions) -> float:
    """R(A) exactly for the rows A of `predictions` (|H| x n): the mean over all 2^n sign vectors of
    max_h (1/n) <sigma, h> (Mohri et al. 2018, Definition 3.1). n is limited to `MAX_EXACT_N`."""
    A = _predictions(predictions)
    n = A.shape[1]
    if n > MAX_EXACT_N:
        raise ValueError(f"exact enumeration takes 2^n sign vectors; n = {n} > {MAX_EXACT_N}")
    sigma = np.array(list(itertools.product((-1.0, 1.0), repeat=n)))
    return float(np.mean(np.max(sigma @ A.T, axis=1)) / n)


def massart_bound(predictions) -> float:
    """Massart's lemma: R(A) <= max_{a in A} ||a||_2 sqrt(2 log |A|) / n (Massart 2000; Mohri,
    Rostamizadeh & Talwalkar, Foundations of ML, Theorem 3.7 in the 2nd ed.; SSBD Lemma 26.8 is the
    same bound with ||a - mean(A)|| in place of ||a||)."""
    A = _predictions(predictions)
    return float(np.linalg.norm(A, axis=1).max() * math.sqrt(2 * math.log(len(A))) / A.shape[1])


# --- the bound ------------------------------------------------------------------------------------

def rademacher_bound(train_error: float, loss_rademacher: float, n: int, delta: float) -> float:
    """Mohri, Rostamizadeh & Talwalkar, Foundations of Machine Learning (2nd ed., 2018), Theorem 3.3,
    eq. (3.4), for the 0-1 loss class G = {(x, y) -> 1[h(x) != y] : h in H} (values in [0, 1]): with
    probability >= 1 - delta over the sample S of size n, for every h in H,

        test error(h) <= train error(h) + 2 R(G o S) + 3 sqrt(log(2/delta) / (2 n)),

    with `loss_rademacher` = R(G o S), the empirical Rademacher complexity of the loss class on S
    in the sense of Mohri's Definition 3.1 (no absolute value, no factor 2). For classifiers into
    {-1, +1}, 1[h(x) != y] = (1 - y h(x))/2, so R(G o S) = R(H o S) / 2 and this is Theorem 3.5,
    eq. (3.18). (Shalev-Shwartz & Ben-David 2014, Theorem 26.5 part 2, is the same statement with
    the looser 4 sqrt(2 log(4/delta) / n).)"""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if n < 1:
        raise ValueError(f"n must be a positive sample size, got {n}")
    return train_error + 2 * loss_rademacher + confidence_term(n, delta)


def confidence_term(n: int, delta: float) -> float:
    """3 sqrt(log(2/delta) / (2 n)), the confidence term of `rademacher_bound`."""
    return 3 * math.sqrt(math.log(2 / delta) / (2 * n))


# --- the "fit random signs" estimate for a trained model class ------------------------------------

def _by_fitting(config: FitConfig, root, n_sigma: int, target: str, first_draw: int) -> Estimate:
    return Estimate.of([r["correlation"] for r in fit_draws(config, root, n_sigma, target, first_draw)])


def rademacher_by_fitting(config: FitConfig, root, n_sigma: int = 3, first_draw: int = 0) -> Estimate:
    """R(H o S) of the binary class H = {x -> +-1} of `config`'s architecture with 2 outputs, on
    `config`'s training inputs S, estimated by training on random labels sigma (zhang2017, Section
    2.4 "Rademacher complexity"): the mean over `n_sigma` draws of the correlation (1/n) sum_i
    sigma_i h_sigma(x_i) that training reaches. Each draw is one cached run of
    `empirical.random_signs.fit_signs`. Training attains a member of H, so each draw is a lower
    bound on that draw's supremum: a value near 1 means the class fits noise (R(H o S) <= 1 always)."""
    return _by_fitting(config, root, n_sigma, "signs", first_draw)


def loss_rademacher_by_fitting(config: FitConfig, root, n_sigma: int = 3, first_draw: int = 0) -> Estimate:
    """R(l o H o S) of the 0-1 loss class of `config`'s K-class architecture on its training set S
    (inputs and the labels the run trained on), by the same fitting: per sigma draw, train towards
    mistakes where sigma_i = +1 and correct answers where sigma_i = -1, and record (1/n) sum_i
    sigma_i 1[h(x_i) != y_i]. Its largest possible value is the fraction of sigma_i = +1, about 1/2;
    for K = 2 it equals R(H o S)/2 up to the draw."""
    return _by_fitting(config, root, n_sigma, "loss", first_draw)


SOURCE = ("Mohri, Rostamizadeh & Talwalkar 2018, Theorem 3.3 (eq. 3.4), Definition 3.1; estimate by fitting "
          "random signs after zhang2017 Section 2.4")


@bound_family("rademacher", "Rademacher bound at R(l o H o S) estimated by fitting random signs: a lower estimate (any model)",
              kinds=("lower-estimate",), source=SOURCE, cost="training", needs=("recipe",),
              cost_detail="trains 3 networks of the architecture to fit random signs (each about as long as fitting "
                          "random labels)", default=False,
              limitations="training attains a member of the class, so the fitted correlation is at most the supremum: "
                          "a lower estimate, never a certificate")
def bound_rows(net: Network, delta: float = 0.05, n_sigma: int = 3) -> list[Bound]:
    """The Rademacher bound (Mohri et al. 2018, Theorem 3.3, eq. 3.4; `rademacher_bound`) on
    `net`'s test error, evaluated at R(l o H o S) estimated by `loss_rademacher_by_fitting` on
    `net`'s architecture, training inputs and labels, trained by its recipe (runs cached under
    `net.root`). Training
    attains a member of the class, so each draw's correlation is at most that draw's supremum:
    the estimate is a lower estimate of R(l o H o S) (up to Monte Carlo error over sigma), and the
    value a lower estimate of the bound (kind "lower-estimate"): at or above 1 it shows the bound
    vacuous; below, it certifies nothing, because the bound itself may be larger."""
    s = net.summary
    est = loss_rademacher_by_fitting(net.fit_config, net.root, n_sigma)
    n = s["n_train"]
    value = rademacher_bound(s["train_error"], est.mean, n, delta)
    return [Bound(
        name="Rademacher bound at a fitted R(l o H o S) (lower estimate)",
        source=SOURCE, value=value, kind="lower-estimate",
        detail={"train_error": s["train_error"], "loss_rademacher": est.mean, "ci": [est.ci_low, est.ci_high],
                "n_sigma": est.n_sigma, "n": n, "delta": delta, "confidence_term": confidence_term(n, delta)},
    )]
