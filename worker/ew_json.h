/*
 * ew_json - the hot path's JSON: a strict reader that does not allocate per
 * value, and a writer into one growable buffer.
 *
 * Every event, every API answer and every outcome goes through JSON. json-c
 * builds a tree of individually allocated objects and hash tables for each
 * (about 70 allocations and 58 instructions per byte for an event), which
 * the benchmark measured as the largest share of the worker's CPU. The
 * worker only needs to check a document, look up a few members and copy
 * some of them on, so this reader lays a text out as a flat array of tokens
 * instead, and the copied members travel as their original text.
 * json-c remains for everything off the hot path. (callgrind, gcc -O2, a
 * 422-byte event: about 8 instructions per byte to parse, 10 with
 * EW_JSON_UNIQUE_KEYS, against json-c's 125 to parse and free its tree.)
 *
 * Reader. ew_json_parse() checks a whole text against RFC 8259 and records
 * its values in document order. A value is addressed by its token index; the
 * root is 0. An object's token is followed by its members, each a key token
 * (a STRING) and then the value's tokens; an array's token by its elements.
 * Every token knows the index just past its subtree, so skipping a value is
 * O(1). The text is borrowed: it must outlive every use of the document.
 * Up to EW_JSON_INLINE_TOKENS tokens live inside the ew_json_doc_t itself
 * (typically on the caller's stack), so parsing an ordinary event or answer
 * allocates nothing; larger documents use heap storage that
 * ew_json_doc_release() frees.
 *
 * Writer. ew_jbuf_t appends JSON text; the first failed allocation or a
 * length over the buffer's limit marks it failed, later appends do nothing,
 * and ew_jbuf_take() then returns NULL, so callers check once at the end.
 *
 * Neither keeps global state; both may be used from any thread on distinct
 * objects.
 */
#ifndef EW_JSON_H
#define EW_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum ew_json_type {
        EW_JSON_NULL = 0,
        EW_JSON_FALSE,
        EW_JSON_TRUE,
        EW_JSON_NUMBER,
        EW_JSON_STRING,
        EW_JSON_ARRAY,
        EW_JSON_OBJECT,
} ew_json_type_t;

typedef struct ew_json_tok {
        uint32_t off;  /* offset of the value's first byte in the text
                        * (a string's opening quote, a container's bracket) */
        uint32_t len;  /* bytes of the value's text, quotes/brackets included */
        uint32_t next; /* index of the first token after this value's subtree */
        uint32_t count; /* ARRAY: elements; OBJECT: members;
                         * STRING: bytes of the decoded string */
        uint8_t type;   /* ew_json_type_t */
        uint8_t flags;  /* EW_JSON_F_* */
} ew_json_tok_t;

#define EW_JSON_F_ESCAPED 0x1 /* STRING: holds backslash escapes */

#define EW_JSON_INLINE_TOKENS 256

/* Parse options (ew_json_parse's flags). */
#define EW_JSON_UNIQUE_KEYS 0x1 /* refuse an object naming a member twice */

typedef struct ew_json_doc {
        const char    *text; /* borrowed */
        size_t         len;
        ew_json_tok_t *tok; /* inline_tok or heap storage */
        uint32_t       ntok;
        uint32_t       cap;
        /* After a failed parse: what was wrong (static text) and the byte
         * offset where (EW_JSON_NO_OFFSET when the failure has no place:
         * out of memory). NULL / EW_JSON_NO_OFFSET otherwise. */
        const char   *err_what;
        size_t        err_off;
        ew_json_tok_t inline_tok[EW_JSON_INLINE_TOKENS];
} ew_json_doc_t;

#define EW_JSON_NO_OFFSET ((size_t)-1)

/* Prepares doc for ew_json_parse (no allocation). */
void ew_json_doc_init(ew_json_doc_t *doc);

/* Frees heap token storage, if any, and leaves doc as ew_json_doc_init()
 * does (so it may be parsed again). NULL-safe. A doc that is parsed again
 * without a release keeps and reuses its heap storage. */
void ew_json_doc_release(ew_json_doc_t *doc);

/* Parses text[0..len) into doc (which must have been initialised; a doc may
 * be reused for several parses). text need not be NUL-terminated and may
 * hold any bytes; it may be NULL when len is 0 (an empty text, refused).
 * Accepted is exactly RFC 8259's grammar: one value with optional
 * whitespace around it; strings valid UTF-8 (no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF), no raw control characters in
 * strings, \u escapes of surrogates properly paired; no NUL byte anywhere
 * outside a \u0000 escape. Nesting deeper than max_depth (arrays and
 * objects count one level each) is refused, as are texts over 4 GiB.
 *
 * flags: EW_JSON_UNIQUE_KEYS. Names compare decoded ("a" and "\u0061" are
 * the same). Objects of up to 16 members are checked pairwise, larger ones
 * by sorting their names: O(n log n) name comparisons whatever the names.
 *
 * Returns 0, or -1 with errstr (may be NULL) set to a message naming the
 * byte offset and what was wrong there, e.g. "at byte 17: expected ',' or
 * '}'", and the same two facts in doc->err_off and doc->err_what; after a
 * failure the doc holds no tokens. -1 also on allocation failure ("out of
 * memory", no offset). */
int ew_json_parse(ew_json_doc_t *doc, const char *text, size_t len,
                  int max_depth, int flags, char *errstr, size_t errstr_size);

/* Token accessors. i must be a valid token index of a parsed doc. */
static inline ew_json_type_t ew_json_type(const ew_json_doc_t *doc, uint32_t i)
{
        return (ew_json_type_t)doc->tok[i].type;
}

