import dataclasses
import json
import math

import numpy as np
import pytest

from empirical.corruptions import corrupt
from empirical.data import load
from empirical.fit import DataConfig
from empirical.models import ModelConfig
from empirical.noisy import Procedure, RRMConfig, corruption, experiment, recorded_deviations, run
from empirical.sss import SSL_TRAIN, ProbeConfig, SSLConfig
from empirical.train import TrainConfig
from genproof import bounds, rrm
from genproof.claims import bansal2021


def test_gaps_by_hand():
    # Train(0) .9, Test(0) .8, Train(eta) .85, NTrain(eta) .7, Test(eta) .75
    g = rrm.gaps(0.9, 0.8, 0.85, 0.7, 0.75)
    assert g["generalization_gap"] == pytest.approx(0.1)
    assert g["robustness_gap"] == pytest.approx(0.05)
    assert g["memorization_gap"] == pytest.approx(0.15)
    assert g["rationality_gap"] == 0.0 and g["rationality_raw"] == pytest.approx(-0.1)  # NTrain - Test(0), clipped
    assert g["rrm_bound"] == pytest.approx(0.2) and g["clip_slack"] == pytest.approx(0.1)
    assert g["test_shift"] == pytest.approx(-0.05) and g["rationality_gap_test_eta"] == 0.0
    # NTrain(eta) above Test(0) but below Test(eta): only the Test(0) rationality gap is positive
    g = rrm.gaps(0.9, 0.6, 0.88, 0.7, 0.75)
    assert g["rationality_gap"] == pytest.approx(0.1) and g["rationality_gap_test_eta"] == 0.0
    assert g["rrm_bound"] == pytest.approx(g["generalization_gap"])  # nothing clipped: the identity


def test_rrm_bound_is_the_gap_plus_the_clipping_for_any_accuracies():
    rng = np.random.default_rng(0)
    for acc in rng.uniform(0, 1, (200, 5)):
        g = rrm.gaps(*acc)
        assert abs(g["identity_residual"]) < 1e-12
        assert g["clip_slack"] >= 0 and g["rrm_bound"] >= g["generalization_gap"] - 1e-12
        assert g["rrm_bound"] - g["generalization_gap"] == pytest.approx(g["clip_slack"], abs=1e-12)
        # the Test(eta) diagnostic: RRM - gap = clip slack - test shift, which can be negative
        with_test_eta = g["rrm_bound_test_eta"] - g["generalization_gap"]
        clip_test_eta = (g["robustness_gap"] - g["robustness_raw"]) + (g["rationality_gap_test_eta"]
                                                                       - (acc[3] - acc[4]))
        assert with_test_eta == pytest.approx(clip_test_eta - g["test_shift"], abs=1e-12)


@pytest.mark.parametrize(("table", "rows"), [("CIFAR-10", bansal2021.AUTHORS_CIFAR10),
                                             ("ImageNet", bansal2021.AUTHORS_IMAGENET)])
def test_the_authors_published_rows_come_out_of_the_decomposition(table, rows):
    """The README tables of ICLR2021-rep-gen/Rationality-Generalization give, per representation, the
    gaps and Test(0) (in %), not the accuracies of the noisy run. Rebuild the accuracies the gaps imply
    (Train(0) = Test(0) + gap, Train(eta) = Train(0) - robustness: every published robustness is > 0,
    so unclipped; NTrain(eta) = Train(eta) - memorization) and recover the published rationality gap
    and RRM bound, to the six decimals printed, in every row, with rationality against Test(0)."""
    for method, backbone, aug, gap, rob, mem, rat, _, rrm_bound, test in rows:
        assert rob > 0, f"{table} {method} {backbone}: the reconstruction needs an unclipped robustness gap"
        test0 = test / 100
        train0 = test0 + gap / 100
        train_eta = train0 - rob / 100
        ntrain = train_eta - mem / 100
        g = rrm.gaps(train0, test0, train_eta, ntrain, test0)
        row = f"{table} {method} {backbone} aug={aug}"
        assert 100 * g["generalization_gap"] == pytest.approx(gap, abs=1e-9), row
        assert 100 * g["rationality_gap"] == pytest.approx(rat, abs=2e-6), row
        assert 100 * g["rrm_bound"] == pytest.approx(rrm_bound, abs=3e-6), row
        if rat > 0:  # the identity: the bound equals the gap
            assert rrm_bound == pytest.approx(gap, abs=1e-9), row


