/*
 * fuzz_event - libFuzzer target for the inbound event contract.
 *
 * The input is the value of one Kafka message, as the worker would read it
 * from the input topic (any bytes). Each input goes through the path the
 * engine takes (ew_engine.c: ew_event_parse, then ew_message_key,
 * ew_request_url and ew_request_body on success, the dead-letter JSON on
 * failure), under a few limit settings: the defaults, tight ones that the
 * input can trip with a few bytes, and loose ones.
 *
 * Besides what the sanitizers catch, the target checks what the headers
 * promise: a failure leaves a message and no event, the event id is
 * always a terminated string, the key is the one ew_message.h describes,
 * nothing in the event can change the URL's shape, and every JSON text the
 * worker sends on (request body, dead letter) is valid UTF-8 and strict
 * JSON (RFC 8259 as fuzz_json.c reads it, and json-c). It also compares
 * with json-c, a reader of its own: what the event holds (decoded ids,
 * each forwarded member's text) is what json-c reads in the value, and
 * the body's members read as the event's members (with each sub and the
 * consumerId hashed in the hashed body, equal to OpenSSL's one-shot
 * HMAC() of the value json-c reads). A broken promise aborts, so the fuzzer
 * keeps the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ew_event.h"
#include "ew_hmac.h"
#include "ew_message.h"
#include "ew_request.h"
#include "ew_util.h"
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One limit setting with the buffer sizes the caller hands in. */
typedef struct setting {
        ew_event_limits_t lim;
        size_t            event_id_size; /* at most 1024 (event_id below) */
        size_t            errstr_size;   /* at most 1024 (errstr below) */
} setting_t;

static const setting_t settings[] = {
    /* The engine's: defaults, its buffer sizes (ew_engine.c). */
    {EW_EVENT_LIMITS_DEFAULT, 320, 256},
    /* Tight: short values, shallow nesting, one of each list, and small
     * buffers that truncate ids and messages. */
    {{512, 3, 1, 1, 1}, 9, 17},
    /* Loose: deeper nesting and longer lists than the defaults. */
    {{1024 * 1024, 64, 1000, 1000, 1000}, 1024, 1024},
};

static const ew_source_t source = {"visitor-activity", 7, 1234567890123LL};

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
                                __LINE__, #cond);                              \
                        abort();                                               \
                }                                                              \
        } while (0)

/* Returns 1 if s[0..size) holds a NUL, i.e. is a terminated string. */
static int terminated(const char *s, size_t size)
{
        return memchr(s, '\0', size) != NULL;
}

/* Aborts unless text[0..len) is valid UTF-8 and one strict JSON value of
 * the given type. */
static void check_json(const char *text, size_t len, json_type type)
{
        struct json_tokener *tok;
        json_object         *o;

        CHECK(text != NULL);
        CHECK(strlen(text) == len);
        CHECK(ew_utf8_valid(text, len));
        CHECK(fuzz_json_valid(text, len, JSON_TOKENER_DEFAULT_DEPTH * 4));
        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
        CHECK(tok != NULL);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int)len + 1);
        CHECK(json_tokener_get_error(tok) == json_tokener_success);
        CHECK(json_object_is_type(o, type));
        json_object_put(o);
        json_tokener_free(tok);
}

/* json-c's reading of text[0..len), which must succeed (NULL never
 * returned). */
static json_object *jc_parse(const char *text, size_t len)
{
        struct json_tokener *tok;
        json_object         *o;

        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
        CHECK(tok != NULL);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int)len);
        if (json_tokener_get_error(tok) == json_tokener_continue)
                o = json_tokener_parse_ex(tok, "", 1); /* a bare number */
        CHECK(json_tokener_get_error(tok) == json_tokener_success);
        json_tokener_free(tok);
        return o;
}

/* Aborts unless an event's string field equals the value's member key as
 * json-c reads it (both absent, or the same bytes; JSON null is absent). */
static void check_id(json_object *value, const char *key, const char *got)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(value, key, &v) || !v) {
                CHECK(got == NULL);
                return;
        }
        CHECK(got != NULL);
        CHECK(json_object_is_type(v, json_type_string));
        CHECK((size_t)json_object_get_string_len(v) == strlen(got));
        CHECK(memcmp(json_object_get_string(v), got, strlen(got)) == 0);
}

/* Aborts unless member text m (may be absent) reads as want (NULL:
 * absent), is of type type and is terminated at its length. */
