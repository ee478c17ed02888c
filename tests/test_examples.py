"""The examples run as a user runs them: a fresh process, from the repository's root."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.claims
def test_your_network_example_prints_the_table_and_two_verdicts(tmp_path):
    done = subprocess.run([sys.executable, "examples/your_network.py", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "trained by its user" in out and "| vc | VC bound" in out and "| pacbayes-flatness |" in out
    assert "zhang2017.random-labels [quick] holds" in out  # a 1x512 MLP fits random digits labels
    assert "neyshabur2017.norms-grow-with-random-labels [quick]" in out
