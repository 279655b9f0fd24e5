#!/usr/bin/env python3
"""Random programs for the interpreter-vs-JIT differential test (Guests/jitdiff/jitdiff.py).

Builds on Guests/difftest/gen.py (random RV64GC blocks, loops, checkpoints dumped over the UART)
and mixes in what stresses a binary translator:
  - traps in the middle of blocks: loads/stores to unmapped addresses, ecall, ebreak, illegal
    instructions; a resuming M-mode handler hashes mcause/mepc/mtval into memory and skips the
    instruction, so execution continues right after the fault (registers must be untouched);
  - self-modifying code: a code slot is rewritten (a random `addi`) and called, with and without
    FENCE.I (the store is always in an earlier block than the call);
  - page-table changes: a virtual window (Sv39, used through mstatus.MPRV with MPP=S) is remapped
    between two physical pages with SFENCE.VMA, then loaded and stored through.
Only Backplane runs these (QEMU is not the reference): both engines must print identical dumps.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'difftest'))
import gen as base  # noqa: E402

WINDOW = 0x40000000


class JITGen(base.Gen):
    def temps(self, n):
        return self.r.sample(base.XREGS, n)

    def trap_op(self):
        r = self.r
        t = self.x()
        self.emit('.option push')
        self.emit('.option norvc')
        c = r.random()
        if c < 0.3:
            self.emit(f'{r.choice(["ld", "lw", "lbu", "lh"])} {t}, {r.randrange(0, 2040) & ~7}(x0)')
        elif c < 0.5:
            self.emit(f'{r.choice(["sd", "sw", "sb"])} {self.xs()}, {r.randrange(0, 2040) & ~7}(x0)')
        elif c < 0.7:
            self.emit('ecall')
        elif c < 0.8:
            self.emit('ebreak')
        else:
            self.emit('unimp')              # csrrw x0, cycle, x0: illegal (read-only CSR)
        self.emit('.option pop')

    def smc_op(self):
        r = self.r
        slot, value, reg = r.sample([x for x in base.XREGS if x != 1], 3)
        k = r.randrange(-2048, 2048)
        encoding = ((k & 0xFFF) << 20) | (reg << 15) | (reg << 7) | 0x13
        self.emit(f'la x{slot}, smc_slot')
        self.emit(f'li x{value}, {encoding:#x}')
        self.emit(f'sw x{value}, 0(x{slot})')
        if r.random() < 0.6:
            self.emit('fence.i')
        self.emit(f'jalr x1, 0(x{slot})')

    def remap_op(self):
        a, b = self.temps(2)
        self.emit(f'la x{a}, pt_l0')
        self.emit(f'ld x{b}, 0(x{a})')
        self.emit(f'xori x{b}, x{b}, 1 << 10')   # PPN bit 0: page A <-> page B
        self.emit(f'sd x{b}, 0(x{a})')
        self.emit('sfence.vma' if self.r.random() < 0.8 else f'sfence.vma x0, x{b}')

    def window_op(self):
        r = self.r
        m, w, d = self.temps(3)
        offset = r.randrange(-256, 255) * 8
        self.emit(f'li x{m}, (1 << 17) | (1 << 11)')     # MPRV, MPP = S
        self.emit(f'li x{w}, {WINDOW + 2048:#x}')
        self.emit(f'csrs mstatus, x{m}')
        if r.random() < 0.5:
            self.emit(f'ld x{d}, {offset}(x{w})')
        else:
            self.emit(f'sd x{d}, {offset}(x{w})')
        self.emit(f'csrc mstatus, x{m}')

    def straight(self):
        c = self.r.random()
        if c < 0.03:
            self.trap_op()
        elif c < 0.045:
            self.smc_op()
        elif c < 0.055:
            self.remap_op()
        elif c < 0.08:
            self.window_op()
        else:
            super().straight()

    def program(self):
        text = super().program()
        setup = '''
    la t0, jit_trap
    csrw mtvec, t0
    li t0, -1                   # PMP: everything RWX for S-mode (MPRV) accesses
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    la t0, pt_root              # Sv39: gigapage 2 identity (RAM), 0x40000000 -> pt_l1 -> pt_l0
    la t1, pt_l1
    srli t1, t1, 2
    ori t1, t1, 1
    sd t1, 8(t0)
    li t1, (0x80000000 >> 2) | 0xcf
    sd t1, 16(t0)
    la t0, pt_l1
    la t1, pt_l0
    srli t1, t1, 2
    ori t1, t1, 1
    sd t1, 0(t0)
    la t0, pt_l0
    la t1, window_a
    srli t1, t1, 2
    ori t1, t1, 0xc7            # V R W A D
    sd t1, 0(t0)
    la t0, pt_root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
'''
        marker = '    la s1, scratch + 2048\n'
        text = text.replace(marker, marker + setup, 1)
        return text + r'''
    .text
    .align 2
jit_trap:                       # resume after the faulting (4-byte) instruction
    csrw mscratch, t0
    la t0, trap_save
    sd t1, 0(t0)
    sd t2, 8(t0)
    ld t1, 16(t0)
    csrr t2, mcause
    slli t1, t1, 7
    xor t1, t1, t2
    csrr t2, mtval
    add t1, t1, t2
    csrr t2, mepc
    xor t1, t1, t2
    sd t1, 16(t0)
    la t1, scratch + 2048
    ld t2, 2040(t1)             # fold into the dumped scratch checksum
    addi t2, t2, 1
    sd t2, 2040(t1)
    ld t2, 16(t0)
    sd t2, 2032(t1)
    csrr t1, mepc
    addi t1, t1, 4
    csrw mepc, t1
    ld t1, 0(t0)
    ld t2, 8(t0)
    csrr t0, mscratch
    mret

    .align 2
smc_slot:
    .option push
    .option norvc
    addi x0, x0, 0
    .option pop
    ret

    .data
    .align 3
trap_save: .skip 24
    .align 12
pt_root: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
    .align 13                   # even PPN: flipping PPN bit 0 swaps window_a and window_b
window_a: .fill 512, 8, 0x1111111111111111
window_b: .fill 512, 8, 0x2222222222222222
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('seed', type=int)
    ap.add_argument('-o', '--output', required=True)
    ap.add_argument('--blocks', type=int, default=60)
    a = ap.parse_args()
    with open(a.output, 'w') as f:
        f.write(f'# Generated by Guests/jitdiff/gen.py, seed {a.seed}, {a.blocks} blocks.\n')
        f.write(JITGen(a.seed, a.blocks).program())


if __name__ == '__main__':
    main()
