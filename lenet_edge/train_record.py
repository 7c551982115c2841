"""train.json, the record `lenet-edge train` writes beside the weights: a checked read.

convert computes with its config and dataset counts, the report with its history,
accuracy and versions. It may be hand-edited or from an older lenet-edge, so every field
those use is checked by TrainRecord.from_dict (TF-free: the report reads it too), and a
wrong one is a ModelError naming train.json and the field, never a TypeError deep in
convert or a figure.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lenet_edge import bundle, schema
from lenet_edge.errors import ModelError
from lenet_edge.files import input_files

# Keys of a history row besides `epoch`: what Keras logs, per epoch (val_ only with a split).
_HISTORY_NUMBERS = ("loss", "accuracy")


@dataclass(frozen=True)
class TrainRecord:
    """What a training run was given and what it achieved (toolchain/train.py writes it)."""

    config: dict[str, Any]  # TrainConfig as written (dataclasses.asdict); its fields checked
    dataset: bundle.DatasetRecord
    history: tuple[dict[str, float], ...] = ()  # one row per epoch: epoch, loss, accuracy...
    test_accuracy: float | None = None
    train_seconds: float | None = None
    images_per_second: float | None = None
    parameters: int | None = None
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    weights: dict[str, Any] | None = None  # file entry of the weights file

    def to_dict(self) -> dict[str, Any]:
        data = {"config": self.config, "history": [dict(row) for row in self.history],
                "test_accuracy": self.test_accuracy, "train_seconds": self.train_seconds,
                "images_per_second": self.images_per_second, "versions": self.versions,
                "dataset": self.dataset.to_dict(), "weights": self.weights,
                "parameters": self.parameters}
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any) -> TrainRecord:
        """A checked record; schema.Invalid at the first field convert or the report could
        not use."""
        if not isinstance(data, dict):
            raise schema.Invalid(f"expected a JSON object, got {type(data).__name__}")
        f = schema.field
        config = _config(f(data, "config", dict))
        dataset = bundle.DatasetRecord.from_dict(f(data, "dataset", dict), "dataset")
        accuracy = f(data, "test_accuracy", float, optional=True)
        if accuracy is not None and not 0 <= accuracy <= 1:
            raise schema.Invalid(f"test_accuracy must be in 0..1, got {accuracy}")
        weights = f(data, "weights", dict, optional=True)
        if weights is not None:
            f(weights, "sha256", str, "weights", optional=True)
        return cls(
            config=config, dataset=dataset,
            history=_history(schema.rows(data, "history", optional=True)),
            test_accuracy=accuracy, train_seconds=f(data, "train_seconds", float, optional=True),
            images_per_second=f(data, "images_per_second", float, optional=True),
            parameters=f(data, "parameters", int, optional=True),
            versions=schema.strings(data, "versions", optional=True) or {}, weights=weights,
        )


def read_train_record(model_dir: str | os.PathLike,
                      missing_ok: bool = False) -> TrainRecord | None:
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
    data = input_files.read_json(path, input_files.RESULTS)
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a training record: expected a JSON object, got "
                         f"{type(data).__name__}")
    try:
        return TrainRecord.from_dict(data)
    except schema.Invalid as exc:
        raise ModelError(f"{path}: not a valid training record: {exc}") from None


def _config(config: dict[str, Any]) -> dict[str, Any]:
    for key in ("dataset", "activation", "pooling"):
        schema.field(config, key, str, "config")
    schema.field(config, "data_dir", str, "config", optional=True, nullable=True)
    for key in ("seed", "epochs", "batch_size"):
        schema.field(config, key, int, "config", optional=key != "seed", nullable=key != "seed")
    schema.field(config, "augment", bool, "config", optional=True, nullable=True)
    return config


def _history(history: list[dict[str, Any]]) -> tuple[dict[str, float], ...]:
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
    return tuple(history)
