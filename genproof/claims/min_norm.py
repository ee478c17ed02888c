"""Claims of zhang2017, Section 5 ("Implicit regularization: an appeal to linear models"):
SGD on a linear model stays in the span of the data and converges to the minimum-norm
interpolant; minimum-norm kernel interpolation generalizes; its norm does not predict its error.

The objects are built in `constructions.min_norm` and `constructions.kernels` (exact, float64);
these checks are cheap (seconds), so they are computed afresh rather than cached as runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest
from sklearn.svm import SVC

from constructions.kernels import (RBF, gabor_features, interpolate, random_conv_features,
                                   random_fourier_features)
from constructions.min_norm import (min_norm_cvxpy, min_norm_solution, row_space_basis, sgd_linear,
                                    span_residual)
from empirical.data import DataNotFoundError, load

from . import Claim, one_blas_thread, register

SOURCE = "zhang2017, Section 5 (Implicit regularization: an appeal to linear models)"


# --- linear problems -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinearProblem:
    """A consistent underdetermined system X w = y (n < d), rows of X scaled to unit norm.

    data: "gaussian" (X and y standard normal), "digits-rff" (n digits, their random Fourier
    features of the RBF kernel with the scale-rule bandwidth of those n images, d of them; y = +1
    for even digits, -1 for odd) or "fashion-mnist" (n raw images, d = 784 pixels; y = +1 for even
    classes, -1 for odd; skipped, and said so, where the data set is not installed).
    """

    data: str
    n: int
    d: int
    seed: int = 0


@dataclass(frozen=True)
class SGDSetting:
    """Plain SGD (batch `batch_size`, constant `lr`) for `steps` steps on each problem. Rows have
    unit norm, so lr = 1 is 1 / max_i ||x_i||^2. `w0_seed` draws the non-zero start
    N(0, I / d) of zhang2017.sgd-nonzero-start (the other claims start at zero)."""

    problems: tuple[LinearProblem, ...]
    steps: int
    lr: float = 1.0
    batch_size: int = 1
    record_every: int = 100
    seed: int = 0
    w0_seed: int = 1


def linear_problem(p: LinearProblem) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of problem `p` in float64; `DataNotFoundError` when its data set is not installed."""
    if p.data == "gaussian":
        rng = np.random.default_rng(p.seed)
        X, y = rng.standard_normal((p.n, p.d)), rng.standard_normal(p.n)
    elif p.data in ("digits-rff", "fashion-mnist"):
        ds = load(p.data.removesuffix("-rff"), n_train=p.n, seed=p.seed, download=False)
        X = ds.x_train.reshape(p.n, -1).double().numpy()
        y = np.where(ds.y_train.numpy() % 2 == 0, 1.0, -1.0)
        if p.data == "digits-rff":
            X = random_fourier_features(X, p.d, RBF.scale_rule(X).bandwidth, seed=p.seed)
        elif X.shape[1] != p.d:
            raise ValueError(f"{p}: fashion-mnist has d = {X.shape[1]} pixels")
    else:
        raise ValueError(f"unknown linear problem data {p.data!r}; known: gaussian, digits-rff, fashion-mnist")
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


def _problems(setting: SGDSetting):
    """(name, X, y) of each problem whose data is available, and the names of those that are not."""
    found, missing = [], []
    for p in setting.problems:
        try:
            found.append((f"{p.data} n={p.n} d={p.d}", *linear_problem(p)))
        except DataNotFoundError as err:
            missing.append(str(err))
    return found, missing


def _sgd(setting: SGDSetting, X, y, w0=None):
    return sgd_linear(X, y, setting.lr, setting.steps, setting.seed, w0=w0, batch_size=setting.batch_size,
                      record_every=setting.record_every)


def _rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# --- zhang2017.sgd-stays-in-span -------------------------------------------------------------------

@one_blas_thread
def _measure_span(setting: SGDSetting, root) -> dict:
    found, missing = _problems(setting)
    out = {"problems": [], "rank": [], "max_span_residual": [], "iterates_checked": [], "missing": missing}
    for name, X, y in found:
        iterates = _sgd(setting, X, y)
        Q = row_space_basis(X)
        out["problems"].append(name)
        out["rank"].append(Q.shape[1])
        out["max_span_residual"].append(float(span_residual(X, iterates, basis=Q).max()))
        out["iterates_checked"].append(len(iterates))
    out["steps"] = setting.steps
    return out


