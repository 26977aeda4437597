/*
 * ew_json - see ew_json.h.
 *
 * The reader is one loop over the text with three states (a value, a
 * member name, what follows a value) and no recursion: while a container
 * is open, its token's `next` holds the index of the container around it,
 * and becomes the index past its subtree when it closes. String bodies,
 * the bulk of any event, are scanned sixteen bytes at a time (SSE2; eight
 * with plain 64-bit words elsewhere) for the four kinds of byte that need
 * a closer look (quote, backslash, control, not ASCII), and only strings
 * holding one of those leave the inlined fast path. The writer copies
 * runs of plain bytes the same way.
 *
 * Duplicate member names (EW_JSON_UNIQUE_KEYS) are looked for when an
 * object closes: pairwise for small objects, and for larger ones by
 * sorting the names (heapsort of their token indices, ordered by decoded
 * length, then decoded bytes) and comparing neighbours. Sorting rather
 * than hashing keeps the worst case at O(n log n) comparisons whatever
 * names the text picks, with no seed to keep secret; most comparisons end
 * at the length.
 */
#include "ew_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX /* no container open */

/* Objects with more members than this are checked for duplicate names by
 * sorting instead of pairwise. */
#define PAIRWISE_MAX 16

#define JBUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define ALWAYS_INLINE inline
#endif

/* Eight bytes at a time where words are little-endian; sixteen with SSE2
 * (every x86-64). -DEW_JSON_NO_SSE2 (and -DEW_JSON_NO_SWAR) build the
 * portable paths on x86-64 too, to test them. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(EW_JSON_NO_SWAR)
#define SWAR 1
#else
#define SWAR 0
#endif
#if defined(__SSE2__) && !defined(EW_JSON_NO_SSE2)
#include <emmintrin.h>
#define SSE2 1
#else
#define SSE2 0
#endif

/* 1 for the bytes a string holds as they are and need no closer look:
 * printable ASCII other than '"' and '\\'. The same bytes are written out
 * as they are by ew_jbuf_str. */
/* clang-format off */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* f0 */
};
/* clang-format on */

/* JSON whitespace: space, tab, line feed, carriage return. */
#define IS_WS(c)                                                               \
        ((c) <= ' ' &&                                                         \
         ((UINT64_C(1) << (c)) & (UINT64_C(1) << ' ' | UINT64_C(1) << '\t' |   \
                                  UINT64_C(1) << '\n' | UINT64_C(1) << '\r')))

/* Value of a hex digit + 1, or 0. */
static const unsigned char hexv[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16};

static inline int is_digit(unsigned c)
{
        return c - '0' < 10;
}

#if SWAR && !SSE2
/* Non-zero if any of the eight bytes of w (little-endian) is '"', '\\',
 * below 0x20 or above 0x7f; the lowest set bit then lies in the first such
 * byte (borrows only spread upwards from a byte that matches). */
static inline uint64_t special_mask(uint64_t w)
{
        const uint64_t ones = UINT64_C(0x0101010101010101);
        const uint64_t high = UINT64_C(0x8080808080808080);
        uint64_t       q    = w ^ (ones * '"');
        uint64_t       b    = w ^ (ones * '\\');
        uint64_t       t;

        t = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) |
            w;
        return t & high;
}
#endif

#if SSE2
/* Bit i set if byte i of p[0..16) is '"', '\\', below 0x20 or above 0x7f
 * (those two are one signed comparison). */
static ALWAYS_INLINE unsigned special16(const unsigned char *p)
{
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                      _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));

        return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* The first byte of p[0..end) that is not plain (see plain[]), or end. */
static ALWAYS_INLINE const unsigned char *find_special(const unsigned char *p,
                                                       const unsigned char *end)
{
#if SSE2
        while (LIKELY(end - p >= 16)) {
                unsigned m = special16(p);

                if (m)
                        return p + __builtin_ctz(m);
                p += 16;
        }
#endif
#if SWAR && !SSE2
        while (end - p >= 8) {
                uint64_t w, m;

                memcpy(&w, p, 8);
                m = special_mask(w);
                if (m)
                        return p + ((unsigned)__builtin_ctzll(m) >> 3);
                p += 8;
        }
#endif
        while (p < end && plain[*p])
                p++;
        return p;
}

/* Length of the valid UTF-8 sequence of a non-ASCII lead byte at p (RFC
 * 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static inline size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
        unsigned c     = p[0];
        size_t   avail = (size_t)(end - p);
        unsigned lo = 0x80, hi = 0xbf;

        if (c < 0xc2)
                return 0; /* continuation byte, or overlong 2-byte lead */
        if (c < 0xe0)
                return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c < 0xf0) {
                if (avail < 3)
                        return 0;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* U+D800..U+DFFF */
                return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3
                                                                         : 0;
        }
        if (c < 0xf5) {
                if (avail < 4)
                        return 0;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* above U+10FFFF */
                return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
                               (p[3] & 0xc0) == 0x80
                           ? 4
                           : 0;
        }
        return 0;
}

