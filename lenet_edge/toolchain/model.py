"""LeNet-5, built in code: conv-pool-conv-pool-fc-fc-fc, 61,706 parameters on 28x28x1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lenet_edge import bundle
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.toolchain import import_tensorflow
from lenet_edge.train_config import ACTIVATIONS, POOLINGS

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def build_lenet5(activation: str = "relu", pooling: str = "avg"):
    """LeNet-5 returning logits (no softmax: converters and verifiers compare logits).

    The first convolution uses 'same' padding so 28x28 inputs play the role of LeCun's
    32x32 padded ones: 28 -> 14 -> 10 -> 5, then 16*5*5 = 400 features into the dense head.
    """
    if activation not in ACTIVATIONS:
        raise UsageError(f"unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS)}")
    if pooling not in POOLINGS:
        raise UsageError(f"unknown pooling {pooling!r}; choose from {', '.join(POOLINGS)}")
    import_tensorflow()
    import keras
    from keras import layers

    pool = layers.AveragePooling2D if pooling == "avg" else layers.MaxPooling2D
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Conv2D(6, 5, padding="same", activation=activation, name="c1"),
            pool(2, name="s2"),
            layers.Conv2D(16, 5, activation=activation, name="c3"),
            pool(2, name="s4"),
            layers.Flatten(name="flatten"),
            layers.Dense(120, activation=activation, name="f5"),
            layers.Dense(84, activation=activation, name="f6"),
            layers.Dense(NUM_CLASSES, name="logits"),
        ],
        name="lenet5",
    )


def read_train_info(model_dir: str | Path) -> dict[str, Any]:
    """Read `train.json` from a trained model directory (ModelError if absent or broken)."""
    from lenet_edge.train_record import read_train_record

    return read_train_record(model_dir).to_dict()  # checked by TrainRecord.from_dict


def load_trained(model_dir: str | Path):
    """Build LeNet-5 in code and load the weights `train` wrote; return (model, train_info).

    The weights file must match the sha256 recorded at training time: we never load a
    file we did not write.
    """
    info = read_train_info(model_dir)
    weights = Path(model_dir) / bundle.WEIGHTS
    if not weights.is_file():
        raise ModelError(f"{weights}: missing; retrain with 'lenet-edge train --out {model_dir}'")
    recorded = info.get("weights", {}).get("sha256")
    if recorded and bundle.sha256_file(weights) != recorded:
        raise ModelError(f"{weights}: sha256 does not match train.json (modified or corrupt)")
    model = build_lenet5(info["config"]["activation"], info["config"]["pooling"])
    try:
        model.load_weights(weights)
    except Exception as exc:  # h5py/Keras raise many types for a bad file
        raise ModelError(f"{weights}: cannot load weights ({type(exc).__name__}: {exc})") from None
    return model, info