static void check_member(const ew_event_json_t *m, json_object *want,
                         json_type type)
{
        json_object *got;

        if (!want) {
                CHECK(m->json == NULL && m->len == 0);
                return;
        }
        CHECK(m->json != NULL && strlen(m->json) == m->len);
        check_json(m->json, m->len, type);
        got = jc_parse(m->json, m->len);
        CHECK(json_object_equal(got, want));
        json_object_put(got);
}

/* The member key of value, NULL when absent or null. */
static json_object *member(json_object *value, const char *key)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(value, key, &v))
                return NULL;
        return v;
}

/* Aborts unless the event holds what json-c reads in the value. */
static void check_event_vs_jsonc(const ew_event_t *ev, const char *buf,
                                 size_t size)
{
        json_object *value = jc_parse(buf, size), *ids, *sub;

        CHECK(json_object_is_type(value, json_type_object));
        check_id(value, "accountId", ev->account_id);
        check_id(value, "appInstallationId", ev->app_installation_id);
        check_id(value, "visitorId", ev->visitor_id);
        check_id(value, "sessionId", ev->session_id);
        check_id(value, "consumerId", ev->consumer_id);
        if (member(value, "eventId"))
                check_id(value, "eventId", ev->event_id);
        ids = member(value, "identities");
        check_member(&ev->identities, ids, json_type_array);
        check_member(&ev->client_properties, member(value, "clientProperties"),
                     json_type_object);
        check_member(&ev->entry_points, member(value, "entryPoints"),
                     json_type_array);
        check_member(&ev->engagement_attributes,
                     member(value, "engagementAttributes"), json_type_array);
        if (ids) {
                sub = json_object_object_get(json_object_array_get_idx(ids, 0),
                                             "sub");
                CHECK(ev->first_sub != NULL);
                CHECK(json_object_is_type(sub, json_type_string));
                CHECK(strcmp(ev->first_sub, json_object_get_string(sub)) == 0);
        } else {
                CHECK(ev->first_sub == NULL);
        }
        json_object_put(value);
}

/* 1 if s is 64 lower-case hex digits (an HMAC-SHA256 as the body writes
 * it). */
static int is_hmac(json_object *s)
{
        const char *p = json_object_get_string(s);
        size_t      i;

        if (!json_object_is_type(s, json_type_string) ||
            json_object_get_string_len(s) != 64)
                return 0;
        for (i = 0; i < 64; i++)
                if (!((p[i] >= '0' && p[i] <= '9') ||
                      (p[i] >= 'a' && p[i] <= 'f')))
                        return 0;
        return 1;
}

/* The key of the hashed body. */
#define HASH_KEY "fuzz-hash-key"

/* The hasher the hashed body is built with: made once, like the engine's,
 * so its reuse across inputs is exercised too. Never freed (reachable). */
static ew_hmac_t *hasher(void)
{
        static ew_hmac_t *h;
        char              err[256];

        if (!h)
                h = ew_hmac_new(HASH_KEY, sizeof(HASH_KEY) - 1, err,
                                sizeof(err));
        CHECK(h != NULL);
        return h;
}

/* 1 if got is the string hex(HMAC-SHA256(HASH_KEY, decoded want)), the
 * digest computed by OpenSSL's one-shot HMAC(), not by ew_hmac. */
static int hmac_of(json_object *got, json_object *want)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char     md[EVP_MAX_MD_SIZE];
        unsigned int      md_len = 0, i;
        char              out[2 * EVP_MAX_MD_SIZE + 1];

        if (!is_hmac(got) || !json_object_is_type(want, json_type_string))
                return 0;
        if (!HMAC(EVP_sha256(), HASH_KEY, (int)sizeof(HASH_KEY) - 1,
                  (const unsigned char *)json_object_get_string(want),
                  (size_t)json_object_get_string_len(want), md, &md_len) ||
            md_len != 32)
                return 0;
        for (i = 0; i < md_len; i++) {
                out[2 * i]     = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 0xf];
        }
        return memcmp(out, json_object_get_string(got), 64) == 0;
}

/* Aborts unless the body's identities are the event's with every sub its
 * HMAC. */
static void check_hashed_identities(json_object *got, const ew_event_json_t *m)
{
        json_object *want = jc_parse(m->json, m->len);
        size_t       i, n = json_object_array_length(want);

        CHECK(json_object_is_type(got, json_type_array));
        CHECK(json_object_array_length(got) == n);
        for (i = 0; i < n; i++) {
                json_object *g = json_object_array_get_idx(got, i);
                json_object *w = json_object_array_get_idx(want, i);
                CHECK(json_object_object_length(g) ==
                      json_object_object_length(w));
                json_object_object_foreach(w, k, wv)
                {
                        json_object *gv = NULL;
                        CHECK(json_object_object_get_ex(g, k, &gv));
                        if (strcmp(k, "sub") == 0)
                                CHECK(hmac_of(gv, wv));
                        else
                                CHECK(json_object_equal(gv, wv));
                }
        }
        json_object_put(want);
}

