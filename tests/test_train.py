import math

import pytest
import torch
from torch import nn

from empirical.models import ModelConfig, build
from empirical.batches import Resident, Stream, augment
from empirical.train import TrainConfig, evaluate, train
from empirical.update_rules import UPDATE_RULES, GradientStep


def blobs(n=200, d=10, k=4, seed=0):
    """Well separated Gaussian blobs: every sensible learner fits them."""
    g = torch.Generator().manual_seed(seed)
    centers = 4 * torch.randn(k, d, generator=g)
    y = torch.arange(n) % k
    x = centers[y] + torch.randn(n, d, generator=g)
    return x[: n // 2], y[: n // 2], x[n // 2:], y[n // 2:]


def mlp(d=10, k=4, seed=0):
    return build(ModelConfig("mlp", width=32), (d,), k, seed=seed)


def run(model, x, y, xt, yt, cfg, seed=0):
    """The usual call: a resident walk over (x, y), evaluated on both sets."""
    return train(model, (x, y), cfg, seed=seed, evals={"train": (x, y), "test": (xt, yt)})


def test_same_seed_same_numbers_on_cpu():
    data = blobs()
    cfg = TrainConfig(lr=0.05, batch_size=16, max_steps=60, stop_at_fit=False, progress=False)
    a, b = run(mlp(), *data, cfg, seed=3), run(mlp(), *data, cfg, seed=3)
    c = run(mlp(), *data, cfg, seed=4)
    strip = lambda h: [{k: v for k, v in r.items() if k != "wall_s"} for r in h]  # noqa: E731
    assert strip(a.history) == strip(b.history)
    assert strip(a.history) != strip(c.history)


def test_stops_at_full_training_accuracy_and_records_when():
    data = blobs()
    res = run(mlp(), *data, TrainConfig(lr=0.05, batch_size=10, max_steps=5000, progress=False))
    assert res.fitted and res.final["train_acc"] == 1.0
    assert res.steps_to_fit == res.steps < 5000
    assert res.epochs_to_fit == res.steps / 10  # 100 examples, batches of 10: 10 steps an epoch
    assert [r["epoch"] for r in res.history] == list(range(1, len(res.history) + 1))


def test_step_budget_is_respected_when_the_data_cannot_be_fitted():
    x, y, xt, yt = blobs()
    x = torch.zeros_like(x)  # identical inputs with different labels cannot be fitted
    res = run(mlp(), x, y, xt, yt, TrainConfig(lr=0.05, batch_size=32, max_steps=25, progress=False))
    assert not res.fitted and res.steps_to_fit is None and res.epochs_to_fit is None
    assert res.steps == 25 and res.history[-1]["step"] == 25
    assert res.epochs == pytest.approx(25 / 4)


def test_eval_every_and_lr_decay():
    data = blobs()
    cfg = TrainConfig(lr=0.1, lr_decay=0.5, batch_size=50, max_steps=6, eval_every=2, stop_at_fit=False,
                      progress=False)
    res = run(mlp(), *data, cfg)
    assert [r["step"] for r in res.history] == [2, 4, 6]
    assert [r["lr"] for r in res.history] == [0.1, 0.05, 0.025]  # 2 steps an epoch; decay at each new epoch


def test_update_rules_are_pluggable():
    calls = []

    @UPDATE_RULES.register("counting-sgd", "SGD that counts its minibatches (a test)")
    def counting(model, config):
        rule = GradientStep(torch.optim.SGD(model.parameters(), lr=config.lr))
        step = rule.step

        def counted(loss_fn, x, y):
            calls.append(len(x))
            return step(loss_fn, x, y)

        rule.step = counted
        return rule

    try:
        run(mlp(), *blobs(), TrainConfig(optimizer="counting-sgd", batch_size=30, max_steps=5,
                                         stop_at_fit=False, progress=False))
        assert calls == [30, 30, 30, 10, 30]  # 100 examples: the last batch of an epoch is short
    finally:
        UPDATE_RULES._entries.pop("counting-sgd")
    with pytest.raises(ValueError, match="unknown update rule 'counting-sgd'"):
        TrainConfig(optimizer="counting-sgd")


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="lr must be positive"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="lr_decay"):
        TrainConfig(lr_decay=1.5)
    with pytest.raises(ValueError, match="differ in length"):
        x, y, xt, yt = blobs()
        run(mlp(), x, y[:-1], xt, yt, TrainConfig(progress=False))
    with pytest.raises(ValueError, match="stop_at_fit needs an evaluation set named 'train'"):
        train(mlp(), (x, y), TrainConfig(progress=False), evals={"test": (xt, yt)})
    with pytest.raises(ValueError, match="needs config.eval_every or config.eval_at"):
        train(mlp(), Stream(lambda k: (x[:8], y[:8])), TrainConfig(stop_at_fit=False, progress=False))


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
    a = run(build_cnn(), x, y, x, y, cfg, seed=2)
    b = run(build_cnn(), x, y, x, y, cfg, seed=2)
    assert a.final["train_loss"] == b.final["train_loss"]


