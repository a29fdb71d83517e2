/*
 * test_store.c - the SQLite store of links/ml_store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_fields.h"
#include "../../links/ml_store.h"
#include "unit_helpers.h"
#include "unit_suites.h"

/* Opens (creating) and initialises dir/name; NULL on failure. */
static ml_store *new_store(ut_scratch *scratch, const char *name)
{
    ml_store *store = NULL;
    const char *path = ut_path(scratch, name);

    CU_ASSERT_EQUAL(ml_store_open(&store, path, ML_STORE_CREATE,
                                  scratch->pool), APR_SUCCESS);
    if (store == NULL) {
        return NULL;
    }
    CU_ASSERT_EQUAL(ml_store_init(store), APR_SUCCESS);
    return store;
}

static apr_uint32_t count_links(ml_store *store)
{
    apr_uint32_t links = 0xFFFFFFFFu;
    apr_uint64_t text_bytes;

    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &text_bytes), APR_SUCCESS);
    return links;
}

static int contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static void test_create_and_init_idempotent(void)
{
    ut_scratch scratch;
    ml_store *store, *again = NULL;
    apr_uint32_t links = 99;
    apr_uint64_t text_bytes = 99;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ml_store_init(store), APR_SUCCESS);   /* again: no-op */
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "abc", "https://example.com/",
                        0, 0, 0), APR_SUCCESS);
    /* A second connection, in WRITE mode, may init too: nothing is lost. */
    CU_ASSERT_EQUAL(ml_store_open(&again, ut_path(&scratch, "links.db"),
                                  ML_STORE_WRITE, scratch.pool), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT_EQUAL(ml_store_init(again), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_summary(again, &links, &text_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 1);
    CU_ASSERT_EQUAL(text_bytes, strlen("abc") + strlen("https://example.com/"));
    CU_ASSERT_STRING_EQUAL(ml_store_error(again), "");
    ut_scratch_close(&scratch);
}

static void test_add_then_get_every_field(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_link link;
    const char *problem = "unset";

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "full", "https://example.com/f?x=1",
                        308, 1900000000, 1), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "plain", "http://example.org",
                        0, 0, 0), APR_SUCCESS);

    memset(&link, 0, sizeof(link));
    CU_ASSERT_EQUAL_FATAL(ml_store_get(store, "full", &link, &problem,
                                       scratch.pool), APR_SUCCESS);
    CU_ASSERT_PTR_NULL(problem);
    CU_ASSERT_TRUE(link.id > 0);
    CU_ASSERT_STRING_EQUAL(link.slug, "full");
    CU_ASSERT_STRING_EQUAL(link.url, "https://example.com/f?x=1");
    CU_ASSERT_EQUAL(link.status, 308);
    CU_ASSERT_EQUAL(link.expires_at, 1900000000);
    CU_ASSERT_EQUAL(link.disabled, 1);
    CU_ASSERT_TRUE(link.created_at > 0);
    CU_ASSERT_TRUE(link.updated_at > 0);

    problem = "unset";
    memset(&link, 0, sizeof(link));
    CU_ASSERT_EQUAL_FATAL(ml_store_get(store, "plain", &link, &problem,
                                       scratch.pool), APR_SUCCESS);
    CU_ASSERT_PTR_NULL(problem);
    CU_ASSERT_STRING_EQUAL(link.slug, "plain");
    CU_ASSERT_STRING_EQUAL(link.url, "http://example.org");
    CU_ASSERT_EQUAL(link.status, 0);
    CU_ASSERT_EQUAL(link.expires_at, 0);
    CU_ASSERT_EQUAL(link.disabled, 0);
    CU_ASSERT_TRUE(link.created_at > 0);
    CU_ASSERT_TRUE(link.updated_at > 0);
    ut_scratch_close(&scratch);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_add_generates_distinct_slugs(void)
{
    enum { N = 200 };
    ut_scratch scratch;
    ml_store *store;
    char *slugs[N];
    int i, invalid = 0, failed = 0, duplicates = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    for (i = 0; i < N; i++) {
        ml_link link = {0};
        link.url = apr_psprintf(scratch.pool, "https://example.com/%d", i);
        if (ml_store_add(store, &link, scratch.pool) != APR_SUCCESS
            || link.slug == NULL) {
            failed++;
            slugs[i] = apr_psprintf(scratch.pool, "<failed %d>", i);
            continue;
        }
        invalid += !ml_slug_valid(link.slug, strlen(link.slug));
        slugs[i] = apr_pstrdup(scratch.pool, link.slug);
    }
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT_EQUAL(invalid, 0);
    /* The slug written back is the one stored with that URL. */
    if (failed == 0) {
        ml_link got;
        CU_ASSERT_EQUAL(ml_store_get(store, slugs[17], &got, NULL,
                                     scratch.pool), APR_SUCCESS);
        CU_ASSERT_STRING_EQUAL(got.url, "https://example.com/17");
    }
    qsort(slugs, N, sizeof(slugs[0]), compare_strings);
    for (i = 1; i < N; i++) {
        duplicates += strcmp(slugs[i - 1], slugs[i]) == 0;
    }
    CU_ASSERT_EQUAL(duplicates, 0);
    CU_ASSERT_EQUAL(count_links(store), N);
    ut_scratch_close(&scratch);
}

