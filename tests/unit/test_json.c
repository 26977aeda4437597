/*
 * test_json - the hot path's JSON reader and writer (ew_json).
 */
#include "ew_test.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ew_json.h"

/* A text given with its length (it may hold NUL bytes). */
#define T(s) s, sizeof(s) - 1

typedef struct doc_case {
        const char *text;
        size_t      len;
        int         ok;
} doc_case_t;

/* The copy the last parse_copy() made: the doc borrows it until the next
 * one. */
static char *last_copy;

/* Parses a copy of text[0..len) in a buffer of exactly len bytes, so that
 * ASan and valgrind catch any read past the end. The copy lives until the
 * next call. */
static int parse_copy(ew_json_doc_t *doc, const char *text, size_t len,
                      int depth, int flags, char *err, size_t err_size)
{
        free(last_copy);
        last_copy = malloc(len ? len : 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(last_copy);
        if (len)
                memcpy(last_copy, text, len);
        return ew_json_parse(doc, last_copy, len, depth, flags, err, err_size);
}

/* Parses each case with the given depth and flags; counts mismatches. A
 * refusal must name a byte offset inside (or just past) the text and
 * leave no tokens. */
static int run_cases(const doc_case_t *c, size_t n, int depth, int flags)
{
        ew_json_doc_t doc;
        char          err[128];
        size_t        i, off;
        int           failures = 0, r;

        ew_json_doc_init(&doc);
        for (i = 0; i < n; i++) {
                err[0] = '\0';
                r = parse_copy(&doc, c[i].text, c[i].len, depth, flags, err,
                               sizeof(err));
                if ((r == 0) != c[i].ok) {
                        fprintf(stderr, "case %zu '%.*s': got %d (%s)\n", i,
                                (int)c[i].len, c[i].text, r, err);
                        failures++;
                } else if (r != 0 && (sscanf(err, "at byte %zu: ", &off) != 1 ||
                                      off > c[i].len || doc.ntok != 0)) {
                        fprintf(stderr, "case %zu: bad failure: %s\n", i, err);
                        failures++;
                }
        }
        ew_json_doc_release(&doc);
        return failures;
}

#define RUN(cases, depth, flags)                                               \
        run_cases(cases, sizeof(cases) / sizeof(cases[0]), depth, flags)

static void test_grammar(void)
{
        static const doc_case_t cases[] = {
            /* literals and whitespace */
            {T("null"), 1},
            {T("true"), 1},
            {T("false"), 1},
            {T(" \t\r\nnull \t\r\n"), 1},
            {T("nul"), 0},
            {T("nulls"), 0},
            {T("True"), 0},
            {T("tru"), 0},
            {T("fals"), 0},
            {T("NaN"), 0},
            {T("Infinity"), 0},
            {T("undefined"), 0},
            {T("\fnull"), 0}, /* form feed is not whitespace */
            {T("\vnull"), 0},
            {T("null\f"), 0},
            {T("\xc2\xa0null"), 0}, /* nor is U+00A0 */
            {T(""), 0},
            {T("   "), 0},
            /* numbers */
            {T("0"), 1},
            {T("-0"), 1},
            {T("123"), 1},
            {T("-123"), 1},
            {T("1.5"), 1},
            {T("-0.0"), 1},
            {T("1e5"), 1},
            {T("1E5"), 1},
            {T("1e+5"), 1},
            {T("1e-5"), 1},
            {T("1.25e-005"), 1},
            {T("0e0"), 1},
            {T("123456789012345678901234567890"), 1},
            {T("01"), 0},
            {T("-01"), 0},
            {T("00"), 0},
            {T("+1"), 0},
            {T("-"), 0},
            {T("--1"), 0},
            {T("1."), 0},
            {T(".5"), 0},
            {T("1.e5"), 0},
            {T("1e"), 0},
            {T("1e+"), 0},
            {T("1E-"), 0},
            {T("1ee5"), 0},
            {T("0x10"), 0},
            {T("1 2"), 0},
            {T("- 1"), 0},
            {T("-Infinity"), 0},
            /* arrays and objects */
            {T("[]"), 1},
            {T("{}"), 1},
            {T("[ ]"), 1},
            {T("{ }"), 1},
            {T("[1,2,3]"), 1},
            {T(" [ 1 , [ ] , { } ] "), 1},
            {T("{\"a\":1}"), 1},
            {T("{ \"a\" : 1 , \"b\" : [ true , null ] }"), 1},
            {T("[1,]"), 0},
            {T("[,1]"), 0},
            {T("[,]"), 0},
            {T("[1 2]"), 0},
            {T("["), 0},
            {T("]"), 0},
            {T("[1"), 0},
            {T("[1,"), 0},
            {T("{"), 0},
            {T("{\"a\""), 0},
            {T("{\"a\":"), 0},
            {T("{\"a\":1"), 0},
            {T("{\"a\":1,}"), 0},
            {T("{,}"), 0},
            {T("{\"a\" 1}"), 0},
            {T("{\"a\"::1}"), 0},
            {T("{a:1}"), 0},
            {T("{'a':1}"), 0},
            {T("{1:1}"), 0},
            {T("{null:1}"), 0},
            {T("{\"a\":1]"), 0},
            {T("[1}"), 0},
            {T("{\"a\"}"), 0},
            /* trailing garbage */
            {T("{}x"), 0},
            {T("[]]"), 0},
            {T("{}{}"), 0},
            {T("1x"), 0},
            {T("\"a\"\"b\""), 0},
            {T("null,"), 0},
            /* NUL bytes outside strings */
            {T("\0"), 0},
            {T("null\0"), 0},
            {T("\0null"), 0},
            {T("[1,\0 2]"), 0},
            {T("{\"a\"\0:1}"), 0},
        };

        CU_ASSERT_EQUAL(RUN(cases, 64, 0), 0);
}

static void test_strings(void)
{
        static const doc_case_t cases[] = {
            {T("\"\""), 1},
            {T("\"abc\""), 1},
            {T("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), 1},
            {T("\"\\u0000\""), 1},
            {T("\"\\u00e9\\u00E9\\uFFFF\""), 1},
            {T("\"\\ud83d\\ude00\""), 1}, /* U+1F600 */
            {T("\"\\uDBFF\\uDFFF\""), 1}, /* U+10FFFF */
            {T("\"\\ud800\""), 0},        /* lone high */
            {T("\"\\ud800x\""), 0},
            {T("\"\\ud800\\n\""), 0},
            {T("\"\\ud800\\u0041\""), 0}, /* high then not a low */
            {T("\"\\ud800\\ud800\""), 0}, /* high then high */
            {T("\"\\udc00\""), 0},        /* lone low */
            {T("\"\\ude00\\ud83d\""), 0}, /* reversed pair */
            {T("\"\\u12\""), 0},
            {T("\"\\u12g4\""), 0},
            {T("\"\\u"), 0},
            {T("\"\\U0041\""), 0},
            {T("\"\\x41\""), 0},
            {T("\"\\a\""), 0},
            {T("\"\\'\""), 0},
            {T("\"\\0\""), 0},
            {T("\"\\"), 0},
            {T("\"\\\""), 0},
            {T("\"abc"), 0},
            {T("\""), 0},
            {T("\"a\nb\""), 0}, /* raw control characters */
            {T("\"a\tb\""), 0},
            {T("\"\x01\""), 0},
            {T("\"\x1f\""), 0},
            {T("\"a\0b\""), 0}, /* raw NUL */
            {T("\"\x7f\""), 1}, /* DEL is allowed */
            /* UTF-8 */
            {T("\"\xc3\xa9\""), 1},                 /* U+00E9 */
            {T("\"\xc2\x80\""), 1},                 /* U+0080 */
            {T("\"\xdf\xbf\""), 1},                 /* U+07FF */
            {T("\"\xe0\xa0\x80\""), 1},             /* U+0800 */
            {T("\"\xe2\x82\xac\""), 1},             /* U+20AC */
            {T("\"\xed\x9f\xbf\""), 1},             /* U+D7FF */
            {T("\"\xee\x80\x80\""), 1},             /* U+E000 */
            {T("\"\xef\xbf\xbf\""), 1},             /* U+FFFF */
            {T("\"\xf0\x90\x80\x80\""), 1},         /* U+10000 */
            {T("\"\xf0\x9f\x98\x80\""), 1},         /* U+1F600 */
            {T("\"\xf4\x8f\xbf\xbf\""), 1},         /* U+10FFFF */
            {T("\"\xc0\x80\""), 0},                 /* overlong NUL */
            {T("\"\xc1\xbf\""), 0},                 /* overlong */
            {T("\"\xe0\x9f\xbf\""), 0},             /* overlong 3-byte */
            {T("\"\xf0\x8f\xbf\xbf\""), 0},         /* overlong 4-byte */
            {T("\"\xed\xa0\x80\""), 0},             /* U+D800 encoded */
            {T("\"\xed\xbf\xbf\""), 0},             /* U+DFFF encoded */
            {T("\"\xed\xa0\xbd\xed\xb8\x80\""), 0}, /* CESU-8 pair */
            {T("\"\xf4\x90\x80\x80\""), 0},         /* U+110000 */
            {T("\"\xf5\x80\x80\x80\""), 0},
            {T("\"\xf8\x88\x80\x80\x80\""), 0}, /* 5-byte form */
            {T("\"\xff\""), 0},
            {T("\"\xfe\""), 0},
            {T("\"\x80\""), 0}, /* stray continuation */
            {T("\"a\xbf\""), 0},
            {T("\"\xc3\""), 0}, /* truncated */
            {T("\"\xc3x\""), 0},
            {T("\"\xe2\x82\""), 0},
            {T("\"\xe2\x82x\""), 0},
            {T("\"\xf0\x9f\x98\""), 0},
            {T("\"\xf0\x9f\x98"), 0},
            {T("\"\xc3\xa9\xc3\""), 0},
            {T("\xc3\xa9"), 0},       /* outside a string */
            {T("\xef\xbb\xbf{}"), 0}, /* byte order mark */
            /* a long one (past the eight-byte scan), breaks at the end */
            {T("\"0123456789abcdef0123456789abcdef\""), 1},
            {T("\"0123456789abcdef0123456789abcdef\x01\""), 0},
            {T("\"0123456789abcdef0123456789abcde\xc3\xa9\""), 1},
            {T("\"0123456789abcdef0123456789abcdef"), 0},
        };

        CU_ASSERT_EQUAL(RUN(cases, 64, 0), 0);
}

/* Tokens of a small document: layout, skip, counts, raw text. */
static void test_tokens(void)
{
        static const char text[] =
            " {\"a\": [1, \"x\\ny\", {}], \"b\": {\"c\": null}, \"d\": -2.5e3}";
        ew_json_doc_t doc;
        char          err[128];
        const char   *raw;
        size_t        rlen;
        uint32_t      n, k, v, e, seen = 0;

        ew_json_doc_init(&doc);
        CU_ASSERT_EQUAL_FATAL(
            ew_json_parse(&doc, text, sizeof(text) - 1, 8, 0, err, sizeof(err)),
            0);
        /* { "a" [ 1 "x\ny" {} ] "b" { "c" null } "d" -2.5e3 } */
        CU_ASSERT_EQUAL_FATAL(doc.ntok, 12);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 0), EW_JSON_OBJECT);
        CU_ASSERT_EQUAL(ew_json_count(&doc, 0), 3);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 0), 12);
        raw = ew_json_raw(&doc, 0, &rlen);
        CU_ASSERT_EQUAL(raw, text + 1);
        CU_ASSERT_EQUAL(rlen, sizeof(text) - 2);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 1), EW_JSON_STRING);
        CU_ASSERT_EQUAL(ew_json_count(&doc, 1), 1);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 2), EW_JSON_ARRAY);
        CU_ASSERT_EQUAL(ew_json_count(&doc, 2), 3);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 2), 6);
        raw = ew_json_raw(&doc, 2, &rlen);
        CU_ASSERT(rlen == 15 && memcmp(raw, "[1, \"x\\ny\", {}]", 15) == 0);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 3), EW_JSON_NUMBER);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 3), 4);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 4), EW_JSON_STRING);
        CU_ASSERT_EQUAL(ew_json_count(&doc, 4), 3);
        CU_ASSERT(doc.tok[4].flags & EW_JSON_F_ESCAPED);
        CU_ASSERT(!(doc.tok[1].flags & EW_JSON_F_ESCAPED));
        raw = ew_json_raw(&doc, 4, &rlen);
        CU_ASSERT(rlen == 6 && memcmp(raw, "\"x\\ny\"", 6) == 0);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 5), EW_JSON_OBJECT);
        CU_ASSERT_EQUAL(ew_json_count(&doc, 5), 0);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 5), 6);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 7), EW_JSON_OBJECT);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 7), 10);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 9), EW_JSON_NULL);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 11), EW_JSON_NUMBER);
        raw = ew_json_raw(&doc, 11, &rlen);
        CU_ASSERT(rlen == 6 && memcmp(raw, "-2.5e3", 6) == 0);

        EW_JSON_FOREACH_MEMBER(&doc, 0, n, k, v)
        {
                CU_ASSERT_EQUAL(ew_json_type(&doc, k), EW_JSON_STRING);
                CU_ASSERT(k == 1 || k == 6 || k == 10);
                seen++;
        }
        CU_ASSERT_EQUAL(seen, 3);
        seen = 0;
        EW_JSON_FOREACH_ELEM(&doc, 2, n, e)
        {
                CU_ASSERT(e == 3 || e == 4 || e == 5);
                seen++;
        }
        CU_ASSERT_EQUAL(seen, 3);

        CU_ASSERT_EQUAL(ew_json_get(&doc, 0, "a"), 2);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 0, "b"), 7);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 0, "d"), 11);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 0, "c"), 0);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 7, "c"), 9);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 2, "a"), 0); /* not an object */
        ew_json_doc_release(&doc);
}

