import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from empirical.fit import DataConfig
from empirical.models import ModelConfig, build, build_encoder
from empirical.sss import (SSL_TRAIN, ProbeConfig, RepresentationConfig, SSLConfig, SSSConfig, fit_probe, fit_sss,
                           learn_representation, nt_xent, predictions, quantize, view)

TINY = RepresentationConfig(DataConfig("digits", n_train=200, n_test=100),
                            ModelConfig("mlp", width=32, depth=2, features=8), SSLConfig(train=replace(SSL_TRAIN, max_steps=20, batch_size=64)))


def naive_nt_xent(z1, z2, t):
    """Chen et al. 2020, eq. 1, one anchor at a time."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2, n = len(z), len(z1)
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        others = [k for k in range(n2) if k != i]
        denominator = sum(math.exp(float(z[i] @ z[k]) / t) for k in others)
        total += -math.log(math.exp(float(z[i] @ z[j]) / t) / denominator)
    return total / n2


def test_nt_xent_matches_the_per_anchor_formula():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    assert nt_xent(z1, z2, 0.5).item() == pytest.approx(naive_nt_xent(z1, z2, 0.5), rel=1e-5)


def test_nt_xent_closed_form_for_identical_views_of_orthogonal_points():
    # views equal, points orthonormal: positive similarity 1, the other 2n - 2 views 0.
    n, t = 4, 0.5
    z = torch.eye(n)
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * n - 2))
    assert nt_xent(z, z.clone(), t).item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="matching"):
        nt_xent(z, torch.eye(n + 1), t)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_quantize_uses_at_most_2_to_the_bits_levels_and_bounded_error(bits):
    theta = np.random.default_rng(bits).standard_normal(500)
    q = quantize(theta, bits)
    levels = np.unique(np.round(q, 12))
    assert len(levels) <= 2 ** bits
    s = np.abs(q).max()  # the chosen clip
    step = 2 * s / (2 ** bits - 1)
    inside = np.abs(theta) <= s
    assert np.all(np.abs(q - theta)[inside] <= step / 2 + 1e-12)
    # the levels are the uniform grid -s + k * step
    k = (levels + s) / step
    assert np.allclose(k, np.round(k))
    assert np.array_equal(quantize(np.zeros(3), bits), np.zeros(3))


def test_quantize_never_loses_to_the_unclipped_grid():
    theta = np.random.default_rng(1).standard_t(2, 1000)  # heavy tails: clipping pays
    s = np.abs(theta).max()
    unclipped = (2 * np.clip(np.rint((theta / s + 1) / 2 * 15), 0, 15) / 15 - 1) * s
    assert ((quantize(theta, 4) - theta) ** 2).sum() <= ((unclipped - theta) ** 2).sum()


def test_description_bits_closed_form():
    assert ProbeConfig(bits=4).description_bits(32, 10) == 33 * 10 * 4 + 32
    assert ProbeConfig().description_bits(32, 10) == 33 * 10 * 32
    with pytest.raises(ValueError, match="bits"):
        ProbeConfig(bits=0)


def test_probe_fits_separable_features_and_never_predicts_an_absent_class():
    rng = np.random.default_rng(0)
    centres = 10 * np.eye(4)[:3]
    f = np.concatenate([c + rng.standard_normal((30, 4)) for c in centres])
    y = np.repeat([0, 2, 3], 30)  # class 1 absent
    probe = fit_probe(f, y, ProbeConfig(), num_classes=4)
    assert (probe.predict(f) == y).all()
    assert 1 not in probe.predict(rng.standard_normal((200, 4)) * 20)
    two = fit_probe(f[:60], np.repeat([0, 1], 30), ProbeConfig(), num_classes=2)  # scikit-learn's binary case
    assert (two.predict(f[:60]) == np.repeat([0, 1], 30)).all()
    assert (probe.quantized(8).predict(f) == y).mean() > 0.95


def test_encoder_is_the_model_without_its_head():
    config = ModelConfig("mlp", width=16, depth=2, features=6)
    encoder, dim = build_encoder(config, (1, 8, 8), seed=3)
    model = build(config, (1, 8, 8), 10, seed=3)
    x = torch.randn(5, 1, 8, 8)
    assert dim == 6 and encoder(x).shape == (5, 6)
    assert torch.allclose(model.net[-1](encoder(x)), model(x))
    for name in ("cnn", "resnet18"):
        enc, d = build_encoder(ModelConfig(name, channels=8), (1, 8, 8))
        assert enc(x).shape == (5, d)
    with pytest.raises(ValueError, match="bottleneck"):
        build(ModelConfig("cnn", features=4), (1, 8, 8), 10)


def test_views_are_random_and_keep_the_shape():
    x = torch.randn(7, 1, 40)
    g = torch.Generator().manual_seed(0)
    a, b = view(x, g, SSLConfig()), view(x, g, SSLConfig())
    assert a.shape == x.shape and not torch.equal(a, b)


def test_ssl_config_refuses_bad_values_by_name():
    with pytest.raises(ValueError, match="method"):
        SSLConfig(method="byol")
    with pytest.raises(ValueError, match="batch_size"):
        SSLConfig(train=replace(SSL_TRAIN, batch_size=1))
    with pytest.raises(ValueError, match="stop_at_fit=False and augment='none'"):
        SSLConfig(train=replace(SSL_TRAIN, augment="crop"))
    with pytest.raises(ValueError, match="temperature"):
        SSLConfig(temperature=0.0)
    with pytest.raises(ValueError, match="scale"):
        SSLConfig(scale=1.5)


@pytest.mark.parametrize("method", ["simclr", "autoencoder"])
def test_representation_is_label_free_and_shared_by_clean_and_noisy_fits(tmp_path, method):
    rep = RepresentationConfig(TINY.data, TINY.model, SSLConfig(method=method, train=TINY.ssl.train))
    clean = fit_sss(SSSConfig(rep, ProbeConfig(bits=4), "true", 0), tmp_path)
    noisy = fit_sss(SSSConfig(rep, ProbeConfig(bits=4), "labels:0.3", 0), tmp_path)
    assert clean.summary["representation_run"] == noisy.summary["representation_run"]
    assert len(list(tmp_path.glob("representation-*"))) == 1
    s = noisy.summary
    assert s["corrupted_fraction"] == pytest.approx(0.3) and s["description_bits"] == 9 * 10 * 4 + 32
    pred_train, pred_test = predictions(noisy)
    assert pred_train.shape == (200,) and pred_test.shape == (100,)
    record = learn_representation(rep, tmp_path)
    assert {"encoder.pt", "metrics.jsonl", "loss.png", "summary.json"} <= {p.name for p in record.path.iterdir()}
    assert np.isfinite(record.summary["final_loss"])


def test_simclr_features_beat_the_untrained_encoder(tmp_path):
    """A sanity check that stage 1 learns: a probe on SimCLR features of digits (500 steps) is more
    accurate on held-out digits than on the features of the same encoder at initialisation."""
    data = DataConfig("digits")
    model = ModelConfig("mlp", width=128, depth=2, features=16)
    trained = fit_sss(SSSConfig(RepresentationConfig(data, model, SSLConfig(train=replace(SSL_TRAIN, max_steps=500))), ProbeConfig()), tmp_path)
    untrained = fit_sss(SSSConfig(RepresentationConfig(data, model, SSLConfig(train=replace(SSL_TRAIN, max_steps=1, lr=1e-12))), ProbeConfig()),
                        tmp_path)
    assert trained.summary["test_acc"] > untrained.summary["test_acc"]


def test_colour_jitter_moves_each_channel_by_an_affine_map():
    x = torch.randn(4, 3, 8, 8)
    plain = view(x, torch.Generator().manual_seed(0), SSLConfig(scale=0.0, noise=0.0))
    jittered = view(x, torch.Generator().manual_seed(0), SSLConfig(color=0.4, scale=0.0, noise=0.0))  # same crops
    p, j = plain.flatten(2), jittered.flatten(2)
    pc, jc = p - p.mean(2, keepdim=True), j - j.mean(2, keepdim=True)
    slope = (pc * jc).sum(2) / (pc ** 2).sum(2)
    fitted = j.mean(2, keepdim=True) + slope[..., None] * pc
    assert torch.allclose(fitted, j, atol=1e-5)  # per example and channel, an affine map of the plain view
    assert ((slope - 1).abs() <= 0.4 + 1e-6).all() and not torch.allclose(slope, torch.ones_like(slope))
    with pytest.raises(ValueError, match="color"):
        SSLConfig(color=1.0)
