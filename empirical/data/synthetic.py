"""Synthetic distributions with known structure: `gaussian-mixture` and `teacher`.

Both are fixed distributions (their parameters come from a fixed seed) with inputs of shape
(20,), 10 classes, a default split of 2,000 train and 1,000 test examples, and unlimited fresh
samples (see `empirical.data.procedural`).

- `gaussian-mixture`: y uniform over 10 classes, x = mu_y + N(0, I_20), with class means
  mu_c ~ N(0, 0.6^2 I_20) drawn once from seed 0. Equal isotropic covariances make the Bayes
  classifier linear (nearest mean); it is right about 80% of the time: learnable, not trivial.
- `teacher`: x ~ N(0, I_20), y = argmax(W2 relu(W1 x + b1) + b2), a fixed random two-layer ReLU
  network of width 100 (W1 ~ N(0, 1/20), b1 ~ N(0, 0.1^2), W2 ~ N(0, 1/100), from seed 0). The
  output biases b2 are calibrated on 20,000 fixed inputs so that every class has probability
  close to 0.1. A linear classifier gets about 59%; the labels are an exact function of x.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from empirical.data.procedural import CHUNK, Examples, Procedural
from empirical.data.sampling import generator

NUM_CLASSES = 10
DIM = 20
MEAN_SCALE = 0.6
TEACHER_WIDTH = 100
PARAMETER_SEED = 0
_CALIBRATION_INPUTS = 20_000
_CALIBRATION_STEPS = 200
_CALIBRATION_RATE = 0.05


@lru_cache(maxsize=1)
def _means() -> torch.Tensor:
    return MEAN_SCALE * torch.randn(NUM_CLASSES, DIM, generator=generator(PARAMETER_SEED), dtype=torch.float32)


def gaussian_mixture_means() -> torch.Tensor:
    """The class means mu_c of `gaussian-mixture`, shape (10, 20)."""
    return _means().clone()


def _gaussian_mixture_chunk(seed: int) -> Examples:
    gen = generator(seed)
    y = torch.randint(0, NUM_CLASSES, (CHUNK,), generator=gen)
    x = _means()[y] + torch.randn(CHUNK, DIM, generator=gen, dtype=torch.float32)
    return x.numpy(), y.numpy()


@lru_cache(maxsize=1)
def _teacher_parameters() -> tuple[torch.Tensor, ...]:
    gen = generator(PARAMETER_SEED)

    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float32)

    w1 = normal(TEACHER_WIDTH, DIM) / DIM**0.5
    b1 = 0.1 * normal(TEACHER_WIDTH)
    w2 = normal(NUM_CLASSES, TEACHER_WIDTH) / TEACHER_WIDTH**0.5
    reference = torch.relu(normal(_CALIBRATION_INPUTS, DIM) @ w1.T + b1) @ w2.T
    b2 = torch.zeros(NUM_CLASSES, dtype=torch.float32)
    for _ in range(_CALIBRATION_STEPS):  # lower the bias of frequent classes, raise that of rare ones
        freq = torch.bincount((reference + b2).argmax(1), minlength=NUM_CLASSES) / _CALIBRATION_INPUTS
        b2 -= _CALIBRATION_RATE * torch.log(freq.clamp_min(1e-3) * NUM_CLASSES)
    return w1, b1, w2, b2


def teacher_logits(x: torch.Tensor) -> torch.Tensor:
    """The teacher network's outputs W2 relu(W1 x + b1) + b2 for inputs x of shape (n, 20)."""
    w1, b1, w2, b2 = _teacher_parameters()
    return torch.relu(x @ w1.T + b1) @ w2.T + b2


def _teacher_chunk(seed: int) -> Examples:
    x = torch.randn(CHUNK, DIM, generator=generator(seed), dtype=torch.float32)
    return x.numpy(), teacher_logits(x).argmax(1).numpy()


GAUSSIAN_MIXTURE = Procedural(
    name="gaussian-mixture",
    input_shape=(DIM,),
    num_classes=NUM_CLASSES,
    n_train=2_000,
    n_test=1_000,
    chunk=_gaussian_mixture_chunk,
)
TEACHER = Procedural(
    name="teacher",
    input_shape=(DIM,),
    num_classes=NUM_CLASSES,
    n_train=2_000,
    n_test=1_000,
    chunk=_teacher_chunk,
)
