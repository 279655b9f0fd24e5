#!/usr/bin/env python3
"""Backplane vs QEMU and RVVM speed on bare-metal RV64GC workloads (not a test; run by hand).

    bench/run.py [--only int,mem,...] [--accel jit,interp] [--backplane PATH] [--rvvm PATH|none]
                 [--baseline PATH] [--no-backplane] [--repeat N] [--cpu-time]

Workloads (bench/workloads/*.c, built by bench/build.sh): int (sorting, CRC/hash, CoreMark-like
mix), mem (pointer chase and streams over 16 MiB), fp, trap (ECALL/MRET loop), mmio (16550
register traffic), tlb (S-mode Sv39 random page touches: page walks); and branchy, call-heavy
integer code from kernels.h: coremark (list + matrix + state machine + CRC-16 per iteration, as
EEMBC CoreMark), list (linked-list find/reverse/merge sort), matrix (16-bit matrix kernels),
switch (a switch-table state machine), recurse (fib, Ackermann, tree walk), straddle (hot
functions laid across 4 KiB page boundaries, a 32-bit instruction split across two pages).
For each workload:
  1. counts its instructions exactly once: QEMU with `-icount shift=0` makes minstret count
     instructions, and the workload prints its own minstret delta (cached next to the ELF);
  2. times it on Backplane (`run virt --bios none --accel A`, for each engine A), on QEMU (TCG,
     no icount) and on RVVM (the ELF as a raw image: RVVM's machine is QEMU-virt-like, see
     ../shared/peers/README.md), all in the same run; with --repeat N the emulators take turns
     N times and each one's fastest run counts;
  3. checks every run printed the same checksum, and that Backplane's minstret delta matches
     (RVVM does not count minstret, so only its checksum is checked).
Prints: workload, instructions, MIPS per Backplane engine, QEMU and RVVM MIPS, and each engine's
ratio to QEMU and to RVVM (> 1 means faster than the peer).
MIPS counts the whole run's wall time (process start to exit), which the workload dominates; with
--cpu-time, the run's CPU time instead (robust when other jobs share the host's cores).
"""
import argparse
import hashlib
import os
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ['int', 'mem', 'fp', 'trap', 'mmio', 'tlb', 'coremark', 'list', 'matrix', 'switch', 'recurse', 'straddle']
# ECALLs each workload executes: QEMU's icount counts them, but an instruction that raises an
# exception does not retire (privileged spec §3.3.1), so Backplane's minstret delta is lower by this.
ECALLS = {'trap': 16000000, 'tlb': 1}
QEMU = ['qemu-system-riscv64', '-M', 'virt', '-bios', 'none', '-nographic', '-kernel']
RVVM_DEFAULT = os.path.join(ROOT, '..', 'shared', 'peers', 'rvvm', 'rvvm_x86_64')


def parse(text):
    fields = dict(re.findall(r'^(\w+)=(\S+)\s*$', text.replace('\r', ''), re.M))
    return fields


CPU_TIME = False


def timed(cmd, timeout):
    """Wall time of `cmd` (process start to exit), or with --cpu-time its user+system CPU time
    (all threads), which CPU contention from other processes on the host distorts far less."""
    t0 = time.monotonic()
    # getrusage, not os.times: the latter counts in clock ticks (10 ms, 3-10% of a short run);
    # Linux derives rusage's user and system times from the tasks' nanosecond runtime.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = time.monotonic() - t0
    if CPU_TIME:
        elapsed = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, r.returncode, r.stdout.decode('latin-1') + r.stderr.decode('latin-1')


