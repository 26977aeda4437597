/*
 * ew_request - see ew_request.h.
 *
 * The body is written into one ew_jbuf: the members the event forwards are
 * copied as the event's own JSON text (ew_event_t keeps it), so nothing is
 * parsed or re-serialised on the common path. Only when identities must
 * be hashed is their text read again (ew_json) and each identity written
 * anew: sub replaced by its HMAC, the other members as they were. The
 * event is never changed.
 *
 * Forwarding the text keeps what the producer wrote, byte for byte inside
 * each member: numbers keep their spelling (json-c, used before, turned an
 * integer -0 into 0; it kept 1.0 and 1e2 as written), strings their
 * escapes, and white space inside a member stays as it was.
 */
#include "ew_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_hmac.h"
#include "ew_json.h"
#include "ew_util.h"

/* Nesting limit when identities are read again: a checked identities
 * array is two levels deep. */
#define IDENTITIES_DEPTH 2

/* The v= value. ew_api_version_str() lives in ew_config.c; the mapping is
 * repeated here so the request builder does not depend on the config
 * module. */
static const char *version_str(ew_api_version_t v)
{
        switch (v) {
        case EW_API_V1_0:
                return "1.0";
        case EW_API_V1_1:
                return "1.1";
        }
        return NULL;
}

/* RFC 3986 section 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
static int unreserved(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
               c == '~';
}

/* Length of s once percent-encoded. */
static size_t pct_len(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += unreserved((unsigned char)*s) ? 1 : 3;
        return n;
}

/* Writes s percent-encoded at o; returns the end. No NUL is written. */
static char *pct_put(char *o, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (unreserved(c)) {
                        *o++ = (char)c;
                } else {
                        *o++ = '%';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 0xf];
                }
        }
        return o;
}

/* Writes the literal s at o; returns the end. */
static char *put(char *o, const char *s, size_t len)
{
        memcpy(o, s, len);
        return o + len;
}

char *ew_request_pct_encode(const char *s)
{
        char *out, *o;

        if (!s)
                return NULL;
        out = malloc(pct_len(s) + 1);
        if (!out)
                return NULL;
        o  = pct_put(out, s);
        *o = '\0';
        return out;
}