def test_gaps_refuse_values_that_are_not_accuracies():
    with pytest.raises(ValueError, match="ntrain_eta"):
        rrm.gaps(0.9, 0.8, 0.85, 1.2, 0.75)


def test_description_length_bound_closed_form_and_the_authors_form():
    assert rrm.description_length_bound(1352, 2000) == pytest.approx(math.sqrt(1352 * math.log(2) / 4000))
    assert rrm.description_length_bound(0, 10) == 0
    with pytest.raises(ValueError):
        rrm.description_length_bound(10, 0)
    # the authors' form sqrt(C / (2n)) / eta, at the quick tier's k = 1352 bits, n = 10,000, eta = 0.2
    assert rrm.theorem2_bound(1352 * math.log(2), 10_000, 0.2) == pytest.approx(1.0823, abs=1e-4)
    assert rrm.theorem2_bound(1352, 10_000, 0.2) == pytest.approx(1.3)
    # ours is the authors' (nats) times sqrt(eta) when m = eta n
    for k, n, eta in ((1352, 10_000, 0.2), (500, 50_000, 0.05)):
        ours = rrm.description_length_bound(k, round(eta * n))
        assert ours == pytest.approx(rrm.theorem2_bound(k * math.log(2), n, eta) * math.sqrt(eta))
    with pytest.raises(ValueError, match="n_train"):
        rrm.theorem2_bound(1.0, 0, 0.2)


def test_the_per_run_deviation_bound_holds_on_every_sample_by_pinsker():
    """On the empirical distribution of one run's pairs the deviation bound is Pinsker's inequality:
    it holds for every classifier, including adversarial ones, so alone it is no evidence."""
    rng = np.random.default_rng(1)
    n, c = 2000, 10
    for trial in range(50):
        y = rng.integers(0, c, n)
        noisy = rng.uniform(size=n) < 0.2
        y_tilde = np.where(noisy, (y + rng.integers(1, c, n)) % c, y)
        # a classifier that copies a random fraction of the noisy labels and errs at random elsewhere
        copy = rng.uniform(size=n) < rng.uniform()
        pred = np.where(copy, y_tilde, np.where(rng.uniform(size=n) < 0.3, rng.integers(0, c, n), y))
        right = pred == y
        memorization = right.mean() - right[noisy].mean()
        bound = rrm.deviation_bound(rrm.deviation_complexity((pred - y) % c, (y_tilde - y) % c), noisy.mean())
        assert memorization <= bound + 1e-12


def test_deviation_complexity_is_zero_for_independent_and_the_entropy_for_equal_arrays():
    rng = np.random.default_rng(0)
    noise = np.where(rng.uniform(size=50_000) < 0.2, rng.integers(1, 10, 50_000), 0)
    # plug-in bias is about (C - 1)^2 / (2 n) nats for independent arrays
    assert rrm.deviation_complexity(rng.integers(0, 10, 50_000), noise) < 81 / 50_000 * 2
    p = np.bincount(noise) / len(noise)
    entropy = -(p * np.log(p)).sum()
    assert rrm.deviation_complexity(noise, noise) == pytest.approx(entropy, rel=1e-9)
    assert rrm.deviation_bound(entropy, 0.2) == pytest.approx(math.sqrt(entropy / 2) / 0.2)
    with pytest.raises(ValueError, match="matching"):
        rrm.deviation_complexity(noise[:3], noise[:4])


