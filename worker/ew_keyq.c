/*
 * ew_keyq - see ew_keyq.h.
 *
 * A hash table maps key bytes to a key entry; the table borrows the key
 * copy held by the entry. An entry holds the active item directly and a
 * singly linked FIFO of nodes for the queued ones. Entries that have queued
 * items are also on a doubly linked "backlog" list, so remove_if skips the
 * (usually many) keys that only have an active item.
 */
#include "ew_keyq.h"

#include <stdlib.h>
#include <string.h>

#include "ew_hash.h"

/* At most this many spare entries and nodes are kept for reuse; beyond it
 * they are freed, so a burst does not pin its peak memory forever. */
#define POOL_MAX ((size_t)4096)

typedef struct node {
        struct node *next;
        void        *item;
} node_t;

typedef struct kentry {
        struct kentry *bl_prev; /* backlog list; bl_next links the pool */
        struct kentry *bl_next;
        void          *active;
        node_t        *head; /* queued items, oldest first */
        node_t        *tail;
        size_t         nqueued;
        size_t         keylen;
        unsigned char *key; /* ikey, or allocated if longer */
        unsigned char  ikey[EW_KEYQ_INLINE_KEY];
} kentry_t;

struct ew_keyq {
        ew_hash_t *keys;    /* key bytes -> kentry_t * */
        kentry_t  *backlog; /* entries with nqueued > 0 */
        kentry_t  *free_entries;
        node_t    *free_nodes;
        size_t     nfree_entries;
        size_t     nfree_nodes;
        size_t     nkeys;
        size_t     nqueued;
        size_t     max_items;
};

ew_keyq_t *ew_keyq_new(size_t max_items)
{
        ew_keyq_t *kq = calloc(1, sizeof(*kq));

        if (!kq)
                return NULL;
        if (max_items == 0 || max_items > EW_KEYQ_MAX_ITEMS)
                max_items = EW_KEYQ_MAX_ITEMS;
        kq->max_items = max_items;
        kq->keys      = ew_hash_new(max_items);
        if (!kq->keys)
                goto error;
        return kq;

error:
        ew_keyq_destroy(kq);
        return NULL;
}

static void free_entry_mem(kentry_t *e)
{
        node_t *n, *next;

        for (n = e->head; n; n = next) {
                next = n->next;
                free(n);
        }
        if (e->key != e->ikey)
                free(e->key);
        free(e);
}

static int destroy_visit(const void *key, size_t keylen, void *value, void *arg)
{
        (void)key;
        (void)keylen;
        (void)arg;
        free_entry_mem(value);
        return EW_HASH_KEEP; /* the table is freed right after */
}

void ew_keyq_destroy(ew_keyq_t *kq)
{
        kentry_t *e;
        node_t   *n;

        if (!kq)
                return;
        if (kq->keys) {
                ew_hash_foreach(kq->keys, destroy_visit, NULL);
                ew_hash_destroy(kq->keys);
        }
        while ((e = kq->free_entries)) {
                kq->free_entries = e->bl_next;
                free(e);
        }
        while ((n = kq->free_nodes)) {
                kq->free_nodes = n->next;
                free(n);
        }
        free(kq);
}

/* ---- pools */

static node_t *node_get(ew_keyq_t *kq)
{
        node_t *n = kq->free_nodes;

        if (n) {
                kq->free_nodes = n->next;
                kq->nfree_nodes--;
                return n;
        }
        return malloc(sizeof(*n));
}

static void node_put(ew_keyq_t *kq, node_t *n)
{
        if (kq->nfree_nodes >= POOL_MAX) {
                free(n);
                return;
        }
        n->next        = kq->free_nodes;
        kq->free_nodes = n;
        kq->nfree_nodes++;
}

/* An entry holding a copy of key, with empty queue and no active item;
 * NULL if out of memory. */
static kentry_t *entry_get(ew_keyq_t *kq, const void *key, size_t keylen)
{
        kentry_t *e = kq->free_entries;

        if (e) {
                kq->free_entries = e->bl_next;
                kq->nfree_entries--;
        } else if (!(e = malloc(sizeof(*e)))) {
                return NULL;
        }
        e->key = e->ikey;
        if (keylen > sizeof(e->ikey) && !(e->key = malloc(keylen))) {
                free(e);
                return NULL;
        }
        if (keylen > 0)
                memcpy(e->key, key, keylen);
        e->keylen  = keylen;
        e->bl_prev = NULL;
        e->bl_next = NULL;
        e->active  = NULL;
        e->head    = NULL;
        e->tail    = NULL;
        e->nqueued = 0;
        return e;
}

