"""What the bounds table costs against the training run it reports on, in one run.

In a fresh record root: the fit alone (`empirical.fit`, the network the table reports on), then
each bound family's rows on that trained network (the families the command evaluates), then the
whole command (`genproof.bounds.run`, which reads the cached fit and evaluates every family
again, in a second fresh root that holds only a copy of the fit). Reported: seconds of each part
and the ratio of the whole command to the fit alone.

    python benchmarks/bounds_cost.py [--dataset digits] [--data-dir DIR] [--n-train N] [--write]

`--write` appends the table to benchmarks/RESULTS.md with the device and versions.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from empirical.fit import fit
from genproof import bounds
from genproof.network import Network
from results import publish  # benchmarks/results.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--n-train", type=int)
    parser.add_argument("--families", help="as in genproof.bounds (default: its default families)")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    parser_args = ["--dataset", args.dataset] + (["--data-dir", args.data_dir] if args.data_dir else []) + (
        ["--n-train", str(args.n_train)] if args.n_train else []) + (["--families", args.families] if args.families else [])
    config = bounds.config_from_args(bounds.parser().parse_args(parser_args))
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        start = time.perf_counter()
        record = fit(config.fit, first)
        fit_s = time.perf_counter() - start
        net = Network.from_fit(config.fit, first)
        family_s = {}
        for family in config.selected():
            start = time.perf_counter()
            if not family.factory.reason(net):
                family.factory.compute(net, config.delta, 0)
            family_s[family.name] = time.perf_counter() - start
        shutil.copytree(record.path, Path(second) / record.path.name)
        start = time.perf_counter()
        bounds.run(config, second)
        table_s = time.perf_counter() - start + fit_s  # the command trains the network too (copied here)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    lines = [f"\n## Cost of the bounds table, {time.strftime('%Y-%m-%d')}, {device}, torch {torch.__version__}, "
             f"python {platform.python_version()}\n",
             f"`python -m genproof.bounds {' '.join(parser_args)}`: {config.fit.model.name} on {args.dataset}, "
             f"{record.summary['n_train']} training examples, {record.summary['steps']} steps. Seconds; the whole "
             "command = the fit + every family on its network, evaluated in a fresh root holding only the fit.\n",
             "| part | seconds | x the fit |", "|---|---|---|", f"| fit (the network reported on) | {fit_s:.1f} | 1 |"]
    lines += [f"| family `{name}` | {s:.1f} | {s / fit_s:.2f} |" for name, s in family_s.items()]
    lines.append(f"| **whole command** | **{table_s:.1f}** | **{table_s / fit_s:.2f}** |")
    text = "\n".join(lines) + "\n"
    publish(text, args.write)


if __name__ == "__main__":
    main()
