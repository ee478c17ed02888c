"""A compression certificate: the description length of a compressed network, turned into an
Occam (point-mass PAC-Bayes) bound on that network's test error.

The network certified is not the trained network of the bounds table: it is trained from the
same initialisation in a random subspace of dimension d and quantized (`empirical.subspace`),
theta = theta_0 + P w with w in a codebook of L levels, after Lotfi, Finzi, Kapoor, Potapczynski,
Goldblum, Wilson, "PAC-Bayes compression bounds so tight that they can explain generalization",
NeurIPS 2022.

**The code** (`message_length`). A decoder that knows, before any data, the architecture, the
seed (so theta_0 and P), the projection and this format reads, in order:

1. d, in Elias's gamma code (2 floor(log2 d) + 1 bits; prefix-free over the positive integers);
2. L, the number of levels, in the gamma code;
3. the codebook: L float16 values (16 L bits);
4. the level counts (n_1, ..., n_L), each >= 1 (a level no coordinate takes is dropped), summing to
   d: their index among the C(d - 1, L - 1) such compositions of d, in ceil(log2 C(d - 1, L - 1))
   bits;
5. the level of each coordinate: the index of the sequence among the d! / (n_1! ... n_L!)
   sequences with those counts (enumerative coding, Cover 1973, "Enumerative source encoding",
   IEEE Trans. Inf. Theory 19(1)), in ceil(log2 (d! / prod n_k!)) bits; the optimal code for the
   sequence given its counts, never longer than d H(n/d) bits, H the empirical entropy, so never
   longer than an arithmetic coder's output under the empirical frequencies;
6. for a network with batch norm, its running means and variances, 16 bits each (float16).

Each part is a fixed-length or prefix-free code given the parts before it, so the whole is a
prefix-free code over compressed networks, and by Kraft's inequality P(h) = sum over the messages
that decode to h of 2^-len >= 2^-len(h) is a prior (a sub-probability) fixed before the data.
Everything the decoder needs beyond the message is fixed before the data; the training procedure,
its steps and learning rates, and the choice of d and L after seeing the data cost nothing more
(d and L are in the message), but a seed chosen among several after seeing the data would have to be
paid for (log2 of their number). Counted exactly, in integer arithmetic (`math.comb`).

**The bound** (`occam_bound`), ours: with probability >= 1 - delta over n i.i.d. training examples,
for every h simultaneously,
    kl(err_S(h) || err_D(h)) <= (len(h) ln 2 + ln(1/delta)) / n,
so err_D(h) <= kl_inverse_upper(err_S(h), (len(h) ln 2 + ln(1/delta)) / n). Proof: for a fixed h
with err_D(h) = p, Chernoff's bound gives Pr[err_S(h) <= q] <= exp(-n kl(q || p)) for q <= p; give h
the confidence delta 2^-len(h) and take the union over h (the lengths satisfy Kraft's inequality).
This is the relative-entropy form of the Occam's razor bound (Langford 2005, "Tutorial on practical
prediction theory for classification", JMLR 6, Section 4) and the PAC-Bayes-kl bound with a point
mass posterior, whose KL to P is ln(1/P(h)) <= len(h) ln 2, without the ln(2 sqrt(n)) that a
posterior with a continuous support pays (Maurer 2004). Because it holds for every h at once, the
search over d (`doubling_search`) costs no confidence: the smallest certificate it finds holds at delta.

**Theirs** (`authors_bound`): Lotfi et al.'s released code's accounting on its default path, and
where it differs from ours: docs/sources/lotfi2022.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from scipy.optimize import minimize_scalar

from empirical.subspace import SubspaceConfig, compress

from .pac_bayes import kl_inverse_upper
from .network import Network
from .quantities import Bound, bound_family

SOURCE = ("Occam bound in kl form (Langford 2005, Section 4) on the description length of a subspace-trained, "
          "quantized network (Lotfi et al., NeurIPS 2022): kl(err_S || err_D) <= (len ln 2 + ln(1/delta)) / n")
FLOAT_BITS = 16  # codebook values and batch-norm statistics are float16
AUTHORS_CODEBOOK_BITS = 32  # Lotfi et al.'s fine-tuned codebook is float32 (`get_message_len`)


def elias_gamma_bits(k: int) -> int:
    """Length of Elias's gamma code of the positive integer k: 2 floor(log2 k) + 1 bits (floor(log2 k)
    zeros, then k in binary); a prefix-free code over k = 1, 2, ... (Elias 1975, IEEE Trans. Inf. Theory 21(2))."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"the gamma code encodes positive integers, got {k!r}")
    return 2 * (k.bit_length() - 1) + 1


