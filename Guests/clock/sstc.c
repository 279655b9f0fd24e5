/*
 * The Sstc guest (VirtualTimeTests, SstcGuestTests): S-mode programs its own timer through
 * stimecmp (RISC-V privileged spec, "Sstc" chapter) on the virt board, `--bios none`.
 *
 * Hart 0 sets up M-mode (PMP allow-all, STI delegated to S, mcounteren CY/TM/IR) and drops to S,
 * which checks the access rules (stimecmp illegal from S while menvcfg.STCE or mcounteren.TM is
 * clear; M-mode flips them on request through ECALL), that STIP is read-only in mip and follows
 * `time >= stimecmp`, then
 *   1. spins, counting, until a timer SPIN_TICKS ahead interrupts it (sstatus.SIE set), and
 *   2. waits in WFI for a timer WAIT_TICKS ahead (sstatus.SIE clear: the pending STIP only wakes
 *      WFI, privileged spec §3.3.3).
 * It prints what it saw at each interrupt (time, minstret, the spin count) and passes if every
 * rule held. Under the virtual clock the handler reads `time` equal to the target (the interrupt
 * comes at the target's first instruction, and the handler's prologue is shorter than a tick), and
 * the output is the same under either engine. Other harts park in WFI with nothing enabled, so
 * after their few instructions they use no time: with two harts, hart 0's counts at both
 * interrupts are lower by the same few instructions. On QEMU (`-cpu rv64`, which has Sstc by
 * default since 7.1) the rules hold too; the numbers differ.
 */
#include "../common/baremetal.h"

#ifndef SPIN_TICKS
#define SPIN_TICKS 2000ull            /* 200 µs of the 10 MHz timebase */
#endif
#ifndef WAIT_TICKS
#define WAIT_TICKS (10000000ull)      /* 1 s */
#endif

#define STIP (1ul << 5)
#define STCE (1ul << 63)
#define CSR_STIMECMP "0x14d"
#define CSR_MENVCFG "0x30a"

/* What S asks of M through ECALL (M-mode's handler below). */
enum { REQUEST_SET_STCE = 1, REQUEST_CLEAR_STCE, REQUEST_SET_TM, REQUEST_CLEAR_TM, REQUEST_WRITE_MIP_STIP };

static volatile uint64_t request;
static volatile uint64_t m_result;
/* The cause of the last trap M-mode skipped (an illegal instruction from S), 0 if none. */
static volatile uint64_t skipped_cause;

static volatile uint64_t spin_count;
static volatile uint64_t irq_seen, irq_cause, irq_time, irq_instret, irq_spin;

static inline uint64_t read_time(void) {
    uint64_t value;
    __asm__ volatile("csrr %0, time" : "=r"(value));
    return value;
}

static inline uint64_t read_instret(void) {
    uint64_t value;
    __asm__ volatile("csrr %0, instret" : "=r"(value));
    return value;
}

static inline void write_stimecmp(uint64_t value) { __asm__ volatile("csrw " CSR_STIMECMP ", %0" ::"r"(value)); }

/* Reads stimecmp; an illegal-instruction trap is skipped by M and leaves skipped_cause set. */
static uint64_t probe_stimecmp(void) {
    uint64_t value = 0x5a5a;
    skipped_cause = 0;
    __asm__ volatile("csrr %0, " CSR_STIMECMP : "+r"(value));
    return value;
}

static uint64_t ask(uint64_t what) {
    request = what;
    __asm__ volatile("ecall" ::: "memory");
    return m_result;
}

/* M-mode: ECALLs from S carry requests; illegal instructions from S are recorded and skipped. */
__attribute__((interrupt("machine"), aligned(4))) static void machine_trap(void) {
    uint64_t cause, epc;
    __asm__ volatile("csrr %0, mcause" : "=r"(cause));
    __asm__ volatile("csrr %0, mepc" : "=r"(epc));
    if (cause == 9) {
        switch (request) {
        case REQUEST_SET_STCE: __asm__ volatile("csrs " CSR_MENVCFG ", %0" ::"r"(STCE)); break;
        case REQUEST_CLEAR_STCE: __asm__ volatile("csrc " CSR_MENVCFG ", %0" ::"r"(STCE)); break;
        case REQUEST_SET_TM: __asm__ volatile("csrs mcounteren, %0" ::"r"(2ul)); break;
        case REQUEST_CLEAR_TM: __asm__ volatile("csrc mcounteren, %0" ::"r"(2ul)); break;
        case REQUEST_WRITE_MIP_STIP: {
            uint64_t mip;
            __asm__ volatile("csrs mip, %0" ::"r"(STIP));
            __asm__ volatile("csrr %0, mip" : "=r"(mip));
            m_result = mip;
            break;
        }
        }
    } else if (cause == 2) {
        skipped_cause = cause;
    } else {
        puts_("unexpected M trap, mcause ");
        puthex(cause);
        puts_(" mepc ");
        puthex(epc);
        putc_('\n');
        finish(90);
    }
    __asm__ volatile("csrw mepc, %0" ::"r"(epc + 4));
}

/* S-mode: the supervisor timer interrupt. Records when it came and stops the timer (writing
   stimecmp is what clears STIP under Sstc). */
