"""Claims about the classical capacity bounds: Rademacher complexity and VC dimension
(zhang2017, Section 2.4 "Implications", and the closed forms of Shalev-Shwartz & Ben-David ch. 26).

- zhang2017.rademacher-near-one: the 1x512 MLP fits random signs, so its empirical Rademacher
  complexity is about 1 and the Rademacher bound is vacuous;
- classical.rademacher-linear-closed-form: for the l2 (and l1) ball of linear functions, the
  supremum solved as a convex program equals the closed form, and the Monte Carlo estimate stays
  under the Jensen bound;
- zhang2017.vc-vacuous: the VC bound of the MLP exceeds 1 while that of halfspaces on the same
  inputs (n >> d) does not.

The measures live in `genproof.rademacher` and `genproof.vc`; the fits of random signs are cached
runs (`rademacher-fit-<hash>`), shared by the first and third claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig
from empirical.train import TrainConfig
from genproof import rademacher, vc

from . import Claim, one_blas_thread, register

MLP_DIGITS = FitConfig(DataConfig("digits"), ModelConfig("mlp", width=512, depth=1),
                       TrainConfig(lr=0.1, momentum=0.9, batch_size=128, max_steps=5_000))
INCEPTION_CIFAR = FitConfig(DataConfig("cifar10"), ModelConfig("inception-small"),
                            TrainConfig(lr=0.1, momentum=0.9, lr_decay=0.95, batch_size=128, max_steps=200_000))
MLP_CIFAR = FitConfig(DataConfig("cifar10"), ModelConfig("mlp", width=512, depth=1),
                      TrainConfig(lr=0.01, momentum=0.9, batch_size=128, max_steps=200_000))


# ---- zhang2017.rademacher-near-one --------------------------------------------------------------

@dataclass(frozen=True)
class FitSignsSetting:
    """`n_sigma` fits of the 2-class version of `fit`'s network to random signs on its training
    inputs (`rademacher.rademacher_by_fitting`); `delta` for the bound."""

    fit: FitConfig
    n_sigma: int = 3
    delta: float = 0.05


def _measure_near_one(setting: FitSignsSetting, root) -> dict:
    est = rademacher.rademacher_by_fitting(setting.fit, root, setting.n_sigma)
    runs = [rademacher.fit_signs(rademacher.SignFit(setting.fit, "signs", k), root) for k in range(setting.n_sigma)]
    n = runs[0]["n"]
    # The smallest the bound can be for this class: train error 0 and R(l o H o S) = R(H o S) / 2.
    bound = rademacher.rademacher_bound(0.0, est.mean / 2, n, setting.delta)
    return {"rademacher_estimate": est.mean, "ci": [est.ci_low, est.ci_high], "n_sigma": est.n_sigma,
            "correlations": [r["correlation"] for r in runs], "steps": [r["steps"] for r in runs],
            "fitted": [r["fitted"] for r in runs], "n": n, "rademacher_bound_at_zero_train_error": bound,
            "dataset": setting.fit.data.name, "model": setting.fit.model.name}


register(Claim(
    id="zhang2017.rademacher-near-one",
    source="zhang2017, Section 2.4 (Implications: Rademacher complexity and VC-dimension)",
    statement=("A network that fits random labels has empirical Rademacher complexity close to 1 on its training "
               "inputs (it reaches correlation ~1 with random signs), so the Rademacher bound on its test error "
               "is vacuous."),
    settings={"quick": FitSignsSetting(MLP_DIGITS, n_sigma=3), "full": FitSignsSetting(INCEPTION_CIFAR, n_sigma=3)},
    tolerances={
        # R(H o S) <= 1 always; the paper says "close to 1". Mean attained correlation >= 1 - margin:
        # 0.05 is one wrong sign in 20 (on 1,437 digits, 72 of them).
        "margin": 0.05,
    },
    measure=_measure_near_one,
    holds=lambda m, tol: (m["rademacher_estimate"] >= 1 - tol["margin"]
                          and m["rademacher_bound_at_zero_train_error"] > 1),
))


# ---- classical.rademacher-linear-closed-form --------------------------------------------------------

@dataclass(frozen=True)
class LinearSetting:
    """Linear classes {x -> <w, x> : ||w|| <= B} on the flattened training inputs of `data`:
    `n_sigma` sign draws for the closed forms, the first `n_sigma_convex` of them also solved as
    convex programs (cvxpy). The check: every solved supremum equals its closed form, the closed
    form's mean over all draws (the more precise estimate) lies in the 95% interval of the convex
    programs' estimate, and the mean stays under the Jensen bound."""

    data: DataConfig
    B: float = 1.0
    n_sigma: int = 2000
    n_sigma_convex: int = 50
    seed: int = 0


@one_blas_thread
def _measure_linear(setting: LinearSetting, root) -> dict:
    ds = setting.data.load()
    X = ds.x_train.double().numpy().reshape(ds.n_train, -1)
    sigma = rademacher.signs(setting.n_sigma, len(X), setting.seed)
    out = {"dataset": ds.name, "n": len(X), "d": X.shape[1], "B": setting.B}
    for ball, closed, builder, upper in (
        ("l2", rademacher.linear_l2_draws, rademacher.l2_ball, rademacher.linear_l2_upper),
        ("l1", rademacher.linear_l1_draws, rademacher.l1_ball, rademacher.linear_l1_upper),
    ):
        exact = closed(X, setting.B, sigma)
        solved = rademacher.convex_draws(X, builder(setting.B), sigma[:setting.n_sigma_convex])
        est, est_convex = rademacher.Estimate.of(exact), rademacher.Estimate.of(solved)
        out[ball] = {"estimate": est.mean, "ci": [est.ci_low, est.ci_high], "convex_estimate": est_convex.mean,
                     "convex_ci": [est_convex.ci_low, est_convex.ci_high], "n_sigma_convex": len(solved),
                     "max_relative_difference": float(np.max(np.abs(solved - exact[:len(solved)])
                                                             / exact[:len(solved)])),
                     "upper_bound": upper(X, setting.B)}
    return out


