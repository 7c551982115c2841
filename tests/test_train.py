"""`lenet-edge train` end to end through the CLI, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from lenet_edge import bundle


def weights_of(model_dir: Path) -> dict[str, np.ndarray]:
    """Every array in the weights file, keyed by its HDF5 path."""
    arrays = {}
    with h5py.File(model_dir / bundle.WEIGHTS, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return arrays


def test_digits_training_reaches_the_bar_and_writes_the_model(digits_model):
    record = json.loads((digits_model / bundle.TRAIN_JSON).read_text())
    # The bar for the float model every later step is checked against.
    assert record["test_accuracy"] >= 0.98
    assert record["parameters"] == 61_706
    assert record["config"]["seed"] == 0 and record["config"]["dataset"] == "digits"
    assert len(record["history"]) == record["config"]["epochs"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(record["history"][-1])
    assert record["dataset"]["num_test"] == 359 and len(record["dataset"]["fingerprint"]) == 64
    assert record["versions"]["tensorflow"].startswith("2.")
    assert record["weights"]["sha256"] == bundle.sha256_file(digits_model / bundle.WEIGHTS)
    assert (digits_model / bundle.KERAS_MODEL).stat().st_size > 100_000
    png = (digits_model / bundle.CURVES_PNG).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_same_seed_gives_identical_weights_and_another_seed_does_not(run_cli, tmp_path):
    short = ["train", "--dataset", "digits", "--epochs", "2"]
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        run_cli(*short, "--seed", seed, "--out", tmp_path / name)
    a, b, c = (weights_of(tmp_path / n) for n in "abc")
    assert a.keys() == b.keys() and len(a) == 10  # 5 layers x (kernel, bias)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_json_output_is_the_training_record(run_cli, tmp_path):
    proc = run_cli("train", "--dataset", "digits", "--epochs", "1", "--out", tmp_path / "m",
                   "--json")
    record = json.loads(proc.stdout)
    assert record == json.loads((tmp_path / "m" / bundle.TRAIN_JSON).read_text())
    assert "epoch   1/1" in proc.stderr  # one progress line per epoch, on stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--epochs", "0"], 2, "--epochs"),
        (["--batch-size", "-4"], 2, "--batch-size"),
        (["--dataset", "cifar"], 2, "unknown dataset 'cifar'; choose from mnist, fashion-mnist"),
        (["--activation", "gelu"], 2, "unknown activation 'gelu'"),
        (["--validation-split", "0.7"], 2, "validation split must be in [0, 0.5)"),
        (["--learning-rate", "0"], 2, "learning rate must be > 0"),
        (["--dataset", "fashion-mnist", "--data-dir", "/nonexistent/data"], 3, "/nonexistent"),
    ],
)
def test_bad_options_give_one_line_and_an_exit_code(run_cli, tmp_path, args, code, message):
    proc = run_cli("train", *args, "--out", tmp_path / "m", check=False)
    assert proc.returncode == code, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("lenet-edge: error: ")
    assert message in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "m").exists()


def test_corrupt_idx_files_are_named_in_the_error(run_cli, tmp_path):
    from lenet_edge.data.idx import write_idx

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    write_idx(data / "train-images-idx3-ubyte", rng.integers(0, 255, (20, 28, 28), np.uint8))
    write_idx(data / "train-labels-idx1-ubyte", rng.integers(0, 10, 20).astype(np.uint8))
    write_idx(data / "t10k-images-idx3-ubyte", rng.integers(0, 255, (5, 28, 28), np.uint8))
    labels = data / "t10k-labels-idx1-ubyte"
    write_idx(labels, np.arange(5, dtype=np.uint8))
    labels.write_bytes(labels.read_bytes()[:-2])  # truncated
    proc = run_cli("train", "--data-dir", data, "--out", tmp_path / "m", check=False)
    assert proc.returncode == 3
    assert "t10k-labels-idx1-ubyte" in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_or_foreign_out_is_refused(run_cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = run_cli("train", "--dataset", "digits", "--epochs", "1",
                   "--out", blocker / "model", check=False)
    assert proc.returncode == 5 and "cannot write" in proc.stderr

    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"precious")
    proc = run_cli("train", "--dataset", "digits", "--epochs", "1", "--out", foreign, check=False)
    assert proc.returncode == 5 and "holds no lenet-edge model" in proc.stderr
    assert (foreign / "holiday.jpg").read_bytes() == b"precious"


def test_interrupted_training_leaves_the_previous_model_intact(run_cli, cli_env, tmp_path):
    out = tmp_path / "m"
    run_cli("train", "--dataset", "digits", "--epochs", "1", "--out", out)
    before = {p.name: bundle.sha256_file(p) for p in out.iterdir()}

    proc = subprocess.Popen(
        [sys.executable, "-m", "lenet_edge", "train", "--dataset", "digits", "--epochs", "200",
         "--out", str(out)],
        stderr=subprocess.PIPE, text=True, env=cli_env(),
    )
    for line in proc.stderr:  # wait until training is under way, then press Ctrl-C
        if line.startswith("epoch"):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "Traceback" not in rest and "lenet-edge: interrupted" in rest
    assert {p.name: bundle.sha256_file(p) for p in out.iterdir()} == before
    assert os.listdir(tmp_path) == ["m"]  # no staging directory left behind


@pytest.mark.fashion
def test_fashion_mnist_defaults_reach_91_percent(fashion_model):
    record = json.loads((fashion_model / bundle.TRAIN_JSON).read_text())
    assert record["dataset"]["num_train"] == 60_000 and record["dataset"]["num_test"] == 10_000
    assert record["config"]["epochs"] == 15 and record["config"]["seed"] == 0  # the defaults
    assert record["test_accuracy"] >= 0.910  # the bar for the default settings
