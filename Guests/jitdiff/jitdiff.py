#!/usr/bin/env python3
"""Interpreter-vs-JIT differential test: Guests/jitdiff/gen.py programs run on Backplane with
`--accel interp` and `--accel jit`; the two UART dumps must be identical and end with DONE.
Then each engine saves snapshots (docs/snapshots.md) at `--snapshots` round boundaries picked from
the seed, which must be byte-identical: there the JIT has just left generated code on the slice's
budget (in the middle of a loop, say), so its architectural state is compared where the program
prints nothing.

    jitdiff.py --seeds 1-20 [--out DIR] [--backplane PATH] [--jobs 2] [--blocks 60] [--snapshots 2]

Prints one line per seed (`seed 3: OK (196 lines)`, `seed 4: MISMATCH line 17: interp '...' jit '...'`,
`seed 5: ERROR ...`). Exit status 0 only if every seed is OK.
"""
import argparse
import concurrent.futures
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CC = os.environ.get('RISCV_CC', 'riscv64-unknown-elf-gcc')
sys.path.insert(0, os.path.join(ROOT, 'Guests', 'difftest'))
from difftest import parse_seeds  # noqa: E402


def build(seed, out, blocks):
    src = os.path.join(out, f'jit{seed}.S')
    elf = os.path.join(out, f'jit{seed}.elf')
    subprocess.run([sys.executable, os.path.join(HERE, 'gen.py'), str(seed), '-o', src, '--blocks', str(blocks)],
                   check=True)
    r = subprocess.run([CC, '-march=rv64gc', '-mabi=lp64d', '-nostdlib', '-nostartfiles', '-static',
                        '-Wl,--no-warn-rwx-segments', '-T', os.path.join(ROOT, 'Guests', 'isa', 'link.ld'),
                        src, '-o', elf], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f'assembling {src} failed:\n{r.stderr[:2000]}')
    return elf


def run(backplane, accel, elf, timeout):
    r = subprocess.run([backplane, 'run', 'virt', '--bios', 'none', '--accel', accel, '--kernel', elf],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode('latin-1').replace('\r', '')


def one(seed, a):
    try:
        elf = build(seed, a.out, a.blocks)
        rc_i, out_i = run(a.backplane, 'interp', elf, a.timeout)
        rc_j, out_j = run(a.backplane, 'jit', elf, a.timeout)
    except Exception as e:  # noqa: BLE001 - reported per seed
        return f'seed {seed}: ERROR {e}'
    if 'DONE' not in out_i or rc_i != 0:
        return f'seed {seed}: ERROR interpreter run did not finish (exit {rc_i}): {out_i[-200:]!r}'
    li, lj = out_i.splitlines(), out_j.splitlines()
    for n, (x, y) in enumerate(zip(li, lj), 1):
        if x != y:
            return f'seed {seed}: MISMATCH line {n}: interp {x!r} jit {y!r}'
    if len(li) != len(lj) or rc_i != rc_j:
        return f'seed {seed}: MISMATCH length {len(li)} vs {len(lj)} lines, exit {rc_i} vs {rc_j}'
    rng = random.Random(seed)
    for _ in range(a.snapshots):
        at = f'{rng.randrange(50000, 2000000)}i'
        try:
            saved = {accel: snapshot(a.backplane, accel, elf, at, a.out, seed, a.timeout) for accel in ('interp', 'jit')}
        except Exception as e:  # noqa: BLE001 - reported per seed
            return f'seed {seed}: ERROR snapshot at {at}: {e}'
        if saved['interp'] != saved['jit']:
            return f'seed {seed}: MISMATCH snapshot at {at} differs (interp {len(saved["interp"] or b"")} bytes, jit {len(saved["jit"] or b"")})'
    return f'seed {seed}: OK ({len(li)} lines)'


def snapshot(backplane, accel, elf, at, out, seed, timeout):
    """The snapshot `accel` saves at the first round boundary at or after `at` (None when the
    program ends before it)."""
    path = os.path.join(out, f'jit{seed}-{accel}.snapshot')
    if os.path.exists(path):
        os.remove(path)
    r = subprocess.run([backplane, 'run', 'virt', '--bios', 'none', '--accel', accel, '--kernel', elf,
                        '--snapshot-save', path, '--snapshot-at', at],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f'{accel} exited {r.returncode}: {r.stderr[-200:]!r}')
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as f:
        data = f.read()
    os.remove(path)
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', default='1-20')
    ap.add_argument('--out', default=os.path.join(ROOT, '.build', 'guests', 'jitdiff'))
    ap.add_argument('--backplane', default=os.environ.get('BACKPLANE')
                    or os.path.join(ROOT, '.build', 'release', 'backplane'))
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--blocks', type=int, default=60)
    ap.add_argument('--timeout', type=float, default=120)
    ap.add_argument('--snapshots', type=int, default=2, help='round boundaries to compare snapshots at, per seed')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    seeds = parse_seeds(a.seeds)
    ok = True
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for line in pool.map(lambda s: one(s, a), seeds):
            print(line, flush=True)
            ok = ok and ': OK (' in line
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
