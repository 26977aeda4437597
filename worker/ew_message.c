/*
 * ew_message - see ew_message.h; the contracts are in docs/contracts.md.
 *
 * The outcome is written on the hot path (one per event), so it is built
 * by hand into one growing buffer rather than through a json-c tree; only
 * engagementDetails, which the API returned as JSON, is serialised by
 * json-c. Every string goes through json_str(), which escapes it and
 * replaces invalid UTF-8 by U+FFFD, so the output is always valid JSON.
 */
#include "ew_message.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_util.h"

/* Upper bound of an outcome: engagementDetails can be as large as the
 * answer it came from (EW_RESPONSE_MAX_BODY), plus the identifiers. */
#define OUTCOME_MAX ((size_t)8 * EW_RESPONSE_MAX_BODY)

/* A growable buffer with a limit; once an append fails it stays failed. */
typedef struct sbuf {
        char  *data;
        size_t len;
        size_t size;
        size_t max;
        int    failed;
} sbuf_t;

const char *ew_dead_kind_str(ew_dead_kind_t kind)
{
        switch (kind) {
        case EW_DEAD_INVALID_EVENT:
                return "invalid_event";
        case EW_DEAD_REJECTED:
                return "rejected";
        case EW_DEAD_RETRIES_EXHAUSTED:
                return "retries_exhausted";
        }
        return "unknown";
}

static void sbuf_init(sbuf_t *b, size_t initial, size_t max)
{
        b->len    = 0;
        b->max    = max;
        b->size   = initial < max ? initial : max;
        b->data   = malloc(b->size);
        b->failed = b->data == NULL;
}

/* Makes room for n more bytes plus a NUL. */
static int sbuf_reserve(sbuf_t *b, size_t n)
{
        size_t need, size;
        char  *p;

        if (b->failed)
                return -1;
        if (n > b->max || b->len + 1 > b->max - n) {
                b->failed = 1;
                return -1;
        }
        need = b->len + n + 1;
        if (need <= b->size)
                return 0;
        size = b->size ? b->size : 64;
        while (size < need)
                size = size > b->max / 2 ? b->max : size * 2;
        p = realloc(b->data, size);
        if (!p) {
                b->failed = 1;
                return -1;
        }
        b->data = p;
        b->size = size;
        return 0;
}

static void sbuf_add(sbuf_t *b, const char *s, size_t n)
{
        if (sbuf_reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
}

static void sbuf_lit(sbuf_t *b, const char *s)
{
        sbuf_add(b, s, strlen(s));
}

static void sbuf_i64(sbuf_t *b, int64_t v)
{
        char num[24];
        int  n = snprintf(num, sizeof(num), "%" PRId64, v);

        sbuf_add(b, num, (size_t)n);
}

/* Hands the NUL-terminated contents to the caller, or frees them and
 * returns NULL if an append failed. */
static char *sbuf_finish(sbuf_t *b, size_t *lenp)
{
        if (!b->failed && sbuf_reserve(b, 0) == 0) {
                b->data[b->len] = '\0';
                if (lenp)
                        *lenp = b->len;
                return b->data;
        }
        free(b->data);
        b->data = NULL;
        if (lenp)
                *lenp = 0;
        return NULL;
}

/* Length of the well-formed UTF-8 sequence at p (1 to 4), or 0 with *bad
 * set to the length of its maximal ill-formed subpart (Unicode 15, 3.9),
 * which is replaced by one U+FFFD. */
static size_t utf8_seq(const unsigned char *p, size_t avail, size_t *bad)
{
        unsigned char lo = 0x80, hi = 0xbf;
        size_t        need, i;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                need = 1;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                need = 2;
                if (p[0] == 0xe0)
                        lo = 0xa0; /* no overlongs */
                else if (p[0] == 0xed)
                        hi = 0x9f; /* no surrogates */
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                need = 3;
                if (p[0] == 0xf0)
                        lo = 0x90; /* no overlongs */
                else if (p[0] == 0xf4)
                        hi = 0x8f; /* nothing past U+10FFFF */
        } else {
                *bad = 1;
                return 0;
        }
        for (i = 1; i <= need; i++) {
                if (i >= avail || p[i] < lo || p[i] > hi) {
                        *bad = i;
                        return 0;
                }
                lo = 0x80;
                hi = 0xbf;
        }
        return need + 1;
}

/* Appends s[0..len) as a JSON string: quoted, escaped, invalid UTF-8
 * replaced by U+FFFD. */
