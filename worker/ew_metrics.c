/*
 * ew_metrics - see ew_metrics.h.
 */
#include "ew_metrics.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "ew_log.h"
#include "ew_util.h"
#include "ew_version.h"

#define PREFIX "engagement_worker_"

#define MAX_LABEL_VALUES 5 /* the largest fixed label enum (ew_m_class_t) */
#define MAX_BOUNDS 16

/* Limits of the HTTP server: a scrape is one short request at a time. */
#define HTTP_MAX_CONNECTIONS 32
#define HTTP_TIMEOUT_S 10

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"

/*
 * Family definitions: the fixed part of the exposition.
 */

typedef struct counter_def {
        const char        *name;
        const char        *help;
        const char        *label;  /* NULL: no label */
        const char *const *values; /* label values by index */
        int                cnt;    /* number of series */
} counter_def_t;

static const char *const outcome_values[] = {"engagement", "conversation",
                                             "unavailable"};
static const char *const dead_values[]    = {"invalid_event", "rejected",
                                             "retries_exhausted"};
static const char *const class_values[]   = {"2xx", "3xx", "4xx", "5xx",
                                             "transport"};

#define HELP_EVENTS "Events taken from the input topic."
#define HELP_OUTCOMES "Outcomes published, by result."
#define HELP_DEAD "Dead letters published, by kind of failure."
#define HELP_RESPONSES                                                         \
        "Answers of the Monitoring API by HTTP status class; transport: no "   \
        "HTTP answer."
#define HELP_RETRIES "API calls scheduled again after a retryable answer."

static const counter_def_t counter_defs[EW_M_COUNTER_CNT] = {
    [EW_M_EVENTS_CONSUMED] = {PREFIX "events_consumed_total", HELP_EVENTS, NULL,
                              NULL, 1},
    [EW_M_OUTCOMES]        = {PREFIX "outcomes_total", HELP_OUTCOMES, "outcome",
                              outcome_values, EW_M_OUTCOME_CNT},
    [EW_M_DEAD_LETTERS]    = {PREFIX "dead_letters_total", HELP_DEAD, "kind",
                              dead_values, EW_M_DEAD_CNT},
    [EW_M_API_RESPONSES]   = {PREFIX "api_responses_total", HELP_RESPONSES,
                              "class", class_values, EW_M_CLASS_CNT},
    [EW_M_RETRIES] = {PREFIX "retries_total", HELP_RETRIES, NULL, NULL, 1},
};

_Static_assert(EW_M_OUTCOME_CNT <= MAX_LABEL_VALUES &&
                   EW_M_DEAD_CNT <= MAX_LABEL_VALUES &&
                   EW_M_CLASS_CNT <= MAX_LABEL_VALUES,
               "MAX_LABEL_VALUES too small");

typedef struct gauge_def {
        const char *name;
        const char *help;
} gauge_def_t;

#define HELP_IN_FLIGHT "API requests in flight."
#define HELP_WAITING "Events taken and not yet finished."
#define HELP_PAUSED "Assigned partitions whose fetching is paused."
#define HELP_HOLDING                                                           \
        "1 while the worker takes no messages (queue_high_watermark reached) " \
        "and has not paused fetching."
#define HELP_ASSIGNED "Partitions assigned to this worker."
#define HELP_QUEUE "Messages in the producer's queues, not yet acknowledged."

static const gauge_def_t gauge_defs[EW_M_GAUGE_CNT] = {
    [EW_M_IN_FLIGHT]            = {PREFIX "in_flight", HELP_IN_FLIGHT},
    [EW_M_WAITING]              = {PREFIX "waiting", HELP_WAITING},
    [EW_M_PAUSED_PARTITIONS]    = {PREFIX "paused_partitions", HELP_PAUSED},
    [EW_M_HOLDING]              = {PREFIX "holding", HELP_HOLDING},
    [EW_M_ASSIGNED_PARTITIONS]  = {PREFIX "assigned_partitions", HELP_ASSIGNED},
    [EW_M_PRODUCER_QUEUE_DEPTH] = {PREFIX "producer_queue_depth", HELP_QUEUE},
};

