"""Uniform stability of SGD: the bounds of Hardt, Recht and Singer, "Train faster, generalize
better: Stability of stochastic gradient descent", ICML 2016, arXiv 1509.01240 (hardt2016), and
the constants they need. The experiments they are compared with (two runs on data sets that differ
in one example; a run of plain SGD with steps c/t on a bounded surrogate loss) are in
`empirical.replace_one`.

An algorithm is eps-uniformly stable if for all data sets S, S' differing in one example,
sup_z E[f(A(S); z) - f(A(S'); z)] <= eps; then the expected generalization gap is at most eps
(hardt2016 Theorem 2.2). Symbols below: L the Lipschitz constant of the loss in the parameters,
beta its smoothness, gamma its strong convexity, alpha_t the step sizes, T the steps, n the
training-set size, b the minibatch size (a step follows the mean gradient of its b examples).

The minibatch forms are our derivation (hardt2016 states b = 1; batches drawn uniformly with
replacement at every step), in notebooks/minibatch_stability.ipynb. Where genproof differs from the
paper (the minibatch forms, the separate surrogate run the bound family bounds, estimated
constants): docs/sources/hardt2016.md.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from empirical.gradients import per_example_gradients
from empirical.models import build
from empirical.records import Record
from empirical.replace_one import (MarginRamp, PerExampleLoss, SurrogateFitConfig, cross_entropy_per_example,
                                   load_surrogate_model, surrogate_fit)
from empirical.train import TrainConfig

from .network import Network, has_batch_norm
from .quantities import Bound, bound_family


def convex_bound(L: float, n: int, steps: Sequence[float]) -> float:
    """hardt2016 Theorem 3.8: "Assume that the loss function f(.; z) is beta-smooth, convex and
    L-Lipschitz for every z. Suppose that we run SGM with step sizes alpha_t <= 2/beta for T steps.
    Then, SGM satisfies uniform stability with eps_stab <= (2 L^2 / n) sum_{t=1}^T alpha_t."
    The same for minibatches of any size b (our derivation, notebooks/minibatch_stability.ipynb)."""
    return 2 * L**2 / n * float(sum(steps))


def convex_parameter_bound(L: float, n: int, steps: Sequence[float]) -> float:
    """The parameter divergence behind Theorem 3.8 (its proof, via Lemmas 3.3 and 3.7): two runs on
    data sets differing in one example have E||w_T - w'_T|| <= (2 L / n) sum_t alpha_t (expectation
    over the choice of examples); the loss then differs by at most L times that."""
    return 2 * L / n * float(sum(steps))


def convex_pathwise_parameter_bound(L: float, step: float, touches: int, smallest_batch: int) -> float:
    """The same divergence along one run instead of in expectation: with a constant step alpha <= 2/beta
    the steps whose batch misses the differing example are non-expansive and each of the `touches`
    steps that use it adds at most 2 alpha L / |B| <= 2 alpha L / `smallest_batch` (proof of Theorem 3.8,
    our minibatch form), so ||w_T - w'_T|| <= touches * 2 alpha L / smallest_batch for every run."""
    return touches * 2 * step * L / smallest_batch


def strongly_convex_bound(L: float, gamma: float, n: int) -> float:
    """hardt2016 Theorem 3.9: gamma-strongly convex, L-Lipschitz, beta-smooth loss, constant step
    alpha <= 1/beta (projected SGD): eps_stab <= 2 L^2 / (gamma n), for any number of steps."""
    return 2 * L**2 / (gamma * n)


def nonconvex_bound(L: float, beta: float, c: float, T: int, n: int) -> float:
    """hardt2016 Theorem 3.12 (b = 1): loss in [0, 1], L-Lipschitz, beta-smooth, monotonically
    non-increasing steps alpha_t <= c / t:
    eps_stab <= (1 + 1/(beta c)) / (n - 1) * (2 c L^2)^(1/(beta c + 1)) * T^(beta c / (beta c + 1)),
    the expression of `nonconvex_stability_at` at the paper's t0 = (2 c L^2)^(1/(q+1)) T^(q/(q+1)),
    q = beta c, with its first term t0/n loosened to t0/(n - 1)."""
    q = beta * c
    return (1 + 1 / q) / (n - 1) * (2 * c * L**2) ** (1 / (q + 1)) * T ** (q / (q + 1))


