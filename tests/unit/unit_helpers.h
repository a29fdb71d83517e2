/*
 * unit_helpers.h - what several test files share: temporary directories,
 * files of raw bytes, SQL run on a database behind the store's back, and
 * a link with every rule.
 */
#ifndef UNIT_HELPERS_H
#define UNIT_HELPERS_H

#include <apr_pools.h>
#include <sqlite3.h>
#include "../../links/ml_store.h"

/* A per-test scratch area: a pool and a fresh directory under /tmp. */
typedef struct {
    apr_pool_t *pool;
    char dir[64];
} ut_scratch;

/* Creates the pool and the directory; 0 on failure (then nothing to undo). */
int ut_scratch_open(ut_scratch *scratch);

/* Removes the directory with the files in it, then destroys the pool. */
void ut_scratch_close(ut_scratch *scratch);

/*
 * Closes every scratch area still open: those of tests that a fatal
 * assertion ended before their ut_scratch_close().  Called by the runner.
 */
void ut_scratch_close_leftovers(void);

/* dir/name, allocated from the scratch pool. */
const char *ut_path(const ut_scratch *scratch, const char *name);

/* Writes len bytes to path (created or truncated); 0 on failure. */
int ut_write_file(const char *path, const void *bytes, apr_size_t len);

/* A link with these fields (status, expires_at: 0 = not set), and
 * ml_store_add() of one. */
ml_link ut_link(const char *slug, const char *url, int status,
                apr_int64_t expires_at, int disabled);
apr_status_t ut_add_link(ml_store *store, apr_pool_t *pool, const char *slug,
                         const char *url, int status, apr_int64_t expires_at,
                         int disabled);

/* A file of bytes that is no SQLite database, at dir/name. */
const char *ut_garbage_file(const ut_scratch *scratch, const char *name);

/* A valid SQLite database that is not ours (one table "foo"), at dir/name. */
const char *ut_foreign_db(const ut_scratch *scratch, const char *name);

/*
 * Runs sql on the database at path through a connection of its own.
 * Returns the SQLite result code; *rowid (if not NULL) gets the rowid of
 * the last insert made by this connection.
 */
int ut_sql(const char *path, const char *sql, sqlite3_int64 *rowid);

/* The number a one-number query gives on the file at path, through a
 * read-only connection of its own; -1 if it cannot be read. */
long ut_sql_number(const char *path, const char *sql);

/*
 * Inserts one row into links with raw SQL (created_at and updated_at are
 * given, as the documented schema has no default for them).  slug and url
 * are SQL literals or expressions, status and expires_at too ("NULL" ok).
 * Returns the SQLite result code; a CHECK constraint may refuse the row.
 */
int ut_insert_raw(const char *path, const char *slug_sql, const char *url_sql,
                  const char *status_sql, sqlite3_int64 *rowid);

/*
 * A link with every rule of schema 2 set, in pool: status 301, the title
 * "A title \xc3\xa9", tags "news" and "sale", valid since 1700000000, 10
 * visits, the fallback https://example.com/fallback, a bcrypt hash,
 * forward query off and path on, crawlable, and three redirect rules:
 * iOS to /ios, French to /fr, and ?q=a b from 10.0.0.0/8 to /in.
 */
void ut_rich_link(ml_link *link, const char *slug, apr_pool_t *pool);

#endif /* UNIT_HELPERS_H */
