"""The η-noisy experiment of bansal2021 (Bansal, Kaplun, Barak, ICLR 2021, Section 2): train a
procedure on the training set with a random η fraction of its labels replaced, and measure its
accuracy against the ORIGINAL labels.

A procedure is a function from (training set, labels) to a classifier. Two kinds run through the
same harness:
- "sss": self-supervised + simple (`empirical.sss`): a label-free representation, then a linear
  probe fitted to the labels;
- "e2e": end-to-end, the same backbone and a linear head trained on the labels (`empirical.fit`).

The noise is `empirical.corruptions.label_noise(over="others")`: every chosen training example is
relabelled uniformly among the other classes, and the mask of the chosen examples is kept. How many
are chosen is `RRMConfig.noise`: "exact" (the default, kind "labels:ETA"), exactly round(η n)
examples; "binomial" (kind "labels-iid:ETA"), each example independently with probability η, as
the authors' code does (docs/sources/bansal2021.md). The bounds of `genproof.rrm` read the realized
m. For a seed the chosen examples and their labels are fixed, and the SSS representation
(label-free) is the same for the clean and the noisy run.

The experiment (`experiment(RRMConfig) -> Record`, cached as `noisy-<hash>/`) runs every procedure
clean and η-noisy for each seed, and the first seed at every rate of a noise sweep, and records the
raw numbers: the accuracies of every run (`NoisyRun.accuracies`) in `summary.json`, and the noisy
runs' (deviation, noise) pairs in `deviations.npz`. The decomposition into gaps and the bounds on
them are formulas of these numbers (`genproof.rrm`). `tier_config` holds the tiers' presets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from empirical.corruptions import corrupt
from empirical.fit import DataConfig, FitConfig, fit, load_model
from empirical.models import ModelConfig
from empirical.progress import progress
from empirical.records import Record, cached_run, default_root
from empirical.sss import SSL_TRAIN, ProbeConfig, RepresentationConfig, SSLConfig, SSSConfig, fit_sss, predictions
from empirical.tiers import check
from empirical.train import TrainConfig

KINDS = ("sss", "e2e")
NOISE_COUNTS = {"exact": "labels", "binomial": "labels-iid"}  # RRMConfig.noise -> corruption kind name


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


def corruption(eta: float, noise: str = "exact") -> str:
    """The corruption kind of noise rate `eta` ("true" at 0), with `noise` "exact" (round(η n)
    labels, kind "labels:ETA") or "binomial" (each label with probability η, "labels-iid:ETA")."""
    if not 0 <= eta < 1:
        raise ValueError(f"the noise rate eta must be in [0, 1), got {eta}")
    if noise not in NOISE_COUNTS:
        raise ValueError(f"noise must be one of {tuple(NOISE_COUNTS)}, got {noise!r}")
    return "true" if eta == 0 else f"{NOISE_COUNTS[noise]}:{float(eta)!r}"


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
        root: str | os.PathLike | None = None, noise: str = "exact") -> NoisyRun:
    """Train `procedure` (or take it from the cache) on `data` with noise rate `eta` (drawn as
    `noise` says: `corruption`) and `seed`, and predict the training and the test inputs."""
    kind = corruption(eta, noise)
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


@dataclass(frozen=True)
class RRMConfig:
    """The η-noisy experiment of bansal2021's RRM decomposition: every procedure on `data`, a clean
    and an η-noisy run for each seed; and, for the train/test-versus-noise picture, the first seed
    at every rate of `sweep`. `noise`: how many labels are corrupted, "exact" (round(η n), the
    default, which keeps every earlier record's hash) or "binomial" (each with probability η, the
    authors' draw); see the module docstring and docs/sources/bansal2021.md."""

    data: DataConfig = DataConfig("mnist1d", n_train=10_000, n_test=2_000)
    procedures: tuple[Procedure, ...] = (Procedure("sss"), Procedure("e2e"))
    eta: float = 0.2
    seeds: tuple[int, ...] = (0, 1, 2)
    sweep: tuple[float, ...] = ()
    noise: str = "exact"

    def __post_init__(self):
        if not 0 < self.eta < 1:
            raise ValueError(f"eta must be in (0, 1), got {self.eta}")
        if not self.seeds or not self.procedures:
            raise ValueError("an RRM experiment needs at least one seed and one procedure")
        if len({p.kind for p in self.procedures}) != len(self.procedures):
            raise ValueError(f"one procedure of each kind at most, got {[p.kind for p in self.procedures]}")
        if any(not 0 <= e < 1 for e in self.sweep):
            raise ValueError(f"sweep rates must be in [0, 1), got {self.sweep}")
        if self.noise not in NOISE_COUNTS:
            raise ValueError(f"noise must be one of {tuple(NOISE_COUNTS)}, got {self.noise!r}")


def experiment(config: RRMConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """Train (or take from the cache under `root`) the clean and the η-noisy run of every procedure
    and seed, and the sweep, and record what they measured. summary.json: `dataset`, `eta`, `seeds`
    and `procedures`, one entry per procedure kind with `label`, `runs` (per seed: `seed`, and the
    `NoisyRun.accuracies` of its `clean` and its `noisy` run) and `sweep` (the accuracies of the first
    seed at each rate of `config.sweep`). deviations.npz: the noisy runs' `NoisyRun.deviations`,
    read back with `recorded_deviations`."""
    root = Path(root or default_root())

    def compute(out: Path) -> dict:
        procedures = {p.kind: {"label": p.label, "runs": [], "sweep": []} for p in config.procedures}
        arrays = {}
        jobs = [(p, s) for p in config.procedures for s in config.seeds]
        for p, s in progress(jobs, "noisy runs", "seed"):
            clean = run(p, config.data, 0.0, s, root).accuracies()
            noisy = run(p, config.data, config.eta, s, root, config.noise)
            procedures[p.kind]["runs"].append({"seed": s, "clean": clean, "noisy": noisy.accuracies()})
            arrays[f"{p.kind}-{s}-deviation"], arrays[f"{p.kind}-{s}-noise"] = noisy.deviations()
        for p in config.procedures:
            procedures[p.kind]["sweep"] = [run(p, config.data, e, config.seeds[0], root, config.noise).accuracies()
                                           for e in config.sweep]
        np.savez(out / "deviations.npz", **arrays)
        return {"dataset": config.data.name, "eta": config.eta, "seeds": list(config.seeds),
                "procedures": procedures}

    return cached_run(root, "noisy", config, compute, force=force)


def recorded_deviations(record: Record, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (deviation, noise) pairs of the noisy run of procedure `kind` and `seed` that an
    `experiment` record saved (`NoisyRun.deviations`)."""
    with np.load(record.path / "deviations.npz") as saved:
        return saved[f"{kind}-{seed}-deviation"], saved[f"{kind}-{seed}-noise"]


def tier_config(tier: str, dataset: str = "mnist1d", data_dir: str | None = None) -> RRMConfig:
    """The RRM experiment a tier runs on `dataset`. quick (CPU): the MLP backbone 512-512-32 (a
    32-unit representation keeps the probe's description short), SimCLR for 2,000 steps, a probe
    quantized to 4 bits per weight; end-to-end with Adam (lr 1e-3) until it fits, within 50,000
    steps (40% noise took 25,359); mnist1d with 10,000
    training points, η = 0.2, three seeds. full (GPU): ResNet-18 (512 features), SimCLR with crops
    (and, on CIFAR-10, flips and colour jitter) for 20,000 steps, on all the training points of
    CIFAR-10 or Fashion-MNIST, one seed."""
    check(tier)
    if tier == "quick":
        model = ModelConfig("mlp", width=512, depth=2, features=32)
        n_train, n_test = (10_000, 2_000) if dataset == "mnist1d" else (None, None)
        sss = Procedure("sss", model, SSLConfig(train=replace(SSL_TRAIN, max_steps=2000)), ProbeConfig(bits=4))
        e2e = Procedure("e2e", model)
        data = DataConfig(dataset, n_train=n_train, n_test=n_test, data_dir=data_dir)
        return RRMConfig(data, (sss, e2e), eta=0.2, seeds=(0, 1, 2))
    model = ModelConfig("resnet18")  # full
    ssl = SSLConfig(train=replace(SSL_TRAIN, max_steps=20_000, batch_size=512), flip=dataset == "cifar10",
                    color=0.4 if dataset == "cifar10" else 0.0, temperature=0.5, projection_dim=128)
    sss = Procedure("sss", model, ssl, ProbeConfig(bits=4))
    e2e = Procedure("e2e", model, train=TrainConfig(lr=0.05, momentum=0.9, weight_decay=5e-4, lr_decay=0.97,
                                                    batch_size=256, max_steps=50_000))
    return RRMConfig(DataConfig(dataset, data_dir=data_dir), (sss, e2e), eta=0.2, seeds=(0,))
