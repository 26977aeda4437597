/*
 * test_metrics - the metrics registry, its exposition text, librdkafka
 * statistics and the HTTP endpoints (ew_metrics).
 */
#include "ew_test.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ew_metrics.h"
#include "ew_util.h"

#define P "engagement_worker_"

/*
 * An independent reader of the text exposition format 0.0.4.
 */

typedef struct family {
        char name[128];
        char type[16];
        int  helps;
        int  types;
        int  samples;
        int  closed; /* samples of a later family were seen */
} family_t;

#define MAX_FAMILIES 64

typedef struct expo {
        family_t fam[MAX_FAMILIES];
        int      cnt;
} expo_t;

static family_t *family_find(expo_t *e, const char *name, size_t len);

/* The family called name, added if new; NULL if the table is full. */
static family_t *family_get(expo_t *e, const char *name, size_t len)
{
        family_t *f = family_find(e, name, len);

        if (f)
                return f;
        if (e->cnt == MAX_FAMILIES || len >= sizeof(e->fam[0].name))
                return NULL;
        memset(&e->fam[e->cnt], 0, sizeof(e->fam[0]));
        memcpy(e->fam[e->cnt].name, name, len);
        return &e->fam[e->cnt++];
}

static family_t *family_find(expo_t *e, const char *name, size_t len)
{
        int i;

        for (i = 0; i < e->cnt; i++)
                if (strlen(e->fam[i].name) == len &&
                    memcmp(e->fam[i].name, name, len) == 0)
                        return &e->fam[i];
        return NULL;
}

/* The histogram family whose _bucket, _sum or _count series name is. */
static family_t *histogram_family(expo_t *e, const char *name, size_t len)
{
        static const char *const sfx[] = {"_bucket", "_sum", "_count"};
        size_t                   k;

        for (k = 0; k < EW_ARRAY_SIZE(sfx); k++) {
                size_t    sl = strlen(sfx[k]);
                family_t *f;
                if (len <= sl || memcmp(name + len - sl, sfx[k], sl) != 0)
                        continue;
                f = family_find(e, name, len - sl);
                if (f && !strcmp(f->type, "histogram"))
                        return f;
        }
        return NULL;
}

static size_t name_len(const char *s, int colon_ok)
{
        size_t n = 0;

        if (!(isalpha((unsigned char)s[0]) || s[0] == '_' ||
              (colon_ok && s[0] == ':')))
                return 0;
        while (isalnum((unsigned char)s[n]) || s[n] == '_' ||
               (colon_ok && s[n] == ':'))
                n++;
        return n;
}

/* Parses {name="value",...} at s; returns the length or 0 if malformed. */
static size_t labels_len(const char *s)
{
        const char *p = s + 1;

        if (*s != '{')
                return 0;
        while (*p != '}') {
                size_t n = name_len(p, 0);
                if (n == 0 || p[n] != '=' || p[n + 1] != '"')
                        return 0;
                for (p += n + 2; *p != '"'; p++) {
                        if (*p == '\0' || *p == '\n')
                                return 0;
                        if (*p == '\\') {
                                p++;
                                if (*p != '\\' && *p != '"' && *p != 'n')
                                        return 0;
                        }
                }
                p++;
                if (*p == ',')
                        p++;
                else if (*p != '}')
                        return 0;
        }
        return (size_t)(p + 1 - s);
}

static int value_ok(const char *s, size_t len)
{
        char tmp[64], *end;

        if (len == 0 || len >= sizeof(tmp))
                return 0;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        if (!strcmp(tmp, "+Inf") || !strcmp(tmp, "-Inf") || !strcmp(tmp, "NaN"))
                return 1;
        strtod(tmp, &end);
        return *end == '\0';
}

static int fail(int line, const char *why)
{
        fprintf(stderr, "  exposition line %d: %s\n", line, why);
        return 1;
}

/* Validates text against the format: every line ends in a newline; HELP
 * and TYPE once per family, TYPE before its samples; every sample
 * well-formed and of a declared family (histograms: _bucket, _sum,
 * _count); the samples of a family contiguous. Returns the number of
 * problems; e (may be NULL) receives the families. */
static int check_exposition(const char *text, expo_t *e)
{
        expo_t      local;
        family_t   *cur      = NULL;
        int         failures = 0, line = 0;
        const char *s = text;

        if (!e)
                e = &local;
        memset(e, 0, sizeof(*e));
        while (*s) {
                const char *nl = strchr(s, '\n');
                family_t   *f;
                size_t      n;

                line++;
                if (!nl)
                        return failures + fail(line, "no final newline");
                if (!strncmp(s, "# HELP ", 7) || !strncmp(s, "# TYPE ", 7)) {
                        int help = s[2] == 'H';
                        n        = name_len(s + 7, 1);
                        f        = n ? family_get(e, s + 7, n) : NULL;
                        if (f && cur && cur != f) {
                                cur->closed = 1; /* a new family begins */
                                cur         = NULL;
                        }
                        if (!f || s[7 + n] != ' ') {
                                failures += fail(line, "bad HELP/TYPE");
                        } else if (f->closed || f->samples) {
                                failures += fail(line, "HELP/TYPE too late");
                        } else if (help) {
                                failures +=
                                    f->helps++ ? fail(line, "HELP again") : 0;
                        } else {
                                size_t tl = (size_t)(nl - (s + 8 + n));
                                if (f->types++)
                                        failures += fail(line, "TYPE again");
                                if (tl >= sizeof(f->type))
                                        tl = sizeof(f->type) - 1;
                                memcpy(f->type, s + 8 + n, tl);
                                f->type[tl] = '\0';
                                if (strcmp(f->type, "counter") &&
                                    strcmp(f->type, "gauge") &&
                                    strcmp(f->type, "histogram"))
                                        failures += fail(line, "bad type");
                        }
                } else if (*s == '#') {
                        /* a plain comment */
                } else {
                        const char *p = s;
                        n             = name_len(s, 1);
                        f             = n ? family_find(e, s, n) : NULL;
                        if (!f || !f->types)
                                f = histogram_family(e, s, n);
                        p += n;
                        if (*p == '{') {
                                size_t ll = labels_len(p);
                                if (ll == 0) {
                                        failures += fail(line, "bad labels");
                                        s = nl + 1;
                                        continue;
                                }
                                p += ll;
                        }
                        if (!f || !f->types)
                                failures += fail(line, "sample of no family");
                        else if (f->closed)
                                failures += fail(line, "family not contiguous");
                        else if (*p != ' ' ||
                                 !value_ok(p + 1, (size_t)(nl - p - 1)))
                                failures += fail(line, "bad sample");
                        if (f) {
                                f->samples++;
                                if (cur && cur != f)
                                        cur->closed = 1;
                                cur = f;
                        }
                }
                s = nl + 1;
        }
        return failures;
}

