"""PAC-Bayes bounds on the test error of a stochastic network (Dziugaite & Roy 2017).

The pieces, each a small function of explicit numbers:

- `kl_bernoulli(q, p)`: kl(q || p) = q log(q/p) + (1-q) log((1-q)/(1-p)), the KL divergence
  between Bernoulli(q) and Bernoulli(p);
- `kl_inverse_upper(q, c)`: sup{p in [q, 1] : kl(q || p) <= c}, by bisection;
- `kl_bound(emp_error, kl, n, delta)`: the kl-form PAC-Bayes bound of Langford & Seeger 2001 with
  Maurer's 2004 constant: with probability >= 1 - delta over n i.i.d. examples, for every posterior Q,
  kl(e_S(Q) || e_D(Q)) <= (KL(Q||P) + log(2 sqrt(n) / delta)) / n, so
  e_D(Q) <= kl_inverse_upper(e_S(Q), (KL(Q||P) + log(2 sqrt(n)/delta)) / n);
- `gaussian_kl(...)`: KL(N(w, s^2 I) || N(w0, lam I)) in closed form;
- `sample_error_upper(...)`: Langford & Caruana 2002's sample-convergence bound: the error of Q on
  the training set, estimated from m weight samples, is at most kl_inverse_upper(mean, log(2/delta')/m);
- `pac_bayes_bound(net, delta)`: Dziugaite & Roy 2017's certificate for a trained network: posterior
  Q = N(w_trained, s^2 I), prior P = N(w_init, lam I) centred at the initialisation, lam from the
  grid lam_j = c exp(-j/b) (union bound over j), s chosen to minimise the bound.

Source: G. K. Dziugaite, D. M. Roy, "Computing nonvacuous generalization bounds for deep
(stochastic) neural networks with many more parameters than training data", UAI 2017, Sections 3-5.
Their prior variance is lam (not lam^2); b = 100, c = 0.1 are the values of their released code
(gkdziugaite/pacbayes-opt, `log_prior_std_precision`, `log_prior_std_base`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from empirical.train import evaluate

from .trained import Bound, TrainedNetwork

SOURCE = ("Dziugaite & Roy, UAI 2017, Sections 3-5 (kl-PAC-Bayes of Langford & Seeger 2001 with Maurer 2004's "
          "log(2 sqrt(n)/delta); Langford & Caruana 2002 sample-convergence bound)")


def _check_prob(name: str, x: float) -> None:
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {x}")


def kl_bernoulli(q: float, p: float) -> float:
    """kl(q || p) = q log(q/p) + (1-q) log((1-q)/(1-p)), with 0 log 0 = 0; +inf where p puts zero
    mass on an outcome q does not (p = 0 < q or p = 1 > q)."""
    _check_prob("q", q)
    _check_prob("p", p)
    out = 0.0
    for a, b in ((q, p), (1.0 - q, 1.0 - p)):
        if a > 0.0:
            if b <= 0.0:
                return math.inf
            out += a * math.log(a / b)
    return max(out, 0.0)


def kl_inverse_upper(q: float, c: float, tol: float = 1e-12) -> float:
    """sup{p in [q, 1] : kl(q || p) <= c}, the largest true error consistent with empirical error q
    and a kl budget c (Langford 2005, "Tutorial on practical prediction theory", Section 3).

    kl(q || .) is 0 at q and increases on [q, 1], so bisection on [q, 1] finds the crossing; the
    result is accurate to `tol` and errs upward (it is the right end of the final bracket). Exact at
    the edges: c = 0 gives q, q = 1 gives 1, q = 0 gives 1 - exp(-c) (kl(0 || p) = -log(1 - p))."""
    _check_prob("q", q)
    if c < 0 or math.isnan(c):
        raise ValueError(f"the kl budget c must be >= 0, got {c}")
    if c == 0.0 or q == 1.0:
        return q
    if q == 0.0:
        return 1.0 - math.exp(-c)  # kl(0 || p) = -log(1 - p): solved exactly
    lo, hi = q, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if kl_bernoulli(q, mid) > c:
            hi = mid
        else:
            lo = mid
    return hi


def kl_bound(emp_error: float, kl: float, n: int, delta: float) -> float:
    """Langford & Seeger 2001 / Maurer 2004: with probability >= 1 - delta, for every Q,
    e_D(Q) <= kl_inverse_upper(e_S(Q), (KL(Q||P) + log(2 sqrt(n) / delta)) / n)   (n >= 8).
    `emp_error` is e_S(Q) (or an upper bound on it), `kl` is KL(Q||P) in nats."""
    if n < 8:
        raise ValueError(f"Maurer's bound needs n >= 8 examples, got {n}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if kl < 0:
        raise ValueError(f"KL(Q||P) must be >= 0, got {kl}")
    return kl_inverse_upper(emp_error, (kl + math.log(2 * math.sqrt(n) / delta)) / n)


def gaussian_kl(dist2: float, d: int, s2: float, lam: float) -> float:
    """KL(N(w, s2 I_d) || N(w0, lam I_d)) = (1/2) [d s2/lam + |w - w0|^2/lam - d + d log(lam/s2)],
    with `dist2` = |w - w0|^2, `s2` the posterior variance, `lam` the prior variance (nats)."""
    if s2 <= 0 or lam <= 0:
        raise ValueError(f"variances must be positive, got s2={s2}, lam={lam}")
    return 0.5 * (d * s2 / lam + dist2 / lam - d + d * math.log(lam / s2))


def prior_grid_penalty(j: int, delta: float) -> float:
    """log(1/delta_j) for the j-th prior of the grid lam_j = c exp(-j/b), j = 1, 2, ..., with
    delta_j = 6 delta / (pi^2 j^2) (so sum_j delta_j = delta): log(pi^2 j^2 / (6 delta)); with
    j = b log(c/lam) this is Dziugaite & Roy's 2 log(b log(c/lam)) + log(pi^2 / (6 delta))."""
    if j < 1:
        raise ValueError(f"grid index j must be >= 1, got {j}")
    return 2 * math.log(j) + math.log(math.pi ** 2 / (6 * delta))


