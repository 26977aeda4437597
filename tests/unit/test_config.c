/*
 * test_config - ew_config: every key, defaults, every error path, ${VAR}
 * expansion, secret masking, print/reload round trip, the reference table
 * and the example configurations under config/.
 *
 * Most cases load in-memory YAML named "case.yaml", so error messages can
 * be checked for "case.yaml:LINE:"; a few use files under
 * tests/data/config/ (EW_TEST_DATA) and config/ (EW_SOURCE_DIR).
 */
#include "ew_config.h"
#include "ew_test.h"
#include "ew_util.h"
#include "ew_version.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "case.yaml"

static ew_config_t *load_str(const char *yaml, char *err, size_t size)
{
        err[0] = '\0';
        return ew_config_load_string(yaml, strlen(yaml), NAME, err, size);
}

static int streq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* Loads yaml expecting an error that names case.yaml and line (line 0: no
 * position), the key in quotes (NULL: not checked) and contains want (NULL:
 * not checked). Returns 1 if so, else prints why and returns 0. */
static int expect_error(const char *yaml, int line, const char *key,
                        const char *want)
{
        char         err[1024], where[64], quoted[300];
        ew_config_t *conf = load_str(yaml, err, sizeof(err));

        if (conf) {
                printf("\n  loaded, expected an error: %s\n", yaml);
                ew_config_destroy(conf);
                return 0;
        }
        if (line > 0)
                snprintf(where, sizeof(where), "%s:%d:", NAME, line);
        else
                snprintf(where, sizeof(where), "%s: ", NAME);
        if (strncmp(err, where, strlen(where)) != 0) {
                printf("\n  message '%s' does not start with '%s'\n", err,
                       where);
                return 0;
        }
        snprintf(quoted, sizeof(quoted), "'%s'", key ? key : "");
        if (key && !strstr(err, quoted)) {
                printf("\n  message '%s' does not name %s\n", err, quoted);
                return 0;
        }
        if (want && !strstr(err, want)) {
                printf("\n  message '%s' does not contain '%s'\n", err, want);
                return 0;
        }
        return 1;
}

/* Writes the output of ew_config_print (or of the reference when conf is
 * NULL) into a new string. */
static char *print_to_string(const ew_config_t *conf)
{
        char  *buf = NULL;
        size_t len = 0;
        FILE  *fp  = open_memstream(&buf, &len);

        if (!fp)
                return NULL;
        if (conf)
                ew_config_print(conf, fp);
        else
                ew_config_print_reference(fp);
        fclose(fp);
        return buf;
}

static const char *kv_get(const ew_kvlist_t *kvl, const char *key)
{
        size_t i;

        for (i = 0; i < kvl->cnt; i++)
                if (strcmp(kvl->items[i].key, key) == 0)
                        return kvl->items[i].value;
        return NULL;
}

/* Number of fields in which a and b differ; each difference is printed.
 * Properties are compared in order. */
static int config_diff(const ew_config_t *a, const ew_config_t *b)
{
        int    n = 0, i;
        size_t j;

#define DIFF_S(f)                                                              \
        do {                                                                   \
                if (!streq(a->f, b->f)) {                                      \
                        printf("\n  %s: '%s' != '%s'", #f,                     \
                               a->f ? a->f : "(null)",                         \
                               b->f ? b->f : "(null)");                        \
                        n++;                                                   \
                }                                                              \
        } while (0)
#define DIFF_N(f)                                                              \
        do {                                                                   \
                if (a->f != b->f) {                                            \
                        printf("\n  %s: %g != %g", #f, (double)a->f,           \
                               (double)b->f);                                  \
                        n++;                                                   \
                }                                                              \
        } while (0)
        DIFF_S(kafka.brokers);
        DIFF_S(kafka.group_id);
        DIFF_S(kafka.input_topic);
        DIFF_S(kafka.output_topic);
        DIFF_S(kafka.dead_letter_topic);
        DIFF_N(kafka.properties.cnt);
        for (j = 0; j < a->kafka.properties.cnt && j < b->kafka.properties.cnt;
             j++) {
                DIFF_S(kafka.properties.items[j].key);
                DIFF_S(kafka.properties.items[j].value);
        }
        DIFF_S(monitoring.base_url);
        DIFF_S(monitoring.csds_base_url);
        DIFF_S(monitoring.discovered_scheme);
        DIFF_S(monitoring.account_id);
        DIFF_S(monitoring.app_installation_id);
        DIFF_N(monitoring.api_version);
        DIFF_N(monitoring.timeout_ms);
        DIFF_N(monitoring.connect_timeout_ms);
        DIFF_N(monitoring.max_in_flight);
        DIFF_S(monitoring.ca_bundle);
        DIFF_N(monitoring.insecure_skip_verify);
        DIFF_N(monitoring.rate_limit_per_s);
        DIFF_S(monitoring.user_agent);
        DIFF_N(retry.delays_cnt);
        for (i = 0; i < a->retry.delays_cnt && i < EW_CONFIG_MAX_DELAYS; i++)
                DIFF_N(retry.delays_ms[i]);
        DIFF_N(retry.jitter);
        DIFF_N(worker.shutdown_timeout_ms);
        DIFF_N(worker.session_ttl_s);
        DIFF_N(worker.session_cache_size);
        DIFF_N(worker.max_event_bytes);
        DIFF_N(worker.queue_high_watermark);
        DIFF_N(worker.queue_low_watermark);
        DIFF_N(worker.hold_max_ms);
        DIFF_S(identity.hash_key);
        DIFF_S(log.level);
        DIFF_S(log.format);
        DIFF_S(metrics.listen);
#undef DIFF_S
#undef DIFF_N
        return n;
}

/* Every key name, as the reference and the print output must show them. */
static const char *const all_keys[] = {
    "kafka.brokers",
    "kafka.group_id",
    "kafka.input_topic",
    "kafka.output_topic",
    "kafka.dead_letter_topic",
    "kafka.properties",
    "monitoring.base_url",
    "monitoring.csds_base_url",
    "monitoring.discovered_scheme",
    "monitoring.account_id",
    "monitoring.app_installation_id",
    "monitoring.api_version",
    "monitoring.timeout_ms",
    "monitoring.connect_timeout_ms",
    "monitoring.max_in_flight",
    "monitoring.ca_bundle",
    "monitoring.insecure_skip_verify",
    "monitoring.rate_limit_per_s",
    "monitoring.domain_ttl_s",
    "monitoring.circuit_failure_ratio",
    "monitoring.circuit_min_requests",
    "monitoring.circuit_window_ms",
    "monitoring.circuit_cooldown_ms",
    "monitoring.user_agent",
    "retry.delays_ms",
    "retry.jitter",
    "worker.shutdown_timeout_ms",
    "worker.session_ttl_s",
    "worker.session_cache_size",
    "worker.max_event_bytes",
    "worker.queue_high_watermark",
    "worker.queue_low_watermark",
    "worker.hold_max_ms",
    "identity.hash_key",
    "log.level",
    "log.format",
    "metrics.listen",
    NULL,
};

/*
 * Defaults and a full file
 */

