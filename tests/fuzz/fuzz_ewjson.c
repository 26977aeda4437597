/*
 * fuzz_ewjson - differential libFuzzer target for the hot path's JSON
 * reader and writer (ew_json).
 *
 * Each input is a text, any bytes. It is read by three parsers:
 *
 *   - ew_json_parse (without and with EW_JSON_UNIQUE_KEYS),
 *   - an independent RFC 8259 checker (fuzz_json_valid, plus
 *     ew_utf8_valid over the whole text, plus "no NUL byte"),
 *   - json-c 0.16 (json_tokener, JSON_TOKENER_STRICT and
 *     JSON_TOKENER_VALIDATE_UTF8).
 *
 * ew_json must agree with the checker on every input. When ew_json
 * accepts, json-c must accept too and build the same tree (types, member
 * names with the last one winning, string bytes, numbers); and the
 * document, walked token by token and written out again with the ew_jbuf
 * writer (strings decoded then escaped again, numbers raw), must read back
 * through ew_json as the same tokens, through json-c as the same tree, and
 * pass the checker. When only json-c accepts, the text must show one of
 * json-c's known leniencies (see leniency() below); anything else aborts.
 * The input is also written as one string with ew_jbuf_str, which must
 * read back as the input with each byte of an invalid UTF-8 sequence
 * turned into U+FFFD.
 *
 * A broken promise aborts, so the fuzzer keeps the input.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ew_json.h"
#include "ew_util.h"
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nesting allowed to ew_json and the checker. */
#define DEPTH 64

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
                                __LINE__, #cond);                              \
                        abort();                                               \
                }                                                              \
        } while (0)

/* ------------------------------------------------------------------ */
/* References */

/* The code point of the UTF-8 sequence at s[0..n) and its length in
 * *lenp, or -1 if no valid one starts there (RFC 3629, by decoding). */
static long utf8_at(const unsigned char *s, size_t n, size_t *lenp)
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

static int is_digit(unsigned c)
{
        return c >= '0' && c <= '9';
}

static int hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* The \u escape at s[i] ("\uXXXX"), or -1. */
static long u_escape(const unsigned char *s, size_t n, size_t i)
{
        long v = 0;
        int  k, h;

        if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
                return -1;
        for (k = 2; k < 6; k++) {
                if ((h = hexval(s[i + k])) < 0)
                        return -1;
                v = v << 4 | h;
        }
        return v;
}

/* Why json-c accepts a text that RFC 8259 (ew_json and the checker) does
 * not. json-c 0.16, even with JSON_TOKENER_STRICT and
 * JSON_TOKENER_VALIDATE_UTF8, was seen to accept each of these; they are
 * json-c's leniencies, not ew_json bugs:
 *
 *   L_DEPTH      nesting deeper than DEPTH (json-c is given more room)
 *   L_CONTROL    raw control characters (U+0000..U+001F) in strings
 *   L_SURROGATE  a \u escape of a surrogate that is not half of a
 *                high-low pair ("\ud800", "\udc00x", reversed pairs):
 *                json-c makes it U+FFFD
 *   L_UTF8       UTF-8 that is well-formed in shape only: overlong forms,
 *                encoded surrogates, code points above U+10FFFF
 *   L_WORD       NaN, Infinity, -Infinity
 *   L_NUMBER     "0." or "1.e5" (no digit after the point), "-.5" (none
 *                before it), "05" or "-01" (leading zeros; json-c refuses
 *                "01" only as the whole text)
 *
 * Returns the first it finds, or L_NONE. */
enum {
        L_NONE,
        L_DEPTH,
        L_CONTROL,
        L_SURROGATE,
        L_UTF8,
        L_WORD,
        L_NUMBER,
};

