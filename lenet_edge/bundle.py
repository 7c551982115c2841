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
                             "opset" (onnx), "converter": {"recipe", "calibration",
                             "seconds"}, "sensitivity", "mixed_precision" (int8-mixed)}}}
    tensor = {"name", "shape", "dtype", "scale": float|null, "zero_point": int|null}

A model lenet-edge did not train (`convert MODEL.keras --dataset NAME`) has no train_config
or weights; its manifest records instead `source_model` (path, kind, sha256, input shape,
classes, layers, how its conventions were read: toolchain/foreign_source.py), `input_range`
("0-1" or "0-255": what every variant takes; absent means 0-1) and `output_kind` ("logits" or
"probabilities": what the variants and reference.npz's logits are; absent means logits).

The calibration, sensitivity and mixed-precision fields: lenet_edge/conversion_records.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import schema
from lenet_edge.conversion_records import (
    CalibrationRecord,
    MixedPrecisionRecord,
    check_sensitivity,
)
from lenet_edge.errors import ModelError
from lenet_edge.files import input_files, npz_files, output_files

SCHEMA_VERSION = 1
INPUT_RANGES = ("0-1", "0-255")  # what a bundle's models take: 0-1 floats or 0-255 pixels
OUTPUT_KINDS = ("logits", "probabilities")
MANIFEST = "manifest.json"
REFERENCE = "reference.npz"
TRAIN_JSON = "train.json"
WEIGHTS = "lenet5.weights.h5"
KERAS_MODEL = "lenet5.keras"
CURVES_PNG = "training_curves.png"
VERIFY_JSON = "verify.json"  # `lenet-edge verify --json` kept in the bundle (pipeline, report)
BENCHMARK_JSON = "benchmark.json"  # `lenet-edge benchmark --json` kept in the bundle
EXPLAIN_JSON = "explain.json"  # `lenet-edge explain --json` kept in the bundle (report)
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
    """`manifest.json` as written, after Manifest.from_dict checked it: the runtime's callers
    index it, and keys this lenet-edge does not know (a newer convert's) pass through.

    Raises:
        ModelError: no manifest, unreadable, or a field of the wrong shape (the file named).
    """
    return _read_manifest(bundle_dir)[1]


def load_manifest(bundle_dir: str | os.PathLike) -> Manifest:
    """`manifest.json` as a checked Manifest record; ModelError as read_manifest."""
    return _read_manifest(bundle_dir)[0]


def _read_manifest(bundle_dir: str | os.PathLike) -> tuple[Manifest, dict[str, Any]]:
    path = Path(bundle_dir) / MANIFEST
    if not Path(bundle_dir).is_dir():
        raise ModelError(f"{bundle_dir}: not a directory (expected a model bundle)")
    if not os.path.lexists(path):  # a FIFO, device, folder or link loop: read_json names it
        raise ModelError(f"{path}: no manifest; run 'lenet-edge convert {bundle_dir}' first")
    data = input_files.read_json(path, input_files.MANIFEST)
    try:
        return Manifest.from_dict(data), data
    except schema.Invalid as exc:
        raise ModelError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class DatasetRecord:
    """The `dataset` record of train.json and the manifest (data.Dataset.summary())."""

    name: str
    fingerprint: str
    source: str | None = None
    num_train: int | None = None
    num_test: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> DatasetRecord:
        f = schema.field
        return cls(f(data, "name", str, where), f(data, "fingerprint", str, where),
                   f(data, "source", str, where, optional=True),
                   *(_count(data, key, where) for key in ("num_train", "num_test")))


@dataclass(frozen=True)
class Manifest:
    """manifest.json (the module docstring has its shape).

    Only `schema_version` and `artifacts` are required: a bundle made by hand (tests, an
    older convert) with artifacts only still reads. Every other field is typed when present.
    Artifact entries stay objects (their tensors are the formats' business); their file
    name, sha256, format and byte count are checked here.
    """

    artifacts: dict[str, dict[str, Any]]
    reference: dict[str, Any] | None = None  # file, sha256, bytes, count
    created: str | None = None
    tool_versions: dict[str, str] = dataclasses.field(default_factory=dict)
    dataset: DatasetRecord | None = None
    train_config: dict[str, Any] | None = None
    float_test_accuracy: float | None = None
    weights: dict[str, Any] | None = None  # file entry of the weights converted from
    source_model: dict[str, Any] | None = None  # a foreign model, in place of train_config
    input_range: str = INPUT_RANGES[0]
    output_kind: str = OUTPUT_KINDS[0]
    schema_version: int = SCHEMA_VERSION

    @property
    def dataset_name(self) -> str:
        return self.dataset.name if self.dataset else "?"

    def calibration(self, variant: str) -> CalibrationRecord | None:
        """How `variant` was calibrated; None for a float variant or a hand-made entry."""
        found = self.artifacts[variant].get("converter", {}).get("calibration")
        return None if found is None else CalibrationRecord.from_dict(found, variant)

    def mixed_precision(self, variant: str) -> MixedPrecisionRecord | None:
        """The accuracy-gated search that made `variant` (int8-mixed), if it was one."""
        found = self.artifacts[variant].get("mixed_precision")
        return None if found is None else MixedPrecisionRecord.from_dict(found, variant)

    def to_dict(self) -> dict[str, Any]:
        data = {"schema_version": self.schema_version, "created": self.created,
                "tool_versions": self.tool_versions,
                "dataset": self.dataset.to_dict() if self.dataset else None,
                "train_config": self.train_config,
                "float_test_accuracy": self.float_test_accuracy, "weights": self.weights,
                "source_model": self.source_model,
                "input_range": None if self.input_range == INPUT_RANGES[0] else self.input_range,
                "output_kind": None if self.output_kind == OUTPUT_KINDS[0] else self.output_kind,
                "reference": self.reference, "artifacts": self.artifacts}
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """A checked manifest; schema.Invalid says what is wrong (the reader names the file)."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise schema.Invalid(f"schema_version {version!r}, this lenet-edge reads "
                                 f"{SCHEMA_VERSION}")
        artifacts = data.get("artifacts")
        if not isinstance(artifacts, dict):
            raise schema.Invalid("'artifacts' must be an object keyed by variant")
        for name, entry in artifacts.items():
            check_file_entry(entry, f"artifact {name!r}", ("format", "inputs", "outputs"))
        if "reference" in data:
            check_file_entry(data["reference"], "reference")
        f = schema.field
        accuracy = f(data, "float_test_accuracy", float, optional=True)
        if accuracy is not None and not 0 <= accuracy <= 1:
            raise schema.Invalid(f"float_test_accuracy must be in 0..1, got {accuracy}")
        dataset = f(data, "dataset", dict, optional=True)
        tool_versions = schema.strings(data, "tool_versions", optional=True) or {}
        for name, entry in artifacts.items():
            _check_artifact(entry, f"artifacts.{name}")
        if "reference" in data:
            for key in ("count", "bytes"):
                _count(data["reference"], key, "reference")
        return cls(
            artifacts=artifacts, reference=data.get("reference"),
            created=f(data, "created", str, optional=True), tool_versions=tool_versions,
            dataset=None if dataset is None else DatasetRecord.from_dict(dataset, "dataset"),
            train_config=f(data, "train_config", dict, optional=True),
            float_test_accuracy=accuracy, weights=f(data, "weights", dict, optional=True),
            source_model=f(data, "source_model", dict, optional=True),
            input_range=_one_of(data, "input_range", INPUT_RANGES),
            output_kind=_one_of(data, "output_kind", OUTPUT_KINDS),
        )


def _one_of(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    """`data[key]` if one of `allowed`; absent (an older bundle) is the first of them."""
    value = schema.field(data, key, str, optional=True)
    if value is None:
        return allowed[0]
    if value not in allowed:
        raise schema.Invalid(f"{key} {value!r} is not one of {', '.join(allowed)}")
    return value


def _check_artifact(entry: dict[str, Any], where: str) -> None:
    """The fields of an artifact entry the report, predict, deploy and explain compute with."""
    schema.field(entry, "format", str, where)
    schema.field(entry, "variant", str, where, optional=True)
    _count(entry, "bytes", where)
    for key in ("inputs", "outputs"):
        for i, tensor in enumerate(schema.rows(entry, key, where=where)):
            schema.field(tensor, "shape", list, f"{where}.{key}[{i}]", optional=True)
    # How it was quantised (conversion_records.py); all optional: older bundles lack them.
    converter = schema.field(entry, "converter", dict, where, optional=True) or {}
    if converter.get("calibration") is not None:
        CalibrationRecord.from_dict(converter["calibration"], f"{where}.converter.calibration")
    if "sensitivity" in entry:
        check_sensitivity(entry["sensitivity"], f"{where}.sensitivity")
    if "mixed_precision" in entry:
        MixedPrecisionRecord.from_dict(entry["mixed_precision"], f"{where}.mixed_precision")


def _count(obj: dict[str, Any], key: str, where: str) -> int | None:
    count = schema.field(obj, key, int, where, optional=True)
    if count is not None and count < 0:
        raise schema.Invalid(f"{where}.{key} must be >= 0, got {count}")
    return count


def check_file_entry(entry: Any, what: str, also: tuple[str, ...] = ()) -> None:
    """An entry naming a file in the bundle: plain name, hex sha256, byte count.

    Raises:
        schema.Invalid: what is wrong, `what` (e.g. "artifact 'fp32'") named.
    """
    if not isinstance(entry, dict):
        raise schema.Invalid(f"{what} must be an object, got {type(entry).__name__}")
    missing = {"file", "sha256", *also} - set(entry)
    if missing:
        raise schema.Invalid(f"{what} lacks {', '.join(sorted(missing))}")
    name, digest = entry["file"], entry["sha256"]
    if not isinstance(name, str) or not name or Path(name).name != name or name in {".", ".."}:
        raise schema.Invalid(f"{what} file {name!r} is not a file name inside the bundle")
    if not isinstance(digest, str) or len(digest) != 64 or not all(
        c in "0123456789abcdef" for c in digest
    ):
        raise schema.Invalid(f"{what} sha256 {digest!r} is not 64 hex digits")


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
    try:
        check_file_entry(entry, "reference")
    except schema.Invalid as exc:
        raise ModelError(f"{Path(bundle_dir) / MANIFEST}: {exc}") from None
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
