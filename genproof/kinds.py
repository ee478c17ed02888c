"""The kinds of row a quantity gives (what a number is, and of what), and what a row's value says
about vacuity: the vocabulary of the bounds table, below every module that computes or draws rows."""

from __future__ import annotations

KINDS = {
    "network": "upper bound on the trained network's test error, with probability >= 1 - delta over the sample",
    "stochastic": ("upper bound on the test error of a stochastic network Q (weights drawn from a posterior), "
                   "with probability >= 1 - delta over the sample"),
    "compressed": ("upper bound on the test error of a compressed network (the quantized subspace network the "
                   "family trains), with probability >= 1 - delta"),
    "expectation": "upper bound on the expected test error, over the sample and the algorithm's randomness",
    "lower-estimate": ("lower estimate of a bound's value: at or above 1 it shows the bound vacuous; below, it "
                       "certifies nothing"),
    "measure": "a measure without constants (the leading term of a bound, or a flatness): bounds nothing by itself",
    "not-applicable": "no value for this network: the row says why (a missing input, or what the theorem covers)",
}
UPPER_BOUNDS = ("network", "stochastic", "compressed", "expectation")  # kinds whose value is a certificate


def vacuity(kind: str, value: float | None, num_classes: int) -> str:
    """What a row's value says about vacuity. A certificate (`UPPER_BOUNDS`) is "vacuous" at or above
    1, "no better than a uniform guess" at or above the error of guessing uniformly among
    `num_classes` classes, 1 - 1/K (0.9 for ten), and "non-vacuous" below it. A lower estimate of a
    bound shows the bound vacuous (at or above 1) or no better than a guess, and is "undetermined"
    otherwise: the bound itself may be anywhere above it. Measures have no verdict."""
    if kind not in UPPER_BOUNDS + ("lower-estimate",) or value is None:
        return "n/a"
    guess = 1 - 1 / num_classes
    if value >= 1:
        return "vacuous"
    if value >= guess:
        return f"no better than a uniform guess ({guess:.3g})"
    return "non-vacuous" if kind in UPPER_BOUNDS else "undetermined (a lower estimate)"
