"""The training loop's objectives (`Objective`): the loss of a minibatch, `objective(model, x, y)`.
Cross-entropy is the default; SimCLR's NT-Xent and an autoencoder's reconstruction
(`empirical.sss`), PAC-Bayes objectives (`empirical.pac_bayes_objectives`) are others."""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class Objective(Protocol):
    """The training loss of a minibatch: `objective(model, x, y)`, a scalar tensor. An objective
    that is an `nn.Module` may hold parameters of its own, trained with the model. An objective
    with constraints may define `project(model)`: the loop calls it after every step, without
    gradients (projected gradient descent)."""

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor: ...


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The default objective: mean cross-entropy of the model's logits (in float32)."""
    return F.cross_entropy(model(x).float(), y)
