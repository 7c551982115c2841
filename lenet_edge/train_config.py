"""TrainConfig: every knob of a training run, its checks and its per-dataset defaults.

Apart from the toolchain that trains, so the CLI can build its options' help and check them
(`lenet-edge --help`, a usage error) without importing numpy, let alone TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from lenet_edge.choices import unknown_choice
from lenet_edge.errors import UsageError

# LeNet-5's choices live here, not in toolchain/model.py, so checking a config (the CLI, the
# pipeline's TF-free parent) does not import the toolchain.
ACTIVATIONS = ("relu", "tanh", "sigmoid")
POOLINGS = ("avg", "max")


@dataclass(frozen=True)
class DatasetDefaults:
    epochs: int
    batch_size: int
    augment: bool


# Digits has 1.4k training images, the IDX sets 60k: the same epochs and batch size would
# under-train one or over-spend on the other, and 1.4k images overfit without augmentation
# (94.7% -> 98.9% on the digits test set, measured), so these defaults depend on the dataset.
DATASET_DEFAULTS = {
    "digits": DatasetDefaults(epochs=30, batch_size=32, augment=True),
    "mnist": DatasetDefaults(epochs=15, batch_size=128, augment=False),
    "fashion-mnist": DatasetDefaults(epochs=15, batch_size=128, augment=False),
}
SCHEDULES = ("cosine", "constant")
# Keras seeds NumPy's legacy generator, which takes 0..2**32-1: a larger seed would fail only
# after TensorFlow has loaded, as an internal error.
MAX_SEED = 2**32 - 1
# LeNet-5 converges in 15-30 epochs; 10,000 is days of training on a CPU already, and a larger
# number is a typo (a value past 2**63 failed only inside TensorFlow, as an internal error).
MAX_EPOCHS = 10_000
# 65,536 is more than MNIST's whole training set in one step; past 2**63 Keras raised
# OverflowError (exit 70).
MAX_BATCH_SIZE = 65_536


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run; recorded in train.json next to what it produced."""

    dataset: str = "mnist"
    data_dir: str | None = None
    epochs: int | None = None  # None (here and below): DATASET_DEFAULTS for the dataset
    batch_size: int | None = None
    learning_rate: float = 3e-3
    schedule: str = "cosine"  # linear warm-up, then cosine decay to zero
    warmup_epochs: float | None = None  # None: one epoch, at most a tenth of the run
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1  # +0.5 points on Fashion-MNIST at 15 epochs (measured)
    validation_split: float = 0.1
    seed: int = 0
    activation: str = "relu"
    pooling: str = "avg"
    augment: bool | None = None  # random shifts, rotations and zooms while training

    def resolved(self) -> TrainConfig:
        """Check every field and fill in dataset-dependent defaults."""
        from lenet_edge.data.classes import DATASETS

        if self.dataset not in DATASETS:
            raise unknown_choice("dataset", self.dataset, DATASETS)
        for kind, value, allowed in (("schedule", self.schedule, SCHEDULES),
                                     ("activation", self.activation, ACTIVATIONS),
                                     ("pooling", self.pooling, POOLINGS)):
            if value not in allowed:
                raise unknown_choice(kind, value, allowed)
        defaults = DATASET_DEFAULTS[self.dataset]
        epochs = self.epochs if self.epochs is not None else defaults.epochs
        batch_size = self.batch_size if self.batch_size is not None else defaults.batch_size
        augment = self.augment if self.augment is not None else defaults.augment
        warmup = self.warmup_epochs if self.warmup_epochs is not None else min(1.0, epochs / 10)
        # math.isfinite first: inf passes `> 0` and trains a NaN model; NaN fails every
        # comparison, so a range check alone would word its message wrongly.
        checks = [
            (1 <= epochs <= MAX_EPOCHS, f"epochs must be in 1..{MAX_EPOCHS:,}, got {epochs}"),
            (1 <= batch_size <= MAX_BATCH_SIZE,
             f"batch size must be in 1..{MAX_BATCH_SIZE:,}, got {batch_size}"),
            (_finite(self.learning_rate) and self.learning_rate > 0,
             f"learning rate must be > 0 and finite, got {self.learning_rate}"),
            (_finite(warmup) and 0 <= warmup < epochs,
             f"warm-up epochs must be in [0, {epochs}), got {warmup}"),
            (_finite(self.weight_decay) and self.weight_decay >= 0,
             f"weight decay must be >= 0 and finite, got {self.weight_decay}"),
            (_finite(self.label_smoothing) and 0 <= self.label_smoothing < 1,
             f"label smoothing must be in [0, 1), got {self.label_smoothing}"),
            (_finite(self.validation_split) and 0 <= self.validation_split < 0.5,
             f"validation split must be in [0, 0.5), got {self.validation_split}"),
            (0 <= self.seed <= MAX_SEED, f"seed must be in 0..{MAX_SEED}, got {self.seed}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        return dataclasses.replace(self, epochs=epochs, batch_size=batch_size,
                                   warmup_epochs=warmup, augment=augment)


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
