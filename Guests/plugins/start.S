/* Entry for the plugin guest programs: M-mode, hart 0 only, a stack, bss cleared, main(). */
    .section .text.init
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la sp, stack_top
    /* FS = Initial: the C trap handler saves FP registers (an fsd with FS off is illegal). */
    li t0, 0x2000
    csrs mstatus, t0
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

    .bss
    .align 4
    .space 16384
stack_top:
