#!/bin/sh
# Builds the Linux guest: a small riscv64 Linux 6.12 `Image` from Debian's linux-source-6.12 package
# (tinyconfig + Guests/linux/config.fragment) and an initramfs holding the static init of
# Guests/linux/init.c. Results are cached outside the repository, keyed by a hash of the inputs, so a
# machine builds each version once (a clean kernel build takes 5-10 minutes on two cores):
#   ${BACKPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backplane}/linux/
#     src-<package version>/   the unpacked kernel source (shared by every configuration)
#     obj/                     the kernel's out-of-tree build directory (reused incrementally)
#     kernel-<hash>/           Image, vmlinux and .config for one (fragment, script, source, compiler)
#     <hash>/                  Image + vmlinux + initramfs.cpio for one (kernel, init.c, script, compiler)
#
# `vmlinux` (the kernel ELF the Image is copied from) carries symbols and reduced DWARF
# (DEBUG_INFO_REDUCED below) for `gdb-multiarch vmlinux` against `backplane run ... --gdb`
# (docs/debugging.md). Debug information does not change the generated code.
#
#   scripts/build-linux.sh          build if needed; print the Image path, then the initramfs path
#
# Progress goes to stderr, the two paths to stdout. Fails, naming them, if lines of the fragment did
# not survive `make olddefconfig`. Needs: linux-source-6.12 gcc-riscv64-linux-gnu make bc bison flex
# libelf-dev libssl-dev (and a host cc for gen_init_cpio). JOBS sets make's -j (default 2: the build
# machines are shared).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
GUEST="$ROOT/Guests/linux"
SCRIPT="$ROOT/scripts/build-linux.sh"
FRAGMENT="$GUEST/config.fragment"
INIT_SRC="$GUEST/init.c"
PACKAGE=linux-source-6.12
TARBALL=/usr/src/linux-source-6.12.tar.xz
CROSS=riscv64-linux-gnu-
JOBS=${JOBS:-2}
CACHE=${BACKPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backplane}/linux

log() { echo "build-linux: $*" >&2; }
die() { echo "build-linux: error: $*" >&2; exit 1; }

for tool in "${CROSS}gcc" make bc bison flex cc flock sha256sum; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found (apt-get install $PACKAGE gcc-riscv64-linux-gnu make bc bison flex libelf-dev libssl-dev)"
done
[ -f "$TARBALL" ] || die "$TARBALL not found (apt-get install $PACKAGE)"
VERSION=$(dpkg-query -W -f='${Version}' "$PACKAGE" 2>/dev/null) || die "$PACKAGE is not installed"
for input in "$FRAGMENT" "$INIT_SRC" "$SCRIPT"; do [ -f "$input" ] || die "$input not found"; done
GCC_VERSION=$("${CROSS}gcc" --version | head -n 1)

KHASH=$( { cat "$FRAGMENT" "$SCRIPT"; echo "$VERSION"; echo "$GCC_VERSION"; } | sha256sum | cut -c1-16)
HASH=$( { echo "$KHASH"; cat "$INIT_SRC"; } | sha256sum | cut -c1-16)
OUT="$CACHE/$HASH"

built() {
    if [ -f "$OUT/Image" ] && [ -f "$OUT/vmlinux" ] && [ -f "$OUT/initramfs.cpio" ]; then
        echo "$OUT/Image"
        echo "$OUT/initramfs.cpio"
        exit 0
    fi
}
built

mkdir -p "$CACHE"
# One build at a time per machine: the obj/ directory is shared. Whoever waited may find the work
# done by the holder.
exec 9>"$CACHE/.lock"
flock 9
built

SRC="$CACHE/src-$VERSION"
OBJ="$CACHE/obj"
KOUT="$CACHE/kernel-$KHASH"
# Reproducible output: the same inputs give the same Image bytes.
export KBUILD_BUILD_TIMESTAMP="2024-11-17" KBUILD_BUILD_USER=backplane KBUILD_BUILD_HOST=backplane KBUILD_BUILD_VERSION=1
# KCFLAGS: DEBUG_INFO_REDUCED turns variable tracking off (-fno-var-tracking), and without it an
# argument read at a function's first line can show a stale register (GDB printed `ofdev=0x0` at
# of_platform_serial_probe). KCFLAGS come last on the compiler's command line, so this turns it
# back on; it changes only the debug information, never the code (the Image bytes are the same).
KMAKE="make -C $SRC O=$OBJ ARCH=riscv CROSS_COMPILE=$CROSS KCFLAGS=-fvar-tracking"

