/*
 * test_timerq - retry timers (ew_timerq).
 */
#include "ew_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ew_timerq.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

/* A caller struct with an embedded timer. */
typedef struct job {
        int        id;
        int64_t    due;
        ew_timer_t timer;
} job_t;

static void jobs_init(job_t *jobs, int n)
{
        int i;

        for (i = 0; i < n; i++) {
                jobs[i].id = i;
                ew_timer_init(&jobs[i].timer);
        }
}

static void test_ordering(void)
{
        const int64_t dues[]  = {50, 10, 30, 20, 40, 35, 5};
        const int     order[] = {6, 1, 3, 2, 5, 4, 0}; /* by due */
        ew_timerq_t  *tq      = ew_timerq_new(0);
        job_t         jobs[7];
        job_t        *j;
        int           i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(tq);
        jobs_init(jobs, 7);
        CU_ASSERT_EQUAL(ew_timerq_next_due(tq), -1);
        CU_ASSERT_PTR_NULL(ew_timerq_pop_due(tq, INT64_MAX));
        for (i = 0; i < 7; i++) {
                CU_ASSERT_EQUAL(
                    ew_timerq_add(tq, &jobs[i].timer, dues[i], &jobs[i]), 0);
                CU_ASSERT(ew_timer_scheduled(&jobs[i].timer));
        }
        CU_ASSERT_EQUAL(ew_timerq_count(tq), 7);
        CU_ASSERT_EQUAL(ew_timerq_next_due(tq), 5);
        /* Nothing is due before 5. */
        CU_ASSERT_PTR_NULL(ew_timerq_pop_due(tq, 4));
        /* Due at or before now: 5, 10, 20 fire; 30 does not. */
        CU_ASSERT_PTR_EQUAL(ew_timerq_pop_due(tq, 20), &jobs[order[0]]);
        CU_ASSERT_PTR_EQUAL(ew_timerq_pop_due(tq, 20), &jobs[order[1]]);
        CU_ASSERT_PTR_EQUAL(ew_timerq_pop_due(tq, 20), &jobs[order[2]]);
        CU_ASSERT_PTR_NULL(ew_timerq_pop_due(tq, 20));
        CU_ASSERT_EQUAL(ew_timerq_next_due(tq), 30);
        CU_ASSERT(!ew_timer_scheduled(&jobs[order[0]].timer));
        for (i = 3; i < 7; i++) {
                j = ew_timerq_pop_due(tq, 1000);
                CU_ASSERT_PTR_EQUAL(j, &jobs[order[i]]);
        }
        CU_ASSERT_EQUAL(ew_timerq_count(tq), 0);
        CU_ASSERT_EQUAL(ew_timerq_next_due(tq), -1);
        /* A fired timer can be added again. */
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[0].timer, 7, &jobs[0]), 0);
        CU_ASSERT_PTR_EQUAL(ew_timerq_pop_due(tq, 7), &jobs[0]);
        ew_timerq_destroy(tq);
}

static void test_fifo_ties(void)
{
        ew_timerq_t *tq = ew_timerq_new(0);
        job_t        jobs[40];
        job_t       *j;
        int          i, last[2] = {-1, -1};
        size_t       failures = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(tq);
        jobs_init(jobs, 40);
        /* Two due times interleaved, 20 timers each. */
        for (i = 0; i < 40; i++)
                CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[i].timer,
                                              i % 2 ? 100 : 200, &jobs[i]),
                                0);
        for (i = 0; i < 40; i++) {
                j = ew_timerq_pop_due(tq, 200);
                CU_ASSERT_PTR_NOT_NULL_FATAL(j);
                /* All 100s first, each group in insertion order. */
                if ((i < 20) != (j->id % 2 == 1))
                        failures++;
                if (j->id <= last[j->id % 2])
                        failures++;
                last[j->id % 2] = j->id;
        }
        CU_ASSERT_EQUAL(failures, 0);
        ew_timerq_destroy(tq);
}

static void test_cancel(void)
{
        ew_timerq_t *tq = ew_timerq_new(0);
        job_t        jobs[10];
        int          i, want[] = {1, 2, 3, 4, 6, 7, 8};

        CU_ASSERT_PTR_NOT_NULL_FATAL(tq);
        jobs_init(jobs, 10);
        for (i = 0; i < 10; i++)
                CU_ASSERT_EQUAL(
                    ew_timerq_add(tq, &jobs[i].timer, 10 * i, &jobs[i]), 0);
        /* Added in due order, the heap is the sorted array: cancel the
         * last slot (due 90), the top (due 0), then the middle (due 50). */
        CU_ASSERT_EQUAL(ew_timerq_cancel(tq, &jobs[9].timer), 0);
        CU_ASSERT_EQUAL(ew_timerq_cancel(tq, &jobs[0].timer), 0);
        CU_ASSERT_EQUAL(ew_timerq_next_due(tq), 10);
        CU_ASSERT_EQUAL(ew_timerq_cancel(tq, &jobs[5].timer), 0);
        CU_ASSERT(!ew_timer_scheduled(&jobs[5].timer));
        /* Cancelling twice, or a timer never added, fails. */
        CU_ASSERT_EQUAL(ew_timerq_cancel(tq, &jobs[5].timer), -1);
        CU_ASSERT_EQUAL(ew_timerq_count(tq), 7);
        for (i = 0; i < 7; i++)
                CU_ASSERT_PTR_EQUAL(ew_timerq_pop_due(tq, 1000),
                                    &jobs[want[i]]);
        CU_ASSERT_PTR_NULL(ew_timerq_pop_due(tq, 1000));
        /* Cancelling the only timer empties the queue. */
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[3].timer, 5, &jobs[3]), 0);
        CU_ASSERT_EQUAL(ew_timerq_cancel(tq, &jobs[3].timer), 0);
        CU_ASSERT_EQUAL(ew_timerq_next_due(tq), -1);
        ew_timerq_destroy(tq);
}

