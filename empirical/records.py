"""Run records and the result cache (docs/design.md, Records).

A run is a directory `<root>/<name>-<hash>/` holding
- `config.json`: the frozen config (seeds included), its hash, the code that made it (`versions()`)
  and the machine it ran on (`machine()`: torch's threads among them);
- `metrics.jsonl`: one line per evaluation (epoch or step);
- `summary.json`: the numbers a claim or a bound reads;
- figures as PNG, and whatever else the experiment saves (`model.pt`).

The hash is taken over the config's fields, less those marked `metadata={"identity": False}`
(a progress flag, a data directory), so it names the experiment, not where or how loudly it ran;
and less the fields that hold their default value, so that adding a field with a default to a
config leaves the hash of every earlier run unchanged (the other side of that coin: changing a
default changes what an old hash means, so a default is changed only with a new field name).
Devices are resolved before hashing ("auto" becomes "cpu" or "cuda" in the configs), so a record
says on what it ran; `config.json` also records the code that made it (`versions()`: the package
version and, in a git checkout, the commit).

One record store: every entry point (the command-line tools, the claims, the notebooks, the API)
writes under `default_root()` unless told otherwise (`--out` in every tool, `root=` in the API).
A run is built in a hidden temporary directory and renamed into place only when complete, so a
directory with a `summary.json` is always a whole run; every file is written the same way. One
process writes a run at a time (a file lock per run), a folder without a readable `summary.json`
is computed again, and the temporaries of killed processes are cleared (`empirical.store`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import errno
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from filelock import FileLock, Timeout

from empirical import store

CACHE_ENV = "GENPROOF_CACHE"


def default_root() -> Path:
    """Where runs go when no `--out` (or `root=`) is given: `$GENPROOF_CACHE`, else the user's
    cache folder (`platformdirs.user_cache_dir`: `~/.cache/genproof/runs` on Linux)."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get(CACHE_ENV) or Path(user_cache_dir("genproof")) / "runs")


def _holds_default(f: dataclasses.Field, value: Any) -> bool:
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        return False
    return type(value) is type(default) and bool(value == default)


def to_jsonable(obj: Any, identity_only: bool = False) -> Any:
    """Dataclasses to dicts (recursively), tuples to lists, paths to strings; with
    `identity_only` (what the hash reads), fields marked `metadata={"identity": False}` and fields
    that hold their default value are left out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name), identity_only) for f in dataclasses.fields(obj)
                if not (identity_only and (f.metadata.get("identity") is False
                                           or _holds_default(f, getattr(obj, f.name))))}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, identity_only) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, identity_only) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy and torch scalars
        return obj.item()
    return obj


def from_jsonable(cls: type, data: dict) -> Any:
    """The frozen dataclass `cls` from `to_jsonable`'s dict (the `config` of a `config.json`): nested
    dataclasses rebuilt, lists turned back into tuples where the field is a tuple; a key `cls`
    lacks is refused, a missing key keeps its default."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field {', '.join(unknown)} (a config of another version?)")
    return cls(**{k: _from_jsonable(hints[k], v) for k, v in data.items()})


