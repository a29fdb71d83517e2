/*
 * test_upgrade.c - SQLite databases of schema versions 1 and 2, made by
 * the code that wrote each (tests/fixtures/v1.db and v2.db, see their
 * README), read as they are, then upgraded: every row of every table
 * compared before and after.
 * (The PostgreSQL twin is in tests/integration/test_pgsql.c.)  Run from
 * the checkout's top, as the Makefile runs the unit tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_store.h"
#include "../../sync/ml_load.h"
#include "unit_helpers.h"
#include "unit_suites.h"

#define FIXTURE "tests/fixtures/v1.db"

/* The columns of version 1's tables, as every check reads them. */
static const char *const v1_tables[] = {
    "SELECT id, slug, url, status, expires_at, disabled, created_at, "
    "updated_at, clicks, last_click_at FROM links ORDER BY id",
    "SELECT seq, slug, changed_at FROM link_changes ORDER BY seq",
    "SELECT key, value FROM minilink_meta WHERE key <> 'schema_version' "
    "ORDER BY key",
    "SELECT seq FROM sqlite_sequence WHERE name = 'link_changes'",
};

/* Every row of a query, each value as SQL's quote() writes it. */
static char *dump(const char *path, const char *sql, apr_pool_t *pool)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *query = NULL;
    char *text = "";
    int i;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db, apr_psprintf(pool, "SELECT * FROM (%s)", sql),
                              -1, &query, NULL) != SQLITE_OK) {
        text = apr_psprintf(pool, "cannot read: %s", sqlite3_errmsg(db));
    }
    while (query && sqlite3_step(query) == SQLITE_ROW) {
        for (i = 0; i < sqlite3_column_count(query); i++) {
            const char *value = (const char *)sqlite3_column_text(query, i);
            text = apr_pstrcat(pool, text, i ? "|" : "",
                               value ? apr_psprintf(pool, "'%s'", value)
                                     : "NULL", NULL);
        }
        text = apr_pstrcat(pool, text, "\n", NULL);
    }
    sqlite3_finalize(query);
    sqlite3_close(db);
    return text;
}

static long one_number(const char *path, const char *sql, apr_pool_t *pool)
{
    char *text = dump(path, sql, pool);

    return text[0] == '\'' ? strtol(text + 1, NULL, 10) : -1;
}

/* A copy of the fixture in the scratch directory. */
static const char *copy_fixture(ut_scratch *scratch)
{
    const char *path = ut_path(scratch, "v1.db");

    return apr_file_copy(FIXTURE, path, APR_FPROT_FILE_SOURCE_PERMS,
                         scratch->pool) == APR_SUCCESS ? path : NULL;
}

static apr_status_t count_row(void *ctx, const ml_link *link,
                              const char *problem)
{
    (void)link;
    ++*(int *)ctx;
    return problem && strcmp(link->slug, "bad") != 0 ? APR_EGENERAL
                                                     : APR_SUCCESS;
}

static void skip_nothing(void *ctx, const char *slug, apr_int64_t id,
                         const char *problem)
{
    (void)id;
    (void)problem;
    CU_ASSERT_STRING_EQUAL(slug, "bad");   /* the row that breaks a rule */
    ++*(int *)ctx;
}

/* Version 1 is read as it is: every row, the new fields absent; links are
 * not written to it. */
