#!/usr/bin/env python3
"""Reproducers for the issue-15 items deferred to a later pass (they live in Modules/Machine,
which another change was reshaping): writes each input into OUTDIR and prints the command that
shows the problem. `Fuzz/deferred/check.py` runs them all and says which still crash or hang.

    make-inputs.py OUTDIR
"""
import os
import struct
import sys


def elf(path, phoff=64, phnum=1, shoff=0, shnum=0, memsz=0x100, filesz=0x10, vaddr=0x80000000, offset=0x1000):
    """A minimal RV64 ELF executable with one PT_LOAD; fields overridable to hostile values."""
    header = b'\x7fELF' + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack('<HHIQQQIHHHHHH', 2, 243, 1, vaddr, phoff, shoff, 0, 64, 56, phnum, 64, shnum, 0)
    program = struct.pack('<IIQQQQQQ', 1, 7, offset, vaddr, vaddr, filesz, memsz, 0x1000)
    body = header + program
    body += bytes(offset - len(body)) + bytes([0x6f, 0x00, 0x00, 0x00]) * 4   # j . (spin)
    with open(path, 'wb') as f:
        f.write(body)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'deferred-inputs'
    os.makedirs(out, exist_ok=True)
    cases = []
    # Board files: YAML nested 10,000 deep (libyaml recurses: stack overflow in check/dtb).
    deep = os.path.join(out, 'deep-nesting.yaml')
    with open(deep, 'w') as f:
        f.write('name: deep\nharts: {count: 1, isa: rv64gc, mmu: sv39, timebase-frequency: 10000000}\n'
                'memory: [{name: ram, base: 0x80000000, size: 16M}]\nproperties: ' + '[' * 10000 + ']' * 10000 + '\n')
    cases.append(('YAML nested 10,000 levels: SIGSEGV in libyaml', ['check', deep]))
    many = os.path.join(out, 'ten-thousand-devices.yaml')
    with open(many, 'w') as f:
        f.write('name: many\nharts: {count: 1, isa: rv64gc, mmu: sv39, timebase-frequency: 10000000}\n'
                'memory: [{name: ram, base: 0x80000000, size: 16M}]\ndevices:\n'
                '  - {name: plic0, type: plic, reg: [0xc000000, 0x600000]}\n')
        for n in range(10000):
            f.write(f'  - {{name: rtc{n}, type: goldfish_rtc, reg: [0x{0x100000000 + n * 0x1000:x}, 0x1000]}}\n')
    cases.append(('10,000 devices: dtb time quadratic in devices (10 s)', ['dtb', many, '-o', '/dev/null']))
    # ELF images for --kernel (spike board, M-mode).
    for name, kwargs, what in [
        ('huge-phoff.elf', dict(phoff=0xffffffffffffff00), 'e_phoff near 2^64: arithmetic overflow trap'),
        ('huge-shoff.elf', dict(shoff=0xfffffffffffffff0, shnum=3), 'e_shoff near 2^64: arithmetic overflow trap'),
        ('huge-phnum.elf', dict(phnum=0xffff), 'e_phnum 65535 past the file: must be a clean error'),
        ('memsz-2-63.elf', dict(memsz=1 << 63), 'p_memsz >= 2^63: trap in Machine+Boot'),
        ('memsz-wraps.elf', dict(memsz=0xffffffff80000010), 'p_vaddr + p_memsz wraps: trap'),
        ('memsz-2.5G.elf', dict(memsz=0xa0000000), 'p_memsz 2.5 GiB: zero-filled for many seconds before the fit check'),
    ]:
        path = os.path.join(out, name)
        elf(path, **kwargs)
        cases.append((what, ['run', 'spike', '--kernel', path, '--timeout', '10']))
    cases.append(('--memory 16383T: aborts reserving host memory', ['run', 'spike', '--memory', '16383T', '--kernel',
                                                                  os.path.join(out, 'huge-phnum.elf'), '--timeout', '5']))
    with open(os.path.join(out, 'cases.txt'), 'w') as f:
        for what, args in cases:
            f.write(what + '\t' + ' '.join(args) + '\n')
    for what, args in cases:
        print(f'{what}\n    backplane {" ".join(args)}')


if __name__ == '__main__':
    main()
