"""stdout that cannot be written: full, closed, or its reader gone (issue 10, outputs).

A full disk or a closed stdout is exit 5 with one line, never the internal error 70 or a
silent exit 0 with the output lost; a reader that has gone (`| head`) is a quiet exit 141,
as `yes | head` gives, without "Exception ignored ... BrokenPipeError" at interpreter exit.
Each command runs as a real process with its stdout set up as a shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pictures import draw_digit, save


def run(cli_env, args, stdout, timeout=300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "lenet_edge", *map(str, args)]
    if stdout == "closed":  # `>&-`
        cmd = ["sh", "-c", 'exec "$@" >&-', "sh", *cmd]
        return subprocess.run(cmd, stderr=subprocess.PIPE, text=True, env=cli_env(),
                              timeout=timeout)
    if stdout == "full":
        with open("/dev/full", "w") as full:
            return subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True,
                                  env=cli_env(), timeout=timeout)
    read_end, write_end = os.pipe()  # "gone": the reader closed its end before any write
    os.close(read_end)
    try:
        return subprocess.run(cmd, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              env=cli_env(), timeout=timeout)
    finally:
        os.close(write_end)


def no_noise(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert "internal error" not in stderr, stderr


@pytest.fixture
def commands(fresh_bundle, tmp_path):
    picture = save(draw_digit(3), tmp_path / "three.png")
    tflite = fresh_bundle / "lenet5_fp32.tflite"
    return {
        "verify": ["verify", fresh_bundle, "--variant", "fp32", "--no-save"],
        "verify --json -": ["verify", fresh_bundle, "--variant", "fp32", "--no-save",
                            "--json", "-"],
        "inspect": ["inspect", tflite],
        "inspect --json": ["inspect", tflite, "--json"],
        "predict --json": ["predict", fresh_bundle, picture, "--json"],
        "report --json": ["report", fresh_bundle, "--json"],
        "convert --json": ["convert", fresh_bundle, "--variant", "fp32", "--json"],
    }


@pytest.mark.parametrize("command", ["verify", "verify --json -", "inspect", "inspect --json",
                                     "predict --json", "report --json", "convert --json"])
def test_a_full_stdout_is_an_output_error(cli_env, commands, command):
    if command == "report --json":  # report needs saved results to report on
        run(cli_env, commands["verify"][:-1], "full")  # (saves verify.json, then exit 5)
    proc = run(cli_env, commands[command], "full")
    no_noise(proc.stderr)
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "lenet-edge: error: cannot write to stdout: No space left on device")


@pytest.mark.parametrize("command", ["verify --json -", "inspect --json", "predict --json"])
def test_a_closed_stdout_is_an_output_error_not_a_lost_result(cli_env, commands, command):
    proc = run(cli_env, commands[command], "closed")
    no_noise(proc.stderr)
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "lenet-edge: error: cannot write to stdout: stdout is closed")


@pytest.mark.parametrize("command", ["verify", "verify --json -", "inspect --json"])
def test_a_reader_that_has_gone_is_a_quiet_exit_141(cli_env, commands, command):
    proc = run(cli_env, commands[command], "gone")
    no_noise(proc.stderr)
    assert proc.returncode == 141, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("lenet-edge")]


@pytest.mark.parametrize(("stdout", "code"), [("gone", 141), ("full", 5)])
def test_json_to_dev_stdout_fails_as_json_to_dash_does(cli_env, fresh_bundle, stdout, code):
    proc = run(cli_env, ["verify", fresh_bundle, "--variant", "fp32", "--no-save", "--json",
                         "/dev/stdout"], stdout)
    no_noise(proc.stderr)
    assert proc.returncode == code, proc.stderr


def test_a_closed_stdout_does_not_lend_fd_1_to_a_file(cli_env, fresh_bundle, tmp_path):
    # With fd 1 closed, the next file opened would become fd 1: the JSON file must hold the
    # report and nothing a stdout write could have put there.
    out = tmp_path / "verify.json"
    proc = run(cli_env, ["verify", fresh_bundle, "--variant", "fp32", "--no-save", "--json",
                         out], "closed")
    no_noise(proc.stderr)
    assert proc.returncode == 5, proc.stderr  # the table had nowhere to go
    assert json.loads(out.read_text())["results"][0]["variant"] == "fp32"
