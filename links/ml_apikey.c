/*
 * ml_apikey.c - API keys: made at random, kept only as a hash.
 *
 * Why a plain SHA-256 and not bcrypt, as links' passwords get: a key is
 * 256 random bits, not something a person chose, so there is no
 * dictionary to try and no way to try 2^256 guesses; a slow hash only
 * slows down guesses at weak secrets.  And a hash without a salt is the
 * same for the same key, so a request's key is found by its hash through
 * the table's UNIQUE index in one lookup, where a salted hash would have
 * to be checked against every key.
 */
#include <string.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "ml_apikey.h"

static void to_hex(const unsigned char *bytes, apr_size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    apr_size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

const char *ml_api_key_new(apr_pool_t *pool)
{
    unsigned char bytes[ML_API_KEY_CHARS / 2];
    char *key = apr_palloc(pool, ML_API_KEY_CHARS + 1);

    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return NULL;
    }
    to_hex(bytes, sizeof(bytes), key);
    return key;
}

const char *ml_api_key_hash(const char *key, apr_pool_t *pool)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char *hash = apr_palloc(pool, ML_API_KEY_HASH_CHARS + 1);

    SHA256((const unsigned char *)key, strlen(key), digest);
    to_hex(digest, sizeof(digest), hash);
    return hash;
}
