"""Folders lenet-edge replaces as a whole: the model directory and `--emit-ansible DIR`.

Never delete what lenet-edge did not write. A folder is replaced only when it is absent,
empty, or carries the marker file `.lenet-edge` that lenet-edge writes into every such
folder. The marker names the kind of folder (`model`, `ansible`): a folder of another kind
is refused, so `--emit-ansible` never replaces a model and `--out` never a playbook. A
folder from before the marker existed (or with the first, kindless marker) counts as ours
when it holds lenet-edge's own record (the kind's `legacy` test: train.json or
manifest.json with lenet-edge's schema fields; a playbook with lenet-edge's header).
Anything else is refused with an OutputError (exit 5) and left untouched.

The new folder is built in a staging folder beside it, `.NAME.staging-PID-XXXXXXXX`, and
swapped in only when complete:

* files in the old folder whose names lenet-edge does not write are copied into the new one,
  also inside the subfolders lenet-edge writes (`--emit-ansible`'s bundle/ and wheels/);
* a model directory's old content moves to `NAME.previous`. An older `.previous` is
  replaced only if it carries the model marker and holds nothing lenet-edge did not write
  (other than copies of files the new folder carries over); else the run is refused.
  Other kinds discard the old content.

A staging folder left by a killed run (SIGKILL, power loss) carries the marker and its
process id: the next run into the same folder removes it once that process is gone, and
names on stderr any it cannot tell are ours.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lenet_edge import bundle, interrupts
from lenet_edge.errors import LenetEdgeError, OutputError
from lenet_edge.output_files import dir_mode, is_temp_name, process_alive
from lenet_edge.variants import VARIANTS

MARKER = ".lenet-edge"
# First line: what kind of folder this is. The first markers (before kinds) said
# "lenet-edge output folder: lenet-edge may replace ...": kind unknown, see _refusal.
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


def _notify_stderr(message: str) -> None:
    print(f"lenet-edge: {message}", file=sys.stderr, flush=True)


# Where notices go; the pipeline's child process points this at its event stream.
notify: Callable[[str], None] = _notify_stderr


def check_replaceable(path: str | os.PathLike, kind: DirKind) -> Path:
    """Refuse a folder lenet-edge may not replace; return the folder a write would replace.

    A symlink to a folder stands for its target (the link is kept).

    Raises:
        OutputError: `path` is a file, a non-empty folder without the marker, or its
            `.previous` exists and is not ours.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_dir():
        raise OutputError(f"{kind.option} {path} exists and is not a directory")
    if not path.is_dir() or _is_empty(path):
        return path
    refusal = _refusal(path, kind)
    if refusal:
        raise OutputError(f"{kind.option} {path} {refusal}; choose a new or empty directory")
    previous = previous_path(path)
    if kind.keep_previous and (previous.exists() or previous.is_symlink()):
        if not previous.is_dir() or previous.is_symlink() or _refusal(previous, kind):
            raise OutputError(f"{kind.option} {path}: {previous} exists and lenet-edge did not "
                              f"write it; move it away (the previous {kind.what} is kept there)")
        unsaved = _not_carried(previous, path, kind)
        if unsaved:
            shown = ", ".join(unsaved[:5]) + (f" and {len(unsaved) - 5} more"
                                              if len(unsaved) > 5 else "")
            raise OutputError(f"{kind.option} {path}: {previous} holds files lenet-edge did not "
                              f"write ({shown}); move them away (this run would replace "
                              f"{previous} with the current {kind.what})")
    return path


def previous_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.previous")


def is_ours(path: Path, kind: DirKind) -> bool:
    """A folder of this kind lenet-edge wrote: its marker says so, or its pre-marker record."""
    return _refusal(path, kind) is None


def _refusal(path: Path, kind: DirKind) -> str | None:
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
    if not _has_marker(path):
        return None
    from lenet_edge import input_files

    try:
        kind = input_files.InputKind(f"a {MARKER} marker", _MARKER_BYTES, OutputError)
        text = input_files.read_bytes(path / MARKER, kind).decode("utf-8", "replace")
    except LenetEdgeError:
        return ""
    first = text.partition("\n")[0]
    name = first.removeprefix(_MARKER_HEAD).strip() if first.startswith(_MARKER_HEAD) else ""
    return name if re.fullmatch(r"[a-z][a-z0-9-]{0,31}", name) else ""


@contextlib.contextmanager
def replaced_directory(path: str | os.PathLike, kind: DirKind) -> Iterator[Path]:
    """Yield an empty staging folder (marker included) that replaces `path` as a whole.

    The swap happens only when the block succeeds; on a failure or a signal the staging
    folder is removed and `path` is left as it was. An OSError becomes an OutputError.
    """
    path = check_replaceable(path, kind)
    _clean_stale(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.staging-{os.getpid()}-",
                                        dir=path.parent))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        os.chmod(staging, dir_mode())  # mkdtemp's 0700 would hide the model from others
        write_marker(staging, kind)
        yield staging
        check_replaceable(path, kind)  # the folder may have changed while we worked
        kept = _carry_over(path, staging, kind)
        with interrupts.deferred():  # the renames must not stop half-way
            moved_to = _swap(staging, path, kind)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if moved_to is not None:
        notify(f"the previous {kind.what} in {path} is kept in {moved_to}")
    if kept:  # inside a folder lenet-edge writes: say so, they travel with it
        notify(f"kept in {path} (lenet-edge did not write them): {', '.join(kept)}")


