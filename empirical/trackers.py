"""Results in the trackers researchers read: TensorBoard's event files and MLflow's local file store.

The records stay the source of truth. A tracker receives a copy of a finished record (or of the
claims ledger), written after the record is whole; a failure to log, the tracker's package missing
included, is a warning (`TrackerWarning`) naming the tracker, the record and the folder, never an
error that loses a run. Nothing goes online: TensorBoard writes event files under `to`, MLflow its
file store at `to` (a `file:` tracking URI, which MLflow 3 accepts only with
`MLFLOW_ALLOW_FILE_STORE=true`: set during genproof's calls, and needed to read it,
`MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri DIR`).

What a tracker run holds (`Entry`, from `from_record` or `from_json`):
- `series`: the rows of a run's `metrics.jsonl`, each numeric field a scalar at the row's `step`
  (its metrics along training);
- `scalars`: every finite number of `summary.json` (or of the ledger), its key the path of names
  to it joined by "/" (`bounds/0/value`, `zhang2017.random-labels/measured/train_error`), booleans
  as 0 and 1, at step 0; a NaN or an infinity is left out (the record has it);
- `params`: the config's fields (`config/...`, as JSON where not strings) and the summary's
  strings, keyed the same way (MLflow params; in TensorBoard one text, `params`, a line per key);
- `texts`: the record's markdown (`bounds.md`, `claims.md`), as MLflow text artifacts and
  TensorBoard texts.

One tracker run per record, named after it: logging a record again (after `--force`, say) replaces
its earlier copy (TensorBoard: the run's event files; MLflow: the run of that name, deleted).

Install with `pip install genproof[tensorboard]` or `genproof[mlflow]`; the command-line tools take
`--log tensorboard|mlflow` and `--log-dir DIR` (default: `tensorboard/` or `mlruns/` under the
record root); the API is `log(entry, tracker, to)`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from empirical.records import Record

TRACKERS = ("tensorboard", "mlflow")
EXPERIMENT = "genproof"  # the MLflow experiment every run is logged under
ALLOW = "MLFLOW_ALLOW_FILE_STORE"
PARAM_CHARS = 6000  # MLflow's longest param value; a longer one is cut and ends with "..."


class TrackerWarning(UserWarning):
    """A record could not be copied to a tracker; the record itself is whole."""


@dataclass(frozen=True)
class Entry:
    """One tracker run: its name and what it holds (see the module docstring)."""

    name: str
    series: list[dict] = field(default_factory=list)
    scalars: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def leaves(data, prefix: str = "") -> dict[str, object]:
    """The leaves of nested dicts and lists, keyed by the path of names joined by "/"."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else None
    if items is None:
        return {prefix: data}
    out = {}
    for k, v in items:
        out.update(leaves(v, f"{prefix}/{k}" if prefix else str(k)))
    return out


def flatten(data) -> tuple[dict[str, float], dict[str, str]]:
    """(finite numbers, booleans as 0 and 1; strings) among the leaves of `data`."""
    numbers = {k: float(v) for k, v in leaves(data).items()
               if isinstance(v, (bool, int, float)) and math.isfinite(v)}
    return numbers, {k: v for k, v in leaves(data).items() if isinstance(v, str)}


def from_record(record: Record) -> Entry:
    """A finished record as a tracker run, named after its folder (`fit-<hash>`)."""
    scalars, strings = flatten(record.summary)
    config = {f"config/{k}": v if isinstance(v, str) else json.dumps(v) for k, v in leaves(record.config).items()}
    texts = {p.name: p.read_text() for p in sorted(record.path.glob("*.md"))}
    return Entry(record.path.name, record.metrics(), scalars, {**config, **strings}, texts)


def from_json(name: str, data: dict, texts: dict[str, str] | None = None) -> Entry:
    """A JSON document that is not a run (the claims ledger) as a tracker run."""
    scalars, strings = flatten(data)
    return Entry(name, [], scalars, strings, dict(texts or {}))


