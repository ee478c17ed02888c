"""Every registered quantity, in the bounds table's order, and evaluating them on a network: this
module imports each module that registers quantities (`genproof.quantities`), so it sits above
them all; `select`, `evaluate` and `describe` live here for that reason."""

from __future__ import annotations

import time
from typing import Iterable

from empirical.progress import progress

# importing a quantity's module registers it
from . import compression, curvature, measures, norms, pac_bayes, rademacher, stability, vc  # noqa: F401  isort: skip
from .network import NEEDS, Network
from .quantities import COSTS, KINDS, QUANTITIES, Table, Undefined, measured, reason_row, table_row

TABLE_ORDER = ("vc", "rademacher", "norms", "pac-bayes", "pbb", "stability", "compression")


def ordered() -> list:
    """The `QUANTITIES` entries: the bound families in `TABLE_ORDER`, then those it does not name and
    the measures, in the order they registered."""
    return sorted(QUANTITIES, key=lambda e: TABLE_ORDER.index(e.name) if e.name in TABLE_ORDER else len(TABLE_ORDER))


def measure_defaults() -> tuple[str, ...]:
    """The names of the measures a study evaluates by default, in registry order."""
    return tuple(e.name for e in QUANTITIES if e.factory.role == "measure" and e.factory.default)


def select(names: str | Iterable[str] | None, role: str = "bound") -> list:
    """The registry entries `names` asks for, in registry order within the bounds table's order:
    None the defaults of `role`, "all" every quantity, else the names (each checked)."""
    if names is None:
        return [e for e in ordered() if e.factory.role == role and e.factory.default]
    if names == "all":
        return ordered()
    wanted = [names] if isinstance(names, str) else list(names)
    for name in wanted:
        QUANTITIES.check(name)
    return [e for e in ordered() if e.name in wanted]


def evaluate(net: Network, names: str | Iterable[str] | None = None, delta: float = 0.05, seed: int = 0,
             simultaneous: bool = False) -> "Table":
    """The rows of the quantities `names` (`select`) on `net`: each quantity's rows, or one row of
    kind `not-applicable` saying why (a missing need, a network its theorems do not cover, a value
    undefined here). Each row holds at `delta`, or with `simultaneous` at delta / m, m the number of
    applicable quantities that use a confidence (a union bound)."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    entries = select(names)
    reasons = [(e, e.factory.reason(net)) for e in entries]
    m = sum(1 for e, reason in reasons if not reason and e.factory.uses_delta)
    each = delta / m if simultaneous and m else delta
    rows, seconds = [], {}
    net.memo = {}
    try:
        _rows(net, reasons, each, seed, rows, seconds)
    finally:
        net.memo = None
    return Table(rows, measured(net), delta, each, simultaneous, m, seconds)


def _rows(net: Network, reasons: list, delta: float, seed: int, rows: list, seconds: dict) -> None:
    s = net.summary
    for entry, reason in progress(reasons, "quantities", "quantity"):
        start = time.perf_counter()
        q = entry.factory
        try:
            if reason:
                raise Undefined(reason)
            bounds = q.compute(net, delta, seed)
        except (Undefined, NotImplementedError) as err:
            rows.append(reason_row(entry.name, entry.name, q.source, str(err)))
        else:
            for b in bounds:
                if b.kind not in q.kinds + ("not-applicable",):
                    raise RuntimeError(f"quantity {entry.name!r} gave a row of kind {b.kind!r}, not one of {q.kinds}")
                rows.append(table_row(entry.name, b, s["train_error"], s["test_error"], s["num_classes"]))
        seconds[entry.name] = time.perf_counter() - start


def describe(name: str) -> str:
    """The card of quantity `name`: what it gives, what it needs, its cost, its source, what it
    covers and its limitations."""
    entry = QUANTITIES.entry(name)
    q = entry.factory
    covers = (q.covers.__doc__ or "").strip() if q.covers else "every network"
    lines = [f"# {name} ({q.role})", "", entry.description, "",
             f"- gives: {', '.join(f'{k} ({KINDS[k]})' for k in q.kinds)}",
             "- needs: the trained weights and the training data" + "".join(f"; {NEEDS[n]}" for n in q.needs),
             f"- cost: {q.cost}: {COSTS[q.cost]}" + (f" ({q.cost_detail})" if q.cost_detail else ""),
             f"- confidence: {'holds with probability 1 - delta' if q.uses_delta else 'no delta'}",
             f"- default: {'yes' if q.default else 'no (opt-in)'}",
             f"- source: {q.source}",
             f"- covers: {' '.join(covers.split())}"]
    if q.limitations:
        lines.append(f"- limitations: {q.limitations}")
    if q.card:
        lines.append(f"- where genproof differs from the authors: {q.card}")
    return "\n".join(lines) + "\n"
