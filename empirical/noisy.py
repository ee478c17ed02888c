"""The η-noisy experiment of bansal2021 (Bansal, Kaplun, Barak, ICLR 2021, Section 2): train a
procedure on the training set with a random η fraction of its labels replaced, and measure its
accuracy against the ORIGINAL labels.

A procedure is a function from (training set, labels) to a classifier. Two kinds run through the
same harness:
- "sss": self-supervised + simple (`empirical.sss`): a label-free representation, then a linear
  probe fitted to the labels;
- "e2e": end-to-end, the same backbone and a linear head trained on the labels (`empirical.fit`).

The noise is `empirical.corruptions.label_noise(over="others")`, kind "labels:ETA": exactly
round(η n) training examples, chosen uniformly, each relabelled uniformly among the other
classes (so every chosen label is wrong; the authors' code also draws among the other classes),
and the mask of the chosen examples is kept. For a seed the chosen examples and their labels
are fixed, and the SSS representation (label-free) is the same for the clean and the noisy run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from empirical.corruptions import corrupt
from empirical.fit import DataConfig, FitConfig, fit, load_model
from empirical.models import ModelConfig
from empirical.sss import ProbeConfig, RepresentationConfig, SSLConfig, SSSConfig, fit_sss, predictions
from empirical.train import TrainConfig

KINDS = ("sss", "e2e")


@dataclass(frozen=True)
class Procedure:
    """A training procedure on `model`'s backbone. "sss" reads `ssl` and `probe`; "e2e" reads
    `train` (the backbone and its linear head trained together on the labels)."""

    kind: str = "sss"
    model: ModelConfig = ModelConfig("mlp", width=512, depth=2, features=32)
    ssl: SSLConfig = SSLConfig()
    probe: ProbeConfig = ProbeConfig()
    train: TrainConfig = TrainConfig(optimizer="adam", lr=1e-3, batch_size=128, max_steps=50_000)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"procedure kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def label(self) -> str:
        return "SSS" if self.kind == "sss" else "end-to-end"


def corruption(eta: float) -> str:
    """The corruption kind of noise rate `eta` ("true" at 0)."""
    if not 0 <= eta < 1:
        raise ValueError(f"the noise rate eta must be in [0, 1), got {eta}")
    return "true" if eta == 0 else f"labels:{float(eta)!r}"


def run_procedure(procedure: Procedure, data: DataConfig, eta: float, seed: int,
                  root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Train `procedure` (or take it from the cache) on `data` with noise rate `eta` and `seed`;
    returns its predicted labels on the training and the test inputs and its run's summary."""
    kind = corruption(eta)
    if procedure.kind == "sss":
        rep = RepresentationConfig(data, procedure.model, procedure.ssl, seed)
        record = fit_sss(SSSConfig(rep, procedure.probe, kind, seed), root)
        pred_train, pred_test = predictions(record)
        return pred_train, pred_test, dict(record.summary, run=str(record.path))
    config = FitConfig(data, procedure.model, procedure.train, kind, seed)
    record = fit(config, root)
    ds = data.load()
    model = load_model(record, config)
    with torch.no_grad():
        pred_train, pred_test = (torch.cat([model(x[i:i + 4096]).argmax(1) for i in range(0, len(x), 4096)]).numpy()
                                 for x in (ds.x_train, ds.x_test))
    return pred_train, pred_test, dict(record.summary, run=str(record.path))


def accuracies(procedure: Procedure, data: DataConfig, eta: float, seed: int,
               root: str | os.PathLike | None = None) -> dict:
    """One η-noisy run, measured against the original labels:
    - `train_acc`: accuracy on all training points (Train(η); Train(0) when eta = 0);
    - `ntrain_acc`: accuracy on the corrupted points only (NTrain(η); None when eta = 0);
    - `clean_train_acc`: accuracy on the uncorrupted points;
    - `fit_acc`: accuracy on the labels it was trained on (noisy where corrupted);
    - `test_acc`: test accuracy (Test(η));
    and `n_train`, `n_noisy`, `eta`, `seed`, `run` (its run directory), `description_bits`: the bits
    that describe the classifier given the representation (SSS: the probe's; end-to-end: the whole
    network at 32 bits a weight)."""
    pred_train, pred_test, summary = run_procedure(procedure, data, eta, seed, root)
    ds = data.load()
    noisy = corrupt(ds, corruption(eta), seed=seed)
    y, y_fit, mask = ds.y_train.numpy(), noisy.data.y_train.numpy(), noisy.mask.numpy()
    right = pred_train == y
    out = {
        "procedure": procedure.kind, "eta": eta, "seed": seed, "n_train": len(y), "n_noisy": int(mask.sum()),
        "train_acc": float(right.mean()), "ntrain_acc": float(right[mask].mean()) if mask.any() else None,
        "clean_train_acc": float(right[~mask].mean()), "fit_acc": float((pred_train == y_fit).mean()),
        "test_acc": float((pred_test == ds.y_test.numpy()).mean()), "run": summary["run"],
    }
    out["description_bits"] = summary["description_bits"] if procedure.kind == "sss" else 32 * summary["n_params"]
    return out


def deviations(procedure: Procedure, data: DataConfig, eta: float, seed: int,
               root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per training point of one η-noisy run, modulo the number of classes C: the deviation of the
    prediction from the original label, (g(x_i) - y_i) mod C, and the noise, (ỹ_i - y_i) mod C
    (0 where the label was kept). Their dependence is what `genproof.rrm` charges as complexity."""
    pred_train, _, _ = run_procedure(procedure, data, eta, seed, root)
    ds = data.load()
    noisy = corrupt(ds, corruption(eta), seed=seed)
    c, y = ds.num_classes, ds.y_train.numpy()
    return (pred_train - y) % c, (noisy.data.y_train.numpy() - y) % c

