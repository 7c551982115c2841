"""Replace a model directory as a whole: build it beside the old one, then swap.

A new model means a new bundle: converted variants and results of the old weights would
no longer match, so they go with the old directory rather than linger next to new weights.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lenet_edge import bundle
from lenet_edge.errors import OutputError

# A directory holding any of these was written by lenet-edge and may be replaced.
_OURS = (bundle.TRAIN_JSON, bundle.MANIFEST, bundle.WEIGHTS)


@contextlib.contextmanager
def replacing(out_dir: Path) -> Iterator[Path]:
    """Yield an empty staging directory that replaces `out_dir` when the block succeeds.

    On any failure or Ctrl-C the staging directory is removed and `out_dir` is untouched.

    Raises:
        OutputError: `out_dir` is a file, or a non-empty directory lenet-edge did not write,
            or its parent cannot be written.
    """
    check_replaceable(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    except OSError as exc:
        raise OutputError(f"cannot write --out {out_dir}: {exc.strerror or exc}") from None
    try:
        yield staging
        _swap_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a directory that is not a lenet-edge model (or empty)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not any(
        (out_dir / name).exists() for name in _OURS
    ):
        raise OutputError(
            f"--out {out_dir} is a non-empty directory that holds no lenet-edge model; "
            "choose a new or empty directory"
        )


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Put `staging` at `out_dir`; the old directory is removed only after the switch."""
    old = None
    try:
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            out_dir.rename(old / "model")
        staging.rename(out_dir)
    except OSError as exc:
        if old is not None and not out_dir.exists():
            (old / "model").rename(out_dir)  # put the previous model back
        raise OutputError(f"cannot write --out {out_dir}: {exc.strerror or exc}") from None
    finally:
        if old is not None and out_dir.exists():
            shutil.rmtree(old, ignore_errors=True)