__attribute__((interrupt("supervisor"), aligned(4))) static void supervisor_trap(void) {
    uint64_t cause;
    __asm__ volatile("csrr %0, scause" : "=r"(cause));
    irq_time = read_time();
    irq_instret = read_instret();
    irq_spin = spin_count;
    irq_cause = cause;
    write_stimecmp(~0ull);
    irq_seen = 1;
}

static void report(const char *name, uint64_t value) {
    puts_(name);
    putc_(' ');
    puthex(value);
    putc_('\n');
}

static void supervisor_main(void) {
    uint64_t sip;

    /* 1. STCE clear: stimecmp is illegal below M. */
    probe_stimecmp();
    check(skipped_cause == 2, 1, "stimecmp from S with menvcfg.STCE clear did not trap", skipped_cause);

    /* 2. STCE and TM set: S reads what M wrote. */
    ask(REQUEST_SET_STCE);
    uint64_t value = probe_stimecmp();
    check(skipped_cause == 0 && value == ~0ull, 2, "stimecmp from S with STCE and TM set", value);

    /* 3. mcounteren.TM clear: illegal again. */
    ask(REQUEST_CLEAR_TM);
    probe_stimecmp();
    check(skipped_cause == 2, 3, "stimecmp from S with mcounteren.TM clear did not trap", skipped_cause);
    ask(REQUEST_SET_TM);

    /* 4. With STCE set, STIP in mip is read-only: M's write does not set it. */
    uint64_t mip = ask(REQUEST_WRITE_MIP_STIP);
    check((mip & STIP) == 0, 4, "mip.STIP took M's write while STCE is set", mip);

    /* 5. STIP is time >= stimecmp, at once. */
    write_stimecmp(0);
    __asm__ volatile("csrr %0, sip" : "=r"(sip));
    check((sip & STIP) != 0, 5, "sip.STIP not pending with stimecmp 0", sip);
    write_stimecmp(~0ull);
    __asm__ volatile("csrr %0, sip" : "=r"(sip));
    check((sip & STIP) == 0, 6, "sip.STIP still pending with stimecmp all ones", sip);

    /* 6. Spin until the timer interrupts. */
    __asm__ volatile("csrs sie, %0" ::"r"(STIP));
    uint64_t target = read_time() + SPIN_TICKS;
    write_stimecmp(target);
    __asm__ volatile("csrsi sstatus, 2");
    while (!irq_seen) spin_count = spin_count + 1;
    __asm__ volatile("csrci sstatus, 2");
    report("spin-target", target);
    report("spin-time", irq_time);
    report("spin-minstret", irq_instret);
    report("spin-count", irq_spin);
    check(irq_cause == (1ull << 63 | 5), 7, "scause of the timer interrupt", irq_cause);
    check(irq_time >= target, 8, "the timer interrupt came before stimecmp", irq_time);

    /* 7. Wait in WFI with interrupts off in S: the pending STIP wakes it. */
    target = read_time() + WAIT_TICKS;
    write_stimecmp(target);
    do {
        __asm__ volatile("wfi");
        __asm__ volatile("csrr %0, sip" : "=r"(sip));
    } while (!(sip & STIP));
    uint64_t woke = read_time();
    uint64_t retired = read_instret();
    write_stimecmp(~0ull);
    report("wait-target", target);
    report("wait-time", woke);
    report("wait-minstret", retired);
    check(woke >= target, 9, "WFI woke before stimecmp", woke);
    finish(0);
}

int main(unsigned long hartid) {
    if (hartid != 0) for (;;) __asm__ volatile("wfi");
    /* The trap handlers save the FP registers too (the guest is built for rv64gc). */
    __asm__ volatile("csrs mstatus, %0" ::"r"(1ul << 13));
    __asm__ volatile("csrw mtvec, %0" ::"r"(machine_trap));
    /* M-mode always reaches stimecmp; STCE is writable where Sstc exists. */
    write_stimecmp(~0ull);
    __asm__ volatile("csrw " CSR_MENVCFG ", %0" ::"r"(STCE));
    uint64_t envcfg;
    __asm__ volatile("csrr %0, " CSR_MENVCFG : "=r"(envcfg));
    check((envcfg & STCE) != 0, 10, "menvcfg.STCE is not writable", envcfg);
    __asm__ volatile("csrw " CSR_MENVCFG ", zero");
    __asm__ volatile("csrw pmpaddr0, %0" ::"r"(~0ul));
    __asm__ volatile("csrw pmpcfg0, %0" ::"r"(0x1ful));
    __asm__ volatile("csrw mcounteren, %0" ::"r"(7ul));
    __asm__ volatile("csrw mideleg, %0" ::"r"(STIP));
    __asm__ volatile("csrw stvec, %0" ::"r"(supervisor_trap));
    /* mret to S at supervisor_main with the same stack. */
    __asm__ volatile("csrc mstatus, %0" ::"r"(3ul << 11));
    __asm__ volatile("csrs mstatus, %0" ::"r"(1ul << 11));
    __asm__ volatile("csrw mepc, %0" ::"r"(supervisor_main));
    __asm__ volatile("mret");
    return 0;
}
