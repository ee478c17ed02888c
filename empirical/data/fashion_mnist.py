"""`fashion-mnist`: Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), 28x28 grey images of 10 kinds of clothing.

60,000 train and 10,000 test images in four IDX files, each raw or gzipped:
`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
`t10k-labels-idx1-ubyte`. Found in the search order of `empirical.data.files` (a root or its
`fashion-mnist/` subfolder); Debian's `dataset-fashion-mnist` installs the four `.gz` files in
`/usr/share/datasets/fashion-mnist/`. Otherwise downloaded from `BASE_URL` with the official md5s
(Debian recompressed its copies, so local files are checked by structure, not by md5).

Inputs have shape (1, 28, 28), pixels scaled to [0, 1].
"""

from __future__ import annotations

import gzip
import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from empirical.data.dataset import Arrays
from empirical.data.files import DataFormatError, Layout, fetch, find, one_line, publish, staging_dir

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MD5 = {  # official md5 of each `<name>.gz` at BASE_URL
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
LAYOUT = Layout(
    title="fashion-mnist",
    folder="fashion-mnist",
    required=tuple(MD5),
    hint="pass data_dir=DIR (--data-dir DIR) or set GENPROOF_DATA, or `apt-get install dataset-fashion-mnist`",
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    gz_ok=True,
)
_IDX_UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array in an IDX file (raw, or gzip when the name ends in `.gz`).

    IDX (LeCun's MNIST format): two zero bytes, a type byte (0x08 = unsigned byte), the number of
    dimensions, each dimension as a big-endian uint32, then the values in C order. A wrong magic,
    type, rank or byte count raises `DataFormatError` naming `path`.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: unreadable ({one_line(exc)}); delete it and fetch it again") from exc
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != _IDX_UBYTE or data[3] != ndim:
        magic = data[:4].hex()
        raise DataFormatError(f"{path}: not an IDX file of unsigned bytes in {ndim} dimensions (magic {magic})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{path}: truncated IDX file, {len(data)} bytes, shorter than its {header}-byte header")
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise DataFormatError(f"{path}: truncated IDX file? {len(data)} bytes where shape {shape} needs {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def download_into(root: Path) -> Path:
    """Fetch the four `.gz` files from `BASE_URL` into `root/fashion-mnist/`, which appears only when all passed."""
    with staging_dir(root) as tmp:
        folder = tmp / LAYOUT.folder
        folder.mkdir()
        for name, md5 in MD5.items():
            fetch(f"{BASE_URL}{name}.gz", folder / f"{name}.gz", md5)
        return publish(folder, root / LAYOUT.folder)


def arrays(data_dir: str | os.PathLike | None = None, download: bool = True) -> Arrays:
    """The train and test split: uint8 images (n, 1, 28, 28) and int64 labels."""
    return _read(find(LAYOUT, data_dir, download, download_into, BASE_URL).resolve())


@lru_cache(maxsize=2)
def _read(directory: Path) -> Arrays:
    split = []
    for prefix in ("train", "t10k"):
        images_path = LAYOUT.file(directory, f"{prefix}-images-idx3-ubyte")
        labels_path = LAYOUT.file(directory, f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(images_path, 3), read_idx(labels_path, 1)
        if images.shape[1:] != IMAGE_SHAPE:
            raise DataFormatError(f"{images_path}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
        if len(images) != len(labels):
            raise DataFormatError(f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels")
        if len(labels) and labels.max() >= NUM_CLASSES:
            raise DataFormatError(f"{labels_path}: label {labels.max()} outside 0..{NUM_CLASSES - 1}")
        split += [images[:, None], labels.astype(np.int64)]
    return Arrays(*split).read_only()
