/*
 * ew_config - see ew_config.h.
 *
 * Everything the loader, the printer and the reference generator know about
 * a key lives in one row of keys[] below: its dotted name, its type, its
 * default (written the way it would be written in the file, and converted by
 * the same code as file values, so a default can never break its own
 * bounds), its bounds or allowed values, where it lives in ew_config_t and
 * what it means.
 *
 * The YAML reader is a libyaml event loop with an explicit state (enum
 * lstate): no document tree is built, every event is deleted right after it
 * was handled, and the first problem stops the load with one message of the
 * form "FILE:LINE:COL: key 'NAME': ...".
 */
#include "ew_config.h"

#include "ew_util.h"
#include "ew_version.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Longest value after ${...} expansion, and longest string without an
 * explicit bound: configuration values are short, anything bigger is a
 * mistake (or a file that is not ours). */
#define EXPAND_MAX 65536
#define STRING_MAX_LEN 4096
/* Most entries kafka.properties may hold. */
#define MAP_MAX 1000
/* Longest dotted key name, "kafka.properties.<name>" included. */
#define NAME_MAX_LEN 256

/* The enum field is written through an int (CT_ENUM). */
_Static_assert(sizeof(ew_api_version_t) == sizeof(int),
               "ew_api_version_t must be int-sized");

typedef enum ctype {
        CT_STRING,   /* char *; NULL when unset (CF_NULLABLE) */
        CT_INT,      /* int within [min, max] */
        CT_DOUBLE,   /* double within [min, max] */
        CT_BOOL,     /* int, 0 or 1 */
        CT_CHOICE,   /* char *, a copy of one of choices[] */
        CT_ENUM,     /* int, the index of the value in choices[] */
        CT_INT_LIST, /* int[] at off, count at off_cnt, entries in [min, max] */
        CT_STR_MAP,  /* ew_kvlist_t, values kept as their text */
} ctype_t;

typedef struct cdef {
        const char *name; /* "section.key" */
        ctype_t     type;
        int         flags;
#define CF_REQUIRED 0x1       /* must be set once loading is done */
#define CF_NULLABLE 0x2       /* CT_STRING: null or "" leaves it unset (NULL) */
#define CF_STRIP_SLASH 0x4    /* CT_STRING: trailing '/' characters removed */
        const char *def;      /* default in YAML syntax; NULL: none */
        double      min, max; /* numbers, list entries; string length */
        int         cnt_min, cnt_max; /* CT_INT_LIST: number of entries */
        const char *const *choices;   /* CT_CHOICE, CT_ENUM: NULL-ended */
        int (*check)(const char *s);  /* CT_STRING: 0 if s is acceptable */
        const char *rule;             /* CT_STRING with check: what it wants */
        size_t      off;              /* offsetof(ew_config_t, ...) */
        size_t      off_cnt;          /* CT_INT_LIST: offset of the count */
        const char *desc;
} cdef_t;

static int check_url(const char *s);
static int check_name(const char *s);
static int check_text(const char *s);
static int check_listen(const char *s);

static const char *const api_versions[] = {"1.0", "1.1", NULL};
static const char *const schemes[]      = {"https", "http", NULL};
static const char *const log_levels[]   = {"error", "warn", "info", "debug",
                                           NULL};
static const char *const log_formats[]  = {"text", "json", NULL};

#define OFF(f) offsetof(ew_config_t, f)

#define RULE_URL "an http:// or https:// URL"
#define RULE_NAME "made of A-Z a-z 0-9 . _ -"
#define RULE_TEXT "free of control characters"

