/*
 * ew_hash - a hash table from byte-string keys to void * values.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so lookups stay short however many keys come and go). The
 * table grows by doubling when three quarters full and shrinks when an
 * eighth full, never beyond max_entries entries.
 *
 * Keys come from input data, so a client could pick keys that collide on
 * purpose (hash flooding). Each table therefore hashes with SipHash-1-3
 * under its own random 128-bit seed: without the seed, nobody can predict
 * which keys collide.
 *
 * Ownership: the table BORROWS keys. The bytes at key must stay unchanged
 * and alive for as long as the entry is in the table; callers usually
 * point the key into the value itself (the value "owns" its key). Values
 * are the caller's; the table never frees or dereferences them.
 *
 * Pure (no I/O except reading the seed from getrandom(2) once per table),
 * not thread-safe.
 * @locality the thread that owns the table.
 */
#ifndef EW_HASH_H
#define EW_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct ew_hash ew_hash_t;

/* Hard upper bound on entries in one table (and the default max). */
#define EW_HASH_MAX_ENTRIES ((size_t)1 << 24)

/* Seed length in bytes for ew_hash_new_seeded() and ew_hash_bytes(). */
#define EW_HASH_SEED_SIZE 16

/* Creates an empty table that holds at most max_entries entries (0 or
 * anything above EW_HASH_MAX_ENTRIES means EW_HASH_MAX_ENTRIES), seeded from
 * getrandom(2). Returns NULL if out of memory. Destroy with
 * ew_hash_destroy(). */
ew_hash_t *ew_hash_new(size_t max_entries);

/* As ew_hash_new() with a fixed seed (EW_HASH_SEED_SIZE bytes): for tests
 * and reproducible runs only; never for keys an attacker controls. */
ew_hash_t *ew_hash_new_seeded(size_t max_entries, const unsigned char *seed);

/* Frees the table. Neither keys nor values are touched. NULL-safe. */
void ew_hash_destroy(ew_hash_t *h);

/* Looks key up. Returns 1 and sets *valuep (if valuep is non-NULL) when
 * found, else 0. key may be NULL when keylen is 0. */
int ew_hash_find(const ew_hash_t *h, const void *key, size_t keylen,
                 void **valuep);

/* Returns the value stored under key, or NULL if absent (use
 * ew_hash_find() if NULL values are stored). */
void *ew_hash_get(const ew_hash_t *h, const void *key, size_t keylen);

/* Stores value under key. If key was present, its value is replaced, the
 * table now borrows the NEW key pointer, the old value goes to *oldp (if
 * oldp is non-NULL) and 0 is returned. Otherwise the entry is added and 1
 * is returned. Returns -1 (table unchanged) if the table holds max_entries
 * entries already or growing it failed for lack of memory. */
int ew_hash_put(ew_hash_t *h, const void *key, size_t keylen, void *value,
                void **oldp);

/* Removes key. Returns 1 and its value in *valuep (if valuep is non-NULL),
 * or 0 if absent. The key memory may be freed once this returns. */
int ew_hash_remove(ew_hash_t *h, const void *key, size_t keylen, void **valuep);

/* Number of entries. */
size_t ew_hash_count(const ew_hash_t *h);

/* Visitor for ew_hash_foreach(): return EW_HASH_KEEP, EW_HASH_REMOVE
 * (the entry is removed; the visitor may already have freed the key and
 * value) or EW_HASH_STOP (keep this entry and end the walk). */
#define EW_HASH_KEEP 0
#define EW_HASH_REMOVE 1
#define EW_HASH_STOP 2
typedef int(ew_hash_visit_t)(const void *key, size_t keylen, void *value,
                             void *arg);

/* Calls visit once for every entry, in no particular order, removing the
 * entries it asks to remove. visit must not call any other ew_hash
 * function on h. Returns the number of entries removed. */
size_t ew_hash_foreach(ew_hash_t *h, ew_hash_visit_t *visit, void *arg);

/* SipHash-1-3 of data[0..len) under a EW_HASH_SEED_SIZE-byte seed: the
 * function every table uses. Exposed for tests and for callers that need a
 * keyed hash of their own. */
uint64_t ew_hash_bytes(const unsigned char *seed, const void *data, size_t len);

#endif /* EW_HASH_H */
