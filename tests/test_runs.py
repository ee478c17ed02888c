"""`genproof runs ls|rm`: the record store listed and cleaned, whole runs only, live work untouched."""

import os
import time

from empirical import store
from empirical.records import cached_run
from genproof import __main__ as console
from genproof import runs


def make(root, name, config, days_old=0.0):
    record = cached_run(root, name, config, lambda out: (out / "model.pt").write_bytes(b"w" * 2000) and {"v": 1})
    then = time.time() - days_old * 86400
    os.utime(record.path / "summary.json", (then, then))
    return record


def test_ls_lists_each_finished_run_with_its_config_size_date_and_code(tmp_path, capsys):
    fit = make(tmp_path, "fit", {"data": {"name": "digits", "n_train": 300}, "model": {"name": "mlp", "width": 64},
                                 "corruption": "labels:0.2", "seed": 3})
    bounds = make(tmp_path, "bounds", {"families": ["vc", "norms"]}, days_old=2)
    (tmp_path / "fit-000000000000").mkdir()  # incomplete: not a run
    assert runs.main(["ls", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("bounds-") and lines[1].startswith(fit.path.name)
    assert lines[1].endswith(" data=digits n_train=300 model=mlp corruption=labels:0.2 seed=3")
    sizes = [sum(f.stat().st_size for f in run.rglob("*") if f.is_file()) for run in (fit.path, bounds.path)]
    assert f" {runs.size_text(sizes[0])} " in lines[1] and "families=vc,norms" in lines[0]
    assert lines[2] == f"2 runs, {runs.size_text(sum(sizes))}, in {tmp_path}"
    assert [runs.size_text(n) for n in (512, 3400, 12_000_000, 1_500_000_000)] == ["512 B", "3.4 kB", "12.0 MB", "1.5 GB"]


def test_rm_older_than_removes_old_runs_whole_and_stale_leftovers(tmp_path, capsys):
    old = make(tmp_path, "fit", {"k": 1}, days_old=40)
    new = make(tmp_path, "fit", {"k": 2}, days_old=1)
    leftover = tmp_path / f".{old.path.name}.{store._HOST}.999999999.0123abcd"  # a pid that cannot be alive
    leftover.mkdir()
    assert console.main(["runs", "rm", "--older-than", "30", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"removed {old.path.name}" in out and "removed 1 runs" in out and "1 leftover temporaries" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks", new.path.name]


def test_a_missing_store_is_one_line(tmp_path, capsys):
    assert runs.main(["ls", "--out", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"error: no record store at {tmp_path / 'nope'}: nothing has run there yet, or pass --out DIR\n"