static void test_add_taken_slug(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_link link;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "taken", "https://example.com/1",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "taken", "https://example.com/2",
                        0, 0, 0), APR_EEXIST);
    CU_ASSERT_TRUE(contains(ml_store_error(store), "taken"));
    CU_ASSERT_EQUAL(count_links(store), 1);
    CU_ASSERT_EQUAL(ml_store_get(store, "taken", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(link.url, "https://example.com/1");
    ut_scratch_close(&scratch);
}

static void test_add_invalid_stores_nothing(void)
{
    ut_scratch scratch;
    ml_store *store;
    apr_uint32_t links;
    apr_uint64_t before_bytes, after_bytes;
    ml_link link;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "ok", "https://example.com/",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &before_bytes), APR_SUCCESS);

    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "js", "javascript:alert(1)",
                        0, 0, 0), APR_EINVAL);
    CU_ASSERT_TRUE(strlen(ml_store_error(store)) > 0);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "a/b", "https://example.com/",
                        0, 0, 0), APR_EINVAL);
    CU_ASSERT_TRUE(strlen(ml_store_error(store)) > 0);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "st", "https://example.com/",
                        404, 0, 0), APR_EINVAL);
    /* Without a slug too: the URL is refused, no random slug is stored. */
    memset(&link, 0, sizeof(link));
    link.url = "ftp://example.com/";
    CU_ASSERT_EQUAL(ml_store_add(store, &link, scratch.pool), APR_EINVAL);

    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &after_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 1);
    CU_ASSERT_EQUAL(after_bytes, before_bytes);
    CU_ASSERT_EQUAL(ml_store_get(store, "js", &link, NULL, scratch.pool),
                    APR_ENOENT);
    ut_scratch_close(&scratch);
}

