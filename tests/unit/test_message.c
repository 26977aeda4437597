/*
 * test_message - outcome values, dead-letter headers and JSON lines, and
 * message keys; every built value is parsed back and checked field by
 * field, and outcomes are checked against docs/schemas/outcome.schema.json.
 * Also ew_rfc3339_ms, which writes completedAt and failedAt (ew_util has no
 * test of its own).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "ew_message.h"
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

/* 2026-11-24T06:15:40.123Z */
#define COMPLETED_MS ((int64_t)1795500940 * 1000 + 123)
#define COMPLETED_STR "2026-11-24T06:15:40.123Z"

static const ew_source_t src = {"visitor-activity", 7, 123456789012LL};

static ew_result_kind_t classify_file(int status, const char *name,
                                      ew_result_t *res)
{
        char             path[256];
        size_t           len = 0;
        char            *body;
        ew_result_kind_t kind;

        snprintf(path, sizeof(path), "responses/%s", name);
        body = ew_test_read_file(ew_test_data(path), &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        kind = ew_response_classify(EW_API_V1_1, status, body, len, res);
        free(body);
        return kind;
}

/* Parses a built value back: it must be exactly len bytes of strict JSON
 * forming an object, and valid UTF-8. */
static json_object *parse_back(const char *s, size_t len)
{
        struct json_tokener *tok;
        json_object         *o;

        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(strlen(s), len);
        CU_ASSERT_TRUE(ew_utf8_valid(s, len));
        tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, s, (int)len + 1);
        CU_ASSERT_EQUAL(json_tokener_get_error(tok), json_tokener_success);
        json_tokener_free(tok);
        CU_ASSERT_FATAL(json_object_is_type(o, json_type_object));
        return o;
}

static const char *get_str(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* 1 if key is present with JSON null. */
static int is_null(json_object *o, const char *key)
{
        json_object *v = (json_object *)1;

        return json_object_object_get_ex(o, key, &v) && v == NULL;
}

static int has(json_object *o, const char *key)
{
        return json_object_object_get_ex(o, key, NULL);
}

static int64_t get_int(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_int))
                return -999;
        return json_object_get_int64(v);
}

/* The members every outcome has, checked against what went in. */
static void check_common(json_object *o, const char *outcome, int status,
                         int attempts)
{
        json_object *s;

        CHECK_STR(get_str(o, "eventId"), "ev-1");
        CHECK_STR(get_str(o, "accountId"), "12345678");
        CHECK_STR(get_str(o, "outcome"), outcome);
        CU_ASSERT_EQUAL(get_int(o, "httpStatus"), status);
        CU_ASSERT_EQUAL(get_int(o, "attempts"), attempts);
        CHECK_STR(get_str(o, "completedAt"), COMPLETED_STR);
        CU_ASSERT_FATAL(json_object_object_get_ex(o, "source", &s));
        CHECK_STR(get_str(s, "topic"), "visitor-activity");
        CU_ASSERT_EQUAL(get_int(s, "partition"), 7);
        CU_ASSERT_EQUAL(get_int(s, "offset"), 123456789012LL);
        CU_ASSERT_EQUAL(json_object_object_length(s), 3);
}

static json_object *build_outcome(const ew_result_t *res, int attempts)
{
        size_t len = 12345;
        char  *s   = ew_message_outcome("ev-1", "12345678", res, attempts, &src,
                                        COMPLETED_MS, &len);
        json_object *o;

        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        o = parse_back(s, len);
        free(s);
        return o;
}

static void test_outcome_engagement(void)
{
        json_object *o, *d, *e;
        ew_result_t  res;

        CU_ASSERT_EQUAL_FATAL(classify_file(201, "201-expose.json", &res),
                              EW_RESULT_ENGAGEMENT);
        o = build_outcome(&res, 2);
        check_common(o, "engagement", 201, 2);
        CHECK_STR(get_str(o, "visitorId"), "xyz");
        CHECK_STR(get_str(o, "sessionId"), "abc");
        CHECK_STR(get_str(o, "pageId"), "595933432");
        CU_ASSERT_FALSE(has(o, "conversationId"));
        CU_ASSERT_FATAL(json_object_object_get_ex(o, "engagementDetails", &d));
        CU_ASSERT_FATAL(json_object_is_type(d, json_type_array));
        CU_ASSERT_EQUAL(json_object_array_length(d), 1);
        e = json_object_array_get_idx(d, 0);
        /* Passed through as the API returned it. */
        CU_ASSERT_EQUAL(get_int(e, "campaignId"), 880524023);
        CU_ASSERT_EQUAL(get_int(e, "engagementId"), 880524123);
        CU_ASSERT_EQUAL(get_int(e, "engagementRevision"), 21);
        CHECK_STR(get_str(e, "contextId"), "1");
        CU_ASSERT_EQUAL(get_int(e, "connectorId"), 2642324112LL);
        CHECK_STR(get_str(e, "status"), "expose");
        CU_ASSERT_EQUAL(json_object_object_length(e), 6);
        CU_ASSERT_EQUAL(json_object_object_length(o), 11);
        json_object_put(o);
        ew_result_clear(&res);
}

