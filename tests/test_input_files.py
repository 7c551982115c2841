"""The one bounded reader (input_files.py), the type checks (schema.py), and a grep that keeps
every input read going through them."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest

from lenet_edge import schema
from lenet_edge.errors import DataError, ModelError, OutputError, UsageError
from lenet_edge.files import input_files

PACKAGE = Path(__file__).resolve().parents[1] / "lenet_edge"


def read_promptly(function, *args, **kwargs):
    """Call `function` in a daemon thread; a call still blocked after 10 s fails the test."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), f"{function.__name__} blocked for 10 s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)  # no writer: open() without O_NONBLOCK would block forever
    return path


@pytest.mark.parametrize("read", [input_files.read_bytes, input_files.read_text,
                                  input_files.read_json])
def test_a_fifo_is_refused_without_blocking(fifo, read):
    with pytest.raises(ModelError, match=r"pipe\.json: a FIFO \(named pipe\), not a JSON"):
        read_promptly(read, fifo, input_files.RESULTS)


def test_a_symlink_to_dev_zero_is_refused_before_reading(tmp_path):
    link = tmp_path / "model.tflite"
    link.symlink_to("/dev/zero")
    with pytest.raises(ModelError, match="model.tflite: a character device, not a model file"):
        read_promptly(input_files.read_bytes, link, input_files.MODEL)


def test_a_directory_is_refused_naming_what_was_expected(tmp_path):
    with pytest.raises(UsageError, match="a directory, not a hosts file"):
        input_files.read_text(tmp_path, input_files.HOSTS)


def test_a_missing_file_says_it_cannot_be_read(tmp_path):
    with pytest.raises(DataError, match=r"absent: cannot read \(No such file or directory\)"):
        input_files.read_bytes(tmp_path / "absent", input_files.DATASET)
    assert input_files.read_json(tmp_path / "absent", input_files.RESULTS, missing_ok=True) is None


def test_a_file_over_its_kinds_limit_is_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2048)
    small = input_files.InputKind("a small file", 1024)
    with pytest.raises(ModelError, match="big.json: more than 1 KiB; too large for a small file"):
        input_files.read_bytes(path, small)
    with pytest.raises(ModelError, match="too large"), input_files.open_input(path, small):
        pass


def test_the_error_class_and_name_can_be_the_callers(tmp_path):
    path = tmp_path / "base.json"
    path.write_text("{")
    with pytest.raises(UsageError, match=r"^--compare .*base.json: not valid JSON"):
        input_files.read_json(path, input_files.RESULTS, name=f"--compare {path}",
                              error=UsageError)


def test_undecodable_text_names_the_file(tmp_path):
    path = tmp_path / "hosts"
    path.write_bytes(b"pi@\xff\xfe")
    with pytest.raises(UsageError, match="hosts: not UTF-8 text"):
        input_files.read_text(path, input_files.HOSTS)


@pytest.mark.parametrize("depth", [input_files.MAX_JSON_DEPTH + 1, 100_000])
def test_deep_json_is_an_error_not_a_recursion_error(depth):
    with pytest.raises(ModelError, match="nested deeper than 64 levels"):
        input_files.parse_json("[" * depth + "]" * depth, "deep.json")


def test_json_at_the_depth_limit_and_brackets_in_strings_parse():
    limit = input_files.MAX_JSON_DEPTH
    value, depth = input_files.parse_json("[" * limit + "]" * limit, "x"), 0
    while isinstance(value, list):
        value, depth = (value[0] if value else None), depth + 1
    assert depth == limit
    text = json.dumps({"s": "[[[[" * 100 + '"\\'})  # brackets and escapes inside a string
    assert input_files.parse_json(text, "x") == json.loads(text)


@pytest.mark.parametrize(("text", "message"), [
    ("[NaN]", "NaN is not a JSON number"), ('{"a": Infinity}', "Infinity is not a JSON number"),
    ("-Infinity", "-Infinity is not a JSON number"), ("[1e999]", "1e999 is too large"),
])
def test_json_numbers_no_float_holds_are_refused(text, message):
    with pytest.raises(ModelError, match=f"x.json: not valid JSON \\({message}"):
        input_files.parse_json(text, "x.json")


def test_strict_json_refuses_nan_with_an_output_error():
    assert schema.strict_json({"a": 1.5}, "--json") == '{\n  "a": 1.5\n}'
    with pytest.raises(OutputError, match="--json: cannot write a value that is NaN"):
        schema.strict_json({"logits": [float("nan")]}, "--json")


@pytest.mark.parametrize(("value", "kind", "ok"), [
    (1, float, True), (1.5, float, True), (10**400, float, True), (float("inf"), float, False),
    (True, float, False), (True, int, False), ("1", int, False), ([], dict, False),
])
def test_schema_field_types(value, kind, ok):
    if ok:
        assert schema.field({"k": value}, "k", kind) == value
    else:
        with pytest.raises(schema.Invalid, match="k must be"):
            schema.field({"k": value}, "k", kind)


