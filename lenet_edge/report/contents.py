"""Everything a report shows, gathered from a model bundle alone (no TensorFlow, no dataset).

Read: manifest.json, reference.npz, train.json, verify.json, benchmark.json, pipeline.json
and any `device-<name>-verify.json` / `-benchmark.json` that `lenet-edge deploy` brought back.
Computed: outcomes, the Pareto front, the recommendation, and the predicted classes the
confusion matrix and the disagreement gallery need, by running those variants through their
runtime here (sha256-checked bytes, as verify does). A missing file or runtime leaves a note
where its section would be, never a failure: the report shows what the bundle holds. A file
that is there but unreadable or malformed is a ModelError (results_files.py checks each).
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import __version__, bundle
from lenet_edge.errors import LenetEdgeError
from lenet_edge.report.pareto import pareto_front
from lenet_edge.report.recommend import Outcome, Recommendation, outcomes, recommend
from lenet_edge.report.results_files import (
    BENCHMARK_JSON,
    PIPELINE_JSON,
    VERIFY_JSON,
    read_benchmark,
    read_pipeline,
    read_verify,
)
from lenet_edge.train_record import read_train_record

GALLERY_LIMIT = 24  # disagreement images shown: a screenful, the worst first
_DEVICE_FILE = re.compile(r"^device-(?P<name>.+)-(?P<kind>verify|benchmark)\.json$")


@dataclass(frozen=True)
class Disagreement:
    """A reference image some variant classifies differently from the float model."""

    index: int  # into reference.npz
    label: int
    float_class: int
    variant_classes: list[tuple[str, str, int]]  # (variant, runtime, class it predicted)


@dataclass
class DeviceResults:
    name: str
    verify: dict[str, Any] | None
    benchmark: dict[str, Any] | None
    outcomes: list[Outcome] = field(default_factory=list)
    recommendation: Recommendation | None = None


@dataclass
class ReportContents:
    bundle: str
    manifest: dict[str, Any]
    class_names: tuple[str, ...]
    reference: bundle.Reference
    prefer: str
    train: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    benchmark: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    on_front: list[bool] = field(default_factory=list)  # parallel to outcomes
    recommendation: Recommendation | None = None
    evaluated: int = 0  # reference images verify used (the first N)
    recommended_classes: np.ndarray | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    devices: list[DeviceResults] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # section id -> why it is thin

    @property
    def float_classes(self) -> np.ndarray:
        return self.reference.logits[: self.evaluated].argmax(axis=1)

    @property
    def labels(self) -> np.ndarray:
        return self.reference.labels[: self.evaluated]

    def versions(self) -> dict[str, dict[str, str]]:
        """Tool versions grouped by where they were recorded."""
        import matplotlib

        groups = {"converted with (manifest)": dict(self.manifest.get("tool_versions", {}))}
        if self.train:
            groups["trained with (train.json)"] = dict(self.train.get("versions", {}))
        if self.verify:
            groups["verified on (verify.json)"] = {
                r["runtime"]: r["runtime_version"] for r in self.verify["results"]}
        if self.benchmark:
            m = self.benchmark.get("machine", {})
            groups["benchmarked on (benchmark.json)"] = {
                "cpu": f"{m.get('cpu')} ({m.get('arch')}, {m.get('usable_cores')} cores)",
                "os": str(m.get("os")), "python": str(m.get("python")),
                "numpy": str(m.get("numpy")),
                **{k: v or "not installed" for k, v in (m.get("runtimes") or {}).items()},
                **({"emulated": str(m["emulated"])} if m.get("emulated") else {})}
        groups["this report"] = {"lenet-edge": __version__, "python": platform.python_version(),
                                 "numpy": np.__version__, "matplotlib": matplotlib.__version__}
        return groups


def emulation_note(benchmark: dict[str, Any] | None) -> str | None:
    """The warning for a benchmark that ran under emulation (machine.emulated), else None."""
    emulated = ((benchmark or {}).get("machine") or {}).get("emulated")
    if not emulated:
        return None
    return (f"emulated ({emulated}): latency figures are functional only; never compare them "
            "with a real device")


def gather(model_dir: str | Path, prefer: str | None = None) -> ReportContents:
    """Read a bundle and compute what its report shows.

    Args:
        model_dir: a converted bundle; verify.json / benchmark.json make most sections.
        prefer: "size" or "latency"; None takes pipeline.json's choice, else "size".

    Raises:
        ModelError: no readable manifest or reference set, or a results file (verify.json,
            benchmark.json, pipeline.json, train.json, device-*.json) that is there but
            unreadable or malformed.
    """
    from lenet_edge.data.classes import CLASS_NAMES

    model_dir = Path(model_dir)
    manifest = bundle.read_manifest(model_dir)
    reference = bundle.load_reference(model_dir, manifest)
    pipeline = read_pipeline(model_dir / PIPELINE_JSON)
    if prefer is None:
        prefer = ((pipeline or {}).get("config") or {}).get("prefer") or "size"
    name = (manifest.get("dataset") or {}).get("name", "")
    c = ReportContents(
        bundle=str(model_dir), manifest=manifest, reference=reference, prefer=prefer,
        class_names=CLASS_NAMES.get(name, tuple(str(i) for i in range(10))),
        train=read_train_record(model_dir, missing_ok=True),
        verify=read_verify(model_dir / VERIFY_JSON),
        benchmark=read_benchmark(model_dir / BENCHMARK_JSON),
        pipeline=pipeline, evaluated=len(reference.labels),
    )
    sizes = {v: entry["bytes"] for v, entry in manifest["artifacts"].items()}
    if c.verify is None:
        c.notes["verify"] = (f"no {VERIFY_JSON} in the bundle: run 'lenet-edge verify "
                             f"{model_dir}' (it saves {VERIFY_JSON} there)")
    else:
        c.evaluated = min(c.verify["images"], c.evaluated)
        c.outcomes = outcomes(c.verify, c.benchmark, sizes)
        c.on_front = _front(c.outcomes)
        c.recommendation = recommend(c.verify, c.benchmark, prefer, sizes)
        _predict_recommended(model_dir, c)
        c.disagreements = _disagreements(model_dir, c)
    if c.benchmark is None:
        c.notes["benchmark"] = (f"no {BENCHMARK_JSON} in the bundle: run 'lenet-edge benchmark "
                                f"{model_dir}' (it saves {BENCHMARK_JSON} there)")
    if c.train is None:
        c.notes["training"] = f"no {bundle.TRAIN_JSON} in the bundle"
    c.devices = _devices(model_dir, prefer, sizes)
    return c


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts (classes, classes): row = true label, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def _front(rows: list[Outcome]) -> list[bool]:
    """Pareto front over size, median latency and accuracy, among rows with all three."""
    measured = [o for o in rows if None not in (o.bytes, o.p50_us, o.accuracy)]
    flags = pareto_front(measured, [lambda o: o.bytes, lambda o: o.p50_us,
                                    lambda o: -o.accuracy])
    on = {(o.variant, o.runtime) for o, flag in zip(measured, flags, strict=True) if flag}
    return [(o.variant, o.runtime) in on for o in rows]


def _classes(model_dir: Path, manifest: dict, variant: str, runtime: str,
             images: np.ndarray) -> np.ndarray:
    """Predicted classes of `variant` on `runtime` for uint8 images (TF-free)."""
    from lenet_edge.data.preprocess import preprocess
    from lenet_edge.runtime.runner import load_runner

    entry = manifest["artifacts"][variant]
    runner = load_runner(bundle.read_verified(model_dir, entry), entry["format"], runtime)
    return runner.predict(preprocess(images)).argmax(axis=1)


def _predict_recommended(model_dir: Path, c: ReportContents) -> None:
    rec = c.recommendation
    if rec is None or rec.variant is None:
        c.notes["confusion"] = "no recommended variant: " + (rec.reason if rec else "no results")
        return
    try:
        c.recommended_classes = _classes(model_dir, c.manifest, rec.variant, rec.runtime,
                                         c.reference.images[: c.evaluated])
    except LenetEdgeError as exc:  # e.g. its runtime is not installed where the report runs
        c.notes["confusion"] = f"{rec.variant} on {rec.runtime} could not run here: {exc}"


def _disagreements(model_dir: Path, c: ReportContents) -> list[Disagreement]:
    """Images where variants disagree with float, most-disagreed-on first, then worst error."""
    by_image: dict[int, list[tuple[str, str, int]]] = {}
    rank: dict[int, int] = {}
    failed = []
    for r in c.verify["results"]:
        worst = [i for i in r.get("worst") or [] if i < c.evaluated]
        if not worst:
            continue
        try:
            predicted = _classes(model_dir, c.manifest, r["variant"], r["runtime"],
                                 c.reference.images[worst])
        except LenetEdgeError as exc:
            failed.append(f"{r['variant']} on {r['runtime']}: {exc}")
            continue
        for position, (index, cls) in enumerate(zip(worst, predicted, strict=True)):
            by_image.setdefault(index, []).append((r["variant"], r["runtime"], int(cls)))
            rank[index] = min(rank.get(index, position), position)
    if failed:
        c.notes["disagreements"] = "could not run here: " + "; ".join(failed)
    floats = c.reference.logits.argmax(axis=1)
    order = sorted(by_image, key=lambda i: (-len(by_image[i]), rank[i], i))[:GALLERY_LIMIT]
    return [Disagreement(i, int(c.reference.labels[i]), int(floats[i]), by_image[i])
            for i in order]


def _devices(model_dir: Path, prefer: str, sizes: dict[str, int]) -> list[DeviceResults]:
    found: dict[str, DeviceResults] = {}
    for path in sorted(model_dir.glob("device-*.json")):
        match = _DEVICE_FILE.match(path.name)
        if match:
            device = found.setdefault(match["name"], DeviceResults(match["name"], None, None))
            read = read_verify if match["kind"] == "verify" else read_benchmark
            setattr(device, match["kind"], read(path))
    for device in found.values():
        if device.verify is not None:
            device.outcomes = outcomes(device.verify, device.benchmark, sizes)
            device.recommendation = recommend(device.verify, device.benchmark, prefer, sizes)
    return list(found.values())

