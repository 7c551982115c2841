"""Verify a bundle's converted variants against the float model, on the device's runtime.

Everything comes from the bundle: artifacts (sha256-checked before any is loaded) and
`reference.npz` (uint8 images, labels, float logits), so no TensorFlow and no dataset. With a
baseline bundle, the models are also checked against the baseline's (runtime/baseline.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.data.preprocess import preprocess
from lenet_edge.errors import UsageError
from lenet_edge.gates import DEFAULT_GATES, DEFAULT_REGRESSION_GATES, Gates, RegressionGates
from lenet_edge.results.skipped import Skipped
from lenet_edge.results.verify import (  # noqa: F401 - the types verify() returns
    FAIL,
    INCOMPATIBLE,
    PASS,
    VerifyReport,
    VerifyResult,
    encode_predictions,
)
from lenet_edge.runtime.adapted_model import adapt
from lenet_edge.runtime.baseline import class_names, compare_with_baseline, open_baseline
from lenet_edge.runtime.input_ranges import recorded_input_range
from lenet_edge.runtime.metrics import compare_logits
from lenet_edge.runtime.output_kind import (
    LOGITS,
    PROBABILITIES,
    comparable,
    looks_like_probabilities,
)
from lenet_edge.runtime.plan import Job, plan_jobs, read_artifacts
from lenet_edge.runtime.runner import IncompatibleModelError, load_runner
from lenet_edge.runtime.runtimes import AUTO

Progress = Callable[[str, int, int], None]  # (what just finished, done, total)


def check_limit(limit: int | None) -> None:
    """Raise UsageError for a --limit that selects no image (the gates check themselves)."""
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise UsageError(f"--limit must be at least 1 image, got {limit}")


def verify(bundle_dir: str | Path, variants: Sequence[str] | None = None,
           runtimes: Sequence[str] = (AUTO,), gates: Gates = DEFAULT_GATES,
           limit: int | None = None,
           progress: Progress | None = None, threads: int = 1,
           baseline: str | Path | None = None,
           regression_gates: RegressionGates = DEFAULT_REGRESSION_GATES) -> VerifyReport:
    """Run each requested variant x runtime on the bundle's reference set and gate it.

    Args:
        bundle_dir: a converted model bundle.
        variants: variant names; None means every variant in the bundle.
        runtimes: runtime names or "auto" (first installed interpreter per format).
        gates: the largest accuracy drop and smallest top-1 agreement versus the float model
            each variant may have (gates.py; checked when the Gates is made).
        limit: use only the first `limit` reference images.
        progress: called after each variant x runtime with (label, done, total).
        threads: interpreter threads.
        baseline: a baseline bundle: the float model and each variant are also compared
            with its own (runtime/baseline.py), held to `regression_gates`.

    Returns:
        A VerifyReport; `passed` is False when a gate failed, a runtime could not load a
        variant (status "incompatible", with the op and version in `message`), or the model
        is worse than the baseline's by more than `regression_gates` allow.

    Raises:
        UsageError, ModelError (bad or tampered bundle), MissingDependencyError.
    """
    check_limit(limit)
    started = time.perf_counter()
    manifest = bundle.read_manifest(bundle_dir)
    jobs, skipped = plan_jobs(manifest, variants, runtimes)
    reference = bundle.load_reference(bundle_dir, manifest)
    blobs = read_artifacts(bundle_dir, jobs)
    dataset = (manifest.get("dataset") or {}).get("name")
    old = None if baseline is None else open_baseline(  # checked before anything runs
        baseline, {job.variant: job.entry["format"] for job in jobs}, dataset)
    count = min(limit or len(reference.labels), len(reference.labels))
    images = preprocess(reference.images[:count])
    labels, float_logits = reference.labels[:count], reference.logits[:count]
    # The float model's outputs are logits for lenet-edge's own models; a model that ends in
    # a softmax recorded probabilities: the manifest says so (convert of a foreign model),
    # else their numbers do (output_kind.py).
    float_kind = manifest.get("output_kind") or (
        PROBABILITIES if looks_like_probabilities(float_logits) else LOGITS)
    results = []
    for done, job in enumerate(jobs, start=1):
        results.append(_verify_one(job, blobs[job.variant], images, labels,
                                   (float_logits, float_kind), gates, threads,
                                   recorded_input_range(manifest, job.entry)))
        if progress:
            progress(f"{job.variant} on {job.runtime.name}", done, len(jobs))
    comparison = None if old is None else compare_with_baseline(
        old, reference, images, results, class_names(dataset), regression_gates, threads)
    return VerifyReport(str(bundle_dir), count, gates.max_drop, gates.min_agreement,
                        tuple(results), tuple(Skipped(s.variant, s.reason) for s in skipped),
                        time.perf_counter() - started, baseline=comparison)


def _verify_one(job: Job, data: bytes, images, labels, float_outputs, gates: Gates,
                threads: int, input_range: str) -> VerifyResult:
    """`float_outputs`: the float model's (outputs, kind), compared on one quantity with the
    variant's (output_kind.comparable: logits unless either gives probabilities)."""
    started = time.perf_counter()
    try:
        runner = load_runner(data, job.entry["format"], job.runtime.name, threads,
                             source=job.entry["file"])
        logits, kind = adapt(runner, data, job.entry["format"], input_range,
                             job.entry["file"]).run(images)
    except IncompatibleModelError as exc:
        return VerifyResult(job.variant, job.runtime.name, exc.runtime_version, INCOMPATIBLE,
                            message=str(exc), seconds=time.perf_counter() - started)
    m = compare_logits(*comparable(logits, kind, *float_outputs)[:2], labels)
    failures = gates.failures(m.delta_points, m.agreement)
    return VerifyResult(
        job.variant, runner.runtime, runner.runtime_version, FAIL if failures else PASS,
        accuracy=m.accuracy, float_accuracy=m.float_accuracy, delta_points=m.delta_points,
        agreement=m.agreement, max_abs_logit_error=m.max_abs_logit_error,
        mean_abs_logit_error=m.mean_abs_logit_error, per_class_delta=tuple(m.per_class_delta),
        worst=tuple(m.worst), message="; ".join(failures), seconds=time.perf_counter() - started,
        predictions=encode_predictions(logits.argmax(axis=1)),  # the report's figures use them
    )
