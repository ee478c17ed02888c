"""Building zhang2017's 2n+d network: `constructions.memorization.build` against a dense solve, in one run.

Ours: project, sort, interleave the biases and solve A w = y by the O(n) forward pass (O(n d +
n log n) in all). Baseline: the same projection, sort and biases, then the naive reading of the
proof: form the dense n x n matrix A_ij = max(z_(i) - b_j, 0) and call `numpy.linalg.solve`
(O(n^2) memory, O(n^3) time), only up to `--baseline-max` points. Data: standard Gaussian
inputs (float32, d = 3,072 like a flattened CIFAR-10 image) with uniform random integer targets
0..9; both fits are checked by their max error on the training points (float64, sorted form).
Reported: seconds per build (best of `--repeats`) and the ratio baseline / ours at shared n.

    python benchmarks/memorization_build.py [--sizes 1000,...,50000] [--baseline-max 8000] [--write]

`--write` appends the table to benchmarks/RESULTS.md with the date, CPU and versions.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy

from constructions.memorization import Memorizer, build, dense_system, interleaved_biases, project
from results import append  # benchmarks/results.py, beside this script

SIZES = (1_000, 2_000, 4_000, 8_000, 20_000, 50_000)


def ours(X, y) -> tuple[float, float]:
    start = time.perf_counter()
    net = build(X, y)
    seconds = time.perf_counter() - start
    return seconds, net.max_error(X, y)


def dense_baseline(X, y, seed: int = 0) -> tuple[float, float]:
    start = time.perf_counter()
    a = np.random.default_rng(seed).standard_normal(X.shape[1])  # the projection `build` draws first
    z = project(X, a)
    order = np.argsort(z)
    b = interleaved_biases(z[order])
    w = np.linalg.solve(dense_system(z[order], b), y[order])
    seconds = time.perf_counter() - start
    return seconds, Memorizer(a=a, b=b, w=w, knots=z[order]).max_error(X, y)


def best(run, X, y, repeats: int) -> tuple[float, float]:
    results = [run(X, y) for _ in range(repeats)]
    return min(s for s, _ in results), results[0][1]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated numbers of points")
    parser.add_argument("--dim", type=int, default=3072)
    parser.add_argument("--baseline-max", type=int, default=8000, help="largest n for the dense solve")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((sizes[-1], args.dim), dtype=np.float32)
    y = rng.integers(0, 10, sizes[-1]).astype(np.float64)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [f"\n## Building the 2n+d memorizer, {time.strftime('%Y-%m-%d')}, {cpu_name()} ({os.cpu_count()} cores, "
             f"load average {load}), numpy {np.__version__}, scipy {scipy.__version__}, "
             f"python {platform.python_version()}\n",
             f"Standard Gaussian inputs (float32, d = {args.dim}), random integer targets 0..9; seconds per build, "
             f"best of {args.repeats}; ours: `build` (projection, sort, O(n) forward pass); dense: the same z and b, "
             "then `numpy.linalg.solve` on the n x n matrix A; max error: max_i |c(x_i) - y_i| in float64.\n",
             "| n | ours (s) | dense solve (s) | dense / ours | max error, ours | max error, dense |",
             "|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for n in sizes:
        t_ours, e_ours = best(ours, X[:n], y[:n], args.repeats)
        if n <= args.baseline_max:
            t_dense, e_dense = best(dense_baseline, X[:n], y[:n], args.repeats)
            cells = f"{t_dense:.3f} | {t_dense / t_ours:,.0f} | {e_ours:.1e} | {e_dense:.1e}"
        else:
            cells = f"- | - | {e_ours:.1e} | -"
        lines.append(f"| {n:,} | {t_ours:.3f} | {cells} |")
        print(lines[-1], flush=True)
    if args.write:
        append("\n".join(lines))


if __name__ == "__main__":
    main()
