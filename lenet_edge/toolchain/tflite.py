"""Export LeNet-5 to TFLite: one recipe row per variant, one function that applies a row.

Measured with TF 2.21 / Keras 3 (2 cores): converting the frozen forward pass
(`toolchain.forward`) with `TFLiteConverter.from_concrete_functions` takes 0.15-0.4 s per
variant. TF calls that path deprecated and asks for `trackable_obj`, but passing it (or going
through `model.export(format="tf_saved_model")` + `from_saved_model`) routes every conversion
through a SavedModel: 0.8-1.5 s each, which seven variants cannot afford.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from lenet_edge.stderr import native_stderr_silenced


@dataclass(frozen=True)
class TFLiteRecipe:
    """Converter settings for one variant (names follow `tf.lite` attributes)."""

    optimize: bool = False  # tf.lite.Optimize.DEFAULT: quantise weights to int8 (or fp16)
    float16_weights: bool = False  # target_spec.supported_types = [tf.float16]
    calibrate: bool = False  # a representative dataset: activations get quantised too
    ops_set: str = "TFLITE_BUILTINS"  # a tf.lite.OpsSet member; builtins only, never SELECT_TF_OPS
    io_type: str | None = None  # inference_input_type / inference_output_type, e.g. "int8"
    per_channel_dense: bool = True  # False: one weight scale per dense layer (see "dynamic")
    per_channel: bool = True  # False: one weight scale per tensor everywhere (--per-tensor)
    # int8-mixed: layers revert to float until the gates pass (toolchain/mixed_precision.py)
    accuracy_gated: bool = False

    def as_manifest(self) -> dict:
        return asdict(self)


_PER_TENSOR_DENSE = "_experimental_disable_per_channel_quantization_for_dense_layers"
_PER_TENSOR = "_experimental_disable_per_channel"  # also what QuantizationDebugger reads

RECIPES: dict[str, TFLiteRecipe] = {
    "fp32": TFLiteRecipe(),
    "fp16": TFLiteRecipe(optimize=True, float16_weights=True),
    # Per-channel dense weights make FULLY_CONNECTED version 12 (min_runtime_version 2.17),
    # which tflite-runtime 2.14, the last wheel for many Pis, cannot load. Per-tensor scales
    # give version 9 (runtime 2.4) at 99.72% vs 99.80% top-1 agreement (Fashion, measured).
    "dynamic": TFLiteRecipe(optimize=True, per_channel_dense=False),
    "int8": TFLiteRecipe(optimize=True, calibrate=True, ops_set="TFLITE_BUILTINS_INT8",
                         io_type="int8"),
    # int8's settings; which layers stay float is searched against the gates. Float I/O: a
    # model with float ops is not integer-only anyway, and a float last layer then gives
    # float logits (int8 logits tie: on Fashion-MNIST that alone caps agreement near 99.65%).
    "int8-mixed": TFLiteRecipe(optimize=True, calibrate=True, ops_set="TFLITE_BUILTINS_INT8",
                               accuracy_gated=True),
    "int16x8": TFLiteRecipe(
        optimize=True, calibrate=True,
        ops_set="EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
    ),
}


def representative_dataset(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    """The converter's calibration feed: one preprocessed image per step, batch of 1."""

    def feed() -> Iterator[list[np.ndarray]]:
        for i in range(len(images)):
            yield [images[i : i + 1]]

    return feed


def export_tflite(frozen, recipe: TFLiteRecipe, calibration: np.ndarray | None) -> bytes:
    """Convert a frozen forward pass to .tflite bytes following `recipe`.

    Args:
        frozen: the forward pass from `forward.frozen`.
        recipe: a row of RECIPES, not an accuracy-gated one (mixed_precision.search makes
            those: it needs the gates and held-out images).
        calibration: float32 (N, 28, 28, 1) training images through `data.preprocess`;
            required when the recipe calibrates.
    """
    if recipe.accuracy_gated:
        raise ValueError("an accuracy-gated recipe is built by mixed_precision.search")
    with quiet_converter():
        return converter_for(frozen, recipe, calibration).convert()


@contextmanager
def quiet_converter() -> Iterator[None]:
    """Silence the converter's known, benign chatter.

    The trackable_obj deprecation (see the module docstring), "Statistics for quantized
    inputs were expected" (int8 inputs take their scale from the calibration data, as
    intended), tf.lite.Interpreter's move to LiteRT, and the quantiser's native
    "fully_quantize: 0, ..." line. Converter errors still arrive as Python exceptions.
    """
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), native_stderr_silenced():
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            yield
    finally:
        absl_logger.setLevel(level)


def converter_for(frozen, recipe: TFLiteRecipe, calibration: np.ndarray | None):
    """A TFLiteConverter set up as `recipe` says (the mixed-precision search starts here)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, recipe.ops_set)]
    if recipe.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if recipe.float16_weights:
        converter.target_spec.supported_types = [tf.float16]
    if recipe.calibrate:
        if calibration is None or not len(calibration):
            raise ValueError("this recipe calibrates: calibration images are required")
        converter.representative_dataset = representative_dataset(calibration)
    if recipe.io_type:
        converter.inference_input_type = getattr(tf, recipe.io_type)
        converter.inference_output_type = getattr(tf, recipe.io_type)
    if not recipe.per_channel_dense:
        _set_private(converter, _PER_TENSOR_DENSE)
    if not recipe.per_channel:
        _set_private(converter, _PER_TENSOR)
    return converter


def _set_private(converter, switch: str) -> None:
    """Turn on a private converter switch (TF 2.21 has both): fail loudly if a TF upgrade
    drops it, rather than silently write a model other than the one asked for."""
    if not hasattr(converter, switch):
        raise RuntimeError(f"this TensorFlow has no TFLiteConverter.{switch}")
    setattr(converter, switch, True)
