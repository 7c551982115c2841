"""The TF boundary, checked statically: `lint-imports` with the contract in pyproject.toml.

test_tf_free.py proves at run time that the commands load no TensorFlow; this contract covers
every import statement, also those in functions no test calls. The tests below run the tool on
the checkout and on a copy of the package with one bad import added, to show it fails then.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACT = "The runtime half never imports the toolchain or TensorFlow"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("lint-imports")  # the dev extra: always in .venv
    assert tool.exists(), "import-linter is not installed: pip install -e '.[dev]'"
    # PYTHONPATH and cwd: the package under `root` is analysed, not the installed checkout.
    return subprocess.run([str(tool), "--no-cache", "--no-logo"], cwd=root, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(root)))


def package_copy(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "lenet_edge", root / "lenet_edge",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root)
    return root


def test_the_checkout_keeps_the_contract():
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{CONTRACT} KEPT" in proc.stdout


def test_an_unchanged_copy_keeps_it_too(tmp_path):  # so the failures below are the injections'
    proc = lint_imports(package_copy(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.parametrize("module,added,source,forbidden", [
    # At module top, as cli/train.py once imported toolchain.train.
    ("runtime/verify.py", "import lenet_edge.toolchain.train\n", "lenet_edge.runtime",
     "lenet_edge.toolchain"),
    # Inside a function: a lazy import is still an import the device would fail on.
    ("data/digits.py", "\n\ndef _sneaky():\n    import tensorflow  # noqa\n", "lenet_edge.data",
     "tensorflow"),
    # Through another lenet_edge module, as train_config once pulled toolchain.model in.
    ("pipeline/parent.py", "from lenet_edge.pipeline import worker  # noqa\n",
     "lenet_edge.pipeline.parent", "keras"),
    ("report/html.py", "import onnx  # noqa\n", "lenet_edge.report", "onnx"),
])
def test_a_forbidden_import_breaks_the_contract(tmp_path, module, added, source, forbidden):
    root = package_copy(tmp_path)
    path = root / "lenet_edge" / module
    path.write_text(path.read_text() + added)
    proc = lint_imports(root)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{CONTRACT} BROKEN" in proc.stdout
    assert f"{source} is not allowed to import {forbidden}:" in proc.stdout
    # The chain it prints starts at the edited module, so the report points at the fix.
    assert "lenet_edge." + module.removesuffix(".py").replace("/", ".") + " -> " in proc.stdout
