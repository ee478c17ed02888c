import math

import pytest
import torch
from torch import nn

from empirical.models import ModelConfig, build
from empirical.train import (UPDATE_RULES, GradientStep, TrainConfig, augment, evaluate, register_update_rule,
                             train)


def blobs(n=200, d=10, k=4, seed=0):
    """Well separated Gaussian blobs: every sensible learner fits them."""
    g = torch.Generator().manual_seed(seed)
    centers = 4 * torch.randn(k, d, generator=g)
    y = torch.arange(n) % k
    x = centers[y] + torch.randn(n, d, generator=g)
    return x[: n // 2], y[: n // 2], x[n // 2:], y[n // 2:]


def mlp(d=10, k=4, seed=0):
    return build(ModelConfig("mlp", width=32), (d,), k, seed=seed)


def test_same_seed_same_numbers_on_cpu():
    data = blobs()
    cfg = TrainConfig(lr=0.05, batch_size=16, max_steps=60, stop_at_fit=False, progress=False)
    a, b = train(mlp(), *data, cfg, seed=3), train(mlp(), *data, cfg, seed=3)
    c = train(mlp(), *data, cfg, seed=4)
    strip = lambda h: [{k: v for k, v in r.items() if k != "wall_s"} for r in h]  # noqa: E731
    assert strip(a.history) == strip(b.history)
    assert strip(a.history) != strip(c.history)


def test_stops_at_full_training_accuracy_and_records_when():
    data = blobs()
    res = train(mlp(), *data, TrainConfig(lr=0.05, batch_size=10, max_steps=5000, progress=False))
    assert res.fitted and res.final["train_acc"] == 1.0
    assert res.steps_to_fit == res.steps < 5000
    assert res.epochs_to_fit == res.steps / 10  # 100 examples, batches of 10: 10 steps an epoch
    assert [r["epoch"] for r in res.history] == list(range(1, len(res.history) + 1))


def test_step_budget_is_respected_when_the_data_cannot_be_fitted():
    x, y, xt, yt = blobs()
    x = torch.zeros_like(x)  # identical inputs with different labels cannot be fitted
    res = train(mlp(), x, y, xt, yt, TrainConfig(lr=0.05, batch_size=32, max_steps=25, progress=False))
    assert not res.fitted and res.steps_to_fit is None and res.epochs_to_fit is None
    assert res.steps == 25 and res.history[-1]["step"] == 25
    assert res.epochs == pytest.approx(25 / 4)


def test_eval_every_and_lr_decay():
    data = blobs()
    cfg = TrainConfig(lr=0.1, lr_decay=0.5, batch_size=50, max_steps=6, eval_every=2, stop_at_fit=False,
                      progress=False)
    res = train(mlp(), *data, cfg)
    assert [r["step"] for r in res.history] == [2, 4, 6]
    assert [r["lr"] for r in res.history] == [0.1, 0.05, 0.025]  # 2 steps an epoch; decay at each new epoch


def test_update_rules_are_pluggable():
    calls = []

    @register_update_rule("counting-sgd")
    def counting(model, config):
        rule = GradientStep(torch.optim.SGD(model.parameters(), lr=config.lr))
        step = rule.step

        def counted(loss_fn, x, y):
            calls.append(len(x))
            return step(loss_fn, x, y)

        rule.step = counted
        return rule

    try:
        train(mlp(), *blobs(), TrainConfig(optimizer="counting-sgd", batch_size=30, max_steps=5,
                                           stop_at_fit=False, progress=False))
        assert calls == [30, 30, 30, 10, 30]  # 100 examples: the last batch of an epoch is short
    finally:
        UPDATE_RULES.pop("counting-sgd")
    with pytest.raises(ValueError, match="unknown optimizer 'counting-sgd'"):
        TrainConfig(optimizer="counting-sgd")


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="lr must be positive"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="lr_decay"):
        TrainConfig(lr_decay=1.5)
    with pytest.raises(ValueError, match="differ in length"):
        x, y, xt, yt = blobs()
        train(mlp(), x, y[:-1], xt, yt, TrainConfig(progress=False))


def test_evaluate_matches_closed_form_for_a_constant_classifier():
    class Uniform(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return torch.zeros(len(x), 5) + 0 * self.w

    y = torch.arange(20) % 5
    out = evaluate(Uniform(), torch.zeros(20, 3), y, batch_size=7, soft_error=True)
    assert out["loss"] == pytest.approx(math.log(5))
    assert out["soft_error"] == pytest.approx(1 - 1 / 5)
    assert out["acc"] == pytest.approx(4 / 20)  # argmax picks class 0, right for 4 of 20


def test_augment_crops_and_flips_images_and_shifts_signals():
    g = torch.Generator().manual_seed(0)
    img = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32) + 1
    out = augment(img, g)
    assert out.shape == img.shape
    # each output is a (possibly flipped) window of the zero-padded input: its nonzero values
    # are a subset of the input's, and at least a (32-8)^2 core of every channel survives
    for i in range(2):
        vals = set(out[i].flatten().tolist()) - {0.0}
        assert vals <= set(img[i].flatten().tolist())
        assert len(vals) >= 3 * 24 * 24
    sig = torch.arange(4 * 40, dtype=torch.float32).reshape(4, 1, 40) + 1
    shifted = augment(sig, g)
    for i in range(4):
        nz = shifted[i, 0][shifted[i, 0] != 0]
        assert torch.all(nz[1:] - nz[:-1] == 1)  # a contiguous window, never flipped
    with pytest.raises(ValueError, match="augmentation needs"):
        augment(torch.zeros(4, 20), g)
    with pytest.raises(ValueError, match="augment must be one of"):
        TrainConfig(augment="mixup")


def test_crop_without_flip_keeps_orientation():
    g = torch.Generator().manual_seed(0)
    img = torch.arange(64, dtype=torch.float32).reshape(1, 1, 8, 8).repeat(16, 1, 1, 1) + 1
    out = augment(img, g, flip=False)
    rows = out[:, 0]
    # within every row the surviving pixels increase left to right: never mirrored
    for r in rows.reshape(-1, 8):
        v = r[r != 0]
        assert torch.all(v[1:] > v[:-1])


def test_augmented_training_runs_and_is_deterministic():
    x = torch.rand(64, 1, 8, 8)
    y = torch.arange(64) % 2
    cfg = TrainConfig(lr=0.05, batch_size=16, max_steps=8, augment="crop+flip", stop_at_fit=False, progress=False)
    build_cnn = lambda: build(ModelConfig("cnn", channels=8), (1, 8, 8), 2, seed=1)  # noqa: E731
    a = train(build_cnn(), x, y, x, y, cfg, seed=2)
    b = train(build_cnn(), x, y, x, y, cfg, seed=2)
    assert a.final["train_loss"] == b.final["train_loss"]
