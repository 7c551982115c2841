"""`lenet-edge pipeline`: one real run on digits through the CLI, and the failure paths.

The full run happens once (about a minute). Gate failures and errors from a child process
use `evaluate`, the pipeline after conversion, on a copy of the session's digits bundle.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from table_width import assert_fits, header_lines

from lenet_edge.cli import INTERNAL_ERROR
from lenet_edge.errors import ModelError
from lenet_edge.gates import Gates
from lenet_edge.pipeline.parent import PIPELINE_JSON, STAGES, PipelineConfig, evaluate
from lenet_edge.train_config import TrainConfig
from lenet_edge.variants import DEFAULT_VARIANTS, VARIANT_NAMES

# Short timing for the tests: they check what the pipeline does, not how fast models run.
QUICK_BENCH = {"runs": 20, "min_time": 0.02, "warmup": 2, "warmup_time": 0.0, "batch": 8}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, run_cli):
    """`lenet-edge pipeline --dataset digits` as `make demo` runs it, in a fresh folder."""
    out = tmp_path_factory.mktemp("pipeline") / "demo"
    proc = run_cli("pipeline", "--dataset", "digits", "--out", out, check=False,
                   env={"COLUMNS": "120"})
    return out, proc


SUMMARY_COLUMNS = ("variant", "runtime", "size", "accuracy", "vs float", "agreement", "p50 µs",
                   "img/s", "verdict")


def test_demo_ends_with_the_summary_the_recommendation_and_the_report(demo):
    out, proc = demo
    assert proc.returncode == 0, proc.stderr[-3000:]
    [header] = header_lines(proc.stdout)
    assert_fits(proc.stdout, 120, header, SUMMARY_COLUMNS)  # every column at 120
    stdout = " ".join(proc.stdout.split())  # rich may fold long lines
    assert "images per second at batch 64" in stdout and "left out" not in stdout
    summary = json.loads((out / PIPELINE_JSON).read_text())
    verify = json.loads((out / "verify.json").read_text())
    assert {r["variant"] for r in verify["results"]} == {v.name for v in DEFAULT_VARIANTS}
    for r in verify["results"]:
        assert r["variant"] in stdout and r["status"] in stdout
    assert "recommended (size):" in stdout
    assert "smallest variant that passed the accuracy gates" in stdout
    assert f"report: {out / 'report.html'}" in stdout
    for name in ("report.html", "report.md", "verify.json", "benchmark.json"):
        assert (out / name).is_file()
    assert [s["stage"] for s in summary["stages"]] == list(STAGES)
    for stage in STAGES:  # one progress display: every stage reports its end on stderr
        assert f"{stage:<10} done in" in proc.stderr


def test_the_summary_leaves_columns_out_at_80(run_cli, tmp_path):
    proc = run_cli("pipeline", "--dataset", "digits", "--epochs", "1", "--variant", "fp32",
                   "--variant", "onnx-fp32", "--bench-time", "0.02", "--out", tmp_path / "m",
                   env={"COLUMNS": "80"})
    [header] = header_lines(proc.stdout)
    assert_fits(proc.stdout, 80, header, SUMMARY_COLUMNS, ("img/s", "vs float"))
    assert re.search(r"onnx-fp32 +onnxruntime +\d+\.\d KiB +\d+\.\d\d% ", proc.stdout)


def test_verify_and_benchmark_ran_in_a_child_without_tensorflow(demo):
    out, _ = demo
    record = json.loads((out / PIPELINE_JSON).read_text())
    processes = {s["stage"]: s["process"] for s in record["stages"]}
    assert processes == {"train": "toolchain child", "convert": "toolchain child",
                         "verify": "runtime child", "benchmark": "runtime child",
                         "report": "pipeline"}
    assert record["runtime_child_toolchain_modules"] == []
    assert record["pipeline_toolchain_modules"] == []  # the report ran interpreters here
    for stage in record["stages"]:  # wall and CPU time per stage, for `make demo`'s budget
        assert stage["seconds"] > 0 and stage["cpu_seconds"] >= 0


def test_the_module_probe_would_see_tensorflow(cli_env):
    # Guards the test above against passing vacuously: the probe finds what is loaded.
    code = ("import sys, types; sys.modules['tensorflow.python'] = types.ModuleType('x'); "
            "from lenet_edge.pipeline.worker import toolchain_modules; "
            "print(toolchain_modules())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=cli_env(), timeout=60)
    assert proc.stdout.strip() == "['tensorflow.python']"


def config_for(bundle: Path, **changes) -> PipelineConfig:
    from lenet_edge.pipeline.parent import BenchmarkSettings

    return PipelineConfig(train=TrainConfig(dataset="digits"), out=str(bundle),
                          bench=BenchmarkSettings(**QUICK_BENCH), **changes)


def test_a_failed_gate_fails_the_pipeline_and_still_writes_the_report(fresh_bundle):
    # --max-drop -1 demands a gain of a point over float: no variant can pass.
    result = evaluate(config_for(fresh_bundle, gates=Gates(max_drop=-1.0)))
    assert not result.passed
    assert result.recommendation.variant is None
    assert {r.why for r in result.recommendation.rejected} == {"failed gate"}
    assert all("max -1" in r.detail for r in result.recommendation.rejected)
    assert result.report_html.is_file()
    data = json.loads(json.dumps(result.to_dict()))  # what --json prints
    assert data["passed"] is False and data["gates"]["max_drop"] == -1.0
    assert data["runtime_child_toolchain_modules"] == []


def test_an_error_in_a_child_comes_back_as_the_same_error(fresh_bundle):
    model = fresh_bundle / "lenet5_int8.tflite"
    model.write_bytes(model.read_bytes()[:-1] + b"\0")  # one byte changed
    with pytest.raises(ModelError, match="lenet5_int8.tflite: sha256 does not match"):
        evaluate(config_for(fresh_bundle))


@pytest.mark.parametrize(("args", "message"), [
    (["--runtime", "tflite"], "unknown runtime 'tflite'"),
    (["--prefer", "fastest"], "unknown preference 'fastest'"),
    (["--min-agreement", "1.5"], "--min-agreement must be within [0, 1]"),
    (["--variant", "int4"], "unknown variant 'int4'"),
    (["--bench-time", "-1"], "--bench-time must be a number of seconds >= 0, got -1.0"),
    # Before: "--min-time must be at most 60 seconds", an option the pipeline does not have.
    (["--bench-time", "1e308"], "--bench-time must be at most 60 seconds, got 1e+308"),
])
def test_bad_options_fail_before_training(run_cli, tmp_path, args, message):
    out = tmp_path / "never"
    proc = run_cli("pipeline", "--dataset", "digits", "--out", out, *args, check=False)
    # A bug also prints one line (no traceback): only the exit code tells it from bad input.
    assert proc.returncode != INTERNAL_ERROR, proc.stderr
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_the_results_file_names_are_defined_in_one_place():
    # The pipeline writes and the report reads the same files: a second spelling could drift.
    import lenet_edge
    from lenet_edge import bundle

    package = Path(lenet_edge.__file__).parent
    names = [bundle.VERIFY_JSON, bundle.BENCHMARK_JSON, bundle.PIPELINE_JSON, bundle.REPORT_HTML]
    ours = [*(package / "pipeline").glob("*.py"), *(package / "report").glob("*.py"),
            *(package / "results").glob("*.py"), package / "cli" / "pipeline.py",
            package / "cli" / "report.py"]
    spelled = {f"{path.relative_to(package)}: {name}" for path in ours for name in names
               if f'"{name}"' in path.read_text()}
    assert spelled == set()


def test_variant_help_names_the_catalogue_the_pipeline_converts():
    from typer.testing import CliRunner

    from lenet_edge.cli import app

    result = CliRunner().invoke(app, ["pipeline", "--help"], env={"COLUMNS": "200"})
    help_text = " ".join(result.output.replace("│", " ").split())  # rich's box borders
    assert result.exit_code == 0
    names = f"{', '.join(VARIANT_NAMES[:-1])} or {VARIANT_NAMES[-1]}"
    assert f"repeatable: {names} (default: all but the -mixed ones, built when named)" \
        in help_text
    assert "every variant in the bundle" not in help_text  # there is no bundle yet


def test_a_folder_that_is_not_a_model_is_refused_by_the_training_child(run_cli, tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"not ours")
    proc = run_cli("pipeline", "--dataset", "digits", "--out", out, check=False)
    assert proc.returncode == 5
    assert "holds no lenet-edge model" in proc.stderr.splitlines()[-1]
    assert (out / "holiday.jpg").read_bytes() == b"not ours"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("signum,code,after", [
    (signal.SIGTERM, 143, "train      done in"),
    # SIGINT to the parent alone (kill -INT, a supervisor), not the terminal's process group:
    # the child must get it too, or it finishes converting and swaps its bundle in.
    (signal.SIGINT, 130, "convert    started"),
])
def test_an_interrupted_pipeline_leaves_out_and_its_previous_as_they_were(
        fresh_bundle, cli_env, signum, code, after):
    # Train and convert happen in the staging folder: a signal after training must not leave
    # a half-built model in --out, nor replace the converted bundle kept in .previous.
    previous = fresh_bundle.with_name(f"{fresh_bundle.name}.previous")
    shutil.copytree(fresh_bundle, previous)
    before = snapshot(fresh_bundle), snapshot(previous)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lenet_edge", "pipeline", "--dataset", "digits", "--epochs", "1",
         "--out", str(fresh_bundle)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True, env=cli_env())
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith(after):
                proc.send_signal(signum)
                break
        rest = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == code, "".join(seen) + rest
    assert (snapshot(fresh_bundle), snapshot(previous)) == before
    assert sorted(p.name for p in fresh_bundle.parent.iterdir()) == ["bundle", "bundle.previous"]
