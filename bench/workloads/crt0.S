# Bare-metal start for the benchmark workloads on the QEMU `virt` map: M-mode entry, FPU on,
# 256 KiB stack, .bss cleared, main() called, then its return value reported via sifive_test.
    .section .text.init
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    li t0, 3 << 13
    csrs mstatus, t0
    csrwi fcsr, 0
    la sp, stack_top
    la t0, __bss_start
    la t1, _end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call main
    j bench_exit
trap:
    li a0, 3
    j bench_exit
    .globl bench_exit
bench_exit:                      # a0 = 0 -> pass (0x5555), else fail with exit code a0
    li t0, 0x100000
    bnez a0, 1f
    li t1, 0x5555
    sw t1, 0(t0)
    j .
1:  slli a0, a0, 16
    li t1, 0x3333
    or a0, a0, t1
    sw a0, 0(t0)
    j .
    .bss
    .align 4
    .skip 262144
stack_top:
