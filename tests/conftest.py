"""Shared fixtures: the committed digits bundle, models trained once a run, the CLI as users run it.

Two tiers (markers in pyproject.toml):
- `runtime`: needs a bundle and an interpreter, no TensorFlow. `make test` runs this tier in
  the device venvs too (.venv-runtime, .venv-tflite), so this file imports nothing of the
  toolchain: it must load where TensorFlow is not installed.
- `toolchain`: trains or converts. Set on a module with `pytestmark`, and on every test that
  uses a trained model (`digits_model`, `fashion_model`) by `pytest_collection_modifyitems`.

Runtime tests get tests/data/digits-bundle (committed; scripts/make_test_bundle.py rebuilds it,
test_committed_bundle.py checks it is current); toolchain tests get the same bundle built in
this run, with its Keras model and weights, so what they compare comes from one training.

The pytest process itself never imports TensorFlow (tflite_runtime breaks beside it, and the
runtime half must not need it): toolchain steps run through the CLI in a subprocess.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from missing_parts import not_installed

REPO = Path(__file__).resolve().parents[1]
COMMITTED_BUNDLE = REPO / "tests" / "data" / "digits-bundle"
# Venvs `make test` builds with a single extra each, as on a device (see Makefile).
RUNTIME_VENVS = {"runtime": REPO / ".venv-runtime", "tflite-runtime": REPO / ".venv-tflite"}
# The same two package sets as aarch64 wheels on an emulated Raspberry Pi's Python 3.11
# (qemu-user, Debian 12 arm64; scripts/emulated_pi.sh, built by `make test` as root).
EMULATED_PI_PYTHONS = {extra: REPO / ".emulated-pi" / "bin" / f"python-{extra}"
                       for extra in RUNTIME_VENVS}
ARCHES = ("x86_64", "aarch64")
# Fixtures that train: a test using one is in the toolchain tier wherever it is.
TRAINING_FIXTURES = ("digits_model", "fashion_model", "converted_digits_bundle")
TOOLCHAIN_INSTALLED = importlib.util.find_spec("tensorflow") is not None
# What `@pytest.mark.needs(...)` names, and the module that shows it is installed.
PARTS = {"litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime",
         "onnxruntime": "onnxruntime"}

if not TOOLCHAIN_INSTALLED:
    # A device venv: modules that import a toolchain package at their top cannot even be
    # collected there (all their tests train anyway).
    collect_ignore = ["test_train.py"]  # h5py


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if set(TRAINING_FIXTURES) & set(item.fixturenames):
            item.add_marker(pytest.mark.toolchain)
        if not TOOLCHAIN_INSTALLED and item.get_closest_marker("toolchain"):
            item.add_marker(pytest.mark.skip(reason="needs TensorFlow (the toolchain extra)"))
        missing = [part for part in _needs(item) if importlib.util.find_spec(PARTS[part]) is None]
        # A device venv has one interpreter by design; in CI's full venv a missing one fails.
        if missing and not (os.environ.get("CI") and TOOLCHAIN_INSTALLED):
            item.add_marker(pytest.mark.skip(reason=f"not installed here: {', '.join(missing)}"))


def _needs(item) -> list[str]:
    """The interpreters a test needs: `needs` markers, and a runtime test's `runtime` param."""
    parts = [part for marker in item.iter_markers("needs") for part in marker.args]
    callspec = getattr(item, "callspec", None)
    unknown = set(parts) - set(PARTS)
    assert not unknown, f"{item.nodeid}: needs {unknown}; known: {', '.join(PARTS)}"
    if item.get_closest_marker("runtime") and callspec and callspec.params.get("runtime") in PARTS:
        parts.append(callspec.params["runtime"])
    return parts


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """`build(out)` once per test run, also under pytest-xdist, where the workers share `out`.

    Workers take turns on a lock; the first builds, the others find it done. A build that
    failed is tried again by the next test that needs it (and fails that one too). `out` is
    .../NAME/model, named as a user's model folder is.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    shared = root / "built-once"
    shared.mkdir(exist_ok=True)
    out, done = shared / name / "model", shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(out.parent, ignore_errors=True)
            out.parent.mkdir()
            build(out)
            done.touch()
    return out


def _cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["LENET_EDGE_OFFLINE"] = "1"  # tests never download a dataset
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("LENET_EDGE_DATA_DIR", None)
    # The checkout under test, also for the emulated arm64 Pythons, which have no install of it.
    env["PYTHONPATH"] = str(REPO)
    # Output width is the test's choice, never the terminal's: 80 columns is what a CI log gets
    # (no terminal), so a run here and in CI see the same tables. A test needing another passes it.
    env["COLUMNS"] = "80"
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
    return built_once(tmp_path_factory, "digits-model", lambda out: run_cli(
        "train", "--dataset", "digits", "--out", out, "--seed", "0"))


@pytest.fixture(scope="session")
def converted_digits_bundle(digits_model, tmp_path_factory, run_cli) -> Path:
    """`digits_model` converted to all variants in this run (read-only)."""

    def convert(out: Path) -> None:
        shutil.copytree(digits_model, out)
        run_cli("convert", out)

    return built_once(tmp_path_factory, "digits-bundle", convert)


@pytest.fixture(scope="session")
def committed_bundle(tmp_path_factory) -> Path:
    """A copy of tests/data/digits-bundle: digits, all seven variants, no Keras model.

    A copy, because commands write results into a bundle (verify.json, benchmark.json).
    """
    return Path(shutil.copytree(COMMITTED_BUNDLE, tmp_path_factory.mktemp("committed") / "model"))


@pytest.fixture(scope="module")
def digits_bundle(request) -> Path:
    """The digits bundle with every variant (read-only: use `fresh_bundle` to change it).

    The committed one for runtime tests; in a module marked `toolchain`, the one converted
    in this run from `digits_model`.
    """
    if request.node.get_closest_marker("toolchain"):
        return request.getfixturevalue("converted_digits_bundle")
    return request.getfixturevalue("committed_bundle")


@pytest.fixture(scope="session")
def fashion_model(tmp_path_factory, run_cli) -> Path:
    """LeNet-5 trained on the full Fashion-MNIST with the defaults (about a minute here)."""
    from lenet_edge.data.datasets import LOCAL_ROOTS

    if not any((root / "fashion-mnist").is_dir() for root in LOCAL_ROOTS):
        not_installed("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")
    return built_once(tmp_path_factory, "fashion-model", lambda out: run_cli(
        "train", "--dataset", "fashion-mnist", "--out", out))


@pytest.fixture
def fresh_bundle(request, tmp_path) -> Path:
    """A private copy of the digits bundle that a test may modify: for a toolchain test
    (which may convert it again), the one converted in this run, with its weights."""
    name = ("converted_digits_bundle" if request.node.get_closest_marker("toolchain")
            else "committed_bundle")
    return Path(shutil.copytree(request.getfixturevalue(name), tmp_path / "bundle"))


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
def device_verify(runtime_python, committed_bundle, tmp_path_factory, run_cli):
    """`verify --json` of the committed digits bundle in a device environment, once per session.

    Returns (completed process, parsed JSON) for (extra, arch, Pi CPU model).
    """
    done: dict[tuple[str, str, str], tuple[subprocess.CompletedProcess, dict]] = {}

    def get(extra: str, arch: str = "x86_64", cpu: str = "cortex-a72"):
        key = (extra, arch, cpu)
        if key not in done:
            out = tmp_path_factory.mktemp("device-verify") / "verify.json"
            proc = run_cli("verify", committed_bundle, "--json", out, check=False,
                           python=runtime_python(extra, arch), env={"EMULATED_PI_CPU": cpu})
            assert out.exists(), proc.stderr[-2000:]
            done[key] = proc, json.loads(out.read_text())
        return done[key]

    return get


def pytest_sessionfinish(session, exitstatus):
    if "tensorflow" in sys.modules:  # a test imported TF in-process: see the module docstring
        print("\nERROR: TensorFlow was imported inside the pytest process", file=sys.stderr)
        session.exitstatus = 1
