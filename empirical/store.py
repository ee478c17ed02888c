"""The record store's housekeeping: owned temporary names, stale leftovers, listing and cleaning.

A run is built in a hidden folder `.<name>-<hash>.<host>.<pid>.<token>` beside its final place
(and a file in `.<file>.<host>.<pid>.<token><suffix>` beside it), so that the owner of any leftover
can be told: `clear_stale(root)` removes the hidden folders and files of this host whose process
is dead (a run killed by SIGKILL, SIGTERM or a power cut), and never one of a live process or of
another host. Everything is created with the modes the umask allows (0777 and 0666 less the umask),
so a store shared by a group is readable by the group when the umask says so.

`entries(root)` lists the finished runs (name, a one-line config summary, size, date, code
version) and `remove(path)` takes one out whole: renamed to a hidden name first, so a reader
never sees half of it. `python -m genproof.runs` is the command line.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import re
import secrets
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"
_OWNED = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]{8}")
_cleared: set[Path] = set()


def temp_name(final: Path, suffix: str = "") -> Path:
    """A fresh hidden name beside `final` that says which host and process own it."""
    return final.parent / f".{final.name}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"


def new_folder(final: Path) -> Path:
    """Create an owned temporary folder beside `final` (mode 0777 less the umask)."""
    while True:
        tmp = temp_name(final)
        try:
            tmp.mkdir(0o777)
            return tmp
        except FileExistsError:
            continue


def new_file(final: Path, suffix: str = "") -> Path:
    """Create an empty owned temporary file beside `final` (mode 0666 less the umask)."""
    while True:
        tmp = temp_name(final, suffix)
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a live process of another user
        return True
    return True


def stale(path: Path) -> bool:
    """Whether `path` is a leftover temporary of a dead process on this host."""
    owner = _OWNED.match(path.name)
    return bool(owner) and owner["host"] == _HOST and not _alive(int(owner["pid"]))


def clear_stale(root: Path) -> list[Path]:
    """Remove the stale temporaries directly under `root`; returns what was removed."""
    removed = []
    for path in root.iterdir() if root.is_dir() else ():
        if stale(path):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def clear_stale_once(root: Path) -> None:
    """`clear_stale(root)` the first time this process writes under `root`."""
    root = root.resolve()
    if root not in _cleared:
        clear_stale(root)
        _cleared.add(root)


def swap_in(tmp: Path, final: Path) -> None:
    """Rename the finished folder `tmp` to `final`. An older `final` is exchanged with `tmp` in one
    step where the system can (Linux's renameat2), so a reader always finds a whole run there;
    elsewhere it is renamed away first, and a reader may find none for an instant. Then it is removed."""
    if final.exists():
        if _exchange(tmp, final):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old run
            return
        old = temp_name(final)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (renameat2 with RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system without it (NFS)
        return False
    raise OSError(err, os.strerror(err), str(b))


@functools.cache
def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def remove(path: Path) -> None:
    """Take the run at `path` out of the store whole (hidden rename, then delete)."""
    gone = temp_name(path)
    os.replace(path, gone)
    shutil.rmtree(gone, ignore_errors=True)


@dataclass(frozen=True)
class Entry:
    """One finished run of a store, as `genproof runs ls` shows it."""

    path: Path
    about: str
    size: int
    finished: datetime
    code: str


_SHOWN = ("name", "dataset", "model", "corruption", "n_train", "max_steps", "tier", "families", "seed", "seeds")


def about(config: dict) -> str:
    """A one-line summary of a config: its naming fields as `key=value` (a nested `name` by its
    parent, `model=mlp`), at most 90 characters."""
    items = []

    def walk(node, key, parent):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k, key)
        elif key in _SHOWN and node is not None:
            shown = ",".join(map(str, node)) if isinstance(node, list) else node
            items.append(f"{parent if key == 'name' and parent else key}={shown}")

    walk(config, "", "")
    text = " ".join(dict.fromkeys(items))
    return text if len(text) <= 90 else text[:87] + "..."


def entries(root: Path) -> list[Entry]:
    """The finished runs under `root` (a folder with a readable `config.json` and `summary.json`),
    oldest first."""
    found = []
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        summary = path / "summary.json"
        if path.name.startswith(".") or not summary.is_file():
            continue
        try:
            meta = json.loads((path / "config.json").read_text())
        except (OSError, ValueError):
            meta = {}
        versions = meta.get("versions") or {}
        commit = versions.get("commit") or ""
        code = commit[:12] + ("+dirty" if commit.endswith("+dirty") else "") or versions.get("genproof") or "?"
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        finished = datetime.fromtimestamp(summary.stat().st_mtime, timezone.utc)
        found.append(Entry(path, about(meta.get("config") or {}), size, finished, code))
    return sorted(found, key=lambda e: e.finished)
