"""Curvature of the training loss at the trained weights: the top eigenvalue of its Hessian, its
trace and a summary of its spectral density, as measures of the study.

H is the Hessian of the training loss L(w) = (1/n) sum_i CE(f_w(x_i), y_i) over the whole training
set, with respect to every parameter that requires a gradient, the network in eval mode (dropout
off; batch norm with its running statistics, which are constants of H, not functions of a batch).
H is never formed: `hvp` multiplies it onto a vector by differentiating the gradient twice
(Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 1994) on batches of
`genproof.network.EVAL_BATCH` examples, summed with weights b/n: the exact full-data product, not a
minibatch estimate. It works on any `nn.Module` whose operations have second derivatives.

The three quantities are those of PyHessian (Yao, Gholami, Keutzer, Mahoney, "PyHessian: neural
networks through the lens of the Hessian", IEEE BigData 2020), computed with torch and scipy:
- `top_eigenvalue`: the largest (algebraic) eigenvalue lambda_max, by ARPACK's implicitly restarted
  Lanczos (`scipy.sparse.linalg.eigsh`, which="LA") on a `LinearOperator`, to relative accuracy
  `EIG_TOL`, from a seeded start (PyHessian runs power iteration instead; both converge to lambda_max
  when it is the eigenvalue of largest magnitude, Lanczos in fewer products).
- `hutchinson_trace`: tr(H) by Hutchinson's estimator (Hutchinson 1990), (1/m) sum_k z_k^T H z_k
  with m = `TRACE_PROBES` Rademacher vectors z_k; unbiased, with variance
  2 (||H||_F^2 - sum_i H_ii^2) / m (what the tests hold it to).
- `spectrum`: the spectral density by stochastic Lanczos quadrature (Lin, Saad, Yang, SIAM Review
  2016; Ghorbani, Krishnan, Xiao, ICML 2019, Section 3; PyHessian's `density`): for each of
  m = `SLQ_PROBES` Rademacher vectors v (normalized), k = `SLQ_STEPS` Lanczos steps with full
  reorthogonalization give a tridiagonal T = U diag(theta) U^T; its Ritz values theta_j are the
  nodes and U_1j^2 the weights of a Gauss quadrature of v^T g(H) v, and the density is
  phi(t) = (1/m) sum_v sum_j U_1j^2 delta(t - theta_j) (mass 1; p phi counts eigenvalues).
  The summary registered, `hessian-frobenius`, is the density's root second moment scaled to
  the Frobenius norm, sqrt(p int t^2 phi(t) dt), an estimate of ||H||_F = sqrt(sum_i lambda_i^2):
  Gauss quadrature with k >= 2 nodes is exact for t^2, so its error is the probes' alone.
  `Spectrum.moment` gives any other summary of the same density (our choice of summary: the
  sources plot the density and name none).

These are measures, oriented as sharpness is (larger: sharper, predicted to generalize worse); they
bound nothing. The number of probes, the steps and the tolerance are in each row's description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .network import EVAL_BATCH, Network
from .quantities import Undefined, measure

EIG_TOL = 1e-4  # ARPACK's relative accuracy of lambda_max
TRACE_PROBES = 32
SLQ_PROBES = 8
SLQ_STEPS = 4  # the registered summary needs 2 (exact for t^2); `spectrum` takes more for a density
PYHESSIAN = "Yao, Gholami, Keutzer, Mahoney, PyHessian, IEEE BigData 2020"


def _trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def hvp(net: Network) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """(v -> H v on float64 numpy vectors, p): the Hessian of the mean training cross-entropy of
    `net` (eval mode) over its trainable parameters, in `parameters()` order, flattened."""
    model = net.model.eval()
    params = _trainable(model)
    if not params:
        raise Undefined("the network has no trainable parameters")
    p = sum(q.numel() for q in params)
    x, y, n = net.data.x_train, net.data.y_train, net.data.n_train

    def product(v: np.ndarray) -> np.ndarray:
        vs = torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(-1)).to(params[0].dtype).split(
            [q.numel() for q in params])
        vs = [t.view_as(q) for t, q in zip(vs, params)]
        out = [torch.zeros_like(q) for q in params]
        for i in range(0, n, EVAL_BATCH):
            xb, yb = x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]
            loss = F.cross_entropy(model(xb), yb, reduction="sum") / n
            grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)  # unused: rows of 0
            dot = sum((g * t).sum() for g, t in zip(grads, vs) if g is not None)
            if not (isinstance(dot, torch.Tensor) and dot.requires_grad):
                continue  # no gradient depends on the weights: no curvature
            for o, h in zip(out, torch.autograd.grad(dot, params, allow_unused=True)):
                if h is not None:
                    o += h.detach()
        return torch.cat([o.reshape(-1) for o in out]).double().numpy()

    def checked(v: np.ndarray) -> np.ndarray:
        try:
            return product(v)
        except RuntimeError as err:  # an operation without a second derivative, in the user's module
            raise Undefined(f"no Hessian-vector product through this network: {err}".splitlines()[0]) from err

    return checked, p


def top_eigenvalue(net: Network, tol: float = EIG_TOL, seed: int = 0) -> float:
    """lambda_max(H) by ARPACK Lanczos (module docstring), to relative accuracy `tol`."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    product, p = hvp(net)
    if p == 1:
        return float(product(np.ones(1))[0])
    v0 = np.random.default_rng(seed).standard_normal(p)
    op = LinearOperator((p, p), matvec=product, dtype=np.float64)
    try:
        return float(eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)[0])
    except ArpackNoConvergence as err:
        raise Undefined(f"ARPACK did not reach relative accuracy {tol:g} for lambda_max: {err}") from err


