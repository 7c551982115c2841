"""Gates and TimingPolicy own their defaults and range checks; nothing else declares them."""

from __future__ import annotations

import ast
import dataclasses
import math
from pathlib import Path

import pytest

from lenet_edge.errors import UsageError
from lenet_edge.gates import DEFAULT_GATES, Gates
from lenet_edge.runtime.timing import DEFAULT_TIMING, TimingPolicy

PACKAGE = Path(__file__).resolve().parents[1] / "lenet_edge"


def test_defaults_are_half_a_point_and_99_percent_agreement():
    assert (DEFAULT_GATES.max_drop, DEFAULT_GATES.min_agreement) == (0.5, 0.99)
    assert DEFAULT_GATES.to_dict() == {"max_drop": 0.5, "min_agreement": 0.99}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_drop": math.nan}, "--max-drop must be a finite number of points, got nan"),
    ({"max_drop": math.inf}, "--max-drop must be a finite number of points, got inf"),
    ({"max_drop": "1"}, "--max-drop must be a finite number of points, got 1"),
    ({"max_drop": True}, "--max-drop must be a finite number of points, got True"),
    ({"min_agreement": 1.5}, r"--min-agreement must be within \[0, 1\], got 1.5"),
    ({"min_agreement": -0.1}, r"--min-agreement must be within \[0, 1\], got -0.1"),
    ({"min_agreement": math.nan}, r"--min-agreement must be within \[0, 1\], got nan"),
])
def test_gates_that_mean_nothing_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        Gates(**kwargs)


def test_a_replaced_gate_is_checked_too():
    with pytest.raises(UsageError, match="--min-agreement"):
        dataclasses.replace(DEFAULT_GATES, min_agreement=2)


def test_the_edges_are_allowed():
    Gates(max_drop=-1, min_agreement=0)  # demands a gain of a point: a strict CI gate
    Gates(max_drop=100, min_agreement=1)


@pytest.mark.parametrize(("delta", "agreement", "failures"), [
    (-0.5, 0.99, []),  # exactly on both gates passes
    (0.3, 1.0, []),
    (-0.51, 0.99, ["accuracy dropped 0.51 points (max 0.5)"]),
    (0.0, 0.9899, ["agreement 0.9899 < 0.99"]),
    (-2.0, 0.5, ["accuracy dropped 2.00 points (max 0.5)", "agreement 0.5000 < 0.99"]),
])
def test_failures_name_each_gate_missed(delta, agreement, failures):
    assert DEFAULT_GATES.failures(delta, agreement) == failures


def test_a_negative_max_drop_fails_a_variant_that_only_matches_float():
    assert len(Gates(max_drop=-1).failures(0.0, 1.0)) == 1
    assert Gates(max_drop=-1).failures(1.0, 1.0) == []  # gained a point: passes


def test_timing_policy_defaults_and_checks_live_in_one_place():
    assert (DEFAULT_TIMING.runs, DEFAULT_TIMING.min_time, DEFAULT_TIMING.warmup,
            DEFAULT_TIMING.warmup_time) == (1000, 2.0, 50, 0.5)
    with pytest.raises(UsageError, match="--warmup-time must be a number of seconds >= 0"):
        TimingPolicy(warmup_time=-1)


def test_the_options_take_default_and_help_from_the_configs(run_cli):
    text = " ".join(run_cli("verify", "--help", env={"COLUMNS": "300"}).stdout
                    .replace("│", " ").split())
    for name in ("max_drop", "min_agreement"):
        field = next(f for f in dataclasses.fields(Gates) if f.name == name)
        assert f"{field.metadata['help']} [default: {field.default}]" in text
    text = " ".join(run_cli("benchmark", "--help", env={"COLUMNS": "300"}).stdout
                    .replace("│", " ").split())
    for field in dataclasses.fields(TimingPolicy):
        assert f"{field.metadata['help']} [default: {field.default}]" in text


# Names whose default belongs to Gates or TimingPolicy; `bench_` and pipeline settings (its
# quick BenchmarkSettings) have other names, and a default None means "the config's".
OWNED = {"max_drop": "gates.py", "min_agreement": "gates.py", "runs": "runtime/timing.py",
         "warmup": "runtime/timing.py", "min_time": "runtime/timing.py",
         "warmup_time": "runtime/timing.py"}
GATE_LITERALS = {0.99}  # no other number in the package is 0.99 but the agreement gate


def _declared_defaults(tree: ast.AST):
    """(name, line) of each parameter or class field named in OWNED that has a literal
    number as its default."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                             strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                      if d is not None]
            for arg, default in pairs:
                if arg.arg in OWNED and _is_number(default):
                    yield arg.arg, node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                        and item.target.id in ("max_drop", "min_agreement")
                        and item.value is not None and _is_number(item.value)):
                    yield item.target.id, item.lineno


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def test_no_module_but_the_configs_declares_their_defaults():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(), str(path))
        found += [f"{relative}:{line}: {name}" for name, line in _declared_defaults(tree)
                  if OWNED[name] != relative]
        if relative != "gates.py":
            found += [f"{relative}:{node.lineno}: {node.value}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and node.value in GATE_LITERALS
                      and type(node.value) is float]
    assert not found, "defaults declared outside Gates / TimingPolicy:\n" + "\n".join(found)


def test_the_scan_would_see_a_declared_default():  # guards the test above against passing vacuously
    tree = ast.parse("def verify(bundle, max_drop: float = 0.5, *, runs=1000): ...\n"
                     "class Config:\n    min_agreement: float = 0.99\n")
    assert sorted(_declared_defaults(tree)) == [("max_drop", 1), ("min_agreement", 3),
                                                 ("runs", 1)]