register(Claim(
    id="zhang2017.sgd-stays-in-span",
    source=SOURCE,
    statement=("Every iterate of SGD on a linear model with squared loss, started from w0 = 0, lies in the span "
               "of the training inputs: w_t = X^T c_t."),
    settings={
        # Seconds on a CPU: an n < d Gaussian system, digits through 1,000 random Fourier features,
        # and 200 raw Fashion-MNIST images (784 pixels) where installed.
        "quick": SGDSetting((LinearProblem("gaussian", 100, 400), LinearProblem("digits-rff", 200, 1000),
                             LinearProblem("fashion-mnist", 200, 784)), steps=20_000),
        "full": SGDSetting((LinearProblem("gaussian", 500, 2000), LinearProblem("digits-rff", 500, 5000),
                            LinearProblem("fashion-mnist", 700, 784)), steps=200_000, record_every=1000),
    },
    tolerances={
        # max over problems and recorded iterates of ||w_t - P w_t|| / ||w_t||. Exactly 0 in exact
        # arithmetic; in float64 each step rounds w and its update with relative error of a few
        # eps = 2.2e-16 in directions off the span, so after T steps at most about 10 * T * eps:
        # 4e-10 at the full tier's 2e5 steps. A vector with a generic off-span part has a
        # residual of order 1 (zhang2017.sgd-nonzero-start), ten orders of magnitude above.
        "span_residual_max": 1e-9,
    },
    measure=_measure_span,
    holds=lambda m, tol: bool(m["problems"]) and max(m["max_span_residual"]) <= tol["span_residual_max"],
))


# --- zhang2017.sgd-converges-to-min-norm -----------------------------------------------------------

@one_blas_thread
def _measure_min_norm(setting: SGDSetting, root) -> dict:
    found, missing = _problems(setting)
    keys = ("problems", "condition_number", "sgd_distance", "interpolation_residual", "distance_certificate",
            "kernel_form_distance", "cvxpy_l2_distance", "cvxpy_status", "l2_nonzeros", "l1_nonzeros",
            "l1_norm_ratio_sgd_to_l1_optimum", "l2_norm_ratio_l1_solution_to_min_norm")
    out = {k: [] for k in keys}
    for name, X, y in found:
        w_star = min_norm_solution(X, y)
        w_sgd = _sgd(setting, X, y)[-1]
        w_l2, status_l2 = min_norm_cvxpy(X, y, norm=2)
        w_l1, status_l1 = min_norm_cvxpy(X, y, norm=1)
        sv = np.linalg.svd(X, compute_uv=False)
        residual = np.linalg.norm(X @ w_sgd - y)
        out["problems"].append(name)
        out["condition_number"].append(float(sv[0] / sv[-1]))
        out["sgd_distance"].append(_rel(w_sgd, w_star))
        out["interpolation_residual"].append(float(residual / np.linalg.norm(y)))
        # w_sgd - w* lies in the row span (both do), where ||X v|| >= sigma_min ||v||: a bound on
        # the distance computed from the residual alone.
        out["distance_certificate"].append(float(residual / sv[-1] / np.linalg.norm(w_star)))
        out["kernel_form_distance"].append(_rel(min_norm_solution(X, y, method="kernel"), w_star))
        out["cvxpy_l2_distance"].append(_rel(w_l2, w_star))
        out["cvxpy_status"].append(f"l2 {status_l2}, l1 {status_l1}")
        # Entries above 1e-9 of the largest count as nonzero; the l1 optimum is a vertex of the LP
        # (HiGHS), so it has at most n nonzeros, the l2 one is dense.
        out["l2_nonzeros"].append(int(np.sum(np.abs(w_star) > 1e-9 * np.abs(w_star).max())))
        out["l1_nonzeros"].append(int(np.sum(np.abs(w_l1) > 1e-9 * np.abs(w_l1).max())))
        out["l1_norm_ratio_sgd_to_l1_optimum"].append(float(np.abs(w_sgd).sum() / np.abs(w_l1).sum()))
        out["l2_norm_ratio_l1_solution_to_min_norm"].append(float(np.linalg.norm(w_l1) / np.linalg.norm(w_star)))
    out["steps"], out["missing"] = setting.steps, missing
    return out


