"""Nothing on the device that lenet-edge did not write is ever deleted: a foreign --remote-dir
is refused, prune keeps the user's files, an earlier version's deploy is adopted, and
--remote-dir values that could reach outside a directory of its own never connect."""

from __future__ import annotations

import json

import pytest
from synthetic_bundle import current_release, make_synthetic_bundle

from lenet_edge import bundle
from lenet_edge.deploy.remote_dir import MARKER, RELEASE_ID

pytestmark = pytest.mark.ssh

USER_FILES = {"releases/v1.0-firmware.bin": b"\x7fELF firmware v1.0\n",
              "results/field-test-2026.csv": b"site,reading\nnorth,0.93\n",
              "notes.txt": b"my notes\n"}


def deploy_cli(run_cli, model, remote_dir, ssh_args, device_python, *extra, check=True):
    return run_cli("deploy", model, "127.0.0.1", *ssh_args, "--remote-dir", remote_dir,
                   "--remote-python", device_python, "--no-verify", *extra, check=check,
                   timeout=300)


def put_user_files(root, files=USER_FILES) -> dict[str, str]:
    """The user's own files under `root`; returns their sha256 by relative path."""
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return {name: bundle.sha256_file(root / name) for name in files}


def tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_folder_lenet_edge_did_not_make_is_refused_and_left_byte_identical(
    run_cli, synthetic_bundle, remote_dir, ssh_args, device_python
):
    # Before: exit 0, and prune deleted releases/v1.0-firmware.bin and results/*.csv.
    before = put_user_files(remote_dir)
    listing = tree(remote_dir)
    proc = deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args, device_python,
                      check=False)
    assert proc.returncode == 7, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error == (
        f"lenet-edge: error: 127.0.0.1:{ssh_args[1]}: --remote-dir {remote_dir} is not a "
        "lenet-edge deploy directory: it holds 'notes.txt', 'releases', 'results' and no "
        f"{MARKER} marker; nothing was changed: choose a new or empty directory")
    assert {name: bundle.sha256_file(remote_dir / name) for name in before} == before
    assert tree(remote_dir) == listing  # no marker, lock, release or wheel was added


def test_repeated_deploys_prune_only_their_own_releases_and_results(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args, device_python
):
    first = json.loads(deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args,
                                  device_python, "--json").stdout)
    assert (remote_dir / MARKER).is_file()
    # The user puts files into the marked directory: theirs, however they look.
    lookalike = "20200101T000000Z-abcdef"  # our id pattern, but no manifest.json of ours
    before = put_user_files(remote_dir, {
        **USER_FILES, f"releases/{lookalike}/data.bin": b"mine",
        "releases/backup.partial/x": b"mine too",
        f"results/{first['release']}-notes.txt": b"about the first release",
        "results/old-verify.json": b"{}"})
    newer = make_synthetic_bundle(tmp_path / "newer", seed=1)
    releases = [first["release"]] + [
        json.loads(deploy_cli(run_cli, newer, remote_dir, ssh_args, device_python,
                              "--json").stdout)["release"] for _ in range(2)]

    assert {name: bundle.sha256_file(remote_dir / name) for name in before} == before
    ours = sorted(p.name for p in (remote_dir / "releases").iterdir()
                  if RELEASE_ID.fullmatch(p.name) and p.name != lookalike)
    assert ours == sorted(releases[1:])  # the first was pruned: live + previous kept
    assert current_release(remote_dir) == releases[2]


@pytest.mark.parametrize("value, why", [
    ("../x", "a '..' component"),
    ("a/../b", "a '..' component"),
    ("/", "'/' itself"),
    ("~", "the home directory itself"),
    ("./", "the home directory itself"),
    ("", "the home directory itself"),
    ("-rf", "a leading '-'"),
    ("~pi/lenet-edge", "another user's home (~user)"),
    ("lenet-edge\n", "a control character"),
])
def test_remote_dir_that_reaches_outside_a_folder_of_its_own_never_connects(
    run_cli, synthetic_bundle, ssh_args, sshd, tmp_path, value, why
):
    # A Python the device lacks: should a regression connect, preflight stops it before any
    # write (the old code deployed into /, ~ and ~/../x).
    connections = sshd.log.read_text().count("Connection from")
    proc = run_cli("deploy", synthetic_bundle, "127.0.0.1", *ssh_args, f"--remote-dir={value}",
                   "--remote-python", tmp_path / "no-python", "--no-verify", check=False,
                   cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"lenet-edge: error: invalid --remote-dir {value!r}: {why}; use /abs/path or "
        "dir/in/home, a directory of its own (e.g. lenet-edge)")
    assert sshd.log.read_text().count("Connection from") == connections  # never contacted


