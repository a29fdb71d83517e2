/*
 * ml_host.c - a URL's host as a browser sees it (WHATWG URL, "host
 * parsing"), so that host rules compare what a browser would reach.
 *
 * The steps, as the standard orders them for http and https:
 *   1. "[...]" is an IPv6 address: inet_pton() reads it, inet_ntop()
 *      writes the canonical form; an IPv4-mapped one is its IPv4 address.
 *   2. Otherwise the text is percent-decoded (apr_unescape_url), and must
 *      then be ASCII (IDNA is not done here: see ml_host.h) without a
 *      forbidden domain code point; it is lower-cased.
 *   3. A name whose last label is a number is an IPv4 address in one of
 *      its numeric forms, or no host at all.
 *   4. Otherwise it is a name; one trailing dot is dropped, as DNS does.
 */
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <apr_escape.h>
#include <apr_fnmatch.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "ml_host.h"

/* A number larger than any IPv4 part can be; parsing saturates here. */
#define TOO_BIG APR_UINT64_C(0x100000000)

/* The WHATWG "forbidden domain code points" that are ASCII: C0 controls,
 * space, DEL and # % / : < > ? @ [ \ ] ^ |.  A browser refuses such a
 * host, so nothing would be reached through it. */
static int forbidden_in_domain(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || strchr("#%/:<>?@[\\]^|", c) != NULL;
}

/*
 * WHATWG's "IPv4 number parser": "0x" or "0X" then hex, a leading "0" then
 * octal, else decimal; nothing after a prefix is 0.  Hand-written: the
 * library's inet_aton() reads the same three forms but not the same set
 * of inputs (it refuses a bare "0x" that browsers read as 0), and what a
 * browser reads is what matters here.  1 with *value (saturated at
 * TOO_BIG), or 0 if part is not such a number.
 */
static int ipv4_number(const char *part, apr_size_t len, apr_uint64_t *value)
{
    unsigned int radix = 10;
    apr_uint64_t number = 0;
    apr_size_t i;

    if (len == 0) {
        return 0;
    }
    if (len >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
        radix = 16;
        part += 2;
        len -= 2;
    }
    else if (len >= 2 && part[0] == '0') {
        radix = 8;
        part++;
        len--;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)part[i];
        unsigned int digit = apr_isdigit(c) ? (unsigned int)(c - '0')
                           : apr_isxdigit(c) ? (unsigned int)(apr_tolower(c) - 'a' + 10)
                           : 16;
        if (digit >= radix) {
            return 0;
        }
        number = number * radix + digit;
        if (number > TOO_BIG) {
            number = TOO_BIG;
        }
    }
    *value = number;
    return 1;
}

/* Splits name[0..len) on dots into at most `most` parts; returns how
 * many there are (more than `most` if more), the last empty one (a
 * trailing dot) not counted, as the standard drops it. */
static int split_labels(const char *name, apr_size_t len, const char **parts,
                        apr_size_t *lengths, int most)
{
    int count = 0;
    apr_size_t start = 0, i;

    for (i = 0; i <= len; i++) {
        if (i == len || name[i] == '.') {
            if (i == len && i == start && count > 0) {
                break;                       /* the trailing dot's label */
            }
            if (count < most) {
                parts[count] = name + start;
                lengths[count] = i - start;
            }
            count++;
            start = i + 1;
        }
    }
    return count;
}

/* WHATWG's "ends in a number": the last label (after a trailing dot) is
 * all digits, or parses as an IPv4 number ("0x1f"). */
static int ends_in_number(const char *name, apr_size_t len)
{
    const char *last = name;
    apr_size_t last_len, i;
    apr_uint64_t unused;

    if (len > 1 && name[len - 1] == '.') {
        len--;
    }
    for (i = len; i > 0 && name[i - 1] != '.'; i--) {
    }
    last = name + i;
    last_len = len - i;
    for (i = 0; i < last_len && apr_isdigit(last[i]); i++) {
    }
    return (last_len > 0 && i == last_len)
           || ipv4_number(last, last_len, &unused);
}

/* WHATWG's "IPv4 parser": 1 to 4 numbers, the last filling the bytes the
 * others leave ("10.1" is 10.0.0.1, "167772161" too).  1 on success. */
static int ipv4_parse(const char *name, apr_size_t len, unsigned char out[4])
{
    const char *parts[4];
    apr_size_t lengths[4];
    apr_uint64_t numbers[4], address;
    int count = split_labels(name, len, parts, lengths, 4), i;

    if (count > 4) {
        return 0;
    }
    for (i = 0; i < count; i++) {
        if (!ipv4_number(parts[i], lengths[i], &numbers[i])
            || (i < count - 1 && numbers[i] > 255)) {
            return 0;
        }
    }
    if (numbers[count - 1] >= APR_UINT64_C(1) << (8 * (5 - count))) {
        return 0;
    }
    address = numbers[count - 1];
    for (i = 0; i < count - 1; i++) {
        address += numbers[i] << (8 * (3 - i));
    }
    for (i = 0; i < 4; i++) {
        out[i] = (unsigned char)(address >> (8 * (3 - i)));
    }
    return 1;
}

