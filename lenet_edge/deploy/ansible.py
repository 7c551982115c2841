"""`--emit-ansible DIR`: the same deploy as an Ansible playbook, for fleets.

Writes DIR/inventory.ini, DIR/deploy.yml, DIR/bundle/ (the device bundle) and DIR/wheels/
(lenet-edge). The playbook runs the very `sh -c` scripts the SSH path runs (sha256 check,
finalize, switch, roll back, prune, from install.py), so both paths behave alike; Ansible's
copy module does the upload. Locking: the playbook makes `.deploy.lock.d` under `flock -n` on
the SSH path's lock file, so an Ansible run and `lenet-edge deploy` exclude each other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.deploy import DeployConfig, install
from lenet_edge.deploy.device_bundle import pack
from lenet_edge.deploy.wheel import build_wheel

PLAYBOOK = "deploy.yml"
INVENTORY = "inventory.ini"
ROOT = "{{ root }}"
RELEASE = "{{ release_id }}"


def to_yaml(obj, indent: int = 0) -> str:
    """Block-style YAML: dicts and lists as blocks, multi-line strings as literal blocks,
    other scalars (and lists of one-line scalars) as JSON, which is valid YAML.

    Hand-written so emitting needs no YAML library on the workstation.
    """
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if _is_block(value):
                lines.append(f"{pad}{key}:\n{to_yaml(value, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {_scalar(value, indent + 2)}")
        return "\n".join(lines)
    for item in obj:
        body = to_yaml(item, indent + 2) if _is_block(item) else _scalar(item, indent + 2)
        lines.append(f"{pad}- {body.lstrip()}")
    return "\n".join(lines)


def _is_block(value) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(
        isinstance(v, dict | list) or (isinstance(v, str) and "\n" in v) for v in value))


def _scalar(value, indent: int) -> str:
    if isinstance(value, str) and "\n" in value:
        chomp = "" if value.endswith("\n") else "-"
        body = "\n".join(" " * indent + line if line else "" for line in value.splitlines())
        return f"|{chomp}\n{body}"
    return json.dumps(value)


def _sh(name: str, script: str, *args: str, **extra) -> dict:
    """A task running one of install.py's scripts: `sh -c SCRIPT sh ARGS...`."""
    argv = ["sh", "-c", script.strip() + "\n", "sh", *args]
    return {"name": name, "ansible.builtin.command": {"argv": argv, **extra}}


def _check_options(kind: str, config: DeployConfig) -> list[str]:
    args = [a for r in config.runtimes for a in ("--runtime", r)]
    pairs = ({"--max-drop": config.max_drop, "--min-agreement": config.min_agreement}
             if kind == "verify" else
             {"--threads": config.bench_threads, "--min-time": config.bench_min_time})
    return args + [a for flag, v in pairs.items() if v is not None for a in (flag, str(v))]


def _device_check(kind: str, config: DeployConfig) -> list[dict]:
    """Run verify / benchmark on the device and fetch its JSON into the local bundle."""
    out = f"{ROOT}/results/{RELEASE}-{kind}.json"
    argv = ["{{ python }}", "-m", "lenet_edge", kind, f"{ROOT}/current", "--json", out,
            *_check_options(kind, config)]
    return [
        {"name": f"Run lenet-edge {kind} on the device",
         "ansible.builtin.command": {"argv": argv}, "register": f"{kind}_run",
         "changed_when": False, "failed_when": False},
        {"name": f"Fetch the {kind} report into the local bundle",
         "ansible.builtin.fetch": {
             "src": out, "flat": True,
             "dest": "{{ results_dir }}/device-{{ inventory_hostname }}-" + f"{kind}.json"},
         "failed_when": False},
    ]


def _rollback() -> dict:
    return {"name": "Roll back when verification failed on the device",
            "when": "verify_run.rc != 0",
            "block": [
                _sh("Switch current back to the previous release", install.SWITCH_SCRIPT, ROOT,
                    "{{ previous }}"),
                _sh("Mark the release failed", install.MARK_FAILED_SCRIPT, ROOT, RELEASE),
                {"name": "Fail this host", "ansible.builtin.fail": {
                    "msg": "verify failed on the device (exit {{ verify_run.rc }}); rolled back"}},
            ]}


def _install_runtime(wheel: str, config: DeployConfig) -> list[dict]:
    if config.remote_python:
        return []
    offline = f"--no-index --find-links {ROOT}/wheels"
    return [
        {"name": "Upload lenet-edge (and any wheelhouse) wheels",
         "ansible.builtin.copy": {"src": "wheels/", "dest": f"{ROOT}/wheels/", "mode": "0644"}},
        {"name": "Install lenet-edge with its runtime extra into a venv",
         "ansible.builtin.pip": {
             "name": f"{ROOT}/wheels/{wheel}[runtime]", "virtualenv": f"{ROOT}/venv",
             "virtualenv_command": "python3 -m venv",
             "extra_args": offline if config.wheelhouse else "--retries 1 --timeout 20"}},
    ]