static void json_str(sbuf_t *b, const char *s, size_t len)
{
        static const char    hex[] = "0123456789abcdef";
        const unsigned char *p     = (const unsigned char *)s;
        size_t               i = 0, run = 0;

        sbuf_add(b, "\"", 1);
        while (i < len) {
                unsigned char c = p[i];
                size_t        n, bad = 0;
                char          esc[6];

                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                        i++;
                        run++;
                        continue;
                }
                /* Flush the plain run before this byte. */
                sbuf_add(b, s + i - run, run);
                run = 0;
                if (c >= 0x80) {
                        n = utf8_seq(p + i, len - i, &bad);
                        if (n) {
                                sbuf_add(b, s + i, n);
                                i += n;
                        } else {
                                sbuf_add(b, "\xef\xbf\xbd", 3);
                                i += bad;
                        }
                        continue;
                }
                esc[0] = '\\';
                switch (c) {
                case '"':
                case '\\':
                        esc[1] = (char)c;
                        sbuf_add(b, esc, 2);
                        break;
                case '\n':
                        sbuf_add(b, "\\n", 2);
                        break;
                case '\r':
                        sbuf_add(b, "\\r", 2);
                        break;
                case '\t':
                        sbuf_add(b, "\\t", 2);
                        break;
                default:
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        sbuf_add(b, esc, 6);
                        break;
                }
                i++;
        }
        sbuf_add(b, s + i - run, run);
        sbuf_add(b, "\"", 1);
}

/* A C string as JSON, or null for NULL. */
static void json_cstr(sbuf_t *b, const char *s)
{
        if (s)
                json_str(b, s, strlen(s));
        else
                sbuf_lit(b, "null");
}

/* Appends ,"name": (the first member passes first=1 to skip the comma). */
static void json_key(sbuf_t *b, const char *name, int first)
{
        if (!first)
                sbuf_add(b, ",", 1);
        json_str(b, name, strlen(name));
        sbuf_add(b, ":", 1);
}

static void json_source(sbuf_t *b, const ew_source_t *src)
{
        sbuf_lit(b, "{\"topic\":");
        json_cstr(b, src->topic);
        sbuf_lit(b, ",\"partition\":");
        sbuf_i64(b, src->partition);
        sbuf_lit(b, ",\"offset\":");
        sbuf_i64(b, src->offset);
        sbuf_add(b, "}", 1);
}

char *ew_message_outcome(const char *event_id, const char *account_id,
                         const ew_result_t *res, int attempts,
                         const ew_source_t *src, int64_t completed_at_ms,
                         size_t *lenp)
{
        const char *details     = NULL;
        size_t      details_len = 0;
        char        ts[EW_RFC3339_SIZE];
        sbuf_t      b;

        if (lenp)
                *lenp = 0;
        if (!event_id || !account_id || !res || !src ||
            (res->kind != EW_RESULT_ENGAGEMENT &&
             res->kind != EW_RESULT_CONVERSATION &&
             res->kind != EW_RESULT_UNAVAILABLE))
                return NULL;

        if (res->engagement_details) {
                details = json_object_to_json_string_length(
                    res->engagement_details,
                    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                    &details_len);
                if (!details)
                        return NULL;
        }

        sbuf_init(&b, 384 + details_len, OUTCOME_MAX);
        sbuf_add(&b, "{", 1);
        json_key(&b, "eventId", 1);
        json_cstr(&b, event_id);
        json_key(&b, "accountId", 0);
        json_cstr(&b, account_id);
        json_key(&b, "outcome", 0);
        json_cstr(&b, ew_result_kind_str(res->kind));
        json_key(&b, "httpStatus", 0);
        sbuf_i64(&b, res->http_status);
        json_key(&b, "attempts", 0);
        sbuf_i64(&b, attempts);
        json_key(&b, "visitorId", 0);
        json_cstr(&b, res->visitor_id);
        json_key(&b, "sessionId", 0);
        json_cstr(&b, res->session_id);
        json_key(&b, "pageId", 0);
        json_cstr(&b, res->page_id);
        if (res->kind == EW_RESULT_CONVERSATION) {
                json_key(&b, "conversationId", 0);
                json_cstr(&b, res->conversation_id);
        }
        if (details) {
                json_key(&b, "engagementDetails", 0);
                sbuf_add(&b, details, details_len);
        }
        json_key(&b, "source", 0);
        json_source(&b, src);
        json_key(&b, "completedAt", 0);
        json_cstr(&b, ew_rfc3339_ms(completed_at_ms, ts, sizeof(ts)));
        sbuf_add(&b, "}", 1);
        return sbuf_finish(&b, lenp);
}

/* One text header. */
static int hdr_add(rd_kafka_headers_t *hdrs, const char *name, const char *v)
{
        return rd_kafka_header_add(hdrs, name, -1, v ? v : "", -1) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR
                   ? 0
                   : -1;
}

static int hdr_add_i64(rd_kafka_headers_t *hdrs, const char *name, int64_t v)
{
        char num[24];

        snprintf(num, sizeof(num), "%" PRId64, v);
        return hdr_add(hdrs, name, num);
}

