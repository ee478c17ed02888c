"""Kernels and exact minimum-norm kernel interpolation (zhang2017, Section 5, eq. (3)).

zhang2017, Section 5: SGD from zero on a linear model in a feature space stays in the span of
the features, so an interpolant it reaches is `f(x) = sum_i alpha_i k(x_i, x)` with

    K alpha = y,        K_ij = k(x_i, x_j)                          (eq. (3) of the paper)

the interpolant of minimum norm in the kernel's RKHS, whose squared norm is `alpha^T K alpha`.
The paper solves (3) exactly, without regularization, and reports 1.2% test error on MNIST with
no preprocessing, 0.6% after a Gabor wavelet transform ("adding regularization does not improve
either model's performance"), and that the norm is not predictive: on MNIST "the l2-norm of the
minimum norm solution with no preprocessing is approximately 220. With wavelet preprocessing,
the norm jumps to 390. Yet the test error drops by a factor of 2."

`interpolate` solves (3) for multi-class labels with one-hot targets (one column per class,
predict by argmax) by a Cholesky factorization in float64; a tiny diagonal jitter is added only
when the factorization fails, and reported. `ridge > 0` solves `(K + ridge I) alpha = y`
instead: kernel ridge regression, the regularized baseline the claims compare against.

Kernels (each a frozen dataclass, called as `kernel(A, B) -> (len(A), len(B))` in float64):
- `RBF(bandwidth)`: `exp(-||x - x'||^2 / (2 bandwidth^2))`. Bandwidth rules, both from the
  training inputs only: `RBF.scale_rule(X)` (the default of `interpolate`), `2 bandwidth^2 =
  d * Var(X)` with Var over all entries: scikit-learn's `gamma="scale"`, `gamma = 1 / (d Var X)`,
  the "1/d scale"; and `RBF.median_rule(X)`, the median pairwise distance. For inputs with
  roughly independent coordinates E||x - x'||^2 = 2 d Var X, so the scale rule is about half the
  median distance: narrower, which for exact interpolation generalizes better on our data.
- `Linear()`: `<x, x'>`; interpolation with it is `constructions.min_norm`'s kernel form.
- `Polynomial(degree, offset, scale)`: `(scale <x, x'> + offset)^degree`.

Feature maps used as preprocessing before a kernel (the paper's wavelet and random-network
preprocessing): `gabor_features` for images, `random_conv_features` for 1-D signals; and
`random_fourier_features`, a finite feature map whose inner products approximate the RBF kernel.

Size: the Gram matrix takes 8 n^2 bytes and is factored in place; the solve grows as n^3 (measured
sizes and times: benchmarks/RESULTS.md). Threads: the OpenBLAS shipped in the numpy 2.4 / scipy
1.17 wheels crashed (segmentation fault) in its multithreaded syrk (`X @ X.T`) and potrf
(Cholesky) from about n = 17,000, and when the cores are shared its threads busy-wait: run
large solves under `threadpoolctl.threadpool_limits(1, user_api="blas")`, as the claims do.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Union

import numpy as np
import scipy.linalg
import scipy.signal

from constructions.arrays import as_matrix

JITTERS = (1e-12, 1e-10, 1e-8)  # relative to the mean of diag(K); tried in turn only if Cholesky fails
_BLOCK_ENTRIES = 1 << 22  # kernel entries per block when evaluating against the training set
_GEMM_ROWS = 4096  # rows of A per matrix product in `_inner`


@dataclass(frozen=True)
class RBF:
    """Gaussian kernel `exp(-||x - x'||^2 / (2 bandwidth^2))`."""

    bandwidth: float

    def __post_init__(self):
        if not (isinstance(self.bandwidth, numbers.Real) and np.isfinite(self.bandwidth) and self.bandwidth > 0):
            raise ValueError(f"RBF bandwidth must be a positive finite number, got {self.bandwidth!r}")

    def __call__(self, A, B) -> np.ndarray:
        A, B = _pair(A, B)
        K = _inner(A, B)  # the squared distances ||a||^2 + ||b||^2 - 2 <a, b>, built in place
        K *= -2.0
        K += np.einsum("ij,ij->i", A, A)[:, None]
        K += np.einsum("ij,ij->i", B, B)[None, :]
        np.maximum(K, 0.0, out=K)
        K *= -1.0 / (2.0 * float(self.bandwidth) ** 2)
        return np.exp(K, out=K)

    @classmethod
    def scale_rule(cls, X) -> RBF:
        """Bandwidth with `2 bandwidth^2 = d * Var(X)` (scikit-learn's `gamma="scale"`)."""
        X = as_matrix(X, "X")
        var = float(X.var())
        if var == 0:
            raise ValueError("RBF.scale_rule: X has zero variance (all entries equal); pass a bandwidth")
        return cls(float(np.sqrt(X.shape[1] * var / 2)))

    @classmethod
    def median_rule(cls, X, max_points: int = 1000, seed: int = 0) -> RBF:
        """Bandwidth = median distance between distinct pairs of (at most `max_points`, drawn by `seed`) rows of X."""
        X = as_matrix(X, "X")
        if len(X) < 2:
            raise ValueError(f"RBF.median_rule needs at least 2 rows in X, got {len(X)}")
        if len(X) > max_points:
            X = X[np.random.default_rng(seed).choice(len(X), max_points, replace=False)]
        sq = np.einsum("ij,ij->i", X, X)
        D = np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0)
        median = float(np.sqrt(np.median(D[np.triu_indices(len(X), 1)])))
        if median == 0:
            raise ValueError("RBF.median_rule: the median pairwise distance is 0 (mostly repeated rows); "
                             "pass a bandwidth")
        return cls(median)


