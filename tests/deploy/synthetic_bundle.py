"""A bundle of random bytes for the install mechanics (upload, sha256, switch, lock)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lenet_edge import bundle


def make_synthetic_bundle(path: Path, model_bytes: int = 4096, seed: int = 0) -> Path:
    """A bundle whose "models" are random bytes: enough for install mechanics with
    --no-verify (the device never loads them), and built in milliseconds without TF."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    ref = bundle.Reference(rng.integers(0, 255, (8, 28, 28), dtype=np.uint8),
                           rng.integers(0, 9, 8), rng.standard_normal((8, 10), np.float32))
    artifacts = {}
    for name, fmt in (("fp32", "tflite"), ("int8", "tflite"), ("onnx-fp32", "onnx")):
        file = path / f"lenet5_{name.replace('-', '_')}.{fmt}"
        bundle.write_bytes(file, rng.bytes(model_bytes))
        artifacts[name] = {"variant": name, "format": fmt, **bundle.file_entry(file),
                           "inputs": [], "outputs": []}
    bundle.write_json(path / bundle.MANIFEST, {
        "schema_version": bundle.SCHEMA_VERSION, "reference": bundle.write_reference(path, ref),
        "artifacts": artifacts,
    })
    return path


def current_release(remote_dir: Path) -> str:
    """The release id `current` points at on the device ("" if none)."""
    link = Path(remote_dir) / "current"
    return os.readlink(link).removeprefix("releases/") if link.is_symlink() else ""
