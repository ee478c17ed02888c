"""Generalization measures of a trained network, and the registry of every measure a study evaluates.

A measure is a number computed from a `genproof.network.Network` (the trained weights, the
initialization and the training data; never the test set), oriented as in Jiang et al.: **larger
should mean a larger generalization gap**. It is a measure, not a bound: it has no constants and
certifies nothing (the one exception, `pac-bayes-bound`, is a certificate used as a measure).

Sources: Jiang, Neyshabur, Mobahi, Krishnan, Bengio, "Fantastic Generalization Measures and Where
to Find Them", ICLR 2020 (arXiv 1912.02178), Section 7 and Appendix C, with the measure numbers,
"(20)", "(53)", that the code of Dziugaite et al. gives them; Dziugaite, Drouin, Neal, Rajkumar,
Caballero, Wang, Mitliagkas, Roy, "In search of robust measures of generalization", NeurIPS 2020,
whose code (nitarshan/robust-generalization-measures, data/generation/measures.py) implements
Jiang's measures. Where genproof differs from that code, and which definitions are as recalled:
docs/sources/jiang2020.md.

The flatness measures (module functions `gaussian_scale`, `box_scale`):
- PAC-Bayes flatness (53): 1/sigma'^2, sigma' the largest sigma such that the expected training
  error of the network with weights w + u, u ~ N(0, sigma^2 I), exceeds the network's own by at most
  0.1. Magnitude-aware (61): u_i ~ N(0, sigma^2 w_i^2 + eps^2), eps = 1e-3.
- Sharpness flatness: 1/alpha'^2, alpha' the largest alpha such that the worst training error over
  the box |u_i| <= alpha (magnitude-aware: |u_i| <= alpha (|w_i| + eps)) exceeds the network's own
  by at most 0.1, the worst case estimated by `steps` steps of projected sign-gradient ascent on the
  training cross-entropy (Madry et al. 2018): a lower estimate of it, so alpha' is over-estimated.

Errors are 0-1 training errors, with the network in eval mode (dropout off, batch-norm running
statistics); perturbations touch the parameters only. The training set is read in batches of
`genproof.network.EVAL_BATCH` (the ascent's gradient of the mean loss summed over them), so the
memory is one batch's, for any n.

Adding a measure: a function `(net, seed) -> float` here (or in a module named after its concept)
registered with `@genproof.quantities.measure(name, description, source=..., cost=..., needs=...)`;
a network on which it has no value raises `Undefined` (its row says why; the study leaves the
network out of that measure's statistics).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .network import EVAL_BATCH, Network, error, has_batch_norm
from .quantities import MEASURES, Undefined, measure

TARGET = 0.1  # Jiang et al. and Dziugaite et al.'s code: the training error may rise by at most 0.1
MAGNITUDE_EPS = 1e-3  # their code's `mag_eps`


# ---- the perturbation searches ---------------------------------------------------------------


def largest_scale(deviation: Callable[[float], float], target: float = TARGET, rel_tol: float = 0.01,
                  start: float = 1.0, max_halvings: int = 40) -> float:
    """The largest s > 0 with deviation(s) <= target, to relative precision `rel_tol`: from `start`,
    halve until deviation(s) <= target (or double until it exceeds it), then bisect the bracket
    [lo, hi] until hi - lo <= rel_tol * hi; returns lo, the largest s seen with deviation <= target.
    (For a non-decreasing deviation this is the sup of {s : deviation(s) <= target} up to the
    precision; a sampled deviation need not be monotone, and the search reads it only at the
    points it visits.) Undefined when the deviation exceeds `target` at every s down to
    start / 2^max_halvings or stays below it up to start * 2^max_halvings."""
    if not 0 < rel_tol < 1:
        raise ValueError(f"rel_tol must be in (0, 1), got {rel_tol}")
    s = start
    if deviation(s) > target:
        hi = s
        for _ in range(max_halvings):
            s /= 2
            if deviation(s) <= target:
                break
            hi = s
        else:
            raise Undefined(f"the training error rises by more than {target} even at scale {s:.3g}")
        lo = s
    else:
        lo = s
        for _ in range(max_halvings):
            s *= 2
            if deviation(s) > target:
                break
            lo = s
        else:
            raise Undefined(f"the training error rises by at most {target} even at scale {s:.3g}")
        hi = s
    while hi - lo > rel_tol * hi:
        mid = (lo + hi) / 2
        if deviation(mid) <= target:
            lo = mid
        else:
            hi = mid
    return lo


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach() for name, p in model.named_parameters()}


def gaussian_scale(net: Network, magnitude_eps: float | None = None, target: float = TARGET,
                   samples: int = 10, rel_tol: float = 0.01, seed: int = 0, settle: bool = True) -> float:
    """sigma' of PAC-Bayes flatness (module docstring): the largest sigma with
    mean_k err(w + u_k) - err(w) <= `target`, u_k = sigma z_k (or sqrt(sigma^2 w^2 + eps^2) z_k with
    `magnitude_eps`), z_1..z_samples standard normal draws from `seed`, reused at every sigma. The
    search reads only whether the deviation exceeds `target`; with `settle`, a sigma stops drawing
    once the partial sum settles that (errors are >= 0, and float sums of them never decrease): the
    same sigma' in fewer passes (False: every draw at every sigma)."""
    if samples < 1:
        raise ValueError(f"samples must be a positive number of weight draws, got {samples}")
    model, x, y = net.model.eval(), net.data.x_train, net.data.y_train
    w = _params(model)
    base = error(model, x, y, w)
    g = torch.Generator().manual_seed(seed)
    draws = [{k: torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in w.items()} for _ in range(samples)]

    def deviation(sigma: float) -> float:
        scale = {k: sigma if magnitude_eps is None else torch.sqrt(sigma ** 2 * v ** 2 + magnitude_eps ** 2)
                 for k, v in w.items()}
        total = 0.0
        for z in draws:
            total += error(model, x, y, {k: w[k] + scale[k] * z[k] for k in w})
            if settle and total / samples - base > target:  # the draws left add errors >= 0: the mean exceeds too
                break
        return total / samples - base

    return largest_scale(deviation, target, rel_tol)


