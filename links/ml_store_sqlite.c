/*
 * ml_store_sqlite.c - the links table in a SQLite file (ml_store_engine.h).
 *
 * Decisions, written down once:
 * - The file says it is ours with PRAGMA application_id ("MLNK") and its
 *   schema version with PRAGMA user_version, so a wrong path is refused
 *   with a clear message instead of serving someone else's table.
 * - WAL journal mode (set by init, stored in the file): readers - the loader
 *   in Apache - never block the CLI's writes, and writes never block them.
 * - busy_timeout of 5 s: a writer waits out another writer's short
 *   transaction instead of failing at once.
 * - temp_store = MEMORY: statement journals in memory (see sqlite_open).
 * - Statements are prepared on first use and kept until the store's pool
 *   is cleared, which also closes the connection.
 * - CHECK constraints repeat the simple rules (slug alphabet, status, flag)
 *   for people editing with sqlite3; URL rules are too rich for SQL, so
 *   every row is validated again when it is read (ml_link_problem).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include "ml_store_engine.h"

#define ML_APPLICATION_ID 0x4d4c4e4b        /* "MLNK" */
/* The page cache a bulk load may use, in KiB (sqlite_insert_group). */
#define BULK_CACHE_KIB "1048576"
#define BUSY_TIMEOUT_MS 5000
/* The page cache of a connection that writes visits, in KiB: the drain
 * keeps its connection, and each of its transactions touches pages of the
 * visits-by-link index and the roll-up all over (a click's link is any
 * link); with SQLite's 2 MB they were read again at every drain. */
#define VISITS_CACHE_KIB "65536"

/*
 * Schema version 2's visits (issue 16): one row per click or orphan 404,
 * and a daily roll-up per link kept beyond the visits' retention.  A
 * link's visits go with it (a trigger: SQLite enforces foreign keys only
 * where a connection asks, and sqlite3 sessions do not).
 */
#define VISITS_SCHEMA \
    "CREATE TABLE visits (" \
    "  id           INTEGER PRIMARY KEY," \
    "  link_id      INTEGER," \
    "  visited_at   INTEGER NOT NULL," \
    "  orphan_type  TEXT CHECK (orphan_type IN" \
    "               ('invalid_short_url', 'base_url', 'regular_404'))," \
    "  referrer     TEXT," \
    "  user_agent   TEXT," \
    "  bot          INTEGER NOT NULL DEFAULT 0 CHECK (bot IN (0, 1))," \
    "  redirect_url TEXT," \
    "  visited_path TEXT NOT NULL," \
    "  country      TEXT," \
    "  ip           TEXT," \
    "  CHECK ((link_id IS NULL) <> (orphan_type IS NULL))" \
    ");" \
    "CREATE INDEX visits_by_link ON visits (link_id, visited_at);" \
    "CREATE INDEX visits_by_time ON visits (visited_at);" \
    "CREATE TABLE visits_daily (" \
    "  link_id INTEGER NOT NULL," \
    "  day     INTEGER NOT NULL," \
    "  clicks  INTEGER NOT NULL," \
    "  bots    INTEGER NOT NULL," \
    "  PRIMARY KEY (link_id, day)" \
    ") WITHOUT ROWID;" \
    "CREATE TRIGGER links_delete_visits AFTER DELETE ON links" \
    "  BEGIN" \
    "    DELETE FROM visits WHERE link_id = OLD.id;" \
    "    DELETE FROM visits_daily WHERE link_id = OLD.id;" \
    "  END;"

/*
 * From schema version 1 to 2, in order, in upgrade's one transaction; a
 * group of statements per feature (the version mark is set after them).
 */
static const char *const upgrade_to_2[] = {
    /* Visits: the tables, their indexes, the trigger (issue 16). */
    VISITS_SCHEMA,
};

static const char schema_sql[] =
    "CREATE TABLE links ("
    "  id         INTEGER PRIMARY KEY,"
    "  slug       TEXT    NOT NULL UNIQUE"
    "             CHECK (length(slug) BETWEEN 1 AND 64"
    "                    AND slug NOT GLOB '*[^A-Za-z0-9_-]*'),"
    "  url        TEXT    NOT NULL,"
    "  status     INTEGER CHECK (status IS NULL"
    "                            OR status IN (301, 302, 303, 307, 308)),"
    "  expires_at INTEGER CHECK (expires_at IS NULL OR expires_at >= 0),"
    "  disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    "  created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),"
    "  updated_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),"
    "  clicks     INTEGER NOT NULL DEFAULT 0,"
    "  last_click_at INTEGER"
    ");"
    "CREATE INDEX links_by_url ON links (url);"
    "CREATE INDEX links_by_clicks ON links (clicks);"
    /* Small facts the module keeps, such as the last click batch flushed. */
    "CREATE TABLE minilink_meta ("
    "  key   TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ");"
    "CREATE TRIGGER links_updated_at"
    "  AFTER UPDATE OF slug, url, status, expires_at, disabled ON links"
    "  BEGIN"
    "    UPDATE links SET updated_at = CAST(strftime('%s','now') AS INTEGER)"
    "    WHERE id = NEW.id;"
    "  END;"
    /* Every change to links, however it is made (module, CLI, sqlite3),
     * leaves the slug it touched here; Apache applies just those. */
    "CREATE TABLE link_changes ("
    "  seq        INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  slug       TEXT    NOT NULL,"
    "  changed_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER))"
    ");"
    "CREATE TRIGGER links_insert_logged AFTER INSERT ON links"
    "  BEGIN INSERT INTO link_changes (slug) VALUES (NEW.slug); END;"
    "CREATE TRIGGER links_update_logged"
    "  AFTER UPDATE OF slug, url, status, expires_at, disabled ON links"
    "  BEGIN"
    "    INSERT INTO link_changes (slug) VALUES (OLD.slug);"
    "    INSERT INTO link_changes (slug) SELECT NEW.slug WHERE NEW.slug <> OLD.slug;"
    "  END;"
    "CREATE TRIGGER links_delete_logged AFTER DELETE ON links"
    "  BEGIN INSERT INTO link_changes (slug) VALUES (OLD.slug); END;"
    VISITS_SCHEMA;