def grid_bound(emp_error: float, dist2: float, d: int, s2: float, n: int, delta: float, b: float = 100.0,
               c: float = 0.1) -> tuple[float, int, float]:
    """The PAC-Bayes bound for Q = N(w, s2 I), minimised over the prior grid lam_j = c exp(-j/b):
    e_D(Q) <= kl_inverse_upper(emp_error, (KL(Q || P_j) + log(2 sqrt(n)) + log(1/delta_j)) / n).
    The continuous optimum lam* = s2 + dist2/d is rounded to its two neighbours on the grid.
    Returns (bound, j, KL)."""
    lam_star = s2 + dist2 / d
    j_star = b * math.log(c / lam_star)
    best = None
    for j in {max(1, math.floor(j_star)), max(1, math.ceil(j_star))}:
        lam = c * math.exp(-j / b)
        kl = gaussian_kl(dist2, d, s2, lam)
        rhs = (kl + math.log(2 * math.sqrt(n)) + prior_grid_penalty(j, delta)) / n
        value = kl_inverse_upper(emp_error, rhs)
        if best is None or value < best[0]:
            best = (value, j, kl)
    return best


def sample_error_upper(mean_error: float, m: int, delta: float) -> float:
    """Langford & Caruana 2002 (as used by Dziugaite & Roy 2017, Section 5): with probability
    >= 1 - delta over m i.i.d. weight samples from Q, e_S(Q) <= kl_inverse_upper(mean, log(2/delta)/m)."""
    if m < 1:
        raise ValueError(f"need at least one weight sample, got m={m}")
    return kl_inverse_upper(mean_error, math.log(2 / delta) / m)


@dataclass(frozen=True)
class PacBayesResult:
    """The certificate and its parts. `bound` >= test error of Q with probability >= 1 - delta."""

    bound: float  # upper bound on the test error of the stochastic network Q
    kl: float  # KL(Q || P_j) in nats
    s: float  # posterior standard deviation (isotropic)
    prior_var: float  # lam_j, the prior variance
    j: int  # grid index of the prior
    sampled_train_error: float  # mean training error over the m weight samples
    sampled_train_error_upper: float  # Langford-Caruana upper bound on e_S(Q)
    train_error: float  # deterministic trained network
    sampled_test_error: float  # mean test error over the same samples (for comparison, not part of the bound)
    dist_to_init: float  # |w - w0|
    n: int
    d: int
    m: int
    delta: float
    delta_pac_bayes: float
    delta_samples: float
    b: float
    c: float


