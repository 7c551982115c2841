"""train -> convert -> verify -> benchmark -> report, as one library call.

Three processes, because TensorFlow and tflite_runtime cannot share one and the runtime half
must be shown to run without TensorFlow (pipeline/worker.py is the children; launch.py, which
starts them, imports no toolchain):

- a toolchain child trains and converts (the only process that imports TensorFlow);
- a runtime child verifies and benchmarks the bundle, writes `verify.json` and
  `benchmark.json` into it, and records which toolchain modules it had loaded (none);
- this process, which never imports TensorFlow, renders the report from the bundle.

Children stream progress as JSON lines; an expected failure in a child comes back here as
the same kind of LenetEdgeError, so the exit code is the one the single command would give.
"""

from __future__ import annotations

import dataclasses
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenet_edge import bundle, errors
from lenet_edge.bundle import BENCHMARK_JSON, PIPELINE_JSON, VERIFY_JSON
from lenet_edge.gates import DEFAULT_GATES, Gates
from lenet_edge.report.recommend import (
    Outcome,
    Recommendation,
    check_preference,
    outcomes,
    recommend,
)
from lenet_edge.results.benchmark import BenchmarkReport
from lenet_edge.results.files import read_benchmark, read_verify
from lenet_edge.results.pipeline import PipelineRecord, StageRecord
from lenet_edge.results.verify import VerifyReport
from lenet_edge.train_config import TrainConfig

STAGES = ("train", "convert", "verify", "benchmark", "report")


@dataclass(frozen=True)
class BenchmarkSettings:
    """Timing for the pipeline's benchmark: about 4 s for all seven variants.

    Short, so the demo stays quick. Measured on a shared 2-core machine: three runs with
    these settings gave batch-1 medians up to 1.5x apart for one variant (other processes
    took the cores), so a close latency ranking is flagged as such (recommend.py); use
    `lenet-edge benchmark` (1000 runs, 2 s per row) on a quiet machine for figures to publish.
    """

    runs: int = 200
    min_time: float = 0.25  # seconds per row, at least
    warmup: int = 20
    warmup_time: float = 0.05
    batch: int = 64


@dataclass(frozen=True)
class PipelineConfig:
    """Every option of a pipeline run; recorded in pipeline.json."""

    train: TrainConfig
    out: str
    variants: tuple[str, ...] = ()  # empty: the catalogue's default ones (not int8-mixed)
    runtimes: tuple[str, ...] = ("auto",)
    gates: Gates = DEFAULT_GATES
    prefer: str = "size"
    bench: BenchmarkSettings = field(default_factory=BenchmarkSettings)
    calibration_samples: int = 500


@dataclass(frozen=True)
class StageUpdate:
    """Progress of one stage: `done` of `total` steps (total None until known)."""

    stage: str
    done: int
    total: int | None
    detail: str = ""
    finished: bool = False
    seconds: float | None = None  # wall time, once finished


@dataclass
class PipelineResult:
    bundle: Path
    verify: VerifyReport
    benchmark: BenchmarkReport
    outcomes: list[Outcome]
    recommendation: Recommendation
    report_html: Path
    report_markdown: Path
    stages: list[StageRecord]
    runtime_child_toolchain_modules: list[str]  # empty: verify and benchmark ran TF-free

    @property
    def passed(self) -> bool:
        """Every variant passed its gates on every runtime (as `lenet-edge verify`)."""
        return self.verify.passed and self.recommendation.variant is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "bundle": str(self.bundle),
            "gates": self.verify.to_dict()["gates"],
            "results": [o.to_dict() for o in self.outcomes],
            "recommendation": self.recommendation.to_dict(),
            "report": {"html": str(self.report_html), "markdown": str(self.report_markdown)},
            "files": {"verify": str(self.bundle / VERIFY_JSON),
                      "benchmark": str(self.bundle / BENCHMARK_JSON)},
            "stages": [dataclasses.asdict(s) for s in self.stages],
            "runtime_child_toolchain_modules": self.runtime_child_toolchain_modules,
        }


Progress = Callable[[StageUpdate], None]


def check_config(config: PipelineConfig) -> None:
    """Raise the UsageError (or MissingDependencyError) a stage would, before anything runs."""
    from lenet_edge.runtime.runtimes import AUTO, check_runtime_name, get_runtime
    from lenet_edge.runtime.timing import MAX_MIN_TIME, TimingPolicy, check_seconds
    from lenet_edge.variants import resolve_variants

    config.train.resolved()
    resolve_variants(config.variants)
    check_preference(config.prefer)
    b = config.bench
    check_seconds(b.min_time, "--bench-time", MAX_MIN_TIME)  # TimingPolicy says --min-time
    TimingPolicy(b.runs, b.min_time, b.warmup, b.warmup_time)
    if isinstance(b.batch, bool) or not isinstance(b.batch, int) or b.batch < 1:
        raise errors.UsageError(f"benchmark batch must be an integer >= 1, got {b.batch!r}")
    if config.calibration_samples < 1:
        raise errors.UsageError(
            f"--calibration-samples must be at least 1, got {config.calibration_samples}")
    for name in config.runtimes:
        if check_runtime_name(name) != AUTO:
            spec = get_runtime(name)
            if not spec.installed():
                spec.require()  # MissingDependencyError naming the extra, before training


def _config_record(config: PipelineConfig) -> dict[str, Any]:
    """The config as pipeline.json records it: the gates' fields at the top, as before Gates."""
    record = dataclasses.asdict(config)
    record.update(record.pop("gates"))
    return record


