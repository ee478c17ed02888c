"""genproof.norms against hand values, brute force and the dense matrices of the operators."""

import itertools
import math

import pytest
import torch
from torch import nn

from empirical.data.dataset import Dataset
from empirical.models import ModelConfig, build
from genproof.norms import (Affine, MaxPool, ReLU, Residual, bound_rows, forward, frobenius_norm, lipschitz_bound,
                            margins, network, norm_2_1_transposed, norm_measures, not_applicable,
                            operator_spectral_norm, path_norm, spectral_complexity, spectral_norm)
from genproof.network import Network

D = torch.float64


def dense(w, b=None):
    w = torch.as_tensor(w, dtype=D)
    return Affine(w, torch.zeros(w.shape[0], dtype=D) if b is None else torch.as_tensor(b, dtype=D), (w.shape[1],))


def augmented_dense_matrix(op: Affine, keep_constant: bool) -> torch.Tensor:
    """The operator z = (x, t) -> (A x + b t, t) as a matrix, column by column on the basis inputs."""
    d = math.prod(op.in_shape)
    cols = []
    for j in range(d + 1):
        z = torch.zeros(d + 1, dtype=D)
        z[j] = 1.0
        y = op(z[:d].reshape(1, *op.in_shape), z[d:]).flatten()
        cols.append(torch.cat([y, z[d:]]) if keep_constant else y)
    return torch.stack(cols, dim=1)


def test_spectral_norm_of_known_matrices():
    assert spectral_norm(torch.diag(torch.tensor([3.0, -1.0, 0.5], dtype=D))) == pytest.approx(3.0)
    assert spectral_norm(torch.ones(2, 2, dtype=D)) == pytest.approx(2.0)  # eigenvalues 2, 0
    assert spectral_norm(torch.tensor([[3.0, 4.0]], dtype=D)) == pytest.approx(5.0)


@pytest.mark.parametrize("in_shape,kernel,stride,padding", [
    ((3, 6, 6), 3, 1, 1), ((2, 7, 7), 3, 2, 1), ((2, 10), 3, 1, 1), ((2, 9), 3, 2, 1), ((3, 5, 5), 1, 2, 0)])
@pytest.mark.parametrize("keep_constant", [True, False])
def test_convolution_norms_equal_those_of_its_dense_matrix(in_shape, kernel, stride, padding, keep_constant):
    """Power iteration's spectral norm, the honest Frobenius norm and ||A^T||_{2,1} of a convolution with
    its bias, augmented, against the SVD and the rows of its dense matrix built from basis inputs."""
    g = torch.Generator().manual_seed(len(in_shape) + stride)
    w = torch.randn(4, in_shape[0], *[kernel] * (len(in_shape) - 1), generator=g, dtype=D)
    op = Affine(w, torch.randn(4, generator=g, dtype=D), in_shape, stride, padding)
    m = augmented_dense_matrix(op, keep_constant)
    assert m.shape[0] == math.prod(op.out_shape) + keep_constant  # out_shape is the conv's real output
    assert operator_spectral_norm(op, keep_constant) == pytest.approx(float(torch.linalg.matrix_norm(m, 2)), rel=1e-5)
    assert frobenius_norm(op, keep_constant) == pytest.approx(float(m.norm()), rel=1e-12)
    assert norm_2_1_transposed(op, keep_constant) == pytest.approx(float(m.norm(dim=1).sum()), rel=1e-12)


def test_norm_2_1_and_spectral_complexity_by_hand():
    w = torch.tensor([[3.0, 4.0], [0.0, 1.0]], dtype=D)  # rows of norm 5 and 1
    # one (last) layer without bias: [W 0], R_A = ||W||_s (||W^T||_{2,1} / ||W||_s)^{2/3 * 3/2} = ||W^T||_{2,1}
    assert norm_2_1_transposed(dense(w), keep_constant=False) == pytest.approx(6.0)
    assert spectral_complexity([dense(w)])[0] == pytest.approx(6.0)
    # two identity layers in R^2, no biases: [I 0; 0 1] has spectral norm 1 and rows summing to 3; the last
    # [I 0] spectral norm 1 and 2: R_A = (3^{2/3} + 2^{2/3})^{3/2}
    eye = dense(torch.eye(2))
    assert spectral_complexity([eye, ReLU(), eye])[0] == pytest.approx((3 ** (2 / 3) + 2 ** (2 / 3)) ** 1.5)
    # a reference equal to the weights leaves 0 (the constant rows cancel)
    assert spectral_complexity([eye, ReLU(), eye], [eye, ReLU(), eye])[0] == pytest.approx(0.0)


def test_biases_enter_the_augmented_operator():
    """[W b; 0 1] for W = 0, b = (3, 4): spectral norm sqrt(1 + 25), rows (0 0 3), (0 0 4), (0 0 1)."""
    op = dense(torch.zeros(2, 2), [3.0, 4.0])
    assert operator_spectral_norm(op, True) == pytest.approx(math.sqrt(26))
    assert operator_spectral_norm(op, False) == pytest.approx(5.0)
    assert norm_2_1_transposed(op, True) == pytest.approx(8.0)
    assert frobenius_norm(op, True) == pytest.approx(math.sqrt(26))


