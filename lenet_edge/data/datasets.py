"""Datasets by name, resolved from local files first, checked strictly (numpy only at import).

`load_dataset("mnist" | "fashion-mnist" | "digits", data_dir=None)` returns a `Dataset` of
uint8 images (N, 28, 28) and uint8 labels 0..9. For mnist and fashion-mnist the first of
these that holds the data wins:

1. `data_dir` (the CLI's --data-dir): a folder with the four IDX files (gzipped or not) or
   one Keras-style .npz, or the path of such an .npz;
2. `$LENET_EDGE_DATA_DIR`, a folder laid out like the two below: `<name>/` or `<name>.npz`;
3. a local install under /usr/share/datasets (`apt-get install dataset-fashion-mnist`);
4. the Keras cache, `$KERAS_HOME` or ~/.keras, then `datasets/mnist.npz` or
   `datasets/fashion-mnist/`;
5. a download through Keras, unless `$LENET_EDGE_OFFLINE` is set (to anything but 0).

`digits` is scikit-learn's bundled 8x8 set framed into 28x28 like MNIST, always offline.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import socket
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from lenet_edge.choices import unknown_choice
from lenet_edge.data.classes import CLASS_NAMES, DATASETS
from lenet_edge.data.idx import read_idx, write_idx
from lenet_edge.data.preprocess import IMAGE_SHAPE
from lenet_edge.errors import DataError, UsageError
from lenet_edge.files import input_files, npz_files
from lenet_edge.stderr import native_stderr_silenced

__all__ = ["CLASS_NAMES", "DATASETS", "Dataset", "load_dataset", "read_dir", "read_idx",
           "write_idx"]

SPLITS = ("x_train", "y_train", "x_test", "y_test")  # also the keys of a Keras-style .npz
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DATA_DIR_ENV = "LENET_EDGE_DATA_DIR"
OFFLINE_ENV = "LENET_EDGE_OFFLINE"
LOCAL_ROOTS = (Path("/usr/share/datasets"),)  # Debian's dataset-* packages install here
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of 28x28 uint8 images with uint8 labels 0..9 (arrays read-only)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        for key in SPLITS:  # read-only, so the fingerprint stays true to the arrays
            getattr(self, key).setflags(write=False)

    @property
    def num_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def num_test(self) -> int:
        return int(self.x_test.shape[0])

    @cached_property
    def fingerprint(self) -> str:
        """sha256 (hex) over the shape, dtype and bytes of the four arrays, in SPLITS order."""
        digest = hashlib.sha256()
        for key in SPLITS:
            array = np.ascontiguousarray(getattr(self, key))
            digest.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
            digest.update(array.data)
        return digest.hexdigest()

    def summary(self) -> dict[str, object]:
        """The `dataset` record of train.json and the bundle manifest."""
        return {"name": self.name, "fingerprint": self.fingerprint, "source": self.source,
                "num_train": self.num_train, "num_test": self.num_test}


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load a dataset by name, resolved as the module docstring says.

    Raises:
        UsageError: unknown name, or a data_dir given for the built-in `digits`.
        DataError: files missing or malformed, or nothing found and no download possible.
    """
    if name not in DATASETS:
        raise unknown_choice("dataset", name, DATASETS)
    if name == "digits":
        if data_dir is not None:
            raise UsageError("the 'digits' dataset is built in (scikit-learn); drop --data-dir")
        from lenet_edge.data import digits

        arrays, source = digits.load_digits_split()
        return _dataset("digits", (arrays, source))
    if data_dir is not None:
        return _dataset(name, read_dir(data_dir))
    for root in _search_roots(name):
        found = _find_in_root(root, name)
        if found is not None:
            return _dataset(name, read_dir(found))
    return _download(name)


