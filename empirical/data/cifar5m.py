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


def _bad(path: Path, exc: Exception) -> DataFormatError:
    return DataFormatError(f"{path}: not a CIFAR-5m part with arrays X and Y ({type(exc).__name__}); fetch it again")


def read_part(path: Path, into: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3, 32, 32) uint8 and labels (n,) int64 of one part, the images written into `into`
    (n, 3, 32, 32) where given (no second copy of the part); `DataFormatError` names a bad file."""
    try:
        with np.load(path) as z:
            x, y = z["X"], z["Y"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise _bad(path, exc) from exc
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3) or len(y) != len(x):
        raise DataFormatError(f"{path}: expected X uint8 (n, 32, 32, 3) and Y (n,), got X {x.dtype} {x.shape} "
                              f"and Y {y.shape}; fetch it again")
    if into is None:
        into = np.empty((len(x), 3, 32, 32), np.uint8)
    into[...] = x.transpose(0, 3, 1, 2)
    return into, y.astype(np.int64)


def images_in(path: Path) -> int:
    """The number of images in a part, from the header of its `X` array (nothing else is read)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("X.npy") as f:
            version = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = header(f)
    except (OSError, KeyError, ValueError, IndexError, zipfile.BadZipFile) as exc:
        raise _bad(path, exc) from exc
    if dtype != np.uint8 or len(shape) != 4 or shape[1:] != (32, 32, 3):
        raise DataFormatError(f"{path}: expected X uint8 (n, 32, 32, 3), got X {dtype} {shape}; fetch it again")
    return shape[0]


def arrays(data_dir: str | os.PathLike | None = None, download: bool = True) -> Arrays:
    """Parts 0-4 as the training pool, the first `N_TEST` images of part 5 as the test set. The pool
    is written part by part into one array sized from the parts' headers, so reading peaks at the
    pool (15 GB) and two parts (the one being read, or the test part and its copy), not at twice
    the pool (measured on small parts: 7.0 parts for a pool of 5, against 11.0 when the parts were
    concatenated). `download` is there for the registry's call
    (`empirical.data.registry`): there is nothing to download, whatever it says."""
    directory = folder(data_dir)
    sizes = [images_in(directory / p) for p in TRAIN_PARTS]
    x_train, labels, start = np.empty((sum(sizes), 3, 32, 32), np.uint8), [], 0
    for part, n in zip(TRAIN_PARTS, sizes):
        labels.append(read_part(directory / part, x_train[start:start + n])[1])
        start += n
    x_test, y_test = read_part(directory / TEST_PART)
    return Arrays(x_train, np.concatenate(labels), x_test[:N_TEST].copy(), y_test[:N_TEST].copy())  # not views of part 5
