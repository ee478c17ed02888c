"""genproof.study: every statistic against a brute-force computation on a small hand-made table, the
study end to end on a tiny grid (serial), and the command line's errors."""

import itertools
import math
import random
from dataclasses import replace

import pytest
import torch
from scipy import stats as scipy_stats

from empirical import sweep
from empirical.fit import DataConfig
from genproof import pgdl, study
from genproof.study import (StudyConfig, StudyIncomplete, environments, granulated, hoeffding_weight, mean_psi,
                            sign_error, statistics)


# ---- a hand-made table: axes a (3 values), b (2 values), seed (2 values); 12 networks ----------

AXES = ["a", "b", "seed"]
GRID = [dict(zip(AXES, v)) for v in itertools.product((1, 2, 3), ("x", "y"), (0, 1))]


def _table(seed: int):
    """Distinct measures and gaps (no ties), drawn from `seed`."""
    rng = random.Random(seed)
    return [rng.random() for _ in GRID], [rng.random() for _ in GRID]


def test_tau_is_scipys_kendall_tau_without_ties():
    measure, gap = _table(0)
    assert statistics(GRID, measure, gap, AXES, test_size=100)["tau"] == pytest.approx(
        scipy_stats.kendalltau(measure, gap).statistic)


def test_psi_is_the_mean_tau_over_groups_that_differ_in_one_axis_brute_force():
    for seed in range(5):
        measure, gap = _table(seed)
        psi = granulated(GRID, measure, gap, AXES)
        assert set(psi) == {"a", "b"}  # the seed is no hyperparameter
        for axis in ("a", "b"):
            others = [x for x in AXES if x != axis]
            taus = []
            for fixed in itertools.product(*(sorted({s[o] for s in GRID}) for o in others)):
                group = [k for k, s in enumerate(GRID) if all(s[o] == v for o, v in zip(others, fixed))]
                if len(group) == 2:  # two networks: tau is the sign of the product of the differences
                    (p, q) = group
                    taus.append(math.copysign(1, (measure[p] - measure[q]) * (gap[p] - gap[q])))
                else:
                    taus.append(scipy_stats.kendalltau([measure[k] for k in group], [gap[k] for k in group]).statistic)
            assert psi[axis] == pytest.approx(sum(taus) / len(taus))
        assert mean_psi(psi) == pytest.approx((psi["a"] + psi["b"]) / 2)


def test_psi_by_hand():
    # one axis "lr" with 2 values, 2 seeds: group seed 0 concordant (+1), group seed 1 discordant (-1)
    settings = [{"lr": lr, "seed": s} for s in (0, 1) for lr in (0.1, 0.01)]
    measure, gap = [2.0, 1.0, 1.0, 2.0], [0.3, 0.1, 0.3, 0.1]
    assert granulated(settings, measure, gap, ["lr", "seed"]) == {"lr": 0.0}
    assert granulated(settings, [2.0, 1.0, 3.0, 1.0], gap, ["lr", "seed"]) == {"lr": 1.0}


def _brute_environments(settings, measure, gap, hyper):
    """Dziugaite et al.'s loop (create_environments.py): every ordered pair of networks whose
    hyperparameters differ in exactly one, keyed by that axis, its two values and the rest; the
    mean sign error per key, each unordered pair of values once."""
    losses = {}
    for p, q in itertools.permutations(range(len(settings)), 2):
        differ = [h for h in hyper if settings[p][h] != settings[q][h]]
        if len(differ) != 1:
            continue
        axis = differ[0]
        key = (axis, frozenset((settings[p][axis], settings[q][axis])),
               tuple(settings[p][h] for h in hyper if h != axis))
        losses.setdefault(key, []).append(sign_error(measure[p], measure[q], gap[p], gap[q]))
    return {k: sum(v) / len(v) for k, v in losses.items()}


def test_environments_match_the_brute_force_loop():
    for seed in range(5):
        measure, gap = _table(seed)
        ours = environments(GRID, measure, gap, AXES)
        brute = _brute_environments(GRID, measure, gap, ["a", "b"])
        assert len(ours) == len(brute) == 3 * 2 + 1 * 3  # a: 3 value pairs x 2 values of b; b: 1 pair x 3 of a
        for e in ours:
            key = (e["axis"], frozenset(e["values"]), tuple(e["others"].values()))
            assert e["loss"] == pytest.approx(brute[key]) and e["pairs"] == 4 and e["ess"] == 4
        s = statistics(GRID, measure, gap, AXES, test_size=100)
        assert s["sign_error_max"] == pytest.approx(max(brute.values()))
        assert s["sign_error_mean"] == pytest.approx(sum(brute.values()) / len(brute))