def _min_norm_holds(m: dict, tol) -> bool:
    return (bool(m["problems"])
            and max(m["sgd_distance"]) <= tol["sgd_distance_max"]
            and max(m["cvxpy_l2_distance"]) <= tol["cvxpy_distance_max"]
            and max(m["kernel_form_distance"]) <= tol["closed_forms_distance_max"]
            and all(s.startswith("l2 optimal") for s in m["cvxpy_status"]))


# Well-conditioned n < d systems (condition numbers about 3 and 40), enough steps to converge; shared
# by the convergence claim and its contrast from a non-zero start.
CONVERGENCE_SETTINGS = {
    "quick": SGDSetting((LinearProblem("gaussian", 100, 400), LinearProblem("digits-rff", 100, 1000)),
                        steps=60_000, record_every=1000),
    "full": SGDSetting((LinearProblem("gaussian", 500, 2000), LinearProblem("digits-rff", 300, 3000)),
                       steps=1_000_000, record_every=10_000),
}


register(Claim(
    id="zhang2017.sgd-converges-to-min-norm",
    source=SOURCE + ", eq. (3)",
    statement=("SGD on an underdetermined linear least-squares problem, started from zero, converges to the "
               "minimum-l2-norm interpolant X^T (X X^T)^{-1} y, which is also the optimum of the convex program "
               "min ||w||_2 s.t. Xw = y."),
    settings=CONVERGENCE_SETTINGS,
    tolerances={
        # ||w_SGD - w*|| / ||w*|| at the last step. SGD reaches w* only in the limit; the in-span
        # error is bounded by the reported distance_certificate. 1e-6 is five orders of magnitude
        # below the relative distance (0.07 and 0.08 at the quick tier) at which SGD from a random
        # start lands (next claim).
        "sgd_distance_max": 1e-6,
        # cvxpy (CLARABEL) optimum against the pseudo-inverse. Every feasible w has
        # ||w||^2 = ||w*||^2 + ||w - w*||^2, so a relative objective gap eps allows a relative
        # distance sqrt(eps); CLARABEL's default gap tolerance 1e-8 gives 1e-4.
        "cvxpy_distance_max": 1e-4,
        # X^T (X X^T)^{-1} y by Cholesky against pinv: the kernel form squares the condition number,
        # so its rounding is about cond(X)^2 * eps <= (1e3)^2 * 2.2e-16 = 2.2e-10 for cond <= 1e3.
        "closed_forms_distance_max": 1e-9,
    },
    measure=_measure_min_norm,
    holds=_min_norm_holds,
))


# --- zhang2017.sgd-nonzero-start -------------------------------------------------------------------

@one_blas_thread
def _measure_nonzero_start(setting: SGDSetting, root) -> dict:
    found, missing = _problems(setting)
    keys = ("problems", "off_span_norm_of_w0", "distance_to_min_norm", "relative_difference",
            "interpolation_residual", "span_residual_of_w_minus_w0", "norm_ratio_to_min_norm",
            "span_residual_of_w0")
    out = {k: [] for k in keys}
    for name, X, y in found:
        d = X.shape[1]
        w0 = np.random.default_rng(setting.w0_seed).standard_normal(d) / np.sqrt(d)
        Q = row_space_basis(X)
        off = np.linalg.norm(w0 - Q @ (Q.T @ w0))
        w_star = min_norm_solution(X, y)
        w = _sgd(setting, X, y, w0=w0)[-1]
        dist = float(np.linalg.norm(w - w_star))
        out["problems"].append(name)
        out["off_span_norm_of_w0"].append(float(off))
        out["distance_to_min_norm"].append(dist)
        out["relative_difference"].append(float(abs(dist - off) / off))
        out["interpolation_residual"].append(float(np.linalg.norm(X @ w - y) / np.linalg.norm(y)))
        out["span_residual_of_w_minus_w0"].append(span_residual(X, w - w0, basis=Q))
        out["norm_ratio_to_min_norm"].append(float(np.linalg.norm(w) / np.linalg.norm(w_star)))
        out["span_residual_of_w0"].append(span_residual(X, w0, basis=Q))
    out["steps"], out["missing"] = setting.steps, missing
    return out


