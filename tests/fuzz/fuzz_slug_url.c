/*
 * fuzz_slug_url.c - the slug and URL rules of links/ml_link.h.
 *
 * Input: parts separated by 0xFF bytes: slug, URL, query, link fields
 * (status, expiry, disabled, padding).  Missing parts are empty.  The whole
 * input is also tried as a slug and as a URL, so every byte value reaches
 * them.  A padding byte n also tries the URL with n * 17 'p's appended, so
 * that short inputs reach the 4096-byte limit on URLs.
 *
 * Each rule is checked against invariants stated here independently of
 * ml_link.c: what an accepted slug or URL may contain, what the host of an
 * accepted URL is, and what ml_url_forwarded() builds.  The whole input,
 * and the host of an accepted URL, also go through ml_host_parse() (the
 * host as a browser reads it: ml_host.h): a canonical host is canonical
 * (what the library's inet_pton() reads back for an address, a lower-case
 * name without a forbidden character otherwise) and parses to itself.
 */
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include "../../links/ml_host.h"
#include "../../links/ml_link.h"
#include "fuzz_common.h"

#define SEPARATOR 0xFF
#define PARTS 4

static apr_pool_t *root;

static int is_slug_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int is_safe_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int starts_with_nocase(const char *s, size_t len, const char *prefix)
{
    size_t i, n = strlen(prefix);

    if (len < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (lower((unsigned char)s[i]) != prefix[i]) {
            return 0;
        }
    }
    return 1;
}

/* Length of "http://" or "https://" at the start, or 0. */
static size_t scheme_len(const char *url, size_t len)
{
    if (starts_with_nocase(url, len, "http://")) {
        return 7;
    }
    if (starts_with_nocase(url, len, "https://")) {
        return 8;
    }
    return 0;
}

/* The authority: from after the scheme to the first '/', '?' or '#'. */
static void authority_of(const char *url, size_t len, size_t *start, size_t *end)
{
    size_t i = scheme_len(url, len);

    *start = i;
    while (i < len && url[i] != '/' && url[i] != '?' && url[i] != '#') {
        i++;
    }
    *end = i;
}

/* A port: 1 to 5 digits, 1 to 65535. */
static int port_ok(const char *p, size_t len)
{
    unsigned long value = 0;
    size_t i;

    if (len == 0 || len > 5) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        value = value * 10 + (unsigned long)(p[i] - '0');
    }
    return value >= 1 && value <= 65535;
}

/*
 * URLs that are plainly fine and must be accepted: http(s)://, a host of
 * letters, digits, '.' and '-', an optional :port, then nothing or '/', '?'
 * or '#' followed by printable ASCII other than " < > \.
 */
