/*
 * test_offsets - the per-partition offset tracker (ew_offsets).
 */
#include "ew_test.h"

#include <stdlib.h>
#include <string.h>

#include "ew_offsets.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
        /* xorshift64*: a fixed seed makes every run identical. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static void test_in_order(void)
{
        ew_offsets_t *o = ew_offsets_new();
        int64_t       off;

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_position(o), -1);
        for (off = 100; off < 110; off++)
                CU_ASSERT_EQUAL(ew_offsets_track(o, off), 0);
        CU_ASSERT_EQUAL(ew_offsets_pending(o), 10);
        CU_ASSERT_EQUAL(ew_offsets_held(o), 10);
        for (off = 100; off < 110; off++) {
                CU_ASSERT_EQUAL(ew_offsets_done(o, off), 0);
                CU_ASSERT_EQUAL(ew_offsets_position(o), off + 1);
                CU_ASSERT_EQUAL(ew_offsets_committable(o), off + 1);
                /* Each position is reported once. */
                CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        }
        CU_ASSERT_EQUAL(ew_offsets_pending(o), 0);
        CU_ASSERT_EQUAL(ew_offsets_held(o), 0);
        ew_offsets_destroy(o);
}

static void test_out_of_order(void)
{
        ew_offsets_t *o = ew_offsets_new();
        int64_t       off;

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        for (off = 0; off < 5; off++)
                CU_ASSERT_EQUAL(ew_offsets_track(o, off), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 2), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_pending(o), 4);
        CU_ASSERT_EQUAL(ew_offsets_held(o), 5);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 0), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 1);
        CU_ASSERT_EQUAL(ew_offsets_held(o), 4);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 1), 0);
        /* 1 and the already finished 2 pop together. */
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 3);
        CU_ASSERT_EQUAL(ew_offsets_held(o), 2);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 4), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_position(o), 3);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 3), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 5);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_pending(o), 0);
        ew_offsets_destroy(o);
}

static void test_gaps(void)
{
        ew_offsets_t *o = ew_offsets_new();

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 5), 0);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 7), 0);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 10), 0);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 11), 0);
        /* Offsets in the gaps were never handed out. */
        CU_ASSERT_EQUAL(ew_offsets_done(o, 6), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 9), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 12), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 4), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 10), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 7), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 5), 0);
        /* 5, 7 and 10 are done: commit past 10, not waiting for 8 or 9. */
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 11);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 11), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 12);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 1000), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 1000), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 1001);
        ew_offsets_destroy(o);
}

static void test_errors(void)
{
        ew_offsets_t *o = ew_offsets_new();

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        CU_ASSERT_EQUAL(ew_offsets_track(o, -1), EW_OFFSETS_ERR_ORDER);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 0), -1);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 0), 0);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 0), EW_OFFSETS_ERR_ORDER);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 3), 0);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 2), EW_OFFSETS_ERR_ORDER);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 3), EW_OFFSETS_ERR_ORDER);
        CU_ASSERT_EQUAL(ew_offsets_pending(o), 2);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 3), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 3), -1); /* twice */
        CU_ASSERT_EQUAL(ew_offsets_done(o, 0), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 0), -1); /* popped already */
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 4);
        /* Still strictly increasing after everything was popped. */
        CU_ASSERT_EQUAL(ew_offsets_track(o, 3), EW_OFFSETS_ERR_ORDER);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 4), 0);
        ew_offsets_destroy(o);
        ew_offsets_destroy(NULL);
}

/* 100k pending offsets (with gaps) force the ring to grow many times,
 * including while wrapped. */
static void test_growth(void)
{
        ew_offsets_t *o = ew_offsets_new();
        const int64_t n = 100000;
        int64_t       i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        /* Wrap the ring first: track 40, finish 30, so head is mid-ring. */
        for (i = 0; i < 40; i++)
                CU_ASSERT_EQUAL(ew_offsets_track(o, i), 0);
        for (i = 0; i < 30; i++)
                CU_ASSERT_EQUAL(ew_offsets_done(o, i), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 30);
        for (i = 0; i < n; i++)
                CU_ASSERT_EQUAL(ew_offsets_track(o, 40 + 3 * i), 0);
        CU_ASSERT_EQUAL(ew_offsets_pending(o), (size_t)n + 10);
        /* Finish the new ones newest first: nothing may become committable
         * until offsets 30..39 are done. */
        for (i = n - 1; i >= 0; i--)
                CU_ASSERT_EQUAL(ew_offsets_done(o, 40 + 3 * i), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_held(o), (size_t)n + 10);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 41), -1); /* a gap */
        for (i = 39; i >= 31; i--)
                CU_ASSERT_EQUAL(ew_offsets_done(o, i), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 30), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 40 + 3 * (n - 1) + 1);
        CU_ASSERT_EQUAL(ew_offsets_pending(o), 0);
        CU_ASSERT_EQUAL(ew_offsets_held(o), 0);
        ew_offsets_destroy(o);
}

