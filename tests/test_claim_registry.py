import json
from dataclasses import dataclass

import pytest

from empirical.registry import Registry
from genproof import claims as registry
from genproof.claims import Claim, __main__ as cli, all_claims, register, select
from genproof.report import ledger_markdown, write_ledger


@dataclass(frozen=True)
class Size:
    n: int


def _claim(id="test.mean-below", value_per_n=0.01, measure=None, **kw):
    """A toy claim: the measured value n * value_per_n must stay below the tolerance 0.5."""
    return Claim(
        id=id, source="test suite", statement="A toy quantity stays below one half.",
        settings={"quick": Size(10), "full": Size(100)}, tolerances={"max_value": 0.5},
        measure=measure or (lambda s, root: {"value": s.n * value_per_n, "n": s.n}),
        holds=lambda m, tol: m["value"] <= tol["max_value"], **kw)


def test_verdict_is_computed_from_measured_numbers_against_the_tolerance(tmp_path):
    claim = _claim()
    quick, full = claim.check("quick", tmp_path), claim.check("full", tmp_path)
    assert quick.holds and quick.measured == {"value": 0.1, "n": 10}
    assert not full.holds and full.measured["value"] == 1.0  # the tier changes sizes, never the check
    assert "does NOT hold" in full.explain() and "max_value=0.5" in full.explain()
    with pytest.raises(ValueError, match="unknown tier"):
        claim.check("huge", tmp_path)


def test_claims_must_be_well_formed_and_unique(monkeypatch):
    with pytest.raises(ValueError, match="source.slug"):
        _claim(id="noslug")
    with pytest.raises(ValueError, match="no setting for tier"):
        Claim(id="a.b", source="", statement="", settings={"quick": 1}, tolerances={},
              measure=lambda s, r: {}, holds=lambda m, t: True)
    monkeypatch.setattr(registry, "REGISTRY", Registry("claim"))
    claim = register(_claim())
    assert registry.REGISTRY.get("test.mean-below") is claim
    assert registry.REGISTRY.entry("test.mean-below").description == claim.statement
    with pytest.raises(ValueError, match="registered twice"):
        register(_claim())


def test_the_registry_holds_the_random_labels_claim_and_selects_by_pattern():
    ids = [c.id for c in all_claims()]
    assert "zhang2017.random-labels" in ids and ids == sorted(ids)
    assert [c.id for c in select(["zhang2017.random-l*"])] == ["zhang2017.random-labels"]
    assert {"zhang2017.random-labels", "zhang2017.random-pixels-vs-labels"} <= {c.id for c in select(["zhang2017.*"])}
    with pytest.raises(ValueError, match="no claim matches"):
        select(["nobody.*"])
    # in the order of the patterns, each claim once, at the first pattern it matches
    ordered = [c.id for c in select(["zhang2017.random-l*", "classical.*", "zhang2017.random-*"])]
    assert ordered[0] == "zhang2017.random-labels" and ordered[-1] == "zhang2017.random-pixels-vs-labels"
    assert ordered[1:-1] == sorted(ordered[1:-1]) and all(i.startswith("classical.") for i in ordered[1:-1])


def test_ledger_lists_numbers_verdicts_and_cited_numbers(tmp_path):
    good = _claim(cited={"paper value": 0.2}, cited_from="read from the paper, Table 9").check("quick", tmp_path)
    bad = _claim(id="test.known-bad", known_failures={"full": "too big at full size"}).check("full", tmp_path)
    md = ledger_markdown([good, bad], "quick")
    assert "2 claims: 1 hold, 1 do not." in md
    assert "| test.mean-below |" in md and "value=0.1" in md and "holds" in md
    assert "does not hold (known failure at this tier)" in md
    assert "paper value" in md and "read from the paper, Table 9" in md
    write_ledger([good, bad], "quick", tmp_path / "ledger")
    data = json.loads((tmp_path / "ledger" / "claims.json").read_text())
    assert [c["claim"] for c in data["claims"]] == ["test.mean-below", "test.known-bad"]
    assert data["claims"][0]["setting"] == {"n": 10}


def test_a_verdict_names_the_records_it_read_and_the_code_that_judged_it(tmp_path):
    from empirical.records import cached_run, versions

    def measure(setting, root):  # reads one run twice and makes another: each named once, in order
        a = cached_run(root, "toy", {"n": setting.n}, lambda d: {"value": 0.01 * setting.n})
        cached_run(root, "toy", {"n": setting.n}, lambda d: {"value": -1.0})
        b = cached_run(root, "other", {"n": setting.n}, lambda d: {"value": 0.0})
        return {"value": a.summary["value"] + b.summary["value"]}

    claim = _claim(measure=measure)
    verdict = claim.check("quick", tmp_path)
    names = [p.name for p in sorted(tmp_path.iterdir()) if not p.name.startswith(".")]
    assert verdict.records == (next(n for n in names if n.startswith("toy-")),
                               next(n for n in names if n.startswith("other-")))
    assert verdict.code["commit"] == versions()["commit"] and verdict.code["genproof"] == versions()["genproof"]
    md = ledger_markdown([verdict], "quick")
    assert f"`{verdict.records[0]}`" in md and f"at commit {versions()['commit'] or 'unknown'}" in md
    write_ledger([verdict], "quick", tmp_path / "ledger")
    data = json.loads((tmp_path / "ledger" / "claims.json").read_text())
    assert data["claims"][0]["records"] == list(verdict.records) and data["claims"][0]["code"] == verdict.code


