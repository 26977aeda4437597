/*
 * ew_hash - see ew_hash.h.
 *
 * Layout: a power-of-two array of slots, each holding the key's 64-bit hash
 * (0 marks an empty slot; a real hash of 0 is stored as 1), the borrowed key
 * and the value. Comparing the stored hash first means key bytes are only
 * read for a probable match, and resizing never rehashes keys.
 */
#include "ew_hash.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MIN_CAP ((size_t)16)

typedef struct slot {
        uint64_t    hash; /* 0 = empty */
        const void *key;
        size_t      keylen;
        void       *value;
} slot_t;

struct ew_hash {
        slot_t  *slots;
        size_t   cap; /* 0 until the first put, else a power of two */
        size_t   count;
        size_t   max_entries;
        uint64_t k0, k1; /* SipHash key */
};

/* ---- SipHash-1-3 (Aumasson & Bernstein), one compression round per
 * message word and three finalisation rounds. */

static uint64_t rotl(uint64_t x, unsigned int b)
{
        return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const unsigned char *p)
{
        return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
               (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
               (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
               (uint64_t)p[7] << 56;
}

#define SIPROUND(v0, v1, v2, v3)                                               \
        do {                                                                   \
                v0 += v1;                                                      \
                v1 = rotl(v1, 13);                                             \
                v1 ^= v0;                                                      \
                v0 = rotl(v0, 32);                                             \
                v2 += v3;                                                      \
                v3 = rotl(v3, 16);                                             \
                v3 ^= v2;                                                      \
                v0 += v3;                                                      \
                v3 = rotl(v3, 21);                                             \
                v3 ^= v0;                                                      \
                v2 += v1;                                                      \
                v1 = rotl(v1, 17);                                             \
                v1 ^= v2;                                                      \
                v2 = rotl(v2, 32);                                             \
        } while (0)

static uint64_t siphash13(uint64_t k0, uint64_t k1, const void *data,
                          size_t len)
{
        const unsigned char *p  = data;
        uint64_t             v0 = k0 ^ UINT64_C(0x736f6d6570736575);
        uint64_t             v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
        uint64_t             v2 = k0 ^ UINT64_C(0x6c7967656e657261);
        uint64_t             v3 = k1 ^ UINT64_C(0x7465646279746573);
        uint64_t             m, last = (uint64_t)len << 56;
        size_t               left = len;

        for (; left >= 8; left -= 8, p += 8) {
                m = load_le64(p);
                v3 ^= m;
                SIPROUND(v0, v1, v2, v3);
                v0 ^= m;
        }
        /* The final word: the remaining 0..7 bytes, length in the top byte. */
        while (left > 0) {
                left--;
                last |= (uint64_t)p[left] << (8 * left);
        }
        v3 ^= last;
        SIPROUND(v0, v1, v2, v3);
        v0 ^= last;
        v2 ^= 0xff;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t ew_hash_bytes(const unsigned char *seed, const void *data, size_t len)
{
        return siphash13(load_le64(seed), load_le64(seed + 8), data, len);
}

/* ---- table */

static uint64_t key_hash(const ew_hash_t *h, const void *key, size_t keylen)
{
        uint64_t v = siphash13(h->k0, h->k1, key, keylen);

        return v ? v : 1;
}

static int key_eq(const slot_t *s, uint64_t hash, const void *key,
                  size_t keylen)
{
        return s->hash == hash && s->keylen == keylen &&
               (keylen == 0 || memcmp(s->key, key, keylen) == 0);
}

/* Index of key's slot, or SIZE_MAX if absent. */
static size_t lookup(const ew_hash_t *h, uint64_t hash, const void *key,
                     size_t keylen)
{
        size_t mask = h->cap - 1, i;

        if (h->cap == 0)
                return SIZE_MAX;
        for (i = (size_t)hash & mask; h->slots[i].hash; i = (i + 1) & mask) {
                if (key_eq(&h->slots[i], hash, key, keylen))
                        return i;
        }
        return SIZE_MAX;
}

/* Places s in the first free slot of its probe sequence (key known to be
 * absent, a free slot known to exist). */
static void place(slot_t *slots, size_t cap, const slot_t *s)
{
        size_t mask = cap - 1, i = (size_t)s->hash & mask;

        while (slots[i].hash)
                i = (i + 1) & mask;
        slots[i] = *s;
}

/* Moves every entry into a new array of newcap slots. Returns 0, or -1
 * (table unchanged) if out of memory. */
static int resize(ew_hash_t *h, size_t newcap)
{
        slot_t *slots = calloc(newcap, sizeof(*slots));
        size_t  i;

        if (!slots)
                return -1;
        for (i = 0; i < h->cap; i++) {
                if (h->slots[i].hash)
                        place(slots, newcap, &h->slots[i]);
        }
        free(h->slots);
        h->slots = slots;
        h->cap   = newcap;
        return 0;
}

/* Empties slot i and shifts later members of its cluster back so that
 * every entry stays reachable from its home slot (Knuth's algorithm R). */
static void delete_at(ew_hash_t *h, size_t i)
{
        size_t mask = h->cap - 1, j = i, home;
        int    movable;

        for (;;) {
                h->slots[i].hash = 0;
                for (;;) {
                        j = (j + 1) & mask;
                        if (!h->slots[j].hash)
                                goto done;
                        home = (size_t)h->slots[j].hash & mask;
                        /* The entry at j may fill the hole at i unless its
                         * home lies cyclically within (i, j]. */
                        if (i <= j)
                                movable = home <= i || home > j;
                        else
                                movable = home <= i && home > j;
                        if (movable)
                                break;
                }
                h->slots[i] = h->slots[j];
                i           = j;
        }
done:
        h->count--;
}

static void maybe_shrink(ew_hash_t *h)
{
        size_t newcap = h->cap;

        /* Shrink below 1/8 load, halving until the load is between 1/8 and
         * 1/4, so alternating put/remove around a boundary cannot thrash.
         * Failure is harmless: the table just stays larger. */
        while (newcap > MIN_CAP && h->count * 8 < newcap)
                newcap /= 2;
        if (newcap != h->cap)
                (void)resize(h, newcap);
}

static void fill_seed(unsigned char *seed)
{
        struct timespec ts;
        uint64_t        a, b;
        ssize_t         r = getrandom(seed, EW_HASH_SEED_SIZE, GRND_NONBLOCK);

        if (r == EW_HASH_SEED_SIZE)
                return;
        /* No entropy yet (early boot) or no getrandom: a weak but varying
         * seed beats a constant one. */
        clock_gettime(CLOCK_REALTIME, &ts);
        a = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
        b = (uint64_t)(uintptr_t)seed ^ ((uint64_t)getpid() << 32);
        memcpy(seed, &a, 8);
        memcpy(seed + 8, &b, 8);
}

ew_hash_t *ew_hash_new_seeded(size_t max_entries, const unsigned char *seed)
{
        ew_hash_t *h = calloc(1, sizeof(*h));

        if (!h)
                return NULL;
        if (max_entries == 0 || max_entries > EW_HASH_MAX_ENTRIES)
                max_entries = EW_HASH_MAX_ENTRIES;
        h->max_entries = max_entries;
        h->k0          = load_le64(seed);
        h->k1          = load_le64(seed + 8);
        return h;
}

ew_hash_t *ew_hash_new(size_t max_entries)
{
        unsigned char seed[EW_HASH_SEED_SIZE];

        fill_seed(seed);
        return ew_hash_new_seeded(max_entries, seed);
}

void ew_hash_destroy(ew_hash_t *h)
{
        if (!h)
                return;
        free(h->slots);
        free(h);
}

int ew_hash_find(const ew_hash_t *h, const void *key, size_t keylen,
                 void **valuep)
{
        size_t i;

        if (h->count == 0)
                return 0;
        i = lookup(h, key_hash(h, key, keylen), key, keylen);
        if (i == SIZE_MAX)
                return 0;
        if (valuep)
                *valuep = h->slots[i].value;
        return 1;
}

void *ew_hash_get(const ew_hash_t *h, const void *key, size_t keylen)
{
        void *value = NULL;

        (void)ew_hash_find(h, key, keylen, &value);
        return value;
}

int ew_hash_put(ew_hash_t *h, const void *key, size_t keylen, void *value,
                void **oldp)
{
        uint64_t hash = key_hash(h, key, keylen);
        size_t   i    = lookup(h, hash, key, keylen);
        slot_t   s;

        if (i != SIZE_MAX) {
                if (oldp)
                        *oldp = h->slots[i].value;
                h->slots[i].key   = key;
                h->slots[i].value = value;
                return 0;
        }
        if (h->count >= h->max_entries)
                return -1;
        if (h->cap == 0 && resize(h, MIN_CAP) == -1)
                return -1;
        /* Keep the load at or below 3/4 (so probes stay short and an
         * empty slot always exists). Bounded: count < max_entries. */
        if ((h->count + 1) > h->cap / 4 * 3 && resize(h, h->cap * 2) == -1)
                return -1;
        s.hash   = hash;
        s.key    = key;
        s.keylen = keylen;
        s.value  = value;
        place(h->slots, h->cap, &s);
        h->count++;
        return 1;
}

int ew_hash_remove(ew_hash_t *h, const void *key, size_t keylen, void **valuep)
{
        size_t i;

        if (h->count == 0)
                return 0;
        i = lookup(h, key_hash(h, key, keylen), key, keylen);
        if (i == SIZE_MAX)
                return 0;
        if (valuep)
                *valuep = h->slots[i].value;
        delete_at(h, i);
        maybe_shrink(h);
        return 1;
}

size_t ew_hash_count(const ew_hash_t *h)
{
        return h->count;
}

size_t ew_hash_foreach(ew_hash_t *h, ew_hash_visit_t *visit, void *arg)
{
        size_t mask, empty, i, n, removed = 0;
        int    r;

        if (h->count == 0)
                return 0;
        mask = h->cap - 1;
        /* Walk downwards starting just below an empty slot. Deleting the
         * entry at i only shifts entries from the cluster after i, which
         * (because the empty slot bounds every cluster and stays empty)
         * have all been visited already, and they land at i or above: so no
         * entry is skipped or visited twice. The load is at most 3/4, so an
         * empty slot exists. */
        for (empty = 0; h->slots[empty].hash; empty++)
                ;
        i = empty;
        for (n = 1; n < h->cap; n++) {
                i = (i - 1) & mask;
                if (!h->slots[i].hash)
                        continue;
                r = visit(h->slots[i].key, h->slots[i].keylen,
                          h->slots[i].value, arg);
                if (r == EW_HASH_REMOVE) {
                        delete_at(h, i);
                        removed++;
                } else if (r == EW_HASH_STOP) {
                        break;
                }
        }
        maybe_shrink(h);
        return removed;
}
