"""The data of nakkiran2021's two worlds: N samples for the Real World, and T*B fresh samples, never
seen by it and never repeated, for the Ideal World.

A distribution is either
- a procedural data set (`empirical.data.SAMPLABLE`: `mnist1d`, `teacher`, `gaussian-mixture`):
  one draw of N + T*B examples from its `sample` stream of the run's seed, cut into the real N and
  the fresh rest; unlimited;
- a finite pool of real images (`empirical.data.POOLS`, the data sets registered with `pool=True`:
  Fashion-MNIST's 60,000 training images, or CIFAR-5m's five training parts): a seeded
  permutation of the pool, whose first N are the real world's and whose next T*B are the ideal
  world's, drawn without replacement from what is left. A run that asks for more than the pool
  holds is refused in one line.
The test set is the data set's own test split (mnist1d: its fixed split, grown on request).

`ideal_stream` hands the fresh examples out B at a time through the training loop's `Stream`
seam, augmented on the device as the real world's `Resident` walk is; `real_source` is that walk
(without a short last batch, as the authors' DataLoader with drop_last=True). `augmented_real` is
the real samples as the authors' training loader shows them to their train-error evaluation: a
fresh augmentation of every sample at each evaluation (all N of them; their loader drops the last
N mod B; docs/sources/nakkiran2021.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from empirical.batches import Resident, Stream, augment
from empirical.data import DATASETS, POOLS, SAMPLABLE, load, sample
from empirical.data.sampling import derive_seed, generator
from empirical.train import evaluate


@dataclass(frozen=True)
class WorldsData:
    """What both worlds draw from: data set `name` (procedural or a pool), `n_train` real samples
    (N), `n_test` test examples (None: the whole test split)."""

    name: str = "mnist1d"
    n_train: int = 1000
    n_test: int | None = 2000
    data_dir: str | None = field(default=None, metadata={"identity": False})

    def __post_init__(self):
        if self.name not in (*SAMPLABLE, *POOLS):
            raise ValueError(f"the deep bootstrap needs fresh samples: a procedural data set ({', '.join(SAMPLABLE)}) "
                             f"or a pool ({', '.join(POOLS)}), got {self.name!r}")
        if self.n_train < 1 or (self.n_test is not None and self.n_test < 1):
            raise ValueError(f"n_train and n_test must be positive, got {self.n_train}, {self.n_test}")


@dataclass(frozen=True, eq=False)
class Worlds:
    """The examples of one trial: `real` (N), `fresh` (T*B, in the order the ideal world sees
    them), `test`, each (inputs float32, labels int64)."""

    real: tuple[torch.Tensor, torch.Tensor]
    fresh: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.real[0].shape[1:])


@functools.lru_cache(maxsize=2)
def _pool(name: str, data_dir: str | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A pool's training split as its source reads it (uint8 pixels kept as uint8 until drawn: CIFAR-5m's
    5M images are 15 GB so, 61 GB as float32) and its test split with pixels scaled to [0, 1]. A
    source's cached read-only arrays are copied (torch wants writable ones); fresh ones are not."""
    raw = DATASETS.get(name).read(0, 0, data_dir, True)
    x_train, y_train, x_test, y_test = (torch.from_numpy(np.require(a, requirements="W")) for a in raw)
    return x_train, y_train, _floats(x_test), y_test


