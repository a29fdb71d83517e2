/*
 * bench/refresh.c - what loading and refreshing a big database costs.
 *
 *   bench/refresh [LINKS] [DIR]      (defaults: 1000000, a temporary dir)
 *
 * Builds a SQLite file of LINKS links, then measures, in this one run:
 *   - a full load into a new shared-memory table (what a graceful does),
 *   - a refresh after one link changed (what MinilinkRefreshInterval does),
 *   - a refresh when nothing changed (the cost of every idle tick),
 * and prints medians of several rounds, the ratio of full load to
 * incremental refresh, and the table's bytes per link against the raw
 * slug+URL bytes.  Times vary with the machine; the ratios are the point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include "../cache/ml_refresh.h"

#define ROUNDS 5

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "bench/refresh: %s: %s\n", what, why);
    exit(1);
}

static void skip_none(void *ctx, const char *slug, apr_int64_t id,
                      const char *problem)
{
    (void)ctx;
    fprintf(stderr, "unexpected skipped row %s (%" APR_INT64_T_FMT "): %s\n",
            slug, id, problem);
}

/* Fills the database with raw SQL: the CLI would take minutes for 1M. */
static void make_database(const char *path, long links, apr_pool_t *pool)
{
    ml_store *store;
    sqlite3 *db;
    char *sql, *error = NULL;

    if (ml_store_open(&store, path, ML_STORE_CREATE, pool) != APR_SUCCESS
        || ml_store_init(store) != APR_SUCCESS) {
        fail(path, ml_store_error(store));
    }
    sql = apr_psprintf(pool,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
        "                        WHERE i < %ld)"
        "INSERT INTO links (slug, url)"
        " SELECT printf('s%%07d', i),"
        "        printf('https://news.example.com/2026/11/%%d/a-story-title', i)"
        " FROM n", links);
    if (sqlite3_open(path, &db) != SQLITE_OK
        || sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fail("filling the database", error ? error : sqlite3_errmsg(db));
    }
    sqlite3_close(db);
}

static void change_one_link(const char *path, int round)
{
    sqlite3 *db;
    char *sql = sqlite3_mprintf("UPDATE links SET url = 'https://example.org/"
                                "changed/%d' WHERE slug = 's0000042'", round);

    if (sqlite3_open(path, &db) != SQLITE_OK
        || sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fail("changing a link", sqlite3_errmsg(db));
    }
    sqlite3_free(sql);
    sqlite3_close(db);
}

static int compare_times(const void *a, const void *b)
{
    apr_interval_time_t x = *(const apr_interval_time_t *)a;
    apr_interval_time_t y = *(const apr_interval_time_t *)b;
    return (x > y) - (x < y);
}

static double median_ms(apr_interval_time_t *times)
{
    qsort(times, ROUNDS, sizeof(*times), compare_times);
    return times[ROUNDS / 2] / 1000.0;
}

int main(int argc, char **argv)
{
    long links = argc > 1 ? atol(argv[1]) : 1000000;
    char dir_template[] = "/tmp/minilink-bench.XXXXXX";
    const char *dir = argc > 2 ? argv[2] : mkdtemp(dir_template);
    apr_interval_time_t load[ROUNDS], refresh[ROUNDS], idle[ROUNDS];
    apr_pool_t *pool;
    const char *path, *error;
    ml_cache *cache = NULL;
    ml_cache_usage usage;
    ml_load_counts counts;
    ml_store *store;
    apr_uint32_t stored;
    apr_uint64_t text_bytes;
    int round;

    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&pool, NULL);
    path = apr_pstrcat(pool, dir, "/links.db", NULL);
    remove(path);
    make_database(path, links, pool);

    for (round = 0; round < ROUNDS; round++) {
        apr_pool_t *generation;
        apr_time_t start = apr_time_now();
        apr_pool_create(&generation, pool);
        if (ml_load(&cache, path, 25, NULL, NULL, generation, skip_none, NULL,
                    &counts, &error) != APR_SUCCESS) {
            fail("loading", error);
        }
        load[round] = apr_time_now() - start;
        if (round < ROUNDS - 1) {
            apr_pool_destroy(generation);   /* keep the last for refreshes */
        }
    }
    if (ml_store_open(&store, path, ML_STORE_READ, pool) != APR_SUCCESS
        || ml_store_summary(store, &stored, &text_bytes) != APR_SUCCESS) {
        fail(path, ml_store_error(store));
    }
    for (round = 0; round < ROUNDS; round++) {
        ml_refresh_counts changes;
        ml_cache_entry entry;
        apr_time_t start;

        change_one_link(path, round);
        start = apr_time_now();
        if (ml_refresh(cache, store, NULL, pool, skip_none, NULL, &changes)) {
            fail("refreshing", ml_store_error(store));
        }
        refresh[round] = apr_time_now() - start;
        if (changes.changed != 1 || changes.compared_all
            || !ml_cache_lookup(cache, "s0000042", 8, &entry)
            || strncmp(entry.url, "https://example.org/changed/", 28) != 0) {
            fail("refreshing", "the change was not applied incrementally");
        }
        start = apr_time_now();
        if (ml_refresh(cache, store, NULL, pool, skip_none, NULL, &changes)) {
            fail("refreshing", ml_store_error(store));
        }
        idle[round] = apr_time_now() - start;
    }
    ml_cache_usage_get(cache, &usage);

    printf("links:                          %ld (loaded %u)\n", links,
           counts.loaded);
    printf("full load (graceful), median:   %9.2f ms\n", median_ms(load));
    printf("refresh after 1 change, median: %9.3f ms\n", median_ms(refresh));
    printf("refresh, nothing changed:       %9.3f ms\n", median_ms(idle));
    printf("full load / one-change refresh: %9.0f x\n",
           median_ms(load) / median_ms(refresh));
    printf("shared memory:                  %zu bytes = %.1f bytes/link\n",
           usage.segment_bytes, (double)usage.segment_bytes / (double)links);
    printf("raw slug+URL:                   %.1f bytes/link; table = 1.25 x "
           "raw + %.1f bytes/link\n", (double)text_bytes / (double)links,
           ((double)usage.segment_bytes - 1.25 * (double)text_bytes)
           / (double)links);
    apr_pool_destroy(pool);
    if (argc <= 2) {            /* our own temporary directory: clean it */
        const char *suffixes[] = {"", "-wal", "-shm"};
        char file[256];
        size_t i;
        for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            snprintf(file, sizeof(file), "%s/links.db%s", dir, suffixes[i]);
            remove(file);
        }
        rmdir(dir);
    }
    apr_terminate();
    return 0;
}
