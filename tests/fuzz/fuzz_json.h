/*
 * fuzz_json - an RFC 8259 checker for the JSON texts the worker writes,
 * independent of json-c (which, even in strict mode, lets through NaN,
 * Infinity, leading zeros and "1."; see worker/ew_event.c).
 *
 * Test code for the fuzz targets only.
 */
#ifndef FUZZ_JSON_H
#define FUZZ_JSON_H

#include <stddef.h>

/* Returns 1 if text[0..len) is exactly one JSON value (surrounding
 * whitespace allowed) as RFC 8259 defines it, with every \u escape that
 * starts a surrogate pair completed, and nested at most max_depth arrays
 * and objects deep; else 0. The text need not be NUL-terminated. UTF-8
 * validity is not checked here. */
int fuzz_json_valid(const char *text, size_t len, int max_depth);

#endif /* FUZZ_JSON_H */
