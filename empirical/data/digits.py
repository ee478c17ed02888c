"""`digits`: scikit-learn's 8x8 handwritten digits (UCI optdigits test set, 1,797 images), bundled, no download.

Pixels take values 0..16 and are divided by 16 into [0, 1]; inputs have shape (1, 8, 8).
The train/test split is fixed: `train_test_split(test_size=0.2, random_state=0, stratify=y)`,
1,437 train and 360 test images, whatever seed a caller passes to `load`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from empirical.data.dataset import Arrays

NUM_CLASSES = 10
TEST_SIZE = 0.2
SPLIT_SEED = 0


@lru_cache(maxsize=1)
def arrays() -> Arrays:
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes a second to import
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=y)
    return Arrays(x_train, y_train, x_test, y_test).read_only()
