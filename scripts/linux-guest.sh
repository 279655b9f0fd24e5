#!/bin/sh
# Builds Backplane's development Linux guest: a riscv64 Linux 6.12 with loadable modules, virtio
# net/9p/rng/console, PCI MSI and USB (Debian's linux-source-6.12, `make allnoconfig` +
# Guests/linux/config.fragment + Guests/linux/dev/dev.fragment) and an initramfs with a static
# busybox from Debian's busybox source package (fetched with `apt-get source` through this
# script's own apt configuration: the system's sources are not touched), both cross-compiled with
# Debian's riscv64-linux-gnu-gcc. Results are cached by a hash of the inputs:
#   ${BACKPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backplane}/linux/
#     src-<package version>/     the unpacked kernel source (shared with scripts/build-linux.sh)
#     busybox/                   the private apt configuration and the busybox source package
#     dev-kernel-<hash>/         the kernel's build tree (O=): Image, .config, Module.symvers;
#                                out-of-tree modules build against it
#     dev-<hash>/                Image + initramfs.cpio + `build` (a link to the kernel tree)
#
#   scripts/linux-guest.sh            build if needed; print the Image, initramfs and kernel-tree paths
#   scripts/linux-guest.sh kernel     print only the kernel tree (for `make -C <tree> M=$PWD modules`)
#
# An out-of-tree module:  make -C "$(scripts/linux-guest.sh kernel)" M=$PWD ARCH=riscv \
#                             CROSS_COMPILE=riscv64-linux-gnu- modules
# Progress goes to stderr, paths to stdout. Needs what scripts/build-linux.sh needs plus dpkg-dev
# (for apt-get source) and network access to deb.debian.org the first time. JOBS sets make's -j
# (default 2).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEV="$ROOT/Guests/linux/dev"
SCRIPT="$ROOT/scripts/linux-guest.sh"
BASE_FRAGMENT="$ROOT/Guests/linux/config.fragment"
FRAGMENT="$DEV/dev.fragment"
BB_FRAGMENT="$DEV/busybox.fragment"
INIT="$DEV/init"
DHCP_SCRIPT="$DEV/udhcpc.script"
INITTAB="$DEV/inittab"
PROFILE="$DEV/profile"
PACKAGE=linux-source-6.12
TARBALL=/usr/src/linux-source-6.12.tar.xz
CROSS=riscv64-linux-gnu-
JOBS=${JOBS:-2}
CACHE=${BACKPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backplane}/linux
# The Debian suite whose busybox source is used; the system's own release.
SUITE=${BUSYBOX_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "linux-guest: $*" >&2; }
die() { echo "linux-guest: error: $*" >&2; exit 1; }

MODE=${1:-all}
case "$MODE" in all|kernel) ;; *) die "usage: $0 [kernel]" ;; esac

for tool in "${CROSS}gcc" make bc bison flex cc flock sha256sum apt-get dpkg-source; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found (apt-get install $PACKAGE gcc-riscv64-linux-gnu make bc bison flex libelf-dev libssl-dev dpkg-dev)"
done
[ -f "$TARBALL" ] || die "$TARBALL not found (apt-get install $PACKAGE)"
VERSION=$(dpkg-query -W -f='${Version}' "$PACKAGE" 2>/dev/null) || die "$PACKAGE is not installed"
for input in "$BASE_FRAGMENT" "$FRAGMENT" "$BB_FRAGMENT" "$INIT" "$DHCP_SCRIPT" "$INITTAB" "$PROFILE" "$SCRIPT"; do
    [ -f "$input" ] || die "$input not found"
done
GCC_VERSION=$("${CROSS}gcc" --version | head -n 1)

mkdir -p "$CACHE"
# One development-guest build at a time per machine. Its trees are its own, so it does not wait for
# scripts/build-linux.sh, except to unpack the shared source below.
exec 8>"$CACHE/.dev-lock"
flock 8

# --- Busybox source: Debian's package, through a private apt configuration ---
BB="$CACHE/busybox"
APT_OPTS="-o Dir::Etc::SourceList=$BB/apt/sources.list -o Dir::Etc::SourceParts=$BB/apt/none
 -o Dir::State::Lists=$BB/apt/lists -o Dir::Cache=$BB/apt/cache -o Debug::NoLocking=true
 -o APT::Sandbox::User=root"
if [ ! -f "$BB/source-version" ]; then
    log "fetching Debian's busybox source ($SUITE) with a private deb-src entry"
    mkdir -p "$BB/apt/lists/partial" "$BB/apt/cache/archives/partial" "$BB/apt/none"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" > "$BB/apt/sources.list"
    # shellcheck disable=SC2086
    apt-get $APT_OPTS -qq update >&2
    rm -rf "$BB/fetch"
    mkdir -p "$BB/fetch"
    # shellcheck disable=SC2086
    (cd "$BB/fetch" && apt-get $APT_OPTS -qq source busybox >&2)
    dir=$(find "$BB/fetch" -mindepth 1 -maxdepth 1 -type d -name 'busybox-*' | head -n 1)
    [ -n "$dir" ] || die "apt-get source busybox left no busybox-* directory in $BB/fetch"
    bbversion=$(dpkg-parsechangelog -l "$dir/debian/changelog" -S Version)
    rm -rf "$BB/src"
    mv "$dir" "$BB/src"
    echo "$bbversion" > "$BB/source-version"
fi
BB_VERSION=$(cat "$BB/source-version")

# The kernel's key leaves this script out (an edit to the initramfs steps must not cost a kernel
# build); KERNEL_RECIPE stands for the kernel steps below: change it when they change.
KERNEL_RECIPE=1
KHASH=$( { cat "$BASE_FRAGMENT" "$FRAGMENT"; echo "$KERNEL_RECIPE"; echo "$VERSION"; echo "$GCC_VERSION"; } | sha256sum | cut -c1-16)
HASH=$( { echo "$KHASH"; cat "$SCRIPT" "$BB_FRAGMENT" "$INIT" "$DHCP_SCRIPT" "$INITTAB" "$PROFILE"; echo "$BB_VERSION"; } | sha256sum | cut -c1-16)
KOUT="$CACHE/dev-kernel-$KHASH"
OUT="$CACHE/dev-$HASH"

SRC="$CACHE/src-$VERSION"
export KBUILD_BUILD_TIMESTAMP="2024-11-17" KBUILD_BUILD_USER=backplane KBUILD_BUILD_HOST=backplane KBUILD_BUILD_VERSION=1
KMAKE="make -C $SRC O=$KOUT ARCH=riscv CROSS_COMPILE=$CROSS"

if [ ! -f "$SRC/Makefile" ]; then
    exec 9>"$CACHE/.lock"
    flock 9
fi
if [ ! -f "$SRC/Makefile" ]; then
    log "unpacking $TARBALL ($PACKAGE $VERSION)"
    rm -rf "$SRC.tmp"
    mkdir -p "$SRC.tmp"
    tar -xJf "$TARBALL" -C "$SRC.tmp" --strip-components=1
    mv "$SRC.tmp" "$SRC"
fi

# Prints every fragment line the final .config does not carry (as scripts/build-linux.sh does).
lost_lines() {
    fragment=$1 config=$2
    grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$fragment" | while IFS= read -r line; do
        case "$line" in
            "# CONFIG_"*)
                name=${line#\# }
                name=${name%% is not set}
                if grep -q "^$name=" "$config"; then echo "  $line    (final: $(grep "^$name=" "$config"))"; fi
                ;;
            *)
                if ! grep -qxF "$line" "$config"; then
                    name=${line%%=*}
                    final=$(grep -E "^$name=|^# $name is not set" "$config" || true)
                    echo "  $line    (final: ${final:-absent})"
                fi
                ;;
        esac
    done
}

# The kernel tree is complete once Module.symvers exists (written after vmlinux and modules).
if [ ! -f "$KOUT/.done" ]; then
    start=$(date +%s)
    log "configuring Linux $VERSION (allnoconfig + config.fragment + dev.fragment) in $KOUT"
    mkdir -p "$KOUT"
    $KMAKE allnoconfig >&2
    cat "$BASE_FRAGMENT" "$FRAGMENT" >> "$KOUT/.config"
    $KMAKE olddefconfig >&2
    lost=$( { lost_lines "$BASE_FRAGMENT" "$KOUT/.config"; lost_lines "$FRAGMENT" "$KOUT/.config"; } )
    if [ -n "$lost" ]; then
        echo "linux-guest: error: these fragment lines did not survive olddefconfig:" >&2
        echo "$lost" >&2
        exit 1
    fi
    log "building Image and modules with make -j$JOBS"
    nice -n 10 $KMAKE -j"$JOBS" Image modules >&2
    # modules_prepare state is what out-of-tree builds need; it is part of the tree already.
    touch "$KOUT/.done"
    log "kernel built in $(( $(date +%s) - start )) s"
