"""tests/data/digits-bundle, which the runtime tier tests against, is what today's code makes.

scripts/make_test_bundle.py rebuilds it (train --dataset digits --seed 0, then convert: the
same two commands as the `converted_digits_bundle` fixture). Two builds with the same tool
versions were byte-identical here (measured: every model file, reference.npz and the weights;
the manifests differ only in `created` and conversion times), so with the same versions the
check is exact. With other versions (a fresh CI venv may resolve a newer onnxruntime), the
bytes may move while the bundle is still current: then the structure must match.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from lenet_edge import bundle
from lenet_edge.files.output_dir_kinds import MARKER
from lenet_edge.variants import resolve_variants

COMMITTED = Path(__file__).resolve().parent / "data" / "digits-bundle"
REBUILD = "rebuild it: .venv/bin/python scripts/make_test_bundle.py"
BUILT = resolve_variants(None)  # what convert builds when no --variant is named


@pytest.fixture(scope="module")
def manifest() -> dict:
    return bundle.read_manifest(COMMITTED)  # refuses another schema version (exit 4)


@pytest.mark.runtime
def test_it_has_the_codes_schema_and_every_variant_convert_builds(manifest):
    assert manifest["schema_version"] == bundle.SCHEMA_VERSION, REBUILD
    assert list(manifest["artifacts"]) == [v.name for v in BUILT], REBUILD
    for variant in BUILT:
        entry = manifest["artifacts"][variant.name]
        assert (entry["file"], entry["format"]) == (variant.file, variant.format), REBUILD


@pytest.mark.runtime
def test_it_holds_exactly_what_the_script_keeps_and_every_checksum_matches(manifest):
    # Also catches a test that wrote results into it instead of into its copy.
    expected = {bundle.MANIFEST, bundle.REFERENCE, bundle.TRAIN_JSON, bundle.WEIGHTS, MARKER,
                *(v.file for v in BUILT)}
    assert {p.name for p in COMMITTED.iterdir()} == expected
    for entry in [*manifest["artifacts"].values(), manifest["weights"], manifest["reference"]]:
        assert bundle.sha256_file(COMMITTED / entry["file"]) == entry["sha256"], entry["file"]


def _without_timings(manifest: dict) -> dict:
    """What two builds with the same tools agree on: all but the date and the durations."""
    stable = copy.deepcopy(manifest)
    del stable["created"]
    for entry in stable["artifacts"].values():
        entry["converter"].pop("seconds")
    return stable


def _structure(manifest: dict) -> dict:
    """What other tool versions must still give: tensors, ops and where each came from."""
    tensors = ("name", "shape", "dtype")
    return {
        "schema_version": manifest["schema_version"], "dataset": manifest["dataset"],
        "train_config": manifest["train_config"],
        "artifacts": {name: {
            "file": e["file"], "format": e["format"], "ops": e["ops"],
            "recipe": e["converter"]["recipe"],
            "inputs": [{k: t[k] for k in tensors} for t in e["inputs"]],
            "outputs": [{k: t[k] for k in tensors} for t in e["outputs"]],
        } for name, e in manifest["artifacts"].items()},
    }


def _differences(committed, fresh, where: str = "") -> list[str]:
    """Where two JSON values differ, as paths (manifest.artifacts.int8.sha256, ...)."""
    if isinstance(committed, dict) and isinstance(fresh, dict):
        return [d for key in sorted(committed.keys() | fresh.keys(), key=str)
                for d in _differences(committed.get(key), fresh.get(key), f"{where}.{key}")]
    return [] if committed == fresh else [where]


def test_a_rebuild_with_todays_code_gives_the_same_bundle(manifest, converted_digits_bundle):
    fresh = bundle.read_manifest(converted_digits_bundle)
    same_tools = fresh["tool_versions"] == manifest["tool_versions"]
    compared = _without_timings if same_tools else _structure
    differences = _differences(compared(manifest), compared(fresh), "manifest")
    assert not differences, f"{REBUILD}; differing: {', '.join(differences[:12])}"
    # The evaluation set comes from the dataset, not the tools: always identical.
    committed_ref = bundle.load_reference(COMMITTED, manifest)
    fresh_ref = bundle.load_reference(converted_digits_bundle, fresh)
    assert (committed_ref.images == fresh_ref.images).all(), REBUILD
    assert (committed_ref.labels == fresh_ref.labels).all(), REBUILD
