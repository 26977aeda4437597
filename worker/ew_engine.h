/*
 * ew_engine - the pipeline from one input event to exactly one terminal
 * message, independent of where events come from (Kafka, or a file in
 * batch mode) and where messages go.
 *
 * For each submitted input the engine:
 *   1. parses and validates the value (ew_event); an invalid event becomes a
 *      dead letter "invalid_event" at once, without an API call;
 *   2. queues it behind earlier events of the same key (ew_keyq), so events
 *      of one key reach the API one at a time, in submission order, while
 *      other keys proceed in parallel;
 *   3. admits it to the API when fewer than monitoring.max_in_flight
 *      requests are in flight (a FIFO of ready jobs otherwise);
 *   4. calls the engagement method on behalf of the consumer (ew_request,
 *      ew_http), with the visit's vid/sid: the event's own, else the
 *      session cache's (ew_sessions);
 *   5. classifies the answer (ew_response): an outcome, a dead letter
 *      "rejected", or a retry after retry.delays_ms[attempt] +/- jitter
 *      (never sooner than Retry-After) on a timer (ew_timerq), with a
 *      loading-account answer's vid in the retry; after the last delay a
 *      dead letter "retries_exhausted";
 *   6. hands the terminal message to the publish hook, and re-publishes
 *      after a back-off if the hook or the broker fails: never skipped;
 *   7. once the hook reports it acknowledged, calls the done hook, and the
 *      caller may commit the input.
 *
 * @locality single thread: the loop's owner. Hooks run on that thread.
 */
#ifndef EW_ENGINE_H
#define EW_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ew_config.h"
#include "ew_event.h"
#include "ew_http.h"
#include "ew_message.h"
#include "ew_metrics.h"

typedef struct ew_engine ew_engine_t;
typedef struct ew_job    ew_job_t;

/* One input message. The engine copies key and value; the headers list
 * (may be NULL) passes to the engine, which destroys it. */
typedef struct ew_input {
        const void         *key;
        size_t              key_len;
        const void         *value;
        size_t              value_len;
        rd_kafka_headers_t *headers;
        ew_source_t source;       /* topic string borrowed for the call only */
        int64_t     timestamp_ms; /* broker/create time, -1 if unknown */
        void       *opaque;       /* the caller's; returned in done/dropped */
} ew_input_t;

/* A terminal message to publish. All pointers belong to the engine and
 * stay valid until ew_engine_published() is called for the job. */
typedef struct ew_output {
        int                       dead_letter; /* 0: outcome, 1: dead letter */
        const void               *key;         /* may be NULL */
        size_t                    key_len;
        const void               *value; /* outcome JSON, or the input value */
        size_t                    value_len;
        const rd_kafka_headers_t *headers; /* dead letter: input's headers +
                                            * error headers; else NULL.
                                            * Copy before handing to
                                            * librdkafka. */
        const char             *event_id;
        const ew_dead_letter_t *dead; /* the failure, for a dead letter;
                                       * NULL for an outcome */
        ew_result_kind_t kind;        /* outcome: ENGAGEMENT, CONVERSATION or
                                       * UNAVAILABLE */
        const ew_source_t *source;
} ew_output_t;

/* The publish hook's (and delivery report's) answer for a message too large
 * for the producer or the broker: the engine cuts a dead letter's value to
 * EW_ENGINE_TRUNCATE_BYTES and marks it with an "error.valueTruncated"
 * header giving the original size (the input stays in the input topic at
 * source.*), rather than block the partition's commits for ever. */
#define EW_ENGINE_TOO_LARGE -2
#define EW_ENGINE_TRUNCATE_BYTES 65536
#define EW_HDR_VALUE_TRUNCATED "error.valueTruncated"

typedef struct ew_engine_hooks {
        /* Publish out. Returns 0 when accepted (then exactly one
         * ew_engine_published() call must follow, possibly from inside this
         * hook), -1 to have the engine try again after a back-off, or
         * EW_ENGINE_TOO_LARGE when the message can never be accepted for
         * its size. */
        int (*publish)(void *arg, ew_job_t *job, const ew_output_t *out);
        /* The input with this opaque is finished: its message was
         * acknowledged. */
        void (*done)(void *arg, void *opaque, const ew_output_t *out);
        /* The input was abandoned by ew_engine_abandon(): no message was
         * published for it. */
        void (*dropped)(void *arg, void *opaque);
        void *arg;
} ew_engine_hooks_t;

typedef struct ew_engine_stats {
        int64_t submitted, outcomes, dead_letters, api_calls, retries;
        int     in_flight; /* HTTP requests in flight */
        int     waiting;   /* submitted and not yet done or dropped */
        int     ready;     /* admitted to the API but waiting for a slot */
        int     timers;    /* waiting on a retry or re-publish timer */
} ew_engine_stats_t;

/* Creates the HTTP dispatcher for the engine's API calls from conf's
 * monitoring.* keys (timeouts, User-Agent, CA bundle, connection cache of
 * max_in_flight), registered on loop; warns when TLS verification is off.
 * Returns NULL with errstr set. */
ew_http_t *ew_engine_http_new(ew_loop_t *loop, const ew_config_t *conf,
                              char *errstr, size_t errstr_size);

/* Creates an engine using conf (borrowed: must outlive the engine) and the
 * HTTP dispatcher (borrowed). Returns NULL with errstr set on failure. */
ew_engine_t *ew_engine_new(const ew_config_t *conf, ew_http_t *http,
                           const ew_engine_hooks_t *hooks, char *errstr,
                           size_t errstr_size);

/* Counts into m (may be NULL; borrowed: must outlive the engine): outcomes,
 * dead letters, API answers by class, retries, attempts, API and
 * end-to-end latency, circuit state per account. */
void ew_engine_set_metrics(ew_engine_t *eng, ew_metrics_t *m);

/* Frees every job (the dropped hook is called for each) and the engine.
 * NULL-safe. */
void ew_engine_destroy(ew_engine_t *eng);

/* Takes one input. Never fails for a bad event (that becomes a dead
 * letter); returns -1 only when memory runs out. */
int ew_engine_submit(ew_engine_t *eng, const ew_input_t *in);

/* The publish hook's report: err NULL = acknowledged, else the error text
 * (the engine logs it and re-publishes after a back-off); too_large: the
 * broker refused the message for its size (see EW_ENGINE_TOO_LARGE). */
void ew_engine_published(ew_engine_t *eng, ew_job_t *job, const char *err);
void ew_engine_published_too_large(ew_engine_t *eng, ew_job_t *job,
                                   const char *err);

/* Milliseconds until the next retry/re-publish timer is due (0 if one is
 * due now), or -1 if none. */
long ew_engine_timeout_ms(const ew_engine_t *eng);

/* Fires due timers. */
void ew_engine_run_timers(ew_engine_t *eng);

/* Abandons every job whose opaque matches pred and that has not reached
 * the publish stage: queued, ready, waiting on a retry timer, and, if
 * include_in_flight, in flight (the HTTP request is cancelled). Calls the
 * dropped hook for each. Returns how many were abandoned. */
int ew_engine_abandon(ew_engine_t *eng, int (*pred)(void *opaque, void *arg),
                      void *arg, int include_in_flight);

void ew_engine_get_stats(const ew_engine_t *eng, ew_engine_stats_t *st);

#endif /* EW_ENGINE_H */
