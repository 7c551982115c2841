"""Hostile input files, through the CLI as a user runs it: each is one error line with the
documented exit code, never a Traceback (exit 70), a hang or a MemoryError.

Before input_files.py and the checks on read, each case here was exit 70 (RecursionError,
TypeError, ValueError), a read of /dev/zero until memory ran out, a FIFO that blocked
forever, or exit 0 with invalid JSON (a bare NaN) or a label of -1 taken as a class.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from bundle_tampering import replace_reference

from lenet_edge import bundle

USAGE, MODEL = 2, 4  # lenet_edge.errors: UsageError, ModelError
TIMEOUT = 120  # seconds: a FIFO or /dev/zero that is read at all never gets back this soon
DEEP_JSON = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads before


def assert_refused(proc, code: int, *fragments: str) -> None:
    """Exit `code`, no Traceback, and exactly one `lenet-edge: error:` line holding `fragments`."""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == code, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("lenet-edge: error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def bundle_dir(fresh_bundle) -> Path:
    """A private copy of the converted digits bundle (conftest's fresh_bundle)."""
    return fresh_bundle


# --- JSON nested 100,000 deep -------------------------------------------------------------


@pytest.mark.parametrize(("name", "command"), [
    ("manifest.json", ("verify", "{b}", "--variant", "fp32")),
    ("train.json", ("report", "{b}")),
    ("verify.json", ("report", "{b}")),
    ("benchmark.json", ("report", "{b}")),
    ("device-pi-verify.json", ("report", "{b}")),
])
def test_deep_json_in_a_bundle_file_is_exit_4(bundle_dir, run_cli, name, command):
    (bundle_dir / name).write_text(DEEP_JSON)
    proc = run_cli(*(arg.format(b=bundle_dir) for arg in command), check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, str(bundle_dir / name), "nested deeper than 64 levels")


def test_deep_json_as_the_compare_baseline_is_exit_2(digits_bundle, tmp_path, run_cli):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(DEEP_JSON)
    proc = run_cli("benchmark", digits_bundle, "--variant", "fp32", "--runs", "5",
                   "--compare", baseline, check=False, timeout=TIMEOUT)
    assert_refused(proc, USAGE, f"--compare {baseline}", "nested deeper than 64 levels")


# --- devices, FIFOs and directories where a file belongs -----------------------------------


def test_an_artifact_that_is_a_symlink_to_dev_zero_is_exit_4(bundle_dir, run_cli):
    artifact = bundle_dir / "lenet5_fp32.tflite"
    artifact.unlink()
    artifact.symlink_to("/dev/zero")
    proc = run_cli("verify", bundle_dir, "--variant", "fp32", check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, str(artifact), "a character device, not a model file")


@pytest.mark.parametrize("target", ["/dev/zero", "symlink", "fifo"])
def test_an_inspect_target_that_is_not_a_regular_file_is_exit_4(tmp_path, run_cli, target):
    path = Path(target) if target.startswith("/") else tmp_path / "model.tflite"
    if target == "symlink":
        path.symlink_to("/dev/zero")
    elif target == "fifo":
        os.mkfifo(path)
    proc = run_cli("inspect", path, check=False, timeout=TIMEOUT)
    kind = "a FIFO (named pipe)" if target == "fifo" else "a character device"
    assert_refused(proc, MODEL, f"{path}: {kind}, not a model file")


def test_a_reference_that_is_a_fifo_is_exit_4(bundle_dir, run_cli):
    reference = bundle_dir / "reference.npz"
    reference.unlink()
    os.mkfifo(reference)
    proc = run_cli("verify", bundle_dir, "--variant", "fp32", check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, f"{reference}: a FIFO (named pipe), not a reference archive")


def test_a_hosts_file_that_is_a_fifo_is_exit_2(digits_bundle, tmp_path, run_cli):
    hosts = tmp_path / "hosts"
    os.mkfifo(hosts)
    proc = run_cli("deploy", digits_bundle, "--hosts", hosts, check=False, timeout=TIMEOUT)
    assert_refused(proc, USAGE, f"hosts file {hosts}: a FIFO (named pipe), not a hosts file")


# --- fields of the wrong type ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "change", "message"), [
    ("manifest.json", lambda m: m.__setitem__("float_test_accuracy", "0.99"),
     "float_test_accuracy must be a number, got str '0.99'"),
    ("manifest.json", lambda m: m.__setitem__("dataset", "digits"),
     "dataset must be an object, got str 'digits'"),
    ("manifest.json", lambda m: m.__setitem__("tool_versions", ["tensorflow 2.19"]),
     "tool_versions must be an object, got list"),
    ("manifest.json", lambda m: m["tool_versions"].__setitem__("numpy", 2),
     "tool_versions.numpy must be a string, got int 2"),
    ("train.json", lambda t: t.__setitem__("history", "10 epochs"),
     "history must be a list, got str '10 epochs'"),
    ("train.json", lambda t: t["history"][0].__setitem__("loss", "low"),
     "history[0].loss must be a number, got str 'low'"),
    ("train.json", lambda t: t["history"].__setitem__(0, [1, 0.5]),
     "history[0] must be an object, got list"),
    ("train.json", lambda t: t["history"][-1].pop("accuracy"),
     "accuracy is missing"),
    ("train.json", lambda t: t.pop("config"), "config is missing"),
])
def test_the_report_refuses_a_field_of_the_wrong_type(bundle_dir, run_cli, name, change,
                                                      message):
    edit_json(bundle_dir / name, change)
    proc = run_cli("report", bundle_dir, check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, str(bundle_dir / name), message)
    assert not (bundle_dir / "report.html").exists()  # nothing misleading is written


