"""Input validation shared by the constructions: errors that name the argument and its shape."""

from __future__ import annotations

import numpy as np


def as_matrix(A, name: str = "X", *, columns: int | None = None, min_rows: int = 1, dtype=np.float64) -> np.ndarray:
    """`A` as a finite, real 2-D array, one example per row, with at least `min_rows` rows and at
    least one column (exactly `columns` if given), cast to `dtype` (None keeps a real numeric
    dtype as it is)."""
    A = np.asarray(A) if dtype is None else np.asarray(A, dtype=dtype)
    if (A.ndim != 2 or A.shape[0] < min_rows or A.shape[1] < 1
            or (columns is not None and A.shape[1] != columns)):
        want = f"(m, {columns})" if columns is not None else "(n, d)"
        kind = "non-empty " if min_rows else ""
        raise ValueError(f"{name} must be a {kind}2-D array of shape {want}, one example per row; got {A.shape}")
    if not np.issubdtype(A.dtype, np.number) or np.issubdtype(A.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {A.dtype}")
    if not np.isfinite(A).all():
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    return A
