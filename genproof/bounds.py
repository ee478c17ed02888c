"""`python -m genproof.bounds`: train (or take from the cache) a network, measure its train and
test error, and report what is known about its generalization gap.

This is the user's main command. Its run is a record like every other (`empirical.records`):
`<out>/bounds-<hash>/` with `config.json`, `summary.json` (the measured numbers and every row),
`bounds.md` (the table printed) and `bounds.png`, written as a whole; `<out>` is the record root
(default `empirical.records.default_root()`). The training run it reads is the cached
`<out>/fit-<hash>/` of `empirical.fit`. The bound families (`genproof.quantities.BOUND_FAMILIES`:
VC, Rademacher, norm-based, PAC-Bayes, PAC-Bayes by backprop, stability, compression; `--list`
shows them, in the table's order) are evaluated on the trained network (`genproof.network.Network`)
by `genproof.catalog.evaluate`. Every row states its kind (`genproof.quantities.KINDS`): an upper bound on the trained network's test error w.p. 1 - delta, on
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
from dataclasses import dataclass, field, replace
from pathlib import Path

from empirical import cli, trackers
from empirical.data import DATASETS, Dataset, add_tensors
from empirical.fit import DataConfig, FitConfig
from empirical.models import MODELS, ModelConfig, add_factory, build, import_factory, is_factory, parse_spec
from empirical.records import Record, cached_run, default_root, save_figure, write_text
from empirical.tiers import check
from empirical.train import TrainConfig

from . import catalog, loaders
from .network import Network, Recipe, dataset
from .bounds_figure import figure
from .kinds import KINDS
from .quantities import BOUND_FAMILIES
from .report import markdown_table


def table_families() -> list:
    """The bound families (`genproof.quantities.BOUND_FAMILIES` entries) in the table's order,
    `genproof.catalog.TABLE_ORDER`."""
    return [e for e in catalog.ordered() if e.factory.role == "bound"]


def tier_config(tier: str, dataset: str) -> tuple[ModelConfig, TrainConfig]:
    """The network and training a data set gets at a tier unless --model says otherwise.
    quick: the paper's 1x512 MLP on the CPU, SGD with momentum (lr 0.01 on CIFAR-10, as zhang2017
    uses for its MLPs); full: ResNet-18 with augmentation and weight decay on the image data sets."""
    if check(tier) == "full" and dataset in ("cifar10", "fashion-mnist"):
        return ModelConfig("resnet18"), TrainConfig(lr=0.05, momentum=0.9, weight_decay=5e-4, lr_decay=0.97,
                                                    batch_size=256, max_steps=50_000, augment="crop+flip")
    lr = 0.01 if dataset == "cifar10" else 0.1
    return ModelConfig("mlp"), TrainConfig(lr=lr, momentum=0.9, batch_size=128, max_steps=20_000)


class SelectsFamilies:
    """What the two configs of a table share: their `families` are checked names, and `selected()`
    gives those entries (None: the defaults) in the table's order."""

    families: tuple[str, ...] | None

    def __post_init__(self):
        for name in self.families or ():
            BOUND_FAMILIES.check(name)

    def selected(self) -> list:
        return [f for f in table_families() if (f.name in self.families if self.families else f.factory.default)]


@dataclass(frozen=True)
class BoundsConfig(SelectsFamilies):
    """The trained network the bounds are evaluated on, the bounds' confidence 1 - delta, and
    `sss`: the tier at which to add bansal2021's RRM experiment on the same data (SSS and
    end-to-end, `empirical.noisy.tier_config`), or None. `simultaneous`: split delta evenly over
    the families whose rows hold with a probability (`Quantity.uses_delta`), so that all rows
    hold together with probability >= 1 - delta (a union bound); otherwise each row holds at
    delta on its own. `families`: the bound families to evaluate (None: those registered with
    `default=True`, whose cost is at most a pass over the data; the others train or optimize and
    are opt-in)."""

    fit: FitConfig
    delta: float = 0.05
    sss: str | None = None
    simultaneous: bool = False
    families: tuple[str, ...] | None = None


@dataclass(frozen=True)
class YourNetworkConfig(SelectsFamilies):
    """A trained network genproof did not train, and the table asked of it: `model`, a factory
    `package.module:function` (`genproof.loaders`) or a registered model's name; `weights` and
    optionally `init`, checkpoints (state dicts), known to the record store by their content
    (`weights_hash`, `init_hash`); the data, an `.npz` (`data_file`, by `data_hash`) or a
    registered data set (`data`); `train` and `seed`: the recipe the retraining quantities use
    (`genproof.network.Recipe`); delta, simultaneous and families as in `BoundsConfig`."""

    model: str
    weights: str = field(metadata={"identity": False})
    weights_hash: str = ""
    init: str | None = field(default=None, metadata={"identity": False})
    init_hash: str | None = None
    data: DataConfig | None = None
    data_file: str | None = field(default=None, metadata={"identity": False})
    data_hash: str | None = None
    train: TrainConfig = TrainConfig()
    seed: int = 0
    delta: float = 0.05
    simultaneous: bool = False
    families: tuple[str, ...] | None = None


