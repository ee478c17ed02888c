import json
from dataclasses import dataclass, field

import pytest
import torch

from empirical.records import Record, RecordError, cached_run, config_hash, default_root, versions, write_json, write_jsonl
from empirical.train import TrainConfig


@dataclass(frozen=True)
class Inner:
    a: int = 1


@dataclass(frozen=True)
class Cfg:
    inner: Inner = Inner()
    lr: float = 0.1
    where: str | None = field(default=None, metadata={"identity": False})


def test_hash_names_the_experiment_not_where_it_ran():
    assert config_hash(Cfg()) == config_hash(Cfg(where="/elsewhere"))
    assert config_hash(Cfg()) != config_hash(Cfg(lr=0.2))
    assert config_hash(Cfg()) != config_hash(Cfg(inner=Inner(2)))
    assert len(config_hash(Cfg())) == 12


@dataclass(frozen=True)
class CfgWithANewField:  # Cfg after a release that added a field with a default
    inner: Inner = Inner()
    lr: float = 0.1
    where: str | None = field(default=None, metadata={"identity": False})
    momentum: float = 0.0


def test_adding_a_field_with_a_default_keeps_old_hashes():
    assert config_hash(CfgWithANewField()) == config_hash(Cfg())
    assert config_hash(CfgWithANewField(lr=0.3)) == config_hash(Cfg(lr=0.3))
    assert config_hash(CfgWithANewField(momentum=0.9)) != config_hash(Cfg())


def test_the_device_is_resolved_before_hashing():
    assert TrainConfig().device in ("cpu", "cuda")
    assert config_hash(TrainConfig()) == config_hash(TrainConfig(device=TrainConfig().device))
    with pytest.raises(ValueError, match="device must be"):
        TrainConfig(device="tpu")


def test_records_say_which_code_made_them(monkeypatch, tmp_path):
    v = versions()
    assert {"python", "genproof", "commit", "torch", "numpy"} <= set(v)
    assert v["genproof"]  # the installed distribution's version
    monkeypatch.setenv("GENPROOF_CACHE", str(tmp_path))
    assert default_root() == tmp_path
    monkeypatch.delenv("GENPROOF_CACHE")
    assert default_root().name == "runs" and "genproof" in default_root().parts


def test_cache_returns_the_first_result_and_force_recomputes(tmp_path):
    calls = []

    def compute(out):
        calls.append(out)
        write_jsonl(out / "metrics.jsonl", [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}])
        return {"value": len(calls)}

    first = cached_run(tmp_path, "exp", Cfg(), compute)
    again = cached_run(tmp_path, "exp", Cfg(where="x"), compute)
    assert first.path == again.path == tmp_path / f"exp-{config_hash(Cfg())}"
    assert again.summary == {"value": 1} and len(calls) == 1
    assert again.metrics() == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]
    saved = json.loads((first.path / "config.json").read_text())
    assert saved["config"] == {"inner": {"a": 1}, "lr": 0.1, "where": None}
    assert saved["hash"] == config_hash(Cfg()) and {"torch", "numpy", "python", "commit"} <= set(saved["versions"])
    assert saved["machine"]["torch_threads"] == torch.get_num_threads() and saved["machine"]["cpus"] >= 1
    forced = cached_run(tmp_path, "exp", Cfg(), compute, force=True)
    assert forced.summary == {"value": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks", first.path.name]  # the old run is gone whole


def test_a_failed_run_leaves_nothing_behind(tmp_path):
    def broken(out):
        (out / "partial.txt").write_text("half")
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        cached_run(tmp_path, "exp", Cfg(), broken)
    assert [p.name for p in tmp_path.iterdir()] == [".locks"]


def test_writes_are_whole_files_and_leave_no_temporaries(tmp_path):
    write_json(tmp_path / "a" / "b.json", {"x": [1, 2], "y": (3,)})
    assert json.loads((tmp_path / "a" / "b.json").read_text()) == {"x": [1, 2], "y": [3]}
    with pytest.raises(TypeError):
        write_json(tmp_path / "a" / "b.json", {"x": object()})
    assert json.loads((tmp_path / "a" / "b.json").read_text()) == {"x": [1, 2], "y": [3]}
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.json"]


def test_loading_an_unfinished_run_says_what_is_missing(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RecordError, match="summary.json missing; rerun with --force"):
        Record.load(tmp_path)
