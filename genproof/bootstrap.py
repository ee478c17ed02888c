"""The Deep Bootstrap decomposition of nakkiran2021 (Nakkiran, Neyshabur, Sedghi, "The Deep Bootstrap
Framework: Good Online Learners are Good Offline Generalizers", ICLR 2021, arXiv 2010.08127),
as formulas of the curves that `empirical.deep_bootstrap.experiment` records, and the tool that
draws its Figure 1. Where genproof differs from the paper and the authors' code:
docs/sources/nakkiran2021.md.

    TestError(f_t) = TestError(f_t^iid) + [TestError(f_t) - TestError(f_t^iid)]     (Section 2)

f_t is the Real World's network after t steps on N samples, f_t^iid the Ideal World's after t
steps on fresh samples; the bracket is the bootstrap error, measured with the soft-error,
1 - mean softmax probability of the true label (the authors' `test_all` in inftrain/train.py).
The claim (Section 3): for t up to the stopping time T_D(N), the bootstrap error is at most a small
epsilon. T_D is the first evaluated step at which a seed-mean Real World train curve falls below a
threshold, under each rule of `STOPPING_RULES` (`JUDGED_RULE` is the one the claims judge). Curves
are averaged over trials (seeds) before any formula is applied.

    python -m genproof.bootstrap [--dataset mnist1d] [--models mlp:3x128,mlp:3x256,cnn:16]
        [--tier quick] [--augment none] [--seeds 0,1,2] [--n-train N] [--n-test N] [--max-steps T]
        [--batch-size B] [--data-dir DIR] [--out ROOT] [--force]

runs both worlds of every model and writes the record `bootstrap-<hash>/`: summary.json (the
analysis below), `figure1.png` (test soft-error against steps, real solid, ideal dashed, one colour
per model, T_D marked) and `scatter.png` (real against ideal test soft-error, every evaluated step
of every run, with the diagonal).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from empirical.deep_bootstrap import BootstrapConfig, experiment, tier_config
from empirical.models import ModelConfig, parse_spec
from empirical.records import Record, cached_run, default_root, save_figure
from empirical.worlds import eval_grid

from .ranking import kendall_tau

# T_D(N) under each rule: the first evaluated step whose Real World train curve is below the threshold
STOPPING_RULES = {"train-error<1%": ("train_error", 0.01),  # genproof's
                  "train-loss<0.01": ("train_loss", 0.01)}  # the authors' --earlystop (inftrain/train.py)
JUDGED_RULE = "train-error<1%"


def stopping_time(steps, curve, threshold: float) -> int | None:
    """The first of `steps` whose value on `curve` is below `threshold` (strictly); None if none is."""
    return next((int(s) for s, e in zip(steps, curve) if e < threshold), None)


def stopping_times(steps, train_error, train_loss) -> dict[str, int | None]:
    """T_D under every rule of `STOPPING_RULES`, from one train-error and one train-loss curve."""
    curves = {"train_error": train_error, "train_loss": train_loss}
    return {rule: stopping_time(steps, curves[key], threshold) for rule, (key, threshold) in STOPPING_RULES.items()}


def bootstrap_error(real_soft_error, ideal_soft_error) -> np.ndarray:
    """TestSoftError(f_t) - TestSoftError(f_t^iid), step by step (nakkiran2021, Section 2)."""
    real, ideal = np.asarray(real_soft_error, float), np.asarray(ideal_soft_error, float)
    if real.shape != ideal.shape:
        raise ValueError(f"the two worlds must be evaluated at the same steps, got {real.shape} and {ideal.shape}")
    return real - ideal


def _mean(runs, key) -> np.ndarray:
    return np.mean([r[key] for r in runs], axis=0)


def model_analysis(entry: dict, steps_total: int, augment: str = "none") -> dict:
    """The numbers of one model (its `runs` over seeds, from the experiment's summary, trained with
    `augment`): the seed-mean curves (`*_curve`, at `steps`); `stopping_time`, T_D under
    `JUDGED_RULE` of the mean train curves on the authors' training set (`train_set`: "augmented"
    or "clean"; None: the Real World never met the rule within T), each seed's (`stopping_times`),
    T_D under every rule (`stopping_time_by_rule`) and, with augmentation, on the clean samples
    (`stopping_time_clean`, by rule); `max_abs_bootstrap_before_stop`, the largest |mean bootstrap
    error| at the evaluated steps t <= T_D (all steps if T_D is None), with its step and the seeds' standard
    deviation of the bootstrap error there (`seed_sd_at_max`); at the last step T: `real_test_error`,
    `ideal_test_error`, `real_test_soft_error`, `ideal_test_soft_error`, `bootstrap_error_end`; and
    after T_D, how much each world's test soft-error fell (`real_drop_after_stop`,
    `ideal_drop_after_stop`; None without a T_D)."""
    runs = entry["runs"]
    steps = np.asarray(runs[0]["steps"])
    if any(r["steps"] != runs[0]["steps"] for r in runs):
        raise ValueError("every trial of a model must be evaluated at the same steps")
    real, ideal = _mean(runs, "real_test_soft_error"), _mean(runs, "ideal_test_soft_error")
    per_seed = np.array([bootstrap_error(r["real_test_soft_error"], r["ideal_test_soft_error"]) for r in runs])
    boot = bootstrap_error(real, ideal)
    fit_set = "augmented_train" if augment != "none" else "train"
    if f"real_{fit_set}_error" not in runs[0]:
        raise ValueError(f"the runs were trained with augment {augment!r} but hold no {fit_set} curves")
    by_rule = stopping_times(steps, _mean(runs, f"real_{fit_set}_error"), _mean(runs, f"real_{fit_set}_loss"))
    td = by_rule[JUDGED_RULE]
    before = steps <= (td if td is not None else steps_total)
    k = int(np.argmax(np.where(before, np.abs(boot), -1)))
    at_td = int(np.searchsorted(steps, td)) if td is not None else None
    return {
        "steps": steps.tolist(), "real_test_soft_error_curve": real.tolist(),
        "ideal_test_soft_error_curve": ideal.tolist(),
        "real_train_error_curve": _mean(runs, f"real_{fit_set}_error").tolist(),
        "bootstrap_error_curve": boot.tolist(), "train_set": "augmented" if augment != "none" else "clean",
        "stopping_rule": JUDGED_RULE, "stopping_time": td, "stopping_time_by_rule": by_rule,
        "stopping_time_clean": stopping_times(steps, _mean(runs, "real_train_error"), _mean(runs, "real_train_loss"))
        if augment != "none" else None,
        "stopping_times": [stopping_times(r["steps"], r[f"real_{fit_set}_error"], r[f"real_{fit_set}_loss"])[JUDGED_RULE]
                           for r in runs],
        "max_abs_bootstrap_before_stop": float(abs(boot[k])), "at_step": int(steps[k]),
        "seed_sd_at_max": float(per_seed[:, k].std(ddof=1)) if len(runs) > 1 else None,
        "real_test_error": float(_mean(runs, "real_test_error")[-1]),
        "ideal_test_error": float(_mean(runs, "ideal_test_error")[-1]),
        "real_test_soft_error": float(real[-1]), "ideal_test_soft_error": float(ideal[-1]),
        "bootstrap_error_end": float(boot[-1]),
        "real_drop_after_stop": None if at_td is None else float(real[at_td] - real[-1]),
        "ideal_drop_after_stop": None if at_td is None else float(ideal[at_td] - ideal[-1]),
    }


def analysis(summary: dict) -> dict:
    """Per model `model_analysis`, and Kendall's tau between the ranking of the models by Ideal World
    test soft-error at T and by Real World test error at T (`tau`; None with fewer than 2 models)."""
    models = {name: model_analysis(entry, summary["steps"], summary["augment"])
              for name, entry in summary["models"].items()}
    names = list(models)
    tau = kendall_tau([models[n]["ideal_test_soft_error"] for n in names],
                      [models[n]["real_test_error"] for n in names]) if len(names) > 1 else None
    return {k: summary[k] for k in ("dataset", "n_train", "steps", "batch_size", "augment", "seeds")} | {
        "models": models, "tau": tau}


def figure1(result: dict):
    """nakkiran2021 Figure 1: test soft-error against steps, Real World solid and Ideal World dashed,
    one colour per model (seed means), T_D marked by a dotted line and a dot on the real curve."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (name, m) in enumerate(result["models"].items()):
        colour = f"C{i}"
        ax.plot(m["steps"], m["real_test_soft_error_curve"], "-", color=colour, label=f"{name}: real")
        ax.plot(m["steps"], m["ideal_test_soft_error_curve"], "--", color=colour, label=f"{name}: ideal")
        if m["stopping_time"] is not None:
            k = m["steps"].index(m["stopping_time"])
            ax.axvline(m["stopping_time"], color=colour, ls=":", lw=1)
            ax.plot([m["stopping_time"]], [m["real_test_soft_error_curve"][k]], "o", color=colour, ms=5)
    ax.set(xscale="log", xlabel="SGD step t", ylabel="test soft-error", ylim=(0, None),
           title=f"{result['dataset']}: real (N={result['n_train']}, solid) vs ideal (dashed); dotted: T_D")
    ax.legend(fontsize=7, ncol=2)
    return fig


