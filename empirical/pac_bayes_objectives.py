"""The PAC-Bayes-inspired training objectives of Perez-Ortiz, Rivasplata, Shawe-Taylor and
Szepesvari, "Tighter risk certificates for neural networks", JMLR 22 (2021), Section 4, for a
probabilistic network (`empirical.probabilistic`), as objectives of the one training loop
(`empirical.pbb` trains with them; `genproof.pac_bayes.backprop` takes the certificate).

With L the empirical risk of a minibatch under one weight draw (a loss in [0, 1]), KL = KL(Q || P)
in nats, n the number of examples the certificate is evaluated on and delta its confidence:

- fclassic = L + sqrt((KL + log(2 sqrt(n)/delta)) / (2n)): the PAC-Bayes-kl bound relaxed by
  Pinsker's inequality, the objective of Dziugaite & Roy 2017 (`genproof.pac_bayes.dziugaite_roy`) without its
  prior-grid term;
- fquad = (sqrt(L + eps) + sqrt(eps))^2, eps = (KL + log(2 sqrt(n)/delta)) / (2n): the relaxation of
  the kl by the inequality kl(q||p) >= (p - q)^2 / (2p), their new objective;
- flamb = L / (1 - lambda/2) + (KL + log(2 sqrt(n)/delta)) / (n lambda (1 - lambda/2)), lambda in
  (0, 2): the bound of Thiemann, Igel, Wintenberger, Seldin 2017, with lambda trained alongside Q.

Checked against the authors' released code (mperezortiz/PBB, `pbb/bounds.py`, `PBBobj.bound`,
with their `kl_penalty` = 1) term by term in `tests/test_pac_bayes_backprop.py`; the paper's text
(equation numbers) was not reachable here. PBB's lambda is sigmoid(a) (1 - 1/sqrt(n)) + 1/sqrt(n)
(their `Lambda_var`), kept in [1/sqrt(n), 1]: so is ours.

The empirical risk they train on is the cross-entropy of probabilities clamped below at p_min,
divided by log(1/p_min) so that it lies in [0, 1] (`bounded_cross_entropy`, their
`output_transform` and `compute_empirical_risk`).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

OBJECTIVES = ("fclassic", "fquad", "flamb")


def confidence_term(kl, n: int, delta: float):
    """KL + log(2 sqrt(n) / delta): the numerator every objective and the certificate share."""
    return kl + math.log(2 * math.sqrt(n) / delta)


def fclassic(risk, kl, n: int, delta: float):
    """risk + sqrt((KL + log(2 sqrt(n)/delta)) / (2n))."""
    return risk + torch.sqrt(torch.as_tensor(confidence_term(kl, n, delta) / (2 * n)))


def fquad(risk, kl, n: int, delta: float):
    """(sqrt(risk + eps) + sqrt(eps))^2 with eps = (KL + log(2 sqrt(n)/delta)) / (2n)."""
    eps = torch.as_tensor(confidence_term(kl, n, delta) / (2 * n))
    return (torch.sqrt(risk + eps) + torch.sqrt(eps)) ** 2


def flamb(risk, kl, n: int, delta: float, lam):
    """risk / (1 - lam/2) + (KL + log(2 sqrt(n)/delta)) / (n lam (1 - lam/2)), lam in (0, 2)."""
    return risk / (1 - lam / 2) + confidence_term(kl, n, delta) / (n * lam * (1 - lam / 2))


def bounded_cross_entropy(logits: torch.Tensor, y: torch.Tensor, pmin: float) -> torch.Tensor:
    """Mean of -log max(p_y, p_min) / log(1/p_min), in [0, 1]: the softmax cross-entropy with the
    probabilities clamped below at p_min (PBB's `output_transform`, `compute_empirical_risk`)."""
    if not 0 < pmin < 1:
        raise ValueError(f"pmin must be in (0, 1), got {pmin}")
    log_p = torch.clamp(F.log_softmax(logits.float(), dim=1), min=math.log(pmin))
    return F.nll_loss(log_p, y) / math.log(1 / pmin)


class PacBayesObjective(nn.Module):
    """A PAC-Bayes objective for the one training loop: `objective(q, x, y)` with q a
    `empirical.probabilistic.ProbabilisticNetwork` in train mode (one weight draw per call, per
    example for Linear layers). `n`, `delta`: the certificate's number of examples and the
    confidence of its PAC-Bayes step. flamb's lambda is a parameter of this module, trained with q
    by the loop (PBB steps it with a second optimizer of the same kind; here it is one more
    parameter of the same step)."""

    def __init__(self, name: str, n: int, delta: float, pmin: float = 1e-5, lam0: float = 6.0):
        super().__init__()
        if name not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {name!r}")
        if n < 8 or not 0 < delta < 1:
            raise ValueError(f"need n >= 8 examples and delta in (0, 1), got n={n}, delta={delta}")
        self.name, self.n, self.delta, self.pmin = name, n, delta, pmin
        if name == "flamb":
            self.lam_logit = nn.Parameter(torch.tensor(float(lam0)))

    @property
    def lam(self) -> torch.Tensor:
        low = 1 / math.sqrt(self.n)
        return torch.sigmoid(self.lam_logit) * (1 - low) + low

    def bound(self, risk, kl):
        formula: Callable = {"fclassic": fclassic, "fquad": fquad}.get(self.name)
        if formula is None:
            return flamb(risk, kl, self.n, self.delta, self.lam)
        return formula(risk, kl, self.n, self.delta)

    def forward(self, q: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.bound(bounded_cross_entropy(q(x), y, self.pmin), q.kl())