fi
if [ "$MODE" = kernel ]; then echo "$KOUT"; exit 0; fi

if [ -f "$OUT/Image" ] && [ -f "$OUT/initramfs.cpio" ]; then
    echo "$OUT/Image"; echo "$OUT/initramfs.cpio"; echo "$KOUT"; exit 0
fi

start=$(date +%s)
BBOBJ="$CACHE/busybox/obj-$HASH"
if [ ! -x "$BBOBJ/busybox" ]; then
    log "configuring busybox $BB_VERSION (Debian's static configuration + busybox.fragment)"
    # Only the newest configuration's objects are kept.
    rm -rf "$CACHE/busybox"/obj-*
    mkdir -p "$BBOBJ"
    cp "$BB/src/debian/config/pkg/static" "$BBOBJ/.config"
    # A fragment line replaces the configuration's line for the same option.
    grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$BB_FRAGMENT" | while IFS= read -r line; do
        name=${line#\# }; name=${name%%=*}; name=${name%% is not set}
        sed -i -e "/^$name=/d" -e "/^# $name is not set\$/d" "$BBOBJ/.config"
        echo "$line" >> "$BBOBJ/.config"
    done
    yes '' | make -C "$BB/src" O="$BBOBJ" oldconfig >/dev/null
    lost=$(lost_lines "$BB_FRAGMENT" "$BBOBJ/.config")
    if [ -n "$lost" ]; then
        echo "linux-guest: error: these lines of $BB_FRAGMENT did not survive busybox's oldconfig:" >&2
        echo "$lost" >&2
        exit 1
    fi
    log "building busybox with make -j$JOBS"
    nice -n 10 make -C "$BBOBJ" -j"$JOBS" busybox busybox.links >&2
fi

log "assembling the initramfs"
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
cc -O2 -o "$OUT.tmp/gen_init_cpio" "$SRC/usr/gen_init_cpio.c"
{
    for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /run /etc /root /mnt /mnt/share; do
        echo "dir $d 0755 0 0"
    done
    echo "nod /dev/console 0600 0 0 c 5 1"
    echo "file /bin/busybox $BBOBJ/busybox 0755 0 0"
    echo "file /init $INIT 0755 0 0"
    echo "file /etc/udhcpc.script $DHCP_SCRIPT 0755 0 0"
    echo "file /etc/inittab $INITTAB 0644 0 0"
    echo "file /etc/profile $PROFILE 0644 0 0"
    # One link per applet, where busybox installs it (busybox.links lists /bin/sh, /sbin/insmod...).
    sed 's|^/||' "$BBOBJ/busybox.links"
} > "$OUT.tmp/initramfs.list.in"
while IFS= read -r line; do
    case "$line" in
        dir\ *|nod\ *|file\ *) echo "$line" ;;
        bin/busybox|"") ;;
        *) echo "slink /$line /bin/busybox 0777 0 0" ;;
    esac
done < "$OUT.tmp/initramfs.list.in" | sort -u -k2,2 > "$OUT.tmp/initramfs.list"
# dirs before their contents: gen_init_cpio writes entries in list order.
{ grep '^dir ' "$OUT.tmp/initramfs.list" | sort -k2,2; grep -v '^dir ' "$OUT.tmp/initramfs.list"; } > "$OUT.tmp/list"
"$OUT.tmp/gen_init_cpio" -t 0 "$OUT.tmp/list" > "$OUT.tmp/initramfs.cpio"
cp "$KOUT/arch/riscv/boot/Image" "$KOUT/.config" "$OUT.tmp/"
ln -s "$KOUT" "$OUT.tmp/build"
rm -f "$OUT.tmp/gen_init_cpio" "$OUT.tmp/initramfs.list.in" "$OUT.tmp/initramfs.list" "$OUT.tmp/list"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
log "initramfs built in $(( $(date +%s) - start )) s; done: $OUT"
echo "$OUT/Image"
echo "$OUT/initramfs.cpio"
echo "$KOUT"
