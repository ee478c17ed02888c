import math
from dataclasses import replace

import pytest
import torch

from empirical.data import Dataset
from empirical.fit import DataConfig, corrupted_data
from empirical.models import ModelConfig, build
from empirical.replace_one import (MarginRamp, SurrogateFitConfig, load_surrogate_model, measure_stability,
                                   replace_one, sgm_batches, surrogate_fit)
from empirical.train import TrainConfig, train
from genproof.stability import (convex_bound, convex_parameter_bound, convex_pathwise_parameter_bound,
                                estimate_lipschitz, estimate_smoothness, margin_ramp_constants,
                                margin_ramp_linear_constants, nonconvex_bound, nonconvex_bound_minibatch,
                                nonconvex_stability_at, softmax_regression_constants, strongly_convex_bound)


def test_bounds_at_hand_computed_values():
    assert convex_bound(L=2, n=100, steps=[0.1] * 50) == pytest.approx(2 * 4 / 100 * 5)
    assert convex_parameter_bound(L=2, n=100, steps=[0.1] * 50) == pytest.approx(2 * 2 / 100 * 5)
    assert strongly_convex_bound(L=2, gamma=0.5, n=100) == pytest.approx(8 / 50)
    # beta c = 1: (1 + 1) / (n - 1) * (2 c L^2)^(1/2) * T^(1/2)
    assert nonconvex_bound(L=1, beta=1, c=1, T=100, n=11) == pytest.approx(2 / 10 * math.sqrt(2) * 10)
    assert convex_pathwise_parameter_bound(L=2, step=0.1, touches=3, smallest_batch=4) == pytest.approx(0.3)
    assert nonconvex_bound(1, 1, 1, 400, 11) > nonconvex_bound(1, 1, 1, 100, 11)


def _tiny(n=40, d=3, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)
    return Dataset("tiny", x, y, x[:10].clone(), y[:10].clone(), k)


def test_softmax_regression_constants_bound_the_measured_ones():
    ds = _tiny()
    L, beta = softmax_regression_constants(ds.x_train)
    for seed in range(3):
        model = build(ModelConfig("mlp", depth=0), (3,), 2, seed=seed)
        assert estimate_lipschitz(model, ds.x_train, ds.y_train) <= L
        assert estimate_smoothness(model, ds.x_train, ds.y_train) <= beta


def test_smoothness_is_tight_for_one_example_at_zero_weights():
    # two classes, p = (1/2, 1/2): the Hessian is [[1/4, -1/4], [-1/4, 1/4]] kron (x,1)(x,1)^T,
    # whose top eigenvalue is (1/2) ||(x, 1)||^2, exactly softmax_regression_constants' beta
    x, y = torch.tensor([[1.0, 2.0, -1.0]]), torch.tensor([1])
    model = build(ModelConfig("mlp", depth=0), (3,), 2)
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    assert estimate_smoothness(model, x, y, iterations=50) == pytest.approx(softmax_regression_constants(x)[1], rel=1e-4)


def test_replacing_an_example_by_itself_changes_nothing_and_a_real_replacement_does():
    ds = _tiny()
    same = ds.replace(x_test=ds.x_train[[5, 6]].clone(), y_test=ds.y_train[[5, 6]].clone())
    assert torch.equal(replace_one(same, 5, by=0).x_train, same.x_train)
    cfg = TrainConfig(lr=0.1, momentum=0.0, batch_size=8, max_steps=30)
    (m,) = measure_stability(same, ModelConfig("mlp", depth=0), cfg, indices=[5])
    assert m.parameter_distance == 0 and m.max_test_loss_difference == 0
    (m,) = measure_stability(ds, ModelConfig("mlp", depth=0), cfg, indices=[5])
    assert m.parameter_distance > 0


