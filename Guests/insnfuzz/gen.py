#!/usr/bin/env python3
"""Random-instruction program for the interpreter/JIT/QEMU differential (scripts/fuzz-insns.py).

    gen.py SEED -o prog.S [--blocks 150] [--per-block 4] [--legal-only]

Each block loads every integer and FP register from a seeded table (about half of the integer
registers point into a scratch data area, so most loads and stores land there), sets fcsr, runs a
few random instruction words, then stores every register, fcsr and the trap count into its record.
The words are fully random, drawn from the RV64GC major opcodes with random fields (reserved
formats, rounding modes and funct fields included), or random compressed halfwords. Control
transfers (branches, jumps) and system instructions other than the FP CSRs are left out: they
would leave the block. `--legal-only` keeps to encodings QEMU and Backplane both define for
RV64GC (for the QEMU comparison). A trap (illegal instruction, access fault, misaligned AMO) is
counted and its cause and tval recorded, and the instruction skipped.
"""
import argparse
import random

OPCODES = {  # major opcode -> name (RV64GC)
    0x03: 'load', 0x07: 'load-fp', 0x0f: 'misc-mem', 0x13: 'op-imm', 0x17: 'auipc', 0x1b: 'op-imm-32',
    0x23: 'store', 0x27: 'store-fp', 0x2f: 'amo', 0x33: 'op', 0x37: 'lui', 0x3b: 'op-32',
    0x43: 'madd', 0x47: 'msub', 0x4b: 'nmsub', 0x4f: 'nmadd', 0x53: 'op-fp', 0x73: 'system',
}
FP_CSRS = [0x001, 0x002, 0x003]


def is_control_or_system(word):
    """Words that would leave the block or change machine state the harness relies on."""
    if word & 3 != 3:                       # compressed
        quadrant, funct3 = word & 3, (word >> 13) & 7
        if quadrant == 1 and funct3 in (5, 6, 7):            # c.j, c.beqz, c.bnez
            return True
        if quadrant == 2 and funct3 == 4:
            rs1, rs2, bit12 = (word >> 7) & 31, (word >> 2) & 31, (word >> 12) & 1
            if rs2 == 0 and rs1 != 0:                         # c.jr, c.jalr
                return True
        return False
    opcode = word & 0x7f
    if opcode in (0x63, 0x67, 0x6f):        # branch, jalr, jal
        return True
    if opcode == 0x73:                      # system: only the FP CSRs (fflags, frm, fcsr)
        funct3, csr = (word >> 12) & 7, word >> 20
        return funct3 == 0 or funct3 == 4 or csr not in FP_CSRS
    return False


