"""SimCLR training throughput of `empirical.sss` against the textbook per-example pipeline, in one run.

Ours is the pipeline `empirical.sss.learn_representation` runs: the one training loop
(`empirical.train.train`) over a `Resident` walk of inputs on the device with the `SimCLR`
objective, which augments the whole batch at once (`empirical.sss.view`); the reference is the usual `Dataset.__getitem__` that augments one
example at a time into two views, batched by a `DataLoader`. Both run the same encoder, projection
head, NT-Xent loss and Adam for the same number of steps and batch size, with the same augmentation
(`view` applied to a batch of one, in the reference). Reported: steps per second of each and their
ratio (ours / reference), best of `--repeats` runs.

    python benchmarks/simclr_throughput.py [--steps 100] [--repeats 3] [--write]

`--write` appends the table to benchmarks/RESULTS.md with the device and versions.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from empirical.batches import Resident
from empirical.data import load
from empirical.models import ModelConfig, build_encoder
from empirical.sss import SimCLR, SSLConfig, nt_xent, view
from empirical.train import train
from results import publish  # benchmarks/results.py, beside this script

CASES = [  # (data set, backbone, batch size)
    ("mnist1d", ModelConfig("mlp", width=512, depth=2, features=32), 256),
    ("digits", ModelConfig("mlp", width=512, depth=2, features=32), 256),
    ("digits", ModelConfig("cnn", channels=32), 256),
]
SSL = SSLConfig()


class TwoViews(Dataset):
    """The reference: two augmented views of one example per `__getitem__`."""

    def __init__(self, x):
        self.x, self.generator = x, torch.Generator().manual_seed(0)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        xi = self.x[i:i + 1]
        return view(xi, self.generator, SSL)[0], view(xi, self.generator, SSL)[0]


def _parts(model_cfg, ds):
    encoder, dim = build_encoder(model_cfg, ds.input_shape, seed=0)
    head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, SSL.projection_dim))
    return encoder, head


def ours(model_cfg, ds, steps, batch) -> float:
    encoder, head = _parts(model_cfg, ds)
    g = torch.Generator().manual_seed(0)
    schedule = replace(SSL.train, batch_size=batch, max_steps=steps, eval_every=steps, device="cpu", progress=False)
    start = time.perf_counter()
    train(encoder, Resident(ds.x_train, None, batch, g, drop_last=True), schedule, objective=SimCLR(head, SSL, g))
    return time.perf_counter() - start


def reference(model_cfg, ds, steps, batch) -> float:
    encoder, head = _parts(model_cfg, ds)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=SSL.train.lr)
    loader = DataLoader(TwoViews(ds.x_train), batch_size=batch, shuffle=True, drop_last=True)
    start, done = time.perf_counter(), 0
    while done < steps:
        for v1, v2 in loader:
            loss = nt_xent(head(encoder(v1)), head(encoder(v2)), SSL.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    lines = [f"\n## SimCLR throughput, {time.strftime('%Y-%m-%d')}, CPU ({torch.get_num_threads()} threads), "
             f"torch {torch.__version__}, python {platform.python_version()}\n",
             f"{args.steps} steps per run, best of {args.repeats}; both pipelines apply `empirical.sss.view` "
             "(crop, amplitude jitter, noise).\n",
             "| data | backbone | batch | ours (steps/s) | per-example DataLoader (steps/s) | ratio |",
             "|---|---|---|---|---|---|"]
    for data_name, model_cfg, batch in CASES:
        ds = load(data_name, n_train=10_000 if data_name == "mnist1d" else None)
        best = {label: args.steps / min(loop(model_cfg, ds, args.steps, batch) for _ in range(args.repeats))
                for label, loop in (("ours", ours), ("reference", reference))}
        backbone = "mlp 512-512-32" if model_cfg.name == "mlp" else f"cnn {model_cfg.channels}"
        lines.append(f"| {data_name} | {backbone} | {batch} | {best['ours']:.1f} | {best['reference']:.1f} "
                     f"| {best['ours'] / best['reference']:.1f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    publish(text, args.write)


if __name__ == "__main__":
    main()
