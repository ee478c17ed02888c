"""Fixtures shared by test modules."""

from dataclasses import replace
from functools import partial

import pytest

from empirical.pbb import stages
from empirical.subspace import SubspaceConfig
from empirical.train import TrainConfig


@pytest.fixture
def small_retraining(monkeypatch):
    """The retraining quantities at a few steps each: the harness checks the contract, not the numbers."""
    import genproof.pac_bayes
    from genproof import compression
    from genproof.pac_bayes import backprop, dziugaite_roy

    tiny = TrainConfig(optimizer="adam", lr=0.05, max_steps=10, stop_at_fit=False, eval_every=10, progress=False)
    monkeypatch.setattr(compression, "SubspaceConfig", partial(SubspaceConfig, train=tiny, quant_steps=5))
    monkeypatch.setattr(compression, "MAX_RUNS", 1)
    family_config = backprop.family_config
    monkeypatch.setattr(backprop, "family_config", lambda net, prior, delta: replace(
        family_config(net, prior, delta), **stages(1, 1, progress=False), mc_draws=1))
    small = partial(dziugaite_roy.pac_bayes_bound, steps=20, m=20)
    for module in (dziugaite_roy, genproof.pac_bayes):  # the family's name and the measure's (imported when used)
        monkeypatch.setattr(module, "pac_bayes_bound", small)
