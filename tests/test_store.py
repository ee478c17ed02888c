"""The record store under faults, signals and concurrent processes: one-line errors with status 2,
nothing lost, stale temporaries of dead processes cleared, one process computing a run at a time,
modes that follow the umask. Concurrency and signals are tested on real processes, on a trivial
`cached_run`, synchronised by files (never by sleeping and hoping)."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from empirical import cli, records, store
from empirical.records import RecordError, cached_run, record_lock, save_figure, write_text
from genproof import bounds
from genproof.report import write_ledger

REPO = Path(__file__).resolve().parents[1]

# A process that asks for the run `exp` of config {"k": 1} under ROOT, once the file MARKS/go exists.
# MODE: get (cached_run), force (force=True), read (30 reads of a run that exists), hang (compute
# never ends; through run_command, as the tools do). Each compute leaves MARKS/computed-<pid>.
WORKER = """
import os, sys, time
from pathlib import Path
from empirical import records
records.versions = lambda: {}  # the code's versions need torch: not what is tested here
root, mode, marks = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def compute(out):
    (marks / f"computed-{os.getpid()}").touch()
    (out / "payload.txt").write_text("x" * 10000)
    time.sleep(0.2)  # long enough that runs without a lock would overlap; with one, the count is exact anyway
    if mode == "hang":
        (marks / "started").touch()
        time.sleep(600)
    return {"pid": os.getpid()}

while not (marks / "go").exists():
    time.sleep(0.005)
if mode == "read":
    for _ in range(30):
        r = records.cached_run(root, "exp", {"k": 1}, compute)
        assert len((r.path / "payload.txt").read_text()) == 10000 and r.summary["pid"] > 0
elif mode == "hang":
    from empirical import cli
    sys.exit(cli.run_command(lambda: records.cached_run(root, "exp", {"k": 1}, compute) and 0))
else:
    r = records.cached_run(root, "exp", {"k": 1}, compute, force=mode == "force")
    print(r.summary["pid"])
