"""nakkiran2021's Deep Bootstrap: the two worlds' data, the cosine rule, the CIFAR-5m reader, the
formulas (stopping time, bootstrap error, Kendall's tau against scipy), a tiny experiment end to
end, and the one-line errors."""

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import torch

from empirical import worlds
from empirical.data import DATASETS, POOLS, cifar5m, load, missing
from empirical.data.files import DataNotFoundError
from empirical.deep_bootstrap import BootstrapConfig, WorldRun, experiment, run
from empirical.models import ModelConfig
from empirical.train import TrainConfig, train
from empirical.worlds import WorldsData, draw, eval_grid, ideal_stream, real_source
from genproof import bootstrap
from genproof.bootstrap import JUDGED_RULE, analysis, bootstrap_error, stopping_time, stopping_times
from genproof.ranking import kendall_tau

CPU = torch.device("cpu")


def tiny_train(steps=24, batch=8, augment="none"):
    return TrainConfig(optimizer="sgd", lr_schedule="cosine", lr=0.1, momentum=0.0, batch_size=batch, max_steps=steps,
                       stop_at_fit=False, soft_error=True, eval_at=eval_grid(steps, 6), augment=augment, device="cpu")


@pytest.fixture
def fake_pool(monkeypatch):
    """A pool of 100 'images' whose single pixel is their index, and 10 test images."""
    x = torch.arange(100, dtype=torch.float32).reshape(100, 1, 1)
    pool = (x, torch.arange(100) % 10, torch.zeros(10, 1, 1), torch.arange(10))
    monkeypatch.setattr(worlds, "_pool", lambda name, data_dir: pool)
    return pool


def test_pool_worlds_are_disjoint_and_seeded(fake_pool):
    data = WorldsData("fashion-mnist", n_train=30, n_test=None)
    w = draw(data, 64, seed=1)
    real, fresh = set(w.real[0].flatten().tolist()), set(w.fresh[0].flatten().tolist())
    assert len(real) == 30 and len(fresh) == 64 and not real & fresh
    assert torch.equal(draw(data, 64, seed=1).fresh[0], w.fresh[0])
    assert not torch.equal(draw(data, 64, seed=2).real[0], w.real[0])


def test_pool_refuses_too_much(fake_pool):
    with pytest.raises(ValueError, match="pool holds 100 images; ask for at most 100"):
        draw(WorldsData("fashion-mnist", n_train=101, n_test=None), 1, seed=0)
    with pytest.raises(ValueError, match=r"needs steps x batch = 80 .* only 70 are left .* lower steps"):
        draw(WorldsData("fashion-mnist", n_train=30, n_test=None), 80, seed=0)


def test_procedural_worlds_split_one_draw():
    w = draw(WorldsData("gaussian-mixture", n_train=20, n_test=30), 40, seed=0)
    assert len(w.real[1]) == 20 and len(w.fresh[1]) == 40 and len(w.test[1]) == 30
    rows = {tuple(r) for r in torch.cat([w.real[0], w.fresh[0]]).tolist()}
    assert len(rows) == 60  # no example appears twice


def test_ideal_stream_never_repeats_and_stops(fake_pool):
    w = draw(WorldsData("fashion-mnist", n_train=10, n_test=None), 32, seed=0)
    stream = ideal_stream(w, 8, "none", seed=0, device=CPU)
    seen = torch.cat([stream.next_batch()[0] for _ in range(4)]).flatten().tolist()
    assert sorted(seen) == sorted(w.fresh[0].flatten().tolist())
    with pytest.raises(ValueError, match="fresh examples for 4 steps"):
        stream.next_batch()


def test_real_source_walks_full_batches(fake_pool):
    w = draw(WorldsData("fashion-mnist", n_train=20, n_test=None), 8, seed=0)
    source = real_source(w, 8, "none", seed=0, device=CPU)
    assert source.steps_per_epoch == 2 and all(len(source.next_batch()[0]) == 8 for _ in range(5))


def test_eval_grid():
    grid = eval_grid(2000, 40)
    assert grid[0] == 1 and grid[-1] == 2000 and list(grid) == sorted(set(grid))
    assert np.diff(grid)[:5].max() <= np.diff(grid)[-5:].min()  # denser early
    with pytest.raises(ValueError, match="steps >= 1"):
        eval_grid(0)


