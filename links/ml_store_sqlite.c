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
 * The schema, in pieces that init (all at once) and the upgrade from
 * version 1 (step by step) share.
 */

/* The columns whose change a redirect can see: an update of any of them
 * is logged (a flush's update of clicks is not). */
#define WATCHED_COLUMNS \
    "slug, url, status, expires_at, disabled, title, valid_since, max_visits," \
    " fallback_url, password_hash, forward_query, forward_path, crawlable"

#define LINKS_TABLE(name) \
    "CREATE TABLE " name " (" \
    "  id         INTEGER PRIMARY KEY AUTOINCREMENT," \
    "  slug       TEXT    NOT NULL UNIQUE" \
    "             CHECK (length(slug) BETWEEN 1 AND 64" \
    "                    AND slug NOT GLOB '*[^A-Za-z0-9_-]*')," \
    "  url        TEXT    NOT NULL," \
    "  status     INTEGER CHECK (status IS NULL" \
    "                            OR status IN (301, 302, 303, 307, 308))," \
    "  expires_at INTEGER CHECK (expires_at IS NULL OR expires_at >= 0)," \
    "  disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))," \
    "  created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER))," \
    "  updated_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER))," \
    "  clicks     INTEGER NOT NULL DEFAULT 0," \
    "  last_click_at INTEGER," \
    "  title      TEXT," \
    "  valid_since INTEGER CHECK (valid_since IS NULL OR valid_since >= 0)," \
    "  max_visits INTEGER CHECK (max_visits IS NULL" \
    "                            OR max_visits BETWEEN 1 AND 2147483647)," \
    "  fallback_url TEXT," \
    "  password_hash TEXT," \
    "  forward_query INTEGER CHECK (forward_query IS NULL OR forward_query IN (0, 1))," \
    "  forward_path INTEGER CHECK (forward_path IS NULL OR forward_path IN (0, 1))," \
    "  crawlable  INTEGER NOT NULL DEFAULT 0 CHECK (crawlable IN (0, 1))" \
    ");"

/* links_limited: the few links with a visit limit, read every refresh;
 * links_extended: those with any rule column set, read apart from the
 * rest at each load (ml_extras_add_scalars). */
#define LINKS_INDEXES \
    "CREATE INDEX links_by_url ON links (url);" \
    "CREATE INDEX links_by_clicks ON links (clicks);" \
    "CREATE INDEX links_limited ON links (id) WHERE max_visits IS NOT NULL;" \
    "CREATE INDEX links_extended ON links (id) WHERE " ML_STORE_EXTENDED ";"

/* Every change to links, however it is made (module, CLI, sqlite3),
 * leaves the slug it touched in link_changes; Apache applies just those. */
#define LINKS_TRIGGERS \
    "CREATE TRIGGER links_updated_at" \
    "  AFTER UPDATE OF " WATCHED_COLUMNS " ON links" \
    "  BEGIN" \
    "    UPDATE links SET updated_at = CAST(strftime('%s','now') AS INTEGER)" \
    "    WHERE id = NEW.id;" \
    "  END;" \
    "CREATE TRIGGER links_insert_logged AFTER INSERT ON links" \
    "  BEGIN INSERT INTO link_changes (slug) VALUES (NEW.slug); END;" \
    "CREATE TRIGGER links_update_logged" \
    "  AFTER UPDATE OF " WATCHED_COLUMNS " ON links" \
    "  BEGIN" \
    "    INSERT INTO link_changes (slug) VALUES (OLD.slug);" \
    "    INSERT INTO link_changes (slug) SELECT NEW.slug WHERE NEW.slug <> OLD.slug;" \
    "  END;" \
    "CREATE TRIGGER links_delete_logged AFTER DELETE ON links" \
    "  BEGIN INSERT INTO link_changes (slug) VALUES (OLD.slug); END;"

/* Tags, many to many.  A link's own rows go with it (a trigger, not a
 * foreign key: SQLite enforces those only where a connection asks). */
#define TAGS_SCHEMA \
    "CREATE TABLE tags (" \
    "  id   INTEGER PRIMARY KEY AUTOINCREMENT," \
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64" \
    "                                   AND name NOT GLOB '*[^A-Za-z0-9_.:-]*')" \
    ");" \
    "CREATE TABLE link_tags (" \
    "  link_id INTEGER NOT NULL REFERENCES links (id)," \
    "  tag_id  INTEGER NOT NULL REFERENCES tags (id)," \
    "  PRIMARY KEY (link_id, tag_id)" \
    ") WITHOUT ROWID;" \
    "CREATE INDEX link_tags_by_tag ON link_tags (tag_id);" \
    "CREATE TRIGGER link_tags_inserted_logged AFTER INSERT ON link_tags" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT slug FROM links WHERE id = NEW.link_id; END;" \
    "CREATE TRIGGER link_tags_deleted_logged AFTER DELETE ON link_tags" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT slug FROM links WHERE id = OLD.link_id; END;" \
    "CREATE TRIGGER tags_renamed_logged AFTER UPDATE OF name ON tags" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT l.slug FROM links l JOIN link_tags t ON t.link_id = l.id" \
    "        WHERE t.tag_id = NEW.id; END;"

/* Redirect rules (Shlink's names: priority, long_url, and conditions of a
 * type with match_key and match_value). */
