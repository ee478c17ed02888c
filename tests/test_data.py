"""The data set registry: splits, subsets, procedural streams, file formats, downloads and their errors.

No test touches the internet: downloads are served from a local `http.server` on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import io
import os
import pickle
import random
import socket
import subprocess
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from empirical.data import DATASETS, NAMES, POOLS, SAMPLABLE, DataFormatError, DataNotFoundError, load, missing, sample
from empirical.data import cifar10, fashion_mnist, files, mnist_1d
from empirical.data.dataset import Arrays
from empirical.data.sampling import balanced_indices, generator
from empirical.data.synthetic import gaussian_mixture_means, teacher_logits

CIFAR_SUBSET = Path(__file__).resolve().parents[1].parent / "shared/data/cifar10-subset"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = tuple(fashion_mnist.MD5)


# ---------------------------------------------------------------- helpers


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $GENPROOF_DATA, no system copies, an empty download cache, no proxies: only what a test writes exists
    (and the download, which these tests serve locally, is allowed even where $GENPROOF_DATA_BARE hides it)."""
    monkeypatch.delenv(files.ENV_VAR, raising=False)
    monkeypatch.delenv(files.BARE_ENV, raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(files, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(fashion_mnist, "LAYOUT", dataclasses.replace(fashion_mnist.LAYOUT, system_dirs=()))
    return tmp_path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def web(tmp_path):
    """A local web server: (folder it serves, its base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/x"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def fake_fashion(folder: Path, n_train: int = 30, n_test: int = 20, gz: bool = True) -> dict[str, np.ndarray]:
    """Four small IDX files in `folder`; returns the arrays written."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for name, array in arrays.items():
        write_idx(folder / (f"{name}.gz" if gz else name), array)
    return arrays


def fake_cifar(folder: Path, per_batch: int = 8) -> dict[str, dict]:
    """A small `cifar-10-batches-py` folder written the way the official one is; returns the batches."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in (*cifar10.TRAIN_FILES, cifar10.TEST_FILE):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        batch = {"data": data, "labels": [int(v) for v in rng.integers(0, 10, per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        batches[name] = batch
    return batches


def tarball_of(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x.reshape(len(x), -1)}


# ---------------------------------------------------------------- registry


def test_registry_lists_every_data_set_once_in_the_table_order():
    assert DATASETS.kind == "data set"
    assert DATASETS.names()[:len(NAMES)] == NAMES == ("digits", "mnist1d", "fashion-mnist", "cifar10",
                                                      "gaussian-mixture", "teacher", "cifar5m")
    # after the built-ins, only the tensors other tests handed to genproof in this session (add_tensors)
    assert all(name.startswith("tensors-") for name in DATASETS.names()[len(NAMES):])
    listing = DATASETS.describe().splitlines()
    assert all(line.split()[0] == name for line, name in zip(listing, NAMES))
    assert all(DATASETS.get(name).num_classes == 10 for name in NAMES)
    assert SAMPLABLE == tuple(e.name for e in DATASETS if e.factory.procedural is not None)
    assert POOLS == tuple(e.name for e in DATASETS if e.factory.pool) == ("fashion-mnist", "cifar5m")


def test_only_a_fixed_data_set_is_a_pool():
    from empirical.data.registry import Source

    with pytest.raises(ValueError, match="only a fixed one is a pool"):
        Source(10, DATASETS.get("teacher").read, DATASETS.get("teacher").procedural, pool=True)


def test_a_registered_data_set_is_loaded_by_name(monkeypatch):
    """Adding a data set is one registration: `load` and `sample` find it by name."""
    from empirical.data.registry import Source, _procedural
    from empirical.data.synthetic import TEACHER
    from empirical.registry import Registry

    reg = Registry("data set")
    reg.add("tiny", Source(2, lambda n_train, n_test, data_dir, download: Arrays(
        np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]), np.ones((2, 3), np.float32), np.array([1, 0]))),
        "four examples of two classes")
    reg.add("teacher", _procedural(TEACHER), "the teacher, again")
    monkeypatch.setattr("empirical.data.registry.DATASETS", reg)
    ds = load("tiny")
    assert (ds.n_train, ds.n_test, ds.num_classes) == (4, 2, 2)
    assert sample("teacher", 5, seed=0)[0].shape == (5, 20)
    with pytest.raises(ValueError, match="unknown data set 'digits'; known: tiny, teacher"):
        load("digits")


def test_unknown_name_lists_names_and_suggests():
    with pytest.raises(ValueError, match="did you mean 'fashion-mnist'") as err:
        load("fashion_mnist")
    assert all(name in str(err.value) for name in NAMES)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_bad_counts_are_rejected(bad):
    with pytest.raises(ValueError, match="n_train must be a positive int or None"):
        load("digits", n_train=bad)
    with pytest.raises(ValueError, match="n must be a positive int"):
        sample("teacher", bad, seed=0)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_seeds_are_rejected(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        load("digits", seed=bad)


def test_sample_only_for_procedural():
    with pytest.raises(ValueError, match="mnist1d, gaussian-mixture, teacher"):
        sample("digits", 10, seed=0)
    assert SAMPLABLE == ("mnist1d", "gaussian-mixture", "teacher")


def test_balanced_indices_share_out_scarce_classes():
    labels = torch.tensor([0] * 2 + [1] * 50 + [2] * 50)
    idx = balanced_indices(labels, 20, 3, generator(0))
    assert len(set(idx.tolist())) == 20
    assert torch.bincount(labels[idx], minlength=3).tolist() == [2, 9, 9]
    assert torch.equal(idx, balanced_indices(labels, 20, 3, generator(0)))


# ---------------------------------------------------------------- digits


def test_digits_shapes_ranges_and_classes():
    ds = load("digits")
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.num_classes) == (1437, 360, (1, 8, 8), 10)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1
    assert sorted(ds.y_train.unique().tolist()) == list(range(10))


def test_digits_split_is_fixed_and_is_sklearns_stratified_split():
    bunch = load_digits()
    split = train_test_split(bunch.images / 16, bunch.target, test_size=0.2, random_state=0, stratify=bunch.target)
    x_test, y_test = split[1], split[3]
    for seed in (0, 7):
        ds = load("digits", seed=seed)
        assert torch.equal(ds.y_test, torch.from_numpy(y_test))
        assert torch.allclose(ds.x_test[:, 0].double(), torch.from_numpy(x_test))


def test_subsets_are_balanced_seeded_and_drawn_from_the_split():
    full = load("digits")
    a = load("digits", n_train=105, n_test=30, seed=1)
    counts = torch.bincount(a.y_train, minlength=10)
    assert a.n_train == 105 and counts.max() - counts.min() <= 1
    assert torch.bincount(a.y_test, minlength=10).tolist() == [3] * 10
    assert rows(a.x_train) <= rows(full.x_train)
    assert not torch.equal(a.y_train, a.y_train.sort().values), "a subset comes shuffled"
    b, c = load("digits", n_train=105, n_test=30, seed=1), load("digits", n_train=105, n_test=30, seed=2)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_asking_for_more_than_exists_names_the_count():
    with pytest.raises(ValueError, match="has 1437 train examples"):
        load("digits", n_train=1438)
    with pytest.raises(ValueError, match="has 360 test examples"):
        load("digits", n_test=361)


def test_loads_return_fresh_tensors():
    a = load("digits")
    a.x_train.fill_(7.0)
    assert load("digits").x_train.max() == 1


def test_dataset_validates_and_replaces():
    ds = load("digits", n_train=20, n_test=10)
    assert ds.replace(name="d2").name == "d2" and ds.name == "digits"
    with pytest.raises(ValueError, match="y_train must lie in 0..9"):
        ds.replace(y_train=ds.y_train + 10)
    with pytest.raises(TypeError, match="float32"):
        ds.replace(x_train=ds.x_train.double())
    assert "n_train=20" in repr(ds)


# ---------------------------------------------------------------- procedural: mnist1d, gaussian-mixture, teacher


def test_mnist1d_default_is_the_packages_default_dataset():
    from mnist1d.data import get_dataset_args, make_dataset

    ds = load("mnist1d")
    np_state, py_state = np.random.get_state(), random.getstate()
    ref = make_dataset(get_dataset_args())  # reseeds the global generators: put them back
    np.random.set_state(np_state)
    random.setstate(py_state)
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.num_classes) == (4000, 1000, (1, 40), 10)
    assert torch.allclose(ds.x_train[:, 0].double(), torch.from_numpy(ref["x"]), atol=1e-6)
    assert torch.equal(ds.y_test, torch.from_numpy(ref["y_test"]).long())


def test_mnist1d_sampling_leaves_global_rngs_alone():
    np.random.seed(123)
    random.seed(7)
    np_state, py_state = np.random.get_state(), random.getstate()
    mnist_1d.chunk.cache_clear()
    sample("mnist1d", 10, seed=11)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
    assert random.getstate() == py_state


@pytest.mark.parametrize("name", SAMPLABLE)
def test_sample_is_deterministic_per_seed_and_fresh_across_seeds(name):
    x, y = sample(name, 30, seed=0)
    if name == "mnist1d":
        mnist_1d.chunk.cache_clear()  # regenerate rather than reuse the cached chunk
    x2, y2 = sample(name, 30, seed=0)
    x3, _ = sample(name, 30, seed=1)
    ds = load(name)
    assert x.shape == (30, *ds.input_shape) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not rows(x) & rows(x3), "different seeds give different samples"
    assert not rows(x) & rows(ds.x_train) and not rows(x) & rows(ds.x_test), "samples never repeat the splits"
    assert torch.equal(sample(name, 10, seed=0)[0], x[:10]), "a stream's prefix does not depend on its length"


@pytest.mark.parametrize("name", SAMPLABLE)
def test_procedural_splits_grow_beyond_the_default(name):
    default = load(name)
    grown = load(name, n_train=default.n_train + 100, n_test=default.n_test + 10, seed=3)
    assert (grown.n_train, grown.n_test) == (default.n_train + 100, default.n_test + 10)
    assert rows(default.x_train) < rows(grown.x_train) and rows(default.x_test) < rows(grown.x_test)
    assert not rows(grown.x_train) & rows(grown.x_test)


def test_gaussian_mixture_is_fixed_and_learnable_but_not_trivially():
    ds = load("gaussian-mixture")
    assert (ds.n_train, ds.n_test, ds.input_shape) == (2000, 1000, (20,))
    assert torch.equal(ds.x_train, load("gaussian-mixture").x_train)
    linear = LogisticRegression(max_iter=1000).fit(ds.x_train.numpy(), ds.y_train.numpy())
    assert 0.70 <= linear.score(ds.x_test.numpy(), ds.y_test.numpy()) <= 0.90
    x, y = sample("gaussian-mixture", 5000, seed=0)
    bayes = (torch.cdist(x, gaussian_mixture_means()).argmin(1) == y).float().mean()
    assert 0.70 <= bayes <= 0.90


def test_teacher_labels_are_the_fixed_networks_argmax_and_roughly_balanced():
    x, y = sample("teacher", 5000, seed=0)
    assert torch.equal(y, teacher_logits(x).argmax(1))
    freq = torch.bincount(y, minlength=10) / len(y)
    assert freq.min() > 0.05 and freq.max() < 0.15
    ds = load("teacher", n_train=500, seed=0)
    assert ds.n_train == 500 and torch.bincount(ds.y_train, minlength=10).tolist() == [50] * 10


# ---------------------------------------------------------------- cifar10


def cifar_subset() -> Path:
    if not (CIFAR_SUBSET / "cifar-10-batches-py").is_dir():
        pytest.skip(f"no CIFAR-10 subset at {CIFAR_SUBSET} (shared/ beside the repository)")
    return CIFAR_SUBSET


@pytest.mark.parametrize("where", ["root", "batches"])
def test_cifar10_loads_the_shared_subset(where, isolated):
    root = cifar_subset()
    ds = load("cifar10", data_dir=root if where == "root" else root / "cifar-10-batches-py", download=False)
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.num_classes) == (5000, 1000, (3, 32, 32), 10)
    batches = [cifar10.read_batch(root / "cifar-10-batches-py" / name) for name in cifar10.TRAIN_FILES]
    with open(root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        first = pickle.load(f, encoding="latin1")
    assert torch.equal(ds.y_train, torch.from_numpy(np.concatenate([y for _, y in batches])))
    assert ds.y_train[:1000].tolist() == first["labels"]
    assert torch.equal(ds.x_train[0], torch.from_numpy(first["data"][0].reshape(3, 32, 32)).float() / 255)
    assert 0 <= ds.x_train.min() and ds.x_train.max() <= 1


def test_cifar10_found_through_the_environment_and_subsetted(isolated, monkeypatch):
    monkeypatch.setenv(files.ENV_VAR, str(cifar_subset()))
    ds = load("cifar10", n_train=100, n_test=50, seed=0, download=False)
    assert torch.bincount(ds.y_train, minlength=10).tolist() == [10] * 10 and ds.n_test == 50


def test_cifar10_reads_batches_as_written(isolated):
    batches = fake_cifar(isolated / "c" / "cifar-10-batches-py")
    ds = load("cifar10", data_dir=isolated / "c")
    assert (ds.n_train, ds.n_test) == (40, 8)
    assert ds.y_test.tolist() == batches["test_batch"]["labels"]
    pixels = ds.x_test.mul(255).round().to(torch.uint8).reshape(8, -1)
    assert torch.equal(pixels, torch.from_numpy(batches["test_batch"]["data"]))


def test_cifar10_missing_batch_is_named(isolated):
    folder = isolated / "cifar-10-batches-py"
    fake_cifar(folder)
    (folder / "test_batch").unlink()
    with pytest.raises(DataNotFoundError, match="lacks test_batch"):
        load("cifar10", data_dir=folder)


def test_cifar10_corrupt_batches_name_the_file(isolated):
    folder = isolated / "cifar-10-batches-py"
    fake_cifar(folder)
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataFormatError, match="data_batch_3"):
        load("cifar10", data_dir=folder)


def test_cifar10_batches_cannot_run_code(isolated, tmp_path):
    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    path = tmp_path / "evil_batch"
    path.write_bytes(pickle.dumps({"data": Evil(), "labels": []}, protocol=2))
    with pytest.raises(DataFormatError, match="evil_batch"):
        cifar10.read_batch(path)
    assert not (tmp_path / "pwned").exists()


def cifar_tarball(path: Path) -> Path:
    """A small tarball laid out like the official `cifar-10-python.tar.gz`."""
    folder = path.parent / "src" / "cifar-10-batches-py"
    fake_cifar(folder)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return path


def test_cifar10_download_extracts_into_data_dir(isolated, web, monkeypatch):
    www, base = web
    tarball = cifar_tarball(www / "cifar.tar.gz")
    monkeypatch.setattr(cifar10, "URL", base + "cifar.tar.gz")
    monkeypatch.setattr(cifar10, "MD5", md5(tarball))
    ds = load("cifar10", data_dir=isolated / "dl")
    assert (ds.n_train, ds.n_test) == (40, 8)
    assert [p.name for p in (isolated / "dl").iterdir()] == ["cifar-10-batches-py"], "no tarball or staging left"


def test_cifar10_download_with_bad_md5_leaves_nothing(isolated, web, monkeypatch):
    www, base = web
    cifar_tarball(www / "cifar.tar.gz")
    monkeypatch.setattr(cifar10, "URL", base + "cifar.tar.gz")
    monkeypatch.setattr(cifar10, "MD5", "0" * 32)
    with pytest.raises(DataFormatError, match="md5"):
        load("cifar10", data_dir=isolated / "dl")
    assert list((isolated / "dl").iterdir()) == []


def test_cifar10_unsafe_tarball_is_refused(isolated, web, monkeypatch):
    www, base = web
    tarball = tarball_of(www / "evil.tar.gz", {"cifar-10-batches-py/../../escaped": b"x"})
    monkeypatch.setattr(cifar10, "URL", base + "evil.tar.gz")
    monkeypatch.setattr(cifar10, "MD5", md5(tarball))
    with pytest.raises(DataFormatError, match="unsafe"):
        load("cifar10", data_dir=isolated / "dl")
    assert list((isolated / "dl").iterdir()) == [] and not (isolated / "escaped").exists()


def test_cifar10_offline_is_one_clear_error(isolated, monkeypatch):
    monkeypatch.setattr(cifar10, "URL", closed_port_url())
    with pytest.raises(DataNotFoundError) as err:
        load("cifar10", data_dir=isolated / "nowhere")
    message = str(err.value)
    assert "\n" not in message and cifar10.URL in message and str(isolated / "nowhere") in message
    assert "GENPROOF_DATA" in message and "--data-dir" in message
    with pytest.raises(DataNotFoundError, match="download=False"):
        load("cifar10", data_dir=isolated / "nowhere", download=False)


# ---------------------------------------------------------------- fashion-mnist


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_loads_the_debian_package():
    ds = load("fashion-mnist", data_dir=DEBIAN_FASHION, download=False)
    assert (ds.n_train, ds.n_test, ds.input_shape, ds.num_classes) == (60000, 10000, (1, 28, 28), 10)
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1
    assert torch.bincount(ds.y_train).tolist() == [6000] * 10
    small = load("fashion-mnist", data_dir=DEBIAN_FASHION, n_train=1000, seed=0)
    assert torch.bincount(small.y_train).tolist() == [100] * 10 and small.n_test == 10000


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_files_round_trip(tmp_path, suffix):
    array = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    path = write_idx(tmp_path / f"images{suffix}", array)
    assert np.array_equal(fashion_mnist.read_idx(path, 3), array)
    with pytest.raises(DataFormatError, match="3 dimensions"):
        fashion_mnist.read_idx(write_idx(tmp_path / f"labels{suffix}", np.arange(4)), 3)


@pytest.mark.parametrize("layout", ["raw-in-root", "gz-in-subfolder"])
def test_fashion_mnist_reads_idx_files(isolated, layout):
    gz = layout.startswith("gz")
    folder = isolated / "d" / "fashion-mnist" if gz else isolated / "d"
    arrays = fake_fashion(folder, gz=gz)
    ds = load("fashion-mnist", data_dir=isolated / "d", download=False)
    assert (ds.n_train, ds.n_test, ds.input_shape) == (30, 20, (1, 28, 28))
    assert torch.equal(ds.y_train, torch.from_numpy(arrays["train-labels-idx1-ubyte"]))
    assert torch.equal(ds.x_test[:, 0] * 255, torch.from_numpy(arrays["t10k-images-idx3-ubyte"]).float())


def test_fashion_mnist_missing_file_is_named(isolated):
    fake_fashion(isolated / "d")
    (isolated / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match="lacks t10k-labels-idx1-ubyte"):
        load("fashion-mnist", data_dir=isolated / "d")


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"])
def test_fashion_mnist_truncated_file_names_the_path(isolated, name):
    folder = isolated / "d"
    fake_fashion(folder, gz=False)
    (folder / "train-images-idx3-ubyte").unlink()
    data = idx_bytes(np.zeros((30, 28, 28)))
    (folder / name).write_bytes((gzip.compress(data) if name.endswith(".gz") else data)[:-100])
    with pytest.raises(DataFormatError, match=str(folder / name)):
        load("fashion-mnist", data_dir=folder)


def test_fashion_mnist_inconsistent_counts_are_reported(isolated):
    fake_fashion(isolated / "d", gz=False)
    write_idx(isolated / "d" / "t10k-labels-idx1-ubyte", np.arange(19) % 10)
    with pytest.raises(DataFormatError, match="20 images but .* 19 labels"):
        load("fashion-mnist", data_dir=isolated / "d")


def serve_fashion(www: Path, base: str, monkeypatch) -> dict[str, np.ndarray]:
    arrays = fake_fashion(www / "src")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", base + "src/")
    monkeypatch.setattr(fashion_mnist, "MD5", {name: md5(www / "src" / f"{name}.gz") for name in FASHION_FILES})
    return arrays


def test_fashion_mnist_download(isolated, web, monkeypatch):
    arrays = serve_fashion(*web, monkeypatch)
    ds = load("fashion-mnist", data_dir=isolated / "dl")
    assert torch.equal(ds.y_test, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"]))
    assert [p.name for p in (isolated / "dl").iterdir()] == ["fashion-mnist"]
    downloaded = sorted(p.name for p in (isolated / "dl" / "fashion-mnist").iterdir())
    assert downloaded == sorted(f"{n}.gz" for n in FASHION_FILES)


def test_fashion_mnist_download_goes_to_the_cache_by_default(isolated, web, monkeypatch):
    serve_fashion(*web, monkeypatch)
    assert load("fashion-mnist").n_train == 30
    assert (isolated / "cache" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").is_file()
    monkeypatch.setattr(fashion_mnist, "BASE_URL", closed_port_url() + "/")
    assert load("fashion-mnist", download=False).n_train == 30, "found in the cache, not downloaded again"


def test_fashion_mnist_download_with_bad_md5_leaves_nothing(isolated, web, monkeypatch):
    serve_fashion(*web, monkeypatch)
    monkeypatch.setitem(fashion_mnist.MD5, "t10k-images-idx3-ubyte", "0" * 32)
    with pytest.raises(DataFormatError, match="t10k-images-idx3-ubyte.gz is corrupt: md5"):
        load("fashion-mnist", data_dir=isolated / "dl")
    assert list((isolated / "dl").iterdir()) == []


def test_fashion_mnist_offline_is_one_clear_error(isolated, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "BASE_URL", closed_port_url() + "/")
    with pytest.raises(DataNotFoundError) as err:
        load("fashion-mnist", data_dir=isolated / "nowhere")
    message = str(err.value)
    assert "\n" not in message and str(isolated / "nowhere") in message
    assert "apt-get install dataset-fashion-mnist" in message and "--data-dir" in message and "GENPROOF_DATA" in message
    assert isinstance(err.value, FileNotFoundError)


def test_a_bare_machine_searches_only_what_the_user_named_and_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(files.BARE_ENV, "1")
    monkeypatch.delenv(files.ENV_VAR, raising=False)
    assert fashion_mnist.LAYOUT.candidate_dirs(None) == []
    assert fashion_mnist.LAYOUT.candidate_dirs(tmp_path) == [tmp_path, tmp_path / "fashion-mnist"]
    with pytest.raises(DataNotFoundError, match="GENPROOF_DATA_BARE is set .* `apt-get install dataset-fashion-mnist`"):
        files.find(fashion_mnist.LAYOUT, None, True, lambda root: pytest.fail("downloaded"), "http://nowhere")
    assert "apt-get install dataset-fashion-mnist" in missing("fashion-mnist") and missing("digits") is None


def test_tests_that_need_optional_data_skip_on_a_bare_machine():
    """What CI proves: on a fresh machine offline, the Fashion-MNIST tests skip and say what to install."""
    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != files.ENV_VAR}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "tests/test_deep_bootstrap.py::test_cli_bad_input_is_one_line"], cwd=repo, timeout=300,
                         env={**env, files.BARE_ENV: "1", "PYTHONPATH": str(repo)}, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 2 skipped" in out.stdout
    assert "SKIPPED [2] " in out.stdout and "needs fashion-mnist, not on disk (a test downloads nothing): fashion-mnist: nothing in []" in out.stdout
    assert "GENPROOF_DATA_BARE is set" in out.stdout and "apt-get install dataset-fashion-mnist" in out.stdout
