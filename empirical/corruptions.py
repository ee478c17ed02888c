"""Corruptions of a data set, after zhang2017 Section 2 ("Effective capacity of neural networks").

Zhang et al. train on the data with
- true labels: the original data set;
- partially corrupted labels: each label replaced, with probability p, by a uniform random class
  (independently, so the number replaced is Binomial(n, p));
- random labels: every label replaced by a uniform random class;
- shuffled pixels: one random permutation of the pixels, applied to every image of the training
  and the test set;
- random pixels: a different random permutation for each image, independently;
- Gaussian: images drawn from a Gaussian with the mean and variance of the original data set.

Each function here is pure: from a `Dataset`, a rate or kind, and a seed (which seeds a `torch.Generator`,
never the global RNG) it returns a `Corrupted` holding a new `Dataset` and the mask of training
examples it changed. The input's tensors are never written to. Label corruptions touch only the
training split; the input corruptions change the test split the same way as the training split,
as zhang2017 does, so that a network is tested on inputs from the distribution it was trained on.

How many labels are redrawn (`label_noise(count=...)`): "exact" (kinds `labels:ETA`,
`labels-all:ETA`, the default), exactly round(eta n) examples chosen uniformly without replacement;
"binomial" (kinds `labels-iid:ETA`, `labels-all-iid:ETA`), each example independently with
probability eta, as zhang2017 describes and as bansal2021's code does. Either way the chosen
examples are nested across eta for a fixed seed, and each keeps the same new label. "A pixel" is one
spatial position with all its channels; inputs of shape `(d,)` permute their d coordinates. Where
this differs from the papers, on purpose: docs/sources/zhang2017.md, docs/sources/bansal2021.md.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import torch

from empirical.data import Dataset
from empirical.data.sampling import checked_seed, generator

KINDS = ("true", "labels:ETA", "labels-all:ETA", "labels-iid:ETA", "labels-all-iid:ETA", "random-labels",
         "shuffled-pixels", "random-pixels", "gaussian")
# the label-noise kinds: name -> (over, count) of `label_noise`
LABEL_NOISE = {"labels": ("others", "exact"), "labels-all": ("all", "exact"),
               "labels-iid": ("others", "binomial"), "labels-all-iid": ("all", "binomial")}
COUNTS = ("exact", "binomial")


@dataclass(frozen=True, eq=False, repr=False)
class Corrupted:
    """A corrupted data set and what changed.

    `data`: the corrupted data set (same name and classes as the original).
    `mask`: bool (n_train,), True where the training example differs from the original.
    `kind`: the canonical kind string, which `corrupt` accepts back (e.g. "labels:0.4").
    `chosen`: bool (n_train,), True where the corruption was applied. It equals `mask` except when
    a label is redrawn over all classes (`labels-all:ETA`, `random-labels`) and may come out unchanged.
    """

    data: Dataset
    mask: torch.Tensor
    kind: str
    chosen: torch.Tensor

    def __repr__(self) -> str:
        return f"Corrupted({self.kind!r}, {self.data!r}, changed={int(self.mask.sum())}/{len(self.mask)})"


def label_noise(ds: Dataset, eta: float, seed: int, *, over: str = "others", count: str = "exact") -> Corrupted:
    """Redraw the labels of some training examples.

    `count="exact"`: exactly round(eta * n_train) examples, chosen without replacement;
    `count="binomial"`: each example independently with probability eta (a Binomial(n, eta) count).
    `over="others"`: the new label is uniform over the C - 1 other classes, so every chosen label
    changes (`mask == chosen`). `over="all"`: uniform over all C classes, as in zhang2017, so about
    1/C of the chosen keep their label (`mask` marks the changed ones, `chosen` all redrawn ones).
    Kinds: `labels:ETA` (others, exact), `labels-all:ETA` (all, exact), `labels-iid:ETA` (others,
    binomial), `labels-all-iid:ETA` (all, binomial).
    """
    _check_dataset(ds)
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be a fraction in [0, 1], got {eta!r}")
    if over not in ("others", "all"):
        raise ValueError(f"over must be 'others' (a different class) or 'all' (any class, zhang2017), got {over!r}")
    if count not in COUNTS:
        raise ValueError(f"count must be 'exact' (round(eta n) examples) or 'binomial' (each with probability "
                         f"eta), got {count!r}")
    if over == "others" and ds.num_classes < 2:
        raise ValueError(f"over='others' needs at least 2 classes; {ds.name!r} has {ds.num_classes}")
    gen = generator(checked_seed(seed))
    y, n, c = ds.y_train, ds.n_train, ds.num_classes
    order = torch.randperm(n, generator=gen)
    # one candidate label per example, drawn for all n, so the chosen sets and new labels nest across eta
    if over == "others":
        candidates = (y + torch.randint(1, c, (n,), generator=gen)) % c
    else:
        candidates = torch.randint(0, c, (n,), generator=gen)
    if count == "exact":
        chosen = torch.zeros(n, dtype=torch.bool)
        chosen[order[: round(eta * n)]] = True
    else:  # one uniform draw per example, compared with eta: independent, and nested across eta
        chosen = torch.rand(n, generator=gen) < eta
    labels = torch.where(chosen, candidates, y)
    name = next(k for k, v in LABEL_NOISE.items() if v == (over, count))
    kind = f"{name}:{float(eta)!r}"
    return Corrupted(ds.replace(y_train=labels), labels != y, kind, chosen)


def random_labels(ds: Dataset, seed: int) -> Corrupted:
    """Every training label redrawn uniformly over all classes (zhang2017); `mask` marks the changed ones."""
    return dataclasses.replace(label_noise(ds, 1.0, seed, over="all"), kind="random-labels")


def shuffled_pixels(ds: Dataset, seed: int) -> Corrupted:
    """One random permutation of the pixel positions, applied to every train and test image (zhang2017)."""
    _check_dataset(ds)
    perm = torch.randperm(_pixels(ds.x_train).shape[2], generator=generator(checked_seed(seed)))

    def shuffle(x: torch.Tensor) -> torch.Tensor:
        return _pixels(x)[:, :, perm].reshape(x.shape)

    return _all_changed(ds.replace(x_train=shuffle(ds.x_train), x_test=shuffle(ds.x_test)), "shuffled-pixels")


def random_pixels(ds: Dataset, seed: int) -> Corrupted:
    """An independent random permutation of the pixel positions for each train and test image (zhang2017)."""
    _check_dataset(ds)
    gen = generator(checked_seed(seed))

    def scramble(x: torch.Tensor) -> torch.Tensor:
        pixels = _pixels(x)
        orders = torch.stack([torch.randperm(pixels.shape[2], generator=gen) for _ in range(len(x))])
        return pixels.gather(2, orders[:, None, :].expand_as(pixels)).reshape(x.shape)

    return _all_changed(ds.replace(x_train=scramble(ds.x_train), x_test=scramble(ds.x_test)), "random-pixels")


def gaussian_inputs(ds: Dataset, seed: int) -> Corrupted:
    """Train and test inputs replaced by i.i.d. N(m, s^2) noise; labels kept (zhang2017).

    m and s^2 are the mean and variance of all training input values (one scalar each, over
    examples, channels and positions), so the noise matches the data set's first two moments.
    """
    _check_dataset(ds)
    gen = generator(checked_seed(seed))
    values = ds.x_train.double()
    mean, std = values.mean().item(), values.std().item()

    def noise(x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=gen, dtype=torch.float32).mul_(std).add_(mean)

    return _all_changed(ds.replace(x_train=noise(ds.x_train), x_test=noise(ds.x_test)), "gaussian")


def parse_kind(kind: str) -> tuple[str, float | None]:
    """Split a kind into its name and rate: "labels:0.4" -> ("labels", 0.4), "gaussian" ->
    ("gaussian", None). An unknown kind, or a rate that is not a number in [0, 1], is refused."""
    if kind == "true" or kind in _WHOLE:
        return kind, None
    prefix, colon, rate = str(kind).partition(":")
    if colon and prefix in LABEL_NOISE:
        try:
            eta = float(rate)
        except ValueError:
            raise ValueError(f"kind {kind!r}: {rate!r} is not a number; write e.g. '{prefix}:0.4'") from None
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"kind {kind!r}: eta must be a fraction in [0, 1], got {eta!r}")
        return prefix, eta
    raise ValueError(f"unknown corruption kind {kind!r}; known: {', '.join(KINDS)} (ETA in [0, 1], e.g. labels:0.4)")


def corrupt(ds: Dataset, kind: str, seed: int) -> Corrupted:
    """The corruption named by `kind` (one of `KINDS`, ETA a rate in [0, 1]).

    "true": the data set unchanged (mask all False); "labels:ETA", "labels-all:ETA", "labels-iid:ETA",
    "labels-all-iid:ETA": `label_noise` with the `over` and `count` of `LABEL_NOISE` (zhang2017's
    partially corrupted labels are "labels-all-iid:ETA"; bansal2021's η-noise is "labels-iid:ETA");
    "random-labels", "shuffled-pixels", "random-pixels", "gaussian": the functions above.
    """
    name, eta = parse_kind(kind)
    if name == "true":
        _check_dataset(ds)
        unchanged = torch.zeros(ds.n_train, dtype=torch.bool)
        return Corrupted(ds, unchanged, "true", unchanged.clone())
    if eta is None:
        return _WHOLE[name](ds, seed)
    over, count = LABEL_NOISE[name]
    return label_noise(ds, eta, seed, over=over, count=count)


_WHOLE = {
    "random-labels": random_labels,
    "shuffled-pixels": shuffled_pixels,
    "random-pixels": random_pixels,
    "gaussian": gaussian_inputs,
}


def _check_dataset(ds: Dataset) -> None:
    if not isinstance(ds, Dataset):
        hint = "; pass its .data" if isinstance(ds, Corrupted) else ""
        raise TypeError(f"ds must be an empirical.data.Dataset, got {type(ds).__name__}{hint}")


def _pixels(x: torch.Tensor) -> torch.Tensor:
    """`x` viewed as (n, channels, positions): the first input axis is the channel axis when there are two or more."""
    channels = x.shape[1] if x.ndim > 2 else 1
    return x.reshape(len(x), channels, -1)


def _all_changed(data: Dataset, kind: str) -> Corrupted:
    every = torch.ones(data.n_train, dtype=torch.bool)
    return Corrupted(data, every, kind, every.clone())
