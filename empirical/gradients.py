"""Per-example gradients, in one place, and the coherence of a sample's gradients.

`per_example_gradients(module, loss, x, y)` returns, for every parameter of `module`, the gradients
of the m per-example losses, shape (m, *param.shape). `loss(x, y)` is a minibatch objective that
averages per-example losses computed with `module` (any `empirical.objectives.Objective` closed over its
model, cross-entropy by default). Two methods:
- "outer" (the layer factors): for networks whose trainable parameters all sit in `nn.Linear`,
  `nn.Conv1d`/`nn.Conv2d` (groups=1, zero padding) and BatchNorm layers on running statistics
  (`factored`): one forward and one backward pass of m * loss; the gradient of example i for a
  Linear layer is the outer product of the backpropagated error at the layer's output and the
  layer's input (as chatterjee2020's code computes it: docs/sources/chatterjee2020.md), summed
  over positions for a convolution (its input unfolded into patches, as BackPACK and Opacus do),
  and per channel for BatchNorm (error times normalized input). Exact when the loss is a mean of
  per-example terms and examples do not interact in the forward pass; a layer applied twice is refused;
- "vmap": any network, with `torch.func` (`functional_call`, `grad`, `vmap`).
Work is split into micro-batches of `chunk` examples, so `coherence_moments` holds O(chunk x
params) at a time for any m; with "outer" it does not form the per-example gradients of a Linear
layer, nor of a convolution whose two P x P Gram matrices are smaller than its gradient (sums and
squared norms come from the layer factors). `benchmarks/per_example_grads.py` times both beside
BackPACK, Opacus and a loop of backward passes (benchmarks/RESULTS.md).

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
import torch.nn.functional as F
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


def _covered(layer: nn.Module) -> bool:
    """True when the layer-factor rule of `_layer_gradients` gives this layer's per-example gradients."""
    if isinstance(layer, nn.Linear):
        return True
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        return layer.groups == 1 and layer.padding_mode == "zeros" and not isinstance(layer.padding, str)
    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
        return not layer.training and layer.track_running_stats  # eval mode: a fixed affine map per channel
    return False


def factored(module: nn.Module) -> bool:
    """True when every trainable parameter belongs to a layer whose per-example gradients come from its
    factors (`nn.Linear`; `nn.Conv1d`/`nn.Conv2d` with groups=1, zero and numeric padding; BatchNorm on
    running statistics): the "outer" method applies."""
    owned = {id(p) for m in module.modules() if _covered(m) for p in m.parameters(recurse=False)}
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
    `coherence_moments`, to bound memory). `method`: "outer" (the layer factors, where `factored`),
    "vmap" (any module), "auto" (outer where it applies)."""
    if _resolve(module, x, y, method) == "outer":
        try:
            return _outer(module, loss, x, y)
        except LayerReused:
            if method == "outer":
                raise
    return _vmap(module, loss, x, y)  # "auto" on a network that applies a layer twice comes here too


def _resolve(module: nn.Module, x: torch.Tensor, y: torch.Tensor, method: str) -> str:
    """Check the inputs and the module, and resolve "auto" to "outer" or "vmap"."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many inputs as labels, at least one; got {len(x)} and {len(y)}")
    check_per_example(module)
    if method == "auto":
        method = "outer" if factored(module) else "vmap"
    if method == "outer" and not factored(module):
        raise ValueError("method 'outer' needs every trainable parameter in a Linear, Conv1d/Conv2d (groups=1) or "
                         "eval-mode BatchNorm layer; use method='vmap'")
    return method


class LayerReused(ValueError):
    """A layer is applied more than once in the forward pass: the layer factors do not apply ("auto" uses vmap)."""