static const cdef_t keys[] = {
    /* kafka */
    {.name  = "kafka.brokers",
     .type  = CT_STRING,
     .flags = CF_REQUIRED,
     .min   = 1,
     .max   = 4096,
     .check = check_text,
     .rule  = RULE_TEXT,
     .off   = OFF(kafka.brokers),
     .desc  = "Kafka bootstrap servers, a comma-separated list of "
              "host:port (librdkafka's bootstrap.servers). Required."},
    {.name  = "kafka.group_id",
     .type  = CT_STRING,
     .def   = "engagement-worker",
     .min   = 1,
     .max   = 255,
     .check = check_text,
     .rule  = RULE_TEXT,
     .off   = OFF(kafka.group_id),
     .desc  = "Consumer group of the worker; every instance of one "
              "deployment uses the same group."},
    {.name  = "kafka.input_topic",
     .type  = CT_STRING,
     .def   = "visitor-activity",
     .min   = 1,
     .max   = 249,
     .check = check_name,
     .rule  = RULE_NAME,
     .off   = OFF(kafka.input_topic),
     .desc  = "Topic the visitor-activity events are consumed from."},
    {.name  = "kafka.output_topic",
     .type  = CT_STRING,
     .def   = "engagement-outcomes",
     .min   = 1,
     .max   = 249,
     .check = check_name,
     .rule  = RULE_NAME,
     .off   = OFF(kafka.output_topic),
     .desc  = "Topic the engagement outcomes are published to; must "
              "differ from input_topic."},
    {.name  = "kafka.dead_letter_topic",
     .type  = CT_STRING,
     .def   = "engagement-dead-letter",
     .min   = 1,
     .max   = 249,
     .check = check_name,
     .rule  = RULE_NAME,
     .off   = OFF(kafka.dead_letter_topic),
     .desc  = "Topic events that cannot be processed are published to, "
              "with the reason; must differ from input_topic."},
    {.name = "kafka.properties",
     .type = CT_STR_MAP,
     .max  = MAP_MAX,
     .off  = OFF(kafka.properties),
     .desc = "librdkafka properties, passed as is (security.protocol, "
             "sasl.*, ssl.*, ...). "
             "Values of any scalar type are kept as their text. "
             "bootstrap.servers and group.id are not allowed here: use "
             "brokers and group_id. Secret values are masked when the "
             "configuration is printed."},

    /* monitoring */
    {.name  = "monitoring.base_url",
     .type  = CT_STRING,
     .flags = CF_NULLABLE | CF_STRIP_SLASH,
     .min   = 8,
     .max   = 2048,
     .check = check_url,
     .rule  = RULE_URL,
     .off   = OFF(monitoring.base_url),
     .desc  = "Monitoring API base URL (scheme and host, e.g. "
              "https://va.v.liveperson.net). Unset: the host of the "
              "account's smt service is discovered through the Domain "
              "API (csds_base_url). Trailing slashes are removed."},
    {.name  = "monitoring.csds_base_url",
     .type  = CT_STRING,
     .flags = CF_STRIP_SLASH,
     .def   = "https://api.liveperson.net",
     .min   = 8,
     .max   = 2048,
     .check = check_url,
     .rule  = RULE_URL,
     .off   = OFF(monitoring.csds_base_url),
     .desc  = "Domain API (CSDS) base URL used to discover the "
              "Monitoring API host when base_url is unset."},
    {.name    = "monitoring.discovered_scheme",
     .type    = CT_CHOICE,
     .def     = "https",
     .choices = schemes,
     .off     = OFF(monitoring.discovered_scheme),
     .desc    = "Scheme put in front of a discovered host (the Domain "
                "API returns the host only). http is for local test "
                "set-ups."},
    {.name  = "monitoring.account_id",
     .type  = CT_STRING,
     .flags = CF_NULLABLE,
     .min   = 1,
     .max   = 64,
     .check = check_name,
     .rule  = RULE_NAME,
     .off   = OFF(monitoring.account_id),
     .desc  = "LivePerson account (site) id used for events that do "
              "not name one. Unset: every event must name its own."},
    {.name  = "monitoring.app_installation_id",
     .type  = CT_STRING,
     .flags = CF_NULLABLE,
     .min   = 1,
     .max   = 128,
     .check = check_name,
     .rule  = RULE_NAME,
     .off   = OFF(monitoring.app_installation_id),
     .desc  = "App installation id used for events that do not name "
              "one. Unset: every event must name its own."},
    {.name    = "monitoring.api_version",
     .type    = CT_ENUM,
     .def     = "1.1",
     .choices = api_versions,
     .off     = OFF(monitoring.api_version),
     .desc    = "Monitoring API version sent as v=. 1.0 answers a "
                "loading account with 500/internalCode 20, 1.1 with "
                "202/internalCode 38; both are retried. Exactly 1.0 or "
                "1.1 (1 or 1.10 are rejected)."},
    {.name = "monitoring.timeout_ms",
     .type = CT_INT,
     .def  = "10000",
     .min  = 100,
     .max  = 600000,
     .off  = OFF(monitoring.timeout_ms),
     .desc = "Whole-request timeout of one Monitoring API call, in "
             "milliseconds (100 ms to 10 min). A timeout is retried "
             "like a 5xx."},
    {.name = "monitoring.connect_timeout_ms",
     .type = CT_INT,
     .def  = "3000",
     .min  = 100,
     .max  = 600000,
     .off  = OFF(monitoring.connect_timeout_ms),
     .desc = "TCP and TLS connect timeout, in milliseconds; at most "
             "timeout_ms."},
    {.name = "monitoring.max_in_flight",
     .type = CT_INT,
     .def  = "200",
     .min  = 1,
     .max  = 100000,
     .off  = OFF(monitoring.max_in_flight),
     .desc = "Most Monitoring API requests outstanding at once."},
    {.name  = "monitoring.ca_bundle",
     .type  = CT_STRING,
     .flags = CF_NULLABLE,
     .min   = 1,
     .max   = 4096,
     .off   = OFF(monitoring.ca_bundle),
     .desc  = "PEM file of CA certificates to trust instead of the "
              "system store. Unset: the system store."},
    {.name = "monitoring.insecure_skip_verify",
     .type = CT_BOOL,
     .def  = "false",
     .off  = OFF(monitoring.insecure_skip_verify),
     .desc = "Skip TLS certificate and host name verification. For "
             "local tests only; never in production."},
    {.name = "monitoring.rate_limit_per_s",
     .type = CT_DOUBLE,
     .def  = "0",
     .min  = 0,
     .max  = 100000,
     .off  = OFF(monitoring.rate_limit_per_s),
     .desc = "Most Monitoring API requests started per second, retries "
             "included; 0 turns the limit off."},
    {.name = "monitoring.domain_ttl_s",
     .type = CT_INT,
     .def  = "600",
     .min  = 10,
     .max  = 86400,
     .off  = OFF(monitoring.domain_ttl_s),
     .desc = "How long a host discovered through the Domain API is used "
             "before it is looked up again, in seconds (refreshed in the "
             "background; the old host serves meanwhile)."},
    {.name = "monitoring.circuit_failure_ratio",
     .type = CT_DOUBLE,
     .def  = "0.5",
     .min  = 0,
     .max  = 1,
     .off  = OFF(monitoring.circuit_failure_ratio),
     .desc = "Share of an account's calls in circuit_window_ms that must "
             "fail (5xx, 429, timeouts, transport errors) to open its "
             "circuit: new calls then wait circuit_cooldown_ms, after which "
             "one probe decides. 0 turns the breaker off."},
    {.name = "monitoring.circuit_min_requests",
     .type = CT_INT,
     .def  = "20",
     .min  = 1,
     .max  = 1000000,
     .off  = OFF(monitoring.circuit_min_requests),
     .desc = "Fewest calls in the window before the circuit may open."},
    {.name = "monitoring.circuit_window_ms",
     .type = CT_INT,
     .def  = "10000",
     .min  = 100,
     .max  = 3600000,
     .off  = OFF(monitoring.circuit_window_ms),
     .desc = "Window over which failures are counted, in milliseconds."},
    {.name = "monitoring.circuit_cooldown_ms",
     .type = CT_INT,
     .def  = "30000",
     .min  = 10,
     .max  = 3600000,
     .off  = OFF(monitoring.circuit_cooldown_ms),
     .desc = "How long an open circuit holds an account's calls before one "
             "probe is let through, in milliseconds."},
    {.name  = "monitoring.user_agent",
     .type  = CT_STRING,
     .def   = EW_NAME "/" EW_VERSION,
     .min   = 1,
     .max   = 256,
     .check = check_text,
     .rule  = RULE_TEXT,
     .off   = OFF(monitoring.user_agent),
     .desc  = "User-Agent header of Monitoring API requests."},

    /* retry */
    {.name    = "retry.delays_ms",
     .type    = CT_INT_LIST,
     .def     = "[3000, 10000, 30000, 90000]",
     .min     = 0,
     .max     = 3600000,
     .cnt_min = 1,
     .cnt_max = EW_CONFIG_MAX_DELAYS,
     .off     = OFF(retry.delays_ms),
     .off_cnt = OFF(retry.delays_cnt),
     .desc    = "Pause before each retry of a 5xx, a timeout or a "
                "loading account (202 in 1.1, 500/internalCode 20 in "
                "1.0), in milliseconds; one entry per retry. The "
                "default is the documented policy: 4 retries after 3, "
                "10, 30 and 90 s. 4xx answers are never retried."},
    {.name = "retry.jitter",
     .type = CT_DOUBLE,
     .def  = "0.1",
     .min  = 0,
     .max  = 1,
     .off  = OFF(retry.jitter),
     .desc = "Random spread of each delay as a fraction: 0.1 waits "
             "between 90% and 110% of the delay; 0 waits exactly."},

    /* worker */
    {.name = "worker.shutdown_timeout_ms",
     .type = CT_INT,
     .def  = "30000",
     .min  = 0,
     .max  = 600000,
     .off  = OFF(worker.shutdown_timeout_ms),
     .desc = "On SIGTERM, how long requests in flight may take to "
             "finish before the worker stops, in milliseconds. Events "
             "not finished are not committed."},
    {.name = "worker.session_ttl_s",
     .type = CT_INT,
     .def  = "1800",
     .min  = 0,
     .max  = 604800,
     .off  = OFF(worker.session_ttl_s),
     .desc = "How long a consumer's vid/sid are reused after the last "
             "answer, in seconds (up to 7 days); 0 never reuses them."},
    {.name = "worker.session_cache_size",
     .type = CT_INT,
     .def  = "100000",
     .min  = 0,
     .max  = 10000000,
     .off  = OFF(worker.session_cache_size),
     .desc = "Most consumers whose vid/sid are kept; the least recently "
             "used is dropped first. 0 keeps none."},
    {.name = "worker.max_event_bytes",
     .type = CT_INT,
     .def  = "65536",
     .min  = 256,
     .max  = 16777216,
     .off  = OFF(worker.max_event_bytes),
     .desc = "Largest input event accepted, in bytes; larger events are "
             "dead-lettered."},
    {.name = "worker.queue_high_watermark",
     .type = CT_INT,
     .def  = "5000",
     .min  = 1,
     .max  = 1000000,
     .off  = OFF(worker.queue_high_watermark),
     .desc = "Events held (queued, in flight or waiting for a retry) at "
             "which the worker stops taking messages from Kafka (it "
             "holds: librdkafka keeps its prefetch, bounded by "
             "queued.max.messages.kbytes; see hold_max_ms)."},
    {.name = "worker.queue_low_watermark",
     .type = CT_INT,
     .def  = "2500",
     .min  = 0,
     .max  = 999999,
     .off  = OFF(worker.queue_low_watermark),
     .desc = "Events held at which taking messages resumes (and "
             "fetching, if it was paused); less than "
             "queue_high_watermark."},
    {.name = "worker.hold_max_ms",
     .type = CT_INT,
     .def  = "2000",
     .min  = 0,
     .max  = 60000,
     .off  = OFF(worker.hold_max_ms),
     .desc = "How long the worker may hold before it pauses fetching on "
             "every partition, in milliseconds. While it holds, "
             "rebalances and consumer errors wait behind the prefetched "
             "messages; pausing drops the prefetch (fetched again on "
             "resume, after a gap of up to a second) so they get "
             "through. 0 pauses at once. Keep it well below "
             "max.poll.interval.ms."},

    /* identity */
    {.name  = "identity.hash_key",
     .type  = CT_STRING,
     .flags = CF_NULLABLE,
     /* At most 8: a printed config, where the key shows as "********",
      * must load again. */
     .min  = 8,
     .max  = 1024,
     .off  = OFF(identity.hash_key),
     .desc = "HMAC-SHA256 key turning the event's consumer id into an "
             "unguessable consumerId / identities.sub; use 32 or more "
             "random characters. Unset: the id is sent as given. Secret: "
             "masked when printed."},

    /* log */
    {.name    = "log.level",
     .type    = CT_CHOICE,
     .def     = "info",
     .choices = log_levels,
     .off     = OFF(log.level),
     .desc    = "Lowest level logged. Identities and engagement "
                "attributes only ever appear at debug."},
    {.name    = "log.format",
     .type    = CT_CHOICE,
     .def     = "text",
     .choices = log_formats,
     .off     = OFF(log.format),
     .desc    = "text: one readable line per event; json: one JSON "
                "object per line."},

    /* metrics */
    {.name  = "metrics.listen",
     .type  = CT_STRING,
     .def   = "0.0.0.0:9464",
     .min   = 0,
     .max   = 262,
     .check = check_listen,
     .rule  = "HOST:PORT (port 0 to 65535) or empty",
     .off   = OFF(metrics.listen),
     .desc  = "Address of the Prometheus /metrics endpoint; empty "
              "turns it off."},
};