@functools.lru_cache(maxsize=4)
def _sampled(name: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` examples of trial `seed` (mnist1d makes about 6,000 a second: kept for the trial's other runs)."""
    return sample(name, n, seed=derive_seed("deep-bootstrap", seed))


def _floats(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def draw(data: WorldsData, fresh: int, seed: int) -> Worlds:
    """The real N and `fresh` (= T*B) ideal-world examples of trial `seed`, disjoint; the test set."""
    if fresh < 1:
        raise ValueError(f"the ideal world needs a positive number of fresh examples (steps x batch), got {fresh}")
    if data.name in SAMPLABLE:
        x, y = _sampled(data.name, data.n_train + fresh, seed)
        ds = load(data.name, n_test=data.n_test)
        return Worlds((x[:data.n_train], y[:data.n_train]), (x[data.n_train:], y[data.n_train:]),
                      (ds.x_test, ds.y_test), ds.num_classes)
    x_pool, y_pool, x_test, y_test = _pool(data.name, data.data_dir)
    n = len(y_pool)
    if data.n_train > n:
        raise ValueError(f"n_train={data.n_train} but the {data.name} pool holds {n} images; ask for at most {n}")
    left = n - data.n_train
    if fresh > left:
        raise ValueError(f"the ideal world needs steps x batch = {fresh} fresh {data.name} images but only {left} are "
                         f"left after the {data.n_train} real ones; lower steps, batch_size or n_train, or use a procedural "
                         f"data set ({', '.join(SAMPLABLE)}), which never runs out")
    perm = torch.randperm(n, generator=generator(derive_seed("deep-bootstrap", "pool", seed)))
    real, ideal = perm[:data.n_train], perm[data.n_train:data.n_train + fresh]
    if data.n_test is not None:
        if data.n_test > len(y_test):
            raise ValueError(f"n_test={data.n_test} but {data.name} has {len(y_test)} test images; ask for at most "
                             f"{len(y_test)}")
        x_test, y_test = x_test[:data.n_test], y_test[:data.n_test]
    return Worlds((_floats(x_pool[real]), y_pool[real]), (_floats(x_pool[ideal]), y_pool[ideal]), (x_test, y_test),
                  DATASETS.get(data.name).num_classes)


def real_source(worlds: Worlds, batch_size: int, augmentation: str, seed: int, device: torch.device) -> Resident:
    """The Real World: a seeded permutation walk over the N real examples, epoch after epoch, with
    full batches only (the authors' drop_last=True)."""
    gen = generator(derive_seed("deep-bootstrap", "real-order", seed))
    x, y = worlds.real
    return Resident(x.to(device), y.to(device), batch_size, gen, augment=augmentation, drop_last=True)


def augmented_real(worlds: Worlds, augmentation: str, seed: int, device: torch.device):
    """A probe for the training loop: at each evaluation, the model's loss, accuracy and soft-error
    on a fresh `augmentation` of the N real samples (the authors evaluate "Train Error" and "Train
    Loss" on their augmented training loader, inftrain/train.py), from its own seeded generator."""
    gen = generator(derive_seed("deep-bootstrap", "train-augment-eval", seed))
    x, y = (t.to(device) for t in worlds.real)

    def probe(model: torch.nn.Module) -> dict:
        return evaluate(model, augment(x, gen, flip=augmentation == "crop+flip"), y, soft_error=True)

    return probe


def ideal_stream(worlds: Worlds, batch_size: int, augmentation: str, seed: int, device: torch.device) -> Stream:
    """The Ideal World: batch k is fresh examples k*B .. (k+1)*B - 1, resident on the device (so a
    step costs what a real-world step costs), augmented as the real world's batches are; a batch
    beyond the fresh examples is an error (no example is ever seen twice)."""
    gen = generator(derive_seed("deep-bootstrap", "ideal-augment", seed))
    x, y = (t.to(device) for t in worlds.fresh)
    steps = len(y) // batch_size

    def batch(k: int):
        if k >= steps:
            raise ValueError(f"the ideal world has fresh examples for {steps} steps of {batch_size}; "
                             f"asked for step {k + 1}")
        xb = x[k * batch_size:(k + 1) * batch_size]
        if augmentation != "none":
            xb = augment(xb, gen, flip=augmentation == "crop+flip")
        return xb, y[k * batch_size:(k + 1) * batch_size]

    return Stream(batch)


def eval_grid(steps: int, points: int = 40) -> tuple[int, ...]:
    """Steps to evaluate at: `points` log-spaced steps from 1 to `steps` (denser early, as the
    authors log every 4 batches early and every 64 later), rounded, distinct, `steps` included."""
    if steps < 1 or points < 2:
        raise ValueError(f"an evaluation grid needs steps >= 1 and points >= 2, got {steps}, {points}")
    grid = np.unique(np.round(np.geomspace(1, steps, points)).astype(int))
    return tuple(int(t) for t in grid)

