/*
 * ew_offsets - which input offsets of one partition may be committed.
 *
 * The worker finishes events out of order (different keys run in parallel,
 * retries wait), but Kafka commits a single position per partition: "every
 * offset below this one is done". This tracker records the offsets handed
 * out (in consume order) and those finished (in any order), and reports the
 * position after the longest finished prefix.
 *
 * Offsets need not be contiguous: compaction and transaction markers leave
 * gaps. A gap is never waited for; the committable position jumps over it
 * once the offsets around it are done.
 *
 * Implementation: a ring buffer of (offset, done) in consume order, popped
 * from the front as its head is finished. track and the head pop are
 * amortised O(1), done is O(1) when offsets are contiguous and O(log n)
 * with gaps. The ring grows by doubling up to EW_OFFSETS_MAX_PENDING
 * entries and is the only allocation.
 *
 * Pure (no I/O), not thread-safe.
 * @locality the worker's loop thread.
 */
#ifndef EW_OFFSETS_H
#define EW_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ew_offsets ew_offsets_t;

/* Most offsets one tracker holds at once (tracked and not yet popped, i.e.
 * not done or done behind an unfinished one). */
#define EW_OFFSETS_MAX_PENDING ((size_t)1 << 24)

/* ew_offsets_track() errors. */
#define EW_OFFSETS_ERR_ORDER -1 /* offset negative or not above the last */
#define EW_OFFSETS_ERR_FULL -2  /* EW_OFFSETS_MAX_PENDING or out of memory */

/* Creates an empty tracker. Returns NULL if out of memory. Destroy with
 * ew_offsets_destroy(). */
ew_offsets_t *ew_offsets_new(void);

/* NULL-safe. */
void ew_offsets_destroy(ew_offsets_t *o);

/* Records that offset was handed out for processing. Offsets must be
 * tracked in strictly increasing order (gaps allowed) and be >= 0.
 * Returns 0, EW_OFFSETS_ERR_ORDER or EW_OFFSETS_ERR_FULL; on error nothing
 * changes. */
int ew_offsets_track(ew_offsets_t *o, int64_t offset);

/* Marks a tracked offset finished (published and acknowledged), in any
 * order. Returns 0, or -1 if offset was never tracked, was already marked,
 * or was forgotten by ew_offsets_reset(). */
int ew_offsets_done(ew_offsets_t *o, int64_t offset);

/* Returns the position to commit (Kafka convention: the next offset to
 * consume, i.e. the last offset of the finished prefix + 1) if it moved
 * since the previous call returned one (or since creation/reset), else -1.
 * Each position is thus returned once. */
int64_t ew_offsets_committable(ew_offsets_t *o);

/* The current commit position (as ew_offsets_committable() would return)
 * without consuming it, or -1 if nothing was finished since creation or
 * reset. */
int64_t ew_offsets_position(const ew_offsets_t *o);

/* Number of tracked offsets not yet done. */
size_t ew_offsets_pending(const ew_offsets_t *o);

/* Number of offsets held: not done, or done but behind an unfinished one.
 * This is the memory the tracker uses (in entries). */
size_t ew_offsets_held(const ew_offsets_t *o);

/* Forgets everything (partition revoked or reassigned): the next
 * ew_offsets_track() may start at any offset. Keeps the buffer unless it
 * grew beyond a few thousand entries. */
void ew_offsets_reset(ew_offsets_t *o);

#endif /* EW_OFFSETS_H */
