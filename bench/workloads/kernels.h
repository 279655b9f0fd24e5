/* CoreMark-style kernels shared by the branchy/call-heavy workloads (coremark, list, matrix,
   switch, recurse, straddle). Modelled on EEMBC CoreMark's core_list_join.c, core_matrix.c and
   core_state.c (list find/reverse/merge sort, 16-bit matrix ops, a switch-driven number
   scanner) plus CRC-16, but written afresh; each function is noinline so calls and returns are
   real, as in the compiled benchmark. */
#include "bench.h"

#define NOINLINE __attribute__((noinline))

/* ---- CRC-16 (CoreMark's crcu8/crcu16: a bit loop with data-dependent branches) ---- */
static NOINLINE uint16_t crcu8(uint8_t data, uint16_t crc) {
    for (int i = 0; i < 8; i++) {
        uint8_t x16 = (uint8_t)((data & 1) ^ ((uint8_t)crc & 1));
        data >>= 1;
        if (x16 == 1) { crc ^= 0x4002; crc >>= 1; crc |= 0x8000; }
        else crc >>= 1;
    }
    return crc;
}
static NOINLINE uint16_t crcu16(uint16_t v, uint16_t crc) {
    crc = crcu8((uint8_t)v, crc);
    return crcu8((uint8_t)(v >> 8), crc);
}

/* ---- Linked list: nodes in one pool, find / reverse / merge sort by key or by payload ---- */
typedef struct item { int16_t data16; int16_t idx; } item;
typedef struct node { struct node *next; item *info; } node;
#define LIST_NODES 128
static node list_pool[LIST_NODES];
static item list_items[LIST_NODES];

static NOINLINE int cmp_idx(const item *a, const item *b) { return a->idx - b->idx; }
static NOINLINE int cmp_data(const item *a, const item *b) {
    int16_t x = a->data16, y = b->data16;
    /* CoreMark's calc_func stand-in: a little arithmetic with a branch on the value. */
    x = (x & 0x80) ? (int16_t)(x ^ 0x55) : (int16_t)(x + 7);
    y = (y & 0x80) ? (int16_t)(y ^ 0x55) : (int16_t)(y + 7);
    return x - y;
}
typedef int (*cmp_fn)(const item *, const item *);

