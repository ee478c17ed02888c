"""genproof.compression: the code lengths against brute-force counts and an arithmetic coder written
here, the bound against a kl inversion done here with scipy, and the certificate of a record."""

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest
from scipy.optimize import brentq

from empirical.records import Record
from genproof import catalog  # noqa: F401  registers every quantity
from genproof.compression import (CompressionResult, authors_bound, certify, elias_gamma_bits, index_bits,
                                  message_length, multinomial, occam_bound)


def gamma_codeword(k: int) -> str:
    """Elias's gamma code written out: floor(log2 k) zeros, then k in binary."""
    binary = bin(k)[2:]
    return "0" * (len(binary) - 1) + binary


def test_gamma_code_lengths_and_prefix_free():
    words = [gamma_codeword(k) for k in range(1, 300)]
    assert [len(w) for w in words] == [elias_gamma_bits(k) for k in range(1, 300)]
    assert not any(a != b and b.startswith(a) for a in words for b in words)
    with pytest.raises(ValueError, match="positive integers"):
        elias_gamma_bits(0)


def test_index_bits_exact():
    assert [index_bits(c) for c in (1, 2, 3, 4, 5, 2 ** 70, 2 ** 70 + 1)] == [0, 1, 2, 2, 3, 70, 71]


@pytest.mark.parametrize("d, levels", [(1, 1), (4, 2), (5, 3), (6, 3), (7, 4)])
def test_counts_and_sequences_brute_force(d, levels):
    """Every sequence of d levels taking all L levels, grouped by its counts: the groups are the
    C(d - 1, L - 1) compositions of d into positive parts, each of multinomial(counts) sequences, and
    the two-part code (composition index, then sequence index) satisfies Kraft's inequality."""
    groups = Counter(tuple(Counter(s)[k] for k in range(levels))
                     for s in itertools.product(range(levels), repeat=d) if len(set(s)) == levels)
    assert len(groups) == math.comb(d - 1, levels - 1)
    assert all(size == multinomial(list(counts)) for counts, size in groups.items())
    lengths = {counts: message_length(list(counts)) for counts in groups}
    kraft = sum(size * 2.0 ** -(lengths[c].counts + lengths[c].indices) for c, size in groups.items())
    assert kraft <= 1
    assert all(m.total == m.dim + m.levels + m.codebook + m.counts + m.indices + m.batch_norm for m in lengths.values())


def test_whole_code_satisfies_kraft():
    """Sum of 2^-len over every message with d <= 14 (every codebook: 2^(16 L) of them, each 16 L bits;
    the compositions of d into L positive parts from their L - 1 cut points)."""
    total = 0.0
    for d in range(1, 15):
        for levels in range(1, d + 1):
            for cuts in itertools.combinations(range(1, d), levels - 1):
                counts = [b - a for a, b in zip((0,) + cuts, cuts + (d,))]
                m = message_length(counts)
                sequences = multinomial(counts)
                total += sequences * 2.0 ** -(m.dim + m.levels + m.counts + m.indices)  # codebooks: 2^16L x 2^-16L
    assert 0 < total <= 1


def arithmetic_code(seq, counts):
    """An arithmetic coder in exact arithmetic under the static model p_k = n_k / d: the shortest dyadic
    interval [m 2^-k, (m + 1) 2^-k) inside the sequence's interval; the codeword is m in k bits. Returns
    (m, k) and the interval's width, prod p(s_i)."""
    d = sum(counts)
    cum = [sum(counts[:k]) for k in range(len(counts) + 1)]
    low, width = Fraction(0), Fraction(1)
    for s in seq:
        low += width * Fraction(cum[s], d)
        width *= Fraction(counts[s], d)
    k = 0
    while True:
        m = math.ceil(low * 2 ** k)
        if Fraction(m + 1, 2 ** k) <= low + width:
            return m, k, width
        k += 1


def arithmetic_decode(m, k, counts):
    d = sum(counts)
    cum = [sum(counts[:j]) for j in range(len(counts) + 1)]
    x, low, width, out = Fraction(m, 2 ** k), Fraction(0), Fraction(1), []
    for _ in range(d):
        s = max(j for j in range(len(counts)) if low + width * Fraction(cum[j], d) <= x)
        out.append(s)
        low += width * Fraction(cum[s], d)
        width *= Fraction(counts[s], d)
    return out


