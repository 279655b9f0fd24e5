/* Entry for the bare-metal test guests built with Guests/isa/link.ld (reboot, snapshot, clock):
   M-mode, every hart (a0 = hart id), a stack per hart (4 KiB each, up to 4 harts; others park),
   then main(hartid); a guest that wants one hart parks the others itself. Nothing here is
   cleared: the loaded image is rewritten on a reboot, and what must survive lives outside it
   (reboot.c, PERSIST). */
    .section .text.init
    .globl _start
_start:
    csrr a0, mhartid
    li t0, 4
    bgeu a0, t0, park
    la sp, stacks_top
    slli t0, a0, 12
    sub sp, sp, t0
    call main
park:
    wfi
    j park

    .bss
    .align 12
    .space 4 * 4096
stacks_top:
