/*
 * test_sim - unit tests of the simulator's parts that need no sockets:
 * request validation, scenarios, the LRU table, sessions, the timer heap
 * and the engagement answers of sim_api.
 */
#include "ew_test.h"
#include "sim_api.h"
#include "sim_delay.h"
#include "sim_json.h"
#include "sim_lru.h"
#include "sim_scenario.h"
#include "sim_sessions.h"
#include "sim_validate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The body example of the engagement page. */
static const char doc_body[] =
    "{\"clientProperties\":{\"osName\":\"MAC_OSX\",\"osVersion\":\"1.2\","
    "\"appVersion\":\"1.0\",\"deviceFamily\":\"MOBILE\","
    "\"ipAddress\":\"192.168.5.2\"},\"consumerId\":\"uniqueIdInBrand\","
    "\"identities\":[{\"iss\":\"LivePerson\",\"acr\":\"0\","
    "\"sub\":\"identifierForNoAuth\"},{\"iss\":\"TMO\",\"acr\":\"loa1\","
    "\"sub\":\"identifierForAuth\"}],\"entryPoints\":["
    "\"tel://972737004000\",\"https://www.liveperson.com/\","
    "\"sec://Sport\",\"lang://English\"],\"engagementAttributes\":[{"
    "\"type\":\"personal\",\"personal\":{\"contacts\":[{\"email\":"
    "\"user123@gmail.com\",\"phone\":\"12345678\"}],\"age\":{\"age\":30.0,"
    "\"year\":1985,\"month\":7,\"day\":22},\"firstname\":\"test\","
    "\"lastname\":\"test2\",\"gender\":\"FEMALE\",\"company\":"
    "\"liveperson\"}}]}";