/* The value of the sample line "series value"; returns how many lines
 * name exactly this series. */
static int sample(const char *text, const char *series, double *vp)
{
        size_t      n     = strlen(series);
        const char *s     = text;
        int         found = 0;

        while (s && *s) {
                if (!strncmp(s, series, n) && s[n] == ' ') {
                        found++;
                        *vp = strtod(s + n + 1, NULL);
                }
                s = strchr(s, '\n');
                if (s)
                        s++;
        }
        return found;
}

/* sample() that must find exactly one line. */
static double value_of(const char *text, const char *series)
{
        double v = NAN;

        if (sample(text, series, &v) != 1) {
                fprintf(stderr, "  series %s: not exactly once\n", series);
                return NAN;
        }
        return v;
}

/* Number of lines that start with prefix. */
static int lines_with(const char *text, const char *prefix)
{
        size_t      n     = strlen(prefix);
        const char *s     = text;
        int         found = 0;

        while (s && *s) {
                if (!strncmp(s, prefix, n))
                        found++;
                s = strchr(s, '\n');
                if (s)
                        s++;
        }
        return found;
}

/* Checks histogram name: le ascending and ending in +Inf, counts
 * cumulative, the +Inf bucket equal to _count, a _sum present. Returns the
 * number of problems; *countp receives _count. */
static int check_histogram(const char *text, const char *name, double *countp)
{
        char        prefix[160], series[160];
        const char *s       = text;
        double      last_le = -INFINITY, last = 0, count = -1, sum;
        int         failures = 0, buckets = 0;

        snprintf(prefix, sizeof(prefix), "%s_bucket{le=\"", name);
        while (s && *s) {
                if (!strncmp(s, prefix, strlen(prefix))) {
                        const char *le    = s + strlen(prefix);
                        const char *q     = strchr(le, '"');
                        double      bound = !strncmp(le, "+Inf\"", 5)
                                                ? INFINITY
                                                : strtod(le, NULL);
                        double      v     = q ? strtod(q + 3, NULL) : -1;
                        buckets++;
                        if (!q || q[1] != '}' || bound <= last_le || v < last)
                                failures++;
                        last_le = bound;
                        last    = v;
                }
                s = strchr(s, '\n');
                if (s)
                        s++;
        }
        snprintf(series, sizeof(series), "%s_count", name);
        if (sample(text, series, &count) != 1 || count != last)
                failures++;
        snprintf(series, sizeof(series), "%s_sum", name);
        if (sample(text, series, &sum) != 1)
                failures++;
        if (buckets < 2 || !isinf(last_le))
                failures++;
        if (countp)
                *countp = count;
        return failures;
}

static char *render(ew_metrics_t *m)
{
        size_t len  = 0;
        char  *text = ew_metrics_render_alloc(m, &len);

        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        CU_ASSERT_EQUAL(strlen(text), len);
        return text;
}

/*
 * Rendering.
 */