int ew_message_dead_letter_headers(const ew_dead_letter_t *dl,
                                   rd_kafka_headers_t     *hdrs)
{
        char ts[EW_RFC3339_SIZE];
        int  r = -1;

        if (!dl || !hdrs)
                goto done;
        if (hdr_add(hdrs, EW_HDR_ERROR_KIND, ew_dead_kind_str(dl->kind)) ||
            hdr_add(hdrs, EW_HDR_ERROR_MESSAGE, dl->message))
                goto done;
        if (dl->http_status > 0 &&
            hdr_add_i64(hdrs, EW_HDR_ERROR_HTTP_STATUS, dl->http_status))
                goto done;
        if (dl->internal_code >= 0 &&
            hdr_add_i64(hdrs, EW_HDR_ERROR_INTERNAL_CODE, dl->internal_code))
                goto done;
        if (hdr_add_i64(hdrs, EW_HDR_ERROR_ATTEMPTS, dl->attempts) ||
            hdr_add(hdrs, EW_HDR_SOURCE_TOPIC, dl->source.topic) ||
            hdr_add_i64(hdrs, EW_HDR_SOURCE_PARTITION, dl->source.partition) ||
            hdr_add_i64(hdrs, EW_HDR_SOURCE_OFFSET, dl->source.offset) ||
            hdr_add(hdrs, EW_HDR_EVENT_ID, dl->event_id) ||
            hdr_add(hdrs, EW_HDR_FAILED_AT,
                    ew_rfc3339_ms(dl->failed_at_ms, ts, sizeof(ts))))
                goto done;
        r = 0;
done:
        return r;
}

char *ew_message_dead_letter_json(const ew_dead_letter_t *dl, const char *value,
                                  size_t value_len, size_t *lenp)
{
        char   ts[EW_RFC3339_SIZE];
        size_t msg_len, max;
        sbuf_t b;

        if (lenp)
                *lenp = 0;
        if (!dl)
                return NULL;
        msg_len = dl->message ? strlen(dl->message) : 0;
        /* Escaping grows a byte to at most 6 ("\u0001"). */
        if (value_len > (SIZE_MAX - 4096) / 6 - msg_len)
                return NULL;
        max = 6 * (value_len + msg_len) + 4096;
        if (dl->source.topic)
                max += 6 * strlen(dl->source.topic);
        if (dl->event_id)
                max += 6 * strlen(dl->event_id);

        sbuf_init(&b, 512 + value_len + msg_len, max);
        sbuf_add(&b, "{", 1);
        json_key(&b, EW_HDR_ERROR_KIND, 1);
        json_cstr(&b, ew_dead_kind_str(dl->kind));
        json_key(&b, EW_HDR_ERROR_MESSAGE, 0);
        json_str(&b, dl->message ? dl->message : "", msg_len);
        if (dl->http_status > 0) {
                json_key(&b, EW_HDR_ERROR_HTTP_STATUS, 0);
                sbuf_i64(&b, dl->http_status);
        }
        if (dl->internal_code >= 0) {
                json_key(&b, EW_HDR_ERROR_INTERNAL_CODE, 0);
                sbuf_i64(&b, dl->internal_code);
        }
        json_key(&b, EW_HDR_ERROR_ATTEMPTS, 0);
        sbuf_i64(&b, dl->attempts);
        json_key(&b, EW_HDR_SOURCE_TOPIC, 0);
        json_cstr(&b, dl->source.topic);
        json_key(&b, EW_HDR_SOURCE_PARTITION, 0);
        sbuf_i64(&b, dl->source.partition);
        json_key(&b, EW_HDR_SOURCE_OFFSET, 0);
        sbuf_i64(&b, dl->source.offset);
        json_key(&b, EW_HDR_EVENT_ID, 0);
        json_cstr(&b, dl->event_id);
        json_key(&b, EW_HDR_FAILED_AT, 0);
        json_cstr(&b, ew_rfc3339_ms(dl->failed_at_ms, ts, sizeof(ts)));
        json_key(&b, "event", 0);
        if (value)
                json_str(&b, value, value_len);
        else
                sbuf_lit(&b, "null"); /* a tombstone */
        sbuf_add(&b, "}", 1);
        return sbuf_finish(&b, lenp);
}

const void *ew_message_key(const void *input_key, size_t input_key_len,
                           const ew_event_t *ev, size_t *lenp)
{
        const char *k;
        size_t      len = 0;

        /* An empty key counts as none: librdkafka partitions it at random
         * like a missing one, which would lose per-key order. */
        if (input_key && input_key_len > 0) {
                len = input_key_len;
                k   = input_key;
        } else {
                k = ev ? ew_event_derived_key(ev) : NULL;
                if (k && *k)
                        len = strlen(k);
                else
                        k = NULL;
        }
        if (lenp)
                *lenp = len;
        return k;
}
