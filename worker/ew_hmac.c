/*
 * ew_hmac - see ew_hmac.h.
 *
 * RFC 2104: HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)), where K0
 * is the key zero-padded to the block size (a longer key is hashed first).
 * K0 ^ ipad and K0 ^ opad are exactly one block each, so the digest states
 * after absorbing them depend on the key alone: they are computed once
 * here (inner, outer) and copied into a work context for every value.
 * A value of up to 55 bytes then costs two compressions and two state
 * copies, against the algorithm fetch, context set-up and four
 * compressions of a one-shot HMAC() call.
 *
 * The digest is fetched once (EVP_MD_fetch) so no per-call lookup in the
 * provider store happens either.
 */
#include "ew_hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "ew_util.h"

#define BLOCK_SIZE 64  /* SHA-256 block, bytes */
#define DIGEST_SIZE 32 /* SHA-256 output, bytes */
#define IPAD 0x36
#define OPAD 0x5c

struct ew_hmac {
        EVP_MD     *md;    /* SHA-256, fetched once */
        EVP_MD_CTX *inner; /* state after (K0 ^ ipad) */
        EVP_MD_CTX *outer; /* state after (K0 ^ opad) */
        EVP_MD_CTX *work;  /* a copy of inner or outer per value */
};

/* Starts ctx with md and absorbs the block k0 ^ pad. Returns 1 or 0. */
static int absorb_pad(EVP_MD_CTX *ctx, const EVP_MD *md,
                      const unsigned char *k0, unsigned char pad)
{
        unsigned char block[BLOCK_SIZE];
        size_t        i;
        int           ok;

        for (i = 0; i < BLOCK_SIZE; i++)
                block[i] = (unsigned char)(k0[i] ^ pad);
        ok = EVP_DigestInit_ex2(ctx, md, NULL) &&
             EVP_DigestUpdate(ctx, block, sizeof(block));
        OPENSSL_cleanse(block, sizeof(block));
        return ok;
}

ew_hmac_t *ew_hmac_new(const void *key, size_t key_len, char *errstr,
                       size_t errstr_size)
{
        ew_hmac_t    *h = calloc(1, sizeof(*h));
        unsigned char k0[BLOCK_SIZE];
        unsigned int  k0_len = 0;

        memset(k0, 0, sizeof(k0));
        if (!h) {
                ew_snprintf(errstr, errstr_size,
                            "out of memory creating the HMAC hasher");
                return NULL;
        }
        if (!key && key_len) {
                ew_snprintf(errstr, errstr_size, "HMAC key: NULL key");
                goto error;
        }
        h->md    = EVP_MD_fetch(NULL, "SHA256", NULL);
        h->inner = EVP_MD_CTX_new();
        h->outer = EVP_MD_CTX_new();
        h->work  = EVP_MD_CTX_new();
        if (!h->md || !h->inner || !h->outer || !h->work) {
                ew_snprintf(errstr, errstr_size,
                            "HMAC: OpenSSL could not provide SHA-256");
                goto error;
        }
        if (key_len > BLOCK_SIZE) {
                /* K0 = H(K), zero-padded. */
                if (!EVP_Digest(key, key_len, k0, &k0_len, h->md, NULL) ||
                    k0_len != DIGEST_SIZE) {
                        ew_snprintf(errstr, errstr_size,
                                    "HMAC: could not hash the key");
                        goto error;
                }
        } else if (key_len) {
                memcpy(k0, key, key_len);
        }
        if (!absorb_pad(h->inner, h->md, k0, IPAD) ||
            !absorb_pad(h->outer, h->md, k0, OPAD)) {
                ew_snprintf(errstr, errstr_size,
                            "HMAC: could not prepare the key");
                goto error;
        }
        OPENSSL_cleanse(k0, sizeof(k0));
        return h;

error:
        OPENSSL_cleanse(k0, sizeof(k0));
        ew_hmac_destroy(h);
        return NULL;
}

int ew_hmac_hex(ew_hmac_t *h, const void *data, size_t len,
                char out[EW_HMAC_HEX_SIZE])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char     ihash[DIGEST_SIZE], mac[DIGEST_SIZE];
        unsigned int      n = 0;
        size_t            i;

        out[0] = '\0';
        if (!EVP_MD_CTX_copy_ex(h->work, h->inner) ||
            !EVP_DigestUpdate(h->work, data, len) ||
            !EVP_DigestFinal_ex(h->work, ihash, &n) || n != DIGEST_SIZE)
                return -1;
        if (!EVP_MD_CTX_copy_ex(h->work, h->outer) ||
            !EVP_DigestUpdate(h->work, ihash, sizeof(ihash)) ||
            !EVP_DigestFinal_ex(h->work, mac, &n) || n != DIGEST_SIZE)
                return -1;
        for (i = 0; i < DIGEST_SIZE; i++) {
                out[2 * i]     = hex[mac[i] >> 4];
                out[2 * i + 1] = hex[mac[i] & 0xf];
        }
        out[2 * DIGEST_SIZE] = '\0';
        return 0;
}

void ew_hmac_destroy(ew_hmac_t *h)
{
        if (!h)
                return;
        /* EVP_MD_CTX_free cleanses the digest state it frees. */
        EVP_MD_CTX_free(h->work);
        EVP_MD_CTX_free(h->outer);
        EVP_MD_CTX_free(h->inner);
        EVP_MD_free(h->md);
        free(h);
}
