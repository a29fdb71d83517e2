/*
 * test_load.c - building a cache from a database (sync/ml_load.h), and
 * its click cells through loads and refreshes (sync/ml_refresh.h).
 */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <CUnit/CUnit.h>
#include "../../sync/ml_load.h"
#include "../../sync/ml_refresh.h"
#include "../../sync/ml_flush.h"
#include "../../links/ml_store.h"
#include "unit_helpers.h"
#include "unit_suites.h"

/* Stands for "not yet set": ml_load must overwrite *cache either way. */
static char not_set;
#define CACHE_NOT_SET ((ml_cache *)&not_set)

/* What the skip callback was told. */
typedef struct {
    apr_pool_t *pool;
    int calls;
    const char *slugs[8];
    apr_int64_t ids[8];
    const char *problems[8];
} skips;

static void record_skip(void *ctx, const char *slug, apr_int64_t id,
                        const char *problem)
{
    skips *seen = ctx;

    if (seen->calls < 8) {
        seen->slugs[seen->calls] = slug ? apr_pstrdup(seen->pool, slug) : NULL;
        seen->ids[seen->calls] = id;
        seen->problems[seen->calls] = problem
                                      ? apr_pstrdup(seen->pool, problem) : NULL;
    }
    seen->calls++;
}

/* The index of the skip call for this row id, or -1. */
static int skip_of(const skips *seen, apr_int64_t id)
{
    int i;

    for (i = 0; i < seen->calls && i < 8; i++) {
        if (seen->ids[i] == id) {
            return i;
        }
    }
    return -1;
}

/* Asserts that the cache holds exactly this link. */
static void assert_holds(const ml_cache *cache, const char *slug,
                         const char *url, int status, apr_int64_t expires_at,
                         int disabled)
{
    ml_cache_entry entry;

    CU_ASSERT_EQUAL_FATAL(ml_cache_lookup(cache, slug, strlen(slug), &entry), 1);
    CU_ASSERT_EQUAL(entry.url_len, strlen(url));
    CU_ASSERT_TRUE(entry.url_len == strlen(url)
                   && memcmp(entry.url, url, entry.url_len) == 0);
    CU_ASSERT_EQUAL(entry.status, status);
    CU_ASSERT_EQUAL(entry.expires_at, expires_at);
    CU_ASSERT_EQUAL(entry.disabled, disabled);
}

static int contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static void test_load_good_and_broken_rows(void)
{
    ut_scratch scratch;
    ml_store *store = NULL;
    ml_cache *cache = CACHE_NOT_SET;
    ml_load_counts counts = {99, 99, 99};
    ml_cache_usage usage;
    ml_cache_entry entry;
    skips seen;
    const char *path, *error = "unset";
    apr_int64_t past = apr_time_sec(apr_time_now()) - 3600;
    /* Broken rows typed in with sqlite3.  The first two no CHECK can
     * refuse; the schema may refuse the last two at insert time. */
    struct { const char *slug_sql, *slug, *url_sql, *status_sql; } broken[] = {
        {"'jsrow'", "jsrow", "'javascript:alert(1)'", "NULL"},
        {"'phish'", "phish", "'http://user:pw@example.com/'", "NULL"},
        {"'bad slug'", "bad slug", "'https://example.com/'", "NULL"},
        {"'st999'", "st999", "'https://example.com/'", "999"},
    };
    sqlite3_int64 ids[4];
    int inserted[4], inserted_count = 0, i, at;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_path(&scratch, "links.db");
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_CREATE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_init(store), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "moved", "https://example.com/new",
                        301, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "off", "http://example.org/off",
                        0, 0, 1), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "old", "https://example.net/o?x=1",
                        0, past, 0), APR_SUCCESS);
    for (i = 0; i < 4; i++) {
        inserted[i] = ut_insert_raw(path, broken[i].slug_sql, broken[i].url_sql,
                                    broken[i].status_sql, &ids[i]) == SQLITE_OK;
        inserted_count += inserted[i];
    }
    CU_ASSERT_TRUE(inserted[0] && inserted[1]);

    memset(&seen, 0, sizeof(seen));
    seen.pool = scratch.pool;
    CU_ASSERT_EQUAL_FATAL(ml_load(&cache, path, ML_CACHE_HEADROOM_DEFAULT, 0, NULL, NULL,
                                  scratch.pool, record_skip, &seen, &counts,
                                  &error), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    CU_ASSERT_EQUAL(counts.loaded, 3);
    CU_ASSERT_EQUAL(counts.skipped, inserted_count);
    CU_ASSERT_EQUAL(seen.calls, inserted_count);
    for (i = 0; i < 4; i++) {
        if (!inserted[i]) {
            continue;
        }
        at = skip_of(&seen, ids[i]);
        CU_ASSERT_TRUE(at >= 0);
        if (at >= 0) {
            CU_ASSERT_PTR_NOT_NULL(seen.slugs[at]);
            if (seen.slugs[at]) {
                CU_ASSERT_STRING_EQUAL(seen.slugs[at], broken[i].slug);
            }
            CU_ASSERT_TRUE(seen.problems[at] != NULL
                           && strlen(seen.problems[at]) > 0);
        }
        CU_ASSERT_EQUAL(ml_cache_lookup(cache, broken[i].slug,
                                        strlen(broken[i].slug), &entry), 0);
    }
    assert_holds(cache, "moved", "https://example.com/new", 301, 0, 0);
    assert_holds(cache, "off", "http://example.org/off", 0, 0, 1);
    /* Expired links are loaded: the handler answers them with 410. */
    assert_holds(cache, "old", "https://example.net/o?x=1", 0, past, 0);
    ml_cache_usage_get(cache, &usage);
    CU_ASSERT_EQUAL(usage.links, 3);
    ut_scratch_close(&scratch);
}