def _from_jsonable(hint: Any, value: Any) -> Any:
    kinds = [h for h in typing.get_args(hint) if h is not type(None)] if _is_union(hint) else [hint]
    for kind in kinds:
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            return from_jsonable(kind, value)
        if typing.get_origin(kind) is tuple and isinstance(value, list):
            return tuple(value)
    return value


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def config_hash(config: Any) -> str:
    """12 hex digits of the SHA-256 of the config's identity fields as canonical JSON."""
    text = json.dumps(to_jsonable(config, identity_only=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.cache
def versions() -> dict:
    """The code that produced a run: python, genproof (the installed distribution's version),
    `commit` (the git commit of the checkout the package runs from, with "+dirty" when it has
    uncommitted changes; None outside a git checkout), torch and numpy."""
    from importlib import metadata

    import numpy
    import torch

    try:
        version = metadata.version("genproof")
    except metadata.PackageNotFoundError:
        version = None
    return {"python": platform.python_version(), "genproof": version, "commit": _git_commit(),
            "torch": torch.__version__, "numpy": numpy.__version__}


def machine() -> dict:
    """Where a run was computed: torch's intra-op threads (the order of a float sum can depend on
    them, and a long training run amplifies the last bits: bansal2021's quick SSL probe, seed 0,
    has test error 0.448 trained on two threads and 0.420 on one), the CPUs the process sees, and
    the processor's architecture."""
    import torch

    return {"torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(), "arch": platform.machine()}


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parents[1]
    if not (here / ".git").exists():
        return None
    try:
        def git(*args):
            return subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()

        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.new_file(path, path.suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        cause = err if isinstance(err, OSError) else _full_disk_in(err)
        if cause is not None and cause.errno is not None:  # name the file, not its temporary
            raise OSError(cause.errno, cause.strerror, str(path)) from err
        raise
    return path


def _full_disk_in(err: BaseException) -> OSError | None:
    """The full-disk OSError that `err` was raised while handling (PIL reports one as another error)."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return err
        err = err.__cause__ or err.__context__
    return None


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (temporary name in the same folder, then rename)."""
    return _atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, obj: Any) -> Path:
    """Write `obj` as indented JSON, atomically."""
    return write_text(path, json.dumps(to_jsonable(obj), indent=2) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    """Write one JSON object per line, atomically."""
    return write_text(path, "".join(json.dumps(to_jsonable(r)) + "\n" for r in rows))


def save_figure(fig, path: Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        return _atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))
    finally:
        plt.close(fig)


@dataclass(frozen=True)
class Record:
    """A finished run: its directory, its `config.json` and its `summary.json`; `cached` when
    `cached_run` served it from the store rather than computing it."""

    path: Path
    config: dict
    summary: dict
    cached: bool = dataclasses.field(default=False, compare=False)

    def metrics(self) -> list[dict]:
        """The rows of `metrics.jsonl` (empty if the run wrote none)."""
        file = self.path / "metrics.jsonl"
        if not file.exists():
            return []
        return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Record":
        """The run at `path`; a `RecordError` naming the file and the fix if it is not whole."""
        path = Path(path)
        return cls(path, _read_json(path / "config.json"), _read_json(path / "summary.json"))


class RecordError(ValueError):
    """A record on disk is incomplete or unreadable; the message names the file and the fix."""


def _read_json(file: Path) -> dict:
    fix = f"rerun with --force (force=True), or delete {file.parent}"
    try:
        return json.loads(file.read_text())
    except FileNotFoundError:
        raise RecordError(f"{file.parent} is not a finished run: {file.name} missing; {fix}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise RecordError(f"{file} is unreadable ({err}); {fix}") from None


def load_state(record: Record, file: str, device: str = "cpu") -> Any:
    """The tensors a run saved as `file` (`model.pt`), with `torch.load`; a `RecordError` naming
    the file and the fix if it is missing, empty or truncated."""
    import pickle

    import torch

    path = record.path / file
    try:
        return torch.load(path, map_location=device)
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as err:
        raise RecordError(f"{path} is unreadable ({type(err).__name__}: {err or 'empty'}); rerun with --force "
                          f"(force=True), or delete {record.path}") from None


def _finished(path: Path) -> Record | None:
    try:
        return Record.load(path)
    except (RecordError, OSError):  # absent, half-removed by a --force elsewhere, or damaged
        return None


def record_lock(final: Path) -> FileLock:
    """The lock of the run `final`: whoever holds it is the one process writing that run."""
    locks = final.parent / ".locks"
    locks.mkdir(exist_ok=True)
    return FileLock(locks / f"{final.name}.lock")


_READ: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("records_read", default=None)


@contextlib.contextmanager
def reading():
    """Collect the runs that `cached_run` serves inside the block: `with reading() as read:`, then
    `read` lists their paths in the order first served (a verdict names the records it read)."""
    read: list[Path] = []
    token = _READ.set(read)
    try:
        yield read
    finally:
        _READ.reset(token)


def _served(record: Record) -> Record:
    read = _READ.get()
    if read is not None and record.path not in read:
        read.append(record.path)
    return record


def cached_run(root: str | os.PathLike, name: str, config: Any, compute: Callable[[Path], dict],
               force: bool = False) -> Record:
    """The run `<root>/<name>-<hash(config)>`: loaded if it is whole (unless `force`), else made by
    `compute(tmpdir) -> summary`, which writes its own metrics and figures into `tmpdir`.

    One process computes a run at a time (a file lock per run): a second asking for the same run
    waits and reads the first's record. A folder without a readable `summary.json` is recomputed
    and replaced; the stale temporaries of killed runs are cleared first (`empirical.store`)."""
    root = Path(root)
    final = root / f"{name}-{config_hash(config)}"
    if not force and (record := _finished(final)):
        return _served(dataclasses.replace(record, cached=True))
    root.mkdir(parents=True, exist_ok=True)
    store.clear_stale_once(root)
    lock = record_lock(final)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another process computing {final}", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        if not force and (record := _finished(final)):  # made while we waited
            return _served(dataclasses.replace(record, cached=True))
        tmp = store.new_folder(final)
        try:
            write_json(tmp / "config.json", {"name": name, "hash": config_hash(config), "config": config,
                                              "versions": versions(), "machine": machine()})
            write_json(tmp / "summary.json", compute(tmp))
            store.swap_in(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return _served(Record.load(final))
    finally:
        lock.release()
