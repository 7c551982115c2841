"""Values and paths a user gets wrong, through the CLI: one error line with the right exit code.

Issue 10, items 7 and 9c: bounded benchmark values, non-finite training values, a diverging
run, a seed out of range, unreadable files, control characters in paths, the offline dataset
error, the wrong kind of path, typos and `-h`. None of these needs a trained model except the
diverging run, which trains on digits for a few seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lenet_edge.choices import closest, unknown_choice
from lenet_edge.errors import UsageError
from lenet_edge.runtime.runtimes import RUNTIME_NAMES, check_runtime_name
from lenet_edge.variants import VARIANT_NAMES, get_variant


def error_line(proc) -> str:
    """The one `lenet-edge: error:` line of a failed run (and no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lenet-edge: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fake_bundle(folder: Path) -> Path:
    """A folder that looks like a bundle to someone listing it (no model needs to load)."""
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    for name in ("lenet5_fp32.tflite", "lenet5_int8.tflite", "lenet5_onnx_int8.onnx"):
        (folder / name).write_bytes(b"\0" * 16)
    return folder


# --- 7. values with sane bounds ----------------------------------------------------------


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--runs", str(10**12), "--runs must be at most 1,000,000"),
    ("--warmup", str(10**12), "--warmup must be at most 100,000"),
    ("--min-time", "1e12", "--min-time must be at most 60 seconds"),
    ("--warmup-time", "inf", "--warmup-time must be a number of seconds >= 0, got inf"),
    ("--warmup-time", "3600", "--warmup-time must be at most 10 seconds"),
])
def test_benchmark_refuses_a_run_that_would_never_end(run_cli, tmp_path, option, value, message):
    bundle_dir = fake_bundle(tmp_path / "bundle")
    proc = run_cli("benchmark", bundle_dir, option, value, check=False, timeout=60)
    assert proc.returncode == 2
    assert message in error_line(proc)


# Before: exit 70 inside TensorFlow (2**64), OverflowError (batch 2**64), or days of
# training accepted (10**8 epochs).
TOO_LONG = [
    (["--epochs", str(2**64)], f"epochs must be in 1..10,000, got {2**64}"),
    (["--epochs", "100000000"], "epochs must be in 1..10,000, got 100000000"),
    (["--batch-size", str(2**64)], f"batch size must be in 1..65,536, got {2**64}"),
]


@pytest.mark.parametrize(("args", "message"), [
    (["--learning-rate", "inf"], "learning rate must be > 0 and finite, got inf"),
    (["--learning-rate", "nan"], "learning rate must be > 0 and finite, got nan"),
    (["--weight-decay", "inf"], "weight decay must be >= 0 and finite, got inf"),
    (["--seed", str(2**64)], f"seed must be in 0..{2**32 - 1}, got {2**64}"),
    *TOO_LONG,
])
def test_values_that_break_training_are_refused_before_tensorflow(run_cli, tmp_path, args,
                                                                  message, command="train"):
    out = tmp_path / "model"
    proc = run_cli(command, "--dataset", "digits", *args, "--out", out, check=False, timeout=60)
    assert proc.returncode == 2
    assert message in error_line(proc)
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(("args", "message"), TOO_LONG)
def test_the_pipeline_refuses_a_run_that_would_never_end(run_cli, tmp_path, args, message):
    test_values_that_break_training_are_refused_before_tensorflow(run_cli, tmp_path, args,
                                                                  message, "pipeline")


