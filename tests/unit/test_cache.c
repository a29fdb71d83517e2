/*
 * test_cache.c - the shared-memory slug table of cache/ml_cache.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <CUnit/CUnit.h>
#include "../../cache/ml_cache.h"
#include "../../util/ml_siphash.h"
#include "unit_helpers.h"
#include "unit_suites.h"

/* Puts a link made of these fields. */
static apr_status_t put(ml_cache *cache, const char *slug, const char *url,
                        int status, apr_int64_t expires_at, int disabled)
{
    ml_link link = ut_link(slug, url, status, expires_at, disabled);

    return ml_cache_put(cache, &link, ML_CACHE_NO_CELL);
}

/* Asserts that the cache holds exactly this link; returns 1 if it does. */
static int holds(const ml_cache *cache, const char *slug, const char *url,
                 int status, apr_int64_t expires_at, int disabled)
{
    ml_cache_entry entry;
    int found = ml_cache_lookup(cache, slug, strlen(slug), &entry);

    CU_ASSERT_EQUAL(found, 1);
    if (found != 1) {
        return 0;
    }
    CU_ASSERT_EQUAL(entry.url_len, strlen(url));
    CU_ASSERT_TRUE(entry.url_len == strlen(url)
                   && memcmp(entry.url, url, entry.url_len) == 0);
    /* The module sends it as the Location in place. */
    CU_ASSERT_EQUAL(entry.url[entry.url_len], '\0');
    CU_ASSERT_EQUAL(entry.status, status);
    CU_ASSERT_EQUAL(entry.expires_at, expires_at);
    CU_ASSERT_EQUAL(entry.disabled, disabled);
    return entry.url_len == strlen(url)
           && memcmp(entry.url, url, entry.url_len) == 0
           && entry.url[entry.url_len] == '\0'
           && entry.status == status && entry.expires_at == expires_at
           && entry.disabled == disabled;
}

static int absent(const ml_cache *cache, const char *slug)
{
    ml_cache_entry entry;

    return ml_cache_lookup(cache, slug, strlen(slug), &entry) == 0;
}

/* A cache planned for `links` links of `text_bytes`; NULL on failure. */
static ml_cache *make_cache(apr_pool_t *pool, apr_uint32_t links,
                            apr_uint64_t text_bytes, unsigned int headroom)
{
    ml_cache_geometry geometry = ml_cache_plan(links, text_bytes, headroom);
    ml_cache *cache = NULL;

    CU_ASSERT_EQUAL(ml_cache_create(&cache, &geometry, pool), APR_SUCCESS);
    return cache;
}

static apr_uint32_t links_in(const ml_cache *cache)
{
    ml_cache_usage usage;

    ml_cache_usage_get(cache, &usage);
    return usage.links;
}

static void test_plan_capacity(void)
{
    struct { apr_uint32_t links; apr_uint64_t text; unsigned int headroom; }
    cases[] = {
        {0, 0, 25}, {1, 40, 25}, {100, 4000, 0}, {5000, 300000, 10},
        {10000, 600000, 25}, {100000, 6000000, 25}, {100000, 6000000, 300},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_cache_geometry g = ml_cache_plan(cases[i].links, cases[i].text,
                                            cases[i].headroom);
        apr_uint64_t links = cases[i].links;
        CU_ASSERT_TRUE(g.link_capacity
                       >= links + links * cases[i].headroom / 100);
        CU_ASSERT_TRUE(g.link_capacity >= links + ML_CACHE_MIN_SPARE_LINKS);
        /* The records' text at least must fit. */
        CU_ASSERT_TRUE(g.arena_bytes >= cases[i].text);
    }
    CU_ASSERT_EQUAL(ML_CACHE_MIN_SPARE_LINKS, 1024);
}

static void test_plan_arena_grows_with_text(void)
{
    ml_cache_geometry small = ml_cache_plan(1000, 50000, 25);
    ml_cache_geometry large = ml_cache_plan(1000, 500000, 25);
    ml_cache_geometry larger = ml_cache_plan(1000, 5000000, 25);

    CU_ASSERT_TRUE(small.arena_bytes < large.arena_bytes);
    CU_ASSERT_TRUE(large.arena_bytes < larger.arena_bytes);
    CU_ASSERT_TRUE(larger.arena_bytes >= 5000000);
    CU_ASSERT_TRUE(ml_cache_segment_size(&small)
                   < ml_cache_segment_size(&large));
}

/*
 * The documented bound (README: about 1.25 x (slug + URL bytes) + 26 bytes
 * per link, plus a header): stated here as at most 1.25 x text bytes plus
 * 40 bytes per link, with the same 25% headroom on the links.
 */
