"""Sweeps: many `fit` runs over named hyperparameter axes, run serially or as Ray tasks.

A `SweepConfig` is a base `FitConfig` and axes (`AXES`: width, depth, dropout, lr, batch_size,
weight_decay, optimizer, n_train, label_noise, seed), each with its values; `points(config)` is
the grid over them in the axes' order (or `sample` of its points, drawn without replacement).
`run(config, root)` fits every point: each point is an ordinary cached `fit` run, so a rerun
skips what is recorded and a sweep resumes after a crash or a kill (a run is renamed into place
only when whole, `empirical.records.cached_run`).

`execute(task, items, root, executor=...)` is the engine underneath, for any module-level
`task(item, root) -> Record` (the study's measures run through it too):
- `executor="serial"` (the default, no extra dependency) runs the items one after the other;
- `executor="ray"` (`pip install "genproof[ray]"`) runs one Ray task per item, joining the
  cluster at `address` (`ray.init(address=...)`) or starting a local one, asks for `threads` CPUs
  and `gpus_per_task` GPUs per task, and takes results as they finish (`ray.wait`).
Both executors run a task the same way (`_attempt`): torch and BLAS limited to `threads` threads
(the order of floating-point sums depends on it, so the same seeds give the same numbers under
both on the CPU), an exception caught and returned with its traceback. A failed item is an
`Outcome` with status "failed" and a record `<root>/failed/<task>-<hash of the item>.json` (the
item, the exception, the traceback); it does not stop the others, and a rerun tries it again
(a success removes its failure record). A progress bar counts done, failed and left.

What is shared: the record store. Tasks write their records under `root` themselves, so on a
cluster of several machines `root` must be a folder every node sees at the same path (NFS or
another shared file system); results are not copied back to the driver. The driver checks that
every record a task reports is visible to it, and reports a run as failed, saying why, when it is
not (docs/sweeps.md has the multi-node walk-through).
"""

from __future__ import annotations

import itertools
import logging
import math
import numbers
import random
import time
import traceback
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from threadpoolctl import threadpool_limits

from empirical.fit import FitConfig, fit
from empirical.progress import Progress
from empirical.records import Record, config_hash, default_root, write_json
from empirical.registry import Registry

EXECUTORS = ("serial", "ray")
AXES = Registry("sweep axis")  # name -> setter(fit: FitConfig, value) -> FitConfig (validates the value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _integer(axis: str, value: Any, low: int) -> int:
    if not (_is_number(value) and isinstance(value, numbers.Integral) and value >= low):
        raise ValueError(f"{axis} must be an integer >= {low}, got {value!r}")
    return int(value)


def _fraction(axis: str, value: Any, include_one: bool) -> float:
    if not (_is_number(value) and 0 <= value and (value <= 1 if include_one else value < 1)):
        raise ValueError(f"{axis} must be a number in [0, 1{']' if include_one else ')'}, got {value!r}")
    return float(value)


def _mlp_only(fit_config: FitConfig, axis: str) -> None:
    if fit_config.model.name != "mlp":
        raise ValueError(f"axis {axis!r} is read by the mlp only; the base model is {fit_config.model.name!r}")


def _model(fit_config: FitConfig, **changes) -> FitConfig:
    return replace(fit_config, model=replace(fit_config.model, **changes))


def _train(fit_config: FitConfig, **changes) -> FitConfig:
    return replace(fit_config, train=replace(fit_config.train, **changes))  # TrainConfig validates


@AXES.register("width", "model.width: units per hidden layer (mlp)")
def _width(f: FitConfig, v) -> FitConfig:
    _mlp_only(f, "width")
    return _model(f, width=_integer("width", v, 1))


@AXES.register("depth", "model.depth: number of hidden layers (mlp)")
def _depth(f: FitConfig, v) -> FitConfig:
    _mlp_only(f, "depth")
    return _model(f, depth=_integer("depth", v, 0))


@AXES.register("dropout", "model.dropout: dropout rate in [0, 1)")
def _dropout(f: FitConfig, v) -> FitConfig:
    return _model(f, dropout=_fraction("dropout", v, include_one=False))


