"""Records copied to TensorBoard and MLflow, read back through the trackers' own readers and held
against the record; a failure to log is a warning."""

import json
import sys

import pytest

from empirical import trackers
from empirical.records import Record
from genproof import bounds

METRICS = [{"step": 0, "epoch": 0.0, "train_loss": 2.3, "train_acc": 0.1},
           {"step": 5, "epoch": 1.0, "train_loss": 0.7, "train_acc": 0.8125, "batch_loss": 0.6},
           {"step": 12, "epoch": 2.0, "train_loss": 0.05, "train_acc": 1.0, "batch_loss": 0.04}]
SUMMARY = {"measured": {"gap": 0.0755, "fitted": True, "steps_to_fit": 12, "lost": float("nan")},
           "bounds": [{"family": "vc", "value": 2.2375, "vacuity": "vacuous"},
                      {"family": "norms", "value": 41.5, "vacuity": "vacuous"}],
           "dataset": "digits"}
CONFIG = {"name": "fit", "hash": "abc", "config": {"data": {"name": "digits", "n_train": 100}, "seed": 0}}


def _record(tmp_path) -> Record:
    run = tmp_path / "fit-abc"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(CONFIG))
    (run / "summary.json").write_text(json.dumps(SUMMARY))
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in METRICS) + "\n")
    (run / "bounds.md").write_text("| family | value |\n|---|---|\n| vc | 2.2375 |\n")
    return Record.load(run)


def _expected_scalars() -> dict[str, float]:
    """The record's numbers, by hand: finite ones, booleans as 0/1, the NaN left out."""
    return {"measured/gap": 0.0755, "measured/fitted": 1.0, "measured/steps_to_fit": 12.0,
            "bounds/0/value": 2.2375, "bounds/1/value": 41.5}


def test_the_entry_of_a_record_holds_its_numbers_strings_and_markdown(tmp_path):
    entry = trackers.from_record(_record(tmp_path))
    assert entry.name == "fit-abc" and entry.series == METRICS
    assert entry.scalars == _expected_scalars()
    assert entry.params["bounds/0/vacuity"] == "vacuous" and entry.params["config/config/data/name"] == "digits"
    assert entry.params["config/config/data/n_train"] == "100"
    assert entry.texts == {"bounds.md": (tmp_path / "fit-abc" / "bounds.md").read_text()}


