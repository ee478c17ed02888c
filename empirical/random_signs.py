"""Fitting random signs: train a network on labels derived from uniform random signs sigma, the
experiment behind zhang2017's reading of the empirical Rademacher complexity of a trained model
class (Section 2.4, "Rademacher complexity"); the estimates and the bound that use it are in
`genproof.rademacher`.

The signs come from `signs(n_sigma, n, seed)`, the same draws as the Monte Carlo estimators of
`genproof.rademacher`, so a fit and an estimator given the same seed see the same sigma. Each fit
is one cached run, `rademacher-fit-<hash>/`: `config.json`, `metrics.jsonl` and `summary.json`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from empirical.fit import FitConfig, corrupted_data, train_as
from empirical.models import build
from empirical.records import Record, cached_run, default_root, write_jsonl

TARGETS = ("signs", "loss")


def signs(n_sigma: int, n: int, seed: int) -> np.ndarray:
    """(n_sigma, n) independent uniform signs in {-1, +1} (float64), from `numpy.random.default_rng(seed)`."""
    if n_sigma < 1 or n < 1:
        raise ValueError(f"n_sigma and n must be positive, got {n_sigma} and {n}")
    return np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=(n_sigma, n))


@dataclass(frozen=True)
class SignFit:
    """One training run on sign-derived labels (the cache key of `fit_signs`).

    `fit`: the architecture, the training inputs (its data and corruption, exactly as that run saw
    them) and how to train; its labels are replaced. `target`: "signs" trains a 2-class network on
    the labels (sigma + 1)/2 and records (1/n) sum sigma_i h(x_i), h = +-1 the predicted class;
    "loss" trains the network's own K-class architecture on labels that are the run's label y_i
    where sigma_i = -1 and another class (uniform over the K - 1 others) where sigma_i = +1, and
    records (1/n) sum sigma_i 1[h(x_i) != y_i]. `draw` seeds sigma (`signs(1, n, draw)`).
    """

    fit: FitConfig
    target: str = "signs"
    draw: int = 0

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")


def fit_signs(config: SignFit, root: str | os.PathLike | None = None) -> Record:
    """Train (or take from the cache under `root`) one `SignFit` run. summary.json: `correlation`,
    the attained (1/n) sum sigma_i g_i (a lower bound on the supremum over the class, which
    training may not reach), `fitted` (100% accuracy on the sign-derived labels), `steps`,
    `train_acc_on_targets`, `n`, `num_classes`, `wall_s`."""

    def compute(out: Path) -> dict:
        ds = corrupted_data(config.fit).data
        x, y, n = ds.x_train, ds.y_train, ds.n_train
        sigma = torch.from_numpy(signs(1, n, config.draw)[0])
        if config.target == "signs":
            classes, labels = 2, ((sigma + 1) / 2).long()
        else:
            classes = ds.num_classes
            other = torch.randint(1, classes, (n,), generator=torch.Generator().manual_seed(config.draw))
            labels = torch.where(sigma > 0, (y + other) % classes, y)
        model = build(config.fit.model, ds.input_shape, classes, seed=config.fit.seed + config.draw)
        result = train_as(config.fit, model, (x, labels), config.fit.seed + config.draw, {"train": (x, labels)},
                          progress=False)
        write_jsonl(out / "metrics.jsonl", result.history)
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(x[i:i + 4096].to(next(model.parameters()).device)).argmax(1).cpu()
                              for i in range(0, n, 4096)])
        g = (2.0 * pred - 1) if config.target == "signs" else (pred != y).double()
        return {"correlation": float((sigma * g).mean()), "fitted": result.fitted, "steps": result.steps,
                "train_acc_on_targets": float((pred == labels).double().mean()), "n": n,
                "num_classes": classes, "wall_s": result.wall_s}

    return cached_run(root or default_root(), "rademacher-fit", config, compute)


def fit_draws(fit: FitConfig, root: str | os.PathLike | None = None, n_sigma: int = 3, target: str = "signs",
              first_draw: int = 0) -> list[dict]:
    """The summaries of the `n_sigma` runs `fit_signs(SignFit(fit, target, draw))`, draws
    `first_draw`, `first_draw + 1`, ..."""
    return [fit_signs(SignFit(fit, target, first_draw + k), root).summary for k in range(n_sigma)]
