/*
 * unit_helpers.c - temporary directories, raw files and raw SQL for tests.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_rules.h"
#include "unit_helpers.h"

/*
 * Copies of the scratch areas now open.  A fatal CUnit assertion leaves its
 * test with a longjmp, so the test's own ut_scratch (on its stack) is gone
 * but these copies still say what to remove.
 */
#define MAX_OPEN 16
static ut_scratch open_areas[MAX_OPEN];

int ut_scratch_open(ut_scratch *scratch)
{
    int i;

    strcpy(scratch->dir, "/tmp/minilink-unit-XXXXXX");
    if (mkdtemp(scratch->dir) == NULL) {
        return 0;
    }
    if (apr_pool_create(&scratch->pool, NULL) != APR_SUCCESS) {
        rmdir(scratch->dir);
        return 0;
    }
    for (i = 0; i < MAX_OPEN; i++) {
        if (open_areas[i].pool == NULL) {
            open_areas[i] = *scratch;
            break;
        }
    }
    return 1;
}

void ut_scratch_close(ut_scratch *scratch)
{
    DIR *dir;
    struct dirent *entry;
    char path[512];
    int i;

    for (i = 0; i < MAX_OPEN; i++) {
        if (open_areas[i].pool == scratch->pool
            && strcmp(open_areas[i].dir, scratch->dir) == 0) {
            open_areas[i].pool = NULL;
        }
    }
    /* The pool first: its cleanups close SQLite connections to the files. */
    apr_pool_destroy(scratch->pool);
    scratch->pool = NULL;
    /* Only plain files are made in a scratch directory (the database,
     * its -wal and -shm, captured output), so no recursion is needed. */
    if ((dir = opendir(scratch->dir)) != NULL) {
        while ((entry = readdir(dir)) != NULL) {
            if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) {
                snprintf(path, sizeof(path), "%s/%s", scratch->dir,
                         entry->d_name);
                unlink(path);
            }
        }
        closedir(dir);
    }
    rmdir(scratch->dir);
}

void ut_scratch_close_leftovers(void)
{
    int i;

    for (i = 0; i < MAX_OPEN; i++) {
        if (open_areas[i].pool != NULL) {
            ut_scratch leftover = open_areas[i];
            ut_scratch_close(&leftover);
        }
    }
}

const char *ut_path(const ut_scratch *scratch, const char *name)
{
    return apr_pstrcat(scratch->pool, scratch->dir, "/", name, NULL);
}

int ut_write_file(const char *path, const void *bytes, apr_size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ssize_t written;

    if (fd < 0) {
        return 0;
    }
    written = write(fd, bytes, len);
    close(fd);
    return written == (ssize_t)len;
}

const char *ut_garbage_file(const ut_scratch *scratch, const char *name)
{
    const char *path = ut_path(scratch, name);
    char bytes[4096];
    apr_size_t i;

    /* Longer than SQLite's 100-byte header, and not starting with it. */
    for (i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (char)((i * 7 + 3) & 0xff);
    }
    memcpy(bytes, "this is not a database\n", 23);
    return ut_write_file(path, bytes, sizeof(bytes)) ? path : NULL;
}

const char *ut_foreign_db(const ut_scratch *scratch, const char *name)
{
    const char *path = ut_path(scratch, name);

    return ut_sql(path, "CREATE TABLE foo(x); INSERT INTO foo VALUES (1);",
                  NULL) == SQLITE_OK ? path : NULL;
}

int ut_sql(const char *path, const char *sql, sqlite3_int64 *rowid)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rowid) {
            *rowid = sqlite3_last_insert_rowid(db);
        }
    }
    sqlite3_close(db);
    return rc;
}

int ut_insert_raw(const char *path, const char *slug_sql, const char *url_sql,
                  const char *status_sql, sqlite3_int64 *rowid)
{
    char *sql = sqlite3_mprintf(
        "INSERT INTO links (slug, url, status, expires_at, disabled,"
        " created_at, updated_at) VALUES (%s, %s, %s, NULL, 0,"
        " 1700000000, 1700000000)", slug_sql, url_sql, status_sql);
    int rc = ut_sql(path, sql, rowid);

    sqlite3_free(sql);
    return rc;
}

ml_link ut_link(const char *slug, const char *url, int status,
                apr_int64_t expires_at, int disabled)
{
    ml_link link = {0};

    link.slug = slug;
    link.url = url;
    link.status = status;
    link.expires_at = expires_at;
    link.disabled = disabled;
    return link;
}

apr_status_t ut_add_link(ml_store *store, apr_pool_t *pool, const char *slug,
                         const char *url, int status, apr_int64_t expires_at,
                         int disabled)
{
    ml_link link = ut_link(slug, url, status, expires_at, disabled);

    return ml_store_add(store, &link, pool);
}

void ut_rich_link(ml_link *link, const char *slug, apr_pool_t *pool)
{
    apr_array_header_t *tags = apr_array_make(pool, 2, sizeof(const char *));
    ml_rule *rules;
    int count;

    memset(link, 0, sizeof(*link));
    link->slug = slug;
    link->url = "https://example.com/rich";
    link->status = 301;
    link->title = "A title \xc3\xa9";
    APR_ARRAY_PUSH(tags, const char *) = "news";
    APR_ARRAY_PUSH(tags, const char *) = "sale";
    link->tags = tags;
    link->valid_since = 1700000000;
    link->max_visits = 10;
    link->fallback_url = "https://example.com/fallback";
    link->password_hash = "$2y$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234";
    link->forward_query = ML_CHOICE_OFF;
    link->forward_path = ML_CHOICE_ON;
    link->crawlable = 1;
    CU_ASSERT_PTR_NULL_FATAL(ml_rules_parse("--device ios https://example.com/ios\n"
                                            "--language fr https://example.com/fr\n"
                                            "--query q=a%20b --ip 10.0.0.0/8 "
                                            "https://example.com/in",
                                            &rules, &count, pool));
    link->rules = rules;
    link->nrules = count;
}

long ut_sql_number(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *query = NULL;
    long number = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, sql, -1, &query, NULL) == SQLITE_OK
        && sqlite3_step(query) == SQLITE_ROW) {
        number = (long)sqlite3_column_int64(query, 0);
    }
    sqlite3_finalize(query);
    sqlite3_close(db);
    return number;
}
