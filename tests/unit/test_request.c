/*
 * test_request - the engagement request builder (ew_request): URL, query
 * and body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ew_hmac.h"
#include "ew_request.h"
#include "ew_test.h"
#include "ew_util.h"

static const ew_source_t src = {"visitor-activity", 0, 1};

static ew_event_t *event_from(const char *json)
{
        ew_event_t *ev       = NULL;
        char        err[512] = "";

        if (ew_event_parse(json, strlen(json), NULL, &src, &ev, NULL, 0, err,
                           sizeof(err)) != 0)
                fprintf(stderr, "  event refused: %s\n", err);
        return ev;
}

static ew_event_t *event_from_file(const char *name)
{
        size_t      len      = 0;
        char       *buf      = ew_test_read_file(ew_test_data(name), &len);
        ew_event_t *ev       = NULL;
        char        err[512] = "";

        if (!buf)
                return NULL;
        if (ew_event_parse(buf, len, NULL, &src, &ev, NULL, 0, err,
                           sizeof(err)) != 0)
                fprintf(stderr, "  %s refused: %s\n", name, err);
        free(buf);
        return ev;
}

static void test_pct_encode(void)
{
        static const struct {
                const char *in;
                const char *want;
        } cases[] = {
            {"", ""},
            {"AZaz09-._~", "AZaz09-._~"},
            {"a b", "a%20b"},
            {"a/b", "a%2Fb"},
            {"a&b", "a%26b"},
            {"a?b", "a%3Fb"},
            {"a#b", "a%23b"},
            {"100%", "100%25"},
            {"a+b=c", "a%2Bb%3Dc"},
            {"\xc3\xa9", "%C3%A9"},               /* é */
            {"\xf0\x9f\x98\x80", "%F0%9F%98%80"}, /* U+1F600 */
            {"\x01\x7f", "%01%7F"},
            {":@!$'()*,;[]", "%3A%40%21%24%27%28%29%2A%2C%3B%5B%5D"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                char *out = ew_request_pct_encode(cases[i].in);
                if (!out || strcmp(out, cases[i].want) != 0) {
                        fprintf(stderr, "  pct '%s': got '%s', want '%s'\n",
                                cases[i].in, out ? out : "(null)",
                                cases[i].want);
                        failures++;
                }
                free(out);
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_PTR_NULL(ew_request_pct_encode(NULL));
}

