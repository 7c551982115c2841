"""Classify images with a converted model: a bundle variant or a bare .tflite / .onnx file.

TF-free: numpy, one interpreter, and Pillow for pictures (all in `lenet-edge[runtime]`).

    from lenet_edge.runtime.predict import predict
    result = predict("model/", ["seven.png", "batch.npy"], top_k=3)
    for p in result.predictions:
        print(p.image, p.top[0].label, p.top[0].probability)

Models are loaded only once vouched for: a bundle artifact (or a file the bundle next to it
lists) must match its manifest's sha256; a bare file is checked by the pure-Python reader and
then loaded once in a child process (as `inspect` does) before this process loads it, so a
file that crashes the interpreter cannot take the command down with a core dump.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import bundle, formats
from lenet_edge.data.classes import CLASS_NAMES
from lenet_edge.data.image_files import Images, read_images
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.runtime.adapted_model import AdaptedModel, adapt
from lenet_edge.runtime.input_ranges import check_input_range, recorded_input_range
from lenet_edge.runtime.model_file import open_model_file
from lenet_edge.runtime.output_kind import softmax  # noqa: F401 - callers import it from here
from lenet_edge.runtime.plan import plan_jobs, read_artifacts
from lenet_edge.runtime.runner import load_runner
from lenet_edge.runtime.runtimes import AUTO, auto_runtime, get_runtime
from lenet_edge.variants import VARIANT_NAMES, get_variant

DEFAULT_VARIANT = "fp32"  # the reference conversion: what the float model would say
# A top probability under this gets a note. Measured on a digits bundle's 359 reference
# images: 2 of its 3 wrong answers are under 0.5 and 4 of 356 right ones (1%); at 0.7 it
# would be 18 right ones for no more wrong ones caught. Badly framed pictures (half a page
# taken for the digit) scored 0.15-0.3 before photos were framed by their largest ink.
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ClassScore:
    """One class of a prediction: its index, its name and its softmax probability."""

    index: int
    label: str
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.index, "label": self.label, "probability": self.probability}


@dataclass(frozen=True)
class ImagePrediction:
    """The top-k classes of one image, most probable first, and notes on its reliability."""

    image: str
    top: tuple[ClassScore, ...]
    warnings: tuple[str, ...] = ()  # a tiny digit in its picture, a low top probability

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "predictions": [c.to_dict() for c in self.top],
                "warnings": list(self.warnings)}


@dataclass(frozen=True)
class PredictResult:
    """What ran (model, variant, runtime) and one ImagePrediction per image, in input order."""

    model: str
    variant: str | None  # None for a bare model file no bundle lists
    variant_reason: str  # why this variant: "requested", "default", ...
    runtime: str
    runtime_version: str
    dataset: str | None
    predictions: list[ImagePrediction]
    outputs: str = "logits"  # what the model gives: "logits" or "probabilities"
    input: str = ""  # the model's input as fed: dtype, layout, range and why that range

    def to_list(self) -> list[dict[str, Any]]:
        """The `--json` output: [{image, predictions: [{class, label, probability}],
        warnings: [str]}]."""
        return [p.to_dict() for p in self.predictions]


def predict(model: str | os.PathLike, images: Sequence[str | os.PathLike] | np.ndarray,
            top_k: int = 3, variant: str | None = None, runtime: str = AUTO,
            input_range: str = AUTO) -> PredictResult:
    """Classify pictures, .npy batches or an array of frames; return the top-k classes of each.

    Args:
        model: a bundle folder, or a .tflite / .onnx file.
        images: paths (PNG, JPEG, BMP, or .npy batches: see `lenet_edge.data.image_files`), or a
            uint8 array (N, 28, 28) of MNIST-form frames, named `array[i]`.
        top_k: classes per image, 1..number of classes.
        variant: the bundle variant to use; None picks fp32 when present and runnable, else
            the first runnable variant in catalogue order. Not allowed with a model file.
        runtime: "auto" or a runtime name (see `lenet_edge.runtime.runtimes`).
        input_range: what a model file takes: "auto", "0-1" or "0-255" (the rule is in
            runtime/input_adapter.py). A bundle's manifest says it; not allowed with one.

    Returns:
        A PredictResult; probabilities are the softmax of the model's logits, or the model's
        own outputs when they already are probabilities (runtime/output_kind.py).

    Raises:
        UsageError: bad top_k, unknown variant, runtime or input range, a variant given with
            a model file, an input range with a bundle.
        DataError: an image cannot be read (nothing is predicted then; the file is named).
        ModelError: missing, corrupt or tampered model, wrong input shape, or a runtime
            that cannot run it (IncompatibleModelError).
        MissingDependencyError: no interpreter for the format, or no Pillow for pictures.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise UsageError(f"--top-k must be an integer >= 1, got {top_k!r}")
    check_input_range(input_range)
    _check_order(model, images)
    read = _frames(images)  # every image checked before any model loads
    path = Path(model)
    if path.is_dir():
        if input_range != AUTO:
            raise UsageError(_BUNDLE_RANGE)
        loaded = _load_from_bundle(path, variant, runtime, reason=None)
    elif path.is_file():
        loaded = _load_model_file(path, variant, runtime, input_range)
    else:
        raise ModelError(f"{path}: no such file or directory (expected a model bundle or a "
                         ".tflite / .onnx file)")
    model_run, meta = loaded
    probabilities, kind = model_run.probabilities(preprocess(read.frames))
    class_names = _class_names(meta["dataset"], probabilities.shape[1])
    if top_k > len(class_names):
        raise UsageError(f"--top-k {top_k} exceeds the model's {len(class_names)} classes")
    predictions = [_top(name, p, class_names, top_k, notes)
                   for name, p, notes in zip(read.names, probabilities, read.notes, strict=True)]
    runner = model_run.runner
    return PredictResult(model=str(path), runtime=runner.runtime,
                         runtime_version=runner.runtime_version, predictions=predictions,
                         outputs=kind, input=model_run.adapter.describe(), **meta)