static void msleep(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/* ---- sim_json ------------------------------------------------------- */

static void test_json_grammar(void)
{
        static const struct {
                const char *text;
                int         ok;
        } cases[] = {
            {"{}", 1},
            {" [1, -2.5e+3, 0, true, false, null, \"x\"] ", 1},
            {"{\"a\":{\"b\":[{}]}}", 1},
            {"\"\\u00e9\\ud83d\\ude00\\n\"", 1},
            {"\"\xc3\xa9\"", 1},
            {"", 0},
            {"{", 0},
            {"{\"a\"}", 0},
            {"{\"a\":1,}", 0},
            {"[1,]", 0},
            {"[01]", 0},
            {"[1.]", 0},
            {"[.5]", 0},
            {"[+1]", 0},
            {"[1e]", 0},
            {"tru", 0},
            {"nul", 0},
            {"{} x", 0},
            {"\"a\tb\"", 0},
            {"\"\\x\"", 0},
            {"\"\\u12g4\"", 0},
            {"\"\xff\"", 0},
            {"\"\xc0\xaf\"", 0},
            {"{'a':1}", 0},
            {"[[[[[[[[[[1]]]]]]]]]]", 0}, /* deeper than 8 */
            {"[[[[[[[[1]]]]]]]]", 1},
        };
        size_t      i;
        int         failures = 0;
        char        err[128];
        sim_json_t *doc;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                doc = sim_json_parse(cases[i].text, strlen(cases[i].text), 8,
                                     err, sizeof(err));
                if (!!doc != cases[i].ok) {
                        printf("\n  json %zu: %s\n", i, doc ? "accepted" : err);
                        failures++;
                }
                sim_json_free(doc);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_json_values(void)
{
        static const char text[] =
            "{\"s\" : \"a\\\"b\\u00e9\\ud83d\\ude00\", \"n\": 12.5e1,"
            " \"a\": [1, {\"k\": null}], \"s\": \"last\"}";
        const sim_jval_t *root, *a, *s;
        char              err[128];
        sim_json_t       *doc =
            sim_json_parse(text, strlen(text), 8, err, sizeof(err));
        sim_buf_t b;

        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        root = sim_json_root(doc);
        CU_ASSERT_EQUAL(root->type, SIM_JSON_OBJECT);
        CU_ASSERT_EQUAL(root->len, 4);
        /* a repeated member: the last one counts, as in json-c */
        s = sim_json_get(root, "s");
        CU_ASSERT_STRING_EQUAL(s->str, "last");
        s = root->child;
        CU_ASSERT_STRING_EQUAL(s->str, "a\"b\xc3\xa9\xf0\x9f\x98\x80");
        CU_ASSERT_EQUAL(s->len, 9);
        CU_ASSERT_EQUAL(sim_json_get(root, "n")->type, SIM_JSON_NUMBER);
        CU_ASSERT_EQUAL(sim_json_get(root, "n")->raw_len, 6);
        a = sim_json_get(root, "a");
        CU_ASSERT_EQUAL(a->type, SIM_JSON_ARRAY);
        CU_ASSERT_EQUAL(a->len, 2);
        CU_ASSERT_PTR_NULL(sim_json_get(a, "k"));
        CU_ASSERT_EQUAL(sim_json_get(a->child->next, "k")->type, SIM_JSON_NULL);
        CU_ASSERT_PTR_NULL(sim_json_get(root, "missing"));

        /* minified copy of a value keeps strings' spaces */
        sim_buf_init(&b, 1024);
        sim_buf_jminify(&b, a->raw, a->raw_len);
        CU_ASSERT_STRING_EQUAL(b.data, "[1,{\"k\":null}]");
        b.len = 0;
        sim_buf_jminify(&b, "{ \"a b\" : [ \" \\\" \" ] }", 23);
        CU_ASSERT_STRING_EQUAL(b.data, "{\"a b\":[\" \\\" \"]}");
        sim_buf_free(&b);
        sim_json_free(doc);
}

static void test_json_writer(void)
{
        sim_buf_t b;
        char     *out;
        size_t    len;

        sim_buf_init(&b, 64);
        sim_buf_jstr(&b, "q\"\\\n\x01\xc3\xa9\xff", 8);
        CU_ASSERT_STRING_EQUAL(b.data,
                               "\"q\\\"\\\\\\n\\u0001\xc3\xa9\\ufffd\"");
        sim_buf_int(&b, -42);
        CU_ASSERT_FALSE(b.failed);
        /* the bound holds */
        sim_buf_puts(&b, "0123456789012345678901234567890123456789");
        CU_ASSERT_TRUE(b.failed);
        CU_ASSERT_PTR_NULL(sim_buf_take(&b, &len));
        sim_buf_init(&b, 64);
        sim_buf_puts(&b, "ok");
        out = sim_buf_take(&b, &len);
        CU_ASSERT_STRING_EQUAL(out, "ok");
        CU_ASSERT_EQUAL(len, 2);
        free(out);
        sim_buf_free(&b);
}

/* ---- validation ------------------------------------------------------- */

static void test_version(void)
{
        static const struct {
                const char *v;
                int         rc, minor;
        } cases[] = {
            {"1.0", 0, 0},   {"1.1", 0, 1},  {"1", 0, 0},    {"1.10", 0, 1},
            {"2.0", -1, 0},  {"1.2", -1, 0}, {"", -1, 0},    {NULL, -1, 0},
            {"1.0x", -1, 0}, {"v1", -1, 0},  {"0.9", -1, 0},
        };
        size_t i;
        int    failures = 0, minor, rc;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                minor = -1;
                rc    = sim_validate_version(cases[i].v, &minor);
                if (rc != cases[i].rc || (rc == 0 && minor != cases[i].minor)) {
                        printf("\n  version \"%s\": rc %d minor %d\n",
                               cases[i].v ? cases[i].v : "(null)", rc, minor);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_obh(void)
{
        static const struct {
                const char *obh;
                int         rc;
        } cases[] = {{NULL, 0},   {"true", 0}, {"false", 0}, {"TRUE", 0},
                     {"yes", -1}, {"1", -1},   {"", -1}};
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                if (sim_validate_obh(cases[i].obh) != cases[i].rc) {
                        printf("\n  obh \"%s\"\n",
                               cases[i].obh ? cases[i].obh : "(null)");
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_body(void)
{
        static const struct {
                const char *body;
                const char *vid;
                int         rc;
                const char *msg; /* error: field named; ok: sub */
                const char *consumer;
        } cases[] = {
            {doc_body, NULL, 0, "identifierForNoAuth", "uniqueIdInBrand"},
            {"{\"consumerId\":\"c1\"}", NULL, 0, NULL, "c1"},
            {"{}", "vid1", 0, NULL, NULL},
            {"{}", NULL, -1, "consumerId", NULL},
            {"{\"consumerId\":\"\"}", NULL, -1, "consumerId", NULL},
            {"{\"identities\":[]}", NULL, -1, "consumerId", NULL},
            {"{\"consumerId\":7}", NULL, -1, "consumerId", NULL},
            {"[1]", NULL, -1, "request body", NULL},
            {"\"x\"", NULL, -1, "request body", NULL},
            {"{\"identities\":[{\"acr\":\"2\",\"sub\":\"s\"}]}", NULL, -1,
             "identities[0].acr", NULL},
            {"{\"identities\":[{\"sub\":\"s\"}]}", NULL, -1,
             "identities[0].acr", NULL},
            {"{\"identities\":[{\"acr\":\"0\",\"sub\":\"a\"},"
             "{\"acr\":\"loa1\"}]}",
             NULL, -1, "identities[1].sub", NULL},
            {"{\"identities\":{\"acr\":\"0\"}}", NULL, -1, "identities", NULL},
            {"{\"identities\":[{\"acr\":\"loa1\",\"sub\":\"s\","
             "\"iss\":\"https://idp\"}]}",
             NULL, 0, "s", NULL},
            {"{\"consumerId\":\"c\",\"clientProperties\":{"
             "\"deviceFamily\":\"WATCH\"}}",
             NULL, -1, "clientProperties.deviceFamily", NULL},
            {"{\"consumerId\":\"c\",\"clientProperties\":{"
             "\"os\":\"BEOS\"}}",
             NULL, -1, "clientProperties.os", NULL},
            {"{\"consumerId\":\"c\",\"clientProperties\":{"
             "\"osName\":\"mac\"}}",
             NULL, -1, "clientProperties.osName", NULL},
            {"{\"consumerId\":\"c\",\"clientProperties\":{"
             "\"ipAddress\":\"256.1.1.1\"}}",
             NULL, -1, "clientProperties.ipAddress", NULL},
            {"{\"consumerId\":\"c\",\"clientProperties\":{"
             "\"ipAddress\":\"1.2.3\"}}",
             NULL, -1, "clientProperties.ipAddress", NULL},
            {"{\"consumerId\":\"c\",\"clientProperties\":{"
             "\"ipAddress\":\"10.0.0.1\",\"os\":\"ANDROID\","
             "\"deviceFamily\":\"TABLET\"}}",
             NULL, 0, NULL, "c"},
            {"{\"consumerId\":\"c\",\"engagementAttributes\":[{"
             "\"type\":\"impDisplay\"}]}",
             NULL, -1, "engagementAttributes[0].type", NULL},
            {"{\"consumerId\":\"c\",\"engagementAttributes\":[{"
             "\"type\":\"cart\"},{\"type\":\"nosuch\"}]}",
             NULL, -1, "engagementAttributes[1].type", NULL},
            {"{\"consumerId\":\"c\",\"engagementAttributes\":[{"
             "\"type\":\"ctmrinfo\",\"info\":{}}]}",
             NULL, 0, NULL, "c"},
            {"{\"consumerId\":\"c\",\"entryPoints\":[\"a\",3]}", NULL, -1,
             "entryPoints[1]", NULL},
        };
        size_t          i;
        int             failures = 0, rc, bad;
        char            msg[128];
        sim_body_info_t info;
        sim_json_t     *doc;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                doc = sim_json_parse(cases[i].body, strlen(cases[i].body), 64,
                                     msg, sizeof(msg));
                msg[0] = '\0';
                rc     = sim_validate_body(doc ? sim_json_root(doc) : NULL,
                                       cases[i].vid, &info, msg, sizeof(msg));
                bad = rc != cases[i].rc;
                if (!bad && rc != 0)
                        bad = strcmp(msg, cases[i].msg) != 0;
                if (!bad && rc == 0)
                        bad = (cases[i].msg
                                   ? !info.sub || strcmp(info.sub, cases[i].msg)
                                   : info.sub != NULL) ||
                              (cases[i].consumer ? !info.consumer_id ||
                                                       strcmp(info.consumer_id,
                                                              cases[i].consumer)
                                                 : info.consumer_id != NULL);
                if (bad) {
                        printf("\n  body %zu: rc %d msg \"%s\"\n", i, rc, msg);
                        failures++;
                }
                sim_json_free(doc);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* ---- scenarios -------------------------------------------------------- */

static sim_scenario_t *parse_scenario(const char *text)
{
        json_object    *root = json_tokener_parse(text);
        sim_scenario_t *sc   = NULL;
        char            err[256];

        if (root && sim_scenario_parse(root, "test", &sc, err, sizeof(err)))
                printf("\n  scenario: %s\n", err);
        json_object_put(root);
        return sc;
}

static void test_scenario_parse_errors(void)
{
        static const char *const bad[] = {
            "[]",
            "{\"rulez\":[]}",
            "{\"rules\":{}}",
            "{\"rules\":[{\"behaviour\":\"teleport\"}]}",
            "{\"rules\":[{\"behaviour\":\"expose\",\"colour\":1}]}",
            "{\"rules\":[{\"match\":{\"email\":\"x\"},"
            "\"behaviour\":\"expose\"}]}",
            "{\"rules\":[{\"behaviour\":\"reject\",\"status\":500}]}",
            "{\"rules\":[{\"behaviour\":\"expire\",\"internalCode\":18}]}",
            "{\"rules\":[{\"behaviour\":\"fail\",\"status\":200}]}",
            "{\"rules\":[{\"behaviour\":\"expose\",\"then\":\"fail\"}]}",
            "{\"rules\":[{\"behaviour\":\"expose\",\"status\":500}]}",
            "{\"rules\":[{\"behaviour\":\"loading\",\"status\":500}]}",
            "{\"rules\":[{\"behaviour\":\"expose\",\"latency\":{"
            "\"min\":50,\"max\":10}}]}",
            "{\"rules\":[{\"behaviour\":\"expose\",\"latency\":-1}]}",
            "{\"rules\":[{\"behaviour\":\"close\",\"after\":\"body\"}]}",
            "{\"rules\":[{\"behaviour\":\"expose\",\"after\":\"none\"}]}",
            "{\"default\":{\"behaviour\":\"fail\",\"count\":-1}}",
            "{\"rules\":[{\"behaviour\":\"fail\",\"then\":{\"behaviour\":"
            "\"fail\",\"then\":{\"behaviour\":\"nope\"}}}]}",
        };
        json_object    *root;
        sim_scenario_t *sc;
        size_t          i;
        int             failures = 0;
        char            err[256];

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                root   = json_tokener_parse(bad[i]);
                err[0] = '\0';
                if (!root ||
                    sim_scenario_parse(root, "t", &sc, err, sizeof(err)) !=
                        -1 ||
                    sc != NULL || err[0] == '\0') {
                        printf("\n  accepted: %s\n", bad[i]);
                        sim_scenario_unref(sc);
                        failures++;
                }
                json_object_put(root);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_scenario_file(void)
{
        sim_scenario_t *sc = NULL;
        char            err[512];

        CU_ASSERT_EQUAL_FATAL(
            sim_scenario_load_file(ew_test_data("scenarios/smoke.json"), &sc,
                                   err, sizeof(err)),
            0);
        CU_ASSERT(sim_scenario_rule_count(sc) > 5);
        sim_scenario_unref(sc);
        CU_ASSERT_EQUAL(
            sim_scenario_load_file(ew_test_data("scenarios/faults.json"), &sc,
                                   err, sizeof(err)),
            0);
        CU_ASSERT(sim_scenario_rule_count(sc) > 10);
        sim_scenario_unref(sc);
        CU_ASSERT_EQUAL(
            sim_scenario_load_file(ew_test_data("scenarios/expose.json"), &sc,
                                   err, sizeof(err)),
            0);
        CU_ASSERT_EQUAL(sim_scenario_rule_count(sc), 0);
        sim_scenario_unref(sc);
        CU_ASSERT_EQUAL(sim_scenario_load_file(ew_test_data("no/such.json"),
                                               &sc, err, sizeof(err)),
                        -1);
        CU_ASSERT_PTR_NULL(sc);
}

static void test_scenario_first_match_wins(void)
{
        sim_scenario_t *sc = parse_scenario(
            "{\"default\":\"unavailable\",\"rules\":["
            "{\"match\":{\"sub\":\"c-*\",\"account\":\"1\"},"
            "\"behaviour\":\"conversation\"},"
            "{\"match\":\"c-?\",\"behaviour\":\"reject\"},"
            "{\"match\":{\"vid\":\"v*\"},\"behaviour\":\"expose\"}]}");
        static const struct {
                const char     *account, *sub, *consumer, *vid;
                sim_behaviour_t want;
                int             rule;
        } cases[] = {
            {"1", "c-1", NULL, NULL, SIM_B_CONVERSATION, 0},
            {"2", "c-1", NULL, NULL, SIM_B_REJECT, 1},
            {"2", NULL, "c-2", NULL, SIM_B_REJECT, 1},
            {"2", NULL, "c-22", NULL, SIM_B_UNAVAILABLE, -1},
            {"2", NULL, "c-22", "v9", SIM_B_EXPOSE, 2},
            {"1", NULL, "c-1", NULL, SIM_B_REJECT, 1},
            {"1", NULL, NULL, "x", SIM_B_UNAVAILABLE, -1},
        };
        sim_match_input_t in;
        sim_outcome_t     oc;
        size_t            i;
        int               failures = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                memset(&in, 0, sizeof(in));
                in.account     = cases[i].account;
                in.sub         = cases[i].sub;
                in.consumer_id = cases[i].consumer;
                in.vid         = cases[i].vid;
                sim_scenario_decide(sc, &in, &oc);
                if (oc.behaviour != cases[i].want || oc.rule != cases[i].rule) {
                        printf("\n  case %zu: %s rule %d\n", i,
                               sim_behaviour_name(oc.behaviour), oc.rule);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* reject takes the default code of its status */
        CU_ASSERT_EQUAL(oc.status, 0);
        in.sub     = "c-1";
        in.account = "2";
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.status, 400);
        CU_ASSERT_EQUAL(oc.internal_code, 5);
        sim_scenario_unref(sc);
}

static void test_scenario_fail_then(void)
{
        sim_scenario_t *sc = parse_scenario(
            "{\"rules\":[{\"match\":\"f-*\",\"behaviour\":\"fail\","
            "\"count\":2,\"status\":429,\"retryAfter\":7,"
            "\"then\":{\"behaviour\":\"expire\",\"count\":1,"
            "\"then\":\"conversation\"}}]}");
        static const sim_behaviour_t want[] = {SIM_B_FAIL, SIM_B_FAIL,
                                               SIM_B_EXPIRE, SIM_B_CONVERSATION,
                                               SIM_B_CONVERSATION};
        sim_match_input_t in = {.account = "a", .consumer_id = "f-1"};
        sim_outcome_t     oc;
        size_t            i;
        int               failures = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                sim_scenario_decide(sc, &in, &oc);
                if (oc.behaviour != want[i]) {
                        printf("\n  request %zu: %s\n", i,
                               sim_behaviour_name(oc.behaviour));
                        failures++;
                }
                if (i == 0 && (oc.status != 429 || oc.internal_code != 0 ||
                               strcmp(oc.retry_after, "7")))
                        failures++;
                if (i == 2 && (oc.status != 404 || oc.internal_code != 39))
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* another key starts from the beginning */
        in.consumer_id = "f-2";
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_FAIL);
        /* resetting the state starts every key over */
        sim_scenario_reset_state(sc);
        in.consumer_id = "f-1";
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_FAIL);
        sim_scenario_unref(sc);
}

/* Extracts the vid announced by a loading answer's message. */
static const char *announced_vid(const sim_outcome_t *oc)
{
        const char *p = strstr(oc->message, "vid: ");

        return p ? p + 5 : "";
}

static void test_scenario_loading(void)
{
        sim_scenario_t *sc = parse_scenario(
            "{\"rules\":[{\"match\":\"l-*\",\"behaviour\":\"loading\","
            "\"then\":\"unavailable\"}]}");
        sim_match_input_t in = {
            .account = "acc9", .sub = "l-1", .api_minor = 0};
        sim_outcome_t oc;
        char          vid[SIM_ID_MAX + 1];

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_LOADING);
        CU_ASSERT_EQUAL(oc.status, 500);
        CU_ASSERT_EQUAL(oc.internal_code, 20);
        CU_ASSERT_EQUAL(strncmp(oc.message, "Loading account: acc9, vid: ", 28),
                        0);
        snprintf(vid, sizeof(vid), "%s", announced_vid(&oc));
        CU_ASSERT(strlen(vid) > 10);

        /* a retry without the vid (or with another one) is still loading,
         * with the same vid announced; v1.1 answers 202/38 */
        in.api_minor = 1;
        in.vid       = "other";
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_LOADING);
        CU_ASSERT_EQUAL(oc.status, 202);
        CU_ASSERT_EQUAL(oc.internal_code, 38);
        CU_ASSERT_STRING_EQUAL(announced_vid(&oc), vid);

        in.vid = vid;
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_UNAVAILABLE);
        in.vid = NULL;
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_UNAVAILABLE);

        /* a consumer known only by a vid comes back with the announced one
         * (its key changes) */
        sim_scenario_unref(sc);
        sc = parse_scenario("{\"rules\":[{\"match\":{\"account\":\"acc9\"},"
                            "\"behaviour\":\"loading\","
                            "\"then\":\"unavailable\"}]}");
        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        memset(&in, 0, sizeof(in));
        in.account = "acc9";
        in.vid     = "l-vid";
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_LOADING);
        snprintf(vid, sizeof(vid), "%s", announced_vid(&oc));
        in.vid = vid;
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_UNAVAILABLE);
        sim_scenario_unref(sc);
}

