"""The Deep Bootstrap experiment of nakkiran2021 (Nakkiran, Neyshabur, Sedghi, ICLR 2021,
arXiv 2010.08127): the Real World and the Ideal World, from one config that differs only in the
batch source.

- Real World (N, T): T minibatch SGD steps on N samples, reused epoch after epoch;
- Ideal World (T): the same model, initialization, optimizer, schedule and batch size, but every
  minibatch is fresh (`empirical.worlds`): no example is seen twice.
Both are evaluated on one log-spaced grid of steps (`empirical.worlds.eval_grid`): test error and
test soft-error (1 - mean softmax probability of the true label, the authors' `test_all`), and
the real world's train loss, error and soft-error on its N samples as drawn (`train_*`) and, when
the run augments, on a fresh augmentation of them at each evaluation (`augmented_train_*`: what the
authors' train metrics measure, on their augmented training loader). The stopping time, the
bootstrap error and the rankings are formulas of these curves (`genproof.bootstrap`).

`run(WorldRun) -> Record` is one world of one model and trial (cached as `world-<hash>/`);
`experiment(BootstrapConfig) -> Record` runs both worlds of every model and seed and records their
curves (rebuilt from the world records on every call as `deep-bootstrap-<hash>/`, summary.json: `dataset`,
`n_train`, `steps`, `batch_size`, `augment`, `models`: per model label, its `config` and per seed
`runs`: `steps` and the curves `real_test_error`, `real_test_soft_error`, `real_train_loss`,
`real_train_error`, `real_train_soft_error` (with augmentation also `real_augmented_train_loss`,
`real_augmented_train_error`, `real_augmented_train_soft_error`), `ideal_test_error`,
`ideal_test_soft_error`). `tier_config` holds the tiers' presets.

The defaults are the authors' sweep (preetum/deep-bootstrap-code, inftrain/sample_sweep.json):
plain SGD, lr 0.1, no momentum, no weight decay, cosine schedule (`TrainConfig.lr_schedule`), batch 128.
Where genproof differs from their code: docs/sources/nakkiran2021.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path


from empirical.models import ModelConfig, build
from empirical.progress import progress
from empirical.records import Record, cached_run, default_root, write_jsonl
from empirical.tiers import TIERS
from empirical.train import TrainConfig, resolve_device, train
from empirical.worlds import WorldsData, augmented_real, draw, eval_grid, ideal_stream, real_source

WORLDS = ("real", "ideal")
PAPER_TRAIN = TrainConfig(optimizer="sgd", lr_schedule="cosine", lr=0.1, momentum=0.0, weight_decay=0.0, batch_size=128,
                          max_steps=39_000, stop_at_fit=False, soft_error=True, eval_at=eval_grid(39_000, 80))


def label(model: ModelConfig) -> str:
    """A model's name in tables and legends: "mlp 3x128", "cnn 16", "resnet18"."""
    if model.name == "mlp":
        return f"mlp {model.depth}x{model.width}"
    if model.name == "cnn":
        return f"cnn {model.channels}"
    return model.name


@dataclass(frozen=True)
class WorldRun:
    """One world of one model and trial: `world` "real" or "ideal"; `train` sets steps (T), batch
    (B), schedule, augmentation and the evaluation grid; `seed` seeds the data draw (the same for
    both worlds), the initialization (the same for both worlds) and the batch order."""

    world: str
    data: WorldsData
    model: ModelConfig
    train: TrainConfig
    seed: int = 0
    # derived, not chosen: a real world that augments is also evaluated on augmented samples. It is
    # part of the identity so that a record made before that evaluation existed is not taken for one.
    augmented_train: bool = False

    def __post_init__(self):
        if self.world not in WORLDS:
            raise ValueError(f"world must be one of {WORLDS}, got {self.world!r}")
        object.__setattr__(self, "augmented_train", self.world == "real" and self.train.augment != "none")
        if self.train.stop_at_fit or not self.train.soft_error or self.train.eval_at is None:
            raise ValueError("both worlds run all T steps and record soft-errors on a grid: use a TrainConfig with "
                             "stop_at_fit=False, soft_error=True and eval_at=eval_grid(max_steps)")


