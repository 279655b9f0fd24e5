#!/usr/bin/env python3
"""Random RV64GC program generator for differential testing against QEMU.

From a seed, writes an assembly program for the QEMU `virt` memory map (RAM at 0x80000000,
ns16550a UART at 0x10000000, sifive_test at 0x100000) that executes tens of thousands of
instructions drawn from RV64I, M, A, F, D, Zicsr (fcsr only) and C, then dumps the architectural
state over the UART at a few checkpoints and powers off with 0x5555.

The programs are valid by construction: loads, stores and AMOs are naturally aligned inside a
4 KiB scratch buffer, branches only go forward (loops use one reserved counter and are bounded),
the dynamic rounding mode is only ever set to a legal value, and no instruction reads
time/cycle/instret. Any trap is reported deterministically (mcause/mepc/mtval, exit code 3).

Reserved registers: x2 (sp) and x9 (s1) hold scratch-buffer bases (x9 = buffer + 2048, so the
compressed c.lw/c.ld/c.sw/c.sd forms can use it), x26 (s10) is the loop counter.

Checkpoint dump format, one line per item:  `C<k> <name>=<16 hex digits>` for x1..x31, f0..f31,
fcsr and the scratch-buffer checksum `mem`.
"""
import argparse
import random
import struct

RESERVED = {0, 2, 9, 26}
XREGS = [r for r in range(32) if r not in RESERVED]
CREGS = [r for r in range(8, 16) if r not in RESERVED]          # x8..x15 minus x9
BUF_SIZE = 4096

INT_EDGES = [0, 1, 2, 3, 31, 32, 63, 64, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
             0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
             0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff, 0xfffffffffffffffe,
             0xffffffff80000000, 0x00000000ffffffff]


def d2b(x):
    return struct.unpack('<Q', struct.pack('<d', x))[0]


def f2b(x):
    return struct.unpack('<I', struct.pack('<f', x))[0]


# Doubles chosen to hit NaNs, infinities, signed zeros, subnormals, rounding ties and the limits of
# the integer conversions.
D_SPECIAL = [
    0x0000000000000000, 0x8000000000000000,                      # +-0
    0x7ff0000000000000, 0xfff0000000000000,                      # +-inf
    0x7ff8000000000000, 0xfff8000000000001, 0x7ff0000000000001,  # qNaN, qNaN(payload), sNaN
    0x7ff4000000000000,                                          # sNaN
    0x0000000000000001, 0x800fffffffffffff, 0x0008000000000000,  # subnormals
    0x0010000000000000, 0x7fefffffffffffff, 0xffefffffffffffff,  # min normal, +-max
] + [d2b(x) for x in [1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, 0.1, -3.75, 1e300, -1e-300,
                      2.0 ** 31, -2.0 ** 31, 2.0 ** 31 - 0.5, -2.0 ** 31 - 1, 2.0 ** 32, 2.0 ** 32 - 1,
                      4294967295.5, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 9007199254740993.0,
                      2.0 ** 53 + 2, 1.0 + 2.0 ** -52, 3.0, 7.0, 1.0 / 3.0, 12345.678]]

S_SPECIAL = [
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fa00000,
    0x00000001, 0x807fffff, 0x00400000, 0x00800000, 0x7f7fffff, 0xff7fffff,
] + [f2b(x) for x in [1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.5, 0.1, -3.75, 2.0 ** 31, -2.0 ** 31,
                      2.0 ** 32, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 16777217.0, 3.0, 1.0 / 3.0, 1e30]]

RMS = ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'dyn']

INT_RR = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and',
          'addw', 'subw', 'sllw', 'srlw', 'sraw',
          'mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu',
          'mulw', 'divw', 'divuw', 'remw', 'remuw']