char *ew_request_url(const ew_request_params_t *p, char *errstr,
                     size_t errstr_size)
{
        static const char seg_account[] = "/api/account/";
        static const char seg_app[]     = "/app/";
        static const char seg_eng[]     = "/engagement?v=";
        static const char q_vid[]       = "&vid=";
        static const char q_sid[]       = "&sid=";
        const char       *obh;
        const char       *v;
        size_t            base_len, total;
        int               with_vid, with_sid;
        char             *url, *o;

        if (!p || !p->base_url || !*p->base_url) {
                ew_snprintf(errstr, errstr_size,
                            "the Monitoring API base URL is not known");
                return NULL;
        }
        if (!p->account_id || !*p->account_id) {
                ew_snprintf(errstr, errstr_size,
                            "accountId: missing (neither the event nor "
                            "monitoring.account_id gives one)");
                return NULL;
        }
        if (!p->app_installation_id || !*p->app_installation_id) {
                ew_snprintf(errstr, errstr_size,
                            "appInstallationId: missing (neither the event "
                            "nor monitoring.app_installation_id gives one)");
                return NULL;
        }
        if (!(v = version_str(p->api_version))) {
                ew_snprintf(errstr, errstr_size,
                            "API version %d is not supported",
                            (int)p->api_version);
                return NULL;
        }
        obh      = p->on_behalf ? "&obh=true" : "&obh=false";
        with_vid = p->visitor_id && *p->visitor_id;
        with_sid = p->session_id && *p->session_id;

        base_len = strlen(p->base_url);
        if (p->base_url[base_len - 1] == '/')
                base_len--;
        total = base_len + sizeof(seg_account) - 1 + pct_len(p->account_id) +
                sizeof(seg_app) - 1 + pct_len(p->app_installation_id) +
                sizeof(seg_eng) - 1 + strlen(v) + strlen(obh) + 1;
        if (with_vid)
                total += sizeof(q_vid) - 1 + pct_len(p->visitor_id);
        if (with_sid)
                total += sizeof(q_sid) - 1 + pct_len(p->session_id);

        url = malloc(total);
        if (!url) {
                ew_snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        o = put(url, p->base_url, base_len);
        o = put(o, seg_account, sizeof(seg_account) - 1);
        o = pct_put(o, p->account_id);
        o = put(o, seg_app, sizeof(seg_app) - 1);
        o = pct_put(o, p->app_installation_id);
        o = put(o, seg_eng, sizeof(seg_eng) - 1);
        o = put(o, v, strlen(v));
        if (with_vid) {
                o = put(o, q_vid, sizeof(q_vid) - 1);
                o = pct_put(o, p->visitor_id);
        }
        if (with_sid) {
                o = put(o, q_sid, sizeof(q_sid) - 1);
                o = pct_put(o, p->session_id);
        }
        o  = put(o, obh, strlen(obh));
        *o = '\0';
        return url;
}

/* Appends the hasher's hex(HMAC-SHA256(key, s[0..len))) as a JSON string.
 * Returns 0, or -1 if the MAC could not be computed. */
static int put_hmac(ew_jbuf_t *b, ew_hmac_t *hasher, const char *s, size_t len)
{
        char out[1 + EW_HMAC_HEX_SIZE]; /* '"', 64 hex, '"' over the NUL */

        if (ew_hmac_hex(hasher, s, len, out + 1) == -1)
                return -1;
        out[0]                = '"';
        out[EW_HMAC_HEX_SIZE] = '"';
        ew_jbuf_raw(b, out, EW_HMAC_HEX_SIZE + 1);
        return 0;
}

/* Appends the identities array with every identity's sub replaced by its
 * HMAC, everything else as the event wrote it. The text is read again
 * (it is small, and was checked when the event was parsed). Returns 0, or
 * -1 on failure. */
static int put_hashed_identities(ew_jbuf_t *b, const ew_event_json_t *ids,
                                 ew_hmac_t *hasher)
{
        ew_json_doc_t doc;
        uint32_t      n, e, nm, k, v;
        char          small[EW_EVENT_MAX_ID_BYTES + 1], *heap = NULL;
        size_t        len;
        const char   *raw;
        int           r = -1;

        ew_json_doc_init(&doc);
        if (ew_json_parse(&doc, ids->json, ids->len, IDENTITIES_DEPTH, 0, NULL,
                          0) == -1 ||
            ew_json_type(&doc, 0) != EW_JSON_ARRAY)
                goto done;
        ew_jbuf_char(b, '[');
        EW_JSON_FOREACH_ELEM(&doc, 0, n, e)
        {
                if (e != 1)
                        ew_jbuf_char(b, ',');
                if (ew_json_type(&doc, e) != EW_JSON_OBJECT) {
                        raw = ew_json_raw(&doc, e, &len);
                        ew_jbuf_raw(b, raw, len);
                        continue;
                }
                ew_jbuf_char(b, '{');
                EW_JSON_FOREACH_MEMBER(&doc, e, nm, k, v)
                {
                        if (k != e + 1)
                                ew_jbuf_char(b, ',');
                        raw = ew_json_raw(&doc, k, &len);
                        ew_jbuf_raw(b, raw, len);
                        ew_jbuf_char(b, ':');
                        if (ew_json_str_eq(&doc, k, "sub", 3) &&
                            ew_json_type(&doc, v) == EW_JSON_STRING) {
                                size_t sl = ew_json_count(&doc, v);
                                char  *s  = small;
                                if (sl >= sizeof(small)) {
                                        s = heap = malloc(sl + 1);
                                        if (!s)
                                                goto done;
                                }
                                ew_json_str_copy(&doc, v, s);
                                if (put_hmac(b, hasher, s, sl) == -1)
                                        goto done;
                                free(heap);
                                heap = NULL;
                        } else {
                                raw = ew_json_raw(&doc, v, &len);
                                ew_jbuf_raw(b, raw, len);
                        }
                }
                ew_jbuf_char(b, '}');
        }
        ew_jbuf_char(b, ']');
        r = 0;
done:
        free(heap);
        ew_json_doc_release(&doc);
        return r;
}

/* Appends the member name key, a JSON string literal with its quotes and
 * colon ("\"name\":"), after a ',' unless it is the body's first. */
#define PUT_KEY(b, key)                                                        \
        do {                                                                   \
                if ((b)->len > 1)                                              \
                        ew_jbuf_char((b), ',');                                \
                ew_jbuf_raw((b), (key), sizeof(key) - 1);                      \
        } while (0)

/* Appends "key":<json> when the member is present. */
#define PUT_MEMBER(b, key, m)                                                  \
        do {                                                                   \
                if ((m)->json) {                                               \
                        PUT_KEY((b), key);                                     \
                        ew_jbuf_raw((b), (m)->json, (m)->len);                 \
                }                                                              \
        } while (0)

char *ew_request_body(const ew_event_t *ev, ew_hmac_t *hasher, size_t *lenp)
{
        ew_jbuf_t b;
        char     *out;
        size_t    len = 0;

        if (!ev)
                return NULL;
        ew_jbuf_init(&b, 0);
        ew_jbuf_char(&b, '{');
        if (ev->consumer_id) {
                PUT_KEY(&b, "\"consumerId\":");
                if (!hasher)
                        ew_jbuf_cstr(&b, ev->consumer_id);
                else if (put_hmac(&b, hasher, ev->consumer_id,
                                  strlen(ev->consumer_id)) == -1)
                        goto error;
        }
        if (ev->identities.json && hasher) {
                PUT_KEY(&b, "\"identities\":");
                if (put_hashed_identities(&b, &ev->identities, hasher) == -1)
                        goto error;
        } else {
                PUT_MEMBER(&b, "\"identities\":", &ev->identities);
        }
        PUT_MEMBER(&b, "\"clientProperties\":", &ev->client_properties);
        PUT_MEMBER(&b, "\"entryPoints\":", &ev->entry_points);
        PUT_MEMBER(&b, "\"engagementAttributes\":", &ev->engagement_attributes);
        ew_jbuf_char(&b, '}');

        out = ew_jbuf_take(&b, &len); /* NULL if an append failed */
        if (out && lenp)
                *lenp = len;
        return out;
error:
        ew_jbuf_release(&b);
        return NULL;
}
