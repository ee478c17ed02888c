"""genproof.norms against hand values and brute force."""

import itertools
import math

import pytest
import torch
from torch import nn

from empirical.data.dataset import Dataset
from empirical.models import ModelConfig, build
from genproof.norms import (bound_rows, linear_weights, margins, norm_2_1_transposed, norm_measures, path_norm,
                            spectral_complexity, spectral_norm)
from genproof.trained import TrainedNetwork


def test_spectral_norm_of_known_matrices():
    assert spectral_norm(torch.diag(torch.tensor([3.0, -1.0, 0.5], dtype=torch.float64))) == pytest.approx(3.0)
    assert spectral_norm(torch.ones(2, 2, dtype=torch.float64)) == pytest.approx(2.0)  # eigenvalues 2, 0
    assert spectral_norm(torch.tensor([[3.0, 4.0]], dtype=torch.float64)) == pytest.approx(5.0)


def test_norm_2_1_and_spectral_complexity_by_hand():
    w = torch.tensor([[3.0, 4.0], [0.0, 1.0]], dtype=torch.float64)  # rows of norm 5 and 1
    assert norm_2_1_transposed(w) == pytest.approx(6.0)
    # one layer: R_A = ||W||_s (||W^T||_{2,1} / ||W||_s)^{2/3 * 3/2} = ||W^T||_{2,1}
    assert spectral_complexity([w]) == pytest.approx(6.0)
    # two layers of identities in R^2: prod sigma = 1, sum (2/1)^{2/3} twice, R_A = (2 * 2^{2/3})^{3/2} = 2^{5/2}
    eye = torch.eye(2, dtype=torch.float64)
    assert spectral_complexity([eye, eye]) == pytest.approx(2 ** 2.5)
    # a reference equal to the weights leaves only the spectral product times 0
    assert spectral_complexity([w], [w.clone()]) == pytest.approx(0.0)


def test_path_norm_equals_enumeration_of_paths():
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(2, 3, generator=g, dtype=torch.float64)]
    total = sum((ws[0][h, i] * ws[1][o, h]) ** 2 for i, h, o in itertools.product(range(2), range(3), range(2)))
    assert path_norm(ws) == pytest.approx(math.sqrt(float(total)), rel=1e-12)
    # hand: a single path of weights 2 and 3 has path norm 6
    assert path_norm([torch.tensor([[2.0]]), torch.tensor([[3.0]])]) == pytest.approx(6.0)


def test_margins_by_hand():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]])
    y = torch.tensor([0, 2, 1])
    assert margins(nn.Identity(), logits, y).tolist() == pytest.approx([1.5, -2.0, 0.0])


def test_unsupported_models_say_what_is_supported():
    cnn = build(ModelConfig("cnn", channels=4), (1, 8, 8), 10)
    with pytest.raises(NotImplementedError, match="MLP"):
        linear_weights(cnn)
    assert [tuple(w.shape) for w in linear_weights(build(ModelConfig("mlp", width=5, depth=2), (3,), 2))] == [
        (5, 3), (5, 5), (2, 5)]


def test_measures_are_invariant_to_rescaling_the_output_layer():
    """Scaling the last layer by a > 0 scales the margins, the spectral, Frobenius and path products by a,
    and leaves the spectral complexity's ratio term unchanged: every margin-normalised measure is invariant."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    x = (torch.randn(200, 3, generator=g) + 3 * (2 * y[:, None] - 1)).float()
    data = Dataset("blobs", x[:150], y[:150], x[150:], y[150:], 2)
    model = build(ModelConfig("mlp", width=8), (3,), 2, seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(50):  # enough to classify the blobs, so the margin quantile is positive
        opt.zero_grad()
        nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
        opt.step()
    model.eval()
    net = TrainedNetwork(None, None, model, model, data, None)
    m1 = norm_measures(net)
    with torch.no_grad():
        model.net[-1].weight.mul_(3.0)
        model.net[-1].bias.mul_(3.0)
    m3 = norm_measures(net)
    assert m3.gamma == pytest.approx(3 * m1.gamma, rel=1e-6)
    for k in ("spectral", "frobenius", "path"):
        assert getattr(m3, k) == pytest.approx(getattr(m1, k), rel=1e-6)


def test_reference_at_init_and_bound_rows_are_labelled_measures():
    g = torch.Generator().manual_seed(1)
    y = torch.arange(100) % 2
    x = (torch.randn(100, 3, generator=g) + 4 * (2 * y[:, None] - 1)).float()
    data = Dataset("blobs", x[:80], y[:80], x[80:], y[80:], 2)
    model = build(ModelConfig("mlp", width=4), (3,), 2, seed=0).eval()
    with torch.no_grad():  # make the net classify the blobs: hidden units read the sign of x[0]
        model.net[1].weight.copy_(torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 0], [0, 0, 0]]))
        model.net[1].bias.zero_()
        model.net[-1].weight.copy_(torch.tensor([[0, 1.0, 0, 0], [1.0, 0, 0, 0]]))
        model.net[-1].bias.zero_()
    net = TrainedNetwork(None, None, model, model, data, None)
    # reference = the network itself: every ||W^T - M^T||_{2,1} is 0, so R_A = 0
    assert norm_measures(net, reference="init").spectral_complexity == 0.0
    m = norm_measures(net)
    # hand: W1 has rows e1, -e1 (and zeros): one nonzero column (1, -1, 0, 0), spectral norm sqrt(2), and
    # ||W1^T||_{2,1} = 1 + 1 = 2; W2 swaps two units: spectral norm 1, ||W2^T||_{2,1} = 2. So
    # R_A = sqrt(2) * ((2/sqrt(2))^{2/3} + 2^{2/3})^{3/2}; paths: input 0 -> unit 0 or 1 -> one output,
    # each of weight product +-1, so the path norm is sqrt(2)
    assert m.spectral_complexity == pytest.approx(math.sqrt(2) * (2 ** (1 / 3) + 2 ** (2 / 3)) ** 1.5)
    assert m.path_norm == pytest.approx(math.sqrt(2))
    rows = bound_rows(net)
    assert [r.bounds for r in rows] == ["measure (no constants)"] * 3
