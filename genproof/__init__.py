"""genproof: claims of generalization theory in deep learning, as executable checks."""

__version__ = "0.1.0"
