"""`Dataset`: a named train/test split held as tensors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch


class Arrays(NamedTuple):
    """A source's raw split as numpy arrays: uint8 pixels (scaled by 1/255 on load) or float32, int labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def read_only(self) -> Arrays:
        """The same arrays marked read-only: they are cached and shared between loads."""
        for a in self:
            a.flags.writeable = False
        return self


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Train and test tensors of one data set: inputs float32 `(n, *input_shape)`, labels int64 `(n,)`.

    Labels lie in `0 .. num_classes - 1`. Frozen: a corruption builds a new `Dataset` with
    `replace`, never edits these tensors.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != torch.float32 or y.dtype != torch.int64:
                raise TypeError(
                    f"Dataset {self.name!r}: x_{split} must be float32 and y_{split} int64, got {x.dtype} and {y.dtype}"
                )
            if y.ndim != 1 or len(x) != len(y):
                raise ValueError(
                    f"Dataset {self.name!r}: y_{split} must have shape ({len(x)},) like x_{split}, got {tuple(y.shape)}"
                )
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise ValueError(f"Dataset {self.name!r}: y_{split} must lie in 0..{self.num_classes - 1}")
        if self.x_test.shape[1:] != self.x_train.shape[1:]:
            shape = tuple(self.x_test.shape[1:])
            raise ValueError(f"Dataset {self.name!r}: x_test inputs {shape} differ from x_train's {self.input_shape}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    def replace(self, **changes) -> Dataset:
        """A copy with the given fields changed (`dataclasses.replace`); the fields are validated again."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes})"
        )