static void test_defaults(void)
{
        ew_config_t     *conf     = ew_config_new_defaults();
        static const int delays[] = {3000, 10000, 30000, 90000};
        int              i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_PTR_NULL(conf->path);
        CU_ASSERT_PTR_NULL(conf->kafka.brokers);
        CU_ASSERT_STRING_EQUAL(conf->kafka.group_id, "engagement-worker");
        CU_ASSERT_STRING_EQUAL(conf->kafka.input_topic, "visitor-activity");
        CU_ASSERT_STRING_EQUAL(conf->kafka.output_topic, "engagement-outcomes");
        CU_ASSERT_STRING_EQUAL(conf->kafka.dead_letter_topic,
                               "engagement-dead-letter");
        CU_ASSERT_EQUAL(conf->kafka.properties.cnt, 0);
        CU_ASSERT_PTR_NULL(conf->monitoring.base_url);
        CU_ASSERT_STRING_EQUAL(conf->monitoring.csds_base_url,
                               "https://api.liveperson.net");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.discovered_scheme, "https");
        CU_ASSERT_PTR_NULL(conf->monitoring.account_id);
        CU_ASSERT_PTR_NULL(conf->monitoring.app_installation_id);
        CU_ASSERT_EQUAL(conf->monitoring.api_version, EW_API_V1_1);
        CU_ASSERT_EQUAL(conf->monitoring.timeout_ms, 10000);
        CU_ASSERT_EQUAL(conf->monitoring.connect_timeout_ms, 3000);
        CU_ASSERT_EQUAL(conf->monitoring.max_in_flight, 200);
        CU_ASSERT_PTR_NULL(conf->monitoring.ca_bundle);
        CU_ASSERT_EQUAL(conf->monitoring.insecure_skip_verify, 0);
        CU_ASSERT_DOUBLE_EQUAL(conf->monitoring.rate_limit_per_s, 0.0, 0.0);
        CU_ASSERT_STRING_EQUAL(conf->monitoring.user_agent,
                               "engagement-worker/" EW_VERSION);
        CU_ASSERT_EQUAL_FATAL(conf->retry.delays_cnt, 4);
        for (i = 0; i < 4; i++)
                CU_ASSERT_EQUAL(conf->retry.delays_ms[i], delays[i]);
        CU_ASSERT_DOUBLE_EQUAL(conf->retry.jitter, 0.1, 0.0);
        CU_ASSERT_EQUAL(conf->worker.shutdown_timeout_ms, 30000);
        CU_ASSERT_EQUAL(conf->worker.session_ttl_s, 1800);
        CU_ASSERT_EQUAL(conf->worker.session_cache_size, 100000);
        CU_ASSERT_EQUAL(conf->worker.max_event_bytes, 65536);
        CU_ASSERT_EQUAL(conf->worker.queue_high_watermark, 5000);
        CU_ASSERT_EQUAL(conf->worker.queue_low_watermark, 2500);
        CU_ASSERT_EQUAL(conf->worker.hold_max_ms, 2000);
        CU_ASSERT_PTR_NULL(conf->identity.hash_key);
        CU_ASSERT_STRING_EQUAL(conf->log.level, "info");
        CU_ASSERT_STRING_EQUAL(conf->log.format, "text");
        CU_ASSERT_STRING_EQUAL(conf->metrics.listen, "0.0.0.0:9464");
        ew_config_destroy(conf);
        ew_config_destroy(NULL); /* a no-op */
}

static void test_minimal_file_keeps_defaults(void)
{
        char         err[512];
        ew_config_t *defaults = ew_config_new_defaults();
        ew_config_t *conf =
            load_str("kafka:\n  brokers: b1:9092\n", err, sizeof(err));

        CU_ASSERT_PTR_NOT_NULL_FATAL(defaults);
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_STRING_EQUAL(conf->path, NAME);
        CU_ASSERT_STRING_EQUAL(conf->kafka.brokers, "b1:9092");
        defaults->kafka.brokers = strdup("b1:9092");
        CU_ASSERT_EQUAL(config_diff(defaults, conf), 0);
        ew_config_destroy(defaults);
        ew_config_destroy(conf);
}

static void test_full_file(void)
{
        char         err[512];
        ew_config_t *conf =
            ew_config_load(ew_test_data("config/full.yaml"), err, sizeof(err));
        const ew_kvlist_t *p;

        if (!conf)
                printf("\n  %s\n", err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_PTR_NOT_NULL(strstr(conf->path, "config/full.yaml"));
        CU_ASSERT_STRING_EQUAL(conf->kafka.brokers, "k1:9092,k2:9092");
        CU_ASSERT_STRING_EQUAL(conf->kafka.group_id, "group-full");
        CU_ASSERT_STRING_EQUAL(conf->kafka.input_topic, "in.topic");
        CU_ASSERT_STRING_EQUAL(conf->kafka.output_topic, "out.topic");
        CU_ASSERT_STRING_EQUAL(conf->kafka.dead_letter_topic, "dlq.topic");
        p = &conf->kafka.properties;
        CU_ASSERT_EQUAL_FATAL(p->cnt, 9);
        /* File order is kept; every scalar is kept as its text. */
        CU_ASSERT_STRING_EQUAL(p->items[0].key, "security.protocol");
        CU_ASSERT_STRING_EQUAL(p->items[0].value, "SASL_SSL");
        CU_ASSERT_STRING_EQUAL(p->items[8].key, "client.rack");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "sasl.mechanisms"), "PLAIN");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "sasl.username"), "worker");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "sasl.password"), "full-secret-pw");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "ssl.key.location"),
                               "/etc/ew/client.key");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "ssl.key.password"), "keypass-123");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "socket.keepalive.enable"), "true");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "fetch.wait.max.ms"), "250");
        CU_ASSERT_STRING_EQUAL(kv_get(p, "client.rack"), "~");
        /* The trailing '/' of base_url is removed. */
        CU_ASSERT_STRING_EQUAL(conf->monitoring.base_url,
                               "https://va.example.net");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.csds_base_url,
                               "http://csds.example.net:8081");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.discovered_scheme, "http");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.account_id, "87654321");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.app_installation_id,
                               "app-full-1");
        CU_ASSERT_EQUAL(conf->monitoring.api_version, EW_API_V1_0);
        CU_ASSERT_EQUAL(conf->monitoring.timeout_ms, 20000);
        CU_ASSERT_EQUAL(conf->monitoring.connect_timeout_ms, 1500);
        CU_ASSERT_EQUAL(conf->monitoring.max_in_flight, 64);
        CU_ASSERT_STRING_EQUAL(conf->monitoring.ca_bundle, "/etc/ssl/ca.pem");
        CU_ASSERT_EQUAL(conf->monitoring.insecure_skip_verify, 1);
        CU_ASSERT_DOUBLE_EQUAL(conf->monitoring.rate_limit_per_s, 12.5, 0.0);
        CU_ASSERT_STRING_EQUAL(conf->monitoring.user_agent, "full-agent/9");
        CU_ASSERT_EQUAL_FATAL(conf->retry.delays_cnt, 3);
        CU_ASSERT_EQUAL(conf->retry.delays_ms[0], 100);
        CU_ASSERT_EQUAL(conf->retry.delays_ms[1], 200);
        CU_ASSERT_EQUAL(conf->retry.delays_ms[2], 400);
        CU_ASSERT_DOUBLE_EQUAL(conf->retry.jitter, 0.25, 0.0);
        CU_ASSERT_EQUAL(conf->worker.shutdown_timeout_ms, 5000);
        CU_ASSERT_EQUAL(conf->worker.session_ttl_s, 60);
        CU_ASSERT_EQUAL(conf->worker.session_cache_size, 1000);
        CU_ASSERT_EQUAL(conf->worker.max_event_bytes, 4096);
        CU_ASSERT_EQUAL(conf->worker.queue_high_watermark, 800);
        CU_ASSERT_EQUAL(conf->worker.queue_low_watermark, 100);
        CU_ASSERT_STRING_EQUAL(conf->identity.hash_key,
                               "0123456789abcdef-full-hash-key");
        CU_ASSERT_STRING_EQUAL(conf->log.level, "debug");
        CU_ASSERT_STRING_EQUAL(conf->log.format, "json");
        CU_ASSERT_STRING_EQUAL(conf->metrics.listen, "127.0.0.1:19464");
        CU_ASSERT_STRING_EQUAL(ew_api_version_str(EW_API_V1_0), "1.0");
        CU_ASSERT_STRING_EQUAL(ew_api_version_str(EW_API_V1_1), "1.1");
        ew_config_destroy(conf);
}

