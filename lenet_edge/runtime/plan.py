"""Which variant runs on which runtime: the jobs verify and benchmark share.

Rules, in order:
- No `--variant` means every variant in the bundle, each one requested.
- `auto` means the first installed runtime for the variant's format. When nothing is
  installed for a format, variants of it are *skipped* (with the install hint) unless the
  user named them, in which case it is an error: a device with only tflite-runtime can still
  verify a bundle that also holds ONNX variants.
- A named runtime applies to the variants of its format; if it is not installed that is an
  error naming the extra. A named variant that no requested runtime can run is a usage error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lenet_edge import bundle, formats
from lenet_edge.errors import ModelError, UsageError
from lenet_edge.runtime.runtimes import (
    AUTO,
    RuntimeSpec,
    check_runtime_name,
    get_runtime,
    resolve_runtime,
    runtimes_for,
)
from lenet_edge.variants import VARIANT_NAMES, get_variant


@dataclass(frozen=True)
class Job:
    """One variant on one runtime."""

    variant: str
    entry: dict[str, Any]  # the variant's manifest entry
    runtime: RuntimeSpec


@dataclass(frozen=True)
class Skipped:
    """A variant left out because no runtime for its format is installed."""

    variant: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"variant": self.variant, "reason": self.reason}


def plan_jobs(manifest: dict[str, Any], variants: Sequence[str] | None,
              runtimes: Sequence[str]) -> tuple[list[Job], list[Skipped]]:
    """Jobs for the requested variants x runtimes, in catalogue order, and what was skipped.

    Raises:
        UsageError: unknown variant or runtime, or a pairing nothing can run.
        ModelError: a requested variant is not in the bundle.
        MissingDependencyError: a named runtime, or the only one for a named variant, is absent.
    """
    runtime_names = list(dict.fromkeys(check_runtime_name(r) for r in (runtimes or [AUTO])))
    artifacts = manifest["artifacts"]
    named = bool(variants)
    if named:
        wanted = {get_variant(v).name for v in variants}
        absent = sorted(wanted - set(artifacts))
        if absent:
            raise ModelError(f"variant {', '.join(absent)} is not in the bundle (it has "
                             f"{', '.join(_ordered(artifacts)) or 'none'}); "
                             f"run 'lenet-edge convert --variant {absent[0]}'")
        chosen = [v for v in _ordered(artifacts) if v in wanted]
    else:
        chosen = _ordered(artifacts)
    if not chosen:
        raise ModelError("the bundle holds no converted variants; run 'lenet-edge convert'")
    jobs: list[Job] = []
    skipped: list[Skipped] = []
    for name in chosen:
        entry = artifacts[name]
        fmt = entry["format"]
        if fmt not in formats.FORMAT_NAMES:
            raise ModelError(f"artifact {name!r} has unknown format {fmt!r}")
        specs: list[RuntimeSpec] = []
        for runtime in runtime_names:
            if runtime == AUTO and not named and not any(r.installed() for r in
                                                         runtimes_for(fmt)):
                extras = " or ".join(f"'lenet-edge[{r.extra}]'" for r in runtimes_for(fmt))
                skipped.append(Skipped(name, f"no {fmt} runtime installed (pip install {extras})"))
                continue
            if runtime != AUTO and get_runtime(runtime).format != fmt:
                continue  # a named runtime applies to its own format only
            specs.append(resolve_runtime(runtime, fmt))
        if named and not specs:
            raise UsageError(f"variant {name!r} is a {fmt} model; none of the runtimes "
                             f"{', '.join(runtime_names)} runs {fmt}")
        for spec in dict.fromkeys(specs):
            jobs.append(Job(name, entry, spec))
    if not jobs and not skipped:
        raise UsageError(f"no variant in the bundle runs on {', '.join(runtime_names)}")
    return jobs, skipped


def read_artifacts(bundle_dir: str | Path, jobs: Sequence[Job]) -> dict[str, bytes]:
    """Every planned artifact's bytes, sha256-checked up front so nothing tampered ever loads."""
    blobs: dict[str, bytes] = {}
    for job in jobs:
        if job.variant not in blobs:
            data = bundle.read_verified(bundle_dir, job.entry)
            formats.check_model_bytes(data, job.entry["format"],
                                         str(Path(bundle_dir) / job.entry["file"]))
            blobs[job.variant] = data
    return blobs


def _ordered(artifacts: dict[str, Any]) -> list[str]:
    """Bundle variants in catalogue order; names this version does not know are left out."""
    return [v for v in VARIANT_NAMES if v in artifacts]

