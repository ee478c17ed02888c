"""The named data sets: `load` one as a train/test `Dataset`, `sample` fresh examples from a procedural one."""

from __future__ import annotations

import difflib
import numbers
import os

import numpy as np
import torch

from empirical.data import cifar10, digits, fashion_mnist
from empirical.data.dataset import Arrays, Dataset
from empirical.data.mnist_1d import MNIST1D
from empirical.data.sampling import balanced_indices, checked_seed, derive_seed, generator
from empirical.data.synthetic import GAUSSIAN_MIXTURE, TEACHER

NAMES = ("digits", "mnist1d", "fashion-mnist", "cifar10", "gaussian-mixture", "teacher")
PROCEDURAL = {p.name: p for p in (MNIST1D, GAUSSIAN_MIXTURE, TEACHER)}
SAMPLABLE = tuple(PROCEDURAL)
_NUM_CLASSES = {
    "digits": digits.NUM_CLASSES,
    "fashion-mnist": fashion_mnist.NUM_CLASSES,
    "cifar10": cifar10.NUM_CLASSES,
    **{name: p.num_classes for name, p in PROCEDURAL.items()},
}


def load(
    name: str,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Dataset:
    """Data set `name` as float32 input and int64 label tensors, split into train and test.

    `n_train` / `n_test`: None keeps the whole split in its stored order. A number takes that many
    examples, as evenly across classes as the split allows, chosen and shuffled by `seed` (the
    train and test choices use independent streams). A fixed data set raises `ValueError` when
    asked for more than it holds; a procedural one draws the extra examples from its distribution.
    The split itself never depends on `seed`.

    `data_dir`, `download`: where the file-backed data sets (`fashion-mnist`, `cifar10`) are
    looked for first, and whether to download them when absent (see `empirical.data.files`).
    Missing data raises `DataNotFoundError`, a broken file `DataFormatError`.
    """
    _check_name(name)
    n_train, n_test = _count("n_train", n_train, optional=True), _count("n_test", n_test, optional=True)
    seed = checked_seed(seed)
    raw = _arrays(name, n_train or 0, n_test or 0, data_dir, download)
    num_classes = _NUM_CLASSES[name]
    x_train, y_train = _take(name, "train", raw.x_train, raw.y_train, n_train, seed, num_classes)
    x_test, y_test = _take(name, "test", raw.x_test, raw.y_test, n_test, seed, num_classes)
    return Dataset(name, x_train, y_train, x_test, y_test, num_classes)


def sample(name: str, n: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` fresh examples (inputs, labels) from the distribution of procedural data set `name`.

    The same seed gives the same examples; different seeds, and the `load` splits, give
    independent ones. Only `SAMPLABLE` data sets have a generator.
    """
    _check_name(name)
    if name not in PROCEDURAL:
        raise ValueError(
            f"sample: {name!r} is a fixed data set with no generator; sample() supports {', '.join(SAMPLABLE)} "
            f"(for a subset of {name!r} use load({name!r}, n_train=...))"
        )
    return PROCEDURAL[name].sample(_count("n", n), checked_seed(seed))


def _arrays(name: str, n_train: int, n_test: int, data_dir: str | os.PathLike | None, download: bool) -> Arrays:
    if name in PROCEDURAL:
        p = PROCEDURAL[name]
        return Arrays(*p.split("train", n_train), *p.split("test", n_test))
    if name == "digits":
        return digits.arrays()
    if name == "fashion-mnist":
        return fashion_mnist.arrays(data_dir, download)
    return cifar10.arrays(data_dir, download)


def _take(
    name: str, split: str, x: np.ndarray, y: np.ndarray, n: int | None, seed: int, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh tensors of the whole split (n None) or of a class-balanced seeded subset of n; uint8 pixels -> [0, 1]."""
    if n is None:
        x, y = x.copy(), y.copy()
    else:
        if n > len(y):
            raise ValueError(f"n_{split}={n} but {name!r} has {len(y)} {split} examples; ask for at most {len(y)}")
        gen = generator(derive_seed("subset", split, seed))
        idx = balanced_indices(torch.from_numpy(y.copy()), n, num_classes, gen).numpy()
        x, y = x[idx], y[idx]
    inputs = torch.from_numpy(x).float()
    return (inputs.div_(255) if x.dtype == np.uint8 else inputs), torch.from_numpy(y)


def _check_name(name: str) -> None:
    if name not in NAMES:
        close = difflib.get_close_matches(str(name), NAMES, n=1)
        guess = f" did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown data set {name!r};{guess} known: {', '.join(NAMES)}")


def _count(arg: str, value: int | None, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        allowed = "a positive int or None" if optional else "a positive int"
        raise ValueError(f"{arg} must be {allowed}, got {value!r}")
    return int(value)

