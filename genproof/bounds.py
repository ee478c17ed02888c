"""`python -m genproof.bounds`: train (or take from the cache) a network, measure its train and
test error, and report what is known about its generalization gap.

This is the user's main command. Its run is a record like every other (`empirical.records`):
`<out>/bounds-<hash>/` with `config.json`, `summary.json` (the measured numbers and every row),
`bounds.md` (the table printed) and `bounds.png`, written as a whole; `<out>` is the record root
(default `empirical.records.default_root()`). The training run it reads is the cached
`<out>/fit-<hash>/` of `empirical.fit`. Every registered bound family
(`genproof.trained.BOUND_FAMILIES`: VC, Rademacher, norm-based, PAC-Bayes, PAC-Bayes by backprop,
stability, compression; `--list` shows them, in the table's order `TABLE_ORDER`) is evaluated on
the same trained network (`genproof.trained.TrainedNetwork`). Every row states its kind
(`genproof.trained.KINDS`): an upper bound on the trained network's test error w.p. 1 - delta, on
a stochastic network's, or in expectation; a lower estimate of a bound (it can show vacuity, never
certify); a measure without constants; or a family whose theorems do
not cover the network, with the reason. The other columns follow from the kind: the errors of
what the row bounds, the gap it implies and its ratio to the measured one, and the vacuity. Rows
hold at their own delta, not simultaneously, unless `--simultaneous` splits delta over them.

With `--sss` the report adds bansal2021's RRM decomposition and Theorem II bounds for a
self-supervised + simple procedure and the end-to-end one on the same data (`genproof.rrm`, its
run cached as `<out>/rrm-<hash>/`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm.auto import tqdm

from empirical import cli
from empirical.data import DATASETS
from empirical.fit import DataConfig, FitConfig
from empirical.models import MODELS, ModelConfig
from empirical.records import Record, cached_run, default_root, save_figure, write_text
from empirical.train import TrainConfig

# importing a family's module registers it
from . import vc, rademacher, norms, pac_bayes, stability, compression  # noqa: F401  isort: skip
from .report import markdown_table
from .trained import BOUND_FAMILIES, KINDS, UPPER_BOUNDS, Bound, TrainedNetwork, vacuity

TABLE_ORDER = ("vc", "rademacher", "norms", "pac-bayes", "pbb", "stability", "compression")


def table_families() -> list:
    """The registered bound families (`BOUND_FAMILIES` entries) in the table's order, `TABLE_ORDER`,
    whichever family module was imported first; a family it does not name comes last, in the order
    it registered."""
    return sorted(BOUND_FAMILIES, key=lambda f: TABLE_ORDER.index(f.name) if f.name in TABLE_ORDER else len(TABLE_ORDER))


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
    end-to-end, `empirical.noisy.tier_config`), or None. `simultaneous`: split delta evenly over
    the families whose rows hold with a probability (`BoundFamily.uses_delta`), so that all rows
    hold together with probability >= 1 - delta (a union bound); otherwise each row holds at
    delta on its own. `families`: the bound families to evaluate (None: those registered with
    `default=True`, whose cost is at most a pass over the data; the others train or optimize and
    are opt-in)."""

    fit: FitConfig
    delta: float = 0.05
    sss: str | None = None
    simultaneous: bool = False
    families: tuple[str, ...] | None = None

    def __post_init__(self):
        for name in self.families or ():
            BOUND_FAMILIES.check(name)

    def selected(self) -> list:
        """The `BOUND_FAMILIES` entries to evaluate, in the table's order."""
        return [f for f in table_families() if (f.name in self.families if self.families else f.factory.default)]


def config_from_args(args: argparse.Namespace) -> BoundsConfig:
    model, train = tier_defaults(args.tier, args.dataset)
    if args.model:
        model = replace(model, name=args.model)
    train = replace(train, device=args.device, **({"max_steps": args.max_steps} if args.max_steps else {}))
    data = DataConfig(args.dataset, n_train=args.n_train, n_test=args.n_test, data_dir=args.data_dir)
    names = (tuple(f.name for f in table_families()) if args.families == "all" else
             tuple(name.strip() for name in args.families.split(","))) if args.families else None
    return BoundsConfig(FitConfig(data, model, train, "true", args.seed), args.delta, args.tier if args.sss else None,
                        args.simultaneous, names)


