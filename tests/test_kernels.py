"""constructions.kernels: kernel values by hand, exact interpolation, feature maps."""

import numpy as np
import pytest

from constructions.kernels import (RBF, Linear, Polynomial, gabor_features, interpolate, random_conv_features,
                                   random_fourier_features)
from constructions.min_norm import min_norm_solution


def test_rbf_values_by_hand():
    K = RBF(1.0)([[0.0], [1.0]], [[0.0], [1.0], [3.0]])
    np.testing.assert_allclose(K, [[1, np.exp(-0.5), np.exp(-4.5)], [np.exp(-0.5), 1, np.exp(-2)]], rtol=1e-14)
    assert RBF(5.0)([[0.0, 0.0]], [[3.0, 4.0]])[0, 0] == pytest.approx(np.exp(-0.5))  # 25 / (2 * 25)


def test_bandwidth_rules_by_hand():
    # scale rule: 2 s^2 = d Var X = 1 * 1 for the entries (0, 2): s = sqrt(1/2).
    assert RBF.scale_rule([[0.0], [2.0]]).bandwidth == pytest.approx(np.sqrt(0.5))
    # median rule: distances 1, 3, 2 between 0, 1, 3: median 2.
    assert RBF.median_rule([[0.0], [1.0], [3.0]]).bandwidth == pytest.approx(2.0)


def test_linear_and_polynomial_by_hand():
    A, B = [[1.0, 2.0]], [[3.0, -1.0], [0.0, 1.0]]
    np.testing.assert_allclose(Linear()(A, B), [[1.0, 2.0]])
    np.testing.assert_allclose(Polynomial(degree=2, offset=1.0)(A, B), [[4.0, 9.0]])
    np.testing.assert_allclose(Polynomial(degree=3, offset=0.0, scale=2.0)(A, B), [[8.0, 64.0]])


def test_interpolation_is_exact_on_training_points():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    f = interpolate(X, y, num_classes=3)
    assert f.jitter == 0.0
    np.testing.assert_allclose(f.decision_function(X), np.eye(3)[y], atol=1e-8)
    assert f.train_error() == 0.0
    np.testing.assert_array_equal(f.predict(X), y)


def test_rkhs_norm_two_points_by_hand():
    # K = [[1, k], [k, 1]], targets I: alpha = K^{-1}, trace(alpha^T K alpha) = trace(K^{-1}) = 2 / (1 - k^2).
    k = np.exp(-0.5)
    f = interpolate([[0.0], [1.0]], np.array([0, 1]), RBF(1.0))
    assert f.rkhs_norm() == pytest.approx(np.sqrt(2 / (1 - k ** 2)), rel=1e-12)


def test_linear_kernel_interpolant_is_the_min_norm_solution():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 20)), rng.integers(0, 2, 6)
    f = interpolate(X, y, "linear", num_classes=2)
    np.testing.assert_allclose(X.T @ f.alpha, min_norm_solution(X, np.eye(2)[y]), atol=1e-10)
    assert f.rkhs_norm() == pytest.approx(np.linalg.norm(min_norm_solution(X, np.eye(2)[y])), rel=1e-10)


def test_ridge_shrinks_the_norm():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 3)), rng.integers(0, 2, 30)
    exact, ridge = interpolate(X, y), interpolate(X, y, ridge=1.0)
    assert ridge.ridge == 1.0 and ridge.rkhs_norm() < exact.rkhs_norm()


def test_singular_kernel_gets_reported_jitter():
    # A repeated point with the same label makes K singular: Cholesky needs a jitter, which is reported.
    X = np.array([[0.0], [0.0], [1.0]])
    f = interpolate(X, np.array([0, 0, 1]), RBF(1.0))
    assert f.jitter > 0 and f.train_error() == 0.0


def test_indefinite_kernel_raises():
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        interpolate([[1.0], [2.0]], np.array([0, 1]), Polynomial(degree=1, offset=0.0, scale=-1.0))


def test_random_fourier_features_approximate_rbf():
    X = np.array([[0.0, 0.0], [1.0, 0.5], [-0.5, 2.0]])
    Z = random_fourier_features(X, 100_000, bandwidth=1.5, seed=0)
    np.testing.assert_allclose(2 * Z @ Z.T / Z.shape[1], RBF(1.5)(X, X), atol=0.02)


def test_random_conv_features_are_translation_invariant():
    s = np.zeros((1, 30))
    s[0, 10:15] = [1.0, -2.0, 3.0, 0.5, 1.0]
    shifted = np.roll(s, 4, axis=1)  # the pattern stays inside the window
    np.testing.assert_allclose(random_conv_features(s, 16, 5), random_conv_features(shifted, 16, 5), rtol=1e-12)


def test_gabor_features_shape_and_orientation():
    images = np.zeros((2, 12, 12))
    images[0, :, 6] = 1.0  # a vertical line
    images[1, 6, :] = 1.0  # a horizontal line
    F = gabor_features(images, size=5, orientations=4, frequency=0.25, pool=3).reshape(2, 4, 4, 4)
    assert F.shape == (2, 4, 4, 4)
    # Orientation 0 varies along x (responds to vertical structure), orientation 2 along y.
    assert F[0, 0].sum() > F[0, 2].sum() and F[1, 2].sum() > F[1, 0].sum()


@pytest.mark.parametrize("call, message", [
    (lambda: RBF(-1.0), "bandwidth must be a positive"),
    (lambda: RBF(1.0)(np.ones((2, 3)), np.ones((2, 4))), "same number of features"),
    (lambda: Polynomial(degree=0), "degree must be an int"),
    (lambda: interpolate(np.ones(3), np.array([0, 1, 2])), "X must be a non-empty 2-D array"),
    (lambda: interpolate(np.eye(3), np.array([0.0, 1.0, 1.0])), "y must be integer labels"),
    (lambda: interpolate(np.eye(3), np.array([0, 1])), r"y must be integer labels of shape \(3,\)"),
    (lambda: interpolate(np.eye(3), np.array([0, 1, 5]), num_classes=3), "num_classes=3"),
    (lambda: interpolate(np.eye(3), np.array([0, 1, 1]), kernel="laplace"), "kernel must be"),
    (lambda: interpolate(np.eye(3), np.array([0, 1, 1]), ridge=-1.0), "ridge must be"),
    (lambda: interpolate(np.eye(3), np.array([0, 1, 1])).error(np.eye(3), [0, 1]), r"y must have shape \(3,\)"),
    (lambda: interpolate(np.eye(3), np.array([0, 1, 1])).predict(np.ones((2, 4))), "must have 3 features"),
    (lambda: gabor_features(np.ones((2, 8))), r"images must have shape \(N, H, W\)"),
    (lambda: random_conv_features(np.ones((2, 4)), width=5), r"signals must have shape \(N, L\)"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
