/*
 * ml_form_token.h - CSRF tokens for the creation form that the server can
 * verify, and that expire.
 *
 * A token is the time it was made, a random nonce and an HMAC-SHA256 of
 * both under a key only the server knows (ML_FORM_KEY_BYTES random bytes
 * the module keeps across graceful restarts), in hex.  A value that a
 * site planted as a cookie is not one of these unless the server made
 * it.  HMAC and SHA-256 are OpenSSL's libcrypto (Debian's libssl3, which
 * Apache's own mod_ssl uses), not code of ours.  Depends on APR and
 * libcrypto only.
 */
#ifndef ML_FORM_TOKEN_H
#define ML_FORM_TOKEN_H

#include <apr_pools.h>

#define ML_FORM_KEY_BYTES 32
/* Hex characters in a token (4 bytes of time, 4 of nonce, 16 of HMAC). */
#define ML_FORM_TOKEN_CHARS 48
/* How long a form can be posted after it was loaded, in seconds. */
#define ML_FORM_LIFETIME 7200

typedef enum {
    ML_FORM_TOKEN_VALID,
    ML_FORM_TOKEN_EXPIRED,       /* ours, but older than ML_FORM_LIFETIME
                                  * (or made "later" than now) */
    ML_FORM_TOKEN_FORGED         /* not made with this key, or not a token */
} ml_form_token_state;

/* Writes a token made at `now` (Unix seconds) into out, NUL-terminated
 * (ML_FORM_TOKEN_CHARS + 1 bytes).  Fails only without random bytes. */
apr_status_t ml_form_token_make(const unsigned char *key, apr_int64_t now,
                                char *out);

/* What token is at `now`; *made_at gets the time it says it was made
 * (when it is not forged). */
ml_form_token_state ml_form_token_check(const unsigned char *key,
                                        const char *token, apr_int64_t now,
                                        apr_int64_t *made_at);

#endif /* ML_FORM_TOKEN_H */