def table_row(family: str, bound: Bound, net_train_error: float, net_test_error: float, num_classes: int) -> dict:
    """One row of the table from a `Bound`: the columns follow from its kind. For an upper bound,
    the errors of what it bounds (the network's, or Q's sampled ones for a stochastic network), the
    measured gap between them, the gap the bound implies (value - train error), their ratio and the
    vacuity; for a lower estimate, only the vacuity it can show; for a measure, its value alone."""
    train_error = net_train_error if bound.train_error is None else bound.train_error
    test_error = net_test_error if bound.test_error is None else bound.test_error
    measured_gap = test_error - train_error
    upper = bound.kind in UPPER_BOUNDS
    implied = bound.value - train_error if upper else None
    return {"family": family, "name": bound.name, "kind": bound.kind, "source": bound.source, "value": bound.value,
            "delta": bound.delta, "train_error": train_error, "test_error": test_error, "measured_gap": measured_gap,
            "implied_gap": implied, "ratio_to_gap": implied / measured_gap if upper and measured_gap > 0 else None,
            "vacuity": vacuity(bound.kind, bound.value, num_classes), "detail": bound.detail}


def evaluate(config: BoundsConfig, out: Path, force: bool = False) -> dict:
    """Train or load the network (runs cached under the record root `out`), evaluate every bound
    family on it; returns the run's summary: the measured numbers and one `table_row` per row. A
    family that does not apply to the network gives one row of kind "not-applicable", its reason in
    `detail`. Each family gets delta, or with `config.simultaneous` delta / m, m the number of
    applicable families that use a confidence."""
    net = TrainedNetwork.load(config.fit, out, force=force)
    s = net.summary
    measured = {
        "train_error": s["train_error"], "test_error": s["test_error"], "gap": s["test_error"] - s["train_error"],
        "n_params": s["n_params"], "n_train": s["n_train"], "n_test": s["n_test"],
        "num_classes": s["num_classes"], "uniform_guess_error": 1 - 1 / s["num_classes"],
        "params_per_example": s["n_params"] / s["n_train"], "steps": s["steps"], "epochs": s["epochs"],
        "fitted": s["fitted"], "train_wall_s": s["wall_s"],
    }
    selected = config.selected()
    families = [(f, f.factory.reason_not_applicable(net)) for f in selected]
    m = sum(1 for f, reason in families if not reason and f.factory.uses_delta)
    delta = config.delta / m if config.simultaneous and m else config.delta
    rows, seconds = [], {}
    for family, reason in tqdm(families, desc="bounds", unit="family", disable=None):
        start = time.perf_counter()
        if reason:
            rows.append({"family": family.name, "name": family.name, "kind": "not-applicable",
                         "source": family.description, "value": None, "delta": None, "vacuity": "n/a",
                         "detail": {"reason": reason}})
        else:
            rows.extend(table_row(family.name, b, s["train_error"], s["test_error"], s["num_classes"])
                        for b in family.factory.rows(net, delta))
        seconds[family.name] = time.perf_counter() - start
    not_evaluated = [{"family": f.name, "description": f.description, "cost": f.factory.cost}
                     for f in table_families() if f not in selected]
    result = {"dataset": config.fit.data.name, "model": config.fit.model.name, "delta": config.delta,
              "simultaneous": config.simultaneous, "delta_per_family": delta, "families_using_delta": m,
              "fit_run": str(net.record.path), "measured": measured, "bounds": rows,
              "family_seconds": seconds, "not_evaluated": not_evaluated}
    if config.sss:
        from empirical.noisy import tier_config

        from . import rrm

        record = rrm.report(tier_config(config.sss, config.fit.data.name, config.fit.data.data_dir), out)
        result["rrm"] = dict(record.summary, run=str(record.path))
    return result


def _cell(v):
    return "n/a" if v is None else v


