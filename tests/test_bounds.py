import json

import pytest

from empirical.data import cifar10, files
from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig
from empirical.registry import Registry
from empirical.train import TrainConfig
from genproof import bounds, catalog, quantities
from genproof.network import Network
from genproof.quantities import BOUND_FAMILIES, Bound, Quantity, vacuity

TINY = FitConfig(DataConfig("digits", n_train=100, n_test=50), ModelConfig("mlp", width=64),
                 TrainConfig(lr=0.1, momentum=0.9, batch_size=50, max_steps=200))


def test_default_run_prints_the_table_and_writes_its_record(tmp_path, capsys):
    assert bounds.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if not line.startswith("written:")]  # the path is as long as it is
    assert "train error" in out and "gap" in out and max(len(line) for line in table) <= 120
    (run,) = tmp_path.glob("bounds-*")
    assert {p.name for p in run.iterdir()} == {"config.json", "summary.json", "bounds.md", "bounds.png"}
    result = json.loads((run / "summary.json").read_text())
    m = result["measured"]
    assert m["n_train"] == 1437 and m["n_test"] == 360 and result["dataset"] == "digits"
    assert m["gap"] == pytest.approx(m["test_error"] - m["train_error"])
    assert m["test_error"] < 0.1  # a 1x512 MLP gets digits right
    # the default families are those that cost at most a pass over the data; the others are listed
    evaluated = [f.name for f in BOUND_FAMILIES if f.factory.default]
    assert sorted({r["family"] for r in result["bounds"]}) == sorted(evaluated) == sorted(result["family_seconds"])
    assert {f["family"] for f in result["not_evaluated"]} == {f.name for f in BOUND_FAMILIES if not f.factory.default}
    assert {"rademacher", "pac-bayes", "pbb", "stability"} <= {f["family"] for f in result["not_evaluated"]}
    flat = " ".join(out.split())  # the terminal table wraps its prose
    assert "Not evaluated" in flat and "`--families all`" in flat
    for r in result["bounds"]:
        assert r["vacuity"] == vacuity(r["kind"], r["value"], 10)
        if r["kind"] in ("lower-estimate", "measure"):  # no gap is implied by what bounds nothing
            assert r["implied_gap"] is None and r["ratio_to_gap"] is None
    assert "rows are not simultaneous" in flat
    (fit_run,) = tmp_path.glob("fit-*")
    assert result["fit_run"] == fit_run.name  # relative to the record root
    assert bounds.main(["--out", str(tmp_path)]) == 0  # the second call reads the cache, and says so
    again = capsys.readouterr().out
    assert again.startswith(out.split("written:")[0]) and "written:" not in again
    assert f"from the cache, nothing recomputed: {run}/" in again and "--force computes it again" in again
    assert len(list(tmp_path.glob("fit-*"))) == 1 and len(list(tmp_path.glob("bounds-*"))) == 1


def test_bound_families_are_registered_in_the_table_order():
    assert BOUND_FAMILIES.kind == "bound family"
    assert tuple(f.name for f in bounds.table_families()) == ("vc", "rademacher", "norms", "pac-bayes", "pbb", "stability",
                                                        "compression")
    assert all(isinstance(e.factory, Quantity) and "\n" not in e.description for e in BOUND_FAMILIES)
    with pytest.raises(ValueError, match="unknown bound family 'pac_bayes'; did you mean 'pac-bayes'"):
        BOUND_FAMILIES.get("pac_bayes")


def test_list_shows_data_sets_models_and_bound_families(capsys):
    assert bounds.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "data sets (--dataset):" in out and "models (--model):" in out and "bound families" in out
    assert all(f"  {name} " in out for name in ("digits", "cifar10", "mlp", "resnet18", "vc", "pac-bayes"))


def family(compute, kinds=("network",), covers=None, uses_delta=True) -> Quantity:
    return Quantity(lambda net, delta, seed: compute(net, delta), "bound", kinds, "for no network", "pass",
                    covers=covers, uses_delta=uses_delta)


def only(monkeypatch, families: Registry) -> None:
    """Make `families` the only registered quantities."""
    monkeypatch.setattr(quantities, "QUANTITIES", families)
    monkeypatch.setattr(catalog, "QUANTITIES", families)  # select() checks names here
    monkeypatch.setattr(catalog, "ordered", lambda: list(families))


def test_a_family_that_does_not_apply_gets_one_row_saying_why(tmp_path, monkeypatch):
    families = Registry("quantity")
    families.add("always", family(lambda net, delta: [Bound("constant", "nowhere", 0.5, "network", delta=delta)]),
                 "a row for any network")
    families.add("never", family(lambda net, delta: pytest.fail("rows of a family that does not apply"),
                                 covers=lambda net: f"not for {net.fit_config.model.name}"), "for no network")
    only(monkeypatch, families)
    record = bounds.run(bounds.BoundsConfig(TINY), tmp_path)
    always, never = record.summary["bounds"]
    train_error = record.summary["measured"]["train_error"]
    assert always["family"] == "always" and always["implied_gap"] == pytest.approx(0.5 - train_error)
    assert never == {"family": "never", "name": "never", "kind": "not-applicable", "source": "for no network",
                     "value": None, "delta": None, "vacuity": "n/a", "detail": {"reason": "not for mlp"}}
    assert "| never | not-applicable | n/a |" in (record.path / "bounds.md").read_text()
    assert "does not apply: not for mlp | for no network |" in (record.path / "bounds.md").read_text()
    assert (record.path / "bounds.png").exists()


