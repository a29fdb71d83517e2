/*
 * ml_form_token.c - verifiable, expiring CSRF tokens (ml_form_token.h).
 *
 *   token = hex( made_at (4 bytes, big-endian) | nonce (4 bytes) |
 *                HMAC-SHA256(key, "minilink form" | made_at | nonce)[0..16) )
 *
 * 16 bytes of the HMAC (RFC 2104 allows truncating to half the hash): a
 * forger must guess 128 bits, one request a guess.  The nonce only makes
 * two tokens of the same second differ.
 */
#include <string.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ml_form_token.h"

#define SIGNED_BYTES 8               /* made_at and nonce */
#define MAC_BYTES 16
#define TOKEN_BYTES (SIGNED_BYTES + MAC_BYTES)
/* A token made later than now by more than this went with a clock that
 * was set back since: like an old one, it is reloaded. */
#define CLOCK_SLACK 60

typedef char token_size_agrees[TOKEN_BYTES * 2 == ML_FORM_TOKEN_CHARS ? 1 : -1];

/* The label keeps these MACs apart from any other use of a key. */
static const char label[] = "minilink form";

static int mac_of(const unsigned char *key, const unsigned char *signed_part,
                  unsigned char mac[MAC_BYTES])
{
    unsigned char message[sizeof(label) + SIGNED_BYTES];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    memcpy(message, label, sizeof(label));
    memcpy(message + sizeof(label), signed_part, SIGNED_BYTES);
    if (HMAC(EVP_sha256(), key, ML_FORM_KEY_BYTES, message, sizeof(message),
             digest, &digest_len) == NULL || digest_len < MAC_BYTES) {
        return 0;
    }
    memcpy(mac, digest, MAC_BYTES);
    return 1;
}

apr_status_t ml_form_token_make(const unsigned char *key, apr_int64_t now,
                                char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char token[TOKEN_BYTES];
    apr_uint32_t made_at = (apr_uint32_t)now;
    apr_status_t rv;
    int i;

    for (i = 0; i < 4; i++) {
        token[i] = (unsigned char)(made_at >> (24 - 8 * i));
    }
    if ((rv = apr_generate_random_bytes(token + 4, 4)) != APR_SUCCESS) {
        return rv;
    }
    if (!mac_of(key, token, token + SIGNED_BYTES)) {
        return APR_EGENERAL;
    }
    for (i = 0; i < TOKEN_BYTES; i++) {
        out[2 * i] = hex[token[i] >> 4];
        out[2 * i + 1] = hex[token[i] & 15];
    }
    out[ML_FORM_TOKEN_CHARS] = '\0';
    return APR_SUCCESS;
}

/* Reads ML_FORM_TOKEN_CHARS lower-case hex digits, and nothing more. */
static int from_hex(const char *text, unsigned char token[TOKEN_BYTES])
{
    int i;

    for (i = 0; i < ML_FORM_TOKEN_CHARS; i++) {
        unsigned char c = (unsigned char)text[i];
        int digit = c >= '0' && c <= '9' ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0) {
            return 0;
        }
        token[i / 2] = (unsigned char)(i % 2 ? token[i / 2] | digit
                                             : digit << 4);
    }
    return text[ML_FORM_TOKEN_CHARS] == '\0';
}

ml_form_token_state ml_form_token_check(const unsigned char *key,
                                        const char *token, apr_int64_t now,
                                        apr_int64_t *made_at)
{
    unsigned char bytes[TOKEN_BYTES], mac[MAC_BYTES];
    apr_uint32_t made = 0;
    int i;

    if (token == NULL || strlen(token) != ML_FORM_TOKEN_CHARS
        || !from_hex(token, bytes) || !mac_of(key, bytes, mac)
        || CRYPTO_memcmp(mac, bytes + SIGNED_BYTES, MAC_BYTES) != 0) {
        return ML_FORM_TOKEN_FORGED;
    }
    for (i = 0; i < 4; i++) {
        made = made << 8 | bytes[i];
    }
    *made_at = made;
    return *made_at > now + CLOCK_SLACK || now - *made_at > ML_FORM_LIFETIME
           ? ML_FORM_TOKEN_EXPIRED : ML_FORM_TOKEN_VALID;
}
