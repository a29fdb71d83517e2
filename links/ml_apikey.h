/*
 * ml_apikey.h - API keys: made at random, kept only as a hash.
 *
 * A key is 32 random bytes written as 64 hex digits; the database keeps
 * its SHA-256 (ml_store_api_key_add), never the key, so a copy of the
 * database gives nobody a key.  Depends on APR and OpenSSL's libcrypto.
 */
#ifndef ML_APIKEY_H
#define ML_APIKEY_H

#include <apr_pools.h>

/* The length of a key and of its hash, as text. */
#define ML_API_KEY_CHARS 64
#define ML_API_KEY_HASH_CHARS 64

/* A new key, from pool; NULL if the system has no random bytes. */
const char *ml_api_key_new(apr_pool_t *pool);

/* The hash a key is stored and looked up by: its SHA-256, in lower-case
 * hex, from pool. */
const char *ml_api_key_hash(const char *key, apr_pool_t *pool);

#endif /* ML_APIKEY_H */
