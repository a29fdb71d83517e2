/*
 * ml_siphash.h - SipHash-1-3, a keyed hash for the slug table.
 *
 * Slugs are chosen by users, so an unkeyed hash would let anyone craft slugs
 * that all land in one probe chain.  With a random key per segment they
 * cannot.  1 compression round and 3 finalization rounds: the variant that
 * Rust's HashMap and Python use for hash tables (speed over MAC strength).
 */
#ifndef ML_SIPHASH_H
#define ML_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define ML_SIPHASH_KEY_BYTES 16

/* SipHash-c-d: c compression rounds per block, d finalization rounds.
 * The cache uses 1-3; tests check 2-4 against the paper's test vector. */
uint64_t ml_siphash(const unsigned char key[ML_SIPHASH_KEY_BYTES],
                    const void *data, size_t len,
                    int compression_rounds, int finalization_rounds);

uint64_t ml_siphash13(const unsigned char key[ML_SIPHASH_KEY_BYTES],
                      const void *data, size_t len);

#endif /* ML_SIPHASH_H */
