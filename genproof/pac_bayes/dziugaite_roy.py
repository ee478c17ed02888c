"""Dziugaite & Roy 2017's PAC-Bayes certificate for a trained network (the kl pieces are in
`genproof.pac_bayes.kl`):

- `gaussian_kl(...)`: KL(N(w, s^2 I) || N(w0, lam I)) in closed form, and `gaussian_kl_diag`
  (`empirical.probabilistic`'s) for a posterior with one variance per parameter;
- `pac_bayes_bound(net, delta, posterior=...)`: Dziugaite & Roy 2017's certificate for a trained
  network: prior P = N(w_init, lam I) centred at the initialisation, lam from the grid
  lam_j = c exp(-j/b) (union bound over j), and a Gaussian posterior Q, either
  `"fixed-mean"`: Q = N(w_trained, s^2 I) with the one number s chosen on a grid, or
  `"optimized"` (their method, Section 3): Q = N(mu, diag(s_i^2)) with mu started at the trained
  weights and mu, every s_i and lam trained by SGD (RMSprop) on the bound itself.

Source: G. K. Dziugaite, D. M. Roy, "Computing nonvacuous generalization bounds for deep
(stochastic) neural networks with many more parameters than training data", UAI 2017, Sections 3-5.
Their prior variance is lam (not lam^2); b = 100, c = 0.1 are the values of their released code
(gkdziugaite/pacbayes-opt, `log_prior_std_precision`, `log_prior_std_base`). Where genproof differs
from the paper and that code: docs/sources/dziugaite2017.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector

from empirical.batches import WithReplacement
from empirical.probabilistic import gaussian_kl_diag
from empirical.train import TrainConfig, train

from ..network import Network, has_batch_norm, logits
from ..quantities import Bound, bound_family
from .kl import kl_bound, sample_error_upper

SOURCE = ("Dziugaite & Roy, UAI 2017, Sections 3-5: their kl-PAC-Bayes bound uses (KL + ln(n/delta))/(n - 1) "
          "(Langford & Seeger 2001); genproof uses Maurer 2004's (KL + ln(2 sqrt(n)/delta))/n, also valid and slightly "
          "tighter; Langford & Caruana 2002's sample-convergence bound for the Monte Carlo error of Q")


def gaussian_kl(dist2: float, d: int, s2: float, lam: float) -> float:
    """KL(N(w, s2 I_d) || N(w0, lam I_d)) = (1/2) [d s2/lam + |w - w0|^2/lam - d + d log(lam/s2)],
    with `dist2` = |w - w0|^2, `s2` the posterior variance, `lam` the prior variance (nats)."""
    if s2 <= 0 or lam <= 0:
        raise ValueError(f"variances must be positive, got s2={s2}, lam={lam}")
    return 0.5 * (d * s2 / lam + dist2 / lam - d + d * math.log(lam / s2))


def grid_delta(j: int, delta: float) -> float:
    """The confidence given to the j-th prior of the grid lam_j = c exp(-j/b), j = 1, 2, ...:
    delta_j = 6 delta / (pi^2 j^2), so that sum_j delta_j = delta (a union bound over the grid).
    With j = b log(c/lam), log(1/delta_j) = 2 log(b log(c/lam)) + log(pi^2 / (6 delta)), the term of
    Dziugaite & Roy 2017, Section 3 (and of their code's `factor1 + factor2`)."""
    if j < 1:
        raise ValueError(f"grid index j must be >= 1, got {j}")
    return 6 * delta / (math.pi ** 2 * j ** 2)


def grid_bound(emp_error: float, dist2: float, d: int, s2: float, n: int, delta: float, b: float = 100.0,
               c: float = 0.1) -> tuple[float, int, float]:
    """The PAC-Bayes bound for Q = N(w, s2 I), minimised over the prior grid lam_j = c exp(-j/b):
    e_D(Q) <= kl_bound(emp_error, KL(Q || P_j), n, delta_j), delta_j = grid_delta(j, delta).
    The continuous optimum lam* = s2 + dist2/d is rounded to its two neighbours on the grid.
    Returns (bound, j, KL)."""
    lam_star = s2 + dist2 / d
    j_star = b * math.log(c / lam_star)
    best = None
    for j in {max(1, math.floor(j_star)), max(1, math.ceil(j_star))}:
        lam = c * math.exp(-j / b)
        kl = gaussian_kl(dist2, d, s2, lam)
        value = kl_bound(emp_error, kl, n, grid_delta(j, delta))
        if best is None or value < best[0]:
            best = (value, j, kl)
    return best


@dataclass(frozen=True)
class PacBayesResult:
    """The certificate and its parts. With probability >= 1 - delta (over the training set and the m
    weight samples), the test error of the stochastic network Q is at most `bound`."""

    bound: float  # upper bound on the test error of the stochastic network Q
    posterior: str  # "fixed-mean" or "optimized"
    kl: float  # KL(Q || P_j) in nats
    s: float  # posterior standard deviation: the one s (fixed-mean) or the root-mean-square of the s_i (optimized)
    prior_var: float  # lam_j = c exp(-j/b), the prior variance
    j: int  # grid index of the prior
    sampled_train_error: float  # mean training error over the m weight samples
    sampled_train_error_upper: float  # Langford-Caruana upper bound on e_S(Q)
    train_error: float  # the deterministic trained network
    sampled_test_error: float  # mean test error over the same m samples (for comparison, not part of the bound)
    dist_to_init: float  # |mu - w0|
    n: int
    d: int
    m: int
    delta: float
    delta_pac_bayes: float
    delta_samples: float
    b: float
    c: float


def _unflatten(model: nn.Module, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """A parameter vector as the name -> tensor dict `torch.func.functional_call` takes."""
    out, i = {}, 0
    for name, p in model.named_parameters():
        out[name] = v[i:i + p.numel()].view(p.shape)
        i += p.numel()
    return out


@torch.no_grad()
def _sampled_errors(model: nn.Module, mu: torch.Tensor, s: torch.Tensor | float, x, y, m: int,
                    generator: torch.Generator, x_test=None, y_test=None) -> tuple[float, float | None]:
    """Mean 0-1 error of m networks with weights mu + s * N(0, I) on (x, y) (and on the test set),
    each evaluated on the whole set (`network.logits`: in batches; a loop over samples, as
    `torch.func.vmap` over chunks of weight samples was slower on the CPU; benchmarks/RESULTS.md)."""
    model = model.eval()
    train = test = 0.0
    for _ in range(m):
        params = _unflatten(model, mu + s * torch.randn(mu.shape, generator=generator))
        train += (logits(model, x, params).argmax(1) != y).float().mean().item()
        if x_test is not None:
            test += (logits(model, x_test, params).argmax(1) != y_test).float().mean().item()
    return train / m, (test / m if x_test is not None else None)


def _grid_index(lam: float, b: float, c: float) -> int:
    """The grid point nearest to lam: j = round(b log(c/lam)), at least 1."""
    return max(1, round(b * math.log(c / lam)))


class GaussianPosterior(nn.Module):
    """The trainable posterior Q = N(mu, diag s^2) over the weights of `network`, and the prior
    scale lam: parameters mu, log s and log lam. The network itself is held, not registered: it is
    not trained, and stays in the mode it is in (eval: the network the samples are certified with).
    `sample(generator)` draws one weight vector mu + s * eps (the reparameterization trick)."""

    def __init__(self, network: nn.Module, w: torch.Tensor, log_lam: float):
        super().__init__()
        self.__dict__["network"] = network  # not a submodule
        self.mu = nn.Parameter(w.clone())
        self.log_s = nn.Parameter(torch.log(2 * w.abs().clamp_min(1e-4)))
        self.log_lam = nn.Parameter(torch.tensor(log_lam))

    def logits(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.network, _unflatten(self.network, v), (x,))


@dataclass(frozen=True)
class DziugaiteRoyObjective:
    """The training objective of Dziugaite & Roy 2017, Section 3, for a `GaussianPosterior` (an
    `empirical.objectives.Objective`): surrogate(mu + s * eps) + sqrt(B / 2) with one Gaussian draw eps
    per step from `generator` (see `_optimize_posterior`); `project` keeps lam at most the grid's
    top, c exp(-1/b)."""

    w0: torch.Tensor
    n: int
    num_classes: int
    delta_pb: float
    b: float
    c: float
    generator: torch.Generator

    @property
    def log_lam_max(self) -> float:
        return math.log(self.c) - 1 / self.b

    def __call__(self, q: GaussianPosterior, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        v = q.mu + torch.exp(q.log_s) * torch.randn(q.mu.shape, generator=self.generator)
        surrogate = F.cross_entropy(q.logits(v, x), y) / math.log(self.num_classes)
        kl = gaussian_kl_diag(q.mu, self.w0, torch.exp(2 * q.log_s), torch.exp(q.log_lam))
        j = self.b * (math.log(self.c) - q.log_lam)
        big_b = (kl + math.log(2 * math.sqrt(self.n)) + 2 * torch.log(j)
                 + math.log(math.pi ** 2 / (6 * self.delta_pb))) / self.n
        return surrogate + torch.sqrt(big_b / 2)

    def project(self, q: GaussianPosterior) -> None:
        q.log_lam.clamp_(max=self.log_lam_max)


def _optimize_posterior(net: Network, w: torch.Tensor, w0: torch.Tensor, delta_pb: float, b: float,
                        c: float, steps: int, lr: float, batch_size: int, generator: torch.Generator):
    """Dziugaite & Roy 2017, Section 3 ("Optimizing the PAC-Bayes bound"): minimise by RMSprop over
    (mu, log s_i, log lam)
        surrogate(mu + s * eps) + sqrt(B / 2),
        B = (KL(Q||P_lam) + log(2 sqrt(n)) + 2 log j(lam) + log(pi^2/(6 delta))) / n,
    with one Gaussian draw eps per step (reparameterization), the surrogate the minibatch softmax
    cross-entropy divided by log(num_classes) (a smooth stand-in for the 0-1 error; theirs is the
    logistic loss divided by log 2 on binary MNIST), j(lam) = b log(c/lam) relaxed to a real number
    and lam kept below the grid's top c exp(-1/b); minibatches drawn with replacement. Trained by
    the one training loop (`empirical.train.train`, on the CPU, where the network is).
    mu and s_i start as theirs do (mu at the trained weights, s_i = 2 |w_i|); lam starts at the top of
    the grid, c exp(-1/b)."""
    x, y = net.data.x_train, net.data.y_train
    objective = DziugaiteRoyObjective(w0, len(y), net.data.num_classes, delta_pb, b, c, generator)
    q = GaussianPosterior(net.model, w, objective.log_lam_max)
    schedule = TrainConfig(optimizer="rmsprop", lr=lr, momentum=0.0, batch_size=batch_size, max_steps=steps,
                           stop_at_fit=False, eval_every=steps, device="cpu", progress=False)
    train(q, WithReplacement(x, y, batch_size, generator), schedule, objective=objective)
    return q.mu.detach(), torch.exp(q.log_s.detach()), math.exp(q.log_lam.item())


def pac_bayes_bound(net: Network, delta: float = 0.05, posterior: str = "optimized", samples_share: float = 0.2,
                    m: int = 1000, b: float = 100.0, c: float = 0.1, seed: int = 0, steps: int = 6000,
                    lr: float = 3e-3, batch_size: int = 128, search_samples: int = 16,
                    s_grid: tuple[float, ...] | None = None) -> PacBayesResult:
    """Dziugaite & Roy 2017's certificate for `net` (see the module docstring for the two posteriors).

    Confidence split: delta_samples = samples_share * delta for the Monte Carlo estimate of e_S(Q),
    delta_pac_bayes = delta - delta_samples for the PAC-Bayes bound, itself spread over the prior grid
    as 6 delta_pac_bayes / (pi^2 j^2); by a union bound the certificate holds with probability
    >= 1 - delta. (Dziugaite & Roy use delta = 0.025 and delta' = 0.01 with m = 150,000 samples.)

    The PAC-Bayes bound holds for every Q at once, so Q may be chosen on the training data:
    `"optimized"` trains it (`steps` of RMSprop at `lr`, minibatches of `batch_size`);
    `"fixed-mean"` estimates e_S(Q) from `search_samples` weight samples for each s of `s_grid`
    (default 40 values log-spaced in [1e-4, 1]) and keeps the s of the smallest bound. Either way the
    chosen Q is then certified with m fresh weight samples, independent of the choice, as the
    sample-convergence bound requires. lam is rounded to the nearest grid point and the KL computed
    exactly there.
    """
    if not 0 < delta < 1 or not 0 < samples_share < 1:
        raise ValueError(f"delta and samples_share must be in (0, 1), got {delta}, {samples_share}")
    if posterior not in ("optimized", "fixed-mean"):
        raise ValueError(f"posterior must be 'optimized' or 'fixed-mean', got {posterior!r}")
    delta_samples = samples_share * delta
    delta_pb = delta - delta_samples
    x, y = net.data.x_train, net.data.y_train
    n = len(y)
    with torch.no_grad():
        w = parameters_to_vector(net.model.parameters()).detach().clone()
        w0 = parameters_to_vector(net.init.parameters()).detach().clone()
    d = w.numel()
    generator = torch.Generator().manual_seed(seed)

    if posterior == "optimized":
        mu, s_vec, lam = _optimize_posterior(net, w, w0, delta_pb, b, c, steps, lr, batch_size, generator)
        j = _grid_index(lam, b, c)
        lam = c * math.exp(-j / b)
        kl = float(gaussian_kl_diag(mu, w0, s_vec ** 2, lam))
        s_report, noise = float(s_vec.pow(2).mean().sqrt()), s_vec
    else:
        mu, dist2 = w, float(((w - w0) ** 2).sum())
        scores = []
        for s in s_grid or tuple(float(v) for v in torch.logspace(-4, 0, 40)):
            emp, _ = _sampled_errors(net.model, w, s, x, y, search_samples, generator)
            scores.append((grid_bound(emp, dist2, d, s * s, n, delta_pb, b, c)[0], s))
        s_report = noise = min(scores)[1]
        _, j, kl = grid_bound(0.0, dist2, d, noise ** 2, n, delta_pb, b, c)
        lam = c * math.exp(-j / b)

    test_set = (net.data.x_test, net.data.y_test) if net.data.n_test else (None, None)
    emp, test = _sampled_errors(net.model, mu, noise, x, y, m, generator, *test_set)
    emp_upper = sample_error_upper(emp, m, delta_samples)
    train_error = (logits(net.model, x).argmax(1) != y).float().mean().item()
    return PacBayesResult(
        bound=kl_bound(emp_upper, kl, n, grid_delta(j, delta_pb)), posterior=posterior, kl=kl, s=s_report,
        prior_var=lam, j=j,
        sampled_train_error=emp, sampled_train_error_upper=emp_upper, train_error=train_error,
        sampled_test_error=test, dist_to_init=float((mu - w0).norm()), n=n, d=d, m=m, delta=delta,
        delta_pac_bayes=delta_pb, delta_samples=delta_samples, b=b, c=c,
    )


def not_applicable(net: Network) -> str | None:
    """The certificate is for a distribution over the network's parameters, with a prior fixed before
    the data: batch-norm running statistics are fitted to the training data and are no parameters,
    so neither Q nor P accounts for them."""
    if has_batch_norm(net.model):
        return (f"{type(net.model).__name__} has batch norm, whose running statistics are fitted to the training data "
                "outside the posterior and the prior: KL(Q||P) would not account for them")
    return None


@bound_family("pac-bayes", "Dziugaite & Roy 2017's PAC-Bayes bound, optimized Gaussian posterior (no batch norm)",
              not_applicable, kinds=("stochastic",), source=SOURCE, cost="optimization", needs=("init",),
              cost_detail="6,000 steps of posterior optimization, then 1,000 sampled networks on the training and "
                          "test sets", default=False,
              limitations="certifies the stochastic network Q around the trained weights, not the trained network; "
                          "the prior is centred at the initialization, which must be the one training started from",
              card="docs/sources/dziugaite2017.md")
def bound_rows(net: Network, delta: float = 0.05) -> list[Bound]:
    """The PAC-Bayes row of the bounds table (optimized posterior): with probability >= 1 - delta, an
    upper bound on the test error of the stochastic network Q (kind "stochastic"), reported beside
    Q's own sampled training and test errors (whose difference is the gap it bounds); the
    deterministic trained network's errors are in `detail` for reference, not what it bounds."""
    r = pac_bayes_bound(net, delta)
    return [Bound(name="PAC-Bayes (Dziugaite & Roy 2017), optimized Gaussian posterior Q", source=SOURCE,
                  value=r.bound, kind="stochastic", delta=delta, train_error=r.sampled_train_error,
                  test_error=r.sampled_test_error,
                  detail={**asdict(r), "deterministic_train_error": r.train_error,
                          "deterministic_test_error": net.summary["test_error"]})]
