"""Training a network in a random low-dimensional subspace of its weights, and quantizing the
subspace coordinates to a small learned codebook: the compressed networks whose description
length `genproof.compression` turns into a certificate.

The network's weights are theta = theta_0 + P w (Li, Farkhoor, Liu, Yosinski, "Measuring the
intrinsic dimension of objective landscapes", ICLR 2018): theta_0 is the architecture's
initialisation from the run's seed (the same network `empirical.fit` starts from), P a fixed
random D x d matrix drawn from that seed, and only w, d numbers, is trained. P is structured
(`KroneckerProjection`) so that it costs O(sqrt(D d)) memory and never D x d. Then w is
quantized to L levels (`Subspace.quantize`: a codebook initialised by 1-D k-means on w) and w
and the codebook are trained on together through the quantizer (straight-through gradient for
w, the summed gradient of its members for each level), as Lotfi, Finzi, Kapoor, Potapczynski,
Goldblum, Wilson, "PAC-Bayes compression bounds so tight that they can explain generalization",
NeurIPS 2022, Section 4, do (their code: activatedgeek/tight-pac-bayes, `pactl/nn/projectors.py`
`RoundedDoubleKronQR`, `pactl/bounds/quantize_fns.py` `Quantize`, `finetune_quantization`).
Both stages are runs of the one training loop (`empirical.train.train`) on the `Subspace` module.

The compressed network is exactly what a decoder rebuilds from the message: the codebook rounded
to float16, one level index per coordinate, and, for networks with batch norm, the running
statistics rounded to float16 (they are fitted to the training data outside the subspace, so the
message must carry them); its errors are measured after those roundings.

`compress(SubspaceConfig, root) -> Record`, cached as `<root>/subspace-<hash>/`: `config.json`,
`metrics.jsonl` (the evaluations of both stages, `stage` 1 and 2), `summary.json` and
`compressed.pt` (the message's contents: level indices, codebook, batch-norm statistics).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from empirical.corruptions import corrupt
from empirical.fit import DataConfig
from empirical.models import ModelConfig, build
from empirical.records import Record, cached_run, default_root, write_jsonl
from empirical.train import TrainConfig, evaluate, train


class KroneckerProjection(nn.Module):
    """A seeded D x d matrix P with orthonormal structure, applied without forming it:
    P w = S Pi (Q1 (x) Q2) E w, where Q1 (D1 x d1) and Q2 (D2 x d2) have orthonormal columns (QR of
    Gaussian matrices), (x) is the Kronecker product, d1 = ceil(sqrt d), d2 = ceil(d / d1), D1 =
    ceil(sqrt D), D2 = ceil(D / D1), E pads w with zeros to d1 d2 coordinates and S Pi keeps D of the
    D1 D2 rows in a random order (Pi a permutation, S the first D rows). Computed as
    vec(Q1 W Q2^T)[perm], W the padded w as a d1 x d2 matrix: O(D1 d1 d2 + D1 D2 d2) time and
    O(D1 d1 + D2 d2 + D) memory. The columns of Q1 (x) Q2 are orthonormal, so |P w| is close to |w|
    (equal when D1 D2 = D).

    This is Lotfi et al.'s `RoundedDoubleKronQR` (a Kronecker product of two QR-orthonormalized
    Gaussian matrices, rows permuted at random), except that theirs covers the rows and columns
    left over by the rounding with a dense Gaussian block, where this one pads w and drops rows."""

    def __init__(self, D: int, d: int, seed: int):
        super().__init__()
        if not 1 <= d <= D:
            raise ValueError(f"the subspace dimension d must be in [1, D] = [1, {D}], got {d}")
        self.D, self.d = D, d
        self.d1 = math.ceil(math.sqrt(d))
        self.d2 = math.ceil(d / self.d1)
        D1 = max(math.ceil(math.sqrt(D)), self.d1)
        D2 = max(math.ceil(D / D1), self.d2)
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("q1", torch.linalg.qr(torch.randn(D1, self.d1, generator=g)).Q)
        self.register_buffer("q2", torch.linalg.qr(torch.randn(D2, self.d2, generator=g)).Q)
        self.register_buffer("perm", torch.randperm(D1 * D2, generator=g)[:D])

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        padded = nn.functional.pad(w, (0, self.d1 * self.d2 - self.d)).view(self.d1, self.d2)
        return (self.q1 @ padded @ self.q2.T).reshape(-1)[self.perm]


class Subspace(nn.Module):
    """`network` with weights theta_0 + P w: the trained parameters are w (d numbers, zero at the
    start) and, once `quantize` is called, the codebook. The network is a submodule (so the loop's
    train/eval mode reaches its dropout and batch norm) whose own parameters are frozen at theta_0
    and replaced in every forward pass (`torch.func.functional_call`).

    Quantized, the coordinates are codebook[index(w)], index(w) the nearest level; the gradient
    passes straight through to w and, for each level, is the sum over the coordinates assigned to it
    (Lotfi et al.'s `Quantize`)."""

    def __init__(self, network: nn.Module, dim: int, seed: int):
        super().__init__()
        self.network = network.requires_grad_(False)
        self.names = [name for name, _ in network.named_parameters()]
        self.shapes = [p.shape for p in network.parameters()]
        self.register_buffer("theta0", torch.cat([p.detach().reshape(-1) for p in network.parameters()]))
        self.projection = KroneckerProjection(self.theta0.numel(), dim, seed)
        self.w = nn.Parameter(torch.zeros(dim))
        self.codebook: nn.Parameter | None = None

    def indices(self) -> torch.Tensor:
        """The level of each coordinate: the nearest codebook value to w_i."""
        return (self.w.detach()[:, None] - self.codebook.detach()[None, :]).abs().argmin(1)

    def coordinates(self) -> torch.Tensor:
        if self.codebook is None:
            return self.w
        return self.codebook[self.indices()] + (self.w - self.w.detach())  # value: levels; gradient: straight through

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = self.theta0 + self.projection(self.coordinates())
        params, start = {}, 0
        for name, shape in zip(self.names, self.shapes):
            params[name] = theta[start:start + shape.numel()].view(shape)
            start += shape.numel()
        return functional_call(self.network, params, (x,))

    @torch.no_grad()
    def quantize(self, levels: int, seed: int) -> None:
        """Start the codebook at `levels` values: 1-D k-means on w (scikit-learn, k-means++ seeded by
        `seed`), so that each coordinate's level is its cluster."""
        from sklearn.cluster import KMeans

        if not 1 <= levels <= self.w.numel():
            raise ValueError(f"levels must be in [1, d] = [1, {self.w.numel()}], got {levels}")
        w = self.w.detach().cpu().double().numpy().reshape(-1, 1)
        centres = KMeans(n_clusters=levels, n_init=4, random_state=seed).fit(w).cluster_centers_[:, 0]
        self.codebook = nn.Parameter(torch.tensor(np.sort(centres), dtype=self.w.dtype, device=self.w.device))

    @torch.no_grad()
    def freeze_message(self) -> dict:
        """Fix the network to what the message describes, and return the message's contents: the
        codebook and the batch-norm running statistics are rounded to float16 (in place: the network
        evaluated afterwards is the decoded one), levels that no coordinate takes are dropped (and two
        that round to one float16 value merged), and w is set to its levels. Returns `indices` (d ints
        in [0, L), L the levels kept), `codebook` (L increasing float16 values), `batch_norm` (name ->
        float16 tensor: every running mean and variance)."""
        codebook, idx = torch.unique(self.codebook.half()[self.indices()], return_inverse=True)
        self.codebook = nn.Parameter(codebook.float())
        self.w.copy_(self.codebook[idx])
        stats = {}
        for name, buffer in self.network.named_buffers():
            if name.endswith(("running_mean", "running_var")):
                buffer.copy_(buffer.half().float())
                stats[name] = buffer.half().cpu()
        return {"indices": idx.cpu(), "codebook": codebook.cpu(), "batch_norm": stats}


@dataclass(frozen=True)
class SubspaceConfig:
    """A compressed network: `model` on `data` (with `corruption`, as `empirical.fit` applies it),
    theta_0 and P drawn from `seed`, trained in a subspace of `dim` coordinates by `train`, then
    quantized to `levels` levels and trained through the quantizer for `quant_steps` steps of `train`'s
    update rule, minibatch size and learning-rate schedule at `quant_lr`.

    The defaults were chosen on the quick tier's 1x512 MLP with digits, Fashion-MNIST and the CIFAR-10
    subset, from what was tried then (the certificates themselves: benchmarks/RESULTS.md): Adam at 0.05 with a cosine
    schedule for 4,000 steps (2.5 and 5 times as many lowered the subspace network's training error on
    Fashion-MNIST by up to 2 points, but not the certificate);
    2,000 steps through the quantizer at 0.002 (rates of 0.01 and above moved the levels too far, and
    k-means alone, without these steps, left the training error several points higher); 5 levels
    (3 cost more accuracy than they saved bits; 4 to 7 gave certificates close to each other)."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    corruption: str = "true"
    seed: int = 0
    dim: int = 100
    levels: int = 5
    train: TrainConfig = TrainConfig(optimizer="adam", lr=0.05, batch_size=128, max_steps=4000, stop_at_fit=False,
                                     lr_schedule="cosine", eval_every=500)
    quant_steps: int = 2000
    quant_lr: float = 0.002
    progress: bool | None = field(default=None, metadata={"identity": False})

    def __post_init__(self):
        if self.dim < 1 or self.levels < 1 or self.quant_steps < 0 or self.quant_lr <= 0:
            raise ValueError(f"dim and levels must be >= 1, quant_steps >= 0 and quant_lr > 0; got dim={self.dim}, "
                             f"levels={self.levels}, quant_steps={self.quant_steps}, quant_lr={self.quant_lr}")


def compress(config: SubspaceConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """Train, quantize and measure the compressed network of `config` (or take it from the cache
    under `root`). summary.json: `dim`, `levels` (asked for), `counts` (coordinates per used level,
    the codebook's order), `codebook` (its float16 values), `batch_norm_values` (running statistics
    the message carries), `n_params` (D), `train_error` and `test_error` of the compressed network
    (the float16 codebook and statistics), `subspace_train_error` and `subspace_test_error` of the
    network before quantization, `n_train`, `n_test`, `num_classes`, `steps` (both stages),
    `wall_s` (training, quantization and evaluation), `device`."""

    def compute(out: Path) -> dict:
        start = time.perf_counter()
        ds = corrupt(config.data.load(), config.corruption, seed=config.seed).data
        network = build(config.model, ds.input_shape, ds.num_classes, seed=config.seed)
        model = Subspace(network, config.dim, config.seed)
        evals = {"train": (ds.x_train, ds.y_train), "test": (ds.x_test, ds.y_test)}
        schedule = replace(config.train, progress=config.progress)
        first = train(model, (ds.x_train, ds.y_train), schedule, seed=config.seed, evals=evals)
        before = first.final
        model.quantize(config.levels, config.seed)
        second = None
        if config.quant_steps:
            second = train(model, (ds.x_train, ds.y_train),
                           replace(schedule, lr=config.quant_lr, max_steps=config.quant_steps),
                           seed=config.seed + 1, evals=evals)
        model = model.cpu().eval()
        message = model.freeze_message()
        torch.save(message, out / "compressed.pt")
        errors = {name: 1 - evaluate(model, x, y)["acc"] for name, (x, y) in evals.items()}
        write_jsonl(out / "metrics.jsonl", [dict(row, stage=1) for row in first.history]
                    + [dict(row, stage=2) for row in (second.history if second else ())])
        return {
            "dim": config.dim, "levels": config.levels,
            "counts": torch.bincount(message["indices"], minlength=len(message["codebook"])).tolist(),
            "codebook": message["codebook"].float().tolist(),
            "batch_norm_values": sum(v.numel() for v in message["batch_norm"].values()),
            "n_params": model.theta0.numel(), "train_error": errors["train"], "test_error": errors["test"],
            "subspace_train_error": 1 - before["train_acc"], "subspace_test_error": 1 - before["test_acc"],
            "n_train": ds.n_train, "n_test": ds.n_test, "num_classes": ds.num_classes,
            "steps": first.steps + (second.steps if second else 0), "wall_s": time.perf_counter() - start,
            "device": config.train.device,
        }

    return cached_run(root or default_root(), "subspace", config, compute, force=force)
