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
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import __version__, bundle, formats
from lenet_edge.errors import DataError, LenetEdgeError, ModelError, OutputError, UsageError
from lenet_edge.gates import DEFAULT_GATES, Gates
from lenet_edge.toolchain import foreign_source, mixed_precision, splits
from lenet_edge.toolchain import forward as forward_graph
from lenet_edge.toolchain import onnx as onnx_export
from lenet_edge.toolchain.calibration import DEFAULT_CALIBRATION_SAMPLES, CalibrationChoice
from lenet_edge.toolchain.exporters import EXPORTERS, QUANTISERS, RECIPES, Sources
from lenet_edge.toolchain.model import read_train_info
from lenet_edge.variants import VARIANTS, Variant, get_variant, resolve_variants

__all__ = ["DEFAULT_CALIBRATION_SAMPLES", "RECIPES", "convert"]
Progress = Callable[[str, float], None]
TOOLS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")


def convert(
    model_dir: str | os.PathLike,
    variants: Sequence[str] | None = None,
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
    opset: int | None = None,
    progress: Progress | None = None,
    *,
    calibration_method: str = "minmax",
    per_channel: bool = True,
    gates: Gates = DEFAULT_GATES,
    foreign: foreign_source.ForeignSource | None = None,
) -> dict[str, Any]:
    """Convert the model `lenet-edge train` wrote in `model_dir` and write the bundle there.

    Args:
        model_dir: a trained model directory (train.json + weights); the bundle goes beside.
            With `foreign`: the Keras model file or SavedModel folder (foreign_source.py).
        variants: names from the catalogue; None or empty converts the default ones (all
            but the -mixed ones). Entries for other variants already in the manifest are kept if
            they came from the same weights.
        calibration_samples: training images (drawn with the training seed) that calibrate
            the int8, int16x8, onnx-int8 and -mixed variants.
        opset: ONNX opset (default 17).
        progress: called as progress(variant, seconds) after each variant converts.
        calibration_method: minmax, entropy or percentile (onnx-int8; TFLite is min/max).
        per_channel: weight scales per output channel (else per tensor) where calibrated.
        gates: what the -mixed variants must pass on held-out images (verify: on the test set).
        foreign: a model lenet-edge did not train: its dataset, bundle folder and input range.

    Returns:
        The manifest written to model_dir/manifest.json.

    Raises:
        UsageError: unknown variant, bad calibration size or choice, unsupported opset, no
            held-out images for a -mixed variant.
        ModelError: no trained model, or weights missing or not matching train.json.
        DataError: the training dataset cannot be loaded or has changed since training.
        OutputError: model_dir cannot be written.
        LenetEdgeError (exit 1): a -mixed variant passes the gates with no mix of float layers;
            the other variants are written, its best try is kept aside (not in the bundle).
    """
    model_dir = Path(model_dir)
    chosen = resolve_variants(variants)
    choice = CalibrationChoice(calibration_samples, calibration_method, per_channel)
    choice.check(chosen, RECIPES)
    opset = onnx_export.DEFAULT_OPSET if opset is None else opset
    if opset not in onnx_export.SUPPORTED_OPSETS:
        allowed = onnx_export.SUPPORTED_OPSETS
        raise UsageError(f"unsupported opset {opset}; choose from {allowed.start}..{allowed[-1]}")
    if foreign is not None:
        foreign.check_out()
        info = foreign.info()  # loads the dataset (no TF yet) for its counts
    else:
        info = read_train_info(model_dir)
    num_train = int(info.get("dataset", {}).get("num_train", 0))
    if not 1 <= calibration_samples <= num_train:
        raise UsageError(f"--calibration-samples {calibration_samples}: must be between 1 and "
                         f"{num_train} (the training images of {info['config']['dataset']})")
    slices = _slices(info, calibration_samples, any(v.gated for v in chosen))
    if foreign is not None:
        sources, reference, hashes = foreign.prepare(slices, opset)
        out_dir = foreign.out
    else:
        _check_weights(model_dir, info)
        sources, reference, hashes = _prepare(model_dir, info, slices, opset)
        out_dir = model_dir
    converted: dict[str, tuple[Variant, bytes, dict[str, Any]]] = {}
    failed: dict[str, tuple[Variant, mixed_precision.MixedResult]] = {}
    for variant in chosen:
        recipe = choice.apply(RECIPES[variant.format][variant.name])
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        found = None
        try:
            if recipe.accuracy_gated:
                found = mixed_precision.search(QUANTISERS[variant.format](recipe, sources),
                                               sources.held_out, gates)
                data = found.model
                extra = {"sensitivity": found.sensitivity,
                         "mixed_precision": found.record(gates, hashes["held_out"])}
            else:
                data = EXPORTERS[variant.format](recipe, sources)
        except Exception as exc:  # a foreign model's layer the converter refuses: one line
            if foreign is None or isinstance(exc, LenetEdgeError):
                raise
            raise foreign.export_error(variant.name, exc) from None
        seconds = time.perf_counter() - started
        if found is not None and not found.passed:
            failed[variant.name] = (variant, found)
        else:
            described = formats.describe(data, variant.format, variant.file).as_manifest()
            described["converter"] = {
                "recipe": recipe.as_manifest(),
                "calibration": (choice.record(recipe, info["config"]["seed"],
                                              hashes["calibration"])
                                if recipe.calibrate else None),
                "seconds": round(seconds, 3),
            }
            converted[variant.name] = (variant, data, {**described, **extra})
        if progress:
            progress(variant.name, seconds)
    _share_sensitivity(converted)
    if foreign is not None:
        foreign.make_out()
    origin = foreign.manifest_fields() if foreign is not None else {
        "train_config": info["config"], "weights": bundle.file_entry(model_dir / bundle.WEIGHTS)}
    manifest = _write_bundle(out_dir, info, reference, converted, origin, dropped=set(failed))
    if failed:  # after the bundle: the variants that did convert are written
        raise LenetEdgeError("; ".join(_keep_aside(out_dir, variant, found, gates)
                                       for variant, found in failed.values()))
    return manifest