/* Aborts unless body (plain, or hashed) carries the event's members: the
 * forwarded ones read the same as the event's text. */
static void check_body_members(const ew_event_t *ev, const char *body,
                               size_t len, int hashed)
{
        static const struct {
                const char *key;
                size_t      off;
        } fwd[] = {
            {"clientProperties", offsetof(ew_event_t, client_properties)},
            {"entryPoints", offsetof(ew_event_t, entry_points)},
            {"engagementAttributes",
             offsetof(ew_event_t, engagement_attributes)},
        };
        json_object *o = jc_parse(body, len), *v;
        size_t       i, want_n = 0;

        for (i = 0; i < EW_ARRAY_SIZE(fwd); i++) {
                const ew_event_json_t *m =
                    (const ew_event_json_t *)((const char *)ev + fwd[i].off);
                v = member(o, fwd[i].key);
                if (!m->json) {
                        CHECK(v == NULL);
                        continue;
                }
                want_n++;
                check_member(m, v, json_object_get_type(v));
        }
        v = member(o, "identities");
        if (ev->identities.json) {
                want_n++;
                if (hashed)
                        check_hashed_identities(v, &ev->identities);
                else
                        check_member(&ev->identities, v, json_type_array);
        } else {
                CHECK(v == NULL);
        }
        v = member(o, "consumerId");
        if (ev->consumer_id) {
                want_n++;
                if (hashed) {
                        json_object *raw =
                            json_object_new_string(ev->consumer_id);
                        CHECK(raw && hmac_of(v, raw));
                        json_object_put(raw);
                } else
                        CHECK(json_object_is_type(v, json_type_string) &&
                              strcmp(json_object_get_string(v),
                                     ev->consumer_id) == 0);
        } else {
                CHECK(v == NULL);
        }
        CHECK((size_t)json_object_object_length(o) == want_n);
        json_object_put(o);
}

/* The value of an upper-case hex digit, or 16. */
static unsigned hexval(char c)
{
        if (c >= '0' && c <= '9')
                return (unsigned)(c - '0');
        if (c >= 'A' && c <= 'F')
                return (unsigned)(c - 'A' + 10);
        return 16;
}

/* Aborts unless s percent-encodes to RFC 3986 unreserved characters and
 * %XX escapes only, and decodes back to s. */