/* Arrays and objects count one level each; max_depth is inclusive. */
static void test_depth(void)
{
        static const doc_case_t at3[] = {
            {T("[[[]]]"), 1},
            {T("{\"a\":{\"b\":{}}}"), 1},
            {T("[{\"a\":[1]}]"), 1},
            {T("[[],[],[[]]]"), 1},
            {T("1"), 1},
            {T("[[[[]]]]"), 0},
            {T("{\"a\":{\"b\":{\"c\":{}}}}"), 0},
            {T("[{\"a\":[{}]}]"), 0},
            {T("[[],[],[[[]]]]"), 0},
        };
        static const doc_case_t at0[] = {
            {T("1"), 1},
            {T("\"s\""), 1},
            {T("[]"), 0},
            {T("{}"), 0},
        };
        ew_json_doc_t doc;
        char          err[128];
        size_t        n    = 100000, i;
        char         *deep = malloc(2 * n);

        CU_ASSERT_EQUAL(RUN(at3, 3, 0), 0);
        CU_ASSERT_EQUAL(RUN(at0, 0, 0), 0);

        /* No recursion: a hundred thousand levels parse when allowed. */
        CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
        for (i = 0; i < n; i++) {
                deep[i]             = '[';
                deep[2 * n - 1 - i] = ']';
        }
        ew_json_doc_init(&doc);
        CU_ASSERT_EQUAL(
            ew_json_parse(&doc, deep, 2 * n, (int)n, 0, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(doc.ntok, n);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 0), n);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, (uint32_t)n - 1), n);
        CU_ASSERT_EQUAL(ew_json_count(&doc, 0), 1);
        CU_ASSERT_EQUAL(ew_json_count(&doc, (uint32_t)n - 1), 0);
        CU_ASSERT_EQUAL(
            ew_json_parse(&doc, deep, 2 * n, (int)n - 1, 0, err, sizeof(err)),
            -1);
        CU_ASSERT_STRING_EQUAL(err, "at byte 99999: nesting too deep");
        ew_json_doc_release(&doc);
        free(deep);
}

