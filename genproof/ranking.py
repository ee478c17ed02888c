"""Rank statistics that more than one claim family reads: Kendall's tau between two rankings (the
Deep Bootstrap's Real and Ideal World orderings, a measure's ordering against the generalization
gap in the measure study)."""

from __future__ import annotations

import numpy as np


def kendall_tau(a, b) -> float:
    """Kendall's tau-a of two rankings: (concordant - discordant pairs) / all pairs; a tie in either
    counts as neither (so with ties it is smaller in size than scipy's tau-b). 1 when `a` and `b`
    order the items alike, -1 when they reverse them."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"Kendall's tau needs two equal-length lists of at least 2 values, got {a.shape}, {b.shape}")
    i, j = np.triu_indices(len(a), 1)
    return float(np.sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])) / len(i))