/* Returns an entry (queue already empty) to the pool. */
static void entry_put(ew_keyq_t *kq, kentry_t *e)
{
        if (e->key != e->ikey)
                free(e->key);
        e->key = NULL;
        if (kq->nfree_entries >= POOL_MAX) {
                free(e);
                return;
        }
        e->bl_next       = kq->free_entries;
        kq->free_entries = e;
        kq->nfree_entries++;
}

/* ---- backlog list */

static void backlog_add(ew_keyq_t *kq, kentry_t *e)
{
        e->bl_prev = NULL;
        e->bl_next = kq->backlog;
        if (kq->backlog)
                kq->backlog->bl_prev = e;
        kq->backlog = e;
}

static void backlog_remove(ew_keyq_t *kq, kentry_t *e)
{
        if (e->bl_prev)
                e->bl_prev->bl_next = e->bl_next;
        else
                kq->backlog = e->bl_next;
        if (e->bl_next)
                e->bl_next->bl_prev = e->bl_prev;
        e->bl_prev = NULL;
        e->bl_next = NULL;
}

/* ---- operations */

int ew_keyq_push(ew_keyq_t *kq, const void *key, size_t keylen, void *item)
{
        kentry_t *e;
        node_t   *n;

        if (!item || keylen > EW_KEYQ_MAX_KEY ||
            kq->nkeys + kq->nqueued >= kq->max_items)
                return -1;
        e = ew_hash_get(kq->keys, key, keylen);
        if (e) {
                if (!(n = node_get(kq)))
                        return -1;
                n->next = NULL;
                n->item = item;
                if (e->tail)
                        e->tail->next = n;
                else
                        e->head = n;
                e->tail = n;
                if (e->nqueued++ == 0)
                        backlog_add(kq, e);
                kq->nqueued++;
                return 0;
        }
        if (!(e = entry_get(kq, key, keylen)))
                return -1;
        if (ew_hash_put(kq->keys, e->key, e->keylen, e, NULL) != 1) {
                entry_put(kq, e);
                return -1;
        }
        e->active = item;
        kq->nkeys++;
        return 1;
}

void *ew_keyq_done(ew_keyq_t *kq, const void *key, size_t keylen)
{
        kentry_t *e = ew_hash_get(kq->keys, key, keylen);
        node_t   *n;

        if (!e)
                return NULL;
        n = e->head;
        if (!n) {
                ew_hash_remove(kq->keys, e->key, e->keylen, NULL);
                kq->nkeys--;
                entry_put(kq, e);
                return NULL;
        }
        e->head = n->next;
        if (!e->head)
                e->tail = NULL;
        e->active = n->item;
        if (--e->nqueued == 0)
                backlog_remove(kq, e);
        kq->nqueued--;
        node_put(kq, n);
        return e->active;
}

void *ew_keyq_active(const ew_keyq_t *kq, const void *key, size_t keylen)
{
        const kentry_t *e = ew_hash_get(kq->keys, key, keylen);

        return e ? e->active : NULL;
}

size_t ew_keyq_queued_for(const ew_keyq_t *kq, const void *key, size_t keylen)
{
        const kentry_t *e = ew_hash_get(kq->keys, key, keylen);

        return e ? e->nqueued : 0;
}

size_t ew_keyq_remove_if(ew_keyq_t *kq, ew_keyq_pred_t *pred, void *arg,
                         ew_keyq_removed_t *on_removed)
{
        kentry_t *e, *enext;
        node_t  **np, *n;
        size_t    removed = 0;
        void     *item;

        for (e = kq->backlog; e; e = enext) {
                enext   = e->bl_next;
                e->tail = NULL;
                for (np = &e->head; (n = *np);) {
                        if (!pred(n->item, arg)) {
                                e->tail = n;
                                np      = &n->next;
                                continue;
                        }
                        *np  = n->next;
                        item = n->item;
                        node_put(kq, n);
                        e->nqueued--;
                        kq->nqueued--;
                        removed++;
                        if (on_removed)
                                on_removed(item, arg);
                }
                if (e->nqueued == 0)
                        backlog_remove(kq, e);
        }
        return removed;
}

size_t ew_keyq_keys(const ew_keyq_t *kq)
{
        return kq->nkeys;
}

size_t ew_keyq_queued(const ew_keyq_t *kq)
{
        return kq->nqueued;
}