def test_which_families_apply_to_a_network_with_batch_norm(tmp_path):
    mlp = Network.from_fit(TINY, tmp_path)
    assert all(e.factory.reason(mlp) is None for e in BOUND_FAMILIES)
    cnn = Network.from_fit(FitConfig(TINY.data, ModelConfig("cnn", channels=4), TINY.train), tmp_path)
    reasons = {e.name: e.factory.reason(cnn) for e in BOUND_FAMILIES}
    assert reasons["rademacher"] is None  # the class of the architecture, whatever its layers
    assert "Conv2d layer" in reasons["vc"] and "chain of Linear layers" in reasons["vc"]
    assert reasons["norms"] is None  # the norms of a convolutional network's linear operators
    assert "batch norm" in reasons["pac-bayes"] and "batch norm" in reasons["stability"]


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


def test_simultaneous_splits_delta_over_the_families_that_use_one(tmp_path, monkeypatch):
    seen = []
    families = Registry("quantity")
    for name in ("a", "b"):
        families.add(name, family(lambda net, delta: seen.append(delta) or [Bound("r", "x", 0.5, "network", delta=delta)]),
                     "uses delta")
    families.add("m", family(lambda net, delta: seen.append(("m", delta)) or [Bound("m", "x", 3.0, "measure")],
                             kinds=("measure",), uses_delta=False), "a measure")
    only(monkeypatch, families)
    summary = bounds.run(bounds.BoundsConfig(TINY, delta=0.1, simultaneous=True), tmp_path).summary
    assert seen[:2] == [0.05, 0.05] and summary["delta_per_family"] == 0.05 and summary["families_using_delta"] == 2
    assert [r["delta"] for r in summary["bounds"]] == [0.05, 0.05, None]
    assert "All rows hold together with probability >= 1 - 0.1" in (tmp_path.glob("bounds-*").__next__() / "bounds.md").read_text()
    plain = bounds.run(bounds.BoundsConfig(TINY, delta=0.1), tmp_path).summary
    assert [r["delta"] for r in plain["bounds"]] == [0.1, 0.1, None]


def test_vacuity_follows_the_kind():
    assert vacuity("network", 1.2, 10) == "vacuous"
    assert vacuity("stochastic", 0.95, 10) == "no better than a uniform guess (0.9)"
    assert vacuity("stochastic", 0.877, 10) == "non-vacuous"
    assert vacuity("network", 0.6, 2) == "no better than a uniform guess (0.5)"
    assert vacuity("lower-estimate", 1.3, 10) == "vacuous"  # the bound is at least this
    assert vacuity("lower-estimate", 0.3, 10) == "undetermined (a lower estimate)"  # the bound may be anywhere above
    assert vacuity("measure", 433.0, 10) == "n/a"


def test_a_row_of_each_kind_gets_the_columns_its_kind_allows():
    net_train, net_test = 0.0, 0.03
    q = quantities.table_row("f", Bound("Q", "s", 0.6, "stochastic", delta=0.05, train_error=0.1, test_error=0.12),
                         net_train, net_test, 10)
    assert (q["train_error"], q["test_error"]) == (0.1, 0.12)
    assert q["implied_gap"] == pytest.approx(0.5) and q["ratio_to_gap"] == pytest.approx(0.5 / 0.02)
    low = quantities.table_row("f", Bound("L", "s", 1.4, "lower-estimate"), net_train, net_test, 10)
    assert low["implied_gap"] is None and low["ratio_to_gap"] is None and low["vacuity"] == "vacuous"
    exp = quantities.table_row("f", Bound("E", "s", 0.2, "expectation"), net_train, net_test, 10)
    assert exp["implied_gap"] == pytest.approx(0.2) and exp["measured_gap"] == pytest.approx(0.03)
    with pytest.raises(ValueError, match="give its delta"):
        Bound("N", "s", 0.5, "network")
    with pytest.raises(ValueError, match="bound kind must be one of"):
        Bound("X", "s", 0.5, "upper")


def test_opt_in_families_report_what_they_bound(tmp_path, capsys, small_retraining):
    assert bounds.main(["--out", str(tmp_path), "--families", "pac-bayes,rademacher", "--n-train", "200"]) == 0
    (run,) = tmp_path.glob("bounds-*")
    result = json.loads((run / "summary.json").read_text())
    assert [r["family"] for r in result["bounds"]] == ["rademacher", "pac-bayes"]  # the table's order
    rad, q = result["bounds"]
    assert rad["kind"] == "lower-estimate" and rad["delta"] is None and rad["implied_gap"] is None
    # the certificate of Q is set beside Q's own sampled errors, not the deterministic network's
    assert q["kind"] == "stochastic" and q["delta"] == 0.05
    assert q["train_error"] == q["detail"]["sampled_train_error"] and q["test_error"] == q["detail"]["sampled_test_error"]
    assert q["measured_gap"] == pytest.approx(q["test_error"] - q["train_error"])
    assert q["implied_gap"] == pytest.approx(q["value"] - q["train_error"])
    assert q["detail"]["deterministic_test_error"] == result["measured"]["test_error"]
    assert "stochastic" in capsys.readouterr().out and "| stochastic |" in (run / "bounds.md").read_text()
    assert bounds.main(["--out", str(tmp_path), "--families", "pac_bayes"]) == 2
    assert "unknown bound family 'pac_bayes'; did you mean 'pac-bayes'" in capsys.readouterr().err