static int leniency(const unsigned char *s, size_t n)
{
        size_t i = 0, len;
        long   cp, lo;

        if (!memchr(s, '\0', n) && ew_utf8_valid((const char *)s, n) &&
            fuzz_json_valid((const char *)s, n, INT_MAX))
                return L_DEPTH;
        while (i < n) {
                unsigned c = s[i];

                if (c == '"') {
                        for (i++; i < n && s[i] != '"'; i++) {
                                if (s[i] < 0x20)
                                        return L_CONTROL;
                                if (s[i] >= 0x80) {
                                        if (utf8_at(s + i, n - i, &len) < 0)
                                                return L_UTF8;
                                        i += len - 1;
                                        continue;
                                }
                                if (s[i] != '\\' || i + 1 >= n)
                                        continue;
                                cp = u_escape(s, n, i);
                                if (cp >= 0xdc00 && cp <= 0xdfff)
                                        return L_SURROGATE;
                                if (cp >= 0xd800 && cp <= 0xdbff) {
                                        lo = u_escape(s, n, i + 6);
                                        if (lo < 0xdc00 || lo > 0xdfff)
                                                return L_SURROGATE;
                                        i += 6;
                                }
                                i++; /* the escaped character */
                        }
                        i++;
                        continue;
                }
                if ((c == 'N' && i + 3 <= n && !memcmp(s + i, "NaN", 3)) ||
                    (c == 'I' && i + 8 <= n && !memcmp(s + i, "Infinity", 8)))
                        return L_WORD;
                if (c == '-' || (c >= '0' && c <= '9')) {
                        size_t j = i + (c == '-'), digits;

                        if (j + 1 < n && s[j] == '0' && is_digit(s[j + 1]))
                                return L_NUMBER;
                        for (digits = j; j < n && is_digit(s[j]); j++)
                                ;
                        if (j < n && s[j] == '.') {
                                if (j == digits || j + 1 >= n ||
                                    !is_digit(s[j + 1]))
                                        return L_NUMBER;
                                for (j++; j < n && is_digit(s[j]); j++)
                                        ;
                        }
                        if (j < n && (s[j] | 0x20) == 'e') {
                                j++;
                                if (j < n && (s[j] == '+' || s[j] == '-'))
                                        j++;
                                while (j < n && is_digit(s[j]))
                                        j++;
                        }
                        i = j;
                        continue;
                }
                i++;
        }
        return L_NONE;
}

/* ------------------------------------------------------------------ */
/* json-c */

/* Parses text[0..len) (text[len] must be NUL: json-c needs a byte after a
 * top-level number to know it has ended) with json-c in strict mode.
 * Returns 1 and the tree in *op (json-c's NULL for null) if the whole
 * text is one value, else 0. */
static int jsonc_parse(const char *text, size_t len, json_object **op)
{
        int                  depth = len + 2 < 100000 ? (int)len + 2 : 100000;
        struct json_tokener *tok = json_tokener_new_ex(depth < 64 ? 64 : depth);
        json_object         *o;
        int                  ok;

        CHECK(tok != NULL);
        CHECK(text[len] == '\0');
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                        JSON_TOKENER_VALIDATE_UTF8);
        o  = json_tokener_parse_ex(tok, text, (int)len + 1);
        ok = json_tokener_get_error(tok) == json_tokener_success &&
             json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(o);
                o = NULL;
        }
        *op = o;
        return ok;
}

/* ------------------------------------------------------------------ */
/* Walking an ew_json document */

/* String token i decoded, in a new buffer (NUL after it). */
static char *decoded(const ew_json_doc_t *doc, uint32_t i, size_t *lenp)
{
        char *s = malloc((size_t)ew_json_count(doc, i) + 1);

        CHECK(s != NULL);
        *lenp = ew_json_str_copy(doc, i, s);
        CHECK(*lenp == ew_json_count(doc, i));
        CHECK(s[*lenp] == '\0');
        CHECK(ew_json_str_eq(doc, i, s, *lenp));
        if (*lenp > 0)
                CHECK(!ew_json_str_eq(doc, i, s, *lenp - 1));
        return s;
}

/* Decoded names of object obj's members, in order; *np gets the count. */
static char **member_names(const ew_json_doc_t *doc, uint32_t obj,
                           size_t **lensp, uint32_t **keysp)
{
        uint32_t  n = ew_json_count(doc, obj), m, k, v, j = 0;
        char    **names;
        size_t   *lens;
        uint32_t *keys;

        names = calloc((size_t)n + 1, sizeof(*names));
        lens  = calloc((size_t)n + 1, sizeof(*lens));
        keys  = calloc((size_t)n + 1, sizeof(*keys));
        CHECK(names && lens && keys);
        EW_JSON_FOREACH_MEMBER(doc, obj, m, k, v)
        {
                CHECK(ew_json_type(doc, k) == EW_JSON_STRING);
                CHECK(v == k + 1);
                names[j] = decoded(doc, k, &lens[j]);
                keys[j]  = k;
                j++;
        }
        CHECK(j == n);
        *lensp = lens;
        *keysp = keys;
        return names;
}

