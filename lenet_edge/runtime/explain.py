"""Explain a quantised variant: how far each layer's output is from the float model's.

Both models run on the same device runtime (no TensorFlow) over the bundle's reference images;
each layer of the quantised variant is paired with the float model's (layer_match.py), read
back from the interpreter (layer_taps.py) and summed into error figures (layer_error.py).

Float variants (fp32, fp16, onnx-fp32) are refused: nothing in them is quantised to explain
(fp16 stores weights as float16 and computes in float32 on CPU). `compare_layers` itself takes
any two models of one format, float or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import bundle, formats, schema
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.formats import onnx_graph, tflite_graph
from lenet_edge.results.explain import ExplainReport, Explanations, LayerError
from lenet_edge.results.skipped import Skipped
from lenet_edge.runtime.input_ranges import INPUT_RANGES, recorded_input_range
from lenet_edge.runtime.layer_error import ErrorSums
from lenet_edge.runtime.layer_match import onnx_pairs, tflite_pairs
from lenet_edge.runtime.layer_taps import BATCH, OnnxTaps, TfliteTaps
from lenet_edge.runtime.runner import load_runner
from lenet_edge.runtime.runtimes import (
    AUTO,
    RuntimeSpec,
    auto_runtime,
    check_runtime_name,
    get_runtime,
    resolve_runtime,
    runtimes_for,
)
from lenet_edge.runtime.verify import check_limit
from lenet_edge.variants import VARIANTS, Variant, get_variant

SENSITIVITY = "sensitivity"  # optional manifest field of a variant: {keras layer: number}
Progress = Callable[[str, int, int], None]  # (variant just explained, done, total)
QUANTISED_VARIANTS: tuple[str, ...] = tuple(v.name for v in VARIANTS if v.quantised)


def float_variant(fmt: str) -> Variant:
    """The float variant of a format, the reference a quantised one is compared with."""
    return next(v for v in VARIANTS if v.format == fmt and v.weights == v.activations == "fp32")


def quantised_variant(name: str) -> Variant:
    """The catalogue's variant `name`; UsageError if unknown or not quantised."""
    chosen = get_variant(name)
    if not chosen.quantised:
        raise UsageError(
            f"variant {name!r} is not quantised ({chosen.weights} weights, "
            f"{chosen.activations} activations): explain compares a quantised variant's layers "
            f"with the float model's; choose from {', '.join(QUANTISED_VARIANTS)}")
    return chosen


def explain_bundle(bundle_dir: str | Path, variants: Sequence[str] | None = None,
                   runtime: str = AUTO, limit: int | None = None,
                   progress: Progress | None = None) -> Explanations:
    """`explain` each requested variant; none named: every quantised variant in the bundle.

    Unnamed variants whose format no installed runtime runs are skipped (with the extra to
    install), as verify does; with a named runtime, only the variants of its format are taken.

    Raises:
        As `explain`; ModelError also when the bundle holds no quantised variant.
    """
    check_limit(limit)
    check_runtime_name(runtime)
    skipped: list[Skipped] = []
    if variants:
        chosen = list(dict.fromkeys(quantised_variant(v).name for v in variants))
    else:
        artifacts = bundle.read_manifest(bundle_dir)["artifacts"]
        present = [get_variant(v) for v in QUANTISED_VARIANTS if v in artifacts]
        if not present:
            raise ModelError(f"{bundle_dir}: the bundle holds no quantised variant to explain "
                             f"({', '.join(QUANTISED_VARIANTS)}); run 'lenet-edge convert'")
        chosen = []
        for v in present:
            if runtime != AUTO and get_runtime(runtime).format != v.format:
                continue  # the user chose a runtime: its format only
            if runtime == AUTO and auto_runtime(v.format) is None:
                extras = " or ".join(f"'lenet-edge[{r.extra}]'" for r in runtimes_for(v.format))
                skipped.append(Skipped(v.name, f"no {v.format} runtime installed "
                                               f"(pip install {extras})"))
                continue
            chosen.append(v.name)
        if not chosen and not skipped:
            raise UsageError(f"no quantised variant in the bundle runs on {runtime}")
    reports = []
    for done, name in enumerate(chosen, start=1):
        reports.append(explain(bundle_dir, name, runtime, limit))
        if progress:
            progress(name, done, len(chosen))
    return Explanations(str(bundle_dir), tuple(reports), tuple(skipped))


