"""Named data sets as tensors with a train/test split, and fresh samples from the procedural ones.

| name               | input shape | classes | train / test          | source                                             |
| ------------------ | ----------- | ------- | --------------------- | -------------------------------------------------- |
| `digits`           | (1, 8, 8)   | 10      | 1,437 / 360           | scikit-learn's bundled 8x8 digits, fixed split     |
| `mnist1d`          | (1, 40)     | 10      | 4,000 / 1,000 *       | `mnist1d` package generator (Greydanus 2020)       |
| `fashion-mnist`    | (1, 28, 28) | 10      | 60,000 / 10,000 +     | IDX files: local, Debian package or download       |
| `cifar10`          | (3, 32, 32) | 10      | 50,000 / 10,000       | official python batches: local or download         |
| `gaussian-mixture` | (20,)       | 10      | 2,000 / 1,000 *       | fixed 10-class isotropic Gaussian mixture          |
| `teacher`          | (20,)       | 10      | 2,000 / 1,000 *       | labels of a fixed random two-layer ReLU network    |
| `cifar5m`          | (3, 32, 32) | 10      | ~5,000,000 / 10,000 + | CIFAR-5m's six .npz parts: local, never downloaded |

`*`: procedural (`SAMPLABLE`): `load` grows the splits on request and `sample(name, n, seed=...)`
draws fresh examples without end. `+`: a pool (`POOLS`): a fixed data set whose training split
stands for its distribution, a finite supply of fresh samples (nakkiran2021's Ideal World,
`empirical.worlds`). Image pixels are scaled to [0, 1]; mnist1d is standardized by its
generator; the synthetic inputs are raw. Each source module documents its data set.

`DATASETS` is their registry (`empirical.registry.Registry`; `DATASETS.describe()` lists them,
`NAMES` is `DATASETS.names()`); `empirical/data/registry.py` says how to add one.

    ds = load("digits", n_train=500, seed=1)     # class-balanced subset of 500, test split whole
    x, y = sample("mnist1d", 10_000, seed=3)     # the Ideal World of nakkiran2021
    missing("fashion-mnist")                     # None, or where it looked and what to install
"""

from empirical.data.dataset import Dataset
from empirical.data.files import DataFormatError, DataNotFoundError
from empirical.data.registry import DATASETS, NAMES, POOLS, SAMPLABLE, add_tensors, load, missing, sample

__all__ = ["DATASETS", "NAMES", "POOLS", "SAMPLABLE", "DataFormatError", "DataNotFoundError", "Dataset", "add_tensors",
           "load", "missing", "sample"]