/* Messages name the byte where the text went wrong. */
static void test_messages(void)
{
        static const struct {
                const char *text;
                size_t      len;
                int         flags;
                const char *want;
        } cases[] = {
            {T(""), 0, "at byte 0: expected a value"},
            {T("  "), 0, "at byte 2: expected a value"},
            {T("{\"a\":1,}"), 0, "at byte 7: expected a member name"},
            {T("[1,2"), 0, "at byte 4: expected ',' or ']'"},
            {T("{\"a\":1 x"), 0, "at byte 7: expected ',' or '}'"},
            {T("{\"a\" 1}"), 0, "at byte 5: expected ':'"},
            {T("[1,]"), 0, "at byte 3: expected a value"},
            {T("01"), 0, "at byte 1: unexpected data after the value"},
            {T("[] x"), 0, "at byte 3: unexpected data after the value"},
            {T("-x"), 0, "at byte 1: expected a digit"},
            {T("[1.]"), 0, "at byte 3: expected a digit"},
            {T("1e+"), 0, "at byte 3: expected a digit"},
            {T("[tru]"), 0, "at byte 1: invalid literal"},
            {T("\"ab\x01\""), 0, "at byte 3: control character in a string"},
            {T("\"ab\0\""), 0, "at byte 3: NUL byte in a string"},
            {T("\"abc"), 0, "at byte 4: unterminated string"},
            {T("\"a\\qb\""), 0, "at byte 2: invalid escape"},
            {T("\"a\\u12x4\""), 0, "at byte 2: invalid \\u escape"},
            {T("\"a\\udc00\""), 0,
             "at byte 2: \\u escape of a lone low surrogate"},
            {T("\"a\\ud800\""), 0,
             "at byte 2: \\u escape of a high surrogate not followed by a "
             "low one"},
            {T("[\"\xc3\xa9\xc3(\"]"), 0,
             "at byte 4: invalid UTF-8 in a string"},
            {T("{\"a\":1,\"b\":2,\"a\":3}"), EW_JSON_UNIQUE_KEYS,
             "at byte 13: duplicate member name"},
            {T("[[[[1]]]]"), 0, "at byte 3: nesting too deep"},
        };
        ew_json_doc_t doc;
        char          err[128], again[160], small[12];
        size_t        i;
        int           failures = 0;

        ew_json_doc_init(&doc);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                err[0] = '\0';
                if (parse_copy(&doc, cases[i].text, cases[i].len, 3,
                               cases[i].flags, err, sizeof(err)) != -1 ||
                    strcmp(err, cases[i].want) != 0) {
                        fprintf(stderr, "case %zu: '%s', want '%s'\n", i, err,
                                cases[i].want);
                        failures++;
                        continue;
                }
                /* The doc says the same without a message to parse. */
                if (!doc.err_what || doc.err_off == EW_JSON_NO_OFFSET) {
                        failures++;
                        continue;
                }
                snprintf(again, sizeof(again), "at byte %zu: %s", doc.err_off,
                         doc.err_what);
                if (strcmp(again, cases[i].want) != 0) {
                        fprintf(stderr, "case %zu: doc says '%s'\n", i, again);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* A successful parse clears them. */
        CU_ASSERT_EQUAL(ew_json_parse(&doc, "[1]", 3, 3, 0, NULL, 0), 0);
        CU_ASSERT_PTR_NULL(doc.err_what);
        CU_ASSERT_EQUAL(doc.err_off, EW_JSON_NO_OFFSET);
        /* A short buffer gets a terminated prefix; none at all is fine. */
        memset(small, 'X', sizeof(small));
        CU_ASSERT_EQUAL(ew_json_parse(&doc, "[1,", 3, 3, 0, small, 8), -1);
        CU_ASSERT_STRING_EQUAL(small, "at byte");
        CU_ASSERT_EQUAL(small[8], 'X');
        CU_ASSERT_EQUAL(ew_json_parse(&doc, "[1,", 3, 3, 0, NULL, 0), -1);
        CU_ASSERT_EQUAL(doc.ntok, 0);
        /* No text at all (an empty message's payload). */
        CU_ASSERT_EQUAL(ew_json_parse(&doc, NULL, 0, 3, 0, err, sizeof(err)),
                        -1);
        CU_ASSERT_STRING_EQUAL(err, "at byte 0: expected a value");
        ew_json_doc_release(&doc);
}

/* Text that goes on after len is not looked at. */
static void test_length_bounds(void)
{
        static const char buf[] = "[12345, \"abc\", true]";
        ew_json_doc_t     doc;
        char              err[128];
        int64_t           v = 0;

        ew_json_doc_init(&doc);
        CU_ASSERT_EQUAL(ew_json_parse(&doc, buf + 1, 3, 8, 0, err, sizeof(err)),
                        0);
        CU_ASSERT(ew_json_int64(&doc, 0, &v) == 0 && v == 123);
        CU_ASSERT_EQUAL(ew_json_parse(&doc, buf + 8, 4, 8, 0, err, sizeof(err)),
                        -1); /* "abc without its closing quote */
        CU_ASSERT_EQUAL(
            ew_json_parse(&doc, buf + 15, 3, 8, 0, err, sizeof(err)), -1);
        CU_ASSERT_EQUAL(
            ew_json_parse(&doc, buf, sizeof(buf) - 2, 8, 0, err, sizeof(err)),
            -1); /* no closing bracket */
        CU_ASSERT_EQUAL(
            ew_json_parse(&doc, buf, sizeof(buf) - 1, 8, 0, err, sizeof(err)),
            0);
        CU_ASSERT_EQUAL(doc.ntok, 4);
        ew_json_doc_release(&doc);
}

static void test_duplicates(void)
{
        static const doc_case_t cases[] = {
            {T("{\"a\":1,\"a\":2}"), 0},
            {T("{\"a\":1,\"b\":2,\"a\":3}"), 0},
            {T("{\"a\":1,\"\\u0061\":2}"), 0},
            {T("{\"\\u0061\":1,\"a\":2}"), 0},
            {T("{\"\\n\":1,\"\\u000a\":2}"), 0},
            {T("{\"\\/\":1,\"/\":2}"), 0},
            {T("{\"\":1,\"\":2}"), 0},
            {T("{\"abcde\":1,\"abcde\":2}"), 0},
            {T("{\"abcdefghij\":1,\"abcdefghij\":2}"), 0},
            {T("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"), 0},
            {T("{\"\xc3\xa9\":1,\"\\u00e9\":2}"), 0},
            {T("{\"x\\u0000y\":1,\"x\\u0000y\":2}"), 0},
            {T("[{\"a\":1},{\"b\":{\"c\":1,\"c\":1}}]"), 0},
            /* not duplicates */
            {T("{\"a\":1,\"b\":2}"), 1},
            {T("{\"a\":{\"a\":1}}"), 1},
            {T("[{\"a\":1},{\"a\":1}]"), 1},
            {T("{\"ab\":1,\"ba\":2}"), 1},
            {T("{\"a\":1,\"a \":2}"), 1},
            {T("{\"abcdX\":1,\"abcdY\":2}"), 1},
            {T("{\"abcdefghiX\":1,\"abcdefghiY\":2}"), 1},
            {T("{\"\":1,\"\\u0000\":2}"), 1},
            {T("{\"x\\u0000y\":1,\"x\\u0000z\":2}"), 1},
            {T("{\"\\u00e9\":1,\"\\u00e8\":2}"), 1},
            {T("{\"a\":1,\"A\":2}"), 1},
        };
        size_t i;
        int    failures = 0;

        CU_ASSERT_EQUAL(RUN(cases, 8, EW_JSON_UNIQUE_KEYS), 0);
        /* Without the flag every one of them is fine. */
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                doc_case_t c = cases[i];
                c.ok         = 1;
                failures += run_cases(&c, 1, 8, 0);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Member name styles for big_object(). */
enum { NAME_SHORT, NAME_FIXED, NAME_ESCAPED, NAME_NUL, NAME_LONG };

static size_t put_name(char *s, size_t cap, int style, unsigned v)
{
        switch (style) {
        case NAME_SHORT:
                return (size_t)snprintf(s, cap, "k%u", v);
        case NAME_FIXED:
                return (size_t)snprintf(s, cap, "%08u", v);
        case NAME_ESCAPED: /* \u0000 .. \u00ff */
                return (size_t)snprintf(s, cap, "\\u00%02x", v);
        case NAME_NUL:
                return (size_t)snprintf(s, cap, "x\\u0000%u", v);
        default: /* 56 a's, then six digits */
                return (size_t)snprintf(s, cap,
                                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                        "aaaaaaaaaaaaaaaaaa%06u",
                                        v);
        }
}

/* Builds an object of n members named in the given style, with member
 * dup_of repeated as the last one when dup_of < n. Returns a malloc'd
 * text. */
static char *big_object(unsigned n, int style, unsigned dup_of, size_t *lenp)
{
        size_t   cap = (size_t)n * 96 + 64, len = 0;
        char    *s = malloc(cap);
        unsigned i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        s[len++] = '{';
        for (i = 0; i < n || (i == n && dup_of < n); i++) {
                if (i > 0)
                        s[len++] = ',';
                s[len++] = '"';
                len += put_name(s + len, cap - len, style, i < n ? i : dup_of);
                len += (size_t)snprintf(s + len, cap - len, "\":%u", i);
        }
        s[len++] = '}';
        *lenp    = len;
        return s;
}

/* Objects past the pairwise limit take the sorting path. */
static void test_duplicates_large(void)
{
        static const struct {
                int      style;
                unsigned n, dup_of;
                int      ok;
        } cases[] = {
            {NAME_SHORT, 16, 99, 1}, /* the largest pairwise */
            {NAME_SHORT, 16, 3, 0},        {NAME_SHORT, 17, 99, 1},
            {NAME_SHORT, 17, 0, 0},        {NAME_SHORT, 17, 16, 0},
            {NAME_SHORT, 1000, 99999, 1},  {NAME_SHORT, 1000, 500, 0},
            {NAME_FIXED, 1000, 99999, 1}, /* all of one length */
            {NAME_FIXED, 1000, 999, 0},    {NAME_FIXED, 1000, 0, 0},
            {NAME_ESCAPED, 256, 99999, 1}, {NAME_ESCAPED, 256, 7, 0},
            {NAME_ESCAPED, 256, 0xe9, 0},  {NAME_NUL, 300, 99999, 1},
            {NAME_NUL, 300, 123, 0},       {NAME_LONG, 500, 99999, 1},
            {NAME_LONG, 500, 250, 0},
        };
        ew_json_doc_t doc;
        char          err[128], want[64];
        size_t        i, len;
        int           failures = 0, r;

        ew_json_doc_init(&doc);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *s = big_object(cases[i].n, cases[i].style,
                                     cases[i].dup_of, &len);
                r       = parse_copy(&doc, s, len, 8, EW_JSON_UNIQUE_KEYS, err,
                                     sizeof(err));
                if ((r == 0) != cases[i].ok) {
                        fprintf(stderr, "case %zu: %d (%s)\n", i, r, err);
                        failures++;
                }
                if (r != 0 && cases[i].ok == 0) {
                        /* The repeat is the last member. */
                        size_t last = len;
                        while (last > 0 && s[last - 1] != ',')
                                last--;
                        snprintf(want, sizeof(want),
                                 "at byte %zu: duplicate member name", last);
                        if (strcmp(err, want) != 0) {
                                fprintf(stderr, "case %zu: '%s' want '%s'\n", i,
                                        err, want);
                                failures++;
                        }
                }
                /* Without the flag it parses, and the last one counts. */
                if (parse_copy(&doc, s, len, 8, 0, err, sizeof(err)) != 0 ||
                    ew_json_count(&doc, 0) !=
                        cases[i].n + (cases[i].dup_of < cases[i].n)) {
                        fprintf(stderr, "case %zu: without flag\n", i);
                        failures++;
                }
                free(s);
        }
        CU_ASSERT_EQUAL(failures, 0);

        /* An escaped spelling of an earlier name, past the pairwise limit. */
        {
                static const char text[] =
                    "{\"k0\":0,\"k1\":0,\"k2\":0,\"k3\":0,\"k4\":0,\"k5\":0,"
                    "\"k6\":0,\"k7\":0,\"k8\":0,\"k9\":0,\"ka\":0,\"kb\":0,"
                    "\"kc\":0,\"kd\":0,\"ke\":0,\"kf\":0,\"\\u006b5\":1}";
                CU_ASSERT_EQUAL(parse_copy(&doc, T(text), 8,
                                           EW_JSON_UNIQUE_KEYS, err,
                                           sizeof(err)),
                                -1);
                CU_ASSERT_EQUAL(
                    parse_copy(&doc, T(text), 8, 0, err, sizeof(err)), 0);
                CU_ASSERT_EQUAL(ew_json_get(&doc, 0, "k5"), 34);
        }
        /* The first repeat in text order is named, whatever sorts first. */
        {
                static const char text[] =
                    "{\"z\":0,\"y\":0,\"b\":0,\"c\":0,\"d\":0,\"e\":0,\"f\":0,"
                    "\"g\":0,\"h\":0,\"i\":0,\"j\":0,\"k\":0,\"l\":0,\"m\":0,"
                    "\"n\":0,\"o\":0,\"p\":0,\"z\":1,\"b\":1}";
                CU_ASSERT_EQUAL(parse_copy(&doc, T(text), 8,
                                           EW_JSON_UNIQUE_KEYS, err,
                                           sizeof(err)),
                                -1);
                snprintf(want, sizeof(want),
                         "at byte %zu: duplicate member name",
                         (size_t)(strstr(text, "\"z\":1") - text));
                CU_ASSERT_STRING_EQUAL(err, want);
        }
        ew_json_doc_release(&doc);
}

/* CPU seconds to parse an object of n members named in the given style
 * under EW_JSON_UNIQUE_KEYS; -1 if it is not accepted. */
static double unique_parse_seconds(unsigned n, int style)
{
        ew_json_doc_t doc;
        char          err[128];
        size_t        len;
        char         *s = big_object(n, style, UINT_MAX, &len);
        clock_t       t0;
        double        secs;
        int           r;

        ew_json_doc_init(&doc);
        t0   = clock();
        r    = ew_json_parse(&doc, s, len, 8, EW_JSON_UNIQUE_KEYS, err,
                             sizeof(err));
        secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        if (r != 0 || ew_json_count(&doc, 0) != n)
                secs = -1;
        ew_json_doc_release(&doc);
        free(s);
        return secs;
}

/* Many members of one length that differ only at the end, under the flag:
 * the check must grow like n log n (sorting), not n^2 (pairwise, which
 * for 80000 such names would be 3.2e9 comparisons of 62 bytes). Four
 * times the members may cost about 4.5 times as much, not 16. */
static void test_duplicates_adversarial(void)
{
        double small = unique_parse_seconds(20000, NAME_LONG);
        double large = unique_parse_seconds(80000, NAME_LONG);

        CU_ASSERT(small >= 0 && large >= 0);
        if (large > 10 * small + 0.02)
                fprintf(stderr, "20000 names: %.3f s, 80000: %.3f s\n", small,
                        large);
        CU_ASSERT(large <= 10 * small + 0.02);
}

static void test_get_and_strings(void)
{
        static const char text[] =
            "{\"a\":1,\"b\":\"x\\u0000y\",\"a\":2,\"\\u0063\":3,"
            "\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\","
            "\"u\":\"\\u00e9\\u20ac\\ud83d\\ude00\\u0041\","
            "\"raw\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
            "\"e\":\"\",\"n\":null,\"o\":{\"a\":[]}}";
        static const char esc_want[] = "\"\\/\b\f\n\r\t";
        static const char u_want[]   = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                                       "A";
        ew_json_doc_t     doc;
        char              err[128], buf[64];
        uint32_t          v;
        int64_t           n = 0;

        ew_json_doc_init(&doc);
        CU_ASSERT_EQUAL_FATAL(parse_copy(&doc, T(text), 8, 0, err, sizeof(err)),
                              0);

        /* Last wins, as in json-c. */
        v = ew_json_get(&doc, 0, "a");
        CU_ASSERT(ew_json_int64(&doc, v, &n) == 0 && n == 2);
        /* Names compare decoded. */
        v = ew_json_get(&doc, 0, "c");
        CU_ASSERT(ew_json_int64(&doc, v, &n) == 0 && n == 3);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 0, "\\u0063"), 0);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 0, "A"), 0);
        CU_ASSERT_EQUAL(ew_json_get(&doc, 0, ""), 0);
        CU_ASSERT_EQUAL(ew_json_type(&doc, ew_json_get(&doc, 0, "n")),
                        EW_JSON_NULL);
        v = ew_json_get(&doc, 0, "o");
        CU_ASSERT_EQUAL(ew_json_type(&doc, ew_json_get(&doc, v, "a")),
                        EW_JSON_ARRAY);

        /* \u0000 inside: counted, copied, compared. */
        v = ew_json_get(&doc, 0, "b");
        CU_ASSERT_EQUAL(ew_json_count(&doc, v), 3);
        memset(buf, 'X', sizeof(buf));
        CU_ASSERT_EQUAL(ew_json_str_copy(&doc, v, buf), 3);
        CU_ASSERT(memcmp(buf, "x\0y\0X", 5) == 0);
        CU_ASSERT(ew_json_str_eq(&doc, v, "x\0y", 3));
        CU_ASSERT(!ew_json_str_eq(&doc, v, "x", 1));
        CU_ASSERT(!ew_json_str_eq(&doc, v, "x\0z", 3));
        CU_ASSERT(!ew_json_str_eq(&doc, v, "x\0yz", 4));

        /* Every escape. */
        v = ew_json_get(&doc, 0, "esc");
        CU_ASSERT_EQUAL(ew_json_count(&doc, v), sizeof(esc_want) - 1);
        memset(buf, 'X', sizeof(buf));
        CU_ASSERT_EQUAL(ew_json_str_copy(&doc, v, buf), sizeof(esc_want) - 1);
        CU_ASSERT(memcmp(buf, esc_want, sizeof(esc_want)) == 0);
        CU_ASSERT(ew_json_str_eq(&doc, v, esc_want, sizeof(esc_want) - 1));

        /* \u escapes of 2, 3 and 4 UTF-8 bytes (a surrogate pair) and
         * the same characters written raw. */
        v = ew_json_get(&doc, 0, "u");
        CU_ASSERT_EQUAL(ew_json_count(&doc, v), sizeof(u_want) - 1);
        memset(buf, 'X', sizeof(buf));
        CU_ASSERT_EQUAL(ew_json_str_copy(&doc, v, buf), sizeof(u_want) - 1);
        CU_ASSERT(memcmp(buf, u_want, sizeof(u_want)) == 0);
        CU_ASSERT(ew_json_str_eq(&doc, v, u_want, sizeof(u_want) - 1));
        v = ew_json_get(&doc, 0, "raw");
        CU_ASSERT_EQUAL(ew_json_count(&doc, v), sizeof(u_want) - 2);
        CU_ASSERT(!(doc.tok[v].flags & EW_JSON_F_ESCAPED));
        CU_ASSERT(ew_json_str_eq(&doc, v, u_want, sizeof(u_want) - 2));
        memset(buf, 'X', sizeof(buf));
        CU_ASSERT_EQUAL(ew_json_str_copy(&doc, v, buf), sizeof(u_want) - 2);
        CU_ASSERT(memcmp(buf, u_want, sizeof(u_want) - 2) == 0 &&
                  buf[sizeof(u_want) - 2] == '\0');

        v = ew_json_get(&doc, 0, "e");
        CU_ASSERT_EQUAL(ew_json_count(&doc, v), 0);
        CU_ASSERT(ew_json_str_eq(&doc, v, "", 0));
        CU_ASSERT(ew_json_str_eq(&doc, v, NULL, 0));
        buf[0] = 'X';
        CU_ASSERT_EQUAL(ew_json_str_copy(&doc, v, buf), 0);
        CU_ASSERT_EQUAL(buf[0], '\0');

        /* Not strings. */
        CU_ASSERT(!ew_json_str_eq(&doc, ew_json_get(&doc, 0, "n"), "null", 4));
        CU_ASSERT(!ew_json_str_eq(&doc, 0, "", 0));
        ew_json_doc_release(&doc);
}

