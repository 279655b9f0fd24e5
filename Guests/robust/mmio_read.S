# Reads one 32-bit word at ADDRESS (-DADDRESS=...), then spins: the guest side of the test that
# a device which never answers cannot keep `--timeout` from ending the run.
    .section .text.init
    .globl _start
_start:
    li t0, ADDRESS
    lw t1, 0(t0)
spin:
    wfi
    j spin
