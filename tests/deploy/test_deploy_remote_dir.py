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


# --- prune: only what lenet-edge wrote, checked with the local sh as on the device ----------

OLDER, PREVIOUS, LIVE = ("20250101T000000Z-000001", "20250102T000000Z-000002",
                         "20250103T000000Z-000003")


def _release(root, name: str, *extra: str) -> None:
    """releases/NAME as deploy leaves it (manifest naming its files), plus `extra` files."""
    folder = root / "releases" / name
    folder.mkdir(parents=True)
    files = {"reference.npz": b"npz", "lenet5_int8.tflite": b"tfl3"}
    manifest = {"reference": {"file": "reference.npz"},
                "artifacts": {"int8": {"file": "lenet5_int8.tflite"}}}
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for file_name in extra:
        (folder / file_name).write_bytes(b"the user's")


def _prune(root):
    import subprocess

    from lenet_edge.deploy.remote_dir import PRUNE_SCRIPT

    return subprocess.run(["sh", "-c", PRUNE_SCRIPT, "sh", str(root), LIVE, PREVIOUS],
                          capture_output=True, text=True, check=True)


def test_prune_keeps_an_old_release_holding_a_user_file_and_names_it(tmp_path):
    # Before: releases/<old>/mynote.txt was deleted with the release.
    root = tmp_path / "lenet-edge"
    for name in (PREVIOUS, LIVE):
        _release(root, name)
    _release(root, OLDER, "mynote.txt")
    _release(root, "20250101T000000Z-00000a")  # old and all ours: pruned
    for release in (OLDER, "20250101T000000Z-00000a"):
        (root / "results").mkdir(exist_ok=True)
        (root / "results" / f"{release}-verify.json").write_text("{}")
    proc = _prune(root)
    assert proc.stdout.splitlines() == [f"releases/{OLDER}"]
    assert (root / "releases" / OLDER / "mynote.txt").read_bytes() == b"the user's"
    assert (root / "results" / f"{OLDER}-verify.json").is_file()  # its release stays
    assert not (root / "releases" / "20250101T000000Z-00000a").exists()
    assert not (root / "results" / "20250101T000000Z-00000a-verify.json").exists()
    assert sorted(p.name for p in (root / "releases").iterdir()) == [OLDER, PREVIOUS, LIVE]


@pytest.mark.parametrize("extra", ["sub/dir.txt", ".hidden", "link"])
def test_prune_keeps_a_release_with_anything_a_bundle_does_not_hold(tmp_path, extra):
    root = tmp_path / "lenet-edge"
    _release(root, OLDER)
    target = root / "releases" / OLDER / extra
    if extra == "link":
        target.symlink_to("reference.npz")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")
    assert _prune(root).stdout.splitlines() == [f"releases/{OLDER}"]
    assert target.exists() or target.is_symlink()


def test_prune_never_deletes_results_files_of_releases_it_did_not_remove(tmp_path):
    # Before: results/20200101T000000Z-abcdef-verify.json (our naming, the user's file, no
    # such release) was deleted by the next deploy.
    root = tmp_path / "lenet-edge"
    _release(root, LIVE)
    (root / "results").mkdir()
    theirs = root / "results" / "20200101T000000Z-abcdef-verify.json"
    theirs.write_text('{"mine": true}')
    _prune(root)
    assert theirs.read_text() == '{"mine": true}'


def test_clean_partial_keeps_a_partial_upload_holding_a_user_file(tmp_path):
    import subprocess

    from lenet_edge.deploy.remote_dir import CLEAN_PARTIAL_SH, OUR_ID_SH

    root = tmp_path / "lenet-edge"
    (root / "releases" / f"{OLDER}.partial").mkdir(parents=True)
    (root / "releases" / f"{OLDER}.partial" / "lenet5_int8.tflite").write_bytes(b"tfl3")
    (root / "releases" / f"{PREVIOUS}.partial").mkdir()
    (root / "releases" / f"{PREVIOUS}.partial" / "notes.txt").write_bytes(b"mine")
    subprocess.run(["sh", "-c", OUR_ID_SH + CLEAN_PARTIAL_SH, "sh", str(root)], check=True)
    assert sorted(p.name for p in (root / "releases").iterdir()) == [f"{PREVIOUS}.partial"]


def test_repeated_deploys_keep_a_release_and_results_the_user_wrote_into(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args, device_python
):
    # Before: releases/<first>/mynote.txt went with the pruned release, and
    # results/20200101T000000Z-abcdef-verify.json (our naming, no such release) was deleted.
    first = json.loads(deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args,
                                  device_python, "--json").stdout)["release"]
    (remote_dir / "results").mkdir(exist_ok=True)
    before = put_user_files(remote_dir, {
        f"releases/{first}/mynote.txt": b"tested on the bench, 2026-11-30\n",
        "results/20200101T000000Z-abcdef-verify.json": b'{"mine": true}\n'})
    newer = make_synthetic_bundle(tmp_path / "newer", seed=1)
    procs = [deploy_cli(run_cli, newer, remote_dir, ssh_args, device_python)
             for _ in range(2)]
    assert {name: bundle.sha256_file(remote_dir / name) for name in before} == before
    assert (remote_dir / "releases" / first / "manifest.json").is_file()  # kept whole
    assert (f"kept releases/{first}: it holds files lenet-edge did not write; remove them by "
            "hand when done") in " ".join(procs[-1].stderr.split())
