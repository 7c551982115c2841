"""What convert reads from, for a model lenet-edge did not train: the model, a dataset, a folder.

A lenet-edge-trained folder brings its train.json: the dataset, the seed, the validation slice.
A foreign model brings none of that, so:
- the dataset is named (`--dataset`, `--data-dir`) and its test split becomes reference.npz,
  with the model's own outputs on it (in its input range) as the reference "logits";
- calibration images and the held-out slice of the -mixed variants are drawn from its train
  split with FOREIGN_SEED; the held-out slice is HELD_OUT_SHARE of it, minus the calibration
  images. Unlike a lenet-edge model's validation slice, the foreign model may have been fitted
  on these images: the gates are judged on them all the same (verify judges on the test split);
- the manifest records, instead of `train_config` and `weights`: `source_model` (path, kind,
  sha256, input shape, classes, layers, how the conventions were read, the seed and held-out
  share), `input_range` ("0-1" or "0-255": what every variant takes, as the runtime's input
  adapter reads it) and `output_kind` ("logits" or "probabilities": what reference.npz's logits
  and the variants' outputs are).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lenet_edge import bundle
from lenet_edge.errors import LenetEdgeError, ModelError, OutputError, UsageError
from lenet_edge.toolchain import forward as forward_graph
from lenet_edge.toolchain import mixed_precision, splits
from lenet_edge.toolchain.exporters import Sources
from lenet_edge.toolchain.foreign_model import (
    RANGE_0_1,
    RANGE_0_255,
    ForeignModel,
    load_foreign,
    settle_input_range,
    settle_output_kind,
)

FOREIGN_SEED = 0
HELD_OUT_SHARE = 0.1
INPUT_RANGES = {RANGE_0_1: 1.0, RANGE_0_255: 255.0}  # the value of a white pixel, as the runtime


@dataclass
class ForeignSource:
    """A foreign model to convert into the bundle folder `out`."""

    path: Path
    dataset: str
    data_dir: str | None = None
    out: Path | None = None  # default: <name>_bundle beside the model
    input_range: str | None = None  # None: as detected from the model
    _dataset: Any = field(default=None, repr=False)
    _model: ForeignModel | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.out is None:
            stem = self.path.name if self.path.is_dir() else self.path.stem
            self.out = self.path.parent / f"{stem}_bundle"
        self.out = Path(self.out)
        if self.input_range is not None and self.input_range not in INPUT_RANGES:
            raise UsageError(f"--input-range {self.input_range!r}: choose from "
                             f"{', '.join(INPUT_RANGES)}")

    def check_out(self) -> None:
        """The bundle folder can be written: new, empty, or a bundle already (never a
        trained model folder or someone's other files). Checked before TF loads."""
        out = self.out
        if os.path.lexists(out) and not out.is_dir():
            raise OutputError(f"--out {out}: exists and is not a folder")
        if out.is_dir():
            if (out / bundle.TRAIN_JSON).exists():
                raise OutputError(f"--out {out}: a model folder 'lenet-edge train' wrote; "
                                  "convert it with 'lenet-edge convert "
                                  f"{out}', or choose another --out")
            if any(out.iterdir()) and not (out / bundle.MANIFEST).is_file():
                raise OutputError(f"--out {out}: not empty and not a model bundle; choose a "
                                  "new or empty folder")
        existing = out if out.is_dir() else next(p for p in out.absolute().parents if p.exists())
        if not os.access(existing, os.W_OK):
            raise OutputError(f"cannot write {existing}: permission denied")

    def make_out(self) -> Path:
        """The bundle folder, made once everything converted (a failed run leaves none)."""
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {self.out}: {exc.strerror or exc}") from None
        return self.out

    def info(self) -> dict[str, Any]:
        """What convert reads from train.json otherwise: the dataset record and the draw."""
        from lenet_edge.data import datasets as data

        self._dataset = data.load_dataset(self.dataset, self.data_dir)
        return {"dataset": self._dataset.summary(),
                "config": {"dataset": self.dataset, "data_dir": self.data_dir,
                           "seed": FOREIGN_SEED, "validation_split": HELD_OUT_SHARE}}

    @property
    def model(self) -> ForeignModel:
        if self._model is None:
            self._model = load_foreign(self.path)
        return self._model

    @property
    def chosen_range(self) -> str:
        return self.input_range or self.model.input_range

    def prepare(self, slices: dict[str, np.ndarray], opset: int):
        """Load the model; return the exporters' sources, the reference and the draws' records
        (as convert._prepare does for a trained model)."""
        from lenet_edge.data.preprocess import preprocess

        dataset, model = self._dataset, self.model
        classes = len(dataset.class_names)
        if model.classes != classes:
            raise ModelError(f"{self.path}: the model gives {model.classes} classes; "
                             f"{self.dataset} has {classes}")
        if self.input_range is None:
            labels = np.asarray(dataset.y_train)[slices["calibration"]]
            raw = np.asarray(dataset.x_train)[slices["calibration"]]
            settle_input_range(model, {name: float(np.mean(model.outputs(
                preprocess(raw) * np.float32(white)).argmax(axis=1) == labels))
                for name, white in INPUT_RANGES.items()})
        white = np.float32(INPUT_RANGES[self.chosen_range])

        def images(raw: np.ndarray) -> np.ndarray:  # as the runtime's input adapter feeds them
            x = preprocess(raw)
            return x * white if white != 1 else x

        raw = np.asarray(dataset.x_train)[slices["calibration"]]
        calibration = images(raw)
        hashes: dict[str, Any] = {"calibration": splits.images_sha256(raw)}
        outputs = model.outputs(images(dataset.x_test))
        settle_output_kind(model, outputs)
        reference = bundle.Reference(images=np.asarray(dataset.x_test), labels=dataset.y_test,
                                     logits=outputs)
        forward = forward_graph.forward_function(
            model.keras_model, model.image_shape, None if model.kind != "saved_model" else
            model.call)
        sample = calibration[:32]
        forward_graph.check_same_as_model(forward, None, sample, expected=model.outputs(sample))
        sources = Sources(forward=forward, calibration=calibration, opset=opset)
        if "held_out" in slices:
            sources.held_out, hashes["held_out"] = mixed_precision.held_out_slice(
                dataset, slices["held_out"], "train (a seeded slice)", images, model.outputs)
        return sources, reference, hashes

    def manifest_fields(self) -> dict[str, Any]:
        """`source_model`, `input_range`, `output_kind`: in place of train_config and weights."""
        record = self.model.record()
        record.update(seed=FOREIGN_SEED, held_out_share=HELD_OUT_SHARE,
                      input_range_given=self.input_range)
        return {"source_model": record, "input_range": self.chosen_range,
                "output_kind": self.model.output_kind}

    def export_error(self, variant: str, exc: Exception) -> LenetEdgeError:
        """A converter's failure as one line naming the layer it stopped at, when it says."""
        import re

        text = str(exc)
        layers = getattr(self.model.keras_model, "layers", [])
        # Converters name ops by the Keras scope the layer was traced under: its name plus a
        # "_1" suffix (runtime/layer_match.py), e.g. "activation_3_1/Gelu/Erfc".
        named = next((layer for layer in layers if re.search(
            rf"(^|[^\w]){re.escape(layer.name)}(_\d+)?/", text)), None)
        where = f"layer {named.name!r} ({type(named).__name__})" if named else "a layer"
        first = next((line.strip() for line in text.splitlines() if "error" in line.lower()),
                     text.strip().splitlines()[0] if text.strip() else type(exc).__name__)
        return ModelError(f"{self.path}: {variant}: the exporter cannot handle {where} of "
                          f"this model ({first[:300]})")
