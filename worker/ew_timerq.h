/*
 * ew_timerq - retry timers: a binary min-heap ordered by (due time,
 * insertion order), so timers due at the same millisecond fire in the
 * order they were added.
 *
 * Timers are intrusive: the caller embeds an ew_timer_t in its own struct
 * (e.g. the in-flight event) and passes it to ew_timerq_add(). The timer
 * remembers its heap position, so cancelling is O(log n) with no search
 * and no allocation; add and pop are O(log n), next_due O(1).
 *
 *   struct job { ...; ew_timer_t timer; };
 *   ew_timer_init(&job->timer);
 *   ew_timerq_add(tq, &job->timer, now + backoff, job);
 *   ...
 *   while ((job = ew_timerq_pop_due(tq, now))) retry(job);
 *
 * Ownership: the queue stores pointers to the caller's timers and items
 * and never frees them. A scheduled timer must not be freed or moved
 * until it fired (was popped) or was cancelled. Times are milliseconds on
 * any clock the caller uses consistently (ew_mono_ms()).
 *
 * Pure (no I/O), not thread-safe.
 * @locality the worker's loop thread.
 */
#ifndef EW_TIMERQ_H
#define EW_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct ew_timerq ew_timerq_t;

/* A timer embedded in the caller's struct. The fields are private to
 * ew_timerq; initialise with ew_timer_init() or EW_TIMER_INIT. */
typedef struct ew_timer {
        void  *item; /* what ew_timerq_pop_due() returns */
        size_t idx;  /* heap index, EW_TIMER_IDLE when not scheduled */
} ew_timer_t;

#define EW_TIMER_IDLE ((size_t)-1)
#define EW_TIMER_INIT                                                          \
        {                                                                      \
                NULL, EW_TIMER_IDLE                                            \
        }

/* Hard upper bound on scheduled timers in one queue (and the default). */
#define EW_TIMERQ_MAX ((size_t)1 << 24)

/* Creates an empty queue holding at most max timers (0 or more than
 * EW_TIMERQ_MAX means EW_TIMERQ_MAX). Returns NULL if out of memory.
 * Destroy with ew_timerq_destroy(). */
ew_timerq_t *ew_timerq_new(size_t max);

/* Frees the queue. Timers still scheduled are not touched (they may
 * already be freed); the caller must not use them with this queue again.
 * NULL-safe. */
void ew_timerq_destroy(ew_timerq_t *tq);

/* Marks t as not scheduled. Call once before t's first use. */
void ew_timer_init(ew_timer_t *t);

/* Returns 1 if t is scheduled (added, not yet popped or cancelled). */
int ew_timer_scheduled(const ew_timer_t *t);

/* Schedules t to fire at due_ms (>= 0), returning item (non-NULL) from
 * ew_timerq_pop_due() then. Returns 0, or -1 (nothing changes) if t is
 * already scheduled, item is NULL, due_ms is negative, the queue holds max
 * timers, or out of memory. */
int ew_timerq_add(ew_timerq_t *tq, ew_timer_t *t, int64_t due_ms, void *item);

/* Unschedules t (which must be idle or scheduled on tq). Returns 0, or -1
 * if t was not scheduled. O(log n). */
int ew_timerq_cancel(ew_timerq_t *tq, ew_timer_t *t);

/* Earliest due time, or -1 if no timer is scheduled. */
int64_t ew_timerq_next_due(const ew_timerq_t *tq);

/* If the earliest timer is due at or before now_ms, unschedules it and
 * returns its item; otherwise returns NULL. Call in a loop to fire every
 * due timer in (due, insertion) order. */
void *ew_timerq_pop_due(ew_timerq_t *tq, int64_t now_ms);

/* Number of scheduled timers. */
size_t ew_timerq_count(const ew_timerq_t *tq);

#endif /* EW_TIMERQ_H */
