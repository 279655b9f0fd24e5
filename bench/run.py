#!/usr/bin/env python3
"""Backplane vs QEMU speed on bare-metal RV64GC workloads (not a test; run by hand).

    bench/run.py [--only int,mem,fp,trap,mmio,tlb] [--accel jit,interp] [--backplane PATH]
                 [--no-backplane] [--repeat N]

Workloads (bench/workloads/*.c, built by bench/build.sh): int (sorting, CRC/hash, CoreMark-like
mix), mem (pointer chase and streams over 16 MiB), fp, trap (ECALL/MRET loop), mmio (16550
register traffic), tlb (S-mode Sv39 random page touches: page walks). For each workload:
  1. counts its instructions exactly once: QEMU with `-icount shift=0` makes minstret count
     instructions, and the workload prints its own minstret delta (cached next to the ELF);
  2. times it on Backplane (`run virt --bios none --accel A`, for each engine A) and on QEMU
     (TCG, no icount), all in the same run;
  3. checks every run printed the same checksum, and that Backplane's minstret delta matches.
Prints: workload, instructions, MIPS per Backplane engine, QEMU MIPS, and each engine's ratio to
QEMU (> 1 means faster than QEMU).
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
WORKLOADS = ['int', 'mem', 'fp', 'trap', 'mmio', 'tlb']
# ECALLs each workload executes: QEMU's icount counts them, but an instruction that raises an
# exception does not retire (privileged spec §3.3.1), so Backplane's minstret delta is lower by this.
ECALLS = {'trap': 16000000, 'tlb': 1}
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
    ap.add_argument('--accel', default='jit,interp', help='Backplane engines to time (default jit,interp)')
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
        engines = [] if a.no_backplane else a.accel.split(',')
        mips = {}
        for engine in engines:
            best = None
            for _ in range(a.repeat):
                t, rc, out = timed([a.backplane, 'run', 'virt', '--bios', 'none', '--accel', engine,
                                    '--kernel', elf], a.timeout)
                f = parse(out)
                if rc != 0:
                    problems.append(f'{w} ({engine}): backplane exited {rc}: {out[-300:]!r}')
                if f.get('checksum') != checksum:
                    problems.append(f'{w} ({engine}): backplane checksum {f.get("checksum")} != QEMU {checksum}')
                if int(f.get('instret', -1)) + ECALLS.get(w, 0) != n:
                    problems.append(f'{w} ({engine}): backplane minstret delta {f.get("instret")} != exact count {count}')
                best = t if best is None else min(best, t)
            mips[engine] = n / best / 1e6
        rows.append((w, n, mips, n / qemu_t / 1e6))
    engines = [] if a.no_backplane else a.accel.split(',')
    header = f'{"workload":<10}{"instructions":>16}' + ''.join(f'{e + " MIPS":>14}' for e in engines)
    header += f'{"QEMU MIPS":>12}' + ''.join(f'{e + "/QEMU":>13}' for e in engines)
    print(header)
    for w, n, mips, q in rows:
        line = f'{w:<10}{n:>16,}' + ''.join(f'{mips[e]:>14.1f}' for e in engines) + f'{q:>12.1f}'
        line += ''.join(f'{mips[e] / q:>13.2f}' for e in engines)
        print(line)
    for p in problems:
        print('WARNING:', p)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
