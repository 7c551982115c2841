"""`benchmark`: what is measured and reported (not how fast: speed lives in scripts/)."""

from __future__ import annotations

import json
import re

import pytest
from bundle_tampering import newer_op_bundle
from table_width import assert_fits, header_lines

from lenet_edge.errors import UsageError
from lenet_edge.results.files import read_benchmark
from lenet_edge.runtime.bench import benchmark

# No TensorFlow: runs in the device venvs too; the shared `report` has litert and onnx rows.
pytestmark = [pytest.mark.runtime, pytest.mark.needs("litert", "onnxruntime")]

# Tiny timing budgets keep these tests fast; they check the report, not the figures.
QUICK = {"runs": 20, "warmup": 2, "min_time": 0.0, "warmup_time": 0.0}
QUICK_ARGS = ["--runs", "20", "--warmup", "2", "--min-time", "0", "--warmup-time", "0"]
RESULT_FIELDS = {"variant", "runtime", "threads", "batch", "load_ms", "first_ms", "mean_us",
                 "p50_us", "p90_us", "p99_us", "throughput_ips", "peak_rss_mb", "bytes"}
MACHINE_FIELDS = {"cpu", "cores", "os", "python", "runtimes"}


@pytest.fixture(scope="module")
def report(digits_bundle):
    return benchmark(digits_bundle, variants=["fp32", "int8", "onnx-int8"], batch=8, **QUICK)


def test_one_row_per_variant_runtime_and_batch(report):
    rows = [(r.variant, r.runtime, r.batch) for r in report.results]
    assert rows == [("fp32", "litert", 1), ("fp32", "litert", 8), ("int8", "litert", 1),
                    ("int8", "litert", 8), ("onnx-int8", "onnxruntime", 1),
                    ("onnx-int8", "onnxruntime", 8)]


def test_rows_hold_consistent_measurements(report, digits_bundle):
    manifest = json.loads((digits_bundle / "manifest.json").read_text())
    for r in report.results:
        assert r.status == "ok" and r.threads == 1
        assert r.min_us <= r.p50_us <= r.p90_us <= r.p99_us <= r.max_us
        assert r.throughput_ips == pytest.approx(r.batch * 1e6 / r.mean_us)
        assert r.load_ms > 0 and r.first_ms > 0 and r.peak_rss_mb > 10
        assert r.bytes == manifest["artifacts"][r.variant]["bytes"]
        # batch 1 honours --runs; at batch 8 runs scale to the same images (20 / 8 -> 3).
        assert r.runs >= (20 if r.batch == 1 else 3)


def test_json_has_machine_and_documented_fields(report):
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data["machine"]) >= MACHINE_FIELDS
    assert data["machine"]["runtimes"]["litert"]  # installed: a version string
    assert all(set(r) >= RESULT_FIELDS for r in data["results"])
    assert data["comparison"] is None and data["passed"] is True


@pytest.mark.needs("tflite-runtime")
def test_an_incompatible_variant_is_a_row_not_a_crash(digits_bundle):
    newer = newer_op_bundle(digits_bundle)
    report = benchmark(newer, variants=["int8"], runtimes=["tflite-runtime"], **QUICK)
    (row,) = report.results
    assert row.status == "incompatible" and row.mean_us is None
    assert "FULLY_CONNECTED version 12" in row.message


@pytest.mark.parametrize("kwargs,message", [
    ({"runs": 0}, "--runs must be an integer >= 1"),
    ({"batch": 0}, "--batch must be an integer >= 1"),
    ({"threads": 0}, "--threads must be an integer >= 1"),
    ({"max_slowdown": -1}, "--max-slowdown must be a percentage >= 0"),
])
def test_bad_options_are_usage_errors(digits_bundle, kwargs, message):
    with pytest.raises(UsageError, match=message):
        benchmark(digits_bundle, **{**QUICK, **kwargs})


def _baseline(path, report_dict, factor):
    """A baseline whose medians are the measured ones times `factor`."""
    data = json.loads(json.dumps(report_dict))
    for row in data["results"]:
        row["p50_us"] *= factor
    path.write_text(json.dumps(data))
    return path


