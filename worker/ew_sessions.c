/*
 * ew_sessions - see ew_sessions.h.
 *
 * Each entry is one allocation: the header, then the table key, then vid
 * and sid with their NULs. The table key is the account's length (2 bytes,
 * big-endian), the account, then the key bytes, so no two (account, key)
 * pairs share one. Entries sit on two circular lists with sentinel heads:
 *   lru: most recently used first (gets and puts move an entry to the front)
 *   age: oldest put first (puts move an entry to the back); because put
 *        times never go backwards this list is sorted by put time, so
 *        expiring is popping its front.
 */
#include "ew_sessions.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ew_hash.h"

#define TKEY_MAX (2 + 2 * EW_SESSIONS_MAX_LEN)

typedef struct link {
        struct link *prev;
        struct link *next;
} link_t;

typedef struct entry {
        link_t        lru;
        link_t        age;
        int64_t       put_ms;
        size_t        tklen; /* table key length */
        const char   *vid;
        const char   *sid;
        unsigned char data[]; /* table key, vid, NUL, sid, NUL */
} entry_t;

struct ew_sessions {
        ew_hash_t *table; /* table key -> entry_t *, NULL when disabled */
        link_t     lru;
        link_t     age;
        size_t     capacity;
        int64_t    ttl_ms;
};

#define LRU_ENTRY(l) ((entry_t *)(void *)((char *)(l)-offsetof(entry_t, lru)))
#define AGE_ENTRY(l) ((entry_t *)(void *)((char *)(l)-offsetof(entry_t, age)))

static void list_init(link_t *head)
{
        head->prev = head;
        head->next = head;
}

static void list_unlink(link_t *l)
{
        l->prev->next = l->next;
        l->next->prev = l->prev;
}

static void list_insert_after(link_t *pos, link_t *l)
{
        l->prev         = pos;
        l->next         = pos->next;
        pos->next->prev = l;
        pos->next       = l;
}

ew_sessions_t *ew_sessions_new(size_t capacity, int64_t ttl_ms)
{
        ew_sessions_t *sc = calloc(1, sizeof(*sc));

        if (!sc)
                return NULL;
        list_init(&sc->lru);
        list_init(&sc->age);
        if (capacity > EW_SESSIONS_MAX_CAPACITY)
                capacity = EW_SESSIONS_MAX_CAPACITY;
        if (ttl_ms <= 0)
                capacity = 0;
        sc->capacity = capacity;
        sc->ttl_ms   = ttl_ms;
        if (capacity > 0 && !(sc->table = ew_hash_new(capacity)))
                goto error;
        return sc;

error:
        ew_sessions_destroy(sc);
        return NULL;
}

void ew_sessions_destroy(ew_sessions_t *sc)
{
        link_t *l, *next;

        if (!sc)
                return;
        for (l = sc->lru.next; l != &sc->lru; l = next) {
                next = l->next;
                free(LRU_ENTRY(l));
        }
        ew_hash_destroy(sc->table);
        free(sc);
}

/* Builds the table key into buf (TKEY_MAX bytes). Returns its length, or
 * 0 if account or key is too long (a real table key is at least 2 bytes). */
static size_t table_key(unsigned char *buf, const char *account,
                        const void *key, size_t keylen)
{
        size_t alen = strnlen(account, EW_SESSIONS_MAX_LEN + 1);

        if (alen > EW_SESSIONS_MAX_LEN || keylen > EW_SESSIONS_MAX_LEN)
                return 0;
        buf[0] = (unsigned char)(alen >> 8);
        buf[1] = (unsigned char)(alen & 0xff);
        memcpy(buf + 2, account, alen);
        if (keylen > 0)
                memcpy(buf + 2 + alen, key, keylen);
        return 2 + alen + keylen;
}

/* Unlinks e from both lists and the table and frees it. */
static void drop(ew_sessions_t *sc, entry_t *e)
{
        list_unlink(&e->lru);
        list_unlink(&e->age);
        ew_hash_remove(sc->table, e->data, e->tklen, NULL);
        free(e);
}

static int expired(const ew_sessions_t *sc, const entry_t *e, int64_t now_ms)
{
        return now_ms - e->put_ms >= sc->ttl_ms;
}

