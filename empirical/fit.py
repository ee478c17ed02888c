"""The unit experiment: fit a named model to a named (possibly corrupted) data set, and record it.

`fit(FitConfig) -> Record` loads the data, applies the corruption, builds the model, trains it
with the one loop (`empirical.train`), or with its user's own function (`FitConfig.trainer`,
`empirical.trainers`), and writes the run directory: `config.json`, `metrics.jsonl` (one row per
evaluation), `summary.json`, `learning_curve.png` (the loop's runs) and `model.pt`.
The second call with the same config returns the first call's record (the cache); experiment
families (randomization, bounds, ...) are sweeps over this unit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from empirical import data as datasets
from empirical.corruptions import Corrupted, corrupt
from empirical.models import ModelConfig, build, count_parameters
from empirical.records import Record, cached_run, default_root, from_jsonable, load_state, save_figure, write_jsonl
from empirical.train import TrainConfig, TrainResult, train
from empirical.trainers import train_by


@dataclass(frozen=True)
class DataConfig:
    """A named data set cut to `n_train`/`n_test` (None: all). `seed` picks the subset and is
    kept apart from the run's seed, so that seeds of a run share one data set."""

    name: str = "digits"
    n_train: int | None = None
    n_test: int | None = None
    seed: int = 0
    data_dir: str | None = field(default=None, metadata={"identity": False})

    def load(self) -> datasets.Dataset:
        return datasets.load(self.name, n_train=self.n_train, n_test=self.n_test, seed=self.seed,
                             data_dir=self.data_dir)


@dataclass(frozen=True)
class FitConfig:
    """One training run. `corruption` is a kind of `empirical.corruptions.corrupt` ("true",
    "labels:0.4", "random-labels", "shuffled-pixels", "random-pixels", "gaussian"); `seed` seeds
    the corruption, the initialisation and the minibatch order. `trainer`: the name of its user's
    own training function (`empirical.trainers.add_trainer`), which then trains the model in place
    of the loop, and `train` stays at its default (nothing reads it)."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    corruption: str = "true"
    seed: int = 0
    trainer: str | None = None

    def __post_init__(self):
        if self.trainer is not None and self.train != TrainConfig():
            raise ValueError(f"a run trained by your own function ({self.trainer}) takes no TrainConfig: leave train "
                             f"at its default")


def train_as(config: FitConfig, model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], seed: int,
             evals: dict[str, tuple[torch.Tensor, torch.Tensor]], progress: bool | None = None) -> TrainResult:
    """Train `model` on `data` as `config` says: with the loop and `config.train`, or with its
    user's `config.trainer` (`empirical.trainers.train_by`)."""
    if config.trainer is not None:
        return train_by(config.trainer, model, data, seed, evals)
    train_config = config.train if progress is None else replace(config.train, progress=progress)
    return train(model, data, train_config, seed=seed, evals=evals)


def corrupted_data(config: FitConfig) -> Corrupted:
    """The training data the run saw (deterministic in the config, so a record need not store it)."""
    return corrupt(config.data.load(), config.corruption, seed=config.seed)


def fit(config: FitConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """Train (or take from the cache under `root`) the run `config`; returns its record.

    summary.json keys: train_acc, train_loss, test_acc, test_loss (last evaluation; accuracy on
    the labels the run trained on, test labels are never corrupted), train_error, test_error,
    gap (test_error - train_error), steps, epochs, fitted, steps_to_fit, epochs_to_fit, wall_s,
    n_params, n_train, n_test, num_classes, input_shape, corrupted_fraction, device.
    """

    def compute(out: Path) -> dict:
        corrupted = corrupted_data(config)
        ds = corrupted.data
        model = build(config.model, ds.input_shape, ds.num_classes, seed=config.seed)
        result = train_as(config, model, (ds.x_train, ds.y_train), config.seed,
                          {"train": (ds.x_train, ds.y_train), "test": (ds.x_test, ds.y_test)})
        write_jsonl(out / "metrics.jsonl", result.history)
        torch.save(model.state_dict(), out / "model.pt")
        if config.trainer is None:
            save_figure(learning_curve(result.history, f"{config.model.name} on {ds.name} ({config.corruption})"),
                        out / "learning_curve.png")
        summary = result.summary()
        summary.update(
            train_error=1 - summary["train_acc"], test_error=1 - summary["test_acc"],
            gap=summary["train_acc"] - summary["test_acc"], n_params=count_parameters(model),
            n_train=ds.n_train, n_test=ds.n_test, num_classes=ds.num_classes, input_shape=list(ds.input_shape),
            corrupted_fraction=corrupted.mask.float().mean().item(),
            device=str(next(model.parameters()).device),
        )
        return summary

    return cached_run(root or default_root(), "fit", config, compute, force=force)


def load_model(record: Record, config: FitConfig, device: str = "cpu") -> nn.Module:
    """The trained network of a `fit` record, rebuilt from `config` and its saved weights; a
    `RecordError` naming the file and the fix if `model.pt` is missing, empty or truncated."""
    s = record.summary
    model = build(config.model, tuple(s["input_shape"]), s["num_classes"], seed=config.seed)
    model.load_state_dict(load_state(record, "model.pt", device))
    return model.to(device).eval()


def load_run(path: str | os.PathLike, device: str = "cpu") -> tuple[FitConfig, nn.Module, Record]:
    """A `fit` record reloaded in any session: its `FitConfig` rebuilt from `config.json`, its
    trained network from `model.pt` (on `device`), and the record itself.

        config, model, record = load_run("~/.cache/genproof/runs/fit-0123456789ab")
    """
    record = Record.load(Path(path).expanduser())
    if record.config.get("name") != "fit":
        raise ValueError(f"{record.path} is a {record.config.get('name')!r} record, not a fit run")
    saved = record.config["config"]
    if str(saved.get("train", {}).get("device", "")).startswith("cuda") and not torch.cuda.is_available():
        # trained on a GPU, read without one: the config says cpu (and so hashes apart from the record)
        saved = {**saved, "train": {**saved["train"], "device": "cpu"}}
    config = from_jsonable(FitConfig, saved)
    return config, load_model(record, config, device), record


def learning_curve(history, title: str):
    """Training and test loss and error against steps (one row of `metrics.jsonl` per point)."""
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in history]
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(9, 3.4))
    for split in ("train", "test"):
        ax_loss.plot(steps, [r[f"{split}_loss"] for r in history], label=split)
        ax_err.plot(steps, [1 - r[f"{split}_acc"] for r in history], label=split)
    ax_loss.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="loss")
    ax_err.set(xlabel="step", ylabel="error", ylim=(0, 1), title="error")
    ax_err.legend()
    fig.suptitle(title)
    return fig