def _check_weights(model_dir: Path, info: dict) -> None:
    """The trained weights are there, match train.json, and the folder takes the bundle."""
    weights = model_dir / bundle.WEIGHTS
    if not weights.is_file():
        raise ModelError(f"{weights}: missing; retrain with 'lenet-edge train --out {model_dir}'")
    recorded = info.get("weights", {}).get("sha256")
    if recorded and bundle.sha256_file(weights) != recorded:  # load_trained checks too, later
        raise ModelError(f"{weights}: sha256 does not match train.json (modified or corrupt)")
    if not os.access(model_dir, os.W_OK):
        raise OutputError(f"cannot write {model_dir}: permission denied")


def _slices(info: dict, calibration_samples: int, held_out: bool) -> dict[str, np.ndarray]:
    """Indices into the training split: calibration images and (for -mixed) held-out ones.

    Raises:
        UsageError: a -mixed variant is chosen and no training image is held out for it.
    """
    config, num_train = info["config"], int(info["dataset"]["num_train"])
    picked = {"calibration": splits.calibration_indices(num_train, calibration_samples,
                                                        config["seed"])}
    if held_out:
        split = float(config.get("validation_split", 0))
        picked["held_out"] = splits.held_out_indices(num_train, split, config["seed"],
                                                     picked["calibration"])
        if not len(picked["held_out"]):
            raise UsageError(
                "the -mixed variants are judged on the training run's validation slice, minus the "
                f"calibration images: none is left (validation split {split:g}, "
                f"{calibration_samples} calibration images); use fewer --calibration-samples "
                "or retrain with a --validation-split")
    return picked