@pytest.mark.parametrize("d, levels, seed", [(30, 3, 0), (50, 5, 1), (64, 4, 2), (40, 2, 3)])
def test_enumerative_length_never_above_an_arithmetic_coder(d, levels, seed):
    import random

    rng = random.Random(seed)
    weights = [rng.random() ** 2 + 0.05 for _ in range(levels)]
    seq = list(range(levels)) + rng.choices(range(levels), weights, k=d - levels)  # every level taken
    rng.shuffle(seq)
    counts = [seq.count(k) for k in range(levels)]
    m, k, width = arithmetic_code(seq, counts)
    assert arithmetic_decode(m, k, counts) == seq
    empirical_entropy_bits = -math.log2(width)  # = d H(counts / d)
    assert k <= math.ceil(empirical_entropy_bits) + 1
    ours = message_length(counts).indices
    assert ours == math.ceil(math.log2(multinomial(counts)) - 1e-12)
    assert ours <= k
    assert ours <= math.ceil(empirical_entropy_bits)


def test_message_parts_hand_values():
    m = message_length([3, 1], batch_norm_values=2)
    # d = 4: gamma 5 bits; L = 2: gamma 3 bits; codebook 32; C(3, 1) = 3 compositions: 2 bits;
    # 4!/(3! 1!) = 4 sequences: 2 bits; two float16 statistics: 32 bits
    assert (m.dim, m.levels, m.codebook, m.counts, m.indices, m.batch_norm) == (5, 3, 32, 2, 2, 32)
    assert m.total == 76
    with pytest.raises(ValueError, match="each >= 1"):
        message_length([3, 0])


def kl_inverse_scipy(q, c):
    """sup{p : kl(q || p) <= c}, solved here with brentq on kl(q || p) - c over (q, 1)."""
    def f(p):
        out = -c
        if q > 0:
            out += q * math.log(q / p)
        if q < 1:
            out += (1 - q) * math.log((1 - q) / (1 - p))
        return out
    return brentq(f, q + 1e-15, 1 - 1e-15, xtol=1e-14)


@pytest.mark.parametrize("train_error, bits, n, delta", [(0.1, 1000, 10_000, 0.05), (0.16, 2400, 60_000, 0.05),
                                                         (0.07, 552, 1437, 0.05), (0.7, 300, 5000, 0.01)])
def test_occam_bound_against_independent_kl_inversion(train_error, bits, n, delta):
    c = (bits * math.log(2) + math.log(1 / delta)) / n
    assert occam_bound(train_error, bits, n, delta) == pytest.approx(kl_inverse_scipy(train_error, c), abs=1e-9)


def test_occam_bound_zero_error_closed_form():
    # kl(0 || p) = -ln(1 - p): p = 1 - exp(-c), c = (100 ln 2 + ln 20) / 1000
    expected = 1 - math.exp(-(100 * math.log(2) + math.log(20)) / 1000)
    assert occam_bound(0.0, 100, 1000, 0.05) == pytest.approx(expected, abs=1e-15)
    assert occam_bound(0.0, 100, 1000, 0.05) == pytest.approx(0.069758, abs=1e-6)  # 1 - exp(-0.072310)
    with pytest.raises(ValueError, match="delta"):
        occam_bound(0.1, 100, 1000, 1.5)


@pytest.mark.parametrize("train_error, counts, n", [(0.1, [300, 400, 250, 40, 10], 60_000),
                                                    (0.07, [60, 70, 50, 20], 1437), (0.3, [100] * 7, 5000)])
def test_authors_accounting_and_ours(train_error, counts, n):
    bound, prefix = authors_bound(train_error, counts, n, 0.05)
    d, levels = sum(counts), len(counts)
    entropy = -sum(c / d * math.log2(c / d) for c in counts)
    # their default (fine-tuned) path: float32 centroids, 32 bits a level (get_message_len)
    length = math.ceil(d * entropy) + 1 + 32 * levels + levels * math.ceil(math.log2(d))
    assert prefix == pytest.approx(length + 2 * math.log2(length), abs=1e-12)
    # their Catoni form at one g (t = 8) by hand: the minimum is no higher
    kl, t, a = prefix * math.log(2), 8.0, 1e-4
    q = train_error + (1 + a) / math.exp(t) * (kl + math.log(20) + 2 * math.log(2 + t / math.log1p(a)))
    at_t = (1 - math.exp(-math.exp(t) / n * q)) / (1 - math.exp(-math.exp(t) / n))
    assert bound <= at_t + 1e-12
    # Catoni's bound is above the kl-inverse at the same complexity, and their length above ours
    assert bound >= kl_inverse_scipy(train_error, (kl + math.log(20)) / n)
    assert message_length(counts).total <= prefix
    assert bound >= occam_bound(train_error, message_length(counts).total, n, 0.05)


