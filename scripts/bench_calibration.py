"""Sweep calibration size and method; print test accuracy and agreement with float per setting.

    .venv/bin/python scripts/bench_calibration.py [--dataset fashion-mnist] [--model DIR]
                                                  [--sizes 1,10,100,500,2000]

Trains LeNet-5 with the defaults (digits: seed 0) unless --model names a trained model folder,
then converts it once per setting the way `convert` does (same image draw, same recipes
through toolchain.calibration.CalibrationChoice) and scores each model on the whole test
set: accuracy, and top-1 agreement with the float model. Settings: TFLite int8 with
per-channel and per-tensor weight scales (min/max: the converter's only method) and
onnx-int8 with MinMax, Entropy and Percentile calibration (per-channel). A size larger than
the training split is shown as "-". Needs the toolchain (TensorFlow, onnxruntime).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SETTINGS = (  # (column, variant, calibration method, per-channel weights)
    ("int8 ch", "int8", "minmax", True),
    ("int8 tensor", "int8", "minmax", False),
    ("onnx minmax", "onnx-int8", "minmax", True),
    ("onnx entropy", "onnx-int8", "entropy", True),
    ("onnx pctile", "onnx-int8", "percentile", True),
)


def train(dataset: str, out: Path) -> None:
    env = dict(os.environ, LENET_EDGE_OFFLINE="1", PYTHONPATH=str(REPO))
    args = ["train", "--dataset", dataset, "--out", str(out)]
    if dataset == "digits":
        args += ["--seed", "0"]  # as the committed test bundle
    subprocess.run([sys.executable, "-m", "lenet_edge", *args], env=env, check=True)


def sweep(model_dir: Path, sizes: list[int]) -> None:
    from lenet_edge.data.datasets import load_dataset
    from lenet_edge.data.preprocess import preprocess
    from lenet_edge.toolchain import forward as forward_graph
    from lenet_edge.toolchain import mixed_precision
    from lenet_edge.toolchain import onnx as onnx_export
    from lenet_edge.toolchain import tflite as tflite_export
    from lenet_edge.toolchain.calibration import CalibrationChoice
    from lenet_edge.toolchain.model import load_trained
    from lenet_edge.toolchain.splits import calibration_indices

    model, info = load_trained(model_dir)
    config = info["config"]
    dataset = load_dataset(config["dataset"], config.get("data_dir"))
    x_test = preprocess(dataset.x_test)
    float_top1 = np.argmax(model.predict(x_test, batch_size=1024, verbose=0), axis=1)
    forward = forward_graph.forward_function(model)
    frozen, float_onnx = forward_graph.frozen(forward), onnx_export.export_float_onnx(forward)

    def score(logits: np.ndarray) -> str:
        top1 = logits.argmax(1)
        return (f"{np.mean(top1 == dataset.y_test) * 100:6.2f} "
                f"{np.mean(top1 == float_top1) * 100:6.2f}")

    def run_onnx(data: bytes) -> np.ndarray:
        import onnxruntime

        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x_test})[0]

    print(f"{config['dataset']}: float accuracy {np.mean(float_top1 == dataset.y_test) * 100:.2f}%"
          f" on {len(x_test)} test images; each cell: accuracy %, agreement with float %")
    print(f"{'images':>7}  " + "  ".join(f"{name:>13}" for name, *_ in SETTINGS) + "  seconds")
    for size in sizes:
        if size > dataset.num_train:
            print(f"{size:>7}  " + "  ".join(f"{'-':>13}" for _ in SETTINGS))
            continue
        images = preprocess(dataset.x_train[calibration_indices(dataset.num_train, size,
                                                                 config["seed"])])
        cells, started = [], time.perf_counter()
        for _, variant, method, per_channel in SETTINGS:
            choice = CalibrationChoice(size, method, per_channel)
            if variant == "int8":
                recipe = choice.apply(tflite_export.RECIPES["int8"])
                data = tflite_export.export_tflite(frozen, recipe, images)
                cells.append(score(mixed_precision.run_tflite(data, x_test)))
            else:
                recipe = choice.apply(onnx_export.RECIPES["onnx-int8"])
                cells.append(score(run_onnx(onnx_export.export_onnx(float_onnx, recipe,
                                                                    images))))
        print(f"{size:>7}  " + "  ".join(f"{c:>13}" for c in cells)
              + f"  {time.perf_counter() - started:7.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=("digits", "fashion-mnist",
                                                                "mnist"))
    parser.add_argument("--model", type=Path, help="a trained model folder (skips training)")
    parser.add_argument("--sizes", default="1,10,100,500,2000",
                        help="calibration image counts, comma-separated")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    os.environ.setdefault("LENET_EDGE_OFFLINE", "1")
    if args.model:
        sweep(args.model, sizes)
        return
    with tempfile.TemporaryDirectory(prefix="lenet-edge-bench-") as tmp:
        train(args.dataset, Path(tmp) / "model")
        sweep(Path(tmp) / "model", sizes)


if __name__ == "__main__":
    main()
