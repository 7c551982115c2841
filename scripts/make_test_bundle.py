"""Rebuild tests/data/digits-bundle: the small committed bundle the runtime test tier uses.

    .venv/bin/python scripts/make_test_bundle.py [--out DIR]

Trains LeNet-5 on the bundled digits with seed 0 and converts it to every variant through
the CLI, as a user would, then keeps only what the runtime commands read (verify, benchmark,
predict, inspect, report): the manifest, reference.npz, the seven model files and the train
record, and the weights (so tests can convert a copy again). The Keras model and the
training curves are for people, not for the runtime, and stay out.
Needs the toolchain (TensorFlow); the tests that use the result do not.

tests/test_committed_bundle.py checks that the committed bundle is still what this script makes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lenet_edge import bundle

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "digits-bundle"
# What train writes that neither the runtime commands nor `convert` read.
TRAIN_ONLY = (bundle.KERAS_MODEL, bundle.CURVES_PNG)


def build(out: Path) -> None:
    env = dict(os.environ, LENET_EDGE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        for args in (["train", "--dataset", "digits", "--seed", "0", "--out", str(model)],
                     ["convert", str(model)]):
            subprocess.run([sys.executable, "-m", "lenet_edge", *args], env=env, check=True)
        for name in TRAIN_ONLY:
            (model / name).unlink(missing_ok=True)
        staging = out.with_name(out.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(model, staging)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{out}: {len(list(out.iterdir()))} files, {size / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    build(parser.parse_args().out.resolve())


if __name__ == "__main__":
    main()