def box_scale(net: Network, magnitude_eps: float | None = None, target: float = TARGET, steps: int = 10,
              rel_tol: float = 0.01, seed: int = 0, settle: bool = True) -> float:
    """alpha' of sharpness flatness (module docstring): the largest alpha with
    max_t err(w + u_t) - err(w) <= `target`, u_0 uniform in the box |u_i| <= r_i (r_i = alpha, or
    alpha (|w_i| + eps) with `magnitude_eps`) and u_{t+1} = clip(u_t + 2.5 r sign(grad CE(w + u_t)) /
    steps, -r, r), t < `steps` (0: the random start alone); the start is drawn from `seed`, the same at
    every alpha. With `settle`, an alpha stops its ascent at the first iterate whose rise over err(w)
    exceeds the target (the maximum can only grow): the same alpha' in fewer passes (False: every step at
    every alpha)."""
    if steps < 0:
        raise ValueError(f"steps must be a number of ascent steps >= 0 (0: the random start alone), got {steps}")
    model, x, y = net.model.eval(), net.data.x_train, net.data.y_train
    w = _params(model)
    base = error(model, x, y, w)
    g = torch.Generator().manual_seed(seed)
    start = {k: 2 * torch.rand(v.shape, generator=g, dtype=v.dtype) - 1 for k, v in w.items()}

    def deviation(alpha: float) -> float:
        r = {k: alpha * (torch.ones_like(v) if magnitude_eps is None else v.abs() + magnitude_eps) for k, v in w.items()}
        u = {k: start[k] * r[k] for k in w}
        worst = 0.0
        for t in range(steps + 1):
            if t == steps:
                return max(worst, error(model, x, y, {k: w[k] + u[k] for k in w})) - base
            u = {k: v.requires_grad_() for k, v in u.items()}
            wrong, grads = 0, [torch.zeros_like(v) for v in u.values()]
            for i in range(0, len(y), EVAL_BATCH):  # the mean loss's gradient, one batch's graph at a time
                xb, yb = x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]
                logits = functional_call(model, {k: w[k] + u[k] for k in w}, (xb,))
                wrong += int((logits.argmax(1) != yb).sum())
                part = torch.autograd.grad(F.cross_entropy(logits, yb) * (len(yb) / len(y)), list(u.values()))
                grads = [a + b for a, b in zip(grads, part)]
            worst = max(worst, wrong / len(y))
            if settle and worst - base > target:  # the steps left can only raise the worst error
                return worst - base
            with torch.no_grad():
                u = {k: torch.clamp(u[k] + 2.5 / steps * r[k] * gk.sign(), -r[k], r[k]) for k, gk in zip(u, grads)}

    return largest_scale(deviation, target, rel_tol)


# ---- the registered measures -------------------------------------------------------------------

JIANG = "Jiang et al., ICLR 2020"
DZIUGAITE_CODE = "nitarshan/robust-generalization-measures, data/generation/measures.py"
# the sources' cards: where genproof differs from the authors
JIANG2020, NEYSHABUR2017 = "docs/sources/jiang2020.md", "docs/sources/neyshabur2017.md"
CHATTERJEE2020, DZIUGAITE2017 = "docs/sources/chatterjee2020.md", "docs/sources/dziugaite2017.md"


