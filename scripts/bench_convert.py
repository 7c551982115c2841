#!/usr/bin/env python3
"""Conversion benchmark: seconds per variant, sizes and fidelity to the float model, side by side.

Each run is one `lenet-edge convert` of a fresh copy of a trained model, in its own process
(so the "command" time includes importing TensorFlow, as a CI job pays it). The budget is
all seven variants in <= 15 s. Fidelity is measured here without TensorFlow, through the
runtime half (`load_runner`) on the bundle's reference.npz.

Run: `.venv/bin/python scripts/bench_convert.py [MODEL_DIR ...] [--dataset NAME] [--runs N]`.
With no MODEL_DIR it first trains one per --dataset (default: digits) with default settings.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lenet_edge import bundle
from lenet_edge.data.classes import DATASETS
from lenet_edge.data.preprocess import preprocess
from lenet_edge.runtime.runner import load_runner

BUDGET_S = 15.0
ENV = {**os.environ, "LENET_EDGE_OFFLINE": "1"}


def lenet_edge(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "lenet_edge", *args], capture_output=True,
                          text=True, env=ENV)
    if proc.returncode != 0:
        sys.exit(f"lenet-edge {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc


def convert_once(model_dir: Path, scratch: Path) -> tuple[dict, float, float, Path]:
    """Convert a fresh copy of `model_dir`; return (manifest, wall s, CPU s, the copy)."""
    target = scratch / f"run-{time.monotonic_ns()}"
    shutil.copytree(model_dir, target, ignore=shutil.ignore_patterns("*.tflite", "*.onnx",
                                                                      "manifest.json",
                                                                      "reference.npz"))
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    lenet_edge("convert", str(target), "--json")
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return bundle.read_manifest(target), wall, cpu, target


def fidelity(bundle_dir: Path, manifest: dict) -> dict[str, dict[str, float]]:
    """Per variant: max |logit - Keras logit|, top-1 agreement with Keras, test accuracy."""
    reference = bundle.load_reference(bundle_dir, manifest)
    images = preprocess(reference.images)
    results = {}
    for name, entry in manifest["artifacts"].items():
        runner = load_runner(bundle.read_verified(bundle_dir, entry), entry["format"])
        logits = runner.predict(images)
        results[name] = {
            "max_abs": float(np.max(np.abs(logits - reference.logits))),
            "agreement": float(np.mean(logits.argmax(1) == reference.logits.argmax(1))),
            "accuracy": float(np.mean(logits.argmax(1) == reference.labels)),
        }
    return results


def report(model_dir: Path, runs: int, scratch: Path) -> None:
    results = [convert_once(model_dir, scratch) for _ in range(runs)]
    manifest, _, _, last_dir = results[-1]
    walls = [wall for _, wall, _, _ in results]
    cpus = [cpu for _, _, cpu, _ in results]
    artifacts = manifest["artifacts"]
    fp32_bytes = artifacts["fp32"]["bytes"]
    quality = fidelity(last_dir, manifest)
    dataset = manifest["dataset"]
    print(f"\n{dataset['name']}: {model_dir} (float test accuracy "
          f"{manifest['float_test_accuracy'] * 100:.2f}%, {dataset['num_test']} test images)")
    header = (f"{'variant':<11}{'format':<8}{'bytes':>9}{'% fp32':>8}{'convert s':>11}"
              f"{'max |d logit|':>15}{'top-1 agree':>13}{'accuracy':>10}  min runtime / opset")
    print(header)
    print("-" * len(header))
    for name, entry in artifacts.items():
        seconds = statistics.median(m["artifacts"][name]["converter"]["seconds"]
                                    for m, _, _, _ in results)
        q = quality[name]
        runtime = entry.get("min_runtime_version") or f"opset {entry.get('opset')}"
        print(f"{name:<11}{entry['format']:<8}{entry['bytes']:>9}"
              f"{entry['bytes'] / fp32_bytes * 100:>7.1f}%{seconds:>11.2f}"
              f"{q['max_abs']:>15.2e}{q['agreement'] * 100:>12.2f}%{q['accuracy'] * 100:>9.2f}%"
              f"  {runtime}")
    variants_s = sum(entry["converter"]["seconds"] for entry in artifacts.values())
    wall = statistics.median(walls)
    verdict = "within" if wall <= BUDGET_S else "OVER"
    print(f"command (TF import, data, {len(artifacts)} variants, writes): median {wall:.1f} s "
          f"wall, {statistics.median(cpus):.1f} s CPU over {runs} run(s); variants alone "
          f"{variants_s:.1f} s; {verdict} the {BUDGET_S:.0f} s budget")
    print(f"load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores (wall time stretches on a busy machine; CPU time less so)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dirs", nargs="*", type=Path, help="trained model directories")
    parser.add_argument("--dataset", action="append", choices=DATASETS,
                        help="train one with defaults when no MODEL_DIR is given (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="conversions per model (median)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        scratch = Path(tmp)
        model_dirs = list(args.model_dirs)
        for name in ([] if model_dirs else args.dataset or ["digits"]):
            out = scratch / f"trained-{name}"
            print(f"training on {name} (not timed) ...", flush=True)
            lenet_edge("train", "--dataset", name, "--out", str(out), "--json")
            model_dirs.append(out)
        for model_dir in model_dirs:
            report(model_dir, args.runs, scratch)


if __name__ == "__main__":
    main()
