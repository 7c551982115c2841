"""The catalogue of converted variants, as data: adding a variant adds a row.

How each row is produced lives with its converter (`toolchain/tflite.py`, `toolchain/onnx.py`),
keyed by the same name, so this module stays importable on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lenet_edge.choices import unknown_choice
from lenet_edge.formats import get_format


@dataclass(frozen=True)
class Variant:
    name: str
    format: str  # a name in lenet_edge.formats.FORMATS: "tflite" or "onnx"
    weights: str
    activations: str
    io: str  # dtype of the model's own input and output tensors
    summary: str
    # Built against the accuracy gates (convert --max-drop/--min-agreement), so only when
    # named: its result depends on the gates, and where plain int8 passes them it is int8.
    gated: bool = False

    @property
    def quantised(self) -> bool:
        """Whether it stores weights or activations as integers (what `explain` looks into)."""
        return any(kind.startswith("int") for kind in (self.weights, self.activations))

    @property
    def file(self) -> str:
        """The file convert writes, e.g. lenet5_onnx_int8.onnx."""
        return f"lenet5_{self.name.replace('-', '_')}{get_format(self.format).suffix}"

    @property
    def candidate_file(self) -> str:
        """Where convert keeps a gated variant's best try when no try passed the gates."""
        stem, suffix = self.file.rsplit(".", 1)
        return f"{stem}.candidate.{suffix}"


VARIANTS: tuple[Variant, ...] = (
    Variant("fp32", "tflite", "fp32", "fp32", "float32", "reference conversion"),
    Variant("fp16", "tflite", "fp16", "fp32", "float32", "half-size weights, dequantised at load"),
    Variant("dynamic", "tflite", "int8", "fp32", "float32", "dynamic-range int8 weights"),
    Variant("int8", "tflite", "int8", "int8", "int8", "full integer, calibrated"),
    Variant("int8-mixed", "tflite", "int8", "int8", "float32",
            "int8, the most sensitive layers kept in float until the gates pass", gated=True),
    Variant("int16x8", "tflite", "int8", "int16", "float32", "int16 activations, int8 weights"),
    Variant("onnx-fp32", "onnx", "fp32", "fp32", "float32", "tf2onnx"),
    Variant("onnx-int8", "onnx", "int8", "int8", "float32", "static QDQ, per-channel"),
    Variant("onnx-int8-mixed", "onnx", "int8", "int8", "float32",
            "onnx-int8, the most sensitive layers kept in float until the gates pass",
            gated=True),
)

VARIANT_NAMES: tuple[str, ...] = tuple(v.name for v in VARIANTS)
# What convert builds when no --variant is named: all but the gated ones.
DEFAULT_VARIANTS: tuple[Variant, ...] = tuple(v for v in VARIANTS if not v.gated)
_BY_NAME = {v.name: v for v in VARIANTS}


def get_variant(name: str) -> Variant:
    """Return the variant called `name`, or raise UsageError listing the known ones."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name from a file
        raise unknown_choice("variant", name, VARIANT_NAMES) from None


def resolve_variants(names: Sequence[str] | None) -> tuple[Variant, ...]:
    """Variants for a `--variant` list, in catalogue order; none given means DEFAULT_VARIANTS."""
    if not names:
        return DEFAULT_VARIANTS
    chosen = {get_variant(n).name for n in names}
    return tuple(v for v in VARIANTS if v.name in chosen)