static void test_outcome_conversation(void)
{
        json_object *o, *d;
        ew_result_t  res;

        CU_ASSERT_EQUAL_FATAL(classify_file(200, "200-conversation.json", &res),
                              EW_RESULT_CONVERSATION);
        o = build_outcome(&res, 1);
        check_common(o, "conversation", 200, 1);
        CHECK_STR(get_str(o, "conversationId"), "fdasfdas");
        CHECK_STR(get_str(o, "pageId"), "2095636278");
        CHECK_STR(get_str(o, "visitorId"), "xyz");
        CHECK_STR(get_str(o, "sessionId"), "abc");
        CU_ASSERT_FATAL(json_object_object_get_ex(o, "engagementDetails", &d));
        CHECK_STR(get_str(json_object_array_get_idx(d, 0), "conversationId"),
                  "fdasfdas");
        CU_ASSERT_EQUAL(json_object_object_length(o), 12);
        json_object_put(o);
        ew_result_clear(&res);
}

static void test_outcome_unavailable(void)
{
        static const char closed[] =
            "{\"engagementDetails\":[{\"status\":\"closed\",\"n\":1}]}";
        json_object *o, *d;
        ew_result_t  res;

        CU_ASSERT_EQUAL_FATAL(classify_file(200, "200-unavailable.json", &res),
                              EW_RESULT_UNAVAILABLE);
        o = build_outcome(&res, 5);
        check_common(o, "unavailable", 200, 5);
        CHECK_STR(get_str(o, "pageId"), "4743822558");
        CHECK_STR(get_str(o, "visitorId"), "xyz");
        CHECK_STR(get_str(o, "sessionId"), "abc");
        CU_ASSERT_FALSE(has(o, "engagementDetails"));
        CU_ASSERT_FALSE(has(o, "conversationId"));
        CU_ASSERT_EQUAL(json_object_object_length(o), 10);
        json_object_put(o);
        ew_result_clear(&res);

        /* Entries of unknown status are kept, though none counted. */
        ew_response_classify(EW_API_V1_1, 201, closed, sizeof(closed) - 1,
                             &res);
        CU_ASSERT_EQUAL_FATAL(res.kind, EW_RESULT_UNAVAILABLE);
        o = build_outcome(&res, 1);
        check_common(o, "unavailable", 201, 1);
        CU_ASSERT_FATAL(json_object_object_get_ex(o, "engagementDetails", &d));
        CHECK_STR(get_str(json_object_array_get_idx(d, 0), "status"), "closed");
        /* ids the answer lacked are null, not missing */
        CU_ASSERT_TRUE(is_null(o, "visitorId"));
        CU_ASSERT_TRUE(is_null(o, "sessionId"));
        CU_ASSERT_TRUE(is_null(o, "pageId"));
        json_object_put(o);
        ew_result_clear(&res);
}

/* Hand-made results: nulls, and strings that need escaping. */
static void test_outcome_escaping(void)
{
        static const char odd[] = "q\"b\\s/c\x01\x1f\n\r\t\b\f\x7f"
                                  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
        ew_result_t       res;
        json_object      *o;
        char             *s;
        size_t            len;

        memset(&res, 0, sizeof(res));
        res.kind            = EW_RESULT_CONVERSATION;
        res.http_status     = 200;
        res.internal_code   = -1;
        res.visitor_id      = (char *)odd;
        res.session_id      = (char *)"bad\xff\xc3(utf8";
        res.conversation_id = NULL;
        o                   = build_outcome(&res, 1);
        CHECK_STR(get_str(o, "visitorId"), odd);
        CHECK_STR(get_str(o, "sessionId"), "bad\xef\xbf\xbd\xef\xbf\xbd(utf8");
        CU_ASSERT_TRUE(is_null(o, "pageId"));
        CU_ASSERT_TRUE(is_null(o, "conversationId"));
        CU_ASSERT_FALSE(has(o, "engagementDetails"));
        json_object_put(o);

        /* Escapes are the short ones where JSON has them. */
        s = ew_message_outcome("e\"1", "a", &res, 1, &src, 0, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"eventId\":\"e\\\"1\""));
        CU_ASSERT_PTR_NOT_NULL(strstr(s, "\\n\\r\\t\\b\\f\x7f"));
        CU_ASSERT_PTR_NOT_NULL(strstr(s, "c\\u0001\\u001f"));
        CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"completedAt\":\"1970-01-01T00:00:"
                                         "00.000Z\""));
        free(s);
}

/* Numbers in engagementDetails travel as the API wrote them; number forms
 * outside RFC 8259 (which json-c used to accept) make the answer
 * unparseable, so they never reach an outcome. */
