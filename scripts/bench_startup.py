#!/usr/bin/env python3
"""Start-up benchmark: how long `lenet-edge` takes before it does any work, per venv.

Times, as a user on a device runs them (the venv's `lenet-edge` console script):
`lenet-edge --help`, `lenet-edge --version` and `lenet-edge verify` of one variant (fp32, on
the bundle's reference images, --no-save), in the device venv (.venv-runtime) and the full
one (.venv). Targets (issue 11): --help <= 0.15 s, verify of one variant <= 0.5 s.

The machine is shared and noisy, so every command runs --reps times, interleaved round-robin
(one repetition of each command, then the next), and the median wall and CPU times are
reported beside the plain interpreter start (`python -c pass`), the floor no change to
lenet-edge can lower. `--baseline DIR` times another checkout's lenet_edge in the same round
(before and after a change, side by side). Then `python -X importtime` names the packages that
take longest to import for --help and verify, and which module first imported each.

Run: `.venv/bin/python scripts/bench_startup.py [BUNDLE] [--reps N] [--top N] [--baseline DIR]`.
With no BUNDLE it trains and converts a digits model first (about half a minute).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = (".venv-runtime", ".venv")
TARGETS = {"--help": 0.15, "verify fp32": 0.5}  # seconds, issue 11
ENV = {**os.environ, "LENET_EDGE_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "80"}


@dataclass(frozen=True)
class Setup:
    """A venv running the lenet_edge of one checkout (PYTHONPATH wins over the editable install)."""

    venv: Path
    checkout: Path
    label: str

    def env(self) -> dict[str, str]:
        return {**ENV, "PYTHONPATH": str(self.checkout)}


def commands(setup: Setup, bundle: Path) -> dict[str, list[str]]:
    exe = str(setup.venv / "bin" / "lenet-edge")
    return {
        "python -c pass": [str(setup.venv / "bin" / "python"), "-c", "pass"],
        "--help": [exe, "--help"],
        "--version": [exe, "--version"],
        "verify fp32": [exe, "verify", str(bundle), "--variant", "fp32", "--no-save"],
    }


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run; a failed run stops the benchmark.

    CPU time barely moves when other processes take the cores, wall time does: both are shown.
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=env, cwd=tempfile.gettempdir())  # no ./lenet_edge shadowing
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_bundle(where: Path) -> Path:
    exe = str(ROOT / ".venv" / "bin" / "lenet-edge")
    model = where / "m"
    print(f"training and converting a digits model in {model} ...", file=sys.stderr)
    for argv in ([exe, "train", "--dataset", "digits", "--out", str(model)],
                 [exe, "convert", str(model)]):
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return model


def timings(setups: list[Setup], bundle: Path, reps: int) -> dict[tuple[str, str], list]:
    """(wall, CPU) seconds per (setup, command), interleaved so a busy spell hits all alike."""
    plan = [(setup, name, argv) for setup in setups
            for name, argv in commands(setup, bundle).items()]
    for setup, _, argv in plan:  # untimed: byte-compiles and warms the page cache
        run(argv, setup.env())
    times: dict[tuple[str, str], list] = {(s.label, n): [] for s, n, _ in plan}
    for _ in range(reps):
        for setup, name, argv in plan:
            times[setup.label, name].append(run(argv, setup.env()))
    return times


def print_table(setups: list[Setup], bundle: Path, times: dict, reps: int) -> None:
    for kind, index in (("wall", 0), ("CPU (user + system)", 1)):
        print(f"\nmedian {kind} time of {reps} runs, seconds (min-max in brackets)\n")
        print(f"| command | {' | '.join(s.label for s in setups)} | target |")
        print(f"|---|{'---:|' * len(setups)}---:|")
        for name in commands(setups[0], bundle):
            cells = []
            for setup in setups:
                t = [run[index] for run in times[setup.label, name]]
                cells.append(f"{statistics.median(t):.3f} ({min(t):.2f}-{max(t):.2f})")
            target = f"<= {TARGETS[name]:g}" if name in TARGETS and index == 0 else ""
            print(f"| {name} | {' | '.join(cells)} | {target} |")


def import_lines(setup: Setup, args: list[str]) -> list[tuple[int, int, str]]:
    """(self us, depth, module) of every import of `lenet-edge ARGS`, in -X importtime order."""
    code = (f"import sys; sys.argv = ['lenet-edge', *{args!r}]; "
            "from lenet_edge.cli import main; main()")
    proc = subprocess.run([str(setup.venv / "bin" / "python"), "-X", "importtime", "-c", code],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=setup.env(), cwd=tempfile.gettempdir())
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "| imported package" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((int(own), depth, name.strip()))
    return rows


def offenders(rows: list[tuple[int, int, str]]) -> list[tuple[int, str, str]]:
    """(self us summed over a package, the package, the module that first imported it)."""
    totals: dict[str, int] = {}
    via: dict[str, str] = {}
    for i, (own, _, name) in enumerate(rows):
        package = name.split(".")[0]
        totals[package] = totals.get(package, 0) + own
        if package not in via:
            via[package] = _importer(rows, i, package)
    return sorted(((t, p, via[p]) for p, t in totals.items()), reverse=True)


def _importer(rows: list[tuple[int, int, str]], i: int, package: str) -> str:
    """The closest lenet_edge module, else the outermost one, that imported rows[i].

    -X importtime lists a module after the ones it imported, one level shallower; "-" means
    no module did: a function imported it when called.
    """
    depth, outermost = rows[i][1], "-"
    for _, d, name in rows[i + 1:]:
        if depth == 0:
            break
        if d < depth:
            depth = d
            if name.startswith("lenet_edge"):
                return name
            if name.split(".")[0] != package:
                outermost = name
    return outermost


def print_offenders(setup: Setup, bundle: Path, top: int) -> None:
    for name, args in (("--help", ["--help"]),
                       ("verify fp32", ["verify", str(bundle), "--variant", "fp32",
                                        "--no-save"])):
        rows = import_lines(setup, args)
        total = sum(r[0] for r in rows)
        print(f"\n{setup.label} `lenet-edge {name}`: {len(rows)} modules imported, "
              f"{total / 1e3:.0f} ms (one run of -X importtime); slowest packages:")
        for own, package, importer in offenders(rows)[:top]:
            print(f"  {own / 1e3:6.1f} ms  {package:<20} first imported by {importer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path,
                        help="a converted model bundle (default: train a digits one)")
    parser.add_argument("--reps", type=int, default=9, help="runs per command (default 9)")
    parser.add_argument("--top", type=int, default=10, help="packages to list (default 10)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another checkout to time side by side, e.g. the one before a "
                             "change: git archive REV lenet_edge | tar -x -C DIR")
    args = parser.parse_args()
    venvs = [ROOT / v for v in VENVS if (ROOT / v / "bin" / "lenet-edge").exists()]
    if not venvs:
        sys.exit("no venv with lenet-edge installed: run `make test` once")
    setups = [Setup(venv, ROOT, venv.name) for venv in venvs]
    if args.baseline:
        if not (args.baseline / "lenet_edge" / "cli").is_dir():
            sys.exit(f"{args.baseline} holds no lenet_edge/cli")
        setups += [Setup(venv, args.baseline.resolve(), f"{venv.name} baseline")
                   for venv in venvs]
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        bundle = (args.bundle or make_bundle(Path(tmp))).resolve()
        times = timings(setups, bundle, args.reps)
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print_table(setups, bundle, times, args.reps)
        for setup in setups[:len(venvs)]:
            print_offenders(setup, bundle, args.top)


if __name__ == "__main__":
    main()