def rademacher(p: int, count: int, seed: int) -> np.ndarray:
    """`count` Rademacher vectors of length p (rows), from `seed`."""
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(count, p))


def hutchinson_trace(net: Network, probes: int = TRACE_PROBES, seed: int = 0) -> float:
    """tr(H) by Hutchinson's estimator with `probes` Rademacher vectors (module docstring)."""
    if probes < 1:
        raise ValueError(f"probes must be a positive number of vectors, got {probes}")
    product, p = hvp(net)
    return float(np.mean([z @ product(z) for z in rademacher(p, probes, seed)]))


@dataclass(frozen=True)
class Spectrum:
    """A spectral density of stochastic Lanczos quadrature: per probe, `nodes` (Ritz values) and
    `weights` (summing to 1), over a p-dimensional operator."""

    nodes: tuple[np.ndarray, ...]
    weights: tuple[np.ndarray, ...]
    p: int

    def moment(self, g: Callable[[np.ndarray], np.ndarray]) -> float:
        """p int g(t) phi(t) dt, the estimate of tr g(H) = sum_i g(lambda_i)."""
        return self.p * float(np.mean([w @ g(t) for t, w in zip(self.nodes, self.weights)]))


def lanczos(product: Callable[[np.ndarray], np.ndarray], v: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of the Gauss quadrature of v^T g(A) v / ||v||^2 from `steps` Lanczos steps
    on the symmetric operator `product` from v, with full reorthogonalization (fewer steps if the
    Krylov space closes)."""
    from scipy.linalg import eigh_tridiagonal

    q = v / np.linalg.norm(v)
    basis, alpha, beta = [q], [], []
    for j in range(steps):
        w = product(basis[-1])
        alpha.append(float(basis[-1] @ w))
        for _ in range(2):  # twice is enough (Kahan, Parlett)
            w = w - np.stack(basis).T @ (np.stack(basis) @ w)
        b = float(np.linalg.norm(w))
        if j == steps - 1 or b <= 1e-10 * max(1.0, abs(alpha[-1])):
            break
        beta.append(b)
        basis.append(w / b)
    theta, u = eigh_tridiagonal(np.array(alpha), np.array(beta))
    return theta, u[0] ** 2


def spectrum(net: Network, probes: int = SLQ_PROBES, steps: int = SLQ_STEPS, seed: int = 0) -> Spectrum:
    """H's spectral density by stochastic Lanczos quadrature (module docstring)."""
    if probes < 1 or steps < 2:
        raise ValueError(f"stochastic Lanczos quadrature needs probes >= 1 and steps >= 2, got {probes} and {steps}")
    product, p = hvp(net)
    quad = [lanczos(product, v, steps) for v in rademacher(p, probes, seed)]
    return Spectrum(tuple(t for t, _ in quad), tuple(w for _, w in quad), p)


@measure("hessian-eigenvalue", f"largest eigenvalue of the training-loss Hessian (ARPACK Lanczos, relative tolerance "
         f"{EIG_TOL:g})", source=f"{PYHESSIAN}, top eigenvalue (they: power iteration); genproof.curvature",
         cost="hessian", limitations="the largest algebraic eigenvalue: away from a minimum the Hessian may have a "
         "negative one of larger magnitude, not reported; float32 products")
def hessian_eigenvalue(net: Network, seed: int = 0) -> float:
    return top_eigenvalue(net, EIG_TOL, seed)


@measure("hessian-trace", f"trace of the training-loss Hessian (Hutchinson, {TRACE_PROBES} Rademacher probes)",
         source=f"{PYHESSIAN}, trace (Hutchinson 1990); genproof.curvature", cost="hessian",
         limitations="a seeded unbiased estimate, standard deviation sqrt(2 (||H||_F^2 - sum_i H_ii^2) / probes); an "
         "indefinite Hessian's trace sums curvature of both signs")
def hessian_trace(net: Network, seed: int = 0) -> float:
    return hutchinson_trace(net, TRACE_PROBES, seed)


@measure("hessian-frobenius", f"root second moment of the Hessian's spectral density, sqrt(p int t^2 phi), an estimate "
         f"of ||H||_F (stochastic Lanczos quadrature, {SLQ_PROBES} probes x {SLQ_STEPS} steps)",
         source=f"{PYHESSIAN}, spectral density (SLQ: Ghorbani, Krishnan, Xiao, ICML 2019); the summary is ours "
                "(genproof.curvature)", cost="hessian",
         limitations="our summary of the density (the sources plot it and name none); a seeded estimate whose square "
         "has the error of Hutchinson's estimator of tr(H^2) with as many probes, few")
def hessian_frobenius(net: Network, seed: int = 0) -> float:
    return math.sqrt(max(0.0, spectrum(net, SLQ_PROBES, SLQ_STEPS, seed).moment(np.square)))
