"""The quantities computed on a trained network, in one registry: bounds and measures alike.

A quantity is a function of a `genproof.network.Network` (and a confidence delta and a seed) to
rows (`Bound`). It declares, as data, the kinds of row it gives (`KINDS`), what it needs beyond the
weights and the training data (`genproof.network.NEEDS`), which networks its theorems cover
(`covers(net)`: None, or the reason), its cost (`COSTS`), whether it uses delta, its source and its
role: `bound`, a family of rows of the bounds table, or `measure`, one number of the measure study
(oriented so that larger predicts a larger gap). `genproof.catalog.evaluate(net, names)` gives
every row or a row that says why there is none (`not-applicable`): a missing need, a network the
theorem does not cover, or a value that is undefined on this network; it never raises for those.

Adding a quantity: a function decorated with `@bound_family(...)` (rows) or `@measure(...)` (one
number) in a module named after its concept, imported by `genproof.catalog`.
`genproof.catalog.describe(name)` is its card.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Iterator

from empirical.records import to_jsonable
from empirical.registry import Registry

from .kinds import KINDS, UPPER_BOUNDS, vacuity  # noqa: F401  (the vocabulary, re-exported)
from .network import NEEDS, Network
from .report import markdown_table

COSTS = {
    "architecture": "read off the architecture and the measured errors: no pass over the data",
    "weights": "the trained and initial weights: no data",
    "pass": "a pass over the training data (margins or per-example gradients) and small matrix norms",
    "monte-carlo": "a search over the noise scale: `samples` perturbed passes over the training data per step",
    "ascent": "a search over the box size: `steps` gradient-ascent passes over the training data per step",
    "hessian": "Hessian-vector products over the training data, each about two passes over it; tens to hundreds of them",
    "optimization": "thousands of optimizer steps (a posterior) and a thousand sampled networks",
    "training": "trains networks of the architecture again (needs a recipe); costs about as much as training",
}
ROLES = ("bound", "measure")


class Undefined(ValueError):
    """The quantity has no value for this network (it says why)."""


@dataclass(frozen=True)
class Bound:
    """One row: its `kind` (a key of `KINDS`: what the value is, and of what), the `value`, its
    `source` (paper, theorem or equation) and the numbers it was computed from. `delta`: the row
    holds with probability >= 1 - delta (None for kinds without a confidence). `train_error` and
    `test_error`: the measured errors of what the row bounds when that is not the network itself (a
    stochastic network Q's sampled errors); None: the network's."""

    name: str
    source: str
    value: float | None
    kind: str
    detail: dict = field(default_factory=dict)
    delta: float | None = None
    train_error: float | None = None
    test_error: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"bound kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind in ("network", "stochastic", "compressed") and self.delta is None:
            raise ValueError(f"a {self.kind} bound holds with probability 1 - delta: give its delta ({self.name})")


@dataclass(frozen=True)
class Quantity:
    """A registered quantity (module docstring). `compute(net, delta, seed) -> list[Bound]`;
    `value(net, seed) -> float` for a measure (its one number); `cost`: a key of `COSTS`, with
    `cost_detail` saying what exactly it runs; `default`: evaluated unless asked otherwise (by the
    bounds table for a bound, by a study for a measure)."""

    compute: Callable[[Network, float, int], list[Bound]]
    role: str
    kinds: tuple[str, ...]
    source: str
    cost: str
    cost_detail: str = ""
    needs: tuple[str, ...] = ()
    covers: Callable[[Network], str | None] | None = None
    uses_delta: bool = True
    default: bool = True
    value: Callable[[Network, int], float] | None = None
    limitations: str = ""
    card: str = ""  # the source's card: where genproof differs from the authors (a path in the repository)

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.cost not in COSTS:
            raise ValueError(f"cost must be one of {', '.join(COSTS)}, got {self.cost!r}")
        for kind in self.kinds:
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        for need in self.needs:
            if need not in NEEDS:
                raise ValueError(f"need must be one of {', '.join(NEEDS)}, got {need!r}")

    def reason(self, net: Network) -> str | None:
        """Why there is no row of this quantity for `net` (a missing need first, then what its
        theorems cover), or None."""
        missing = [n for n in self.needs if not net.has(n)]
        if missing:
            return "needs " + "; and ".join(NEEDS[n] for n in missing)
        return None if self.covers is None else self.covers(net)


class View:
    """The entries of a `Registry` whose quantity has a given role, with the registry's reading
    methods (`names`, `check`, `get`, `entry`, `describe`, iteration)."""

    def __init__(self, registry: Registry, role: str, kind: str):
        self.registry, self.role, self.kind = registry, role, kind

    def _entries(self) -> list:
        return [e for e in self.registry if e.factory.role == self.role]

    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self._entries())

    def check(self, name: str) -> str:
        if name not in self.names():
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            guess = f" did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r};{guess} known: {', '.join(self.names())}")
        return name

    def get(self, name: str) -> Quantity:
        return self.registry.get(self.check(name))

    def entry(self, name: str):
        return self.registry.entry(self.check(name))

    def describe(self) -> str:
        width = max((len(e.name) for e in self._entries()), default=0)
        return "\n".join(f"  {e.name:<{width}}  {e.description}" for e in self._entries())

    def __iter__(self) -> Iterator:
        return iter(self._entries())

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __len__(self) -> int:
        return len(self._entries())


QUANTITIES = Registry("quantity")
BOUND_FAMILIES = View(QUANTITIES, "bound", "bound family")
MEASURES = View(QUANTITIES, "measure", "measure")


def bound_family(name: str, description: str, not_applicable: Callable[[Network], str | None] | None = None, *,
                 kinds: tuple[str, ...], source: str, uses_delta: bool = True, cost: str = "pass",
                 cost_detail: str = "", default: bool = True, needs: tuple[str, ...] = (), limitations: str = "",
                 card: str = ""):
    """Decorator over a module's `bound_rows(net, delta) -> list[Bound]`: registers it as a quantity
    of role `bound` and returns it unchanged."""

    def register(rows: Callable[[Network, float], list[Bound]]):
        QUANTITIES.add(name, Quantity(lambda net, delta, seed: rows(net, delta), "bound", kinds, source, cost,
                                      cost_detail, needs, not_applicable, uses_delta, default,
                                      limitations=limitations, card=card), description)
        return rows

    return register


def measure(name: str, description: str, source: str, cost: str, default: bool = True, needs: tuple[str, ...] = (),
            covers: Callable[[Network], str | None] | None = None, limitations: str = "", card: str = ""):
    """Decorator over `fn(net, seed) -> float`, larger meaning a larger predicted gap (raise
    `Undefined` where it has no value): registers it as a quantity of role `measure`, whose one row
    is of kind `measure`, and returns it unchanged."""

    def register(fn: Callable[[Network, int], float]):
        def compute(net: Network, delta: float, seed: int) -> list[Bound]:
            return [Bound(f"{name}: {description}", source, float(fn(net, seed)), "measure")]

        QUANTITIES.add(name, Quantity(compute, "measure", ("measure",), source, cost, needs=needs, covers=covers,
                                      uses_delta=False, default=default, value=fn, limitations=limitations,
                                      card=card),
                       description)
        return fn

    return register


def measured(net: Network) -> dict:
    """The measured numbers every table shows beside its rows: errors, gap, sizes, training."""
    s = net.summary
    gap = None if s["test_error"] is None else s["test_error"] - s["train_error"]
    return {"train_error": s["train_error"], "test_error": s["test_error"], "gap": gap, "n_params": s["n_params"], "n_train": s["n_train"],
            "n_test": s["n_test"], "num_classes": s["num_classes"], "uniform_guess_error": 1 - 1 / s["num_classes"],
            "params_per_example": s["n_params"] / s["n_train"], "steps": s["steps"], "epochs": s["epochs"],
            "fitted": s["fitted"], "train_wall_s": s["wall_s"], "trained_by": net.trained_by}


def table_row(family: str, bound: Bound, net_train_error: float, net_test_error: float | None,
              num_classes: int) -> dict:
    """One row of a table from a `Bound`: the columns follow from its kind. For an upper bound, the
    errors of what it bounds (the network's, or Q's sampled ones for a stochastic network), the
    measured gap between them, the gap the bound implies (value - train error), their ratio and the
    vacuity; for a lower estimate, only the vacuity it can show; for a measure, its value alone."""
    if bound.kind == "not-applicable":
        return reason_row(family, bound.name, bound.source, bound.detail["reason"])
    train_error = net_train_error if bound.train_error is None else bound.train_error
    test_error = net_test_error if bound.test_error is None else bound.test_error
    measured_gap = None if test_error is None else test_error - train_error
    upper = bound.kind in UPPER_BOUNDS
    implied = bound.value - train_error if upper else None
    ratio = implied / measured_gap if upper and measured_gap is not None and measured_gap > 0 else None
    return {"family": family, "name": bound.name, "kind": bound.kind, "source": bound.source, "value": bound.value,
            "delta": bound.delta, "train_error": train_error, "test_error": test_error, "measured_gap": measured_gap,
            "implied_gap": implied, "ratio_to_gap": ratio, "vacuity": vacuity(bound.kind, bound.value, num_classes),
            "detail": bound.detail}


def reason_row(family: str, name: str, source: str, reason: str) -> dict:
    """A row of kind `not-applicable`: no value, and why."""
    return {"family": family, "name": name, "kind": "not-applicable", "source": source, "value": None,
            "delta": None, "vacuity": "n/a", "detail": {"reason": reason}}


@dataclass(frozen=True)
class Table:
    """The rows of `evaluate` with the network's measured numbers: `markdown()`, `to_json()`,
    `to_pandas()` (when pandas is installed), `figure()`; iterating gives the rows (dicts)."""

    rows: list[dict]
    measured: dict
    delta: float
    delta_per_quantity: float
    simultaneous: bool
    quantities_using_delta: int
    seconds: dict

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def value(self, quantity: str) -> float | None:
        """The value of `quantity`'s first row (None when it has no value: see its reason)."""
        for row in self.rows:
            if row["family"] == quantity:
                return row["value"]
        raise KeyError(f"no row of {quantity!r}; rows of: {', '.join(dict.fromkeys(r['family'] for r in self.rows))}")

    def to_json(self) -> dict:
        return to_jsonable({"measured": self.measured, "delta": self.delta, "simultaneous": self.simultaneous,
                            "delta_per_family": self.delta_per_quantity,
                            "families_using_delta": self.quantities_using_delta, "bounds": self.rows,
                            "family_seconds": self.seconds})

    def to_pandas(self):
        """A pandas DataFrame of the rows (pandas is not a dependency: install it to use this)."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("Table.to_pandas needs pandas: pip install pandas (or use to_json / markdown)") from err
        return pd.DataFrame([{k: v for k, v in r.items() if k != "detail"} | {"reason": r["detail"].get("reason")}
                             for r in self.rows])

    def markdown(self) -> str:
        """One line per row: quantity, row, kind, value, confidence, vacuity, and the reason for a
        row without a value."""
        lines = []
        for r in self.rows:
            holds = "in expectation" if r["kind"] == "expectation" else (
                f"1 - {r['delta']:.3g}" if r["delta"] is not None else "n/a")
            lines.append([r["family"], r["name"], r["kind"], "n/a" if r["value"] is None else r["value"], holds,
                          r["vacuity"], r["detail"].get("reason", "") if r["value"] is None else r["source"]])
        m = self.measured
        head = (f"train error {m['train_error']:.4g}, test error "
                f"{'n/a (no test set)' if m['test_error'] is None else format(m['test_error'], '.4g')}, "
                f"{m['n_params']:,} parameters, {m['n_train']:,} training examples\n\n")
        return head + markdown_table(["quantity", "row", "kind", "value", "holds w.p.", "vacuity", "source or reason"],
                                     lines)

    def figure(self, model: str = "your network", dataset: str = "your data"):
        """The measured errors, every certificate and every lower estimate of a bound on one log axis
        (the bounds table's figure)."""
        from .bounds_figure import figure

        return figure({"measured": self.measured, "bounds": self.rows, "model": model, "dataset": dataset})

    def __str__(self) -> str:
        return self.markdown()