def index_bits(count: int) -> int:
    """ceil(log2 count): the bits of a fixed-length index among `count` >= 1 equally coded objects
    (0 for a single one), exact for integers of any size."""
    if count < 1:
        raise ValueError(f"need at least one object to index, got {count}")
    return (count - 1).bit_length()


def multinomial(counts: list[int] | tuple[int, ...]) -> int:
    """d! / (n_1! ... n_L!), d = sum of the counts: the number of sequences with these level counts."""
    if any(not isinstance(c, int) or c < 0 for c in counts):
        raise ValueError(f"counts must be non-negative integers, got {counts}")
    out, total = 1, 0
    for c in counts:
        total += c
        out *= math.comb(total, c)
    return out


@dataclass(frozen=True)
class MessageLength:
    """The bits of each part of the message that describes a compressed network (see the module
    docstring); `total` is len(h)."""

    dim: int  # gamma code of d
    levels: int  # gamma code of L
    codebook: int  # 16 L
    counts: int  # index of the composition of d into L positive counts
    indices: int  # index of the level sequence among those with its counts
    batch_norm: int  # 16 bits per running statistic

    @property
    def total(self) -> int:
        return self.dim + self.levels + self.codebook + self.counts + self.indices + self.batch_norm


def message_length(counts: list[int] | tuple[int, ...], batch_norm_values: int = 0) -> MessageLength:
    """The code length of a compressed network whose d = sum(counts) coordinates take L = len(counts)
    levels, level k n_k times (every level used: n_k >= 1), with `batch_norm_values` running
    statistics carried at float16."""
    counts = [int(c) for c in counts]
    if not counts or min(counts) < 1:
        raise ValueError(f"counts must list how many coordinates take each level, each >= 1; got {counts}")
    if batch_norm_values < 0:
        raise ValueError(f"batch_norm_values must be >= 0, got {batch_norm_values}")
    d, levels = sum(counts), len(counts)
    return MessageLength(dim=elias_gamma_bits(d), levels=elias_gamma_bits(levels), codebook=FLOAT_BITS * levels,
                         counts=index_bits(math.comb(d - 1, levels - 1)),
                         indices=index_bits(multinomial(counts)), batch_norm=FLOAT_BITS * batch_norm_values)


def _check(train_error: float, bits: float, n: int, delta: float) -> None:
    if not 0 <= train_error <= 1 or bits < 0 or n < 1 or not 0 < delta < 1:
        raise ValueError(f"need train_error in [0, 1], bits >= 0, n >= 1 and delta in (0, 1); got "
                         f"train_error={train_error}, bits={bits}, n={n}, delta={delta}")


def occam_bound(train_error: float, bits: float, n: int, delta: float) -> float:
    """err_D(h) <= kl_inverse_upper(err_S(h), (bits ln 2 + ln(1/delta)) / n), with probability >= 1 - delta
    over the n training examples, for every h of a prefix-free code at once (`bits` = len(h))."""
    _check(train_error, bits, n, delta)
    return kl_inverse_upper(train_error, (bits * math.log(2) + math.log(1 / delta)) / n)


def authors_bound(train_error: float, counts: list[int] | tuple[int, ...], n: int, delta: float,
                  levels: int | None = None, alpha: float = 1e-4) -> tuple[float, float]:
    """Lotfi et al.'s accounting of the same network, as their default code path computes it (module
    docstring): returns (bound, prefix_bits), prefix_bits = l + 2 log2 l with
    l = ceil(d H) + 1 + 32 L + L ceil(log2 d), L = `levels` (their codebook's length, unused levels
    included; default: len(counts))."""
    d, levels = sum(counts), levels or len(counts)
    if levels < len(counts):
        raise ValueError(f"the codebook has at least the {len(counts)} levels used, got levels={levels}")
    entropy = -sum(c / d * math.log2(c / d) for c in counts if c)
    length = math.ceil(d * entropy) + 1 + AUTHORS_CODEBOOK_BITS * levels + levels * math.ceil(math.log2(d))
    prefix = length + 2 * math.log2(length)
    _check(train_error, prefix, n, delta)
    kl = prefix * math.log(2)

    def catoni(t: float) -> float:
        g = math.exp(t)
        q = train_error + (1 + alpha) / g * (kl - math.log(delta) + 2 * math.log(2 + t / math.log1p(alpha)))
        return math.expm1(-g / n * q) / math.expm1(-g / n)

    best = minimize_scalar(catoni, bounds=(0.0, math.log(n) + 4), method="bounded")
    return min(float(best.fun), 1.0), prefix


