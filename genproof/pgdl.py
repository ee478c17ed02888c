"""The NeurIPS 2020 competition "Predicting Generalization in Deep Learning" (PGDL): its score, and
its `complexity(model, dataset)` contract in both directions.

Source: Jiang, Foret, Yak, Roy, Mobahi, Dziugaite, Bengio, Gunasekar, Guyon, Neyshabur, "NeurIPS 2020
competition: Predicting Generalization in Deep Learning", arXiv 2012.07976; the official scoring
program of the competition's starting kit, `scoring_program/mutual_information.py`
(`conditional_mutual_information`, Yiding Jiang, 2020; read in the starting kit as mirrored at
github.com/cadurosar/pgdl, commit 14452c1, "Add starting_kit code").

The score (`score`), as that program computes it. For two hyperparameters h1 != h2, every ordered
pair of networks (p, q), **p = q included**, falls in the cell (h1(p), h1(q), h2(p), h2(q)) and in
one of four boxes: "+gap" if gap(p) > gap(q) else "-gap", "+measure" if measure(p) > measure(q)
else "-measure" (**a tie goes to the minus side**, and so does every self-pair). In each cell c,
from the 2x2 table of counts: I_c, the mutual information (bits) between the gap's box and the
measure's box, and H_c, the entropy (bits) of the gap's box, -sum p log2(p + 1e-12) as theirs. The
score of (h1, h2) is mean_c I_c / mean_c H_c (a ratio of means over the cells, not a mean of
ratios), and the competition's score is the minimum over pairs of hyperparameters: 1 for a measure
that orders every pair as the gap does, 0 for one that says nothing beyond two hyperparameters.
The gap is training minus test accuracy, and a measure is oriented as genproof's: larger predicts
a larger gap.

Cells are averaged over those that hold a pair, keyed by the values themselves; with fewer than
two hyperparameters the score is None. Where this differs from their program (which needs a
complete grid): docs/sources/jiang2020.md; `scripts/pgdl_parity.py` runs their function and ours on
the same designs.

The contract: a PGDL submission is `complexity(model, dataset) -> float`, `model` a trained
tf.keras model that carries `model.initial_weights` (its weights at initialization, a list of
arrays in `get_weights()` order) when the task has them, `dataset` the unbatched training set as a
tf.data.Dataset of (x, label). `register` makes such a function, written for torch (an `nn.Module`
and a torch `Dataset` of (x, label)), a measure of genproof's registry; `complexity` makes any
genproof measure such a function.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any, Callable, Mapping, Sequence

import torch
from torch.utils.data import TensorDataset

from .network import Network
from .quantities import MEASURES, Undefined, measure

SOURCE = ("Jiang et al., NeurIPS 2020 competition 'Predicting Generalization in Deep Learning', arXiv 2012.07976; "
          "starting kit scoring_program/mutual_information.py")
EPS = 1e-12  # their entropy's log2(p + 1e-12)


# ---- the score -------------------------------------------------------------------------------------


def _entropy(counts: Sequence[float]) -> float:
    total = sum(counts)
    return -sum(c / total * math.log2(c / total + EPS) for c in counts)


def _mutual_information(table: Sequence[Sequence[float]]) -> float:
    total = sum(map(sum, table))
    rows = [sum(r) / total for r in table]
    cols = [sum(c) / total for c in zip(*table)]
    return sum(table[i][j] / total * math.log2(table[i][j] / total / (rows[i] * cols[j]))
               for i in range(2) for j in range(2) if table[i][j])


def pair_score(settings: Sequence[Mapping[str, Any]], measure: Sequence[float], gap: Sequence[float],
               h1: str, h2: str) -> float | None:
    """mean_c I_c / mean_c H_c for the hyperparameters h1, h2 (module docstring); None when the gap's
    box has no entropy in any cell (every pair of gaps ordered alike)."""
    cells: dict[tuple, list[list[int]]] = {}
    for p, q in itertools.product(range(len(settings)), repeat=2):
        key = (settings[p][h1], settings[q][h1], settings[p][h2], settings[q][h2])
        table = cells.setdefault(key, [[0, 0], [0, 0]])
        table[0 if gap[p] > gap[q] else 1][0 if measure[p] > measure[q] else 1] += 1
    info = sum(_mutual_information(t) for t in cells.values()) / len(cells)
    entropy = sum(_entropy([sum(t[0]), sum(t[1])]) for t in cells.values()) / len(cells)
    return info / entropy if entropy > 0 else None


def score(settings: Sequence[Mapping[str, Any]], measure: Sequence[float], gap: Sequence[float],
          hyperparameters: Sequence[str]) -> dict:
    """The PGDL score of `measure` against `gap` over networks whose hyperparameter values are
    `settings[k]` (module docstring): `score`, the minimum over pairs of `hyperparameters` (None
    with fewer than two, or when no pair has one), `pair`, the pair that attains it, and `pairs`,
    every pair's score."""
    if not len(settings) == len(measure) == len(gap):
        raise ValueError(f"settings, measure and gap must have one entry per network, got {len(settings)}, "
                         f"{len(measure)} and {len(gap)}")
    pairs = {(h1, h2): pair_score(settings, measure, gap, h1, h2)
             for h1, h2 in itertools.combinations(hyperparameters, 2)}
    defined = {k: v for k, v in pairs.items() if v is not None}
    pair = min(defined, key=defined.get) if defined else None
    return {"score": defined[pair] if pair else None, "pair": list(pair) if pair else None,
            "pairs": [{"hyperparameters": list(k), "score": v} for k, v in pairs.items()]}


