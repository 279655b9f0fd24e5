# Harness for the random-instruction blocks of gen.py (M-mode, --bios none, board virt).
# enter_block(a0 = table, a1 = record) loads every register from the table and returns into the
# block through mret (no register is left for a jump); the block is followed by LEAVE code that
# gen.py emits through the macro below, which stores every register into the record whose address
# waits in sscratch. The trap handler counts traps, hashes mcause and mtval into the record and
# skips the instruction (2 or 4 bytes).
    .section .text.init
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la sp, stack_top
    li t0, 0x6000                 # FS = Dirty
    csrs mstatus, t0
    la t0, trap
    csrw mtvec, t0
    la t0, trap_save
    csrw mscratch, t0
    la t0, __bss_start
    la t1, _end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call main
park:
    wfi
    j park

    .section .text
    .globl enter_block
enter_block:
    la t0, saved_sp
    sd sp, 0(t0)
    csrw sscratch, a1
    csrw mepc, ra
    li t0, 0x1800                 # MPP = M: mret stays in M-mode
    csrs mstatus, t0
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fld f\n, (31 + \n) * 8(a0)
    .endr
    ld t0, 63 * 8(a0)
    fscsr t0
    mv x31, a0
    .irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    ld x\n, (\n - 1) * 8(x31)
    .endr
    ld x31, 30 * 8(x31)
    mret

    .globl leave_block_tail
# Reached with x31 = the record (swapped out of sscratch) and x1..x30 already stored.
leave_block_tail:
    csrr x1, sscratch             # the block's x31
    sd x1, 30 * 8(x31)
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fsd f\n, (31 + \n) * 8(x31)
    .endr
    frcsr x1
    sd x1, 63 * 8(x31)
    la x1, saved_sp
    ld sp, 0(x1)
    jr x30                        # x30 holds the resume address (set by the LEAVE sequence)

    .align 2
trap:
    csrrw t6, mscratch, t6
    sd t0, 0(t6)
    sd t1, 8(t6)
    sd t2, 16(t6)
    csrr t2, sscratch
    ld t0, 64 * 8(t2)
    addi t0, t0, 1
    sd t0, 64 * 8(t2)
    csrr t0, mcause
    ld t1, 65 * 8(t2)
    slli t1, t1, 5
    add t1, t1, t0
    sd t1, 65 * 8(t2)
    csrr t0, mtval
    ld t1, 66 * 8(t2)
    slli t1, t1, 7
    xor t1, t1, t0
    sd t1, 66 * 8(t2)
    csrr t0, mepc
    lhu t1, 0(t0)
    andi t1, t1, 3
    li t2, 3
    addi t0, t0, 2
    bne t1, t2, 1f
    addi t0, t0, 2
1:  csrw mepc, t0
    ld t0, 0(t6)
    ld t1, 8(t6)
    ld t2, 16(t6)
    csrrw t6, mscratch, t6
    mret

    .section .data
    .align 3
saved_sp: .dword 0
trap_save: .dword 0, 0, 0, 0
    .globl scratch_middle
    .align 12
scratch: .space 16384
scratch_middle: .space 16384

    .bss
    .align 4
    .space 16384
stack_top:
