"""Robust averaging of gradients as update rules (registered in `empirical.update_rules.UPDATE_RULES`).

Sources: Chatterjee, "Coherent Gradients", ICLR 2020, Section 5 (winsorized gradient descent);
Zielinski, Krishnan and Chatterjee, "Weak and Strong Gradient Directions", arXiv 2003.07422 (M3,
RM3, RA3). Where genproof follows or differs from the authors' code (google-research
coherent_gradients): docs/sources/chatterjee2020.md. Each rule sets the parameters' `.grad` to a
robust aggregate and steps a plain `torch.optim.SGD` with the run's learning rate:

- `m3`: the coordinate-wise median of the gradients of 3 consecutive minibatches; the loop calls
  the rule once per minibatch, so the parameters move on every third call (one step per 3
  minibatches; the loop's step count counts minibatches);
- `rm3`: the coordinate-wise median of the current and the previous two minibatch gradients, one
  step per minibatch once 3 are held;
- `ra3`: the running average of the same three gradients, the control for `rm3`.
  Weight decay is added to each minibatch gradient before it is held (wd * p at that step's
  weights), and momentum is refused for all three;
- `winsorized:C`: per parameter coordinate, across the m examples of the minibatch, the per-example
  gradients are clipped to their C-th and (100 - C)-th percentiles, then averaged (the run's
  momentum and weight decay act through SGD after that); C = 0 is plain SGD. The percentile is the
  nearest order statistic, at round((m - 1) q), halves to even, as the authors' code takes it.
  Computed on one sort; registered for C in `WINSOR_LEVELS`.

A rule that holds gradients across minibatches (m3, rm3, ra3) keeps them in its own state; the loop
does not change.
"""

from __future__ import annotations

import torch
from torch import nn

from empirical.gradients import per_example_gradients
from empirical.update_rules import UPDATE_RULES

WINSOR_LEVELS = (0, 1, 2, 5, 10, 20)  # percent clipped at each end


def median_of_three(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The coordinate-wise median of three tensors: their sum less their min and their max."""
    return a + b + c - torch.minimum(torch.minimum(a, b), c) - torch.maximum(torch.maximum(a, b), c)


def winsorized_mean(g: torch.Tensor, c: float) -> torch.Tensor:
    """The mean over dim 0 of `g` (m per-example gradients) after clipping every coordinate to its
    c-th and (100 - c)-th percentiles across the m examples, each the order statistic at
    round((m - 1) q) for q = c/100, (100 - c)/100 (numpy's `method='nearest'`, the authors' rule)."""
    if not 0 <= c < 50:
        raise ValueError(f"the winsorization level c must be a percentage in [0, 50), got {c}")
    if c == 0:
        return g.mean(0)
    flat = g.flatten(1)
    srt, m = flat.T.contiguous().sort(1).values.T, len(flat)  # speed: sort along contiguous rows
    lo, hi = (srt[round((m - 1) * q)] for q in (c / 100, (100 - c) / 100))  # numpy's float steps; round: half to even
    return flat.clamp(lo, hi).mean(0).view(g.shape[1:])


class _Aggregating:
    """Steps SGD (with `momentum` and `weight_decay`) on an aggregate of gradients that `step` computes."""

    def __init__(self, module: nn.Module, config, momentum: float, weight_decay: float):
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.params, lr=config.lr, momentum=momentum, weight_decay=weight_decay)

    def _minibatch_gradient(self, loss_fn, x, y):
        loss = loss_fn(x, y)
        grads = torch.autograd.grad(loss, self.params)
        return loss.detach(), [g.detach() for g in grads]

    def _apply(self, grads):
        for p, g in zip(self.params, grads):
            p.grad = g
        self.optimizer.step()


class MedianOfThree(_Aggregating):
    """`m3` (rolling=False) and `rm3`/`ra3` (rolling=True, median or mean of the last three); each
    minibatch gradient is held with its weight decay, wd * p at the weights it was computed at."""

    def __init__(self, module, config, rolling: bool, median: bool = True):
        if config.momentum != 0:
            raise ValueError(f"{config.optimizer} takes no momentum (the authors refuse it for M3, RM3 and RA3: "
                             f"unstable): pass momentum=0, got {config.momentum}")
        super().__init__(module, config, momentum=0.0, weight_decay=0.0)
        self.weight_decay, self.rolling, self.median, self.held = config.weight_decay, rolling, median, []

    def step(self, loss_fn, x, y):
        loss, grads = self._minibatch_gradient(loss_fn, x, y)
        grads = [g + self.weight_decay * p.detach() for g, p in zip(grads, self.params)]
        self.held = (self.held + [grads])[-3:]
        if len(self.held) == 3:
            a, b, c = self.held
            agg = [median_of_three(*t) if self.median else (t[0] + t[1] + t[2]) / 3 for t in zip(a, b, c)]
            self._apply(agg)
            if not self.rolling:
                self.held = []
        return loss


class Winsorized(_Aggregating):
    """`winsorized:C`: the winsorized mean of the minibatch's per-example gradients."""

    def __init__(self, module, config, c: float):
        super().__init__(module, config, config.momentum, config.weight_decay)
        self.module, self.c = module, c

    def step(self, loss_fn, x, y):
        was = self.module.training
        self.module.eval()  # per-example gradients: BatchNorm on running statistics, dropout off
        try:
            grads = per_example_gradients(self.module, loss_fn, x, y)
        finally:
            self.module.train(was)
        names = dict(self.module.named_parameters())
        by_id = {id(p): k for k, p in names.items()}
        self._apply([winsorized_mean(grads[by_id[id(p)]], self.c) for p in self.params])
        with torch.no_grad():
            return loss_fn(x, y).detach()


@UPDATE_RULES.register("m3", "median of 3: the coordinate-wise median of 3 minibatch gradients, one step per 3 "
                             "minibatches (2003.07422)")
def _m3(module, config):
    return MedianOfThree(module, config, rolling=False)


@UPDATE_RULES.register("rm3", "rolling median of 3: the median of the current and the previous two minibatch "
                              "gradients, one step per minibatch (2003.07422)")
def _rm3(module, config):
    return MedianOfThree(module, config, rolling=True)


@UPDATE_RULES.register("ra3", "rolling average of 3: the mean of the current and the previous two minibatch "
                              "gradients, the control for rm3 (2003.07422)")
def _ra3(module, config):
    return MedianOfThree(module, config, rolling=True, median=False)


def _register_winsorized(c: int) -> None:
    UPDATE_RULES.add(f"winsorized:{c}", lambda module, config: Winsorized(module, config, c),
                     f"winsorized GD: per coordinate, per-example gradients clipped to their [{c}, {100 - c}] "
                     f"percentiles, then averaged (Chatterjee 2020)")


for _c in WINSOR_LEVELS:
    _register_winsorized(_c)
