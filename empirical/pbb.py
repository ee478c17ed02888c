"""PAC-Bayes by backprop, the experiment: the prior and the posteriors of Perez-Ortiz, Rivasplata,
Shawe-Taylor, Szepesvari, "Tighter risk certificates for neural networks", JMLR 22 (2021), trained
with the one loop, and the sampled errors of each posterior, as one cached record
(`train_posteriors(config, root)`). The certificate, the formula applied to that record, is
`genproof.pac_bayes.backprop.certify`; where we differ from PBB: docs/sources/perezortiz2021.md.

1. Split the training set (a seeded permutation): the first `prior_fraction` of it is the prior
   set, the rest the bound set, of n_bound examples. `prior="data-independent"` has no prior set.
2. The prior P = N(w_P, sigma0^2 I): w_P the network at its initialization (data-independent), or
   trained by ERM with dropout on the prior set only (data-dependent; the stage `prior_train`, SGD
   with momentum as PBB's `trainNNet`). Batch-norm statistics, if any, are frozen at w_P's.
3. For each prior scale sigma0 of `prior_sigma` (J of them), the posterior Q = N(mu, diag sigma^2)
   starts at P and is trained on the whole training set (the bound holds for every Q at once, so Q
   may depend on any data; only P must not depend on the bound set) by the stage
   `posterior_train` on a PAC-Bayes objective (`empirical.pac_bayes_objectives`) with n = n_bound
   and confidence delta / J.
4. Each Q's 0-1 error on the bound set is sampled: every example with `mc_draws` weight draws of
   its own (independent across examples and draws: the local reparameterization trick for Linear
   layers, one grouped convolution per example otherwise), N = n_bound x mc_draws draws; its KL to
   P, its sampled test error and its mean network's errors are recorded beside it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from empirical.fit import DataConfig, FitConfig, corrupted_data
from empirical.models import ModelConfig, build
from empirical.pac_bayes_objectives import OBJECTIVES, PacBayesObjective
from empirical.probabilistic import ProbabilisticNetwork, probabilistic
from empirical.records import Record, cached_run, default_root
from empirical.train import TrainConfig, evaluate, train

PRIORS = ("data-dependent", "data-independent")


def stages(prior_epochs: int = 20, posterior_epochs: int = 10, **common) -> dict[str, TrainConfig]:
    """The two training stages of PBB's MNIST runs (batch 250; the prior by SGD at 0.005 with
    momentum 0.99, the posterior by SGD at 0.001 with momentum 0.95), for the epochs given (PBB
    runs 100 of each) and `common` settings of both (device, progress): the keyword arguments
    `prior_train`, `posterior_train` of a `PBBConfig`."""
    sgd = TrainConfig(optimizer="sgd", batch_size=250, max_steps=None, epochs=1, stop_at_fit=False, **common)
    return {"prior_train": replace(sgd, lr=0.005, momentum=0.99, epochs=prior_epochs),
            "posterior_train": replace(sgd, lr=0.001, momentum=0.95, epochs=posterior_epochs)}


@dataclass(frozen=True)
class PBBConfig:
    """One PAC-Bayes-by-backprop experiment. Defaults follow PBB's MNIST runs where the CPU allows:
    prior scale 0.03, p_min 1e-5, dropout 0.2 for the prior, learned on half the data, the two
    training stages of `stages()` (fewer epochs than their 100), delta 0.025 and delta_mc 0.01 (the
    confidences of the certificate's PAC-Bayes step, which the objective also uses, and of its Monte
    Carlo step). `mc_draws`: draws of Q per bound-set example; `test_draws`: the same on the test
    set, for Q's test error (reported, not part of the certificate)."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig("mlp", width=600, depth=3)
    corruption: str = "true"
    prior: str = "data-dependent"
    prior_fraction: float = 0.5
    prior_sigma: tuple[float, ...] = (0.03,)
    prior_dropout: float = 0.2
    objective: str = "fquad"
    pmin: float = 1e-5
    prior_train: TrainConfig = stages()["prior_train"]
    posterior_train: TrainConfig = stages()["posterior_train"]
    delta: float = 0.025
    delta_mc: float = 0.01
    mc_draws: int = 10
    test_draws: int = 10
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "prior_sigma", tuple(float(s) for s in self.prior_sigma))
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {self.prior!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.prior == "data-dependent" and not 0 < self.prior_fraction < 1:
            raise ValueError(f"a data-dependent prior needs prior_fraction in (0, 1), got {self.prior_fraction}")
        if not self.prior_sigma or any(s <= 0 for s in self.prior_sigma):
            raise ValueError(f"prior_sigma must be a non-empty tuple of positive scales, got {self.prior_sigma}")
        if not (0 < self.delta < 1 and 0 < self.delta_mc < 1 and self.delta + self.delta_mc < 1):
            raise ValueError(f"delta and delta_mc must be in (0, 1) with a sum below 1, got {self.delta}, {self.delta_mc}")
        for name in ("mc_draws", "test_draws"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def confidence(self) -> float:
        """The certificate holds with probability >= 1 - (delta + delta_mc)."""
        return self.delta + self.delta_mc


def split(n: int, config: PBBConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the prior set and of the bound set: a permutation seeded by `config.seed`, the first
    round(prior_fraction n) for the prior (none for a data-independent prior)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed))
    k = round(config.prior_fraction * n) if config.prior == "data-dependent" else 0
    if n - k < 8:
        raise ValueError(f"the bound set would hold {n - k} examples; the bound needs at least 8")
    return perm[:k], perm[k:]


@torch.no_grad()
def stochastic_error(q: ProbabilisticNetwork, x: torch.Tensor, y: torch.Tensor, draws: int,
                     batch_size: int = 1024) -> tuple[float, int]:
    """Q's Monte Carlo 0-1 error on (x, y) and the number N = len(x) x draws of independent
    {0, 1}-valued draws it averages: `draws` passes, each drawing every example's weights afresh."""
    q.eval()
    device = q.layers[0].weight.mu.device
    errors = 0.0
    with q.sampling(per_example=True):
        for _ in range(draws):
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
                errors += (q(xb).argmax(1) != yb).sum().item()
    return errors / (draws * len(x)), len(x) * draws


def _prior_network(config: PBBConfig, ds, prior_idx: torch.Tensor) -> tuple[torch.nn.Module, dict]:
    """w_P: the network at initialization, or trained by ERM with dropout on the prior set."""
    dropout = config.prior_dropout if config.prior == "data-dependent" else 0.0
    model = build(replace(config.model, dropout=dropout), ds.input_shape, ds.num_classes, seed=config.seed)
    info = {"prior_train_s": 0.0}
    if config.prior == "data-dependent":
        start = time.perf_counter()
        train(model, (ds.x_train[prior_idx], ds.y_train[prior_idx]), config.prior_train, seed=config.seed)
        info["prior_train_s"] = time.perf_counter() - start
    model = model.to("cpu").eval()
    info["prior_test_error"] = 1 - evaluate(model, ds.x_test, ds.y_test)["acc"]
    if len(prior_idx):
        info["prior_set_error"] = 1 - evaluate(model, ds.x_train[prior_idx], ds.y_train[prior_idx])["acc"]
    return model, info


def train_posteriors(config: PBBConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """The record `<root>/pbb-<hash>/`: summary.json holds, for each prior scale tried
    (`prior_scales`, in the order of `config.prior_sigma`), the posterior's KL to its prior, its
    sampled bound-set error with the number of independent draws, its sampled test error and its
    mean network's errors; `posterior-<k>.pt` the state of the k-th posterior."""

    def compute(out: Path) -> dict:
        start = time.perf_counter()
        ds = corrupted_data(FitConfig(config.data, config.model, corruption=config.corruption, seed=config.seed)).data
        prior_idx, bound_idx = split(ds.n_train, config)
        n_bound = len(bound_idx)
        prior_net, info = _prior_network(config, ds, prior_idx)
        x_bound, y_bound = ds.x_train[bound_idx], ds.y_train[bound_idx]
        delta_each = config.delta / len(config.prior_sigma)  # the objective's confidence: a union over the scales
        scales = []
        for k, sigma0 in enumerate(config.prior_sigma):
            t0 = time.perf_counter()
            q = probabilistic(prior_net, sigma0, seed=config.seed + 1 + k)
            objective = PacBayesObjective(config.objective, n_bound, delta_each, config.pmin)
            train(q, (ds.x_train, ds.y_train), config.posterior_train, seed=config.seed + 1 + k, objective=objective)
            q = q.to("cpu").eval()
            t1 = time.perf_counter()
            emp, draws_n = stochastic_error(q, x_bound, y_bound, config.mc_draws)
            with torch.no_grad():
                # KL >= 0: a float32 sum over terms near 0 (Q barely moved from P) can round to -2e-7;
                # rounding it up to 0 only loosens the bound
                kl = max(q.kl().item(), 0.0)
            test, _ = stochastic_error(q, ds.x_test, ds.y_test, config.test_draws)
            scales.append({"prior_sigma": sigma0, "kl": kl, "kl_per_n": kl / n_bound,
                           "stochastic_bound_set_error": emp, "mc_independent_draws": draws_n,
                           "stochastic_test_error": test,
                           "mean_network_test_error": 1 - evaluate(q, ds.x_test, ds.y_test)["acc"],
                           "mean_network_bound_set_error": 1 - evaluate(q, x_bound, y_bound)["acc"],
                           "lambda": float(objective.lam) if config.objective == "flamb" else None,
                           "n_weights": q.num_weights(), "posterior": f"posterior-{k}.pt",
                           "posterior_train_s": t1 - t0, "sampling_s": time.perf_counter() - t1})
            torch.save(q.state_dict(), out / f"posterior-{k}.pt")
        return {"prior": config.prior, "objective": config.objective, "n_train": ds.n_train,
                "n_prior": len(prior_idx), "n_bound": n_bound, "n_test": ds.n_test, "num_classes": ds.num_classes,
                "uniform_guess_error": 1 - 1 / ds.num_classes, "delta": config.delta, "delta_mc": config.delta_mc,
                "mc_draws_per_example": config.mc_draws, "prior_scales": scales, **info,
                "wall_s": time.perf_counter() - start}

    return cached_run(root or default_root(), "pbb", config, compute, force=force)
