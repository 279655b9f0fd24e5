#!/bin/sh
# The nested test machine (docs/passthrough.md, "The nested test machine"): an x86-64 Linux under
# Debian's qemu-system-x86_64 with an emulated Intel IOMMU, whose emulated PCI and USB devices play
# the host devices Backplane passes through. Everything comes from Debian's packages at run time and
# is cached outside the repository:
#   ${BACKPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backplane}/nested/
#     <kernel package>.deb, kernel/       Debian's linux-image-*-amd64, unpacked (dpkg-deb -x) + modules.dep
#
#   scripts/nested/run.sh [options] SCRIPT
#     --qemu ARG        pass ARG to qemu-system-x86_64 (repeatable; e.g. --qemu "-device edu")
#     --add SRC[:DEST]  put file SRC into the initramfs at DEST (default /work/<basename>); repeatable
#     --binary PATH     the backplane binary to carry (default .build/release/backplane); its shared
#                       libraries (ldd, the Swift runtime included) go in with it, at the same paths
#     --timeout SEC     stop the machine after SEC seconds (default 300); exit status 124
#     --accel kvm|tcg   default: kvm when /dev/kvm opens and the CPU shows vmx/svm, else tcg
#     --memory MB       default 2048
#
# SCRIPT runs as root (busybox sh) in the nested machine after /proc, /sys and /dev are mounted, with
# backplane on PATH and the added files under /work. Its output reaches stdout through the serial
# console; its exit status becomes this script's. The kernel boots with intel_iommu=on; the modules
# vfio-pci, vfio_iommu_type1, nvme, xhci-pci, usb-storage, usbhid (and their dependencies) are in the
# initramfs for SCRIPT to modprobe. Status 3 and "skipped: qemu-system-x86 missing" when the packages
# are not installed and cannot be.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${BACKPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backplane}/nested
BINARY=$ROOT/.build/release/backplane
TIMEOUT=300
ACCEL=
MEMORY=2048
QEMU_ARGS=
ADDS=
SCRIPT=

log() { echo "nested: $*" >&2; }
die() { echo "nested: error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        --qemu) QEMU_ARGS="$QEMU_ARGS $2"; shift 2 ;;
        --add) ADDS="$ADDS
$2"; shift 2 ;;
        --binary) BINARY=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --accel) ACCEL=$2; shift 2 ;;
        --memory) MEMORY=$2; shift 2 ;;
        -*) die "unknown option $1" ;;
        *) SCRIPT=$1; shift ;;
    esac
done
[ -n "$SCRIPT" ] && [ -f "$SCRIPT" ] || die "no SCRIPT to run (scripts/nested/run.sh [options] SCRIPT)"
[ -x "$BINARY" ] || die "$BINARY not found (swift build -c release --product backplane)"

