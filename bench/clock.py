#!/usr/bin/env python3
"""What the virtual clock costs and saves (not a test; run by hand):

    bench/clock.py [--backplane PATH] [--repeat N] [--only usb,coremark]

usb: the Linux guest (scripts/build-linux.sh) boots to poweroff on the USB board
     (Guests/linux/boards/virt-usb.yaml: xHCI, keyboard, tablet, loopback, mass storage) with
     usb-storage's default one-second settle delay, on Backplane with --clock virtual and with
     --clock host, and on QEMU (virt, PLIC, qemu-xhci with usb-kbd, usb-tablet and usb-storage),
     which waits its real delays. Reports wall seconds and the guest's own idea of the boot time
     (the last printk timestamp) for each, and Backplane's ratios to QEMU.
coremark: bench/workloads/coremark.c bare metal under the JIT with --clock virtual and
     --clock host: the virtual clock's cost on integer work (the goal is within 3%).
Runs take turns; each one's fastest of --repeat counts (CPU time for coremark, as other jobs may
share the host's cores).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, cwd=None, timeout=900):
    start = time.monotonic()
    before = os.times()
    result = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    after = os.times()
    wall = time.monotonic() - start
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return result, wall, cpu


def last_printk(text):
    stamps = re.findall(r'\[\s*(\d+\.\d+)\]', text)
    return float(stamps[-1]) if stamps else float('nan')


def usb(backplane, repeat):
    image, initrd = subprocess.run(['sh', os.path.join(ROOT, 'scripts/build-linux.sh')], capture_output=True,
                                   text=True, check=True).stdout.split()[-2:]
    work = tempfile.mkdtemp(prefix='bench-clock-')
    board = os.path.join(work, 'virt-usb.yaml')
    shutil.copy(os.path.join(ROOT, 'Guests/linux/boards/virt-usb.yaml'), board)
    disk = os.path.join(work, 'usb-disk.img')
    best = {}
    for _ in range(repeat):
        for name in ['virtual', 'host', 'qemu']:
            with open(disk, 'wb') as f:
                f.truncate(8 << 20)
            if name == 'qemu':
                # QEMU has no usb-loopback: init waits for three devices there.
                cmd = ['qemu-system-riscv64', '-M', 'virt', '-m', '256M', '-nographic',
                       '-bios', '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin',
                       '-kernel', image, '-initrd', initrd,
                       '-append', 'console=ttyS0 earlycon bp.usb=3 bp.usbdisk=1',
                       '-device', 'qemu-xhci', '-device', 'usb-kbd', '-device', 'usb-tablet',
                       '-drive', 'file=%s,if=none,format=raw,id=u0' % disk, '-device', 'usb-storage,drive=u0']
            else:
                cmd = [backplane, 'run', board, '--kernel', image, '--initrd', initrd, '--memory', '256M',
                       '--append', 'console=ttyS0 earlycon bp.usb=4 bp.usbdisk=1', '--clock', name,
                       '--serial', 'stdio', '--timeout', '600']
            result, wall, _ = run(cmd, cwd=work)
            out = result.stdout.decode(errors='replace')
            if 'BP: done' not in out:
                sys.exit('%s: the boot did not finish (status %d):\n%s' % (name, result.returncode, out[-3000:]))
            if name not in best or wall < best[name][0]:
                best[name] = (wall, last_printk(out))
    shutil.rmtree(work)
    print('Linux boot to poweroff, USB board (usb-storage settle delay 1 s):')
    print('%-22s %10s %14s %12s' % ('', 'wall s', 'guest clock s', 'vs QEMU'))
    for name, label in [('virtual', 'backplane virtual'), ('host', 'backplane host'), ('qemu', 'qemu-system-riscv64')]:
        wall, guest = best[name]
        ratio = best['qemu'][0] / wall
        print('%-22s %10.2f %14.3f %11.2fx' % (label, wall, guest, ratio))


def coremark(backplane, repeat):
    out = os.path.join(ROOT, '.build', 'bench')
    subprocess.run(['sh', os.path.join(HERE, 'build.sh'), out], check=True)
    elf = os.path.join(out, 'coremark.elf')
    best = {}
    for _ in range(repeat):
        for clock in ['virtual', 'host']:
            result, wall, cpu = run([backplane, 'run', 'virt', '--bios', 'none', '--kernel', elf, '--accel', 'jit',
                                     '--clock', clock, '--timeout', '600'])
            if result.returncode != 0:
                sys.exit('coremark --clock %s failed:\n%s' % (clock, result.stdout.decode(errors='replace')))
            best[clock] = min(best.get(clock, 1e9), cpu)
    print('coremark (JIT), CPU seconds: virtual %.3f, host %.3f: the virtual clock costs %+.1f%%'
          % (best['virtual'], best['host'], (best['virtual'] / best['host'] - 1) * 100))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--backplane', default=os.path.join(ROOT, '.build/release/backplane'))
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--only', default='usb,coremark')
    args = parser.parse_args()
    for item in args.only.split(','):
        {'usb': usb, 'coremark': coremark}[item](args.backplane, args.repeat)


if __name__ == '__main__':
    main()
