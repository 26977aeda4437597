/*
 * ew_message - see ew_message.h; the contracts are in docs/contracts.md.
 *
 * Both JSON values are written straight into an ew_jbuf, member by member;
 * engagementDetails, which the classifier kept as the API's checked JSON
 * text, is copied in as it is. ew_jbuf_str escapes every string, so the
 * output is always valid JSON. The outcome's strings come from checked
 * JSON and are valid UTF-8; the dead-letter line's may not be (an invalid
 * event), and there the contract asks for one U+FFFD per maximal
 * ill-formed subpart (dl_str), where ew_jbuf_str would write one per byte.
 */
#include "ew_message.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_json.h"
#include "ew_util.h"

/* Upper bound of an outcome: engagementDetails can be as large as the
 * answer it came from (EW_RESPONSE_MAX_BODY), plus the identifiers. */
#define OUTCOME_MAX ((size_t)8 * EW_RESPONSE_MAX_BODY)

/* Appends a string literal (JSON punctuation and member names). */
#define JB_LIT(b, lit) ew_jbuf_raw((b), (lit), sizeof(lit) - 1)

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

char *ew_message_outcome(const char *event_id, const char *account_id,
                         const ew_result_t *res, int attempts,
                         const ew_source_t *src, int64_t completed_at_ms,
                         size_t *lenp)
{
        char      ts[EW_RFC3339_SIZE];
        ew_jbuf_t b;

        if (lenp)
                *lenp = 0;
        if (!event_id || !account_id || !res || !src ||
            (res->kind != EW_RESULT_ENGAGEMENT &&
             res->kind != EW_RESULT_CONVERSATION &&
             res->kind != EW_RESULT_UNAVAILABLE))
                return NULL;

        ew_jbuf_init(&b, OUTCOME_MAX);
        JB_LIT(&b, "{\"eventId\":");
        ew_jbuf_cstr(&b, event_id);
        JB_LIT(&b, ",\"accountId\":");
        ew_jbuf_cstr(&b, account_id);
        JB_LIT(&b, ",\"outcome\":");
        ew_jbuf_cstr(&b, ew_result_kind_str(res->kind));
        JB_LIT(&b, ",\"httpStatus\":");
        ew_jbuf_int(&b, res->http_status);
        JB_LIT(&b, ",\"attempts\":");
        ew_jbuf_int(&b, attempts);
        JB_LIT(&b, ",\"visitorId\":");
        ew_jbuf_cstr(&b, res->visitor_id);
        JB_LIT(&b, ",\"sessionId\":");
        ew_jbuf_cstr(&b, res->session_id);
        JB_LIT(&b, ",\"pageId\":");
        ew_jbuf_cstr(&b, res->page_id);
        if (res->kind == EW_RESULT_CONVERSATION) {
                JB_LIT(&b, ",\"conversationId\":");
                ew_jbuf_cstr(&b, res->conversation_id);
        }
        if (res->engagement_details) {
                /* Checked by the classifier's parser: copied as it is. */
                JB_LIT(&b, ",\"engagementDetails\":");
                ew_jbuf_raw(&b, res->engagement_details,
                            res->engagement_details_len);
        }
        JB_LIT(&b, ",\"source\":{\"topic\":");
        ew_jbuf_cstr(&b, src->topic);
        JB_LIT(&b, ",\"partition\":");
        ew_jbuf_int(&b, src->partition);
        JB_LIT(&b, ",\"offset\":");
        ew_jbuf_int(&b, src->offset);
        JB_LIT(&b, "},\"completedAt\":");
        ew_jbuf_cstr(&b, ew_rfc3339_ms(completed_at_ms, ts, sizeof(ts)));
        ew_jbuf_char(&b, '}');
        return ew_jbuf_take(&b, lenp);
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

/* Appends s[0..len) as a JSON string, each maximal ill-formed UTF-8
 * subpart replaced by one U+FFFD (docs/contracts.md, dead letter as one
 * JSON line). Valid text goes to ew_jbuf_str as it is; invalid text is
 * repaired into a copy first (3 bytes at most per input byte), or, if
 * that copy cannot be allocated, left to ew_jbuf_str's per-byte repair. */
static void dl_str(ew_jbuf_t *b, const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        char                *fixed;
        size_t               i = 0, o = 0;

        if (ew_utf8_valid(s, len)) {
                ew_jbuf_str(b, s, len);
                return;
        }
        if (len > SIZE_MAX / 3 || !(fixed = malloc(3 * len))) {
                ew_jbuf_str(b, s, len);
                return;
        }
        while (i < len) {
                size_t bad = 0, n = utf8_seq(p + i, len - i, &bad);

                if (n) {
                        memcpy(fixed + o, s + i, n);
                        o += n;
                        i += n;
                } else {
                        memcpy(fixed + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i += bad;
                }
        }
        ew_jbuf_str(b, fixed, o);
        free(fixed);
}

/* dl_str of a C string; NULL is written as null. */
static void dl_cstr(ew_jbuf_t *b, const char *s)
{
        if (s)
                dl_str(b, s, strlen(s));
        else
                JB_LIT(b, "null");
}

char *ew_message_dead_letter_json(const ew_dead_letter_t *dl, const char *value,
                                  size_t value_len, size_t *lenp)
{
        char      ts[EW_RFC3339_SIZE];
        size_t    msg_len, max;
        ew_jbuf_t b;

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

        ew_jbuf_init(&b, max);
        JB_LIT(&b, "{\"" EW_HDR_ERROR_KIND "\":");
        dl_cstr(&b, ew_dead_kind_str(dl->kind));
        JB_LIT(&b, ",\"" EW_HDR_ERROR_MESSAGE "\":");
        dl_str(&b, dl->message ? dl->message : "", msg_len);
        if (dl->http_status > 0) {
                JB_LIT(&b, ",\"" EW_HDR_ERROR_HTTP_STATUS "\":");
                ew_jbuf_int(&b, dl->http_status);
        }
        if (dl->internal_code >= 0) {
                JB_LIT(&b, ",\"" EW_HDR_ERROR_INTERNAL_CODE "\":");
                ew_jbuf_int(&b, dl->internal_code);
        }
        JB_LIT(&b, ",\"" EW_HDR_ERROR_ATTEMPTS "\":");
        ew_jbuf_int(&b, dl->attempts);
        JB_LIT(&b, ",\"" EW_HDR_SOURCE_TOPIC "\":");
        dl_cstr(&b, dl->source.topic);
        JB_LIT(&b, ",\"" EW_HDR_SOURCE_PARTITION "\":");
        ew_jbuf_int(&b, dl->source.partition);
        JB_LIT(&b, ",\"" EW_HDR_SOURCE_OFFSET "\":");
        ew_jbuf_int(&b, dl->source.offset);
        JB_LIT(&b, ",\"" EW_HDR_EVENT_ID "\":");
        dl_cstr(&b, dl->event_id);
        JB_LIT(&b, ",\"" EW_HDR_FAILED_AT "\":");
        dl_cstr(&b, ew_rfc3339_ms(dl->failed_at_ms, ts, sizeof(ts)));
        JB_LIT(&b, ",\"event\":");
        if (value)
                dl_str(&b, value, value_len);
        else
                JB_LIT(&b, "null"); /* a tombstone */
        ew_jbuf_char(&b, '}');
        return ew_jbuf_take(&b, lenp);
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
