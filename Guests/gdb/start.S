# Each hart gets 4 KiB of stack below stack_top - hartid * 4 KiB; a1 = the number of harts,
# passed by the test at build time (-DHARTS=n).
    .section .text.start
    .globl _start
_start:
    csrr a0, mhartid
    la sp, stack_top
    slli t0, a0, 12
    sub sp, sp, t0
    li a1, HARTS
    call main
1:  j 1b
