"""Datasets by name: folder formats, the resolution order, digits, and the one preprocessing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lenet_edge.data import datasets as data
from lenet_edge.data.idx import write_idx
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import DataError, UsageError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def arrays(n_train=12, n_test=5, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_idx_dir(folder: Path, content: dict[str, np.ndarray], gz=False, names=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in (names or data.IDX_NAMES).items():
        write_idx(folder / (stem + (".gz" if gz else "")), content[key])
    return folder


def assert_holds(dataset: data.Dataset, content: dict[str, np.ndarray]) -> None:
    for key, array in content.items():
        np.testing.assert_array_equal(getattr(dataset, key), array)
        assert getattr(dataset, key).dtype == np.uint8


# --- folder formats ------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_folder(tmp_path, gz):
    content = arrays()
    folder = write_idx_dir(tmp_path / "mnist", content, gz=gz)
    dataset = data.load_dataset("mnist", data_dir=folder)
    assert_holds(dataset, content)
    assert (dataset.num_train, dataset.num_test, dataset.source) == (12, 5, str(folder))
    assert dataset.class_names == tuple("0123456789")


def test_idx_folder_with_kaggle_names(tmp_path):
    content = arrays()
    names = {key: stem.replace("-idx", ".idx") for key, stem in data.IDX_NAMES.items()}
    folder = write_idx_dir(tmp_path / "kaggle", content, names=names)
    assert_holds(data.load_dataset("fashion-mnist", data_dir=folder), content)


def test_npz_file_and_folder_with_one_npz(tmp_path):
    content = arrays()
    labels_int64 = {**content, "y_train": content["y_train"].astype(np.int64)}
    np.savez(tmp_path / "mnist.npz", **labels_int64)
    by_file = data.load_dataset("mnist", data_dir=tmp_path / "mnist.npz")
    by_folder = data.load_dataset("mnist", data_dir=tmp_path)
    assert_holds(by_file, content)  # int64 labels in range become uint8
    assert by_file.fingerprint == by_folder.fingerprint
    assert by_folder.source == str(tmp_path / "mnist.npz")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"x_train": np.zeros((12, 28, 28), np.float32)}, r"x_train\]: images must be uint8"),
        ({"y_test": np.zeros((5,), np.float32)}, r"y_test\]: labels must be integers"),
        ({"y_test": np.full((5,), -1, np.int64)}, r"labels must be in 0..9, found -1..-1"),
        ({"x_test": np.zeros((5, 32, 32), np.uint8)}, r"got uint8 \(5, 32, 32\)"),
        ({"x_test": np.zeros((0, 28, 28), np.uint8), "y_test": np.zeros(0, np.uint8)},
         "holds no images"),
        ({"x_train": np.array([object()], dtype=object)}, "holds Python objects"),
    ],
)
def test_bad_npz_content(tmp_path, change, message):
    np.savez(tmp_path / "d.npz", **{**arrays(), **change})
    with pytest.raises(DataError, match=message):
        data.load_dataset("mnist", data_dir=tmp_path / "d.npz")


def test_npz_missing_arrays_and_garbage(tmp_path):
    np.savez(tmp_path / "partial.npz", x_train=arrays()["x_train"])
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="missing arrays y_train, x_test, y_test"):
        data.load_dataset("mnist", data_dir=tmp_path / "partial.npz")
    with pytest.raises(DataError, match="junk.npz: not a readable .npz"):
        data.load_dataset("mnist", data_dir=tmp_path / "junk.npz")


def test_idx_set_checks_across_files(tmp_path):
    content = arrays()
    folder = write_idx_dir(tmp_path / "d", content)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 10, 4], np.uint8))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: labels must be in 0..9"):
        data.load_dataset("mnist", data_dir=folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: 5 images but .*: 4 labels"):
        data.load_dataset("mnist", data_dir=folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"labels must be integers \(N,\), got uint8 \(5, 28, 28\)"):
        data.load_dataset("mnist", data_dir=folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", content["y_test"])
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((12, 784), np.uint8))
    with pytest.raises(DataError, match=r"must be uint8 \(N, 28, 28\), got uint8 \(12, 784\)"):
        data.load_dataset("mnist", data_dir=folder)


def test_folder_problems_are_named(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        data.load_dataset("mnist", data_dir=tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds neither the four IDX files"):
        data.load_dataset("mnist", data_dir=tmp_path / "empty")
    partial = write_idx_dir(tmp_path / "partial", arrays())
    (partial / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"incomplete IDX set, missing t10k-labels-idx1-ubyte"):
        data.load_dataset("mnist", data_dir=partial)
    for name in ("a.npz", "b.npz"):
        np.savez(tmp_path / "empty" / name, **arrays())
    with pytest.raises(DataError, match=r"several .npz files \(a.npz, b.npz\)"):
        data.load_dataset("mnist", data_dir=tmp_path / "empty")
    with pytest.raises(DataError, match="expected a folder with the four IDX files or a .npz"):
        data.load_dataset("mnist", data_dir=partial / "train-images-idx3-ubyte")


def test_names_and_digits_options():
    with pytest.raises(UsageError, match="unknown dataset 'cifar10'; choose from mnist, "
                                         "fashion-mnist, digits"):
        data.load_dataset("cifar10")
    with pytest.raises(UsageError, match="built in"):
        data.load_dataset("digits", data_dir="/tmp")


# --- resolution order ----------------------------------------------------------------------


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An isolated world: no env dir, a fake local install root, a fake home, offline."""
    local = tmp_path / "usr-share-datasets"
    local.mkdir()
    monkeypatch.setattr(data, "LOCAL_ROOTS", (local,))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.OFFLINE_ENV, "1")
    return {"local": local, "keras": tmp_path / "home" / ".keras" / "datasets",
            "env": tmp_path / "env", "arg": tmp_path / "arg"}


