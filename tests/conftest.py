"""pytest runs every registered claim as a test (tests/test_claims.py) at the tier given by
`--tier` (quick by default). `--claims-cache DIR` keeps the claims' training runs between
sessions (default: a fresh temporary folder; the notebooks get it as $GENPROOF_CACHE);
`--ledger DIR` writes the ledger of the claims checked in this session to DIR/claims.md and
DIR/claims.json."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

VERDICTS = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("genproof")
    group.addoption("--tier", choices=("quick", "full"), default="quick", help="tier at which claims are checked")
    group.addoption("--claims-cache", default=None, help="folder for the claims' training runs")
    group.addoption("--ledger", default=None, help="write the ledger of the checked claims to this folder")


def pytest_configure(config):
    config.stash[VERDICTS] = []
    # One cache for the session: the claims, and the notebooks that read the claims' runs, share
    # it; a throwaway folder unless --claims-cache names one, never ~/.cache.
    given = config.getoption("--claims-cache")
    os.environ["GENPROOF_CACHE"] = given or tempfile.mkdtemp(prefix="genproof-test-runs-")


@pytest.fixture(scope="session")
def tier(request) -> str:
    return request.config.getoption("--tier")


@pytest.fixture(scope="session")
def claims_root() -> Path:
    return Path(os.environ["GENPROOF_CACHE"])


@pytest.fixture
def record_verdict(request):
    return request.config.stash[VERDICTS].append


def pytest_sessionfinish(session):
    folder = session.config.getoption("--ledger")
    verdicts = session.config.stash[VERDICTS]
    if folder and verdicts:
        from genproof.report import write_ledger

        write_ledger(verdicts, session.config.getoption("--tier"), Path(folder))


def pytest_terminal_summary(terminalreporter, config):
    verdicts = config.stash[VERDICTS]
    if verdicts:
        terminalreporter.section("genproof claims")
        for v in verdicts:
            terminalreporter.write_line(v.explain())