def legal_rv64gc(rng, amo=True):
    """A word QEMU and Backplane both define for RV64GC (no reserved fields). `amo=False` leaves
    out LR/SC/AMOs: on a misaligned address QEMU 7.2 (Debian 12) raises load-misaligned for an
    AMO and fails an SC without a trap, where the A extension (RISC-V unprivileged 20191213 §8.4)
    asks for the store/AMO misaligned exception Backplane raises, so they cannot be compared."""
    rd, rs1, rs2, rs3 = (rng.randrange(32) for _ in range(4))
    kinds = ['op', 'op-imm', 'op-32', 'op-imm-32', 'load', 'store', 'fp', 'fma', 'lui', 'csr'] + (['amo'] if amo else [])
    kind = rng.choice(kinds)
    if kind == 'op':
        f7, f3 = rng.choice([(0, f) for f in range(8)] + [(0x20, 0), (0x20, 5)] + [(1, f) for f in range(8)])
        return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x33
    if kind == 'op-32':
        f7, f3 = rng.choice([(0, 0), (0x20, 0), (0, 1), (0, 5), (0x20, 5)] + [(1, f) for f in (0, 4, 5, 6, 7)])
        return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x3b
    if kind == 'op-imm':
        f3 = rng.choice([0, 2, 3, 4, 6, 7, 1, 5])
        imm = rng.randrange(4096)
        if f3 == 1: imm &= 0x3f
        if f3 == 5: imm = (imm & 0x3f) | rng.choice([0, 0x400])
        return imm << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x13
    if kind == 'op-imm-32':
        f3 = rng.choice([0, 1, 5])
        imm = rng.randrange(4096) if f3 == 0 else (rng.randrange(32) | (rng.choice([0, 0x400]) if f3 == 5 else 0))
        return imm << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x1b
    if kind == 'load':
        if rng.random() < 0.3:
            return rng.randrange(4096) << 20 | rs1 << 15 | rng.choice([2, 3]) << 12 | rd << 7 | 0x07
        return rng.randrange(4096) << 20 | rs1 << 15 | rng.choice([0, 1, 2, 3, 4, 5, 6]) << 12 | rd << 7 | 0x03
    if kind == 'store':
        imm = rng.randrange(4096)
        opcode, f3 = rng.choice([(0x23, 0), (0x23, 1), (0x23, 2), (0x23, 3), (0x27, 2), (0x27, 3)])
        return (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 31) << 7 | opcode
    if kind == 'fp':
        fmt = rng.choice([0, 1])
        rm = rng.choice([0, 1, 2, 3, 4, 7])
        f5, rs2v, f3 = rng.choice([(0, None, rm), (1, None, rm), (2, None, rm), (3, None, rm), (11, 0, rm),
                                   (4, None, 0), (4, None, 1), (4, None, 2), (5, None, 0), (5, None, 1),
                                   (20, None, 0), (20, None, 1), (20, None, 2), (24, 0, rm), (24, 1, rm), (24, 2, rm),
                                   (24, 3, rm), (26, 0, rm), (26, 1, rm), (26, 2, rm), (26, 3, rm), (28, 0, 0),
                                   (28, 0, 1), (8, 1 - fmt, rm)])
        if f5 in (28,) and f3 == 0: pass
        r2 = rs2 if rs2v is None else rs2v
        return (f5 << 2 | fmt) << 25 | r2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x53
    if kind == 'fma':
        return rs3 << 27 | rng.choice([0, 1]) << 25 | rs2 << 20 | rs1 << 15 | rng.choice([0, 1, 2, 3, 4, 7]) << 12 | rd << 7 | \
            rng.choice([0x43, 0x47, 0x4b, 0x4f])
    if kind == 'lui':
        return rng.randrange(1 << 20) << 12 | rd << 7 | rng.choice([0x37, 0x17])
    if kind == 'amo':
        f5 = rng.choice([0, 1, 4, 8, 12, 16, 20, 24, 28, 2, 3])
        r2 = 0 if f5 == 2 else rs2
        return f5 << 27 | rng.randrange(4) << 25 | r2 << 20 | rs1 << 15 | rng.choice([2, 3]) << 12 | rd << 7 | 0x2f
    csr = rng.choice(FP_CSRS)
    return csr << 20 | rs1 << 15 | rng.choice([1, 2, 3, 5, 6, 7]) << 12 | rd << 7 | 0x73


def random_word(rng):
    r = rng.random()
    if r < 0.25:
        return rng.randrange(1 << 32) | 3                     # any 32-bit encoding
    if r < 0.55:                                              # a major opcode, random fields
        return (rng.randrange(1 << 25) << 7) | rng.choice(list(OPCODES))
    if r < 0.75:
        return rng.randrange(1 << 16) & ~0 if rng.random() < 0.9 else 0   # compressed (0 is the defined illegal)
    return legal_rv64gc(rng)


def known_divergence(word):
    """FMADD/FMSUB/FNMSUB/FNMADD with the reserved fmt 2 (half) or 3 (quad): the interpreter
    raises illegal-instruction, the JIT executes them (issue 15; the JIT's fix)."""
    return word & 3 == 3 and (word & 0x7f) in (0x43, 0x47, 0x4b, 0x4f) and (word >> 25) & 3 in (2, 3)


