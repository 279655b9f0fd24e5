#!/usr/bin/env bash
# Runs the libFuzzer targets: first every input in Fuzz/regressions/TARGET/ (inputs that once
# crashed or hung a target; each must now pass), then fuzzing for SECONDS per target, growing a
# local corpus in .build/fuzz/corpus/TARGET (not committed). A new crash or a slow input (over 10 s)
# fails the run and is written to Fuzz/regressions/TARGET/ to be fixed and committed.
#   Fuzz/run.sh [SECONDS] [TARGET...]      (default 15 s; targets: pci_config xhci_rings virtio_chains fdt_reader
#                                          plugin_types gdb_protocol control_protocol)
set -euo pipefail
# A Swift trap under ASan: print libFuzzer's trace and go on, not the Swift backtracer's (slow).
export SWIFT_BACKTRACE=enable=no
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${1:-15}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(pci_config xhci_rings virtio_chains fdt_reader plugin_types gdb_protocol control_protocol)
BIN=$("$ROOT/Fuzz/build.sh")
CORPUS=$ROOT/.build/fuzz/corpus
BACKPLANE=${BACKPLANE:-$ROOT/.build/release/backplane}
failed=0
for target in "${TARGETS[@]}"; do
    mkdir -p "$CORPUS/$target" "$ROOT/Fuzz/regressions/$target"
    # Device trees of the bundled boards seed the reader (generated, never committed).
    if [ "$target" = fdt_reader ] && [ -x "$BACKPLANE" ]; then
        for board in virt virt-aia spike; do "$BACKPLANE" dtb "$board" -o "$CORPUS/$target/$board.dtb" || true; done
    fi
    # Structured seeds for the ring targets: a driver's first steps (generated, never committed).
    # and for the protocols, a debugger's and a control client's conversation.
    case "$target" in xhci_rings|virtio_chains|gdb_protocol|control_protocol) python3 "$ROOT/Fuzz/seeds.py" "$target" "$CORPUS/$target" ;; esac
    regressions=("$ROOT/Fuzz/regressions/$target"/*)
    if [ -e "${regressions[0]}" ]; then
        if ! "$BIN/$target" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" > "$BIN/$target.regressions.log" 2>&1; then
            echo "fuzz: $target: a regression input fails again (log: $BIN/$target.regressions.log)"
            failed=1
        fi
    fi
    log=$BIN/$target.log
    # The protocols' words and edge numbers, where a target has a dictionary.
    dictionary=()
    [ -f "$ROOT/Fuzz/dictionaries/$target.dict" ] && dictionary=(-dict="$ROOT/Fuzz/dictionaries/$target.dict")
    if "$BIN/$target" "${dictionary[@]}" -max_total_time="$SECONDS_PER_TARGET" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$ROOT/Fuzz/regressions/$target/" -print_final_stats=1 "$CORPUS/$target" > "$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        echo "fuzz: $target: $runs inputs in ${SECONDS_PER_TARGET} s, no crash, peak RSS ${rss} MiB (corpus $(ls "$CORPUS/$target" | wc -l))"
    else
        echo "fuzz: $target: FAILED; the input is in Fuzz/regressions/$target/ (log: $log):"
        grep -E "ERROR|SUMMARY|==[0-9]+==|deadly|timeout" "$log" | head -5
        failed=1
    fi
done
exit $failed