def playbook(files: list[str], sha256sums: str, wheel: str, config: DeployConfig,
             results_dir: Path) -> list[dict]:
    """The play as data: the same steps as `deploy_to`, one task each."""
    root = install.RemoteLayout.parse(config.remote_dir).root
    partial = f"{ROOT}/releases/{RELEASE}.partial"
    lock_dir = f"{ROOT}/{install.ANSIBLE_LOCK_DIR}"
    steps = [
        {"name": "Name the release", "ansible.builtin.set_fact": {
            "release_id": "{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}-{{ 16777215 | random }}"}},
        *_install_runtime(wheel, config),
        {"name": "Create the partial release directory",
         "ansible.builtin.file": {"path": partial, "state": "directory", "mode": "0755"}},
        {"name": f"Upload the device bundle ({', '.join(files)})", "ansible.builtin.copy": {
            "src": "bundle/", "dest": f"{partial}/", "mode": "0644"}},
        _sh("Check every sha256 on the device", install.CHECK_SCRIPT, ROOT, RELEASE,
            stdin="{{ sha256sums }}"),
        _sh("Finalize the release", install.FINALIZE_SCRIPT, ROOT, RELEASE),
        {**_sh("Switch current to the new release", install.SWITCH_SCRIPT, ROOT,
               f"releases/{RELEASE}"), "register": "switched"},
        {"name": "Remember the previous release",
         "ansible.builtin.set_fact": {"previous": "{{ switched.stdout | trim }}"}},
    ]
    if config.verify:
        steps += [*_device_check("verify", config), _rollback()]
    if config.benchmark:
        steps += _device_check("benchmark", config)
    steps.append(_sh("Keep the live release and the one before it", install.PRUNE_SCRIPT, ROOT,
                     RELEASE, "{{ previous | regex_replace('^releases/', '') }}"))
    relative = not root.startswith("/")  # then the home directory comes from gathered facts
    return [{
        "name": "Deploy a lenet-edge bundle, verify it on each device, fetch the results",
        "hosts": "devices",
        "gather_facts": relative,
        **({"gather_subset": ["min"]} if relative else {}),
        "vars": {
            "remote_dir": root,
            "root": "{{ remote_dir if remote_dir.startswith('/') "
                    "else ansible_user_dir ~ '/' ~ remote_dir }}",
            "python": config.remote_python or f"{ROOT}/venv/bin/python",
            "results_dir": str(results_dir),
            "sha256sums": sha256sums,
        },
        "tasks": [
            {"name": "Create the deploy directory",
             "ansible.builtin.file": {"path": f"{ROOT}/releases", "state": "directory",
                                      "mode": "0755"}},
            {"name": "Take the deploy lock (fails while another deploy holds the device)",
             "ansible.builtin.command": {
                 "argv": ["flock", "-n", f"{ROOT}/.deploy.lock", "mkdir", lock_dir]}},
            {"name": "Deploy under the lock", "block": steps, "always": [
                {"name": "Release the deploy lock",
                 "ansible.builtin.file": {"path": lock_dir, "state": "absent"}}]},
        ],
    }]


def emit_ansible(model_dir: str | Path, entries, config: DeployConfig, out_dir: str | Path
                 ) -> list[Path]:
    """Write deploy.yml, inventory.ini, bundle/ and wheels/ into `out_dir`; return them.

    Args:
        entries: fleet.HostEntry rows (validated hosts) for the inventory.
    """
    out = Path(out_dir)
    device_bundle = pack(model_dir, config.variants)
    for sub in ("bundle", "wheels"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for name, data in device_bundle.files.items():
        bundle.write_bytes(out / "bundle" / name, data)
    wheel = build_wheel(out / "wheels")
    for extra in sorted(config.wheelhouse.glob("*.whl")) if config.wheelhouse else []:
        shutil.copy2(extra, out / "wheels" / extra.name)

    inventory = ["# Generated by lenet-edge deploy --emit-ansible", "[devices]"]
    for entry in entries:
        t = entry.target
        user = f" ansible_user={t.user}" if t.user else ""
        inventory.append(f"{entry.name} ansible_host={t.host} ansible_port={t.port}{user}")
    bundle.write_bytes(out / INVENTORY, ("\n".join(inventory) + "\n").encode())
    play = playbook(sorted(device_bundle.files), device_bundle.sha256sums(), wheel.name, config,
                    Path(model_dir).resolve())
    header = ("# Generated by `lenet-edge deploy --emit-ansible`: the steps of the SSH deploy.\n"
              "# Run: ansible-playbook -i inventory.ini deploy.yml\n")
    bundle.write_bytes(out / PLAYBOOK, (header + to_yaml(play) + "\n").encode())
    return [out / PLAYBOOK, out / INVENTORY, out / "bundle", out / "wheels"]