def test_a_deploy_of_the_previous_version_without_the_marker_is_adopted(
    run_cli, synthetic_bundle, remote_dir, ssh_args, device_python
):
    first = json.loads(deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args,
                                  device_python, "--json").stdout)
    (remote_dir / MARKER).unlink()  # as the previous version left it: our layout, no marker
    (remote_dir / "results").mkdir(exist_ok=True)
    before = put_user_files(remote_dir, {"results/field-test-2026.csv": b"site,reading\n"})

    proc = deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args, device_python, "--json")
    second = json.loads(proc.stdout)
    assert f"adopted {remote_dir}: an earlier lenet-edge deploy" in proc.stderr
    assert (remote_dir / MARKER).is_file()
    assert second["previous"] == first["release"]
    assert current_release(remote_dir) == second["release"]
    assert {name: bundle.sha256_file(remote_dir / name) for name in before} == before
    again = deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args, device_python)
    assert "adopted" not in again.stderr  # marked now: adopted once


def test_an_empty_folder_is_taken_and_marked(
    run_cli, synthetic_bundle, remote_dir, ssh_args, device_python
):
    remote_dir.mkdir(parents=True)
    deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args, device_python)
    assert (remote_dir / MARKER).is_file()
    assert (remote_dir / "current" / "manifest.json").is_file()


@pytest.mark.parametrize("name", [
    "20261201T150342Z-4ce1cc", "20261201T150342Z-16777215", "20261201T150342Z-0",
    "20261201T150342Z-", "20261201T150342Z-4CE1CC", "20261201T150342Z-123456789",
    "2026120T150342Z-4ce1cc", "20261201T150342Z-4ce1cc.failed", "v1.0-firmware.bin", "*", "",
    "20261201T150342Z-4ce1cc/../x", "x20261201T150342Z-4ce1cc"])
def test_the_device_recognises_release_ids_as_this_side_does(name):
    # Prune decides on the device (POSIX sh); the rule must be RELEASE_ID's, or it would
    # remove what RELEASE_ID says is not ours.
    import subprocess

    from lenet_edge.deploy.remote_dir import OUR_ID_SH

    proc = subprocess.run(["sh", "-c", OUR_ID_SH + 'our_id "$1"', "sh", name])
    assert (proc.returncode == 0) == bool(RELEASE_ID.fullmatch(name))


OLD_ID = "20250101T000000Z-abc123"
LAYOUTS = {  # files (relative path -> content, None: a directory) -> what the claim says
    "missing": (None, "new"),
    "empty": ({}, "new"),
    "only our lock": ({".deploy.lock": ""}, "new"),
    "old deploy, live": ({f"releases/{OLD_ID}/manifest.json": "{}", "current": "symlink"},
                         "adopted"),
    "old managed venv": ({"venv/lenet-edge-wheel.sha256": "ab\n"}, "adopted"),
    "old first deploy rolled back": ({f"releases/{OLD_ID}.failed/manifest.json": "{}",
                                      f"results/{OLD_ID}-verify.json": "{}",
                                      "wheels/lenet_edge-0.1.0-py3-none-any.whl": "",
                                      ".deploy.lock": ""}, "adopted"),
    "user files": (USER_FILES, "foreign"),
    "our ids beside a user csv": ({f"releases/{OLD_ID}/manifest.json": "{}",
                                   "results/field-test-2026.csv": "x"}, "foreign"),
    "a venv that is not ours": ({"venv/bin/python": ""}, "foreign"),
    "a hidden user file": ({".env": "TOKEN=1", f"releases/{OLD_ID}/manifest.json": "{}"},
                           "foreign"),
}


@pytest.mark.parametrize("files, expected", LAYOUTS.values(), ids=LAYOUTS)
def test_claim_takes_new_and_earlier_deploys_and_refuses_anything_else(tmp_path, files,
                                                                        expected):
    # The claim script runs here with the local sh, as it runs on the device.
    import subprocess

    from lenet_edge.deploy.remote_dir import CLAIM_SCRIPT, FOREIGN

    root = tmp_path / "lenet-edge"
    for name, content in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if content == "symlink":
            (root / name).symlink_to(f"releases/{OLD_ID}")
        else:
            (root / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    if files == {}:
        root.mkdir()
    before = tree(root) if root.exists() else []
    proc = subprocess.run(["sh", "-c", CLAIM_SCRIPT, "sh", str(root)], capture_output=True,
                          text=True)
    if expected == "foreign":
        assert proc.returncode == FOREIGN, proc.stderr
        assert tree(root) == before  # nothing added, nothing removed
    else:
        assert (proc.returncode, proc.stdout.strip()) == (0, expected), proc.stderr
        assert tree(root) == sorted([*before, MARKER])
