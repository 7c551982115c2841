"""A Keras model lenet-edge did not train: load it, check lenet-edge can carry it, read it.

`lenet-edge convert MODEL --dataset NAME` takes a `.keras` file (Keras 3), an `.h5` file with a
full model config (Keras 2, or Keras 3's legacy `model.save("m.h5")`) or a SavedModel folder.
What lenet-edge can carry: one image input of 28x28, with or without a channel axis, and one
output of K classes (K = the dataset's classes). Anything else is a ModelError (exit 4) naming
what was found: a weights-only `.h5`, two inputs, a 32x32x3 classifier, a detector's two outputs.

Two conventions are read from the layers, since nothing else in the file says them:
- input range: 0-255 when the model rescales itself (it starts with a `Rescaling` whose scale is
  1/255, or 1/127.5 with offset -1); without one, the range on which it classifies labelled
  training images better (a model trained on raw pixels takes 0-255 with no layer saying so).
  `--input-range` overrides it;
- output kind: probabilities when the last layer is a `Softmax` or has a softmax activation,
  else logits. The runtime reads it again from the converted graph (runtime/output_kind.py).
A SavedModel has no Keras layers to read: its input range is measured as above, and its outputs
are probabilities when every row of them on the test images is non-negative and sums to 1
(settle_output_kind).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge.errors import ModelError
from lenet_edge.files import input_files
from lenet_edge.toolchain import import_tensorflow

IMAGE_SHAPES = ((28, 28), (28, 28, 1))  # per image: what the export graph reshapes to
RANGE_0_1, RANGE_0_255 = "0-1", "0-255"
LOGITS, PROBABILITIES = "logits", "probabilities"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# A Rescaling's scale is written as a float literal (1/255 = 0.00392156...); allow a rounded one.
_SCALE_RTOL = 1e-3


@dataclass
class ForeignModel:
    """A loaded foreign model, checked, with what convert needs to know about it."""

    path: Path
    kind: str  # "keras", "h5" or "saved_model"
    image_shape: tuple[int, ...]  # per image, as the model takes it
    classes: int
    input_range: str  # RANGE_0_1 or RANGE_0_255, as detected
    input_reason: str
    output_kind: str  # LOGITS or PROBABILITIES
    output_reason: str
    rescales: bool  # starts with a Rescaling layer: its range is read from that layer
    layers: tuple[str, ...]  # layer classes in order (empty for a SavedModel)
    keras_model: Any = None  # None for a SavedModel
    call: Any = None  # images shaped (N, *image_shape) -> outputs (N, K), a TF callable

    def outputs(self, images: np.ndarray, batch: int = 1024) -> np.ndarray:
        """The model's own outputs on float32 images (N, 28, 28, 1) in its input range."""
        shaped = images.reshape(-1, *self.image_shape)
        parts = [np.asarray(self.call(shaped[i:i + batch])) for i in range(0, len(shaped), batch)]
        return np.concatenate(parts).astype(np.float32)

    def record(self) -> dict[str, Any]:
        """The manifest's `source_model`: what was converted, since there is no train.json."""
        from lenet_edge import bundle

        return {"path": str(self.path), "kind": self.kind,
                "sha256": _tree_sha256(self.path) if self.path.is_dir()
                else bundle.sha256_file(self.path),
                "input_shape": list(self.image_shape), "classes": self.classes,
                "layers": list(self.layers),
                "input_range_detected": self.input_range, "input_range_reason": self.input_reason,
                "output_kind_reason": self.output_reason}


