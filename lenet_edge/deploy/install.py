"""Atomic install on the device: release directories, sha256 check, `current` switch, lock.

Layout under the remote directory (relative paths are relative to the login's home)::

    releases/<id>.partial/   an upload in progress (never live; removed on failure)
    releases/<id>/           a complete, checked release
    releases/<id>.failed/    a release whose on-device verification failed (rolled back)
    current -> releases/<id> the live release, switched with one rename
    results/<id>-*.json      verify / benchmark output of a release
    .deploy.lock             flock(1) file: one deploy per device at a time
    .lenet-edge-deploy       the marker: lenet-edge owns this directory (remote_dir.py)

Cleanup and prune remove only names matching our release id in a marked directory
(remote_dir.py); anything else there is left alone.

Each step is one constant `sh -c` script taking its parameters as "$1", "$2", ... (see ssh.py).
Needs on the device: POSIX sh, tar, sha256sum, flock, GNU mv (-T): all in Raspberry Pi OS.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator

from lenet_edge.deploy.device_bundle import DeviceBundle
from lenet_edge.deploy.remote_dir import CLEAN_PARTIAL_SH, OUR_ID_SH, RemoteLayout
from lenet_edge.deploy.ssh import (
    SSH_FAILED,
    Transport,
    explain_ssh_failure,
    first_line,
    last_line,
)
from lenet_edge.errors import DeviceError

LOCK_BUSY = 75  # EX_TEMPFAIL: flock -E code when another deploy holds the lock
ANSIBLE_LOCK_DIR = ".deploy.lock.d"  # the emitted Ansible playbook's lock (see ansible.py)

_LOCK = r"""
mkdir -p "$1" || exit 10
exec flock -E 75 -w "$2" "$1/.deploy.lock" sh -c '
  if [ -d "$1/.deploy.lock.d" ]; then echo "ansible"; exit 76; fi
  echo locked; exec cat >/dev/null' sh "$1"
"""

_UPLOAD = OUR_ID_SH + CLEAN_PARTIAL_SH + r"""
mkdir -p "$1/releases" || exit 10
partial="$1/releases/$2.partial"
mkdir "$partial" || exit 10
if ! tar -x -f - -C "$partial" --no-same-owner --no-same-permissions; then
  free=$(df -Pk "$partial" 2>/dev/null | awk 'NR==2 {print $4}')
  rm -rf "$partial"
  echo "the device had ${free:-?} KiB free" >&2
  exit 11
fi
"""

CHECK_SCRIPT = r"""
cd "$1/releases/$2.partial" || exit 10
if ! sha256sum --strict -c -; then
  cd / && rm -rf "$1/releases/$2.partial"; exit 12
fi
"""

FINALIZE_SCRIPT = r"""mv -T "$1/releases/$2.partial" "$1/releases/$2" """

SWITCH_SCRIPT = r"""
cd "$1" || exit 10
previous=$(readlink current 2>/dev/null || true)
if [ -z "$2" ]; then rm -f current; printf '%s\n' "$previous"; exit 0; fi
[ -d "$2" ] || exit 13
ln -sfn "$2" .current.new && mv -T .current.new current || { rm -f .current.new; exit 14; }
printf '%s\n' "$previous"
"""

MARK_FAILED_SCRIPT = r"""mv -T "$1/releases/$2" "$1/releases/$2.failed" """

def new_release_id() -> str:
    """Sortable and unique: UTC time plus random hex (two workstations may deploy)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def _fail(transport: Transport, what: str, proc) -> DeviceError:
    # The first line: tar, mkdir, mv print the cause first and a summary ("Exiting ...") last.
    return DeviceError(f"{transport.target.label}: {what}: {first_line(proc.stderr)}")


@contextlib.contextmanager
def remote_lock(transport: Transport, layout: RemoteLayout, wait: float) -> Iterator[None]:
    """Hold `<root>/.deploy.lock` on the device for the duration of the block.

    The lock lives in one ssh session running flock(1): if this process or the connection
    dies, the session ends and the kernel frees the lock, so a crash never leaves it stuck.

    Raises:
        DeviceError: another deploy kept the lock for `wait` seconds, or it cannot be made.
    """
    # Not taken (refused, or a signal while waiting): the session is ended at once.
    with transport.session(_LOCK, [layout.root, str(int(wait))]) as proc:
        _take_lock(transport, layout, wait, proc)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # the remote `cat` sees EOF, flock exits, the lock is free
            try:
                proc.wait(timeout=10)
            except Exception:
                proc.kill()
                proc.wait()