def write_marker(folder: Path, kind: DirKind) -> None:
    (folder / MARKER).write_text(f"{_MARKER_HEAD}{kind.name}\n{_MARKER_TEXT}")


def _has_marker(path: Path) -> bool:
    marker = path / MARKER
    return marker.is_file() and not marker.is_symlink()


def _is_empty(path: Path) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


def _carry_over(old: Path, staging: Path, kind: DirKind, sub: str = "") -> list[str]:
    """Copy what the user added to the old folder into the new one (the old one is kept
    in `.previous`, or discarded), also inside the subfolders lenet-edge writes.

    Returns:
        What was carried over inside those subfolders ("bundle/extra.bin").
    """
    if not old.is_dir():
        return []
    inside: list[str] = []
    for entry in sorted((old / sub).iterdir()):
        relative = f"{sub}{entry.name}"
        target = staging / relative
        if kind.writes_folder(relative) and entry.is_dir() and not entry.is_symlink():
            inside += _carry_over(old, staging, kind, f"{relative}/")
            continue
        if kind.knows(relative) or os.path.lexists(target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            shutil.copytree(entry, target, symlinks=True)
        else:
            shutil.copy2(entry, target)  # a FIFO or device: SpecialFileError
        if sub:
            inside.append(relative)
    return inside


def _not_carried(previous: Path, current: Path, kind: DirKind) -> list[str]:
    """Files in `previous` lenet-edge did not write and `current` holds no identical copy of
    (what replacing `previous` would lose), as paths relative to it."""
    lost = []
    for root, dirs, files in os.walk(previous):
        relative_root = Path(root).relative_to(previous)
        for name in sorted(files + [d for d in dirs if os.path.islink(Path(root, d))]):
            relative = (relative_root / name).as_posix()
            if kind.knows(relative) or _same(Path(root, name), current / relative):
                continue
            lost.append(relative)
        dirs[:] = sorted(d for d in dirs if not os.path.islink(Path(root, d)))
    return lost


def _same(a: Path, b: Path) -> bool:
    """Identical files (or symlinks with the same target)."""
    try:
        if a.is_symlink() or b.is_symlink():
            return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
        return a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _swap(staging: Path, path: Path, kind: DirKind) -> Path | None:
    """Put `staging` at `path`; return where the old folder went if it was kept."""
    if not path.exists():
        staging.rename(path)
        return None
    write_marker(path, kind)  # a pre-marker folder: its .previous must be recognised later
    keep = previous_path(path) if kind.keep_previous else None
    trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-{os.getpid()}-", dir=path.parent))
    try:
        if keep is not None and keep.exists():
            keep.rename(trash / keep.name)  # checked ours in check_replaceable
        path.rename(keep if keep is not None else trash / path.name)
        try:
            staging.rename(path)
        except OSError:
            (keep if keep is not None else trash / path.name).rename(path)
            if keep is not None and (trash / keep.name).exists():
                (trash / keep.name).rename(keep)
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)
    return keep


def _clean_stale(path: Path) -> None:
    """Remove staging/old folders of `path` whose lenet-edge process is gone; name others."""
    ours = re.compile(rf"^\.{re.escape(path.name)}\.(staging|old)-(\d+)-[a-z0-9_]{{8}}$")
    before_pids = re.compile(rf"^\.{re.escape(path.name)}\.(staging|old)-[a-z0-9_]{{8}}$")
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = ours.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink():
            if process_alive(int(match[2])):
                continue  # another run is writing it right now
            if _left_by_us(entry):
                shutil.rmtree(entry, ignore_errors=True)
                continue
        elif not (before_pids.match(entry.name) and entry.is_dir()):
            continue
        notify(f"{entry} looks left over from an interrupted run; remove it if you do not "
               "need it")


def _left_by_us(entry: Path) -> bool:
    """A staging folder (marker inside), an `old` folder (a marked folder inside) or empty."""
    children = list(entry.iterdir())
    return (_has_marker(entry) or not children
            or all(child.is_dir() and _has_marker(child) for child in children))


# --- the kinds -----------------------------------------------------------------------------


def _lenet_edge_json(path: Path) -> dict | None:
    """A JSON object lenet-edge wrote, or None (absent, unreadable, another program's)."""
    from lenet_edge import input_files

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
    from lenet_edge import input_files

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
        *(v.file for v in VARIANTS)}),
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
