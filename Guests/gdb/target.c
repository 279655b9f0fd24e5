// The program the GDB tests debug (Tests/GuestTests/GDBTests.swift): bare metal, M-mode, on the
// spike board (HTIF tohost ends the run). Hart 0 sums squares into `counter`; on two harts,
// hart 1 runs `worker` once and hart 0 waits for it before powering off. The functions are kept
// out of line so breakpoints on them are reached.
volatile unsigned long counter;
volatile unsigned long worker_done;
volatile unsigned long tohost __attribute__((section(".tohost")));
volatile unsigned long fromhost __attribute__((section(".tohost")));

__attribute__((noinline)) unsigned long square(unsigned long x) { return x * x; }

__attribute__((noinline)) void worker(void) { worker_done = 1; }

void main(unsigned long hartid, unsigned long harts) {
    if (hartid != 0) {
        worker();
        for (;;) __asm__ volatile("wfi");
    }
    unsigned long sum = 0;
    for (unsigned long i = 0; i < 5; i++) {
        sum += square(i);
        counter = sum;
    }
    while (harts > 1 && !worker_done) {}
    tohost = 1;
    for (;;) {}
}