/* What the cache serves a link from, then the rest of the row. */
#define SERVED_COLUMNS "id, slug, url, status, expires_at, disabled"
#define LINK_COLUMNS \
    SERVED_COLUMNS ", created_at, updated_at, clicks, last_click_at"
/* The loader's scan maps up to this much of the file instead of copying
 * each page through read() (1M links: 240 ms instead of 400 for a fresh
 * connection).  Only there: a mapped file that fails to read raises
 * SIGBUS instead of an error, so everything else keeps read(). */
#define LOAD_MMAP_BYTES "1073741824"

typedef struct {
    sqlite3 *db;
    const char *path;
    apr_ino_t inode;             /* of the file opened, to see it replaced */
    apr_dev_t device;
    sqlite3_stmt *insert_link;
    sqlite3_stmt *insert_group_row;
    int bulk_cache;              /* the page cache was raised for a group */
    int visits_cache;            /* ... for visits */
    sqlite3_stmt *update_link;
    sqlite3_stmt *select_by_url;
    sqlite3_stmt *delete_link;
    sqlite3_stmt *select_link;
    sqlite3_stmt *select_all;
    sqlite3_stmt *select_served;
    sqlite3_stmt *count_links;
    sqlite3_stmt *newest_change;
    sqlite3_stmt *oldest_change;
    sqlite3_stmt *changes_after;
    sqlite3_stmt *prune_changes;
    sqlite3_stmt *add_clicks;
    sqlite3_stmt *meta_get;
    sqlite3_stmt *meta_set;
    sqlite3_stmt *top_links;
    sqlite3_stmt *click_total;
    sqlite3_stmt *add_visit;
    sqlite3_stmt *add_visit_day;
    sqlite3_stmt *prune_visits;
    sqlite3_stmt *select_visits[4];      /* visits_query_sql() */
    sqlite3_stmt *count_visits[2];       /* a link's, orphans */
    sqlite3_stmt *select_visit_days;
    apr_pool_t *pool;            /* the store's */
} sqlite_store;

#define DB(store) ((sqlite_store *)(store)->data)

/*
 * What to do when SQLite could not open or set up the files of a WAL
 * database: a reader too must create <file>-wal and <file>-shm beside it
 * when they are missing, which a user who may not write the directory
 * cannot (a read-only directory: "attempt to write a readonly database").
 * "" when that is not the trouble.
 */
static const char *directory_hint(ml_store *store)
{
    int code = sqlite3_extended_errcode(DB(store)->db);
    const char *path = DB(store)->path;
    const char *slash = strrchr(path, '/');
    const char *dir = slash ? apr_pstrmemdup(DB(store)->pool, path,
                                             slash > path ? (apr_size_t)(slash - path) : 1)
                            : ".";

    if ((code & 0xff) != SQLITE_CANTOPEN && code != SQLITE_READONLY_CANTINIT
        && code != SQLITE_READONLY_DIRECTORY && code != SQLITE_READONLY) {
        return "";
    }
    if (access(dir, W_OK) == 0) {
        return "";
    }
    return apr_psprintf(DB(store)->pool, " (SQLite needs to create %s-wal "
                        "and %s-shm, and this user may not write in %s: run "
                        "it as a user who may, such as the server's - "
                        "sudo -u www-data ... - or let this one write there)",
                        path, path, dir);
}

/* The error for a failed SQLite call, naming the file. */
static apr_status_t sqlite_failed(ml_store *store, const char *doing)
{
    return ml_store_fail(store, "%s: %s failed: %s%s", store->label, doing,
                         sqlite3_errmsg(DB(store)->db), directory_hint(store));
}

static apr_status_t close_store(void *data)
{
    sqlite_store *store = data;

    sqlite3_finalize(store->insert_link);
    sqlite3_finalize(store->insert_group_row);
    sqlite3_finalize(store->update_link);
    sqlite3_finalize(store->select_by_url);
    sqlite3_finalize(store->delete_link);
    sqlite3_finalize(store->select_link);
    sqlite3_finalize(store->select_all);
    sqlite3_finalize(store->select_served);
    sqlite3_finalize(store->count_links);
    sqlite3_finalize(store->newest_change);
    sqlite3_finalize(store->oldest_change);
    sqlite3_finalize(store->changes_after);
    sqlite3_finalize(store->prune_changes);
    sqlite3_finalize(store->add_clicks);
    sqlite3_finalize(store->meta_get);
    sqlite3_finalize(store->meta_set);
    sqlite3_finalize(store->top_links);
    sqlite3_finalize(store->click_total);
    sqlite3_finalize(store->add_visit);
    sqlite3_finalize(store->add_visit_day);
    sqlite3_finalize(store->prune_visits);
    sqlite3_finalize(store->select_visits[0]);
    sqlite3_finalize(store->select_visits[1]);
    sqlite3_finalize(store->select_visits[2]);
    sqlite3_finalize(store->select_visits[3]);
    sqlite3_finalize(store->count_visits[0]);
    sqlite3_finalize(store->count_visits[1]);
    sqlite3_finalize(store->select_visit_days);
    sqlite3_close(store->db);
    return APR_SUCCESS;
}

/* Prepares *statement on first use; NULL (with the error set) on failure. */
static sqlite3_stmt *statement(ml_store *store, sqlite3_stmt **statement,
                               const char *sql)
{
    if (*statement == NULL
        && sqlite3_prepare_v3(DB(store)->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                              statement, NULL) != SQLITE_OK) {
        sqlite_failed(store, "preparing a statement");
        return NULL;
    }
    sqlite3_reset(*statement);
    sqlite3_clear_bindings(*statement);
    return *statement;
}