def test_cosine_schedule_follows_its_formula():
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    config = TrainConfig(optimizer="sgd", lr_schedule="cosine", lr=0.1, momentum=0.0, batch_size=8, max_steps=10,
                         stop_at_fit=False, eval_every=1, device="cpu")
    result = train(torch.nn.Linear(4, 2), (x, y), config, evals={"train": (x, y)})
    # the row of step s shows the size step s was taken with, lr (1 + cos(pi (s - 1) / 10)) / 2
    assert [r["lr"] for r in result.history] == pytest.approx([0.05 * (1 + math.cos(math.pi * (s - 1) / 10))
                                                               for s in range(1, 11)])
    assert result.history[0]["lr"] == 0.1 and result.history[5]["lr"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="lr_decay must be 1"):
        TrainConfig(lr_schedule="cosine", lr_decay=0.9)


def write_parts(folder, n=3, parts=cifar5m.PARTS):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i, p in enumerate(parts):
        np.savez(folder / p, X=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), Y=np.full(n, i))


def test_cifar5m_reads_the_authors_format(tmp_path):
    write_parts(tmp_path / "cifar5m")
    a = cifar5m.arrays(tmp_path)
    assert a.x_train.shape == (15, 3, 32, 32) and a.x_test.shape == (3, 3, 32, 32)
    assert a.y_train.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3 and a.y_test.tolist() == [5] * 3
    with np.load(tmp_path / "cifar5m" / "part0.npz") as z:  # channels last on disk, first in memory
        assert np.array_equal(a.x_train[0], z["X"][0].transpose(2, 0, 1))