register(Claim(
    id="zhang2017.sgd-nonzero-start",
    source=SOURCE,
    statement=("Started from w0 != 0, SGD converges to a different interpolant, w* + (I - P) w0: its distance from "
               "the minimum-norm solution w* equals the norm of w0's component off the span of the data."),
    settings=CONVERGENCE_SETTINGS,
    tolerances={
        # |(||w_SGD - w*||) - ||(I - P) w0||| / ||(I - P) w0||. The off-span part of w0 never moves;
        # an unconverged in-span error e adds in quadrature (sqrt(off^2 + e^2)), so at the quick
        # tier's convergence (e / ||w*|| < 1e-6) the difference is below 1e-12: 1e-6 leaves room.
        "relative_difference_max": 1e-6,
        # ||X w_SGD - y|| / ||y||: the limit interpolates (same convergence as the zero start).
        "interpolation_residual_max": 1e-6,
    },
    measure=_measure_nonzero_start,
    holds=lambda m, tol: (bool(m["problems"])
                          and max(m["relative_difference"]) <= tol["relative_difference_max"]
                          and max(m["interpolation_residual"]) <= tol["interpolation_residual_max"]),
))


# --- kernel interpolation --------------------------------------------------------------------------

@dataclass(frozen=True)
class KernelData:
    """A classification data set as flat float64 inputs; `n_train`/`n_test` None: the whole split."""

    name: str
    n_train: int | None = None
    n_test: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class KernelSetting:
    """Exact RBF interpolation (scale-rule bandwidth from the training inputs) on each data set,
    against kernel ridge regression with the same kernel at each of `ridges` (the best one on the
    test set: an oracle, so the baseline is favoured) and scikit-learn's SVC at its defaults (RBF,
    C = 1, the same bandwidth rule), shown for reference."""

    datasets: tuple[KernelData, ...]
    ridges: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)


def _split(data: KernelData):
    """(x_train, y_train, x_test, y_test) as numpy arrays keeping the input shape, or the message
    of `DataNotFoundError` when the data set is not installed (a claim never downloads)."""
    try:
        ds = load(data.name, n_train=data.n_train, n_test=data.n_test, seed=data.seed, download=False)
    except DataNotFoundError as err:
        return str(err)
    return (ds.x_train.double().numpy(), ds.y_train.numpy(), ds.x_test.double().numpy(), ds.y_test.numpy())


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


@one_blas_thread
def _measure_kernel(setting: KernelSetting, root) -> dict:
    keys = ("datasets", "n_train", "n_test", "bandwidth", "jitter", "train_error", "test_error", "rkhs_norm",
            "best_ridge", "best_ridge_test_error", "excess_error", "test_error_se", "svc_test_error", "missing")
    out = {k: [] for k in keys}
    for data in setting.datasets:
        split = _split(data)
        if isinstance(split, str):
            out["missing"].append(split)
            continue
        x, y, xt, yt = (_flat(a) if a.ndim > 1 else a for a in split)
        f = interpolate(x, y, "rbf")
        err = f.error(xt, yt)
        ridge_errors = {lam: interpolate(x, y, f.kernel, f.num_classes, ridge=lam).error(xt, yt)
                        for lam in setting.ridges}
        best = min(ridge_errors, key=ridge_errors.get)
        svc = SVC(kernel="rbf", C=1.0, gamma=1 / (2 * f.kernel.bandwidth ** 2)).fit(x, y)
        out["datasets"].append(data.name)
        out["n_train"].append(len(y))
        out["n_test"].append(len(yt))
        out["bandwidth"].append(f.kernel.bandwidth)
        out["jitter"].append(f.jitter)
        out["train_error"].append(f.train_error())
        out["test_error"].append(err)
        out["rkhs_norm"].append(f.rkhs_norm())
        out["best_ridge"].append(best)
        out["best_ridge_test_error"].append(ridge_errors[best])
        out["excess_error"].append(err - ridge_errors[best])
        # The binomial standard error of a test error p measured on n_test examples.
        out["test_error_se"].append(float(np.sqrt(err * (1 - err) / len(yt))))
        out["svc_test_error"].append(float(np.mean(svc.predict(xt) != yt)))
    return out


def _kernel_holds(m: dict, tol) -> bool:
    return (bool(m["datasets"])
            and max(m["train_error"]) <= tol["train_error_max"]
            and all(e <= tol["excess_error_in_se"] * se for e, se in zip(m["excess_error"], m["test_error_se"])))


