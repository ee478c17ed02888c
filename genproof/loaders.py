"""Your network and data from files, for the command-line tools: a model factory named
`package.module:function`, a checkpoint (a state dict) and an `.npz` of arrays. Each failure is a
`ValueError` of one sentence that names the file or the key (the tools print it in one line, exit 2).

- factory: `function(input_shape: tuple[int, ...], num_classes: int) -> torch.nn.Module`, returning
  logits of shape (batch, num_classes) for inputs of shape (batch, *input_shape);
- checkpoint: `torch.save(model.state_dict(), path)`, read with `torch.load(path,
  weights_only=True, map_location="cpu")` (a GPU-trained checkpoint loads on the CPU);
- data: `np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)`, inputs of shape
  (n, *input_shape) in any real dtype (used as float32, as given: no scaling), labels integers in
  0..K-1 of shape (n,).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def build_model(factory: Callable, input_shape: tuple[int, ...], num_classes: int, spec: str) -> nn.Module:
    """`factory(input_shape, num_classes)`, checked to be an `nn.Module`."""
    try:
        model = factory(tuple(input_shape), num_classes)
    except Exception as err:  # the user's code: report what it raised, in one line
        raise ValueError(f"--model {spec!r}: factory{tuple(input_shape), num_classes} raised "
                         f"{type(err).__name__}: {err}") from err
    if not isinstance(model, nn.Module):
        raise ValueError(f"--model {spec!r}: the factory returned a {type(model).__name__}, not a torch nn.Module")
    return model


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """`model` with the state dict at `path` loaded (strictly: every key, every shape)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--weights {path}: no such file")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # torch raises many kinds for a file it cannot read
        raise ValueError(f"--weights {path}: not a checkpoint torch can read with weights_only=True "
                         f"({type(err).__name__}: {' '.join(str(err).split())[:200]})") from err
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise ValueError(f"--weights {path}: not a state dict (save model.state_dict(), not the model or a "
                         f"dict of other things)")
    own = model.state_dict()
    missing, unexpected = [k for k in own if k not in state], [k for k in state if k not in own]
    wrong = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + (
            [f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []) + (
            [f"{k} has shape {tuple(state[k].shape)}, the model's {tuple(own[k].shape)}" for k in wrong[:3]])
        raise ValueError(f"--weights {path} does not fit the model: {'; '.join(parts)}")
    model.load_state_dict(state)
    return model.eval()


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The four arrays of the `.npz` at `path` (module docstring), checked for shape and dtype."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--data {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except Exception as err:  # zipfile, pickle and format errors alike
        raise ValueError(f"--data {path}: not an .npz numpy can read ({type(err).__name__}: {err})") from err
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"--data {path}: missing {', '.join(missing)} (it has {', '.join(arrays) or 'nothing'}); "
                         f"save it with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype.kind not in "fiub" or x.ndim < 2:
            raise ValueError(f"--data {path}: x_{split} must be real numbers of shape (n, *input_shape), got "
                             f"{x.dtype} {x.shape}")
        if y.dtype.kind not in "iu" or y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"--data {path}: y_{split} must be integer labels of shape ({len(x)},), got "
                             f"{y.dtype} {y.shape}")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError(f"--data {path}: x_train inputs {arrays['x_train'].shape[1:]} and x_test inputs "
                         f"{arrays['x_test'].shape[1:]} differ in shape")
    return {k: arrays[k] for k in NPZ_KEYS}


def file_hash(path: str | os.PathLike) -> str:
    """16 hex digits of the SHA-256 of a file's bytes: what a record keys a file by."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