@measure("params", "number of parameters (VC-style: VC bounds grow with it)",
         source=f"{JIANG}, measure (20) 'params'; {DZIUGAITE_CODE}, get_all_measures (CT.PARAMS: weights only)",
         cost="architecture", card=JIANG2020)
def params(net: Network, seed: int = 0) -> float:
    """The number of trainable scalars, weights and biases (their code counts weights only)."""
    return float(sum(p.numel() for p in net.model.parameters() if p.requires_grad))


def _norms(net: Network):
    from .norms import MarginNotPositive, norm_measures

    try:  # gamma: the k-th smallest training margin, k = floor(n / 10), their `_margin`; once per evaluation
        return net.shared("norm_measures", lambda: norm_measures(net))
    except MarginNotPositive as err:
        raise Undefined(str(err)) from err
    except NotImplementedError as err:
        raise Undefined(f"norm measures are not implemented for this network: {err}") from err


@measure("bartlett-spectral", "Bartlett et al.'s spectral complexity over the margin, ||X||_F R_A ln(W) / (gamma n) "
         "(genproof.norms)",
         source="Bartlett, Foster, Telgarsky, NeurIPS 2017, Theorem 1.1 (genproof.norms); not one of Jiang et al.'s "
                "numbered measures: its (2,1)-norms, ln W and ||X||_F rank networks otherwise than their spec-orig (30)",
         cost="pass", card=NEYSHABUR2017)
def bartlett_spectral(net: Network, seed: int = 0) -> float:
    return _norms(net).spectral


def _weight_matrices(net: Network) -> list[torch.Tensor]:
    """The weight tensors as their code reshapes them, (out, everything else), in float64."""
    return [w.double().reshape(w.shape[0], -1) for w in _weights(net.model)]


@measure("spec-orig", "Jiang et al.'s spec-orig, prod_i ||W_i||_2^2 / gamma^2 * sum_i ||W_i||_F^2 / ||W_i||_2^2 "
         "(weights only, a convolution's kernel reshaped to a matrix)",
         source=f"{JIANG}, measure (30) 'spec.orig'; {DZIUGAITE_CODE}, get_all_measures (CT.LOG_SPEC_ORIG_MAIN, "
                "of which this is the exponential before their sample-size adjustment: the same ranking)", cost="pass",
         card=JIANG2020)
def spec_orig(net: Network, seed: int = 0) -> float:
    """Jiang et al.'s (30) as the code of Dziugaite et al. computes it: over the weight tensors W_i
    (biases and batch-norm parameters left out; a convolution's kernel reshaped to (out, in k k),
    whose spectral norm is their "approximate spectral norm", not the operator's), with gamma the
    k-th smallest training margin, k = floor(n / 10) (`genproof.norms.margin_at`),
        prod_i ||W_i||_2^2 / gamma^2 * sum_i ||W_i||_F^2 / ||W_i||_2^2.
    A network with batch norm, or a gamma <= 0, has no value (Undefined); where their code differs:
    docs/sources/jiang2020.md."""
    from .norms import margin_at, margins

    if has_batch_norm(net.model):
        raise Undefined("spec-orig on a network with batch norm needs it folded into the preceding layer, as their "
                        "code does; not implemented")
    gamma = margin_at(margins(net.model, net.data.x_train, net.data.y_train), 0.1)
    if gamma <= 0:
        raise Undefined(f"the 10% order statistic of the training margins is {gamma:.3g} <= 0")
    mats = _weight_matrices(net)
    spec = torch.stack([torch.linalg.matrix_norm(w, ord=2) ** 2 for w in mats])
    fro = torch.stack([torch.linalg.matrix_norm(w) ** 2 for w in mats])
    return float(spec.prod() / gamma ** 2 * (fro / spec).sum())


@measure("spectral-product", "product of squared spectral norms over the squared margin, prod ||A_i||^2 / gamma^2",
         source=f"{JIANG}, measure (31) 'prod.of.spec/margin' ({DZIUGAITE_CODE}: exp of LOG_PROD_OF_SPEC_OVER_MARGIN); "
                "biases folded into the operators (genproof.norms), their code drops them", cost="pass", card=JIANG2020)
def spectral_product(net: Network, seed: int = 0) -> float:
    m = _norms(net)
    return m.lipschitz_bound ** 2 / m.gamma ** 2


@measure("golowich-frobenius", "Golowich et al.'s Frobenius measure over the margin, "
         "B (sqrt(2 ln(2) L) + 1) prod ||A_i||_F / (gamma sqrt(n)) (genproof.norms)",
         source="Golowich, Rakhlin, Shamir, COLT 2018, Theorem 1 (genproof.norms); its depth factor "
                "sqrt(2 ln(2) L) + 1 and the biases folded in make it no monotone function of Jiang et al.'s (36), "
                "prod ||W_i||_F^2 / gamma^2, across networks of different depths", cost="pass", card=NEYSHABUR2017)