static void test_segment_size_bounded(void)
{
    ml_cache_geometry g = ml_cache_plan(100000, 6000000, 25);
    double bound = 1.25 * 6000000 + 40.0 * 100000 * 1.25;
    apr_size_t size = ml_cache_segment_size(&g);

    CU_ASSERT_TRUE((double)size <= bound);
    CU_ASSERT_TRUE(size >= g.arena_bytes);
    if ((double)size > bound) {
        fprintf(stderr, "\nsegment_size %lu > bound %.0f\n",
                (unsigned long)size, bound);
    }
}

static void test_put_then_lookup_exact(void)
{
    apr_pool_t *pool;
    ml_cache *cache;
    ml_cache_usage usage;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 10, 1000, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/abc", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(put(cache, "perm", "http://example.org/p?q=1#f", 301,
                        0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(put(cache, "gone", "https://example.net/", 308,
                        1700000000, 1), APR_SUCCESS);
    CU_ASSERT_EQUAL(put(cache, "tmp-7_X", "http://[::1]:8080/x", 307,
                        4102444800LL, 0), APR_SUCCESS);
    CU_ASSERT_TRUE(holds(cache, "abc", "https://example.com/abc", 0, 0, 0));
    CU_ASSERT_TRUE(holds(cache, "perm", "http://example.org/p?q=1#f", 301,
                         0, 0));
    CU_ASSERT_TRUE(holds(cache, "gone", "https://example.net/", 308,
                         1700000000, 1));
    CU_ASSERT_TRUE(holds(cache, "tmp-7_X", "http://[::1]:8080/x", 307,
                         4102444800LL, 0));
    ml_cache_usage_get(cache, &usage);
    CU_ASSERT_EQUAL(usage.links, 4);
    apr_pool_destroy(pool);
}

static void test_lookup_absent(void)
{
    apr_pool_t *pool;
    ml_cache *cache;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 10, 1000, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    CU_ASSERT_TRUE(absent(cache, "abc"));   /* empty table */
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_TRUE(absent(cache, "abd"));
    CU_ASSERT_TRUE(absent(cache, "ab"));    /* a prefix */
    CU_ASSERT_TRUE(absent(cache, "abcd"));  /* an extension */
    CU_ASSERT_FALSE(absent(cache, "abc"));
    apr_pool_destroy(pool);
}

static void test_lookup_case_sensitive(void)
{
    apr_pool_t *pool;
    ml_cache *cache;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 10, 1000, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/lower", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_TRUE(absent(cache, "Abc"));
    CU_ASSERT_TRUE(absent(cache, "ABC"));
    CU_ASSERT_EQUAL(put(cache, "Abc", "https://example.com/upper", 302, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_TRUE(holds(cache, "abc", "https://example.com/lower", 0, 0, 0));
    CU_ASSERT_TRUE(holds(cache, "Abc", "https://example.com/upper", 302, 0, 0));
    CU_ASSERT_EQUAL(links_in(cache), 2);
    apr_pool_destroy(pool);
}

static void test_replace(void)
{
    apr_pool_t *pool;
    ml_cache *cache;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 10, 1000, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/old", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(put(cache, "other", "https://example.com/o", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(links_in(cache), 2);
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/a/much/longer/new",
                        303, 1800000000, 1), APR_SUCCESS);
    CU_ASSERT_TRUE(holds(cache, "abc", "https://example.com/a/much/longer/new",
                         303, 1800000000, 1));
    CU_ASSERT_EQUAL(links_in(cache), 2);
    /* And back to a shorter one. */
    CU_ASSERT_EQUAL(put(cache, "abc", "http://x.io", 0, 0, 0), APR_SUCCESS);
    CU_ASSERT_TRUE(holds(cache, "abc", "http://x.io", 0, 0, 0));
    CU_ASSERT_TRUE(holds(cache, "other", "https://example.com/o", 0, 0, 0));
    CU_ASSERT_EQUAL(links_in(cache), 2);
    apr_pool_destroy(pool);
}

static void test_remove(void)
{
    apr_pool_t *pool;
    ml_cache *cache;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 10, 1000, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/1", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(put(cache, "keep", "https://example.com/k", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_cache_remove(cache, "abc", 3), APR_SUCCESS);
    CU_ASSERT_TRUE(absent(cache, "abc"));
    CU_ASSERT_EQUAL(links_in(cache), 1);
    CU_ASSERT_EQUAL(ml_cache_remove(cache, "abc", 3), APR_ENOENT);
    CU_ASSERT_EQUAL(ml_cache_remove(cache, "never", 5), APR_ENOENT);
    CU_ASSERT_EQUAL(links_in(cache), 1);
    CU_ASSERT_TRUE(holds(cache, "keep", "https://example.com/k", 0, 0, 0));
    /* Re-put after remove. */
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/2", 302, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_TRUE(holds(cache, "abc", "https://example.com/2", 302, 0, 0));
    CU_ASSERT_EQUAL(links_in(cache), 2);
    apr_pool_destroy(pool);
}

/* The i-th slug and URL of a generated set (slug 6-7 bytes, URL ~32). */
static void nth_link(unsigned int i, char *slug, char *url)
{
    sprintf(slug, "k%05u", i);
    sprintf(url, "https://example.com/page/%05u", i);
}

