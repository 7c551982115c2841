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
from pathlib import Path

from lenet_edge import interrupts
from lenet_edge.errors import OutputError
from lenet_edge.files.output_dir_kinds import (  # noqa: F401  (MARKER, the kinds: used by callers)
    ANSIBLE_DIR,
    MARKER,
    MODEL_DIR,
    DirKind,
    has_marker,
    marker_kind,
    refusal,
    write_marker,
)
from lenet_edge.files.output_files import dir_mode, process_alive


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
    why = refusal(path, kind)
    if why:
        raise OutputError(f"{kind.option} {path} {why}; choose a new or empty directory")
    previous = previous_path(path)
    if kind.keep_previous and (previous.exists() or previous.is_symlink()):
        if not previous.is_dir() or previous.is_symlink() or refusal(previous, kind):
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
    return refusal(path, kind) is None


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
    return (has_marker(entry) or not children
            or all(child.is_dir() and has_marker(child) for child in children))
