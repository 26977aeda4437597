/*
 * ew_request - see ew_request.h.
 *
 * The body is built without deep copies: a new top-level object holds
 * extra references (json_object_get) to the event's own sub-objects, so
 * the cost per request is one serialization. Only when identities must be
 * hashed is the identities array rebuilt (again sharing every value but
 * sub); the event is never changed.
 */
#include "ew_request.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_util.h"

/* SHA-256 output as lowercase hex, plus the NUL. */
#define HEX_SHA256_SIZE (2 * 32 + 1)

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

/* A new JSON string holding hex(HMAC-SHA256(key, s[0..len))); NULL on
 * failure. */
static json_object *hmac_string(const char *key, const char *s, size_t len)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char     md[EVP_MAX_MD_SIZE];
        unsigned int      md_len = 0, i;
        char              out[HEX_SHA256_SIZE];

        if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)s,
                  len, md, &md_len) ||
            md_len != 32)
                return NULL;
        for (i = 0; i < md_len; i++) {
                out[2 * i]     = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 0xf];
        }
        out[2 * md_len] = '\0';
        return json_object_new_string_len(out, (int)(2 * md_len));
}

/* Adds val under key; on failure drops val. NULL val is a failure (the
 * allocation that made it failed). */
static int add(json_object *obj, const char *key, json_object *val)
{
        if (!val)
                return -1;
        if (json_object_object_add(obj, key, val) != 0) {
                json_object_put(val);
                return -1;
        }
        return 0;
}

/* A new identities array equal to ids except that every sub is hashed.
 * Everything else is shared with ids by reference. */
static json_object *hashed_identities(json_object *ids, const char *key)
{
        json_object *arr = json_object_new_array();
        size_t       n, i;

        if (!arr)
                return NULL;
        n = json_object_array_length(ids);
        for (i = 0; i < n; i++) {
                json_object *id = json_object_array_get_idx(ids, i);
                json_object *copy;

                if (!json_object_is_type(id, json_type_object)) {
                        copy = json_object_get(id);
                } else {
                        copy = json_object_new_object();
                        if (!copy)
                                goto error;
                        json_object_object_foreach(id, k, val)
                        {
                                json_object *nv;
                                if (strcmp(k, "sub") == 0 &&
                                    json_object_is_type(val, json_type_string))
                                        nv = hmac_string(
                                            key, json_object_get_string(val),
                                            (size_t)json_object_get_string_len(
                                                val));
                                else
                                        nv = json_object_get(val);
                                if (add(copy, k, nv) == -1) {
                                        json_object_put(copy);
                                        goto error;
                                }
                        }
                }
                if (json_object_array_add(arr, copy) != 0) {
                        json_object_put(copy);
                        goto error;
                }
        }
        return arr;
error:
        json_object_put(arr);
        return NULL;
}

char *ew_request_body(const ew_event_t *ev, const char *hash_key, size_t *lenp)
{
        json_object *body = NULL, *v;
        const char  *s;
        char        *out = NULL;
        size_t       len = 0;

        if (!ev)
                goto done;
        body = json_object_new_object();
        if (!body)
                goto done;
        if (ev->consumer_id) {
                v = hash_key ? hmac_string(hash_key, ev->consumer_id,
                                           strlen(ev->consumer_id))
                             : json_object_new_string(ev->consumer_id);
                if (add(body, "consumerId", v) == -1)
                        goto done;
        }
        if (ev->identities) {
                v = hash_key ? hashed_identities(ev->identities, hash_key)
                             : json_object_get(ev->identities);
                if (add(body, "identities", v) == -1)
                        goto done;
        }
        if (ev->client_properties &&
            add(body, "clientProperties",
                json_object_get(ev->client_properties)) == -1)
                goto done;
        if (ev->entry_points &&
            add(body, "entryPoints", json_object_get(ev->entry_points)) == -1)
                goto done;
        if (ev->engagement_attributes &&
            add(body, "engagementAttributes",
                json_object_get(ev->engagement_attributes)) == -1)
                goto done;

        s = json_object_to_json_string_length(
            body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
            &len);
        if (!s)
                goto done;
        out = malloc(len + 1);
        if (!out)
                goto done;
        memcpy(out, s, len + 1);
        if (lenp)
                *lenp = len;
done:
        json_object_put(body);
        return out;
}