static void test_numbers(void)
{
        static const struct {
                const char *text;
                int         ok;
                int64_t     want;
        } ints[] = {
            {"0", 0, 0},
            {"-0", 0, 0},
            {"7", 0, 7},
            {"-7", 0, -7},
            {"9223372036854775807", 0, INT64_MAX},
            {"-9223372036854775808", 0, INT64_MIN},
            {"9223372036854775806", 0, INT64_MAX - 1},
            {"-9223372036854775807", 0, INT64_MIN + 1},
            {"9223372036854775808", -1, 0},
            {"-9223372036854775809", -1, 0},
            {"9223372036854775810", -1, 0},
            {"18446744073709551616", -1, 0},
            {"99999999999999999999999", -1, 0},
            {"1.0", -1, 0},
            {"1e2", -1, 0},
            {"1E2", -1, 0},
            {"-0.0", -1, 0},
            {"\"1\"", -1, 0},
            {"true", -1, 0},
            {"null", -1, 0},
            {"[1]", -1, 0},
        };
        static const struct {
                const char *text;
                int         ok;
                double      want;
        } dbls[] = {
            {"0", 0, 0.0},
            {"1.5", 0, 1.5},
            {"-2.5e3", 0, -2500.0},
            {"1E-2", 0, 0.01},
            {"12345678901234567890", 0, 12345678901234567890.0},
            {"1e400", 0, HUGE_VAL},
            {"-1e400", 0, -HUGE_VAL},
            {"1e-400", 0, 0.0},
            {"\"1.5\"", -1, 0},
            {"false", -1, 0},
            {"{}", -1, 0},
        };
        ew_json_doc_t doc;
        char          err[128], longnum[200];
        size_t        i;
        int           failures = 0;
        int64_t       iv;
        double        dv;

        ew_json_doc_init(&doc);
        for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
                iv = 12345;
                if (parse_copy(&doc, ints[i].text, strlen(ints[i].text), 8, 0,
                               err, sizeof(err)) != 0 ||
                    ew_json_int64(&doc, 0, &iv) != ints[i].ok ||
                    (ints[i].ok == 0 && iv != ints[i].want) ||
                    (ints[i].ok != 0 && iv != 12345)) {
                        fprintf(stderr, "int64 case %s: %lld\n", ints[i].text,
                                (long long)iv);
                        failures++;
                }
        }
        for (i = 0; i < sizeof(dbls) / sizeof(dbls[0]); i++) {
                dv = 42.0;
                if (parse_copy(&doc, dbls[i].text, strlen(dbls[i].text), 8, 0,
                               err, sizeof(err)) != 0 ||
                    ew_json_double(&doc, 0, &dv) != dbls[i].ok ||
                    (dbls[i].ok == 0 && dv != dbls[i].want) ||
                    (dbls[i].ok != 0 && dv != 42.0)) {
                        fprintf(stderr, "double case %s: %g\n", dbls[i].text,
                                dv);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);

        /* "-0" as a double keeps its sign. */
        CU_ASSERT_EQUAL(parse_copy(&doc, T("-0"), 8, 0, err, sizeof(err)), 0);
        CU_ASSERT(ew_json_double(&doc, 0, &dv) == 0 && dv == 0.0 &&
                  signbit(dv));
        /* A number longer than the stack copy. */
        memset(longnum, '0', sizeof(longnum));
        longnum[0] = '1';
        memcpy(longnum + sizeof(longnum) - 4, "e-1", 3);
        longnum[sizeof(longnum) - 1] = '\0';
        CU_ASSERT_EQUAL(
            parse_copy(&doc, longnum, strlen(longnum), 8, 0, err, sizeof(err)),
            0);
        CU_ASSERT(ew_json_double(&doc, 0, &dv) == 0 && dv == 1e194);
        CU_ASSERT_EQUAL(ew_json_int64(&doc, 0, &iv), -1);
        ew_json_doc_release(&doc);
}

