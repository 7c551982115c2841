"""Bounds-checked reads of a FlatBuffer, with no `flatbuffers` package (the device lacks it).

Layout in brief (little-endian): the file starts with a uint32 offset to the root table, then a
4-byte file identifier. A table starts with an int32 pointing back to its vtable: uint16 vtable
size, uint16 table size, then one uint16 per field (0 = field absent, else the field's offset
inside the table). Strings, vectors and sub-tables are stored as a uint32 offset relative to
where that offset itself sits; a vector is a uint32 length followed by its elements.

Every read checks its bounds, so bytes that are not a FlatBuffer (empty, truncated, random, an
HTML page) raise ModelError, never IndexError or struct.error.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, NoReturn

from lenet_edge.errors import ModelError


class FlatBuffer:
    """Reads of tables, vectors and strings; `fail` names the file and what it should be."""

    def __init__(self, data: bytes, source: str, kind: str):
        self.data = data
        self.source = source
        self.kind = kind  # "TFLite model": the error says "not a valid TFLite model (...)"

    def fail(self, why: str) -> NoReturn:
        raise ModelError(f"{self.source}: not a valid {self.kind} ({why})")

    def unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            self.fail(f"an offset points outside the {len(self.data)}-byte file")
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def deref(self, pos: int) -> int:
        """Follow the uint32 offset stored at `pos` (relative to `pos`)."""
        return pos + self.unpack("I", pos)

    def field(self, table: int, index: int) -> int | None:
        """Position of field `index` of the table at `table`, or None if absent."""
        vtable = table - self.unpack("i", table)
        vtable_size = self.unpack("H", vtable)
        if vtable_size < 4 or vtable_size % 2:
            self.fail(f"malformed vtable at byte {vtable}")
        slot = 4 + 2 * index
        if slot >= vtable_size:
            return None
        offset = self.unpack("H", vtable + slot)
        if offset == 0:
            return None
        if offset >= self.unpack("H", vtable + 2):
            self.fail(f"a field of the table at byte {table} lies outside it")
        return table + offset

    def scalar(self, table: int, index: int, fmt: str, default: Any) -> Any:
        pos = self.field(table, index)
        return default if pos is None else self.unpack(fmt, pos)

    def table(self, table: int, index: int) -> int | None:
        pos = self.field(table, index)
        return None if pos is None else self.deref(pos)

    def vector(self, table: int, index: int, item_size: int) -> tuple[int, int]:
        """(start of elements, length) of a vector field; an absent vector is empty."""
        pos = self.field(table, index)
        if pos is None:
            return 0, 0
        head = self.deref(pos)
        length = self.unpack("I", head)
        if length * item_size > len(self.data) - head - 4:
            self.fail(f"a vector of {length} items at byte {head} runs past the end of the file")
        return head + 4, length

    def scalars(self, table: int, index: int, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        start, length = self.vector(table, index, size)
        return struct.unpack_from(f"<{length}{fmt}", self.data, start) if length else ()

    def tables(self, table: int, index: int) -> Tables:
        start, length = self.vector(table, index, 4)
        return Tables(self, start, length)

    def string(self, table: int, index: int) -> str | None:
        pos = self.field(table, index)
        if pos is None:
            return None
        head = self.deref(pos)
        length = self.unpack("I", head)
        if length > len(self.data) - head - 4:
            self.fail(f"a string at byte {head} runs past the end of the file")
        return self.data[head + 4 : head + 4 + length].decode("utf-8", errors="replace")


class Tables(Sequence[int]):
    """A vector of sub-tables, followed only when indexed: a model can hold thousands of
    tensors and buffers, and a hostile file can claim millions."""

    def __init__(self, fb: FlatBuffer, start: int, length: int):
        self._fb, self._start, self._length = fb, start, length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i):  # Sequence protocol: ints only (no slices needed here)
        if not 0 <= i < self._length:
            raise IndexError(i)
        return self._fb.deref(self._start + 4 * i)
