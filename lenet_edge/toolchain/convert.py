"""Turn a trained model directory into a model bundle: the variants, reference.npz, manifest.json.

The order is what makes it dependable: every input is checked before TensorFlow loads; every
variant is converted in memory before the first file is touched; then each artifact is written
atomically, then reference.npz, then the manifest last. A run that fails early changes
nothing; one that dies while writing leaves files the old manifest no longer vouches for,
which every reader refuses (sha256) rather than loads.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import __version__, bundle, formats
from lenet_edge.errors import DataError, ModelError, OutputError, UsageError
from lenet_edge.toolchain import forward as forward_graph
from lenet_edge.toolchain import onnx as onnx_export
from lenet_edge.toolchain import tflite as tflite_export
from lenet_edge.toolchain.model import read_train_info
from lenet_edge.variants import VARIANTS, Variant, resolve_variants

DEFAULT_CALIBRATION_SAMPLES = 500
Progress = Callable[[str, float], None]
RECIPES: dict[str, dict[str, Any]] = {"tflite": tflite_export.RECIPES, "onnx": onnx_export.RECIPES}
TOOLS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")


@dataclass
class _Sources:
    """What one run's exporters share; the frozen graph and float ONNX are built once."""

    forward: Any  # forward.forward_function(model)
    calibration: np.ndarray
    opset: int
    _frozen: Any = field(default=None, repr=False)
    _float_onnx: bytes | None = field(default=None, repr=False)

    def frozen(self):
        if self._frozen is None:
            self._frozen = forward_graph.frozen(self.forward)
        return self._frozen

    def float_onnx(self) -> bytes:
        if self._float_onnx is None:
            self._float_onnx = onnx_export.export_float_onnx(self.forward, self.opset)
        return self._float_onnx


def _tflite_artifact(recipe, sources: _Sources) -> bytes:
    return tflite_export.export_tflite(sources.frozen(), recipe, sources.calibration)


def _onnx_artifact(recipe, sources: _Sources) -> bytes:
    return onnx_export.export_onnx(sources.float_onnx(), recipe, sources.calibration)


# One exporter per format; what each file declares is read back by the format's describer
# (lenet_edge.formats), the same one inspect and the runtime use.
EXPORTERS: dict[str, Callable[[Any, _Sources], bytes]] = {
    "tflite": _tflite_artifact,
    "onnx": _onnx_artifact,
}


