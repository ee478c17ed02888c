"""The one training loop every experiment uses.

Speed decisions, each named where it acts (after airbench):
- the data set lives on the device for the whole run and minibatches are drawn by index from a
  seeded permutation: no DataLoader, no host-to-device copy per step;
- augmentation (random crops, i.e. shifts, of images and 1-D signals, and optionally horizontal
  flips of images) runs on the device, on the whole minibatch at once;
- on CUDA the forward pass runs under bf16 autocast and image models use channels_last.

Determinism: the permutation, the augmentation and dropout are drawn from generators seeded by
`seed`; on the CPU the same seed gives the same numbers.

Update rules are pluggable (`register_update_rule`): a rule receives the whole minibatch and the
loss function, so rules that need more than one gradient per step (median of three minibatches,
winsorized per-example gradients) fit without touching the loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Callable, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

AUGMENTATIONS = ("none", "crop", "crop+flip")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainConfig:
    """How to train. `max_steps` is the step budget; `stop_at_fit` stops at 100% training
    accuracy (measured on the whole training set, in eval mode, at every evaluation);
    `lr_decay` multiplies the learning rate after every epoch (zhang2017 uses 0.95);
    `eval_every` evaluates every that many steps instead of once per epoch; `augment` is
    "none", "crop" (zhang2017's random cropping) or "crop+flip" (the usual CIFAR recipe)."""

    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_decay: float = 1.0
    batch_size: int = 128
    max_steps: int = 10_000
    stop_at_fit: bool = True
    augment: str = "none"
    eval_every: int | None = None
    soft_error: bool = False
    device: str = "auto"
    progress: bool | None = field(default=None, metadata={"identity": False})

    def __post_init__(self):
        if self.optimizer not in UPDATE_RULES:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; known: {', '.join(sorted(UPDATE_RULES))}")
        for name in ("lr", "batch_size", "max_steps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.eval_every is not None and self.eval_every <= 0:
            raise ValueError(f"eval_every must be a positive number of steps or None, got {self.eval_every}")


@dataclass(frozen=True)
class TrainResult:
    """What happened: `history` holds one record per evaluation (step, epoch, lr, train_loss,
    train_acc, test_loss, test_acc[, train_soft_error, test_soft_error], wall_s)."""

    history: tuple[dict, ...]
    steps: int
    epochs: float
    fitted: bool
    steps_to_fit: int | None
    epochs_to_fit: float | None
    wall_s: float

    @property
    def final(self) -> dict:
        return self.history[-1]

    def summary(self) -> dict:
        """The numbers a claim reads: the last evaluation and the fit statistics."""
        out = {k: v for k, v in self.final.items() if k not in ("step", "epoch", "lr", "wall_s")}
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name != "history"})
        return out


