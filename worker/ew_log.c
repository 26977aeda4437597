/*
 * ew_log - see ew_log.h.
 */
#include "ew_log.h"
#include "ew_util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

ew_log_level_t         ew_log_threshold = EW_LOG_INFO;
static ew_log_format_t log_format       = EW_LOG_FORMAT_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ew_log_set_level(ew_log_level_t level)
{
        ew_log_threshold = level;
}

void ew_log_set_format(ew_log_format_t format)
{
        log_format = format;
}

int ew_log_level_parse(const char *s, ew_log_level_t *levelp)
{
        size_t i;

        if (!s)
                return -1;
        for (i = 0; i < EW_ARRAY_SIZE(level_names); i++) {
                if (!strcasecmp(s, level_names[i])) {
                        *levelp = (ew_log_level_t)i;
                        return 0;
                }
        }
        if (!strcasecmp(s, "warning")) {
                *levelp = EW_LOG_WARN;
                return 0;
        }
        return -1;
}

const char *ew_log_level_name(ew_log_level_t level)
{
        if ((int)level < 0 || (size_t)level >= EW_ARRAY_SIZE(level_names))
                return "?";
        return level_names[level];
}

/* Appends s to buf as the inside of a JSON string, escaping what JSON
 * requires. Returns the new length, never past size - 1. */
static size_t json_escape_into(char *buf, size_t len, size_t size,
                               const char *s)
{
        static const char hex[] = "0123456789abcdef";

        for (; *s && len + 7 < size; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\') {
                        buf[len++] = '\\';
                        buf[len++] = (char)c;
                } else if (c == '\n') {
                        buf[len++] = '\\';
                        buf[len++] = 'n';
                } else if (c < 0x20) {
                        buf[len++] = '\\';
                        buf[len++] = 'u';
                        buf[len++] = '0';
                        buf[len++] = '0';
                        buf[len++] = hex[c >> 4];
                        buf[len++] = hex[c & 0xf];
                } else {
                        buf[len++] = (char)c;
                }
        }
        buf[len] = '\0';
        return len;
}

/* Appends the fields: JSON members, or " key=value" in text. */
static size_t add_fields(char *line, size_t len, size_t size,
                         const ew_log_fields_t *f, int json)
{
        if (!f)
                return len;
        if (f->event_id) {
                len += ew_snprintf(line + len, size - len,
                                   json ? ",\"eventId\":\"" : " eventId=");
                len = json_escape_into(line, len, size, f->event_id);
                if (json)
                        len += ew_snprintf(line + len, size - len, "\"");
        }
        if (f->partition >= 0)
                len += ew_snprintf(line + len, size - len,
                                   json ? ",\"partition\":%d" : " partition=%d",
                                   (int)f->partition);
        if (f->offset >= 0)
                len += ew_snprintf(line + len, size - len,
                                   json ? ",\"offset\":%lld" : " offset=%lld",
                                   (long long)f->offset);
        if (f->status > 0)
                len += ew_snprintf(line + len, size - len,
                                   json ? ",\"status\":%d" : " status=%d",
                                   f->status);
        if (f->attempt > 0)
                len += ew_snprintf(line + len, size - len,
                                   json ? ",\"attempt\":%d" : " attempt=%d",
                                   f->attempt);
        return len;
}

void ew_log_vwrite(ew_log_level_t level, const char *component,
                   const ew_log_fields_t *fields, const char *fmt, va_list ap)
{
        char    msg[2048];
        char    line[4608];
        char    ts[EW_RFC3339_SIZE];
        size_t  len;
        ssize_t r;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        ew_rfc3339_ms(ew_wall_ms(), ts, sizeof(ts));
        if (!component)
                component = "main";

        /* Room is kept for the closing characters below. */
        if (log_format == EW_LOG_FORMAT_JSON) {
                len = ew_snprintf(line, sizeof(line) - 8,
                                  "{\"time\":\"%s\",\"level\":\"%s\","
                                  "\"component\":\"",
                                  ts, ew_log_level_name(level));
                len = json_escape_into(line, len, sizeof(line) - 8, component);
                len += ew_snprintf(line + len, sizeof(line) - 8 - len,
                                   "\",\"message\":\"");
                len = json_escape_into(line, len, sizeof(line) - 8, msg);
                len += ew_snprintf(line + len, sizeof(line) - 8 - len, "\"");
                len = add_fields(line, len, sizeof(line) - 8, fields, 1);
                len += ew_snprintf(line + len, sizeof(line) - len, "}\n");
        } else {
                char        upper[8];
                const char *n = ew_log_level_name(level);
                size_t      i;
                for (i = 0; n[i] && i < sizeof(upper) - 1; i++)
                        upper[i] = (char)(n[i] - 'a' + 'A');
                upper[i] = '\0';
                len = ew_snprintf(line, sizeof(line) - 8, "%s %-5s [%s] %s", ts,
                                  upper, component, msg);
                len = add_fields(line, len, sizeof(line) - 8, fields, 0);
                len += ew_snprintf(line + len, sizeof(line) - len, "\n");
        }
        /* One write(2) per line so lines from several threads never mix. */
        r = write(STDERR_FILENO, line, len);
        (void)r;
}

void ew_log_fwrite(ew_log_level_t level, const char *component,
                   const ew_log_fields_t *fields, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        ew_log_vwrite(level, component, fields, fmt, ap);
        va_end(ap);
}

void ew_log_write(ew_log_level_t level, const char *component, const char *fmt,
                  ...)
{
        va_list ap;

        va_start(ap, fmt);
        ew_log_vwrite(level, component, NULL, fmt, ap);
        va_end(ap);
}
