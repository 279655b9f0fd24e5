#!/usr/bin/env python3
"""Runs the deferred reproducers (make-inputs.py) and prints, for each, whether backplane still
crashes (signal), hangs (killed after 60 s) or answers (exit status and first line of stderr).

    check.py [BACKPLANE]      (default .build/release/backplane)
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    backplane = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '.build', 'release', 'backplane')
    out = tempfile.mkdtemp(prefix='deferred-')
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'make-inputs.py'), out],
                   check=True, stdout=subprocess.DEVNULL)
    bad = 0
    for line in open(os.path.join(out, 'cases.txt')):
        what, args = line.rstrip('\n').split('\t')
        started = time.monotonic()
        try:
            r = subprocess.run([backplane] + args.split(), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            seconds = time.monotonic() - started
            if r.returncode < 0 or r.returncode >= 128:
                verdict = f'CRASH (signal {-r.returncode if r.returncode < 0 else r.returncode - 128})'
                bad += 1
            else:
                first = r.stderr.decode('utf-8', 'replace').strip().splitlines()[:1]
                verdict = f'exit {r.returncode} in {seconds:.1f} s: {first[0][:120] if first else ""}'
        except subprocess.TimeoutExpired:
            verdict = 'HANG (killed after 60 s)'
            bad += 1
        print(f'{what}\n    -> {verdict}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