static void free_names(char **names, size_t *lens, uint32_t *keys, size_t n)
{
        size_t j;

        for (j = 0; j < n; j++)
                free(names[j]);
        free(names);
        free(lens);
        free(keys);
}

/* 1 if some object in doc names a member twice (decoded). */
static int has_duplicate(const ew_json_doc_t *doc)
{
        uint32_t i;
        int      dup = 0;

        for (i = 0; i < doc->ntok && !dup; i++) {
                char    **names;
                size_t   *lens, a, b, n;
                uint32_t *keys;

                if (ew_json_type(doc, i) != EW_JSON_OBJECT)
                        continue;
                n     = ew_json_count(doc, i);
                names = member_names(doc, i, &lens, &keys);
                for (a = 0; a < n && !dup; a++)
                        for (b = a + 1; b < n && !dup; b++)
                                dup = lens[a] == lens[b] &&
                                      memcmp(names[a], names[b], lens[a]) == 0;
                free_names(names, lens, keys, n);
        }
        return dup;
}

/* Checks that json-c's tree o is ew_json's value i of doc. json-c keeps
 * member names as C strings, so a name holding U+0000 is cut there (and
 * may then replace an earlier member of the cut name): such members are
 * not compared, nor is the member count of their object. */
static void same_tree(const ew_json_doc_t *doc, uint32_t i, json_object *o)
{
        size_t  len, n, a, b, distinct = 0;
        int64_t iv;
        double  dv;
        int     nul_name = 0;

        switch (ew_json_type(doc, i)) {
        case EW_JSON_NULL:
                CHECK(o == NULL);
                break;
        case EW_JSON_TRUE:
        case EW_JSON_FALSE:
                CHECK(json_object_is_type(o, json_type_boolean));
                CHECK(json_object_get_boolean(o) ==
                      (ew_json_type(doc, i) == EW_JSON_TRUE));
                break;
        case EW_JSON_NUMBER:
                CHECK(json_object_is_type(o, json_type_int) ||
                      json_object_is_type(o, json_type_double));
                CHECK(ew_json_double(doc, i, &dv) == 0);
                if (ew_json_int64(doc, i, &iv) == 0) {
                        CHECK(json_object_is_type(o, json_type_int));
                        CHECK(json_object_get_int64(o) == iv);
                        CHECK(dv == (double)iv);
                } else if (json_object_is_type(o, json_type_double)) {
                        /* Both strtod. */
                        double jv = json_object_get_double(o);
                        CHECK(memcmp(&jv, &dv, sizeof(dv)) == 0);
                }
                /* else an integer beyond int64: json-c clamps it to the
                 * int64/uint64 range, ew_json only gives it as a double */
                break;
        case EW_JSON_STRING: {
                char *s = decoded(doc, i, &len);

                CHECK(json_object_is_type(o, json_type_string));
                CHECK((size_t)json_object_get_string_len(o) == len);
                CHECK(memcmp(json_object_get_string(o), s, len) == 0);
                free(s);
                break;
        }
        case EW_JSON_ARRAY: {
                uint32_t m, e;

                CHECK(json_object_is_type(o, json_type_array));
                CHECK(json_object_array_length(o) == ew_json_count(doc, i));
                a = 0;
                EW_JSON_FOREACH_ELEM(doc, i, m, e)
                {
                        same_tree(doc, e, json_object_array_get_idx(o, a));
                        a++;
                }
                CHECK(a == ew_json_count(doc, i));
                CHECK(ew_json_get(doc, i, "") == 0); /* not an object */
                break;
        }
        case EW_JSON_OBJECT: {
                char    **names;
                size_t   *lens;
                uint32_t *keys;

                CHECK(json_object_is_type(o, json_type_object));
                n     = ew_json_count(doc, i);
                names = member_names(doc, i, &lens, &keys);
                for (a = 0; a < n; a++) {
                        json_object *jv   = NULL;
                        int          last = 1;

                        if (memchr(names[a], '\0', lens[a])) {
                                nul_name = 1;
                                continue;
                        }
                        for (b = a + 1; b < n && last; b++)
                                last = !(lens[a] == lens[b] &&
                                         !memcmp(names[a], names[b], lens[a]));
                        if (!last)
                                continue;
                        distinct++;
                        /* The last of a name counts, in both. */
                        CHECK(ew_json_get(doc, i, names[a]) == keys[a] + 1);
                        /* Unless json-c cut a later name to this one. */
                        for (b = a + 1; b < n && last; b++)
                                last = !(lens[b] > lens[a] &&
                                         names[b][lens[a]] == '\0' &&
                                         !memcmp(names[a], names[b], lens[a]));
                        if (!last)
                                continue;
                        CHECK(json_object_object_get_ex(o, names[a], &jv));
                        same_tree(doc, keys[a] + 1, jv);
                }
                if (!nul_name)
                        CHECK((size_t)json_object_object_length(o) == distinct);
                free_names(names, lens, keys, n);
                break;
        }
        default:
                CHECK(!"token type");
        }
}

