/*
 * ew_util - small helpers shared by every module: clocks, time formatting,
 * bounded string copies.
 */
#ifndef EW_UTIL_H
#define EW_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define EW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC); for timers and ages. */
int64_t ew_mono_ms(void);

/* Wall clock in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t ew_wall_ms(void);

/* Formats epoch milliseconds as RFC 3339 UTC with milliseconds,
 * e.g. "2026-11-24T06:15:40.123Z". buf must hold EW_RFC3339_SIZE bytes.
 * Returns buf. Thread-safe: each thread keeps the last second it
 * formatted, so calls within one second only write the milliseconds. */
#define EW_RFC3339_SIZE 32
char *ew_rfc3339_ms(int64_t epoch_ms, char *buf, size_t size);

/* snprintf that always NUL-terminates and never fails the caller: returns
 * the number of bytes written (excluding the NUL), truncated to size - 1. */
size_t ew_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns 1 if [s, s+len) is valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), else 0. NUL bytes are valid UTF-8. */
int ew_utf8_valid(const char *s, size_t len);

/* Creates a pipe with both ends non-blocking and close-on-exec: the wake-up
 * channel librdkafka writes to (rd_kafka_queue_io_event_enable). Returns 0,
 * or -1 with errno set. */
int ew_pipe_nonblock(int fds[2]);

/* Reads and discards everything readable from a non-blocking fd. */
void ew_fd_drain(int fd);

/* strdup that returns NULL for NULL. */
char *ew_strdup(const char *s);

#endif /* EW_UTIL_H */