/* Four hex digits at p as a number, or -1. */
static inline long hex4(const unsigned char *p)
{
        unsigned a = hexv[p[0]], b = hexv[p[1]], c = hexv[p[2]], d = hexv[p[3]];

        if (!a || !b || !c || !d)
                return -1;
        return (long)((a - 1) << 12 | (b - 1) << 8 | (c - 1) << 4 | (d - 1));
}

/* Encodes code point cp as UTF-8 into out; returns the length. */
static unsigned utf8_put(unsigned long cp, unsigned char *out)
{
        if (cp < 0x80) {
                out[0] = (unsigned char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (unsigned char)(0xc0 | cp >> 6);
                out[1] = (unsigned char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (unsigned char)(0xe0 | cp >> 12);
                out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
                out[2] = (unsigned char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (unsigned char)(0xf0 | cp >> 18);
        out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        out[3] = (unsigned char)(0x80 | (cp & 0x3f));
        return 4;
}

/* Decodes the escape at p (a backslash) of a checked string into out (4
 * bytes); sets *nout to the decoded length and returns the escape's length
 * in the text. */
static size_t esc_decode(const unsigned char *p, unsigned char *out,
                         unsigned *nout)
{
        unsigned long cp;

        switch (p[1]) {
        case 'b':
                out[0] = '\b';
                break;
        case 'f':
                out[0] = '\f';
                break;
        case 'n':
                out[0] = '\n';
                break;
        case 'r':
                out[0] = '\r';
                break;
        case 't':
                out[0] = '\t';
                break;
        case 'u':
                cp = (unsigned long)hex4(p + 2);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) +
                             ((unsigned long)hex4(p + 8) - 0xdc00);
                        *nout = utf8_put(cp, out);
                        return 12;
                }
                *nout = utf8_put(cp, out);
                return 6;
        default: /* '"', '\\', '/' */
                out[0] = p[1];
                break;
        }
        *nout = 1;
        return 2;
}

/* ------------------------------------------------------------------ */
/* Reader */

void ew_json_doc_init(ew_json_doc_t *doc)
{
        doc->text     = NULL;
        doc->len      = 0;
        doc->tok      = doc->inline_tok;
        doc->ntok     = 0;
        doc->cap      = EW_JSON_INLINE_TOKENS;
        doc->err_what = NULL;
        doc->err_off  = EW_JSON_NO_OFFSET;
}

void ew_json_doc_release(ew_json_doc_t *doc)
{
        if (!doc)
                return;
        if (doc->tok != doc->inline_tok)
                free(doc->tok);
        ew_json_doc_init(doc);
}

/* Makes room for one more token than doc->ntok. The text cannot hold more
 * tokens than bytes (each starts at a byte of its own), so storage never
 * grows beyond len tokens. Returns 0 or -1 (out of memory). */
static NOINLINE int grow(ew_json_doc_t *doc, uint32_t ntok, size_t len)
{
        size_t         cap = (size_t)doc->cap * 2;
        ew_json_tok_t *t;

        if (cap > len)
                cap = len;
        if (cap <= ntok)
                cap = (size_t)ntok + 1; /* not reached for a valid count */
        if (doc->tok == doc->inline_tok) {
                t = malloc(cap * sizeof(*t));
                if (t)
                        memcpy(t, doc->tok, (size_t)ntok * sizeof(*t));
        } else {
                t = realloc(doc->tok, cap * sizeof(*t));
        }
        if (!t)
                return -1;
        doc->tok = t;
        doc->cap = (uint32_t)cap;
        return 0;
}

/* A byte-at-a-time reader of a checked string's decoded bytes. */
typedef struct dec {
        const unsigned char *p;
        unsigned char        buf[4];
        unsigned             n, i;
} dec_t;

static void dec_init(dec_t *d, const ew_json_doc_t *doc, uint32_t i)
{
        d->p = (const unsigned char *)doc->text + doc->tok[i].off + 1;
        d->n = d->i = 0;
}

static unsigned dec_byte(dec_t *d)
{
        if (d->i < d->n)
                return d->buf[d->i++];
        if (*d->p != '\\')
                return *d->p++;
        d->p += esc_decode(d->p, d->buf, &d->n);
        d->i = 1;
        return d->buf[0];
}

/* Orders two STRING tokens by decoded length, then decoded bytes. */
static int str_cmp(const ew_json_doc_t *doc, uint32_t a, uint32_t b)
{
        const ew_json_tok_t *ta = &doc->tok[a], *tb = &doc->tok[b];
        uint32_t             n = ta->count, k;
        dec_t                da, db;

        if (ta->count != tb->count)
                return ta->count < tb->count ? -1 : 1;
        if (!((ta->flags | tb->flags) & EW_JSON_F_ESCAPED))
                return memcmp(doc->text + ta->off + 1, doc->text + tb->off + 1,
                              n);
        dec_init(&da, doc, a);
        dec_init(&db, doc, b);
        for (k = 0; k < n; k++) {
                unsigned ca = dec_byte(&da), cb = dec_byte(&db);
                if (ca != cb)
                        return ca < cb ? -1 : 1;
        }
        return 0;
}

/* Key order for the sort: name, then position. */
static int key_less(const ew_json_doc_t *doc, uint32_t a, uint32_t b)
{
        int c = str_cmp(doc, a, b);

        return c < 0 || (c == 0 && a < b);
}

static void sift_down(const ew_json_doc_t *doc, uint32_t *v, size_t root,
                      size_t n)
{
        for (;;) {
                size_t   child = 2 * root + 1;
                uint32_t t;

                if (child >= n)
                        return;
                if (child + 1 < n && key_less(doc, v[child], v[child + 1]))
                        child++;
                if (!key_less(doc, v[root], v[child]))
                        return;
                t        = v[root];
                v[root]  = v[child];
                v[child] = t;
                root     = child;
        }
}

static void heapsort_keys(const ew_json_doc_t *doc, uint32_t *v, size_t n)
{
        size_t   i;
        uint32_t t;

        for (i = n / 2; i-- > 0;)
                sift_down(doc, v, i, n);
        for (i = n; i-- > 1;) {
                t    = v[0];
                v[0] = v[i];
                v[i] = t;
                sift_down(doc, v, 0, i);
        }
}

/* Scratch storage of one parse (for duplicate detection). */
typedef struct scratch {
        uint32_t *v;
        size_t    cap;
} scratch_t;

/* A cheap summary of member name k for the pairwise check: its decoded
 * length and first (up to) four decoded bytes. Equal names have equal
 * signatures. */
static inline uint64_t key_sig(const ew_json_doc_t *doc, uint32_t k)
{
        const ew_json_tok_t *t = &doc->tok[k];
        uint32_t             n = t->count < 4 ? t->count : 4, head = 0, i;
        dec_t                d;

        if (!(t->flags & EW_JSON_F_ESCAPED)) {
                /* The four bytes after the quote are in the text: a member
                 * name is followed at least by '"', ':', a value and '}'. */
                memcpy(&head, doc->text + t->off + 1, 4);
                if (n < 4)
                        head &= (UINT32_C(1) << (8 * n)) - 1;
        } else {
                dec_init(&d, doc, k);
                for (i = 0; i < n; i++)
                        head |= (uint32_t)dec_byte(&d) << (8 * i);
        }
        return (uint64_t)t->count << 32 | head;
}

/* Looks for a member name that occurs twice in the closed object obj.
 * Returns the token index of the first member name (in text order) that
 * repeats an earlier one, 0 if none, or NONE when out of memory. */
static NOINLINE uint32_t find_duplicate(const ew_json_doc_t *doc, uint32_t obj,
                                        scratch_t *s)
{
        const ew_json_tok_t *tok = doc->tok;
        uint32_t             n = tok[obj].count, i, j, k, found = 0;

        if (n <= PAIRWISE_MAX) {
                uint32_t keys[PAIRWISE_MAX];
                uint64_t sig[PAIRWISE_MAX], seen = 0, bit;

                /* seen: a 64-bit Bloom filter of the signatures, so that
                 * most names are compared with no other. */
                for (i = 0, k = obj + 1; i < n; i++, k = tok[k + 1].next) {
                        keys[i] = k;
                        sig[i]  = key_sig(doc, k);
                        bit     = UINT64_C(1)
                              << (sig[i] * UINT64_C(0x9e3779b97f4a7c15) >> 58);
                        if (seen & bit)
                                for (j = 0; j < i; j++)
                                        if (sig[j] == sig[i] &&
                                            (tok[k].count <= 4 ||
                                             str_cmp(doc, keys[j], k) == 0))
                                                return k;
                        seen |= bit;
                }
                return 0;
        }
        if (s->cap < n) {
                uint32_t *v = realloc(s->v, (size_t)n * sizeof(*v));
                if (!v)
                        return NONE;
                s->v   = v;
                s->cap = n;
        }
        for (i = 0, k = obj + 1; i < n; i++, k = tok[k + 1].next)
                s->v[i] = k;
        heapsort_keys(doc, s->v, n);
        /* Equal names sit together, in text order: the second of each run
         * is that name's first repeat. */
        for (i = 1; i < n; i++)
                if (str_cmp(doc, s->v[i - 1], s->v[i]) == 0 &&
                    (!found || s->v[i] < found) &&
                    (i < 2 || str_cmp(doc, s->v[i - 2], s->v[i]) != 0))
                        found = s->v[i];
        return found;
}

/* The part of scan_string() past the first byte that is not plain: p is
 * at that byte, start just after the opening quote. */
static NOINLINE const unsigned char *
scan_string_rest(const unsigned char *start, const unsigned char *p,
                 const unsigned char *end, ew_json_tok_t *t, const char **what,
                 const unsigned char **where)
{
        size_t   shrink = 0; /* text bytes minus decoded bytes */
        unsigned c;
        size_t   n;
        long     cp, lo;

        for (;;) {
                p = find_special(p, end);
                if (UNLIKELY(p == end)) {
                        *what  = "unterminated string";
                        *where = p;
                        return NULL;
                }
                c = *p;
                if (LIKELY(c == '"'))
                        break;
                if (c == '\\') {
                        t->flags = EW_JSON_F_ESCAPED;
                        if (end - p < 2) {
                                *what  = "unterminated string";
                                *where = end;
                                return NULL;
                        }
                        switch (p[1]) {
                        case '"':
                        case '\\':
                        case '/':
                        case 'b':
                        case 'f':
                        case 'n':
                        case 'r':
                        case 't':
                                p += 2;
                                shrink += 1;
                                continue;
                        case 'u':
                                break;
                        default:
                                *what  = "invalid escape";
                                *where = p;
                                return NULL;
                        }
                        if (end - p < 6 || (cp = hex4(p + 2)) < 0) {
                                *what  = "invalid \\u escape";
                                *where = p;
                                return NULL;
                        }
                        if (cp >= 0xdc00 && cp <= 0xdfff) {
                                *what  = "\\u escape of a lone low surrogate";
                                *where = p;
                                return NULL;
                        }
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                if (end - p < 12 || p[6] != '\\' ||
                                    p[7] != 'u' ||
                                    (lo = hex4(p + 8)) < 0xdc00 ||
                                    lo > 0xdfff) {
                                        *what  = "\\u escape of a high "
                                                 "surrogate not followed by a "
                                                 "low one";
                                        *where = p;
                                        return NULL;
                                }
                                p += 12;
                                shrink += 12 - 4;
                                continue;
                        }
                        p += 6;
                        shrink += 6 - (cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3);
                        continue;
                }
                if (c < 0x20) {
                        *what  = c ? "control character in a string"
                                   : "NUL byte in a string";
                        *where = p;
                        return NULL;
                }
                n = utf8_seq(p, end);
                if (!n) {
                        *what  = "invalid UTF-8 in a string";
                        *where = p;
                        return NULL;
                }
                p += n;
        }
        t->count = (uint32_t)((size_t)(p - start) - shrink);
        return p + 1;
}

/* Scans the string whose opening quote is at p. Returns the byte after its
 * closing quote and sets the token's count and flags (which must be 0 on
 * entry), or returns NULL with *what and *where set. Inline for plain
 * strings, the common case; anything else is scan_string_rest()'s. */
static ALWAYS_INLINE const unsigned char *
scan_string(const unsigned char *p, const unsigned char *end, ew_json_tok_t *t,
            const char **what, const unsigned char **where)
{
        const unsigned char *start = p + 1;

#if SSE2
        /* Most strings end within their first sixteen bytes. */
        if (LIKELY(end - start >= 16)) {
                unsigned m = special16(start);

                if (LIKELY(m)) {
                        p = start + __builtin_ctz(m);
                        if (LIKELY(*p == '"')) {
                                t->count = (uint32_t)(p - start);
                                return p + 1;
                        }
                        return scan_string_rest(start, p, end, t, what, where);
                }
        }
#endif
        p = find_special(start, end);
        if (LIKELY(p < end && *p == '"')) {
                t->count = (uint32_t)(p - start);
                return p + 1;
        }
        return scan_string_rest(start, p, end, t, what, where);
}

/* What a byte can start where a value is expected. */
enum { V_BAD, V_STR, V_OBJ, V_ARR, V_NUM, V_TRUE, V_FALSE, V_NULL, V_WS };

static const unsigned char vclass[256] = {
    ['"'] = V_STR,  ['{'] = V_OBJ, ['['] = V_ARR,  ['-'] = V_NUM,
    ['0'] = V_NUM,  ['1'] = V_NUM, ['2'] = V_NUM,  ['3'] = V_NUM,
    ['4'] = V_NUM,  ['5'] = V_NUM, ['6'] = V_NUM,  ['7'] = V_NUM,
    ['8'] = V_NUM,  ['9'] = V_NUM, ['t'] = V_TRUE, ['f'] = V_FALSE,
    ['n'] = V_NULL, [' '] = V_WS,  ['\t'] = V_WS,  ['\n'] = V_WS,
    ['\r'] = V_WS};

/* Scans the number starting at p ('-' or a digit). Returns the byte after
 * it, or NULL with *where at the byte that is not the digit it needs. */
static ALWAYS_INLINE const unsigned char *
scan_number(const unsigned char *p, const unsigned char *end,
            const unsigned char **where)
{
        if (*p == '-')
                p++;
        if (p < end && *p == '0') {
                p++;
        } else if (p < end && is_digit(*p)) {
                do
                        p++;
                while (p < end && is_digit(*p));
        } else {
                goto bad;
        }
        if (p < end && *p == '.') {
                p++;
                if (p == end || !is_digit(*p))
                        goto bad;
                do
                        p++;
                while (p < end && is_digit(*p));
        }
        if (p < end && (*p | 0x20) == 'e') {
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                if (p == end || !is_digit(*p))
                        goto bad;
                do
                        p++;
                while (p < end && is_digit(*p));
        }
        return p;
bad:
        *where = p;
        return NULL;
}

/* One parse's state besides the hot loop's own: kept in memory so the loop
 * has the registers. */
typedef struct pctx {
        ew_json_doc_t       *doc;
        const unsigned char *base;
        size_t               len;
        int                  depth_left; /* containers that may still open */
        int                  flags;
        scratch_t            scr;
        const char          *what;  /* on failure: what was wrong, */
        const unsigned char *where; /* and where (NULL: out of memory) */
} pctx_t;

#define SKIP_WS()                                                              \
        do {                                                                   \
                while (p < end && IS_WS(*p))                                   \
                        p++;                                                   \
        } while (0)

/* Points t at a free token slot, tok[ntok], growing the storage if need
 * be. */
#define TOKEN_SLOT()                                                           \
        do {                                                                   \
                if (UNLIKELY(ntok == cap)) {                                   \
                        if (grow(c->doc, ntok, c->len) < 0)                    \
                                goto oom;                                      \
                        tok = c->doc->tok;                                     \
                        cap = c->doc->cap;                                     \
                }                                                              \
                t = &tok[ntok];                                                \
        } while (0)

#define FAIL(msg)                                                              \
        do {                                                                   \
                c->what = (msg);                                               \
                goto fail_here;                                                \
        } while (0)

/* The reader's loop: a value, a member name, or what follows a value is
 * expected. Whitespace costs nothing in compact text: each state first
 * looks for what it expects, and skips whitespace only when that is not
 * there. Returns the number of tokens, or -1 with c->what and c->where
 * set. */
static NOINLINE int64_t parse(pctx_t *c)
{
        const unsigned char *const base = c->base;
        const unsigned char *const end  = base + c->len;
        const unsigned char       *p    = base;
        const unsigned char       *s;
        ew_json_tok_t             *tok  = c->doc->tok, *t;
        uint32_t                   ntok = 0, cap = c->doc->cap, cur = NONE;
        unsigned                   closer = 0; /* '}' or ']' closing cur */
        uint32_t                   dup;

value:
        if (UNLIKELY(p == end))
                FAIL("expected a value");
        TOKEN_SLOT();
        t->off = (uint32_t)(p - base);
        switch (*p == '"' ? V_STR : vclass[*p]) {
        case V_STR:
                t->type  = EW_JSON_STRING;
                t->flags = 0;
                s        = scan_string(p, end, t, &c->what, &c->where);
                if (UNLIKELY(!s))
                        return -1;
                p       = s;
                t->len  = (uint32_t)(p - base) - t->off;
                t->next = ++ntok;
                goto after_value;
        case V_OBJ:
        case V_ARR:
                if (UNLIKELY(--c->depth_left < 0))
                        FAIL("nesting too deep");
                closer   = *p == '{' ? '}' : ']';
                t->type  = *p == '{' ? EW_JSON_OBJECT : EW_JSON_ARRAY;
                t->flags = 0;
                t->next  = cur; /* until it closes */
                cur      = ntok++;
                p++;
                if (UNLIKELY(p < end && *p != closer && IS_WS(*p)))
                        SKIP_WS();
                if (p < end && *p == closer) {
                        t->count = 0;
                        goto close;
                }
                t->count = 1;
                if (closer == '}')
                        goto key;
                goto value;
        case V_NUM:
                s = scan_number(p, end, &c->where);
                if (UNLIKELY(!s)) {
                        c->what = "expected a digit";
                        return -1;
                }
                p        = s;
                t->type  = EW_JSON_NUMBER;
                t->len   = (uint32_t)(p - base) - t->off;
                t->flags = 0;
                t->count = 0;
                t->next  = ++ntok;
                goto after_value;
        case V_TRUE:
                if (end - p < 4 || memcmp(p, "true", 4) != 0)
                        FAIL("invalid literal");
                t->type = EW_JSON_TRUE;
                t->len  = 4;
                break;
        case V_FALSE:
                if (end - p < 5 || memcmp(p, "false", 5) != 0)
                        FAIL("invalid literal");
                t->type = EW_JSON_FALSE;
                t->len  = 5;
                break;
        case V_NULL:
                if (end - p < 4 || memcmp(p, "null", 4) != 0)
                        FAIL("invalid literal");
                t->type = EW_JSON_NULL;
                t->len  = 4;
                break;
        case V_WS:
                SKIP_WS();
                goto value;
        default:
                FAIL("expected a value");
        }
        /* a literal */
        t->flags = 0;
        t->count = 0;
        t->next  = ++ntok;
        p += t->len;

after_value:
        if (UNLIKELY(cur == NONE))
                goto done;
        if (LIKELY(p < end)) {
                if (*p == ',') {
                        p++;
                        tok[cur].count++;
                        if (closer == '}')
                                goto key;
                        goto value;
                }
                if (*p == closer)
                        goto close;
                if (IS_WS(*p)) {
                        SKIP_WS();
                        goto after_value;
                }
        }
        FAIL(closer == '}' ? "expected ',' or '}'" : "expected ',' or ']'");

close: /* p is at the closing bracket of cur */
        t       = &tok[cur];
        cur     = t->next;
        t->next = ntok;
        t->len  = (uint32_t)(p + 1 - base) - t->off;
        if (closer == '}' && (c->flags & EW_JSON_UNIQUE_KEYS) && t->count > 1) {
                dup = find_duplicate(c->doc, (uint32_t)(t - tok), &c->scr);
                if (UNLIKELY(dup)) {
                        if (dup == NONE)
                                goto oom;
                        p = base + tok[dup].off;
                        FAIL("duplicate member name");
                }
        }
        p++;
        c->depth_left++;
        if (cur != NONE)
                closer = tok[cur].type == EW_JSON_OBJECT ? '}' : ']';
        goto after_value;

key:
        if (UNLIKELY(p == end || *p != '"')) {
                SKIP_WS();
                if (p == end || *p != '"')
                        FAIL("expected a member name");
        }
        TOKEN_SLOT();
        t->off   = (uint32_t)(p - base);
        t->type  = EW_JSON_STRING;
        t->flags = 0;
        s        = scan_string(p, end, t, &c->what, &c->where);
        if (UNLIKELY(!s))
                return -1;
        p       = s;
        t->len  = (uint32_t)(p - base) - t->off;
        t->next = ++ntok;
        if (UNLIKELY(p == end || *p != ':')) {
                SKIP_WS();
                if (p == end || *p != ':')
                        FAIL("expected ':'");
        }
        p++;
        goto value;

done:
        if (UNLIKELY(p != end)) {
                SKIP_WS();
                if (p != end)
                        FAIL("unexpected data after the value");
        }
        return (int64_t)ntok;

oom:
        c->what  = "out of memory";
        c->where = NULL;
        return -1;
fail_here:
        c->where = p;
        return -1;
}

int ew_json_parse(ew_json_doc_t *doc, const char *text, size_t len,
                  int max_depth, int flags, char *errstr, size_t errstr_size)
{
        pctx_t  c;
        int64_t n = -1;

        if (!text)
                text = ""; /* (NULL, 0): an empty text */
        doc->text     = text;
        doc->len      = len;
        doc->ntok     = 0;
        doc->err_what = NULL;
        doc->err_off  = EW_JSON_NO_OFFSET;
        memset(&c, 0, sizeof(c));
        c.doc        = doc;
        c.base       = (const unsigned char *)text;
        c.len        = len;
        c.depth_left = max_depth;
        c.flags      = flags;
        c.what       = "text longer than 4 GiB";
        c.where      = c.base;
        if (len <= UINT32_MAX)
                n = parse(&c);
        free(c.scr.v);
        if (n >= 0) {
                doc->ntok = (uint32_t)n;
                return 0;
        }
        doc->err_what = c.what;
        doc->err_off = c.where ? (size_t)(c.where - c.base) : EW_JSON_NO_OFFSET;
        if (errstr && errstr_size) {
                if (c.where)
                        snprintf(errstr, errstr_size, "at byte %zu: %s",
                                 (size_t)(c.where - c.base), c.what);
                else
                        snprintf(errstr, errstr_size, "%s", c.what);
        }
        return -1;
}

uint32_t ew_json_get(const ew_json_doc_t *doc, uint32_t obj, const char *key)
{
        const ew_json_tok_t *tok = doc->tok;
        size_t               n   = strlen(key);
        uint32_t             left, k, found = 0;

        if (tok[obj].type != EW_JSON_OBJECT)
                return 0;
        for (left = tok[obj].count, k = obj + 1; left > 0;
             left--, k                = tok[k + 1].next) {
                if (tok[k].count != n)
                        continue;
                if (!(tok[k].flags & EW_JSON_F_ESCAPED)
                        ? memcmp(doc->text + tok[k].off + 1, key, n) == 0
                        : ew_json_str_eq(doc, k, key, n))
                        found = k + 1;
        }
        return found;
}

int ew_json_str_eq(const ew_json_doc_t *doc, uint32_t i, const char *s,
                   size_t len)
{
        const ew_json_tok_t *t = &doc->tok[i];
        dec_t                d;
        size_t               k;

        if (t->type != EW_JSON_STRING || t->count != len)
                return 0;
        if (!(t->flags & EW_JSON_F_ESCAPED))
                return len == 0 || memcmp(doc->text + t->off + 1, s, len) == 0;
        dec_init(&d, doc, i);
        for (k = 0; k < len; k++)
                if (dec_byte(&d) != (unsigned char)s[k])
                        return 0;
        return 1;
}

size_t ew_json_str_copy(const ew_json_doc_t *doc, uint32_t i, char *dst)
{
        const ew_json_tok_t *t = &doc->tok[i];
        const unsigned char *p = (const unsigned char *)doc->text + t->off + 1;
        const unsigned char *end = p + t->len - 2, *q;
        char                *o   = dst;
        unsigned             n;

        if (!(t->flags & EW_JSON_F_ESCAPED)) {
                memcpy(dst, p, t->count);
                dst[t->count] = '\0';
                return t->count;
        }
        while (p < end) {
                q = memchr(p, '\\', (size_t)(end - p));
                if (!q)
                        q = end;
                memcpy(o, p, (size_t)(q - p));
                o += q - p;
                p = q;
                if (p < end) {
                        p += esc_decode(p, (unsigned char *)o, &n);
                        o += n;
                }
        }
        *o = '\0';
        return (size_t)(o - dst);
}

int ew_json_int64(const ew_json_doc_t *doc, uint32_t i, int64_t *out)
{
        const ew_json_tok_t *t = &doc->tok[i];
        const char          *s = doc->text + t->off;
        size_t               n = t->len, k = 0;
        uint64_t             acc = 0, limit = INT64_MAX;
        int                  neg = 0;

        if (t->type != EW_JSON_NUMBER)
                return -1;
        if (s[0] == '-') {
                neg   = 1;
                limit = (uint64_t)INT64_MAX + 1;
                k     = 1;
        }
        for (; k < n; k++) {
                unsigned d = (unsigned)((unsigned char)s[k] - '0');

                if (d > 9)
                        return -1; /* fraction or exponent */
                if (acc > (limit - d) / 10)
                        return -1;
                acc = acc * 10 + d;
        }
        if (!neg)
                *out = (int64_t)acc;
        else if (acc == (uint64_t)INT64_MAX + 1)
                *out = INT64_MIN;
        else
                *out = -(int64_t)acc;
        return 0;
}

int ew_json_double(const ew_json_doc_t *doc, uint32_t i, double *out)
{
        const ew_json_tok_t *t = &doc->tok[i];
        char                 small[64], *buf = small;

        if (t->type != EW_JSON_NUMBER)
                return -1;
        /* The text need not be terminated after the number: copy it. */
        if (t->len >= sizeof(small)) {
                buf = malloc((size_t)t->len + 1);
                if (!buf)
                        return -1;
        }
        memcpy(buf, doc->text + t->off, t->len);
        buf[t->len] = '\0';
        *out        = strtod(buf, NULL);
        if (buf != small)
                free(buf);
        return 0;
}

/* ------------------------------------------------------------------ */
/* Writer */

void ew_jbuf_init(ew_jbuf_t *b, size_t max)
{
        b->buf    = NULL;
        b->len    = 0;
        b->cap    = 0;
        b->max    = max ? max : JBUF_DEFAULT_MAX;
        b->failed = 0;
}

void ew_jbuf_release(ew_jbuf_t *b)
{
        if (!b)
                return;
        free(b->buf);
        b->buf    = NULL;
        b->len    = 0;
        b->cap    = 0;
        b->failed = 0;
}

void ew_jbuf_reset(ew_jbuf_t *b)
{
        b->len    = 0;
        b->failed = 0;
        if (b->buf)
                b->buf[0] = '\0';
}

/* Makes room for `more` bytes after the first `used` ones (plus a NUL).
 * Returns the buffer, or NULL (and marks b failed) past the limit or when
 * out of memory. */
static char *room_at(ew_jbuf_t *b, size_t used, size_t more)
{
        size_t max = b->max ? b->max : JBUF_DEFAULT_MAX;
        size_t need, cap;
        char  *nb;

        if (b->failed)
                return NULL;
        if (more > max || used > max - more) {
                b->failed = 1;
                return NULL;
        }
        need = used + more + 1;
        if (need <= b->cap)
                return b->buf;
        cap = b->cap ? b->cap : 256;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (max < SIZE_MAX && cap > max + 1)
                cap = max + 1;
        nb = realloc(b->buf, cap);
        if (!nb) {
                b->failed = 1;
                return NULL;
        }
        b->buf = nb;
        b->cap = cap;
        return nb;
}

static inline char *room(ew_jbuf_t *b, size_t more)
{
        if (LIKELY(!b->failed && more < b->cap - b->len &&
                   b->len + more <= b->max))
                return b->buf;
        return room_at(b, b->len, more);
}

void ew_jbuf_raw(ew_jbuf_t *b, const char *s, size_t n)
{
        char *buf = room(b, n);

        if (!buf)
                return;
        if (n)
                memcpy(buf + b->len, s, n);
        b->len += n;
        buf[b->len] = '\0';
}

void ew_jbuf_char(ew_jbuf_t *b, char c)
{
        char *buf = room(b, 1);

        if (!buf)
                return;
        buf[b->len++] = c;
        buf[b->len]   = '\0';
}

void ew_jbuf_str(ew_jbuf_t *b, const char *str, size_t n)
{
        static const char          hex[] = "0123456789abcdef";
        const unsigned char       *s = (const unsigned char *)(str ? str : "");
        const unsigned char *const end = s + n;
        const unsigned char       *r;
        char                      *buf;
        size_t                     o, k;
        unsigned                   c;

        /* Every input byte yields at least one output byte: room for the
         * unescaped text now, more as escapes turn up. */
        if (n > SIZE_MAX - 2)
                goto too_long;
        buf = room(b, n + 2);
        if (!buf)
                return;
        o        = b->len;
        buf[o++] = '"';
        while (s < end) {
                r = s;
                s = find_special(s, end);
                memcpy(buf + o, r, (size_t)(s - r));
                o += (size_t)(s - r);
                if (s == end)
                        break;
                c = *s;
                if (c >= 0x80) {
                        k = utf8_seq(s, end);
                        if (k) {
                                memcpy(buf + o, s, k);
                                o += k;
                                s += k;
                                continue;
                        }
                        /* 3 bytes for this one, 1 more for each left and the
                         * closing quote. */
                        buf = room_at(b, o, 3 + (size_t)(end - s - 1) + 1);
                        if (!buf)
                                return;
                        buf[o++] = (char)0xef;
                        buf[o++] = (char)0xbf;
                        buf[o++] = (char)0xbd;
                        s++;
                        continue;
                }
                buf = room_at(b, o, 6 + (size_t)(end - s - 1) + 1);
                if (!buf)
                        return;
                buf[o++] = '\\';
                switch (c) {
                case '"':
                case '\\':
                        buf[o++] = (char)c;
                        break;
                case '\b':
                        buf[o++] = 'b';
                        break;
                case '\f':
                        buf[o++] = 'f';
                        break;
                case '\n':
                        buf[o++] = 'n';
                        break;
                case '\r':
                        buf[o++] = 'r';
                        break;
                case '\t':
                        buf[o++] = 't';
                        break;
                default:
                        buf[o++] = 'u';
                        buf[o++] = '0';
                        buf[o++] = '0';
                        buf[o++] = hex[c >> 4];
                        buf[o++] = hex[c & 0xf];
                        break;
                }
                s++;
        }
        buf[o++] = '"';
        buf[o]   = '\0';
        b->len   = o;
        return;
too_long:
        b->failed = 1;
}

void ew_jbuf_cstr(ew_jbuf_t *b, const char *s)
{
        if (s)
                ew_jbuf_str(b, s, strlen(s));
        else
                ew_jbuf_raw(b, "null", 4);
}

void ew_jbuf_int(ew_jbuf_t *b, int64_t v)
{
        char     tmp[24], *e = tmp + sizeof(tmp), *q = e;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

        do {
                *--q = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                *--q = '-';
        ew_jbuf_raw(b, q, (size_t)(e - q));
}

void ew_jbuf_key(ew_jbuf_t *b, const char *key)
{
        if (b->len > 0 && b->buf[b->len - 1] != '{')
                ew_jbuf_char(b, ',');
        ew_jbuf_cstr(b, key);
        ew_jbuf_char(b, ':');
}

char *ew_jbuf_take(ew_jbuf_t *b, size_t *lenp)
{
        char *s = NULL;

        if (!b->failed) {
                s = b->buf ? b->buf : calloc(1, 1);
                if (s) {
                        if (lenp)
                                *lenp = b->len;
                        b->buf = NULL;
                }
        }
        free(b->buf);
        b->buf    = NULL;
        b->len    = 0;
        b->cap    = 0;
        b->failed = 0;
        return s;
}