def golowich_frobenius(net: Network, seed: int = 0) -> float:
    value = _norms(net).frobenius
    if value is None:
        raise Undefined("no Frobenius product for residual networks (genproof.norms)")
    return value


@measure("path", "l2 path norm over the margin (genproof.norms)",
         source="Neyshabur, Tomioka, Srebro, COLT 2015, Section 4 (genproof.norms); Jiang et al.'s (43)", cost="pass",
         card=NEYSHABUR2017)
def path(net: Network, seed: int = 0) -> float:
    return _norms(net).path


def _weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight tensors, biases and batch-norm parameters left out (their code's `get_weights_only`)."""
    return [p.detach() for name, p in model.named_parameters() if p.ndim > 1]


@measure("dist-init", "squared distance from initialization, sum_i ||W_i - W_i^0||_F^2 (weights, no biases)",
         source=f"{JIANG}, measure (40) 'fro.dist'; {DZIUGAITE_CODE}, get_all_measures (CT.FRO_DIST)", cost="weights",
         needs=("init",), card=JIANG2020)
def dist_init(net: Network, seed: int = 0) -> float:
    return float(sum(((w - w0).double() ** 2).sum() for w, w0 in zip(_weights(net.model), _weights(net.init))))


@measure("pacbayes-flatness", "1/sigma'^2: Gaussian weight noise N(0, sigma'^2) raises the training error by 0.1",
         source=f"{JIANG}, measure (53) 'pacbayes.flatness'; {DZIUGAITE_CODE}, _pacbayes_sigma", cost="monte-carlo",
         card=JIANG2020)
def pacbayes_flatness(net: Network, seed: int = 0) -> float:
    return 1 / gaussian_scale(net, seed=seed) ** 2


@measure("pacbayes-mag-flatness", "1/sigma'^2 for noise N(0, sigma'^2 w_i^2 + 1e-6) (magnitude-aware)",
         source=f"{JIANG}, measure (61) 'pacbayes.mag.flatness'; {DZIUGAITE_CODE}, _pacbayes_sigma with magnitude_eps",
         cost="monte-carlo", card=JIANG2020)
def pacbayes_mag_flatness(net: Network, seed: int = 0) -> float:
    return 1 / gaussian_scale(net, MAGNITUDE_EPS, seed=seed) ** 2


@measure("sharpness-flatness", "1/alpha'^2: the worst perturbation in the box |u_i| <= alpha' raises the training "
         "error by 0.1", source=f"{JIANG}, Appendix C, sharpness flatness (as recalled: not verified against the text)",
         cost="ascent", card=JIANG2020)
def sharpness_flatness(net: Network, seed: int = 0) -> float:
    return 1 / box_scale(net, seed=seed) ** 2


@measure("sharpness-mag-flatness", "1/alpha'^2 for the box |u_i| <= alpha' (|w_i| + 1e-3) (magnitude-aware)",
         source=f"{JIANG}, Appendix C, magnitude-aware sharpness flatness (as recalled, eps scaled with alpha: "
                "docs/sources/jiang2020.md)",
         cost="ascent", card=JIANG2020)
def sharpness_mag_flatness(net: Network, seed: int = 0) -> float:
    return 1 / box_scale(net, MAGNITUDE_EPS, seed=seed) ** 2


@measure("incoherence", "1 - alpha, alpha the coherence of per-example gradients at the trained weights (training set)",
         source="Chatterjee & Zielinski, arXiv 2203.10036, Section 4 (alpha; empirical.gradients); evaluated at the end "
                "of training, our adaptation: the source tracks coherence along training", cost="pass",
         card=CHATTERJEE2020)
def incoherence(net: Network, seed: int = 0) -> float:
    from empirical.gradients import coherence, coherence_moments

    model = net.model.eval()
    x, y = net.data.x_train, net.data.y_train
    moments = coherence_moments(model, lambda a, b: F.cross_entropy(model(a), b), x, y)
    alpha = coherence(moments, len(x))["alpha"]
    if math.isnan(alpha):
        raise Undefined("every per-example gradient is zero: coherence is undefined")
    return 1 - alpha


@measure("pac-bayes-bound", "Dziugaite & Roy's PAC-Bayes bound on the test error of Q (a certificate, used as a measure)",
         source="Dziugaite & Roy, UAI 2017 (genproof.pac_bayes.pac_bayes_bound, delta 0.05)", cost="optimization",
         default=False, needs=("init",), card=DZIUGAITE2017)
def pac_bayes_bound(net: Network, seed: int = 0) -> float:
    from .pac_bayes import pac_bayes_bound as certificate

    if has_batch_norm(net.model):
        raise Undefined("batch-norm statistics are fitted outside the posterior and the prior")
    return certificate(net, seed=seed).bound
