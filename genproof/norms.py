"""Norm-based capacity measures of a trained network, normalised by its margin. Where genproof
differs from the papers (biases folded in, the margin's order statistic, constants left out, the
path norm's width factor, our extension to residual blocks): docs/sources/neyshabur2017.md.

The network is read as the function its margins are of: a chain of affine layers x -> A x + b
(Linear layers, and convolutions with their eval-mode BatchNorm folded in as a per-channel scale
and shift) between ReLUs and pooling, plus residual blocks. Biases are folded in: inputs are
augmented with a constant 1 and each affine layer is the augmented operator
    [A b; 0 1]   (the last layer of a chain, whose output carries no constant: [A b]).
For a convolution A is the linear operator it is on the layer's real input size, stride and
padding, not its kernel.

Margins: margin(x, y) = f(x)_y - max_{j != y} f(x)_j on the training set, gamma its
`margin_quantile` order statistic (`margin_at`: the k-th smallest margin, k = floor(q n), at least
1; default q = 0.1; a gamma <= 0 is refused). Every margin bound below reads
    test error <= R_gamma + (complexity) / gamma + (confidence term),
R_gamma = (1/n) #{i : margin(x_i, y_i) <= gamma}, about q by construction; each row names it.

- spectral complexity (Bartlett, Foster, Telgarsky, "Spectrally-normalized margin bounds for neural
  networks", NeurIPS 2017, Theorem 1.1):
      R_A = (prod_i ||A_i||_sigma) * (sum_i ||A_i^T - M_i^T||_{2,1}^{2/3} / ||A_i||_sigma^{2/3})^{3/2},
  ||.||_sigma the spectral norm, ||B||_{2,1} the sum of the l2 norms of B's columns (for A^T: of
  A's rows), M_i = 0 (`reference="zero"`) or the augmented operator at initialisation
  (`reference="init"`). We report ||X||_F R_A ln(W) / (gamma n), ||X||_F = sqrt(sum_i |x_i|^2) of the
  augmented inputs, W the largest layer width (augmented), without the theorem's constants.
- Frobenius product (Golowich, Rakhlin, Shamir, "Size-independent sample complexity of neural
  networks", COLT 2018, Theorem 1; Neyshabur, Tomioka, Srebro, "Norm-based capacity control in
  neural networks", COLT 2015, for the exponential-in-depth form): we report
  B (sqrt(2 log(2) L) + 1) prod_i ||A_i||_F / (gamma sqrt(n)), B = max_i |x_i| (augmented). ||A||_F
  is the operator's Frobenius norm (a border output of a padded convolution has fewer taps):
  ||A||_F^2 = sum of the operator with squared weights applied to ones.
- l2 path norm phi_2 (Neyshabur, Tomioka, Srebro 2015, Section 4, their phi_p at p = 2):
      phi_2 = sqrt(sum over input-output paths of the product of the squared weights on the path),
  one forward pass of a vector of ones through the network with every weight and bias squared,
  ReLUs removed, max-pooling replaced by sum-pooling and residual additions kept (Gonon,
  Brisebarre, Riccietti, Gribonval, "A path-norm toolkit for modern networks", ICLR 2024). We
  report B phi_2 / (gamma sqrt(n)).

Nonlinearities and pooling: ReLU is 1-Lipschitz and positively homogeneous. Max-pooling with
kernel = stride and no padding is 1-Lipschitz in l2 (disjoint windows, |max a - max b| <= |a - b|_inf
per window); overlapping max-pooling is refused. Global average pooling is merged into the Linear layer that follows it (W' = W / P on each
of the P positions). Dropout and Identity are the identity in eval mode. Residual blocks
(x -> ReLU(branch(x) + skip(x))): the block's Lipschitz factor is ||skip||_sigma + prod
||branch layers||_sigma (our extension); no Frobenius product for residual networks.

Spectral norms: exact (an SVD) for Linear layers; for convolutions, power iteration on the
augmented operator, the adjoint by autograd (a transposed convolution at the same stride and
padding), run until the estimate changes by less than `POWER_TOL` relative (`POWER_ITERS` at most).
Power iteration approaches the top singular value from below; tests/test_norms.py checks it against
the SVD of the dense matrix of small convolutions.

Supported models: empirical.models' MLP, SmallCNN (cnn), ResNet18 (resnet18), and any module
whose layers, read in registration order, are a chain of the layers above that computes the
module's outputs (checked on training inputs: a module whose forward does something else, a skip
connection of its own say, is refused with the reason).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .network import Network
from .network import logits as network_logits
from .quantities import Bound, bound_family

SUPPORTED = ("empirical.models' MLP, SmallCNN and ResNet18, or any module whose layers in registration order are a "
             "chain of Flatten, Linear, Conv1d/2d (+ BatchNorm), ReLU, MaxPool with kernel = stride, global average "
             "pooling, Dropout and Identity layers computing its outputs")
POWER_ITERS = 2000
POWER_TOL = 1e-7


@dataclass(frozen=True, eq=False)
class Affine:
    """x -> A x + b for inputs of `in_shape`: a dense layer (weight (k, d)) or a convolution (weight
    (c_out, c_in, *kernel), at `stride` and `padding`); `bias` has one entry per output unit or channel."""

    weight: torch.Tensor
    bias: torch.Tensor
    in_shape: tuple[int, ...]
    stride: int = 1
    padding: int = 0

    @property
    def conv(self) -> bool:
        return self.weight.ndim > 2

    @property
    def out_shape(self) -> tuple[int, ...]:
        if not self.conv:
            return (self.weight.shape[0],)
        k = self.weight.shape[2:]
        return (self.weight.shape[0],) + tuple((n + 2 * self.padding - kk) // self.stride + 1
                                              for n, kk in zip(self.in_shape[1:], k))

    def linear(self, x: torch.Tensor) -> torch.Tensor:
        """A x for a batch x of shape (b, *in_shape)."""
        if not self.conv:
            return x @ self.weight.T
        conv = F.conv1d if self.weight.ndim == 3 else F.conv2d
        return conv(x, self.weight, stride=self.stride, padding=self.padding)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """A x + b t: the augmented operator's feature part, t the constant coordinate (shape (b,))."""
        shape = (-1, len(self.bias)) + (1,) * (len(self.out_shape) - 1)
        x = x.reshape((len(t),) + self.in_shape)  # a flattened feature map reaches a dense layer
        return self.linear(x) + self.bias.reshape(shape) * t.reshape((-1,) + (1,) * len(self.out_shape))

    def squared(self) -> "Affine":
        """The same layer with every weight and bias squared."""
        return replace(self, weight=self.weight ** 2, bias=self.bias ** 2)

    def minus(self, other: "Affine") -> "Affine":
        return replace(self, weight=self.weight - other.weight, bias=self.bias - other.bias)


