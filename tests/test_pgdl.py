"""genproof.pgdl: the PGDL competition's score against numbers worked out by hand from its definition
on a design of 12 networks (three hyperparameters), and the complexity(model, dataset) contract in
both directions."""

import itertools
import math

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from genproof import Network, evaluate
from genproof.catalog import ordered
from genproof.pgdl import complexity, pair_score, register, score
from genproof.quantities import MEASURES, QUANTITIES, Undefined

# ---- the design: a in (1, 2, 3), b in (x, y), c in (0, 1); one network each --------------------------
# gap = 100 a + 10 [b = y] + c: a decides every pair it separates, then b, then c; no two gaps tie.

HYPER = ["a", "b", "c"]
SETTINGS = [dict(zip(HYPER, v)) for v in itertools.product((1, 2, 3), ("x", "y"), (0, 1))]
GAP = [100 * s["a"] + 10 * (s["b"] == "y") + s["c"] for s in SETTINGS]


def h(*probabilities):
    return -sum(p * math.log2(p) for p in probabilities if p)


def mi(table):
    """Mutual information (bits) of a 2x2 table of counts, written out from its definition."""
    n = sum(map(sum, table))
    rows, cols = [sum(r) / n for r in table], [sum(c) / n for c in zip(*table)]
    return sum(table[i][j] / n * math.log2(table[i][j] / n / (rows[i] * cols[j]))
               for i in range(2) for j in range(2) if table[i][j])


def test_a_measure_equal_to_the_gap_scores_one():
    s = score(SETTINGS, GAP, GAP, HYPER)
    assert s["score"] == pytest.approx(1, abs=1e-9)  # their entropy's log2(p + 1e-12)
    assert all(p["score"] == pytest.approx(1, abs=1e-9) for p in s["pairs"])


def test_the_negated_gap_scores_what_the_self_pairs_leave():
    """Conditioning on (a, b): a cell a1 a2 b1 b2 with a1 != a2 or b1 != b2 holds pairs whose gaps
    are all ordered alike (no entropy); a diagonal cell (a1 = a2, b1 = b2) holds the 4 ordered pairs
    of its two networks (c = 0, 1): two self-pairs (-gap, and -measure: a tie), (c=1, c=0) +gap and
    (c=0, c=1) -gap. Against the negated gap: +gap/-measure 1, -gap/+measure 1, -gap/-measure 2.
    Without the self-pairs the table would be anti-diagonal and the score 1."""
    diagonal = [[0, 1], [1, 2]]
    by_hand = mi(diagonal) / h(1 / 4, 3 / 4)
    # mi by hand: 2 (1/4) log2((1/4) / (1/4 * 3/4)) + (1/2) log2((1/2) / (3/4 * 3/4))
    assert mi(diagonal) == pytest.approx(0.5 * math.log2(4 / 3) + 0.5 * math.log2(8 / 9))
    # (a, c): 6 diagonal cells as above, and 6 cells a1 = a2, c1 != c2 of 4 pairs, 3 on one side, all
    # reversed by the measure (mutual information = entropy); the rest carry no entropy
    a_c = (6 * mi(diagonal) + 6 * h(1 / 4, 3 / 4)) / (12 * h(1 / 4, 3 / 4))
    # (b, c): 3 networks a cell (a free): 4 diagonal cells [3 self, 3 +gap, 3 -gap] -> [[0, 3], [3, 3]];
    # 12 others of 9 pairs, 6 on one side, all reversed
    b_c = (4 * mi([[0, 3], [3, 3]]) + 12 * h(1 / 3, 2 / 3)) / (16 * h(1 / 3, 2 / 3))
    s = score(SETTINGS, [-g for g in GAP], GAP, HYPER)
    assert {tuple(p["hyperparameters"]): p["score"] for p in s["pairs"]} == pytest.approx(
        {("a", "b"): by_hand, ("a", "c"): a_c, ("b", "c"): b_c}, abs=1e-9)
    assert s["score"] == pytest.approx(by_hand, abs=1e-9) and s["pair"] == ["a", "b"]
    assert by_hand == pytest.approx(0.15107, abs=1e-5)


def test_a_measure_of_one_hyperparameter_scores_zero_given_it():
    """measure = a: within a cell that fixes a1, a2 the measure's order is one and the same (a tie goes
    to -measure), so it tells nothing about the gap: 0 for (a, b) and (a, c). Given (b, c) it orders
    the pairs that differ in a as the gap does: 4 diagonal cells [[3, 0], [0, 6]] (perfect), and 12
    others whose 3 pairs of equal a tie in the measure: 6 cells [[3, 0], [0, 6]], 6 cells [[3, 3], [0, 3]]."""
    s = score(SETTINGS, [s["a"] for s in SETTINGS], GAP, HYPER)
    pairs = {tuple(p["hyperparameters"]): p["score"] for p in s["pairs"]}
    assert pairs[("a", "b")] == pytest.approx(0, abs=1e-9) and pairs[("a", "c")] == pytest.approx(0, abs=1e-9)
    e = h(1 / 3, 2 / 3)
    assert pairs[("b", "c")] == pytest.approx((10 * mi([[3, 0], [0, 6]]) + 6 * mi([[3, 3], [0, 3]])) / (16 * e))
    assert mi([[3, 0], [0, 6]]) == pytest.approx(e)
    assert s["score"] == pytest.approx(0, abs=1e-9)


