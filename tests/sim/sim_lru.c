/*
 * sim_lru - see sim_lru.h.
 */
#include "sim_lru.h"

#include <stdlib.h>
#include <string.h>

typedef struct node {
        struct node *hnext;       /* next in the hash chain */
        struct node *prev, *next; /* recency list: head = oldest */
        void        *value;
        int64_t      used_ms;
        uint64_t     hash;
        char         key[];
} node_t;

struct sim_lru {
        node_t         **buckets;
        size_t           nbuckets; /* power of two */
        size_t           count;
        size_t           max_entries;
        uint64_t         evictions;
        node_t          *head, *tail;
        sim_lru_free_fn *free_value;
};

#define INITIAL_BUCKETS 64

/* FNV-1a, 64 bits. */
static uint64_t hash_str(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

sim_lru_t *sim_lru_new(size_t max_entries, sim_lru_free_fn *free_value)
{
        sim_lru_t *lru = calloc(1, sizeof(*lru));

        if (!lru)
                return NULL;
        lru->buckets = calloc(INITIAL_BUCKETS, sizeof(*lru->buckets));
        if (!lru->buckets) {
                free(lru);
                return NULL;
        }
        lru->nbuckets    = INITIAL_BUCKETS;
        lru->max_entries = max_entries ? max_entries : 1;
        lru->free_value  = free_value;
        return lru;
}

static void list_unlink(sim_lru_t *lru, node_t *n)
{
        if (n->prev)
                n->prev->next = n->next;
        else
                lru->head = n->next;
        if (n->next)
                n->next->prev = n->prev;
        else
                lru->tail = n->prev;
        n->prev = n->next = NULL;
}

static void list_append(sim_lru_t *lru, node_t *n)
{
        n->prev = lru->tail;
        n->next = NULL;
        if (lru->tail)
                lru->tail->next = n;
        else
                lru->head = n;
        lru->tail = n;
}

/* Finds the node of key; *linkp is set to the pointer that points at it. */
static node_t *find(sim_lru_t *lru, const char *key, uint64_t hash,
                    node_t ***linkp)
{
        node_t **link = &lru->buckets[hash & (lru->nbuckets - 1)];

        for (; *link; link = &(*link)->hnext) {
                if ((*link)->hash == hash && !strcmp((*link)->key, key))
                        break;
        }
        *linkp = link;
        return *link;
}

/* Unlinks n from its chain and the recency list and frees it. */
static void drop(sim_lru_t *lru, node_t *n)
{
        node_t **link;

        find(lru, n->key, n->hash, &link);
        *link = n->hnext;
        list_unlink(lru, n);
        if (lru->free_value)
                lru->free_value(n->value);
        free(n);
        lru->count--;
}

/* Doubles the bucket array; on allocation failure the map stays as is. */
static void grow(sim_lru_t *lru)
{
        size_t   nb = lru->nbuckets * 2, i;
        node_t **b  = calloc(nb, sizeof(*b));
        node_t  *n, *next;

        if (!b)
                return;
        for (i = 0; i < lru->nbuckets; i++) {
                for (n = lru->buckets[i]; n; n = next) {
                        next                  = n->hnext;
                        n->hnext              = b[n->hash & (nb - 1)];
                        b[n->hash & (nb - 1)] = n;
                }
        }
        free(lru->buckets);
        lru->buckets  = b;
        lru->nbuckets = nb;
}

void *sim_lru_get(sim_lru_t *lru, const char *key, int64_t now_ms,
                  int64_t max_age_ms)
{
        node_t **link;
        node_t  *n = find(lru, key, hash_str(key), &link);

        if (!n)
                return NULL;
        if (max_age_ms > 0 && now_ms - n->used_ms > max_age_ms) {
                drop(lru, n);
                return NULL;
        }
        n->used_ms = now_ms;
        list_unlink(lru, n);
        list_append(lru, n);
        return n->value;
}

int sim_lru_put(sim_lru_t *lru, const char *key, void *value, int64_t now_ms)
{
        uint64_t hash = hash_str(key);
        size_t   klen = strlen(key);
        node_t **link;
        node_t  *n = find(lru, key, hash, &link);

        if (n) {
                if (lru->free_value && n->value != value)
                        lru->free_value(n->value);
                n->value   = value;
                n->used_ms = now_ms;
                list_unlink(lru, n);
                list_append(lru, n);
                return 0;
        }
        while (lru->count >= lru->max_entries && lru->head) {
                drop(lru, lru->head);
                lru->evictions++;
        }
        n = malloc(sizeof(*n) + klen + 1);
        if (!n) {
                if (lru->free_value)
                        lru->free_value(value);
                return -1;
        }
        memcpy(n->key, key, klen + 1);
        n->hash    = hash;
        n->value   = value;
        n->used_ms = now_ms;
        if (lru->count >= lru->nbuckets)
                grow(lru);
        link     = &lru->buckets[hash & (lru->nbuckets - 1)];
        n->hnext = *link;
        *link    = n;
        list_append(lru, n);
        lru->count++;
        return 0;
}

int sim_lru_del(sim_lru_t *lru, const char *key)
{
        node_t **link;
        node_t  *n = find(lru, key, hash_str(key), &link);

        if (!n)
                return 0;
        drop(lru, n);
        return 1;
}

size_t sim_lru_expire(sim_lru_t *lru, int64_t now_ms, int64_t max_age_ms)
{
        size_t dropped = 0;

        /* The recency list is ordered by last use: stop at the first entry
         * that is young enough. */
        while (lru->head && now_ms - lru->head->used_ms > max_age_ms) {
                drop(lru, lru->head);
                dropped++;
        }
        return dropped;
}

size_t sim_lru_clear(sim_lru_t *lru)
{
        size_t  dropped = lru->count, i;
        node_t *n, *next;

        for (n = lru->head; n; n = next) {
                next = n->next;
                if (lru->free_value)
                        lru->free_value(n->value);
                free(n);
        }
        for (i = 0; i < lru->nbuckets; i++)
                lru->buckets[i] = NULL;
        lru->head = lru->tail = NULL;
        lru->count            = 0;
        return dropped;
}

size_t sim_lru_count(const sim_lru_t *lru)
{
        return lru->count;
}

uint64_t sim_lru_evictions(const sim_lru_t *lru)
{
        return lru->evictions;
}

void sim_lru_destroy(sim_lru_t *lru)
{
        if (!lru)
                return;
        sim_lru_clear(lru);
        free(lru->buckets);
        free(lru);
}