_BUNDLE_RANGE = ("--input-range applies to a model file; a bundle's manifest records what its "
                 "models take")


# --- models --------------------------------------------------------------------------------


def _load_from_bundle(bundle_dir: Path, variant: str | None, runtime: str,
                      reason: str | None) -> tuple[AdaptedModel, dict[str, Any]]:
    manifest = bundle.read_manifest(bundle_dir)
    if variant is None:
        variant, reason = _default_variant(manifest["artifacts"], runtime)
    jobs, _ = plan_jobs(manifest, [variant], [runtime])
    job = jobs[0]  # one named variant on one runtime: plan_jobs raises rather than return none
    data = read_artifacts(bundle_dir, [job])[job.variant]
    runner = load_runner(data, job.entry["format"], job.runtime.name)
    adapted = adapt(runner, data, job.entry["format"], recorded_input_range(manifest, job.entry),
                    str(bundle_dir / job.entry["file"]))
    dataset = manifest.get("dataset")
    dataset = dataset.get("name") if isinstance(dataset, dict) else None
    return adapted, {"variant": job.variant, "variant_reason": reason or "requested",
                     "dataset": dataset}



def _default_variant(artifacts: dict[str, Any], runtime: str) -> tuple[str, str]:
    """fp32 if the bundle has it and something here runs it, else the first runnable one."""
    known = [v for v in VARIANT_NAMES if v in artifacts]
    if not known:
        raise ModelError("the bundle holds no converted variants; run 'lenet-edge convert'")
    ordered = sorted(known, key=lambda v: v != DEFAULT_VARIANT)  # stable: fp32 first

    def runnable(name: str) -> bool:
        fmt = artifacts[name]["format"]
        if runtime == AUTO:
            return fmt in formats.FORMAT_NAMES and auto_runtime(fmt) is not None
        return get_runtime(runtime).format == fmt

    chosen = next((v for v in ordered if runnable(v)), ordered[0])
    if chosen == DEFAULT_VARIANT:
        return chosen, "default"
    if DEFAULT_VARIANT not in artifacts:
        return chosen, f"the bundle has no {DEFAULT_VARIANT}"
    if runtime == AUTO:
        return chosen, f"no {artifacts[DEFAULT_VARIANT]['format']} runtime is installed"
    return chosen, f"{DEFAULT_VARIANT} does not run on {runtime}"