def test_sign_error_and_an_environment_by_hand():
    assert (sign_error(2, 1, 0.3, 0.1), sign_error(2, 1, 0.1, 0.3), sign_error(1, 1, 0.3, 0.1)) == (0.0, 1.0, 0.5)
    # one environment (lr 0.1 against 0.01, two seeds each): 4 pairs, of which 1 reversed -> 0.25
    settings = [{"lr": 0.1, "seed": 0}, {"lr": 0.1, "seed": 1}, {"lr": 0.01, "seed": 0}, {"lr": 0.01, "seed": 1}]
    measure, gap = [3.0, 4.0, 1.0, 3.5], [0.3, 0.4, 0.1, 0.2]
    (env,) = environments(settings, measure, gap, ["lr", "seed"])
    assert env["loss"] == 0.25 and env["pairs"] == 4


def test_the_pgdl_score_is_over_the_hyperparameters_not_the_seed():
    measure, gap = _table(0)
    s = statistics(GRID, measure, gap, AXES, test_size=100)
    assert s["pgdl"] == pgdl.score(GRID, measure, gap, ["a", "b"])["score"] and s["pgdl_pair"] == ["a", "b"]
    assert statistics(GRID, gap, gap, AXES, test_size=100)["pgdl"] == pytest.approx(1, abs=1e-9)


def test_hoeffding_weights_filter_as_dziugaite_et_al():
    # their formula: (1 - 2 exp(-2 n (d / 2)^2))^2, clipped at 0
    assert hoeffding_weight(0.1, 10_000) == pytest.approx((1 - 2 * math.exp(-2 * 10_000 * 0.05 ** 2)) ** 2)
    assert hoeffding_weight(0.0, 10_000) == 0.0 and hoeffding_weight(-0.2, 100) == hoeffding_weight(0.2, 100)
    settings = [{"lr": 0.1, "seed": 0}, {"lr": 0.1, "seed": 1}, {"lr": 0.01, "seed": 0}, {"lr": 0.01, "seed": 1}]
    measure, gap = [3.0, 4.0, 1.0, 3.5], [0.3, 0.4, 0.1, 0.2]
    # gaps 0.1 or more apart on 10,000 test examples: every weight is (1 - 2e^-50)^2 - 1/2, the loss unchanged
    (env,) = environments(settings, measure, gap, ["lr", "seed"], test_size=10_000, min_ess=4)
    assert env["loss"] == pytest.approx(0.25) and env["ess"] == pytest.approx(4)
    # on 10 test examples no difference is resolved: every weight is 0 and the environment goes
    assert environments(settings, measure, gap, ["lr", "seed"], test_size=10) == []
    # the minimum effective sample size drops an environment of 4 equal-weight pairs at 12, their default
    assert environments(settings, measure, gap, ["lr", "seed"], test_size=10_000, min_ess=12) == []
    with pytest.raises(ValueError, match="test examples"):
        hoeffding_weight(0.1, 0)


def test_unweighted_worst_keeps_environments_of_12_pairs_as_their_script():
    # their filter_noise=False still drops environments of fewer than 12 pairs (get_all_losses(min_ess=12.)):
    # with 2 seeds an environment has 4 pairs and none is kept; with 4 seeds, 16 pairs, every one is
    measure, gap = _table(3)
    s = statistics(GRID, measure, gap, AXES, test_size=100)
    assert (s["unit_sign_error_max"], s["unit_environments"], s["environments"]) == (None, 0, 9)
    grid4 = [dict(zip(AXES, v)) for v in itertools.product((1, 2, 3), ("x", "y"), (0, 1, 2, 3))]
    rng = random.Random(4)
    m4, g4 = [rng.random() for _ in grid4], [rng.random() for _ in grid4]
    s4 = statistics(grid4, m4, g4, AXES, test_size=100)
    every = environments(grid4, m4, g4, AXES)
    assert s4["unit_environments"] == len(every) == 9 and all(e["pairs"] == 16 for e in every)
    assert s4["unit_sign_error_max"] == s4["sign_error_max"] == max(e["loss"] for e in every)


# ---- the study end to end ------------------------------------------------------------------------

CHEAP = ("params", "spec-orig", "dist-init", "pacbayes-flatness", "hessian-eigenvalue")


