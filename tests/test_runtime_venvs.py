"""The runtime half on device-like venvs: only `.[runtime]` or only `.[tflite-runtime]`.

Each test runs a fresh interpreter from such a venv (built by `make test`), as a Raspberry Pi
would: no TensorFlow installed, so none can be imported, and the check below proves none was.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from bundle_tampering import newer_op_bundle

QUICK_ARGS = ["--runs", "5", "--warmup", "1", "--min-time", "0", "--warmup-time", "0"]
TOOLCHAIN_MODULES = ("tensorflow", "keras", "tf2onnx", "onnx")

# Runs the library as deploy and pipeline do, then reports what got imported.
_LIBRARY_RUN = """
import json, sys
from lenet_edge.runtime.verify import verify
from lenet_edge.runtime.bench import benchmark
import lenet_edge.cli  # registering every command must not import the toolchain either
bundle = sys.argv[1]
v = verify(bundle, variants=["fp32", "int8"])
b = benchmark(bundle, variants=["fp32"], runs=5, warmup=1, min_time=0, warmup_time=0, batch=4)
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))
print(json.dumps({"verify": v.passed, "rows": len(b.results), "toolchain": loaded,
                  "runtimes": sorted({r.runtime for r in v.results})}))
"""


def _python(runtime_venv, extra):
    return runtime_venv(extra) / "bin" / "python"


def test_verify_and_benchmark_leave_tensorflow_unimported_where_it_is_installed(
        digits_bundle, cli_env):
    # The dev venv has TensorFlow: only here can an accidental import actually happen.
    proc = subprocess.run(
        [sys.executable, "-c", _LIBRARY_RUN, digits_bundle, *TOOLCHAIN_MODULES],
        capture_output=True, text=True, timeout=300, env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"verify": True, "rows": 2, "toolchain": [], "runtimes": ["litert"]}


@pytest.mark.parametrize("extra,runtime", [("runtime", "litert"),
                                           ("tflite-runtime", "tflite-runtime")])
def test_verify_and_benchmark_run_without_tensorflow(runtime_venv, digits_bundle, cli_env,
                                                     extra, runtime):
    proc = subprocess.run(
        [_python(runtime_venv, extra), "-c", _LIBRARY_RUN, digits_bundle, *TOOLCHAIN_MODULES],
        capture_output=True, text=True, timeout=300, env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"verify": True, "rows": 2, "toolchain": [], "runtimes": [runtime]}


def test_runtime_venv_verifies_every_variant(runtime_venv, digits_bundle, tmp_path, run_cli):
    out = tmp_path / "verify.json"
    run_cli("verify", digits_bundle, "--json", out, python=_python(runtime_venv, "runtime"))
    data = json.loads(out.read_text())
    assert data["passed"] and len(data["results"]) == 7 and not data["skipped"]


def test_tflite_venv_reports_what_it_cannot_load_and_skips_onnx(runtime_venv, digits_bundle,
                                                                tmp_path, run_cli):
    newer = newer_op_bundle(digits_bundle)
    out = tmp_path / "verify.json"
    proc = run_cli("verify", newer, "--json", out, check=False,
                   python=_python(runtime_venv, "tflite-runtime"))
    assert proc.returncode == 1  # int8 (FULLY_CONNECTED 12) cannot load on this device
    data = json.loads(out.read_text())
    status = {r["variant"]: r["status"] for r in data["results"]}
    # convert writes 'dynamic' with per-tensor dense weights (FULLY_CONNECTED 9) so that it
    # loads here; only the tampered int8 needs an op this runtime lacks.
    assert status == {"fp32": "pass", "fp16": "pass", "int8": "incompatible", "int16x8": "pass",
                      "dynamic": "pass"}
    int8 = next(r for r in data["results"] if r["variant"] == "int8")
    assert "FULLY_CONNECTED version 12" in int8["message"]
    assert [s["variant"] for s in data["skipped"]] == ["onnx-fp32", "onnx-int8"]
    assert "pip install 'lenet-edge[runtime]'" in data["skipped"][0]["reason"]


def test_tflite_venv_passes_the_variants_it_can_run(runtime_venv, digits_bundle, run_cli):
    run_cli("verify", digits_bundle, "--variant", "fp32", "--variant", "int8",
            python=_python(runtime_venv, "tflite-runtime"))


@pytest.mark.parametrize("extra,args,hint", [
    ("tflite-runtime", ["--runtime", "onnxruntime"], "pip install 'lenet-edge[runtime]'"),
    ("tflite-runtime", ["--variant", "onnx-int8"], "'lenet-edge[runtime]'"),
    ("runtime", ["--runtime", "tflite-runtime"], "pip install 'lenet-edge[tflite-runtime]'"),
])
def test_a_runtime_that_is_not_installed_exits_6_naming_the_extra(runtime_venv, digits_bundle,
                                                                  run_cli, extra, args, hint):
    proc = run_cli("verify", digits_bundle, *args, check=False,
                   python=_python(runtime_venv, extra))
    assert proc.returncode == 6
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lenet-edge: error:") and hint in last
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("extra", ["runtime", "tflite-runtime"])
def test_benchmark_json_on_a_device_venv(runtime_venv, digits_bundle, tmp_path, run_cli, extra):
    out = tmp_path / "bench.json"
    run_cli("benchmark", digits_bundle, "--variant", "int8", "--batch", "4", *QUICK_ARGS,
            "--json", out, python=_python(runtime_venv, extra))
    data = json.loads(out.read_text())
    assert [r["batch"] for r in data["results"]] == [1, 4]
    runtimes = data["machine"]["runtimes"]
    assert (runtimes["tflite-runtime"] is None) == (extra == "runtime")


def test_inspect_on_tflite_venv_says_onnxruntime_is_missing(runtime_venv, digits_bundle, run_cli):
    proc = run_cli("inspect", digits_bundle / "lenet5_onnx_fp32.onnx", "--json",
                   python=_python(runtime_venv, "tflite-runtime"))
    (check,) = json.loads(proc.stdout)["runtimes"]
    assert check["status"] == "not installed" and "lenet-edge[runtime]" in check["message"]
