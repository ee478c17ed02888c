"""Models by name: the networks the claims are tested on.

| name              | what                                                        | source                          |
| ----------------- | ----------------------------------------------------------- | ------------------------------- |
| `mlp`             | `depth` hidden ReLU layers of `width` units (1x512, 3x512)  | zhang2017 Section 2, Table 1     |
| `cnn`             | two conv-ReLU-pool blocks and a linear head (1-D or 2-D)    | a small baseline                |
| `resnet18`        | ResNet-18, CIFAR variant (3x3 stem, no max-pool)            | He et al. 2016                  |
| `inception-small` | the small Inception of zhang2017 Appendix A, Figure 3       | zhang2017 Appendix A            |

Every model takes inputs of shape (batch, *input_shape) and returns logits (batch, num_classes).
Inputs of shape (C, L) use 1-D convolutions, (C, H, W) 2-D convolutions; a flat (D,) input is
read as a one-channel signal of length D by the convolutional models.

`MODELS` is their registry (`empirical.registry.Registry`): each entry is a constructor
`(config, input_shape, num_classes) -> nn.Module`. Adding a model: its `nn.Module` here, then a
constructor registered with `@MODELS.register(name, one-line description)` beside the others
(and a row in the table above); `build` seeds and checks it like every other.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from dataclasses import dataclass

import torch
from torch import nn

from empirical.registry import Registry

MODELS = Registry("model", group="genproof.models")  # other packages add models through entry points


@dataclass(frozen=True)
class ModelConfig:
    """A model by name and its size: `width` and `depth` are read by `mlp`, `channels` by `cnn`;
    `features` (read by `mlp`, None: `width`) is the width of the last hidden layer, the
    representation a linear head or probe reads (a bottleneck keeps a probe small, bansal2021);
    `dropout` (before the last layer, and after every hidden layer of `mlp`) by all."""

    name: str = "mlp"
    width: int = 512
    depth: int = 1
    channels: int = 32
    dropout: float = 0.0
    features: int | None = None


def is_factory(spec: str) -> bool:
    """Whether a model spec names a factory `package.module:function` (what comes before the colon
    is not a registered model's name) rather than a registered model."""
    name, sep, _ = spec.partition(":")
    return bool(sep) and name not in MODELS


def parse_spec(spec: str) -> ModelConfig:
    """A registered model from its spec, the one syntax every tool reads: its name (`resnet18`), or
    its name and size, `mlp:DEPTHxWIDTH` (`mlp:3x128`) or `cnn:CHANNELS` (`cnn:16`); a ValueError
    that shows the syntax otherwise. (A factory `package.module:function` is the other kind of
    spec: `is_factory`.)"""
    name, _, size = spec.strip().partition(":")
    try:
        MODELS.check(name)
        if not size:
            return ModelConfig(name)
        if name == "mlp":
            depth, width = (int(v) for v in size.split("x"))
            return ModelConfig("mlp", width=width, depth=depth)
        if name == "cnn":
            return ModelConfig("cnn", channels=int(size))
        raise ValueError(f"{name} takes no size")
    except ValueError as err:
        raise ValueError(f"bad model {spec!r}: write mlp:DEPTHxWIDTH (mlp:3x128), cnn:CHANNELS (cnn:16) or a model "
                         f"name ({', '.join(MODELS.names())}); {err}") from None


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int, seed: int = 0) -> nn.Module:
    """Build `config.name` for inputs of `input_shape`, initialised from `seed` (global RNG untouched)."""
    input_shape = tuple(int(s) for s in input_shape)
    if config.name not in MODELS and "@" in config.name:
        _reimport(config.name, input_shape, num_classes)
    constructor = MODELS.get(config.name)
    if not 0.0 <= config.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {config.dropout}")
    if config.width < 1 or config.depth < 0 or config.channels < 1:
        raise ValueError(f"width and channels must be >= 1 and depth >= 0, got {config}")
    if config.features is not None and (config.name != "mlp" or config.depth < 1 or config.features < 1):
        raise ValueError(f"features (a bottleneck width >= 1) is read by an mlp of depth >= 1 only, got {config}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return constructor(config, input_shape, num_classes)


@MODELS.register("mlp", "depth hidden ReLU layers of width units (zhang2017's 1x512, 3x512)")
def _mlp(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return MLP(input_shape, num_classes, config.width, config.depth, config.dropout, config.features)


@MODELS.register("cnn", "two conv-BN-ReLU-pool blocks of channels, 2*channels and a linear head (1-D or 2-D)")
def _cnn(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return SmallCNN(input_shape, num_classes, config.channels, config.dropout)


@MODELS.register("resnet18", "ResNet-18, CIFAR variant: 3x3 stem, no max-pool (He et al. 2016)")
def _resnet18(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return ResNet18(input_shape, num_classes, config.dropout)


@MODELS.register("inception-small", "the small Inception of zhang2017 Appendix A, Figure 3")
def _inception_small(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    return InceptionSmall(input_shape, num_classes, config.dropout)


def add_factory(factory, input_shape: tuple[int, ...], num_classes: int, name: str | None = None) -> str:
    """Register a user's `factory(input_shape, num_classes) -> nn.Module` as a model, so that every
    experiment can build and retrain it, and return its name: `name`, or the factory's
    `module:qualname` and 8 hex digits of a fingerprint (the module's structure and its weights as
    the factory initialises them from seed 0), so the record store keys a run by the architecture
    it trained and an edited factory is a new model. `ModelConfig`'s sizes and dropout do not reach
    the factory."""
    if not callable(factory):
        raise TypeError(f"a model factory must be callable as factory(input_shape, num_classes), got {factory!r}")
    input_shape = tuple(int(s) for s in input_shape)
    if name is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = factory(input_shape, num_classes)
        digest = hashlib.sha256(repr(model).encode())
        for key, value in model.state_dict().items():
            digest.update(key.encode())
            digest.update(value.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
        name = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', type(factory).__name__)}" \
               f"@{digest.hexdigest()[:8]}"
    if name not in MODELS:
        MODELS.add(name, lambda config, shape, k: factory(shape, k), "a model factory given in this process")
    return name


def import_factory(spec: str):
    """The callable `spec` names, `package.module:function` (the current folder is searched too)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--model {spec!r}: a model factory is named package.module:function")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"--model {spec!r}: cannot import {module_name!r}: {err}") from err
    factory = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise ValueError(f"--model {spec!r}: {module_name} has no {attr!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise ValueError(f"--model {spec!r}: {attr} is not callable")
    return factory


def _reimport(name: str, input_shape: tuple[int, ...], num_classes: int) -> None:
    """Register again, in this process, the factory that `add_factory` named `name`
    (`module:qualname@fingerprint`): a Ray worker, or a record reloaded in a new process, builds the
    architecture the run trained; a ValueError if the factory cannot be imported or now builds
    another network."""
    spec = name.rpartition("@")[0]
    if "<" in spec:
        raise ValueError(f"model {name!r} was a factory defined inside a function of another process: define it at "
                         f"a module's top level so that other processes can import it")
    again = add_factory(import_factory(spec), input_shape, num_classes)
    if again != name:
        raise ValueError(f"model {name!r}: {spec} now builds another network (fingerprint {again.rpartition('@')[2]}); "
                         f"the run was trained with the factory as it was then")


def build_encoder(config: ModelConfig, input_shape: tuple[int, ...], seed: int = 0) -> tuple[nn.Module, int]:
    """The model `config` without its last linear layer: the backbone whose output a linear head
    (end-to-end) or a probe (self-supervised + simple) reads, and that output's width. Its weights
    at initialisation are those of `build(config, input_shape, C, seed)` for any C (the head is
    built last)."""
    model = build(config, input_shape, num_classes=1, seed=seed)
    name, head = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent = model.get_submodule(name.rpartition(".")[0])
    setattr(parent, name.rpartition(".")[2], nn.Identity())
    return model, head.in_features


def _conv_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(C, L) or (C, H, W) for the convolutional models; a flat (D,) becomes (1, D)."""
    if len(input_shape) == 1:
        return (1, input_shape[0])
    if len(input_shape) in (2, 3):
        return input_shape
    raise ValueError(f"convolutional models take inputs of shape (D,), (C, L) or (C, H, W); got {input_shape}")


def _layers(ndim: int):
    """The conv, batch-norm and pooling classes for 1-D or 2-D signals."""
    if ndim == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d
    return nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d


class MLP(nn.Module):
    """x -> [Linear -> ReLU -> Dropout] * depth -> Linear (zhang2017's MLP 1x512 and 3x512); the
    last hidden layer has `features` units (default `width`)."""

    def __init__(self, input_shape, num_classes, width=512, depth=1, dropout=0.0, features=None):
        super().__init__()
        hidden = [width] * depth
        if depth and features:
            hidden[-1] = features
        dims = [int(torch.tensor(input_shape).prod())] + hidden
        layers: list[nn.Module] = [nn.Flatten()]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(d_in, d_out), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(dims[-1], num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    """[Conv3 -> BN -> ReLU -> MaxPool2] with `width` then 2*`width` channels, global average pool,
    Dropout, Linear."""

    def __init__(self, input_shape, num_classes, width=32, dropout=0.0):
        super().__init__()
        self.shape = _conv_shape(input_shape)
        conv, bn, pool, gap = _layers(len(self.shape) - 1)
        c = self.shape[0]
        self.features = nn.Sequential(
            conv(c, width, 3, padding=1), bn(width), nn.ReLU(), pool(2),
            conv(width, 2 * width, 3, padding=1), bn(2 * width), nn.ReLU(), pool(2),
            gap(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def forward(self, x):
        return self.head(self.features(x.reshape(x.shape[0], *self.shape)))


class _BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, conv, bn):
        super().__init__()
        self.body = nn.Sequential(
            conv(c_in, c_out, 3, stride=stride, padding=1, bias=False), bn(c_out), nn.ReLU(),
            conv(c_out, c_out, 3, padding=1, bias=False), bn(c_out),
        )
        self.skip = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(conv(c_in, c_out, 1, stride=stride, bias=False), bn(c_out))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 images: 3x3 stem with 64 channels, no max-pool, stages of two basic
    blocks with 64/128/256/512 channels (strides 1/2/2/2), global average pool, Linear
    (He et al. 2016, Section 4.2's CIFAR adaptation of the stem)."""

    def __init__(self, input_shape, num_classes, dropout=0.0):
        super().__init__()
        self.shape = _conv_shape(input_shape)
        conv, bn, _, gap = _layers(len(self.shape) - 1)
        widths, blocks, c = (64, 128, 256, 512), [], 64
        for i, w in enumerate(widths):
            blocks += [_BasicBlock(c, w, 1 if i == 0 else 2, conv, bn), _BasicBlock(w, w, 1, conv, bn)]
            c = w
        self.net = nn.Sequential(
            conv(self.shape[0], 64, 3, padding=1, bias=False), bn(64), nn.ReLU(),
            *blocks, gap(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(512, num_classes),
        )

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], *self.shape))


class _ConvBNReLU(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, conv, bn):
        super().__init__(conv(c_in, c_out, k, stride=stride, padding=(k - 1) // 2 if stride == 1 else 0),
                         bn(c_out), nn.ReLU())


class _Inception(nn.Module):
    """zhang2017 Figure 3: a 1x1 conv with `c1` channels beside a 3x3 conv with `c3`, concatenated."""

    def __init__(self, c_in, c1, c3, conv, bn):
        super().__init__()
        self.b1 = _ConvBNReLU(c_in, c1, 1, 1, conv, bn)
        self.b3 = _ConvBNReLU(c_in, c3, 3, 1, conv, bn)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x)], dim=1)


class _Downsample(nn.Module):
    """zhang2017 Figure 3: a 3x3 stride-2 conv with `c3` channels beside a 3x3 stride-2 max-pool."""

    def __init__(self, c_in, c3, conv, bn, pool):
        super().__init__()
        self.conv = _ConvBNReLU(c_in, c3, 3, 2, conv, bn)
        self.pool = pool(3, stride=2)

    def forward(self, x):
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


class InceptionSmall(nn.Module):
    """The small Inception of zhang2017 (Appendix A, Figure 3), about 1.65M parameters on CIFAR-10:

    Conv(96, 3x3) -> Inception(32, 32) -> Inception(32, 48) -> Downsample(80)
    -> Inception(112, 48) -> Inception(96, 64) -> Inception(80, 80) -> Inception(48, 96)
    -> Downsample(96) -> Inception(176, 160) -> Inception(176, 160) -> global mean pool -> Linear.
    Each conv is followed by batch norm and ReLU. The paper pools a 7x7 map of its 28x28 crops; a
    global mean pool is the same operation for any input size.
    """

    PLAN = (("inc", 32, 32), ("inc", 32, 48), ("down", 80), ("inc", 112, 48), ("inc", 96, 64),
            ("inc", 80, 80), ("inc", 48, 96), ("down", 96), ("inc", 176, 160), ("inc", 176, 160))

    def __init__(self, input_shape, num_classes, dropout=0.0):
        super().__init__()
        self.shape = _conv_shape(input_shape)
        conv, bn, pool, gap = _layers(len(self.shape) - 1)
        layers: list[nn.Module] = [_ConvBNReLU(self.shape[0], 96, 3, 1, conv, bn)]
        c = 96
        for step in self.PLAN:
            if step[0] == "inc":
                layers.append(_Inception(c, step[1], step[2], conv, bn))
                c = step[1] + step[2]
            else:
                layers.append(_Downsample(c, step[1], conv, bn, pool))
                c = c + step[1]
        self.net = nn.Sequential(*layers, gap(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes))

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], *self.shape))
