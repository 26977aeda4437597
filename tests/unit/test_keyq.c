/*
 * test_keyq - per-key FIFO queues (ew_keyq).
 */
#include "ew_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ew_keyq.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

/* An item as the worker might have it: a partition and an id. */
typedef struct item {
        int partition;
        int id;
} item_t;

static int push_str(ew_keyq_t *kq, const char *key, item_t *it)
{
        return ew_keyq_push(kq, key, strlen(key), it);
}

static item_t *done_str(ew_keyq_t *kq, const char *key)
{
        return ew_keyq_done(kq, key, strlen(key));
}

static void test_same_key_serializes(void)
{
        ew_keyq_t *kq    = ew_keyq_new(0);
        item_t     it[4] = {{0, 0}, {0, 1}, {0, 2}, {0, 3}};
        int        i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        CU_ASSERT_EQUAL(push_str(kq, "visitor-1", &it[0]), 1);
        for (i = 1; i < 4; i++)
                CU_ASSERT_EQUAL(push_str(kq, "visitor-1", &it[i]), 0);
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 1);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), 3);
        CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "visitor-1", 9), &it[0]);
        CU_ASSERT_EQUAL(ew_keyq_queued_for(kq, "visitor-1", 9), 3);
        for (i = 1; i < 4; i++) {
                CU_ASSERT_PTR_EQUAL(done_str(kq, "visitor-1"), &it[i]);
                CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "visitor-1", 9), &it[i]);
                CU_ASSERT_EQUAL(ew_keyq_queued(kq), (size_t)(3 - i));
        }
        CU_ASSERT_PTR_NULL(done_str(kq, "visitor-1"));
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 0);
        CU_ASSERT_PTR_NULL(ew_keyq_active(kq, "visitor-1", 9));
        /* The key is gone: a new push is active at once. */
        CU_ASSERT_EQUAL(push_str(kq, "visitor-1", &it[0]), 1);
        CU_ASSERT_PTR_NULL(done_str(kq, "visitor-1"));
        /* done on an unknown key changes nothing. */
        CU_ASSERT_PTR_NULL(done_str(kq, "nobody"));
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 0);
        ew_keyq_destroy(kq);
}

static void test_keys_parallel(void)
{
        ew_keyq_t *kq = ew_keyq_new(0);
        item_t     a = {0, 1}, b = {0, 2}, c = {0, 3}, d = {0, 4};

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        CU_ASSERT_EQUAL(push_str(kq, "k1", &a), 1);
        CU_ASSERT_EQUAL(push_str(kq, "k2", &b), 1);
        CU_ASSERT_EQUAL(push_str(kq, "k1", &c), 0);
        CU_ASSERT_EQUAL(push_str(kq, "k2", &d), 0);
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 2);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), 2);
        /* Finishing k2 first does not disturb k1. */
        CU_ASSERT_PTR_EQUAL(done_str(kq, "k2"), &d);
        CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "k1", 2), &a);
        CU_ASSERT_PTR_NULL(done_str(kq, "k2"));
        CU_ASSERT_PTR_EQUAL(done_str(kq, "k1"), &c);
        CU_ASSERT_PTR_NULL(done_str(kq, "k1"));
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 0);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), 0);
        ew_keyq_destroy(kq);
}

/* Keys compare as bytes: embedded NULs, prefixes, the empty key. */
static void test_key_bytes(void)
{
        ew_keyq_t *kq    = ew_keyq_new(0);
        item_t     it[5] = {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}};

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        CU_ASSERT_EQUAL(ew_keyq_push(kq, "ab\0c", 4, &it[0]), 1);
        CU_ASSERT_EQUAL(ew_keyq_push(kq, "ab\0d", 4, &it[1]), 1);
        CU_ASSERT_EQUAL(ew_keyq_push(kq, "ab", 2, &it[2]), 1);
        CU_ASSERT_EQUAL(ew_keyq_push(kq, NULL, 0, &it[3]), 1);
        CU_ASSERT_EQUAL(ew_keyq_push(kq, "", 0, &it[4]), 0);
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 4);
        CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "ab\0d", 4), &it[1]);
        CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "abc", 2), &it[2]);
        CU_ASSERT_PTR_EQUAL(ew_keyq_done(kq, NULL, 0), &it[4]);
        CU_ASSERT_PTR_NULL(ew_keyq_done(kq, "", 0));
        CU_ASSERT_PTR_NULL(ew_keyq_done(kq, "ab\0c", 4));
        CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "ab\0d", 4), &it[1]);
        ew_keyq_destroy(kq);
}

