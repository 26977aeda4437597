/*
 * test_response - the classifier against every example, response code and
 * retry-policy row of the API doc, the internal codes of the notes, and
 * bodies that are anything but what the doc shows; and Retry-After.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ew_response.h"
#include "ew_test.h"
#include "ew_util.h"

/* String equality that fails (instead of crashing) on NULL. */
#define CHECK_STR(got, want)                                                   \
        do {                                                                   \
                const char *got_ = (got);                                      \
                CU_ASSERT_PTR_NOT_NULL(got_);                                  \
                if (got_)                                                      \
                        CU_ASSERT_STRING_EQUAL(got_, want);                    \
        } while (0)

/* Strings compare equal, NULL only to NULL. */
static int str_eq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static int contains(const char *s, const char *needle)
{
        return s && strstr(s, needle) != NULL;
}

/* Classifies a fixture under tests/data/responses. */
static ew_result_kind_t classify_file(ew_api_version_t v, int status,
                                      const char *name, ew_result_t *res)
{
        char             path[256];
        size_t           len = 0;
        char            *body;
        ew_result_kind_t kind;

        snprintf(path, sizeof(path), "responses/%s", name);
        body = ew_test_read_file(ew_test_data(path), &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        kind = ew_response_classify(v, status, body, len, res);
        free(body);
        return kind;
}

static ew_result_kind_t classify_str(ew_api_version_t v, int status,
                                     const char *body, ew_result_t *res)
{
        return ew_response_classify(v, status, body, body ? strlen(body) : 0,
                                    res);
}

/* The kept engagementDetails read back with json-c (caller puts), or NULL
 * when there are none or they are not exactly engagement_details_len bytes
 * of JSON. */
static json_object *details_parse(const ew_result_t *res)
{
        struct json_tokener *tok;
        json_object         *o;

        if (!res->engagement_details ||
            strlen(res->engagement_details) != res->engagement_details_len)
                return NULL;
        tok = json_tokener_new();
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, res->engagement_details,
                                  (int)res->engagement_details_len + 1);
        if (json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

/* Number of entries of the kept engagementDetails: -1 when there are
 * none, -2 when they are not a JSON array. */
static int details_count(const ew_result_t *res)
{
        json_object *d;
        int          n;

        if (!res->engagement_details)
                return -1;
        d = details_parse(res);
        n = json_object_is_type(d, json_type_array)
                ? (int)json_object_array_length(d)
                : -2;
        json_object_put(d);
        return n;
}

/* Entry i of the kept engagementDetails, member name, as int64. */
static int64_t detail_int(const ew_result_t *res, size_t i, const char *name)
{
        json_object *d = details_parse(res), *e, *v;
        int64_t      r = -1;

        e = json_object_is_type(d, json_type_array)
                ? json_object_array_get_idx(d, i)
                : NULL;
        if (e && json_object_object_get_ex(e, name, &v))
                r = json_object_get_int64(v);
        json_object_put(d);
        return r;
}

static void test_doc_201_expose(void)
{
        ew_result_t res;
        int         v;

        for (v = EW_API_V1_0; v <= EW_API_V1_1; v++) {
                CU_ASSERT_EQUAL(classify_file((ew_api_version_t)v, 201,
                                              "201-expose.json", &res),
                                EW_RESULT_ENGAGEMENT);
                CU_ASSERT_EQUAL(res.kind, EW_RESULT_ENGAGEMENT);
                CU_ASSERT_EQUAL(res.http_status, 201);
                CU_ASSERT_EQUAL(res.internal_code, -1);
                CU_ASSERT_PTR_NULL(res.message);
                CHECK_STR(res.session_id, "abc");
                CHECK_STR(res.visitor_id, "xyz");
                CHECK_STR(res.page_id, "595933432");
                CU_ASSERT_PTR_NULL(res.conversation_id);
                CU_ASSERT_PTR_NULL(res.loading_vid);
                CU_ASSERT_EQUAL(details_count(&res), 1);
                CU_ASSERT_EQUAL(detail_int(&res, 0, "campaignId"), 880524023);
                CU_ASSERT_EQUAL(detail_int(&res, 0, "engagementId"), 880524123);
                CU_ASSERT_EQUAL(detail_int(&res, 0, "engagementRevision"), 21);
                CU_ASSERT_EQUAL(detail_int(&res, 0, "connectorId"),
                                2642324112LL);
                ew_result_clear(&res);
        }
}

static void test_doc_200_conversation(void)
{
        ew_result_t res;

        CU_ASSERT_EQUAL(
            classify_file(EW_API_V1_1, 200, "200-conversation.json", &res),
            EW_RESULT_CONVERSATION);
        CU_ASSERT_EQUAL(res.http_status, 200);
        CHECK_STR(res.conversation_id, "fdasfdas");
        CHECK_STR(res.session_id, "abc");
        CHECK_STR(res.visitor_id, "xyz");
        CHECK_STR(res.page_id, "2095636278");
        CU_ASSERT_PTR_NULL(res.message);
        CU_ASSERT_EQUAL(detail_int(&res, 0, "engagementId"), 880524523);
        ew_result_clear(&res);
}

static void test_doc_unavailable(void)
{
        static const int statuses[] = {200, 201};
        ew_result_t      res;
        size_t           i;

        for (i = 0; i < EW_ARRAY_SIZE(statuses); i++) {
                CU_ASSERT_EQUAL(classify_file(EW_API_V1_0, statuses[i],
                                              "200-unavailable.json", &res),
                                EW_RESULT_UNAVAILABLE);
                CU_ASSERT_EQUAL(res.http_status, statuses[i]);
                CHECK_STR(res.page_id, "4743822558");
                CHECK_STR(res.session_id, "abc");
                CHECK_STR(res.visitor_id, "xyz");
                CU_ASSERT_PTR_NULL(res.engagement_details);
                CU_ASSERT_PTR_NULL(res.conversation_id);
                CU_ASSERT_PTR_NULL(res.message);
                ew_result_clear(&res);
        }
}

static void test_doc_loading_v10(void)
{
        ew_result_t res;

        CU_ASSERT_EQUAL(
            classify_file(EW_API_V1_0, 500, "v1.0-500-loading.json", &res),
            EW_RESULT_LOADING);
        CU_ASSERT_EQUAL(res.http_status, 500);
        CU_ASSERT_EQUAL(res.internal_code, 20);
        CHECK_STR(res.loading_vid, "myVisitorId");
        CHECK_STR(res.message, "Loading account: ta3hWd4IgG, vid: myVisitorId");
        CU_ASSERT_PTR_NULL(res.engagement_details);
        ew_result_clear(&res);
}

static void test_doc_loading_v11(void)
{
        ew_result_t res;

        CU_ASSERT_EQUAL(
            classify_file(EW_API_V1_1, 202, "v1.1-202-loading.json", &res),
            EW_RESULT_LOADING);
        CU_ASSERT_EQUAL(res.http_status, 202);
        CU_ASSERT_EQUAL(res.internal_code, 38);
        CHECK_STR(res.loading_vid, "myVisitorId");
        CHECK_STR(res.message, "Loading account: ta3hWd4IgG, vid: myVisitorId");
        ew_result_clear(&res);
}

/* 500/20 under v1.1 (the Android SDK's check) and 202/38 under v1.0. */
static void test_loading_cross_version(void)
{
        ew_result_t res;

        CU_ASSERT_EQUAL(
            classify_file(EW_API_V1_1, 500, "v1.0-500-loading.json", &res),
            EW_RESULT_LOADING);
        CHECK_STR(res.loading_vid, "myVisitorId");
        ew_result_clear(&res);
        CU_ASSERT_EQUAL(
            classify_file(EW_API_V1_0, 202, "v1.1-202-loading.json", &res),
            EW_RESULT_LOADING);
        CHECK_STR(res.loading_vid, "myVisitorId");
        ew_result_clear(&res);
        /* internalCode 38 on a 500 is not "loading": only 20 is. */
        CU_ASSERT_EQUAL(classify_str(EW_API_V1_1, 500,
                                     "{\"message\":\"x, vid: a\","
                                     "\"internalCode\":38}",
                                     &res),
                        EW_RESULT_RETRYABLE);
        CU_ASSERT_PTR_NULL(res.loading_vid);
        ew_result_clear(&res);
}

/* Any 202 is LOADING, whatever the body says. */
static void test_loading_any_202(void)
{
        static const struct {
                const char *body;
                int         code;
                const char *msg_part;
        } rows[] = {
            {NULL, -1, "HTTP 202: empty body"},
            {"", -1, "empty body"},
            {"{}", -1, "HTTP 202: no message in body"},
            {"[1,2]", -1, "JSON array"},
            {"<html>accepted</html>", -1, "not JSON"},
            {"{\"internalCode\":7,\"message\":\"busy\"}", 7, "busy"},
            {"{\"sessionId\":\"abc\",\"engagementDetails\":[{\"status\":"
             "\"expose\"}]}",
             -1, "no message"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;
                int         v;

                for (v = EW_API_V1_0; v <= EW_API_V1_1; v++) {
                        classify_str((ew_api_version_t)v, 202, rows[i].body,
                                     &res);
                        if (res.kind != EW_RESULT_LOADING ||
                            res.internal_code != rows[i].code ||
                            res.loading_vid != NULL ||
                            !contains(res.message, rows[i].msg_part)) {
                                fprintf(stderr,
                                        "202 row %zu v%d: kind %s code %d "
                                        "message '%s'\n",
                                        i, v, ew_result_kind_str(res.kind),
                                        res.internal_code,
                                        res.message ? res.message : "(null)");
                                failures++;
                        }
                        ew_result_clear(&res);
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_loading_vid_forms(void)
{
        static const struct {
                const char *message;
                const char *vid;
        } rows[] = {
            {"Loading account: ta3hWd4IgG, vid: myVisitorId", "myVisitorId"},
            {"vid:abc", "abc"},
            {"vid: abc, more text", "abc"},
            {"vid:   abc def", "abc"},
            /* a tab (escaped: JSON strings hold no raw control
             * characters) */
            {"vid:\\tabc;x", "abc"},
            {"Loading account: a, vid: a-b_c.d=", "a-b_c.d="},
            {"Loading account: a, vid: \xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
            {"Loading account: ta3hWd4IgG", NULL},
            {"Loading account: a, vid: ", NULL},
            {"Loading account: a, vid: , x", NULL},
            {"xvid: no", NULL},
            {"avid: no, vid: yes", "yes"},
            {"vid : spaced", NULL},
        };
        char   body[1024];
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;

                snprintf(body, sizeof(body),
                         "{\"message\":\"%s\",\"internalCode\":38}",
                         rows[i].message);
                classify_str(EW_API_V1_1, 202, body, &res);
                if (res.kind != EW_RESULT_LOADING ||
                    !str_eq(res.loading_vid, rows[i].vid)) {
                        fprintf(stderr, "vid row %zu: got '%s'\n", i,
                                res.loading_vid ? res.loading_vid : "(null)");
                        failures++;
                }
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_loading_vid_too_long(void)
{
        char        body[1024], vid[EW_RESPONSE_MAX_VID + 2];
        ew_result_t res;

        memset(vid, 'v', sizeof(vid) - 1);
        vid[sizeof(vid) - 1] = '\0';
        snprintf(body, sizeof(body), "{\"message\":\"vid: %s\"}", vid);
        classify_str(EW_API_V1_1, 202, body, &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_LOADING);
        CU_ASSERT_PTR_NULL(res.loading_vid);
        ew_result_clear(&res);

        vid[EW_RESPONSE_MAX_VID] = '\0'; /* exactly the limit is kept */
        snprintf(body, sizeof(body), "{\"message\":\"vid: %s\"}", vid);
        classify_str(EW_API_V1_1, 202, body, &res);
        CHECK_STR(res.loading_vid, vid);
        ew_result_clear(&res);
}

/* The doc's "Response Codes" table, each with a body of its kind. */
static void test_response_code_table(void)
{
        static const struct {
                int              status;
                const char      *fixture;
                ew_result_kind_t kind;
                int              code;
        } rows[] = {
            {200, "200-conversation.json", EW_RESULT_CONVERSATION, -1},
            {200, "201-expose.json", EW_RESULT_ENGAGEMENT, -1},
            {201, "201-expose.json", EW_RESULT_ENGAGEMENT, -1},
            {201, "200-unavailable.json", EW_RESULT_UNAVAILABLE, -1},
            {202, "v1.1-202-loading.json", EW_RESULT_LOADING, 38},
            {400, "400-5.json", EW_RESULT_REJECTED, 5},
            {404, "404-37.json", EW_RESULT_REJECTED, 37},
            {500, "500-18.json", EW_RESULT_RETRYABLE, 18},
            {500, "v1.0-500-loading.json", EW_RESULT_LOADING, 20},
            {503, "503.html", EW_RESULT_RETRYABLE, -1},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;
                int         v;

                for (v = EW_API_V1_0; v <= EW_API_V1_1; v++) {
                        classify_file((ew_api_version_t)v, rows[i].status,
                                      rows[i].fixture, &res);
                        if (res.kind != rows[i].kind ||
                            res.http_status != rows[i].status ||
                            res.internal_code != rows[i].code) {
                                fprintf(stderr,
                                        "code row %zu (%d %s) v%d: got %s "
                                        "code %d\n",
                                        i, rows[i].status, rows[i].fixture, v,
                                        ew_result_kind_str(res.kind),
                                        res.internal_code);
                                failures++;
                        }
                        ew_result_clear(&res);
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* The doc's retry policy, status by status from 100 to 599 (and a few
 * beyond), with an empty body and with an error body:
 *   4xx: no retry (REJECTED), except 408 and 429 (RETRYABLE);
 *   5xx: RETRYABLE (500 + internalCode 20 is LOADING);
 *   202: LOADING; 200/201: success; anything else REJECTED as unexpected. */
static void test_retry_policy_table(void)
{
        static const char *const bodies[] = {
            "",
            "{\"time\":1,\"message\":\"m\",\"internalCode\":18}",
        };
        static const int extra[]  = {-1, 0, 99, 600, 999, 1000};
        int              failures = 0, status;
        size_t           b, i;

        for (status = 100; status <= 599 + (int)EW_ARRAY_SIZE(extra);
             status++) {
                int s = status <= 599 ? status : extra[status - 600];

                for (b = 0; b < EW_ARRAY_SIZE(bodies); b++) {
                        ew_result_kind_t want;
                        char             unexpected[64], empty[64];
                        int              bad;
                        ew_result_t      res;

                        snprintf(unexpected, sizeof(unexpected),
                                 "unexpected HTTP status %d", s);
                        snprintf(empty, sizeof(empty), "HTTP %d: empty body",
                                 s);
                        if (s == 200 || s == 201)
                                want = b == 0 ? EW_RESULT_RETRYABLE
                                              : EW_RESULT_UNAVAILABLE;
                        else if (s == 202)
                                want = EW_RESULT_LOADING;
                        else if (s == 408 || s == 429 || (s >= 500 && s <= 599))
                                want = EW_RESULT_RETRYABLE;
                        else
                                want = EW_RESULT_REJECTED;

                        classify_str(EW_API_V1_1, s, bodies[b], &res);
                        if (res.kind != want || res.http_status != s) {
                                bad = 1;
                        } else if (want == EW_RESULT_UNAVAILABLE) {
                                bad = res.message != NULL;
                        } else if (s < 200 || (s > 202 && s < 400) || s > 599) {
                                bad = !str_eq(res.message, unexpected);
                        } else if (s >= 400) {
                                /* the error body's words and code */
                                bad = !str_eq(res.message,
                                              b == 1 ? "m" : empty) ||
                                      res.internal_code != (b == 1 ? 18 : -1);
                        } else {
                                bad = res.message == NULL;
                        }
                        if (bad) {
                                fprintf(stderr,
                                        "policy %d body %zu: got %s '%s'\n", s,
                                        b, ew_result_kind_str(res.kind),
                                        res.message ? res.message : "(null)");
                                failures++;
                        }
                        ew_result_clear(&res);
                }
        }
        /* The unexpected-status rows really ran. */
        for (i = 0; i < EW_ARRAY_SIZE(extra); i++) {
                ew_result_t res;

                classify_str(EW_API_V1_0, extra[i], "{}", &res);
                if (res.kind != EW_RESULT_REJECTED)
                        failures++;
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Every internal code of the notes, with its status. */
static void test_internal_codes(void)
{
        static const struct {
                int              status;
                const char      *fixture;
                int              code;
                ew_result_kind_t kind;
                const char      *message;
        } rows[] = {
            {400, "400-5.json", 5, EW_RESULT_REJECTED, "consumerId"},
            {400, "400-33.json", 33, EW_RESULT_REJECTED,
             "Illegal API version: 9.9"},
            {404, "404-37.json", 37, EW_RESULT_REJECTED, "Invalid visitorId"},
            {404, "404-39.json", 39, EW_RESULT_REJECTED, "Invalid sessionId"},
            {404, "404-18.json", 18, EW_RESULT_REJECTED,
             "Invalid appInstallationId"},
            {500, "v1.0-500-loading.json", 20, EW_RESULT_LOADING,
             "Loading account: ta3hWd4IgG, vid: myVisitorId"},
            {500, "500-18.json", 18, EW_RESULT_RETRYABLE,
             "Internal server error"},
            {202, "v1.1-202-loading.json", 38, EW_RESULT_LOADING,
             "Loading account: ta3hWd4IgG, vid: myVisitorId"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;

                classify_file(EW_API_V1_0, rows[i].status, rows[i].fixture,
                              &res);
                if (res.kind != rows[i].kind ||
                    res.internal_code != rows[i].code ||
                    !str_eq(res.message, rows[i].message) ||
                    res.engagement_details || res.session_id) {
                        fprintf(stderr, "code row %zu: %s %d '%s'\n", i,
                                ew_result_kind_str(res.kind), res.internal_code,
                                res.message ? res.message : "(null)");
                        failures++;
                }
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* internalCode as number, numeric string, and junk. */
static void test_internal_code_forms(void)
{
        static const struct {
                const char *value;
                int         code;
        } rows[] = {
            {"20", 20},
            {"\"20\"", 20},
            {"\" 20 \"", 20},
            {"20.0", 20},
            {"0", 0},
            {"\"0\"", 0},
            {"2147483647", 2147483647},
            {"20.5", -1},
            {"-3", -1},
            {"\"-3\"", -1},
            {"\"20a\"", -1},
            {"\"\"", -1},
            {"1e20", -1},
            {"2147483648", -1},
            {"\"9999999999\"", -1},
            /* more digits than an int64 holds (found by fuzz_response) */
            {"\"    888888888888888888888888888888885  \"", -1},
            {"true", -1},
            {"null", -1},
            {"[20]", -1},
            {"{\"c\":20}", -1},
        };
        char   body[256];
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;

                snprintf(body, sizeof(body),
                         "{\"message\":\"Loading account: a, vid: v\","
                         "\"internalCode\":%s}",
                         rows[i].value);
                classify_str(EW_API_V1_0, 500, body, &res);
                if (res.internal_code != rows[i].code ||
                    res.kind != (rows[i].code == 20 ? EW_RESULT_LOADING
                                                    : EW_RESULT_RETRYABLE)) {
                        fprintf(stderr, "internalCode %s: got %d (%s)\n",
                                rows[i].value, res.internal_code,
                                ew_result_kind_str(res.kind));
                        failures++;
                }
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Bodies that are not what the doc shows, as (bytes, length): classified
 * by status, with a message saying what was wrong, never a crash. */
typedef struct junk {
        const char *name;
        char       *body;
        size_t      len;
        const char *why; /* expected in the message */
} junk_t;

static char *nested(int depth, size_t *lenp)
{
        char  *s = malloc((size_t)depth * 6 + 8);
        size_t n = 0;
        int    i;

        for (i = 0; i < depth; i++) {
                memcpy(s + n, "{\"a\":", 5);
                n += 5;
        }
        s[n++] = '1';
        for (i = 0; i < depth; i++)
                s[n++] = '}';
        s[n]  = '\0';
        *lenp = n;
        return s;
}

static size_t junk_make(junk_t *j, size_t max)
{
        static const char binary[] = {'\x00', '\x01', '\xff', '{',    '\x7f',
                                      '\x80', '"',    '\n',   '\x00', 'x'};
        size_t            n        = 0, i, len;
        char             *p;

#define JUNK(nm, s, why_)                                                      \
        do {                                                                   \
                j[n].name = nm;                                                \
                j[n].len  = sizeof(s) - 1;                                     \
                j[n].body = malloc(sizeof(s));                                 \
                memcpy(j[n].body, s, sizeof(s));                               \
                j[n].why = why_;                                               \
                n++;                                                           \
        } while (0)

        JUNK("empty", "", "empty body");
        JUNK("blank", " \r\n\t ", "blank body");
        JUNK("null", "null", "JSON null, not an object");
        JUNK("array", "[]", "JSON array, not an object");
        JUNK("doc-array", "[{\"sessionId\":\"abc\"}]", "JSON array");
        JUNK("string", "\"abc\"", "JSON string");
        JUNK("number", "42", "JSON number");
        JUNK("bool", "true", "JSON boolean");
        JUNK("truncated",
             "{\"sessionId\":\"abc\",\"engagementDetails\":[{\"status\":\"ex",
             "truncated JSON");
        JUNK("truncated-obj", "{\"sessionId\":", "truncated JSON");
        JUNK("html", "<html><body>Bad Gateway</body></html>",
             "not JSON (unexpected character at byte 0): '<html>");
        JUNK("trailing", "{\"sessionId\":\"abc\"} x", "not JSON");
        JUNK("two-objects", "{}{}", "not JSON");
        JUNK("single-quotes", "{'sessionId':'abc'}", "not JSON");
        JUNK("trailing-comma", "{\"a\":1,}", "not JSON");
        JUNK("bad-utf8", "{\"sessionId\":\"\xff\xfe\"}", "not valid UTF-8");
        JUNK("overlong-utf8", "{\"sessionId\":\"\xc0\xaf\"}",
             "not valid UTF-8");
        JUNK("nan",
             "{\"engagementDetails\":[{\"status\":\"expose\","
             "\"x\":NaN}]}",
             "NaN or Infinity");
        JUNK("infinity", "{\"pageId\":\"1\",\"a\":[-Infinity]}",
             "NaN or Infinity");
        JUNK("huge-double", "{\"a\":1e999}", "NaN or Infinity");
        JUNK("nul-after", "{\"sessionId\":\"abc\"}\0", "NUL");
        j[n].name = "binary";
        j[n].len  = sizeof(binary);
        j[n].body = malloc(sizeof(binary));
        memcpy(j[n].body, binary, sizeof(binary));
        j[n].why = "NUL";
        n++;
#undef JUNK

        /* 1 MB of printable junk (under the parse limit). */
        len = 1000000;
        p   = malloc(len);
        for (i = 0; i < len; i++)
                p[i] = (char)('!' + (i * 7919) % 90);
        p[0]      = 'x';
        j[n].name = "1MB-junk";
        j[n].body = p;
        j[n].len  = len;
        j[n].why  = "not JSON";
        n++;

        /* A valid object one byte over the parse limit. */
        len = (size_t)EW_RESPONSE_MAX_BODY + 1;
        p   = malloc(len);
        memset(p, ' ', len);
        memcpy(p, "{\"pageId\":\"1\"}", 14);
        j[n].name = "too-large";
        j[n].body = p;
        j[n].len  = len;
        j[n].why  = "too large";
        n++;

        j[n].name = "nested-object";
        j[n].body = nested(10000, &j[n].len);
        j[n].why  = "nested deeper than 32";
        n++;

        len = 100000;
        p   = malloc(len);
        memset(p, '[', len);
        j[n].name = "nested-array";
        j[n].body = p;
        j[n].len  = len;
        j[n].why  = "nested deeper than 32";
        n++;

        CU_ASSERT_FATAL(n <= max);
        return n;
}

static void test_garbage_bodies(void)
{
        static const struct {
                int              status;
                ew_result_kind_t kind;
                const char      *prefix; /* of the message */
        } statuses[] = {
            {200, EW_RESULT_RETRYABLE, "unparseable 200 body: "},
            {201, EW_RESULT_RETRYABLE, "unparseable 201 body: "},
            {202, EW_RESULT_LOADING, "HTTP 202: "},
            {400, EW_RESULT_REJECTED, "HTTP 400: "},
            {404, EW_RESULT_REJECTED, "HTTP 404: "},
            {429, EW_RESULT_RETRYABLE, "HTTP 429: "},
            {500, EW_RESULT_RETRYABLE, "HTTP 500: "},
            {503, EW_RESULT_RETRYABLE, "HTTP 503: "},
        };
        junk_t junk[32];
        size_t n        = junk_make(junk, EW_ARRAY_SIZE(junk));
        int    failures = 0;
        size_t i, s;

        for (i = 0; i < n; i++) {
                for (s = 0; s < EW_ARRAY_SIZE(statuses); s++) {
                        ew_result_t res;

                        ew_response_classify(EW_API_V1_1, statuses[s].status,
                                             junk[i].body, junk[i].len, &res);
                        if (res.kind != statuses[s].kind || !res.message ||
                            strncmp(res.message, statuses[s].prefix,
                                    strlen(statuses[s].prefix)) != 0 ||
                            !contains(res.message, junk[i].why) ||
                            strlen(res.message) > 300 ||
                            !ew_utf8_valid(res.message, strlen(res.message)) ||
                            res.session_id || res.engagement_details ||
                            res.loading_vid || res.internal_code != -1) {
                                fprintf(stderr, "junk %s status %d: %s '%s'\n",
                                        junk[i].name, statuses[s].status,
                                        ew_result_kind_str(res.kind),
                                        res.message ? res.message : "(null)");
                                failures++;
                        }
                        ew_result_clear(&res);
                }
                free(junk[i].body);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* A NULL body, and a body exactly at the parse limit (parsed). */
static void test_body_limits(void)
{
        size_t      len = EW_RESPONSE_MAX_BODY;
        char       *p   = malloc(len);
        ew_result_t res;

        CU_ASSERT_EQUAL(ew_response_classify(EW_API_V1_0, 200, NULL, 0, &res),
                        EW_RESULT_RETRYABLE);
        CHECK_STR(res.message, "unparseable 200 body: empty body");
        ew_result_clear(&res);

        memset(p, ' ', len);
        memcpy(p, "{\"pageId\":\"1\"}", 14);
        CU_ASSERT_EQUAL(ew_response_classify(EW_API_V1_0, 200, p, len, &res),
                        EW_RESULT_UNAVAILABLE);
        CHECK_STR(res.page_id, "1");
        ew_result_clear(&res);
        free(p);
}

/* len is honoured: the body need not be NUL-terminated. */
static void test_body_not_terminated(void)
{
        const char  buf[] = "{\"pageId\":\"7\"}GARBAGE";
        ew_result_t res;
        char       *exact = malloc(14);

        memcpy(exact, buf, 14); /* no NUL anywhere: ASan checks the reads */
        CU_ASSERT_EQUAL(ew_response_classify(EW_API_V1_1, 201, exact, 14, &res),
                        EW_RESULT_UNAVAILABLE);
        CHECK_STR(res.page_id, "7");
        ew_result_clear(&res);
        free(exact);

        CU_ASSERT_EQUAL(classify_str(EW_API_V1_1, 201, buf, &res),
                        EW_RESULT_RETRYABLE);
        ew_result_clear(&res);
}

/* What 200/201 bodies may look like beyond the doc's examples. */
static void test_success_shapes(void)
{
        static const struct {
                const char      *body;
                ew_result_kind_t kind;
                int              details; /* entries kept, -1 for NULL */
                const char      *conv;    /* conversation_id */
                const char      *msg;     /* part of message, NULL: none */
                const char      *page;    /* page_id */
        } rows[] = {
            /* unknown fields, top level and in entries */
            {"{\"pageId\":\"p\",\"x\":{\"y\":[1]},\"engagementDetails\":"
             "[{\"status\":\"expose\",\"new\":true}]}",
             EW_RESULT_ENGAGEMENT, 1, NULL, NULL, "p"},
            {"{\"engagementDetails\":null}", EW_RESULT_UNAVAILABLE, -1, NULL,
             NULL, NULL},
            {"{\"engagementDetails\":[]}", EW_RESULT_UNAVAILABLE, -1, NULL,
             NULL, NULL},
            {"{}", EW_RESULT_UNAVAILABLE, -1, NULL, NULL, NULL},
            /* a single object is taken as a one-entry list */
            {"{\"engagementDetails\":{\"status\":\"expose\"}}",
             EW_RESULT_ENGAGEMENT, 1, NULL, NULL, NULL},
            {"{\"engagementDetails\":{\"status\":\"conversation\","
             "\"conversationId\":\"c1\"}}",
             EW_RESULT_CONVERSATION, 1, "c1", NULL, NULL},
            {"{\"engagementDetails\":\"expose\"}", EW_RESULT_UNAVAILABLE, -1,
             NULL, "engagementDetails is a JSON string", NULL},
            {"{\"engagementDetails\":5}", EW_RESULT_UNAVAILABLE, -1, NULL,
             "JSON number", NULL},
            /* conversation wins over expose, whatever the order */
            {"{\"engagementDetails\":[{\"status\":\"expose\"},"
             "{\"status\":\"conversation\",\"conversationId\":\"c2\"}]}",
             EW_RESULT_CONVERSATION, 2, "c2", NULL, NULL},
            {"{\"engagementDetails\":[{\"status\":\"conversation\","
             "\"conversationId\":\"c3\"},{\"status\":\"expose\"}]}",
             EW_RESULT_CONVERSATION, 2, "c3", NULL, NULL},
            /* the first conversation entry gives the id */
            {"{\"engagementDetails\":[{\"status\":\"conversation\","
             "\"conversationId\":\"c4\"},{\"status\":\"conversation\","
             "\"conversationId\":\"c5\"}]}",
             EW_RESULT_CONVERSATION, 2, "c4", NULL, NULL},
            /* unknown statuses are ignored */
            {"{\"engagementDetails\":[{\"status\":\"closed\"}]}",
             EW_RESULT_UNAVAILABLE, 1, NULL,
             "no entry with status \"expose\" or \"conversation\" (1 "
             "entries, status \"closed\")",
             NULL},
            {"{\"engagementDetails\":[{\"status\":\"closed\"},"
             "{\"status\":\"expose\"}]}",
             EW_RESULT_ENGAGEMENT, 2, NULL, NULL, NULL},
            {"{\"engagementDetails\":[1,\"x\",null,[],{}]}",
             EW_RESULT_UNAVAILABLE, 5, NULL, "status \"(none)\"", NULL},
            {"{\"engagementDetails\":[{\"status\":5}]}", EW_RESULT_UNAVAILABLE,
             1, NULL, "(none)", NULL},
            {"{\"engagementDetails\":[{\"status\":\"EXPOSE\"}]}",
             EW_RESULT_ENGAGEMENT, 1, NULL, NULL, NULL},
            /* conversation without a usable conversationId */
            {"{\"engagementDetails\":[{\"status\":\"conversation\"}]}",
             EW_RESULT_CONVERSATION, 1, NULL, "without conversationId", NULL},
            {"{\"engagementDetails\":[{\"status\":\"conversation\","
             "\"conversationId\":42}]}",
             EW_RESULT_CONVERSATION, 1, "42", NULL, NULL},
            /* identifiers: numbers as text, other types dropped */
            {"{\"pageId\":595933432}", EW_RESULT_UNAVAILABLE, -1, NULL, NULL,
             "595933432"},
            {"{\"pageId\":12.50}", EW_RESULT_UNAVAILABLE, -1, NULL, NULL,
             "12.50"},
            {"{\"pageId\":true}", EW_RESULT_UNAVAILABLE, -1, NULL, NULL, NULL},
            {"{\"pageId\":{\"a\":1}}", EW_RESULT_UNAVAILABLE, -1, NULL, NULL,
             NULL},
            {"{\"pageId\":\"a\\u0000b\"}", EW_RESULT_UNAVAILABLE, -1, NULL,
             NULL, NULL},
            {"{\"pageId\":\"\\u00e9\\n\"}", EW_RESULT_UNAVAILABLE, -1, NULL,
             NULL, "\xc3\xa9\n"},
            /* an error-shaped 200 is still a 200 */
            {"{\"message\":\"odd\",\"internalCode\":18}", EW_RESULT_UNAVAILABLE,
             -1, NULL, NULL, NULL},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;
                int         details;

                classify_str(EW_API_V1_1, 200, rows[i].body, &res);
                details = details_count(&res);
                if (res.kind != rows[i].kind || details != rows[i].details ||
                    !str_eq(res.conversation_id, rows[i].conv) ||
                    !str_eq(res.page_id, rows[i].page) ||
                    (rows[i].msg ? !contains(res.message, rows[i].msg)
                                 : res.message != NULL)) {
                        fprintf(stderr,
                                "shape row %zu: %s details %d conv '%s' "
                                "page '%s' message '%s'\n",
                                i, ew_result_kind_str(res.kind), details,
                                res.conversation_id ? res.conversation_id
                                                    : "(null)",
                                res.page_id ? res.page_id : "(null)",
                                res.message ? res.message : "(null)");
                        failures++;
                }
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Members found however the body spells them: escaped names, repeated
 * names (the last counts), escaped values. */
static void test_member_spellings(void)
{
        static const struct {
                int              status;
                const char      *body;
                ew_result_kind_t kind;
                const char      *session; /* session_id */
                const char      *conv;    /* conversation_id */
                int              code;    /* internal_code */
        } rows[] = {
            {200, "{\"\\u0073essionId\":\"abc\"}", EW_RESULT_UNAVAILABLE, "abc",
             NULL, -1},
            {200, "{\"session\\u0049d\":\"abc\"}", EW_RESULT_UNAVAILABLE, "abc",
             NULL, -1},
            {200, "{\"sessionId\":\"a\",\"sessionId\":\"b\"}",
             EW_RESULT_UNAVAILABLE, "b", NULL, -1},
            {200, "{\"sessionId\":\"a\\/b\\u20ac\"}", EW_RESULT_UNAVAILABLE,
             "a/b\xe2\x82\xac", NULL, -1},
            {200, "{\"sessionid\":\"a\",\"SessionId\":\"b\"}",
             EW_RESULT_UNAVAILABLE, NULL, NULL, -1},
            {200, "{\"engagementDetails\":[{\"status\":\"\\u0065xpose\"}]}",
             EW_RESULT_ENGAGEMENT, NULL, NULL, -1},
            {200,
             "{\"engagementDetails\":[{\"status\":\"Conversation\","
             "\"conversationId\":\"c\\\"1\",\"status\":\"closed\"}]}",
             EW_RESULT_UNAVAILABLE, NULL, NULL, -1},
            {200,
             "{\"engagementDetails\":[{\"status\":\"conversation\","
             "\"conversationId\":\"c\\\"1\"}]}",
             EW_RESULT_CONVERSATION, NULL, "c\"1", -1},
            {200, "{\"engagementDetails\":[{\"status\":\"expose\\u0000\"}]}",
             EW_RESULT_UNAVAILABLE, NULL, NULL, -1},
            {500, "{\"internalCode\":\"\\u0032\\u0030\"}", EW_RESULT_LOADING,
             NULL, NULL, 20},
            {500, "{\"internalCode\":18,\"internalCode\":20}",
             EW_RESULT_LOADING, NULL, NULL, 20},
            {500, "{\"internalCode\":2e1}", EW_RESULT_LOADING, NULL, NULL, 20},
            {500, "{\"internalCode\":-0}", EW_RESULT_RETRYABLE, NULL, NULL, 0},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;

                classify_str(EW_API_V1_1, rows[i].status, rows[i].body, &res);
                if (res.kind != rows[i].kind ||
                    !str_eq(res.session_id, rows[i].session) ||
                    !str_eq(res.conversation_id, rows[i].conv) ||
                    res.internal_code != rows[i].code) {
                        fprintf(stderr,
                                "spelling row %zu: %s session '%s' conv '%s' "
                                "code %d\n",
                                i, ew_result_kind_str(res.kind),
                                res.session_id ? res.session_id : "(null)",
                                res.conversation_id ? res.conversation_id
                                                    : "(null)",
                                res.internal_code);
                        failures++;
                }
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Long escaped strings (decoded beyond the classifier's stack buffers):
 * a message whose vid comes after the kept 1024 bytes, and an unknown
 * status longer than the 64 bytes the message quotes. */
static void test_long_escaped_strings(void)
{
        size_t      n    = 3000, i, o;
        char       *body = malloc(n * 6 + 256);
        ew_result_t res;

        o = (size_t)sprintf(body, "{\"internalCode\":38,\"message\":\"");
        for (i = 0; i < n; i++)
                o += (size_t)sprintf(body + o, "\\u00e9");
        o += (size_t)sprintf(body + o, ", vid: late-vid\"}");
        classify_str(EW_API_V1_1, 202, body, &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_LOADING);
        CHECK_STR(res.loading_vid, "late-vid");
        CU_ASSERT_PTR_NOT_NULL_FATAL(res.message);
        CU_ASSERT_EQUAL(strlen(res.message), EW_RESPONSE_MAX_MESSAGE);
        CU_ASSERT_EQUAL(memcmp(res.message, "\xc3\xa9\xc3\xa9", 4), 0);
        CU_ASSERT_TRUE(ew_utf8_valid(res.message, strlen(res.message)));
        ew_result_clear(&res);

        o = (size_t)sprintf(body, "{\"engagementDetails\":[{\"status\":\"");
        for (i = 0; i < 200; i++)
                o += (size_t)sprintf(body + o, "\\u0041");
        o += (size_t)sprintf(body + o, "\"}]}");
        classify_str(EW_API_V1_1, 200, body, &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_UNAVAILABLE);
        CU_ASSERT_TRUE(contains(res.message, "(1 entries, status \""));
        CU_ASSERT_TRUE(contains(res.message, "AAAA\")"));
        CU_ASSERT_FALSE(contains(res.message, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                              "A"));
        ew_result_clear(&res);
        free(body);
}

/* RFC 8259 and nothing more: what json-c let through is unparseable now,
 * with a message saying so. */
static void test_strict_json(void)
{
        static const struct {
                const char *body;
                const char *why;
        } rows[] = {
            {"{\"sessionId\":\"a\tb\"}", "not JSON (unexpected character"},
            {"{\"sessionId\":\"a\nb\"}", "not JSON (unexpected character"},
            {"{\"a\":01}", "not JSON (unexpected character"},
            {"{\"a\":.5}", "not JSON (unexpected character"},
            {"{\"a\":1.}", "not JSON (unexpected character"},
            {"{\"a\":+1}", "not JSON (unexpected character"},
            {"{\"a\":True}", "not JSON (unexpected character"},
            {"{\"a\":\"\\ud800\"}", "not JSON (unexpected character"},
            {"{\"a\":\"\\x41\"}", "not JSON (unexpected character"},
            {"{\"a\":1 /* c */}", "not JSON (unexpected character"},
            {"{\"a\":NaN}", "NaN or Infinity"},
            {"{\"a\":[Infinity]}", "NaN or Infinity"},
            {"{\"a\":-Infinity}", "NaN or Infinity"},
            {"{\"a\":-1E400}", "NaN or Infinity"},
            {"{\"a\":tru", "truncated JSON"},
            {"{\"a\":-", "truncated JSON"},
            {"{\"a\":1.5e", "truncated JSON"},
            {"{\"a\":\"unterminated", "truncated JSON"},
            {"{\"a\":\"esc\\", "truncated JSON"},
            {"{\"a\":[1,2", "truncated JSON"},
            {"{\"a\" ", "truncated JSON"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t res;

                classify_str(EW_API_V1_1, 200, rows[i].body, &res);
                if (res.kind != EW_RESULT_RETRYABLE ||
                    !contains(res.message, rows[i].why)) {
                        fprintf(stderr, "strict row %zu: %s '%s'\n", i,
                                ew_result_kind_str(res.kind),
                                res.message ? res.message : "(null)");
                        failures++;
                }
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* An object holding arrays nested to depth levels in all. */
static void depth_body(char *body, int levels)
{
        size_t n = (size_t)sprintf(body, "{\"pageId\":\"p\",\"a\":");
        int    i;

        for (i = 1; i < levels; i++)
                body[n++] = '[';
        for (i = 1; i < levels; i++)
                body[n++] = ']';
        body[n++] = '}';
        body[n]   = '\0';
}

/* Nesting: 32 levels are read, 33 are not. */
static void test_depth_limit(void)
{
        char        body[512];
        ew_result_t res;

        depth_body(body, EW_RESPONSE_MAX_DEPTH);
        classify_str(EW_API_V1_1, 200, body, &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_UNAVAILABLE);
        CHECK_STR(res.page_id, "p");
        ew_result_clear(&res);

        depth_body(body, EW_RESPONSE_MAX_DEPTH + 1);
        classify_str(EW_API_V1_1, 200, body, &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_RETRYABLE);
        CU_ASSERT_TRUE(contains(res.message, "nested deeper than 32"));
        ew_result_clear(&res);
}

/* Every string a result keeps lives in its one allocation, which is just
 * large enough for them. */
static void test_one_allocation(void)
{
        ew_result_t res;
        const char *block;
        size_t      i, total = 0;

        classify_file(EW_API_V1_1, 200, "200-conversation.json", &res);
        CU_ASSERT_PTR_NOT_NULL_FATAL(res.mem);
        block = res.mem;
        {
                const char *const f[] = {res.session_id, res.visitor_id,
                                         res.page_id, res.conversation_id,
                                         res.engagement_details};

                for (i = 0; i < EW_ARRAY_SIZE(f); i++) {
                        CU_ASSERT_PTR_NOT_NULL_FATAL(f[i]);
                        total += strlen(f[i]) + 1;
                }
                for (i = 0; i < EW_ARRAY_SIZE(f); i++)
                        CU_ASSERT_TRUE(f[i] >= block &&
                                       f[i] + strlen(f[i]) < block + total);
        }
        ew_result_clear(&res);
        CU_ASSERT_PTR_NULL(res.mem);
}

/* The kept details stay valid after the body buffer is gone. */
static void test_details_outlive_body(void)
{
        char *body = strdup("{\"engagementDetails\":[{\"status\":\"expose\","
                            "\"engagementId\":77}]}");
        ew_result_t res;

        classify_str(EW_API_V1_1, 201, body, &res);
        memset(body, 'x', strlen(body));
        free(body);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_ENGAGEMENT);
        CU_ASSERT_EQUAL(detail_int(&res, 0, "engagementId"), 77);
        ew_result_clear(&res);
}

static void test_error_messages(void)
{
        char       *big, *body;
        size_t      i, n = 5000;
        ew_result_t res;

        classify_str(EW_API_V1_1, 404, "{\"internalCode\":37}", &res);
        CHECK_STR(res.message, "HTTP 404: no message in body");
        CU_ASSERT_EQUAL(res.internal_code, 37);
        ew_result_clear(&res);

        classify_str(EW_API_V1_1, 400, "{\"message\":17}", &res);
        CHECK_STR(res.message, "HTTP 400: no message in body");
        ew_result_clear(&res);

        classify_str(EW_API_V1_1, 400, "{\"message\":\"\"}", &res);
        CHECK_STR(res.message, "HTTP 400: no message in body");
        ew_result_clear(&res);

        classify_file(EW_API_V1_1, 503, "503.html", &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_RETRYABLE);
        CU_ASSERT_TRUE(contains(res.message, "HTTP 503: body is not JSON"));
        CU_ASSERT_TRUE(contains(res.message, "'<html><head><title>503"));
        CU_ASSERT_TRUE(contains(res.message, "...'"));
        ew_result_clear(&res);

        /* A long message of 2-byte characters is cut on a boundary. */
        big = malloc(n * 2 + 1);
        for (i = 0; i < n; i++)
                memcpy(big + i * 2, "\xc3\xa9", 2);
        big[n * 2] = '\0';
        body       = malloc(n * 2 + 64);
        sprintf(body, "{\"message\":\"x%s\",\"internalCode\":5}", big);
        classify_str(EW_API_V1_1, 400, body, &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_REJECTED);
        CU_ASSERT_PTR_NOT_NULL_FATAL(res.message);
        CU_ASSERT_TRUE(strlen(res.message) <= EW_RESPONSE_MAX_MESSAGE);
        CU_ASSERT_TRUE(strlen(res.message) >= EW_RESPONSE_MAX_MESSAGE - 3);
        CU_ASSERT_TRUE(ew_utf8_valid(res.message, strlen(res.message)));
        CU_ASSERT_EQUAL(strncmp(res.message, body + 12, 200), 0);
        ew_result_clear(&res);
        free(big);
        free(body);
}

static void test_transport_error(void)
{
        char        big[4000];
        ew_result_t res;

        CU_ASSERT_EQUAL(ew_response_transport_error(
                            "Operation timed out after 10000 ms", &res),
                        EW_RESULT_RETRYABLE);
        CU_ASSERT_EQUAL(res.http_status, 0);
        CU_ASSERT_EQUAL(res.internal_code, -1);
        CHECK_STR(res.message, "Operation timed out after 10000 ms");
        CU_ASSERT_PTR_NULL(res.session_id);
        CU_ASSERT_PTR_NULL(res.engagement_details);
        ew_result_clear(&res);

        ew_response_transport_error(NULL, &res);
        CU_ASSERT_EQUAL(res.kind, EW_RESULT_RETRYABLE);
        CHECK_STR(res.message, "transport error");
        ew_result_clear(&res);

        memset(big, 'e', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        ew_response_transport_error(big, &res);
        CU_ASSERT_EQUAL(strlen(res.message), EW_RESPONSE_MAX_MESSAGE);
        ew_result_clear(&res);
}

static void test_result_clear(void)
{
        ew_result_t res, zero;

        memset(&zero, 0, sizeof(zero));
        ew_result_clear(NULL);
        classify_file(EW_API_V1_1, 200, "200-conversation.json", &res);
        ew_result_clear(&res);
        CU_ASSERT_EQUAL(memcmp(&res, &zero, sizeof(res)), 0);
        ew_result_clear(&res); /* twice is harmless */
        CU_ASSERT_EQUAL(memcmp(&res, &zero, sizeof(res)), 0);
}

static void test_kind_str(void)
{
        CHECK_STR(ew_result_kind_str(EW_RESULT_ENGAGEMENT), "engagement");
        CHECK_STR(ew_result_kind_str(EW_RESULT_CONVERSATION), "conversation");
        CHECK_STR(ew_result_kind_str(EW_RESULT_UNAVAILABLE), "unavailable");
        CHECK_STR(ew_result_kind_str(EW_RESULT_LOADING), "loading");
        CHECK_STR(ew_result_kind_str(EW_RESULT_RETRYABLE), "retryable");
        CHECK_STR(ew_result_kind_str(EW_RESULT_REJECTED), "rejected");
}

/* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date. */
#define T1994 ((int64_t)784111777 * 1000)
/* 2026-03-01T00:00:00Z, for two-digit years. */
#define T2026 ((int64_t)1772323200 * 1000)
#define DAY_MS EW_RETRY_AFTER_MAX_MS

static void test_retry_after(void)
{
        static const struct {
                const char *value;
                int64_t     now;
                int64_t     want;
        } rows[] = {
            /* delta-seconds */
            {"120", T1994, 120000},
            {"0", T1994, 0},
            {" 5 ", T1994, 5000},
            {"\t7", T1994, 7000},
            {"007", T1994, 7000},
            {"86400", T1994, DAY_MS},
            {"86401", T1994, DAY_MS},
            {"99999999999999999999999999", T1994, DAY_MS},
            {"-5", T1994, -1},
            {"+5", T1994, -1},
            {"1.5", T1994, -1},
            {"5s", T1994, -1},
            {"5 5", T1994, -1},
            {"", T1994, -1},
            {"   ", T1994, -1},
            {"0x10", T1994, -1},
            /* IMF-fixdate */
            {"Sun, 06 Nov 1994 08:51:37 GMT", T1994, 120000},
            {"Sun, 06 Nov 1994 08:49:37 GMT", T1994, 0},
            {"Sun, 06 Nov 1994 08:49:38 GMT", T1994 + 500, 500},
            {"Sat, 05 Nov 1994 08:51:37 GMT", T1994, 0},
            {"Thu, 01 Jan 1970 00:00:00 GMT", T1994, 0},
            {"Mon, 07 Nov 1994 08:49:37 GMT", T1994, DAY_MS},
            {"Fri, 31 Dec 9999 23:59:59 GMT", T1994, DAY_MS},
            {"sun, 06 nov 1994 08:51:37 gmt", T1994, 120000},
            {"Tue, 29 Feb 2000 00:00:10 GMT", (int64_t)951782400 * 1000, 10000},
            {"Sun, 06 Nov 1994 08:51:37 UTC", T1994, -1},
            {"Sun, 06 Nov 1994 08:51:37", T1994, -1},
            {"Sun, 06 Nov 1994 08:51:37 GMT x", T1994, -1},
            {"Sun,06 Nov 1994 08:51:37 GMT", T1994, -1},
            {"Sun, 6 Nov 1994 08:51:37 GMT", T1994, -1},
            {"Sun, 06 November 1994 08:51:37 GMT", T1994, -1},
            {"Sun, 06 Nov 94 08:51:37 GMT", T1994, -1},
            {"Sun, 31 Feb 1994 08:51:37 GMT", T1994, -1},
            {"Mon, 29 Feb 2100 08:51:37 GMT", T1994, -1},
            {"Sun, 00 Nov 1994 08:51:37 GMT", T1994, -1},
            {"Sun, 06 Nov 1994 24:00:00 GMT", T1994, -1},
            {"Sun, 06 Nov 1994 08:60:00 GMT", T1994, -1},
            {"Sun, 06 Nov 1994 8:51:37 GMT", T1994, -1},
            {"Sun, 06 Xyz 1994 08:51:37 GMT", T1994, -1},
            {"Funday, 06 Nov 1994 08:51:37 GMT", T1994, -1},
            /* rfc850-date */
            {"Sunday, 06-Nov-94 08:51:37 GMT", T1994, 120000},
            {"Sunday, 06-Nov-94 08:49:37 GMT", T1994, 0},
            {"Sunday, 06-Nov-1994 08:51:37 GMT", T1994, -1},
            {"Sun, 06-Nov-94 08:51:37 GMT", T1994, -1},
            {"Sunday, 06 Nov 94 08:51:37 GMT", T1994, -1},
            /* two-digit years: at most 50 years ahead, else the past */
            {"Sunday, 01-Mar-26 00:00:05 GMT", T2026, 5000},
            {"Sunday, 01-Mar-76 00:00:00 GMT", T2026, DAY_MS},
            {"Monday, 01-Mar-77 00:00:00 GMT", T2026, 0},
            {"Thursday, 01-Jan-70 00:00:00 GMT", T2026, DAY_MS},
            /* asctime-date */
            {"Sun Nov  6 08:51:37 1994", T1994, 120000},
            {"Sun Nov 06 08:51:37 1994", T1994, 120000},
            {"Wed Nov 16 08:49:37 1994", T1994, DAY_MS},
            {"Sun Nov 6 08:51:37 1994", T1994, -1},
            {"Sun Nov  6 08:51:37 1994 GMT", T1994, -1},
            {"Sun Nov  6 08:51:37 94", T1994, -1},
            /* garbage */
            {"soon", T1994, -1},
            {"Sun", T1994, -1},
            {"Sun,", T1994, -1},
            {"\xff\xfe", T1994, -1},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                int64_t got =
                    ew_response_retry_after_ms(rows[i].value, rows[i].now);
                if (got != rows[i].want) {
                        fprintf(stderr,
                                "Retry-After '%s': got %lld, want %lld\n",
                                rows[i].value, (long long)got,
                                (long long)rows[i].want);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_EQUAL(ew_response_retry_after_ms(NULL, T1994), -1);
}

static const ew_test_case_t doc_cases[] = {
    {"201_expose", test_doc_201_expose},
    {"200_conversation", test_doc_200_conversation},
    {"unavailable", test_doc_unavailable},
    {"loading_v10_500_20", test_doc_loading_v10},
    {"loading_v11_202_38", test_doc_loading_v11},
    {"response_code_table", test_response_code_table},
    {"retry_policy_table", test_retry_policy_table},
    {"internal_codes", test_internal_codes},
    {NULL, NULL},
};

static const ew_test_case_t classify_cases[] = {
    {"loading_cross_version", test_loading_cross_version},
    {"loading_any_202", test_loading_any_202},
    {"loading_vid_forms", test_loading_vid_forms},
    {"loading_vid_too_long", test_loading_vid_too_long},
    {"internal_code_forms", test_internal_code_forms},
    {"garbage_bodies", test_garbage_bodies},
    {"body_limits", test_body_limits},
    {"body_not_terminated", test_body_not_terminated},
    {"success_shapes", test_success_shapes},
    {"member_spellings", test_member_spellings},
    {"long_escaped_strings", test_long_escaped_strings},
    {"strict_json", test_strict_json},
    {"depth_limit", test_depth_limit},
    {"one_allocation", test_one_allocation},
    {"details_outlive_body", test_details_outlive_body},
    {"error_messages", test_error_messages},
    {"transport_error", test_transport_error},
    {"result_clear", test_result_clear},
    {"kind_str", test_kind_str},
    {NULL, NULL},
};

static const ew_test_case_t retry_after_cases[] = {
    {"formats", test_retry_after},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"doc", doc_cases},
    {"classify", classify_cases},
    {"retry_after", retry_after_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