def test_authors_codebook_counts_unused_levels_at_32_bits():
    # counts (60, 70, 50, 20) out of a 5-level codebook: H of (0.3, 0.35, 0.25, 0.1), d = 200, so
    # l = ceil(200 H) + 1 + 32 * 5 + 5 * ceil(log2 200) = 377 + 1 + 160 + 40 = 578 (200 H = 376.68)
    entropy = -sum(p * math.log2(p) for p in (0.3, 0.35, 0.25, 0.1))
    assert math.ceil(200 * entropy) == 377
    _, prefix = authors_bound(0.07, [60, 70, 50, 20], 1437, 0.05, levels=5)
    assert prefix == pytest.approx(578 + 2 * math.log2(578), abs=1e-12)
    with pytest.raises(ValueError, match="at least the 4 levels used"):
        authors_bound(0.07, [60, 70, 50, 20], 1437, 0.05, levels=3)


def test_certify_a_record(tmp_path):
    summary = {"counts": [60, 70, 50, 20], "batch_norm_values": 0, "train_error": 0.07, "test_error": 0.1,
               "n_train": 1437, "dim": 200, "levels": 5, "n_params": 38410, "subspace_train_error": 0.02,
               "subspace_test_error": 0.06, "wall_s": 1.0}
    result = certify(Record(tmp_path, {}, summary), 0.05)
    assert isinstance(result, CompressionResult)
    bits = message_length([60, 70, 50, 20]).total
    assert result.bits == bits and result.levels == 4 and result.levels_asked == 5
    assert result.bound == pytest.approx(kl_inverse_scipy(0.07, (bits * math.log(2) + math.log(20)) / 1437), abs=1e-9)
    assert result.test_error == 0.1 and result.train_error == 0.07
    assert result.authors_bits == authors_bound(0.07, [60, 70, 50, 20], 1437, 0.05, levels=5)[1]


def test_family_row_is_the_best_of_a_doubling_search(tmp_path, monkeypatch):
    from functools import partial

    from empirical.fit import DataConfig, FitConfig
    from empirical.models import ModelConfig
    from empirical.subspace import SubspaceConfig
    from empirical.train import TrainConfig
    from genproof import compression
    from genproof.network import Network
    from genproof.quantities import BOUND_FAMILIES, table_row

    fit = FitConfig(DataConfig("digits", n_train=200, n_test=100), ModelConfig("mlp", width=64),
                    TrainConfig(lr=0.1, batch_size=50, max_steps=50, device="cpu"))
    net = Network.from_fit(fit, tmp_path)
    tiny = TrainConfig(optimizer="adam", lr=0.05, max_steps=40, stop_at_fit=False, eval_every=20, progress=False)
    monkeypatch.setattr(compression, "SubspaceConfig", partial(SubspaceConfig, train=tiny, quant_steps=10))
    family = BOUND_FAMILIES.get("compression")
    assert not family.default and family.reason(net) is None
    (row,) = family.compute(net, 0.05, 0)
    tried = row.detail["tried"]
    dims = [t["dim"] for t in tried]
    assert dims == [100 * 2 ** k for k in range(len(dims))]
    # it stops at the first d no better than the best before it, or after MAX_RUNS
    assert len(dims) == compression.MAX_RUNS or tried[-1]["bound"] >= min(t["bound"] for t in tried[:-1])
    assert all(t["bound"] < min(u["bound"] for u in tried[:i]) for i, t in enumerate(tried[:-1]) if i)
    best = min(tried, key=lambda t: t["bound"])
    assert row.kind == "compressed" and row.delta == 0.05 and row.value == best["bound"]
    assert (row.train_error, row.test_error) == (best["train_error"], best["test_error"])
    assert row.value == pytest.approx(occam_bound(row.train_error, best["bits"], 200, 0.05), abs=1e-12)
    assert "not the trained one" in row.name and f"d={best['dim']}" in row.name
    assert row.detail["run"].startswith(str(tmp_path)) and row.detail["n"] == 200
    table = table_row("compression", row, 0.0, net.summary["test_error"], 10)
    assert table["test_error"] == row.test_error and table["implied_gap"] == pytest.approx(row.value - row.train_error)
