"""Coherence of per-example gradients and a replace-one stability bound it enters (chatterjee2020).
Where genproof differs from the papers, and what is our own: docs/sources/chatterjee2020.md.

Measured quantities come from `empirical.gradients` (per-example gradients, `coherence_moments`,
`coherence`); this module holds the formulas around them.

- alpha = ||E g||^2 / E||g||^2 = E[g . g'] / E[g . g] (z, z' independent draws from the sample):
  Chatterjee and Zielinski, "On the Generalization Mystery in Deep Learning", arXiv 2203.10036,
  Section 4. m-coherence = m * alpha: Zielinski and Chatterjee, "Making Coherence Out of Nothing At
  All", arXiv 2008.01217 (1 for m orthogonal gradients of equal norm, m for identical ones).
- `orthogonal_alpha(m)` = 1/m, the value for m mutually orthogonal gradients of equal norm.
- `minibatch_alpha(alpha, k)` = k alpha / (1 + (k - 1) alpha): the coherence of minibatch gradients
  (means of k examples drawn with replacement) when single examples have coherence alpha (our
  derivation, notebooks/coherence.ipynb).
- `replace_one_bound` and `gradient_spread`: a bound on replace-one stability along full-batch
  gradient descent in which the coherence of the training sample enters (OUR DERIVATION,
  notebooks/coherence.ipynb). S^(i) is S with example i replaced by one point z'; w_t are the
  iterates on S; g = the per-example gradient at w_t, gbar its mean over S. For an L-Lipschitz,
  beta-smooth loss and steps eta_t,
  (1/m) sum_i sup_z |f(w_T; z) - f(w^(i)_T; z)|
      <= (L/m) sum_t [prod_{k>t} (1 + eta_k beta)] eta_t sqrt(E_S||g||^2 (1 - alpha_S) + ||gbar - g_z'||^2),
  every term at w_{t-1}: the growth recursion of Hardt, Recht and Singer (2016, Lemma 2.5) for the
  (1 + eta beta)-expansive full-batch step.

The tool: `report` runs (or takes from the record store) `empirical.coherent.track` on true and on
random labels for each seed of a tier preset (`empirical.coherent.REAL_VS_RANDOM`, the one the claim
chatterjee2020.real-more-coherent reads) and writes, as a record `coherence-real-vs-random-<hash>/`,
one figure of both curves (`m_coherence.png`), the curves (`metrics.jsonl`) and per seed the mean
m-coherence over the first epochs (`early_mean`) on true and random labels and their ratio.

    python -m genproof.coherence --tier quick --seeds 0,1
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from empirical.coherent import RealVsRandomConfig, tier_config, track
from empirical.records import Record, cached_run, default_root, save_figure, write_jsonl


def orthogonal_alpha(m: int) -> float:
    """alpha for m mutually orthogonal per-example gradients of equal norm: 1/m."""
    if m < 1:
        raise ValueError(f"m must be a positive sample size, got {m}")
    return 1.0 / m


def minibatch_alpha(alpha: float, k: int) -> float:
    """The coherence of means of k per-example gradients drawn with replacement, when single
    examples have coherence `alpha`: k alpha / (1 + (k - 1) alpha) (our derivation, notebooks/coherence.ipynb)."""
    if k < 1 or not 0 <= alpha <= 1:
        raise ValueError(f"need a minibatch size k >= 1 and alpha in [0, 1], got k={k}, alpha={alpha}")
    return k * alpha / (1 + (k - 1) * alpha)


def gradient_spread(second_moments: Sequence[float], alphas: Sequence[float],
                    misfits: Sequence[float]) -> list[float]:
    """Per step, sqrt(E_S||g||^2 (1 - alpha_S) + ||gbar - g_z'||^2) = sqrt(E_S||g - g_z'||^2): at least
    the mean over i of ||g_{z_i} - g_z'|| (Jensen). Our derivation (notebooks/coherence.ipynb)."""
    if not len(second_moments) == len(alphas) == len(misfits):
        raise ValueError(f"need one second moment, alpha and misfit per step, got {len(second_moments)}, "
                         f"{len(alphas)}, {len(misfits)}")
    return [math.sqrt((max(0.0, s * (1 - a)) if s > 0 else 0.0) + mu)
            for s, a, mu in zip(second_moments, alphas, misfits)]


