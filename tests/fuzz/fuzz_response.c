/*
 * fuzz_response - libFuzzer target for the classification of API answers.
 *
 * Input layout (so seeds stay readable):
 *   - if it starts with three ASCII digits, they are the HTTP status and the
 *     rest is the body: "201{\"sessionId\":...}";
 *   - otherwise its first two bytes are a signed 16-bit status (so odd
 *     statuses such as 0, 99, 1000 or negatives are reached too) and the
 *     rest is the body;
 *   - the body's first line (up to 128 bytes, without the newline) is also
 *     read as a Retry-After header value: "503120\n<html>...".
 *
 * Each body is classified under both API versions, and a success kind is
 * turned into the outcome message as the engine does (ew_message_outcome).
 * The target checks what ew_response.h promises (the status-to-kind table,
 * which fields each kind may carry, bounded strings, Retry-After within
 * 0..EW_RETRY_AFTER_MAX_MS or -1), that the kept engagementDetails are a
 * compact JSON array, and that the outcome is valid UTF-8 and
 * strict JSON (RFC 8259 as fuzz_json.c reads it, and json-c). A broken
 * promise aborts, so the fuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ew_message.h"
#include "ew_response.h"
#include "ew_util.h"
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RETRY_AFTER_MAX_LEN 128

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
                                __LINE__, #cond);                              \
                        abort();                                               \
                }                                                              \
        } while (0)

static const ew_source_t source = {"visitor-activity", 0, 42};

/* Aborts unless text[0..len) is valid UTF-8 and a strict JSON object. */
static void check_json_object(const char *text, size_t len)
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
        CHECK(json_object_is_type(o, json_type_object));
        json_object_put(o);
        json_tokener_free(tok);
}

static int is_success(ew_result_kind_t kind)
{
        return kind == EW_RESULT_ENGAGEMENT || kind == EW_RESULT_CONVERSATION ||
               kind == EW_RESULT_UNAVAILABLE;
}

/* The status-to-kind table of ew_response.h. */
static void check_kind(int status, const ew_result_t *res)
{
        switch (res->kind) {
        case EW_RESULT_ENGAGEMENT:
        case EW_RESULT_CONVERSATION:
        case EW_RESULT_UNAVAILABLE:
                CHECK(status == 200 || status == 201);
                break;
        case EW_RESULT_LOADING:
                CHECK(status == 202 ||
                      (status == 500 && res->internal_code == 20));
                break;
        case EW_RESULT_RETRYABLE:
                CHECK(status == 200 || status == 201 ||
                      (status >= 500 && status <= 599) || status == 429 ||
                      status == 408);
                break;
        case EW_RESULT_REJECTED:
                CHECK(status != 200 && status != 201 && status != 202 &&
                      !(status >= 500 && status <= 599) && status != 429 &&
                      status != 408);
                break;
        default:
                CHECK(!"kind out of range");
        }
        if (status == 202)
                CHECK(res->kind == EW_RESULT_LOADING);
}

/* The kept engagementDetails: exactly engagement_details_len bytes of
 * strict JSON without white space between tokens, forming a non-empty
 * array. */
static void check_details(const ew_result_t *res)
{
        const char          *d   = res->engagement_details;
        size_t               len = res->engagement_details_len, i;
        struct json_tokener *tok;
        json_object         *o;
        int                  in_str = 0;

        CHECK(strlen(d) == len);
        CHECK(ew_utf8_valid(d, len));
        CHECK(fuzz_json_valid(d, len, JSON_TOKENER_DEFAULT_DEPTH * 4));
        for (i = 0; i < len; i++) {
                if (in_str) {
                        if (d[i] == '\\')
                                i++;
                        else if (d[i] == '"')
                                in_str = 0;
                } else if (d[i] == '"') {
                        in_str = 1;
                } else {
                        CHECK(!strchr(" \t\r\n", d[i]));
                }
        }
        tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
        CHECK(tok != NULL);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, d, (int)len + 1);
        CHECK(json_tokener_get_error(tok) == json_tokener_success);
        CHECK(json_object_is_type(o, json_type_array));
        CHECK(json_object_array_length(o) > 0);
        json_object_put(o);
        json_tokener_free(tok);
}

