"""Names a user picks from a fixed list (variants, runtimes, datasets, ...), and the one error
for a name that is not on it: what was given, a "did you mean" when one is close, every choice.

The suggestion is only ever shown, never applied: `--variant INT8` fails and names 'int8'
(convention 7: never silently correct user input).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from lenet_edge.errors import UsageError


def _normalised(name: str) -> str:
    """How a typo most often differs from the real name: case, '_' for '-', stray spaces."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def closest(name: str, choices: Sequence[str]) -> str | None:
    """The one choice `name` most likely meant, or None when nothing is close."""
    by_normal = {_normalised(c): c for c in choices}
    wanted = _normalised(name)
    if wanted in by_normal:
        return by_normal[wanted]
    # A clipped name (onnx -> onnxruntime) counts when it starts exactly one choice.
    starting = [c for n, c in by_normal.items() if len(wanted) >= 3 and n.startswith(wanted)]
    if len(starting) == 1:
        return starting[0]
    # cutoff 0.8: int16 -> int16x8 and litrt -> litert are typos; int4 -> int8 is another thing
    close = difflib.get_close_matches(wanted, list(by_normal), n=1, cutoff=0.8)
    return by_normal[close[0]] if close else None


def unknown_choice(kind: str, name: object, choices: Sequence[str]) -> UsageError:
    """The UsageError for `name` not being one of `choices`, e.g. an unknown variant.

    >>> str(unknown_choice("variant", "INT8", ["fp32", "int8"]))
    "unknown variant 'INT8'; did you mean 'int8'? choose from fp32, int8"
    """
    guess = closest(name, choices) if isinstance(name, str) else None
    hint = f"did you mean {guess!r}? " if guess is not None else ""
    return UsageError(f"unknown {kind} {name!r}; {hint}choose from {', '.join(choices)}")
