#!/usr/bin/env python3
"""Backplane vs QEMU speed on bare-metal RV64GC workloads (not a test; run by hand).

    bench/run.py [--only int,mem,fp] [--backplane PATH] [--no-backplane] [--repeat N]

Builds bench/workloads/*.c (bench/build.sh), then for each workload:
  1. counts its instructions exactly once: QEMU with `-icount shift=0` makes minstret count
     instructions, and the workload prints its own minstret delta (cached next to the ELF);
  2. times it on Backplane (`run virt --bios none --accel interp`) and on QEMU (TCG, no icount);
  3. checks both printed the same checksum, and that Backplane's minstret delta matches the count.
Prints: workload, instructions, Backplane MIPS, QEMU MIPS, ratio (Backplane / QEMU).
MIPS counts the whole run's wall time (process start to exit), which the workload dominates.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ['int', 'mem', 'fp']
QEMU = ['qemu-system-riscv64', '-M', 'virt', '-bios', 'none', '-nographic', '-kernel']


def parse(text):
    fields = dict(re.findall(r'^(\w+)=(\S+)\s*$', text.replace('\r', ''), re.M))
    return fields


def timed(cmd, timeout):
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return time.monotonic() - t0, r.returncode, r.stdout.decode('latin-1') + r.stderr.decode('latin-1')


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
    ap.add_argument('--backplane', default=os.environ.get('BACKPLANE')
                    or os.path.join(ROOT, '.build', 'release', 'backplane'))
    ap.add_argument('--no-backplane', action='store_true', help='time QEMU only')
    ap.add_argument('--out', default=os.path.join(ROOT, '.build', 'guests', 'bench'))
    ap.add_argument('--repeat', type=int, default=1, help='runs per emulator; the fastest counts')
    ap.add_argument('--timeout', type=float, default=1800)
    a = ap.parse_args()
    if not a.no_backplane and not os.access(a.backplane, os.X_OK):
        sys.exit(f'backplane not found at {a.backplane} (swift build -c release --product backplane, '
                 f'or --backplane PATH, or --no-backplane)')
    subprocess.run(['sh', os.path.join(HERE, 'build.sh'), a.out], check=True)
    rows = []
    problems = []
    for w in a.only.split(','):
        elf = os.path.join(a.out, f'{w}.elf')
        count, checksum = exact_count(elf, a.timeout)
        n = int(count)
        qemu_t = min(timed(QEMU + [elf], a.timeout)[0] for _ in range(a.repeat))
        bp_mips = None
        if not a.no_backplane:
            best = None
            for _ in range(a.repeat):
                t, rc, out = timed([a.backplane, 'run', 'virt', '--bios', 'none', '--accel', 'interp',
                                    '--kernel', elf], a.timeout)
                f = parse(out)
                if rc != 0:
                    problems.append(f'{w}: backplane exited {rc}: {out[-300:]!r}')
                if f.get('checksum') != checksum:
                    problems.append(f'{w}: backplane checksum {f.get("checksum")} != QEMU {checksum}')
                if f.get('instret') != count:
                    problems.append(f'{w}: backplane minstret delta {f.get("instret")} != exact count {count}')
                best = t if best is None else min(best, t)
            bp_mips = n / best / 1e6
        rows.append((w, n, bp_mips, n / qemu_t / 1e6))
    print(f'{"workload":<10}{"instructions":>16}{"Backplane MIPS":>16}{"QEMU MIPS":>12}{"ratio":>8}')
    for w, n, bp, q in rows:
        bps = f'{bp:.1f}' if bp is not None else '-'
        ratio = f'{bp / q:.3f}' if bp is not None else '-'
        print(f'{w:<10}{n:>16,}{bps:>16}{q:>12.1f}{ratio:>8}')
    for p in problems:
        print('WARNING:', p)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
