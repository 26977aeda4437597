/*
 * ew_util - see ew_util.h.
 */
#include "ew_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

int64_t ew_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ew_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last second ew_rfc3339_ms formatted on this thread: outcomes come
 * thousands per second, so most calls only add the milliseconds instead of
 * running gmtime_r and snprintf (3.7k instructions). */
static _Thread_local struct {
        int64_t secs;
        size_t  len;      /* of text; 0: nothing cached yet */
        char    text[32]; /* "YYYY-MM-DDTHH:MM:SS" */
} rfc3339_cache;

char *ew_rfc3339_ms(int64_t epoch_ms, char *buf, size_t size)
{
        int64_t   secs = epoch_ms / 1000;
        int       ms   = (int)(epoch_ms % 1000);
        time_t    t;
        struct tm tm;
        size_t    n;

        if (ms < 0) {
                ms += 1000;
                secs -= 1;
        }
        if (rfc3339_cache.len == 0 || rfc3339_cache.secs != secs) {
                t = (time_t)secs;
                memset(&tm, 0, sizeof(tm));
                gmtime_r(&t, &tm);
                n = ew_snprintf(rfc3339_cache.text, sizeof(rfc3339_cache.text),
                                "%04d-%02d-%02dT%02d:%02d:%02d",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
                rfc3339_cache.secs = secs;
                rfc3339_cache.len  = n;
        }
        n = rfc3339_cache.len;
        if (size < n + 6) {
                /* Too small for all of it: what snprintf would keep. */
                ew_snprintf(buf, size, "%s.%03dZ", rfc3339_cache.text, ms);
                return buf;
        }
        memcpy(buf, rfc3339_cache.text, n);
        buf[n]     = '.';
        buf[n + 1] = (char)('0' + ms / 100);
        buf[n + 2] = (char)('0' + ms / 10 % 10);
        buf[n + 3] = (char)('0' + ms % 10);
        buf[n + 4] = 'Z';
        buf[n + 5] = '\0';
        return buf;
}

size_t ew_snprintf(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        int     r;

        if (size == 0)
                return 0;
        va_start(ap, fmt);
        r = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (r < 0) {
                buf[0] = '\0';
                return 0;
        }
        if ((size_t)r >= size)
                return size - 1;
        return (size_t)r;
}

int ew_utf8_valid(const char *s, size_t len)
{
        const unsigned char *p   = (const unsigned char *)s;
        const unsigned char *end = p + len;

        while (p < end) {
                unsigned char c = *p;
                uint32_t      cp;
                int           n, i;

                if (c < 0x80) {
                        p++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        n  = 1;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        n  = 2;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        n  = 3;
                        cp = c & 0x07;
                } else {
                        return 0;
                }
                if (end - p <= n)
                        return 0;
                for (i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /* Overlong forms, surrogates and values past U+10FFFF. */
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
                    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                p += n + 1;
        }
        return 1;
}

char *ew_strdup(const char *s)
{
        return s ? strdup(s) : NULL;
}

int ew_pipe_nonblock(int fds[2])
{
        int i;

        if (pipe(fds) == -1)
                return -1;
        for (i = 0; i < 2; i++) {
                if (fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1 ||
                    fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1) {
                        close(fds[0]);
                        close(fds[1]);
                        fds[0] = fds[1] = -1;
                        return -1;
                }
        }
        return 0;
}

void ew_fd_drain(int fd)
{
        char buf[256];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
}
