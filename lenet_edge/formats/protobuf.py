"""Bounds-checked reads of the protobuf wire format, with no `protobuf` package or schema.

A message is a run of fields: a varint key (field number << 3 | wire type), then a varint, a
fixed 4 or 8 bytes, or a varint length and that many bytes (strings, bytes, sub-messages,
packed arrays). Every read checks its bounds, so bytes that are not a message raise
ModelError, never IndexError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

from lenet_edge.errors import ModelError

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

Span = tuple[int, int]  # (start, end) of a length-delimited payload


class Protobuf:
    """Field-by-field reads; `fail` names the file and what it should be."""

    def __init__(self, data: bytes, source: str, kind: str):
        self.data, self.source = data, source
        self.kind = kind  # "ONNX model": the error says "not a valid ONNX model (...)"

    def fail(self, why: str) -> NoReturn:
        raise ModelError(f"{self.source}: not a valid {self.kind} ({why})")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            if pos >= end or shift > 63:
                self.fail("a number runs past its message")
            byte = self.data[pos]
            value |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if byte < 0x80:
                return value, pos

    def fields(self, start: int, end: int) -> Iterator[tuple[int, int, int | Span]]:
        """(field number, wire type, varint value or the payload's span); fixed-width fields
        are skipped (nothing read here is stored in one)."""
        pos = start
        while pos < end:
            key, pos = self.varint(pos, end)
            number, wire = key >> 3, key & 7
            if wire == VARINT:
                value, pos = self.varint(pos, end)
                yield number, wire, value
            elif wire == LENGTH:
                length, pos = self.varint(pos, end)
                if pos + length > end:
                    self.fail(f"field {number} runs past the end ({end - pos} bytes left)")
                yield number, wire, (pos, pos + length)
                pos += length
            elif wire in (FIXED64, FIXED32):
                pos += 8 if wire == FIXED64 else 4
                if pos > end:
                    self.fail("a fixed-width field runs past the end")
            else:
                self.fail(f"wire type {wire} at byte {pos}")
            if number == 0:
                self.fail("field number 0")

    def text(self, span: Span) -> str:
        return self.data[span[0]:span[1]].decode("utf-8", errors="replace")
