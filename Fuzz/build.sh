#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/Targets/*.swift) with `swiftc -sanitize=fuzzer,address`:
# the modules they exercise are compiled from Modules/ into instrumented objects, one module at a
# time, outside the package build (so `swift build` never pays for instrumentation).
#   Fuzz/build.sh [OUTDIR]      (default .build/fuzz/libfuzzer)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/.build/fuzz/libfuzzer}
command -v swiftc >/dev/null || source "$ROOT/scripts/setup.sh" >/dev/null
mkdir -p "$OUT/modules"
FLAGS=(-sanitize=fuzzer,address -parse-as-library -O -g -I "$OUT/modules" -I "$ROOT/Modules/DeviceTree/CLibFDT"
       -I "$ROOT/Plugins/include")

# module NAME SOURCE_DIR: one instrumented object and its .swiftmodule, rebuilt when a source changed.
module() {
    local name=$1 dir=$2 object="$OUT/modules/$1.o"
    if [ -f "$object" ] && [ -z "$(find "$ROOT/$dir" -name '*.swift' -newer "$object" | head -1)" ]; then return; fi
    echo "fuzz build: module $name" >&2
    swiftc "${FLAGS[@]}" -wmo -module-name "$name" -emit-module -emit-module-path "$OUT/modules/$name.swiftmodule" \
        -c $(find "$ROOT/$dir" -name '*.swift' | sort) -o "$object" 2> >(grep -v "Cannot export local symbol" >&2)
}

# target NAME MODULES...: links Fuzz/Targets/NAME.swift (+ FuzzBus.swift for bus targets).
target() {
    local name=$1; shift
    local sources=("$ROOT/Fuzz/Targets/$name.swift") objects=()
    for m in "$@"; do objects+=("$OUT/modules/$m.o"); done
    case "$name" in fdt_reader|gdb_protocol|control_protocol) ;; *) sources+=("$ROOT/Fuzz/Targets/FuzzBus.swift") ;; esac
    # The plugin-type checks are compiled in from PluginHost (which as a whole needs the CPU).
    [ "$name" = plugin_types ] && sources+=("$ROOT/Modules/PluginHost/PluginDeviceTypes.swift")
    local newer
    newer=$(find "${sources[@]}" "${objects[@]}" -newer "$OUT/$name" 2>/dev/null | head -1 || true)
    if [ -x "$OUT/$name" ] && [ -z "$newer" ]; then return; fi
    echo "fuzz build: target $name" >&2
    rm -f "$OUT/$name"
    swiftc "${FLAGS[@]}" -module-name "fuzz_$name" "${sources[@]}" "${objects[@]}" -lfdt -o "$OUT/$name" \
        2>&1 | grep -v "Cannot export local symbol" >&2 || true
    [ -x "$OUT/$name" ] || { echo "fuzz build: $name did not link" >&2; exit 1; }
}

# Trace sits below every device module (docs/debugging.md); off, it costs the targets nothing.
module Trace Modules/Trace
module Memory Modules/Memory
module IRQ Modules/IRQ
module PCI Modules/PCI
BUS=(Trace Memory IRQ PCI)
# Disk images live in their own module once Modules/Storage exists (device kinds); before, in Virtio.
if [ -d "$ROOT/Modules/Storage" ]; then module Storage Modules/Storage; BUS+=(Storage); fi
module Virtio Modules/Virtio
module USB Modules/USB
module DeviceTree Modules/DeviceTree/Swift
# The socket protocols: GDB's framing and session, the control socket's lines and answers.
module Control Modules/Control
module GDB Modules/GDB
BUS+=(Virtio USB)
target pci_config "${BUS[@]}"
target xhci_rings "${BUS[@]}"
target virtio_chains "${BUS[@]}"
target fdt_reader DeviceTree
target plugin_types "${BUS[@]}"
target gdb_protocol Control GDB
target control_protocol Control
echo "$OUT"