static void test_families(void)
{
        static const struct {
                const char *name, *type;
        } want[] = {
            {P "build_info", "gauge"},
            {P "ready", "gauge"},
            {P "heartbeat_age_seconds", "gauge"},
            {P "events_consumed_total", "counter"},
            {P "outcomes_total", "counter"},
            {P "dead_letters_total", "counter"},
            {P "api_responses_total", "counter"},
            {P "retries_total", "counter"},
            {P "attempts", "histogram"},
            {P "api_latency_seconds", "histogram"},
            {P "end_to_end_latency_seconds", "histogram"},
            {P "in_flight", "gauge"},
            {P "waiting", "gauge"},
            {P "paused_partitions", "gauge"},
            {P "holding", "gauge"},
            {P "assigned_partitions", "gauge"},
            {P "producer_queue_depth", "gauge"},
            {P "circuit_state", "gauge"},
            {P "consumer_lag", "gauge"},
            {P "metric_series_dropped_total", "counter"},
        };
        char          errstr[256] = "";
        ew_metrics_t *m = ew_metrics_new(NULL, errstr, sizeof(errstr));
        expo_t        e;
        char         *text;
        int           failures = 0, i, j;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        ew_metrics_circuit_set(m, "123", EW_M_CIRCUIT_OPEN);
        text = render(m);
        CU_ASSERT_EQUAL(check_exposition(text, &e), 0);
        CU_ASSERT_EQUAL(e.cnt, (int)EW_ARRAY_SIZE(want));
        for (i = 0; i < (int)EW_ARRAY_SIZE(want); i++) {
                for (j = 0; j < e.cnt; j++)
                        if (!strcmp(e.fam[j].name, want[i].name))
                                break;
                if (j == e.cnt || strcmp(e.fam[j].type, want[i].type) ||
                    e.fam[j].helps != 1 || e.fam[j].types != 1) {
                        fprintf(stderr, "  family %s missing or wrong\n",
                                want[i].name);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* Every fixed series is present from the start, at zero. */
        CU_ASSERT_EQUAL(value_of(text, P "events_consumed_total"), 0);
        CU_ASSERT_EQUAL(
            value_of(text, P "outcomes_total{outcome=\"unavailable\"}"), 0);
        CU_ASSERT_EQUAL(value_of(text, P "ready"), 0);
        CU_ASSERT_EQUAL(lines_with(text, P "build_info{version=\""), 1);
        CU_ASSERT_EQUAL(
            lines_with(text, P "circuit_state{account=\"123\"} 1\n"), 1);
        free(text);
        ew_metrics_destroy(m);
}

static void test_counters_gauges(void)
{
        ew_metrics_t *m = ew_metrics_new("", NULL, 0);
        char         *text;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        ew_metrics_counter_add(m, EW_M_EVENTS_CONSUMED, 0, 3);
        ew_metrics_counter_add(m, EW_M_EVENTS_CONSUMED, 0, 2);
        ew_metrics_counter_add(m, EW_M_OUTCOMES, EW_M_OUTCOME_ENGAGEMENT, 2);
        ew_metrics_counter_add(m, EW_M_OUTCOMES, EW_M_OUTCOME_CONVERSATION, 1);
        ew_metrics_counter_add(m, EW_M_DEAD_LETTERS, EW_M_DEAD_REJECTED, 4);
        ew_metrics_counter_add(m, EW_M_DEAD_LETTERS,
                               EW_M_DEAD_RETRIES_EXHAUSTED, 1);
        ew_metrics_counter_add(m, EW_M_API_RESPONSES,
                               (int)ew_metrics_http_class(503), 1);
        ew_metrics_counter_add(m, EW_M_API_RESPONSES,
                               (int)ew_metrics_http_class(0), 2);
        ew_metrics_counter_add(m, EW_M_API_RESPONSES,
                               (int)ew_metrics_http_class(201), 6);
        ew_metrics_counter_add(m, EW_M_RETRIES, 0, 7);
        /* Out of range: ignored, not written next door. */
        ew_metrics_counter_add(m, EW_M_OUTCOMES, EW_M_OUTCOME_CNT, 100);
        ew_metrics_counter_add(m, EW_M_OUTCOMES, -1, 100);
        ew_metrics_counter_add(m, EW_M_EVENTS_CONSUMED, 1, 100);
        ew_metrics_counter_add(m, EW_M_COUNTER_CNT, 0, 100);
        ew_metrics_counter_add(NULL, EW_M_RETRIES, 0, 1);

        ew_metrics_gauge_set(m, EW_M_IN_FLIGHT, 12);
        ew_metrics_gauge_set(m, EW_M_WAITING, 300);
        ew_metrics_gauge_add(m, EW_M_WAITING, -45);
        ew_metrics_gauge_set(m, EW_M_PAUSED_PARTITIONS, 2);
        ew_metrics_gauge_set(m, EW_M_ASSIGNED_PARTITIONS, 6);
        ew_metrics_gauge_add(m, EW_M_PRODUCER_QUEUE_DEPTH, -3);
        ew_metrics_gauge_set(m, EW_M_GAUGE_CNT, 99);
        ew_metrics_set_ready(m, 7);

        text = render(m);
        CU_ASSERT_EQUAL(check_exposition(text, NULL), 0);
        CU_ASSERT_EQUAL(value_of(text, P "events_consumed_total"), 5);
        CU_ASSERT_EQUAL(
            value_of(text, P "outcomes_total{outcome=\"engagement\"}"), 2);
        CU_ASSERT_EQUAL(
            value_of(text, P "outcomes_total{outcome=\"conversation\"}"), 1);
        CU_ASSERT_EQUAL(
            value_of(text, P "outcomes_total{outcome=\"unavailable\"}"), 0);
        CU_ASSERT_EQUAL(
            value_of(text, P "dead_letters_total{kind=\"invalid_event\"}"), 0);
        CU_ASSERT_EQUAL(
            value_of(text, P "dead_letters_total{kind=\"rejected\"}"), 4);
        CU_ASSERT_EQUAL(
            value_of(text, P "dead_letters_total{kind=\"retries_exhausted\"}"),
            1);
        CU_ASSERT_EQUAL(value_of(text, P "api_responses_total{class=\"2xx\"}"),
                        6);
        CU_ASSERT_EQUAL(value_of(text, P "api_responses_total{class=\"3xx\"}"),
                        0);
        CU_ASSERT_EQUAL(value_of(text, P "api_responses_total{class=\"5xx\"}"),
                        1);
        CU_ASSERT_EQUAL(
            value_of(text, P "api_responses_total{class=\"transport\"}"), 2);
        CU_ASSERT_EQUAL(value_of(text, P "retries_total"), 7);
        CU_ASSERT_EQUAL(lines_with(text, P "outcomes_total{"), 3);
        CU_ASSERT_EQUAL(value_of(text, P "in_flight"), 12);
        CU_ASSERT_EQUAL(value_of(text, P "waiting"), 255);
        CU_ASSERT_EQUAL(value_of(text, P "paused_partitions"), 2);
        CU_ASSERT_EQUAL(value_of(text, P "assigned_partitions"), 6);
        CU_ASSERT_EQUAL(value_of(text, P "producer_queue_depth"), -3);
        CU_ASSERT_EQUAL(value_of(text, P "ready"), 1);
        free(text);
        ew_metrics_destroy(m);
}

static void test_http_class(void)
{
        static const struct {
                long         status;
                ew_m_class_t cls;
        } cases[] = {
            {0, EW_M_CLASS_TRANSPORT},   {-1, EW_M_CLASS_TRANSPORT},
            {100, EW_M_CLASS_TRANSPORT}, {199, EW_M_CLASS_TRANSPORT},
            {200, EW_M_CLASS_2XX},       {202, EW_M_CLASS_2XX},
            {299, EW_M_CLASS_2XX},       {301, EW_M_CLASS_3XX},
            {400, EW_M_CLASS_4XX},       {429, EW_M_CLASS_4XX},
            {499, EW_M_CLASS_4XX},       {500, EW_M_CLASS_5XX},
            {503, EW_M_CLASS_5XX},       {599, EW_M_CLASS_5XX},
            {600, EW_M_CLASS_TRANSPORT},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                if (ew_metrics_http_class(cases[i].status) != cases[i].cls) {
                        fprintf(stderr, "  status %ld: class %d, want %d\n",
                                cases[i].status,
                                (int)ew_metrics_http_class(cases[i].status),
                                (int)cases[i].cls);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_histograms(void)
{
        static const double attempts[] = {1, 1, 2, 6, 7};
        ew_metrics_t       *m          = ew_metrics_new(NULL, NULL, 0);
        double              count;
        char               *text;
        size_t              i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        for (i = 0; i < EW_ARRAY_SIZE(attempts); i++)
                ew_metrics_observe(m, EW_M_ATTEMPTS, attempts[i]);
        ew_metrics_observe(m, EW_M_API_LATENCY, 0.005);  /* on the bound */
        ew_metrics_observe(m, EW_M_API_LATENCY, 0.0051); /* next one */
        ew_metrics_observe(m, EW_M_API_LATENCY, -1);     /* as 0 */
        ew_metrics_observe(m, EW_M_API_LATENCY, NAN);    /* ignored */
        ew_metrics_observe(m, EW_M_API_LATENCY, 11);     /* +Inf only */
        ew_metrics_observe(m, EW_M_END_TO_END, 299.5);
        ew_metrics_observe(NULL, EW_M_END_TO_END, 1);
        ew_metrics_observe(m, EW_M_HISTOGRAM_CNT, 1);

        text = render(m);
        CU_ASSERT_EQUAL(check_exposition(text, NULL), 0);
        CU_ASSERT_EQUAL(check_histogram(text, P "attempts", &count), 0);
        CU_ASSERT_EQUAL(count, 5);
        CU_ASSERT_EQUAL(value_of(text, P "attempts_bucket{le=\"1\"}"), 2);
        CU_ASSERT_EQUAL(value_of(text, P "attempts_bucket{le=\"2\"}"), 3);
        CU_ASSERT_EQUAL(value_of(text, P "attempts_bucket{le=\"5\"}"), 3);
        CU_ASSERT_EQUAL(value_of(text, P "attempts_bucket{le=\"6\"}"), 4);
        CU_ASSERT_EQUAL(value_of(text, P "attempts_bucket{le=\"+Inf\"}"), 5);
        CU_ASSERT_EQUAL(value_of(text, P "attempts_sum"), 17);
        CU_ASSERT_EQUAL(lines_with(text, P "attempts_bucket{"), 7);

        CU_ASSERT_EQUAL(check_histogram(text, P "api_latency_seconds", &count),
                        0);
        CU_ASSERT_EQUAL(count, 4);
        CU_ASSERT_EQUAL(
            value_of(text, P "api_latency_seconds_bucket{le=\"0.005\"}"), 2);
        CU_ASSERT_EQUAL(
            value_of(text, P "api_latency_seconds_bucket{le=\"0.01\"}"), 3);
        CU_ASSERT_EQUAL(
            value_of(text, P "api_latency_seconds_bucket{le=\"10\"}"), 3);
        CU_ASSERT_EQUAL(lines_with(text, P "api_latency_seconds_bucket{"), 12);
        CU_ASSERT_DOUBLE_EQUAL(value_of(text, P "api_latency_seconds_sum"),
                               0.005 + 0.0051 + 11, 1e-9);

        CU_ASSERT_EQUAL(
            check_histogram(text, P "end_to_end_latency_seconds", &count), 0);
        CU_ASSERT_EQUAL(count, 1);
        CU_ASSERT_EQUAL(
            value_of(text, P "end_to_end_latency_seconds_bucket{le=\"120\"}"),
            0);
        CU_ASSERT_EQUAL(
            value_of(text, P "end_to_end_latency_seconds_bucket{le=\"300\"}"),
            1);
        free(text);
        ew_metrics_destroy(m);
}

static void test_label_escaping(void)
{
        ew_metrics_t *m = ew_metrics_new(NULL, NULL, 0);
        char          acct[EW_METRICS_MAX_LABELS + 8], *text;
        int           i, failures = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, "a\"b\\c\nd", 1), 0);
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m,
                                               "\xff\xfe"
                                               "x",
                                               2),
                        0);
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, "caf\xc3\xa9", 0), 0);
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, "gone", 1), 0);
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, "gone", 2), 0); /* update */
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, NULL, 1), -1);
        ew_metrics_circuit_remove(m, "absent");
        text = render(m);
        CU_ASSERT_EQUAL(check_exposition(text, NULL), 0);
        CU_ASSERT_EQUAL(
            value_of(text, P "circuit_state{account=\"a\\\"b\\\\c\\nd\"}"), 1);
        CU_ASSERT_EQUAL(value_of(text, P "circuit_state{account=\"??x\"}"), 2);
        CU_ASSERT_EQUAL(
            value_of(text, P "circuit_state{account=\"caf\xc3\xa9\"}"), 0);
        CU_ASSERT_EQUAL(value_of(text, P "circuit_state{account=\"gone\"}"), 2);
        CU_ASSERT_EQUAL(lines_with(text, P "circuit_state{"), 4);
        free(text);

        ew_metrics_circuit_remove(m, "gone");
        /* A label that cannot fit is refused and counted. */
        memset(acct, 'q', sizeof(acct) - 1);
        acct[sizeof(acct) - 1] = '\0';
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, acct, 1), -1);
        /* Escaping doubles quotes: 300 quotes need 600 bytes. */
        memset(acct, '"', 300);
        acct[300] = '\0';
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, acct, 1), -1);
        text = render(m);
        CU_ASSERT_EQUAL(lines_with(text, P "circuit_state{"), 3);
        CU_ASSERT_EQUAL(lines_with(text, P "circuit_state{account=\"gone\"}"),
                        0);
        CU_ASSERT_EQUAL(value_of(text, P "metric_series_dropped_total"), 2);
        free(text);

        /* The table holds EW_METRICS_MAX_SERIES series, no more. */
        for (i = 3; i < EW_METRICS_MAX_SERIES; i++) {
                char name[24];
                snprintf(name, sizeof(name), "acct-%d", i);
                failures += ew_metrics_circuit_set(m, name, 0) != 0;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, "one-too-many", 1), -1);
        CU_ASSERT_EQUAL(ew_metrics_circuit_set(m, "acct-3", 2), 0);
        text = render(m);
        CU_ASSERT_EQUAL(check_exposition(text, NULL), 0);
        CU_ASSERT_EQUAL(lines_with(text, P "circuit_state{"),
                        EW_METRICS_MAX_SERIES);
        CU_ASSERT_EQUAL(value_of(text, P "circuit_state{account=\"acct-3\"}"),
                        2);
        CU_ASSERT_EQUAL(value_of(text, P "metric_series_dropped_total"), 3);
        free(text);
        ew_metrics_destroy(m);
}

