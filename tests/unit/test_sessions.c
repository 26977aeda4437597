/*
 * test_sessions - the session cache (ew_sessions).
 */
#include "ew_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_sessions.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static int put(ew_sessions_t *sc, const char *acc, const char *key,
               const char *vid, const char *sid, int64_t now)
{
        return ew_sessions_put(sc, acc, key, strlen(key), vid, sid, now);
}

/* 1 if (acc, key) hits with exactly (vid, sid). */
static int hit(ew_sessions_t *sc, const char *acc, const char *key, int64_t now,
               const char *vid, const char *sid)
{
        const char *v = NULL, *s = NULL;

        if (ew_sessions_get(sc, acc, key, strlen(key), now, &v, &s) != 1)
                return 0;
        return strcmp(v, vid) == 0 && strcmp(s, sid) == 0;
}

static int miss(ew_sessions_t *sc, const char *acc, const char *key,
                int64_t now)
{
        const char *v = NULL, *s = NULL;

        return ew_sessions_get(sc, acc, key, strlen(key), now, &v, &s) == 0;
}

static void test_get_put(void)
{
        ew_sessions_t *sc = ew_sessions_new(100, 1000);
        const char    *v, *s;
        char           key[8];

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT(miss(sc, "acc", "k1", 0));
        CU_ASSERT_EQUAL(put(sc, "acc", "k1", "vid1", "sid1", 0), 1);
        CU_ASSERT(hit(sc, "acc", "k1", 1, "vid1", "sid1"));
        /* Same key, other account; same account, other key. */
        CU_ASSERT(miss(sc, "acc2", "k1", 1));
        CU_ASSERT(miss(sc, "acc", "k2", 1));
        /* (a, bc) and (ab, c) are different entries. */
        CU_ASSERT_EQUAL(put(sc, "a", "bc", "v-a", "s-a", 0), 1);
        CU_ASSERT_EQUAL(put(sc, "ab", "c", "v-ab", "s-ab", 0), 1);
        CU_ASSERT(hit(sc, "a", "bc", 1, "v-a", "s-a"));
        CU_ASSERT(hit(sc, "ab", "c", 1, "v-ab", "s-ab"));
        /* Keys are bytes: an embedded NUL and the empty key. */
        CU_ASSERT_EQUAL(
            ew_sessions_put(sc, "acc", "x\0y", 3, "v-nul", "s-nul", 0), 1);
        CU_ASSERT_EQUAL(ew_sessions_get(sc, "acc", "x\0z", 3, 1, &v, &s), 0);
        CU_ASSERT_EQUAL(ew_sessions_get(sc, "acc", "x", 1, 1, &v, &s), 0);
        CU_ASSERT_EQUAL(ew_sessions_get(sc, "acc", "x\0y", 3, 1, &v, &s), 1);
        CU_ASSERT_STRING_EQUAL(v, "v-nul");
        CU_ASSERT_EQUAL(ew_sessions_put(sc, "acc", NULL, 0, "v0", "s0", 0), 1);
        CU_ASSERT(hit(sc, "acc", "", 1, "v0", "s0"));
        /* Empty vid/sid strings are values like any other. */
        CU_ASSERT_EQUAL(put(sc, "acc", "e", "", "", 0), 1);
        CU_ASSERT(hit(sc, "acc", "e", 1, "", ""));
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 6);
        /* The caller's buffers are copied. */
        snprintf(key, sizeof(key), "tmp");
        CU_ASSERT_EQUAL(put(sc, "acc", key, "vt", "st", 0), 1);
        memset(key, 'z', sizeof(key) - 1);
        CU_ASSERT(hit(sc, "acc", "tmp", 1, "vt", "st"));
        ew_sessions_destroy(sc);
        ew_sessions_destroy(NULL);
}

static void test_ttl(void)
{
        ew_sessions_t *sc = ew_sessions_new(100, 100);

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v", "s", 1000), 1);
        CU_ASSERT(hit(sc, "acc", "k", 1099, "v", "s"));
        /* Fresh for ttl_ms after the put, expired at exactly ttl_ms: get
         * did not extend it. */
        CU_ASSERT(miss(sc, "acc", "k", 1100));
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 0); /* dropped */
        CU_ASSERT(miss(sc, "acc", "k", 1000));
        ew_sessions_destroy(sc);
}