def nonconvex_stability_at(t0: int, L: float, beta: float, c: float, T: int, n: int, batch: int = 1,
                           sup_loss: float = 1.0) -> float:
    """The bound the proof of Theorem 3.12 gives for one integer t0 in [1, T], before choosing t0
    (our minibatch form, notebooks/minibatch_stability.ipynb):

        sup_loss * t0 * b / n + L * E[delta_T | delta_t0 = 0],
        E[delta_T | delta_t0 = 0] <= 2 L / (beta (n - 1)) * (T / t0)^(beta c)    (0 at t0 = T).

    Lemma 3.11: the differing example is used in the first t0 steps with probability at most t0 b/n,
    and the loss then differs by at most `sup_loss`; afterwards the divergence grows as in the
    proof of Theorem 3.12. Any beta' >= beta is a valid smoothness constant, so beta is raised to
    the minimiser 1 / (c ln(T / t0)) of the second term when it is below it: the bound is then
    non-decreasing in L and in beta."""
    if not 1 <= t0 <= T:
        raise ValueError(f"t0 must be an integer step in [1, T={T}], got {t0}")
    first = sup_loss * t0 * batch / n
    if t0 == T:
        return first
    growth = math.log(T / t0)
    b_eff = max(beta, 1 / (c * growth))
    log_second = math.log(2 * L**2 / (b_eff * (n - 1))) + b_eff * c * growth
    return first + (math.exp(log_second) if log_second < 700 else math.inf)


def nonconvex_bound_minibatch(L: float, beta: float, c: float, T: int, n: int, batch: int = 1,
                              sup_loss: float = 1.0) -> float:
    """hardt2016 Theorem 3.12 for minibatches of size b and a loss in [0, sup_loss] (our form): the
    minimum over integer t0 in [1, T] of `nonconvex_stability_at`. Without the raise of beta the
    expression is convex in t0 with real minimiser t0* = (2 c L^2 n T^q / (s b (n - 1)))^(1/(q+1)),
    q = beta c; with beta raised (t0 > T e^(-1/q)) it is t0 b/n + 2 e c L^2 ln(T/t0)/(n - 1), convex
    with minimiser 2 e c L^2 n / (s b (n - 1)) (s = sup_loss); the minimum is taken over the integers around these,
    around the boundary T e^(-1/q) between the two, at t0 = 1 and at t0 = T (where the bound is sup_loss T b / n, the
    number of epochs). It is about Theorem 3.12's closed form at T b (steps times batch size)."""
    for name, value in (("L", L), ("beta", beta), ("c", c), ("T", T), ("n", n - 1), ("batch", batch)):
        if value <= 0:
            raise ValueError(f"{name} must be positive (n at least 2), got {value}")
    q = beta * c
    t_star = math.exp((math.log(2 * c * L**2 * n / (sup_loss * batch * (n - 1))) + q * math.log(T)) / (q + 1))
    candidates = {T, 1}
    for t in (t_star, T * math.exp(-1 / q), 2 * math.e * c * L**2 * n / (sup_loss * batch * (n - 1))):
        candidates |= {min(T, max(1, math.floor(t))), min(T, max(1, math.ceil(t)))}
    return min(nonconvex_stability_at(t, L, beta, c, T, n, batch, sup_loss) for t in candidates)


def softmax_regression_constants(x: torch.Tensor) -> tuple[float, float]:
    """(L, beta) of the cross-entropy of a linear softmax classifier with a bias, in its parameters,
    over inputs `x`: the gradient for one example is (p - e_y) (x, 1)^T with ||p - e_y|| <= sqrt(2),
    so L = sqrt(2) max ||(x, 1)||; the Hessian is (diag p - p p^T) kron (x, 1)(x, 1)^T, whose first
    factor has spectral norm <= 1/2, so beta = max ||(x, 1)||^2 / 2. Exact constants, not estimates."""
    r2 = (x.flatten(1).pow(2).sum(1) + 1).max().item()
    return math.sqrt(2 * r2), r2 / 2


def margin_ramp_constants(margin: float) -> tuple[float, float]:
    """(L, beta) of `empirical.replace_one.MarginRamp` in the logits z (our derivation): the loss is
    l = h(m) with h(m) = 2 phi((m + margin)/(2 margin)), |h'| <= 2/margin, |h''| <= 2/margin^2
    (|phi'| <= 2, |phi''| <= 4), and the soft margin m = z_y - logsumexp_{k != y} z_k has gradient
    e_y - pi (pi the softmax of the other logits), of norm <= sqrt(2), and Hessian -(diag pi - pi pi^T),
    of norm <= 1/2. So L = 2 sqrt(2)/margin and beta <= (2/margin^2) * 2 + (2/margin) * (1/2)."""
    return 2 * math.sqrt(2) / margin, 4 / margin**2 + 1 / margin


