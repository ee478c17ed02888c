"""PAC-Bayes certificates: bounds on the test error of a stochastic network Q.

- `kl`: the binary kl, its inversion and the kl-form bounds every certificate ends with;
- `dziugaite_roy`: Dziugaite & Roy 2017's certificate for a trained network (prior at the
  initialization, optimized Gaussian posterior; bound family "pac-bayes");
- `backprop`: the certificate of PAC-Bayes by backprop (Perez-Ortiz et al. 2021) on the record of
  its experiment, `empirical.pbb` (a prior learned on part of the training set or fixed at the
  initialization, posteriors trained with the one loop on the objectives of
  `empirical.pac_bayes_objectives`), and the bound family "pbb".
"""

from .kl import independent_mean_upper, kl_bernoulli, kl_bound, kl_inverse_upper, sample_error_upper
from .dziugaite_roy import (DziugaiteRoyObjective, GaussianPosterior, PacBayesResult, gaussian_kl, gaussian_kl_diag,
                            grid_bound, grid_delta, pac_bayes_bound)

__all__ = ["independent_mean_upper", "kl_bernoulli", "kl_bound", "kl_inverse_upper", "sample_error_upper",
           "DziugaiteRoyObjective", "GaussianPosterior", "PacBayesResult", "gaussian_kl", "gaussian_kl_diag",
           "grid_bound", "grid_delta", "pac_bayes_bound"]

from . import backprop  # noqa: E402,F401  registers the bound family "pbb" (the table orders families by catalog.TABLE_ORDER)
