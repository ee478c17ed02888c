"""genproof: claims of generalization theory in deep learning, as executable checks.

    from genproof import Network, Recipe, evaluate
    table = evaluate(Network(model, train=(x, y), test=(x_test, y_test)))

`Network` (`genproof.network`) is any trained `nn.Module` with its data; `evaluate` and `describe`
(`genproof.quantities`) compute and explain every registered quantity on it; `check`
(`genproof.claims`) checks a claim on your recipe and data.
"""

__version__ = "0.1.0"

from empirical.train import TrainConfig  # noqa: E402  (a recipe's training settings)

from .network import Network, Recipe  # noqa: E402
from .catalog import describe, evaluate  # noqa: E402

__all__ = ["Network", "Recipe", "TrainConfig", "describe", "evaluate"]
