"""The checked read of each results file in a bundle (their names are in bundle.py).

`verify --json`, `benchmark --json`, the pipeline and `deploy` write them; the report, the
pipeline and deploy read them back. They may be hand-edited or from an older lenet-edge: an
absent file is None (the report says what to run); a file that is there but unreadable or
malformed is a one-line ModelError naming the file and the first thing wrong (exit 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, TypeVar

from lenet_edge import schema
from lenet_edge.errors import ModelError
from lenet_edge.files import input_files
from lenet_edge.results.benchmark import BenchmarkReport
from lenet_edge.results.explain import Explanations
from lenet_edge.results.pipeline import PipelineRecord
from lenet_edge.results.verify import VerifyReport


class _Record(Protocol):
    @classmethod
    def from_dict(cls, data: Any): ...


R = TypeVar("R", bound=_Record)
WRITTEN_BY = {VerifyReport: "lenet-edge verify --json",
              BenchmarkReport: "lenet-edge benchmark --json",
              PipelineRecord: "lenet-edge pipeline",
              Explanations: "lenet-edge explain --json"}
KINDS = {"verify": VerifyReport, "benchmark": BenchmarkReport}  # deploy's device results


def read_result(path: Path, record: type[R]) -> R | None:
    """`record.from_dict` of the JSON in `path`; None if the file does not exist.

    Raises:
        ModelError: unreadable, not JSON, or a field a reader computes with is wrong.
    """
    data = input_files.read_json(path, input_files.RESULTS, missing_ok=True)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, got {type(data).__name__}")
    try:
        return record.from_dict(data)
    except schema.Invalid as exc:
        raise ModelError(f"{path}: not a '{WRITTEN_BY[record]}' file: {exc}") from None


def read_verify(path: Path) -> VerifyReport | None:
    return read_result(path, VerifyReport)


def read_benchmark(path: Path) -> BenchmarkReport | None:
    return read_result(path, BenchmarkReport)


def read_pipeline(path: Path) -> PipelineRecord | None:
    return read_result(path, PipelineRecord)


def read_explanations(path: Path) -> Explanations | None:
    return read_result(path, Explanations)