def _sampled_errors(model, w: torch.Tensor, s: float, x, y, m: int, generator: torch.Generator,
                    x_test=None, y_test=None) -> tuple[float, float | None]:
    """Mean 0-1 error of m networks with weights w + s * N(0, I) on (x, y) (and on the test set)."""
    net = copy.deepcopy(model).eval()
    train = test = 0.0
    for _ in range(m):
        vector_to_parameters(w + s * torch.randn(w.shape, generator=generator), net.parameters())
        train += 1 - evaluate(net, x, y)["acc"]
        if x_test is not None:
            test += 1 - evaluate(net, x_test, y_test)["acc"]
    return train / m, (test / m if x_test is not None else None)


def pac_bayes_bound(net: TrainedNetwork, delta: float = 0.05, samples_share: float = 0.2, m: int = 1000,
                    search_samples: int = 16, s_grid: tuple[float, ...] | None = None, b: float = 100.0,
                    c: float = 0.1, seed: int = 0) -> PacBayesResult:
    """Dziugaite & Roy 2017's certificate for `net`, with the posterior mean fixed at the trained
    weights (they also train the mean; we only choose s, which keeps the posterior a simple function
    of the trained network).

    Confidence split: delta_samples = samples_share * delta for the Monte Carlo estimate of e_S(Q),
    delta_pac_bayes = delta - delta_samples for the PAC-Bayes bound, itself spread over the prior grid
    as 6 delta_pac_bayes / (pi^2 j^2); by a union bound the certificate holds with probability
    >= 1 - delta. (Dziugaite & Roy use delta = 0.025 and delta' = 0.01 with m = 150,000 samples.)

    Choosing s: for each s of `s_grid` (default 40 values log-spaced in [1e-4, 1]) e_S(Q) is
    estimated from `search_samples` weight samples and the bound is computed; the best s is then
    certified with m fresh samples (the search's samples are not reused, so the sample-convergence
    bound sees samples independent of the choice of s; the PAC-Bayes bound holds for all Q at once).
    """
    if not 0 < delta < 1 or not 0 < samples_share < 1:
        raise ValueError(f"delta and samples_share must be in (0, 1), got {delta}, {samples_share}")
    delta_samples = samples_share * delta
    delta_pb = delta - delta_samples
    x, y = net.data.x_train, net.data.y_train
    n = len(y)
    w = parameters_to_vector(net.model.parameters()).detach()
    w0 = parameters_to_vector(net.init.parameters()).detach()
    d = w.numel()
    dist2 = float(((w - w0) ** 2).sum())
    generator = torch.Generator().manual_seed(seed)
    grid = s_grid or tuple(float(v) for v in torch.logspace(-4, 0, 40))

    def bound_at(s, emp):
        return grid_bound(emp, dist2, d, s * s, n, delta_pb, b, c)

    scores = []
    for s in grid:
        emp, _ = _sampled_errors(net.model, w, s, x, y, search_samples, generator)
        scores.append((bound_at(s, emp)[0], s))
    s = min(scores)[1]
    emp, test = _sampled_errors(net.model, w, s, x, y, m, generator, net.data.x_test, net.data.y_test)
    emp_upper = sample_error_upper(emp, m, delta_samples)
    value, j, kl = bound_at(s, emp_upper)
    return PacBayesResult(
        bound=value, kl=kl, s=s, prior_var=c * math.exp(-j / b), j=j, sampled_train_error=emp,
        sampled_train_error_upper=emp_upper, train_error=1 - evaluate(net.model, x, y)["acc"],
        sampled_test_error=test, dist_to_init=math.sqrt(dist2), n=n, d=d, m=m, delta=delta,
        delta_pac_bayes=delta_pb, delta_samples=delta_samples, b=b, c=c,
    )


def bound_rows(net: TrainedNetwork, delta: float = 0.05) -> list[Bound]:
    """The PAC-Bayes row of the bounds table: a bound on the test error of the stochastic network
    Q = N(w_trained, s^2 I) (not of the deterministic trained network)."""
    r = pac_bayes_bound(net, delta)
    return [Bound(name="PAC-Bayes, Gaussian posterior around the trained weights", source=SOURCE, value=r.bound,
                  bounds="test error of the stochastic network Q", detail=asdict(r))]
