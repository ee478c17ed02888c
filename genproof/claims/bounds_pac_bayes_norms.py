"""Claims about PAC-Bayes and norm-based bounds (`genproof.pac_bayes`, `genproof.norms`).

- dziugaite2017.pac-bayes-nonvacuous: Dziugaite & Roy, "Computing nonvacuous generalization bounds
  for deep (stochastic) neural networks with many more parameters than training data", UAI 2017.
- neyshabur2017.norms-grow-with-random-labels: Neyshabur, Bhojanapalli, McAllester, Srebro,
  "Exploring generalization in deep learning", NeurIPS 2017, Figure 1; Bartlett, Foster, Telgarsky,
  "Spectrally-normalized margin bounds for neural networks", NeurIPS 2017, Figure 1.

quick: a 1x64 ReLU MLP on all of scikit-learn's digits (1,437 train / 360 test, 4,810 weights, so
3.3 weights per example), SGD lr 0.1 with momentum 0.9, batch 128, trained to 100% training accuracy;
both claims read the same cached runs (seed 0 for the PAC-Bayes claim, seeds 0-2 for the norms).
The width is small to keep the quick tier fast: the bound's Monte Carlo and SGD cost grow with it.
full: fashion-mnist with the 1x600 MLP of Dziugaite & Roy (SGD lr 0.01, momentum 0.9, batch 100),
on demand; not run on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig
from empirical.train import TrainConfig

from ..norms import norm_measures
from ..pac_bayes import pac_bayes_bound
from ..trained import TrainedNetwork
from . import Claim, register

QUICK_FIT = FitConfig(DataConfig("digits"), ModelConfig("mlp", width=64, depth=1),
                      TrainConfig(lr=0.1, momentum=0.9, batch_size=128, max_steps=20_000))
FULL_FIT = FitConfig(DataConfig("fashion-mnist"), ModelConfig("mlp", width=600, depth=1),
                     TrainConfig(lr=0.01, momentum=0.9, batch_size=100, max_steps=100_000))


@dataclass(frozen=True)
class PacBayesSetting:
    """One network trained on the true labels and one on random labels, each certified with
    `pac_bayes_bound(net, delta, m=m, steps=steps)` (the optimized posterior)."""

    fit: FitConfig
    delta: float = 0.05
    m: int = 1000
    steps: int = 6000


@dataclass(frozen=True)
class NormSetting:
    """The same network trained on true and on random labels, once per seed."""

    fit: FitConfig
    seeds: tuple[int, ...] = (0, 1, 2)
    margin_quantile: float = 0.1


def _fit(config: FitConfig, corruption: str, seed: int, root: Path) -> TrainedNetwork:
    return TrainedNetwork.load(replace(config, corruption=corruption, seed=seed), root)


# ---- dziugaite2017.pac-bayes-nonvacuous -----------------------------------------------------

def _measure_pac_bayes(setting: PacBayesSetting, root: Path) -> dict:
    out = {}
    for kind, corruption in (("true", "true"), ("random", "random-labels")):
        net = _fit(setting.fit, corruption, 0, root)
        r = pac_bayes_bound(net, setting.delta, m=setting.m, steps=setting.steps)
        out.update({f"bound_{kind}": r.bound, f"kl_{kind}": r.kl, f"sampled_train_error_{kind}": r.sampled_train_error,
                    f"sampled_train_error_upper_{kind}": r.sampled_train_error_upper,
                    f"sampled_test_error_{kind}": r.sampled_test_error, f"s_rms_{kind}": r.s,
                    f"prior_var_{kind}": r.prior_var, f"test_error_deterministic_{kind}": net.summary["test_error"],
                    f"train_error_deterministic_{kind}": r.train_error})
    out.update({"n_train": r.n, "n_params": r.d, "weight_samples": r.m, "delta": r.delta,
                "delta_pac_bayes": r.delta_pac_bayes, "delta_samples": r.delta_samples,
                "chance_error": 1 - 1 / net.data.num_classes})
    return out


register(Claim(
    id="dziugaite2017.pac-bayes-nonvacuous",
    source="Dziugaite & Roy, UAI 2017, Sections 3-5 (the optimized PAC-Bayes bound, Table 1)",
    statement=("Optimizing a Gaussian posterior around the SGD solution (prior centred at the initialization) gives "
               "a PAC-Bayes bound on the test error of the stochastic network that is non-vacuous for a network "
               "trained on the true labels, and vacuous (at least the chance error) for the same network trained "
               "on random labels."),
    settings={"quick": PacBayesSetting(QUICK_FIT), "full": PacBayesSetting(FULL_FIT, steps=20_000)},
    tolerances={
        # "non-vacuous" in the strict sense for 10 classes: below the error of a random guess,
        # 1 - 1/10 = 0.9 (Dziugaite & Roy, with 2 classes, call a bound non-vacuous below 1; any
        # bound below 0.9 is also below 1).
        "max_bound_true": 0.9,
        # On random labels the test error of every classifier is 0.9, so a valid bound must be at
        # least 0.9 (with probability 1 - delta): the claim is that ours is, i.e. it is vacuous there.
        "min_bound_random": 0.9,
    },
    measure=_measure_pac_bayes,
    holds=lambda m, tol: m["bound_true"] < tol["max_bound_true"] and m["bound_random"] >= tol["min_bound_random"],
    cited={"Dziugaite & Roy 2017, abstract": ("nonvacuous generalization bounds for deep stochastic neural network "
                                              "classifiers with millions of parameters trained on only tens of "
                                              "thousands of examples (binary MNIST)")},
))


# ---- neyshabur2017.norms-grow-with-random-labels --------------------------------------------

MEASURES = ("spectral", "frobenius", "path")


def _measure_norms(setting: NormSetting, root: Path) -> dict:
    per = {k: {"true": [], "random": []} for k in MEASURES + ("gamma",)}
    fitted = []
    for seed in setting.seeds:
        for kind, corruption in (("true", "true"), ("random", "random-labels")):
            net = _fit(setting.fit, corruption, seed, root)
            fitted.append(net.summary["train_acc"])
            m = norm_measures(net, setting.margin_quantile)
            for k in per:
                per[k][kind].append(getattr(m, k))
    out = {f"{k}_{kind}": v for k, d in per.items() for kind, v in d.items()}
    out.update({f"ratio_{k}": [r / t for r, t in zip(per[k]["random"], per[k]["true"])] for k in MEASURES})
    out.update({"min_ratio": min(min(out[f"ratio_{k}"]) for k in MEASURES), "min_train_acc": min(fitted),
                "seeds": list(setting.seeds), "margin_quantile": setting.margin_quantile})
    return out


register(Claim(
    id="neyshabur2017.norms-grow-with-random-labels",
    source=("Neyshabur et al., NeurIPS 2017 ('Exploring generalization in deep learning'), Figure 1; "
            "Bartlett, Foster, Telgarsky, NeurIPS 2017, Figure 1"),
    statement=("The margin-normalized spectral, Frobenius and path-norm measures of a network trained to 100% "
               "training accuracy on random labels are larger than those of the same network trained on the true "
               "labels, on every seed."),
    settings={"quick": NormSetting(QUICK_FIT), "full": NormSetting(FULL_FIT)},
    # random / true > 1 for every measure and seed, and both networks fit their training set.
    tolerances={"min_ratio": 1.0, "min_train_acc": 1.0},
    measure=_measure_norms,
    holds=lambda m, tol: m["min_ratio"] > tol["min_ratio"] and m["min_train_acc"] >= tol["min_train_acc"],
))
