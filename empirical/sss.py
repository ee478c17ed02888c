"""Self-supervised + simple (SSS) training (bansal2021: Bansal, Kaplun, Barak, "For self-supervised
learning, Rationality implies generalization, provably", ICLR 2021, Section 1 and Section 4).

An SSS procedure is a function from (training inputs, labels) to a classifier in two stages:
1. `learn_representation`: a backbone (`empirical.models.build_encoder`) learns a representation
   r from the training inputs alone, never their labels: SimCLR's contrastive objective
   (`nt_xent`, Chen, Kornblith, Norouzi, Hinton 2020, eq. 1) on two augmented views, or an
   autoencoder's reconstruction error. The run is cached and, being label-free, shared by every
   labelling of the same inputs (clean and noisy runs of one seed see the same r).
2. `fit_sss`: the representation is frozen and a simple classifier g is fitted to the labels: a
   linear probe, multinomial logistic regression (scikit-learn) on the standardized features,
   optionally quantized to `bits` per weight (`quantize`) so that it can be described in a known
   number of bits (`ProbeConfig.description_bits`), the complexity Theorem II charges.

The end-to-end counterpart (the same backbone and a linear head, trained on the labels) is
`empirical.fit.fit`; `empirical.noisy` runs both through the same η-noisy experiment.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from empirical.batches import Resident, augment
from empirical.corruptions import corrupt
from empirical.fit import DataConfig
from empirical.models import ModelConfig, build_encoder, count_parameters
from empirical.records import Record, cached_run, default_root, load_state, save_figure, write_jsonl
from empirical.train import TrainConfig, resolve_device, train

METHODS = ("simclr", "autoencoder")


# Stage 1's training (`SSLConfig.train`): Adam at 1e-3 without weight decay for all of 2,000
# minibatches of 256 (no labels, so no stop at fit), the minibatch objective recorded every 50 steps
SSL_TRAIN = TrainConfig(optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=256, max_steps=2000,
                        stop_at_fit=False, eval_every=50)


@dataclass(frozen=True)
class SSLConfig:
    """Stage 1. `method`: "simclr" or "autoencoder", trained by `train` (`SSL_TRAIN` by default:
    Adam, 2,000 steps of 256) in the one training loop. SimCLR: NT-Xent at `temperature` on a
    2-layer projection head of width `projection_dim`. Augmentations, drawn per example on the
    device: a random crop (a shift with zero padding, `empirical.train.augment`), a horizontal flip
    if `flip`, an amplitude jitter x -> (1 + u) x with u ~ U[-`scale`, `scale`], a colour jitter of
    each channel, x_c -> (1 + a_c)(x_c - mean x_c) + mean x_c + b_c with a_c, b_c ~ U[-`color`,
    `color`] (SimCLR's brightness and contrast; 0 turns it off), and additive Gaussian noise of std
    `noise` (the inputs are standardized, so in units of their std). These fit 1-D signals and
    images alike, and they are the whole augmentation: `train.augment` stays "none". The
    autoencoder reconstructs the clean input from one augmented view."""

    method: str = "simclr"
    train: TrainConfig = SSL_TRAIN
    temperature: float = 0.5
    projection_dim: int = 64
    flip: bool = False
    scale: float = 0.2
    color: float = 0.0
    noise: float = 0.1

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        for name in ("temperature", "projection_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.train.stop_at_fit or self.train.augment != "none":
            raise ValueError("a representation is learned without labels and with its own views: train needs "
                             f"stop_at_fit=False and augment='none', got stop_at_fit={self.train.stop_at_fit}, "
                             f"augment={self.train.augment!r}")
        if self.method == "simclr" and self.train.batch_size < 2:
            raise ValueError("SimCLR needs batch_size >= 2: the other views of a batch are its negatives")
        if not 0 <= self.scale < 1 or not 0 <= self.color < 1 or self.noise < 0:
            raise ValueError(f"scale and color must be in [0, 1) and noise >= 0, got scale={self.scale}, "
                             f"color={self.color}, noise={self.noise}")


@dataclass(frozen=True)
class RepresentationConfig:
    """A representation learned from the training inputs of `data` by `model`'s backbone."""

    data: DataConfig = DataConfig("mnist1d")
    model: ModelConfig = ModelConfig("mlp", width=512, depth=2, features=32)
    ssl: SSLConfig = SSLConfig()
    seed: int = 0


@dataclass(frozen=True)
class ProbeConfig:
    """Stage 2: multinomial logistic regression with inverse L2 strength `c` (scikit-learn's C) on
    the standardized features; `bits`: quantize every weight and bias to that many bits (None:
    keep float32)."""

    c: float = 1.0
    bits: int | None = None
    max_iter: int = 2000

    def __post_init__(self):
        if self.c <= 0:
            raise ValueError(f"c must be positive, got {self.c}")
        if self.bits is not None and not 1 <= self.bits <= 32:
            raise ValueError(f"bits must be an integer in [1, 32] or None, got {self.bits}")

    def description_bits(self, feature_dim: int, num_classes: int) -> int:
        """Bits that describe the probe given the representation: (feature_dim + 1) * num_classes
        numbers of `bits` each, and the quantizer's scale as one float32 (float probe: 32 bits a
        number). The standardization is label-free, part of the representation, and costs nothing."""
        numbers = (feature_dim + 1) * num_classes
        return numbers * 32 if self.bits is None else numbers * self.bits + 32


@dataclass(frozen=True)
class SSSConfig:
    """One run of the SSS procedure: the representation, the probe, and the labels it is fitted
    to (`corruption` of `empirical.corruptions.corrupt`, seeded by `seed`)."""

    representation: RepresentationConfig = RepresentationConfig()
    probe: ProbeConfig = ProbeConfig()
    corruption: str = "true"
    seed: int = 0


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent loss (Chen et al. 2020, eq. 1), averaged over the 2N views: for the view
    z_i whose positive is z_j, -log( exp(s_ij / t) / sum_{k != i} exp(s_ik / t) ), where s is the
    cosine similarity and the sum runs over the other 2N - 1 views of the batch."""
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must be matching (N, d) batches, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, positive)


def view(x: torch.Tensor, generator: torch.Generator, ssl: SSLConfig) -> torch.Tensor:
    """One random augmented view of every example of `x` (see `SSLConfig`)."""
    out = augment(x, generator, flip=ssl.flip)
    shape = (len(x),) + (1,) * (x.dim() - 1)
    if ssl.scale:
        out = out * (1 + ssl.scale * (2 * torch.rand(shape, generator=generator) - 1)).to(x.device)
    if ssl.color:
        per_channel = (len(x), x.shape[1]) + (1,) * (x.dim() - 2)
        a, b = (ssl.color * (2 * torch.rand(per_channel, generator=generator) - 1) for _ in range(2))
        mean = out.mean(dim=tuple(range(2, x.dim())), keepdim=True)
        out = (1 + a.to(x.device)) * (out - mean) + mean + b.to(x.device)
    if ssl.noise:
        out = out + ssl.noise * torch.randn(out.shape, generator=generator).to(x.device)
    return out


def _standardize(x: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    """`x` shifted and scaled by the mean and std of `by` (the training inputs), over all entries."""
    return (x - by.mean()) / by.std().clamp_min(1e-8)


class SimCLR(nn.Module):
    """SimCLR's objective as a training objective (`empirical.objectives.Objective`): NT-Xent of the
    projections `head(encoder(v))` of two random views v of every example (`view`, drawn from
    `generator`, the batch source's). The projection head is trained with the encoder."""

    def __init__(self, head: nn.Module, ssl: SSLConfig, generator: torch.Generator):
        super().__init__()
        self.head, self.ssl, self.generator = head, ssl, generator

    def forward(self, encoder: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z1, z2 = (self.head(encoder(view(x, self.generator, self.ssl))).float() for _ in range(2))
        return nt_xent(z1, z2, self.ssl.temperature)


class Reconstruction(nn.Module):
    """An autoencoder's objective: mean squared error of the decoder `head`'s reconstruction of the
    clean input from the representation of one random view."""

    def __init__(self, head: nn.Module, ssl: SSLConfig, generator: torch.Generator):
        super().__init__()
        self.head, self.ssl, self.generator = head, ssl, generator

    def forward(self, encoder: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return F.mse_loss(self.head(encoder(view(x, self.generator, self.ssl))).float(), x.flatten(1))


def learn_representation(config: RepresentationConfig, root: str | os.PathLike | None = None,
                         force: bool = False) -> Record:
    """Stage 1 (cached): train the backbone of `config.model` on the training inputs of
    `config.data` with `config.ssl`, in the one training loop (`empirical.train.train`) with the
    `SimCLR` or `Reconstruction` objective and `config.ssl.train`; saves `encoder.pt` and
    `metrics.jsonl` (the objective on the minibatch at every evaluation, every 50 steps by
    default). summary: final_loss, feature_dim, n_params, n_train, steps, wall_s, device."""

    def compute(out: Path) -> dict:
        ds = config.data.load()
        ssl = config.ssl
        encoder, dim = build_encoder(config.model, ds.input_shape, seed=config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            if ssl.method == "simclr":
                head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, ssl.projection_dim))
            else:
                head = nn.Sequential(nn.Linear(dim, 256), nn.ReLU(), nn.Linear(256, math.prod(ds.input_shape)))
        generator = torch.Generator().manual_seed(config.seed)
        objective = (SimCLR if ssl.method == "simclr" else Reconstruction)(head, ssl, generator)
        # speed: the inputs live on the device; augmentations run there on the whole batch. Batches
        # walk a permutation per epoch and hold distinct examples (a repeated one would be its own
        # negative): drop_last.
        x = _standardize(ds.x_train, ds.x_train).to(resolve_device(ssl.train.device))
        source = Resident(x, None, ssl.train.batch_size, generator, drop_last=True)
        result = train(encoder, source, ssl.train, seed=config.seed, objective=objective)
        rows = [{"step": r["step"], "loss": r["batch_loss"], "wall_s": r["wall_s"]} for r in result.history]
        write_jsonl(out / "metrics.jsonl", rows)
        torch.save(encoder.state_dict(), out / "encoder.pt")
        save_figure(_loss_curve(rows, f"{ssl.method} on {ds.name} ({config.model.name})"), out / "loss.png")
        return {"final_loss": rows[-1]["loss"], "feature_dim": dim, "n_params": count_parameters(encoder),
                "n_train": ds.n_train, "steps": result.steps, "wall_s": result.wall_s, "device": ssl.train.device}

    return cached_run(root or default_root(), "representation", config, compute, force=force)


def load_encoder(record: Record, config: RepresentationConfig, input_shape: tuple[int, ...]) -> nn.Module:
    """The trained backbone of a `learn_representation` record, on the CPU, in eval mode."""
    encoder, _ = build_encoder(config.model, input_shape, seed=config.seed)
    encoder.load_state_dict(load_state(record, "encoder.pt"))
    return encoder.eval()


@torch.no_grad()
def features(encoder: nn.Module, x_train: torch.Tensor, x_test: torch.Tensor,
             batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """The representation of the training and test inputs, standardized per feature by the
    training inputs' mean and std (label-free, so part of the representation)."""

    def embed(x):
        x = _standardize(x, x_train)
        return torch.cat([encoder(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).double().numpy()

    f_train, f_test = embed(x_train), embed(x_test)
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-8
    return (f_train - mu) / sd, (f_test - mu) / sd


def quantize(theta: np.ndarray, bits: int) -> np.ndarray:
    """Uniform symmetric quantization to the 2**bits levels -s + 2 s k / (2**bits - 1),
    k = 0 .. 2**bits - 1 (1 bit: +-s); every entry goes to its nearest level, entries beyond +-s
    to +-s. The clip s is the one of 20 candidates r * max|theta|, r = 0.05, 0.10, .., 1, with the
    least squared error: the weights of a probe are heavy-tailed, and clipping a few of them buys
    resolution for all the others. The scale is one number, so the description costs
    `bits * theta.size + 32` bits whichever s is chosen."""
    theta = np.asarray(theta, dtype=np.float64)
    top = 2 ** bits - 1
    best, best_err = theta.copy(), np.inf
    for s in np.abs(theta).max() * np.linspace(0.05, 1.0, 20):
        if s == 0:
            break
        q = (2 * np.clip(np.rint((theta / s + 1) / 2 * top), 0, top) / top - 1) * s
        err = float(((q - theta) ** 2).sum())
        if err < best_err:
            best, best_err = q, err
    return best


@dataclass(frozen=True)
class Probe:
    """A linear classifier on the representation: logits = features @ weight.T + bias."""

    weight: np.ndarray  # (num_classes, feature_dim)
    bias: np.ndarray  # (num_classes,)

    def predict(self, f: np.ndarray) -> np.ndarray:
        return np.argmax(f @ self.weight.T + self.bias, axis=1)

    def quantized(self, bits: int) -> "Probe":
        """Weights and biases quantized together (one scale) to `bits` each."""
        theta = quantize(np.concatenate([self.weight.ravel(), self.bias]), bits)
        return Probe(theta[:self.weight.size].reshape(self.weight.shape), theta[self.weight.size:])


def fit_probe(f_train: np.ndarray, y: np.ndarray, probe: ProbeConfig, num_classes: int) -> Probe:
    """Multinomial logistic regression (lbfgs) on the features; the float probe. Classes absent
    from `y` get weight 0 and bias -inf's stand-in, -1e9, so the probe never predicts them."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y)
    model = LogisticRegression(C=probe.c, max_iter=probe.max_iter).fit(f_train, y)
    weight = np.zeros((num_classes, f_train.shape[1]))
    bias = np.full(num_classes, -1e9)
    if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes: logits (-z/2, z/2)
        weight[model.classes_] = np.stack([-model.coef_[0], model.coef_[0]]) / 2
        bias[model.classes_] = np.array([-model.intercept_[0], model.intercept_[0]]) / 2
    else:
        weight[model.classes_], bias[model.classes_] = model.coef_, model.intercept_
    return Probe(weight, bias)


def fit_sss(config: SSSConfig, root: str | os.PathLike | None = None, force: bool = False) -> Record:
    """Stage 2 (cached): freeze the representation of `config.representation` (learned or taken
    from the cache) and fit the probe to the labels after `config.corruption`. Saves `probe.npz`
    (the classifier used, quantized if `bits`) and `predictions.npz` (train and test predictions).

    summary.json: train_acc (on the labels it was fitted to), test_acc, float_train_acc,
    float_test_acc (the probe before quantization), description_bits, feature_dim, n_train,
    n_test, num_classes, corrupted_fraction, representation_run.
    """
    root = Path(root or default_root())

    def compute(out: Path) -> dict:
        rep = config.representation
        rep_record = learn_representation(rep, root)
        corrupted = corrupt(rep.data.load(), config.corruption, seed=config.seed)
        ds = corrupted.data
        encoder = load_encoder(rep_record, rep, ds.input_shape)
        f_train, f_test = features(encoder, ds.x_train, ds.x_test)
        y_train, y_test = ds.y_train.numpy(), ds.y_test.numpy()
        float_probe = fit_probe(f_train, y_train, config.probe, ds.num_classes)
        probe = float_probe if config.probe.bits is None else float_probe.quantized(config.probe.bits)
        pred_train, pred_test = probe.predict(f_train), probe.predict(f_test)
        np.savez(out / "probe.npz", weight=probe.weight, bias=probe.bias)
        np.savez(out / "predictions.npz", train=pred_train, test=pred_test)
        return {
            "train_acc": float((pred_train == y_train).mean()), "test_acc": float((pred_test == y_test).mean()),
            "float_train_acc": float((float_probe.predict(f_train) == y_train).mean()),
            "float_test_acc": float((float_probe.predict(f_test) == y_test).mean()),
            "description_bits": config.probe.description_bits(f_train.shape[1], ds.num_classes),
            "feature_dim": f_train.shape[1], "n_train": ds.n_train, "n_test": ds.n_test,
            "num_classes": ds.num_classes, "corrupted_fraction": corrupted.mask.float().mean().item(),
            "representation_run": str(rep_record.path),
        }

    return cached_run(root, "sss", config, compute, force=force)


def predictions(record: Record) -> tuple[np.ndarray, np.ndarray]:
    """The (train, test) predicted labels a `fit_sss` run saved."""
    with np.load(record.path / "predictions.npz") as saved:
        return saved["train"], saved["test"]


def _loss_curve(rows, title):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows])
    ax.set(xlabel="step", ylabel="loss", title=title)
    return fig

