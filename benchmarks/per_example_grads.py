"""Per-example gradients: genproof's methods (`empirical.gradients`: the layer factors, "outer", and
`torch.func`, "vmap") beside BackPACK and Opacus and a Python loop of backward passes, in one run.

Three networks on digits-shaped inputs (1x8x8, 10 classes), in eval mode: chatterjee2020's quick
MLP (64-512-10), genproof's small CNN (two 3x3 convolutions with BatchNorm on running statistics,
max pooling, a linear head) and the same CNN without BatchNorm (which Opacus refuses). Every method produces the m per-example gradients of the cross-entropy
and reduces them to the coherence moments (||sum of the gradients / m||^2 and the mean squared norm),
in micro-batches of `--chunk` examples:
- formed: the (chunk, *parameter) gradients exist, as winsorized GD needs them: the loop (one forward
  and backward pass per example), ours (`per_example_gradients`, "outer" and "vmap"), BackPACK's
  `BatchGrad` and Opacus's `GradSampleModule` (`grad_sample`), all reduced by the same function;
- moments only: ours (`coherence_moments`, "outer": from the layer factors, the gradients of a layer
  formed only where that is cheaper than two Gram matrices) and BackPACK's `BatchL2Grad` beside the
  ordinary gradient (the sum).
Before timing, every method is checked against the loop (1e-4 relative, float32 gradients); one that
cannot run on a network (a missing package, a layer it refuses) gets a row saying why. Reported:
seconds per m examples (best of `--repeats`, the methods of a network timed in turn), and the ratio of the loop's time to each method's
within the same run, with the load average (the machine may be shared).

    python benchmarks/per_example_grads.py [--m 256] [--chunk 128] [--threads 1] [--device cpu] [--write]

`--write` appends the table to benchmarks/RESULTS.md with the device, threads, load and versions.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import time
import warnings
from importlib.metadata import PackageNotFoundError, version

import torch
from torch import nn

from empirical.gradients import coherence_moments, per_example_gradients
from empirical.models import ModelConfig, build
from empirical.objectives import cross_entropy
from results import publish  # benchmarks/results.py, beside this script

Moments = dict[str, float]


def reduce(grads) -> tuple[torch.Tensor, float]:
    """(sum over the examples, sum of squared norms) of per-example gradients, an iterable of (k, ...) tensors."""
    grads = [g.flatten(1) for g in grads]  # float32 sums (torch's are blocked: 1e-7 relative here), float64 after
    return torch.cat([g.sum(0).double() for g in grads]), sum((g * g).sum().item() for g in grads)


def moments(parts, m: int) -> Moments:
    total = sum(t for t, _ in parts)
    return {"mean_sq": (total / m).pow(2).sum().item(), "sq_mean": sum(s for _, s in parts) / m}


def loop(net, x, y, chunk) -> Moments:
    params = [p for p in net.parameters() if p.requires_grad]
    return moments([reduce(g[None] for g in torch.autograd.grad(cross_entropy(net, x[i:i + 1], y[i:i + 1]), params))
                    for i in range(len(x))], len(x))


def ours_formed(method):
    def run(net, x, y, chunk) -> Moments:
        loss = lambda a, b: cross_entropy(net, a, b)  # noqa: E731
        return moments([reduce(per_example_gradients(net, loss, x[i:i + chunk], y[i:i + chunk], method).values())
                        for i in range(0, len(x), chunk)], len(x))
    return run


def ours_moments(method):
    def run(net, x, y, chunk) -> Moments:
        return coherence_moments(net, lambda a, b: cross_entropy(net, a, b), x, y, chunk, method)["all"]
    return run


def _sum_loss(net, x, y):
    return cross_entropy(net, x, y) * len(x)  # the sum of the per-example losses: no 1/m in the packages' outputs


def _backpack(net, extension: str, take):
    """BackPACK's `extension` (BatchGrad, BatchL2Grad) on each micro-batch, `take(parameters)` -> (sum, squares)."""
    from backpack import backpack, extend, extensions

    net = extend(copy.deepcopy(net))

    def run(_, x, y, chunk) -> Moments:
        parts = []
        for i in range(0, len(x), chunk):
            net.zero_grad()
            with backpack(getattr(extensions, extension)()):
                _sum_loss(net, x[i:i + chunk], y[i:i + chunk]).backward()
            parts.append(take(list(net.parameters())))
        return moments(parts, len(x))
    return run


def backpack_formed(net):
    return _backpack(net, "BatchGrad", lambda ps: reduce(p.grad_batch for p in ps))


def backpack_moments(net):  # the ordinary gradient is the sum; batch_l2 the squared norms
    return _backpack(net, "BatchL2Grad", lambda ps: (torch.cat([p.grad.flatten().double() for p in ps]),
                                                     sum(p.batch_l2.double().sum().item() for p in ps)))