def test_both_bounds_hold_for_a_lookup_table_memorizer():
    """A classifier that knows every original label (a fixed function of x: 0 bits) and stores the
    training labels of the first j points (j log2 C bits): its memorization gap, measured over 200
    draws of the noise, is below both bounds."""
    ds = load("digits")
    y, n, c, eta = ds.y_train.numpy(), ds.n_train, 10, 0.2
    for j in (50, 400):
        mem, devs, noises = [], [], []
        for seed in range(200):
            noisy = corrupt(ds, corruption(eta), seed=seed)
            y_tilde = noisy.data.y_train.numpy()
            pred = y.copy()
            pred[:j] = y_tilde[:j]
            right, mask = pred == y, noisy.mask.numpy()
            mem.append(right.mean() - right[mask].mean())
            devs.append((pred - y) % c)
            noises.append((y_tilde - y) % c)
        m = int(mask.sum())
        measured = float(np.mean(mem))
        assert measured == pytest.approx((1 - eta) * j / n, abs=0.01)  # closed form: (1 - eta) j / n
        assert measured <= rrm.description_length_bound(j * math.log2(c), m)
        complexity = rrm.deviation_complexity(np.concatenate(devs), np.concatenate(noises))
        assert measured <= rrm.deviation_bound(complexity, eta)


def test_interval_is_a_t_interval():
    iv = rrm.interval([1.0, 2.0, 3.0])
    assert iv["mean"] == 2.0 and iv["n"] == 3
    assert iv["high"] - iv["mean"] == pytest.approx(4.302652729911275 * 1.0 / math.sqrt(3))
    assert rrm.interval([0.5]) == {"mean": 0.5, "low": 0.5, "high": 0.5, "n": 1}


SMALL = RRMConfig(
    DataConfig("digits", n_train=300, n_test=200),
    (Procedure("sss", ModelConfig("mlp", width=64, depth=2, features=8),
               SSLConfig(train=dataclasses.replace(SSL_TRAIN, max_steps=50, batch_size=64)), ProbeConfig(bits=4)),
     Procedure("e2e", ModelConfig("mlp", width=64, depth=2, features=8),
               train=TrainConfig(optimizer="adam", lr=1e-2, max_steps=600))),
    eta=0.2, seeds=(0, 1), sweep=(0.0, 0.2))


def test_noisy_accuracies_are_against_the_original_labels(tmp_path):
    e2e = SMALL.procedures[1]
    noisy = run(e2e, SMALL.data, 0.2, 0, tmp_path)
    a = noisy.accuracies()
    assert a["n_noisy"] == 60 and a["n_train"] == 300
    assert a["train_acc"] == pytest.approx(0.8 * a["clean_train_acc"] + 0.2 * a["ntrain_acc"])
    deviation, noise = noisy.deviations()
    assert (noise != 0).sum() == 60
    assert np.mean(deviation == 0) == pytest.approx(a["train_acc"])
    assert np.mean(deviation == noise) == pytest.approx(a["fit_acc"])
    with pytest.raises(ValueError, match="eta"):
        corruption(1.0)


