"""A tier's settings shrunk to tiny sizes, to rehearse its code paths on a CPU: `shrink(setting)`.

One generic function cuts any setting: it walks the frozen dataclasses recursively and replaces
fields by name (`SHRINK`), so that a setting registered later is covered without an edit here.
Fields of unknown names are kept, except that a tuple of more than two numbers (a sweep) is cut to
its first two. The networks (ResNet-18, the small Inception, the 1x600 MLP) are kept: their code
paths are what is rehearsed. A verdict on a shrunk setting is not a verdict on the claim: the
rehearsal shows only that the path runs (`python -m genproof.claims --rehearse`,
tests/test_full_tier.py, scripts/gpu.sh --tiny).
"""

from __future__ import annotations

import dataclasses
import numbers

N_TRAIN, N_TEST, N_POINTS = 32, 20, 40  # examples per split; points of a linear problem or point set
STEPS = 3  # optimizer steps of every training run, SSL and posterior optimization included
BATCH = 16  # at most N_TRAIN: an epoch has several batches and a contrastive batch fits the data
# An MLP run that stops at fit keeps up to this many steps: the measures of a trained network
# (margins, norms, PAC-Bayes) need one that fits its training set, and an MLP fits 32 examples,
# random labels included, in a few hundred steps of a few milliseconds.
MLP_FIT_STEPS = 2_000


def _cap(limit, none=None):
    """At most `limit`; None stays None, unless it means "all" (`none=limit`)."""
    return lambda v: none if v is None else min(v, limit)


def _first(k):
    return lambda v: v if v is None else tuple(v)[:k]


# field name -> its tiny value, wherever the field appears
SHRINK = {
    "n_train": _cap(N_TRAIN, none=N_TRAIN), "n_test": _cap(N_TEST, none=N_TEST), "n": _cap(N_POINTS),
    "max_steps": _cap(STEPS), "steps": _cap(STEPS), "epochs": _cap(1), "record_every": _cap(1),
    "eval_every": _cap(STEPS),
    "eval_at": lambda v: v if v is None else tuple(t for t in v if t <= STEPS) or (1,),
    "batch_size": _cap(BATCH),
    "seeds": _first(1), "indices": _first(1),  # index 0 exists in every training set
    "sweep": _first(2), "dims": _first(2), "ridges": _first(2),
    # Monte Carlo and solver counts
    "n_sigma": _cap(2), "n_sigma_convex": _cap(2), "m": _cap(4), "max_iter": _cap(10), "exact_rows": _cap(3),
    "sets": _cap(2), "max_labelings": _cap(16),
}


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _shrink_fields(items: dict) -> dict:
    """Fields (or keys) to their tiny values: by `SHRINK` where named, else recursively."""
    return {k: SHRINK[k](v) if k in SHRINK else shrink(v) for k, v in items.items()}


def shrink(value):
    """`value` with every dataclass and dict in it (recursively, through tuples) cut to tiny sizes:
    fields and string keys named in `SHRINK` take its values; an MLP run that stops at fit keeps up
    to `MLP_FIT_STEPS` steps (`_mlp_fits`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        changes = {k: v for k, v in _shrink_fields(fields).items() if v is not fields[k]}
        return _mlp_fits(dataclasses.replace(value, **changes) if changes else value, full=value)
    if isinstance(value, dict):
        return type(value)(_shrink_fields(value))
    if isinstance(value, tuple):
        if len(value) > 2 and all(_is_number(v) for v in value):  # an unnamed sweep
            return value[:2]
        items = tuple(shrink(v) for v in value)
        return items if any(a is not b for a, b in zip(items, value)) else value
    return value


def _mlp_fits(value, full):
    """A run (a dataclass with `model` and `train`) of an MLP that stops at fit gets up to
    `MLP_FIT_STEPS` of its full step budget."""
    model, train = getattr(value, "model", None), getattr(value, "train", None)
    if getattr(model, "name", None) != "mlp" or not getattr(train, "stop_at_fit", False):
        return value
    steps = min(full.train.max_steps, MLP_FIT_STEPS)
    return dataclasses.replace(value, train=dataclasses.replace(train, max_steps=steps))
