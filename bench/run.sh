#!/bin/sh
# Benchmark Backplane against QEMU and RVVM; see bench/run.py for options.
exec python3 "$(dirname "$0")/run.py" "$@"
