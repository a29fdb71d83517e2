/*
 * ml_siphash.c - SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF", 2012), written from the paper's description.
 */
#include <string.h>
#include "ml_siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)                                  \
    do {                                                          \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
    } while (0)

/* Little-endian load, whatever the host's byte order. */
static uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16
         | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40
         | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* The body of every variant: inlined into each with its round counts as
 * constants, so the loops unroll (the lookup path uses 1-3). */
static inline uint64_t siphash(const unsigned char key[ML_SIPHASH_KEY_BYTES],
                               const void *data, size_t len,
                               int compression_rounds, int finalization_rounds)
{
    const unsigned char *in = data;
    const unsigned char *end = in + (len & ~(size_t)7);
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    unsigned char tail[8] = {0};
    uint64_t m;
    int round;

    for (; in != end; in += 8) {
        m = load_le64(in);
        v3 ^= m;
        for (round = 0; round < compression_rounds; round++) {
            SIPROUND(v0, v1, v2, v3);
        }
        v0 ^= m;
    }
    /* The last block holds the leftover bytes and the length's low byte. */
    memcpy(tail, in, len & 7);
    m = load_le64(tail) | (uint64_t)len << 56;
    v3 ^= m;
    for (round = 0; round < compression_rounds; round++) {
        SIPROUND(v0, v1, v2, v3);
    }
    v0 ^= m;

    v2 ^= 0xff;
    for (round = 0; round < finalization_rounds; round++) {
        SIPROUND(v0, v1, v2, v3);
    }
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t ml_siphash(const unsigned char key[ML_SIPHASH_KEY_BYTES],
                    const void *data, size_t len,
                    int compression_rounds, int finalization_rounds)
{
    return siphash(key, data, len, compression_rounds, finalization_rounds);
}

uint64_t ml_siphash13(const unsigned char key[ML_SIPHASH_KEY_BYTES],
                      const void *data, size_t len)
{
    return siphash(key, data, len, 1, 3);
}
