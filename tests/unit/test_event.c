/*
 * test_event - the inbound event contract (ew_event).
 *
 * Most rules are in two tables, valid_cases and invalid_cases; each invalid
 * case names the substring its message must contain (the field path, so a
 * message that names the wrong field fails). Fixtures live in
 * tests/data/events.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ew_event.h"
#include "ew_test.h"
#include "ew_util.h"

static const ew_source_t src = {"visitor-activity", 3, 42};

/* Parses a copy of s[0..len) in a buffer of exactly len bytes, so ASan
 * catches any read past the end. Returns the parse result. */
static int parse_n(const char *s, size_t len, const ew_event_limits_t *lim,
                   ew_event_t **evp, char *id, size_t id_size, char *err,
                   size_t err_size)
{
        char *copy = malloc(len ? len : 1);
        int   r;

        if (len)
                memcpy(copy, s, len);
        r = ew_event_parse(copy, len, lim, &src, evp, id, id_size, err,
                           err_size);
        free(copy);
        return r;
}

static int parse(const char *s, ew_event_t **evp, char *err, size_t err_size)
{
        return parse_n(s, strlen(s), NULL, evp, NULL, 0, err, err_size);
}

/* Expects s to be refused with a message containing want. Returns 1 on
 * a mismatch (and says why), else 0. */
static int expect_refused_n(const char *name, const char *s, size_t len,
                            const ew_event_limits_t *lim, const char *want)
{
        ew_event_t *ev       = (ew_event_t *)&ev; /* must be reset to NULL */
        char        err[512] = "";
        int         r;

        r = parse_n(s, len, lim, &ev, NULL, 0, err, sizeof(err));
        if (r != -1 || ev != NULL) {
                fprintf(stderr, "  %s: accepted, expected '%s'\n", name, want);
                if (r == 0)
                        ew_event_destroy(ev);
                return 1;
        }
        if (!strstr(err, want)) {
                fprintf(stderr, "  %s: message '%s' lacks '%s'\n", name, err,
                        want);
                return 1;
        }
        return 0;
}

static int expect_refused(const char *name, const char *s, const char *want)
{
        return expect_refused_n(name, s, strlen(s), NULL, want);
}

typedef struct valid_case {
        const char *name;
        const char *json;
} valid_case_t;

static const valid_case_t valid_cases[] = {
    {"consumer_only", "{\"consumerId\":\"c1\"}"},
    {"visitor_only", "{\"visitorId\":\"v1\"}"},
    {"visitor_and_session", "{\"visitorId\":\"v1\",\"sessionId\":\"s1\"}"},
    {"identity_only", "{\"identities\":[{\"acr\":\"0\",\"sub\":\"a\"}]}"},
    {"identity_loa1_iss",
     "{\"identities\":[{\"iss\":\"https://x\",\"acr\":\"loa1\",\"sub\":"
     "\"a\"}]}"},
    {"unknown_top_level_ignored",
     "{\"consumerId\":\"c\",\"producer\":{\"x\":[1,2]},\"ts\":1}"},
    {"null_top_level_is_absent",
     "{\"consumerId\":\"c\",\"visitorId\":null,\"sessionId\":null,"
     "\"clientProperties\":null,\"identities\":null,\"eventId\":null}"},
    {"whitespace_around", " \t\r\n{\"consumerId\":\"c\"} \n\t "},
    {"utf8_values",
     "{\"consumerId\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"visitorId\":"
     "\"\\u00e9\\ud83d\\ude00\"}"},
    {"escapes", "{\"consumerId\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}"},
    {"numbers", "{\"consumerId\":\"c\",\"x\":[0,-0,1.5,-0.5e-3,1E+2,1e400,"
                "9223372036854775807,-9223372036854775808]}"},
    {"literals", "{\"consumerId\":\"c\",\"x\":[true,false,null]}"},
    {"os_and_osname_agree",
     "{\"consumerId\":\"c\",\"clientProperties\":{\"os\":\"IOS\","
     "\"osName\":\"IOS\"}}"},
    {"os_windows", "{\"consumerId\":\"c\",\"clientProperties\":{\"os\":"
                   "\"WINDOWS\"}}"},
    {"os_mac", "{\"consumerId\":\"c\",\"clientProperties\":{\"osName\":"
               "\"MAC_OSX\"}}"},
    {"os_linux", "{\"consumerId\":\"c\",\"clientProperties\":{\"os\":"
                 "\"LINUX\"}}"},
    {"os_android", "{\"consumerId\":\"c\",\"clientProperties\":{\"os\":"
                   "\"ANDROID\"}}"},
    {"family_desktop", "{\"consumerId\":\"c\",\"clientProperties\":{"
                       "\"deviceFamily\":\"DESKTOP\"}}"},
    {"family_tablet", "{\"consumerId\":\"c\",\"clientProperties\":{"
                      "\"deviceFamily\":\"TABLET\"}}"},
    {"family_mobile", "{\"consumerId\":\"c\",\"clientProperties\":{"
                      "\"deviceFamily\":\"MOBILE\"}}"},
    {"ip_zeros", "{\"consumerId\":\"c\",\"clientProperties\":{"
                 "\"ipAddress\":\"0.0.0.0\"}}"},
    {"ip_max", "{\"consumerId\":\"c\",\"clientProperties\":{"
               "\"ipAddress\":\"255.255.255.255\"}}"},
    {"ip_zero_parts", "{\"consumerId\":\"c\",\"clientProperties\":{"
                      "\"ipAddress\":\"10.0.0.1\"}}"},
    {"ip_escaped", "{\"consumerId\":\"c\",\"clientProperties\":{"
                   "\"ipAddress\":\"192.168\\u002e5.2\\u0035\"}}"},
    {"client_extra_scalars",
     "{\"consumerId\":\"c\",\"clientProperties\":{\"type\":\"APP\","
     "\"timestamp\":1700000000000,\"beta\":true,\"ratio\":0.5}}"},
    {"empty_client_properties",
     "{\"consumerId\":\"c\",\"clientProperties\":{}}"},
    {"entry_points_empty", "{\"consumerId\":\"c\",\"entryPoints\":[]}"},
    {"entry_points",
     "{\"consumerId\":\"c\",\"entryPoints\":[\"tel://1\",\"sec://x\"]}"},
    {"attributes_empty", "{\"consumerId\":\"c\",\"engagementAttributes\":[]}"},
    {"attr_cart", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                  "\"type\":\"cart\",\"total\":1,\"products\":[{"
                  "\"product\":{\"name\":\"p\"},\"quantity\":1}]}]}"},
    {"attr_purchase",
     "{\"consumerId\":\"c\",\"engagementAttributes\":[{\"type\":"
     "\"purchase\",\"orderId\":\"o\",\"cart\":{\"products\":[]}}]}"},
    {"attr_prodview", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                      "\"type\":\"prodView\",\"products\":[]}]}"},
    {"attr_ctmrinfo", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                      "\"type\":\"ctmrinfo\",\"info\":{\"ctype\":\"v\"}}"
                      "]}"},
    {"attr_mrktinfo", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                      "\"type\":\"mrktInfo\",\"info\":{}}]}"},
    {"attr_personal", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                      "\"type\":\"personal\",\"personal\":{\"contacts\":"
                      "[{\"email\":\"e\"}]}}]}"},
    {"attr_lead", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                  "\"type\":\"lead\",\"lead\":{\"topic\":\"t\"}}]}"},
    {"attr_service_0", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                       "\"type\":\"service\",\"service\":{\"status\":0}}"
                       "]}"},
    {"attr_service_13", "{\"consumerId\":\"c\",\"engagementAttributes\":"
                        "[{\"type\":\"service\",\"service\":{\"status\":"
                        "13}}]}"},
    {"attr_error", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                   "\"type\":\"error\",\"error\":{\"code\":\"e1\"}}]}"},
    {"attr_search", "{\"consumerId\":\"c\",\"engagementAttributes\":[{"
                    "\"type\":\"searchInfo\",\"keywords\":[\"a\",\"b\"]}"
                    "]}"},
    {"sub_256_bytes", NULL}, /* built in the test */
};