def exact_count(elf, timeout):
    digest = hashlib.sha256(open(elf, 'rb').read()).hexdigest()[:16]
    cache = f'{elf}.{digest}.count'
    if os.path.exists(cache):
        return tuple(open(cache).read().split())
    _, rc, out = timed(QEMU[:-1] + ['-icount', 'shift=0', '-kernel', elf], timeout)
    f = parse(out)
    if rc != 0 or 'instret' not in f:
        sys.exit(f'counting {elf} under QEMU -icount failed (exit {rc}): {out[-500:]}')
    with open(cache, 'w') as fh:
        fh.write(f"{f['instret']} {f['checksum']}\n")
    return f['instret'], f['checksum']


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--only', default=','.join(WORKLOADS))
    ap.add_argument('--accel', default='jit,interp', help='Backplane engines to time (default jit,interp)')
    ap.add_argument('--backplane', default=os.environ.get('BACKPLANE')
                    or os.path.join(ROOT, '.build', 'release', 'backplane'))
    ap.add_argument('--baseline', help='another Backplane binary (e.g. an older build) timed with --accel jit '
                    'as the "base" column, for before/after ratios measured in the same run')
    ap.add_argument('--no-backplane', action='store_true', help='time the peers only')
    ap.add_argument('--rvvm', default=os.environ.get('RVVM') or RVVM_DEFAULT,
                    help='RVVM binary, or "none" to skip it (default ../shared/peers/rvvm/rvvm_x86_64)')
    ap.add_argument('--out', default=os.path.join(ROOT, '.build', 'guests', 'bench'))
    ap.add_argument('--repeat', type=int, default=1, help='interleaved runs per emulator; the fastest counts')
    ap.add_argument('--timeout', type=float, default=1800)
    ap.add_argument('--cpu-time', action='store_true',
                    help='time by user+system CPU seconds instead of wall time (for a loaded host)')
    a = ap.parse_args()
    global CPU_TIME
    CPU_TIME = a.cpu_time
    if not a.no_backplane and not os.access(a.backplane, os.X_OK):
        sys.exit(f'backplane not found at {a.backplane} (swift build -c release --product backplane, '
                 f'or --backplane PATH, or --no-backplane)')
    rvvm = None if a.rvvm == 'none' else a.rvvm
    if rvvm and not os.access(rvvm, os.X_OK):
        print(f'note: RVVM not found at {rvvm}; timing without it (--rvvm PATH)', file=sys.stderr)
        rvvm = None
    subprocess.run(['sh', os.path.join(HERE, 'build.sh'), a.out], check=True)
    engines = [] if a.no_backplane else a.accel.split(',')
    if a.baseline:
        engines.append('base')
    peers = ['QEMU'] + (['RVVM'] if rvvm else [])
    rows = []
    problems = []
    for w in a.only.split(','):
        elf = os.path.join(a.out, f'{w}.elf')
        count, checksum = exact_count(elf, a.timeout)
        n = int(count)
        commands = {e: [a.backplane if e != 'base' else a.baseline, 'run', 'virt', '--bios', 'none',
                        '--accel', e if e != 'base' else 'jit', '--kernel', elf] for e in engines}
        commands['QEMU'] = QEMU + [elf]
        if rvvm:
            image = os.path.join(a.out, f'{w}.bin')
            subprocess.run(['riscv64-unknown-elf-objcopy', '-O', 'binary', elf, image], check=True)
            commands['RVVM'] = [rvvm, image, '-nogui', '-nonet', '-m', '128M']
        best = {}
        for _ in range(a.repeat):
            for name, cmd in commands.items():
                t, rc, out = timed(cmd, a.timeout)
                f = parse(out)
                if rc != 0:
                    problems.append(f'{w} ({name}): exited {rc}: {out[-300:]!r}')
                if f.get('checksum') != checksum:
                    problems.append(f'{w} ({name}): checksum {f.get("checksum")} != QEMU -icount {checksum}')
                if name in engines and int(f.get('instret', -1)) + ECALLS.get(w, 0) != n:
                    problems.append(f'{w} ({name}): minstret delta {f.get("instret")} != exact count {count}')
                best[name] = min(best.get(name, t), t)
        rows.append((w, n, {name: n / t / 1e6 for name, t in best.items()}))
    header = f'{"workload":<10}{"instructions":>16}' + ''.join(f'{e + " MIPS":>12}' for e in engines + peers)
    header += ''.join(f'{e + "/" + p:>12}' for e in engines for p in peers)
    print(header)
    for w, n, mips in rows:
        line = f'{w:<10}{n:>16,}' + ''.join(f'{mips[e]:>12.1f}' for e in engines + peers)
        line += ''.join(f'{mips[e] / mips[p]:>12.2f}' for e in engines for p in peers)
        print(line)
    for p in problems:
        print('WARNING:', p)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
