"""Per-example gradients, coherence identities and the robust update rules (chatterjee2020)."""

import itertools
import json

import numpy as np
import pytest
import torch
from torch import nn

from empirical.gradients import coherence, coherence_moments, per_example_gradients
from empirical.models import ModelConfig, build
from empirical.objectives import cross_entropy
from empirical.records import Record
from empirical.robust import median_of_three, winsorized_mean
from empirical.train import TrainConfig
from empirical.update_rules import UPDATE_RULES
from genproof.coherence import gradient_spread, minibatch_alpha, orthogonal_alpha, replace_one_bound


def _net(**kw):
    torch.manual_seed(0)
    return build(ModelConfig("mlp", width=16, depth=2, **kw), (6,), 3).double()


def _data(m=5):
    g = torch.Generator().manual_seed(1)
    return torch.randn(m, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (m,), generator=g)


@pytest.mark.parametrize("method", ["outer", "vmap"])
def test_per_example_gradients_match_a_loop_of_backward_passes(method):
    net, (x, y) = _net(), _data()
    got = per_example_gradients(net, lambda a, b: cross_entropy(net, a, b), x, y, method)
    for i in range(len(x)):
        net.zero_grad()
        cross_entropy(net, x[i:i + 1], y[i:i + 1]).backward()
        for k, p in net.named_parameters():
            assert torch.allclose(got[k][i], p.grad, atol=1e-6, rtol=0), (k, i)


def test_batch_norm_and_dropout_in_training_mode_are_refused():
    net = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)).double()
    x, y = _data()
    with pytest.raises(ValueError, match="model.eval"):
        per_example_gradients(net, lambda a, b: cross_entropy(net, a, b), x, y)
    net.eval()
    per_example_gradients(net, lambda a, b: cross_entropy(net, a, b), x, y, "outer")  # running statistics: fine
    norm = nn.Sequential(nn.Linear(6, 4), nn.LayerNorm(4), nn.Linear(4, 3)).double()  # no layer-factor rule
    with pytest.raises(ValueError, match="method='vmap'"):
        per_example_gradients(norm, lambda a, b: cross_entropy(norm, a, b), x, y, "outer")
    drop = _net(dropout=0.5)
    with pytest.raises(ValueError, match="dropout"):
        per_example_gradients(drop, lambda a, b: cross_entropy(drop, a, b), x, y)


