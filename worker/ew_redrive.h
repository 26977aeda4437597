/*
 * ew_redrive - replays dead letters: reads kafka.dead_letter_topic from the
 * beginning up to its end as it was when the command started, and
 * re-publishes each selected dead letter's original event (its key, value
 * and original headers) to kafka.input_topic, so the failures of an outage
 * can be answered once it is over.
 *
 * The worker's own dead-letter headers (error.*, source.*, eventId,
 * failedAt) are removed; a "redrive.count" header counts the replays. A
 * dead letter whose count already reached the limit is refused, so an event
 * that keeps failing cannot loop forever.
 *
 * A one-shot command, not the worker's loop: blocking calls are fine here.
 */
#ifndef EW_REDRIVE_H
#define EW_REDRIVE_H

#include <stddef.h>
#include <stdint.h>

#include "ew_config.h"

#define EW_REDRIVE_HEADER "redrive.count"
#define EW_REDRIVE_MAX_KINDS 3

typedef struct ew_redrive_opts {
        const char *kinds[EW_REDRIVE_MAX_KINDS]; /* error.kind filter; none:
                                                  * every kind */
        int     kinds_cnt;
        int64_t since_ms;     /* failedAt >= since; -1: no bound */
        int     max_redrives; /* refuse past this many replays (default 3) */
        int     dry_run;      /* count and print, publish nothing */
        int timeout_ms; /* give up reading after this long (default 60000) */
} ew_redrive_opts_t;

typedef struct ew_redrive_summary {
        long long read, redriven, skipped, refused;
} ew_redrive_summary_t;

/* Parses "2026-11-24T06:15:40Z", "...40.123Z", "...40+01:00" or epoch
 * milliseconds. Returns 0 and *ms, or -1. */
int ew_redrive_parse_time(const char *s, int64_t *ms);

/* Runs the replay. Returns 0, or -1 with errstr set. */
int ew_redrive_run(const ew_config_t *conf, const ew_redrive_opts_t *opts,
                   ew_redrive_summary_t *sum, char *errstr, size_t errstr_size);

#endif /* EW_REDRIVE_H */
