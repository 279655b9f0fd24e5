#!/usr/bin/env python3
"""The insn_count plugin's overhead on the JIT, measured in one run.

    bench/plugins/insn_count.py [--backplane PATH] [--rounds N] [--accel jit|interp] [WORKLOAD...]

Builds the benchmark workloads (bench/build.sh) and Plugins/examples/insn_count (cc -O2), then
for each workload times `backplane run virt --bios none --accel jit --kernel W.elf` without a
plugin and with `--plugin libinsn_count.so` (block mode: one block-executed callback per
translated block entry), alternating the two, best of N rounds each. Prints wall seconds,
the ratio, and the plugin's hart-0 count next to the workload's own minstret count (the
plugin also counts boot and reporting code, so it is slightly larger).
"""
import argparse, os, re, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, '.build', 'bench-insn-count')


def timed(command, timeout):
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, run.returncode, run.stdout + run.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--backplane', default=os.path.join(ROOT, '.build', 'release', 'backplane'))
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--accel', default='jit')
    parser.add_argument('--timeout', type=float, default=300)
    parser.add_argument('workloads', nargs='*', default=['int', 'mem', 'fp', 'trap', 'tlb'])
    a = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    subprocess.run([os.path.join(ROOT, 'bench', 'build.sh'), OUT], check=True)
    plugin = os.path.join(OUT, 'libinsn_count.so')
    subprocess.run(['cc', '-std=c11', '-O2', '-shared', '-fPIC', '-I', os.path.join(ROOT, 'Plugins', 'include'),
                    os.path.join(ROOT, 'Plugins', 'examples', 'insn_count', 'insn_count.c'), '-o', plugin], check=True)
    print(f'accel={a.accel}, best of {a.rounds} rounds, wall seconds')
    print(f'{"workload":10} {"no plugin":>10} {"insn_count":>11} {"ratio":>7} {"plugin count":>14} {"guest instret":>14}')
    for workload in a.workloads:
        elf = os.path.join(OUT, workload + '.elf')
        base = [a.backplane, 'run', 'virt', '--bios', 'none', '--accel', a.accel, '--serial', 'stdio']
        best = {False: None, True: None}
        counted = instret = None
        for _ in range(a.rounds):
            for with_plugin in (False, True):
                command = base + (['--plugin', plugin] if with_plugin else []) + ['--kernel', elf]
                seconds, status, output = timed(command, a.timeout)
                if status != 0:
                    sys.exit(f'{workload}: exit status {status}\n{output}')
                if best[with_plugin] is None or seconds < best[with_plugin]:
                    best[with_plugin] = seconds
                if with_plugin:
                    match = re.search(r'insn_count: hart 0: (\d+) instructions', output)
                    counted = int(match.group(1)) if match else None
                    match = re.search(r'instret=(\d+)', output)
                    instret = int(match.group(1)) if match else None
        print(f'{workload:10} {best[False]:10.3f} {best[True]:11.3f} {best[True] / best[False]:7.3f} '
              f'{counted if counted is not None else "?":>14} {instret if instret is not None else "?":>14}')


if __name__ == '__main__':
    main()
