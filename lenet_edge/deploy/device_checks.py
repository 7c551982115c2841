"""Run `lenet-edge verify` / `benchmark` on the device and bring their JSON back.

The device writes its report under `<remote-dir>/results/`; we read it back with `cat` over
the same SSH transport and store it atomically in the local bundle as
`device-<name>-<kind>.json`, so a half-fetched report never replaces a good one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.deploy.install import RemoteLayout
from lenet_edge.deploy.ssh import Transport, last_line
from lenet_edge.errors import DeviceError, LenetEdgeError
from lenet_edge.files import input_files
from lenet_edge.results.files import KINDS, read_result
from lenet_edge.schema import Invalid

GATE_FAILED = 1  # `lenet-edge verify` exit code when the accuracy gate fails

# stdin is a pipe the deploy holds open while it waits: it closes when the deploy stops (a
# signal, a lost connection), and then the command is stopped too rather than running on
# after the device lock is released (`read` is a builtin: killing the watcher leaves nothing).
_RUN = r"""
mkdir -p "$1/results" || exit 10
shift
exec 3<&0
"$@" 3<&- </dev/null &
pid=$!
(while read -r _ <&3; do :; done; kill -TERM "$pid") 2>/dev/null &
watcher=$!
exec 3<&-
wait "$pid"; code=$?
kill "$watcher" 2>/dev/null
exit "$code"
"""

_FETCH = r"""cat "$1" """


@dataclass(frozen=True)
class DeviceReport:
    """One command's outcome on the device."""

    kind: str  # "verify" or "benchmark"
    exit_code: int
    report: dict | None  # the command's --json output, when it wrote one
    message: str  # last line of its stderr, for errors


def result_file(model_dir: Path, name: str, kind: str) -> Path:
    """`device-<name>-<kind>.json` in the local bundle (name made file-system safe)."""
    return Path(model_dir) / bundle.device_result_name(name, kind)


def run_check(
    transport: Transport,
    layout: RemoteLayout,
    python: str,
    release_id: str,
    kind: str,
    options: Sequence[str] = (),
    on_line: Callable[[str], None] = lambda _: None,
    timeout: float = 1800,
) -> DeviceReport:
    """Run `python -m lenet_edge <kind> <root>/current --json ... options` on the device;
    its stderr (progress, errors) goes to `on_line` as it comes."""
    out = layout.result(release_id, kind)
    argv = [python, "-m", "lenet_edge", kind, layout.current, "--json", out, *options]
    proc = transport.run_lines(_RUN, [layout.root, *argv], on_line, timeout=timeout)
    report = None
    fetched = transport.run(_FETCH, [out])
    if fetched.returncode == 0:
        source = f"{transport.target.label}: {kind} wrote {out}"
        report = input_files.parse_json(  # bounded depth: a device's answer is input too
            fetched.stdout.decode(errors="replace"), f"{source}, unreadable", DeviceError)
        try:  # the tables and the report compute with its fields
            KINDS[kind].from_dict(report)
        except Invalid as exc:
            raise DeviceError(f"{source}, not a 'lenet-edge {kind} --json' file: {exc}") from None
    return DeviceReport(kind, proc.returncode, report, last_line(proc.stderr))


def store_report(model_dir: Path, name: str, report: DeviceReport) -> Path:
    """Write the device's JSON into the local bundle atomically; return its path."""
    path = result_file(model_dir, name, report.kind)
    bundle.write_json(path, report.report)
    return path


# Local figures to print beside the device's: what `lenet-edge verify MODEL --json
# MODEL/verify.json` (and the same for benchmark) saved on this machine, if the user did.
LOCAL_REPORTS = {"verify": bundle.VERIFY_JSON, "benchmark": bundle.BENCHMARK_JSON}


def local_report(model_dir: Path, kind: str):
    """The local VerifyReport / BenchmarkReport in the bundle, or None if absent or
    unreadable (results/files.py)."""
    try:  # checked: the tables compute with its rows
        return read_result(Path(model_dir) / LOCAL_REPORTS[kind], KINDS[kind])
    except LenetEdgeError:  # unreadable or malformed: nothing local to compare with
        return None
