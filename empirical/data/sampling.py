"""Seeded choices: independent seeds derived from names, and class-balanced subsets."""

from __future__ import annotations

import numbers
import zlib

import numpy as np
import torch


def derive_seed(*keys: str | int) -> int:
    """A 32-bit seed determined by `keys` (strings and non-negative ints), independent across keys.

    `numpy.random.SeedSequence` hashes the keys (strings enter as their CRC-32), so
    `derive_seed("mnist1d", "sample", 0, 0)` and `derive_seed("mnist1d", "train", 0, 0)` give
    unrelated streams. The result is stable across runs and platforms.
    """
    entropy = [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def checked_seed(seed: int) -> int:
    """`seed` as an int, or `ValueError` if it is not a non-negative integer."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def generator(seed: int) -> torch.Generator:
    """A CPU `torch.Generator` seeded with `seed`; every random choice in the package goes through one."""
    return torch.Generator().manual_seed(seed)


def fair_quota(available: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """How many of `n` items to take from each class, as evenly as `available` allows.

    Water-filling: every class that still has items gets an equal share; a class that runs out
    keeps all it has and its share passes to the others; the last `r < #classes` items go one
    each to `r` classes drawn at random (seeded by `gen`).
    """
    quota = torch.zeros_like(available)
    remaining = n
    while remaining:
        open_ = torch.nonzero(quota < available).flatten()
        share, extra = divmod(remaining, len(open_))
        if share == 0:
            quota[open_[torch.randperm(len(open_), generator=gen)[:extra]]] += 1
            break
        add = torch.clamp(available[open_] - quota[open_], max=share)
        quota[open_] += add
        remaining -= int(add.sum())
    return quota


def balanced_indices(labels: torch.Tensor, n: int, num_classes: int, gen: torch.Generator) -> torch.Tensor:
    """Indices of `n` examples, balanced across classes by `fair_quota`, in a seeded random order.

    Requires `n <= len(labels)`. Which examples of a class are taken, and the final order, are
    drawn from `gen`, so the same seed gives the same subset.
    """
    by_class = [torch.nonzero(labels == c).flatten() for c in range(num_classes)]
    quota = fair_quota(torch.tensor([len(i) for i in by_class]), n, gen)
    picked = torch.cat([i[torch.randperm(len(i), generator=gen)[:q]] for i, q in zip(by_class, quota.tolist())])
    return picked[torch.randperm(n, generator=gen)]
