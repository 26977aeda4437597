/*
 * sim_lru - a bounded map from strings to values that forgets the entry
 * used longest ago when full, and entries idle longer than a maximum age.
 *
 * Backs the session table and the per-key state of scenarios. Lookups,
 * inserts and deletes are O(1) on average (chained hash, doubly-linked
 * recency list).
 *
 * @locality not thread-safe: the owner serialises access.
 */
#ifndef SIM_LRU_H
#define SIM_LRU_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_lru sim_lru_t;

/* Frees a value stored in the map; may be NULL if values need no freeing. */
typedef void(sim_lru_free_fn)(void *value);

/* Creates a map holding at most max_entries (>= 1) entries. free_value is
 * called on every value the map drops. Returns NULL when out of memory.
 * The caller owns the map (sim_lru_destroy). */
sim_lru_t *sim_lru_new(size_t max_entries, sim_lru_free_fn *free_value);

/* Frees the map and every value in it. NULL-safe. */
void sim_lru_destroy(sim_lru_t *lru);

/* Returns the value stored under key, or NULL. An entry last used more than
 * max_age_ms before now_ms (max_age_ms > 0) is dropped and NULL returned.
 * A hit counts as a use at now_ms. The value stays owned by the map. */
void *sim_lru_get(sim_lru_t *lru, const char *key, int64_t now_ms,
                  int64_t max_age_ms);

/* Stores value under key (a copy of key is kept), used at now_ms,
 * replacing and freeing any previous value. When the map is full the entry
 * used longest ago is dropped first. The map owns value from now on, also
 * when this fails. Returns 0, or -1 when out of memory. */
int sim_lru_put(sim_lru_t *lru, const char *key, void *value, int64_t now_ms);

/* Drops the entry under key. Returns 1 if there was one, else 0. */
int sim_lru_del(sim_lru_t *lru, const char *key);

/* Drops every entry last used more than max_age_ms before now_ms.
 * Returns how many were dropped. */
size_t sim_lru_expire(sim_lru_t *lru, int64_t now_ms, int64_t max_age_ms);

/* Drops every entry. Returns how many were dropped. */
size_t sim_lru_clear(sim_lru_t *lru);

/* Number of entries. */
size_t sim_lru_count(const sim_lru_t *lru);

/* Number of entries dropped so far because the map was full. */
uint64_t sim_lru_evictions(const sim_lru_t *lru);

#endif /* SIM_LRU_H */
