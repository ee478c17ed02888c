"""Which measure predicts the gap? A study over a sweep of trained networks (Jiang et al. 2020;
Dziugaite et al. 2020). Where genproof differs from the papers and their code:
docs/sources/jiang2020.md.

`run(StudyConfig, root)` trains every point of a sweep (`empirical.sweep.run`: cached `fit` runs,
serially or on Ray), evaluates every measure of `genproof.measures.MEASURES` it names on every
network through the same engine (`empirical.sweep.execute` with `measure_network`, one cached
record `measures-<hash>/` per network), and writes the study as a record `study-<hash>/`:
`summary.json` (every network's axis values, gap, errors, measures and their seconds, and the
statistics below), `study.md` (the ranking table) and `study.png` (measure against gap, one panel
per measure, colored by the first axis). Networks that did not reach 100% training accuracy within
the step budget (`stop_at_fit`) are left out of the statistics (listed as excluded).

Statistics, per measure, over the networks where it is defined (the gap is the fit record's
`gap`, training minus test accuracy):
- `tau`: Kendall's tau between the measure and the gap over all networks (tau-a,
  `genproof.ranking.kendall_tau`: a tie in either counts as neither concordant nor discordant).
- `psi[axis]`, Jiang et al.'s granulated coefficient (Section 4): for a hyperparameter axis i, the
  networks are grouped by their values on every other axis, the seed included, so that a group's
  networks differ in axis i alone; psi_i is the mean over groups (of 2 or more networks) of tau
  within the group. `Psi` is the mean of psi_i over the hyperparameter axes (the seed is none).
- the worst case over environments of Dziugaite et al. (their code, nitarshan/
  robust-generalization-measures, coupled_network/create_environments.py and common.py): an
  environment is a hyperparameter axis i, two of its values v1 != v2 and a value of every other
  hyperparameter axis; its networks are the pairs (a, b), a at v1 and b at v2, every seed of a
  against every seed of b; its loss is the weighted mean over its pairs of the sign error
  (1 - sign(c_a - c_b) sign(g_a - g_b)) / 2. `sign_error_max`: the largest loss with every pair at
  weight 1 and every environment kept; `unit_sign_error_max`: every pair at weight 1, only
  environments of at least `MIN_ESS` = 12 pairs (their number in `unit_environments`);
  `robust_sign_error_max`: weight (w - 1/2)_+ with w = `hoeffding_weight(|g_a - g_b|, n_test)`, only
  environments whose effective sample size (sum w)^2 / sum w^2 is at least `MIN_ESS`. With a small
  test set and few seeds, no environment may pass: the row says how many did.
- `pgdl`: the score of the NeurIPS 2020 competition "Predicting Generalization in Deep Learning"
  (`genproof.pgdl.score`), the minimum over pairs of hyperparameter axes, with `pgdl_pair`, the
  pair that attains it; the seed's networks are more pairs of the same cells. None with fewer than
  two hyperparameter axes.

    python -m genproof.study --dataset digits --tier quick --executor serial|ray [--address A]
        [--measures a,b,...] [--out DIR] [--force]
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from empirical import sweep
from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig, add_factory, import_factory, is_factory, parse_spec
from empirical.records import Record, cached_run, default_root, save_figure, write_text
from empirical.tiers import check
from empirical.train import TrainConfig

from .catalog import evaluate, measure_defaults, ordered
from .measures import MEASURES
from .network import Network
from .pgdl import score as pgdl_score
from .quantities import COSTS
from .ranking import kendall_tau

REPLICATE = "seed"  # the axis of repeated runs: grouped over, never a hyperparameter of its own
MIN_ESS = 12.0  # Dziugaite et al.'s minimum effective sample size of an environment (their scripts' default)


# ---- statistics ---------------------------------------------------------------------------------


def hyperparameters(axes: Sequence[str]) -> list[str]:
    """The axes that are hyperparameters: all but the seed."""
    return [a for a in axes if a != REPLICATE]


def _values_in_order(settings: Sequence[Mapping[str, Any]], axis: str) -> list:
    seen = []
    for s in settings:
        if s[axis] not in seen:
            seen.append(s[axis])
    return seen


def granulated(settings: Sequence[Mapping[str, Any]], measure: Sequence[float], gap: Sequence[float],
               axes: Sequence[str]) -> dict[str, float | None]:
    """psi_i for every hyperparameter axis i of `axes` (module docstring): `settings[k]` holds
    network k's value on every axis; groups share every other axis (the seed included). None for an
    axis with no group of two networks."""
    psi = {}
    for axis in hyperparameters(axes):
        groups = defaultdict(list)
        for k, s in enumerate(settings):
            groups[tuple(s[a] for a in axes if a != axis)].append(k)
        taus = [kendall_tau([measure[k] for k in g], [gap[k] for k in g]) for g in groups.values() if len(g) >= 2]
        psi[axis] = sum(taus) / len(taus) if taus else None
    return psi


def mean_psi(psi: Mapping[str, float | None]) -> float | None:
    """Psi: the mean of the defined psi_i."""
    values = [v for v in psi.values() if v is not None]
    return sum(values) / len(values) if values else None


def sign_error(c1: float, c2: float, g1: float, g2: float) -> float:
    """(1 - sign(c1 - c2) sign(g1 - g2)) / 2 (Dziugaite et al.'s `sign_error`, common.py)."""
    sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
    return (1 - sign(c1 - c2) * sign(g1 - g2)) / 2


def hoeffding_weight(delta_gap: float, n: int) -> float:
    """(max(0, 1 - 2 exp(-2 n (|delta_gap| / 2)^2)))^2 (Dziugaite et al.'s `hoeffding_weight`,
    common.py, at shift 0): the probability that two gaps each measured on n test examples differ
    by the sign of their difference, as they bound it."""
    if n < 1:
        raise ValueError(f"n must be a positive number of test examples, got {n}")
    return max(0.0, 1.0 - 2.0 * math.exp(-2.0 * n * (abs(delta_gap) / 2) ** 2)) ** 2


def environments(settings: Sequence[Mapping[str, Any]], measure: Sequence[float], gap: Sequence[float],
                 axes: Sequence[str], test_size: int | None = None, min_ess: float = 1.0) -> list[dict]:
    """Every environment (module docstring) with its `loss`, effective sample size `ess` and pairs:
    pairs weigh 1, or with `test_size` Dziugaite et al.'s (w - 1/2)_+ (w the `hoeffding_weight` of
    the two gaps); environments of zero total weight or an effective sample size below `min_ess`
    are left out. Each unordered pair of values counts once."""
    out = []
    hyper = hyperparameters(axes)
    for axis in hyper:
        others = [a for a in hyper if a != axis]
        cells = defaultdict(list)  # (value on axis, values on the other hyperparameters) -> networks
        for k, s in enumerate(settings):
            cells[(s[axis], tuple(s[a] for a in others))].append(k)
        values = _values_in_order(settings, axis)
        for i, v1 in enumerate(values):
            for v2 in values[i + 1:]:
                for rest in dict.fromkeys(r for (_, r) in cells):
                    a, b = cells.get((v1, rest), []), cells.get((v2, rest), [])
                    pairs = [(p, q) for p in a for q in b]
                    if not pairs:
                        continue
                    weights = [1.0 if test_size is None else max(0.0, hoeffding_weight(gap[p] - gap[q], test_size) - 0.5)
                               for p, q in pairs]
                    total, squares = sum(weights), sum(w * w for w in weights)
                    if total <= 0:
                        continue
                    ess = total ** 2 / squares
                    if ess < min_ess and not math.isclose(ess, min_ess):
                        continue
                    loss = sum(w * sign_error(measure[p], measure[q], gap[p], gap[q])
                               for w, (p, q) in zip(weights, pairs)) / total
                    out.append({"axis": axis, "values": [v1, v2], "others": dict(zip(others, rest)), "loss": loss,
                                "ess": ess, "pairs": len(pairs)})
    return out


def statistics(settings: Sequence[Mapping[str, Any]], measure: Sequence[float], gap: Sequence[float],
               axes: Sequence[str], test_size: int) -> dict:
    """Every statistic of one measure over the networks given (module docstring)."""
    psi = granulated(settings, measure, gap, axes)
    every = environments(settings, measure, gap, axes)
    unit = [e for e in every if e["pairs"] >= MIN_ESS]  # at weight 1 the effective sample size is the pair count
    robust = environments(settings, measure, gap, axes, test_size=test_size, min_ess=MIN_ESS)
    worst = lambda envs: max((e["loss"] for e in envs), default=None)  # noqa: E731
    pgdl = pgdl_score(settings, measure, gap, hyperparameters(axes))
    return {"n": len(measure), "tau": kendall_tau(measure, gap) if len(measure) >= 2 else None, "psi": psi,
            "Psi": mean_psi(psi), "sign_error_max": worst(every),
            "sign_error_mean": sum(e["loss"] for e in every) / len(every) if every else None,
            "environments": len(every), "unit_sign_error_max": worst(unit), "unit_environments": len(unit),
            "robust_sign_error_max": worst(robust), "robust_environments": len(robust),
            "pgdl": pgdl["score"], "pgdl_pair": pgdl["pair"]}


# ---- measuring one network --------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureRun:
    """The measures `measures` (names in `MEASURES`) of the network trained by `fit`, with `seed`
    for their Monte Carlo draws and ascent starts."""

    fit: FitConfig
    measures: tuple[str, ...]
    seed: int = 0


def measure_network(run: MeasureRun, root: Path) -> Record:
    """The task `sweep.execute` runs per network: the cached record `measures-<hash>/` whose
    summary holds `values` (name -> number, or None where the measure is undefined, with the reason
    in `undefined`), `seconds` (name -> wall seconds of its evaluation), `load_s` and the fit
    record's `gap`, `train_error`, `test_error`, `fitted`, `n_test`."""

    def compute(out: Path) -> dict:
        start = time.perf_counter()
        net = Network.from_fit(run.fit, root)
        load_s = time.perf_counter() - start
        table = evaluate(net, run.measures, seed=run.seed)
        values = {r["family"]: r["value"] for r in table}
        undefined = {r["family"]: r["detail"]["reason"] for r in table if r["value"] is None}
        s = net.summary
        return {"values": values, "seconds": table.seconds, "undefined": undefined, "load_s": load_s,
                "fit_record": net.record.path.name, **{k: s[k] for k in ("gap", "train_error", "test_error", "fitted",
                                                                           "n_test", "n_train", "n_params", "wall_s")}}

    return cached_run(root, "measures", run, compute)


# ---- the study ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyConfig:
    """A sweep (`grid`, an `empirical.sweep.SweepConfig`) and the measures evaluated on each of its
    networks (names in `MEASURES`; `genproof.catalog.measure_defaults()` for the default set), with `seed`
    for the measures' random draws."""

    grid: sweep.SweepConfig
    measures: tuple[str, ...]  # no default: a default would leave the hash unchanged when the defaults change
    seed: int = 0

    def __post_init__(self):
        ordered()  # every measure registered, those of genproof.curvature among them
        measures = tuple(self.measures)
        if not measures:
            raise ValueError(f"a study needs at least one measure; measures: {', '.join(MEASURES.names())}")
        for name in measures:
            MEASURES.check(name)
        if len(set(measures)) != len(measures):
            raise ValueError(f"a measure is named twice: {', '.join(measures)}")
        object.__setattr__(self, "measures", measures)
        if not hyperparameters([a for a, _ in self.grid.axes]):
            raise ValueError("a study needs a hyperparameter axis besides the seed (width, depth, lr, ...)")


class StudyIncomplete(RuntimeError):
    """Some networks failed to train or to be measured: the study is not written (rerun to retry them)."""


def _ray(executor: str, address: str | None, num_cpus: int | None):
    """One Ray connection for the training and the measuring (a local cluster starts once)."""
    return sweep.connect(address, num_cpus) if executor == "ray" else nullcontext()


def run(config: StudyConfig, root: str | os.PathLike | None = None, *, executor: str = "serial",
        address: str | None = None, num_cpus: int | None = None, threads: int = 1, progress: bool | None = None,
        force: bool = False) -> Record:
    """Train, measure and analyse (module docstring); the record `study-<hash>/` under `root`.
    `executor`, `address`, `num_cpus`, `threads`: `empirical.sweep.execute`'s (how it runs, not
    what: they are no part of the record's hash). The fits and the measures are cached runs of
    their own; `force` rewrites the study record from them. Raises `StudyIncomplete` when a network
    fails to train or to be measured (the failures are recorded under `root/failed/`)."""
    root = Path(root or default_root())
    options = {"executor": executor, "address": address, "num_cpus": num_cpus, "threads": threads, "progress": progress}
    if executor == "ray":
        options.update(address=None, num_cpus=None)  # the connection is opened once, below

    def compute(out: Path) -> dict:
        start = time.perf_counter()
        with _ray(executor, address, num_cpus):
            trained = sweep.run(config.grid, root, **options)
            done = [o for o in trained if o.status == "done"]
            runs = [MeasureRun(o.item.fit, config.measures, config.seed) for o in done]
            measured = sweep.execute(measure_network, runs, root, desc="measures", **options)
        failed = [(o.item, o) for o in trained if o.status == "failed"]
        failed += [(d.item, m) for d, m in zip(done, measured) if m.status == "failed"]
        if failed:
            lines = "; ".join(f"{point}: {o.error.strip().splitlines()[-1]}" for point, o in failed[:3])
            raise StudyIncomplete(f"{len(failed)} of {len(trained) + len(measured)} runs failed (recorded under "
                                  f"{root / 'failed'}; rerun to retry them): {lines}")
        points = []
        for o, m in zip(done, measured):
            s = Record.load(m.record).summary
            points.append({"values": dict(o.item.values), **{k: s[k] for k in ("gap", "train_error", "test_error",
                                                                                "fitted", "n_test", "n_params")},
                           "train_s": s["wall_s"], "measures": s["values"], "seconds": s["seconds"],
                           "undefined": s["undefined"], "fit_record": s["fit_record"], "measure_record": Path(m.record).name})
        summary = analysis(points, config)
        summary["wall_s"] = time.perf_counter() - start
        summary["machine"] = {"device": config.grid.base.train.device, "executor": executor, "threads": threads,
                              "cpus": os.cpu_count()}
        write_text(out / "study.md", markdown(summary))
        save_figure(figure(summary), out / "study.png")
        return summary

    return cached_run(root, "study", config, compute, force=force)


def analysis(points: list[dict], config: StudyConfig) -> dict:
    """The statistics of every measure over the fitted networks of `points` (module docstring), one
    row each, ranked by tau (highest first), with the mean seconds per network of its evaluation."""
    axes = [a for a, _ in config.grid.axes]
    fitted = [p for p in points if p["fitted"]]
    test_size = min((p["n_test"] for p in fitted), default=1)
    rows = []
    for name in config.measures:
        used = [p for p in fitted if p["measures"][name] is not None]
        stats = statistics([p["values"] for p in used], [p["measures"][name] for p in used],
                           [p["gap"] for p in used], axes, test_size)
        rows.append({"measure": name, **stats, "cost_s": sum(p["seconds"][name] for p in points) / len(points),
                     "cost": MEASURES.get(name).cost, "undefined": len(fitted) - len(used)})
    rows.sort(key=lambda r: -math.inf if r["tau"] is None else -r["tau"])
    return {"dataset": config.grid.base.data.name, "model": model_label(config.grid),
            "axes": {a: list(v) for a, v in config.grid.axes}, "measures": list(config.measures), "seed": config.seed,
            "networks": len(points), "fitted": len(fitted), "test_size": test_size, "min_ess": MIN_ESS,
            "excluded": [p["values"] for p in points if not p["fitted"]],
            "train_s": sum(p["train_s"] for p in points), "measure_s": sum(sum(p["seconds"].values()) for p in points),
            "rows": rows, "points": points}


def markdown(summary: dict) -> str:
    """The ranking table: tau, psi per hyperparameter axis, Psi, the worst environment (every
    environment; Dziugaite et al.'s unweighted ones of 12 pairs or more, and their weighted and
    filtered ones, each with their number), the PGDL score and the cost."""
    from .report import markdown_table

    hyper = hyperparameters(list(summary["axes"]))
    header = (["measure", "tau"] + [f"psi {a}" for a in hyper]
              + ["Psi", "worst env. (all)", "mean env. (all)", "unweighted worst (envs)", "robust worst (envs)",
                 "PGDL", "cost s/network", "cost class"])

    def num(v, signed=True):
        return "-" if v is None else f"{v:+.3f}" if signed else f"{v:.3f}"

    body = [[r["measure"], num(r["tau"])] + [num(r["psi"][a]) for a in hyper]
            + [num(r["Psi"]), num(r["sign_error_max"], False), num(r["sign_error_mean"], False),
               f"{num(r['unit_sign_error_max'], False)} ({r['unit_environments']})",
               f"{num(r['robust_sign_error_max'], False)} ({r['robust_environments']})", num(r["pgdl"], False),
               f"{r['cost_s']:.3g}", r["cost"]]
            for r in summary["rows"]]
    axes = ", ".join(f"{a} {tuple(v)}" for a, v in summary["axes"].items())
    notes = [f"{summary['fitted']} of {summary['networks']} networks fitted their training set and are studied"]
    undefined = [f"{r['measure']} ({r['undefined']})" for r in summary["rows"] if r["undefined"]]
    if undefined:
        notes.append("undefined on some networks, left out of that measure's statistics: " + ", ".join(undefined))
    classes = dict.fromkeys(r["cost"] for r in summary["rows"])
    notes.append("cost classes: " + "; ".join(f"{c}: {COSTS[c]}" for c in classes))
    return (f"## Which measure predicts the gap? {summary['model']} on `{summary['dataset']}`\n\n"
            f"grid: {axes}\n\n" + markdown_table(header, body)
            + "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
            f"- tau: Kendall's tau with the gap (train minus test accuracy) over all networks; psi: Jiang et al.'s "
            f"granulated coefficient per axis, Psi their mean; worst and mean env. (all): the largest and the mean "
            f"sign error over every environment of Dziugaite et al., each pair at weight 1 and none left out "
            f"(genproof's; 0 orders every pair right, 1/2 is a coin, 1 reverses every pair); unweighted: their "
            f"filter_noise=False, pairs at weight 1 in environments of at least {summary['min_ess']:g} pairs; robust: "
            f"theirs in full, Hoeffding weights at n_test = {summary['test_size']} and effective sample size >= "
            f"{summary['min_ess']:g}; "
            f"PGDL: the NeurIPS 2020 competition's score, the conditional mutual information (normalized, 0 to 1) between "
            f"the orders of measure and gap given two hyperparameters, the least over pairs of them (genproof.pgdl).\n"
            f"- time: training {summary['train_s']:.0f} s and measures {summary['measure_s']:.0f} s, summed over the "
            f"networks as their records state them; this record took {summary.get('wall_s', float('nan')):.0f} s of "
            f"wall time to compute{_on(summary.get('machine'))} (runs it found recorded were read, not run again).\n")


def _on(machine: dict | None) -> str:
    if not machine:
        return ""
    return (f" on {machine['device']} ({machine['executor']} executor, {machine['threads']} thread(s) per run, "
            f"{machine['cpus']} CPUs)")


def figure(summary: dict):
    """One panel per measure: measure (log axis when positive and spanning more than a decade and a
    half) against gap, colored by the first hyperparameter axis, marker by the second."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    hyper = hyperparameters(list(summary["axes"]))
    color_axis, marker_axis = hyper[0], (hyper[1] if len(hyper) > 1 else None)
    colors = {v: f"C{i}" for i, v in enumerate(summary["axes"][color_axis])}
    markers = dict(zip(summary["axes"][marker_axis], "os^Dv<>p*h")) if marker_axis else {}
    rows = summary["rows"]
    cols = min(4, len(rows))
    fig, axs = plt.subplots(math.ceil(len(rows) / cols), cols, figsize=(3.3 * cols, 2.9 * math.ceil(len(rows) / cols)),
                            squeeze=False)
    fitted = [p for p in summary["points"] if p["fitted"]]
    for ax, row in zip(axs.flat, rows):
        pts = [p for p in fitted if p["measures"][row["measure"]] is not None]
        xs = [p["measures"][row["measure"]] for p in pts]
        for p, x in zip(pts, xs):
            ax.scatter(x, p["gap"], s=18, color=colors[p["values"][color_axis]],
                       marker=markers.get(p["values"].get(marker_axis), "o"), alpha=0.8)
        if xs and min(xs) > 0 and max(xs) / min(xs) > 30:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        tau = "n/a" if row["tau"] is None else f"{row['tau']:+.2f}"
        ax.set_title(f"{row['measure']}  (tau {tau})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axs.flat[len(rows):]:
        ax.axis("off")
    for ax in axs[:, 0]:
        ax.set_ylabel("gap (train - test acc.)", fontsize=8)
    handles = [Line2D([], [], ls="", marker="o", color=c, label=f"{color_axis} {v}") for v, c in colors.items()]
    handles += [Line2D([], [], ls="", marker=m, color="0.4", label=f"{marker_axis} {v}") for v, m in markers.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"measure against gap: {summary['fitted']} networks ({summary['model']} on {summary['dataset']})",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


# ---- tiers --------------------------------------------------------------------------------------

TIER_GRIDS = {
    "quick": ("an MLP on the whole data set, width (32, 256) x depth (1, 3) x lr (0.01, 0.1) x batch size (32, 256) "
              "x seeds (0, 1): 32 networks, CPU minutes on digits"),
    "full": ("an MLP on the whole data set, width (64, 256, 1024) x depth (1, 2, 3) x lr (0.01, 0.03, 0.1) x batch "
             "size (32, 128, 512) x seeds (0, 1, 2): 243 networks, a GPU or a cluster"),
}
AXES = {
    "quick": (("width", (32, 256)), ("depth", (1, 3)), ("lr", (0.01, 0.1)), ("batch_size", (32, 256)),
              (REPLICATE, (0, 1))),
    "full": (("width", (64, 256, 1024)), ("depth", (1, 2, 3)), ("lr", (0.01, 0.03, 0.1)),
             ("batch_size", (32, 128, 512)), (REPLICATE, (0, 1, 2))),
}
MAX_STEPS = {"quick": 20_000, "full": 100_000}


def tier_config(tier: str, dataset: str = "digits", data_dir: str | None = None,
                device: str = "auto") -> sweep.SweepConfig:
    """The tier's sweep (`TIER_GRIDS`): the axes that Jiang et al. (width, depth, learning rate, batch
    size; they vary dropout, weight decay and the optimizer too) and Dziugaite et al. (width, depth,
    learning rate) vary, around an MLP trained by SGD with momentum 0.9 to 100% training accuracy."""
    base = FitConfig(DataConfig(dataset, data_dir=data_dir), ModelConfig("mlp"),
                     TrainConfig(momentum=0.9, max_steps=MAX_STEPS[check(tier)], device=device))
    return sweep.SweepConfig(base, AXES[tier])


SIZE_AXES = ("width", "depth")  # what sizes the tier's MLP


def model_label(grid: sweep.SweepConfig) -> str:
    """The architecture of the sweep as `--model` writes it: `mlp` where its size is an axis."""
    model = grid.base.model
    if model.name == "mlp" and not any(a in SIZE_AXES for a, _ in grid.axes):
        return f"mlp:{model.depth}x{model.width}"
    return f"cnn:{model.channels}" if model.name == "cnn" else model.name


def with_model(config: sweep.SweepConfig, spec: str) -> sweep.SweepConfig:
    """`config` on the architecture `spec` names (`empirical.models.parse_spec`, or a factory
    `package.module:function` called as function(input_shape, num_classes)). The architecture is
    then fixed: the axes that size the tier's MLP leave the grid, and the study varies the rest."""
    if is_factory(spec):
        data = config.base.data.load()
        model = ModelConfig(add_factory(import_factory(spec), data.input_shape, data.num_classes))
    else:
        model = parse_spec(spec)
    axes = tuple((a, v) for a, v in config.axes if a not in SIZE_AXES)
    return replace(config, base=replace(config.base, model=model), axes=axes)