def margin_ramp_linear_constants(x: torch.Tensor, margin: float) -> tuple[float, float]:
    """(L, beta) of `MarginRamp` for a linear classifier with a bias in its parameters, over inputs
    `x`: the logits are linear in the weights with Jacobian of norm ||(x, 1)||, so the constants in
    the logits (`margin_ramp_constants`) scale by R = max ||(x, 1)|| and R^2. Exact, not estimates."""
    r2 = (x.flatten(1).pow(2).sum(1) + 1).max().item()
    Lz, bz = margin_ramp_constants(margin)
    return Lz * math.sqrt(r2), bz * r2


def _per_example(model: nn.Module, loss: PerExampleLoss) -> Callable:
    def f(params, xi, yi):
        return loss(functional_call(model, params, (xi[None],)), yi[None])[0]
    return f


def estimate_lipschitz(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                       loss: PerExampleLoss = cross_entropy_per_example, chunk: int = 128) -> float:
    """max_i ||grad_w f(w; z_i)|| at the current weights, from per-example gradients of `loss`
    (`empirical.gradients.per_example_gradients`, `chunk` examples at a time). A lower estimate of
    the Lipschitz constant L (a sup over all weights and examples), said so wherever it is used."""
    model.eval()
    norms = []
    for i in range(0, len(x), chunk):
        grads = per_example_gradients(model, lambda a, b: loss(model(a), b).mean(), x[i:i + chunk], y[i:i + chunk])
        norms.append(torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads.values())))
    return torch.cat(norms).max().item()


def estimate_smoothness(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        loss: PerExampleLoss = cross_entropy_per_example, iterations: int = 20, chunk: int = 128,
                        seed: int = 0) -> float:
    """max_i of the largest Hessian eigenvalue magnitude of the per-example loss f(w; z_i) at the
    current weights, by power iteration on per-example Hessian-vector products (torch.func.jvp of
    grad, vmapped). A lower estimate of the smoothness beta (a sup over all weights and examples;
    for ReLU networks the Hessian exists only almost everywhere and the gradient jumps across kinks,
    so the loss is not beta-smooth for any finite beta), said so wherever it is used."""
    model.eval()
    params = {k: v.detach() for k, v in model.named_parameters()}
    g = grad(_per_example(model, loss))

    def hvp(v, xi, yi):
        return jvp(lambda p: g(p, xi, yi), (params,), (v,))[1]

    batched = vmap(hvp)
    gen = torch.Generator().manual_seed(seed)
    top = []
    for i in range(0, len(x), chunk):
        xs, ys = x[i:i + chunk], y[i:i + chunk]
        v = {k: torch.randn((len(xs),) + p.shape, generator=gen) for k, p in params.items()}
        eig = torch.zeros(len(xs))
        for _ in range(iterations):
            norm = torch.sqrt(sum(t.flatten(1).pow(2).sum(1) for t in v.values())).clamp_min(1e-30)
            v = {k: t / norm.view(-1, *[1] * (t.dim() - 1)) for k, t in v.items()}
            v = batched(v, xs, ys)
            eig = torch.sqrt(sum(t.flatten(1).pow(2).sum(1) for t in v.values()))
        top.append(eig)
    return torch.cat(top).max().item()


STABILITY_C = 10.0  # c of the stability run's steps c/t: learns on digits (quick tier) in 10^3 steps


def stability_run_config(net: Network) -> SurrogateFitConfig:
    """The run the stability row bounds: `net`'s recipe (architecture, data, corruption and seed),
    trained for as many steps as `net` (a network its user trained: the recipe's step budget) with
    its batch size, on `MarginRamp` by plain SGD with steps `STABILITY_C` / t on minibatches drawn
    with replacement at every step (the theorem's algorithm, SGM: no momentum, no weight decay, no
    augmentation)."""
    cfg = net.fit_config
    steps = net.summary["steps"] or cfg.train.max_steps
    train = TrainConfig(lr=STABILITY_C, momentum=0.0, batch_size=cfg.train.batch_size, max_steps=steps,
                        lr_schedule="inverse-time", stop_at_fit=False, device=cfg.train.device)
    return SurrogateFitConfig(cfg.data, cfg.model, train, cfg.corruption, cfg.seed)