static void test_errors(void)
{
        ew_keyq_t *kq    = ew_keyq_new(3);
        item_t     it[4] = {{0, 0}, {0, 1}, {0, 2}, {0, 3}};
        char      *big   = calloc(1, EW_KEYQ_MAX_KEY + 1);

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        CU_ASSERT_PTR_NOT_NULL_FATAL(big);
        CU_ASSERT_EQUAL(push_str(kq, "k", NULL), -1);
        CU_ASSERT_EQUAL(ew_keyq_push(kq, big, EW_KEYQ_MAX_KEY + 1, &it[0]), -1);
        CU_ASSERT_EQUAL(ew_keyq_push(kq, big, EW_KEYQ_MAX_KEY, &it[0]), 1);
        CU_ASSERT_EQUAL(push_str(kq, "k", &it[1]), 1);
        CU_ASSERT_EQUAL(push_str(kq, "k", &it[2]), 0);
        /* max_items (3) counts active and queued items together. */
        CU_ASSERT_EQUAL(push_str(kq, "k", &it[3]), -1);
        CU_ASSERT_EQUAL(push_str(kq, "other", &it[3]), -1);
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 2);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), 1);
        CU_ASSERT_PTR_NULL(ew_keyq_done(kq, big, EW_KEYQ_MAX_KEY));
        CU_ASSERT_EQUAL(push_str(kq, "other", &it[3]), 1);
        ew_keyq_destroy(kq);
        ew_keyq_destroy(NULL);
        free(big);
}

/* The queue copies keys: the caller's buffer is freed after every call,
 * both for short (inline) and long (allocated) keys. ASan would catch a
 * borrowed key. */
static void test_key_copied(void)
{
        const size_t lens[] = {5, EW_KEYQ_INLINE_KEY, EW_KEYQ_INLINE_KEY + 1,
                               1000};
        ew_keyq_t   *kq     = ew_keyq_new(0);
        item_t       a = {0, 1}, b = {0, 2};
        size_t       i;
        char        *k1, *k2;

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                k1 = malloc(lens[i]);
                k2 = malloc(lens[i]);
                CU_ASSERT_PTR_NOT_NULL_FATAL(k1);
                CU_ASSERT_PTR_NOT_NULL_FATAL(k2);
                memset(k1, 'a' + (int)i, lens[i]);
                memcpy(k2, k1, lens[i]);
                CU_ASSERT_EQUAL(ew_keyq_push(kq, k1, lens[i], &a), 1);
                /* Scribble over the first buffer (a borrowed key would now
                 * be wrong), then free it (a borrowed key would dangle). */
                memset(k1, 'z', lens[i]);
                CU_ASSERT_EQUAL(ew_keyq_push(kq, k2, lens[i], &b), 0);
                free(k1);
                CU_ASSERT_PTR_EQUAL(ew_keyq_done(kq, k2, lens[i]), &b);
                CU_ASSERT_PTR_NULL(ew_keyq_done(kq, k2, lens[i]));
                free(k2);
        }
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 0);
        ew_keyq_destroy(kq);
}

typedef struct removal {
        int partition; /* remove items of this partition */
        int seen[16];  /* ids passed to on_removed, in order */
        int nseen;
} removal_t;

static int in_partition(void *p, void *arg)
{
        return ((item_t *)p)->partition == ((removal_t *)arg)->partition;
}

static void record_removed(void *p, void *arg)
{
        removal_t *rm = arg;

        if (rm->nseen < 16)
                rm->seen[rm->nseen++] = ((item_t *)p)->id;
}

