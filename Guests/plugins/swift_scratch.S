# Drives the Swift example plugin (Plugins/examples/swift_scratch) placed at 0x10003000 on `virt`:
# reads its identification register, writes two values to its accumulator, reads the sum back,
# and ends the run through sifive_test (0x5555 pass; (1 << 16) | 0x3333 exits 1).
    .section .text.init
    .globl _start
_start:
    li t0, 0x10003000
    lwu t1, 0(t0)
    li t2, 0x53574654             # "SWFT"
    bne t1, t2, fail
    li t1, 40
    sd t1, 8(t0)
    li t1, 2
    sd t1, 8(t0)
    ld t1, 16(t0)
    li t2, 42
    bne t1, t2, fail
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
fail:
    li t0, 0x100000
    li t1, 0x13333
    sw t1, 0(t0)
2:  j 2b
