"""zhang2017's randomization tests (Section 2, Figure 1, Tables 1 and 2): the same network and
training, run on true data and on randomized versions of it, each until 100% training accuracy
or the step budget.

Kinds (see `empirical.corruptions.corrupt`): `true`, `labels:ETA` (a fraction ETA of the labels
moved to another class), `labels-all:ETA` (redrawn uniformly over all classes, as the paper does),
`random-labels`, `shuffled-pixels` (one permutation for all images), `random-pixels` (a
permutation per image) and `gaussian` (inputs replaced by Gaussian noise of the data's mean and
variance). Regularizers (weight decay, dropout, augmentation) are switched on or off for the
ablation of Section 3 / Table 1.

    python -m empirical.randomization --dataset digits --model mlp --seeds 0,1,2 \\
        --kinds true,labels:0.5,random-labels,shuffled-pixels,random-pixels,gaussian --out DIR

Each (kind, seed) is one cached `empirical.fit` run; the sweep writes
`DIR/randomization-<hash>/` with `summary.json` (per kind and seed: train_acc, test_acc,
steps_to_fit (null if the budget ran out), epochs_to_fit, wall_s, fitted, steps, run) and the
three panels of Figure 1: `fig1a_loss.png` (training loss against steps, every kind),
`fig1b_fit_time.png` (steps to fit against the label-corruption rate, relative to true labels)
and `fig1c_errors.png` (test and train error against the corruption rate).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path


from empirical import cli, trackers
from empirical.corruptions import parse_kind
from empirical.data import DATASETS
from empirical.fit import DataConfig, FitConfig, fit
from empirical.models import MODELS, ModelConfig, parse_spec
from empirical.progress import progress
from empirical.records import Record, cached_run, default_root, save_figure
from empirical.tiers import check
from empirical.train import TrainConfig


@dataclass(frozen=True)
class Regularizers:
    """The explicit regularizers of zhang2017 Section 3, each off by default. Switched on (`ON`)
    they take one value for every model: weight decay 5e-4, dropout 0.5 (after every hidden
    layer of an MLP, before the head of a convolutional network), and random crops (Table 1's
    augmentation; shifts by up to 1/8 of each side)."""

    weight_decay: float = 0.0
    dropout: float = 0.0
    augment: str = "none"

    ON = {"wd": ("weight_decay", 5e-4), "dropout": ("dropout", 0.5), "aug": ("augment", "crop")}

    @classmethod
    def parse(cls, text: str) -> "Regularizers":
        """`none`, or a comma list of `wd`, `dropout`, `aug` to switch on."""
        names = [] if text in ("", "none") else text.split(",")
        unknown = [n for n in names if n not in cls.ON]
        if unknown:
            raise ValueError(f"unknown regularizer(s) {unknown}; use 'none' or a comma list of {', '.join(cls.ON)}")
        return cls(**dict(cls.ON[n] for n in names))

    def apply(self, model: ModelConfig, train: TrainConfig) -> tuple[ModelConfig, TrainConfig]:
        return (replace(model, dropout=self.dropout),
                replace(train, weight_decay=self.weight_decay, augment=self.augment))


@dataclass(frozen=True)
class RandomizationConfig:
    """A sweep: every kind, every seed, with one network, training and set of regularizers.
    `trainer`: its user's own training function (`empirical.fit.FitConfig.trainer`) in place of
    the loop and `train`; the regularizers are then the function's business."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig(lr=0.1, momentum=0.9, batch_size=128, max_steps=20_000)
    kinds: tuple[str, ...] = ("true", "random-labels")
    seeds: tuple[int, ...] = (0,)
    regularizers: Regularizers = Regularizers()
    trainer: str | None = None

    def __post_init__(self):
        if self.trainer is not None and self.regularizers != Regularizers():
            raise ValueError(f"regularizers act through genproof's loop; your training function ({self.trainer}) "
                             f"applies its own")

    def fit_config(self, kind: str, seed: int) -> FitConfig:
        if self.trainer is not None:
            return FitConfig(self.data, self.model, TrainConfig(), kind, seed, self.trainer)
        model, train = self.regularizers.apply(self.model, self.train)
        return FitConfig(self.data, model, train, kind, seed)


def corruption_rate(kind: str) -> float | None:
    """The label-corruption rate a kind stands for on Figure 1b/c's axis: 0 for true labels, ETA
    for `labels:ETA` and `labels-all:ETA`, 1 for random labels; None for input corruptions."""
    name, eta = parse_kind(kind)
    return {"true": 0.0, "random-labels": 1.0}.get(name, eta)


