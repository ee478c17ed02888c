"""The norms family on a network that misclassifies more than the margin quantile of its training set
(an untrained one, a short run, random labels before fit): the table says the measures do not apply,
instead of the whole bounds table stopping (the full tier once crashed there)."""

import pytest
import torch

from empirical.models import ModelConfig, build
from genproof.norms import MarginNotPositive, bound_rows, norm_measures
from genproof.network import Network


def test_a_nonpositive_margin_is_a_not_applicable_row():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 3, generator=g), torch.randint(0, 2, (40,), generator=g)
    model = build(ModelConfig("mlp", width=8), (3,), 2, seed=0).eval()
    with torch.no_grad():
        model.net[-1].weight.zero_()
        model.net[-1].bias.copy_(torch.tensor([1.0, 0.0]))  # class 0 for every input: class-1 margins are -1
    net = Network(model, (x, y), (x, y), init=model)
    with pytest.raises(MarginNotPositive, match="order statistic of the training margins is -1 <= 0"):
        norm_measures(net)
    (row,) = bound_rows(net)
    assert row.kind == "not-applicable" and row.value is None and "<= 0" in row.detail["reason"]