def test_convert_refuses_num_train_that_is_not_a_number(digits_model, tmp_path, run_cli):
    model = Path(shutil.copytree(digits_model, tmp_path / "model"))
    edit_json(model / "train.json", lambda t: t["dataset"].__setitem__("num_train", "many"))
    proc = run_cli("convert", model, check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, f"{model / 'train.json'}",
                   "dataset.num_train must be an integer, got str 'many'")


def test_a_reference_label_of_minus_one_is_exit_4(bundle_dir, run_cli):
    labels = np.load(bundle_dir / "reference.npz")["labels"].astype(np.int64)
    labels[3] = -1
    replace_reference(bundle_dir, labels=labels)
    proc = run_cli("verify", bundle_dir, "--variant", "fp32", check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, "reference.npz: labels must be", "integers in 0..9")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_reference_logits_are_exit_4_not_invalid_json(bundle_dir, run_cli, value):
    logits = np.load(bundle_dir / "reference.npz")["logits"].copy()
    logits[0, 0] = value
    replace_reference(bundle_dir, logits=logits)
    proc = run_cli("verify", bundle_dir, "--variant", "fp32", "--json", "-", check=False,
                   timeout=TIMEOUT)
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout
    assert_refused(proc, MODEL, "reference.npz: logits hold NaN or infinite values")


def test_the_unchanged_bundle_still_reports(bundle_dir, run_cli):
    """The checks refuse what is wrong, not what convert writes."""
    run_cli("verify", bundle_dir, "--variant", "fp32", "--json", bundle_dir / "verify.json",
            timeout=TIMEOUT)
    proc = run_cli("report", bundle_dir, timeout=TIMEOUT)
    assert proc.returncode == 0 and bundle.read_manifest(bundle_dir)


# --- benchmark.json's thread schedule, recommendations and policy ---------------------------


@pytest.fixture(scope="module")
def benchmarked(digits_bundle, tmp_path_factory, run_cli) -> Path:
    """The digits bundle with a quick verify.json and benchmark.json (read-only: copy it)."""
    out = Path(shutil.copytree(digits_bundle, tmp_path_factory.mktemp("benchmarked") / "b"))
    run_cli("verify", out, "--variant", "int8", "--limit", "40", "--save", timeout=TIMEOUT)
    run_cli("benchmark", out, "--variant", "int8", "--runs", "20", "--min-time", "0.01",
            "--warmup", "2", "--warmup-time", "0", "--batch", "4", "--no-cold-start",
            "--save", timeout=TIMEOUT)
    run_cli("report", out, timeout=TIMEOUT)  # the checks refuse only what is wrong
    for name in ("report.html", "report.md"):
        (out / name).unlink()
    return out


# Before: each was exit 70 in the report (a TypeError or AttributeError), or, for the policy,
# "At least a calls" on the page.
@pytest.mark.parametrize(("change", "message"), [
    ({"recommendations": [{"variant": 7}]}, "recommendations[0].variant must be a string"),
    ({"recommendations": "abc"}, "recommendations must be a list, got str 'abc'"),
    ({"recommendations": [7]}, "recommendations[0] must be an object, got int 7"),
    ({"schedule": "zzz"}, "schedule must be an object, got str 'zzz'"),
    ({"schedule": {"threads": ["2"]}}, "schedule.threads holds '2'"),
    ({"policy": {"runs": "a"}}, "policy.runs must be an integer, got str 'a'"),
    ({"policy": {"min_time": -1}}, "policy.min_time must be at least 0, got -1"),
])
def test_the_report_refuses_a_wrong_benchmark_schedule_or_policy(benchmarked, tmp_path,
                                                                 run_cli, change, message):
    bundle_dir = Path(shutil.copytree(benchmarked, tmp_path / "b"))
    edit_json(bundle_dir / "benchmark.json", lambda b: b.update(change))
    proc = run_cli("report", bundle_dir, check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, str(bundle_dir / "benchmark.json"), message)
    assert not (bundle_dir / "report.html").exists()


# --- deflate bombs: sizes checked from the zip directory and .npy headers before inflating ---


