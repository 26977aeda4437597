/*
 * sim_reqlog - the simulator's request log: one JSON object per line
 * (NDJSON) per request answered.
 *
 * Lines are buffered in memory and written by a flusher thread at least
 * every 100 ms, so a test can read the file while the simulator runs; the
 * rest is written on close. The buffer is bounded: a writer that finds it
 * full writes it out itself.
 *
 * @locality sim_reqlog_write from any thread.
 */
#ifndef SIM_REQLOG_H
#define SIM_REQLOG_H

#include <stddef.h>

typedef struct sim_reqlog sim_reqlog_t;

/* How often buffered lines reach the file, in milliseconds. */
#define SIM_REQLOG_FLUSH_MS 100

/* Opens (creates or truncates) path, "-" meaning standard output, and
 * starts the flusher. Returns NULL (reason in errstr) on failure. The
 * caller owns the log (sim_reqlog_close). */
sim_reqlog_t *sim_reqlog_open(const char *path, char *errstr,
                              size_t errstr_size);

/* Appends line (len bytes, no newline: one is added). Lines longer than
 * the buffer are written directly. */
void sim_reqlog_write(sim_reqlog_t *rl, const char *line, size_t len);

/* Writes every buffered line to the file now. */
void sim_reqlog_flush(sim_reqlog_t *rl);

/* Stops the flusher, writes what is buffered, closes the file and frees.
 * NULL-safe. */
void sim_reqlog_close(sim_reqlog_t *rl);

#endif /* SIM_REQLOG_H */
