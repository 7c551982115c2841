"""train.json, the record `lenet-edge train` writes beside the weights: a checked read.

convert computes with its config and dataset counts, the report with its history,
accuracy and versions. It may be hand-edited or from an older lenet-edge, so every field
those use is checked here (TF-free: the report reads it too), and a wrong one is a
ModelError naming train.json and the field, never a TypeError deep in convert or a figure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lenet_edge import bundle, schema
from lenet_edge.errors import ModelError
from lenet_edge.files import input_files

# Keys of a history row besides `epoch`: what Keras logs, per epoch (val_ only with a split).
_HISTORY_NUMBERS = ("loss", "accuracy")


def read_train_record(model_dir: str | os.PathLike,
                      missing_ok: bool = False) -> dict[str, Any] | None:
    """train.json of a trained model directory, checked.

    Args:
        missing_ok: return None when there is no train.json (the report: a bundle made
            elsewhere); otherwise its absence is a ModelError saying to train.

    Raises:
        ModelError: absent (unless missing_ok), unreadable, or a field of the wrong type.
    """
    path = Path(model_dir) / bundle.TRAIN_JSON
    if not Path(model_dir).is_dir():
        raise ModelError(f"{model_dir}: no such model directory; run 'lenet-edge train' first")
    if not os.path.lexists(path):
        if missing_ok:
            return None
        raise ModelError(f"{path}: missing; no trained model in {model_dir} ('lenet-edge train')")
    record = input_files.read_json(path, input_files.RESULTS)
    if not isinstance(record, dict):
        raise ModelError(f"{path}: not a training record: expected a JSON object, got "
                         f"{type(record).__name__}")
    try:
        check_train_record(record)
    except schema.Invalid as exc:
        raise ModelError(f"{path}: not a valid training record: {exc}") from None
    return record


def check_train_record(record: dict[str, Any]) -> None:
    """Raise schema.Invalid at the first field convert or the report could not use."""
    config = schema.field(record, "config", dict)
    for key in ("dataset", "activation", "pooling"):
        schema.field(config, key, str, "config")
    schema.field(config, "data_dir", str, "config", optional=True, nullable=True)
    for key in ("seed", "epochs", "batch_size"):
        schema.field(config, key, int, "config", optional=key != "seed", nullable=key != "seed")
    schema.field(config, "augment", bool, "config", optional=True, nullable=True)
    bundle.check_dataset_record(schema.field(record, "dataset", dict), "dataset")
    accuracy = schema.field(record, "test_accuracy", float, optional=True)
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise schema.Invalid(f"test_accuracy must be in 0..1, got {accuracy}")
    for key in ("train_seconds", "images_per_second"):
        schema.field(record, key, float, optional=True)
    schema.field(record, "parameters", int, optional=True)
    schema.strings(record, "versions", optional=True)
    weights = schema.field(record, "weights", dict, optional=True)
    if weights is not None:
        schema.field(weights, "sha256", str, "weights", optional=True)
    _check_history(schema.rows(record, "history", optional=True))


def _check_history(history: list[dict[str, Any]]) -> None:
    """One row per epoch, each with the same numeric keys (the figure plots them as lines)."""
    keys = set(history[0]) if history else set()
    for i, row in enumerate(history):
        where = f"history[{i}]"
        epoch = schema.field(row, "epoch", int, where)
        if epoch < 1:
            raise schema.Invalid(f"{where}.epoch must be >= 1, got {epoch}")
        for key in _HISTORY_NUMBERS:
            schema.field(row, key, float, where)
        if set(row) != keys:
            raise schema.Invalid(f"{where} has keys {sorted(row)}, history[0] has {sorted(keys)}")
        for key in row:
            schema.field(row, key, float, where)
