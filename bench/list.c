/*
 * bench/list.c - what a page of links costs at a million (ml_store_list,
 * the API's GET /short-urls and the admin pages).
 *
 *   bench/list [LINKS] [DIR]      (defaults: 1000000, a temporary dir)
 *
 * Builds a SQLite file of LINKS links (one in 10 with a title, one in 5
 * with a tag, created over three years, random clicks), then times, for
 * each order both ways: the first page of 50, page 1000 of 50, and the
 * total of the listing; then a search term and a tag filter.  Medians of
 * ROUNDS rounds, in milliseconds.  Times vary with the machine; that a
 * page does not grow with LINKS is the point (compare LINKS=10000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <sqlite3.h>
#include "../links/ml_store.h"

#define ROUNDS 7
#define PAGE 50

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "bench/list: %s: %s\n", what, why);
    exit(1);
}

/* The links, written with SQL: the store's own import would take longer
 * and measures something else. */
static void build(const char *path, long links, apr_pool_t *pool)
{
    ml_store *store;
    sqlite3 *db;
    char *sql, *error = NULL;

    if (ml_store_open(&store, path, ML_STORE_CREATE, pool) != APR_SUCCESS
        || ml_store_init(store) != APR_SUCCESS) {
        fail(path, ml_store_error(store));
    }
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fail(path, sqlite3_errmsg(db));
    }
    sql = apr_psprintf(pool,
        "BEGIN;"
        "INSERT INTO tags (name) VALUES ('news'), ('sale');"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
        "  WHERE i < %ld)"
        " INSERT INTO links (slug, url, created_at, updated_at, clicks, title)"
        " SELECT 's' || i, 'https://example.com/' || hex(randomblob(8)),"
        "  1600000000 + abs(random() %% 94608000), 1700000000,"
        "  abs(random() %% 100000),"
        "  CASE WHEN i %% 10 = 0 THEN 'Title ' || hex(randomblob(4)) END"
        " FROM n;"
        "INSERT INTO link_tags (link_id, tag_id)"
        "  SELECT id, 1 + id %% 2 FROM links WHERE id %% 5 = 0;"
        "DELETE FROM link_changes;"
        "COMMIT; ANALYZE;", links);
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fail("building the links", error);
    }
    sqlite3_close(db);
}

static apr_status_t ignore_row(void *ctx, const ml_link *link,
                               const char *problem)
{
    (void)link, (void)problem;
    ++*(int *)ctx;
    return APR_SUCCESS;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of ROUNDS runs of the query, in ms; *rows: rows of the last. */
static double time_query(ml_store *store, const ml_store_list_query *query,
                         int count, int *rows)
{
    double ms[ROUNDS];
    apr_uint64_t total;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        apr_time_t start = apr_time_now();
        *rows = 0;
        if (ml_store_list(store, query, ignore_row, rows,
                          count ? &total : NULL) != APR_SUCCESS) {
            fail("listing", ml_store_error(store));
        }
        ms[i] = (double)(apr_time_now() - start) / 1000.0;
    }
    qsort(ms, ROUNDS, sizeof(ms[0]), by_value);
    return ms[ROUNDS / 2];
}

int main(int argc, char **argv)
{
    static const char *const order_names[ML_LIST_ORDERS] = {
        "dateCreated", "shortCode", "longUrl", "title", "visits" };
    static const char *const news[] = { "news" };
    long links = argc > 1 ? atol(argv[1]) : 1000000;
    char dir[] = "/tmp/minilink-bench-list-XXXXXX";
    const char *path;
    apr_pool_t *pool;
    ml_store *store;
    ml_store_list_query query;
    int order, descending, rows;

    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&pool, NULL);
    if (argc > 2) {
        path = apr_pstrcat(pool, argv[2], "/list.db", NULL);
    }
    else if (mkdtemp(dir) == NULL) {
        fail("mkdtemp", "failed");
    }
    else {
        path = apr_pstrcat(pool, dir, "/list.db", NULL);
    }
    build(path, links, pool);
    if (ml_store_open(&store, path, ML_STORE_READ, pool) != APR_SUCCESS) {
        fail(path, ml_store_error(store));
    }
    printf("%ld links; ms, median of %d (page 1 of %d | page 1000 | page 1"
           " with its total)\n", links, ROUNDS, PAGE);
    for (order = 0; order < ML_LIST_ORDERS; order++) {
        for (descending = 0; descending < 2; descending++) {
            double first, deep, counted;
            memset(&query, 0, sizeof(query));
            query.order = (ml_store_list_order)order;
            query.descending = descending;
            query.items_per_page = PAGE;
            query.page = 1;
            first = time_query(store, &query, 0, &rows);
            query.page = 1000;
            deep = time_query(store, &query, 0, &rows);
            query.page = 1;
            counted = time_query(store, &query, 1, &rows);
            printf("%-12s %-4s %8.3f %8.3f %8.3f\n", order_names[order],
                   descending ? "DESC" : "ASC", first, deep, counted);
        }
    }
    memset(&query, 0, sizeof(query));
    query.order = ML_LIST_BY_CREATED;
    query.descending = 1;
    query.items_per_page = PAGE;
    query.search = "abc";
    printf("%-17s %8.3f (with its total: %.3f)\n", "search 'abc'",
           time_query(store, &query, 0, &rows),
           time_query(store, &query, 1, &rows));
    query.search = NULL;
    query.tags = news;
    query.ntags = 1;
    printf("%-17s %8.3f (with its total: %.3f)\n", "tag 'news'",
           time_query(store, &query, 0, &rows),
           time_query(store, &query, 1, &rows));
    if (argc <= 2) {
        unlink(path);
        unlink(apr_pstrcat(pool, path, "-wal", NULL));
        unlink(apr_pstrcat(pool, path, "-shm", NULL));
        rmdir(dir);
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}
