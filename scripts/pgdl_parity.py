"""Parity of genproof.pgdl.score with the PGDL competition's own scoring function.

    python scripts/pgdl_parity.py PATH/TO/scoring_program/mutual_information.py

PATH is the starting kit's file (not in this repository: the competition's starting kit, as
mirrored at github.com/cadurosar/pgdl). On random complete grids of one network per setting (two
and three hyperparameters, 8 to 48 networks), with ties in the gaps and the measures, it calls
their `conditional_mutual_information(prediction, model_specs)` and ours on the same numbers and
prints both and the largest difference. With two hyperparameters and one network per setting every
cell holds one pair and the gap's box has no entropy: their score is 0 / (a sum of -1e-12 terms from
their epsilon), -0.0, and ours None; the script prints both and leaves them out of the difference. Their function is called on their input format:
model_specs[mid] = {"hparams": {h: {"current_value": v, "possible_values": [...]}},
"metrics": {"train_acc": ..., "test_acc": ...}}, prediction[mid] = the measure.
"""

import importlib.util
import itertools
import random
import sys

from genproof.pgdl import score

DESIGNS = [{"depth": [6, 9, 12], "dropout": [0.0, 0.5]},
           {"depth": [6, 9, 12], "dropout": [0.0, 0.5], "wd": [0.0, 0.001]},
           {"depth": [6, 9], "dropout": [0.0, 0.25], "batch": [32, 512]},
           {"width": [256, 512], "wd": [0.0, 0.001], "lr": [0.1, 0.01], "depth": [2, 3, 4]},
           {"a": [1, 2], "b": ["x", "y", "z"], "c": [0.5, 1.5]}]


def load(path: str):
    spec = importlib.util.spec_from_file_location("pgdl_mutual_information", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.conditional_mutual_information


def design(values: dict, rng: random.Random, ties: bool):
    settings = [dict(zip(values, v)) for v in itertools.product(*values.values())]
    levels = 4 if ties else 10 ** 6  # ties: four distinct values among many networks
    train = [1.0] * len(settings)
    test = [rng.randrange(levels) / levels for _ in settings]
    measure = [rng.randrange(levels) / levels + 0.3 * (1 - t) for t in test]
    return settings, measure, train, test


def main(path: str) -> int:
    theirs_fn = load(path)
    rng = random.Random(0)
    worst = 0.0
    for i, values in enumerate(DESIGNS):
        for trial, ties in itertools.product(range(3), (False, True)):
            settings, measure, train, test = design(values, rng, ties)
            specs = {f"model_{k}": {"hparams": {h: {"current_value": s[h], "possible_values": values[h]} for h in values},
                                    "metrics": {"train_acc": a, "test_acc": t}}
                     for k, (s, a, t) in enumerate(zip(settings, train, test))}
            prediction = {f"model_{k}": m for k, m in enumerate(measure)}
            theirs = theirs_fn(prediction, specs)
            ours = score(settings, measure, [a - t for a, t in zip(train, test)], list(values))["score"]
            head = (f"design {i} ({len(settings)} networks, {len(values)} hyperparameters), trial {trial}, "
                    f"ties {ties}: theirs {theirs:.12f}")
            if ours is None:  # every cell holds one pair: no entropy; theirs divides 0 by -1e-12 (their epsilon)
                print(f"{head} ours None (no cell has two pairs)")
                continue
            worst = max(worst, abs(theirs - ours))
            print(f"{head} ours {ours:.12f}")
    print(f"largest difference: {worst:.3g}")
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
