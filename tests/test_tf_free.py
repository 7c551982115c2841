"""The runtime half and the CLI's help never import TensorFlow (checked in a fresh process)."""

from __future__ import annotations

import subprocess
import sys

COMMANDS = ("pipeline", "train", "convert", "verify", "explain", "benchmark", "inspect", "predict",
            "report", "deploy")


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


# What start-up on a device must not pay for (issue 11): the toolchain and numpy (--help
# loaded both through the train command's defaults), email.parser (a runtime's version read
# from its METADATA in verify), xml.etree (verify's JUnit writer, unasked), and what a command
# does not use: interpreters, the report's renderers.
NOT_AT_START = {"tensorflow", "keras", "numpy", "lenet_edge.toolchain", "matplotlib", "jinja2",
                "onnx", "onnxruntime", "ai_edge_litert", "tflite_runtime", "xml.etree",
                "email.parser"}


def modules_after_cli(args: list[str], env: dict[str, str]) -> set[str]:
    """sys.modules after `lenet-edge ARGS` ran to its end in a fresh process (exit 0)."""
    probe = "\n".join([
        "import sys", f"sys.argv = ['lenet-edge', *{args!r}]",
        "from lenet_edge.cli import main",
        "try:", "    main()", "except SystemExit as exc:", "    assert not exc.code, exc.code",
        "print('MODULES', ' '.join(sorted(sys.modules)), file=sys.stderr)",
    ])
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stderr.splitlines()[-1].split()[1:])


def test_import_help_and_version_load_only_what_they_use(cli_env):
    assert not NOT_AT_START & modules_after("import lenet_edge.cli", cli_env())
    help_loaded = modules_after_cli(["--help"], cli_env())
    assert "rich" in help_loaded  # typer's help is drawn by rich: the probe sees imports
    assert not NOT_AT_START & help_loaded
    version_loaded = modules_after_cli(["--version"], cli_env())
    assert not (NOT_AT_START | {"rich"}) & version_loaded


def test_verify_of_one_variant_loads_one_interpreter(cli_env, digits_bundle):
    loaded = modules_after_cli(["verify", str(digits_bundle), "--variant", "fp32",
                                "--runtime", "litert", "--no-save"], cli_env())
    assert {"numpy", "ai_edge_litert"} <= loaded
    assert not (NOT_AT_START - {"numpy", "ai_edge_litert"}) & loaded
