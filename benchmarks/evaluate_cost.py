"""What `genproof.evaluate` costs on a network its user trained, in units of one forward pass over
the data it is given, measured in one run.

Two networks built outside genproof: a 1x512 MLP on scikit-learn's digits (1,437 / 360), and a
ResNet-18 (CIFAR variant) on 1,000 images of the CIFAR-10 subset (`--data-dir`, or $GENPROOF_DATA;
skipped with a note without it). Each is trained for a few steps with a plain torch loop (the cost
of the quantities does not depend on how well it learned), then every default quantity of the
bounds table and of the study is evaluated, one at a time, plus the opt-in ones named by `--opt-in`
on the MLP. The unit: one eval-mode forward pass over the training and test inputs, timed first.
Beside it, the norm family and the four norm measures with their shared computation (`Network.shared`,
once per evaluation) against each computing its own (the way before).

    python benchmarks/evaluate_cost.py [--data-dir DIR] [--opt-in pac-bayes,rademacher] [--write]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from empirical.data import load
from empirical.models import ModelConfig, build
from empirical.train import TrainConfig
from genproof import Network, Recipe, evaluate
from genproof.catalog import ordered
from results import publish  # benchmarks/results.py, beside this script

NORM_QUANTITIES = ["norms", "bartlett-spectral", "spectral-product", "golowich-frobenius", "path"]


def mlp(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), 512), nn.ReLU(), nn.Linear(512, num_classes))


def resnet18(input_shape, num_classes):
    return build(ModelConfig("resnet18"), input_shape, num_classes)


def trained(factory, x, y, steps: int):
    torch.manual_seed(0)
    init = factory(tuple(x.shape[1:]), 10)
    model = factory(tuple(x.shape[1:]), 10)
    model.load_state_dict(init.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(steps):
        idx = torch.randint(len(y), (128,), generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model.eval(), init.eval()


def forward_pass_s(net: Network) -> float:
    """Seconds of one eval-mode forward pass over the training and test inputs (best of 3)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with torch.no_grad():
            for x in (net.data.x_train, net.data.x_test):
                for i in range(0, len(x), 1024):
                    net.model(x[i:i + 1024])
        best = min(best, time.perf_counter() - start)
    return best


def costs(name: str, net: Network, quantities: list[str]) -> list[str]:
    unit = forward_pass_s(net)
    lines = [f"\n{name}: one forward pass over {net.data.n_train:,} + {net.data.n_test:,} inputs = {unit:.3g} s\n",
             "| quantity | cost class | seconds | forward passes | row |", "|---|---|---|---|---|"]
    for q in quantities:
        table = evaluate(net, [q])
        row = table.rows[0]
        shown = "no value: " + row["detail"]["reason"][:60] if row["value"] is None else f"{row['kind']} {row['value']:.4g}"
        cost = next(e.factory.cost for e in ordered() if e.name == q)
        lines.append(f"| {q} | {cost} | {table.seconds[q]:.3g} | {table.seconds[q] / unit:.3g} | {shown} |")
    start = time.perf_counter()
    evaluate(net, NORM_QUANTITIES)
    shared = time.perf_counter() - start
    start = time.perf_counter()
    for q in NORM_QUANTITIES:
        evaluate(net, [q])
    separate = time.perf_counter() - start
    lines.append(f"\nnorm family and four norm measures in one evaluation {shared:.3g} s, one evaluation each "
                 f"{separate:.3g} s: {separate / shared:.2f}x\n")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--opt-in", default="pac-bayes", help="opt-in quantities to time on the MLP (comma list)")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    defaults = [e.name for e in ordered() if e.factory.default]
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x = torch.as_tensor((x / 16).astype(np.float32).reshape(-1, 1, 8, 8))
    y = torch.as_tensor(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:1437], perm[1437:]
    model, init = trained(mlp, x[tr], y[tr], 300)
    with tempfile.TemporaryDirectory() as root:
        recipe = Recipe(mlp, TrainConfig(lr=0.1, max_steps=2000))
        net = Network(model, (x[tr], y[tr]), (x[te], y[te]), init=init, recipe=recipe, root=root)
        opt_in = [q for q in args.opt_in.split(",") if q]
        lines = costs("1x512 MLP on digits (a Sequential trained outside genproof)", net, defaults + opt_in)
        try:
            cifar = load("cifar10", n_train=1000, n_test=200, data_dir=args.data_dir, download=False)
        except Exception as err:  # no CIFAR-10 here: say so in the results
            lines.append(f"\nResNet-18 on the CIFAR-10 subset: not run ({' '.join(str(err).split())[:160]})\n")
        else:
            model, init = trained(resnet18, cifar.x_train, cifar.y_train, 20)
            net = Network(model, (cifar.x_train, cifar.y_train), (cifar.x_test, cifar.y_test), init=init, root=root)
            lines += costs("ResNet-18 (CIFAR variant) on 1,000 / 200 CIFAR-10 subset images", net, defaults)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    head = (f"\n## Cost of genproof.evaluate on a user's network, {time.strftime('%Y-%m-%d')}, {device}, torch "
            f"{torch.__version__}, python {platform.python_version()}\n\n`python benchmarks/evaluate_cost.py "
            f"--opt-in {args.opt_in}`\n")
    publish(head + "\n".join(lines), args.write)


if __name__ == "__main__":
    main()
