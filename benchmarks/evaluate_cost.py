"""What `genproof.evaluate` costs on a network its user trained, in units of one forward pass over
the data it is given, measured in one run.

Two networks built outside genproof: a 1x512 MLP on scikit-learn's digits (1,437 / 360), and a
ResNet-18 (CIFAR variant) on 1,000 / 200 images of the CIFAR-10 subset (`--cifar-sizes`;
`--data-dir`, or $GENPROOF_DATA; skipped with a note without it). Each is trained with a plain
torch loop, the ResNet-18 until it fits its training set or for `--resnet-steps` (a network that
does not fit leaves the perturbation searches nothing to find: they end undefined, at their cap of
doublings). Then every default quantity of the bounds table and of the study is evaluated, one at
a time, plus the opt-in ones named by `--opt-in` on the MLP. The unit: one eval-mode forward pass
over the training and test inputs, timed first.
Beside it, the norm family and the four norm measures with their shared computation (`Network.shared`,
once per evaluation) against each computing its own (the way before); and, on both, the four
flatness searches as they run (a point's draws or ascent stop once its side of the target is
settled) against the full evaluation of every point (`settle=False`).

    python benchmarks/evaluate_cost.py [--data-dir DIR] [--cifar-sizes 1000,200] [--resnet-steps 300]
        [--threads N] [--opt-in pac-bayes,rademacher] [--write]

On a 2-core CPU one ResNet-18 forward pass over 1,200 images takes about 7 s and the default
quantities cost a few thousand passes (hours): there, a smaller `--cifar-sizes` (the counts are in
passes over the data given, so they carry over roughly; the seconds do not).
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
from genproof.network import error
from genproof.measures import MAGNITUDE_EPS, box_scale, gaussian_scale
from genproof.quantities import Undefined
from results import publish  # benchmarks/results.py, beside this script

NORM_QUANTITIES = ["norms", "bartlett-spectral", "spectral-product", "golowich-frobenius", "path"]


def mlp(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), 512), nn.ReLU(), nn.Linear(512, num_classes))


def resnet18(input_shape, num_classes):
    return build(ModelConfig("resnet18"), input_shape, num_classes)


def trained(factory, x, y, steps: int, until_fit: bool = False):
    """`factory`'s network trained by plain SGD for `steps` steps of 128 examples (with `until_fit`,
    at most that many: it stops at the first check, every 10 steps, that finds no training error),
    the network at initialization, and the steps taken."""
    torch.manual_seed(0)
    init = factory(tuple(x.shape[1:]), 10)
    model = factory(tuple(x.shape[1:]), 10)
    model.load_state_dict(init.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = 0
    while step < steps and not (until_fit and step % 10 == 0 and step and error(model.eval(), x, y) == 0):
        model.train()
        idx = torch.randint(len(y), (128,), generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        step += 1
    return model.eval(), init.eval(), step


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


def settling(net: Network) -> list[str]:
    """The four flatness searches with a point's evaluation stopped once its side of the target is
    settled (the default) against every draw and ascent step at every point, timed in turn."""
    searches = {"pacbayes-flatness": (gaussian_scale, None), "pacbayes-mag-flatness": (gaussian_scale, MAGNITUDE_EPS),
                "sharpness-flatness": (box_scale, None), "sharpness-mag-flatness": (box_scale, MAGNITUDE_EPS)}
    lines = ["\n| search | settled points end early (s) | every draw and step (s) | x faster | same scale |",
             "|---|---|---|---|---|"]
    for name, (search, eps) in searches.items():
        timed = []
        try:
            for settle in (True, False):
                start = time.perf_counter()
                timed.append((search(net, eps, settle=settle), time.perf_counter() - start))
        except Undefined as err:
            lines.append(f"| {name} | undefined: {err} | | | |")
            continue
        (ours, fast), (full, slow) = timed
        lines.append(f"| {name} | {fast:.3g} | {slow:.3g} | {slow / fast:.2f} | {ours == full} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--opt-in", default="pac-bayes", help="opt-in quantities to time on the MLP (comma list)")
    parser.add_argument("--cifar-sizes", default="1000,200", help="training and test images of the ResNet-18 run")
    parser.add_argument("--resnet-steps", type=int, default=300,
                        help="at most this many SGD steps for the ResNet-18 (it stops when it fits its training set)")
    parser.add_argument("--threads", type=int, help="torch's intra-op threads (default: torch's own)")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    n_train, n_test = (int(n) for n in args.cifar_sizes.split(","))
    if args.threads:
        torch.set_num_threads(args.threads)
    defaults = [e.name for e in ordered() if e.factory.default]
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x = torch.as_tensor((x / 16).astype(np.float32).reshape(-1, 1, 8, 8))
    y = torch.as_tensor(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:1437], perm[1437:]
    model, init, _ = trained(mlp, x[tr], y[tr], 300)
    with tempfile.TemporaryDirectory() as root:
        recipe = Recipe(mlp, TrainConfig(lr=0.1, max_steps=2000))
        net = Network(model, (x[tr], y[tr]), (x[te], y[te]), init=init, recipe=recipe, root=root)
        opt_in = [q for q in args.opt_in.split(",") if q]
        lines = costs("1x512 MLP on digits (a Sequential trained outside genproof)", net, defaults + opt_in)
        lines += settling(net)
        try:
            cifar = load("cifar10", n_train=n_train, n_test=n_test, data_dir=args.data_dir, download=False)
        except Exception as err:  # no CIFAR-10 here: say so in the results
            lines.append(f"\nResNet-18 on the CIFAR-10 subset: not run ({' '.join(str(err).split())[:160]})\n")
        else:
            model, init, steps = trained(resnet18, cifar.x_train, cifar.y_train, args.resnet_steps, until_fit=True)
            net = Network(model, (cifar.x_train, cifar.y_train), (cifar.x_test, cifar.y_test), init=init, root=root)
            lines += costs(f"ResNet-18 (CIFAR variant) on {n_train:,} / {n_test:,} CIFAR-10 subset images, {steps} SGD "
                           f"steps (training error {error(model, cifar.x_train, cifar.y_train):.3g})", net, defaults)
            lines += settling(net)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    head = (f"\n## Cost of genproof.evaluate on a user's network, {time.strftime('%Y-%m-%d')}, {device}, torch "
            f"{torch.__version__}, python {platform.python_version()}\n\n`python benchmarks/evaluate_cost.py "
            f"--cifar-sizes {args.cifar_sizes} --opt-in {args.opt_in}`\n")
    publish(head + "\n".join(lines), args.write)


if __name__ == "__main__":
    main()
