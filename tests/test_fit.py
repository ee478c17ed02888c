import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from empirical.fit import DataConfig, FitConfig, corrupted_data, fit, load_model, load_run
from empirical.records import cached_run
from empirical.models import ModelConfig
from empirical.train import TrainConfig, evaluate

SMALL = FitConfig(DataConfig("digits", n_train=300, n_test=100), ModelConfig("mlp", width=64),
                  TrainConfig(lr=0.1, max_steps=400, progress=False))


def test_a_run_writes_its_whole_record_and_the_cache_serves_the_second_call(tmp_path):
    rec = fit(SMALL, tmp_path)
    assert {p.name for p in rec.path.iterdir()} == {"config.json", "metrics.jsonl", "summary.json",
                                                    "learning_curve.png", "model.pt"}
    s = rec.summary
    assert s["n_train"] == 300 and s["n_test"] == 100 and s["num_classes"] == 10
    assert s["n_params"] == 64 * 64 + 64 + 64 * 10 + 10
    assert s["gap"] == pytest.approx(s["test_error"] - s["train_error"])
    rows = rec.metrics()
    assert rows[-1]["step"] == s["steps"] and rows[-1]["train_acc"] == s["train_acc"]
    mtime = (rec.path / "summary.json").stat().st_mtime_ns
    again = fit(SMALL, tmp_path)
    assert again.summary == s and (again.path / "summary.json").stat().st_mtime_ns == mtime


def test_the_saved_model_reproduces_the_recorded_accuracy(tmp_path):
    rec = fit(SMALL, tmp_path)
    ds = corrupted_data(SMALL).data
    model = load_model(rec, SMALL)
    assert evaluate(model, ds.x_test, ds.y_test)["acc"] == rec.summary["test_acc"]


def test_corruption_is_part_of_the_experiment(tmp_path):
    noisy = FitConfig(SMALL.data, SMALL.model, SMALL.train, corruption="labels:0.5", seed=0)
    rec = fit(noisy, tmp_path)
    assert rec.path != fit(SMALL, tmp_path).path
    assert rec.summary["corrupted_fraction"] == pytest.approx(0.5, abs=0.01)
    ds = corrupted_data(noisy).data
    assert not torch.equal(ds.y_train, corrupted_data(SMALL).data.y_train)


RELOAD = """
import sys
from empirical.fit import corrupted_data, load_run
from empirical.records import config_hash
from empirical.train import evaluate
config, model, record = load_run(sys.argv[1])
ds = corrupted_data(config).data
print(config_hash(config) == record.config["hash"], evaluate(model, ds.x_test, ds.y_test)["acc"] == record.summary["test_acc"],
      config.train.eval_at, config.model.features)
"""


def test_a_record_reloads_in_a_new_process(tmp_path):
    config = FitConfig(SMALL.data, ModelConfig("mlp", width=32, features=8),
                       TrainConfig(lr=0.1, max_steps=20, eval_at=(5, 20), progress=False))
    rec = fit(config, tmp_path)
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", RELOAD, str(rec.path)], cwd=repo, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "(5,", "20)", "8"]


def test_load_run_refuses_a_record_of_another_kind(tmp_path):
    other = cached_run(tmp_path, "bounds", {"k": 1}, lambda out: {})
    with pytest.raises(ValueError, match="is a 'bounds' record, not a fit run"):
        load_run(other.path)
