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

/* Characters RFC 3986 never allows raw that browsers still "fix up" in
 * surprising ways: refusing them keeps the Location we send unambiguous. */
static int url_char_refused(unsigned char c)
{
    return c == '"' || c == '<' || c == '>' || c == '\\';
}

/* Checks "host[:port]" (host may be an [IPv6] literal). */
static const char *authority_problem(const char *authority, apr_size_t len)
{
    const char *port = NULL;
    apr_size_t host_len = len, i;

    if (memchr(authority, '@', len)) {
        return "the URL must not contain user:password@ before the host "
               "(a common phishing disguise)";
    }
    if (len > 0 && authority[0] == '[') {
        const char *close = memchr(authority, ']', len);
        if (close == NULL) {
            return "the URL's [IPv6] host has no closing ']'";
        }
        host_len = (apr_size_t)(close - authority) + 1;
        if (host_len < len) {
            if (authority[host_len] != ':') {
                return "the URL's host is followed by something other than :port";
            }
            port = authority + host_len + 1;
        }
    }
    else {
        const char *colon = memchr(authority, ':', len);
        if (colon) {
            host_len = (apr_size_t)(colon - authority);
            port = colon + 1;
        }
    }
    if (host_len == 0 || (authority[0] == '[' && host_len <= 2)) {
        return "the URL has no host";
    }
    if (port) {
        apr_size_t port_len = len - (apr_size_t)(port - authority);
        long value = 0;
        if (port_len == 0 || port_len > 5) {
            return "the URL's port is not a number from 1 to 65535";
        }
        for (i = 0; i < port_len; i++) {
            if (!apr_isdigit(port[i])) {
                return "the URL's port is not a number from 1 to 65535";
            }
            value = value * 10 + (port[i] - '0');
        }
        if (value < 1 || value > 65535) {
            return "the URL's port is not a number from 1 to 65535";
        }
    }
    return NULL;
}

const char *ml_url_problem(const char *url, apr_size_t len)
{
    apr_size_t scheme_len, i, authority_len;
    const char *authority;

    if (url == NULL || len == 0) {
        return "the URL is empty";
    }
    if (len > ML_URL_MAX) {
        return "the URL is longer than 4096 bytes";
    }
    if (!ml_header_safe(url, len)) {
        return "the URL contains a space, a control character or a non-ASCII "
               "byte (percent-encode it)";
    }
    for (i = 0; i < len; i++) {
        if (url_char_refused((unsigned char)url[i])) {
            return "the URL contains one of \" < > \\ (percent-encode it)";
        }
    }
    if (len > 7 && strncasecmp(url, "http://", 7) == 0) {
        scheme_len = 7;
    }
    else if (len > 8 && strncasecmp(url, "https://", 8) == 0) {
        scheme_len = 8;
    }
    else {
        return "the URL must start with http:// or https://";
    }
    authority = url + scheme_len;
    authority_len = 0;
    while (scheme_len + authority_len < len
           && !strchr("/?#", authority[authority_len])) {
        authority_len++;
    }
    return authority_problem(authority, authority_len);
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
