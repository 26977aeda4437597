/*
 * sim_util - small helpers of the Monitoring API simulator: clocks, time
 * formatting, a per-thread random generator, identifier generation, and the
 * standard texts of the API's error answers.
 *
 * @locality any thread; the random generator keeps its state per thread.
 */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define SIM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Longest visitor or session id the simulator accepts or stores. */
#define SIM_ID_MAX 128

/* Monotonic clock in milliseconds, for timers and ages. */
int64_t sim_mono_ms(void);

/* Wall clock in milliseconds since the epoch. */
int64_t sim_wall_ms(void);

/* Formats epoch milliseconds as RFC 3339 UTC with milliseconds
 * ("2026-11-24T06:15:40.123Z") into buf (at least SIM_RFC3339_SIZE bytes).
 * Returns buf. */
#define SIM_RFC3339_SIZE 32
char *sim_rfc3339_ms(int64_t epoch_ms, char *buf, size_t size);

/* Seeds the random generator of every thread from seed (0: from the
 * system's entropy). Call once before threads start. */
void sim_random_seed(uint64_t seed);

/* Next 64 random bits of the calling thread's generator. */
uint64_t sim_random(void);

/* Uniform integer in [lo, hi] (lo <= hi). */
int64_t sim_random_range(int64_t lo, int64_t hi);

/* Uniform double in [0, 1). */
double sim_random_unit(void);

/* Writes a new random identifier of len characters from [A-Za-z0-9_-]
 * into buf (size > len), like the API's session and visitor ids. */
void sim_random_id(char *buf, size_t size, size_t len);

/* Writes a new random page id (9 to 10 decimal digits) into buf. */
void sim_random_page_id(char *buf, size_t size);

/* The internalCode an error answer of this HTTP status carries unless a
 * scenario says otherwise: 400 -> 5, 404 -> 18, 5xx -> 18, else 0. */
int sim_default_internal_code(int status);

/* A message for an error answer with this status and internal code, e.g.
 * "invalid sessionId" for 404/39. Returns a static string. */
const char *sim_default_message(int status, int internal_code);

/* Length of the valid UTF-8 sequence that starts at s (at most n bytes
 * available), or 0 if the bytes there are not valid UTF-8 (overlongs,
 * surrogates and code points above U+10FFFF are invalid). n > 0. */
size_t sim_utf8_seq_len(const unsigned char *s, size_t n);

/* Replaces every byte of s that is not part of valid UTF-8 with '?', so the
 * string can go into JSON output. */
void sim_utf8_sanitize(char *s, size_t len);

#endif /* SIM_UTIL_H */
