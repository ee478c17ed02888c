"""The 2n+d network of zhang2017 Theorem 1 (constructions.memorization): small cases by hand,
the O(n) forward pass against a triangular solve, exact rational checks, duplicates, ties,
float32 against float64, parameter counts and input validation."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg

from constructions.memorization import (
    build, build_classifier, dense_system, exact_weights, interleaved_biases, solve_weights, verify_exact,
)

ONE = np.array([1.0])  # the projection a = [1] for points on a line: z = x


def test_one_point_by_hand():
    # z = a x; b_1 = z - 1 (the gap used when there is no second point); w_1 = y / (z - b_1) = y.
    net = build([[2.0, -1.0]], [5.0], projection=np.array([3.0, 1.0]))
    assert net.a.tolist() == [3.0, 1.0] and net.b.tolist() == [4.0] and net.w.tolist() == [5.0]
    assert net.n_params == 2 * 1 + 2
    assert net([[2.0, -1.0], [0.0, 0.0]]).tolist() == [5.0, 0.0]  # relu(0 - 4) = 0 at the origin


def test_two_points_by_hand():
    # z = (0, 2); b_1 = 0 - 2 (mean gap 2), b_2 = 1 (midpoint); w_1 = 3 / 2, and from
    # c(2) = 1.5 * (2 + 2) + w_2 * (2 - 1) = 5: w_2 = -1.
    net = build([[0.0], [2.0]], [3.0, 5.0], projection=ONE)
    assert net.b.tolist() == [-2.0, 1.0] and net.w.tolist() == [1.5, -1.0]
    assert net([[0.0], [2.0], [-5.0], [1.0]]).tolist() == [3.0, 5.0, 0.0, 4.5]


def test_three_points_by_hand_exactly_and_in_any_order():
    # z = (0, 1, 3), b = (-3/2, 1/2, 2); forward pass: w_1 = 1 / (3/2) = 2/3,
    # w_2 = (0 - 1 - 2/3 * 1) / (1 - 1/2) = -10/3, w_3 = (1 - 0 + 8/3 * 2) / (3 - 2) = 19/3.
    X, y = np.array([[3.0], [0.0], [1.0]]), np.array([1.0, 1.0, 0.0])
    exact = exact_weights(X, y, ONE)
    assert exact.order == (1, 2, 0)
    assert exact.b == (Fraction(-3, 2), Fraction(1, 2), Fraction(2))
    assert exact.w == ((Fraction(2, 3), Fraction(-10, 3), Fraction(19, 3)),)
    assert verify_exact(X, y, ONE) == 0
    net = build(X, y, projection=ONE)
    np.testing.assert_allclose(net.w, [2 / 3, -10 / 3, 19 / 3], rtol=1e-15)
    np.testing.assert_allclose(net(X), y, atol=1e-14)


@pytest.mark.parametrize("spacing", ["midpoint", "left", 0.3])
def test_forward_pass_matches_a_triangular_solve(spacing):
    rng = np.random.default_rng(1)
    z = np.sort(rng.standard_normal(60))
    y = rng.standard_normal((60, 3))
    b = interleaved_biases(z, spacing)
    A = dense_system(z, b)
    assert np.all(np.triu(A, 1) == 0) and np.all(np.diag(A) > 0)  # Lemma 1
    reference = scipy.linalg.solve_triangular(A, y, lower=True)
    w = solve_weights(z, b, y)
    scale = np.linalg.norm(reference, np.inf)
    assert np.max(np.abs(w - reference)) <= 1e-12 * np.linalg.cond(A, np.inf) * scale
    np.testing.assert_allclose(solve_weights(z, b, y[:, 0]), w[:, 0])


def test_biases_interleave_the_sorted_projections():
    z = np.array([-1.0, 0.5, 0.75, 4.0])
    for spacing, s in (("midpoint", 0.5), ("left", 1 / 16)):
        b = interleaved_biases(z, spacing)
        assert np.all(b[0] < z[0]) and np.all(z[:-1] < b[1:]) and np.all(b[1:] < z[1:])
        np.testing.assert_allclose(b[1:], z[:-1] + s * np.diff(z))
        assert b[0] == z[0] - (z[-1] - z[0]) / 3


def test_exact_arithmetic_reproduces_the_float_network():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((25, 4)), rng.integers(0, 10, 25).astype(float)
    for spacing in ("midpoint", "left"):
        net = build(X, y, seed=3, spacing=spacing)
        assert verify_exact(X, y, net.a, spacing=spacing) == 0
        exact = exact_weights(X, y, net.a, spacing=spacing)
        w_exact = np.array([float(v) for v in exact.w[0]])
        np.testing.assert_allclose(net.w, w_exact, rtol=0, atol=1e-9 * np.max(np.abs(w_exact)))
        b_exact = np.array([float(v) for v in exact.b])  # differ by the rounding of the dot products
        np.testing.assert_allclose(net.b, b_exact, rtol=0, atol=1e-14 * np.max(np.abs(b_exact)))


def test_exact_weights_refuse_equal_projections():
    with pytest.raises(ValueError, match="rows 0 and 1"):
        exact_weights([[1.0, 0.0], [1.0, 5.0]], [0.0, 1.0], np.array([1.0, 0.0]))


def test_duplicated_rows_with_equal_targets_are_merged():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 3))
    X = np.concatenate([X, X[[1, 4, 1]]])  # rows 6 and 8 copy row 1, row 7 copies row 4
    y = rng.standard_normal(6)
    y = np.concatenate([y, y[[1, 4, 1]]])
    net = build(X, y)
    assert net.merged == (6, 7, 8) and net.n == 6 and net.n_params == 2 * 6 + 3
    assert net.max_error(X, y) < 1e-12


def test_duplicated_rows_with_different_targets_are_refused():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="rows 0 and 2 of X are identical but their targets differ"):
        build(X, [1.0, 2.0, 3.0])


def test_a_tie_under_the_first_projection_is_drawn_again():
    d, seed = 5, 7
    first = np.random.default_rng(seed).standard_normal(d)  # the projection `build` draws first
    rng = np.random.default_rng(0)
    x0, v = rng.standard_normal(d), rng.standard_normal(d)
    v -= (v @ first) / (first @ first) * first  # orthogonal to it: x0 and x0 + v tie
    X = np.stack([x0, x0 + v, rng.standard_normal(d)])
    assert abs(X[0] @ first - X[1] @ first) < 1e-12
    y = np.array([1.0, -1.0, 2.0])
    net = build(X, y, seed=seed)
    assert net.draws == 2 and not np.array_equal(net.a, first)
    assert net.max_error(X, y) < 1e-10
    with pytest.raises(ValueError, match="rows 0 and 1 project"):
        build(X, y, projection=first)  # a given projection cannot be drawn again
    with pytest.raises(ValueError, match="no projection of the 1 drawn"):
        build(X, y, seed=seed, max_draws=1)


def test_a_gap_too_narrow_for_a_bias_is_refused():
    X = np.array([[1.0], [np.nextafter(1.0, 2.0)]])  # one ulp apart: 1 + 0.999 ulp rounds up to the next point
    with pytest.raises(ValueError, match="too narrow to place a bias"):
        build(X, [0.0, 1.0], projection=ONE, tie_rtol=0, spacing=0.999)


def test_more_candidates_never_shrink_the_smallest_gap():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((400, 10)), rng.standard_normal(400)

    def gap(net):
        return np.diff(net.knots).min() / (net.knots[-1] - net.knots[0])

    one, eight = build(X, y, candidates=1), build(X, y, candidates=8)
    assert eight.draws == 8 and gap(eight) >= gap(one)


def test_float64_fits_and_float32_loses_digits():
    rng = np.random.default_rng(6)
    X, y = rng.random((1000, 64)), rng.integers(0, 10, 1000).astype(float)
    net = build(X, y, spacing="left", candidates=8)
    e64 = {m: net.max_error(X, y, np.float64, m) for m in ("sorted", "dense")}
    e32 = {m: net.max_error(X, y, np.float32, m) for m in ("sorted", "dense")}
    assert e64["sorted"] < 1e-9 and e64["dense"] < 1e-6
    assert min(e32.values()) > 100 * max(e64.values())
    assert net(X, np.float32).dtype == np.float32 and net(X).dtype == np.float64


def test_sorted_and_dense_evaluation_agree_off_the_training_points():
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal((50, 2))
    net = build(X, y, spacing="left")
    queries = rng.standard_normal((200, 3)) * 2
    sorted_, dense = net(queries), net(queries, method="dense")
    assert sorted_.shape == dense.shape == (200, 2)
    np.testing.assert_allclose(sorted_, dense, rtol=1e-9, atol=1e-9 * net.max_abs_weight)


def test_evaluation_shapes():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((10, 4))
    net = build(X, rng.standard_normal(10))
    assert net(X).shape == (10,) and net(X[:1]).shape == (1,) and net(np.zeros((0, 4))).shape == (0,)
    assert net(X, method="dense").shape == (10,)
    multi = build(X, rng.standard_normal((10, 3)))
    assert multi(X).shape == (10, 3) and multi.n_params == 4 + 10 + 3 * 10


def test_classifier_predicts_its_training_labels():
    rng = np.random.default_rng(9)
    X, labels = rng.standard_normal((120, 6)), rng.integers(0, 4, 120)
    clf = build_classifier(X, labels, 4, spacing="left")
    assert clf.n_params == 6 + 120 + 4 * 120
    for method in ("sorted", "dense"):
        assert np.array_equal(clf.predict(X, method=method), labels)
    np.testing.assert_allclose(clf.scores(X), np.eye(4)[labels], atol=1e-9)
    assert clf.accuracy(X, labels) == 1.0


def test_condition_bound_covers_the_exact_condition_number():
    rng = np.random.default_rng(10)
    for n in (1, 2, 80, 300):
        X, y = rng.standard_normal((n, 3)), rng.standard_normal(n)
        for spacing in ("midpoint", "left"):
            net = build(X, y, spacing=spacing)
            exact = np.linalg.cond(dense_system(net.knots, net.b), np.inf)
            assert exact * (1 - 1e-9) <= net.condition <= 4 * exact * (1 + 1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda: build(np.zeros(3), [1.0]), "X must be a non-empty 2-D array of shape \\(n, d\\)"),
    (lambda: build(np.eye(3), [1.0, 2.0]), "y must have shape \\(3,\\)"),
    (lambda: build(np.eye(2), [1.0, np.nan]), "y must hold finite"),
    (lambda: build([[0.0, np.inf]], [1.0]), "X must be finite"),
    (lambda: build(np.eye(2), [1.0, 2.0], spacing=1.5), "spacing must be"),
    (lambda: build(np.eye(2), [1.0, 2.0], spacing="middle"), "spacing must be"),
    (lambda: build(np.eye(2), [1.0, 2.0], projection=np.ones(3)), "projection must be a finite vector of shape"),
    (lambda: build(np.eye(2), [1.0, 2.0], candidates=0), "candidates must be"),
    (lambda: build(np.eye(2), [1.0, 2.0])(np.ones((4, 3))), "X must be a 2-D array of shape \\(m, 2\\)"),
    (lambda: build(np.eye(2), [1.0, 2.0])(np.eye(2), np.int32), "dtype must be float32 or float64"),
    (lambda: build(np.eye(2), [1.0, 2.0])(np.eye(2), method="fast"), "method must be"),
    (lambda: build(np.eye(2), [1.0, 2.0]).max_error(np.eye(2), [1.0]), "y must have shape \\(2,\\)"),
    (lambda: build_classifier(np.eye(2), [0, 2], 2), "labels must lie in 0..1"),
    (lambda: build_classifier(np.eye(2), [0.0, 1.0], 2), "labels must be integers of shape \\(2,\\)"),
    (lambda: build_classifier(np.eye(2), [0, 1], 0), "num_classes must be a positive int"),
    (lambda: exact_weights(np.eye(2), [1.0, 2.0], np.ones(3)), "a must be a finite vector of shape \\(2,\\)"),
])
def test_bad_inputs_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_claim_reports_an_absent_optional_data_set_and_measures_the_rest(tmp_path, monkeypatch):
    from empirical.data import files
    from genproof.claims.zhang2017.memorization import Memorization, Source, _measure_memorization, memorization

    monkeypatch.setenv(files.ENV_VAR, str(tmp_path / "no-such-folder"))
    monkeypatch.setenv(files.BARE_ENV, "1")  # no system folders, no download: the data is where the user says
    setting = Memorization((Source("digits", split="all"), Source("cifar10", optional=True)), exact_rows=5)
    measured = _measure_memorization(setting, tmp_path)
    assert measured["measured_sources"] == ["digits"]
    assert measured["cifar10_data"].startswith("absent: ") and "no-such-folder" in measured["cifar10_data"]
    assert measured["digits_n_params"] == 2 * 1797 + 64
    assert memorization.holds(measured, memorization.tolerances)
