/* Entry for the snapshot guest: hart 0 only (others park in WFI), one stack, then main(). */
    .section .text.init
    .globl _start
_start:
    csrr a0, mhartid
    bnez a0, park
    la sp, stack_top
    call main
park:
    wfi
    j park

    .bss
    .align 12
    .space 4096
stack_top:
