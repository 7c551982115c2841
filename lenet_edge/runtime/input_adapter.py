"""The one input adapter: lenet-edge's image batch -> what a model of any layout takes.

Every image reaches a runtime through `preprocess()`: float32 (N, 28, 28, 1) in [0, 1]. Models
other people published differ in three ways, and predict, verify and benchmark adapt to all
three here, from the runner's own description of its input tensor:

- layout: (28, 28), (28, 28, 1), or channels-first (1, 28, 28) per image. With one channel all
  three hold the same numbers in the same order, so the adapter only reshapes;
- units ("input range"): 0-1 floats (lenet-edge's models, and most tutorials' x / 255), or 0-255
  pixels (a model that rescales itself, e.g. a Keras `Rescaling(1/255)` first layer);
- dtype: float, quantised uint8/int8 (the backend quantises with the model's own scale and zero
  point, so the adapter hands it real values in the model's units), or integer without
  quantisation (whole pixel values 0-255, rounded here so the backend's cast is exact).

The input range, when not given (`auto`), follows this rule:
- a quantised integer input: the range its quantisation can represent. uint8 with scale 1/255
  and zero point 0 holds 0..1 (the pixels 0..255 are its raw values); a scale near 1 holds
  0..255. Anything whose top is above RANGE_SPLIT is 0-255;
- an integer input without quantisation: 0-255, the only range it can hold;
- a float input: 0-1, unless a bundle's manifest records `input_range` (convert knows how the
  model was trained; a bare file does not say). A float model that rescales itself needs
  `--input-range 0-255`; on 0-1 input it sees near-black images and scores near chance. The
  graph cannot tell: the TFLite converter folds a `Rescaling(1/255)` first layer into the
  first convolution's weights (seen in the tests' rescaling model: CONV_2D reads the input).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.errors import ModelError, UsageError
from lenet_edge.runtime.input_ranges import AUTO, INPUT_RANGES, check_input_range
from lenet_edge.runtime.runner_types import IMAGE_SHAPE, Runner, check_images

# Layouts of one 28x28 greyscale image: one channel, so all are the same bytes in order.
IMAGE_LAYOUTS = ((28, 28, 1), (28, 28), (1, 28, 28))
# A quantised input whose largest representable value is above this takes 0-255 pixels: the
# two conventions' tops are 1 and 255, so any split between them tells them apart; 16 leaves
# room for calibration ranges a little wider than the data.
RANGE_SPLIT = 16.0


@dataclass(frozen=True)
class InputAdapter:
    """Turns preprocess()'s (N, 28, 28, 1) [0, 1] batch into what one model's runner takes."""

    shape: tuple[int, ...]  # one image, as the runner takes it
    dtype: str  # the model's input tensor dtype
    white: float  # 1.0 (0-1 input) or 255.0 (0-255 pixels)
    integer: bool  # an unquantised integer tensor: whole pixel values
    reason: str  # why this range: "requested", "uint8 quantisation scale 0.00392", ...

    @property
    def input_range(self) -> str:
        return next(name for name, white in INPUT_RANGES.items() if white == self.white)

    def describe(self) -> str:
        """E.g. "uint8 (28, 28), 0-1 (from its quantisation)", for tables and --json."""
        return f"{self.dtype} {self.shape}, {self.input_range} ({self.reason})"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """The batch in the model's layout and units (float32; the backend quantises)."""
        images = check_images(images, IMAGE_SHAPE)
        x = images * np.float32(self.white) if self.white != 1.0 else images
        if self.integer:
            x = np.rint(x)  # the backend casts without rounding: 254.99 would become 254
        return np.ascontiguousarray(x.reshape(len(x), *self.shape), dtype=np.float32)


def adapt_input(runner: Runner, input_range: str = AUTO, source: str = "model") -> InputAdapter:
    """The adapter for `runner`'s input; `input_range` is auto, 0-1 or 0-255.

    Raises:
        ModelError: the model does not take one 28x28 greyscale image per batch row.
        UsageError: an unknown range, or 0-1 asked of an input that holds only whole pixels.
    """
    check_input_range(input_range)
    shape = tuple(int(d) for d in runner.input_shape)
    if shape not in IMAGE_LAYOUTS:
        raise ModelError(f"{source}: model input is {shape} per image; lenet-edge feeds "
                         "28x28 greyscale images as (28, 28), (28, 28, 1) or (1, 28, 28)")
    info = runner.metadata()["input"]
    dtype = str(info["dtype"])
    scale, zero_point = info.get("scale"), info.get("zero_point")
    kind = np.dtype(dtype).kind
    integer = kind in "iu" and not scale
    if integer and np.iinfo(dtype).max < 255:
        raise ModelError(f"{source}: its {dtype} input is not quantised, so nothing says "
                         "which of its values is black and which white")
    if integer and input_range == "0-1":
        raise UsageError(f"{source}: its {dtype} input is not quantised, so it takes whole "
                         "pixels 0-255; --input-range 0-1 cannot be fed to it")
    if input_range != AUTO:
        return InputAdapter(shape, dtype, INPUT_RANGES[input_range], integer, "requested")
    if integer:
        return InputAdapter(shape, dtype, 255.0, True, f"{dtype} without quantisation")
    if kind in "iu":
        top = float(scale) * (np.iinfo(dtype).max - int(zero_point or 0))
        white = 255.0 if top > RANGE_SPLIT else 1.0
        return InputAdapter(shape, dtype, white, False,
                            f"its quantisation holds 0..{top:.4g}")
    return InputAdapter(shape, dtype, 1.0, False, "float input: the default")


def random_frames(count: int, seed: int = 0) -> np.ndarray:
    """`count` uint8 (28, 28) frames of uniform noise: benchmark input for a model file.

    Seeded, so two runs time the same numbers; noise rather than digits because a bare file
    brings no images, and LeNet's cost does not depend on the pixel values.
    """
    return np.random.default_rng(seed).integers(0, 256, (count, 28, 28), dtype=np.uint8)


def benchmark_inputs(runner: Runner, count: int, input_range: str = AUTO,
                     source: str = "model", seed: int = 0) -> np.ndarray:
    """`count` inputs for timing `runner`, in its own shape, dtype units and input range.

    An image model gets noise frames through its adapter; any other shape (benchmark times
    any .tflite / .onnx, as benchmark_model does) gets uniform floats over its input range:
    0..1 or 0..255 as asked (0..1 by default), or what a quantised input can represent.
    """
    shape = tuple(int(d) for d in runner.input_shape)
    if shape in IMAGE_LAYOUTS:
        from lenet_edge.data.preprocess import preprocess

        return adapt_input(runner, input_range, source)(preprocess(random_frames(count, seed)))
    check_input_range(input_range)
    info = runner.metadata()["input"]
    low, high = 0.0, INPUT_RANGES.get(input_range, 1.0)
    if info.get("scale") and np.dtype(info["dtype"]).kind in "iu":
        limits, zero_point = np.iinfo(info["dtype"]), int(info.get("zero_point") or 0)
        low, high = (float(info["scale"]) * (q - zero_point) for q in (limits.min, limits.max))
    values = np.random.default_rng(seed).uniform(low, high, (count, *shape))
    return values.astype(np.float32)
