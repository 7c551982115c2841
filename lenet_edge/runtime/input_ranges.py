"""The input ranges a model may take, by name: numpy-free, so the CLI lists them in --help.

`input_adapter.py` says what each means and how `auto` decides; this module only names them.
"""

from __future__ import annotations

from typing import Any

from lenet_edge.choices import unknown_choice

AUTO = "auto"
INPUT_RANGES = {"0-1": 1.0, "0-255": 255.0}  # name -> the value of a white pixel
INPUT_RANGE_CHOICES = (AUTO, *INPUT_RANGES)


def check_input_range(input_range: str) -> str:
    """`input_range` if it is auto, 0-1 or 0-255; UsageError naming the choices otherwise."""
    if input_range not in INPUT_RANGE_CHOICES:
        raise unknown_choice("input range", input_range, INPUT_RANGE_CHOICES)
    return input_range


def recorded_input_range(manifest: dict[str, Any], entry: dict[str, Any]) -> str:
    """The input range a bundle records for a variant (its entry, else the manifest's own
    `input_range`), or auto: lenet-edge's own bundles take 0-1, which auto finds."""
    recorded = entry.get("input_range") or manifest.get("input_range") or AUTO
    return check_input_range(str(recorded))
