"""Your own training function in place of genproof's loop: `trainer(model, x, y)` trains the fresh
`model` in place on inputs `x` and labels `y` (CPU tensors), with whatever loop, optimizer,
schedule, augmentation or device it likes.

`add_trainer` registers one by name, so that a run (`empirical.fit.FitConfig.trainer`) can name it
and the record store can key runs by it; `train_by` runs it and evaluates the trained model on
each evaluation set, as the loop would at its end. Such a run knows the trained network and
nothing of what happened during training (no step count, no curve), so the experiments that read
those (fit times, training-time probes, surrogate and subspace runs, PAC-Bayes by backprop) need
genproof's loop and say so. A trainer is registered in the process that adds it: a run of it can be
trained there and read from the store anywhere.
"""

from __future__ import annotations

import hashlib
import inspect
import time

import torch
from torch import nn

from empirical.registry import Registry
from empirical.train import TrainResult, evaluate

TRAINERS = Registry("trainer")


def add_trainer(trainer, name: str | None = None) -> str:
    """Register `trainer(model, x, y)` and return its name: `name`, or its `module:qualname` and 8
    hex digits of the SHA-256 of its source, so that an edited function is a new trainer whose runs
    the store does not confuse with the old one's (a function whose source Python cannot read
    needs a `name`)."""
    if not callable(trainer):
        raise TypeError(f"a training function must be callable as trainer(model, x, y), got {trainer!r}")
    if name is None:
        try:
            source = inspect.getsource(trainer)
        except (OSError, TypeError):
            raise ValueError(f"cannot read the source of {trainer!r} to name its runs: define it in a file, or "
                             f"register it with add_trainer(function, name)") from None
        name = (f"{getattr(trainer, '__module__', '?')}:{getattr(trainer, '__qualname__', type(trainer).__name__)}"
                f"@{hashlib.sha256(source.encode()).hexdigest()[:8]}")
    if name not in TRAINERS:
        TRAINERS.add(name, trainer, "a training function given in this process")
    return name


def train_by(name: str, model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], seed: int,
             evals: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> TrainResult:
    """Train `model` on `data` with the registered trainer `name` (torch's global generator seeded
    with `seed` around the call and restored after), then evaluate it on each of `evals`. The
    result has one row of history (step None), no step counts, and `fitted` when the set named
    "train" is classified without error. A trainer that raises is a ValueError that names it."""
    if name not in TRAINERS:
        raise ValueError(f"the training function {name!r} is not registered in this process: pass the recipe "
                         f"with its trainer again (genproof.Recipe(factory, trainer=...))")
    trainer = TRAINERS.get(name)
    start = time.perf_counter()
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            returned = trainer(model, *data)
        except Exception as err:  # the user's code: report what it raised, in one line
            raise ValueError(f"your training function {name} raised {type(err).__name__}: {err}") from err
    if isinstance(returned, nn.Module) and returned is not model:
        raise ValueError(f"your training function {name} returned another module: it must train the model it is "
                         f"given, in place")
    wall_s = time.perf_counter() - start
    row = {"step": None, "epoch": None, "lr": None, "batch_loss": None}
    for split, (x, y) in evals.items():
        row.update({f"{split}_{k}": v for k, v in evaluate(model, x, y).items()})
    row["wall_s"] = wall_s
    fitted = row.get("train_acc") == 1.0
    return TrainResult(history=(row,), steps=None, epochs=None, fitted=fitted, steps_to_fit=None,
                       epochs_to_fit=None, wall_s=wall_s)
