"""The deploy directory on the device: where it may be, whose it is, what deploy may remove.

Nothing lenet-edge did not write is ever deleted there:

- `--remote-dir` is checked before anything connects: no `..`, not `/` nor the home itself,
  no leading `-`, no control characters, no `~user`.
- The directory carries a marker, `.lenet-edge-deploy`, written by the first deploy. A deploy
  into a directory without it goes ahead only if the directory is missing or empty (our lock
  files aside) or holds an earlier lenet-edge's deploy, which is adopted (given the marker):
  `current` -> `releases/<our id>`, or `venv/lenet-edge-wheel.sha256`, or nothing but names
  such a deploy writes (a first deploy rolled back or stopped early; `only_ours`). Anything
  else is refused, naming what was found, and nothing there is changed.
- Prune and cleanup touch only `releases/<id>[.failed|.partial]` whose id matches
  `RELEASE_ID` and that hold nothing but a device bundle's files (manifest.json and the files
  it names; `bundle_only`): a release the user put a file into is kept, and named. A complete
  or failed release must also hold our manifest.json; a `.partial` one may lack it (an
  interrupted upload). `results/<id>-<kind>.json` goes only with a release pruned in the
  same run: our naming alone does not make a file ours.

The scripts are constant `sh -c` programs taking their parameters as "$1", "$2", ... (ssh.py);
the emitted Ansible playbook runs the same ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lenet_edge.deploy.ssh import Transport, first_line
from lenet_edge.errors import DeviceError, UsageError

MARKER = ".lenet-edge-deploy"  # in the deploy directory: lenet-edge made (or adopted) it
WHEEL_MARKER = "lenet-edge-wheel.sha256"  # in venv/: the sha256 of our installed wheel
LOCK_FILES = (".deploy.lock", ".deploy.lock.d")
# Release ids: UTC time + hex (install.new_release_id: 6 hex digits; the Ansible playbook: a
# decimal number below 2**24, up to 8 digits).
RELEASE_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{1,8}")
FOREIGN, NOT_A_DIRECTORY = 30, 31  # CLAIM_SCRIPT exit codes

# `our_id NAME`: whether NAME matches RELEASE_ID (the same rule, in POSIX sh). No `{#`, `{{`
# or `{%` in any script here: the Ansible playbook passes them through Jinja.
OUR_ID_SH = r"""
our_id() {
  case "$1" in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-?*) ;;
    *) return 1 ;; esac
  hex=${1#*Z-}
  case "$hex" in *[!0-9a-f]*|?????????*) return 1 ;; esac  # hex digits only, at most 8
}
"""

# `only_ours DIR`: whether everything in DIR has a name an earlier lenet-edge deploy writes
# (a deploy rolled back or stopped before `current` existed): lock files, releases/<our id>,
# results/<our id>-<kind>.json, wheels/*.whl. A venv without our wheel marker is not ours.
_ONLY_OURS_SH = r"""
only_ours() {
  for path in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    case "${path##*/}" in
      .deploy.lock|.deploy.lock.d) ;;
      releases) for item in "$path"/* "$path"/.[!.]*; do
          [ -e "$item" ] || [ -L "$item" ] || continue
          id=${item##*/}; id=${id%.partial}; id=${id%.failed}; our_id "$id" || return 1
        done ;;
      results) for item in "$path"/* "$path"/.[!.]*; do
          [ -e "$item" ] || [ -L "$item" ] || continue
          name=${item##*/}
          case "$name" in
            *-verify.json) id=${name%-verify.json} ;;
            *-benchmark.json) id=${name%-benchmark.json} ;;
            *) return 1 ;;
          esac
          our_id "$id" || return 1
        done ;;
      wheels) for item in "$path"/* "$path"/.[!.]*; do
          [ -e "$item" ] || [ -L "$item" ] || continue
          case "${item##*/}" in *.whl) ;; *) return 1 ;; esac
        done ;;
      *) return 1 ;;
    esac
  done
}
"""

# $1 root. Prints new / ours / adopted; exits FOREIGN listing the names found (stdout).
CLAIM_SCRIPT = OUR_ID_SH + _ONLY_OURS_SH + rf"""
state=new
if [ -f "$1/{MARKER}" ]; then
  state=ours