#define RULES_SCHEMA \
    "CREATE TABLE redirect_rules (" \
    "  id       INTEGER PRIMARY KEY AUTOINCREMENT," \
    "  link_id  INTEGER NOT NULL REFERENCES links (id)," \
    "  priority INTEGER NOT NULL CHECK (priority >= 1)," \
    "  long_url TEXT    NOT NULL," \
    "  UNIQUE (link_id, priority)" \
    ");" \
    "CREATE TABLE redirect_conditions (" \
    "  rule_id     INTEGER NOT NULL REFERENCES redirect_rules (id)," \
    "  position    INTEGER NOT NULL," \
    "  type        TEXT    NOT NULL CHECK (type IN ('device', 'language'," \
    "                'query-param', 'any-value-query-param'," \
    "                'valueless-query-param', 'ip-address'," \
    "                'geolocation-country-code', 'before-date', 'after-date'," \
    "                'browser'))," \
    "  match_key   TEXT," \
    "  match_value TEXT," \
    "  PRIMARY KEY (rule_id, position)" \
    ") WITHOUT ROWID;" \
    "CREATE TRIGGER redirect_rules_logged_insert AFTER INSERT ON redirect_rules" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT slug FROM links WHERE id = NEW.link_id; END;" \
    "CREATE TRIGGER redirect_rules_logged_update AFTER UPDATE ON redirect_rules" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT slug FROM links WHERE id IN (OLD.link_id, NEW.link_id); END;" \
    "CREATE TRIGGER redirect_rules_logged_delete AFTER DELETE ON redirect_rules" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT slug FROM links WHERE id = OLD.link_id;" \
    "        DELETE FROM redirect_conditions WHERE rule_id = OLD.id; END;" \
    "CREATE TRIGGER redirect_conditions_logged_insert" \
    "  AFTER INSERT ON redirect_conditions" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT l.slug FROM links l JOIN redirect_rules r ON r.link_id = l.id" \
    "        WHERE r.id = NEW.rule_id; END;" \
    "CREATE TRIGGER redirect_conditions_logged_update" \
    "  AFTER UPDATE ON redirect_conditions" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT l.slug FROM links l JOIN redirect_rules r ON r.link_id = l.id" \
    "        WHERE r.id IN (OLD.rule_id, NEW.rule_id); END;" \
    "CREATE TRIGGER redirect_conditions_logged_delete" \
    "  AFTER DELETE ON redirect_conditions" \
    "  BEGIN INSERT INTO link_changes (slug)" \
    "        SELECT l.slug FROM links l JOIN redirect_rules r ON r.link_id = l.id" \
    "        WHERE r.id = OLD.rule_id; END;"

/* A link's tags and rules go with it. */
#define LINKS_CASCADE \
    "CREATE TRIGGER links_deleted_cascade AFTER DELETE ON links" \
    "  BEGIN DELETE FROM link_tags WHERE link_id = OLD.id;" \
    "        DELETE FROM redirect_rules WHERE link_id = OLD.id; END;"

#define META_TABLE \
    "CREATE TABLE minilink_meta (" \
    "  key   TEXT PRIMARY KEY," \
    "  value INTEGER NOT NULL" \
    ");"

#define CHANGES_TABLE \
    "CREATE TABLE link_changes (" \
    "  seq        INTEGER PRIMARY KEY AUTOINCREMENT," \
    "  slug       TEXT    NOT NULL," \
    "  changed_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER))" \
    ");"

/*
 * Schema version 3 (issue 17, the management API): who made each link,
 * an index for each order a listing offers (ml_store_list: a page of 50
 * out of a million reads 50 rows), and the API keys.
 */
#define LINKS_OWNER_COLUMN \
    "ALTER TABLE links ADD COLUMN owner TEXT;"
#define LIST_INDEXES \
    "CREATE INDEX links_by_created ON links (created_at);" \
    "CREATE INDEX links_by_title ON links (title);" \
    "CREATE INDEX links_by_owner ON links (owner, created_at)" \
    "  WHERE owner IS NOT NULL;"
/* A key is never stored, only its SHA-256 (ml_apikey.h says why that
 * hash). */
#define API_KEYS_TABLE \
    "CREATE TABLE api_keys (" \
    "  name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64" \
    "             AND name NOT GLOB '*[^A-Za-z0-9_.@-]*')," \
    "  key_hash   TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64)," \
    "  role       TEXT NOT NULL CHECK (role IN ('admin', 'author', 'read-only'))," \
    "  expires_at INTEGER," \
    "  created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER))" \
    ");"

/* What init makes: the newest schema. */
static const char schema_sql[] =
    LINKS_TABLE("links") LINKS_INDEXES META_TABLE CHANGES_TABLE LINKS_TRIGGERS
    TAGS_SCHEMA RULES_SCHEMA LINKS_CASCADE VISITS_SCHEMA
    LINKS_OWNER_COLUMN LIST_INDEXES API_KEYS_TABLE;

/*
 * From schema version 1 to 2, in order, in upgrade's one transaction (the
 * version marked last).  Each entry is a group of statements.
 */
static const char *const upgrade_1_to_2[] = {
    /* links again, with AUTOINCREMENT, so that no id is ever given twice
     * (version 1 gave a deleted link's id to the next one: clicks counted
     * for the old link could have landed on the new), and with the new
     * rules' columns.  Every row is copied as it is; dropping the old
     * table drops its indexes and triggers, made again below. */
    LINKS_TABLE("links_2")
    "INSERT INTO links_2 (id, slug, url, status, expires_at, disabled,"
    "                     created_at, updated_at, clicks, last_click_at)"
    "  SELECT id, slug, url, status, expires_at, disabled, created_at,"
    "         updated_at, clicks, last_click_at FROM links ORDER BY id;"
    "DROP TABLE links;"
    "ALTER TABLE links_2 RENAME TO links;",
    /* The next id: above every id version 1 may have given, including
     * those of links deleted since.  Each insert was logged, and change
     * numbers are never reused, so the newest change number bounds them. */
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'links', 0"
    "  WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'links');"
    "UPDATE sqlite_sequence SET seq = max(seq,"
    "  coalesce((SELECT max(id) FROM links), 0),"
    "  coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'link_changes'), 0))"
    "  WHERE name = 'links';",
    /* The indexes and the change log's triggers, watching the new columns. */
    LINKS_INDEXES LINKS_TRIGGERS,
    /* Tags and redirect rules, with their triggers. */
    TAGS_SCHEMA RULES_SCHEMA LINKS_CASCADE,
    /* Visits and their daily roll-up (issue 16). */
    VISITS_SCHEMA,
    "PRAGMA user_version = 2;",
    NULL
};

/* From schema version 2 to 3: columns and tables added, nothing moved. */
static const char *const upgrade_2_to_3[] = {
    LINKS_OWNER_COLUMN LIST_INDEXES API_KEYS_TABLE,
    "PRAGMA user_version = 3;",
    NULL
};

/* The steps from each version to the next (ml_store_engine.h). */
static const char *const *const schema_steps[] = { upgrade_1_to_2,
                                                   upgrade_2_to_3 };
typedef char one_step_a_version[sizeof(schema_steps) / sizeof(schema_steps[0])
                                == ML_STORE_SCHEMA_VERSION - 1 ? 1 : -1];

/* What the cache serves a link from (clicks for visit limits) - all a
 * load reads of every row -, then the rule columns (NULLs in a version-1
 * database), then the rest of the row. */