static void test_scenario_latency(void)
{
        sim_scenario_t *sc = parse_scenario(
            "{\"default\":{\"behaviour\":\"fail\",\"latency\":{\"ms\":70},"
            "\"then\":{\"behaviour\":\"expose\",\"latency\":{\"min\":1,"
            "\"max\":5}}},\"rules\":[{\"match\":\"q\",\"behaviour\":"
            "\"close\",\"after\":\"partial\"}]}");
        sim_match_input_t in = {.account = "a", .consumer_id = "k"};
        sim_outcome_t     oc;

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_FAIL);
        CU_ASSERT(oc.has_latency && oc.latency_min_ms == 70 &&
                  oc.latency_max_ms == 70);
        CU_ASSERT_EQUAL(oc.status, 503);
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_EXPOSE);
        CU_ASSERT(oc.has_latency && oc.latency_min_ms == 1 &&
                  oc.latency_max_ms == 5);
        in.consumer_id = "q";
        sim_scenario_decide(sc, &in, &oc);
        CU_ASSERT_EQUAL(oc.behaviour, SIM_B_CLOSE);
        CU_ASSERT_EQUAL(oc.close_mode, SIM_CLOSE_PARTIAL);
        CU_ASSERT_EQUAL(oc.status, 200);
        CU_ASSERT_FALSE(oc.has_latency);
        sim_scenario_unref(sc);
}

