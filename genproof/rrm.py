"""The RRM decomposition of the generalization gap and the memorization-gap bounds (bansal2021:
Bansal, Kaplun, Barak, "For self-supervised learning, Rationality implies generalization,
provably", ICLR 2021, arXiv 2010.08508; Section 2 for the gaps, Theorem II for the bound). Where
genproof differs from the paper and the authors' code, and what could not be verified:
docs/sources/bansal2021.md.

The η-noisy experiment (`empirical.noisy`) trains a procedure T once on the clean training set and
once with the labels of a random set B of m training points replaced by wrong ones (m = round(η n),
or Binomial(n, η) with `RRMConfig.noise="binomial"`; B is kept). Every accuracy is against the
ORIGINAL labels:
    Train(0), Test(0)   the clean run on all training points and on the test set,
    Train(η)            the noisy run on all training points,
    NTrain(η)           the noisy run on the points of B only,
    Test(η)             the noisy run on the test set (a diagnostic: no gap below uses it).
The gaps (`gaps`), with ONE test accuracy, Test(0):
    generalization gap  Train(0) - Test(0)
    robustness gap      max(0, Train(0) - Train(η))
    memorization gap    Train(η) - NTrain(η)
    rationality gap     max(0, NTrain(η) - Test(0))
    RRM bound           robustness + memorization + rationality.
They telescope, so RRM bound - generalization gap = clip_slack >= 0, what the two max(0, .) add.
The rationality gap against Test(η) is kept as a diagnostic (`rationality_gap_test_eta`).

Bounds on the memorization gap, k the bits that describe the simple classifier given the
representation (derivations and checks: notebooks/rrm_decomposition.ipynb):
- `theorem2_bound`, Theorem II in the form the authors' code evaluates it: sqrt(C / (2 n)) / η,
  C the complexity in nats (k ln 2 for the description length);
- `description_length_bound`, genproof's derivation: E[memorization gap] <= sqrt(k ln 2 / (2 m));
- `deviation_bound`: sqrt(I(Δ; N) / 2) / η' (Pinsker), I the plug-in mutual information (nats) of
  Δ_i = g(x_i) - y_i and N_i = ỹ_i - y_i (mod C) over the noisy run's points, η' = m / n.
Substituting a bound for the memorization gap bounds the gap:
    gap <= robustness + rationality + bound(memorization)    (`gap_bound_*`),
and, assuming rationality, without test data: gap <= robustness + bound(memorization)
(`gap_bound_no_test_*`).

`decomposition` turns an `empirical.noisy` record into the gaps and bounds above, per seed and as
means with intervals; `report` writes them with their figures as a record of its own.

    python -m genproof.rrm --tier quick --sweep 0,0.1,0.2,0.4
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from empirical.noisy import RRMConfig, experiment, recorded_deviations, tier_config
from empirical.records import Record, cached_run, default_root, save_figure

GAPS = ("generalization_gap", "robustness_gap", "memorization_gap", "rationality_gap", "rrm_bound")


def gaps(train0: float, test0: float, train_eta: float, ntrain_eta: float, test_eta: float) -> dict:
    """The gaps of one clean run (Train(0), Test(0)) and one η-noisy run (Train(η), NTrain(η),
    Test(η)), as the module docstring defines them (rationality against Test(0)), with the terms
    of the identity `generalization_gap == robustness_raw + memorization_gap + rationality_raw`
    (`identity_residual`: the difference as computed, rounding only) and `clip_slack` = RRM bound -
    generalization gap >= 0. Diagnostics with Test(η): `rationality_gap_test_eta`,
    `rrm_bound_test_eta` and `test_shift` = Test(η) - Test(0)."""
    for name, v in dict(train0=train0, test0=test0, train_eta=train_eta, ntrain_eta=ntrain_eta,
                        test_eta=test_eta).items():
        if not 0 <= v <= 1:
            raise ValueError(f"{name} is an accuracy and must lie in [0, 1], got {v}")
    gap = train0 - test0
    robustness_raw, memorization, rationality_raw = train0 - train_eta, train_eta - ntrain_eta, ntrain_eta - test0
    robustness, rationality = max(0.0, robustness_raw), max(0.0, rationality_raw)
    rationality_test_eta = max(0.0, ntrain_eta - test_eta)
    return {
        "generalization_gap": gap, "robustness_gap": robustness, "memorization_gap": memorization,
        "rationality_gap": rationality, "rrm_bound": robustness + memorization + rationality,
        "robustness_raw": robustness_raw, "rationality_raw": rationality_raw,
        "clip_slack": (robustness - robustness_raw) + (rationality - rationality_raw),
        "identity_residual": gap - (robustness_raw + memorization + rationality_raw),
        "test_shift": test_eta - test0, "rationality_gap_test_eta": rationality_test_eta,
        "rrm_bound_test_eta": robustness + memorization + rationality_test_eta,
    }


def description_length_bound(bits: float, n_noisy: int) -> float:
    """sqrt(k ln 2 / (2 m)): OUR bound (genproof's derivation, not the paper's statement:
    notebooks/rrm_decomposition.ipynb, docs/sources/bansal2021.md) on the expected memorization gap
    of a classifier described, given the representation, in k = `bits` bits, with m = `n_noisy`
    noisy points."""
    if bits < 0 or n_noisy < 1:
        raise ValueError(f"bits must be >= 0 and n_noisy >= 1, got bits={bits}, n_noisy={n_noisy}")
    return math.sqrt(bits * math.log(2) / (2 * n_noisy))


def deviation_complexity(deviation: np.ndarray, noise: np.ndarray) -> float:
    """I(Δ; N) in nats, the plug-in mutual information (scikit-learn's `mutual_info_score`) of the
    pairs (Δ_i, N_i): the deviation of the prediction from the original label and the noise added
    to the label, both mod C, pooled over the training points (and runs) given."""
    from sklearn.metrics import mutual_info_score

    deviation, noise = np.asarray(deviation).ravel(), np.asarray(noise).ravel()
    if deviation.shape != noise.shape or deviation.size == 0:
        raise ValueError(f"deviation and noise must be matching non-empty arrays, "
                         f"got {deviation.shape} and {noise.shape}")
    return float(mutual_info_score(deviation, noise))


def deviation_bound(mutual_information: float, eta: float) -> float:
    """sqrt(I / 2) / η: the bound on the memorization gap from the deviation complexity I (nats) at
    noise rate η (Pinsker). On the empirical distribution of one run's pairs, with η the run's
    realized rate m / n, it holds exactly (so a run's value is no evidence on its own:
    docs/sources/bansal2021.md)."""
    if not 0 < eta < 1 or mutual_information < 0:
        raise ValueError(f"eta must be in (0, 1) and the mutual information >= 0, "
                         f"got eta={eta}, I={mutual_information}")
    return math.sqrt(mutual_information / 2) / eta


def theorem2_bound(complexity: float, n_train: int, eta: float) -> float:
    """sqrt(C / (2 n)) / η: Theorem II of bansal2021 in the form the authors' code evaluates
    (docs/sources/bansal2021.md), C = `complexity` (n times a mutual information; nats for Pinsker), n =
    `n_train` training points, η = `eta` the noise rate. `deviation_bound` with I = C / n."""
    if n_train < 1 or complexity < 0:
        raise ValueError(f"n_train must be >= 1 and complexity >= 0, got n_train={n_train}, complexity={complexity}")
    return deviation_bound(complexity / n_train, eta)


def interval(values, confidence: float = 0.95) -> dict:
    """Mean and Student-t interval of the mean (a single value: the interval is that value)."""
    from scipy import stats

    xs = np.asarray([v for v in values if v is not None], dtype=float)
    if xs.size == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(xs.mean())
    if xs.size == 1:
        return {"mean": mean, "low": mean, "high": mean, "n": 1}
    half = float(stats.t.ppf((1 + confidence) / 2, xs.size - 1) * xs.std(ddof=1) / math.sqrt(xs.size))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": int(xs.size)}


def seed_row(clean: dict, noisy: dict, deviation: np.ndarray, noise: np.ndarray, eta: float) -> dict:
    """One seed: the accuracies of its clean and its noisy run (`empirical.noisy.NoisyRun.accuracies`),
    the gaps (`gaps`) and the bounds on the memorization gap and, through it, on the generalization
    gap: ours from the description bits and the realized m (`description_length_bound`), the
    authors' Theorem II form at the nominal `eta` with C = k ln 2 nats and C = k bits
    (`theorem2_bound`), and the deviation bound from the noisy run's (deviation, noise) pairs at the
    realized rate m / n (`deviation_bound`)."""
    row = {"seed": noisy["seed"], "train0": clean["train_acc"], "test0": clean["test_acc"],
           "train_eta": noisy["train_acc"], "ntrain_eta": noisy["ntrain_acc"], "test_eta": noisy["test_acc"],
           "fit_acc_eta": noisy["fit_acc"], "n_train": noisy["n_train"], "n_noisy": noisy["n_noisy"],
           "description_bits": noisy["description_bits"]}
    row.update(gaps(row["train0"], row["test0"], row["train_eta"], row["ntrain_eta"], row["test_eta"]))
    bits, n = row["description_bits"], row["n_train"]
    row["deviation_complexity_nats"] = deviation_complexity(deviation, noise)
    row["mem_bound_description"] = description_length_bound(bits, row["n_noisy"])
    row["mem_bound_authors_nats"] = theorem2_bound(bits * math.log(2), n, eta)
    row["mem_bound_authors_bits"] = theorem2_bound(bits, n, eta)
    row["mem_bound_deviation"] = deviation_bound(row["deviation_complexity_nats"], row["n_noisy"] / n)
    for kind in ("description", "authors_nats", "deviation"):
        bound = row[f"mem_bound_{kind}"]
        row[f"gap_bound_{kind}"] = row["robustness_gap"] + row["rationality_gap"] + bound
        row[f"gap_bound_no_test_{kind}"] = row["robustness_gap"] + bound
    return row


SUMMARY_TERMS = GAPS + ("train0", "test0", "train_eta", "ntrain_eta", "test_eta", "fit_acc_eta", "n_noisy",
                        "clip_slack", "identity_residual", "test_shift", "rationality_gap_test_eta",
                        "rrm_bound_test_eta", "deviation_complexity_nats", "mem_bound_description",
                        "mem_bound_authors_nats", "mem_bound_authors_bits", "mem_bound_deviation",
                        "gap_bound_description", "gap_bound_authors_nats", "gap_bound_deviation",
                        "gap_bound_no_test_description", "gap_bound_no_test_authors_nats",
                        "gap_bound_no_test_deviation")


def decomposition(record: Record, confidence: float = 0.95) -> dict:
    """The RRM decomposition of an `empirical.noisy.experiment` record: `dataset`, `n_train`, `eta`,
    `seeds`, `confidence` and `procedures`, one entry per procedure with `label`, `per_seed` rows
    (`seed_row`), `mean` and `interval` (`interval` at `confidence`) of every term of `SUMMARY_TERMS`,
    `dominant` (the largest of the three gaps, by mean; none if all are <= 0), `description_bits`,
    `pooled_deviation_complexity_nats` (pooled over seeds) and its bound (at the pooled realized
    rate), and `sweep` rows (eta, fit_acc, train_acc, test_acc)."""
    s = record.summary
    eta = s["eta"]
    result = {"dataset": s["dataset"], "n_train": None, "eta": eta, "seeds": s["seeds"], "confidence": confidence,
              "procedures": {}}
    for kind, p in s["procedures"].items():
        pairs = [recorded_deviations(record, kind, r["seed"]) for r in p["runs"]]
        per_seed = [seed_row(r["clean"], r["noisy"], deviation, noise, eta)
                    for r, (deviation, noise) in zip(p["runs"], pairs)]
        noises = np.concatenate([n for _, n in pairs])
        pooled = deviation_complexity(np.concatenate([d for d, _ in pairs]), noises)
        stats = {t: interval([r[t] for r in per_seed], confidence) for t in SUMMARY_TERMS}
        means = {t: v["mean"] for t, v in stats.items()}
        dominant = max(("robustness_gap", "memorization_gap", "rationality_gap"), key=lambda t: means[t])
        if means[dominant] <= 0:
            dominant = "none (all three <= 0)"
        result["procedures"][kind] = {
            "label": p["label"], "per_seed": per_seed, "mean": means, "interval": stats, "dominant": dominant,
            "description_bits": per_seed[0]["description_bits"],
            "pooled_deviation_complexity_nats": pooled,
            "pooled_mem_bound_deviation": deviation_bound(pooled, float(np.mean(noises != 0))),
            "sweep": [{k: r[k] for k in ("eta", "fit_acc", "train_acc", "test_acc")} for r in p["sweep"]],
        }
        result["n_train"] = per_seed[0]["n_train"]
    return result


def report(config: RRMConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """The decomposition of `config`'s experiment (run, or taken from the cache under `root`) as a
    record of its own, `rrm-<hash>/`: summary.json is `decomposition`'s dict, with the figures
    `rrm.png` and, with a sweep, `noise.png`. Only the experiment is cached (`force`: run it again):
    the report is rewritten from it on every call (a second or two), so it always shows what this
    code computes."""
    root = Path(root or default_root())

    def compute(out: Path) -> dict:
        result = decomposition(experiment(config, root, force=force))
        save_figure(decomposition_figure(result), out / "rrm.png")
        if config.sweep:
            save_figure(noise_figure(result), out / "noise.png")
        return result

    return cached_run(root, "rrm", config, compute, force=True)


def decomposition_figure(result: dict):
    """Per procedure: the measured generalization gap beside the stacked robustness, memorization
    and rationality gaps (means over seeds, with the seeds' intervals on the gap)."""
    import matplotlib.pyplot as plt

    procs = list(result["procedures"].values())
    fig, ax = plt.subplots(figsize=(2.6 * len(procs) + 2, 4))
    x = np.arange(len(procs))
    gap = [p["interval"]["generalization_gap"] for p in procs]
    ax.bar(x - 0.2, [g["mean"] for g in gap], 0.35, color="0.4", label="generalization gap",
           yerr=[[g["mean"] - g["low"] for g in gap], [g["high"] - g["mean"] for g in gap]], capsize=4)
    bottom = np.zeros(len(procs))
    for term, color in (("robustness_gap", "C2"), ("memorization_gap", "C3"), ("rationality_gap", "C1")):
        values = np.array([p["mean"][term] for p in procs])
        ax.bar(x + 0.2, values, 0.35, bottom=bottom, color=color, label=term.replace("_", " "))
        bottom += values
    ax.set_xticks(x, [p["label"] for p in procs])
    ax.axhline(0, color="k", lw=0.8)
    ax.set(ylabel="accuracy points (fraction)",
           title=f"RRM decomposition on {result['dataset']}, eta = {result['eta']:g} ({len(result['seeds'])} seeds)")
    ax.legend(fontsize=8)
    return fig


def noise_figure(result: dict):
    """bansal2021's picture: accuracy on the labels trained on (train) and test accuracy against the
    noise rate, for each procedure: SSS train and test fall together, end-to-end train stays at 100%."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, p in enumerate(result["procedures"].values()):
        etas = [r["eta"] for r in p["sweep"]]
        ax.plot(etas, [r["fit_acc"] for r in p["sweep"]], "-o", color=f"C{i}",
                label=f"{p['label']} train (on the labels given)")
        ax.plot(etas, [r["test_acc"] for r in p["sweep"]], "--s", color=f"C{i}", label=f"{p['label']} test")
    ax.set(xlabel="noise rate eta", ylabel="accuracy", ylim=(0, 1.02), title=f"label noise on {result['dataset']}")
    ax.legend(fontsize=8)
    return fig


def markdown(result: dict) -> str:
    """The RRM table: one row per term, one column per procedure, means over seeds with their
    intervals, each row saying what it is; the notes under it say what the bounds bound."""
    from .report import markdown_table

    def cell(p, term):
        iv = p["interval"][term]
        return f"{iv['mean']:.4f} [{iv['low']:.4f}, {iv['high']:.4f}]" if iv["n"] > 1 else f"{iv['mean']:.4f}"

    terms = [("Train(0)", "train0"), ("Test(0)", "test0"), ("Train(eta)", "train_eta"), ("NTrain(eta)", "ntrain_eta"),
             ("Test(eta) (diagnostic)", "test_eta"),
             ("generalization gap Train(0) - Test(0)", "generalization_gap"),
             ("robustness gap max(0, Train(0) - Train(eta))", "robustness_gap"),
             ("memorization gap Train(eta) - NTrain(eta)", "memorization_gap"),
             ("rationality gap max(0, NTrain(eta) - Test(0))", "rationality_gap"),
             ("RRM bound rob + mem + rat (>= gap for any accuracies)", "rrm_bound"),
             ("RRM bound - gap = clipping slack (>= 0)", "clip_slack"),
             ("identity residual gap - (raw rob + mem + raw rat)", "identity_residual"),
             ("diagnostic: test shift Test(eta) - Test(0)", "test_shift"),
             ("diagnostic: rationality gap with Test(eta)", "rationality_gap_test_eta"),
             ("diagnostic: RRM bound with Test(eta)", "rrm_bound_test_eta"),
             ("mem. bound, ours: sqrt(k ln2 / (2m)) [expectation]", "mem_bound_description"),
             ("mem. bound, authors' Theorem II form sqrt(C / (2n)) / eta, C = k ln2 nats", "mem_bound_authors_nats"),
             ("mem. bound, authors' form, C = k bits (as their code computes C)", "mem_bound_authors_bits"),
             ("mem. bound, deviation sqrt(I / 2) / (m/n), plug-in I of the run [holds on every run]",
              "mem_bound_deviation"),
             ("gap bound: rob + rat + ours", "gap_bound_description"),
             ("gap bound without test data: rob + ours", "gap_bound_no_test_description"),
             ("gap bound: rob + rat + authors' form (nats)", "gap_bound_authors_nats"),
             ("gap bound: rob + rat + deviation", "gap_bound_deviation")]
    procs = list(result["procedures"].values())
    header = ["term"] + [p["label"] for p in procs]
    rows = [[name] + [cell(p, key) for p in procs] for name, key in terms]
    rows.append(["k = description length of the classifier given the representation (bits)"]
                + [p["description_bits"] for p in procs])
    rows.append(["dominant gap"] + [p["dominant"].replace("_", " ") for p in procs])
    level = f"{100 * result['confidence']:g}%"
    notes = (
        "\nGaps in accuracy fractions, every accuracy against the original labels (bansal2021, Section 2). "
        "The rationality gap compares with Test(0), as the authors' released tables add up; the Test(eta) rows "
        "are diagnostics. Memorization bounds (Theorem II) bound the memorization gap, not the test error: "
        "*ours* is genproof's derivation (notebooks/rrm_decomposition.ipynb), an upper bound on the memorization "
        "gap in expectation over the noise draw (no confidence level), equal to the authors' form (nats) times "
        "sqrt(eta) when m = eta n; the *authors' form* uses the constants of their code (README, fitlabels.py); "
        "the *deviation* bound uses the plug-in mutual information of the run's own (deviation, noise) pairs "
        "and holds deterministically on that empirical distribution (Pinsker), so it is no evidence on its own. "
        "A gap bound is robustness + rationality + a memorization bound (the rationality gap uses test data).\n")
    return (f"## RRM decomposition (bansal2021) on `{result['dataset']}`, n = {result['n_train']}, "
            f"eta = {result['eta']:g}, seeds {result['seeds']} (mean [{level} interval])\n\n"
            + markdown_table(header, rows) + notes)


def main(argv: list[str] | None = None) -> int:
    from empirical import cli

    parser = cli.new_parser("python -m genproof.rrm", __doc__.split("\n\n")[0])
    cli.add_data_options(parser, dataset="mnist1d", sizes="the tier's: at quick 10,000 / 2,000 on mnist1d, else the whole split")
    cli.add_tier_option(parser)
    cli.add_seeds_option(parser, default=None)
    parser.add_argument("--eta", type=cli.open_unit_interval, help="noise rate (default: the tier's, 0.2)")
    parser.add_argument("--sweep", type=cli.rate_list, help="comma-separated noise rates for the train/test-vs-noise figure")
    cli.add_out_option(parser)
    cli.add_log_option(parser)
    cli.add_force_option(parser, "train again even where the record root has the runs")
    args = parser.parse_args(argv)

    def make():
        config = tier_config(args.tier, args.dataset, args.data_dir)
        changes = {k: v for k, v in (("eta", args.eta), ("seeds", args.seeds), ("sweep", args.sweep)) if v}
        return report(replace(config, data=cli.with_sizes(config.data, args), **changes), args.out, force=args.force)

    return cli.run_report(make, markdown, args=args)


if __name__ == "__main__":
    sys.exit(main())
