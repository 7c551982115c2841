"""`lenet-edge train`: train LeNet-5 on a dataset and write the model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lenet_edge.cli.choice_options import DATASET, DatasetName
from lenet_edge.schema import strict_json
from lenet_edge.train_config import DATASET_DEFAULTS, SCHEDULES, TrainConfig

DEFAULT_OUT = Path("models/lenet5")
# Shared with `pipeline`, which trains the same way.
Dataset = Annotated[DatasetName, typer.Option(
    "--dataset", "-d", parser=DATASET.parse, metavar=DATASET.metavar, help=DATASET.help(
        "Dataset", "mnist, fashion-mnist: a local copy, else downloaded once through Keras; "
        "digits: built in, works offline"))]


def _per_dataset(field: str) -> str:
    return ", ".join(f"{name} {getattr(d, field)}" for name, d in DATASET_DEFAULTS.items())


_augment_default = ", ".join(name for name, d in DATASET_DEFAULTS.items() if d.augment)


def train(
    dataset: Dataset = "mnist",
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder with the four IDX files (or a Keras .npz) to use instead.",
        readable=False,  # the data reader says why a path cannot be read: exit 3, not 2
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", help="Model directory to write."),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, help=f"Epochs (default: {_per_dataset('epochs')})."
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1,
        help=f"Images per step (default: {_per_dataset('batch_size')}).",
    ),
    learning_rate: float = typer.Option(
        3e-3, "--learning-rate", "--lr", help="Peak learning rate (AdamW)."
    ),
    schedule: str = typer.Option(
        "cosine", "--schedule",
        help=f"{' or '.join(SCHEDULES)}: warm-up then cosine decay, or flat.",
    ),
    warmup_epochs: float | None = typer.Option(
        None, "--warmup-epochs", min=0,
        help="Linear warm-up (default: 1, at most a tenth of --epochs).",
    ),
    weight_decay: float = typer.Option(1e-4, "--weight-decay", min=0),
    label_smoothing: float = typer.Option(0.1, "--label-smoothing", min=0),
    validation_split: float = typer.Option(
        0.1, "--validation-split", help="Share of the training set held out, in [0, 0.5)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Same seed, same machine: same weights."),
    activation: str = typer.Option("relu", "--activation", help="relu, tanh or sigmoid."),
    pooling: str = typer.Option("avg", "--pooling", help="avg or max."),
    augment: bool | None = typer.Option(
        None, "--augment/--no-augment",
        help=f"Random shifts, rotations, zooms (default: on for {_augment_default}).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the training record as JSON."),
) -> None:
    """Train LeNet-5 and write weights, a .keras file, train.json and training curves."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from lenet_edge.cli.runtime_options import stdout_console
    from lenet_edge.toolchain.train import train as run_training

    config = TrainConfig(
        dataset=dataset,
        data_dir=str(data_dir) if data_dir else None,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        schedule=schedule,
        warmup_epochs=warmup_epochs,
        weight_decay=weight_decay,
        label_smoothing=label_smoothing,
        validation_split=validation_split,
        seed=seed,
        activation=activation,
        pooling=pooling,
        augment=augment,
    )
    resolved = config.resolved()  # usage errors before TensorFlow loads
    err = Console(stderr=True)
    epochs_text = f"{resolved.epochs} epoch{'s' if resolved.epochs != 1 else ''}"
    # markup=False: a path like 'runs[/b]' is a name, not rich markup (MarkupError, exit 70)
    err.print(f"training LeNet-5 on {dataset} for {epochs_text} -> {out}", markup=False,
              highlight=False)

    def show_epoch(row: dict) -> None:
        val = ""
        if "val_accuracy" in row:
            val = f"  val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}"
        err.print(
            f"epoch {row['epoch']:>3}/{resolved.epochs}  loss {row['loss']:.4f}  "
            f"acc {row['accuracy']:.4f}{val}  [{row['seconds']:.1f}s]"
        )

    record = run_training(config, out, on_epoch=show_epoch)
    if as_json:
        typer.echo(strict_json(record, "--json"))
        return
    table = Table(title=f"LeNet-5 trained on {record['dataset']['name']}", show_header=False)
    table.add_row("test accuracy", f"{record['test_accuracy'] * 100:.2f}%")
    table.add_row("epochs", str(resolved.epochs))
    table.add_row("train time", f"{record['train_seconds']:.1f} s "
                                f"({record['images_per_second']:.0f} images/s)")
    table.add_row("parameters", f"{record['parameters']:,}")
    table.add_row("dataset", f"{record['dataset']['source']} "
                             f"({record['dataset']['num_train']} train / "
                             f"{record['dataset']['num_test']} test)")
    table.add_row("written to", Text(str(out)))
    stdout_console().print(table)
