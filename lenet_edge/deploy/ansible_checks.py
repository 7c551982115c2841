"""The checks on the device as Ansible tasks: verify, the health check, benchmark, rollback.

Each runs what the SSH path runs (release.py, health_check.py): the same `lenet-edge`
commands with the same options, and install.py's switch and mark-failed scripts to roll back.
ansible.py puts them into the play after the switch.
"""

from __future__ import annotations

from lenet_edge.deploy import install
from lenet_edge.deploy.device_checks import GATE_FAILED
from lenet_edge.deploy.release import DeployConfig, gate_options

ROOT = "{{ root }}"
RELEASE = "{{ release_id }}"
KNOWN_ANSWERS = "known-answers.npy"  # in DIR: the health check's images (health_check.py)


def sh_task(name: str, script: str, *args: str, **extra) -> dict:
    """A task running one of install.py's scripts: `sh -c SCRIPT sh ARGS...`."""
    argv = ["sh", "-c", script.strip() + "\n", "sh", *args]
    return {"name": name, "ansible.builtin.command": {"argv": argv, **extra}}


def _check_options(kind: str, config: DeployConfig) -> list[str]:
    args = [a for r in config.runtimes for a in ("--runtime", r)]
    if kind == "verify":
        return args + gate_options(config.gates)
    pairs = {"--threads": config.bench_threads, "--min-time": config.bench_min_time}
    return args + [a for flag, v in pairs.items() if v is not None for a in (flag, str(v))]


def _run_check(kind: str, config: DeployConfig, **extra) -> dict:
    """Run verify / benchmark on the device, writing its JSON under results/."""
    argv = ["{{ python }}", "-m", "lenet_edge", kind, f"{ROOT}/current", "--json",
            _report(kind), *_check_options(kind, config)]
    return {"name": f"Run lenet-edge {kind} on the device",
            "ansible.builtin.command": {"argv": argv}, "register": f"{kind}_run",
            "changed_when": False, **extra}


def _report(kind: str) -> str:
    return f"{ROOT}/results/{RELEASE}-{kind}.json"


def _fetch(kind: str, **extra) -> dict:
    """Bring the device's JSON into the local bundle; a failed fetch fails the host."""
    return {"name": f"Fetch the {kind} report into the local bundle",
            "ansible.builtin.fetch": {
                "src": _report(kind), "flat": True, "fail_on_missing": True,
                "dest": "{{ results_dir }}/device-{{ inventory_hostname }}-" + f"{kind}.json"},
            **extra}


def verify_steps(config: DeployConfig) -> list[dict]:
    """Verify, fetch its report (pass or gate failure), roll back unless it passed.

    The rollback sits in `always`, so a failed fetch never leaves a failing release live.
    """
    wrote_report = f"verify_run.rc in [0, {GATE_FAILED}]"  # other exits may write no JSON
    return [
        _run_check("verify", config, failed_when=False),
        {"name": "Fetch the verify report, then roll back if verification failed",
         "block": [_fetch("verify", when=wrote_report)], "always": [_rollback()]},
    ]


def health_steps(checks: dict[str, str], expected: list[int]) -> list[dict]:
    """The health check as on the SSH path (health_check.py): `predict` with each variant
    ({variant: runtime}) on the known-answer images; a wrong answer or a failed predict
    rolls back like a failed verify (the rescue)."""
    classes = ("item.stdout | from_json | map(attribute='predictions') | map('first') "
               "| map(attribute='class') | list")
    runs = [{"variant": variant, "argv": [
        "{{ python }}", "-m", "lenet_edge", "predict", f"{ROOT}/current",
        "{{ known_answers.path }}", "--top-k", "1", "--json", "--variant", variant,
        *([] if runtime == "auto" else ["--runtime", runtime])]}
        for variant, runtime in checks.items()]
    return [{
        "name": "Health check: predict the known answers on the device, roll back if wrong",
        "block": [
            {"name": "Make a temporary file for the known-answer images",
             "ansible.builtin.tempfile": {"suffix": ".npy"}, "register": "known_answers"},
            {"name": "Upload the known-answer images",
             "ansible.builtin.copy": {"src": KNOWN_ANSWERS, "dest": "{{ known_answers.path }}",
                                      "mode": "0600"}},
            {"name": "Predict them with each variant",
             "ansible.builtin.command": {"argv": "{{ item.argv }}"}, "loop": runs,
             "loop_control": {"label": "{{ item.variant }}"}, "register": "health_run",
             "changed_when": False},
            {"name": f"Check each variant gives the known answers {expected}",
             "ansible.builtin.assert": {
                 "that": f"({classes}) == {expected}", "quiet": True,
                 "fail_msg": "{{ item.item.variant }} predicted {{ " + classes + " }}"},
             "loop": "{{ health_run.results }}",
             "loop_control": {"label": "{{ item.item.variant }}"}},
        ],
        "rescue": [
            sh_task("Switch current back to the previous release", install.SWITCH_SCRIPT, ROOT,
                "{{ previous }}"),
            sh_task("Mark the release failed", install.MARK_FAILED_SCRIPT, ROOT, RELEASE),
            {"name": "Fail this host", "ansible.builtin.fail": {
                "msg": "health check failed on the device: {{ ansible_failed_result.msg "
                       "| default('') }}; rolled back"}},
        ],
        "always": [
            {"name": "Remove the known-answer images", "ansible.builtin.file": {
                "path": "{{ known_answers.path }}", "state": "absent"},
             "when": "known_answers.path is defined"},
        ],
    }]


def benchmark_steps(config: DeployConfig) -> list[dict]:
    # The release passed verify and stays live, as on the SSH path; a failed run fails the host.
    return [_run_check("benchmark", config), _fetch("benchmark")]


def _rollback() -> dict:
    return {"name": "Roll back when verification failed on the device",
            "when": "verify_run.rc != 0",
            "block": [
                sh_task("Switch current back to the previous release", install.SWITCH_SCRIPT, ROOT,
                    "{{ previous }}"),
                sh_task("Mark the release failed", install.MARK_FAILED_SCRIPT, ROOT, RELEASE),
                {"name": "Fail this host", "ansible.builtin.fail": {
                    "msg": "verify failed on the device (exit {{ verify_run.rc }}: "
                           "{{ verify_run.stderr_lines | last | default('') }}); rolled back"}},
            ]}