class UpdateRule(Protocol):
    """One optimisation step on a minibatch; returns the minibatch loss (a detached scalar)."""

    optimizer: torch.optim.Optimizer

    def step(self, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


UPDATE_RULES: dict[str, Callable[[nn.Module, TrainConfig], UpdateRule]] = {}


def register_update_rule(name: str):
    """Decorator: register `factory(model, config) -> UpdateRule` under `name`."""

    def decorate(factory):
        UPDATE_RULES[name] = factory
        return factory

    return decorate


class GradientStep:
    """The ordinary rule: backpropagate the minibatch loss, then step a torch optimizer."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer

    def step(self, loss_fn, x, y):
        self.optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(x, y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


@register_update_rule("sgd")
def _sgd(model, config):
    return GradientStep(torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                        weight_decay=config.weight_decay))


@register_update_rule("adam")
def _adam(model, config):
    return GradientStep(torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` is CUDA when present, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no GPU; pass --device cpu or auto")
    return device


def augment(x: torch.Tensor, generator: torch.Generator, flip: bool = True) -> torch.Tensor:
    """Random crop with zero padding (1/8 of each side, 4 pixels at 32x32) on every spatial axis,
    and, with `flip`, a horizontal flip of half the images; on the device of `x`, one draw per
    example."""
    if x.dim() not in (3, 4):
        raise ValueError(f"augmentation needs inputs of shape (C, L) or (C, H, W); got {tuple(x.shape[1:])}")
    n, spatial = x.shape[0], x.shape[2:]
    pads = [max(1, s // 8) for s in spatial]
    padded = F.pad(x, [p for p in reversed(pads) for _ in (0, 1)])
    index: list[torch.Tensor] = [torch.arange(n, device=x.device), torch.arange(x.shape[1], device=x.device)]
    for axis, (size, pad) in enumerate(zip(spatial, pads)):
        shift = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
        index.append(shift[:, None] + torch.arange(size, device=x.device))
    if len(spatial) == 1:
        return padded[index[0][:, None, None], index[1][None, :, None], index[2][:, None, :]]
    out = padded[index[0][:, None, None, None], index[1][None, :, None, None],
                 index[2][:, None, :, None], index[3][:, None, None, :]]
    if flip:
        flipped = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        out = torch.where(flipped[:, None, None, None], out.flip(-1), out)
    return out


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2048,
             soft_error: bool = False) -> dict:
    """Mean cross-entropy `loss`, accuracy `acc` and, if asked, `soft_error` = 1 - mean softmax
    probability of the true class (nakkiran2021 Section 3), in eval mode; restores the mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    loss = correct = soft = 0.0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        with _autocast(device):
            logits = model(xb).float()
        loss += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
        if soft_error:
            soft += logits.softmax(1).gather(1, yb[:, None]).sum().item()
    model.train(was_training)
    out = {"loss": loss / len(x), "acc": correct / len(x)}
    if soft_error:
        out["soft_error"] = 1 - soft / len(x)
    return out


def _autocast(device: torch.device):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def train(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
          y_test: torch.Tensor, config: TrainConfig, seed: int = 0) -> TrainResult:
    """Train `model` in place on (x_train, y_train), evaluating on both sets once per epoch (or
    every `config.eval_every` steps), until 100% training accuracy or `config.max_steps`."""
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"inputs and labels differ in length: train {len(x_train)} vs {len(y_train)}, "
                         f"test {len(x_test)} vs {len(y_test)}")
    device = resolve_device(config.device)
    # Speed: the whole data set is resident on the device; batches are index lookups.
    x_train, y_train = x_train.to(device), y_train.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)
    model.to(device)
    if device.type == "cuda" and x_train.dim() == 4:
        model.to(memory_format=torch.channels_last)  # speed: NHWC convolutions on tensor cores
    generator = torch.Generator().manual_seed(seed)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    rule = UPDATE_RULES[config.optimizer](model, config)

    def loss_fn(xb, yb):
        with _autocast(device):
            return F.cross_entropy(model(xb).float(), yb)

    def record(step):
        tr = evaluate(model, x_train, y_train, soft_error=config.soft_error)
        te = evaluate(model, x_test, y_test, soft_error=config.soft_error)
        row = {"step": step, "epoch": step / steps_per_epoch, "lr": rule.optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v for k, v in tr.items()})
        row.update({f"test_{k}": v for k, v in te.items()})
        row["wall_s"] = time.perf_counter() - start
        return row

    start = time.perf_counter()
    history, fit_step = [], None
    # progress None: a bar only on a terminal (tqdm's own rule)
    bar = tqdm(total=config.max_steps, disable=None if config.progress is None else not config.progress,
               desc="train", unit="step", leave=False)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # dropout draws from the global generator, seeded here and restored after
        model.train()
        step, epoch_perm, pos = 0, None, n
        while step < config.max_steps:
            if pos >= n:
                if step > 0:
                    for group in rule.optimizer.param_groups:
                        group["lr"] *= config.lr_decay
                epoch_perm, pos = torch.randperm(n, generator=generator).to(device), 0
            idx = epoch_perm[pos:pos + config.batch_size]
            pos += config.batch_size
            xb = x_train[idx]
            if config.augment != "none":
                xb = augment(xb, generator, flip=config.augment == "crop+flip")
            if device.type == "cuda" and xb.dim() == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            loss = rule.step(loss_fn, xb, y_train[idx])
            step += 1
            bar.update(1)
            at_epoch_end = pos >= n
            due = step % config.eval_every == 0 if config.eval_every else at_epoch_end
            if due or step == config.max_steps:
                history.append(record(step))
                bar.set_postfix(loss=f"{loss.item():.3f}", train_acc=f"{history[-1]['train_acc']:.3f}")
                if history[-1]["train_acc"] == 1.0 and fit_step is None:
                    fit_step = step
                    if config.stop_at_fit:
                        break
    bar.close()
    return TrainResult(
        history=tuple(history),
        steps=step,
        epochs=step / steps_per_epoch,
        fitted=fit_step is not None,
        steps_to_fit=fit_step,
        epochs_to_fit=None if fit_step is None else fit_step / steps_per_epoch,
        wall_s=time.perf_counter() - start,
    )
