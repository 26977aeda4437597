/*
 * ew_sessions - the session cache: the visitorId/sessionId the API handed
 * out for an (account, key), reused on that key's next call while fresh.
 *
 * Freshness: an entry is fresh for ttl_ms after the last ew_sessions_put().
 * The worker puts the vid/sid of every successful API response, so the TTL
 * runs from the session's last successful use, like the API's own visit.
 * ew_sessions_get() does NOT extend it: a lookup whose call then fails has
 * not kept the session alive. An entry with now_ms - put_ms >= ttl_ms is
 * expired: get drops it and reports a miss.
 *
 * Capacity: at most `capacity` entries; a put of a new (account, key) into
 * a full cache first drops expired entries, then evicts the least recently
 * used one (both get hits and puts count as use).
 *
 * Bounds: account, key, vid and sid are each at most EW_SESSIONS_MAX_LEN
 * bytes (longer ones are refused by put and miss in get).
 *
 * Ownership: everything passed in is copied. Pointers returned by get stay
 * valid until the next put, remove, expire or destroy on the cache (another
 * get does not invalidate them unless it is for the same entry and finds it
 * expired).
 *
 * Times are milliseconds on a monotonic clock (ew_mono_ms()); put times must
 * not go backwards. Every operation is O(1) on average plus the entries it
 * drops; each entry is one allocation.
 *
 * Pure (no I/O), not thread-safe.
 * @locality the worker's loop thread.
 */
#ifndef EW_SESSIONS_H
#define EW_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ew_sessions ew_sessions_t;

/* Longest account, key, vid or sid accepted, in bytes. */
#define EW_SESSIONS_MAX_LEN 1024
/* Hard upper bound on capacity. */
#define EW_SESSIONS_MAX_CAPACITY ((size_t)1 << 24)

/* Creates an empty cache of at most capacity entries (clamped to
 * EW_SESSIONS_MAX_CAPACITY), fresh for ttl_ms after each put. capacity 0
 * or ttl_ms <= 0 disables caching: put stores nothing and get always
 * misses. Returns NULL if out of memory. Destroy with
 * ew_sessions_destroy(). */
ew_sessions_t *ew_sessions_new(size_t capacity, int64_t ttl_ms);

/* Frees the cache and every entry. NULL-safe. */
void ew_sessions_destroy(ew_sessions_t *sc);

/* Looks up the session of (account, key[0..keylen)); key may hold any
 * bytes and may be NULL if keylen is 0. Returns 1 with *vidp and *sidp
 * (each if non-NULL; NUL-terminated, owned by the cache, see above) if a
 * fresh entry exists,
 * marking it most recently used. Returns 0 otherwise, dropping the entry if
 * it had expired. */
int ew_sessions_get(ew_sessions_t *sc, const char *account, const void *key,
                    size_t keylen, int64_t now_ms, const char **vidp,
                    const char **sidp);

/* Stores (vid, sid) for (account, key), replacing any previous entry and
 * making it fresh for ttl_ms from now_ms and most recently used. Returns 1
 * if stored, 0 if caching is disabled, -1 if a string is NULL or longer
 * than EW_SESSIONS_MAX_LEN, or out of memory (any previous entry for the
 * key is then left as it was). */
int ew_sessions_put(ew_sessions_t *sc, const char *account, const void *key,
                    size_t keylen, const char *vid, const char *sid,
                    int64_t now_ms);

/* Forgets (account, key), e.g. after the API rejected its session. Returns
 * 1 if an entry was removed, else 0. */
int ew_sessions_remove(ew_sessions_t *sc, const char *account, const void *key,
                       size_t keylen);

/* Drops every entry expired at now_ms (oldest puts first; costs only the
 * entries dropped). Returns how many were dropped. Optional: expired
 * entries never hit anyway, this just returns their memory early. */
size_t ew_sessions_expire(ew_sessions_t *sc, int64_t now_ms);

/* Number of entries held (fresh or not yet dropped). */
size_t ew_sessions_count(const ew_sessions_t *sc);

#endif /* EW_SESSIONS_H */
