"""SIGTERM and SIGHUP end a run like Ctrl-C: one line, 128 + signal, nothing half-written left.

Each run is a real `lenet-edge` process signalled once it is under way, as a service
manager (SIGTERM) or a closed terminal (SIGHUP) would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lenet_edge import bundle


def start(cli_env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lenet_edge", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=cli_env())


def signal_when(proc: subprocess.Popen, starts: str, signum: int) -> str:
    """Send `signum` once a stderr line starts with `starts`; return the rest of stderr."""
    for line in proc.stderr:
        if line.startswith(starts):
            proc.send_signal(signum)
            break
    else:
        pytest.fail(f"no line starting with {starts!r}; exit {proc.wait()}")
    return proc.stderr.read()


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("lenet-edge")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4: the parent's id
            found.append(int(entry))
    return found


@pytest.mark.parametrize(("signum", "code", "words"), [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    (signal.SIGHUP, 129, "hung up (SIGHUP)"),
])
def test_a_signal_during_training_exits_128_plus_it_and_leaves_no_staging_folder(
        cli_env, tmp_path, signum, code, words):
    proc = start(cli_env, "train", "--dataset", "digits", "--epochs", "200",
                 "--out", tmp_path / "m")
    rest = signal_when(proc, "epoch", signum)
    assert proc.wait(timeout=120) == code, rest
    assert one_line(rest) == f"lenet-edge: {words}"
    assert os.listdir(tmp_path) == []  # no model, no .m.staging-* folder


def test_sigterm_during_convert_leaves_no_temp_file_and_a_stale_one_is_removed(
        run_cli, cli_env, tmp_path):
    out = tmp_path / "m"
    run_cli("train", "--dataset", "digits", "--epochs", "1", "--out", out)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = out / f".lenet5_int8.tflite.{dead}.k3j2h1g0.tmp"  # as a SIGKILLed run leaves it
    stale.write_bytes(b"half a model")
    run_cli("convert", out, "--variant", "fp32")
    assert not stale.exists()  # the next write into the folder removed it
    manifest = (out / bundle.MANIFEST).read_bytes()

    proc = start(cli_env, "convert", out)
    rest = signal_when(proc, "  fp32", signal.SIGTERM)  # under way: the next variant converts
    assert proc.wait(timeout=300) == 143, rest
    assert one_line(rest) == "lenet-edge: terminated (SIGTERM)"
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    assert (out / bundle.MANIFEST).read_bytes() == manifest  # not half a bundle
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_sigterm_to_the_pipeline_stops_its_children_and_cleans_up(cli_env, tmp_path):
    proc = start(cli_env, "pipeline", "--dataset", "digits", "--epochs", "200",
                 "--out", tmp_path / "m")
    for line in proc.stderr:
        if line.startswith("train"):
            break
    children: list[int] = []
    for _ in range(100):  # the toolchain child is started right after that line
        children = children_of(proc.pid)
        if children:
            break
        time.sleep(0.05)
    time.sleep(2)  # let the child get into its work (TensorFlow loading or training)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, rest
    assert one_line(rest) == "lenet-edge: terminated (SIGTERM)"
    assert children and not any(Path(f"/proc/{pid}").exists() for pid in children)
    assert os.listdir(tmp_path) == []


def test_a_signal_cut_into_an_import_is_reported_as_the_signal(cli_env, tmp_path, run_cli,
                                                                fresh_bundle):
    # A C extension's import (onnxruntime's) turns the exception our handler raises into
    # ImportError("initialization failed"): this stand-in does the same, deterministically.
    fake = tmp_path / "fake" / "onnxruntime"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import os, signal, time\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
        "except BaseException:\n"
        "    raise ImportError('initialization failed') from None\n")
    env = {"PYTHONPATH": f"{fake.parent}{os.pathsep}{cli_env()['PYTHONPATH']}"}
    proc = run_cli("verify", fresh_bundle, "--variant", "onnx-fp32", "--no-save", check=False,
                   env=env, timeout=120)
    assert proc.returncode == 143, proc.stderr
    assert one_line(proc.stderr) == "lenet-edge: terminated (SIGTERM)"

    # The pipeline's runtime child answers the same: the signal's code, not an error event.
    request = {"bundle": str(fresh_bundle), "variants": ["onnx-fp32"], "runtimes": [],
               "max_drop": 1.0, "min_agreement": 0.9, "verify_json": "v.json",
               "benchmark_json": "b.json",
               "bench": {"runs": 1, "warmup": 0, "batch": 1, "min_time": 0, "warmup_time": 0}}
    child = subprocess.run([sys.executable, "-m", "lenet_edge.pipeline.worker", "runtime"],
                           input=json.dumps(request), capture_output=True, text=True,
                           env=cli_env(env), timeout=120)
    assert child.returncode == 143, child.stderr
    assert '"error"' not in child.stdout, child.stdout


# The interpreter kept alive after the command finished (a slow shutdown): a thread that
# outlives the main one, as Python joins such threads before it exits.
LINGER = """
import sys, threading, time
from lenet_edge.cli import main

def linger():
    threading.main_thread().join()
    print("lingering", file=sys.stderr, flush=True)
    time.sleep(5)

threading.Thread(target=linger).start()
sys.argv[0] = "lenet-edge"
main()
"""


def test_a_signal_after_the_command_finished_is_said_and_the_exit_code_stands(
        cli_env, fresh_bundle):
    proc = subprocess.Popen([sys.executable, "-c", LINGER, "inspect",
                             fresh_bundle / "lenet5_fp32.tflite"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env({"COLUMNS": "200"}))  # the long path on one line
    rest = signal_when(proc, "lingering", signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, rest  # the work is done: its exit code stands
    assert one_line(rest) == ("lenet-edge: terminated (SIGTERM) after the command had "
                              "finished; its exit code stands")
    assert "fp32" in proc.stdout.read()  # the table was printed in full