typedef struct histogram_def {
        const char *name;
        const char *help;
        double      bounds[MAX_BOUNDS]; /* upper bounds, ascending */
        int         cnt;
} histogram_def_t;

static const histogram_def_t histogram_defs[EW_M_HISTOGRAM_CNT] = {
    [EW_M_ATTEMPTS]    = {PREFIX "attempts",
                          "API calls made for each finished event.",
                          {1, 2, 3, 4, 5, 6},
                          6},
    [EW_M_API_LATENCY] = {PREFIX "api_latency_seconds",
                          "Duration of one API call, request to answer.",
                          {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
                          11},
    [EW_M_END_TO_END]  = {PREFIX "end_to_end_latency_seconds",
                          "Input broker timestamp to outcome acknowledged.",
                          {.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120,
                           300},
                          13},
};

#define CIRCUIT_NAME PREFIX "circuit_state"
#define CIRCUIT_HELP                                                           \
        "Circuit breaker of an account: 0 closed, 1 open, 2 half-open."
#define LAG_NAME PREFIX "consumer_lag"
#define LAG_HELP                                                               \
        "Messages of an assigned partition after its committed offset, "       \
        "from librdkafka statistics."

/*
 * The registry.
 */

typedef struct histogram {
        _Atomic uint64_t buckets[MAX_BOUNDS + 1]; /* not cumulative; last is
                                                   * +Inf */
        _Atomic double sum;
} histogram_t;

/* One series of a labelled family: its rendered, escaped label set. */
typedef struct series {
        char   *labels;
        int64_t value;
} series_t;

typedef struct table {
        series_t *v;
        int       cnt;
        int       cap;
} table_t;

struct ew_metrics {
        _Atomic uint64_t counters[EW_M_COUNTER_CNT][MAX_LABEL_VALUES];
        _Atomic int64_t  gauges[EW_M_GAUGE_CNT];
        histogram_t      histograms[EW_M_HISTOGRAM_CNT];
        _Atomic int64_t  heartbeat_ms;
        _Atomic int64_t  max_age_ms;
        _Atomic int      ready;
        _Atomic uint64_t series_dropped;

        pthread_mutex_t lock; /* protects circuits, lags, last_error */
        table_t         circuits;
        table_t         lags;
        char            last_error[256]; /* the server's last log line */

        struct MHD_Daemon *mhd;
        int                port;
};

/*
 * Tables of labelled series.
 */

static void table_clear(table_t *t)
{
        int i;

        for (i = 0; i < t->cnt; i++)
                free(t->v[i].labels);
        free(t->v);
        memset(t, 0, sizeof(*t));
}

static int table_find(const table_t *t, const char *labels)
{
        int i;

        for (i = 0; i < t->cnt; i++)
                if (strcmp(t->v[i].labels, labels) == 0)
                        return i;
        return -1;
}

/* Sets or adds the series. Returns 0, or -1 if full or out of memory. */
static int table_put(table_t *t, const char *labels, int64_t value)
{
        int   i = table_find(t, labels);
        char *copy;

        if (i >= 0) {
                t->v[i].value = value;
                return 0;
        }
        if (t->cnt >= EW_METRICS_MAX_SERIES)
                return -1;
        if (t->cnt == t->cap) {
                int       cap = t->cap ? t->cap * 2 : 16;
                series_t *v;
                if (cap > EW_METRICS_MAX_SERIES)
                        cap = EW_METRICS_MAX_SERIES;
                v = realloc(t->v, (size_t)cap * sizeof(*v));
                if (!v)
                        return -1;
                t->v   = v;
                t->cap = cap;
        }
        copy = strdup(labels);
        if (!copy)
                return -1;
        t->v[t->cnt].labels = copy;
        t->v[t->cnt].value  = value;
        t->cnt++;
        return 0;
}

static void table_remove(table_t *t, const char *labels)
{
        int i = table_find(t, labels);

        if (i < 0)
                return;
        free(t->v[i].labels);
        t->v[i] = t->v[t->cnt - 1]; /* order of series does not matter */
        t->cnt--;
}

/* Appends s escaped as a label value (backslash, double quote and newline
 * escaped; bytes of invalid UTF-8 replaced by '?') to buf at *lenp.
 * Returns 0, or -1 if it does not fit in size (with the NUL). */
static int escape_label(const char *s, char *buf, size_t size, size_t *lenp)
{
        int    utf8 = ew_utf8_valid(s, strlen(s));
        size_t len  = *lenp;

        for (; *s; s++) {
                char esc = 0, c = *s;
                if (c == '\\' || c == '"')
                        esc = c;
                else if (c == '\n')
                        esc = 'n';
                else if (!utf8 && (unsigned char)c >= 0x80)
                        c = '?';
                if (len + (esc ? 2 : 1) >= size)
                        return -1;
                if (esc) {
                        buf[len++] = '\\';
                        buf[len++] = esc;
                } else {
                        buf[len++] = c;
                }
        }
        buf[len] = '\0';
        *lenp    = len;
        return 0;
}

/* Builds name="value" into buf (EW_METRICS_MAX_LABELS bytes) after *lenp,
 * with a leading comma unless it is the first label. */
static int add_label(char *buf, size_t *lenp, const char *name,
                     const char *value)
{
        size_t n = strlen(name);

        if (*lenp + (*lenp ? 1 : 0) + n + 3 >= EW_METRICS_MAX_LABELS)
                return -1;
        if (*lenp)
                buf[(*lenp)++] = ',';
        memcpy(buf + *lenp, name, n);
        *lenp += n;
        buf[(*lenp)++] = '=';
        buf[(*lenp)++] = '"';
        if (escape_label(value, buf, EW_METRICS_MAX_LABELS - 1, lenp) == -1)
                return -1;
        buf[(*lenp)++] = '"';
        buf[*lenp]     = '\0';
        return 0;
}

/*
 * Rendering.
 */

/* An output text: a caller's fixed buffer (max 0), whose len counts what
 * the whole text needs even past cap, or a buffer that grows up to max. */
typedef struct out {
        char  *buf;
        size_t cap;
        size_t len;
        size_t max;
        int    failed;
} out_t;

static void out_write(out_t *o, const char *s, size_t n)
{
        if (o->failed)
                return;
        if (o->max == 0) {
                if (o->len + 1 < o->cap) {
                        size_t room = o->cap - 1 - o->len;
                        size_t k    = n < room ? n : room;
                        memcpy(o->buf + o->len, s, k);
                        o->buf[o->len + k] = '\0';
                }
                o->len += n;
                return;
        }
        if (o->len + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap : 16384;
                char  *buf;
                while (cap < o->len + n + 1)
                        cap *= 2;
                if (cap > o->max + 1)
                        cap = o->max + 1;
                if (o->len + n + 1 > cap) {
                        o->failed = 1;
                        return;
                }
                buf = realloc(o->buf, cap);
                if (!buf) {
                        o->failed = 1;
                        return;
                }
                o->buf = buf;
                o->cap = cap;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
}

/* Every formatted piece is one line of a bounded name, a label set of at
 * most EW_METRICS_MAX_LABELS bytes and a number: tmp always holds it. */
static void out_printf(out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(out_t *o, const char *fmt, ...)
{
        char    tmp[EW_METRICS_MAX_LABELS + 512];
        va_list ap;
        int     n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        out_write(o, tmp,
                  (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void out_family(out_t *o, const char *name, const char *help,
                       const char *type)
{
        out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_counters(ew_metrics_t *m, out_t *o)
{
        int c, i;

        for (c = 0; c < EW_M_COUNTER_CNT; c++) {
                const counter_def_t *d = &counter_defs[c];
                out_family(o, d->name, d->help, "counter");
                for (i = 0; i < d->cnt; i++) {
                        unsigned long long v = atomic_load_explicit(
                            &m->counters[c][i], memory_order_relaxed);
                        if (d->label)
                                out_printf(o, "%s{%s=\"%s\"} %llu\n", d->name,
                                           d->label, d->values[i], v);
                        else
                                out_printf(o, "%s %llu\n", d->name, v);
                }
        }
}

static void render_histograms(ew_metrics_t *m, out_t *o)
{
        int h, i;

        for (h = 0; h < EW_M_HISTOGRAM_CNT; h++) {
                const histogram_def_t *d   = &histogram_defs[h];
                histogram_t           *hg  = &m->histograms[h];
                unsigned long long     cum = 0;
                double                 sum;

                out_family(o, d->name, d->help, "histogram");
                for (i = 0; i <= d->cnt; i++) {
                        cum += atomic_load_explicit(&hg->buckets[i],
                                                    memory_order_relaxed);
                        if (i < d->cnt)
                                out_printf(o, "%s_bucket{le=\"%g\"} %llu\n",
                                           d->name, d->bounds[i], cum);
                        else
                                out_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n",
                                           d->name, cum);
                }
                sum = atomic_load_explicit(&hg->sum, memory_order_relaxed);
                out_printf(o, "%s_sum %.15g\n%s_count %llu\n", d->name, sum,
                           d->name, cum);
        }
}

static void render_table(ew_metrics_t *m, out_t *o, const table_t *t,
                         const char *name, const char *help)
{
        int i;

        out_family(o, name, help, "gauge");
        pthread_mutex_lock(&m->lock);
        for (i = 0; i < t->cnt; i++)
                out_printf(o, "%s{%s} %lld\n", name, t->v[i].labels,
                           (long long)t->v[i].value);
        pthread_mutex_unlock(&m->lock);
}

static int64_t heartbeat_age_ms(ew_metrics_t *m)
{
        int64_t age = ew_mono_ms() - atomic_load_explicit(&m->heartbeat_ms,
                                                          memory_order_relaxed);
        return age > 0 ? age : 0;
}

static void render(ew_metrics_t *m, out_t *o)
{
        int g;

        out_family(o, PREFIX "build_info",
                   "The running worker's version; always 1.", "gauge");
        out_printf(o, PREFIX "build_info{version=\"%s\"} 1\n", EW_VERSION);
        out_family(o, PREFIX "ready",
                   "1 while partitions are assigned and the worker is not "
                   "shutting down (/readyz).",
                   "gauge");
        out_printf(o, PREFIX "ready %d\n",
                   atomic_load_explicit(&m->ready, memory_order_relaxed));
        out_family(o, PREFIX "heartbeat_age_seconds",
                   "Time since the loop last reported alive (/healthz).",
                   "gauge");
        out_printf(o, PREFIX "heartbeat_age_seconds %.3f\n",
                   (double)heartbeat_age_ms(m) / 1000.0);

        render_counters(m, o);
        render_histograms(m, o);
        for (g = 0; g < EW_M_GAUGE_CNT; g++) {
                out_family(o, gauge_defs[g].name, gauge_defs[g].help, "gauge");
                out_printf(o, "%s %lld\n", gauge_defs[g].name,
                           (long long)atomic_load_explicit(
                               &m->gauges[g], memory_order_relaxed));
        }
        render_table(m, o, &m->circuits, CIRCUIT_NAME, CIRCUIT_HELP);
        render_table(m, o, &m->lags, LAG_NAME, LAG_HELP);

        out_family(o, PREFIX "metric_series_dropped_total",
                   "Labelled series not recorded: table full or label too "
                   "long.",
                   "counter");
        out_printf(o, PREFIX "metric_series_dropped_total %llu\n",
                   (unsigned long long)atomic_load_explicit(
                       &m->series_dropped, memory_order_relaxed));
}

size_t ew_metrics_render(ew_metrics_t *m, char *buf, size_t size)
{
        out_t o = {buf, size, 0, 0, 0};

        if (buf && size > 0)
                buf[0] = '\0';
        else
                o.cap = 0;
        if (!m)
                return 0;
        render(m, &o);
        return o.len;
}

char *ew_metrics_render_alloc(ew_metrics_t *m, size_t *lenp)
{
        out_t o = {NULL, 0, 0, EW_METRICS_MAX_RENDER, 0};

        if (lenp)
                *lenp = 0;
        if (!m)
                return NULL;
        render(m, &o);
        if (o.failed) {
                free(o.buf);
                return NULL;
        }
        if (lenp)
                *lenp = o.len;
        return o.buf;
}

/*
 * Updates.
 */

void ew_metrics_counter_add(ew_metrics_t *m, ew_metrics_counter_t c, int label,
                            uint64_t n)
{
        if (!m || (int)c < 0 || c >= EW_M_COUNTER_CNT || label < 0 ||
            label >= counter_defs[c].cnt)
                return;
        atomic_fetch_add_explicit(&m->counters[c][label], n,
                                  memory_order_relaxed);
}

ew_m_class_t ew_metrics_http_class(long http_status)
{
        if (http_status >= 200 && http_status < 300)
                return EW_M_CLASS_2XX;
        if (http_status >= 300 && http_status < 400)
                return EW_M_CLASS_3XX;
        if (http_status >= 400 && http_status < 500)
                return EW_M_CLASS_4XX;
        if (http_status >= 500 && http_status < 600)
                return EW_M_CLASS_5XX;
        return EW_M_CLASS_TRANSPORT;
}

void ew_metrics_gauge_set(ew_metrics_t *m, ew_metrics_gauge_t g, int64_t v)
{
        if (!m || (int)g < 0 || g >= EW_M_GAUGE_CNT)
                return;
        atomic_store_explicit(&m->gauges[g], v, memory_order_relaxed);
}

void ew_metrics_gauge_add(ew_metrics_t *m, ew_metrics_gauge_t g, int64_t delta)
{
        if (!m || (int)g < 0 || g >= EW_M_GAUGE_CNT)
                return;
        atomic_fetch_add_explicit(&m->gauges[g], delta, memory_order_relaxed);
}

void ew_metrics_observe(ew_metrics_t *m, ew_metrics_histogram_t h, double v)
{
        const histogram_def_t *d;
        histogram_t           *hg;
        double                 old;
        int                    i;

        if (!m || (int)h < 0 || h >= EW_M_HISTOGRAM_CNT || isnan(v))
                return;
        d  = &histogram_defs[h];
        hg = &m->histograms[h];
        if (v < 0)
                v = 0;
        for (i = 0; i < d->cnt && v > d->bounds[i]; i++)
                ;
        /* The sum before the bucket: a scrape in between sees a sum a
         * little ahead of the count, never a count without its sum. */
        old = atomic_load_explicit(&hg->sum, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&hg->sum, &old, old + v,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                ;
        atomic_fetch_add_explicit(&hg->buckets[i], 1, memory_order_relaxed);
}

static void count_dropped(ew_metrics_t *m)
{
        atomic_fetch_add_explicit(&m->series_dropped, 1, memory_order_relaxed);
}

int ew_metrics_circuit_set(ew_metrics_t *m, const char *account,
                           ew_m_circuit_t state)
{
        char   labels[EW_METRICS_MAX_LABELS];
        size_t len = 0;
        int    rc;

        if (!m || !account)
                return -1;
        if (add_label(labels, &len, "account", account) == -1) {
                count_dropped(m);
                return -1;
        }
        pthread_mutex_lock(&m->lock);
        rc = table_put(&m->circuits, labels, (int64_t)state);
        pthread_mutex_unlock(&m->lock);
        if (rc == -1)
                count_dropped(m);
        return rc;
}

void ew_metrics_circuit_remove(ew_metrics_t *m, const char *account)
{
        char   labels[EW_METRICS_MAX_LABELS];
        size_t len = 0;

        if (!m || !account || add_label(labels, &len, "account", account) == -1)
                return;
        pthread_mutex_lock(&m->lock);
        table_remove(&m->circuits, labels);
        pthread_mutex_unlock(&m->lock);
}

void ew_metrics_heartbeat(ew_metrics_t *m, int64_t now_ms)
{
        if (m)
                atomic_store_explicit(&m->heartbeat_ms, now_ms,
                                      memory_order_relaxed);
}

void ew_metrics_set_max_age(ew_metrics_t *m, int64_t max_age_ms)
{
        if (m && max_age_ms > 0)
                atomic_store_explicit(&m->max_age_ms, max_age_ms,
                                      memory_order_relaxed);
}

void ew_metrics_set_ready(ew_metrics_t *m, int ready)
{
        if (m)
                atomic_store_explicit(&m->ready, ready ? 1 : 0,
                                      memory_order_relaxed);
}

/*
 * librdkafka statistics.
 */

static json_object *member(json_object *obj, const char *key, json_type type)
{
        json_object *v;

        if (!json_object_object_get_ex(obj, key, &v) ||
            !json_object_is_type(v, type))
                return NULL;
        return v;
}

/* A partition id key: a non-negative decimal int32; -1 otherwise. */
static long partition_id(const char *key)
{
        char *end;
        long  p;

        if (*key < '0' || *key > '9')
                return -1;
        errno = 0;
        p     = strtol(key, &end, 10);
        if (errno || *end != '\0' || p > INT32_MAX)
                return -1;
        return p;
}

/* Whether this member fetches the partition: librdkafka keeps entries of
 * partitions it no longer fetches (revoked, never assigned). */
static int fetched(json_object *part)
{
        json_object *st = member(part, "fetch_state", json_type_string);
        const char  *s;

        if (!st)
                return 1;
        s = json_object_get_string(st);
        return strcmp(s, "none") != 0 && strcmp(s, "stopping") != 0 &&
               strcmp(s, "stopped") != 0;
}

/* Adds the lags of one topic's partitions to t. */
static void topic_lags(ew_metrics_t *m, table_t *t, const char *topic,
                       json_object *parts)
{
        struct json_object_iterator it  = json_object_iter_begin(parts);
        struct json_object_iterator end = json_object_iter_end(parts);

        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                json_object *part = json_object_iter_peek_value(&it);
                char         labels[EW_METRICS_MAX_LABELS], pid[16];
                json_object *lag;
                size_t       len = 0;
                long         p;

                p = partition_id(json_object_iter_peek_name(&it));
                if (p < 0 || !json_object_is_type(part, json_type_object) ||
                    !fetched(part))
                        continue;
                lag = member(part, "consumer_lag", json_type_int);
                if (!lag || json_object_get_int64(lag) < 0)
                        continue; /* -1: unknown */
                ew_snprintf(pid, sizeof(pid), "%ld", p);
                if (add_label(labels, &len, "topic", topic) == -1 ||
                    add_label(labels, &len, "partition", pid) == -1 ||
                    table_put(t, labels, json_object_get_int64(lag)) == -1)
                        count_dropped(m);
        }
}

static void consumer_stats(ew_metrics_t *m, json_object *root)
{
        json_object *topics = member(root, "topics", json_type_object);
        table_t      t, old;

        memset(&t, 0, sizeof(t));
        if (topics) {
                struct json_object_iterator it = json_object_iter_begin(topics);
                struct json_object_iterator end = json_object_iter_end(topics);
                for (; !json_object_iter_equal(&it, &end);
                     json_object_iter_next(&it)) {
                        json_object *parts =
                            member(json_object_iter_peek_value(&it),
                                   "partitions", json_type_object);
                        if (parts)
                                topic_lags(m, &t,
                                           json_object_iter_peek_name(&it),
                                           parts);
                }
        }
        /* Swapped whole, so a scrape never sees half an update. */
        pthread_mutex_lock(&m->lock);
        old     = m->lags;
        m->lags = t;
        pthread_mutex_unlock(&m->lock);
        table_clear(&old);
}

int ew_metrics_update_from_stats(ew_metrics_t *m, const char *json, size_t len)
{
        json_tokener *tok  = NULL;
        json_object  *root = NULL, *type, *cnt;
        int           rc   = -1;

        if (!m || !json || len > INT_MAX)
                goto done;
        tok = json_tokener_new();
        if (!tok)
                goto done;
        root = json_tokener_parse_ex(tok, json, (int)len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(root, json_type_object))
                goto done;
        rc   = 0;
        type = member(root, "type", json_type_string);
        if (!type)
                goto done;
        if (strcmp(json_object_get_string(type), "consumer") == 0) {
                consumer_stats(m, root);
        } else if (strcmp(json_object_get_string(type), "producer") == 0) {
                cnt = member(root, "msg_cnt", json_type_int);
                if (cnt)
                        ew_metrics_gauge_set(m, EW_M_PRODUCER_QUEUE_DEPTH,
                                             json_object_get_int64(cnt));
        }
done:
        json_object_put(root);
        if (tok)
                json_tokener_free(tok);
        return rc;
}

/*
 * The HTTP server. Handlers run on libmicrohttpd's thread and read only
 * atomics and the locked tables.
 */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
                               const char *ctype, void *body, size_t len,
                               enum MHD_ResponseMemoryMode mode,
                               const char                 *allow)
{
        struct MHD_Response *resp;
        enum MHD_Result      ret;

        resp = MHD_create_response_from_buffer(len, body, mode);
        if (!resp) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(body);
                return MHD_NO;
        }
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    ctype) == MHD_NO ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                    "no-store") == MHD_NO ||
            (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                              allow) == MHD_NO)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn,
                                    unsigned int status, const char *text,
                                    const char *allow)
{
        return respond(conn, status, CONTENT_TYPE_TEXT, (void *)(uintptr_t)text,
                       strlen(text), MHD_RESPMEM_MUST_COPY, allow);
}

static enum MHD_Result serve_metrics(ew_metrics_t          *m,
                                     struct MHD_Connection *conn)
{
        size_t len;
        char  *text = ew_metrics_render_alloc(m, &len);

        if (!text)
                return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                    "cannot render metrics\n", NULL);
        return respond(conn, MHD_HTTP_OK, CONTENT_TYPE_METRICS, text, len,
                       MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result serve_health(ew_metrics_t          *m,
                                    struct MHD_Connection *conn)
{
        int64_t age = heartbeat_age_ms(m);
        int64_t max =
            atomic_load_explicit(&m->max_age_ms, memory_order_relaxed);
        char text[128];

        if (age < max)
                return respond_text(conn, MHD_HTTP_OK, "ok\n", NULL);
        ew_snprintf(text, sizeof(text),
                    "stale: last heartbeat %lld ms ago (max %lld ms)\n",
                    (long long)age, (long long)max);
        return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
        ew_metrics_t *m = cls;

        (void)version;
        (void)upload;
        (void)upload_size;
        (void)con_cls;
        if (strcmp(url, "/metrics") != 0 && strcmp(url, "/healthz") != 0 &&
            strcmp(url, "/readyz") != 0)
                return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n",
                                    NULL);
        /* Answered on the first call, before any body: MHD closes the
         * connection rather than read a body nobody wants. */
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
            strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                    "method not allowed\n", "GET, HEAD");
        if (strcmp(url, "/metrics") == 0)
                return serve_metrics(m, conn);
        if (strcmp(url, "/healthz") == 0)
                return serve_health(m, conn);
        if (atomic_load_explicit(&m->ready, memory_order_relaxed))
                return respond_text(conn, MHD_HTTP_OK, "ready\n", NULL);
        return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n",
                            NULL);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        ew_metrics_t *m = cls;
        char          line[256];
        size_t        n;

        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
        EW_WARN("metrics", "%s", line);
        pthread_mutex_lock(&m->lock);
        memcpy(m->last_error, line, n + 1);
        pthread_mutex_unlock(&m->lock);
}