# ---- the complexity(model, dataset) contract ---------------------------------------------------


def register(name: str, complexity: Callable[[torch.nn.Module, TensorDataset], float], description: str,
             source: str, cost: str = "pass", needs: tuple[str, ...] = (), default: bool = False) -> None:
    """Registers a PGDL-style `complexity(model, dataset) -> float` (torch: `model` an `nn.Module`
    in eval mode, `dataset` the training set as a `TensorDataset` of (x, label)) as the genproof
    measure `name`, larger predicting a larger gap as in PGDL. With `needs=("init",)` the model
    carries `initial_weights` during the call (its parameters at initialization, tensors in
    `parameters()` order), as the starting kit's loader sets it on a Keras model; without an init
    the row says what to pass. Opt-in by default (`default`): a study evaluates it when named."""

    def value(net: Network, seed: int = 0) -> float:
        model = net.model.eval()
        carried = net.init is not None and not hasattr(model, "initial_weights")
        if carried:
            model.initial_weights = [p.detach().clone() for p in net.init.parameters()]
        try:
            out = complexity(model, TensorDataset(net.data.x_train, net.data.y_train))
        finally:
            if carried:
                del model.initial_weights
        try:
            return float(out)
        except (TypeError, ValueError) as err:  # the starting kit's own check
            raise TypeError(f"complexity {name!r} must return a scalar float, got {type(out).__name__}") from err

    measure(name, description, source=source, cost=cost, default=default, needs=needs)(value)


def complexity(name: str) -> Callable[[torch.nn.Module, Any], float]:
    """The genproof measure `name` as a PGDL `complexity(model, dataset) -> float`: `model` an
    `nn.Module` (carrying `initial_weights`, tensors or arrays in `parameters()` order, when the
    measure needs an init), `dataset` its training set in any form `genproof.Network` takes (a torch
    `Dataset` of (x, label), a `DataLoader`, (x, y)). Raises `Undefined` with the reason where the
    measure has no value (PGDL wants a float: no number is made up)."""
    from .catalog import ordered

    ordered()  # every measure registered
    quantity = MEASURES.get(name)

    def fn(model: torch.nn.Module, dataset: Any) -> float:
        init = None
        if getattr(model, "initial_weights", None) is not None:
            init = copy.deepcopy(model)
            with torch.no_grad():
                for p, w in zip(init.parameters(), model.initial_weights):
                    p.copy_(torch.as_tensor(w))
        net = Network(model, dataset, init=init)
        reason = quantity.reason(net)
        if reason:
            raise Undefined(f"{name}: {reason}")
        return float(quantity.value(net, 0))

    fn.__name__ = fn.__qualname__ = f"complexity_{name.replace('-', '_')}"
    fn.__doc__ = f"PGDL complexity(model, dataset): genproof's measure {name!r} ({MEASURES.entry(name).description})."
    return fn
