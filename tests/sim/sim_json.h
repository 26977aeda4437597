/*
 * sim_json - a small JSON reader and writer for the simulator's hot path.
 *
 * json-c builds a hash table per object and is the main cost of a request
 * when every engagement body is parsed with it; this reader puts a whole
 * document in one arena (a few mallocs), keeps each value's source text
 * (so the request log can copy it), checks the grammar strictly (RFC 8259,
 * UTF-8 included) and bounds the nesting depth. The writer appends to a
 * bounded buffer with JSON escaping.
 *
 * json-c is still used where speed does not matter (scenario files,
 * control endpoints).
 *
 * @locality a document is read-only after parsing: any thread may read it.
 */
#ifndef SIM_JSON_H
#define SIM_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum sim_json_type {
        SIM_JSON_NULL = 0,
        SIM_JSON_FALSE,
        SIM_JSON_TRUE,
        SIM_JSON_NUMBER,
        SIM_JSON_STRING,
        SIM_JSON_ARRAY,
        SIM_JSON_OBJECT,
} sim_json_type_t;

typedef struct sim_jval sim_jval_t;

/* One value of a parsed document. */
struct sim_jval {
        sim_json_type_t type;
        const char     *key; /* member name inside an object, else NULL */
        const char     *str; /* STRING: decoded text, NUL-terminated */
        size_t          len; /* STRING: bytes; ARRAY, OBJECT: elements */
        const char     *raw; /* the value's text in the source */
        size_t          raw_len;
        sim_jval_t     *child; /* first element or member */
        sim_jval_t     *next;  /* next sibling */
};

typedef struct sim_json sim_json_t;

/* Parses len bytes of text as one JSON value (white space around it
 * allowed), nesting at most max_depth arrays/objects. Returns the document
 * (the caller's; sim_json_free), or NULL with the reason in errstr. The
 * document points into text, which must outlive it. */
sim_json_t *sim_json_parse(const char *text, size_t len, int max_depth,
                           char *errstr, size_t errstr_size);

/* The top value of doc. */
const sim_jval_t *sim_json_root(const sim_json_t *doc);

/* Frees doc. NULL-safe. */
void sim_json_free(sim_json_t *doc);

/* The member key of obj (the last one if repeated), or NULL if obj is not
 * an object or has no such member. */
const sim_jval_t *sim_json_get(const sim_jval_t *obj, const char *key);

/* A bounded, growable output buffer. */
typedef struct sim_buf {
        char  *data;
        size_t len, cap, max;
        int    failed; /* an append hit the bound or ran out of memory */
} sim_buf_t;

/* Prepares b for at most max bytes; allocates lazily. */
void sim_buf_init(sim_buf_t *b, size_t max);

/* Appends n bytes. On failure sets b->failed and leaves b as it was. */
void sim_buf_append(sim_buf_t *b, const char *s, size_t n);

/* Appends a NUL-terminated string. */
void sim_buf_puts(sim_buf_t *b, const char *s);

/* Appends a decimal integer. */
void sim_buf_int(sim_buf_t *b, int64_t v);

/* Appends s (n bytes) as a quoted JSON string, escaping what must be. */
void sim_buf_jstr(sim_buf_t *b, const char *s, size_t n);

/* Appends the JSON text raw (n bytes, valid JSON) without the white space
 * outside strings, so it fits on one line. */
void sim_buf_jminify(sim_buf_t *b, const char *raw, size_t n);

/* Hands over the NUL-terminated contents (the caller frees them) and
 * empties b; *lenp gets the length. NULL if the buffer failed. */
char *sim_buf_take(sim_buf_t *b, size_t *lenp);

/* Frees the contents. NULL-safe. */
void sim_buf_free(sim_buf_t *b);

#endif /* SIM_JSON_H */