def test_resolution_order(places, monkeypatch):
    found = {}
    for seed, place in enumerate(("arg", "env", "local", "keras")):
        found[place] = arrays(seed=seed)
    write_idx_dir(places["arg"], found["arg"])
    write_idx_dir(places["env"] / "fashion-mnist", found["env"], gz=True)
    write_idx_dir(places["local"] / "fashion-mnist", found["local"], gz=True)
    write_idx_dir(places["keras"] / "fashion-mnist", found["keras"], gz=True)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(places["env"]))

    assert_holds(data.load_dataset("fashion-mnist", data_dir=places["arg"]), found["arg"])
    assert_holds(data.load_dataset("fashion-mnist"), found["env"])
    monkeypatch.delenv(data.DATA_DIR_ENV)
    loaded = data.load_dataset("fashion-mnist")
    assert_holds(loaded, found["local"])
    assert loaded.source == str(places["local"] / "fashion-mnist")
    assert loaded.class_names[-1] == "Ankle boot"
    for file in (places["local"] / "fashion-mnist").iterdir():
        file.unlink()
    (places["local"] / "fashion-mnist").rmdir()
    assert_holds(data.load_dataset("fashion-mnist"), found["keras"])


def test_keras_cache_mnist_npz_and_keras_home(places, monkeypatch, tmp_path):
    content = arrays(seed=7)
    places["keras"].mkdir(parents=True)
    np.savez_compressed(places["keras"] / "mnist.npz", **content)
    assert_holds(data.load_dataset("mnist"), content)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match=str(tmp_path / "elsewhere" / "datasets" / "mnist.npz")):
        data.load_dataset("mnist")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_offline_with_nothing_names_every_option(places, name):
    with pytest.raises(DataError) as err:
        data.load_dataset(name)
    message = str(err.value)
    assert "\n" not in message
    assert f"{name} not found (LENET_EDGE_OFFLINE is set, so no download)" in message
    assert "--data-dir" in message and data.DATA_DIR_ENV in message
    assert str(places["keras"]) in message
    if name == "fashion-mnist":
        assert "apt-get install dataset-fashion-mnist" in message


def test_env_dir_must_be_a_root_of_datasets(places, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(places["env"]))
    with pytest.raises(DataError, match="LENET_EDGE_DATA_DIR=.*: no such directory"):
        data.load_dataset("mnist")
    write_idx_dir(places["env"], arrays())  # one dataset's files, not a root of datasets
    with pytest.raises(DataError, match="holds IDX files itself; it must hold mnist/ or mnist.npz"):
        data.load_dataset("mnist")


# --- digits --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits")


def test_digits_shapes_and_split(digits):
    assert digits.x_train.shape == (1438, 28, 28) and digits.x_test.shape == (359, 28, 28)
    assert digits.x_train.dtype == np.uint8 and digits.y_train.dtype == np.uint8
    # Stratified: every class holds 20% of its members in the test set, give or take rounding.
    per_class = np.bincount(digits.y_test, minlength=10) / (
        np.bincount(digits.y_test, minlength=10) + np.bincount(digits.y_train, minlength=10))
    assert np.all(np.abs(per_class - 0.2) < 0.01)