static void test_url_table(void)
{
        static const struct {
                const char         *name;
                ew_request_params_t p;
                const char         *want;
        } cases[] = {
            {"doc_example",
             {"https://va.v.liveperson.net", "12345", "123", EW_API_V1_0,
              "myNewVisiorId", "myNewSessionId", 0},
             "https://va.v.liveperson.net/api/account/12345/app/123/"
             "engagement?v=1.0&vid=myNewVisiorId&sid=myNewSessionId"
             "&obh=false"},
            {"on_behalf_v11",
             {"https://h", "1", "a", EW_API_V1_1, "v", "s", 1},
             "https://h/api/account/1/app/a/engagement?v=1.1&vid=v&sid=s"
             "&obh=true"},
            {"trailing_slash",
             {"https://h/", "1", "a", EW_API_V1_1, NULL, NULL, 1},
             "https://h/api/account/1/app/a/engagement?v=1.1&obh=true"},
            {"base_with_path",
             {"http://127.0.0.1:8080/prefix", "1", "a", EW_API_V1_1, NULL, NULL,
              1},
             "http://127.0.0.1:8080/prefix/api/account/1/app/a/"
             "engagement?v=1.1&obh=true"},
            {"no_vid_no_sid",
             {"https://h", "1", "a", EW_API_V1_1, NULL, NULL, 1},
             "https://h/api/account/1/app/a/engagement?v=1.1&obh=true"},
            {"empty_vid_sid",
             {"https://h", "1", "a", EW_API_V1_1, "", "", 1},
             "https://h/api/account/1/app/a/engagement?v=1.1&obh=true"},
            {"vid_only",
             {"https://h", "1", "a", EW_API_V1_1, "v1", NULL, 1},
             "https://h/api/account/1/app/a/engagement?v=1.1&vid=v1"
             "&obh=true"},
            {"sid_only",
             {"https://h", "1", "a", EW_API_V1_1, NULL, "s1", 1},
             "https://h/api/account/1/app/a/engagement?v=1.1&sid=s1"
             "&obh=true"},
            {"encoded_path",
             {"https://h", "acc t/1", "app?#&%", EW_API_V1_1, NULL, NULL, 1},
             "https://h/api/account/acc%20t%2F1/app/app%3F%23%26%25/"
             "engagement?v=1.1&obh=true"},
            {"encoded_query",
             {"https://h", "1", "a", EW_API_V1_1, "v x&obh=false#", "s/?=%", 1},
             "https://h/api/account/1/app/a/engagement?v=1.1"
             "&vid=v%20x%26obh%3Dfalse%23&sid=s%2F%3F%3D%25&obh=true"},
            {"unicode_ids",
             {"https://h", "\xc3\xbc", "\xe2\x82\xac", EW_API_V1_1,
              "\xf0\x9f\x98\x80", NULL, 1},
             "https://h/api/account/%C3%BC/app/%E2%82%AC/engagement"
             "?v=1.1&vid=%F0%9F%98%80&obh=true"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                char  err[256] = "";
                char *url      = ew_request_url(&cases[i].p, err, sizeof(err));
                if (!url || strcmp(url, cases[i].want) != 0) {
                        fprintf(stderr, "  url %s: got '%s' (%s)\n",
                                cases[i].name, url ? url : "(null)", err);
                        failures++;
                }
                free(url);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_url_errors(void)
{
        static const struct {
                const char         *name;
                ew_request_params_t p;
                const char         *want;
        } cases[] = {
            {"no_account",
             {"https://h", NULL, "a", EW_API_V1_1, NULL, NULL, 1},
             "accountId: missing"},
            {"empty_account",
             {"https://h", "", "a", EW_API_V1_1, NULL, NULL, 1},
             "accountId: missing"},
            {"no_app",
             {"https://h", "1", NULL, EW_API_V1_1, NULL, NULL, 1},
             "appInstallationId: missing"},
            {"empty_app",
             {"https://h", "1", "", EW_API_V1_1, NULL, NULL, 1},
             "appInstallationId: missing"},
            {"no_base",
             {NULL, "1", "a", EW_API_V1_1, NULL, NULL, 1},
             "base URL"},
            {"empty_base",
             {"", "1", "a", EW_API_V1_1, NULL, NULL, 1},
             "base URL"},
            {"bad_version",
             {"https://h", "1", "a", (ew_api_version_t)7, NULL, NULL, 1},
             "API version 7 is not supported"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                char  err[256] = "";
                char *url      = ew_request_url(&cases[i].p, err, sizeof(err));
                if (url || !strstr(err, cases[i].want)) {
                        fprintf(stderr, "  url error %s: got '%s' / '%s'\n",
                                cases[i].name, url ? url : "(null)", err);
                        failures++;
                }
                free(url);
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_PTR_NULL(ew_request_url(NULL, NULL, 0));
}

/* The body's top-level keys, in order, joined with ','. */
static void body_keys(const char *body, char *out, size_t size)
{
        json_object *o = json_tokener_parse(body);
        size_t       n = 0;

        out[0] = '\0';
        if (!json_object_is_type(o, json_type_object)) {
                snprintf(out, size, "(not an object)");
                json_object_put(o);
                return;
        }
        json_object_object_foreach(o, k, v)
        {
                (void)v;
                n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "," : "",
                                      k);
                if (n >= size)
                        break;
        }
        json_object_put(o);
}

/* Each body field is present exactly when the event has it; the fields
 * that go in the URL or nowhere never appear. */
static void test_body_fields(void)
{
        static const struct {
                const char *json;
                const char *keys;
        } cases[] = {
            {"{\"visitorId\":\"v\",\"sessionId\":\"s\",\"eventId\":\"e\","
             "\"accountId\":\"1\",\"appInstallationId\":\"a\",\"extra\":1}",
             ""},
            {"{\"consumerId\":\"c\"}", "consumerId"},
            {"{\"identities\":[{\"acr\":\"0\",\"sub\":\"s\"}]}", "identities"},
            {"{\"visitorId\":\"v\",\"clientProperties\":{}}",
             "clientProperties"},
            {"{\"visitorId\":\"v\",\"entryPoints\":[\"x\"]}", "entryPoints"},
            {"{\"visitorId\":\"v\",\"engagementAttributes\":[]}",
             "engagementAttributes"},
            {"{\"visitorId\":\"v\",\"consumerId\":null,"
             "\"clientProperties\":null}",
             ""},
            {"{\"engagementAttributes\":[],\"entryPoints\":[],"
             "\"clientProperties\":{},\"identities\":[{\"acr\":\"0\","
             "\"sub\":\"s\"}],\"consumerId\":\"c\",\"visitorId\":\"v\"}",
             "consumerId,identities,clientProperties,entryPoints,"
             "engagementAttributes"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                ew_event_t *ev        = event_from(cases[i].json);
                char        keys[256] = "(no body)";
                size_t      len       = 0;
                char       *body = ev ? ew_request_body(ev, NULL, &len) : NULL;

                if (body) {
                        body_keys(body, keys, sizeof(keys));
                        if (len != strlen(body))
                                failures++;
                }
                if (strcmp(keys, cases[i].keys) != 0) {
                        fprintf(stderr, "  body %zu: keys '%s', want '%s'\n", i,
                                keys, cases[i].keys);
                        failures++;
                }
                free(body);
                ew_event_destroy(ev);
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_PTR_NULL(ew_request_body(NULL, NULL, NULL));
}

/* The doc's example body, sent through an event, comes out equal, with
 * numbers as written (30.0 stays 30.0) and slashes not escaped; the
 * members are the event's own text, white space included. */
static void test_body_doc_example(void)
{
        char *doc =
            ew_test_read_file(ew_test_data("events/doc_example.json"), NULL);
        ew_event_t  *ev   = event_from_file("events/doc_example.json");
        json_object *want = doc ? json_tokener_parse(doc) : NULL;
        json_object *got = NULL, *age = NULL;
        size_t       len = 0;
        char        *body;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        CU_ASSERT_PTR_NOT_NULL_FATAL(want);
        body = ew_request_body(ev, NULL, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        CU_ASSERT_EQUAL(len, strlen(body));
        got = json_tokener_parse(body);
        CU_ASSERT_PTR_NOT_NULL(got);
        CU_ASSERT(json_object_equal(got, want));
        /* engagementAttributes[0].personal.age.age is still 30.0 */
        age = json_object_array_get_idx(
            json_object_object_get(got, "engagementAttributes"), 0);
        age = json_object_object_get(json_object_object_get(age, "personal"),
                                     "age");
        age = json_object_object_get(age, "age");
        CU_ASSERT(json_object_is_type(age, json_type_double));
        CU_ASSERT_STRING_EQUAL(json_object_to_json_string(age), "30.0");
        CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"https://www.liveperson.com/\""));
        /* Forwarded byte for byte. */
        CU_ASSERT_PTR_NOT_NULL(strstr(body, ev->client_properties.json));
        CU_ASSERT_PTR_NOT_NULL(strstr(body, ev->identities.json));
        CU_ASSERT_PTR_NOT_NULL(strstr(body, ev->entry_points.json));
        CU_ASSERT_PTR_NOT_NULL(strstr(body, ev->engagement_attributes.json));
        CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"osName\": \"MAC_OSX\""));
        json_object_put(got);
        json_object_put(want);
        free(body);
        ew_event_destroy(ev);
        free(doc);
}

/* Members are forwarded as written: white space inside them, number
 * spellings json-c would change (-0) or keep (1.0, 1E+2), escapes; the
 * body parses to the same JSON as the event's members. */
static void test_body_raw_members(void)
{
        static const char json[] =
            "{\"visitorId\":\"v\", \"clientProperties\" : { \"type\" : "
            "\"A\\u0050P\" ,\"n\":-0 },\n\"entryPoints\":[ \"a\\/b\" ],"
            "\"engagementAttributes\":[{\"type\":\"lead\",\"lead\":{"
            "\"x\":[1.0,1E+2,-0.0,12345678901234567890.5]}}]}";
        ew_event_t  *ev = event_from(json);
        json_object *want, *got, *m;
        char        *body;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        body = ew_request_body(ev, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        CU_ASSERT_STRING_EQUAL(
            body, "{\"clientProperties\":{ \"type\" : \"A\\u0050P\" ,"
                  "\"n\":-0 },\"entryPoints\":[ \"a\\/b\" ],"
                  "\"engagementAttributes\":[{\"type\":\"lead\",\"lead\":{"
                  "\"x\":[1.0,1E+2,-0.0,12345678901234567890.5]}}]}");
        want = json_tokener_parse(json);
        got  = json_tokener_parse(body);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        json_object_object_del(want, "visitorId");
        CU_ASSERT(json_object_equal(got, want));
        m = json_object_object_get(
            json_object_object_get(got, "clientProperties"), "type");
        CU_ASSERT_STRING_EQUAL(json_object_get_string(m), "APP");
        json_object_put(want);
        json_object_put(got);
        free(body);
        ew_event_destroy(ev);
}

/* Values json-c could alter survive: big integers, exponents, unicode and
 * \u0000 inside forwarded (unchecked) strings. */
static void test_body_faithful(void)
{
        ew_event_t *ev = event_from(
            "{\"consumerId\":\"c\",\"engagementAttributes\":[{\"type\":"
            "\"lead\",\"lead\":{\"value\":9223372036854775807,\"v2\":-1.5e-7,"
            "\"t\":\"caf\xc3\xa9 \\u0000 \\\"q\\\"\"}}]}");
        char *body;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        body = ew_request_body(ev, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        CU_ASSERT_PTR_NOT_NULL(strstr(body, "9223372036854775807"));
        CU_ASSERT_PTR_NOT_NULL(strstr(body, "-1.5e-7"));
        CU_ASSERT_PTR_NOT_NULL(strstr(body, "caf\xc3\xa9 \\u0000 \\\"q\\\""));
        free(body);
        ew_event_destroy(ev);
}

/*
 * HMAC known answers, computed when the test was written with
 *   printf '%s' VALUE | openssl dgst -sha256 -hmac 's3cr3t-key'
 */
#define KEY "s3cr3t-key"
#define HMAC_NOAUTH                                                            \
        "27ea26481ed7f5a804e886b144917dc8c6301132ef54c1a10497ffdc54a1a899"
#define HMAC_AUTH                                                              \
        "24688cac0aa3c01187a4664e6a81f79c296dd218fcd1dbc20c4afedb6a9f3f60"
#define HMAC_CONSUMER                                                          \
        "a65348b17528f8d75abf35525655b8008e3e9a0a8eb4edfdacd0ccbc862bd966"

/* A hasher for key; the test fails (and stops) if it cannot be made. */
static ew_hmac_t *hasher_for(const char *key)
{
        char       err[256] = "";
        ew_hmac_t *h        = ew_hmac_new(key, strlen(key), err, sizeof(err));

        if (!h)
                fprintf(stderr, "  hasher: %s\n", err);
        return h;
}

static const char *str_at(json_object *o, const char *path0, size_t idx,
                          const char *key)
{
        json_object *a, *e, *v;

        if (!json_object_object_get_ex(o, path0, &a))
                return NULL;
        if (!key)
                return json_object_get_string(a);
        e = json_object_array_get_idx(a, idx);
        if (!json_object_object_get_ex(e, key, &v))
                return NULL;
        return json_object_get_string(v);
}

/* A copy of a member's text, to see it unchanged later. */
static char *member_copy(const ew_event_json_t *m)
{
        return m->json ? strdup(m->json) : NULL;
}

static void test_body_hashed(void)
{
        char *doc =
            ew_test_read_file(ew_test_data("events/doc_example.json"), NULL);
        ew_event_t  *ev     = event_from_file("events/doc_example.json");
        ew_hmac_t   *hasher = hasher_for(KEY), *other = hasher_for("other-key");
        char        *ids_before, *cp_before, *body, *again, *plain;
        json_object *got, *want;
        const char  *s;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hasher);
        CU_ASSERT_PTR_NOT_NULL_FATAL(other);
        ids_before = member_copy(&ev->identities);
        cp_before  = member_copy(&ev->client_properties);
        body       = ew_request_body(ev, hasher, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        got = json_tokener_parse(body);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);

        s = str_at(got, "identities", 0, "sub");
        CU_ASSERT(s && strcmp(s, HMAC_NOAUTH) == 0);
        s = str_at(got, "identities", 1, "sub");
        CU_ASSERT(s && strcmp(s, HMAC_AUTH) == 0);
        s = str_at(got, "consumerId", 0, NULL);
        CU_ASSERT(s && strcmp(s, HMAC_CONSUMER) == 0);
        /* Everything else is untouched. */
        s = str_at(got, "identities", 1, "iss");
        CU_ASSERT(s && strcmp(s, "TMO") == 0);
        s = str_at(got, "identities", 1, "acr");
        CU_ASSERT(s && strcmp(s, "loa1") == 0);
        CU_ASSERT_EQUAL(json_object_object_length(json_object_array_get_idx(
                            json_object_object_get(got, "identities"), 1)),
                        3);
        want = json_tokener_parse(doc);
        json_object_object_del(want, "identities");
        json_object_object_del(want, "consumerId");
        json_object_object_del(got, "identities");
        json_object_object_del(got, "consumerId");
        CU_ASSERT(json_object_equal(got, want));
        json_object_put(want);
        json_object_put(got);

        /* The event is not changed: same members, raw ids, and a plain
         * body built afterwards carries the raw values. */
        CU_ASSERT_STRING_EQUAL(ev->identities.json, ids_before);
        CU_ASSERT_STRING_EQUAL(ev->client_properties.json, cp_before);
        CU_ASSERT_STRING_EQUAL(ew_event_derived_key(ev), "identifierForNoAuth");
        CU_ASSERT_STRING_EQUAL(ev->consumer_id, "uniqueIdInBrand");
        plain = ew_request_body(ev, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
        got = json_tokener_parse(plain);
        s   = str_at(got, "identities", 0, "sub");
        CU_ASSERT(s && strcmp(s, "identifierForNoAuth") == 0);
        json_object_put(got);
        CU_ASSERT_PTR_NULL(strstr(plain, HMAC_NOAUTH));
        /* Deterministic, with the same hasher used again. */
        again = ew_request_body(ev, hasher, NULL);
        CU_ASSERT_STRING_EQUAL(again, body);
        /* A different key gives a different digest. */
        free(again);
        again = ew_request_body(ev, other, NULL);
        CU_ASSERT_PTR_NULL(strstr(again, HMAC_NOAUTH));
        got = json_tokener_parse(again);
        s   = str_at(got, "identities", 0, "acr");
        CU_ASSERT(s && strcmp(s, "0") == 0);
        json_object_put(got);

        free(again);
        free(plain);
        free(body);
        free(ids_before);
        free(cp_before);
        free(doc);
        ew_event_destroy(ev);
        ew_hmac_destroy(hasher);
        ew_hmac_destroy(other);
}

/* The hash covers the decoded sub, however it was escaped, and a member
 * name spelt with escapes is still the sub; other members of an identity
 * keep their text. */
static void test_body_hashed_escapes(void)
{
        ew_event_t *ev =
            event_from("{\"identities\":[ { \"acr\" : \"0\", \"s\\u0075b\":"
                       "\"identifier\\u0046orNoAuth\", \"iss\":\"a\\/b\" } ,"
                       "{\"sub\":\"identifierForAuth\",\"acr\":\"loa1\"}]}");
        ew_hmac_t *hasher = hasher_for(KEY);
        char      *body;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hasher);
        body = ew_request_body(ev, hasher, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        CU_ASSERT_STRING_EQUAL(
            body, "{\"identities\":[{\"acr\":\"0\",\"s\\u0075b\":\"" HMAC_NOAUTH
                  "\",\"iss\":\"a\\/b\"},{\"sub\":\"" HMAC_AUTH
                  "\",\"acr\":\"loa1\"}]}");
        free(body);
        ew_event_destroy(ev);
        ew_hmac_destroy(hasher);
}

/* A body outlives its event: it is a copy, not a view. */
static void test_body_ownership(void)
{
        ew_event_t *ev = event_from("{\"consumerId\":\"c\",\"entryPoints\":["
                                    "\"tel://1\"]}");
        char       *body;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        body = ew_request_body(ev, NULL, NULL);
        ew_event_destroy(ev);
        CU_ASSERT_STRING_EQUAL(body, "{\"consumerId\":\"c\",\"entryPoints\":["
                                     "\"tel://1\"]}");
        free(body);
}

static const ew_test_case_t cases[] = {
    {"pct_encode", test_pct_encode},
    {"url_table", test_url_table},
    {"url_errors", test_url_errors},
    {"body_fields", test_body_fields},
    {"body_doc_example", test_body_doc_example},
    {"body_raw_members", test_body_raw_members},
    {"body_faithful", test_body_faithful},
    {"body_hashed", test_body_hashed},
    {"body_hashed_escapes", test_body_hashed_escapes},
    {"body_ownership", test_body_ownership},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"request", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
