#!/usr/bin/env python3
"""Guest-driven device fuzzer (issue 15): Guests/fuzz/devfuzz.c, built once per bundled board,
run with one seed after another under both engines. The host must survive every seed: a run may
end with the guest's exit (0) or with `--timeout` (124, the machine stopping by itself), never a
signal, never the watchdog's "did not stop by itself", never a host error.

    scripts/fuzz-devices.py [--seconds 60 | --seeds 1-500] [--boards virt,virt-aia,spike]
                            [--accel interp,jit] [--operations 20000] [--backplane PATH] [--out DIR]

Prints one line per failure and a summary: runs, crashes, hangs, guest timeouts, peak RSS of one
backplane process (the largest maximum resident set of any run). Exit status 1 if any run failed.
A failing seed is reproduced by the command line it prints; its ELF is kept in OUT/failures/.
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CC = os.environ.get('RISCV_CC', 'riscv64-unknown-elf-gcc')
MAGIC = b'FUZZSEED'

# PCI functions and USB devices put on the boards that have a PCIe host bridge, so the fuzzer
# reaches every built-in bus-master: virtio-blk, edu, xHCI with a keyboard, a disk, a loopback.
PCI_DEVICES = [
    'virtio-blk-pci,name=vd0,at=pcie0/02.0,file={disk}',
    'edu,name=edu0,at=pcie0/03.0',
    'qemu-xhci,name=xhci0,at=pcie0/04.0',
    'usb-kbd,name=kbd0,at=xhci0/port1',
    'usb-loopback,name=loop0,at=xhci0/port2',
    'usb-storage,name=ums0,at=xhci0/port5,file={usbdisk}',
]


def parse_seeds(text):
    first, _, last = text.partition('-')
    return range(int(first), int(last or first) + 1)


def board_layout(backplane, board):
    """The board's MMIO windows, RAM, ECAM, IMSIC and sifive_test, from `backplane check`."""
    out = subprocess.run([backplane, 'check', board], capture_output=True, text=True, check=True).stdout
    layout = {'windows': [], 'ram': None, 'ecam': None, 'imsic': None, 'exit': None}
    for base, end, name, kind in re.findall(r'\[(0x[0-9a-f]+),(0x[0-9a-f]+)\)\s+(\S+) \(([^,)]+)', out):
        base, end = int(base, 16), int(end, 16)
        if kind == 'ram':
            layout['ram'] = layout['ram'] or (base, end - base)
        elif kind == 'sifive_test':
            layout['exit'] = base          # never fuzzed: it would end the run
        else:
            layout['windows'].append((base, end - base))
            if kind == 'pci-host-ecam-generic':
                layout['ecam'] = base
            if kind == 'imsic' and layout['imsic'] is None:
                layout['imsic'] = base
    return layout


def build(board, layout, out):
    directory = os.path.join(out, board)
    os.makedirs(directory, exist_ok=True)
    lines = ['#define FUZZ_WINDOWS {' + ', '.join(f'{{0x{b:x}ULL, 0x{s:x}ULL}}' for b, s in layout['windows']) + '}',
             f'#define FUZZ_WINDOW_COUNT {len(layout["windows"])}',
             f'#define FUZZ_RAM_BASE 0x{layout["ram"][0]:x}ULL',
             f'#define FUZZ_RAM_SIZE 0x{layout["ram"][1]:x}ULL']
    if layout['ecam'] is not None:
        lines += [f'#define FUZZ_ECAM 0x{layout["ecam"]:x}ULL', '#define FUZZ_MMIO32 0x40000000ULL']
    if layout['imsic'] is not None:
        lines.append(f'#define FUZZ_IMSIC 0x{layout["imsic"]:x}ULL')
    if layout['exit'] is not None:
        lines.append(f'#define FUZZ_EXIT_SIFIVE 0x{layout["exit"]:x}ULL')
    with open(os.path.join(directory, 'windows.h'), 'w') as header:
        header.write('\n'.join(lines) + '\n')
    elf = os.path.join(directory, 'devfuzz.elf')
    subprocess.run([CC, '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany', '-O2', '-ffreestanding', '-fno-builtin',
                    '-nostdlib', '-nostartfiles', '-static', '-Wl,--no-warn-rwx-segments', '-I', directory,
                    '-T', os.path.join(ROOT, 'Guests', 'isa', 'link.ld'),
                    os.path.join(ROOT, 'Guests', 'plugins', 'start.S'),
                    os.path.join(ROOT, 'Guests', 'fuzz', 'devfuzz.c'), '-o', elf], check=True)
    with open(elf, 'rb') as f:
        image = f.read()
    where = image.find(MAGIC)
    if where < 0 or image.find(MAGIC, where + 1) >= 0:
        raise SystemExit(f'fuzz-devices: {elf}: the fuzz_config magic is not found exactly once')
    return image, where


