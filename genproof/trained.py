"""A trained network with everything a bound needs, and the `Bound` record every bound returns.

`TrainedNetwork.load(FitConfig, root)` trains (or takes from the cache) an `empirical.fit` run
and gives the bounds its trained weights, the same network at initialisation (same seed), and the
training data exactly as the run saw it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from empirical.data import Dataset
from empirical.fit import FitConfig, corrupted_data, fit, load_model
from empirical.models import build
from empirical.records import Record


@dataclass(frozen=True)
class Bound:
    """One row of the bounds table: an upper bound `value` on the test error (or on the gap, as
    `bounds` says), its `source` (paper, theorem or equation) and the numbers it was computed from."""

    name: str
    source: str
    value: float
    bounds: str = "test error"
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class TrainedNetwork:
    config: FitConfig
    record: Record
    model: nn.Module  # trained, eval mode, on the CPU
    init: nn.Module  # the same architecture and seed, untrained
    data: Dataset  # the training (and test) data as the run saw it
    root: Path  # where runs a bound needs (retraining, random labels) are cached

    @classmethod
    def load(cls, config: FitConfig, root: str | os.PathLike, force: bool = False) -> "TrainedNetwork":
        record = fit(config, root, force=force)
        data = corrupted_data(config).data
        init = build(config.model, data.input_shape, data.num_classes, seed=config.seed).eval()
        return cls(config, record, load_model(record, config), init, data, Path(root))

    @property
    def summary(self) -> dict:
        return self.record.summary