def test_the_image_limit_is_image_files_limit():
    from lenet_edge.data import image_files

    assert input_files.IMAGE.max_bytes == image_files.MAX_FILE_BYTES


# --- the grep: one reading helper ----------------------------------------------------------

# Calls that read a file (or parse JSON) by themselves. A line that calls input_files is fine.
STRAY_READ = re.compile(r"json\.loads?\(|\.read_text\(|\.read_bytes\(|(?<![\w.])open\(|"
                        r"\bos\.open\(|\b(?:np|numpy)\.(?:load|loadtxt|fromfile|memmap)\(|"
                        r"\bImage\.open\(|\btarfile\.open\(|\.load_weights\(|h5py\.File\(")
# (file, text on the line, why it is not an input read through input_files)
ALLOWED = [
    ("files/input_files.py", "", "the reader itself"),
    ("files/output_files.py", "open(", "writes outputs; /proc/self/status for the umask"),
    ("stderr.py", "os.open(os.devnull", "/dev/null as a write target for native stderr"),
    ("cli/stdout.py", "os.open(os.devnull", "/dev/null holds fd 1 when stdout is closed"),
    ("runtime/machine.py", "path.read_text()", "/proc and /sys: the kernel's files, tiny"),
    ("runtime/cold_start.py", "json.loads(proc.stdout", "a child process's answer, not a file"),
    ("runtime/inspect.py", "json.loads(lines[-1])", "the probe child's answer, not a file"),
    ("pipeline/launch.py", "json.loads(line)", "events from the pipeline's own child"),
    ("pipeline/worker.py", "json.load(sys.stdin)", "the request the pipeline sends its child"),
    ("deploy/ssh.py", "self.open()", "the SSH master connection, not a file"),
    ("deploy/ssh.py", "def open(self)", "the SSH master connection, not a file"),
    ("deploy/ssh.py", "open(log, \"wb\")", "a log file lenet-edge creates for ssh's stderr"),
    ("deploy/ssh.py", "log.read_bytes()", "that log, in lenet-edge's own temporary folder"),
    ("deploy/wheel.py", "dist.read_text(", "installed package metadata (importlib)"),
    ("deploy/wheel.py", "path.read_bytes()", "lenet-edge's own source files, for its wheel"),
    ("deploy/device_bundle.py", "tarfile.open(fileobj=buf", "writes a tar in memory"),
    ("deploy/device_venv.py", "tarfile.open(fileobj=buf", "writes a tar in memory"),
    ("data/digits.py", "np.loadtxt(table_file", "scikit-learn's packaged digits.csv.gz"),
    ("toolchain/onnx.py", "quantized.read_bytes()", "onnxruntime's output in our temp folder"),
    ("toolchain/onnx.py", "prepared.read_bytes()", "quant_pre_process's output in our temp folder"),
    ("toolchain/foreign_model.py", "h5py.File(io.BytesIO(data)", "bytes input_files read"),
    ("toolchain/model.py", "model.load_weights(weights)",
     "after sha256_file read it through input_files and matched train.json"),
    ("data/image_files.py", "np.load(io.BytesIO(data)", "bytes input_files read"),
    ("data/image_files.py", "Image.open(io.BytesIO(data)", "bytes input_files read"),
    ("files/npz_files.py", "np.load(source", "a handle input_files opened, or its bytes; sizes "
     "declared in the archive are checked first"),
    ("files/npz_files.py", '"""np.load(source)', "the docstring that says so"),
]


def stray_reads() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith(("'", '"')) else line
            if not STRAY_READ.search(code) or "input_files." in code:
                continue
            if not any(name == file and text in line for file, text, _ in ALLOWED):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_every_input_file_is_read_through_input_files():
    """A grep finds one reading helper: any other read of a file is listed here with a reason."""
    assert stray_reads() == [], ("read input files with lenet_edge.files.input_files (or add the "
                                 "line to ALLOWED with why it is not an input)")


def test_the_grep_finds_a_stray_read(tmp_path, monkeypatch):
    """The grep itself works: a plain json.load of a file is found."""
    fake = tmp_path / "lenet_edge"
    fake.mkdir()
    (fake / "results.py").write_text("data = json.loads(path.read_text())\n"
                                     "ok = input_files.read_json(path, input_files.RESULTS)\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    assert stray_reads() == ["results.py:1: data = json.loads(path.read_text())"]


def test_every_allowed_line_still_exists():
    """An exception that no longer matches anything is removed, not left to excuse a new read."""
    sources = {path.relative_to(PACKAGE).as_posix(): path.read_text()
               for path in PACKAGE.rglob("*.py")}
    stale = [(file, text) for file, text, _ in ALLOWED if text not in sources.get(file, "")]
    assert stale == []