def log(entry: Entry, tracker: str, to: str | Path) -> str | None:
    """Copy `entry` to `tracker` ("tensorboard" or "mlflow") under the folder `to`; where it went (an
    event-file folder, an MLflow run id), or None after a `TrackerWarning` when that failed."""
    if tracker not in TRACKERS:
        raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}, got {tracker!r}")
    try:
        return (_tensorboard if tracker == "tensorboard" else _mlflow)(entry, Path(to))
    except Exception as err:  # any failure of the tracker: the record is already whole
        extra = "tensorboard" if tracker == "tensorboard" else "mlflow"
        hint = f"; install it with pip install genproof[{extra}]" if isinstance(err, ImportError) else ""
        warnings.warn(f"{entry.name} was not logged to {tracker} at {to} ({type(err).__name__}: {err}){hint}; "
                      f"the record is unaffected", TrackerWarning, stacklevel=2)
        return None


def _steps(series: list[dict]):
    """(step, {metric: value}) per row: its `step` field, else its position."""
    for i, row in enumerate(series):
        step = int(row.get("step", i))
        yield step, flatten({k: v for k, v in row.items() if k != "step"})[0]


def _tensorboard(entry: Entry, to: Path) -> str:
    from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

    folder = to / entry.name
    for old in folder.glob("events.out.tfevents.*"):  # an earlier copy of this record: replaced, not doubled
        old.unlink()
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for step, numbers in _steps(entry.series):
            for k, v in numbers.items():
                writer.add_scalar(k, v, step)
        for k, v in entry.scalars.items():
            writer.add_scalar(f"summary/{k}", v, 0)
        if entry.params:
            writer.add_text("params", "\n".join(f"    {k} = {v}" for k, v in entry.params.items()), 0)
        for k, v in entry.texts.items():
            writer.add_text(k, v, 0)
    finally:
        writer.close()
    return str(folder)


def mlflow_key(key: str) -> str:
    """A key MLflow accepts: letters, digits and `_-. /:` (others become "_"), at most 250 characters."""
    return re.sub(r"[^\w\-. /:]", "_", key)[:250]


@contextlib.contextmanager
def file_store():
    """MLflow 3 keeps its file store "in maintenance mode" and refuses it unless
    `MLFLOW_ALLOW_FILE_STORE` is true (its documented opt-out): set for the calls inside, then restored."""
    before = os.environ.get(ALLOW)
    os.environ[ALLOW] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ[ALLOW]
        else:
            os.environ[ALLOW] = before


def _mlflow(entry: Entry, to: Path) -> str:
    with file_store():
        return _mlflow_run(entry, to)


def _mlflow_run(entry: Entry, to: Path) -> str:
    import time

    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=to.resolve().as_uri())
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    for old in client.search_runs([experiment_id], filter_string=f"attributes.run_name = '{entry.name}'"):
        client.delete_run(old.info.run_id)  # an earlier copy of this record: replaced, not doubled
    run = client.create_run(experiment_id, run_name=entry.name)
    now = int(time.time() * 1000)
    metrics = [Metric(mlflow_key(k), v, now, step) for step, numbers in _steps(entry.series) for k, v in numbers.items()]
    metrics += [Metric(mlflow_key(f"summary/{k}"), v, now, 0) for k, v in entry.scalars.items()]
    params = [Param(mlflow_key(k), v if len(v) <= PARAM_CHARS else v[:PARAM_CHARS - 3] + "...")
              for k, v in entry.params.items()]
    for i in range(0, len(metrics), 1000):  # MLflow's batch limits: 1000 metrics, 100 params
        client.log_batch(run.info.run_id, metrics=metrics[i:i + 1000])
    for i in range(0, len(params), 100):
        client.log_batch(run.info.run_id, params=params[i:i + 100])
    for k, v in entry.texts.items():
        client.log_text(run.info.run_id, v, k)
    client.set_terminated(run.info.run_id)
    return run.info.run_id
