/*
 * sim_json - see sim_json.h.
 */
#include "sim_json.h"
#include "sim_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena block; values and decoded strings are carved from it. */
typedef struct block {
        struct block *next;
        size_t        used, cap;
        _Alignas(max_align_t) char data[];
} block_t;

struct sim_json {
        block_t    *blocks; /* newest first */
        sim_jval_t *root;
};

typedef struct parser {
        const char *p, *end;
        sim_json_t *doc;
        int         depth, max_depth;
        const char *err;
} parser_t;

#define ALIGN(n) (((n) + 7) & ~(size_t)7)

static void *arena_alloc(sim_json_t *doc, size_t size)
{
        block_t *b = doc->blocks;
        size_t   cap;
        void    *p;

        size = ALIGN(size);
        if (!b || b->cap - b->used < size) {
                cap = b ? b->cap * 2 : 4096;
                if (cap < size)
                        cap = size;
                b = malloc(sizeof(*b) + cap);
                if (!b)
                        return NULL;
                b->used     = 0;
                b->cap      = cap;
                b->next     = doc->blocks;
                doc->blocks = b;
        }
        p = b->data + b->used;
        b->used += size;
        return p;
}

static int fail(parser_t *ps, const char *why)
{
        if (!ps->err)
                ps->err = why;
        return -1;
}

static void skip_ws(parser_t *ps)
{
        while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                                   *ps->p == '\n' || *ps->p == '\r'))
                ps->p++;
}

static int hex4(const char *s, unsigned *out)
{
        unsigned v = 0;
        int      i;

        for (i = 0; i < 4; i++) {
                char c = s[i];

                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned)(c - 'A' + 10);
                else
                        return -1;
        }
        *out = v;
        return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
        if (cp < 0x80) {
                o[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char)(0xc0 | cp >> 6);
                o[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char)(0xe0 | cp >> 12);
                o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                o[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        o[0] = (char)(0xf0 | cp >> 18);
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

/* Parses the string at ps->p (on the opening quote); sets *strp (decoded,
 * NUL-terminated, in the arena) and *lenp. */
static int parse_string(parser_t *ps, const char **strp, size_t *lenp)
{
        const char *s = ps->p + 1, *q;
        char       *out, *o;
        unsigned    cp, lo;
        size_t      n;

        /* Find the closing quote first to size the decoded copy. */
        for (q = s; q < ps->end && *q != '"'; q++) {
                if (*q == '\\')
                        q++;
        }
        if (q >= ps->end)
                return fail(ps, "unterminated string");
        out = arena_alloc(ps->doc, (size_t)(q - s) + 1);
        if (!out)
                return fail(ps, "out of memory");
        for (o = out; s < q;) {
                unsigned char c = (unsigned char)*s;

                if (c < 0x20)
                        return fail(ps, "control character in string");
                if (c >= 0x80) {
                        n = sim_utf8_seq_len((const unsigned char *)s,
                                             (size_t)(q - s));
                        if (n == 0)
                                return fail(ps, "invalid UTF-8");
                        memcpy(o, s, n);
                        o += n;
                        s += n;
                        continue;
                }
                if (c != '\\') {
                        *o++ = (char)c;
                        s++;
                        continue;
                }
                s++;
                switch (*s++) {
                case '"':
                        *o++ = '"';
                        break;
                case '\\':
                        *o++ = '\\';
                        break;
                case '/':
                        *o++ = '/';
                        break;
                case 'b':
                        *o++ = '\b';
                        break;
                case 'f':
                        *o++ = '\f';
                        break;
                case 'n':
                        *o++ = '\n';
                        break;
                case 'r':
                        *o++ = '\r';
                        break;
                case 't':
                        *o++ = '\t';
                        break;
                case 'u':
                        if (q - s < 4 || hex4(s, &cp))
                                return fail(ps, "bad \\u escape");
                        s += 4;
                        if (cp >= 0xd800 && cp <= 0xdbff && q - s >= 6 &&
                            s[0] == '\\' && s[1] == 'u' && !hex4(s + 2, &lo) &&
                            lo >= 0xdc00 && lo <= 0xdfff) {
                                cp = 0x10000 + ((cp - 0xd800) << 10) +
                                     (lo - 0xdc00);
                                s += 6;
                        } else if (cp >= 0xd800 && cp <= 0xdfff) {
                                cp = 0xfffd; /* a lone surrogate */
                        }
                        o += put_utf8(o, cp);
                        break;
                default:
                        return fail(ps, "bad escape");
                }
        }
        *o    = '\0';
        *strp = out;
        *lenp = (size_t)(o - out);
        ps->p = q + 1;
        return 0;
}

static int is_digit(const char *p, const char *end)
{
        return p < end && *p >= '0' && *p <= '9';
}

static int parse_number(parser_t *ps)
{
        const char *p = ps->p, *end = ps->end;

        if (p < end && *p == '-')
                p++;
        if (!is_digit(p, end))
                return fail(ps, "bad number");
        if (*p == '0')
                p++;
        else
                while (is_digit(p, end))
                        p++;
        if (p < end && *p == '.') {
                p++;
                if (!is_digit(p, end))
                        return fail(ps, "bad number");
                while (is_digit(p, end))
                        p++;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                if (!is_digit(p, end))
                        return fail(ps, "bad number");
                while (is_digit(p, end))
                        p++;
        }
        ps->p = p;
        return 0;
}

static int literal(parser_t *ps, const char *word, size_t n)
{
        if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
                return fail(ps, "unexpected character");
        ps->p += n;
        return 0;
}

static sim_jval_t *parse_value(parser_t *ps);

/* Parses the elements (or members) of the container v, ps->p just past
 * its opening bracket. */
static int parse_container(parser_t *ps, sim_jval_t *v, char close)
{
        sim_jval_t *child, **tail = &v->child;
        const char *key = NULL;
        size_t      klen;

        if (++ps->depth > ps->max_depth)
                return fail(ps, "nested too deep");
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                ps->depth--;
                return 0;
        }
        for (;;) {
                if (close == '}') {
                        skip_ws(ps);
                        if (ps->p >= ps->end || *ps->p != '"')
                                return fail(ps, "expected a member name");
                        if (parse_string(ps, &key, &klen))
                                return -1;
                        skip_ws(ps);
                        if (ps->p >= ps->end || *ps->p != ':')
                                return fail(ps, "expected ':'");
                        ps->p++;
                }
                child = parse_value(ps);
                if (!child)
                        return -1;
                child->key = key;
                *tail      = child;
                tail       = &child->next;
                v->len++;
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                        ps->p++;
                        continue;
                }
                if (ps->p < ps->end && *ps->p == close) {
                        ps->p++;
                        break;
                }
                return fail(ps, close == '}' ? "expected ',' or '}'"
                                             : "expected ',' or ']'");
        }
        ps->depth--;
        return 0;
}

