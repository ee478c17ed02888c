import json

import pytest

from empirical.data import cifar10, files
from genproof import bounds


def test_default_run_prints_the_table_and_writes_its_run_directory(tmp_path, capsys):
    assert bounds.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| train error |" in out and "| generalization gap (test error - train error) |" in out
    (run,) = tmp_path.glob("bounds-*")
    result = json.loads((run / "bounds.json").read_text())
    m = result["measured"]
    assert m["n_train"] == 1437 and m["n_test"] == 360 and result["dataset"] == "digits"
    assert m["gap"] == pytest.approx(m["test_error"] - m["train_error"])
    assert m["test_error"] < 0.1  # a 1x512 MLP gets digits right
    rows = {b["name"]: b for b in result["bounds"]}
    stab = rows["uniform stability, non-convex SGD"]
    assert stab["implied_gap"] == pytest.approx(stab["value"] - m["train_error"])
    assert stab["vacuous"] == (stab["value"] >= 1)
    assert "| uniform stability, non-convex SGD |" in out
    assert {p.name for p in run.iterdir()} == {"config.json", "bounds.json", "bounds.md", "bounds.png"}
    (fit_run,) = tmp_path.glob("fit-*")
    assert result["fit_run"] == str(fit_run)
    assert bounds.main(["--out", str(tmp_path)]) == 0  # the second call reads the cache
    assert len(list(tmp_path.glob("fit-*"))) == 1


def test_offline_without_data_fails_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GENPROOF_DATA", raising=False)
    monkeypatch.setattr(files, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(cifar10, "URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")  # nothing listens
    code = bounds.main(["--dataset", "cifar10", "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err
    assert "--data-dir" in err or "GENPROOF_DATA" in err


def test_bad_arguments_are_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        bounds.main(["--dataset", "imagenet"])
    assert "invalid choice: 'imagenet'" in capsys.readouterr().err