static void test_version_1_read_as_it_is(void)
{
    ut_scratch scratch;
    const char *path;
    ml_store *store;
    ml_link link = {0};
    ml_cache *cache;
    ml_load_counts counts;
    const char *error;
    int rows = 0, skipped = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    CU_ASSERT_PTR_NOT_NULL_FATAL(path = copy_fixture(&scratch));
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_schema(store), 1);
    CU_ASSERT_EQUAL(ml_store_each(store, count_row, &rows), APR_SUCCESS);
    CU_ASSERT_EQUAL(rows, 13);
    CU_ASSERT_EQUAL(ml_store_get(store, "plain", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(link.clicks, 42);
    CU_ASSERT_FALSE(ml_link_has_rules(&link));
    link.slug = "new";
    CU_ASSERT_NOT_EQUAL(ml_store_add(store, &link, scratch.pool), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(ml_store_error(store), "upgrade"));
    CU_ASSERT_EQUAL(ml_load(&cache, path, ML_CACHE_HEADROOM_DEFAULT, 0, NULL,
                            NULL, scratch.pool, skip_nothing, &skipped, &counts,
                            &error), APR_SUCCESS);
    CU_ASSERT_EQUAL(counts.loaded, 12);
    CU_ASSERT_EQUAL(counts.schema, 1);
    CU_ASSERT_EQUAL(skipped, 1);
    ut_scratch_close(&scratch);
}

static void test_upgrade_keeps_every_row(void)
{
    ut_scratch scratch;
    const char *path, *before[4];
    ml_store *store;
    ml_link link = {0};
    size_t i;
    int from = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    CU_ASSERT_PTR_NOT_NULL_FATAL(path = copy_fixture(&scratch));
    for (i = 0; i < 4; i++) {
        before[i] = dump(path, v1_tables[i], scratch.pool);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(before[0], "'10'|'later'"));
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_upgrade(store, &from), APR_SUCCESS);
    CU_ASSERT_EQUAL(from, 1);
    CU_ASSERT_EQUAL(ml_store_schema(store), ML_STORE_SCHEMA_VERSION);
    for (i = 0; i < 4; i++) {
        CU_ASSERT_STRING_EQUAL(dump(path, v1_tables[i], scratch.pool), before[i]);
    }
    CU_ASSERT_EQUAL(one_number(path, "SELECT user_version FROM pragma_user_version", scratch.pool), ML_STORE_SCHEMA_VERSION);
    /* The new columns at their "not set", on every row. */
    CU_ASSERT_EQUAL(one_number(path, "SELECT count(*) FROM links WHERE title "
                               "IS NOT NULL OR valid_since IS NOT NULL OR "
                               "max_visits IS NOT NULL OR fallback_url IS NOT "
                               "NULL OR password_hash IS NOT NULL OR "
                               "forward_query IS NOT NULL OR forward_path IS "
                               "NOT NULL OR crawlable <> 0", scratch.pool), 0);
    /* No id below one version 1 may have given: above the 21 changes. */
    link.url = "https://example.com/after";
    link.slug = "after";
    CU_ASSERT_EQUAL(ml_store_add(store, &link, scratch.pool), APR_SUCCESS);
    CU_ASSERT(link.id > 21);
    /* The triggers watch the new columns and tables. */
    CU_ASSERT_EQUAL(ml_store_get(store, "plain", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    link.title = "Plain";
    CU_ASSERT_EQUAL(ml_store_update(store, &link), APR_SUCCESS);
    CU_ASSERT_EQUAL(one_number(path, "SELECT count(*) FROM link_changes WHERE "
                               "slug = 'plain' AND seq > 21", scratch.pool), 1);
    CU_ASSERT_EQUAL(ml_store_upgrade(store, &from), APR_SUCCESS);
    CU_ASSERT_EQUAL(from, ML_STORE_SCHEMA_VERSION);
    ut_scratch_close(&scratch);
}

/* One transaction: a step that fails leaves version 1 as it was. */
static void test_upgrade_all_or_nothing(void)
{
    ut_scratch scratch;
    const char *path, *before;
    ml_store *store;
    int from = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    CU_ASSERT_PTR_NOT_NULL_FATAL(path = copy_fixture(&scratch));
    /* A table in the way of one of version 2's, made by someone else. */
    CU_ASSERT_EQUAL_FATAL(ut_sql(path, "CREATE TABLE tags (x)", NULL),
                          SQLITE_OK);
    before = dump(path, "SELECT sql FROM sqlite_schema ORDER BY name",
                  scratch.pool);
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(ml_store_upgrade(store, &from), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(ml_store_error(store), "tags"));
    CU_ASSERT_EQUAL(ml_store_schema(store), 1);
    CU_ASSERT_STRING_EQUAL(dump(path, "SELECT sql FROM sqlite_schema ORDER BY "
                                "name", scratch.pool), before);
    CU_ASSERT_EQUAL(one_number(path, "SELECT user_version FROM pragma_user_version", scratch.pool), 1);
    ut_scratch_close(&scratch);
}

/* ---- version 2 (tests/fixtures/v2.db) to 3 ------------------------------ */

#define FIXTURE_2 "tests/fixtures/v2.db"

/* Every table of version 2, every column, as every check reads them. */
static const char *const v2_tables[] = {
    "SELECT id, slug, url, status, expires_at, disabled, created_at,"
    " updated_at, clicks, last_click_at, title, valid_since, max_visits,"
    " fallback_url, password_hash, forward_query, forward_path, crawlable"
    " FROM links ORDER BY id",
    "SELECT id, name FROM tags ORDER BY id",
    "SELECT link_id, tag_id FROM link_tags ORDER BY link_id, tag_id",
    "SELECT id, link_id, priority, long_url FROM redirect_rules ORDER BY id",
    "SELECT rule_id, position, type, match_key, match_value"
    " FROM redirect_conditions ORDER BY rule_id, position",
    "SELECT id, link_id, visited_at, orphan_type, referrer, user_agent, bot,"
    " redirect_url, visited_path, country, ip FROM visits ORDER BY id",
    "SELECT link_id, day, clicks, bots FROM visits_daily ORDER BY link_id, day",
    "SELECT key, value FROM minilink_meta ORDER BY key",
    "SELECT seq, slug, changed_at FROM link_changes ORDER BY seq",
    "SELECT name, seq FROM sqlite_sequence ORDER BY name",
};
#define NV2_TABLES (sizeof(v2_tables) / sizeof(v2_tables[0]))

static const char *copy_fixture_2(ut_scratch *scratch)
{
    const char *path = ut_path(scratch, "v2.db");

    return apr_file_copy(FIXTURE_2, path, APR_FPROT_FILE_SOURCE_PERMS,
                         scratch->pool) == APR_SUCCESS ? path : NULL;
}

static void test_upgrade_2_keeps_every_row(void)
{
    ut_scratch scratch;
    const char *path, *before[NV2_TABLES];
    ml_store *store;
    ml_link link = {0};
    ml_store_list_query mine;
    apr_uint64_t total = 9;
    size_t i;
    int from = 0, rows = 0;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    CU_ASSERT_PTR_NOT_NULL_FATAL(path = copy_fixture_2(&scratch));
    for (i = 0; i < NV2_TABLES; i++) {
        before[i] = dump(path, v2_tables[i], scratch.pool);
        CU_ASSERT_PTR_NULL(strstr(before[i], "cannot read"));
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(before[0], "'Winter sale"));
    CU_ASSERT_PTR_NOT_NULL(strstr(before[5], "'invalid_short_url'"));
    /* Read as it is (no owners) before the upgrade. */
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_schema(store), 2);
    CU_ASSERT_EQUAL(ml_store_get(store, "app", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(link.nrules, 2);
    CU_ASSERT_PTR_NULL(link.owner);
    CU_ASSERT_EQUAL(ml_store_each(store, count_row, &rows), APR_SUCCESS);
    CU_ASSERT_EQUAL(rows, 10);

    CU_ASSERT_EQUAL_FATAL(ml_store_upgrade(store, &from), APR_SUCCESS);
    CU_ASSERT_EQUAL(from, 2);
    CU_ASSERT_EQUAL(ml_store_schema(store), 3);
    for (i = 0; i < NV2_TABLES; i++) {
        CU_ASSERT_STRING_EQUAL(dump(path, v2_tables[i], scratch.pool), before[i]);
    }
    CU_ASSERT_EQUAL(one_number(path, "SELECT user_version FROM pragma_user_version",
                               scratch.pool), 3);
    CU_ASSERT_EQUAL(one_number(path, "SELECT count(*) FROM links WHERE owner"
                               " IS NOT NULL", scratch.pool), 0);
    CU_ASSERT_EQUAL(one_number(path, "SELECT count(*) FROM api_keys",
                               scratch.pool), 0);
    /* Every index a listing orders by is there. */
    CU_ASSERT_EQUAL(one_number(path, "SELECT count(*) FROM sqlite_schema WHERE"
                               " name IN ('links_by_created', 'links_by_title',"
                               " 'links_by_owner')", scratch.pool), 3);
    /* A link written now has an owner; a listing of that owner's finds it. */
    link.id = 0;
    link.slug = "mine";
    link.url = "https://example.com/mine";
    link.tags = NULL;
    link.rules = NULL;
    link.nrules = 0;
    link.owner = "alice";
    CU_ASSERT_EQUAL(ml_store_add(store, &link, scratch.pool), APR_SUCCESS);
    memset(&mine, 0, sizeof(mine));
    mine.owner = "alice";
    mine.items_per_page = 10;
    CU_ASSERT_EQUAL(ml_store_list(store, &mine, count_row, &rows, &total),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(total, 1);
    CU_ASSERT_EQUAL(ml_store_get(store, "mine", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(link.owner, "alice");
    /* The rules came through: the password link still has its hash. */
    CU_ASSERT_EQUAL(ml_store_get(store, "offer", &link, NULL, scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(link.password_hash);
    CU_ASSERT_EQUAL(link.max_visits, 100);
    ut_scratch_close(&scratch);
}

void add_upgrade_suite(void)
{
    CU_pSuite suite = CU_add_suite("upgrade (tests/fixtures/v1.db)", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "version 1 is read as it is, not written",
                test_version_1_read_as_it_is);
    CU_add_test(suite, "upgrade keeps every row of every table",
                test_upgrade_keeps_every_row);
    CU_add_test(suite, "upgrade is one transaction", test_upgrade_all_or_nothing);
    CU_add_test(suite, "version 2 (v2.db) to 3 keeps every row of every table",
                test_upgrade_2_keeps_every_row);
}