/* ---- tables, sessions, timers ----------------------------------------- */

static int freed;

static void count_free(void *v)
{
        freed++;
        free(v);
}

static void test_lru(void)
{
        sim_lru_t *lru = sim_lru_new(3, count_free);
        char       key[16];
        int        i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(lru);
        freed = 0;
        CU_ASSERT_EQUAL(sim_lru_put(lru, "a", strdup("A"), 1), 0);
        CU_ASSERT_EQUAL(sim_lru_put(lru, "b", strdup("B"), 2), 0);
        CU_ASSERT_EQUAL(sim_lru_put(lru, "c", strdup("C"), 3), 0);
        /* touching a makes b the oldest */
        CU_ASSERT_STRING_EQUAL(sim_lru_get(lru, "a", 4, 0), "A");
        CU_ASSERT_EQUAL(sim_lru_put(lru, "d", strdup("D"), 5), 0);
        CU_ASSERT_PTR_NULL(sim_lru_get(lru, "b", 6, 0));
        CU_ASSERT_EQUAL(sim_lru_evictions(lru), 1);
        CU_ASSERT_EQUAL(sim_lru_count(lru), 3);
        /* replacing frees the old value */
        CU_ASSERT_EQUAL(sim_lru_put(lru, "d", strdup("D2"), 7), 0);
        CU_ASSERT_STRING_EQUAL(sim_lru_get(lru, "d", 8, 0), "D2");
        CU_ASSERT_EQUAL(freed, 2);
        /* c was last used at 3: older than 4 ms at time 8 */
        CU_ASSERT_PTR_NULL(sim_lru_get(lru, "c", 8, 4));
        CU_ASSERT_EQUAL(sim_lru_count(lru), 2);
        CU_ASSERT_EQUAL(sim_lru_expire(lru, 20, 13), 1); /* a (4) goes */
        CU_ASSERT_EQUAL(sim_lru_del(lru, "d"), 1);
        CU_ASSERT_EQUAL(sim_lru_del(lru, "d"), 0);
        CU_ASSERT_EQUAL(sim_lru_count(lru), 0);
        sim_lru_destroy(lru);

        /* growth keeps every entry findable */
        lru = sim_lru_new(5000, count_free);
        for (i = 0; i < 5000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                sim_lru_put(lru, key, strdup(key), i);
        }
        for (i = 0; i < 5000; i += 37) {
                snprintf(key, sizeof(key), "k%d", i);
                CU_ASSERT_PTR_NOT_NULL(sim_lru_get(lru, key, 6000, 0));
        }
        CU_ASSERT_EQUAL(sim_lru_clear(lru), 5000);
        sim_lru_destroy(lru);
}