# ---- the command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from empirical import cli

    ordered()
    parser = cli.new_parser("python -m genproof.study", __doc__.split("\n\n")[0],
                            epilog=cli.listing({"measures": MEASURES}) + "\n\ntiers (the sweep):\n"
                            + "\n".join(f"  {k:<6} {v}" for k, v in TIER_GRIDS.items()))
    cli.add_data_options(parser)
    cli.add_model_option(parser, None, "default: the tier's MLP, whose width and depth are axes of the sweep; a "
                                       "model given here is fixed and the sweep varies the other axes", factories=True)
    cli.add_tier_option(parser, help="the sweep: quick, 32 MLPs on the CPU; full, 243 (see below)")
    parser.add_argument("--measures", help="comma-separated measure names (default: every measure but the opt-in "
                                           "ones; 'all' adds those)")
    parser.add_argument("--measure-seed", type=cli.non_negative_int, default=0,
                        help="seed of the measures' own random draws (the networks' seeds are an axis of the tier's "
                             "sweep; default 0)")
    parser.add_argument("--executor", choices=sweep.EXECUTORS, default="serial", help="default %(default)s")
    parser.add_argument("--address", help="Ray cluster to join (with --executor ray; default: start a local one)")
    parser.add_argument("--num-cpus", type=cli.positive_int, metavar="N", help="CPUs of a local Ray cluster")
    parser.add_argument("--threads", type=cli.positive_int, default=1, help="threads per run (default %(default)s)")
    cli.add_device_option(parser)
    cli.add_out_option(parser)
    cli.add_log_option(parser)
    cli.add_force_option(parser, "write the study record again from the recorded runs")
    args = parser.parse_args(argv)

    def make():
        if args.address and args.executor != "ray":
            raise ValueError("--address joins a Ray cluster: give it with --executor ray")
        config = tier_config(args.tier, args.dataset, args.data_dir, args.device)
        config = replace(config, base=replace(config.base, data=cli.with_sizes(config.base.data, args)))
        if args.model:
            config = with_model(config, args.model)
        names = (MEASURES.names() if args.measures == "all" else
                 tuple(n.strip() for n in args.measures.split(",")) if args.measures else measure_defaults())
        study = StudyConfig(config, names, args.measure_seed)
        return run(study, args.out, executor=args.executor, address=args.address, num_cpus=args.num_cpus,
                   threads=args.threads, force=args.force)

    try:
        return cli.run_report(make, markdown, written=" (study.md, study.png, summary.json)", args=args)
    except StudyIncomplete as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
