/*
 * ew_metrics - the worker's Prometheus metrics and its health endpoints.
 *
 * A registry of fixed metric families (prefix engagement_worker_) that the
 * loop thread updates and an HTTP server thread renders:
 *
 *   GET /metrics  Prometheus text exposition format 0.0.4
 *   GET /healthz  200 "ok" while the loop's last heartbeat is younger than
 *                 the maximum age (default 10 s), else 503 with the age
 *   GET /readyz   200 "ready" after ew_metrics_set_ready(m, 1), else 503
 *
 * Other paths answer 404; methods other than GET and HEAD answer 405.
 *
 * Families besides those of the enums below: build_info{version} (always
 * 1), ready (0/1), heartbeat_age_seconds, circuit_state{account},
 * consumer_lag{topic,partition} and metric_series_dropped_total. Every
 * fixed series is rendered from the start, at 0.
 *
 * Storage: counters, gauges and histogram buckets are C11 atomics (relaxed
 * order: each value is exact, a scrape is not a snapshot across values).
 * A histogram's _count is rendered as the sum of its buckets, so _count
 * always equals the +Inf bucket. Series with dynamic labels (circuit_state
 * per account, consumer_lag per topic and partition) live in tables of at
 * most EW_METRICS_MAX_SERIES entries each, behind one mutex held only for
 * the copy of a few strings; a series that does not fit is dropped and
 * counted in engagement_worker_metric_series_dropped_total.
 *
 * The server is libmicrohttpd with its own polling thread (started with
 * every signal blocked, so SIGTERM/SIGINT still reach the worker's
 * signalfd). It never touches worker state: only this registry.
 *
 * @locality update functions (counter, gauge, observe, circuit, stats,
 * heartbeat, ready): any thread, never blocking for long; the worker calls
 * them from the loop thread. ew_metrics_new/ew_metrics_destroy: the owner's
 * thread, once each. Render: any thread.
 */
#ifndef EW_METRICS_H
#define EW_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ew_metrics ew_metrics_t;

/* Most series per labelled family (circuit_state, consumer_lag). */
#define EW_METRICS_MAX_SERIES 1024
/* Longest rendered label set of one series, e.g. account="1234". */
#define EW_METRICS_MAX_LABELS 512
/* Largest exposition ew_metrics_render_alloc() produces. */
#define EW_METRICS_MAX_RENDER (8 * 1024 * 1024)
/* Default maximum heartbeat age for /healthz. */
#define EW_METRICS_DEFAULT_MAX_AGE_MS 10000

/* Counter families. The label argument of ew_metrics_counter_add() is an
 * index into the family's label enum, or 0 for a family without labels. */
typedef enum ew_metrics_counter {
        EW_M_EVENTS_CONSUMED = 0, /* events_consumed_total; no label */
        EW_M_OUTCOMES,            /* outcomes_total{outcome}; ew_m_outcome_t */
        EW_M_DEAD_LETTERS,        /* dead_letters_total{kind}; ew_m_dead_t */
        EW_M_API_RESPONSES,       /* api_responses_total{class}; ew_m_class_t */
        EW_M_RETRIES,             /* retries_total; no label */
        EW_M_COUNTER_CNT
} ew_metrics_counter_t;

/* outcome="engagement|conversation|unavailable"; same order and values as
 * EW_RESULT_ENGAGEMENT..EW_RESULT_UNAVAILABLE of ew_response.h. */
typedef enum ew_m_outcome {
        EW_M_OUTCOME_ENGAGEMENT = 0,
        EW_M_OUTCOME_CONVERSATION,
        EW_M_OUTCOME_UNAVAILABLE,
        EW_M_OUTCOME_CNT
} ew_m_outcome_t;

/* kind="invalid_event|rejected|retries_exhausted"; same order and values
 * as ew_dead_kind_t of ew_message.h. */
typedef enum ew_m_dead {
        EW_M_DEAD_INVALID_EVENT = 0,
        EW_M_DEAD_REJECTED,
        EW_M_DEAD_RETRIES_EXHAUSTED,
        EW_M_DEAD_CNT
} ew_m_dead_t;

/* class="2xx|3xx|4xx|5xx|transport"; see ew_metrics_http_class(). */
typedef enum ew_m_class {
        EW_M_CLASS_2XX = 0,
        EW_M_CLASS_3XX,
        EW_M_CLASS_4XX,
        EW_M_CLASS_5XX,
        EW_M_CLASS_TRANSPORT,
        EW_M_CLASS_CNT
} ew_m_class_t;

typedef enum ew_metrics_gauge {
        EW_M_IN_FLIGHT = 0,        /* in_flight: API requests in flight */
        EW_M_WAITING,              /* waiting: events taken, not finished */
        EW_M_PAUSED_PARTITIONS,    /* paused_partitions */
        EW_M_HOLDING,              /* holding: 1 while taking no messages
                                    * without pausing fetching */
        EW_M_ASSIGNED_PARTITIONS,  /* assigned_partitions */
        EW_M_PRODUCER_QUEUE_DEPTH, /* producer_queue_depth; also set by
                                    * ew_metrics_update_from_stats() */
        EW_M_GAUGE_CNT
} ew_metrics_gauge_t;