static void test_get_and_remove_absent(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_link link;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ml_store_get(store, "nope", &link, NULL, scratch.pool),
                    APR_ENOENT);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "abc", "https://example.com/",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "keep", "https://example.com/k",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_get(store, "ABC", &link, NULL, scratch.pool),
                    APR_ENOENT);   /* case-sensitive */
    CU_ASSERT_EQUAL(ml_store_remove(store, "abc"), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_get(store, "abc", &link, NULL, scratch.pool),
                    APR_ENOENT);
    CU_ASSERT_EQUAL(ml_store_remove(store, "abc"), APR_ENOENT);
    CU_ASSERT_EQUAL(ml_store_remove(store, "never"), APR_ENOENT);
    CU_ASSERT_EQUAL(count_links(store), 1);
    CU_ASSERT_EQUAL(ml_store_get(store, "keep", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    ut_scratch_close(&scratch);
}

/* What ml_store_each showed, row by row. */
typedef struct {
    apr_pool_t *pool;
    int rows;
    const char *slugs[32];
    const char *urls[32];
    apr_int64_t ids[32];
    int broken[32];          /* the problem was non-NULL */
} visits;

static apr_status_t record_row(void *ctx, const ml_link *link,
                               const char *problem)
{
    visits *seen = ctx;

    if (seen->rows < 32) {
        seen->slugs[seen->rows] = link->slug
                                  ? apr_pstrdup(seen->pool, link->slug) : NULL;
        seen->urls[seen->rows] = link->url
                                 ? apr_pstrdup(seen->pool, link->url) : NULL;
        seen->ids[seen->rows] = link->id;
        seen->broken[seen->rows] = problem != NULL;
    }
    seen->rows++;
    return APR_SUCCESS;
}

/* The index of the visit with this row id, or -1. */
static int visit_of(const visits *seen, apr_int64_t id)
{
    int i;

    for (i = 0; i < seen->rows && i < 32; i++) {
        if (seen->ids[i] == id) {
            return i;
        }
    }
    return -1;
}

static void test_each_ordered_by_slug(void)
{
    ut_scratch scratch;
    ml_store *store;
    visits seen;
    /* Added out of order; expected back in byte order. */
    const char *added[] = {"m", "a", "Z", "b_1", "0x", "b-1"};
    const char *ordered[] = {"0x", "Z", "a", "b-1", "b_1", "m"};
    int i;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    for (i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, added[i],
                            apr_pstrcat(scratch.pool, "https://example.com/",
                                        added[i], NULL), 0, 0, 0), APR_SUCCESS);
    }
    memset(&seen, 0, sizeof(seen));
    seen.pool = scratch.pool;
    CU_ASSERT_EQUAL(ml_store_each(store, record_row, &seen), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(seen.rows, 6);
    for (i = 0; i < 6; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(seen.slugs[i]);
        CU_ASSERT_STRING_EQUAL(seen.slugs[i], ordered[i]);
        CU_ASSERT_STRING_EQUAL(seen.urls[i],
                               apr_pstrcat(scratch.pool, "https://example.com/",
                                           ordered[i], NULL));
        CU_ASSERT_FALSE(seen.broken[i]);
    }
    ut_scratch_close(&scratch);
}

/* The loader's walk: a redirect's fields as stored, in row order. */
static apr_status_t keep_link(void *ctx, const ml_link *link,
                              const char *problem)
{
    ml_link *kept = ctx;

    CU_ASSERT_PTR_NULL(problem);
    CU_ASSERT_STRING_EQUAL(link->slug, "b");     /* "b" was added first */
    CU_ASSERT_STRING_EQUAL(link->url, "https://example.com/b");
    *kept = *link;
    kept->slug = kept->url = NULL;               /* gone after the call */
    return APR_EGENERAL;                         /* just the first row */
}

static void test_each_served_fields_in_row_order(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_link kept;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "b", "https://example.com/b",
                        308, 4102444800, 1), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "a", "https://example.com/a",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_each_served(store, keep_link, &kept),
                    APR_EGENERAL);
    CU_ASSERT_TRUE(kept.id > 0);
    CU_ASSERT_EQUAL(kept.status, 308);
    CU_ASSERT_EQUAL(kept.expires_at, 4102444800);
    CU_ASSERT_EQUAL(kept.disabled, 1);
    /* Not read: the cache has no use for them. */
    CU_ASSERT_EQUAL(kept.created_at, 0);
    CU_ASSERT_EQUAL(kept.updated_at, 0);
    ut_scratch_close(&scratch);
}

static apr_status_t stop_at_second(void *ctx, const ml_link *link,
                                   const char *problem)
{
    int *calls = ctx;

    (void)link;
    (void)problem;
    return ++*calls == 2 ? APR_EGENERAL : APR_SUCCESS;
}