def run_one(backplane, board, layout, image, where, seed, operations, accel, timeout, work):
    elf = os.path.join(work, f'{board}-{accel}-{seed}.elf')
    patched = bytearray(image)
    patched[where + 8:where + 24] = struct.pack('<QQ', seed, operations)
    with open(elf, 'wb') as f:
        f.write(patched)
    command = [backplane, 'run', board, '--bios', 'none', '--serial', 'none', '--accel', accel,
               '--kernel', elf, '--timeout', str(timeout)]
    if layout['ecam'] is not None:
        disks = {}
        for key in ('disk', 'usbdisk'):
            disks[key] = os.path.join(work, f'{key}.img')
            with open(disks[key], 'wb') as f:
                f.truncate(256 * 1024)
        for device in PCI_DEVICES:
            command += ['--device', device.format(**disks)]
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr_chunks = []
    # The harness's own limit, far past --timeout plus the watchdog's grace: a run still alive
    # then is a hang the watchdog itself missed.
    deadline = started + timeout + 30
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            return 'hang', f'still running {timeout + 30} s after start (killed)', usage.ru_maxrss, command, elf
        time.sleep(0.02)
    stderr = process.stderr.read().decode('utf-8', 'replace')
    if os.WIFSIGNALED(status):
        return 'crash', f'signal {os.WTERMSIG(status)}: {stderr[-500:]}', usage.ru_maxrss, command, elf
    code = os.WEXITSTATUS(status)
    if code == 0:
        return 'ok', '', usage.ru_maxrss, command, elf
    if code == 124 and 'did not stop by itself' in stderr:
        return 'hang', stderr.strip()[-300:], usage.ru_maxrss, command, elf
    if code == 124:
        return 'guest-timeout', '', usage.ru_maxrss, command, elf
    return 'error', f'exit {code}: {stderr.strip()[-500:]}', usage.ru_maxrss, command, elf


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, help='run seeds until this much time has passed')
    parser.add_argument('--seeds', default=None, help='a seed or a range, e.g. 1-500 (default: from 1 until --seconds)')
    parser.add_argument('--boards', default='virt,virt-aia,spike')
    parser.add_argument('--accel', default='interp,jit')
    parser.add_argument('--operations', type=int, default=20000)
    parser.add_argument('--timeout', type=float, default=20, help='--timeout of each run, seconds')
    parser.add_argument('--backplane', default=os.environ.get('BACKPLANE', os.path.join(ROOT, '.build', 'release', 'backplane')))
    parser.add_argument('--no-regressions', dest='regressions', action='store_false',
                        help='skip the seeds of Guests/fuzz/regressions.txt')
    parser.add_argument('--out', default=os.path.join(ROOT, '.build', 'fuzz', 'devices'))
    a = parser.parse_args()
    if a.seconds is None and a.seeds is None:
        a.seconds = 60
    boards = a.boards.split(',')
    engines = a.accel.split(',')
    os.makedirs(a.out, exist_ok=True)
    built = {}
    for board in boards:
        layout = board_layout(a.backplane, board)
        built[board] = (layout,) + build(board, layout, a.out)
    work = tempfile.mkdtemp(prefix='devfuzz-')
    counts = {'ok': 0, 'guest-timeout': 0, 'crash': 0, 'hang': 0, 'error': 0}
    peak = 0
    started = time.monotonic()
    seeds = parse_seeds(a.seeds) if a.seeds else range(1, 1 << 62)   # endless when only --seconds
    seed = 0
    # Seeds that once crashed the host come first (Guests/fuzz/regressions.txt).
    regressions = []
    with open(os.path.join(ROOT, 'Guests', 'fuzz', 'regressions.txt')) as listing:
        for line in listing:
            fields = line.split('#')[0].split()
            if len(fields) == 3 and fields[0] in built:
                regressions.append((fields[0], int(fields[1]), int(fields[2])))
    plan = ([(board, seed, ops) for board, seed, ops in regressions] if a.regressions else [])

    def record(kind, detail, rss, command, elf, board, accel, seed):
        nonlocal peak
        counts[kind] += 1
        peak = max(peak, rss)
        if kind in ('crash', 'hang', 'error'):
            keep = os.path.join(a.out, 'failures')
            os.makedirs(keep, exist_ok=True)
            kept = os.path.join(keep, os.path.basename(elf))
            shutil.copy(elf, kept)
            command = [kept if part == elf else part for part in command]
            print(f'seed {seed} {board} {accel}: {kind.upper()} {detail}\n  reproduce: {" ".join(command)}', flush=True)

    try:
        for board, seed, ops in plan:
            layout, image, where = built[board]
            for accel in engines:
                record(*run_one(a.backplane, board, layout, image, where, seed, ops, accel, a.timeout, work), board, accel, seed)
        for seed in seeds:
            if a.seconds is not None and time.monotonic() - started >= a.seconds:
                break
            for board in boards:
                layout, image, where = built[board]
                for accel in engines:
                    record(*run_one(a.backplane, board, layout, image, where, seed, a.operations, accel, a.timeout, work),
                           board, accel, seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    runs = sum(counts.values())
    failed = counts['crash'] + counts['hang'] + counts['error']
    print(f'devfuzz: {runs} runs of {a.operations} operations (boards {",".join(boards)}; engines {",".join(engines)}; '
          f'last seed {seed}) in {time.monotonic() - started:.0f} s: {counts["crash"]} crashes, {counts["hang"]} hangs, '
          f'{counts["error"]} host errors, {counts["guest-timeout"]} guest timeouts, peak RSS {peak / 1024:.1f} MiB')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
