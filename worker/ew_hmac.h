/*
 * ew_hmac - HMAC-SHA256 (RFC 2104) under one key, prepared once and used
 * for many values (identity.hash_key: each sub and consumerId).
 *
 * OpenSSL's one-shot HMAC() fetches the digest, builds a context and
 * absorbs the key into both pads on every call, which costs several times
 * the two compressions a short value needs. Here the key is absorbed once:
 * the hasher keeps the SHA-256 states after the inner (key ^ ipad) and
 * outer (key ^ opad) blocks, and each value starts from copies of them.
 *
 * Pure (no I/O), not thread-safe.
 * @locality an ew_hmac_t is used by one thread at a time; separate hashers
 * may be used by separate threads.
 */
#ifndef EW_HMAC_H
#define EW_HMAC_H

#include <stddef.h>

typedef struct ew_hmac ew_hmac_t;

/* A SHA-256 MAC as lowercase hex (64 characters) plus the NUL. */
#define EW_HMAC_HEX_SIZE (2 * 32 + 1)

/* Prepares a hasher for key[0..key_len) (any bytes; a key longer than the
 * 64-byte block is hashed first, as RFC 2104 says). key may be NULL when
 * key_len is 0. The key is not kept. Returns the hasher (destroy with
 * ew_hmac_destroy()), or NULL with errstr set if OpenSSL could not
 * provide SHA-256 or memory ran out. */
ew_hmac_t *ew_hmac_new(const void *key, size_t key_len, char *errstr,
                       size_t errstr_size);

/* Writes hex(HMAC-SHA256(key, data[0..len))) and a NUL into out. data may
 * be NULL when len is 0. Returns 0, or -1 (out then holds "") if OpenSSL
 * failed (out of memory). The hasher is left ready for the next value
 * either way. */
int ew_hmac_hex(ew_hmac_t *h, const void *data, size_t len,
                char out[EW_HMAC_HEX_SIZE]);

/* Frees the hasher and wipes its key-derived state. NULL-safe. */
void ew_hmac_destroy(ew_hmac_t *h);

#endif /* EW_HMAC_H */
