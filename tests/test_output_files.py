"""Report files (`--json/--junit/--markdown FILE`) and atomic writes: links, streams, umask.

No TensorFlow here: the library calls run in-process, the CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lenet_edge.errors import OutputError
from lenet_edge.files import output_files


@pytest.fixture
def umask():
    """Set the process umask for one test, then put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as f:
            into.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


def test_a_symlink_keeps_pointing_at_its_updated_target(tmp_path, umask):
    target = tmp_path / "shared" / "verify.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    output_files.write_bytes(link, b'{"new": true}\n')
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == '{"new": true}\n'
    assert sorted(os.listdir(target.parent)) == ["verify.json"]  # temp file went beside it


def test_a_dangling_symlink_creates_its_target(tmp_path, umask):
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "real.json")
    output_files.write_bytes(link, b"{}\n")
    assert link.is_symlink() and (tmp_path / "real.json").read_bytes() == b"{}\n"


@pytest.mark.parametrize(("mask", "file_mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, file_mode):
    umask(mask)
    output_files.write_bytes(tmp_path / "report.json", b"{}")
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == file_mode
    assert output_files.umask() == mask


def test_a_fifo_is_written_through_and_one_without_a_reader_is_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="a FIFO with no reader"):
        output_files.write_bytes(fifo, b"lost")  # rather than hang until someone reads
    got: list[bytes] = []
    thread = read_fifo(fifo, got)
    for _ in range(500):  # the reader's open() must come first
        try:
            output_files.write_bytes(fifo, b'{"ok": 1}\n')
            break
        except OutputError:
            threading.Event().wait(0.01)
    thread.join(timeout=10)
    assert got == [b'{"ok": 1}\n'] and fifo.exists() and not fifo.is_file()


def test_a_stale_temp_file_of_a_dead_run_is_removed_and_a_live_ones_is_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".verify.json.{dead}.abcd1234.tmp"
    live = tmp_path / f".verify.json.{os.getpid()}.abcd1234.tmp"
    foreign = tmp_path / ".verify.json.tmp"  # not our naming: never touched
    for path in (stale, live, foreign):
        path.write_text("partial")
    output_files.write_bytes(tmp_path / "benchmark.json", b"{}")
    assert not stale.exists() and live.exists() and foreign.exists()


def test_verify_reports_go_to_dev_stdout_a_fifo_and_through_a_symlink(
        run_cli, digits_bundle, tmp_path):
    fifo = tmp_path / "junit-pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = read_fifo(fifo, got)
    target = tmp_path / "reports" / "verify.md"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "verify-latest.md"
    link.symlink_to(target)
    proc = run_cli("verify", digits_bundle, "--variant", "fp32", "--json", "/dev/stdout",
                   "--junit", fifo, "--markdown", link)
    thread.join(timeout=30)
    # stdout holds the JSON document (the table follows it)
    document, _ = json.JSONDecoder().raw_decode(proc.stdout.lstrip())
    assert document["passed"] is True
    assert got and got[0].startswith(b"<?xml")
    assert link.is_symlink() and target.read_text().startswith("#") and target.read_text() != "old"
    assert sorted(os.listdir(target.parent)) == ["verify.md"]


def test_replacing_a_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path, umask):
    # A 0640 report must not become world-readable because lenet-edge rewrote it.
    report = tmp_path / "s.md"
    report.write_text("old")
    report.chmod(0o640)
    output_files.write_bytes(report, b"# new\n")
    assert report.read_bytes() == b"# new\n" and report.stat().st_mode & 0o777 == 0o640

    target = tmp_path / "private" / "verify.json"  # through a symlink: the target's mode
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    output_files.write_bytes(link, b"{}\n")
    assert link.is_symlink() and target.stat().st_mode & 0o777 == 0o600

    output_files.write_bytes(tmp_path / "new.md", b"new\n")
    assert (tmp_path / "new.md").stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can write a file it does not own")
def test_as_root_a_replaced_file_keeps_its_owner_and_group(tmp_path, umask):
    import pwd

    nobody = pwd.getpwnam("nobody")
    shared = tmp_path / "verify.json"
    shared.write_text("old")
    os.chown(shared, nobody.pw_uid, nobody.pw_gid)
    shared.chmod(0o666)
    output_files.write_bytes(shared, b"{}\n")
    info = shared.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (
        nobody.pw_uid, nobody.pw_gid, 0o666)
    assert shared.read_bytes() == b"{}\n"
