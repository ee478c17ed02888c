"""One harness for every registered quantity: four networks built and trained here with a plain torch
loop (no genproof code), on scikit-learn's digits as arrays, each evaluated through `genproof.evaluate`
bare (weights and data only) and complete (with its initialization and a recipe). Every quantity must
give its rows or a row that says why not, never an exception. A new quantity is covered by being
registered."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from empirical.train import TrainConfig
from genproof import Network, Recipe, evaluate
from genproof.catalog import describe, ordered
from genproof.quantities import KINDS, QUANTITIES


def mlp(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), 32), nn.ReLU(), nn.Linear(32, num_classes))


class ConvBN(nn.Module):
    def __init__(self, channels, num_classes):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


def conv_bn(input_shape, num_classes):
    return ConvBN(input_shape[0], num_classes)


class TinyResNet(nn.Module):
    def __init__(self, channels, num_classes):
        super().__init__()
        self.stem = nn.Conv2d(channels, 8, 3, padding=1)
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, padding=1))
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        h = torch.relu(h + self.body(h))  # a skip connection genproof's readers have never seen
        return self.head(h.mean((2, 3)))


def resnet(input_shape, num_classes):
    return TinyResNet(input_shape[0], num_classes)


def unseen(input_shape, num_classes):
    """GELU, LayerNorm and a Flatten inside: modules no quantity is written for."""
    return nn.Sequential(nn.Linear(input_shape[-1], 16), nn.LayerNorm(16), nn.GELU(), nn.Flatten(),
                         nn.Linear(16 * input_shape[-2], num_classes))


FACTORIES = {"mlp": mlp, "conv-bn": conv_bn, "resnet": resnet, "unseen": unseen}
TINY = TrainConfig(lr=0.05, batch_size=32, max_steps=20, stop_at_fit=False, device="cpu", progress=False)


def digits(n_train=160, n_test=80):
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return (x[:n_train], y[:n_train]), (x[n_train:n_train + n_test], y[n_train:n_train + n_test])


def plain_training(model: nn.Module, x, y, steps=150) -> nn.Module:
    """A researcher's own loop: Adam on full batches."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    torch.manual_seed(0)
    (x, y), test = digits()
    out = {}
    for name, factory in FACTORIES.items():
        init = factory((1, 8, 8), 10)
        model = factory((1, 8, 8), 10)
        model.load_state_dict(init.state_dict())
        plain_training(model, x, y)
        out[name] = {"bare": Network(model, (x, y), test),
                     "complete": Network(model, (x, y), test, init=init, recipe=Recipe(factory, TINY),
                                         root=tmp_path_factory.mktemp(name))}
    return out


@pytest.fixture(autouse=True)
def small_curvature(monkeypatch):
    """The Hessian measures with a few products each: the harness checks the contract (tests/test_curvature.py
    the numbers)."""
    from genproof import curvature

    for name, value in (("EIG_TOL", 1e-2), ("TRACE_PROBES", 2), ("SLQ_PROBES", 1), ("SLQ_STEPS", 3)):
        monkeypatch.setattr(curvature, name, value)


def check_rows(table, net_name: str) -> dict:
    """Every registered quantity has rows, each of a declared kind or a reason; returns the rows by quantity."""
    by = {}
    for row in table:
        by.setdefault(row["family"], []).append(row)
    assert set(by) == {e.name for e in QUANTITIES}, net_name
    for name, rows in by.items():
        q = QUANTITIES.get(name)
        for row in rows:
            assert row["kind"] in q.kinds + ("not-applicable",), (net_name, name, row["kind"])
            if row["kind"] == "not-applicable":
                assert row["value"] is None and row["detail"]["reason"].strip(), (net_name, name)
            else:
                assert row["value"] is not None and np.isfinite(row["value"]), (net_name, name)
    return by


def reasons(rows):
    return " ".join(r["detail"].get("reason", "") for r in rows if r["kind"] == "not-applicable")


@pytest.mark.parametrize("name", FACTORIES)
def test_a_bare_network_gets_every_row_or_what_to_pass(networks, name):
    by = check_rows(evaluate(networks[name]["bare"], "all"), name)
    for quantity in ("rademacher", "stability", "compression", "pbb"):
        assert "pass recipe=genproof.Recipe" in reasons(by[quantity]), quantity
    for quantity in ("dist-init", "pac-bayes", "pac-bayes-bound"):
        assert "pass init=" in reasons(by[quantity]), quantity
    assert by["params"][0]["value"] == sum(p.numel() for p in networks[name]["bare"].model.parameters())


def test_what_each_theorem_covers_on_the_four_networks(networks):
    by = {name: {} for name in networks}
    for name, nets in networks.items():
        for row in evaluate(nets["bare"], ["vc", "norms"]):
            by[name].setdefault(row["family"], []).append(row)
    assert [r["kind"] for r in by["mlp"]["vc"]] == ["network", "lower-estimate"]
    assert "Conv2d layer" in reasons(by["conv-bn"]["vc"]) and "LayerNorm layer" in reasons(by["unseen"]["vc"])
    assert [r["kind"] for r in by["mlp"]["norms"]] == ["measure"] * 3
    assert [r["kind"] for r in by["conv-bn"]["norms"]] == ["measure"] * 3  # a module genproof never saw, read off
    # its own skip connection: read in registration order, its head reads (8, 8, 8) feature maps, and is refused
    assert "a Linear layer of 8 inputs reads features of shape (8, 8, 8)" in reasons(by["resnet"]["norms"])
    assert "a Linear layer of 8 inputs reads features of shape (1, 8, 8)" in reasons(by["unseen"]["norms"])


@pytest.mark.parametrize("name", FACTORIES)
def test_a_complete_network_gets_every_quantity_it_covers(networks, name, small_retraining):
    by = check_rows(evaluate(networks[name]["complete"], "all"), name)
    assert by["dist-init"][0]["value"] > 0
    assert by["rademacher"][0]["kind"] == "lower-estimate"  # trained again by the recipe, on any architecture
    batch_norm = name in ("conv-bn", "resnet")
    assert ("batch norm" in reasons(by["stability"])) == batch_norm
    assert ("batch norm" in reasons(by["pac-bayes"])) == batch_norm
    if name == "unseen":
        assert "probabilistic" in reasons(by["pbb"])  # LayerNorm has weights no stochastic twin is made for
    else:
        assert [r["kind"] for r in by["pbb"]] == ["stochastic", "stochastic"]
    assert by["compression"][0]["kind"] == "compressed"


def test_every_quantity_has_a_card():
    for entry in ordered():
        card = describe(entry.name)
        assert card.startswith(f"# {entry.name}") and "- needs:" in card and "- source:" in card
        assert all(k in KINDS for k in entry.factory.kinds)

