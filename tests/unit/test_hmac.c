/*
 * test_hmac - the prepared HMAC-SHA256 hasher (ew_hmac): RFC 4231 known
 * answers, edge values, reuse, and agreement with OpenSSL's one-shot
 * HMAC() for random keys and messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ew_hmac.h"
#include "ew_test.h"
#include "ew_util.h"

/* Keys and messages go up to this many bytes. */
#define MAX_BYTES 1024

/* hex of OpenSSL's one-shot HMAC-SHA256 into out; 0 or -1. The reference
 * the hasher is compared with. */
static int oneshot_hex(const void *key, size_t key_len, const void *data,
                       size_t len, char out[EW_HMAC_HEX_SIZE])
{
        static const char   hex[] = "0123456789abcdef";
        static const char   empty = 0;
        unsigned char       md[EVP_MAX_MD_SIZE];
        unsigned int        md_len       = 0, i;
        const unsigned char empty_msg[1] = {0};

        /* HMAC() takes a NULL key as "reuse the last one": hand it a real
         * pointer even for an empty key. */
        if (!HMAC(EVP_sha256(), key_len ? key : &empty, (int)key_len,
                  len ? data : empty_msg, len, md, &md_len) ||
            md_len != 32)
                return -1;
        for (i = 0; i < md_len; i++) {
                out[2 * i]     = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 0xf];
        }
        out[2 * md_len] = '\0';
        return 0;
}

/* hex of HMAC with a fresh hasher for key; 0 or -1. */
static int fresh_hex(const void *key, size_t key_len, const void *data,
                     size_t len, char out[EW_HMAC_HEX_SIZE])
{
        char       err[256] = "";
        ew_hmac_t *h        = ew_hmac_new(key, key_len, err, sizeof(err));
        int        r;

        if (!h) {
                fprintf(stderr, "  ew_hmac_new: %s\n", err);
                return -1;
        }
        r = ew_hmac_hex(h, data, len, out);
        ew_hmac_destroy(h);
        return r;
}

/* xorshift64: reproducible test bytes. */
static uint64_t next_rand(uint64_t *s)
{
        uint64_t x = *s;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *s = x;
        return x;
}

static void fill_rand(uint64_t *s, unsigned char *p, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                p[i] = (unsigned char)(next_rand(s) >> 24);
}

/* RFC 4231 section 4, HMAC-SHA-256 of test cases 1-4, 6 and 7 (case 5
 * truncates the output, which this hasher never does). Keys and data are
 * built as the RFC describes them. */
