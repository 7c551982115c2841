"""Train LeNet-5 reproducibly and write the model directory atomically."""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lenet_edge import __version__, bundle
from lenet_edge.errors import LenetEdgeError
from lenet_edge.files import output_dirs
from lenet_edge.train_config import TrainConfig

EpochCallback = Callable[[dict[str, float]], None]


def train(config: TrainConfig, out_dir: str | Path, on_epoch: EpochCallback | None = None,
          then: Callable[[Path, dict], None] | None = None) -> dict:
    """Train LeNet-5 and write it to `out_dir`; return the training record (train.json).

    The model is written to a staging directory beside `out_dir` and swapped in only when
    complete, so an interrupted or failed run leaves the previous model as it was.

    Args:
        then: called with the staging directory and the record once the model is in it,
            before the swap (the pipeline converts there: `out_dir` gets a whole bundle).
    """
    config = config.resolved()
    out_dir = Path(out_dir)
    # before minutes of data loading and training; output_dirs says which folders are ours
    output_dirs.check_replaceable(out_dir, output_dirs.MODEL_DIR)

    from lenet_edge.data import datasets as data

    dataset = data.load_dataset(config.dataset, config.data_dir)
    # A new model means a new bundle: the old variants and results move to OUT.previous.
    with output_dirs.replaced_directory(out_dir, output_dirs.MODEL_DIR) as staging:
        record = _fit_and_save(config, dataset, staging, on_epoch)
        if then is not None:
            then(staging, record)
        return record


def _fit_and_save(config: TrainConfig, dataset, staging: Path, on_epoch) -> dict:
    from lenet_edge.toolchain import import_tensorflow

    tf = import_tensorflow()
    import keras

    from lenet_edge.data.preprocess import preprocess
    from lenet_edge.toolchain.model import build_lenet5
    from lenet_edge.toolchain.splits import fit_and_validation_indices

    # Same seed, same machine -> identical weights: seed every RNG, make TF ops deterministic.
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    x_train = preprocess(dataset.x_train)
    y_train = keras.utils.to_categorical(dataset.y_train, 10)  # one-hot: label smoothing
    x_val = y_val = None
    if config.validation_split > 0:  # convert's held-out slice is drawn the same way
        fit, val = fit_and_validation_indices(len(x_train), config.validation_split, config.seed)
        x_val, y_val, x_train, y_train = x_train[val], y_train[val], x_train[fit], y_train[fit]

    steps_per_epoch = int(np.ceil(len(x_train) / config.batch_size))
    model = build_lenet5(config.activation, config.pooling)
    trainee = _with_augmentation(model, config.seed) if config.augment else model
    trainee.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=_learning_rate(config, steps_per_epoch),
            weight_decay=config.weight_decay,
        ),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=config.label_smoothing
        ),
        metrics=["accuracy"],
    )

    history: list[dict[str, float]] = []
    started = time.perf_counter()
    trainee.fit(
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(x_val, y_val) if x_val is not None else None,
        shuffle=True,
        verbose=0,
        callbacks=[_epoch_recorder(history, started, on_epoch)],
    )
    train_seconds = time.perf_counter() - started
    _check_finite(history, model)  # raises before the output swap: the old model stays

    logits = model.predict(preprocess(dataset.x_test), batch_size=1024, verbose=0)
    test_accuracy = float(np.mean(np.argmax(logits, axis=1) == dataset.y_test))

    weights = staging / bundle.WEIGHTS
    model.save_weights(weights)
    model.save(staging / bundle.KERAS_MODEL)
    record = {
        "config": dataclasses.asdict(config),
        "history": history,
        "test_accuracy": test_accuracy,
        "train_seconds": round(train_seconds, 3),
        "images_per_second": round(len(x_train) * config.epochs / train_seconds, 1),
        "versions": {
            "lenet-edge": __version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}",
        },
        "dataset": {
            "name": dataset.name,
            "fingerprint": dataset.fingerprint,
            "source": dataset.source,
            "num_train": int(len(dataset.x_train)),
            "num_test": int(len(dataset.x_test)),
        },
        "weights": bundle.file_entry(weights),
        "parameters": int(model.count_params()),
    }
    _plot_curves(history, staging / bundle.CURVES_PNG, title=f"LeNet-5 on {dataset.name}")
    bundle.write_json(staging / bundle.TRAIN_JSON, record)
    return record


def _check_finite(history: list[dict[str, float]], model) -> None:
    """Refuse a diverged run (a NaN or inf loss, or weights): such a model predicts garbage.

    Raises:
        LenetEdgeError: exit 1, naming the epoch and what to change.
    """
    bad = next((row for row in history if not all(map(math.isfinite, row.values()))), None)
    weights_ok = all(np.isfinite(w).all() for w in model.get_weights())
    if bad is None and weights_ok:
        return
    where = f"in epoch {bad['epoch']}" if bad is not None else "in its weights"
    raise LenetEdgeError(
        f"training diverged: the loss became NaN or infinite {where}; nothing was written "
        "(the previous model, if any, is kept). Lower --learning-rate or --weight-decay"
    )


def _with_augmentation(model, seed: int):
    """`model` behind random shifts (+-10%), rotations (+-14 degrees) and zooms (+-10%).

    The layers are active only in training and are not part of `model`, so what gets saved
    and converted is plain LeNet-5.
    """
    import keras
    from keras import layers

    fill = {"fill_mode": "constant", "fill_value": 0.0}  # MNIST-style black background
    return keras.Sequential(
        [
            keras.Input(model.input_shape[1:]),
            layers.RandomTranslation(0.1, 0.1, seed=seed, **fill),
            layers.RandomRotation(0.04, seed=seed + 1, **fill),
            layers.RandomZoom(0.1, seed=seed + 2, **fill),
            model,
        ],
        name="lenet5_augmented",
    )


def _learning_rate(config: TrainConfig, steps_per_epoch: int):
    import keras

    if config.schedule == "constant":
        return config.learning_rate
    total = config.epochs * steps_per_epoch
    warmup = int(round(config.warmup_epochs * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.learning_rate,
        decay_steps=max(1, total - warmup),
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def _epoch_recorder(history: list, started: float, on_epoch: EpochCallback | None):
    """A Keras callback that appends one history row per epoch and reports it."""
    import keras

    class EpochRecorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            # Stop at the first NaN batch rather than finish the run on garbage (what keras'
            # TerminateOnNaN does, without its line on stdout); _check_finite then refuses it.
            if not math.isfinite(float((logs or {}).get("loss", 0.0))):
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - started, 3)}
            row.update({k: round(float(v), 6) for k, v in (logs or {}).items()})
            history.append(row)
            if on_epoch:
                on_epoch(row)

    return EpochRecorder()


def _plot_curves(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        ax.plot(epochs, [row[key] for row in history], label="train")
        if history and f"val_{key}" in history[0]:
            ax.plot(epochs, [row[f"val_{key}"] for row in history], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