@dataclass(frozen=True)
class ReLU:
    pass


@dataclass(frozen=True)
class MaxPool:
    kernel: int


@dataclass(frozen=True, eq=False)
class Residual:
    """x -> ReLU(branch(x) + skip(x)); an empty `skip` is the identity."""

    branch: tuple
    skip: tuple


# ---- reading a model as a network of stages --------------------------------------------------


def _modules(model: nn.Module) -> list[nn.Module]:
    from empirical.models import MLP, ResNet18, SmallCNN

    if isinstance(model, MLP):
        return list(model.net)
    if isinstance(model, SmallCNN):
        return list(model.features) + list(model.head)
    if isinstance(model, ResNet18):
        return list(model.net)
    return _chain(model)


def _chain(module: nn.Module) -> list[nn.Module]:
    """Any other module read as the chain of its layers in registration order, containers opened
    (a residual block of genproof's ResNet-18 kept whole); `norm_measures` checks that the chain
    computes the module's outputs before it uses it."""
    from empirical.models import _BasicBlock

    layers = []
    for m in module.children():
        layers += _chain(m) if list(m.children()) and not isinstance(m, _BasicBlock) else [m]
    return layers


def _fold_batch_norm(op: Affine, bn: nn.Module) -> Affine:
    """Eval-mode BatchNorm after `op`: y = s (A x + b - mu) + beta, s = gamma / sqrt(var + eps)."""
    s = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    weight = op.weight * s.reshape((-1,) + (1,) * (op.weight.ndim - 1))
    return replace(op, weight=weight, bias=s * (op.bias - bn.running_mean.double()) + bn.bias.detach().double())


