/*
 * ml_link.c - the rules that make a link valid, and building its Location.
 */
#include <string.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "ml_link.h"

static const char slug_alphabet[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static int slug_char(unsigned char c)
{
    return apr_isalnum(c) || c == '-' || c == '_';
}

int ml_slug_valid(const char *slug, apr_size_t len)
{
    apr_size_t i;

    if (slug == NULL || len == 0 || len > ML_SLUG_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        /* apr_isalnum follows the C locale, so no byte >= 0x80 passes. */
        if (!slug_char((unsigned char)slug[i])) {
            return 0;
        }
    }
    return 1;
}

const char *ml_slug_new_problem(const char *slug)
{
    if (slug == NULL || !ml_slug_valid(slug, strlen(slug))) {
        return "the slug must be 1 to 64 letters, digits, '-' or '_'";
    }
    if (slug[0] == '-') {
        return "a new slug must not start with '-' (the minilink command "
               "would read it as an option)";
    }
    return NULL;
}

int ml_status_valid(int status)
{
    return status == 301 || status == 302 || status == 303
        || status == 307 || status == 308;
}

int ml_header_safe(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/*
 * What a URL may not hold raw, byte by byte: BYTE_UNSAFE for a space, a
 * control character or a non-ASCII byte; BYTE_REFUSED for the characters
 * RFC 3986 never allows raw that browsers still "fix up" in surprising
 * ways (refusing them keeps the Location we send unambiguous).  A table,
 * because every byte of every row Apache loads goes through it: one load
 * and one test a byte instead of six comparisons.
 */
enum { BYTE_OK, BYTE_UNSAFE, BYTE_REFUSED };
static const unsigned char url_byte[256] = {
    [0x00 ... 0x20] = BYTE_UNSAFE, [0x7f ... 0xff] = BYTE_UNSAFE,
    ['"'] = BYTE_REFUSED, ['<'] = BYTE_REFUSED, ['>'] = BYTE_REFUSED,
    ['\\'] = BYTE_REFUSED,
};

/* Where the pieces of an absolute http(s) URL's authority are. */
typedef struct {
    const char *host;            /* an [IPv6] literal keeps its brackets */
    apr_size_t host_len;
    const char *port;            /* NULL when there is none */
    apr_size_t port_len;
} url_authority;

static const char *port_problem(const char *port, apr_size_t len)
{
    long value = 0;
    apr_size_t i;

    if (len == 0 || len > 5) {
        return "the URL's port is not a number from 1 to 65535";
    }
    for (i = 0; i < len; i++) {
        if (!apr_isdigit(port[i])) {
            return "the URL's port is not a number from 1 to 65535";
        }
        value = value * 10 + (port[i] - '0');
    }
    return value < 1 || value > 65535
           ? "the URL's port is not a number from 1 to 65535" : NULL;
}

/*
 * Finds and checks the authority of url[0..len), which must be printable
 * ASCII.  Returns a problem, or NULL with *authority filled in.
 */
static const char *parse_url(const char *url, apr_size_t len,
                             url_authority *authority)
{
    const char *at, *end = url + len;
    const char *close;

    if (len > 7 && strncasecmp(url, "http://", 7) == 0) {
        at = url + 7;
    }
    else if (len > 8 && strncasecmp(url, "https://", 8) == 0) {
        at = url + 8;
    }
    else {
        return "the URL must start with http:// or https://";
    }
    authority->host = at;
    while (at < end && *at != '/' && *at != '?' && *at != '#') {
        at++;
    }
    end = at;
    if (memchr(authority->host, '@', (apr_size_t)(end - authority->host))) {
        return "the URL must not contain user:password@ before the host "
               "(a common phishing disguise)";
    }
    authority->port = NULL;
    if (authority->host < end && *authority->host == '[') {
        close = memchr(authority->host, ']', (apr_size_t)(end - authority->host));
        if (close == NULL) {
            return "the URL's [IPv6] host has no closing ']'";
        }
        if (close + 1 < end && close[1] != ':') {
            return "the URL's host is followed by something other than :port";
        }
        at = close + 1;
    }
    else {
        at = memchr(authority->host, ':', (apr_size_t)(end - authority->host));
        if (at == NULL) {
            at = end;
        }
    }
    authority->host_len = (apr_size_t)(at - authority->host);
    if (at < end) {
        authority->port = at + 1;
        authority->port_len = (apr_size_t)(end - at - 1);
    }
    if (authority->host_len == 0
        || (*authority->host == '[' && authority->host_len <= 2)) {
        return "the URL has no host";
    }
    return authority->port
           ? port_problem(authority->port, authority->port_len) : NULL;
}

const char *ml_url_problem(const char *url, apr_size_t len)
{
    url_authority authority;
    apr_size_t i;

    if (url == NULL || len == 0) {
        return "the URL is empty";
    }
    if (len > ML_URL_MAX) {
        return "the URL is longer than 4096 bytes";
    }
    for (i = 0; i < len && url_byte[(unsigned char)url[i]] == BYTE_OK; i++) {
    }
    if (i < len) {
        return url_byte[(unsigned char)url[i]] == BYTE_UNSAFE
               ? "the URL contains a space, a control character or a "
                 "non-ASCII byte (percent-encode it)"
               : "the URL contains one of \" < > \\ (percent-encode it)";
    }
    return parse_url(url, len, &authority);
}

const char *ml_url_host(apr_pool_t *pool, const char *url)
{
    url_authority authority;
    char *host;
    apr_size_t i;

    if (ml_url_problem(url, strlen(url)) != NULL) {
        return NULL;
    }
    parse_url(url, strlen(url), &authority);
    host = apr_pstrmemdup(pool, authority.host, authority.host_len);
    for (i = 0; host[i]; i++) {
        host[i] = (char)apr_tolower(host[i]);
    }
    /* "example.com." names the same host as "example.com". */
    if (i > 1 && host[i - 1] == '.') {
        host[i - 1] = '\0';
    }
    return host;
}

const char *ml_link_problem(const ml_link *link)
{
    const char *problem;

    if (link->slug == NULL || !ml_slug_valid(link->slug, strlen(link->slug))) {
        return "the slug must be 1 to 64 letters, digits, '-' or '_'";
    }
    if (link->url == NULL) {
        return "the URL is empty";
    }
    problem = ml_url_problem(link->url, strlen(link->url));
    if (problem) {
        return problem;
    }
    if (link->status != 0 && !ml_status_valid(link->status)) {
        return "the status must be 301, 302, 303, 307 or 308";
    }
    if (link->expires_at < 0) {
        return "the expiry time must be a Unix time, or 0 for never";
    }
    if (link->disabled != 0 && link->disabled != 1) {
        return "the disabled flag must be 0 or 1";
    }
    return NULL;
}

char *ml_url_with_query(apr_pool_t *pool, const char *url, apr_size_t url_len,
                        const char *query)
{
    const char *fragment;
    apr_size_t base_len, query_len;
    const char *separator = "";
    char *result, *at;

    if (query == NULL || *query == '\0') {
        return apr_pstrmemdup(pool, url, url_len);
    }
    /* The query belongs before the fragment: "a?b#c" + "x" = "a?b&x#c". */
    fragment = memchr(url, '#', url_len);
    base_len = fragment ? (apr_size_t)(fragment - url) : url_len;
    if (memchr(url, '?', base_len) == NULL) {
        separator = "?";
    }
    else if (url[base_len - 1] != '?' && url[base_len - 1] != '&') {
        separator = "&";
    }
    query_len = strlen(query);
    at = result = apr_palloc(pool, url_len + 1 + query_len + 1);
    memcpy(at, url, base_len);
    at += base_len;
    if (*separator) {
        *at++ = *separator;
    }
    memcpy(at, query, query_len);
    at += query_len;
    memcpy(at, url + base_len, url_len - base_len);
    at += url_len - base_len;
    *at = '\0';
    return result;
}

apr_status_t ml_slug_random(char *out, apr_size_t len)
{
    /* 62 letters and digits; bytes >= 248 are redrawn so each is equally
     * likely (248 = 4 * 62). */
    unsigned char bytes[64];
    apr_size_t filled = 0;
    apr_status_t rv;

    while (filled < len) {
        apr_size_t i;
        rv = apr_generate_random_bytes(bytes, sizeof(bytes));
        if (rv != APR_SUCCESS) {
            return rv;
        }
        for (i = 0; i < sizeof(bytes) && filled < len; i++) {
            if (bytes[i] < 248) {
                out[filled++] = slug_alphabet[bytes[i] % 62];
            }
        }
    }
    out[len] = '\0';
    return APR_SUCCESS;
}