static void test_rfc4231(void)
{
        static const char *want[] = {
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        };
        static const char c6[] =
            "Test Using Larger Than Block-Size Key - Hash Key First";
        static const char c7[] =
            "This is a test using a larger than block-size key and a larger "
            "than block-size data. The key needs to be hashed before being "
            "used by the HMAC algorithm.";
        unsigned char key[131], data[200];
        size_t        key_len, len, i;
        int           failures = 0, c;

        for (c = 0; c < 6; c++) {
                char out[EW_HMAC_HEX_SIZE];
                switch (c) {
                case 0: /* case 1 */
                        key_len = 20;
                        memset(key, 0x0b, key_len);
                        len = 8;
                        memcpy(data, "Hi There", len);
                        break;
                case 1: /* case 2: a key shorter than the output */
                        key_len = 4;
                        memcpy(key, "Jefe", key_len);
                        len = 28;
                        memcpy(data, "what do ya want for nothing?", len);
                        break;
                case 2: /* case 3 */
                        key_len = 20;
                        memset(key, 0xaa, key_len);
                        len = 50;
                        memset(data, 0xdd, len);
                        break;
                case 3: /* case 4 */
                        key_len = 25;
                        for (i = 0; i < key_len; i++)
                                key[i] = (unsigned char)(i + 1);
                        len = 50;
                        memset(data, 0xcd, len);
                        break;
                case 4: /* case 6: a key longer than the block */
                        key_len = 131;
                        memset(key, 0xaa, key_len);
                        len = sizeof(c6) - 1;
                        memcpy(data, c6, len);
                        break;
                default: /* case 7: key and data longer than the block */
                        key_len = 131;
                        memset(key, 0xaa, key_len);
                        len = sizeof(c7) - 1;
                        memcpy(data, c7, len);
                        break;
                }
                if (fresh_hex(key, key_len, data, len, out) != 0 ||
                    strcmp(out, want[c]) != 0) {
                        fprintf(stderr, "  rfc4231 #%d: got %s\n", c, out);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/*
 * Known answers for edge values, computed when the test was written with
 *   printf 'VALUE' | openssl dgst -sha256 -hmac KEY
 * (-mac HMAC -macopt hexkey:HEX for the keys with NUL bytes; the empty
 * key is hexkey:00, equal to it once zero-padded to the block).
 */
static void test_edges(void)
{
        static const struct {
                const char *name;
                const char *key;
                size_t      key_len;
                const char *data;
                size_t      len;
                const char *want;
        } cases[] = {
            {"empty_key_and_message", "", 0, "", 0,
             "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5a"
             "d"},
            {"empty_message", "s3cr3t-key", 10, "", 0,
             "77ff73c2efef74b2120ec3f9f5fc39bbf5b5b34240f4d1f9e3733bb54be23ce"
             "e"},
            {"nul_bytes", "s3cr3t-key", 10, "a\0b\0\0c", 6,
             "a8a472036ad8739ca669730ad933d83ebabd214e052bf3ea1bf1365fb4a5488"
             "5"},
            {"nul_in_key", "k\0y", 3, "value", 5,
             "d81a17575e17b07901022ae6c7f9e645547a2ab492a6ed01f697add8742c61b"
             "a"},
        };
        int    failures = 0;
        size_t i;

        for (i = 0; i < EW_ARRAY_SIZE(cases); i++) {
                char out[EW_HMAC_HEX_SIZE], ref[EW_HMAC_HEX_SIZE];
                if (fresh_hex(cases[i].key, cases[i].key_len, cases[i].data,
                              cases[i].len, out) != 0 ||
                    strcmp(out, cases[i].want) != 0) {
                        fprintf(stderr, "  %s: got %s\n", cases[i].name, out);
                        failures++;
                }
                /* And OpenSSL's one-shot agrees. */
                if (oneshot_hex(cases[i].key, cases[i].key_len, cases[i].data,
                                cases[i].len, ref) != 0 ||
                    strcmp(ref, cases[i].want) != 0) {
                        fprintf(stderr, "  %s: HMAC() gives %s\n",
                                cases[i].name, ref);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* NULL data with length 0 is the empty message; the output is 64
 * lowercase hex digits and a NUL. */
static void test_output_shape(void)
{
        char       err[256] = "";
        char       a[EW_HMAC_HEX_SIZE], b[EW_HMAC_HEX_SIZE];
        ew_hmac_t *h = ew_hmac_new("key", 3, err, sizeof(err));
        size_t     i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        memset(a, 'X', sizeof(a));
        CU_ASSERT_EQUAL(ew_hmac_hex(h, NULL, 0, a), 0);
        CU_ASSERT_EQUAL(ew_hmac_hex(h, "", 0, b), 0);
        CU_ASSERT_STRING_EQUAL(a, b);
        CU_ASSERT_EQUAL(strlen(a), EW_HMAC_HEX_SIZE - 1);
        for (i = 0; i < EW_HMAC_HEX_SIZE - 1; i++)
                CU_ASSERT((a[i] >= '0' && a[i] <= '9') ||
                          (a[i] >= 'a' && a[i] <= 'f'));
        ew_hmac_destroy(h);
}

/* A NULL key with a length is refused with a message; a NULL key of
 * length 0 is the empty key. Destroying NULL is harmless. */
static void test_errors(void)
{
        char       err[256] = "";
        char       a[EW_HMAC_HEX_SIZE], b[EW_HMAC_HEX_SIZE];
        ew_hmac_t *h = ew_hmac_new(NULL, 5, err, sizeof(err));

        CU_ASSERT_PTR_NULL(h);
        CU_ASSERT(err[0] != '\0');
        h = ew_hmac_new(NULL, 0, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        CU_ASSERT_EQUAL(ew_hmac_hex(h, "m", 1, a), 0);
        CU_ASSERT_EQUAL(oneshot_hex("", 0, "m", 1, b), 0);
        CU_ASSERT_STRING_EQUAL(a, b);
        ew_hmac_destroy(h);
        ew_hmac_destroy(NULL);
}

/* One hasher used for many values gives, each time, what a fresh hasher
 * gives, whatever came before (short, block-sized, long, empty values in
 * a random order). */
static void test_reuse(void)
{
        static const unsigned char key[] = "reused-key";
        unsigned char              data[MAX_BYTES];
        char       err[256] = "", out[EW_HMAC_HEX_SIZE], ref[EW_HMAC_HEX_SIZE];
        ew_hmac_t *h    = ew_hmac_new(key, sizeof(key) - 1, err, sizeof(err));
        uint64_t   seed = 0x243f6a8885a308d3ULL;
        int        failures = 0, i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        for (i = 0; i < 300; i++) {
                size_t len = (size_t)(next_rand(&seed) % 200);
                if (i % 7 == 0)
                        len = 0;
                fill_rand(&seed, data, len);
                if (ew_hmac_hex(h, data, len, out) != 0 ||
                    fresh_hex(key, sizeof(key) - 1, data, len, ref) != 0 ||
                    strcmp(out, ref) != 0) {
                        fprintf(stderr, "  reuse %d (len %zu): %s vs %s\n", i,
                                len, out, ref);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
        ew_hmac_destroy(h);
}

/* Two hashers under different keys, used in turn, keep their own keys. */
static void test_interleaved(void)
{
        char       err[256] = "";
        char       a[EW_HMAC_HEX_SIZE], b[EW_HMAC_HEX_SIZE];
        char       ra[EW_HMAC_HEX_SIZE], rb[EW_HMAC_HEX_SIZE];
        ew_hmac_t *ha       = ew_hmac_new("key-a", 5, err, sizeof(err));
        ew_hmac_t *hb       = ew_hmac_new("key-b", 5, err, sizeof(err));
        int        failures = 0, i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(ha);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hb);
        for (i = 0; i < 20; i++) {
                char v[32];
                int  n = snprintf(v, sizeof(v), "consumer-%04d", i);
                if (ew_hmac_hex(ha, v, (size_t)n, a) != 0 ||
                    ew_hmac_hex(hb, v, (size_t)n, b) != 0 ||
                    oneshot_hex("key-a", 5, v, (size_t)n, ra) != 0 ||
                    oneshot_hex("key-b", 5, v, (size_t)n, rb) != 0 ||
                    strcmp(a, ra) != 0 || strcmp(b, rb) != 0 ||
                    strcmp(a, b) == 0)
                        failures++;
        }
        CU_ASSERT_EQUAL(failures, 0);
        ew_hmac_destroy(ha);
        ew_hmac_destroy(hb);
}

/* Key and message lengths around the block (64) and the one-block
 * message limit (55, 56), against OpenSSL's one-shot HMAC(). */
static void test_boundaries(void)
{
        static const size_t key_lens[] = {0, 1, 32, 63, 64, 65, 128, 300};
        static const size_t msg_lens[] = {0,  1,   55,  56,  63,  64,
                                          65, 119, 120, 128, 1000};
        unsigned char       key[MAX_BYTES], data[MAX_BYTES];
        uint64_t            seed     = 0x13198a2e03707344ULL;
        int                 failures = 0;
        size_t              k, m;

        fill_rand(&seed, key, sizeof(key));
        fill_rand(&seed, data, sizeof(data));
        for (k = 0; k < EW_ARRAY_SIZE(key_lens); k++) {
                char       err[256] = "";
                ew_hmac_t *h = ew_hmac_new(key, key_lens[k], err, sizeof(err));
                if (!h) {
                        failures++;
                        continue;
                }
                for (m = 0; m < EW_ARRAY_SIZE(msg_lens); m++) {
                        char out[EW_HMAC_HEX_SIZE], ref[EW_HMAC_HEX_SIZE];
                        if (ew_hmac_hex(h, data, msg_lens[m], out) != 0 ||
                            oneshot_hex(key, key_lens[k], data, msg_lens[m],
                                        ref) != 0 ||
                            strcmp(out, ref) != 0) {
                                fprintf(stderr, "  key %zu msg %zu differ\n",
                                        key_lens[k], msg_lens[m]);
                                failures++;
                        }
                }
                ew_hmac_destroy(h);
        }
        CU_ASSERT_EQUAL(failures, 0);
}

/* Random keys (0 to 200 bytes, any byte) and messages (0 to 300 bytes)
 * agree with OpenSSL's one-shot HMAC(). */
static void test_random_vs_oneshot(void)
{
        unsigned char key[MAX_BYTES], data[MAX_BYTES];
        uint64_t      seed     = 0xa4093822299f31d0ULL;
        int           failures = 0, i;

        for (i = 0; i < 400; i++) {
                size_t key_len = (size_t)(next_rand(&seed) % 201);
                size_t len     = (size_t)(next_rand(&seed) % 301);
                char   out[EW_HMAC_HEX_SIZE], ref[EW_HMAC_HEX_SIZE];

                fill_rand(&seed, key, key_len);
                fill_rand(&seed, data, len);
                if (fresh_hex(key, key_len, data, len, out) != 0 ||
                    oneshot_hex(key, key_len, data, len, ref) != 0 ||
                    strcmp(out, ref) != 0) {
                        fprintf(stderr, "  random %d (key %zu, msg %zu)\n", i,
                                key_len, len);
                        failures++;
                }
        }
        CU_ASSERT_EQUAL(failures, 0);
}

static const ew_test_case_t cases[] = {
    {"rfc4231", test_rfc4231},
    {"edges", test_edges},
    {"output_shape", test_output_shape},
    {"errors", test_errors},
    {"reuse", test_reuse},
    {"interleaved", test_interleaved},
    {"boundaries", test_boundaries},
    {"random_vs_oneshot", test_random_vs_oneshot},
    {NULL, NULL},
};

static const ew_test_suite_t suites[] = {{"hmac", cases}, {NULL, NULL}};

int main(int argc, char **argv)
{
        return ew_test_main(argc, argv, suites);
}
