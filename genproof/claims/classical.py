"""Classical claims: the facts of learning theory that the papers' claims lean on.

- classical.halfspaces-shatter-d-plus-1 and classical.halfspaces-do-not-shatter-d-plus-2: affine
  halfspaces in R^d shatter d + 1 points and no d + 2 (their VC dimension is d + 1), the fact
  behind the VC bounds that zhang2017 (Section 2.2, Implications) finds vacuous for networks that
  fit random labels. Each check draws random point sets (standard Gaussian, so in general position
  almost surely) and decides every labeling exactly with `constructions.shattering` (one convex
  feasibility program per labeling pair, cvxpy).
- classical.rademacher-linear-closed-form: for the l2 (and l1) ball of linear functions, the
  supremum solved as a convex program equals the closed form, and the Monte Carlo estimate stays
  under the Jensen bound (Shalev-Shwartz & Ben-David ch. 26; the measures are in
  `genproof.rademacher`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constructions.shattering import is_shattered, radon_partition
from empirical.fit import DataConfig
from genproof import rademacher

from . import Claim, one_blas_thread, register

# ---- classical.halfspaces-* ----------------------------------------------------------------------

HALFSPACE_SOURCE = ("classical: Vapnik and Chervonenkis (1971), VC dimension of halfspaces; Radon (1921); "
                    "Cover (1965), function counting theorem")


@dataclass(frozen=True)
class ShatterSetting:
    """`sets` random point sets of each dimension d in `dims`, points i.i.d. N(0, I_d), from `seed`."""

    dims: tuple[int, ...]
    sets: int
    seed: int = 0


def _point_sets(setting: ShatterSetting, extra: int):
    """(d, points) for each random set of d + extra points in R^d."""
    rng = np.random.default_rng([setting.seed, extra])
    return [(d, rng.standard_normal((d + extra, d))) for d in setting.dims for _ in range(setting.sets)]


def _measure_d_plus_1(setting: ShatterSetting, root) -> dict:
    shattered = {d: 0 for d in setting.dims}
    labelings = 0
    for d, points in _point_sets(setting, 1):
        ok, _ = is_shattered(points)
        shattered[d] += ok
        labelings += 2 ** (d + 1)
    return {"dims": list(setting.dims), "sets_per_dim": setting.sets, "shattered_sets": list(shattered.values()),
            "labelings_decided": labelings}


# Random Gaussian point sets: `sets` per dimension (shared by both claims).
HALFSPACE_SETTINGS = {
    "quick": ShatterSetting(dims=(1, 2, 3, 4, 5), sets=5),
    "full": ShatterSetting(dims=(1, 2, 3, 4, 5, 6, 7, 8), sets=20),
}


register(Claim(
    id="classical.halfspaces-shatter-d-plus-1",
    cited_from="a theorem: no number (halfspaces in R^d shatter d + 1 points in general position)",
    source=HALFSPACE_SOURCE,
    statement=("Affine halfspaces sign(<w, x> + b) in R^d shatter d + 1 points in general position: all 2^(d+1) "
               "labelings are realized."),
    settings=HALFSPACE_SETTINGS,
    tolerances={
        # Sets of the `sets` drawn per dimension that may fail to be shattered: none. Gaussian
        # points are affinely independent with probability 1, and then every labeling is realized
        # (solve <w, x_i> + b = y_i), so one failure would be a bug, not bad luck.
        "unshattered_sets_max": 0,
    },
    measure=_measure_d_plus_1,
    holds=lambda m, tol: all(m["sets_per_dim"] - s <= tol["unshattered_sets_max"] for s in m["shattered_sets"]),
))


def _measure_d_plus_2(setting: ShatterSetting, root) -> dict:
    unshattered = {d: 0 for d in setting.dims}
    radon_is_failing = {d: 0 for d in setting.dims}
    failing_counts = set()
    for d, points in _point_sets(setting, 2):
        ok, failing = is_shattered(points)
        radon = radon_partition(points).labeling
        unshattered[d] += not ok
        # Cover (1965): d + 2 points in general position have exactly 2^(d+2) - 2 realizable labelings,
        # so the failing ones are exactly the Radon labeling and its negation.
        radon_is_failing[d] += set(failing) == {radon, tuple(-s for s in radon)}
        failing_counts.add(len(failing))
    return {"dims": list(setting.dims), "sets_per_dim": setting.sets, "unshattered_sets": list(unshattered.values()),
            "failing_equals_radon_pair": list(radon_is_failing.values()),
            "failing_labelings_per_set": sorted(failing_counts)}


register(Claim(
    id="classical.halfspaces-do-not-shatter-d-plus-2",
    cited_from="a theorem: no number (Radon's theorem: no d + 2 points are shattered)",
    source=HALFSPACE_SOURCE,
    statement=("No d + 2 points in R^d are shattered by affine halfspaces: the labeling given by their Radon "
               "partition (and its negation) is not realized, and for points in general position it is the only one."),
    settings=HALFSPACE_SETTINGS,
    tolerances={
        # Random sets that are shattered, or whose failing labelings differ from the Radon pair: none.
        # Both statements are theorems for points in general position (probability 1 here).
        "exceptions_max": 0,
    },
    measure=_measure_d_plus_2,
    holds=lambda m, tol: all(max(m["sets_per_dim"] - u, m["sets_per_dim"] - r) <= tol["exceptions_max"]
                             for u, r in zip(m["unshattered_sets"], m["failing_equals_radon_pair"])),
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
    cited_from="a theorem: no number (a closed form, checked against sampling)",
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