static void test_remove_if(void)
{
        ew_keyq_t *kq = ew_keyq_new(0);
        /* k1: 0(p1, active) 1(p0) 2(p1) 3(p0) 4(p1); k2: 5(p1, active)
         * 6(p1); k3: 7(p0, active) */
        item_t    it[8] = {{1, 0}, {0, 1}, {1, 2}, {0, 3},
                           {1, 4}, {1, 5}, {1, 6}, {0, 7}};
        removal_t rm;
        int       i, pos2, pos4, pos6;

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        for (i = 0; i < 5; i++)
                CU_ASSERT_EQUAL(push_str(kq, "k1", &it[i]), i == 0);
        CU_ASSERT_EQUAL(push_str(kq, "k2", &it[5]), 1);
        CU_ASSERT_EQUAL(push_str(kq, "k2", &it[6]), 0);
        CU_ASSERT_EQUAL(push_str(kq, "k3", &it[7]), 1);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), 5);

        memset(&rm, 0, sizeof(rm));
        rm.partition = 1;
        CU_ASSERT_EQUAL(
            ew_keyq_remove_if(kq, in_partition, &rm, record_removed), 3);
        CU_ASSERT_EQUAL_FATAL(rm.nseen, 3);
        /* Exactly the queued partition-1 items, and within a key in queue
         * order: 2 before 4 (k2's 6 may come before or after). */
        pos2 = pos4 = pos6 = -1;
        for (i = 0; i < rm.nseen; i++) {
                if (rm.seen[i] == 2)
                        pos2 = i;
                else if (rm.seen[i] == 4)
                        pos4 = i;
                else if (rm.seen[i] == 6)
                        pos6 = i;
        }
        CU_ASSERT(pos2 >= 0 && pos4 > pos2 && pos6 >= 0);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), 2);
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 3);
        /* Active items of partition 1 stay: they are running. */
        CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "k1", 2), &it[0]);
        CU_ASSERT_PTR_EQUAL(ew_keyq_active(kq, "k2", 2), &it[5]);
        CU_ASSERT_EQUAL(ew_keyq_queued_for(kq, "k2", 2), 0);
        /* The survivors keep their order, and the tail is right: a new
         * push lands after them. */
        CU_ASSERT_EQUAL(push_str(kq, "k1", &it[4]), 0);
        CU_ASSERT_PTR_EQUAL(done_str(kq, "k1"), &it[1]);
        CU_ASSERT_PTR_EQUAL(done_str(kq, "k1"), &it[3]);
        CU_ASSERT_PTR_EQUAL(done_str(kq, "k1"), &it[4]);
        CU_ASSERT_PTR_NULL(done_str(kq, "k1"));
        CU_ASSERT_PTR_NULL(done_str(kq, "k2"));
        /* Removing everything queued and nothing matching. */
        CU_ASSERT_EQUAL(ew_keyq_remove_if(kq, in_partition, &rm, NULL), 0);
        CU_ASSERT_PTR_NULL(done_str(kq, "k3"));
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 0);
        ew_keyq_destroy(kq);
}

/* 100k keys with two items each; every entry and node is released. */
static void test_many_keys(void)
{
        enum { N = 100000 };
        ew_keyq_t *kq       = ew_keyq_new(0);
        item_t    *it       = malloc(2 * N * sizeof(*it));
        size_t     failures = 0;
        char       key[128];
        int        i, len;

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        CU_ASSERT_PTR_NOT_NULL_FATAL(it);
        for (i = 0; i < N; i++) {
                it[2 * i].id     = 2 * i;
                it[2 * i + 1].id = 2 * i + 1;
                len              = snprintf(key, sizeof(key), "key-%d", i);
                if (ew_keyq_push(kq, key, (size_t)len, &it[2 * i]) != 1)
                        failures++;
        }
        for (i = 0; i < N; i++) {
                len = snprintf(key, sizeof(key), "key-%d", i);
                if (ew_keyq_push(kq, key, (size_t)len, &it[2 * i + 1]) != 0)
                        failures++;
        }
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), N);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), N);
        for (i = N - 1; i >= 0; i--) {
                len = snprintf(key, sizeof(key), "key-%d", i);
                if (ew_keyq_done(kq, key, (size_t)len) != &it[2 * i + 1])
                        failures++;
                if (ew_keyq_done(kq, key, (size_t)len) != NULL)
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 0);
        CU_ASSERT_EQUAL(ew_keyq_queued(kq), 0);
        /* Leave some held at destroy: it must free them (valgrind). */
        for (i = 0; i < 1000; i++) {
                len = snprintf(key, sizeof(key), "%0*d", 20 + i % 80, i);
                ew_keyq_push(kq, key, (size_t)len, &it[i]);
                ew_keyq_push(kq, key, (size_t)len, &it[i + 1]);
        }
        CU_ASSERT_EQUAL(ew_keyq_keys(kq), 1000);
        ew_keyq_destroy(kq);
        free(it);
}