@dataclass(frozen=True)
class CompressionResult:
    """The certificate of one compressed network and what it was computed from: with probability
    >= 1 - delta, the test error of the compressed network is at most `bound`."""

    bound: float
    bits: int  # len(h), the whole message
    message: dict  # the bits of each part (`MessageLength`)
    train_error: float  # of the compressed network, on the n training examples
    test_error: float  # of the compressed network (not part of the bound)
    n: int
    delta: float
    dim: int
    levels: int  # levels used (the codebook's length)
    levels_asked: int
    n_params: int  # D, the network's parameters
    subspace_train_error: float  # before quantization
    subspace_test_error: float
    authors_bound: float  # Lotfi et al.'s accounting of the same network (`authors_bound`, their default path)
    authors_bits: float
    wall_s: float  # training, quantization and evaluation of the compressed network
    run: str  # the subspace record


def certify(record, delta: float) -> CompressionResult:
    """The compression certificate of a `empirical.subspace.compress` record at confidence 1 - delta."""
    s = record.summary
    message = message_length(s["counts"], s["batch_norm_values"])
    authors, authors_bits = authors_bound(s["train_error"], s["counts"], s["n_train"], delta, levels=s["levels"])
    return CompressionResult(
        bound=occam_bound(s["train_error"], message.total, s["n_train"], delta), bits=message.total,
        message=asdict(message), train_error=s["train_error"], test_error=s["test_error"], n=s["n_train"],
        delta=delta, dim=s["dim"], levels=len(s["counts"]), levels_asked=s["levels"], n_params=s["n_params"],
        subspace_train_error=s["subspace_train_error"], subspace_test_error=s["subspace_test_error"],
        authors_bound=authors, authors_bits=authors_bits, wall_s=s["wall_s"], run=str(record.path))


FIRST_DIM = 100  # the smallest subspace tried: its description costs a few hundred bits
MAX_RUNS = 5  # subspaces of 100, 200, 400, 800 and 1600 coordinates at most


def subspace_config(net: Network) -> SubspaceConfig:
    """The compressed counterpart of the trained network `net`: its recipe's architecture, data,
    corruption and seed (so the same theta_0), trained on the recipe's device, with
    `SubspaceConfig`'s defaults otherwise (its `dim` is set by `doubling_search`)."""
    c = net.fit_config
    default = SubspaceConfig()
    return SubspaceConfig(data=c.data, model=c.model, corruption=c.corruption, seed=c.seed,
                          train=replace(default.train, device=c.train.device))


def doubling_search(base: SubspaceConfig, n_params: int, root, delta: float) -> list[CompressionResult]:
    """Certificates of the compressed networks `base` with d = 100, 200, 400, ... coordinates (at
    most `n_params`, the network's D, and `MAX_RUNS` runs), stopping at the first d whose certificate
    is no better than the best before it; each run cached under `root`. Searching over d costs no
    confidence: d is in the message, and the bound holds for every message at once."""
    results: list[CompressionResult] = []
    dim = min(FIRST_DIM, n_params)
    while dim <= n_params and len(results) < MAX_RUNS:
        result = certify(compress(replace(base, dim=dim), root), delta)
        improves = not results or result.bound < min(r.bound for r in results)
        results.append(result)
        if not improves:
            break
        dim *= 2
    return results


@bound_family("compression", "Occam bound on a quantized subspace network's description length (Lotfi et al. 2022)",
              kinds=("compressed",), source=SOURCE, cost="training", needs=("loop",),
              cost_detail="2 to 5 trainings of a compressed network (6,000 steps each) with d = 100, 200, 400, ... "
                          "subspace coordinates", default=False,
              limitations="certifies a compressed network trained in a random subspace of the architecture, not the "
                          "trained network", card="docs/sources/lotfi2022.md")
def bound_rows(net: Network, delta: float = 0.05) -> list[Bound]:
    """The compression row of the bounds table: with probability >= 1 - delta, an upper bound on the
    test error of a compressed network (kind "compressed"): the network of the table's architecture
    and initialisation trained in the subspace whose certificate is the smallest of the doubling search
    (`doubling_search`), quantized to 5 levels. Its own training and test errors are the row's; the
    trained network of the table is not what it certifies. Batch norm is supported: the message carries
    the running statistics (16 bits each). `detail` holds every subspace tried."""
    results = doubling_search(subspace_config(net), net.summary["n_params"], net.root, delta)
    best = min(results, key=lambda r: r.bound)
    return [Bound(name=(f"Occam bound on a compressed network, not the trained one (d={best.dim}, {best.levels} "
                        f"levels, {best.bits} bits)"), source=SOURCE, value=best.bound, kind="compressed",
                  delta=delta, train_error=best.train_error, test_error=best.test_error,
                  detail={**asdict(best), "tried": [{"dim": r.dim, "bound": r.bound, "bits": r.bits,
                                                     "train_error": r.train_error, "test_error": r.test_error}
                                                    for r in results],
                          "trained_network_test_error": net.summary["test_error"]})]
