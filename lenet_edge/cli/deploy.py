"""`lenet-edge deploy`: ship a bundle to a device over SSH, verify and benchmark it there."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.runtime_options import (
    BundleDir,
    MaxDrop,
    MinAgreement,
    Runtimes,
    Variants,
    stdout_console,
)
from lenet_edge.gates import DEFAULT_GATES
from lenet_edge.schema import strict_json

# Options as Annotated aliases: the signature below stays one readable line per option.
Host = Annotated[str | None, typer.Argument(
    help="host or user@host of the device (or --hosts); an IPv6 address without brackets "
         "(::1, fe80::1%eth0), the port with --port.")]
HostsFile = Annotated[Path | None, typer.Option(
    "--hosts", help="Deploy to every host in FILE in parallel: one host, user@host or "
                    "host:port per line, or an Ansible INI inventory.")]
User = Annotated[str | None, typer.Option("--user", "-u", help="SSH login (default: ssh's).")]
Port = Annotated[int | None, typer.Option("--port", "-p", help="SSH port (default: 22).")]
Identity = Annotated[Path | None, typer.Option("--identity", "-i", help="SSH private key.")]
KnownHosts = Annotated[Path | None, typer.Option(
    "--known-hosts", help="known_hosts file (default: ~/.ssh/known_hosts).")]
AcceptNew = Annotated[bool, typer.Option(
    "--accept-new-host-key", help="Trust and record an unknown host key on first contact "
                                  "(a changed key is always refused).")]
SshConfig = Annotated[Path | None, typer.Option("--ssh-config", help="ssh_config file to use.")]
SshOption = Annotated[list[str] | None, typer.Option(
    "--ssh-option", help="Extra OpenSSH option KEY=VALUE (repeatable).")]
ConnectTimeout = Annotated[int, typer.Option("--connect-timeout", min=1, help="Seconds.")]
RemoteDir = Annotated[str, typer.Option(
    "--remote-dir", help="Deploy directory on the device (relative paths: in the home), a "
                         "directory of its own: deploy refuses one holding files it did not "
                         "write.")]
RemotePython = Annotated[str | None, typer.Option(
    "--remote-python", help="A Python on the device that has lenet-edge and an interpreter "
                            "(default: deploy's own venv, REMOTE_DIR/venv).")]
Wheelhouse = Annotated[Path | None, typer.Option(
    "--wheelhouse", help="Install on the device offline, from the wheels in DIR.")]
Verify = Annotated[bool, typer.Option("--verify/--no-verify", help="Verify on the device.")]
Benchmark = Annotated[bool, typer.Option("--benchmark", help="Also benchmark on the device.")]
Threads = Annotated[str | None, typer.Option(
    "--threads", help="Benchmark interpreter threads on the device: one count, or several to "
                      "compare (1,2,4).")]
MinTime = Annotated[float | None, typer.Option(
    "--min-time", help="Benchmark: seconds of timed calls per variant, at least.")]
LockTimeout = Annotated[float, typer.Option(
    "--lock-timeout", help="Seconds to wait while another deploy holds the device.")]
Parallel = Annotated[int, typer.Option("--parallel", min=1, help="With --hosts: devices at once.")]
Canary = Annotated[int | None, typer.Option(
    "--canary", metavar="N", help="With --hosts: deploy to the first N hosts (file order) "
    "first, then to the rest; if a canary fails (verify, health check, error) stop there: "
    "the other hosts are not touched. Same as --batches N,100%.", show_default=False)]
Batches = Annotated[str | None, typer.Option(
    "--batches", metavar="LIST", help="With --hosts: roll out in batches, as Ansible's serial: "
    "host counts and whole percentages of the fleet, the last one repeating (1,10%,100%). "
    "The first batch is the canary: any failure in it stops the roll-out.",
    show_default=False)]
MaxFailPercent = Annotated[float | None, typer.Option(
    "--max-fail-percent", metavar="P", help="With --canary/--batches: stop before the next "
    "batch when more than P% of a later batch's hosts failed (Ansible's max_fail_percentage; "
    "a batch whose hosts all failed always stops it).", show_default=False)]
EmitAnsible = Annotated[Path | None, typer.Option(
    "--emit-ansible", help="Write an Ansible playbook and inventory doing the same steps into "
                           "DIR, instead of deploying.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")]


def deploy(
    model_dir: BundleDir,
    host: Host = None,
    hosts_file: HostsFile = None,
    variant: Variants = None,
    user: User = None,
    port: Port = None,
    identity: Identity = None,
    known_hosts: KnownHosts = None,
    accept_new_host_key: AcceptNew = False,
    ssh_config: SshConfig = None,
    ssh_option: SshOption = None,
    connect_timeout: ConnectTimeout = 10,
    remote_dir: RemoteDir = "lenet-edge",
    remote_python: RemotePython = None,
    wheelhouse: Wheelhouse = None,
    verify: Verify = True,
    runtime: Runtimes = None,
    max_drop: MaxDrop = DEFAULT_GATES.max_drop,
    min_agreement: MinAgreement = DEFAULT_GATES.min_agreement,
    benchmark: Benchmark = False,
    threads: Threads = None,
    min_time: MinTime = None,
    lock_timeout: LockTimeout = 60,
    parallel: Parallel = 8,
    canary: Canary = None,
    batches: Batches = None,
    max_fail_percent: MaxFailPercent = None,
    emit_ansible: EmitAnsible = None,
    as_json: AsJson = False,
) -> None:
    """Pack the chosen variants, install them atomically on the device, verify them there.

    The device's verify / benchmark JSON comes back into MODEL_DIR as
    device-<host>-verify.json and device-<host>-benchmark.json. Exit 1 if verification
    failed on a device (it is rolled back to the previous release), 7 if a device failed.
    With --hosts: exit 1 if any host failed or was not started (the roll-out stopped).

    After verify passes, a health check runs `predict` on the live release with each
    variant, on known-answer images from the bundle's reference set (one per class, the
    float model's answer); a wrong answer rolls back as a failed verify does.
    """
    from rich.console import Console

    from lenet_edge.deploy.release import DeployConfig, SshOptions
    from lenet_edge.errors import UsageError
    from lenet_edge.gates import Gates

    if (host is None) == (hosts_file is None):
        raise UsageError("give either HOST or --hosts FILE")
    from lenet_edge.deploy.rollout import Rollout

    rollout = Rollout.from_options(canary, batches, max_fail_percent)
    if rollout.staged and hosts_file is None and emit_ansible is None:
        raise UsageError("--canary and --batches order the hosts of --hosts FILE; "
                         "one HOST has no batches")
    config = DeployConfig(
        variants=tuple(variant or ()), remote_dir=remote_dir, remote_python=remote_python,
        runtimes=tuple(runtime or ()), verify=verify, benchmark=benchmark,
        gates=Gates(max_drop, min_agreement), bench_threads=threads, bench_min_time=min_time,
        wheelhouse=wheelhouse, lock_timeout=lock_timeout,
    )
    ssh = SshOptions(
        identity=identity, known_hosts=known_hosts, accept_new_host_key=accept_new_host_key,
        config_file=ssh_config, connect_timeout=connect_timeout, extra=tuple(ssh_option or ()),
    )
    err = Console(stderr=True)
    if emit_ansible is not None:
        from lenet_edge.deploy.ansible import emit_ansible as emit

        written = emit(model_dir, _entries(host, hosts_file, user, port), config, emit_ansible,
                       rollout)
        err.print(f"wrote {', '.join(map(str, written))}")
        typer.echo(f"run: ansible-playbook -i {emit_ansible / 'inventory.ini'} "
                   f"{emit_ansible / 'deploy.yml'}")
        return
    if hosts_file is not None:
        _fleet(model_dir, _entries(None, hosts_file, user, port), config, ssh, parallel,
               as_json, err, rollout)
        return

    from lenet_edge.deploy.release import deploy as run_deploy

    result = run_deploy(model_dir, host, user=user, port=port, config=config, ssh=ssh,
                        progress=lambda message: _progress(err, host, message))
    if as_json:
        typer.echo(strict_json(result.as_dict(), "--json"))
    else:
        from lenet_edge.deploy.tables import result_tables

        console = stdout_console()
        for table in result_tables(model_dir, result):
            console.print(table)
    if result.passed is False:
        failed = ("verification" if not result.health or result.health["passed"] else
                  f"health check ({result.health['summary']})")
        err.print(f"{failed} failed on {host}: rolled back to {result.live or 'no release'}",
                  markup=False, highlight=False)
        raise typer.Exit(1)


def _entries(host, hosts_file, user, port):
    from lenet_edge.deploy.fleet import HostEntry, read_hosts
    from lenet_edge.deploy.target import parse_target

    if hosts_file is not None:
        return read_hosts(hosts_file, user, port)
    target = parse_target(host, user, port)
    return [HostEntry(target.host, target)]


def _fleet(model_dir, entries, config, ssh, parallel, as_json, err, rollout) -> None:

    from lenet_edge.deploy.fleet import deploy_fleet
    from lenet_edge.deploy.tables import fleet_table

    outcomes = deploy_fleet(model_dir, entries, config, ssh, parallel,
                            progress=lambda name, message: _progress(err, name, message),
                            rollout=rollout)
    if as_json:
        typer.echo(strict_json([o.as_dict() for o in outcomes], "--json"))
    else:
        stdout_console().print(fleet_table(outcomes))
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)


def _progress(err, name: str, message: str) -> None:
    # Device output is plain text: brackets like [runtime] are not rich markup; one line per
    # message, not wrapped at the console width (a path must stay greppable).
    err.print(f"{name}: {message}", markup=False, highlight=False, soft_wrap=True)
