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


@dataclass(frozen=True, eq=False)
class NoisyRun:
    """One η-noisy run: the procedure's predicted labels and the labels it is judged against
    (`y_train` original, `y_given` the ones it was trained on, `mask` the corrupted points)."""

    procedure: Procedure
    eta: float
    seed: int
    pred_train: np.ndarray
    pred_test: np.ndarray
    y_train: np.ndarray
    y_given: np.ndarray
    y_test: np.ndarray
    mask: np.ndarray
    num_classes: int
    summary: dict  # the summary of the underlying `fit_sss` or `fit` run, with its directory as `run`

    def accuracies(self) -> dict:
        """Measured against the original labels:
        - `train_acc`: accuracy on all training points (Train(η); Train(0) when eta = 0);
        - `ntrain_acc`: accuracy on the corrupted points only (NTrain(η); None when eta = 0);
        - `clean_train_acc`: accuracy on the uncorrupted points;
        - `fit_acc`: accuracy on the labels it was trained on (noisy where corrupted);
        - `test_acc`: test accuracy (Test(η));
        and `n_train`, `n_noisy`, `eta`, `seed`, `run` (its run directory), `description_bits`: the
        bits that describe the classifier given the representation (SSS: the probe's; end-to-end:
        the whole network at 32 bits a weight)."""
        right, mask = self.pred_train == self.y_train, self.mask
        s = self.summary
        return {
            "procedure": self.procedure.kind, "eta": self.eta, "seed": self.seed, "n_train": len(right),
            "n_noisy": int(mask.sum()), "train_acc": float(right.mean()),
            "ntrain_acc": float(right[mask].mean()) if mask.any() else None,
            "clean_train_acc": float(right[~mask].mean()), "fit_acc": float((self.pred_train == self.y_given).mean()),
            "test_acc": float((self.pred_test == self.y_test).mean()), "run": s["run"],
            "description_bits": s["description_bits"] if self.procedure.kind == "sss" else 32 * s["n_params"],
        }

    def deviations(self) -> tuple[np.ndarray, np.ndarray]:
        """Per training point, modulo the number of classes C: the deviation of the prediction from
        the original label, (g(x_i) - y_i) mod C, and the noise, (ỹ_i - y_i) mod C (0 where the label
        was kept). Their dependence is what `genproof.rrm` charges as complexity."""
        c = self.num_classes
        return (self.pred_train - self.y_train) % c, (self.y_given - self.y_train) % c


def run(procedure: Procedure, data: DataConfig, eta: float, seed: int,
        root: str | os.PathLike | None = None) -> NoisyRun:
    """Train `procedure` (or take it from the cache) on `data` with noise rate `eta` and `seed`, and
    predict the training and the test inputs."""
    kind = corruption(eta)
    ds = data.load()
    noisy = corrupt(ds, kind, seed=seed)
    if procedure.kind == "sss":
        rep = RepresentationConfig(data, procedure.model, procedure.ssl, seed)
        record = fit_sss(SSSConfig(rep, procedure.probe, kind, seed), root)
        pred_train, pred_test = predictions(record)
    else:
        config = FitConfig(data, procedure.model, procedure.train, kind, seed)
        record = fit(config, root)
        model = load_model(record, config)
        with torch.no_grad():
            pred_train, pred_test = (torch.cat([model(x[i:i + 4096]).argmax(1) for i in range(0, len(x), 4096)]).numpy()
                                     for x in (ds.x_train, ds.x_test))
    return NoisyRun(procedure, eta, seed, pred_train, pred_test, ds.y_train.numpy(), noisy.data.y_train.numpy(),
                    ds.y_test.numpy(), noisy.mask.numpy(), ds.num_classes, dict(record.summary, run=str(record.path)))