#define SERVED_COLUMNS "id, slug, url, status, expires_at, disabled"
#define SERVED_COUNT 6
#define RULE_COLUMNS ", " ML_STORE_RULE_COLUMNS
#define RULE_COLUMNS_1 ", clicks, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0"
#define MORE_COLUMNS ", created_at, updated_at, last_click_at"
/* The owner, last (NULL before schema 3: every link an admin's). */
#define OWNER_COLUMN ", owner"
#define NO_OWNER_COLUMN ", NULL"
#define ALL_COUNT 19
/* A statement that reads whole links, for the open database's version. */
#define FOR_SCHEMA(store, head, tail) \
    ((store)->schema >= 3 \
     ? head SERVED_COLUMNS RULE_COLUMNS MORE_COLUMNS OWNER_COLUMN tail \
     : (store)->schema == 2 \
     ? head SERVED_COLUMNS RULE_COLUMNS MORE_COLUMNS NO_OWNER_COLUMN tail \
     : head SERVED_COLUMNS RULE_COLUMNS_1 MORE_COLUMNS NO_OWNER_COLUMN tail)
/* The loader's scan maps up to this much of the file instead of copying
 * each page through read() (1M links: 240 ms instead of 400 for a fresh
 * connection).  Only there: a mapped file that fails to read raises
 * SIGBUS instead of an error, so everything else keeps read(). */
#define LOAD_MMAP_BYTES "1073741824"

/* The tags and rules of every link, or of one; rows for ml_extras_add_*. */
#define TAGS_SELECT \
    "SELECT lt.link_id, t.name FROM link_tags lt JOIN tags t ON t.id = lt.tag_id"
#define RULES_SELECT \
    "SELECT r.link_id, r.id, r.long_url, c.type, c.match_key, c.match_value" \
    " FROM redirect_rules r LEFT JOIN redirect_conditions c ON c.rule_id = r.id"

