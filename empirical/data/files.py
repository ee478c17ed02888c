"""Where data files live, how they are downloaded, and the errors a missing or broken file raises.

Search order for a file-backed data set (see `Layout.candidate_dirs`):

1. the `data_dir` argument (the `--data-dir` option of the command-line tools),
2. the `GENPROOF_DATA` environment variable,
3. system locations (e.g. `/usr/share/datasets/fashion-mnist` from Debian's `dataset-fashion-mnist`),
4. the download cache `CACHE_DIR` (`~/.cache/genproof/data`).

With `$GENPROOF_DATA_BARE` set (to anything but empty or 0) only the first two are searched and
nothing is downloaded, as on a fresh machine offline: CI runs a test under it to prove that the
tests needing optional data skip, saying what to install.

Each root is tried as the data set's folder itself and as its parent (`ROOT/<folder>`).

Downloads go to the first of `data_dir`, `$GENPROOF_DATA`, `CACHE_DIR`. They are never half-written:
each file is streamed to a temporary name, checked against its published md5 and only then
renamed; a data set's folder is assembled in a staging directory and moved into place whole.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

ENV_VAR = "GENPROOF_DATA"
BARE_ENV = "GENPROOF_DATA_BARE"
CACHE_DIR = Path("~/.cache/genproof/data").expanduser()
DOWNLOAD_ERRORS = (OSError, http.client.HTTPException)  # urllib's URLError is an OSError
_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60


class DataNotFoundError(FileNotFoundError):
    """A data set is not on disk and could not be downloaded; the message says where we looked."""


class DataFormatError(ValueError):
    """A data file exists but is truncated or corrupt; the message names the file."""


def user_roots(data_dir: str | os.PathLike | None) -> list[Path]:
    """The roots a user chose: `data_dir`, then `$GENPROOF_DATA` (either may be absent)."""
    roots = [Path(data_dir).expanduser()] if data_dir is not None else []
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]).expanduser())
    return roots


def bare() -> bool:
    """Whether `$GENPROOF_DATA_BARE` hides the system folders and the download (a fresh machine offline)."""
    return os.environ.get(BARE_ENV, "") not in ("", "0")


def download_root(data_dir: str | os.PathLike | None) -> Path:
    """Where a download goes: `data_dir`, else `$GENPROOF_DATA`, else `CACHE_DIR`."""
    roots = user_roots(data_dir)
    return roots[0] if roots else CACHE_DIR


@dataclass(frozen=True)
class Layout:
    """How a file-backed data set looks on disk: a folder holding `required` files.

    `gz_ok`: each required file may also be present gzipped as `<name>.gz`.
    `hint`: what a user can do when the data set is missing, quoted in every error.
    """

    title: str
    folder: str
    required: tuple[str, ...]
    hint: str
    system_dirs: tuple[Path, ...] = ()
    gz_ok: bool = False

    def file(self, directory: Path, name: str) -> Path | None:
        """The path of required file `name` in `directory` (raw first, then `.gz` if allowed), or None."""
        names = (name, f"{name}.gz") if self.gz_ok else (name,)
        return next((directory / n for n in names if (directory / n).is_file()), None)

    def candidate_dirs(self, data_dir: str | os.PathLike | None) -> list[Path]:
        """Every directory that may hold the data set, in search order, without repeats."""
        user = [d for root in user_roots(data_dir) for d in (root, root / self.folder)]
        return list(dict.fromkeys(user if bare() else [*user, *self.system_dirs, CACHE_DIR / self.folder]))

    def locate(self, data_dir: str | os.PathLike | None) -> Path | None:
        """The first candidate directory holding every required file, or None if none holds any.

        A directory holding some but not all raises `DataNotFoundError` naming the first missing file.
        """
        for directory in self.candidate_dirs(data_dir):
            missing = [name for name in self.required if self.file(directory, name) is None]
            if not missing:
                return directory
            if len(missing) < len(self.required):
                also = f" (or {missing[0]}.gz)" if self.gz_ok else ""
                raise DataNotFoundError(f"{self.title}: {directory} lacks {missing[0]}{also}; add it, or {self.hint}")
        return None


def find(
    layout: Layout, data_dir: str | os.PathLike | None, download: bool, fetch_into: Callable[[Path], Path], url: str
) -> Path:
    """The directory holding `layout`'s files; if none has any and `download`, `fetch_into(root)` makes one.

    `fetch_into` downloads from `url` below the root of `download_root` and returns the finished
    directory. Offline, or with `download=False`, raises one `DataNotFoundError` whose one-line
    message lists where it looked and what to do.
    """
    directory = layout.locate(data_dir)
    if directory is not None:
        return directory
    looked = f"{layout.title}: nothing in [{', '.join(map(str, layout.candidate_dirs(data_dir)))}]"
    if bare():
        raise DataNotFoundError(f"{looked} and {BARE_ENV} is set (no system folders, no download); {layout.hint}")
    if not download:
        raise DataNotFoundError(f"{looked} and download=False; {layout.hint}, or allow the download")
    try:
        return fetch_into(download_root(data_dir))
    except DOWNLOAD_ERRORS as exc:
        failed = f"the download from {url} failed ({one_line(exc)})"
        raise DataNotFoundError(f"{looked} and {failed}; {layout.hint}, or go online") from exc


def one_line(exc: BaseException) -> str:
    """An exception as `Type: message` on one line, for error messages that quote a cause."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def fetch(url: str, dest: Path, md5: str) -> Path:
    """Download `url` to `dest` with a progress bar; keep it only if its md5 is `md5`.

    The bytes go to a temporary name beside `dest`, which is renamed to `dest` only after the
    checksum passes, so `dest` is either absent or complete. Network failures propagate as
    `DOWNLOAD_ERRORS` (the caller turns them into a `DataNotFoundError` saying what to do); a
    checksum mismatch raises `DataFormatError` and leaves nothing behind.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name) as bar:
                for block in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if digest.hexdigest() != md5:
            raise DataFormatError(
                f"download of {url} is corrupt: md5 {digest.hexdigest()}, expected {md5}; nothing was kept, try again"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


@contextmanager
def staging_dir(parent: Path) -> Iterator[Path]:
    """A temporary directory inside `parent`, removed on exit; `publish` moves finished results out."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".genproof-download-", dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(src: Path, dest: Path) -> Path:
    """Move the finished directory `src` to `dest` in one rename (an empty `dest` is replaced)."""
    if dest.is_dir() and not any(dest.iterdir()):
        dest.rmdir()
    os.replace(src, dest)
    return dest


def extract_tar(archive: Path, into: Path, top: str) -> None:
    """Extract the regular files and folders under `top/` of a tar archive, refusing anything else.

    A member that is a link or a device, or whose path is absolute or climbs out with `..`,
    raises `DataFormatError` before anything is written (the archive may come from the network).
    """
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for m in members:
                path = PurePosixPath(m.name)
                safe = (m.isfile() or m.isdir()) and not path.is_absolute() and ".." not in path.parts
                if not safe or path.parts[:1] != (top,):
                    raise DataFormatError(f"{archive}: refusing unsafe or unexpected archive member {m.name!r}")
            tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(f"{archive}: cannot extract ({one_line(exc)})") from exc
