/*
 * ml_link.c - the rules that make a link valid, and building its Location.
 */
#include <string.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_md5.h>
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

/* True if text is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF) without control characters.  Written here
 * because APR has no UTF-8 check and this is the only one needed. */
static int utf8_text(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    while (*p) {
        unsigned int c = *p, need, code, i;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return 0;
            }
            p++;
            continue;
        }
        need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
        if (need == 0 || c > 0xf4) {
            return 0;
        }
        code = c & (0x3f >> need);
        for (i = 1; i <= need; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
            code = code << 6 | (p[i] & 0x3f);
        }
        if ((need == 2 && code < 0x800) || (need == 3 && code < 0x10000)
            || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)
            || (code >= 0x80 && code < 0xa0)) {
            return 0;
        }
        p += need + 1;
    }
    return 1;
}

const char *ml_title_problem(const char *title)
{
    if (strlen(title) > ML_TITLE_MAX) {
        return "the title is longer than 512 bytes";
    }
    return utf8_text(title) ? NULL
           : "the title must be UTF-8 text without control characters";
}

const char *ml_tag_problem(const char *tag)
{
    apr_size_t len = strlen(tag), i;

    for (i = 0; i < len; i++) {
        if (!apr_isalnum(tag[i]) && !strchr("-_.:", tag[i])) {
            break;
        }
    }
    return len >= 1 && len <= ML_TAG_MAX && i == len ? NULL
           : "a tag must be 1 to 64 letters, digits, '-', '_', '.' or ':'";
}

const char *ml_password_hash_problem(const char *hash)
{
    static const char base64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789";
    apr_size_t i;

    if (strlen(hash) != 60 || strncmp(hash, "$2y$", 4) != 0
        || !apr_isdigit(hash[4]) || !apr_isdigit(hash[5]) || hash[6] != '$') {
        return "the password hash is not a bcrypt hash ($2y$...)";
    }
    for (i = 7; i < 60; i++) {
        if (strchr(base64, hash[i]) == NULL) {
            return "the password hash is not a bcrypt hash ($2y$...)";
        }
    }
    return NULL;
}

const char *ml_password_hash(const char *password, const char **hash,
                             apr_pool_t *pool)
{
    unsigned char salt[16];
    char *made = apr_palloc(pool, 64);

    if (*password == '\0' || strlen(password) > ML_PASSWORD_MAX) {
        return "the password must be 1 to 72 bytes (bcrypt reads no more)";
    }
    if (apr_generate_random_bytes(salt, sizeof(salt)) != APR_SUCCESS
        || apr_bcrypt_encode(password, ML_BCRYPT_COST, salt, sizeof(salt),
                             made, 64) != APR_SUCCESS) {
        return "the password could not be hashed (no random bytes?)";
    }
    *hash = made;
    return NULL;
}

int ml_link_has_rules(const ml_link *link)
{
    return link->title || (link->tags && link->tags->nelts)
           || link->valid_since || link->max_visits || link->fallback_url
           || link->password_hash || link->forward_query || link->forward_path
           || link->crawlable || link->nrules;
}

/* The checks of the rules of schema version 2 (ml_link_problem). */
static const char *rules_problem(const ml_link *link)
{
    const char *problem;
    int i, which;

    if (link->title && (problem = ml_title_problem(link->title))) {
        return problem;
    }
    if (link->tags && link->tags->nelts > ML_TAGS_MAX) {
        return "a link may have at most 32 tags";
    }
    for (i = 0; link->tags && i < link->tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(link->tags, i, const char *);
        if (tag == NULL || (problem = ml_tag_problem(tag))) {
            return tag ? problem : "a tag is empty";
        }
    }
    if (link->valid_since < 0) {
        return "the valid-since time must be a Unix time, or 0 for always";
    }
    if (link->valid_since && link->expires_at
        && link->valid_since >= link->expires_at) {
        return "the link would never be valid: it expires before it starts";
    }
    if (link->max_visits < 0 || link->max_visits > ML_MAX_VISITS_MAX) {
        return "the visit limit must be from 1 to 2147483647, or none";
    }
    if (link->fallback_url
        && (problem = ml_url_problem(link->fallback_url,
                                     strlen(link->fallback_url)))) {
        return "the fallback URL must be an absolute http or https URL, "
               "under the same rules as the link's";
    }
    if (link->password_hash
        && (problem = ml_password_hash_problem(link->password_hash))) {
        return problem;
    }
    if ((unsigned)link->forward_query > ML_CHOICE_OFF
        || (unsigned)link->forward_path > ML_CHOICE_OFF) {
        return "forwarding must be on, off or the location's";
    }
    if (link->crawlable != 0 && link->crawlable != 1) {
        return "the crawlable flag must be 0 or 1";
    }
    if (link->nrules && link->rules == NULL) {
        return "the redirect rules are missing";
    }
    return ml_rules_problem(link->rules, link->nrules, &which);
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
    return ml_link_has_rules(link) ? rules_problem(link) : NULL;
}

char *ml_url_forwarded(apr_pool_t *pool, const char *url, apr_size_t url_len,
                       const char *path, const char *query)
{
    const char *fragment, *query_start;
    apr_size_t base_len, path_end, query_len, path_len;
    const char *separator = "";
    char *result, *at;

    if (query && *query == '\0') {
        query = NULL;
    }
    if ((query == NULL && (path == NULL || *path == '\0'))) {
        return apr_pstrmemdup(pool, url, url_len);
    }
    /* The query belongs before the fragment: "a?b#c" + "x" = "a?b&x#c";
     * the path before the URL's own query: "a?b" + "/p" = "a/p?b". */
    fragment = memchr(url, '#', url_len);
    base_len = fragment ? (apr_size_t)(fragment - url) : url_len;
    query_start = memchr(url, '?', base_len);
    path_end = query_start ? (apr_size_t)(query_start - url) : base_len;
    path_len = path ? strlen(path) : 0;
    /* "https://example.com/a/" + "/b": one slash, not two. */
    if (path_len && path_end && url[path_end - 1] == '/' && path[0] == '/') {
        path++;
        path_len--;
    }
    if (query && query_start == NULL) {
        separator = "?";
    }
    else if (query && url[base_len - 1] != '?' && url[base_len - 1] != '&') {
        separator = "&";
    }
    query_len = query ? strlen(query) : 0;
    at = result = apr_palloc(pool, url_len + path_len + 1 + query_len + 1);
    memcpy(at, url, path_end);
    at += path_end;
    if (path_len) {
        memcpy(at, path, path_len);
        at += path_len;
    }
    memcpy(at, url + path_end, base_len - path_end);
    at += base_len - path_end;
    if (*separator) {
        *at++ = *separator;
    }
    if (query_len) {
        memcpy(at, query, query_len);
        at += query_len;
    }
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
