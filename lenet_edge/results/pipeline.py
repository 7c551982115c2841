"""pipeline.json: the pipeline's config, how long each stage took, and what was loaded where."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lenet_edge import schema
from lenet_edge.report.recommend import PREFERENCES


@dataclass(frozen=True)
class StageRecord:
    """How long a stage took (wall and CPU) and in which process."""

    stage: str
    seconds: float
    cpu_seconds: float
    process: str  # "toolchain child", "runtime child" or "pipeline"
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str) -> StageRecord:
        f = schema.field
        return cls(f(row, "stage", str, where), f(row, "seconds", float, where),
                   f(row, "cpu_seconds", float, where), f(row, "process", str, where),
                   f(row, "summary", dict, where, optional=True) or {})


@dataclass(frozen=True)
class PipelineRecord:
    """What `lenet-edge pipeline` ran with and how long each stage took.

    `config` is the PipelineConfig as written (dataclasses.asdict); of it, only `prefer`
    is read back (the report's default preference), so only that is checked.
    """

    config: dict[str, Any]
    stages: tuple[StageRecord, ...] = ()
    runtime_child_toolchain_modules: tuple[str, ...] = ()  # empty: verify/benchmark TF-free
    pipeline_toolchain_modules: tuple[str, ...] | None = None  # None: report not rendered yet

    @property
    def prefer(self) -> str | None:
        return self.config.get("prefer")

    def to_dict(self) -> dict[str, Any]:
        data = {"config": self.config, "stages": [s.to_dict() for s in self.stages],
                "runtime_child_toolchain_modules": list(self.runtime_child_toolchain_modules)}
        if self.pipeline_toolchain_modules is not None:
            data["pipeline_toolchain_modules"] = list(self.pipeline_toolchain_modules)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> PipelineRecord:
        """A checked pipeline.json object; schema.Invalid names the first wrong field."""
        if not isinstance(data, dict):
            raise schema.Invalid(f"expected a JSON object, got {type(data).__name__}")
        config = schema.field(data, "config", dict, optional=True) or {}
        prefer = schema.field(config, "prefer", str, "config", optional=True, nullable=True)
        if prefer is not None and prefer not in PREFERENCES:
            raise schema.Invalid(f"config.prefer is {prefer!r}; expected one of "
                                 f"{', '.join(PREFERENCES)}")
        return cls(
            config=config,
            stages=tuple(StageRecord.from_dict(row, f"stages[{i}]") for i, row
                         in enumerate(schema.rows(data, "stages", optional=True))),
            runtime_child_toolchain_modules=_names(data, "runtime_child_toolchain_modules") or (),
            pipeline_toolchain_modules=_names(data, "pipeline_toolchain_modules"),
        )


def _names(data: dict[str, Any], key: str) -> tuple[str, ...] | None:
    names = schema.field(data, key, list, optional=True)
    if names is not None and not all(isinstance(name, str) for name in names):
        raise schema.Invalid(f"{key} must be a list of module names")
    return None if names is None else tuple(names)
