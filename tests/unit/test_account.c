/*
 * test_account - per-account host discovery state, token bucket and
 * circuit breaker (ew_account).
 */
#include <stdlib.h>
#include <string.h>

#include "ew_account.h"
#include "ew_test.h"

static ew_account_conf_t conf_default(void)
{
        ew_account_conf_t c;

        memset(&c, 0, sizeof(c));
        c.base_url      = "http://127.0.0.1:1";
        c.failure_ratio = 0.5;
        c.min_requests  = 4;
        c.window_ms     = 1000;
        c.cooldown_ms   = 500;
        c.domain_ttl_ms = 10000;
        return c;
}

static void test_unlimited_admits(void)
{
        ew_account_conf_t c    = conf_default();
        ew_account_t     *a    = ew_account_new("acc", &c, 0);
        int64_t           wake = -1;
        int               i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_STRING_EQUAL(a->base_url, "http://127.0.0.1:1");
        for (i = 0; i < 10000; i++)
                CU_ASSERT_EQUAL(ew_account_admit(a, 0, &wake), EW_ADMIT_OK);
        ew_account_destroy(a);
}

static void test_rate_limit(void)
{
        ew_account_conf_t c = conf_default();
        ew_account_t     *a;
        int64_t           wake = -1, t;
        int               ok   = 0, i;

        c.rate_per_s = 10; /* bucket of 10 */
        a            = ew_account_new("acc", &c, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        for (i = 0; i < 20; i++)
                if (ew_account_admit(a, 0, &wake) == EW_ADMIT_OK)
                        ok++;
        CU_ASSERT_EQUAL(ok, 10); /* the burst */
        CU_ASSERT_EQUAL(ew_account_admit(a, 0, &wake), EW_ADMIT_WAIT_RATE);
        CU_ASSERT_EQUAL(wake, 100); /* one token every 100 ms */
        CU_ASSERT_EQUAL(ew_account_admit(a, 99, &wake), EW_ADMIT_WAIT_RATE);
        CU_ASSERT_EQUAL(ew_account_admit(a, 100, &wake), EW_ADMIT_OK);

        /* Over 10 s of steady demand, 10/s get through (plus nothing
         * more: the bucket was drained). */
        ok = 0;
        for (t = 101; t <= 10100; t++)
                while (ew_account_admit(a, t, &wake) == EW_ADMIT_OK)
                        ok++;
        CU_ASSERT(ok >= 99 && ok <= 100);
        ew_account_destroy(a);
}

static void test_circuit_opens_and_probes(void)
{
        ew_account_conf_t c    = conf_default();
        ew_account_t     *a    = ew_account_new("acc", &c, 0);
        int64_t           wake = -1;
        int               i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        /* 3 calls, all failed: under min_requests, stays closed. */
        for (i = 0; i < 3; i++)
                CU_ASSERT_EQUAL(ew_account_record(a, 10, 1), 0);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_CLOSED);
        /* The 4th makes 4/4 failed: open. */
        CU_ASSERT_EQUAL(ew_account_record(a, 20, 1), 1);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_OPEN);
        CU_ASSERT_EQUAL(ew_account_admit(a, 30, &wake), EW_ADMIT_WAIT_CIRCUIT);
        CU_ASSERT_EQUAL(wake, 520);
        /* After the cool-down exactly one probe goes. */
        CU_ASSERT_EQUAL(ew_account_admit(a, 520, &wake), EW_ADMIT_OK);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_HALF_OPEN);
        CU_ASSERT_EQUAL(ew_account_admit(a, 521, &wake), EW_ADMIT_WAIT_CIRCUIT);
        /* The probe fails: open again for a cool-down. */
        CU_ASSERT_EQUAL(ew_account_record(a, 600, 1), 1);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_OPEN);
        CU_ASSERT_EQUAL(ew_account_admit(a, 1099, &wake),
                        EW_ADMIT_WAIT_CIRCUIT);
        CU_ASSERT_EQUAL(ew_account_admit(a, 1100, &wake), EW_ADMIT_OK);
        /* This probe succeeds: closed, window cleared. */
        CU_ASSERT_EQUAL(ew_account_record(a, 1150, 0), 1);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_CLOSED);
        CU_ASSERT_EQUAL(ew_account_record(a, 1160, 1), 0);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_CLOSED);
        ew_account_destroy(a);
}

static void test_circuit_ratio_and_window(void)
{
        ew_account_conf_t c = conf_default();
        ew_account_t     *a = ew_account_new("acc", &c, 0);
        int               i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        /* 10 successes and 9 failures: 47% < 50%. */
        for (i = 0; i < 10; i++)
                ew_account_record(a, 100, 0);
        for (i = 0; i < 9; i++)
                ew_account_record(a, 100, 1);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_CLOSED);
        /* Old calls leave the 1 s window: 4 fresh failures alone open it. */
        for (i = 0; i < 3; i++)
                CU_ASSERT_EQUAL(ew_account_record(a, 1500, 1), 0);
        CU_ASSERT_EQUAL(ew_account_record(a, 1500, 1), 1);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_OPEN);
        ew_account_destroy(a);

        /* A ratio of 0 turns the breaker off. */
        c.failure_ratio = 0;
        a               = ew_account_new("acc", &c, 0);
        for (i = 0; i < 100; i++)
                CU_ASSERT_EQUAL(ew_account_record(a, 10, 1), 0);
        CU_ASSERT_EQUAL(a->circuit, EW_CIRCUIT_CLOSED);
        ew_account_destroy(a);
}

