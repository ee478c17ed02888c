"""What the curvature measures (`genproof.curvature`) cost on the study's networks, measured in one run.

Two MLPs of the study's quick grid (width 256, depth 1 and 3) on scikit-learn's digits (1,437
training examples), trained for a few steps with a plain torch loop (the cost does not depend on how
well they learned). The unit: one gradient of the training loss over the training set (a forward and
a backward pass, in the same batches). For each measure: the Hessian-vector products it ran, its
seconds, and a product's cost in gradients; beside genproof's product (reverse over reverse, double
backprop), torch.func's forward over reverse (`jvp` of `grad`) on the same vector, the other way to
form it, with the largest difference between the two.

    python benchmarks/curvature_cost.py [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.func import functional_call, grad, jvp

from genproof import Network, curvature
from genproof.network import EVAL_BATCH
from results import publish  # benchmarks/results.py, beside this script

MEASURES = {"hessian-eigenvalue": curvature.hessian_eigenvalue, "hessian-trace": curvature.hessian_trace,
            "hessian-frobenius": curvature.hessian_frobenius}


def mlp(depth: int) -> nn.Module:
    layers, width = [], 64
    for _ in range(depth):
        layers += [nn.Linear(width, 256), nn.ReLU()]
        width = 256
    return nn.Sequential(*layers, nn.Linear(width, 10))


def network(depth: int) -> Network:
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:1437] / 16, dtype=torch.float32), torch.tensor(y[:1437])
    model = mlp(depth)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(200):
        idx = torch.randint(len(y), (64,), generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return Network(model.eval(), (x, y))


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gradient_pass(net: Network) -> None:
    model, x, y = net.model, net.data.x_train, net.data.y_train
    params = [p for p in model.parameters() if p.requires_grad]
    for i in range(0, len(y), EVAL_BATCH):
        torch.autograd.grad(F.cross_entropy(model(x[i:i + EVAL_BATCH]), y[i:i + EVAL_BATCH], reduction="sum"), params)


def forward_over_reverse(net: Network, v: np.ndarray) -> np.ndarray:
    model, x, y, n = net.model, net.data.x_train, net.data.y_train, net.data.n_train
    params = {k: p.detach() for k, p in model.named_parameters()}
    chunks = torch.as_tensor(v, dtype=torch.float32).split([p.numel() for p in params.values()])
    tangent = {k: c.view_as(p) for (k, p), c in zip(params.items(), chunks)}
    out = {k: torch.zeros_like(p) for k, p in params.items()}
    for i in range(0, n, EVAL_BATCH):
        xb, yb = x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]
        loss = lambda p: F.cross_entropy(functional_call(model, p, (xb,)), yb, reduction="sum") / n  # noqa: E731
        _, hv = jvp(grad(loss), (params,), (tangent,))
        for k in out:
            out[k] += hv[k]
    return torch.cat([t.reshape(-1) for t in out.values()]).double().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = []
    for depth in (1, 3):
        net = network(depth)
        p = sum(q.numel() for q in net.model.parameters())
        unit = best_of(lambda: gradient_pass(net))
        product, _ = curvature.hvp(net)
        v = np.random.default_rng(0).standard_normal(p)
        ours = best_of(lambda: product(v))
        theirs = best_of(lambda: forward_over_reverse(net, v))
        diff = np.abs(product(v) - forward_over_reverse(net, v)).max() / np.abs(product(v)).max()
        rows.append(f"| MLP 64-{'256-' * depth}10, {p:,} parameters | one gradient over the training set (the unit) "
                    f"| - | {unit:.3f} | 1 |")
        rows.append(f"| | Hessian-vector product, reverse over reverse (genproof) | 1 | {ours:.3f} | {ours / unit:.1f} |")
        rows.append(f"| | Hessian-vector product, forward over reverse (torch.func jvp of grad; max relative difference "
                    f"{diff:.1e}) | 1 | {theirs:.3f} | {theirs / unit:.1f} |")
        for name, fn in MEASURES.items():
            count = [0]
            real = curvature.hvp

            def counting(net, real=real, count=count):
                f, dim = real(net)
                return (lambda u: (count.__setitem__(0, count[0] + 1), f(u))[1]), dim

            curvature.hvp = counting
            try:
                start = time.perf_counter()
                fn(net, 0)
                seconds = time.perf_counter() - start
            finally:
                curvature.hvp = real
            rows.append(f"| | {name} | {count[0]} | {seconds:.2f} | {seconds / unit:.0f} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = (f"## Curvature measures, {time.strftime('%Y-%m-%d')}, CPU ({torch.get_num_threads()} threads, "
            f"{platform.machine()}), load average {load}, torch {torch.__version__}, python {platform.python_version()}\n\n"
            f"digits, 1,437 training examples; products in float32, batches of {EVAL_BATCH}; ARPACK tolerance "
            f"{curvature.EIG_TOL:g}, {curvature.TRACE_PROBES} Hutchinson probes, SLQ {curvature.SLQ_PROBES} probes x "
            f"{curvature.SLQ_STEPS} steps; best of 3 for the single products and the unit, one run per measure.\n\n"
            "| network | what | Hessian-vector products | seconds | in gradients |\n| --- | --- | --- | --- | --- |\n"
            + "\n".join(rows) + "\n")
    publish(text, args.write)


if __name__ == "__main__":
    main()