def _bomb(path: Path, rows: int, zeros: int) -> None:
    """An .npz whose images.npy declares (rows, 28, 28) uint8 and holds `zeros` bytes."""
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (rows, 28, 28)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("images.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            block = bytes(1 << 20)
            for _ in range(zeros >> 20):
                member.write(block)
        for name, array in (("labels", np.zeros(rows, np.uint8)),
                            ("logits", np.zeros((1, 10), np.float32))):
            buf = io.BytesIO()
            np.save(buf, array[:1])
            archive.writestr(f"{name}.npy", buf.getvalue())


def _vouch_for(bundle_dir: Path) -> None:
    manifest = bundle.read_manifest(bundle_dir)
    manifest["reference"].update(bundle.file_entry(bundle_dir / "reference.npz"))
    bundle.write_json(bundle_dir / bundle.MANIFEST, manifest)


# Before: verify inflated 1.59 GB (the header's shape) before the shape check refused it.
def test_a_reference_whose_header_declares_a_huge_array_is_refused_before_inflating(
        bundle_dir, run_cli):
    _bomb(bundle_dir / "reference.npz", 2_000_000, 1 << 20)
    _vouch_for(bundle_dir)
    proc = run_cli("verify", bundle_dir, "--variant", "fp32", check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, "reference.npz [images.npy]: declares a uint8 array of shape "
                   "(2000000, 28, 28) (1,568,000,000 bytes)", "refused before inflating")


def test_a_reference_whose_zip_declares_too_much_is_refused_before_inflating(tmp_path):
    from lenet_edge.errors import ModelError
    from lenet_edge.files.npz_files import load_npz

    path = tmp_path / "reference.npz"
    _bomb(path, 10, 300 << 20)  # 300 MiB of zeros behind a 10-image header: < 2 MiB on disk
    assert path.stat().st_size < 2 << 20
    with path.open("rb") as handle, pytest.raises(
            ModelError, match=r"declare more than 268,435,456 bytes uncompressed "
                              r"\(images.npy: 314,572,928\); refused before inflating"):
        load_npz(handle, str(path), 256 << 20, ModelError)


def test_a_dataset_npz_whose_header_declares_a_huge_array_is_refused(tmp_path):
    from lenet_edge.data import datasets as data
    from lenet_edge.errors import DataError

    path = tmp_path / "mnist.npz"
    _bomb(path, 3_000_000, 1 << 20)  # 2.35 GB declared: over the 2 GiB a dataset may hold
    with pytest.raises(DataError, match=r"mnist.npz \[images.npy\]: declares a uint8 array "
                                        r"of shape \(3000000, 28, 28\)"):
        data._read_npz(path)


# --- a manifest.json that is not a file -----------------------------------------------------


# Before: each was "no manifest; run 'lenet-edge convert' first", although one is there.
@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "a FIFO (named pipe), not a JSON manifest"),
    ("dev-zero", "a character device, not a JSON manifest"),
    ("directory", "a directory, not a JSON manifest"),
    ("loop", "cannot read (Too many levels of symbolic links)"),
])
def test_a_manifest_that_is_not_a_file_says_what_it_is(bundle_dir, run_cli, kind, message):
    manifest = bundle_dir / "manifest.json"
    manifest.unlink()
    if kind == "fifo":
        os.mkfifo(manifest)
    elif kind == "dev-zero":
        manifest.symlink_to("/dev/zero")
    elif kind == "directory":
        manifest.mkdir()
    else:
        manifest.symlink_to(manifest)
    proc = run_cli("verify", bundle_dir, "--variant", "fp32", check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, f"{manifest}: {message}")
    assert "no manifest" not in proc.stderr


def test_a_bundle_without_a_manifest_still_says_to_convert(bundle_dir, run_cli):
    (bundle_dir / "manifest.json").unlink()
    proc = run_cli("verify", bundle_dir, "--variant", "fp32", check=False, timeout=TIMEOUT)
    assert_refused(proc, MODEL, "no manifest; run 'lenet-edge convert")


# Before: "--json and --junit both write /dev/null" (exit 2): a device takes any number.
def test_several_outputs_to_dev_null_are_not_the_same_file(digits_bundle, run_cli):
    proc = run_cli("verify", digits_bundle, "--variant", "fp32", "--limit", "40", "--no-save",
                   "--json", "/dev/null", "--junit", "/dev/null", "--markdown", "/dev/null",
                   check=False, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "both write" not in proc.stderr


# Before: matplotlib's "UserWarning: Glyph 27 (\x1b) missing from font(s)" on stderr, quoting
# the escape; the "recommended" line printed it raw.
def test_the_report_keeps_bundle_text_and_plotting_warnings_off_the_terminal(
        benchmarked, tmp_path, run_cli):
    bundle_dir = Path(shutil.copytree(benchmarked, tmp_path / "b"))
    runtime = "lite\x1b[2J\u4e2drt"
    for name in ("verify.json", "benchmark.json"):
        edit_json(bundle_dir / name,
                  lambda d: [row.__setitem__("runtime", runtime) for row in d["results"]])
    proc = run_cli("report", bundle_dir, timeout=TIMEOUT)
    assert "\x1b" not in proc.stdout + proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    assert "lite\\x1b[2J\u4e2drt" in proc.stdout  # escaped, as error messages are
