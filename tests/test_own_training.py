"""Your own training function in place of genproof's loop (`Recipe(factory, trainer=...)`,
`empirical.trainers`): a run of it, the quantities and the claims that take it, and those that say
they need the loop."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from empirical.fit import DataConfig, FitConfig, fit
from empirical.models import ModelConfig, add_factory
from empirical.train import TrainConfig
from empirical.trainers import add_trainer
from genproof import Network, Recipe, evaluate
from genproof.claims import check

CALLS = []


def factory(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), 64), nn.BatchNorm1d(64), nn.ReLU(),
                         nn.Linear(64, num_classes))


def adam_full_batch(model, x, y):
    """A plain torch loop, nothing of genproof's: Adam on the whole batch until every label is fitted."""
    CALLS.append(len(y))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(2000):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if step % 50 == 49:
            model.eval()
            with torch.no_grad():
                done = bool((model(x).argmax(1) == y).all())
            model.train()
            if done:
                return


def broken(model, x, y):
    raise RuntimeError("out of memory on purpose")


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    return (x[:200], y[:200]), (x[200:400], y[200:400])


def test_a_run_trained_by_your_function_is_recorded_and_cached(tmp_path):
    model = add_factory(factory, (64,), 10)
    config = FitConfig(DataConfig("digits", n_train=200, n_test=100), ModelConfig(model), corruption="random-labels",
                       trainer=add_trainer(adam_full_batch))
    before = len(CALLS)
    s = fit(config, tmp_path).summary
    assert len(CALLS) == before + 1 and CALLS[-1] == 200
    assert s["train_error"] == 0.0 and s["fitted"] and s["steps"] is None and s["steps_to_fit"] is None
    assert 0.0 <= s["test_error"] <= 1.0 and s["gap"] == pytest.approx(s["train_acc"] - s["test_acc"])
    assert fit(config, tmp_path).cached and len(CALLS) == before + 1
    # the name is the function's and its source's: another function is another trainer
    assert config.trainer.startswith(f"{__name__}:adam_full_batch@") and add_trainer(broken) != config.trainer
    with pytest.raises(ValueError, match="takes no TrainConfig"):
        FitConfig(train=TrainConfig(lr=0.5), trainer=config.trainer)
    with pytest.raises(ValueError, match="your training function .*:broken@[0-9a-f]{8} raised RuntimeError: out of memory"):
        fit(FitConfig(config.data, config.model, trainer=add_trainer(broken)), tmp_path)
    assert len(list(tmp_path.glob("fit-*"))) == 1  # the failed run left no record


def test_quantities_that_retrain_use_it_or_say_they_need_the_loop(tmp_path, digits):
    (x, y), test = digits
    torch.manual_seed(0)
    model, init = factory((64,), 10), factory((64,), 10)
    model.load_state_dict(init.state_dict())
    adam_full_batch(model, torch.as_tensor(x), torch.as_tensor(y))
    net = Network(model, (x, y), test, init=init, recipe=Recipe(factory, trainer=adam_full_batch), root=tmp_path)
    before = len(CALLS)
    rows = {r["family"]: r for r in evaluate(net, ["rademacher", "stability", "compression", "pbb"]).rows}
    for family in ("stability", "compression", "pbb"):
        assert rows[family]["value"] is None and "genproof's loop" in rows[family]["detail"]["reason"], rows[family]
    assert rows["rademacher"]["kind"] == "lower-estimate" and rows["rademacher"]["value"] is not None
    assert len(CALLS) == before + 3  # its three random-sign fits ran your function
    with pytest.raises(ValueError, match="not both"):
        Recipe(factory, TrainConfig(lr=0.5), trainer=adam_full_batch)


def test_claims_about_trained_networks_take_it_the_others_refuse(tmp_path, digits):
    recipe = Recipe(factory, trainer=adam_full_batch)
    verdict = check("zhang2017.random-labels", recipe, data=digits, root=tmp_path)
    m = verdict.measured
    assert len(m["train_acc_random"]) == 3 and m["epochs_to_fit_random"] == [None] * 3
    assert verdict.holds == (min(m["train_acc_random"]) == 1.0 and m["max_dev_from_chance"] <= 0.05)
    assert verdict.setting.trainer.startswith(f"{__name__}:adam_full_batch@")
    with pytest.raises(ValueError, match="reads what genproof's loop records.*with your own trainer: "
                                         "(.*, )?zhang2017.random-labels"):
        check("zhang2017.fit-time-factor", recipe, data=digits, root=tmp_path)
