"""Per-example gradients, in one place, and the coherence of a sample's gradients.

`per_example_gradients(module, loss, x, y)` returns, for every parameter of `module`, the gradients
of the m per-example losses, shape (m, *param.shape). `loss(x, y)` is a minibatch objective that
averages per-example losses computed with `module` (any `empirical.train.Objective` closed over its
model, cross-entropy by default). Two methods:
- "outer": for networks whose parameters all sit in `nn.Linear` layers: one forward and one
  backward pass of m * loss; the gradient of example i for a layer is the outer product of the
  backpropagated error at the layer's output and the layer's input (as the authors' code,
  google-research coherent_gradients, computes it). Exact when the loss is a mean of per-example
  terms and examples do not interact in the forward pass;
- "vmap": any network, with `torch.func` (`functional_call`, `grad`, `vmap`).
Work is split into micro-batches of `chunk` examples, so `coherence_moments` holds O(chunk x
params) at a time for any m; with "outer" it never forms the per-example gradients at all (sums and
squared norms come from the layer factors, O(chunk x layer widths)).

BatchNorm in training mode mixes the examples of a batch (its statistics are the batch's), so a
per-example gradient is not defined there: a network with BatchNorm must be in eval mode (running
statistics), and anything else is an error naming that fix. Dropout is likewise refused in
training mode.

Coherence (Chatterjee and Zielinski, arXiv 2203.10036, Section 4; m-coherence in Zielinski and
Chatterjee, arXiv 2008.01217): alpha = ||E g||^2 / E||g||^2 over the sample (E[g . g'] / E[g . g]
for z, z' drawn independently from it), per layer and for the whole network; m-coherence is
m * alpha. The theory around it (baselines, the minibatch formula, a replace-one bound) is in
`genproof.coherence`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

METHODS = ("auto", "outer", "vmap")
MinibatchLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_per_example(module: nn.Module) -> None:
    """Refuse modules whose forward pass mixes the examples of a batch in training mode."""
    for name, sub in module.named_modules():
        if sub.training and isinstance(sub, nn.modules.batchnorm._BatchNorm):
            raise ValueError(f"per-example gradients are undefined through BatchNorm in training mode ({name}): "
                             "call model.eval() to use its running statistics, or use a network without BatchNorm")
        if sub.training and isinstance(sub, nn.Dropout) and sub.p > 0:
            raise ValueError(f"dropout ({name}) is active: call model.eval() or use dropout=0 for per-example gradients")


def linear_only(module: nn.Module) -> bool:
    """True when every trainable parameter belongs to an `nn.Linear` layer (the "outer" method applies)."""
    owned = {id(p) for m in module.modules() if isinstance(m, nn.Linear) for p in m.parameters(recurse=False)}
    return all(id(p) in owned for p in module.parameters() if p.requires_grad)


class _Call(nn.Module):
    """`loss` as a module that owns `module`, so `functional_call` can swap its parameters."""

    def __init__(self, module: nn.Module, loss: MinibatchLoss):
        super().__init__()
        self.module, self.loss = module, loss

    def forward(self, x, y):
        return self.loss(x, y)


def _vmap(module, loss, x, y) -> dict[str, torch.Tensor]:
    call = _Call(module, loss)
    params = {k: p.detach() for k, p in module.named_parameters() if p.requires_grad}

    def one(p, xi, yi):
        return functional_call(call, {f"module.{k}": v for k, v in p.items()}, (xi[None], yi[None]))

    return vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)


def per_example_gradients(module: nn.Module, loss: MinibatchLoss, x: torch.Tensor, y: torch.Tensor,
                          method: str = "auto") -> dict[str, torch.Tensor]:
    """{parameter name: (m, *shape)} gradients of the m per-example losses of `loss` (a mean over
    the batch) in the trainable parameters of `module`, for one batch (split it yourself, or use
    `coherence_moments`, to bound memory). `method`: "outer" (Linear layers only), "vmap" (any
    module), "auto" (outer where it applies)."""
    method = _resolve(module, x, y, method)
    return _outer(module, loss, x, y) if method == "outer" else _vmap(module, loss, x, y)


def _resolve(module: nn.Module, x: torch.Tensor, y: torch.Tensor, method: str) -> str:
    """Check the inputs and the module, and resolve "auto" to "outer" or "vmap"."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many inputs as labels, at least one; got {len(x)} and {len(y)}")
    check_per_example(module)
    if method == "auto":
        method = "outer" if linear_only(module) else "vmap"
    if method == "outer" and not linear_only(module):
        raise ValueError("method 'outer' needs every trainable parameter in an nn.Linear layer; use method='vmap'")
    return method


