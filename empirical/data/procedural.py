"""Procedural data sets: distributions to sample from without end (the Ideal World of nakkiran2021).

A family draws examples in chunks of `CHUNK`. The stream `(family, purpose, seed)` is chunk 0,
chunk 1, ... where chunk k is generated from `derive_seed(family, purpose, seed, k)`; so its first
n examples do not depend on how many more are drawn, and streams of different purposes or seeds
are independent. The purposes:

- `"train"`, `"test"` (seed 0): the fixed splits. `split("train", n)` is the family's default
  split (its first `n_train` examples), grown by continuing the stream when more are asked for;
- `"sample"` (any seed): fresh examples for `empirical.data.sample`, never overlapping the splits'
  streams.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from empirical.data.dataset import Arrays
from empirical.data.sampling import derive_seed

CHUNK = 1_000

Examples = tuple[np.ndarray, np.ndarray]  # inputs float32 (n, *input_shape), labels int64 (n,)


@dataclass(frozen=True)
class Procedural:
    """A samplable family: `chunk(seed)` makes `CHUNK` examples; `default()` optionally fixes the default split.

    Without `default`, the default split is the first `n_train` / `n_test` examples of the
    `"train"` / `"test"` streams; with it (mnist1d, whose published split we keep), the streams
    only supply the examples beyond it.
    """

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    n_train: int
    n_test: int
    chunk: Callable[[int], Examples]
    default: Callable[[], Arrays] | None = None

    def draw(self, purpose: str, seed: int, n: int) -> Examples:
        """The first `n` examples of stream `(self.name, purpose, seed)`."""
        parts = [self.chunk(derive_seed(self.name, purpose, seed, k)) for k in range(math.ceil(n / CHUNK))]
        if not parts:
            return np.empty((0, *self.input_shape), np.float32), np.empty(0, np.int64)
        return np.concatenate([x for x, _ in parts])[:n], np.concatenate([y for _, y in parts])[:n]

    def split(self, which: str, n: int) -> Examples:
        """`max(n, default size)` examples of split `which` ("train" or "test"), the default split first."""
        size = max(n, self.n_train if which == "train" else self.n_test)
        if self.default is None:
            return self.draw(which, 0, size)
        fixed = self.default()
        x, y = (fixed.x_train, fixed.y_train) if which == "train" else (fixed.x_test, fixed.y_test)
        x_more, y_more = self.draw(which, 0, size - len(y))
        return np.concatenate([x, x_more]), np.concatenate([y, y_more])

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` fresh examples from stream `(self.name, "sample", seed)`, as tensors."""
        x, y = self.draw("sample", seed, n)
        return torch.from_numpy(x), torch.from_numpy(y)  # fresh arrays: `draw` concatenates
