"""The 2n+d two-layer ReLU network of zhang2017 Theorem 1, built in closed form.

zhang2017 (Zhang, Bengio, Hardt, Recht, Vinyals, ICLR 2017), Section 4, Theorem 1: "There exists
a two-layer neural network with ReLU activations and 2n + d weights that can represent any
function on a sample of size n in d dimensions." The network is

    c(x) = sum_{j=1..n} w_j max(<a, x> - b_j, 0),     a in R^d, b in R^n, w in R^n,

(`a`, `b`, `w` below: 2n + d numbers), built as in the proof (Appendix C):

1. project: z_i = <a, x_i>, with `a` drawn at random (standard Gaussian) so that the z_i of
   distinct points are distinct;
2. interleave: with z_(1) < ... < z_(n) sorted, put the biases between them,
   b_1 < z_(1) < b_2 < z_(2) < ... < b_n < z_(n);
3. solve A w = y (targets in sorted order) for A_ij = max(z_(i) - b_j, 0). Lemma 1: A is lower
   triangular (for j > i, b_j > z_(j-1) >= z_(i)) with diagonal z_(i) - b_i > 0, so it has full
   rank (its eigenvalues are the z_(i) - b_i).

Solving in O(n). For j <= i, A_ij = z_(i) - b_j, so c is piecewise linear in t = <a, x>, with
slope S_k = w_1 + ... + w_k on [b_k, b_(k+1)). Subtracting row i-1 of A w = y from row i,

    y_i - y_(i-1) = S_(i-1) (z_(i) - z_(i-1)) + w_i (z_(i) - b_i)        (y_0 = S_0 = 0),

which gives w_i from S_(i-1) in one forward pass (`solve_weights`): O(n), where a triangular
solve costs O(n^2) and a dense one O(n^3). With the projection (O(n d)) and the sort
(O(n log n)), `build` is O(n d + n log n).

Spacing of the biases: b_1 = z_(1) - (mean gap) and, for i >= 2, b_i = z_(i-1) + s h_i with
h_i = z_(i) - z_(i-1) and a fraction s in (0, 1): `spacing="midpoint"` is s = 1/2, `"left"` is
s = 1/16, a float sets s itself. The slopes then obey

    S_i = (y_i - y_(i-1)) / ((1 - s) h_i) - s / (1 - s) * S_(i-1).

At the midpoint the factor is -1: every slope carries an alternating sum of all the earlier
ones and the weights grow like a random walk in n. Near the left end the factor is about -s, the
memory dies out, and S_i is close to (y_i - y_(i-1)) / h_i, the slope of the piecewise-linear
interpolant, which any interpolating c must reach somewhere in the gap; max |w| can then not be
much smaller.

Projection: `candidates=k` keeps, of k admissible Gaussian projections, the one whose smallest
gap between consecutive z, relative to their spread, is largest (the weights scale like one over
the smallest gap). `projection` may also be a given vector (then no redraw is possible). The top
principal direction of X (plus Gaussian noise) was tried as well and is no better: the smallest
gap relative to the spread came out alike (median of 20 draws: 1.8e-7 against 2.1e-7 for a
Gaussian a on all digits, 1.6e-8 against 1.8e-8 on 5,000 CIFAR-10 images), so it is not offered.

Measured effect (all 1,797 digits, random labels 0..9, seed 0; the notebook
`notebooks/memorization_2n_plus_d.ipynb` recomputes it): max |w| 3.6e7 at the midpoint with one
projection, 1.2e6 with `spacing="left"` and the best of 8; the float64 forward-pass error
3.1e-5 against 2.2e-8; the O(n) condition bound 1.9e14 against 9.5e9. Defaults follow the proof
(midpoint, one projection); the claims in `genproof/claims/zhang2017/memorization.py` use "left" and 8.

Class labels (`build_classifier`): one output per class, sharing a and b, each fitted to the
indicator of its class; d + n + k n parameters for k classes, counted honestly, not 2n + d.

Ties. Two distinct points tie when their projections are closer than float64 can resolve: the
rounding error of a d-term dot product is at most about d * eps * ||a|| ||x|| (Higham's gamma_d),
so by default z's closer than `d * eps * ||a|| * max_i ||x_i||` count as a tie and the projection
is drawn again, at most `max_draws` times. Identical rows are not ties: with equal targets they
are merged (the network fits every copy, and n counts distinct rows); with different targets no
function fits them, and `build` raises `ValueError` naming the rows.

`exact_weights` and `verify_exact` run the same recursion in rational arithmetic
(`fractions.Fraction`; every float is a rational) and check A w = y exactly.

Not here: the depth-k, width O(n/k) variant that the paper mentions beside Theorem 1. It is
discussed in outline only, with no architecture or exact weight count to hold a construction
against, so this module builds and checks the two-layer network alone.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from constructions.arrays import as_matrix

SPACINGS = {"midpoint": 0.5, "left": 1 / 16}
_BLOCK = 1 << 22  # elements per block when projecting or evaluating densely (32 MiB of float64)


@dataclass(frozen=True, eq=False)
class Memorizer:
    """c(x) = sum_j w_j max(<a, x> - b_j, 0), zhang2017 Theorem 1's network.

    a: (d,) the projection; b: (n,) increasing biases; w: (n,) output weights, or (n, k) for k
    outputs sharing a and b (`build_classifier`). Kept for diagnostics, not parameters:
    `knots` (n,), the sorted projections z_(i) of the training points (b_i < z_(i) < b_(i+1));
    `draws`, how many projections were drawn; `merged`, the indices of training rows left out as
    exact copies (with the same target) of a kept row.
    """

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray
    knots: np.ndarray
    draws: int = 1
    merged: tuple[int, ...] = ()

    @property
    def n(self) -> int:
        return len(self.b)

    @property
    def d(self) -> int:
        return len(self.a)

    @property
    def n_params(self) -> int:
        """d + n + n * outputs; 2n + d for one output. `a` counts once, as in the theorem: every
        hidden unit reads the same direction (as an unconstrained dense layer it would be n*d)."""
        return self.a.size + self.b.size + self.w.size

    @property
    def max_abs_weight(self) -> float:
        return float(np.max(np.abs(self.w)))

    @property
    def condition(self) -> float:
        """An O(n) upper bound on kappa_inf(A) = ||A||_inf ||A^-1||_inf of the system A w = y.

        The forward pass is w = Delta L D Delta y: Delta the first difference (||Delta||_inf <= 2),
        D = diag(1 / (z_(i) - b_i)), and L lower triangular with L_ik = r_(k+1) ... r_i for the
        factors r_i = -(b_i - z_(i-1)) / (z_(i) - b_i) of the slope recursion. The row sums of
        |L D| obey Q_1 = 1 / (z_(1) - b_1), Q_i = 1 / (z_(i) - b_i) + |r_i| Q_(i-1), so
        ||A^-1||_inf <= 4 max_i Q_i; and ||A||_inf = sum_j (z_(n) - b_j), the last row. Against
        the exact `np.linalg.cond(dense_system(knots, b), np.inf)` (O(n^3)) on random points it is
        about 1x at the midpoint and 2x for `spacing="left"`; never more than 4x in the tests.
        """
        z, b = self.knots, self.b
        inverse_gaps = (1 / (z - b)).tolist()
        r = (np.abs(b[1:] - z[:-1]) / (z[1:] - b[1:])).tolist()
        q = worst = inverse_gaps[0]
        for factor, inverse_gap in zip(r, inverse_gaps[1:]):
            q = inverse_gap + factor * q
            worst = max(worst, q)
        return float(np.sum(z[-1] - b) * 4 * worst)

    def __call__(self, X, dtype=np.float64, method: str = "sorted") -> np.ndarray:
        """c(x) for every row of X (m, d): shape (m,), or (m, k) for k outputs, computed in `dtype`.

        a, b, w and X are cast to `dtype` and all arithmetic runs in it. `method="sorted"`: the
        piecewise-linear form c(t) = V_k + S_k (t - b_k), k = #{j : b_j < t}, with the slopes
        S = cumsum(w) and the knot values V_k = c(b_k) = V_(k-1) + S_(k-1) (b_k - b_(k-1)), both
        from a, b, w; O(n + m d + m log n). `method="dense"`: the network as written,
        relu(t - b) @ w, in blocks: O(m n + m d), the arithmetic of a forward pass on an accelerator.
        """
        dtype = _float_dtype(dtype)
        t = project(as_matrix(X, "X", columns=self.d, min_rows=0, dtype=None), self.a, dtype)
        b, w = self.b.astype(dtype), self.w.astype(dtype)
        if method == "dense":
            rows = max(1, _BLOCK // self.n)
            return np.concatenate([np.maximum(t[i:i + rows, None] - b, 0) @ w for i in range(0, len(t), rows)])
        if method != "sorted":
            raise ValueError(f"method must be 'sorted' or 'dense', got {method!r}")
        col = (slice(None),) + (None,) * (w.ndim - 1)  # broadcasts a length-n vector against w
        slopes = np.cumsum(w, axis=0, dtype=dtype)
        values = np.zeros_like(slopes)
        np.cumsum(slopes[:-1] * np.diff(b)[col], axis=0, dtype=dtype, out=values[1:])
        k = np.searchsorted(b, t, side="left")
        j = np.maximum(k - 1, 0)
        out = values[j] + slopes[j] * (t - b[j])[col]
        out[k == 0] = 0
        return out

    def max_error(self, X, y, dtype=np.float64, method: str = "sorted") -> float:
        """max_i |c(x_i) - y_i| with c evaluated in `dtype` by `method` (see `__call__`)."""
        out = self(X, dtype, method)
        y = np.asarray(y, dtype=np.float64)
        if y.shape != out.shape:
            raise ValueError(f"y must have shape {out.shape} (a target per row of X), got {y.shape}")
        return float(np.max(np.abs(out - y))) if y.size else 0.0


@dataclass(frozen=True, eq=False)
class MemorizingClassifier:
    """One-vs-rest memorization of class labels: a `Memorizer` with `num_classes` outputs sharing
    a and b, output k fitted to the indicator of class k; predicts the argmax.

    Parameters: d + n + num_classes * n (the shared a and b counted once), e.g. 15,871 for the
    1,437 training digits; `network.n_params`.
    """

    network: Memorizer
    num_classes: int

    @property
    def n_params(self) -> int:
        return self.network.n_params

    def scores(self, X, dtype=np.float64, method: str = "sorted") -> np.ndarray:
        """(m, num_classes) outputs of the network."""
        return self.network(X, dtype, method)

    def predict(self, X, dtype=np.float64, method: str = "sorted") -> np.ndarray:
        """(m,) int64 labels: the argmax of the scores."""
        return np.argmax(self.scores(X, dtype, method), axis=1)

    def accuracy(self, X, labels, dtype=np.float64, method: str = "sorted") -> float:
        labels = np.asarray(labels)
        predicted = self.predict(X, dtype, method)
        if labels.shape != predicted.shape:
            raise ValueError(f"labels must have shape {predicted.shape} (one per row of X), got {labels.shape}")
        return float(np.mean(predicted == labels))


def build(X, y, *, seed: int = 0, spacing: str | float = "midpoint", projection="gaussian",
          candidates: int = 1, tie_rtol: float | None = None, max_draws: int = 10) -> Memorizer:
    """The network of zhang2017 Theorem 1 with c(x_i) = y_i for every row x_i of X.

    X: (n, d) finite floats (rows distinct, or identical with identical targets: merged);
    y: (n,) real targets, or (n, k) for k outputs sharing a and b. `seed` draws the projections
    (standard Gaussian, from `numpy.random.default_rng(seed)`); `projection`: "gaussian" or a
    given (d,) vector; `spacing`: "midpoint", "left" or a fraction in (0, 1) (module docstring);
    `candidates`: keep the best of this many admissible projections; `tie_rtol`: gaps below
    tie_rtol * ||a|| * max ||x_i|| are ties (default d * eps); `max_draws`: projections drawn
    before giving up. O(n d + n log n) time and O(n d) extra memory at most (X is read in blocks).
    """
    X = as_matrix(X, "X", dtype=None)
    y = _check_targets(y, len(X))
    a, order, z, draws, merged = _project_and_sort(X, y, seed, projection, candidates, tie_rtol, max_draws)
    b = interleaved_biases(z, spacing)
    if np.any(z <= b) or np.any(b[1:] < z[:-1]):  # only when a gap is a few ulps wide (tie_rtol ~ 0)
        i = int(np.argmax((z <= b) | np.r_[False, b[1:] < z[:-1]]))
        raise ValueError(f"the gap below the {i}-th smallest projection ({z[i]!r}) is too narrow to place a bias "
                         "in float64; raise tie_rtol so that such projections count as ties")
    w = solve_weights(z, b, y[order])
    return Memorizer(a=a, b=b, w=w, knots=z, draws=draws, merged=merged)


def build_classifier(X, labels, num_classes: int, **options) -> MemorizingClassifier:
    """One-vs-rest `build`: output k interpolates the indicator of class k on X, so that
    `predict` returns every training label exactly (margin 1). `options` as for `build`.
    Parameters: d + n + num_classes * n."""
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    labels = np.asarray(labels)
    X = as_matrix(X, "X", dtype=None)
    if labels.shape != (len(X),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({len(X)},) (one per row of X), "
                         f"got {labels.dtype} {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}")
    onehot = np.eye(num_classes)[labels]
    return MemorizingClassifier(build(X, onehot, **options), int(num_classes))


def interleaved_biases(z, spacing: str | float = "midpoint"):
    """Biases b with b_1 < z_1 < b_2 < z_2 < ... < b_n < z_n for increasing z (floats or Fractions).

    b_1 = z_1 - (z_n - z_1) / (n - 1) (the mean gap; 1 for n = 1), b_i = z_(i-1) + s (z_i - z_(i-1)),
    s = `spacing` ("midpoint": 1/2, "left": 1/16, or a fraction in (0, 1)). A numpy array gives
    a float64 array; a list of exact numbers (Fractions) gives a list, with s as an exact fraction.
    """
    s = _fraction(spacing)
    n = len(z)
    if isinstance(z, np.ndarray):
        first = z[:1] - ((z[-1] - z[0]) / (n - 1) if n > 1 else 1.0)
        return np.concatenate([first, z[:-1] + float(s) * np.diff(z)])
    first = z[0] - ((z[-1] - z[0]) / (n - 1) if n > 1 else 1)
    return [first] + [z[i - 1] + s * (z[i] - z[i - 1]) for i in range(1, n)]


def solve_weights(z, b, y):
    """w with sum_j w_j max(z_i - b_j, 0) = y_i for all i, by the O(n) forward pass.

    z increasing, b interleaving it (`interleaved_biases`), y the targets in the order of z:
    w_i = (y_i - y_(i-1) - S_(i-1) (z_i - z_(i-1))) / (z_i - b_i), S_i = S_(i-1) + w_i, y_0 = S_0 = 0.
    numpy arrays in (y of shape (n,) or (n, k)) give a float64 array out; lists of exact numbers
    (Fractions, or sympy expressions) give a list out, computed exactly. Equivalent to
    `scipy.linalg.solve_triangular(dense_system(z, b), y, lower=True)`, which costs O(n^2).
    """
    if not isinstance(y, np.ndarray):
        return _forward(list(z), list(b), list(y), zero=Fraction(0))
    zs, bs = np.asarray(z, np.float64).tolist(), np.asarray(b, np.float64).tolist()
    columns = np.asarray(y, np.float64).reshape(len(zs), -1).T
    w = np.array([_forward(zs, bs, col.tolist(), zero=0.0) for col in columns]).T
    return w.reshape(np.shape(y))


def _forward(z: list, b: list, y: list, zero):
    w, slope, z_prev, y_prev = [], zero, zero, zero
    for z_i, b_i, y_i in zip(z, b, y):
        w_i = (y_i - y_prev - slope * (z_i - z_prev)) / (z_i - b_i)
        w.append(w_i)
        slope, z_prev, y_prev = slope + w_i, z_i, y_i
    return w


def dense_system(z, b) -> np.ndarray:
    """The n x n matrix A_ij = max(z_i - b_j, 0) of zhang2017 Lemma 1 (float64; an object array
    of Fractions if z and b are Fractions). O(n^2) memory: for tests and small n."""
    if isinstance(z, np.ndarray):
        return np.maximum(np.subtract.outer(np.asarray(z, np.float64), np.asarray(b, np.float64)), 0)
    return np.array([[max(z_i - b_j, 0) for b_j in b] for z_i in z], dtype=object)


def project(X, a, dtype=np.float64) -> np.ndarray:
    """z = X a computed in `dtype`, X read in blocks of rows (X may be float32 and large)."""
    a = np.asarray(a).astype(dtype)
    rows = max(1, _BLOCK // max(1, X.shape[1]))
    return np.concatenate([np.asarray(X[i:i + rows], dtype=dtype) @ a for i in range(0, len(X), rows)]
                          or [np.zeros(0, dtype)])


# --- exact rational arithmetic -----------------------------------------------------------------


@dataclass(frozen=True)
class ExactNetwork:
    """The network for (X, y, a) in rational arithmetic: `order` sorts the rows of X by <a, x>;
    `z`, `b`, `w`, `y` are in that order (w and y: one tuple per output)."""

    order: tuple[int, ...]
    z: tuple[Fraction, ...]
    b: tuple[Fraction, ...]
    w: tuple[tuple[Fraction, ...], ...]
    y: tuple[tuple[Fraction, ...], ...]


def exact_weights(X, y, a, *, spacing: str | float = "midpoint") -> ExactNetwork:
    """z = X a, the biases and the weights of the network, exactly (every float as the rational it is).

    X: (n, d), y: (n,) or (n, k) (k outputs sharing a and b), a: (d,); the projections of the
    rows must be distinct (exactly). Same recursion as `build`, run on Fractions. Small n and d:
    the cost is O(n d) Fraction products and the numbers grow.
    """
    X = as_matrix(X, "X", dtype=None)
    y = _check_targets(y, len(X))
    a = _check_vector(a, "a", X.shape[1])
    fa = [Fraction(v) for v in a.tolist()]
    z_all = [sum((Fraction(v) * f for v, f in zip(row, fa)), Fraction(0)) for row in X.tolist()]
    order = sorted(range(len(z_all)), key=z_all.__getitem__)
    z = [z_all[i] for i in order]
    ties = [(order[i], order[i + 1]) for i in range(len(z) - 1) if z[i] == z[i + 1]]
    if ties:
        raise ValueError(f"rows {ties[0][0]} and {ties[0][1]} of X have the same projection <a, x> exactly; "
                         "the construction needs distinct projections (drop duplicate rows or change a)")
    b = interleaved_biases(z, spacing)
    columns = y.reshape(len(z), -1).T.tolist()
    ys = [tuple(Fraction(col[i]) for i in order) for col in columns]
    ws = [tuple(_forward(z, b, list(col), zero=Fraction(0))) for col in ys]
    return ExactNetwork(tuple(order), tuple(z), tuple(b), tuple(ws), tuple(ys))


def verify_exact(X, y, a, *, spacing: str | float = "midpoint") -> Fraction:
    """max_i |c(x_i) - y_i| over every output, in exact arithmetic, for the network `exact_weights`
    builds: Fraction(0) means A w = y exactly.

    First checks Lemma 1's structure on the dense A (zero above the diagonal, positive diagonal;
    `AssertionError` if not). Then, since A_ij = z_i - b_j for j <= i, (A w)_i = z_i S_i - T_i
    with the prefix sums S_i = sum_(j<=i) w_j and T_i = sum_(j<=i) w_j b_j: O(n) per output.
    """
    net = exact_weights(X, y, a, spacing=spacing)
    A, n = dense_system(net.z, net.b), len(net.z)
    if any(A[i, j] != 0 for i in range(n) for j in range(i + 1, n)) or any(A[i, i] <= 0 for i in range(n)):
        raise AssertionError("A is not lower triangular with a positive diagonal: the biases do not interleave z")
    worst = Fraction(0)
    for w, target in zip(net.w, net.y):
        s = t = Fraction(0)
        for z_i, b_i, w_i, y_i in zip(net.z, net.b, w, target):
            s, t = s + w_i, t + w_i * b_i
            worst = max(worst, abs(z_i * s - t - y_i))
    return worst


# --- projection, ties and duplicates -----------------------------------------------------------


def _project_and_sort(X, y, seed, projection, candidates, tie_rtol, max_draws):
    """(a, order, z sorted, draws, merged): order indexes the kept rows of X by increasing z."""
    n, d = X.shape
    for name, value, least in (("candidates", candidates, 1), ("max_draws", max_draws, 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    if tie_rtol is None:
        tie_rtol = d * np.finfo(np.float64).eps
    elif not tie_rtol >= 0:
        raise ValueError(f"tie_rtol must be a number >= 0, got {tie_rtol!r}")
    if isinstance(projection, str):
        if projection != "gaussian":
            raise ValueError(f"projection must be 'gaussian' or a vector of shape ({d},), got {projection!r}")
        rng = np.random.default_rng(seed)
        draw, limit = (lambda: rng.standard_normal(d)), max_draws
    else:
        given = _check_vector(projection, "projection", d)
        draw, limit = (lambda: given), 1
    row_norm = float(np.sqrt(max((np.sum(np.asarray(X[i:i + 4096], np.float64) ** 2, axis=1).max()
                                  for i in range(0, n, 4096)), default=0.0)))
    admissible, draws, kept, last_tie = [], 0, None, None
    while draws < limit and len(admissible) < candidates:
        a = draw()
        draws += 1
        z = project(X, a)
        order = np.argsort(z, kind="stable")
        tol = tie_rtol * float(np.linalg.norm(a)) * row_norm
        if kept is None:  # identical rows are a property of X: found once, on the first projection
            kept = _merge_duplicates(X, y, z, order, tol)
        order = order[kept[order]]
        zs = z[order]
        gaps = np.diff(zs)
        if len(gaps) and gaps.min() <= tol:
            i = int(np.argmin(gaps))
            last_tie = (int(order[i]), int(order[i + 1]), float(gaps[i]), tol)
            continue
        admissible.append((gaps.min() / (zs[-1] - zs[0]) if len(gaps) else np.inf, a, order, zs))
    if not admissible:
        i, j, gap, tol = last_tie
        raise ValueError(
            f"no projection of the {draws} drawn separates the rows of X: rows {i} and {j} project "
            f"{gap:.3g} apart, within the float64 tie tolerance {tol:.3g}; the construction needs "
            "points whose projections differ by more than rounding (raise max_draws, or tie_rtol=0 "
            "to accept any nonzero gap)")
    _, a, order, zs = max(admissible, key=lambda c: c[0])
    merged = tuple(int(i) for i in np.flatnonzero(~kept))
    return a, order, zs, draws, merged


def _merge_duplicates(X, y, z, order, tol) -> np.ndarray:
    """Boolean mask of the rows to keep: the first of every group of identical rows of X.
    Identical rows have (nearly) equal z, so only runs of consecutive sorted z within `tol` are
    compared. Identical rows with different targets raise `ValueError`."""
    keep = np.ones(len(X), dtype=bool)
    close = np.flatnonzero(np.diff(z[order]) <= tol)
    if not len(close):
        return keep
    starts = close[np.r_[True, np.diff(close) > 1]]
    ends = close[np.r_[np.diff(close) > 1, True]] + 1
    conflicts = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        rows = np.sort(order[s:e + 1])
        _, first, group = np.unique(np.asarray(X[rows]), axis=0, return_index=True, return_inverse=True)
        for g, f in enumerate(first):
            members = rows[group.reshape(-1) == g]
            for m in members[1:]:
                keep[m] = False
                if not np.array_equal(y[m], y[rows[f]]):
                    conflicts.append((int(rows[f]), int(m)))
    if conflicts:
        pairs = ", ".join(f"{i} and {j}" for i, j in conflicts[:5])
        more = f" (and {len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
        raise ValueError(f"rows {pairs}{more} of X are identical but their targets differ: no function maps "
                         "one input to two values; drop or relabel one of each pair")
    return keep


# --- validation --------------------------------------------------------------------------------


def _check_targets(y, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim not in (1, 2) or len(y) != n:
        raise ValueError(f"y must have shape ({n},) or ({n}, k) (a target per row of X), got {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or not np.isfinite(y).all():
        raise ValueError("y must hold finite real numbers")
    return y.astype(np.float64)


def _check_vector(v, name: str, d: int) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (d,) or not np.isfinite(v).all():
        raise ValueError(f"{name} must be a finite vector of shape ({d},) (one entry per column of X), got {v.shape}")
    return v


def _float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _fraction(spacing) -> Fraction:
    s = SPACINGS.get(spacing, spacing) if isinstance(spacing, str) else spacing
    if isinstance(s, str) or not isinstance(s, numbers.Real) or not 0 < s < 1:
        raise ValueError(f"spacing must be one of {', '.join(map(repr, SPACINGS))} or a fraction in (0, 1), "
                         f"got {spacing!r}")
    return Fraction(s)