/* Values accepted for keys with a special syntax, and what they become. */
static void test_accepted_values(void)
{
        static const struct {
                const char *yaml; /* lines after "kafka:\n  brokers: b:1\n" */
                const char *field;
                const char *want; /* string result; NULL: unset */
        } cases[] = {
            {"monitoring:\n  base_url: http://h:8080//\n", "base_url",
             "http://h:8080"},
            {"monitoring:\n  base_url: https://h/prefix\n", "base_url",
             "https://h/prefix"},
            {"monitoring:\n  base_url: ~\n", "base_url", NULL},
            {"monitoring:\n  base_url:\n", "base_url", NULL},
            {"monitoring:\n  base_url: \"\"\n", "base_url", NULL},
            {"monitoring:\n  base_url: null\n", "base_url", NULL},
            {"monitoring:\n  account_id: ''\n", "account_id", NULL},
            {"monitoring:\n  account_id: 00012\n", "account_id", "00012"},
            {"metrics:\n  listen: \"\"\n", "listen", ""},
            {"metrics:\n  listen: \"[::1]:0\"\n", "listen", "[::1]:0"},
            {"metrics:\n  listen: localhost:65535\n", "listen",
             "localhost:65535"},
            {"log:\n  level: warn\n", "level", "warn"},
            {"log:\n  level: error\n", "level", "error"},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char         yaml[512], err[512];
                ew_config_t *conf;
                const char  *got;
                snprintf(yaml, sizeof(yaml), "kafka:\n  brokers: b:1\n%s",
                         cases[i].yaml);
                conf = load_str(yaml, err, sizeof(err));
                if (!conf) {
                        printf("\n  case %zu: %s", i, err);
                        failures++;
                        continue;
                }
                if (strcmp(cases[i].field, "base_url") == 0)
                        got = conf->monitoring.base_url;
                else if (strcmp(cases[i].field, "account_id") == 0)
                        got = conf->monitoring.account_id;
                else if (strcmp(cases[i].field, "level") == 0)
                        got = conf->log.level;
                else
                        got = conf->metrics.listen;
                if (!streq(got, cases[i].want)) {
                        printf("\n  case %zu: got '%s'", i,
                               got ? got : "(null)");
                        failures++;
                }
                ew_config_destroy(conf);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_booleans(void)
{
        static const struct {
                const char *text;
                int         want;
        } cases[] = {{"true", 1},  {"false", 0}, {"True", 1},
                     {"FALSE", 0}, {"yes", 1},   {"no", 0},
                     {"on", 1},    {"off", 0},   {"\"true\"", 1}};
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char         yaml[256], err[512];
                ew_config_t *conf;
                snprintf(yaml, sizeof(yaml),
                         "kafka:\n  brokers: b:1\nmonitoring:\n"
                         "  insecure_skip_verify: %s\n",
                         cases[i].text);
                conf = load_str(yaml, err, sizeof(err));
                if (!conf ||
                    conf->monitoring.insecure_skip_verify != cases[i].want) {
                        printf("\n  '%s': %s", cases[i].text,
                               conf ? "wrong value" : err);
                        failures++;
                }
                ew_config_destroy(conf);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/*
 * Errors
 */

/* The documented message, in full. */
static void test_error_message_format(void)
{
        char         err[512];
        ew_config_t *conf = load_str("kafka:\n  brokers: b:1\nmonitoring:\n"
                                     "  timeout_ms: abc\n",
                                     err, sizeof(err));

        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_STRING_EQUAL(err,
                               "case.yaml:4:15: key 'monitoring.timeout_ms': "
                               "must be an integer between 100 and 600000, "
                               "got 'abc'");
        conf = load_str("kafka:\n  brokers: b:1\nmonitoring:\n"
                        "  timout_ms: 5\n",
                        err, sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_STRING_EQUAL(
            err, "case.yaml:4:3: unknown key 'monitoring.timout_ms' "
                 "(allowed in 'monitoring': base_url, csds_base_url, "
                 "discovered_scheme, account_id, app_installation_id, "
                 "api_version, timeout_ms, connect_timeout_ms, "
                 "max_in_flight, ca_bundle, insecure_skip_verify, "
                 "rate_limit_per_s, domain_ttl_s, circuit_failure_ratio, "
                 "circuit_min_requests, circuit_window_ms, "
                 "circuit_cooldown_ms, user_agent)");
}

typedef struct err_case {
        const char *yaml; /* the whole document */
        int         line; /* expected line; 0: no position */
        const char *key;  /* expected key name, NULL: none */
        const char *want; /* expected text */
} err_case_t;

static int run_error_cases(const err_case_t *cases, size_t n)
{
        size_t i;
        int    failures = 0;

        for (i = 0; i < n; i++) {
                if (!expect_error(cases[i].yaml, cases[i].line, cases[i].key,
                                  cases[i].want)) {
                        printf("  (case %zu)\n", i);
                        failures++;
                }
        }
        return failures;
}

#define B "kafka:\n  brokers: b:1\n" /* two lines every case needs */

/* Wrong node types and unparsable scalars, one set per value type. */
static void test_wrong_types(void)
{
        static const err_case_t cases[] = {
            /* string */
            {B "monitoring:\n  user_agent: {a: 1}\n", 4,
             "monitoring.user_agent", "got a map"},
            {B "monitoring:\n  user_agent: [a]\n", 4, "monitoring.user_agent",
             "got a list"},
            {B "monitoring:\n  user_agent: ~\n", 4, "monitoring.user_agent",
             "got null"},
            {B "kafka2:\n  x: 1\n", 3, NULL, "unknown key 'kafka2'"},
            /* int */
            {B "monitoring:\n  timeout_ms: 1000.5\n", 4,
             "monitoring.timeout_ms", "an integer between 100 and 600000"},
            {B "monitoring:\n  timeout_ms: 0x100\n", 4, "monitoring.timeout_ms",
             "got '0x100'"},
            {B "monitoring:\n  timeout_ms: \" 1000\"\n", 4,
             "monitoring.timeout_ms", "got ' 1000'"},
            {B "monitoring:\n  timeout_ms: [1000]\n", 4,
             "monitoring.timeout_ms", "got a list"},
            {B "monitoring:\n  timeout_ms:\n", 4, "monitoring.timeout_ms",
             "got null"},
            {B "monitoring:\n  timeout_ms: 99999999999999999999\n", 4,
             "monitoring.timeout_ms", "between 100 and 600000"},
            /* double */
            {B "retry:\n  jitter: abc\n", 4, "retry.jitter",
             "must be a number between 0 and 1, got 'abc'"},
            {B "retry:\n  jitter: nan\n", 4, "retry.jitter", "got 'nan'"},
            {B "retry:\n  jitter: .inf\n", 4, "retry.jitter", "number"},
            {B "retry:\n  jitter: {}\n", 4, "retry.jitter", "got a map"},
            /* bool */
            {B "monitoring:\n  insecure_skip_verify: maybe\n", 4,
             "monitoring.insecure_skip_verify",
             "must be true or false, got 'maybe'"},
            {B "monitoring:\n  insecure_skip_verify: 1\n", 4,
             "monitoring.insecure_skip_verify", "true or false"},
            {B "monitoring:\n  insecure_skip_verify: [true]\n", 4,
             "monitoring.insecure_skip_verify", "got a list"},
            /* choice */
            {B "log:\n  level: verbose\n", 4, "log.level",
             "one of \"error\", \"warn\", \"info\", \"debug\", got "
             "'verbose'"},
            {B "log:\n  level: INFO\n", 4, "log.level", "got 'INFO'"},
            {B "log:\n  format: [json]\n", 4, "log.format", "got a list"},
            {B "monitoring:\n  discovered_scheme: ftp\n", 4,
             "monitoring.discovered_scheme", "\"https\", \"http\""},
            /* int list */
            {B "retry:\n  delays_ms: 3000\n", 4, "retry.delays_ms",
             "must be a list of 1 to 16 integers between 0 and 3600000, "
             "got a scalar"},
            {B "retry:\n  delays_ms: {a: 1}\n", 4, "retry.delays_ms",
             "got a map"},
            {B "retry:\n  delays_ms: ~\n", 4, "retry.delays_ms",
             "got a scalar"},
            /* string map */
            {B "  properties: [a, b]\n", 3, "kafka.properties",
             "must be a map of up to 1000 names to scalar values, got a "
             "list"},
            {B "  properties: plain\n", 3, "kafka.properties", "got a scalar"},
            {B "  properties:\n    a: {b: c}\n", 4, "kafka.properties.a",
             "must be a scalar value, got a map"},
            {B "  properties:\n    a: [1]\n", 4, "kafka.properties.a",
             "got a list"},
            {B "  properties:\n    \"\": x\n", 4, "kafka.properties",
             "non-empty"},
            {B "  properties:\n    ? [a]\n    : x\n", 4, "kafka.properties",
             "got a list"},
            /* sections and the top level */
            {B "monitoring: 5\n", 3, "monitoring",
             "must be a map of monitoring keys"},
            {B "monitoring: [1]\n", 3, "monitoring", "got a list"},
            {"- a\n- b\n", 1, NULL, "the top level must be a map"},
            {"just text\n", 1, NULL, "got a scalar"},
            {B "monitoring:\n  ? [a]\n  : x\n", 4, NULL,
             "keys must be scalars"},
            {B "? {a: 1}\n: x\n", 3, NULL, "keys must be scalars"},
        };
        CU_ASSERT_EQUAL(run_error_cases(cases, EW_ARRAY_SIZE(cases)), 0);
}

static void test_structure_errors(void)
{
        static const err_case_t cases[] = {
            /* unknown keys, with what is allowed */
            {B "monitoring:\n  timout_ms: 5\n", 4, NULL,
             "unknown key 'monitoring.timout_ms' (allowed in "
             "'monitoring': base_url, csds_base_url"},
            {B "metric:\n  listen: x\n", 3, NULL,
             "unknown key 'metric' (allowed at the top level: kafka, "
             "monitoring, retry, worker, identity, log, metrics)"},
            {B "kafka.brokers: x\n", 3, NULL, "unknown key 'kafka.brokers'"},
            {B "  bootstrap: x\n", 3, NULL,
             "unknown key 'kafka.bootstrap' (allowed in 'kafka': brokers, "
             "group_id, input_topic, output_topic, dead_letter_topic, "
             "properties)"},
            /* duplicates */
            {B "monitoring:\n  timeout_ms: 500\n  timeout_ms: 600\n", 5,
             "monitoring.timeout_ms", "duplicate key (first at line 4)"},
            {B "log:\n  level: info\nlog:\n  format: text\n", 5, "log",
             "duplicate key (first at line 3)"},
            {B "  properties:\n    a: 1\n    a: 2\n", 5, "kafka.properties",
             "duplicate key 'a'"},
            {"kafka:\n  brokers: a:1\n  brokers: b:1\n", 3, "kafka.brokers",
             "duplicate"},
            /* documents, aliases */
            {B "---\nlog:\n  level: info\n", 3, NULL,
             "only one YAML document is allowed"},
            {"kafka:\n  brokers: &b b:1\n  group_id: *b\n", 3, NULL,
             "aliases (*b) are not supported"},
            /* syntax */
            {B "retry:\n  delays_ms: [1000, 2000]]\n  jitter: 0.1\n", 4, NULL,
             "YAML error"},
            {B "monitoring:\n  user_agent: ua\n   x: y\n", 5, NULL,
             "YAML error: mapping values are not allowed"},
            {B "log:\n  level: \"info\n", 5, NULL,
             "YAML error: found unexpected end of stream (while scanning "
             "a quoted scalar at line 4)"},
            {B "\tlog: x\n", 3, NULL, "YAML error"},
            /* required key */
            {"", 0, "kafka.brokers", "is required and missing"},
            {"---\n", 0, "kafka.brokers", "is required and missing"},
            {"log:\n  level: info\n", 0, "kafka.brokers",
             "is required and missing"},
            {"log:\n  level: info\nkafka:\n  group_id: g\n", 3, "kafka.brokers",
             "is required and missing (must be a string"},
            {"kafka:\n", 1, "kafka.brokers", "is required"},
            {"kafka:\n  brokers: ~\n", 2, "kafka.brokers", "got null"},
            {"kafka:\n  brokers: \"\"\n", 2, "kafka.brokers",
             "a string of 1 to 4096 characters"},
        };
        CU_ASSERT_EQUAL(run_error_cases(cases, EW_ARRAY_SIZE(cases)), 0);
}

static void test_string_rules(void)
{
        static const err_case_t cases[] = {
            {B "monitoring:\n  base_url: ftp://h\n", 4, "monitoring.base_url",
             "an http:// or https:// URL"},
            {B "monitoring:\n  base_url: va.liveperson.net\n", 4,
             "monitoring.base_url", "got 'va.liveperson.net'"},
            {B "monitoring:\n  base_url: \"http://\"\n", 4,
             "monitoring.base_url", "URL"},
            {B "monitoring:\n  base_url: \"https://a b\"\n", 4,
             "monitoring.base_url", "URL"},
            {B "monitoring:\n  csds_base_url: ~\n", 4,
             "monitoring.csds_base_url", "got null"},
            {B "monitoring:\n  account_id: \"12/34\"\n", 4,
             "monitoring.account_id", "made of A-Z a-z 0-9 . _ -"},
            {B "monitoring:\n  app_installation_id: \"a?b\"\n", 4,
             "monitoring.app_installation_id", "got 'a?b'"},
            {B "  input_topic: \"bad topic\"\n", 3, "kafka.input_topic",
             "A-Z a-z 0-9"},
            {B "  output_topic: \"\"\n", 3, "kafka.output_topic",
             "1 to 249 characters"},
            {B "monitoring:\n  user_agent: \"a\\nb\"\n", 4,
             "monitoring.user_agent", "free of control characters"},
            {B "metrics:\n  listen: 9464\n", 4, "metrics.listen", "HOST:PORT"},
            {B "metrics:\n  listen: \"h:65536\"\n", 4, "metrics.listen",
             "got 'h:65536'"},
            {B "metrics:\n  listen: \":80\"\n", 4, "metrics.listen",
             "HOST:PORT"},
            /* secrets are not echoed */
            {B "identity:\n  hash_key: short\n", 4, "identity.hash_key",
             "a string of 8 to 1024 characters, or empty, got a value "
             "of 5 characters (hidden)"},
        };
        CU_ASSERT_EQUAL(run_error_cases(cases, EW_ARRAY_SIZE(cases)), 0);
}

static void test_api_version(void)
{
        static const struct {
                const char      *text;
                int              ok;
                ew_api_version_t want;
        } cases[] = {
            {"1.0", 1, EW_API_V1_0},
            {"\"1.0\"", 1, EW_API_V1_0},
            {"'1.1'", 1, EW_API_V1_1},
            {"1.1", 1, EW_API_V1_1},
            {"1", 0, 0},
            {"2.0", 0, 0},
            {"1.00", 0, 0},
            {"1.10", 0, 0},
            {"v1.1", 0, 0},
            {"\"1.1 \"", 0, 0},
            {"[1.1]", 0, 0},
            {"~", 0, 0},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                char         yaml[256], err[512];
                ew_config_t *conf;
                snprintf(yaml, sizeof(yaml),
                         B "monitoring:\n  api_version: %s\n", cases[i].text);
                conf = load_str(yaml, err, sizeof(err));
                if (cases[i].ok) {
                        if (!conf ||
                            conf->monitoring.api_version != cases[i].want) {
                                printf("\n  '%s' not accepted as wanted: %s",
                                       cases[i].text, conf ? "" : err);
                                failures++;
                        }
                } else if (!expect_error(yaml, 4, "monitoring.api_version",
                                         "one of \"1.0\", \"1.1\"")) {
                        printf("  ('%s')\n", cases[i].text);
                        failures++;
                }
                ew_config_destroy(conf);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_delays_list(void)
{
        static const err_case_t cases[] = {
            {B "retry:\n  delays_ms: []\n", 4, "retry.delays_ms",
             "must be a list of 1 to 16 integers between 0 and 3600000, "
             "got 0"},
            {B "retry:\n  delays_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
               "12, 13, 14, 15, 16, 17]\n",
             4, "retry.delays_ms", "got more than 16 entries"},
            {B "retry:\n  delays_ms: [1, -1]\n", 4, "retry.delays_ms[1]",
             "must be an integer between 0 and 3600000, got '-1'"},
            {B "retry:\n  delays_ms: [3600001]\n", 4, "retry.delays_ms[0]",
             "got '3600001'"},
            {B "retry:\n  delays_ms: [1, 2s]\n", 4, "retry.delays_ms[1]",
             "got '2s'"},
            {B "retry:\n  delays_ms: [1, [2]]\n", 4, "retry.delays_ms[1]",
             "got a list"},
            {B "retry:\n  delays_ms:\n    - 100\n    - {a: 1}\n", 6,
             "retry.delays_ms[1]", "got a map"},
            {B "retry:\n  delays_ms:\n    - 100\n    - 1.5\n", 6,
             "retry.delays_ms[1]", "got '1.5'"},
        };
        char         err[512];
        ew_config_t *conf;
        int          i;

        CU_ASSERT_EQUAL(run_error_cases(cases, EW_ARRAY_SIZE(cases)), 0);

        /* Bounds themselves, block style, 16 entries. */
        conf = load_str(B "retry:\n  delays_ms:\n    - 0\n    - 3600000\n", err,
                        sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_EQUAL(conf->retry.delays_cnt, 2);
        CU_ASSERT_EQUAL(conf->retry.delays_ms[0], 0);
        CU_ASSERT_EQUAL(conf->retry.delays_ms[1], 3600000);
        ew_config_destroy(conf);
        conf = load_str(B "retry:\n  delays_ms: [1, 2, 3, 4, 5, 6, 7, 8, 9, "
                          "10, 11, 12, 13, 14, 15, 16]\n",
                        err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_EQUAL_FATAL(conf->retry.delays_cnt, 16);
        for (i = 0; i < 16; i++)
                CU_ASSERT_EQUAL(conf->retry.delays_ms[i], i + 1);
        ew_config_destroy(conf);
}

/* Every numeric key: the bounds are accepted and stored, one step beyond
 * each is rejected with a message naming the key, the line and the range.
 * The bounds are written here again on purpose, independently of the
 * table in ew_config.c. */
static void test_numeric_bounds(void)
{
        static const struct {
                const char *section, *key;
                const char *lo, *hi;       /* bounds, as written */
                const char *below, *above; /* just out of range */
                const char *range;         /* as the message says it */
                size_t      off;           /* offset in ew_config_t */
                int         is_double;
                const char *extra; /* other lines of the section needed to
                                    * keep cross-key checks happy */
        } cases[] = {
#define INT(s, k, lo, hi, below, above, extra)                                 \
        {#s,                                                                   \
         #k,                                                                   \
         #lo,                                                                  \
         #hi,                                                                  \
         #below,                                                               \
         #above,                                                               \
         "integer between " #lo " and " #hi,                                   \
         offsetof(ew_config_t, s.k),                                           \
         0,                                                                    \
         extra}
#define DBL(s, k, lo, hi, below, above)                                        \
        {                                                                      \
#s, #k, #lo, #hi, #below, #above,                              \
                    "number between " #lo " and " #hi,                         \
                    offsetof(ew_config_t, s.k), 1, ""                          \
        }
            INT(monitoring, timeout_ms, 100, 600000, 99, 600001,
                "  connect_timeout_ms: 100\n"),
            INT(monitoring, connect_timeout_ms, 100, 600000, 99, 600001,
                "  timeout_ms: 600000\n"),
            INT(monitoring, max_in_flight, 1, 100000, 0, 100001, ""),
            DBL(monitoring, rate_limit_per_s, 0, 100000, -0.5, 100000.5),
            DBL(retry, jitter, 0, 1, -0.01, 1.01),
            INT(worker, shutdown_timeout_ms, 0, 600000, -1, 600001, ""),
            INT(worker, session_ttl_s, 0, 604800, -1, 604801, ""),
            INT(worker, session_cache_size, 0, 10000000, -1, 10000001, ""),
            INT(worker, max_event_bytes, 256, 16777216, 255, 16777217, ""),
            INT(worker, queue_high_watermark, 1, 1000000, 0, 1000001,
                "  queue_low_watermark: 0\n"),
            INT(worker, queue_low_watermark, 0, 999999, -1, 1000000,
                "  queue_high_watermark: 1000000\n"),
            INT(worker, hold_max_ms, 0, 60000, -1, 60001, ""),
#undef INT
#undef DBL
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                const char *vals[4] = {cases[i].lo, cases[i].hi, cases[i].below,
                                       cases[i].above};
                char        full[300];
                int         j;
                snprintf(full, sizeof(full), "%s.%s", cases[i].section,
                         cases[i].key);
                for (j = 0; j < 4; j++) {
                        char         yaml[512], err[512];
                        ew_config_t *conf;
                        snprintf(yaml, sizeof(yaml), B "%s:\n  %s: %s\n%s",
                                 cases[i].section, cases[i].key, vals[j],
                                 cases[i].extra);
                        if (j >= 2) {
                                if (!expect_error(yaml, 4, full,
                                                  cases[i].range)) {
                                        printf("  (%s = %s)\n", full, vals[j]);
                                        failures++;
                                }
                                continue;
                        }
                        conf = load_str(yaml, err, sizeof(err));
                        if (!conf) {
                                printf("\n  %s = %s rejected: %s", full,
                                       vals[j], err);
                                failures++;
                                continue;
                        }
                        if (cases[i].is_double
                                ? *(double *)((char *)conf + cases[i].off) !=
                                      strtod(vals[j], NULL)
                                : *(int *)((char *)conf + cases[i].off) !=
                                      atoi(vals[j])) {
                                printf("\n  %s = %s stored wrongly", full,
                                       vals[j]);
                                failures++;
                        }
                        ew_config_destroy(conf);
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_cross_key_checks(void)
{
        static const err_case_t cases[] = {
            {B "worker:\n  queue_low_watermark: 6000\n", 4,
             "worker.queue_low_watermark",
             "worker.queue_low_watermark (6000) must be less than "
             "worker.queue_high_watermark (5000)"},
            {B "worker:\n  queue_high_watermark: 2500\n", 4,
             "worker.queue_high_watermark", "must be less than"},
            {B "worker:\n  queue_high_watermark: 100\n"
               "  queue_low_watermark: 100\n",
             5, "worker.queue_low_watermark", "(100) must be less than"},
            {B "monitoring:\n  connect_timeout_ms: 20000\n", 4,
             "monitoring.connect_timeout_ms",
             "must not be more than monitoring.timeout_ms (10000)"},
            {B "monitoring:\n  timeout_ms: 1000\n", 4, "monitoring.timeout_ms",
             "connect_timeout_ms (3000)"},
            {B "  output_topic: visitor-activity\n", 3, "kafka.output_topic",
             "must differ from kafka.input_topic"},
            {B "  input_topic: x\n  dead_letter_topic: x\n", 4,
             "kafka.dead_letter_topic", "must differ"},
            {B "  properties:\n    bootstrap.servers: h:1\n", 3,
             "kafka.properties", "'bootstrap.servers' is not allowed"},
            {B "  properties:\n    group.id: g\n", 3, "kafka.properties",
             "set from kafka.group_id"},
        };
        char         err[512];
        ew_config_t *conf = ew_config_new_defaults();

        CU_ASSERT_EQUAL(run_error_cases(cases, EW_ARRAY_SIZE(cases)), 0);

        /* The public finalize on a config built in code. */
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_EQUAL(ew_config_finalize(conf, err, sizeof(err)), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "'kafka.brokers'"));
        conf->kafka.brokers = strdup("h:1");
        CU_ASSERT_EQUAL(ew_config_finalize(conf, err, sizeof(err)), 0);
        conf->worker.queue_low_watermark = conf->worker.queue_high_watermark;
        CU_ASSERT_EQUAL(ew_config_finalize(conf, err, sizeof(err)), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "must be less than"));
        ew_config_destroy(conf);
}

/*
 * ${VAR} expansion
 */

static void test_env_expansion(void)
{
        static const struct {
                const char *value; /* written as monitoring.user_agent */
                const char *want;
        } ok[] = {
            {"${EW_T_A}", "alpha"},
            {"x-${EW_T_A}-${EW_T_B}-y", "x-alpha-beta-y"},
            {"${EW_T_A}${EW_T_B}${EW_T_A}", "alphabetaalpha"},
            {"${EW_T_UNSET:-dflt}", "dflt"},
            {"${EW_T_EMPTY:-dflt}", "dflt"},
            {"${EW_T_A:-dflt}", "alpha"},
            {"${EW_T_UNSET:-a b:c}/v", "a b:c/v"},
            {"'p${EW_T_EMPTY}q'", "pq"},
            {"\"costs $5 and $HOME\"", "costs $5 and $HOME"},
            {"\"$$ and $${EW_T_A}\"", "$$ and $${EW_T_A}"},
            {"\"ends with $\"", "ends with $"},
            {"${EW_T_NEST}", "${EW_T_A}"}, /* values are not expanded */
        };
        static const err_case_t bad[] = {
            {B "monitoring:\n  user_agent: ${EW_T_UNSET}\n", 4,
             "monitoring.user_agent",
             "environment variable EW_T_UNSET is not set"},
            {B "monitoring:\n  user_agent: \"a ${EW_T_A} ${EW_T_UNSET}\"\n", 4,
             "monitoring.user_agent", "EW_T_UNSET"},
            {B "monitoring:\n  user_agent: \"${EW_T_A\"\n", 4,
             "monitoring.user_agent", "unterminated '${'"},
            {B "monitoring:\n  user_agent: \"${}\"\n", 4,
             "monitoring.user_agent", "bad reference '${}'"},
            {B "monitoring:\n  user_agent: \"${1A}\"\n", 4,
             "monitoring.user_agent", "bad reference '${1A}'"},
            {B "monitoring:\n  user_agent: \"${EW_T_A-x}\"\n", 4,
             "monitoring.user_agent", "bad reference"},
            {B "monitoring:\n  user_agent: \"${EW_T_EMPTY}\"\n", 4,
             "monitoring.user_agent", "got ''"},
            {B "  properties:\n    sasl.password: ${EW_T_UNSET}\n", 4,
             "kafka.properties.sasl.password", "EW_T_UNSET"},
            {B "retry:\n  delays_ms: [1, \"${EW_T_UNSET}\"]\n", 4,
             "retry.delays_ms[1]", "EW_T_UNSET is not set"},
            {B "retry:\n  jitter: ${EW_T_A}\n", 4, "retry.jitter",
             "got 'alpha'"},
        };
        size_t       i;
        int          failures = 0;
        char         err[512];
        ew_config_t *conf;

        setenv("EW_T_A", "alpha", 1);
        setenv("EW_T_B", "beta", 1);
        setenv("EW_T_EMPTY", "", 1);
        setenv("EW_T_NEST", "${EW_T_A}", 1);
        setenv("EW_T_NUM", "250", 1);
        unsetenv("EW_T_UNSET");

        for (i = 0; i < EW_ARRAY_SIZE(ok); i++) {
                char yaml[512];
                snprintf(yaml, sizeof(yaml),
                         B "monitoring:\n  user_agent: %s\n  account_id: %s\n",
                         ok[i].value, "\"a${EW_T_EMPTY}\"");
                conf = load_str(yaml, err, sizeof(err));
                if (!conf || !streq(conf->monitoring.user_agent, ok[i].want)) {
                        printf("\n  %s: got '%s'", ok[i].value,
                               conf ? conf->monitoring.user_agent : err);
                        failures++;
                }
                ew_config_destroy(conf);
        }
        failures += run_error_cases(bad, EW_ARRAY_SIZE(bad));
        CU_ASSERT_EQUAL(failures, 0);

        /* Numbers, list entries, booleans and map values too. */
        conf = load_str("kafka:\n  brokers: ${EW_T_A}:9092\n"
                        "  properties:\n    sasl.username: u-${EW_T_B}\n"
                        "    linger.ms: ${EW_T_NUM}\n"
                        "monitoring:\n  timeout_ms: ${EW_T_NUM:-5000}\n"
                        "  connect_timeout_ms: 100\n"
                        "  max_in_flight: ${EW_T_UNSET:-7}\n"
                        "  insecure_skip_verify: ${EW_T_UNSET:-true}\n"
                        "retry:\n  delays_ms: [\"${EW_T_NUM}\", 5]\n",
                        err, sizeof(err));
        if (!conf)
                printf("\n  %s", err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_STRING_EQUAL(conf->kafka.brokers, "alpha:9092");
        CU_ASSERT_STRING_EQUAL(kv_get(&conf->kafka.properties, "sasl.username"),
                               "u-beta");
        CU_ASSERT_STRING_EQUAL(kv_get(&conf->kafka.properties, "linger.ms"),
                               "250");
        CU_ASSERT_EQUAL(conf->monitoring.timeout_ms, 250);
        CU_ASSERT_EQUAL(conf->monitoring.max_in_flight, 7);
        CU_ASSERT_EQUAL(conf->monitoring.insecure_skip_verify, 1);
        CU_ASSERT_EQUAL(conf->retry.delays_cnt, 2);
        CU_ASSERT_EQUAL(conf->retry.delays_ms[0], 250);
        ew_config_destroy(conf);

        /* Keys are never expanded. */
        CU_ASSERT_TRUE(expect_error(B "${EW_T_A}:\n  x: 1\n", 3, NULL,
                                    "unknown key '${EW_T_A}'"));

        /* A value longer than 64 KiB once expanded. */
        {
                static char big[40000];
                memset(big, 'x', sizeof(big) - 1);
                setenv("EW_T_BIG", big, 1);
                CU_ASSERT_TRUE(expect_error(
                    B "  properties:\n    a: ${EW_T_BIG}${EW_T_BIG}\n", 4,
                    "kafka.properties.a", "longer than 65535 bytes"));
                unsetenv("EW_T_BIG");
        }
}

/*
 * Secrets, printing, the reference
 */

static void test_key_is_secret(void)
{
        static const struct {
                const char *key;
                int         secret;
        } cases[] = {
            {"sasl.password", 1},
            {"ssl.key.password", 1},
            {"ssl.keystore.password", 1},
            {"SASL.PASSWORD", 1},
            {"sasl.oauthbearer.client.secret", 1},
            {"client_secret", 1},
            {"sasl.oauthbearer.token.endpoint.url", 1},
            {"api-token", 1},
            {"identity.hash_key", 1},
            {"ssl.key.pem", 1},
            {"ssl_key", 1},
            {"key", 1},
            {"api-key", 1},
            {"kafka.properties.ssl.key.pem", 1},
            {"sasl.oauthbearer.config", 1},
            {"sasl.jaas.config", 1},
            {"kafka.properties.sasl.jaas.config", 1},
            {"ssl.key.location", 0},
            {"kafka.properties.ssl.key.location", 0},
            {"ssl.keystore.location", 0},
            {"ssl.certificate.pem", 0},
            {"sasl.username", 0},
            {"sasl.mechanisms", 0},
            {"monkey.business", 0},
            {"keys", 0},
            {"hotkey", 0},
            {"ssl.ca.location", 0},
            {"monitoring.account_id", 0},
            {"kafka.brokers", 0},
            {"sasl.kerberos.service.name", 0},
            {"jaas.configuration", 0},
            {"", 0},
            {NULL, 0},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                if (ew_config_key_is_secret(cases[i].key) != cases[i].secret) {
                        printf("\n  %s: expected %d", cases[i].key,
                               cases[i].secret);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_print_masks_secrets(void)
{
        char         err[512];
        ew_config_t *conf =
            ew_config_load(ew_test_data("config/full.yaml"), err, sizeof(err));
        char  *out;
        size_t i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        out = print_to_string(conf);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        CU_ASSERT_PTR_NULL(strstr(out, "full-secret-pw"));
        CU_ASSERT_PTR_NULL(strstr(out, "keypass-123"));
        CU_ASSERT_PTR_NULL(strstr(out, "full-hash-key"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"sasl.password\": \"********\""));
        CU_ASSERT_PTR_NOT_NULL(
            strstr(out, "\"ssl.key.password\": \"********\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "  hash_key: \"********\""));
        /* Not secrets: shown. */
        CU_ASSERT_PTR_NOT_NULL(
            strstr(out, "\"ssl.key.location\": \"/etc/ew/client.key\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"sasl.username\": \"worker\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "  brokers: \"k1:9092,k2:9092\""));
        /* Every key is printed, under its section. */
        for (i = 0; all_keys[i]; i++) {
                const char *dot = strchr(all_keys[i], '.');
                char        line[128];
                snprintf(line, sizeof(line), "\n  %s:", dot + 1);
                if (!strstr(out, line)) {
                        printf("\n  %s not printed", all_keys[i]);
                        CU_FAIL("key missing from ew_config_print");
                }
        }
        free(out);
        ew_config_destroy(conf);
}

/* Loads text, prints it, loads the print: the two configs must be equal,
 * except masked secrets. */
static void round_trip(const char *what, const char *yaml, size_t len)
{
        char         err[512];
        ew_config_t *a =
            ew_config_load_string(yaml, len, what, err, sizeof(err));
        ew_config_t *b;
        char        *out;
        int          diff;

        if (!a)
                printf("\n  %s: %s", what, err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        out = print_to_string(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        b = ew_config_load_string(out, strlen(out), "printed", err,
                                  sizeof(err));
        if (!b)
                printf("\n  reloading the print of %s: %s\n%s", what, err, out);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        /* The secrets come back masked: put that into a. */
        if (a->identity.hash_key) {
                free(a->identity.hash_key);
                a->identity.hash_key = strdup("********");
        }
        {
                size_t i;
                for (i = 0; i < a->kafka.properties.cnt; i++) {
                        ew_kv_t *kv = &a->kafka.properties.items[i];
                        char     name[256];
                        snprintf(name, sizeof(name), "kafka.properties.%s",
                                 kv->key);
                        if (ew_config_key_is_secret(name)) {
                                free(kv->value);
                                kv->value = strdup("********");
                        }
                }
        }
        diff = config_diff(a, b);
        if (diff)
                printf("\n  %s: %d differences after print/reload", what, diff);
        CU_ASSERT_EQUAL(diff, 0);
        free(out);
        ew_config_destroy(a);
        ew_config_destroy(b);
}

static void test_print_round_trip(void)
{
        char *full = ew_test_read_file(ew_test_data("config/full.yaml"), NULL);
        static const char tricky[] =
            "kafka:\n"
            "  brokers: \"a:1\"\n"
            "  group_id: \"quote \\\" back\\\\slash 'single' # not a "
            "comment\"\n"
            "  properties:\n"
            "    \"odd: key\": \"line\\nbreak\\ttab\"\n"
            "    plain: \"$$ and $5\"\n"
            "    utf8: \"caf\xc3\xa9\"\n"
            "    empty: \"\"\n"
            "monitoring:\n"
            "  rate_limit_per_s: 0.3\n"
            "  user_agent: \"x: y - [z]\"\n"
            "retry:\n"
            "  delays_ms: [0]\n"
            "  jitter: 0.1\n"
            "metrics:\n"
            "  listen: \"\"\n";

        CU_ASSERT_PTR_NOT_NULL_FATAL(full);
        round_trip("full.yaml", full, strlen(full));
        round_trip("tricky", tricky, strlen(tricky));
        round_trip("minimal", B, strlen(B));
        free(full);
}

static void test_print_reference(void)
{
        char       *out = print_to_string(NULL);
        const char *p;
        size_t      i, rows = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        CU_ASSERT_EQUAL(strncmp(out, "| Key | Type | Default | Allowed |", 33),
                        0);
        for (i = 0; all_keys[i]; i++) {
                char cell[128];
                snprintf(cell, sizeof(cell), "\n| `%s` |", all_keys[i]);
                if (!strstr(out, cell)) {
                        printf("\n  no row for %s", all_keys[i]);
                        CU_FAIL("key missing from the reference");
                }
        }
        for (p = out; (p = strstr(p, "\n| `")) != NULL; p++)
                rows++;
        CU_ASSERT_EQUAL(rows, i); /* no other rows */
        CU_ASSERT_PTR_NOT_NULL(
            strstr(out, "| `monitoring.timeout_ms` | integer | `10000` | an "
                        "integer between 100 and 600000 |"));
        CU_ASSERT_PTR_NOT_NULL(strstr(
            out, "| `retry.delays_ms` | list of integers | `[3000, 10000, "
                 "30000, 90000]` | a list of 1 to 16 integers between 0 "
                 "and 3600000 |"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "| `kafka.brokers` | string | "
                                           "required |"));
        free(out);
}

/*
 * Files
 */

static void test_file_errors(void)
{
        char         err[1024], want[1200];
        const char  *path;
        ew_config_t *conf;

        conf = ew_config_load("/nonexistent/ew.yaml", err, sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_STRING_EQUAL(err, "cannot open /nonexistent/ew.yaml: No "
                                    "such file or directory");

        path = ew_test_data("config/syntax_error.yaml");
        snprintf(want, sizeof(want),
                 "%s:5:26: YAML error: did not find expected key", path);
        conf = ew_config_load(path, err, sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        if (strncmp(err, want, strlen(want)) != 0)
                printf("\n  %s", err);
        CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);

        path = ew_test_data("config/bad_value.yaml");
        snprintf(want, sizeof(want),
                 "%s:5:18: key 'monitoring.max_in_flight': must be an integer "
                 "between 1 and 100000, got '0'",
                 path);
        conf = ew_config_load(path, err, sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_STRING_EQUAL(err, want);

        path = ew_test_data("config/empty.yaml");
        snprintf(want, sizeof(want),
                 "%s: key 'kafka.brokers': is required and missing", path);
        conf = ew_config_load(path, err, sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);

        path = ew_test_data("config/comments_only.yaml");
        conf = ew_config_load(path, err, sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "comments_only.yaml: key "
                                           "'kafka.brokers'"));

        /* A directory opens but cannot be read. */
        path = ew_test_data("config");
        conf = ew_config_load(path, err, sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, path));

        /* An error message is cut to fit, never overflowing. */
        conf = load_str(B "monitoring:\n  timeout_ms: abc\n", err, 12);
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_STRING_EQUAL(err, "case.yaml:4");
}

static const char *source_file(const char *rel)
{
        static char path[4096];
        const char *dir = getenv("EW_SOURCE_DIR");

        snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", rel);
        return path;
}

static void test_example_local(void)
{
        static const int         delays[] = {300, 1000, 3000, 9000};
        static const char *const vars[]   = {
              "EW_BROKERS",    "EW_MONITORING_URL", "EW_CSDS_URL",
              "EW_ACCOUNT_ID", "EW_APP_ID",         "EW_HASH_KEY",
              "EW_LOG_LEVEL",  "EW_METRICS_LISTEN", NULL};
        char         err[1024];
        ew_config_t *conf;
        int          i;

        for (i = 0; vars[i]; i++)
                unsetenv(vars[i]);
        conf =
            ew_config_load(source_file("config/local.yaml"), err, sizeof(err));
        if (!conf)
                printf("\n  %s", err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_STRING_EQUAL(conf->kafka.brokers, "127.0.0.1:9092");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.base_url,
                               "http://127.0.0.1:8080");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.account_id, "12345678");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.app_installation_id, "app-1");
        CU_ASSERT_EQUAL_FATAL(conf->retry.delays_cnt, 4);
        for (i = 0; i < 4; i++)
                CU_ASSERT_EQUAL(conf->retry.delays_ms[i], delays[i]);
        ew_config_destroy(conf);

        setenv("EW_BROKERS", "127.0.0.1:39092", 1);
        setenv("EW_MONITORING_URL", "http://127.0.0.1:18080/", 1);
        setenv("EW_ACCOUNT_ID", "999", 1);
        conf =
            ew_config_load(source_file("config/local.yaml"), err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_STRING_EQUAL(conf->kafka.brokers, "127.0.0.1:39092");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.base_url,
                               "http://127.0.0.1:18080");
        CU_ASSERT_STRING_EQUAL(conf->monitoring.account_id, "999");
        ew_config_destroy(conf);
        for (i = 0; vars[i]; i++)
                unsetenv(vars[i]);
}

static void test_example_production(void)
{
        char             err[1024];
        ew_config_t     *conf;
        char            *out;
        static const int delays[] = {3000, 10000, 30000, 90000};
        int              i;

        setenv("KAFKA_BROKERS", "k1.example:9093,k2.example:9093", 1);
        setenv("LP_ACCOUNT_ID", "12345678", 1);
        setenv("LP_APP_INSTALLATION_ID", "8d3c5f4e-prod", 1);
        setenv("EW_HASH_KEY", "prod-hash-key-0123456789", 1);
        unsetenv("KAFKA_PASSWORD");
        unsetenv("EW_MONITORING_URL");

        /* Without the password: the error names the file, line, key and
         * the variable. */
        conf = ew_config_load(source_file("config/production.yaml"), err,
                              sizeof(err));
        CU_ASSERT_PTR_NULL(conf);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "production.yaml:"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "'kafka.properties.sasl.password'"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "KAFKA_PASSWORD is not set"));

        setenv("KAFKA_PASSWORD", "prod-kafka-pw", 1);
        conf = ew_config_load(source_file("config/production.yaml"), err,
                              sizeof(err));
        if (!conf)
                printf("\n  %s", err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
        CU_ASSERT_STRING_EQUAL(conf->kafka.brokers,
                               "k1.example:9093,k2.example:9093");
        CU_ASSERT_STRING_EQUAL(
            kv_get(&conf->kafka.properties, "security.protocol"), "SASL_SSL");
        CU_ASSERT_STRING_EQUAL(kv_get(&conf->kafka.properties, "sasl.password"),
                               "prod-kafka-pw");
        CU_ASSERT_PTR_NULL(conf->monitoring.base_url); /* discovered */
        CU_ASSERT_EQUAL(conf->monitoring.insecure_skip_verify, 0);
        CU_ASSERT_EQUAL_FATAL(conf->retry.delays_cnt, 4);
        for (i = 0; i < 4; i++)
                CU_ASSERT_EQUAL(conf->retry.delays_ms[i], delays[i]);
        CU_ASSERT_STRING_EQUAL(conf->monitoring.user_agent,
                               "engagement-worker/" EW_VERSION);
        out = print_to_string(conf);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        CU_ASSERT_PTR_NULL(strstr(out, "prod-kafka-pw"));
        CU_ASSERT_PTR_NULL(strstr(out, "prod-hash-key"));
        free(out);
        ew_config_destroy(conf);
        unsetenv("KAFKA_PASSWORD");
        unsetenv("KAFKA_BROKERS");
        unsetenv("LP_ACCOUNT_ID");
        unsetenv("LP_APP_INSTALLATION_ID");
        unsetenv("EW_HASH_KEY");
}

/* Regression (fuzz_config, print-roundtrip-nel/line-separator): NEL and
 * U+2028/U+2029 are line breaks to YAML; the printed config must load back
 * to the same value. */
static void test_print_line_break_characters(void)
{
        static const char yaml[] = "kafka:\n  brokers: b:1\n"
                                   "  properties:\n"
                                   "    x.one: \"a\\Nb\"\n"
                                   "    x.two: \"a \\Lb \\Pc\"\n";
        char              err[512];
        ew_config_t      *a = load_str(yaml, err, sizeof(err)), *b;
        char             *out;

        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_STRING_EQUAL(kv_get(&a->kafka.properties, "x.one"),
                               "a\xc2\x85"
                               "b");
        out = print_to_string(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        b = ew_config_load_string(out, strlen(out), "printed", err,
                                  sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_STRING_EQUAL(kv_get(&b->kafka.properties, "x.one"),
                               kv_get(&a->kafka.properties, "x.one"));
        CU_ASSERT_STRING_EQUAL(kv_get(&b->kafka.properties, "x.two"),
                               kv_get(&a->kafka.properties, "x.two"));
        free(out);
        ew_config_destroy(a);
        ew_config_destroy(b);
}

/* Regression (fuzz_config, print-roundtrip-dollar-brace): a default that
 * holds a reference would end at the inner '}'; it is refused. */
static void test_env_nested_default_refused(void)
{
        char         err[512];
        ew_config_t *c = load_str("kafka:\n  brokers: \"${EW_T_UNSET_A:-x${"
                                  "EW_T_UNSET_B}y}\"\n",
                                  err, sizeof(err));

        CU_ASSERT_PTR_NULL(c);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "kafka.brokers"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot hold a reference"));
        ew_config_destroy(c);
}

static const ew_test_case_t cases[] = {
    {"defaults", test_defaults},
    {"minimal_file_keeps_defaults", test_minimal_file_keeps_defaults},
    {"full_file", test_full_file},
    {"accepted_values", test_accepted_values},
    {"booleans", test_booleans},
    {"error_message_format", test_error_message_format},
    {"wrong_types", test_wrong_types},
    {"structure_errors", test_structure_errors},
    {"string_rules", test_string_rules},
    {"api_version", test_api_version},
    {"delays_list", test_delays_list},
    {"numeric_bounds", test_numeric_bounds},
    {"cross_key_checks", test_cross_key_checks},
    {"env_expansion", test_env_expansion},
    {"key_is_secret", test_key_is_secret},
    {"print_masks_secrets", test_print_masks_secrets},
    {"print_round_trip", test_print_round_trip},
    {"print_line_break_characters", test_print_line_break_characters},
    {"env_nested_default_refused", test_env_nested_default_refused},
    {"print_reference", test_print_reference},
    {"file_errors", test_file_errors},
    {"example_local", test_example_local},
    {"example_production", test_example_production},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"config", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
