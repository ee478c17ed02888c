"""Claims of zhang2017: Zhang, Bengio, Hardt, Recht, Vinyals, "Understanding deep learning
requires rethinking generalization", ICLR 2017. One module per part of the paper:

- `randomization`: Sections 2 and 3, the randomization tests and the ablation of the explicit
  regularizers;
- `capacity`: Section 2.4, the Rademacher complexity and the VC bound of a network that fits
  random labels;
- `memorization`: Section 4, the 2n+d network of Theorem 1 (finite-sample expressivity);
- `min_norm`: Section 5, SGD on linear models and minimum-norm kernel interpolation.

The networks these claims share with other sources' claims are in `genproof.claims.presets`;
`genproof.claims.all_claims` imports every module of this package. Where the checks differ from the
paper: docs/sources/zhang2017.md (`CARD`).
"""

CARD = "docs/sources/zhang2017.md"  # where these checks differ from the paper
