"""`pytest -n N` (pytest-xdist): the workers share one record root for the claims, and their
verdicts join one ledger, written by the controller."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_workers_share_the_claims_root_and_write_one_ledger(tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install genproof[test])")
    (tmp_path / "test_two.py").write_text(textwrap.dedent('''
        import os
        import pytest
        from genproof.report import Verdict

        @pytest.mark.parametrize("name", ["b.second", "a.first"])
        def test_claim(name, claims_root, record_verdict):
            (claims_root / name).write_text(os.environ["PYTEST_XDIST_WORKER"])
            print_to = os.path.join(os.environ["ROOTS"], name)
            open(print_to, "w").write(str(claims_root))
            record_verdict(Verdict(claim=name, tier="quick", holds=True, measured={"x": 1.0}, tolerances={},
                                   setting={"n": 1}, statement="", source="", cited={}, cited_from="",
                                   expected_to_hold=True, wall_s=0.1, records=("fit-abc",)))
        '''))
    (tmp_path / "roots").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "ROOTS": str(tmp_path / "roots")}
    out = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q",
                          "--ledger", str(tmp_path / "ledger"), str(tmp_path / "test_two.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    ledger = json.loads((tmp_path / "ledger" / "claims.json").read_text())
    assert [c["claim"] for c in ledger["claims"]] == ["a.first", "b.second"]
    assert ledger["claims"][0]["records"] == ["fit-abc"]
    (root,) = {p.read_text() for p in (tmp_path / "roots").iterdir()}  # one root, whichever worker ran a test
    assert Path(root).name.startswith("genproof-test-runs-") and sorted(p.name for p in Path(root).iterdir()) == [
        "a.first", "b.second"]
