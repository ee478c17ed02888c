"""ResNet-18 (CIFAR variant) through the one training loop: training throughput on 32x32 inputs,
and the time to memorize random labels beside the time to fit the true ones.

- Throughput (stage `throughput`): `--steps` SGD steps at batch `--batch` on `--n` CIFAR-shaped
  images (3x32x32: the CIFAR-10 training images where `--data-dir`, $GENPROOF_DATA or the loader's
  search order finds that many, else standard-normal tensors of that shape with random labels; the
  run says which), after `--warmup` untimed steps of the same run (on CUDA they compile the model:
  their seconds are reported as the warm-up). Ours is `empirical.train.train` with its
  defaults: data resident on the device; on CUDA bf16 autocast, channels_last, `torch.compile`
  (`TrainConfig.compile`) and fused SGD steps. With `--reference`, the textbook loop beside it: a
  `DataLoader(TensorDataset(...), shuffle=True)` loop in float32 that copies every batch to the
  device. Images/s = steps * batch / seconds of the timed run.
- Memorization (stage `memorization`): the first `--n` training images of `--memorize` (default
  Fashion-MNIST, 1x28x28; standard-normal CIFAR-shaped tensors where it is not installed) with
  uniformly random labels, then with their true labels, each trained by the loop until 100%
  training accuracy (`stop_at_fit`, the accuracy measured on the whole set once per epoch, in eval
  mode), `--fit-steps` or `--fit-seconds` (`TrainConfig.time_limit_s`; with `--deadline`, at most a
  share of the time left); SGD with momentum 0.9 and
  zhang2017's per-epoch decay of the learning rate (`--fit-lr-decay`, 0.95). Reported for each:
  seconds of training (the evaluations included, the compiling warm-up not; and the seconds of each
  epoch, which show any compiling left in the first), steps, epochs, train accuracy, and the accuracy on `--n-test` test images with their true labels; then the fit-time
  factor, random over true, in steps and in seconds (zhang2017 Figure 1b: Inception on CIFAR-10,
  batch 128, thousands of steps; Section 2: "a small constant factor").
- FLOPs: the model FLOPs of one training step per image (forward and backward, counted by
  `torch.utils.flop_counter.FlopCounterMode` on the CPU at batch 2: matrix products and
  convolutions, 2 per multiply-add), times images/s, is the achieved FLOP/s; over `--peak` (TFLOP/s
  in bf16; default by device: 790 for an H200, the 8192^3 bf16 matrix product measured on this
  workplace's H200s, 800 for an H100) it is the fraction of peak. On the CPU, FLOP/s alone.

    python benchmarks/resnet_throughput.py [--stages throughput,memorization] [--n 50000] [--steps 200]
        [--batch 512] [--memorize fashion-mnist] [--fit-steps 20000] [--fit-seconds S] [--device auto]
        [--peak TFLOPS] [--json FILE] [--write]

Tiny, on a CPU: `--n 256 --steps 5 --batch 64 --fit-steps 40`. `--json FILE` writes the numbers of
the stages run (with the device, the commit and the versions); `--write` appends the table to
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from empirical import data as datasets
from empirical.corruptions import corrupt
from empirical.data.dataset import Dataset
from empirical.models import ModelConfig, build
from empirical.train import TrainConfig, evaluate, resolve_device, train
from results import publish  # benchmarks/results.py, beside this script

RESNET = ModelConfig("resnet18")
CIFAR_SHAPE = (3, 32, 32)
PEAK_TFLOPS = {"H200": 790.0, "H100": 800.0}  # bf16 dense matrix products, measured here (KINDS.md)
STAGES = ("throughput", "memorization")
RANDOM_SHARE = 0.6  # of the time left before --deadline, for random labels (zhang2017: they take longer)
DEADLINE_RESERVE_S = 15.0  # kept back from --deadline for the test evaluations and the output


def images(name: str, n: int, data_dir: str | None, n_test: int = 1) -> tuple[Dataset, str]:
    """`n` training images of data set `name` (a class-balanced subset) and `n_test` test images,
    or, where it is not installed or holds fewer, `n` standard-normal CIFAR-shaped tensors with
    random labels; with what they are, in words."""
    try:
        held = datasets.load(name, data_dir=data_dir, download=False).n_train
    except datasets.DataNotFoundError:
        held = 0
    if held >= n:
        ds = datasets.load(name, n_train=n, n_test=n_test, data_dir=data_dir, download=False)
        return ds, f"{name}, {ds.n_train} training and {ds.n_test} test images {tuple(ds.input_shape)}"
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n + n_test, *CIFAR_SHAPE, generator=g), torch.randint(0, 10, (n + n_test,), generator=g)
    why = f"{name} holds {held} training images here" if held else f"{name} is not installed here"
    return (Dataset("synthetic", x[:n], y[:n], x[n:], y[n:], 10),
            f"synthetic: {n} standard-normal {CIFAR_SHAPE} tensors ({why})")


def flops_per_image(input_shape: tuple[int, ...]) -> float:
    """Model FLOPs of one training step (forward and backward) per image, counted at batch 2 on the CPU."""
    model = build(RESNET, input_shape, 10, seed=0).train()
    x, y = torch.randn(2, *input_shape), torch.randint(0, 10, (2,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 2


def ours(ds: Dataset, warmup: int, steps: int, batch: int, device: str) -> tuple[float, float]:
    """Seconds of the first `warmup` steps of the training loop (compiling, where it compiles) and of
    the `steps` after them, in one run of one model: the loop records (and waits for the device) at
    step `warmup` and at the last step, and at no other."""
    model = build(RESNET, ds.input_shape, ds.num_classes, seed=0)
    cfg = TrainConfig(lr=0.05, momentum=0.9, weight_decay=5e-4, batch_size=batch, max_steps=warmup + steps,
                      stop_at_fit=False, eval_at=(warmup,), device=device, progress=False)
    first, last = train(model, (ds.x_train, ds.y_train), cfg).history
    return first["wall_s"], last["wall_s"] - first["wall_s"]


def reference(ds: Dataset, steps: int, batch: int, device: torch.device) -> float:
    """Seconds of `steps` steps of the textbook loop: a shuffling DataLoader, float32, a copy per batch."""
    model = build(RESNET, ds.input_shape, ds.num_classes, seed=0).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(TensorDataset(ds.x_train, ds.y_train), batch_size=batch, shuffle=True)
    start, done = time.perf_counter(), 0
    while done < steps:
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    loss.item()  # waits for the device
    return time.perf_counter() - start


def fit(ds: Dataset, labels: str, batch: int, args, device: str, steps: int | None = None,
        seconds: float | None = None) -> dict:
    """ResNet-18 trained on `ds`, its labels uniformly random (`labels` "random") or true, until it
    fits them, `steps` (default `args.fit_steps`) or `seconds`; its accuracy on the test set's true
    labels after."""
    data = corrupt(ds, "random-labels", seed=0).data if labels == "random" else ds
    model = build(RESNET, data.input_shape, data.num_classes, seed=0)
    cfg = TrainConfig(lr=args.fit_lr, momentum=0.9, lr_decay=args.fit_lr_decay, batch_size=batch,
                      max_steps=steps or args.fit_steps, stop_at_fit=True, device=device,
                      time_limit_s=seconds, progress=False)
    result = train(model, (data.x_train, data.y_train), cfg, evals={"train": (data.x_train, data.y_train)})
    stopped = "fitted" if result.fitted else "steps" if result.steps == cfg.max_steps else "seconds"
    walls = [0.0] + [row["wall_s"] for row in result.history]  # a row per epoch; the last may end mid-epoch
    return {"labels": labels, "fitted": result.fitted, "stopped_by": stopped, "time_limit_s": seconds,
            "seconds": result.wall_s, "interval_seconds": [b - a for a, b in zip(walls, walls[1:])],
            "steps": result.steps, "epochs": result.epochs, "train_acc": result.final["train_acc"],
            "test_acc": evaluate(model, ds.x_test, ds.y_test)["acc"]}


def compiled_graphs() -> int:
    """Graphs torch.compile has made in this process (0 where the loop does not compile, or where a
    compile failed and, under TORCHDYNAMO_SUPPRESS_ERRORS=1, the model ran eagerly)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def commit() -> str:
    """The commit measured: $GENPROOF_COMMIT (a copy without .git, on a device machine), else git's."""
    if os.environ.get("GENPROOF_COMMIT"):
        return os.environ["GENPROOF_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def rate(flops_per_s: float, peak: float | None) -> str:
    share = "" if peak is None else f" ({flops_per_s / (peak * 1e12):.1%} of {peak:g})"
    return f"{flops_per_s / 1e12:.3g}{share}"


def throughput(args, batch: int, device: torch.device, peak: float | None) -> tuple[dict, list[str]]:
    cifar, what = images("cifar10", args.n, args.data_dir)
    per_image = flops_per_image(cifar.input_shape)
    warmup_s, seconds = ours(cifar, args.warmup, args.steps, batch, str(device))
    timed = {"ours (empirical.train)": seconds}
    if args.reference:
        reference(cifar, args.warmup, batch, device)
        timed["DataLoader loop, float32"] = reference(cifar, args.steps, batch, device)
    rows = {label: {"seconds": s, "images_per_s": args.steps * batch / s,
                    "flops_per_s": args.steps * batch * per_image / s} for label, s in timed.items()}
    ours_row = rows["ours (empirical.train)"]
    numbers = {"data": what, "steps": args.steps, "batch": batch, "warmup_steps": args.warmup,
               "warmup_seconds": warmup_s, "flops_per_image": per_image, "loops": rows,
               "images_per_s": ours_row["images_per_s"], "flops_per_s": ours_row["flops_per_s"],
               "fraction_of_peak": None if peak is None else ours_row["flops_per_s"] / (peak * 1e12)}
    lines = [f"Throughput on {what}: {args.steps} steps at batch {batch} after {args.warmup} warm-up steps of the "
             f"same run ({warmup_s:.1f} s, compiling included where the loop compiles). Model FLOPs per image per "
             f"training step: {per_image / 1e9:.3g} GFLOP (FlopCounterMode, forward and backward).\n",
             "| loop | images/s | TFLOP/s (fraction of peak) |", "|---|---|---|"]
    for label, row in rows.items():
        lines.append(f"| {label} | {row['images_per_s']:,.0f} | {rate(row['flops_per_s'], peak)} |")
    if len(timed) == 2:
        a, b = timed.values()
        lines.append(f"\nOurs / DataLoader loop: {b / a:.2f}x.\n")
    return numbers, lines


def memorization(args, batch: int, device: torch.device, peak: float | None) -> tuple[dict, list[str]]:
    ds, what = images(args.memorize, args.n, args.data_dir, n_test=args.n_test)
    per_image = flops_per_image(ds.input_shape)
    start = time.perf_counter()
    fit(ds, "random", batch, args, str(device), steps=args.warmup)  # compiles (CUDA) outside the timed runs
    warmup_s = time.perf_counter() - start
    runs = {}
    for labels, share in (("random", RANDOM_SHARE), ("true", 1.0)):
        seconds = args.fit_seconds
        if args.deadline:  # what is left before the deadline, less the test evaluations; random labels take a share
            left = (args.deadline - time.time() - DEADLINE_RESERVE_S) * share
            seconds = max(1.0, left if seconds is None else min(seconds, left))
        runs[labels] = fit(ds, labels, batch, args, str(device), seconds=seconds)
    for run in runs.values():
        run["flops_per_s"] = run["steps"] * batch * per_image / run["seconds"]
    rnd, true = runs["random"], runs["true"]
    numbers = {"data": what, "batch": batch, "lr": args.fit_lr, "lr_decay": args.fit_lr_decay,
               "max_steps": args.fit_steps, "time_limit_s": args.fit_seconds, "warmup_seconds": warmup_s,
               "flops_per_image": per_image, "runs": runs,
               "fit_time_factor_steps": rnd["steps"] / true["steps"],
               "fit_time_factor_seconds": rnd["seconds"] / true["seconds"],
               "both_fitted": rnd["fitted"] and true["fitted"]}
    limit = f", or {args.fit_seconds:g} s" if args.fit_seconds else ""
    limit += f", or the deadline's share ({RANDOM_SHARE:.0%} of the time left to random labels)" if args.deadline else ""
    lines = [f"\nMemorization: {what}, ResNet-18, SGD lr {args.fit_lr} momentum 0.9, the rate times "
             f"{args.fit_lr_decay} after every epoch, batch {batch}, until 100% training accuracy (measured on the "
             f"whole set once per epoch, in eval mode), {args.fit_steps} steps{limit}; a warm-up run of "
             f"{args.warmup} steps first ({warmup_s:.1f} s). zhang2017 (Figure 1b): Inception on CIFAR-10, batch "
             f"128, thousands of steps.\n",
             "| labels | fitted | train accuracy | test accuracy | steps | epochs | seconds (evaluations included) "
             "| TFLOP/s of the steps (fraction of peak) |", "|---|---|---|---|---|---|---|---|"]
    for labels, run in runs.items():
        fitted = "yes" if run["fitted"] else f"no, {run['stopped_by']} spent"
        lines.append(f"| {labels} | {fitted} | {run['train_acc']:.4f} | {run['test_acc']:.4f} | {run['steps']} "
                     f"| {run['epochs']:.1f} | {run['seconds']:.1f} | {rate(run['flops_per_s'], peak)} |")
    lines.append(f"\nFit-time factor, random over true labels: {numbers['fit_time_factor_steps']:.2f} in steps, "
                 f"{numbers['fit_time_factor_seconds']:.2f} in seconds"
                 f"{'' if numbers['both_fitted'] else ' (a run did not fit: a ratio of budgets, not of fit times)'}.\n")
    return numbers, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma list of {', '.join(STAGES)} (default both)")
    parser.add_argument("--n", type=int, default=50_000, help="training images (throughput and memorization)")
    parser.add_argument("--n-test", type=int, default=10_000, help="test images of the memorization runs")
    parser.add_argument("--steps", type=int, default=200, help="timed training steps for the throughput")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first: of the throughput run; a run of their own before the memorization")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--data-dir", default=None, help="a folder holding the data sets' files (default: search)")
    parser.add_argument("--memorize", default="fashion-mnist", help="data set whose labels are memorized")
    parser.add_argument("--fit-steps", type=int, default=20_000, help="step budget of each memorization run")
    parser.add_argument("--fit-seconds", type=float, default=None, help="time budget of each memorization run")
    parser.add_argument("--deadline", type=float, default=None, metavar="UNIX_TIME",
                        help=f"end the memorization runs by then: random labels get {RANDOM_SHARE:.0%} of the "
                             f"time left after the warm-up, true labels the rest")
    parser.add_argument("--fit-lr", type=float, default=0.05, help="SGD learning rate of the memorization runs")
    parser.add_argument("--fit-lr-decay", type=float, default=0.95, help="its factor after every epoch")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--peak", type=float, default=None, help="bf16 peak in TFLOP/s (default by device)")
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the DataLoader loop (default yes)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the numbers here")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    if not stages or any(s not in STAGES for s in stages):
        parser.error(f"--stages takes a comma list of {', '.join(STAGES)}, got {args.stages!r}")
    if args.n < 2 or args.steps < 1 or args.batch < 2 or args.warmup < 1 or args.n_test < 1:
        parser.error("--n and --batch must be at least 2, --steps, --warmup and --n-test at least 1")
    device = resolve_device(args.device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = args.peak or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    else:
        name, peak = f"CPU ({torch.get_num_threads()} threads)", args.peak
    batch = min(args.batch, args.n)

    peak_text = f"{peak:g} TFLOP/s bf16" if peak else "none (FLOP/s alone)"
    header = {"device": name, "commit": commit(), "torch": torch.__version__, "python": platform.python_version(),
              "date": time.strftime("%Y-%m-%d"), "peak_tflops": peak}
    lines = [f"\n## ResNet-18 {' and '.join(stages)}, {header['date']}, {name}, commit {header['commit']}, "
             f"torch {torch.__version__}, python {platform.python_version()}; peak {peak_text}\n"]
    out = dict(header)
    for stage in stages:
        numbers, text = (throughput if stage == "throughput" else memorization)(args, batch, device, peak)
        out[stage] = dict(numbers, compiled_graphs=compiled_graphs())
        lines += text
        if args.json:  # after every stage: a run stopped later keeps this one
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=2) + "\n")
    publish("\n".join(lines) + "\n", args.write)


if __name__ == "__main__":
    main()