static void test_put_refreshes(void)
{
        ew_sessions_t *sc = ew_sessions_new(100, 100);

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v1", "s1", 0), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v1", "s1", 90), 1);
        CU_ASSERT(hit(sc, "acc", "k", 150, "v1", "s1"));
        CU_ASSERT(hit(sc, "acc", "k", 189, "v1", "s1"));
        CU_ASSERT(miss(sc, "acc", "k", 190));
        /* A put with a new session replaces values and refreshes. */
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v1", "s1", 200), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v2", "s2", 250), 1);
        CU_ASSERT(hit(sc, "acc", "k", 340, "v2", "s2"));
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v2", "s3", 260), 1);
        CU_ASSERT(hit(sc, "acc", "k", 350, "v2", "s3"));
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 1);
        CU_ASSERT(miss(sc, "acc", "k", 360));
        ew_sessions_destroy(sc);
}

static void test_lru_eviction(void)
{
        ew_sessions_t *sc = ew_sessions_new(3, 1000);

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_EQUAL(put(sc, "acc", "a", "va", "sa", 0), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "b", "vb", "sb", 1), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "c", "vc", "sc", 2), 1);
        /* A get counts as use: b is now least recently used. */
        CU_ASSERT(hit(sc, "acc", "a", 3, "va", "sa"));
        CU_ASSERT_EQUAL(put(sc, "acc", "d", "vd", "sd", 4), 1);
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 3);
        CU_ASSERT(miss(sc, "acc", "b", 5));
        /* Order now (least recent first): c, a, d. A put of an existing
         * key counts as use too. */
        CU_ASSERT_EQUAL(put(sc, "acc", "c", "vc", "sc", 6), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "e", "ve", "se", 7), 1);
        CU_ASSERT(miss(sc, "acc", "a", 8));
        CU_ASSERT(hit(sc, "acc", "c", 8, "vc", "sc"));
        CU_ASSERT(hit(sc, "acc", "d", 8, "vd", "sd"));
        CU_ASSERT(hit(sc, "acc", "e", 8, "ve", "se"));
        ew_sessions_destroy(sc);
}

/* A full cache drops expired entries before evicting a fresh one. */
static void test_full_prefers_expired(void)
{
        ew_sessions_t *sc = ew_sessions_new(3, 100);

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_EQUAL(put(sc, "acc", "old", "v", "s", 0), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "b", "vb", "sb", 50), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "c", "vc", "sc", 60), 1);
        /* "old" was used last, but it is expired at 120; b is LRU. */
        CU_ASSERT(hit(sc, "acc", "old", 99, "v", "s"));
        CU_ASSERT_EQUAL(put(sc, "acc", "d", "vd", "sd", 120), 1);
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 3);
        CU_ASSERT(hit(sc, "acc", "b", 121, "vb", "sb"));
        CU_ASSERT(miss(sc, "acc", "old", 121));
        ew_sessions_destroy(sc);
}

static void test_expire_remove(void)
{
        ew_sessions_t *sc = ew_sessions_new(10, 100);

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_EQUAL(put(sc, "acc", "a", "v", "s", 0), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "b", "v", "s", 10), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "c", "v", "s", 20), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "a", "v", "s", 30), 1); /* refresh */
        CU_ASSERT_EQUAL(ew_sessions_expire(sc, 109), 0);
        CU_ASSERT_EQUAL(ew_sessions_expire(sc, 110), 1); /* b */
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 2);
        CU_ASSERT(hit(sc, "acc", "a", 111, "v", "s"));
        CU_ASSERT(hit(sc, "acc", "c", 111, "v", "s"));
        CU_ASSERT_EQUAL(ew_sessions_expire(sc, 1000), 2);
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 0);

        CU_ASSERT_EQUAL(put(sc, "acc", "a", "v", "s", 2000), 1);
        CU_ASSERT_EQUAL(ew_sessions_remove(sc, "acc", "b", 1), 0);
        CU_ASSERT_EQUAL(ew_sessions_remove(sc, "acc", "a", 1), 1);
        CU_ASSERT_EQUAL(ew_sessions_remove(sc, "acc", "a", 1), 0);
        CU_ASSERT(miss(sc, "acc", "a", 2001));
        /* Entries left at destroy are freed (valgrind). */
        CU_ASSERT_EQUAL(put(sc, "acc", "x", "v", "s", 2000), 1);
        ew_sessions_destroy(sc);
}

