# Ends the run in one of the ways `backplane run` turns into an exit status, chosen at build time:
#   -DHTIF_VALUE=v      write v to HTIF tohost (spike board): odd v exits with v >> 1
#   -DTEST_VALUE=v      write v to sifive_test at 0x100000 (virt board): 0x5555 pass, (c<<16)|0x3333 fail
#   -DCONSOLE_THEN_EXIT print "hi\n" on the HTIF console (device 1) first, then exit 0
#   (none)              spin forever (for --timeout)
    .section .text.init
    .globl _start
_start:
#ifdef CONSOLE_THEN_EXIT
    la a1, message
1:  lbu a2, 0(a1)
    beqz a2, 3f
    li a0, (1 << 56) | (1 << 48)
    or a0, a0, a2
    la t0, tohost
    sd a0, 0(t0)
2:  ld t1, 0(t0)              # the host clears tohost once it took the byte
    bnez t1, 2b
    addi a1, a1, 1
    j 1b
3:  li a0, 1
    la t0, tohost
    sd a0, 0(t0)
#endif
#ifdef HTIF_VALUE
    li a0, HTIF_VALUE
    la t0, tohost
    sd a0, 0(t0)
#endif
#ifdef TEST_VALUE
    li a0, TEST_VALUE
    li t0, 0x100000
    sw a0, 0(t0)
#endif
spin:
    wfi
    j spin

    .section .rodata
message: .asciz "hi\n"

    .section .tohost, "aw"
    .align 6
    .globl tohost
tohost: .dword 0
    .align 6
    .globl fromhost
fromhost: .dword 0