def test_the_loop_is_the_textbook_permutation_walk():
    """The loop's SGD equals a hand-written loop over the same seeded permutations, weight for
    weight: a new permutation per epoch from a generator seeded by `seed`, the last batch short."""
    x, y, _, _ = blobs()
    cfg = TrainConfig(lr=0.05, momentum=0.9, batch_size=30, max_steps=9, stop_at_fit=False, progress=False)
    ours = mlp()
    train(ours, (x, y), cfg, seed=5)
    ref = mlp()
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    g, steps = torch.Generator().manual_seed(5), 0
    while steps < 9:
        for idx in torch.randperm(len(x), generator=g).split(30):
            opt.zero_grad()
            nn.functional.cross_entropy(ref(x[idx]), y[idx]).backward()
            opt.step()
            steps += 1
            if steps == 9:
                break
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert torch.equal(a, b)


def test_evaluation_sets_are_optional_and_named():
    x, y, xt, yt = blobs()
    cfg = TrainConfig(lr=0.05, batch_size=25, max_steps=8, stop_at_fit=False, progress=False)
    bare = train(mlp(), (x, y), cfg)
    assert [sorted(r) for r in bare.history] == [["batch_loss", "epoch", "lr", "step", "wall_s"]] * 2
    named = train(mlp(), (x, y), cfg, evals={"held-out": (xt, yt)})
    assert set(named.final) >= {"held-out_loss", "held-out_acc"} and "train_acc" not in named.final
    # the same steps were taken whatever is evaluated
    assert [r["batch_loss"] for r in bare.history] == [r["batch_loss"] for r in named.history]


def test_resident_source_drops_the_short_last_batch_when_asked():
    x = torch.arange(10.0)[:, None]
    source = Resident(x, None, 4, torch.Generator().manual_seed(0), drop_last=True)
    assert source.steps_per_epoch == 2
    batches = [source.next_batch()[0].flatten().tolist() for _ in range(4)]
    assert all(len(b) == 4 and len(set(b)) == 4 for b in batches)
    assert source.epoch == 2 and source.epoch_end
    assert Resident(x, None, 64, torch.Generator(), drop_last=True).batch_size == 10  # a batch is at most the data


def test_a_stream_trains_on_fresh_samples_and_never_repeats_a_batch():
    drawn = []

    def draw(k):
        drawn.append(k)
        xb, yb, _, _ = blobs(n=32, seed=100 + k)
        return xb, yb

    x, y, xt, yt = blobs()
    cfg = TrainConfig(lr=0.05, batch_size=16, max_steps=12, eval_every=5, stop_at_fit=False, progress=False)
    res = train(mlp(), Stream(draw), cfg, evals={"test": (xt, yt)})
    assert drawn == list(range(12))
    assert [r["step"] for r in res.history] == [5, 10, 12] and res.epochs is None
    assert all(r["epoch"] is None for r in res.history)


