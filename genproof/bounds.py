"""`python -m genproof.bounds`: train (or take from the cache) a network, measure its train and
test error, and report what is known about its generalization gap.

This is the user's main command. It writes `<out>/bounds-<hash>/` with `config.json`,
`bounds.json`, `bounds.md` and `bounds.png`; the training run it reads is the cached
`<out>/fit-<hash>/` of `empirical.fit`. The bound rows (Rademacher, VC, norm-based, PAC-Bayes,
stability) are evaluated on the same trained network (`genproof.trained.TrainedNetwork`); each
row gives an upper bound on the test error, the gap it implies, and whether it is vacuous.

With `--sss` the report adds bansal2021's RRM decomposition and Theorem II bounds for a
self-supervised + simple procedure and the end-to-end one on the same data (`genproof.rrm`, its
run cached as `<out>/rrm-<hash>/`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from empirical.data import NAMES as DATASETS
from tqdm.auto import tqdm

from empirical.fit import DataConfig, FitConfig
from empirical.models import NAMES as MODELS
from empirical.models import ModelConfig
from empirical.records import config_hash, save_figure, write_json, write_text, versions
from empirical.train import TrainConfig

from .claims import TIERS
from .report import markdown_table
from .trained import TrainedNetwork


def tier_defaults(tier: str, dataset: str) -> tuple[ModelConfig, TrainConfig]:
    """The network and training a data set gets at a tier unless --model says otherwise.
    quick: the paper's 1x512 MLP on the CPU, SGD with momentum (lr 0.01 on CIFAR-10, as zhang2017
    uses for its MLPs); full: ResNet-18 with augmentation and weight decay on the image data sets."""
    if tier == "full" and dataset in ("cifar10", "fashion-mnist"):
        return ModelConfig("resnet18"), TrainConfig(lr=0.05, momentum=0.9, weight_decay=5e-4, lr_decay=0.97,
                                                    batch_size=256, max_steps=50_000, augment="crop+flip")
    lr = 0.01 if dataset == "cifar10" else 0.1
    return ModelConfig("mlp"), TrainConfig(lr=lr, momentum=0.9, batch_size=128, max_steps=20_000)


@dataclass(frozen=True)
class BoundsConfig:
    """The trained network the bounds are evaluated on, the bounds' confidence 1 - delta, and
    `sss`: the tier at which to add bansal2021's RRM experiment on the same data (SSS and
    end-to-end, `genproof.rrm.tier_config`), or None."""

    fit: FitConfig
    delta: float = 0.05
    sss: str | None = None


def config_from_args(args: argparse.Namespace) -> BoundsConfig:
    model, train = tier_defaults(args.tier, args.dataset)
    if args.model:
        model = replace(model, name=args.model)
    train = replace(train, device=args.device)
    data = DataConfig(args.dataset, n_train=args.n_train, n_test=args.n_test, data_dir=args.data_dir)
    return BoundsConfig(FitConfig(data, model, train, "true", args.seed), args.delta, args.tier if args.sss else None)


def bound_providers() -> list:
    """Every bound module's `bound_rows(net, delta) -> list[Bound]`, in the order of the table."""
    from . import norms, pac_bayes, rademacher, stability, vc

    return [vc.bound_rows, rademacher.bound_rows, norms.bound_rows, pac_bayes.bound_rows, stability.bound_rows]


def evaluate(config: BoundsConfig, out: Path, force: bool = False) -> dict:
    """Train or load the network, evaluate every bound on it; returns the `bounds.json` content.
    Every bound row's `value` is an upper bound on the test error (a bound on the gap plus the
    training error); `implied_gap` = value - train error is compared with the measured gap."""
    net = TrainedNetwork.load(config.fit, out, force=force)
    s = net.summary
    measured = {
        "train_error": s["train_error"], "test_error": s["test_error"], "gap": s["test_error"] - s["train_error"],
        "n_params": s["n_params"], "n_train": s["n_train"], "n_test": s["n_test"],
        "params_per_example": s["n_params"] / s["n_train"], "steps": s["steps"], "epochs": s["epochs"],
        "fitted": s["fitted"], "train_wall_s": s["wall_s"],
    }
    rows = []
    for provider in tqdm(bound_providers(), desc="bounds", unit="family", disable=None):
        for b in provider(net, config.delta):
            is_bound = not b.bounds.startswith("measure")  # a measure without constants bounds nothing
            implied = b.value - s["train_error"] if is_bound else None
            rows.append({"name": b.name, "source": b.source, "value": b.value, "bounds": b.bounds,
                         "implied_gap": implied, "vacuous": b.value >= 1 if is_bound else None,
                         "ratio_to_gap": implied / measured["gap"] if is_bound and measured["gap"] > 0 else None,
                         "detail": b.detail})
    result = {"dataset": config.fit.data.name, "model": config.fit.model.name, "delta": config.delta,
              "fit_run": str(net.record.path), "measured": measured, "bounds": rows}
    if config.sss:
        from . import rrm

        record = rrm.run(rrm.tier_config(config.sss, config.fit.data.name, config.fit.data.data_dir), out)
        result["rrm"] = dict(record.summary, run=str(record.path))
    return result


