"""The format table and the runtime table: one row each, the same surface, no import cycle.

The ONNX describer is checked against the `onnx` package (a toolchain dependency, absent on a
device: skipped there), the TFLite one in test_tflite_model.py against the schema module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from lenet_edge import bundle, formats
from lenet_edge.errors import ModelError
from lenet_edge.runtime.runtimes import RUNTIMES
from lenet_edge.variants import VARIANTS

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too

RUNTIME_DIR = Path(formats.__file__).resolve().parents[1] / "runtime"
BACKENDS = ("lenet_edge.runtime.tflite", "lenet_edge.runtime.onnx")


def test_every_format_module_has_the_shared_surface():
    for spec in formats.FORMATS:
        module = spec.reader()
        assert (spec.name, spec.suffix) == (module.NAME, module.SUFFIX)
        assert all(callable(getattr(module, f)) for f in ("detects", "check", "describe"))


def test_every_variant_file_has_its_formats_suffix():
    for variant in VARIANTS:
        assert variant.file.endswith(formats.get_format(variant.format).suffix)


def test_an_unknown_format_is_a_one_line_model_error_naming_the_file():
    with pytest.raises(ModelError, match=r"^m\.bin: unknown model format 'tfjs'; "
                                         r"expected tflite or onnx$"):
        formats.check_model_bytes(b"\x08" * 32, "tfjs", "m.bin")


def test_every_runtime_row_names_a_runner_for_its_format():
    for spec in RUNTIMES:
        assert spec.runner_class().format == spec.format
        assert spec.format in formats.FORMAT_NAMES


# --- what convert records is what the one describer reads --------------------------------------


@pytest.fixture(scope="module")
def artifacts(digits_bundle) -> dict[str, tuple[dict, bytes]]:
    manifest = bundle.read_manifest(digits_bundle)
    return {name: (entry, bundle.read_verified(digits_bundle, entry))
            for name, entry in manifest["artifacts"].items()}


def test_each_manifest_entry_is_its_files_description(artifacts):
    for name, (entry, data) in artifacts.items():
        described = formats.describe(data, source=name)
        assert described.format == entry["format"]
        assert {key: entry[key] for key in described.as_manifest()} == described.as_manifest()


@pytest.mark.parametrize("variant", ["onnx-fp32", "onnx-int8"])
def test_the_onnx_describer_agrees_with_the_onnx_package(artifacts, variant):
    onnx = pytest.importorskip("onnx")
    helper = pytest.importorskip("onnx.helper")
    np = pytest.importorskip("numpy")
    entry, data = artifacts[variant]
    model = onnx.load_from_string(data)
    ours = formats.describe(data, "onnx")

    def theirs(value):
        kind = value.type.tensor_type
        # An open dimension (dim_param, e.g. tf2onnx's 'unk__6', or nothing) is -1.
        return (value.name, tuple(d.dim_value if d.HasField("dim_value") else -1
                                  for d in kind.shape.dim),
                np.dtype(helper.tensor_dtype_to_np_dtype(kind.elem_type)).name)

    assert [(t.name, t.shape, t.dtype) for t in ours.inputs] == [theirs(v)
                                                                 for v in model.graph.input]
    assert [(t.name, t.shape, t.dtype) for t in ours.outputs] == [theirs(v)
                                                                  for v in model.graph.output]
    assert ours.inputs[0].shape == (-1, 28, 28, 1)  # the batch stays open: any batch size
    default = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert ours.as_manifest()["opset"] == default == entry["opset"]
    assert [op for op, _ in ours.ops] == list(dict.fromkeys(
        n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
        for n in model.graph.node))


# --- no import cycle between the runner and its backends --------------------------------------


def _imports(path: Path) -> set[str]:
    """Every lenet_edge module `path` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name.startswith("lenet_edge")}


def test_the_runner_and_its_tables_import_no_backend_and_backends_not_the_runner():
    for shared in ("runner.py", "runner_types.py", "runtimes.py"):
        assert not _imports(RUNTIME_DIR / shared) & set(BACKENDS), shared
    for backend in ("tflite.py", "onnx.py"):
        assert "lenet_edge.runtime.runner" not in _imports(RUNTIME_DIR / backend), backend


def _run_fresh(code: str, env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_runner_loads_no_backend_until_asked_and_a_backend_no_interpreter(cli_env):
    _run_fresh("import sys\n"
               "import lenet_edge.runtime.runner\n"
               f"assert not {{m for m in sys.modules if m in {BACKENDS!r}}}, 'a backend'\n"
               "import lenet_edge.runtime.tflite, lenet_edge.runtime.onnx\n"
               "assert not {'ai_edge_litert', 'tflite_runtime', 'onnxruntime'} & set(sys.modules)",
               cli_env())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backend_imports_first_in_a_fresh_process(cli_env, backend):
    # With a cycle, importing a backend first fails on a partly initialised runner module.
    _run_fresh(f"import {backend}\nimport lenet_edge.runtime.runner", cli_env())
