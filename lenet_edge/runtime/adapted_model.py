"""A loaded model with its input adapter and output kind: images in, outputs and their kind out.

What predict and verify (bundle or file) run: the runner as loaded, the one input adapter
(input_adapter.py) in front of it, and what its outputs are (output_kind.py), so none of them
feeds a (28, 28)-input model the wrong layout or softmaxes probabilities again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.runtime.input_adapter import InputAdapter, adapt_input
from lenet_edge.runtime.input_ranges import AUTO
from lenet_edge.runtime.output_kind import as_probabilities, declared_kind, output_kind
from lenet_edge.runtime.runner_types import DEFAULT_BATCH, Runner


@dataclass(frozen=True)
class AdaptedModel:
    runner: Runner
    adapter: InputAdapter
    declared: str | None  # PROBABILITIES when the graph ends in a softmax, else None

    def run(self, images: np.ndarray) -> tuple[np.ndarray, str]:
        """Outputs (N, classes) for preprocess()'s float images, and their kind."""
        outputs = self.runner.predict(self.adapter(images))
        if outputs.ndim > 2 and int(np.prod(outputs.shape[1:-1])) == 1:
            # (N, 1, 1, K) from a model ending in a 1x1 convolution: the same K scores.
            outputs = outputs.reshape(len(outputs), outputs.shape[-1])
        step = self.runner.metadata()["output"].get("scale")
        # The first batch decides, as a caller streaming images would have to.
        return outputs, output_kind(self.declared, outputs[:DEFAULT_BATCH], step)

    def probabilities(self, images: np.ndarray) -> tuple[np.ndarray, str]:
        """Class probabilities for the images, and the kind of the model's own outputs."""
        outputs, kind = self.run(images)
        return as_probabilities(outputs, kind), kind


def adapt(runner: Runner, data: bytes, fmt: str, input_range: str = AUTO,
          source: str = "model") -> AdaptedModel:
    """`runner` (loaded from `data`) behind its input adapter, its output kind read from the
    graph. Raises ModelError for a model that does not take 28x28 greyscale images."""
    return AdaptedModel(runner, adapt_input(runner, input_range, source),
                        declared_kind(data, fmt, source))