@pytest.mark.parametrize("L, beta, c, T, n, batch, sup", [
    (1.0, 1.0, 1.0, 100, 11, 1, 1.0), (3.5, 8.1, 1.0, 1000, 1437, 128, 2.0), (1.8, 5.7, 0.1, 1000, 1437, 32, 2.0),
    (0.5, 0.2, 0.5, 2000, 500, 8, 1.0), (2.0, 50.0, 0.01, 300, 60_000, 64, 1.0)])
def test_minibatch_bound_is_the_minimum_over_t0_of_the_proofs_expression(L, beta, c, T, n, batch, sup):
    # brute force over every integer t0; and an independent continuous minimisation (scipy) of the
    # expression as the proof states it (beta not raised): ours is at most its value at the integers
    # next to the continuous minimiser, and at least the continuous minimum once beta is raised
    from scipy.optimize import minimize_scalar

    ours = nonconvex_bound_minibatch(L, beta, c, T, n, batch, sup)
    assert ours == min(nonconvex_stability_at(t, L, beta, c, T, n, batch, sup) for t in range(1, T + 1))

    def raw(t):
        return sup * t * batch / n + 2 * L**2 / (beta * (n - 1)) * (T / t) ** (beta * c)

    best = minimize_scalar(raw, bounds=(1, T), method="bounded", options={"xatol": 1e-9})
    assert ours <= min(raw(math.floor(best.x)), raw(min(T, math.ceil(best.x))), sup * T * batch / n) * (1 + 1e-9)
    raised = minimize_scalar(lambda t: nonconvex_stability_at(t, L, beta, c, T, n, batch, sup), bounds=(1, T),
                             method="bounded", options={"xatol": 1e-9})
    assert ours >= min(raised.fun, sup * T * batch / n) * (1 - 1e-6)


def test_minibatch_bound_is_theorem_3_12_at_T_times_b_and_exceeds_the_old_adaptation():
    # b = 1: the paper's closed form evaluates the same expression at its own (real) t0
    assert nonconvex_bound_minibatch(1, 1, 1, 10_000, 1001) == pytest.approx(nonconvex_bound(1, 1, 1, 10_000, 1001),
                                                                           rel=1e-3)
    # b = 128, beta c = 1: about the closed form at T b; n -> n/b with L -> L/b understated it by
    # about b^(1/(beta c + 1)) = sqrt(128)
    ours = nonconvex_bound_minibatch(1, 1, 1, 10_000, 100_001, batch=128)
    assert ours == pytest.approx(nonconvex_bound(1, 1, 1, 10_000 * 128, 100_001), rel=1e-2)
    assert ours / nonconvex_bound(1 / 128, 1, 1, 10_000, 100_001 / 128) == pytest.approx(math.sqrt(128), rel=0.02)


def test_minibatch_bound_is_at_most_the_epochs_and_grows_with_the_constants():
    assert nonconvex_bound_minibatch(100.0, 100.0, 1.0, 50, 1000, 10, sup_loss=2.0) <= 2.0 * 50 * 10 / 1000
    assert nonconvex_bound_minibatch(1.5, 0.3, 1.0, 500, 1000, 4) >= nonconvex_bound_minibatch(1.0, 0.3, 1.0, 500, 1000, 4)
    # any beta' >= beta is admissible, so the bound never decreases in beta (lower estimates give lower values)
    values = [nonconvex_bound_minibatch(1.0, beta, 1.0, 500, 1000, 4) for beta in (0.001, 0.01, 0.1, 0.3, 1, 3)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="batch"):
        nonconvex_bound_minibatch(1, 1, 1, 10, 100, batch=0)


