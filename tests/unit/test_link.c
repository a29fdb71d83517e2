/*
 * test_link.c - the link rules of links/ml_link.h.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_pools.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_link.h"
#include "unit_suites.h"

/* ml_url_problem on a NUL-terminated string. */
static const char *url_problem(const char *url)
{
    return ml_url_problem(url, strlen(url));
}

/* "http://example.com/" followed by 'a's up to exactly len bytes. */
static char *url_of_length(apr_size_t len)
{
    static const char prefix[] = "http://example.com/";
    char *url = malloc(len + 1);

    memcpy(url, prefix, sizeof(prefix) - 1);
    memset(url + sizeof(prefix) - 1, 'a', len - (sizeof(prefix) - 1));
    url[len] = '\0';
    return url;
}

static void test_slug_valid_alphabet(void)
{
    CU_ASSERT_TRUE(ml_slug_valid("abc", 3));
    CU_ASSERT_TRUE(ml_slug_valid("a", 1));
    CU_ASSERT_TRUE(ml_slug_valid("ABCxyz019_-", 11));
    CU_ASSERT_TRUE(ml_slug_valid("-", 1));
    CU_ASSERT_TRUE(ml_slug_valid("_", 1));
    CU_ASSERT_TRUE(ml_slug_valid("Z9", 2));
}

static void test_slug_valid_length(void)
{
    char slug[ML_SLUG_MAX + 2];

    memset(slug, 'k', sizeof(slug));
    CU_ASSERT_EQUAL(ML_SLUG_MAX, 64);
    CU_ASSERT_TRUE(ml_slug_valid(slug, 64));
    CU_ASSERT_FALSE(ml_slug_valid(slug, 65));
    CU_ASSERT_FALSE(ml_slug_valid(slug, 0));
    CU_ASSERT_FALSE(ml_slug_valid("", 0));
    /* Only len bytes are looked at: a bad byte after them does not count. */
    CU_ASSERT_TRUE(ml_slug_valid("ab/", 2));
}

static void test_slug_valid_refuses_other_bytes(void)
{
    CU_ASSERT_FALSE(ml_slug_valid("a.b", 3));
    CU_ASSERT_FALSE(ml_slug_valid("..", 2));
    CU_ASSERT_FALSE(ml_slug_valid("a/b", 3));
    CU_ASSERT_FALSE(ml_slug_valid("a%62", 4));
    CU_ASSERT_FALSE(ml_slug_valid("a b", 3));
    CU_ASSERT_FALSE(ml_slug_valid("ab\r", 3));
    CU_ASSERT_FALSE(ml_slug_valid("ab\n", 3));
    CU_ASSERT_FALSE(ml_slug_valid("a\0b", 3));   /* NUL inside the length */
    CU_ASSERT_FALSE(ml_slug_valid("caf\xc3\xa9", 5));
    CU_ASSERT_FALSE(ml_slug_valid("\x80", 1));
    CU_ASSERT_FALSE(ml_slug_valid("\xff", 1));
    CU_ASSERT_FALSE(ml_slug_valid("a+", 2));
}

/* Stored slugs may start with '-'; new ones may not (the CLI would read
 * them as options). */
static void test_slug_new_problem(void)
{
    CU_ASSERT_PTR_NULL(ml_slug_new_problem("abc"));
    CU_ASSERT_PTR_NULL(ml_slug_new_problem("a-"));
    CU_ASSERT_PTR_NULL(ml_slug_new_problem("_-x"));
    CU_ASSERT_PTR_NOT_NULL(ml_slug_new_problem("-"));
    CU_ASSERT_PTR_NOT_NULL(ml_slug_new_problem("-h"));
    CU_ASSERT_PTR_NOT_NULL(ml_slug_new_problem("--disable"));
    CU_ASSERT_PTR_NOT_NULL(ml_slug_new_problem(""));
    CU_ASSERT_PTR_NOT_NULL(ml_slug_new_problem("a.b"));
    CU_ASSERT_PTR_NOT_NULL(ml_slug_new_problem(NULL));
    CU_ASSERT_TRUE(ml_slug_valid("-h", 2));
}

static void test_status_valid(void)
{
    CU_ASSERT_TRUE(ml_status_valid(301));
    CU_ASSERT_TRUE(ml_status_valid(302));
    CU_ASSERT_TRUE(ml_status_valid(303));
    CU_ASSERT_TRUE(ml_status_valid(307));
    CU_ASSERT_TRUE(ml_status_valid(308));
    CU_ASSERT_FALSE(ml_status_valid(300));
    CU_ASSERT_FALSE(ml_status_valid(304));
    CU_ASSERT_FALSE(ml_status_valid(200));
    CU_ASSERT_FALSE(ml_status_valid(404));
    CU_ASSERT_FALSE(ml_status_valid(0));
    CU_ASSERT_FALSE(ml_status_valid(-1));
}

static void test_url_problem_accepts_http_urls(void)
{
    CU_ASSERT_PTR_NULL(url_problem("http://example.com"));
    CU_ASSERT_PTR_NULL(url_problem("https://example.com/a?b=c#d"));
    CU_ASSERT_PTR_NULL(url_problem("HTTPS://Example.COM:8443/x"));
    CU_ASSERT_PTR_NULL(url_problem("http://[::1]:8080/"));
}

