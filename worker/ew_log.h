/*
 * ew_log - levelled logging to stderr, one line per event.
 *
 * The level is checked before any formatting happens. Lines carry a
 * component tag ("config", "kafka", "http", ...). Text format:
 *
 *   2026-11-24T06:15:40.123Z INFO  [config] loaded config/local.yaml
 *
 * JSON format (log.format: json) writes one object per line with "time",
 * "level", "component" and "message".
 *
 * Identity and engagement-attribute contents are only ever logged at DEBUG:
 * callers must not pass them to higher levels.
 *
 * @locality any thread: a line is written with a single write(2).
 */
#ifndef EW_LOG_H
#define EW_LOG_H

#include <stdarg.h>
#include <stdint.h>

typedef enum ew_log_level {
        EW_LOG_ERROR = 0,
        EW_LOG_WARN  = 1,
        EW_LOG_INFO  = 2,
        EW_LOG_DEBUG = 3,
} ew_log_level_t;

typedef enum ew_log_format {
        EW_LOG_FORMAT_TEXT = 0,
        EW_LOG_FORMAT_JSON = 1,
} ew_log_format_t;

/* Global log threshold; lines above it are dropped before formatting. */
extern ew_log_level_t ew_log_threshold;

void ew_log_set_level(ew_log_level_t level);
void ew_log_set_format(ew_log_format_t format);

/* Parses "error", "warn", "info", "debug". Returns 0, or -1 if unknown. */
int         ew_log_level_parse(const char *s, ew_log_level_t *levelp);
const char *ew_log_level_name(ew_log_level_t level);

/* Structured fields of a line about one event (log.format json writes them
 * as JSON members, text as key=value after the message). Absent: NULL, -1
 * (partition, offset) or 0 (status, attempt). Never identity or attribute
 * contents. */
typedef struct ew_log_fields {
        const char *event_id;
        int32_t     partition;
        int64_t     offset;
        int         status;  /* HTTP status */
        int         attempt; /* API calls made */
} ew_log_fields_t;

#define EW_LOG_FIELDS_NONE                                                     \
        {                                                                      \
                NULL, -1, -1, 0, 0                                             \
        }

/* Writes one line. Prefer the EW_LOG_* macros, which check the level first. */
void ew_log_write(ew_log_level_t level, const char *component, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));
void ew_log_vwrite(ew_log_level_t level, const char *component,
                   const ew_log_fields_t *fields, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
void ew_log_fwrite(ew_log_level_t level, const char *component,
                   const ew_log_fields_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define EW_LOG(level, component, ...)                                          \
        do {                                                                   \
                if ((level) <= ew_log_threshold)                               \
                        ew_log_write((level), (component), __VA_ARGS__);       \
        } while (0)

/* A line with the structured fields of one event. */
#define EW_LOGF(level, component, fields, ...)                                 \
        do {                                                                   \
                if ((level) <= ew_log_threshold)                               \
                        ew_log_fwrite((level), (component), (fields),          \
                                      __VA_ARGS__);                            \
        } while (0)

#define EW_ERROR(component, ...) EW_LOG(EW_LOG_ERROR, component, __VA_ARGS__)
#define EW_WARN(component, ...) EW_LOG(EW_LOG_WARN, component, __VA_ARGS__)
#define EW_INFO(component, ...) EW_LOG(EW_LOG_INFO, component, __VA_ARGS__)
#define EW_DEBUG(component, ...) EW_LOG(EW_LOG_DEBUG, component, __VA_ARGS__)

#endif /* EW_LOG_H */
