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
int ew_log_level_parse(const char *s, ew_log_level_t *levelp);
const char *ew_log_level_name(ew_log_level_t level);

/* Writes one line. Prefer the EW_LOG_* macros, which check the level first. */
void ew_log_write(ew_log_level_t level, const char *component,
                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ew_log_vwrite(ew_log_level_t level, const char *component,
                   const char *fmt, va_list ap);

#define EW_LOG(level, component, ...)                                          \
        do {                                                                   \
                if ((level) <= ew_log_threshold)                               \
                        ew_log_write((level), (component), __VA_ARGS__);       \
        } while (0)

#define EW_ERROR(component, ...) EW_LOG(EW_LOG_ERROR, component, __VA_ARGS__)
#define EW_WARN(component, ...)  EW_LOG(EW_LOG_WARN, component, __VA_ARGS__)
#define EW_INFO(component, ...)  EW_LOG(EW_LOG_INFO, component, __VA_ARGS__)
#define EW_DEBUG(component, ...) EW_LOG(EW_LOG_DEBUG, component, __VA_ARGS__)

#endif /* EW_LOG_H */