@dataclass(frozen=True)
class Linear:
    """Linear kernel `<x, x'>`."""

    def __call__(self, A, B) -> np.ndarray:
        A, B = _pair(A, B)
        return _inner(A, B)


@dataclass(frozen=True)
class Polynomial:
    """Polynomial kernel `(scale <x, x'> + offset)^degree`."""

    degree: int = 2
    offset: float = 1.0
    scale: float = 1.0

    def __post_init__(self):
        if not isinstance(self.degree, numbers.Integral) or isinstance(self.degree, bool) or self.degree < 1:
            raise ValueError(f"Polynomial degree must be an int >= 1, got {self.degree!r}")
        if not (isinstance(self.offset, numbers.Real) and self.offset >= 0):
            raise ValueError(f"Polynomial offset must be a number >= 0 (else the kernel is not PSD), "
                             f"got {self.offset!r}")

    def __call__(self, A, B) -> np.ndarray:
        A, B = _pair(A, B)
        K = _inner(A, B)
        K *= self.scale
        K += self.offset
        return np.power(K, self.degree, out=K)


Kernel = Union[RBF, Linear, Polynomial]


@dataclass(frozen=True, eq=False)
class Interpolant:
    """`f(x) = sum_i alpha_i k(x_i, x)`: one column of `alpha` (n, num_classes) per class.

    `jitter`: what was added to diag(K) to factor it (0.0 when nothing was); `ridge`: the
    regularization of kernel ridge regression (0.0 for exact interpolation).
    """

    alpha: np.ndarray
    X: np.ndarray
    y: np.ndarray
    kernel: Kernel
    jitter: float = 0.0
    ridge: float = 0.0

    @property
    def num_classes(self) -> int:
        return self.alpha.shape[1]

    def decision_function(self, X) -> np.ndarray:
        """`K(X, X_train) alpha`, shape (len(X), num_classes), evaluated in blocks of rows."""
        X = as_matrix(X, "X")
        if X.shape[1] != self.X.shape[1]:
            raise ValueError(f"X must have {self.X.shape[1]} features like the training inputs, got {X.shape[1]}")
        rows = max(1, _BLOCK_ENTRIES // len(self.X))
        return np.concatenate([self.kernel(X[i:i + rows], self.X) @ self.alpha for i in range(0, len(X), rows)])

    def predict(self, X) -> np.ndarray:
        """The class with the largest output, int64 (len(X),)."""
        return np.argmax(self.decision_function(X), axis=1)

    def error(self, X, y) -> float:
        """Fraction of the examples (X, y) whose predicted class differs from the label y."""
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"y must have shape ({len(X)},) to match X, got {y.shape}")
        return float(np.mean(self.predict(X) != y))

    def train_error(self) -> float:
        """Error on the training set (0.0 for an exact interpolant of distinct points)."""
        return self.error(self.X, self.y)

    def rkhs_norm(self) -> float:
        """`sqrt(trace(alpha^T K alpha))`: the RKHS norm of f, summed in squares over the classes."""
        return float(np.sqrt(np.sum(self.alpha * self.decision_function(self.X))))


