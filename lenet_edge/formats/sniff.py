"""Say what bytes are when they are no model: the files people actually end up with.

An empty file, a truncated download, a web page saved as `.tflite`, a zip, notes: each gets a
phrase an error message can start with, so nobody has to open the file to see what went wrong.
"""

from __future__ import annotations

_TEXT_STARTS = (b"<", b"{", b"[", b"#")


def what_it_is(data: bytes) -> str:
    """A phrase for bytes that are not a model, e.g. "empty file" or "an HTML page, ..."."""
    if not data:
        return "empty file"
    head = data[:64].lstrip()
    if head[:1] == b"<" and b"html" in data[:512].lower():
        return "an HTML page, not a model (a download that saved the web page?)"
    if data[:4] == b"PK\x03\x04":
        return "a zip archive, not a model"
    if head.startswith(_TEXT_STARTS) or _mostly_text(data[:512]):
        return "text, not a model"
    if len(data) < 16:
        return f"only {len(data)} bytes: truncated"
    return "not a model file (unrecognised bytes)"


def _mostly_text(sample: bytes) -> bool:
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    return bool(sample) and printable / len(sample) > 0.95
