"""The vocabulary the typed records check fields with: one field, one expected type.

Each file lenet-edge reads back has a frozen record whose `from_dict` says which fields it
needs (bundle.Manifest, train_record.TrainRecord, results/: VerifyReport, BenchmarkReport,
PipelineRecord); they check each with `field()` and friends here. What is wrong is raised
as `Invalid`, to which the file's reader adds the file's name and its exit code.
"""

from __future__ import annotations

import json
import math
from typing import Any

from lenet_edge.errors import OutputError


def strict_json(obj: Any, what: str, indent: int | None = 2) -> str:
    """JSON text for a file or stdout that any parser reads: never a bare NaN or Infinity.

    Raises:
        OutputError: a value is NaN or infinite (naming `what`: the file or "--json").
    """
    try:
        return json.dumps(obj, indent=indent, allow_nan=False)
    except ValueError as exc:
        raise OutputError(f"{what}: cannot write a value that is NaN or infinite as JSON "
                          f"({exc})") from None


class Invalid(Exception):
    """What is wrong with one field; the file's reader adds the file name."""


def field(obj: dict[str, Any], key: str, kind: type, where: str = "",
          optional: bool = False, nullable: bool = False) -> Any:
    """obj[key] if it is a `kind`, else Invalid.

    float: any finite number (not bool); int: an integer (not bool); str, list, dict: that type.
    """
    name = f"{where}.{key}" if where else key
    if key not in obj:
        if optional:
            return None
        raise Invalid(f"{name} is missing")
    value = obj[key]
    if value is None and nullable:
        return None
    ok = (is_number(value) if kind is float
          else isinstance(value, int) and not isinstance(value, bool) if kind is int
          else isinstance(value, kind))
    if not ok:
        expected = {float: "a number", int: "an integer", str: "a string",
                    list: "a list", dict: "an object", bool: "true or false"}[kind]
        raise Invalid(f"{name} must be {expected}, got {describe(value)}")
    return value


def rows(data: dict[str, Any], key: str, optional: bool = False,
         where: str = "") -> list[dict[str, Any]]:
    """data[key] as a list of objects (an absent optional list is empty)."""
    found = field(data, key, list, where, optional=optional) or []
    name = f"{where}.{key}" if where else key
    for i, row in enumerate(found):
        if not isinstance(row, dict):
            raise Invalid(f"{name}[{i}] must be an object, got {describe(row)}")
    return found


def strings(data: dict[str, Any], key: str, where: str = "",
            optional: bool = False) -> dict[str, str] | None:
    """data[key] as an object of string values (a table of tool versions)."""
    table = field(data, key, dict, where, optional=optional)
    name = f"{where}.{key}" if where else key
    for name_, value in (table or {}).items():
        if not isinstance(value, str):
            raise Invalid(f"{name}.{name_} must be a string, got {describe(value)}")
    return table


def is_number(value: Any) -> bool:
    """A finite int or float; bool is not a number here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)  # isfinite(10**400) overflows


def describe(value: Any) -> str:
    """`str 'many'`: the type and the start of the value, for a message."""
    return "null" if value is None else f"{type(value).__name__} {value!r:.40}"