def _linear_holds(m, tol) -> bool:
    return all(m[b]["max_relative_difference"] <= tol["relative_difference_max"]
               and m[b]["convex_ci"][0] <= m[b]["estimate"] <= m[b]["convex_ci"][1]
               and m[b]["estimate"] <= m[b]["upper_bound"] for b in ("l2", "l1"))


register(Claim(
    id="classical.rademacher-linear-closed-form",
    source=("Shalev-Shwartz & Ben-David 2014, Lemmas 26.10 (l2 ball) and 26.11 (l1 ball); Bartlett & Mendelson "
            "2002"),
    statement=("For linear functions with ||w||_2 <= B the empirical Rademacher complexity is the mean of "
               "(B/n)||sum sigma_i x_i||_2 (||.||_inf for the l1 ball), the supremum solved as a convex program "
               "agrees with it, and it never exceeds the Jensen bound (B/n) sqrt(sum ||x_i||^2) (l1: "
               "B max|x_ij| sqrt(2 log(2d)/n))."),
    settings={
        "quick": LinearSetting(DataConfig("digits"), n_sigma=2000, n_sigma_convex=50),
        "full": LinearSetting(DataConfig("mnist1d", n_train=10_000), n_sigma=20_000, n_sigma_convex=500),
    },
    tolerances={
        # |cvxpy supremum - closed form| / closed form per draw. CLARABEL solves to a relative gap
        # of 1e-8 by default; 1e-6 leaves room for the conic reformulation of the norm.
        "relative_difference_max": 1e-6,
    },
    measure=_measure_linear,
    holds=_linear_holds,
))


# ---- zhang2017.vc-vacuous -----------------------------------------------------------------------------

@dataclass(frozen=True)
class VCSetting:
    """The MLP of `fit` (its fits of random signs are read from the `rademacher-fit` cache) against
    halfspaces (logistic regression, scikit-learn defaults, C = 1) on the same flattened training
    inputs; the binary task is the parity of the class label (even vs odd)."""

    fit: FitConfig
    n_sigma: int = 3
    delta: float = 0.05


def _parity_task(data: DataConfig):
    ds = data.load()
    flat = lambda x: x.double().numpy().reshape(len(x), -1)  # noqa: E731
    return flat(ds.x_train), ds.y_train.numpy() % 2, flat(ds.x_test), ds.y_test.numpy() % 2


@one_blas_thread
def _measure_vc(setting: VCSetting, root) -> dict:
    x, y, xt, yt = _parity_task(setting.fit.data)
    n, d = x.shape
    m = setting.fit.model
    arch = vc.mlp_architecture(d, m.width, m.depth)
    upper, lower = vc.bhlm_upper(arch), vc.mlp_lower(d, m.width, m.depth)
    fits = [rademacher.fit_signs(rademacher.SignFit(setting.fit, "signs", k), root)["fitted"]
            for k in range(setting.n_sigma)]
    clf = LogisticRegression(max_iter=5000).fit(x, y)
    train_err, test_err = float(np.mean(clf.predict(x) != y)), float(np.mean(clf.predict(xt) != yt))
    # The MLP fits random signs, so train error 0 on any labels; with it the bound is smallest.
    mlp_bound = vc.vc_bound(0.0, upper, n, setting.delta)
    return {"n": n, "d": d, "mlp_W": arch.W, "mlp_L": arch.L, "mlp_vc_upper_bhlm": upper, "mlp_vc_lower": lower,
            "mlp_fits_random_signs": fits, "mlp_vc_bound": mlp_bound, "mlp_excess_over_one": mlp_bound - 1,
            "mlp_vc_bound_with_lower_vc": vc.vc_bound(0.0, lower, n, setting.delta),
            "mlp_order_W_L_log2W": arch.W * arch.L * math.log2(arch.W),
            "halfspace_vc": vc.halfspace_vc_dimension(d), "halfspace_train_error": train_err,
            "halfspace_test_error": test_err,
            "halfspace_vc_bound": vc.vc_bound(train_err, vc.halfspace_vc_dimension(d), n, setting.delta)}


register(Claim(
    id="zhang2017.vc-vacuous",
    source=("zhang2017, Section 2.4; Bartlett, Harvey, Liaw, Mehrabian 2019 (JMLR) Theorem 6; "
            "Mohri et al. 2018 Cor. 3.19"),
    statement=("For a network that fits random labels the VC bound on the test error exceeds 1 (its VC dimension "
               "W L log W dwarfs n), while for halfspaces on the same inputs, with n >> d, it is below 1."),
    settings={"quick": VCSetting(MLP_DIGITS), "full": VCSetting(MLP_CIFAR, n_sigma=1)},
    # The bounds are compared with 1 exactly: a bound above 1 says nothing about an error in [0, 1].
    tolerances={"vacuous_above": 1.0},
    measure=_measure_vc,
    holds=lambda m, tol: (m["mlp_vc_bound"] > tol["vacuous_above"]
                          and m["halfspace_vc_bound"] < tol["vacuous_above"]),
))