static void test_sessions(void)
{
        sim_sessions_t      *ss = sim_sessions_new(2, 0);
        char                 sid[SIM_ID_MAX + 1], sid2[SIM_ID_MAX + 1];
        char                 vid[SIM_ID_MAX + 1], got[SIM_ID_MAX + 1];
        sim_sessions_stats_t st;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ss);
        CU_ASSERT_EQUAL(sim_sessions_create(ss, "acc", "myvid", sid, vid),
                        SIM_SESSIONS_OK);
        CU_ASSERT_STRING_EQUAL(vid, "myvid");
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", sid, NULL, got),
                        SIM_SESSIONS_OK);
        CU_ASSERT_STRING_EQUAL(got, "myvid");
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", sid, "myvid", got),
                        SIM_SESSIONS_OK);
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", sid, "x", got),
                        SIM_SESSIONS_VID_MISMATCH);
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "other", sid, NULL, got),
                        SIM_SESSIONS_UNKNOWN);
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", "nosuch", NULL, got),
                        SIM_SESSIONS_UNKNOWN);
        /* a new visitor gets a generated id */
        CU_ASSERT_EQUAL(sim_sessions_create(ss, "acc", NULL, sid2, vid),
                        SIM_SESSIONS_OK);
        CU_ASSERT_EQUAL(strlen(vid), 22);
        CU_ASSERT_STRING_NOT_EQUAL(sid, sid2);
        /* a third session evicts the one used longest ago (sid) */
        CU_ASSERT_EQUAL(sim_sessions_create(ss, "acc", NULL, sid2, vid),
                        SIM_SESSIONS_OK);
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", sid, NULL, got),
                        SIM_SESSIONS_UNKNOWN);
        sim_sessions_stats(ss, &st);
        CU_ASSERT_EQUAL(st.active, 2);
        CU_ASSERT_EQUAL(st.created, 3);
        CU_ASSERT_EQUAL(st.evicted, 1);
        CU_ASSERT_EQUAL(sim_sessions_expire_all(ss), 2);
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", sid2, NULL, got),
                        SIM_SESSIONS_UNKNOWN);

        /* idle TTL */
        sim_sessions_set_ttl(ss, 20);
        CU_ASSERT_EQUAL(sim_sessions_create(ss, "acc", NULL, sid, vid),
                        SIM_SESSIONS_OK);
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", sid, NULL, got),
                        SIM_SESSIONS_OK);
        msleep(60);
        CU_ASSERT_EQUAL(sim_sessions_lookup(ss, "acc", sid, NULL, got),
                        SIM_SESSIONS_UNKNOWN);
        sim_sessions_destroy(ss);
}