def pick(rng, legal_only, skip_known=False):
    while True:
        word = legal_rv64gc(rng, amo=False) if legal_only else random_word(rng)
        if skip_known and known_divergence(word):
            continue
        if word & 3 != 3:
            word &= 0xffff
            if (word & 3) == 3:
                continue
        if not is_control_or_system(word):
            return word


INTERESTING = [0, 1, -1, 2, -2, 0x7fffffffffffffff, -0x8000000000000000, 0x7fffffff, -0x80000000, 0xffffffff,
               0x80000000, 0x100000000, 31, 32, 63, 64]
FP_INTERESTING = [0, 0x8000000000000000, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
                  0x7ff4000000000000, 0x0000000000000001, 0x3ff0000000000000, 0xffffffff7fc00000,
                  0xffffffff7f800000, 0xffffffff00000001, 0xffffffff3f800000, 0x000000003f800000, 0x41dfffffffc00000]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('seed', type=int)
    p.add_argument('-o', '--output', required=True)
    p.add_argument('--blocks', type=int, default=150)
    p.add_argument('--per-block', type=int, default=4)
    p.add_argument('--legal-only', action='store_true')
    p.add_argument('--skip-known', action='store_true', help='leave out words of a known, owned divergence')
    p.add_argument('--listing', help='write the words of each block here, one block per line')
    a = p.parse_args()
    rng = random.Random(a.seed)
    out = ['# generated by Guests/insnfuzz/gen.py %d%s' % (a.seed, ' --legal-only' if a.legal_only else ''),
           '    .section .text', '    .globl run_blocks', 'run_blocks:',
           '    addi sp, sp, -16', '    sd ra, 0(sp)']
    tables, listing = [], []
    for block in range(a.blocks):
        gprs = []
        for reg in range(1, 32):
            if rng.random() < 0.5:
                gprs.append(('scratch', rng.randrange(-128, 128) * 8 + rng.choice([0, 0, 0, 1, 2, 4])))
            else:
                gprs.append(('value', rng.choice(INTERESTING) if rng.random() < 0.5 else rng.randrange(1 << 64)))
        fprs = [rng.choice(FP_INTERESTING) if rng.random() < 0.5 else rng.randrange(1 << 64) for _ in range(32)]
        fcsr = rng.randrange(256) if rng.random() < 0.3 else 0
        words = [pick(rng, a.legal_only, a.skip_known) for _ in range(a.per_block)]
        listing.append(' '.join('%0*x' % (8 if w & 3 == 3 else 4, w) for w in words))
        tables.append((gprs, fprs, fcsr))
        out += [f'    la a0, table_{block}', f'    la a1, record_{block}', '    call enter_block',
                f'    # block {block}: ' + listing[-1]]
        for w in words:
            out.append(f'    .word 0x{w:08x}' if w & 3 == 3 else f'    .half 0x{w:04x}')
        out += ['    csrrw x31, sscratch, x31']
        out += [f'    sd x{r}, {(r - 1) * 8}(x31)' for r in range(1, 31)]
        out += [f'    la x30, 9f', '    j leave_block_tail', '9:']
    out += ['    ld ra, 0(sp)', '    addi sp, sp, 16', '    ret', '', '    .section .data', '    .align 3',
            '    .globl block_count', f'block_count: .dword {a.blocks}']
    for block, (gprs, fprs, fcsr) in enumerate(tables):
        out.append(f'table_{block}:')
        for kind, v in gprs:
            out.append(f'    .dword scratch_middle + ({v})' if kind == 'scratch' else f'    .dword 0x{v & (1 << 64) - 1:016x}')
        out += [f'    .dword 0x{v:016x}' for v in fprs] + [f'    .dword {fcsr}']
    out += ['    .section .bss', '    .align 4', '    .globl records', 'records:']
    out += [f'record_{block}: .space 8 * 68' for block in range(a.blocks)]
    with open(a.output, 'w') as f:
        f.write('\n'.join(out) + '\n')
    if a.listing:
        with open(a.listing, 'w') as f:
            f.write('\n'.join(listing) + '\n')


if __name__ == '__main__':
    main()
