"""SSH transport to a device: validated targets, quoted remote commands, host keys checked.

Why the system OpenSSH client and not a Python SSH library: it adds no dependency to the
package (the device-side install stays `.[runtime]`), and it honours everything a user has
already set up — ~/.ssh/config (ProxyJump, per-host keys), the agent, known_hosts, hardware
keys — with OpenSSH's own well-audited host-key checking. Paramiko would need all of that
re-implemented or re-configured. Every call runs `ssh` with BatchMode=yes (never prompts),
a ConnectTimeout, and StrictHostKeyChecking=yes unless the user opted in to accept-new.

Remote commands are never built by string interpolation: each is a constant POSIX `sh -c`
script that reads its parameters as positional arguments ("$1", "$2", ...), and the whole
argument vector is joined with shlex.quote, so a remote path or variant name cannot inject.
Host and user names are validated before any of this runs (target.py).
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lenet_edge.deploy import ssh_calls
from lenet_edge.deploy.target import SshOptions, Target
from lenet_edge.errors import DeviceError, MissingDependencyError

SSH_FAILED = 255  # ssh's own exit code for connection / authentication / host-key failures

class Transport:
    """Runs constant `sh -c` scripts on one device through the system `ssh`.

    Use as a context manager: it opens one master connection (OpenSSH ControlMaster) that
    every command then reuses, so a deploy authenticates once instead of a dozen times
    (measured: 0.5-0.8 s per fresh connection even on localhost, ~10 ms per multiplexed one).
    """

    def __init__(self, target: Target, options: SshOptions) -> None:
        self.target = target
        self.options = options
        self._ssh = shutil.which("ssh")
        if self._ssh is None:
            raise MissingDependencyError(
                "deploy needs the OpenSSH client 'ssh' on PATH: apt install openssh-client"
            )
        self._control_dir: str | None = None
        self._master: subprocess.Popen | None = None

    # --- connection ------------------------------------------------------------------------

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        """Connect (authenticate, check the host key) and keep the connection for reuse.

        Raises:
            DeviceError: unreachable, unknown or changed host key, authentication refused.
        """
        # A short private directory: a unix socket path must stay under ~100 bytes.
        self._control_dir = tempfile.mkdtemp(prefix="le-ssh-")
        log = Path(self._control_dir) / "master.log"
        with open(log, "wb") as err:  # a file, not a pipe: nothing can block on it
            self._master = subprocess.Popen(
                self.ssh_argv(None, master=True), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err,
            )
        deadline = time.monotonic() + self.options.connect_timeout + 15
        while not self._socket.exists():
            if ssh_calls.stopping():
                self.close()
                ssh_calls.raise_if_stopping()
            if self._master.poll() is not None or time.monotonic() > deadline:
                stderr = log.read_bytes()
                self.close()
                raise DeviceError(explain_ssh_failure(self.target, self.options, stderr))
            time.sleep(0.02)

    def close(self) -> None:
        if self._master is not None:
            self._master.terminate()
            try:  # it exits at once; with a session still open on the device (a signal
                # stopped its ssh call) it would wait for it: then the kill ends that too
                self._master.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self._master.kill()
                self._master.wait()
            self._master = None
        if self._control_dir is not None:
            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None

    @property
    def _socket(self) -> Path:
        return Path(self._control_dir or "/nonexistent") / "control"

    def ssh_argv(self, remote_command: str | None, *, master: bool = False) -> list[str]:
        """The local argv for `remote_command` (None with `master`: just hold the connection)."""
        opts = self.options
        argv = [self._ssh, "-T", "-p", str(self.target.port)]
        if opts.config_file is not None:
            argv += ["-F", str(opts.config_file)]
        checking = "accept-new" if opts.accept_new_host_key else "yes"
        settings = [
            "BatchMode=yes",
            f"StrictHostKeyChecking={checking}",
            f"ConnectTimeout={opts.connect_timeout}",
            "ServerAliveInterval=5",  # notice a dropped connection within ~15 s
            "ServerAliveCountMax=3",
        ]
        if self._control_dir is not None:
            argv += ["-S", str(self._socket)]
            settings.append(f"ControlMaster={'yes' if master else 'no'}")
        if opts.known_hosts is not None:
            settings.append(f"UserKnownHostsFile={opts.known_hosts}")
        if opts.identity is not None:
            argv += ["-i", str(opts.identity)]
            settings.append("IdentitiesOnly=yes")
        # User options come first: for OpenSSH the first value given for a keyword wins.
        for setting in [*opts.extra, *settings]:
            argv += ["-o", setting]
        if self.target.user is not None:
            argv += ["-l", self.target.user]
        if master:
            return [*argv, "-N", "--", self.target.host]
        return [*argv, "--", self.target.host, remote_command]

    # --- commands --------------------------------------------------------------------------

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """A step that must not stop half-way (the `current` switch): see ssh_calls."""
        return ssh_calls.atomic()

    def _child(self, argv: list[str], **popen
               ) -> contextlib.AbstractContextManager[subprocess.Popen]:
        return ssh_calls.child(argv, **popen)

    def _command(self, script: str, args: Sequence[str]) -> list[str]:
        if self._master is None:
            raise RuntimeError("Transport used outside 'with Transport(...)'")
        return self.ssh_argv(shlex.join(["sh", "-c", script, "sh", *map(str, args)]))

    def run(
        self,
        script: str,
        args: Sequence[str] = (),
        *,
        input: bytes | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        """Run `sh -c script sh args...` on the device; return the finished process.

        A non-zero exit of the script is returned for the caller to interpret; a failure of
        ssh itself (connection lost, host key, authentication) raises DeviceError.
        """
        with self._child(self._command(script, args), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
            try:
                out, err = child.communicate(input if input is not None else b"",
                                             timeout=timeout)
            except subprocess.TimeoutExpired:
                raise self._no_answer(timeout) from None
        proc = subprocess.CompletedProcess(child.args, child.returncode, out, err)
        if proc.returncode == SSH_FAILED:
            raise DeviceError(explain_ssh_failure(self.target, self.options, proc.stderr))
        return proc

    def stream(
        self,
        script: str,
        args: Sequence[str],
        data: bytes,
        *,
        on_chunk: Callable[[int, int], None] | None = None,
        chunk_size: int = 1 << 16,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess:
        """Like `run`, feeding `data` to the script's stdin in chunks, calling
        `on_chunk(sent, total)` after each (upload progress)."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, self._child(
                self._command(script, args), stdin=subprocess.PIPE, stdout=out, stderr=err
        ) as proc:
            try:
                for start in range(0, len(data), chunk_size):
                    proc.stdin.write(data[start:start + chunk_size])
                    if on_chunk is not None:
                        on_chunk(min(start + chunk_size, len(data)), len(data))
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the far end went away: the exit code and stderr say why
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise self._no_answer(timeout) from None  # _child kills it
            out.seek(0)
            err.seek(0)
            done = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
        if done.returncode == SSH_FAILED:
            raise DeviceError(explain_ssh_failure(self.target, self.options, done.stderr))
        return done

    def run_lines(
        self, script: str, args: Sequence[str], on_line: Callable[[str], None],
        timeout: float = 1800,
    ) -> subprocess.CompletedProcess:
        """Like `run`, handing each stderr line to `on_line` as it arrives: a long command
        on the device (verify, benchmark) shows its progress here while it runs."""
        # stdin: a pipe held open until the command ends (its EOF stops it on the device)
        with tempfile.TemporaryFile() as out, self._child(
                self._command(script, args), stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.PIPE) as proc:
            watchdog = threading.Timer(timeout, proc.kill)
            watchdog.start()
            lines = []
            try:
                for raw in ssh_calls.lines_until_stopped(proc.stderr):
                    lines.append(raw)
                    if raw.strip():
                        on_line(raw.decode(errors="replace").rstrip())
                proc.wait()
            finally:
                watchdog.cancel()
                proc.stdin.close()
            if proc.returncode < 0:
                raise self._no_answer(timeout)
            out.seek(0)
            done = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(),
                                               b"".join(lines))
        if done.returncode == SSH_FAILED:
            raise DeviceError(explain_ssh_failure(self.target, self.options, done.stderr))
        return done

    def _no_answer(self, timeout: float) -> DeviceError:
        return DeviceError(f"{self.target.label}: no answer within {timeout:.0f} s")

    def session(self, script: str, args: Sequence[str] = ()
                ) -> contextlib.AbstractContextManager[subprocess.Popen]:
        """A long-lived script (e.g. a lock holder) with pipes on stdin and stdout, for the
        block; ended (and its channel closed) if the block raises or a signal stops all."""
        return self._child(self._command(script, args), stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def last_line(output: bytes | str) -> str:
    """The last non-empty line of a command's output, for one-line error messages."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def first_line(output: bytes | str) -> str:
    """The first non-empty line: tools like tar print the cause first, a summary last."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "(no output)"


def explain_ssh_failure(target: Target, options: SshOptions, stderr: bytes) -> str:
    """Turn ssh's own failure output into one line that says what to do."""
    text = stderr.decode(errors="replace")
    where = target.label
    known = options.known_hosts or "~/.ssh/known_hosts"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return (
            f"{where}: the host key CHANGED since it was recorded in {known}; refusing to connect "
            "(possible man-in-the-middle, or a reinstalled device: check, then ssh-keygen -R)"
        )
    if "Host key verification failed" in text:
        return (
            f"{where}: host key not known in {known}; check its fingerprint and add it "
            f"(ssh-keyscan -p {target.port} {target.host} >> {known}), "
            "or pass --accept-new-host-key to trust it on first use"
        )
    if "Permission denied" in text:
        return f"{where}: authentication refused ({last_line(text)}); pass --identity KEY or --user"
    if any(s in text for s in ("Connection refused", "timed out", "No route", "resolve")):
        return f"{where}: cannot reach the device ({last_line(text)})"
    if any(s in text for s in ("Control socket", "closed by", "Broken pipe", "reset by")):
        return f"{where}: connection to the device lost ({last_line(text)})"
    return f"{where}: ssh failed ({last_line(text)})"
