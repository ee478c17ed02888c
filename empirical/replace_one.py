"""The experiments behind uniform stability (hardt2016: Hardt, Recht, Singer, "Train faster,
generalize better: Stability of stochastic gradient descent", ICML 2016):

- `measure_stability`: train twice on data sets that differ in one example (Section 2), with the
  same initialisation, seed and minibatch order, and measure how far apart the two runs end;
- `surrogate_fit`: the run hardt2016's non-convex theorem (3.12) speaks about: plain SGD with the
  steps alpha_t = c/t on `MarginRamp`, a loss in [0, 2] that is smooth in the logits and bounds the
  0-1 loss from above, on minibatches drawn uniformly with replacement, afresh at every step
  (`empirical.train.WithReplacement`: the stochastic gradient method, SGM, of the theorem, and the
  sampling our minibatch form assumes, notebooks/minibatch_stability.ipynb). Its records are named
  `surrogate-sgm-<hash>`: the runs recorded as `surrogate-fit-<hash>` walked a permutation per epoch
  and are not read as these.

The bounds they are compared with are in `genproof.stability`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from empirical.batches import WithReplacement
from empirical.data import Dataset
from empirical.fit import DataConfig, FitConfig, corrupted_data
from empirical.models import ModelConfig, build
from empirical.records import Record, cached_run, default_root, load_state
from empirical.train import TrainConfig, train

PerExampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, y) -> losses, one per example


def soft_margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """m(z, y) = z_y - log sum_{k != y} exp(z_k): at most the margin z_y - max_{k != y} z_k, so
    m > 0 whenever the prediction is right; smooth in the logits (a log-sum-exp)."""
    own = logits.gather(1, y[:, None])[:, 0]
    others = logits.scatter(1, y[:, None], float("-inf"))
    return own - torch.logsumexp(others, dim=1)


def ramp(u: torch.Tensor) -> torch.Tensor:
    """phi(u): 1 for u <= 0, 1 - 2u^2 on [0, 1/2], 2(1 - u)^2 on [1/2, 1], 0 for u >= 1. In [0, 1],
    non-increasing, continuously differentiable, |phi'| <= 2 and |phi''| <= 4 (a quadratic spline)."""
    v = u.clamp(0, 1)
    return torch.where(v <= 0.5, 1 - 2 * v**2, 2 * (1 - v) ** 2)


@dataclass(frozen=True)
class MarginRamp:
    """The training objective and per-example loss l(w; (x, y)) = 2 phi((m + margin) / (2 margin)),
    with phi = `ramp` and m the `soft_margin` of the logits. It lies in [0, 2] (`SUP`), equals 2 for
    m <= -margin, 0 for m >= margin, and is at least 1 where m <= 0 (phi(1/2) = 1/2): at least the
    0-1 loss. Its gradient is non-zero for -margin < m < margin, so SGD learns from misclassified
    examples whose margin exceeds -margin (at initialisation m is about -log(K - 1)). In the logits
    it is Lipschitz and smooth with constants 2 sqrt(2) / margin and 4 / margin^2 + 1 / margin
    (`genproof.stability.margin_ramp_constants`)."""

    margin: float = 4.0
    SUP = 2.0

    def __post_init__(self):
        if self.margin <= 0:
            raise ValueError(f"margin must be positive, got {self.margin}")

    def per_example(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 2 * ramp((soft_margin(logits.float(), y) + self.margin) / (2 * self.margin))

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.per_example(model(x), y).mean()


def cross_entropy_per_example(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), y, reduction="none")


@dataclass(frozen=True)
class StabilityMeasurement:
    """Two runs that differ only in training example `index` (replaced by a test example):
    ||w - w'|| and, per test example z, |f(w; z) - f(w'; z)|."""

    index: int
    parameter_distance: float
    test_loss_differences: tuple[float, ...]

    @property
    def max_test_loss_difference(self) -> float:
        return max(self.test_loss_differences)


def replace_one(data: Dataset, index: int, by: int) -> Dataset:
    """`data` with training example `index` replaced by test example `by` (a fresh draw from the
    distribution), everything else, the order included, unchanged."""
    x, y = data.x_train.clone(), data.y_train.clone()
    x[index], y[index] = data.x_test[by], data.y_test[by]
    return data.replace(x_train=x, y_train=y)


@torch.no_grad()
def _losses(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: PerExampleLoss) -> torch.Tensor:
    model.eval()
    return loss(model(x), y)


def sgm_batches(x: torch.Tensor, y: torch.Tensor, config: TrainConfig, seed: int) -> WithReplacement:
    """Minibatches of `config.batch_size` drawn uniformly with replacement at every step, seeded by
    `seed`: two runs on data sets that differ in one example draw the same indices."""
    return WithReplacement(x, y, config.batch_size, torch.Generator().manual_seed(seed))