/* One doc, several parses: inline, heap, inline again, a failure, then
 * heap again; and release leaves a doc that parses. */
static void test_reuse(void)
{
        ew_json_doc_t doc;
        char          err[128];
        size_t        n = 1000, i, len = 0;
        char         *big = malloc(n * 8 + 8);
        int64_t       v   = 0;
        uint32_t      e, left;
        int           bad = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(big);
        big[len++] = '[';
        for (i = 0; i < n; i++)
                len += (size_t)sprintf(big + len, i ? ",%zu" : "%zu", i * 3);
        big[len++] = ']';

        ew_json_doc_init(&doc);
        CU_ASSERT_EQUAL(ew_json_parse(&doc, T("[1,2]"), 8, 0, err, sizeof(err)),
                        0);
        CU_ASSERT_PTR_EQUAL(doc.tok, doc.inline_tok);
        CU_ASSERT_EQUAL(doc.ntok, 3);

        CU_ASSERT_EQUAL(parse_copy(&doc, big, len, 8, 0, err, sizeof(err)), 0);
        CU_ASSERT_PTR_NOT_EQUAL(doc.tok, doc.inline_tok);
        CU_ASSERT(doc.cap <= len); /* bounded by the text */
        CU_ASSERT_EQUAL_FATAL(doc.ntok, n + 1);
        CU_ASSERT_EQUAL(ew_json_count(&doc, 0), n);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 0), n + 1);
        i = 0;
        EW_JSON_FOREACH_ELEM(&doc, 0, left, e)
        {
                if (ew_json_int64(&doc, e, &v) != 0 || v != (int64_t)(i * 3))
                        bad++;
                i++;
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(i, n);

        /* Smaller again, in the storage the big one left. */
        CU_ASSERT_EQUAL(
            ew_json_parse(&doc, T("{\"a\":[true]}"), 8, 0, err, sizeof(err)),
            0);
        CU_ASSERT_EQUAL(doc.ntok, 4);
        CU_ASSERT_EQUAL(ew_json_type(&doc, 3), EW_JSON_TRUE);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 0), 4);

        CU_ASSERT_EQUAL(
            ew_json_parse(&doc, T("{\"a\":[true}"), 8, 0, err, sizeof(err)),
            -1);
        CU_ASSERT_EQUAL(doc.ntok, 0);

        CU_ASSERT_EQUAL(parse_copy(&doc, big, len, 8, 0, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(doc.ntok, n + 1);
        ew_json_doc_release(&doc);
        CU_ASSERT_PTR_EQUAL(doc.tok, doc.inline_tok);
        CU_ASSERT_EQUAL(doc.ntok, 0);
        CU_ASSERT_EQUAL(ew_json_parse(&doc, T("[]"), 8, 0, err, sizeof(err)),
                        0);
        CU_ASSERT_EQUAL(doc.ntok, 1);
        /* Exactly the inline storage, and one token more. */
        len        = 0;
        big[len++] = '[';
        for (i = 0; i < EW_JSON_INLINE_TOKENS - 1; i++)
                len += (size_t)sprintf(big + len, i ? ",%d" : "%d", 1);
        big[len++] = ']';
        CU_ASSERT_EQUAL(parse_copy(&doc, big, len, 8, 0, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(doc.ntok, EW_JSON_INLINE_TOKENS);
        CU_ASSERT_PTR_EQUAL(doc.tok, doc.inline_tok);
        memcpy(big + len - 1, ",1]", 3);
        CU_ASSERT_EQUAL(parse_copy(&doc, big, len + 2, 8, 0, err, sizeof(err)),
                        0);
        CU_ASSERT_EQUAL(doc.ntok, EW_JSON_INLINE_TOKENS + 1);
        CU_ASSERT_EQUAL(ew_json_skip(&doc, 0), EW_JSON_INLINE_TOKENS + 1);
        ew_json_doc_release(&doc);
        ew_json_doc_release(NULL);
        free(big);
}

/* ------------------------------------------------------------------ */
/* Random strings, checked against simple byte-at-a-time references. */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

/* The code point of the UTF-8 sequence at s[0..n), with its length in
 * *lenp, or -1 if none starts there (decoding, then range checks: a
 * different route from ew_json's lead-byte table). */
static long ref_utf8(const unsigned char *s, size_t n, size_t *lenp)
{
        size_t len, i;
        long   cp, min;

        if (s[0] < 0x80) {
                *lenp = 1;
                return s[0];
        }
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2, cp = s[0] & 0x1f, min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3, cp = s[0] & 0x0f, min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4, cp = s[0] & 0x07, min = 0x10000;
        } else {
                return -1;
        }
        if (len > n)
                return -1;
        for (i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return -1;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return -1;
        *lenp = len;
        return cp;
}

/* What ew_jbuf_str should write for s[0..n). Returns the length. */
static size_t ref_escape(const unsigned char *s, size_t n, char *out)
{
        size_t o = 0, i = 0, len;

        out[o++] = '"';
        while (i < n) {
                unsigned c = s[i];
                if (c == '"' || c == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char)c;
                } else if (c < 0x20) {
                        const char *sh = strchr("\bb\ff\nn\rr\tt", (int)c);
                        if (c && sh) {
                                out[o++] = '\\';
                                out[o++] = sh[1];
                        } else {
                                o += (size_t)sprintf(out + o, "\\u%04x", c);
                        }
                } else if (ref_utf8(s + i, n - i, &len) >= 0) {
                        memcpy(out + o, s + i, len);
                        o += len;
                        i += len;
                        continue;
                } else {
                        memcpy(out + o, "\xef\xbf\xbd", 3);
                        o += 3;
                }
                i++;
        }
        out[o++] = '"';
        out[o]   = '\0';
        return o;
}

/* Fills s with n random bytes, mostly plain ASCII with some of every
 * other kind. */
static void random_bytes(unsigned char *s, size_t n)
{
        static const char *const seqs[] = {"\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "\xed\x9f\xbf",
                                           "\xc0\x80",
                                           "\xed\xa0\x80",
                                           "\xf4\x90\x80\x80",
                                           "\xe2\x82",
                                           "\xf0\x9f\x98",
                                           "\x80",
                                           "\xff",
                                           "\"",
                                           "\\",
                                           "\n",
                                           "\x01",
                                           "\x1f"};
        size_t                   i      = 0;

        while (i < n) {
                uint32_t r = rng() % 100;
                if (r < 85) {
                        s[i++] = (unsigned char)(0x20 + rng() % 0x5f);
                } else {
                        const char *q = seqs[rng() % 16];
                        while (*q && i < n)
                                s[i++] = (unsigned char)*q++;
                }
        }
}

/* Writer output equals the reference's, and reads back (through the
 * reader) as the input with each invalid byte turned into U+FFFD. */
static void test_random_strings(void)
{
        enum { MAXN = 300 };
        unsigned char in[MAXN], want_dec[3 * MAXN];
        char          want[6 * MAXN + 3], got_dec[3 * MAXN + 1], err[128];
        ew_jbuf_t     b;
        ew_json_doc_t doc;
        size_t        n, wlen, dlen, i, len;
        int           round, bad = 0;
        char         *out;

        ew_jbuf_init(&b, 0);
        ew_json_doc_init(&doc);
        for (round = 0; round < 20000; round++) {
                n = rng() % (round < 10000 ? 40 : MAXN);
                random_bytes(in, n);
                wlen = ref_escape(in, n, want);
                /* The decoded form: the input, invalid bytes replaced. */
                for (i = 0, dlen = 0; i < n;) {
                        if (ref_utf8(in + i, n - i, &len) >= 0) {
                                memcpy(want_dec + dlen, in + i, len);
                                dlen += len;
                                i += len;
                        } else {
                                memcpy(want_dec + dlen, "\xef\xbf\xbd", 3);
                                dlen += 3;
                                i++;
                        }
                }
                ew_jbuf_str(&b, (const char *)in, n);
                out = ew_jbuf_take(&b, &len);
                if (!out || len != wlen || memcmp(out, want, wlen) != 0) {
                        fprintf(stderr, "writer: got %s want %s\n",
                                out ? out : "NULL", want);
                        bad++;
                        free(out);
                        continue;
                }
                if (parse_copy(&doc, out, len, 1, 0, err, sizeof(err)) != 0 ||
                    ew_json_count(&doc, 0) != dlen ||
                    ew_json_str_copy(&doc, 0, got_dec) != dlen ||
                    memcmp(got_dec, want_dec, dlen) != 0 ||
                    !ew_json_str_eq(&doc, 0, (const char *)want_dec, dlen)) {
                        fprintf(stderr, "reader: %s (%s)\n", out, err);
                        bad++;
                }
                free(out);
        }
        CU_ASSERT_EQUAL(bad, 0);
        ew_jbuf_release(&b);
        ew_json_doc_release(&doc);
}

/* Appends code point cp to a JSON string body at t, either raw or as a
 * \u escape (a surrogate pair above U+FFFF), and its UTF-8 to d. */
static void put_cp(char *t, size_t *tl, unsigned char *d, size_t *dl,
                   unsigned long cp, int escape)
{
        size_t n;

        if (cp < 0x80) {
                d[(*dl)++] = (unsigned char)cp;
        } else if (cp < 0x800) {
                d[(*dl)++] = (unsigned char)(0xc0 | cp >> 6);
                d[(*dl)++] = (unsigned char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
                d[(*dl)++] = (unsigned char)(0xe0 | cp >> 12);
                d[(*dl)++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
                d[(*dl)++] = (unsigned char)(0x80 | (cp & 0x3f));
        } else {
                d[(*dl)++] = (unsigned char)(0xf0 | cp >> 18);
                d[(*dl)++] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
                d[(*dl)++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
                d[(*dl)++] = (unsigned char)(0x80 | (cp & 0x3f));
        }
        if (!escape && cp >= 0x20 && cp != '"' && cp != '\\') {
                n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
                memcpy(t + *tl, d + *dl - n, n);
                *tl += n;
        } else if (cp >= 0x10000) {
                *tl += (size_t)sprintf(t + *tl, "\\u%04lX\\u%04lx",
                                       0xd800 + ((cp - 0x10000) >> 10),
                                       0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
                *tl += (size_t)sprintf(t + *tl, "\\u%04lx", cp);
        }
}

/* Strings of random code points, some escaped: the decoded bytes. */
static void test_random_escapes(void)
{
        enum { MAXCP = 80 };
        char          text[MAXCP * 12 + 3], got[MAXCP * 4 + 1], err[128];
        unsigned char want[MAXCP * 4];
        ew_json_doc_t doc;
        size_t        tl, dl, k, n;
        int           round, bad = 0;
        unsigned long cp;

        ew_json_doc_init(&doc);
        for (round = 0; round < 20000; round++) {
                tl         = 0;
                dl         = 0;
                text[tl++] = '"';
                n          = rng() % MAXCP;
                for (k = 0; k < n; k++) {
                        switch (rng() % 4) {
                        case 0:
                                cp = rng() % 0x80;
                                break;
                        case 1:
                                cp = 0x80 + rng() % 0x780;
                                break;
                        case 2:
                                cp = 0x800 + rng() % 0xf800;
                                if (cp >= 0xd800 && cp <= 0xdfff)
                                        cp -= 0x1000;
                                break;
                        default:
                                cp = 0x10000 + rng() % 0x100000;
                                break;
                        }
                        put_cp(text, &tl, want, &dl, cp, rng() % 2);
                }
                text[tl++] = '"';
                if (parse_copy(&doc, text, tl, 1, 0, err, sizeof(err)) != 0 ||
                    ew_json_count(&doc, 0) != dl ||
                    ew_json_str_copy(&doc, 0, got) != dl ||
                    memcmp(got, want, dl) != 0 ||
                    !ew_json_str_eq(&doc, 0, (const char *)want, dl)) {
                        fprintf(stderr, "escapes: %.*s (%s)\n", (int)tl, text,
                                err);
                        bad++;
                }
        }
        CU_ASSERT_EQUAL(bad, 0);
        ew_json_doc_release(&doc);
}

/* ------------------------------------------------------------------ */
/* Writer */

/* Takes b's text and compares it with want; frees it. Returns 1 if
 * different. */
static int take_is(ew_jbuf_t *b, const char *want, size_t want_len)
{
        size_t len = 0;
        char  *s   = ew_jbuf_take(b, &len);
        int    bad = !s || len != want_len || memcmp(s, want, len) != 0 ||
                  s[len] != '\0';

        if (bad)
                fprintf(stderr, "got '%s' want '%s'\n", s ? s : "NULL", want);
        free(s);
        return bad;
}

#define TAKE_IS(b, want) take_is(b, want, sizeof(want) - 1)

static void test_writer_escapes(void)
{
        ew_jbuf_t b;
        unsigned  c;
        char      in, want[16];
        int       failures = 0;

        ew_jbuf_init(&b, 0);
        for (c = 0; c < 0x80; c++) {
                in = (char)c;
                switch (c) {
                case '"':
                        strcpy(want, "\"\\\"\"");
                        break;
                case '\\':
                        strcpy(want, "\"\\\\\"");
                        break;
                case '\b':
                        strcpy(want, "\"\\b\"");
                        break;
                case '\f':
                        strcpy(want, "\"\\f\"");
                        break;
                case '\n':
                        strcpy(want, "\"\\n\"");
                        break;
                case '\r':
                        strcpy(want, "\"\\r\"");
                        break;
                case '\t':
                        strcpy(want, "\"\\t\"");
                        break;
                default:
                        if (c < 0x20)
                                snprintf(want, sizeof(want), "\"\\u%04x\"", c);
                        else
                                snprintf(want, sizeof(want), "\"%c\"", c);
                }
                ew_jbuf_str(&b, &in, 1);
                failures += take_is(&b, want, strlen(want));
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* '/' and DEL as they are; NUL in the middle of a string. */
        ew_jbuf_str(&b, "a/\x7f\0b", 5);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"a/\x7f\\u0000b\""), 0);
        ew_jbuf_cstr(&b, "x\"y");
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"x\\\"y\""), 0);
        ew_jbuf_cstr(&b, NULL);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "null"), 0);
        ew_jbuf_str(&b, "", 0);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"\""), 0);
        ew_jbuf_str(&b, NULL, 0);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"\""), 0);
        ew_jbuf_release(&b);
}

