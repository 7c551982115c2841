"""`make dist`: the sdist and wheel a user installs while lenet-edge is not on PyPI.

The wheel must hold every file of the package (a module or a report template left out
works in the checkout and fails only once installed), declare the extras and the
`lenet-edge` command, pass `twine check`, and run when installed. Building takes about
10 s here (an isolated build environment, so setuptools comes from the package index).

The version lives in one place, `lenet_edge/__init__.py`: the wheel, `lenet-edge --version`
from a checkout and from an install, and the release workflow's tag check all read it there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXTRAS = ("runtime", "tflite-runtime", "toolchain", "report", "all", "dev")


def source_version() -> str:
    """`__version__` as lenet_edge/__init__.py spells it (read, not imported)."""
    text = (REPO / "lenet_edge" / "__init__.py").read_text()
    (version,) = re.findall(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    return version


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
    assert f"\nVersion: {source_version()}\n" in metadata
    assert wheel_of(dist).name == f"lenet_edge-{source_version()}-py3-none-any.whl"
    assert (dist / f"lenet_edge-{source_version()}.tar.gz").is_file()  # the same version


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
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"lenet-edge {source_version()}\n"


def test_the_version_is_written_in_one_place_only():
    version = source_version()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "lenet_edge.__version__" }' in pyproject
    # Nothing that builds, installs or releases lenet-edge repeats the number (the README's
    # example file names and recorded results in tests are documentation and data).
    places = [REPO / "pyproject.toml", REPO / "Makefile", REPO / "Dockerfile",
              *REPO.glob("lenet_edge/**/*.py"), *REPO.glob("scripts/*"),
              *REPO.glob(".github/**/*.yml"), *REPO.glob("examples/**/*.yml")]
    number = re.compile(rf"(?<![\w.]){re.escape(version)}(?![\w.])")  # not inside 10.1.0
    repeated = [str(p.relative_to(REPO)) for p in places if p.is_file()
                and p != REPO / "lenet_edge" / "__init__.py"
                and number.search(p.read_text(errors="replace"))]
    assert repeated == []


def test_the_version_from_a_source_checkout(tmp_path):
    # A clone with no install: PYTHONPATH is enough for `lenet-edge --version` (also on a Pi).
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "lenet_edge", "--version"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"lenet-edge {source_version()}\n"


def release_check(tag: str, changelog: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """The release workflow's tag check, run as GitHub runs it, in a copy of the checkout's
    layout (the package and CHANGELOG.md) so the changelog can differ."""
    yaml = pytest.importorskip("yaml", reason="pip install pyyaml (the dev extra)")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["dist"]["steps"]
               if s.get("name", "").startswith("The tag")]
    tmp_path.mkdir()
    (tmp_path / "lenet_edge").symlink_to(REPO / "lenet_edge")
    (tmp_path / "CHANGELOG.md").write_text(changelog)
    (tmp_path / "check.sh").write_text(step["run"])
    env = {**os.environ, "TAG": tag, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "check.sh"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_the_release_tag_must_be_the_version_with_a_changelog_section(tmp_path):
    version = source_version()
    released = (REPO / "CHANGELOG.md").read_text().replace(
        "## [Unreleased]", f"## [Unreleased]\n\n## [{version}] - 2026-12-01")
    released += "\n## [0.0.1] - 2026-01-01\n\n- an entry of 0.0.1\n"
    ok = release_check(f"v{version}", released, tmp_path / "ok")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    notes = (tmp_path / "ok" / "release-notes.md").read_text()
    assert "### Added" in notes and "`verify`" in notes and "an entry of 0.0.1" not in notes

    wrong_tag = release_check("v99.0.0", released, tmp_path / "tag")
    assert wrong_tag.returncode == 1
    assert f"tag v99.0.0, but lenet_edge.__version__ is {version}" in wrong_tag.stdout

    # Today's CHANGELOG.md has only Unreleased: tagging it would be refused.
    unreleased = release_check(f"v{version}", (REPO / "CHANGELOG.md").read_text(),
                               tmp_path / "unreleased")
    assert unreleased.returncode == 1
    assert f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section" in unreleased.stdout


def test_the_changelog_starts_with_unreleased_changes():
    text = (REPO / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert headings[0] == "Unreleased"
    # Keep a Changelog's groups only, under each version.
    groups = set(re.findall(r"^### (.+)$", text, re.MULTILINE))
    assert groups <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