def test_a_constant_measure_and_degenerate_designs():
    assert score(SETTINGS, [1.0] * 12, GAP, HYPER)["score"] == pytest.approx(0, abs=1e-9)  # every pair -measure
    assert score(SETTINGS, GAP, GAP, ["a"])["score"] is None  # no pair of hyperparameters
    # one network per (a, b) setting: every cell of (a, b) holds one pair, no entropy
    two = [s for s in SETTINGS if s["c"] == 0]
    assert pair_score(two, [0.0] * 6, [GAP[k] for k, s in enumerate(SETTINGS) if s["c"] == 0], "a", "b") is None
    with pytest.raises(ValueError, match="one entry per network"):
        score(SETTINGS, GAP[:-1], GAP, HYPER)


def test_seeds_are_more_pairs_of_the_same_cells():
    """Two networks of every setting (two seeds) with equal gaps and measures: the duplicates tie in
    both and go to the minus side of both, so a measure equal to the gap still scores 1."""
    twice = SETTINGS + SETTINGS
    s = score(twice, GAP + GAP, GAP + GAP, HYPER)
    assert s["score"] == pytest.approx(1, abs=1e-9)


# ---- the complexity(model, dataset) contract -------------------------------------------------------


@pytest.fixture
def net():
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:120] / 16, dtype=torch.float32), torch.tensor(y[:120])
    init = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10))
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10))
    model.load_state_dict(init.state_dict())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return Network(model, (x, y), (x[:20], y[:20]), init=init)


def distance_from_init(model, dataset):
    """The starting kit's baseline `distance_from_init` in torch: sum ||w - w_0||^2 over every
    weight array, biases included."""
    return sum(float(((p.detach() - w0) ** 2).sum()) for p, w0 in zip(model.parameters(), model.initial_weights))


def test_a_pgdl_measure_becomes_a_genproof_measure(net, monkeypatch):
    ordered()  # every module's measures registered first, then a copy of the registry for this test's own
    monkeypatch.setattr(QUANTITIES, "_entries", dict(QUANTITIES._entries))
    register("pgdl-dist-init", distance_from_init, "the starting kit's distance from initialization",
             source="PGDL starting kit, baselines/distance_from_init", cost="weights", needs=("init",))
    register("pgdl-examples", lambda model, dataset: len(dataset), "number of training examples",
             source="a test")
    expected = sum(float(((a.detach() - b.detach()) ** 2).sum()) for a, b in zip(net.model.parameters(),
                                                                               net.init.parameters()))
    table = evaluate(net, ["pgdl-dist-init", "pgdl-examples"])
    assert table.value("pgdl-dist-init") == pytest.approx(expected) and table.value("pgdl-examples") == 120
    assert not hasattr(net.model, "initial_weights")  # carried for the call only
    bare = Network(net.model, (net.data.x_train, net.data.y_train))
    row = next(iter(evaluate(bare, ["pgdl-dist-init"])))
    assert row["value"] is None and "pass init=" in row["detail"]["reason"]
    assert "pgdl-examples" in MEASURES and not MEASURES.get("pgdl-examples").default  # opt-in


def test_a_genproof_measure_becomes_a_pgdl_complexity(net):
    dataset = torch.utils.data.TensorDataset(net.data.x_train, net.data.y_train)
    params = complexity("params")
    assert params(net.model, dataset) == sum(p.numel() for p in net.model.parameters())
    assert params.__name__ == "complexity_params"
    model = net.model
    model.initial_weights = [p.detach().numpy().copy() for p in net.init.parameters()]
    try:
        assert complexity("dist-init")(model, dataset) == pytest.approx(MEASURES.get("dist-init").value(net))
    finally:
        del model.initial_weights
    with pytest.raises(Undefined, match="pass init="):
        complexity("dist-init")(model, dataset)
    loader = torch.utils.data.DataLoader(dataset, batch_size=50)
    assert complexity("hessian-trace")(model, loader) == pytest.approx(
        MEASURES.get("hessian-trace").value(net), rel=1e-5)
    with pytest.raises(Undefined, match="margins"):  # an untrained network: no margin, no number made up
        complexity("bartlett-spectral")(model, (net.data.x_train.numpy(), net.data.y_train.numpy()))