register(Claim(
    id="zhang2017.kernel-interpolation-generalizes",
    source=SOURCE + ", eq. (3) and the MNIST and CIFAR10 kernel results that follow it",
    statement=("Exact minimum-norm kernel interpolation (K alpha = y, no regularization) has zero training error "
               "and a test error as good as the best regularized (kernel ridge) model with the same kernel: "
               "'adding regularization does not improve' it."),
    settings={
        # CPU, seconds: all of digits, 2,000 mnist1d and 2,000 Fashion-MNIST training examples (the
        # latter where installed), RBF kernel, Cholesky in float64.
        "quick": KernelSetting((KernelData("digits"), KernelData("mnist1d", n_train=2000),
                                KernelData("fashion-mnist", n_train=2000, n_test=2000))),
        # The largest n this machine solves in minutes (constructions/kernels.py): 20,000 Fashion-MNIST.
        "full": KernelSetting((KernelData("digits"), KernelData("mnist1d", n_train=10_000, n_test=4000),
                               KernelData("fashion-mnist", n_train=20_000, n_test=10_000))),
    },
    tolerances={
        # Interpolation is exact: argmax of K alpha = one-hot(y) is y on every training point.
        "train_error_max": 0.0,
        # Test error of the interpolant minus that of the best ridge on the test set, in binomial
        # standard errors sqrt(p (1 - p) / n_test) of the interpolant's test error p: two standard
        # errors is the resolution of a test set of this size, and the ridge picked by the test
        # set itself is optimistically biased, so a difference within it is no evidence that
        # regularization helps.
        "excess_error_in_se": 2.0,
    },
    measure=_measure_kernel,
    holds=_kernel_holds,
    known_failures={
        "full": ("on 10,000 mnist1d examples regularization helps: the interpolant's test error is 0.260 against "
                 "0.2285 for ridge 0.1, 4.5 standard errors (digits and 20,000 Fashion-MNIST hold: 0.0083 vs "
                 "0.0083, 0.1185 vs 0.1135). The paper too saw l2 regularization help on CIFAR10 (17% -> 15%)."),
    },
    cited={
        # zhang2017, Section 5: MNIST, solving (3) exactly with no preprocessing and no regularization.
        "mnist_test_error_no_preprocessing": 0.012,
        "mnist_test_error_gabor_wavelets": 0.006,
        "cifar10_test_error_gaussian_kernel_pixels": 0.46,
        "cifar10_test_error_random_conv_features": 0.17,
        "cifar10_test_error_random_conv_features_l2_regularized": 0.15,
    },
))


# --- zhang2017.norm-does-not-predict-error ---------------------------------------------------------

@dataclass(frozen=True)
class Preprocessing:
    """A feature map applied to the inputs of `data` before the same RBF interpolation.

    kind "random-conv": `random_conv_features` of mnist1d's 1-D signals (the paper's random
    convolutional network preprocessing of CIFAR10); "gabor": `gabor_features` of the images (the
    paper's Gabor wavelet transform of MNIST). `options`: (name, value) keyword arguments.
    """

    data: KernelData
    kind: str
    options: tuple[tuple[str, float], ...] = ()

    def apply(self, x: np.ndarray) -> np.ndarray:
        opts = dict(self.options)
        if self.kind == "random-conv":
            return random_conv_features(_flat(x), **opts)
        if self.kind == "gabor":
            return gabor_features(x.reshape(len(x), *x.shape[-2:]), **opts)
        raise ValueError(f"unknown preprocessing {self.kind!r}; known: random-conv, gabor")


@dataclass(frozen=True)
class NormSetting:
    cases: tuple[Preprocessing, ...]


@one_blas_thread
def _measure_norm(setting: NormSetting, root) -> dict:
    keys = ("cases", "rkhs_norm_raw", "rkhs_norm_preprocessed", "norm_ratio", "test_error_raw",
            "test_error_preprocessed", "only_raw_wrong", "only_preprocessed_wrong", "p_value", "missing")
    out = {k: [] for k in keys}
    for case in setting.cases:
        split = _split(case.data)
        if isinstance(split, str):
            out["missing"].append(split)
            continue
        x, y, xt, yt = split
        raw = interpolate(_flat(x), y, "rbf")
        pre = interpolate(case.apply(x), y, "rbf")
        wrong_raw, wrong_pre = raw.predict(_flat(xt)) != yt, pre.predict(case.apply(xt)) != yt
        b, c = int(np.sum(wrong_raw & ~wrong_pre)), int(np.sum(~wrong_raw & wrong_pre))
        out["cases"].append(f"{case.data.name} n={len(y)} n_test={len(yt)}, {case.kind} {dict(case.options)}")
        out["rkhs_norm_raw"].append(raw.rkhs_norm())
        out["rkhs_norm_preprocessed"].append(pre.rkhs_norm())
        out["norm_ratio"].append(out["rkhs_norm_preprocessed"][-1] / out["rkhs_norm_raw"][-1])
        out["test_error_raw"].append(float(wrong_raw.mean()))
        out["test_error_preprocessed"].append(float(wrong_pre.mean()))
        out["only_raw_wrong"].append(b)
        out["only_preprocessed_wrong"].append(c)
        # Exact sign (McNemar) test on the test examples the two disagree on: the chance of at
        # least b of the b + c going the preprocessed model's way if neither model were better.
        out["p_value"].append(float(binomtest(b, b + c, 0.5, alternative="greater").pvalue) if b + c else 1.0)
    return out