def replace_one_bound(L: float, beta: float, m: int, lrs: Sequence[float], differences: Sequence[float]) -> float:
    """(L / m) sum_t [prod_{k>t} (1 + eta_k beta)] eta_t D_{t-1}, t = 1..T, with `lrs` = (eta_1, ..., eta_T)
    and `differences` = (D_0, ..., D_{T-1}), D_t >= the mean over replaced i of ||g_{z_i}(w_t) - g_z'(w_t)||:
    a bound on the mean over i of sup_z |f(w_T; z) - f(w^(i)_T; z)| for full-batch gradient descent
    with an L-Lipschitz, beta-smooth loss (our derivation, notebooks/coherence.ipynb; `gradient_spread`
    gives D from the sample's coherence, D = 2L is the worst case)."""
    if len(lrs) != len(differences) or not lrs:
        raise ValueError(f"need one gradient difference per step (D_0 .. D_(T-1)), got {len(differences)} for "
                         f"{len(lrs)} steps")
    if m < 1 or L < 0 or beta < 0:
        raise ValueError(f"need m >= 1, L >= 0, beta >= 0; got m={m}, L={L}, beta={beta}")
    total, growth = 0.0, 1.0
    for eta, d in zip(reversed(lrs), reversed(differences)):  # from t = T down: growth = prod_{k>t}(1 + eta_k beta)
        total += growth * eta * d
        growth *= 1 + eta * beta
    return L / m * total


# ---- the tool: m-coherence on true against random labels -------------------------------------

LABELS = {"true": "true labels", "random-labels": "random labels"}  # corruption -> what the table calls it


def early_mean(rows: Sequence[dict], steps_per_epoch: int, epochs: float) -> float:
    """The mean m-coherence (`coh_m_coherence`) of `track`'s rows at steps 0 .. epochs * steps_per_epoch
    (initialisation included): the measure of the claim chatterjee2020.real-more-coherent."""
    values = [r["coh_m_coherence"] for r in rows if r["step"] <= epochs * steps_per_epoch]
    if not values:
        raise ValueError(f"no evaluation in the first {epochs} epochs")
    return sum(values) / len(values)