def _tensorboard_readback(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    texts = {tag: acc.Tensors(tag)[0].tensor_proto.string_val[0].decode() for tag in acc.Tags()["tensors"]}
    return scalars, texts


def test_tensorboard_event_files_read_back_as_the_record(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed (pip install genproof[tensorboard])")
    record = _record(tmp_path)
    folder = trackers.log(trackers.from_record(record), "tensorboard", tmp_path / "tb")
    scalars, texts = _tensorboard_readback(folder)
    for key in ("epoch", "train_loss", "train_acc", "batch_loss"):  # the metrics along training, at their steps
        want = [(r["step"], r[key]) for r in METRICS if key in r]
        assert [s for s, _ in scalars[key]] == [s for s, _ in want]
        assert [v for _, v in scalars[key]] == pytest.approx([v for _, v in want], rel=1e-7)  # float32 in the file
    summary = {k.removeprefix("summary/"): v for k, v in scalars.items() if k.startswith("summary/")}
    assert summary.keys() == _expected_scalars().keys()
    for k, want in _expected_scalars().items():
        assert summary[k] == [(0, pytest.approx(want, rel=1e-7))]
    assert texts["bounds.md/text_summary"] == record.path.joinpath("bounds.md").read_text()
    assert "    bounds/1/vacuity = vacuous" in texts["params/text_summary"].splitlines()
    again = trackers.Entry(record.path.name, scalars={"measured/gap": 0.5})  # the record computed again
    assert trackers.log(again, "tensorboard", tmp_path / "tb") == folder
    scalars, _ = _tensorboard_readback(folder)
    assert scalars == {"summary/measured/gap": [(0, 0.5)]}  # the earlier copy replaced, not doubled


def _mlflow_client(to, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install genproof[mlflow])")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv(trackers.ALLOW, "true")  # MLflow 3 reads its file store only with this opt-out
    return MlflowClient(tracking_uri=to.resolve().as_uri())


def test_mlflow_file_store_reads_back_as_the_record(tmp_path, monkeypatch):
    record = _record(tmp_path)
    client = _mlflow_client(tmp_path / "mlruns", monkeypatch)
    monkeypatch.delenv(trackers.ALLOW)  # the logger sets it itself
    run_id = trackers.log(trackers.from_record(record), "mlflow", tmp_path / "mlruns")
    monkeypatch.setenv(trackers.ALLOW, "true")
    run = client.get_run(run_id)
    assert run.info.run_name == "fit-abc" and run.info.status == "FINISHED"
    for key in ("epoch", "train_loss", "train_acc", "batch_loss"):
        history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        assert history == [(r["step"], r[key]) for r in METRICS if key in r]  # float64 in the store: exact
    assert {k.removeprefix("summary/"): v for k, v in run.data.metrics.items() if k.startswith("summary/")} == \
        _expected_scalars()
    assert run.data.params["bounds/0/vacuity"] == "vacuous" and run.data.params["dataset"] == "digits"
    local = client.download_artifacts(run_id, "bounds.md", str(tmp_path))
    assert open(local).read() == record.path.joinpath("bounds.md").read_text()
    again = trackers.log(trackers.Entry("fit-abc", scalars={"measured/gap": 0.5}), "mlflow", tmp_path / "mlruns")
    (run,) = client.search_runs([run.info.experiment_id])  # the earlier copy replaced, not doubled
    assert run.info.run_id == again and run.data.metrics == {"summary/measured/gap": 0.5}


def test_a_failure_to_log_is_a_warning_and_the_record_is_untouched(tmp_path, monkeypatch):
    record = _record(tmp_path)
    before = {p.name: p.read_bytes() for p in record.path.iterdir()}
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    for name in ("mlflow", "mlflow.entities", "mlflow.tracking"):  # the extra missing: its import fails
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.warns(trackers.TrackerWarning, match=r"fit-abc was not logged to mlflow .*genproof\[mlflow\]"):
        assert trackers.log(trackers.from_record(record), "mlflow", blocked) is None
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    with pytest.warns(trackers.TrackerWarning, match="not logged to tensorboard"):  # a file where a folder should be
        assert trackers.log(trackers.from_record(record), "tensorboard", blocked) is None
    assert {p.name: p.read_bytes() for p in record.path.iterdir()} == before
    with pytest.raises(ValueError, match="tensorboard, mlflow"):
        trackers.log(trackers.from_record(record), "wandb", tmp_path)


def test_the_bounds_command_logs_its_training_run_and_its_table(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed (pip install genproof[tensorboard])")
    fit = _record(tmp_path)  # a recorded training run and a bounds table that names it, as `bounds.run` leaves them
    table = tmp_path / "bounds-def"
    table.mkdir()
    (table / "config.json").write_text(json.dumps({"name": "bounds", "hash": "def", "config": {}}))
    (table / "summary.json").write_text(json.dumps({**SUMMARY, "fit_run": fit.path.name, "measured": {
        "train_error": 0.0, "test_error": 0.0755, "gap": 0.0755, "uniform_guess_error": 0.9}}))
    (table / "bounds.md").write_text("the full table\n")
    monkeypatch.setattr(bounds, "run", lambda config, out, force: Record.load(table))
    monkeypatch.setattr("genproof.report.bounds_text", lambda summary: "the terminal table")
    assert bounds.main(["--out", str(tmp_path), "--log", "tensorboard"]) == 0
    assert capsys.readouterr().out.count("logged to tensorboard: ") == 2
    scalars, _ = _tensorboard_readback(tmp_path / "tensorboard" / "fit-abc")
    assert [s for s, _ in scalars["train_acc"]] == [r["step"] for r in METRICS]
    scalars, texts = _tensorboard_readback(tmp_path / "tensorboard" / "bounds-def")
    assert [scalars[f"summary/bounds/{i}/value"][0][1] for i in range(2)] == pytest.approx([2.2375, 41.5], rel=1e-7)
    assert texts["bounds.md/text_summary"] == "the full table\n"


def test_the_records_numbers_that_are_not_finite_stay_in_the_record_only():
    numbers, strings = trackers.flatten({"a": [1, float("inf")], "b": {"c": float("nan"), "d": "x", "e": None}})
    assert numbers == {"a/0": 1.0} and strings == {"b/d": "x"}
