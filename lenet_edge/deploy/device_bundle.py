"""The device bundle: the chosen variants, a manifest naming only them, and reference.npz.

Nothing in it needs TensorFlow (no Keras model, no weights, no training curves), so the
runtime half can verify it on the device. It is packed in memory as a tar stream, because the
bundle is small (a LeNet-5 variant is tens of KB) and a stream is what the upload sends.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.choices import closest
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.schema import strict_json


@dataclass(frozen=True)
class DeviceBundle:
    """In-memory files of a device bundle and their sha256, keyed by file name."""

    source: Path
    variants: tuple[str, ...]
    files: dict[str, bytes]

    @property
    def checksums(self) -> dict[str, str]:
        return {name: bundle.sha256_bytes(data) for name, data in self.files.items()}

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.files.values())

    def sha256sums(self) -> str:
        """The files' checksums in `sha256sum -c` format."""
        return "".join(f"{sha}  {name}\n" for name, sha in sorted(self.checksums.items()))

    def tar_bytes(self) -> bytes:
        """A tar of the files with fixed owner and modes (nothing from this machine leaks)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in sorted(self.files.items()):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def pack(model_dir: str | Path, variants: Sequence[str] = ()) -> DeviceBundle:
    """Read a converted bundle and keep the chosen variants (all converted ones if none).

    Every file is read through its manifest sha256 first: a corrupt file is never shipped.

    Raises:
        ModelError: no manifest, a file that does not match it, or no reference.npz.
        UsageError: a chosen variant the bundle does not hold.
    """
    model_dir = Path(model_dir)
    manifest = bundle.read_manifest(model_dir)
    artifacts = manifest["artifacts"]
    chosen = tuple(variants) or tuple(artifacts)
    missing = [name for name in chosen if name not in artifacts]
    if missing or not chosen:
        held = ", ".join(artifacts) or "none (run 'lenet-edge convert' first)"
        guesses = [guess for name in missing
                   if (guess := closest(name, list(artifacts))) is not None]
        hint = f"did you mean {', '.join(map(repr, guesses))}? " if guesses else ""
        raise UsageError(f"bundle {model_dir} has no variant "
                         f"{', '.join(map(repr, missing))}; {hint}it holds {held}")

    reference = manifest.get("reference")
    if not isinstance(reference, dict) or "sha256" not in reference:
        raise ModelError(
            f"{model_dir / bundle.MANIFEST}: no 'reference' entry; "
            "the device needs reference.npz to verify accuracy"
        )
    reference = {"file": bundle.REFERENCE, **reference}
    files = {reference["file"]: bundle.read_verified(model_dir, reference)}
    kept = {}
    for name in chosen:
        entry = artifacts[name]
        files[entry["file"]] = bundle.read_verified(model_dir, entry)
        kept[name] = entry
    device_manifest = {**manifest, "artifacts": kept}
    files[bundle.MANIFEST] = (strict_json(device_manifest, bundle.MANIFEST) + "\n").encode()
    return DeviceBundle(source=model_dir, variants=chosen, files=files)