def test_rrm_report_records_every_term_and_reloads(tmp_path):
    record = rrm.report(SMALL, tmp_path)
    s = record.summary
    assert set(s["procedures"]) == {"sss", "e2e"}
    for p in s["procedures"].values():
        assert len(p["per_seed"]) == 2 and [r["eta"] for r in p["sweep"]] == [0.0, 0.2]
        for row in p["per_seed"]:
            assert abs(row["identity_residual"]) < 1e-12
            assert row["mem_bound_description"] == pytest.approx(
                rrm.description_length_bound(row["description_bits"], row["n_noisy"]))
        assert set(rrm.SUMMARY_TERMS) <= set(p["interval"])
    e2e = s["procedures"]["e2e"]
    assert e2e["description_bits"] > s["procedures"]["sss"]["description_bits"]
    assert {"rrm.png", "noise.png", "summary.json"} <= {f.name for f in record.path.iterdir()}
    # the experiment is cached: the report is rewritten from the same record, to the same numbers
    (noisy,) = tmp_path.glob("noisy-*")
    written = (noisy / "summary.json").stat().st_mtime_ns
    assert rrm.report(SMALL, tmp_path).path == record.path
    assert experiment(SMALL, tmp_path).path == noisy and (noisy / "summary.json").stat().st_mtime_ns == written
    assert rrm.decomposition(experiment(SMALL, tmp_path)) == s
    deviation, noise = recorded_deviations(experiment(SMALL, tmp_path), "e2e", 1)
    assert (noise != 0).sum() == 60 and len(deviation) == 300
    table = rrm.markdown(s)
    assert "| memorization gap Train(eta) - NTrain(eta) |" in table and "| RRM bound rob + mem + rat" in table
    assert "mem. bound, ours" in table and "authors' Theorem II form" in table and "Pinsker" in table
    # the authors' draw: a Binomial number of noisy points, and the bounds read the realized m
    binomial = rrm.decomposition(experiment(dataclasses.replace(SMALL, noise="binomial", seeds=(0,), sweep=()),
                                            tmp_path))
    for p in binomial["procedures"].values():
        (row,) = p["per_seed"]
        assert row["n_noisy"] != 60 and abs(row["n_noisy"] - 60) <= 5 * math.sqrt(300 * 0.2 * 0.8)
        assert row["mem_bound_description"] == pytest.approx(
            rrm.description_length_bound(row["description_bits"], row["n_noisy"]))
    # the bounds table adds the RRM section when asked
    text = bounds.report_markdown({"dataset": "digits", "model": "mlp", "delta": 0.05, "fit_run": "x",
                                   "measured": {"train_error": 0.0, "test_error": 0.1, "gap": 0.1, "n_params": 1,
                                                "n_train": 1, "n_test": 1, "params_per_example": 1, "steps": 1,
                                                "epochs": 1.0, "fitted": True, "uniform_guess_error": 0.9,
                                                "train_wall_s": 1.0},
                                   "bounds": [], "simultaneous": False, "families_using_delta": 0, "family_seconds": {},
                                   "not_evaluated": [], "rrm": dict(s, run=str(record.path))})
    assert "## RRM decomposition (bansal2021)" in text and json.dumps(s)


def test_cli_refuses_a_bad_noise_rate(capsys):
    with pytest.raises(SystemExit):
        rrm.main(["--eta", "1.5"])
    assert "eta" in capsys.readouterr().err


def test_config_refuses_two_procedures_of_one_kind_and_bad_sweeps():
    with pytest.raises(ValueError, match="one procedure of each kind"):
        RRMConfig(procedures=(Procedure("sss"), Procedure("sss")))
    with pytest.raises(ValueError, match="sweep"):
        RRMConfig(sweep=(0.0, 1.0))
    with pytest.raises(ValueError, match="noise must be one of"):
        RRMConfig(noise="poisson")


def test_noise_draws_exact_by_default_or_binomial_as_the_authors():
    assert corruption(0.2) == "labels:0.2" and corruption(0.2, "binomial") == "labels-iid:0.2"
    assert corruption(0.0, "binomial") == "true"
    ds = load("digits")
    exact, binomial = (corrupt(ds, corruption(0.2, noise), seed=0) for noise in ("exact", "binomial"))
    assert int(exact.mask.sum()) == round(0.2 * ds.n_train)
    assert abs(int(binomial.mask.sum()) - 0.2 * ds.n_train) <= 5 * math.sqrt(0.2 * 0.8 * ds.n_train)


def test_the_command_applies_its_options_to_the_preset_and_writes_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rrm, "tier_config", lambda tier, dataset, data_dir: SMALL)
    assert rrm.main(["--seeds", "1", "--eta", "0.4", "--n-test", "100", "--sweep", "0", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (report,) = tmp_path.glob("rrm-*")
    summary = json.loads((report / "summary.json").read_text())
    assert f"written: {report}" in out and (report / "rrm.png").exists()
    assert summary["eta"] == 0.4 and summary["seeds"] == [1]