def _tiny_config(measures=CHEAP) -> StudyConfig:
    grid = study.tier_config("quick")
    base = replace(grid.base, data=DataConfig("digits", n_train=100, n_test=60),
                   train=replace(grid.base.train, max_steps=2000, device="cpu"))
    return StudyConfig(sweep.SweepConfig(base, (("width", (8, 16)), ("lr", (0.05, 0.1)), ("seed", (0, 1)))), measures)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_tiny_study_writes_its_record_table_and_figure(tmp_path, one_thread):
    config = _tiny_config()
    record = study.run(config, tmp_path, progress=False)
    s = record.summary
    assert (record.path / "study.png").stat().st_size > 0
    table = (record.path / "study.md").read_text()
    assert all(f"| {m} |" in table for m in CHEAP) and "psi width" in table and "psi lr" in table
    assert "| PGDL |" in table and all(r["pgdl_pair"] == ["width", "lr"] for r in s["rows"] if r["pgdl"] is not None)
    assert s["networks"] == 8 and {tuple(sorted(p["values"])) for p in s["points"]} == {("lr", "seed", "width")}
    for p in s["points"]:
        assert set(p["measures"]) == set(CHEAP) and set(p["seconds"]) == set(CHEAP)
        assert p["gap"] == pytest.approx(p["test_error"] - p["train_error"])
    assert [r["measure"] for r in s["rows"]] == sorted(CHEAP, key=lambda m: -next(r["tau"] for r in s["rows"]
                                                                               if r["measure"] == m))
    # every statistic in the record is the statistic of the recorded points
    used = [p for p in s["points"] if p["fitted"]]
    row = next(r for r in s["rows"] if r["measure"] == "dist-init")
    again = statistics([p["values"] for p in used], [p["measures"]["dist-init"] for p in used],
                       [p["gap"] for p in used], ["width", "lr", "seed"], s["test_size"])
    assert {k: row[k] for k in again} == again
    # the second call reads the record
    assert study.run(config, tmp_path, progress=False).path == record.path


def failing_task(run, root):
    raise RuntimeError("measuring failed on purpose")


def test_a_failed_network_stops_the_study_before_its_record(tmp_path, monkeypatch, one_thread):
    config = _tiny_config(("params",))
    monkeypatch.setattr(study, "measure_network", failing_task)
    with pytest.raises(StudyIncomplete, match="8 of 16 runs failed.*measuring failed on purpose"):
        study.run(config, tmp_path, progress=False)
    assert not list(tmp_path.glob("study-*")) and len(list((tmp_path / "failed").glob("*.json"))) == 8


def test_a_study_config_is_checked():
    grid = _tiny_config().grid
    with pytest.raises(ValueError, match="unknown measure"):
        StudyConfig(grid, ("sharpness",))
    with pytest.raises(ValueError, match="named twice"):
        StudyConfig(grid, ("params", "params"))
    with pytest.raises(ValueError, match="besides the seed"):
        StudyConfig(sweep.SweepConfig(grid.base, (("seed", (0, 1)),)), ("params",))
    with pytest.raises(ValueError, match="unknown tier 'medium'; tiers: quick, full"):
        study.tier_config("medium")


def test_the_command_line_refuses_bad_input(capsys, tmp_path):
    assert study.main(["--measures", "params,sharpnes", "--out", str(tmp_path)]) == 2
    assert "unknown measure 'sharpnes'" in capsys.readouterr().err
    assert study.main(["--address", "head:6379", "--out", str(tmp_path)]) == 2
    assert "--executor ray" in capsys.readouterr().err
    assert study.main(["--model", "nosuchpackage.nets:small", "--out", str(tmp_path)]) == 2
    assert "cannot import 'nosuchpackage.nets'" in capsys.readouterr().err
    for bad in (["--tier", "medium"], ["--grid", "quick"], ["--executor", "dask"], ["--threads", "0"]):
        with pytest.raises(SystemExit) as exit_:
            study.main(bad)
        assert exit_.value.code == 2


def test_a_study_of_your_architecture_fixes_it_and_varies_the_rest(tmp_path, monkeypatch, one_thread):
    quick = study.tier_config("quick")
    sized = study.with_model(quick, "mlp:2x16")
    assert (sized.base.model.width, sized.base.model.depth) == (16, 2) and study.model_label(sized) == "mlp:2x16"
    assert [a for a, _ in sized.axes] == ["lr", "batch_size", "seed"] and study.model_label(quick) == "mlp"
    (tmp_path / "study_labnet.py").write_text("from torch import nn\n\n\ndef small(input_shape, num_classes):\n"
                                        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), "
                                        "nn.ReLU(), nn.Linear(32, num_classes))\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    grid = _tiny_config().grid
    grid = study.with_model(grid, "study_labnet:small")
    assert grid.base.model.name.startswith("study_labnet:small@") and [a for a, _ in grid.axes] == ["lr", "seed"]
    s = study.run(StudyConfig(grid, ("params", "dist-init", "spec-orig")), tmp_path / "runs", progress=False).summary
    assert s["networks"] == 4 and s["fitted"] > 0 and s["model"] == grid.base.model.name
    assert {p["n_params"] for p in s["points"]} == {64 * 32 + 32 + 2 * 32 + 32 * 10 + 10}
    # spec-orig covers networks without BatchNorm only: its row says so instead of a number
    assert next(r for r in s["rows"] if r["measure"] == "spec-orig")["undefined"] == s["fitted"]
    assert s["machine"]["executor"] == "serial"
