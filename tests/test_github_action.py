"""The GitHub Action (.github/actions/verify/action.yml), run locally step by step.

GitHub's runner is not available here, so the steps of the composite action run as the runner
would run them: each `run:` script through `bash --noprofile --norc -eo pipefail` (or python),
in order, with its `if:` and the `${{ }}` expressions of its `env:` evaluated, a fresh
GITHUB_OUTPUT file per step whose values later steps read as `steps.<id>.outputs.*`, and a
GITHUB_STEP_SUMMARY file. `uses:` steps (setup-python, upload-artifact) are not run: their `if:`
and `with:` are evaluated and recorded, so a test can check what would be uploaded.

The lenet-edge on PATH is this checkout's (the `lenet-edge` script beside the test's Python,
an editable install): the tests pass `install: 'false'`, so the install step does not run
(it needs the package index); a test checks that its source path is this repository.

The workflow files are checked by jactionlint, as `make actionlint` does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from missing_parts import not_installed

yaml = pytest.importorskip("yaml", reason="pip install pyyaml (the dev extra)")

REPO = Path(__file__).resolve().parents[1]
ACTION_DIR = REPO / ".github" / "actions" / "verify"
BIN = Path(sys.executable).parent  # this venv's bin: its lenet-edge runs this checkout
# What `make actionlint` checks (its WORKFLOW_FILES).
WORKFLOW_FILES = [*sorted((REPO / ".github" / "workflows").glob("*.yml")),
                  *sorted((REPO / ".github" / "actions").glob("*/action.yml")),
                  *sorted((REPO / "examples" / "github").glob("*.yml"))]


# --- a small interpreter for the expressions the action uses -----------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))"
                    r"|(?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)(?P<call>\(\))?)")


def evaluate(expression: str, context: dict, failed: bool):
    """Evaluate a GitHub expression made of property paths, strings, ==, !=, &&, ||, ! and
    the status functions; anything else fails the test (the action grew beyond this)."""
    python, pos, expression = [], 0, expression.strip()
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        assert m and m.end() > pos, f"unsupported expression: {expression!r}"
        pos = m.end()
        if m["str"]:
            python.append(repr(m["str"][1:-1].replace("''", "'")))
        elif m["op"]:
            python.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
        elif m["call"]:
            python.append(repr({"always": True, "success": not failed,
                                "failure": failed}[m["name"]]))
        else:
            value = context
            for part in m["name"].split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            python.append(repr(value))  # a missing property is null, which compares as ''
    return eval("".join(python), {"__builtins__": {}})  # noqa: S307 - tokens checked above


def substitute(text: str, context: dict, failed: bool) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m[1], context, failed)), text)


def should_run(step: dict, context: dict, failed: bool) -> bool:
    condition = str(step.get("if", "success()"))
    condition = condition.removeprefix("${{").removesuffix("}}")
    if not re.search(r"\b(always|success|failure|cancelled)\(\)", condition):
        condition = f"success() && ({condition})"  # as GitHub adds it
    return bool(evaluate(condition, context, failed))


def read_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT's `name=value` and `name<<DELIMITER` forms."""
    outputs, lines = {}, path.read_text().splitlines()
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter)
            outputs[name], lines = "\n".join(lines[:end]), lines[end + 1:]
        elif line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    with_: dict = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: dict[str, StepRun]
    outputs: dict[str, dict[str, str]]
    summary: str
    failed: bool