static void test_writer_utf8(void)
{
#define FFFD "\xef\xbf\xbd"
        static const struct {
                const char *in;
                size_t      n;
                const char *want;
        } cases[] = {
            {T("\xc3\xa9"), "\"\xc3\xa9\""},
            {T("\xe2\x82\xac"), "\"\xe2\x82\xac\""},
            {T("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\""},
            {T("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\""},
            {T("\xff"), "\"" FFFD "\""},
            {T("\x80"), "\"" FFFD "\""},
            {T("a\xc3"), "\"a" FFFD "\""},
            {T("\xc3z"), "\"" FFFD "z\""},
            {T("\xe2\x82"), "\"" FFFD FFFD "\""},
            {T("\xc0\x80"), "\"" FFFD FFFD "\""},
            {T("\xe0\x80\x80"), "\"" FFFD FFFD FFFD "\""},
            {T("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\""},
            {T("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\""},
            {T("\xf8\x88\x80\x80\x80"), "\"" FFFD FFFD FFFD FFFD FFFD "\""},
            {T("\xc3\xa9\xa9"), "\"\xc3\xa9" FFFD "\""},
            {T("\xf0\x9f\x98\""), "\"" FFFD FFFD FFFD "\\\"\""},
        };
#undef FFFD
        ew_jbuf_t b;
        size_t    i;
        int       failures = 0;

        ew_jbuf_init(&b, 0);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ew_jbuf_str(&b, cases[i].in, cases[i].n);
                failures += take_is(&b, cases[i].want, strlen(cases[i].want));
        }
        CU_ASSERT_EQUAL(failures, 0);
        ew_jbuf_release(&b);
}

static void test_writer_key_int(void)
{
        ew_jbuf_t b;

        ew_jbuf_init(&b, 0);
        ew_jbuf_key(&b, "first"); /* nothing written yet: no comma */
        ew_jbuf_int(&b, 0);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"first\":0"), 0);

        ew_jbuf_char(&b, '{');
        ew_jbuf_key(&b, "min");
        ew_jbuf_int(&b, INT64_MIN);
        ew_jbuf_key(&b, "max");
        ew_jbuf_int(&b, INT64_MAX);
        ew_jbuf_key(&b, "o");
        ew_jbuf_char(&b, '{');
        ew_jbuf_key(&b, "neg");
        ew_jbuf_int(&b, -1);
        ew_jbuf_char(&b, '}');
        ew_jbuf_key(&b, "a\n");
        ew_jbuf_raw(&b, "[1,2]", 5);
        ew_jbuf_char(&b, '}');
        CU_ASSERT_EQUAL(TAKE_IS(&b, "{\"min\":-9223372036854775808,"
                                    "\"max\":9223372036854775807,"
                                    "\"o\":{\"neg\":-1},\"a\\n\":[1,2]}"),
                        0);
        /* Only '{' (or nothing) goes without the comma. */
        ew_jbuf_char(&b, '[');
        ew_jbuf_key(&b, "k");
        CU_ASSERT_EQUAL(TAKE_IS(&b, "[,\"k\":"), 0);
        ew_jbuf_int(&b, 10);
        ew_jbuf_char(&b, ' ');
        ew_jbuf_int(&b, -10);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "10 -10"), 0);
        ew_jbuf_release(&b);
}