def scatter(result: dict, summary: dict):
    """Real World against Ideal World test soft-error, every evaluated step of every trial and model,
    with the diagonal (the paper's real-vs-ideal scatter); steps after T_D hollow."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    for i, (name, entry) in enumerate(summary["models"].items()):
        td = result["models"][name]["stopping_time"]
        for j, r in enumerate(entry["runs"]):
            steps, real, ideal = (np.asarray(r[k]) for k in ("steps", "real_test_soft_error", "ideal_test_soft_error"))
            after = steps > td if td is not None else np.zeros(len(steps), bool)
            ax.scatter(ideal[~after], real[~after], s=9, color=f"C{i}", label=name if j == 0 else None)
            ax.scatter(ideal[after], real[after], s=9, facecolors="none", edgecolors=f"C{i}")
    top = ax.get_xlim()[1]
    ax.plot([0, top], [0, top], "k-", lw=0.8)
    ax.set(xlabel="Ideal World test soft-error", ylabel="Real World test soft-error", aspect="equal",
           title="filled: t <= T_D, hollow: t > T_D")
    ax.legend(fontsize=7)
    return fig


def report(config: BootstrapConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """The analysis of `config`'s experiment (run, or taken from the cache under `root`) as a record
    `bootstrap-<hash>/` with `figure1.png` and `scatter.png`; only the experiment is cached (`force`
    runs it again), the report is rewritten from it on every call."""
    root = Path(root or default_root())

    def compute(out: Path) -> dict:
        summary = experiment(config, root, force=force).summary
        result = analysis(summary)
        save_figure(figure1(result), out / "figure1.png")
        save_figure(scatter(result, summary), out / "scatter.png")
        return result

    return cached_run(root, "bootstrap", config, compute, force=True)


def markdown(result: dict) -> str:
    """The report's table: per model T_D under each rule, the largest |bootstrap error| up to T_D
    (judged rule), the errors at T."""
    other = next(r for r in STOPPING_RULES if r != JUDGED_RULE)
    rows = [f"| model | T_D, {JUDGED_RULE} (per seed) | T_D, {other} | max abs bootstrap error, t <= T_D (at step) "
            "| real / ideal test soft-error at T | real / ideal test error at T |", "|---|---|---|---|---|---|"]
    for name, m in result["models"].items():
        rows.append(f"| {name} | {m['stopping_time']} ({', '.join(map(str, m['stopping_times']))}) | "
                    f"{m['stopping_time_by_rule'][other]} | "
                    f"{m['max_abs_bootstrap_before_stop']:.4f} ({m['at_step']}) | {m['real_test_soft_error']:.4f} / "
                    f"{m['ideal_test_soft_error']:.4f} | {m['real_test_error']:.4f} / {m['ideal_test_error']:.4f} |")
    tau = "n/a" if result["tau"] is None else f"{result['tau']:.3f}"
    head = (f"{result['dataset']}, N = {result['n_train']}, T = {result['steps']} steps of {result['batch_size']}, "
            f"augment {result['augment']}, seeds {result['seeds']}; Kendall's tau (ideal soft-error vs real error "
            f"at T) = {tau}; T_D on the {'augmented' if result['augment'] != 'none' else 'clean'} training samples "
            f"(the authors' training loader), bootstrap errors up to T_D under {JUDGED_RULE}")
    return "\n".join([head, "", *rows])


def parse_models(text: str) -> tuple[ModelConfig, ...]:
    """Model specs (`empirical.models.parse_spec`: `mlp:3x128`, `cnn:16`, a name), comma-separated."""
    out = tuple(parse_spec(spec) for spec in text.split(",") if spec.strip())
    if not out:
        raise ValueError("--models needs at least one model, e.g. mlp:3x128,cnn:16")
    return out


def main(argv: list[str] | None = None) -> int:
    from empirical import cli
    from empirical.batches import AUGMENTATIONS
    from empirical.data import POOLS, SAMPLABLE

    parser = cli.new_parser("python -m genproof.bootstrap", __doc__.split("\n\n")[0])
    cli.add_data_options(parser, dataset="mnist1d", choices=(*SAMPLABLE, *POOLS), sizes="the tier's")
    parser.add_argument("--models", help="comma-separated: mlp:DEPTHxWIDTH, cnn:CHANNELS or a model name "
                                         "(default: the tier's)")
    parser.add_argument("--augment", default="none", choices=AUGMENTATIONS,
                        help="augmentation of both worlds' batches (TrainConfig.augment; default %(default)s)")
    cli.add_max_steps_option(parser, "T, in each world; default: the tier's")
    parser.add_argument("--batch-size", type=cli.positive_int, metavar="B", help="default: the tier's")
    cli.add_tier_option(parser)
    cli.add_seeds_option(parser, default=None)
    cli.add_device_option(parser)
    cli.add_out_option(parser)
    cli.add_log_option(parser)
    cli.add_force_option(parser, "train again even where the record root has the runs")
    args = parser.parse_args(argv)

    def make():
        config = tier_config(args.tier, args.dataset, args.augment, args.data_dir,
                             parse_models(args.models) if args.models else None)
        train = config.train
        if args.max_steps or args.batch_size:
            steps = args.max_steps or train.max_steps
            train = replace(train, max_steps=steps, batch_size=args.batch_size or train.batch_size,
                            eval_at=eval_grid(steps, 40))
        train = replace(train, device=args.device)
        config = replace(config, data=cli.with_sizes(config.data, args), train=train, seeds=args.seeds or config.seeds)
        return report(config, args.out, force=args.force)

    return cli.run_report(make, markdown, args=args)


if __name__ == "__main__":
    sys.exit(main())