def run_action(inputs: dict[str, str], tmp_path: Path) -> ActionRun:
    """Run the composite action's steps in order, as the runner would (see the docstring)."""
    action = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
    unknown = set(inputs) - set(action["inputs"])
    assert not unknown, f"not inputs of the action: {unknown}"
    given = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    given.update(inputs)
    context = {"inputs": given, "steps": {},
               "github": {"action_path": str(ACTION_DIR)}, "runner": {"temp": str(tmp_path)}}
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO), "COLUMNS": "120", "GITHUB_ACTION_PATH": str(ACTION_DIR),
           "RUNNER_TEMP": str(tmp_path), "GITHUB_ACTIONS": "true"}
    summary_parts, steps, failed = [], {}, False
    for index, step in enumerate(action["runs"]["steps"]):
        name = step.get("name", f"step {index}")
        if not should_run(step, context, failed):
            steps[name] = StepRun(name, ran=False)
            continue
        if "uses" in step:
            with_ = {k: substitute(str(v), context, failed)
                     for k, v in step.get("with", {}).items()}
            steps[name] = StepRun(name, ran=True, with_=with_)
            continue
        output, summary = tmp_path / f"output-{index}", tmp_path / f"summary-{index}"
        output.touch()
        summary.touch()
        script = tmp_path / f"step-{index}"
        script.write_text(step["run"])
        shell = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                 "python": [sys.executable, str(script)]}[step["shell"]]
        step_env = {k: substitute(str(v), context, failed) for k, v in step.get("env", {}).items()}
        proc = subprocess.run(shell, env={**env, **step_env, "GITHUB_OUTPUT": str(output),
                                          "GITHUB_STEP_SUMMARY": str(summary)},
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
        steps[name] = StepRun(name, True, proc.returncode, proc.stdout, proc.stderr)
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": read_outputs(output)}
        summary_parts.append(summary.read_text())
        failed = failed or proc.returncode != 0
    outputs = {sid: s["outputs"] for sid, s in context["steps"].items()}
    return ActionRun(steps, outputs, "".join(summary_parts), failed)


def junit_cases(junit: Path) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in ET.parse(junit).iter("testcase")}


# --- the action against the digits bundle ------------------------------------------------------

def test_a_passing_bundle_gets_junit_summary_and_artifact_and_passes(digits_bundle, tmp_path):
    results = tmp_path / "results"
    run = run_action({"bundle": str(digits_bundle), "variants": "fp32, int8",
                      "install": "false", "results-dir": str(results)}, tmp_path)
    assert not run.failed, {n: s.stderr[-2000:] for n, s in run.steps.items()}
    assert not run.steps["Install lenet-edge (runtime extra, no TensorFlow)"].ran
    assert run.outputs["verify"]["exit-code"] == "0"
    assert run.steps["Gate"].ran and run.steps["Gate"].returncode == 0
    # Two comma-separated variants became two --variant options: one testcase each, passed.
    cases = junit_cases(results / "verify.xml")
    assert set(cases) == {"fp32 on litert", "int8 on litert"}
    assert not any(case.find("failure") is not None for case in cases.values())
    assert run.summary.startswith("### lenet-edge verify: passed")
    assert "| fp32 | litert |" in run.summary and "| int8 | litert |" in run.summary
    upload = run.steps["Upload results"]
    assert upload.ran and upload.with_["path"] == str(results)
    assert upload.with_["name"] == "lenet-edge-verify"
    assert {"verify.xml", "verify.md", "verify.json"} <= {p.name for p in results.iterdir()}


def test_runtimes_and_gates_reach_verify_as_options(digits_bundle, tmp_path):
    run = run_action({"bundle": str(digits_bundle), "variants": "onnx-int8 onnx-fp32",
                      "runtimes": "onnxruntime", "max-drop": "0.25", "min-agreement": "0.98",
                      "limit": "100", "install": "false"}, tmp_path)
    assert not run.failed, run.steps["Verify"].stderr[-2000:]
    suite = ET.parse(tmp_path / "lenet-edge" / "verify.xml").find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {"images": "100", "max_drop": "0.25", "min_agreement": "0.98"}
    assert set(junit_cases(tmp_path / "lenet-edge" / "verify.xml")) == {
        "onnx-int8 on onnxruntime", "onnx-fp32 on onnxruntime"}


