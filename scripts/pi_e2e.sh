#!/usr/bin/env bash
# pi_e2e.sh - deploy to an emulated Raspberry Pi end to end, as a user with an offline Pi would.
#
# Boots the Debian 12 arm64 VM from scripts/emulated_pi.sh (building it the first time,
# ~25 min) with a throwaway overlay, so every run starts from a clean device, then:
#   1. deploys a fresh digits bundle with no wheelhouse: the VM has no internet, so deploy must
#      stop with one line that gives the exact `pip download` for the device;
#   2. runs that command here, as the user would, to build the aarch64 wheelhouse;
#   3. deploys with that wheelhouse minus onnxruntime: one line naming what is missing;
#   4. deploys with the whole wheelhouse, verifying and benchmarking on the device, and
#      checks the results that came back against this machine's own verify;
#   5. deploys again under a gate no model can pass: it must roll back to release 4;
# and stops the VM. Log: .emulated-pi/e2e/e2e.log (EMULATED_PI_DIR moves .emulated-pi/).
# Traffic: PyPI and 127.0.0.1 only.
#
# usage: scripts/pi_e2e.sh [--cpu cortex-a72|cortex-a76] [--port PORT]
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CPU=cortex-a72
PORT=2222
while [ $# -gt 0 ]; do
    case $1 in
        --cpu) CPU=$2; shift 2 ;;
        --port) PORT=$2; shift 2 ;;
        *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
PI=("$REPO/scripts/emulated_pi.sh" --cpu "$CPU")
EMULATED=$(realpath -m "${EMULATED_PI_DIR:-$REPO/.emulated-pi}")  # as emulated_pi.sh
VM=$EMULATED/vm
WORK=$EMULATED/e2e
LENET=$REPO/.venv/bin/lenet-edge
export LENET_EDGE_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 COLUMNS=120

rm -rf "$WORK"; mkdir -p "$WORK"
exec > >(tee "$WORK/e2e.log") 2>&1
T0=$SECONDS
step() { printf '\n=== [%4d s] %s\n' $((SECONDS - T0)) "$*"; }
fail() { printf '\npi-e2e: FAILED: %s\n' "$*"; exit 1; }
deploy() {  # deploy ARGS...: lenet-edge deploy to the VM; prints nothing itself
    "$LENET" deploy "$WORK/bundle" 127.0.0.1 --user root --port "$PORT" -i "$VM/id_ed25519" \
        --known-hosts "$WORK/known_hosts" --accept-new-host-key "$@"
}
expect_one_line_error() {  # expect_one_line_error RC WANT_RC STDERR_FILE
    [ "$1" = "$2" ] || fail "deploy exited $1, expected $2 (see $3)"
    ! grep -q Traceback "$3" || fail "a traceback in $3"
    tail -n 1 "$3" | grep -q '^lenet-edge: error: ' || fail "last line of $3 is not one error line"
}

step "build the VM image (cached after the first run)"
"${PI[@]}" vm-build

step "train and convert a digits bundle on x86_64, verify it here"
"$LENET" train --dataset digits --seed 0 --out "$WORK/bundle" >/dev/null
"$LENET" convert "$WORK/bundle" >/dev/null
"$LENET" verify "$WORK/bundle" --json "$WORK/bundle/verify.json" >/dev/null

step "boot the emulated Pi ($CPU) on 127.0.0.1:$PORT"
trap '"${PI[@]}" vm-stop' EXIT
"${PI[@]}" vm-start "$PORT" --snapshot
"${PI[@]}" vm-ssh 'uname -srm; python3 --version; grep -m1 "CPU part" /proc/cpuinfo'

step "1. deploy with no wheelhouse: the Pi is offline, deploy must say what to download"
rc=0; deploy 2> "$WORK/offline.err" || rc=$?
tail -n 3 "$WORK/offline.err"
expect_one_line_error "$rc" 7 "$WORK/offline.err"
download=$(tail -n 1 "$WORK/offline.err" | grep -o 'pip download .*' | sed 's/ and deploy again.*//')
[ -n "$download" ] || fail "no 'pip download' command in the error"

step "2. run deploy's pip download here, as the user would"
echo "$download"
(cd "$WORK" && eval "$REPO/.venv/bin/python -m ${download}") >/dev/null
ls "$WORK/wheelhouse"
du -sh "$WORK/wheelhouse"

step "3. deploy with a wheelhouse missing onnxruntime: one line, naming it"
mkdir -p "$WORK/broken-wheelhouse"
find "$WORK/wheelhouse" -name '*.whl' ! -name 'onnxruntime-*' -exec cp {} "$WORK/broken-wheelhouse/" \;
rc=0; deploy --wheelhouse "$WORK/broken-wheelhouse" 2> "$WORK/broken.err" || rc=$?
tail -n 3 "$WORK/broken.err"
expect_one_line_error "$rc" 7 "$WORK/broken.err"
tail -n 1 "$WORK/broken.err" | grep -q onnxruntime || fail "the error does not name onnxruntime"
tail -n 1 "$WORK/broken.err" | grep -q 'pip download' || fail "the error gives no pip download"

step "4. deploy with the wheelhouse: install, verify and benchmark on the device"
deploy --wheelhouse "$WORK/wheelhouse" --benchmark --min-time 0.2 --json > "$WORK/deploy.json"
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
out = json.load(open(f"{work}/deploy.json"))
device = json.load(open(f"{work}/bundle/device-127.0.0.1-verify.json"))
local = json.load(open(f"{work}/bundle/verify.json"))
bench = json.load(open(f"{work}/bundle/device-127.0.0.1-benchmark.json"))
assert device["passed"] and len(device["results"]) == 7, device
assert all(r["status"] == "pass" for r in device["results"])
for d, x in zip(device["results"], local["results"]):
    assert (d["variant"], d["accuracy"], d["agreement"]) == (x["variant"], x["accuracy"],
                                                            x["agreement"]), (d, x)
    print(f"  {d['variant']:<10} {d['runtime']:<12} device {d['accuracy']:.2%} agree "
          f"{d['agreement']:.2%}   x86 {x['accuracy']:.2%} agree {x['agreement']:.2%}")
assert bench["machine"]["arch"] == "aarch64", bench["machine"]
assert {(r["variant"], r["status"]) for r in bench["results"]} >= {("fp32", "ok"), ("int8", "ok")}
print(f"  device: {bench['machine']['cpu']}, {bench['machine']['arch']}, "
      f"Python {bench['machine']['python']}; release {out.get('release')}")
PY
live=$("${PI[@]}" vm-ssh 'readlink lenet-edge/current')
echo "live release: $live"

step "5. deploy under a gate no model can pass (--max-drop -1): must roll back"
rc=0; deploy --wheelhouse "$WORK/wheelhouse" --max-drop -1 2> "$WORK/gate.err" || rc=$?
tail -n 3 "$WORK/gate.err"
[ "$rc" = 1 ] || fail "a failing gate exited $rc, expected 1"
after=$("${PI[@]}" vm-ssh 'readlink lenet-edge/current; ls lenet-edge/releases')
echo "$after"
[ "$(echo "$after" | head -n 1)" = "$live" ] || fail "current moved from $live"
echo "$after" | grep -q '\.failed$' || fail "no .failed release kept"

step "stop the VM"
"${PI[@]}" vm-stop; trap - EXIT
printf '\npi-e2e: passed in %d s (log: %s)\n' $((SECONDS - T0)) "$WORK/e2e.log"