def run(config: WorldRun, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """Train (or take from the cache under `root`) one world; metrics.jsonl holds its evaluations."""

    def compute(out: Path) -> dict:
        t = config.train
        worlds = draw(config.data, t.max_steps * t.batch_size, config.seed)
        device = resolve_device(t.device)
        source = (real_source if config.world == "real" else ideal_stream)(worlds, t.batch_size, t.augment,
                                                                           config.seed, device)
        evals = {"test": worlds.test, **({"train": worlds.real} if config.world == "real" else {})}
        probes = {"augmented_train": augmented_real(worlds, t.augment, config.seed, device)} \
            if config.augmented_train else None
        model = build(config.model, worlds.input_shape, worlds.num_classes, seed=config.seed)
        result = train(model, source, t, seed=config.seed, evals=evals, probes=probes)
        write_jsonl(out / "metrics.jsonl", result.history)
        return {**result.summary(), "world": config.world, "model": label(config.model)}

    return cached_run(root or default_root(), "world", config, compute, force=force)


def curves(record: Record) -> dict:
    """A world's curves by name (`test_loss`, `test_error`, `test_soft_error`, and for the real world
    the same of `train` and, when it augments, of `augmented_train`), with their `steps`."""
    rows = record.metrics()
    out = {"steps": [r["step"] for r in rows]}
    for split in ("test", "train", "augmented_train"):
        if f"{split}_acc" in rows[0]:
            out[f"{split}_loss"] = [r[f"{split}_loss"] for r in rows]
            out[f"{split}_error"] = [1 - r[f"{split}_acc"] for r in rows]
            out[f"{split}_soft_error"] = [r[f"{split}_soft_error"] for r in rows]
    return out


@dataclass(frozen=True)
class BootstrapConfig:
    """Both worlds of every model in `models`, for each seed (trial), on `data` with `train`."""

    data: WorldsData = WorldsData()
    models: tuple[ModelConfig, ...] = (ModelConfig("mlp", width=128, depth=3),)
    train: TrainConfig = PAPER_TRAIN
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self):
        if not self.models or not self.seeds:
            raise ValueError("a deep bootstrap experiment needs at least one model and one seed")
        if len({label(m) for m in self.models}) != len(self.models):
            raise ValueError(f"models must differ, got {[label(m) for m in self.models]}")
        WorldRun("real", self.data, self.models[0], self.train)  # checks the TrainConfig once, here

    def runs(self) -> list[WorldRun]:
        """Seed-major, so that one draw of a trial's data serves all its models and both worlds."""
        return [WorldRun(w, self.data, m, self.train, s) for s in self.seeds for m in self.models for w in WORLDS]


def experiment(config: BootstrapConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """Run (or take from the cache under `root`) both worlds of every model and seed, and record
    their curves (module docstring). Only the worlds are cached (`force` trains them again); the
    summary is rebuilt from their records on every call, so it always holds every curve they have."""
    root = Path(root or default_root())

    def compute(out: Path) -> dict:
        found = {}
        for r in progress(config.runs(), "deep bootstrap", "run"):
            found[(label(r.model), r.seed, r.world)] = curves(run(r, root, force))
        models = {}
        for m in config.models:
            runs = []
            for s in config.seeds:
                real, ideal = found[(label(m), s, "real")], found[(label(m), s, "ideal")]
                runs.append({"seed": s, "steps": real["steps"],
                             **{f"real_{k}": v for k, v in real.items() if k != "steps"},
                             **{f"ideal_{k}": v for k, v in ideal.items() if k != "steps"}})
            models[label(m)] = {"config": m, "runs": runs}
        t = config.train
        return {"dataset": config.data.name, "n_train": config.data.n_train, "steps": t.max_steps,
                "batch_size": t.batch_size, "augment": t.augment, "lr": t.lr, "seeds": list(config.seeds),
                "models": models}

    return cached_run(root, "deep-bootstrap", config, compute, force=True)


QUICK_MODELS = (ModelConfig("mlp", width=128, depth=3), ModelConfig("mlp", width=256, depth=3),
                ModelConfig("cnn", channels=16))
FULL_MODELS = (ModelConfig("mlp", width=2048, depth=3), ModelConfig("mlp", width=128, depth=3),
               ModelConfig("cnn", channels=32), ModelConfig("resnet18"))


# (T steps, batch B, N real samples, test examples) per tier; a pool's entry where it must differ
SIZES = {"quick": {"default": (2000, 32, 500, 2000), "fashion-mnist": (1800, 32, 500, 2000)},
         "full": {"default": (39_000, 128, 50_000, None), "fashion-mnist": (390, 128, 10_000, None)}}


def tier_config(tier: str, dataset: str = "mnist1d", augment: str = "none", data_dir: str | None = None,
                models: tuple[ModelConfig, ...] | None = None) -> BootstrapConfig:
    """The experiment a tier runs (`SIZES`). quick (CPU): MLPs 3x128 and 3x256 and a CNN of 16
    channels, 3 seeds; N = 500 real samples, T = 2,000 steps of batch 32 (64,000 fresh samples a
    trial: mnist1d's generator makes about 6,000 a second, and batch 32 keeps that cost down); on
    Fashion-MNIST's pool T = 1,800 (57,600 of the 59,500 images left; at batch 128 the pool allows
    464 steps, too few for the Real World to fit). full (GPU): the authors' sweep, N = 50,000,
    T = 39,000 steps of batch 128 (CIFAR-5m, or a procedural set), the MLPs 3x2048 and 3x128, a
    CNN and ResNet-18, 10 trials; on Fashion-MNIST the pool bounds T*B by 60,000 - N: N = 10,000,
    T = 390."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
    steps, batch, n_train, n_test = SIZES[tier].get(dataset, SIZES[tier]["default"])
    seeds, chosen = ((0, 1, 2), QUICK_MODELS) if tier == "quick" else (tuple(range(10)), FULL_MODELS)
    train_config = replace(PAPER_TRAIN, batch_size=batch, max_steps=steps, augment=augment,
                           eval_at=eval_grid(steps, 40 if tier == "quick" else 80))
    return BootstrapConfig(WorldsData(dataset, n_train, n_test, data_dir), models or chosen, train_config, seeds)