static void check_pct(const char *s)
{
        char  *enc = ew_request_pct_encode(s);
        size_t i, o = 0;

        CHECK(enc != NULL);
        for (i = 0; enc[i]; i++) {
                unsigned c = (unsigned char)enc[i];
                unsigned hi, lo;

                if (c != '%') {
                        CHECK(strchr("-._~", (int)c) ||
                              (c >= '0' && c <= '9') ||
                              (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
                        CHECK(s[o++] == (char)c);
                        continue;
                }
                hi = hexval(enc[i + 1]);
                lo = hi < 16 ? hexval(enc[i + 2]) : 16;
                CHECK(hi < 16 && lo < 16);
                CHECK((unsigned char)s[o++] == (hi << 4 | lo));
                i += 2;
        }
        CHECK(s[o] == '\0');
        free(enc);
}

/* The URL the engine would call for this event. */
static void check_url(const ew_event_t *ev, ew_api_version_t version)
{
        static const char   base[] = "https://va.v.liveperson.net";
        ew_request_params_t p;
        char                errstr[256];
        char               *url;
        size_t              i;

        memset(&p, 0, sizeof(p));
        p.base_url   = base;
        p.account_id = ev->account_id ? ev->account_id : "12345678";
        p.app_installation_id =
            ev->app_installation_id ? ev->app_installation_id : "app-1";
        p.api_version = version;
        p.visitor_id  = ev->visitor_id;
        p.session_id  = ev->session_id;
        p.on_behalf   = 1;
        check_pct(p.account_id);
        check_pct(p.app_installation_id);
        if (p.visitor_id)
                check_pct(p.visitor_id);
        if (p.session_id)
                check_pct(p.session_id);

        url = ew_request_url(&p, errstr, sizeof(errstr));
        CHECK(url != NULL);
        CHECK(strncmp(url, base, sizeof(base) - 1) == 0);
        /* Nothing from the event can add a path, query or fragment part. */
        for (i = sizeof(base) - 1; url[i]; i++)
                CHECK(strchr("-._~%/?=&", url[i]) ||
                      (url[i] >= '0' && url[i] <= '9') ||
                      (url[i] >= 'A' && url[i] <= 'Z') ||
                      (url[i] >= 'a' && url[i] <= 'z'));
        CHECK(strstr(url, "&obh=true") != NULL);
        free(url);
}

/* What the engine does with an event that parsed. */
static void use_event(const ew_event_t *ev, const char *buf, size_t size)
{
        static const char input_key[] = "input-key";
        const char       *derived;
        const void       *k;
        size_t            klen = 99, blen = 0;
        char             *body;

        CHECK(ev->event_id != NULL);
        CHECK(ev->identities.json || ev->consumer_id || ev->visitor_id);
        check_event_vs_jsonc(ev, buf, size);

        /* No input key: the derived one, or none. */
        derived = ew_event_derived_key(ev);
        k       = ew_message_key(NULL, 0, ev, &klen);
        if (derived && *derived) {
                CHECK(k == derived && klen == strlen(derived));
        } else {
                CHECK(k == NULL && klen == 0);
        }
        /* An input key wins, byte for byte. */
        k = ew_message_key(input_key, sizeof(input_key) - 1, ev, &klen);
        CHECK(k == input_key && klen == sizeof(input_key) - 1);

        check_url(ev, EW_API_V1_0);
        check_url(ev, EW_API_V1_1);

        body = ew_request_body(ev, NULL, &blen);
        CHECK(body != NULL);
        check_json(body, blen, json_type_object);
        check_body_members(ev, body, blen, 0 /*plain*/);
        free(body);

        blen = 0;
        body = ew_request_body(ev, hasher(), &blen);
        CHECK(body != NULL);
        check_json(body, blen, json_type_object);
        check_body_members(ev, body, blen, 1 /*hashed*/);
        free(body);
}

/* What the engine does with an event that did not parse: a dead letter
 * carrying the value as it came. */
static void dead_letter(const char *value, size_t len, const char *event_id,
                        const char *errstr)
{
        ew_dead_letter_t dl;
        char            *json;
        size_t           jlen = 0;

        memset(&dl, 0, sizeof(dl));
        dl.kind          = EW_DEAD_INVALID_EVENT;
        dl.message       = errstr;
        dl.internal_code = -1;
        dl.source        = source;
        dl.event_id      = event_id;
        dl.failed_at_ms  = 1501074704502LL;
        json             = ew_message_dead_letter_json(&dl, value, len, &jlen);
        CHECK(json != NULL);
        check_json(json, jlen, json_type_object);
        free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        size_t      i;

        for (i = 0; i < EW_ARRAY_SIZE(settings); i++) {
                const setting_t *st = &settings[i];
                ew_event_t      *ev = (ew_event_t *)1; /* must be reset */
                char             event_id[1024 + 1];
                char             errstr[1024 + 1];
                size_t           n;
                int              r;

                memset(event_id, 'X', sizeof(event_id));
                memset(errstr, 'X', sizeof(errstr));
                r = ew_event_parse(buf, size, &st->lim, &source, &ev, event_id,
                                   st->event_id_size, errstr, st->errstr_size);
                CHECK(r == 0 || r == -1);
                /* Nothing written past the sizes handed in. */
                CHECK(event_id[st->event_id_size] == 'X');
                CHECK(errstr[st->errstr_size] == 'X');
                CHECK(terminated(event_id, st->event_id_size));
                CHECK(event_id[0] != '\0');
                if (r == 0) {
                        CHECK(ev != NULL);
                        CHECK(size <= st->lim.max_bytes);
                        /* The engine names outcomes by this buffer: it
                         * holds the event's id, cut to the size given. */
                        n = strlen(event_id);
                        CHECK(strncmp(event_id, ev->event_id, n) == 0);
                        CHECK(n == strlen(ev->event_id) ||
                              n == st->event_id_size - 1);
                        use_event(ev, buf, size);
                        ew_event_destroy(ev);
                } else {
                        CHECK(ev == NULL);
                        CHECK(terminated(errstr, st->errstr_size));
                        CHECK(errstr[0] != '\0');
                        /* A repeated name is the only fault reported as
                         * such: the value is JSON otherwise. */
                        if (st->errstr_size == 1024 &&
                            strstr(errstr, "appears twice"))
                                CHECK(fuzz_json_valid(buf, size,
                                                      st->lim.max_depth));
                        dead_letter(buf, size, event_id, errstr);
                }
        }
        return 0;
}
