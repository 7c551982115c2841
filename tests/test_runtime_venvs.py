"""The runtime half in device-like environments: only `.[runtime]` or only `.[tflite-runtime]`.

Each test runs a fresh interpreter from such an environment, as a Raspberry Pi would: no
TensorFlow installed, so none can be imported, and the check below proves none was. Every test
runs twice: in venvs on this x86_64 host, and on an emulated arm64 Pi (Debian 12, Python 3.11,
the same packages as aarch64 wheels; qemu-user, see scripts/emulated_pi.sh), where the
interpreters run their NEON kernels instead of AVX ones.

These look at a device from outside (what a CLI run there imports, exits with, writes); the
whole runtime tier also runs inside the two x86_64 venvs (`make test`: pytest -m runtime).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from bundle_tampering import newer_op_bundle

QUICK_ARGS = ["--runs", "5", "--warmup", "1", "--min-time", "0", "--warmup-time", "0"]
TOOLCHAIN_MODULES = ("tensorflow", "keras", "tf2onnx", "onnx")
ARCHES = [pytest.param("x86_64"), pytest.param("aarch64", marks=pytest.mark.arm64)]

# Runs the library as deploy and pipeline do, then reports what got imported.
_LIBRARY_RUN = """
import json, platform, sys
from lenet_edge.runtime.verify import verify
from lenet_edge.runtime.bench import benchmark
import lenet_edge.cli  # registering every command must not import the toolchain either
bundle = sys.argv[1]
v = verify(bundle, variants=["fp32", "int8"])
b = benchmark(bundle, variants=["fp32"], runs=5, warmup=1, min_time=0, warmup_time=0, batch=4)
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))
print(json.dumps({"verify": v.passed, "rows": len(b.results), "toolchain": loaded,
                  "runtimes": sorted({r.runtime for r in v.results}),
                  "arch": platform.machine()}))
"""


def test_verify_and_benchmark_leave_tensorflow_unimported_where_it_is_installed(
        digits_bundle, cli_env):
    # The dev venv has TensorFlow: only here can an accidental import actually happen.
    proc = subprocess.run(
        [sys.executable, "-c", _LIBRARY_RUN, digits_bundle, *TOOLCHAIN_MODULES],
        capture_output=True, text=True, timeout=300, env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"verify": True, "rows": 2, "toolchain": [], "runtimes": ["litert"],
                      "arch": "x86_64"}


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("extra,runtime", [("runtime", "litert"),
                                           ("tflite-runtime", "tflite-runtime")])
def test_verify_and_benchmark_run_without_tensorflow(runtime_python, digits_bundle, cli_env,
                                                     extra, runtime, arch):
    proc = subprocess.run(
        [runtime_python(extra, arch), "-c", _LIBRARY_RUN, digits_bundle, *TOOLCHAIN_MODULES],
        capture_output=True, text=True, timeout=300, env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"verify": True, "rows": 2, "toolchain": [], "runtimes": [runtime],
                      "arch": arch}


@pytest.mark.parametrize("arch", ARCHES)
def test_runtime_venv_verifies_every_variant(device_verify, arch):
    proc, data = device_verify("runtime", arch)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert data["passed"] and len(data["results"]) == 7 and not data["skipped"]


@pytest.mark.parametrize("arch", ARCHES)
def test_tflite_venv_passes_the_variants_it_can_run_and_skips_onnx(device_verify, arch):
    proc, data = device_verify("tflite-runtime", arch)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {r["variant"]: r["status"] for r in data["results"]} == {
        "fp32": "pass", "fp16": "pass", "dynamic": "pass", "int8": "pass", "int16x8": "pass"}
    assert [s["variant"] for s in data["skipped"]] == ["onnx-fp32", "onnx-int8"]


@pytest.mark.parametrize("arch", ARCHES)
def test_tflite_venv_reports_what_it_cannot_load_and_skips_onnx(runtime_python, digits_bundle,
                                                                tmp_path, run_cli, arch):
    newer = newer_op_bundle(digits_bundle)
    out = tmp_path / "verify.json"
    proc = run_cli("verify", newer, "--json", out, check=False,
                   python=runtime_python("tflite-runtime", arch))
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


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("extra,args,hint", [
    ("tflite-runtime", ["--runtime", "onnxruntime"], "pip install 'lenet-edge[runtime]'"),
    ("tflite-runtime", ["--variant", "onnx-int8"], "'lenet-edge[runtime]'"),
    ("runtime", ["--runtime", "tflite-runtime"], "pip install 'lenet-edge[tflite-runtime]'"),
])
def test_a_runtime_that_is_not_installed_exits_6_naming_the_extra(runtime_python, digits_bundle,
                                                                  run_cli, extra, args, hint,
                                                                  arch):
    proc = run_cli("verify", digits_bundle, *args, check=False,
                   python=runtime_python(extra, arch))
    assert proc.returncode == 6
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lenet-edge: error:") and hint in last
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("extra", ["runtime", "tflite-runtime"])
def test_benchmark_json_on_a_device_venv(runtime_python, digits_bundle, tmp_path, run_cli,
                                         extra, arch):
    out = tmp_path / "bench.json"
    run_cli("benchmark", digits_bundle, "--variant", "int8", "--batch", "4", *QUICK_ARGS,
            "--json", out, python=runtime_python(extra, arch))
    data = json.loads(out.read_text())
    assert [r["batch"] for r in data["results"]] == [1, 4]
    assert data["machine"]["arch"] == arch
    # Emulated figures are marked as such, so none is ever compared with a real Pi's.
    assert bool(data["machine"]["emulated"]) == (arch == "aarch64")
    (cold,) = data["cold_start"]  # a fresh process, through qemu too when emulated
    assert cold["status"] == "ok" and cold["first_result_ms"] > 0, cold
    assert cold["tensorflow_loaded"] is False
    runtimes = data["machine"]["runtimes"]
    assert (runtimes["tflite-runtime"] is None) == (extra == "runtime")


@pytest.mark.parametrize("arch", ARCHES)
def test_inspect_on_tflite_venv_says_onnxruntime_is_missing(runtime_python, digits_bundle,
                                                            run_cli, arch):
    proc = run_cli("inspect", digits_bundle / "lenet5_onnx_fp32.onnx", "--json",
                   python=runtime_python("tflite-runtime", arch))
    (check,) = json.loads(proc.stdout)["runtimes"]
    assert check["status"] == "not installed" and "lenet-edge[runtime]" in check["message"]


@pytest.mark.parametrize("arch", ARCHES)
def test_inspect_loads_the_model_in_a_child_process(runtime_python, digits_bundle, run_cli,
                                                    arch):
    # The probe is a fresh Python: under emulation it too must start through qemu.
    proc = run_cli("inspect", digits_bundle / "lenet5_int8.tflite", "--json",
                   python=runtime_python("runtime", arch))
    checks = {c["runtime"]: c["status"] for c in json.loads(proc.stdout)["runtimes"]}
    assert checks == {"litert": "ok", "tflite-runtime": "not installed"}