/* Splits "HOST:PORT" and resolves it into *ss. */
static int resolve(const char *listen, struct sockaddr_storage *ss,
                   char *errstr, size_t errstr_size)
{
        const char     *colon = strrchr(listen, ':'), *start;
        struct addrinfo hints, *res = NULL;
        char            host[256], port[8];
        size_t          hlen;
        int             err;

        if (!colon || strlen(colon + 1) == 0 || strlen(colon + 1) > 5 ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            atoi(colon + 1) > 65535)
                goto malformed;
        start = listen;
        hlen  = (size_t)(colon - listen);
        if (hlen >= 2 && start[0] == '[' && start[hlen - 1] == ']') {
                start++; /* [IPv6] */
                hlen -= 2;
        }
        if (hlen >= sizeof(host))
                goto malformed;
        memcpy(host, start, hlen);
        host[hlen] = '\0';
        ew_snprintf(port, sizeof(port), "%s", colon + 1);

        memset(&hints, 0, sizeof(hints));
        hints.ai_family   = hlen ? AF_UNSPEC : AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags    = AI_PASSIVE | AI_NUMERICSERV;
        err               = getaddrinfo(hlen ? host : NULL, port, &hints, &res);
        if (err != 0) {
                ew_snprintf(errstr, errstr_size, "metrics.listen \"%s\": %s",
                            listen, gai_strerror(err));
                return -1;
        }
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        return 0;

malformed:
        ew_snprintf(errstr, errstr_size,
                    "metrics.listen \"%s\": expected HOST:PORT (port 0 to "
                    "65535)",
                    listen);
        return -1;
}