def run_pipeline(config: PipelineConfig, progress: Progress | None = None) -> PipelineResult:
    """Train, convert, verify, benchmark and report into `config.out`.

    Returns:
        The result; `passed` is False when a variant failed a gate or could not load, or
        nothing can be recommended. The report is written either way.

    Raises:
        LenetEdgeError subclasses from any stage, as the single commands raise them.
    """
    check_config(config)
    tracker = _StageTracker(progress or (lambda update: None))
    _run_worker("toolchain", {
        "train": dataclasses.asdict(config.train), "out": str(config.out),
        "variants": list(config.variants), "calibration_samples": config.calibration_samples,
        # int8-mixed is built against the gates verify then applies
        "max_drop": config.gates.max_drop, "min_agreement": config.gates.min_agreement,
    }, tracker, "toolchain child")
    return _evaluate(config, tracker)


def evaluate(config: PipelineConfig, progress: Progress | None = None) -> PipelineResult:
    """The pipeline after conversion: verify, benchmark and report the bundle at `config.out`.

    For a bundle that is already converted (its training options in `config` are unused).
    """
    check_config(config)
    return _evaluate(config, _StageTracker(progress or (lambda update: None)))


def _evaluate(config: PipelineConfig, tracker: _StageTracker) -> PipelineResult:
    out = Path(config.out)
    modules = _run_worker("runtime", {
        "bundle": str(out), "variants": list(config.variants), "runtimes": list(config.runtimes),
        "max_drop": config.gates.max_drop, "min_agreement": config.gates.min_agreement,
        "bench": dataclasses.asdict(config.bench),
        "verify_json": VERIFY_JSON, "benchmark_json": BENCHMARK_JSON,
    }, tracker, "runtime child").get("toolchain_modules", [])
    verify = read_verify(out / VERIFY_JSON)  # checked like the report's: written by a child
    bench = read_benchmark(out / BENCHMARK_JSON)
    if verify is None or bench is None:
        raise errors.ModelError(f"{out}: the runtime child wrote no {VERIFY_JSON} or "
                                f"{BENCHMARK_JSON}")
    record = PipelineRecord(_config_record(config), tuple(tracker.records), tuple(modules))
    bundle.write_json(out / PIPELINE_JSON, record.to_dict())  # the report reads `prefer`

    from lenet_edge.pipeline.launch import toolchain_modules
    from lenet_edge.report import write_report

    tracker.begin("report", total=1)
    cpu_before = _own_cpu()
    written = write_report(out, prefer=config.prefer)
    tracker.finish("report", _own_cpu() - cpu_before, "pipeline",
                   {"html": str(written.html), "markdown": str(written.markdown)})
    # This process rendered the report: it must be TF-free too.
    record = dataclasses.replace(record, stages=tuple(tracker.records),
                                 pipeline_toolchain_modules=tuple(toolchain_modules()))
    bundle.write_json(out / PIPELINE_JSON, record.to_dict())
    manifest = bundle.read_manifest(out)
    sizes = {name: entry["bytes"] for name, entry in manifest["artifacts"].items()}
    return PipelineResult(
        out, verify, bench, outcomes(verify, bench, sizes),
        recommend(verify, bench, config.prefer, sizes), written.html, written.markdown,
        tracker.records, modules)


class _StageTracker:
    """Wall and CPU time per stage, and the progress updates the caller sees."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.records: list[StageRecord] = []
        self._started: dict[str, float] = {}
        self._totals: dict[str, int | None] = {}
        self._cpu_mark = 0.0  # the current child's CPU seconds at its last finished stage

    def new_process(self) -> None:
        """The next child's CPU counter starts at zero."""
        self._cpu_mark = 0.0

    def begin(self, stage: str, total: int | None = None, detail: str = "") -> None:
        self._started.setdefault(stage, time.perf_counter())
        self._totals[stage] = total
        self.progress(StageUpdate(stage, 0, total, detail))

    def step(self, stage: str, done: int, total: int | None, detail: str) -> None:
        self._totals[stage] = total
        self.progress(StageUpdate(stage, done, total, detail))

    def finish(self, stage: str, cpu_seconds: float, process: str,
               summary: dict[str, Any]) -> None:
        seconds = time.perf_counter() - self._started.get(stage, time.perf_counter())
        self.records.append(StageRecord(stage, round(seconds, 3), round(cpu_seconds, 3),
                                        process, summary))
        total = self._totals.get(stage) or 1
        self.progress(StageUpdate(stage, total, total, "", finished=True, seconds=seconds))

    def child_event(self, event: dict[str, Any], process: str) -> None:
        stage = event["stage"]
        if event["event"] == "start":
            self.begin(stage, event.get("total"), event.get("detail", ""))
        elif event["event"] == "progress":
            self.step(stage, event["done"], event.get("total"), event.get("detail", ""))
        elif event["event"] == "finished":
            cpu = event["cpu_seconds"] - self._cpu_mark
            self._cpu_mark = event["cpu_seconds"]
            self.finish(stage, cpu, process, event.get("summary", {}))


def _run_worker(kind: str, request: dict[str, Any], tracker: _StageTracker,
                process: str) -> dict[str, Any]:
    """Run one child, relaying its progress to `tracker`; return its result."""
    from lenet_edge.pipeline.launch import run_worker

    tracker.new_process()
    tracker.begin(STAGES[0] if kind == "toolchain" else STAGES[2])  # clock includes start-up
    return run_worker(kind, request, lambda event: tracker.child_event(event, process))


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