def _norm_holds(m: dict, tol) -> bool:
    return bool(m["cases"]) and all(
        r > tol["norm_ratio_min"] and e1 < e0 and p <= tol["p_value_max"]
        for r, e0, e1, p in zip(m["norm_ratio"], m["test_error_raw"], m["test_error_preprocessed"], m["p_value"]))


register(Claim(
    id="zhang2017.norm-does-not-predict-error",
    source=SOURCE + ", last paragraph (MNIST: norm about 220 without, 390 with wavelet preprocessing)",
    statement=("The norm of the minimum-norm interpolant does not predict its test error: a preprocessing of the "
               "inputs raises the RKHS norm of the interpolant and lowers its test error."),
    settings={
        # mnist1d: a random one-layer convolutional network (128 filters of width 9, ReLU, max over
        # positions); Fashion-MNIST where installed: Gabor wavelets (4 orientations, 7x7, frequency
        # 0.2 cycles/pixel, magnitudes average-pooled over 4x4 cells), tested on all 10,000 test
        # images for the power to see a drop of one point. Tried on the way (2,000 training and
        # 1,000 / 2,000 test examples): random-conv with 64 filters of width 5 (mnist1d error
        # 0.43 -> 0.10, norm x6.2) and with 256 of width 9 (0.046, norm x1.3); this Gabor case on
        # 2,000 test images (0.174 -> 0.156, norm x1.8, p = 0.008); the raw pixels and these Gabor
        # features side by side (0.158, norm x1.5); Gabor with 5x5 filters at 0.25 pooled 2x2
        # lowers the error further (0.141) but its norm falls (x0.94): the norm moves either way
        # while the error falls.
        "quick": NormSetting((
            Preprocessing(KernelData("mnist1d", n_train=2000), "random-conv", (("num_filters", 128), ("width", 9))),
            Preprocessing(KernelData("fashion-mnist", n_train=2000), "gabor",
                          (("size", 7), ("frequency", 0.2), ("pool", 4))),
        )),
        "full": NormSetting((
            Preprocessing(KernelData("mnist1d", n_train=10_000, n_test=4000), "random-conv",
                          (("num_filters", 128), ("width", 9))),
            Preprocessing(KernelData("fashion-mnist", n_train=20_000, n_test=10_000), "gabor",
                          (("size", 7), ("frequency", 0.2), ("pool", 4))),
        )),
    },
    tolerances={
        # Preprocessed norm / raw norm must exceed 1: any increase with a lower error contradicts
        # "smaller norm, smaller error" (the paper's ratio was 390 / 220 = 1.77). The norms are
        # computed in float64 from well-conditioned solves, far more precisely than this.
        "norm_ratio_min": 1.0,
        # The drop in test error must be significant: one-sided exact sign test on the discordant
        # test examples, at the 1% level, so it is not an accident of the test sample.
        "p_value_max": 0.01,
    },
    measure=_measure_norm,
    holds=_norm_holds,
    known_failures={
        "full": ("on 20,000 Fashion-MNIST images the Gabor features raise the norm x2.6 but raise the test error "
                 "too, 0.1185 -> 0.1258 (the 4x4 pooling costs more than it gains once n is large); the mnist1d "
                 "random-conv case holds at 10,000 examples: error 0.260 -> 0.040 with the norm x2.06."),
    },
    cited={"mnist_norm_no_preprocessing": 220, "mnist_norm_wavelet_preprocessing": 390,
           "mnist_test_error_no_preprocessing": 0.012, "mnist_test_error_gabor_wavelets": 0.006},
))
