"""The experiments of chatterjee2020 (Coherent Gradients, ICLR 2020; Weak and Strong Gradient
Directions, arXiv 2003.07422; Making Coherence Out of Nothing At All, arXiv 2008.01217; On the
Generalization Mystery in Deep Learning, arXiv 2203.10036), each a function from a frozen config
to a cached record:

- `track` (`TrackConfig`): train on a (possibly corrupted) data set and record the coherence
  alpha and the m-coherence of the per-example gradients on a fixed sample of m training examples
  (`coherence_sample`) every `TrainConfig.eval_every` steps, in `metrics.jsonl`; `REAL_VS_RANDOM`
  holds the tier presets of its comparison of true against random labels;
- `noisy_optimizers` (`NoisyConfig`): train with a fraction `eta` of the training labels replaced
  (each by a different class), once per update rule (`sgd`, `m3`, `rm3`, `winsorized:C`, ...),
  and record train accuracy on the pristine and on the corrupt examples (against the labels
  trained on) and test accuracy over training;
- `easy_first` (`EasyFirstConfig`): per training example, the cosine of its gradient at
  initialisation with the mean gradient, and the evaluation (epoch) from which it stays classified
  right;
- `coherence_run` (`BoundRunConfig`): full-batch gradient descent with `MarginRamp` on a linear
  classifier, the coherence of the training set and the misfit of one replacing point measured at
  every step, and the replace-one runs (`replace_one.measure_stability`, every training example
  replaced by that point) that `genproof.coherence.replace_one_bound` is compared with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from empirical.corruptions import corrupt
from empirical.fit import DataConfig
from empirical.gradients import coherence_probe, per_example_gradients
from empirical.models import ModelConfig, build
from empirical.objectives import cross_entropy
from empirical.records import Record, cached_run, default_root, save_figure, write_jsonl
from empirical.replace_one import MarginRamp, measure_stability
from empirical.tiers import check
from empirical.train import TrainConfig, train


def coherence_sample(n_train: int, m: int, seed: int) -> torch.Tensor:
    """The indices of the m training examples whose gradients are measured (seeded, without replacement)."""
    if not 1 <= m <= n_train:
        raise ValueError(f"the coherence sample size m must be in [1, n_train={n_train}], got {m}")
    return torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))[:m]


@dataclass(frozen=True)
class TrackConfig:
    """Train `model` on `data` with `corruption`, measuring coherence on `m` training examples
    every `train.eval_every` steps (and at the last step)."""

    data: DataConfig = DataConfig("digits")
    model: ModelConfig = ModelConfig("mlp", width=512, depth=1)
    train: TrainConfig = TrainConfig(lr=0.01, momentum=0.9, batch_size=128, max_steps=600, stop_at_fit=False,
                                     eval_every=20)
    corruption: str = "true"
    m: int = 256
    seed: int = 0

    def __post_init__(self):
        if self.train.eval_every is None:
            raise ValueError("coherence is tracked every train.eval_every steps: give TrainConfig(eval_every=K)")


def track(config: TrackConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """metrics.jsonl: per evaluation `step`, `epoch`, `train_acc`, `test_acc`, `coh_alpha`,
    `coh_m_coherence` and `coh_alpha/<param>`; the first row is step 0 (initialisation).
    summary.json: `m`, `steps_per_epoch`, `n_train`, `corruption`."""

    def compute(out: Path) -> dict:
        ds = corrupt(config.data.load(), config.corruption, seed=config.seed).data
        idx = coherence_sample(ds.n_train, config.m, config.seed)
        model = build(config.model, ds.input_shape, ds.num_classes, seed=config.seed)
        probe = coherence_probe(model, ds.x_train[idx], ds.y_train[idx])
        first = {"step": 0, "epoch": 0.0, **{f"coh_{k}": v for k, v in probe(model).items()}}
        evals = {"train": (ds.x_train, ds.y_train), "test": (ds.x_test, ds.y_test)}
        result = train(model, (ds.x_train, ds.y_train), config.train, seed=config.seed, evals=evals,
                       probes={"coh": probe})
        rows = [first, *result.history]
        write_jsonl(out / "metrics.jsonl", rows)
        save_figure(figure_coherence({config.corruption: rows}, config.m), out / "m_coherence.png")
        return {"m": config.m, "n_train": ds.n_train, "corruption": config.corruption,
                "steps_per_epoch": -(-ds.n_train // config.train.batch_size), **result.summary()}

    return cached_run(root or default_root(), "coherence-track", config, compute, force=force)


# The tier presets of the comparison of true against random labels (`track` once per data set, seed
# and label set, with `TrackConfig`'s model): the claim chatterjee2020.real-more-coherent and the tool
# `python -m genproof.coherence` both read them. `epochs`: the window, from initialisation, over
# which the m-coherence is averaged.
_TRACK = TrainConfig(lr=0.01, momentum=0.9, batch_size=128, max_steps=80, stop_at_fit=False, eval_every=8)
REAL_VS_RANDOM = {
    "quick": {"data": (DataConfig("digits"), DataConfig("fashion-mnist", n_train=2000, n_test=1000)),
              "train": _TRACK, "m": 256, "epochs": 5, "seeds": (0, 1)},
    "full": {"data": (DataConfig("fashion-mnist"),), "train": replace(_TRACK, max_steps=2000, eval_every=50),
             "m": 1024, "epochs": 5, "seeds": (0, 1, 2)},
}


def figure_coherence(curves: dict[str, list[dict]], m: int):
    """m-coherence of the fixed sample against epoch, one curve per label set (`track`'s rows), with
    the orthogonal baseline 1 (the papers' figure: real labels above random ones early in training)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, rows in curves.items():
        ax.plot([r["epoch"] for r in rows], [r["coh_m_coherence"] for r in rows], label=name)
    ax.axhline(1.0, color="grey", ls=":", label="orthogonal (1)")
    ax.set(xlabel="epoch", ylabel=f"m-coherence (m = {m})", yscale="log", title="coherence of per-example gradients")
    ax.legend()
    return fig


def figure_noisy(rows: list[dict], eta: float):
    """Train accuracy on the pristine and on the corrupt examples (given labels) and test accuracy
    against minibatches, one panel per update rule (`noisy_optimizers`' rows)."""
    import matplotlib.pyplot as plt

    rules = list(dict.fromkeys(r["rule"] for r in rows))
    fig, axes = plt.subplots(1, len(rules), figsize=(3.2 * len(rules), 3.2), sharey=True, squeeze=False)
    for ax, rule in zip(axes[0], rules):
        mine = [r for r in rows if r["rule"] == rule]
        for key, label in (("pristine", "train, pristine"), ("corrupt", "train, corrupt (given labels)"),
                           ("test", "test")):
            ax.plot([r["step"] for r in mine], [r[f"{key}_acc"] for r in mine], label=label)
        ax.set(xlabel="minibatches", ylim=(0, 1.02), title=rule)
    axes[0][0].set(ylabel="accuracy")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"{eta:.0%} label noise")
    return fig


@dataclass(frozen=True)
class NoisyConfig:
    """Each update rule of `rules` trains `model` on `data` with a fraction `eta` of the training
    labels replaced (`labels:ETA`), from the same initialisation and minibatch order; `train` is
    the shared config (its optimizer is replaced by each rule; m3, rm3 and ra3 run with momentum 0)."""

    data: DataConfig = DataConfig("digits", n_train=400)
    model: ModelConfig = ModelConfig("mlp", width=128, depth=1)
    train: TrainConfig = TrainConfig(lr=0.3, momentum=0.0, batch_size=32, max_steps=1500, stop_at_fit=False,
                                     eval_every=250)
    rules: tuple[str, ...] = ("sgd", "m3", "rm3", "winsorized:20")
    eta: float = 0.5
    seed: int = 0


def noisy_optimizers(config: NoisyConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """metrics.jsonl: per rule and evaluation `rule`, `step`, `pristine_acc`, `corrupt_acc` (train
    accuracy on the labels trained on, on the pristine and the corrupt examples), `corrupt_true_acc`
    (the corrupt examples against their original labels), `test_acc`. summary.json: per rule its
    last row, and `n_corrupt`, `n_train`."""

    def compute(out: Path) -> dict:
        clean = config.data.load()
        noisy = corrupt(clean, f"labels:{float(config.eta)!r}", seed=config.seed)
        ds, mask = noisy.data, noisy.mask
        evals = {"pristine": (ds.x_train[~mask], ds.y_train[~mask]), "corrupt": (ds.x_train[mask], ds.y_train[mask]),
                 "corrupt_true": (clean.x_train[mask], clean.y_train[mask]), "test": (ds.x_test, ds.y_test)}
        rows, last = [], {}
        for rule in config.rules:
            cfg = replace(config.train, optimizer=rule,
                          momentum=0.0 if rule in ("m3", "rm3", "ra3") else config.train.momentum)
            model = build(config.model, ds.input_shape, ds.num_classes, seed=config.seed)
            result = train(model, (ds.x_train, ds.y_train), cfg, seed=config.seed, evals=evals)
            keep = [{"rule": rule, "step": r["step"], **{f"{k}_acc": r[f"{k}_acc"] for k in evals}}
                    for r in result.history]
            rows += keep
            last[rule] = keep[-1]
        write_jsonl(out / "metrics.jsonl", rows)
        save_figure(figure_noisy(rows, config.eta), out / "accuracy.png")
        return {"rules": last, "n_corrupt": int(mask.sum()), "n_train": ds.n_train}

    return cached_run(root or default_root(), "noisy-optimizers", config, compute, force=force)


@dataclass(frozen=True)
class EasyFirstConfig:
    """Train on `data` (true labels) and, per training example, record the cosine of its gradient
    at initialisation with the mean training gradient and the first evaluation from which it is
    classified right at every later evaluation."""

    data: DataConfig = DataConfig("digits")
    model: ModelConfig = ModelConfig("mlp", width=512, depth=1)
    train: TrainConfig = TrainConfig(lr=0.1, momentum=0.9, batch_size=128, max_steps=120, stop_at_fit=False,
                                     eval_every=2)
    seed: int = 0


def easy_first(config: EasyFirstConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """examples.npz: `cosine` (n_train,), the cosine of g_i(w_0) with (1/n) sum_j g_j(w_0);
    `learned_at` (n_train,), the step from which the example is right at every evaluation (-1: not
    by the end); `right_at_init`, classified right before training; `steps`, the evaluation steps. summary.json: `n_train`, `train_acc`, `test_acc`."""

    def compute(out: Path) -> dict:
        ds = config.data.load()
        model = build(config.model, ds.input_shape, ds.num_classes, seed=config.seed)
        model.eval()
        grads = per_example_gradients(model, lambda a, b: cross_entropy(model, a, b), ds.x_train, ds.y_train)
        flat = torch.cat([g.double().flatten(1) for g in grads.values()], 1)
        mean = flat.mean(0)
        cosine = (flat @ mean) / (flat.norm(dim=1) * mean.norm()).clamp_min(1e-300)
        with torch.no_grad():
            right_at_init = (model(ds.x_train).argmax(1) == ds.y_train).numpy()
        right = []

        def correct(net):
            with torch.no_grad():
                right.append((net(ds.x_train).argmax(1) == ds.y_train).numpy())
            return {}

        result = train(model, (ds.x_train, ds.y_train), config.train, seed=config.seed,
                       evals={"train": (ds.x_train, ds.y_train), "test": (ds.x_test, ds.y_test)},
                       probes={"right": correct})
        steps = np.array([r["step"] for r in result.history])
        right = np.stack(right)  # (evaluations, n)
        stays = np.flip(np.logical_and.accumulate(np.flip(right, 0), 0), 0)  # right from here on
        learned_at = np.where(stays.any(0), steps[stays.argmax(0)], -1)
        np.savez(out / "examples.npz", cosine=cosine.numpy(), learned_at=learned_at, steps=steps,
                 right_at_init=right_at_init)
        return {"n_train": ds.n_train, "train_acc": result.final["train_acc"], "test_acc": result.final["test_acc"]}

    return cached_run(root or default_root(), "easy-first", config, compute, force=force)


@dataclass(frozen=True)
class BoundRunConfig:
    """Full-batch gradient descent (constant step `lr`, no momentum) for `steps` steps on a linear
    classifier with the `MarginRamp` loss (`margin`) over `data`; per step, on the training set, the
    second moment and coherence of the per-example gradients and the misfit of test example
    `replacement`; one replace-one run per training example, each replaced by that test example."""

    data: DataConfig = DataConfig("digits", n_train=200)
    lr: float = 0.05
    steps: int = 100
    margin: float = 4.0
    replacement: int = 0
    seed: int = 0


def coherence_run(config: BoundRunConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """summary.json, per step t = 0 .. T-1 at the weights w_t on the training set S (g the per-example
    MarginRamp gradients, gbar their mean over S, g' the replacing point's): `second_moments`
    E_S||g||^2, `alphas` ||gbar||^2 / E_S||g||^2, `misfits` ||gbar - g'||^2; and `lr`, `steps`, `m`
    (n_train), `margin`, `replacement`, `final_train_acc`, `replace_one_max_diff` (per training
    example i: max over test z of |f(w_T; z) - f(w^(i)_T; z)|), `parameter_distance` (per i)."""

    def compute(out: Path) -> dict:
        ds = config.data.load()
        model_config = ModelConfig("mlp", depth=0)
        loss = MarginRamp(config.margin)
        tc = TrainConfig(optimizer="sgd", lr=config.lr, momentum=0.0, batch_size=ds.n_train, max_steps=config.steps,
                         stop_at_fit=False, eval_every=1, progress=False)
        model = build(model_config, ds.input_shape, ds.num_classes, seed=config.seed)
        x, y = ds.x_train, ds.y_train
        z = slice(config.replacement, config.replacement + 1)
        xz, yz = ds.x_test[z], ds.y_test[z]

        def moments(net):
            def flat(a, b):
                grads = per_example_gradients(net, lambda u, v: loss(net, u, v), a, b)
                return torch.cat([g.double().flatten(1) for g in grads.values()], 1)

            g = flat(x, y)
            mean = g.mean(0)
            second = g.pow(2).sum(1).mean().item()
            return {"second_moment": second, "alpha": mean.pow(2).sum().item() / second if second > 0 else float("nan"),
                    "misfit": (mean - flat(xz, yz)[0]).pow(2).sum().item()}

        rows = [moments(model)]
        result = train(model, (x, y), tc, seed=config.seed, objective=loss, evals={"train": (x, y)},
                       probes={"coh": moments})
        rows += [{k: r[f"coh_{k}"] for k in rows[0]} for r in result.history[:-1]]  # at w_t for t = 1 .. T-1
        pairs = measure_stability(ds, model_config, replace(tc, eval_every=None), range(ds.n_train),
                                  seed=config.seed, loss=loss.per_example, by=config.replacement)
        write_jsonl(out / "metrics.jsonl", result.history)
        return {"second_moments": [r["second_moment"] for r in rows], "alphas": [r["alpha"] for r in rows],
                "misfits": [r["misfit"] for r in rows], "lr": config.lr, "steps": config.steps, "m": ds.n_train,
                "margin": config.margin, "replacement": config.replacement,
                "final_train_acc": result.final["train_acc"],
                "replace_one_max_diff": [p.max_test_loss_difference for p in pairs],
                "parameter_distance": [p.parameter_distance for p in pairs]}

    return cached_run(root or default_root(), "coherence-bound", config, compute, force=force)


@dataclass(frozen=True)
class RealVsRandomConfig:
    """`track` on `data` with `train`, on true and on random labels, for each of `seeds`; the
    m-coherence is measured on m training examples and averaged over the first `epochs` epochs."""

    data: DataConfig
    train: TrainConfig
    m: int
    epochs: float
    seeds: tuple[int, ...]

    def track_config(self, corruption: str, seed: int) -> TrackConfig:
        return TrackConfig(self.data, train=self.train, corruption=corruption, m=self.m, seed=seed)


def tier_config(tier: str, dataset: str = "digits", data_dir: str | None = None) -> RealVsRandomConfig:
    """The tier's preset (`REAL_VS_RANDOM`) on `dataset`: the preset's own data config where it names
    that data set (so the claim's records are reused), else the whole data set."""
    preset = REAL_VS_RANDOM[check(tier)]
    data = next((d for d in preset["data"] if d.name == dataset), DataConfig(dataset))
    return RealVsRandomConfig(replace(data, data_dir=data_dir), preset["train"], preset["m"], preset["epochs"],
                              tuple(preset["seeds"]))