def is_linear(model: nn.Module) -> bool:
    """Whether `model`'s parameters are those of a single nn.Linear (a linear classifier with a bias)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return len(linears) == 1 and sum(1 for _ in model.parameters()) == sum(1 for _ in linears[0].parameters())


def surrogate_constants(config: SurrogateFitConfig, record: Record, x: torch.Tensor, y: torch.Tensor,
                        init: nn.Module) -> tuple[float, float, bool]:
    """(L, beta, exact) of `MarginRamp` in the parameters for the run `record`: exact for a linear
    classifier (`margin_ramp_linear_constants`), else the larger of the per-example estimates at the
    initial and the final weights (lower estimates of the sups the theorem needs; exact False)."""
    if is_linear(init):
        return (*margin_ramp_linear_constants(x, config.margin), True)
    loss = MarginRamp(config.margin).per_example
    models = (init, load_surrogate_model(record, config))
    return (max(estimate_lipschitz(m, x, y, loss) for m in models),
            max(estimate_smoothness(m, x, y, loss) for m in models), False)


def not_applicable(net: Network) -> str | None:
    """Theorem 3.12 is about SGD on per-example losses f(w; z) with L and beta in the parameters. With
    batch norm, a training step's loss couples the examples of its minibatch, and the network evaluated
    depends on running statistics that no gradient step sets."""
    if has_batch_norm(net.model):
        return (f"{type(net.model).__name__} has batch norm: SGD does not follow per-example losses f(w; z) (a batch's "
                "statistics couple its examples) and its running statistics are set outside the gradient steps")
    return None


SOURCE = "hardt2016 Theorem 3.12 (minibatch form, our derivation: notebooks/minibatch_stability.ipynb)"


@bound_family("stability", "hardt2016 Theorem 3.12 (minibatch form) on a separate c/t-step SGD run with a bounded "
              "surrogate (no batch norm)", not_applicable, kinds=("expectation", "lower-estimate"), source=SOURCE,
              uses_delta=False, cost="training", needs=("loop",),
              cost_detail="trains a network of the architecture on the surrogate loss with c/t steps (as many steps as "
                          "the training run), then estimates L and beta by per-example gradients and Hessian-vector "
                          "products", default=False,
              limitations="bounds a separate run of plain SGD with c/t steps on a surrogate loss, not the trained "
                          "network; L and beta are exact only for a linear classifier",
              card="docs/sources/hardt2016.md")
def bound_rows(net: Network, delta: float) -> list:
    """The non-convex stability bound for the network's own stability run (`stability_run_config`:
    same architecture, data and steps; plain SGD, steps c/t, the surrogate `MarginRamp` in [0, 2]
    that bounds the 0-1 loss): E[test 0-1] <= E[test l] <= E[train l] + eps_stab, in expectation
    over the sample and the run (the measured train and test errors given are the stability run's,
    not the trained network's, which used momentum and constant steps). The row is an upper bound
    ("expectation") only when L and beta are exact (a linear classifier); for a deeper network they
    are estimated at the initial and final weights (and a ReLU network is not smooth at all), so the
    value is a lower estimate of the bound. Does not depend on delta."""
    config = stability_run_config(net)
    record = surrogate_fit(config, net.root)
    s = record.summary
    x, y = net.data.x_train, net.data.y_train
    init = build(config.model, net.data.input_shape, net.data.num_classes, seed=config.seed).eval()
    L, beta, exact = surrogate_constants(config, record, x, y, init)
    eps = nonconvex_bound_minibatch(L, beta, s["c"], s["steps"], s["n_train"], s["batch_size"], MarginRamp.SUP)
    return [Bound(
        "uniform stability of a separate SGD run (c/t steps, margin-ramp surrogate), not of the trained network",
        SOURCE,
        s["train_surrogate"] + eps, "expectation" if exact else "lower-estimate",
        {"bounds": "E[test 0-1 error] of the stability run (plain SGD, steps c/t, batches drawn with replacement, "
                   "MarginRamp surrogate), not of the "
                   "trained network", "epsilon_stab": eps, "train_surrogate": s["train_surrogate"],
         "test_surrogate": s["test_surrogate"], "L": L, "beta": beta,
         "constants": "exact" if exact else "estimated at the initial and final weights (lower estimates)",
         "c": s["c"], "steps": s["steps"], "batch_size": s["batch_size"], "margin": config.margin},
        train_error=s["train_error"], test_error=s["test_error"])]
