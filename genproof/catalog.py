"""Every registered quantity, in the bounds table's order: importing this module imports each
module that registers quantities (`genproof.quantities`)."""

from __future__ import annotations

# importing a quantity's module registers it
from . import compression, measures, curvature, norms, pac_bayes, rademacher, stability, vc  # noqa: F401  isort: skip
from .quantities import QUANTITIES

TABLE_ORDER = ("vc", "rademacher", "norms", "pac-bayes", "pbb", "stability", "compression")


def ordered() -> list:
    """The `QUANTITIES` entries: the bound families in `TABLE_ORDER`, then those it does not name and
    the measures, in the order they registered."""
    return sorted(QUANTITIES, key=lambda e: TABLE_ORDER.index(e.name) if e.name in TABLE_ORDER else len(TABLE_ORDER))