/* Asserts a problem, and that it is a sentence, not an empty string. */
#define ASSERT_URL_REFUSED(url, len) do { \
        const char *problem_ = ml_url_problem((url), (len)); \
        CU_ASSERT_PTR_NOT_NULL(problem_); \
        if (problem_) { CU_ASSERT_TRUE(strlen(problem_) > 0); } \
    } while (0)
#define ASSERT_URL_STRING_REFUSED(url) ASSERT_URL_REFUSED((url), strlen(url))

static void test_url_problem_refuses_other_schemes(void)
{
    ASSERT_URL_REFUSED("", 0);
    ASSERT_URL_STRING_REFUSED("ftp://x");
    ASSERT_URL_STRING_REFUSED("javascript:alert(1)");
    ASSERT_URL_STRING_REFUSED("data:text/html,x");
    ASSERT_URL_STRING_REFUSED("file:///etc/passwd");
    ASSERT_URL_STRING_REFUSED("//example.com");
}

static void test_url_problem_refuses_bad_authority(void)
{
    ASSERT_URL_STRING_REFUSED("http://");
    ASSERT_URL_STRING_REFUSED("http:///path");
    ASSERT_URL_STRING_REFUSED("http://user:pw@example.com/");
    ASSERT_URL_STRING_REFUSED("http://example.com:99999/");
    ASSERT_URL_STRING_REFUSED("http://example.com:x/");
}

static void test_url_problem_refuses_unsafe_bytes(void)
{
    /* The same URL with one refused byte in the path, each in turn. */
    static const char refused[] = {' ', '\r', '\n', '\t', 0x7f, '"', '<',
                                   '>', '\\'};
    char url[] = "http://example.com/a?b";
    apr_size_t i, at = 19;   /* the 'a' */

    CU_ASSERT_PTR_NULL(url_problem(url));
    for (i = 0; i < sizeof(refused); i++) {
        url[at] = refused[i];
        ASSERT_URL_REFUSED(url, strlen(url));
    }
    url[at] = (char)0x80;
    ASSERT_URL_REFUSED(url, strlen(url));
    url[at] = (char)0xc3;
    ASSERT_URL_REFUSED(url, strlen(url));
    url[at] = (char)0xff;
    ASSERT_URL_REFUSED(url, strlen(url));
}

static void test_url_problem_length_limit(void)
{
    char *ok = url_of_length(4096), *long_url = url_of_length(4097);

    CU_ASSERT_EQUAL(ML_URL_MAX, 4096);
    CU_ASSERT_EQUAL(strlen(ok), 4096);
    CU_ASSERT_PTR_NULL(url_problem(ok));
    ASSERT_URL_STRING_REFUSED(long_url);
    free(ok);
    free(long_url);
}

static void test_header_safe(void)
{
    char printable[0x7e - 0x21 + 1];
    int c;

    for (c = 0x21; c <= 0x7e; c++) {
        printable[c - 0x21] = (char)c;
    }
    CU_ASSERT_TRUE(ml_header_safe(printable, sizeof(printable)));
    CU_ASSERT_TRUE(ml_header_safe("x", 1));
    CU_ASSERT_FALSE(ml_header_safe("a b", 3));
    CU_ASSERT_FALSE(ml_header_safe("a\rb", 3));
    CU_ASSERT_FALSE(ml_header_safe("a\nb", 3));
    CU_ASSERT_FALSE(ml_header_safe("a\0b", 3));
    CU_ASSERT_FALSE(ml_header_safe("a\x7f" "b", 3));
    CU_ASSERT_FALSE(ml_header_safe("a\x80" "b", 3));
}

static void test_url_with_query(void)
{
    apr_pool_t *pool;
    struct { const char *url, *query, *expected; } cases[] = {
        {"http://a/b", "x=1", "http://a/b?x=1"},
        {"http://a/b?c=2", "x=1", "http://a/b?c=2&x=1"},
        {"http://a/b?", "x=1", "http://a/b?x=1"},
        {"http://a/b?c=2&", "x=1", "http://a/b?c=2&x=1"},
        {"http://a/b#top", "x=1", "http://a/b?x=1#top"},
        {"http://a/b?c=2#top", "x=1", "http://a/b?c=2&x=1#top"},
        {"http://a/b?c=2#top", NULL, "http://a/b?c=2#top"},
        {"http://a/b?c=2#top", "", "http://a/b?c=2#top"},
    };
    apr_size_t i;

    apr_pool_create(&pool, NULL);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = ml_url_forwarded(pool, cases[i].url, strlen(cases[i].url), NULL,
                                      cases[i].query);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_STRING_EQUAL(got, cases[i].expected);
    }
    apr_pool_destroy(pool);
}