def factory_of(model: str):
    """The factory `model` names: `package.module:function`, or a registered model's spec
    (`empirical.models.parse_spec`: `mlp:3x128`, `resnet18`)."""
    if is_factory(model):
        return import_factory(model)
    config = parse_spec(model)
    return lambda input_shape, num_classes: build(config, input_shape, num_classes)


def dataset_of(data: DataConfig | None, data_file: str | None) -> Dataset:
    """The data set of the command line: the arrays of an `.npz` (`genproof.loaders.load_npz`; K is
    the largest label + 1), or a registered data set."""
    if data_file is None:
        return data.load()
    a = loaders.load_npz(data_file)
    return dataset((a["x_train"], a["y_train"]), (a["x_test"], a["y_test"]), Path(data_file).name)


def config_from_args(args: argparse.Namespace) -> BoundsConfig | YourNetworkConfig:
    """`BoundsConfig` for a network genproof trains (a registered model or a factory, on a
    registered data set or an `.npz`), `YourNetworkConfig` for one given by `--weights`."""
    model, train = tier_config(args.tier, args.dataset)
    train = replace(train, device=args.device, **({"max_steps": args.max_steps} if args.max_steps else {}))
    data = DataConfig(args.dataset, n_train=args.n_train, n_test=args.n_test, data_dir=args.data_dir)
    names = (tuple(f.name for f in table_families()) if args.families == "all" else
             tuple(name.strip() for name in args.families.split(","))) if args.families else None
    if args.init and not args.weights:
        raise ValueError("--init is the initialization of the network --weights holds: give --weights too")
    if args.weights:
        if not args.model:
            raise ValueError("--weights needs --model: the factory (package.module:function) or model name that "
                             "builds the architecture the checkpoint fits")
        return YourNetworkConfig(
            args.model, str(args.weights), loaders.file_hash(_file(args.weights, "--weights")),
            None if args.init is None else str(args.init),
            None if args.init is None else loaders.file_hash(_file(args.init, "--init")),
            None if args.data else data, None if args.data is None else str(args.data),
            None if args.data is None else loaders.file_hash(_file(args.data, "--data")),
            train, args.seed, args.delta, args.simultaneous, names)
    if args.data or (args.model and is_factory(args.model)):
        ds = dataset_of(None if args.data else data, args.data and str(args.data))
        if args.data:
            data = DataConfig(add_tensors(ds))
        if args.model and is_factory(args.model):
            factory = import_factory(args.model)
            loaders.build_model(factory, ds.input_shape, ds.num_classes, args.model)
            model = ModelConfig(add_factory(factory, ds.input_shape, ds.num_classes))
    if args.model and not is_factory(args.model):
        model = parse_spec(args.model)
    return BoundsConfig(FitConfig(data, model, train, "true", args.seed), args.delta, args.tier if args.sss else None,
                        args.simultaneous, names)


def _file(path, option: str) -> Path:
    if not Path(path).is_file():
        raise ValueError(f"{option} {path}: no such file")
    return Path(path)


def your_network(config: YourNetworkConfig, root: Path) -> Network:
    """The network of `config`: its factory's module with the checkpoint's weights (and its
    initialization's), the data, and the recipe the retraining quantities use."""
    ds = dataset_of(config.data, config.data_file)
    factory = factory_of(config.model)
    try:
        model = loaders.load_weights(loaders.build_model(factory, ds.input_shape, ds.num_classes, config.model),
                                     config.weights)
    except ValueError as err:
        if config.data_file is None:
            raise
        raise ValueError(f"{err} (the model was built for K = {ds.num_classes} classes, the largest label in "
                         f"--data + 1)") from err
    init = None if config.init is None else loaders.load_weights(
        loaders.build_model(factory, ds.input_shape, ds.num_classes, config.model), config.init)
    return Network(model, (ds.x_train, ds.y_train), (ds.x_test, ds.y_test), init=init, name=ds.name,
                   recipe=Recipe(factory, config.train, config.seed), root=root)