static void test_render_bounded(void)
{
        ew_metrics_t *m = ew_metrics_new(NULL, NULL, 0);
        char          small[100], *full, *exact;
        size_t        len;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        ew_metrics_circuit_set(m, "42", 1);
        /* A heartbeat ahead of the clock reads as age 0: every render of
         * this test is then the same text. */
        ew_metrics_heartbeat(m, ew_mono_ms() + 3600 * 1000);
        full = ew_metrics_render_alloc(m, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(full);
        CU_ASSERT(len > sizeof(small));
        CU_ASSERT_EQUAL(ew_metrics_render(m, NULL, 0), len);
        memset(small, 'x', sizeof(small));
        CU_ASSERT_EQUAL(ew_metrics_render(m, small, sizeof(small)), len);
        CU_ASSERT_EQUAL(strlen(small), sizeof(small) - 1);
        CU_ASSERT_EQUAL(memcmp(small, full, sizeof(small) - 1), 0);
        exact = malloc(len + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
        CU_ASSERT_EQUAL(ew_metrics_render(m, exact, len + 1), len);
        CU_ASSERT_STRING_EQUAL(exact, full);
        /* One byte short: cut, and said so. */
        CU_ASSERT_EQUAL(ew_metrics_render(m, exact, len), len);
        CU_ASSERT_EQUAL(strlen(exact), len - 1);
        free(exact);
        free(full);
        CU_ASSERT_EQUAL(ew_metrics_render(NULL, small, sizeof(small)), 0);
        CU_ASSERT_STRING_EQUAL(small, "");
        CU_ASSERT_PTR_NULL(ew_metrics_render_alloc(NULL, &len));
        ew_metrics_destroy(m);
        ew_metrics_destroy(NULL);
}

/*
 * librdkafka statistics (STATISTICS.md of librdkafka 2.0.2). Written with
 * ' for " to stay readable; joined and converted by stats_json().
 */

#define WINDOW                                                                 \
        "{'min': 0, 'max': 0, 'avg': 0, 'sum': 0, 'stddev': 0, 'p50': 0, "     \
        "'p75': 0, 'p90': 0, 'p95': 0, 'p99': 0, 'p99_99': 0, "                \
        "'outofrange': 0, 'hdrsize': 11376, 'cnt': 0}"

#define PART(id, state, committed, hi, lag)                                    \
        "'" #id "': {'partition': " #id ", 'broker': 1, 'leader': 1, "         \
        "'desired': true, 'unknown': false, 'msgq_cnt': 0, 'msgq_bytes': 0, "  \
        "'xmit_msgq_cnt': 0, 'xmit_msgq_bytes': 0, 'fetchq_cnt': 3, "          \
        "'fetchq_size': 2048, 'fetch_state': '" state "', "                    \
        "'query_offset': -1001, 'next_offset': " #hi ", 'app_offset': " #hi    \
        ", 'stored_offset': " #committed ", 'stored_leader_epoch': -1, "       \
        "'committed_offset': " #committed ", 'committed_leader_epoch': -1, "   \
        "'eof_offset': " #hi ", 'lo_offset': 0, 'hi_offset': " #hi ", "        \
        "'ls_offset': " #hi ", 'consumer_lag': " #lag ", "                     \
        "'consumer_lag_stored': " #lag ", 'leader_epoch': 0, 'txmsgs': 0, "    \
        "'txbytes': 0, 'rxmsgs': 812, 'rxbytes': 401211, 'msgs': 812, "        \
        "'rx_ver_drops': 0, 'msgs_inflight': 0, 'next_ack_seq': 0, "           \
        "'next_err_seq': 0, 'acked_msgid': 0}"

static const char *const consumer_stats[] = {
    "{'name': 'engagement-worker#consumer-2', 'client_id': "
    "'engagement-worker', 'type': 'consumer', 'ts': 5016483227792, "
    "'time': 1764000000, 'age': 60012345, 'replyq': 0, 'msg_cnt': 0, "
    "'msg_size': 0, 'msg_max': 100000, 'msg_size_max': 1073741824, "
    "'simple_cnt': 0, 'metadata_cache_cnt': 2,",
    "'brokers': {'127.0.0.1:9092/1': {'name': '127.0.0.1:9092/1', "
    "'nodeid': 1, 'nodename': '127.0.0.1:9092', 'source': 'learned', "
    "'state': 'UP', 'stateage': 59001234, 'outbuf_cnt': 0, "
    "'outbuf_msg_cnt': 0, 'waitresp_cnt': 1, 'waitresp_msg_cnt': 0, "
    "'tx': 612, 'txbytes': 80211, 'txerrs': 0, 'txretries': 0, "
    "'txidle': 120, 'req_timeouts': 0, 'rx': 611, 'rxbytes': 932113, "
    "'rxerrs': 0, 'rxcorriderrs': 0, 'rxpartial': 0, 'rxidle': 150, "
    "'zbuf_grow': 0, 'buf_grow': 0, 'wakeups': 2321, 'connects': 1, "
    "'disconnects': 0,",
    "'int_latency': " WINDOW ", 'outbuf_latency': " WINDOW ", 'rtt': " WINDOW
    ", 'throttle': " WINDOW ", 'req': {'Fetch': 580, 'OffsetCommit': 20, "
    "'Heartbeat': 11}, 'toppars': {'visitor-activity-0': {'topic': "
    "'visitor-activity', 'partition': 0}, 'visitor-activity-1': {'topic': "
    "'visitor-activity', 'partition': 1}}}},",
    "'topics': {'visitor-activity': {'topic': 'visitor-activity', "
    "'age': 60001, 'metadata_age': 3012, 'batchsize': " WINDOW
    ", 'batchcnt': " WINDOW ", 'partitions': {",
    PART(0, "active", 1200, 1242, 42) ",",
    PART(1, "active", 77, 77, 0) ",",
    /* not assigned to this member */
    PART(2, "none", -1001, -1001, -1) ",",
    /* assigned, nothing committed yet: lag unknown */
    PART(3, "active", -1001, 310, -1) ",",
    PART(4, "offset-wait", 15, 18, 3) ",",
    /* librdkafka's internal unassigned partition */
    PART(-1, "none", -1001, -1001, -1) "}},",
    "'old-topic': {'topic': 'old-topic', 'age': 90000, 'metadata_age': "
    "3012, 'batchsize': " WINDOW ", 'batchcnt': " WINDOW ", 'partitions': {",
    /* revoked a moment ago: still known, no longer fetched */
    PART(0, "stopped", 5, 12, 7) "}}},",
    "'cgrp': {'state': 'up', 'stateage': 58011, 'join_state': 'steady', "
    "'rebalance_age': 58000, 'rebalance_cnt': 1, 'rebalance_reason': "
    "'group rejoin', 'assignment_size': 4},",
    "'tx': 612, 'tx_bytes': 80211, 'rx': 611, 'rx_bytes': 932113, "
    "'txmsgs': 0, 'txmsg_bytes': 0, 'rxmsgs': 3248, 'rxmsg_bytes': "
    "1604844}",
    NULL,
};

/* A later emission: partition 0 was revoked, partition 1 fell behind. */
static const char *const consumer_stats_later[] = {
    "{'name': 'engagement-worker#consumer-2', 'type': 'consumer', "
    "'ts': 5016543227792, 'time': 1764000060, 'topics': {"
    "'visitor-activity': {'topic': 'visitor-activity', 'partitions': {",
    PART(0, "stopped", 1242, 1300, 58) ",",
    PART(1, "active", 80, 85, 5) "}}}}",
    NULL,
};

static const char *const producer_stats[] = {
    "{'name': 'engagement-worker#producer-1', 'client_id': "
    "'engagement-worker', 'type': 'producer', 'ts': 5016483227790, "
    "'time': 1764000000, 'replyq': 0, 'msg_cnt': 17, 'msg_size': 9120, "
    "'msg_max': 100000, 'msg_size_max': 1073741824, 'brokers': {}, "
    "'topics': {'engagement-outcomes': {'topic': 'engagement-outcomes', "
    "'partitions': {",
    PART(0, "none", -1001, -1001, 9) "}}}}",
    NULL,
};

/* Joins the pieces and turns ' into ". Caller frees. */
static char *stats_json(const char *const *pieces, size_t *lenp)
{
        size_t len = 0, i;
        char  *s, *p;

        for (i = 0; pieces[i]; i++)
                len += strlen(pieces[i]) + 1;
        s = malloc(len + 1);
        if (!s)
                return NULL;
        for (p = s, i = 0; pieces[i]; i++) {
                size_t n = strlen(pieces[i]);
                memcpy(p, pieces[i], n);
                p += n;
                *p++ = '\n';
        }
        *p = '\0';
        for (p = s; *p; p++)
                if (*p == '\'')
                        *p = '"';
        *lenp = len;
        return s;
}

static int update(ew_metrics_t *m, const char *json)
{
        return ew_metrics_update_from_stats(m, json, strlen(json));
}

static void test_stats_consumer(void)
{
        ew_metrics_t *m = ew_metrics_new(NULL, NULL, 0);
        size_t        len;
        char         *json, *text;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        json = stats_json(consumer_stats, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        CU_ASSERT_EQUAL(ew_metrics_update_from_stats(m, json, len), 0);
        free(json);
        text = render(m);
        CU_ASSERT_EQUAL(check_exposition(text, NULL), 0);
        CU_ASSERT_EQUAL(
            value_of(
                text,
                P "consumer_lag{topic=\"visitor-activity\",partition=\"0\"}"),
            42);
        CU_ASSERT_EQUAL(
            value_of(
                text,
                P "consumer_lag{topic=\"visitor-activity\",partition=\"1\"}"),
            0);
        CU_ASSERT_EQUAL(
            value_of(
                text,
                P "consumer_lag{topic=\"visitor-activity\",partition=\"4\"}"),
            3);
        /* -1 partition, unknown lags, partitions not fetched: no series. */
        CU_ASSERT_EQUAL(lines_with(text, P "consumer_lag{"), 3);
        CU_ASSERT_EQUAL(lines_with(text, P "consumer_lag{topic=\"old-topic\""),
                        0);
        /* The consumer's msg_cnt is not the producer's queue. */
        CU_ASSERT_EQUAL(value_of(text, P "producer_queue_depth"), 0);
        free(text);

        /* The next emission replaces the set. */
        json = stats_json(consumer_stats_later, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        CU_ASSERT_EQUAL(ew_metrics_update_from_stats(m, json, len), 0);
        free(json);
        text = render(m);
        CU_ASSERT_EQUAL(lines_with(text, P "consumer_lag{"), 1);
        CU_ASSERT_EQUAL(
            value_of(
                text,
                P "consumer_lag{topic=\"visitor-activity\",partition=\"1\"}"),
            5);
        free(text);
        ew_metrics_destroy(m);
}

static void test_stats_producer(void)
{
        ew_metrics_t *m = ew_metrics_new(NULL, NULL, 0);
        size_t        len;
        char         *json, *text;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        json = stats_json(producer_stats, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        CU_ASSERT_EQUAL(ew_metrics_update_from_stats(m, json, len), 0);
        free(json);
        text = render(m);
        CU_ASSERT_EQUAL(value_of(text, P "producer_queue_depth"), 17);
        /* A producer's partitions say nothing about consumer lag. */
        CU_ASSERT_EQUAL(lines_with(text, P "consumer_lag{"), 0);
        free(text);
        ew_metrics_destroy(m);
}

static void test_stats_invalid(void)
{
        static const char *const bad[] = {
            "",
            "{",
            "[]",
            "null",
            "42",
            "\"consumer\"",
            "{\"type\": }",
            "{\"type\": \"consumer\", \"topics\": {",
        };
        ew_metrics_t *m = ew_metrics_new(NULL, NULL, 0);
        size_t        len, i;
        char         *json, *text;
        int           failures = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        json = stats_json(consumer_stats, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        CU_ASSERT_EQUAL(ew_metrics_update_from_stats(m, json, len), 0);
        for (i = 0; i < EW_ARRAY_SIZE(bad); i++) {
                if (ew_metrics_update_from_stats(m, bad[i], strlen(bad[i])) !=
                    -1) {
                        fprintf(stderr, "  accepted: %s\n", bad[i]);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* Only the first len bytes count: a cut document is refused. */
        CU_ASSERT_EQUAL(ew_metrics_update_from_stats(m, json, len / 2), -1);
        CU_ASSERT_EQUAL(ew_metrics_update_from_stats(m, NULL, 0), -1);
        CU_ASSERT_EQUAL(ew_metrics_update_from_stats(NULL, json, len), -1);
        free(json);
        /* Objects of no known type, or with fields of the wrong type,
         * change nothing. */
        CU_ASSERT_EQUAL(update(m, "{}"), 0);
        CU_ASSERT_EQUAL(update(m, "{\"type\": \"admin\"}"), 0);
        CU_ASSERT_EQUAL(
            update(m, "{\"type\": \"producer\", \"msg_cnt\": \"9\"}"), 0);
        text = render(m);
        CU_ASSERT_EQUAL(lines_with(text, P "consumer_lag{"), 3);
        CU_ASSERT_EQUAL(value_of(text, P "producer_queue_depth"), 0);
        free(text);
        /* Wrong types inside a consumer document: those series left out. */
        CU_ASSERT_EQUAL(
            update(m, "{\"type\": \"consumer\", \"topics\": {\"t\": "
                      "{\"partitions\": {\"0\": {\"consumer_lag\": \"5\"}, "
                      "\"x\": {\"consumer_lag\": 5}, \"1\": [], \"2\": "
                      "{\"consumer_lag\": 8}}}, \"u\": 3}}"),
            0);
        text = render(m);
        CU_ASSERT_EQUAL(lines_with(text, P "consumer_lag{"), 1);
        CU_ASSERT_EQUAL(
            value_of(text, P "consumer_lag{topic=\"t\",partition=\"2\"}"), 8);
        free(text);
        ew_metrics_destroy(m);
}

/*
 * HTTP.
 */

typedef struct reply {
        long   status;
        char  *body;
        size_t len;
        char   ctype[128];
        char   allow[128];
} reply_t;

#define MAX_BODY (4 * 1024 * 1024)

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
        reply_t *r = arg;
        size_t   n = size * nmemb;
        char    *body;

        if (r->len + n > MAX_BODY)
                return 0;
        body = realloc(r->body, r->len + n + 1);
        if (!body)
                return 0;
        memcpy(body + r->len, data, n);
        r->body = body;
        r->len += n;
        r->body[r->len] = '\0';
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
        reply_t *r = arg;
        size_t   n = size * nmemb;

        if (n > 6 && strncasecmp(data, "Allow:", 6) == 0) {
                size_t k =
                    n - 6 < sizeof(r->allow) - 1 ? n - 6 : sizeof(r->allow) - 1;
                memcpy(r->allow, data + 6, k);
                r->allow[k] = '\0';
        }
        return n;
}

static void reply_clear(reply_t *r)
{
        free(r->body);
        memset(r, 0, sizeof(*r));
}

/* One request to host (a numeric address, IPv6 in brackets) on h (reused:
 * keeps its connection). Returns 0 or -1. */
static int http_at(CURL *h, const char *host, int port, const char *method,
                   const char *path, reply_t *r)
{
        char     url[256];
        char    *ctype = NULL;
        CURLcode rc;

        reply_clear(r);
        snprintf(url, sizeof(url), "http://%s:%d%s", host, port, path);
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
        if (!strcmp(method, "HEAD"))
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        else if (!strcmp(method, "POST"))
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, "a=1");
        else if (strcmp(method, "GET") != 0)
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        rc = curl_easy_perform(h);
        if (rc != CURLE_OK) {
                fprintf(stderr, "  %s %s: %s\n", method, url,
                        curl_easy_strerror(rc));
                return -1;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK &&
            ctype)
                snprintf(r->ctype, sizeof(r->ctype), "%s", ctype);
        if (!r->body)
                r->body = calloc(1, 1);
        return r->body ? 0 : -1;
}

static int http(CURL *h, int port, const char *method, const char *path,
                reply_t *r)
{
        return http_at(h, "127.0.0.1", port, method, path, r);
}

/* Whether this host can listen on ::1 at all (checked without ew_metrics). */
static int ipv6_loopback_usable(void)
{
        struct sockaddr_in6 sa;
        int                 fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

        if (fd == -1)
                return 0;
        memset(&sa, 0, sizeof(sa));
        sa.sin6_family = AF_INET6;
        sa.sin6_addr   = in6addr_loopback;
        ok             = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

static void test_http_endpoints(void)
{
        char          errstr[256] = "";
        ew_metrics_t *m = ew_metrics_new("127.0.0.1:0", errstr, sizeof(errstr));
        CURL         *h = curl_easy_init();
        reply_t       r;
        int           port;

        memset(&r, 0, sizeof(r));
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        if (!m)
                fprintf(stderr, "  %s\n", errstr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        port = ew_metrics_port(m);
        CU_ASSERT(port > 0 && port < 65536);
        ew_metrics_counter_add(m, EW_M_EVENTS_CONSUMED, 0, 41);
        ew_metrics_heartbeat(m, ew_mono_ms());

        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/metrics", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT_STRING_EQUAL(r.ctype,
                               "text/plain; version=0.0.4; charset=utf-8");
        CU_ASSERT_EQUAL(check_exposition(r.body, NULL), 0);
        CU_ASSERT_EQUAL(value_of(r.body, P "events_consumed_total"), 41);
        CU_ASSERT_EQUAL(value_of(r.body, P "ready"), 0);

        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/metrics?x=1", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "HEAD", "/metrics", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT_EQUAL(r.len, 0);

        /* Health: fresh, stale, fresh again under a longer maximum. */
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/healthz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT_STRING_EQUAL(r.body, "ok\n");
        ew_metrics_heartbeat(m, ew_mono_ms() - 20000);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/healthz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 503);
        CU_ASSERT_EQUAL(strncmp(r.body, "stale: last heartbeat 20", 24), 0);
        ew_metrics_set_max_age(m, 60000);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/healthz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        ew_metrics_set_max_age(m, 1000);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "HEAD", "/healthz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 503);
        CU_ASSERT_EQUAL(r.len, 0);
        ew_metrics_heartbeat(m, ew_mono_ms());
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/healthz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);

        /* Readiness. */
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/readyz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 503);
        ew_metrics_set_ready(m, 1);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/readyz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT_STRING_EQUAL(r.body, "ready\n");
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/metrics", &r), 0);
        CU_ASSERT_EQUAL(value_of(r.body, P "ready"), 1);
        ew_metrics_set_ready(m, 0);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/readyz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 503);

        /* Unknown paths and methods. */
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/", &r), 0);
        CU_ASSERT_EQUAL(r.status, 404);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/metricsx", &r), 0);
        CU_ASSERT_EQUAL(r.status, 404);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "POST", "/metrics", &r), 0);
        CU_ASSERT_EQUAL(r.status, 405);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.allow, "GET, HEAD"));
        CU_ASSERT_EQUAL_FATAL(http(h, port, "DELETE", "/healthz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 405);
        CU_ASSERT_EQUAL_FATAL(http(h, port, "PUT", "/readyz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 405);
        /* Still serving after the refusals. */
        CU_ASSERT_EQUAL_FATAL(http(h, port, "GET", "/metrics", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);

        reply_clear(&r);
        curl_easy_cleanup(h);
        ew_metrics_destroy(m);
}

static void test_http_any_address(void)
{
        char          errstr[256] = "";
        ew_metrics_t *m = ew_metrics_new(":0", errstr, sizeof(errstr));
        CURL         *h = curl_easy_init();
        reply_t       r;

        memset(&r, 0, sizeof(r));
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT(ew_metrics_port(m) > 0);
        CU_ASSERT_EQUAL_FATAL(
            http(h, ew_metrics_port(m), "GET", "/healthz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        reply_clear(&r);
        curl_easy_cleanup(h);
        ew_metrics_destroy(m);
}

static void test_http_ipv6(void)
{
        char          errstr[256] = "";
        ew_metrics_t *m;
        CURL         *h;
        reply_t       r;

        if (!ipv6_loopback_usable()) {
                fprintf(stderr, "  (no IPv6 loopback here: skipped)\n");
                return;
        }
        m = ew_metrics_new("[::1]:0", errstr, sizeof(errstr));
        if (!m)
                fprintf(stderr, "  %s\n", errstr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        h = curl_easy_init();
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        memset(&r, 0, sizeof(r));
        CU_ASSERT_EQUAL_FATAL(
            http_at(h, "[::1]", ew_metrics_port(m), "GET", "/readyz", &r), 0);
        CU_ASSERT_EQUAL(r.status, 503);
        reply_clear(&r);
        curl_easy_cleanup(h);
        ew_metrics_destroy(m);
}

static void test_http_disabled(void)
{
        char          errstr[64] = "";
        ew_metrics_t *m          = ew_metrics_new("", errstr, sizeof(errstr));
        char          buf[64];

        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL(ew_metrics_port(m), -1);
        CU_ASSERT(ew_metrics_render(m, buf, sizeof(buf)) > sizeof(buf));
        ew_metrics_destroy(m);
        m = ew_metrics_new(NULL, errstr, sizeof(errstr));
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL(ew_metrics_port(m), -1);
        ew_metrics_destroy(m);
        CU_ASSERT_EQUAL(ew_metrics_port(NULL), -1);
}

static void test_http_bad_listen(void)
{
        static const char *const bad[] = {
            "9464",
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:123456",
            "127.0.0.1:12a",
            "127.0.0.1:-1",
            ":",
        };
        char          errstr[256], listen[64];
        ew_metrics_t *m, *other;
        size_t        i;
        int           failures = 0;

        for (i = 0; i < EW_ARRAY_SIZE(bad); i++) {
                errstr[0] = '\0';
                m         = ew_metrics_new(bad[i], errstr, sizeof(errstr));
                if (m || !strstr(errstr, "metrics.listen")) {
                        fprintf(stderr, "  \"%s\": %s\n", bad[i],
                                m ? "accepted" : errstr);
                        failures++;
                }
                ew_metrics_destroy(m);
        }
        CU_ASSERT_EQUAL(failures, 0);

        /* A port in use: refused with the reason. */
        m = ew_metrics_new("127.0.0.1:0", errstr, sizeof(errstr));
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", ew_metrics_port(m));
        errstr[0] = '\0';
        other     = ew_metrics_new(listen, errstr, sizeof(errstr));
        CU_ASSERT_PTR_NULL(other);
        CU_ASSERT_PTR_NOT_NULL(strstr(errstr, "cannot listen"));
        ew_metrics_destroy(other);
        ew_metrics_destroy(m);
}

/*
 * Concurrency: updates on two threads while the server renders.
 */

#define ACCOUNTS 8

typedef struct updater {
        ew_metrics_t *m;
        atomic_int   *stop;
        const char   *stats;
        size_t        stats_len;
        uint64_t      done;
} updater_t;

static void *update_loop(void *arg)
{
        static const char *const accounts[ACCOUNTS] = {
            "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008"};
        updater_t *u = arg;
        uint64_t   n = 0;

        while (!atomic_load(u->stop)) {
                ew_metrics_counter_add(u->m, EW_M_EVENTS_CONSUMED, 0, 1);
                ew_metrics_counter_add(u->m, EW_M_API_RESPONSES,
                                       (int)(n % EW_M_CLASS_CNT), 1);
                ew_metrics_observe(u->m, EW_M_API_LATENCY,
                                   (double)(n % 2000) / 1000.0);
                ew_metrics_gauge_set(u->m, EW_M_IN_FLIGHT, (int64_t)(n % 50));
                ew_metrics_heartbeat(u->m, ew_mono_ms());
                if (n % 64 == 0)
                        ew_metrics_circuit_set(u->m,
                                               accounts[n / 64 % ACCOUNTS],
                                               (ew_m_circuit_t)(n % 3));
                if (n % 512 == 0)
                        ew_metrics_circuit_remove(u->m,
                                                  accounts[n / 512 % ACCOUNTS]);
                if (n % 1024 == 0)
                        ew_metrics_update_from_stats(u->m, u->stats,
                                                     u->stats_len);
                n++;
        }
        u->done = n;
        return NULL;
}

static void test_concurrent_scrapes(void)
{
        ew_metrics_t *m    = ew_metrics_new("127.0.0.1:0", NULL, 0);
        CURL         *h    = curl_easy_init();
        atomic_int    stop = 0;
        updater_t     u[2];
        pthread_t     th[2];
        double        events = 0, last_events = 0, count;
        int           i, failures = 0, bad_status = 0;
        reply_t       r;
        size_t        len;
        char         *json;

        memset(&r, 0, sizeof(r));
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        json = stats_json(consumer_stats, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(json);
        for (i = 0; i < 2; i++) {
                u[i].m         = m;
                u[i].stop      = &stop;
                u[i].stats     = json;
                u[i].stats_len = len;
                u[i].done      = 0;
                CU_ASSERT_EQUAL_FATAL(
                    pthread_create(&th[i], NULL, update_loop, &u[i]), 0);
        }
        for (i = 0; i < 1000; i++) {
                if (http(h, ew_metrics_port(m), "GET", "/metrics", &r) != 0 ||
                    r.status != 200) {
                        bad_status++;
                        continue;
                }
                failures += check_exposition(r.body, NULL);
                failures +=
                    check_histogram(r.body, P "api_latency_seconds", &count);
                if (sample(r.body, P "events_consumed_total", &events) != 1 ||
                    events < last_events) {
                        failures++;
                        continue;
                }
                last_events = events;
        }
        atomic_store(&stop, 1);
        for (i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(bad_status, 0);
        CU_ASSERT_EQUAL(failures, 0);

        /* Quiet now: every update is counted exactly. */
        CU_ASSERT_EQUAL_FATAL(
            http(h, ew_metrics_port(m), "GET", "/metrics", &r), 0);
        CU_ASSERT_EQUAL(value_of(r.body, P "events_consumed_total"),
                        (double)(u[0].done + u[1].done));
        CU_ASSERT_EQUAL(
            check_histogram(r.body, P "api_latency_seconds", &count), 0);
        CU_ASSERT_EQUAL(count, (double)(u[0].done + u[1].done));
        CU_ASSERT(u[0].done > 0 && u[1].done > 0);
        CU_ASSERT_EQUAL(lines_with(r.body, P "consumer_lag{"), 3);
        reply_clear(&r);
        free(json);
        curl_easy_cleanup(h);
        ew_metrics_destroy(m);
}

static const ew_test_case_t render_cases[] = {
    {"families", test_families},
    {"counters_gauges", test_counters_gauges},
    {"http_class", test_http_class},
    {"histograms", test_histograms},
    {"label_escaping", test_label_escaping},
    {"bounded", test_render_bounded},
    {NULL, NULL},
};

static const ew_test_case_t stats_cases[] = {
    {"consumer", test_stats_consumer},
    {"producer", test_stats_producer},
    {"invalid", test_stats_invalid},
    {NULL, NULL},
};

static const ew_test_case_t http_cases[] = {
    {"endpoints", test_http_endpoints},
    {"any_address", test_http_any_address},
    {"ipv6", test_http_ipv6},
    {"disabled", test_http_disabled},
    {"bad_listen", test_http_bad_listen},
    {"concurrent_scrapes", test_concurrent_scrapes},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"render", render_cases},
    {"stats", stats_cases},
    {"http", http_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        int rc;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return 2;
        rc = ew_test_main(argc, argv, suites);
        curl_global_cleanup();
        return rc;
}