def load_foreign(path: str | os.PathLike) -> ForeignModel:
    """Load and check a foreign model.

    Raises:
        ModelError: unreadable, weights only, a layer Keras cannot rebuild here, or not an
            image classifier of one 28x28 input and one output of classes.
    """
    path = Path(path)
    if path.is_dir():
        return _saved_model(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    kind = "keras" if path.suffix.lower() == ".keras" else "h5"
    # Read once through the bounded reader; the checks below parse these bytes in memory
    # (Keras then reads the file itself, as model.load_weights does in toolchain/model.py).
    data = input_files.read_bytes(path, input_files.KERAS_MODEL)
    if kind == "h5":
        _check_h5_has_model(path, data)
    import_tensorflow()
    import keras

    _check_layers_known(path, _model_config(path, kind, data))
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError for a bad model
        raise ModelError(f"{path}: cannot load the Keras model ({_first_line(exc)})") from None
    return _keras_model(path, kind, model)


def _check_h5_has_model(path: Path, data: bytes) -> None:
    import io

    import h5py

    if data[:8] != _HDF5_SIGNATURE:
        raise ModelError(f"{path}: not an HDF5 file (a Keras 2 .h5 model is one)")
    try:
        with h5py.File(io.BytesIO(data), "r") as h5:
            has_config = "model_config" in h5.attrs
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the HDF5 file ({exc})") from None
    if not has_config:
        raise ModelError(f"{path}: holds weights only (no model config, as save_weights writes); "
                         "convert needs the whole model: model.save('model.keras') or "
                         "model.save('model.h5')")


def _model_config(path: Path, kind: str, data: bytes) -> dict:
    """The model's config as saved (.keras: config.json in the zip; .h5: its attribute)."""
    import io
    import zipfile

    name = f"{path} (model config)"
    try:
        if kind == "keras":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                text = archive.read("config.json").decode()
        else:
            import h5py

            with h5py.File(io.BytesIO(data), "r") as h5:
                text = h5.attrs["model_config"]
            text = text.decode() if isinstance(text, bytes) else text
        config = input_files.parse_json(text, name)  # depth-limited, like every JSON read
        if not isinstance(config, dict):
            raise ValueError("the model config is not a JSON object")
        return config
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: not a Keras model file ({_first_line(exc)})") from None


def _check_layers_known(path: Path, config: dict) -> None:
    """Name a layer Keras cannot rebuild here, before Keras says it less plainly: a Lambda
    (Python code, which a model file may not run here) or a custom class (its code is not in
    the file)."""
    import keras

    def walk(model_config):  # the layers lists, into nested models
        layers = model_config.get("layers") if isinstance(model_config, dict) else None
        for layer in layers if isinstance(layers, list) else []:
            inner = layer.get("config", {}) if isinstance(layer, dict) else {}
            if isinstance(inner, dict):
                yield layer.get("class_name", "?"), layer.get("registered_name"), \
                    inner.get("name", "?")
                yield from walk(inner)

    for class_name, registered, name in walk(config.get("config", {})):
        if class_name == "Lambda":
            raise ModelError(f"{path}: layer {name!r} is a Lambda layer: Python code, which "
                             "lenet-edge does not run from a model file; rebuild the model with "
                             "built-in Keras layers")
        custom = registered not in (None, class_name) and not str(registered).startswith("keras")
        known = hasattr(keras.layers, class_name) or class_name in {"Sequential", "Functional",
                                                                     "Model", "InputLayer"}
        if custom or not known and class_name[:1].isupper():
            raise ModelError(f"{path}: layer {name!r} is a custom {registered or class_name}: "
                             "its code is not in the file, and lenet-edge converts models of "
                             "built-in Keras layers only")


def _keras_model(path: Path, kind: str, model) -> ForeignModel:
    import keras

    inputs, outputs = list(model.inputs), list(model.outputs)
    image_shape = _check_signature(
        path, [(getattr(t, "name", f"input {i}"), tuple(t.shape)) for i, t in enumerate(inputs)],
        [(getattr(t, "name", f"output {i}"), tuple(t.shape)) for i, t in enumerate(outputs)])
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    input_range, input_reason = _input_range(layers)
    output_kind, output_reason = _output_kind(layers[-1] if layers else None)
    return ForeignModel(
        path=path, kind=kind, image_shape=image_shape, classes=int(outputs[0].shape[-1]),
        input_range=input_range, input_reason=input_reason, output_kind=output_kind,
        rescales=bool(layers) and isinstance(
            next((x for x in layers if not isinstance(x, keras.layers.Reshape)), None),
            keras.layers.Rescaling),
        output_reason=output_reason, layers=tuple(type(layer).__name__ for layer in layers),
        keras_model=model, call=lambda x: model(x, training=False))


def _check_signature(path: Path, inputs: list[tuple[str, tuple]],
                     outputs: list[tuple[str, tuple]]) -> tuple[int, ...]:
    """The per-image input shape of a model with one 28x28 input and one (N, K) output."""
    def shapes(found: list[tuple[str, tuple]]) -> str:
        return ", ".join(f"{name} {_per_item(shape)}" for name, shape in found)

    if len(inputs) != 1:
        raise ModelError(f"{path}: the model has {len(inputs)} inputs ({shapes(inputs)}); "
                         "lenet-edge carries image classifiers with one 28x28 image input")
    image_shape = tuple(inputs[0][1][1:])
    if image_shape not in IMAGE_SHAPES:
        raise ModelError(f"{path}: the model's input is {_per_item(inputs[0][1])} per image; "
                         "lenet-edge carries 28x28 greyscale images, (28, 28) or (28, 28, 1)")
    if len(outputs) != 1 or len(outputs[0][1]) != 2 or not outputs[0][1][1]:
        raise ModelError(f"{path}: the model has {len(outputs)} output(s) ({shapes(outputs)}); "
                         "lenet-edge carries image classifiers with one output of K classes, "
                         "(N, K)")
    return image_shape


def _per_item(shape: tuple) -> str:
    return str(tuple(shape[1:]))


def _input_range(layers: list) -> tuple[str, str]:
    import keras

    first = next((layer for layer in layers if not isinstance(layer, keras.layers.Reshape)),
                 None)
    if isinstance(first, keras.layers.Rescaling):
        scale, offset = first.scale, first.offset
        numbers = isinstance(scale, (int, float)) and isinstance(offset, (int, float))
        if numbers and (math.isclose(scale * 255, 1, rel_tol=_SCALE_RTOL) and offset == 0 or
                        math.isclose(scale * 127.5, 1, rel_tol=_SCALE_RTOL) and offset == -1):
            return RANGE_0_255, (f"starts with {first.name}: Rescaling(scale={scale:.6g}, "
                                 f"offset={offset:g})")
        return RANGE_0_1, (f"starts with {first.name}: Rescaling(scale={scale}, offset={offset}) "
                           "that does not map 0-255 pixels: assumed 0-1 floats")
    return RANGE_0_1, "no Rescaling layer first"  # settle_input_range decides


def _output_kind(last) -> tuple[str, str]:
    import keras

    if last is None:
        return LOGITS, "no layers"
    if isinstance(last, keras.layers.Softmax):
        return PROBABILITIES, f"last layer {last.name} is a Softmax"
    activation = getattr(last, "activation", None)
    if activation is not None and keras.activations.serialize(activation) == "softmax":
        return PROBABILITIES, f"last layer {last.name} has a softmax activation"
    return LOGITS, f"last layer {last.name} ({type(last).__name__}) has no softmax"


def _saved_model(path: Path) -> ForeignModel:
    if not (path / "saved_model.pb").is_file():
        raise ModelError(f"{path}: a folder without train.json or saved_model.pb; expected a "
                         "directory written by 'lenet-edge train', a SavedModel folder, or a "
                         ".keras / .h5 file")
    tf = import_tensorflow()
    try:
        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures["serving_default"]
    except Exception as exc:
        raise ModelError(f"{path}: cannot load the SavedModel's serving_default signature "
                         f"({_first_line(exc)})") from None
    specs = signature.structured_input_signature[1]
    outputs = signature.structured_outputs
    image_shape = _check_signature(
        path, [(name, tuple(spec.shape)) for name, spec in specs.items()],
        [(name, tuple(spec.shape)) for name, spec in outputs.items()])
    (input_name,), (output_name,) = specs, outputs
    return ForeignModel(
        path=path, kind="saved_model", image_shape=image_shape,
        classes=int(outputs[output_name].shape[-1]), input_range=RANGE_0_1,
        input_reason="a SavedModel has no Keras layers to read", rescales=False,
        output_kind=LOGITS, output_reason="not yet seen",  # settle_output_kind decides
        layers=(), call=lambda x: signature(**{input_name: tf.convert_to_tensor(x)})[output_name],
        keras_model=loaded)  # kept alive: the signature's variables belong to it


def settle_input_range(model: ForeignModel, accuracy: dict[str, float]) -> None:
    """A model with no Rescaling layer first (or a SavedModel): the range on which it
    classifies labelled training images better. Fed the other, a model sees images 255 times
    too dark or too bright and scores near chance, so the two are far apart; on a tie (an
    untrained model) it stays 0-1, lenet-edge's own convention."""
    if model.rescales:
        return
    measured = ", ".join(f"{name} {value:.1%}" for name, value in accuracy.items())
    best = RANGE_0_255 if accuracy[RANGE_0_255] > accuracy[RANGE_0_1] else RANGE_0_1
    model.input_range = best
    model.input_reason = f"{model.input_reason}; accuracy on training images fed {measured}"


def settle_output_kind(model: ForeignModel, outputs: np.ndarray) -> None:
    """A SavedModel's output kind, from its outputs on real images (its layers are not read)."""
    if model.kind != "saved_model":
        return
    # float32 softmax rows sum to 1 within ~1e-6; 1e-3 leaves room for float16 models
    if outputs.min() >= -1e-3 and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3):
        model.output_kind, model.output_reason = PROBABILITIES, (
            f"every row of its outputs on {len(outputs)} images is >= 0 and sums to 1")
    else:
        model.output_kind, model.output_reason = LOGITS, (
            f"its outputs on {len(outputs)} images are not rows of probabilities")


def _tree_sha256(folder: Path) -> str:
    """sha256 over a folder's files (relative names and contents, in sorted order)."""
    import hashlib

    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(folder)).encode() + b"\0")
        digest.update(input_files.read_bytes(file, input_files.KERAS_MODEL))
    return digest.hexdigest()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