def _conv_nets():
    """Convolutions (strided, dilated, padded, without bias), BatchNorm on running statistics, a Linear
    layer over positions: every layer-factor rule, with P x P Gram matrices smaller (conv2d 5->6 on 3x3
    positions) and larger (conv1d, 4 positions, 1 x 3 x 2 weights) than the gradients."""
    torch.manual_seed(0)
    c2 = nn.Sequential(nn.Conv2d(2, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(), nn.MaxPool2d(2),
                       nn.Conv2d(5, 6, 2, stride=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 9, 3)).double()
    with torch.no_grad():
        c2(torch.randn(32, 2, 8, 8, dtype=torch.float64))  # running statistics other than (0, 1)
    c1 = nn.Sequential(nn.Conv1d(1, 3, 2, stride=2, padding=1, dilation=2), nn.ReLU(), nn.Linear(4, 5), nn.Flatten(),
                       nn.Linear(15, 3)).double()
    g = torch.Generator().manual_seed(2)
    return [(c2.eval(), torch.randn(5, 2, 8, 8, generator=g, dtype=torch.float64)),
            (c1, torch.randn(5, 1, 8, generator=g, dtype=torch.float64))]


@pytest.mark.parametrize("case", [0, 1])
def test_layer_factors_of_convolutions_and_batch_norm_match_a_loop(case):
    net, x = _conv_nets()[case]
    y = torch.arange(len(x)) % 3
    loss = lambda a, b: cross_entropy(net, a, b)  # noqa: E731
    got = per_example_gradients(net, loss, x, y, "outer")
    assert sorted(got) == sorted(k for k, p in net.named_parameters())
    for i in range(len(x)):
        net.zero_grad()
        loss(x[i:i + 1], y[i:i + 1]).backward()
        for k, p in net.named_parameters():
            assert torch.allclose(got[k][i], p.grad, atol=1e-12, rtol=0), (k, i)
    outer, vm = coherence_moments(net, loss, x, y, 2, "outer"), coherence_moments(net, loss, x, y, 2, "vmap")
    for k in vm:
        assert outer[k]["mean_sq"] == pytest.approx(vm[k]["mean_sq"], rel=1e-10)
        assert outer[k]["sq_mean"] == pytest.approx(vm[k]["sq_mean"], rel=1e-10)


def test_a_layer_applied_twice_is_refused_by_the_layer_factors_and_auto_uses_vmap():
    lin = nn.Linear(6, 6).double()
    twice = nn.Sequential(lin, nn.ReLU(), lin, nn.Linear(6, 3)).double()
    x, y = _data()
    loss = lambda a, b: cross_entropy(twice, a, b)  # noqa: E731
    with pytest.raises(ValueError, match="more than once"):
        per_example_gradients(twice, loss, x, y, "outer")
    auto, vm = per_example_gradients(twice, loss, x, y), per_example_gradients(twice, loss, x, y, "vmap")
    assert all(torch.equal(auto[k], vm[k]) for k in vm)  # "auto" falls back to vmap
    assert coherence_moments(twice, loss, x, y) == coherence_moments(twice, loss, x, y, method="vmap")


def test_micro_batches_give_the_same_moments():
    net, (x, y) = _net(), _data(9)
    loss = lambda a, b: cross_entropy(net, a, b)  # noqa: E731
    whole, parts = coherence_moments(net, loss, x, y, chunk=9), coherence_moments(net, loss, x, y, chunk=2)
    for k in whole:
        assert whole[k]["mean_sq"] == pytest.approx(parts[k]["mean_sq"], rel=1e-12)
        assert whole[k]["sq_mean"] == pytest.approx(parts[k]["sq_mean"], rel=1e-12)


def _alpha_of(grads):
    mean = grads.mean(0)
    return coherence({"all": {"mean_sq": mean.pow(2).sum().item(), "sq_mean": grads.pow(2).sum(1).mean().item()}},
                     len(grads))


def test_orthogonal_gradients_have_alpha_one_over_m_and_identical_ones_one():
    m = 7
    orth = _alpha_of(torch.eye(m, dtype=torch.float64) * 3.0)
    assert orth["alpha"] == pytest.approx(orthogonal_alpha(m), abs=1e-15) and orth["m_coherence"] == pytest.approx(1)
    same = _alpha_of(torch.ones(m, 4, dtype=torch.float64))
    assert same["alpha"] == pytest.approx(1) and same["m_coherence"] == pytest.approx(m)


def test_minibatch_alpha_is_the_coherence_of_all_k_tuples_with_replacement():
    g = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    alpha = _alpha_of(g)["alpha"]
    for k in (1, 2, 3):
        means = torch.stack([g[list(t)].mean(0) for t in itertools.product(range(4), repeat=k)])  # uniform over tuples
        assert _alpha_of(means)["alpha"] == pytest.approx(minibatch_alpha(alpha, k), rel=1e-12)


def test_replace_one_bound_by_hand():
    # T = 2: (L/m) [(1 + eta2 beta) eta1 D0 + eta2 D1]
    got = replace_one_bound(2.0, 3.0, 10, [0.1, 0.2], [1.0, 0.5])
    assert got == pytest.approx(0.2 * ((1 + 0.6) * 0.1 * 1.0 + 0.2 * 0.5))
    # D = sqrt(E||g||^2 (1 - alpha) + ||gbar - g'||^2): 4 * 0.75 + 1 = 4; alpha = 1 leaves the misfit alone
    assert gradient_spread([4.0, 2.0], [0.25, 1.0], [1.0, 0.09]) == pytest.approx([2.0, 0.3])
    with pytest.raises(ValueError, match="one gradient difference per step"):
        replace_one_bound(1, 1, 1, [0.1], [0.1, 0.2])


def _logistic_runs(x, y, z, eta, T):
    """Full-batch GD on the logistic loss from w = 0 on (x, y) and on each (x, y) with example i replaced
    by z = (x', y'); per step at the iterate on (x, y): E||g||^2, alpha, ||gbar - g_z'||^2. Returns those
    and the mean over i of max over z in {training points, z'} of |f(w_T; z) - f(w^(i)_T; z)|."""
    def grads(w, xs, ys):
        return (-ys / (1 + np.exp(ys * (xs @ w))))[:, None] * xs

    def loss(w, xs, ys):
        return np.log1p(np.exp(-ys * (xs @ w)))

    m, (xz, yz) = len(x), z
    w, stats = np.zeros(x.shape[1]), []
    others = [np.zeros(x.shape[1]) for _ in range(m)]
    sets = [(np.where(np.arange(m)[:, None] == i, xz, x), np.where(np.arange(m) == i, yz, y)) for i in range(m)]
    for _ in range(T):
        g = grads(w, x, y)
        mean, second = g.mean(0), (g * g).sum(1).mean()
        gz = grads(w, xz[None], np.array([yz]))[0]
        stats.append((second, mean @ mean / second, (mean - gz) @ (mean - gz)))
        w = w - eta * mean
        others = [v - eta * grads(v, *s).mean(0) for v, s in zip(others, sets)]
    xs, ys = np.vstack([x, xz[None]]), np.append(y, yz)
    gap = np.mean([np.abs(loss(w, xs, ys) - loss(v, xs, ys)).max() for v in others])
    return [list(c) for c in zip(*stats)], gap


def test_coherence_of_the_sample_alone_does_not_bound_stability():
    # ten identical training points (alpha_S = 1 at every step) replaced by an orthogonal point of the other
    # class; logistic loss with ||x|| = 1: L = 1, beta = 1/4. A bound built from sqrt(2 (1 - alpha_S)) alone is
    # zero here, the loss moves by 0.365; the replacing point's misfit carries the bound.
    x, y = np.tile([1.0, 0.0], (10, 1)), np.ones(10)
    (second, alphas, misfits), gap = _logistic_runs(x, y, (np.array([0.0, 1.0]), -1.0), 0.5, 50)
    assert min(alphas) == pytest.approx(1, abs=1e-12)
    assert gap == pytest.approx(0.365, abs=5e-4)
    assert replace_one_bound(1.0, 0.25, 10, [0.5] * 50, gradient_spread(second, [1.0] * 50, [0.0] * 50)) == 0
    assert replace_one_bound(1.0, 0.25, 10, [0.5] * 50, gradient_spread(second, alphas, misfits)) >= gap


@pytest.mark.parametrize("seed", range(5))
def test_replace_one_bound_covers_exact_runs(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(8, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # L = 1, beta = 1/4 for the logistic loss
    y, xz = np.sign(rng.normal(size=8)), rng.normal(size=3)
    (second, alphas, misfits), gap = _logistic_runs(x, y, (xz / np.linalg.norm(xz), 1.0), 1.0, 30)
    bound = replace_one_bound(1.0, 0.25, 8, [1.0] * 30, gradient_spread(second, alphas, misfits))
    assert gap <= bound <= replace_one_bound(1.0, 0.25, 8, [1.0] * 30, [2.0] * 30)


def test_median_of_three_and_winsorized_mean_by_hand():
    a, b, c = torch.tensor([1.0, 5.0, -2.0]), torch.tensor([3.0, 4.0, 0.0]), torch.tensor([2.0, 9.0, -1.0])
    assert median_of_three(a, b, c).tolist() == [2.0, 5.0, -1.0]
    g = torch.tensor([[0.0], [1.0], [2.0], [3.0], [100.0]])
    # the authors' nearest rank: 20th and 80th percentiles at positions 0.8 and 3.2, so the 2nd and 4th order
    # statistics, 1 and 3 (linear interpolation would clip to 0.8 and 22.4, mean 5.84)
    assert winsorized_mean(g, 20).item() == pytest.approx((1 + 1 + 2 + 3 + 3) / 5)
    assert torch.equal(winsorized_mean(g, 0), g.mean(0))
    # m = 6, c = 10: positions 0.5 and 4.5 round half to even, to order statistics 0 and 4
    h = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0], [100.0]])
    assert winsorized_mean(h, 10).item() == pytest.approx((0 + 1 + 2 + 3 + 4 + 4) / 6)


