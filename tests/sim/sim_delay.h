/*
 * sim_delay - a timer thread that calls back when a delay has passed.
 *
 * Used to answer requests late without holding a server thread: the
 * handler suspends its connection and adds a timer whose callback resumes
 * it. Pending timers live in a binary min-heap ordered by deadline, so
 * many thousands of delayed requests cost one thread and O(log n) each.
 *
 * @locality sim_delay_add from any thread; callbacks run on the timer
 * thread (or on the thread calling sim_delay_stop), never under a lock of
 * this module.
 */
#ifndef SIM_DELAY_H
#define SIM_DELAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_delay sim_delay_t;

typedef void(sim_delay_fn)(void *arg);

/* Starts the timer thread; at most max_pending timers may wait at once.
 * Returns NULL (reason in errstr) on failure. The caller owns the result
 * and must call sim_delay_destroy. */
sim_delay_t *sim_delay_new(size_t max_pending, char *errstr,
                           size_t errstr_size);

/* Calls fn(arg) once delay_ms milliseconds have passed. Returns 0, or -1
 * if the timer was not added (too many pending, stopped, out of memory):
 * then fn is never called for it. */
int sim_delay_add(sim_delay_t *dl, int64_t delay_ms, sim_delay_fn *fn,
                  void *arg);

/* Number of timers waiting. */
size_t sim_delay_pending(sim_delay_t *dl);

/* Stops the thread: every pending callback is called now, on the calling
 * thread, and later sim_delay_add calls fail. Idempotent. */
void sim_delay_stop(sim_delay_t *dl);

/* Stops (see sim_delay_stop) and frees. NULL-safe. */
void sim_delay_destroy(sim_delay_t *dl);

#endif /* SIM_DELAY_H */
