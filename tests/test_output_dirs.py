"""`train --out DIR`: never delete what lenet-edge did not write; keep the previous model.

Library checks run in-process (no TensorFlow); training runs through the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lenet_edge import bundle
from lenet_edge.errors import OutputError
from lenet_edge.files import output_dirs

TRAIN = ("train", "--dataset", "digits", "--epochs", "1")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes): byte-identical means equal."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def dead_pid() -> int:
    """The id of a process that has exited."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)


def train_with_umask(run_cli, out: Path, umask: int, *args):
    """`lenet-edge train` in a child whose umask is `umask` (set in the child only)."""
    return run_cli(*TRAIN, "--out", out, *args, python=_python_with_umask(out.parent, umask))


def _python_with_umask(folder: Path, umask: int) -> Path:
    wrapper = folder / f"python-umask-{umask:03o}"
    wrapper.write_text(f"#!/bin/sh\numask {umask:03o}\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def test_a_web_app_folder_with_a_manifest_is_refused_and_left_byte_identical(run_cli, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "My app", "start_url": "/index.html"}')
    (web / "index.html").write_text("<!doctype html><title>app</title>")
    (web / "app.js").write_text("console.log('hi')")
    before = snapshot(web)
    proc = run_cli(*TRAIN, "--out", web, check=False)
    assert proc.returncode == 5, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lenet-edge")]
    assert len(lines) == 1 and lines[0].startswith("lenet-edge: error: --out")
    assert "holds no lenet-edge model" in lines[0] and ".lenet-edge" in lines[0]
    assert snapshot(web) == before and sorted(os.listdir(tmp_path)) == ["web"]


def test_a_bundle_from_before_the_marker_is_recognised_by_its_own_record(tmp_path):
    old = tmp_path / "old-model"
    old.mkdir()
    record = {"config": {}, "history": [], "weights": {}, "versions": {"lenet-edge": "0.1.0"}}
    (old / bundle.TRAIN_JSON).write_text(json.dumps(record))
    assert output_dirs.check_replaceable(old, output_dirs.MODEL_DIR) == old

    converted = tmp_path / "old-bundle"
    converted.mkdir()
    manifest = {"schema_version": 1, "artifacts": {}, "tool_versions": {"lenet-edge": "0.1.0"}}
    (converted / bundle.MANIFEST).write_text(json.dumps(manifest))
    assert output_dirs.check_replaceable(converted, output_dirs.MODEL_DIR) == converted

    for name, text in ((bundle.TRAIN_JSON, '{"config": {}, "history": []}'),
                       (bundle.MANIFEST, '{"schema_version": 1, "artifacts": {}}'),
                       (bundle.WEIGHTS, "not ours either"),
                       (bundle.MANIFEST, "[" * 100_000)):
        other = tmp_path / f"other-{name}"
        other.mkdir(exist_ok=True)
        (other / name).write_text(text)
        with pytest.raises(OutputError, match="holds no lenet-edge model"):
            output_dirs.check_replaceable(other, output_dirs.MODEL_DIR)


def test_retraining_keeps_the_previous_model_and_the_users_files(run_cli, tmp_path):
    out = tmp_path / "m"
    train_with_umask(run_cli, out, 0o077)
    assert (out / output_dirs.MARKER).is_file()
    assert out.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == dict.fromkeys(
        os.listdir(out), 0o600)

    (out / "notes.txt").write_text("why I trained this one")
    (out / "photos").mkdir()
    (out / "photos" / "digit.png").write_bytes(b"\x89PNG user data")
    first = snapshot(out)
    stale = tmp_path / f".m.staging-{dead_pid()}-abcdefgh"  # as left by a SIGKILLed run
    stale.mkdir()
    (stale / output_dirs.MARKER).write_text("lenet-edge")
    (stale / bundle.WEIGHTS).write_bytes(b"half-written")
    unknown = tmp_path / ".m.staging-zyxwvuts"  # the naming before process ids: named only
    unknown.mkdir()

    proc = train_with_umask(run_cli, out, 0o022, "--seed", "1")
    previous = tmp_path / "m.previous"
    assert snapshot(previous) == first  # the old model, and the user's files, recoverable
    assert f"the previous model in {out} is kept in {previous}" in proc.stderr
    assert (out / "notes.txt").read_text() == "why I trained this one"
    assert (out / "photos" / "digit.png").read_bytes() == b"\x89PNG user data"
    assert (out / bundle.WEIGHTS).read_bytes() != first[bundle.WEIGHTS]
    assert not stale.exists() and unknown.is_dir() and str(unknown) in proc.stderr
    assert out.stat().st_mode & 0o777 == 0o755
    assert (out / bundle.TRAIN_JSON).stat().st_mode & 0o777 == 0o644
    assert (out / bundle.WEIGHTS).stat().st_mode & 0o777 == 0o644

    # A `.previous` lenet-edge did not write is never replaced: refused before training.
    previous.rename(tmp_path / "kept-elsewhere")
    previous.mkdir()
    (previous / "thesis.tex").write_text("precious")
    proc = run_cli(*TRAIN, "--out", out, check=False)
    assert proc.returncode == 5 and "lenet-edge did not write it" in proc.stderr
    assert snapshot(previous) == {"thesis.tex": b"precious"}

    # Nor one of ours holding a file added later (and not carried over in DIR): named, kept.
    previous.rename(tmp_path / "thesis")
    (tmp_path / "kept-elsewhere").rename(previous)
    (previous / "added-later.txt").write_text("x")
    kept = snapshot(previous)
    proc = run_cli(*TRAIN, "--out", out, check=False)
    assert proc.returncode == 5, proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("lenet-edge")]
    assert "holds files lenet-edge did not write (added-later.txt)" in line
    assert snapshot(previous) == kept