def report_markdown(result: dict) -> str:
    m = result["measured"]
    rows = [
        ["train error", m["train_error"]], ["test error", m["test_error"]],
        ["generalization gap (test error - train error)", m["gap"]],
        ["parameters", m["n_params"]], ["training examples", m["n_train"]], ["test examples", m["n_test"]],
        ["parameters per training example", m["params_per_example"]],
        ["steps (epochs)", f"{m['steps']} ({m['epochs']:.1f})"],
        ["fitted the training set", "yes" if m["fitted"] else "no"],
        ["error of a uniform guess (1 - 1/K)", m["uniform_guess_error"]],
    ]
    text = f"# Generalization of `{result['model']}` on `{result['dataset']}`\n\n" + markdown_table(["quantity", "value"], rows)
    table = []
    for b in result["bounds"]:
        if b["kind"] == "not-applicable":
            table.append([b["name"], b["kind"], "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a",
                          f"does not apply: {b['detail']['reason']}", b["source"]])
            continue
        holds = "in expectation" if b["kind"] == "expectation" else (
            f"1 - {b['delta']:.3g}" if b["delta"] is not None else "n/a")
        table.append([b["name"], b["kind"], b["value"], holds, b["train_error"], b["test_error"], b["measured_gap"],
                      _cell(b["implied_gap"]), _cell(b["ratio_to_gap"]), b["vacuity"], b["source"]])
    from .report import confidence_sentence

    confidence = confidence_sentence(result)
    text += "\n## Bounds\n\n" + confidence + " The train and test errors are those of what a row bounds "
    text += ("(for a stochastic network Q, its sampled errors; the deterministic network's are above). "
             "Vacuous: at or above 1; no better than a uniform guess: at or above 1 - 1/K.\n\n")
    text += markdown_table(["bound", "kind", "value", "holds w.p.", "train error", "test error", "measured gap",
                            "implied gap", "implied / measured gap", "vacuity", "source"], table)
    text += "\nKinds:\n\n" + "".join(f"- `{k}`: {v}\n" for k, v in KINDS.items()
                                     if any(b["kind"] == k for b in result["bounds"]))
    text += (f"\nCost: the training run {m['train_wall_s']:.1f} s; the families "
             + ", ".join(f"{name} {sec:.1f} s" for name, sec in result["family_seconds"].items()) + ".\n")
    if result["not_evaluated"]:
        text += ("\nNot evaluated (each costs more than the training run; add it with `--families NAME,...`, or "
                 "`--families all`):\n\n" + "".join(f"- `{f['family']}`: {f['description']}; cost: {f['cost']}\n"
                                                   for f in result["not_evaluated"]))
    text += f"\nTraining run: `{result['fit_run']}`\n"
    if "rrm" in result:
        from .rrm import markdown

        text += "\n" + markdown(result["rrm"]) + f"\nRRM run: `{result['rrm']['run']}`\n"
    return text


def figure(result: dict):
    """The measured errors, every certificate (upper bounds, solid; a stochastic network's next to
    its own sampled test error, a compressed network's next to its own test error) and every lower
    estimate of a bound (hatched) on one log axis, with the lines of vacuity (1) and of a uniform
    guess (1 - 1/K). Measures have no scale to share and are left out."""
    import matplotlib.pyplot as plt

    m = result["measured"]
    names = ["train error", "test error", "gap"]
    values = [m["train_error"], m["test_error"], m["gap"]]
    style = [("C0", "C0", None), ("C1", "C1", None), ("C2", "C2", None)]  # (face, edge, hatch)
    for b in result["bounds"]:
        if b["kind"] in ("stochastic", "compressed"):  # what the certificate is about: Q's or the compressed net's
            names.append(f"test error of {'Q (sampled)' if b['kind'] == 'stochastic' else 'the compressed network'}, "
                         f"{b['name']}")
            values.append(b["test_error"])
            style.append(("C4", "C4", None))
        if b["kind"] in UPPER_BOUNDS + ("lower-estimate",):
            names.append(b["name"])
            values.append(b["value"])
            style.append(("C3", "C3", None) if b["kind"] in UPPER_BOUNDS else ("white", "C3", "//"))
    seen: dict[str, int] = {}
    for i, name in enumerate(names):  # one bar per position, each label its own
        seen[name] = seen.get(name, 0) + 1
        names[i] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    floor = 1e-4  # a zero error is drawn at the floor of the log axis
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 4.2))
    bars = ax.bar(range(len(names)), [max(v, floor) for v in values], color=[s[0] for s in style],
                  edgecolor=[s[1] for s in style], hatch=[s[2] for s in style], tick_label=names)
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=2)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="vacuous at or above 1")
    ax.axhline(m["uniform_guess_error"], color="0.4", ls=":", lw=1.2,
               label=f"uniform guess, 1 - 1/K = {m['uniform_guess_error']:.3g}")
    kinds = {b["kind"] for b in result["bounds"]}
    if kinds & {"stochastic", "compressed"}:
        ax.bar([0], [0], color="C4", label="test error of what a certificate bounds")
    if kinds & set(UPPER_BOUNDS):
        ax.bar([0], [0], color="C3", label="upper bound (certificate)")
    if "lower-estimate" in kinds:
        ax.bar([0], [0], color="white", edgecolor="C3", hatch="//", label="lower estimate of a bound")
    ax.set(yscale="log", ylim=(floor, max(10.0, max(values) * 2)), ylabel="error / bound",
           title=f"{result['model']} on {result['dataset']}")
    ax.tick_params(axis="x", labelrotation=30)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.legend(fontsize=8)
    return fig