void ml_host_from_address(apr_pool_t *pool, int family, const void *address,
                          ml_host *host)
{
    static const unsigned char mapped[12] =
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN];

    memset(host->address, 0, sizeof(host->address));
    if (family == AF_INET6 && memcmp(address, mapped, sizeof(mapped)) != 0) {
        host->kind = ML_HOST_IPV6;
        memcpy(host->address, address, 16);
    }
    else {
        host->kind = ML_HOST_IPV4;
        memcpy(host->address, (const unsigned char *)address
                              + (family == AF_INET6 ? 12 : 0), 4);
    }
    inet_ntop(host->kind == ML_HOST_IPV6 ? AF_INET6 : AF_INET, host->address,
              text, sizeof(text));
    host->text = apr_pstrdup(pool, text);
}

static const char *parse_ipv6(apr_pool_t *pool, const char *raw,
                              apr_size_t len, ml_host *host)
{
    unsigned char address[16];
    char *inside;

    if (len < 3 || raw[len - 1] != ']') {
        return "the URL's [IPv6] host has no closing ']'";
    }
    inside = apr_pstrmemdup(pool, raw + 1, len - 2);
    if (inet_pton(AF_INET6, inside, address) != 1) {
        return "the URL's [IPv6] host is not an IPv6 address";
    }
    ml_host_from_address(pool, AF_INET6, address, host);
    return NULL;
}

const char *ml_host_parse(apr_pool_t *pool, const char *raw, apr_size_t len,
                          ml_host *host)
{
    char *name;
    apr_size_t name_len, i;
    apr_status_t rv;

    if (len > 0 && raw[0] == '[') {
        return parse_ipv6(pool, raw, len, host);
    }
    name = apr_palloc(pool, len + 1);
    rv = apr_unescape_url(name, apr_pstrmemdup(pool, raw, len),
                          APR_ESCAPE_STRING, NULL, NULL, 0, NULL);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return "the URL's host has a percent-escape that is malformed or "
               "stands for a NUL byte";
    }
    name_len = strlen(name);
    for (i = 0; i < name_len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x80) {
            return "the URL's host is not ASCII once percent-decoded: write "
                   "an international name in its xn-- form";
        }
        if (forbidden_in_domain(c)) {
            return "the URL's host holds a character browsers refuse in a host";
        }
        name[i] = (char)apr_tolower(c);
    }
    if (name_len > 0 && ends_in_number(name, name_len)) {
        unsigned char address[4];
        if (!ipv4_parse(name, name_len, address)) {
            return "the URL's host ends in a number but is not an IPv4 address";
        }
        ml_host_from_address(pool, AF_INET, address, host);
        return NULL;
    }
    if (name_len > 1 && name[name_len - 1] == '.') {
        name[--name_len] = '\0';
    }
    if (name_len == 0 || name[0] == '.' || strstr(name, "..") != NULL
        || name[name_len - 1] == '.') {
        return "the URL's host has an empty label";
    }
    host->kind = ML_HOST_NAME;
    host->text = name;
    memset(host->address, 0, sizeof(host->address));
    return NULL;
}

void ml_host_pattern(apr_pool_t *pool, const char *pattern, ml_host *host)
{
    char *text = apr_pstrdup(pool, pattern);
    apr_size_t i;

    for (i = 0; text[i]; i++) {
        text[i] = (char)apr_tolower((unsigned char)text[i]);
    }
    host->kind = ML_HOST_NAME;
    host->text = text;
    memset(host->address, 0, sizeof(host->address));
}

int ml_host_within(const ml_host *host, const ml_host *name)
{
    apr_size_t host_len, name_len;

    if (host->kind != name->kind) {
        return 0;
    }
    if (host->kind != ML_HOST_NAME) {
        return memcmp(host->address, name->address,
                      host->kind == ML_HOST_IPV4 ? 4 : 16) == 0;
    }
    if (strpbrk(name->text, "*?") != NULL) {
        return apr_fnmatch(name->text, host->text, APR_FNM_CASE_BLIND)
               == APR_SUCCESS;
    }
    host_len = strlen(host->text);
    name_len = strlen(name->text);
    return strcmp(host->text, name->text) == 0
           || (host_len > name_len && host->text[host_len - name_len - 1] == '.'
               && strcmp(host->text + host_len - name_len, name->text) == 0);
}

int ml_host_is_local(const ml_host *host)
{
    static const unsigned char loopback6[16] =
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char any6[16] = {0};
    apr_size_t len;

    switch (host->kind) {
    case ML_HOST_IPV4:
        return host->address[0] == 127 || host->address[0] == 0;
    case ML_HOST_IPV6:
        return memcmp(host->address, loopback6, 16) == 0
               || memcmp(host->address, any6, 16) == 0;
    default:
        len = strlen(host->text);
        return strcmp(host->text, "localhost") == 0
               || (len > 10 && strcmp(host->text + len - 10, ".localhost") == 0);
    }
}

const ml_host *ml_host_first_within(const ml_host *host,
                                    const apr_array_header_t *names)
{
    int i;

    for (i = 0; names && i < names->nelts; i++) {
        const ml_host *name = &APR_ARRAY_IDX(names, i, ml_host);
        if (ml_host_within(host, name)) {
            return name;
        }
    }
    return NULL;
}