def test_a_failing_gate_fails_the_job_only_after_summary_and_artifact(digits_bundle, tmp_path):
    # --max-drop -1 demands a gain of a point over float, which no variant has on digits
    # (all seven score as the float model does): every variant fails the gate, exit 1.
    run = run_action({"bundle": str(digits_bundle), "install": "false", "max-drop": "-1",
                      "artifact-name": "verify-digits"}, tmp_path)
    results = tmp_path / "lenet-edge"  # the default: $RUNNER_TEMP/lenet-edge
    verify = run.steps["Verify"]
    assert verify.returncode == 0, verify.stderr  # the step itself keeps going
    assert run.outputs["verify"]["exit-code"] == "1"
    assert "accuracy dropped" in verify.stdout + verify.stderr  # the reasons, in the log
    cases = junit_cases(results / "verify.xml")
    assert len(cases) == 7  # every variant in the bundle, as none was named
    assert all(case.find("failure") is not None for case in cases.values())
    assert run.summary.startswith("### lenet-edge verify: FAILED")
    assert "gates: accuracy drop \\<= -1 points" in run.summary
    upload = run.steps["Upload results"]
    assert upload.ran and upload.with_["path"] == str(results)
    assert upload.with_["name"] == "verify-digits"
    gate = run.steps["Gate"]
    assert gate.ran and gate.returncode == 1 and run.failed
    assert gate.stdout.startswith("::error title=lenet-edge verify::exit code 1")
    assert list(run.steps)[-1] == "Gate"  # nothing the user needs comes after the failure


def test_a_bundle_verify_cannot_read_still_gets_a_summary_line(tmp_path):
    run = run_action({"bundle": str(tmp_path / "no-such-bundle"), "install": "false"}, tmp_path)
    code = run.outputs["verify"]["exit-code"]
    assert code not in ("0", "1"), run.steps["Verify"].stderr  # an error, not a gate (README)
    assert run.summary == (f"**lenet-edge verify** stopped with exit code {code} before writing "
                           "its summary: see this step's log.\n")
    assert run.steps["Upload results"].ran  # the log and whatever was written still go up
    assert run.steps["Gate"].returncode == int(code)


def test_the_baseline_input_reaches_verify_with_its_budgets(digits_bundle, tmp_path):
    # The bundle against itself: every figure is unchanged, so the comparison passes; what
    # the test checks is that --baseline and the budgets got through, and where it shows.
    run = run_action({"bundle": str(digits_bundle), "baseline": str(digits_bundle),
                      "max-regression": "0.5", "max-class-regression": "4",
                      "variants": "fp32", "install": "false"}, tmp_path)
    assert not run.failed, run.steps["Verify"].stderr[-2000:]
    assert run.outputs["verify"]["exit-code"] == "0"
    junit = tmp_path / "lenet-edge" / "verify.xml"
    properties = {p.get("name"): p.get("value")
                  for p in ET.parse(junit).find("testsuite").iter("property")}
    assert properties["max_regression"] == "0.5" and properties["max_class_regression"] == "4.0"
    assert set(junit_cases(junit)) == {"fp32 on litert", "float vs baseline",
                                       "fp32 on litert vs baseline"}
    assert "#### against baseline: passed" in run.summary


def test_a_budget_without_a_baseline_stops_verify(digits_bundle, tmp_path):
    run = run_action({"bundle": str(digits_bundle), "max-regression": "1", "install": "false"},
                     tmp_path)
    assert run.outputs["verify"]["exit-code"] == "2" and run.failed
    assert "--max-regression needs --baseline" in run.steps["Verify"].stderr


def test_benchmark_adds_a_latency_table_and_its_json(digits_bundle, tmp_path):
    # A few timed calls: the test checks the plumbing, not the figures.
    run = run_action({"bundle": str(digits_bundle), "variants": "fp32", "install": "false",
                      "benchmark": "true", "benchmark-args":
                      "--runs 20 --min-time 0.01 --warmup 1 --warmup-time 0 --no-cold-start"},
                     tmp_path)
    assert not run.failed, run.steps["Benchmark"].stderr[-2000:]
    assert run.outputs["benchmark"]["exit-code"] == "0"
    assert (tmp_path / "lenet-edge" / "benchmark.json").is_file()
    table = run.summary.split("### lenet-edge benchmark: passed\n", 1)[1]
    assert re.search(r"^\| fp32 \| litert \| 1 \| 1 \| [\d.]+ \| [\d.]+ \| [\d,]+ \|$", table,
                     re.MULTILINE), table