def _take_lock(transport: Transport, layout: RemoteLayout, wait: float, proc) -> None:
    """Return once the lock session says "locked"; raise why it did not."""
    first: list[bytes] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(wait + transport.options.connect_timeout + 10)  # a signal interrupts it
    if not first:
        raise DeviceError(f"{transport.target.label}: no answer while taking the deploy lock")
    if first[0].strip() == b"locked":
        return
    code = proc.wait(timeout=10)
    stderr = proc.stderr.read()
    where = f"{transport.target.label}:{layout.root}"
    if code == LOCK_BUSY:
        raise DeviceError(
            f"{where}: another deploy holds .deploy.lock; gave up after {wait:.0f} s "
            "(raise --lock-timeout to wait longer)"
        )
    if first[0].strip() == b"ansible":
        raise DeviceError(
            f"{where}: an Ansible deploy holds {ANSIBLE_LOCK_DIR}; if none is running, "
            f"remove that directory on the device"
        )
    if code == SSH_FAILED:
        raise DeviceError(explain_ssh_failure(transport.target, transport.options, stderr))
    raise DeviceError(f"{where}: cannot take the deploy lock: {last_line(stderr)}")


def upload_release(
    transport: Transport, layout: RemoteLayout, release_id: str, tar_stream: bytes,
    on_chunk: Callable[[int, int], None] | None = None,
) -> None:
    """Unpack `tar_stream` into `releases/<id>.partial`; on failure nothing partial remains.

    Stale `*.partial` directories of an interrupted deploy are removed first (we hold the lock).
    `on_chunk(sent, total)` reports upload progress.
    """
    proc = transport.stream(_UPLOAD, [layout.root, release_id], tar_stream, on_chunk=on_chunk)
    if proc.returncode == 11:  # tar failed: its first line is the cause, ours the free space
        raise DeviceError(
            f"{transport.target.label}: upload to {layout.release(release_id)}.partial failed: "
            f"{first_line(proc.stderr)}; {last_line(proc.stderr)}; partial files removed, the "
            "live release is untouched"
        )
    if proc.returncode:
        raise _fail(transport, f"cannot create {layout.release(release_id)}.partial", proc)


def check_release(
    transport: Transport, layout: RemoteLayout, release_id: str, checksums: dict[str, str]
) -> None:
    """Check every file of the uploaded release against `checksums` with sha256sum on the
    device; on a mismatch remove the partial release and raise naming the files."""
    sums = "".join(f"{sha}  {name}\n" for name, sha in sorted(checksums.items()))
    proc = transport.run(CHECK_SCRIPT, [layout.root, release_id], input=sums.encode())
    if proc.returncode == 12:
        bad = [line.split(":")[0] for line in proc.stdout.decode().splitlines()
               if "FAILED" in line]
        raise DeviceError(
            f"{transport.target.label}: sha256 mismatch on the device for {', '.join(bad)}: "
            "upload corrupted or tampered; release removed, the live release is untouched"
        )
    if proc.returncode:
        raise _fail(transport, "cannot check the uploaded release", proc)


def finalize_release(transport: Transport, layout: RemoteLayout, release_id: str) -> None:
    """Rename `<id>.partial` to `<id>`: from here on the release is complete and checked."""
    proc = transport.run(FINALIZE_SCRIPT, [layout.root, release_id])
    if proc.returncode:
        raise _fail(transport, f"cannot finalize {layout.release(release_id)}", proc)


def install_release(
    transport: Transport, layout: RemoteLayout, release_id: str, device_bundle: DeviceBundle,
    on_chunk: Callable[[int, int], None] | None = None,
) -> None:
    """Upload, check on the device, finalize: the release exists and is intact, not yet live."""
    upload_release(transport, layout, release_id, device_bundle.tar_bytes(), on_chunk)
    check_release(transport, layout, release_id, device_bundle.checksums)
    finalize_release(transport, layout, release_id)


def switch_current(transport: Transport, layout: RemoteLayout, release_id: str | None) -> str:
    """Point `current` at `releases/<id>` in one rename (None removes it).

    Returns:
        The release id `current` pointed at before ("" if none).
    """
    target = f"releases/{release_id}" if release_id else ""
    proc = transport.run(SWITCH_SCRIPT, [layout.root, target])
    if proc.returncode:
        raise _fail(transport, f"cannot switch {layout.current} to {target}", proc)
    previous = proc.stdout.decode().strip()
    return previous.removeprefix("releases/")


def roll_back(
    transport: Transport, layout: RemoteLayout, failed_id: str, previous_id: str
) -> None:
    """Make `previous_id` live again (or no release if there was none) and mark the failed one."""
    switch_current(transport, layout, previous_id or None)
    proc = transport.run(MARK_FAILED_SCRIPT, [layout.root, failed_id])
    if proc.returncode:
        raise _fail(transport, f"rolled back, but cannot mark {failed_id} as failed", proc)
