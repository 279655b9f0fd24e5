#!/bin/sh
# Runs every ISA test under an emulator and prints one line per test.
#   Guests/isa/run.sh qemu                 # qemu-system-riscv64 -M spike -bios none
#   Guests/isa/run.sh backplane            # $BACKPLANE or .build/release/backplane run spike
#   Guests/isa/run.sh CMD ARGS...          # runs `CMD ARGS... test.elf`
# Env: OUT (build directory, default /tmp/backplane-guests), TESTS (space-separated names to run),
# TIMEOUT (seconds per test, default 20). Exit status: number of failing tests.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/backplane-guests}
TIMEOUT=${TIMEOUT:-20}
sh "$ROOT/scripts/build-guests.sh" "$OUT" isa || exit 2
case "${1:-qemu}" in
    qemu) set -- qemu-system-riscv64 -M spike -bios none -nographic -kernel ;;
    backplane) set -- "${BACKPLANE:-$ROOT/.build/release/backplane}" run spike --bios none --kernel ;;
esac
fails=0
for elf in "$OUT"/isa/*.elf; do
    name=$(basename "$elf" .elf)
    if [ -n "${TESTS:-}" ]; then
        case " $TESTS " in *" $name "*) ;; *) continue ;; esac
    fi
    log=$(timeout "$TIMEOUT" "$@" "$elf" </dev/null 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        printf '%-24s PASS\n' "$name"
    else
        fails=$((fails + 1))
        if [ $rc -eq 124 ]; then what="TIMEOUT"; else what="FAIL (case $rc)"; fi
        printf '%-24s %s %s\n' "$name" "$what" "$(echo "$log" | tr '\n' ' ' | cut -c1-160)"
    fi
done
exit $fails
