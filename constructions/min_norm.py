"""Minimum-norm interpolants of a linear system and the SGD that finds one (zhang2017, Section 5).

zhang2017, Section 5 ("Implicit regularization: an appeal to linear models"): for the linear
model x -> <w, x> and n examples X (n x d, rows x_i) with targets y, the SGD update is
`w_{t+1} = w_t - lr * e_t * x_{i_t}` (e_t the prediction error on example i_t). From `w_0 = 0`
every iterate is therefore a combination of the rows, `w_t = X^T c_t`: it lies in the row span
of X. If SGD reaches an interpolant, `X w = y`, then `X X^T c = y`, which (for X of full row
rank, so n <= d) has the unique solution `c = (X X^T)^{-1} y`:

    w* = X^T (X X^T)^{-1} y  =  X^+ y,

the interpolant of minimum l2 norm (every other one is w* + v with X v = 0, and
||w* + v||^2 = ||w*||^2 + ||v||^2 because w* = X^T c is orthogonal to v). Equation (3) of the
paper is the "kernel trick" form `K alpha = y` with K = X X^T (see `constructions.kernels`).

This module gives the same w* three ways (pseudo-inverse, kernel form by Cholesky, and a cvxpy
program that states it as a convex problem), the l1 counterpart (a different implicit bias:
sparse, at most n nonzeros at a vertex of the LP), plain SGD with its iterates, and the span
residual that measures how far a vector is from the row span.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import cvxpy as cp
import numpy as np
import scipy.linalg

from constructions.arrays import as_matrix

METHODS = ("pinv", "kernel")


class ConvexSolution(NamedTuple):
    """What `min_norm_cvxpy` returns; unpacks as `w, status = ...`."""

    w: np.ndarray
    status: str


def min_norm_solution(X, y, method: str = "pinv") -> np.ndarray:
    """The minimum-l2-norm solution of `X w = y` (the least-squares one of least norm if none is exact).

    X: (n, d) float array; y: (n,) or (n, k) (k right-hand sides, solved column by column).
    Returns w of shape (d,) or (d, k), in float64.

    method="pinv": `w = X^+ y` by the SVD-based `numpy.linalg.pinv` (any n, d, rank).
    method="kernel": `w = X^T (X X^T)^{-1} y` with `X X^T` factored by Cholesky; this is the form
    SGD from zero reaches (zhang2017, eq. (3)) and needs X of full row rank (so n <= d).
    """
    X, y = _check_system(X, y)
    if method == "pinv":
        return np.linalg.pinv(X) @ y
    if method == "kernel":
        n, d = X.shape
        if n > d:
            raise ValueError(f"method='kernel' needs n <= d (X X^T is singular otherwise), got X of shape {X.shape}; "
                             "use method='pinv'")
        try:
            factor = scipy.linalg.cho_factor(X @ X.T, lower=True)
        except np.linalg.LinAlgError as err:
            raise np.linalg.LinAlgError(f"method='kernel': X X^T is not positive definite ({err}): X {X.shape} "
                                        "does not have full row rank (repeated or dependent rows); "
                                        "use method='pinv'") from err
        return X.T @ scipy.linalg.cho_solve(factor, y)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def min_norm_cvxpy(X, y, norm: int = 2, solver: str | None = None) -> ConvexSolution:
    """`minimize ||w||_norm subject to X w = y` as a cvxpy program; returns `(w, status)`.

    norm=2 is stated as the QP `minimize ||w||_2^2` (same minimizer, better conditioned for the
    solver; default solver CLARABEL); its optimum is `min_norm_solution(X, y)`. norm=1 is an LP
    (default solver SCIPY, i.e. HiGHS through scipy, whose simplex returns a vertex: at most
    rank(X) nonzeros) whose optimum shows a different implicit bias, towards sparse solutions.
    y must be a vector (n,). `status` is cvxpy's ("optimal", "infeasible", ...); when the solver
    returns no point, `w` is an array of NaN.
    """
    X, y = _check_system(X, y)
    if y.ndim != 1:
        raise ValueError(f"min_norm_cvxpy: y must have shape ({X.shape[0]},), got {y.shape}")
    if norm not in (1, 2) or isinstance(norm, bool):
        raise ValueError(f"norm must be 1 or 2, got {norm!r}")
    w = cp.Variable(X.shape[1])
    objective = cp.sum_squares(w) if norm == 2 else cp.norm1(w)
    problem = cp.Problem(cp.Minimize(objective), [X @ w == y])
    problem.solve(solver=solver or ("CLARABEL" if norm == 2 else "SCIPY"))
    value = w.value if w.value is not None else np.full(X.shape[1], np.nan)
    return ConvexSolution(np.asarray(value, dtype=np.float64), str(problem.status))


def sgd_linear(X, y, lr: float, steps: int, seed: int, w0=None, batch_size: int = 1,
               record_every: int = 1) -> np.ndarray:
    """Plain SGD on the squared loss of the linear model from `w0` (default zero); its iterates.

    Loss on a batch B: `(1 / 2|B|) * sum_{i in B} (<w, x_i> - y_i)^2`, so one step is
    `w <- w - lr * X_B^T (X_B w - y_B) / |B|`: a combination of the batch's rows added to w.
    Examples are visited epoch by epoch, each epoch in a fresh random order drawn from `seed`
    (numpy's default generator), in consecutive batches of `batch_size` (the last batch of an
    epoch may be smaller). No momentum, no weight decay, constant `lr`; with batch_size=1 this
    converges for lr < 2 / max_i ||x_i||^2 on a consistent system.

    Returns an array of shape (k, d), float64: `w0`, then the iterate after every
    `record_every`-th step, then the final iterate if `steps` is not a multiple of `record_every`.
    """
    X, y = _check_system(X, y)
    n, d = X.shape
    if y.ndim != 1:
        raise ValueError(f"sgd_linear: y must have shape ({n},), got {y.shape}")
    if not (isinstance(lr, numbers.Real) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    steps = _count("steps", steps, minimum=0)
    batch_size = _count("batch_size", batch_size)
    record_every = _count("record_every", record_every)
    if batch_size > n:
        raise ValueError(f"batch_size must be at most n={n}, got {batch_size}")
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=np.float64).reshape(-1)
    if w.shape != (d,) or not np.all(np.isfinite(w)):
        raise ValueError(f"w0 must be a finite vector of shape ({d},), got {np.shape(w0)}")
    rng = np.random.default_rng(seed)
    iterates = [w.copy()]
    order, pos = rng.permutation(n), 0
    for t in range(1, steps + 1):
        if pos >= n:
            order, pos = rng.permutation(n), 0
        batch = order[pos:pos + batch_size]
        pos += batch_size
        xb = X[batch]
        w -= (lr / len(batch)) * (xb.T @ (xb @ w - y[batch]))
        if t % record_every == 0 or t == steps:
            iterates.append(w.copy())
    return np.stack(iterates)


def row_space_basis(X) -> np.ndarray:
    """An orthonormal basis of the row span of X as the columns of a (d, r) array, r = rank(X)
    (`scipy.linalg.orth` of X^T: SVD, singular values below its default relative cutoff dropped)."""
    X = as_matrix(X, "X")
    return scipy.linalg.orth(X.T)


def span_residual(X, w, basis=None) -> np.ndarray | float:
    """||w - P w|| / ||w||, P the orthogonal projector onto the row span of X (0 for w = 0).

    w: (d,) gives a float; (k, d) (e.g. the iterates of `sgd_linear`) gives one value per row.
    `basis`: a precomputed `row_space_basis(X)`, to project many vectors against one X.
    The projection uses an orthonormal basis Q, P w = Q (Q^T w), so its own rounding is of the
    order of float64's machine epsilon times sqrt(d).
    """
    X = as_matrix(X, "X")
    W = np.asarray(w, dtype=np.float64)
    if W.ndim not in (1, 2) or W.shape[-1] != X.shape[1]:
        raise ValueError(f"w must have shape ({X.shape[1]},) or (k, {X.shape[1]}) to match X {X.shape}, got {W.shape}")
    Q = row_space_basis(X) if basis is None else np.asarray(basis, dtype=np.float64)
    if Q.ndim != 2 or Q.shape[0] != X.shape[1]:
        raise ValueError(f"basis must have shape ({X.shape[1]}, r), got {Q.shape}")
    W2 = np.atleast_2d(W)
    off = W2 - (W2 @ Q) @ Q.T
    norms = np.linalg.norm(W2, axis=1)
    rel = np.divide(np.linalg.norm(off, axis=1), norms, out=np.zeros(len(W2)), where=norms > 0)
    return float(rel[0]) if W.ndim == 1 else rel


def _check_system(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = as_matrix(X, "X")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) or ({X.shape[0]}, k) to match X {X.shape}, got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite (it holds NaN or inf)")
    return X, y


def _count(arg: str, value, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{arg} must be an int >= {minimum}, got {value!r}")
    return int(value)