static int bound_port(struct MHD_Daemon *mhd)
{
        const union MHD_DaemonInfo *info;
        struct sockaddr_storage     ss;
        socklen_t                   sl = sizeof(ss);

        info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
        if (info && info->port)
                return info->port;
        info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_LISTEN_FD);
        if (!info ||
            getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) == -1)
                return -1;
        if (ss.ss_family == AF_INET6)
                return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int start_server(ew_metrics_t *m, const char *listen, char *errstr,
                        size_t errstr_size)
{
        struct sockaddr_storage ss;
        sigset_t                all, saved;
        unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
        uint16_t     port;

        if (resolve(listen, &ss, errstr, errstr_size) == -1)
                return -1;
        if (ss.ss_family == AF_INET6) {
                flags |= MHD_USE_IPv6;
                port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
                port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }

        /* The server thread inherits the mask: with every signal blocked
         * there, SIGTERM and SIGINT reach only the worker's signalfd. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        m->mhd = MHD_start_daemon(
            flags, port /* for messages: binding uses ss */, NULL, NULL,
            on_request, m,
            /* the logger first, so it sees every message */
            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned int)HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned int)HTTP_TIMEOUT_S, MHD_OPTION_END);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (!m->mhd) {
                pthread_mutex_lock(&m->lock);
                ew_snprintf(errstr, errstr_size,
                            "metrics.listen \"%s\": cannot listen: %s", listen,
                            *m->last_error ? m->last_error : "unknown error");
                pthread_mutex_unlock(&m->lock);
                return -1;
        }
        m->port = bound_port(m->mhd);
        if (m->port <= 0) {
                ew_snprintf(errstr, errstr_size,
                            "metrics.listen \"%s\": cannot read the bound "
                            "port",
                            listen);
                return -1;
        }
        return 0;
}

