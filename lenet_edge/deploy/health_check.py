"""The health check after a switch: `lenet-edge predict` on known-answer images, on the device.

verify proves a variant's accuracy on the reference set; this proves the path a user's
program takes (`predict` on the live `current`, images from a file) gives the classes it
should. The known answers come from the bundle's reference set: for each class, the image
the float model gets right with the widest margin (top logit minus the runner-up), so a
quantised variant that works agrees on every one of them, and one that does not (a wrong
scale, a broken runtime, a model file that is not the one verified) gets some wrong.
Measured on the digits bundle: all seven variants give the ten known answers with a top-1
probability of at least 0.967 (int8, onnx-int8 and fp16 the lowest), the runner-up at most
0.006; about 0.5-0.6 s per variant on x86, most of it the device Python starting.

The images go to the device on stdin into a temporary .npy (removed afterwards); nothing
is left in the deploy directory.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet_edge import bundle
from lenet_edge.deploy.install import RemoteLayout
from lenet_edge.deploy.ssh import Transport, last_line
from lenet_edge.errors import DeviceError
from lenet_edge.files import input_files

# $1 python, $2 the bundle (current), then predict's options; the .npy comes on stdin.
PREDICT_SCRIPT = r"""
tmp=$(mktemp -d) || exit 10
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/known-answers.npy" || exit 10
python=$1 model=$2
shift 2
"$python" -m lenet_edge predict "$model" "$tmp/known-answers.npy" --top-k 1 --json "$@"
"""


@dataclass(frozen=True)
class KnownAnswers:
    """Reference images and the classes they must get: the float model's answers, which are
    also their labels."""

    images: np.ndarray  # uint8 (K, 28, 28)
    expected: tuple[int, ...]

    def npy_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.save(buf, self.images, allow_pickle=False)
        return buf.getvalue()


def known_answers(reference: bundle.Reference) -> KnownAnswers:
    """One image per class that the float model gets right, with its widest margin.

    Classes the float model never gets right are left out; none at all is an empty set
    (the check then has nothing to ask, and fails: see `check_health`).
    """
    logits = reference.logits.astype(np.float64)
    predicted = logits.argmax(axis=1)
    top2 = np.sort(logits, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    chosen = []
    for cls in range(logits.shape[1]):
        right = np.flatnonzero((predicted == cls) & (reference.labels == cls))
        if right.size:
            chosen.append(int(right[np.argmax(margin[right])]))
    return KnownAnswers(reference.images[chosen], tuple(int(predicted[i]) for i in chosen))


def known_answers_of(model_dir: Path) -> KnownAnswers:
    """The known answers of the local bundle (its reference.npz, checked against its sha256).

    Raises:
        ModelError: no manifest, or a reference.npz that is missing, altered or malformed.
    """
    return known_answers(bundle.load_reference(model_dir, bundle.read_manifest(model_dir)))


@dataclass
class VariantHealth:
    """`predict` of one variant on the device."""

    variant: str
    runtime: str  # what deploy asked for ("auto": the device's first interpreter for it)
    predicted: list[int] = field(default_factory=list)
    error: str = ""  # predict's last stderr line when it exited non-zero

    def passed(self, expected: Sequence[int]) -> bool:
        return not self.error and self.predicted == list(expected)


@dataclass
class HealthCheck:
    """The result, as it goes into DeployResult.health (`to_dict`)."""

    expected: list[int]
    variants: list[VariantHealth] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.expected) and all(v.passed(self.expected) for v in self.variants)

    @property
    def summary(self) -> str:
        """One line: `7/7 variants x 10 images` or what went wrong first."""
        if not self.expected:
            return "no reference image the float model gets right: nothing to check"
        for v in self.variants:
            if v.error:
                return f"{v.variant}: predict failed: {v.error}"
            wrong = sum(p != e for p, e in zip(v.predicted, self.expected, strict=False))
            wrong += abs(len(v.predicted) - len(self.expected))
            if wrong:
                return f"{v.variant}: {wrong} of {len(self.expected)} known answers wrong"
        return f"{len(self.variants)} variants x {len(self.expected)} known answers right"

    def to_dict(self) -> dict:
        return {"passed": self.passed, "summary": self.summary, "expected": self.expected,
                "variants": [{**v.__dict__, "passed": v.passed(self.expected)}
                             for v in self.variants]}


def runtime_for(variant_format: str, runtimes: Sequence[str]) -> str:
    """The first of deploy's --runtime names that runs this format, else "auto"."""
    from lenet_edge.runtime.runtimes import get_runtime

    return next((r for r in runtimes if get_runtime(r).format == variant_format), "auto")


def check_health(
    transport: Transport,
    layout: RemoteLayout,
    python: str,
    variants: dict[str, str],
    runtimes: Sequence[str],
    answers: KnownAnswers,
    progress: Callable[[str], None] = lambda _: None,
    timeout: float = 600,
) -> HealthCheck:
    """Run `predict` on the device's `current` for each variant ({name: format}).

    Raises:
        DeviceError: the connection failed, or predict printed something that is not its
            --json answer.
    """
    result = HealthCheck(expected=list(answers.expected))
    data = answers.npy_bytes()
    for variant, fmt in variants.items():
        runtime = runtime_for(fmt, runtimes)
        progress(f"health check: predict {len(answers.expected)} known answers with {variant}")
        options = ["--variant", variant] + ([] if runtime == "auto" else ["--runtime", runtime])
        proc = transport.run(PREDICT_SCRIPT, [python, layout.current, *options], input=data,
                             timeout=timeout)
        health = VariantHealth(variant, runtime)
        if proc.returncode:
            health.error = f"exit {proc.returncode}: {last_line(proc.stderr)}"
        else:
            health.predicted = _classes(proc.stdout, transport.target.label, variant)
        result.variants.append(health)
    return result


def _classes(stdout: bytes, where: str, variant: str) -> list[int]:
    """The top class of each image in predict's --json answer."""
    source = f"{where}: predict --json with {variant}"
    rows = input_files.parse_json(stdout.decode(errors="replace"), f"{source}, unreadable",
                                  DeviceError)
    try:
        classes = [row["predictions"][0]["class"] for row in rows]
    except (TypeError, KeyError, IndexError):
        raise DeviceError(f"{source}: not predict's answer") from None
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        raise DeviceError(f"{source}: a class that is not an integer")
    return classes
