"""VC dimension: parameter and layer counts of ReLU networks, the Bartlett-Harvey-Liaw-Mehrabian
upper bound and a provable lower bound on their VC dimension, halfspaces, and the growth-function
generalization bound for K-class networks.

Sources:
- BHLM: Bartlett, Harvey, Liaw, Mehrabian, "Nearly-tight VC-dimension and pseudodimension bounds
  for piecewise linear neural networks", JMLR 20(63), 2019. The refined upper bound is Theorem 7
  of this JMLR version (Theorem 6 of the arXiv version, 1703.02930); we cite the JMLR numbering.
- Mohri, Rostamizadeh, Talwalkar, *Foundations of Machine Learning*, 2nd ed., 2018, Chapter 3:
  Theorem 3.3 (Rademacher bound for functions into [0, 1]), Theorem 3.7 (Massart's lemma),
  Corollary 3.9 (growth-function bound, binary), Corollary 3.18 (Sauer's lemma, Pi(m) <= (em/d)^d).
- zhang2017, Theorem 1 (a 2-layer ReLU network with n hidden units represents any labeling of n points).

VC dimension is a property of binary classifiers; the networks here classify into K classes by
argmax over K outputs. `multiclass_log_growth` bounds the growth function of that argmax through
the K(K-1)/2 pairwise comparisons, each the sign of a one-output network of the same hidden
layers (our derivation, notebooks/multiclass_vc.ipynb), whose VC dimension BHLM bound. The
`Architecture` counts are of that one-output network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .network import Network
from .quantities import Bound, bound_family


@dataclass(frozen=True)
class Architecture:
    """A layered ReLU network with one output unit: `units[i]` computation units in layer i + 1
    (the last layer is the single output unit) and `params[i]` weights and biases at their inputs."""

    units: tuple[int, ...]
    params: tuple[int, ...]

    @property
    def W(self) -> int:
        """Number of parameters (weights and biases)."""
        return sum(self.params)

    @property
    def L(self) -> int:
        """Number of layers with weights (hidden layers plus the output layer)."""
        return len(self.units)

    @property
    def U(self) -> int:
        """Number of computation units (hidden and output)."""
        return sum(self.units)


def chain_architecture(input_dim: int, widths: tuple[int, ...]) -> Architecture:
    """A chain of ReLU layers of `widths` units on `input_dim` inputs, with one output unit."""
    dims = [input_dim, *widths, 1]
    return Architecture(tuple(dims[1:]), tuple((a + 1) * b for a, b in zip(dims[:-1], dims[1:])))


def mlp_architecture(input_dim: int, width: int, depth: int) -> Architecture:
    """The `empirical.models` MLP (`depth` hidden ReLU layers of `width` units) with one output unit."""
    return chain_architecture(input_dim, (width,) * depth)


CHAIN = "a chain of Linear layers with biases and ReLUs between them (Flatten, Dropout and Identity allowed)"
CHECK_BATCH = 64  # training inputs on which the chain read off the module is checked against the module


def relu_chain(model: nn.Module, x: torch.Tensor) -> tuple[int, ...]:
    """The hidden widths of `model` read as `CHAIN` (its leaf modules in registration order), checked
    to compute the module's own outputs on the inputs `x[:CHECK_BATCH]`; NotImplementedError saying
    what differs for any other module."""
    layers = []
    for m in model.modules():
        if list(m.children()) or isinstance(m, (nn.Flatten, nn.Dropout, nn.Identity)):
            continue
        if not isinstance(m, (nn.Linear, nn.ReLU)):
            raise NotImplementedError(f"the VC bound here covers {CHAIN}; {type(model).__name__} has a "
                                      f"{type(m).__name__} layer")
        layers.append(m)
    linears = layers[0::2]
    pattern = all(isinstance(m, nn.Linear) for m in linears) and all(isinstance(m, nn.ReLU) for m in layers[1::2])
    if not layers or not pattern or isinstance(layers[-1], nn.ReLU):
        raise NotImplementedError(f"the VC bound here covers {CHAIN}; {type(model).__name__}'s layers are "
                                  f"{', '.join(type(m).__name__ for m in layers) or 'none'}")
    if any(m.bias is None for m in linears):
        raise NotImplementedError(f"the VC bound here covers {CHAIN}; a Linear layer of {type(model).__name__} "
                                  "has no bias (the lower bound on VCdim uses biases)")
    if sum(p.numel() for p in model.parameters()) != sum(p.numel() for m in linears for p in m.parameters()):
        raise NotImplementedError(f"{type(model).__name__} has parameters outside its Linear layers")
    chain = nn.Sequential(nn.Flatten(), *layers).eval()
    with torch.no_grad():
        ours, theirs = chain(x[:CHECK_BATCH]), model.eval()(x[:CHECK_BATCH])
    if ours.shape != theirs.shape or not torch.allclose(ours, theirs, rtol=1e-4, atol=1e-5):
        raise NotImplementedError(f"{type(model).__name__}'s forward is not the chain of its Linear and ReLU "
                                  f"layers in registration order (checked on {len(ours)} training inputs)")
    return tuple(m.out_features for m in linears[:-1])


def bhlm_upper(arch: Architecture, pieces: int = 2) -> float:
    """BHLM 2019 (JMLR) Theorem 7 (arXiv: Theorem 6) for piecewise-linear activations (degree 1)
    with `pieces` = p + 1 pieces (ReLU: p = 1), for the sign of a one-output network:

        VCdim <= L + Lbar W log2(4 e p R log2(2 e p R)),

    where W_i = parameters in layers 1..i (cumulative, as the theorem defines it for degree > 0),
    Lbar = (1/W) sum_i W_i (the effective depth, <= L), R = sum_i i k_i with k_i units in layer i
    (the theorem's R = sum_i k_i (1 + (i - 1) d^(i-1)) at degree d = 1). It gives the O(W L log W)
    of the abstract.

    Verification: the search tools reached the paper's abstract and the footnote that names the
    refined upper bound (JMLR: "a refinement of the upper bound, Theorem 7"; arXiv: "Theorem 6"),
    not the theorem's text; the formula is as recalled, and its constants (4e, 2e, log2) could not
    be checked against the text.
    """
    p = pieces - 1
    cumulative = [sum(arch.params[:i + 1]) for i in range(arch.L)]
    Lbar = sum(cumulative) / arch.W
    R = sum((i + 1) * k for i, k in enumerate(arch.units))
    return arch.L + Lbar * arch.W * math.log2(4 * math.e * p * R * math.log2(2 * math.e * p * R))


def chain_lower(input_dim: int, widths: tuple[int, ...]) -> int:
    """A VC-dimension lower bound valid for the one-output ReLU chain of hidden `widths` itself (not
    an order), and so for each pairwise comparison of its K-output version:
    - d + 1: one hidden ReLU unit realizes any halfspace on a finite set (sign(relu(<w,x>+b) - eps),
      passed through later layers by positive identity weights), and halfspaces in R^d have VC
      dimension d + 1;
    - the width, for one hidden layer: zhang2017 Theorem 1 builds, for any n = width points with
      distinct projections <a, x_i> (true of distinct points for almost every a), the hidden biases
      and output weights that fit any real targets, so any +-1 labeling.
    """
    return max(input_dim + 1, widths[0] if len(widths) == 1 else 0)


def mlp_lower(input_dim: int, width: int, depth: int) -> int:
    """`chain_lower` for the `empirical.models` MLP of `depth` hidden layers of `width` units."""
    return chain_lower(input_dim, (width,) * depth)


def halfspace_vc_dimension(d: int) -> int:
    """Affine halfspaces sign(<w, x> + b) in R^d have VC dimension d + 1 (Radon's theorem;
    `constructions.shattering` checks small cases)."""
    return d + 1


def log_growth(vc: float, n: int) -> float:
    """An upper bound on log Pi_H(n) for a binary class H of VC dimension `vc`: min(n log 2,
    d log(e n / d)) for d <= n (Sauer's lemma, Mohri et al. 2018 Corollary 3.18), n log 2 for
    d > n (Pi_H(n) <= 2^n). Non-decreasing in d."""
    if vc <= 0:
        return 0.0
    if vc >= n:
        return n * math.log(2)
    return min(n * math.log(2), vc * math.log(math.e * n / vc))


def multiclass_log_growth(vc: float, n: int, num_classes: int) -> float:
    """An upper bound on log Pi_H(n) for H = {x -> argmax_k f_k(x)} (first index among ties) over K
    = `num_classes` outputs, when every pairwise comparison x -> 1[f_i(x) >= f_j(x)] lies in a
    binary class of VC dimension `vc` (our derivation, notebooks/multiclass_vc.ipynb): the label of
    x is a function of the K(K-1)/2 comparisons, so

        log Pi_H(n) <= min(n log K, K(K-1)/2 * log Pi_bin(n)),

    with `log_growth` for log Pi_bin(n) (n log K: K^n labelings at most). K = 2 gives `log_growth`."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    pairs = num_classes * (num_classes - 1) // 2
    return min(n * math.log(num_classes), pairs * log_growth(vc, n))


def log_growth_lower(vc_lower: int, n: int) -> float:
    """A lower bound on log Pi_H(n) for a class that shatters some set of `vc_lower` points:
    min(n, vc_lower) log 2 (the 2^min(n, d) labelings of (part of) a shattered set are distinct on
    any n points containing it)."""
    return min(n, vc_lower) * math.log(2)


def growth_function_bound(train_error: float, log_growth_n: float, n: int, delta: float) -> float:
    """Mohri, Rostamizadeh, Talwalkar 2018, Corollary 3.9 (the growth-function generalization
    bound): with probability >= 1 - delta over n i.i.d. examples, every h in H has

        test error(h) <= train error(h) + sqrt(2 log Pi_H(n) / n) + sqrt(log(1/delta) / (2n)),

    with `log_growth_n` = log Pi_H(n) or an upper bound on it (0-1 loss). Corollary 3.9 is stated
    for binary H; for a K-class H the same inequality follows from Theorem 3.3 applied to the loss
    class {(x, y) -> 1[h(x) != y]} and Massart's lemma (Theorem 3.7) on its loss vectors centred at
    1/2 (norm sqrt(n)/2, at most Pi_H(n) of them): 2 R_n(loss class) <= sqrt(2 log Pi_H(n) / n)
    (our derivation, notebooks/multiclass_vc.ipynb)."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if n < 1:
        raise ValueError(f"n must be a positive sample size, got {n}")
    if log_growth_n < 0:
        raise ValueError(f"log_growth_n is the log of a growth function (>= 0), got {log_growth_n}")
    return train_error + math.sqrt(2 * log_growth_n / n) + math.sqrt(math.log(1 / delta) / (2 * n))


def vc_bound(train_error: float, vc: float, n: int, delta: float, num_classes: int = 2) -> float:
    """The VC bound: `growth_function_bound` at `multiclass_log_growth(vc, n, num_classes)`, i.e.
    for binary H (K = 2) Mohri et al. 2018 Corollary 3.9 with Sauer's lemma (Corollary 3.18):
    test error <= train error + sqrt(2 d log(e n / d) / n) + sqrt(log(1/delta) / (2n)) for n >= d,
    and for K classes its extension through pairwise comparisons of VC dimension `vc`.
    `train_error` is the K-class training error. Non-decreasing in `vc`, so at a lower bound on the
    VC dimension it is a lower estimate of the bound at the exact VC dimension."""
    return growth_function_bound(train_error, multiclass_log_growth(vc, n, num_classes), n, delta)


def not_applicable(net: Network) -> str | None:
    """Networks that are a chain of Linear layers (with biases) and ReLUs, read off the module and
    checked against its outputs (`relu_chain`): BHLM's Theorem 7 reads their layer-by-layer
    parameter counts; batch norm, pooling, convolutions and skip connections are not worked out here."""
    try:
        relu_chain(net.model, net.data.x_train)
    except NotImplementedError as err:
        return str(err)
    return None


SOURCE = ("Mohri et al. 2018 Cor. 3.9 (K classes: Thm 3.3 + Massart, Thm 3.7, via pairwise comparisons; our "
          "derivation, notebooks/multiclass_vc.ipynb) with Sauer (Cor. 3.18)")


@bound_family("vc", "VC bound for K classes via pairwise comparisons, at BHLM's upper and a provable lower "
              "bound on the VC dimension (ReLU MLPs)", not_applicable, kinds=("network", "lower-estimate"),
              source=f"{SOURCE}; BHLM 2019 (JMLR) Theorem 7", cost="architecture",
              limitations="the VC dimension of the architecture, not of the trained weights: large for any network "
                          "that can fit its training set; BHLM's constants are as recalled (bhlm_upper)")
def bound_rows(net: Network, delta: float = 0.05) -> list[Bound]:
    """Two rows for ReLU MLPs (`relu_chain`) with K classes (`vc_bound` with the network's K-class training
    error; the VC dimension is that of the one-output network of the same hidden layers, which
    each pairwise comparison of outputs is):
    - kind "network": at BHLM 2019 Theorem 7's upper bound on the VC dimension, an upper bound on
      the test error with probability >= 1 - delta;
    - kind "lower-estimate": at `mlp_lower`, a provable lower bound on the VC dimension, so at most
      the value of the same bound at the exact VC dimension: at or above 1 it shows that even the
      exact VC dimension would leave this bound vacuous; below 1 it certifies nothing.
    A network it does not apply to (`not_applicable`) gets no rows."""
    if not_applicable(net):
        return []
    widths = relu_chain(net.model, net.data.x_train)
    s = net.summary
    d, n, K = math.prod(s["input_shape"]), s["n_train"], s["num_classes"]
    arch = chain_architecture(d, widths)
    upper, lower = bhlm_upper(arch), chain_lower(d, widths)
    common = {"train_error": s["train_error"], "n": n, "W": arch.W, "L": arch.L, "num_classes": K,
              "pairwise_comparisons": K * (K - 1) // 2, "delta": delta}
    cap = n * math.log(K)

    def at(vc: float) -> tuple[str, dict]:
        """The name's note and the detail of the growth-function bound at VC dimension `vc`: whether
        the trivial cap log Pi_H(n) <= n log K binds (then the VC dimension plays no part)."""
        log_growth = multiclass_log_growth(vc, n, K)
        binds = log_growth >= cap
        note = " (at the n log K cap of the growth function: the VC dimension plays no part)" if binds else ""
        return note, {"vc_dimension": vc, "log_growth": log_growth, "cap_n_log_k": cap, "cap_binds": binds}

    (upper_note, upper_detail), (lower_note, lower_detail) = at(upper), at(lower)
    return [
        Bound(f"VC bound, K classes, at BHLM's upper bound on VCdim{upper_note}",
              f"{SOURCE}; BHLM 2019 (JMLR) Theorem 7", vc_bound(s["train_error"], upper, n, delta, K), "network",
              detail={**common, **upper_detail, "bounds": f"the {K}-class test error of the trained network"},
              delta=delta),
        Bound(f"VC bound at a provable lower bound on VCdim (lower estimate){lower_note}",
              f"{SOURCE}; VCdim >= {lower} (halfspaces d + 1, zhang2017 Theorem 1)",
              vc_bound(s["train_error"], lower, n, delta, K), "lower-estimate",
              detail={**common, **lower_detail,
                      "bounds": ("nothing: a lower estimate of the row above evaluated at the exact VC dimension "
                                 "of the one-output network")}),
    ]