def test_digits_never_change(digits):
    # The split ignores every training option, so accuracies stay comparable across runs and
    # releases. A change here (framing, split, numpy's generator) must be deliberate.
    assert data.load_dataset("digits").fingerprint == digits.fingerprint
    assert digits.fingerprint == "c70625d3aa80c3b26ccf9b019228d5a8b6d36cb37e3f6531a1691e8a7d96afc5"


def test_digits_are_framed_like_mnist(digits):
    images = np.concatenate([digits.x_train, digits.x_test]).astype(np.float64)
    index = np.arange(28)
    mass = images.sum(axis=(1, 2))
    cy = images.sum(axis=2) @ index / mass
    cx = images.sum(axis=1) @ index / mass
    # Centred by mass at the frame centre, 13.5 in pixel indices (14 in continuous
    # coordinates): whole-pixel placement leaves at most half a pixel, and rounding the
    # pixels to uint8 moves the centre by under 0.01 more.
    assert np.all(np.abs(cy - 13.5) <= 0.51) and np.all(np.abs(cx - 13.5) <= 0.51)
    rows, cols = images.any(axis=2), images.any(axis=1)
    height = 28 - rows.argmax(1) - rows[:, ::-1].argmax(1)
    width = 28 - cols.argmax(1) - cols[:, ::-1].argmax(1)
    assert np.all(np.maximum(height, width) == 20)  # fitted to the 20x20 box


def test_digits_match_scikit_learn(digits):
    datasets = pytest.importorskip("sklearn.datasets")
    from lenet_edge.data.digits import _read_digits

    pixels, labels = _read_digits()  # reads scikit-learn's CSV without importing it
    reference = datasets.load_digits()
    np.testing.assert_array_equal(pixels, reference.images)
    np.testing.assert_array_equal(labels, reference.target)


def test_data_module_and_digits_stay_light():
    code = ("import sys; from lenet_edge.data import datasets; datasets.load_dataset('digits');"
            "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'scipy')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "LENET_EDGE_OFFLINE": "1"})
    assert out.stdout.strip() == "[]"


# --- Dataset and preprocess ----------------------------------------------------------------


def test_fingerprint_follows_content(tmp_path):
    content = arrays()
    first = data.Dataset("mnist", source="a", class_names=(), **content)
    same = data.Dataset("mnist", source="b", class_names=(), **arrays())
    changed = {**arrays(), "y_test": arrays()["y_test"][::-1].copy()}
    assert first.fingerprint == same.fingerprint  # the source is not part of the data
    assert data.Dataset("mnist", source="a", class_names=(), **changed).fingerprint != (
        first.fingerprint)
    assert len(first.fingerprint) == 64
    assert first.summary() == {"name": "mnist", "fingerprint": first.fingerprint,
                               "source": "a", "num_train": 12, "num_test": 5}
    with pytest.raises(ValueError):  # read-only, so the fingerprint stays true
        first.x_train[0, 0, 0] = 1


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 28, 28, 1)])
def test_preprocess(shape):
    images = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    images.flat[:2] = (0, 255)
    out = preprocess(images)
    assert out.dtype == np.float32 and out.shape == (3, 28, 28, 1)
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_array_equal(out.ravel(), images.ravel().astype(np.float32) / 255)


@pytest.mark.parametrize(
    "images",
    [np.zeros((3, 28, 28), np.float32), np.zeros((28, 28), np.uint8),
     np.zeros((3, 28, 28, 3), np.uint8), np.zeros((3, 32, 32), np.uint8)],
)
def test_preprocess_refuses_other_inputs(images):
    with pytest.raises(DataError, match=r"images must be uint8 \(N, 28, 28\) or \(N, 28, 28, 1\)"):
        preprocess(images)


# --- Fashion-MNIST from the Debian package -------------------------------------------------


def test_fashion_mnist_from_debian_package(monkeypatch, tmp_path):
    if not FASHION_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist")
        pytest.skip(f"{FASHION_DIR} missing (apt-get install dataset-fashion-mnist)")
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # make sure the Debian copy is the one read
    dataset = data.load_dataset("fashion-mnist")
    assert dataset.source == str(FASHION_DIR)
    assert (dataset.num_train, dataset.num_test) == (60000, 10000)
    assert np.all(np.bincount(dataset.y_train) == 6000)
    assert np.all(np.bincount(dataset.y_test) == 1000)
