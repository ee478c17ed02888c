"""`bash scripts/gpu.sh --tiny`: the GPU tier's one command rehearsed on the CPU, every stage at tiny
size through the same commands, so that the one GPU run cannot fail for a missing wheel, data file,
path or flag. The numbers are checked for what they are at this size (counts, accuracies in [0, 1],
the FLOP count of ResNet-18 against its published multiply-adds), not for what the GPU will give.

Data: the CIFAR-10 subset from `shared/data/cifar10-subset` beside the repository (CI's `../shared`)
through $GENPROOF_DATA, Fashion-MNIST from the loaders' search order; the test skips without them.
The wheel install is tried when the checkout has a `.whl/` (scripts/gpu_prepare.sh).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CIFAR10_SUBSET = REPO.parent / "shared" / "data" / "cifar10-subset"
FILES = ["bounds.tar.gz", "claims.tar.gz", "log.txt", "memorization.json", "provenance.txt", "throughput.json"]
# ResNet-18, CIFAR variant: 0.557 G multiply-adds in a forward pass of a 32x32 image (the figure
# thop and the CIFAR ResNet repositories report); a training step is 3 passes' worth, 2 FLOPs each,
# less the stem's gradient with respect to the input, which is not computed.
RESNET18_TRAIN_FLOPS = 0.557e9 * 2 * 3
CLAIMS = ["zhang2017.relu-net-shatters", "classical.halfspaces-shatter-d-plus-1"]


def _members(tar: Path) -> dict[str, bytes]:
    with tarfile.open(tar) as t:
        return {m.name.removeprefix("./"): t.extractfile(m).read() for m in t.getmembers() if m.isfile()}


@pytest.mark.claims
@pytest.mark.needs_data("fashion-mnist")
def test_the_gpu_script_rehearses_every_stage_and_writes_its_files(tmp_path):
    if not (CIFAR10_SUBSET / "cifar-10-batches-py").is_dir():
        pytest.skip(f"the CIFAR-10 subset is looked for in {CIFAR10_SUBSET}")
    data = tmp_path / "data"
    data.mkdir()
    (data / "cifar-10-batches-py").symlink_to(CIFAR10_SUBSET / "cifar-10-batches-py")
    out = tmp_path / "out"
    # a budget no stage reaches on a loaded CPU, and two cheap claims (their order reversed from the
    # registry's): every stage ends by itself
    env = {**os.environ, "OUT": str(out), "GENPROOF_DATA": str(data), "PYTHON": sys.executable, "BUDGET_S": "900",
           "CLAIMS": " ".join(CLAIMS)}
    done = subprocess.run(["bash", "scripts/gpu.sh", "--tiny"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == FILES

    provenance = (out / "provenance.txt").read_text()
    for stage in ("throughput", "memorization", "bounds", "claims"):
        assert f"stage {stage}: exit 0" in provenance, provenance
    assert ("wheels: none" in provenance) != (REPO / ".whl").is_dir(), provenance

    throughput = json.loads((out / "throughput.json").read_text())["throughput"]
    assert throughput["images_per_s"] > 0 and throughput["fraction_of_peak"] is None  # no peak on a CPU
    assert throughput["flops_per_image"] == pytest.approx(RESNET18_TRAIN_FLOPS, rel=0.01)

    memorization = json.loads((out / "memorization.json").read_text())["memorization"]
    assert set(memorization["runs"]) == {"random", "true"}
    for run in memorization["runs"].values():
        assert run["steps"] >= 1 and 0 <= run["train_acc"] <= 1 and 0 <= run["test_acc"] <= 1
        assert run["stopped_by"] in ("fitted", "steps", "seconds") and run["seconds"] > 0
    assert memorization["fit_time_factor_steps"] > 0

    tables = _members(out / "bounds.tar.gz")
    summaries = [json.loads(v) for k, v in tables.items() if k.startswith("bounds-") and k.endswith("summary.json")]
    assert sorted(s["dataset"] for s in summaries) == ["cifar10", "fashion-mnist"]
    assert all(s["model"] == "resnet18" and s["bounds"] for s in summaries)
    assert sum(k.endswith("bounds.md") for k in tables) == 2

    ledger = json.loads(_members(out / "claims.tar.gz")["ledger/claims.json"])
    assert ledger["tier"] == "full (rehearsal)" and ledger["claims"]
    assert [c["claim"] for c in ledger["claims"]] == CLAIMS  # the order given, not the registry's


def test_the_prepare_script_names_what_is_missing_before_it_touches_anything(tmp_path):
    done = subprocess.run(["bash", "scripts/gpu_prepare.sh", str(tmp_path / "nowhere"), str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"gpu_prepare: no Fashion-MNIST in {tmp_path / 'nowhere'} (want its four .gz files; "
                                   "train-images-idx3-ubyte.gz is missing)")
