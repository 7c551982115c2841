"""Model-versus-model gates (`verify NEW --baseline OLD`): is the new model worse than the old?

Each variant is set beside the baseline bundle's variant of the same name on the same
runtime, and the float model beside the baseline's float model: accuracy, accuracy on each
class, and how often the two pick the same class. A loss of more than the allowed points
overall, or on any one class, fails (gates.RegressionGates).

Which images: the new bundle's reference set (what `verify` just ran). When the baseline's
reference set holds the very same images and labels, its float logits are for those images
and the float models are compared too. When it does not (another split, another --limit at
convert), the float model is left out and the output says so: the baseline's float model is
Keras, which the runtime cannot run without TensorFlow, and its stored logits are for other
images. The baseline's variants are run on the new images either way (their predictions are
not stored), on the same runtime with the same threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import bundle, formats
from lenet_edge.data.classes import CLASS_NAMES
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.gates import RegressionGates
from lenet_edge.results.regression import (
    ACCURACY,
    AGREEMENT,
    CLASS_ACCURACY,
    FAIL,
    FLOAT,
    INFO,
    NEW_ONLY,
    PASS,
    SHARED,
    RegressionReport,
    RegressionRow,
)
from lenet_edge.results.verify import VerifyResult
from lenet_edge.runtime.input_adapter import adapt_input
from lenet_edge.runtime.input_ranges import recorded_input_range
from lenet_edge.runtime.runner import IncompatibleModelError, load_runner

NUM_CLASSES = 10


@dataclass(frozen=True)
class Baseline:
    """A baseline bundle, read and checked before any model runs."""

    path: Path
    manifest: dict[str, Any]
    reference: bundle.Reference
    models: dict[str, bytes]  # variant -> sha256-checked bytes, for the variants asked for


def open_baseline(path: str | Path, formats_by_variant: Mapping[str, str],
                  dataset: str | None) -> Baseline:
    """Read the baseline bundle's manifest, reference set and the models of these variants.

    Args:
        path: the baseline bundle (`--baseline`).
        formats_by_variant: the variants the new run verifies, with their formats; the
            baseline's variants of the same name and format are read (sha256-checked).
        dataset: the new bundle's dataset name, if recorded.

    Raises:
        ModelError: the baseline is not a readable bundle, or a file of it does not match
            its manifest (the message starts with --baseline).
        UsageError: the baseline was trained on another dataset: nothing to compare.
    """
    path = Path(path)
    try:
        manifest = bundle.read_manifest(path)
        reference = bundle.load_reference(path, manifest)
        models = {}
        for variant, fmt in formats_by_variant.items():
            entry = manifest["artifacts"].get(variant)
            if entry is not None and entry["format"] == fmt:
                data = bundle.read_verified(path, entry)
                formats.check_model_bytes(data, fmt, str(path / entry["file"]))
                models[variant] = data
    except ModelError as exc:
        raise ModelError(f"--baseline {exc}") from None
    theirs = (manifest.get("dataset") or {}).get("name")
    if dataset and theirs and theirs != dataset:
        raise UsageError(f"--baseline {path} was trained on {theirs}, this bundle on "
                         f"{dataset}; compare models of one dataset")
    return Baseline(path, manifest, reference, models)


def class_names(dataset: str | None) -> tuple[str, ...]:
    """The dataset's class names (data/classes.py); the digits themselves when unknown."""
    return CLASS_NAMES.get(dataset or "", tuple(str(i) for i in range(NUM_CLASSES)))


def same_images(a: bundle.Reference, b: bundle.Reference) -> bool:
    """True when two reference sets hold the same images with the same labels, in order."""
    return (a.images.shape == b.images.shape and np.array_equal(a.images, b.images)
            and np.array_equal(a.labels, b.labels))