def _outer_factors(module, loss, x, y) -> dict[str, tuple[nn.Linear, torch.Tensor, torch.Tensor]]:
    """Per `nn.Linear` layer: (layer, backpropagated error of m * loss at its output, its input), each (m, .)."""
    layers = [(name, m) for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    inputs, outputs = {}, {}

    def keep(name):
        def hook(_, args, out):
            inputs[name] = args[0].detach()
            outputs[name] = out
        return hook

    handles = [m.register_forward_hook(keep(name)) for name, m in layers]
    try:
        with torch.enable_grad():
            total = loss(x, y) * len(x)
    finally:
        for h in handles:
            h.remove()
    deltas = torch.autograd.grad(total, [outputs[n] for n, _ in layers])
    return {name: (m, delta, inputs[name]) for (name, m), delta in zip(layers, deltas)}


def _outer(module, loss, x, y) -> dict[str, torch.Tensor]:
    out = {}
    for name, (m, delta, inp) in _outer_factors(module, loss, x, y).items():
        prefix = f"{name}." if name else ""
        if m.weight.requires_grad:
            out[f"{prefix}weight"] = delta[:, :, None] * inp[:, None, :]
        if m.bias is not None and m.bias.requires_grad:
            out[f"{prefix}bias"] = delta
    return out


def _outer_moments(module, loss, x, y) -> dict[str, tuple[torch.Tensor, float]]:
    """{parameter: (sum_i g_i, sum_i ||g_i||^2)} without forming the g_i: for g_i = delta_i x_i^T,
    sum_i g_i = delta^T x and ||g_i||^2 = ||delta_i||^2 ||x_i||^2 (Goodfellow, "Efficient per-example
    gradient computations", arXiv 1510.01799), in float64."""
    out = {}
    for name, (m, delta, inp) in _outer_factors(module, loss, x, y).items():
        prefix = f"{name}." if name else ""
        delta, inp = delta.detach().double(), inp.double()
        d2 = delta.pow(2).sum(1)
        if m.weight.requires_grad:
            out[f"{prefix}weight"] = ((delta.T @ inp).flatten(), (d2 * inp.pow(2).sum(1)).sum().item())
        if m.bias is not None and m.bias.requires_grad:
            out[f"{prefix}bias"] = (delta.sum(0), d2.sum().item())
    return out


def coherence_moments(module: nn.Module, loss: MinibatchLoss, x: torch.Tensor, y: torch.Tensor,
                      chunk: int = 128, method: str = "auto") -> dict[str, dict[str, float]]:
    """Per parameter tensor and for the whole network ("all"): `mean_sq` = ||(1/m) sum_i g_i||^2 and
    `sq_mean` = (1/m) sum_i ||g_i||^2 over the m examples of (x, y), accumulated over micro-batches
    of `chunk` examples (memory O(chunk x parameters) for any m), in float64."""
    if chunk <= 0:
        raise ValueError(f"chunk must be a positive number of examples, got {chunk}")
    method = _resolve(module, x, y, method)
    sums: dict[str, torch.Tensor] = {}
    sq: dict[str, float] = {}
    for i in range(0, len(x), chunk):
        xs, ys = x[i:i + chunk], y[i:i + chunk]
        if method == "outer":  # sums and squared norms straight from the layer factors, no (m, params) tensor
            per_param = _outer_moments(module, loss, xs, ys)
        else:
            per_param = {k: (g.detach().double().flatten(1).sum(0), g.detach().double().pow(2).sum().item())
                         for k, g in per_example_gradients(module, loss, xs, ys, method).items()}
        for k, (total, squares) in per_param.items():
            sums[k] = sums.get(k, 0) + total
            sq[k] = sq.get(k, 0.0) + squares
    m = len(x)
    out = {k: {"mean_sq": (sums[k] / m).pow(2).sum().item(), "sq_mean": sq[k] / m} for k in sums}
    out["all"] = {key: sum(v[key] for v in out.values()) for key in ("mean_sq", "sq_mean")}
    return out


def coherence(moments: dict[str, dict[str, float]], m: int) -> dict[str, float]:
    """alpha = ||E g||^2 / E||g||^2 and m-coherence m * alpha (2008.01217) from `coherence_moments`,
    keyed `alpha` and `m_coherence` for the whole network and `alpha/<param>` per parameter tensor
    (NaN where every gradient is zero)."""
    out = {}
    for k, v in moments.items():
        a = v["mean_sq"] / v["sq_mean"] if v["sq_mean"] > 0 else float("nan")
        if k == "all":
            out["alpha"], out["m_coherence"] = a, m * a
        else:
            out[f"alpha/{k}"] = a
    return out


def coherence_probe(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Callable | None = None,
                    chunk: int = 128) -> Callable[[nn.Module], dict[str, float]]:
    """A probe for `empirical.train.train`: the coherence of the per-example gradients of
    `loss(model, x, y)` (cross-entropy by default) on the fixed sample (x, y), measured in eval mode
    (BatchNorm on running statistics, dropout off); records `alpha`, `m_coherence` and per-layer alphas."""
    from empirical.train import cross_entropy

    objective = loss or cross_entropy

    def probe(net: nn.Module) -> dict[str, float]:
        was = net.training
        net.eval()
        try:
            device = next(net.parameters()).device
            xs, ys = x.to(device), y.to(device)
            moments = coherence_moments(net, lambda a, b: objective(net, a, b), xs, ys, chunk)
        finally:
            net.train(was)
        return coherence(moments, len(x))

    return probe