def test_an_objective_with_parameters_trains_them_with_the_model():
    class Head(nn.Module):  # a label-free objective with a parameter of its own
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()))

        def forward(self, model, x, y):
            return (self.scale * model(x)).pow(2).mean()

    x, _, _, _ = blobs()
    head, model = Head(), mlp()
    before = [p.detach().clone() for p in model.parameters()]
    cfg = TrainConfig(lr=0.01, batch_size=20, max_steps=5, stop_at_fit=False, progress=False)
    train(model, Resident(x, None, 20, torch.Generator()), cfg, objective=head)
    assert head.scale.item() < 1.0  # the loss falls with the scale: gradient descent lowers it
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_inverse_time_steps_are_lr_over_t():
    """alpha_t = c / t (Hardt et al. Theorem 3.12's schedule): plain SGD with it equals a hand loop
    whose t-th step is lr / t."""
    x, y, _, _ = blobs()
    cfg = TrainConfig(lr=0.3, momentum=0.0, batch_size=25, max_steps=6, lr_schedule="inverse-time",
                      stop_at_fit=False, eval_every=3, progress=False)
    ours = mlp()
    res = train(ours, (x, y), cfg, seed=1)
    assert [r["lr"] for r in res.history] == [0.3 / 3, 0.3 / 6]
    ref = mlp()
    g, t = torch.Generator().manual_seed(1), 0
    for _ in range(2):
        for idx in torch.randperm(len(x), generator=g).split(25):
            t += 1
            ref.zero_grad()
            nn.functional.cross_entropy(ref(x[idx]), y[idx]).backward()
            with torch.no_grad():
                for p in ref.parameters():
                    p -= 0.3 / t * p.grad
            if t == 6:
                break
        if t == 6:
            break
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="lr_decay must be 1"):
        TrainConfig(lr_schedule="inverse-time", lr_decay=0.9)


def test_evaluation_at_listed_steps_with_probes():
    x, y, xt, yt = blobs()
    cfg = TrainConfig(lr=0.05, batch_size=10, max_steps=20, eval_at=(16, 1, 4, 4), stop_at_fit=False,
                      progress=False)
    assert cfg.eval_at == (1, 4, 16)
    seen = []

    def weight_norm(model):
        seen.append(model.training)
        return {"norm": sum(p.norm() ** 2 for p in model.parameters()).sqrt().item()}

    res = train(mlp(), Stream(lambda k: (x[k % 10 * 10:(k % 10 + 1) * 10], y[k % 10 * 10:(k % 10 + 1) * 10])), cfg,
                evals={"test": (xt, yt)}, probes={"w": weight_norm})
    assert [r["step"] for r in res.history] == [1, 4, 16, 20]  # and the last step
    assert all(r["w_norm"] > 0 for r in res.history) and len(seen) == 4
    plain = train(mlp(), Stream(lambda k: (x[k % 10 * 10:(k % 10 + 1) * 10], y[k % 10 * 10:(k % 10 + 1) * 10])), cfg,
                  evals={"test": (xt, yt)})
    assert [r["test_loss"] for r in plain.history] == [r["test_loss"] for r in res.history]  # probes change nothing
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(eval_every=5, eval_at=(3,))
    with pytest.raises(ValueError, match="eval_at must be"):
        TrainConfig(eval_at=(0,))