def test_margin_ramp_bounds_the_zero_one_loss_and_has_its_stated_constants():
    g = torch.Generator().manual_seed(0)
    loss = MarginRamp(margin=2.0)
    logits, y = 3 * torch.randn(2000, 5, generator=g), torch.randint(0, 5, (2000,), generator=g)
    values = loss.per_example(logits, y)
    assert values.min() >= 0 and values.max() <= MarginRamp.SUP
    assert torch.all(values[logits.argmax(1) != y] >= 1)
    Lz, bz = margin_ramp_constants(2.0)
    for i in range(200):  # gradient and Hessian in the logits, example by example
        f = lambda z: loss.per_example(z[None], y[i:i + 1])[0]
        z = logits[i].clone()
        assert torch.func.grad(f)(z).norm() <= Lz + 1e-6
        assert torch.linalg.matrix_norm(torch.func.hessian(f)(z), ord=2) <= bz + 1e-6


def test_margin_ramp_linear_constants_bound_the_estimated_ones():
    ds = _tiny()
    L, beta = margin_ramp_linear_constants(ds.x_train, margin=1.0)
    for seed in range(3):
        model = build(ModelConfig("mlp", depth=0), (3,), 2, seed=seed)
        for p in model.parameters():
            p.data.mul_(10)  # margins inside the ramp
        assert 0 < estimate_lipschitz(model, ds.x_train, ds.y_train, MarginRamp(1.0).per_example) <= L
        assert 0 < estimate_smoothness(model, ds.x_train, ds.y_train, MarginRamp(1.0).per_example) <= beta


def test_sgm_batches_draw_with_replacement_and_couple_two_runs():
    ds = _tiny()
    cfg = TrainConfig(lr=0.1, momentum=0.0, batch_size=8, max_steps=30)
    a, b = sgm_batches(ds.x_train, ds.y_train, cfg, 3), sgm_batches(ds.x_train, ds.y_train, cfg, 3)
    drawn = [a.next_batch()[0] for _ in range(200)]
    assert all(torch.equal(x, b.next_batch()[0]) for x in drawn)  # the same indices from the same seed
    rows = [{tuple(r) for r in x.tolist()} for x in drawn]
    assert any(len(r) < 8 for r in rows)  # some batch repeats an example: drawn with replacement
    same = ds.replace(x_test=ds.x_train[[5, 6]].clone(), y_test=ds.y_train[[5, 6]].clone())
    (m,) = measure_stability(same, ModelConfig("mlp", depth=0), cfg, indices=[5], with_replacement=True)
    assert m.parameter_distance == 0 and m.max_test_loss_difference == 0
    (m,) = measure_stability(ds, ModelConfig("mlp", depth=0), cfg, indices=[5], with_replacement=True)
    assert m.parameter_distance > 0


def test_surrogate_fit_is_sgm_on_batches_drawn_with_replacement(tmp_path):
    config = SurrogateFitConfig(DataConfig("digits", n_train=40, n_test=20), ModelConfig("mlp", depth=0),
                                TrainConfig(lr=1.0, momentum=0.0, batch_size=8, max_steps=25,
                                            lr_schedule="inverse-time", stop_at_fit=False, device="cpu"))
    record = surrogate_fit(config, tmp_path)
    assert record.path.name.startswith("surrogate-sgm-")  # not the permutation-walk runs of surrogate-fit-<hash>
    ds = corrupted_data(config.fit).data
    model = build(config.model, ds.input_shape, ds.num_classes, seed=config.seed)
    t = replace(config.train, eval_every=config.train.max_steps)
    train(model, sgm_batches(ds.x_train, ds.y_train, t, config.seed), t, seed=config.seed,
          objective=MarginRamp(config.margin))
    trained = load_surrogate_model(record, config)
    assert all(torch.equal(p, q) for p, q in zip(model.cpu().state_dict().values(), trained.state_dict().values()))


def test_surrogate_fit_config_is_the_theorems_algorithm():
    with pytest.raises(ValueError, match="momentum"):
        SurrogateFitConfig(train=TrainConfig(lr=1.0, momentum=0.9, lr_schedule="inverse-time", stop_at_fit=False))
    with pytest.raises(ValueError, match="lr_schedule"):
        SurrogateFitConfig(train=TrainConfig(lr=1.0, momentum=0.0, stop_at_fit=False))
