"""`mnist1d`: MNIST-1D (Greydanus 2020): ten 1-D digit templates, padded, scaled, translated, noised, sheared.

Built with the `mnist1d` package's own generator, `mnist1d.data.make_dataset` (never its download):

- the default split is the package's default data set, `make_dataset(get_dataset_args())`:
  5,000 examples from seed 42, the first 80% (4,000) for training and the rest (1,000) for test;
- more training or test examples, and `sample(n, seed)`, continue with chunks of 1,000 made by
  `make_dataset` with `num_samples=1000`, `train_split=1.0` and `args.seed` from
  `derive_seed("mnist1d", purpose, seed, k)` (a hashed 32-bit seed; equal to 42 with chance 2**-32).

Inputs have shape (1, 40). `make_dataset` standardizes each batch it makes by that batch's own
mean and std (over all examples and positions): the default split by its 5,000 examples, each
later chunk by its 1,000. So the constants differ by sampling error between the default split
and each chunk (the stds agreed within 0.5% in our checks): close to, not exactly, one fixed
distribution. Each chunk holds exactly 100 examples per class in a shuffled order, so a prefix of
fewer than 1,000 is class-balanced up to sampling without replacement.

`make_dataset` reseeds the global `random` and `numpy.random` generators; we restore both, so
loading or sampling leaves them as they were.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from empirical.data.dataset import Arrays
from empirical.data.procedural import CHUNK, Examples, Procedural

NUM_CLASSES = 10
INPUT_SHAPE = (1, 40)


@contextmanager
def _global_rng_preserved():
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def _make(**changes) -> dict:
    """`make_dataset` with `get_dataset_args()` changed as given, without touching the global RNGs."""
    from mnist1d.data import get_dataset_args, make_dataset  # imported here: it pulls in matplotlib

    args = get_dataset_args()
    for key, value in changes.items():
        setattr(args, key, value)
    with _global_rng_preserved():
        return make_dataset(args)


def _as_examples(x: np.ndarray, y: np.ndarray) -> Examples:
    return x.astype(np.float32).reshape(-1, *INPUT_SHAPE), y.astype(np.int64)


@lru_cache(maxsize=1)
def default_split() -> Arrays:
    """The package's default data set: 4,000 train and 1,000 test examples from seed 42."""
    d = _make()
    return Arrays(*_as_examples(d["x"], d["y"]), *_as_examples(d["x_test"], d["y_test"])).read_only()


@lru_cache(maxsize=64)
def chunk(seed: int) -> Examples:
    """`CHUNK` examples made with `args.seed = seed` (read-only: cached)."""
    d = _make(num_samples=CHUNK, train_split=1.0, seed=seed)
    x, y = _as_examples(d["x"], d["y"])
    x.flags.writeable = y.flags.writeable = False
    return x, y


MNIST1D = Procedural(
    name="mnist1d",
    input_shape=INPUT_SHAPE,
    num_classes=NUM_CLASSES,
    n_train=4_000,
    n_test=1_000,
    chunk=chunk,
    default=default_split,
)