def read_dir(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], str]:
    """Read the four arrays from an IDX folder, a folder with one .npz, or an .npz file.

    Returns:
        ({"x_train", "y_train", "x_test", "y_test": array}, source description); checked.
    """
    path = Path(path).expanduser()
    if os.path.isfile(path):  # os.path: False, not PermissionError, in a folder we cannot enter
        if path.suffix != ".npz":
            raise DataError(f"{path}: expected a folder with the four IDX files or a .npz file")
        return _read_npz(path), str(path)
    if not os.path.isdir(path):
        raise DataError(f"{path}: no such file or directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DataError(f"{path}: cannot read the folder (permission denied)")
    idx_files = {key: _find_idx_file(path, stem) for key, stem in IDX_NAMES.items()}
    present = {key: file for key, file in idx_files.items() if file is not None}
    if len(present) == len(IDX_NAMES):
        return _read_idx_set(present), str(path)
    if present:
        missing = [IDX_NAMES[key] + "[.gz]" for key in IDX_NAMES if key not in present]
        raise DataError(f"{path}: incomplete IDX set, missing {', '.join(missing)}")
    archives = sorted(path.glob("*.npz"))
    if len(archives) == 1:
        return _read_npz(archives[0]), str(archives[0])
    if archives:
        names = ", ".join(a.name for a in archives)
        raise DataError(f"{path}: holds several .npz files ({names}); pass the one to use")
    raise DataError(
        f"{path}: holds neither the four IDX files ({', '.join(IDX_NAMES.values())},"
        " each optionally .gz) nor a .npz with x_train, y_train, x_test, y_test"
    )


# --- resolution ----------------------------------------------------------------------------


def keras_datasets_dir() -> Path:
    """Where Keras caches downloaded datasets: $KERAS_HOME or ~/.keras, then datasets/."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def _search_roots(name: str) -> list[Path]:
    """Folders holding `<name>/` or `<name>.npz`, in the order they are searched."""
    roots = []
    env_value = os.environ.get(DATA_DIR_ENV)
    if env_value:
        env_root = Path(env_value).expanduser()
        if not env_root.is_dir():
            raise DataError(f"{DATA_DIR_ENV}={env_value}: no such directory")
        holds_idx = any(_find_idx_file(env_root, stem) for stem in IDX_NAMES.values())
        if holds_idx and _find_in_root(env_root, name) is None:
            # One variable serves every dataset, so it names a root, never one dataset's files.
            raise DataError(f"{DATA_DIR_ENV}={env_value} holds IDX files itself; it must hold"
                            f" {name}/ or {name}.npz (or pass that folder with --data-dir)")
        roots.append(env_root)
    return [*roots, *LOCAL_ROOTS, keras_datasets_dir()]


def _find_in_root(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / f"{name}.npz"):
        if candidate.exists():
            return candidate
    return None


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def _download(name: str) -> Dataset:
    """Fetch through Keras into its cache, or raise the one error naming every option."""
    if _offline():
        raise _not_found(name, f"{OFFLINE_ENV} is set, so no download")
    if importlib.util.find_spec("keras") is None:
        raise _not_found(name, "Keras is not installed to download it (lenet-edge[toolchain])")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # a dead network fails instead of hanging
    try:
        # Only `train` gets here (the runtime half never loads a dataset); the import pulls in
        # TensorFlow, whose native start-up lines are kept off the terminal.
        with native_stderr_silenced():
            module = importlib.import_module("keras.datasets." + name.replace("-", "_"))
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as exc:  # import, URL, HTTP, hash, OS errors: all mean no data
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise _not_found(name, f"the download through Keras failed ({reason})") from None
    finally:
        socket.setdefaulttimeout(previous)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    source = f"downloaded through Keras into {keras_datasets_dir()}"
    return _dataset(name, (_checked(arrays, {key: source for key in SPLITS}), source))


def _not_found(name: str, reason: str) -> DataError:
    """The error for no local copy and no download: every way to train offline, easiest first."""
    options = ["--dataset digits (built in, needs no download)"]
    for other in DATASETS:
        found = _installed_copy(other) if other not in (name, "digits") else None
        if found is not None:
            options.append(f"--dataset {other} (installed in {found})")
    if name != "fashion-mnist" and _installed_copy("fashion-mnist") is None:
        options.append("--dataset fashion-mnist after apt-get install dataset-fashion-mnist")
    options += [
        "--data-dir PATH (the four IDX files or a .npz)",
        f"{DATA_DIR_ENV}=DIR holding {name}/ or {name}.npz",
    ]
    if name == "fashion-mnist":
        options.append("apt-get install dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)")
    else:
        options.append(f"a local copy in /usr/share/datasets/{name}/")
    keras_file = "mnist.npz" if name == "mnist" else f"{name}/*.gz"
    options.append(f"the Keras cache {keras_datasets_dir() / keras_file}")
    return DataError(f"{name} not found ({reason}); use one of: {'; '.join(options)}")


def _installed_copy(name: str) -> Path | None:
    """A local copy of `name` in the system or Keras folders (not $LENET_EDGE_DATA_DIR)."""
    for root in (*LOCAL_ROOTS, keras_datasets_dir()):
        found = _find_in_root(root, name)
        if found is not None:
            return found
    return None


# --- readers and checks --------------------------------------------------------------------


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    """The IDX file for `stem`, also as Kaggle names it (train-images.idx3-ubyte), maybe .gz."""
    for base in (stem, stem.replace("-idx", ".idx")):
        for name in (base, base + ".gz"):  # plain first: no inflating needed
            if (folder / name).is_file():
                return folder / name
    return None


def _read_idx_set(files: dict[str, Path]) -> dict[str, np.ndarray]:
    arrays = {key: read_idx(file) for key, file in files.items()}
    return _checked(arrays, {key: str(file) for key, file in files.items()})


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with input_files.open_input(path, input_files.DATASET) as handle, \
                npz_files.load_npz(handle, str(path), input_files.DATASET.max_bytes,
                                   DataError) as archive:
            missing = [key for key in SPLITS if key not in archive.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)} (has"
                                f" {', '.join(archive.files) or 'none'})")
            arrays = {key: archive[key] for key in SPLITS}
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled), OSError: a bad file
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    return _checked(arrays, {key: f"{path} [{key}]" for key in SPLITS})


def _checked(arrays: dict[str, np.ndarray], where: dict[str, str]) -> dict[str, np.ndarray]:
    """Check both splits: uint8 images (N, 28, 28), N labels in 0..9; labels become uint8."""
    out = {}
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        at_images, at_labels = where[f"x_{split}"], where[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{at_images}: images must be uint8 (N, 28, 28),"
                            f" got {images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise DataError(f"{at_labels}: labels must be integers (N,),"
                            f" got {labels.dtype} {labels.shape}")
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{at_images}: {images.shape[0]} images but {at_labels}:"
                            f" {labels.shape[0]} labels")
        if images.shape[0] == 0:
            raise DataError(f"{at_images}: holds no images")
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high > 9:
            raise DataError(f"{at_labels}: labels must be in 0..9, found {low}..{high}")
        out[f"x_{split}"], out[f"y_{split}"] = images, labels.astype(np.uint8, copy=False)
    return out


def _dataset(name: str, found: tuple[dict[str, np.ndarray], str]) -> Dataset:
    arrays, source = found
    return Dataset(name=name, source=source, class_names=CLASS_NAMES[name], **arrays)