#define NKEYS EW_ARRAY_SIZE(keys)

/*
 * Small helpers
 */

static int check_url(const char *s)
{
        const char *host;

        if (strncmp(s, "http://", 7) == 0)
                host = s + 7;
        else if (strncmp(s, "https://", 8) == 0)
                host = s + 8;
        else
                return -1;
        if (*host == '\0' || *host == '/')
                return -1;
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7f)
                        return -1;
        return 0;
}

static int check_name(const char *s)
{
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
                        return -1;
        return 0;
}

static int check_text(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < ' ' || *s == 0x7f)
                        return -1;
        return 0;
}

static int check_listen(const char *s)
{
        const char *colon = strrchr(s, ':');
        const char *p;
        long        port = 0;

        if (*s == '\0')
                return 0;
        if (!colon || colon == s || colon[1] == '\0' || strlen(colon + 1) > 5)
                return -1;
        for (p = s; p < colon; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return -1;
        for (p = colon + 1; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return -1;
                port = port * 10 + (*p - '0');
        }
        return port <= 65535 ? 0 : -1;
}

/* Pointer to the field at offset off of conf. The table is shared by the
 * code that writes fields and the code that only reads them, hence one
 * helper that drops the const. */
static void *field(const ew_config_t *conf, size_t off)
{
        return (char *)(uintptr_t)conf + off;
}

static size_t max_len(const cdef_t *d)
{
        return d->max > 0 ? (size_t)d->max : STRING_MAX_LEN;
}

static int find_choice(const char *const *choices, const char *s)
{
        int i;

        for (i = 0; choices[i]; i++)
                if (strcmp(choices[i], s) == 0)
                        return i;
        return -1;
}

static const cdef_t *find_key(const char *name, size_t *idxp)
{
        size_t i;

        for (i = 0; i < NKEYS; i++) {
                if (strcmp(keys[i].name, name) == 0) {
                        if (idxp)
                                *idxp = i;
                        return &keys[i];
                }
        }
        return NULL;
}

/* Length of the section part of a key name ("kafka" in "kafka.brokers"). */
static size_t section_len(const char *name)
{
        const char *dot = strchr(name, '.');

        return dot ? (size_t)(dot - name) : strlen(name);
}

/* Index of the first key of the section named by [s, s+len), or -1. */
static int find_section(const char *s, size_t len)
{
        size_t i;

        for (i = 0; i < NKEYS; i++)
                if (section_len(keys[i].name) == len &&
                    strncmp(keys[i].name, s, len) == 0)
                        return (int)i;
        return -1;
}

/* Appends to buf the names allowed in a section (sec >= 0, without the
 * section prefix) or at the top level (sec < 0). */
static void list_allowed(int sec, char *buf, size_t size)
{
        size_t len = 0, i, slen = sec >= 0 ? section_len(keys[sec].name) : 0;

        buf[0] = '\0';
        for (i = 0; i < NKEYS && len < size; i++) {
                const char *name = keys[i].name;
                size_t      nlen = section_len(name);
                if (sec >= 0) {
                        if (nlen != slen || strncmp(name, keys[sec].name, slen))
                                continue;
                        len += ew_snprintf(buf + len, size - len, "%s%s",
                                           len ? ", " : "", name + slen + 1);
                } else if ((int)i == find_section(name, nlen)) {
                        len += ew_snprintf(buf + len, size - len, "%s%.*s",
                                           len ? ", " : "", (int)nlen, name);
                }
        }
}

/* What a value of d must be, e.g. "an integer between 100 and 600000".
 * Used both in error messages and in the reference. */
static void describe(const cdef_t *d, char *buf, size_t size)
{
        size_t len = 0;
        int    i;

        switch (d->type) {
        case CT_STRING:
                if (d->min > 0)
                        len = ew_snprintf(buf, size,
                                          "a string of %zu to %zu characters",
                                          (size_t)d->min, max_len(d));
                else
                        len = ew_snprintf(buf, size,
                                          "a string of up to %zu characters",
                                          max_len(d));
                if (d->rule)
                        len +=
                            ew_snprintf(buf + len, size - len, ", %s", d->rule);
                if (d->flags & CF_NULLABLE)
                        ew_snprintf(buf + len, size - len, ", or empty");
                break;
        case CT_INT:
                ew_snprintf(buf, size, "an integer between %.0f and %.0f",
                            d->min, d->max);
                break;
        case CT_DOUBLE:
                ew_snprintf(buf, size, "a number between %g and %g", d->min,
                            d->max);
                break;
        case CT_BOOL:
                ew_snprintf(buf, size, "true or false");
                break;
        case CT_CHOICE:
        case CT_ENUM:
                len = ew_snprintf(buf, size, "one of");
                for (i = 0; d->choices[i]; i++)
                        len += ew_snprintf(buf + len, size - len, "%s \"%s\"",
                                           i ? "," : "", d->choices[i]);
                break;
        case CT_INT_LIST:
                ew_snprintf(buf, size,
                            "a list of %d to %d integers between %.0f and %.0f",
                            d->cnt_min, d->cnt_max, d->min, d->max);
                break;
        case CT_STR_MAP:
                ew_snprintf(buf, size,
                            "a map of up to %.0f names to scalar values",
                            d->max);
                break;
        }
}

/* Quotes a value for an error message; secrets are not shown. */
static void echo(const char *name, const char *text, char *buf, size_t size)
{
        size_t i, len = 0, n = strlen(text);

        if (ew_config_key_is_secret(name)) {
                ew_snprintf(buf, size, "a value of %zu characters (hidden)", n);
                return;
        }
        len = ew_snprintf(buf, size, "'");
        for (i = 0; i < n && i < 60 && len + 1 < size; i++) {
                unsigned char c = (unsigned char)text[i];
                buf[len++]      = (c < ' ' || c == 0x7f) ? '?' : (char)c;
        }
        buf[len] = '\0';
        ew_snprintf(buf + len, size - len, "%s'", n > 60 ? "..." : "");
}

static int parse_ll(const char *s, long long *vp)
{
        char *end;

        if (*s == '\0' || isspace((unsigned char)*s))
                return -1;
        errno = 0;
        *vp   = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -1;
        return 0;
}

static int parse_double(const char *s, double *vp)
{
        const char *p;
        char       *end;

        /* Plain decimal notation only: no hex, inf or nan. */
        if (*s == '\0')
                return -1;
        for (p = s; *p; p++)
                if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
                        return -1;
        errno = 0;
        *vp   = strtod(s, &end);
        if (errno != 0 || *end != '\0' || !isfinite(*vp))
                return -1;
        return 0;
}

static int parse_bool(const char *s, int *vp)
{
        static const char *const yes[] = {"true", "yes", "on", NULL};
        static const char *const no[]  = {"false", "no", "off", NULL};
        int                      i;

        for (i = 0; yes[i]; i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *vp = 1;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *vp = 0;
                        return 0;
                }
        }
        return -1;
}

/* Formats a double so that strtod() gives the same value back. */
static void fmt_double(double v, char *buf, size_t size)
{
        ew_snprintf(buf, size, "%.15g", v);
        if (strtod(buf, NULL) != v)
                ew_snprintf(buf, size, "%.17g", v);
}

/*
 * Converting values
 */

/* Converts one list entry. Returns 0, or -1 with why set. */
static int convert_entry(const cdef_t *d, const char *text, int *vp, char *why,
                         size_t why_size)
{
        long long v;
        char      got[96];

        if (parse_ll(text, &v) != 0 || v < d->min || v > d->max) {
                echo(d->name, text, got, sizeof(got));
                ew_snprintf(why, why_size,
                            "must be an integer between %.0f and %.0f, got %s",
                            d->min, d->max, got);
                return -1;
        }
        *vp = (int)v;
        return 0;
}

