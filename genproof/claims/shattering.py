"""Classical claims: affine halfspaces in R^d shatter d + 1 points and no d + 2 (their VC dimension
is d + 1), the fact behind the VC bounds that zhang2017 (Section 2.2, Implications) finds vacuous
for networks that fit random labels.

Each check draws random point sets (standard Gaussian, so in general position almost surely) and
decides every labeling exactly with `constructions.shattering` (one convex feasibility program
per labeling pair, cvxpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constructions.shattering import is_shattered, radon_partition

from . import Claim, register

SOURCE = ("classical: Vapnik and Chervonenkis (1971), VC dimension of halfspaces; Radon (1921); "
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
SETTINGS = {
    "quick": ShatterSetting(dims=(1, 2, 3, 4, 5), sets=5),
    "full": ShatterSetting(dims=(1, 2, 3, 4, 5, 6, 7, 8), sets=20),
}


register(Claim(
    id="classical.halfspaces-shatter-d-plus-1",
    source=SOURCE,
    statement=("Affine halfspaces sign(<w, x> + b) in R^d shatter d + 1 points in general position: all 2^(d+1) "
               "labelings are realized."),
    settings=SETTINGS,
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
    source=SOURCE,
    statement=("No d + 2 points in R^d are shattered by affine halfspaces: the labeling given by their Radon "
               "partition (and its negation) is not realized, and for points in general position it is the only one."),
    settings=SETTINGS,
    tolerances={
        # Random sets that are shattered, or whose failing labelings differ from the Radon pair: none.
        # Both statements are theorems for points in general position (probability 1 here).
        "exceptions_max": 0,
    },
    measure=_measure_d_plus_2,
    holds=lambda m, tol: all(max(m["sets_per_dim"] - u, m["sets_per_dim"] - r) <= tol["exceptions_max"]
                             for u, r in zip(m["unshattered_sets"], m["failing_equals_radon_pair"])),
))