@pytest.mark.parametrize("m", [5, 6, 32, 100, 256])
def test_winsorized_mean_is_the_authors_np_winsorize(m):
    # coherent_gradients/iclr_2020_paper/utils.py np_winsorize: np.percentile(t, [c, 100 - c], axis=-1,
    # interpolation='nearest') (method='nearest' since numpy 1.22), clip, mean over the examples
    g = torch.randn(m, 7, 3, generator=torch.Generator().manual_seed(m), dtype=torch.float64)
    t = g.flatten(1).numpy().T
    for c in (1, 2, 5, 10, 20):
        lo, hi = np.percentile(t, [c, 100 - c], axis=-1, method="nearest")
        ours = winsorized_mean(g, c).flatten().numpy()
        assert np.allclose(ours, np.clip(t, lo[:, None], hi[:, None]).mean(-1), rtol=0, atol=1e-15), c


def _steps(rule, batches, **kw):
    torch.manual_seed(0)
    net = nn.Linear(2, 1, bias=False)
    nn.init.zeros_(net.weight)
    config = TrainConfig(optimizer=rule, lr=1.0, momentum=0.0, **kw)
    step = UPDATE_RULES.get(rule)(net, config)
    loss_fn = lambda x, y: (net(x)[:, 0] * y).mean()  # noqa: E731  gradient = mean of y_i x_i
    out = []
    for x, y in batches:
        step.step(loss_fn, x, y)
        out.append(net.weight.detach().clone()[0].tolist())
    return out