/* What each kind may carry, and the bounds on kept strings. */
static void check_fields(int status, const ew_result_t *res)
{
        CHECK(res->http_status == status);
        CHECK(res->internal_code >= -1);
        if (res->message)
                CHECK(strlen(res->message) <= EW_RESPONSE_MAX_MESSAGE);
        if (!is_success(res->kind)) {
                CHECK(res->visitor_id == NULL && res->session_id == NULL &&
                      res->page_id == NULL);
                CHECK(res->engagement_details == NULL);
        }
        if (res->kind != EW_RESULT_CONVERSATION)
                CHECK(res->conversation_id == NULL);
        if (res->kind == EW_RESULT_LOADING) {
                if (res->loading_vid) {
                        size_t n = strlen(res->loading_vid);
                        CHECK(n > 0 && n <= EW_RESPONSE_MAX_VID);
                }
        } else {
                CHECK(res->loading_vid == NULL);
        }
        if (res->engagement_details)
                check_details(res);
        if (res->kind == EW_RESULT_ENGAGEMENT ||
            res->kind == EW_RESULT_CONVERSATION)
                CHECK(res->engagement_details != NULL);
}

/* What the engine does with a success: the outcome message. */
static void check_outcome(const ew_result_t *res)
{
        size_t len = 0;
        char  *out;

        out = ew_message_outcome("fuzz-event-1", "12345678", res, 2, &source,
                                 1501074704502LL, &len);
        CHECK(out != NULL);
        check_json_object(out, len);
        free(out);
}

static void check_retry_after(const char *body, size_t len)
{
        static const int64_t nows[] = {
            0,               /* the epoch */
            1501074704502LL, /* the doc's error body "time" */
            4102444800000LL, /* 2100-01-01: two-digit years roll over */
        };
        char   value[RETRY_AFTER_MAX_LEN + 1];
        size_t n = 0, i;

        while (n < len && n < RETRY_AFTER_MAX_LEN && body[n] != '\n')
                n++;
        memcpy(value, body, n);
        value[n] = '\0';
        for (i = 0; i < EW_ARRAY_SIZE(nows); i++) {
                int64_t ms = ew_response_retry_after_ms(value, nows[i]);
                CHECK(ms == -1 || (ms >= 0 && ms <= EW_RETRY_AFTER_MAX_MS));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const ew_api_version_t versions[] = {EW_API_V1_0, EW_API_V1_1};
        const char                   *body;
        size_t                        len, i;
        int                           status;

        if (size >= 3 && data[0] >= '0' && data[0] <= '9' && data[1] >= '0' &&
            data[1] <= '9' && data[2] >= '0' && data[2] <= '9') {
                status = (data[0] - '0') * 100 + (data[1] - '0') * 10 +
                         (data[2] - '0');
                body = (const char *)data + 3;
                len  = size - 3;
        } else if (size >= 2) {
                status = (int16_t)(uint16_t)((unsigned)data[0] << 8 | data[1]);
                body   = (const char *)data + 2;
                len    = size - 2;
        } else {
                return 0;
        }

        for (i = 0; i < EW_ARRAY_SIZE(versions); i++) {
                ew_result_t      res;
                ew_result_kind_t kind;

                /* The body pointer is NULL when there is none, as curl
                 * leaves it. */
                kind = ew_response_classify(versions[i], status,
                                            len ? body : NULL, len, &res);
                CHECK(kind == res.kind);
                check_kind(status, &res);
                check_fields(status, &res);
                if (is_success(kind))
                        check_outcome(&res);
                ew_result_clear(&res);
                ew_result_clear(&res); /* cleared twice: must be safe */
        }
        check_retry_after(body, len);
        return 0;
}