static void test_outcome_number_texts(void)
{
        static const char body[] =
            "{\"engagementDetails\":[{\"status\":\"expose\","
            "\"c\":1.25e2,\"d\":-0.5,\"e\":-0,\"f\":1E+2,\"g\":0.000001,"
            "\"h\":12345678901234567890123}]}";
        static const char *const odd[] = {"01.5", "1.",  ".5",        "+1",
                                          "0x10", "NaN", "-Infinity", "1e"};
        ew_result_t              res;
        json_object             *o;
        size_t                   len, i;
        char                    *s, odd_body[128];
        int                      failures = 0;

        ew_response_classify(EW_API_V1_1, 201, body, sizeof(body) - 1, &res);
        CU_ASSERT_EQUAL_FATAL(res.kind, EW_RESULT_ENGAGEMENT);
        s = ew_message_outcome("e", "a", &res, 1, &src, 0, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_PTR_NOT_NULL(
            strstr(s, "\"c\":1.25e2,\"d\":-0.5,\"e\":-0,\"f\":1E+2,"
                      "\"g\":0.000001,\"h\":12345678901234567890123}"));
        o = parse_back(s, len);
        json_object_put(o);
        free(s);
        ew_result_clear(&res);

        for (i = 0; i < EW_ARRAY_SIZE(odd); i++) {
                snprintf(odd_body, sizeof(odd_body),
                         "{\"engagementDetails\":[{\"status\":\"expose\","
                         "\"a\":%s}]}",
                         odd[i]);
                ew_response_classify(EW_API_V1_1, 201, odd_body,
                                     strlen(odd_body), &res);
                if (res.kind != EW_RESULT_RETRYABLE || !res.message ||
                    !strstr(res.message, "body is not JSON") ||
                    res.engagement_details ||
                    ew_message_outcome("e", "a", &res, 1, &src, 0, &len)) {
                        fprintf(stderr, "number %s: %s '%s'\n", odd[i],
                                ew_result_kind_str(res.kind),
                                res.message ? res.message : "(null)");
                        failures++;
                }
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* engagementDetails are copied as the API wrote them, less the white
 * space between tokens (an outcome is one line without white space). */
static void test_outcome_details_text(void)
{
        static const struct {
                const char *body;
                const char *details; /* exactly as in the outcome */
        } rows[] = {
            {"{\"engagementDetails\":[{\"status\":\"expose\",\"n\":1}]}",
             "[{\"status\":\"expose\",\"n\":1}]"},
            {"{\"engagementDetails\" : [ {\"status\" :\t\"expose\" ,\r\n"
             "  \"name\": \"a b \\u00e9\\\" \\\\\" , \"x\" : [ 1 , [ ] , { } ] "
             "} ] }",
             "[{\"status\":\"expose\",\"name\":\"a b \\u00e9\\\" \\\\\","
             "\"x\":[1,[],{}]}]"},
            /* a single object becomes a one-entry array */
            {"{\"engagementDetails\":{\"status\":\"expose\"}}",
             "[{\"status\":\"expose\"}]"},
            {"{\"engagementDetails\": { \"status\": \"expose\" } }",
             "[{\"status\":\"expose\"}]"},
            /* entries of unknown status are kept as well */
            {"{\"engagementDetails\":[{\"status\":\"closed\"},\n7,null]}",
             "[{\"status\":\"closed\"},7,null]"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                char        want[256];
                ew_result_t res;
                size_t      len = 0;
                char       *s;

                snprintf(want, sizeof(want), ",\"engagementDetails\":%s,",
                         rows[i].details);
                ew_response_classify(EW_API_V1_1, 200, rows[i].body,
                                     strlen(rows[i].body), &res);
                s = ew_message_outcome("e", "a", &res, 1, &src, 0, &len);
                if (!s || !strstr(s, want) ||
                    res.engagement_details_len != strlen(rows[i].details)) {
                        fprintf(stderr, "details row %zu: %s\n", i,
                                s ? s : "(null)");
                        failures++;
                }
                if (s)
                        json_object_put(parse_back(s, len));
                free(s);
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* The doc's answer as a file has line breaks and indentation; the
 * outcome has none. */
static void test_outcome_one_line(void)
{
        ew_result_t res;
        size_t      len;
        char       *s;

        CU_ASSERT_EQUAL_FATAL(classify_file(201, "201-expose.json", &res),
                              EW_RESULT_ENGAGEMENT);
        s = ew_message_outcome("e", "a", &res, 1, &src, 0, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_PTR_NULL(strpbrk(s, " \t\r\n"));
        CU_ASSERT_PTR_NOT_NULL(
            strstr(s, "\"engagementDetails\":[{\"campaignId\":880524023,"
                      "\"engagementId\":880524123,\"engagementRevision\":21,"
                      "\"contextId\":\"1\",\"connectorId\":2642324112,"
                      "\"status\":\"expose\"}],"));
        free(s);
        ew_result_clear(&res);
}

static void test_outcome_refused(void)
{
        static const ew_result_kind_t kinds[] = {
            EW_RESULT_LOADING, EW_RESULT_RETRYABLE, EW_RESULT_REJECTED};
        ew_result_t res;
        size_t      i, len;

        memset(&res, 0, sizeof(res));
        for (i = 0; i < EW_ARRAY_SIZE(kinds); i++) {
                res.kind = kinds[i];
                len      = 99;
                CU_ASSERT_PTR_NULL(
                    ew_message_outcome("e", "a", &res, 1, &src, 0, &len));
                CU_ASSERT_EQUAL(len, 0);
        }
        res.kind = EW_RESULT_UNAVAILABLE;
        CU_ASSERT_PTR_NULL(
            ew_message_outcome(NULL, "a", &res, 1, &src, 0, &len));
        CU_ASSERT_PTR_NULL(
            ew_message_outcome("e", NULL, &res, 1, &src, 0, &len));
        CU_ASSERT_PTR_NULL(
            ew_message_outcome("e", "a", NULL, 1, &src, 0, &len));
        CU_ASSERT_PTR_NULL(
            ew_message_outcome("e", "a", &res, 1, NULL, 0, &len));
        /* and lenp may be NULL */
        {
                char *s = ew_message_outcome("e", "a", &res, 1, &src, 0, NULL);
                CU_ASSERT_PTR_NOT_NULL(s);
                free(s);
        }
}

/*
 * Schema check: docs/schemas/outcome.schema.json, read with json-c.
 */

static json_object *load_schema(const char *name)
{
        const char  *dir = getenv("EW_SOURCE_DIR");
        char         path[4096];
        json_object *schema;

        snprintf(path, sizeof(path), "%s/docs/schemas/%s", dir ? dir : ".",
                 name);
        schema = json_object_from_file(path);
        if (!schema)
                fprintf(stderr, "cannot read %s (set EW_SOURCE_DIR)\n", path);
        return schema;
}

/* Does v have the JSON Schema type t ("string", "integer", ...)? */
static int type_is(json_object *v, const char *t)
{
        switch (json_object_get_type(v)) {
        case json_type_null:
                return !strcmp(t, "null");
        case json_type_boolean:
                return !strcmp(t, "boolean");
        case json_type_int:
                return !strcmp(t, "integer") || !strcmp(t, "number");
        case json_type_double:
                return !strcmp(t, "number");
        case json_type_string:
                return !strcmp(t, "string");
        case json_type_array:
                return !strcmp(t, "array");
        case json_type_object:
                return !strcmp(t, "object");
        }
        return 0;
}

/* Checks obj against one object schema: every required member present,
 * every member declared (additionalProperties is false in ours), each
 * member's "type" and "enum" honoured; recurses into object members.
 * Returns the number of violations, printed. */
static int schema_check(json_object *schema, json_object *obj,
                        const char *where)
{
        json_object *req, *props, *ps, *t, *en;
        int          bad = 0;
        size_t       i;

        if (!json_object_object_get_ex(schema, "required", &req) ||
            !json_object_object_get_ex(schema, "properties", &props)) {
                fprintf(stderr, "%s: schema lacks required/properties\n",
                        where);
                return 1;
        }
        for (i = 0; i < json_object_array_length(req); i++) {
                const char *k =
                    json_object_get_string(json_object_array_get_idx(req, i));
                if (!has(obj, k)) {
                        fprintf(stderr, "%s: required '%s' missing\n", where,
                                k);
                        bad++;
                }
        }
        json_object_object_foreach(obj, key, val)
        {
                int ok = 0;

                if (!json_object_object_get_ex(props, key, &ps)) {
                        fprintf(stderr, "%s: '%s' not in the schema\n", where,
                                key);
                        bad++;
                        continue;
                }
                if (json_object_object_get_ex(ps, "type", &t)) {
                        if (json_object_is_type(t, json_type_string))
                                ok = type_is(val, json_object_get_string(t));
                        for (i = 0; json_object_is_type(t, json_type_array) &&
                                    i < json_object_array_length(t);
                             i++)
                                ok |= type_is(
                                    val, json_object_get_string(
                                             json_object_array_get_idx(t, i)));
                        if (!ok) {
                                fprintf(stderr, "%s: '%s' has the wrong type\n",
                                        where, key);
                                bad++;
                        }
                }
                if (json_object_object_get_ex(ps, "enum", &en)) {
                        ok = 0;
                        for (i = 0; i < json_object_array_length(en); i++)
                                ok |= json_object_equal(
                                    val, json_object_array_get_idx(en, i));
                        if (!ok) {
                                fprintf(stderr, "%s: '%s' not in its enum\n",
                                        where, key);
                                bad++;
                        }
                }
                if (json_object_is_type(val, json_type_object))
                        bad += schema_check(ps, val, key);
        }
        return bad;
}

/* Required properties as a set, compared with an outcome's members. */
static int same_keys_as_required(json_object *schema, json_object *o)
{
        json_object *req;
        size_t       i, n;

        if (!json_object_object_get_ex(schema, "required", &req))
                return 0;
        n = json_object_array_length(req);
        if ((size_t)json_object_object_length(o) != n)
                return 0;
        for (i = 0; i < n; i++)
                if (!has(o, json_object_get_string(
                                json_object_array_get_idx(req, i))))
                        return 0;
        return 1;
}

static void test_outcome_schema(void)
{
        static const struct {
                int         status;
                const char *fixture;
                const char *conditional; /* required for this outcome */
        } rows[] = {
            {201, "201-expose.json", "engagementDetails"},
            {200, "200-conversation.json", "conversationId"},
            {200, "200-unavailable.json", NULL},
        };
        json_object *schema = load_schema("outcome.schema.json");
        int          bad    = 0;
        size_t       i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                ew_result_t  res;
                json_object *o;

                classify_file(rows[i].status, rows[i].fixture, &res);
                o = build_outcome(&res, 1);
                bad += schema_check(schema, o, rows[i].fixture);
                if (rows[i].conditional && !has(o, rows[i].conditional)) {
                        fprintf(stderr, "%s: lacks %s\n", rows[i].fixture,
                                rows[i].conditional);
                        bad++;
                }
                /* The unavailable outcome is exactly the required set. */
                if (!rows[i].conditional && !same_keys_as_required(schema, o)) {
                        fprintf(stderr, "%s: members differ from required\n",
                                rows[i].fixture);
                        bad++;
                }
                json_object_put(o);
                ew_result_clear(&res);
        }
        CU_ASSERT_EQUAL(bad, 0);
        json_object_put(schema);
}

/* The event schema parses and says what ew_event.h says is required. */
static void test_event_schema(void)
{
        json_object             *schema = load_schema("event.schema.json");
        json_object             *props, *any;
        static const char *const fields[] = {
            "eventId",           "accountId",
            "appInstallationId", "visitorId",
            "sessionId",         "consumerId",
            "identities",        "clientProperties",
            "entryPoints",       "engagementAttributes"};
        size_t i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
        CU_ASSERT_FATAL(
            json_object_object_get_ex(schema, "properties", &props));
        for (i = 0; i < EW_ARRAY_SIZE(fields); i++)
                CU_ASSERT_TRUE(has(props, fields[i]));
        CU_ASSERT_EQUAL(json_object_object_length(props),
                        (int)EW_ARRAY_SIZE(fields));
        /* at least one of identities, consumerId, visitorId */
        CU_ASSERT_TRUE(json_object_object_get_ex(schema, "anyOf", &any));
        CU_ASSERT_EQUAL(json_object_array_length(any), 3);
        json_object_put(schema);
}

/*
 * Dead letters.
 */

static const char *hdr_last(rd_kafka_headers_t *hdrs, const char *name,
                            char *buf, size_t size)
{
        const void *v;
        size_t      len;

        if (rd_kafka_header_get_last(hdrs, name, &v, &len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
                return NULL;
        if (len >= size)
                len = size - 1;
        memcpy(buf, v, len);
        buf[len] = '\0';
        return buf;
}

static int hdr_count(rd_kafka_headers_t *hdrs, const char *name)
{
        const void *v;
        size_t      len;
        int         n = 0;

        while (rd_kafka_header_get(hdrs, (size_t)n, name, &v, &len) ==
               RD_KAFKA_RESP_ERR_NO_ERROR)
                n++;
        return n;
}

static void test_dead_letter_headers(void)
{
        static const struct {
                ew_dead_kind_t kind;
                int            http_status;
                int            internal_code;
                int            attempts;
                const char    *kind_str, *status_str, *code_str, *attempts_str;
        } rows[] = {
            {EW_DEAD_INVALID_EVENT, 0, -1, 0, "invalid_event", NULL, NULL, "0"},
            {EW_DEAD_REJECTED, 400, 5, 1, "rejected", "400", "5", "1"},
            {EW_DEAD_REJECTED, 404, -1, 1, "rejected", "404", NULL, "1"},
            {EW_DEAD_RETRIES_EXHAUSTED, 503, -1, 5, "retries_exhausted", "503",
             NULL, "5"},
            {EW_DEAD_RETRIES_EXHAUSTED, 500, 0, 5, "retries_exhausted", "500",
             "0", "5"},
            {EW_DEAD_RETRIES_EXHAUSTED, 0, -1, 5, "retries_exhausted", NULL,
             NULL, "5"},
            {EW_DEAD_RETRIES_EXHAUSTED, 202, 38, 5, "retries_exhausted", "202",
             "38", "5"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
                ew_dead_letter_t    dl;
                char                b[256];
                size_t want_cnt = 2 + 8 + (rows[i].status_str != NULL) +
                                  (rows[i].code_str != NULL);

                /* The input's own headers, one of them a stale failure. */
                rd_kafka_header_add(hdrs, "traceparent", -1, "00-abc", -1);
                rd_kafka_header_add(hdrs, "error.kind", -1, "stale", -1);

                memset(&dl, 0, sizeof(dl));
                dl.kind          = rows[i].kind;
                dl.message       = "consumerId";
                dl.http_status   = rows[i].http_status;
                dl.internal_code = rows[i].internal_code;
                dl.attempts      = rows[i].attempts;
                dl.source        = src;
                dl.event_id      = "ev-9";
                dl.failed_at_ms  = COMPLETED_MS;
                CU_ASSERT_EQUAL(ew_message_dead_letter_headers(&dl, hdrs), 0);

#define HDR_IS(name, want)                                                     \
        ((want) ? (hdr_last(hdrs, name, b, sizeof(b)) &&                       \
                   !strcmp(b, (want) ? (want) : ""))                           \
                : hdr_last(hdrs, name, b, sizeof(b)) == NULL)
                if (!HDR_IS("error.kind", rows[i].kind_str) ||
                    !HDR_IS("error.message", "consumerId") ||
                    !HDR_IS("error.httpStatus", rows[i].status_str) ||
                    !HDR_IS("error.internalCode", rows[i].code_str) ||
                    !HDR_IS("error.attempts", rows[i].attempts_str) ||
                    !HDR_IS("source.topic", "visitor-activity") ||
                    !HDR_IS("source.partition", "7") ||
                    !HDR_IS("source.offset", "123456789012") ||
                    !HDR_IS("eventId", "ev-9") ||
                    !HDR_IS("failedAt", COMPLETED_STR) ||
                    !HDR_IS("traceparent", "00-abc") ||
                    hdr_count(hdrs, "error.kind") != 2 ||
                    rd_kafka_header_cnt(hdrs) != want_cnt) {
                        fprintf(stderr, "dead-letter header row %zu wrong\n",
                                i);
                        failures++;
                }
#undef HDR_IS
                rd_kafka_headers_destroy(hdrs);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_dead_letter_headers_edges(void)
{
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
        ew_dead_letter_t    dl;
        char                b[64];

        memset(&dl, 0, sizeof(dl));
        dl.kind          = EW_DEAD_INVALID_EVENT;
        dl.internal_code = -1;
        CU_ASSERT_EQUAL(ew_message_dead_letter_headers(NULL, hdrs), -1);
        CU_ASSERT_EQUAL(ew_message_dead_letter_headers(&dl, NULL), -1);
        CU_ASSERT_EQUAL(rd_kafka_header_cnt(hdrs), 0);
        /* Missing strings become empty values, not a crash. */
        CU_ASSERT_EQUAL(ew_message_dead_letter_headers(&dl, hdrs), 0);
        CHECK_STR(hdr_last(hdrs, "error.message", b, sizeof(b)), "");
        CHECK_STR(hdr_last(hdrs, "eventId", b, sizeof(b)), "");
        CHECK_STR(hdr_last(hdrs, "failedAt", b, sizeof(b)),
                  "1970-01-01T00:00:00.000Z");
        rd_kafka_headers_destroy(hdrs);
}

static void test_dead_kind_str(void)
{
        CHECK_STR(ew_dead_kind_str(EW_DEAD_INVALID_EVENT), "invalid_event");
        CHECK_STR(ew_dead_kind_str(EW_DEAD_REJECTED), "rejected");
        CHECK_STR(ew_dead_kind_str(EW_DEAD_RETRIES_EXHAUSTED),
                  "retries_exhausted");
}

static json_object *build_dl_json(const ew_dead_letter_t *dl, const char *value,
                                  size_t value_len)
{
        size_t len = 777;
        char  *s   = ew_message_dead_letter_json(dl, value, value_len, &len);
        json_object *o;

        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        o = parse_back(s, len);
        free(s);
        return o;
}

static void test_dead_letter_json(void)
{
        static const char value[] = "{\"consumerId\":\"x\",\"identities\":3}";
        ew_dead_letter_t  dl;
        json_object      *o;

        memset(&dl, 0, sizeof(dl));
        dl.kind          = EW_DEAD_REJECTED;
        dl.message       = "consumerId";
        dl.http_status   = 400;
        dl.internal_code = 5;
        dl.attempts      = 1;
        dl.source        = src;
        dl.event_id      = "ev-9";
        dl.failed_at_ms  = COMPLETED_MS;
        o                = build_dl_json(&dl, value, sizeof(value) - 1);
        CHECK_STR(get_str(o, "error.kind"), "rejected");
        CHECK_STR(get_str(o, "error.message"), "consumerId");
        CU_ASSERT_EQUAL(get_int(o, "error.httpStatus"), 400);
        CU_ASSERT_EQUAL(get_int(o, "error.internalCode"), 5);
        CU_ASSERT_EQUAL(get_int(o, "error.attempts"), 1);
        CHECK_STR(get_str(o, "source.topic"), "visitor-activity");
        CU_ASSERT_EQUAL(get_int(o, "source.partition"), 7);
        CU_ASSERT_EQUAL(get_int(o, "source.offset"), 123456789012LL);
        CHECK_STR(get_str(o, "eventId"), "ev-9");
        CHECK_STR(get_str(o, "failedAt"), COMPLETED_STR);
        CHECK_STR(get_str(o, "event"), value);
        CU_ASSERT_EQUAL(json_object_object_length(o), 11);
        json_object_put(o);

        /* No status or code: both keys left out; tombstone: event null. */
        dl.kind          = EW_DEAD_RETRIES_EXHAUSTED;
        dl.http_status   = 0;
        dl.internal_code = -1;
        dl.attempts      = 5;
        dl.message       = "Operation timed out after 10000 ms";
        o                = build_dl_json(&dl, NULL, 0);
        CHECK_STR(get_str(o, "error.kind"), "retries_exhausted");
        CU_ASSERT_FALSE(has(o, "error.httpStatus"));
        CU_ASSERT_FALSE(has(o, "error.internalCode"));
        CU_ASSERT_EQUAL(get_int(o, "error.attempts"), 5);
        CU_ASSERT_TRUE(is_null(o, "event"));
        CU_ASSERT_EQUAL(json_object_object_length(o), 9);
        json_object_put(o);

        /* internalCode 0 is a code. */
        dl.internal_code = 0;
        o                = build_dl_json(&dl, "x", 1);
        CU_ASSERT_EQUAL(get_int(o, "error.internalCode"), 0);
        CU_ASSERT_FALSE(has(o, "error.httpStatus"));
        json_object_put(o);

        /* An empty value is an empty string. */
        o = build_dl_json(&dl, "", 0);
        CHECK_STR(get_str(o, "event"), "");
        json_object_put(o);

        CU_ASSERT_PTR_NULL(ew_message_dead_letter_json(NULL, "x", 1, NULL));
}

/* Invalid UTF-8 in the event: each maximal ill-formed subpart becomes one
 * U+FFFD (Unicode 15 section 3.9, "U+FFFD Substitution of Maximal
 * Subparts"); valid characters, NUL and control bytes survive. */
static void test_dead_letter_json_utf8(void)
{
        static const struct {
                const char *in;
                size_t      in_len;
                const char *out;
                size_t      out_len;
        } rows[] = {
#define R(in, out) {in, sizeof(in) - 1, out, sizeof(out) - 1}
#define FFFD "\xef\xbf\xbd"
            R("plain", "plain"),
            R("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
            R("a\xff"
              "b",
              "a" FFFD "b"),
            R("\xfe\xff", FFFD FFFD),
            R("\x80", FFFD),
            R("\xc3", FFFD),
            R("\xc3"
              "x",
              FFFD "x"),
            R("\xe2\x82", FFFD),
            R("\xe2\x82"
              "x",
              FFFD "x"),
            R("\xf0\x9f\x98", FFFD),
            R("\xf0\x9f\x98"
              "\xf0\x9f\x98\x80",
              FFFD "\xf0\x9f\x98\x80"),
            R("\xc0\xaf", FFFD FFFD),
            R("\xc1\xbf", FFFD FFFD),
            R("\xe0\x80\xaf", FFFD FFFD FFFD),
            R("\xed\xa0\x80", FFFD FFFD FFFD),
            R("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD),
            R("\xf5\x80", FFFD FFFD),
            R("\xed\x9f\xbf", "\xed\x9f\xbf"),
            R("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
            R("{\"a\":\"\x00\x01\"}", "{\"a\":\"\x00\x01\"}"),
#undef R
#undef FFFD
        };
        ew_dead_letter_t dl;
        int              failures = 0;
        size_t           i;

        memset(&dl, 0, sizeof(dl));
        dl.kind          = EW_DEAD_INVALID_EVENT;
        dl.message       = "value is not valid UTF-8";
        dl.internal_code = -1;
        dl.source        = src;
        dl.event_id      = "visitor-activity:7:123456789012";
        for (i = 0; i < EW_ARRAY_SIZE(rows); i++) {
                json_object *o = build_dl_json(&dl, rows[i].in, rows[i].in_len);
                json_object *ev;

                if (!json_object_object_get_ex(o, "event", &ev) ||
                    (size_t)json_object_get_string_len(ev) != rows[i].out_len ||
                    memcmp(json_object_get_string(ev), rows[i].out,
                           rows[i].out_len) != 0) {
                        fprintf(stderr, "utf8 row %zu wrong\n", i);
                        failures++;
                }
                json_object_put(o);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* A large value whose every byte needs the longest escape. */
static void test_dead_letter_json_large(void)
{
        size_t           n     = 256 * 1024, len;
        char            *value = malloc(n);
        ew_dead_letter_t dl;
        json_object     *o, *ev;
        char            *s;

        memset(value, '\x01', n);
        memset(&dl, 0, sizeof(dl));
        dl.kind          = EW_DEAD_INVALID_EVENT;
        dl.message       = "value is 262144 bytes, over the limit of 65536";
        dl.internal_code = -1;
        dl.source        = src;
        dl.event_id      = "x";
        s                = ew_message_dead_letter_json(&dl, value, n, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_TRUE(len > 6 * n);
        o = parse_back(s, len);
        CU_ASSERT_TRUE(json_object_object_get_ex(o, "event", &ev));
        CU_ASSERT_EQUAL((size_t)json_object_get_string_len(ev), n);
        CU_ASSERT_EQUAL(memcmp(json_object_get_string(ev), value, n), 0);
        json_object_put(o);
        free(s);
        free(value);
}

/*
 * Keys: the input key wins; else the first identity's sub, else
 * consumerId, else visitorId; else none. Events built by hand.
 */
static void test_message_key(void)
{
        ew_event_t  ev;
        const void *k;
        size_t      len;

        memset(&ev, 0, sizeof(ev));
        ev.first_sub   = "sub-1"; /* the first identity's sub */
        ev.consumer_id = "consumer-1";
        ev.visitor_id  = "visitor-1";

        k = ew_message_key("input", 5, &ev, &len);
        CU_ASSERT_EQUAL(len, 5);
        CU_ASSERT_EQUAL(memcmp(k, "input", 5), 0);
        /* binary keys are returned as they are */
        k = ew_message_key("\x00\xff\x01", 3, &ev, &len);
        CU_ASSERT_EQUAL(len, 3);
        CU_ASSERT_EQUAL(memcmp(k, "\x00\xff\x01", 3), 0);
        /* the input key wins even without an event */
        k = ew_message_key("input", 5, NULL, &len);
        CU_ASSERT_EQUAL(len, 5);

        k = ew_message_key(NULL, 0, &ev, &len);
        CU_ASSERT_EQUAL(len, 5);
        CU_ASSERT_EQUAL(memcmp(k, "sub-1", 5), 0);
        /* an empty input key counts as none */
        k = ew_message_key("", 0, &ev, &len);
        CU_ASSERT_EQUAL(len, 5);
        CU_ASSERT_EQUAL(memcmp(k, "sub-1", 5), 0);

        ev.first_sub = NULL;
        k            = ew_message_key(NULL, 0, &ev, &len);
        CU_ASSERT_EQUAL(len, 10);
        CU_ASSERT_EQUAL(memcmp(k, "consumer-1", 10), 0);

        ev.consumer_id = NULL;
        k              = ew_message_key(NULL, 0, &ev, &len);
        CU_ASSERT_EQUAL(len, 9);
        CU_ASSERT_EQUAL(memcmp(k, "visitor-1", 9), 0);

        ev.visitor_id = NULL;
        len           = 42;
        CU_ASSERT_PTR_NULL(ew_message_key(NULL, 0, &ev, &len));
        CU_ASSERT_EQUAL(len, 0);
        len = 42;
        CU_ASSERT_PTR_NULL(ew_message_key(NULL, 0, NULL, &len));
        CU_ASSERT_EQUAL(len, 0);
}

/*
 * ew_rfc3339_ms, which writes completedAt and failedAt: it keeps the last
 * second it formatted per thread, so it is compared, call by call, with
 * formatting from scratch (gmtime_r + snprintf) across second, day, month
 * and year boundaries, forwards and backwards.
 */

/* Room for any struct tm snprintf could be handed. */
#define REF_SIZE 80

static void rfc3339_ref(int64_t ms, char buf[REF_SIZE])
{
        int64_t   secs = ms / 1000, frac = ms % 1000;
        time_t    t;
        struct tm tm;

        if (frac < 0) {
                frac += 1000;
                secs--;
        }
        t = (time_t)secs;
        gmtime_r(&t, &tm);
        snprintf(buf, REF_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)frac);
}

/* Compares one call with the reference; returns 1 on a difference. */
static int rfc3339_differs(int64_t ms)
{
        char  got[EW_RFC3339_SIZE], want[REF_SIZE];
        char *r;

        memset(got, 'x', sizeof(got));
        r = ew_rfc3339_ms(ms, got, sizeof(got));
        rfc3339_ref(ms, want);
        if (r != got || strcmp(got, want) != 0) {
                fprintf(stderr, "rfc3339 %lld: got '%.32s', want '%s'\n",
                        (long long)ms, got, want);
                return 1;
        }
        return 0;
}

static void test_rfc3339_boundaries(void)
{
        static const int64_t edges[] = {
            COMPLETED_MS - 123 + 1000,    /* a second: 06:15:41.000 */
            (int64_t)1795564800 * 1000,   /* a day: 2026-11-25T00:00 */
            (int64_t)1796083200 * 1000,   /* a month: 2026-12-01T00:00 */
            (int64_t)1798761600 * 1000,   /* a year: 2027-01-01T00:00 */
            (int64_t)1835395200 * 1000,   /* a leap day: 2028-02-29T00:00 */
            (int64_t)951782400 * 1000,    /* 2000-02-29T00:00 */
            0,                            /* the epoch */
            (int64_t)253402300800 * 1000, /* year 10000 */
        };
        int     failures = 0;
        size_t  i;
        int64_t ms;

        for (i = 0; i < EW_ARRAY_SIZE(edges); i++) {
                /* forwards across the edge, in steps that hit every
                 * millisecond digit position, then backwards */
                for (ms = edges[i] - 2003; ms <= edges[i] + 2003; ms += 7)
                        failures += rfc3339_differs(ms);
                for (ms = edges[i] + 2003; ms >= edges[i] - 2003; ms -= 13)
                        failures += rfc3339_differs(ms);
                /* the last millisecond before and the first after, in
                 * turn: the cached second changes on every call */
                failures += rfc3339_differs(edges[i] - 1);
                failures += rfc3339_differs(edges[i]);
                failures += rfc3339_differs(edges[i] - 1);
                failures += rfc3339_differs(edges[i] + 999);
                failures += rfc3339_differs(edges[i] + 1000);
        }
        /* A day apart, same time of day: only the date differs. */
        failures += rfc3339_differs(COMPLETED_MS);
        failures += rfc3339_differs(COMPLETED_MS + 86400000);
        failures += rfc3339_differs(COMPLETED_MS + 86400000 * 365LL);
        failures += rfc3339_differs(COMPLETED_MS);
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_rfc3339_known(void)
{
        char buf[EW_RFC3339_SIZE], small[12];

        CHECK_STR(ew_rfc3339_ms(COMPLETED_MS, buf, sizeof(buf)), COMPLETED_STR);
        CHECK_STR(ew_rfc3339_ms(COMPLETED_MS + 877, buf, sizeof(buf)),
                  "2026-11-24T06:15:41.000Z");
        CHECK_STR(
            ew_rfc3339_ms((int64_t)1798761599 * 1000 + 999, buf, sizeof(buf)),
            "2026-12-31T23:59:59.999Z");
        CHECK_STR(ew_rfc3339_ms(-1, buf, sizeof(buf)),
                  "1969-12-31T23:59:59.999Z");
        CHECK_STR(ew_rfc3339_ms(0, buf, sizeof(buf)),
                  "1970-01-01T00:00:00.000Z");
        /* A short buffer keeps what fits, as snprintf would. */
        CHECK_STR(ew_rfc3339_ms(COMPLETED_MS, small, sizeof(small)),
                  "2026-11-24T");
}

/* Each thread has its own cached second: two threads formatting
 * different seconds in turn never see each other's. */
typedef struct rfc3339_job {
        int64_t base;
        int     failures;
} rfc3339_job_t;

static void *rfc3339_thread(void *arg)
{
        rfc3339_job_t *job = arg;
        char           want[2][REF_SIZE], got[EW_RFC3339_SIZE];
        int            i;

        rfc3339_ref(job->base, want[0]);
        rfc3339_ref(job->base + 1000, want[1]);
        for (i = 0; i < 20000; i++) {
                ew_rfc3339_ms(job->base + (i % 2) * 1000, got, sizeof(got));
                if (strcmp(got, want[i % 2]) != 0)
                        job->failures++;
        }
        return NULL;
}

static void test_rfc3339_threads(void)
{
        rfc3339_job_t job[2] = {{COMPLETED_MS - 123, 0},
                                {(int64_t)1798761599 * 1000, 0}};
        pthread_t     th[2];
        int           i, started[2] = {0, 0};

        for (i = 0; i < 2; i++)
                started[i] =
                    pthread_create(&th[i], NULL, rfc3339_thread, &job[i]) == 0;
        for (i = 0; i < 2; i++) {
                CU_ASSERT_TRUE(started[i]);
                if (started[i])
                        pthread_join(th[i], NULL);
                CU_ASSERT_EQUAL(job[i].failures, 0);
        }
}

static const ew_test_case_t rfc3339_cases[] = {
    {"boundaries", test_rfc3339_boundaries},
    {"known", test_rfc3339_known},
    {"threads", test_rfc3339_threads},
    {NULL, NULL},
};

static const ew_test_case_t outcome_cases[] = {
    {"engagement", test_outcome_engagement},
    {"conversation", test_outcome_conversation},
    {"unavailable", test_outcome_unavailable},
    {"escaping", test_outcome_escaping},
    {"number_texts", test_outcome_number_texts},
    {"details_text", test_outcome_details_text},
    {"one_line", test_outcome_one_line},
    {"refused", test_outcome_refused},
    {"schema", test_outcome_schema},
    {"event_schema", test_event_schema},
    {NULL, NULL},
};

static const ew_test_case_t dead_letter_cases[] = {
    {"headers", test_dead_letter_headers},
    {"headers_edges", test_dead_letter_headers_edges},
    {"kind_str", test_dead_kind_str},
    {"json", test_dead_letter_json},
    {"json_utf8", test_dead_letter_json_utf8},
    {"json_large", test_dead_letter_json_large},
    {NULL, NULL},
};

static const ew_test_case_t key_cases[] = {
    {"selection", test_message_key},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"outcome", outcome_cases},
    {"dead_letter", dead_letter_cases},
    {"key", key_cases},
    {"rfc3339", rfc3339_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