def report(config: RealVsRandomConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """The comparison as a record of its own, `coherence-real-vs-random-<hash>/`: summary.json (per
    seed the early means on true and random labels and their ratio), metrics.jsonl (the curves: `seed`,
    `labels`, `step`, `epoch`, `m_coherence`, `train_acc`) and `m_coherence.png`. Only the `track` runs
    are cached (`force`: run them again); the report is rewritten from them on every call."""
    root = Path(root or default_root())

    def compute(out: Path) -> dict:
        curves, seeds, per_epoch = [], [], None
        for seed in config.seeds:
            row = {"seed": seed}
            for corruption in LABELS:
                record = track(config.track_config(corruption, seed), root, force=force)
                per_epoch = record.summary["steps_per_epoch"]
                rows = record.metrics()
                row[corruption] = early_mean(rows, per_epoch, config.epochs)
                row[f"{corruption}_record"] = record.path.name
                curves += [{"seed": seed, "labels": corruption, "step": r["step"], "epoch": r["epoch"],
                            "m_coherence": r["coh_m_coherence"], "train_acc": r.get("train_acc")} for r in rows]
            row["ratio"] = row["true"] / row["random-labels"]
            seeds.append(row)
        write_jsonl(out / "metrics.jsonl", curves)
        result = {"dataset": config.data.name, "m": config.m, "epochs": config.epochs, "steps_per_epoch": per_epoch,
                  "window_steps": config.epochs * per_epoch, "orthogonal_m_coherence": config.m * orthogonal_alpha(config.m),
                  "seeds": seeds, "min_ratio": min(r["ratio"] for r in seeds)}
        save_figure(figure(result, curves), out / "m_coherence.png")
        return result

    return cached_run(root, "coherence-real-vs-random", config, compute, force=True)


def figure(result: dict, curves: list[dict]):
    """m-coherence against epoch on one plot: true labels solid, random labels dashed, one color per
    seed, the orthogonal baseline m alpha = 1 dotted, the averaging window shaded."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.axvspan(0, result["epochs"], color="0.92", zorder=0)
    styles = {"true": "-", "random-labels": "--"}
    for i, row in enumerate(result["seeds"]):
        for corruption, ls in styles.items():
            mine = [c for c in curves if c["seed"] == row["seed"] and c["labels"] == corruption]
            ax.plot([c["epoch"] for c in mine], [c["m_coherence"] for c in mine], ls, color=f"C{i}", lw=1.6)
    ax.axhline(result["orthogonal_m_coherence"], color="k", ls=":", lw=1.2)
    handles = ([Line2D([], [], color=f"C{i}", lw=1.6) for i in range(len(result["seeds"]))]
               + [Line2D([], [], color="0.3", ls=ls) for ls in styles.values()]
               + [Line2D([], [], color="k", ls=":"), plt.Rectangle((0, 0), 1, 1, color="0.92")])
    labels = ([f"seed {r['seed']}" for r in result["seeds"]] + [LABELS[c] for c in styles]
              + ["orthogonal, m$\\cdot\\alpha$ = 1", f"first {result['epochs']:g} epochs (table)"])
    ax.set(xlabel="epoch", ylabel=f"m-coherence (m = {result['m']})", yscale="log", xlim=(0, None),
           title=f"coherence of per-example gradients on {result['dataset']}: true vs random labels")
    ax.title.set_fontsize(10)

    def minor(v, _):  # plain numbers: every minor tick over a short range, else 2 and 5 of each decade
        low, high = ax.get_ylim()
        return f"{v:g}" if high / low < 30 or f"{v:.0e}"[0] in "25" else ""

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(minor))
    ax.legend(handles, labels, fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    return fig


def markdown(result: dict) -> str:
    """Per seed: the mean m-coherence over the first epochs on true and on random labels, and their ratio."""
    from .report import markdown_table

    rows = [[r["seed"], r["true"], r["random-labels"], r["ratio"]] for r in result["seeds"]]
    return (f"## m-coherence on true against random labels (chatterjee2020) on `{result['dataset']}`, "
            f"m = {result['m']}\n\nmean over the first {result['epochs']:g} epochs (steps 0 to "
            f"{result['window_steps']:g}, initialisation included)\n\n"
            + markdown_table(["seed", "true labels", "random labels", "ratio true / random"], rows)
            + f"\nm-coherence = m alpha: {result['orthogonal_m_coherence']:g} for m orthogonal gradients of "
              f"equal norm, m for identical ones.\n")


def main(argv: list[str] | None = None) -> int:
    from empirical import cli

    parser = cli.new_parser("python -m genproof.coherence",
                            "m-coherence of per-example gradients along training on true against random labels "
                            "(chatterjee2020): one figure and a table per seed.")
    cli.add_data_options(parser, sizes="the tier preset's where it names the data set (quick: 2,000 / 1,000 on "
                                       "fashion-mnist), else the whole split")
    cli.add_tier_option(parser)
    cli.add_seeds_option(parser, default=None)
    cli.add_out_option(parser)
    cli.add_log_option(parser)
    cli.add_force_option(parser, "train again even where the record root has the runs")
    args = parser.parse_args(argv)

    def make():
        config = tier_config(args.tier, args.dataset, args.data_dir)
        config = replace(config, data=cli.with_sizes(config.data, args), seeds=args.seeds or config.seeds)
        return report(config, args.out, force=args.force)

    return cli.run_report(make, markdown, written=" (figure: m_coherence.png)", args=args)


if __name__ == "__main__":
    sys.exit(main())