/*
 * Life cycle.
 */

ew_metrics_t *ew_metrics_new(const char *listen, char *errstr,
                             size_t errstr_size)
{
        ew_metrics_t *m = calloc(1, sizeof(*m));

        if (!m) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        m->port = -1;
        if (pthread_mutex_init(&m->lock, NULL) != 0) {
                ew_snprintf(errstr, errstr_size, "pthread_mutex_init failed");
                free(m);
                return NULL;
        }
        /* calloc's zero bytes are valid zero atomics on every platform we
         * build for; the non-zero ones are stored explicitly. */
        atomic_store(&m->heartbeat_ms, ew_mono_ms());
        atomic_store(&m->max_age_ms, (int64_t)EW_METRICS_DEFAULT_MAX_AGE_MS);

        if (listen && *listen &&
            start_server(m, listen, errstr, errstr_size) == -1)
                goto error;
        return m;

error:
        ew_metrics_destroy(m);
        return NULL;
}

void ew_metrics_destroy(ew_metrics_t *m)
{
        if (!m)
                return;
        if (m->mhd)
                MHD_stop_daemon(m->mhd);
        table_clear(&m->circuits);
        table_clear(&m->lags);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

int ew_metrics_port(const ew_metrics_t *m)
{
        return m && m->mhd ? m->port : -1;
}
