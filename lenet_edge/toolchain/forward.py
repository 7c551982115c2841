"""LeNet-5's forward pass as the TensorFlow graph both exporters convert.

The batch dimension stays free so runtimes can resize the input and score a whole evaluation
set per call. Keras 3's `Flatten` reshapes to `(tf.shape(x)[0], 400)`; with a free batch that
puts SHAPE, STRIDED_SLICE and PACK in front of the dense head, splits TFLite's XNNPACK
delegate in two and raises the fp32 model's `min_runtime_version` from 1.5 to 1.11
(measured, TF 2.21). So the pass replays the layers in order and flattens with a reshape
to `(-1, 400)`: the same arithmetic (channels-last flatten is a reshape), a graph as small
as a fixed batch of 1 gives. `check_same_as_model` proves the two agree before export.
"""

from __future__ import annotations

import math

import numpy as np

from lenet_edge.errors import ModelError
from lenet_edge.toolchain.model import INPUT_SHAPE

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
# Both run the same float32 ops in the same order; allow float32 rounding of reordered sums.
SAME_AS_MODEL_ATOL = 1e-5


def forward_function(model, image_shape: tuple[int, ...] = INPUT_SHAPE, call=None):
    """A `tf.function` (input "image", output {"logits"}) computing `model` layer by layer.

    Args:
        model: a Keras model. A Sequential one is replayed layer by layer; any other is called
            whole (a functional graph need not be a chain).
        image_shape: the model's own input per image, (28, 28, 1) or (28, 28): the graph takes
            (N, 28, 28, 1) either way and reshapes (the same bytes in the same order).
        call: instead of `model`, a TF callable (a SavedModel's signature) on shaped images.

    Raises:
        ModelError: a layer this replay does not know how to reproduce exactly.
    """
    import keras
    import tensorflow as tf

    sequential = call is None and isinstance(model, keras.Sequential)
    layers = list(model.layers) if sequential else []
    for layer in layers:
        if isinstance(layer, keras.layers.Flatten) and layer.data_format != "channels_last":
            raise ModelError(f"layer {layer.name}: only channels-last Flatten is exported")
    spec = tf.TensorSpec((None, *INPUT_SHAPE), tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def forward(image):
        x = image if tuple(image_shape) == INPUT_SHAPE else tf.reshape(image, [-1, *image_shape])
        if not sequential:
            return {OUTPUT_NAME: call(x) if call is not None else model(x, training=False)}
        for layer in layers:
            if isinstance(layer, keras.layers.Flatten):
                x = tf.reshape(x, [-1, math.prod(x.shape[1:])])
            else:
                x = layer(x, training=False)
        return {OUTPUT_NAME: x}

    return forward


def frozen(forward):
    """The concrete function of `forward` with its weights turned into graph constants.

    TFLite's calibrator cannot read Keras 3's resource variables (READ_VARIABLE fails).
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    return convert_variables_to_constants_v2(forward.get_concrete_function())


def check_same_as_model(forward, model, images: np.ndarray,
                        expected: np.ndarray | None = None) -> None:
    """Raise ModelError unless `forward` and `model` give the same logits on `images`
    (`expected`: the model's outputs, when calling `model` on them is not how it runs)."""
    ours = forward(images)[OUTPUT_NAME].numpy()
    keras_logits = np.asarray(model(images, training=False)) if expected is None else expected
    error = float(np.max(np.abs(ours - keras_logits)))
    if not error <= SAME_AS_MODEL_ATOL:
        raise ModelError(f"the export graph differs from the Keras model by {error:.2e} "
                         f"(allowed {SAME_AS_MODEL_ATOL:.0e}); the model has a layer the "
                         "exporter does not replay faithfully")
