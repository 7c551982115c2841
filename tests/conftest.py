"""Shared fixtures: train and convert once per session, run the CLI as a user would.

The pytest process itself never imports TensorFlow (tflite_runtime breaks beside it, and the
runtime half must not need it): toolchain steps run through the CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Venvs `make test` builds with a single extra each, as on a device (see Makefile).
RUNTIME_VENVS = {"runtime": REPO / ".venv-runtime", "tflite-runtime": REPO / ".venv-tflite"}
# The same two package sets as aarch64 wheels on an emulated Raspberry Pi's Python 3.11
# (qemu-user, Debian 12 arm64; scripts/emulated_pi.sh, built by `make test` as root).
EMULATED_PI_PYTHONS = {extra: REPO / ".emulated-pi" / "bin" / f"python-{extra}"
                       for extra in RUNTIME_VENVS}
ARCHES = ("x86_64", "aarch64")


def _cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["LENET_EDGE_OFFLINE"] = "1"  # tests never download a dataset
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("LENET_EDGE_DATA_DIR", None)
    # The checkout under test, also for the emulated arm64 Pythons, which have no install of it.
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def cli_env():
    """The environment CLI subprocesses run in: offline, quiet TensorFlow, plus `extra`."""
    return _cli_env


@pytest.fixture(scope="session")
def run_cli():
    """Run `lenet-edge ARGS...` in a subprocess; fail the test on a non-zero exit if `check`."""

    def run(*args, check=True, timeout=900, env=None, cwd=None, python=sys.executable):
        cmd = [str(python), "-m", "lenet_edge", *map(str, args)]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=_cli_env(env), cwd=cwd
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"{' '.join(cmd)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory, run_cli) -> Path:
    """A LeNet-5 trained on digits with seed 0 (read-only: copy before changing it)."""
    out = tmp_path_factory.mktemp("digits") / "model"
    run_cli("train", "--dataset", "digits", "--out", out, "--seed", "0")
    return out


@pytest.fixture(scope="session")
def digits_bundle(digits_model, tmp_path_factory, run_cli) -> Path:
    """`digits_model` converted to all variants (read-only: use `fresh_bundle` to change it)."""
    out = tmp_path_factory.mktemp("digits-bundle") / "model"
    shutil.copytree(digits_model, out)
    run_cli("convert", out)
    return out


@pytest.fixture(scope="session")
def fashion_model(tmp_path_factory, run_cli) -> Path:
    """LeNet-5 trained on the full Fashion-MNIST with the defaults (about a minute here)."""
    from lenet_edge.data.datasets import LOCAL_ROOTS

    if not any((root / "fashion-mnist").is_dir() for root in LOCAL_ROOTS):
        not_installed("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")
    out = tmp_path_factory.mktemp("fashion") / "model"
    run_cli("train", "--dataset", "fashion-mnist", "--out", out)
    return out


@pytest.fixture
def fresh_bundle(digits_bundle, tmp_path) -> Path:
    """A private copy of the converted digits bundle that a test may modify."""
    return Path(shutil.copytree(digits_bundle, tmp_path / "bundle"))


def not_installed(message: str):
    """Skip a test whose part is not installed here; in CI, where `make test` installs
    everything, fail it instead, so a missing install step cannot pass silently."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def runtime_venv():
    """Path to a venv with only one extra installed; missing is a failure in CI."""

    def get(extra: str) -> Path:
        venv = RUNTIME_VENVS[extra]
        if not (venv / "bin" / "python").exists():
            not_installed(f"{venv} is missing: run 'make test' (it builds the device venvs)")
        return venv

    return get


@pytest.fixture(scope="session")
def runtime_python(runtime_venv):
    """The python of a device-like environment: one extra, on x86_64 here or on emulated arm64.

    A missing emulated Pi is a skip with its reason, and a failure in CI (see Makefile).
    """

    def get(extra: str, arch: str = "x86_64") -> Path:
        if arch == "x86_64":
            return runtime_venv(extra) / "bin" / "python"
        python = EMULATED_PI_PYTHONS[extra]
        if not python.exists():
            not_installed(f"no emulated arm64 Pi at {python}: 'make test' builds it as root "
                          "(qemu-user-static, debootstrap; scripts/emulated_pi.sh)")
        return python

    return get


@pytest.fixture(scope="session")
def device_verify(runtime_python, digits_bundle, tmp_path_factory, run_cli):
    """`verify --json` of the digits bundle in a device environment, run once per session.

    Returns (completed process, parsed JSON) for (extra, arch, Pi CPU model).
    """
    done: dict[tuple[str, str, str], tuple[subprocess.CompletedProcess, dict]] = {}

    def get(extra: str, arch: str = "x86_64", cpu: str = "cortex-a72"):
        key = (extra, arch, cpu)
        if key not in done:
            out = tmp_path_factory.mktemp("device-verify") / "verify.json"
            proc = run_cli("verify", digits_bundle, "--json", out, check=False,
                           python=runtime_python(extra, arch), env={"EMULATED_PI_CPU": cpu})
            assert out.exists(), proc.stderr[-2000:]
            done[key] = proc, json.loads(out.read_text())
        return done[key]

    return get


def pytest_sessionfinish(session, exitstatus):
    if "tensorflow" in sys.modules:  # a test imported TF in-process: see the module docstring
        print("\nERROR: TensorFlow was imported inside the pytest process", file=sys.stderr)
        session.exitstatus = 1