static void test_many_keys(void)
{
    enum { N = 50000 };
    apr_pool_t *pool;
    ml_cache *cache;
    char slug[16], url[64];
    apr_uint64_t text = 0;
    unsigned int i, put_failures = 0, missing = 0;

    for (i = 0; i < N; i++) {
        nth_link(i, slug, url);
        text += strlen(slug) + strlen(url);
    }
    apr_pool_create(&pool, NULL);
    /* Planned for exactly these links, no headroom: they must all fit. */
    cache = make_cache(pool, N, text, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    for (i = 0; i < N; i++) {
        nth_link(i, slug, url);
        put_failures += put(cache, slug, url, 0, 0, 0) != APR_SUCCESS;
    }
    for (i = 0; i < N; i++) {
        ml_cache_entry entry;
        nth_link(i, slug, url);
        missing += !(ml_cache_lookup(cache, slug, strlen(slug), &entry)
                     && entry.url_len == strlen(url)
                     && memcmp(entry.url, url, entry.url_len) == 0);
    }
    CU_ASSERT_EQUAL(put_failures, 0);
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_EQUAL(links_in(cache), N);
    CU_ASSERT_TRUE(absent(cache, "k50000"));
    apr_pool_destroy(pool);
}

/* The loader's way: append every link, then index them in one pass. */
static void test_append_then_index(void)
{
    enum { N = 5000, TWICE = 7 };
    apr_pool_t *pool;
    ml_cache *cache;
    ml_link link = {0};
    char slug[16], url[64];
    apr_uint64_t text = 0;
    unsigned int i, failures = 0, wrong = 0;

    for (i = 0; i < N; i++) {
        nth_link(i, slug, url);
        text += strlen(slug) + strlen(url);
    }
    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, N + 1, text + 64, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    link.slug = slug;
    link.url = url;
    for (i = 0; i < N; i++) {
        nth_link(i, slug, url);
        failures += ml_cache_append(cache, &link, i) != APR_SUCCESS;
    }
    /* A slug appended twice: the later record is the one indexed. */
    nth_link(TWICE, slug, url);
    link.url = "https://example.com/again";
    failures += ml_cache_append(cache, &link, 4242) != APR_SUCCESS;
    CU_ASSERT_EQUAL(failures, 0);
    link.slug = "a b";
    CU_ASSERT_EQUAL(ml_cache_append(cache, &link, 0), APR_EINVAL);

    /* Appended is not seen: no slot points at it yet. */
    CU_ASSERT_TRUE(absent(cache, slug));
    CU_ASSERT_EQUAL(links_in(cache), 0);

    CU_ASSERT_EQUAL(ml_cache_index(cache), APR_SUCCESS);
    CU_ASSERT_EQUAL(links_in(cache), N);
    CU_ASSERT_TRUE(holds(cache, slug, "https://example.com/again", 0, 0, 0));
    CU_ASSERT_EQUAL(ml_cache_click_cell(cache, slug), 4242);
    for (i = 0; i < N; i++) {
        ml_cache_entry entry;
        if (i == TWICE) {
            continue;
        }
        nth_link(i, slug, url);
        wrong += !(ml_cache_lookup(cache, slug, strlen(slug), &entry)
                   && entry.url_len == strlen(url)
                   && memcmp(entry.url, url, entry.url_len) == 0
                   && entry.click_cell == i);
    }
    CU_ASSERT_EQUAL(wrong, 0);
    /* Nothing new to index: nothing changes. */
    CU_ASSERT_EQUAL(ml_cache_index(cache), APR_SUCCESS);
    CU_ASSERT_EQUAL(links_in(cache), N);
    apr_pool_destroy(pool);
}

/* Indexing stops at the first slug with no room; the ones before stay. */
static void test_index_out_of_slots(void)
{
    /* Room in the arena for all ten, slots for four. */
    ml_cache_geometry geometry = { 4, 4096, 0 };
    apr_pool_t *pool;
    ml_cache *cache;
    ml_link link = {0};
    char slug[16], url[64];
    unsigned int i;

    apr_pool_create(&pool, NULL);
    CU_ASSERT_EQUAL_FATAL(ml_cache_create(&cache, &geometry, pool), APR_SUCCESS);
    link.slug = slug;
    link.url = url;
    for (i = 0; i < 10; i++) {
        nth_link(i, slug, url);
        CU_ASSERT_EQUAL(ml_cache_append(cache, &link, ML_CACHE_NO_CELL),
                        APR_SUCCESS);
    }
    CU_ASSERT_EQUAL(ml_cache_index(cache), APR_ENOSPC);
    CU_ASSERT_EQUAL(links_in(cache), 4);
    for (i = 0; i < 10; i++) {
        nth_link(i, slug, url);
        CU_ASSERT_EQUAL(absent(cache, slug), i >= 4);
    }
    apr_pool_destroy(pool);
}

static void test_full_table(void)
{
    enum { PLANNED = 100 };
    apr_pool_t *pool;
    ml_cache *cache;
    ml_cache_geometry geometry;
    ml_cache_usage before, after;
    char slug[16], url[64];
    apr_uint64_t text = 0;
    unsigned int i, inserted = 0, missing = 0, attempts;
    apr_status_t rv = APR_SUCCESS;

    for (i = 0; i < PLANNED; i++) {
        nth_link(i, slug, url);
        text += strlen(slug) + strlen(url);
    }
    geometry = ml_cache_plan(PLANNED, text, 0);
    apr_pool_create(&pool, NULL);
    CU_ASSERT_EQUAL_FATAL(ml_cache_create(&cache, &geometry, pool), APR_SUCCESS);
    attempts = geometry.link_capacity * 2;
    for (i = 0; i < attempts; i++) {
        nth_link(i, slug, url);
        rv = put(cache, slug, url, 0, 0, 0);
        if (rv != APR_SUCCESS) {
            break;
        }
        inserted++;
    }
    CU_ASSERT_EQUAL(rv, APR_ENOSPC);
    /* The plan promises the links and the spare ones (of the same size). */
    CU_ASSERT_TRUE(inserted >= PLANNED + ML_CACHE_MIN_SPARE_LINKS);
    CU_ASSERT_TRUE(inserted <= geometry.link_capacity);
    /* The refused slug is not there, and refusing changed nothing. */
    CU_ASSERT_TRUE(absent(cache, slug));
    ml_cache_usage_get(cache, &before);
    CU_ASSERT_EQUAL(put(cache, slug, url, 0, 0, 0), APR_ENOSPC);
    ml_cache_usage_get(cache, &after);
    CU_ASSERT_EQUAL(after.links, before.links);
    CU_ASSERT_EQUAL(after.arena_used, before.arena_used);
    CU_ASSERT_EQUAL(after.links, inserted);
    for (i = 0; i < inserted; i++) {
        ml_cache_entry entry;
        nth_link(i, slug, url);
        missing += !(ml_cache_lookup(cache, slug, strlen(slug), &entry)
                     && entry.url_len == strlen(url)
                     && memcmp(entry.url, url, entry.url_len) == 0);
    }
    CU_ASSERT_EQUAL(missing, 0);
    apr_pool_destroy(pool);
}

static void test_put_invalid(void)
{
    apr_pool_t *pool;
    ml_cache *cache;
    ml_cache_usage before, after;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 10, 1000, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    ml_cache_usage_get(cache, &before);
    CU_ASSERT_EQUAL(put(cache, "a b", "https://example.com/", 0, 0, 0),
                    APR_EINVAL);
    CU_ASSERT_EQUAL(put(cache, "", "https://example.com/", 0, 0, 0),
                    APR_EINVAL);
    CU_ASSERT_EQUAL(put(cache, "js", "javascript:alert(1)", 0, 0, 0),
                    APR_EINVAL);
    CU_ASSERT_EQUAL(put(cache, "st", "https://example.com/", 404, 0, 0),
                    APR_EINVAL);
    ml_cache_usage_get(cache, &after);
    CU_ASSERT_EQUAL(after.links, 0);
    CU_ASSERT_EQUAL(after.arena_used, before.arena_used);
    CU_ASSERT_TRUE(absent(cache, "js"));
    CU_ASSERT_TRUE(absent(cache, "st"));
    apr_pool_destroy(pool);
}

/* A URL of exactly len bytes whose content carries the version. */
static void long_url(char *url, apr_size_t len, unsigned int version)
{
    int head = sprintf(url, "https://example.com/v%u/", version);

    memset(url + head, 'a' + version % 26, len - (apr_size_t)head);
    url[len] = '\0';
}

static void test_arena_exhaustion_by_replacement(void)
{
    apr_pool_t *pool;
    ml_cache *cache;
    static char url[4001], last_ok[4001];
    unsigned int version;
    apr_status_t rv = APR_SUCCESS;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 1, 100, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    last_ok[0] = '\0';
    /* Each replacement appends a record: the arena fills up eventually. */
    for (version = 0; version < 100000; version++) {
        long_url(url, 4000, version);
        rv = put(cache, "same", url, 0, 0, 0);
        if (rv != APR_SUCCESS) {
            break;
        }
        strcpy(last_ok, url);
    }
    CU_ASSERT_EQUAL(rv, APR_ENOSPC);
    CU_ASSERT_TRUE(version > 0);
    CU_ASSERT_TRUE(holds(cache, "same", last_ok, 0, 0, 0));
    CU_ASSERT_EQUAL(links_in(cache), 1);
    apr_pool_destroy(pool);
}

static void test_rebuild_leaves_old_table(void)
{
    enum { N = 100 };
    apr_pool_t *pool;
    ml_cache *a, *b;
    char slug[16], url[64];
    unsigned int i, a_ok = 0, b_ok = 0;

    apr_pool_create(&pool, NULL);
    a = make_cache(pool, N, N * 40, 25);
    b = make_cache(pool, N + 1, (N + 1) * 40, 25);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    for (i = 0; i < N; i++) {
        nth_link(i, slug, url);
        CU_ASSERT_EQUAL(put(a, slug, url, 0, 0, 0), APR_SUCCESS);
    }
    for (i = 0; i < N; i++) {
        nth_link(i, slug, url);
        CU_ASSERT_EQUAL(put(b, slug, url, 0, 0, 0), APR_SUCCESS);
    }
    CU_ASSERT_EQUAL(put(b, "extra", "https://example.com/extra", 301, 0, 0),
                    APR_SUCCESS);
    /* Changing B does not reach A either. */
    CU_ASSERT_EQUAL(put(b, "k00000", "https://example.com/changed", 0, 0, 0),
                    APR_SUCCESS);
    for (i = 0; i < N; i++) {
        nth_link(i, slug, url);
        a_ok += holds(a, slug, url, 0, 0, 0);
        if (i > 0) {
            b_ok += holds(b, slug, url, 0, 0, 0);
        }
    }
    CU_ASSERT_EQUAL(a_ok, N);
    CU_ASSERT_EQUAL(b_ok, N - 1);
    CU_ASSERT_TRUE(holds(b, "k00000", "https://example.com/changed", 0, 0, 0));
    CU_ASSERT_TRUE(holds(b, "extra", "https://example.com/extra", 301, 0, 0));
    CU_ASSERT_TRUE(absent(a, "extra"));
    CU_ASSERT_EQUAL(links_in(a), N);
    CU_ASSERT_EQUAL(links_in(b), N + 1);
    apr_pool_destroy(pool);
}

/*
 * Torn reads.  A writer replaces, removes and re-puts 64 slugs; readers
 * check that every entry they find is one whole version of its link:
 *
 *   url = https://example.com/<slug>/<version>/<version % 200 'x'>/<sum>
 *   sum = checksum(slug, version); status, expiry and flag from version.
 *
 * The arena only grows, so the test runs in rounds, each on a fresh table
 * until its arena is full or the round's time is up, for about 1 s.
 */
#define TORN_SLUGS 64
#define TORN_READERS 3
#define TORN_TOTAL_USEC 1000000
#define TORN_ROUND_USEC 250000
#define TORN_ARENA_BYTES (4u << 20)

static const int torn_statuses[] = {0, 301, 302, 303, 307, 308};

typedef struct {
    ml_cache *cache;
    char slugs[TORN_SLUGS][16];
    apr_time_t deadline;
    unsigned int next_version;
    atomic_int stop_readers;
    /* The writer's counts. */
    unsigned long puts, writer_errors;
    int arena_full;
} torn_round;

typedef struct {
    torn_round *round;
    unsigned long lookups, found, inconsistent;
    char first_problem[160];
} torn_reader;

static unsigned int torn_checksum(const char *slug, unsigned int version)
{
    unsigned int hash = 2166136261u;   /* FNV-1a over slug, then version */
    const char *c;

    for (c = slug; *c; c++) {
        hash = (hash ^ (unsigned char)*c) * 16777619u;
    }
    hash = (hash ^ version) * 16777619u;
    return hash % 1000000000u;
}

static apr_status_t torn_put(torn_round *round, int i, unsigned int version)
{
    char url[512];
    int at = sprintf(url, "https://example.com/%s/%u/", round->slugs[i], version);

    memset(url + at, 'x', version % 200);
    at += (int)(version % 200);
    sprintf(url + at, "/%u", torn_checksum(round->slugs[i], version));
    return put(round->cache, round->slugs[i], url, torn_statuses[version % 6],
               1700000000 + version, (int)(version % 2));
}

/* NULL if the entry is one whole version of slug's link, else what is off. */
static const char *torn_problem(const char *slug, const ml_cache_entry *e)
{
    const char *p = e->url, *end;
    char prefix[64];
    unsigned long version, sum;
    apr_size_t n, i;

    if (e->url_len < 24 || e->url_len > 400) {
        return "url_len out of range";
    }
    end = e->url + e->url_len;
    n = (apr_size_t)sprintf(prefix, "https://example.com/%s/", slug);
    if (memcmp(p, prefix, n) != 0) {
        return "the URL names another slug";
    }
    p += n;
    /* Digits are parsed by hand: the URL is not NUL-terminated. */
    for (version = 0, i = 0; p < end && *p >= '0' && *p <= '9'; p++, i++) {
        version = version * 10 + (unsigned long)(*p - '0');
    }
    if (i == 0 || p == end || *p++ != '/') {
        return "no version";
    }
    for (i = 0; p < end && *p == 'x'; p++, i++) {
    }
    if (i != version % 200 || p == end || *p++ != '/') {
        return "padding does not match the version";
    }
    for (sum = 0, i = 0; p < end && *p >= '0' && *p <= '9'; p++, i++) {
        sum = sum * 10 + (unsigned long)(*p - '0');
    }
    if (i == 0 || p != end) {
        return "url_len does not end where the URL does";
    }
    if (sum != torn_checksum(slug, (unsigned int)version)) {
        return "checksum does not match";
    }
    if (e->status != torn_statuses[version % 6]
        || e->expires_at != (apr_int64_t)(1700000000 + version)
        || e->disabled != (int)(version % 2)) {
        return "status, expiry or flag from another version";
    }
    return NULL;
}

static void *torn_reader_main(void *data)
{
    torn_reader *reader = data;
    torn_round *round = reader->round;
    int i;

    do {
        for (i = 0; i < TORN_SLUGS; i++) {
            ml_cache_entry entry;
            const char *problem;
            reader->lookups++;
            if (!ml_cache_lookup(round->cache, round->slugs[i],
                                 strlen(round->slugs[i]), &entry)) {
                continue;
            }
            reader->found++;
            if ((problem = torn_problem(round->slugs[i], &entry)) != NULL) {
                if (reader->inconsistent++ == 0) {
                    snprintf(reader->first_problem,
                             sizeof(reader->first_problem), "%s: %s",
                             round->slugs[i], problem);
                }
            }
        }
    } while (!atomic_load(&round->stop_readers));
    return NULL;
}

static void *torn_writer_main(void *data)
{
    torn_round *round = data;
    unsigned int version = round->next_version;
    apr_status_t rv;

    for (;; version++) {
        int i = (int)(version % TORN_SLUGS);
        if ((version & 255) == 0 && apr_time_now() >= round->deadline) {
            break;
        }
        /* Every 5th change removes the link first (readers then miss it). */
        if (version % 5 == 0
            && ml_cache_remove(round->cache, round->slugs[i],
                               strlen(round->slugs[i])) != APR_SUCCESS) {
            round->writer_errors++;
        }
        rv = torn_put(round, i, version);
        if (rv == APR_ENOSPC) {
            round->arena_full = 1;
            break;
        }
        if (rv != APR_SUCCESS) {
            round->writer_errors++;
        }
        round->puts++;
    }
    round->next_version = version + 1;
    return NULL;
}

static void test_concurrent_readers_see_whole_links(void)
{
    apr_time_t start = apr_time_now(), end = start + TORN_TOTAL_USEC;
    unsigned long lookups = 0, found = 0, inconsistent = 0, puts = 0;
    unsigned long writer_errors = 0, setup_errors = 0, thread_failures = 0;
    unsigned int version = 1, rounds = 0;
    char first_problem[160] = "";
    static torn_round round;   /* static: big, and shared with the threads */
    torn_reader readers[TORN_READERS];
    pthread_t writer, reader_threads[TORN_READERS];
    int i, started;

    while (apr_time_now() < end) {
        apr_pool_t *pool;
        ml_cache_geometry geometry;

        memset(&round, 0, sizeof(round));
        for (i = 0; i < TORN_SLUGS; i++) {
            sprintf(round.slugs[i], "s%02d-%c", i, 'a' + i % 26);
        }
        geometry.link_capacity = 4 * TORN_SLUGS;
        geometry.arena_bytes = TORN_ARENA_BYTES;
        apr_pool_create(&pool, NULL);
        if (ml_cache_create(&round.cache, &geometry, pool) != APR_SUCCESS) {
            CU_FAIL("ml_cache_create for the torn-read test");
            apr_pool_destroy(pool);
            return;
        }
        /* Every slug present before the readers start. */
        for (i = 0; i < TORN_SLUGS; i++, version++) {
            setup_errors += torn_put(&round, i, version) != APR_SUCCESS;
        }
        round.next_version = version;
        round.deadline = apr_time_now() + TORN_ROUND_USEC;
        if (round.deadline > end) {
            round.deadline = end;
        }
        atomic_store(&round.stop_readers, 0);
        for (started = 0; started < TORN_READERS; started++) {
            memset(&readers[started], 0, sizeof(readers[started]));
            readers[started].round = &round;
            if (pthread_create(&reader_threads[started], NULL,
                               torn_reader_main, &readers[started]) != 0) {
                break;
            }
        }
        if (started == TORN_READERS
            && pthread_create(&writer, NULL, torn_writer_main, &round) == 0) {
            pthread_join(writer, NULL);
        }
        else {
            thread_failures++;
        }
        atomic_store(&round.stop_readers, 1);
        for (i = 0; i < started; i++) {
            pthread_join(reader_threads[i], NULL);
            lookups += readers[i].lookups;
            found += readers[i].found;
            if (readers[i].inconsistent && inconsistent == 0) {
                strcpy(first_problem, readers[i].first_problem);
            }
            inconsistent += readers[i].inconsistent;
        }
        puts += round.puts;
        writer_errors += round.writer_errors;
        version = round.next_version;
        rounds++;
        /* The segment goes only after every thread that reads it is done. */
        apr_pool_destroy(pool);
        if (thread_failures) {
            break;
        }
    }
    if (inconsistent) {
        fprintf(stderr, "\n%lu inconsistent reads, first: %s\n", inconsistent,
                first_problem);
    }
    CU_ASSERT_EQUAL(inconsistent, 0);
    CU_ASSERT_EQUAL(thread_failures, 0);
    CU_ASSERT_EQUAL(setup_errors, 0);
    CU_ASSERT_EQUAL(writer_errors, 0);
    CU_ASSERT_TRUE(rounds >= 1);
    CU_ASSERT_TRUE(puts > 1000);      /* the writer really wrote... */
    CU_ASSERT_TRUE(found > 1000);     /* ...while readers really read */
    CU_ASSERT_TRUE(lookups >= found);
}

/* The test vector of the SipHash paper (appendix A): key 00..0f, message
 * 00..0e, SipHash-2-4 = a129ca6149be45e5.  The 1-3 variant the table uses
 * shares the code, and must differ from 2-4 and depend on the key. */
static void test_siphash_reference_vector(void)
{
    unsigned char key[ML_SIPHASH_KEY_BYTES], message[15];
    unsigned int i;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (unsigned char)i;
    }
    for (i = 0; i < sizeof(message); i++) {
        message[i] = (unsigned char)i;
    }
    CU_ASSERT_EQUAL(ml_siphash(key, message, sizeof(message), 2, 4),
                    0xa129ca6149be45e5ULL);
    CU_ASSERT_EQUAL(ml_siphash13(key, message, sizeof(message)),
                    ml_siphash(key, message, sizeof(message), 1, 3));
    CU_ASSERT_NOT_EQUAL(ml_siphash13(key, message, sizeof(message)),
                        ml_siphash(key, message, sizeof(message), 2, 4));
    key[0] ^= 1;
    CU_ASSERT_NOT_EQUAL(ml_siphash(key, message, sizeof(message), 2, 4),
                        0xa129ca6149be45e5ULL);
}