static NOINLINE node *list_build(uint32_t seed) {
    for (int i = 0; i < LIST_NODES; i++) {
        seed = seed * 1664525u + 1013904223u;
        list_items[i].data16 = (int16_t)(seed >> 17);
        list_items[i].idx = (int16_t)((i * 37) & (LIST_NODES - 1));
        list_pool[i].info = &list_items[i];
        list_pool[i].next = i + 1 < LIST_NODES ? &list_pool[i + 1] : 0;
    }
    return &list_pool[0];
}
static NOINLINE node *list_find(node *l, int16_t idx, int16_t data) {
    if (idx >= 0) { while (l && l->info->idx != idx) l = l->next; }
    else { while (l && (l->info->data16 & 0xff) != data) l = l->next; }
    return l;
}
static NOINLINE node *list_reverse(node *l) {
    node *prev = 0;
    while (l) { node *n = l->next; l->next = prev; prev = l; l = n; }
    return prev;
}
/* Bottom-up merge sort of a singly linked list (Simon Tatham's), as CoreMark's core_list_mergesort. */
static NOINLINE node *list_sort(node *list, cmp_fn cmp) {
    int insize = 1;
    for (;;) {
        node *p = list, *tail = 0;
        list = 0;
        int merges = 0;
        while (p) {
            merges++;
            node *q = p;
            int psize = 0;
            for (int i = 0; i < insize && q; i++) { psize++; q = q->next; }
            int qsize = insize;
            while (psize > 0 || (qsize > 0 && q)) {
                node *e;
                if (psize == 0) { e = q; q = q->next; qsize--; }
                else if (qsize == 0 || !q) { e = p; p = p->next; psize--; }
                else if (cmp(p->info, q->info) <= 0) { e = p; p = p->next; psize--; }
                else { e = q; q = q->next; qsize--; }
                if (tail) tail->next = e; else list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = 0;
        if (merges <= 1) return list;
        insize *= 2;
    }
}
static NOINLINE uint16_t bench_list(uint32_t seed, uint16_t crc) {
    node *l = list_build(seed);
    for (int i = 0; i < 16; i++) {
        node *f = list_find(l, (int16_t)(i * 5 & (LIST_NODES - 1)), 0);
        node *g = list_find(l, -1, (int16_t)(i * 3));
        crc = crcu16(f ? (uint16_t)f->info->data16 : 0, crc);
        crc = crcu16(g ? (uint16_t)g->info->idx : 0xffff, crc);
        l = list_reverse(l);
    }
    l = list_sort(l, cmp_data);
    for (node *p = l; p; p = p->next) crc = crcu16((uint16_t)p->info->data16, crc);
    l = list_sort(l, cmp_idx);
    for (node *p = l; p; p = p->next) crc = crcu16((uint16_t)p->info->idx, crc);
    return crc;
}

/* ---- Matrix: 16-bit inputs, 32-bit results (core_matrix.c's operations) ---- */
#define MN 24
static int16_t mat_a[MN * MN], mat_b[MN * MN];
static int32_t mat_c[MN * MN];
static NOINLINE void mat_init(uint32_t seed) {
    for (int i = 0; i < MN * MN; i++) {
        seed = seed * 1103515245u + 12345u;
        mat_a[i] = (int16_t)((seed >> 16) & 0x3ff);
        mat_b[i] = (int16_t)((seed >> 6) & 0x3ff);
    }
}
static NOINLINE void mat_add_const(int16_t *a, int16_t v) { for (int i = 0; i < MN * MN; i++) a[i] += v; }
static NOINLINE void mat_mul_const(int32_t *c, const int16_t *a, int16_t v) {
    for (int i = 0; i < MN * MN; i++) c[i] = (int32_t)a[i] * v;
}
static NOINLINE void mat_mul_vect(int32_t *c, const int16_t *a, const int16_t *b) {
    for (int i = 0; i < MN; i++) {
        int32_t s = 0;
        for (int j = 0; j < MN; j++) s += (int32_t)a[i * MN + j] * b[j];
        c[i] = s;
    }
}
static NOINLINE void mat_mul_matrix(int32_t *c, const int16_t *a, const int16_t *b) {
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            int32_t s = 0;
            for (int k = 0; k < MN; k++) s += (int32_t)a[i * MN + k] * b[k * MN + j];
            c[i * MN + j] = s;
        }
}
static NOINLINE void mat_mul_bitextract(int32_t *c, const int16_t *a, const int16_t *b) {
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            int32_t s = 0;
            for (int k = 0; k < MN; k++) {
                int32_t t = (int32_t)a[i * MN + k] * b[k * MN + j];
                s += (t >> 2 & 0xf) * (t >> 5 & 0x7f);
            }
            c[i * MN + j] = s;
        }
}
static NOINLINE uint16_t mat_sum(const int32_t *c, int32_t clip, int n) {
    int32_t tmp = 0, prev = 0, cur;
    uint16_t ret = 0;
    for (int i = 0; i < n; i++) {
        cur = c[i];
        tmp += cur;
        if (tmp > clip) { ret += 10; tmp = 0; } else { ret += (cur > prev) ? 1 : 0; }
        prev = cur;
    }
    return ret;
}
static NOINLINE uint16_t bench_matrix(uint32_t seed, uint16_t crc) {
    mat_init(seed);
    int16_t v = (int16_t)(seed & 0xff) | 1;
    mat_add_const(mat_a, v);
    mat_mul_const(mat_c, mat_a, v);
    crc = crcu16(mat_sum(mat_c, 0x7fff, MN * MN), crc);
    mat_mul_vect(mat_c, mat_a, mat_b);
    crc = crcu16(mat_sum(mat_c, 0x7fff, MN), crc);
    mat_mul_matrix(mat_c, mat_a, mat_b);
    crc = crcu16(mat_sum(mat_c, 0x7fff, MN * MN), crc);
    mat_mul_bitextract(mat_c, mat_a, mat_b);
    crc = crcu16(mat_sum(mat_c, 0x7fff, MN * MN), crc);
    mat_add_const(mat_a, (int16_t)-v);
    return crc;
}

/* ---- State machine: scans a buffer of numbers, switch on state then on the character class
   (core_state.c), the compiler's jump tables make these indirect jumps ---- */