static void test_writer_limit(void)
{
        ew_jbuf_t b;
        char     *s;

        ew_jbuf_init(&b, 10);
        ew_jbuf_raw(&b, "12345", 5);
        ew_jbuf_raw(&b, "67890", 5); /* exactly the limit */
        CU_ASSERT_EQUAL(b.failed, 0);
        CU_ASSERT_EQUAL(b.len, 10);
        CU_ASSERT_STRING_EQUAL(b.buf, "1234567890");
        ew_jbuf_char(&b, 'x');
        CU_ASSERT_NOT_EQUAL(b.failed, 0);
        ew_jbuf_raw(&b, "", 0); /* later appends do nothing */
        ew_jbuf_int(&b, 1);
        CU_ASSERT_EQUAL(b.len, 10);
        CU_ASSERT_PTR_NULL(ew_jbuf_take(&b, NULL));
        CU_ASSERT_EQUAL(b.failed, 0);
        CU_ASSERT_EQUAL(b.len, 0);
        /* Usable again, under the same limit. */
        ew_jbuf_raw(&b, "abc", 3);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "abc"), 0);
        ew_jbuf_raw(&b, "12345678901", 11);
        CU_ASSERT_PTR_NULL(ew_jbuf_take(&b, NULL));

        /* Strings count their quotes and escapes. */
        ew_jbuf_str(&b, "abcdefgh", 8);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"abcdefgh\""), 0);
        ew_jbuf_str(&b, "abcdefghi", 9);
        CU_ASSERT_PTR_NULL(ew_jbuf_take(&b, NULL));
        ew_jbuf_str(&b, "\x01\x02", 2); /* 14 bytes escaped */
        CU_ASSERT_PTR_NULL(ew_jbuf_take(&b, NULL));
        ew_jbuf_str(&b, "\x01", 1);
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"\\u0001\""), 0);
        ew_jbuf_str(&b, "\xff\xff", 2); /* 8 bytes */
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"\xef\xbf\xbd\xef\xbf\xbd\""), 0);
        ew_jbuf_str(&b, "\xff\xff\xff", 3); /* 11 bytes */
        CU_ASSERT_PTR_NULL(ew_jbuf_take(&b, NULL));
        ew_jbuf_release(&b);

        /* 0 means 64 MiB. */
        ew_jbuf_init(&b, 0);
        s = malloc(1024 * 1024);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        memset(s, 'a', 1024 * 1024);
        while (b.len < (size_t)64 * 1024 * 1024 - 1024 * 1024)
                ew_jbuf_raw(&b, s, 1024 * 1024);
        CU_ASSERT_EQUAL(b.failed, 0);
        ew_jbuf_raw(&b, s, 1024 * 1024 - 1);
        ew_jbuf_char(&b, 'z'); /* exactly 64 MiB */
        CU_ASSERT_EQUAL(b.failed, 0);
        ew_jbuf_char(&b, 'z');
        CU_ASSERT_NOT_EQUAL(b.failed, 0);
        ew_jbuf_release(&b);
        free(s);
}

