"""Verify a single model file on a labelled dataset, alone or against a reference file.

`verify FILE --dataset NAME` runs any .tflite / .onnx on the dataset's test split (the one
`load_dataset` resolves, TF-free) and reports its accuracy; `--reference OTHER` runs a second
file on the same images and compares the two as a bundle's verify compares a variant with
the float model. Both files go through the one input adapter and output kind
(adapted_model.py). Images come from a dataset: a bare file brings none.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from lenet_edge.data.datasets import load_dataset
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.gates import DEFAULT_GATES, Gates
from lenet_edge.results.file_verify import FileComparison, FileRun, FileVerifyReport
from lenet_edge.runtime.adapted_model import adapt
from lenet_edge.runtime.input_ranges import AUTO, check_input_range
from lenet_edge.runtime.metrics import compare_logits
from lenet_edge.runtime.model_file import open_model_file
from lenet_edge.runtime.output_kind import comparable
from lenet_edge.runtime.verify import check_limit

NUM_CLASSES = 10  # every dataset lenet-edge loads has labels 0..9


def verify_file(path: str | os.PathLike, dataset: str | None,
                data_dir: str | os.PathLike | None = None,
                reference: str | os.PathLike | None = None, limit: int | None = None,
                min_accuracy: float | None = None, gates: Gates | None = None,
                runtime: str = AUTO, threads: int = 1,
                input_range: str = AUTO) -> FileVerifyReport:
    """Accuracy of the model file `path` on `dataset`'s test split; with `reference`, also
    its agreement with that file.

    Args:
        dataset: a dataset name (datasets.DATASETS); required: the images come from it.
        reference: another model file, e.g. the fp32 model an int8 file came from.
        limit: the first `limit` test images only.
        min_accuracy: the accuracy (0..1) the model must reach; None: reported, not gated.
        gates: with `reference`, the largest drop and smallest agreement allowed (default:
            gates.DEFAULT_GATES, as for a bundle's variants); not allowed without it.
        runtime: "auto" (per file, the first installed for its format) or a runtime name.
        input_range: auto, 0-1 or 0-255, for both files (input_adapter.py has the rule).

    Raises:
        UsageError: no dataset, a gate without its figure, bad limit or range.
        DataError: the dataset cannot be found or read.
        ModelError: a file is not a 28x28 image classifier with ten classes, or the two
            disagree on their class count; IncompatibleModelError if the runtime refuses it.
    """
    if dataset is None:
        what = f"--reference {reference}" if reference is not None else "its accuracy"
        raise UsageError(f"verify {path} needs --dataset NAME for {what}: a model file "
                         "brings no images (a bundle brings its reference set)")
    check_limit(limit)
    check_input_range(input_range)
    if min_accuracy is not None and not (isinstance(min_accuracy, (int, float))
                                         and 0.0 <= min_accuracy <= 1.0):
        raise UsageError(f"--min-accuracy must be within [0, 1], got {min_accuracy}")
    if gates is not None and reference is None:
        raise UsageError("--max-drop and --min-agreement compare two models: they need "
                         "--reference OTHER_FILE")
    started = time.perf_counter()
    model = open_model_file(path, runtime)
    other = None if reference is None else open_model_file(reference, runtime)
    data = load_dataset(dataset, data_dir)
    count = min(limit or data.num_test, data.num_test)
    images, labels = preprocess(data.x_test[:count]), data.y_test[:count].astype(np.int64)
    run, outputs, kind = _run(model, images, labels, input_range, threads)
    failures = []
    if min_accuracy is not None and run.accuracy < min_accuracy:
        failures.append(f"accuracy {run.accuracy * 100:.2f}% < {min_accuracy * 100:g}%")
    ref_run = comparison = None
    if other is not None:
        ref_run, ref_outputs, ref_kind = _run(other, images, labels, input_range, threads)
        gates = gates or DEFAULT_GATES
        a, b, quantity = comparable(outputs, kind, ref_outputs, ref_kind)
        m = compare_logits(a, b, labels, NUM_CLASSES)
        comparison = FileComparison(quantity, m.agreement, m.delta_points,
                                    m.max_abs_logit_error, m.mean_abs_logit_error,
                                    tuple(m.worst), gates.max_drop, gates.min_agreement)
        failures += gates.failures(m.delta_points, m.agreement)
    return FileVerifyReport(dataset, count, run, ref_run, comparison, min_accuracy,
                            tuple(failures), time.perf_counter() - started)


def _run(model, images: np.ndarray, labels: np.ndarray, input_range: str,
         threads: int) -> tuple[FileRun, np.ndarray, str]:
    """The file's figures on the images, its raw outputs and their kind."""
    runner = model.load(threads)
    adapted = adapt(runner, model.data, model.format, input_range, str(model.path))
    outputs, kind = adapted.run(images)
    if outputs.ndim != 2 or outputs.shape[1] != NUM_CLASSES:
        raise ModelError(f"{model.path}: the model gives outputs of shape "
                         f"{tuple(outputs.shape[1:])} per image; the datasets have "
                         f"{NUM_CLASSES} classes")
    if not np.all(np.isfinite(outputs)):
        raise ModelError(f"{model.path}: the model gives NaN or infinite outputs")
    predicted = outputs.argmax(axis=1)
    per_class = []
    for c in range(NUM_CLASSES):
        mask = labels == c
        per_class.append(float((predicted[mask] == c).mean()) if mask.any() else None)
    run = FileRun(str(Path(model.path)), model.format, runner.runtime, runner.runtime_version,
                  adapted.adapter.describe(), adapted.adapter.input_range, kind,
                  float((predicted == labels).mean()), tuple(per_class))
    return run, outputs, kind