def run(config: BoundsConfig, out: str | os.PathLike | None = None, force: bool = False) -> Record:
    """The bounds record `<out>/bounds-<hash>/` (out: the record root, default `default_root()`):
    taken from the cache, or evaluated (`evaluate`) and written as a whole with `bounds.md` and
    `bounds.png`; `force` trains and evaluates again."""
    root = Path(out or default_root())

    def compute(tmp: Path) -> dict:
        result = evaluate(config, root, force=force)
        write_text(tmp / "bounds.md", report_markdown(result))
        save_figure(figure(result), tmp / "bounds.png")
        return result

    return cached_run(root, "bounds", config, compute, force=force)


def listing() -> str:
    """What `--dataset`, `--model` choose among, and the bound families of the table with their cost."""
    table = "\n".join(f"  {f.name:<11} {f.description}\n  {'':<11} cost: {f.factory.cost}"
                      f"{'' if f.factory.default else ' (opt-in: --families)'}" for f in table_families())
    return cli.listing({"data sets (--dataset)": DATASETS, "models (--model)": MODELS}) + (
        "\n\nbound families (--families; rows of the table):\n" + table)


def parser() -> argparse.ArgumentParser:
    """The command line of `python -m genproof.bounds`."""
    parser = cli.new_parser("python -m genproof.bounds", __doc__.split("\n\n")[0])
    cli.add_data_options(parser)
    cli.add_model_option(parser, None, help="default: the tier's network for the data set")
    parser.add_argument("--seed", type=cli.non_negative_int, default=0,
                        help="seed of the training run: initialisation, minibatch order (default 0)")
    parser.add_argument("--max-steps", type=cli.positive_int, metavar="T",
                        help="step budget of the training run (default: the tier's; it stops earlier at 100%% train accuracy)")
    parser.add_argument("--delta", type=cli.open_unit_interval, default=0.05,
                        help="confidence parameter of the bounds, in (0, 1) (default 0.05)")
    cli.add_device_option(parser)
    cli.add_tier_option(parser, help="quick: a 1x512 MLP on the CPU; full: ResNet-18 on the image data sets")
    cli.add_out_option(parser)
    cli.add_force_option(parser, help="train and evaluate again even where the record root has the runs")
    parser.add_argument("--list", action="store_true", help="list the data sets, models and bound families and exit")
    parser.add_argument("--families", metavar="NAMES",
                        help="bound families to evaluate: a comma list, or all (default: those that cost at most a "
                             "pass over the data; --list shows every family and its cost)")
    parser.add_argument("--simultaneous", action="store_true",
                        help="split delta over the families so that all rows hold together with probability 1 - delta")
    parser.add_argument("--sss", action="store_true",
                        help="add the RRM rows of bansal2021: SSS and end-to-end on the same data, clean and noisy")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        print(listing())
        return 0

    def command() -> int:
        record = run(config_from_args(args), args.out, force=args.force)
        print((record.path / "bounds.md").read_text())
        print(f"written: {record.path}/ (summary.json, bounds.md, bounds.png)")
        return 0

    return cli.run_command(command)


if __name__ == "__main__":
    sys.exit(main())
