#!/usr/bin/env python3
"""Differential test driver: generated RV64GC programs run on a reference and a candidate emulator.

    difftest.py --seeds 1-20 [--out DIR] [--reference CMD] [--candidate CMD] [--jobs 2]

CMD is a shell-style command line to which the ELF path is appended, e.g. the defaults
    reference: qemu-system-riscv64 -M virt -bios none -nographic -kernel
    candidate: $BACKPLANE (or .build/release/backplane) run virt --bios none --kernel
Each seed is generated (gen.py), assembled with riscv64-unknown-elf-gcc, run on both, and the
checkpoint dumps (`C<k> <name>=<hex>`) compared. Prints one line per seed:
    seed 7: OK (260 values)
    seed 8: MISMATCH at C1 x13: reference=0000000000000001 candidate=0000000000000000
    seed 9: ERROR <what went wrong>
Exit status 0 only if every seed is OK.
"""
import argparse
import concurrent.futures
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LINE = re.compile(r'^C(\d+) (\w+)=([0-9a-f]{16})\s*$')
CC = os.environ.get('RISCV_CC', 'riscv64-unknown-elf-gcc')


def default_candidate():
    exe = os.environ.get('BACKPLANE') or os.path.join(ROOT, '.build', 'release', 'backplane')
    return [exe, 'run', 'virt', '--bios', 'none', '--kernel']


REFERENCE = ['qemu-system-riscv64', '-M', 'virt', '-bios', 'none', '-nographic', '-kernel']


def parse_seeds(text):
    seeds = []
    for part in text.split(','):
        if '-' in part:
            a, b = part.split('-')
            seeds.extend(range(int(a), int(b) + 1))
        else:
            seeds.append(int(part))
    return seeds


def build(seed, out, blocks):
    src = os.path.join(out, f'seed{seed}.S')
    elf = os.path.join(out, f'seed{seed}.elf')
    subprocess.run([sys.executable, os.path.join(HERE, 'gen.py'), str(seed), '-o', src,
                    '--blocks', str(blocks)], check=True)
    r = subprocess.run([CC, '-march=rv64gc', '-mabi=lp64d', '-nostdlib', '-nostartfiles', '-static',
                        '-Wl,--no-warn-rwx-segments', '-T', os.path.join(ROOT, 'Guests', 'isa', 'link.ld'),
                        src, '-o', elf], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f'assembling {src} failed:\n{r.stderr[:2000]}')
    return elf


def run(cmd, elf, timeout):
    """Returns (exit status, ordered list of (key, value)) for one emulator run."""
    try:
        r = subprocess.run(cmd + [elf], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, [], 'timed out'
    except FileNotFoundError:
        return 127, [], f'{cmd[0]} not found'
    text = r.stdout.decode('latin-1')
    values = []
    for line in text.replace('\r', '').split('\n'):
        m = LINE.match(line)
        if m:
            values.append((f'C{m.group(1)} {m.group(2)}', m.group(3)))
    tail = text[-300:] + r.stderr.decode('latin-1')[-300:]
    return r.returncode, values, tail


def check(seed, args):
    try:
        elf = build(seed, args.out, args.blocks)
    except Exception as e:  # noqa: BLE001 - reported per seed
        return False, f'seed {seed}: ERROR {e}'
    ok, line = compare(seed, elf, args)
    return ok, line if ok else f'{line}  [reproduce: {elf}]'


def compare(seed, elf, args):
    rc_a, va, tail_a = run(args.reference, elf, args.timeout)
    rc_b, vb, tail_b = run(args.candidate, elf, args.timeout)
    if rc_a != 0 or not va:
        return False, f'seed {seed}: ERROR reference exited {rc_a} with {len(va)} values: {tail_a!r}'
    for i, (ka, xa) in enumerate(va):
        if i >= len(vb):
            return False, (f'seed {seed}: MISMATCH candidate output ends before {ka} '
                           f'(exit {rc_b}; reference={xa}): {tail_b!r}')
        kb, xb = vb[i]
        if ka != kb:
            return False, f'seed {seed}: MISMATCH at {ka}: candidate printed {kb} instead'
        if xa != xb:
            return False, f'seed {seed}: MISMATCH at {ka}: reference={xa} candidate={xb}'
    if len(vb) != len(va):
        return False, f'seed {seed}: MISMATCH candidate printed {len(vb)} values, reference {len(va)}'
    if rc_b != 0:
        return False, f'seed {seed}: MISMATCH candidate exit status {rc_b} (reference 0): {tail_b!r}'
    return True, f'seed {seed}: OK ({len(va)} values)'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', default='1-20')
    ap.add_argument('--out', default=os.path.join(os.environ.get('TMPDIR', '/tmp'), 'backplane-difftest'))
    ap.add_argument('--reference', type=shlex.split, default=REFERENCE)
    ap.add_argument('--candidate', type=shlex.split, default=None)
    ap.add_argument('--blocks', type=int, default=60)
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--timeout', type=float, default=60)
    args = ap.parse_args()
    if args.candidate is None:
        args.candidate = default_candidate()
    os.makedirs(args.out, exist_ok=True)
    seeds = parse_seeds(args.seeds)
    ok = True
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for good, line in pool.map(lambda s: check(s, args), seeds):
            print(line, flush=True)
            ok = ok and good
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