def measure_stability(data: Dataset, model: ModelConfig, config: TrainConfig, indices: Sequence[int],
                      seed: int = 0, loss: PerExampleLoss = cross_entropy_per_example,
                      by: int | None = None, with_replacement: bool = False) -> list[StabilityMeasurement]:
    """Train on `data` and, for the k-th index of `indices`, on `data` with that training example
    replaced by test example k (test example `by` for every index, if given), with the same
    initialisation, seed and minibatch order (a permutation walk per epoch, or with
    `with_replacement` the indices `sgm_batches` draws), for
    `config.max_steps` steps (no stopping at fit), minimising the mean of the per-example `loss`
    (cross-entropy unless given); measure ||w - w'|| and |f(w; z) - f(w'; z)| for every test z
    (uniform stability bounds their sup over z, in expectation over the algorithm)."""
    config = replace(config, stop_at_fit=False, eval_every=config.max_steps, progress=False)

    def objective(net, x, y):
        return loss(net(x), y).mean()

    def run(ds: Dataset) -> nn.Module:
        net = build(model, ds.input_shape, ds.num_classes, seed=seed)
        batches = sgm_batches(ds.x_train, ds.y_train, config, seed) if with_replacement else (ds.x_train, ds.y_train)
        train(net, batches, config, seed=seed, objective=objective, evals={"train": (ds.x_train, ds.y_train)})
        return net.cpu()

    base = run(data)
    w = nn.utils.parameters_to_vector(base.parameters())
    ref = _losses(base, data.x_test, data.y_test, loss)
    out = []
    for k, i in enumerate(indices):
        other = run(replace_one(data, i, by=k if by is None else by))
        out.append(StabilityMeasurement(
            index=int(i),
            parameter_distance=(nn.utils.parameters_to_vector(other.parameters()) - w).norm().item(),
            test_loss_differences=tuple((_losses(other, data.x_test, data.y_test, loss) - ref).abs().tolist()),
        ))
    return out


@dataclass(frozen=True)
class SurrogateFitConfig:
    """A run for hardt2016's Theorem 3.12: `model` on `data` (with `corruption`, seeded by `seed`, as
    in `empirical.fit.FitConfig`), trained on `MarginRamp(margin)` by plain SGD (no momentum, no
    weight decay, no augmentation) with the steps alpha_t = c / t (`train.lr` is c) for exactly
    `train.max_steps` steps, on minibatches drawn with replacement at every step (`sgm_batches`)."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig(lr=1.0, momentum=0.0, lr_schedule="inverse-time", stop_at_fit=False)
    corruption: str = "true"
    seed: int = 0
    margin: float = 4.0

    def __post_init__(self):
        required = {"optimizer": "sgd", "momentum": 0.0, "weight_decay": 0.0, "lr_schedule": "inverse-time",
                    "augment": "none", "stop_at_fit": False}
        wrong = {k: getattr(self.train, k) for k, v in required.items() if getattr(self.train, k) != v}
        if wrong:
            raise ValueError(f"train must be plain SGD with alpha_t = c/t for a fixed number of steps {required}; "
                             f"got {wrong}")
        MarginRamp(self.margin)

    @property
    def fit(self) -> FitConfig:
        """The same data, model and seed as an `empirical.fit` run (for its data and initialisation)."""
        return FitConfig(self.data, self.model, self.train, self.corruption, self.seed)


def surrogate_fit(config: SurrogateFitConfig, root: str | Path | None = None, force: bool = False) -> Record:
    """Train (or take from the cache under `root`) the run `config`; saves `model.pt`.

    summary.json: train_error, test_error (0-1, on the labels trained on / the test labels),
    train_surrogate, test_surrogate (mean `MarginRamp` loss), steps, c, batch_size, n_train,
    n_test, num_classes, input_shape."""
    objective = MarginRamp(config.margin)

    def compute(out: Path) -> dict:
        ds = corrupted_data(config.fit).data
        model = build(config.model, ds.input_shape, ds.num_classes, seed=config.seed)
        t = config.train  # no epochs with replacement: evaluated every `eval_every` steps, else at the end
        t = t if t.eval_every or t.eval_at else replace(t, eval_every=t.max_steps)
        result = train(model, sgm_batches(ds.x_train, ds.y_train, t, config.seed), t, seed=config.seed,
                       objective=objective, evals={"train": (ds.x_train, ds.y_train), "test": (ds.x_test, ds.y_test)})
        torch.save(model.state_dict(), out / "model.pt")
        model = model.cpu()
        s = result.final
        return {"train_error": 1 - s["train_acc"], "test_error": 1 - s["test_acc"],
                "train_surrogate": _losses(model, ds.x_train, ds.y_train, objective.per_example).mean().item(),
                "test_surrogate": _losses(model, ds.x_test, ds.y_test, objective.per_example).mean().item(),
                "steps": result.steps, "c": config.train.lr, "batch_size": config.train.batch_size,
                "n_train": ds.n_train, "n_test": ds.n_test, "num_classes": ds.num_classes,
                "input_shape": list(ds.input_shape)}

    return cached_run(root or default_root(), "surrogate-sgm", config, compute, force=force)


def load_surrogate_model(record: Record, config: SurrogateFitConfig) -> nn.Module:
    """The trained network of a `surrogate_fit` record, on the CPU, in eval mode."""
    s = record.summary
    model = build(config.model, tuple(s["input_shape"]), s["num_classes"], seed=config.seed)
    model.load_state_dict(load_state(record, "model.pt"))
    return model.eval()