/* Converts the list default "[a, b, ...]" of d into conf. */
static int store_list_text(ew_config_t *conf, const cdef_t *d, const char *text,
                           char *why, size_t why_size)
{
        int        *vals = field(conf, d->off);
        int         cnt  = 0;
        const char *p    = text;
        char        num[32];

        while (*p) {
                size_t n = 0;
                while (*p == '[' || *p == ' ' || *p == ',')
                        p++;
                if (*p == ']' || *p == '\0')
                        break;
                while (*p && *p != ',' && *p != ']' && *p != ' ' &&
                       n + 1 < sizeof(num))
                        num[n++] = *p++;
                num[n] = '\0';
                if (cnt == d->cnt_max) {
                        ew_snprintf(why, why_size, "too many entries");
                        return -1;
                }
                if (convert_entry(d, num, &vals[cnt], why, why_size) != 0)
                        return -1;
                cnt++;
        }
        if (cnt < d->cnt_min) {
                ew_snprintf(why, why_size, "too few entries");
                return -1;
        }
        *(int *)field(conf, d->off_cnt) = cnt;
        return 0;
}

/* Converts the scalar text of d (already expanded) and stores it in conf,
 * replacing the previous value. is_null: the YAML scalar was null (plain
 * "", "~" or "null"). Returns 0, or -1 with why set to the reason, e.g.
 * "must be an integer between 100 and 600000, got 'abc'". */
static int store_scalar(ew_config_t *conf, const cdef_t *d, const char *text,
                        int is_null, char *why, size_t why_size)
{
        char      rule[256], got[96];
        long long ll;
        double    dbl;
        int       i;

        switch (d->type) {
        case CT_STRING: {
                char **sp = field(conf, d->off);
                char  *copy;
                size_t len;

                if (is_null || (*text == '\0' && (d->flags & CF_NULLABLE))) {
                        if (!(d->flags & CF_NULLABLE))
                                goto bad;
                        free(*sp);
                        *sp = NULL;
                        return 0;
                }
                copy = strdup(text);
                if (!copy)
                        goto oom;
                len = strlen(copy);
                while ((d->flags & CF_STRIP_SLASH) && len > 0 &&
                       copy[len - 1] == '/')
                        copy[--len] = '\0';
                if (len < (size_t)d->min || len > max_len(d) ||
                    (d->check && d->check(copy) != 0)) {
                        free(copy);
                        goto bad;
                }
                free(*sp);
                *sp = copy;
                return 0;
        }
        case CT_INT:
                if (parse_ll(text, &ll) != 0 || ll < d->min || ll > d->max)
                        goto bad;
                *(int *)field(conf, d->off) = (int)ll;
                return 0;
        case CT_DOUBLE:
                if (parse_double(text, &dbl) != 0 || dbl < d->min ||
                    dbl > d->max)
                        goto bad;
                *(double *)field(conf, d->off) = dbl;
                return 0;
        case CT_BOOL:
                if (parse_bool(text, &i) != 0)
                        goto bad;
                *(int *)field(conf, d->off) = i;
                return 0;
        case CT_CHOICE: {
                char **sp = field(conf, d->off);
                char  *copy;

                if ((i = find_choice(d->choices, text)) < 0)
                        goto bad;
                if (!(copy = strdup(d->choices[i])))
                        goto oom;
                free(*sp);
                *sp = copy;
                return 0;
        }
        case CT_ENUM:
                if ((i = find_choice(d->choices, text)) < 0)
                        goto bad;
                *(int *)field(conf, d->off) = i;
                return 0;
        case CT_INT_LIST:
        case CT_STR_MAP:
                /* Containers: a scalar is the wrong node type. */
                describe(d, rule, sizeof(rule));
                ew_snprintf(why, why_size, "must be %s, got a scalar", rule);
                return -1;
        }
bad:
        describe(d, rule, sizeof(rule));
        if (is_null)
                ew_snprintf(got, sizeof(got), "null");
        else
                echo(d->name, text, got, sizeof(got));
        ew_snprintf(why, why_size, "must be %s, got %s", rule, got);
        return -1;
oom:
        ew_snprintf(why, why_size, "out of memory");
        return -1;
}

static void kvlist_clear(ew_kvlist_t *kvl)
{
        size_t i;

        for (i = 0; i < kvl->cnt; i++) {
                free(kvl->items[i].key);
                free(kvl->items[i].value);
        }
        free(kvl->items);
        kvl->items = NULL;
        kvl->cnt   = 0;
}

static const ew_kv_t *kvlist_find(const ew_kvlist_t *kvl, const char *key)
{
        size_t i;

        for (i = 0; i < kvl->cnt; i++)
                if (strcmp(kvl->items[i].key, key) == 0)
                        return &kvl->items[i];
        return NULL;
}

/* Appends (key, value), taking ownership of both on success. */
static int kvlist_add(ew_kvlist_t *kvl, char *key, char *value)
{
        ew_kv_t *items = realloc(kvl->items, (kvl->cnt + 1) * sizeof(*items));

        if (!items)
                return -1;
        kvl->items                 = items;
        kvl->items[kvl->cnt].key   = key;
        kvl->items[kvl->cnt].value = value;
        kvl->cnt++;
        return 0;
}

/*
 * ${VAR} and ${VAR:-default}
 */

typedef struct sbuf {
        char  *s;
        size_t len, cap;
        int    overflow;
} sbuf_t;

static int sbuf_add(sbuf_t *sb, const char *s, size_t n)
{
        if (sb->len + n + 1 > EXPAND_MAX) {
                sb->overflow = 1;
                return -1;
        }
        if (sb->len + n + 1 > sb->cap) {
                size_t cap = sb->cap ? sb->cap : 64;
                char  *ns;
                while (cap < sb->len + n + 1)
                        cap *= 2;
                if (!(ns = realloc(sb->s, cap)))
                        return -1;
                sb->s   = ns;
                sb->cap = cap;
        }
        memcpy(sb->s + sb->len, s, n);
        sb->len += n;
        sb->s[sb->len] = '\0';
        return 0;
}

/* 1 if [p, end) holds "${". */
static int has_reference(const char *p, const char *end)
{
        for (; p + 1 < end; p++)
                if (p[0] == '$' && p[1] == '{')
                        return 1;
        return 0;
}

/* Expands every ${VAR} and ${VAR:-default} of in from the environment.
 * ":-" gives the default when VAR is unset or empty. "$$" and a '$' not
 * followed by '{' are copied as they are ("$${X}" stays "$${X}").
 * Returns a new string the caller frees, or NULL with why set. */
static char *expand_env(const char *in, char *why, size_t why_size)
{
        sbuf_t      sb = {0};
        const char *p  = in;

        if (sbuf_add(&sb, "", 0) != 0)
                goto oom;
        while (*p) {
                const char *dollar = strchr(p, '$');
                const char *name, *end, *close, *val;
                char        var[256];
                size_t      nlen;

                if (!dollar) {
                        if (sbuf_add(&sb, p, strlen(p)) != 0)
                                goto oom;
                        break;
                }
                if (sbuf_add(&sb, p, (size_t)(dollar - p)) != 0)
                        goto oom;
                if (dollar[1] != '{') {
                        /* "$$" is copied whole so its second '$' cannot
                         * start a reference. */
                        size_t n = dollar[1] == '$' ? 2 : 1;
                        if (sbuf_add(&sb, dollar, n) != 0)
                                goto oom;
                        p = dollar + n;
                        continue;
                }
                name  = dollar + 2;
                close = strchr(name, '}');
                if (!close) {
                        ew_snprintf(why, why_size,
                                    "unterminated '${' (write ${NAME} or "
                                    "${NAME:-default})");
                        goto error;
                }
                for (end = name; end < close &&
                                 (isalnum((unsigned char)*end) || *end == '_');
                     end++)
                        ;
                nlen = (size_t)(end - name);
                if (nlen == 0 || isdigit((unsigned char)*name) ||
                    nlen >= sizeof(var) ||
                    (end != close && strncmp(end, ":-", 2) != 0)) {
                        ew_snprintf(why, why_size,
                                    "bad reference '%.*s' (write ${NAME} or "
                                    "${NAME:-default}, NAME made of A-Z a-z "
                                    "0-9 _)",
                                    (int)(close - dollar + 1), dollar);
                        goto error;
                }
                if (end != close && has_reference(end + 2, close)) {
                        /* The default would end at the inner '}'. */
                        ew_snprintf(why, why_size,
                                    "a default cannot hold a reference: "
                                    "'%.*s}' (nesting is not supported)",
                                    (int)(close - dollar + 1), dollar);
                        goto error;
                }
                memcpy(var, name, nlen);
                var[nlen] = '\0';
                val       = getenv(var);
                if (end != close) {
                        /* ${VAR:-default} */
                        if (!val || !*val) {
                                val  = end + 2;
                                nlen = (size_t)(close - val);
                        } else {
                                nlen = strlen(val);
                        }
                } else if (!val) {
                        ew_snprintf(why, why_size,
                                    "environment variable %s is not set "
                                    "(write ${%s:-default} to give a default)",
                                    var, var);
                        goto error;
                } else {
                        nlen = strlen(val);
                }
                if (sbuf_add(&sb, val, nlen) != 0)
                        goto oom;
                p = close + 1;
        }
        return sb.s;

oom:
        if (sb.overflow)
                ew_snprintf(why, why_size, "longer than %d bytes once expanded",
                            EXPAND_MAX - 1);
        else
                ew_snprintf(why, why_size, "out of memory");
error:
        free(sb.s);
        return NULL;
}

