/*
 * test_hash - the byte-string hash table (ew_hash).
 */
#include "ew_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_hash.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static const unsigned char zero_seed[EW_HASH_SEED_SIZE];

/* SipHash-1-3 under the all-zero key, as computed by CPython 3.11 (whose
 * bytes hash is SipHash-1-3 and whose key is all zeros when
 * PYTHONHASHSEED=0): PYTHONHASHSEED=0 python3 -c 'print(hash(b"abc"))'. */
static void test_siphash_vectors(void)
{
        static const struct {
                const char *msg;
                int64_t     want;
        } vec[] = {
            {"a", INT64_C(4644417185603328019)},
            {"abc", INT64_C(-4594863902769663758)},
            {"abcdefgh", INT64_C(4574395652268504554)},
            {"abcdefghijklmnopqrstuvwxyz0123456789",
             INT64_C(-99395660548226206)},
            {"0123456", INT64_C(-9148306751049235591)},
        };
        unsigned char seed[EW_HASH_SEED_SIZE];
        size_t        i, failures = 0;
        uint64_t      h;

        for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
                h = ew_hash_bytes(zero_seed, vec[i].msg, strlen(vec[i].msg));
                if ((int64_t)h != vec[i].want) {
                        fprintf(stderr, "siphash(%s) = %lld\n", vec[i].msg,
                                (long long)h);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        /* The seed matters (both halves). */
        memset(seed, 0, sizeof(seed));
        seed[0] = 1;
        CU_ASSERT_NOT_EQUAL(ew_hash_bytes(seed, "abc", 3),
                            ew_hash_bytes(zero_seed, "abc", 3));
        seed[0]  = 0;
        seed[15] = 1;
        CU_ASSERT_NOT_EQUAL(ew_hash_bytes(seed, "abc", 3),
                            ew_hash_bytes(zero_seed, "abc", 3));
}

static void test_basic(void)
{
        ew_hash_t *h = ew_hash_new(0);
        int        a = 1, b = 2, c = 3;
        void      *v    = NULL;
        char       k1[] = "alpha", k2[] = "alpha";

        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        CU_ASSERT_EQUAL(ew_hash_count(h), 0);
        CU_ASSERT_PTR_NULL(ew_hash_get(h, "alpha", 5));
        CU_ASSERT_EQUAL(ew_hash_remove(h, "alpha", 5, NULL), 0);
        CU_ASSERT_EQUAL(ew_hash_put(h, k1, 5, &a, NULL), 1);
        CU_ASSERT_EQUAL(ew_hash_put(h, "alp", 3, &b, NULL), 1);
        CU_ASSERT_EQUAL(ew_hash_put(h, NULL, 0, &c, NULL), 1);
        CU_ASSERT_EQUAL(ew_hash_count(h), 3);
        CU_ASSERT_PTR_EQUAL(ew_hash_get(h, "alpha", 5), &a);
        CU_ASSERT_PTR_EQUAL(ew_hash_get(h, "alp", 3), &b);
        CU_ASSERT_PTR_EQUAL(ew_hash_get(h, "", 0), &c);
        CU_ASSERT_PTR_NULL(ew_hash_get(h, "alph", 4));
        /* Replace: old value handed back, the new key pointer borrowed. */
        CU_ASSERT_EQUAL(ew_hash_put(h, k2, 5, &c, &v), 0);
        CU_ASSERT_PTR_EQUAL(v, &a);
        memset(k1, 'x', 5); /* the old key buffer no longer matters */
        CU_ASSERT_PTR_EQUAL(ew_hash_get(h, "alpha", 5), &c);
        CU_ASSERT_EQUAL(ew_hash_count(h), 3);
        /* NULL values are storable; find tells them from absence. */
        CU_ASSERT_EQUAL(ew_hash_put(h, "nil", 3, NULL, NULL), 1);
        v = &a;
        CU_ASSERT_EQUAL(ew_hash_find(h, "nil", 3, &v), 1);
        CU_ASSERT_PTR_NULL(v);
        CU_ASSERT_EQUAL(ew_hash_find(h, "nol", 3, NULL), 0);
        CU_ASSERT_EQUAL(ew_hash_remove(h, "alpha", 5, &v), 1);
        CU_ASSERT_PTR_EQUAL(v, &c);
        CU_ASSERT_EQUAL(ew_hash_remove(h, "alpha", 5, &v), 0);
        CU_ASSERT_EQUAL(ew_hash_count(h), 3);
        ew_hash_destroy(h);
        ew_hash_destroy(NULL);
}

static void test_max_entries(void)
{
        ew_hash_t *h = ew_hash_new(20);
        char       keys[21][8];
        int        i, x = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        for (i = 0; i < 21; i++)
                snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        for (i = 0; i < 20; i++)
                CU_ASSERT_EQUAL(
                    ew_hash_put(h, keys[i], strlen(keys[i]), &x, NULL), 1);
        CU_ASSERT_EQUAL(ew_hash_put(h, keys[20], strlen(keys[20]), &x, NULL),
                        -1);
        CU_ASSERT_EQUAL(ew_hash_count(h), 20);
        /* Replacing still works when full. */
        CU_ASSERT_EQUAL(ew_hash_put(h, keys[3], strlen(keys[3]), NULL, NULL),
                        0);
        CU_ASSERT_EQUAL(ew_hash_remove(h, keys[0], strlen(keys[0]), NULL), 1);
        CU_ASSERT_EQUAL(ew_hash_put(h, keys[20], strlen(keys[20]), &x, NULL),
                        1);
        ew_hash_destroy(h);
}

/* 100k keys in, half out, all out: the table grows and shrinks and every
 * key stays findable throughout. */
static void test_grow_shrink(void)
{
        enum { N = 100000 };
        char(*keys)[16]     = malloc(N * sizeof(*keys));
        ew_hash_t *h        = ew_hash_new(0);
        size_t     failures = 0;
        int        i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        for (i = 0; i < N; i++) {
                snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
                if (ew_hash_put(h, keys[i], strlen(keys[i]), keys[i], NULL) !=
                    1)
                        failures++;
        }
        CU_ASSERT_EQUAL(ew_hash_count(h), N);
        for (i = 0; i < N; i++) {
                if (ew_hash_get(h, keys[i], strlen(keys[i])) != keys[i])
                        failures++;
        }
        for (i = 0; i < N; i += 2) {
                if (ew_hash_remove(h, keys[i], strlen(keys[i]), NULL) != 1)
                        failures++;
        }
        for (i = 0; i < N; i++) {
                if (ew_hash_find(h, keys[i], strlen(keys[i]), NULL) != (i % 2))
                        failures++;
        }
        for (i = 1; i < N; i += 2) {
                if (ew_hash_remove(h, keys[i], strlen(keys[i]), NULL) != 1)
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_EQUAL(ew_hash_count(h), 0);
        CU_ASSERT_EQUAL(ew_hash_put(h, "again", 5, keys, NULL), 1);
        CU_ASSERT_PTR_EQUAL(ew_hash_get(h, "again", 5), keys);
        ew_hash_destroy(h);
        free(keys);
}

typedef struct visit_state {
        unsigned char *seen; /* visits per key index */
        int remove_mod;      /* remove keys whose index % remove_mod == 0 */
        int stop_after;      /* stop after this many visits (0 = never) */
        int visits;
} visit_state_t;

static int visit(const void *key, size_t keylen, void *value, void *arg)
{
        visit_state_t *st  = arg;
        int            idx = (int)(intptr_t)value;

        (void)key;
        (void)keylen;
        st->seen[idx]++;
        st->visits++;
        if (st->stop_after && st->visits == st->stop_after)
                return EW_HASH_STOP;
        return idx % st->remove_mod == 0 ? EW_HASH_REMOVE : EW_HASH_KEEP;
}

/* foreach visits each entry exactly once even while removing, whatever
 * the table's size (clusters wrapping round the end included). */
static void test_foreach(void)
{
        enum { N = 5000 };
        char(*keys)[16]         = malloc(N * sizeof(*keys));
        unsigned char *seen     = calloc(N, 1);
        size_t         failures = 0, removed;
        visit_state_t  st;
        ew_hash_t     *h;
        int            n, i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
        CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
        for (i = 0; i < N; i++)
                snprintf(keys[i], sizeof(keys[i]), "%d", i);
        for (n = 1; n <= N; n = n * 3 + 1) {
                h = ew_hash_new(0);
                CU_ASSERT_PTR_NOT_NULL_FATAL(h);
                for (i = 0; i < n; i++)
                        ew_hash_put(h, keys[i], strlen(keys[i]),
                                    (void *)(intptr_t)i, NULL);
                memset(seen, 0, N);
                memset(&st, 0, sizeof(st));
                st.seen       = seen;
                st.remove_mod = 3;
                removed       = ew_hash_foreach(h, visit, &st);
                for (i = 0; i < n; i++) {
                        if (seen[i] != 1)
                                failures++;
                        if (ew_hash_find(h, keys[i], strlen(keys[i]), NULL) !=
                            (i % 3 != 0))
                                failures++;
                }
                if (removed != (size_t)(n + 2) / 3 ||
                    ew_hash_count(h) != (size_t)n - removed)
                        failures++;
                /* Remove all the rest. */
                memset(seen, 0, N);
                st.remove_mod = 1;
                st.visits     = 0;
                if (ew_hash_foreach(h, visit, &st) != (size_t)n - removed ||
                    ew_hash_count(h) != 0)
                        failures++;
                ew_hash_destroy(h);
        }
        CU_ASSERT_EQUAL(failures, 0);

        /* STOP ends the walk early and keeps the entry. */
        h = ew_hash_new(0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        for (i = 0; i < 100; i++)
                ew_hash_put(h, keys[i], strlen(keys[i]), (void *)(intptr_t)i,
                            NULL);
        memset(seen, 0, N);
        memset(&st, 0, sizeof(st));
        st.seen       = seen;
        st.remove_mod = 1;
        st.stop_after = 10;
        CU_ASSERT_EQUAL(ew_hash_foreach(h, visit, &st), 9);
        CU_ASSERT_EQUAL(st.visits, 10);
        CU_ASSERT_EQUAL(ew_hash_count(h), 91);
        ew_hash_destroy(h);
        free(keys);
        free(seen);
}

/* Random puts/removes/gets on a small key space (the table keeps growing
 * and shrinking around 16..64 slots, so clusters wrap), checked against a
 * plain array. A fixed seed makes the layout reproducible. */
static void test_model(void)
{
        enum { KEYS = 60, OPS = 300000 };
        unsigned char seed[EW_HASH_SEED_SIZE];
        static char   keys[KEYS][8];
        void         *model[KEYS];
        int           present[KEYS];
        size_t        failures = 0, count = 0, i;
        ew_hash_t    *h;
        void         *v, *old;
        int           op, k, r;

        for (i = 0; i < sizeof(seed); i++)
                seed[i] = (unsigned char)(i * 7 + 1);
        h = ew_hash_new_seeded(0, seed);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        memset(present, 0, sizeof(present));
        for (i = 0; i < KEYS; i++)
                snprintf(keys[i], sizeof(keys[i]), "m%zu", i);
        rng_state = UINT64_C(0xabcdef0123456789);
        for (op = 0; op < OPS; op++) {
                /* Drift between mostly-insert and mostly-remove phases. */
                int bias = (op / 5000) % 2 ? 70 : 30;
                k        = (int)(rng() % KEYS);
                r        = (int)(rng() % 100);
                if (r < bias) {
                        v   = &model[(k + op) % KEYS];
                        old = NULL;
                        if (ew_hash_put(h, keys[k], strlen(keys[k]), v, &old) !=
                            !present[k])
                                failures++;
                        if (present[k] && old != model[k])
                                failures++;
                        count += !present[k];
                        present[k] = 1;
                        model[k]   = v;
                } else {
                        v = NULL;
                        if (ew_hash_remove(h, keys[k], strlen(keys[k]), &v) !=
                            present[k])
                                failures++;
                        if (present[k] && v != model[k])
                                failures++;
                        count -= present[k];
                        present[k] = 0;
                }
                if (ew_hash_count(h) != count)
                        failures++;
                if (op % 97 == 0) {
                        for (i = 0; i < KEYS; i++) {
                                v = NULL;
                                if (ew_hash_find(h, keys[i], strlen(keys[i]),
                                                 &v) != present[i] ||
                                    (present[i] && v != model[i]))
                                        failures++;
                        }
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        ew_hash_destroy(h);
}

static const ew_test_case_t cases[] = {
    {"siphash_vectors", test_siphash_vectors},
    {"basic", test_basic},
    {"max_entries", test_max_entries},
    {"grow_shrink_100k", test_grow_shrink},
    {"foreach", test_foreach},
    {"model", test_model},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"hash", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
