"""SIGTERM to `lenet-edge deploy` stops it promptly: the device keeps a consistent `current`
(and says which release is live), the remote lock is released, and the run ends with one line
and exit 143 (issue 10 item 2). One host runs in the main thread, a fleet in worker threads
that no signal reaches: both must stop within moments, not after their deploys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic_bundle import current_release

pytestmark = pytest.mark.ssh


def running_on_device(remote_dir) -> list[str]:
    """Command lines of lenet-edge processes working in `remote_dir` (the "device")."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"lenet_edge" in args and any(str(remote_dir).encode() in a for a in args):
            found.append(b" ".join(args).decode(errors="replace"))
    return found


@pytest.mark.parametrize("how", ["host", "hosts file"])
def test_sigterm_during_the_device_benchmark_stops_deploy_at_once(
    cli_env, fresh_bundle, remote_dir, ssh_args, device_python, tmp_path, sshd, how
):
    options = list(ssh_args)
    if how == "host":
        where = ["127.0.0.1"]
    else:
        hosts = tmp_path / "hosts.txt"
        hosts.write_text(f"127.0.0.1:{sshd.port}\n")
        where = ["--hosts", str(hosts)]
        del options[options.index("--port"):options.index("--port") + 2]
    cmd = [sys.executable, "-m", "lenet_edge", "deploy", str(fresh_bundle), *where, *options,
           "--remote-dir", str(remote_dir), "--remote-python", device_python,
           "--variant", "fp32", "--benchmark", "--min-time", "5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=cli_env({"COLUMNS": "200"}))
    seen = []
    for line in proc.stderr:  # signal once the device benchmark is under way
        seen.append(line)
        if "benchmark on the device" in line:
            break
    else:
        pytest.fail(f"no benchmark started; exit {proc.wait()}: {''.join(seen)}")
    live = current_release(remote_dir)
    assert live  # verify passed: the new release went live before the benchmark
    time.sleep(1)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    code = proc.wait(timeout=60)
    took = time.monotonic() - sent
    assert code == 143, rest
    assert took < 3, f"took {took:.1f} s after SIGTERM (the benchmark runs 5 s): {rest}"
    mine = [line for line in rest.splitlines() if line.startswith("lenet-edge")]
    assert mine == ["lenet-edge: terminated (SIGTERM)"], rest
    assert f"stopped: releases/{live} is live" in rest  # says which release the device runs
    assert current_release(remote_dir) == live  # the switch had happened: it stays
    assert not [p for p in os.listdir(remote_dir / "releases") if p.endswith(".partial")]
    # Nothing runs on unlocked: the device's benchmark stopped with the deploy.
    for _ in range(20):
        if not running_on_device(remote_dir):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"still running on the device: {running_on_device(remote_dir)}")
    # The device lock is free: flock on it succeeds (the session ends within moments).
    lock = remote_dir / ".deploy.lock"
    for _ in range(20):
        if subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the remote deploy lock is still held")