static void test_disabled(void)
{
        ew_sessions_t *sc = ew_sessions_new(0, 1000);
        ew_sessions_t *sc2;

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v", "s", 0), 0);
        CU_ASSERT(miss(sc, "acc", "k", 0));
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 0);
        CU_ASSERT_EQUAL(ew_sessions_remove(sc, "acc", "k", 1), 0);
        CU_ASSERT_EQUAL(ew_sessions_expire(sc, 0), 0);
        ew_sessions_destroy(sc);
        sc2 = ew_sessions_new(10, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(sc2);
        CU_ASSERT_EQUAL(put(sc2, "acc", "k", "v", "s", 0), 0);
        CU_ASSERT(miss(sc2, "acc", "k", 0));
        ew_sessions_destroy(sc2);
}

static void test_limits(void)
{
        ew_sessions_t *sc   = ew_sessions_new(10, 1000);
        char          *max  = malloc(EW_SESSIONS_MAX_LEN + 1);
        char          *over = malloc(EW_SESSIONS_MAX_LEN + 2);
        const char    *v, *s;

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(max);
        CU_ASSERT_PTR_NOT_NULL_FATAL(over);
        memset(max, 'm', EW_SESSIONS_MAX_LEN);
        max[EW_SESSIONS_MAX_LEN] = '\0';
        memset(over, 'o', EW_SESSIONS_MAX_LEN + 1);
        over[EW_SESSIONS_MAX_LEN + 1] = '\0';
        /* Exactly the limit is accepted, everywhere. */
        CU_ASSERT_EQUAL(put(sc, max, max, max, max, 0), 1);
        CU_ASSERT(hit(sc, max, max, 1, max, max));
        /* One byte more is refused, everywhere. */
        CU_ASSERT_EQUAL(put(sc, over, "k", "v", "s", 0), -1);
        CU_ASSERT_EQUAL(put(sc, "acc", over, "v", "s", 0), -1);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", over, "s", 0), -1);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v", over, 0), -1);
        CU_ASSERT(miss(sc, over, "k", 1));
        CU_ASSERT(miss(sc, "acc", over, 1));
        CU_ASSERT_EQUAL(ew_sessions_count(sc), 1);
        /* NULL strings are refused. */
        CU_ASSERT_EQUAL(ew_sessions_put(sc, NULL, "k", 1, "v", "s", 0), -1);
        CU_ASSERT_EQUAL(ew_sessions_put(sc, "a", "k", 1, NULL, "s", 0), -1);
        CU_ASSERT_EQUAL(ew_sessions_put(sc, "a", "k", 1, "v", NULL, 0), -1);
        CU_ASSERT_EQUAL(ew_sessions_get(sc, NULL, "k", 1, 0, &v, &s), 0);
        /* A refused update leaves the old entry alone. */
        CU_ASSERT_EQUAL(put(sc, "acc", "k", "v", "s", 0), 1);
        CU_ASSERT_EQUAL(put(sc, "acc", "k", over, "s", 1), -1);
        CU_ASSERT(hit(sc, "acc", "k", 2, "v", "s"));
        ew_sessions_destroy(sc);
        free(max);
        free(over);
}

/* The reference: a small array with explicit put times and use stamps. */
typedef struct ref {
        int      used; /* slot in use */
        int      acc, key;
        char     vid[16], sid[16];
        int64_t  put_ms;
        uint64_t stamp; /* last use */
} ref_t;

