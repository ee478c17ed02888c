"""Claims of neyshabur2017: Neyshabur, Bhojanapalli, McAllester, Srebro, "Exploring generalization
in deep learning", NeurIPS 2017, Figure 1; with Bartlett, Foster, Telgarsky, "Spectrally-normalized
margin bounds for neural networks", NeurIPS 2017, Figure 1. The measures are
`genproof.norms.norm_measures`. What Figure 1 shows, what is checked of it and what could not be
verified: docs/sources/neyshabur2017.md.

quick: the 1x64 MLP of dziugaite2017's claim on digits (the same cached runs), seeds 0-2, each on
true and on random labels, trained to 100% training accuracy. full: fashion-mnist with the 1x600
MLP of Dziugaite & Roy, on demand; not run on this machine (`genproof.claims.presets`). Checked:
the measures of the random-label networks are larger, at one training set size, with the paper's
5th-percentile margin (the growth with the training set size is not checked).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from empirical.fit import FitConfig

from ..norms import norm_measures
from ..network import Network
from . import Claim, register
from .presets import MLP_1X64_DIGITS, MLP_1X600_FASHION

CARD = "docs/sources/neyshabur2017.md"  # where these checks differ from the source, what could not be verified


# ---- neyshabur2017.norms-grow-with-random-labels --------------------------------------------

@dataclass(frozen=True)
class NormSetting:
    """The same network trained on true and on random labels, once per seed."""

    fit: FitConfig
    seeds: tuple[int, ...] = (0, 1, 2)
    margin_quantile: float = 0.05  # Neyshabur et al. 2017, Figure 1: the 5th percentile of the training margins


MEASURES = ("spectral", "frobenius", "path")


def _measure_norms(setting: NormSetting, root: Path) -> dict:
    per = {k: {"true": [], "random": []} for k in MEASURES + ("gamma",)}
    fitted = []
    for seed in setting.seeds:
        for kind, corruption in (("true", "true"), ("random", "random-labels")):
            net = Network.from_fit(replace(setting.fit, corruption=corruption, seed=seed), root)
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
    card=CARD,
    cited_from="not reached: the norms in the paper's figures could not be read here",
    source=("Neyshabur et al., NeurIPS 2017 ('Exploring generalization in deep learning'), Figure 1; "
            "Bartlett, Foster, Telgarsky, NeurIPS 2017, Figure 1"),
    statement=("The margin-normalized spectral, Frobenius and l2 path-norm measures (margin: 5th percentile of the "
               "training margins, biases folded in, width and depth factors dropped as in the paper's Figure 1) of a "
               "network trained to 100% training accuracy on random labels are larger than those of the same network "
               "trained on the true labels, on every seed. Weaker than the source: one training set size; Figure 1 "
               "also shows the random-label measures growing with the training set size, not checked here."),
    settings={"quick": NormSetting(MLP_1X64_DIGITS), "full": NormSetting(MLP_1X600_FASHION)},
    # random / true > 1 for every measure and seed, and both networks fit their training set.
    tolerances={"min_ratio": 1.0, "min_train_acc": 1.0},
    measure=_measure_norms,
    holds=lambda m, tol: m["min_ratio"] > tol["min_ratio"] and m["min_train_acc"] >= tol["min_train_acc"],
    on_recipe=lambda setting, fit: replace(setting, fit=fit),
    own_training=True,
))