def test_evaluation_sums_on_the_device_as_the_host_would():
    """The counts accumulate in a float64 tensor and are read once: the same numbers as summing
    every batch's float32 sum as Python floats, whatever the batch size."""
    x, y, _, _ = blobs(n=100)
    model = mlp()
    by_host = {"loss": 0.0, "acc": 0.0, "soft_error": 0.0}
    with torch.no_grad():
        for i in range(0, len(x), 7):
            logits = model(x[i:i + 7]).float()
            by_host["loss"] += torch.nn.functional.cross_entropy(logits, y[i:i + 7], reduction="sum").item()
            by_host["acc"] += (logits.argmax(1) == y[i:i + 7]).sum().item()
            by_host["soft_error"] += logits.softmax(1).gather(1, y[i:i + 7, None]).sum().item()
    out = evaluate(model, x, y, batch_size=7, soft_error=True)
    assert out["loss"] == by_host["loss"] / len(x) and out["acc"] == by_host["acc"] / len(x)
    assert out["soft_error"] == 1 - by_host["soft_error"] / len(x)
    whole = evaluate(model, x, y, batch_size=len(x), soft_error=True)
    assert whole["acc"] == out["acc"] and whole["loss"] == pytest.approx(out["loss"], rel=1e-6)


def test_a_time_limit_stops_the_loop_with_a_last_evaluation():
    x, y, xt, yt = blobs()
    cfg = TrainConfig(lr=0.01, batch_size=10, max_steps=10_000, time_limit_s=1e-9, progress=False)
    result = run(mlp(), x, y, xt, yt, cfg)
    assert result.steps == 1 and len(result.history) == 1 and result.history[-1]["step"] == 1
    with pytest.raises(ValueError, match="time_limit_s"):
        TrainConfig(time_limit_s=0)


def test_compile_is_on_by_default_for_image_models_on_cuda_only():
    from empirical.train import _compiles, cross_entropy

    images, flat = torch.zeros(2, 3, 8, 8), torch.zeros(2, 10)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert _compiles(TrainConfig(), cuda, images, cross_entropy)
    assert not _compiles(TrainConfig(), cpu, images, cross_entropy)
    assert not _compiles(TrainConfig(), cuda, flat, cross_entropy)
    assert not _compiles(TrainConfig(), cuda, images, lambda model, x, y: model(x).sum())  # another objective
    assert _compiles(TrainConfig(compile=True), cpu, flat, cross_entropy)
    assert not _compiles(TrainConfig(compile=False), cuda, images, cross_entropy)


def test_new_fields_at_their_defaults_leave_the_hashes_as_they_were():
    from empirical.fit import DataConfig, FitConfig
    from empirical.records import config_hash

    # the hashes of these configs before `compile` and `time_limit_s` existed (commit c8d4241)
    assert config_hash(TrainConfig(lr=0.1, device="cpu")) == "01e520dae238"
    fit = FitConfig(DataConfig("cifar10"), ModelConfig("resnet18"), TrainConfig(lr=0.1, batch_size=512, device="cpu"),
                    seed=3)
    assert config_hash(fit) == "e95e5983228b"
    assert config_hash(TrainConfig(lr=0.1, device="cpu", compile=False)) != "01e520dae238"


def test_a_compiled_model_trains_and_evaluates_as_the_eager_one(monkeypatch):
    """The loop's compiled path (one graph per mode, the batch size dynamic, evaluation through the
    compiled module) on the CPU: dynamo captures the graphs and, with its "eager" backend (no code
    generation, so the test takes a second), the numbers are the eager loop's."""
    import dataclasses
    import functools

    from torch._dynamo.utils import counters

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 1, 8, 8, generator=g), torch.arange(40) % 3
    cnn = ModelConfig("cnn", channels=4)
    cfg = TrainConfig(lr=0.05, batch_size=16, max_steps=6, stop_at_fit=False, progress=False)  # 16, 16, 8 a pass
    eager = train(build(cnn, (1, 8, 8), 3, seed=0), (x, y), cfg, evals={"train": (x, y)})
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    torch._dynamo.reset()
    counters.clear()
    compiled = train(build(cnn, (1, 8, 8), 3, seed=0), (x, y), dataclasses.replace(cfg, compile=True),
                     evals={"train": (x, y)})
    assert counters["stats"]["unique_graphs"] >= 2  # a graph for training, one for evaluation
    for a, b in zip(eager.history, compiled.history, strict=True):
        assert b["train_acc"] == a["train_acc"] and b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["batch_loss"] == pytest.approx(a["batch_loss"], rel=1e-5)
