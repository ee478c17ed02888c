"""Claims of jiang2020: Jiang, Neyshabur, Mobahi, Krishnan, Bengio, "Fantastic Generalization Measures
and Where to Find Them", ICLR 2020 (arXiv 1912.02178). The study is `genproof.study` (the measures
`genproof.measures`); both claims read one study record. What the paper reports, how these checks
are weaker than it and different, and what could not be verified: docs/sources/jiang2020.md.

quick: the `quick` tier of `genproof.study` on digits: an MLP, width (32, 256) x depth (1, 3) x lr
(0.01, 0.1) x batch size (32, 256) x seeds (0, 1), 32 networks trained by SGD with momentum to 100%
training accuracy. full: the `full` tier (three values per axis, three seeds, 243 networks) on
Fashion-MNIST; on demand, not run on this machine. Each claim compares with one measure fixed in
advance (the plain PAC-Bayes flatness). "The spectral-norm measure" is Jiang et al.'s spec-orig,
their (30) (`spec-orig`: prod ||W||_2^2 / gamma^2 * sum ||W||_F^2 / ||W||_2^2, gamma the k-th
smallest training margin, k = floor(n / 10)). The ledger also reports Bartlett et al.'s spectral
complexity (`bartlett-spectral`), the plain product of spectral norms (`spectral-product`, their
(31)) and the rest of the study's measures.
"""

from __future__ import annotations

from pathlib import Path

from ..catalog import measure_defaults
from ..measures import MEASURES
from ..study import StudyConfig, run, tier_config
from . import Claim, register

# The quick check leaves out the Hessian measures (a third of its CPU time; no claim reads them);
# the full tier, the study tool and docs/study-fashion-mnist.md report them.
QUICK = StudyConfig(tier_config("quick", "digits"),
                    tuple(m for m in measure_defaults() if MEASURES.get(m).cost != "hessian"))
FULL = StudyConfig(tier_config("full", "fashion-mnist"), measure_defaults())
SOURCE = "Jiang et al., ICLR 2020 ('Fantastic Generalization Measures and Where to Find Them'), Sections 4 and 7"
CARD = "docs/sources/jiang2020.md"  # where these checks differ from the source, what could not be verified
CITED = {"Jiang et al. 2020, abstract": "over 10,000 convolutional networks, more than 40 measures",
         "Jiang et al. 2020, tables": "not cited: the paper's tables could not be reached here"}


COMPARED = ("pacbayes-flatness", "spec-orig", "bartlett-spectral", "params")  # the measures the claims name


def _measure_study(setting: StudyConfig, root: Path) -> dict:
    """tau of every measure of the study (ranked), Psi of the measures the claims name, and its size."""
    s = run(setting, root, progress=False).summary
    out = {f"tau_{r['measure']}": r["tau"] for r in s["rows"]}
    out.update({f"Psi_{r['measure']}": r["Psi"] for r in s["rows"] if r["measure"] in COMPARED})
    out.update({"networks": s["networks"], "fitted": s["fitted"]})
    return out


def _beats(m: dict, tol: dict) -> bool:
    flat, spectral = m["tau_pacbayes-flatness"], m["tau_spec-orig"]
    return flat is not None and spectral is not None and flat - spectral > tol["min_tau_difference"]


register(Claim(
    id="jiang2020.flatness-beats-spectral",
    card=CARD,
    cited_from="not reached: only the abstract could be read (quoted); the tables of tau and Psi were not",
    source=SOURCE,
    statement=("Over a sweep of networks, the PAC-Bayes flatness measure 1/sigma'^2 (sigma': the largest Gaussian "
               "weight noise that raises the training error by at most 0.1) has a higher Kendall's tau with the "
               "generalization gap than Jiang et al.'s spectral measure spec-orig (30), prod ||W||_2^2 / gamma^2 * "
               "sum ||W||_F^2 / ||W||_2^2."),
    settings={"quick": QUICK, "full": FULL},
    # Strictly higher. The difference of two taus over 32 networks has a sampling error of the order
    # of 0.1 or more (each tau's, under no association, is ~0.12), so this is a weak check: it can
    # fail, and the ledger shows by how much it held.
    tolerances={"min_tau_difference": 0.0},
    measure=_measure_study,
    holds=_beats,
    cited=CITED,
))

register(Claim(
    id="jiang2020.params-not-predictive",
    card=CARD,
    cited_from="not reached: only the abstract could be read (quoted); the tables of tau and Psi were not",
    source=SOURCE,
    statement=("Over a sweep of networks, the number of parameters (the VC-style measure) has a Kendall's tau with "
               "the generalization gap near zero or negative: at most 0.1."),
    settings={"quick": QUICK, "full": FULL},
    # 0.1: under no association, Kendall's tau over n = 32 networks has standard deviation
    # sqrt(2 (2n + 5) / (9 n (n - 1))) = 0.12 (ties, many here, only shrink it), so a tau of at
    # most 0.1 is within one standard deviation of zero: "near zero" at this size.
    tolerances={"max_tau": 0.1},
    measure=_measure_study,
    holds=lambda m, tol: m["tau_params"] is not None and m["tau_params"] <= tol["max_tau"],
    cited=CITED,
))