/* Index of the token after value i and everything inside it. */
static inline uint32_t ew_json_skip(const ew_json_doc_t *doc, uint32_t i)
{
        return doc->tok[i].next;
}

/* ARRAY: number of elements; OBJECT: number of members; STRING: length of
 * the decoded string in bytes. */
static inline uint32_t ew_json_count(const ew_json_doc_t *doc, uint32_t i)
{
        return doc->tok[i].count;
}

/* The value's text exactly as it appears in the document (a string with
 * its quotes and escapes). Borrowed from the text. */
static inline const char *ew_json_raw(const ew_json_doc_t *doc, uint32_t i,
                                      size_t *lenp)
{
        *lenp = doc->tok[i].len;
        return doc->text + doc->tok[i].off;
}

/* Iterates an object's members: k is each key's index, v its value's.
 *   uint32_t k, v, n;
 *   EW_JSON_FOREACH_MEMBER(doc, obj, n, k, v) { ... }
 * n counts the remaining members. */
#define EW_JSON_FOREACH_MEMBER(doc, obj, n, k, v)                              \
        for ((n) = (doc)->tok[(obj)].count, (k) = (obj) + 1, (v) = (k) + 1;    \
             (n) > 0; (n)--, (k) = (doc)->tok[(v)].next, (v) = (k) + 1)

/* Iterates an array's elements: e is each element's index. */
#define EW_JSON_FOREACH_ELEM(doc, arr, n, e)                                   \
        for ((n) = (doc)->tok[(arr)].count, (e) = (arr) + 1; (n) > 0;          \
             (n)--, (e)                         = (doc)->tok[(e)].next)

/* The value of obj's member named key (NUL-terminated; compared with the
 * decoded member name), or 0 when obj has no such member or is not an
 * object (0 is the root and never a member's value). When a name occurs
 * more than once, the last member counts, as in json-c. */
uint32_t ew_json_get(const ew_json_doc_t *doc, uint32_t obj, const char *key);

/* 1 if token i is a STRING whose decoded bytes equal s[0..len), else 0.
 * s may be NULL when len is 0. */
int ew_json_str_eq(const ew_json_doc_t *doc, uint32_t i, const char *s,
                   size_t len);

/* Writes string i's decoded bytes plus a NUL to dst, which must hold
 * ew_json_count(doc, i) + 1 bytes (a decoded string may contain NUL bytes
 * from \u0000; the count says how many bytes there are). Returns the
 * number of bytes written before the NUL. i must be a STRING. */
size_t ew_json_str_copy(const ew_json_doc_t *doc, uint32_t i, char *dst);

/* Number i as an int64_t ("-0" is 0). Returns 0, or -1 (*out untouched)
 * if i is not a NUMBER, has a fraction or exponent, or is out of range. */
int ew_json_int64(const ew_json_doc_t *doc, uint32_t i, int64_t *out);

/* Number i as a double (strtod semantics; overflow gives +-HUGE_VAL,
 * "-0" gives -0.0). Returns 0, or -1 if i is not a NUMBER (or, for a
 * number of 64 digits or more, out of memory for its copy). */
int ew_json_double(const ew_json_doc_t *doc, uint32_t i, double *out);

/* ------------------------------------------------------------------ */
/* Writer */

typedef struct ew_jbuf {
        char  *buf; /* owned; NUL-terminated whenever not failed */
        size_t len;
        size_t cap;
        size_t max; /* limit on len; 0 means 64 MiB */
        int    failed;
} ew_jbuf_t;

/* Starts an empty buffer limited to max bytes (0: 64 MiB). No allocation. */
void ew_jbuf_init(ew_jbuf_t *b, size_t max);

/* Frees the buffer's storage. NULL-safe. */
void ew_jbuf_release(ew_jbuf_t *b);

/* Empties the buffer, keeping its storage, and clears the failed mark. */
void ew_jbuf_reset(ew_jbuf_t *b);

/* Appends n bytes as they are (JSON punctuation, or a value's raw text
 * taken from a checked document). */
void ew_jbuf_raw(ew_jbuf_t *b, const char *s, size_t n);

/* Appends one character. */
void ew_jbuf_char(ew_jbuf_t *b, char c);

/* Appends s[0..n) as a JSON string: quotes, '"' and '\\' escaped, control
 * characters as \b, \f, \n, \r, \t or \u00xx (lower-case hex), DEL and
 * everything else ASCII as it is. Valid UTF-8 is copied as it is;
 * each byte of an invalid sequence becomes U+FFFD, so the output is always
 * valid JSON. '/' is not escaped. s may be NULL when n is 0. */
void ew_jbuf_str(ew_jbuf_t *b, const char *s, size_t n);

/* ew_jbuf_str of a NUL-terminated string; NULL appends null. */
void ew_jbuf_cstr(ew_jbuf_t *b, const char *s);

/* Appends a decimal integer. */
void ew_jbuf_int(ew_jbuf_t *b, int64_t v);

/* Appends "key": (key escaped as by ew_jbuf_str; must not be NULL),
 * preceded by ',' unless the last byte written is '{' or nothing has been
 * written yet. */
void ew_jbuf_key(ew_jbuf_t *b, const char *key);

/* Hands the text to the caller: returns the NUL-terminated buffer (caller
 * frees) and its length in *lenp (may be NULL), and leaves b empty and
 * not failed, with the same limit, ready for the next text. With nothing
 * written the text is "" (allocated here). Returns NULL if the buffer
 * failed (allocation or limit), also leaving b empty and usable. */
char *ew_jbuf_take(ew_jbuf_t *b, size_t *lenp);

#endif /* EW_JSON_H */
