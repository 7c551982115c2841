"""The model bundle: a directory with `manifest.json`, the contract between the two halves.

The toolchain writes it (`train` then `convert`); the runtime reads it on the device with
numpy alone. Every file is written atomically, and every read of an artifact checks its
sha256 against the manifest first, so nothing loads a file the manifest did not vouch for.

manifest.json (schema_version 1)::

    {"schema_version": 1, "created": ISO-8601, "tool_versions": {name: version},
     "dataset": {"name", "fingerprint", "source", "num_train", "num_test"},
     "train_config": {...}, "float_test_accuracy": float,
     "reference": {"file", "sha256", "bytes", "count"},
     "artifacts": {variant: {"variant", "format", "file", "sha256", "bytes",
                             "inputs": [tensor], "outputs": [tensor],
                             "min_runtime_version" (tflite), "ops": [[op, version]] (tflite),
                             "opset" (onnx), "converter": {...}}}}
    tensor = {"name", "shape", "dtype", "scale": float|null, "zero_point": int|null}
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import schema
from lenet_edge.errors import ModelError
from lenet_edge.files import input_files, npz_files, output_files

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
REFERENCE = "reference.npz"
TRAIN_JSON = "train.json"
WEIGHTS = "lenet5.weights.h5"
KERAS_MODEL = "lenet5.keras"
CURVES_PNG = "training_curves.png"
VERIFY_JSON = "verify.json"  # `lenet-edge verify --json` kept in the bundle (pipeline, report)
BENCHMARK_JSON = "benchmark.json"  # `lenet-edge benchmark --json` kept in the bundle
PIPELINE_JSON = "pipeline.json"  # the pipeline's config and stage timings
REPORT_HTML = "report.html"  # `lenet-edge report` (its Markdown twin: report.md)


def device_result_name(host: str, kind: str) -> str:
    """`device-<host>-<kind>.json`: results a deploy brought back from one device."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", host)  # a file name on any file system
    return f"device-{safe}-{kind}.json"


# --- writes: output_files.py (atomic, umask modes, symlinks kept, streams written through) --

atomic_path = output_files.atomic_path
write_bytes = output_files.write_bytes


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_bytes(path, (schema.strict_json(obj, str(path)) + "\n").encode())


# --- checksums -----------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with input_files.open_input(path, input_files.MODEL) as f:  # also hashes inputs (weights)
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """`file`, `sha256` and `bytes` of a file in a bundle."""
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


# --- reading -------------------------------------------------------------------------------