def test_an_emitted_ansible_folder_keeps_the_users_files_and_a_foreign_one_is_refused(tmp_path):
    emitted = tmp_path / "ansible"  # as --emit-ansible wrote it before the marker existed
    emitted.mkdir()
    (emitted / "deploy.yml").write_text("# Generated by `lenet-edge deploy --emit-ansible`: "
                                        "the steps of the SSH deploy.\n- hosts: devices\n")
    (emitted / "group_vars").mkdir()
    (emitted / "group_vars" / "all.yml").write_text("ansible_user: pi\n")
    with output_dirs.replaced_directory(emitted, output_dirs.ANSIBLE_DIR) as staging:
        (staging / "deploy.yml").write_text("# new playbook\n")
    assert (emitted / "deploy.yml").read_text() == "# new playbook\n"
    assert (emitted / "group_vars" / "all.yml").read_text() == "ansible_user: pi\n"
    assert sorted(os.listdir(tmp_path)) == ["ansible"]  # no .previous for a regenerable folder

    playbooks = tmp_path / "playbooks"  # the user's own Ansible project
    playbooks.mkdir()
    (playbooks / "deploy.yml").write_text("- hosts: all\n")
    with pytest.raises(OutputError, match="not written by --emit-ansible"):
        output_dirs.check_replaceable(playbooks, output_dirs.ANSIBLE_DIR)


def write_folder(path: Path, kind, files: dict[str, str]) -> None:
    """Replace `path` as lenet-edge would, with `files` (relative path -> text)."""
    with output_dirs.replaced_directory(path, kind) as staging:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text)


MODEL_FILES = {bundle.TRAIN_JSON: "{}", bundle.MANIFEST: "{}"}
ANSIBLE_FILES = {"deploy.yml": "# playbook\n", "bundle/manifest.json": "{}",
                 "bundle/lenet5_fp32.tflite": "model", "wheels/lenet_edge-0.1.0-py3-none-any.whl":
                 "wheel"}


