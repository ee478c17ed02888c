"""Other packages add models and data sets for every command through entry points
(`genproof.models`, `genproof.datasets`); `--list` says where each entry came from."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from empirical.data import DATASETS
from empirical.models import MODELS
from empirical.registry import Registry

REPO = Path(__file__).resolve().parents[1]


def _distribution(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> None:
    """An installed distribution as pip leaves one: its dist-info with METADATA and entry points."""
    info = site / f"{name}-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, code in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(code))


def test_a_package_adds_a_model_and_a_data_set_that_every_command_lists_with_its_origin(tmp_path):
    site = tmp_path / "site"
    _distribution(site, "labnets", """
        [genproof.models]
        labnets = labnets_models
        [genproof.datasets]
        labnets = labnets_data
        broken = labnets_missing
        """, {
        "labnets_models": """
            from torch import nn
            from empirical.models import MODELS

            @MODELS.register("tiny-linear", "a flatten and one linear layer (labnets)")
            def tiny(config, input_shape, num_classes):
                import math
                return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))
            """,
        "labnets_data": """
            import numpy as np
            from empirical.data.dataset import Arrays
            from empirical.data.registry import DATASETS, Source

            def read(n_train, n_test, data_dir, download):
                rng = np.random.default_rng(0)
                x = rng.normal(size=(60, 1, 4, 4)).astype(np.float32)
                y = (x.reshape(60, -1).sum(1) > 0).astype(np.int64)
                return Arrays(x[:40], y[:40], x[40:], y[40:])

            DATASETS.add("signs", Source(2, read), "(1, 4, 4), 2 classes, 40 / 20: the sign of the pixel sum (labnets)")
            """})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    listed = subprocess.run([sys.executable, "-m", "genproof.bounds", "--list"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    model = next(line for line in lines if line.strip().startswith("tiny-linear"))
    data = next(line for line in lines if line.strip().startswith("signs "))
    assert model.endswith("[from labnets 0.3, entry point labnets = labnets_models]")
    assert data.endswith("[from labnets 0.3, entry point labnets = labnets_data]")
    assert next(line for line in lines if line.strip().startswith("resnet18")).endswith("[from genproof]")
    # a plugin that does not import is one warning, and the command goes on without it
    assert "genproof.datasets entry point broken = labnets_missing (labnets 0.3) did not load" in listed.stderr
    assert "ModuleNotFoundError" in listed.stderr and "Traceback" not in listed.stderr
    # the plugin's model and data set work in a command like the built-ins
    trained = subprocess.run([sys.executable, "-m", "genproof.bounds", "--dataset", "signs", "--model", "tiny-linear",
                              "--max-steps", "20", "--out", str(tmp_path / "runs")], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    (record,) = (tmp_path / "runs").glob("bounds-*")
    summary = json.loads((record / "summary.json").read_text())
    assert (summary["dataset"], summary["model"]) == ("signs", "tiny-linear")
    assert (summary["measured"]["n_train"], summary["measured"]["n_test"], summary["measured"]["n_params"]) == (40, 20, 34)


def test_built_ins_are_declared_as_entry_points_and_a_registry_reads_its_group_once(monkeypatch):
    from importlib.metadata import entry_points

    assert {ep.value for ep in entry_points(group="genproof.models")} >= {"empirical.models"}
    assert {ep.value for ep in entry_points(group="genproof.datasets")} >= {"empirical.data.registry"}
    assert MODELS.group == "genproof.models" and DATASETS.group == "genproof.datasets"
    assert MODELS.entry("mlp").origin == "genproof" and DATASETS.entry("digits").origin == "genproof"
    calls = []
    monkeypatch.setattr(Registry, "_load_plugins", lambda self: calls.append(self.kind))
    reg = Registry("gadget", group="nobody.gadgets")
    reg.add("a", object(), "one gadget")
    assert calls == [] and reg.names() == ("a",) and "a" in reg and calls == ["gadget"]
    assert "[from" in reg.describe() and "[from" not in Registry("plain").describe()
