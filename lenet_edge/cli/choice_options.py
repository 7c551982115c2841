"""Option values picked from a catalogue: variants, runtimes, datasets, preferences.

Each is typed as an enum made from the catalogue's names and its help lists them, so a new
catalogue row shows up in `--help` by itself; the option's parser lets only those names through.
A name not on the list stops the parse with choices.unknown_choice's UsageError, "unknown
runtime 'onnx'; did you mean 'onnxruntime'? choose from ...", which cli/__init__.py prints
as one line, exit 2, before the command runs. The command receives plain strings.

The catalogues are imported here, at start-up, so each is a module that imports no numpy:
variants.py, runtime/runtimes.py (runtime/__init__.py imports its parts on first use),
data/classes.py, report/recommend.py, conversion_records.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from lenet_edge.choices import unknown_choice
from lenet_edge.conversion_records import CALIBRATION_METHODS
from lenet_edge.data.classes import DATASETS
from lenet_edge.report.recommend import PREFERENCES
from lenet_edge.runtime.input_ranges import INPUT_RANGE_CHOICES
from lenet_edge.runtime.runtimes import AUTO, RUNTIME_NAMES
from lenet_edge.variants import VARIANT_NAMES


class Catalogue:
    """The names of one kind (e.g. "runtime") as an enum for typer and a parser for them."""

    def __init__(self, kind: str, names: Sequence[str]):
        self.kind = kind
        self.names = tuple(names)
        # Member names need not be identifiers ("tflite-runtime"): typer shows the values.
        self.enum = StrEnum(kind.title().replace(" ", ""), {name: name for name in self.names})

    @property
    def metavar(self) -> str:
        """"RUNTIME": typer's own `<list[auto|litert|...]>` breaks mid-name at 80 columns."""
        return self.kind.upper().replace(" ", "_")

    def help(self, what: str, default: str = "") -> str:
        """Option help that lists the names: "WHAT: a, b or c (DEFAULT)."."""
        names = f"{', '.join(self.names[:-1])} or {self.names[-1]}" if len(self.names) > 1 \
            else self.names[0]
        return f"{what}: {names}" + (f" ({default})" if default else "") + "."

    def parse(self, value: str) -> str:
        """`value` if it is one of the names; never corrected (convention 7).

        Raises:
            UsageError: unknown name, with a "did you mean" when one is close.
        """
        if value in self.names:
            return str(value)  # a default given as the enum member arrives as a plain str
        raise unknown_choice(self.kind, value, self.names)


VARIANT = Catalogue("variant", VARIANT_NAMES)
RUNTIME = Catalogue("runtime", (AUTO, *RUNTIME_NAMES))
DATASET = Catalogue("dataset", DATASETS)
PREFERENCE = Catalogue("preference", PREFERENCES)
CALIBRATION_METHOD = Catalogue("calibration method", CALIBRATION_METHODS)
INPUT_RANGE = Catalogue("input range", INPUT_RANGE_CHOICES)

# The enums, as names for the annotations in the commands' signatures.
VariantName = VARIANT.enum
RuntimeName = RUNTIME.enum
DatasetName = DATASET.enum
Preference = PREFERENCE.enum
CalibrationMethod = CALIBRATION_METHOD.enum
InputRangeName = INPUT_RANGE.enum
# The help every command with --input-range shows (predict, verify, benchmark).
INPUT_RANGE_HELP = INPUT_RANGE.help(
    "What a model file's input takes", "default: auto = from a quantised input's scale; "
    "0-255 for an integer input without one; 0-1 for float, so a float model that "
    "rescales itself (Rescaling(1/255) inside) needs 0-255")
