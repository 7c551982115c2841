"""Build the foreign-style models test_single_files.py runs: `python foreign_models.py OUT`.

Run in a child process (the pytest process never imports TensorFlow: conftest.py). Each is a
small Keras classifier trained on digits as someone else would write it, not by lenet-edge:

- `probs_uint8.tflite`: input (N, 28, 28) in 0-1, Reshape, Conv2D, MaxPooling, Dense softmax;
  full-integer TFLite with uint8 input and output (inference_input_type=tf.uint8), written by
  the converter here;
- `probs.onnx`: the same Keras model through tf2onnx `from_function`: float (N, 28, 28) input,
  a Softmax node at the end;
- `bytes.onnx`: the same again behind a graph that takes uint8 pixels (N, 28, 28) and divides
  them by 255 itself;
- `rescaling.tflite`: input (N, 28, 28, 1) in 0-255 with `Rescaling(1/255)` first, softmax
  last, float TFLite: a model that takes pixels.

OUT also gets `keras.npz`: each Keras model's probabilities on the digits test split (fed in
the units it expects), for the test to compare with.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
EPOCHS = 15  # digits' 1438 training images: ~97% test accuracy in a few seconds


def main(out: Path) -> None:
    import keras
    import tensorflow as tf

    from lenet_edge.data.datasets import load_dataset

    keras.utils.set_random_seed(0)
    data = load_dataset("digits")
    x_train = data.x_train.astype(np.float32) / 255.0
    x_test = data.x_test.astype(np.float32) / 255.0

    probs = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),
        keras.layers.Conv2D(8, 5, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    rescaling = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 5, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    for model, x in ((probs, x_train), (rescaling, x_train[..., None] * 255.0)):
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, data.y_train, epochs=EPOCHS, batch_size=32, verbose=0)

    def representative():
        for image in x_train[:300]:
            yield [image[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(probs)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    (out / "probs_uint8.tflite").write_bytes(converter.convert())
    converter = tf.lite.TFLiteConverter.from_keras_model(rescaling)
    (out / "rescaling.tflite").write_bytes(converter.convert())

    import tf2onnx

    spec = (tf.TensorSpec((None, 28, 28), tf.float32, name="image"),)
    forward = tf.function(lambda image: probs(image), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=13)
    (out / "probs.onnx").write_bytes(proto.SerializeToString())
    spec = (tf.TensorSpec((None, 28, 28), tf.uint8, name="pixels"),)
    forward = tf.function(lambda pixels: probs(tf.cast(pixels, tf.float32) / 255.0),
                          input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=13)
    (out / "bytes.onnx").write_bytes(proto.SerializeToString())

    np.savez(out / "keras.npz",
             probs=probs.predict(x_test, verbose=0),
             rescaling=rescaling.predict(x_test[..., None] * 255.0, verbose=0))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