def explain(bundle_dir: str | Path, variant: str, runtime: str = AUTO,
            limit: int | None = None) -> ExplainReport:
    """Per-layer error of a quantised variant versus the bundle's float model.

    Args:
        bundle_dir: a converted model bundle with reference.npz.
        variant: a quantised variant in the bundle (QUANTISED_VARIANTS).
        runtime: runtime name, or "auto" for the first installed one for the variant's format.
        limit: use only the first `limit` reference images.

    Raises:
        UsageError: unknown or float variant, bad limit, a runtime for another format.
        ModelError: the variant or its float model is not in the bundle, a file does not match
            the manifest, no reference images, or the graphs cannot be paired.
        MissingDependencyError: the runtime is not installed.
        IncompatibleModelError: the runtime cannot run the model.
    """
    started = time.perf_counter()
    check_limit(limit)
    chosen = quantised_variant(variant)
    reference_variant = float_variant(chosen.format)
    manifest = bundle.read_manifest(bundle_dir)
    entries = [_entry(manifest, reference_variant.name, bundle_dir,
                      f"the float model {variant} is compared with"),
               _entry(manifest, variant, bundle_dir, "the variant to explain")]
    spec = resolve_runtime(runtime, chosen.format)
    reference = bundle.load_reference(bundle_dir, manifest)
    blobs = []
    for entry in entries:
        data = bundle.read_verified(bundle_dir, entry)
        formats.check_model_bytes(data, entry["format"], str(Path(bundle_dir) / entry["file"]))
        blobs.append(data)
    count = min(limit or len(reference.labels), len(reference.labels))
    # A bundle converted from a model that takes 0-255 pixels records it: both models get
    # what they take, as verify feeds them (input_adapter.py); lenet-edge's own take 0-1.
    white = INPUT_RANGES.get(recorded_input_range(manifest, entries[1]), 1.0)
    images = preprocess(reference.images[:count]) * np.float32(white)
    layers, deviation = compare_layers(
        *blobs, chosen.format, spec, images,
        sources=tuple(str(Path(bundle_dir) / entry["file"]) for entry in entries))
    sensitivity = _sensitivity(entries[1], bundle_dir)
    layers = tuple(_with_sensitivity(layer, sensitivity) for layer in layers)
    return ExplainReport(str(bundle_dir), variant, reference_variant.name, spec.name,
                         spec.version(), count, layers, deviation,
                         time.perf_counter() - started)


def compare_layers(reference: bytes, candidate: bytes, fmt: str, spec: RuntimeSpec,
                   images: np.ndarray, sources: tuple[str, str] = ("float model", "model"),
                   batch: int = BATCH) -> tuple[tuple[LayerError, ...], float]:
    """Each layer of `candidate` versus `reference` (two models of format `fmt`) on `images`.

    `sources` name the two models (their files) in errors.

    Returns:
        (one LayerError per paired layer in graph order, the largest |difference| between the
        candidate's output in this instrumented run and in a plain run).
    """
    pairs, ref_taps, cand_taps = _taps(reference, candidate, fmt, spec, sources)
    sums = [ErrorSums() for _ in pairs]
    outputs = []
    for start in range(0, len(images), batch):
        part = images[start:start + batch]
        ref_values, _ = ref_taps.run(part)
        cand_values, cand_output = cand_taps.run(part)
        outputs.append(cand_output)
        for total, ref, cand in zip(sums, ref_values, cand_values, strict=True):
            total.add(ref, cand)
    plain = load_runner(candidate, fmt, spec.name, source=sources[1]).predict(images)
    deviation = float(np.abs(np.concatenate(outputs).reshape(plain.shape) - plain).max())
    layers = tuple(
        LayerError(position=i, op=p.op, layer=p.layer, tensor=p.tensor, dtype=p.dtype,
                   scale=p.scale, zero_point=p.zero_point, mse=s.mse,
                   rmse_over_scale=s.rmse_over_scale(p.scale), snr_db=s.snr_db,
                   cosine=s.cosine, max_abs_error=s.max_abs)
        for i, (p, s) in enumerate(zip(pairs, sums, strict=True)))
    return layers, deviation


def _taps(reference: bytes, candidate: bytes, fmt: str, spec: RuntimeSpec,
          sources: tuple[str, str]):
    """The paired layers, and each model loaded to read its side of every pair."""
    if fmt == "tflite":
        pairs = tflite_pairs(tflite_graph.read_graph(reference, sources[0]),
                             tflite_graph.read_graph(candidate, sources[1]), sources[1])
        taps, kind = TfliteTaps, int  # tensors by index
    else:
        pairs = onnx_pairs(onnx_graph.read_graph(reference, sources[0]),
                           onnx_graph.read_graph(candidate, sources[1]))
        taps, kind = OnnxTaps, str  # values by name
    if not pairs:
        raise ModelError(f"{sources[1]}: no layer of it pairs with one of the float model")
    return (pairs,
            taps(reference, spec, [kind(p.reference) for p in pairs], sources[0]),
            taps(candidate, spec, [kind(p.candidate) for p in pairs], sources[1]))


def _entry(manifest: dict[str, Any], name: str, bundle_dir: str | Path,
           role: str) -> dict[str, Any]:
    artifacts = manifest["artifacts"]
    if name not in artifacts:
        raise ModelError(f"{Path(bundle_dir)}: {name}, {role}, is not in the bundle (it has "
                         f"{', '.join(artifacts) or 'none'}); run 'lenet-edge convert "
                         f"--variant {name}'")
    return artifacts[name]


def _sensitivity(entry: dict[str, Any], bundle_dir: str | Path) -> dict[str, float]:
    """The variant's measured per-layer sensitivity, if convert recorded one."""
    found = entry.get(SENSITIVITY)
    if found is None:
        return {}
    if not isinstance(found, dict) or not all(
            isinstance(k, str) and schema.is_number(v) for k, v in found.items()):
        raise ModelError(f"{Path(bundle_dir) / bundle.MANIFEST}: artifacts.{entry.get('variant')}"
                         f".{SENSITIVITY} must map layer names to numbers")
    return {k: float(v) for k, v in found.items()}


def _with_sensitivity(layer: LayerError, sensitivity: dict[str, float]) -> LayerError:
    if layer.layer is None or layer.layer not in sensitivity:
        return layer
    return replace(layer, sensitivity=sensitivity[layer.layer])
