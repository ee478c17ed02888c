"""A trained network and the data the quantities read: any `nn.Module`, trained anywhere.

    from genproof import Network, Recipe, evaluate
    net = Network(model, train=(x, y), test=(x_test, y_test), init=model_at_init,
                  recipe=Recipe(factory, TrainConfig(lr=0.1, max_steps=2000)))
    print(evaluate(net).markdown())

What a quantity needs beyond the weights and the training data (`NEEDS`) is optional: without it,
the quantity gives a row that says what to pass. `Network.from_fit(FitConfig, root)` is a network
trained by genproof's loop (`empirical.fit`); its recipe is that `FitConfig`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from empirical.data import Dataset, add_tensors
from empirical.fit import DataConfig, FitConfig, corrupted_data, fit, load_model
from empirical.models import ModelConfig, add_factory, build, count_parameters
from empirical.records import default_root
from empirical.train import TrainConfig
from empirical.trainers import add_trainer

NEEDS = {
    "init": "the same architecture at initialization: pass init=<nn.Module>",
    "test": "a test set: pass test=(x_test, y_test)",
    "recipe": ("a recipe to train the architecture again: pass recipe=genproof.Recipe(factory, TrainConfig(...)), "
               "factory(input_shape, num_classes) -> nn.Module"),
    "loop": ("a recipe that trains with genproof's loop, whose steps and hooks it reads: pass "
             "recipe=genproof.Recipe(factory, TrainConfig(...)) (a recipe with your own trainer cannot serve it)"),
}
EVAL_BATCH = 1024


@dataclass(frozen=True)
class Recipe:
    """How to train the architecture again, for the quantities that retrain (random signs, a
    stability run, a compressed or a stochastic twin): `factory(input_shape, num_classes) ->
    nn.Module`, initialised from torch's global generator (genproof seeds it with `seed`), and
    either the loop's `train` settings (`empirical.train.TrainConfig`) or your own `trainer(model,
    x, y)`, which trains the fresh model in place with any loop (`empirical.trainers`; what reads
    the loop's steps or hooks then says it needs the loop). `name`: what the record store calls
    the architecture (default: the factory's `module:qualname` and a fingerprint of its structure
    and initial weights, `empirical.models.add_factory`)."""

    factory: Callable[[tuple[int, ...], int], nn.Module]
    train: TrainConfig = TrainConfig()
    seed: int = 0
    name: str | None = None
    trainer: Callable[[nn.Module, torch.Tensor, torch.Tensor], Any] | None = None

    def __post_init__(self):
        if not callable(self.factory):
            raise TypeError(f"Recipe: factory must be callable as factory(input_shape, num_classes), got "
                            f"{self.factory!r}")
        if not isinstance(self.train, TrainConfig):
            raise TypeError(f"Recipe: train must be an empirical.train.TrainConfig, got {type(self.train).__name__}")
        if self.trainer is not None and not callable(self.trainer):
            raise TypeError(f"Recipe: trainer must be callable as trainer(model, x, y), got {self.trainer!r}")
        if self.trainer is not None and self.train != TrainConfig():
            raise ValueError("Recipe: give the loop's train settings or your own trainer, not both")

    def fit_config(self, data: Dataset) -> FitConfig:
        """This recipe on `data` as a run of `empirical.fit`: the data, the factory and the trainer
        registered for the experiments (`empirical.data.add_tensors`, `empirical.models.add_factory`,
        `empirical.trainers.add_trainer`)."""
        model = add_factory(self.factory, data.input_shape, data.num_classes, self.name)
        trainer = None if self.trainer is None else add_trainer(self.trainer)
        return FitConfig(DataConfig(add_tensors(data)), ModelConfig(model), self.train, "true", self.seed, trainer)


def dataset(train: Any, test: Any, name: str = "your data") -> Dataset:
    """`train` and `test` (`as_split`'s forms) as a `Dataset` of K = the largest label + 1 classes."""
    x, y = as_split(train, "train")
    xt, yt = as_split(test, "test")
    if xt.shape[1:] != x.shape[1:]:
        raise ValueError(f"test inputs {tuple(xt.shape[1:])} differ in shape from the training inputs "
                         f"{tuple(x.shape[1:])}")
    if min(int(y.min()), int(yt.min())) < 0:
        raise ValueError("labels must be integers 0..K-1, got a negative one")
    return Dataset(name, x, y, xt, yt, max(2, int(max(y.max(), yt.max())) + 1))


def as_split(data: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs float32, labels int64) from `(x, y)` of tensors or numpy arrays, a torch `Dataset` of
    `(x, y)` examples or a `DataLoader` of `(x, y)` batches; `what` names the argument in errors."""
    if isinstance(data, DataLoader):
        batches = [_pair(b, what) for b in data]
        if not batches:
            raise ValueError(f"{what}: the DataLoader yields no batches")
        x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    elif isinstance(data, TorchDataset):
        items = [_pair(data[i], what) for i in range(len(data))]
        if not items:
            raise ValueError(f"{what}: the Dataset is empty")
        x, y = torch.stack([i[0] for i in items]), torch.stack([i[1].reshape(()) for i in items])
    else:
        x, y = _pair(data, what)
    if not (x.is_floating_point() or x.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
        raise TypeError(f"{what}: inputs must be numbers (float or int), got {x.dtype}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{what}: labels must be integers 0..K-1, got {y.dtype}")
    x, y = x.detach().cpu().float().contiguous(), y.detach().cpu().long().reshape(-1)
    if x.ndim < 2 or len(x) != len(y):
        raise ValueError(f"{what}: inputs must be (n, *input_shape) with one label each, got inputs "
                         f"{tuple(x.shape)} and {len(y)} labels")
    if len(y) == 0:
        raise ValueError(f"{what}: no examples")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
        raise ValueError(f"{what}: {bad} inputs hold NaN or infinite values")
    return x, y


def _pair(item: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise TypeError(f"{what}: expected (inputs, labels), got {type(item).__name__}")
    return tuple(torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v) for v in item)


class Network:
    """A trained `model` (moved to the CPU, in eval mode) with its training data, and optionally a
    test set, the same architecture at initialization (`init`) and a `recipe` (`Recipe`, or the
    `FitConfig` of a genproof run). `root`: the record store where retraining quantities cache
    their runs (default `empirical.records.default_root()`). `num_classes`: K, read from the
    model's outputs when not given; labels must lie in 0..K-1. `summary` holds the measured
    errors and sizes every row reads."""

    def __init__(self, model: nn.Module, train: Any, test: Any = None, *, init: nn.Module | None = None,
                 recipe: Recipe | FitConfig | None = None, num_classes: int | None = None, name: str = "your data",
                 root: str | os.PathLike | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
        if recipe is not None and not isinstance(recipe, (Recipe, FitConfig)):
            raise TypeError(f"recipe must be a genproof.Recipe (or an empirical.fit.FitConfig), got "
                            f"{type(recipe).__name__}")
        x, y = as_split(train, "train")
        xt, yt = as_split(test, "test") if test is not None else (x[:0], y[:0])
        if xt.shape[1:] != x.shape[1:]:
            raise ValueError(f"test inputs {tuple(xt.shape[1:])} differ in shape from the training inputs "
                             f"{tuple(x.shape[1:])}")
        model = model.cpu().eval()
        with torch.no_grad():
            try:
                out = model(x[:2])
            except Exception as err:  # the user's module: say where it failed, whatever it raised
                raise ValueError(f"model fails on training inputs of shape {tuple(x.shape[1:])}: "
                                 f"{type(err).__name__}: {err}") from err
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] < 2:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"model must return logits of shape (batch, K >= 2), got {shape}")
        k = out.shape[1]
        if num_classes is not None and num_classes != k:
            raise ValueError(f"num_classes={num_classes} but the model has {k} outputs")
        for split, labels in (("train", y), ("test", yt)):
            if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= k):
                raise ValueError(f"{split} labels must lie in 0..{k - 1} (the model has {k} outputs), got "
                                 f"{int(labels.min())}..{int(labels.max())}")
        if init is not None:
            init = _same_architecture(model, init)
        data = Dataset(name, x, y, xt, yt, k)
        self._set(model, data, init, recipe, root, None, measure(model, data))

    @classmethod
    def from_fit(cls, config: FitConfig, root: str | os.PathLike | None = None, force: bool = False) -> "Network":
        """The network `empirical.fit` trains for `config` (or takes from the record store under
        `root`), with its initialization (same seed), the training data exactly as the run saw it,
        and `config` as its recipe; `summary` is the run's own."""
        root = Path(root or default_root())
        record = fit(config, root, force=force)
        data = corrupted_data(config).data
        init = build(config.model, data.input_shape, data.num_classes, seed=config.seed).eval()
        net = cls.__new__(cls)
        net._set(load_model(record, config), data, init, config, root, record, record.summary)
        return net

    def _set(self, model, data, init, recipe, root, record, summary):
        self.model, self.data, self.init, self.recipe = model, data, init, recipe
        self.root = Path(root or default_root())
        self.record, self.summary = record, summary
        self.memo: dict | None = None

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()`, once per evaluation for quantities that share work (`genproof.catalog.evaluate`
        keeps `memo` for the duration of one call; outside one, nothing is kept). An exception is
        kept too, and raised again to each quantity that asks."""
        if self.memo is None:
            return compute()
        if key not in self.memo:
            try:
                self.memo[key] = (compute(), None)
            except (ValueError, NotImplementedError) as err:
                self.memo[key] = (None, err)
        value, err = self.memo[key]
        if err is not None:
            raise err
        return value

    def has(self, need: str) -> bool:
        """Whether the network has what `need` (a key of `NEEDS`) asks for."""
        if need not in NEEDS:
            raise ValueError(f"need must be one of {', '.join(NEEDS)}, got {need!r}")
        return {"init": self.init is not None, "test": self.data.n_test > 0, "recipe": self.recipe is not None,
                "loop": self.recipe is not None and self.recipe.trainer is None}[need]

    @property
    def fit_config(self) -> FitConfig | None:
        """The recipe as a run of `empirical.fit` (None without one): a `Recipe` trains its factory on
        this network's training and test data, both registered for the experiments
        (`empirical.data.add_tensors`, `empirical.models.add_factory`)."""
        if self.recipe is None or isinstance(self.recipe, FitConfig):
            return self.recipe
        return self.recipe.fit_config(self.data)

    @property
    def trained_by(self) -> str:
        return "genproof (empirical.fit)" if self.record is not None else "its user"

    def __repr__(self) -> str:
        extra = [n for n in NEEDS if self.has(n)]
        return (f"Network({type(self.model).__name__}, {self.data!r}, trained by {self.trained_by}, with "
                f"{', '.join(extra) or 'weights and training data only'})")


def _same_architecture(model: nn.Module, init: nn.Module) -> nn.Module:
    if not isinstance(init, nn.Module):
        raise TypeError(f"init must be a torch nn.Module, got {type(init).__name__}")
    a, b = model.state_dict(), init.state_dict()
    if a.keys() != b.keys():
        diff = sorted(set(a) ^ set(b))
        raise ValueError(f"init is not the model's architecture: parameters differ, first {diff[0]!r}")
    for key in a:
        if a[key].shape != b[key].shape:
            raise ValueError(f"init is not the model's architecture: {key!r} has shape {tuple(b[key].shape)}, "
                             f"the model's {tuple(a[key].shape)}")
    return init.cpu().eval()


def _batch_logits(model: nn.Module, x: torch.Tensor, params: dict[str, torch.Tensor] | None):
    """`model` on each batch of `EVAL_BATCH` inputs of x in turn, without gradients."""
    with torch.no_grad():
        for i in range(0, len(x), EVAL_BATCH):
            xb = x[i:i + EVAL_BATCH]
            yield model(xb) if params is None else functional_call(model, params, (xb,))


def logits(model: nn.Module, x: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """`model(x)` without gradients, in batches of `EVAL_BATCH` (the activations of one batch at a
    time, for any number of inputs), with its parameters replaced by `params` where given
    (`torch.func.functional_call`). The model is called in the mode it is in."""
    return torch.cat(list(_batch_logits(model, x, params)))


def error(model: nn.Module, x: torch.Tensor, y: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> float:
    """The 0-1 error of `model` (eval mode) on (x, y), counted batch by batch (`EVAL_BATCH`), with its
    parameters replaced by `params` where given."""
    wrong = sum(int((out.argmax(1) != y[i * EVAL_BATCH:(i + 1) * EVAL_BATCH]).sum())
                for i, out in enumerate(_batch_logits(model, x, params)))
    return wrong / len(y)


def measure(model: nn.Module, data: Dataset) -> dict:
    """The summary of a network its user trained: measured train and test errors (test None
    without a test set), sizes; `steps` is unknown (None)."""
    train_error = error(model, data.x_train, data.y_train)
    test_error = error(model, data.x_test, data.y_test) if data.n_test else None
    return {"train_error": train_error, "test_error": test_error,
            "gap": None if test_error is None else test_error - train_error, "n_params": count_parameters(model),
            "n_train": data.n_train, "n_test": data.n_test, "num_classes": data.num_classes,
            "input_shape": list(data.input_shape), "steps": None, "epochs": None, "fitted": train_error == 0.0,
            "wall_s": None}


def has_batch_norm(model: nn.Module) -> bool:
    """Whether `model` has batch-norm layers: their running statistics are fitted to the training
    data by averaging, not by the gradient steps, and are no parameters."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
