#!/bin/sh
# Installs Backplane for plugin authors (docs/plugins.md "Installing the SDK"):
#   PREFIX/bin/backplane                        the command (a link to PREFIX/libexec/backplane/)
#   PREFIX/libexec/backplane/                   the binary and its bundled boards
#   PREFIX/include/backplane/*.h                the plugin SDK headers
#   PREFIX/lib/pkgconfig/backplane-plugin.pc    so `cc $(pkg-config --cflags backplane-plugin)` works
# Usage: scripts/install.sh [--prefix DIR] [--no-build]    (default prefix /usr/local; PREFIX= works too)
# Builds the release binary first unless --no-build (then BACKPLANE=PATH names the binary to
# install, default .build/release/backplane); DESTDIR is honoured for packaging.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --no-build) build=0; shift ;;
        *) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
dest=${DESTDIR:-}$prefix

if [ "$build" = 1 ]; then
    [ -x /opt/swift/usr/bin/swift ] && PATH=/opt/swift/usr/bin:$PATH
    (cd "$root" && swift build -c release --product backplane)
fi
# BACKPLANE: an already built binary to install (its resource bundles beside it).
if [ -n "${BACKPLANE:-}" ]; then
    bin=$(cd "$(dirname "$BACKPLANE")" && pwd)
else
    bin=$(cd "$root" && swift build -c release --show-bin-path 2>/dev/null || echo "$root/.build/release")
fi
[ -x "$bin/backplane" ] || { echo "install.sh: $bin/backplane not built (run without --no-build)" >&2; exit 2; }

version=$(sed -n 's/^#define BP_ABI_MAJOR \([0-9]*\)$/\1/p' "$root/Plugins/include/backplane/plugin.h").$(sed -n 's/^#define BP_ABI_MINOR \([0-9]*\)$/\1/p' "$root/Plugins/include/backplane/plugin.h")

mkdir -p "$dest/bin" "$dest/libexec/backplane" "$dest/include/backplane" "$dest/lib/pkgconfig"
# The binary finds its bundled boards in the resource bundle beside it.
cp "$bin/backplane" "$dest/libexec/backplane/backplane"
for bundle in "$bin"/*.resources; do
    [ -d "$bundle" ] || continue
    rm -rf "$dest/libexec/backplane/$(basename "$bundle")"
    cp -R "$bundle" "$dest/libexec/backplane/"
done
ln -sf "$prefix/libexec/backplane/backplane" "$dest/bin/backplane"
cp "$root"/Plugins/include/backplane/*.h "$dest/include/backplane/"
cat > "$dest/lib/pkgconfig/backplane-plugin.pc" <<PC
prefix=$prefix
includedir=\${prefix}/include

Name: backplane-plugin
Description: Backplane device plugin SDK (plugin ABI $version): build with cc -shared -fPIC
Version: $version
Cflags: -I\${includedir}
PC
echo "installed backplane (plugin ABI $version) under $dest"