def test_cli_compare_fails_on_a_regression(digits_bundle, tmp_path, run_cli, report):
    # A baseline 1000x faster than anything this machine can do: a certain regression.
    baseline = _baseline(tmp_path / "fast.json", report.to_dict(), 1e-3)
    proc = run_cli("benchmark", digits_bundle, "--variant", "int8", "--batch", "8",
                   *QUICK_ARGS, "--compare", baseline, "--max-slowdown", "50", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "against baseline" in proc.stdout and "FAILED" in proc.stdout
    # The shared regression table (results/tables.py) and one line per slower row.
    line = (r"^int8 on litert: p50 µs, batch 1, 1 thr [\d.]+ -> [\d.]+ "
            r"\(\+[\d.]+%; at most 50% slower allowed\)$")
    assert re.search(line, proc.stdout, re.MULTILINE), proc.stdout


def test_cli_compare_passes_within_the_allowed_slowdown(digits_bundle, tmp_path, run_cli, report):
    # A baseline 1000x slower: only a broken comparison could call this a regression.
    baseline = _baseline(tmp_path / "slow.json", report.to_dict(), 1e3)
    out = tmp_path / "bench.json"
    run_cli("benchmark", digits_bundle, "--variant", "int8", "--batch", "8", *QUICK_ARGS,
            "--compare", baseline, "--json", out)
    data = json.loads(out.read_text())
    assert data["passed"] is True
    # The regression shape verify --baseline writes too: p50 rows, change in percent.
    comparison = data["comparison"]
    assert comparison["gates"] == {"max_slowdown_pct": 10.0} and comparison["passed"] is True
    assert {(c["variant"], c["metric"], c["batch"], c["threads"], c["status"])
            for c in comparison["rows"]} == {("int8", "p50_us", 1, 1, "pass"),
                                             ("int8", "p50_us", 8, 1, "pass")}
    assert all(c["change"] < -99 for c in comparison["rows"])  # 1000x faster: -99.9%
    assert read_benchmark(out).comparison.passed


def test_a_comparison_written_by_lenet_edge_0_1_still_reads(report, tmp_path):
    data = json.loads(json.dumps(report.to_dict()))
    data["passed"] = False
    data["comparison"] = {"max_slowdown_pct": 10.0, "rows": [
        {"variant": "int8", "runtime": "litert", "batch": 1, "threads": 1,
         "baseline_p50_us": 10.0, "p50_us": 12.0, "slowdown_pct": 20.0, "regressed": True}]}
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(data))
    comparison = read_benchmark(path).comparison
    (row,) = comparison.rows
    assert (row.metric, row.baseline, row.new, row.change, row.allowed, row.status) == (
        "p50_us", 10.0, 12.0, 20.0, 10.0, "fail")
    assert not comparison.passed


