/* Page-table helpers for the Sv39/Sv48 tests (privileged spec 4.3-4.5). Tables are built at run
   time in M-mode because PTEs hold physical page numbers the assembler cannot compute. */
#ifndef BACKPLANE_VM_H
#define BACKPLANE_VM_H

#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_G 0x20
#define PTE_A 0x40
#define PTE_D 0x80

#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)

/* table[idx] = PTE pointing at the page at symbol `target`, with `flags`. Clobbers t0-t2. */
#define SET_PTE(table, idx, target, flags)                                 \
    la t0, target;                                                         \
    srli t0, t0, 12;                                                       \
    slli t0, t0, 10;                                                       \
    ori t0, t0, flags;                                                     \
    la t1, table;                                                          \
    li t2, (idx) * 8;                                                      \
    add t1, t1, t2;                                                        \
    sd t0, 0(t1)

/* table[idx] = PTE for physical address `pa` (a constant), with `flags`. */
#define SET_PTE_PA(table, idx, pa, flags)                                  \
    li t0, (((pa) >> 12) << 10) | (flags);                                 \
    la t1, table;                                                          \
    li t2, (idx) * 8;                                                      \
    add t1, t1, t2;                                                        \
    sd t0, 0(t1)

/* rd = table[idx] */
#define GET_PTE(rd, table, idx)                                            \
    la t1, table;                                                          \
    li t2, (idx) * 8;                                                      \
    add t1, t1, t2;                                                        \
    ld rd, 0(t1)

/* satp = mode | root PPN; flush. */
#define ENABLE_VM(mode, root)                                              \
    la t0, root;                                                           \
    srli t0, t0, 12;                                                       \
    li t1, mode;                                                           \
    or t0, t0, t1;                                                         \
    csrw satp, t0;                                                         \
    sfence.vma

/* Run `code` in S-mode (it must end with ecall); continue here in M afterwards. */
#define IN_S(n)                                                            \
    EXPECT_TRAP(99f);                                                      \
    GOTO_MODE(PRV_S, 98f);                                                 \
98:

#define BACK_TO_M                                                          \
    ecall;                                                                 \
99: CHECK_CAUSE(CAUSE_ECALL_S)

#endif