# Packages: qemu-system-x86 (the machine) and busybox-static (its userland).
missing=
for package in qemu-system-x86 busybox-static; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    log "installing$missing"
    sudo_cmd=
    [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
    { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends $missing; } >/dev/null 2>&1 || true
    command -v qemu-system-x86_64 >/dev/null 2>&1 && [ -x /bin/busybox ] || { echo "skipped: qemu-system-x86 missing"; exit 3; }
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# Debian's kernel: the image package linux-image-amd64 depends on, unpacked once.
PACKAGE=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
[ -n "$PACKAGE" ] || die "apt-cache knows no linux-image-amd64 (apt-get update?)"
KERNEL_VERSION=${PACKAGE#linux-image-}
KDIR=$CACHE/kernel-$KERNEL_VERSION
if [ ! -f "$KDIR/lib/modules/$KERNEL_VERSION/modules.dep" ]; then
    log "fetching $PACKAGE"
    rm -rf "$KDIR" "$CACHE"/"$PACKAGE"_*.deb
    (cd "$CACHE" && apt-get download "$PACKAGE" >/dev/null 2>&1) || die "apt-get download $PACKAGE failed"
    dpkg-deb -x "$CACHE"/"$PACKAGE"_*.deb "$KDIR"
    busybox depmod -b "$KDIR" "$KERNEL_VERSION"
fi
VMLINUZ=$KDIR/boot/vmlinuz-$KERNEL_VERSION
MODDIR=$KDIR/lib/modules/$KERNEL_VERSION

# The initramfs, rebuilt every run (a few seconds; uncompressed so the kernel needs no decompressor time).
STAGE=$(mktemp -d "$CACHE/stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT INT TERM
mkdir -p "$STAGE/bin" "$STAGE/proc" "$STAGE/sys" "$STAGE/dev" "$STAGE/tmp" "$STAGE/work" "$STAGE/usr/share/misc" "$STAGE/lib/modules/$KERNEL_VERSION"
cp /bin/busybox "$STAGE/bin/busybox"

# The modules the experiments load, with everything modules.dep says they need.
wanted="vfio-pci vfio_iommu_type1 nvme xhci-pci usb-storage usbhid hid-generic sd_mod"
files=
for module in $wanted; do
    line=$(grep -E "/$(echo "$module" | sed 's/[-_]/[-_]/g')\.ko:" "$MODDIR/modules.dep") || die "module $module not in $PACKAGE"
    files="$files $(echo "$line" | tr -d ':')"
done
for file in $(echo $files | tr ' ' '\n' | sort -u); do
    mkdir -p "$STAGE/lib/modules/$KERNEL_VERSION/$(dirname "$file")"
    cp "$MODDIR/$file" "$STAGE/lib/modules/$KERNEL_VERSION/$file"
done
cp "$MODDIR/modules.builtin" "$MODDIR/modules.order" "$STAGE/lib/modules/$KERNEL_VERSION/"
busybox depmod -b "$STAGE" "$KERNEL_VERSION"

# backplane and every library it loads, at the same absolute paths (its RUNPATH names them).
mkdir -p "$STAGE/usr/local/bin"
cp "$BINARY" "$STAGE/usr/local/bin/backplane"
# SwiftPM resource bundles (the bundled boards) sit beside the binary.
for bundle in "$(dirname "$BINARY")"/*.resources; do
    [ -d "$bundle" ] && cp -r "$bundle" "$STAGE/usr/local/bin/"
done
for library in $(ldd "$BINARY" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'); do
    mkdir -p "$STAGE$(dirname "$library")"
    cp -L "$library" "$STAGE$library"
done
[ -f /usr/share/misc/pci.ids ] && cp /usr/share/misc/pci.ids "$STAGE/usr/share/misc/"
# The firmware the bundled boards boot (Debian's OpenSBI), at the path the boards name.
for firmware in /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin; do
    [ -f "$firmware" ] && mkdir -p "$STAGE$(dirname "$firmware")" && cp "$firmware" "$STAGE$firmware"
done
cp "$SCRIPT" "$STAGE/work/test.sh"
echo "$ADDS" | while IFS= read -r add; do
    [ -n "$add" ] || continue
    src=${add%%:*}
    dest=${add#*:}
    [ "$dest" = "$add" ] && dest=/work/$(basename "$src")
    [ -e "$src" ] || die "--add: $src not found"
    mkdir -p "$STAGE$(dirname "$dest")"
    cp -rL "$src" "$STAGE$dest"
done

cat > "$STAGE/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "nested: up after $(cut -d' ' -f1 /proc/uptime) s"
cd /work
sh /work/test.sh
echo "nested: exit $?"
poweroff -f
INIT
chmod +x "$STAGE/init"
(cd "$STAGE" && find . | cpio -o -H newc --quiet > "$CACHE/initramfs-$$.cpio")
INITRD=$CACHE/initramfs-$$.cpio
trap 'rm -rf "$STAGE" "$INITRD"' EXIT INT TERM
flock -u 9

if [ -z "$ACCEL" ]; then
    ACCEL=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qE '^flags.* (vmx|svm)( |$)' /proc/cpuinfo; then ACCEL=kvm; fi
fi
case $ACCEL in
    kvm) MACHINE="q35,accel=kvm,kernel-irqchip=split"; CPU=${NESTED_CPU:-host} ;;
    tcg) MACHINE="q35,accel=tcg"; CPU=max ;;
    *) die "--accel: $ACCEL is not kvm or tcg" ;;
esac
log "booting $PACKAGE ($ACCEL, ${MEMORY} MiB) with$QEMU_ARGS"

# intel-iommu comes first: QEMU wants it before the PCI devices it translates for.
# The marker line "nested: exit N" carries SCRIPT's status out through the console.
OUT=$(mktemp "$CACHE/console.XXXXXX")
trap 'rm -rf "$STAGE" "$INITRD" "$OUT" "$OUT.status"' EXIT INT TERM
# shellcheck disable=SC2086
{ timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 -M "$MACHINE" -cpu "$CPU" -smp 1 -m "$MEMORY" \
    -device intel-iommu,intremap=on \
    -no-reboot -serial stdio -monitor none -display none -nodefaults \
    -kernel "$VMLINUZ" -initrd "$INITRD" \
    -append "console=ttyS0 intel_iommu=on iommu=nopt panic=-1 quiet loglevel=4" \
    $QEMU_ARGS < /dev/null && code=0 || code=$?; echo "$code" > "$OUT.status"; } | tee "$OUT"
status=$(cat "$OUT.status")
[ "$status" -eq 124 ] && { log "timed out after $TIMEOUT s"; exit 124; }
code=$(sed -n 's/^nested: exit \([0-9]*\).*/\1/p' "$OUT" | tail -n 1)
[ -n "$code" ] || { log "the machine stopped before SCRIPT finished (qemu status $status)"; exit 1; }
exit "$code"