elif [ -e "$1" ] || [ -L "$1" ]; then
  if [ ! -d "$1" ]; then echo "$1 exists and is not a directory" >&2; exit {NOT_A_DIRECTORY}; fi
  link=$(readlink "$1/current" 2>/dev/null) || link=
  names=$(ls -A "$1") || exit 10
  others=$(printf '%s\n' "$names" | grep -v -x -F -e '{LOCK_FILES[0]}' -e '{LOCK_FILES[1]}')
  if [ -f "$1/venv/{WHEEL_MARKER}" ] || {{ [ "$link" != "${{link#releases/}}" ] &&
     our_id "${{link#releases/}}"; }}; then
    state=adopted
  elif only_ours "$1"; then
    [ -z "$others" ] || state=adopted
  else
    printf '%s\n' "$others"
    echo "$1 is not empty and has no {MARKER}: not a lenet-edge deploy directory" >&2
    exit {FOREIGN}
  fi
fi
if [ "$state" != ours ]; then
  mkdir -p "$1" || exit 10
  echo "lenet-edge deploy directory: deploy prunes only its own releases and results" \
    > "$1/{MARKER}" || exit 10
fi
echo "$state"
"""

# `bundle_only DIR`: whether DIR holds nothing but the files a device bundle is made of:
# its manifest.json and the files that manifest names ("file": "NAME", as strict_json writes
# it: reference.npz and the model files). Without a manifest (an upload cut short: the tar
# is sorted, manifest.json comes after the lenet5_* models) only the names convert gives
# models and the reference pass. A user's note, a sub-folder or a symlink keeps the release.
_BUNDLE_ONLY_SH = r"""
bundle_only() {
  for b_item in "$1"/* "$1"/.[!.]* "$1"/..?*; do  # b_: sh has no locals; callers use name
    [ -e "$b_item" ] || [ -L "$b_item" ] || continue
    [ -f "$b_item" ] && [ ! -L "$b_item" ] || return 1
    b_name=${b_item##*/}
    [ "$b_name" = manifest.json ] && continue
    if [ -f "$1/manifest.json" ]; then
      grep -q -F -e "\"file\": \"$b_name\"" "$1/manifest.json" || return 1
    else
      case "$b_name" in reference.npz|lenet5_*.tflite|lenet5_*.onnx) ;; *) return 1 ;; esac
    fi
  done
}
"""

# $1 root, $2 the live release, $3 the previous one (both kept). Prints, one a line, the
# releases kept because they hold files lenet-edge did not write. Results files go only
# with a release this run removes: a results/<our id>-verify.json without such a release may
# be the user's (our naming, their file).
PRUNE_SCRIPT = OUR_ID_SH + _BUNDLE_ONLY_SH + r"""
pruned=" "
for path in "$1"/releases/*; do
  name=${path##*/}; id=${name%.partial}; id=${id%.failed}
  [ -d "$path" ] && [ ! -L "$path" ] && our_id "$id" || continue
  case "$name" in
    "$2"|"$3") continue ;;
    *.partial) ;;
    *) [ -f "$path/manifest.json" ] || continue ;;
  esac
  if ! bundle_only "$path"; then echo "releases/$name"; continue; fi
  rm -rf -- "$path" || exit 15
  pruned="$pruned$id "
done
for path in "$1"/results/*-verify.json "$1"/results/*-benchmark.json; do
  name=${path##*/}; id=${name%-verify.json}; id=${id%-benchmark.json}
  [ -f "$path" ] && [ ! -L "$path" ] && our_id "$id" || continue
  case "$pruned" in *" $id "*) ;; *) continue ;; esac
  rm -f -- "$path" || exit 15
