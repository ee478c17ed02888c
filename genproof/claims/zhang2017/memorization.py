"""Claims of zhang2017, Section 4 (Finite-sample expressivity): the 2n+d two-layer ReLU network of
Theorem 1 (`constructions.memorization`) fits any labeling; fitting it says nothing about test data.

The construction's choices, used by every claim below: `spacing="left"` (each bias 1/16 of the
way into its gap, so the output is close to the piecewise-linear interpolant of the sorted
projections) and the best of 8 Gaussian projections. Any interleaving satisfies Lemma 1; these
keep max |w| and the rounding error of a float64 forward pass small (the module docstring and
`notebooks/memorization_2n_plus_d.ipynb` compare them with the midpoint).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from constructions.memorization import build, build_classifier, verify_exact
from empirical import data as datasets
from empirical.fit import DataConfig, FitConfig, fit
from empirical.models import ModelConfig
from empirical.train import TrainConfig

from .. import Claim, register
from ..presets import MLP_1X512_DIGITS
from . import CARD

CONSTRUCTION = {"spacing": "left", "candidates": 8}


@dataclass(frozen=True)
class Source:
    """Inputs to memorize: data set `name`, its `split` ("train", or "all" = train + test), found
    by the loader's search order ($GENPROOF_DATA, the system folders); an `optional` source is
    never downloaded, and when absent it is reported among the measured numbers instead of failing."""

    name: str
    split: str = "train"
    optional: bool = False

    def inputs(self) -> np.ndarray | str:
        """(n, d) float32 inputs, or a message saying where an optional source was not found."""
        try:
            ds = datasets.load(self.name, download=not self.optional)
        except datasets.DataNotFoundError as exc:
            if self.optional:
                return f"absent: {exc}"
            raise
        parts = [ds.x_train] + ([ds.x_test] if self.split == "all" else [])
        return np.concatenate([x.reshape(len(x), -1).numpy() for x in parts])


@dataclass(frozen=True)
class Memorization:
    """Random targets, uniform over the integers 0 .. num_classes - 1 (as reals), on the inputs of
    every source; the first `exact_rows` rows are also checked in rational arithmetic."""

    sources: tuple[Source, ...]
    num_classes: int = 10
    exact_rows: int = 20
    seed: int = 0


def _measure_memorization(setting: Memorization, root: Path) -> dict:
    measured: dict = {}
    for source in setting.sources:
        X = source.inputs()
        key = source.name
        if isinstance(X, str):
            measured[f"{key}_data"] = X
            continue
        n_rows, d = X.shape
        y = np.random.default_rng(setting.seed).integers(0, setting.num_classes, n_rows).astype(np.float64)
        start = time.perf_counter()
        net = build(X, y, seed=setting.seed, **CONSTRUCTION)
        build_s = time.perf_counter() - start
        out32 = net(X, np.float32, method="dense")
        exact = verify_exact(X[:setting.exact_rows], y[:setting.exact_rows], net.a, spacing=CONSTRUCTION["spacing"])
        measured.update({
            f"{key}_data": f"{source.split} split",
            f"{key}_rows": n_rows,
            f"{key}_n": net.n,
            f"{key}_d": d,
            f"{key}_merged_duplicates": len(net.merged),
            f"{key}_n_params": net.n_params,
            f"{key}_max_error_float64": net.max_error(X, y, np.float64, method="dense"),
            f"{key}_max_error_float64_sorted": net.max_error(X, y, np.float64, method="sorted"),
            f"{key}_max_error_float32": float(np.max(np.abs(out32 - y))),
            f"{key}_float32_labels_recovered": float(np.mean(np.round(out32) == y)),
            f"{key}_max_abs_weight": net.max_abs_weight,
            f"{key}_condition_bound": net.condition,
            f"{key}_exact_residual_first_rows": float(exact),
            f"{key}_build_s": build_s,
        })
    measured["measured_sources"] = [s.name for s in setting.sources if f"{s.name}_n" in measured]
    return measured


def _memorization_holds(m: dict, tol) -> bool:
    names = m["measured_sources"]
    return bool(names) and all(
        m[f"{k}_n_params"] == 2 * m[f"{k}_n"] + m[f"{k}_d"]
        and m[f"{k}_n"] + m[f"{k}_merged_duplicates"] == m[f"{k}_rows"]
        and m[f"{k}_max_error_float64"] <= tol["max_error_float64"]
        and m[f"{k}_exact_residual_first_rows"] <= tol["exact_residual"]
        for k in names)


memorization = register(Claim(
    id="zhang2017.memorization-2n+d",
    card=CARD,
    cited_from="a theorem: no number (Theorem 1; its parameter count and network quoted)",
    source="zhang2017, Section 4 (Finite-sample expressivity), Theorem 1; proof and Lemma 1 in Appendix C",
    statement=("A two-layer ReLU network with 2n + d weights, c(x) = sum_j w_j relu(<a, x> - b_j), fits random "
               "labels of n real d-dimensional images exactly: built in closed form, its float64 forward pass "
               "reproduces every label, and its rational-arithmetic version has zero residual."),
    settings={
        # CPU, seconds: all 1,797 digits (8x8) and, when $GENPROOF_DATA holds it (CI points it at the
        # real CIFAR-10 subset: the first 1,000 images of each training batch, 5,000 x 3,072), CIFAR-10.
        "quick": Memorization((Source("digits", split="all"), Source("cifar10", optional=True))),
        # The published setting: all 50,000 CIFAR-10 training images (data found by the loader).
        "full": Memorization((Source("cifar10"),)),
    },
    tolerances={
        # max_i |c(x_i) - y_i| of the float64 forward pass relu(<a, x> - b) @ w, in label units (labels
        # are the integers 0..9). What remains of an exact construction is rounding in a sum of n terms
        # of size up to max|w| * spread that cancel down to a label; a wrong bias or weight shows up as an
        # error of order 1. 1e-3 is 500 times below the 0.5 at which rounding the output would give a
        # wrong label. (Midpoint biases would not meet it at the full tier: on 50,000 uniform random
        # inputs in [0, 1]^3072 their forward pass errs by about 0.1, the "left" spacing's by 2e-5.)
        "max_error_float64": 1e-3,
        # The rational-arithmetic network on the first rows (same projection) must satisfy A w = y
        # exactly: no tolerance.
        "exact_residual": 0.0,
    },
    measure=_measure_memorization,
    holds=_memorization_holds,
    cited={"parameters": "2n + d (Theorem 1)", "network": "two-layer, ReLU, width n (Section 4)"},
))


@dataclass(frozen=True)
class MemorizerVersusMLP:
    """The one-vs-rest memorizer of `data`'s true training labels (seeds `seeds`) against a
    one-hidden-layer MLP whose width makes its parameter count closest to the memorizer's,
    trained by `train` (seed 0)."""

    data: DataConfig
    train: TrainConfig
    seeds: tuple[int, ...] = (0, 1, 2)


def _measure_generalization(setting: MemorizerVersusMLP, root: Path) -> dict:
    ds = setting.data.load()
    flat = [x.reshape(len(x), -1).numpy() for x in (ds.x_train, ds.x_test)]
    y_train, y_test = ds.y_train.numpy(), ds.y_test.numpy()
    k = ds.num_classes
    nets = [build_classifier(flat[0], y_train, k, seed=s, **CONSTRUCTION) for s in setting.seeds]
    params = nets[0].n_params
    d = flat[0].shape[1]
    width = max(1, round((params - k) / (d + 1 + k)))  # d*h + h + h*k + k parameters for width h
    mlp = fit(FitConfig(setting.data, ModelConfig("mlp", width=width, depth=1), setting.train, "true", 0), root)
    return {
        "memorizer_n_params": params,
        "memorizer_train_acc": [net.accuracy(flat[0], y_train) for net in nets],
        "memorizer_test_acc": [net.accuracy(flat[1], y_test) for net in nets],
        "mlp_width": width,
        "mlp_n_params": mlp.summary["n_params"],
        "mlp_train_acc": mlp.summary["train_acc"],
        "mlp_test_acc": mlp.summary["test_acc"],
        "chance": 1 / k,
        "n_train": len(y_train),
        "n_test": len(y_test),
    }


def _generalization_holds(m: dict, tol) -> bool:
    share = max(m["memorizer_test_acc"]) - m["chance"]
    return (min(m["memorizer_train_acc"]) >= 1 - tol["train_acc_shortfall"]
            and share <= tol["max_share_of_mlp_gain"] * (m["mlp_test_acc"] - m["chance"]))


does_not_generalize = register(Claim(
    id="zhang2017.memorizer-does-not-generalize",
    card=CARD,
    cited_from="a theorem: no number (the construction of Theorem 1; the paper gives it no test error)",
    source="zhang2017, Section 4 (Finite-sample expressivity), Theorem 1, read with Section 2 and Table 1",
    statement=("The explicit 2n+d construction (one output per class) fits the true training labels exactly yet "
               "keeps less than half of the test-accuracy gain over chance that an SGD-trained MLP with about "
               "the same number of parameters achieves: parameter count alone does not explain generalization."),
    settings={
        # CPU: the 1,437 training digits, tested on the 360 held out; MLP trained as in zhang2017.random-labels.
        "quick": MemorizerVersusMLP(MLP_1X512_DIGITS.data, MLP_1X512_DIGITS.train),
        # GPU: CIFAR-10, 50,000 / 10,000; SGD with the paper's lr 0.01 schedule for MLPs.
        "full": MemorizerVersusMLP(DataConfig("cifar10"),
                                   TrainConfig(lr=0.01, momentum=0.9, lr_decay=0.95, batch_size=128,
                                               max_steps=100_000), seeds=(0,)),
    },
    tolerances={
        # The memorizer is built to interpolate: every training label, no shortfall.
        "train_acc_shortfall": 0.0,
        # "Well below" made scale-free, so that the same check reads on digits and on CIFAR-10: the
        # memorizer's test accuracy above chance, on its best seed, is at most this share of the MLP's.
        # 0.5: the memorizer does not reach halfway from chance to the MLP. On 360 test digits one
        # standard error of an accuracy is at most 0.026, a small fraction of the distances compared.
        "max_share_of_mlp_gain": 0.5,
    },
    measure=_measure_generalization,
    holds=_generalization_holds,
))


@dataclass(frozen=True)
class PointSet:
    """`n` points: standard Gaussian in R^d (`kind="gaussian"`) or the first n training inputs
    of a data set (`kind` its name; `d` is then the data's)."""

    kind: str
    n: int
    d: int | None = None

    def points(self, seed: int) -> np.ndarray:
        if self.kind == "gaussian":
            return np.random.default_rng([seed, self.n, self.d]).standard_normal((self.n, self.d))
        x = datasets.load(self.kind).x_train[:self.n]
        return x.reshape(self.n, -1).numpy().astype(np.float64)


@dataclass(frozen=True)
class Shattering:
    """Every sign labeling (+1/-1) of each point set when there are at most `max_labelings`,
    otherwise that many drawn uniformly; each is built and checked in rational arithmetic."""

    point_sets: tuple[PointSet, ...]
    max_labelings: int = 1024
    seed: int = 0


def _measure_shattering(setting: Shattering, root: Path) -> dict:
    sets, checked, realized = [], [], []
    for k, ps in enumerate(setting.point_sets):
        X = ps.points(setting.seed)
        rng = np.random.default_rng([setting.seed, k])
        if 2 ** ps.n <= setting.max_labelings:
            Y = np.array(list(itertools.product((-1.0, 1.0), repeat=ps.n))).T
        else:
            Y = rng.choice((-1.0, 1.0), size=(ps.n, setting.max_labelings))
        a = rng.standard_normal(X.shape[1])
        if verify_exact(X, Y, a, spacing=CONSTRUCTION["spacing"]) == 0:
            ok = Y.shape[1]
        else:  # count the labelings realized, one at a time
            ok = sum(verify_exact(X, Y[:, j], a, spacing=CONSTRUCTION["spacing"]) == 0 for j in range(Y.shape[1]))
        sets.append(f"{ps.kind} n={ps.n} d={X.shape[1]}")
        checked.append(Y.shape[1])
        realized.append(int(ok))
    return {"point_sets": sets, "labelings_checked": checked, "labelings_realized_exactly": realized,
            "failures": sum(checked) - sum(realized)}


shatters = register(Claim(
    id="zhang2017.relu-net-shatters",
    card=CARD,
    cited_from="a theorem: no number (Theorem 1)",
    source="zhang2017, Section 4, Theorem 1 (a consequence: the class of 2n+d networks shatters any n distinct points)",
    statement=("For n distinct points, the 2n+d two-layer ReLU network realizes every +1/-1 labeling exactly, "
               "checked in rational arithmetic: the class shatters the points, so its VC dimension is at least n."),
    settings={
        # Every labeling of two small sets (2^8 and 2^10) and 256 random labelings of 40 points in R^5.
        "quick": Shattering((PointSet("gaussian", 8, 2), PointSet("digits", 10), PointSet("gaussian", 40, 5)),
                            max_labelings=1024),
        # Every labeling of 12 points (4,096) and 4,096 random labelings of larger sets.
        "full": Shattering((PointSet("gaussian", 12, 2), PointSet("digits", 12), PointSet("gaussian", 100, 10)),
                           max_labelings=4096),
    },
    tolerances={
        # Exact arithmetic: a labeling is realized only if c(x_i) = y_i holds with zero residual, and
        # shattering needs every one of them.
        "failures": 0,
    },
    measure=_measure_shattering,
    holds=lambda m, tol: m["failures"] <= tol["failures"],
))
