/*
 * test_log - log lines: levels, text and JSON formats, structured fields,
 * escaping, one line per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ew_log.h"
#include "ew_test.h"

/* Runs fn with stderr redirected to a temporary file; returns what it
 * wrote (caller frees). */
static char *capture(void (*fn)(void))
{
        FILE *tmp   = tmpfile();
        int   saved = dup(STDERR_FILENO);
        char *out;
        long  n;

        if (!tmp || saved == -1)
                return NULL;
        dup2(fileno(tmp), STDERR_FILENO);
        fn();
        dup2(saved, STDERR_FILENO);
        close(saved);
        fseek(tmp, 0, SEEK_END);
        n = ftell(tmp);
        rewind(tmp);
        out = calloc(1, (size_t)n + 1);
        if (out && fread(out, 1, (size_t)n, tmp) != (size_t)n) {
                free(out);
                out = NULL;
        }
        fclose(tmp);
        return out;
}

static void write_text_lines(void)
{
        ew_log_fields_t f = {"ev-1", 2, 42, 503, 3};

        ew_log_set_format(EW_LOG_FORMAT_TEXT);
        ew_log_set_level(EW_LOG_INFO);
        EW_INFO("engine", "plain %d", 7);
        EW_DEBUG("engine", "hidden at info");
        EW_LOGF(EW_LOG_WARN, "engine", &f, "with fields");
}

static void test_text(void)
{
        char *out = capture(write_text_lines);

        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "INFO  [engine] plain 7\n"));
        CU_ASSERT_PTR_NULL(strstr(out, "hidden"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out,
                                      "WARN  [engine] with fields eventId=ev-1 "
                                      "partition=2 offset=42 status=503 "
                                      "attempt=3\n"));
        free(out);
}

static void write_json_lines(void)
{
        ew_log_fields_t f    = {"e\"v\n", 0, 0, 0, 0};
        ew_log_fields_t none = EW_LOG_FIELDS_NONE;

        ew_log_set_format(EW_LOG_FORMAT_JSON);
        ew_log_set_level(EW_LOG_DEBUG);
        EW_LOGF(EW_LOG_ERROR, "http", &f, "quote \" backslash \\ tab\t");
        EW_LOGF(EW_LOG_DEBUG, "http", &none, "no fields");
        ew_log_set_format(EW_LOG_FORMAT_TEXT);
        ew_log_set_level(EW_LOG_INFO);
}

static void test_json(void)
{
        char        *out = capture(write_json_lines);
        char        *nl;
        json_object *a, *b, *v;

        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        nl = strchr(out, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
        *nl = '\0';
        a   = json_tokener_parse(out);
        b   = json_tokener_parse(nl + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_STRING_EQUAL(
            json_object_get_string(json_object_object_get(a, "level")),
            "error");
        CU_ASSERT_STRING_EQUAL(
            json_object_get_string(json_object_object_get(a, "message")),
            "quote \" backslash \\ tab\t");
        CU_ASSERT_STRING_EQUAL(
            json_object_get_string(json_object_object_get(a, "eventId")),
            "e\"v\n");
        /* partition 0 and offset 0 are real values, status/attempt 0 are
         * absent */
        CU_ASSERT_TRUE(json_object_object_get_ex(a, "partition", &v));
        CU_ASSERT_EQUAL(json_object_get_int(v), 0);
        CU_ASSERT_TRUE(json_object_object_get_ex(a, "offset", &v));
        CU_ASSERT_FALSE(json_object_object_get_ex(a, "status", &v));
        CU_ASSERT_FALSE(json_object_object_get_ex(a, "attempt", &v));
        CU_ASSERT_TRUE(json_object_object_get_ex(a, "time", &v));
        CU_ASSERT_FALSE(json_object_object_get_ex(b, "eventId", &v));
        CU_ASSERT_FALSE(json_object_object_get_ex(b, "partition", &v));
        CU_ASSERT_STRING_EQUAL(
            json_object_get_string(json_object_object_get(b, "component")),
            "http");
        json_object_put(a);
        json_object_put(b);
        free(out);
}

static void write_long_line(void)
{
        char big[6000];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        ew_log_set_format(EW_LOG_FORMAT_JSON);
        EW_INFO("x", "%s", big);
        ew_log_set_format(EW_LOG_FORMAT_TEXT);
        EW_INFO("x", "%s", big);
}

static void test_long_lines_stay_lines(void)
{
        char        *out = capture(write_long_line);
        char        *nl;
        json_object *o;

        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        nl = strchr(out, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
        *nl = '\0';
        o   = json_tokener_parse(out); /* truncated, still valid JSON */
        CU_ASSERT_PTR_NOT_NULL(o);
        json_object_put(o);
        CU_ASSERT_PTR_NOT_NULL(strchr(nl + 1, '\n')); /* text line ends */
        free(out);
}

static void test_level_parse(void)
{
        ew_log_level_t l;

        CU_ASSERT_EQUAL(ew_log_level_parse("debug", &l), 0);
        CU_ASSERT_EQUAL(l, EW_LOG_DEBUG);
        CU_ASSERT_EQUAL(ew_log_level_parse("WARNING", &l), 0);
        CU_ASSERT_EQUAL(l, EW_LOG_WARN);
        CU_ASSERT_EQUAL(ew_log_level_parse("loud", &l), -1);
        CU_ASSERT_EQUAL(ew_log_level_parse(NULL, &l), -1);
}

static const ew_test_case_t cases[] = {
    {"text", test_text},
    {"json", test_json},
    {"long_lines_stay_lines", test_long_lines_stay_lines},
    {"level_parse", test_level_parse},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"log", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
