"""Where the training loop's minibatches come from (`BatchSource`): `Resident`, a seeded
permutation walk over tensors resident on the device, with on-device augmentation (`augment`);
`WithReplacement`, uniform draws with replacement at every step; `Stream`, fresh minibatches from
a generator, never reusing an example (the Ideal World of nakkiran2021, `empirical.worlds`)."""

from __future__ import annotations

import math
from typing import Callable, Protocol

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "crop", "crop+flip")


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


Batch = tuple[torch.Tensor, torch.Tensor | None]


class BatchSource(Protocol):
    """Where the loop's minibatches come from. `next_batch()` returns (inputs, labels or None);
    `epoch` counts the passes begun over the data (0 before the first batch; a stream stays at 0),
    `epoch_end` says whether the batch just returned ended one, and `steps_per_epoch` is the number
    of batches in a pass (None: no epochs). The loop moves batches to its device (a no-op for
    resident data)."""

    epoch: int
    steps_per_epoch: int | None

    def next_batch(self) -> Batch: ...

    @property
    def epoch_end(self) -> bool: ...


class Resident:
    """Minibatches of `batch_size` drawn by index from tensors resident on one device, walking a
    fresh permutation (from `generator`) every epoch; `augment` ("none", "crop", "crop+flip")
    transforms each batch on the device with the same generator. With `drop_last`, a pass ends
    when fewer than `batch_size` examples are left (every batch then holds distinct examples of a
    full size, as a contrastive objective needs); otherwise the last batch of a pass is shorter.
    `y` may be None (label-free objectives)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, generator: torch.Generator,
                 augment: str = "none", drop_last: bool = False):
        if y is not None and len(x) != len(y):
            raise ValueError(f"inputs and labels differ in length: {len(x)} vs {len(y)}")
        if len(x) == 0 or batch_size <= 0:
            raise ValueError(f"a resident source needs examples and a positive batch size, got n={len(x)}, "
                             f"batch_size={batch_size}")
        if augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
        self.x, self.y, self.generator, self.augment, self.drop_last = x, y, generator, augment, drop_last
        self.batch_size = min(batch_size, len(x)) if drop_last else batch_size
        n = len(x)
        self.steps_per_epoch = n // self.batch_size if drop_last else math.ceil(n / batch_size)
        self.epoch, self._perm, self._pos = 0, None, n

    def _exhausted(self) -> bool:
        n = len(self.x)
        return self._pos + self.batch_size > n if self.drop_last else self._pos >= n

    @property
    def epoch_end(self) -> bool:
        return self._exhausted()

    def next_batch(self) -> Batch:
        if self._exhausted():
            self._perm, self._pos = torch.randperm(len(self.x), generator=self.generator).to(self.x.device), 0
            self.epoch += 1
        idx = self._perm[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        xb = self.x[idx]
        if self.augment != "none":
            xb = augment(xb, self.generator, flip=self.augment == "crop+flip")
        return xb, None if self.y is None else self.y[idx]


class WithReplacement:
    """Minibatches of `batch_size` examples drawn uniformly with replacement from resident tensors,
    independently at every step (`torch.randint` on `generator`): the sampling of stochastic
    optimization of a sum, as in Dziugaite and Roy's posterior optimization. No epochs."""

    steps_per_epoch = None
    epoch = 0
    epoch_end = False

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator):
        if len(x) != len(y) or len(x) == 0 or batch_size <= 0:
            raise ValueError(f"need as many inputs as labels, some examples and a positive batch size; got "
                             f"{len(x)} inputs, {len(y)} labels, batch_size={batch_size}")
        self.x, self.y, self.batch_size, self.generator = x, y, batch_size, generator

    def next_batch(self) -> Batch:
        idx = torch.randint(0, len(self.x), (self.batch_size,), generator=self.generator)
        return self.x[idx], self.y[idx]


class Stream:
    """Fresh minibatches: `draw(k)` makes the k-th (k = 0, 1, ...), and no batch is drawn twice.
    A stream has no epochs; the loop evaluates it every `eval_every` steps."""

    steps_per_epoch = None
    epoch = 0
    epoch_end = False

    def __init__(self, draw: Callable[[int], Batch]):
        self.draw, self._k = draw, 0

    def next_batch(self) -> Batch:
        batch = self.draw(self._k)
        self._k += 1
        return batch
