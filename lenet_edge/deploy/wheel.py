"""Build a wheel of the installed lenet-edge, to install it on a device that lacks it.

No build backend and no network: the wheel is zipped straight from the imported package and
its installed metadata, which works for a regular and an editable install alike (a user who
installed lenet-edge from PyPI has no source tree to run `pip wheel` on). The zip is
deterministic, so the same code gives the same sha256 and a device already holding it is not
reinstalled.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

import lenet_edge

DIST = "lenet-edge"
_FIXED_DATE = (2020, 1, 1, 0, 0, 0)  # zip timestamps: fixed so the bytes depend on code only


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _metadata() -> tuple[str, str]:
    """METADATA text (with this package's version) and entry_points.txt of the install."""
    dist = importlib.metadata.distribution(DIST)
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    lines = [
        f"Version: {lenet_edge.__version__}" if line.startswith("Version:") else line
        for line in text.splitlines()
    ]
    if not any(line.startswith("Name:") for line in lines):
        lines = ["Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {lenet_edge.__version__}"]
    entry_points = dist.read_text("entry_points.txt") or (
        "[console_scripts]\nlenet-edge = lenet_edge.cli:main\n"
    )
    return "\n".join(lines) + "\n", entry_points


def wheel_name() -> str:
    return f"lenet_edge-{lenet_edge.__version__}-py3-none-any.whl"


def build_wheel(out_dir: str | Path) -> Path:
    """Write `lenet_edge-<version>-py3-none-any.whl` into `out_dir` and return its path."""
    package_dir = Path(lenet_edge.__file__).parent
    dist_info = f"lenet_edge-{lenet_edge.__version__}.dist-info"
    metadata, entry_points = _metadata()
    files: dict[str, bytes] = {}
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[f"lenet_edge/{path.relative_to(package_dir).as_posix()}"] = path.read_bytes()
    files[f"{dist_info}/METADATA"] = metadata.encode()
    files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: lenet-edge deploy\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()

    out = Path(out_dir) / wheel_name()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out
