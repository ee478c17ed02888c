"""The claim registry (docs/design.md, genproof/claims/).

A claim is data plus two small functions:
- `id` (`source.slug`), `source` (work, section, table or figure), `statement` (one sentence);
- `settings`: one setting per tier (`quick`: CPU, small data, runs in CI; `full`: the published
  setting as closely as the hardware allows). The tier changes sizes, never the check;
- `tolerances`: named numbers the verdict is taken against, each explained in the claim's module;
- `measure(setting, root) -> dict`: runs (or reads from the cache under `root`) the experiment in
  `empirical/` and returns the measured numbers;
- `holds(measured, tolerances) -> bool`: the verdict, a short function of measured numbers;
- `cited`: numbers the paper reports, shown beside ours in the ledger, never used by the verdict;
- `cited_from`: where `cited` was read, opening with one of `CITED_FROM` ("read from the paper",
  "read from the authors' code", ...), or why there is no number: "a theorem: no number", "not
  reported" (the source has none) or "not reached" (it may have some; we could not read them);
- `card`: the source's card (`docs/sources/<source>.md`): where the checks differ from the source
  and what could not be verified there;
- `known_failures`: tier -> why the claim does not hold there. Such a claim is still run and
  reported as not holding; pytest marks it as an expected failure (strict, so a claim that starts
  holding is noticed);
- `on_recipe(setting, fit) -> setting`: for a claim about a network trained by a recipe, its
  setting with the network, training and data replaced by `fit` (an `empirical.fit.FitConfig`),
  so that `check(id, recipe=..., data=...)` judges the claim on a user's own recipe and data;
  `own_training`: whether that recipe may train with its user's own function (the claim reads
  only the trained networks, not the loop's step counts or probes).

Claims are named after their source: one module per work (`bansal2021`, `hardt2016`, ...), or a
package of modules for a work with many claims (`zhang2017`); `presets` names the networks that
claims of several modules train. A claim module reads the records of experiments in `empirical/`
and judges them; the measures and bounds it applies are in `genproof/`. Every module registers its
claims on import in `REGISTRY` (an `empirical.registry.Registry`); `all_claims()` imports them all,
the modules of subpackages included.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from threadpoolctl import threadpool_limits

from empirical.registry import Registry
from empirical.tiers import TIERS

from ..report import Verdict, fmt  # noqa: F401  (re-exported: claims modules import them from here)

CITED_FROM = ("read from the paper", "read from the authors' code")  # where cited numbers come from
NO_NUMBERS = ("a theorem: no number", "not reported", "not reached")  # why a claim cites none


@dataclass(frozen=True, eq=False)
class Claim:
    id: str
    source: str
    statement: str
    settings: Mapping[str, Any]
    tolerances: Mapping[str, float]
    measure: Callable[[Any, Path], dict]
    holds: Callable[[dict, Mapping[str, float]], bool]
    cited: Mapping[str, Any] = field(default_factory=dict)
    cited_from: str = ""
    known_failures: Mapping[str, str] = field(default_factory=dict)
    on_recipe: Callable[[Any, Any], Any] | None = None
    card: str = ""
    own_training: bool = False

    def __post_init__(self):
        work, _, slug = self.id.partition(".")
        if not work or not slug:
            raise ValueError(f"claim id must read 'source.slug', got {self.id!r}")
        missing = [t for t in TIERS if t not in self.settings]
        if missing:
            raise ValueError(f"claim {self.id} has no setting for tier(s) {missing}")
        if self.cited_from and not self.cited_from.startswith(CITED_FROM + NO_NUMBERS):
            raise ValueError(f"claim {self.id}: cited_from must open with one of {CITED_FROM + NO_NUMBERS}, "
                             f"got {self.cited_from!r}")
        if self.cited_from.startswith(CITED_FROM) and not self.cited:
            raise ValueError(f"claim {self.id}: cited_from says numbers were read ({self.cited_from!r}) but cites none")

    def check(self, tier: str = "quick", root: str | Path | None = None) -> Verdict:
        """Measure at `tier` (runs cached under `root`, default `empirical.records.default_root()`)
        and judge against the tolerances."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
        return self.judge(self.settings[tier], tier, root, tier not in self.known_failures)

    def judge(self, setting: Any, tier: str, root: str | Path | None, expected_to_hold: bool = True) -> Verdict:
        """Measure `setting` and judge it against the tolerances."""
        from empirical.records import default_root, reading, versions

        root = Path(root) if root else default_root()
        start = time.perf_counter()
        with reading() as read:
            measured = self.measure(setting, root)
        return Verdict(
            claim=self.id, tier=tier, holds=bool(self.holds(measured, self.tolerances)), measured=measured,
            tolerances=dict(self.tolerances), setting=setting, statement=self.statement,
            source=self.source, cited=dict(self.cited), cited_from=self.cited_from, expected_to_hold=expected_to_hold,
            wall_s=time.perf_counter() - start, records=tuple(_under(p, root) for p in read), code=versions(),
        )