def test_cifar5m_pool_is_read_into_one_array(tmp_path):
    """The pool is written part by part into one array sized from the parts' headers: reading peaks
    at the pool and two parts (the parts and their concatenation: 11 parts for a pool of 5)."""
    import tracemalloc

    n = 2000
    write_parts(tmp_path, n=n)
    part = n * 3 * 32 * 32
    tracemalloc.start()
    try:
        a = cifar5m.arrays(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert a.x_train.shape == (5 * n, 3, 32, 32) and a.x_train.flags.c_contiguous
    assert peak < 5 * part + 3 * part, f"peak {peak / part:.1f} parts for a pool of 5"
    with np.load(tmp_path / "part4.npz") as z:
        assert np.array_equal(a.x_train[4 * n:], z["X"].transpose(0, 3, 1, 2))


def test_cifar5m_missing_part_is_one_line(tmp_path):
    write_parts(tmp_path, parts=cifar5m.PARTS[:3] + cifar5m.PARTS[4:])
    with pytest.raises(DataNotFoundError, match=r"lacks part3.npz; add it, or it is never downloaded"):
        cifar5m.arrays(tmp_path)


def test_cifar5m_is_a_registered_pool(tmp_path, monkeypatch):
    monkeypatch.delenv("GENPROOF_DATA", raising=False)
    assert POOLS == ("fashion-mnist", "cifar5m") and DATASETS.entry("cifar5m").origin == "genproof"
    reason = missing("cifar5m", tmp_path / "nowhere")
    assert "cifar5m: nothing in [" in reason and "--data-dir DIR" in reason and "GENPROOF_DATA" in reason
    assert "\n" not in reason
    write_parts(tmp_path / "cifar5m", n=4)
    ds = load("cifar5m", data_dir=tmp_path)  # the registry reads it as it reads every file-backed set
    assert (ds.n_train, ds.n_test, ds.num_classes, ds.input_shape) == (20, 4, 10, (3, 32, 32))
    assert float(ds.x_train.max()) <= 1.0


def test_formulas():
    assert stopping_time([1, 2, 4, 8], [0.5, 0.2, 0.009, 0.0], 0.01) == 4
    assert stopping_time([1, 2], [0.5, 0.01], 0.01) is None  # below 1%, strictly
    assert bootstrap_error([0.5, 0.4], [0.45, 0.41]) == pytest.approx([0.05, -0.01])
    with pytest.raises(ValueError, match="same steps"):
        bootstrap_error([0.5], [0.4, 0.3])


# one Real World train curve, made by hand: the errors are gone at step 220, the loss falls below 0.01 at 455
CURVE_STEPS = [1, 50, 100, 220, 300, 455, 600]
CURVE_ERROR = [0.9, 0.2, 0.05, 0.008, 0.0, 0.0, 0.0]
CURVE_LOSS = [2.3, 0.6, 0.2, 0.042, 0.02, 0.0099, 0.004]


def test_stopping_rules_on_one_curve():
    assert stopping_times(CURVE_STEPS, CURVE_ERROR, CURVE_LOSS) == {"train-error<1%": 220, "train-loss<0.01": 455}
    assert JUDGED_RULE == "train-error<1%"
    assert stopping_times(CURVE_STEPS, CURVE_ERROR, [1.0] * 7)["train-loss<0.01"] is None  # never below: no T_D


def _runs(augmented: bool):
    """Two seeds of one hand-made model; with augmentation the clean samples fit at 100, the augmented ones as above."""
    clean = {"real_train_error": [0.9, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0], "real_train_loss": [2.3, 0.5, 0.009] + [0.001] * 4}
    fit = {"real_augmented_train_error": CURVE_ERROR, "real_augmented_train_loss": CURVE_LOSS} if augmented else {
        "real_train_error": CURVE_ERROR, "real_train_loss": CURVE_LOSS}
    soft = [0.9, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3]
    return [{"seed": s, "steps": CURVE_STEPS, **clean, **fit, "real_test_soft_error": soft, "real_test_error": soft,
             "ideal_test_soft_error": soft, "ideal_test_error": soft} for s in (0, 1)]


@pytest.mark.parametrize("augment", ["none", "crop+flip"])
def test_analysis_reports_both_rules_on_the_authors_training_set(augment):
    summary = {"dataset": "x", "n_train": 5, "steps": 600, "batch_size": 2, "augment": augment, "seeds": [0, 1],
               "models": {"a": {"runs": _runs(augment != "none")}}}
    m = analysis(summary)["models"]["a"]
    assert m["stopping_time_by_rule"] == {"train-error<1%": 220, "train-loss<0.01": 455}
    assert m["stopping_time"] == 220 and m["stopping_times"] == [220, 220] and m["stopping_rule"] == "train-error<1%"
    assert m["train_set"] == ("clean" if augment == "none" else "augmented")
    if augment != "none":  # the clean samples fit earlier; reported beside, never judged
        assert m["stopping_time_clean"] == {"train-error<1%": 100, "train-loss<0.01": 100}
        del summary["models"]["a"]["runs"][0]["real_augmented_train_error"]
        with pytest.raises(ValueError, match="hold no augmented_train curves"):
            analysis(summary)


def test_kendall_tau_against_scipy_and_pairs():
    rng = np.random.default_rng(0)
    for n in (3, 4, 7):
        a, b = rng.permutation(n), rng.permutation(n)
        assert kendall_tau(a, b) == pytest.approx(scipy.stats.kendalltau(a, b).statistic)
        pairs = list(itertools.combinations(range(n), 2))
        c = sum((a[i] - a[j]) * (b[i] - b[j]) > 0 for i, j in pairs)
        assert kendall_tau(a, b) == pytest.approx((2 * c - len(pairs)) / len(pairs))
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == 1 and kendall_tau([1, 2, 3], [3, 2, 1]) == -1


def test_world_run_checks_its_config():
    with pytest.raises(ValueError, match="stop_at_fit=False"):
        WorldRun("real", WorldsData("teacher", 20, 20), ModelConfig("mlp", width=8), TrainConfig(device="cpu"))
    with pytest.raises(ValueError, match="world must be"):
        WorldRun("other", WorldsData("teacher", 20, 20), ModelConfig("mlp", width=8), tiny_train())
    with pytest.raises(ValueError, match="fresh samples"):
        WorldsData("digits")


def test_tiny_experiment_end_to_end(tmp_path):
    models = (ModelConfig("mlp", width=16), ModelConfig("mlp", width=8, depth=2))
    config = BootstrapConfig(WorldsData("gaussian-mixture", 24, 50), models, tiny_train(), seeds=(0, 1))
    record = experiment(config, tmp_path)
    runs = record.summary["models"]["mlp 1x16"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and runs[0]["steps"][-1] == 24
    assert {"real_train_error", "real_test_soft_error", "ideal_test_soft_error", "ideal_test_error"} <= set(runs[0])
    assert "ideal_train_error" not in runs[0]
    # the same initialization in both worlds: their first step starts from one network
    real = run(WorldRun("real", config.data, models[0], config.train, 0), tmp_path).metrics()
    ideal = run(WorldRun("ideal", config.data, models[0], config.train, 0), tmp_path).metrics()
    assert real[0]["lr"] == ideal[0]["lr"] and len(real) == len(ideal)
    result = analysis(record.summary)
    m = result["models"]["mlp 1x16"]
    mean_real = np.mean([r["real_test_soft_error"] for r in runs], axis=0)
    mean_ideal = np.mean([r["ideal_test_soft_error"] for r in runs], axis=0)
    assert m["bootstrap_error_curve"] == pytest.approx(mean_real - mean_ideal)
    assert -1 <= result["tau"] <= 1 and "| mlp 1x16 |" in bootstrap.markdown(result)


def test_augmented_real_world_is_measured_on_augmented_samples(tmp_path, fake_pool):
    train_config = tiny_train(steps=8, augment="crop")
    config = BootstrapConfig(WorldsData("fashion-mnist", 24, None), (ModelConfig("mlp", width=8),), train_config,
                             seeds=(0,))
    (real, ideal) = config.runs()
    assert real.augmented_train and not ideal.augmented_train  # derived from the world and the augmentation
    unaugmented = WorldRun("real", config.data, config.models[0], tiny_train())
    assert not unaugmented.augmented_train
    (r,) = experiment(config, tmp_path).summary["models"]["mlp 1x8"]["runs"]
    assert {"real_augmented_train_error", "real_augmented_train_loss", "real_train_error", "real_train_loss"} <= set(r)
    assert "ideal_augmented_train_error" not in r
    # the augmented samples are not the clean ones: the two losses differ at some evaluation
    assert r["real_augmented_train_loss"] != r["real_train_loss"]


@pytest.mark.parametrize("argv, message", [
    pytest.param(["--dataset", "fashion-mnist", "--n-train", "70000"], "pool holds 60000 images",
                 marks=pytest.mark.needs_data("fashion-mnist")),
    pytest.param(["--dataset", "fashion-mnist", "--n-train", "1000", "--max-steps", "1000", "--batch-size", "128"],
                 "lower steps, batch_size or n_train", marks=pytest.mark.needs_data("fashion-mnist")),
    (["--models", "mlp:3"], "bad model 'mlp:3': write mlp:DEPTHxWIDTH"),
])
def test_cli_bad_input_is_one_line(argv, message, capsys, tmp_path):
    assert bootstrap.main([*argv, "--out", str(tmp_path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_cli_cifar5m_missing_part(capsys, tmp_path):
    write_parts(tmp_path / "c5m", parts=cifar5m.PARTS[:5])
    assert bootstrap.main(["--dataset", "cifar5m", "--data-dir", str(tmp_path / "c5m"), "--out", str(tmp_path),
                           "--device", "cpu", "--seeds", "0"]) == 2
    assert "lacks part5.npz; add it" in capsys.readouterr().err


def test_figures_draw(tmp_path):
    steps = [1, 2, 4, 8]
    runs = [{"seed": s, "steps": steps, "real_test_soft_error": [0.9, 0.7, 0.5, 0.5],
             "real_test_error": [0.9, 0.6, 0.4, 0.4], "real_train_error": [0.9, 0.3, 0.0, 0.0],
             "real_train_loss": [2.0, 0.8, 0.05, 0.02], "ideal_test_soft_error": [0.9, 0.7, 0.5, 0.4],
             "ideal_test_error": [0.9, 0.6, 0.4, 0.3]} for s in (0, 1)]
    summary = {"dataset": "x", "n_train": 5, "steps": 8, "batch_size": 2, "augment": "none", "seeds": [0, 1],
               "models": {"a": {"runs": runs}}}
    result = analysis(summary)
    assert result["models"]["a"]["stopping_time"] == 4 and result["tau"] is None
    assert result["models"]["a"]["ideal_drop_after_stop"] == pytest.approx(0.1)
    assert math.isclose(result["models"]["a"]["bootstrap_error_end"], 0.1)
    bootstrap.figure1(result).savefig(tmp_path / "f.png")
    bootstrap.scatter(result, summary).savefig(tmp_path / "s.png")