enum { S_START, S_INT, S_S1, S_FLOAT, S_S2, S_EXP, S_SCI, S_INVALID, S_COUNT };
#define SM_LEN 512
static char sm_buf[SM_LEN];
static NOINLINE void sm_init(uint32_t seed) {
    static const char *const words[] = {"5012", "1234", "-874", "+122", "35.54", "0.12", "-110.7", "+0.64",
                                        "5.5e+3", "-.123e-2", "-87e+832", "+0.6e-12", "T0.3e-1F", "-T.T++Tq",
                                        "1T3.4e4z", "34.0e-T^"};
    int p = 0;
    while (p < SM_LEN - 10) {
        seed = seed * 1664525u + 1013904223u;
        const char *w = words[(seed >> 20) & 15];
        while (*w && p < SM_LEN - 2) sm_buf[p++] = *w++;
        sm_buf[p++] = ',';
    }
    sm_buf[p] = 0;
}
static NOINLINE int sm_next(const char **pstr, uint32_t *transitions) {
    const char *str = *pstr;
    int state = S_START;
    for (; *str && state != S_INVALID; str++) {
        char c = *str;
        if (c == ',') { str++; break; }
        switch (state) {
        case S_START:
            if (c >= '0' && c <= '9') state = S_INT;
            else if (c == '+' || c == '-') state = S_S1;
            else if (c == '.') state = S_FLOAT;
            else { state = S_INVALID; transitions[S_INVALID]++; }
            transitions[S_START]++;
            break;
        case S_S1:
            if (c >= '0' && c <= '9') { state = S_INT; transitions[S_S1]++; }
            else if (c == '.') { state = S_FLOAT; transitions[S_S1]++; }
            else { state = S_INVALID; transitions[S_S1]++; }
            break;
        case S_INT:
            if (c == '.') { state = S_FLOAT; transitions[S_INT]++; }
            else if (!(c >= '0' && c <= '9')) { state = S_INVALID; transitions[S_INT]++; }
            break;
        case S_FLOAT:
            if (c == 'E' || c == 'e') { state = S_S2; transitions[S_FLOAT]++; }
            else if (!(c >= '0' && c <= '9')) { state = S_INVALID; transitions[S_FLOAT]++; }
            break;
        case S_S2:
            if (c == '+' || c == '-') { state = S_EXP; transitions[S_S2]++; }
            else { state = S_INVALID; transitions[S_S2]++; }
            break;
        case S_EXP:
            if (c >= '0' && c <= '9') { state = S_SCI; transitions[S_EXP]++; }
            else { state = S_INVALID; transitions[S_EXP]++; }
            break;
        case S_SCI:
            if (!(c >= '0' && c <= '9')) { state = S_INVALID; transitions[S_INVALID]++; }
            break;
        default:
            break;
        }
    }
    *pstr = str;
    return state;
}
static NOINLINE uint16_t bench_state(uint32_t seed, uint16_t crc) {
    uint32_t finals[S_COUNT] = {0}, transitions[S_COUNT] = {0};
    sm_init(seed);
    const char *p = sm_buf;
    while (*p) finals[sm_next(&p, transitions)]++;
    for (int i = 0; i < S_COUNT; i++) {
        crc = crcu16((uint16_t)finals[i], crc);
        crc = crcu16((uint16_t)transitions[i], crc);
    }
    return crc;
}

/* ---- Recursion: naive Fibonacci, a binary-tree walk and Ackermann (deep call/return chains) ---- */
static NOINLINE uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static NOINLINE uint32_t ack(uint32_t m, uint32_t n) {
    if (m == 0) return n + 1;
    if (n == 0) return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}
typedef struct tnode { struct tnode *l, *r; uint32_t v; } tnode;
static tnode tree_pool[1023];
static NOINLINE tnode *tree_build(int depth, int *next, uint32_t v) {
    if (depth == 0) return 0;
    tnode *t = &tree_pool[(*next)++];
    t->v = v;
    t->l = tree_build(depth - 1, next, v * 2 + 1);
    t->r = tree_build(depth - 1, next, v * 3 + 7);
    return t;
}
static NOINLINE uint32_t tree_walk(const tnode *t, uint32_t depth) {
    if (!t) return depth;
    return (t->v ^ tree_walk(t->l, depth + 1)) + tree_walk(t->r, depth + 1);
}
static NOINLINE uint16_t bench_recurse(uint32_t seed, uint16_t crc) {
    int next = 0;
    crc = crcu16((uint16_t)fib(14 + (seed & 1)), crc);
    crc = crcu16((uint16_t)ack(2, 20 + (seed & 3)), crc);
    tnode *t = tree_build(9, &next, seed);
    crc = crcu16((uint16_t)tree_walk(t, 0), crc);
    return crc;
}
