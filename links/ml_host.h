/*
 * ml_host.h - a URL's host as a browser sees it, for comparing hosts.
 *
 * Browsers parse hosts by the WHATWG URL standard: "%65vil.example",
 * "EVIL.example." and "evil%2eexample" all reach evil.example, and
 * "167772161", "0xa000001", "10.1" and "[::ffff:10.0.0.1]" all reach
 * 10.0.0.1.  Host rules (blocked hosts, "no link to this server") compare
 * the canonical form made here, never the text as typed.
 *
 * The choice: a host is canonicalised, not refused, when a browser would
 * canonicalise it (percent-escapes, case, a trailing dot, IPv4 in any of
 * its numeric forms, IPv4-mapped IPv6, IPv6 spellings); it is refused when
 * a browser would refuse it (a forbidden character, a number that is not
 * an IPv4 address) or when canonicalising it would need IDNA (a byte
 * outside ASCII after percent-decoding: write the name in its xn-- form).
 * Depends on APR only.
 */
#ifndef ML_HOST_H
#define ML_HOST_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef enum { ML_HOST_NAME, ML_HOST_IPV4, ML_HOST_IPV6 } ml_host_kind;

typedef struct {
    ml_host_kind kind;
    /* Canonical text: a lower-case name without a trailing dot, a dotted
     * quad, or an IPv6 address in RFC 5952 form without brackets. */
    const char *text;
    unsigned char address[16];   /* IPv4: the first 4 bytes; IPv6: all 16 */
} ml_host;

/*
 * Parses the host of a URL (an IPv6 literal with its brackets) into
 * *host.  NULL on success, otherwise a sentence saying why a browser
 * would not reach it, or why it cannot be compared.
 */
const char *ml_host_parse(apr_pool_t *pool, const char *raw, apr_size_t len,
                          ml_host *host);

/* The host of an address: family AF_INET (4 bytes) or AF_INET6 (16 bytes;
 * an IPv4-mapped one becomes IPv4). */
void ml_host_from_address(apr_pool_t *pool, int family, const void *address,
                          ml_host *host);

/* A ServerAlias-style pattern ("*.example.com"), lower-cased, as a name
 * for ml_host_within(). */
void ml_host_pattern(apr_pool_t *pool, const char *pattern, ml_host *host);

/* True if host is name, or (both names) a subdomain of name.  A name
 * holding '*' or '?' is a pattern (ServerAlias *.example.com): matched
 * whole, case-blind, with apr_fnmatch. */
int ml_host_within(const ml_host *host, const ml_host *name);

/* True if a browser on this machine reaching host reaches this machine
 * whatever its configuration: 127.0.0.0/8, 0.0.0.0/8 (Linux connects
 * 0.0.0.0 to itself), ::1, ::, localhost and *.localhost (RFC 6761). */
int ml_host_is_local(const ml_host *host);

/* The first of names (ml_host elements) that host is within, or NULL. */
const ml_host *ml_host_first_within(const ml_host *host,
                                    const apr_array_header_t *names);

#endif /* ML_HOST_H */
