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


def forward_function(model):
    """A `tf.function` (input "image", output {"logits"}) computing `model` layer by layer.

    Raises:
        ModelError: a layer this replay does not know how to reproduce exactly.
    """
    import keras
    import tensorflow as tf

    layers = list(model.layers)
    for layer in layers:
        if isinstance(layer, keras.layers.Flatten) and layer.data_format != "channels_last":
            raise ModelError(f"layer {layer.name}: only channels-last Flatten is exported")
    spec = tf.TensorSpec((None, *INPUT_SHAPE), tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def forward(image):
        x = image
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


def check_same_as_model(forward, model, images: np.ndarray) -> None:
    """Raise ModelError unless `forward` and `model` give the same logits on `images`."""
    ours = forward(images)[OUTPUT_NAME].numpy()
    keras_logits = np.asarray(model(images, training=False))
    error = float(np.max(np.abs(ours - keras_logits)))
    if not error <= SAME_AS_MODEL_ATOL:
        raise ModelError(f"the export graph differs from the Keras model by {error:.2e} "
                         f"(allowed {SAME_AS_MODEL_ATOL:.0e}); the model has a layer the "
                         "exporter does not replay faithfully")
