"""Claims of zhang2017: Zhang, Bengio, Hardt, Recht, Vinyals, "Understanding deep learning
requires rethinking generalization", ICLR 2017."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from empirical.fit import DataConfig, FitConfig, fit
from empirical.models import ModelConfig
from empirical.train import TrainConfig

from . import Claim, register


@dataclass(frozen=True)
class PairedFit:
    """The same network and training trained once per seed on true labels and once on a
    corruption of them."""

    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    corruption: str = "random-labels"
    seeds: tuple[int, ...] = (0, 1, 2)


def fit_true_and_corrupted(setting: PairedFit, root: Path) -> tuple[list[dict], list[dict]]:
    """Summaries of the runs on true labels and on `setting.corruption`, one per seed (cached)."""
    runs = {kind: [fit(FitConfig(setting.data, setting.model, setting.train, kind, seed), root).summary
                   for seed in setting.seeds]
            for kind in ("true", setting.corruption)}
    return runs["true"], runs[setting.corruption]


def _measure_random_labels(setting: PairedFit, root: Path) -> dict:
    true, rand = fit_true_and_corrupted(setting, root)
    chance = 1 / rand[0]["num_classes"]
    fitted = [r["epochs_to_fit"] for r in rand if r["fitted"]]
    true_fitted = [r["epochs_to_fit"] for r in true if r["fitted"]]
    return {
        "train_acc_random": [r["train_acc"] for r in rand],
        "test_acc_random": [r["test_acc"] for r in rand],
        "chance": chance,
        "max_dev_from_chance": max(abs(r["test_acc"] - chance) for r in rand),
        "epochs_to_fit_random": [r["epochs_to_fit"] for r in rand],
        "epochs_to_fit_true": [r["epochs_to_fit"] for r in true],
        "fit_time_factor": (statistics.mean(fitted) / statistics.mean(true_fitted)
                            if fitted and true_fitted else None),
        "test_acc_true": [r["test_acc"] for r in true],
        "n_train": rand[0]["n_train"],
        "n_test": rand[0]["n_test"],
        "n_params": rand[0]["n_params"],
    }


def _random_labels_hold(m: dict, tol) -> bool:
    return (min(m["train_acc_random"]) >= 1 - tol["train_acc_shortfall"]
            and m["max_dev_from_chance"] <= tol["chance_margin"])


random_labels = register(Claim(
    id="zhang2017.random-labels",
    source="zhang2017, Section 2 (Fitting random labels and pixels), Figure 1a, Table 1",
    statement=("A network trained with SGD on data whose labels are replaced by uniformly random ones "
               "reaches 100% training accuracy, while its test accuracy stays at chance."),
    settings={
        # CPU, seconds: all 1,437 training digits, the paper's 1x512 MLP, SGD with momentum.
        "quick": PairedFit(DataConfig("digits"), ModelConfig("mlp", width=512, depth=1),
                           TrainConfig(lr=0.1, momentum=0.9, batch_size=128, max_steps=20_000)),
        # The paper's setting on a GPU: Inception on CIFAR-10, lr 0.1 decayed by 0.95 per epoch.
        "full": PairedFit(DataConfig("cifar10"), ModelConfig("inception-small"),
                          TrainConfig(lr=0.1, momentum=0.9, lr_decay=0.95, batch_size=128, max_steps=200_000),
                          seeds=(0,)),
    },
    tolerances={
        # Every seed must fit the random labels exactly: the claim is 100% training accuracy.
        "train_acc_shortfall": 0.0,
        # |test accuracy - 1/num_classes| on every seed. A classifier independent of the test labels
        # has accuracy ~ Binomial(n_test, 1/10)/n_test: on the 360 test digits one standard error is
        # sqrt(0.1 * 0.9 / 360) = 0.016, so 0.05 is three standard errors.
        "chance_margin": 0.05,
    },
    measure=_measure_random_labels,
    holds=_random_labels_hold,
))