static apr_status_t exec(ml_store *store, const char *sql, const char *doing)
{
    if (sqlite3_exec(DB(store)->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return sqlite_failed(store, doing);
    }
    return APR_SUCCESS;
}

static apr_status_t pragma_int(ml_store *store, const char *sql, int *value)
{
    sqlite3_stmt *query;
    int rc = sqlite3_prepare_v2(DB(store)->db, sql, -1, &query, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(query);
        *value = rc == SQLITE_ROW ? sqlite3_column_int(query, 0) : 0;
    }
    sqlite3_finalize(query);
    if (rc != SQLITE_ROW) {
        return sqlite_failed(store, "reading the file header");
    }
    return APR_SUCCESS;
}

/* What kind of file this is: ours, a fresh empty database, or other. */
typedef enum { FILE_OURS, FILE_EMPTY, FILE_FOREIGN } file_kind;

static apr_status_t identify(ml_store *store, file_kind *kind)
{
    int application_id, version, objects;
    apr_status_t rv;

    if ((rv = pragma_int(store, "PRAGMA application_id", &application_id))
        || (rv = pragma_int(store, "PRAGMA user_version", &version))
        || (rv = pragma_int(store, "SELECT count(*) FROM sqlite_schema",
                            &objects))) {
        return rv;
    }
    if (application_id == ML_APPLICATION_ID) {
        if ((rv = ml_store_schema_usable(store, version)) != APR_SUCCESS) {
            return rv;
        }
        *kind = FILE_OURS;
    }
    else if (application_id == 0 && version == 0 && objects == 0) {
        *kind = FILE_EMPTY;
    }
    else {
        *kind = FILE_FOREIGN;
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_open(ml_store *store, const char *path,
                                ml_store_mode mode, apr_pool_t *pool)
{
    sqlite_store *db = apr_pcalloc(pool, sizeof(*db));
    int flags = mode == ML_STORE_READ ? SQLITE_OPEN_READONLY
                                      : SQLITE_OPEN_READWRITE;
    apr_finfo_t info;
    file_kind kind;
    apr_status_t rv;

    store->data = db;
    db->path = apr_pstrdup(pool, path);
    db->pool = pool;
    if (mode == ML_STORE_CREATE) {
        flags |= SQLITE_OPEN_CREATE;
    }
    else if ((rv = apr_stat(&info, path, APR_FINFO_TYPE, pool)) != APR_SUCCESS) {
        char reason[120];
        ml_store_fail(store, "%s: %s", path,
                      apr_strerror(rv, reason, sizeof(reason)));
        return rv;
    }
    else if (info.filetype != APR_REG) {
        ml_store_fail(store, "%s: not a regular file", path);
        return APR_EINVAL;
    }
    /* Asked of the file itself: SQLite may reuse a descriptor another
     * connection of this process has open, and would then not notice that
     * the file can no longer be read or written. */
    else if (access(path, mode == ML_STORE_READ ? R_OK : R_OK | W_OK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ml_store_fail(store, "%s: %s", path, strerror(errno));
        return rv;
    }
    if (store->refuse_symlinks) {
        flags |= SQLITE_OPEN_NOFOLLOW;
    }
    /* NOMUTEX: a store is used by one thread at a time; each thread or
     * process that needs one opens its own. */
    if (sqlite3_open_v2(path, &db->db, flags | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK) {
        rv = sqlite3_extended_errcode(db->db) == SQLITE_CANTOPEN_SYMLINK
             ? ml_store_fail(store, "%s: refused: it is, or its path goes "
                             "through, a symbolic link (the minilink command "
                             "follows one with --allow-symlinks)", path)
             : sqlite_failed(store, "opening");
        sqlite3_close(db->db);
        db->db = NULL;
        return rv;
    }
    apr_pool_cleanup_register(pool, db, close_store, apr_pool_cleanup_null);
    sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db->db, 1);
    /* Every INSERT fires the change-log trigger, so SQLite keeps a
     * statement journal for it; in a temporary file that is a pwrite() per
     * page touched (8.6 million for a million-link import, half its time).
     * In memory they are a few pages each.  Set before any statement: it
     * does not move a journal already open. */
    sqlite3_exec(db->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);

    if ((rv = identify(store, &kind)) != APR_SUCCESS) {
        return rv;
    }
    if (kind == FILE_FOREIGN || (kind == FILE_EMPTY && mode != ML_STORE_CREATE)) {
        ml_store_fail(store, "%s: not a minilink database (create one with "
                      "'minilink --db %s init')", path, path);
        return APR_EINVAL;
    }
    if (apr_stat(&info, path, APR_FINFO_IDENT, pool) == APR_SUCCESS) {
        db->inode = info.inode;
        db->device = info.device;
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_check(ml_store *store)
{
    sqlite_store *db = DB(store);
    apr_finfo_t info;
    apr_status_t rv = apr_stat(&info, db->path, APR_FINFO_IDENT, db->pool);
    char reason[120];

    /* The connection would go on reading a file made unreadable; asking
     * each time says so now rather than at the next restart. */
    if (rv == APR_SUCCESS && access(db->path, R_OK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv != APR_SUCCESS) {
        ml_store_fail(store, "%s: %s", db->path,
                      apr_strerror(rv, reason, sizeof(reason)));
        return rv;
    }
    if (info.inode != db->inode || info.device != db->device) {
        ml_store_fail(store, "%s: the file was replaced", db->path);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Creates the tables and marks the file as ours, in the open transaction. */
static apr_status_t create_schema(ml_store *store)
{
    char *mark = sqlite3_mprintf("PRAGMA application_id = %d;"
                                 "PRAGMA user_version = %d",
                                 ML_APPLICATION_ID, ML_STORE_SCHEMA_VERSION);
    apr_status_t rv = exec(store, schema_sql, "creating the schema");

    if (rv == APR_SUCCESS) {
        rv = exec(store, mark, "marking the file as a minilink database");
    }
    sqlite3_free(mark);
    return rv;
}

static apr_status_t sqlite_schema_version(ml_store *store,
                                          apr_int64_t *version)
{
    int marked;
    apr_status_t rv = pragma_int(store, "PRAGMA user_version", &marked);

    *version = marked;
    return rv;
}

/* Runs each statement group from version `from` on, then marks the file;
 * in upgrade's transaction. */
static apr_status_t sqlite_migrate(ml_store *store, apr_int64_t from)
{
    char *mark = sqlite3_mprintf("PRAGMA user_version = %d",
                                 ML_STORE_SCHEMA_VERSION);
    apr_status_t rv = APR_SUCCESS;
    apr_size_t i;

    for (i = 0; rv == APR_SUCCESS && from < 2
                && i < sizeof(upgrade_to_2) / sizeof(upgrade_to_2[0]); i++) {
        rv = exec(store, upgrade_to_2[i], "upgrading the schema to version 2");
    }
    if (rv == APR_SUCCESS) {
        rv = exec(store, mark, "marking the schema version");
    }
    sqlite3_free(mark);
    return rv;
}

static apr_status_t sqlite_init(ml_store *store)
{
    file_kind kind;
    apr_status_t rv;

    if ((rv = exec(store, "BEGIN IMMEDIATE", "starting a transaction"))) {
        return rv;
    }
    /* Looked at again inside the transaction: another init may have won. */
    rv = identify(store, &kind);
    if (rv == APR_SUCCESS && kind == FILE_FOREIGN) {
        ml_store_fail(store, "%s: not a minilink database; refusing to add "
                  "tables to it", store->label);
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS && kind == FILE_EMPTY) {
        rv = create_schema(store);
    }
    if (rv != APR_SUCCESS) {
        sqlite3_exec(DB(store)->db, "ROLLBACK", NULL, NULL, NULL);
        return rv;
    }
    if ((rv = exec(store, "COMMIT", "committing the schema"))) {
        return rv;
    }
    if (kind == FILE_EMPTY) {
        store->schema_version = ML_STORE_SCHEMA_VERSION;
    }
    /* Outside the transaction: journal_mode cannot change inside one. */
    return exec(store, "PRAGMA journal_mode = WAL", "switching to WAL");
}

/*
 * Keeps the change log to its last ML_STORE_CHANGES_KEPT entries.  By
 * sequence number, so it is a range delete on the primary key, not a scan.
 * A failure here loses nothing, so it is not reported.
 */
static void prune_changes(ml_store *store)
{
    sqlite3_stmt *query = statement(store, &DB(store)->prune_changes,
        "DELETE FROM link_changes WHERE seq <= (SELECT seq FROM sqlite_sequence"
        " WHERE name = 'link_changes') - ?1");

    if (query != NULL) {
        sqlite3_bind_int64(query, 1, ML_STORE_CHANGES_KEPT);
        sqlite3_step(query);
        sqlite3_reset(query);
    }
}

/* Binds NULL for 0, the schema's "not set" for status and expiry. */
static void bind_optional(sqlite3_stmt *query, int column, apr_int64_t value)
{
    if (value == 0) {
        sqlite3_bind_null(query, column);
    }
    else {
        sqlite3_bind_int64(query, column, value);
    }
}

/* Inserts the link with its slug as is.  APR_EEXIST if the slug is taken. */
/* One INSERT, without pruning the change log (the callers do); its id
 * and times read back into link unless read_back is 0 (a group's). */
static apr_status_t insert_row(ml_store *store, ml_link *link, int read_back)
{
    sqlite3_stmt *query = read_back
        ? statement(store, &DB(store)->insert_link,
                    "INSERT INTO links (slug, url, status, expires_at, disabled)"
                    " VALUES (?1, ?2, ?3, ?4, ?5)"
                    " RETURNING id, created_at, updated_at")
        : statement(store, &DB(store)->insert_group_row,
                    "INSERT INTO links (slug, url, status, expires_at, disabled)"
                    " VALUES (?1, ?2, ?3, ?4, ?5)");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, link->slug, -1, SQLITE_STATIC);
    sqlite3_bind_text(query, 2, link->url, -1, SQLITE_STATIC);
    bind_optional(query, 3, link->status);
    bind_optional(query, 4, link->expires_at);
    sqlite3_bind_int(query, 5, link->disabled);
    rc = sqlite3_step(query);
    if (rc == SQLITE_ROW) {
        link->id = sqlite3_column_int64(query, 0);
        link->created_at = sqlite3_column_int64(query, 1);
        link->updated_at = sqlite3_column_int64(query, 2);
        rc = sqlite3_step(query);
    }
    sqlite3_reset(query);
    if (rc == SQLITE_DONE) {
        return APR_SUCCESS;
    }
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        ml_store_fail(store, "the slug '%s' is already taken", link->slug);
        return APR_EEXIST;
    }
    return sqlite_failed(store, "adding a link");
}

static apr_status_t sqlite_insert(ml_store *store, ml_link *link)
{
    apr_status_t rv = insert_row(store, link, 1);

    if (rv == APR_SUCCESS) {
        prune_changes(store);
    }
    return rv;
}

/*
 * A group: an INSERT a row (in-process, so no round trips to save), the
 * change log pruned once a group.  The first group raises this
 * connection's page cache to BULK_CACHE_KIB, so that a million-row
 * transaction does not spill dirty pages into the WAL before its commit:
 * with SQLite's default 2 MB it would write most pages several times.  The
 * cache grows only as pages are used, and goes with the connection.
 */
static apr_status_t sqlite_insert_group(ml_store *store, const ml_link *links,
                                        apr_size_t count, apr_size_t *failed)
{
    apr_status_t rv = APR_SUCCESS;
    apr_size_t i;

    if (!DB(store)->bulk_cache
        && (rv = exec(store, "PRAGMA cache_size = -" BULK_CACHE_KIB,
                      "raising the page cache for a bulk load"))
           == APR_SUCCESS) {
        DB(store)->bulk_cache = 1;
    }
    for (i = 0; rv == APR_SUCCESS && i < count; i++) {
        ml_link link = links[i];
        if ((rv = insert_row(store, &link, 0)) != APR_SUCCESS) {
            *failed = i;
        }
    }
    if (rv == APR_SUCCESS) {
        prune_changes(store);
    }
    return rv;
}

static apr_status_t sqlite_update(ml_store *store, const ml_link *link)
{
    sqlite3_stmt *query;
    int rc;

    query = statement(store, &DB(store)->update_link,
        "UPDATE links SET url = ?2, status = ?3, expires_at = ?4, disabled = ?5"
        " WHERE slug = ?1");
    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, link->slug, -1, SQLITE_STATIC);
    sqlite3_bind_text(query, 2, link->url, -1, SQLITE_STATIC);
    bind_optional(query, 3, link->status);
    bind_optional(query, 4, link->expires_at);
    sqlite3_bind_int(query, 5, link->disabled);
    rc = sqlite3_step(query);
    sqlite3_reset(query);
    if (rc != SQLITE_DONE) {
        return sqlite_failed(store, "changing a link");
    }
    if (sqlite3_changes(DB(store)->db) == 0) {
        ml_store_fail(store, "no link has the slug '%s'", link->slug);
        return APR_ENOENT;
    }
    prune_changes(store);
    return APR_SUCCESS;
}

static apr_status_t sqlite_begin(ml_store *store, ml_store_txn kind)
{
    /* IMMEDIATE: take the write lock now (waiting up to busy_timeout), not
     * at the first write, where a conflict could no longer be waited out. */
    return kind == ML_TXN_WRITE
           ? exec(store, "BEGIN IMMEDIATE", "starting a write transaction")
           : exec(store, "BEGIN", "starting a read transaction");
}

static apr_status_t sqlite_commit(ml_store *store)
{
    return exec(store, "COMMIT", "committing");
}

static void sqlite_rollback(ml_store *store)
{
    sqlite3_exec(DB(store)->db, "ROLLBACK", NULL, NULL, NULL);
}

static apr_status_t sqlite_remove(ml_store *store, const char *slug)
{
    sqlite3_stmt *query = statement(store, &DB(store)->delete_link,
                                    "DELETE FROM links WHERE slug = ?1");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, slug, -1, SQLITE_STATIC);
    rc = sqlite3_step(query);
    sqlite3_reset(query);
    if (rc != SQLITE_DONE) {
        return sqlite_failed(store, "removing a link");
    }
    if (sqlite3_changes(DB(store)->db) == 0) {
        ml_store_fail(store, "no link has the slug '%s'", slug);
        return APR_ENOENT;
    }
    prune_changes(store);
    return APR_SUCCESS;
}

/*
 * Reads the current row of a SERVED_COLUMNS query into *link (strings point
 * into the statement; the other fields are 0).  Returns why the row cannot
 * be served, or NULL.
 */
static const char *read_served(sqlite3_stmt *row, ml_link *link)
{
    memset(link, 0, sizeof(*link));
    link->id = sqlite3_column_int64(row, 0);
    link->slug = (const char *)sqlite3_column_text(row, 1);
    link->url = (const char *)sqlite3_column_text(row, 2);
    link->status = sqlite3_column_int(row, 3);
    link->expires_at = sqlite3_column_int64(row, 4);
    link->disabled = sqlite3_column_int(row, 5);
    /* A NUL inside a value would make what we check differ from what the
     * column holds. */
    if ((link->slug && strlen(link->slug) != (size_t)sqlite3_column_bytes(row, 1))
        || (link->url && strlen(link->url) != (size_t)sqlite3_column_bytes(row, 2))) {
        return "the slug or URL contains a NUL byte";
    }
    if (sqlite3_column_type(row, 3) != SQLITE_NULL
        && sqlite3_column_type(row, 3) != SQLITE_INTEGER) {
        return "the status is not a number";
    }
    return ml_link_problem(link);
}

/* read_served() for a LINK_COLUMNS query, with the rest of the row. */
static const char *read_row(sqlite3_stmt *row, ml_link *link)
{
    const char *problem = read_served(row, link);

    link->created_at = sqlite3_column_int64(row, 6);
    link->updated_at = sqlite3_column_int64(row, 7);
    link->clicks = sqlite3_column_int64(row, 8);
    link->last_click_at = sqlite3_column_int64(row, 9);
    return problem;
}

/* read_row(), with the strings copied into pool to outlive the statement. */
static const char *copy_row(sqlite3_stmt *row, ml_link *link, apr_pool_t *pool)
{
    const char *problem = read_row(row, link);

    link->slug = link->slug ? apr_pstrdup(pool, link->slug) : NULL;
    link->url = link->url ? apr_pstrdup(pool, link->url) : NULL;
    return problem;
}

static apr_status_t sqlite_get(ml_store *store, const char *slug, ml_link *link,
                          const char **problem, apr_pool_t *pool)
{
    sqlite3_stmt *query = statement(store, &DB(store)->select_link,
        "SELECT " LINK_COLUMNS " FROM links WHERE slug = ?1");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, slug, -1, SQLITE_STATIC);
    rc = sqlite3_step(query);
    if (rc == SQLITE_ROW) {
        const char *row_problem = copy_row(query, link, pool);
        if (problem) {
            *problem = row_problem;
        }
    }
    sqlite3_reset(query);
    if (rc == SQLITE_DONE) {
        ml_store_fail(store, "no link has the slug '%s'", slug);
        return APR_ENOENT;
    }
    if (rc != SQLITE_ROW) {
        return sqlite_failed(store, "reading a link");
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_find_url(ml_store *store, const char *url,
                               apr_int64_t now, ml_link *link,
                               apr_pool_t *pool)
{
    sqlite3_stmt *query = statement(store, &DB(store)->select_by_url,
        "SELECT " LINK_COLUMNS " FROM links WHERE url = ?1 AND disabled = 0"
        " AND (expires_at IS NULL OR expires_at > ?2) ORDER BY id DESC LIMIT 1");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(query, 2, now);
    rc = sqlite3_step(query);
    if (rc == SQLITE_ROW) {
        copy_row(query, link, pool);
    }
    sqlite3_reset(query);
    if (rc == SQLITE_DONE) {
        return APR_ENOENT;
    }
    if (rc != SQLITE_ROW) {
        return sqlite_failed(store, "looking up a URL");
    }
    return APR_SUCCESS;
}

typedef const char *row_reader(sqlite3_stmt *row, ml_link *link);

/* Steps a prepared query, calling row() with what read() makes of each row. */
static apr_status_t each_row(ml_store *store, sqlite3_stmt *query,
                             row_reader *read, ml_store_row_fn *row, void *ctx,
                             const char *doing)
{
    apr_status_t rv = APR_SUCCESS;
    int rc;

    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        ml_link link;
        const char *problem = read(query, &link);
        if ((rv = row(ctx, &link, problem)) != APR_SUCCESS) {
            break;
        }
    }
    sqlite3_reset(query);
    if (rv == APR_SUCCESS && rc != SQLITE_DONE) {
        return sqlite_failed(store, doing);
    }
    return rv;
}

static apr_status_t sqlite_each(ml_store *store, ml_store_row_fn *row, void *ctx)
{
    sqlite3_stmt *query = statement(store, &DB(store)->select_all,
        "SELECT " LINK_COLUMNS " FROM links ORDER BY slug");

    return query ? each_row(store, query, read_row, row, ctx,
                            "reading the links")
                 : APR_EGENERAL;
}

static apr_status_t sqlite_each_served(ml_store *store, ml_store_row_fn *row,
                                       void *ctx)
{
    /* Rowid order walks the table's b-tree once, leaf after leaf; ordering
     * by slug would look every row up again from the slug index. */
    sqlite3_stmt *query = statement(store, &DB(store)->select_served,
        "SELECT " SERVED_COLUMNS " FROM links ORDER BY id");

    if (query == NULL || exec(store, "PRAGMA mmap_size = " LOAD_MMAP_BYTES,
                              "mapping the file") != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return each_row(store, query, read_served, row, ctx, "reading the links");
}

static apr_status_t sqlite_summary(ml_store *store, apr_uint32_t *links,
                              apr_uint64_t *text_bytes)
{
    /* CAST AS BLOB: length() of TEXT counts characters, we need bytes. */
    sqlite3_stmt *query = statement(store, &DB(store)->count_links,
        "SELECT count(*), coalesce(sum(length(CAST(slug AS BLOB))"
        "                              + length(CAST(url AS BLOB))), 0)"
        " FROM links");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    rc = sqlite3_step(query);
    if (rc == SQLITE_ROW) {
        *links = (apr_uint32_t)sqlite3_column_int64(query, 0);
        *text_bytes = (apr_uint64_t)sqlite3_column_int64(query, 1);
    }
    sqlite3_reset(query);
    if (rc != SQLITE_ROW) {
        return sqlite_failed(store, "counting the links");
    }
    return APR_SUCCESS;
}

/* Runs a one-value query; *value is 0 when it returns no row or NULL. */
static apr_status_t query_uint64(ml_store *store, sqlite3_stmt **cached,
                                 const char *sql, apr_uint64_t *value)
{
    sqlite3_stmt *query = statement(store, cached, sql);
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    rc = sqlite3_step(query);
    *value = rc == SQLITE_ROW ? (apr_uint64_t)sqlite3_column_int64(query, 0) : 0;
    sqlite3_reset(query);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return sqlite_failed(store, "reading the change log");
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_change_seq(ml_store *store, apr_uint64_t *seq)
{
    /* sqlite_sequence keeps the highest number even after pruning. */
    return query_uint64(store, &DB(store)->newest_change,
                        "SELECT seq FROM sqlite_sequence"
                        " WHERE name = 'link_changes'", seq);
}

static apr_status_t sqlite_oldest_change(ml_store *store, apr_uint64_t *seq)
{
    return query_uint64(store, &DB(store)->oldest_change,
                        "SELECT min(seq) FROM link_changes", seq);
}

static apr_status_t sqlite_changes_after(ml_store *store, apr_uint64_t after,
                                         ml_store_change_fn *changed, void *ctx)
{
    sqlite3_stmt *query;
    apr_status_t rv = APR_SUCCESS;
    int rc;

    query = statement(store, &DB(store)->changes_after,
                      "SELECT slug FROM link_changes WHERE seq > ?1 ORDER BY seq");
    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_int64(query, 1, (sqlite3_int64)after);
    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        rv = changed(ctx, (const char *)sqlite3_column_text(query, 0));
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    sqlite3_reset(query);
    if (rv == APR_SUCCESS && rc != SQLITE_DONE) {
        return sqlite_failed(store, "reading the change log");
    }
    return rv;
}

/* Binds row i of rows to a statement's parameters. */
typedef void row_binder(sqlite3_stmt *query, const void *rows, apr_size_t i);

/* Runs a prepared write once a row (in-process, a round trip costs
 * nothing): what the click flush and the visits drain hand over. */
static apr_status_t step_each_row(ml_store *store, sqlite3_stmt *query,
                                  row_binder *bind, const void *rows,
                                  apr_size_t count, const char *doing)
{
    apr_size_t i;
    int rc = SQLITE_DONE;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    for (i = 0; i < count && rc == SQLITE_DONE; i++) {
        bind(query, rows, i);
        rc = sqlite3_step(query);
        sqlite3_reset(query);
    }
    return rc == SQLITE_DONE ? APR_SUCCESS : sqlite_failed(store, doing);
}

static void bind_clicks(sqlite3_stmt *query, const void *rows, apr_size_t i)
{
    const ml_store_clicks *add = (const ml_store_clicks *)rows + i;

    sqlite3_bind_int64(query, 1, add->link_id);
    sqlite3_bind_int64(query, 2, (sqlite3_int64)add->clicks);
    sqlite3_bind_int64(query, 3, add->last_click_at);
}

static apr_status_t sqlite_add_clicks(ml_store *store, const ml_store_clicks *adds,
                                      apr_size_t count)
{
    return step_each_row(store, statement(store, &DB(store)->add_clicks,
        "UPDATE links SET clicks = clicks + ?2,"
        " last_click_at = max(coalesce(last_click_at, 0), ?3) WHERE id = ?1"),
        bind_clicks, adds, count, "counting clicks");
}

static apr_status_t sqlite_meta_get(ml_store *store, const char *key,
                               apr_int64_t *value)
{
    sqlite3_stmt *query = statement(store, &DB(store)->meta_get,
        "SELECT value FROM minilink_meta WHERE key = ?1");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(query);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(query, 0) : 0;
    sqlite3_reset(query);
    return rc == SQLITE_ROW || rc == SQLITE_DONE
           ? APR_SUCCESS : sqlite_failed(store, "reading minilink_meta");
}

static apr_status_t sqlite_meta_set(ml_store *store, const char *key,
                               apr_int64_t value)
{
    sqlite3_stmt *query = statement(store, &DB(store)->meta_set,
        "INSERT INTO minilink_meta (key, value) VALUES (?1, ?2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(query, 2, value);
    rc = sqlite3_step(query);
    sqlite3_reset(query);
    return rc == SQLITE_DONE ? APR_SUCCESS
                             : sqlite_failed(store, "writing minilink_meta");
}

static apr_status_t sqlite_top(ml_store *store, int count, ml_store_row_fn *row,
                          void *ctx)
{
    sqlite3_stmt *query = statement(store, &DB(store)->top_links,
        "SELECT " LINK_COLUMNS " FROM links ORDER BY clicks DESC, slug"
        " LIMIT ?1");

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_int(query, 1, count);
    return each_row(store, query, read_row, row, ctx, "reading the top links");
}

static apr_status_t sqlite_click_total(ml_store *store, apr_uint64_t *clicks)
{
    return query_uint64(store, &DB(store)->click_total,
                        "SELECT coalesce(sum(clicks), 0) FROM links", clicks);
}

/* ---- visits ------------------------------------------------------------ */

static void bind_text_or_null(sqlite3_stmt *query, int column, const char *text)
{
    if (text == NULL || *text == '\0') {
        sqlite3_bind_null(query, column);
    }
    else {
        sqlite3_bind_text(query, column, text, -1, SQLITE_STATIC);
    }
}

static void bind_visit(sqlite3_stmt *query, const void *rows, apr_size_t i)
{
    const ml_store_visit *visit = (const ml_store_visit *)rows + i;

    bind_optional(query, 1, visit->link_id);
    sqlite3_bind_int64(query, 2, visit->visited_at);
    bind_text_or_null(query, 3, visit->orphan_type);
    bind_text_or_null(query, 4, visit->referrer);
    bind_text_or_null(query, 5, visit->user_agent);
    sqlite3_bind_int(query, 6, visit->bot);
    bind_text_or_null(query, 7, visit->redirect_url);
    sqlite3_bind_text(query, 8, visit->visited_path, -1, SQLITE_STATIC);
    bind_text_or_null(query, 9, visit->country);
    bind_text_or_null(query, 10, visit->ip);
}

/* A visit to a link that is gone is left out: its visits went with it. */
static apr_status_t sqlite_add_visits(ml_store *store,
                                      const ml_store_visit *visits,
                                      apr_size_t count)
{
    if (!DB(store)->visits_cache && !DB(store)->bulk_cache) {
        exec(store, "PRAGMA cache_size = -" VISITS_CACHE_KIB,
             "raising the page cache for visits");
        DB(store)->visits_cache = 1;
    }
    return step_each_row(store, statement(store, &DB(store)->add_visit,
        "INSERT INTO visits (link_id, visited_at, orphan_type, referrer,"
        " user_agent, bot, redirect_url, visited_path, country, ip)"
        " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10"
        " WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM links WHERE id = ?1)"),
        bind_visit, visits, count, "adding visits");
}

static void bind_visit_day(sqlite3_stmt *query, const void *rows, apr_size_t i)
{
    const ml_store_visit_day *day = (const ml_store_visit_day *)rows + i;

    sqlite3_bind_int64(query, 1, day->link_id);
    sqlite3_bind_int64(query, 2, day->day);
    sqlite3_bind_int64(query, 3, day->clicks);
    sqlite3_bind_int64(query, 4, day->bots);
}

static apr_status_t sqlite_add_visit_days(ml_store *store,
                                          const ml_store_visit_day *days,
                                          apr_size_t count)
{
    return step_each_row(store, statement(store, &DB(store)->add_visit_day,
        "INSERT INTO visits_daily (link_id, day, clicks, bots)"
        " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM links WHERE id = ?1)"
        " ON CONFLICT (link_id, day) DO UPDATE"
        " SET clicks = clicks + excluded.clicks, bots = bots + excluded.bots"),
        bind_visit_day, days, count, "adding to the daily visits");
}

static apr_status_t sqlite_prune_visits(ml_store *store, apr_int64_t before,
                                        int limit, apr_uint64_t *deleted)
{
    sqlite3_stmt *query = statement(store, &DB(store)->prune_visits,
        "DELETE FROM visits WHERE id IN (SELECT id FROM visits"
        " WHERE visited_at < ?1 ORDER BY visited_at LIMIT ?2)");
    int rc;

    *deleted = 0;
    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_int64(query, 1, before);
    sqlite3_bind_int(query, 2, limit);
    rc = sqlite3_step(query);
    sqlite3_reset(query);
    if (rc != SQLITE_DONE) {
        return sqlite_failed(store, "deleting old visits");
    }
    *deleted = (apr_uint64_t)sqlite3_changes(DB(store)->db);
    return APR_SUCCESS;
}

/* Which visits a query means: a link's (by slug), or the orphans. */
#define VISITS_OF_LINK "link_id = (SELECT id FROM links WHERE slug = ?1)"
#define VISITS_ORPHAN "link_id IS NULL"
#define VISIT_COLUMNS "link_id, visited_at, orphan_type, referrer," \
    " user_agent, bot, redirect_url, visited_path, country, ip"

static const char *const visits_query_sql[4] = {
    "SELECT " VISIT_COLUMNS " FROM visits WHERE " VISITS_OF_LINK
    " AND visited_at >= ?2 ORDER BY visited_at, id LIMIT ?3 OFFSET ?4",
    "SELECT " VISIT_COLUMNS " FROM visits WHERE " VISITS_OF_LINK
    " AND visited_at >= ?2 ORDER BY visited_at DESC, id DESC LIMIT ?3 OFFSET ?4",
    "SELECT " VISIT_COLUMNS " FROM visits WHERE " VISITS_ORPHAN
    " AND visited_at >= ?2 ORDER BY visited_at, id LIMIT ?3 OFFSET ?4",
    "SELECT " VISIT_COLUMNS " FROM visits WHERE " VISITS_ORPHAN
    " AND visited_at >= ?2 ORDER BY visited_at DESC, id DESC LIMIT ?3 OFFSET ?4",
};

static const char *column_text_or_null(sqlite3_stmt *row, int column)
{
    return (const char *)sqlite3_column_text(row, column);
}

static apr_status_t sqlite_each_visit(ml_store *store,
                                      const ml_store_visit_query *q,
                                      ml_store_visit_fn *fn, void *ctx)
{
    int which = (q->slug == NULL) << 1 | (q->newest_first != 0);
    sqlite3_stmt *query = statement(store, &DB(store)->select_visits[which],
                                    visits_query_sql[which]);
    apr_status_t rv = APR_SUCCESS;
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    if (q->slug) {
        sqlite3_bind_text(query, 1, q->slug, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(query, 2, q->since);
    sqlite3_bind_int64(query, 3, q->limit > 0 ? q->limit : -1);
    sqlite3_bind_int64(query, 4, q->offset);
    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        ml_store_visit visit;
        visit.link_id = sqlite3_column_int64(query, 0);
        visit.visited_at = sqlite3_column_int64(query, 1);
        visit.orphan_type = column_text_or_null(query, 2);
        visit.referrer = column_text_or_null(query, 3);
        visit.user_agent = column_text_or_null(query, 4);
        visit.bot = sqlite3_column_int(query, 5);
        visit.redirect_url = column_text_or_null(query, 6);
        visit.visited_path = column_text_or_null(query, 7);
        visit.country = column_text_or_null(query, 8);
        visit.ip = column_text_or_null(query, 9);
        if ((rv = fn(ctx, &visit)) != APR_SUCCESS) {
            break;
        }
    }
    sqlite3_reset(query);
    if (rv == APR_SUCCESS && rc != SQLITE_DONE) {
        return sqlite_failed(store, "reading visits");
    }
    return rv;
}

static apr_status_t sqlite_count_visits(ml_store *store,
                                        const ml_store_visit_query *q,
                                        apr_uint64_t *count)
{
    int orphans = q->slug == NULL;
    sqlite3_stmt *query = statement(store, &DB(store)->count_visits[orphans],
        orphans ? "SELECT count(*) FROM visits WHERE " VISITS_ORPHAN
                  " AND visited_at >= ?2"
                : "SELECT count(*) FROM visits WHERE " VISITS_OF_LINK
                  " AND visited_at >= ?2");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    if (q->slug) {
        sqlite3_bind_text(query, 1, q->slug, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(query, 2, q->since);
    rc = sqlite3_step(query);
    *count = rc == SQLITE_ROW ? (apr_uint64_t)sqlite3_column_int64(query, 0) : 0;
    sqlite3_reset(query);
    return rc == SQLITE_ROW ? APR_SUCCESS
                            : sqlite_failed(store, "counting visits");
}

static apr_status_t sqlite_each_visit_day(ml_store *store, const char *slug,
                                          apr_int64_t since,
                                          ml_store_visit_day_fn *fn, void *ctx)
{
    sqlite3_stmt *query = statement(store, &DB(store)->select_visit_days,
        "SELECT link_id, day, clicks, bots FROM visits_daily"
        " WHERE " VISITS_OF_LINK " AND day >= ?2 ORDER BY day");
    apr_status_t rv = APR_SUCCESS;
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, slug, -1, SQLITE_STATIC);
    sqlite3_bind_int64(query, 2, since);
    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        ml_store_visit_day day;
        day.link_id = sqlite3_column_int64(query, 0);
        day.day = sqlite3_column_int64(query, 1);
        day.clicks = sqlite3_column_int64(query, 2);
        day.bots = sqlite3_column_int64(query, 3);
        if ((rv = fn(ctx, &day)) != APR_SUCCESS) {
            break;
        }
    }
    sqlite3_reset(query);
    if (rv == APR_SUCCESS && rc != SQLITE_DONE) {
        return sqlite_failed(store, "reading daily visits");
    }
    return rv;
}

const ml_store_engine ml_store_sqlite = {
    .open = sqlite_open,
    .check = sqlite_check,
    .init = sqlite_init,
    .schema_version = sqlite_schema_version,
    .insert = sqlite_insert,
    .insert_group = sqlite_insert_group,
    .update = sqlite_update,
    .remove = sqlite_remove,
    .get = sqlite_get,
    .find_url = sqlite_find_url,
    .each = sqlite_each,
    .each_served = sqlite_each_served,
    .top = sqlite_top,
    .summary = sqlite_summary,
    .change_seq = sqlite_change_seq,
    .oldest_change = sqlite_oldest_change,
    .changes_after = sqlite_changes_after,
    .add_clicks = sqlite_add_clicks,
    .click_total = sqlite_click_total,
    .meta_get = sqlite_meta_get,
    .meta_set = sqlite_meta_set,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .migrate = sqlite_migrate,
    .add_visits = sqlite_add_visits,
    .add_visit_days = sqlite_add_visit_days,
    .prune_visits = sqlite_prune_visits,
    .each_visit = sqlite_each_visit,
    .count_visits = sqlite_count_visits,
    .each_visit_day = sqlite_each_visit_day,
};
