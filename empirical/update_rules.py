"""The update rules of the training loop, one `Registry`: a rule receives the whole minibatch and
the loss function, so rules that need more than one gradient per step (the median of three
minibatches, winsorized per-example gradients) fit without touching the loop
(`empirical.train.train`). The robust rules of chatterjee2020 live in `empirical.robust`, which the
registry imports by name before its first lookup (another package adds rules the same way:
`UPDATE_RULES.register` in a module of its own, imported before its first `TrainConfig`)."""

from __future__ import annotations

from typing import Callable, Protocol

import torch

from empirical.registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class UpdateRule(Protocol):
    """One optimisation step on a minibatch; returns the minibatch loss (a detached scalar)."""

    optimizer: torch.optim.Optimizer

    def step(self, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor: ...


UPDATE_RULES = Registry("update rule", modules=("empirical.robust",))  # factory(module, TrainConfig) -> UpdateRule


class GradientStep:
    """The ordinary rule: backpropagate the minibatch loss, then step a torch optimizer."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer

    def step(self, loss_fn, x, y):
        self.optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(x, y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def _fused(config) -> bool | None:
    """Speed: on CUDA, one fused kernel updates every parameter (SGD and Adam); elsewhere torch's
    default implementation, so CPU numbers are unchanged."""
    return True if torch.device(config.device).type == "cuda" else None


@UPDATE_RULES.register("sgd", "SGD with momentum and weight decay (torch.optim.SGD; fused on CUDA)")
def _sgd(model, config):
    return GradientStep(torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                        weight_decay=config.weight_decay, fused=_fused(config)))


@UPDATE_RULES.register("adam", "Adam with L2 weight decay (torch.optim.Adam; fused on CUDA)")
def _adam(model, config):
    return GradientStep(torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                         fused=_fused(config)))


@UPDATE_RULES.register("rmsprop", "RMSprop with momentum and weight decay (torch.optim.RMSprop)")
def _rmsprop(model, config):
    return GradientStep(torch.optim.RMSprop(model.parameters(), lr=config.lr, momentum=config.momentum,
                                            weight_decay=config.weight_decay))