static void test_each_stops_on_callback_status(void)
{
    ut_scratch scratch;
    ml_store *store;
    int calls = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "a", "http://e.com/", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "b", "http://e.com/", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "c", "http://e.com/", 0, 0, 0),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_each(store, stop_at_second, &calls), APR_EGENERAL);
    CU_ASSERT_EQUAL(calls, 2);
    ut_scratch_close(&scratch);
}

static void test_each_reports_broken_rows(void)
{
    ut_scratch scratch;
    ml_store *store;
    const char *path;
    visits seen;
    /* Rows typed in by hand with sqlite3.  The schema's CHECKs may refuse
     * the bad slug and the bad status; no CHECK can refuse the URLs. */
    struct { const char *slug, *url, *status; int must_get_in; } broken[] = {
        {"'jsrow'", "'javascript:alert(1)'", "NULL", 1},
        {"'phish'", "'http://user:pw@example.com/'", "NULL", 1},
        {"'bad slug'", "'https://example.com/'", "NULL", 0},
        {"'st999'", "'https://example.com/'", "999", 0},
    };
    /* The loader's walk must see the same rows and problems as the CLI's. */
    apr_status_t (*const walks[])(ml_store *, ml_store_row_fn *, void *) = {
        ml_store_each, ml_store_each_served};
    sqlite3_int64 ids[4];
    int inserted[4], i, w, inserted_count = 0, at;
    apr_int64_t good_ids[2];
    ml_link link;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    path = ut_path(&scratch, "links.db");
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "good1", "https://example.com/1",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_get(store, "good1", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    good_ids[0] = link.id;
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "zgood", "https://example.com/2",
                        302, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_get(store, "zgood", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    good_ids[1] = link.id;
    for (i = 0; i < 4; i++) {
        inserted[i] = ut_insert_raw(path, broken[i].slug, broken[i].url,
                                    broken[i].status, &ids[i]) == SQLITE_OK;
        if (broken[i].must_get_in) {
            CU_ASSERT_TRUE(inserted[i]);
        }
        inserted_count += inserted[i];
    }

    for (w = 0; w < 2; w++) {
        memset(&seen, 0, sizeof(seen));
        seen.pool = scratch.pool;
        CU_ASSERT_EQUAL(walks[w](store, record_row, &seen), APR_SUCCESS);
        CU_ASSERT_EQUAL(seen.rows, 2 + inserted_count);
        for (i = 0; i < 4; i++) {
            if (!inserted[i]) {
                continue;
            }
            at = visit_of(&seen, ids[i]);
            CU_ASSERT_TRUE(at >= 0);
            if (at >= 0) {
                CU_ASSERT_TRUE(seen.broken[at]);
            }
        }
        for (i = 0; i < 2; i++) {
            at = visit_of(&seen, good_ids[i]);
            CU_ASSERT_TRUE(at >= 0);
            if (at >= 0) {
                CU_ASSERT_FALSE(seen.broken[at]);
            }
        }
    }
    /* ml_store_get says the same about a broken row. */
    {
        const char *problem = NULL;
        CU_ASSERT_EQUAL(ml_store_get(store, "jsrow", &link, &problem,
                                     scratch.pool), APR_SUCCESS);
        CU_ASSERT_PTR_NOT_NULL(problem);
    }
    ut_scratch_close(&scratch);
}

static void test_summary_counts_exactly(void)
{
    ut_scratch scratch;
    ml_store *store;
    const char *slugs[] = {"a", "bb", "ccc-long_slug"};
    const char *urls[] = {"http://x.io", "https://example.com/some/path?q=1",
                          "https://[::1]:8443/"};
    apr_uint32_t links = 99;
    apr_uint64_t text_bytes = 99, expected = 0;
    int i;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &text_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 0);
    CU_ASSERT_EQUAL(text_bytes, 0);
    for (i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, slugs[i], urls[i], 0, 0, 0),
                        APR_SUCCESS);
        expected += strlen(slugs[i]) + strlen(urls[i]);
    }
    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &text_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 3);
    CU_ASSERT_EQUAL(text_bytes, expected);
    CU_ASSERT_EQUAL(ml_store_remove(store, "bb"), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &text_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 2);
    CU_ASSERT_EQUAL(text_bytes, expected - strlen(slugs[1]) - strlen(urls[1]));
    ut_scratch_close(&scratch);
}