static int plainly_fine(const char *url, size_t len)
{
    size_t start, end, i, host_end;

    if (len > ML_URL_MAX || scheme_len(url, len) == 0) {
        return 0;
    }
    authority_of(url, len, &start, &end);
    for (host_end = start; host_end < end && url[host_end] != ':'; host_end++) {
        unsigned char c = (unsigned char)url[host_end];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
            return 0;
        }
    }
    if (host_end == start) {
        return 0;
    }
    if (host_end < end && !port_ok(url + host_end + 1, end - host_end - 1)) {
        return 0;
    }
    for (i = end; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (!is_safe_byte(c) || c == '"' || c == '<' || c == '>' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

/* A copy without a terminating NUL, so that ASan sees any read past len. */
static char *exact_copy(const unsigned char *data, size_t len)
{
    char *copy = malloc(len ? len : 1);

    CHECK(copy != NULL);
    if (len) {
        memcpy(copy, data, len);
    }
    return copy;
}

static void check_slug(const unsigned char *data, size_t len)
{
    char *slug = exact_copy(data, len);
    int expected = len >= 1 && len <= ML_SLUG_MAX;
    size_t i;

    for (i = 0; i < len && expected; i++) {
        expected = is_slug_byte(data[i]);
    }
    /* Both ways: the README states the rule exactly. */
    CHECK(ml_slug_valid(slug, len) == expected);
    free(slug);
}

static void check_header_safe(const unsigned char *data, size_t len)
{
    char *s = exact_copy(data, len);
    int expected = 1;
    size_t i;

    for (i = 0; i < len && expected; i++) {
        expected = is_safe_byte(data[i]);
    }
    CHECK(ml_header_safe(s, len) == expected);
    free(s);
}

/* ml_url_problem() on url[0..len); returns whether it was accepted. */
static int check_url(const unsigned char *data, size_t len)
{
    char *url = exact_copy(data, len);
    const char *problem = ml_url_problem(url, len);
    size_t i, start, end;

    if (problem != NULL) {
        CHECK(problem[0] != '\0');
        CHECK(!plainly_fine(url, len));
        free(url);
        return 0;
    }
    CHECK(len >= 1 && len <= ML_URL_MAX);
    CHECK(ml_header_safe(url, len));
    for (i = 0; i < len; i++) {
        unsigned char c = data[i];
        CHECK(c > 0x20 && c < 0x7f);      /* no control, space or non-ASCII */
        CHECK(c != '"' && c != '<' && c != '>' && c != '\\');
    }
    CHECK(scheme_len(url, len) != 0);
    authority_of(url, len, &start, &end);
    CHECK(end > start);                   /* there is a host */
    CHECK(memchr(url + start, '@', end - start) == NULL);   /* no userinfo */
    if (url[start] == '[') {
        const char *close = memchr(url + start, ']', end - start);
        CHECK(close != NULL);
        CHECK(close - (url + start) >= 2);
        if (close + 1 < url + end) {
            CHECK(close[1] == ':');
            CHECK(port_ok(close + 2, (size_t)(url + end - close - 2)));
        }
    }
    else {
        const char *colon = memchr(url + start, ':', end - start);
        if (colon) {
            CHECK(colon > url + start);
            CHECK(port_ok(colon + 1, (size_t)(url + end - colon - 1)));
        }
    }
    free(url);
    return 1;
}

/* The host ml_url_host() must return for an accepted URL. */
static char *expected_host(apr_pool_t *pool, const char *url, size_t len)
{
    size_t start, end, host_end, i;
    char *host;

    authority_of(url, len, &start, &end);
    if (url[start] == '[') {
        host_end = (size_t)((const char *)memchr(url + start, ']', end - start)
                            - url) + 1;
    }
    else {
        const char *colon = memchr(url + start, ':', end - start);
        host_end = colon ? (size_t)(colon - url) : end;
    }
    host = apr_pstrmemdup(pool, url + start, host_end - start);
    for (i = 0; host[i]; i++) {
        host[i] = (char)lower((unsigned char)host[i]);
    }
    if (i > 1 && host[i - 1] == '.') {
        host[i - 1] = '\0';
    }
    return host;
}

static void check_host(apr_pool_t *pool, const char *url, size_t len,
                       int accepted)
{
    const char *host = ml_url_host(pool, url);
    size_t i;

    if (strlen(url) != len) {
        return;                           /* a NUL inside: not a C string */
    }
    if (!accepted) {
        CHECK(host == NULL);
        return;
    }
    CHECK(host != NULL);
    CHECK(host[0] != '\0');
    for (i = 0; host[i]; i++) {
        CHECK(!(host[i] >= 'A' && host[i] <= 'Z'));
        CHECK(host[i] != '@' && host[i] != '/' && host[i] != '?'
              && host[i] != '#');
    }
    CHECK(strcmp(host, expected_host(pool, url, len)) == 0);
}

/* ml_host_parse() on raw[0..len): nothing to check for a refused host; an
 * accepted one must be canonical and parse to itself. */
static void check_host_parse(apr_pool_t *pool, const char *raw, size_t len)
{
    unsigned char address[16];
    ml_host host, again;
    const char *text;
    size_t i;

    if (ml_host_parse(pool, raw, len, &host) != NULL) {
        return;
    }
    CHECK(host.text != NULL && host.text[0] != '\0');
    switch (host.kind) {
    case ML_HOST_IPV4:
        CHECK(inet_pton(AF_INET, host.text, address) == 1);
        CHECK(memcmp(address, host.address, 4) == 0);
        break;
    case ML_HOST_IPV6:
        CHECK(inet_pton(AF_INET6, host.text, address) == 1);
        CHECK(memcmp(address, host.address, 16) == 0);
        /* IPv4-mapped addresses are IPv4 hosts. */
        CHECK(!(memcmp(address, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0));
        break;
    default:
        for (i = 0; host.text[i]; i++) {
            unsigned char c = (unsigned char)host.text[i];
            CHECK(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
            CHECK(strchr("#%/:<>?@[\\]^|", c) == NULL);
        }
        CHECK(host.text[0] != '.' && host.text[i - 1] != '.');
        CHECK(strstr(host.text, "..") == NULL);
    }
    text = host.kind == ML_HOST_IPV6
           ? apr_pstrcat(pool, "[", host.text, "]", NULL) : host.text;
    CHECK(ml_host_parse(pool, text, strlen(text), &again) == NULL);
    CHECK(again.kind == host.kind && strcmp(again.text, host.text) == 0);
    CHECK(memcmp(again.address, host.address, 16) == 0);
}

/*
 * The stored URL url[0..len) with the query: base (up to the first '#'),
 * separator, query, fragment, nothing else.
 */
static void check_with_query(apr_pool_t *pool, const char *url, size_t len,
                             const char *url_string, const char *query,
                             int url_accepted)
{
    char *result = ml_url_forwarded(pool, url, len, NULL, query);
    size_t qlen = query ? strlen(query) : 0;
    const char *hash = memchr(url, '#', len);
    size_t base = hash ? (size_t)(hash - url) : len;
    const char *separator;
    size_t seplen, total;

    CHECK(result != NULL);
    if (qlen == 0) {
        CHECK(memcmp(result, url, len) == 0 && result[len] == '\0');
        return;
    }
    if (memchr(url, '?', base) == NULL) {
        separator = "?";
    }
    else if (url[base - 1] == '?' || url[base - 1] == '&') {
        separator = "";
    }
    else {
        separator = "&";
    }
    seplen = strlen(separator);
    total = len + seplen + qlen;
    /* The URL's scheme, authority, path and query, in order and intact. */
    CHECK(memcmp(result, url, base) == 0);
    CHECK(memcmp(result + base, separator, seplen) == 0);
    /* The request's query, once: the length leaves no room for another. */
    CHECK(memcmp(result + base + seplen, query, qlen) == 0);
    /* The fragment, last. */
    CHECK(memcmp(result + base + seplen + qlen, url + base, len - base) == 0);
    CHECK(result[total] == '\0');
    /* The query always follows a '?' (the URL's own or the added one). */
    CHECK(memchr(result, '?', base + seplen) != NULL);

    if (ml_header_safe(url, len) && ml_header_safe(query, qlen)) {
        CHECK(ml_header_safe(result, total));
    }
    /* A valid URL with a harmless query stays valid, with the same host:
     * no query can move a redirect to another host. */
    if (url_accepted && total <= ML_URL_MAX && ml_header_safe(query, qlen)
        && strpbrk(query, "\"<>\\") == NULL) {
        CHECK(ml_url_problem(result, total) == NULL);
        CHECK(strcmp(ml_url_host(pool, result),
                     ml_url_host(pool, url_string)) == 0);
    }
}

static void check_link(const char *slug, size_t slug_len, const char *url,
                       size_t url_len, const unsigned char *fields, size_t n)
{
    static const int statuses[] = {0, 301, 302, 303, 307, 308, 300, 304, -1,
                                   200, 404};
    ml_link link = {0};
    int status_ok, expected;

    if (strlen(slug) != slug_len || strlen(url) != url_len) {
        return;
    }
    link.slug = slug;
    link.url = url;
    link.status = n > 0 ? statuses[fields[0] % (sizeof(statuses) / sizeof(int))]
                        : 0;
    link.expires_at = n > 1 ? (apr_int64_t)(signed char)fields[1] * 1000003 : 0;
    link.disabled = n > 2 ? fields[2] % 3 : 0;
    status_ok = link.status == 301 || link.status == 302 || link.status == 303
             || link.status == 307 || link.status == 308;
    CHECK(ml_status_valid(link.status) == status_ok);
    expected = ml_slug_valid(slug, slug_len)
            && ml_url_problem(url, url_len) == NULL
            && (link.status == 0 || status_ok)
            && link.expires_at >= 0 && (link.disabled == 0 || link.disabled == 1);
    CHECK((ml_link_problem(&link) == NULL) == expected);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const unsigned char *part[PARTS];
    size_t part_len[PARTS];
    apr_pool_t *pool;
    char *url, *query, *slug;
    size_t i, at = 0;
    int accepted;

    if (root == NULL) {
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&pool, root);

    /* The whole input, every byte value included. */
    check_slug(data, size);
    check_header_safe(data, size);
    check_url(data, size);
    check_host_parse(pool, (const char *)data, size);

    for (i = 0; i < PARTS; i++) {
        const unsigned char *end = at < size
            ? memchr(data + at, SEPARATOR, size - at) : NULL;
        size_t stop = end ? (size_t)(end - data) : size;
        part[i] = data + (at < size ? at : size);
        part_len[i] = at < size ? stop - at : 0;
        at = stop + 1;
    }

    check_slug(part[0], part_len[0]);
    check_header_safe(part[2], part_len[2]);
    accepted = check_url(part[1], part_len[1]);

    /* C strings of the parts, for the functions that take them. */
    slug = apr_pstrmemdup(pool, (const char *)part[0], part_len[0]);
    url = apr_pstrmemdup(pool, (const char *)part[1], part_len[1]);
    query = apr_pstrmemdup(pool, (const char *)part[2], part_len[2]);
    check_host(pool, url, part_len[1], accepted);
    if (accepted && strlen(url) == part_len[1]) {
        const char *host = ml_url_host(pool, url);
        check_host_parse(pool, host, strlen(host));
    }

    {
        /* A stored URL is not NUL-terminated in the cache: pass an exact
         * copy, so that a read past url_len is caught. */
        char *exact = exact_copy(part[1], part_len[1]);
        check_with_query(pool, exact, part_len[1], url, query, accepted);
        check_with_query(pool, exact, part_len[1], url, NULL, accepted);
        free(exact);
    }
    check_link(slug, part_len[0], url, part_len[1], part[3], part_len[3]);

    if (part_len[3] > 3) {
        size_t pad = (size_t)part[3][3] * 17, len = part_len[1] + pad;
        unsigned char *padded = malloc(len + 1);
        char *exact, *padded_string;
        CHECK(padded != NULL);
        memcpy(padded, part[1], part_len[1]);
        memset(padded + part_len[1], 'p', pad);
        accepted = check_url(padded, len);
        padded_string = apr_pstrmemdup(pool, (const char *)padded, len);
        check_host(pool, padded_string, len, accepted);
        exact = exact_copy(padded, len);
        check_with_query(pool, exact, len, padded_string, query, accepted);
        free(exact);
        free(padded);
    }

    apr_pool_destroy(pool);
    return 0;
}