/* Writes value i of doc with the ew_jbuf writer. */
static void emit(const ew_json_doc_t *doc, uint32_t i, ew_jbuf_t *b)
{
        const char *raw;
        size_t      len;
        uint32_t    m, k, v, e;
        int         first = 1;

        switch (ew_json_type(doc, i)) {
        case EW_JSON_STRING: {
                char *s = decoded(doc, i, &len);
                ew_jbuf_str(b, s, len);
                free(s);
                break;
        }
        case EW_JSON_ARRAY:
                ew_jbuf_char(b, '[');
                EW_JSON_FOREACH_ELEM(doc, i, m, e)
                {
                        if (!first)
                                ew_jbuf_char(b, ',');
                        first = 0;
                        emit(doc, e, b);
                }
                ew_jbuf_char(b, ']');
                break;
        case EW_JSON_OBJECT:
                ew_jbuf_char(b, '{');
                EW_JSON_FOREACH_MEMBER(doc, i, m, k, v)
                {
                        char *s = decoded(doc, k, &len);

                        if (!memchr(s, '\0', len)) {
                                ew_jbuf_key(b, s); /* its own comma */
                        } else {
                                if (!first)
                                        ew_jbuf_char(b, ',');
                                ew_jbuf_str(b, s, len);
                                ew_jbuf_char(b, ':');
                        }
                        first = 0;
                        free(s);
                        emit(doc, v, b);
                }
                ew_jbuf_char(b, '}');
                break;
        default: /* numbers and literals as they are */
                raw = ew_json_raw(doc, i, &len);
                ew_jbuf_raw(b, raw, len);
                break;
        }
}

/* The two documents hold the same tokens: types, counts, string bytes,
 * number values, and subtree extents. */
static void same_tokens(const ew_json_doc_t *x, const ew_json_doc_t *y)
{
        uint32_t i;

        CHECK(x->ntok == y->ntok);
        for (i = 0; i < x->ntok; i++) {
                ew_json_type_t t = ew_json_type(x, i);
                size_t         lx, ly;
                const char    *rx, *ry;

                CHECK(ew_json_type(y, i) == t);
                CHECK(ew_json_skip(x, i) == ew_json_skip(y, i));
                if (t == EW_JSON_ARRAY || t == EW_JSON_OBJECT ||
                    t == EW_JSON_STRING)
                        CHECK(ew_json_count(x, i) == ew_json_count(y, i));
                if (t == EW_JSON_STRING) {
                        char *sx = decoded(x, i, &lx);
                        CHECK(ew_json_str_eq(y, i, sx, lx));
                        free(sx);
                } else if (t != EW_JSON_ARRAY && t != EW_JSON_OBJECT) {
                        rx = ew_json_raw(x, i, &lx);
                        ry = ew_json_raw(y, i, &ly);
                        CHECK(lx == ly && memcmp(rx, ry, lx) == 0);
                }
        }
}