static void test_reset(void)
{
        ew_offsets_t *o = ew_offsets_new();
        int64_t       i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        for (i = 0; i < 10000; i++)
                CU_ASSERT_EQUAL(ew_offsets_track(o, 500 + i), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 500), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 502), 0);
        ew_offsets_reset(o);
        CU_ASSERT_EQUAL(ew_offsets_pending(o), 0);
        CU_ASSERT_EQUAL(ew_offsets_held(o), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_position(o), -1);
        /* Forgotten offsets are unknown. */
        CU_ASSERT_EQUAL(ew_offsets_done(o, 501), -1);
        /* Reassigned partitions may start lower (a rewind). */
        CU_ASSERT_EQUAL(ew_offsets_track(o, 100), 0);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 101), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), -1);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 101), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 100), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 102);
        /* A position reported before the reset is reported again after. */
        ew_offsets_reset(o);
        CU_ASSERT_EQUAL(ew_offsets_track(o, 101), 0);
        CU_ASSERT_EQUAL(ew_offsets_done(o, 101), 0);
        CU_ASSERT_EQUAL(ew_offsets_committable(o), 102);
        ew_offsets_destroy(o);
}

/* Cross-checks random track/done/committable sequences against a model
 * that keeps every tracked offset and scans for the finished prefix. */
static void test_model(void)
{
        enum { OPS = 200000 };
        int64_t       *offs = malloc(OPS * sizeof(*offs));
        unsigned char *done = calloc(OPS, 1);
        size_t         n = 0, prefix = 0, ndone = 0, i, failures = 0;
        int64_t        next = 0, reported = -1, want, got;
        ew_offsets_t  *o = ew_offsets_new();
        int            op;

        CU_ASSERT_PTR_NOT_NULL_FATAL(offs);
        CU_ASSERT_PTR_NOT_NULL_FATAL(done);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        rng_state = UINT64_C(0x9e3779b97f4a7c15);
        for (op = 0; op < OPS; op++) {
                unsigned r = (unsigned)(rng() % 100);
                if (r < 40 || n == ndone) {
                        /* track, sometimes after a gap */
                        next += rng() % 4 == 0 ? 1 + (int64_t)(rng() % 5) : 0;
                        if (ew_offsets_track(o, next) != 0)
                                failures++;
                        offs[n++] = next++;
                } else if (r < 85) {
                        /* done: a random unfinished offset (biased to the
                         * oldest ones now and then, so prefixes pop) */
                        size_t span = n - prefix;
                        i = prefix + (size_t)(rng() % (r < 50 ? 4 : span));
                        if (i >= n)
                                i = prefix;
                        while (done[i])
                                i = i + 1 < n ? i + 1 : prefix;
                        if (ew_offsets_done(o, offs[i]) != 0)
                                failures++;
                        done[i] = 1;
                        ndone++;
                        while (prefix < n && done[prefix])
                                prefix++;
                } else if (r < 95) {
                        /* committable */
                        want = prefix > 0 ? offs[prefix - 1] + 1 : -1;
                        if (want == reported)
                                want = -1;
                        else
                                reported = want;
                        got = ew_offsets_committable(o);
                        if (got != want)
                                failures++;
                } else {
                        /* a repeated done of a random finished offset or
                         * an untracked gap offset must fail */
                        if (ndone > 0) {
                                i = (size_t)(rng() % n);
                                if (done[i] &&
                                    ew_offsets_done(o, offs[i]) != -1)
                                        failures++;
                        }
                        if (ew_offsets_track(o, next - 1) !=
                            EW_OFFSETS_ERR_ORDER)
                                failures++;
                }
                if (ew_offsets_pending(o) != n - ndone ||
                    ew_offsets_held(o) != n - prefix)
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT(n > 1000 && prefix > 1000); /* the model really ran */
        ew_offsets_destroy(o);
        free(offs);
        free(done);
}

static const ew_test_case_t cases[] = {
    {"in_order", test_in_order},  {"out_of_order", test_out_of_order},
    {"gaps", test_gaps},          {"errors", test_errors},
    {"growth_100k", test_growth}, {"reset", test_reset},
    {"model", test_model},        {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"offsets", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