@AXES.register("lr", "train.lr: learning rate (> 0)")
def _lr(f: FitConfig, v) -> FitConfig:
    if not _is_number(v):
        raise ValueError(f"lr must be a positive number, got {v!r}")
    return _train(f, lr=float(v))


@AXES.register("batch_size", "train.batch_size: minibatch size (>= 1)")
def _batch_size(f: FitConfig, v) -> FitConfig:
    return _train(f, batch_size=_integer("batch_size", v, 1))


@AXES.register("weight_decay", "train.weight_decay: L2 penalty (>= 0)")
def _weight_decay(f: FitConfig, v) -> FitConfig:
    if not (_is_number(v) and v >= 0):
        raise ValueError(f"weight_decay must be a number >= 0, got {v!r}")
    return _train(f, weight_decay=float(v))


@AXES.register("optimizer", "train.optimizer: a registered update rule (sgd, adam, ...)")
def _optimizer(f: FitConfig, v) -> FitConfig:
    return _train(f, optimizer=v)


@AXES.register("n_train", "data.n_train: training examples (>= 1)")
def _n_train(f: FitConfig, v) -> FitConfig:
    return replace(f, data=replace(f.data, n_train=_integer("n_train", v, 1)))


@AXES.register("label_noise", "corruption: 'true' at 0, else 'labels:ETA' (round(ETA n) labels changed)")
def _label_noise(f: FitConfig, v) -> FitConfig:
    if f.corruption != "true":
        raise ValueError(f"axis 'label_noise' sets the corruption; the base has corruption {f.corruption!r}")
    eta = _fraction("label_noise", v, include_one=True)
    return replace(f, corruption="true" if eta == 0 else f"labels:{eta}")


@AXES.register("seed", "seed: initialisation, minibatch order and corruption (the data subset keeps data.seed)")
def _seed(f: FitConfig, v) -> FitConfig:
    return replace(f, seed=_integer("seed", v, 0))