/* Token-level facts every parsed document must show. */
static void check_layout(const ew_json_doc_t *doc, size_t size)
{
        uint32_t i;

        CHECK(doc->ntok >= 1 && doc->ntok <= size);
        CHECK(ew_json_skip(doc, 0) == doc->ntok);
        for (i = 0; i < doc->ntok; i++) {
                const ew_json_tok_t *t = &doc->tok[i];
                int64_t              iv;
                double               dv;

                CHECK(t->type <= EW_JSON_OBJECT);
                CHECK(t->next > i && t->next <= doc->ntok);
                CHECK((size_t)t->off + t->len <= size && t->len > 0);
                if (i > 0)
                        CHECK(t->off > doc->tok[i - 1].off);
                switch (t->type) {
                case EW_JSON_STRING:
                        CHECK(t->len >= 2 && doc->text[t->off] == '"');
                        CHECK(doc->text[t->off + t->len - 1] == '"');
                        if (t->flags & EW_JSON_F_ESCAPED)
                                CHECK(t->count < t->len - 2);
                        else
                                CHECK(t->count == t->len - 2);
                        CHECK(!(t->flags & EW_JSON_F_ESCAPED) ==
                              !memchr(doc->text + t->off, '\\', t->len));
                        CHECK(t->next == i + 1);
                        CHECK(ew_json_int64(doc, i, &iv) == -1);
                        CHECK(ew_json_double(doc, i, &dv) == -1);
                        break;
                case EW_JSON_ARRAY:
                        CHECK(doc->text[t->off] == '[');
                        CHECK(doc->text[t->off + t->len - 1] == ']');
                        break;
                case EW_JSON_OBJECT:
                        CHECK(doc->text[t->off] == '{');
                        CHECK(doc->text[t->off + t->len - 1] == '}');
                        break;
                default:
                        CHECK(t->next == i + 1);
                        CHECK(!ew_json_str_eq(doc, i, "", 0));
                        break;
                }
        }
}

/* The whole input as one string through ew_jbuf_str: strict JSON that
 * reads back as the input, invalid UTF-8 bytes as U+FFFD. */
static void check_writer(const unsigned char *s, size_t n)
{
        ew_jbuf_t     b;
        ew_json_doc_t doc;
        json_object  *o;
        char         *out, *want, *got, err[128];
        size_t        len = 0, wl = 0, i = 0, l;

        want = malloc(3 * n + 1);
        CHECK(want != NULL);
        while (i < n) {
                if (utf8_at(s + i, n - i, &l) >= 0) {
                        memcpy(want + wl, s + i, l);
                        wl += l;
                        i += l;
                } else {
                        memcpy(want + wl, "\xef\xbf\xbd", 3);
                        wl += 3;
                        i++;
                }
        }
        ew_jbuf_init(&b, 0);
        ew_jbuf_str(&b, (const char *)s, n);
        out = ew_jbuf_take(&b, &len);
        CHECK(out != NULL && strlen(out) == len);
        CHECK(ew_utf8_valid(out, len));
        CHECK(fuzz_json_valid(out, len, 1));
        ew_json_doc_init(&doc);
        CHECK(ew_json_parse(&doc, out, len, 1, 0, err, sizeof(err)) == 0);
        CHECK(doc.ntok == 1 && ew_json_type(&doc, 0) == EW_JSON_STRING);
        CHECK(ew_json_count(&doc, 0) == wl);
        got = decoded(&doc, 0, &l);
        CHECK(l == wl && memcmp(got, want, wl) == 0);
        CHECK(jsonc_parse(out, len, &o));
        CHECK(json_object_is_type(o, json_type_string));
        CHECK((size_t)json_object_get_string_len(o) == wl);
        CHECK(memcmp(json_object_get_string(o), want, wl) == 0);
        json_object_put(o);
        free(got);
        free(out);
        free(want);
        ew_json_doc_release(&doc);
        ew_jbuf_release(&b);
}

