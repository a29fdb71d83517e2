/*
 * bench/refresh.c - what loading and refreshing a big database costs.
 *
 *   bench/refresh [LINKS] [DIR]      (defaults: 1000000, a temporary dir)
 *
 * Builds a SQLite file of LINKS links, then measures, in this one run:
 *   - a full load into a new shared-memory table, as a graceful restart
 *     does it (the click table kept) and as the first start does (a new
 *     click table, a new cell for every link),
 *   - a refresh after one link changed (what MinilinkRefreshInterval does),
 *   - a refresh when nothing changed (the cost of every idle tick),
 * and prints medians of several rounds, the ratio of full load to
 * incremental refresh, and the table's bytes per link (and those of the
 * click cells) against the raw slug+URL bytes.  Times vary with the
 * machine; the ratios are the point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include "../sync/ml_refresh.h"

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

/* One full load into a new table in generation, timed; clicks as ml_load()
 * takes it (*clicks NULL: a new click table in clicks_pool). */
static apr_interval_time_t timed_load(const char *path, ml_clicks **clicks,
                                      apr_pool_t *clicks_pool,
                                      apr_pool_t *generation, ml_cache **cache,
                                      ml_load_counts *counts)
{
    apr_time_t start = apr_time_now();
    const char *error;

    if (ml_load(cache, path, ML_CACHE_HEADROOM_DEFAULT, 0, clicks, clicks_pool,
                generation, skip_none, NULL, counts, &error) != APR_SUCCESS) {
        fail("loading", error);
    }
    return apr_time_now() - start;
}

int main(int argc, char **argv)
{
    long links = argc > 1 ? atol(argv[1]) : 1000000;
    char dir_template[] = "/tmp/minilink-bench.XXXXXX";
    const char *dir = argc > 2 ? argv[2] : mkdtemp(dir_template);
    apr_interval_time_t graceful[ROUNDS], first[ROUNDS], refresh[ROUNDS],
                        idle[ROUNDS];
    apr_pool_t *pool, *generation = NULL;
    const char *path;
    ml_cache *cache = NULL;
    ml_clicks *kept = NULL;      /* the click table gracefuls keep */
    ml_cache_usage usage;
    ml_load_counts counts;
    ml_store *store;
    apr_uint32_t stored;
    apr_uint64_t text_bytes;
    double table_extra;
    int round;

    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&pool, NULL);
    path = apr_pstrcat(pool, dir, "/links.db", NULL);
    remove(path);
    make_database(path, links, pool);

    /* As in the module: the first load makes the click table, and every
     * graceful restart after it loads into a new cache with the same one.
     * Untimed, this first load also reads the file into the page cache,
     * where a graceful restart finds it. */
    apr_pool_create(&generation, pool);
    timed_load(path, &kept, pool, generation, &cache, &counts);
    for (round = 0; round < ROUNDS; round++) {
        ml_clicks *fresh = NULL;
        apr_pool_t *started;

        apr_pool_create(&started, pool);
        first[round] = timed_load(path, &fresh, started, started, &cache,
                                  &counts);
        apr_pool_destroy(started);
        apr_pool_destroy(generation);   /* keep the last for refreshes */
        apr_pool_create(&generation, pool);
        graceful[round] = timed_load(path, &kept, pool, generation, &cache,
                                     &counts);
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
        if (ml_refresh(cache, store, kept, pool, skip_none, NULL, &changes)) {
            fail("refreshing", ml_store_error(store));
        }
        refresh[round] = apr_time_now() - start;
        if (changes.changed != 1 || changes.compared_all
            || !ml_cache_lookup(cache, "s0000042", 8, &entry)
            || strncmp(entry.url, "https://example.org/changed/", 28) != 0) {
            fail("refreshing", "the change was not applied incrementally");
        }
        start = apr_time_now();
        if (ml_refresh(cache, store, kept, pool, skip_none, NULL, &changes)) {
            fail("refreshing", ml_store_error(store));
        }
        idle[round] = apr_time_now() - start;
    }
    ml_cache_usage_get(cache, &usage);
    table_extra = ((double)usage.segment_bytes - 1.25 * (double)text_bytes)
                  / (double)links;

    printf("links:                          %ld (loaded %u)\n", links,
           counts.loaded);
    printf("full load, graceful, median:    %9.2f ms  (click cells kept)\n",
           median_ms(graceful));
    printf("full load, first start, median: %9.2f ms  (a new click table)\n",
           median_ms(first));
    printf("refresh after 1 change, median: %9.3f ms\n", median_ms(refresh));
    printf("refresh, nothing changed:       %9.3f ms\n", median_ms(idle));
    printf("graceful load / 1-change refresh: %7.0f x\n",
           median_ms(graceful) / median_ms(refresh));
    printf("raw slug+URL:                   %.1f bytes/link\n",
           (double)text_bytes / (double)links);
    printf("the table:                      %zu bytes = %.1f bytes/link"
           " = 1.25 x raw + %.1f\n", usage.segment_bytes,
           (double)usage.segment_bytes / (double)links, table_extra);
    printf("with a click cell each:         1.25 x raw + %.1f bytes/link\n",
           table_extra + ML_CLICKS_CELL_BYTES);
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