def _under(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:  # a run read from another root
        return str(path)


REGISTRY = Registry("claim")


def register(claim: Claim) -> Claim:
    """Add `claim` to the registry under its id, described by its statement (or, without one, its
    source); ids are unique."""
    REGISTRY.add(claim.id, claim, claim.statement or claim.source)
    return claim


def all_claims() -> list[Claim]:
    """Every registered claim, sorted by id (imports every module of this package and of its
    subpackages; names that start with "_" are skipped)."""
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        if not info.name.rpartition(".")[2].startswith("_"):
            importlib.import_module(info.name)
    return [REGISTRY.get(k) for k in sorted(REGISTRY.names())]


def check(claim_id: str, recipe, data=None, *, train=None, test=None, tier: str = "quick",
          root: str | Path | None = None) -> Verdict:
    """Check claim `claim_id` on your own recipe (`genproof.Recipe`) and data: `data=(train, test)`
    or `train=`, `test=`, each `(x, y)` (arrays or tensors, a torch Dataset or a DataLoader). The
    claim's setting at `tier` keeps its seeds, corruptions and counts and takes your architecture,
    training and data (`Claim.on_recipe`); the verdict is judged against the claim's own tolerances.
    Only claims about a network trained by a recipe can be checked so (`recipe_claims()`)."""
    from ..network import Recipe, dataset

    if data is not None:
        if train is not None or test is not None:
            raise ValueError("give data=(train, test) or train= and test=, not both")
        try:
            train, test = data
        except (TypeError, ValueError):
            raise ValueError("data must be a pair (train, test), each (x, y)") from None
    if train is None or test is None:
        raise ValueError("a claim about your recipe needs training and test data: data=(train, test)")
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a genproof.Recipe, got {type(recipe).__name__}")
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
    all_claims()
    claim = REGISTRY.get(claim_id)
    if claim.on_recipe is None:
        raise ValueError(f"{claim_id} is not a claim about a network trained by a recipe; these are: "
                         f"{', '.join(c.id for c in recipe_claims())}")
    if recipe.trainer is not None and not claim.own_training:
        raise ValueError(f"{claim_id} reads what genproof's loop records while it trains: check it with "
                         f"Recipe(factory, TrainConfig(...)); with your own trainer: "
                         f"{', '.join(c.id for c in recipe_claims() if c.own_training)}")
    fit = recipe.fit_config(dataset(train, test))
    return claim.judge(claim.on_recipe(claim.settings[tier], fit), tier, root)


def recipe_claims() -> list[Claim]:
    """The claims `check` takes a recipe and data for."""
    return [c for c in all_claims() if c.on_recipe is not None]


def select(patterns: list[str] | None = None) -> list[Claim]:
    """The claims whose id matches any of the shell-style `patterns` (all if none), in the order
    of the patterns (a claim comes with the first pattern it matches; by id within one), so that a
    run stopped midway has checked the claims named first; an unmatched pattern is an error that
    lists the ids."""
    from fnmatch import fnmatch

    claims = all_claims()
    if not patterns:
        return claims
    unmatched = [p for p in patterns if not any(fnmatch(c.id, p) for c in claims)]
    if unmatched:
        raise ValueError(f"no claim matches {unmatched}; claims: {', '.join(c.id for c in claims)}")
    chosen = {c.id: c for p in patterns for c in claims if fnmatch(c.id, p)}  # the first match keeps its place
    return list(chosen.values())


def one_blas_thread(measure):
    """Run `measure` with one BLAS thread. Speed: OpenBLAS's worker threads busy-wait, and on a
    shared 2-core machine one thread is faster (benchmarks/RESULTS.md). Safety: the threaded syrk
    and potrf of the OpenBLAS in the numpy 2.4 / scipy 1.17 wheels crash from about n = 17,000."""

    @functools.wraps(measure)
    def measure_on_one_thread(setting, root):
        with threadpool_limits(1, user_api="blas"):
            return measure(setting, root)

    return measure_on_one_thread
