"""The named data sets, one `Registry` entry each: `load` one as a train/test `Dataset`, `sample`
fresh examples from a procedural one.

Adding a data set: a module here that reads it (`NUM_CLASSES` and `arrays(data_dir, download) ->
Arrays`, as `cifar10`) or generates it (a `Procedural`, as `synthetic`), then one `DATASETS.add`
line below, with a one-line description (input shape, classes, split sizes, source), and a row in
the table of `empirical/data/__init__.py`. A fixed data set whose training split is large enough to
stand for its distribution (nakkiran2021's Ideal World draws fresh samples from it) says so with
`pool=True`.
"""

from __future__ import annotations

import hashlib
import numbers
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from empirical.data import cifar10, cifar5m, digits, fashion_mnist
from empirical.data.dataset import Arrays, Dataset
from empirical.data.files import DataNotFoundError
from empirical.data.mnist_1d import MNIST1D
from empirical.data.procedural import Procedural
from empirical.data.sampling import balanced_indices, checked_seed, derive_seed, generator
from empirical.data.synthetic import GAUSSIAN_MIXTURE, TEACHER
from empirical.registry import Registry


@dataclass(frozen=True)
class Source:
    """How a registered data set is read: `read(n_train, n_test, data_dir, download)` gives its raw
    train and test splits (a procedural one grows each split to at least the count asked, a fixed
    one gives all it holds); `procedural` is the generator `sample` draws from (None: fixed);
    `pool`: a fixed data set whose training split is a finite pool of fresh samples from its
    distribution (`POOLS`, what the Deep Bootstrap's Ideal World may draw from, without replacement)."""

    num_classes: int
    read: Callable[..., Arrays]
    procedural: Procedural | None = None
    pool: bool = False

    def __post_init__(self):
        if self.pool and self.procedural is not None:
            raise ValueError("a procedural data set samples without end; only a fixed one is a pool")


def _procedural(p: Procedural) -> Source:
    """A generated data set: its default splits, grown on request, and its generator."""
    return Source(p.num_classes, lambda n_train, n_test, data_dir, download: Arrays(
        *p.split("train", n_train), *p.split("test", n_test)), p)


def _files(module, pool: bool = False) -> Source:
    """A file-backed data set: `module.arrays(data_dir, download)` and `module.NUM_CLASSES`."""
    return Source(module.NUM_CLASSES, lambda n_train, n_test, data_dir, download: module.arrays(data_dir, download),
                  pool=pool)


DATASETS = Registry("data set", group="genproof.datasets")  # other packages add data sets through entry points
DATASETS.add("digits", Source(digits.NUM_CLASSES, lambda *_: digits.arrays()),
             "(1, 8, 8), 10 classes, 1,437 / 360: scikit-learn's bundled 8x8 digits, fixed split")
DATASETS.add("mnist1d", _procedural(MNIST1D),
             "(1, 40), 10 classes, 4,000 / 1,000, procedural: the mnist1d generator (Greydanus 2020)")
DATASETS.add("fashion-mnist", _files(fashion_mnist, pool=True),
             "(1, 28, 28), 10 classes, 60,000 / 10,000, a pool: IDX files, local, Debian package or download")
DATASETS.add("cifar10", _files(cifar10),
             "(3, 32, 32), 10 classes, 50,000 / 10,000: the official python batches, local or download")
DATASETS.add("gaussian-mixture", _procedural(GAUSSIAN_MIXTURE),
             "(20,), 10 classes, 2,000 / 1,000, procedural: a fixed 10-class isotropic Gaussian mixture")
DATASETS.add("teacher", _procedural(TEACHER),
             "(20,), 10 classes, 2,000 / 1,000, procedural: labels of a fixed random two-layer ReLU network")
DATASETS.add("cifar5m", _files(cifar5m, pool=True),
             "(3, 32, 32), 10 classes, about 5,000,000 / 10,000, a pool: CIFAR-5m's part0..part5.npz (Nakkiran et "
             "al. 2021), local, never downloaded")

NAMES = DATASETS.names()  # the built-in data sets
SAMPLABLE = tuple(e.name for e in DATASETS if e.factory.procedural is not None)
POOLS = tuple(e.name for e in DATASETS if e.factory.pool)


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

    `data_dir`, `download`: where the file-backed data sets (`fashion-mnist`, `cifar10`, `cifar5m`)
    are looked for first, and whether to download them when absent (see `empirical.data.files`;
    `cifar5m` is never downloaded). `cifar5m` whole is 5 million images, about 61 GB as float32:
    ask for an `n_train`.
    Missing data raises `DataNotFoundError`, a broken file `DataFormatError`.
    """
    source = DATASETS.get(name)
    n_train, n_test = _count("n_train", n_train, optional=True), _count("n_test", n_test, optional=True)
    seed = checked_seed(seed)
    raw = source.read(n_train or 0, n_test or 0, data_dir, download)
    num_classes = source.num_classes
    x_train, y_train = _take(name, "train", raw.x_train, raw.y_train, n_train, seed, num_classes)
    x_test, y_test = _take(name, "test", raw.x_test, raw.y_test, n_test, seed, num_classes)
    return Dataset(name, x_train, y_train, x_test, y_test, num_classes)


def add_tensors(dataset: Dataset) -> str:
    """Register a data set held in memory (a user's arrays) under a name derived from its content,
    `tensors-<12 hex digits>`, and return the name: the same tensors get the same name in every
    process, so runs of `empirical.fit` on them are cached like runs on a named data set. `load`
    gives them back as they are (float32 inputs, no scaling); `n_train`/`n_test` subsets work as
    for any fixed data set."""
    digest = hashlib.sha256(str(dataset.num_classes).encode())
    for t in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    name = f"tensors-{digest.hexdigest()[:12]}"
    if name not in DATASETS:
        arrays = Arrays(*(t.detach().cpu().numpy().copy() for t in (dataset.x_train, dataset.y_train,
                                                                    dataset.x_test, dataset.y_test))).read_only()
        shape = ", ".join(str(s) for s in dataset.input_shape)
        DATASETS.add(name, Source(dataset.num_classes, lambda *_: arrays),
                     f"({shape}), {dataset.num_classes} classes, {dataset.n_train:,} / {dataset.n_test:,}: tensors "
                     f"given in this process ({dataset.name})")
    return name


def sample(name: str, n: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` fresh examples (inputs, labels) from the distribution of procedural data set `name`.

    The same seed gives the same examples; different seeds, and the `load` splits, give
    independent ones. Only `SAMPLABLE` data sets have a generator.
    """
    procedural = DATASETS.get(name).procedural
    if procedural is None:
        raise ValueError(
            f"sample: {name!r} is a fixed data set with no generator; sample() supports {', '.join(SAMPLABLE)} "
            f"(for a subset of {name!r} use load({name!r}, n_train=...))"
        )
    return procedural.sample(_count("n", n), checked_seed(seed))


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


def _count(arg: str, value: int | None, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        allowed = "a positive int or None" if optional else "a positive int"
        raise ValueError(f"{arg} must be {allowed}, got {value!r}")
    return int(value)



def missing(name: str, data_dir: str | os.PathLike | None = None) -> str | None:
    """Why data set `name` is not on disk, with what to install (None: it is; nothing is downloaded)."""
    try:
        DATASETS.get(name).read(0, 0, data_dir, False)
    except DataNotFoundError as err:
        return str(err)
    return None