static void test_open_missing_file(void)
{
    ut_scratch scratch;
    ml_store *store = NULL;
    const char *path;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_path(&scratch, "missing.db");
    CU_ASSERT_NOT_EQUAL(ml_store_open(&store, path, ML_STORE_READ,
                                      scratch.pool), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(store);
    if (store) {
        CU_ASSERT_TRUE(contains(ml_store_error(store), path));
    }
    store = NULL;
    CU_ASSERT_NOT_EQUAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                      scratch.pool), APR_SUCCESS);
    if (store) {
        CU_ASSERT_TRUE(contains(ml_store_error(store), path));
    }
    /* Refusing to open did not create it. */
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    ut_scratch_close(&scratch);
}

static void test_open_garbage_file(void)
{
    ut_scratch scratch;
    ml_store *store = NULL;
    const char *path;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_garbage_file(&scratch, "garbage.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_NOT_EQUAL(ml_store_open(&store, path, ML_STORE_READ,
                                      scratch.pool), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(store);
    if (store) {
        CU_ASSERT_TRUE(strlen(ml_store_error(store)) > 0);
    }
    store = NULL;
    CU_ASSERT_NOT_EQUAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                      scratch.pool), APR_SUCCESS);
    if (store) {
        CU_ASSERT_TRUE(strlen(ml_store_error(store)) > 0);
    }
    ut_scratch_close(&scratch);
}

static void test_open_foreign_database(void)
{
    ut_scratch scratch;
    ml_store *store = NULL;
    const char *path;
    apr_status_t rv;
    sqlite3_int64 unused;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_foreign_db(&scratch, "other.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_NOT_EQUAL(ml_store_open(&store, path, ML_STORE_READ,
                                      scratch.pool), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(store);
    if (store) {
        CU_ASSERT_TRUE(contains(ml_store_error(store), path));
    }
    store = NULL;
    CU_ASSERT_NOT_EQUAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                      scratch.pool), APR_SUCCESS);
    if (store) {
        CU_ASSERT_TRUE(strlen(ml_store_error(store)) > 0);
    }
    /* CREATE mode: either the open or the init must refuse it. */
    store = NULL;
    rv = ml_store_open(&store, path, ML_STORE_CREATE, scratch.pool);
    if (rv == APR_SUCCESS) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(store);
        CU_ASSERT_NOT_EQUAL(ml_store_init(store), APR_SUCCESS);
        CU_ASSERT_TRUE(strlen(ml_store_error(store)) > 0);
    }
    /* Nothing was added to it: no links table, its own table intact. */
    CU_ASSERT_EQUAL(ut_sql(path, "SELECT x FROM foo", &unused), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(ut_sql(path, "SELECT slug FROM links", &unused),
                        SQLITE_OK);
    ut_scratch_close(&scratch);
}

/* The version is read again inside upgrade's transaction: a schema made
 * newer after the store was opened is refused, not marked back. */
static void test_upgrade_rechecks_inside_transaction(void)
{
    ut_scratch scratch;
    ml_store *store;
    sqlite3_int64 unused;
    int from = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "kept", "https://example.com/",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_upgrade(store, &from), APR_SUCCESS);
    CU_ASSERT_EQUAL(from, ML_STORE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(count_links(store), 1);

    CU_ASSERT_EQUAL_FATAL(ut_sql(ut_path(&scratch, "links.db"),
                                 "PRAGMA user_version = 4", &unused),
                          SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(ml_store_upgrade(store, &from), APR_SUCCESS);
    CU_ASSERT_TRUE(contains(ml_store_error(store), "schema version 4 is newer"));
    /* Rolled back: the store still writes. */
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "after", "https://example.com/a",
                        0, 0, 0), APR_SUCCESS);
    ut_scratch_close(&scratch);
}