/*
 * The YAML reader
 */

typedef struct pos {
        size_t line, col; /* 1-based; line 0: not from the file */
} pos_t;

/* Where the reader is in the document. */
enum lstate {
        LS_STREAM,        /* expecting the stream start */
        LS_DOCUMENT,      /* expecting a document, or the end (empty file) */
        LS_ROOT,          /* expecting the top-level map */
        LS_SECTION_KEY,   /* expecting a section name or the top map's end */
        LS_SECTION_VALUE, /* expecting a section's map */
        LS_KEY,           /* expecting a key of the section or its end */
        LS_VALUE,         /* expecting the value of key cur */
        LS_LIST,          /* in the list of cur: an entry or the end */
        LS_MAP_KEY,       /* in the map of cur: a name or the end */
        LS_MAP_VALUE,     /* in the map of cur: the value of map_key */
        LS_DOCUMENT_END,  /* expecting the document end */
        LS_STREAM_END,    /* expecting the stream end */
        LS_DONE,
};

typedef struct loader {
        const char   *name; /* file name for messages */
        ew_config_t  *conf;
        yaml_parser_t parser;
        enum lstate   state;
        int           section;  /* index of the section's first key */
        const cdef_t *cur;      /* key whose value is being read */
        pos_t         value_at; /* where cur's value (list, map) started */
        int           list_cnt; /* entries of cur's list so far */
        char         *map_key;  /* name waiting for its value (LS_MAP_VALUE) */
        pos_t         set_at[NKEYS];     /* where each key was set */
        pos_t         section_at[NKEYS]; /* where each section was opened */
        char         *errstr;
        size_t        errstr_size;
} loader_t;

static pos_t pos_of(const yaml_mark_t *mark)
{
        pos_t pos = {mark->line + 1, mark->column + 1};

        return pos;
}

/* Writes "FILE:LINE:COL: key 'KEY': MESSAGE" (no key part if key is NULL,
 * no position if pos.line is 0) to errstr. Returns -1. */
static int fail(const char *file, char *errstr, size_t errstr_size, pos_t pos,
                const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail(const char *file, char *errstr, size_t errstr_size, pos_t pos,
                const char *key, const char *fmt, ...)
{
        char    msg[1024], where[64] = "";
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (pos.line > 0)
                ew_snprintf(where, sizeof(where), ":%zu:%zu", pos.line,
                            pos.col);
        if (key)
                ew_snprintf(errstr, errstr_size, "%s%s: key '%s': %s", file,
                            where, key, msg);
        else
                ew_snprintf(errstr, errstr_size, "%s%s: %s", file, where, msg);
        return -1;
}

#define LFAIL(ld, mark, key, ...)                                              \
        fail((ld)->name, (ld)->errstr, (ld)->errstr_size, pos_of(mark), key,   \
             __VA_ARGS__)

static const char *node_kind(const yaml_event_t *ev)
{
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                return "a scalar";
        case YAML_SEQUENCE_START_EVENT:
                return "a list";
        case YAML_MAPPING_START_EVENT:
                return "a map";
        default:
                return "something else";
        }
}

