/*
 * fuzz_ip.c - IP conditions (ml_rules.h's ml_ip_pattern_parse and
 * ml_ip_pattern_matches) and the client address they are matched against
 * (ml_ip_address_parse).
 *
 * Input: the condition's text, then 0xFF and the client address.
 *
 * Invariants: an accepted pattern is an IPv4 one (4-byte mask) or an IPv6
 * one (16), its mask is a run of ones then zeros (CIDR) or whole octets
 * (the '*' of an IPv4 pattern), and its bytes have no bit outside the
 * mask.  An address parses to 4 or 16 bytes that inet_ntop() writes back
 * and inet_pton() reads again the same, an IPv4-mapped IPv6 address to its
 * IPv4 one.  And the match is what a second reading written here says:
 * for "A/N" the first N bits of A and the address agree, for a pattern
 * with '*' each other octet is the address's, else the address is A.
 */
#include <arpa/inet.h>
#include <string.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include "../../links/ml_rules.h"
#include "fuzz_common.h"

#define SEPARATOR 0xFF

static apr_pool_t *root;

static int bit(const unsigned char *bytes, int n)
{
    return (bytes[n / 8] >> (7 - n % 8)) & 1;
}

/* The match by the pattern's text and the address's bytes. */
static int reference(const char *text, int family, const unsigned char *address)
{
    unsigned char base[16];
    const char *slash = strchr(text, '/');
    char copy[64];
    int bits, i, pattern_family;

    if (strchr(text, '*')) {
        unsigned int octet = 0, value = 0;
        const char *at = text;
        if (family != 4) {
            return 0;
        }
        for (; octet < 4; octet++, at++) {
            if (*at == '*') {
                at++;
            }
            else {
                for (value = 0; *at >= '0' && *at <= '9'; at++) {
                    value = value * 10 + (unsigned int)(*at - '0');
                }
                if (value != address[octet]) {
                    return 0;
                }
            }
        }
        return 1;
    }
    snprintf(copy, sizeof(copy), "%.*s", slash ? (int)(slash - text) : 63, text);
    pattern_family = inet_pton(AF_INET, copy, base) == 1 ? 4
                     : inet_pton(AF_INET6, copy, base) == 1 ? 6 : 0;
    if (pattern_family != family) {
        return 0;
    }
    bits = slash ? atoi(slash + 1) : family == 4 ? 32 : 128;
    for (i = 0; i < bits; i++) {
        if (bit(base, i) != bit(address, i)) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const unsigned char *separator = memchr(data, SEPARATOR, size);
    const char *pattern_text, *address_text;
    unsigned char address[16], again[16];
    char written[64];
    ml_ip_pattern pattern;
    apr_pool_t *pool;
    int family, i, width, ones = 1;

    if (root == NULL) {
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&pool, root);
    pattern_text = apr_pstrmemdup(pool, (const char *)data,
                                  separator ? (size_t)(separator - data) : size);
    address_text = separator ? apr_pstrmemdup(pool, (const char *)separator + 1,
                                              size - (size_t)(separator + 1 - data))
                             : "10.0.0.1";
    family = ml_ip_address_parse(address_text, address);
    if (family) {
        CHECK(family == 4 || family == 6);
        CHECK(inet_ntop(family == 4 ? AF_INET : AF_INET6, address, written,
                        sizeof(written)) != NULL);
        CHECK(ml_ip_address_parse(written, again) == family);
        CHECK(memcmp(again, address, family == 4 ? 4 : 16) == 0);
    }
    if (ml_ip_pattern_parse(pattern_text, &pattern) == NULL) {
        width = pattern.family == 4 ? 4 : 16;
        CHECK(pattern.family == 4 || pattern.family == 6);
        for (i = 0; i < width; i++) {
            CHECK((pattern.bytes[i] & ~pattern.mask[i]) == 0);
            if (strchr(pattern_text, '*')) {
                CHECK(pattern.mask[i] == 0 || pattern.mask[i] == 0xff);
            }
            else {
                /* Ones, then zeros. */
                CHECK(ones || pattern.mask[i] == 0);
                CHECK(pattern.mask[i] == 0 || pattern.mask[i] == 0xff
                      || ((unsigned char)~pattern.mask[i]
                          & (unsigned char)(~pattern.mask[i] + 1)) == 0);
                ones = pattern.mask[i] == 0xff;
            }
        }
        if (family) {
            CHECK(ml_ip_pattern_matches(&pattern, family, address)
                  == reference(pattern_text, family, address));
        }
    }
    apr_pool_destroy(pool);
    return 0;
}
