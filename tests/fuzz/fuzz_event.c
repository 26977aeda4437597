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
 * JSON (RFC 8259 as fuzz_json.c reads it, and json-c). A broken promise
 * aborts, so the fuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ew_event.h"
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
static void use_event(const ew_event_t *ev)
{
        static const char input_key[] = "input-key";
        const char       *derived;
        const void       *k;
        size_t            klen = 99, blen = 0;
        char             *body;

        CHECK(ev->root != NULL && ev->event_id != NULL);
        CHECK(ev->identities || ev->consumer_id || ev->visitor_id);

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
        free(body);

        blen = 0;
        body = ew_request_body(ev, "fuzz-hash-key", &blen);
        CHECK(body != NULL);
        check_json(body, blen, json_type_object);
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
                        use_event(ev);
                        ew_event_destroy(ev);
                } else {
                        CHECK(ev == NULL);
                        CHECK(terminated(errstr, st->errstr_size));
                        CHECK(errstr[0] != '\0');
                        dead_letter(buf, size, event_id, errstr);
                }
        }
        return 0;
}