def test_the_install_step_installs_the_runtime_extra_of_this_checkout():
    """Not run here (it needs the package index): its source is the repository at the ref a
    user names in `uses:`, which must be this project, with the TF-free extra."""
    action = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
    (install,) = [s for s in action["runs"]["steps"] if s.get("name", "").startswith("Install")]
    relative = re.search(r'\$GITHUB_ACTION_PATH/([./]+)"', install["run"])[1]
    root = (ACTION_DIR / relative).resolve()
    assert re.search(r'^name = "lenet-edge"$', (root / "pyproject.toml").read_text(), re.M)
    assert root == REPO
    assert '[runtime]' in install["run"] and "toolchain" not in install["run"]


# --- jactionlint on every workflow and action file ---------------------------------------------

def jactionlint() -> list[str]:
    """The command `make actionlint` runs (shellcheck from PATH when installed)."""
    path = BIN / "jactionlint"
    if not path.is_file():
        not_installed("jactionlint is not installed: pip install -e '.[dev]' (make does)")
    return [str(path), "--no-color", "--config-file", str(REPO / ".github" / "jactionlint.yaml"),
            f"--ruff={BIN / 'ruff'}"]


def test_jactionlint_passes_every_workflow_and_action_file():
    assert len(WORKFLOW_FILES) >= 3  # the action, ci.yml and the example
    proc = subprocess.run([*jactionlint(), *WORKFLOW_FILES], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_jactionlint_fails_on_a_workflow_that_misuses_the_action(tmp_path):
    # The checker reads the action's inputs: a misspelt input and a missing required one
    # in a workflow, and an action script reading an input that does not exist. It finds
    # local actions from the repository's root, so the folder is made one.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copytree(ACTION_DIR, tmp_path / ".github" / "actions" / "verify")
    workflow = tmp_path / ".github" / "workflows" / "broken.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text((REPO / ".github" / "workflows" / "ci.yml").read_text())
    with workflow.open("a") as f:
        f.write("  gate:\n    runs-on: ubuntu-latest\n    timeout-minutes: 5\n    steps:\n"
                "      - uses: actions/checkout@v4\n        with:\n"
                "          persist-credentials: false\n"
                "      - uses: ./.github/actions/verify\n        with:\n"
                "          bundel: models/demo\n")
    action = tmp_path / ".github" / "actions" / "verify" / "action.yml"
    action.write_text(action.read_text().replace("${{ inputs.max-drop }}",
                                                 "${{ inputs.max-dorp }}"))
    proc = subprocess.run([*jactionlint(), "--oneline", workflow, action],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'input "bundel" is not defined in action' in proc.stdout
    assert 'missing input "bundle"' in proc.stdout
    assert 'property "max-dorp" is not defined' in proc.stdout


def test_the_example_workflow_passes_only_inputs_the_action_has():
    # jactionlint checks inputs of local actions only; the example names the action remotely
    # (OWNER/lenet-edge/...@v1), as a user's repository must.
    action = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
    required = {name for name, spec in action["inputs"].items() if spec.get("required")}
    workflow = yaml.safe_load((REPO / "examples" / "github" / "lenet-edge.yml").read_text())
    uses = [step for job in workflow["jobs"].values() for step in job["steps"]
            if step.get("uses", "").split("@")[0].endswith("/lenet-edge/.github/actions/verify")]
    assert uses, "the example no longer uses the action"
    for step in uses:
        assert set(step["with"]) <= set(action["inputs"]), set(step["with"]) - set(action["inputs"])
        assert required <= set(step["with"])
