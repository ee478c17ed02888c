import pytest
import torch

from empirical.models import MODELS, ModelConfig, build, count_parameters

SHAPES = {"digits": (1, 8, 8), "mnist1d": (1, 40), "cifar10": (3, 32, 32), "flat": (20,)}


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_every_model_maps_inputs_to_logits(name, shape):
    model = build(ModelConfig(name, width=64), shape, num_classes=7)
    assert model(torch.randn(3, *shape)).shape == (3, 7)
    assert count_parameters(model) > 0


def test_mlp_parameter_count_closed_form():
    # 1x512 on 8x8 digits: (64*512 + 512) + (512*10 + 10); 3x512 adds two 512x512 layers.
    assert count_parameters(build(ModelConfig("mlp", 512, 1), (1, 8, 8), 10)) == 64 * 512 + 512 + 512 * 10 + 10
    assert count_parameters(build(ModelConfig("mlp", 512, 3), (1, 8, 8), 10)) == (
        64 * 512 + 512 + 2 * (512 * 512 + 512) + 512 * 10 + 10)


def test_cifar_model_sizes_match_their_papers():
    # zhang2017 Table 1 reports 1,649,402 parameters for its small Inception (without the batch-norm
    # affine terms, 2 per channel), He et al. about 11.2M for the CIFAR ResNet-18.
    inception = build(ModelConfig("inception-small"), (3, 32, 32), 10)
    bn = sum(m.weight.numel() + m.bias.numel() for m in inception.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert count_parameters(inception) - bn == 1_649_402
    assert 11.1e6 < count_parameters(build(ModelConfig("resnet18"), (3, 32, 32), 10)) < 11.2e6


def test_registry_lists_the_models_with_their_constructors():
    builtin = ("mlp", "cnn", "resnet18", "inception-small")
    assert MODELS.kind == "model" and MODELS.names()[:4] == builtin
    assert all(":" in name for name in MODELS.names()[4:])  # factories other tests handed over (add_factory)
    assert [line.split()[0] for line in MODELS.describe().splitlines()] == list(MODELS.names())
    assert all(callable(e.factory) and "\n" not in e.description for e in MODELS)


def test_a_registered_model_is_built_seeded_by_name(monkeypatch):
    """Adding a model is one registration; `build` checks, seeds and constructs it like the others."""
    from empirical.registry import Registry

    reg = Registry("model")
    reg.add("linear", lambda config, shape, k: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, k)),
            "one linear layer")
    monkeypatch.setattr("empirical.models.MODELS", reg)
    a, b = (build(ModelConfig("linear"), (1, 8, 8), 3, seed=2) for _ in range(2))
    assert a(torch.ones(1, 1, 8, 8)).shape == (1, 3) and torch.equal(a[1].weight, b[1].weight)
    with pytest.raises(ValueError, match="unknown model 'mlp'; known: linear"):
        build(ModelConfig("mlp"), (1, 8, 8), 10)


def test_initialisation_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build(ModelConfig("cnn"), (1, 8, 8), 10, seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build(ModelConfig("cnn"), (1, 8, 8), 10, seed=5)
    c = build(ModelConfig("cnn"), (1, 8, 8), 10, seed=6)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_bad_model_settings_are_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown model 'vgg'; known: mlp, cnn, resnet18, inception-small"):
        build(ModelConfig("vgg"), (1, 8, 8), 10)
    with pytest.raises(ValueError, match="did you mean 'resnet18'"):
        build(ModelConfig("resnet-18"), (1, 8, 8), 10)
    with pytest.raises(ValueError, match="dropout"):
        build(ModelConfig("mlp", dropout=1.5), (1, 8, 8), 10)
    with pytest.raises(ValueError, match="shape"):
        build(ModelConfig("cnn"), (1, 2, 3, 4), 10)


def test_dropout_is_active_in_training_only():
    model = build(ModelConfig("mlp", width=256, dropout=0.5), (20,), 10)
    x = torch.randn(4, 20)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_one_model_spec_for_every_tool():
    from empirical.models import is_factory, parse_spec

    assert parse_spec("mlp:3x128") == ModelConfig("mlp", width=128, depth=3)
    assert parse_spec("cnn:16") == ModelConfig("cnn", channels=16) and parse_spec("resnet18") == ModelConfig("resnet18")
    assert parse_spec("mlp") == ModelConfig()  # a name alone: its defaults
    for bad, why in (("mlp:3", "write mlp:DEPTHxWIDTH"), ("mlp:axb", "invalid literal"), ("resnet18:4", "takes no size"),
                     ("nope", "unknown model 'nope'")):
        with pytest.raises(ValueError, match=why):
            parse_spec(bad)
    # a colon after a registered name is a size; after anything else, a factory package.module:function
    assert not is_factory("mlp:3x128") and not is_factory("resnet18") and is_factory("my_nets:mlp")


FACTORY = '''
import torch
from torch import nn


def small(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(input_shape).prod()), WIDTH), nn.BatchNorm1d(WIDTH),
                         nn.ReLU(), nn.Linear(WIDTH, num_classes))
'''

BUILD = '''
import sys
from empirical.models import ModelConfig, build
try:
    model = build(ModelConfig(sys.argv[1]), (64,), 10, seed=3)
except ValueError as err:
    print("error:", err)
else:
    print("built", sum(p.numel() for p in model.parameters()), float(model[1].weight.detach().sum()))
'''


def test_a_factory_model_is_built_again_by_name_in_another_process(tmp_path):
    """A Ray worker or a new Python process rebuilds a factory's model from the name add_factory gave
    it (module:qualname@fingerprint), and refuses when the factory now builds another network."""
    import subprocess
    import sys
    from pathlib import Path

    from empirical.models import add_factory, import_factory

    (tmp_path / "rebuilt_net.py").write_text(FACTORY.replace("WIDTH", "16"))
    sys.path.insert(0, str(tmp_path))
    try:
        name = add_factory(import_factory("rebuilt_net:small"), (64,), 10)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("rebuilt_net", None)
    assert name.startswith("rebuilt_net:small@")
    here = build(ModelConfig(name), (64,), 10, seed=3)
    repo = Path(__file__).resolve().parents[1]

    def elsewhere():
        out = subprocess.run([sys.executable, "-c", BUILD, name], cwd=tmp_path, capture_output=True, text=True,
                             env={"PYTHONPATH": str(repo), "PATH": ""}, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert elsewhere() == f"built {count_parameters(here)} {float(here[1].weight.detach().sum())}"
    (tmp_path / "rebuilt_net.py").write_text(FACTORY.replace("WIDTH", "17"))
    assert "rebuilt_net:small now builds another network" in elsewhere()
    with pytest.raises(ValueError, match="defined inside a function of another process"):
        build(ModelConfig("tests.test_models:outer.<locals>.inner@0123abcd"), (64,), 10)
