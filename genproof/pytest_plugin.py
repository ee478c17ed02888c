"""genproof's pytest plugin, shipped with the package (entry point `pytest11`), so that the claims
run in this repository's suite, under `pytest --pyargs genproof`, or in a user's own test folder.

Options: `--tier quick|full` (the tier claims are checked at), `--claims-cache DIR` (keep the
claims' runs between sessions; default: a fresh temporary folder, made when the first claim or
notebook asks for it and given to notebooks as $GENPROOF_CACHE), `--ledger DIR` (write the ledger of
the claims checked in the session to DIR/claims.md and DIR/claims.json).

Markers: `claims` marks the claim checks and the notebooks that run them (minutes); everything
else is a fast unit test, so `pytest -m "not claims"` is the quick lane. `needs_data("fashion-mnist")`
skips a test whose optional data set is not on disk, with the reason and what to install; a claim
whose data set is missing skips the same way.

A user's own test folder collects every registered claim (their own included, once registered by
their conftest) with one line in a test module:

    from genproof.test_claims import test_claim  # noqa: F401

and checks a claim on their own recipe and data with the `check` fixture (`genproof.claims.check`),
whose verdicts join the session's ledger.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

VERDICTS = pytest.StashKey[list]()
MARKERS = {
    "claims": "a claim check, or a notebook that runs claims (minutes); deselect with -m 'not claims'",
    "needs_data(name, ...)": "skips, saying where it looked and what to install, when a data set is not on disk "
                             "(GENPROOF_DATA_BARE=1 hides the system folders and the download)",
}


def pytest_addoption(parser):
    group = parser.getgroup("genproof")
    from empirical.tiers import TIERS

    group.addoption("--tier", choices=TIERS, default=TIERS[0], help="tier at which claims are checked")
    group.addoption("--claims-cache", default=None, help="folder for the claims' training runs")
    group.addoption("--ledger", default=None, help="write the ledger of the checked claims to this folder")


def pytest_configure(config):
    config.stash[VERDICTS] = []
    # training's progress lines (empirical.progress) would only pad the output pytest shows for a
    # failure: off for the session, unless the user chose otherwise (GENPROOF_PROGRESS=lines)
    os.environ.setdefault("GENPROOF_PROGRESS", "off")
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_runtest_setup(item):
    for marker in item.iter_markers("needs_data"):
        from empirical.data import missing

        for name in marker.args:
            if reason := missing(name):
                pytest.skip(f"needs {name}, not on disk (a test downloads nothing): {reason}")


@pytest.fixture(scope="session")
def tier(request) -> str:
    return request.config.getoption("--tier")


@pytest.fixture(scope="session")
def claims_root(request) -> Path:
    """The record root of the session's claims: `--claims-cache`, else a fresh temporary folder (one
    for all the workers of a `pytest -n N` run, pytest-xdist's: a run one worker needs while another
    makes it waits for it, by the record's lock); exported as $GENPROOF_CACHE, so that notebooks
    executed in the session read the same runs."""
    root = request.config.getoption("--claims-cache")
    if root is None and (run := os.environ.get("PYTEST_XDIST_TESTRUNUID")):
        root = Path(tempfile.gettempdir()) / f"genproof-test-runs-{run}"
        root.mkdir(exist_ok=True)
    root = root or tempfile.mkdtemp(prefix="genproof-test-runs-")
    os.environ["GENPROOF_CACHE"] = str(root)
    return Path(root)


@pytest.fixture
def record_verdict(request):
    return request.config.stash[VERDICTS].append


@pytest.fixture
def check(request, tier, claims_root):
    """`check(claim_id, recipe=..., data=(train, test))`: `genproof.claims.check` at the session's
    tier, its runs under the session's claims root, its verdict added to the session's ledger:

        def test_my_net_memorizes(check):
            assert check("zhang2017.random-labels", recipe=Recipe(my_factory, my_train), data=my_data).holds
    """
    from genproof.claims import check as check_claim

    def checked(claim_id: str, recipe, data=None, **kwargs):
        kwargs.setdefault("tier", tier)
        kwargs.setdefault("root", claims_root)
        verdict = check_claim(claim_id, recipe, data, **kwargs)
        request.config.stash[VERDICTS].append(verdict)
        return verdict

    return checked


def pytest_sessionfinish(session):
    verdicts = session.config.stash.get(VERDICTS, [])
    if hasattr(session.config, "workeroutput"):  # a pytest-xdist worker: its verdicts go to the controller
        session.config.workeroutput["genproof_verdicts"] = [v.to_json() for v in verdicts]
        return
    folder = session.config.getoption("--ledger")
    verdicts.sort(key=lambda v: v.claim)  # the same ledger whichever worker checked which claim
    if folder and verdicts:
        from genproof.report import write_ledger

        write_ledger(verdicts, session.config.getoption("--tier"), Path(folder))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: a worker's verdicts join the session's ledger."""
    from genproof.report import Verdict

    for data in getattr(node, "workeroutput", {}).get("genproof_verdicts", []):
        node.config.stash[VERDICTS].append(Verdict(**{**data, "records": tuple(data.get("records", ()))}))


def pytest_terminal_summary(terminalreporter, config):
    verdicts = config.stash.get(VERDICTS, [])
    if verdicts:
        terminalreporter.section("genproof claims")
        for v in verdicts:
            terminalreporter.write_line(v.explain())