typedef struct {
    sqlite3 *db;
    const char *path;
    apr_ino_t inode;             /* of the file opened, to see it replaced */
    apr_dev_t device;
    sqlite3_stmt *insert_link;
    sqlite3_stmt *insert_group_row;
    sqlite3_stmt *set_history;
    int bulk_cache;              /* the page cache was raised for a group */
    int prune_at_commit;         /* a group was inserted */
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
    sqlite3_stmt *tags_of_link;
    sqlite3_stmt *rules_of_link;
    sqlite3_stmt *delete_tags;
    sqlite3_stmt *insert_tag;
    sqlite3_stmt *insert_link_tag;
    sqlite3_stmt *delete_rules;
    sqlite3_stmt *insert_rule;
    sqlite3_stmt *insert_condition;
    sqlite3_stmt *select_limited;
    sqlite3_stmt *add_visit;
    sqlite3_stmt *add_visit_day;
    sqlite3_stmt *prune_visits;
    sqlite3_stmt *select_visits[4];      /* visits_query_sql() */
    sqlite3_stmt *count_visits[2];       /* a link's, orphans */
    sqlite3_stmt *select_visit_days[2];  /* a link's, every link's summed */
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

/* Finalizes every prepared statement (and forgets it). */
static void forget_statements(sqlite_store *store)
{
    sqlite3_stmt **all[] = {
        &store->insert_link, &store->insert_group_row, &store->set_history,
        &store->update_link,
        &store->select_by_url, &store->delete_link, &store->select_link,
        &store->select_all, &store->select_served, &store->count_links,
        &store->newest_change, &store->oldest_change, &store->changes_after,
        &store->prune_changes, &store->add_clicks, &store->meta_get,
        &store->meta_set, &store->top_links, &store->click_total,
        &store->tags_of_link, &store->rules_of_link, &store->delete_tags,
        &store->insert_tag, &store->insert_link_tag, &store->delete_rules,
        &store->insert_rule, &store->insert_condition, &store->select_limited,
        &store->add_visit, &store->add_visit_day, &store->prune_visits,
        &store->select_visits[0], &store->select_visits[1],
        &store->select_visits[2], &store->select_visits[3],
        &store->count_visits[0], &store->count_visits[1],
        &store->select_visit_days[0], &store->select_visit_days[1],
    };
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

static apr_status_t close_store(void *data)
{
    sqlite_store *store = data;

    forget_statements(store);
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
    /* An older schema may have been upgraded since: a new connection
     * reads the new columns.  (PRAGMA user_version reads the header.) */
    if (store->schema < ML_STORE_SCHEMA_VERSION) {
        int version = store->schema;
        if ((rv = pragma_int(store, "PRAGMA user_version", &version))
            != APR_SUCCESS) {
            return rv;
        }
        if (version != store->schema) {
            ml_store_fail(store, "%s: the schema was upgraded", db->path);
            return APR_EGENERAL;
        }
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
    if (rv == APR_SUCCESS && kind == FILE_EMPTY
        && (rv = create_schema(store)) == APR_SUCCESS) {
        store->schema = ML_STORE_SCHEMA_VERSION;
    }
    if (rv != APR_SUCCESS) {
        sqlite3_exec(DB(store)->db, "ROLLBACK", NULL, NULL, NULL);
        return rv;
    }
    if ((rv = exec(store, "COMMIT", "committing the schema"))) {
        return rv;
    }
    /* Outside the transaction: journal_mode cannot change inside one. */
    return exec(store, "PRAGMA journal_mode = WAL", "switching to WAL");
}

static void sqlite_forget_prepared(ml_store *store)
{
    forget_statements(DB(store));
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

/* Binds NULL for 0, the schema's "not set" for status, times and limits. */
static void bind_optional(sqlite3_stmt *query, int column, apr_int64_t value)
{
    if (value == 0) {
        sqlite3_bind_null(query, column);
    }
    else {
        sqlite3_bind_int64(query, column, value);
    }
}

static void bind_text(sqlite3_stmt *query, int column, const char *text)
{
    sqlite3_bind_text(query, column, text, -1, SQLITE_STATIC);
}

/* A per-link choice: NULL for the location's, else 1 or 0. */
static void bind_choice(sqlite3_stmt *query, int column, ml_choice choice)
{
    if (choice == ML_CHOICE_DEFAULT) {
        sqlite3_bind_null(query, column);
    }
    else {
        sqlite3_bind_int(query, column, choice == ML_CHOICE_ON);
    }
}

/* The columns an insert and an update write, as ?2 to ?14 (?1 the slug). */
#define WRITTEN_COLUMNS \
    "url, status, expires_at, disabled, title, valid_since, max_visits," \
    " fallback_url, password_hash, forward_query, forward_path, crawlable," \
    " owner"

static void bind_link(sqlite3_stmt *query, const ml_link *link)
{
    bind_text(query, 1, link->slug);
    bind_text(query, 2, link->url);
    bind_optional(query, 3, link->status);
    bind_optional(query, 4, link->expires_at);
    sqlite3_bind_int(query, 5, link->disabled);
    bind_text(query, 6, link->title);
    bind_optional(query, 7, link->valid_since);
    bind_optional(query, 8, link->max_visits);
    bind_text(query, 9, link->fallback_url);
    bind_text(query, 10, link->password_hash);
    bind_choice(query, 11, link->forward_query);
    bind_choice(query, 12, link->forward_path);
    sqlite3_bind_int(query, 13, link->crawlable);
    bind_text(query, 14, link->owner);
}

/* One INSERT of the link's row, without pruning the change log (the
 * callers do); its id and times read back into link (a group's: the id
 * only).  APR_EEXIST if the slug is taken. */
static apr_status_t insert_row(ml_store *store, ml_link *link, int read_back)
{
    sqlite3_stmt *query = read_back
        ? statement(store, &DB(store)->insert_link,
                    "INSERT INTO links (slug, " WRITTEN_COLUMNS ")"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                    " ?13, ?14) RETURNING id, created_at, updated_at")
        : statement(store, &DB(store)->insert_group_row,
                    "INSERT INTO links (slug, " WRITTEN_COLUMNS ")"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                    " ?13, ?14)");
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    bind_link(query, link);
    rc = sqlite3_step(query);
    if (rc == SQLITE_ROW) {
        link->id = sqlite3_column_int64(query, 0);
        link->created_at = sqlite3_column_int64(query, 1);
        link->updated_at = sqlite3_column_int64(query, 2);
        rc = sqlite3_step(query);
    }
    else if (rc == SQLITE_DONE) {
        link->id = sqlite3_last_insert_rowid(DB(store)->db);
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
 * change log pruned once, at the commit.  The first group raises this
 * connection's page cache to BULK_CACHE_KIB, so that a million-row
 * transaction does not spill dirty pages into the WAL before its commit:
 * with SQLite's default 2 MB it would write most pages several times.  The
 * cache grows only as pages are used, and goes with the connection.
 */
static apr_status_t sqlite_insert_group(ml_store *store, const ml_link *links,
                                        apr_size_t count, apr_int64_t *ids,
                                        apr_size_t *failed)
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
        ids[i] = link.id;
    }
    /* Pruned once, at the commit, as in PostgreSQL (ml_store_pgsql.c). */
    DB(store)->prune_at_commit |= rv == APR_SUCCESS;
    return rv;
}

static apr_status_t sqlite_update(ml_store *store, const ml_link *link)
{
    sqlite3_stmt *query;
    int rc;

    query = statement(store, &DB(store)->update_link,
        "UPDATE links SET (" WRITTEN_COLUMNS ") = (?2, ?3, ?4, ?5, ?6, ?7, ?8,"
        " ?9, ?10, ?11, ?12, ?13, ?14) WHERE slug = ?1");
    if (query == NULL) {
        return APR_EGENERAL;
    }
    bind_link(query, link);
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

/* Steps a write statement once; SQLITE_DONE is success. */
static apr_status_t step_write(ml_store *store, sqlite3_stmt *query,
                               const char *doing)
{
    int rc = query ? sqlite3_step(query) : SQLITE_ERROR;

    if (query) {
        sqlite3_reset(query);
    }
    return rc == SQLITE_DONE ? APR_SUCCESS : sqlite_failed(store, doing);
}

static apr_status_t write_tags(ml_store *store, const ml_link *link, int fresh)
{
    sqlite_store *db = DB(store);
    sqlite3_stmt *query;
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (!fresh) {
        query = statement(store, &db->delete_tags,
                          "DELETE FROM link_tags WHERE link_id = ?1");
        if (query) {
            sqlite3_bind_int64(query, 1, link->id);
        }
        rv = step_write(store, query, "changing a link's tags");
    }
    for (i = 0; rv == APR_SUCCESS && link->tags && i < link->tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(link->tags, i, const char *);
        query = statement(store, &db->insert_tag, "INSERT INTO tags (name)"
                          " VALUES (?1) ON CONFLICT (name) DO NOTHING");
        if (query) {
            bind_text(query, 1, tag);
        }
        if ((rv = step_write(store, query, "adding a tag")) != APR_SUCCESS) {
            break;
        }
        query = statement(store, &db->insert_link_tag,
                          "INSERT INTO link_tags (link_id, tag_id) SELECT ?1, id"
                          " FROM tags WHERE name = ?2 ON CONFLICT DO NOTHING");
        if (query) {
            sqlite3_bind_int64(query, 1, link->id);
            bind_text(query, 2, tag);
        }
        rv = step_write(store, query, "tagging a link");
    }
    return rv;
}

static apr_status_t write_rules(ml_store *store, const ml_link *link, int fresh)
{
    sqlite_store *db = DB(store);
    sqlite3_stmt *query;
    apr_status_t rv = APR_SUCCESS;
    int i, k;

    if (!fresh) {
        query = statement(store, &db->delete_rules,
                          "DELETE FROM redirect_rules WHERE link_id = ?1");
        if (query) {
            sqlite3_bind_int64(query, 1, link->id);
        }
        rv = step_write(store, query, "changing a link's redirect rules");
    }
    for (i = 0; rv == APR_SUCCESS && i < link->nrules; i++) {
        const ml_rule *rule = &link->rules[i];
        sqlite3_int64 rule_id;
        query = statement(store, &db->insert_rule, "INSERT INTO redirect_rules"
                          " (link_id, priority, long_url) VALUES (?1, ?2, ?3)");
        if (query) {
            sqlite3_bind_int64(query, 1, link->id);
            sqlite3_bind_int(query, 2, i + 1);
            bind_text(query, 3, rule->url);
        }
        if ((rv = step_write(store, query, "adding a redirect rule"))) {
            break;
        }
        rule_id = sqlite3_last_insert_rowid(db->db);
        for (k = 0; rv == APR_SUCCESS && k < rule->nconditions; k++) {
            const ml_condition *condition = &rule->conditions[k];
            query = statement(store, &db->insert_condition,
                              "INSERT INTO redirect_conditions (rule_id, position,"
                              " type, match_key, match_value)"
                              " VALUES (?1, ?2, ?3, ?4, ?5)");
            if (query) {
                sqlite3_bind_int64(query, 1, rule_id);
                sqlite3_bind_int(query, 2, k + 1);
                bind_text(query, 3, ml_condition_type_name(condition->type));
                bind_text(query, 4, condition->key);
                bind_text(query, 5, condition->value);
            }
            rv = step_write(store, query, "adding a redirect condition");
        }
    }
    return rv;
}

static apr_status_t sqlite_write_extras(ml_store *store, const ml_link *link,
                                        int fresh)
{
    apr_status_t rv = write_tags(store, link, fresh);

    if (rv == APR_SUCCESS) {
        rv = write_rules(store, link, fresh);
    }
    /* After an insert, the next write prunes: once per link was a third
     * of an import's time. */
    if (rv == APR_SUCCESS && !fresh) {
        prune_changes(store);
    }
    return rv;
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
    if (DB(store)->prune_at_commit) {
        prune_changes(store);
        DB(store)->prune_at_commit = 0;
    }
    return exec(store, "COMMIT", "committing");
}

static void sqlite_rollback(ml_store *store)
{
    DB(store)->prune_at_commit = 0;
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

/* Column i as text (NULL for NULL); *bad set if it holds a NUL, which
 * would make what is checked differ from what the column holds. */
static const char *column_text(sqlite3_stmt *row, int i, int *bad)
{
    const char *text = (const char *)sqlite3_column_text(row, i);

    if (text && strlen(text) != (size_t)sqlite3_column_bytes(row, i)) {
        *bad = 1;
    }
    return text;
}

static ml_choice column_choice(sqlite3_stmt *row, int i)
{
    return sqlite3_column_type(row, i) == SQLITE_NULL ? ML_CHOICE_DEFAULT
           : sqlite3_column_int(row, i) ? ML_CHOICE_ON : ML_CHOICE_OFF;
}

/* The clicks and rule columns from column `first` on, as
 * ML_STORE_RULE_COLUMNS lists them. */
static void read_rule_columns(sqlite3_stmt *row, int first, ml_link *link,
                              int *bad)
{
    link->clicks = sqlite3_column_int64(row, first);
    link->title = column_text(row, first + 1, bad);
    link->valid_since = sqlite3_column_int64(row, first + 2);
    link->max_visits = sqlite3_column_int64(row, first + 3);
    link->fallback_url = column_text(row, first + 4, bad);
    link->password_hash = column_text(row, first + 5, bad);
    link->forward_query = column_choice(row, first + 6);
    link->forward_path = column_choice(row, first + 7);
    link->crawlable = sqlite3_column_int(row, first + 8);
}

/*
 * Reads the current row of a query of SERVED_COLUMNS (columns
 * SERVED_COUNT) or of whole links (ALL_COUNT) into *link: strings point
 * into the statement, tags and rules are not read.  Returns what only the
 * raw row shows to be wrong (a NUL inside a text, a status that is no
 * number), or NULL.
 */
/* What a text with a NUL inside makes of its row. */
#define NUL_PROBLEM "a text of the row contains a NUL byte"
static const char *read_columns(sqlite3_stmt *row, ml_link *link, int columns)
{
    int bad = 0;

    memset(link, 0, sizeof(*link));
    link->id = sqlite3_column_int64(row, 0);
    link->slug = column_text(row, 1, &bad);
    link->url = column_text(row, 2, &bad);
    link->status = sqlite3_column_int(row, 3);
    link->expires_at = sqlite3_column_int64(row, 4);
    link->disabled = sqlite3_column_int(row, 5);
    if (columns == ALL_COUNT) {
        read_rule_columns(row, SERVED_COUNT, link, &bad);
        link->created_at = sqlite3_column_int64(row, 15);
        link->updated_at = sqlite3_column_int64(row, 16);
        link->last_click_at = sqlite3_column_int64(row, 17);
        link->owner = column_text(row, 18, &bad);
    }
    if (bad) {
        return NUL_PROBLEM;
    }
    if (sqlite3_column_type(row, 3) != SQLITE_NULL
        && sqlite3_column_type(row, 3) != SQLITE_INTEGER) {
        return "the status is not a number";
    }
    return NULL;
}

/* What a query of read_extras() gathers. */
enum { EXTRAS_TAGS, EXTRAS_RULES, EXTRAS_SCALARS };

/* Gathers the rows of a tags, rules or rule columns query into extras:
 * the link's (link_id) with cached, else everyone's with a statement of
 * its own. */
static apr_status_t read_extras(ml_store *store, sqlite3_stmt **cached,
                                const char *sql, apr_int64_t link_id,
                                int what, ml_link_extras *extras)
{
    sqlite3_stmt *query = NULL;
    int rc;

    if (cached) {
        query = statement(store, cached, sql);
    }
    else if (sqlite3_prepare_v2(DB(store)->db, sql, -1, &query, NULL)
             != SQLITE_OK) {
        sqlite3_finalize(query);
        query = NULL;
        sqlite_failed(store, "preparing a statement");
    }
    if (query == NULL) {
        return APR_EGENERAL;
    }
    if (cached) {
        sqlite3_bind_int64(query, 1, link_id);
    }
    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        if (what == EXTRAS_SCALARS) {
            ml_link row;
            int bad = 0;
            memset(&row, 0, sizeof(row));
            row.id = sqlite3_column_int64(query, 0);
            read_rule_columns(query, 1, &row, &bad);
            ml_extras_add_scalars(extras, &row, bad ? NUL_PROBLEM : NULL);
        }
        else if (what == EXTRAS_RULES) {
            ml_extras_add_condition(extras, sqlite3_column_int64(query, 0),
                sqlite3_column_int64(query, 1),
                (const char *)sqlite3_column_text(query, 2),
                (const char *)sqlite3_column_text(query, 3),
                (const char *)sqlite3_column_text(query, 4),
                (const char *)sqlite3_column_text(query, 5));
        }
        else {
            ml_extras_add_tag(extras, sqlite3_column_int64(query, 0),
                              (const char *)sqlite3_column_text(query, 1));
        }
    }
    if (cached) {
        sqlite3_reset(query);
    }
    else {
        sqlite3_finalize(query);
    }
    return rc == SQLITE_DONE ? APR_SUCCESS
                             : sqlite_failed(store, "reading tags and rules");
}

/* The tags and rules of one link (link_id), or of all (0) with the rule
 * columns of those that have any, into extras; none in a version-1
 * database. */
static apr_status_t gather_extras(ml_store *store, apr_int64_t link_id,
                                  ml_link_extras *extras)
{
    sqlite_store *db = DB(store);
    apr_status_t rv;

    if (store->schema < 2) {
        return APR_SUCCESS;
    }
    if (link_id) {
        rv = read_extras(store, &db->tags_of_link, TAGS_SELECT
                         " WHERE lt.link_id = ?1 ORDER BY t.name", link_id,
                         EXTRAS_TAGS, extras);
        return rv ? rv : read_extras(store, &db->rules_of_link, RULES_SELECT
                                     " WHERE r.link_id = ?1 ORDER BY r.priority,"
                                     " c.position", link_id, EXTRAS_RULES,
                                     extras);
    }
    if ((rv = read_extras(store, NULL, "SELECT id, " ML_STORE_RULE_COLUMNS
                          " FROM links WHERE " ML_STORE_EXTENDED, 0,
                          EXTRAS_SCALARS, extras))
        || (rv = read_extras(store, NULL, TAGS_SELECT " ORDER BY lt.link_id,"
                             " t.name", 0, EXTRAS_TAGS, extras))) {
        return rv;
    }
    return read_extras(store, NULL, RULES_SELECT " ORDER BY r.link_id,"
                       " r.priority, c.position", 0, EXTRAS_RULES, extras);
}

/* The strings of a link read, copied into pool to outlive the statement. */
static void copy_strings(ml_link *link, apr_pool_t *pool)
{
    const char **texts[] = { &link->slug, &link->url, &link->title,
                             &link->fallback_url, &link->password_hash,
                             &link->owner };
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (*texts[i]) {
            *texts[i] = apr_pstrdup(pool, *texts[i]);
        }
    }
}

static apr_status_t sqlite_get(ml_store *store, const char *slug, ml_link *link,
                          const char **problem, apr_pool_t *pool)
{
    sqlite3_stmt *query = statement(store, &DB(store)->select_link,
        FOR_SCHEMA(store, "SELECT ", " FROM links WHERE slug = ?1"));
    const char *row_problem = NULL;
    apr_status_t rv;
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, slug, -1, SQLITE_STATIC);
    rc = sqlite3_step(query);
    if (rc == SQLITE_ROW) {
        row_problem = read_columns(query, link, ALL_COUNT);
        copy_strings(link, pool);
    }
    sqlite3_reset(query);
    if (rc == SQLITE_DONE) {
        ml_store_fail(store, "no link has the slug '%s'", slug);
        return APR_ENOENT;
    }
    if (rc != SQLITE_ROW) {
        return sqlite_failed(store, "reading a link");
    }
    {
        ml_link_extras *extras = ml_extras_make(pool);
        if ((rv = gather_extras(store, link->id, extras)) != APR_SUCCESS) {
            return rv;
        }
        ml_extras_attach(extras, link);
    }
    if (problem) {
        *problem = row_problem ? row_problem : ml_link_problem(link);
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_find_url(ml_store *store, const char *url,
                               apr_int64_t now, ml_link *link,
                               apr_pool_t *pool)
{
    sqlite3_stmt *query = statement(store, &DB(store)->select_by_url,
        FOR_SCHEMA(store, "SELECT ", " FROM links WHERE url = ?1"
                   " AND disabled = 0 AND (expires_at IS NULL OR expires_at > ?2)"
                   " ORDER BY id DESC LIMIT 1"));
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_text(query, 1, url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(query, 2, now);
    rc = sqlite3_step(query);
    if (rc == SQLITE_ROW) {
        read_columns(query, link, ALL_COUNT);
        copy_strings(link, pool);
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

/*
 * Steps a prepared query of links (columns: SERVED_COUNT or ALL_COUNT),
 * calling row() for each with its tags and rules (and rule columns, if
 * gathered) from extras (NULL: none read).
 */
static apr_status_t each_row(ml_store *store, sqlite3_stmt *query, int columns,
                             const ml_link_extras *extras, ml_store_row_fn *row,
                             void *ctx, const char *doing)
{
    apr_status_t rv = APR_SUCCESS;
    int rc;

    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        ml_link link;
        const char *problem = read_columns(query, &link, columns);
        if (extras) {
            const char *extra_problem = ml_extras_attach(extras, &link);
            problem = problem ? problem : extra_problem;
        }
        if (problem == NULL) {
            problem = ml_link_problem(&link);
        }
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

/* Every row of query (of `columns` columns) with its tags and rules, and
 * its rule columns, read first into a pool of the walk's. */
static apr_status_t walk(ml_store *store, sqlite3_stmt *query, int columns,
                         ml_store_row_fn *row, void *ctx)
{
    apr_pool_t *pool;
    ml_link_extras *extras;
    apr_status_t rv;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    apr_pool_create(&pool, DB(store)->pool);
    extras = ml_extras_make(pool);
    rv = gather_extras(store, 0, extras);
    if (rv == APR_SUCCESS) {
        rv = each_row(store, query, columns, extras, row, ctx,
                      "reading the links");
    }
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t sqlite_each(ml_store *store, ml_store_row_fn *row, void *ctx)
{
    return walk(store, statement(store, &DB(store)->select_all,
                                 FOR_SCHEMA(store, "SELECT ",
                                            " FROM links ORDER BY slug")),
                ALL_COUNT, row, ctx);
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
    return walk(store, query, SERVED_COUNT, row, ctx);
}

/* What a link's rules of schema 2 may take in a table beyond its slug and
 * URL, over-estimated (cache/ml_cache.c's record extension): a header and
 * the texts of each link with rule columns (links_extended holds them:
 * plain links are not looked at), and per rule, condition and tag their
 * bytes and a margin. */
#define SUMMARY_2 \
    "SELECT count(*), coalesce(sum(length(CAST(slug AS BLOB))" \
    "                              + length(CAST(url AS BLOB))), 0)" \
    "  + (SELECT coalesce(sum(64 + coalesce(length(CAST(title AS BLOB)), 0)" \
    "                     + coalesce(length(CAST(fallback_url AS BLOB)), 0)" \
    "                     + coalesce(length(CAST(password_hash AS BLOB)), 0)), 0)" \
    "     FROM links WHERE " ML_STORE_EXTENDED ")" \
    "  + (SELECT coalesce(sum(64 + length(CAST(long_url AS BLOB))), 0)" \
    "     FROM redirect_rules)" \
    "  + (SELECT coalesce(sum(40 + coalesce(length(CAST(match_key AS BLOB)), 0)" \
    "                        + coalesce(length(CAST(match_value AS BLOB)), 0)), 0)" \
    "     FROM redirect_conditions)" \
    "  + (SELECT coalesce(sum(64 + length(CAST(t.name AS BLOB))), 0)" \
    "     FROM link_tags lt JOIN tags t ON t.id = lt.tag_id)" \
    " FROM links"
/* CAST AS BLOB: length() of TEXT counts characters, we need bytes. */
#define SUMMARY_1 \
    "SELECT count(*), coalesce(sum(length(CAST(slug AS BLOB))" \
    "                              + length(CAST(url AS BLOB))), 0)" \
    " FROM links"

static apr_status_t sqlite_summary(ml_store *store, apr_uint32_t *links,
                              apr_uint64_t *text_bytes)
{
    sqlite3_stmt *query = statement(store, &DB(store)->count_links,
                                    store->schema >= 2 ? SUMMARY_2 : SUMMARY_1);
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

static void bind_history(sqlite3_stmt *query, const void *rows, apr_size_t i)
{
    const ml_store_history *link = (const ml_store_history *)rows + i;

    bind_text(query, 1, link->slug);
    sqlite3_bind_int64(query, 2, link->created_at);
    sqlite3_bind_int64(query, 3, link->clicks);
}

/* Neither column is watched (WATCHED_COLUMNS): no change is logged and
 * updated_at stays the insert's. */
static apr_status_t sqlite_set_history(ml_store *store,
                                       const ml_store_history *history,
                                       apr_size_t count)
{
    return step_each_row(store, statement(store, &DB(store)->set_history,
        "UPDATE links SET clicks = ?3, created_at = CASE WHEN ?2 > 0"
        " THEN ?2 ELSE created_at END WHERE slug = ?1"),
        bind_history, history, count, "writing the links' history");
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
        FOR_SCHEMA(store, "SELECT ", " FROM links"
                   " ORDER BY clicks DESC, slug LIMIT ?1"));

    if (query == NULL) {
        return APR_EGENERAL;
    }
    sqlite3_bind_int(query, 1, count);
    return each_row(store, query, ALL_COUNT, NULL, row, ctx,
                    "reading the top links");
}

static apr_status_t sqlite_each_limited(ml_store *store,
                                        ml_store_limited_fn *limited, void *ctx)
{
    sqlite3_stmt *query = statement(store, &DB(store)->select_limited,
        "SELECT slug, clicks FROM links WHERE max_visits IS NOT NULL");
    apr_status_t rv = APR_SUCCESS;
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    while ((rc = sqlite3_step(query)) == SQLITE_ROW && rv == APR_SUCCESS) {
        rv = limited(ctx, (const char *)sqlite3_column_text(query, 0),
                     sqlite3_column_int64(query, 1));
    }
    sqlite3_reset(query);
    if (rv == APR_SUCCESS && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return sqlite_failed(store, "reading the visit limits");
    }
    return rv;
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
    sqlite3_stmt *query = slug
        ? statement(store, &DB(store)->select_visit_days[0],
                    "SELECT link_id, day, clicks, bots FROM visits_daily"
                    " WHERE " VISITS_OF_LINK " AND day >= ?2 ORDER BY day")
        : statement(store, &DB(store)->select_visit_days[1],
                    "SELECT 0, day, SUM(clicks), SUM(bots) FROM visits_daily"
                    " WHERE day >= ?2 GROUP BY day ORDER BY day");
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

/* ---- listing ------------------------------------------------------------- */

/* ORDER BY for each ml_store_list_order, ascending and descending: each
 * an index's order (links_by_created, the slug's UNIQUE, links_by_url,
 * links_by_title, links_by_clicks; an index ends with the rowid, so ties
 * by id come with it), so a page reads its rows and stops. */
static const char *const list_order_sql[ML_LIST_ORDERS][2] = {
    [ML_LIST_BY_CREATED] = { "created_at, id", "created_at DESC, id DESC" },
    [ML_LIST_BY_SLUG] = { "slug", "slug DESC" },
    [ML_LIST_BY_URL] = { "url, id", "url DESC, id DESC" },
    [ML_LIST_BY_TITLE] = { "title, id", "title DESC, id DESC" },
    [ML_LIST_BY_CLICKS] = { "clicks, id", "clicks DESC, id DESC" },
};

/* Prepares a listing's statement (finalized by the caller) and binds its
 * parameters; NULL, with the error set, on failure. */
static sqlite3_stmt *list_statement(ml_store *store, const char *sql,
                                    const ml_store_list_sql *list)
{
    sqlite3_stmt *query = NULL;
    int i;

    if (sqlite3_prepare_v2(DB(store)->db, sql, -1, &query, NULL) != SQLITE_OK) {
        sqlite3_finalize(query);
        sqlite_failed(store, "preparing a listing");
        return NULL;
    }
    for (i = 0; i < list->nparams; i++) {
        if (list->params[i].text) {
            bind_text(query, i + 1, list->params[i].text);
        }
        else {
            sqlite3_bind_int64(query, i + 1, list->params[i].number);
        }
    }
    return query;
}

/* " WHERE ..." of a listing, or "". */
static const char *list_where_sql(const ml_store_list_sql *list,
                                  apr_pool_t *pool)
{
    return *list->where ? apr_pstrcat(pool, " WHERE ", list->where, NULL) : "";
}

/* The ids as "1, 2, 3" (numbers of our own: no parameter needed). */
static const char *id_list(const apr_array_header_t *links, apr_pool_t *pool)
{
    apr_array_header_t *ids = apr_array_make(pool, links->nelts,
                                             sizeof(const char *));
    int i;

    for (i = 0; i < links->nelts; i++) {
        APR_ARRAY_PUSH(ids, const char *) = apr_psprintf(pool,
            "%" APR_INT64_T_FMT, APR_ARRAY_IDX(links, i, ml_link).id);
    }
    return apr_array_pstrcat(pool, ids, ',');
}

static apr_status_t sqlite_list(ml_store *store, const ml_store_list_sql *list,
                                ml_store_row_fn *row, void *ctx)
{
    apr_pool_t *pool;
    apr_array_header_t *links, *problems;
    sqlite3_stmt *query;
    apr_status_t rv = APR_SUCCESS;
    int rc, i;

    apr_pool_create(&pool, DB(store)->pool);
    query = list_statement(store, apr_pstrcat(pool,
        FOR_SCHEMA(store, "SELECT ", " FROM links"),
        list_where_sql(list, pool), " ORDER BY ",
        list_order_sql[list->order][list->descending],
        apr_psprintf(pool, " LIMIT %" APR_INT64_T_FMT " OFFSET %" APR_INT64_T_FMT,
                     list->limit, list->offset), NULL), list);
    if (query == NULL) {
        apr_pool_destroy(pool);
        return APR_EGENERAL;
    }
    /* The page's rows first, then their tags and rules in two queries. */
    links = apr_array_make(pool, 64, sizeof(ml_link));
    problems = apr_array_make(pool, 64, sizeof(const char *));
    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        ml_link *link = apr_array_push(links);
        APR_ARRAY_PUSH(problems, const char *) = read_columns(query, link,
                                                              ALL_COUNT);
        copy_strings(link, pool);
    }
    sqlite3_finalize(query);
    if (rc != SQLITE_DONE) {
        rv = sqlite_failed(store, "listing links");
    }
    if (rv == APR_SUCCESS && links->nelts > 0 && store->schema >= 2) {
        ml_link_extras *extras = ml_extras_make(pool);
        const char *ids = id_list(links, pool);
        rv = read_extras(store, NULL, apr_pstrcat(pool, TAGS_SELECT
                         " WHERE lt.link_id IN (", ids, ") ORDER BY"
                         " lt.link_id, t.name", NULL), 0, EXTRAS_TAGS, extras);
        if (rv == APR_SUCCESS) {
            rv = read_extras(store, NULL, apr_pstrcat(pool, RULES_SELECT
                             " WHERE r.link_id IN (", ids, ") ORDER BY"
                             " r.link_id, r.priority, c.position", NULL), 0,
                             EXTRAS_RULES, extras);
        }
        for (i = 0; rv == APR_SUCCESS && i < links->nelts; i++) {
            ml_extras_attach(extras, &APR_ARRAY_IDX(links, i, ml_link));
        }
    }
    for (i = 0; rv == APR_SUCCESS && i < links->nelts; i++) {
        ml_link *link = &APR_ARRAY_IDX(links, i, ml_link);
        const char *problem = APR_ARRAY_IDX(problems, i, const char *);
        rv = row(ctx, link, problem ? problem : ml_link_problem(link));
    }
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t sqlite_query(ml_store *store, const char *sql,
                                 const ml_store_param *params, int nparams,
                                 ml_store_values_fn *fn, void *ctx,
                                 const char *doing)
{
    ml_store_list_sql bound = { "", params, nparams, 0, 0, 0, 0 };
    sqlite3_stmt *query = list_statement(store, sql, &bound);
    apr_status_t rv = APR_SUCCESS;
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    while ((rc = sqlite3_step(query)) == SQLITE_ROW) {
        const char *values[16];
        int n = sqlite3_column_count(query), i;
        n = n > 16 ? 16 : n;
        for (i = 0; i < n; i++) {
            values[i] = (const char *)sqlite3_column_text(query, i);
        }
        if ((rv = fn(ctx, values, n)) != APR_SUCCESS) {
            break;
        }
    }
    sqlite3_finalize(query);
    return rv == APR_SUCCESS && rc != SQLITE_DONE ? sqlite_failed(store, doing)
                                                  : rv;
}

static apr_status_t sqlite_execute(ml_store *store, const char *sql,
                                   const ml_store_param *params, int nparams,
                                   int *changed, const char *doing)
{
    ml_store_list_sql bound = { "", params, nparams, 0, 0, 0, 0 };
    sqlite3_stmt *query = list_statement(store, sql, &bound);
    int rc;

    if (query == NULL) {
        return APR_EGENERAL;
    }
    rc = sqlite3_step(query);
    sqlite3_finalize(query);
    if (rc != SQLITE_DONE) {
        return sqlite_failed(store, doing);
    }
    if (changed) {
        *changed = sqlite3_changes(DB(store)->db);
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_count_list(ml_store *store,
                                      const ml_store_list_sql *list,
                                      apr_uint64_t *count)
{
    apr_pool_t *pool;
    sqlite3_stmt *query;
    int rc;

    apr_pool_create(&pool, DB(store)->pool);
    query = list_statement(store, apr_pstrcat(pool, "SELECT count(*) FROM links",
                                              list_where_sql(list, pool), NULL),
                           list);
    apr_pool_destroy(pool);
    if (query == NULL) {
        return APR_EGENERAL;
    }
    rc = sqlite3_step(query);
    *count = rc == SQLITE_ROW ? (apr_uint64_t)sqlite3_column_int64(query, 0) : 0;
    sqlite3_finalize(query);
    return rc == SQLITE_ROW ? APR_SUCCESS : sqlite_failed(store, "counting links");
}

const ml_store_engine ml_store_sqlite = {
    .open = sqlite_open,
    .check = sqlite_check,
    .init = sqlite_init,
    .schema_version = sqlite_schema_version,
    .steps = schema_steps,
    .exec_sql = exec,
    .forget_prepared = sqlite_forget_prepared,
    .insert = sqlite_insert,
    .insert_group = sqlite_insert_group,
    .set_history = sqlite_set_history,
    .write_extras = sqlite_write_extras,
    .update = sqlite_update,
    .remove = sqlite_remove,
    .get = sqlite_get,
    .find_url = sqlite_find_url,
    .each = sqlite_each,
    .each_served = sqlite_each_served,
    .top = sqlite_top,
    .each_limited = sqlite_each_limited,
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
    .add_visits = sqlite_add_visits,
    .add_visit_days = sqlite_add_visit_days,
    .prune_visits = sqlite_prune_visits,
    .each_visit = sqlite_each_visit,
    .count_visits = sqlite_count_visits,
    .each_visit_day = sqlite_each_visit_day,
    .list = sqlite_list,
    .count_list = sqlite_count_list,
    .query = sqlite_query,
    .execute = sqlite_execute,
};
