"""Your network, your data: a network defined and trained in plain PyTorch, then judged by genproof.

Everything above the line "genproof from here on" is an ordinary training script that knows nothing
of genproof. Below it, genproof takes the trained module, its initialization, the data as arrays and
a recipe to train the architecture again, prints the table of bounds and measures, and checks two
claims on the same recipe and data.

    python examples/your_network.py [--out DIR]
"""

import argparse
import copy

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn


def factory(input_shape, num_classes):
    """Your architecture: called as factory(input_shape, num_classes)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), 512), nn.ReLU(),
                         nn.Linear(512, num_classes))


def your_training(model, x, y, epochs=30, batch_size=128):
    """Your loop: SGD with momentum on shuffled minibatches."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="record root for genproof's runs (default: genproof's cache)")
    args = parser.parse_args(argv)

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = (x[order[:1400]], y[order[:1400]]), (x[order[1400:]], y[order[1400:]])
    torch.manual_seed(0)
    init = factory(x.shape[1:], 10)
    model = your_training(copy.deepcopy(init), *train)

    # ---- genproof from here on --------------------------------------------------------------
    from genproof import Network, Recipe, TrainConfig, evaluate
    from genproof.claims import check

    recipe = Recipe(factory, TrainConfig(lr=0.1, momentum=0.9, batch_size=128, max_steps=6000, device="cpu"))
    net = Network(model, train, test, init=init, recipe=recipe, root=args.out)
    print(net)
    print(evaluate(net, ["vc", "norms", "dist-init", "pacbayes-flatness"]).markdown())
    verdicts = [check(claim, recipe, data=(train, test), root=args.out)
                for claim in ("zhang2017.random-labels", "neyshabur2017.norms-grow-with-random-labels")]
    for verdict in verdicts:
        print(verdict.explain())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
