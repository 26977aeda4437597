/*
 * sim_control - the simulator's own endpoints under /_sim/, for tests and
 * benchmarks to steer it while it runs:
 *
 *   POST /_sim/expire-sessions  forget every session (then 404/39)
 *   GET  /_sim/config           current run-time settings
 *   POST /_sim/config           change settings, replace or reload the
 *                               scenario, reset per-key state
 *   GET  /_sim/stats            counters
 *   GET  /_sim/health           {"status":"ok"}
 *
 * Bodies and fields are described in tests/sim/README.md.
 *
 * @locality any thread.
 */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include "sim_api.h"

#include <stddef.h>
#include <stdint.h>

/* What the server knows that the API state does not. */
typedef struct sim_control_env {
        const char *scenario_path;   /* for "reload"; NULL: none */
        size_t      delayed_pending; /* answers waiting for their latency */
        uint64_t    requests;        /* requests received so far */
} sim_control_env_t;

/* Answers the control request rq for endpoint name (the path after
 * "/_sim/"). */
void sim_control_handle(sim_api_t *api, const sim_request_t *rq,
                        const char *name, const sim_control_env_t *env,
                        sim_answer_t *ans);

/* Reads the scenario file at path and makes it current. Returns 0, or -1
 * with errstr set (the current scenario stays). */
int sim_control_reload(sim_api_t *api, const char *path, char *errstr,
                       size_t errstr_size);

#endif /* SIM_CONTROL_H */