def _outer_factors(module, loss, x, y) -> dict[str, tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """Per layer with trainable parameters: (layer, backpropagated error of m * loss at its output, its
    input), from one forward and one backward pass over the m examples."""
    layers = [(name, m) for name, m in module.named_modules()
              if _covered(m) and any(p.requires_grad for p in m.parameters(recurse=False))]
    inputs, outputs = {}, {}

    def keep(name):
        def hook(_, args, out):
            if name in outputs:  # a layer applied twice sums two factor products: not one outer product
                raise LayerReused(f"layer {name!r} is applied more than once in the forward pass: "
                                 f"its per-example gradients are not one outer product; use method='vmap'")
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


def _patches(layer: nn.Module, inp: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A Linear or convolution layer as (D, A), D (m, out, P) the errors and A (m, in, P) the inputs at
    its P positions (a Linear layer's extra dimensions, a convolution's patches, unfolded as in Opacus
    and BackPACK), so that example i's weight gradient is D_i A_i^T and its bias gradient D_i 1."""
    m = len(inp)
    if isinstance(layer, nn.Linear):
        return delta.reshape(m, -1, delta.shape[-1]).transpose(1, 2), inp.reshape(m, -1, inp.shape[-1]).transpose(1, 2)
    if isinstance(layer, nn.Conv1d):  # as a convolution of height 1
        kernel, dilation, stride = ((1, a[0]) for a in (layer.kernel_size, layer.dilation, layer.stride))
        padding, inp = (0, layer.padding[0]), inp[:, :, None]
    else:
        kernel, dilation, padding, stride = layer.kernel_size, layer.dilation, layer.padding, layer.stride
    patches = F.unfold(inp, kernel, dilation=dilation, padding=padding, stride=stride)
    return delta.flatten(2), patches


def _normalized(layer: nn.modules.batchnorm._BatchNorm, inp: torch.Tensor) -> torch.Tensor:
    """BatchNorm's input normalized by its running statistics (eval mode), (m, C, positions)."""
    mean, var = layer.running_mean[None, :, None], layer.running_var[None, :, None]
    return (inp.reshape(*inp.shape[:2], -1) - mean) / torch.sqrt(var + layer.eps)


def _layer_gradients(layer, delta, inp) -> dict[str, torch.Tensor]:
    """{"weight": (m, *shape), "bias": (m, *shape)} of one layer, trainable parameters only."""
    m, out = len(inp), {}
    if isinstance(layer, nn.modules.batchnorm._BatchNorm):
        d = delta.reshape(*delta.shape[:2], -1)
        if layer.weight is not None and layer.weight.requires_grad:
            out["weight"] = (d * _normalized(layer, inp)).sum(2)
        if layer.bias is not None and layer.bias.requires_grad:
            out["bias"] = d.sum(2)
        return out
    d, a = _patches(layer, inp, delta)
    if layer.weight.requires_grad:  # at one position (a Linear layer on vectors) an outer product
        g = d[:, :, 0, None] * a[:, None, :, 0] if d.shape[2] == 1 else torch.einsum("mop,mkp->mok", d, a)
        out["weight"] = g.reshape(m, *layer.weight.shape)
    if layer.bias is not None and layer.bias.requires_grad:
        out["bias"] = d.sum(2)
    return out


def _outer(module, loss, x, y) -> dict[str, torch.Tensor]:
    out = {}
    for name, (m, delta, inp) in _outer_factors(module, loss, x, y).items():
        prefix = f"{name}." if name else ""
        out.update({f"{prefix}{k}": g for k, g in _layer_gradients(m, delta, inp).items()})
    return out


def _weight_moments(d: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(sum_i G_i, sum_i ||G_i||^2) for G_i = D_i A_i^T, D (m, O, P), A (m, K, P), without the (m, O, K)
    tensor where that is cheaper: ||G_i||^2 = ||D_i||^2 ||A_i||^2 at P = 1 (Goodfellow, "Efficient
    per-example gradient computations", arXiv 1510.01799); = <D_i^T D_i, A_i^T A_i>, two P x P Gram
    matrices, when 2 P^2 < O K (the "ghost norm" of Li et al. 2022, arXiv 2110.05679, chosen per layer
    as in Bu et al.'s mixed ghost clipping, arXiv 2205.10683); else G_i formed one micro-batch at a time."""
    (_, o, p), k = d.shape, a.shape[1]
    if p == 1:
        d, a = d[:, :, 0], a[:, :, 0]
        return (d.T @ a).flatten().double(), (d.pow(2).sum(1) * a.pow(2).sum(1)).sum().item()
    total = torch.einsum("mop,mkp->ok", d, a).flatten()
    if 2 * p * p < o * k:
        squares = (torch.einsum("mop,moq->mpq", d, d) * torch.einsum("mkp,mkq->mpq", a, a)).sum()
    else:
        squares = torch.einsum("mop,mkp->mok", d, a).pow(2).sum()
    return total.double(), squares.item()


def _outer_moments(module, loss, x, y) -> dict[str, tuple[torch.Tensor, float]]:
    """{parameter: (sum_i g_i, sum_i ||g_i||^2)} from the layer factors, the weight gradients of Linear
    and convolution layers never formed where `_weight_moments` avoids it; computed in the network's
    precision (that of its gradients), returned in float64 for accumulation over micro-batches."""
    out = {}
    for name, (m, delta, inp) in _outer_factors(module, loss, x, y).items():
        prefix = f"{name}." if name else ""
        delta = delta.detach()
        if isinstance(m, nn.modules.batchnorm._BatchNorm):  # per channel: (m, C), small
            grads = _layer_gradients(m, delta, inp)
            out.update({f"{prefix}{k}": (g.sum(0).double(), g.pow(2).sum().item()) for k, g in grads.items()})
            continue
        d, a = _patches(m, inp, delta)
        if m.weight.requires_grad:
            out[f"{prefix}weight"] = _weight_moments(d, a)
        if m.bias is not None and m.bias.requires_grad:
            bias = d.sum(2)
            out[f"{prefix}bias"] = (bias.sum(0).double(), bias.pow(2).sum().item())
    return out


def coherence_moments(module: nn.Module, loss: MinibatchLoss, x: torch.Tensor, y: torch.Tensor,
                      chunk: int = 128, method: str = "auto") -> dict[str, dict[str, float]]:
    """Per parameter tensor and for the whole network ("all"): `mean_sq` = ||(1/m) sum_i g_i||^2 and
    `sq_mean` = (1/m) sum_i ||g_i||^2 over the m examples of (x, y), accumulated over micro-batches
    of `chunk` examples (memory O(chunk x parameters) for any m): each micro-batch in the precision of
    the network's gradients, the sums over micro-batches in float64."""
    if chunk <= 0:
        raise ValueError(f"chunk must be a positive number of examples, got {chunk}")
    if _resolve(module, x, y, method) == "outer":
        try:
            return _moments(module, loss, x, y, chunk, "outer")
        except LayerReused:
            if method == "outer":
                raise
    return _moments(module, loss, x, y, chunk, "vmap")


def _moments(module, loss, x, y, chunk: int, method: str) -> dict[str, dict[str, float]]:
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
    from empirical.objectives import cross_entropy

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