/* Every integer reads back through ew_jbuf_int. */
static void check_ints(const ew_json_doc_t *doc)
{
        ew_jbuf_t     b;
        ew_json_doc_t back;
        uint32_t      i;
        int64_t       v, w;
        char          err[128];

        ew_jbuf_init(&b, 32);
        ew_json_doc_init(&back);
        for (i = 0; i < doc->ntok; i++) {
                if (ew_json_int64(doc, i, &v) != 0)
                        continue;
                ew_jbuf_reset(&b);
                ew_jbuf_int(&b, v);
                CHECK(!b.failed);
                CHECK(ew_json_parse(&back, b.buf, b.len, 1, 0, err,
                                    sizeof(err)) == 0);
                CHECK(ew_json_int64(&back, 0, &w) == 0 && w == v);
        }
        ew_json_doc_release(&back);
        ew_jbuf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ew_json_doc_t doc, again;
        ew_jbuf_t     b;
        json_object  *o = NULL, *o2 = NULL;
        char         *text, *out, err[256];
        size_t        len = 0, off;
        int           ew_ok, ref_ok, jc_ok, r;

        if (size > UINT32_MAX)
                return 0;
        /* A copy that json-c may read one byte past (a NUL). */
        text = malloc(size + 1);
        CHECK(text != NULL);
        memcpy(text, data, size);
        text[size] = '\0';

        check_writer(data, size);

        ew_json_doc_init(&doc);
        ew_json_doc_init(&again);
        memset(err, 'X', sizeof(err));
        ew_ok  = ew_json_parse(&doc, (const char *)data, size, DEPTH, 0, err,
                               sizeof(err)) == 0;
        ref_ok = !memchr(data, '\0', size) &&
                 ew_utf8_valid((const char *)data, size) &&
                 fuzz_json_valid((const char *)data, size, DEPTH);
        jc_ok = jsonc_parse(text, size, &o);

        /* The independent checker and ew_json agree, always. */
        if (ew_ok != ref_ok)
                fprintf(stderr, "ew_json %s, checker %s: %s\n",
                        ew_ok ? "accepts" : "refuses",
                        ref_ok ? "accepts" : "refuses", ew_ok ? "" : err);
        CHECK(ew_ok == ref_ok);

        if (!ew_ok) {
                CHECK(doc.ntok == 0);
                CHECK(memchr(err, '\0', sizeof(err)) != NULL);
                CHECK(sscanf(err, "at byte %zu: ", &off) == 1 && off <= size);
                /* Only a known json-c leniency lets json-c accept. */
                if (jc_ok && leniency(data, size) == L_NONE) {
                        fprintf(stderr, "json-c accepts, ew_json: %s\n", err);
                        CHECK(!"json-c accepts for no known reason");
                }
                /* Refused without the flag: refused with it. */
                CHECK(ew_json_parse(&again, (const char *)data, size, DEPTH,
                                    EW_JSON_UNIQUE_KEYS, NULL, 0) == -1);
                goto done;
        }

        check_layout(&doc, size);
        if (!jc_ok)
                fprintf(stderr, "ew_json accepts, json-c refuses\n");
        CHECK(jc_ok);
        same_tree(&doc, 0, o);
        check_ints(&doc);

        /* The flag refuses exactly the texts that name a member twice. */
        r = ew_json_parse(&again, (const char *)data, size, DEPTH,
                          EW_JSON_UNIQUE_KEYS, err, sizeof(err));
        CHECK((r == -1) == has_duplicate(&doc));
        if (r == -1)
                CHECK(strstr(err, ": duplicate member name") != NULL);
        else
                same_tokens(&doc, &again);

        /* Written out again: strict, valid UTF-8, the same tokens, the
         * same tree for json-c. */
        ew_jbuf_init(&b, 0);
        emit(&doc, 0, &b);
        out = ew_jbuf_take(&b, &len);
        CHECK(out != NULL && len == strlen(out));
        CHECK(ew_utf8_valid(out, len));
        CHECK(fuzz_json_valid(out, len, DEPTH));
        CHECK(ew_json_parse(&again, out, len, DEPTH, 0, err, sizeof(err)) == 0);
        same_tokens(&doc, &again);
        CHECK(jsonc_parse(out, len, &o2));
        same_tree(&doc, 0, o2);
        json_object_put(o2);
        free(out);
        ew_jbuf_release(&b);

done:
        json_object_put(o);
        ew_json_doc_release(&doc);
        ew_json_doc_release(&again);
        free(text);
        return 0;
}
