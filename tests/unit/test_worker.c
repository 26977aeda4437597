/*
 * Unit tests of ew_worker's backpressure decisions (ew_worker_flow_next,
 * ew_worker_flow_room): when the worker holds, when a hold turns into a
 * pause, when it takes again, and how many messages it may take.
 */
#include <stdio.h>

#include "ew_test.h"
#include "ew_worker.h"

#define HIGH 100
#define LOW 40
#define HOLD_MAX 2000

enum { T = EW_WORKER_TAKING, H = EW_WORKER_HOLDING, P = EW_WORKER_PAUSED };

static ew_config_t *limits(int hold_max_ms)
{
        ew_config_t *conf = ew_config_new_defaults();

        if (conf) {
                conf->worker.queue_high_watermark = HIGH;
                conf->worker.queue_low_watermark  = LOW;
                conf->worker.hold_max_ms          = hold_max_ms;
        }
        return conf;
}

static const char *name(int flow)
{
        return flow == T ? "taking" : flow == H ? "holding" : "paused";
}

static void test_transitions(void)
{
        static const struct {
                int     from, waiting;
                int64_t held_ms;
                int     stopping, hold_max_ms, want;
        } cases[] = {
            /* Taking: holds at the high watermark, not before. */
            {T, 0, 0, 0, HOLD_MAX, T},
            {T, HIGH - 1, 0, 0, HOLD_MAX, T},
            {T, HIGH, 0, 0, HOLD_MAX, H},
            {T, HIGH + 7, 0, 0, HOLD_MAX, H},
            /* hold_max_ms 0: pauses at once, as before holding existed. */
            {T, HIGH, 0, 0, 0, P},
            {T, HIGH - 1, 0, 0, 0, T},
            /* Holding: hysteresis between the watermarks. */
            {H, HIGH, 10, 0, HOLD_MAX, H},
            {H, LOW + 1, 10, 0, HOLD_MAX, H},
            {H, LOW, 10, 0, HOLD_MAX, T},
            {H, 0, 10, 0, HOLD_MAX, T},
            /* A hold that lasts hold_max_ms becomes a pause... */
            {H, LOW + 1, HOLD_MAX - 1, 0, HOLD_MAX, H},
            {H, LOW + 1, HOLD_MAX, 0, HOLD_MAX, P},
            {H, HIGH, HOLD_MAX + 5000, 0, HOLD_MAX, P},
            /* ...unless it may release: taking again costs no refetch. */
            {H, LOW, HOLD_MAX + 5000, 0, HOLD_MAX, T},
            /* A stopping worker never takes again. */
            {H, 0, 10, 1, HOLD_MAX, H},
            {H, 0, HOLD_MAX, 1, HOLD_MAX, P},
            /* Paused: resumes at the low watermark, whatever the hold. */
            {P, HIGH, 0, 0, HOLD_MAX, P},
            {P, LOW + 1, 0, 0, HOLD_MAX, P},
            {P, LOW, 0, 0, HOLD_MAX, T},
            {P, LOW, 0, 0, 0, T},
            {P, 0, 0, 1, HOLD_MAX, P},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ew_config_t *conf = limits(cases[i].hold_max_ms);
                int          got;

                CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
                got = (int)ew_worker_flow_next(
                    (ew_worker_flow_t)cases[i].from, cases[i].waiting,
                    cases[i].held_ms, cases[i].stopping, conf);
                if (got != cases[i].want) {
                        printf("\n  case %zu: %s, %d waiting, held %lld ms, "
                               "stopping %d, hold_max_ms %d: %s, want %s",
                               i, name(cases[i].from), cases[i].waiting,
                               (long long)cases[i].held_ms, cases[i].stopping,
                               cases[i].hold_max_ms, name(got),
                               name(cases[i].want));
                        failures++;
                }
                ew_config_destroy(conf);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_room(void)
{
        static const struct {
                int flow, waiting, want;
        } cases[] = {
            {T, 0, HIGH},     {T, 1, HIGH - 1}, {T, HIGH - 1, 1},
            {T, HIGH, 0},     {T, HIGH + 3, 0}, {H, 0, 0},
            {H, HIGH - 1, 0}, {P, 0, 0},        {P, LOW, 0},
        };
        ew_config_t *conf     = limits(HOLD_MAX);
        int          failures = 0;
        size_t       i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int got = ew_worker_flow_room((ew_worker_flow_t)cases[i].flow,
                                              cases[i].waiting, conf);
                if (got != cases[i].want) {
                        printf("\n  %s with %d waiting: room %d, want %d",
                               name(cases[i].flow), cases[i].waiting, got,
                               cases[i].want);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        ew_config_destroy(conf);
}

/* Drives the two functions as the worker does, message by message: the
 * events waiting never pass the high watermark, a fast drain never pauses,
 * a slow one pauses once the hold lasts hold_max_ms. */
static void test_simulated_cycles(void)
{
        ew_config_t     *conf = limits(HOLD_MAX);
        ew_worker_flow_t flow = EW_WORKER_TAKING;
        int64_t          now = 0, held_since = 0;
        int              waiting = 0, most = 0, holds = 0;
        int              fast_pauses = 0, slow_pauses = 0;
        int              step, drain_per_ms;

        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        for (step = 0; step < 20000; step++, now++) {
                ew_worker_flow_t next;
                int              room, k;

                /* Fast for the first half (a hold ends after 12 ms), then
                 * one event finishes every 3 s: a hold outlasts
                 * hold_max_ms and the worker pauses, for good. */
                drain_per_ms = step < 10000 ? 5 : (step % 3000 == 0);
                waiting -= waiting < drain_per_ms ? waiting : drain_per_ms;
                room = ew_worker_flow_room(flow, waiting, conf);
                for (k = 0; k < room && k < 30; k++) {
                        waiting++; /* one message taken */
                        next = ew_worker_flow_next(flow, waiting, 0, 0, conf);
                        if (next == EW_WORKER_HOLDING) {
                                holds++;
                                held_since = now;
                        }
                        flow = next;
                }
                if (waiting > most)
                        most = waiting;
                next = ew_worker_flow_next(flow, waiting, now - held_since, 0,
                                           conf);
                if (next == EW_WORKER_PAUSED && flow != next) {
                        if (step < 10000)
                                fast_pauses++;
                        else
                                slow_pauses++;
                }
                flow = next;
        }
        CU_ASSERT_EQUAL(most, HIGH);
        CU_ASSERT(holds > 100);
        CU_ASSERT_EQUAL(fast_pauses, 0);
        CU_ASSERT_EQUAL(slow_pauses, 1);
        ew_config_destroy(conf);
}

static const ew_test_case_t flow_cases[] = {
    {"transitions", test_transitions},
    {"room", test_room},
    {"simulated_cycles", test_simulated_cycles},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"flow", flow_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
