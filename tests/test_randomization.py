import pytest

from empirical import randomization
from empirical.fit import DataConfig
from empirical.models import ModelConfig
from empirical.randomization import RandomizationConfig, Regularizers, corruption_rate, per_kind, run
from empirical.train import TrainConfig

SMALL = RandomizationConfig(DataConfig("digits", n_train=200, n_test=100), ModelConfig("mlp", width=64),
                            TrainConfig(lr=0.1, max_steps=3000, progress=False),
                            kinds=("true", "labels-all:0.5", "random-labels", "gaussian"), seeds=(0, 1))


def test_sweep_records_every_kind_and_seed_and_draws_figure_1(tmp_path):
    rec = run(SMALL, tmp_path)
    s = rec.summary
    assert list(s["results"]) == list(SMALL.kinds) and all(list(v) == ["0", "1"] for v in s["results"].values())
    row = s["results"]["random-labels"]["0"]
    assert {"train_acc", "test_acc", "steps_to_fit", "epochs_to_fit", "wall_s", "fitted", "run"} <= set(row)
    assert row["fitted"] == (row["steps_to_fit"] is not None)
    assert {"fig1a_loss.png", "fig1b_fit_time.png", "fig1c_errors.png"} <= {p.name for p in rec.path.iterdir()}
    assert per_kind(s, "test_acc")["true"][0] > per_kind(s, "test_acc")["random-labels"][0]
    # each (kind, seed) is its own cached fit run; a second sweep over a subset trains nothing new
    fits = sorted(tmp_path.glob("fit-*"))
    assert len(fits) == 8
    sub = run(RandomizationConfig(SMALL.data, SMALL.model, SMALL.train, kinds=("true",), seeds=(1,)), tmp_path)
    assert sorted(tmp_path.glob("fit-*")) == fits
    assert sub.summary["results"]["true"]["1"] == s["results"]["true"]["1"]


def test_corruption_rates_on_the_figure_axis():
    assert [corruption_rate(k) for k in ("true", "labels:0.3", "labels-all:0.7", "random-labels", "gaussian")] == [
        0.0, 0.3, 0.7, 1.0, None]
    with pytest.raises(ValueError, match="unknown corruption kind"):
        corruption_rate("noise")


def test_regularizers_switch_on_by_name():
    assert Regularizers.parse("none") == Regularizers()
    r = Regularizers.parse("wd,dropout,aug")
    model, train = r.apply(ModelConfig(), TrainConfig())
    assert (model.dropout, train.weight_decay, train.augment) == (0.5, 5e-4, "crop")
    with pytest.raises(ValueError, match="unknown regularizer"):
        Regularizers.parse("wd,batchnorm")


def test_cli_writes_summary_and_figures(tmp_path, capsys):
    code = randomization.main(["--dataset", "digits", "--n-train", "100", "--n-test", "50", "--model", "mlp:1x32",
                               "--kinds", "true,random-pixels", "--max-steps", "500", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| true |" in out and "| random-pixels |" in out
    (sweep,) = tmp_path.glob("randomization-*")
    assert (sweep / "summary.json").exists() and (sweep / "fig1a_loss.png").exists()
    with pytest.raises(SystemExit):
        randomization.main(["--kinds", "true,labels:1.5"])
    assert "eta must be a fraction in [0, 1]" in capsys.readouterr().err