def test_every_claim_shows_the_sources_numbers_or_says_why_not():
    for claim in all_claims():
        assert claim.cited_from.startswith(registry.CITED_FROM + registry.NO_NUMBERS), claim.id
        assert claim.cited or not claim.cited_from.startswith(registry.CITED_FROM), claim.id
    with pytest.raises(ValueError, match="cited_from must open with"):
        _claim(cited_from="the paper, somewhere")
    with pytest.raises(ValueError, match="cites none"):
        _claim(cited_from="read from the paper, Table 9")


def _with_toy_claim(monkeypatch):
    """Every claim, and the toy claim beside them, in a registry of this test's own."""
    all_claims()  # import every claim module, so that the copy holds them all
    with_toy = Registry("claim")
    for entry in registry.REGISTRY:
        with_toy.add(entry.name, entry.factory, entry.description)
    monkeypatch.setattr(registry, "REGISTRY", with_toy)
    register(_claim())


def test_cli_writes_the_ledger_and_its_exit_status_reports_failures(tmp_path, monkeypatch, capsys):
    _with_toy_claim(monkeypatch)
    where = ["--out", str(tmp_path / "runs"), "--ledger", str(tmp_path)]
    assert cli.main(["--only", "test.*", *where, "--tier", "quick"]) == 0
    assert (tmp_path / "claims.md").exists() and "holds" in capsys.readouterr().out
    assert cli.main(["--only", "test.*", *where, "--tier", "full"]) == 1
    assert cli.main(["--list"]) == 0 and "zhang2017.random-labels" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--only", "nobody.*"])


def test_cli_logs_the_ledger_to_mlflow_as_claims_json_says(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install genproof[mlflow])")
    from mlflow.tracking import MlflowClient

    from empirical import trackers

    _with_toy_claim(monkeypatch)
    where = ["--out", str(tmp_path / "runs"), "--ledger", str(tmp_path), "--log-dir", str(tmp_path / "mlruns")]
    assert cli.main(["--only", "test.*", *where, "--log", "mlflow"]) == 0
    assert "logged to mlflow: claims-quick" in capsys.readouterr().out
    monkeypatch.setenv(trackers.ALLOW, "true")  # MLflow 3 reads its file store only with this opt-out
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name(trackers.EXPERIMENT).experiment_id])
    ledger = json.loads((tmp_path / "claims.json").read_text())
    (verdict,) = ledger["claims"]
    key = f"summary/claims/{verdict['claim']}"
    assert run.info.run_name == "claims-quick"
    assert run.data.metrics[f"{key}/holds"] == float(verdict["holds"]) == 1.0
    assert run.data.metrics[f"{key}/measured/value"] == verdict["measured"]["value"]
    assert run.data.metrics[f"{key}/tolerances/max_value"] == verdict["tolerances"]["max_value"]
    assert run.data.params[f"claims/{verdict['claim']}/statement"] == verdict["statement"]
    local = client.download_artifacts(run.info.run_id, "claims.md", str(tmp_path / "back"))
    assert open(local).read() == (tmp_path / "claims.md").read_text()


def test_the_claims_command_rehearses_the_full_settings_shrunk(tmp_path):
    from empirical.records import to_jsonable
    from empirical.rehearsal import shrink

    claim_id = "classical.halfspaces-shatter-d-plus-1"
    args = ["--tier", "full", "--rehearse", "--only", claim_id, "--out", str(tmp_path / "runs"),
            "--ledger", str(tmp_path / "ledger")]
    assert cli.main(args) == 0
    ledger = json.loads((tmp_path / "ledger" / "claims.json").read_text())
    assert ledger["tier"] == "full (rehearsal)" and [c["claim"] for c in ledger["claims"]] == [claim_id]
    full = select([claim_id])[0].settings["full"]
    assert ledger["claims"][0]["setting"] == to_jsonable(shrink(full)) != to_jsonable(full)


def test_the_command_skips_a_claim_whose_data_is_not_installed_and_goes_on(tmp_path, monkeypatch, capsys):
    from empirical.data import DataNotFoundError

    def absent(setting, root):
        raise DataNotFoundError("cifar5m: nothing in [/nowhere]; it is never downloaded: put the six part0.npz ..")

    _with_toy_claim(monkeypatch)
    register(_claim(id="test.needs-data", measure=absent))
    where = ["--out", str(tmp_path / "runs"), "--ledger", str(tmp_path)]
    assert cli.main(["--only", "test.needs-data", "test.mean-below", *where]) == 0
    out = capsys.readouterr().out
    assert "skipped, data not installed: cifar5m: nothing in [/nowhere]" in out
    assert "skipped 1, their data not installed: test.needs-data" in out
    assert [c["claim"] for c in json.loads((tmp_path / "claims.json").read_text())["claims"]] == ["test.mean-below"]


def test_the_full_deep_bootstrap_setting_does_not_depend_on_the_machine():
    from genproof.claims import nakkiran2021

    assert nakkiran2021.SETTINGS["full"].data.name == "cifar5m"  # no probe of the file system at import
    assert all(s.data.name == "cifar5m" for s in nakkiran2021.AUGMENT_SETTINGS["full"].values())