def compare_with_baseline(baseline: Baseline, reference: bundle.Reference, images: np.ndarray,
                          results: Sequence[VerifyResult], names: Sequence[str],
                          gates: RegressionGates, threads: int = 1) -> RegressionReport:
    """The new float model and each verified variant against the baseline's.

    Args:
        baseline: from open_baseline.
        reference: the new bundle's reference set.
        images: the preprocessed reference images verify ran on (the first N).
        results: verify's rows; each loaded row's predictions are the new model's.
        names: class names, for the rows and the failure lines.
        gates: the budgets.
        threads: interpreter threads for the baseline's variants.
    """
    count = len(images)
    labels = reference.labels[:count]
    shared = same_images(baseline.reference, reference)
    rows: list[RegressionRow] = []
    notes: list[str] = []
    if shared:
        rows += _model_rows(FLOAT, "", baseline.reference.logits[:count].argmax(axis=1),
                            reference.logits[:count].argmax(axis=1), labels, names, gates)
    else:
        notes.append(f"float model not compared: the baseline's reference images differ from "
                     f"this bundle's, and its float model runs only under TensorFlow; each "
                     f"variant is compared on this bundle's {count} images, the baseline's "
                     f"variant run on them too")
    for r in results:
        new = r.predicted_classes()
        label = f"{r.variant} on {r.runtime}"
        if new is None:
            notes.append(f"{label}: not compared with the baseline (it did not load)")
            continue
        if r.variant not in baseline.models:
            notes.append(f"{label}: not compared (the baseline has no {r.variant})")
            continue
        old, why = _baseline_predictions(baseline, r.variant, r.runtime, images, threads)
        if old is None:
            notes.append(f"{label}: not compared (the baseline's {r.variant} did not load on "
                         f"{r.runtime}: {why})")
            continue
        rows += _model_rows(r.variant, r.runtime, old, new, labels, names, gates)
    return RegressionReport(str(baseline.path), gates.to_dict(), tuple(rows),
                            SHARED if shared else NEW_ONLY, count, tuple(notes))


def _baseline_predictions(baseline: Baseline, variant: str, runtime: str, images: np.ndarray,
                          threads: int) -> tuple[np.ndarray | None, str]:
    entry = baseline.manifest["artifacts"][variant]
    try:
        source = str(baseline.path / entry["file"])
        runner = load_runner(baseline.models[variant], entry["format"], runtime, threads,
                             source=source)
        # Through the one input adapter, as verify runs this bundle's own variants: the
        # baseline's models may take another layout or range (input_adapter.py).
        adapter = adapt_input(runner, recorded_input_range(baseline.manifest, entry), source)
        return runner.predict(adapter(images)).argmax(axis=1), ""
    except IncompatibleModelError as exc:
        return None, str(exc)


def _model_rows(variant: str, runtime: str, old: np.ndarray, new: np.ndarray,
                labels: np.ndarray, names: Sequence[str],
                gates: RegressionGates) -> list[RegressionRow]:
    """Accuracy (gated), accuracy per class (gated), agreement (shown) of one model pair."""
    rows = [_accuracy_row(variant, runtime, ACCURACY, old == labels, new == labels,
                          gates.max_regression, gates.regressed)]
    for c, name in enumerate(names):
        mask = labels == c
        if mask.any():  # a class with no reference image has no accuracy to lose
            rows.append(_accuracy_row(
                variant, runtime, CLASS_ACCURACY, old[mask] == c, new[mask] == c,
                gates.max_class_regression,
                lambda change: gates.regressed(change, per_class=True), c, name))
    rows.append(RegressionRow(variant, runtime, AGREEMENT, None, float(np.mean(old == new)),
                              None, None, INFO))
    return rows


def _accuracy_row(variant: str, runtime: str, metric: str, old_correct: np.ndarray,
                  new_correct: np.ndarray, allowed: float, regressed: Callable[[float], bool],
                  class_index: int | None = None, class_name: str | None = None
                  ) -> RegressionRow:
    """Accuracy of the images where `*_correct` says whether each model was right."""
    n = len(old_correct)
    # From counts in one division, so a loss of exactly k images is exact on the gate.
    change = (int(new_correct.sum()) - int(old_correct.sum())) * 100.0 / n
    return RegressionRow(variant, runtime, metric, float(old_correct.mean()),
                         float(new_correct.mean()), change, allowed,
                         FAIL if regressed(change) else PASS, class_index, class_name)