def read_manifest(bundle_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check the shape of `manifest.json`; raise ModelError naming what is wrong."""
    path = Path(bundle_dir) / MANIFEST
    if not Path(bundle_dir).is_dir():
        raise ModelError(f"{bundle_dir}: not a directory (expected a model bundle)")
    if not os.path.lexists(path):  # a FIFO, device, folder or link loop: read_json names it
        raise ModelError(f"{path}: no manifest; run 'lenet-edge convert {bundle_dir}' first")
    manifest = input_files.read_json(path, input_files.MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION:
        got = manifest.get("schema_version") if isinstance(manifest, dict) else None
        raise ModelError(f"{path}: schema_version {got!r}, this lenet-edge reads {SCHEMA_VERSION}")
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict):
        raise ModelError(f"{path}: 'artifacts' must be an object keyed by variant")
    for name, entry in artifacts.items():
        _check_file_entry(path, f"artifact {name!r}", entry, ("format", "inputs", "outputs"))
    if "reference" in manifest:
        _check_file_entry(path, "reference", manifest["reference"], ())
    try:
        _check_manifest_fields(manifest)
    except schema.Invalid as exc:
        raise ModelError(f"{path}: {exc}") from None
    return manifest


def _check_manifest_fields(manifest: dict[str, Any]) -> None:
    """The fields convert writes that the report, predict and deploy compute with.

    Optional, so a bundle made by hand (tests, an older convert) with artifacts only still
    reads; typed when present.
    """
    schema.field(manifest, "created", str, optional=True)
    schema.strings(manifest, "tool_versions", optional=True)
    schema.field(manifest, "train_config", dict, optional=True)
    accuracy = schema.field(manifest, "float_test_accuracy", float, optional=True)
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise schema.Invalid(f"float_test_accuracy must be in 0..1, got {accuracy}")
    dataset = schema.field(manifest, "dataset", dict, optional=True)
    if dataset is not None:
        check_dataset_record(dataset, "dataset")
    for name, entry in manifest["artifacts"].items():
        where = f"artifacts.{name}"
        schema.field(entry, "format", str, where)
        schema.field(entry, "variant", str, where, optional=True)
        _check_count(entry, "bytes", where)
        for key in ("inputs", "outputs"):
            for i, tensor in enumerate(schema.rows(entry, key, where=where)):
                schema.field(tensor, "shape", list, f"{where}.{key}[{i}]", optional=True)
    if "reference" in manifest:
        _check_count(manifest["reference"], "count", "reference")
        _check_count(manifest["reference"], "bytes", "reference")


def check_dataset_record(dataset: dict[str, Any], where: str) -> None:
    """The `dataset` record of train.json and the manifest (data.Dataset.summary())."""
    for key in ("name", "fingerprint", "source"):
        schema.field(dataset, key, str, where, optional=key == "source")
    for key in ("num_train", "num_test"):
        _check_count(dataset, key, where)


def _check_count(obj: dict[str, Any], key: str, where: str) -> None:
    count = schema.field(obj, key, int, where, optional=True)
    if count is not None and count < 0:
        raise schema.Invalid(f"{where}.{key} must be >= 0, got {count}")


def _check_file_entry(path: Path, what: str, entry: Any, also: tuple[str, ...]) -> None:
    """An entry naming a file in the bundle: plain name, hex sha256, byte count."""
    if not isinstance(entry, dict):
        raise ModelError(f"{path}: {what} must be an object, got {type(entry).__name__}")
    missing = {"file", "sha256", *also} - set(entry)
    if missing:
        raise ModelError(f"{path}: {what} lacks {', '.join(sorted(missing))}")
    name, digest = entry["file"], entry["sha256"]
    if not isinstance(name, str) or not name or Path(name).name != name or name in {".", ".."}:
        raise ModelError(f"{path}: {what} file {name!r} is not a file name inside the bundle")
    if not isinstance(digest, str) or len(digest) != 64 or not all(
        c in "0123456789abcdef" for c in digest
    ):
        raise ModelError(f"{path}: {what} sha256 {digest!r} is not 64 hex digits")


def read_verified(bundle_dir: str | os.PathLike, entry: dict[str, Any],
                  kind: input_files.InputKind = input_files.MODEL) -> bytes:
    """The bytes of a bundle file whose sha256 matches its manifest entry.

    Reads once and checks those same bytes, so what is checked is what gets loaded.
    """
    path = Path(bundle_dir) / entry["file"]
    data = input_files.read_bytes(path, kind)
    if sha256_bytes(data) != entry["sha256"]:
        raise ModelError(f"{path}: sha256 does not match the manifest (modified or corrupt)")
    return data


@dataclass(frozen=True)
class Reference:
    """Evaluation set carried in the bundle: images as uint8, labels, float-model logits."""

    images: np.ndarray  # uint8 (N, 28, 28)
    labels: np.ndarray  # int (N,)
    logits: np.ndarray  # float32 (N, 10)

    @property
    def float_accuracy(self) -> float:
        return float(np.mean(np.argmax(self.logits, axis=1) == self.labels))


def load_reference(bundle_dir: str | os.PathLike, manifest: dict[str, Any]) -> Reference:
    """Load `reference.npz` after checking its sha256, shapes and dtypes."""
    import io

    entry = manifest.get("reference")
    if entry is None:
        raise ModelError(f"{Path(bundle_dir) / MANIFEST}: no 'reference' entry")
    _check_file_entry(Path(bundle_dir) / MANIFEST, "reference", entry, ())
    data = read_verified(bundle_dir, entry, input_files.REFERENCE)
    path = Path(bundle_dir) / entry["file"]
    try:
        # Sizes from the zip directory and .npy headers first: no deflate bomb is inflated.
        with npz_files.load_npz(io.BytesIO(data), str(path), input_files.REFERENCE.max_bytes,
                                ModelError) as npz:
            images, labels, logits = npz["images"], npz["labels"], npz["logits"]
    except ModelError:
        raise
    except Exception as exc:  # zipfile/KeyError/ValueError: all mean a bad file
        raise ModelError(f"{path}: not a valid reference archive ({exc})") from None
    n = images.shape[0] if images.ndim else -1
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise ModelError(
            f"{path}: images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or (
            n and (labels.min() < 0 or labels.max() > 9)):
        raise ModelError(
            f"{path}: labels must be {n} integers in 0..9, got {labels.dtype} {labels.shape}"
        )
    if logits.shape != (n, 10) or logits.dtype != np.float32:
        raise ModelError(
            f"{path}: logits must be float32 ({n}, 10), got {logits.dtype} {logits.shape}"
        )
    if not np.isfinite(logits).all():  # a NaN would reach verify --json and the report
        raise ModelError(f"{path}: logits hold NaN or infinite values")
    if n == 0:
        raise ModelError(f"{path}: holds no images")
    return Reference(images=images, labels=labels.astype(np.int64), logits=logits)


def write_reference(bundle_dir: str | os.PathLike, ref: Reference) -> dict[str, Any]:
    """Write `reference.npz` atomically and return its manifest entry."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, images=ref.images, labels=ref.labels.astype(np.uint8),
                        logits=ref.logits.astype(np.float32))
    path = Path(bundle_dir) / REFERENCE
    write_bytes(path, buf.getvalue())
    return {**file_entry(path), "count": int(ref.images.shape[0])}