def test_the_marker_names_the_kind_and_a_folder_of_another_kind_is_refused(tmp_path):
    model, playbooks = tmp_path / "m", tmp_path / "a27"
    write_folder(model, output_dirs.MODEL_DIR, MODEL_FILES)
    write_folder(playbooks, output_dirs.ANSIBLE_DIR, ANSIBLE_FILES)
    assert output_dirs.marker_kind(model) == "model"
    assert output_dirs.marker_kind(playbooks) == "ansible"
    before = snapshot(model)
    with pytest.raises(OutputError, match=r"--emit-ansible .*/m is a lenet-edge model folder "
                                          r"\(\.lenet-edge says 'model'\), not an --emit-ansible"):
        output_dirs.check_replaceable(model, output_dirs.ANSIBLE_DIR)
    with pytest.raises(OutputError, match="is an --emit-ansible folder .* not a lenet-edge model"):
        output_dirs.check_replaceable(playbooks, output_dirs.MODEL_DIR)
    assert snapshot(model) == before

    # The first markers named no kind: the folder's own record decides, as before markers.
    (model / output_dirs.MARKER).write_text("lenet-edge output folder: lenet-edge may replace "
                                            "this folder as a whole; files whose ...\n")
    with pytest.raises(OutputError, match="not written by --emit-ansible"):
        output_dirs.check_replaceable(model, output_dirs.ANSIBLE_DIR)
    (model / bundle.TRAIN_JSON).write_text(json.dumps(
        {"config": {}, "history": [], "weights": {}, "versions": {"lenet-edge": "0.1.0"}}))
    assert output_dirs.check_replaceable(model, output_dirs.MODEL_DIR) == model


def test_user_files_inside_the_subfolders_lenet_edge_writes_are_carried_over(tmp_path):
    playbooks = tmp_path / "a27"
    write_folder(playbooks, output_dirs.ANSIBLE_DIR, ANSIBLE_FILES)
    (playbooks / "notes.txt").write_text("top level")
    (playbooks / "bundle" / "extra.bin").write_bytes(b"\x00user data")
    (playbooks / "wheels" / "my-1.0-py3-none-any.whl").write_bytes(b"my wheel")
    (playbooks / "bundle" / "lenet5_int8.tflite").write_text("a variant no longer emitted")
    notices: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output_dirs, "notify", notices.append)
        write_folder(playbooks, output_dirs.ANSIBLE_DIR, {**ANSIBLE_FILES, "deploy.yml": "# 2\n"})
    assert (playbooks / "deploy.yml").read_text() == "# 2\n"
    assert (playbooks / "notes.txt").read_text() == "top level"
    assert (playbooks / "bundle" / "extra.bin").read_bytes() == b"\x00user data"
    assert (playbooks / "wheels" / "my-1.0-py3-none-any.whl").read_bytes() == b"my wheel"
    assert not (playbooks / "bundle" / "lenet5_int8.tflite").exists()  # ours: not carried
    assert notices == [f"kept in {playbooks} (lenet-edge did not write them): "
                       "bundle/extra.bin, wheels/my-1.0-py3-none-any.whl"]


def test_a_previous_holding_files_lenet_edge_did_not_write_is_refused_not_replaced(tmp_path):
    model = tmp_path / "m"
    write_folder(model, output_dirs.MODEL_DIR, MODEL_FILES)
    (model / "notes.txt").write_text("carried over each time")
    write_folder(model, output_dirs.MODEL_DIR, MODEL_FILES)
    previous = tmp_path / "m.previous"
    (previous / "added-later.txt").write_text("x")
    (previous / "photos").mkdir()
    (previous / "photos" / "digit.png").write_bytes(b"\x89PNG")
    before = snapshot(previous), snapshot(model)
    with pytest.raises(OutputError) as refused:
        write_folder(model, output_dirs.MODEL_DIR, MODEL_FILES)
    message = str(refused.value)
    assert "\n" not in message and "holds files lenet-edge did not write" in message
    assert "(added-later.txt, photos/digit.png)" in message  # notes.txt: m has a copy
    assert (snapshot(previous), snapshot(model)) == before
    assert sorted(os.listdir(tmp_path)) == ["m", "m.previous"]

    (previous / "added-later.txt").unlink()
    (previous / "photos" / "digit.png").unlink()
    write_folder(model, output_dirs.MODEL_DIR, MODEL_FILES)  # only copies and ours: replaced
    assert (previous / "notes.txt").read_text() == "carried over each time"