def evaluate(config: BoundsConfig, out: Path, force: bool = False) -> dict:
    """Train or load the network (runs cached under the record root `out`) and evaluate the selected
    quantities on it (`genproof.catalog.evaluate`); returns the run's summary: the measured
    numbers and one row per row of the table (a quantity that does not apply says why in a row of
    kind "not-applicable")."""
    if isinstance(config, YourNetworkConfig):
        net = your_network(config, out)
        names = {"dataset": config.data_file or config.data.name, "model": config.model, "fit_run": None,
                 "weights": config.weights, "init": config.init}
    else:
        net = Network.from_fit(config.fit, out, force=force)
        names = {"dataset": config.fit.data.name, "model": config.fit.model.name,
                 "fit_run": net.record.path.name}  # relative to the record root: a store can move
    table = catalog.evaluate(net, [e.name for e in config.selected()], config.delta, simultaneous=config.simultaneous)
    not_evaluated = [{"family": f.name, "description": f.description, "cost": f.factory.cost_detail or f.factory.cost}
                     for f in table_families() if f not in config.selected()]
    result = {**names, **table.to_json(), "not_evaluated": not_evaluated}
    if getattr(config, "sss", None):
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
        ["steps (epochs)", f"{m['steps']} ({m['epochs']:.1f})" if m["steps"] is not None else
         f"n/a (trained by {m.get('trained_by', 'its user')})"],
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
    training = "n/a" if m["train_wall_s"] is None else f"{m['train_wall_s']:.1f} s"
    text += (f"\nCost: the training run {training}; the families "
             + ", ".join(f"{name} {sec:.1f} s" for name, sec in result["family_seconds"].items()) + ".\n")
    if result["not_evaluated"]:
        text += ("\nNot evaluated (outside the default selection, which takes the families that cost at most a pass "
                 "over the data; add one with `--families NAME,...`, or `--families all`):\n\n" + "".join(f"- `{f['family']}`: {f['description']}; cost: {f['cost']}\n"
                                                   for f in result["not_evaluated"]))
    if result["fit_run"]:
        text += f"\nTraining run: `{result['fit_run']}` (in the record root)\n"
    else:
        text += (f"\nNetwork: `{result['model']}` with the weights of `{result['weights']}`"
                 + (f" and the initialization of `{result['init']}`" if result.get("init") else "") + "\n")
    if "rrm" in result:
        from .rrm import markdown

        text += "\n" + markdown(result["rrm"]) + f"\nRRM run: `{result['rrm']['run']}`\n"
    return text


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
                      f"{': ' + f.factory.cost_detail if f.factory.cost_detail else ''}"
                      f"{'' if f.factory.default else ' (opt-in: --families)'}"
                      + (f"\n  {'':<11} needs: {', '.join(f.factory.needs)}" if f.factory.needs else "")
                      + (f"\n  {'':<11} card: {f.factory.card}" if f.factory.card else "")
                      for f in table_families())
    return cli.listing({"data sets (--dataset)": DATASETS, "models (--model)": MODELS}) + (
        "\n\nbound families (--families; rows of the table):\n" + table)


def parser() -> argparse.ArgumentParser:
    """The command line of `python -m genproof.bounds`."""
    parser = cli.new_parser("python -m genproof.bounds", __doc__.split("\n\n")[0])
    cli.add_data_options(parser)
    parser.add_argument("--data", type=Path, metavar="FILE.npz",
                        help="your data instead of --dataset: an .npz with x_train, y_train, x_test, y_test (inputs "
                             "(n, *input_shape), used as given; labels integers 0..K-1)")
    cli.add_model_option(parser, None, help="default: the tier's network for the data set", factories=True)
    parser.add_argument("--weights", type=Path, metavar="CHECKPOINT",
                        help="your trained network: a state dict of --model's architecture (torch.save("
                             "model.state_dict(), path)); nothing is trained unless a selected family retrains")
    parser.add_argument("--init", type=Path, metavar="CHECKPOINT",
                        help="with --weights: the same network at initialization (for distance from init and "
                             "PAC-Bayes around it)")
    parser.add_argument("--seed", type=cli.non_negative_int, default=0,
                        help="seed of the training run: initialisation, minibatch order (default 0)")
    cli.add_max_steps_option(parser, "of the training run; default: the tier's, and it stops earlier at 100%% "
                                     "train accuracy")
    parser.add_argument("--delta", type=cli.open_unit_interval, default=0.05,
                        help="confidence parameter of the bounds, in (0, 1) (default 0.05)")
    cli.add_device_option(parser)
    cli.add_tier_option(parser, help="quick: a 1x512 MLP on the CPU; full: ResNet-18 on the image data sets")
    cli.add_out_option(parser)
    cli.add_log_option(parser)
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
        from .report import bounds_text

        record = run(config_from_args(args), args.out, force=args.force)
        print(bounds_text(record.summary))
        print(cli.where(record, "/ (summary.json, bounds.md: the full table with sources and kinds, bounds.png)"))
        fit = record.summary["fit_run"]  # the network's training run, relative to the record root; None for --weights
        runs = ([Record.load(record.path.parent / fit)] if fit else []) + [record]
        cli.log_entries(args, [trackers.from_record(r) for r in runs])
        return 0

    return cli.run_command(command)


if __name__ == "__main__":
    sys.exit(main())