def interpolate(X, y, kernel: Kernel | str = "rbf", num_classes: int | None = None, ridge: float = 0.0) -> Interpolant:
    """The minimum-RKHS-norm interpolant of the labels y (one-hot targets) at the inputs X.

    X: (n, d) inputs; y: (n,) integer labels in 0..num_classes-1 (num_classes defaults to
    max(y) + 1). kernel: a kernel instance, or "rbf" (`RBF.scale_rule(X)`), "rbf-median",
    "linear". Solves `(K + ridge I) alpha = Y` by Cholesky in float64 (ridge 0: eq. (3)); if K is
    numerically not positive definite, retries with jitter `c * mean(diag K)` for c in `JITTERS`
    and records it; raises `numpy.linalg.LinAlgError` if none works (repeated inputs, or a
    linear kernel with n > d).
    """
    X = as_matrix(X, "X")
    y = np.asarray(y)
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be integer labels of shape ({len(X)},) to match X, got {y.dtype} {y.shape}")
    if y.min() < 0:
        raise ValueError("y must hold labels >= 0")
    k = int(y.max()) + 1 if num_classes is None else num_classes
    if y.max() >= k:
        raise ValueError(f"num_classes={num_classes} but y holds the label {int(y.max())}")
    if not (isinstance(ridge, numbers.Real) and ridge >= 0):
        raise ValueError(f"ridge must be a number >= 0, got {ridge!r}")
    kernel = _resolve(kernel, X)
    Y = np.eye(k)[y]
    K = kernel(X, X)
    scale = float(np.mean(np.diag(K)))
    for jitter in (0.0, *(c * scale for c in JITTERS)):
        if K is None:  # a failed factorization has overwritten K in place: build it again
            K = kernel(X, X)
        K[np.diag_indices_from(K)] += ridge + jitter
        try:  # K is symmetric: K.T is the same matrix in Fortran order, which LAPACK factors in place
            factor = scipy.linalg.cho_factor(K.T, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            K = None
            continue
        alpha = scipy.linalg.cho_solve(factor, Y, check_finite=False)
        return Interpolant(alpha, X, y.astype(np.int64), kernel, jitter=jitter, ridge=float(ridge))
    raise np.linalg.LinAlgError(
        f"interpolate: the {len(X)}x{len(X)} kernel matrix of {kernel} is not positive definite even with jitter "
        f"{JITTERS[-1]:g} * mean(diag K): X has repeated rows, or the kernel has rank < n (a linear kernel with n > d)"
    )


def gabor_bank(size: int, orientations: int = 4, frequency: float = 0.2) -> np.ndarray:
    """Quadrature pairs of Gabor filters, shape (orientations, 2, size, size): cosine and sine
    carriers of spatial `frequency` (cycles per pixel) at angles pi k / orientations under a
    Gaussian envelope of standard deviation 0.56 / frequency (about one octave of bandwidth)."""
    r = np.arange(size) - (size - 1) / 2
    u, v = np.meshgrid(r, r)
    envelope = np.exp(-(u ** 2 + v ** 2) / (2 * (0.56 / frequency) ** 2))
    bank = []
    for k in range(orientations):
        phase = 2 * np.pi * frequency * (u * np.cos(np.pi * k / orientations) + v * np.sin(np.pi * k / orientations))
        bank.append([envelope * np.cos(phase), envelope * np.sin(phase)])
    return np.array(bank)


def gabor_features(images, size: int = 7, orientations: int = 4, frequency: float = 0.2, pool: int = 4) -> np.ndarray:
    """A Gabor wavelet transform of (N, H, W) images: the magnitude of each quadrature pair's
    response (zero-padded convolution, same size), average-pooled over `pool` x `pool` cells.
    Returns (N, orientations * (H // pool) * (W // pool)), float64."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
    n, h, w = images.shape
    if not 1 <= pool <= min(h, w):
        raise ValueError(f"pool must be between 1 and {min(h, w)}, got {pool}")
    out = []
    for pair in gabor_bank(size, orientations, frequency):
        re, im = (scipy.signal.fftconvolve(images, f[None], mode="same", axes=(1, 2)) for f in pair)
        mag = np.hypot(re, im)[:, :h // pool * pool, :w // pool * pool]
        out.append(mag.reshape(n, h // pool, pool, w // pool, pool).mean(axis=(2, 4)))
    return np.stack(out, axis=1).reshape(n, -1)


def random_conv_features(signals, num_filters: int = 64, width: int = 5, seed: int = 0) -> np.ndarray:
    """A random one-layer convolutional network on (N, L) signals: `num_filters` Gaussian filters
    of `width` taps (variance 1/width), valid convolution, ReLU, then the maximum over positions
    (translation invariant). Returns (N, num_filters), float64; the filters depend only on `seed`."""
    signals = np.asarray(signals, dtype=np.float64)
    if signals.ndim != 2 or not 1 <= width <= signals.shape[1]:
        raise ValueError(f"signals must have shape (N, L) with L >= width={width}, got {signals.shape}")
    filters = np.random.default_rng(seed).standard_normal((num_filters, width)) / np.sqrt(width)
    windows = np.lib.stride_tricks.sliding_window_view(signals, width, axis=1)  # (N, L - width + 1, width)
    return np.maximum(windows @ filters.T, 0).max(axis=1)


def random_fourier_features(X, num_features: int, bandwidth: float, seed: int = 0) -> np.ndarray:
    """Random Fourier features of the RBF kernel (Rahimi and Recht 2007): `cos(W x + b)` with
    W ~ N(0, I / bandwidth^2) (num_features, d) and b ~ U[0, 2 pi), drawn from `seed`; the inner
    product of two such rows, times 2 / num_features, tends to `RBF(bandwidth)(x, x')`.
    Returns (N, num_features), float64."""
    X = as_matrix(X, "X")
    if not (isinstance(bandwidth, numbers.Real) and bandwidth > 0):
        raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}")
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((X.shape[1], num_features)) / bandwidth
    return np.cos(X @ W + rng.uniform(0, 2 * np.pi, num_features))


def _resolve(kernel, X) -> Kernel:
    if isinstance(kernel, (RBF, Linear, Polynomial)):
        return kernel
    named = {"rbf": RBF.scale_rule, "rbf-median": RBF.median_rule, "linear": lambda _: Linear()}
    if kernel not in named:
        raise ValueError(f"kernel must be an RBF, Linear or Polynomial instance or one of {sorted(named)}, "
                         f"got {kernel!r}")
    return named[kernel](X)


def _inner(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """`A @ B.T`, computed in blocks of `_GEMM_ROWS` rows of A. numpy sends `X @ X.T` to BLAS
    syrk, and the multithreaded syrk of the OpenBLAS 0.3.31 that numpy 2.4 wheels ship crashes
    (segmentation fault) from about n = 17,000 rows; blocks of rows go through gemm instead."""
    out = np.empty((len(A), len(B)))
    for i in range(0, len(A), _GEMM_ROWS):
        np.matmul(A[i:i + _GEMM_ROWS], B.T, out=out[i:i + _GEMM_ROWS])
    return out


def _pair(A, B) -> tuple[np.ndarray, np.ndarray]:
    A, B = as_matrix(A, "A"), as_matrix(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must have the same number of features, got {A.shape[1]} and {B.shape[1]}")
    return A, B