def report_markdown(result: dict) -> str:
    m = result["measured"]
    rows = [
        ["train error", m["train_error"]], ["test error", m["test_error"]],
        ["generalization gap (test error - train error)", m["gap"]],
        ["parameters", m["n_params"]], ["training examples", m["n_train"]], ["test examples", m["n_test"]],
        ["parameters per training example", m["params_per_example"]],
        ["steps (epochs)", f"{m['steps']} ({m['epochs']:.1f})"],
        ["fitted the training set", "yes" if m["fitted"] else "no"],
    ]
    text = f"# Generalization of `{result['model']}` on `{result['dataset']}`\n\n" + markdown_table(["quantity", "value"], rows)
    bound_rows = [[b["name"], b["source"], b["bounds"], b["value"],
                   "n/a" if b["implied_gap"] is None else b["implied_gap"], m["gap"],
                   {True: "yes", False: "no", None: "n/a"}[b["vacuous"]],
                   "n/a" if b["ratio_to_gap"] is None else b["ratio_to_gap"]] for b in result["bounds"]]
    text += f"\n## Bounds (confidence 1 - delta = {1 - result['delta']:g})\n\n"
    text += markdown_table(["bound", "source", "bounds", "value", "implied gap", "measured gap", "vacuous",
                            "implied / measured gap"], bound_rows)
    text += f"\nTraining run: `{result['fit_run']}`\n"
    if "rrm" in result:
        from .rrm import markdown

        text += "\n" + markdown(result["rrm"]) + f"\nRRM run: `{result['rrm']['run']}`\n"
    return text


def figure(result: dict):
    """Measured errors and every bound on one log axis, with the vacuity line at 1."""
    import matplotlib.pyplot as plt

    m = result["measured"]
    bounds = [b for b in result["bounds"] if b["vacuous"] is not None]  # measures have no scale to share
    names = ["train error", "test error", "gap"] + [b["name"] for b in bounds]
    values = [m["train_error"], m["test_error"], m["gap"]] + [b["value"] for b in bounds]
    floor = 1e-4  # a zero error is drawn at the floor of the log axis
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 4))
    bars = ax.bar(names, [max(v, floor) for v in values], color=["C0", "C1", "C2"] + ["C3"] * len(bounds))
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=2)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="vacuous above 1")
    ax.set(yscale="log", ylim=(floor, max(10.0, max(values) * 2)), ylabel="error / bound",
           title=f"{result['model']} on {result['dataset']}")
    ax.tick_params(axis="x", labelrotation=30)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.legend()
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genproof.bounds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--model", choices=MODELS, help="default: the tier's network for the data set")
    parser.add_argument("--n-train", type=int, help="training examples (default: all)")
    parser.add_argument("--n-test", type=int, help="test examples (default: all)")
    parser.add_argument("--data-dir", help="where the data set's files are (else $GENPROOF_DATA, system folders, download)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delta", type=float, default=0.05, help="confidence parameter of the bounds (default 0.05)")
    parser.add_argument("--tier", choices=TIERS, default="quick")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="folder for the run directories (default runs/)")
    parser.add_argument("--force", action="store_true", help="train again even if the cache has this run")
    parser.add_argument("--sss", action="store_true",
                        help="add the RRM rows of bansal2021: SSS and end-to-end on the same data, clean and noisy")
    args = parser.parse_args(argv)
    if not 0 < args.delta < 1:
        parser.error(f"--delta must be in (0, 1), got {args.delta}")

    from empirical.data import DataNotFoundError

    config = config_from_args(args)
    try:
        result = evaluate(config, args.out, force=args.force)
    except DataNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run = args.out / f"bounds-{config_hash(config)}"
    write_json(run / "config.json", {"name": "bounds", "hash": config_hash(config), "config": config,
                                     "versions": versions()})
    write_json(run / "bounds.json", result)
    md = report_markdown(result)
    write_text(run / "bounds.md", md)
    save_figure(figure(result), run / "bounds.png")
    print(md)
    print(f"written: {run}/bounds.md, bounds.json, bounds.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