static void test_read_snapshot(void)
{
    ut_scratch scratch;
    ml_store *store;
    visits seen;
    apr_uint32_t links;
    apr_uint64_t text_bytes;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "one", "https://example.com/1",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "two", "https://example.com/2",
                        0, 0, 0), APR_SUCCESS);

    CU_ASSERT_EQUAL_FATAL(ml_store_read_begin(store), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &text_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 2);
    /* Another connection commits a row in the middle of the snapshot; in
     * WAL mode it is not blocked by our reader. */
    CU_ASSERT_EQUAL(ut_insert_raw(ut_path(&scratch, "links.db"), "'three'",
                                  "'https://example.com/3'", "NULL", NULL),
                    SQLITE_OK);
    memset(&seen, 0, sizeof(seen));
    seen.pool = scratch.pool;
    CU_ASSERT_EQUAL(ml_store_each(store, record_row, &seen), APR_SUCCESS);
    CU_ASSERT_EQUAL(seen.rows, 2);
    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &text_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 2);
    CU_ASSERT_EQUAL(ml_store_read_end(store), APR_SUCCESS);

    CU_ASSERT_EQUAL(ml_store_summary(store, &links, &text_bytes), APR_SUCCESS);
    CU_ASSERT_EQUAL(links, 3);
    memset(&seen, 0, sizeof(seen));
    seen.pool = scratch.pool;
    CU_ASSERT_EQUAL(ml_store_each(store, record_row, &seen), APR_SUCCESS);
    CU_ASSERT_EQUAL(seen.rows, 3);
    ut_scratch_close(&scratch);
}

/* Which engine a location names, and what a log may show of it. */
static void test_location_labels_hide_passwords(void)
{
    static const struct {
        const char *location, *label;
        int is_file;
    } cases[] = {
        { "/var/lib/minilink/links.db", "/var/lib/minilink/links.db", 1 },
        { "relative/pgsql.db", "relative/pgsql.db", 1 },
        { "postgresql://ml@db.example/links", "postgresql://ml@db.example/links", 0 },
        { "postgresql://ml:s3cret@db:5432/links", "postgresql://ml:***@db:5432/links", 0 },
        { "postgres://ml:@db/links", "postgres://ml:***@db/links", 0 },
        { "postgresql://db/links?user=ml&password=s3cret&sslmode=require",
          "postgresql://db/links?user=ml&password=***&sslmode=require", 0 },
        { "postgresql://db/links?mypassword=x", "postgresql://db/links?mypassword=x", 0 },
        { "pgsql:host=db dbname=links", "pgsql:host=db dbname=links", 0 },
        { "pgsql:host=db password=s3cret dbname=links",
          "pgsql:host=db password=*** dbname=links", 0 },
        { "pgsql:password = 's3 \\' cret' user=ml", "pgsql:password = *** user=ml", 0 },
        { "pgsql:user=ml password=", "pgsql:user=ml password=***", 0 },
        { "pgsql:passwordx=1 password='' ", "pgsql:passwordx=1 password=*** ", 0 },
    };
    apr_pool_t *pool;
    size_t i;

    apr_pool_create(&pool, NULL);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *label = ml_store_location_label(cases[i].location, pool);
        CU_ASSERT_STRING_EQUAL(label, cases[i].label);
        CU_ASSERT_PTR_NULL(strstr(label, "s3"));
        CU_ASSERT_EQUAL(ml_store_location_is_file(cases[i].location),
                        cases[i].is_file);
    }
    apr_pool_destroy(pool);
}

/* Without a server there, opening fails at once, naming the database but
 * not the password. */
static void test_open_unreachable_postgresql(void)
{
    apr_pool_t *pool;
    ml_store *store;

    apr_pool_create(&pool, NULL);
    /* Port 1 on loopback: nothing listens there; refused at once. */
    CU_ASSERT_NOT_EQUAL(ml_store_open(&store, "pgsql:host=127.0.0.1 port=1 "
                                      "dbname=x password=s3cret",
                                      ML_STORE_READ, pool), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(ml_store_error(store), "password=***"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ml_store_error(store), "cannot connect"));
    CU_ASSERT_PTR_NULL(strstr(ml_store_error(store), "s3cret"));
    CU_ASSERT_PTR_NULL(strchr(ml_store_error(store), '\n'));
    apr_pool_destroy(pool);
}


