#!/usr/bin/env python3
"""Training benchmark: accuracy, epochs, wall time and images/s, side by side.

Each row is one `lenet-edge train --json` run in a fresh process (the whole command, TF
import included, is the "command" column). MNIST is not measured: it downloads through
Keras, and this machine is offline. Run: `.venv/bin/python scripts/bench_train.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

RUNS = {
    "digits (defaults)": ["--dataset", "digits"],
    "fashion-mnist (defaults)": ["--dataset", "fashion-mnist"],
    # The baseline the defaults are judged against: plain Adam-like, flat rate, 5 epochs.
    "fashion-mnist (plain 5 epochs)": [
        "--dataset", "fashion-mnist", "--epochs", "5", "--schedule", "constant",
        "--learning-rate", "1e-3", "--weight-decay", "0", "--warmup-epochs", "0",
    ],
}


def run(args: list[str]) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "lenet_edge", "train", *args, "--out", f"{tmp}/m", "--json"],
            capture_output=True, text=True, env={**os.environ, "LENET_EDGE_OFFLINE": "1"},
        )
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"train {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(RUNS), action="append",
                        help="run only these rows (repeatable)")
    chosen = parser.parse_args().only or list(RUNS)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    header = f"{'run':<32}{'test acc':>10}{'epochs':>8}{'train s':>9}{'command s':>11}{'img/s':>9}"
    print(header)
    print("-" * len(header))
    for name in chosen:
        record, wall = run(RUNS[name])
        print(f"{name:<32}{record['test_accuracy'] * 100:>9.2f}%{record['config']['epochs']:>8}"
              f"{record['train_seconds']:>9.1f}{wall:>11.1f}{record['images_per_second']:>9.0f}",
              flush=True)


if __name__ == "__main__":
    main()