static sim_jval_t *parse_value(parser_t *ps)
{
        sim_jval_t *v;
        int         rc;

        skip_ws(ps);
        if (ps->p >= ps->end) {
                fail(ps, "unexpected end");
                return NULL;
        }
        v = arena_alloc(ps->doc, sizeof(*v));
        if (!v) {
                fail(ps, "out of memory");
                return NULL;
        }
        memset(v, 0, sizeof(*v));
        v->raw = ps->p;
        switch (*ps->p) {
        case '{':
                v->type = SIM_JSON_OBJECT;
                ps->p++;
                rc = parse_container(ps, v, '}');
                break;
        case '[':
                v->type = SIM_JSON_ARRAY;
                ps->p++;
                rc = parse_container(ps, v, ']');
                break;
        case '"':
                v->type = SIM_JSON_STRING;
                rc      = parse_string(ps, &v->str, &v->len);
                break;
        case 't':
                v->type = SIM_JSON_TRUE;
                rc      = literal(ps, "true", 4);
                break;
        case 'f':
                v->type = SIM_JSON_FALSE;
                rc      = literal(ps, "false", 5);
                break;
        case 'n':
                v->type = SIM_JSON_NULL;
                rc      = literal(ps, "null", 4);
                break;
        default:
                v->type = SIM_JSON_NUMBER;
                rc      = parse_number(ps);
                break;
        }
        if (rc)
                return NULL;
        v->raw_len = (size_t)(ps->p - v->raw);
        return v;
}

sim_json_t *sim_json_parse(const char *text, size_t len, int max_depth,
                           char *errstr, size_t errstr_size)
{
        sim_json_t *doc = calloc(1, sizeof(*doc));
        parser_t    ps;

        if (!doc) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        memset(&ps, 0, sizeof(ps));
        ps.p         = text;
        ps.end       = text + len;
        ps.doc       = doc;
        ps.max_depth = max_depth;
        doc->root    = parse_value(&ps);
        if (doc->root) {
                skip_ws(&ps);
                if (ps.p != ps.end)
                        fail(&ps, "text after the value");
        }
        if (ps.err) {
                snprintf(errstr, errstr_size, "%s at byte %zu", ps.err,
                         (size_t)(ps.p - text));
                sim_json_free(doc);
                return NULL;
        }
        return doc;
}

