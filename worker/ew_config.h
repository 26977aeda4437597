/*
 * ew_config - the worker's configuration: one YAML file into one typed
 * struct, driven by one declarative table of keys (name, type, default,
 * bounds, offset, description) in ew_config.c.
 *
 * Loading:
 *   - every key has a default; the file only overrides;
 *   - ${VAR} and ${VAR:-default} in scalar values are expanded from the
 *     environment before the value is typed (an unset ${VAR} without a
 *     default is an error);
 *   - unknown keys, wrong types and out-of-range values are errors of the
 *     form "FILE:LINE:COL: key 'monitoring.timeout_ms': must be an integer
 *     between 100 and 600000, got 'abc'";
 *   - checks that span keys run once after loading (ew_config_finalize).
 *
 * Ownership: ew_config_load() returns a config the caller frees with
 * ew_config_destroy(). All strings inside are owned by the config.
 */
#ifndef EW_CONFIG_H
#define EW_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum ew_api_version {
        EW_API_V1_0 = 0, /* "1.0": loading account is 500 / internalCode 20 */
        EW_API_V1_1 = 1, /* "1.1": loading account is 202 / internalCode 38 */
} ew_api_version_t;

/* "1.0" or "1.1" as sent in the v= query parameter. */
const char *ew_api_version_str(ew_api_version_t v);

/* A string-to-string map kept in file order (kafka.properties). */
typedef struct ew_kv {
        char *key;
        char *value;
} ew_kv_t;

typedef struct ew_kvlist {
        ew_kv_t *items;
        size_t   cnt;
} ew_kvlist_t;

#define EW_CONFIG_MAX_DELAYS 16

typedef struct ew_config {
        char *path; /* the file it was loaded from */

        struct {
                char *brokers;           /* required */
                char *group_id;          /* default "engagement-worker" */
                char *input_topic;       /* default "visitor-activity" */
                char *output_topic;      /* default "engagement-outcomes" */
                char *dead_letter_topic; /* default "engagement-dead-letter" */
                ew_kvlist_t properties;  /* passed to librdkafka as is */
        } kafka;

        struct {
                char *base_url;      /* e.g. https://va.v.liveperson.net;
                                      * NULL: discovered (CSDS) */
                char *csds_base_url; /* default https://api.liveperson.net */
                char *discovered_scheme;      /* "https" (default) or "http" */
                char *account_id;             /* default account, may be NULL */
                char *app_installation_id;    /* default app, may be NULL */
                ew_api_version_t api_version; /* default 1.1 */
                int              timeout_ms;  /* default 10000 */
                int              connect_timeout_ms; /* default 3000 */
                int              max_in_flight;      /* default 200 */
                char            *ca_bundle; /* extra CA file, may be NULL */
                int              insecure_skip_verify; /* default 0 */
                double           rate_limit_per_s;     /* 0 = off (default) */
                int              domain_ttl_s;         /* default 600 */
                double circuit_failure_ratio; /* default 0.5, 0 = off */
                int    circuit_min_requests;  /* default 20 */
                int    circuit_window_ms;     /* default 10000 */
                int    circuit_cooldown_ms;   /* default 30000 */
                char  *user_agent; /* default "engagement-worker/VERSION" */
        } monitoring;

        struct {
                int delays_ms
                    [EW_CONFIG_MAX_DELAYS]; /* default 3000,10000,30000,90000 */
                int    delays_cnt;
                double jitter; /* 0..1, default 0.1 */
        } retry;

        struct {
                int shutdown_timeout_ms;  /* default 30000 */
                int session_ttl_s;        /* default 1800 */
                int session_cache_size;   /* default 100000 */
                int max_event_bytes;      /* default 65536 */
                int queue_high_watermark; /* default 5000: hold */
                int queue_low_watermark;  /* default 2500: take again */
                int hold_max_ms; /* default 2000: then pause fetching */
        } worker;

        struct {
                char *hash_key; /* HMAC-SHA256 key for sub/consumerId, may be
                                   NULL */
        } identity;

        struct {
                char *level;  /* error|warn|info|debug, default info */
                char *format; /* text|json, default text */
        } log;

        struct {
                char *listen; /* default "0.0.0.0:9464"; "" disables */
        } metrics;
} ew_config_t;

/* Returns a config holding only defaults (no file). Caller destroys. */
ew_config_t *ew_config_new_defaults(void);

/* Loads and validates path. Returns the config, or NULL with errstr set
 * to one message naming the file, line, column and key. */
ew_config_t *ew_config_load(const char *path, char *errstr, size_t errstr_size);

/* Same, from an in-memory YAML document; name is used in messages. */
ew_config_t *ew_config_load_string(const char *yaml, size_t len,
                                   const char *name, char *errstr,
                                   size_t errstr_size);

/* Runs the checks that span keys (kafka.brokers set, low < high watermark,
 * connect_timeout_ms <= timeout_ms, output topics differ from the input
 * topic, no bootstrap.servers/group.id in kafka.properties), as loading
 * does; for configs built with ew_config_new_defaults() and filled in by
 * code. Returns 0, or -1 with errstr set. */
int ew_config_finalize(ew_config_t *conf, char *errstr, size_t errstr_size);

/* Frees the config and everything it owns. NULL is a no-op. */
void ew_config_destroy(ew_config_t *conf);

/* Writes the effective config as YAML to fp, secrets masked: any key whose
 * name contains "password", "secret", "token" or "key" (as a whole word
 * part, e.g. sasl.password, ssl.key.password, identity.hash_key,
 * ssl.key.pem) shows "********" instead of its value. */
void ew_config_print(const ew_config_t *conf, FILE *fp);

/* Returns 1 if a key of that name holds secret material (rule above). */
int ew_config_key_is_secret(const char *key);

/* Writes the documentation of every key (name, type, default, bounds,
 * description) as a Markdown table to fp; docs/configuration.md is made
 * from it so the docs cannot drift from the table. */
void ew_config_print_reference(FILE *fp);

#endif /* EW_CONFIG_H */