/* ml_load must fail on path, with *cache NULL and the path in *error. */
static void assert_load_fails(const char *path, apr_pool_t *pool)
{
    ml_cache *cache = CACHE_NOT_SET;
    ml_load_counts counts;
    const char *error = NULL;
    skips seen;

    memset(&seen, 0, sizeof(seen));
    seen.pool = pool;
    CU_ASSERT_NOT_EQUAL(ml_load(&cache, path, ML_CACHE_HEADROOM_DEFAULT, 0, NULL, NULL, pool,
                                record_skip, &seen, &counts, &error),
                        APR_SUCCESS);
    CU_ASSERT_PTR_NULL(cache);
    CU_ASSERT_PTR_NOT_NULL(error);
    CU_ASSERT_TRUE(contains(error, path));
    CU_ASSERT_EQUAL(seen.calls, 0);
}

static void test_load_missing_file(void)
{
    ut_scratch scratch;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    assert_load_fails(ut_path(&scratch, "missing.db"), scratch.pool);
    ut_scratch_close(&scratch);
}

static void test_load_garbage_file(void)
{
    ut_scratch scratch;
    const char *path;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_garbage_file(&scratch, "garbage.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    assert_load_fails(path, scratch.pool);
    ut_scratch_close(&scratch);
}

static void test_load_foreign_database(void)
{
    ut_scratch scratch;
    const char *path;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_foreign_db(&scratch, "other.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    assert_load_fails(path, scratch.pool);
    ut_scratch_close(&scratch);
}

static void test_load_empty_database_has_room(void)
{
    ut_scratch scratch;
    ml_store *store = NULL;
    ml_cache *cache = NULL;
    ml_load_counts counts = {99, 99, 99};
    ml_cache_usage usage;
    const char *path, *error = NULL;
    skips seen;
    char slug[16], url[64];
    unsigned int i, failures = 0, missing = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_path(&scratch, "empty.db");
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_CREATE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_init(store), APR_SUCCESS);
    memset(&seen, 0, sizeof(seen));
    seen.pool = scratch.pool;
    CU_ASSERT_EQUAL_FATAL(ml_load(&cache, path, ML_CACHE_HEADROOM_DEFAULT, 0, NULL, NULL,
                                  scratch.pool, record_skip, &seen, &counts,
                                  &error), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
    CU_ASSERT_EQUAL(counts.loaded, 0);
    CU_ASSERT_EQUAL(counts.skipped, 0);
    CU_ASSERT_EQUAL(seen.calls, 0);
    /* Links of an ordinary size (6-byte slug, ~40-byte URL). */
    for (i = 0; i < ML_CACHE_MIN_SPARE_LINKS; i++) {
        ml_link link = {0};
        sprintf(slug, "n%05u", i);
        sprintf(url, "https://example.com/articles/%08u", i);
        link.slug = slug;
        link.url = url;
        failures += ml_cache_put(cache, &link, ML_CACHE_NO_CELL) != APR_SUCCESS;
    }
    for (i = 0; i < ML_CACHE_MIN_SPARE_LINKS; i++) {
        ml_cache_entry entry;
        sprintf(slug, "n%05u", i);
        sprintf(url, "https://example.com/articles/%08u", i);
        missing += !(ml_cache_lookup(cache, slug, strlen(slug), &entry)
                     && entry.url_len == strlen(url)
                     && memcmp(entry.url, url, entry.url_len) == 0);
    }
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT_EQUAL(missing, 0);
    ml_cache_usage_get(cache, &usage);
    CU_ASSERT_EQUAL(usage.links, ML_CACHE_MIN_SPARE_LINKS);
    ut_scratch_close(&scratch);
}

/* The handle the slug's record counts in, or ML_CACHE_NO_CELL. */
static apr_uint32_t handle_of(const ml_cache *cache, const char *slug)
{
    ml_cache_entry entry;

    return ml_cache_lookup(cache, slug, strlen(slug), &entry)
           ? entry.click_cell : ML_CACHE_NO_CELL;
}

static void ignore_skip(void *ctx, const char *slug, apr_int64_t id,
                        const char *problem)
{
    (void)ctx, (void)slug, (void)id, (void)problem;
}

/*
 * The click table's cells follow the links: a refresh that removes a
 * deleted link releases its cell, which a new link then gets (after its
 * clicks are written) instead of a cell never used; a load releases the
 * cells of links gone since the last table, and keeps the others'.
 */
static void test_cells_of_links_gone_are_released(void)
{
    ut_scratch scratch;
    ml_store *store = NULL;
    ml_cache *cache = NULL, *next = NULL;
    ml_clicks *clicks = NULL;
    ml_load_counts counts;
    ml_refresh_counts changes;
    ml_link a, gone;
    apr_uint32_t a_cell, gone_cell, used;
    apr_uint64_t flushed;
    const char *path, *error = NULL;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_path(&scratch, "cells.db");
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_CREATE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_init(store), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ut_add_link(store, scratch.pool, "a", "https://example.com/a",
                              0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ut_add_link(store, scratch.pool, "gone", "https://example.com/g",
                              0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_clicks_create(&clicks, 16, scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_load(&cache, path, ML_CACHE_HEADROOM_DEFAULT, 0,
                                  &clicks, scratch.pool, scratch.pool,
                                  ignore_skip, NULL, &counts, &error),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_get(store, "a", &a, NULL, scratch.pool),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_get(store, "gone", &gone, NULL, scratch.pool),
                          APR_SUCCESS);
    a_cell = handle_of(cache, "a");
    gone_cell = handle_of(cache, "gone");
    CU_ASSERT_TRUE(ml_clicks_counts_for(clicks, a_cell, a.id));
    CU_ASSERT_TRUE(ml_clicks_counts_for(clicks, gone_cell, gone.id));
    used = ml_clicks_cells_used(clicks);

    /* Deleted, and refreshed: its cell no longer counts, and after a flush
     * a new link gets it rather than a cell never used. */
    CU_ASSERT_EQUAL(ml_clicks_count(clicks, gone_cell, 1700000000), 1);
    CU_ASSERT_EQUAL(ml_store_remove(store, "gone"), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_refresh(cache, store, clicks, scratch.pool, ignore_skip,
                               NULL, &changes), APR_SUCCESS);
    CU_ASSERT_FALSE(ml_clicks_counts_for(clicks, gone_cell, gone.id));
    CU_ASSERT_EQUAL(ml_clicks_count(clicks, gone_cell, 1700000000), 0);
    CU_ASSERT_EQUAL(ml_flush(clicks, store, 1700000001, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "new", "https://example.com/n",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_refresh(cache, store, clicks, scratch.pool, ignore_skip,
                               NULL, &changes), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(handle_of(cache, "new"), ML_CACHE_NO_CELL);
    CU_ASSERT_NOT_EQUAL(handle_of(cache, "new"), gone_cell);
    CU_ASSERT_EQUAL(ml_clicks_cells_used(clicks), used);

    /* Deleted while no refresh ran: the next load releases its cell. */
    CU_ASSERT_EQUAL(ml_store_remove(store, "new"), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_load(&next, path, ML_CACHE_HEADROOM_DEFAULT, 0,
                                  &clicks, scratch.pool, scratch.pool,
                                  ignore_skip, NULL, &counts, &error),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL(handle_of(next, "a"), a_cell);
    CU_ASSERT_TRUE(ml_clicks_counts_for(clicks, a_cell, a.id));
    CU_ASSERT_TRUE(ml_clicks_has_released(clicks));
    CU_ASSERT_EQUAL(ml_clicks_count(clicks, handle_of(cache, "new"), 1700000002), 0);
    ut_scratch_close(&scratch);
}

void add_load_suite(void)
{
    CU_pSuite suite = CU_add_suite("load (ml_load.h)", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "loads good rows, skips broken ones", test_load_good_and_broken_rows);
    CU_add_test(suite, "missing file: fails naming it", test_load_missing_file);
    CU_add_test(suite, "garbage file: fails naming it", test_load_garbage_file);
    CU_add_test(suite, "SQLite file not ours: fails naming it", test_load_foreign_database);
    CU_add_test(suite, "empty database: room for 1024 links", test_load_empty_database_has_room);
    CU_add_test(suite, "cells of links gone are released, and reused",
                test_cells_of_links_gone_are_released);
}