BATCHES = [(torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])), (torch.tensor([[0.0, 1.0]]), torch.tensor([4.0])),
           (torch.tensor([[1.0, 1.0]]), torch.tensor([2.0])), (torch.tensor([[3.0, 0.0]]), torch.tensor([1.0]))]
# minibatch gradients: (1, 0), (0, 4), (2, 2), (3, 0)


def test_m3_steps_once_per_three_minibatches_with_the_median():
    assert _steps("m3", BATCHES) == [[0, 0], [0, 0], [-1, -2], [-1, -2]]


def test_rm3_and_ra3_roll_over_the_last_three():
    assert _steps("rm3", BATCHES) == [[0, 0], [0, 0], [-1, -2], [-3, -4]]  # medians (1, 2), (2, 2)
    ra = _steps("ra3", BATCHES)
    assert ra[2] == pytest.approx([-1, -2]) and ra[3] == pytest.approx([-1 - 5 / 3, -4])  # means (1, 2), (5/3, 2)


@pytest.mark.parametrize("rule", ["m3", "rm3", "ra3"])
def test_median_rules_refuse_momentum_as_the_authors_do(rule):
    with pytest.raises(ValueError, match=f"{rule} takes no momentum.*momentum=0"):
        UPDATE_RULES.get(rule)(nn.Linear(2, 1), TrainConfig(optimizer=rule, momentum=0.9))


