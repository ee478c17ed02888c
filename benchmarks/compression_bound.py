"""The compression certificate (bound family `compression`) on digits, Fashion-MNIST and the
CIFAR-10 subset, with its time: what a quantized subspace network of the quick tier's architecture
certifies, beside Lotfi et al.'s (NeurIPS 2022, data-independent priors) MNIST 11.6%,
Fashion-MNIST 32.8%, CIFAR-10 58.2%.

For each data set, in a fresh record root, `genproof.compression.doubling_search` exactly as the
bounds table runs it (d = 100, 200, 400, ... until the certificate stops improving, 5 levels,
6,000 steps a run); reported: the best certificate (ours) and the same network under the authors'
accounting, the compressed network's training and test errors (and the subspace network's before
quantization), the bits, d and L, the subspaces tried, and the seconds of the whole search and of
the best run. One run per data set, as one user would run it.

    python benchmarks/compression_bound.py [--datasets digits,fashion-mnist,cifar10]
        [--cifar-dir ../shared/data/cifar10-subset] [--threads T] [--write]

`--write` appends the table to benchmarks/RESULTS.md with the machine and versions.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch

from empirical.fit import DataConfig
from empirical.models import build, count_parameters
from genproof.bounds import tier_config
from empirical.subspace import SubspaceConfig
from genproof.compression import doubling_search
from results import publish  # benchmarks/results.py, beside this script


def measure(dataset: str, data_dir: str | None, delta: float) -> list[str]:
    """One table row: the doubling search on `dataset` with the quick tier's network."""
    model, _ = tier_config("quick", dataset)
    data = DataConfig(dataset, data_dir=data_dir)
    ds = data.load()
    n_params = count_parameters(build(model, ds.input_shape, ds.num_classes))
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        results = doubling_search(SubspaceConfig(data=data, model=model), n_params, root, delta)
        wall = time.perf_counter() - start
    best = min(results, key=lambda r: r.bound)
    name = "cifar10 (subset)" if dataset == "cifar10" and ds.n_train < 50_000 else dataset
    return [name, f"{ds.n_train:,}", f"{model.name} {model.depth}x{model.width}", f"{best.bound:.4f}",
            f"{best.authors_bound:.4f}", f"{best.train_error:.4f}", f"{best.test_error:.4f}",
            f"{best.subspace_train_error:.4f} / {best.subspace_test_error:.4f}", str(best.bits), str(best.dim),
            str(best.levels), ", ".join(f"{r.dim}: {r.bound:.3f}" for r in results), f"{best.wall_s:.0f}",
            f"{wall:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits,fashion-mnist,cifar10")
    parser.add_argument("--cifar-dir", help="folder holding cifar-10-batches-py/ (the 5,000-image subset, say)")
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    header = ["data set", "n", "network", "certificate (ours)", "authors' accounting (their default path)",
              "train error", "test error",
              "before quantization (train / test)", "bits", "d", "levels", "d tried: certificate",
              "best run (s)", "search (s)"]
    rows = [measure(name, args.cifar_dir if name == "cifar10" else None, args.delta)
            for name in args.datasets.split(",")]
    lines = [f"\n## Compression certificate, {time.strftime('%Y-%m-%d')}, CPU ({torch.get_num_threads()} threads, "
             f"{platform.processor() or platform.machine()}), torch {torch.__version__}, python "
             f"{platform.python_version()}\n",
             f"`python benchmarks/compression_bound.py --datasets {args.datasets}`: bound family `compression` "
             f"(genproof.compression.doubling_search) with delta = {args.delta}; one run per data set. The errors "
             "are the compressed network's (the quantized subspace network certified, not the table's trained "
             "network). Lotfi et al. 2022 (data-independent priors): MNIST 11.6%, Fashion-MNIST 32.8%, "
             "CIFAR-10 58.2% (the full 50,000 images).\n",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    publish("\n".join(lines), args.write)


if __name__ == "__main__":
    main()