def test_path_norm_equals_enumeration_of_paths_with_biases():
    g = torch.Generator().manual_seed(0)
    w1, b1 = torch.randn(3, 2, generator=g, dtype=D), torch.randn(3, generator=g, dtype=D)
    w2, b2 = torch.randn(2, 3, generator=g, dtype=D), torch.randn(2, generator=g, dtype=D)
    total = sum((w1[h, i] * w2[o, h]) ** 2 for i, h, o in itertools.product(range(2), range(3), range(2)))
    total += sum((b1[h] * w2[o, h]) ** 2 for h, o in itertools.product(range(3), range(2)))  # from the constant 1
    total += sum(b2 ** 2)
    assert path_norm([dense(w1, b1), ReLU(), dense(w2, b2)]) == pytest.approx(math.sqrt(float(total)), rel=1e-12)
    assert path_norm([dense([[2.0]]), ReLU(), dense([[3.0]])]) == pytest.approx(6.0)  # one path of weights 2, 3


def test_path_norm_through_max_pooling_and_a_residual_block():
    """Max-pooling joins each output to every input of its window with weight 1 (Gonon et al. 2024);
    a residual block adds the paths through its skip to those through its branch."""
    a = Affine(torch.tensor([[[2.0]]], dtype=D), torch.tensor([0.5], dtype=D), (1, 4))  # 1x1 conv on length 4
    c = Affine(torch.tensor([[[3.0]]], dtype=D), torch.zeros(1, dtype=D), (1, 4))
    head = dense(torch.tensor([[1.0, -1.0]]))  # reads the two pooled positions
    stages = [Residual((a, ReLU(), c), ()), MaxPool(2), head]
    # per position: branch paths 2^2 3^2 = 36 from the input and 0.5^2 3^2 = 2.25 from the constant, skip 1;
    # each pooled output sums two positions, the head squares to 1 on each: 2 * 2 * (36 + 1) + 2 * 2 * 2.25
    assert path_norm(stages) == pytest.approx(math.sqrt(4 * 37 + 4 * 2.25))
    # the Lipschitz bound: the block contributes ||skip|| + ||c|| ||a|| = 1 + 3 * 2, the head 1.5
    sigmas = {id(a): 2.0, id(c): 3.0, id(head): 1.5}
    assert lipschitz_bound(stages, sigmas) == pytest.approx((1 + 6.0) * 1.5)
    x = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    block = torch.relu(3 * torch.relu(2 * x + 0.5) + x)
    assert forward(stages, x).item() == pytest.approx(float(block[0, :2].max() - block[0, 2:].max()))


def _model_like_torch(name, input_shape, seed=0, **kw):
    model = build(ModelConfig(name, **kw), input_shape, 3, seed=seed).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # batch norm away from its initial statistics, so folding it is exercised
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g))
    return model


@pytest.mark.parametrize("name,input_shape,kw", [
    ("mlp", (5,), {"width": 7, "depth": 2}), ("cnn", (12,), {"channels": 3}), ("cnn", (2, 8, 8), {"channels": 3}),
    ("resnet18", (3, 8, 8), {})])
def test_the_folded_network_is_the_model(name, input_shape, kw):
    """Biases, batch norm (eval mode), pooling and skips folded: the stages compute the model's logits."""
    model = _model_like_torch(name, input_shape, **kw)
    x = torch.randn(6, *input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(forward(network(model, input_shape), x), model(x).double(), rtol=1e-5, atol=1e-5)


def test_max_pooling_that_overlaps_is_refused():
    with pytest.raises(NotImplementedError, match="kernel = stride"):
        network(nn.Sequential(nn.Conv1d(1, 2, 3), nn.MaxPool1d(3, stride=2), nn.Flatten(), nn.Linear(6, 2)), (1, 16))
    assert [type(s).__name__ for s in network(build(ModelConfig("mlp", width=5, depth=2), (3,), 2), (3,))] == [
        "Affine", "ReLU", "Affine", "ReLU", "Affine"]


def test_margins_by_hand():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]])
    y = torch.tensor([0, 2, 1])
    assert margins(nn.Identity(), logits, y).tolist() == pytest.approx([1.5, -2.0, 0.0])


