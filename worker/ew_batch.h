/*
 * ew_batch - batch eligibility evaluation without Kafka: reads events as
 * NDJSON (one event per line) from a file or stdin, runs them through the
 * same engine as the worker (concurrency, per-key order, retries, sessions,
 * rate limit, circuit breaker), and writes
 *   - outcome lines, in the outcome contract (docs/contracts.md), and
 *   - dead-letter lines: a JSON object with the dead-letter header fields
 *     ("error.kind", "error.message", ...) plus "event", the original line.
 *
 * An event's source is {"topic": <input name>, "partition": 0, "offset":
 * <line number, from 1>}; its default eventId "<input>:0:<line>".
 * Blank lines are skipped.
 */
#ifndef EW_BATCH_H
#define EW_BATCH_H

#include <stddef.h>

#include "ew_config.h"

typedef struct ew_batch_opts {
        const char *input;       /* path, or "-" for stdin */
        const char *output;      /* path, "-" or NULL for stdout */
        const char *dead_letter; /* path; NULL: written with the outcomes */
        int         progress;    /* -1 auto (stderr is a terminal), 0, 1 */
} ew_batch_opts_t;

/* Summary of a run. */
typedef struct ew_batch_summary {
        long long events, engagement, conversation, unavailable;
        long long invalid_event, rejected, retries_exhausted;
        double    seconds;
} ew_batch_summary_t;

/* Runs the batch. Returns 0 when every event got an outcome, 3 when some
 * went to dead letters, 1 on an error (errstr set; e.g. the input cannot
 * be opened), 130 when interrupted (SIGINT/SIGTERM: in-flight work is
 * finished, the rest is not read). *summary is filled in any case. */
int ew_batch_run(const ew_config_t *conf, const ew_batch_opts_t *opts,
                 ew_batch_summary_t *summary, char *errstr, size_t errstr_size);

#endif /* EW_BATCH_H */
