"""Everything a report shows, gathered from a model bundle alone (no TensorFlow, no dataset).

Read: manifest.json, reference.npz, train.json, verify.json, benchmark.json, pipeline.json,
explain.json and any `device-<name>-verify.json` / `-benchmark.json` that `lenet-edge deploy`
brought back.
Computed: outcomes, the Pareto front, the recommendation, the confusion matrices and the
disagreement gallery, the last two from the predicted classes verify.json keeps per row: no
interpreter is loaded here. A missing file (or a verify.json from before predictions were
kept) leaves a note where its section would be, never a failure: the report shows what the
bundle holds. A file that is there but unreadable or malformed is a ModelError
(results/files.py reads each).
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet_edge import __version__, bundle
from lenet_edge.bundle import BENCHMARK_JSON, EXPLAIN_JSON, PIPELINE_JSON, VERIFY_JSON
from lenet_edge.report.pareto import pareto_front
from lenet_edge.report.recommend import Outcome, Recommendation, outcomes, recommend
from lenet_edge.results.benchmark import BenchmarkReport
from lenet_edge.results.explain import Explanations
from lenet_edge.results.files import read_benchmark, read_explanations, read_pipeline, read_verify
from lenet_edge.results.pipeline import PipelineRecord
from lenet_edge.results.verify import VerifyReport
from lenet_edge.train_record import TrainRecord, read_train_record

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
    verify: VerifyReport | None
    benchmark: BenchmarkReport | None
    outcomes: list[Outcome] = field(default_factory=list)
    recommendation: Recommendation | None = None


@dataclass
class ReportContents:
    bundle: str
    manifest: bundle.Manifest
    class_names: tuple[str, ...]
    reference: bundle.Reference
    prefer: str
    train: TrainRecord | None = None
    verify: VerifyReport | None = None
    benchmark: BenchmarkReport | None = None
    pipeline: PipelineRecord | None = None
    explain: Explanations | None = None  # explain.json: per-layer error of quantised variants
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

        groups = {"converted with (manifest)": dict(self.manifest.tool_versions)}
        if self.train:
            groups["trained with (train.json)"] = dict(self.train.versions)
        if self.verify:
            groups["verified on (verify.json)"] = self.verify.runtime_versions()
        if self.benchmark:
            m = self.benchmark.machine
            groups["benchmarked on (benchmark.json)"] = {
                "cpu": f"{m.get('cpu')} ({m.get('arch')}, {m.get('usable_cores')} cores)",
                "os": str(m.get("os")), "python": str(m.get("python")),
                "numpy": str(m.get("numpy")),
                **{k: v or "not installed" for k, v in (m.get("runtimes") or {}).items()},
                **({"emulated": str(m["emulated"])} if m.get("emulated") else {})}
        groups["this report"] = {"lenet-edge": __version__, "python": platform.python_version(),
                                 "numpy": np.__version__, "matplotlib": matplotlib.__version__}
        return groups


def emulation_note(benchmark: BenchmarkReport | None) -> str | None:
    """The warning for a benchmark that ran under emulation (machine.emulated), else None."""
    emulated = benchmark.machine.get("emulated") if benchmark else None
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
    manifest = bundle.load_manifest(model_dir)
    reference = bundle.load_reference(model_dir, manifest.to_dict())
    pipeline = read_pipeline(model_dir / PIPELINE_JSON)
    if prefer is None:
        prefer = (pipeline.prefer if pipeline else None) or "size"
    name = manifest.dataset.name if manifest.dataset else ""
    c = ReportContents(
        bundle=str(model_dir), manifest=manifest, reference=reference, prefer=prefer,
        class_names=CLASS_NAMES.get(name, tuple(str(i) for i in range(10))),
        train=read_train_record(model_dir, missing_ok=True),
        verify=read_verify(model_dir / VERIFY_JSON),
        benchmark=read_benchmark(model_dir / BENCHMARK_JSON),
        pipeline=pipeline, evaluated=len(reference.labels),
        explain=read_explanations(model_dir / EXPLAIN_JSON),
    )
    if c.explain is None:
        c.notes["layers"] = (f"no {EXPLAIN_JSON} in the bundle: run 'lenet-edge explain "
                             f"{model_dir}' (it saves {EXPLAIN_JSON} there)")
    sizes = {v: entry.get("bytes") for v, entry in manifest.artifacts.items()}
    if c.verify is None:
        c.notes["verify"] = (f"no {VERIFY_JSON} in the bundle: run 'lenet-edge verify "
                             f"{model_dir}' (it saves {VERIFY_JSON} there)")
    else:
        c.evaluated = min(c.verify.images, c.evaluated)
        c.outcomes = outcomes(c.verify, c.benchmark, sizes)
        c.on_front = _front(c.outcomes)
        c.recommendation = recommend(c.verify, c.benchmark, prefer, sizes)
        _recommended_classes(c)
        c.disagreements = _disagreements(c)
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


def _rerun(c: ReportContents) -> str:
    return (f"{VERIFY_JSON} predates the predicted classes it now keeps: re-run 'lenet-edge "
            f"verify {c.bundle}' to draw this")


def _recommended_classes(c: ReportContents) -> None:
    rec = c.recommendation
    if rec is None or rec.variant is None:
        c.notes["confusion"] = "no recommended variant: " + (rec.reason if rec else "no results")
        return
    row = next(r for r in c.verify.results if (r.variant, r.runtime) == (rec.variant, rec.runtime))
    classes = row.predicted_classes()
    if classes is None:
        c.notes["confusion"] = f"{rec.variant} on {rec.runtime}: {_rerun(c)}"
        return
    c.recommended_classes = classes[: c.evaluated]


def _disagreements(c: ReportContents) -> list[Disagreement]:
    """Images where variants disagree with float, most-disagreed-on first, then worst error."""
    by_image: dict[int, list[tuple[str, str, int]]] = {}
    rank: dict[int, int] = {}
    unknown = []
    for r in c.verify.results:
        worst = [i for i in r.worst if i < c.evaluated]
        if not worst:
            continue
        classes = r.predicted_classes()
        if classes is None:
            unknown.append(f"{r.variant} on {r.runtime}")
            continue
        for position, index in enumerate(worst):
            by_image.setdefault(index, []).append((r.variant, r.runtime, int(classes[index])))
            rank[index] = min(rank.get(index, position), position)
    if unknown:
        c.notes["disagreements"] = f"{', '.join(unknown)}: {_rerun(c)}"
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
            if match["kind"] == "verify":
                device.verify = read_verify(path)
            else:
                device.benchmark = read_benchmark(path)
    for device in found.values():
        if device.verify is not None:
            device.outcomes = outcomes(device.verify, device.benchmark, sizes)
            device.recommendation = recommend(device.verify, device.benchmark, prefer, sizes)
    return list(found.values())

