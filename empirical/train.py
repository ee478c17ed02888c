"""The one training loop every experiment uses.

`train(model, data, config, seed=..., evals=..., objective=...)` has two seams:
- a **batch source** (`empirical.batches`): the loop asks it for its next minibatch. `Resident`
  is a seeded permutation walk over tensors resident on the device (passing `(x, y)` builds one);
  `WithReplacement` draws minibatches with replacement; `Stream` hands out fresh minibatches from
  a generator, never reusing an example (the Ideal World of nakkiran2021);
- an **objective** (`empirical.objectives`): the loss of a minibatch, `objective(model, x, y)`.
  Cross-entropy is the default; SimCLR's NT-Xent and an autoencoder's reconstruction
  (`empirical.sss`) are others. An objective that is an `nn.Module` may own parameters (a
  projection head): they are trained with the model.
Evaluation sets are optional and named (`evals={"train": (x, y), "test": (x, y), ...}`); each
evaluation row holds `<name>_loss`, `<name>_acc` (and `<name>_soft_error`) for every set, and
`batch_loss`, the objective on the last minibatch.

Speed decisions, each named where it acts (after airbench):
- the data set lives on the device for the whole run and minibatches are drawn by index from a
  seeded permutation: no DataLoader, no host-to-device copy per step;
- augmentation (random crops, i.e. shifts, of images and 1-D signals, and optionally horizontal
  flips of images) runs on the device, on the whole minibatch at once;
- on CUDA the forward pass runs under bf16 autocast and image models use channels_last;
- on CUDA image models are compiled (`torch.compile`, `TrainConfig.compile`), SGD and Adam take
  fused optimizer steps, and evaluation sums its counts on the device (one host sync per set).

Determinism: the permutation, the augmentation and dropout are drawn from generators seeded by
`seed`; on the CPU the same seed gives the same numbers.

Update rules are registered in `empirical.update_rules.UPDATE_RULES`: a rule receives the whole
minibatch and the loss function, so rules that need more than one gradient per step fit without
touching the loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from empirical.batches import AUGMENTATIONS, BatchSource, Resident
from empirical.objectives import Objective, cross_entropy
from empirical.progress import Progress
from empirical.update_rules import UPDATE_RULES

LR_SCHEDULES = ("constant", "inverse-time", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """How to train. `max_steps` is the step budget; `stop_at_fit` stops at 100% training
    accuracy (measured on the whole training set, in eval mode, at every evaluation);
    `lr_decay` multiplies the learning rate after every epoch (zhang2017 uses 0.95);
    `lr_schedule` "inverse-time" sets the step size of step t = 1, 2, ... to lr / t instead (the
    alpha_t <= c/t of Hardt, Recht and Singer's Theorem 3.12, with c = lr), and "cosine" sets step
    t = 0, 1, ..., T - 1 to lr (1 + cos(pi t / T)) / 2, T = max_steps (nakkiran2021's schedule, taken
    at every step where the authors' CosineAnnealingLR moves in 100 stairs); lr_decay must then be 1;
    `eval_every` evaluates every that many steps instead of once per epoch, `eval_at` at exactly
    the steps it lists (a log-spaced grid, denser early); `augment` is
    "none", "crop" (zhang2017's random cropping) or "crop+flip" (the usual CIFAR recipe);
    `epochs`, a budget in passes over the data (a source with epochs): training ends at whichever
    of `max_steps` and `epochs` comes first (`max_steps=None`: epochs alone).
    `compile`: whether the model runs through `torch.compile` (the batch size dynamic, so the
    short last batch of an epoch and the evaluation batches share one graph per mode); None, the
    default, compiles image models (4-D inputs) trained on cross-entropy on CUDA and nothing on the
    CPU. A field at its default is left out of the hash, so every earlier run's hash is unchanged;
    on CUDA the default is fixed by the device, which the hash holds. `time_limit_s`: stop after
    this many seconds of the loop (evaluations included), checked after every step; a budget like
    `max_steps`, but one whose step count depends on the machine: for benchmarks with a deadline,
    not for claims."""

    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_decay: float = 1.0
    batch_size: int = 128
    max_steps: int | None = 10_000
    stop_at_fit: bool = True
    augment: str = "none"
    lr_schedule: str = "constant"
    eval_every: int | None = None
    eval_at: tuple[int, ...] | None = None
    soft_error: bool = False
    device: str = "auto"
    compile: bool | None = None
    time_limit_s: float | None = None
    progress: bool | None = field(default=None, metadata={"identity": False})
    epochs: int | None = None

    def __post_init__(self):
        UPDATE_RULES.check(self.optimizer)
        # the device is part of what a run is: "auto" is resolved here, before the config is hashed
        object.__setattr__(self, "device", str(resolve_device(self.device)))
        if self.max_steps is None and self.epochs is None:
            raise ValueError("give a budget: max_steps, epochs or both")
        for name in ("lr", "batch_size", "max_steps"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.epochs is not None and (self.epochs < 1 or self.lr_schedule == "cosine"):
            raise ValueError(f"epochs must be >= 1 and needs a schedule that does not end at max_steps (not cosine), "
                             f"got epochs={self.epochs}, lr_schedule={self.lr_schedule!r}")
        if self.lr_schedule != "constant" and self.lr_decay != 1:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} sets every step's size: lr_decay must be 1")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be a positive number of seconds or None, got {self.time_limit_s}")
        if self.eval_every is not None and self.eval_every <= 0:
            raise ValueError(f"eval_every must be a positive number of steps or None, got {self.eval_every}")
        if self.eval_at is not None:
            if self.eval_every is not None:
                raise ValueError("give eval_every or eval_at, not both")
            if not self.eval_at or any(not isinstance(t, int) or t < 1 for t in self.eval_at):
                raise ValueError(f"eval_at must be a non-empty tuple of steps >= 1, got {self.eval_at!r}")
            object.__setattr__(self, "eval_at", tuple(sorted(set(self.eval_at))))


@dataclass(frozen=True)
class TrainResult:
    """What happened: `history` holds one record per evaluation (step, epoch, lr, batch_loss, then
    `<name>_loss`, `<name>_acc`[, `<name>_soft_error`] for every evaluation set, wall_s). `epochs`
    is None for a source without epochs (a stream); the step counts are None for a model trained by
    its user's own function (`empirical.trainers`)."""

    history: tuple[dict, ...]
    steps: int | None
    epochs: float | None
    fitted: bool
    steps_to_fit: int | None
    epochs_to_fit: float | None
    wall_s: float

    @property
    def final(self) -> dict:
        return self.history[-1]

    def summary(self) -> dict:
        """The numbers a claim reads: the last evaluation and the fit statistics."""
        out = {k: v for k, v in self.final.items() if k not in ("step", "epoch", "lr", "batch_loss", "wall_s")}
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name != "history"})
        return out


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` is CUDA when present, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no GPU; pass --device cpu or auto")
    return device


def scheduled_lr(config: TrainConfig, step: int) -> float:
    """The step size of step `step` (0, 1, ...) under `config.lr_schedule` "inverse-time" or "cosine"."""
    if config.lr_schedule == "inverse-time":
        return config.lr / (step + 1)
    return config.lr * (1 + math.cos(math.pi * step / config.max_steps)) / 2


# --- evaluation ---------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2048,
             soft_error: bool = False) -> dict:
    """Mean cross-entropy `loss`, accuracy `acc` and, if asked, `soft_error` = 1 - mean softmax
    probability of the true class (nakkiran2021 Section 3), in eval mode; restores the mode.
    Speed: the sums accumulate on the device, in float64 (each batch's float32 sum added exactly as
    a Python float would add it), and are read once at the end: one host sync, not three a batch."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, correct, soft
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        if device.type == "cuda" and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            logits = model(xb).float()
        sums[0] += F.cross_entropy(logits, yb, reduction="sum").double()
        sums[1] += (logits.argmax(1) == yb).sum()
        if soft_error:
            sums[2] += logits.softmax(1).gather(1, yb[:, None]).sum().double()
    model.train(was_training)
    loss, correct, soft = sums.tolist()
    out = {"loss": loss / len(x), "acc": correct / len(x)}
    if soft_error:
        out["soft_error"] = 1 - soft / len(x)
    return out


def _autocast(device: torch.device):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _checked_evals(evals: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None, device) -> dict:
    out = {}
    for name, pair in (evals or {}).items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"evals[{name!r}] must be a pair (inputs, labels)")
        x, y = pair
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"evaluation set {name!r}: inputs and labels differ in length or are empty "
                             f"({len(x)} vs {len(y)})")
        out[name] = (x.to(device), y.to(device))
    return out


# --- the loop -----------------------------------------------------------------------------------

def _compiles(config: TrainConfig, device: torch.device, x: torch.Tensor, objective: Objective) -> bool:
    """`config.compile`, or by default: on CUDA, for image inputs (4-D) and the default objective
    (other objectives sample or project inside their loss, which would break the graph)."""
    if config.compile is not None:
        return config.compile
    return device.type == "cuda" and x.dim() == 4 and objective is cross_entropy


def train(model: nn.Module, data: BatchSource | tuple[torch.Tensor, torch.Tensor], config: TrainConfig, *,
          seed: int = 0, evals: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
          objective: Objective = cross_entropy,
          probes: Mapping[str, Callable[[nn.Module], Mapping[str, float]]] | None = None) -> TrainResult:
    """Train `model` in place on the minibatches of `data` (a `BatchSource`, or `(x, y)` for a
    `Resident` walk with `config.batch_size` and `config.augment`, seeded by `seed`) to lower
    `objective`, evaluating on every set of `evals` once per epoch (or every `config.eval_every`
    steps, or at the steps of `config.eval_at`, and at the last step), until `config.max_steps` (or `config.epochs`),
    or until 100% accuracy on the set named "train" when `config.stop_at_fit`. `probes`: more
    measurements taken at every evaluation, `probe(model) -> {key: number}`, recorded in the row
    as `<name>_<key>` (the coherence of per-example gradients on a fixed sample, say); a probe
    must not draw from the global random generator, or the run's numbers change with it."""
    device = resolve_device(config.device)
    evals = _checked_evals(evals, device)
    if config.stop_at_fit and "train" not in evals:
        raise ValueError("stop_at_fit needs an evaluation set named 'train' (evals={'train': (x, y), ...}); "
                         "or pass a TrainConfig with stop_at_fit=False")
    generator = torch.Generator().manual_seed(seed)
    if isinstance(data, (tuple, list)):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"inputs and labels differ in length: {len(x)} vs {len(y)}")
        # Speed: the whole data set is resident on the device; batches are index lookups.
        data = Resident(x.to(device), y.to(device), config.batch_size, generator, augment=config.augment)
    if data.steps_per_epoch is None and (config.epochs is not None or (config.eval_every is None and config.eval_at is None)):
        raise ValueError("a source without epochs (a stream) needs config.eval_every or config.eval_at, and a "
                         "budget in steps (max_steps), not epochs")
    budget = min(b for b in (config.max_steps, config.epochs and config.epochs * data.steps_per_epoch) if b)
    eval_at = frozenset(config.eval_at or ())
    model.to(device)
    channels_last = False
    forward: nn.Module = model  # what the objective and the evaluations call: the model, or its compiled form
    trained: nn.Module = model
    if isinstance(objective, nn.Module):  # an objective with parameters (a projection head) trains with the model
        objective.to(device)
        trained = nn.ModuleList([model, objective])
    rule = UPDATE_RULES.get(config.optimizer)(trained, config)
    project = getattr(objective, "project", None)

    def loss_fn(xb, yb):
        with _autocast(device):
            return objective(forward, xb, yb)

    def record(step, loss):
        row = {"step": step, "epoch": None if data.steps_per_epoch is None else step / data.steps_per_epoch,
               "lr": rule.optimizer.param_groups[0]["lr"], "batch_loss": loss.item()}
        for name, (x_eval, y_eval) in evals.items():
            row.update({f"{name}_{k}": v for k, v in evaluate(forward, x_eval, y_eval, soft_error=config.soft_error).items()})
        for name, probe in (probes or {}).items():
            row.update({f"{name}_{k}": v for k, v in probe(model).items()})
        row["wall_s"] = time.perf_counter() - start
        return row

    start = time.perf_counter()
    history, fit_step = [], None
    # progress None: a bar on a terminal, else a line every 30 s; the time left is "at most" when
    # training stops at fit
    bar = Progress(budget, "train", "step", config.progress,
                   stops_early="stops at 100% train accuracy" if config.stop_at_fit else None)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # dropout draws from the global generator, seeded here and restored after
        trained.train()
        step, epoch = 0, data.epoch
        while step < budget:
            xb, yb = data.next_batch()
            if data.epoch != epoch:
                if step > 0:  # a new pass over the data: the per-epoch learning-rate decay
                    for group in rule.optimizer.param_groups:
                        group["lr"] *= config.lr_decay
                epoch = data.epoch
            if config.lr_schedule != "constant":
                for group in rule.optimizer.param_groups:
                    group["lr"] = scheduled_lr(config, step)
            xb = xb.to(device, non_blocking=True)
            yb = None if yb is None else yb.to(device, non_blocking=True)
            if device.type == "cuda" and xb.dim() == 4:  # speed: NHWC convolutions on tensor cores
                if not channels_last:
                    model.to(memory_format=torch.channels_last)
                    channels_last = True
                xb = xb.contiguous(memory_format=torch.channels_last)
            if step == 0 and _compiles(config, device, xb, objective):
                # speed: one compiled graph per mode (train, eval), the batch size dynamic
                forward = torch.compile(model, dynamic=True)
            loss = rule.step(loss_fn, xb, yb)
            if project is not None:
                with torch.no_grad():
                    project(model)
            step += 1
            bar.update(1)
            if config.eval_every:
                due = step % config.eval_every == 0
            else:
                due = step in eval_at if config.eval_at else data.epoch_end
            out_of_time = config.time_limit_s is not None and time.perf_counter() - start >= config.time_limit_s
            if due or step == budget or out_of_time:
                history.append(record(step, loss))
                shown = {"loss": f"{history[-1]['batch_loss']:.3f}"}
                if "train_acc" in history[-1]:
                    shown["train_acc"] = f"{history[-1]['train_acc']:.3f}"
                bar.set_postfix(shown)
                if history[-1].get("train_acc") == 1.0 and fit_step is None:
                    fit_step = step
                    if config.stop_at_fit:
                        break
                if out_of_time:
                    break
    bar.close()
    per_epoch = data.steps_per_epoch
    return TrainResult(
        history=tuple(history),
        steps=step,
        epochs=None if per_epoch is None else step / per_epoch,
        fitted=fit_step is not None,
        steps_to_fit=fit_step,
        epochs_to_fit=None if fit_step is None or per_epoch is None else fit_step / per_epoch,
        wall_s=time.perf_counter() - start,
    )