/* ---- the rules of schema 2 in a record ------------------------------ */

static void test_extension_round_trip(void)
{
    apr_pool_t *pool;
    ml_cache *cache;
    ml_cache_entry entry;
    ml_cache_rules rules;
    ml_request_facts facts;
    apr_size_t len;
    ml_link link;

    apr_pool_create(&pool, NULL);
    cache = make_cache(pool, 2, 400, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    ut_rich_link(&link, "rich", pool);
    CU_ASSERT_EQUAL_FATAL(ml_cache_put(cache, &link, 7), APR_SUCCESS);
    CU_ASSERT_EQUAL(put(cache, "plain", "https://example.com/p", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_cache_lookup(cache, "rich", 4, &entry), 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry.extension);
    CU_ASSERT_EQUAL(entry.status, 301);
    CU_ASSERT_EQUAL(entry.click_cell, 7);
    ml_cache_rules_of(&entry, &rules);
    CU_ASSERT_EQUAL(rules.valid_since, 1700000000);
    CU_ASSERT_EQUAL(rules.max_visits, 10);
    CU_ASSERT_STRING_EQUAL(rules.fallback_url, "https://example.com/fallback");
    CU_ASSERT_EQUAL(rules.fallback_len, strlen("https://example.com/fallback"));
    CU_ASSERT_STRING_EQUAL(rules.password_hash, link.password_hash);
    CU_ASSERT_STRING_EQUAL(rules.title, "A title \xc3\xa9");
    CU_ASSERT_EQUAL(rules.ntags, 2);
    CU_ASSERT_STRING_EQUAL(rules.tags, "news");
    CU_ASSERT_STRING_EQUAL(rules.tags + 5, "sale");
    CU_ASSERT_EQUAL(rules.forward_query, ML_CHOICE_OFF);
    CU_ASSERT_EQUAL(rules.forward_path, ML_CHOICE_ON);
    CU_ASSERT_EQUAL(rules.crawlable, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rules.rules);
    memset(&facts, 0, sizeof(facts));
    facts.accept_language = "fr";
    CU_ASSERT_STRING_EQUAL(ml_rules_choose(rules.rules, &facts, &len),
                           "https://example.com/fr");
    /* A plain link has no extension: the record of layout 3. */
    CU_ASSERT_EQUAL(ml_cache_lookup(cache, "plain", 5, &entry), 1);
    CU_ASSERT_PTR_NULL(entry.extension);
    /* holds() tells every rule apart. */
    CU_ASSERT_TRUE(ml_cache_holds(cache, &link));
    link.max_visits = 11;
    CU_ASSERT_FALSE(ml_cache_holds(cache, &link));
    link.max_visits = 10;
    link.crawlable = 0;
    CU_ASSERT_FALSE(ml_cache_holds(cache, &link));
    link.crawlable = 1;
    link.nrules = 1;
    CU_ASSERT_FALSE(ml_cache_holds(cache, &link));
    apr_pool_destroy(pool);
}

/* ml_cache_entry_of(): a link read from the database, in no table. */
static void test_entry_of_a_link(void)
{
    apr_pool_t *pool;
    ml_cache_entry entry;
    ml_cache_rules rules;
    ml_link link;

    apr_pool_create(&pool, NULL);
    ut_rich_link(&link, "rich", pool);
    ml_cache_entry_of(&link, pool, &entry);
    CU_ASSERT_STRING_EQUAL(entry.url, link.url);
    CU_ASSERT_EQUAL(entry.click_cell, ML_CACHE_NO_CELL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry.extension);
    ml_cache_rules_of(&entry, &rules);
    CU_ASSERT_EQUAL(rules.max_visits, 10);
    apr_pool_destroy(pool);
}

/* A table made any_case finds a slug in any case, the exact one first. */
static void test_any_case(void)
{
    apr_pool_t *pool;
    ml_cache_geometry geometry = ml_cache_plan(8, 400, 0);
    ml_cache *cache, *exact;
    ml_cache_entry entry;

    apr_pool_create(&pool, NULL);
    geometry.any_case = 1;
    CU_ASSERT_EQUAL_FATAL(ml_cache_create(&cache, &geometry, pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(put(cache, "AbC", "https://example.com/AbC", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_cache_lookup_any_case(cache, "abc", 3, &entry), 1);
    CU_ASSERT_STRING_EQUAL(entry.url, "https://example.com/AbC");
    CU_ASSERT_EQUAL(ml_cache_lookup(cache, "abc", 3, &entry), 0);
    CU_ASSERT_EQUAL(ml_cache_lookup(cache, "AbC", 3, &entry), 1);
    CU_ASSERT_EQUAL(put(cache, "abc", "https://example.com/abc", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_cache_lookup_any_case(cache, "abc", 3, &entry), 1);
    CU_ASSERT_STRING_EQUAL(entry.url, "https://example.com/abc");
    CU_ASSERT_EQUAL(ml_cache_lookup_any_case(cache, "AbC", 3, &entry), 1);
    CU_ASSERT_STRING_EQUAL(entry.url, "https://example.com/AbC");
    CU_ASSERT_EQUAL(ml_cache_lookup_any_case(cache, "ABC", 3, &entry), 1);
    CU_ASSERT_EQUAL(ml_cache_remove(cache, "abc", 3), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_cache_lookup_any_case(cache, "abc", 3, &entry), 1);
    CU_ASSERT_STRING_EQUAL(entry.url, "https://example.com/AbC");
    CU_ASSERT_EQUAL(ml_cache_lookup_any_case(cache, "abd", 3, &entry), 0);
    /* A table not made so is asked exactly. */
    exact = make_cache(pool, 8, 400, 0);
    CU_ASSERT_EQUAL(put(exact, "AbC", "https://example.com/AbC", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_cache_lookup_any_case(exact, "abc", 3, &entry), 0);
    apr_pool_destroy(pool);
}

void add_cache_suite(void)
{
    CU_pSuite suite = CU_add_suite("cache (ml_cache.h)", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "SipHash: the paper's test vector", test_siphash_reference_vector);
    CU_add_test(suite, "plan: capacity covers links, headroom, spare", test_plan_capacity);
    CU_add_test(suite, "plan: arena grows with text bytes", test_plan_arena_grows_with_text);
    CU_add_test(suite, "segment_size within the documented bound", test_segment_size_bounded);
    CU_add_test(suite, "put then lookup: every field exact", test_put_then_lookup_exact);
    CU_add_test(suite, "lookup of an absent slug", test_lookup_absent);
    CU_add_test(suite, "lookup is case-sensitive", test_lookup_case_sensitive);
    CU_add_test(suite, "put of an existing slug replaces it", test_replace);
    CU_add_test(suite, "remove, remove absent, re-put", test_remove);
    CU_add_test(suite, "50000 slugs in a table planned for them", test_many_keys);
    CU_add_test(suite, "append, then index: unseen until indexed, later wins", test_append_then_index);
    CU_add_test(suite, "index out of slots: ENOSPC, the first ones kept", test_index_out_of_slots);
    CU_add_test(suite, "full table: ENOSPC, contents intact", test_full_table);
    CU_add_test(suite, "invalid link: EINVAL, nothing stored", test_put_invalid);
    CU_add_test(suite, "arena exhausted by replacements", test_arena_exhaustion_by_replacement);
    CU_add_test(suite, "rebuild leaves the old table alone", test_rebuild_leaves_old_table);
    CU_add_test(suite, "concurrent readers never see torn links", test_concurrent_readers_see_whole_links);
    CU_add_test(suite, "a link's rules in its record's extension", test_extension_round_trip);
    CU_add_test(suite, "an entry for a link in no table", test_entry_of_a_link);
    CU_add_test(suite, "any_case tables: any case, the exact slug first", test_any_case);
}