@dataclass(frozen=True)
class SweepConfig:
    """A grid over `axes`, `((axis name, (values, ...)), ...)` (a dict is accepted too), around
    `base`; `sample`: None runs the whole grid, k runs k of its points drawn without replacement
    with `sample_seed`. Every axis and value is checked here, against `AXES`."""

    base: FitConfig
    axes: tuple[tuple[str, tuple], ...]
    sample: int | None = None
    sample_seed: int = 0

    def __post_init__(self):
        axes = tuple(self.axes.items()) if isinstance(self.axes, Mapping) else tuple(self.axes)
        if not axes:
            raise ValueError(f"a sweep needs at least one axis; known axes: {', '.join(AXES.names())}")
        normalized = []
        for entry in axes:
            if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
                raise ValueError(f"each axis is a pair (name, values), got {entry!r}")
            name, values = entry
            setter = AXES.get(name)
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(f"axis {name!r} takes a sequence of values, got {values!r}")
            values = tuple(values)
            if not values:
                raise ValueError(f"axis {name!r} has no values; give at least one")
            for value in values:
                try:
                    setter(self.base, value)
                except ValueError as err:
                    raise ValueError(f"axis {name!r}, value {value!r}: {err}") from err
            if len(set(values)) != len(values):
                raise ValueError(f"axis {name!r} repeats a value: {values!r}")
            normalized.append((name, values))
        names = [name for name, _ in normalized]
        if len(set(names)) != len(names):
            raise ValueError(f"an axis is named twice: {', '.join(names)}")
        object.__setattr__(self, "axes", tuple(normalized))
        size = math.prod(len(values) for _, values in normalized)
        if self.sample is not None and (isinstance(self.sample, bool) or not isinstance(self.sample, int)
                                        or not 1 <= self.sample <= size):
            raise ValueError(f"sample must be None (the whole grid) or an integer in [1, {size}] "
                             f"(the grid's size), got {self.sample!r}")


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its value on every axis, in the axes' order, and the `fit` config
    (the base with those values set)."""

    values: tuple[tuple[str, Any], ...]
    fit: FitConfig

    def __str__(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.values)


def points(config: SweepConfig) -> list[Point]:
    """The grid of `config` in the axes' order (the last axis varies fastest), or its `sample`
    (the drawn points, in grid order)."""
    names = [name for name, _ in config.axes]
    grid = list(itertools.product(*(values for _, values in config.axes)))
    if config.sample is not None:
        grid = [grid[i] for i in sorted(random.Random(config.sample_seed).sample(range(len(grid)), config.sample))]
    result = []
    for combination in grid:
        fit_config = config.base
        for name, value in zip(names, combination):
            fit_config = AXES.get(name)(fit_config, value)
        result.append(Point(tuple(zip(names, combination)), fit_config))
    return result


@dataclass(frozen=True)
class Outcome:
    """What became of one item: `status` "done" (with the path of the `record` its task returned)
    or "failed" (with `error`, the exception and its traceback); `wall_s`, the seconds the task
    took where it ran (nan when its worker died). Only `item` and `record` are its identity (what
    `config_hash` reads), so an outcome handed on as an item keeps its hash from one rerun to the
    next."""

    item: Any
    status: str
    record: str | None
    error: str | None = field(metadata={"identity": False})
    wall_s: float = field(metadata={"identity": False})

    def __post_init__(self):
        if self.status not in ("done", "failed"):
            raise ValueError(f"status must be 'done' or 'failed', got {self.status!r}")


def failure_path(root: str | Path, task: Callable, item: Any) -> Path:
    """Where a failed item is recorded: `<root>/failed/<task name>-<hash of the item>.json`."""
    return Path(root) / "failed" / f"{task.__name__.strip('_')}-{config_hash(item)}.json"


def _attempt(task: Callable[[Any, Path], Record], item: Any, root: str, threads: int) -> Outcome:
    """Run `task(item, root)` with `threads` torch and BLAS threads; an exception becomes a
    failed `Outcome` with its traceback. The one way both executors run a task."""
    start, previous = time.perf_counter(), torch.get_num_threads()
    try:
        with threadpool_limits(threads):
            torch.set_num_threads(threads)
            record = task(item, Path(root))
        return Outcome(item, "done", str(record.path), None, time.perf_counter() - start)
    except Exception:
        return Outcome(item, "failed", None, traceback.format_exc(), time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise ImportError('the ray executor needs Ray: pip install "genproof[ray]"') from err
    return ray


@contextmanager
def connect(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray, connected for the block: the connection already open if there is one, else
    `ray.init(address=address)` (an existing cluster: "HEAD_IP:6379", or "auto" on one of its nodes), else,
    with `address` None, a new local cluster of `num_cpus` CPUs (None: all) without a dashboard.
    Shuts down only what it started. Wrap several `execute(..., executor="ray")` calls in one
    `with connect(...)` to start a local cluster once for all of them."""
    if address is not None and num_cpus is not None:
        raise ValueError("num_cpus sizes a new local cluster; an existing cluster (address) has its own CPUs")
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    options = {"include_dashboard": False, "num_cpus": num_cpus} if address is None else {}
    ray.init(address=address, logging_level=logging.WARNING, **options)
    try:
        yield ray
    finally:
        ray.shutdown()


def _serial(task, items, root, threads) -> Iterator[tuple[int, Outcome]]:
    for i, item in enumerate(items):
        yield i, _attempt(task, item, root, threads)


def _on_ray(task, items, root, threads, gpus_per_task, address, num_cpus) -> Iterator[tuple[int, Outcome]]:
    with connect(address, num_cpus) as ray:
        have = ray.cluster_resources()
        if have.get("CPU", 0) < threads or have.get("GPU", 0) < gpus_per_task:
            raise ValueError(f"each task asks for {threads} CPUs and {gpus_per_task} GPUs; the cluster has "
                             f"{have.get('CPU', 0):g} CPUs and {have.get('GPU', 0):g} GPUs")
        remote = ray.remote(_attempt).options(num_cpus=threads, num_gpus=gpus_per_task)
        index = {remote.remote(task, item, root, threads): i for i, item in enumerate(items)}
        pending = list(index)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                i = index[ready[0]]
                try:
                    yield i, ray.get(ready[0])
                except ray.exceptions.RayError as err:  # the worker died (killed, out of memory)
                    yield i, Outcome(items[i], "failed", None, f"{type(err).__name__}: {err}", math.nan)
        finally:
            for ref in pending:  # interrupted: finished runs are recorded, the rest is cancelled
                ray.cancel(ref, force=True)