@pytest.mark.parametrize("args,message", [
    (["--max-slowdown", "10"], "--max-slowdown needs --compare"),
    (["--runtime", "coreml"], "unknown runtime 'coreml'"),
    (["--runs", "0"], "--runs must be an integer >= 1, got 0"),
])
def test_cli_usage_errors_exit_2(digits_bundle, run_cli, args, message):
    proc = run_cli("benchmark", digits_bundle, *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_cli_compare_with_a_file_that_is_not_a_benchmark_exits_2(digits_bundle, tmp_path,
                                                                 run_cli):
    bad = tmp_path / "verify.json"
    bad.write_text(json.dumps({"passed": True}))
    proc = run_cli("benchmark", digits_bundle, "--compare", bad, *QUICK_ARGS, check=False)
    assert proc.returncode == 2 and "no 'results' list" in proc.stderr


def test_a_batch_above_the_bound_is_a_usage_error(digits_bundle):
    # 4097: one past MAX_BATCH. Unbounded, 100000000 tiled the reference set into a MemoryError.
    for batch in (4097, 100_000_000):
        with pytest.raises(UsageError, match=f"--batch must be at most 4096.*got {batch}"):
            benchmark(digits_bundle, batch=batch, **QUICK)


def test_cli_huge_batch_exits_2(digits_bundle, run_cli):
    proc = run_cli("benchmark", digits_bundle, "--variant", "int8", "--batch", "100000000",
                   *QUICK_ARGS, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "--batch must be at most 4096" in proc.stderr


@pytest.mark.parametrize("name", ["reference.npz", "manifest.json", "lenet5_int8.tflite"])
def test_cli_refuses_to_overwrite_the_bundles_own_files(fresh_bundle, run_cli, name):
    target = fresh_bundle / name
    before = target.read_bytes()
    proc = run_cli("benchmark", fresh_bundle, "--variant", "int8", "--batch", "8", *QUICK_ARGS,
                   "--json", target, check=False)
    assert proc.returncode == 2, proc.stderr
    assert f"bundle's own {name}" in proc.stderr and "timed" not in proc.stderr
    assert target.read_bytes() == before


def test_cli_checks_its_output_folder_before_timing(digits_bundle, run_cli):
    proc = run_cli("benchmark", digits_bundle, "--variant", "int8", *QUICK_ARGS,
                   "--json", "/nonexistent-dir/bench.json", check=False)
    assert proc.returncode == 5, proc.stderr
    assert "folder /nonexistent-dir does not exist" in proc.stderr
    assert "timed" not in proc.stderr  # refused before any variant ran


# --- several thread counts, cold start, emulation --------------------------------------------


def test_one_thread_count_keeps_its_rows_and_recommends_itself(report):
    data = report.to_dict()
    assert data["schedule"]["threads"] == [1] and data["schedule"]["interleaved"] is False
    assert [(r["variant"], r["threads"]) for r in data["recommendations"]] == [
        ("fp32", 1), ("int8", 1), ("onnx-int8", 1)]
    assert data["cold_start"] is None  # the library measures it only when asked


@pytest.fixture(scope="module")
def threads_run(digits_bundle, run_cli, tmp_path_factory):
    """One CLI run comparing 1 and 2 threads, with a cold start, marked as emulated."""
    out = tmp_path_factory.mktemp("threads") / "bench.json"
    proc = run_cli("benchmark", digits_bundle, "--variant", "int8", "--variant", "onnx-fp32",
                   "--batch", "4", "--threads", "2,1", *QUICK_ARGS, "--json", out,
                   env={"LENET_EDGE_EMULATED": "qemu-system-aarch64 (test)", "COLUMNS": "120"})
    return proc, json.loads(out.read_text())


def test_each_thread_count_gets_its_rows(threads_run):
    _, data = threads_run
    rows = [(r["variant"], r["threads"], r["batch"]) for r in data["results"]]
    assert rows == [("int8", 1, 1), ("int8", 2, 1), ("int8", 1, 4), ("int8", 2, 4),
                    ("onnx-fp32", 1, 1), ("onnx-fp32", 2, 1), ("onnx-fp32", 1, 4),
                    ("onnx-fp32", 2, 4)]
    assert all(r["status"] == "ok" and r["runs"] >= 20 for r in data["results"] if
               r["batch"] == 1)
    assert data["schedule"]["interleaved"] is True and data["schedule"]["seed"] == 0


def test_a_thread_count_is_recommended_per_variant_and_runtime(threads_run):
    proc, data = threads_run
    p90 = {(r["variant"], r["threads"]): r["p90_us"] for r in data["results"] if r["batch"] == 1}
    assert [r["variant"] for r in data["recommendations"]] == ["int8", "onnx-fp32"]
    for rec in data["recommendations"]:
        best = min(p90[rec["variant"], t] for t in (1, 2))
        assert rec["threads"] in (1, 2) and rec["best_p90_us"] == best
        assert rec["p90_us"] == p90[rec["variant"], rec["threads"]] <= best * 1.05
        if rec["threads"] == 2:  # 2 threads only when 1 is more than 5% behind
            assert p90[rec["variant"], 1] > best * 1.05
    assert "recommended threads:" in proc.stdout and "within 5%" in proc.stdout


def test_a_cold_start_is_timed_in_a_fresh_process(threads_run):
    proc, data = threads_run
    rows = {c["variant"]: c for c in data["cold_start"]}
    assert set(rows) == {"int8", "onnx-fp32"}
    for c in rows.values():
        assert c["status"] == "ok", c["message"]
        assert 0 < c["python_start_ms"] < c["first_result_ms"] <= c["wall_ms"]
        assert c["import_ms"] > 0 and c["load_ms"] > 0 and c["first_ms"] > 0
        assert c["python_start_ms"] + c["import_ms"] + c["load_ms"] + c["first_ms"] == \
            pytest.approx(c["first_result_ms"])
        # Its own memory: numpy plus one interpreter, not the benchmark process's peak.
        assert 10 < c["peak_rss_mb"] < 300
        assert c["tensorflow_loaded"] is False
    assert rows["int8"]["runtime"] == "litert" and rows["onnx-fp32"]["runtime"] == "onnxruntime"
    assert "cold start" in proc.stdout


def test_an_emulated_machine_marks_the_figures_functional_only(threads_run):
    proc, data = threads_run
    assert data["machine"]["emulated"] == "qemu-system-aarch64 (test)"
    assert any("latency figures are functional only" in n for n in data["notes"])
    assert "EMULATED (qemu-system-aarch64 (test))" in proc.stdout


TIMING_COLUMNS = ("variant", "runtime", "thr", "batch", "mean µs", "p50 µs", "p90 µs", "p99 µs",
                  "img/s")
SETUP_COLUMNS = ("variant", "runtime", "version", "thr", "load ms", "first ms", "peak RSS MB",
                 "KB")
COLD_START_COLUMNS = ("variant", "runtime", "thr", "to result", "python", "import", "load",
                      "first", "to exit", "peak RSS MB")


def test_cli_tables_show_every_column_at_120(threads_run):
    proc, _ = threads_run
    timing, setup, cold = header_lines(proc.stdout)
    for header, columns in ((timing, TIMING_COLUMNS), (setup, SETUP_COLUMNS),
                            (cold, COLD_START_COLUMNS)):
        assert_fits(proc.stdout, 120, header, columns)
    assert "left out" not in proc.stdout


def test_cli_tables_leave_columns_out_at_80(digits_bundle, run_cli):
    proc = run_cli("benchmark", digits_bundle, "--variant", "onnx-fp32", "--batch", "4",
                   "--threads", "2,1", *QUICK_ARGS, "--no-save", env={"COLUMNS": "80"})
    timing, setup, cold = header_lines(proc.stdout)
    # The mean goes first; a slow p99 (a busy machine) can widen its column enough for p90 too.
    left_out = tuple(c for c in TIMING_COLUMNS if c not in timing)
    assert left_out in (("mean µs",), ("mean µs", "p90 µs"))
    assert_fits(proc.stdout, 80, timing, TIMING_COLUMNS, left_out)
    assert_fits(proc.stdout, 80, setup, SETUP_COLUMNS, ("first ms",))
    assert_fits(proc.stdout, 80, cold, COLD_START_COLUMNS, ("to exit", "python", "first"))


def test_cli_no_cold_start_skips_the_child_processes(digits_bundle, run_cli, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_cli("benchmark", digits_bundle, "--variant", "int8", "--batch", "4", *QUICK_ARGS,
                   "--no-cold-start", "--json", out, env={"LENET_EDGE_EMULATED": "0"})
    data = json.loads(out.read_text())
    assert data["cold_start"] is None and "cold start" not in proc.stdout
    assert data["machine"]["emulated"] is None and "EMULATED" not in proc.stdout  # "0": not
    assert "recommended threads" not in proc.stdout  # one count: nothing to recommend


@pytest.mark.parametrize("threads,message", [
    ("0", "--threads must be an integer >= 1, got 0"),
    ("1,2,1", "--threads lists 1 more than once"),
    ("1,two", "--threads must be integers separated by commas"),
    ("65", "--threads must be at most 64, got 65"),
])
def test_cli_bad_threads_exit_2_with_one_line(digits_bundle, run_cli, threads, message):
    proc = run_cli("benchmark", digits_bundle, "--variant", "int8", "--threads", threads,
                   *QUICK_ARGS, check=False)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("lenet-edge: error: ") and message in line
    assert "timed" not in proc.stderr


def test_a_cold_start_loads_only_sha256_checked_bytes(fresh_bundle):
    from lenet_edge.runtime.cold_start import measure_cold_start

    model = fresh_bundle / "lenet5_int8.tflite"
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    c = measure_cold_start(fresh_bundle, "int8", "tflite", "litert", 1)
    assert c.status == "failed" and c.first_result_ms is None
    assert "sha256 does not match the manifest" in c.message


def test_a_child_that_cannot_start_is_a_failed_row(digits_bundle, tmp_path, monkeypatch):
    # As under qemu-user without binfmt_misc: exec of the interpreter fails with ENOEXEC.
    from lenet_edge.runtime import cold_start

    not_a_program = tmp_path / "python3"
    not_a_program.write_bytes(b"\x7fELF\x02not really")
    not_a_program.chmod(0o755)
    monkeypatch.setattr(cold_start.sys, "executable", str(not_a_program))
    c = cold_start.measure_cold_start(digits_bundle, "int8", "tflite", "litert", 1)
    assert c.status == "failed" and "Exec format error" in c.message
