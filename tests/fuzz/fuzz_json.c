/*
 * fuzz_json - see fuzz_json.h. A recursive-descent reader of the RFC 8259
 * grammar that only says yes or no.
 */
#include "fuzz_json.h"

typedef struct reader {
        const char *p;
        const char *end;
        int         depth_left;
} reader_t;

static int value(reader_t *r);

static void skip_ws(reader_t *r)
{
        while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
                                 *r->p == '\n' || *r->p == '\r'))
                r->p++;
}

static int peek(const reader_t *r)
{
        return r->p < r->end ? (unsigned char)*r->p : -1;
}

static int is_digit(int c)
{
        return c >= '0' && c <= '9';
}

/* Consumes the literal word (true, false, null). */
static int word(reader_t *r, const char *w)
{
        for (; *w; w++, r->p++)
                if (r->p >= r->end || *r->p != *w)
                        return 0;
        return 1;
}

/* Four hex digits into *cp. */
static int hex4(reader_t *r, unsigned *cp)
{
        int i;

        *cp = 0;
        for (i = 0; i < 4; i++, r->p++) {
                int c = peek(r);
                if (is_digit(c))
                        *cp = *cp << 4 | (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        *cp = *cp << 4 | (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        *cp = *cp << 4 | (unsigned)(c - 'A' + 10);
                else
                        return 0;
        }
        return 1;
}

static int string(reader_t *r)
{
        unsigned cp, lo;

        r->p++; /* the opening quote */
        for (;;) {
                int c = peek(r);
                if (c < 0 || c < 0x20)
                        return 0; /* unterminated, or a raw control */
                r->p++;
                if (c == '"')
                        return 1;
                if (c != '\\')
                        continue;
                c = peek(r);
                r->p++;
                switch (c) {
                case '"':
                case '\\':
                case '/':
                case 'b':
                case 'f':
                case 'n':
                case 'r':
                case 't':
                        break;
                case 'u':
                        if (!hex4(r, &cp) || (cp >= 0xdc00 && cp <= 0xdfff))
                                return 0;
                        if (cp >= 0xd800 && cp <= 0xdbff &&
                            (!word(r, "\\u") || !hex4(r, &lo) || lo < 0xdc00 ||
                             lo > 0xdfff))
                                return 0;
                        break;
                default:
                        return 0;
                }
        }
}

static int number(reader_t *r)
{
        if (peek(r) == '-')
                r->p++;
        if (peek(r) == '0') {
                r->p++;
        } else if (is_digit(peek(r))) {
                while (is_digit(peek(r)))
                        r->p++;
        } else {
                return 0;
        }
        if (peek(r) == '.') {
                r->p++;
                if (!is_digit(peek(r)))
                        return 0;
                while (is_digit(peek(r)))
                        r->p++;
        }
        if (peek(r) == 'e' || peek(r) == 'E') {
                r->p++;
                if (peek(r) == '+' || peek(r) == '-')
                        r->p++;
                if (!is_digit(peek(r)))
                        return 0;
                while (is_digit(peek(r)))
                        r->p++;
        }
        return 1;
}

/* An array or object: open bracket consumed by the caller. */
static int container(reader_t *r, int close)
{
        int ok = 0;

        if (--r->depth_left < 0)
                return 0;
        skip_ws(r);
        if (peek(r) == close) {
                r->p++;
                ok = 1;
                goto done;
        }
        for (;;) {
                if (close == '}') {
                        skip_ws(r);
                        if (peek(r) != '"' || !string(r))
                                goto done;
                        skip_ws(r);
                        if (peek(r) != ':')
                                goto done;
                        r->p++;
                }
                if (!value(r))
                        goto done;
                skip_ws(r);
                if (peek(r) == close) {
                        r->p++;
                        ok = 1;
                        goto done;
                }
                if (peek(r) != ',')
                        goto done;
                r->p++;
        }
done:
        r->depth_left++;
        return ok;
}

static int value(reader_t *r)
{
        skip_ws(r);
        switch (peek(r)) {
        case '{':
                r->p++;
                return container(r, '}');
        case '[':
                r->p++;
                return container(r, ']');
        case '"':
                return string(r);
        case 't':
                return word(r, "true");
        case 'f':
                return word(r, "false");
        case 'n':
                return word(r, "null");
        default:
                return number(r);
        }
}

int fuzz_json_valid(const char *text, size_t len, int max_depth)
{
        reader_t r = {text, text + len, max_depth};

        if (!value(&r))
                return 0;
        skip_ws(&r);
        return r.p == r.end;
}
