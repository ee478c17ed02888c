"""Your network, your data: `genproof.Network` at its boundary, the same rows for a network whether
genproof or its user trained it, and `python -m genproof.bounds --model M:F --weights W --data D`
with its one-line errors."""

import json
import shutil
import textwrap

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from empirical.fit import DataConfig, FitConfig
from empirical.models import ModelConfig
from empirical.train import TrainConfig
from genproof import Network, Recipe, bounds, evaluate
from genproof.network import as_split

TINY = FitConfig(DataConfig("digits", n_train=100, n_test=50), ModelConfig("mlp", width=64),
                 TrainConfig(lr=0.1, momentum=0.9, batch_size=50, max_steps=200))


def blobs(n=60, d=4, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    return torch.randn(n, d, generator=g) + 3 * nn.functional.one_hot(y, d).float(), y


def test_data_comes_as_arrays_tensors_datasets_or_loaders():
    x, y = blobs()
    ref = as_split((x, y), "train")
    for data in ((x.numpy(), y.numpy()), TensorDataset(x, y), DataLoader(TensorDataset(x, y), batch_size=7)):
        got = as_split(data, "train")
        assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    assert ref[0].dtype == torch.float32 and ref[1].dtype == torch.int64


@pytest.mark.parametrize("change, message", [
    (lambda x, y, m: ((x.clone().index_fill_(0, torch.tensor([3]), float("nan")), y), m), "1 inputs hold NaN"),
    (lambda x, y, m: ((x, y + 5), m), "train labels must lie in 0..2"),
    (lambda x, y, m: ((x, y.float()), m), "labels must be integers"),
    (lambda x, y, m: ((x, y[:-1]), m), "one label each"),
    (lambda x, y, m: ((x, y), nn.Linear(4, 1)), "logits of shape (batch, K >= 2)"),
    (lambda x, y, m: ((x, y), nn.Linear(5, 3)), "model fails on training inputs of shape (4,)"),
])
def test_bad_input_is_refused_at_the_boundary_by_name(change, message):
    x, y = blobs()
    data, model = change(x, y, nn.Linear(4, 3))
    with pytest.raises((ValueError, TypeError)) as err:
        Network(model, data)
    assert message in str(err.value)


def test_init_and_test_must_match_the_model():
    x, y = blobs()
    with pytest.raises(ValueError, match="init is not the model's architecture: '0.weight' has shape"):
        Network(nn.Sequential(nn.Linear(4, 3)), (x, y), init=nn.Sequential(nn.Linear(4, 2)))
    with pytest.raises(ValueError, match=r"test inputs \(5,\) differ in shape"):
        Network(nn.Linear(4, 3), (x, y), (torch.zeros(2, 5), torch.zeros(2, dtype=torch.long)))
    net = Network(nn.Linear(4, 3), (x, y))
    assert net.summary["test_error"] is None and not net.has("test") and not net.has("init")


def test_the_same_network_gets_the_same_rows_whoever_trained_it(tmp_path):
    """A genproof run, handed over as a user's module and arrays, gives the same VC and norm rows and
    the same measures: the table reads the network, not who trained it."""
    ours = Network.from_fit(TINY, tmp_path)
    d = ours.data
    yours = Network(ours.model, (d.x_train, d.y_train), (d.x_test, d.y_test), init=ours.init)
    assert yours.summary["train_error"] == pytest.approx(ours.summary["train_error"], abs=1e-12)
    assert yours.summary["test_error"] == pytest.approx(ours.summary["test_error"], abs=1e-12)
    names = ["vc", "norms", "params", "dist-init", "bartlett-spectral", "path"]
    a, b = evaluate(ours, names), evaluate(yours, names)
    assert [r["value"] for r in a] == pytest.approx([r["value"] for r in b], rel=1e-12)
    assert [r["kind"] for r in a] == [r["kind"] for r in b] == ["network", "lower-estimate"] + ["measure"] * 7


def test_a_recipe_retrains_your_architecture_on_your_data(tmp_path):
    x, y = blobs(n=90)

    def factory(input_shape, num_classes):
        return nn.Sequential(nn.Linear(input_shape[0], 8), nn.ReLU(), nn.Linear(8, num_classes))

    recipe = Recipe(factory, TrainConfig(lr=0.1, batch_size=30, max_steps=30, stop_at_fit=False, device="cpu",
                                         progress=False))
    net = Network(factory((4,), 3), (x[:60], y[:60]), (x[60:], y[60:]), recipe=recipe, root=tmp_path)
    fit = net.fit_config
    assert fit.data.name.startswith("tensors-") and ":" in fit.model.name and fit.train == recipe.train
    assert net.fit_config == fit  # the same content, the same names: runs are cached across processes
    (row,) = evaluate(net, ["rademacher"])
    assert row["kind"] == "lower-estimate" and row["value"] is not None
    assert len(list(tmp_path.glob("rademacher-fit-*"))) == 3  # three random-sign runs of your architecture, cached


# ---- the command line ---------------------------------------------------------------------------

FACTORY = '''
from torch import nn

def mlp(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, num_classes))

def broken(input_shape, num_classes):
    raise RuntimeError("no GPU here")
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A module with a factory, a trained checkpoint and an .npz of digits, as a user would have them."""
    from sklearn.datasets import load_digits

    tmp_path = tmp_path_factory.mktemp("yours")
    (tmp_path / "my_nets.py").write_text(textwrap.dedent(FACTORY))
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    np.savez(tmp_path / "data.npz", x_train=x[:300], y_train=y[:300], x_test=x[300:400], y_test=y[300:400])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    torch.save(model.state_dict(), tmp_path / "init.pt")
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(torch.as_tensor(x[:300])), torch.as_tensor(y[:300])).backward()
        opt.step()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    return tmp_path


@pytest.fixture
def yours(files, tmp_path, monkeypatch):
    """The files, copied into this test's own folder, their folder importable."""
    for f in files.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_the_bounds_command_takes_your_network_and_data(yours, capsys):
    out = yours / "runs"
    argv = ["--model", "my_nets:mlp", "--weights", str(yours / "model.pt"), "--init", str(yours / "init.pt"),
            "--data", str(yours / "data.npz"), "--out", str(out)]
    assert bounds.main(argv) == 0
    printed = capsys.readouterr().out
    assert "my_nets:mlp" in printed and "trained by its user" in printed
    (run,) = out.glob("bounds-*")
    result = json.loads((run / "summary.json").read_text())
    assert result["fit_run"] is None and not list(out.glob("fit-*"))  # nothing was trained
    assert [r["kind"] for r in result["bounds"]] == ["network", "lower-estimate"] + ["measure"] * 3
    assert result["measured"]["n_train"] == 300 and result["measured"]["trained_by"] == "its user"
    assert bounds.main(argv) == 0 and len(list(out.glob("bounds-*"))) == 1  # the second call reads the record


def test_without_weights_genproof_trains_your_factory_on_your_data(yours):
    out = yours / "runs"
    assert bounds.main(["--model", "my_nets:mlp", "--data", str(yours / "data.npz"), "--max-steps", "50",
                        "--out", str(out)]) == 0
    (fit,) = out.glob("fit-*")
    config = json.loads((fit / "config.json").read_text())["config"]
    assert config["model"]["name"].startswith("my_nets:mlp@") and config["data"]["name"].startswith("tensors-")


def write(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["--model", "no_such_module:mlp", "--weights", "{d}/model.pt"], "cannot import 'no_such_module'"),
    (["--model", "my_nets:nope", "--weights", "{d}/model.pt"], "my_nets has no 'nope'"),
    (["--model", "my_nets:broken", "--weights", "{d}/model.pt"], "raised RuntimeError: no GPU here"),
    (["--model", "my_nets:mlp", "--weights", "{d}/wrong.pt"], "does not fit the model: missing 1.weight"),
    (["--model", "my_nets:mlp", "--weights", "{d}/notastate.pt"], "not a state dict"),
    (["--model", "my_nets:mlp", "--weights", "{d}/garbage.pt"], "not a checkpoint torch can read"),
    (["--model", "my_nets:mlp", "--weights", "{d}/model.pt", "--data", "{d}/nolabels.npz"], "missing y_train"),
    (["--model", "my_nets:mlp", "--weights", "{d}/model.pt", "--data", "{d}/shapes.npz"], "differ in shape"),
    (["--model", "my_nets:mlp", "--weights", "{d}/model.pt", "--data", "{d}/nan.npz"], "inputs hold NaN"),
    (["--model", "my_nets:mlp", "--weights", "{d}/model.pt", "--data", "{d}/labels.npz"], "the largest label in --data + 1"),
    (["--weights", "{d}/model.pt"], "--weights needs --model"),
    (["--model", "my_nets:mlp", "--weights", "{d}/missing.pt"], "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(yours, capsys, argv, message):
    d = yours
    torch.save({"0.weight": torch.zeros(3, 3)}, d / "wrong.pt")
    torch.save([torch.zeros(2)], d / "notastate.pt")
    (d / "garbage.pt").write_bytes(b"not a checkpoint")
    x = np.zeros((20, 1, 8, 8), np.float32)
    y = np.arange(20) % 10
    write(d / "nolabels.npz", x_train=x, x_test=x, y_test=y)
    write(d / "shapes.npz", x_train=x, y_train=y, x_test=x[:, :, :4], y_test=y)
    write(d / "nan.npz", x_train=np.where(x == 0, np.nan, x), y_train=y, x_test=x, y_test=y)
    write(d / "labels.npz", x_train=x, y_train=y, x_test=x, y_test=y + 20)
    out = d / "runs"
    code = bounds.main([a.format(d=d) for a in argv] + ["--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert message in err, err
    assert not out.exists() or not list(out.glob("bounds-*"))  # nothing written


# ---- claims on your recipe and data -------------------------------------------------------------

def test_a_claim_is_checked_on_your_recipe_and_data_and_joins_the_ledger(check, request):
    from sklearn.datasets import load_digits

    from genproof.pytest_plugin import VERDICTS

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    data = ((x[:200], y[:200]), (x[200:560], y[200:560]))

    def factory(input_shape, num_classes):
        return nn.Sequential(nn.Linear(input_shape[0], 128), nn.ReLU(), nn.Linear(128, num_classes))

    recipe = Recipe(factory, TrainConfig(lr=0.1, momentum=0.9, batch_size=50, max_steps=3000, device="cpu",
                                         progress=False))
    verdict = check("zhang2017.random-labels", recipe, data=data)
    assert verdict.setting.data.name.startswith("tensors-") and verdict.setting.kinds == ("true", "random-labels")
    assert verdict.measured["n_train"] == 200 and verdict.measured["n_test"] == 360
    assert len(verdict.measured["train_acc_random"]) == 3  # the claim's own seeds, true labels beside
    assert verdict.holds == (min(verdict.measured["train_acc_random"]) == 1.0
                             and verdict.measured["max_dev_from_chance"] <= 0.05)
    assert verdict in request.config.stash[VERDICTS]
    with pytest.raises(ValueError, match="not a claim about a network trained by a recipe; these are: "):
        check("classical.halfspaces-shatter-d-plus-1", recipe, data=data)
    with pytest.raises(ValueError, match="needs training and test data"):
        check("zhang2017.random-labels", recipe, train=data[0])