typedef struct fired {
        pthread_mutex_t lock;
        int             order[8];
        int             n;
} fired_t;

static fired_t fired_log = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static int     tags[8]   = {0, 1, 2, 3, 4, 5, 6, 7};

static void on_fire(void *arg)
{
        pthread_mutex_lock(&fired_log.lock);
        if (fired_log.n < 8)
                fired_log.order[fired_log.n++] = *(int *)arg;
        pthread_mutex_unlock(&fired_log.lock);
}

static void test_delay(void)
{
        char         err[128];
        sim_delay_t *dl = sim_delay_new(3, err, sizeof(err));

        CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
        fired_log.n = 0;
        CU_ASSERT_EQUAL(sim_delay_add(dl, 60, on_fire, &tags[1]), 0);
        CU_ASSERT_EQUAL(sim_delay_add(dl, 10, on_fire, &tags[2]), 0);
        CU_ASSERT_EQUAL(sim_delay_add(dl, 5000, on_fire, &tags[3]), 0);
        /* bounded */
        CU_ASSERT_EQUAL(sim_delay_add(dl, 1, on_fire, &tags[4]), -1);
        msleep(150);
        pthread_mutex_lock(&fired_log.lock);
        CU_ASSERT_EQUAL(fired_log.n, 2);
        CU_ASSERT_EQUAL(fired_log.order[0], 2);
        CU_ASSERT_EQUAL(fired_log.order[1], 1);
        pthread_mutex_unlock(&fired_log.lock);
        CU_ASSERT_EQUAL(sim_delay_pending(dl), 1);
        /* stop fires what waits, and refuses more */
        sim_delay_stop(dl);
        CU_ASSERT_EQUAL(fired_log.n, 3);
        CU_ASSERT_EQUAL(fired_log.order[2], 3);
        CU_ASSERT_EQUAL(sim_delay_add(dl, 1, on_fire, &tags[5]), -1);
        sim_delay_destroy(dl);
}