def execute(task: Callable[[Any, Path], Record], items: Sequence, root: str | Path, *, executor: str = "serial",
            address: str | None = None, num_cpus: int | None = None, threads: int = 1,
            gpus_per_task: float = 0.0, desc: str = "runs", progress: bool | None = None) -> list[Outcome]:
    """Run `task(item, root)` for every item; returns their `Outcome`s in the order of `items`.

    `task` is a module-level function (Ray pickles it by reference) returning a `Record`; items
    are dataclasses or JSON values (their hash names a failure record). `executor`: "serial" or
    "ray" (one task per item; `address` joins an existing cluster, None starts a local one of
    `num_cpus` CPUs, see `connect`). `threads`: torch and BLAS threads inside each task, and the
    CPUs a Ray task asks for; `gpus_per_task`: the GPUs a Ray task asks for (a fraction shares a
    GPU between tasks). A task that raises is a failed Outcome recorded at `failure_path` and does
    not stop the others; a done one removes a failure record left by an earlier attempt.
    `progress`: a bar counting done / failed / left (None: on a terminal, else a line every 30 s).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if not gpus_per_task >= 0:
        raise ValueError(f"gpus_per_task must be >= 0, got {gpus_per_task!r}")
    if not callable(task):
        raise TypeError(f"task must be a function task(item, root) -> Record, got {task!r}")
    items, root = list(items), Path(root).absolute()
    failures = []
    for i, item in enumerate(items):
        try:
            failures.append(failure_path(root, task, item))
        except TypeError as err:
            raise TypeError(f"item {i} ({type(item).__name__}) is neither a dataclass nor a JSON value: {err}") from err
    if not items:
        return []
    if executor == "ray":
        stream = _on_ray(task, items, str(root), threads, gpus_per_task, address, num_cpus)
    else:
        stream = _serial(task, items, str(root), threads)
    outcomes: list[Outcome | None] = [None] * len(items)
    counts = {"done": 0, "failed": 0}
    bar = Progress(len(items), desc, "run", progress)
    with closing(stream), bar:
        for i, outcome in stream:
            if outcome.status == "done" and not (Path(outcome.record) / "summary.json").exists():
                outcome = replace(outcome, status="failed", record=None, error=(
                    f"the task wrote its record at {outcome.record}, which this machine does not see: on a "
                    f"cluster the record root must be a folder shared by every node at the same path "
                    f"(docs/sweeps.md)"))
            if outcome.status == "done":
                failures[i].unlink(missing_ok=True)
            else:
                write_json(failures[i], {"task": f"{task.__module__}.{task.__qualname__}", "item": items[i],
                                         "executor": executor, "wall_s": outcome.wall_s, "error": outcome.error,
                                         "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
                last = outcome.error.strip().splitlines()[-1]
                bar.write(f"failed: {str(items[i])[:100]}: {last} (recorded at {failures[i]})")
            outcomes[i] = outcome
            counts[outcome.status] += 1
            bar.set_postfix({"done": counts["done"], "failed": counts["failed"],
                             "left": len(items) - counts["done"] - counts["failed"]})
            bar.update()
    return outcomes


def fit_point(point: Point, root: Path) -> Record:
    """The task of `run`: the cached `fit` run of one point (its training bar off: the sweep has one)."""
    return fit(replace(point.fit, train=replace(point.fit.train, progress=False)), root)


def run(config: SweepConfig, root: str | Path | None = None, **executor_options) -> list[Outcome]:
    """Fit every point of `config` under `root` (None: `default_root()`); `executor_options` are
    `execute`'s. A run on a CUDA device asks Ray for one GPU per task unless `gpus_per_task` says
    otherwise (0.25: four runs share a GPU)."""
    if config.base.train.device.startswith("cuda"):
        executor_options.setdefault("gpus_per_task", 1.0)
    executor_options.setdefault("desc", "sweep")
    return execute(fit_point, points(config), root if root is not None else default_root(), **executor_options)