static void test_domain_discovery(void)
{
        ew_account_conf_t c = conf_default();
        ew_account_t     *a;
        int64_t           wake = -1, backoff;

        c.base_url = NULL;
        a          = ew_account_new("acc", &c, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NULL(a->base_url);
        CU_ASSERT_EQUAL(ew_account_admit(a, 0, &wake), EW_ADMIT_WAIT_DOMAIN);
        CU_ASSERT_EQUAL(ew_account_domain_due(a, 0), 1);
        CU_ASSERT_EQUAL(ew_account_domain_due(a, 0), 0); /* one at a time */
        CU_ASSERT_EQUAL(ew_account_admit(a, 0, &wake), EW_ADMIT_WAIT_DOMAIN);

        /* Failures back off 1 s, 2 s, 4 s... and events keep waiting. */
        backoff = ew_account_domain_failed(a, 0);
        CU_ASSERT_EQUAL(backoff, 1000);
        CU_ASSERT_EQUAL(a->domain, EW_DOMAIN_FAILED);
        CU_ASSERT_EQUAL(ew_account_domain_due(a, 999), 0);
        CU_ASSERT_EQUAL(ew_account_domain_due(a, 1000), 1);
        CU_ASSERT_EQUAL(ew_account_domain_failed(a, 1000), 2000);

        CU_ASSERT_EQUAL(ew_account_domain_due(a, 3000), 1);
        CU_ASSERT_EQUAL(ew_account_domain_set(a, "http://h:1", 3000), 0);
        CU_ASSERT_EQUAL(ew_account_admit(a, 3000, &wake), EW_ADMIT_OK);
        CU_ASSERT_STRING_EQUAL(a->base_url, "http://h:1");

        /* TTL: refreshed in the background, the old host still serves. */
        CU_ASSERT_EQUAL(ew_account_domain_due(a, 12999), 0);
        CU_ASSERT_EQUAL(ew_account_domain_due(a, 13000), 1);
        CU_ASSERT_EQUAL(a->domain, EW_DOMAIN_REFRESH);
        CU_ASSERT_EQUAL(ew_account_admit(a, 13000, &wake), EW_ADMIT_OK);
        /* A failed refresh keeps the host. */
        ew_account_domain_failed(a, 13000);
        CU_ASSERT_EQUAL(a->domain, EW_DOMAIN_READY);
        CU_ASSERT_STRING_EQUAL(a->base_url, "http://h:1");
        CU_ASSERT_EQUAL(ew_account_domain_set(a, "https://other", 20000), 0);
        CU_ASSERT_STRING_EQUAL(a->base_url, "https://other");
        ew_account_destroy(a);
}

static void test_configured_host_never_looked_up(void)
{
        ew_account_conf_t c = conf_default();
        ew_account_t     *a = ew_account_new("acc", &c, 0);

        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_EQUAL(ew_account_domain_due(a, 0), 0);
        CU_ASSERT_EQUAL(ew_account_domain_due(a, INT64_MAX - 1), 0);
        ew_account_destroy(a);
        ew_account_destroy(NULL);
}

static void test_parse_domain(void)
{
        static const struct {
                const char *body;
                const char *want; /* NULL: refused */
        } cases[] = {
            {"{\"service\":\"smt\",\"account\":\"1\",\"baseURI\":"
             "\"va-a.v.liveperson.net\"}",
             "https://va-a.v.liveperson.net"},
            {"{\"baseURI\":\"127.0.0.1:8080\"}", "https://127.0.0.1:8080"},
            {"{\"baseURI\":\"\"}", NULL},
            {"{\"baseURI\":\"evil.example/path\"}", NULL},
            {"{\"baseURI\":\"user@evil.example\"}", NULL},
            {"{\"baseURI\":42}", NULL},
            {"{\"service\":\"smt\"}", NULL},
            {"[]", NULL},
            {"not json", NULL},
            {"", NULL},
        };
        size_t i;
        int    failures = 0;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char  err[128] = "";
                char *url      = ew_account_parse_domain(cases[i].body,
                                                         strlen(cases[i].body),
                                                         "https", err, sizeof(err));
                int   ok = cases[i].want ? (url && !strcmp(url, cases[i].want))
                                         : (url == NULL && err[0] != '\0');
                if (!ok) {
                        printf("\n  case %zu: got %s", i, url ? url : err);
                        failures++;
                }
                free(url);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static const ew_test_case_t cases[] = {
    {"unlimited_admits", test_unlimited_admits},
    {"rate_limit", test_rate_limit},
    {"circuit_opens_and_probes", test_circuit_opens_and_probes},
    {"circuit_ratio_and_window", test_circuit_ratio_and_window},
    {"domain_discovery", test_domain_discovery},
    {"configured_host_never_looked_up", test_configured_host_never_looked_up},
    {"parse_domain", test_parse_domain},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"account", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