/* ---- engagement answers ----------------------------------------------- */

static json_object *call(sim_api_t *api, const char *v, const char *vid,
                         const char *sid, const char *body, int *status,
                         int *code)
{
        sim_request_t rq;
        sim_answer_t  ans;
        json_object  *out;
        sim_json_t   *doc = NULL;
        char          err[64];

        memset(&rq, 0, sizeof(rq));
        memset(&ans, 0, sizeof(ans));
        rq.method = "POST";
        rq.v      = v;
        rq.vid    = vid;
        rq.sid    = sid;
        rq.obh    = "true";
        if (body)
                doc = sim_json_parse(body, strlen(body), 64, err, sizeof(err));
        rq.json = doc ? sim_json_root(doc) : NULL;
        sim_api_engagement(api, &rq, "acc1", "app1", &ans);
        *status = ans.status;
        *code   = ans.internal_code;
        out     = ans.body ? json_tokener_parse(ans.body) : NULL;
        CU_ASSERT_STRING_EQUAL(ans.content_type, "application/octet-stream");
        sim_answer_clear(&ans);
        sim_json_free(doc);
        return out;
}

static const char *field(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
                                                     : NULL;
}

static void test_api_engagement(void)
{
        sim_api_t    api;
        char         err[128], sid[64], vid[64];
        json_object *o, *d;
        int          status, code;

        CU_ASSERT_EQUAL_FATAL(
            sim_api_init(&api, 100, 0, "app1,app2", NULL, err, sizeof(err)), 0);
        o = call(&api, "1.0", NULL, NULL, doc_body, &status, &code);
        CU_ASSERT_EQUAL(status, 201);
        CU_ASSERT_EQUAL(code, -1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(field(o, "sessionId"));
        CU_ASSERT_PTR_NOT_NULL(field(o, "pageId"));
        snprintf(sid, sizeof(sid), "%s", field(o, "sessionId"));
        snprintf(vid, sizeof(vid), "%s", field(o, "visitorId"));
        CU_ASSERT(json_object_object_get_ex(o, "engagementDetails", &d));
        CU_ASSERT_STRING_EQUAL(field(json_object_array_get_idx(d, 0), "status"),
                               "expose");
        json_object_put(o);

        o = call(&api, "1.1", vid, sid, doc_body, &status, &code);
        CU_ASSERT_EQUAL(status, 200);
        CU_ASSERT_STRING_EQUAL(field(o, "sessionId"), sid);
        CU_ASSERT_STRING_EQUAL(field(o, "visitorId"), vid);
        json_object_put(o);

        o = call(&api, "1.0", "wrong", sid, doc_body, &status, &code);
        CU_ASSERT_EQUAL(status, 404);
        CU_ASSERT_EQUAL(code, 37);
        json_object_put(o);
        o = call(&api, "1.0", NULL, "nosuch", doc_body, &status, &code);
        CU_ASSERT_EQUAL(status, 404);
        CU_ASSERT_EQUAL(code, 39);
        CU_ASSERT_STRING_EQUAL(field(o, "message"), "invalid sessionId");
        CU_ASSERT_PTR_NOT_NULL(field(o, "time"));
        json_object_put(o);
        o = call(&api, "2.0", NULL, NULL, doc_body, &status, &code);
        CU_ASSERT_EQUAL(status, 400);
        CU_ASSERT_EQUAL(code, 33);
        json_object_put(o);
        o = call(&api, "1.0", NULL, NULL, "{}", &status, &code);
        CU_ASSERT_EQUAL(status, 400);
        CU_ASSERT_EQUAL(code, 5);
        CU_ASSERT_STRING_EQUAL(field(o, "message"), "consumerId");
        json_object_put(o);
        o = call(&api, "1.0", NULL, NULL, NULL, &status, &code);
        CU_ASSERT_EQUAL(status, 400);
        CU_ASSERT_EQUAL(code, 5);
        json_object_put(o);
        sim_api_fini(&api);

        /* unknown app */
        CU_ASSERT_EQUAL_FATAL(
            sim_api_init(&api, 100, 0, "app7", NULL, err, sizeof(err)), 0);
        o = call(&api, "1.0", NULL, NULL, doc_body, &status, &code);
        CU_ASSERT_EQUAL(status, 404);
        CU_ASSERT_EQUAL(code, 18);
        json_object_put(o);
        /* the fail ratio: all of them */
        atomic_store(&api.fail_ppm, 1000000);
        atomic_store(&api.fail_status, 500);
        sim_api_fini(&api);
        CU_ASSERT_EQUAL_FATAL(
            sim_api_init(&api, 100, 0, NULL, NULL, err, sizeof(err)), 0);
        atomic_store(&api.fail_ppm, 1000000);
        atomic_store(&api.fail_status, 500);
        o = call(&api, "1.0", NULL, NULL, doc_body, &status, &code);
        CU_ASSERT_EQUAL(status, 500);
        CU_ASSERT_EQUAL(code, 18);
        json_object_put(o);
        sim_api_fini(&api);
}

static void test_api_loading_and_conversation(void)
{
        sim_api_t       api;
        char            err[128], vid[64];
        json_object    *o, *d;
        const char     *msg, *p;
        int             status, code;
        sim_scenario_t *sc = parse_scenario(
            "{\"rules\":[{\"match\":\"load\",\"behaviour\":\"loading\"},"
            "{\"match\":\"conv\",\"behaviour\":\"conversation\"},"
            "{\"match\":\"none\",\"behaviour\":\"unavailable\"}]}");

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_EQUAL_FATAL(
            sim_api_init(&api, 100, 0, NULL, sc, err, sizeof(err)), 0);
        o = call(&api, "1.1", NULL, NULL, "{\"consumerId\":\"load\"}", &status,
                 &code);
        CU_ASSERT_EQUAL(status, 202);
        CU_ASSERT_EQUAL(code, 38);
        msg = field(o, "message");
        p   = msg ? strstr(msg, "vid: ") : NULL;
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        snprintf(vid, sizeof(vid), "%s", p + 5);
        json_object_put(o);
        o = call(&api, "1.1", vid, NULL, "{\"consumerId\":\"load\"}", &status,
                 &code);
        CU_ASSERT_EQUAL(status, 201);
        CU_ASSERT_STRING_EQUAL(field(o, "visitorId"), vid);
        json_object_put(o);

        o = call(&api, "1.0", NULL, NULL, "{\"consumerId\":\"conv\"}", &status,
                 &code);
        CU_ASSERT_EQUAL(status, 201);
        CU_ASSERT_FATAL(json_object_object_get_ex(o, "engagementDetails", &d));
        d = json_object_array_get_idx(d, 0);
        CU_ASSERT_STRING_EQUAL(field(d, "status"), "conversation");
        CU_ASSERT_PTR_NOT_NULL(field(d, "conversationId"));
        json_object_put(o);

        o = call(&api, "1.0", NULL, NULL, "{\"consumerId\":\"none\"}", &status,
                 &code);
        CU_ASSERT_EQUAL(status, 201);
        CU_ASSERT_FALSE(json_object_object_get_ex(o, "engagementDetails", &d));
        CU_ASSERT_PTR_NOT_NULL(field(o, "pageId"));
        json_object_put(o);
        sim_api_fini(&api);
}

static void test_api_domain(void)
{
        sim_api_t     api;
        sim_request_t rq;
        sim_answer_t  ans;
        char          err[128];
        json_object  *o;

        CU_ASSERT_EQUAL_FATAL(
            sim_api_init(&api, 10, 0, NULL, NULL, err, sizeof(err)), 0);
        snprintf(api.csds_base_uri, sizeof(api.csds_base_uri),
                 "127.0.0.1:9999");
        memset(&rq, 0, sizeof(rq));
        memset(&ans, 0, sizeof(ans));
        sim_api_domain(&api, &rq, "acc5", "smt", &ans);
        CU_ASSERT_EQUAL(ans.status, 200);
        o = json_tokener_parse(ans.body);
        CU_ASSERT_STRING_EQUAL(field(o, "service"), "smt");
        CU_ASSERT_STRING_EQUAL(field(o, "account"), "acc5");
        CU_ASSERT_STRING_EQUAL(field(o, "baseURI"), "127.0.0.1:9999");
        json_object_put(o);
        sim_answer_clear(&ans);
        sim_api_domain(&api, &rq, "acc5", "asyncMessagingEnt", &ans);
        CU_ASSERT_EQUAL(ans.status, 404);
        sim_answer_clear(&ans);
        sim_api_fini(&api);
}

static const ew_test_case_t json_cases[] = {
    {"grammar", test_json_grammar},
    {"values", test_json_values},
    {"writer", test_json_writer},
    {NULL, NULL},
};
static const ew_test_case_t validate_cases[] = {
    {"version", test_version},
    {"obh", test_obh},
    {"body", test_body},
    {NULL, NULL},
};
static const ew_test_case_t scenario_cases[] = {
    {"parse_errors", test_scenario_parse_errors},
    {"file", test_scenario_file},
    {"first_match_wins", test_scenario_first_match_wins},
    {"fail_then", test_scenario_fail_then},
    {"loading", test_scenario_loading},
    {"latency", test_scenario_latency},
    {NULL, NULL},
};
static const ew_test_case_t table_cases[] = {
    {"lru", test_lru},
    {"sessions", test_sessions},
    {"delay", test_delay},
    {NULL, NULL},
};
static const ew_test_case_t api_cases[] = {
    {"engagement", test_api_engagement},
    {"loading_and_conversation", test_api_loading_and_conversation},
    {"domain", test_api_domain},
    {NULL, NULL},
};
static const ew_test_suite_t suites[] = {
    {"json", json_cases},         {"validate", validate_cases},
    {"scenario", scenario_cases}, {"tables", table_cases},
    {"api", api_cases},           {NULL, NULL},
};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
