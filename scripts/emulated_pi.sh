#!/usr/bin/env bash
# emulated_pi.sh - a stand-in for a 64-bit Raspberry Pi (Debian 12 arm64, Python 3.11) on an
# x86_64 Debian host, from Debian's and PyPI's packages only.
#
# usage: scripts/emulated_pi.sh [--cpu cortex-a72|cortex-a76] [--dir DIR] COMMAND [ARGS]
#
#   user-sysroot               arm64 userland for qemu-user: Python 3.11, no kernel (~1 min)
#   user-site NAME REQFILE     aarch64 wheels of REQFILE installed into DIR/site-NAME, and
#                              DIR/bin/python-NAME: that site on the emulated Python
#   user-run NAME -- ARGS      run the emulated python3.11 ARGS with DIR/site-NAME on its path
#   vm-build                   a bootable Debian 12 arm64 disk image with sshd (~25 min)
#   vm-start [PORT] [--snapshot]  boot it; returns once ssh answers on 127.0.0.1:PORT (default
#                              2222); --snapshot: what the VM writes is discarded at vm-stop
#   vm-stop                    power it off cleanly (and kill qemu if it does not go)
#   vm-ssh ARGS                ssh into the running VM as root
#
# --cpu picks the Pi: cortex-a72 (Pi 4, the default) or cortex-a76 (Pi 5). Never qemu 7.2's
# default `max`: it advertises SME, and LiteRT's int8 kernels then return wrong answers.
# DIR defaults to .emulated-pi/ beside this repository. Every step is idempotent and keeps what
# it built. Needs root (apt-get, debootstrap). Never registers binfmt_misc: every arm64 binary
# is started through qemu explicitly. Traffic: the Debian mirror, PyPI, and 127.0.0.1 only.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(realpath -m "${EMULATED_PI_DIR:-$HERE/../.emulated-pi}")
CPU=cortex-a72
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm  # Raspberry Pi OS Bookworm is Debian 12: Python 3.11, glibc 2.36
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
PY_VERSION=3.11
# pip finds a manylinux_2_NN wheel only when that exact tag is listed (measured: the newest tag
# alone finds nothing), so list every glibc tag up to bookworm's 2.36.
WHEEL_TAGS=(manylinux2014_aarch64 manylinux_2_17_aarch64 manylinux_2_24_aarch64
            manylinux_2_27_aarch64 manylinux_2_28_aarch64 manylinux_2_31_aarch64
            manylinux_2_34_aarch64 manylinux_2_35_aarch64 manylinux_2_36_aarch64)
VM_PACKAGES=systemd-sysv,udev,openssh-server,python3,python3-venv,iproute2,kmod,netbase,procps,ca-certificates
VM_MODULES=(virtio_mmio virtio_pci virtio_blk virtio_net virtio_rng ext4)

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
say() { printf 'emulated_pi: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# What `-cpu` model qemu gets and what the fake /proc/cpuinfo says (ARM's CPU part numbers).
cpu_part() {
    case $1 in
        cortex-a72) echo 0xd08 ;;
        cortex-a76) echo 0xd0b ;;
        *) die "--cpu must be cortex-a72 (Pi 4) or cortex-a76 (Pi 5), got '$1'" ;;
    esac
}

