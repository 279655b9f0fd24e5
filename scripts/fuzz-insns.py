#!/usr/bin/env python3
"""Random-instruction differential (issue 15): Guests/insnfuzz programs of random instruction words
(illegal, reserved and compressed encodings included) run under `--accel interp` and `--accel jit`;
every block's registers, fcsr, trap count and trap cause/tval hashes must agree. With --qemu,
programs of RV64GC encodings both define (gen.py --legal-only) also run on qemu-system-riscv64.

    scripts/fuzz-insns.py [--seconds 60 | --seeds 1-200] [--qemu] [--blocks 150] [--backplane PATH]

Prints one line per mismatch (seed, block, the block's instruction words, the first differing
field) and a summary; exit status 1 on any mismatch or a run that did not finish.
Issue 15 reported FMADD/FMSUB/FNMSUB/FNMADD with the reserved fmt 2 or 3 executed by the JIT but
illegal under the interpreter (the JIT's fix); the words are generated like any other, and
--skip-known leaves them out should that divergence come back while its fix is pending.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, 'Guests', 'insnfuzz')
CC = os.environ.get('RISCV_CC', 'riscv64-unknown-elf-gcc')
FIELDS = [f'x{n}' for n in range(1, 32)] + [f'f{n}' for n in range(32)] + ['fcsr', 'traps', 'causes', 'tvals']


def build(seed, work, blocks, legal_only, known):
    source = os.path.join(work, f'insn{seed}{"q" if legal_only else ""}.S')
    listing = source[:-2] + '.txt'
    command = [sys.executable, os.path.join(HERE, 'gen.py'), str(seed), '-o', source, '--blocks', str(blocks),
               '--listing', listing]
    if legal_only:
        command.append('--legal-only')
    if known:
        command.append('--skip-known')
    subprocess.run(command, check=True)
    elf = source[:-2] + '.elf'
    subprocess.run([CC, '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany', '-O2', '-ffreestanding', '-nostdlib',
                    '-nostartfiles', '-static', '-Wl,--no-warn-rwx-segments', '-T', os.path.join(ROOT, 'Guests', 'isa', 'link.ld'),
                    os.path.join(HERE, 'harness.S'), os.path.join(HERE, 'harness.c'), source, '-o', elf], check=True)
    with open(listing) as f:
        return elf, f.read().splitlines()


def run(command, timeout):
    try:
        r = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, 'did not finish'
    return r.returncode, r.stdout.decode('latin-1').replace('\r', '')


TRAPS = FIELDS.index('traps') + 1   # column in a B line


def compare(seed, name_a, out_a, name_b, out_b, listing, skipped=None):
    """The first difference as one line, or None. With `skipped` (a one-element list counting
    them), blocks in which either side trapped are not compared: QEMU reads unassigned physical
    memory as ones without an access fault and reports a different mtval for a misaligned access
    that faults, both outside what the two define alike."""
    lines_a, lines_b = out_a.splitlines(), out_b.splitlines()
    for line_a, line_b in zip(lines_a, lines_b):
        if skipped is not None and line_a.startswith('B') and line_b.startswith('B'):
            fa, fb = line_a.split(), line_b.split()
            if len(fa) > TRAPS and len(fb) > TRAPS and (int(fa[TRAPS], 16) or int(fb[TRAPS], 16)):
                skipped[0] += 1
                continue
        if line_a.startswith('S') and line_b.startswith('S') and skipped is not None and skipped[0]:
            continue   # a skipped block may have stored differently
        if line_a == line_b:
            continue
        if line_a.startswith('B') and line_b.startswith('B'):
            block = int(line_a.split()[0][1:], 16)
            fields_a, fields_b = line_a.split()[1:], line_b.split()[1:]
            diffs = [f'{FIELDS[i]} {name_a} {x} {name_b} {y}' for i, (x, y) in enumerate(zip(fields_a, fields_b)) if x != y]
            words = listing[block] if block < len(listing) else '?'
            return f'seed {seed} block {block} [{words}]: ' + '; '.join(diffs[:4])
        return f'seed {seed}: {name_a} {line_a[:80]!r} vs {name_b} {line_b[:80]!r}'
    if len(lines_a) != len(lines_b):
        return f'seed {seed}: {name_a} printed {len(lines_a)} lines, {name_b} {len(lines_b)}'
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--seconds', type=float)
    p.add_argument('--seeds')
    p.add_argument('--blocks', type=int, default=150)
    p.add_argument('--qemu', action='store_true', help='also compare --legal-only programs with qemu-system-riscv64')
    p.add_argument('--skip-known', dest='known', action='store_true')
    p.add_argument('--timeout', type=float, default=60)
    p.add_argument('--backplane', default=os.environ.get('BACKPLANE', os.path.join(ROOT, '.build', 'release', 'backplane')))
    a = p.parse_args()
    if a.seconds is None and a.seeds is None:
        a.seconds = 60
    if a.seeds:
        first, _, last = a.seeds.partition('-')
        seeds = range(int(first), int(last or first) + 1)
    else:
        seeds = range(1, 1 << 62)
    work = tempfile.mkdtemp(prefix='insnfuzz-')
    try:
        return fuzz(a, seeds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fuzz(a, seeds, work):
    started = time.monotonic()
    counts = {'programs': 0, 'words': 0, 'mismatches': 0, 'unfinished': 0, 'qemu programs': 0, 'qemu blocks skipped': 0}
    for seed in seeds:
        if a.seconds is not None and time.monotonic() - started >= a.seconds:
            break
        variants = [False] + ([True] if a.qemu else [])
        for legal_only in variants:
            elf, listing = build(seed, work, a.blocks, legal_only, a.known)
            counts['programs'] += 1
            counts['words'] += sum(len(line.split()) for line in listing)
            outputs = {}
            for accel in ('interp', 'jit'):
                rc, out = run([a.backplane, 'run', 'virt', '--bios', 'none', '--serial', 'stdio', '--accel', accel,
                               '--kernel', elf, '--timeout', str(a.timeout)], a.timeout + 30)
                outputs[accel] = out
                if rc != 0 or 'DONE' not in out:
                    counts['unfinished'] += 1
                    print(f'seed {seed}{" (legal)" if legal_only else ""}: {accel} did not finish (exit {rc})', flush=True)
            if legal_only:
                counts['qemu programs'] += 1
                rc, out = run(['qemu-system-riscv64', '-M', 'virt', '-bios', 'none', '-nographic', '-kernel', elf],
                              a.timeout)
                outputs['qemu'] = out
            pairs = [('interp', 'jit')] + ([('interp', 'qemu')] if legal_only else [])
            for x, y in pairs:
                skipped = [0] if y == 'qemu' else None
                difference = compare(seed, x, outputs[x], y, outputs[y], listing, skipped)
                if skipped:
                    counts['qemu blocks skipped'] += skipped[0]
                if difference:
                    counts['mismatches'] += 1
                    print(difference, flush=True)
    print(f'insnfuzz: {counts["programs"]} programs, {counts["words"]} random instruction words '
          f'({counts["qemu programs"]} programs also on QEMU, {counts["qemu blocks skipped"]} trapping blocks not compared there) in {time.monotonic() - started:.0f} s: '
          f'{counts["mismatches"]} mismatches, {counts["unfinished"]} unfinished runs')
    return 1 if counts['mismatches'] or counts['unfinished'] else 0


if __name__ == '__main__':
    sys.exit(main())
