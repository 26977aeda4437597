/*
 * ew_keyq - per-key FIFO queues: events with the same key reach the API
 * one at a time, in the order they were pushed; different keys run in
 * parallel.
 *
 * Each key with work has one ACTIVE item (the one the caller is running)
 * and zero or more QUEUED items behind it. A key entry exists exactly while
 * the key has an active item.
 *
 *   push(k, a) -> 1   a is active: start it now
 *   push(k, b) -> 0   b queued behind a
 *   done(k)    -> b   a finished; b is active now: start it
 *   done(k)    -> NULL  b finished; the key is gone
 *
 * Ownership: items are caller pointers (non-NULL); the queue never frees
 * or dereferences them. Keys are COPIED at the first push of a key, so the
 * caller may free its key memory as soon as a call returns.
 *
 * Allocation: key entries (with room for keys up to EW_KEYQ_INLINE_KEY
 * bytes inside) and queue nodes are recycled through free lists, so in
 * steady state push and done allocate nothing: a key's single item lives in
 * its entry, and only items queued behind it take a (pooled) node. Longer
 * keys take one extra allocation per key entry. Items carry no link field,
 * so any caller struct can be queued. All operations are O(1) on average
 * except remove_if, which visits only keys that have queued items.
 *
 * Pure (no I/O), not thread-safe.
 * @locality the worker's loop thread.
 */
#ifndef EW_KEYQ_H
#define EW_KEYQ_H

#include <stddef.h>

typedef struct ew_keyq ew_keyq_t;

/* Keys up to this many bytes are stored inside the key entry. */
#define EW_KEYQ_INLINE_KEY 64
/* Longest key accepted. */
#define EW_KEYQ_MAX_KEY 65536
/* Hard upper bound on items (active + queued), and the default. */
#define EW_KEYQ_MAX_ITEMS ((size_t)1 << 24)

/* Creates empty queues holding at most max_items items, active and queued
 * together (0 or more than EW_KEYQ_MAX_ITEMS means EW_KEYQ_MAX_ITEMS).
 * Returns NULL if out of memory. Destroy with ew_keyq_destroy(). */
ew_keyq_t *ew_keyq_new(size_t max_items);

/* Frees the queues. Items still held are NOT touched (the caller owns
 * them and must track them itself). NULL-safe. */
void ew_keyq_destroy(ew_keyq_t *kq);

/* Adds item (non-NULL) for key[0..keylen) (key may be NULL if keylen is
 * 0). Returns 1 if the key had no active item: item becomes active and the
 * caller should start it now. Returns 0 if item was queued behind the
 * key's active and earlier queued items. Returns -1 (nothing changes) if
 * item is NULL, keylen > EW_KEYQ_MAX_KEY, max_items are held, or out of
 * memory. */
int ew_keyq_push(ew_keyq_t *kq, const void *key, size_t keylen, void *item);

/* The key's active item finished. Returns the key's next queued item, now
 * active (the caller should start it), or NULL if none was queued: the key
 * entry is then removed. Returns NULL also for a key with no active item
 * (a caller bug; nothing changes). */
void *ew_keyq_done(ew_keyq_t *kq, const void *key, size_t keylen);

/* The key's active item, or NULL if the key has none. */
void *ew_keyq_active(const ew_keyq_t *kq, const void *key, size_t keylen);

/* Number of items queued behind key's active item (0 if unknown key). */
size_t ew_keyq_queued_for(const ew_keyq_t *kq, const void *key, size_t keylen);

/* Predicate and callback for ew_keyq_remove_if(). */
typedef int(ew_keyq_pred_t)(void *item, void *arg);
typedef void(ew_keyq_removed_t)(void *item, void *arg);

/* Removes every QUEUED item for which pred(item, arg) returns non-zero
 * (e.g. items of a revoked partition), keeping the order of the rest.
 * Active items are never removed: they are running; their done() later
 * moves on to the next surviving item. on_removed (may be NULL) is called
 * for each removed item, after it left the queue, and may free it. Neither
 * callback may call into kq. Returns the number of items removed. */
size_t ew_keyq_remove_if(ew_keyq_t *kq, ew_keyq_pred_t *pred, void *arg,
                         ew_keyq_removed_t *on_removed);

/* Number of keys with an active item (= number of active items). */
size_t ew_keyq_keys(const ew_keyq_t *kq);

/* Number of queued (not active) items over all keys. */
size_t ew_keyq_queued(const ew_keyq_t *kq);

#endif /* EW_KEYQ_H */
