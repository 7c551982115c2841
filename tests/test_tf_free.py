"""The runtime half and the CLI's help never import TensorFlow (checked in a fresh process)."""

from __future__ import annotations

import subprocess
import sys

COMMANDS = ("pipeline", "train", "convert", "verify", "benchmark", "inspect", "predict", "report",
            "deploy")


def modules_after(code: str, env: dict[str, str]) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def test_import_and_every_help_leave_tensorflow_unloaded(cli_env):
    code = "\n".join(
        ["import lenet_edge, lenet_edge.cli", "from typer.testing import CliRunner",
         "runner = CliRunner()",
         "assert runner.invoke(lenet_edge.cli.app, ['--help']).exit_code == 0",
         "assert runner.invoke(lenet_edge.cli.app, ['--version']).exit_code == 0"]
        + [f"assert runner.invoke(lenet_edge.cli.app, ['{c}', '--help']).exit_code == 0, '{c}'"
           for c in COMMANDS]
    )
    loaded = modules_after(code, cli_env())
    assert "lenet_edge.cli" in loaded
    assert not {"tensorflow", "keras", "tf2onnx"} & loaded


def test_the_probe_would_see_tensorflow(cli_env):  # guards the test above against passing vacuously
    assert "tensorflow" in modules_after(
        "import lenet_edge.toolchain.model as m; m.build_lenet5()", cli_env()
    )