done
exit 0
"""

# $1 root: stale `<id>.partial` uploads of an interrupted deploy (run under the lock); one
# holding anything a device bundle does not is left alone.
CLEAN_PARTIAL_SH = _BUNDLE_ONLY_SH + r"""
for path in "$1"/releases/*.partial; do
  id=${path##*/}; id=${id%.partial}
  if [ -d "$path" ] && [ ! -L "$path" ] && our_id "$id" && bundle_only "$path"; then
    rm -rf -- "$path" || exit 10
  fi
done
"""


@dataclass(frozen=True)
class RemoteLayout:
    """The deploy directory on the device and the names inside it."""

    root: str

    @classmethod
    def parse(cls, remote_dir: str) -> RemoteLayout:
        """Accept an absolute path, a path relative to home, or `~/...` (made relative).

        Raises:
            UsageError: empty, `/` or the home itself, a `..` component, `~user`, a leading
                `-`, surrounding spaces or a control character.
        """
        path = remote_dir
        if path == "~" or path.startswith("~/"):
            path = path[2:]
        parts = [p for p in path.split("/") if p not in ("", ".")]
        why = ("a '..' component" if ".." in parts else
               "another user's home (~user)" if path.startswith("~") else
               "'/' itself" if path.startswith("/") and not parts else
               "the home directory itself" if not parts else
               "a leading '-'" if path.startswith("-") else
               "a control character" if any(ord(c) < 32 or ord(c) == 127 for c in path) else
               "spaces around it" if path != path.strip() else
               "")
        if why:
            raise UsageError(f"invalid --remote-dir {remote_dir!r}: {why}; use /abs/path or "
                             "dir/in/home, a directory of its own (e.g. lenet-edge)")
        return cls(root=path.rstrip("/"))

    def release(self, release_id: str) -> str:
        return f"{self.root}/releases/{release_id}"

    @property
    def current(self) -> str:
        return f"{self.root}/current"

    def result(self, release_id: str, kind: str) -> str:
        return f"{self.root}/results/{release_id}-{kind}.json"


def claim(transport: Transport, layout: RemoteLayout) -> str:
    """Make sure the deploy directory is lenet-edge's, marking a new or adopted one.

    Returns:
        "new", "ours" or "adopted" (an earlier lenet-edge's deploy, now marked).

    Raises:
        DeviceError: the directory holds files lenet-edge did not write, is not a directory,
            or cannot be made.
    """
    proc = transport.run(CLAIM_SCRIPT, [layout.root])
    where = f"{transport.target.label}: --remote-dir {layout.root}"
    if proc.returncode == FOREIGN:
        names = proc.stdout.decode(errors="replace").splitlines()
        shown = ", ".join(repr(name) for name in names[:5])
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        raise DeviceError(
            f"{where} is not a lenet-edge deploy directory: it holds {shown}{more} and no "
            f"{MARKER} marker; nothing was changed: choose a new or empty directory"
        )
    if proc.returncode == NOT_A_DIRECTORY:
        raise DeviceError(f"{where} exists and is not a directory")
    if proc.returncode:
        raise DeviceError(f"{where}: cannot create it: {first_line(proc.stderr)}")
    return proc.stdout.decode().strip()


def prune_releases(
    transport: Transport, layout: RemoteLayout, current_id: str, previous_id: str
) -> list[str]:
    """Remove our releases (and their results) but the live one and the one before it.

    Returns:
        The releases kept although old, because they hold files lenet-edge did not write
        (`releases/<id>`), for the caller to name.
    """
    proc = transport.run(PRUNE_SCRIPT, [layout.root, current_id, previous_id])
    if proc.returncode:
        raise DeviceError(f"{transport.target.label}: cannot prune old releases: "
                          f"{first_line(proc.stderr)}")
    return proc.stdout.decode(errors="replace").splitlines()


def kept_message(kept: list[str]) -> str:
    """The line that says which old releases prune left, and why."""
    return (f"kept {', '.join(kept)}: "
            f"{'it holds' if len(kept) == 1 else 'they hold'} files lenet-edge did not write; "
            "remove them by hand when done")