static void test_writer_reset_take(void)
{
        ew_jbuf_t b;
        char     *keep, *s;
        size_t    len = 99;

        ew_jbuf_init(&b, 100);
        /* Nothing written: an empty string, still the caller's. */
        s = ew_jbuf_take(&b, &len);
        CU_ASSERT(s != NULL && s[0] == '\0' && len == 0);
        free(s);

        ew_jbuf_raw(&b, "hello", 5);
        keep = b.buf;
        ew_jbuf_reset(&b);
        CU_ASSERT_EQUAL(b.len, 0);
        CU_ASSERT_PTR_EQUAL(b.buf, keep); /* storage kept */
        CU_ASSERT_STRING_EQUAL(b.buf, "");
        ew_jbuf_raw(&b, "x", 1);
        CU_ASSERT_STRING_EQUAL(b.buf, "x");

        /* Reset clears the failed mark. */
        ew_jbuf_raw(&b, s = calloc(1, 200), 200);
        free(s);
        CU_ASSERT_NOT_EQUAL(b.failed, 0);
        ew_jbuf_reset(&b);
        CU_ASSERT_EQUAL(b.failed, 0);
        ew_jbuf_char(&b, '[');
        ew_jbuf_char(&b, ']');
        CU_ASSERT_EQUAL(TAKE_IS(&b, "[]"), 0);

        /* Take leaves it empty and usable, twice over. */
        CU_ASSERT_PTR_NULL(b.buf);
        ew_jbuf_cstr(&b, "one");
        CU_ASSERT_EQUAL(TAKE_IS(&b, "\"one\""), 0);
        ew_jbuf_cstr(&b, "two");
        s = ew_jbuf_take(&b, NULL);
        CU_ASSERT_STRING_EQUAL(s, "\"two\"");
        free(s);
        ew_jbuf_release(&b);
        ew_jbuf_release(&b); /* twice is fine */
        ew_jbuf_release(NULL);
}

/* A long string with escapes all through it: growth mid-string. */
static void test_writer_long(void)
{
        size_t         n = 300000, wlen, len = 0;
        unsigned char *in   = malloc(n);
        char          *want = malloc(6 * n + 3), *s;
        ew_jbuf_t      b;

        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        CU_ASSERT_PTR_NOT_NULL_FATAL(want);
        random_bytes(in, n);
        wlen = ref_escape(in, n, want);
        ew_jbuf_init(&b, 0);
        ew_jbuf_char(&b, '[');
        ew_jbuf_str(&b, (const char *)in, n);
        ew_jbuf_char(&b, ']');
        s = ew_jbuf_take(&b, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(len, wlen + 2);
        CU_ASSERT(memcmp(s + 1, want, wlen) == 0);
        free(s);
        /* Just over the limit as escaped, though the input is under it. */
        ew_jbuf_init(&b, wlen - 1);
        ew_jbuf_str(&b, (const char *)in, n);
        CU_ASSERT_PTR_NULL(ew_jbuf_take(&b, NULL));
        ew_jbuf_init(&b, wlen);
        ew_jbuf_str(&b, (const char *)in, n);
        s = ew_jbuf_take(&b, &len);
        CU_ASSERT(s != NULL && len == wlen);
        free(s);
        ew_jbuf_release(&b);
        free(in);
        free(want);
}

static void test_writer_basic(void)
{
        ew_jbuf_t b;
        char     *s;
        size_t    len = 0;

        ew_jbuf_init(&b, 0);
        ew_jbuf_char(&b, '{');
        ew_jbuf_key(&b, "a");
        ew_jbuf_int(&b, -12);
        ew_jbuf_key(&b, "b\"");
        ew_jbuf_str(&b, "x\n\x01y", 4);
        ew_jbuf_key(&b, "c");
        ew_jbuf_cstr(&b, NULL);
        ew_jbuf_char(&b, '}');
        s = ew_jbuf_take(&b, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_STRING_EQUAL(
            s, "{\"a\":-12,\"b\\\"\":\"x\\n\\u0001y\",\"c\":null}");
        CU_ASSERT_EQUAL(len, strlen(s));
        free(s);
        ew_jbuf_release(&b);
}

static const ew_test_case_t reader_cases[] = {
    {"grammar", test_grammar},
    {"strings", test_strings},
    {"depth", test_depth},
    {"messages", test_messages},
    {"length_bounds", test_length_bounds},
    {"tokens", test_tokens},
    {"duplicates", test_duplicates},
    {"duplicates_large", test_duplicates_large},
    {"duplicates_adversarial", test_duplicates_adversarial},
    {"get_and_strings", test_get_and_strings},
    {"numbers", test_numbers},
    {"reuse", test_reuse},
    {"random_strings", test_random_strings},
    {"random_escapes", test_random_escapes},
    {NULL, NULL},
};

static const ew_test_case_t writer_cases[] = {
    {"basic", test_writer_basic}, {"escapes", test_writer_escapes},
    {"utf8", test_writer_utf8},   {"key_int", test_writer_key_int},
    {"limit", test_writer_limit}, {"reset_take", test_writer_reset_take},
    {"long", test_writer_long},   {NULL, NULL},
};

static const ew_test_suite_t suites[] = {
    {"reader", reader_cases},
    {"writer", writer_cases},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
        int rc = ew_test_main(argc, argv, suites);

        free(last_copy);
        return rc;
}
