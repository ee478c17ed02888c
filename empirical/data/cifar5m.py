"""`cifar5m`: CIFAR-5m (Nakkiran, Neyshabur, Sedghi 2021), about 6 million synthetic CIFAR-10-like
32x32 colour images with labels, released at github.com/preetum/cifar5m (about 17 GB).

A folder holds six files `part0.npz` .. `part5.npz`, each with `X`, uint8 (n, 32, 32, 3)
(channels last), and `Y`, integer labels (n,). As the authors' loader does
(preetum/deep-bootstrap-code, common/datasets/__init__.py, `load_cifar5m`): parts 0-4 are the
training pool and the first 10,000 images of part 5 the test set. Never downloaded: found in the
search order of `empirical.data.files` (a root or its `cifar5m/` subfolder), so pass the folder with
`--data-dir DIR` or `$GENPROOF_DATA`. Any number of images per part loads (a tiny file written in the
same format tests the reader). Registered as the data set `cifar5m`, a pool (`empirical.data.POOLS`).

Inputs have shape (3, 32, 32), pixels as uint8 (scaled to [0, 1] on use). The arrays are read fresh
on every call, never cached here: the training pool alone is 15 GB, and its user
(`empirical.worlds`) keeps the one copy it needs.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from empirical.data.dataset import Arrays
from empirical.data.files import DataFormatError, DataNotFoundError, Layout

NUM_CLASSES = 10
PARTS = tuple(f"part{i}.npz" for i in range(6))
TRAIN_PARTS, TEST_PART = PARTS[:5], PARTS[5]
N_TEST = 10_000  # the authors' `nte`
LAYOUT = Layout(
    title="cifar5m",
    folder="cifar5m",
    required=PARTS,
    hint="it is never downloaded: put the six part0.npz .. part5.npz of github.com/preetum/cifar5m (about 17 GB) "
         "in one folder and pass data_dir=DIR (--data-dir DIR) or set GENPROOF_DATA to it",
)


def folder(data_dir: str | os.PathLike | None) -> Path:
    """The folder holding the parts (`LAYOUT`, in the search order of `empirical.data.files`). None
    found, or a folder with some parts but not all, is a one-line `DataNotFoundError` saying where
    it looked or which part is missing, and what to do."""
    directory = LAYOUT.locate(data_dir)
    if directory is None:
        looked = ", ".join(map(str, LAYOUT.candidate_dirs(data_dir)))
        raise DataNotFoundError(f"cifar5m: nothing in [{looked}]; {LAYOUT.hint}")
    return directory


def read_part(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3, 32, 32) uint8 and labels (n,) int64 of one part; `DataFormatError` names a bad file."""
    try:
        with np.load(path) as z:
            x, y = z["X"], z["Y"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"{path}: not a CIFAR-5m part with arrays X and Y ({type(exc).__name__}); "
                              f"fetch it again") from exc
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3) or len(y) != len(x):
        raise DataFormatError(f"{path}: expected X uint8 (n, 32, 32, 3) and Y (n,), got X {x.dtype} {x.shape} "
                              f"and Y {y.shape}; fetch it again")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y.astype(np.int64)


def arrays(data_dir: str | os.PathLike | None = None, download: bool = True) -> Arrays:
    """Parts 0-4 as the training pool, the first `N_TEST` images of part 5 as the test set.
    `download` is there for the registry's call (`empirical.data.registry`): there is nothing to
    download, whatever it says."""
    directory = folder(data_dir)
    train = [read_part(directory / p) for p in TRAIN_PARTS]
    x_test, y_test = read_part(directory / TEST_PART)
    return Arrays(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                  x_test[:N_TEST], y_test[:N_TEST])
