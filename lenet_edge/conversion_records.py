"""How a quantised variant was made, as the manifest records it: calibration and mixed precision.

Both live in an artifact's entry (each variant may be reconverted alone, with other choices)::

    "converter": {"calibration": {"samples", "seed", "split", "method", "per_channel",
                                  "images_sha256"} | null, ...}
    "sensitivity": {keras layer: agreement gained when that layer alone stays float}
    "mixed_precision": {"gates": {"max_drop", "min_agreement"},
                        "held_out": {"images", "split", "images_sha256"},
                        "float_layers": [{"layer", "node", "agreement_gain"}],
                        "int8": trial, "result": trial, "trials": [trial]}
    trial = {"float_layers": [keras layer], "agreement", "delta_points", "passed"}

`sensitivity` and `mixed_precision` are measured on the held-out slice of the training split
(not the test set verify reports on); int8 carries `sensitivity` too when it was converted in
the same run as int8-mixed. `images_sha256` hashes the uint8 images in the order used (N x 28
x 28, C order), so the same draw gives the same hash. Bundles from before these fields still
read: method, per_channel and images_sha256 are optional. TF- and numpy-free (the CLI takes
the method names for `--help`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lenet_edge import schema

# What `convert --calibration-method` takes; the TFLite converter calibrates min/max only.
CALIBRATION_METHODS: tuple[str, ...] = ("minmax", "entropy", "percentile")
DEFAULT_CALIBRATION_METHOD = "minmax"


def _hex_digest(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or value.strip("0123456789abcdef"):
        raise schema.Invalid(f"{where} must be 64 hex digits, got {schema.describe(value)}")
    return value


def _optional_bool(data: dict[str, Any], key: str, where: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise schema.Invalid(f"{where}.{key} must be true or false, got {schema.describe(value)}")
    return value


@dataclass(frozen=True)
class CalibrationRecord:
    """The training images a variant was calibrated on, and how."""

    samples: int
    seed: int
    split: str = "train"
    method: str | None = None  # one of CALIBRATION_METHODS; None: a bundle from before
    per_channel: bool | None = None  # weight scales per output channel (else per tensor)
    images_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> CalibrationRecord:
        """A checked record; schema.Invalid names the field."""
        if not isinstance(data, dict):
            raise schema.Invalid(f"{where} must be an object, got {schema.describe(data)}")
        f = schema.field
        samples = f(data, "samples", int, where)
        if samples < 1:
            raise schema.Invalid(f"{where}.samples must be >= 1, got {samples}")
        method = f(data, "method", str, where, optional=True)
        if method is not None and method not in CALIBRATION_METHODS:
            raise schema.Invalid(f"{where}.method {method!r} is not one of "
                                 f"{', '.join(CALIBRATION_METHODS)}")
        digest = data.get("images_sha256")
        return cls(samples=samples, seed=f(data, "seed", int, where),
                   split=f(data, "split", str, where), method=method,
                   per_channel=_optional_bool(data, "per_channel", where),
                   images_sha256=None if digest is None else _hex_digest(
                       digest, f"{where}.images_sha256"))


@dataclass(frozen=True)
class Trial:
    """One candidate of the mixed-precision search, judged on the held-out slice."""

    float_layers: tuple[str, ...]
    agreement: float  # top-1 agreement with the float model
    delta_points: float  # accuracy minus the float model's, in points
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"float_layers": list(self.float_layers), "agreement": round(self.agreement, 6),
                "delta_points": round(self.delta_points, 4), "passed": self.passed}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Trial:
        if not isinstance(data, dict):
            raise schema.Invalid(f"{where} must be an object, got {schema.describe(data)}")
        f = schema.field
        layers = f(data, "float_layers", list, where)
        if not all(isinstance(name, str) for name in layers):
            raise schema.Invalid(f"{where}.float_layers must be layer names")
        agreement = f(data, "agreement", float, where)
        if not 0 <= agreement <= 1:
            raise schema.Invalid(f"{where}.agreement must be in 0..1, got {agreement}")
        return cls(tuple(layers), agreement, f(data, "delta_points", float, where),
                   f(data, "passed", bool, where))


@dataclass(frozen=True)
class FloatLayer:
    """A layer the mixed variant keeps in float, and why: what it gained alone."""

    layer: str  # Keras layer
    node: str  # the converter's output tensor name (QuantizationDebugOptions.denylisted_nodes)
    agreement_gain: float

    @classmethod
    def from_dict(cls, data: Any, where: str) -> FloatLayer:
        if not isinstance(data, dict):
            raise schema.Invalid(f"{where} must be an object, got {schema.describe(data)}")
        f = schema.field
        return cls(f(data, "layer", str, where), f(data, "node", str, where),
                   f(data, "agreement_gain", float, where))


@dataclass(frozen=True)
class MixedPrecisionRecord:
    """The accuracy-gated search that made a mixed variant (the module docstring: its shape)."""

    gates: dict[str, float]
    held_out_images: int
    float_layers: tuple[FloatLayer, ...]
    int8: Trial  # every layer quantised
    result: Trial  # what the bundle holds
    trials: tuple[Trial, ...]

    @classmethod
    def from_dict(cls, data: Any, where: str) -> MixedPrecisionRecord:
        if not isinstance(data, dict):
            raise schema.Invalid(f"{where} must be an object, got {schema.describe(data)}")
        f = schema.field
        gates = f(data, "gates", dict, where)
        for key in ("max_drop", "min_agreement"):
            f(gates, key, float, f"{where}.gates")
        held_out = f(data, "held_out", dict, where)
        images = f(held_out, "images", int, f"{where}.held_out")
        if images < 1:
            raise schema.Invalid(f"{where}.held_out.images must be >= 1, got {images}")
        return cls(
            gates=gates, held_out_images=images,
            float_layers=tuple(FloatLayer.from_dict(row, f"{where}.float_layers[{i}]")
                               for i, row in enumerate(f(data, "float_layers", list, where))),
            int8=Trial.from_dict(data.get("int8"), f"{where}.int8"),
            result=Trial.from_dict(data.get("result"), f"{where}.result"),
            trials=tuple(Trial.from_dict(row, f"{where}.trials[{i}]")
                         for i, row in enumerate(f(data, "trials", list, where))),
        )


def check_sensitivity(data: Any, where: str) -> dict[str, float]:
    """`sensitivity`: {keras layer: agreement gain}; schema.Invalid otherwise."""
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and schema.is_number(v) for k, v in data.items()):
        raise schema.Invalid(f"{where} must map layer names to numbers")
    return {k: float(v) for k, v in data.items()}