"""


def start(root, mode, marks, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(root), mode, str(marks)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(path, proc, limit_s=120):
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def computed(marks):
    return len(list(marks.glob("computed-*")))


def hidden(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".") and p.name != ".locks")


@pytest.fixture
def marks(tmp_path):
    (tmp_path / "marks").mkdir()
    return tmp_path / "marks"


def test_identical_runs_compute_once_and_force_never_crashes_a_reader(tmp_path, marks):
    root = tmp_path / "store"
    procs = [start(root, "get", marks) for _ in range(8)]
    (marks / "go").touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outs
    assert computed(marks) == 1  # the others waited for the lock and read the first's record
    assert len({out for out, _ in outs}) == 1

    (marks / "go").unlink()
    procs = [start(root, mode, marks) for mode in ["force", "read"] * 4]
    (marks / "go").touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outs
    assert computed(marks) == 1 + 4  # every --force computes, one at a time
    assert hidden(root) == [] and records.Record.load(root / f"exp-{records.config_hash({'k': 1})}")


def test_sigkill_leaves_a_temporary_that_the_next_run_clears(tmp_path, marks):
    root = tmp_path / "store"
    proc = start(root, "hang", marks)
    (marks / "go").touch()
    wait_for(marks / "started", proc)
    assert len(hidden(root)) == 1  # the live process's work: not stale
    store.clear_stale(root)
    assert len(hidden(root)) == 1
    proc.kill()
    proc.wait()
    (marks / "started").unlink()
    again = start(root, "get", marks)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert hidden(root) == [] and computed(marks) == 2


@pytest.mark.parametrize("sig, status, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_and_sigterm_end_in_one_line_and_keep_what_finished(tmp_path, marks, sig, status, word):
    root = tmp_path / "store"
    kept = cached_run(root, "kept", {"k": 0}, lambda out: {"v": 1})
    proc = start(root, "hang", marks)
    (marks / "go").touch()
    wait_for(marks / "started", proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err.startswith(f"{word}: the runs that finished are kept") and err.count("\n") == 1
    assert hidden(root) == [] and records.Record.load(kept.path).summary == {"v": 1}


def test_only_dead_processes_of_this_host_are_stale(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    final = tmp_path / "exp-0123456789ab"
    mine = store.new_folder(final)
    theirs = tmp_path / f".{final.name}.{store._HOST}.{dead.pid}.0123abcd"
    elsewhere = tmp_path / f".{final.name}.otherhost.{dead.pid}.0123abcd"
    old_file = tmp_path / f".summary.json.{store._HOST}.{dead.pid}.89abcdef.json"
    for path in (theirs, elsewhere):
        path.mkdir()
    old_file.write_text("{")
    assert set(store.clear_stale(tmp_path)) == {theirs, old_file}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, elsewhere.name])


@pytest.mark.parametrize("umask, folder, file", [(0o002, 0o775, 0o664), (0o077, 0o700, 0o600)])
def test_modes_follow_the_umask(tmp_path, umask, folder, file):
    previous = os.umask(umask)
    try:
        def compute(out):
            write_text(out / "note.txt", "x")
            return {}
        record = cached_run(tmp_path, "exp", {"k": 1}, compute)
    finally:
        os.umask(previous)
    assert oct(record.path.stat().st_mode & 0o777) == oct(folder)
    for name in ("config.json", "summary.json", "note.txt"):
        assert oct((record.path / name).stat().st_mode & 0o777) == oct(file), name
    assert oct(Path(record_lock(record.path).lock_file).stat().st_mode & 0o777) == oct(file)


# ---- faults: one line naming the path and the fix, status 2, nothing lost ------------------------

def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("mine")
    assert bounds.main(["--out", str(tmp_path / "f")]) == 2
    assert f"{tmp_path / 'f'} is a file where a folder is needed" in one_line(capsys)
    assert (tmp_path / "f").read_text() == "mine"


def read_only(monkeypatch, folder: Path):
    """Make `folder` behave as on a read-only file system (chmod does not stop root)."""
    real = os.mkdir

    def mkdir(path, *args, **kw):
        if Path(path).is_relative_to(folder):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(os, "mkdir", mkdir)


def test_read_only_out_and_ledger(tmp_path, monkeypatch, capsys):
    read_only(monkeypatch, tmp_path / "ro")
    assert bounds.main(["--out", str(tmp_path / "ro")]) == 2
    assert f"cannot write {tmp_path / 'ro'} (Read-only file system): make it writable" in one_line(capsys)
    assert cli.run_command(lambda: write_ledger([], "quick", tmp_path / "ro" / "ledger") and 0) == 2
    assert "choose another folder (--out, --ledger)" in one_line(capsys)


def test_a_full_disk_names_the_file_and_keeps_the_store_whole(tmp_path, monkeypatch, capsys):
    kept = cached_run(tmp_path, "kept", {"k": 0}, lambda out: {"v": 1})

    def full(self, *args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")  # a write: no file name

    monkeypatch.setattr(Path, "write_text", full)
    assert cli.run_command(lambda: cached_run(tmp_path, "exp", {"k": 1}, lambda out: {}) and 0) == 2
    err = one_line(capsys)
    assert "no space left to write " in err and "config.json: free space there" in err
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks", kept.path.name]
    assert records.Record.load(kept.path).summary == {"v": 1}


def test_a_full_disk_seen_by_the_png_writer_as_another_error(tmp_path):
    def savefig(path, **kw):  # PIL meets ENOSPC and fails while cleaning up
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise AttributeError("'NoneType' object has no attribute 'close'")

    fig = Figure()
    fig.savefig = savefig
    with pytest.raises(OSError, match="No space left") as err:
        save_figure(fig, tmp_path / "f.png")
    assert err.value.filename == str(tmp_path / "f.png") and list(tmp_path.iterdir()) == []


def test_damaged_records_are_recomputed_or_named_with_the_fix(tmp_path, capsys):
    argv = ["--n-train", "60", "--n-test", "20", "--max-steps", "5", "--out", str(tmp_path)]
    assert bounds.main(argv) == 0
    (fit,) = tmp_path.glob("fit-*")
    (run,) = tmp_path.glob("bounds-*")
    (run / "summary.json").unlink()  # a folder without its summary: recomputed, not served, not blocking
    (fit / "summary.json").write_text("")  # a corrupt summary: the same
    capsys.readouterr()
    assert bounds.main(argv) == 0 and json.loads((run / "summary.json").read_text())
    assert json.loads((fit / "summary.json").read_text())["steps"] == 5
    (run / "summary.json").unlink()
    (fit / "model.pt").write_bytes(b"")  # an empty model: named, with the fix
    capsys.readouterr()
    assert bounds.main(argv) == 2
    assert f"{fit / 'model.pt'} is unreadable (EOFError" in (err := one_line(capsys))
    assert f"rerun with --force (force=True), or delete {fit}" in err
    with pytest.raises(RecordError, match="summary.json is unreadable"):
        (fit / "summary.json").write_text("{")
        records.Record.load(fit)