typedef enum ew_metrics_histogram {
        EW_M_ATTEMPTS = 0, /* attempts: API calls per finished event,
                            * buckets 1..6 */
        EW_M_API_LATENCY,  /* api_latency_seconds, 5 ms .. 10 s */
        EW_M_END_TO_END,   /* end_to_end_latency_seconds: broker
                            * timestamp to outcome acknowledged, 10 ms ..
                            * 300 s */
        EW_M_HISTOGRAM_CNT
} ew_metrics_histogram_t;

/* circuit_state{account} values. */
typedef enum ew_m_circuit {
        EW_M_CIRCUIT_CLOSED    = 0,
        EW_M_CIRCUIT_OPEN      = 1,
        EW_M_CIRCUIT_HALF_OPEN = 2,
} ew_m_circuit_t;

/* Creates a registry and, unless listen is NULL or "", starts the HTTP
 * server on listen ("HOST:PORT": HOST a name or a numeric address, an
 * IPv6 one in brackets, or empty for every IPv4 address; PORT 0 picks a
 * free port, see ew_metrics_port()). Returns NULL with errstr set if listen is
 * malformed, cannot be bound, or memory runs out. The caller destroys the
 * registry. The heartbeat starts at the time of creation. */
ew_metrics_t *ew_metrics_new(const char *listen, char *errstr,
                             size_t errstr_size);

/* Stops the server (waits for its thread; in-progress requests finish) and
 * frees the registry. NULL-safe. No other thread may use m afterwards. */
void ew_metrics_destroy(ew_metrics_t *m);

/* The TCP port the server listens on, or -1 if it was not started. */
int ew_metrics_port(const ew_metrics_t *m);

/* Adds n to counter c's series label (0 for unlabelled families). An
 * out-of-range label is ignored. NULL m is a no-op. */
void ew_metrics_counter_add(ew_metrics_t *m, ew_metrics_counter_t c, int label,
                            uint64_t n);

/* The api_responses_total class of an answer: 0 (no HTTP status: the
 * request failed in transport) and anything outside 200..599 ->
 * EW_M_CLASS_TRANSPORT. */
ew_m_class_t ew_metrics_http_class(long http_status);

/* Sets gauge g to v, or adds delta (may be negative). NULL m: no-op. */
void ew_metrics_gauge_set(ew_metrics_t *m, ew_metrics_gauge_t g, int64_t v);
void ew_metrics_gauge_add(ew_metrics_t *m, ew_metrics_gauge_t g, int64_t delta);

/* Records one observation in histogram h (seconds for the latencies, a
 * count for attempts). Negative values count as 0 (a broker clock ahead of
 * ours); NaN is ignored. NULL m: no-op. */
void ew_metrics_observe(ew_metrics_t *m, ew_metrics_histogram_t h, double v);

/* Sets circuit_state{account} to state, creating the series. account is
 * copied (escaped). Returns 0, or -1 if the series could not be stored
 * (table full, label too long, out of memory: counted as dropped). */
int ew_metrics_circuit_set(ew_metrics_t *m, const char *account,
                           ew_m_circuit_t state);

/* Removes circuit_state{account}, if present. */
void ew_metrics_circuit_remove(ew_metrics_t *m, const char *account);

/* Applies one librdkafka statistics JSON document (the stats_cb payload;
 * json is borrowed, need not be NUL-terminated):
 *   type "consumer": replaces every consumer_lag{topic,partition} series
 *     with topics.<t>.partitions.<p>.consumer_lag, leaving out the
 *     internal partition -1, partitions this member does not fetch
 *     (fetch_state none, stopping, stopped) and unknown lags (negative);
 *   type "producer": sets producer_queue_depth to msg_cnt.
 * Other types are ignored. Returns 0, or -1 if json is not a JSON object
 * (nothing is changed then). */
int ew_metrics_update_from_stats(ew_metrics_t *m, const char *json, size_t len);

/* Records that the loop is alive at now_ms, a value of ew_mono_ms(). */
void ew_metrics_heartbeat(ew_metrics_t *m, int64_t now_ms);

/* Sets the heartbeat age above which /healthz answers 503 (ms, > 0). */
void ew_metrics_set_max_age(ew_metrics_t *m, int64_t max_age_ms);

/* Sets readiness: 1 once partitions are assigned and the worker is not
 * shutting down, else 0. Also rendered as engagement_worker_ready. */
void ew_metrics_set_ready(ew_metrics_t *m, int ready);

/* Renders the exposition into buf like snprintf: writes at most size - 1
 * bytes and a NUL (if size > 0), and returns the length the whole text
 * needs. A return >= size means it was cut (possibly mid-line): try again
 * with a larger buffer. */
size_t ew_metrics_render(ew_metrics_t *m, char *buf, size_t size);

/* Renders the exposition into a new NUL-terminated buffer (caller frees)
 * and stores its length in *lenp (may be NULL). Returns NULL if memory runs
 * out or the text would exceed EW_METRICS_MAX_RENDER. */
char *ew_metrics_render_alloc(ew_metrics_t *m, size_t *lenp);

#endif /* EW_METRICS_H */