def _blobs(seed, n=200, shift=3.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = (torch.randn(n, 3, generator=g) + shift * (2 * y[:, None] - 1)).float()
    return Dataset("blobs", x[: 3 * n // 4], y[: 3 * n // 4], x[3 * n // 4:], y[3 * n // 4:], 2)


def test_measures_scale_with_the_output_layer_as_the_theorems_say():
    """Scaling the last layer (weights and bias) by a > 0 scales the margins, every product of norms and
    the path norm by a, and leaves the spectral complexity's ratio term unchanged: every margin-normalised
    measure is invariant, biases included."""
    data = _blobs(0)
    model = build(ModelConfig("mlp", width=8), (3,), 2, seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(50):  # enough to classify the blobs, so the margin quantile is positive
        opt.zero_grad()
        nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
        opt.step()
    model.eval()
    net = Network(model, (data.x_train, data.y_train), (data.x_test, data.y_test), init=model)
    m1 = norm_measures(net)
    with torch.no_grad():
        model.net[-1].weight.mul_(3.0)
        model.net[-1].bias.mul_(3.0)
    m3 = norm_measures(net)
    assert m3.gamma == pytest.approx(3 * m1.gamma, rel=1e-6)
    for k in ("spectral", "frobenius", "path"):
        assert getattr(m3, k) == pytest.approx(getattr(m1, k), rel=1e-6)
    n = len(data.y_train)  # R_gamma at the 10% quantile: about 0.1 by construction
    assert m3.margin_loss == m1.margin_loss and abs(m1.margin_loss - 0.1) <= 1 / n


def test_reference_at_init_by_hand_and_rows_are_measures():
    data = _blobs(1, n=100, shift=4.0)
    model = build(ModelConfig("mlp", width=4), (3,), 2, seed=0).eval()
    with torch.no_grad():  # the net reads the sign of x[0]: hidden units e1, -e1
        model.net[1].weight.copy_(torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 0], [0, 0, 0]]))
        model.net[1].bias.zero_()
        model.net[-1].weight.copy_(torch.tensor([[0, 1.0, 0, 0], [1.0, 0, 0, 0]]))
        model.net[-1].bias.zero_()
    net = Network(model, (data.x_train, data.y_train), (data.x_test, data.y_test), init=model)
    assert norm_measures(net, reference="init").spectral_complexity == 0.0  # the reference is the network
    m = norm_measures(net)
    # hand, augmented: [W1 0; 0 1] has singular values sqrt(2), 1: spectral norm sqrt(2); its rows have norms
    # 1, 1, 0, 0, 1: ||.^T||_{2,1} = 3. [W2 0] swaps two units: spectral norm 1, ||.^T||_{2,1} = 2. So
    # R_A = sqrt(2) ((3/sqrt(2))^{2/3} + 2^{2/3})^{3/2}; paths: input 0 -> unit 0 or 1 -> one output, each of
    # weight product +-1 (no bias paths: the biases are 0), so phi_2 = sqrt(2)
    assert m.spectral_complexity == pytest.approx(math.sqrt(2) * ((3 / math.sqrt(2)) ** (2 / 3) + 2 ** (2 / 3)) ** 1.5)
    assert m.path_norm == pytest.approx(math.sqrt(2))
    assert m.frobenius_product == pytest.approx(math.sqrt(3) * math.sqrt(2))
    x2 = data.x_train.double().pow(2).sum(1) + 1
    assert m.data_frobenius == pytest.approx(float(x2.sum().sqrt())) and m.max_input_norm == pytest.approx(
        float(x2.max().sqrt()))
    rows = bound_rows(net)
    assert [r.kind for r in rows] == ["measure"] * 3
    assert all("margin loss at gamma" in r.name for r in rows)


def _fitted_conv_net(name, **kw):
    """A conv net whose head alone is fitted to separable 1-D signals: positive margins, BN in eval mode."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2
    x = (torch.randn(64, 1, 4, 4, generator=g) + 2.0 * (2 * y - 1)[:, None, None, None]).float()
    data = Dataset("signs", x[:48], y[:48], x[48:], y[48:], 2)
    model = build(ModelConfig(name, **kw), (1, 4, 4), 2, seed=0)
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    model.eval()
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    for _ in range(30):
        opt.zero_grad()
        nn.functional.cross_entropy(model(data.x_train), data.y_train).backward()
        opt.step()
    return Network(model, (data.x_train, data.y_train), (data.x_test, data.y_test),
                   init=build(ModelConfig(name, **kw), (1, 4, 4), 2, seed=0))


def test_cnn_and_resnet_are_covered_with_the_stated_residual_rule():
    cnn, resnet = _fitted_conv_net("cnn", channels=3), _fitted_conv_net("resnet18")
    assert not_applicable(cnn) is None and not_applicable(resnet) is None
    m = norm_measures(cnn)
    assert m.frobenius is not None and not m.residual and m.depth == 3
    assert norm_measures(cnn, reference="init").spectral_complexity < m.spectral_complexity * 10
    rows = bound_rows(resnet)
    assert [r.kind for r in rows] == ["measure", "not-applicable", "measure"]
    assert "skip" in rows[1].detail["reason"] and "not covered by the theorem" in rows[0].source
    assert rows[0].detail["depth"] == 1 + 2 * 8 + 3 + 1  # stem, two convs per block, three 1x1 skips, head
