"""The bundle contract: malformed manifests are refused with exit 4, never a crash."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lenet_edge import bundle
from lenet_edge.cli import app

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too


def edit_manifest(bundle_dir, change) -> None:
    path = bundle_dir / bundle.MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["artifacts"].__setitem__("fp32", ["not", "an", "object"]),
         "must be an object"),
        (lambda m: m["artifacts"]["fp32"].__setitem__("file", 5), "is not a file name"),
        (lambda m: m["artifacts"]["fp32"].__setitem__("file", "../../etc/passwd"),
         "is not a file name"),
        (lambda m: m["artifacts"]["fp32"].__setitem__("sha256", "abc"), "not 64 hex digits"),
        (lambda m: m["artifacts"]["fp32"].pop("format"), "lacks format"),
        (lambda m: m["reference"].pop("file"), "reference lacks file"),
        (lambda m: m.__setitem__("schema_version", 99), "schema_version 99"),
    ],
)
def test_malformed_manifest_is_refused_with_exit_4(fresh_bundle, change, message):
    edit_manifest(fresh_bundle, change)
    result = CliRunner().invoke(app, ["verify", str(fresh_bundle), "--variant", "fp32"])
    assert result.exit_code == 4, result.output
    assert message in result.output


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), bundle.atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left
