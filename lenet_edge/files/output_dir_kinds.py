"""The kinds of folder lenet-edge replaces as a whole, and the marker that names them.

Every such folder carries `.lenet-edge`, whose first line names its kind (`model`,
`ansible`): `--emit-ansible` must never take a model folder for its own, nor `--out` a
playbook folder. output_dirs.py does the replacing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.errors import LenetEdgeError, OutputError
from lenet_edge.files.output_files import is_temp_name
from lenet_edge.variants import VARIANTS

MARKER = ".lenet-edge"
# First line: what kind of folder this is. The first markers (before kinds) said
# "lenet-edge output folder: lenet-edge may replace ...": kind unknown, see refusal().
_MARKER_HEAD = "lenet-edge output folder: "
_MARKER_TEXT = ("lenet-edge may replace this folder as a whole; files whose names it does "
                "not write are carried over.\n")
_MARKER_BYTES = 64 * 1024  # a marker is two lines


@dataclass(frozen=True)
class DirKind:
    """A kind of folder lenet-edge writes as a whole."""

    name: str  # what its marker says: "model", "ansible"
    described: str  # "a lenet-edge model folder", for refusals
    option: str  # the CLI option that names it, for messages
    not_ours: str  # how a refusal describes a foreign folder
    known_names: frozenset[str]  # what lenet-edge writes into it: replaced, not carried over
    known_pattern: str  # the same, as a regular expression over names ("" for none)
    legacy: Callable[[Path], bool]  # written by lenet-edge before the marker existed
    keep_previous: bool  # keep the old content in NAME.previous
    what: str = "folder"  # "model": "the previous model is in ..."
    # subfolders lenet-edge writes -> the names it writes in them (a regular expression)
    known_inside: tuple[tuple[str, str], ...] = ()

    def knows(self, relative: str) -> bool:
        """Whether lenet-edge writes this path (relative to the folder, '/'-separated)."""
        folder, _, name = relative.rpartition("/")
        if is_temp_name(name):
            return True
        if folder:
            pattern = dict(self.known_inside).get(folder)
            return pattern is not None and re.fullmatch(pattern, name) is not None
        return (name in self.known_names
                or bool(self.known_pattern and re.fullmatch(self.known_pattern, name)))

    def writes_folder(self, relative: str) -> bool:
        return relative in dict(self.known_inside)


def refusal(path: Path, kind: DirKind) -> str | None:
    """Why `path` (a non-empty folder) is not one of `kind`'s, or None when it is."""
    marked = marker_kind(path)
    if marked == kind.name:
        return None
    if marked:
        other = next((k for k in KINDS if k.name == marked), None)
        what = other.described if other else f"a lenet-edge folder of kind {marked!r}"
        return f"is {what} ({MARKER} says {marked!r}), not {kind.described}"
    try:  # no marker, or the first kindless one: the kind's own record decides
        if kind.legacy(path):
            return None
    except LenetEdgeError:  # an unreadable record is not ours
        pass
    return f"is a non-empty directory that {kind.not_ours} (no {MARKER} marker)"


def marker_kind(path: Path) -> str | None:
    """The kind `path`'s marker names: "" for a kindless (first) marker, None for none."""
    if not has_marker(path):
        return None
    from lenet_edge.files import input_files

    try:
        kind = input_files.InputKind(f"a {MARKER} marker", _MARKER_BYTES, OutputError)
        text = input_files.read_bytes(path / MARKER, kind).decode("utf-8", "replace")
    except LenetEdgeError:
        return ""
    first = text.partition("\n")[0]
    name = first.removeprefix(_MARKER_HEAD).strip() if first.startswith(_MARKER_HEAD) else ""
    return name if re.fullmatch(r"[a-z][a-z0-9-]{0,31}", name) else ""


def write_marker(folder: Path, kind: DirKind) -> None:
    (folder / MARKER).write_text(f"{_MARKER_HEAD}{kind.name}\n{_MARKER_TEXT}")


def has_marker(path: Path) -> bool:
    marker = path / MARKER
    return marker.is_file() and not marker.is_symlink()


# --- the kinds -----------------------------------------------------------------------------


def _lenet_edge_json(path: Path) -> dict | None:
    """A JSON object lenet-edge wrote, or None (absent, unreadable, another program's)."""
    from lenet_edge.files import input_files

    if not path.is_file():
        return None
    record = input_files.read_json(path, input_files.RESULTS)
    return record if isinstance(record, dict) else None


def _legacy_model(path: Path) -> bool:
    """train.json or manifest.json as lenet-edge wrote them before the marker existed.

    Their own schema fields, not their names: a web app's manifest.json is not a model.
    """
    record = _lenet_edge_json(path / bundle.TRAIN_JSON)
    if (record is not None and {"config", "history", "weights", "versions"} <= record.keys()
            and isinstance(record["versions"], dict) and "lenet-edge" in record["versions"]):
        return True
    manifest = _lenet_edge_json(path / bundle.MANIFEST)
    return (manifest is not None and manifest.get("schema_version") == bundle.SCHEMA_VERSION
            and isinstance(manifest.get("artifacts"), dict)
            and isinstance(manifest.get("tool_versions"), dict)
            and "lenet-edge" in manifest["tool_versions"])


def _legacy_playbook(path: Path) -> bool:
    from lenet_edge.files import input_files

    playbook = path / "deploy.yml"
    return playbook.is_file() and input_files.read_bytes(playbook, input_files.PLAYBOOK) \
        .startswith(b"# Generated by `lenet-edge deploy --emit-ansible`")


MODEL_DIR = DirKind(
    name="model",
    described="a lenet-edge model folder",
    option="--out",
    not_ours="holds no lenet-edge model",
    known_names=frozenset({
        MARKER, bundle.MANIFEST, bundle.REFERENCE, bundle.TRAIN_JSON, bundle.WEIGHTS,
        bundle.KERAS_MODEL, bundle.CURVES_PNG, bundle.VERIFY_JSON, bundle.BENCHMARK_JSON,
        bundle.PIPELINE_JSON, bundle.REPORT_HTML, Path(bundle.REPORT_HTML).stem + ".md",
        *(v.file for v in VARIANTS),
        *(v.candidate_file for v in VARIANTS if v.gated)}),  # convert's failed int8-mixed
    known_pattern=r"device-.*\.json",  # bundle.device_result_name
    legacy=_legacy_model,
    keep_previous=True,
    what="model",
)
ANSIBLE_DIR = DirKind(
    name="ansible",
    described="an --emit-ansible folder",
    option="--emit-ansible",
    not_ours="was not written by --emit-ansible",
    known_names=frozenset({MARKER, "deploy.yml", "inventory.ini", "bundle", "wheels"}),
    known_pattern="",
    legacy=_legacy_playbook,
    keep_previous=False,  # regenerated from the bundle at will: nothing to recover
    known_inside=(  # the device bundle (device_bundle.pack) and lenet-edge's own wheel
        ("bundle", "|".join(re.escape(n) for n in sorted(
            {bundle.MANIFEST, bundle.REFERENCE, *(v.file for v in VARIANTS)}))),
        ("wheels", r"lenet_edge-.+\.whl"),
    ),
)
KINDS = (MODEL_DIR, ANSIBLE_DIR)