static void test_url_with_query_respects_length(void)
{
    apr_pool_t *pool;
    /* A cache entry's URL is not NUL-terminated: only url_len bytes count. */
    const char *url = "http://a/bXYZ?junk#junk";

    apr_pool_create(&pool, NULL);
    CU_ASSERT_STRING_EQUAL(ml_url_forwarded(pool, url, 10, NULL, "x=1"),
                           "http://a/b?x=1");
    CU_ASSERT_STRING_EQUAL(ml_url_forwarded(pool, url, 10, NULL, NULL), "http://a/b");
    CU_ASSERT_STRING_EQUAL(ml_url_forwarded(pool, url, 10, NULL, ""), "http://a/b");
    CU_ASSERT_STRING_EQUAL(ml_url_forwarded(pool, url, 18, NULL, "x=1"),
                           "http://a/bXYZ?junk&x=1");
    apr_pool_destroy(pool);
}

static void test_slug_random_shape(void)
{
    char out[ML_SLUG_MAX + 2];
    apr_size_t lengths[] = {1, 6, 8, 64}, i;

    for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        memset(out, '#', sizeof(out));
        CU_ASSERT_EQUAL(ml_slug_random(out, lengths[i]), APR_SUCCESS);
        CU_ASSERT_EQUAL(out[lengths[i]], '\0');
        CU_ASSERT_EQUAL(strlen(out), lengths[i]);
        CU_ASSERT_TRUE(ml_slug_valid(out, lengths[i]));
        /* Nothing written past the terminator. */
        CU_ASSERT_EQUAL(out[lengths[i] + 1], '#');
    }
}

static int compare_slugs(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_slug_random_distinct(void)
{
    enum { DRAWS = 1000, LEN = 8 };
    char (*slugs)[LEN + 1] = calloc(DRAWS, LEN + 1);
    int i, duplicates = 0, invalid = 0;

    for (i = 0; i < DRAWS; i++) {
        CU_ASSERT_EQUAL(ml_slug_random(slugs[i], LEN), APR_SUCCESS);
        invalid += strlen(slugs[i]) != LEN || !ml_slug_valid(slugs[i], LEN);
    }
    qsort(slugs, DRAWS, LEN + 1, compare_slugs);
    for (i = 1; i < DRAWS; i++) {
        duplicates += strcmp(slugs[i - 1], slugs[i]) == 0;
    }
    CU_ASSERT_EQUAL(invalid, 0);
    CU_ASSERT_EQUAL(duplicates, 0);
    free(slugs);
}

static void test_link_problem(void)
{
    ml_link good = {0}, bad;

    good.slug = "abc";
    good.url = "https://example.com";
    CU_ASSERT_PTR_NULL(ml_link_problem(&good));

    bad = good;
    bad.slug = "a b";
    CU_ASSERT_PTR_NOT_NULL(ml_link_problem(&bad));
    bad = good;
    bad.slug = "";
    CU_ASSERT_PTR_NOT_NULL(ml_link_problem(&bad));
    bad = good;
    bad.url = "javascript:alert(1)";
    CU_ASSERT_PTR_NOT_NULL(ml_link_problem(&bad));
    bad = good;
    bad.status = 404;
    CU_ASSERT_PTR_NOT_NULL(ml_link_problem(&bad));
    bad = good;
    bad.expires_at = -1;
    CU_ASSERT_PTR_NOT_NULL(ml_link_problem(&bad));
    bad = good;
    bad.disabled = 2;
    CU_ASSERT_PTR_NOT_NULL(ml_link_problem(&bad));

    /* The other allowed values of each field. */
    bad = good;
    bad.status = 308;
    bad.expires_at = 1700000000;
    bad.disabled = 1;
    CU_ASSERT_PTR_NULL(ml_link_problem(&bad));
}

void add_link_suite(void)
{
    CU_pSuite suite = CU_add_suite("links (ml_link.h)", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "slug_valid accepts [A-Za-z0-9_-]", test_slug_valid_alphabet);
    CU_add_test(suite, "slug_valid length 1..64", test_slug_valid_length);
    CU_add_test(suite, "slug_valid refuses other bytes", test_slug_valid_refuses_other_bytes);
    CU_add_test(suite, "slug_new_problem: no '-' first", test_slug_new_problem);
    CU_add_test(suite, "status_valid: redirects only", test_status_valid);
    CU_add_test(suite, "url_problem accepts http(s) URLs", test_url_problem_accepts_http_urls);
    CU_add_test(suite, "url_problem refuses other schemes", test_url_problem_refuses_other_schemes);
    CU_add_test(suite, "url_problem refuses bad authority", test_url_problem_refuses_bad_authority);
    CU_add_test(suite, "url_problem refuses unsafe bytes", test_url_problem_refuses_unsafe_bytes);
    CU_add_test(suite, "url_problem 4096 ok, 4097 refused", test_url_problem_length_limit);
    CU_add_test(suite, "header_safe: printable ASCII only", test_header_safe);
    CU_add_test(suite, "url_with_query places the query", test_url_with_query);
    CU_add_test(suite, "url_with_query respects url_len", test_url_with_query_respects_length);
    CU_add_test(suite, "slug_random: length, alphabet, NUL", test_slug_random_shape);
    CU_add_test(suite, "slug_random: 1000 draws distinct", test_slug_random_distinct);
    CU_add_test(suite, "link_problem checks every field", test_link_problem);
}