def _stages(modules: list[nn.Module], shape: tuple[int, ...]) -> tuple[list, tuple[int, ...]]:
    """The stages of `modules` run in order on inputs of `shape`, and the output shape."""
    from empirical.models import _BasicBlock

    stages, i = [], 0
    while i < len(modules):
        m = modules[i]
        if isinstance(m, (nn.Dropout, nn.Identity)):
            pass
        elif isinstance(m, nn.Flatten):
            shape = (math.prod(shape),)
        elif isinstance(m, nn.ReLU):
            stages.append(ReLU())
        elif isinstance(m, nn.Linear):
            if len(shape) != 1 or shape[0] != m.in_features:
                raise NotImplementedError(f"a Linear layer of {m.in_features} inputs reads features of shape {shape}")
            stages.append(Affine(m.weight.detach().double(), _bias(m), shape))
            shape = (m.out_features,)
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            if isinstance(m.padding, str) or m.groups != 1 or set(m.dilation) != {1} or len(set(m.stride)) > 1 \
                    or len(set(m.padding)) > 1:
                raise NotImplementedError(f"convolutions with one stride and padding for every axis, no dilation or "
                                          f"groups; got {m}")
            op = Affine(m.weight.detach().double(), _bias(m), shape, m.stride[0], m.padding[0])
            if i + 1 < len(modules) and isinstance(modules[i + 1], nn.modules.batchnorm._BatchNorm):
                op, i = _fold_batch_norm(op, modules[i + 1]), i + 1
            stages.append(op)
            shape = op.out_shape
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            k, s = m.kernel_size, m.stride
            if k != s or m.padding != 0 or m.dilation != 1 or m.ceil_mode or not isinstance(k, int):
                raise NotImplementedError(f"max-pooling with kernel = stride and no padding (1-Lipschitz); got {m}")
            stages.append(MaxPool(k))
            shape = (shape[0],) + tuple(n // k for n in shape[1:])
        elif isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
            i, op = _average_then_linear(modules, i, shape)
            stages.append(op)
            shape = op.out_shape
        elif isinstance(m, _BasicBlock):
            branch, out = _stages(list(m.body), shape)
            skip, _ = _stages([] if isinstance(m.skip, nn.Identity) else list(m.skip), shape)
            stages.append(Residual(tuple(branch), tuple(skip)))
            shape = out
        else:
            raise NotImplementedError(f"norm measures are implemented for {SUPPORTED}; got a {type(m).__name__} layer")
        i += 1
    return stages, shape


def _bias(m: nn.Module) -> torch.Tensor:
    return (m.bias.detach().double() if m.bias is not None
            else torch.zeros(m.weight.shape[0], dtype=torch.float64))


def _average_then_linear(modules: list[nn.Module], i: int, shape: tuple[int, ...]) -> tuple[int, Affine]:
    """Global average pooling, Flatten, (Dropout), Linear: one dense layer W' = W / P repeated on the P
    positions of each channel (the flattened input is channel-major). Returns the Linear's index."""
    if modules[i].output_size not in (1, (1,), (1, 1)):
        raise NotImplementedError(f"adaptive average pooling to one position only; got {modules[i]}")
    j = i + 1
    while j < len(modules) and isinstance(modules[j], (nn.Flatten, nn.Dropout, nn.Identity)):
        j += 1
    if j == len(modules) or not isinstance(modules[j], nn.Linear):
        raise NotImplementedError("global average pooling must be followed by Flatten and a Linear layer")
    positions = math.prod(shape[1:])
    w = modules[j].weight.detach().double().repeat_interleave(positions, dim=1) / positions
    return j, Affine(w, _bias(modules[j]), (math.prod(shape),))


def network(model: nn.Module, input_shape: tuple[int, ...]) -> list:
    """`model` (eval mode) as a list of stages (`Affine`, `ReLU`, `MaxPool`, `Residual`) for inputs of
    `input_shape`; NotImplementedError naming what is supported for other models."""
    shape = tuple(getattr(model, "shape", input_shape))
    stages, _ = _stages(_modules(model), shape)
    if not any(isinstance(s, (Affine, Residual)) for s in stages) or not isinstance(stages[-1], Affine):
        raise NotImplementedError(f"{type(model).__name__} must end in an affine layer; supported: {SUPPORTED}")
    return stages


def _pool(x: torch.Tensor, kernel: int, kind: str) -> torch.Tensor:
    one_d = x.ndim == 3
    if kind == "max":
        return (F.max_pool1d if one_d else F.max_pool2d)(x, kernel)
    return (F.avg_pool1d if one_d else F.avg_pool2d)(x, kernel) * kernel ** (x.ndim - 2)


def forward(stages: list, x: torch.Tensor) -> torch.Tensor:
    """The network of `stages` on a batch x (augmented with the constant 1): the model's logits, which
    `norm_measures` checks, so the measures are of the function the margins are of."""
    x, t = x.double().reshape(len(x), *_in_shape(stages)), torch.ones(len(x), dtype=torch.float64)
    for s in stages:
        if isinstance(s, Affine):
            x = s(x, t)
        elif isinstance(s, ReLU):
            x = torch.relu(x)
        elif isinstance(s, MaxPool):
            x = _pool(x, s.kernel, "max")
        else:
            x = torch.relu(forward_chain(s.branch, x, t) + forward_chain(s.skip, x, t))
    return x


def forward_chain(stages: tuple, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    for s in stages:
        x = s(x, t) if isinstance(s, Affine) else torch.relu(x)
    return x


def _in_shape(stages: list) -> tuple[int, ...]:
    first = stages[0]
    return first.in_shape if isinstance(first, Affine) else _in_shape(list(first.branch))


# ---- the norms of one augmented operator -----------------------------------------------------


def spectral_norm(w: torch.Tensor) -> float:
    """||W||_sigma, the largest singular value of a matrix."""
    return float(torch.linalg.matrix_norm(w, ord=2))


def augmented_matrix(op: Affine, keep_constant: bool) -> torch.Tensor:
    """[W b; 0 1] (or [W b] when the constant is not passed on) of a dense layer."""
    top = torch.cat([op.weight, op.bias[:, None]], dim=1)
    if not keep_constant:
        return top
    bottom = torch.zeros(1, top.shape[1], dtype=top.dtype)
    bottom[0, -1] = 1.0
    return torch.cat([top, bottom])


def operator_spectral_norm(op: Affine, keep_constant: bool, seed: int = 0) -> float:
    """||[A b; 0 1]||_sigma (or ||[A b]||_sigma): an SVD for dense layers, power iteration on
    z = (x, t) -> (A x + b t, t) and its adjoint (autograd) for convolutions."""
    if not op.conv:
        return spectral_norm(augmented_matrix(op, keep_constant))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((1,) + op.in_shape, generator=g, dtype=torch.float64)
    t = torch.randn(1, generator=g, dtype=torch.float64)
    sigma = 0.0
    for _ in range(POWER_ITERS):
        scale = math.sqrt(float((x ** 2).sum() + (t ** 2).sum()))
        x, t = (x / scale).requires_grad_(), (t / scale).requires_grad_()
        y = op(x, t)
        squared = (y ** 2).sum() + (t ** 2).sum() * keep_constant  # ||F z||^2 for the unit vector z
        (squared / 2).backward()
        x, t = x.grad.detach(), t.grad.detach()  # F^T F z
        value = math.sqrt(float(squared.detach()))
        if abs(value - sigma) <= POWER_TOL * value:
            return value
        sigma = value
    return sigma


def _row_norms_squared(op: Affine) -> torch.Tensor:
    """The squared l2 norms of the rows of [A b]: the layer with squared weights applied to ones (each
    entry of A is one weight, so the row of output unit u sums the squares of its in-bounds weights)."""
    ones = torch.ones((1,) + op.in_shape, dtype=torch.float64)
    return op.squared()(ones, torch.ones(1, dtype=torch.float64)).flatten()


def norm_2_1_transposed(op: Affine, keep_constant: bool, reference: Affine | None = None) -> float:
    """||(A - M)^T||_{2,1} of the augmented operators: the sum of the l2 norms of the rows of
    [A b; 0 1] - [M c; 0 1] (the constant row cancels against a reference)."""
    diff = op if reference is None else op.minus(reference)
    return float(_row_norms_squared(diff).sqrt().sum()) + (keep_constant and reference is None)


def frobenius_norm(op: Affine, keep_constant: bool) -> float:
    """||[A b; 0 1]||_F (or ||[A b]||_F) of the operator."""
    return math.sqrt(float(_row_norms_squared(op).sum()) + keep_constant)


# ---- the measures of a network ---------------------------------------------------------------


def _affine_layers(stages, keep_last: bool = False) -> list[tuple[Affine, bool]]:
    """Every affine layer, in order, with whether it passes the constant on (all but the last of a
    chain or a branch; a skip passes it on)."""
    out = []
    last = max(i for i, s in enumerate(stages) if isinstance(s, (Affine, Residual))) if stages else -1
    for i, s in enumerate(stages):
        if isinstance(s, Affine):
            out.append((s, keep_last or i != last))
        elif isinstance(s, Residual):
            out += _affine_layers(s.branch) + _affine_layers(s.skip, keep_last=True)
    return out


def lipschitz_bound(stages, sigmas: dict) -> float:
    """prod of the spectral norms along the chain, a residual block contributing
    ||skip||_sigma + prod ||branch||_sigma (its Lipschitz bound; ReLU and max-pooling contribute 1)."""
    out = 1.0
    for s in stages:
        if isinstance(s, Affine):
            out *= sigmas[id(s)]
        elif isinstance(s, Residual):
            out *= lipschitz_bound(s.skip, sigmas) + lipschitz_bound(s.branch, sigmas)
    return out


def spectral_complexity(stages, references=None) -> tuple[float, float]:
    """(R_A, the Lipschitz bound) of Bartlett et al. 2017, Theorem 1.1, for the augmented operators,
    M_i = 0 unless `references` (the same network at initialisation)."""
    layers = _affine_layers(stages)
    refs = [None] * len(layers) if references is None else [r for r, _ in _affine_layers(references)]
    sigmas = {id(op): operator_spectral_norm(op, keep) for op, keep in layers}
    ratio = sum((norm_2_1_transposed(op, keep, ref) / sigmas[id(op)]) ** (2 / 3)
                for (op, keep), ref in zip(layers, refs))
    lip = lipschitz_bound(stages, sigmas)
    return lip * ratio ** 1.5, lip


def _square_pass(stages, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    for s in stages:
        if isinstance(s, Affine):
            v = s.squared()(v, t)
        elif isinstance(s, MaxPool):
            v = _pool(v, s.kernel, "sum")
        elif isinstance(s, Residual):
            v = _square_pass(s.branch, v, t) + (_square_pass(s.skip, v, t) if s.skip else v)
    return v


def path_norm(stages) -> float:
    """phi_2 of the network with biases: sqrt of the sum over paths (from every input and from the
    constant 1) of the products of squared weights; one pass of ones with squared weights and biases,
    ReLUs removed, max-pooling as sum-pooling, residual sums kept."""
    one = torch.ones(1, dtype=torch.float64)
    return math.sqrt(float(_square_pass(stages, torch.ones((1,) + _in_shape(stages), dtype=torch.float64),
                                        one).sum()))


@torch.no_grad()
def margins(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f(x)_y - max_{j != y} f(x)_j for every example (positive iff classified correctly)."""
    logits = network_logits(model.eval(), x).double()
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf")).max(1).values
    return true - others


def margin_at(margins_: torch.Tensor, quantile: float) -> float:
    """The k-th smallest of `margins_`, k = floor(quantile n) and at least 1: the order statistic
    Dziugaite et al.'s `_margin` takes (`kthvalue(m // 10)` at quantile 0.1), not an interpolated
    quantile."""
    if not 0 <= quantile < 1:
        raise ValueError(f"quantile must be in [0, 1), got {quantile}")
    k = max(1, math.floor(quantile * len(margins_) + 1e-9))  # 1e-9: q n in floats may fall just below an integer (0.29 * 100)
    return float(margins_.kthvalue(k).values)


@dataclass(frozen=True)
class NormMeasures:
    """The margin-normalised measures and the numbers they are computed from (inputs augmented with 1)."""

    spectral: float  # ||X||_F R_A ln(W) / (gamma n)
    frobenius: float | None  # B (sqrt(2 log(2) L) + 1) prod ||A_i||_F / (gamma sqrt(n)); None for residual nets
    path: float  # B phi_2 / (gamma sqrt(n))
    gamma: float
    margin_quantile: float
    margin_loss: float  # R_gamma: the share of training margins <= gamma
    spectral_complexity: float  # R_A
    lipschitz_bound: float  # prod ||A_i||_sigma (residual blocks: ||skip|| + prod ||branch||)
    frobenius_product: float | None
    path_norm: float
    data_frobenius: float  # ||X||_F
    max_input_norm: float  # B
    max_width: int  # W
    depth: int  # L, the number of affine layers
    n: int
    reference: str
    min_margin: float
    residual: bool


CHECK_BATCH = 64  # training examples on which the folded network is checked against the model


class MarginNotPositive(ValueError):
    """The margin gamma (an order statistic of the training margins) is <= 0: the measures divide by it."""


def norm_measures(net: Network, margin_quantile: float = 0.1, reference: str = "zero") -> NormMeasures:
    """The three measures of the module docstring for `net` on its training data."""
    if reference not in ("zero", "init"):
        raise ValueError(f"reference must be 'zero' or 'init', got {reference!r}")
    if not 0 <= margin_quantile < 1:
        raise ValueError(f"margin_quantile must be in [0, 1), got {margin_quantile}")
    x, y = net.data.x_train, net.data.y_train
    model = net.model.eval()
    stages = network(model, net.data.input_shape)
    with torch.no_grad():
        folded, logits = forward(stages, x[:CHECK_BATCH]), model(x[:CHECK_BATCH]).double()
    if not torch.allclose(folded, logits, rtol=1e-4, atol=1e-4 * float(logits.abs().max())):
        raise NotImplementedError(f"the network read off {type(model).__name__} differs from its outputs by "
                                  f"{float((folded - logits).abs().max()):.3g}: its forward is not the chain of its "
                                  f"layers; supported: {SUPPORTED}")
    refs = network(net.init.eval(), net.data.input_shape) if reference == "init" else None
    n = len(y)
    mg = margins(model, x, y)
    gamma = margin_at(mg, margin_quantile)
    if gamma <= 0:
        raise MarginNotPositive(f"the {margin_quantile:.0%} order statistic of the training margins is {gamma:.3g} <= 0: "
                                f"more than that share of the training set is misclassified; norm measures need "
                                f"gamma > 0")
    sq = x.reshape(n, -1).double().pow(2).sum(1) + 1  # |[x; 1]|^2
    x_f, b = float(sq.sum().sqrt()), float(sq.max().sqrt())
    r_a, lip = spectral_complexity(stages, refs)
    layers = _affine_layers(stages)
    width = max(max(math.prod(op.in_shape) + 1, math.prod(op.out_shape) + keep) for op, keep in layers)
    residual = any(isinstance(s, Residual) for s in stages)
    fro = None if residual else math.prod(frobenius_norm(op, keep) for op, keep in layers)
    phi = path_norm(stages)
    depth = len(layers)
    return NormMeasures(
        spectral=x_f * r_a * math.log(width) / (gamma * n),
        frobenius=None if fro is None else b * (math.sqrt(2 * math.log(2) * depth) + 1) * fro / (gamma * math.sqrt(n)),
        path=b * phi / (gamma * math.sqrt(n)), gamma=gamma, margin_quantile=margin_quantile,
        margin_loss=float((mg <= gamma).double().mean()), spectral_complexity=r_a, lipschitz_bound=lip,
        frobenius_product=fro, path_norm=phi, data_frobenius=x_f, max_input_norm=b, max_width=width, depth=depth,
        n=n, reference=reference, min_margin=float(mg.min()), residual=residual,
    )


def not_applicable(net: Network) -> str | None:
    """Why the measures are not computed for `net` (`network`'s reason), or None."""
    try:
        network(net.model, net.data.input_shape)
    except NotImplementedError as err:
        return str(err)
    return None


FROBENIUS_RESIDUAL = ("Golowich et al. 2018, Theorem 1 (and Neyshabur et al. 2015) peel the layers of a chain; a "
                      "residual block's skip has no Frobenius analogue (||I||_F = sqrt(dimension)), so no product of "
                      "Frobenius norms is computed for residual networks")


@bound_family("norms", "spectral, Frobenius and path-norm measures over the margin (MLPs, CNNs, ResNet-18; biases "
              "folded in)", not_applicable, kinds=("measure",), uses_delta=False, cost="pass",
              source="Bartlett, Foster, Telgarsky 2017, Theorem 1.1; Golowich et al. 2018, Theorem 1; Neyshabur, "
                     "Tomioka, Srebro 2015, Section 4",
              limitations="measures without the theorems' constants: they bound nothing by themselves; the residual "
                          "extension of the spectral complexity is ours",
              card="docs/sources/neyshabur2017.md")
def bound_rows(net: Network, delta: float = 0.05) -> list[Bound]:
    """The three measures as rows of the bounds table, each of kind `measure`: they are the leading
    terms of margin bounds (test error <= R_gamma + measure x constants + confidence), not bounds; the
    name gives the margin loss R_gamma at gamma that stands beside them. (`delta` is accepted for a
    uniform signature; the measures do not depend on it.)"""
    try:
        m = net.shared("norm_measures", lambda: norm_measures(net))
    except MarginNotPositive as err:  # a network that misclassifies that much of its training set
        return [Bound("norm measures / margin", "Bartlett, Foster, Telgarsky 2017; Neyshabur et al. 2015, 2017", None,
                      "not-applicable", {"reason": str(err)})]
    detail = asdict(m)
    at = f"gamma = {m.margin_quantile:.0%} margin order statistic; margin loss at gamma {m.margin_loss:.3f}"
    spectral_source = ("Bartlett, Foster, Telgarsky 2017, Theorem 1.1" if not m.residual else
                       "Bartlett, Foster, Telgarsky 2017, Theorem 1.1, extended by us to residual blocks "
                       "(||skip|| + ||branch||): not covered by the theorem")
    rows = [Bound(f"spectral complexity / margin ({at})", spectral_source, m.spectral, "measure", detail)]
    if m.frobenius is None:
        rows.append(Bound("Frobenius-norm product / margin", "Golowich et al. 2018, Theorem 1", None, "not-applicable",
                          {"reason": FROBENIUS_RESIDUAL}))
    else:
        rows.append(Bound(f"Frobenius-norm product / margin ({at})",
                          "Neyshabur et al. 2015; Golowich et al. 2018, Theorem 1", m.frobenius, "measure", detail))
    rows.append(Bound(f"l2 path norm phi_2 / margin ({at})",
                      "Neyshabur, Tomioka, Srebro 2015, Section 4 (phi_2, without the width factor of Neyshabur et "
                      "al. 2017, Section 2); Gonon et al. 2024 for biases, pooling and skips", m.path, "measure", detail))
    return rows