def convert(
    model_dir: str | os.PathLike,
    variants: Sequence[str] | None = None,
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
    opset: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Convert the model `lenet-edge train` wrote in `model_dir` and write the bundle there.

    Args:
        model_dir: a trained model directory (train.json + weights); the bundle goes beside.
        variants: names from the catalogue; None or empty converts all of them. Entries for
            other variants already in the manifest are kept if they came from the same weights.
        calibration_samples: training images (drawn with the training seed) that calibrate
            the int8/int16x8/onnx-int8 variants.
        opset: ONNX opset (default 17).
        progress: called as progress(variant, seconds) after each variant converts.

    Returns:
        The manifest written to model_dir/manifest.json.

    Raises:
        UsageError: unknown variant, bad calibration size, unsupported opset.
        ModelError: no trained model, or weights missing or not matching train.json.
        DataError: the training dataset cannot be loaded or has changed since training.
        OutputError: model_dir cannot be written.
    """
    model_dir = Path(model_dir)
    chosen = resolve_variants(variants)
    opset = onnx_export.DEFAULT_OPSET if opset is None else opset
    if opset not in onnx_export.SUPPORTED_OPSETS:
        allowed = onnx_export.SUPPORTED_OPSETS
        raise UsageError(f"unsupported opset {opset}; choose from {allowed.start}..{allowed[-1]}")
    info = read_train_info(model_dir)
    num_train = int(info.get("dataset", {}).get("num_train", 0))
    if not 1 <= calibration_samples <= num_train:
        raise UsageError(f"--calibration-samples {calibration_samples}: must be between 1 and "
                         f"{num_train} (the training images of {info['config']['dataset']})")
    weights = model_dir / bundle.WEIGHTS
    if not weights.is_file():
        raise ModelError(f"{weights}: missing; retrain with 'lenet-edge train --out {model_dir}'")
    recorded = info.get("weights", {}).get("sha256")
    if recorded and bundle.sha256_file(weights) != recorded:  # load_trained checks too, later
        raise ModelError(f"{weights}: sha256 does not match train.json (modified or corrupt)")
    if not os.access(model_dir, os.W_OK):
        raise OutputError(f"cannot write {model_dir}: permission denied")

    sources, reference = _prepare(model_dir, info, calibration_samples, opset)
    converted: dict[str, tuple[Variant, bytes, dict[str, Any]]] = {}
    for variant in chosen:
        recipe = RECIPES[variant.format][variant.name]
        started = time.perf_counter()
        data = EXPORTERS[variant.format](recipe, sources)
        seconds = time.perf_counter() - started
        described = formats.describe(data, variant.format, variant.file).as_manifest()
        described["converter"] = {
            "recipe": recipe.as_manifest(),
            "calibration": ({"samples": calibration_samples, "seed": info["config"]["seed"],
                             "split": "train"} if recipe.calibrate else None),
            "seconds": round(seconds, 3),
        }
        converted[variant.name] = (variant, data, described)
        if progress:
            progress(variant.name, seconds)
    return _write_bundle(model_dir, info, reference, converted)


def _prepare(model_dir: Path, info: dict, calibration_samples: int, opset: int):
    """Load data and model; return the exporters' sources and the float reference."""
    from lenet_edge.data import datasets as data
    from lenet_edge.data.preprocess import preprocess
    from lenet_edge.toolchain.model import load_trained

    config = info["config"]
    dataset = data.load_dataset(config["dataset"], config.get("data_dir"))
    trained_on = info.get("dataset", {}).get("fingerprint")
    if trained_on and dataset.fingerprint != trained_on:
        raise DataError(f"{config['dataset']} from {dataset.source} differs from the data "
                        f"{model_dir} was trained on (fingerprint {dataset.fingerprint[:12]} "
                        f"!= {trained_on[:12]}); convert where it was trained, or retrain")
    model, info = load_trained(model_dir)
    picked = np.random.default_rng(config["seed"]).choice(
        dataset.num_train, size=calibration_samples, replace=False
    )
    calibration = preprocess(dataset.x_train[np.sort(picked)])
    logits = model.predict(preprocess(dataset.x_test), batch_size=1024, verbose=0)
    reference = bundle.Reference(images=np.asarray(dataset.x_test), labels=dataset.y_test,
                                 logits=np.asarray(logits, dtype=np.float32))
    forward = forward_graph.forward_function(model)
    forward_graph.check_same_as_model(forward, model, calibration[:32])
    return _Sources(forward=forward, calibration=calibration, opset=opset), reference


def _write_bundle(model_dir: Path, info: dict, reference: bundle.Reference,
                  converted: dict[str, tuple[Variant, bytes, dict[str, Any]]]) -> dict[str, Any]:
    weights = bundle.file_entry(model_dir / bundle.WEIGHTS)  # what was loaded: sha256-checked
    artifacts = _kept_artifacts(model_dir, weights["sha256"])
    for name, (variant, data, described) in converted.items():
        path = model_dir / variant.file
        bundle.write_bytes(path, data)
        artifacts[name] = {"variant": name, "format": variant.format, "file": variant.file,
                           "sha256": bundle.sha256_bytes(data), "bytes": len(data), **described}
    manifest = {
        "schema_version": bundle.SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool_versions": tool_versions(),
        "dataset": info["dataset"],
        "train_config": info["config"],
        "float_test_accuracy": reference.float_accuracy,
        "weights": weights,
        "reference": bundle.write_reference(model_dir, reference),
        "artifacts": _catalogue_order(artifacts),
    }
    bundle.write_json(model_dir / bundle.MANIFEST, manifest)
    return manifest


def _kept_artifacts(model_dir: Path, weights_sha256: str) -> dict[str, Any]:
    """Entries of an existing manifest that still describe these weights (else none)."""
    try:
        previous = bundle.read_manifest(model_dir)
    except ModelError:  # no manifest yet, or a broken one this run replaces
        return {}
    if previous.get("weights", {}).get("sha256") != weights_sha256:
        return {}  # converted from other weights: stale
    return dict(previous["artifacts"])


def _catalogue_order(artifacts: dict[str, Any]) -> dict[str, Any]:
    known = [v.name for v in VARIANTS if v.name in artifacts]
    return {name: artifacts[name] for name in [*known, *sorted(set(artifacts) - set(known))]}


def tool_versions() -> dict[str, str]:
    """Versions of lenet-edge, Python and the installed converter packages."""
    versions = {"lenet-edge": __version__, "python": platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