need() {  # Debian packages, installed only when missing
    local missing=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" = 0 ] || die "needs root to install: ${missing[*]}"
    say "installing ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# debootstrap's first stage needs no arm64 execution: it only downloads and extracts the
# "required" packages; the rest (python3 ...) stays as .debs in var/cache/apt/archives.
first_stage() {  # first_stage TARGET PACKAGES
    rm -rf "$1.tmp"
    debootstrap --arch=arm64 --foreign --variant=minbase --include="$2" \
        "$SUITE" "$1.tmp" "$MIRROR" >&2
    mv "$1.tmp" "$1"
}

# qemu-user 7.2 shows programs the host's x86 /proc/cpuinfo, on which onnxruntime segfaults at
# import. qemu-user looks a path up under its -L prefix first, so the sysroot gets its own. The
# Model line says it is emulated, so no benchmark report can claim a real Pi.
write_cpuinfo() {  # write_cpuinfo SYSROOT CPU
    local part p
    part=$(cpu_part "$2")
    mkdir -p "$1/proc"
    {
        for p in 0 1 2 3; do
            printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$p"
            printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n'
            printf 'CPU part\t: %s\nCPU revision\t: 3\n\n' "$part"
        done
        printf 'Model\t\t: QEMU user-mode aarch64 (emulated %s; fake cpuinfo)\n' "$2"
    } > "$1/proc/cpuinfo.tmp"
    mv "$1/proc/cpuinfo.tmp" "$1/proc/cpuinfo"
}

sysroot() { echo "$DIR/sysroot-$1"; }

user_sysroot() {
    need qemu-user-static debootstrap
    local base=$DIR/rootfs cpu deb
    mkdir -p "$DIR"
    if [ ! -f "$base/.unpacked" ]; then
        [ -d "$base" ] || first_stage "$base" python3,python3-venv
        say "unpacking $(ls "$base"/var/cache/apt/archives/*.deb | wc -l) packages into $base"
        for deb in "$base"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$base"; done
        rm -f "$base"/var/cache/apt/archives/*.deb
        touch "$base/.unpacked"
    fi
    # One sysroot per Pi model, hard-linked to the base: only /proc/cpuinfo differs.
    for cpu in cortex-a72 cortex-a76; do
        if [ ! -d "$(sysroot $cpu)" ]; then
            cp -al "$base" "$(sysroot $cpu).tmp" && mv "$(sysroot $cpu).tmp" "$(sysroot $cpu)"
        fi
        rm -f "$(sysroot $cpu)/proc/cpuinfo"  # a new file, not the hard-linked one
        write_cpuinfo "$(sysroot $cpu)" "$cpu"
    done
    qemu-aarch64-static -cpu "$CPU" -L "$(sysroot "$CPU")" "$(sysroot "$CPU")/usr/bin/python$PY_VERSION" \
        -c 'import platform, sys; print("emulated_pi: arm64 python", platform.python_version(), platform.machine(), *platform.libc_ver())' >&2
}

user_site() {  # user_site NAME REQFILE
    local name=$1 reqs=$2 site=$DIR/site-$1 stamp tag platforms=()
    [ -f "$reqs" ] || die "no requirements file '$reqs'"
    [ -d "$(sysroot cortex-a72)" ] || die "no sysroot: run '$0 user-sysroot' first"
    for tag in "${WHEEL_TAGS[@]}"; do platforms+=(--platform "$tag"); done
    stamp=$(sha256sum "$reqs" | cut -c1-16)
    if [ "$(cat "$site/.requirements" 2>/dev/null)" != "$stamp" ]; then
        say "installing aarch64 wheels for $name into $site"
        rm -rf "$site.tmp"
        "${PIP:-pip}" install --quiet --disable-pip-version-check --no-compile \
            --target "$site.tmp" --only-binary=:all: --implementation cp --abi cp311 \
            --python-version "$PY_VERSION" "${platforms[@]}" -r "$reqs" >&2
        echo "$stamp" > "$site.tmp/.requirements"
        rm -rf "$site" && mv "$site.tmp" "$site"
    fi
    mkdir -p "$DIR/bin"
    # The wrapper acts like a device's python: `python-NAME -m lenet_edge verify ...`.
    cat > "$DIR/bin/python-$name.tmp" <<EOF
#!/bin/sh
# arm64 Python $PY_VERSION with $site, emulated by qemu-user (written by emulated_pi.sh).
# EMULATED_PI_CPU picks the Pi: cortex-a72 (Pi 4, default) or cortex-a76 (Pi 5).
cpu=\${EMULATED_PI_CPU:-cortex-a72}
root=$DIR/sysroot-\$cpu
# A fresh Python (a probe, a cold start) must start through qemu too: no binfmt_misc here.
export LENET_EDGE_PYTHON=$DIR/bin/python-$name
PYTHONPATH=$site\${PYTHONPATH:+:\$PYTHONPATH} exec qemu-aarch64-static -cpu "\$cpu" -L "\$root" "\$root/usr/bin/python$PY_VERSION" "\$@"
EOF
    chmod +x "$DIR/bin/python-$name.tmp" && mv "$DIR/bin/python-$name.tmp" "$DIR/bin/python-$name"
}

user_run() {  # user_run NAME -- ARGS
    local name=$1; shift; [ "${1:-}" = -- ] && shift
    [ -x "$DIR/bin/python-$name" ] || die "no site '$name': run '$0 user-site $name REQFILE'"
    EMULATED_PI_CPU=$CPU exec "$DIR/bin/python-$name" "$@"
}

# --- full system --------------------------------------------------------------------------

VM=$DIR/vm

# apt for arm64 with its own config and state, so the host's dpkg architectures stay as they are.
arm64_apt() {
    local d=$VM/apt
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
    : > "$d/status"
    printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" > "$d/sources.list"
    cat > "$d/apt.conf" <<EOF
Dir::Etc::sourcelist "$d/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$d/lists";
Dir::State::status "$d/status";
Dir::Cache "$d/cache";
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
EOF
    APT_CONFIG=$d/apt.conf apt-get -qq update >&2
}

# Debian's arm64 kernel builds virtio and ext4 as modules, and initramfs-tools cannot run for
# arm64 on this host: a busybox initramfs loads them, mounts root= and switches to init=.
build_initrd() {  # build_initrd KERNEL_VERSION
    local kv=$1 k=$VM/kernel i=$VM/initrd n=0 f
    depmod -b "$k" "$kv"
    rm -rf "$i"; mkdir -p "$i"/{bin,proc,sys,dev,newroot,modules}
    cp "$VM/busybox/bin/busybox" "$i/bin/"
    for f in $(for m in "${VM_MODULES[@]}"; do modprobe -d "$k" -S "$kv" --show-depends "$m"; done \
               | awk '$1 == "insmod" && !seen[$2]++ {print $2}'); do
        n=$((n + 1)); cp "$f" "$i/modules/$(printf %02d "$n")-$(basename "$f")"
    done
    cat > "$i/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in /modules/*.ko; do insmod "$m" || echo "initrd: cannot load $m"; done
root=/dev/vda init=/sbin/init
for arg in $(cat /proc/cmdline); do
    case $arg in root=*) root=${arg#root=} ;; init=*) init=${arg#init=} ;; esac
done
i=0; while [ ! -b "$root" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o rw "$root" /newroot || { echo "initrd: cannot mount $root"; exec sh; }
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot "$init"
EOF
    chmod +x "$i/init"
    (cd "$i" && find . | cpio -o -H newc --quiet | gzip -1) > "$VM/initrd.img.tmp"
    mv "$VM/initrd.img.tmp" "$VM/initrd.img"
}

qemu_system() {  # qemu_system APPEND NETDEV [qemu options...]: sets QEMU, the command line
    local append=$1 netdev=$2; shift 2
    QEMU=(qemu-system-aarch64 -M virt -cpu "$CPU" -smp 2 -m 2048 \
        -kernel "$VM/vmlinuz" -initrd "$VM/initrd.img" -append "root=/dev/vda rw console=ttyAMA0 $append" \
        -drive file="$VM/rootfs.ext4",if=none,format=raw,id=disk -device virtio-blk-device,drive=disk \
        -device virtio-rng-device -netdev "user,id=net,restrict=on$netdev" -device virtio-net-device,netdev=net \
        -display none -monitor none -no-reboot "$@")
}

vm_build() {
    need qemu-system-arm debootstrap e2fsprogs cpio kmod openssh-client
    [ -f "$VM/rootfs.ext4" ] && [ -f "$VM/.built" ] && { say "image exists: $VM/rootfs.ext4"; return; }
    mkdir -p "$VM"
    [ -d "$VM/root" ] || first_stage "$VM/root" "$VM_PACKAGES"
    arm64_apt
    local kpkg kv
    kpkg=$(APT_CONFIG=$VM/apt/apt.conf apt-cache depends linux-image-arm64 \
           | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    kv=${kpkg#linux-image-}
    (cd "$VM" && rm -f ./*.deb && APT_CONFIG=$VM/apt/apt.conf apt-get -qq download "$kpkg" busybox-static >&2)
    rm -rf "$VM/kernel" "$VM/busybox"
    dpkg-deb -x "$VM/${kpkg}"_*.deb "$VM/kernel"; dpkg-deb -x "$VM"/busybox-static_*.deb "$VM/busybox"
    cp "$VM/kernel/boot/vmlinuz-$kv" "$VM/vmlinuz"
    build_initrd "$kv"

    # Plain files can go into the root file system from the host before its first boot.
    local r=$VM/root
    [ -f "$VM/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C emulated-pi -f "$VM/id_ed25519"
    install -d -m 700 "$r/root/.ssh" && install -m 600 "$VM/id_ed25519.pub" "$r/root/.ssh/authorized_keys"
    echo pi-emu > "$r/etc/hostname"
    echo '/dev/vda / ext4 rw,noatime 0 1' > "$r/etc/fstab"
    mkdir -p "$r/etc/systemd/network"
    printf '[Match]\nName=e*\n\n[Network]\nDHCP=ipv4\n' > "$r/etc/systemd/network/10-wired.network"
    cat > "$r/stage2.sh" <<'EOF'
#!/bin/sh
# First boot, as PID 1: debootstrap's second stage (needs arm64 execution), then power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
/debootstrap/debootstrap --second-stage && echo STAGE2-OK || echo STAGE2-FAILED
systemctl enable systemd-networkd
apt-get clean; rm -f /stage2.sh; sync
mount -t proc proc /proc 2>/dev/null; echo o > /proc/sysrq-trigger; sleep 30
EOF
    chmod +x "$r/stage2.sh"
    # An ext4 image straight from a folder: no loop mount needed.
    mkfs.ext4 -q -F -L rootfs -d "$r" "$VM/rootfs.ext4" 4G
    say "first boot: debootstrap second stage inside the VM (~20 min; log: $VM/stage2.console)"
    qemu_system init=/stage2.sh '' -serial file:"$VM/stage2.console"
    timeout 3600 "${QEMU[@]}"
    grep -q STAGE2-OK "$VM/stage2.console" || die "second stage failed: see $VM/stage2.console"
    rm -rf "$VM/root" "$VM"/*.deb  # the image holds it now
    touch "$VM/.built"
    say "built $VM/rootfs.ext4"
}

ssh_vm() {  # ssh_vm PORT ARGS
    local port=$1; shift
    ssh -i "$VM/id_ed25519" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ConnectTimeout=5 -o BatchMode=yes -o LogLevel=ERROR root@127.0.0.1 "$@"
}

vm_start() {  # vm_start [PORT] [--snapshot]
    local port=2222 pid snapshot=()
    for arg in "$@"; do
        case $arg in --snapshot) snapshot=(-snapshot) ;; *) port=$arg ;; esac
    done
    [ -f "$VM/.built" ] || die "no image: run '$0 vm-build' first"
    if [ -f "$VM/qemu.pid" ] && kill -0 "$(cat "$VM/qemu.pid")" 2>/dev/null; then
        ssh_vm "$(cat "$VM/port")" true && { say "already running on port $(cat "$VM/port")"; return; }
        die "a VM is running (pid $(cat "$VM/qemu.pid")) but does not answer: $0 vm-stop"
    fi
    qemu_system '' ",hostfwd=tcp:127.0.0.1:$port-:22" -serial file:"$VM/boot.console" \
        -daemonize -pidfile "$VM/qemu.pid" "${snapshot[@]}"
    "${QEMU[@]}"
    echo "$port" > "$VM/port"
    local start=$SECONDS
    while [ $((SECONDS - start)) -lt 300 ]; do
        if ssh_vm "$port" true 2>/dev/null; then
            say "ssh up on 127.0.0.1:$port after $((SECONDS - start)) s (key: $VM/id_ed25519)"
            return
        fi
        pid=$(cat "$VM/qemu.pid" 2>/dev/null || true)
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || die "qemu exited; see $VM/boot.console"
        sleep 3
    done
    vm_stop; die "ssh did not answer within 300 s; see $VM/boot.console"
}

vm_stop() {
    [ -f "$VM/qemu.pid" ] || return 0
    local pid; pid=$(cat "$VM/qemu.pid")
    # A clean power-off keeps the ext4 image consistent; qemu exits with the guest (-no-reboot).
    ssh_vm "$(cat "$VM/port" 2>/dev/null || echo 2222)" 'systemctl poweroff' 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill "$pid" 2>/dev/null && say "qemu did not power off in 60 s; killed it"
    rm -f "$VM/qemu.pid" "$VM/port"
}

while [ $# -gt 0 ]; do
    case $1 in
        --cpu) CPU=${2:?--cpu needs a value}; cpu_part "$CPU" >/dev/null; shift 2 ;;
        --cpu=*) CPU=${1#--cpu=}; cpu_part "$CPU" >/dev/null; shift ;;
        --dir) DIR=$(realpath -m "${2:?--dir needs a value}"); shift 2 ;;
        --dir=*) DIR=$(realpath -m "${1#--dir=}"); shift ;;
        -h|--help) usage ;;
        *) break ;;
    esac
done
VM=$DIR/vm
command=${1:-}; [ $# -gt 0 ] && shift
case $command in
    user-sysroot) user_sysroot ;;
    user-site) [ $# -eq 2 ] || usage; user_site "$@" ;;
    user-run) [ $# -ge 1 ] || usage; user_run "$@" ;;
    vm-build) vm_build ;;
    vm-start) vm_start "$@" ;;
    vm-stop) vm_stop ;;
    vm-ssh) ssh_vm "$(cat "$VM/port" 2>/dev/null || echo 2222)" "$@" ;;
    *) usage ;;
esac