if [ ! -f "$SRC/Makefile" ]; then
    log "unpacking $TARBALL ($PACKAGE $VERSION)"
    rm -rf "$SRC.tmp"
    mkdir -p "$SRC.tmp"
    tar -xJf "$TARBALL" -C "$SRC.tmp" --strip-components=1
    mv "$SRC.tmp" "$SRC"
fi

# Prints every fragment line that the final .config does not carry. `CONFIG_X=v` must appear
# verbatim; `# CONFIG_X is not set` holds when X has no `CONFIG_X=` line (Kconfig omits the
# comment for symbols that are invisible in the final configuration).
lost_lines() {
    fragment=$1 config=$2
    grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$fragment" | while IFS= read -r line; do
        case "$line" in
            "# CONFIG_"*)
                name=${line#\# }
                name=${name%% is not set}
                if grep -q "^$name=" "$config"; then
                    echo "  $line    (final: $(grep "^$name=" "$config"))"
                fi
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

if [ ! -f "$KOUT/Image" ]; then
    log "configuring Linux $VERSION (tinyconfig + $(basename "$FRAGMENT")) in $OBJ"
    mkdir -p "$OBJ"
    $KMAKE tinyconfig >&2
    cat "$FRAGMENT" >> "$OBJ/.config"
    # Debug information for GDB, kept out of the fragment (which scripts/linux-guest.sh shares):
    # reduced DWARF gives functions, line numbers, variables and backtraces at a small build cost
    # (struct types only in the file that defines them; variable tracking is turned back on
    # through KCFLAGS above).
    printf '%s\n' CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT=y CONFIG_DEBUG_INFO_REDUCED=y \
        '# CONFIG_DEBUG_INFO_SPLIT is not set' '# CONFIG_GDB_SCRIPTS is not set' > "$OBJ/debug.fragment"
    cat "$OBJ/debug.fragment" >> "$OBJ/.config"
    $KMAKE olddefconfig >&2
    lost=$( { lost_lines "$FRAGMENT" "$OBJ/.config"; lost_lines "$OBJ/debug.fragment" "$OBJ/.config"; } )
    if [ -n "$lost" ]; then
        echo "build-linux: error: these lines of $FRAGMENT (or of the debug settings) did not survive olddefconfig:" >&2
        echo "$lost" >&2
        exit 1
    fi
    log "building Image with make -j$JOBS (5-10 minutes from clean on two cores)"
    start=$(date +%s)
    nice -n 10 $KMAKE -j"$JOBS" Image >&2
    log "kernel built in $(( $(date +%s) - start )) s"
    rm -rf "$KOUT.tmp"
    mkdir -p "$KOUT.tmp"
    cp "$OBJ/arch/riscv/boot/Image" "$OBJ/vmlinux" "$OBJ/.config" "$KOUT.tmp/"
    rm -rf "$KOUT"
    mv "$KOUT.tmp" "$KOUT"
fi

log "building init and initramfs"
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
"${CROSS}gcc" -static -Os -Wall -Wextra -Werror -o "$OUT.tmp/init" "$INIT_SRC"
"${CROSS}strip" "$OUT.tmp/init"
cc -O2 -o "$OUT.tmp/gen_init_cpio" "$SRC/usr/gen_init_cpio.c"
cat > "$OUT.tmp/initramfs.list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
file /init $OUT.tmp/init 0755 0 0
EOF
"$OUT.tmp/gen_init_cpio" -t 0 "$OUT.tmp/initramfs.list" > "$OUT.tmp/initramfs.cpio"
cp "$KOUT/Image" "$KOUT/vmlinux" "$KOUT/.config" "$OUT.tmp/"
rm -f "$OUT.tmp/gen_init_cpio" "$OUT.tmp/initramfs.list"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
log "done: $OUT"
echo "$OUT/Image"
echo "$OUT/initramfs.cpio"
