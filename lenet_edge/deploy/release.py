"""Deploy a bundle to a device over SSH, verify and benchmark it there, bring results back.

    pack (device_bundle) -> preflight -> claim the remote dir (remote_dir: refuse one
    lenet-edge did not make) -> lock -> lenet-edge on the device (device_venv)
    -> upload to releases/<id>.partial, sha256 on the device, finalize (install)
    -> switch `current` -> verify there, then the health check (health_check: `predict` on
       known-answer images), rolling back on either failing -> benchmark -> fetch JSON

`deploy()` does one host; `fleet.deploy_fleet()` many in parallel; `ansible.emit_ansible()`
writes the same steps as an Ansible playbook. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.deploy import (
    device_checks,
    device_venv,
    install,
    preflight,
    remote_dir,
    wheelhouse,
)
from lenet_edge.deploy.device_bundle import DeviceBundle, pack
from lenet_edge.deploy.ssh import Transport
from lenet_edge.deploy.target import SshOptions, Target, parse_target
from lenet_edge.deploy.wheel import build_wheel
from lenet_edge.errors import DeviceError, UsageError
from lenet_edge.gates import DEFAULT_GATES, Gates

Progress = Callable[[str], None]

__all__ = ["DeployConfig", "DeployResult", "Prepared", "deploy", "deploy_to", "prepare",
           "SshOptions", "parse_target"]


@dataclass(frozen=True)
class DeployConfig:
    """What to deploy and how; fields map 1:1 to `lenet-edge deploy` options."""

    variants: tuple[str, ...] = ()  # --variant (none: every converted variant)
    remote_dir: str = "lenet-edge"  # --remote-dir, relative to the login's home
    remote_python: str | None = None  # --remote-python (None: deploy's own venv)
    runtimes: tuple[str, ...] = ()  # --runtime, repeatable, passed to verify/benchmark
    verify: bool = True  # --verify/--no-verify
    benchmark: bool = False  # --benchmark
    bench_threads: str | None = None  # --threads ("2" or "1,2,4"), for benchmark on the device
    bench_min_time: float | None = None  # --min-time, passed to benchmark on the device
    gates: Gates = DEFAULT_GATES  # --max-drop, --min-agreement: passed to verify on the device
    wheelhouse: Path | None = None  # --wheelhouse: install offline from these wheels
    lock_timeout: float = 60  # --lock-timeout, seconds to wait for another deploy

    def __post_init__(self) -> None:
        """Refuse gate and benchmark values the device would reject, before anything connects.

        Raises:
            UsageError: a thread count, --min-time or --lock-timeout out of range (a Gates
                checks itself when it is made).
        """
        check_deploy_options(self)


def check_deploy_options(config: DeployConfig) -> None:
    """The checks verify and benchmark run on the device, run here first (same messages).

    Raises:
        UsageError: a value the device's verify / benchmark would refuse, a bad
            --lock-timeout or --remote-dir, or a --wheelhouse that is missing or holds no
            wheel.
    """
    from lenet_edge.runtime.threads import check_threads
    from lenet_edge.runtime.timing import TimingPolicy
    if config.bench_threads is not None:
        check_threads(config.bench_threads)  # raises UsageError naming --threads
    if config.bench_min_time is not None:
        TimingPolicy(min_time=config.bench_min_time)  # raises UsageError naming --min-time
    wait = config.lock_timeout
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not (
            math.isfinite(wait) and wait >= 0):
        raise UsageError(f"--lock-timeout must be a number of seconds >= 0, got {wait!r}")
    if config.wheelhouse is not None:
        wheelhouse.wheelhouse_files(config.wheelhouse)  # refused here, not after connecting
    remote_dir.RemoteLayout.parse(config.remote_dir)  # '..', '/', ~user ...: never connect


@dataclass
class DeployResult:
    """What happened on one device."""

    name: str
    host: str
    release: str = ""
    previous: str = ""
    live: str = ""  # the release `current` points at when deploy finished
    passed: bool | None = None  # verify gate and health check (None: not verified)
    rolled_back: bool = False
    facts: dict = field(default_factory=dict)
    verify: dict | None = None
    health: dict | None = None  # health_check.HealthCheck.to_dict(), run after verify passed
    benchmark: dict | None = None
    files: list[str] = field(default_factory=list)  # result files written locally

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Prepared:
    """Built once per deploy, shared by every host: the device bundle and our wheel."""

    model_dir: Path
    device_bundle: DeviceBundle
    wheel: Path
    wheel_sha: str


def prepare(model_dir: str | Path, config: DeployConfig, workdir: Path) -> Prepared:
    """Check the options, pack the device bundle and build the lenet-edge wheel into `workdir`.

    Raises:
        UsageError: an unknown runtime or variant, a bad --remote-dir.
    """
    from lenet_edge.runtime.runtimes import check_runtime_name

    for runtime in config.runtimes:
        check_runtime_name(runtime)
    install.RemoteLayout.parse(config.remote_dir)
    device_bundle = pack(model_dir, config.variants)
    wheel = build_wheel(workdir)
    return Prepared(Path(model_dir), device_bundle, wheel, bundle.sha256_file(wheel))


def deploy(
    model_dir: str | Path,
    host: str,
    *,
    user: str | None = None,
    port: int | None = None,
    config: DeployConfig | None = None,
    ssh: SshOptions | None = None,
    progress: Progress = lambda _: None,
) -> DeployResult:
    """Deploy `model_dir` to one device. Host and user are validated before anything runs.

    Returns:
        The result; `passed` is False (and `rolled_back` True) when the device's verify failed.

    Raises:
        UsageError: bad host, user, port or variant. ModelError: a bad local bundle.
        DeviceError: the device is unreachable, refused a step, or lacks what it needs.
    """
    target = parse_target(host, user, port)
    config, ssh = config or DeployConfig(), ssh or SshOptions()
    with tempfile.TemporaryDirectory(prefix="lenet-edge-deploy-") as tmp:
        prepared = prepare(model_dir, config, Path(tmp))
        return deploy_to(prepared, target, target.host, config, ssh, progress)


def deploy_to(
    prepared: Prepared,
    target: Target,
    name: str,
    config: DeployConfig,
    ssh: SshOptions,
    progress: Progress = lambda _: None,
) -> DeployResult:
    """The device steps for one validated target; `name` labels its result files."""
    layout = install.RemoteLayout.parse(config.remote_dir)
    progress("connect")
    with Transport(target, ssh) as transport:
        return _deploy_steps(transport, layout, prepared, name, config, progress)


def _deploy_steps(transport, layout, prepared, name, config, progress) -> DeployResult:
    where = transport.target.label
    result = DeployResult(name=name, host=where)

    progress("preflight")
    facts = preflight.probe(transport, config.remote_python or device_venv.BASE_PYTHON,
                            layout.root)
    if facts is None:
        raise DeviceError(f"{where}: no {config.remote_python or 'python3'} on the device; "
                          "on it run: sudo apt install python3 python3-venv")
    preflight.check_python(where, facts)
    preflight.check_disk(where, facts, prepared.device_bundle.size)
    if remote_dir.claim(transport, layout) == "adopted":
        progress(f"adopted {layout.root}: an earlier lenet-edge deploy, now marked with "
                 f"{remote_dir.MARKER}")

    with install.remote_lock(transport, layout, config.lock_timeout):
        try:
            _install_and_check(transport, layout, prepared, config, facts, result, progress)
        except KeyboardInterrupt:  # a signal: say what the device runs now, then unwind
            progress(_stopped(result))
            raise
    if result.passed is not False:
        progress(f"live: releases/{result.release}")
    return result


def _install_and_check(transport, layout, prepared, config, facts, result, progress) -> None:
    """Under the device lock: install, switch, verify (rolling back), benchmark, prune."""
    python, facts = _ready_python(transport, layout, prepared, config, facts, progress)
    result.facts = facts.as_dict()
    release_id = install.new_release_id()
    progress(f"upload {prepared.device_bundle.size // 1024} KiB to releases/{release_id}")
    install.install_release(transport, layout, release_id, prepared.device_bundle)
    result.release = release_id
    with transport.atomic():  # the one step a signal waits for: then we know what is live
        result.previous = install.switch_current(transport, layout, release_id)
        result.live = release_id
    if config.verify:
        _verify(transport, layout, python, prepared, config, result, progress)
        if result.passed:
            _health_check(transport, layout, python, prepared, config, result, progress)
        if not result.passed:
            return
    if config.benchmark:
        _benchmark(transport, layout, python, prepared, config, result, progress)
    kept = remote_dir.prune_releases(transport, layout, release_id, result.previous)
    if kept:  # old, but the user put files into them: never deleted, so say why they stay
        progress(remote_dir.kept_message(kept))


def _stopped(result: DeployResult) -> str:
    """What the device runs after a signal stopped the deploy (a stderr line)."""
    if result.rolled_back:
        return f"stopped: rolled back, {_release(result.live)} is live"
    if result.live:
        verified = "verified" if result.passed else "not verified: the signal came first"
        return f"stopped: releases/{result.live} is live (switched before the signal; {verified})"
    return ("stopped before the switch: the live release is untouched (a partial upload is "
            "removed by the next deploy)")


def _release(release_id: str) -> str:
    return f"releases/{release_id}" if release_id else "no release"


def _ready_python(transport, layout, prepared, config, facts, progress):
    """The device Python that runs lenet-edge, installing into the managed venv if needed."""
    where = transport.target.label
    if config.remote_python is None:
        return device_venv.ensure_runtime(
            transport, layout, facts, prepared.wheel, prepared.wheel_sha, config.runtimes,
            config.wheelhouse, progress)
    wheel_on_device = f"{layout.root}/wheels/{prepared.wheel.name}"
    if not facts.modules.get("lenet_edge"):
        # Ship the wheel so the install command in the error works as printed.
        device_venv.upload_wheels(transport, layout, [prepared.wheel])
    preflight.check_ready(where, facts, config.remote_python, config.runtimes,
                          wheel_on_device)
    return config.remote_python, facts


def gate_options(gates: Gates) -> list[str]:
    """verify's options for `gates`, always given: a device whose lenet-edge has other
    defaults (--remote-python) still holds the variants to the gates deploy was given."""
    return ["--max-drop", repr(gates.max_drop), "--min-agreement", repr(gates.min_agreement)]


def _runtime_options(config: DeployConfig) -> list[str]:
    return [token for runtime in config.runtimes for token in ("--runtime", runtime)]


def _verify(transport, layout, python, prepared, config, result, progress) -> None:
    """Verify on the device; on failure switch `current` back and mark the release failed."""
    progress("verify on the device")
    options = _runtime_options(config) + gate_options(config.gates)
    try:
        report = device_checks.run_check(
            transport, layout, python, result.release, "verify", options,
            on_line=lambda line: progress(f"  device: {line}"))
    except DeviceError as exc:
        _roll_back(transport, layout, result, progress)
        raise DeviceError(f"{exc}; rolled back to {result.previous or 'no release'}") from None
    if report.report is not None:
        result.verify = report.report
        result.files.append(str(device_checks.store_report(prepared.model_dir, result.name,
                                                           report)))
    if report.exit_code == 0:
        result.passed = True
        return
    _roll_back(transport, layout, result, progress)
    if report.exit_code != device_checks.GATE_FAILED:
        raise DeviceError(
            f"{transport.target.label}: verify on the device exited {report.exit_code} "
            f"({report.message}); rolled back to {result.previous or 'no release'}"
        )
    result.passed = False


def _health_check(transport, layout, python, prepared, config, result, progress) -> None:
    """`predict` on known-answer images on the device; wrong answers roll back like a
    failed verify (health_check.py)."""
    from lenet_edge.deploy import health_check

    artifacts = bundle.read_manifest(prepared.model_dir)["artifacts"]
    check = health_check.check_health(
        transport, layout, python,
        {v: artifacts[v]["format"] for v in prepared.device_bundle.variants}, config.runtimes,
        health_check.known_answers_of(prepared.model_dir), progress)
    result.health = check.to_dict()
    progress(f"health check: {check.summary}")
    if not check.passed:
        _roll_back(transport, layout, result, progress)
        result.passed = False


def _roll_back(transport, layout, result, progress) -> None:
    progress(f"rolling back to {result.previous or 'no release'}")
    with transport.atomic():  # a signal waits: the device is back on the previous release
        install.roll_back(transport, layout, result.release, result.previous)
        result.rolled_back = True
        result.live = result.previous


def _benchmark(transport, layout, python, prepared, config, result, progress) -> None:
    progress("benchmark on the device")
    options = _runtime_options(config)
    if config.bench_threads is not None:
        options += ["--threads", str(config.bench_threads)]
    if config.bench_min_time is not None:
        options += ["--min-time", str(config.bench_min_time)]
    report = device_checks.run_check(
        transport, layout, python, result.release, "benchmark", options,
        on_line=lambda line: progress(f"  device: {line}"))
    if report.exit_code or report.report is None:
        raise DeviceError(
            f"{transport.target.label}: benchmark on the device exited {report.exit_code} "
            f"({report.message}); releases/{result.release} stays live (it passed verify)"
        )
    result.benchmark = report.report
    result.files.append(str(device_checks.store_report(prepared.model_dir, result.name, report)))