def test_weight_decay_is_held_with_each_minibatch_gradient():
    # the authors' RM3/RA3 add wd * p to each gradient as it is buffered, at that step's weights. wd = 0.5: the
    # 4th gradient, at w = (-1, -2), is held as (3, 0) + 0.5 (-1, -2) = (2.5, -1); the first three at w = 0.
    # rm3: median of (0, 4), (2, 2), (2.5, -1) = (2, 2); ra3: their mean (1.5, 5/3). (Weight decay after the
    # median would give (2, 2) + (-0.5, -1) and w = (-2.5, -3).)
    assert _steps("rm3", BATCHES, weight_decay=0.5) == [[0, 0], [0, 0], [-1, -2], [-3, -4]]
    assert _steps("ra3", BATCHES, weight_decay=0.5)[3] == pytest.approx([-2.5, -2 - 5 / 3])
    assert _steps("m3", BATCHES, weight_decay=0.5) == _steps("m3", BATCHES)  # w = 0 while its three are held


def test_winsorized_at_zero_is_sgd():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    y = torch.tensor([1.0, 4.0, 2.0])
    assert _steps("winsorized:0", [(x, y)])[0] == pytest.approx(_steps("sgd", [(x, y)])[0])
    # per-example gradients (1, 0), (0, 4), (10, 10); the 20th/80th percentiles are the order statistics at
    # round(0.4) = 0 and round(1.6) = 2, the extremes: nothing is clipped, the plain means 11/3 and 14/3
    # (linear interpolation would clip to (0.4, 6.4) and (1.6, 7.6): means 2.6 and 4.4)
    assert _steps("winsorized:20", [(x, y)])[0] == pytest.approx([-11 / 3, -14 / 3])


def test_outer_moments_from_layer_factors_match_vmap():
    net, (x, y) = _net(), _data(9)
    loss = lambda a, b: cross_entropy(net, a, b)  # noqa: E731
    outer, vm = coherence_moments(net, loss, x, y, 4, "outer"), coherence_moments(net, loss, x, y, 4, "vmap")
    for k in vm:
        assert outer[k]["mean_sq"] == pytest.approx(vm[k]["mean_sq"], rel=1e-10)
        assert outer[k]["sq_mean"] == pytest.approx(vm[k]["sq_mean"], rel=1e-10)


def test_coherence_tool_writes_one_figure_and_the_claims_early_means(tmp_path, monkeypatch, capsys):
    from empirical import coherent
    from genproof import coherence as tool

    tiny = TrainConfig(lr=0.01, momentum=0.9, batch_size=32, max_steps=6, stop_at_fit=False, eval_every=2)
    monkeypatch.setitem(coherent.REAL_VS_RANDOM, "quick", {**coherent.REAL_VS_RANDOM["quick"], "train": tiny, "m": 8,
                                                           "epochs": 1})
    assert tool.main(["--n-train", "64", "--n-test", "32", "--seeds", "0,1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (report,) = tmp_path.glob("coherence-real-vs-random-*")
    assert (report / "m_coherence.png").stat().st_size > 0 and str(report) in out
    summary = json.loads((report / "summary.json").read_text())
    assert [r["seed"] for r in summary["seeds"]] == [0, 1] and summary["steps_per_epoch"] == 2
    for row in summary["seeds"]:
        assert row["ratio"] == pytest.approx(row["true"] / row["random-labels"])
        assert f"| {row['seed']} | {row['true']:.4g}" in out
        for labels in ("true", "random-labels"):
            rows = Record.load(tmp_path / row[f"{labels}_record"]).metrics()  # by hand: steps 0 .. 1 epoch of 2
            assert row[labels] == pytest.approx(np.mean([r["coh_m_coherence"] for r in rows if r["step"] <= 2]))
    assert len(list(tmp_path.glob("coherence-track-*"))) == 4
    with pytest.raises(SystemExit) as exit_:
        tool.main(["--seeds", "a", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "--seeds" in capsys.readouterr().err
