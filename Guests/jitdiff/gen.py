#!/usr/bin/env python3
"""Random programs for the interpreter-vs-JIT differential test (Guests/jitdiff/jitdiff.py).

Builds on Guests/difftest/gen.py (random RV64GC blocks, loops, checkpoints dumped over the UART)
and mixes in what stresses a binary translator:
  - traps in the middle of blocks: loads/stores to unmapped addresses, ecall, ebreak, illegal
    instructions; a resuming M-mode handler hashes mcause/mepc/mtval and every register (which
    the trap must see exact) into memory and skips the instruction, so execution continues right
    after the fault (registers must be untouched);
  - the machine timer, every 500-3000 ticks of virtual time: its interrupt is taken where a
    slice ends (the JIT has just left generated code on the slice's budget, in a loop, say),
    and the same handler hashes every register there too, re-arms the timer and resumes;
  - self-modifying code: a code slot is rewritten (a random `addi`) and called, with and without
    FENCE.I (the store is always in an earlier block than the call);
  - page-table changes: a virtual window (Sv39, used through mstatus.MPRV with MPP=S) is remapped
    between two physical pages with SFENCE.VMA, then loaded and stored through;
  - code across page boundaries: functions laid a few bytes before a page end (some with a 32-bit
    instruction split across the two pages) called directly, so blocks span pages and calls and
    returns chain across them; one of them has a slot in its second page that is rewritten;
  - remapped code: S-mode code at a virtual page whose neighbour (the target of a direct and an
    indirect call in a loop, and where a block runs on into) is remapped between two physical
    pages with different code, then run again;
  - unconditional jumps the JIT follows inside a block: an if/else's jump over the else-part,
    and a loop whose body hops back and forth through jumps (with traps mid-block);
  - integer loops (loads, stores, faulting accesses) that the JIT runs as self-loops with
    unpinned registers held in the host registers of pinned ones;
  - pointer walks in self-loops (loads and stores at offsets around a moving base, some
    misaligned, more sites than the JIT's per-loop probe slots) across page boundaries, in
    M-mode RAM or through the Sv39 window into a read-only page (stores there fault mid-loop);
  - ifs over one to three ALU instructions writing one (mostly pinned) register, which the JIT
    turns into cmov, in loops with data-dependent branches;
  - LR/SC with a store between them to a page already in the store TLB, overlapping the
    reservation or not (the JIT's inline stores rely on the reservation's pages being kept
    out of the store TLB), including an LR.W in a page's last word;
  - deep call/return chains (a recursive routine, depth up to 60) and indirect switch tables
    (a jump table of case routines picked by a random register), and compiled switches
    (`slli; add; lw; add; jr` through tables of offsets, two bases, entries swapped while
    looping), which the JIT dispatches through a target table keyed by the case index;
  - xorshift steps as blocks of their own (W-form shifts and xors left as bare low words, a side
    exit, a faulting load and a store while they are bare), whose live-in register is sometimes
    not sign-extended, so the block's entry check fails and it is translated again;
  - self-loops of aligned loads and stores stepping by constants across page boundaries, into
    the read-only page after the Sv39 window, with a side exit (the JIT's page runs: no probe
    per access, budget held back where an access could leave its page);
  - divuw/remuw by a divisor kept in a register across a loop (which the JIT guesses from the
    value the block was translated with), dividends at and around its multiples, the divisor
    changed between iterations;
  - the registers the JIT keeps in host registers across blocks (sp, a0-a5) read and written by
    instructions it runs through interpreter helpers in the middle of a block (sscratch swaps,
    FP conversions), with sp moved around them.
Only Backplane runs these (QEMU is not the reference): both engines must print identical dumps.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'difftest'))
import gen as base  # noqa: E402

WINDOW = 0x40000000
XMODE_ENTRY = 0x40001800        # S-mode code page V1 (0x40001000) + 2048; V2 = 0x40002000
# Registers the generated helper routines below may clobber: never the reserved ones, ra only
# where it is the link register.
HELPER_REGS = [r for r in base.XREGS if r not in (1, 27, 28, 29, 31)]
FAR_FUNCTIONS = 4
CASES = 8
COUNTER_SLOTS = 8
JT_ENTRIES = 32                 # past the JIT's 16 switch-table slots


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

    def alu_body(self, n, regs=None):
        """n random register-only integer instructions on `regs` (default HELPER_REGS)."""
        regs = regs or HELPER_REGS
        lines = []
        for _ in range(n):
            d, a, b = (f'x{self.r.choice(regs)}' for _ in range(3))
            op = self.r.choice(['add', 'sub', 'xor', 'or', 'and', 'sll', 'srl', 'sra', 'mul', 'addw', 'subw',
                                'slt', 'sltu', 'addi', 'xori', 'slli', 'srli', 'addiw'])
            if op in ('addi', 'xori', 'addiw'):
                lines.append(f'{op} {d}, {a}, {self.r.randrange(-2048, 2048)}')
            elif op in ('slli', 'srli'):
                lines.append(f'{op} {d}, {a}, {self.r.randrange(64)}')
            else:
                lines.append(f'{op} {d}, {a}, {b}')
        return lines

    def far_call_op(self):
        """Direct calls to functions laid across a page end (`far_functions`); x26 is the
        enclosing loop's counter, so repeated calls are unrolled."""
        for _ in range(self.r.randrange(1, 4)):
            self.emit(f'call far{self.r.randrange(FAR_FUNCTIONS)}')

    def far_smc_op(self):
        """Rewrites the slot in the second page of `far_smc` (an addi), then calls it in a loop."""
        r = self.r
        slot, value = r.sample([x for x in HELPER_REGS if x != 1], 2)
        reg = r.choice(HELPER_REGS)
        k = r.randrange(-2048, 2048)
        encoding = ((k & 0xFFF) << 20) | (reg << 15) | (reg << 7) | 0x13
        self.emit('call far_smc')
        self.emit(f'la x{slot}, far_smc_slot')
        self.emit(f'li x{value}, {encoding:#x}')
        self.emit(f'sw x{value}, 0(x{slot})')
        if r.random() < 0.6:
            self.emit('fence.i')
        self.emit('call far_smc')
        self.emit('call far_smc')

    def recurse_op(self):
        self.emit('la x31, deep_stack_top')
        self.emit(f'li x27, {self.r.randrange(1, 61)}')
        self.emit('call deep')

    def switch_op(self):
        t, i = self.r.sample([x for x in HELPER_REGS if x != 1], 2)
        self.emit(f'andi x{i}, {self.xs()}, {CASES - 1}')
        self.emit(f'la x{t}, case_table')
        self.emit(f'slli x{i}, x{i}, 3')
        self.emit(f'add x{t}, x{t}, x{i}')
        self.emit(f'ld x{t}, 0(x{t})')
        self.emit(f'jalr x1, 0(x{t})')

    def jump_table_op(self):
        """A switch as compilers emit it (`slli t, i, 2; add t, t, base; lw t, 0(t); add t, t,
        base; jr t`, the table holding offsets from its base) in a loop: the JIT dispatches it
        through a target table of the site's own keyed by the index i. The index runs past the
        table's 16 slots, the base alternates between two tables with different cases at each
        index, and half the sites swap two entries of the first table every iteration, so one
        index leads to different cases in turn."""
        r = self.r
        t, i, b = r.sample([x for x in HELPER_REGS if x != 1], 3)
        s = self.x()
        head, back = self.new_label(), self.new_label()
        self.save_counter(s)
        self.emit(f'li x26, {r.randrange(2, 40)}')
        self.out.append(f'{head}:')
        if r.random() < 0.5:
            e, f = sorted(r.sample(range(JT_ENTRIES), 2))
            self.emit(f'la x{b}, jt_table0')
            self.emit(f'lw x{t}, {4 * e}(x{b})')
            self.emit(f'lw x{i}, {4 * f}(x{b})')
            self.emit(f'sw x{i}, {4 * e}(x{b})')
            self.emit(f'sw x{t}, {4 * f}(x{b})')
        self.emit(f'la x1, {back}')
        self.emit(f'xor x{i}, x26, {self.xs()}')
        self.emit(f'andi x{i}, x{i}, {JT_ENTRIES - 1}')
        self.emit(f'la x{b}, jt_table0')
        if r.random() < 0.5:
            self.emit(f'andi x{t}, x26, 1')
            self.emit(f'slli x{t}, x{t}, {(4 * JT_ENTRIES).bit_length() - 1}')
            self.emit(f'add x{b}, x{b}, x{t}')
        self.emit(f'slli x{t}, x{i}, 2')
        self.emit(f'add x{t}, x{t}, x{b}' if r.random() < 0.5 else f'add x{t}, x{b}, x{t}')
        self.emit(f'lw x{t}, 0(x{t})')
        self.emit(f'add x{t}, x{t}, x{b}')
        self.emit(f'jr x{t}')
        self.out.append(f'{back}:')
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.restore_counter(s)

    def xorshift_op(self):
        """A xorshift step as a block of its own (entered through `jr`), in a loop: W-form shifts
        and xors on a0-a5 (host registers), which the JIT keeps as bare low words when the
        block's live-in register is sign-extended (checked at the block's entry, or the block is
        translated again without that assumption), with a side exit, a faulting load and a store
        while they are bare. Every other iteration the live-in register is made not
        sign-extended, so the entry check fails mid-run."""
        r = self.r
        a, b, c, d = r.sample([10, 11, 12, 13, 14, 15], 4)
        t, s = r.sample([x for x in HELPER_REGS if x not in (1, 10, 11, 12, 13, 14, 15)], 2)
        head, body, out = self.new_label(), self.new_label(), self.new_label()
        self.save_counter(f'x{t}')
        self.emit(f'li x26, {r.randrange(2, 12)}')
        self.out.append(f'{head}:')
        self.emit(f'andi x{s}, x26, 1')
        skip = self.new_label()
        self.emit(f'beqz x{s}, {skip}')
        self.emit(f'slli x{a}, x{a}, {r.randrange(20, 40)}' if r.random() < 0.7 else f'li x{a}, {r.getrandbits(63):#x}')
        self.out.append(f'{skip}:')
        self.emit(f'la x{t}, {body}')
        self.emit(f'jr x{t}')
        self.out.append(f'{body}:')
        self.emit(f'slliw x{b}, x{a}, {r.randrange(1, 32)}')
        self.emit(f'xor x{b}, x{b}, x{a}')
        self.emit(f'srliw x{c}, x{b}, {r.randrange(1, 32)}')
        self.emit(f'xor x{b}, x{b}, x{c}')
        self.emit(f'slliw x{c}, x{b}, {r.randrange(1, 32)}')
        self.emit(f'{r.choice(["xor", "or", "and"])} x{b}, x{b}, x{c}')
        self.emit(f'addw x{c}, x{b}, x{d}')
        self.emit(f'{r.choice(["xori", "ori", "andi"])} x{d}, x{b}, {r.randrange(-2048, 2048)}')
        self.emit(f'andi x{s}, x{c}, {r.randrange(1, 16)}')
        self.emit(f'beq x{s}, x0, {out}')
        self.emit(f'sw x{b}, {r.randrange(0, 64) * 8}(x9)')
        if r.random() < 0.5:
            self.emit('.option push')
            self.emit('.option norvc')
            self.emit(f'ld x{s}, {r.randrange(0, 2040) & ~7}(x0)')
            self.emit('.option pop')
        self.emit(f'addiw x{a}, x{b}, 0')
        self.emit(f'slli x{c}, x{s}, 2')
        self.emit(f'xor x{b}, x{c}, x{d}')
        self.emit(f'la x{t}, {out}')
        self.emit(f'jr x{t}')
        self.out.append(f'{out}:')
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.restore_counter(f'x{t}')

    def divide_op(self):
        """divuw/remuw by a divisor held in a register across a loop, in a block of its own: the
        JIT guesses the divisor the block was translated with and multiplies by its reciprocal
        while it holds. Dividends are multiples of the divisor (plus or minus one), all ones and
        xorshift values; every few iterations the divisor changes outside the block."""
        r = self.r
        q, x, dv, t = r.sample([x for x in HELPER_REGS if x != 1], 4)
        head, body = self.new_label(), self.new_label()
        d = r.choice([3, 5, 7, 10, 11, 13, 100, 641, 0x7fffffff, r.randrange(3, 1 << 31)])
        s = self.x()
        self.save_counter(s)
        self.emit(f'li x26, {r.randrange(3, 20)}')
        self.emit(f'li x{dv}, {d}')
        self.out.append(f'{head}:')
        change = self.new_label()
        self.emit(f'andi x{t}, x26, {r.choice([1, 3, 7])}')
        self.emit(f'bnez x{t}, {change}')
        self.emit(f'addi x{dv}, x{dv}, {r.choice([1, 2, -1, 64])}')
        self.out.append(f'{change}:')
        c = r.random()
        if c < 0.4:
            self.emit(f'mulw x{x}, x26, x{dv}')
            self.emit(f'addiw x{x}, x{x}, {r.choice([0, 1, -1])}')
        elif c < 0.5:
            self.emit(f'li x{x}, -1')
        else:
            self.emit(f'slliw x{t}, x26, {r.randrange(1, 31)}')
            self.emit(f'xor x{x}, x{x}, x{t}')
        self.emit(f'la x{t}, {body}')
        self.emit(f'jr x{t}')
        self.out.append(f'{body}:')
        self.emit(f'{r.choice(["divuw", "remuw"])} x{q}, x{x}, x{dv}')
        self.emit(f'{r.choice(["divuw", "remuw"])} x{t}, x{q}, x{dv}')
        self.emit(f'add x{x}, x{x}, x{q}')
        self.emit(f'xor x{x}, x{x}, x{t}')
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.restore_counter(s)

    def xmode_op(self):
        """Runs the S-mode code at XMODE_ENTRY, after remapping its neighbour page half the time."""
        a, b = self.r.sample([x for x in HELPER_REGS if x != 1], 2)
        if self.r.random() < 0.5:
            self.emit(f'la x{a}, pt_l0')
            self.emit(f'ld x{b}, 16(x{a})')
            self.emit(f'xori x{b}, x{b}, 1 << 10')   # PPN bit 0: code_q0 <-> code_q1
            self.emit(f'sd x{b}, 16(x{a})')
            self.emit('sfence.vma')
        back = self.new_label()
        self.emit(f'la x{a}, {back}')
        self.emit(f'la x{b}, xm_saved')
        self.emit(f'sd x{a}, 0(x{b})')
        self.emit(f'la x{a}, xm_handler')
        self.emit(f'csrw mtvec, x{a}')
        self.emit(f'li x{a}, {XMODE_ENTRY:#x}')
        self.emit(f'csrw mepc, x{a}')
        self.emit(f'li x{a}, 3 << 11')
        self.emit(f'csrc mstatus, x{a}')
        self.emit(f'li x{a}, 1 << 11')
        self.emit(f'csrs mstatus, x{a}')
        self.emit('mret')
        self.out.append(f'{back}:')
        self.emit(f'la x{a}, jit_trap')
        self.emit(f'csrw mtvec, x{a}')

    def pinned_op(self):
        """Helpers in the middle of a block that read and write the JIT's pinned registers (sp,
        a0-a5, JITEngine.pinned): they must see the values generated code holds in host
        registers and hand theirs back. sp (the scratch base) is moved first and restored after.
        Through sscratch: the trap handler keeps t0 in mscratch, so a timer interrupt between
        the swaps would hand back a different sp."""
        r = self.r
        pinned = [10, 11, 12, 13, 14, 15]
        a, b, c = r.sample(pinned, 3)
        k = r.randrange(1, 64) * 8
        self.emit(f'addi sp, sp, {k}')
        self.emit(f'csrrw x{a}, sscratch, sp')          # reads the moved sp, writes a pinned register
        self.emit(f'add x{b}, x{a}, x{b}')
        self.emit(f'csrrw sp, sscratch, x{b}')          # writes sp from a helper
        self.emit(f'xor x{c}, sp, x{c}')
        self.emit(f'csrrw sp, sscratch, sp')
        self.emit(f'fcvt.l.d x{c}, f{r.randrange(32)}, rtz')   # an FP helper writing a pinned register
        self.emit(f'csrr x{a}, sscratch')
        self.emit(f'addi sp, x{a}, {-k}')

    def body(self, n):
        """n of the base generator's random instructions, now and then a trap mid-block."""
        for _ in range(n):
            if self.r.random() < 0.05:
                self.trap_op()
            else:
                base.Gen.straight(self)

    def jumps_op(self):
        """Unconditional jumps (`j`) inside a page, which the JIT follows (a block goes on at the
        target): an if/else whose then-part jumps over the else-part to the join, and a loop
        (x26, the enclosing loop's counter, saved around it) whose body hops back and forth
        through jumps before its back edge."""
        r = self.r
        a, b = self.x(), self.xs()
        other, join = self.new_label(), self.new_label()
        self.emit(f'{r.choice(["beq", "bne", "blt", "bgeu"])} {a}, {b}, {other}')
        self.body(r.randrange(1, 4))
        self.emit(f'j {join}')
        self.out.append(f'{other}:')
        self.body(r.randrange(1, 3))
        self.out.append(f'{join}:')
        self.body(r.randrange(0, 3))
        if r.random() < 0.5:
            return
        t = self.x()
        head, there, back, skip, end = (self.new_label() for _ in range(5))
        self.save_counter(t)
        self.emit(f'li x26, {r.randrange(1, 5)}')
        self.out.append(f'{head}:')
        self.body(r.randrange(1, 4))
        self.emit(f'j {there}')
        self.out.append(f'{back}:')
        self.body(r.randrange(0, 3))
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.emit(f'j {end}')
        self.out.append(f'{there}:')
        self.body(r.randrange(0, 3))
        self.emit(f'bne {self.x()}, {self.xs()}, {skip}')
        self.body(r.randrange(1, 3))
        self.out.append(f'{skip}:')
        self.emit(f'j {back}')
        self.out.append(f'{end}:')
        self.restore_counter(t)

    def int_loop_op(self):
        """A loop of integer instructions, loads and stores only (x26 the counter, saved around
        it), which the JIT runs as a self-loop with the unpinned registers it uses in the host
        registers of pinned ones it does not: faulting loads and stores in it leave the block
        from a helper, a forward branch merges inside it."""
        r = self.r
        t = self.x()
        head = self.new_label()
        self.save_counter(t)
        self.emit(f'li x26, {r.randrange(2, 40)}')
        self.out.append(f'{head}:')
        for _ in range(r.randrange(3, 10)):
            c = r.random()
            if c < 0.55:
                self.int_op()
            elif c < 0.85:
                op, w = r.choice(base.LOADS + base.STORES)
                b, o = self.mem_addr(w)
                self.emit(f'{op} {self.x() if op[0] == "l" else self.xs()}, {o}({b})')
            elif c < 0.9:
                self.emit('.option push')
                self.emit('.option norvc')
                op = r.choice(['ld', 'lw', 'sd', 'sb'])
                self.emit(f'{op} {self.x() if op[0] == "l" else self.xs()}, {r.randrange(0, 2040) & ~7}(x0)')
                self.emit('.option pop')
            else:
                skip = self.new_label()
                self.emit(f'{r.choice(["beq", "bne", "bltu"])} {self.xs()}, {self.xs()}, {skip}')
                self.int_op()
                self.out.append(f'{skip}:')
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.restore_counter(t)

    def save_counter(self, t):
        """Saves x26, which the enclosing program's loops count in, through register `t` (so
        that an op may loop on x26 itself); `restore_counter` puts it back. One slot per
        nesting level: a loop op may run inside another's body (`jumps_op`)."""
        depth = getattr(self, 'counter_depth', 0)
        assert depth < COUNTER_SLOTS, 'loop ops nested too deep'
        self.counter_depth = depth + 1
        self.emit(f'la {t}, jump_saved + {8 * depth}')
        self.emit(f'sd x26, 0({t})')

    def restore_counter(self, t):
        self.counter_depth -= 1
        self.emit(f'la {t}, jump_saved + {8 * self.counter_depth}')
        self.emit(f'ld x26, 0({t})')

    def access_through(self, p, free, reach, aligned):
        """One random load or store through x{p} at an offset within ±reach, aligned to its
        size with probability `aligned`; a load's destination is one of `free`."""
        r = self.r
        op, w = r.choice(base.LOADS + base.STORES)
        o = r.randrange(-reach, reach + 1)
        if r.random() < aligned:
            o &= ~(w - 1)
        reg = f'x{r.choice(free)}' if op[0] == 'l' else self.xs()
        self.emit(f'{op} {reg}, {o}(x{p})')

    def walk_loop_op(self):
        """A self-loop walking a base register across a page boundary with loads and stores
        around it: the JIT gives each of its first 8 memory sites a copy of a TLB entry that
        must follow the page changes, misaligned accesses (which may straddle the boundary)
        and the faults of stores to the read-only page after the Sv39 window (MPRV, MPP = S).
        Loads read back what earlier stores wrote; x26 (saved) counts."""
        r = self.r
        t, p, m = self.temps(3)
        free = [n for n in base.XREGS if n not in (t, p, m)]
        self.save_counter(f"x{t}")
        window = r.random() < 0.35
        stride = r.choice([1, 2, 3, 4, 8, 8, 12, 16, 48, 160, -8, -4])
        count = r.randrange(8, 48)
        count = max(2, min(count, 3000 // abs(stride)))     # stays within 3 KiB of the boundary
        travel = abs(stride) * count
        # Starts before the boundary (after it when walking down) by up to the whole walk.
        before = r.randrange(0, travel) if stride > 0 else -r.randrange(0, travel)
        if window:
            # 0x40000000 (window_a or _b, RW) then 0x40001000 (code: R X, stores fault)
            self.emit(f'li x{p}, {WINDOW + 4096 - before:#x}')
            self.emit(f'li x{m}, (1 << 17) | (1 << 11)')
            self.emit(f'csrs mstatus, x{m}')
        else:
            self.emit(f'la x{p}, walk_area + {4096 * r.randrange(1, 3) - before}')
        self.emit(f'li x26, {count}')
        head = self.new_label()
        self.out.append(f'{head}:')
        self.emit('.option push')
        self.emit('.option norvc')       # the trap handler resumes 4 bytes on
        for _ in range(r.randrange(2, 13)):
            c = r.random()
            if c < 0.7:
                self.access_through(p, free, 16, 0.7)
            else:
                rd = r.choice(free)
                self.emit(f'{r.choice(["add", "xor", "sub"])} x{rd}, x{rd}, {self.xs()}')
        self.emit('.option pop')
        self.emit(f'addi x{p}, x{p}, {stride}')
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        if window:
            self.emit(f'csrc mstatus, x{m}')
        self.restore_counter(f"x{t}")

    def page_run_op(self):
        """A self-loop whose loads and stores are all aligned and step through memory by
        constants (two bases, each stepped by an `addi`, or an `add` of a register holding the
        step, somewhere in the body; a register step is sometimes misaligned), across the page
        boundaries of walk_area or, through the Sv39 window (MPRV, MPP = S), into the read-only
        page after it (stores there fault): the JIT runs it in page runs, with no probe per
        access and the budget held back where an access could leave its page. A side exit
        leaves the loop once, a few iterations before its end, with budget held. x26 (saved)
        counts."""
        r = self.r
        t, p, q, m, sp_, sq_ = self.temps(6)
        free = [n for n in base.XREGS if n not in (t, p, q, m, sp_, sq_)]
        self.save_counter(f"x{t}")
        width = r.choice([1, 2, 4, 8, 8])
        ops = [(op, w) for op, w in base.LOADS + base.STORES if w <= width]
        strides = {b: width * r.choice([1, 1, 2, 3, 6, 24, -1, -2, 0]) for b in (p, q)}
        # Some bases step by a register (`add b, b, s`: the JIT checks the step at run time),
        # now and then by one that leaves the accesses misaligned.
        window = r.random() < 0.3
        step_regs = {b: s for b, s in ((p, sp_), (q, sq_)) if r.random() < 0.4}
        for b in step_regs:
            # Through the window a misaligned access can straddle into the read-only page,
            # which is not the physical page after the window's.
            if width > 1 and r.random() < (0.6 if window else 0.2):
                strides[b] += width // 2
            self.emit(f'li x{step_regs[b]}, {strides[b]}')
        longest = max(abs(s) for s in strides.values()) or width
        count = max(2, min(r.randrange(16, 600), 3000 // longest))
        bases = [p] if window else [p, q]
        for b in bases:
            travel = abs(strides[b]) * count
            before = (r.randrange(0, travel + 1) // width) * width * (1 if strides[b] >= 0 else -1)
            if window:
                self.emit(f'li x{b}, {WINDOW + 4096 - before:#x}')
            else:
                self.emit(f'la x{b}, walk_area + {4096 * r.randrange(1, 3) - before}')
        if window:
            self.emit(f'li x{m}, (1 << 17) | (1 << 11)')
            self.emit(f'csrs mstatus, x{m}')
        self.emit(f'li x26, {count}')
        leave = r.random() < 0.5
        out = self.new_label()
        exit_at = r.randrange(1, count)
        if leave:
            self.emit(f'li x{t if window else m}, {exit_at}')
        head = self.new_label()
        self.out.append(f'{head}:')
        self.emit('.option push')
        self.emit('.option norvc')       # the trap handler resumes 4 bytes on
        body = []
        for _ in range(r.randrange(1, 9)):
            op, w = r.choice(ops)
            b = r.choice(bases)
            o = width * r.randrange(-24 // width - 1, 24 // width + 1)
            reg = f'x{r.choice(free)}' if op[0] == 'l' else self.xs()
            body.append(f'{op} {reg}, {o}(x{b})')
        for _ in range(r.randrange(0, 4)):
            rd = r.choice(free)
            body.append(f'{r.choice(["add", "xor", "sub", "addw"])} x{rd}, x{rd}, {self.xs()}')
        for b in bases:
            if b in step_regs:
                pair = [f'x{b}', f'x{step_regs[b]}']
                r.shuffle(pair)
                step = f'add x{b}, {pair[0]}, {pair[1]}'
            else:
                step = f'addi x{b}, x{b}, {strides[b]}'
            body.insert(r.randrange(0, len(body) + 1), step)
        if leave:
            if window:
                body.insert(r.randrange(0, len(body) + 1), f'beq x26, x{t}, {out}')
            else:
                body.insert(r.randrange(0, len(body) + 1), f'beq x26, x{m}, {out}')
        for line in body:
            self.emit(line)
        self.emit('.option pop')
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.out.append(f'{out}:')
        if window:
            self.emit(f'csrc mstatus, x{m}')
        self.restore_counter(f"x{t}")

    def group_op(self):
        """Straight-line loads and stores through one base (a pinned register mostly) near a
        page boundary, with ALU work, forward branches and changes of the base between them:
        the JIT probes the TLB once per group (base and kind) for the group's whole range and
        the other members reuse the addend; a range across the boundary, or stores into the
        read-only page after the Sv39 window (MPRV, MPP = S: they fault mid-group), take the
        members' own probes."""
        r = self.r
        pinned = [n for n in (8, 9, 10, 11, 12, 13, 14, 15) if n in base.XREGS]
        p = r.choice(pinned) if r.random() < 0.85 else self.x()
        p = int(p[1:]) if isinstance(p, str) else p
        m = [n for n in self.temps(2) if n != p][0]
        free = [n for n in base.XREGS if n not in (p, m)]
        window = r.random() < 0.35
        before = r.randrange(-24, 25)
        if window:
            self.emit(f'li x{p}, {WINDOW + 4096 - 32 + before:#x}')
            self.emit(f'li x{m}, (1 << 17) | (1 << 11)')
            self.emit(f'csrs mstatus, x{m}')
        else:
            self.emit(f'la x{p}, walk_area + {4096 * r.randrange(1, 3) + before}')
        self.emit('.option push')
        self.emit('.option norvc')       # the trap handler resumes 4 bytes on
        for _ in range(r.randrange(3, 14)):
            c = r.random()
            if c < 0.7:
                self.access_through(p, free, 24, 0.8)
            elif c < 0.8:
                rd = r.choice(free)
                self.emit(f'{r.choice(["add", "xor", "sub"])} x{rd}, x{rd}, {self.xs()}')
            elif c < 0.9:
                skip = self.new_label()
                self.emit(f'{r.choice(["beq", "bne", "bltu"])} {self.xs()}, {self.xs()}, {skip}')
                self.emit(f'addi x{r.choice(free)}, x{r.choice(free)}, {r.randrange(-64, 64)}')
                self.out.append(f'{skip}:')
            else:
                self.emit(f'addi x{p}, x{p}, {r.choice([-16, -8, 8, 16, 24, 32, 48])}')
        self.emit('.option pop')
        if window:
            self.emit(f'csrc mstatus, x{m}')

    def slot_kind_op(self):
        """Two self-loops through one base in the read-only page after the Sv39 window (MPRV,
        MPP = S): the first loads (its probe slot copies a load-TLB entry), the second stores
        (every store faults; the handler resumes 4 bytes on). Probe slots outlive their loops,
        so a store must never be given a copy of a load-TLB entry."""
        r = self.r
        t, p, m, v = self.temps(4)
        self.save_counter(f"x{t}")
        self.emit(f'li x{p}, {WINDOW + 4096 + 8 * r.randrange(0, 64):#x}')
        self.emit(f'li x{m}, (1 << 17) | (1 << 11)')
        self.emit(f'csrs mstatus, x{m}')
        self.emit('.option push')
        self.emit('.option norvc')       # the trap handler resumes 4 bytes on
        for kind in ('ld', 'sd'):
            head = self.new_label()
            self.emit(f'li x26, {r.randrange(8, 40)}')
            # Always taken, so the loop's block starts at its head (a self-loop with slots).
            self.emit(f'beq x0, x0, {head}')
            self.out.append(f'{head}:')
            # The store writes the counter: a store that wrongly went through would show.
            self.emit(f'{kind} x{v if kind == "ld" else 26}, 0(x{p})')
            self.emit('addi x26, x26, -1')
            self.emit(f'bnez x26, {head}')
        self.emit(f'ld x{v}, 0(x{p})')   # what the stores left (nothing, as they faulted)
        self.emit('.option pop')
        self.emit(f'csrc mstatus, x{m}')
        self.restore_counter(f"x{t}")

    def rotated_loop_op(self):
        """A loop whose early exit is a backward branch to code before it (the JIT's block then
        goes on past that branch and closes on the loop's head, looping in place with lent
        registers and probe slots, whose exit must restore them): a data-dependent exit, ALU work
        on pinned and unpinned registers, loads and stores through a stepped pointer into
        walk_area. x26 (saved) counts."""
        r = self.r
        t, p, k = self.temps(3)
        free = [n for n in base.XREGS if n not in (t, p, k, 26)]
        out, head, done = self.new_label(), self.new_label(), self.new_label()
        n = r.randrange(4, 40)
        self.save_counter(f"x{t}")
        self.emit(f'la x{p}, walk_area + {8 * r.randrange(0, 64)}')
        self.emit(f'li x{k}, {r.randrange(0, n + 4)}')
        self.emit(f'li x26, {n}')
        self.emit(f'j {head}')
        self.out.append(f'{out}:')
        v = r.choice(free)
        self.emit(f'addi x{v}, x{v}, 1')
        self.emit(f'j {done}')
        self.out.append(f'{head}:')
        for _ in range(r.randrange(1, 5)):
            c = r.random()
            if c < 0.4:
                op, w = r.choice(base.LOADS)
                self.emit(f'{op} x{r.choice(free)}, {r.randrange(0, 4) * w}(x{p})')
            elif c < 0.6:
                op, w = r.choice(base.STORES)
                self.emit(f'{op} {self.xs()}, {r.randrange(0, 4) * w}(x{p})')
            else:
                rd = r.choice(free)
                self.emit(f'{r.choice(["add", "xor", "sub", "addw"])} x{rd}, x{rd}, {self.xs()}')
        self.emit(f'bltu x26, x{k}, {out}')
        for _ in range(r.randrange(0, 4)):
            rd = r.choice(free)
            self.emit(f'{r.choice(["add", "xor", "sltu", "mulw"])} x{rd}, x{rd}, {self.xs()}')
        self.emit(f'addi x{p}, x{p}, 8')
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.out.append(f'{done}:')
        self.restore_counter(f"x{t}")

    def reservation_op(self):
        """LR, a store, SC: the store's page was just written (so it is in the store TLB, where
        the JIT's inline stores look), and the store overlaps the reservation's 8 bytes or not,
        in its page or another; an LR.W in a page's last word with a store into the next page
        (the reservation spans both). The SC's result lands in a dumped register."""
        r = self.r
        t, u, rd, sc = (f'x{n}' for n in self.temps(4))
        w = r.choice([4, 8])
        sfx = '.w' if w == 4 else '.d'
        if r.random() < 0.3:
            self.emit(f'la {t}, window_a + 4092')
            sfx = '.w'
            store_at = 4 + r.choice([0, 1, 3, 4, 8, 64])   # from t: next page, overlapping up to +3
        else:
            self.emit(f'addi {t}, x2, {r.randrange(16, 2032 // 8) * 8}')
            store_at = r.choice([0, 0, 1, 4, 7, 8, -8, -1, 64, 1024])
        op, sw = r.choice([('sd', 8), ('sw', 4), ('sh', 2), ('sb', 1)])
        store_at &= ~(sw - 1)
        if r.random() < 0.15:
            self.emit(f'la {u}, window_b + {r.randrange(0, 512) * 8}')   # another page
            store_at = 0
        else:
            self.emit(f'addi {u}, {t}, {store_at}')
        self.emit(f'{op} {self.xs()}, 0({u})')           # fills the store TLB for its page
        self.emit(f'lr{sfx} {rd}, ({t})')
        for _ in range(r.randrange(0, 3)):
            self.emit(f'addi {rd}, {rd}, {self.imm12()}')
        self.emit(f'{op} {self.xs()}, 0({u})')
        self.emit(f'sc{sfx} {sc}, {self.xs()}, ({t})')

    def if_convert_op(self):
        """An if over one to three ALU instructions that all write one register (a pinned one
        mostly: a0-a5, s0), which the JIT computes aside and moves in with cmov: in a loop (x26
        saved), with a data-dependent branch that may read the register itself, region
        instructions that read it, lui, shifts and x0 sources."""
        r = self.r
        t = self.x()
        pinned = [n for n in (8, 10, 11, 12, 13, 14, 15) if n in base.XREGS]
        rd = f'x{r.choice(pinned)}' if r.random() < 0.85 else self.x()
        head = self.new_label()
        self.save_counter(t)
        self.emit(f'li x26, {r.randrange(2, 12)}')
        self.out.append(f'{head}:')
        self.int_op()
        skip = self.new_label()
        left = rd if r.random() < 0.4 else self.xs()
        self.emit(f'{r.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"])} {left}, {self.xs()}, {skip}')
        for _ in range(r.randrange(1, 4)):
            c = r.random()
            src = rd if r.random() < 0.5 else self.xs()
            if c < 0.35:
                self.emit(f'{r.choice(["add", "sub", "xor", "or", "and"])} {rd}, {src}, {self.xs()}')
            elif c < 0.65:
                self.emit(f'{r.choice(["addi", "xori", "ori", "andi"])} {rd}, {src}, {self.imm12()}')
            elif c < 0.85:
                self.emit(f'{r.choice(["slli", "srli", "srai"])} {rd}, {src}, {r.randrange(64)}')
            elif c < 0.95:
                self.emit(f'lui {rd}, {r.randrange(1 << 20)}')
            else:
                self.emit(f'mv {rd}, {self.xs()}')
        self.out.append(f'{skip}:')
        self.int_op()
        self.emit('addi x26, x26, -1')
        self.emit(f'bnez x26, {head}')
        self.restore_counter(t)
        # The cmov also charges the skipped instructions only when they ran: minstret (exact
        # under both engines) lands in a dumped register.
        self.emit(f'csrr {self.x()}, minstret')

    def word_chain_op(self):
        """W-form results read by W-forms and small-mask andi before being overwritten (the JIT
        then skips their sign extension), mixed with 64-bit readers, branches and stores that
        need it, on the pinned registers mostly; straight or in a self-loop (x26 saved). In a
        loop with no branch before its back edge the JIT keeps results read only through their
        low word around the back edge unextended: the registers start with any 64-bit value
        (the loop's entry check), and word stores of them, loads into them and loads and stores
        that fault (leaving the loop from a helper) are mixed in."""
        r = self.r
        pinned = [n for n in (8, 9, 10, 11, 12, 13, 14, 15) if n in base.XREGS]
        regs = r.sample(pinned, 3) + ([r.choice([n for n in base.XREGS if n != 26])] if r.random() < 0.3 else [])
        x = lambda: f'x{r.choice(regs)}'
        loop = r.random() < 0.5
        if loop:
            t = self.x()
            head = self.new_label()
            self.save_counter(t)
            self.emit(f'li x26, {r.randrange(2, 9) if r.random() < 0.5 else r.randrange(9, 400)}')
            if r.random() < 0.5:
                # Returns to the head: the loop's block is entered before any iteration ran
                # (otherwise the block before it runs the first one), with whatever the chain
                # registers hold.
                self.emit('jal ra, jit_ret')
            self.out.append(f'{head}:')
        for _ in range(r.randrange(3, 11)):
            c = r.random()
            if loop and r.random() < 0.2:
                c = 0.87    # a load or store
            if c < 0.45:
                op = r.choice(['mulw', 'addw', 'subw', 'sllw', 'srlw', 'sraw'])
                self.emit(f'{op} {x()}, {x()}, {x()}')
            elif c < 0.65:
                op = r.choice(['slliw', 'srliw', 'sraiw'])
                self.emit(f'{op} {x()}, {x()}, {r.randrange(32)}')
            elif c < 0.72:
                self.emit(f'addiw {x()}, {x()}, {r.choice([0, r.randrange(-2048, 2048)])}')
            elif c < 0.85:
                self.emit(f'andi {x()}, {x()}, {r.choice([15, 127, 2047, -1, -16, r.randrange(-2048, 2048)])}')
            elif loop and 0.86 < c < 0.88:
                w = r.choice([1, 2, 4, 4, 8])
                store = r.random() < 0.5
                op = ({1: 'sb', 2: 'sh', 4: 'sw', 8: 'sd'} if store else {1: 'lbu', 2: 'lh', 4: 'lw', 8: 'ld'})[w]
                if r.random() < 0.3:
                    # Unmapped: faults, and the handler resumes after it.
                    self.emit('.option push')
                    self.emit('.option norvc')
                    self.emit(f'{op} {x()}, {r.randrange(0, 2040) & ~7}(x0)')
                    self.emit('.option pop')
                else:
                    b, o = self.mem_addr(w)
                    self.emit(f'{op} {x()}, {o}({b})')
            elif c < 0.95:
                op = r.choice(['add', 'xor', 'srli', 'srai', 'mul', 'sltu', 'sub'])
                if op in ('srli', 'srai'):
                    self.emit(f'{op} {x()}, {x()}, {r.randrange(64)}')
                else:
                    self.emit(f'{op} {x()}, {x()}, {x()}')
            else:
                skip = self.new_label()
                self.emit(f'{r.choice(["beq", "bne", "blt", "bgeu"])} {x()}, {x()}, {skip}')
                self.emit(f'addw {x()}, {x()}, {x()}')
                self.out.append(f'{skip}:')
        if loop:
            self.emit('addi x26, x26, -1')
            self.emit(f'bnez x26, {head}')
            self.restore_counter(t)

    def straight(self):
        c = self.r.random()
        if c < 0.01:
            self.pinned_op()
        elif c < 0.03:
            self.trap_op()
        elif c < 0.045:
            self.smc_op()
        elif c < 0.055:
            self.remap_op()
        elif c < 0.08:
            self.window_op()
        elif c < 0.095:
            self.far_call_op()
        elif c < 0.1:
            self.far_smc_op()
        elif c < 0.11:
            self.recurse_op()
        elif c < 0.125:
            self.switch_op()
        elif c < 0.13:
            self.xmode_op()
        elif c < 0.145:
            self.jumps_op()
        elif c < 0.16:
            self.int_loop_op()
        elif c < 0.17:
            self.reservation_op()
        elif c < 0.185:
            self.if_convert_op()
        elif c < 0.2:
            self.walk_loop_op()
        elif c < 0.22:
            self.word_chain_op()
        elif c < 0.245:
            self.group_op()
        elif c < 0.265:
            self.slot_kind_op()
        elif c < 0.285:
            self.rotated_loop_op()
        elif c < 0.3:
            self.jump_table_op()
        elif c < 0.315:
            self.xorshift_op()
        elif c < 0.33:
            self.divide_op()
        elif c < 0.35:
            self.page_run_op()
        else:
            super().straight()

    def far_functions(self):
        """Text laid across page ends: far0..3 (straight code, a loop, a 32-bit instruction split
        across the boundary), far_smc (a rewritten slot in its second page), the S-mode code
        pages and the helper routines (recursion, switch cases)."""
        r = self.r
        out = ['', '    .section .text.far, "ax", @progbits', '    .option push', '    .option norvc', '    .option norelax']
        for k in range(FAR_FUNCTIONS):
            # An offset of 2 mod 4 with 4-byte instructions splits one across the page end.
            before = r.choice([2, 6, 10, 14, 4, 8, 20, 34])
            out += ['    .balign 4096', f'    .skip 4096 - {before}', f'far{k}:']
            body = self.alu_body(r.randrange(4, 14))
            if k % 2 == 1:
                iters = r.randrange(2, 6)
                out += [f'    li x27, {iters}', f'far{k}_loop:'] + ['    ' + x for x in body]
                out += ['    addi x27, x27, -1', f'    bnez x27, far{k}_loop', '    ret']
            else:
                out += ['    ' + x for x in body] + ['    ret']
        out += ['    .balign 4096', '    .skip 4096 - 8', 'far_smc:']
        out += ['    ' + x for x in self.alu_body(2)]
        out += ['far_smc_slot:', '    addi x0, x0, 0'] + ['    ' + x for x in self.alu_body(3)] + ['    ret']
        # S-mode pages: V1 = xm_v1 (odd page), V2 = xm_q0 or xm_q1 (even, odd: PPN bit 0 flips).
        regs = [28, 29, 30]
        out += ['    .balign 8192', '    .skip 4096', 'xm_v1:', '    .skip 2048',
                f'    li x27, {r.randrange(3, 30)}', 'xm_v1_loop:']
        out += ['    ' + x for x in self.alu_body(3, regs)]
        # The same call direct and indirect: an indirect jump's inline cache must follow the
        # remap of its target page too (the fetch generation guards it, as it guards chains).
        out += ['    jal ra, xm_v1 + 4096 + 64', '    la x31, xm_v1 + 4096 + 64', '    jalr ra, 0(x31)',
                '    addi x27, x27, -1', '    bnez x27, xm_v1_loop',
                '    j xm_tail', '    .org xm_v1 + 4096 - 12', 'xm_tail:']
        out += ['    ' + x for x in self.alu_body(3, regs)]
        for q in (0, 1):
            out += ['    .balign 4096', f'xm_q{q}:']
            out += ['    ' + x for x in self.alu_body(r.randrange(1, 6), regs)] + ['    ecall']
            out += [f'    .org xm_q{q} + 64'] + ['    ' + x for x in self.alu_body(r.randrange(1, 8), regs)]
            out += ['    ret']
        out += ['    .option pop', '    .text', '    .align 2', 'deep:',
                '    addi x31, x31, -16', '    sd ra, 0(x31)', '    sd x27, 8(x31)']
        out += ['    ' + x for x in self.alu_body(r.randrange(1, 5), [28, 29, 30])]
        out += ['    addi x27, x27, -1', '    beqz x27, 1f', '    call deep', '1:  ld ra, 0(x31)',
                '    ld x27, 8(x31)', '    add x28, x28, x27', '    addi x31, x31, 16', '    ret']
        for c in range(CASES):
            out += ['    .align 2', f'case{c}:'] + ['    ' + x for x in self.alu_body(r.randrange(1, 6))] + ['    ret']
        out += ['    .align 2', 'xm_handler:                  # ecall from the S-mode code: back to M-mode',
                '    csrw mscratch, t0', '    csrr t0, mcause',
                '    bltz t0, xm_interrupt        # the timer: jit_trap handles it and resumes',
                '    li t0, 3 << 11', '    csrs mstatus, t0',
                '    la t0, xm_saved', '    ld t0, 0(t0)', '    csrw mepc, t0', '    csrr t0, mscratch', '    mret',
                'xm_interrupt:', '    csrr t0, mscratch', '    j jit_trap']
        out += ['    .data', '    .align 3', 'case_table:'] + [f'    .dword case{c}' for c in range(CASES)]
        for k in (0, 1):
            # Offsets from the table's own start, as compilers lay out a switch's table.
            out += [f'jt_table{k}:'] + [f'    .word case{r.randrange(CASES)} - jt_table{k}' for _ in range(JT_ENTRIES)]
        out += ['xm_saved: .dword 0', 'deep_stack: .skip 1024', 'deep_stack_top:', '    .text', '']
        return '\n'.join(out)

    def program(self):
        text = super().program()
        setup = '''
    la t0, jit_trap
    csrw mtvec, t0
    li t0, 0x200bff8            # the machine timer every PERIOD ticks of virtual time: taken at
    ld t1, 0(t0)                # round boundaries, where the JIT has just left on the slice's
    li t0, PERIOD               # budget (in a loop, say), and the handler hashes the registers
    add t1, t1, t0
    li t0, 0x2004000
    sd t1, 0(t0)
    la t0, timer_period
    li t1, PERIOD
    sd t1, 0(t0)
    li t0, 1 << 7
    csrs mie, t0
    li t0, 0x88                 # MIE, MPIE
    csrs mstatus, t0
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
    la t1, xm_v1                # 0x40001000 -> xm_v1, 0x40002000 -> xm_q0: V R X A D
    srli t1, t1, 2
    ori t1, t1, 0xcb
    sd t1, 8(t0)
    la t1, xm_q0
    srli t1, t1, 2
    ori t1, t1, 0xcb
    sd t1, 16(t0)
    la t0, pt_root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
'''
        setup = setup.replace('PERIOD', str(self.r.randrange(500, 3000)))
        marker = '    la s1, scratch + 2048\n'
        text = text.replace(marker, marker + setup, 1)
        return text + self.far_functions() + (r'''
    .text
    .align 2
jit_trap:                       # resume after the faulting (4-byte) instruction; every
                                # register is folded into the hash: a trap sees them exact
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
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x1
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x2
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x3
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x4
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x8
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x9
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x10
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x11
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x12
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x13
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x14
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x15
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x16
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x17
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x18
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x19
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x20
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x21
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x22
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x23
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x24
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x25
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x26
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x27
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x28
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x29
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x30
    slli t2, t1, 1
    srli t1, t1, 63
    or t1, t1, t2
    xor t1, t1, x31
    slli t2, t1, 1              # and t0-t2 as they were (mscratch, trap_save)
    srli t1, t1, 63
    or t1, t1, t2
    csrr t2, mscratch
    xor t1, t1, t2
    ld t2, 0(t0)
    xor t1, t1, t2
    ld t2, 8(t0)
    add t1, t1, t2
    sd t1, 16(t0)
    la t1, scratch + 2048
    ld t2, 2040(t1)             # fold into the dumped scratch checksum
    addi t2, t2, 1
    sd t2, 2040(t1)
    ld t2, 16(t0)
    sd t2, 2032(t1)
    csrr t1, mcause
    bgez t1, 1f
    li t1, 0x2004000            # the timer: next period, back to the interrupted instruction
    ld t2, 0(t1)
    la t0, timer_period
    ld t0, 0(t0)
    add t2, t2, t0
    sd t2, 0(t1)
    j 2f
1:  csrr t1, mepc
    addi t1, t1, 4
    csrw mepc, t1
2:  la t0, trap_save
    ld t1, 0(t0)
    ld t2, 8(t0)
    csrr t0, mscratch
    mret

    .align 2
jit_ret:
    ret

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
timer_period: .dword 0
jump_saved: .skip 8 * COUNTER_SLOTS
    .align 12
walk_area: .fill 1536, 8, 0x0123456789abcdef
    .align 12
pt_root: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
    .align 13                   # even PPN: flipping PPN bit 0 swaps window_a and window_b
window_a: .fill 512, 8, 0x1111111111111111
window_b: .fill 512, 8, 0x2222222222222222
'''.replace('COUNTER_SLOTS', str(COUNTER_SLOTS)))


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
