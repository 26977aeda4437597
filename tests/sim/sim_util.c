/*
 * sim_util - see sim_util.h.
 */
#include "sim_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Base seed and a counter that gives every thread its own stream. */
static uint64_t               seed_base;
static atomic_uint_least64_t  seed_counter;
static _Thread_local uint64_t rng_state;

int64_t sim_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sim_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *sim_rfc3339_ms(int64_t epoch_ms, char *buf, size_t size)
{
        time_t    secs = (time_t)(epoch_ms / 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(epoch_ms % 1000));
        return buf;
}

/* splitmix64: turns a counter into well-mixed seeds. */
static uint64_t splitmix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

void sim_random_seed(uint64_t seed)
{
        if (seed == 0 &&
            getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
                seed = (uint64_t)sim_wall_ms() ^ (uint64_t)sim_mono_ms() << 20;
        seed_base = seed;
}

uint64_t sim_random(void)
{
        uint64_t x;

        if (rng_state == 0) {
                rng_state = splitmix64(
                    seed_base ^ splitmix64(atomic_fetch_add(&seed_counter, 1)));
                if (rng_state == 0)
                        rng_state = 1;
        }
        /* xorshift64* */
        x = rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng_state = x;
        return x * 0x2545f4914f6cdd1dULL;
}

int64_t sim_random_range(int64_t lo, int64_t hi)
{
        uint64_t span;

        if (hi <= lo)
                return lo;
        span = (uint64_t)(hi - lo) + 1;
        return lo + (int64_t)(sim_random() % span);
}

double sim_random_unit(void)
{
        return (double)(sim_random() >> 11) / 9007199254740992.0;
}

void sim_random_id(char *buf, size_t size, size_t len)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "abcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_";
        uint64_t          bits       = 0;
        size_t            i;

        if (size == 0)
                return;
        if (len >= size)
                len = size - 1;
        for (i = 0; i < len; i++) {
                if (i % 10 == 0)
                        bits = sim_random();
                buf[i] = alphabet[bits & 63];
                bits >>= 6;
        }
        buf[len] = '\0';
}

void sim_random_page_id(char *buf, size_t size)
{
        snprintf(buf, size, "%lld",
                 (long long)sim_random_range(100000000LL, 9999999999LL));
}

int sim_default_internal_code(int status)
{
        if (status == 400)
                return 5;
        if (status == 404 || status >= 500)
                return 18;
        return 0;
}

const char *sim_default_message(int status, int internal_code)
{
        switch (internal_code) {
        case 5:
                return "request data invalid";
        case 18:
                return status == 404 ? "invalid appInstallationId"
                                     : "internal server error";
        case 20:
                return "Loading account";
        case 33:
                return "illegal API version";
        case 37:
                return "invalid visitorId";
        case 39:
                return "invalid sessionId";
        default:
                break;
        }
        switch (status) {
        case 400:
                return "bad request";
        case 404:
                return "not found";
        case 405:
                return "method not allowed";
        case 429:
                return "too many requests";
        case 500:
                return "internal server error";
        case 502:
                return "bad gateway";
        case 503:
                return "service unavailable";
        case 504:
                return "gateway timeout";
        default:
                return "error";
        }
}

size_t sim_utf8_seq_len(const unsigned char *s, size_t n)
{
        uint32_t cp;
        size_t   len, i;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2;
                cp  = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                cp  = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                cp  = s[0] & 0x07;
        } else {
                return 0;
        }
        if (len > n)
                return 0;
        for (i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return len;
}

void sim_utf8_sanitize(char *s, size_t len)
{
        size_t i = 0, n;

        while (i < len) {
                n = sim_utf8_seq_len((const unsigned char *)s + i, len - i);
                if (n == 0) {
                        s[i++] = '?';
                        continue;
                }
                i += n;
        }
}
