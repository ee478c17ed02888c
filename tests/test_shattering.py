"""constructions.shattering on hand-checkable point sets."""

import numpy as np
import pytest

from constructions.shattering import is_shattered, radon_partition, separating_halfspace

XOR = [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]


def test_triangle_is_shattered():
    assert is_shattered([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) == (True, [])


def test_xor_is_not_shattered_and_fails_only_on_xor():
    ok, failing = is_shattered(XOR)
    assert not ok
    assert failing == [(-1, -1, 1, 1), (1, 1, -1, -1)]


def test_collinear_points_in_the_plane_are_not_shattered():
    ok, failing = is_shattered([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    assert not ok and failing == [(-1, 1, -1), (1, -1, 1)]


def test_line_shatters_two_points_not_three():
    assert is_shattered([[0.0], [1.0]]) == (True, [])
    assert is_shattered([[0.0], [1.0], [2.0]]) == (False, [(-1, 1, -1), (1, -1, 1)])


def test_separating_halfspace_is_max_margin_by_hand():
    # Points -1 and 1 labelled -1 and +1: the max-margin halfspace is sign(x), margin exactly 1.
    w, b = separating_halfspace([[-1.0], [1.0]], [-1, 1])
    np.testing.assert_allclose(w, [1.0], atol=1e-6)
    assert b == pytest.approx(0.0, abs=1e-6)


def test_separating_halfspace_separates_or_returns_none():
    labels = np.array([-1, -1, -1, 1])
    w, b = separating_halfspace(XOR, [1, 1, -1, -1]) or (None, None)
    assert w is None
    points = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [3.0, 3.0]])
    w, b = separating_halfspace(points, labels)
    assert np.all(labels * (points @ w + b) >= 1 - 1e-6)


def test_radon_partition_of_a_square_is_its_diagonals():
    r = radon_partition(XOR)
    assert r.labeling == (1, 1, -1, -1)
    np.testing.assert_allclose(r.point, [0.5, 0.5], atol=1e-12)


def test_radon_partition_of_a_point_inside_a_triangle():
    # 2 (0,0) + (4,0) + (0,4) - 4 (1,1) = 0 and 2 + 1 + 1 - 4 = 0: the inner point against the triangle.
    r = radon_partition([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
    assert r.labeling == (1, 1, 1, -1)
    np.testing.assert_allclose(r.point, [1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(r.weights / r.weights[0], [1.0, 0.5, 0.5, -2.0], atol=1e-12)


def test_radon_partition_on_a_line():
    # 2 * 0 - 3 * 1 + 1 * 3 = 0: the middle point against the two outer ones.
    r = radon_partition([[0.0], [1.0], [3.0]])
    assert r.labeling == (1, -1, 1)
    np.testing.assert_allclose(r.point, [1.0], atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_random_sets_d_plus_1_and_d_plus_2(d):
    rng = np.random.default_rng(d)
    assert is_shattered(rng.standard_normal((d + 1, d)))[0]
    points = rng.standard_normal((d + 2, d))
    ok, failing = is_shattered(points)
    radon = radon_partition(points).labeling
    assert not ok and set(failing) == {radon, tuple(-s for s in radon)}


@pytest.mark.parametrize("call, message", [
    (lambda: is_shattered(np.ones(3)), "points must be a non-empty 2-D array"),
    (lambda: is_shattered(np.zeros((21, 2))), "n = 21 > 20"),
    (lambda: separating_halfspace(XOR, [1, 0, 1, 1]), "labels must be 4 values"),
    (lambda: radon_partition(XOR[:3]), "needs d \\+ 2 points"),
    (lambda: radon_partition([[np.inf, 0.0]] * 4), "points must be finite"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