static int model_pred(void *p, void *arg)
{
        return ((item_t *)p)->partition == *(int *)arg;
}

/* Random pushes, dones and removals over a few keys, cross-checked
 * against per-key arrays (index 0 = active). */
static void test_model(void)
{
        enum { KEYS = 37, CAP = 4096, OPS = 200000 };
        static int    model[KEYS][CAP];
        static size_t mlen[KEYS];
        static item_t items[OPS];
        ew_keyq_t    *kq = ew_keyq_new(0);
        size_t failures = 0, next_item = 0, total = 0, queued, i, j, w, removed;
        char   key[16];
        int    op, k, r, part, len;
        void  *got;

        CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
        memset(mlen, 0, sizeof(mlen));
        rng_state = UINT64_C(0x0123456789abcdef);
        for (op = 0; op < OPS; op++) {
                k   = (int)(rng() % KEYS);
                len = snprintf(key, sizeof(key), "key%d", k);
                r   = (int)(rng() % 100);
                if (r < 50 && mlen[k] < CAP) {
                        item_t *it    = &items[next_item];
                        it->id        = (int)next_item;
                        it->partition = (int)(rng() % 4);
                        next_item++;
                        if (ew_keyq_push(kq, key, (size_t)len, it) !=
                            (mlen[k] == 0))
                                failures++;
                        model[k][mlen[k]++] = it->id;
                } else if (r < 98) {
                        got = ew_keyq_done(kq, key, (size_t)len);
                        if (mlen[k] == 0) {
                                if (got != NULL)
                                        failures++;
                                continue;
                        }
                        memmove(&model[k][0], &model[k][1],
                                (mlen[k] - 1) * sizeof(int));
                        mlen[k]--;
                        if (mlen[k] == 0 ? got != NULL
                                         : got != &items[model[k][0]])
                                failures++;
                } else {
                        part    = (int)(rng() % 4);
                        removed = 0;
                        for (i = 0; i < KEYS; i++) {
                                for (j = w = (mlen[i] > 0); j < mlen[i]; j++) {
                                        if (items[model[i][j]].partition ==
                                            part)
                                                removed++;
                                        else
                                                model[i][w++] = model[i][j];
                                }
                                if (mlen[i] > 0)
                                        mlen[i] = w;
                        }
                        if (ew_keyq_remove_if(kq, model_pred, &part, NULL) !=
                            removed)
                                failures++;
                }
                total = queued = 0;
                for (i = 0; i < KEYS; i++) {
                        total += mlen[i] > 0;
                        queued += mlen[i] > 0 ? mlen[i] - 1 : 0;
                }
                if (ew_keyq_keys(kq) != total || ew_keyq_queued(kq) != queued)
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        CU_ASSERT(next_item > OPS / 4);
        ew_keyq_destroy(kq);
}

static const ew_test_case_t cases[] = {
    {"same_key_serializes", test_same_key_serializes},
    {"keys_parallel", test_keys_parallel},
    {"key_bytes", test_key_bytes},
    {"errors", test_errors},
    {"key_copied", test_key_copied},
    {"remove_if", test_remove_if},
    {"many_keys_100k", test_many_keys},
    {"model", test_model},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"keyq", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