def _load_model_file(path: Path, variant: str | None, runtime: str,
                     input_range: str) -> tuple[AdaptedModel, dict[str, Any]]:
    listed = _listing_variant(path)
    if listed is not None:
        if variant is not None and get_variant(variant).name != listed:
            raise UsageError(f"{path} is variant {listed!r} of its bundle, not {variant!r}; "
                             f"pass the bundle folder {path.parent} to choose a variant")
        if input_range != AUTO:
            raise UsageError(f"{path} is variant {listed!r} of its bundle: {_BUNDLE_RANGE}")
        return _load_from_bundle(path.parent, listed, runtime, reason="the file given")
    if variant is not None:
        raise UsageError(f"--variant applies to a bundle folder; {path} is a model file")
    model_file = open_model_file(path, runtime)
    adapted = adapt(model_file.load(), model_file.data, model_file.format, input_range,
                    str(path))
    return adapted, {"variant": None, "variant_reason": "a model file", "dataset": None}


def _listing_variant(path: Path) -> str | None:
    """The variant whose file `path` is, if a bundle manifest beside it lists it."""
    if not (path.parent / bundle.MANIFEST).is_file():
        return None
    manifest = bundle.read_manifest(path.parent)
    return next((name for name, entry in manifest["artifacts"].items()
                 if entry["file"] == path.name and name in VARIANT_NAMES), None)


# --- images and classes --------------------------------------------------------------------


def _check_order(model: str | os.PathLike,
                 images: Sequence[str | os.PathLike] | np.ndarray) -> None:
    """A model among the images is arguments swapped (`predict x.npy MODEL`): say so, rather
    than "MODEL: not a file" from the image reader."""
    if isinstance(images, np.ndarray):
        return
    paths = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    for image in map(Path, paths):
        if image.is_dir() or image.suffix.lower() in formats.SUFFIXES:
            raise UsageError(f"{image} is a model, given as an image: the first argument is "
                             "the model (a bundle folder or a .tflite / .onnx file), the rest "
                             f"are images (the first given was {model})")


def _frames(images: Sequence[str | os.PathLike] | np.ndarray) -> Images:
    if isinstance(images, np.ndarray):
        frames = images.reshape(1, *images.shape) if images.ndim == 2 else images
        preprocess(frames)  # raises DataError for anything but uint8 28x28 frames
        count = frames.shape[0]
        return Images([f"array[{i}]" for i in range(count)], frames, [()] * count)
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    return read_images(list(images))


def _class_names(dataset: str | None, num_classes: int) -> tuple[str, ...]:
    names = CLASS_NAMES.get(dataset or "")
    if names is None or len(names) != num_classes:
        return tuple(str(i) for i in range(num_classes))
    return names


def _top(image: str, probabilities: np.ndarray, class_names: tuple[str, ...], k: int,
         notes: tuple[str, ...]) -> ImagePrediction:
    order = np.argsort(-probabilities, kind="stable")[:k]  # ties: the lower class first
    top = tuple(ClassScore(int(i), class_names[i], float(probabilities[i])) for i in order)
    if top[0].probability < LOW_CONFIDENCE:
        notes = (*notes, f"low confidence: the top class has {top[0].probability:.1%} "
                         f"(under {LOW_CONFIDENCE:.0%}); check the picture")
    return ImagePrediction(image, top, notes)
