"""genproof.vc: counts, the BHLM and VC bounds at hand-computed inputs, the K-class growth
function against an exact count, halfspaces against constructions.shattering."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from constructions.shattering import is_shattered
from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig, build
from empirical.train import TrainConfig
from genproof import vc
from genproof.network import Network


def test_mlp_counts_match_the_built_network():
    arch = vc.mlp_architecture(64, 512, 1)
    assert (arch.W, arch.L, arch.U) == (64 * 512 + 512 + 512 + 1, 2, 513)
    one = build(ModelConfig("mlp", 512, 1), (1, 8, 8), 1)
    assert vc.chain_architecture(64, vc.relu_chain(one, torch.randn(4, 1, 8, 8))) == arch
    assert sum(p.numel() for p in one.parameters()) == arch.W
    deep = vc.mlp_architecture(10, 20, 3)
    assert (deep.W, deep.L) == (11 * 20 + 2 * 21 * 20 + 21, 4)
    assert vc.relu_chain(build(ModelConfig("mlp", 20, 3, dropout=0.5), (10,), 1).eval(), torch.randn(4, 10)) == (20,) * 3
    assert vc.relu_chain(build(ModelConfig("mlp", 20, 2, features=5), (10,), 1), torch.randn(4, 10)) == (20, 5)


def test_a_module_that_is_not_a_relu_chain_is_refused_with_the_reason():
    x = torch.randn(8, 6)
    cases = {
        "has a Conv2d layer": build(ModelConfig("cnn", channels=4), (1, 8, 8), 2),
        "has no bias": torch.nn.Sequential(torch.nn.Linear(6, 4, bias=False), torch.nn.ReLU(), torch.nn.Linear(4, 2)),
        "layers are Linear, Linear": torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Linear(4, 2)),
    }
    for message, model in cases.items():
        with pytest.raises(NotImplementedError, match=message):
            vc.relu_chain(model, torch.randn(8, 1, 8, 8) if "Conv" in message else x)

    class Skip(torch.nn.Module):  # registration order says chain; the forward adds a skip connection
        def __init__(self):
            super().__init__()
            self.a, self.r, self.b = torch.nn.Linear(6, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2)

        def forward(self, x):
            return self.b(self.r(self.a(x)) + x)

    with pytest.raises(NotImplementedError, match="forward is not the chain"):
        vc.relu_chain(Skip(), x)


def test_bhlm_upper_at_a_hand_computed_architecture():
    # 1 -> 1 -> 1: W_1 = 2, W_2 = 4, Lbar = 6/4, R = 1 + 2 = 3, p = 1:
    # 2 + 1.5 * 4 * log2(12 e log2(6 e)) = 2 + 6 * 7.03760 = 44.2256
    assert vc.bhlm_upper(vc.Architecture((1, 1), (2, 2))) == pytest.approx(44.22559, abs=1e-5)
    # The O(W L log W) scale, and never below the lower bound for the MLP.
    arch = vc.mlp_architecture(64, 512, 1)
    assert vc.mlp_lower(64, 512, 1) == 512 < vc.bhlm_upper(arch) < 2 * arch.W * arch.L * math.log2(arch.W)


def test_mlp_lower():
    assert vc.mlp_lower(64, 10, 1) == 65  # halfspaces win for a narrow net
    assert vc.mlp_lower(64, 512, 2) == 65  # zhang2017 Theorem 1 is for one hidden layer


def test_vc_bound_at_hand_computed_inputs():
    # d = 10, n = 1000: sqrt(2 * 10 log(100 e) / 1000) + sqrt(log 20 / 2000) = 0.334818 + 0.038702
    assert vc.vc_bound(0.0, 10, 1000, 0.05) == pytest.approx(0.373521, abs=1e-6)
    assert vc.log_growth(2000, 1000) == pytest.approx(1000 * math.log(2))  # d >= n: 2^n labelings
    assert vc.log_growth(0, 1000) == 0.0
    # K = 3, d = 2: 3 pairs * 2 log(500 e) = 43.2877 < 1000 log 3; sqrt(0.0865753) + 0.038702
    assert vc.vc_bound(0.0, 2, 1000, 0.05, num_classes=3) == pytest.approx(0.332939, abs=1e-6)
    # K = 10, d = 10: 45 * 10 log(100 e) = 2522.3 > 1000 log 10, so sqrt(2 log 10) + 0.038702
    assert vc.vc_bound(0.1, 10, 1000, 0.05, num_classes=10) == pytest.approx(0.1 + 2.145966 + 0.038702, abs=1e-6)
    assert vc.multiclass_log_growth(10, 1000, 2) == vc.log_growth(10, 1000)  # K = 2 is the binary bound
    assert vc.log_growth_lower(512, 1437) == 512 * math.log(2) and vc.log_growth_lower(2000, 1437) == 1437 * math.log(2)
    with pytest.raises(ValueError, match="delta"):
        vc.vc_bound(0.0, 10, 1000, 0.0)
    with pytest.raises(ValueError, match="num_classes"):
        vc.multiclass_log_growth(10, 1000, 1)


def test_vc_bound_is_monotone():
    n = 1437
    for K in (2, 10):
        in_d = [vc.vc_bound(0.0, d, n, 0.05, K) for d in range(0, 3 * n)]
        assert all(a <= b + 1e-15 for a, b in zip(in_d, in_d[1:]))
    in_n = [vc.vc_bound(0.0, 50, n, 0.05) for n in range(50, 5000)]
    assert all(a >= b - 1e-15 for a, b in zip(in_n, in_n[1:]))


def _argmax_realizable(x, labels, K):
    """Whether argmax over K affine functions of x in R realizes `labels` on the points `x` (LP)."""
    rows = []
    for xi, y in zip(x, labels):
        for k in set(range(K)) - {y}:
            row = np.zeros(2 * K)
            row[[k, K + k, y, K + y]] = xi, 1.0, -xi, -1.0
            rows.append(row)
    res = linprog(np.zeros(2 * K), A_ub=np.array(rows), b_ub=-np.ones(len(rows)), bounds=(None, None), method="highs")
    return res.status == 0


@pytest.mark.parametrize("n,K", [(5, 3), (4, 4)])
def test_multiclass_growth_against_an_exact_count(n, K):
    # argmax of K affine functions on the line: pairwise comparisons are thresholds (d = 2); every
    # one of the K^n labelings decided exactly, against the closed form and our bound
    x = np.arange(float(n))
    count = sum(_argmax_realizable(x, labels, K) for labels in itertools.product(range(K), repeat=n))
    closed_form = sum(math.comb(n - 1, j - 1) * math.perm(K, j) for j in range(1, min(n, K) + 1))
    assert count == closed_form <= math.exp(vc.multiclass_log_growth(2, n, K))


@pytest.mark.parametrize("d", [1, 2])
def test_halfspaces_shatter_d_plus_1_points_and_not_d_plus_2(d):
    rng = np.random.default_rng(d)
    vcd = vc.halfspace_vc_dimension(d)
    assert vcd == d + 1
    assert is_shattered(rng.normal(size=(vcd, d)))[0]
    assert not is_shattered(rng.normal(size=(vcd + 1, d)))[0]


def test_bound_rows(tmp_path):
    tiny = FitConfig(DataConfig("digits", n_train=100, n_test=50), ModelConfig("mlp", width=64),
                     TrainConfig(lr=0.1, momentum=0.9, batch_size=50, max_steps=200))
    net = Network.from_fit(tiny, tmp_path)
    upper, lower = vc.bound_rows(net, delta=0.05)
    assert (upper.kind, upper.delta, lower.kind, lower.delta) == ("network", 0.05, "lower-estimate", None)
    assert "(lower estimate)" in lower.name and upper.detail["num_classes"] == 10
    # both rows sit at the trivial cap n log K of the growth function: the row says the VC dimension plays no part
    assert upper.detail["cap_binds"] and lower.detail["cap_binds"] and upper.detail["cap_n_log_k"] == 100 * math.log(10)
    assert all("n log K cap" in row.name for row in (upper, lower))
    assert upper.detail["vc_dimension"] > lower.detail["vc_dimension"] == 65
    # the 10-class training error plus a complexity term of the 10-class growth function: here
    # d >= n = 100, so log Pi_H(100) <= min(100 log 10, 45 * 100 log 2) = 100 log 10
    e = net.summary["train_error"]
    assert upper.value == pytest.approx(e + math.sqrt(2 * math.log(10)) + math.sqrt(math.log(20) / 200))
    assert lower.value == pytest.approx(vc.vc_bound(e, 65, 100, 0.05, 10))
    assert upper.value >= lower.value > 1
    cnn = FitConfig(tiny.data, ModelConfig("cnn", channels=4), tiny.train)
    assert vc.bound_rows(Network.from_fit(cnn, tmp_path)) == []