static void test_valid_table(void)
{
        char   sub_json[512], err[512];
        int    failures = 0;
        size_t i;

        /* The longest accepted sub. */
        snprintf(sub_json, sizeof(sub_json),
                 "{\"identities\":[{\"acr\":\"0\",\"sub\":\"%0256d\"}]}", 0);
        for (i = 0; i < EW_ARRAY_SIZE(valid_cases); i++) {
                const char *json =
                    valid_cases[i].json ? valid_cases[i].json : sub_json;
                ew_event_t *ev = NULL;

                err[0] = '\0';
                if (parse(json, &ev, err, sizeof(err)) != 0 || !ev) {
                        fprintf(stderr, "  %s: refused: %s\n",
                                valid_cases[i].name, err);
                        failures++;
                }
                ew_event_destroy(ev);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

typedef struct invalid_case {
        const char *name;
        const char *json;
        const char *want; /* substring of the message */
} invalid_case_t;

#define CID "\"consumerId\":\"c\","
#define ATTR(x) "{" CID "\"engagementAttributes\":[" x "]}"
#define CPROP(x) "{" CID "\"clientProperties\":{" x "}}"
#define IDS(x) "{\"identities\":[" x "]}"

static const invalid_case_t invalid_cases[] = {
    /* Not an object, not JSON. */
    {"whitespace_only", "   ", "value is not JSON"},
    {"array", "[{\"consumerId\":\"c\"}]",
     "value must be a JSON object, got array"},
    {"string", "\"c\"", "value must be a JSON object, got string"},
    {"number", "42", "value must be a JSON object, got number"},
    {"null", "null", "value must be a JSON object, got null"},
    {"boolean", "true", "value must be a JSON object, got boolean"},
    {"truncated", "{\"consumerId\":\"c\"", "value is not JSON"},
    {"trailing_garbage", "{\"consumerId\":\"c\"} x",
     "trailing data after the JSON value at offset 19"},
    {"two_objects", "{\"consumerId\":\"c\"}{}", "trailing data"},
    {"trailing_comma", "{\"consumerId\":\"c\",}", "value is not JSON"},
    {"missing_colon", "{\"consumerId\" \"c\"}", "value is not JSON"},
    {"bad_literal", "{" CID "\"x\":fals}", "value is not JSON"},
    /* What strict json-c let through (before ew_json). */
    {"single_quoted_key", "{'consumerId':\"c\"}", "unexpected '''"},
    {"nan", "{" CID "\"x\":NaN}", "unexpected 'N'"},
    {"infinity", "{" CID "\"x\":-Infinity}", "invalid number"},
    {"leading_zeros", "{" CID "\"x\":00}", "invalid number"},
    {"leading_zero_neg", "{" CID "\"x\":-01}", "invalid number"},
    {"dot_without_digits", "{" CID "\"x\":1.}", "invalid number"},
    {"int_over_max", "{" CID "\"x\":9223372036854775808}",
     "integer outside the 64-bit range"},
    {"int_under_min", "{" CID "\"x\":-9223372036854775809}",
     "integer outside the 64-bit range"},
    {"int_huge", "{" CID "\"x\":[99999999999999999999999]}",
     "integer outside the 64-bit range"},
    {"raw_tab_in_string", "{\"consumerId\":\"a\tb\"}",
     "control character 0x09"},
    {"lone_high_surrogate", "{\"consumerId\":\"\\ud800x\"}",
     "lone surrogate \\ud800"},
    {"lone_low_surrogate", "{\"consumerId\":\"\\udc00\"}",
     "lone surrogate \\udc00"},
    {"bad_escape", "{\"consumerId\":\"\\x\"}", "value is not JSON"},
    {"nul_in_key", "{\"consumerId\\u0000x\":\"c\"}",
     "a key holds \\u0000 at offset 1"},
    /* Identifiers. */
    {"event_id_number", "{" CID "\"eventId\":7}",
     "eventId: must be a string, got number"},
    {"event_id_empty", "{" CID "\"eventId\":\"\"}",
     "eventId: must not be empty"},
    {"account_number", "{" CID "\"accountId\":123}",
     "accountId: must be a string, got number"},
    {"account_empty", "{" CID "\"accountId\":\"\"}",
     "accountId: must not be empty"},
    {"app_array", "{" CID "\"appInstallationId\":[\"a\"]}",
     "appInstallationId: must be a string, got array"},
    {"visitor_object", "{\"visitorId\":{}}",
     "visitorId: must be a string, got object"},
    {"session_bool", "{\"visitorId\":\"v\",\"sessionId\":true}",
     "sessionId: must be a string, got boolean"},
    {"consumer_number", "{\"consumerId\":5}",
     "consumerId: must be a string, got number"},
    {"consumer_nul", "{\"consumerId\":\"a\\u0000b\"}",
     "consumerId: must not contain NUL"},
    {"session_without_visitor", "{" CID "\"sessionId\":\"s\"}",
     "sessionId: requires visitorId"},
    {"nobody", "{\"accountId\":\"1\",\"entryPoints\":[\"x\"]}",
     "event must carry at least one of identities, consumerId, "
     "visitorId"},
    {"empty_object", "{}", "event must carry at least one of"},
    /* identities */
    {"ids_object", "{\"identities\":{}}",
     "identities: must be an array, got object"},
    {"ids_empty", "{\"identities\":[]}", "identities: must not be empty"},
    {"ids_entry_string", IDS("\"a\""),
     "identities[0]: must be an object, got string"},
    {"ids_acr_missing", IDS("{\"sub\":\"a\"}"), "identities[0].acr: required"},
    {"ids_acr_number", IDS("{\"acr\":0,\"sub\":\"a\"}"),
     "identities[0].acr: must be a string, got number"},
    {"ids_acr_2",
     IDS("{\"acr\":\"0\",\"sub\":\"a\"},{\"acr\":\"2\","
         "\"sub\":\"b\"}"),
     "identities[1].acr: must be \"0\" or \"loa1\", got \"2\""},
    {"ids_acr_case", IDS("{\"acr\":\"LOA1\",\"sub\":\"a\"}"),
     "identities[0].acr: must be \"0\" or \"loa1\", got \"LOA1\""},
    {"ids_acr_nul", IDS("{\"acr\":\"0\\u0000x\",\"sub\":\"a\"}"),
     "identities[0].acr: must be \"0\" or \"loa1\", got \"0\\x00x\""},
    {"ids_sub_missing", IDS("{\"acr\":\"0\"}"), "identities[0].sub: required"},
    {"ids_sub_empty", IDS("{\"acr\":\"0\",\"sub\":\"\"}"),
     "identities[0].sub: must not be empty"},
    {"ids_sub_number", IDS("{\"acr\":\"0\",\"sub\":12}"),
     "identities[0].sub: must be a string, got number"},
    {"ids_sub_null", IDS("{\"acr\":\"0\",\"sub\":null}"),
     "identities[0].sub: must be a string, got null"},
    {"ids_iss_number", IDS("{\"acr\":\"0\",\"sub\":\"a\",\"iss\":1}"),
     "identities[0].iss: must be a string, got number"},
    {"ids_unknown_field", IDS("{\"acr\":\"0\",\"sub\":\"a\",\"x\":1}"),
     "identities[0].\"x\": unknown field"},
    /* clientProperties */
    {"cp_string", "{" CID "\"clientProperties\":\"x\"}",
     "clientProperties: must be an object, got string"},
    {"cp_family_case", CPROP("\"deviceFamily\":\"desktop\""),
     "clientProperties.deviceFamily: must be one of DESKTOP, TABLET, "
     "MOBILE, got \"desktop\""},
    {"cp_family_number", CPROP("\"deviceFamily\":1"),
     "clientProperties.deviceFamily: must be a string, got number"},
    {"cp_os_bad", CPROP("\"os\":\"Windows\""),
     "clientProperties.os: must be one of WINDOWS, MAC_OSX, LINUX, IOS, "
     "ANDROID, got \"Windows\""},
    {"cp_osname_bad", CPROP("\"osName\":\"MACOS\""),
     "clientProperties.osName: must be one of"},
    {"cp_os_disagree", CPROP("\"os\":\"IOS\",\"osName\":\"ANDROID\""),
     "clientProperties.osName: disagrees with clientProperties.os"},
    {"cp_ip_leading_zero", CPROP("\"ipAddress\":\"01.2.3.4\""),
     "clientProperties.ipAddress: must be an IPv4 address"},
    {"cp_ip_leading_zero_last", CPROP("\"ipAddress\":\"1.2.3.04\""),
     "clientProperties.ipAddress: must be an IPv4 address"},
    {"cp_ip_256", CPROP("\"ipAddress\":\"256.1.1.1\""),
     "clientProperties.ipAddress: must be an IPv4 address"},
    {"cp_ip_three_parts", CPROP("\"ipAddress\":\"1.2.3\""),
     "clientProperties.ipAddress"},
    {"cp_ip_five_parts", CPROP("\"ipAddress\":\"1.2.3.4.5\""),
     "clientProperties.ipAddress"},
    {"cp_ip_v6", CPROP("\"ipAddress\":\"::1\""),
     "clientProperties.ipAddress: must be an IPv4 address (a.b.c.d, "
     "parts 0-255 without leading zeros)"},
    {"cp_ip_space", CPROP("\"ipAddress\":\" 1.2.3.4\""),
     "clientProperties.ipAddress"},
    {"cp_ip_host", CPROP("\"ipAddress\":\"localhost\""),
     "clientProperties.ipAddress"},
    {"cp_ip_trailing_dot", CPROP("\"ipAddress\":\"1.2.3.\""),
     "clientProperties.ipAddress"},
    {"cp_ip_empty_part", CPROP("\"ipAddress\":\"1..2.3\""),
     "clientProperties.ipAddress"},
    {"cp_ip_four_digits", CPROP("\"ipAddress\":\"1234.1.1.1\""),
     "clientProperties.ipAddress"},
    {"cp_ip_dot_after", CPROP("\"ipAddress\":\"1.2.3.4.\""),
     "clientProperties.ipAddress"},
    {"cp_ip_space_after", CPROP("\"ipAddress\":\"1.2.3.4 \""),
     "clientProperties.ipAddress"},
    {"cp_ip_sign", CPROP("\"ipAddress\":\"1.2.+3.4\""),
     "clientProperties.ipAddress"},
    {"cp_ip_escaped_bad", CPROP("\"ipAddress\":\"1.2.3.\\u0030\\u0031\""),
     "clientProperties.ipAddress"},
    {"cp_ip_number", CPROP("\"ipAddress\":1234"),
     "clientProperties.ipAddress: must be a string, got number"},
    {"cp_app_version_number", CPROP("\"appVersion\":1.0"),
     "clientProperties.appVersion: must be a string, got number"},
    {"cp_os_version_null", CPROP("\"osVersion\":null"),
     "clientProperties.osVersion: must be a string, got null"},
    {"cp_extra_object", CPROP("\"extra\":{}"),
     "clientProperties.\"extra\": must be a string, number or boolean, "
     "got object"},
    {"cp_extra_array", CPROP("\"extra\":[]"),
     "clientProperties.\"extra\": must be a string, number or boolean, "
     "got array"},
    {"cp_extra_null", CPROP("\"extra\":null"), "got null"},
    /* entryPoints */
    {"ep_string", "{" CID "\"entryPoints\":\"tel://1\"}",
     "entryPoints: must be an array, got string"},
    {"ep_number", "{" CID "\"entryPoints\":[\"a\",2]}",
     "entryPoints[1]: must be a string, got number"},
    {"ep_empty_string", "{" CID "\"entryPoints\":[\"\"]}",
     "entryPoints[0]: must not be empty"},
    /* engagementAttributes */
    {"ea_object", "{" CID "\"engagementAttributes\":{}}",
     "engagementAttributes: must be an array, got object"},
    {"ea_entry_string", ATTR("\"cart\""),
     "engagementAttributes[0]: must be an object, got string"},
    {"ea_type_missing", ATTR("{\"total\":1}"),
     "engagementAttributes[0].type: required"},
    {"ea_type_number", ATTR("{\"type\":1}"),
     "engagementAttributes[0].type: must be a string, got number"},
    {"ea_imp_display", ATTR("{\"type\":\"impDisplay\"}"),
     "engagementAttributes[0].type: impression event 'impDisplay' "
     "belongs to the report method and is not accepted by engagement"},
    {"ea_imp_accept", ATTR("{\"type\":\"cart\"},{\"type\":\"impAccept\"}"),
     "engagementAttributes[1].type: impression event 'impAccept'"},
    {"ea_imp_expanded", ATTR("{\"type\":\"impExpanded\"}"),
     "impression event 'impExpanded'"},
    {"ea_imp_timeout", ATTR("{\"type\":\"impTimeout\"}"),
     "impression event 'impTimeout'"},
    {"ea_imp_close", ATTR("{\"type\":\"impClose\"}"),
     "impression event 'impClose'"},
    {"ea_unknown", ATTR("{\"type\":\"wishlist\"}"),
     "engagementAttributes[0].type: unknown type \"wishlist\" (allowed: "
     "cart, purchase, prodView, ctmrinfo, mrktInfo, personal, lead, "
     "service, error, searchInfo)"},
    {"ea_type_case", ATTR("{\"type\":\"Cart\"}"), "unknown type \"Cart\""},
    {"ea_type_nul", ATTR("{\"type\":\"cart\\u0000x\"}"),
     "unknown type \"cart\\x00x\""},
    {"ea_personal_missing", ATTR("{\"type\":\"personal\"}"),
     "engagementAttributes[0].personal: required for type \"personal\""},
    {"ea_personal_string",
     ATTR("{\"type\":\"personal\",\"personal\":\"x\""
          "}"),
     "engagementAttributes[0].personal: must be an object, got string"},
    {"ea_ctmrinfo_missing", ATTR("{\"type\":\"ctmrinfo\"}"),
     "engagementAttributes[0].info: required for type \"ctmrinfo\""},
    {"ea_mrktinfo_array", ATTR("{\"type\":\"mrktInfo\",\"info\":[]}"),
     "engagementAttributes[0].info: must be an object, got array"},
    {"ea_lead_missing", ATTR("{\"type\":\"lead\"}"),
     "engagementAttributes[0].lead: required"},
    {"ea_service_missing", ATTR("{\"type\":\"service\"}"),
     "engagementAttributes[0].service: required"},
    {"ea_error_missing", ATTR("{\"type\":\"error\",\"service\":{}}"),
     "engagementAttributes[0].error: required"},
    {"ea_status_14",
     ATTR("{\"type\":\"service\",\"service\":{\"status\":"
          "14}}"),
     "engagementAttributes[0].service.status: must be an integer from 0 "
     "to 13, got 14"},
    {"ea_status_negative",
     ATTR("{\"type\":\"service\",\"service\":{"
          "\"status\":-1}}"),
     "service.status: must be an integer from 0 to 13, got -1"},
    {"ea_status_string",
     ATTR("{\"type\":\"service\",\"service\":{"
          "\"status\":\"3\"}}"),
     "service.status: must be an integer from 0 to 13, got string"},
    {"ea_status_fraction",
     ATTR("{\"type\":\"service\",\"service\":{"
          "\"status\":3.5}}"),
     "service.status: must be an integer from 0 to 13, got number"},
    {"ea_cart_products_object", ATTR("{\"type\":\"cart\",\"products\":{}}"),
     "engagementAttributes[0].products: must be an array, got object"},
    {"ea_prodview_product_number",
     ATTR("{\"type\":\"prodView\",\"products\":[{},1]}"),
     "engagementAttributes[0].products[1]: must be an object, got number"},
    {"ea_purchase_cart_string", ATTR("{\"type\":\"purchase\",\"cart\":\"x\"}"),
     "engagementAttributes[0].cart: must be an object, got string"},
    {"ea_purchase_cart_products",
     ATTR("{\"type\":\"purchase\",\"cart\":{\"products\":1}}"),
     "engagementAttributes[0].cart.products: must be an array"},
    {"ea_search_keywords",
     ATTR("{\"type\":\"searchInfo\",\"keywords\":["
          "1]}"),
     "engagementAttributes[0].keywords[0]: must be a string, got number"},
    {"ea_personal_contacts",
     ATTR("{\"type\":\"personal\",\"personal\":{\"contacts\":{}}}"),
     "engagementAttributes[0].personal.contacts: must be an array"},
};

static void test_invalid_table(void)
{
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(invalid_cases); i++)
                failures +=
                    expect_refused(invalid_cases[i].name, invalid_cases[i].json,
                                   invalid_cases[i].want);
        CU_ASSERT_EQUAL(failures, 0);
}

/* Fixture files: the valid ones parse, the invalid ones are refused with
 * the listed message. */
static void test_fixtures(void)
{
        static const struct {
                const char *file;
                const char *want; /* NULL: valid */
        } files[] = {
            {"events/doc_example.json", NULL},
            {"events/valid_full.json", NULL},
            {"events/invalid_impression.json",
             "engagementAttributes[0].type: impression event 'impDisplay'"},
            {"events/invalid_acr.json",
             "identities[1].acr: must be \"0\" or \"loa1\", got \"2\""},
            {"events/invalid_no_identity.json",
             "event must carry at least one of"},
            {"events/invalid_ip.json", "clientProperties.ipAddress"},
            {"events/invalid_utf8.json", "value is not valid UTF-8"},
            {"events/invalid_nul.json",
             "value contains a NUL byte at offset 17"},
            {"events/invalid_array.json",
             "value must be a JSON object, got array"},
            {"events/invalid_trailing.json", "trailing data"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(files); i++) {
                size_t len = 0;
                char  *buf =
                    ew_test_read_file(ew_test_data(files[i].file), &len);
                ew_event_t *ev       = NULL;
                char        err[512] = "";

                if (!buf) {
                        fprintf(stderr, "  cannot read %s\n", files[i].file);
                        failures++;
                        continue;
                }
                if (!files[i].want) {
                        if (parse_n(buf, len, NULL, &ev, NULL, 0, err,
                                    sizeof(err)) != 0) {
                                fprintf(stderr, "  %s: refused: %s\n",
                                        files[i].file, err);
                                failures++;
                        }
                        ew_event_destroy(ev);
                } else {
                        failures += expect_refused_n(files[i].file, buf, len,
                                                     NULL, files[i].want);
                }
                free(buf);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Parses a member's text back with json-c (NULL if it does not parse or
 * is not terminated where its length says). */
static json_object *member_json(const ew_event_json_t *m)
{
        if (!m->json || strlen(m->json) != m->len)
                return NULL;
        return json_tokener_parse(m->json);
}

/* The length of a member's JSON array, or -1. */
static int array_len(const ew_event_json_t *m)
{
        json_object *o = member_json(m);
        int          n = json_object_is_type(o, json_type_array)
                             ? (int)json_object_array_length(o)
                             : -1;

        json_object_put(o);
        return n;
}

/* The doc's example body, taken as an event, is valid and every field
 * lands where the header says. */
static void test_doc_example(void)
{
        size_t len = 0;
        char  *buf =
            ew_test_read_file(ew_test_data("events/doc_example.json"), &len);
        ew_event_t  *ev       = NULL;
        char         err[512] = "", id[128] = "";
        json_object *cp, *os;

        CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
        CU_ASSERT_EQUAL_FATAL(
            parse_n(buf, len, NULL, &ev, id, sizeof(id), err, sizeof(err)), 0);
        CU_ASSERT_STRING_EQUAL(err, "");
        CU_ASSERT_STRING_EQUAL(ev->event_id, "visitor-activity:3:42");
        CU_ASSERT_STRING_EQUAL(id, "visitor-activity:3:42");
        CU_ASSERT_STRING_EQUAL(ev->consumer_id, "uniqueIdInBrand");
        CU_ASSERT_PTR_NULL(ev->account_id);
        CU_ASSERT_PTR_NULL(ev->app_installation_id);
        CU_ASSERT_PTR_NULL(ev->visitor_id);
        CU_ASSERT_PTR_NULL(ev->session_id);
        CU_ASSERT_EQUAL(array_len(&ev->identities), 2);
        CU_ASSERT_EQUAL(array_len(&ev->entry_points), 4);
        CU_ASSERT_EQUAL(array_len(&ev->engagement_attributes), 1);
        cp = member_json(&ev->client_properties);
        CU_ASSERT(json_object_object_get_ex(cp, "osName", &os));
        CU_ASSERT_STRING_EQUAL(json_object_get_string(os), "MAC_OSX");
        json_object_put(cp);
        CU_ASSERT_STRING_EQUAL(ew_event_derived_key(ev), "identifierForNoAuth");
        CU_ASSERT_STRING_EQUAL(ev->first_sub, "identifierForNoAuth");
        ew_event_destroy(ev);
        free(buf);
}

/* The full fixture fills every pointer of ew_event_t. */
static void test_full_fields(void)
{
        size_t len = 0;
        char  *buf =
            ew_test_read_file(ew_test_data("events/valid_full.json"), &len);
        ew_event_t *ev       = NULL;
        char        err[512] = "";

        CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
        CU_ASSERT_EQUAL_FATAL(
            parse_n(buf, len, NULL, &ev, NULL, 0, err, sizeof(err)), 0);
        CU_ASSERT_STRING_EQUAL(ev->event_id, "evt-0001");
        CU_ASSERT_STRING_EQUAL(ev->account_id, "12345678");
        CU_ASSERT_STRING_EQUAL(ev->app_installation_id,
                               "5e4f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6");
        CU_ASSERT_STRING_EQUAL(ev->visitor_id, "vis-abc");
        CU_ASSERT_STRING_EQUAL(ev->session_id, "ses-def");
        CU_ASSERT_PTR_NULL(ev->consumer_id);
        CU_ASSERT_PTR_NOT_NULL(ev->client_properties.json);
        CU_ASSERT_EQUAL(array_len(&ev->engagement_attributes), 10);
        CU_ASSERT_STRING_EQUAL(ew_event_derived_key(ev), "c0ffee-1234");
        ew_event_destroy(ev);
        free(buf);
}

/* max_bytes: a value of exactly the limit passes, one byte more fails. */
static void test_size_limit(void)
{
        ew_event_limits_t lim = EW_EVENT_LIMITS_DEFAULT;
        char              buf[101];
        ew_event_t       *ev       = NULL;
        char              err[256] = "";
        size_t            n;

        lim.max_bytes = 100;
        n = (size_t)snprintf(buf, sizeof(buf), "{\"consumerId\":\"c\"}");
        memset(buf + n, ' ', sizeof(buf) - n); /* trailing whitespace */
        CU_ASSERT_EQUAL(parse_n(buf, 100, &lim, &ev, NULL, 0, err, sizeof(err)),
                        0);
        ew_event_destroy(ev);
        ev = NULL;
        CU_ASSERT_EQUAL(expect_refused_n("101_bytes", buf, 101, &lim,
                                         "value is 101 bytes, over the limit "
                                         "of 100"),
                        0);
        /* The default limit is 65536. */
        {
                size_t big = 65537;
                char  *b   = malloc(big);
                memcpy(b, "{\"consumerId\":\"c\"}", 18);
                memset(b + 18, ' ', big - 18);
                CU_ASSERT_EQUAL(expect_refused_n("default_limit", b, big, NULL,
                                                 "value is 65537 bytes, over "
                                                 "the limit of 65536"),
                                0);
                CU_ASSERT_EQUAL(
                    parse_n(b, big - 1, NULL, &ev, NULL, 0, err, sizeof(err)),
                    0);
                ew_event_destroy(ev);
                free(b);
        }
        CU_ASSERT_EQUAL(
            expect_refused_n("empty", "", 0, NULL, "value is empty"), 0);
}

static void test_bad_bytes(void)
{
        static const char nul[]    = "{\"consumerId\":\"a\0b\"}";
        int               failures = 0;

        failures += expect_refused_n("nul", nul, sizeof(nul) - 1, NULL,
                                     "value contains a NUL byte at offset 16");
        failures += expect_refused("latin1", "{\"consumerId\":\"caf\xe9\"}",
                                   "value is not valid UTF-8");
        failures += expect_refused("lone_ff", "{\"consumerId\":\"\xff\"}",
                                   "value is not valid UTF-8");
        failures +=
            expect_refused("overlong_slash", "{\"consumerId\":\"\xc0\xaf\"}",
                           "value is not valid UTF-8");
        failures += expect_refused("utf8_surrogate",
                                   "{\"consumerId\":\"\xed\xa0\x80\"}",
                                   "value is not valid UTF-8");
        failures +=
            expect_refused("cut_sequence", "{\"consumerId\":\"\xe2\x82\"}",
                           "value is not valid UTF-8");
        failures += expect_refused("bom", "\xef\xbb\xbf{\"consumerId\":\"c\"}",
                                   "value is not JSON");
        CU_ASSERT_EQUAL(failures, 0);
}

/* Builds {"consumerId":"c","x":[[...]]} with depth levels in total
 * (the object is level 1); inner is what the innermost array holds. */
static char *nested(int depth, const char *inner)
{
        size_t cap = (size_t)depth * 2 + strlen(inner) + 64, o = 0;
        char  *buf = malloc(cap);
        int    i;

        o += (size_t)snprintf(buf + o, cap - o, "{\"consumerId\":\"c\",\"x\":");
        for (i = 1; i < depth; i++)
                buf[o++] = '[';
        o += (size_t)snprintf(buf + o, cap - o, "%s", inner);
        for (i = 1; i < depth; i++)
                buf[o++] = ']';
        buf[o++] = '}';
        buf[o]   = '\0';
        return buf;
}

static void test_depth(void)
{
        static const char *const inners[] = {"1", ""};
        ew_event_limits_t        lim      = EW_EVENT_LIMITS_DEFAULT;
        ew_event_t              *ev       = NULL;
        char                     err[256];
        char                    *s;
        size_t                   i;

        for (i = 0; i < EW_ARRAY_SIZE(inners); i++) {
                s      = nested(32, inners[i]);
                err[0] = '\0';
                CU_ASSERT_EQUAL(parse(s, &ev, err, sizeof(err)), 0);
                ew_event_destroy(ev);
                ev = NULL;
                free(s);

                s = nested(33, inners[i]);
                CU_ASSERT_EQUAL(expect_refused("depth_33", s,
                                               "value nests deeper than 32 "
                                               "levels"),
                                0);
                free(s);
        }
        /* A hostile depth is refused without recursion trouble. */
        lim.max_bytes = 1 << 20;
        s             = nested(200000, "1");
        CU_ASSERT_EQUAL(expect_refused_n("depth_200000", s, strlen(s), &lim,
                                         "value nests deeper than 32 levels"),
                        0);
        free(s);
        /* The limit is configurable. */
        lim.max_depth = 3;
        s             = nested(3, "1");
        CU_ASSERT_EQUAL(
            parse_n(s, strlen(s), &lim, &ev, NULL, 0, err, sizeof(err)), 0);
        ew_event_destroy(ev);
        free(s);
        s = nested(4, "");
        CU_ASSERT_EQUAL(expect_refused_n("depth_4_of_3", s, strlen(s), &lim,
                                         "value nests deeper than 3 levels"),
                        0);
        free(s);
        /* A nonsensical limit is refused, not overflowed. */
        lim.max_depth = 0;
        CU_ASSERT_EQUAL(expect_refused_n("depth_limit_0", "{}", 2, &lim,
                                         "max_depth 0 is outside"),
                        0);
        lim.max_depth = 2147483647;
        CU_ASSERT_EQUAL(expect_refused_n("depth_limit_max", "{}", 2, &lim,
                                         "max_depth 2147483647 is outside"),
                        0);
}

/* Builds {"consumerId":"c","<key>":[item,item,...]} with n items. */
static char *repeated(const char *key, const char *item, size_t n)
{
        size_t cap = strlen(key) + 64 + n * (strlen(item) + 1), o = 0, i;
        char  *buf = malloc(cap);

        o += (size_t)snprintf(buf, cap, "{\"consumerId\":\"c\",\"%s\":[", key);
        for (i = 0; i < n; i++)
                o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "",
                                      item);
        snprintf(buf + o, cap - o, "]}");
        return buf;
}

static void test_counts(void)
{
        static const struct {
                const char *key;
                const char *item;
                const char *what;
        } arrays[] = {
            {"identities", "{\"acr\":\"0\",\"sub\":\"s\"}", "identities"},
            {"engagementAttributes", "{\"type\":\"searchInfo\"}",
             "engagementAttributes"},
            {"entryPoints", "\"tel://1\"", "entryPoints"},
        };
        ew_event_limits_t lim = EW_EVENT_LIMITS_DEFAULT;
        char              want[128], err[256];
        int               failures = 0;
        size_t            i;
        char             *s;

        lim.max_bytes = 4 << 20;
        for (i = 0; i < EW_ARRAY_SIZE(arrays); i++) {
                ew_event_t *ev = NULL;

                s = repeated(arrays[i].key, arrays[i].item, 100);
                if (parse_n(s, strlen(s), &lim, &ev, NULL, 0, err,
                            sizeof(err)) != 0) {
                        fprintf(stderr, "  %s x100 refused: %s\n",
                                arrays[i].key, err);
                        failures++;
                }
                ew_event_destroy(ev);
                free(s);

                s = repeated(arrays[i].key, arrays[i].item, 101);
                snprintf(want, sizeof(want),
                         "%s: 101 entries, over the limit of 100",
                         arrays[i].what);
                failures +=
                    expect_refused_n(arrays[i].key, s, strlen(s), &lim, want);
                free(s);
        }
        /* 10,000 identities. */
        s = repeated("identities", "{\"acr\":\"0\",\"sub\":\"s\"}", 10000);
        failures += expect_refused_n("10000_identities", s, strlen(s), &lim,
                                     "identities: 10000 entries, over the "
                                     "limit of 100");
        /* ... and the same with the default byte limit. */
        failures += expect_refused_n("10000_identities_bytes", s, strlen(s),
                                     NULL, "over the limit of 65536");
        free(s);
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_string_bounds(void)
{
        char json[1024];
        int  failures = 0;

        snprintf(json, sizeof(json), "{\"consumerId\":\"%0257d\"}", 0);
        failures += expect_refused("consumer_257", json,
                                   "consumerId: is 257 bytes, over the limit "
                                   "of 256");
        snprintf(json, sizeof(json),
                 "{\"identities\":[{\"acr\":\"0\",\"sub\":\"%0257d\"}]}", 0);
        failures +=
            expect_refused("sub_257", json, "identities[0].sub: is 257 bytes");
        snprintf(json, sizeof(json),
                 "{\"consumerId\":\"c\",\"eventId\":\"%0257d\"}", 0);
        failures +=
            expect_refused("event_id_257", json, "eventId: is 257 bytes");
        CU_ASSERT_EQUAL(failures, 0);
}

static void test_default_event_id(void)
{
        ew_event_t *ev = NULL;
        char        err[256], buf[64];
        ew_source_t other = {"t", -1, 9000000000LL};

        CU_ASSERT_EQUAL_FATAL(
            parse("{\"consumerId\":\"c\"}", &ev, err, sizeof(err)), 0);
        CU_ASSERT_STRING_EQUAL(ev->event_id, "visitor-activity:3:42");
        ew_event_destroy(ev);
        ev = NULL;

        CU_ASSERT_EQUAL_FATAL(
            parse("{\"consumerId\":\"c\",\"eventId\":\"e-1\"}", &ev, err,
                  sizeof(err)),
            0);
        CU_ASSERT_STRING_EQUAL(ev->event_id, "e-1");
        ew_event_destroy(ev);
        ev = NULL;

        /* null eventId counts as absent. */
        CU_ASSERT_EQUAL_FATAL(parse("{\"consumerId\":\"c\",\"eventId\":null}",
                                    &ev, err, sizeof(err)),
                              0);
        CU_ASSERT_STRING_EQUAL(ev->event_id, "visitor-activity:3:42");
        ew_event_destroy(ev);

        ew_event_default_id(&other, buf, sizeof(buf));
        CU_ASSERT_STRING_EQUAL(buf, "t:-1:9000000000");
        ew_event_default_id(&other, buf, 4);
        CU_ASSERT_STRING_EQUAL(buf, "t:-");
}

/* event_id_out on refusal: the producer's eventId when the value was an
 * object with a usable string eventId, else the default. */
static void test_event_id_out(void)
{
        static const struct {
                const char *json;
                const char *want;
        } cases[] = {
            {"{\"eventId\":\"e-7\",\"identities\":[{\"acr\":\"2\"}]}", "e-7"},
            {"{\"eventId\":\"e-8\"}", "e-8"},
            /* Not JSON: no id can be read (json-c, used before, let NaN
             * through and the id with it). */
            {"{\"eventId\":\"e-9\",\"x\":NaN}", "visitor-activity:3:42"},
            /* A repeated member: the value reads, the id is known. */
            {"{\"eventId\":\"e-12\",\"consumerId\":\"a\",\"consumerId\":\"b\"}",
             "e-12"},
            {"{\"eventId\":\"e-13\",\"identities\":[{\"acr\":\"0\",\"acr\":"
             "\"0\",\"sub\":\"s\"}]}",
             "e-13"},
            {"{\"eventId\":\"e-10\",\"x\":1", "visitor-activity:3:42"},
            {"[{\"eventId\":\"e-11\"}]", "visitor-activity:3:42"},
            {"{\"eventId\":17}", "visitor-activity:3:42"},
            {"{\"eventId\":\"\"}", "visitor-activity:3:42"},
            {"{\"eventId\":\"a\\u0000b\"}", "visitor-activity:3:42"},
            {"not json", "visitor-activity:3:42"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                ew_event_t *ev     = NULL;
                char        id[64] = "garbage", err[256];
                int r = parse_n(cases[i].json, strlen(cases[i].json), NULL, &ev,
                                id, sizeof(id), err, sizeof(err));
                if (r != -1 || ev || strcmp(id, cases[i].want) != 0) {
                        fprintf(stderr, "  event_id_out %zu: r=%d id='%s'\n", i,
                                r, id);
                        failures++;
                }
                ew_event_destroy(ev);
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* A small buffer is truncated, still terminated. */
        {
                ew_event_t *ev = NULL;
                char        id[4];
                CU_ASSERT_EQUAL(
                    parse_n("{}", 2, NULL, &ev, id, sizeof(id), NULL, 0), -1);
                CU_ASSERT_STRING_EQUAL(id, "vis");
        }
}

/* A member named twice anywhere is refused, naming the object's path and
 * the member: members travel to the API as their text. */
static void test_duplicates(void)
{
        static const struct {
                const char *name;
                const char *json;
                const char *want; /* the whole message */
        } cases[] = {
            {"top_level", "{\"consumerId\":\"a\",\"consumerId\":\"b\"}",
             "member \"consumerId\" appears twice"},
            {"top_level_unknown", "{\"consumerId\":\"a\",\"x\":1,\"x\":1}",
             "member \"x\" appears twice"},
            {"client_properties",
             "{\"consumerId\":\"c\",\"clientProperties\":{\"osName\":\"IOS\","
             "\"osVersion\":\"1\",\"osName\":\"ANDROID\"}}",
             "clientProperties: member \"osName\" appears twice"},
            {"identity",
             IDS("{\"acr\":\"0\",\"sub\":\"a\"},{\"acr\":\"0\","
                 "\"sub\":\"a\",\"sub\":\"b\"}"),
             "identities[1]: member \"sub\" appears twice"},
            {"escaped_name",
             IDS("{\"acr\":\"0\",\"sub\":\"a\",\"s\\u0075b\":"
                 "\"b\"}"),
             "identities[0]: member \"sub\" appears twice"},
            {"deep",
             ATTR("{\"type\":\"lead\",\"lead\":{\"x\":[{},{\"y\":{"
                  "\"z\":1,\"z\":2}}]}}"),
             "engagementAttributes[0].lead.x[1].y: member \"z\" appears twice"},
            {"odd_names", "{" CID "\"my key\":{\"a.b\":{\"\\n\":1,\"\\n\":1}}}",
             "\"my key\".\"a.b\": member \"\\x0a\" appears twice"},
            {"unknown_top_level_member",
             "{" CID "\"producer\":{\"meta\":{\"v\":1,\"v\":2}}}",
             "producer.meta: member \"v\" appears twice"},
            /* The first repeat in the text is named. */
            {"first_repeat",
             "{" CID "\"p\":{\"b\":1,\"a\":{\"c\":1,\"c\":1},\"b\":2}}",
             "p.a: member \"c\" appears twice"},
            /* More members than ew_json compares pairwise. */
            {"large_object",
             "{" CID "\"p\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,"
             "\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,"
             "\"n\":1,\"o\":1,\"p\":1,\"q\":1,\"r\":1,\"f\":2,\"s\":1}}",
             "p: member \"f\" appears twice"},
            /* The root's type comes first, as for any value. */
            {"array_root", "[{\"a\":1,\"a\":2}]",
             "value must be a JSON object, got array"},
            /* A repeat before a syntax error: the value is not JSON. */
            {"then_not_json", "{\"o\":{\"a\":1,\"a\":2},\"x\":NaN}",
             "value is not JSON: unexpected 'N' at offset 23"},
            {"then_truncated", "{\"o\":{\"a\":1,\"a\":2},\"x\":",
             "value is not JSON: it ends at offset 23 before the JSON value "
             "is complete"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                ew_event_t *ev       = NULL;
                char        err[512] = "";

                if (parse(cases[i].json, &ev, err, sizeof(err)) != -1 || ev ||
                    strcmp(err, cases[i].want) != 0) {
                        fprintf(stderr, "  dup %s: '%s', want '%s'\n",
                                cases[i].name, err, cases[i].want);
                        failures++;
                }
                ew_event_destroy(ev);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* What the reader refuses beyond the rules the contract names is worded
 * by the reader, with the offset. */
static void test_reader_messages(void)
{
        static const struct {
                const char *json;
                const char *want;
        } cases[] = {
            {"{\"consumerId\" \"c\"}",
             "value is not JSON: expected ':' at offset 14"},
            {"{\"consumerId\":\"c\",}",
             "value is not JSON: expected a member name at offset 18"},
            {"{\"consumerId\":\"c\"]", "value is not JSON: expected ',' or '}' "
                                       "at offset 17"},
            {"{\"consumerId\":\"c\"", "value is not JSON: it ends at offset 17 "
                                      "before the JSON value is complete"},
            {"   ", "value is not JSON: it ends at offset 3 before the JSON "
                    "value is complete"},
            {"{\"x\":[1,2}", "value is not JSON: expected ',' or ']' at "
                             "offset 9"},
            {"{\"consumerId\":\"c\"} x",
             "value has trailing data after the JSON value at offset 19"},
            {"{\"x\":tru}", "value is not JSON: unexpected 't' at offset 5"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                ew_event_t *ev       = NULL;
                char        err[512] = "";

                if (parse(cases[i].json, &ev, err, sizeof(err)) != -1 ||
                    strcmp(err, cases[i].want) != 0) {
                        fprintf(stderr, "  reader %zu: '%s', want '%s'\n", i,
                                err, cases[i].want);
                        failures++;
                }
                ew_event_destroy(ev);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Identifiers are decoded; the forwarded members are the value's own
 * text; everything lives in the event's one allocation. */
static void test_event_contents(void)
{
        static const char json[] =
            "{ \"eventId\" : \"e\\u0031\", \"accountId\":\"caf\\u00e9\","
            "\"appInstallationId\":\"a\\/b\",\"visitorId\":\"v\\\"q\","
            "\"sessionId\":\"\\ud83d\\ude00\",\"consumerId\":\"c\\tc\","
            "\"identities\": [ {\"acr\":\"0\", \"sub\":\"s\\u0031\"} ] ,"
            "\"clientProperties\":{\"n\": -0},\"entryPoints\":[\"x\"],"
            "\"engagementAttributes\":[ ],\"other\":[1]}";
        const char *strs[8];
        ew_event_t *ev       = NULL;
        char        err[256] = "";
        size_t      i, size;

        CU_ASSERT_EQUAL_FATAL(parse(json, &ev, err, sizeof(err)), 0);
        CU_ASSERT_STRING_EQUAL(ev->event_id, "e1");
        CU_ASSERT_STRING_EQUAL(ev->account_id, "caf\xc3\xa9");
        CU_ASSERT_STRING_EQUAL(ev->app_installation_id, "a/b");
        CU_ASSERT_STRING_EQUAL(ev->visitor_id, "v\"q");
        CU_ASSERT_STRING_EQUAL(ev->session_id, "\xf0\x9f\x98\x80");
        CU_ASSERT_STRING_EQUAL(ev->consumer_id, "c\tc");
        CU_ASSERT_STRING_EQUAL(ev->first_sub, "s1");
        CU_ASSERT_STRING_EQUAL(ev->identities.json,
                               "[ {\"acr\":\"0\", \"sub\":\"s\\u0031\"} ]");
        CU_ASSERT_EQUAL(ev->identities.len, strlen(ev->identities.json));
        CU_ASSERT_STRING_EQUAL(ev->client_properties.json, "{\"n\": -0}");
        CU_ASSERT_EQUAL(ev->client_properties.len, 9);
        CU_ASSERT_STRING_EQUAL(ev->entry_points.json, "[\"x\"]");
        CU_ASSERT_STRING_EQUAL(ev->engagement_attributes.json, "[ ]");
        /* One block: every string lies inside the event's allocation. */
        size    = malloc_usable_size(ev);
        strs[0] = ev->event_id;
        strs[1] = ev->account_id;
        strs[2] = ev->app_installation_id;
        strs[3] = ev->visitor_id;
        strs[4] = ev->session_id;
        strs[5] = ev->consumer_id;
        strs[6] = ev->first_sub;
        strs[7] = ev->identities.json;
        for (i = 0; i < EW_ARRAY_SIZE(strs); i++)
                CU_ASSERT(strs[i] >= (const char *)(ev + 1) &&
                          strs[i] + strlen(strs[i]) < (const char *)ev + size);
        ew_event_destroy(ev);

        /* Absent members: NULL and 0. */
        ev = NULL;
        CU_ASSERT_EQUAL_FATAL(
            parse("{\"visitorId\":\"v\"}", &ev, err, sizeof(err)), 0);
        CU_ASSERT_PTR_NULL(ev->identities.json);
        CU_ASSERT_EQUAL(ev->identities.len, 0);
        CU_ASSERT_PTR_NULL(ev->client_properties.json);
        CU_ASSERT_PTR_NULL(ev->entry_points.json);
        CU_ASSERT_PTR_NULL(ev->engagement_attributes.json);
        CU_ASSERT_PTR_NULL(ev->first_sub);
        CU_ASSERT_PTR_NULL(ev->consumer_id);
        ew_event_destroy(ev);
}

static void test_derived_key(void)
{
        static const struct {
                const char *json;
                const char *want;
        } cases[] = {
            {"{\"visitorId\":\"v\",\"consumerId\":\"c\",\"identities\":[{"
             "\"acr\":\"0\",\"sub\":\"s1\"},{\"acr\":\"0\",\"sub\":\"s2\"}"
             "]}",
             "s1"},
            {"{\"visitorId\":\"v\",\"consumerId\":\"c\"}", "c"},
            {"{\"visitorId\":\"v\"}", "v"},
            {"{\"visitorId\":\"v\",\"identities\":[{\"acr\":\"loa1\","
             "\"sub\":\"s\"}]}",
             "s"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                ew_event_t *ev       = NULL;
                char        err[256] = "";
                const char *k;

                if (parse(cases[i].json, &ev, err, sizeof(err)) != 0) {
                        fprintf(stderr, "  derived %zu: %s\n", i, err);
                        failures++;
                        continue;
                }
                k = ew_event_derived_key(ev);
                if (!k || strcmp(k, cases[i].want) != 0) {
                        fprintf(stderr, "  derived %zu: '%s'\n", i,
                                k ? k : "(null)");
                        failures++;
                }
                ew_event_destroy(ev);
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_PTR_NULL(ew_event_derived_key(NULL));
}

/* NULL errstr, NULL limits and NULL destroy are all safe. */
static void test_null_safety(void)
{
        ew_event_t *ev = NULL;

        CU_ASSERT_EQUAL(
            ew_event_parse("[]", 2, NULL, NULL, &ev, NULL, 0, NULL, 0), -1);
        CU_ASSERT_PTR_NULL(ev);
        CU_ASSERT_EQUAL(
            ew_event_parse(NULL, 0, NULL, NULL, &ev, NULL, 0, NULL, 0), -1);
        CU_ASSERT_EQUAL(ew_event_parse("{\"visitorId\":\"v\"}", 17, NULL, NULL,
                                       &ev, NULL, 0, NULL, 0),
                        0);
        CU_ASSERT_STRING_EQUAL(ev->event_id, "unknown");
        ew_event_destroy(ev);
        ew_event_destroy(NULL);
}

/* Long values in messages are cut, control characters escaped. */
static void test_message_quoting(void)
{
        char        json[512], err[256] = "";
        ew_event_t *ev = NULL;

        snprintf(json, sizeof(json),
                 "{\"consumerId\":\"c\",\"clientProperties\":{\"os\":\"%0200d"
                 "\"}}",
                 0);
        CU_ASSERT_EQUAL(parse(json, &ev, err, sizeof(err)), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "...\""));
        CU_ASSERT(strlen(err) < 160);

        CU_ASSERT_EQUAL(parse("{\"consumerId\":\"c\",\"clientProperties\":{"
                              "\"os\":\"a\\nb\\\"\"}}",
                              &ev, err, sizeof(err)),
                        -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "got \"a\\x0ab\\\"\""));

        /* Cut on a character boundary: 39 ASCII bytes then a 2-byte char
         * crossing the 40-byte mark. */
        snprintf(json, sizeof(json),
                 "{\"consumerId\":\"c\",\"clientProperties\":{\"os\":\"%039d"
                 "\xc3\xa9xyz\"}}",
                 0);
        CU_ASSERT_EQUAL(parse(json, &ev, err, sizeof(err)), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "\xc3\xa9...\""));
        /* A full buffer drops a partly written character: 13 escaped
         * control characters (4 bytes each) then a 3-byte euro sign. */
        CU_ASSERT_EQUAL(parse("{\"consumerId\":\"c\",\"clientProperties\":{"
                              "\"os\":\"\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n"
                              "\xe2\x82\xac\"}}",
                              &ev, err, sizeof(err)),
                        -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "\\x0a...\""));
        CU_ASSERT(ew_utf8_valid(err, strlen(err)));
        /* A tiny errstr is truncated and terminated. */
        {
                char small[8];
                CU_ASSERT_EQUAL(parse("[]", &ev, small, sizeof(small)), -1);
                CU_ASSERT_STRING_EQUAL(small, "value m");
        }
}

static const ew_test_case_t cases[] = {
    {"valid_table", test_valid_table},
    {"invalid_table", test_invalid_table},
    {"fixtures", test_fixtures},
    {"doc_example", test_doc_example},
    {"full_fields", test_full_fields},
    {"size_limit", test_size_limit},
    {"bad_bytes", test_bad_bytes},
    {"depth", test_depth},
    {"counts", test_counts},
    {"string_bounds", test_string_bounds},
    {"default_event_id", test_default_event_id},
    {"event_id_out", test_event_id_out},
    {"duplicates", test_duplicates},
    {"reader_messages", test_reader_messages},
    {"event_contents", test_event_contents},
    {"derived_key", test_derived_key},
    {"null_safety", test_null_safety},
    {"message_quoting", test_message_quoting},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"event", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
