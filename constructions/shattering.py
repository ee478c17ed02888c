"""Shattering by halfspaces, decided exactly by convex feasibility; Radon partitions.

A set of points x_1..x_n in R^d is shattered by affine halfspaces when every one of the 2^n
labelings y in {-1, +1}^n is realized by some sign(<w, x> + b). A labeling is realizable iff
the convex program

    find w, b   such that   y_i (<w, x_i> + b) >= 1   for all i

is feasible (strict separation of a finite set can always be rescaled to margin 1). We solve it
as the hard-margin SVM `minimize ||w||^2` under those constraints, a cvxpy QP with the labels as a
parameter (built once, re-solved per labeling; CLARABEL), which also returns the max-margin
separator. A labeling and its negation are realized together ((w, b) -> (-w, -b)), so only the
2^(n-1) labelings with y_1 = +1 are solved.

Classical facts checked with this (VC dimension of halfspaces in R^d is d + 1):
- any d + 1 points in general position (affinely independent) are shattered: with the lifted
  points (x_i, 1) linearly independent, <w, x_i> + b = y_i has a solution for every y;
- no d + 2 points are (Radon's theorem, 1921): the d + 2 lifted points (x_i, 1) in R^(d+1) are
  linearly dependent, sum_i lambda_i (x_i, 1) = 0 with lambda != 0. The index sets
  I = {lambda_i > 0} and J = {lambda_i < 0} are both non-empty (the lambdas sum to 0) and
  sum_I lambda_i x_i / sum_I lambda_i = sum_J |lambda_j| x_j / sum_J |lambda_j|: a point in both
  convex hulls, so the labeling +1 on I, -1 on J cannot be realized. For d + 2 points in general
  position it is, with its negation, the only one (Cover 1965: such points have 2^(d+2) - 2
  realizable labelings).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import cvxpy as cp
import numpy as np
import scipy.linalg

from constructions.arrays import as_matrix

_NULL_TOL = 1e-9  # |lambda_i| below this (relative to max |lambda|) counts as zero in a Radon partition


class Separator(NamedTuple):
    """A halfspace sign(<w, x> + b)."""

    w: np.ndarray
    b: float


class RadonPartition(NamedTuple):
    """A Radon partition of d + 2 points in R^d.

    labeling: +1 on I = {lambda_i > 0}, -1 on J = {lambda_i < 0} (0 for a lambda_i that vanishes);
    point: a point of conv(I) and conv(J) (the Radon point); weights: the null vector lambda
    (unit norm, sign fixed so that lambda_1 > 0 where it does not vanish).
    """

    labeling: tuple[int, ...]
    point: np.ndarray
    weights: np.ndarray


class _SeparationProgram:
    """The hard-margin SVM for fixed points, with the labels as a cvxpy parameter."""

    def __init__(self, points: np.ndarray, solver: str | None):
        n, d = points.shape
        self.w, self.b, self.labels = cp.Variable(d), cp.Variable(), cp.Parameter(n)
        margins = cp.multiply(self.labels, points @ self.w + self.b)
        self.problem = cp.Problem(cp.Minimize(cp.sum_squares(self.w)), [margins >= 1])
        self.solver = solver or "CLARABEL"

    def solve(self, labels) -> Separator | None:
        self.labels.value = np.asarray(labels, dtype=np.float64)
        self.problem.solve(solver=self.solver)
        if self.problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return Separator(np.array(self.w.value, dtype=np.float64), float(self.b.value))
        if self.problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            return None
        raise RuntimeError(f"separation program for labels {tuple(labels)}: solver {self.solver} ended with "
                           f"status {self.problem.status!r}")


def separating_halfspace(points, labels, solver: str | None = None) -> Separator | None:
    """The max-margin halfspace (w, b) with labels_i (<w, x_i> + b) >= 1 for all i, or None when
    no halfspace realizes `labels` (a sequence of +1/-1, one per point)."""
    points = as_matrix(points, "points")
    labels = _labels(labels, len(points))
    return _SeparationProgram(points, solver).solve(labels)


def is_shattered(points, solver: str | None = None) -> tuple[bool, list[tuple[int, ...]]]:
    """Whether affine halfspaces shatter `points` (n, d), and the labelings they cannot realize.

    Solves the separation program for the 2^(n-1) labelings with first label +1 (a labeling and
    its negation stand or fall together); the failing list holds both members of each failing
    pair, as tuples of +1/-1 in lexicographic order. n is limited to 20 (2^19 programs).
    """
    points = as_matrix(points, "points")
    n = len(points)
    if n > 20:
        raise ValueError(f"is_shattered checks all 2^(n-1) labelings; n = {n} > 20 is too many")
    program = _SeparationProgram(points, solver)
    failing = []
    for rest in itertools.product((1, -1), repeat=n - 1):
        labels = (1, *rest)
        if program.solve(labels) is None:
            failing += [labels, tuple(-v for v in labels)]
    return not failing, sorted(failing)


def radon_partition(points) -> RadonPartition:
    """The Radon partition of d + 2 points (rows of `points`, shape (d + 2, d)) in R^d.

    The null vector lambda of the lifted (d + 1) x (d + 2) system [x_1 .. x_{d+2}; 1 .. 1] (the
    right singular vector of the smallest singular value; a vector of a null space of higher
    dimension when the points are degenerate) splits the points into I = {lambda > 0} and
    J = {lambda < 0}, whose convex hulls meet at the returned point.
    """
    points = as_matrix(points, "points")
    n, d = points.shape
    if n != d + 2:
        raise ValueError(f"radon_partition needs d + 2 points in R^d, got {n} points in R^{d} (shape {points.shape})")
    lifted = np.vstack([points.T, np.ones(n)])  # (d + 1, d + 2)
    weights = scipy.linalg.null_space(lifted)[:, 0]
    scale = np.max(np.abs(weights))
    signs = np.where(np.abs(weights) <= _NULL_TOL * scale, 0, np.sign(weights)).astype(int)
    if signs[signs != 0][0] < 0:
        weights, signs = -weights, -signs
    positive = np.where(signs > 0, weights, 0.0)
    point = positive @ points / positive.sum()
    return RadonPartition(tuple(int(s) for s in signs), point, weights / np.linalg.norm(weights))


def _labels(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.all(np.isin(labels, (-1, 1))):
        raise ValueError(f"labels must be {n} values, each +1 or -1 (one per point), got {labels.tolist()}")
    return labels.astype(np.float64)