int ew_sessions_get(ew_sessions_t *sc, const char *account, const void *key,
                    size_t keylen, int64_t now_ms, const char **vidp,
                    const char **sidp)
{
        unsigned char tkey[TKEY_MAX];
        size_t        tklen;
        entry_t      *e;

        if (!sc->table || !account || (keylen > 0 && !key))
                return 0;
        if (!(tklen = table_key(tkey, account, key, keylen)))
                return 0;
        if (!(e = ew_hash_get(sc->table, tkey, tklen)))
                return 0;
        if (expired(sc, e, now_ms)) {
                drop(sc, e);
                return 0;
        }
        list_unlink(&e->lru);
        list_insert_after(&sc->lru, &e->lru);
        if (vidp)
                *vidp = e->vid;
        if (sidp)
                *sidp = e->sid;
        return 1;
}

size_t ew_sessions_expire(ew_sessions_t *sc, int64_t now_ms)
{
        size_t   n = 0;
        entry_t *e;

        while (sc->age.next != &sc->age) {
                e = AGE_ENTRY(sc->age.next);
                if (!expired(sc, e, now_ms))
                        break;
                drop(sc, e);
                n++;
        }
        return n;
}

/* Makes e most recently used and youngest, put at now_ms. */
static void touch_put(ew_sessions_t *sc, entry_t *e, int64_t now_ms)
{
        e->put_ms = now_ms;
        list_unlink(&e->lru);
        list_insert_after(&sc->lru, &e->lru);
        list_unlink(&e->age);
        list_insert_after(sc->age.prev, &e->age);
}

static entry_t *entry_new(const unsigned char *tkey, size_t tklen,
                          const char *vid, size_t vlen, const char *sid,
                          size_t slen)
{
        entry_t *e = malloc(sizeof(*e) + tklen + vlen + 1 + slen + 1);
        char    *p;

        if (!e)
                return NULL;
        e->tklen = tklen;
        memcpy(e->data, tkey, tklen);
        p = (char *)e->data + tklen;
        memcpy(p, vid, vlen + 1);
        e->vid = p;
        p += vlen + 1;
        memcpy(p, sid, slen + 1);
        e->sid = p;
        /* Self-linked, so touch_put() can unlink before inserting. */
        list_init(&e->lru);
        list_init(&e->age);
        return e;
}

int ew_sessions_put(ew_sessions_t *sc, const char *account, const void *key,
                    size_t keylen, const char *vid, const char *sid,
                    int64_t now_ms)
{
        unsigned char tkey[TKEY_MAX];
        size_t        tklen, vlen, slen;
        entry_t      *e, *old;

        if (!account || (keylen > 0 && !key) || !vid || !sid)
                return -1;
        vlen = strnlen(vid, EW_SESSIONS_MAX_LEN + 1);
        slen = strnlen(sid, EW_SESSIONS_MAX_LEN + 1);
        if (vlen > EW_SESSIONS_MAX_LEN || slen > EW_SESSIONS_MAX_LEN)
                return -1;
        if (!(tklen = table_key(tkey, account, key, keylen)))
                return -1;
        if (!sc->table)
                return 0;

        old = ew_hash_get(sc->table, tkey, tklen);
        if (old && strcmp(old->vid, vid) == 0 && strcmp(old->sid, sid) == 0) {
                /* The common case: the API confirmed the session. */
                touch_put(sc, old, now_ms);
                return 1;
        }
        if (!old) {
                ew_sessions_expire(sc, now_ms);
                if (ew_hash_count(sc->table) >= sc->capacity)
                        drop(sc, LRU_ENTRY(sc->lru.prev));
        }
        if (!(e = entry_new(tkey, tklen, vid, vlen, sid, slen)))
                return -1;
        /* Replacing an existing key cannot fail; adding may (no memory). */
        if (ew_hash_put(sc->table, e->data, e->tklen, e, NULL) == -1) {
                free(e);
                return -1;
        }
        if (old) {
                list_unlink(&old->lru);
                list_unlink(&old->age);
                free(old);
        }
        touch_put(sc, e, now_ms);
        return 1;
}

int ew_sessions_remove(ew_sessions_t *sc, const char *account, const void *key,
                       size_t keylen)
{
        unsigned char tkey[TKEY_MAX];
        size_t        tklen;
        entry_t      *e;

        if (!sc->table || !account || (keylen > 0 && !key))
                return 0;
        if (!(tklen = table_key(tkey, account, key, keylen)))
                return 0;
        if (!(e = ew_hash_get(sc->table, tkey, tklen)))
                return 0;
        drop(sc, e);
        return 1;
}

size_t ew_sessions_count(const ew_sessions_t *sc)
{
        return sc->table ? ew_hash_count(sc->table) : 0;
}
