"""PAC-Bayes by backprop with data-dependent priors: the certificate of Perez-Ortiz, Rivasplata,
Shawe-Taylor, Szepesvari, "Tighter risk certificates for neural networks", JMLR 22 (2021), applied
to the record of the experiment `empirical.pbb.train_posteriors` (the prior, one posterior Q per
prior scale, and Q's sampled errors), and the bound family "pbb".

The certificate (their Sections 4-6 and their code, mperezortiz/PBB, `pbb/utils.py` `runexp`), with
probability >= 1 - delta - delta_mc over the bound set and the draws, for each of the J prior scales:
- e_S(Q) on the bound set, estimated from N = n_bound x mc_draws independent draws, is bounded
  above: `kl.independent_mean_upper(mean, N, delta_mc / J)`;
- then the PAC-Bayes-kl bound `kl.kl_bound(upper, KL(Q||P), n_bound, delta / J)`.
The smallest of the J bounds is reported, so both steps are union bounds over the grid of scales
(the J Monte Carlo events and the J PAC-Bayes events hold together with probability >= 1 - delta -
delta_mc).

Where we differ from the authors' released code, and why: docs/sources/perezortiz2021.md.
"""

from __future__ import annotations

from dataclasses import replace

from empirical.models import build
from empirical.pbb import PRIORS, PBBConfig, stages, train_posteriors
from empirical.probabilistic import probabilistic
from empirical.records import Record

from ..network import Network
from ..quantities import Bound, bound_family
from .kl import independent_mean_upper, kl_bound

SOURCE = ("Perez-Ortiz, Rivasplata, Shawe-Taylor, Szepesvari, JMLR 2021 (PBB): fquad objective, Monte Carlo bound "
          "on e_S(Q) (Hoeffding 1963, Thm 1, delta_mc), then the PAC-Bayes-kl bound (Maurer 2004) with n = the bound set")


def certify(record: Record) -> dict:
    """The certificate on the record of `empirical.pbb.train_posteriors`: `bound`, an upper bound on
    the test error of the stochastic network Q of the best prior scale, with probability >= 1 -
    delta - delta_mc (`confidence`), and every number it came from, for each scale
    (`prior_scales_tried`); `posterior`: the file of the certified Q in the record."""
    s = record.summary
    j = len(s["prior_scales"])
    delta_each, delta_mc_each = s["delta"] / j, s["delta_mc"] / j
    tried = []
    for row in s["prior_scales"]:
        upper = independent_mean_upper(row["stochastic_bound_set_error"], row["mc_independent_draws"], delta_mc_each)
        tried.append({**row, "stochastic_bound_set_error_upper": upper,
                      "bound": kl_bound(upper, row["kl"], s["n_bound"], delta_each)})
    best = min(tried, key=lambda row: row["bound"])  # the first of equal bounds
    return {**best, **{k: v for k, v in s.items() if k != "prior_scales"},
            "delta_per_prior_scale": delta_each, "delta_mc_per_prior_scale": delta_mc_each,
            "confidence": 1 - (s["delta"] + s["delta_mc"]), "prior_scales_tried": tried, "run": record.path.name}


def family_config(net: Network, prior: str, delta: float) -> PBBConfig:
    """The certificate the bounds table computes for `net`'s architecture, data, corruption and seed:
    fquad, PBB's optimizer settings, delta split 4:1 between the PAC-Bayes step and the Monte Carlo
    step (as `dziugaite_roy.pac_bayes_bound` splits it). Epochs: PBB-like counts on data sets of
    10,000 examples or more (prior 20, posterior 10), more passes on small ones, whose epochs are a
    few steps each (prior 100, posterior 50); a data-independent prior is chosen on the grid
    0.01, 0.03, 0.1 (a union bound over three), a data-dependent one is PBB's 0.03."""
    small, fit = net.data.n_train < 10_000, net.fit_config
    return PBBConfig(data=fit.data, model=replace(fit.model, dropout=0.0), corruption=fit.corruption, prior=prior,
                     prior_sigma=(0.03,) if prior == "data-dependent" else (0.01, 0.03, 0.1),
                     **stages(100 if small else 20, 50 if small else 10, device=fit.train.device),
                     delta=0.8 * delta, delta_mc=0.2 * delta, seed=fit.seed)


HOURS_ON_A_CPU = ("resnet18", "inception-small")


def not_applicable(net: Network) -> str | None:
    """Networks whose every layer with weights is Linear, a convolution or batch norm, which
    `empirical.probabilistic` makes stochastic; genproof's ResNet-18 and Inception are convertible
    too, but their Monte Carlo certificate costs hours on a CPU, so they are left out here."""
    model = net.fit_config.model
    if model.name in HOURS_ON_A_CPU:
        return (f"PAC-Bayes by backprop is not run for {model.name} here: its probabilistic version would need hours "
                "of Monte Carlo on a CPU")
    try:
        probabilistic(build(model, net.data.input_shape, net.data.num_classes), 0.03)
    except ValueError as err:
        return f"PAC-Bayes by backprop needs a probabilistic twin of the architecture: {err}"
    return None


@bound_family("pbb", "PAC-Bayes by backprop (Perez-Ortiz et al. 2021): fquad posterior Q, prior learned on half the "
                     "training set, and Q with a prior at the initialization",
              not_applicable, kinds=("stochastic",), source=SOURCE, cost="training", needs=("loop",),
              cost_detail="per row: a prior trained on half the training set (data-dependent row), a posterior "
                          "trained on all of it (three for the data-independent row's prior grid), then 10 sampled "
                          "networks per example", default=False,
              limitations="certifies a stochastic network Q trained from the architecture, not the trained network; a "
                          "user's factory is trained without the prior's dropout (its own dropout, if any, stays)",
              card="docs/sources/perezortiz2021.md")
def bound_rows(net: Network, delta: float = 0.05) -> list[Bound]:
    """Two rows of kind "stochastic": upper bounds, with probability >= 1 - delta, on the test error of
    the stochastic network Q that PAC-Bayes by backprop trains on `net`'s data with `net`'s
    architecture (not on `net` itself), one with a data-dependent prior, one with a prior at the
    initialization; Q's own sampled errors (on the bound set, and on the test set) beside each, the
    deterministic mean network's test error and every number in `detail`."""
    rows = []
    for prior in PRIORS:
        s = certify(train_posteriors(family_config(net, prior, delta), net.root))
        rows.append(Bound(
            name=(f"PAC-Bayes by backprop, {prior} prior, fquad: test error of the stochastic network Q it trains "
                  f"(its train error: on the bound set, n = {s['n_bound']})"),
            source=SOURCE, value=s["bound"], kind="stochastic", delta=delta,
            train_error=s["stochastic_bound_set_error"], test_error=s["stochastic_test_error"],
            detail={k: v for k, v in s.items() if k != "prior_scales_tried"} | {"scales": s["prior_scales_tried"]}))
    return rows
