/*
 * A host-side shim, not a guest (VirtualTimeTests): preloaded into `backplane run`, it makes the
 * host's clocks lie. clock_gettime (every clock), gettimeofday and time run WARP_FACTOR times as
 * fast as the real ones (environment, default 7) from a start WARP_OFFSET seconds later (default
 * 90000). A virtual-clock run must not notice: its output may not change. A `--clock host` run
 * does notice (the test checks that too, so the shim is known to work).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int64_t base[32];
static int have_base[32];

static int64_t factor(void) {
    const char *text = getenv("WARP_FACTOR");
    return text ? atoll(text) : 7;
}

static int64_t offset(void) {
    const char *text = getenv("WARP_OFFSET");
    return (text ? atoll(text) : 90000) * 1000000000LL;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (!real_clock_gettime) real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int result = real_clock_gettime(id, ts);
    if (result != 0) return result;
    int slot = (int)id & 31;
    int64_t ns = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
    /* The first reading of each clock is the warp's origin; a race sets it twice, harmlessly close. */
    if (!__atomic_load_n(&have_base[slot], __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&base[slot], ns, __ATOMIC_RELAXED);
        __atomic_store_n(&have_base[slot], 1, __ATOMIC_RELEASE);
    }
    int64_t origin = __atomic_load_n(&base[slot], __ATOMIC_RELAXED);
    int64_t warped = origin + (ns - origin) * factor() + offset();
    ts->tv_sec = warped / 1000000000LL;
    ts->tv_nsec = warped % 1000000000LL;
    return 0;
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