def opacus_formed(net):
    from opacus import GradSampleModule

    wrapped = GradSampleModule(copy.deepcopy(net), batch_first=True, loss_reduction="sum", strict=False)
    wrapped.train()  # Opacus records activations in training mode only; the same function without dropout or BatchNorm

    def run(_, x, y, chunk) -> Moments:
        parts = []
        for i in range(0, len(x), chunk):
            wrapped.zero_grad(set_to_none=True)
            _sum_loss(wrapped, x[i:i + chunk], y[i:i + chunk]).backward()
            parts.append(reduce(p.grad_sample for p in wrapped.parameters()))
        return moments(parts, len(x))
    return run


def best_of_interleaved(runs: dict, repeats: int) -> dict[str, float]:
    """The best of `repeats` seconds of each function, the functions taken in turn within each repeat, so
    that a change of load on a shared machine falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, f in runs.items():
            start = time.perf_counter()
            f()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def methods(net):
    """(name, what it produces, a function of (net, x, y, chunk) or the reason it cannot run)."""
    out = [("loop of backward passes", "formed", loop),
           ("ours, layer factors (per_example_gradients 'outer')", "formed", ours_formed("outer")),
           ("ours, torch.func (per_example_gradients 'vmap')", "formed", ours_formed("vmap"))]
    for name, kind, make in (("BackPACK BatchGrad", "formed", backpack_formed),
                             ("Opacus GradSampleModule", "formed", opacus_formed),
                             ("ours, layer factors (coherence_moments 'outer')", "moments", lambda _: ours_moments("outer")),
                             ("BackPACK BatchL2Grad + gradient", "moments", backpack_moments)):
        try:
            out.append((name, kind, make(net)))
        except Exception as err:  # a missing package or a refused layer: a row that says so
            out.append((name, kind, f"n/a: {type(err).__name__}: {' '.join(str(err).split())[:120]}"))
    return out


def bench(label, net, x, y, args) -> list[str]:
    rows, runs = [], {}
    ref = loop(net, x, y, args.chunk)
    for name, kind, f in methods(net):
        if isinstance(f, str):
            rows.append((name, kind, f))
            continue
        try:
            got = f(net, x, y, args.chunk)
        except Exception as err:
            rows.append((name, kind, f"n/a: {type(err).__name__}: {' '.join(str(err).split())[:120]}"))
            continue
        bad = [k for k in ("mean_sq", "sq_mean") if abs(got[k] - ref[k]) > 1e-4 * abs(ref[k])]
        if bad:
            raise SystemExit(f"{label}, {name} disagrees with the loop on {bad}: {got} against {ref}")
        runs[name] = lambda f=f: f(net, x, y, args.chunk)
        rows.append((name, kind, None))
    seconds = best_of_interleaved(runs, args.repeats)
    base = seconds["loop of backward passes"]
    return [f"| {label} | {name} | {kind} | " + (f"{seconds[name]:.4f} | {base / seconds[name]:.1f} |" if why is None
                                                  else f"{why} | |") for name, kind, why in rows]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--m", type=int, default=256, help="examples whose gradients are computed")
    parser.add_argument("--chunk", type=int, default=128, help="micro-batch size of every method but the loop")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5, help="timings of each method, taken in turn with the others")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # the packages' notes on hooks and on modules they pass through
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.m, 1, 8, 8, generator=g).to(device)  # digits-shaped inputs
    y = torch.randint(0, 10, (args.m,), generator=g).to(device)
    torch.manual_seed(0)
    nets = {"MLP 64-512-10": build(ModelConfig("mlp", width=512, depth=1), (1, 8, 8), 10, seed=0),
            "CNN 32-64 + BatchNorm": build(ModelConfig("cnn", channels=32), (1, 8, 8), 10, seed=0),
            "CNN 32-64, no BatchNorm": nn.Sequential(  # the same without BatchNorm, which Opacus refuses
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))}
    with torch.no_grad():  # running statistics other than (0, 1), so that BatchNorm's eval map is not the identity
        nets["CNN 32-64 + BatchNorm"].train()(torch.rand(512, 1, 8, 8, generator=g))
    load = os.getloadavg()
    lines = []
    for label, net in nets.items():
        lines += bench(label, net.to(device).eval(), x, y, args)
    load = ", ".join(f"{a:.1f}" for a in (load + os.getloadavg())[::3][:2])
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})")
    head = [f"## Per-example gradients, genproof beside BackPACK and Opacus, {datetime.date.today()}, {where}, "
            f"load average {load} (start, end), torch {torch.__version__}, backpack-for-pytorch "
            f"{_version('backpack-for-pytorch')}, opacus {_version('opacus')}, python {platform.python_version()}", "",
            f"`python benchmarks/per_example_grads.py --m {args.m} --chunk {args.chunk} --threads {args.threads} "
            f"--device {args.device}`: m = {args.m} digits-shaped examples, micro-batches of {args.chunk}, best of "
            f"{args.repeats} (the methods of a network timed in turn); every method agrees with the loop on the coherence moments to 1e-4 relative (float32 "
            f"gradients). formed: the per-example gradients exist; moments: sums and squared norms only.", "",
            "| network | method | produces | seconds per m examples | x the loop |", "|---|---|---|---|---|"]
    publish("\n".join(head + lines) + "\n", args.write)


if __name__ == "__main__":
    main()