static void test_errors(void)
{
        ew_timerq_t *tq = ew_timerq_new(2);
        job_t        jobs[3];

        CU_ASSERT_PTR_NOT_NULL_FATAL(tq);
        jobs_init(jobs, 3);
        CU_ASSERT_EQUAL(ew_timerq_cancel(tq, &jobs[0].timer), -1);
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[0].timer, 1, NULL), -1);
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[0].timer, -1, &jobs[0]), -1);
        CU_ASSERT(!ew_timer_scheduled(&jobs[0].timer));
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[0].timer, 1, &jobs[0]), 0);
        /* Already scheduled. */
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[0].timer, 2, &jobs[0]), -1);
        CU_ASSERT_EQUAL(ew_timerq_next_due(tq), 1);
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[1].timer, 1, &jobs[1]), 0);
        /* max = 2 */
        CU_ASSERT_EQUAL(ew_timerq_add(tq, &jobs[2].timer, 0, &jobs[2]), -1);
        CU_ASSERT_EQUAL(ew_timerq_count(tq), 2);
        ew_timerq_destroy(tq);
        ew_timerq_destroy(NULL);
}

/* The reference: a sorted array of (due, seq, job). */
typedef struct ref {
        int64_t  due;
        uint64_t seq;
        int      id;
} ref_t;

static int ref_before(const ref_t *a, int64_t due, uint64_t seq)
{
        return a->due < due || (a->due == due && a->seq < seq);
}

/* 100k random adds, cancels and pops, compared with the sorted array. */
static void test_model(void)
{
        enum { JOBS = 2000, OPS = 100000 };
        job_t       *jobs = malloc(JOBS * sizeof(*jobs));
        ref_t       *ref  = malloc(JOBS * sizeof(*ref));
        ew_timerq_t *tq   = ew_timerq_new(0);
        size_t       n = 0, lo, hi, mid, i, failures = 0, pops = 0, cancels = 0;
        uint64_t     seq = 0;
        int64_t      now = 0, due;
        int          op, r, id;
        job_t       *j;

        CU_ASSERT_PTR_NOT_NULL_FATAL(jobs);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tq);
        jobs_init(jobs, JOBS);
        rng_state = UINT64_C(0xfeedfacecafebeef);
        for (op = 0; op < OPS; op++) {
                r  = (int)(rng() % 100);
                id = (int)(rng() % JOBS);
                if (r < 50) {
                        /* add (or fail if already scheduled); coarse due
                         * times make ties common */
                        due = now + (int64_t)(rng() % 64) * 16;
                        if (ew_timer_scheduled(&jobs[id].timer)) {
                                if (ew_timerq_add(tq, &jobs[id].timer, due,
                                                  &jobs[id]) != -1)
                                        failures++;
                                continue;
                        }
                        if (ew_timerq_add(tq, &jobs[id].timer, due,
                                          &jobs[id]) != 0)
                                failures++;
                        jobs[id].due = due;
                        lo           = 0;
                        hi           = n;
                        while (lo < hi) {
                                mid = (lo + hi) / 2;
                                if (ref_before(&ref[mid], due, seq))
                                        lo = mid + 1;
                                else
                                        hi = mid;
                        }
                        memmove(&ref[lo + 1], &ref[lo],
                                (n - lo) * sizeof(*ref));
                        ref[lo].due = due;
                        ref[lo].seq = seq++;
                        ref[lo].id  = id;
                        n++;
                } else if (r < 75) {
                        /* cancel a scheduled job, or now and then a
                         * random one (which may be idle) */
                        if (n > 0 && r < 70)
                                id = ref[rng() % n].id;
                        for (i = 0; i < n && ref[i].id != id; i++)
                                ;
                        if (ew_timerq_cancel(tq, &jobs[id].timer) !=
                            (i < n ? 0 : -1))
                                failures++;
                        if (i < n) {
                                memmove(&ref[i], &ref[i + 1],
                                        (n - i - 1) * sizeof(*ref));
                                n--;
                                cancels++;
                        }
                } else {
                        /* advance time and pop what is due */
                        now += (int64_t)(rng() % 8);
                        while ((j = ew_timerq_pop_due(tq, now))) {
                                if (n == 0 || ref[0].due > now ||
                                    j != &jobs[ref[0].id] ||
                                    j->due != ref[0].due)
                                        failures++;
                                if (n > 0) {
                                        memmove(&ref[0], &ref[1],
                                                (n - 1) * sizeof(*ref));
                                        n--;
                                }
                                pops++;
                        }
                        if (n > 0 && ref[0].due <= now)
                                failures++;
                }
                if (ew_timerq_count(tq) != n ||
                    ew_timerq_next_due(tq) != (n ? ref[0].due : -1))
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT(pops > 1000 && cancels > 1000);
        ew_timerq_destroy(tq);
        free(jobs);
        free(ref);
}

static const ew_test_case_t cases[] = {
    {"ordering", test_ordering}, {"fifo_ties", test_fifo_ties},
    {"cancel", test_cancel},     {"errors", test_errors},
    {"model_100k", test_model},  {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"timerq", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
