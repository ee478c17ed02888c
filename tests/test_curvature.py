"""genproof.curvature against the exact Hessian, formed by `torch.autograd.functional.hessian` in
float64 on networks small enough (a few hundred parameters): lambda_max to ARPACK's tolerance, the
Hutchinson trace and the quadrature's second moment within four standard deviations of their
estimators (computed from the exact Hessian), on an MLP, a CNN with batch norm (eval mode) and a
network with dropout (off)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.func import functional_call

from genproof import Network
from genproof.curvature import (EIG_TOL, hutchinson_trace, lanczos, rademacher, spectrum, top_eigenvalue)
from genproof.quantities import MEASURES

PROBES = 16


class ConvBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(2 * 3 * 3, 10))

    def forward(self, x):
        return self.head(nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2))


def _net(kind: str) -> Network:
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:100] / 16, dtype=torch.float32), torch.tensor(y[:100])
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(64, 3), nn.Tanh(), nn.Linear(3, 10))
    else:
        model, x = ConvBN(), x.view(-1, 1, 8, 8)
    opt = torch.optim.Adam(model.parameters(), 0.03)
    model.train()  # batch norm learns its running statistics, dropout is on
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return Network(model, (x, y))


def exact_hessian(net: Network) -> np.ndarray:
    """The Hessian of the mean training cross-entropy in float64, over the flattened parameters."""
    model = net.model.eval().double()
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    w0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    x, y = net.data.x_train.double(), net.data.y_train

    def loss(w):
        params = dict(zip(names, (t.view(s) for t, s in zip(w.split([s.numel() for s in shapes]), shapes))))
        return nn.functional.cross_entropy(functional_call(model, params, (x,)), y)

    h = torch.autograd.functional.hessian(loss, w0, vectorize=True).numpy()
    model.float()
    return h


@pytest.fixture(scope="module", params=["mlp", "conv-bn-dropout"])
def case(request):
    net = _net(request.param)
    return net, exact_hessian(net)


def test_top_eigenvalue_is_the_exact_one(case):
    net, h = case
    exact = np.linalg.eigvalsh(h)[-1]
    # ARPACK's tolerance, plus float32 products against a float64 Hessian (measured: ~1e-7 relative)
    assert top_eigenvalue(net) == pytest.approx(exact, rel=EIG_TOL + 1e-4)


def test_hutchinson_trace_is_within_four_standard_deviations_of_the_exact_trace(case):
    net, h = case
    sd = np.sqrt(2 * (np.sum(h ** 2) - np.sum(np.diag(h) ** 2)) / PROBES)  # Rademacher probes
    assert abs(hutchinson_trace(net, probes=PROBES) - np.trace(h)) <= 4 * sd + 1e-4 * abs(np.trace(h))
    # the same probes through the exact Hessian give the same number (the estimator, not only its mean)
    z = rademacher(h.shape[0], PROBES, 0)
    assert hutchinson_trace(net, probes=PROBES) == pytest.approx(np.mean(np.einsum("ki,ij,kj->k", z, h, z)), rel=1e-4)


def test_the_quadrature_second_moment_estimates_the_frobenius_norm(case):
    net, h = case
    h2 = h @ h
    s = spectrum(net, probes=PROBES, steps=3)
    for nodes, weights in zip(s.nodes, s.weights):
        assert weights.sum() == pytest.approx(1.0) and len(nodes) == len(weights) <= 3
    # Gauss quadrature with >= 2 nodes is exact for t^2: the estimate is p mean ||H v||^2 / ||v||^2 exactly
    z = rademacher(h.shape[0], PROBES, 0)
    assert s.moment(np.square) == pytest.approx(np.mean(np.einsum("ki,ij,kj->k", z, h2, z)), rel=1e-3)
    sd = np.sqrt(2 * (np.sum(h2 ** 2) - np.sum(np.diag(h2) ** 2)) / PROBES)
    assert abs(s.moment(np.square) - np.sum(h ** 2)) <= 4 * sd
    assert s.moment(lambda t: t) == pytest.approx(hutchinson_trace(net, probes=PROBES), rel=1e-3)  # same probes


def test_a_parameter_the_loss_never_reads_adds_a_zero_row():
    class Spare(nn.Module):  # someone else's module: a head its forward pass never calls
        def __init__(self, body):
            super().__init__()
            self.body, self.unused = body, nn.Linear(3, 3)

        def forward(self, x):
            return self.body(x)

    net = _net("mlp")
    spare = Network(Spare(net.model), (net.data.x_train, net.data.y_train))
    assert top_eigenvalue(spare) == pytest.approx(top_eigenvalue(net), rel=EIG_TOL + 1e-4)
    assert np.isfinite(hutchinson_trace(spare, probes=4))


def test_lanczos_recovers_a_known_spectrum():
    """On a diagonal operator with 5 distinct eigenvalues the Krylov space closes after 5 steps: the
    quadrature is then exact for every function, and its nodes are the eigenvalues."""
    eigenvalues = np.repeat([-1.0, 0.5, 2.0, 3.0, 10.0], 4)
    v = rademacher(len(eigenvalues), 1, 3)[0]
    nodes, weights = lanczos(lambda u: eigenvalues * u, v, steps=12)
    assert np.allclose(np.sort(nodes), [-1.0, 0.5, 2.0, 3.0, 10.0]) and weights == pytest.approx([0.2] * 5)


def test_the_measures_are_registered_with_their_cost_and_seeded():
    net = _net("mlp")
    for name in ("hessian-eigenvalue", "hessian-trace", "hessian-frobenius"):
        q = MEASURES.get(name)
        assert q.cost == "hessian" and "PyHessian" in q.source and np.isfinite(q.value(net, 0)), name
    trace = MEASURES.get("hessian-trace").value
    assert trace(net, 0) == trace(net, 0) != trace(net, 1)  # the probes are drawn from the seed