static int is_null(const yaml_event_t *ev)
{
        const char *s = (const char *)ev->data.scalar.value;

        if (ev->type != YAML_SCALAR_EVENT ||
            ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return 0;
        return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
               strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* The text of a scalar event with ${...} expanded, or NULL after failing
 * with a message about key. */
static char *scalar_text(loader_t *ld, const yaml_event_t *ev, const char *key)
{
        char  why[512];
        char *text =
            expand_env((const char *)ev->data.scalar.value, why, sizeof(why));

        if (!text)
                LFAIL(ld, &ev->start_mark, key, "%s", why);
        return text;
}

static int on_section_key(loader_t *ld, const yaml_event_t *ev)
{
        const char *s = (const char *)ev->data.scalar.value;
        char        allowed[512];
        int         sec = find_section(s, strlen(s));

        if (sec < 0 || strchr(s, '.')) {
                list_allowed(-1, allowed, sizeof(allowed));
                return LFAIL(ld, &ev->start_mark, NULL,
                             "unknown key '%s' (allowed at the top level: %s)",
                             s, allowed);
        }
        if (ld->section_at[sec].line > 0)
                return LFAIL(ld, &ev->start_mark, s,
                             "duplicate key (first at line %zu)",
                             ld->section_at[sec].line);
        ld->section_at[sec] = pos_of(&ev->start_mark);
        ld->section         = sec;
        ld->state           = LS_SECTION_VALUE;
        return 0;
}

static int on_section_value(loader_t *ld, const yaml_event_t *ev)
{
        char   allowed[512];
        size_t slen = section_len(keys[ld->section].name);

        if (ev->type == YAML_MAPPING_START_EVENT) {
                ld->state = LS_KEY;
                return 0;
        }
        if (is_null(ev)) { /* "kafka:" alone: an empty section */
                ld->state = LS_SECTION_KEY;
                return 0;
        }
        list_allowed(ld->section, allowed, sizeof(allowed));
        return LFAIL(ld, &ev->start_mark, NULL,
                     "key '%.*s': must be a map of %.*s keys (%s), got %s",
                     (int)slen, keys[ld->section].name, (int)slen,
                     keys[ld->section].name, allowed, node_kind(ev));
}

static int on_key(loader_t *ld, const yaml_event_t *ev)
{
        const char   *sname = keys[ld->section].name;
        size_t        slen  = section_len(sname);
        char          name[NAME_MAX_LEN], allowed[512];
        size_t        idx;
        const cdef_t *d;

        ew_snprintf(name, sizeof(name), "%.*s.%s", (int)slen, sname,
                    (const char *)ev->data.scalar.value);
        if (!(d = find_key(name, &idx))) {
                list_allowed(ld->section, allowed, sizeof(allowed));
                return LFAIL(ld, &ev->start_mark, NULL,
                             "unknown key '%s' (allowed in '%.*s': %s)", name,
                             (int)slen, sname, allowed);
        }
        if (ld->set_at[idx].line > 0)
                return LFAIL(ld, &ev->start_mark, d->name,
                             "duplicate key (first at line %zu)",
                             ld->set_at[idx].line);
        ld->set_at[idx] = pos_of(&ev->start_mark);
        ld->cur         = d;
        ld->state       = LS_VALUE;
        return 0;
}

static int on_value(loader_t *ld, const yaml_event_t *ev)
{
        const cdef_t *d = ld->cur;
        char          why[512], rule[256];
        char         *text;
        int           r;

        if (d->type == CT_INT_LIST && ev->type == YAML_SEQUENCE_START_EVENT) {
                ld->list_cnt = 0;
                ld->value_at = pos_of(&ev->start_mark);
                ld->state    = LS_LIST;
                return 0;
        }
        if (d->type == CT_STR_MAP && ev->type == YAML_MAPPING_START_EVENT) {
                kvlist_clear(field(ld->conf, d->off));
                ld->value_at = pos_of(&ev->start_mark);
                ld->state    = LS_MAP_KEY;
                return 0;
        }
        if (d->type == CT_STR_MAP && is_null(ev)) {
                kvlist_clear(field(ld->conf, d->off));
                ld->state = LS_KEY;
                return 0;
        }
        if (ev->type != YAML_SCALAR_EVENT || d->type == CT_INT_LIST ||
            d->type == CT_STR_MAP) {
                describe(d, rule, sizeof(rule));
                return LFAIL(ld, &ev->start_mark, d->name, "must be %s, got %s",
                             rule, node_kind(ev));
        }
        if (!(text = scalar_text(ld, ev, d->name)))
                return -1;
        r = store_scalar(ld->conf, d, text, is_null(ev), why, sizeof(why));
        free(text);
        if (r != 0)
                return LFAIL(ld, &ev->start_mark, d->name, "%s", why);
        ld->state = LS_KEY;
        return 0;
}

static int on_list_entry(loader_t *ld, const yaml_event_t *ev)
{
        const cdef_t *d    = ld->cur;
        int          *vals = field(ld->conf, d->off);
        char          entry[NAME_MAX_LEN], why[512], rule[256];
        char         *text;
        int           r;

        ew_snprintf(entry, sizeof(entry), "%s[%d]", d->name, ld->list_cnt);
        if (ev->type != YAML_SCALAR_EVENT)
                return LFAIL(ld, &ev->start_mark, entry,
                             "must be an integer between %.0f and %.0f, got %s",
                             d->min, d->max, node_kind(ev));
        if (ld->list_cnt == d->cnt_max) {
                describe(d, rule, sizeof(rule));
                return LFAIL(ld, &ev->start_mark, d->name,
                             "must be %s, got more than %d entries", rule,
                             d->cnt_max);
        }
        if (!(text = scalar_text(ld, ev, entry)))
                return -1;
        r = convert_entry(d, text, &vals[ld->list_cnt], why, sizeof(why));
        free(text);
        if (r != 0)
                return LFAIL(ld, &ev->start_mark, entry, "%s", why);
        ld->list_cnt++;
        return 0;
}

static int on_list_end(loader_t *ld)
{
        const cdef_t *d = ld->cur;
        char          rule[256];

        if (ld->list_cnt < d->cnt_min) {
                describe(d, rule, sizeof(rule));
                return fail(ld->name, ld->errstr, ld->errstr_size, ld->value_at,
                            d->name, "must be %s, got %d", rule, ld->list_cnt);
        }
        *(int *)field(ld->conf, d->off_cnt) = ld->list_cnt;
        ld->state                           = LS_KEY;
        return 0;
}

static int on_map_key(loader_t *ld, const yaml_event_t *ev)
{
        const cdef_t      *d   = ld->cur;
        const ew_kvlist_t *kvl = field(ld->conf, d->off);
        const char        *s   = (const char *)ev->data.scalar.value;

        if (ev->type != YAML_SCALAR_EVENT || *s == '\0')
                return LFAIL(ld, &ev->start_mark, d->name,
                             "names in this map must be non-empty scalars, "
                             "got %s",
                             ev->type == YAML_SCALAR_EVENT ? "an empty one"
                                                           : node_kind(ev));
        if (kvlist_find(kvl, s))
                return LFAIL(ld, &ev->start_mark, d->name, "duplicate key '%s'",
                             s);
        if (kvl->cnt >= (size_t)d->max)
                return LFAIL(ld, &ev->start_mark, d->name,
                             "more than %.0f entries", d->max);
        if (!(ld->map_key = strdup(s)))
                return LFAIL(ld, &ev->start_mark, d->name, "out of memory");
        ld->state = LS_MAP_VALUE;
        return 0;
}

static int on_map_value(loader_t *ld, const yaml_event_t *ev)
{
        const cdef_t *d = ld->cur;
        char          name[NAME_MAX_LEN];
        char         *text;

        ew_snprintf(name, sizeof(name), "%s.%s", d->name, ld->map_key);
        if (ev->type != YAML_SCALAR_EVENT)
                return LFAIL(ld, &ev->start_mark, name,
                             "must be a scalar value, got %s", node_kind(ev));
        if (!(text = scalar_text(ld, ev, name)))
                return -1;
        if (kvlist_add(field(ld->conf, d->off), ld->map_key, text) != 0) {
                free(text);
                return LFAIL(ld, &ev->start_mark, name, "out of memory");
        }
        ld->map_key = NULL; /* owned by the list now */
        ld->state   = LS_MAP_KEY;
        return 0;
}

/* Handles one event according to the state. Returns 0 or -1 (errstr set).
 * The caller deletes the event. */
static int on_event(loader_t *ld, const yaml_event_t *ev)
{
        char allowed[512];

        if (ev->type == YAML_ALIAS_EVENT)
                return LFAIL(ld, &ev->start_mark, NULL,
                             "aliases (*%s) are not supported",
                             (const char *)ev->data.alias.anchor);

        switch (ld->state) {
        case LS_STREAM:
                if (ev->type != YAML_STREAM_START_EVENT)
                        break;
                ld->state = LS_DOCUMENT;
                return 0;
        case LS_DOCUMENT:
                if (ev->type == YAML_DOCUMENT_START_EVENT)
                        ld->state = LS_ROOT;
                else if (ev->type == YAML_STREAM_END_EVENT)
                        ld->state = LS_DONE; /* empty file: defaults */
                else
                        break;
                return 0;
        case LS_ROOT:
                if (ev->type == YAML_MAPPING_START_EVENT) {
                        ld->state = LS_SECTION_KEY;
                        return 0;
                }
                if (is_null(ev)) { /* "---" alone */
                        ld->state = LS_DOCUMENT_END;
                        return 0;
                }
                list_allowed(-1, allowed, sizeof(allowed));
                return LFAIL(ld, &ev->start_mark, NULL,
                             "the top level must be a map of sections (%s), "
                             "got %s",
                             allowed, node_kind(ev));
        case LS_SECTION_KEY:
                if (ev->type == YAML_MAPPING_END_EVENT) {
                        ld->state = LS_DOCUMENT_END;
                        return 0;
                }
                if (ev->type == YAML_SCALAR_EVENT)
                        return on_section_key(ld, ev);
                return LFAIL(ld, &ev->start_mark, NULL,
                             "keys must be scalars, got %s", node_kind(ev));
        case LS_SECTION_VALUE:
                return on_section_value(ld, ev);
        case LS_KEY:
                if (ev->type == YAML_MAPPING_END_EVENT) {
                        ld->state = LS_SECTION_KEY;
                        return 0;
                }
                if (ev->type == YAML_SCALAR_EVENT)
                        return on_key(ld, ev);
                return LFAIL(ld, &ev->start_mark, NULL,
                             "keys must be scalars, got %s", node_kind(ev));
        case LS_VALUE:
                return on_value(ld, ev);
        case LS_LIST:
                if (ev->type == YAML_SEQUENCE_END_EVENT)
                        return on_list_end(ld);
                return on_list_entry(ld, ev);
        case LS_MAP_KEY:
                if (ev->type == YAML_MAPPING_END_EVENT) {
                        ld->state = LS_KEY;
                        return 0;
                }
                return on_map_key(ld, ev);
        case LS_MAP_VALUE:
                return on_map_value(ld, ev);
        case LS_DOCUMENT_END:
                if (ev->type != YAML_DOCUMENT_END_EVENT)
                        break;
                ld->state = LS_STREAM_END;
                return 0;
        case LS_STREAM_END:
                if (ev->type == YAML_DOCUMENT_START_EVENT)
                        return LFAIL(ld, &ev->start_mark, NULL,
                                     "only one YAML document is allowed");
                if (ev->type != YAML_STREAM_END_EVENT)
                        break;
                ld->state = LS_DONE;
                return 0;
        case LS_DONE:
                break;
        }
        return LFAIL(ld, &ev->start_mark, NULL,
                     "unexpected YAML event %d in state %d", (int)ev->type,
                     (int)ld->state);
}

static void syntax_error(loader_t *ld)
{
        const yaml_parser_t *p = &ld->parser;
        const char *problem    = p->problem ? p->problem : "unknown problem";

        if (p->error == YAML_MEMORY_ERROR) {
                ew_snprintf(ld->errstr, ld->errstr_size, "%s: out of memory",
                            ld->name);
        } else if (p->error == YAML_READER_ERROR) {
                /* The reader (encoding, I/O) has no mark of its own. */
                LFAIL(ld, &p->mark, NULL, "YAML error: %s (byte %zu)", problem,
                      p->problem_offset);
        } else if (p->context) {
                LFAIL(ld, &p->problem_mark, NULL,
                      "YAML error: %s (%s at line %zu)", problem, p->context,
                      p->context_mark.line + 1);
        } else {
                LFAIL(ld, &p->problem_mark, NULL, "YAML error: %s", problem);
        }
}

/*
 * Checks across keys
 */

static int cross_fail(const ew_config_t *conf, const pos_t *set_at,
                      const char *key, char *errstr, size_t errstr_size,
                      const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Fails about key at the place it was set, or else at the place its
 * section was opened, or else without a position. */
static int cross_fail(const ew_config_t *conf, const pos_t *set_at,
                      const char *key, char *errstr, size_t errstr_size,
                      const char *fmt, ...)
{
        pos_t   pos = {0, 0};
        char    msg[1024];
        size_t  idx;
        va_list ap;

        if (set_at && find_key(key, &idx)) {
                pos = set_at[idx];
                if (pos.line == 0)
                        pos = set_at[NKEYS + (size_t)find_section(
                                                 key, section_len(key))];
        }
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return fail(conf->path ? conf->path : "(config)", errstr, errstr_size,
                    pos, key, "%s", msg);
}

/* The checks that span keys, run once after loading. set_at: NKEYS key
 * positions followed by NKEYS section positions, or NULL. */
static int finalize(ew_config_t *conf, const pos_t *set_at, char *errstr,
                    size_t errstr_size)
{
        static const char *const reserved[] = {
            "bootstrap.servers", "metadata.broker.list", "group.id", NULL};
        char   rule[256];
        size_t i;

        for (i = 0; i < NKEYS; i++) {
                const cdef_t *d = &keys[i];
                if (!(d->flags & CF_REQUIRED) || *(char **)field(conf, d->off))
                        continue;
                describe(d, rule, sizeof(rule));
                return cross_fail(conf, set_at, d->name, errstr, errstr_size,
                                  "is required and missing (must be %s)", rule);
        }
        if (conf->worker.queue_low_watermark >=
            conf->worker.queue_high_watermark) {
                const char *key = "worker.queue_low_watermark";
                size_t      idx;
                if (set_at && find_key(key, &idx) && set_at[idx].line == 0)
                        key = "worker.queue_high_watermark";
                return cross_fail(
                    conf, set_at, key, errstr, errstr_size,
                    "worker.queue_low_watermark (%d) must be less than "
                    "worker.queue_high_watermark (%d)",
                    conf->worker.queue_low_watermark,
                    conf->worker.queue_high_watermark);
        }
        if (conf->monitoring.connect_timeout_ms > conf->monitoring.timeout_ms) {
                const char *key = "monitoring.connect_timeout_ms";
                size_t      idx;
                if (set_at && find_key(key, &idx) && set_at[idx].line == 0)
                        key = "monitoring.timeout_ms";
                return cross_fail(
                    conf, set_at, key, errstr, errstr_size,
                    "monitoring.connect_timeout_ms (%d) must not be "
                    "more than monitoring.timeout_ms (%d)",
                    conf->monitoring.connect_timeout_ms,
                    conf->monitoring.timeout_ms);
        }
        if (conf->kafka.input_topic && conf->kafka.output_topic &&
            strcmp(conf->kafka.input_topic, conf->kafka.output_topic) == 0)
                return cross_fail(conf, set_at, "kafka.output_topic", errstr,
                                  errstr_size,
                                  "must differ from kafka.input_topic ('%s'), "
                                  "or outcomes would be consumed again",
                                  conf->kafka.input_topic);
        if (conf->kafka.input_topic && conf->kafka.dead_letter_topic &&
            strcmp(conf->kafka.input_topic, conf->kafka.dead_letter_topic) == 0)
                return cross_fail(conf, set_at, "kafka.dead_letter_topic",
                                  errstr, errstr_size,
                                  "must differ from kafka.input_topic ('%s'), "
                                  "or failures would be consumed again",
                                  conf->kafka.input_topic);
        for (i = 0; reserved[i]; i++)
                if (kvlist_find(&conf->kafka.properties, reserved[i]))
                        return cross_fail(
                            conf, set_at, "kafka.properties", errstr,
                            errstr_size,
                            "'%s' is not allowed here: it is set from "
                            "kafka.%s",
                            reserved[i],
                            strcmp(reserved[i], "group.id") == 0 ? "group_id"
                                                                 : "brokers");
        return 0;
}

/*
 * Public API
 */

const char *ew_api_version_str(ew_api_version_t v)
{
        return v == EW_API_V1_0 ? "1.0" : "1.1";
}

ew_config_t *ew_config_new_defaults(void)
{
        ew_config_t *conf = calloc(1, sizeof(*conf));
        char         why[512];
        size_t       i;

        if (!conf)
                return NULL;
        for (i = 0; i < NKEYS; i++) {
                const cdef_t *d = &keys[i];
                int           r;
                if (!d->def)
                        continue;
                if (d->type == CT_INT_LIST)
                        r = store_list_text(conf, d, d->def, why, sizeof(why));
                else
                        r = store_scalar(conf, d, d->def, 0 /*not null*/, why,
                                         sizeof(why));
                if (r != 0) { /* out of memory, or a bad row in keys[] */
                        ew_config_destroy(conf);
                        return NULL;
                }
        }
        return conf;
}

void ew_config_destroy(ew_config_t *conf)
{
        size_t i;

        if (!conf)
                return;
        for (i = 0; i < NKEYS; i++) {
                const cdef_t *d = &keys[i];
                if (d->type == CT_STRING || d->type == CT_CHOICE)
                        free(*(char **)field(conf, d->off));
                else if (d->type == CT_STR_MAP)
                        kvlist_clear(field(conf, d->off));
        }
        free(conf->path);
        free(conf);
}

int ew_config_finalize(ew_config_t *conf, char *errstr, size_t errstr_size)
{
        return finalize(conf, NULL, errstr, errstr_size);
}

/* Runs the reader over the input already set on ld->parser. */
static ew_config_t *load(loader_t *ld)
{
        /* set_at and section_at are adjacent arrays of NKEYS positions:
         * finalize() takes them as one. */
        pos_t        positions[2 * NKEYS];
        yaml_event_t ev;

        if (!(ld->conf = ew_config_new_defaults()) ||
            !(ld->conf->path = strdup(ld->name))) {
                ew_snprintf(ld->errstr, ld->errstr_size, "%s: out of memory",
                            ld->name);
                goto error;
        }
        while (ld->state != LS_DONE) {
                int r;
                if (!yaml_parser_parse(&ld->parser, &ev)) {
                        syntax_error(ld);
                        goto error;
                }
                r = on_event(ld, &ev);
                yaml_event_delete(&ev);
                if (r != 0)
                        goto error;
        }
        memcpy(positions, ld->set_at, sizeof(ld->set_at));
        memcpy(positions + NKEYS, ld->section_at, sizeof(ld->section_at));
        if (finalize(ld->conf, positions, ld->errstr, ld->errstr_size) != 0)
                goto error;
        return ld->conf;

error:
        free(ld->map_key);
        ld->map_key = NULL;
        ew_config_destroy(ld->conf);
        ld->conf = NULL;
        return NULL;
}

ew_config_t *ew_config_load_string(const char *yaml, size_t len,
                                   const char *name, char *errstr,
                                   size_t errstr_size)
{
        loader_t     ld = {0};
        ew_config_t *conf;

        ld.name        = name ? name : "(string)";
        ld.errstr      = errstr;
        ld.errstr_size = errstr_size;
        if (!yaml_parser_initialize(&ld.parser)) {
                ew_snprintf(errstr, errstr_size, "%s: out of memory", ld.name);
                return NULL;
        }
        yaml_parser_set_input_string(&ld.parser, (const unsigned char *)yaml,
                                     len);
        conf = load(&ld);
        yaml_parser_delete(&ld.parser);
        return conf;
}

ew_config_t *ew_config_load(const char *path, char *errstr, size_t errstr_size)
{
        loader_t     ld = {0};
        ew_config_t *conf;
        FILE        *fp = fopen(path, "rb");

        if (!fp) {
                ew_snprintf(errstr, errstr_size, "cannot open %s: %s", path,
                            strerror(errno));
                return NULL;
        }
        ld.name        = path;
        ld.errstr      = errstr;
        ld.errstr_size = errstr_size;
        if (!yaml_parser_initialize(&ld.parser)) {
                ew_snprintf(errstr, errstr_size, "%s: out of memory", path);
                fclose(fp);
                return NULL;
        }
        yaml_parser_set_input_file(&ld.parser, fp);
        conf = load(&ld);
        yaml_parser_delete(&ld.parser);
        if (conf && ferror(fp)) {
                ew_snprintf(errstr, errstr_size, "cannot read %s: %s", path,
                            strerror(errno));
                ew_config_destroy(conf);
                conf = NULL;
        }
        fclose(fp);
        return conf;
}

/*
 * Secrets and printing
 */

static int contains_ci(const char *s, const char *needle)
{
        size_t n = strlen(needle);

        for (; *s; s++)
                if (strncasecmp(s, needle, n) == 0)
                        return 1;
        return 0;
}

static int ends_with_ci(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcasecmp(s + n - m, suffix) == 0 &&
               (n == m || s[n - m - 1] == '.');
}

int ew_config_key_is_secret(const char *key)
{
        const char *p, *last;
        int         has_key = 0;

        if (!key)
                return 0;
        if (contains_ci(key, "password") || contains_ci(key, "secret") ||
            contains_ci(key, "token"))
                return 1;
        /* Whole credentials hidden in librdkafka settings. */
        if (ends_with_ci(key, "sasl.oauthbearer.config") ||
            ends_with_ci(key, "sasl.jaas.config"))
                return 1;
        /* A part "key" (split at '.', '_' and '-'), unless the last part is
         * "location": ssl.key.location is a path, not key material. */
        for (p = key, last = key;; p++) {
                if (*p == '.' || *p == '_' || *p == '-' || *p == '\0') {
                        if (p - last == 3 && strncasecmp(last, "key", 3) == 0)
                                has_key = 1;
                        if (*p == '\0')
                                break;
                        last = p + 1;
                }
        }
        return has_key && strcasecmp(last, "location") != 0;
}

/* Writes s as a double-quoted YAML scalar. */
static void put_quoted(FILE *fp, const char *s)
{
        fputc('"', fp);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        fprintf(fp, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", fp);
                else if (c == '\t')
                        fputs("\\t", fp);
                else if (c < ' ' || c == 0x7f)
                        fprintf(fp, "\\x%02x", c);
                else if (c == 0xc2 && (unsigned char)s[1] >= 0x80 &&
                         (unsigned char)s[1] <= 0x9f) {
                        /* C1 controls, NEL (U+0085) among them: YAML reads
                         * NEL as a line break, so write them escaped. */
                        fprintf(fp, "\\x%02x", (unsigned char)s[1]);
                        s++;
                } else if (c == 0xe2 && (unsigned char)s[1] == 0x80 &&
                           ((unsigned char)s[2] == 0xa8 ||
                            (unsigned char)s[2] == 0xa9)) {
                        /* U+2028 and U+2029 are line breaks to YAML. */
                        fputs((unsigned char)s[2] == 0xa8 ? "\\L" : "\\P", fp);
                        s += 2;
                } else
                        fputc(c, fp);
        }
        fputc('"', fp);
}

static void put_string(FILE *fp, const char *name, const char *s)
{
        if (!s)
                fputs("~", fp);
        else if (ew_config_key_is_secret(name))
                put_quoted(fp, "********");
        else
                put_quoted(fp, s);
}

/* Writes the value of d in conf as YAML, after "key:": " value", or the
 * indented entries of a non-empty map on the following lines. */
static void put_value(FILE *fp, const ew_config_t *conf, const cdef_t *d)
{
        char               num[64], name[NAME_MAX_LEN];
        const ew_kvlist_t *kvl;
        const int         *vals;
        int                i, cnt;
        size_t             j;

        if (d->type != CT_STR_MAP)
                fputc(' ', fp);
        switch (d->type) {
        case CT_STRING:
        case CT_CHOICE:
                put_string(fp, d->name, *(char **)field(conf, d->off));
                break;
        case CT_INT:
                fprintf(fp, "%d", *(int *)field(conf, d->off));
                break;
        case CT_DOUBLE:
                fmt_double(*(double *)field(conf, d->off), num, sizeof(num));
                fputs(num, fp);
                break;
        case CT_BOOL:
                fputs(*(int *)field(conf, d->off) ? "true" : "false", fp);
                break;
        case CT_ENUM:
                i = *(int *)field(conf, d->off);
                put_quoted(fp, d->choices[i]);
                break;
        case CT_INT_LIST:
                vals = field(conf, d->off);
                cnt  = *(int *)field(conf, d->off_cnt);
                fputc('[', fp);
                for (i = 0; i < cnt; i++)
                        fprintf(fp, "%s%d", i ? ", " : "", vals[i]);
                fputc(']', fp);
                break;
        case CT_STR_MAP:
                kvl = field(conf, d->off);
                if (kvl->cnt == 0)
                        fputs(" {}", fp);
                for (j = 0; j < kvl->cnt; j++) {
                        ew_snprintf(name, sizeof(name), "%s.%s", d->name,
                                    kvl->items[j].key);
                        fputs("\n    ", fp);
                        put_quoted(fp, kvl->items[j].key);
                        fputs(": ", fp);
                        put_string(fp, name, kvl->items[j].value);
                }
                break;
        }
}

void ew_config_print(const ew_config_t *conf, FILE *fp)
{
        size_t      i, prev_len = 0;
        const char *prev = NULL, *s;

        fprintf(fp, "# %s %s effective configuration", EW_NAME, EW_VERSION);
        if (conf->path) {
                /* A comment must stay on its line. */
                fputs(" from ", fp);
                for (s = conf->path; *s; s++)
                        fputc((unsigned char)*s < ' ' ? '?' : *s, fp);
        }
        fputs("\n# secrets are shown as \"********\"\n", fp);
        for (i = 0; i < NKEYS; i++) {
                const cdef_t *d    = &keys[i];
                size_t        slen = section_len(d->name);
                if (!prev || slen != prev_len ||
                    strncmp(prev, d->name, slen) != 0)
                        fprintf(fp, "%.*s:\n", (int)slen, d->name);
                prev     = d->name;
                prev_len = slen;
                fprintf(fp, "  %s:", d->name + slen + 1);
                put_value(fp, conf, d);
                fputc('\n', fp);
        }
}

/* Writes s into a Markdown table cell ('|' escaped). */
static void put_cell(FILE *fp, const char *s)
{
        for (; *s; s++) {
                if (*s == '|')
                        fputc('\\', fp);
                fputc(*s, fp);
        }
}

static const char *type_name(ctype_t type)
{
        switch (type) {
        case CT_STRING:
                return "string";
        case CT_INT:
                return "integer";
        case CT_DOUBLE:
                return "number";
        case CT_BOOL:
                return "boolean";
        case CT_CHOICE:
        case CT_ENUM:
                return "choice";
        case CT_INT_LIST:
                return "list of integers";
        case CT_STR_MAP:
                return "map";
        }
        return "?";
}

void ew_config_print_reference(FILE *fp)
{
        char   rule[256];
        size_t i;

        fputs("| Key | Type | Default | Allowed | Description |\n", fp);
        fputs("| --- | --- | --- | --- | --- |\n", fp);
        for (i = 0; i < NKEYS; i++) {
                const cdef_t *d = &keys[i];
                fprintf(fp, "| `%s` | %s | ", d->name, type_name(d->type));
                if (d->flags & CF_REQUIRED)
                        fputs("required", fp);
                else if (d->def) {
                        fputc('`', fp);
                        put_cell(fp, d->def);
                        fputc('`', fp);
                } else if (d->type == CT_STR_MAP) {
                        fputs("empty", fp);
                } else {
                        fputs("unset", fp);
                }
                describe(d, rule, sizeof(rule));
                fputs(" | ", fp);
                put_cell(fp, rule);
                fputs(" | ", fp);
                put_cell(fp, d->desc);
                fputs(" |\n", fp);
        }
}