def _share_sensitivity(converted: dict[str, tuple[Variant, bytes, dict[str, Any]]]) -> None:
    """int8 (onnx-int8) converted in the same run as int8-mixed (onnx-int8-mixed) is the
    search's all-int8 start (same recipe, same calibration images): give it the sensitivity
    measured there (explain shows it)."""
    for plain, mixed in (("int8", "int8-mixed"), ("onnx-int8", "onnx-int8-mixed")):
        if plain in converted and mixed in converted:
            converted[plain][2]["sensitivity"] = converted[mixed][2]["sensitivity"]


def _keep_aside(model_dir: Path, variant: Variant, found: mixed_precision.MixedResult,
                gates: Gates) -> str:
    """Write a gated variant's best try beside the bundle; say so (convert then exits 1)."""
    path = model_dir / variant.candidate_file
    bundle.write_bytes(path, found.model)
    best = found.result
    layers = ", ".join(best.float_layers) or "no layer"
    reasons = ", ".join(gates.failures(best.delta_points, best.agreement))
    return (f"{variant.name}: no mix of float layers passes the gates on the held-out "
            f"training images; the best keeps {layers} in float ({reasons}); kept aside as "
            f"{path}, not in the bundle")


def _prepare(model_dir: Path, info: dict, slices: dict[str, np.ndarray], opset: int):
    """Load data and model; return the exporters' sources, the float reference and the
    records of the images drawn (calibration's sha256; the held-out slice's size and sha256)."""
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
    raw = np.asarray(dataset.x_train)[slices["calibration"]]
    calibration = preprocess(raw)
    hashes: dict[str, Any] = {"calibration": splits.images_sha256(raw)}
    logits = model.predict(preprocess(dataset.x_test), batch_size=1024, verbose=0)
    reference = bundle.Reference(images=np.asarray(dataset.x_test), labels=dataset.y_test,
                                 logits=np.asarray(logits, dtype=np.float32))
    forward = forward_graph.forward_function(model)
    forward_graph.check_same_as_model(forward, model, calibration[:32])
    sources = Sources(forward=forward, calibration=calibration, opset=opset)
    if "held_out" in slices:
        sources.held_out, hashes["held_out"] = mixed_precision.held_out_slice(
            dataset, slices["held_out"], "train (validation slice)", preprocess,
            lambda images: model.predict(images, batch_size=1024, verbose=0))
    return sources, reference, hashes


def _write_bundle(model_dir: Path, info: dict, reference: bundle.Reference,
                  converted: dict[str, tuple[Variant, bytes, dict[str, Any]]],
                  origin: dict[str, Any], dropped: set[str]) -> dict[str, Any]:
    """Write the artifacts, reference.npz, then the manifest; `dropped` variants (a gated one
    that failed this run) lose their old entry and file: they describe other gates.

    `origin`: what the model came from: `train_config` and `weights` (the weights file, as
    loaded: sha256-checked), or a foreign model's `source_model`, `input_range`, `output_kind`.
    """
    artifacts = _kept_artifacts(model_dir, origin)
    for name in dropped:
        artifacts.pop(name, None)
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
        **origin,
        "float_test_accuracy": reference.float_accuracy,
        "reference": bundle.write_reference(model_dir, reference),
        "artifacts": _catalogue_order(artifacts),
    }
    bundle.write_json(model_dir / bundle.MANIFEST, manifest)
    for name in dropped:  # no longer vouched for: gone, so no one takes it for the variant
        (model_dir / get_variant(name).file).unlink(missing_ok=True)
    return manifest


def _kept_artifacts(model_dir: Path, origin: dict[str, Any]) -> dict[str, Any]:
    """Entries of an existing manifest that still describe these weights (else none): the
    same weights file, or the same foreign model fed the same input range."""
    try:
        previous = bundle.read_manifest(model_dir)
    except ModelError:  # no manifest yet, or a broken one this run replaces
        return {}

    def identity(manifest: dict[str, Any]) -> tuple:
        return ((manifest.get("weights") or {}).get("sha256"),
                (manifest.get("source_model") or {}).get("sha256"), manifest.get("input_range"))

    if identity(previous) != identity(origin):
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