static void test_model(void)
{
        enum { CAP = 8, SLOTS = CAP, OPS = 200000, TTL = 50 };
        ew_sessions_t *sc = ew_sessions_new(CAP, TTL);
        ref_t          ref[SLOTS];
        char           acc[8], key[8], vid[16], sid[16];
        const char    *v, *s;
        size_t         failures = 0, hits = 0, evictions = 0, count, i, pick;
        uint64_t       stamp = 0;
        int64_t        now   = 0;
        int            op, r, a, k, got, found;

        CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
        memset(ref, 0, sizeof(ref));
        rng_state = UINT64_C(0x5eed5eed5eed5eed);
        for (op = 0; op < OPS; op++) {
                r = (int)(rng() % 100);
                a = (int)(rng() % 2);
                k = (int)(rng() % 12);
                snprintf(acc, sizeof(acc), "a%d", a);
                snprintf(key, sizeof(key), "k%d", k);
                now += (int64_t)(rng() % 4);
                for (found = -1, i = 0; i < SLOTS; i++) {
                        if (ref[i].used && ref[i].acc == a && ref[i].key == k)
                                found = (int)i;
                }
                if (r < 45) {
                        /* get */
                        got = ew_sessions_get(sc, acc, key, strlen(key), now,
                                              &v, &s);
                        if (found >= 0 && now - ref[found].put_ms >= TTL) {
                                ref[found].used = 0;
                                found           = -1;
                        }
                        if (got != (found >= 0))
                                failures++;
                        if (found >= 0) {
                                ref[found].stamp = ++stamp;
                                if (got == 1 &&
                                    (strcmp(v, ref[found].vid) != 0 ||
                                     strcmp(s, ref[found].sid) != 0))
                                        failures++;
                                hits++;
                        }
                } else if (r < 90) {
                        /* put, half the time confirming the same session */
                        snprintf(vid, sizeof(vid), "v%d", (int)(rng() % 3));
                        snprintf(sid, sizeof(sid), "s%d", (int)(rng() % 3));
                        if (ew_sessions_put(sc, acc, key, strlen(key), vid, sid,
                                            now) != 1)
                                failures++;
                        if (found < 0) {
                                /* drop expired, then evict the LRU */
                                for (count = 0, i = 0; i < SLOTS; i++) {
                                        if (ref[i].used &&
                                            now - ref[i].put_ms >= TTL)
                                                ref[i].used = 0;
                                        count += ref[i].used;
                                }
                                if (count == CAP) {
                                        for (pick = 0, i = 1; i < SLOTS; i++) {
                                                if (ref[i].stamp <
                                                    ref[pick].stamp)
                                                        pick = i;
                                        }
                                        ref[pick].used = 0;
                                        evictions++;
                                }
                                for (i = 0; ref[i].used; i++)
                                        ;
                                found           = (int)i;
                                ref[found].used = 1;
                                ref[found].acc  = a;
                                ref[found].key  = k;
                        }
                        snprintf(ref[found].vid, sizeof(ref[found].vid), "%s",
                                 vid);
                        snprintf(ref[found].sid, sizeof(ref[found].sid), "%s",
                                 sid);
                        ref[found].put_ms = now;
                        ref[found].stamp  = ++stamp;
                } else if (r < 97) {
                        got = ew_sessions_remove(sc, acc, key, strlen(key));
                        if (got != (found >= 0))
                                failures++;
                        if (found >= 0)
                                ref[found].used = 0;
                } else {
                        size_t want = 0;
                        for (i = 0; i < SLOTS; i++) {
                                if (ref[i].used && now - ref[i].put_ms >= TTL) {
                                        ref[i].used = 0;
                                        want++;
                                }
                        }
                        if (ew_sessions_expire(sc, now) != want)
                                failures++;
                }
                for (count = 0, i = 0; i < SLOTS; i++)
                        count += ref[i].used;
                if (ew_sessions_count(sc) != count)
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT(hits > 1000 && evictions > 1000);
        ew_sessions_destroy(sc);
}

static const ew_test_case_t cases[] = {
    {"get_put", test_get_put},
    {"ttl_expiry", test_ttl},
    {"put_refreshes", test_put_refreshes},
    {"lru_eviction", test_lru_eviction},
    {"full_prefers_expired", test_full_prefers_expired},
    {"expire_remove", test_expire_remove},
    {"disabled", test_disabled},
    {"limits", test_limits},
    {"model", test_model},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"sessions", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
