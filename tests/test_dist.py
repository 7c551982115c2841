"""`make dist`: the sdist and wheel a user installs while lenet-edge is not on PyPI.

The wheel must hold every file of the package (a module or a report template left out
works in the checkout and fails only once installed), declare the extras and the
`lenet-edge` command, pass `twine check`, and run when installed. Building takes about
10 s here (an isolated build environment, so setuptools comes from the package index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXTRAS = ("runtime", "tflite-runtime", "toolchain", "report", "all", "dev")


def package_files() -> set[str]:
    """The package's files as the repository holds them (committed, when it is a git clone)."""
    if (REPO / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(["git", "ls-files", "lenet_edge"], cwd=REPO, check=True,
                                capture_output=True, text=True).stdout.split()
        return {name for name in listed if (REPO / name).is_file()}  # not deleted since
    return {str(p.relative_to(REPO)) for p in (REPO / "lenet_edge").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="pip install build (the dev extra)")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("lenet_edge-*-py3-none-any.whl")
    return wheel


def test_the_wheel_holds_every_package_file_and_the_command(dist):
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        names = set(wheel.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert package_files() - names == set()
    assert any(n.startswith("lenet_edge/report/templates/") for n in names)  # package data
    assert "lenet-edge = lenet_edge.cli:main" in entry_points
    for extra in EXTRAS:
        assert f"Provides-Extra: {extra}\n" in metadata
    (sdist,) = dist.glob("lenet_edge-*.tar.gz")
    assert sdist.name.removesuffix(".tar.gz") in wheel_of(dist).name  # the same version


def test_twine_accepts_both(dist):
    pytest.importorskip("twine", reason="pip install twine (the dev extra)")
    files = [str(p) for p in sorted(dist.iterdir())]
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2


def test_the_installed_wheel_runs(dist, tmp_path):
    # --no-deps into a folder: numpy, typer and rich come from this environment, the
    # package itself only from the wheel (PYTHONPATH comes before the editable install).
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel_of(dist))], check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import lenet_edge, lenet_edge.cli, lenet_edge.data.ink, lenet_edge.report; "
            "print(lenet_edge.__file__)")
    where = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=120, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(target))
    version = subprocess.run([sys.executable, "-m", "lenet_edge", "--version"], env=env,
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("lenet-edge "), version.stderr
