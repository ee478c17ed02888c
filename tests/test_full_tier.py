"""Every claim's `full` setting, shrunk to a few hundred examples and a few steps, runs end to end
on the CPU: no full-tier path may crash for a reason other than scale. The verdict is
not judged at this size; the test asserts that `measure` returns a dict of numbers.

One generic function, `empirical.rehearsal.shrink`, cuts any setting (fields replaced by name,
so that a claim registered later is covered without an edit here).

File-backed data: Fashion-MNIST from the usual search order (Debian's package), the CIFAR-10
subset from `shared/data/cifar10-subset` beside the repository (CI's `../shared`), handed to the
loader through $GENPROOF_DATA; a claim whose setting names a data set that is not there skips,
saying which and where it was looked for (nothing is downloaded).
"""

from __future__ import annotations

import dataclasses
import numbers
from pathlib import Path

import pytest

from empirical import data as datasets
from empirical.data.files import ENV_VAR
from empirical.rehearsal import BATCH, MLP_FIT_STEPS, N_TEST, N_TRAIN, STEPS, shrink
from genproof.claims import all_claims

REPO = Path(__file__).resolve().parents[1]
CIFAR10_SUBSET = REPO.parent / "shared" / "data" / "cifar10-subset"
FILE_BACKED = ("cifar10", "fashion-mnist")


def names_in(value) -> set[str]:
    """Every string in `value`, through dataclasses, dicts and tuples (to find the data sets a
    setting uses)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return set().union(*(names_in(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, dict):
        return names_in(tuple(value.values()))
    if isinstance(value, (tuple, list)):
        return set().union(*(names_in(v) for v in value))
    return {value} if isinstance(value, str) else set()


def numeric(value) -> bool:
    """A measured value: a number, a bool, None (a count that has no value at this size, such as
    steps to fit when the run did not fit), a string label, or a list or dict of those."""
    if isinstance(value, (list, tuple)):
        return all(numeric(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and numeric(v) for k, v in value.items())
    return value is None or isinstance(value, (numbers.Real, str))


def test_shrink_cuts_sizes_and_keeps_what_is_not_a_size():
    from empirical.fit import DataConfig, FitConfig
    from empirical.models import ModelConfig
    from empirical.train import TrainConfig

    full = FitConfig(DataConfig("cifar10"), ModelConfig("resnet18"),
                     TrainConfig(lr=0.1, batch_size=512, max_steps=10_000, eval_at=(1, 2, 10, 100)), seed=3)
    tiny = shrink(full)
    assert (tiny.data.n_train, tiny.data.n_test) == (N_TRAIN, N_TEST)
    assert (tiny.train.max_steps, tiny.train.batch_size, tiny.train.eval_at) == (STEPS, BATCH, (1, 2))
    assert (tiny.model, tiny.train.lr, tiny.seed, tiny.data.name) == (full.model, 0.1, 3, "cifar10")
    assert shrink((0.1, 0.2, 0.4, 0.8)) == (0.1, 0.2) and shrink(("a", "b", "c")) == ("a", "b", "c")
    assert shrink({"train": full.train, "seeds": (0, 1, 2)}) == {"train": tiny.train, "seeds": (0,)}
    mlp = dataclasses.replace(full, model=ModelConfig("mlp"))  # stops at fit: keeps steps to fit
    assert shrink(mlp).train.max_steps == MLP_FIT_STEPS and shrink(mlp).train.batch_size == BATCH
    assert names_in(full) >= {"cifar10", "resnet18", "sgd"}


def _missing_data(setting) -> str | None:
    """Why a file-backed data set the setting names cannot be loaded here, or None."""
    for name in sorted(names_in(setting) & set(FILE_BACKED)):
        try:
            datasets.load(name, n_train=1, n_test=1, download=False)
        except datasets.DataNotFoundError as err:
            return f"{name} is not installed here ({err})"
    return None


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """One record root for the module: the claims that share a full-tier run share its tiny run."""
    return tmp_path_factory.mktemp("full-tier-tiny")


@pytest.mark.claims
@pytest.mark.parametrize("claim", [pytest.param(c, id=c.id) for c in all_claims()])
def test_full_setting_runs_at_tiny_size(claim, tiny_root, monkeypatch):
    if CIFAR10_SUBSET.is_dir():
        monkeypatch.setenv(ENV_VAR, str(CIFAR10_SUBSET))
    setting = shrink(claim.settings["full"])
    missing = _missing_data(setting)
    if missing:
        pytest.skip(f"{missing}; the CIFAR-10 subset is looked for in {CIFAR10_SUBSET}")
    try:
        measured = claim.measure(setting, tiny_root)
    except datasets.DataNotFoundError as err:  # a data set of a claim added later, not installed here
        pytest.skip(f"data not installed: {err}")
    assert isinstance(measured, dict) and measured, f"{claim.id}: measure returned {measured!r}"
    bad = {k: v for k, v in measured.items() if not numeric(v)}
    assert not bad, f"{claim.id}: not numbers: {bad}"