const sim_jval_t *sim_json_root(const sim_json_t *doc)
{
        return doc->root;
}

void sim_json_free(sim_json_t *doc)
{
        block_t *b, *next;

        if (!doc)
                return;
        for (b = doc->blocks; b; b = next) {
                next = b->next;
                free(b);
        }
        free(doc);
}

const sim_jval_t *sim_json_get(const sim_jval_t *obj, const char *key)
{
        const sim_jval_t *m, *found = NULL;

        if (!obj || obj->type != SIM_JSON_OBJECT)
                return NULL;
        for (m = obj->child; m; m = m->next) {
                if (!strcmp(m->key, key))
                        found = m;
        }
        return found;
}

/* ---- writer ----------------------------------------------------------- */

void sim_buf_init(sim_buf_t *b, size_t max)
{
        memset(b, 0, sizeof(*b));
        b->max = max;
}

/* Makes room for n more bytes plus a NUL. */
static int reserve(sim_buf_t *b, size_t n)
{
        size_t ncap;
        char  *nd;

        if (b->failed)
                return -1;
        if (b->len + n + 1 <= b->cap)
                return 0;
        if (b->len + n + 1 > b->max) {
                b->failed = 1;
                return -1;
        }
        ncap = b->cap ? b->cap : 512;
        while (ncap < b->len + n + 1)
                ncap *= 2;
        if (ncap > b->max)
                ncap = b->max;
        nd = realloc(b->data, ncap);
        if (!nd) {
                b->failed = 1;
                return -1;
        }
        b->data = nd;
        b->cap  = ncap;
        return 0;
}

void sim_buf_append(sim_buf_t *b, const char *s, size_t n)
{
        if (reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void sim_buf_puts(sim_buf_t *b, const char *s)
{
        sim_buf_append(b, s, strlen(s));
}

void sim_buf_int(sim_buf_t *b, int64_t v)
{
        char tmp[24];
        int  n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);

        sim_buf_append(b, tmp, (size_t)n);
}

void sim_buf_jstr(sim_buf_t *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t            i     = 0, run, k;
        char              esc[6];
        unsigned char     c;

        sim_buf_append(b, "\"", 1);
        while (i < n && !b->failed) {
                /* Copy the longest run that needs no escaping at once. */
                for (run = i; run < n; run++) {
                        c = (unsigned char)s[run];
                        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                                break;
                }
                sim_buf_append(b, s + i, run - i);
                i = run;
                if (i >= n)
                        break;
                c = (unsigned char)s[i];
                if (c >= 0x80) {
                        k = sim_utf8_seq_len((const unsigned char *)s + i,
                                             n - i);
                        if (k == 0) {
                                sim_buf_append(b, "\\ufffd", 6);
                                i++;
                        } else {
                                sim_buf_append(b, s + i, k);
                                i += k;
                        }
                        continue;
                }
                esc[0] = '\\';
                switch (c) {
                case '"':
                case '\\':
                        esc[1] = (char)c;
                        sim_buf_append(b, esc, 2);
                        break;
                case '\n':
                        sim_buf_append(b, "\\n", 2);
                        break;
                case '\r':
                        sim_buf_append(b, "\\r", 2);
                        break;
                case '\t':
                        sim_buf_append(b, "\\t", 2);
                        break;
                default:
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        sim_buf_append(b, esc, 6);
                        break;
                }
                i++;
        }
        sim_buf_append(b, "\"", 1);
}

void sim_buf_jminify(sim_buf_t *b, const char *raw, size_t n)
{
        size_t i = 0, start = 0;
        int    in_str = 0;

        for (i = 0; i < n; i++) {
                char c = raw[i];

                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = 0;
                } else if (c == '"') {
                        in_str = 1;
                } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                        sim_buf_append(b, raw + start, i - start);
                        start = i + 1;
                }
        }
        sim_buf_append(b, raw + start, n - start);
}

char *sim_buf_take(sim_buf_t *b, size_t *lenp)
{
        char *d = b->data;

        if (b->failed) {
                sim_buf_free(b);
                return NULL;
        }
        if (!d) {
                d      = calloc(1, 1);
                b->len = 0;
        }
        if (lenp)
                *lenp = b->len;
        b->data = NULL;
        b->len = b->cap = 0;
        return d;
}

void sim_buf_free(sim_buf_t *b)
{
        if (!b)
                return;
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}