INT_RI = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw']
INT_SH = [('slli', 63), ('srli', 63), ('srai', 63), ('slliw', 31), ('srliw', 31), ('sraiw', 31)]
LOADS = [('lb', 1), ('lbu', 1), ('lh', 2), ('lhu', 2), ('lw', 4), ('lwu', 4), ('ld', 8)]
STORES = [('sb', 1), ('sh', 2), ('sw', 4), ('sd', 8)]
AMOS = ['amoswap', 'amoadd', 'amoand', 'amoor', 'amoxor', 'amomin', 'amomax', 'amominu', 'amomaxu']
BRANCHES = ['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu']

FP_RRR = ['fadd', 'fsub', 'fmul', 'fdiv']           # take rm
FP_RR_NORM = ['fsgnj', 'fsgnjn', 'fsgnjx', 'fmin', 'fmax']
FP_R4 = ['fmadd', 'fmsub', 'fnmadd', 'fnmsub']       # take rm
FP_CMP = ['feq', 'flt', 'fle']


class Gen:
    def __init__(self, seed, blocks):
        self.r = random.Random(seed)
        self.seed = seed
        self.blocks = blocks
        self.out = []
        self.label = 0

    def emit(self, s):
        self.out.append('    ' + s)

    def new_label(self):
        self.label += 1
        return f'L{self.label}'

    # ------------------------------------------------------------ operand choice
    def x(self):
        return f'x{self.r.choice(XREGS)}'

    def xs(self):                 # any readable register, including the reserved ones and x0
        return f'x{self.r.randrange(32)}'

    def cx(self):
        return f'x{self.r.choice(CREGS)}'

    def f(self):
        return f'f{self.r.randrange(32)}'

    def cf(self):
        return f'f{self.r.randrange(8, 16)}'

    def imm12(self):
        c = self.r.random()
        if c < 0.3:
            return self.r.choice([0, 1, -1, 2047, -2048, 31, 32, 63, -2, 0x7ff, 0x555])
        return self.r.randrange(-2048, 2048)

    def big(self):
        if self.r.random() < 0.5:
            return self.r.choice(INT_EDGES)
        return self.r.getrandbits(64)

    def rm(self):
        return self.r.choice(RMS)

    # ------------------------------------------------------------ instruction classes
    def int_op(self):
        c = self.r.random()
        if c < 0.40:
            self.emit(f'{self.r.choice(INT_RR)} {self.x()}, {self.xs()}, {self.xs()}')
        elif c < 0.65:
            self.emit(f'{self.r.choice(INT_RI)} {self.x()}, {self.xs()}, {self.imm12()}')
        elif c < 0.80:
            op, mx = self.r.choice(INT_SH)
            sh = self.r.choice([0, 1, mx, mx - 1, self.r.randrange(mx + 1)])
            self.emit(f'{op} {self.x()}, {self.xs()}, {sh}')
        elif c < 0.88:
            self.emit(f'lui {self.x()}, {self.r.randrange(1 << 20)}')
        elif c < 0.92:
            self.emit(f'auipc {self.x()}, {self.r.randrange(1 << 20)}')
        else:
            self.emit(f'li {self.x()}, {self.big():#x}')

    def mem_addr(self, width, span=None):
        """A (base, offset) pair naturally aligned inside the scratch buffer."""
        if self.r.random() < 0.5:
            off = self.r.randrange(0, 2048 // width) * width            # from x2 = buf
            return 'x2', off
        off = self.r.randrange(-2048 // width, 2048 // width) * width   # from x9 = buf + 2048
        return 'x9', off

    def load_store(self):
        c = self.r.random()
        if c < 0.35:
            op, w = self.r.choice(LOADS)
            b, o = self.mem_addr(w)
            self.emit(f'{op} {self.x()}, {o}({b})')
        elif c < 0.7:
            op, w = self.r.choice(STORES)
            b, o = self.mem_addr(w)
            self.emit(f'{op} {self.xs()}, {o}({b})')
        elif c < 0.85:
            op, w = self.r.choice([('flw', 4), ('fld', 8)])
            b, o = self.mem_addr(w)
            self.emit(f'{op} {self.f()}, {o}({b})')
        else:
            op, w = self.r.choice([('fsw', 4), ('fsd', 8)])
            b, o = self.mem_addr(w)
            self.emit(f'{op} {self.f()}, {o}({b})')

    def atomic(self):
        w = self.r.choice([4, 8])
        sfx = '.w' if w == 4 else '.d'
        order = self.r.choice(['', '', '.aq', '.rl', '.aqrl'])
        addr = self.x()
        off = self.r.randrange(0, 2048 // w) * w
        self.emit(f'addi {addr}, x2, {off}')
        if self.r.random() < 0.8:
            op = self.r.choice(AMOS)
            self.emit(f'{op}{sfx}{order} {self.x()}, {self.xs()}, ({addr})')
        else:
            # LR then SC to the same address: the reservation is held, so the SC succeeds (rd = 0);
            # the LR's destination must not clobber the address register.
            rd = self.r.choice([r for r in XREGS if f'x{r}' != addr])
            self.emit(f'lr{sfx}{order} x{rd}, ({addr})')
            if self.r.random() < 0.5:
                self.emit(f'addi x{rd}, x{rd}, {self.imm12()}')
            self.emit(f'sc{sfx}{order} {self.x()}, {self.xs()}, ({addr})')

    def fp_load_const(self):
        t = self.x()
        fr = self.f()
        if self.r.random() < 0.5:
            v = self.r.choice(D_SPECIAL) if self.r.random() < 0.8 else self.r.getrandbits(64)
            self.emit(f'li {t}, {v:#x}')
            self.emit(f'fmv.d.x {fr}, {t}')
        else:
            v = self.r.choice(S_SPECIAL) if self.r.random() < 0.8 else self.r.getrandbits(32)
            self.emit(f'li {t}, {v:#x}')
            self.emit(f'fmv.w.x {fr}, {t}')

    def fp_op(self):
        p = self.r.choice(['s', 'd'])
        c = self.r.random()
        if c < 0.20:     # frequent reloads: NaNs are absorbing, keep the values varied
            self.fp_load_const()
        elif c < 0.36:
            self.emit(f'{self.r.choice(FP_RRR)}.{p} {self.f()}, {self.f()}, {self.f()}, {self.rm()}')
        elif c < 0.35:
            self.emit(f'fsqrt.{p} {self.f()}, {self.f()}, {self.rm()}')
        elif c < 0.45:
            self.emit(f'{self.r.choice(FP_RR_NORM)}.{p} {self.f()}, {self.f()}, {self.f()}')
        elif c < 0.55:
            self.emit(f'{self.r.choice(FP_R4)}.{p} {self.f()}, {self.f()}, {self.f()}, {self.f()}, {self.rm()}')
        elif c < 0.62:
            self.emit(f'{self.r.choice(FP_CMP)}.{p} {self.x()}, {self.f()}, {self.f()}')
        elif c < 0.65:
            self.emit(f'fclass.{p} {self.x()}, {self.f()}')
        elif c < 0.78:      # float -> int, every width and signedness
            it = self.r.choice(['w', 'wu', 'l', 'lu'])
            self.emit(f'fcvt.{it}.{p} {self.x()}, {self.f()}, {self.rm()}')
        elif c < 0.86:      # int -> float
            it = self.r.choice(['w', 'wu', 'l', 'lu'])
            if p == 'd' and it in ('w', 'wu'):      # exact: binutils takes no rounding mode
                self.emit(f'fcvt.{p}.{it} {self.f()}, {self.xs()}')
            else:
                self.emit(f'fcvt.{p}.{it} {self.f()}, {self.xs()}, {self.rm()}')
        elif c < 0.90:
            if p == 's':
                self.emit(f'fcvt.s.d {self.f()}, {self.f()}, {self.rm()}')
            else:
                self.emit(f'fcvt.d.s {self.f()}, {self.f()}')
        elif c < 0.95:
            if p == 's':
                self.emit(f'fmv.x.w {self.x()}, {self.f()}')
            else:
                self.emit(f'fmv.x.d {self.x()}, {self.f()}')
        else:
            if p == 's':
                self.emit(f'fmv.w.x {self.f()}, {self.xs()}')
            else:
                self.emit(f'fmv.d.x {self.f()}, {self.xs()}')

    def fcsr_op(self):
        c = self.r.random()
        if c < 0.4:
            self.emit(f'csrwi frm, {self.r.randrange(5)}')
        elif c < 0.7:
            self.emit(f'csrrw {self.x()}, fflags, x0')      # read and clear the sticky flags
        elif c < 0.85:
            self.emit(f'csrr {self.x()}, fcsr')
        else:
            self.emit(f'csrrsi {self.x()}, fflags, {self.r.randrange(32)}')

    def compressed(self):
        r = self.r
        c = r.random()
        if c < 0.06:
            self.emit(f'c.li {self.x()}, {r.randrange(-32, 32)}')
        elif c < 0.12:
            nz = r.choice([v for v in range(-32, 32) if v != 0])
            self.emit(f'c.addi {self.x()}, {nz}')
        elif c < 0.17:
            self.emit(f'c.addiw {self.x()}, {r.randrange(-32, 32)}')
        elif c < 0.21:
            rd = r.choice([x for x in XREGS])
            v = r.choice([v for v in range(1, 64) if v != 0])
            self.emit(f'c.lui x{rd}, {(v if v < 32 else 0xfffe0 + (v - 32))}')
        elif c < 0.27:
            self.emit(f'c.slli {self.x()}, {r.randrange(1, 64)}')
        elif c < 0.32:
            self.emit(f'c.{r.choice(["srli", "srai"])} {self.cx()}, {r.randrange(1, 64)}')
        elif c < 0.36:
            self.emit(f'c.andi {self.cx()}, {r.randrange(-32, 32)}')
        elif c < 0.42:
            rs = r.choice([v for v in range(1, 32)])
            self.emit(f'c.mv {self.x()}, x{rs}')
        elif c < 0.48:
            rs = r.choice([v for v in range(1, 32)])
            self.emit(f'c.add {self.x()}, x{rs}')
        elif c < 0.62:
            op = r.choice(['sub', 'xor', 'or', 'and', 'subw', 'addw'])
            self.emit(f'c.{op} {self.cx()}, x{r.randrange(8, 16)}')
        elif c < 0.72:              # x9 = buf + 2048: offsets 0..124 (w) / 0..248 (d)
            w = r.choice([4, 8])
            o = r.randrange(0, 32) * w
            if r.random() < 0.5:
                self.emit(f'c.l{"w" if w == 4 else "d"} {self.cx()}, {o}(x9)')
            else:
                self.emit(f'c.s{"w" if w == 4 else "d"} x{r.randrange(8, 16)}, {o}(x9)')
        elif c < 0.80:
            o = r.randrange(0, 32) * 8
            if r.random() < 0.5:
                self.emit(f'c.fld {self.cf()}, {o}(x9)')
            else:
                self.emit(f'c.fsd {self.cf()}, {o}(x9)')
        elif c < 0.92:              # sp = buf: 0..252 (w) / 0..504 (d)
            w = r.choice([4, 8])
            o = r.randrange(0, 64) * w
            if r.random() < 0.5:
                self.emit(f'c.l{"w" if w == 4 else "d"}sp {self.x()}, {o}(sp)')
            else:
                self.emit(f'c.s{"w" if w == 4 else "d"}sp {self.xs()}, {o}(sp)')
        else:
            o = r.randrange(0, 64) * 8
            if r.random() < 0.5:
                self.emit(f'c.fldsp {self.f()}, {o}(sp)')
            else:
                self.emit(f'c.fsdsp {self.f()}, {o}(sp)')

    def straight(self):
        c = self.r.random()
        if c < 0.38:
            self.int_op()
        elif c < 0.53:
            self.load_store()
        elif c < 0.58:
            self.atomic()
        elif c < 0.80:
            self.fp_op()
        elif c < 0.83:
            self.fcsr_op()
        else:
            self.compressed()

    def with_branches(self, n):
        """n straight-line instructions with occasional short forward branches over a few of them."""
        i = 0
        while i < n:
            if self.r.random() < 0.08:
                lab = self.new_label()
                op = self.r.choice(BRANCHES + ['c.beqz', 'c.bnez', 'jal'])
                if op in ('c.beqz', 'c.bnez'):
                    self.emit(f'{op} x{self.r.randrange(8, 16)}, {lab}')
                elif op == 'jal':
                    self.emit(f'jal {self.x()}, {lab}')
                else:
                    self.emit(f'{op} {self.xs()}, {self.xs()}, {lab}')
                k = self.r.randrange(1, 6)
                for _ in range(k):
                    self.straight()
                self.out.append(f'{lab}:')
                i += k + 1
            else:
                self.straight()
                i += 1

    def loop(self):
        iters = self.r.randrange(10, 120)
        body = self.r.randrange(10, 40)
        lab = self.new_label()
        self.emit(f'li x26, {iters}')
        self.out.append(f'{lab}:')
        self.with_branches(body)
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {lab}')

    def checkpoint(self, k):
        self.emit('csrw mscratch, x31')
        self.emit('la x31, save_area')
        for i in range(1, 31):
            self.emit(f'sd x{i}, {8 * i}(x31)')
        self.emit('csrr x30, mscratch')
        self.emit('sd x30, 248(x31)')
        for i in range(32):
            self.emit(f'fsd f{i}, {256 + 8 * i}(x31)')
        self.emit('csrr x30, fcsr')
        self.emit('sd x30, 512(x31)')
        self.emit(f'li a0, {k}')
        self.emit('call dump_state')
        self.emit('la x31, save_area')
        self.emit('ld x30, 512(x31)')
        self.emit('csrw fcsr, x30')
        for i in range(32):
            self.emit(f'fld f{i}, {256 + 8 * i}(x31)')
        for i in range(1, 32):
            self.emit(f'ld x{i}, {8 * i}(x31)')

    def program(self):
        r = self.r
        self.out.append(PRELUDE)
        for i in range(1, 32):
            if i in (2, 9):
                continue
            self.emit(f'li x{i}, {self.big():#x}')
        for i in range(32):
            self.emit(f'li x1, {r.choice(D_SPECIAL + [r.getrandbits(64)]):#x}')
            self.emit(f'fmv.d.x f{i}, x1')
        self.emit(f'li x1, {self.big():#x}')
        # Scratch buffer contents come from the seed too.
        self.emit('mv x26, x2')
        self.emit(f'li x25, {r.getrandbits(64):#x}')
        self.emit(f'li x24, {r.getrandbits(64) | 1:#x}')
        self.emit(f'li x23, {BUF_SIZE // 8}')
        self.out.append('fill:')
        self.emit('sd x25, 0(x26)')
        self.emit('mul x25, x25, x24')
        self.emit('addi x25, x25, 7')
        self.emit('addi x26, x26, 8')
        self.emit('addi x23, x23, -1')
        self.emit('bnez x23, fill')
        checkpoints = {self.blocks // 3: 1, 2 * self.blocks // 3: 2}
        for b in range(self.blocks):
            if r.random() < 0.5:
                self.loop()
            else:
                self.with_branches(r.randrange(20, 60))
            if b in checkpoints:
                self.checkpoint(checkpoints[b])
        self.checkpoint(9)
        self.emit('j finish')
        self.out.append(RUNTIME)
        return '\n'.join(self.out) + '\n'


PRELUDE = r'''
    .option rvc
    .section .text.init
    .globl _start
_start:
    la t0, trap_handler
    csrw mtvec, t0
    li t0, 3 << 13              # mstatus.FS = dirty
    csrs mstatus, t0
    csrwi fcsr, 0
    la sp, scratch
    la s1, scratch + 2048
'''

RUNTIME = r'''
    .align 2
# ns16550a transmit: wait for THR empty (LSR bit 5) then write.
putc:
    li t0, 0x10000000
1:  lbu t1, 5(t0)
    andi t1, t1, 0x20
    beqz t1, 1b
    sb a0, 0(t0)
    ret
puts:                           # a0 = string; clobbers s0, s2
    mv s0, a0
    mv s2, ra
1:  lbu a0, 0(s0)
    beqz a0, 2f
    call putc
    addi s0, s0, 1
    j 1b
2:  mv ra, s2
    ret
puthex:                         # a0 = value; clobbers s0, s2, s3
    mv s0, a0
    mv s2, ra
    li s3, 60
1:  srl a0, s0, s3
    andi a0, a0, 15
    li t1, 10
    blt a0, t1, 2f
    addi a0, a0, 'a' - '0' - 10
2:  addi a0, a0, '0'
    call putc
    addi s3, s3, -4
    bgez s3, 1b
    mv ra, s2
    ret
# dump_state(a0 = checkpoint): prints save_area (x1..x31, f0..f31, fcsr) and the buffer checksum.
dump_state:
    mv s4, ra
    mv s5, a0
    li s6, 1                    # slot index: 1..31 x, 32..63 f, 64 fcsr
    la s7, names
3:  li a0, 'C'
    call putc
    addi a0, s5, '0'
    call putc
    li a0, ' '
    call putc
    mv a0, s7
    call puts
    addi s7, s0, 1              # puts leaves s0 on the terminating NUL
    li a0, '='
    call putc
    la t2, save_area
    slli t3, s6, 3
    add t2, t2, t3
    ld a0, 0(t2)
    call puthex
    li a0, '\n'
    call putc
    addi s6, s6, 1
    li t2, 65
    blt s6, t2, 3b
    # checksum of the scratch buffer: h = rotl(h, 5) ^ word, over all doublewords
    la t2, scratch
    li t3, 4096 / 8
    li s8, 0
4:  ld t4, 0(t2)
    slli t5, s8, 5
    srli t6, s8, 59
    or s8, t5, t6
    xor s8, s8, t4
    addi t2, t2, 8
    addi t3, t3, -1
    bnez t3, 4b
    li a0, 'C'
    call putc
    addi a0, s5, '0'
    call putc
    la a0, mem_name
    call puts
    mv a0, s8
    call puthex
    li a0, '\n'
    call putc
    mv ra, s4
    ret
trap_handler:
    la a0, trap_msg
    call puts
    csrr a0, mcause
    call puthex
    li a0, ' '
    call putc
    csrr a0, mepc
    call puthex
    li a0, ' '
    call putc
    csrr a0, mtval
    call puthex
    li a0, '\n'
    call putc
    li t0, 0x100000
    li t1, (3 << 16) | 0x3333   # sifive_test: fail with exit code 3
    sw t1, 0(t0)
1:  j 1b
finish:
    la a0, done_msg
    call puts
    li t0, 0x100000
    li t1, 0x5555               # sifive_test: pass
    sw t1, 0(t0)
1:  j 1b

    .section .rodata
trap_msg: .asciz "TRAP mcause/mepc/mtval "
done_msg: .asciz "DONE\n"
mem_name: .asciz " mem="
names:
''' + ''.join(f'    .asciz "x{i}"\n' for i in range(1, 32)) \
    + ''.join(f'    .asciz "f{i}"\n' for i in range(32)) + '''    .asciz "fcsr"

    .data
    .align 6
save_area: .skip 8 * 66
    .align 12
scratch: .skip 4096
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('seed', type=int)
    ap.add_argument('-o', '--output', required=True)
    ap.add_argument('--blocks', type=int, default=60, help='number of code blocks (default 60)')
    a = ap.parse_args()
    with open(a.output, 'w') as f:
        f.write(f'# Generated by Guests/difftest/gen.py, seed {a.seed}, {a.blocks} blocks.\n')
        f.write(Gen(a.seed, a.blocks).program())


if __name__ == '__main__':
    main()