/* ---- the rules of schema 2 ----------------------------------------------- */

/* The rules of two links read back say the same (ml_fields' text). */
static void assert_same_rules(const ml_link *got, const ml_link *want,
                              apr_pool_t *pool)
{
    int i;

    for (i = 0; i < ML_FIELDS; i++) {
        CU_ASSERT_STRING_EQUAL(ml_field_write(got, (ml_field)i, pool),
                               ml_field_write(want, (ml_field)i, pool));
    }
}

static apr_status_t keep_rich(void *ctx, const ml_link *link,
                              const char *problem)
{
    ml_link *kept = ctx;

    CU_ASSERT_PTR_NULL(problem);
    if (strcmp(link->slug, "rich") == 0) {
        *kept = *link;
        /* Still valid after the walk: the fields the check reads. */
        CU_ASSERT_EQUAL(link->nrules, 3);
        CU_ASSERT_PTR_NOT_NULL(link->tags);
    }
    return APR_SUCCESS;
}

static void test_rules_round_trip(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_link link, got, walked;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    ut_rich_link(&link, "rich", scratch.pool);
    CU_ASSERT_EQUAL_FATAL(ml_store_add(store, &link, scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "plain", "https://example.com/",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_get(store, "rich", &got, NULL, scratch.pool),
                          APR_SUCCESS);
    assert_same_rules(&got, &link, scratch.pool);
    memset(&walked, 0, sizeof(walked));
    CU_ASSERT_EQUAL(ml_store_each(store, keep_rich, &walked), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_each_served(store, keep_rich, &walked),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_get(store, "plain", &got, NULL, scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_FALSE(ml_link_has_rules(&got));
    ut_scratch_close(&scratch);
}

/* The one number a query gives (text bound to ?1), or -1. */
static long number_of(const char *path, const char *sql, const char *text)
{
    sqlite3 *db;
    sqlite3_stmt *query = NULL;
    long count = -1;

    if (sqlite3_open(path, &db) == SQLITE_OK
        && sqlite3_prepare_v2(db, sql, -1, &query, NULL) == SQLITE_OK) {
        sqlite3_bind_text(query, 1, text, -1, SQLITE_STATIC);
        if (sqlite3_step(query) == SQLITE_ROW) {
            count = sqlite3_column_int(query, 0);
        }
    }
    sqlite3_finalize(query);
    sqlite3_close(db);
    return count;
}

static long changes_of(const char *path, const char *slug)
{
    return number_of(path, "SELECT count(*) FROM link_changes WHERE slug = ?1",
                     slug);
}

/* An update rewrites tags and rules only when they differ; any change to
 * them - through the store or by hand in SQL - logs the link. */
static void test_rules_changes_are_logged(void)
{
    static const char *const edits[] = {
        "UPDATE redirect_rules SET long_url = 'https://example.com/x'",
        "UPDATE redirect_conditions SET match_value = 'android'"
        " WHERE type = 'device'",
        "DELETE FROM redirect_conditions WHERE type = 'ip-address'",
        "UPDATE tags SET name = 'c' WHERE name = 'news'",
        "DELETE FROM link_tags",
        "INSERT INTO link_tags SELECT l.id, t.id FROM links l, tags t"
        " WHERE l.slug = 'rich'",
    };
    ut_scratch scratch;
    ml_store *store;
    ml_link link, got;
    const char *path;
    long before;
    size_t i;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    path = ut_path(&scratch, "links.db");
    ut_rich_link(&link, "rich", scratch.pool);
    CU_ASSERT_EQUAL_FATAL(ml_store_add(store, &link, scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_get(store, "rich", &got, NULL, scratch.pool),
                          APR_SUCCESS);
    before = changes_of(path, "rich");
    got.title = "Another";
    CU_ASSERT_EQUAL(ml_store_update(store, &got), APR_SUCCESS);
    /* The row's own change only: tags and rules were left alone. */
    CU_ASSERT_EQUAL(changes_of(path, "rich"), before + 1);
    for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        before = changes_of(path, "rich");
        CU_ASSERT_EQUAL(ut_sql(path, edits[i], NULL), SQLITE_OK);
        CU_ASSERT(changes_of(path, "rich") > before);
    }
    /* A link's tags and rules go with it. */
    CU_ASSERT_EQUAL(ml_store_remove(store, "rich"), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_sql(path, "INSERT INTO links (slug, url) VALUES "
                           "('probe', 'https://example.com/')", NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(changes_of(path, "probe"), 1);
    CU_ASSERT_EQUAL(number_of(path, "SELECT (SELECT count(*) FROM redirect_rules)"
                              " + (SELECT count(*) FROM redirect_conditions)"
                              " + (SELECT count(*) FROM link_tags)", NULL), 0);
    ut_scratch_close(&scratch);
}

static apr_status_t note_limited(void *ctx, const char *slug, apr_int64_t clicks)
{
    CU_ASSERT_STRING_EQUAL(slug, "rich");
    CU_ASSERT_EQUAL(clicks, 0);
    ++*(int *)ctx;
    return APR_SUCCESS;
}

static void test_each_limited(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_link link;
    int seen = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    store = new_store(&scratch, "links.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    ut_rich_link(&link, "rich", scratch.pool);
    CU_ASSERT_EQUAL(ml_store_add(store, &link, scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(ut_add_link(store, scratch.pool, "plain", "https://example.com/",
                        0, 0, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_each_limited(store, note_limited, &seen),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(seen, 1);
    ut_scratch_close(&scratch);
}

void add_store_suite(void)
{
    CU_pSuite suite = CU_add_suite("store (ml_store.h)", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "create, init, init again", test_create_and_init_idempotent);
    CU_add_test(suite, "add then get: every field", test_add_then_get_every_field);
    CU_add_test(suite, "add without slug: 200 valid distinct slugs", test_add_generates_distinct_slugs);
    CU_add_test(suite, "add of a taken slug: EEXIST", test_add_taken_slug);
    CU_add_test(suite, "add of an invalid link stores nothing", test_add_invalid_stores_nothing);
    CU_add_test(suite, "get/remove of absent slugs: ENOENT", test_get_and_remove_absent);
    CU_add_test(suite, "each visits rows ordered by slug", test_each_ordered_by_slug);
    CU_add_test(suite, "each stops on the callback's status", test_each_stops_on_callback_status);
    CU_add_test(suite, "each_served: a redirect's fields, in row order", test_each_served_fields_in_row_order);
    CU_add_test(suite, "each reports rows typed in with sqlite3", test_each_reports_broken_rows);
    CU_add_test(suite, "summary counts rows and text bytes", test_summary_counts_exactly);
    CU_add_test(suite, "open of a missing file names it", test_open_missing_file);
    CU_add_test(suite, "open of a garbage file fails", test_open_garbage_file);
    CU_add_test(suite, "a SQLite file not ours is refused", test_open_foreign_database);
    CU_add_test(suite, "upgrade re-reads the version in its transaction", test_upgrade_rechecks_inside_transaction);
    CU_add_test(suite, "read_begin/end: one snapshot", test_read_snapshot);
    CU_add_test(suite, "locations: engine, and passwords hidden", test_location_labels_hide_passwords);
    CU_add_test(suite, "open of an unreachable PostgreSQL", test_open_unreachable_postgresql);
    CU_add_test(suite, "tags and rules: written and read back", test_rules_round_trip);
    CU_add_test(suite, "tags and rules: every change logged", test_rules_changes_are_logged);
    CU_add_test(suite, "each_limited: links with a visit limit", test_each_limited);
}