def run(config: RandomizationConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """Train every (kind, seed) of the sweep (each cached as an `empirical.fit` run under `root`),
    then write the sweep's summary and figures; returns its record."""
    root = Path(root or default_root())

    def compute(out: Path) -> dict:
        results: dict[str, dict[str, dict]] = {}
        curves: dict[str, list[dict]] = {}
        pairs = [(k, s) for k in config.kinds for s in config.seeds]
        for kind, seed in progress(pairs, "randomization", "run"):
            rec = fit(config.fit_config(kind, seed), root, force=force)
            s = rec.summary
            results.setdefault(kind, {})[str(seed)] = {
                "train_acc": s["train_acc"], "test_acc": s["test_acc"], "steps_to_fit": s["steps_to_fit"],
                "epochs_to_fit": s["epochs_to_fit"], "wall_s": s["wall_s"], "fitted": s["fitted"],
                "steps": s["steps"], "train_loss": s["train_loss"], "run": str(rec.path),
            }
            if seed == config.seeds[0]:
                curves[kind] = rec.metrics()
        summary = {"dataset": config.data.name, "model": config.model.name, "n_train": s["n_train"],
                   "n_test": s["n_test"], "num_classes": s["num_classes"], "n_params": s["n_params"],
                   "results": results}
        save_figure(figure_loss(curves, summary), out / "fig1a_loss.png")
        if sum(corruption_rate(k) is not None for k in config.kinds) >= 2:
            save_figure(figure_fit_time(summary), out / "fig1b_fit_time.png")
            save_figure(figure_errors(summary), out / "fig1c_errors.png")
        return summary

    return cached_run(root, "randomization", config, compute, force=force)


def per_kind(summary: dict, key: str) -> dict[str, list]:
    """`key` (train_acc, test_acc, steps_to_fit, ...) of every seed, by kind."""
    return {kind: [r[key] for r in seeds.values()] for kind, seeds in summary["results"].items()}


def _title(summary: dict) -> str:
    return f"{summary['model']} on {summary['dataset']} (n = {summary['n_train']})"


def figure_loss(curves: dict[str, list[dict]], summary: dict):
    """Figure 1a: average training loss against steps, one line per kind (first seed)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for kind, rows in curves.items():
        ax.plot([r["step"] for r in rows], [r["train_loss"] for r in rows], label=kind)
    ax.set(xlabel="steps", ylabel="average training loss", yscale="log",
           title=f"(a) learning curves: {_title(summary)}")
    ax.legend(fontsize=8)
    return fig


def _rate_points(summary: dict, key: str) -> tuple[list[float], list[list]]:
    values = per_kind(summary, key)
    pts = sorted((corruption_rate(k), v) for k, v in values.items() if corruption_rate(k) is not None)
    return [p[0] for p in pts], [p[1] for p in pts]


def figure_fit_time(summary: dict):
    """Figure 1b: steps to fit against the label-corruption rate, relative to true labels
    (mean over seeds, with each seed as a dot; runs that did not fit are left out)."""
    import matplotlib.pyplot as plt

    rates, steps = _rate_points(summary, "steps_to_fit")
    true = [s for s in per_kind(summary, "steps_to_fit").get("true", []) if s]
    base = statistics.mean(true) if true else None
    fig, ax = plt.subplots(figsize=(5, 4))
    for rate, seeds in zip(rates, steps):
        fitted = [s for s in seeds if s is not None]
        if fitted:
            ax.scatter([rate] * len(fitted), [s / base if base else s for s in fitted], color="C0", s=12, alpha=0.6)
    means = [(r, statistics.mean([s for s in seeds if s])) for r, seeds in zip(rates, steps) if any(seeds)]
    ax.plot([m[0] for m in means], [m[1] / base if base else m[1] for m in means], "o-", color="C0")
    ax.set(xlabel="label corruption rate", ylabel="steps to fit / steps on true labels" if base else "steps to fit",
           title=f"(b) convergence slowdown: {_title(summary)}")
    return fig


def figure_errors(summary: dict):
    """Figure 1c: test error (and train error beside it) against the label-corruption rate."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for key, label, color in (("test_acc", "test error", "C1"), ("train_acc", "train error", "C0")):
        rates, accs = _rate_points(summary, key)
        errs = [[1 - a for a in seeds] for seeds in accs]
        ax.errorbar(rates, [statistics.mean(e) for e in errs],
                    yerr=[statistics.pstdev(e) for e in errs], fmt="o-", color=color, label=label, capsize=3)
    ax.axhline(1 - 1 / summary["num_classes"], color="k", lw=0.8, ls="--", label="chance")
    ax.set(xlabel="label corruption rate", ylabel="error", ylim=(-0.02, 1), title="(c) generalization error growth")
    ax.legend(fontsize=8)
    return fig


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    try:
        for k in kinds:
            parse_kind(k)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return kinds


def tier_config(tier: str, data: DataConfig, model: ModelConfig, kinds: tuple[str, ...] = ("true", "random-labels"),
                seeds: tuple[int, ...] = (0,), regularizers: Regularizers = Regularizers()) -> RandomizationConfig:
    """The randomization tests at a tier. quick (CPU): SGD with momentum 0.9, batch 128, lr 0.1 (0.01
    for the MLP on CIFAR-10, as zhang2017 trains its MLPs), a budget of 20,000 steps; full: a budget
    of 200,000 steps, the learning rate decayed by 0.95 per epoch (zhang2017's schedule)."""
    quick = check(tier) == "quick"
    lr = 0.01 if model.name == "mlp" and data.name == "cifar10" else 0.1
    train = TrainConfig(lr=lr, momentum=0.9, batch_size=128, max_steps=20_000 if quick else 200_000,
                        lr_decay=1.0 if quick else 0.95)
    return RandomizationConfig(data=data, model=model, train=train, kinds=kinds, seeds=seeds, regularizers=regularizers)


def main(argv: list[str] | None = None) -> int:
    parser = cli.new_parser("python -m empirical.randomization", __doc__.split("\n\n")[0],
                            epilog=cli.listing({"data sets (--dataset)": DATASETS, "models (--model)": MODELS}))
    cli.add_data_options(parser)
    cli.add_model_option(parser, "mlp")
    parser.add_argument("--kinds", type=_kinds, default=("true", "random-labels"),
                        help="comma list: true, labels:ETA, labels-all:ETA, random-labels, shuffled-pixels, random-pixels, gaussian")
    parser.add_argument("--regularizers", type=Regularizers.parse, default=Regularizers(),
                        help="none (default) or a comma list of wd, dropout, aug to switch on")
    cli.add_tier_option(parser, help="quick: CPU step budget 20k, lr 0.1; full: budget 200k, lr 0.1 decayed 0.95 per epoch")
    cli.add_seeds_option(parser)
    parser.add_argument("--lr", type=cli.positive_float, help="learning rate (default by tier: 0.1; 0.01 for mlp on cifar10)")
    cli.add_max_steps_option(parser)
    cli.add_device_option(parser)
    cli.add_out_option(parser)
    cli.add_log_option(parser)
    cli.add_force_option(parser, help="train again even where the record root has the run")
    args = parser.parse_args(argv)

    def command() -> int:
        config = tier_config(args.tier, DataConfig(args.dataset, n_train=args.n_train, n_test=args.n_test,
                                                   data_dir=args.data_dir),
                             parse_spec(args.model), args.kinds, args.seeds,
                             args.regularizers)
        train = replace(config.train, device=args.device, **{k: v for k in ("lr", "max_steps")
                                                             if (v := getattr(args, k)) is not None})
        config = replace(config, train=train)
        record = run(config, args.out, force=args.force)
        print(table(record.summary))
        print(cli.where(record))
        cli.log_entries(args, [trackers.from_record(record)])
        return 0

    return cli.run_command(command)


def table(summary: dict) -> str:
    """The sweep as a markdown table: one row per kind, means over seeds."""
    lines = [f"{_title(summary)}, {summary['n_params']:,} parameters",
             "| kind | train acc | test acc | steps to fit | epochs to fit | fitted | wall s |",
             "|---|---|---|---|---|---|---|"]
    for kind, seeds in summary["results"].items():
        rows = list(seeds.values())
        fitted = [r for r in rows if r["fitted"]]
        mean = lambda key, rs: statistics.mean(r[key] for r in rs) if rs else float("nan")  # noqa: E731
        lines.append(f"| {kind} | {mean('train_acc', rows):.4f} | {mean('test_acc', rows):.4f} | "
                     f"{mean('steps_to_fit', fitted):.0f} | {mean('epochs_to_fit', fitted):.1f} | "
                     f"{len(fitted)}/{len(rows)} | {mean('wall_s', rows):.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