# Before: ssh refused the value itself, "ssh failed (invalid time value)", exit 7.
@pytest.mark.parametrize("value", [str(2**64), "3601"])
def test_deploy_refuses_a_connect_timeout_over_an_hour(run_cli, tmp_path, value):
    bundle_dir = fake_bundle(tmp_path / "bundle")
    proc = run_cli("deploy", bundle_dir, "pi@127.0.0.1", "--connect-timeout", value,
                   check=False, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"invalid --connect-timeout {value}: 1 to 3600 s" in error_line(proc)


def test_a_diverging_run_exits_1_and_keeps_the_previous_model(run_cli, tmp_path):
    out = tmp_path / "runs[/b]"  # brackets: a name, not rich markup (was a MarkupError, exit 70)
    run_cli("train", "--dataset", "digits", "--epochs", "1", "--out", out)
    before = tree_digest(out)
    siblings = sorted(p.name for p in tmp_path.iterdir())
    # Adam's steps are about the learning rate in size: 1e30 overflows the logits at once.
    proc = run_cli("train", "--dataset", "digits", "--epochs", "2", "--learning-rate", "1e30",
                   "--out", out, "--json", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "training diverged" in error_line(proc)
    assert proc.stdout == ""  # no training record for a model that was not written
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings  # no staging, no .previous


def _no_root_override() -> list[str]:
    """A command prefix under which root's permission override is gone (chmod 000 holds)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: chmod 000 cannot make a file unreadable")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]


@pytest.mark.parametrize("command", ["inspect", "predict"])
def test_an_unreadable_model_file_is_exit_4(cli_env, tmp_path, command):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"\0" * 64)
    model.chmod(0)
    batch = tmp_path / "batch.npy"
    np.save(batch, np.zeros((1, 28, 28), np.uint8))
    args = [str(model)] + ([str(batch)] if command == "predict" else [])
    proc = subprocess.run([*_no_root_override(), sys.executable, "-m", "lenet_edge", command,
                           *args], capture_output=True, text=True, timeout=120, env=cli_env())
    assert proc.returncode == 4, proc.stderr
    line = error_line(proc)
    assert str(model) in line and "Permission denied" in line


@pytest.mark.parametrize("name", ["first\nsecond.tflite", "tab\there.tflite", "esc\x1b[2J.tflite"])
def test_a_path_with_control_characters_stays_on_one_line_with_its_reason(run_cli, tmp_path,
                                                                          name):
    missing = tmp_path / name
    proc = run_cli("inspect", missing, check=False, timeout=60)
    assert proc.returncode == 4
    line = error_line(proc)
    escaped = name.encode("unicode_escape").decode()
    assert escaped in line
    assert line.split(escaped, 1)[1].strip(": "), "the reason after the path is kept"
    assert "\x1b" not in proc.stderr


# --- 9c. rough edges -----------------------------------------------------------------------


def test_offline_default_dataset_names_the_offline_choices(run_cli, tmp_path):
    proc = run_cli("train", "--out", tmp_path / "model", check=False, timeout=120,
                   env={"KERAS_HOME": str(tmp_path / "keras"), "LENET_EDGE_OFFLINE": "1"})
    if proc.returncode == 0:
        pytest.skip("MNIST is installed locally here")
    assert proc.returncode == 3
    line = error_line(proc)
    assert "--dataset digits" in line and "--data-dir" in line
    assert "fashion-mnist" in line  # installed (named with its folder) or how to install it


def test_dataset_help_says_only_digits_is_built_in(run_cli):
    proc = run_cli("train", "--help", env={"COLUMNS": "300"})
    text = " ".join(proc.stdout.replace("│", " ").split())
    assert "digits: built in" in text
    assert "mnist, fashion-mnist: a local copy, else downloaded" in text


@pytest.mark.parametrize("args", [["-h"], ["train", "-h"], ["benchmark", "-h"], ["deploy", "-h"]])
def test_dash_h_is_help(run_cli, args):
    proc = run_cli(*args, timeout=60)
    assert "Usage:" in proc.stdout


def test_convert_on_a_model_file_says_it_wants_the_model_directory(run_cli, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "train.json").write_text("{}")
    model = model_dir / "lenet5_int8.tflite"
    model.write_bytes(b"\0" * 64)
    proc = run_cli("convert", model, check=False, timeout=60)
    assert proc.returncode == 4
    line = error_line(proc)
    assert "expected a model directory" in line and "got a file" in line
    assert f"lenet-edge convert {model_dir}" in line
    assert "no such model directory" not in line


def test_a_path_that_looks_like_markup_is_printed_as_typed(run_cli, tmp_path):
    proc = run_cli("convert", tmp_path / "x[/b]", check=False, timeout=60)
    assert proc.returncode == 4
    assert "x[/b]: no such model directory" in error_line(proc)


def test_inspect_on_a_bundle_folder_names_a_file_to_inspect(run_cli, tmp_path):
    bundle_dir = fake_bundle(tmp_path / "bundle")
    proc = run_cli("inspect", bundle_dir, check=False, timeout=60)
    assert proc.returncode == 4
    line = error_line(proc)
    assert f"lenet-edge inspect {bundle_dir / 'lenet5_int8.tflite'}" in line
    assert "lenet5_onnx_int8.onnx" in line and "Is a directory" not in line


@pytest.mark.parametrize(("args", "suggestion"), [
    (["train", "--dataset", "fashion_mnist"], "did you mean 'fashion-mnist'?"),
    (["train", "--activation", "ReLU"], "did you mean 'relu'?"),
    (["pipeline", "--variant", "INT8"], "did you mean 'int8'?"),
    (["pipeline", "--variant", "onnx_int8"], "did you mean 'onnx-int8'?"),
    (["pipeline", "--runtime", "LiteRT"], "did you mean 'litert'?"),
])
def test_a_typo_gets_a_suggestion_and_still_fails(run_cli, tmp_path, args, suggestion):
    out = tmp_path / "model"
    proc = run_cli(*args, "--out", out, check=False, timeout=60)
    assert proc.returncode == 2
    assert suggestion in error_line(proc)
    assert not out.exists()  # never silently corrected and run


VARIANTS = ", ".join(VARIANT_NAMES)


# Refused while the options are parsed: the bundle path does not exist, so an error from the
# command's body would be exit 4 about the bundle, not exit 2 about the name.
@pytest.mark.parametrize(("args", "message"), [
    (["verify", "B", "--runtime", "onnx"], "unknown runtime 'onnx'; did you mean "
     "'onnxruntime'? choose from auto, litert, tflite-runtime, onnxruntime"),
    (["verify", "B", "--variant", "int4"], f"unknown variant 'int4'; choose from {VARIANTS}"),
    (["benchmark", "B", "-v", "fp32", "-v", "INT8"], "unknown variant 'INT8'; did you mean "
     f"'int8'? choose from {VARIANTS}"),
    (["predict", "B", "x.png", "--runtime", "tflite"], "unknown runtime 'tflite'; did you "
     "mean 'tflite-runtime'? choose from auto, litert, tflite-runtime, onnxruntime"),
    (["report", "B", "--prefer", "fastest"],
     "unknown preference 'fastest'; choose from size, latency"),
    (["pipeline", "--dataset", "fashion_mnist", "--out", "B"], "unknown dataset "
     "'fashion_mnist'; did you mean 'fashion-mnist'? choose from mnist, fashion-mnist, digits"),
    (["convert", "B", "--variant", "onnx_int8"], "unknown variant 'onnx_int8'; did you mean "
     f"'onnx-int8'? choose from {VARIANTS}"),
    (["deploy", "B", "pi", "--runtime", "LiteRT"], "unknown runtime 'LiteRT'; did you mean "
     "'litert'? choose from auto, litert, tflite-runtime, onnxruntime"),
])
def test_a_name_off_the_catalogue_is_one_line_exit_2_before_anything_runs(run_cli, tmp_path,
                                                                          args, message):
    args = [str(tmp_path / "missing") if a == "B" else a for a in args]
    proc = run_cli(*args, check=False, timeout=60, env={"COLUMNS": "80"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"lenet-edge: error: {message}"]  # longer than 80
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("command", ["verify", "benchmark", "deploy"])
def test_help_lists_the_catalogues_names_at_80_columns(run_cli, command):
    proc = run_cli(command, "--help", env={"COLUMNS": "80"})
    assert max(map(len, proc.stdout.splitlines())) <= 80
    text = " ".join(proc.stdout.replace("│", " ").split())
    assert f"{', '.join(VARIANT_NAMES[:-1])} or {VARIANT_NAMES[-1]}" in text
    assert f"{', '.join(('auto', *RUNTIME_NAMES[:-1]))} or {RUNTIME_NAMES[-1]}" in text


def test_suggestions_are_only_for_likely_typos():
    with pytest.raises(UsageError, match=r"unknown variant 'int4'; choose from fp32"):
        get_variant("int4")  # a different thing, not a typo of int8
    with pytest.raises(UsageError, match=r"'onnx_int8'; did you mean 'onnx-int8'\? choose"):
        get_variant("onnx_int8")
    with pytest.raises(UsageError, match=r"did you mean 'litert'\?"):
        check_runtime_name("LiteRT")
    assert closest("tensorrt", ("auto", "litert", "tflite-runtime", "onnxruntime")) is None
    # A clipped name is suggested only when it starts exactly one choice.
    assert closest("onnx", ("auto", "litert", "tflite-runtime", "onnxruntime")) == "onnxruntime"
    assert closest("onnx", ("fp32", "onnx-fp32", "onnx-int8")) is None
    assert "did you mean" not in str(unknown_choice("dataset", ["mnist"], ("mnist",)))


# Before: "MODEL: not a file" (exit 3), as if the bundle were a broken picture.
@pytest.mark.parametrize("model_kind", ["bundle", "tflite"])
def test_predict_with_swapped_arguments_says_the_model_comes_first(run_cli, tmp_path,
                                                                   model_kind):
    import numpy as np

    model = fake_bundle(tmp_path / "m")
    if model_kind == "tflite":
        model = model / "lenet5_fp32.tflite"
        model.write_bytes(b"TFL3")
    images = tmp_path / "x.npy"
    np.save(images, np.zeros((28, 28), np.uint8))
    proc = run_cli("predict", images, model, check=False, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert error_line(proc).endswith(
        f"{model} is a model, given as an image: the first argument is the model (a bundle "
        f"folder or a .tflite / .onnx file), the rest are images (the first given was {images})")
