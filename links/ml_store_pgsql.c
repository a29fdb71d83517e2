/*
 * ml_store_pgsql.c - the links table in PostgreSQL, through APR's apr_dbd
 * and its pgsql driver (Debian: libaprutil1-dbd-pgsql), so that several
 * Apache hosts can share one database (ml_store_engine.h).
 *
 * Decisions, written down once:
 * - The same tables and columns as the SQLite schema, times in Unix
 *   seconds, so both engines read and write the same values and
 *   export/import moves links between them.
 * - Statements are given to apr_dbd_prepare without a label: apr_dbd then
 *   sends each with PQexecParams - values as parameters, never in the SQL
 *   text - and nothing lives on the server that a reconnect would lose.
 * - Writers of links take turns: a statement trigger takes an advisory
 *   lock before any row is touched, held until commit.  So change numbers
 *   are committed in increasing order, and a host that has read the change
 *   log up to N can never later see a change numbered below N appear.
 * - Flushes of click counts take turns too (another advisory lock, at a
 *   transaction's first count), so two hosts updating the same rows in
 *   different orders cannot deadlock.  The counts handed over at once go
 *   in one statement, as arrays joined with unnest(): one round trip per
 *   link made a flush of 100,000 links take 23 s, 512 at a time 2 s
 *   (bench/RESULTS.md).
 * - The tables are ours when minilink_meta holds schema_version; a
 *   database where links, link_changes or minilink_meta belong to someone
 *   else is refused.
 * - Reading every link goes through a cursor, a page at a time, so
 *   loading a million links does not hold them all in one result.
 * - Slugs sort as bytes (COLLATE "C"), as in SQLite; URLs have a hash
 *   index, as a B-tree entry cannot hold a 4096-byte URL.
 */
#include <string.h>
#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "ml_store_engine.h"

/* Advisory lock numbers: "MLNK" and "MLNK" + 1. */
#define LINK_WRITERS_LOCK "1296846411"
#define CLICK_FLUSH_LOCK "1296846412"
#define FETCH_PAGE "1000"

/*
 * The schema, in pieces that init (all at once) and the upgrade from
 * version 1 (step by step) share.
 *
 * Schema version 2's visits (issue 16): one row per click or orphan 404,
 * and a daily roll-up per link kept beyond the visits' retention.  A
 * link's visits go with it (ON DELETE CASCADE; a drain that raced the
 * deletion fails its check and leaves those visits out next time).
 */
#define VISITS_SCHEMA \
    "CREATE TABLE visits (" \
    "  id           bigserial PRIMARY KEY," \
    "  link_id      bigint REFERENCES links (id) ON DELETE CASCADE," \
    "  visited_at   bigint  NOT NULL," \
    "  orphan_type  text CHECK (orphan_type IN" \
    "               ('invalid_short_url', 'base_url', 'regular_404'))," \
    "  referrer     text," \
    "  user_agent   text," \
    "  bot          integer NOT NULL DEFAULT 0 CHECK (bot IN (0, 1))," \
    "  redirect_url text," \
    "  visited_path text    NOT NULL," \
    "  country      text," \
    "  ip           text," \
    "  CHECK ((link_id IS NULL) <> (orphan_type IS NULL))" \
    ");" \
    "CREATE INDEX visits_by_link ON visits (link_id, visited_at);" \
    "CREATE INDEX visits_by_time ON visits (visited_at);" \
    "CREATE TABLE visits_daily (" \
    "  link_id bigint NOT NULL REFERENCES links (id) ON DELETE CASCADE," \
    "  day     bigint NOT NULL," \
    "  clicks  bigint NOT NULL," \
    "  bots    bigint NOT NULL," \
    "  PRIMARY KEY (link_id, day)" \
    ");"


/* The columns whose change a redirect can see: an update of any of them
 * is logged (a flush's update of clicks is not). */
#define WATCHED_COLUMNS \
    "slug, url, status, expires_at, disabled, title, valid_since, max_visits," \
    " fallback_url, password_hash, forward_query, forward_path, crawlable"

/* The columns of schema version 2's rules, as ALTER TABLE adds them. */
#define RULES_COLUMNS(add) \
    add "title text," \
    add "valid_since bigint CHECK (valid_since IS NULL OR valid_since >= 0)," \
    add "max_visits bigint CHECK (max_visits IS NULL" \
    "                             OR max_visits BETWEEN 1 AND 2147483647)," \
    add "fallback_url text," \
    add "password_hash text," \
    add "forward_query integer CHECK (forward_query IS NULL OR forward_query IN (0, 1))," \
    add "forward_path integer CHECK (forward_path IS NULL OR forward_path IN (0, 1))," \
    add "crawlable integer NOT NULL DEFAULT 0 CHECK (crawlable IN (0, 1))"

/* links_limited: the few links with a visit limit, read every refresh;
 * links_extended: those with any rule column set, read apart from the
 * rest at each load (ml_extras_add_scalars). */
#define RULES_INDEXES \
    "CREATE INDEX links_limited ON links (id) WHERE max_visits IS NOT NULL;" \
    "CREATE INDEX links_extended ON links (id) WHERE " ML_STORE_EXTENDED ";"

#define LINKS_TABLE \
    "CREATE TABLE links (" \
    "  id         bigserial PRIMARY KEY," \
    "  slug       text COLLATE \"C\" NOT NULL UNIQUE" \
    "             CHECK (slug ~ '^[A-Za-z0-9_-]{1,64}$')," \
    "  url        text    NOT NULL," \
    "  status     integer CHECK (status IS NULL" \
    "                            OR status IN (301, 302, 303, 307, 308))," \
    "  expires_at bigint  CHECK (expires_at IS NULL OR expires_at >= 0)," \
    "  disabled   integer NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))," \
    "  created_at bigint  NOT NULL DEFAULT extract(epoch FROM now())::bigint," \
    "  updated_at bigint  NOT NULL DEFAULT extract(epoch FROM now())::bigint," \
    "  clicks     bigint  NOT NULL DEFAULT 0," \
    "  last_click_at bigint," \
    RULES_COLUMNS("  ") \
    ");" \
    "CREATE INDEX links_by_url ON links USING hash (url);" \
    "CREATE INDEX links_by_clicks ON links (clicks);" \
    RULES_INDEXES \
    "CREATE TABLE minilink_meta (" \
    "  key   text   PRIMARY KEY," \
    "  value bigint NOT NULL" \
    ");" \
    "CREATE TABLE link_changes (" \
    "  seq        bigserial PRIMARY KEY," \
    "  slug       text   NOT NULL," \
    "  changed_at bigint NOT NULL DEFAULT extract(epoch FROM now())::bigint" \
    ");" \
    "CREATE FUNCTION minilink_writers_take_turns() RETURNS trigger" \
    "  LANGUAGE plpgsql AS $$" \
    "  BEGIN PERFORM pg_advisory_xact_lock(" LINK_WRITERS_LOCK "); RETURN NULL; END $$;" \
    "CREATE FUNCTION minilink_touch() RETURNS trigger LANGUAGE plpgsql AS $$" \
    "  BEGIN NEW.updated_at := extract(epoch FROM now())::bigint; RETURN NEW; END $$;" \
    /* Every change to links, however it is made (module, CLI, psql), \
     * leaves the slug it touched here; Apache applies just those. */ \
    "CREATE FUNCTION minilink_log_change() RETURNS trigger LANGUAGE plpgsql AS $$" \
    "  BEGIN" \
    "    IF TG_OP <> 'INSERT' THEN" \
    "      INSERT INTO link_changes (slug) VALUES (OLD.slug);" \
    "    END IF;" \
    "    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.slug <> OLD.slug) THEN" \
    "      INSERT INTO link_changes (slug) VALUES (NEW.slug);" \
    "    END IF;" \
    "    RETURN NULL;" \
    "  END $$;"

/* The triggers on links, watching WATCHED_COLUMNS.  Writers of links take
 * turns before any row is touched (see the top of this file). */
#define LINKS_TRIGGERS \
    "CREATE TRIGGER links_writers_take_turns" \
    "  BEFORE INSERT OR DELETE OR UPDATE OF " WATCHED_COLUMNS \
    "  ON links FOR EACH STATEMENT EXECUTE FUNCTION minilink_writers_take_turns();" \
    "CREATE TRIGGER links_updated_at" \
    "  BEFORE UPDATE OF " WATCHED_COLUMNS " ON links" \
    "  FOR EACH ROW EXECUTE FUNCTION minilink_touch();" \
    "CREATE TRIGGER links_logged" \
    "  AFTER INSERT OR DELETE OR UPDATE OF " WATCHED_COLUMNS \
    "  ON links FOR EACH ROW EXECUTE FUNCTION minilink_log_change();"

/* A write to the tables beside links logs the slugs of the links it
 * touches, and takes its turn as writers of links do. */
#define TAKES_TURNS(table) \
    "CREATE TRIGGER " table "_writers_take_turns" \
    "  BEFORE INSERT OR DELETE OR UPDATE ON " table \
    "  FOR EACH STATEMENT EXECUTE FUNCTION minilink_writers_take_turns();"

/* Tags, many to many; a link's rows go with it (ON DELETE CASCADE). */
#define TAGS_SCHEMA \
    "CREATE TABLE tags (" \
    "  id   bigserial PRIMARY KEY," \
    "  name text COLLATE \"C\" NOT NULL UNIQUE" \
    "       CHECK (name ~ '^[A-Za-z0-9_.:-]{1,64}$')" \
    ");" \
    "CREATE TABLE link_tags (" \
    "  link_id bigint NOT NULL REFERENCES links (id) ON DELETE CASCADE," \
    "  tag_id  bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE," \
    "  PRIMARY KEY (link_id, tag_id)" \
    ");" \
    "CREATE INDEX link_tags_by_tag ON link_tags (tag_id);" \
    "CREATE FUNCTION minilink_log_link_of() RETURNS trigger LANGUAGE plpgsql AS $$" \
    "  BEGIN" \
    "    IF TG_OP <> 'INSERT' THEN" \
    "      INSERT INTO link_changes (slug) SELECT slug FROM links WHERE id = OLD.link_id;" \
    "    END IF;" \
    "    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.link_id <> OLD.link_id) THEN" \
    "      INSERT INTO link_changes (slug) SELECT slug FROM links WHERE id = NEW.link_id;" \
    "    END IF;" \
    "    RETURN NULL;" \
    "  END $$;" \
    "CREATE FUNCTION minilink_log_tag_renamed() RETURNS trigger LANGUAGE plpgsql AS $$" \
    "  BEGIN" \
    "    INSERT INTO link_changes (slug) SELECT l.slug FROM links l" \
    "      JOIN link_tags t ON t.link_id = l.id WHERE t.tag_id = NEW.id;" \
    "    RETURN NULL;" \
    "  END $$;" \
    "CREATE TRIGGER link_tags_logged AFTER INSERT OR DELETE OR UPDATE ON link_tags" \
    "  FOR EACH ROW EXECUTE FUNCTION minilink_log_link_of();" \
    "CREATE TRIGGER tags_renamed_logged AFTER UPDATE OF name ON tags" \
    "  FOR EACH ROW EXECUTE FUNCTION minilink_log_tag_renamed();" \
    TAKES_TURNS("tags") TAKES_TURNS("link_tags")

/* Redirect rules (Shlink's names: priority, long_url, and conditions of a
 * type with match_key and match_value). */
#define RULES_SCHEMA \
    "CREATE TABLE redirect_rules (" \
    "  id       bigserial PRIMARY KEY," \
    "  link_id  bigint  NOT NULL REFERENCES links (id) ON DELETE CASCADE," \
    "  priority integer NOT NULL CHECK (priority >= 1)," \
    "  long_url text    NOT NULL," \
    "  UNIQUE (link_id, priority)" \
    ");" \
    "CREATE TABLE redirect_conditions (" \
    "  rule_id     bigint  NOT NULL REFERENCES redirect_rules (id) ON DELETE CASCADE," \
    "  position    integer NOT NULL," \
    "  type        text    NOT NULL CHECK (type IN ('device', 'language'," \
    "                'query-param', 'any-value-query-param'," \
    "                'valueless-query-param', 'ip-address'," \
    "                'geolocation-country-code', 'before-date', 'after-date'," \
    "                'browser'))," \
    "  match_key   text," \
    "  match_value text," \
    "  PRIMARY KEY (rule_id, position)" \
    ");" \
    "CREATE FUNCTION minilink_log_rule_of() RETURNS trigger LANGUAGE plpgsql AS $$" \
    "  BEGIN" \
    "    IF TG_OP <> 'INSERT' THEN" \
    "      INSERT INTO link_changes (slug) SELECT l.slug FROM links l" \
    "        JOIN redirect_rules r ON r.link_id = l.id WHERE r.id = OLD.rule_id;" \
    "    END IF;" \
    "    IF TG_OP <> 'DELETE' THEN" \
    "      INSERT INTO link_changes (slug) SELECT l.slug FROM links l" \
    "        JOIN redirect_rules r ON r.link_id = l.id WHERE r.id = NEW.rule_id;" \
    "    END IF;" \
    "    RETURN NULL;" \
    "  END $$;" \
    "CREATE TRIGGER redirect_rules_logged" \
    "  AFTER INSERT OR DELETE OR UPDATE ON redirect_rules" \
    "  FOR EACH ROW EXECUTE FUNCTION minilink_log_link_of();" \
    "CREATE TRIGGER redirect_conditions_logged" \
    "  AFTER INSERT OR DELETE OR UPDATE ON redirect_conditions" \
    "  FOR EACH ROW EXECUTE FUNCTION minilink_log_rule_of();" \
    TAKES_TURNS("redirect_rules") TAKES_TURNS("redirect_conditions")

/*
 * Schema version 3 (issue 17, the management API): who made each link,
 * an index for each order a listing offers (ml_store_list; URLs by their
 * first 1024 characters, as a B-tree entry cannot hold a 4096-byte URL),
 * and the API keys, of which only a SHA-256 is kept (ml_apikey.h).
 */
#define SCHEMA_3 \
    "ALTER TABLE links ADD COLUMN owner text;" \
    "CREATE INDEX links_by_created ON links (created_at, id);" \
    "CREATE INDEX links_by_url_order ON links ((left(url, 1024) COLLATE \"C\"), id);" \
    "CREATE INDEX links_by_title ON links (title NULLS FIRST, id);" \
    "CREATE INDEX links_by_clicks_order ON links (clicks, id);" \
    "CREATE INDEX links_by_owner ON links (owner, created_at)" \
    "  WHERE owner IS NOT NULL;" \
    "CREATE TABLE api_keys (" \
    "  name       text COLLATE \"C\" PRIMARY KEY" \
    "             CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$')," \
    "  key_hash   text NOT NULL UNIQUE CHECK (length(key_hash) = 64)," \
    "  role       text NOT NULL CHECK (role IN ('admin', 'author', 'read-only'))," \
    "  expires_at bigint," \
    "  created_at bigint NOT NULL DEFAULT extract(epoch FROM now())::bigint" \
    ");"

/* What init makes: the newest schema (marked by pg_init). */
static const char schema_sql[] =
    LINKS_TABLE LINKS_TRIGGERS TAGS_SCHEMA RULES_SCHEMA VISITS_SCHEMA SCHEMA_3;

/*
 * From schema version 1 to 2, in order, in upgrade's one transaction
 * (PostgreSQL's DDL is transactional).  Each entry is a group of
 * statements.  Ids were never reused here (bigserial), so links stays.
 */
static const char *const upgrade_1_to_2[] = {
    /* The columns of the new rules. */
    "ALTER TABLE links " RULES_COLUMNS(" ADD COLUMN ") ";" RULES_INDEXES,
    /* The triggers on links again, watching the new columns too. */
    "DROP TRIGGER links_writers_take_turns ON links;"
    "DROP TRIGGER links_updated_at ON links;"
    "DROP TRIGGER links_logged ON links;"
    LINKS_TRIGGERS,
    /* Tags and redirect rules, with their triggers. */
    TAGS_SCHEMA RULES_SCHEMA,
    /* Visits and their daily roll-up (issue 16). */
    VISITS_SCHEMA,
    "UPDATE minilink_meta SET value = 2 WHERE key = 'schema_version';",
    NULL
};

/* From schema version 2 to 3: columns and tables added, nothing moved. */
static const char *const upgrade_2_to_3[] = {
    SCHEMA_3,
    "UPDATE minilink_meta SET value = 3 WHERE key = 'schema_version';",
    NULL
};

/* The steps from each version to the next (ml_store_engine.h). */
static const char *const *const schema_steps[] = { upgrade_1_to_2,
                                                   upgrade_2_to_3 };
typedef char one_step_a_version[sizeof(schema_steps) / sizeof(schema_steps[0])
                                == ML_STORE_SCHEMA_VERSION - 1 ? 1 : -1];

/* What the cache serves a link from (clicks for visit limits), then the
 * rule columns (NULLs in a version-1 database), then the rest of the row. */
#define SERVED_COLUMNS "id, slug, url, status, expires_at, disabled"
#define RULE_COLUMNS ", " ML_STORE_RULE_COLUMNS
/* For a version-1 database (its clicks), and the served walk (none). */
#define NO_RULE_COLUMNS_1 ", clicks, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0"
#define NO_RULE_COLUMNS ", 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0"
#define MORE_COLUMNS ", created_at, updated_at, last_click_at"
/* MORE_COLUMNS' and the owner's shape for a walk that needs only the
 * served ones. */
#define NO_MORE_COLUMNS ", 0, 0, NULL, NULL"
/* The owner, last (NULL before schema 3: every link an admin's). */
#define LINK_COLUMNS SERVED_COLUMNS RULE_COLUMNS MORE_COLUMNS ", owner"
#define LINK_COLUMNS_2 SERVED_COLUMNS RULE_COLUMNS MORE_COLUMNS ", NULL"
#define LINK_COLUMNS_1 SERVED_COLUMNS NO_RULE_COLUMNS_1 MORE_COLUMNS ", NULL"
/* The columns an insert and an update write, after the slug. */
#define WRITTEN_COLUMNS \
    "url, status, expires_at, disabled, title, valid_since, max_visits," \
    " fallback_url, password_hash, forward_query, forward_path, crawlable," \
    " owner"
#define WRITTEN_COUNT 14        /* with the slug */

/* The tags and rules of every link, or of one; rows for ml_extras_add_*. */
#define TAGS_SELECT \
    "SELECT lt.link_id, t.name FROM link_tags lt JOIN tags t ON t.id = lt.tag_id"
#define RULES_SELECT \
    "SELECT r.link_id, r.id, r.long_url, c.type, c.match_key, c.match_value" \
    " FROM redirect_rules r LEFT JOIN redirect_conditions c ON c.rule_id = r.id"

/* Every statement with parameters; %s marks one (apr_dbd's notation). */
typedef enum {
    Q_INSERT, Q_INSERT_GROUP, Q_SET_HISTORY, Q_PRUNE, Q_UPDATE, Q_REMOVE, Q_GET,
    Q_FIND_URL, Q_TOP, Q_CHANGES_AFTER, Q_ADD_CLICKS, Q_META_GET, Q_META_SET,
    Q_TAGS_OF, Q_RULES_OF, Q_DELETE_TAGS, Q_INSERT_TAG, Q_INSERT_LINK_TAG,
    Q_DELETE_RULES, Q_INSERT_RULE, Q_INSERT_CONDITION,
    Q_ADD_VISITS, Q_ADD_VISIT_DAYS, Q_PRUNE_VISITS,
    Q_VISITS_OF_LINK, Q_VISITS_OF_LINK_NEWEST, Q_ORPHAN_VISITS,
    Q_ORPHAN_VISITS_NEWEST, Q_COUNT_VISITS_OF_LINK, Q_COUNT_ORPHAN_VISITS,
    Q_VISIT_DAYS, Q_ALL_VISIT_DAYS,
    Q_COUNT
} query_id;

#define WRITTEN_PARAMS "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"

/* Which visits a query means, and the columns read. */
#define VISITS_OF_LINK "link_id = (SELECT id FROM links WHERE slug = %s)"
#define VISITS_ORPHAN "link_id IS NULL"
#define VISIT_COLUMNS "link_id, visited_at, orphan_type, referrer," \
    " user_agent, bot, redirect_url, visited_path, country, ip"
/* LIMIT NULL is no limit. */
#define VISITS_PAGE " LIMIT %s::bigint OFFSET %s::bigint"

/* The reads of whole links, for each schema's columns. */
#define LINK_READS(columns) \
    [Q_GET] = "SELECT " columns " FROM links WHERE slug = %s", \
    [Q_FIND_URL] = "SELECT " columns " FROM links WHERE url = %s" \
                   " AND disabled = 0 AND (expires_at IS NULL OR expires_at > %s)" \
                   " ORDER BY id DESC LIMIT 1", \
    [Q_TOP] = "SELECT " columns " FROM links ORDER BY clicks DESC, slug LIMIT %s"

static const char *const query_sql[Q_COUNT] = {
    [Q_INSERT] = "INSERT INTO links (slug, " WRITTEN_COLUMNS ")"
                 " VALUES (" WRITTEN_PARAMS ") ON CONFLICT (slug) DO NOTHING"
                 " RETURNING id, created_at, updated_at",
    /* The rows as arrays, a column each (apr_dbd passes text parameters). */
    [Q_INSERT_GROUP] = "INSERT INTO links (slug, " WRITTEN_COLUMNS ")"
                       " SELECT * FROM unnest(%s::text[], %s::text[],"
                       " %s::integer[], %s::bigint[], %s::integer[], %s::text[],"
                       " %s::bigint[], %s::bigint[], %s::text[], %s::text[],"
                       " %s::integer[], %s::integer[], %s::integer[], %s::text[])"
                       " ON CONFLICT (slug) DO NOTHING RETURNING slug, id",
    /* Neither column is watched (WATCHED_COLUMNS): no trigger fires. */
    [Q_SET_HISTORY] = "UPDATE links AS l SET clicks = h.clicks,"
                      " created_at = CASE WHEN h.created_at > 0"
                      " THEN h.created_at ELSE l.created_at END"
                      " FROM unnest(%s::text[], %s::bigint[], %s::bigint[])"
                      "  AS h(slug, created_at, clicks) WHERE l.slug = h.slug",
    [Q_PRUNE] = "DELETE FROM link_changes"
                " WHERE seq <= (SELECT max(seq) FROM link_changes) - %s",
    [Q_UPDATE] = "UPDATE links SET (" WRITTEN_COLUMNS ") = (%s, %s, %s, %s, %s,"
                 " %s, %s, %s, %s, %s, %s, %s, %s) WHERE slug = %s",
    [Q_REMOVE] = "DELETE FROM links WHERE slug = %s",
    LINK_READS(LINK_COLUMNS),
    [Q_CHANGES_AFTER] = "SELECT slug FROM link_changes WHERE seq > %s ORDER BY seq",
    [Q_ADD_CLICKS] = "UPDATE links AS l SET clicks = l.clicks + v.n,"
                     " last_click_at = greatest(coalesce(l.last_click_at, 0), v.at)"
                     " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[])"
                     "  AS v(id, n, at) WHERE l.id = v.id",
    [Q_META_GET] = "SELECT value FROM minilink_meta WHERE key = %s",
    [Q_META_SET] = "INSERT INTO minilink_meta (key, value) VALUES (%s, %s)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [Q_TAGS_OF] = TAGS_SELECT " WHERE lt.link_id = %s ORDER BY t.name",
    [Q_RULES_OF] = RULES_SELECT " WHERE r.link_id = %s"
                   " ORDER BY r.priority, c.position",
    [Q_DELETE_TAGS] = "DELETE FROM link_tags WHERE link_id = %s",
    [Q_INSERT_TAG] = "INSERT INTO tags (name) VALUES (%s)"
                     " ON CONFLICT (name) DO NOTHING",
    [Q_INSERT_LINK_TAG] = "INSERT INTO link_tags (link_id, tag_id)"
                          " SELECT %s, id FROM tags WHERE name = %s"
                          " ON CONFLICT DO NOTHING",
    [Q_DELETE_RULES] = "DELETE FROM redirect_rules WHERE link_id = %s",
    [Q_INSERT_RULE] = "INSERT INTO redirect_rules (link_id, priority, long_url)"
                      " VALUES (%s, %s, %s) RETURNING id",
    [Q_INSERT_CONDITION] = "INSERT INTO redirect_conditions (rule_id, position,"
                           " type, match_key, match_value)"
                           " VALUES (%s, %s, %s, %s, %s)",
    /* A group of visits as ten arrays; those of links gone left out. */
    [Q_ADD_VISITS] = "INSERT INTO visits (" VISIT_COLUMNS ")"
                     " SELECT v.* FROM unnest(%s::bigint[], %s::bigint[],"
                     " %s::text[], %s::text[], %s::text[], %s::integer[],"
                     " %s::text[], %s::text[], %s::text[], %s::text[])"
                     " AS v(" VISIT_COLUMNS ")"
                     " WHERE v.link_id IS NULL"
                     " OR EXISTS (SELECT 1 FROM links WHERE id = v.link_id)",
    [Q_ADD_VISIT_DAYS] = "INSERT INTO visits_daily (link_id, day, clicks, bots)"
                         " SELECT v.* FROM unnest(%s::bigint[], %s::bigint[],"
                         " %s::bigint[], %s::bigint[]) AS v(link_id, day, clicks, bots)"
                         " WHERE EXISTS (SELECT 1 FROM links WHERE id = v.link_id)"
                         " ON CONFLICT (link_id, day) DO UPDATE"
                         " SET clicks = visits_daily.clicks + excluded.clicks,"
                         " bots = visits_daily.bots + excluded.bots",
    [Q_PRUNE_VISITS] = "DELETE FROM visits WHERE id IN (SELECT id FROM visits"
                       " WHERE visited_at < %s ORDER BY visited_at LIMIT %s)",
    [Q_VISITS_OF_LINK] = "SELECT " VISIT_COLUMNS " FROM visits WHERE "
                         VISITS_OF_LINK " AND visited_at >= %s"
                         " ORDER BY visited_at, id" VISITS_PAGE,
    [Q_VISITS_OF_LINK_NEWEST] = "SELECT " VISIT_COLUMNS " FROM visits WHERE "
                                VISITS_OF_LINK " AND visited_at >= %s"
                                " ORDER BY visited_at DESC, id DESC" VISITS_PAGE,
    [Q_ORPHAN_VISITS] = "SELECT " VISIT_COLUMNS " FROM visits WHERE "
                        VISITS_ORPHAN " AND visited_at >= %s"
                        " ORDER BY visited_at, id" VISITS_PAGE,
    [Q_ORPHAN_VISITS_NEWEST] = "SELECT " VISIT_COLUMNS " FROM visits WHERE "
                               VISITS_ORPHAN " AND visited_at >= %s"
                               " ORDER BY visited_at DESC, id DESC" VISITS_PAGE,
    [Q_COUNT_VISITS_OF_LINK] = "SELECT count(*) FROM visits WHERE "
                               VISITS_OF_LINK " AND visited_at >= %s",
    [Q_COUNT_ORPHAN_VISITS] = "SELECT count(*) FROM visits WHERE "
                              VISITS_ORPHAN " AND visited_at >= %s",
    [Q_VISIT_DAYS] = "SELECT link_id, day, clicks, bots FROM visits_daily"
                     " WHERE " VISITS_OF_LINK " AND day >= %s ORDER BY day",
    [Q_ALL_VISIT_DAYS] = "SELECT 0, day, SUM(clicks), SUM(bots)"
                         " FROM visits_daily WHERE day >= %s"
                         " GROUP BY day ORDER BY day",
};

/* The reads that differ in a version-2 database (no owner yet), and in a
 * version-1 database (no rules either). */
static const char *const query_sql_2[Q_COUNT] = { LINK_READS(LINK_COLUMNS_2) };
static const char *const query_sql_1[Q_COUNT] = { LINK_READS(LINK_COLUMNS_1) };

typedef struct {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_pool_t *pool;                       /* the store's */
    apr_dbd_prepared_t *prepared[Q_COUNT];  /* on first use */
    int in_transaction;
    int flush_turn_taken;                   /* CLICK_FLUSH_LOCK, this transaction */
    int prune_at_commit;                    /* a group was inserted (pg_insert_group) */
} pg_store;

#define DB(store) ((pg_store *)(store)->data)

/* libpq's messages span lines ("ERROR: ...\nDETAIL: ..."); a log line
 * must not. */
static const char *one_line(char *message)
{
    char *p;
    apr_size_t len;

    for (p = message; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            *p = ' ';
        }
    }
    len = strlen(message);
    while (len > 0 && message[len - 1] == ' ') {
        message[--len] = '\0';
    }
    return message;
}

static apr_status_t pg_failed(ml_store *store, const char *doing, int rc)
{
    pg_store *db = DB(store);
    char *message = apr_pstrdup(db->pool,
                                apr_dbd_error(db->driver, db->handle, rc));

    return ml_store_fail(store, "%s: %s failed: %s", store->label, doing,
                         one_line(message));
}

/* A statement without parameters, such as BEGIN, or several at once. */
static apr_status_t exec(ml_store *store, const char *sql, const char *doing)
{
    int nrows, rc = apr_dbd_query(DB(store)->driver, DB(store)->handle,
                                  &nrows, sql);

    return rc ? pg_failed(store, doing, rc) : APR_SUCCESS;
}

static apr_dbd_prepared_t *statement(ml_store *store, query_id q)
{
    pg_store *db = DB(store);
    const char *sql = store->schema < 2 && query_sql_1[q] ? query_sql_1[q]
                      : store->schema < 3 && query_sql_2[q] ? query_sql_2[q]
                      : query_sql[q];

    if (db->prepared[q] == NULL
        && apr_dbd_prepare(db->driver, db->pool, db->handle, sql,
                           NULL, &db->prepared[q]) != 0) {
        db->prepared[q] = NULL;
        pg_failed(store, "preparing a statement", 0);
    }
    return db->prepared[q];
}

/* A write statement; *changed gets the rows it touched (may be NULL). */
static apr_status_t run(ml_store *store, query_id q, const char *doing,
                        int *changed, int nargs, const char **args,
                        apr_pool_t *pool)
{
    apr_dbd_prepared_t *prepared = statement(store, q);
    int nrows = 0, rc;

    if (prepared == NULL) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pquery(DB(store)->driver, pool, DB(store)->handle, &nrows,
                        prepared, nargs, args);
    if (rc) {
        return pg_failed(store, doing, rc);
    }
    if (changed) {
        *changed = nrows;
    }
    return APR_SUCCESS;
}

/* A query; its whole result, in pool. */
static apr_status_t rows(ml_store *store, query_id q, const char *doing,
                         apr_dbd_results_t **results, int nargs,
                         const char **args, apr_pool_t *pool)
{
    apr_dbd_prepared_t *prepared = statement(store, q);
    int rc;

    if (prepared == NULL) {
        return APR_EGENERAL;
    }
    *results = NULL;
    rc = apr_dbd_pselect(DB(store)->driver, pool, DB(store)->handle, results,
                         prepared, 1, nargs, args);
    return rc ? pg_failed(store, doing, rc) : APR_SUCCESS;
}

/* A query without parameters; its whole result, in pool. */
static apr_status_t select_sql(ml_store *store, const char *sql,
                               const char *doing, apr_dbd_results_t **results,
                               apr_pool_t *pool)
{
    int rc;

    *results = NULL;
    rc = apr_dbd_select(DB(store)->driver, pool, DB(store)->handle, results,
                        sql, 1);
    return rc ? pg_failed(store, doing, rc) : APR_SUCCESS;
}

/* Moves *row (NULL before the first) to the next row of a result; 0
 * after the last.  (A result is freed with its pool, whether or not it
 * was read to the end.) */
static int next_row(ml_store *store, apr_dbd_results_t *results,
                    apr_dbd_row_t **row, apr_pool_t *pool)
{
    return apr_dbd_get_row(DB(store)->driver, pool, results, row, -1) == 0;
}

/* A number column; 0 for NULL, the schema's "not set". */
static apr_int64_t column_int(ml_store *store, apr_dbd_row_t *row, int column)
{
    apr_int64_t value = 0;

    if (apr_dbd_datum_get(DB(store)->driver, row, column,
                          APR_DBD_TYPE_LONGLONG, &value) != APR_SUCCESS) {
        value = 0;
    }
    return value;
}

static const char *column_text(ml_store *store, apr_dbd_row_t *row, int column)
{
    return apr_dbd_get_entry(DB(store)->driver, row, column);
}

/* The first column of a result's first row; 0 for no row or NULL. */
static apr_int64_t first_int(ml_store *store, apr_dbd_results_t *results,
                             apr_pool_t *pool)
{
    apr_dbd_row_t *row = NULL;

    return next_row(store, results, &row, pool) ? column_int(store, row, 0) : 0;
}

/* A one-number query without parameters. */
static apr_status_t sql_int(ml_store *store, const char *sql,
                            const char *doing, apr_int64_t *value)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    rv = select_sql(store, sql, doing, &results, pool);
    *value = rv == APR_SUCCESS ? first_int(store, results, pool) : 0;
    apr_pool_destroy(pool);
    return rv;
}

/* A one-number query with parameters. */
static apr_status_t query_int(ml_store *store, query_id q, const char *doing,
                              int nargs, const char **args, apr_int64_t *value)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    rv = rows(store, q, doing, &results, nargs, args, pool);
    *value = rv == APR_SUCCESS ? first_int(store, results, pool) : 0;
    apr_pool_destroy(pool);
    return rv;
}

static const char *int_arg(apr_pool_t *pool, apr_int64_t value)
{
    return apr_psprintf(pool, "%" APR_INT64_T_FMT, value);
}

/* NULL (SQL NULL) for 0, the schema's "not set" for status and expiry. */
static const char *optional_arg(apr_pool_t *pool, apr_int64_t value)
{
    return value ? int_arg(pool, value) : NULL;
}

static apr_status_t close_store(void *data)
{
    pg_store *db = data;

    apr_dbd_close(db->driver, db->handle);
    return APR_SUCCESS;
}

/* 0 when minilink_meta has no schema_version. */
static apr_status_t pg_schema_version(ml_store *store, apr_int64_t *version)
{
    return sql_int(store, "SELECT value FROM minilink_meta"
                   " WHERE key = 'schema_version'", "reading the schema",
                   version);
}

/* What the database holds: our tables, nothing of ours, or others'. */
typedef enum { DB_OURS, DB_EMPTY, DB_FOREIGN } db_kind;

static apr_status_t identify(ml_store *store, db_kind *kind)
{
    apr_int64_t ours, taken, version;
    apr_status_t rv;

    if ((rv = sql_int(store, "SELECT (to_regclass('minilink_meta')"
                      " IS NOT NULL)::int", "reading the schema", &ours))
        || (rv = sql_int(store, "SELECT (to_regclass('links') IS NOT NULL"
                         " OR to_regclass('link_changes') IS NOT NULL)::int",
                         "reading the schema", &taken))) {
        return rv;
    }
    if (!ours) {
        *kind = taken ? DB_FOREIGN : DB_EMPTY;
        return APR_SUCCESS;
    }
    if ((rv = pg_schema_version(store, &version))) {
        return rv;
    }
    if (version == 0) {
        *kind = DB_FOREIGN;
    }
    else if ((rv = ml_store_schema_usable(store, version)) != APR_SUCCESS) {
        return rv;
    }
    else {
        *kind = DB_OURS;
    }
    return APR_SUCCESS;
}

static apr_status_t pg_open(ml_store *store, const char *params,
                            ml_store_mode mode, apr_pool_t *pool)
{
    pg_store *db = apr_pcalloc(pool, sizeof(*db));
    const char *error = NULL;
    db_kind kind;
    apr_status_t rv;

    store->data = db;
    db->pool = pool;
    if ((rv = apr_dbd_init(pool)) != APR_SUCCESS
        || (rv = apr_dbd_get_driver(pool, "pgsql", &db->driver)) != APR_SUCCESS) {
        ml_store_fail(store, "%s: APR's PostgreSQL driver cannot be loaded "
                      "(Debian package libaprutil1-dbd-pgsql)", store->label);
        return rv;
    }
    if ((rv = apr_dbd_open_ex(db->driver, pool, params, &db->handle, &error))
        != APR_SUCCESS) {
        ml_store_fail(store, "%s: cannot connect: %s", store->label,
                      error ? one_line(apr_pstrdup(pool, error)) : "no reason given");
        return rv;
    }
    apr_pool_cleanup_register(pool, db, close_store, apr_pool_cleanup_null);
    if ((rv = identify(store, &kind)) != APR_SUCCESS) {
        return rv;
    }
    if (kind == DB_FOREIGN || (kind == DB_EMPTY && mode != ML_STORE_CREATE)) {
        return ml_store_fail(store, "%s: not a minilink database (create the "
                             "tables with 'minilink --db LOCATION init')",
                             store->label);
    }
    return APR_SUCCESS;
}

static apr_status_t pg_check(ml_store *store)
{
    apr_int64_t version;
    apr_status_t rv;

    if (apr_dbd_check_conn(DB(store)->driver, DB(store)->pool,
                           DB(store)->handle) != APR_SUCCESS) {
        return ml_store_fail(store, "%s: the connection was lost",
                             store->label);
    }
    /* An older schema may have been upgraded since: a new connection
     * reads the new columns.  (One query a refresh, until it is.) */
    if (store->schema < ML_STORE_SCHEMA_VERSION) {
        if ((rv = pg_schema_version(store, &version)) != APR_SUCCESS) {
            return rv;
        }
        if (version != store->schema) {
            return ml_store_fail(store, "%s: the schema was upgraded",
                                 store->label);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t pg_begin(ml_store *store, ml_store_txn kind)
{
    /* A read sees one snapshot throughout, as SQLite's read transaction. */
    apr_status_t rv = kind == ML_TXN_READ
        ? exec(store, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
               "starting a read transaction")
        : exec(store, "BEGIN", "starting a write transaction");

    DB(store)->in_transaction = rv == APR_SUCCESS;
    DB(store)->flush_turn_taken = 0;
    return rv;
}

static void prune_changes(ml_store *store, apr_pool_t *pool);

static apr_status_t pg_commit(ml_store *store)
{
    pg_store *db = DB(store);
    apr_pool_t *pool;

    if (db->prune_at_commit) {
        apr_pool_create(&pool, db->pool);
        prune_changes(store, pool);
        apr_pool_destroy(pool);
        db->prune_at_commit = 0;
    }
    db->in_transaction = 0;
    return exec(store, "COMMIT", "committing");
}

static void pg_rollback(ml_store *store)
{
    DB(store)->in_transaction = 0;
    DB(store)->prune_at_commit = 0;
    exec(store, "ROLLBACK", "rolling back");
}

static apr_status_t pg_init(ml_store *store)
{
    db_kind kind;
    apr_status_t rv;

    if ((rv = pg_begin(store, ML_TXN_WRITE))) {
        return rv;
    }
    /* Two inits at once: the second waits here and then finds the tables. */
    rv = exec(store, "SELECT pg_advisory_xact_lock(" LINK_WRITERS_LOCK ")",
              "waiting for another init");
    if (rv == APR_SUCCESS) {
        rv = identify(store, &kind);
    }
    if (rv == APR_SUCCESS && kind == DB_FOREIGN) {
        rv = ml_store_fail(store, "%s: tables of another program are in the "
                           "way; refusing to add ours", store->label);
    }
    if (rv == APR_SUCCESS && kind == DB_EMPTY) {
        rv = exec(store, schema_sql, "creating the schema");
        if (rv == APR_SUCCESS) {
            rv = exec(store, apr_psprintf(DB(store)->pool, "INSERT INTO "
                      "minilink_meta VALUES ('schema_version', %d)",
                      ML_STORE_SCHEMA_VERSION), "marking the schema");
        }
        if (rv == APR_SUCCESS) {
            store->schema = ML_STORE_SCHEMA_VERSION;
        }
    }
    if (rv != APR_SUCCESS) {
        pg_rollback(store);
        return rv;
    }
    return pg_commit(store);
}

/* Keeps the change log to its last ML_STORE_CHANGES_KEPT entries.  A
 * failure here loses nothing, so it is not reported. */
static void prune_changes(ml_store *store, apr_pool_t *pool)
{
    const char *args[] = { int_arg(pool, ML_STORE_CHANGES_KEPT) };
    char saved[sizeof(store->error)];

    memcpy(saved, store->error, sizeof(saved));
    run(store, Q_PRUNE, "pruning the change log", NULL, 1, args, pool);
    memcpy(store->error, saved, sizeof(saved));
}

static void pg_forget_prepared(ml_store *store)
{
    memset(DB(store)->prepared, 0, sizeof(DB(store)->prepared));
}

/* A per-link choice: NULL for the location's, else 1 or 0. */
static const char *choice_arg(ml_choice choice)
{
    return choice == ML_CHOICE_DEFAULT ? NULL
           : choice == ML_CHOICE_ON ? "1" : "0";
}

/* The link's written columns as parameters: the slug, then WRITTEN_COLUMNS'. */
static void link_args(const ml_link *link, const char *args[WRITTEN_COUNT],
                      apr_pool_t *pool)
{
    args[0] = link->slug;
    args[1] = link->url;
    args[2] = optional_arg(pool, link->status);
    args[3] = optional_arg(pool, link->expires_at);
    args[4] = int_arg(pool, link->disabled);
    args[5] = link->title;
    args[6] = optional_arg(pool, link->valid_since);
    args[7] = optional_arg(pool, link->max_visits);
    args[8] = link->fallback_url;
    args[9] = link->password_hash;
    args[10] = choice_arg(link->forward_query);
    args[11] = choice_arg(link->forward_path);
    args[12] = int_arg(pool, link->crawlable);
    args[13] = link->owner;
}

static apr_status_t pg_insert(ml_store *store, ml_link *link)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    const char *args[WRITTEN_COUNT];
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    link_args(link, args, pool);
    rv = rows(store, Q_INSERT, "adding a link", &results, WRITTEN_COUNT, args,
              pool);
    if (rv == APR_SUCCESS && !next_row(store, results, &row, pool)) {
        ml_store_fail(store, "the slug '%s' is already taken", link->slug);
        rv = APR_EEXIST;
    }
    if (rv == APR_SUCCESS) {
        link->id = column_int(store, row, 0);
        link->created_at = column_int(store, row, 1);
        link->updated_at = column_int(store, row, 2);
        prune_changes(store, pool);
    }
    apr_pool_destroy(pool);
    return rv;
}

/* Text as an element of an array literal: quoted, with '"' and '\\'
 * escaped (a URL may hold either). */
static char *append_quoted(char *end, const char *text)
{
    *end++ = '"';
    for (; *text; text++) {
        if (*text == '"' || *text == '\\') {
            *end++ = '\\';
        }
        *end++ = *text;
    }
    *end++ = '"';
    return end;
}

/* One column of links[0..count) as an array literal: the written
 * parameters' column (link_args), a text quoted, NULL as NULL. */
static const char *group_array(apr_pool_t *pool, const ml_link *links,
                               apr_size_t count, int column)
{
    const char **values = apr_palloc(pool, count * sizeof(*values));
    apr_size_t room = 3, i;
    char *literal, *end;

    for (i = 0; i < count; i++) {
        const char *args[WRITTEN_COUNT];
        link_args(&links[i], args, pool);
        values[i] = args[column];
        room += values[i] ? 2 * strlen(values[i]) + 3 : 5;
    }
    literal = end = apr_palloc(pool, room);
    *end++ = '{';
    for (i = 0; i < count; i++) {
        if (i) {
            *end++ = ',';
        }
        if (values[i] == NULL) {
            memcpy(end, "NULL", 4);
            end += 4;
        }
        else {
            end = append_quoted(end, values[i]);
        }
    }
    strcpy(end, "}");
    return literal;
}

/*
 * A group in one statement: a round trip for each of a million links was
 * most of an import's time.  ON CONFLICT DO NOTHING RETURNING slug, id
 * says which rows went in without aborting the transaction; the first
 * link that did not - its slug in the database, or earlier in the group -
 * is the one at fault.
 */
static apr_status_t pg_insert_group(ml_store *store, const ml_link *links,
                                    apr_size_t count, apr_int64_t *ids,
                                    apr_size_t *failed)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_hash_t *inserted;
    apr_status_t rv;
    apr_size_t i;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[WRITTEN_COUNT];
        int column;
        for (column = 0; column < WRITTEN_COUNT; column++) {
            args[column] = group_array(pool, links, count, column);
        }
        rv = rows(store, Q_INSERT_GROUP, "adding links", &results,
                  WRITTEN_COUNT, args, pool);
    }
    inserted = apr_hash_make(pool);
    /* Copied: reading past the last row frees the result, and with it
     * the text column_text() pointed into. */
    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        apr_int64_t *id = apr_palloc(pool, sizeof(*id));
        *id = column_int(store, row, 1);
        apr_hash_set(inserted, apr_pstrdup(pool, column_text(store, row, 0)),
                     APR_HASH_KEY_STRING, id);
    }
    for (i = 0; rv == APR_SUCCESS && i < count; i++) {
        apr_int64_t *id = apr_hash_get(inserted, links[i].slug,
                                       APR_HASH_KEY_STRING);
        /* Seen once: a second link with the slug is the one refused. */
        if (id == NULL) {
            *failed = i;
            ml_store_fail(store, "the slug '%s' is already taken",
                          links[i].slug);
            rv = APR_EEXIST;
        }
        else {
            ids[i] = *id;
            apr_hash_set(inserted, links[i].slug, APR_HASH_KEY_STRING, NULL);
        }
    }
    /* Pruned once, at the commit: the deleted rows of a prune per group
     * stay in the index until a vacuum, and each prune would walk all of
     * them again (a million-link import took 50 s, 200,000 3.4 s). */
    DB(store)->prune_at_commit |= rv == APR_SUCCESS;
    apr_pool_destroy(pool);
    return rv;
}

/* A write of one link by slug; APR_ENOENT when no row has the slug. */
static apr_status_t write_link(ml_store *store, query_id q, const char *doing,
                               const char *slug, int nargs, const char **args,
                               apr_pool_t *pool)
{
    int changed = 0;
    apr_status_t rv = run(store, q, doing, &changed, nargs, args, pool);

    if (rv == APR_SUCCESS && changed == 0) {
        ml_store_fail(store, "no link has the slug '%s'", slug);
        rv = APR_ENOENT;
    }
    if (rv == APR_SUCCESS) {
        prune_changes(store, pool);
    }
    return rv;
}

static apr_status_t pg_update(ml_store *store, const ml_link *link)
{
    const char *args[WRITTEN_COUNT];
    apr_pool_t *pool;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    link_args(link, args, pool);
    /* The slug goes last, in the WHERE. */
    memmove(args, args + 1, (WRITTEN_COUNT - 1) * sizeof(args[0]));
    args[WRITTEN_COUNT - 1] = link->slug;
    rv = write_link(store, Q_UPDATE, "changing a link", link->slug,
                    WRITTEN_COUNT, args, pool);
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_write_extras(ml_store *store, const ml_link *link,
                                    int fresh)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row;
    const char *id;
    apr_status_t rv;
    int i, k;

    apr_pool_create(&pool, DB(store)->pool);
    id = int_arg(pool, link->id);
    /* Fresh (just inserted): nothing to replace; each delete was a round
     * trip. */
    rv = fresh ? APR_SUCCESS
               : run(store, Q_DELETE_TAGS, "changing a link's tags", NULL, 1,
                     &id, pool);
    for (i = 0; rv == APR_SUCCESS && link->tags && i < link->tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(link->tags, i, const char *);
        const char *tagged[] = { id, tag };
        if ((rv = run(store, Q_INSERT_TAG, "adding a tag", NULL, 1, &tag, pool))
            == APR_SUCCESS) {
            rv = run(store, Q_INSERT_LINK_TAG, "tagging a link", NULL, 2,
                     tagged, pool);
        }
    }
    if (rv == APR_SUCCESS && !fresh) {
        rv = run(store, Q_DELETE_RULES, "changing a link's redirect rules",
                 NULL, 1, &id, pool);
    }
    for (i = 0; rv == APR_SUCCESS && i < link->nrules; i++) {
        const ml_rule *rule = &link->rules[i];
        const char *rule_args[] = { id, int_arg(pool, i + 1), rule->url };
        const char *rule_id;
        row = NULL;
        rv = rows(store, Q_INSERT_RULE, "adding a redirect rule", &results, 3,
                  rule_args, pool);
        if (rv == APR_SUCCESS && !next_row(store, results, &row, pool)) {
            rv = ml_store_fail(store, "%s: adding a redirect rule returned "
                               "no id", store->label);
        }
        rule_id = rv == APR_SUCCESS
                  ? apr_pstrdup(pool, column_text(store, row, 0)) : NULL;
        for (k = 0; rv == APR_SUCCESS && k < rule->nconditions; k++) {
            const ml_condition *c = &rule->conditions[k];
            const char *condition_args[] = {
                rule_id, int_arg(pool, k + 1), ml_condition_type_name(c->type),
                c->key, c->value
            };
            rv = run(store, Q_INSERT_CONDITION, "adding a redirect condition",
                     NULL, 5, condition_args, pool);
        }
    }
    if (rv == APR_SUCCESS && !fresh) {
        prune_changes(store, pool);
    }
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_remove(ml_store *store, const char *slug)
{
    const char *args[] = { slug };
    apr_pool_t *pool;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    rv = write_link(store, Q_REMOVE, "removing a link", slug, 1, args, pool);
    apr_pool_destroy(pool);
    return rv;
}

/* A text column that may be NULL. */
static const char *column_optional(ml_store *store, apr_dbd_row_t *row,
                                   int column)
{
    const char *text = NULL;

    return apr_dbd_datum_get(DB(store)->driver, row, column,
                             APR_DBD_TYPE_STRING, &text) == APR_SUCCESS
           ? text : NULL;
}

static ml_choice column_choice(ml_store *store, apr_dbd_row_t *row, int column)
{
    int value = 0;

    if (apr_dbd_datum_get(DB(store)->driver, row, column, APR_DBD_TYPE_INT,
                          &value) != APR_SUCCESS) {
        return ML_CHOICE_DEFAULT;
    }
    return value ? ML_CHOICE_ON : ML_CHOICE_OFF;
}

/* The clicks and rule columns from column `first` on, as
 * ML_STORE_RULE_COLUMNS lists them. */
static void read_rule_columns(ml_store *store, apr_dbd_row_t *row, int first,
                              ml_link *link)
{
    link->clicks = column_int(store, row, first);
    link->title = column_optional(store, row, first + 1);
    link->valid_since = column_int(store, row, first + 2);
    link->max_visits = column_int(store, row, first + 3);
    link->fallback_url = column_optional(store, row, first + 4);
    link->password_hash = column_optional(store, row, first + 5);
    link->forward_query = column_choice(store, row, first + 6);
    link->forward_path = column_choice(store, row, first + 7);
    link->crawlable = (int)column_int(store, row, first + 8);
}

/* Reads a LINK_COLUMNS row into *link (strings point into the result;
 * tags and rules are not read). */
static void read_row(ml_store *store, apr_dbd_row_t *row, ml_link *link)
{
    memset(link, 0, sizeof(*link));
    link->id = column_int(store, row, 0);
    link->slug = column_text(store, row, 1);
    link->url = column_text(store, row, 2);
    link->status = (int)column_int(store, row, 3);
    link->expires_at = column_int(store, row, 4);
    link->disabled = (int)column_int(store, row, 5);
    read_rule_columns(store, row, 6, link);
    link->created_at = column_int(store, row, 15);
    link->updated_at = column_int(store, row, 16);
    link->last_click_at = column_int(store, row, 17);
    link->owner = column_optional(store, row, 18);
}

/* What a query of add_extras() gathers. */
enum { EXTRAS_TAGS, EXTRAS_RULES, EXTRAS_SCALARS };

/* The rows of a tags, rules or rule columns query, into extras. */
static void add_extras(ml_store *store, apr_dbd_results_t *results,
                       int what, ml_link_extras *extras, apr_pool_t *pool)
{
    apr_dbd_row_t *row = NULL;

    while (next_row(store, results, &row, pool)) {
        if (what == EXTRAS_SCALARS) {
            ml_link scalars;
            memset(&scalars, 0, sizeof(scalars));
            scalars.id = column_int(store, row, 0);
            read_rule_columns(store, row, 1, &scalars);
            ml_extras_add_scalars(extras, &scalars, NULL);
        }
        else if (what == EXTRAS_RULES) {
            ml_extras_add_condition(extras, column_int(store, row, 0),
                                    column_int(store, row, 1),
                                    column_text(store, row, 2),
                                    column_optional(store, row, 3),
                                    column_optional(store, row, 4),
                                    column_optional(store, row, 5));
        }
        else {
            ml_extras_add_tag(extras, column_int(store, row, 0),
                              column_text(store, row, 1));
        }
    }
}

/* The tags and rules of one link (link_id), or of all (0) with the rule
 * columns of those that have any, into extras; none in a version-1
 * database. */
static apr_status_t gather_extras(ml_store *store, apr_int64_t link_id,
                                  ml_link_extras *extras)
{
    apr_pool_t *pool;
    apr_dbd_results_t *tags, *rules, *scalars = NULL;
    apr_status_t rv;

    if (store->schema < 2) {
        return APR_SUCCESS;
    }
    apr_pool_create(&pool, DB(store)->pool);
    if (link_id) {
        const char *args[] = { int_arg(pool, link_id) };
        rv = rows(store, Q_TAGS_OF, "reading a link's tags", &tags, 1, args,
                  pool);
        if (rv == APR_SUCCESS) {
            rv = rows(store, Q_RULES_OF, "reading a link's rules", &rules, 1,
                      args, pool);
        }
    }
    else {
        rv = select_sql(store, "SELECT id" RULE_COLUMNS " FROM links WHERE "
                        ML_STORE_EXTENDED, "reading the rules", &scalars, pool);
        if (rv == APR_SUCCESS) {
            rv = select_sql(store, TAGS_SELECT " ORDER BY lt.link_id, t.name",
                            "reading the tags", &tags, pool);
        }
        if (rv == APR_SUCCESS) {
            rv = select_sql(store, RULES_SELECT " ORDER BY r.link_id,"
                            " r.priority, c.position", "reading the rules",
                            &rules, pool);
        }
    }
    if (rv == APR_SUCCESS) {
        if (scalars) {
            add_extras(store, scalars, EXTRAS_SCALARS, extras, pool);
        }
        add_extras(store, tags, EXTRAS_TAGS, extras, pool);
        add_extras(store, rules, EXTRAS_RULES, extras, pool);
    }
    apr_pool_destroy(pool);
    return rv;
}

/* Calls row() for each row of a LINK_COLUMNS result, with its tags and
 * rules from extras (NULL: not read). */
static apr_status_t each_row(ml_store *store, apr_dbd_results_t *results,
                             const ml_link_extras *extras,
                             ml_store_row_fn *row_fn, void *ctx,
                             apr_pool_t *pool, apr_size_t *count)
{
    apr_dbd_row_t *row = NULL;
    apr_status_t rv = APR_SUCCESS;

    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        ml_link link;
        read_row(store, row, &link);
        if (extras) {
            ml_extras_attach(extras, &link);
        }
        ++*count;
        rv = row_fn(ctx, &link, ml_link_problem(&link));
    }
    return rv;
}

/* The strings of a link read, copied into pool to outlive the result. */
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

/* The first link a query finds, its strings copied into pool, with its
 * tags and rules if with_extras. */
static apr_status_t one_link(ml_store *store, query_id q, const char *doing,
                             int nargs, const char **args, int with_extras,
                             ml_link *link, const char **problem,
                             apr_pool_t *pool)
{
    apr_pool_t *scratch;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    apr_pool_create(&scratch, DB(store)->pool);
    rv = rows(store, q, doing, &results, nargs, args, scratch);
    if (rv == APR_SUCCESS) {
        if (!next_row(store, results, &row, scratch)) {
            rv = APR_ENOENT;
        }
        else {
            read_row(store, row, link);
            copy_strings(link, pool);
        }
    }
    apr_pool_destroy(scratch);
    if (rv == APR_SUCCESS && with_extras) {
        ml_link_extras *extras = ml_extras_make(pool);
        if ((rv = gather_extras(store, link->id, extras)) == APR_SUCCESS) {
            ml_extras_attach(extras, link);
        }
    }
    if (rv == APR_SUCCESS && problem) {
        *problem = ml_link_problem(link);
    }
    return rv;
}

static apr_status_t pg_get(ml_store *store, const char *slug, ml_link *link,
                           const char **problem, apr_pool_t *pool)
{
    const char *args[] = { slug };
    apr_status_t rv = one_link(store, Q_GET, "reading a link", 1, args, 1,
                               link, problem, pool);

    if (rv == APR_ENOENT) {
        ml_store_fail(store, "no link has the slug '%s'", slug);
    }
    return rv;
}

static apr_status_t pg_find_url(ml_store *store, const char *url,
                                apr_int64_t now, ml_link *link,
                                apr_pool_t *pool)
{
    const char *args[] = { url, int_arg(pool, now) };

    return one_link(store, Q_FIND_URL, "looking up a URL", 2, args, 0, link,
                    NULL, pool);
}

/* LINK_COLUMNS as the open database's schema has them. */
static const char *link_columns(const ml_store *store)
{
    return store->schema >= 3 ? LINK_COLUMNS
           : store->schema == 2 ? LINK_COLUMNS_2 : LINK_COLUMNS_1;
}

/* Calls row() for every row of a LINK_COLUMNS-shaped query (cursor), with
 * its tags and rules (all read first, in the same snapshot). */
static apr_status_t walk(ml_store *store, const char *select,
                         ml_store_row_fn *row_fn, void *ctx)
{
    int own_transaction = !DB(store)->in_transaction;
    char saved[sizeof(store->error)];
    apr_pool_t *walk_pool;
    ml_link_extras *extras;
    apr_status_t rv, closed;
    apr_size_t count = 0;

    /* A cursor lives in a transaction. */
    if (own_transaction && (rv = pg_begin(store, ML_TXN_READ))) {
        return rv;
    }
    apr_pool_create(&walk_pool, DB(store)->pool);
    extras = ml_extras_make(walk_pool);
    rv = gather_extras(store, 0, extras);
    if (rv == APR_SUCCESS) {
        rv = exec(store, apr_pstrcat(walk_pool, "DECLARE minilink_each "
                                     "NO SCROLL CURSOR FOR ", select, NULL),
                  "reading the links");
    }
    while (rv == APR_SUCCESS) {
        apr_pool_t *page;
        apr_dbd_results_t *results;

        apr_pool_create(&page, DB(store)->pool);
        count = 0;
        rv = select_sql(store, "FETCH FORWARD " FETCH_PAGE " FROM minilink_each",
                        "reading the links", &results, page);
        if (rv == APR_SUCCESS) {
            rv = each_row(store, results, extras, row_fn, ctx, page, &count);
        }
        apr_pool_destroy(page);
        if (count == 0) {
            break;
        }
    }
    apr_pool_destroy(walk_pool);
    if (own_transaction) {
        if (rv == APR_SUCCESS) {
            return pg_commit(store);
        }
        pg_rollback(store);
        return rv;
    }
    /* In the caller's transaction the cursor must go, whatever stopped
     * the walk, so that another walk can declare it; the walk's own error,
     * if any, is the one to report. */
    memcpy(saved, store->error, sizeof(saved));
    closed = exec(store, "CLOSE minilink_each", "reading the links");
    if (rv != APR_SUCCESS) {
        memcpy(store->error, saved, sizeof(saved));
        return rv;
    }
    return closed;
}

static apr_status_t pg_each(ml_store *store, ml_store_row_fn *row_fn, void *ctx)
{
    return walk(store, store->schema >= 3
                ? "SELECT " LINK_COLUMNS " FROM links ORDER BY slug"
                : store->schema == 2
                ? "SELECT " LINK_COLUMNS_2 " FROM links ORDER BY slug"
                : "SELECT " LINK_COLUMNS_1 " FROM links ORDER BY slug",
                row_fn, ctx);
}

static apr_status_t pg_each_served(ml_store *store, ml_store_row_fn *row_fn,
                                   void *ctx)
{
    /* The rule columns come from the few links that have any (walk's
     * gather_extras()), not from every row. */
    return walk(store, "SELECT " SERVED_COLUMNS NO_RULE_COLUMNS NO_MORE_COLUMNS
                " FROM links ORDER BY id", row_fn, ctx);
}

static apr_status_t pg_top(ml_store *store, int count, ml_store_row_fn *row_fn,
                           void *ctx)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_size_t seen = 0;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[] = { int_arg(pool, count) };
        rv = rows(store, Q_TOP, "reading the top links", &results, 1, args, pool);
    }
    if (rv == APR_SUCCESS) {
        rv = each_row(store, results, NULL, row_fn, ctx, pool, &seen);
    }
    apr_pool_destroy(pool);
    return rv;
}

/* What a link's rules of schema 2 may take in a table beyond its slug and
 * URL, over-estimated as the SQLite engine does. */
#define SUMMARY_2 \
    "SELECT count(*), coalesce(sum(octet_length(slug) + octet_length(url)), 0)" \
    "  + (SELECT coalesce(sum(64 + coalesce(octet_length(title), 0)" \
    "                     + coalesce(octet_length(fallback_url), 0)" \
    "                     + coalesce(octet_length(password_hash), 0)), 0)" \
    "     FROM links WHERE " ML_STORE_EXTENDED ")" \
    "  + (SELECT coalesce(sum(64 + octet_length(long_url)), 0)" \
    "     FROM redirect_rules)" \
    "  + (SELECT coalesce(sum(40 + coalesce(octet_length(match_key), 0)" \
    "                        + coalesce(octet_length(match_value), 0)), 0)" \
    "     FROM redirect_conditions)" \
    "  + (SELECT coalesce(sum(64 + octet_length(t.name)), 0)" \
    "     FROM link_tags lt JOIN tags t ON t.id = lt.tag_id)" \
    " FROM links"
#define SUMMARY_1 \
    "SELECT count(*), coalesce(sum(octet_length(slug) + octet_length(url)), 0)" \
    " FROM links"

static apr_status_t pg_summary(ml_store *store, apr_uint32_t *links,
                               apr_uint64_t *text_bytes)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    rv = select_sql(store, store->schema >= 2 ? SUMMARY_2 : SUMMARY_1,
                    "counting the links", &results, pool);
    if (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        *links = (apr_uint32_t)column_int(store, row, 0);
        *text_bytes = (apr_uint64_t)column_int(store, row, 1);
    }
    apr_pool_destroy(pool);
    return rv;
}

/* A count or a change number: sql_int(), never negative. */
static apr_status_t sql_count(ml_store *store, const char *sql,
                              const char *doing, apr_uint64_t *value)
{
    apr_int64_t signed_value;
    apr_status_t rv = sql_int(store, sql, doing, &signed_value);

    *value = (apr_uint64_t)signed_value;
    return rv;
}

static apr_status_t pg_change_seq(ml_store *store, apr_uint64_t *seq)
{
    return sql_count(store, "SELECT coalesce(max(seq), 0) FROM link_changes",
                     "reading the change log", seq);
}

static apr_status_t pg_oldest_change(ml_store *store, apr_uint64_t *seq)
{
    return sql_count(store, "SELECT coalesce(min(seq), 0) FROM link_changes",
                     "reading the change log", seq);
}

static apr_status_t pg_changes_after(ml_store *store, apr_uint64_t after,
                                     ml_store_change_fn *changed, void *ctx)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[] = { int_arg(pool, (apr_int64_t)after) };
        rv = rows(store, Q_CHANGES_AFTER, "reading the change log", &results,
                  1, args, pool);
    }
    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        rv = changed(ctx, column_text(store, row, 0));
    }
    apr_pool_destroy(pool);
    return rv;
}

/* Appends the i-th value of an array literal ('{1,2,3'; the caller closes
 * it).  Room needed: a separator and up to 20 characters per value. */
static char *append_value(char *end, apr_size_t i, apr_int64_t value)
{
    *end++ = i ? ',' : '{';
    return end + apr_snprintf(end, 21, "%" APR_INT64_T_FMT, value);
}

/* The three columns of adds[0..count) as array literals. */
static void click_arrays(apr_pool_t *pool, const ml_store_clicks *adds,
                         apr_size_t count, const char *arrays[3])
{
    apr_size_t room = count * 21 + 2, i;
    char *ids = apr_palloc(pool, room), *ids_end = ids;
    char *clicks = apr_palloc(pool, room), *clicks_end = clicks;
    char *times = apr_palloc(pool, room), *times_end = times;

    for (i = 0; i < count; i++) {
        ids_end = append_value(ids_end, i, adds[i].link_id);
        clicks_end = append_value(clicks_end, i, (apr_int64_t)adds[i].clicks);
        times_end = append_value(times_end, i, adds[i].last_click_at);
    }
    strcpy(ids_end, "}");
    strcpy(clicks_end, "}");
    strcpy(times_end, "}");
    arrays[0] = ids;
    arrays[1] = clicks;
    arrays[2] = times;
}

static apr_status_t pg_add_clicks(ml_store *store, const ml_store_clicks *adds,
                                  apr_size_t count)
{
    pg_store *db = DB(store);
    apr_pool_t *pool;
    const char *args[3];
    apr_status_t rv = APR_SUCCESS;

    if (db->in_transaction && !db->flush_turn_taken) {
        rv = exec(store, "SELECT pg_advisory_xact_lock(" CLICK_FLUSH_LOCK ")",
                  "waiting for another host's flush");
        db->flush_turn_taken = rv == APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&pool, db->pool);
    click_arrays(pool, adds, count, args);
    rv = run(store, Q_ADD_CLICKS, "counting clicks", NULL, 3, args, pool);
    apr_pool_destroy(pool);
    return rv;
}

/* The three columns of history[0..count) as array literals. */
static void history_arrays(apr_pool_t *pool, const ml_store_history *history,
                           apr_size_t count, const char *arrays[3])
{
    apr_size_t room = count * 21 + 2, slug_room = 2, i;
    char *slugs, *slugs_end, *times, *times_end, *clicks, *clicks_end;

    for (i = 0; i < count; i++) {
        slug_room += 2 * strlen(history[i].slug) + 3;
    }
    slugs = slugs_end = apr_palloc(pool, slug_room);
    times = times_end = apr_palloc(pool, room);
    clicks = clicks_end = apr_palloc(pool, room);
    for (i = 0; i < count; i++) {
        *slugs_end++ = i ? ',' : '{';
        slugs_end = append_quoted(slugs_end, history[i].slug);
        times_end = append_value(times_end, i, history[i].created_at);
        clicks_end = append_value(clicks_end, i, history[i].clicks);
    }
    strcpy(slugs_end, "}");
    strcpy(times_end, "}");
    strcpy(clicks_end, "}");
    arrays[0] = slugs;
    arrays[1] = times;
    arrays[2] = clicks;
}

static apr_status_t pg_set_history(ml_store *store,
                                   const ml_store_history *history,
                                   apr_size_t count)
{
    apr_pool_t *pool;
    const char *args[3];
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    history_arrays(pool, history, count, args);
    rv = run(store, Q_SET_HISTORY, "writing the links' history", NULL, 3,
             args, pool);
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_each_limited(ml_store *store,
                                    ml_store_limited_fn *limited, void *ctx)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    rv = select_sql(store, "SELECT slug, clicks FROM links"
                    " WHERE max_visits IS NOT NULL", "reading the visit limits",
                    &results, pool);
    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        rv = limited(ctx, column_text(store, row, 0), column_int(store, row, 1));
    }
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_click_total(ml_store *store, apr_uint64_t *clicks)
{
    return sql_count(store, "SELECT coalesce(sum(clicks), 0) FROM links",
                     "counting clicks", clicks);
}

static apr_status_t pg_meta_get(ml_store *store, const char *key,
                                apr_int64_t *value)
{
    const char *args[] = { key };

    return query_int(store, Q_META_GET, "reading minilink_meta", 1, args,
                     value);
}

static apr_status_t pg_meta_set(ml_store *store, const char *key,
                                apr_int64_t value)
{
    apr_pool_t *pool;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[] = { key, int_arg(pool, value) };
        rv = run(store, Q_META_SET, "writing minilink_meta", NULL, 2, args, pool);
    }
    apr_pool_destroy(pool);
    return rv;
}

/* ---- visits ------------------------------------------------------------ */

/* An array literal element: NULL for NULL or "", else quoted. */
static char *append_text_element(char *end, apr_size_t i, const char *text)
{
    *end++ = i ? ',' : '{';
    if (text == NULL || *text == '\0') {
        memcpy(end, "NULL", 4);
        return end + 4;
    }
    return append_quoted(end, text);
}

/* Room for an element: a separator, then text quoted and escaped, or
 * NULL. */
static apr_size_t quoted_room(const char *text)
{
    return (text ? 2 * strlen(text) : 0) + 5;
}

/* The ten columns of visits[0..count) as array literals. */
static void visit_arrays(apr_pool_t *pool, const ml_store_visit *visits,
                         apr_size_t count, const char *arrays[10])
{
    apr_size_t room[10], i;
    char *start[10], *end[10];
    int c;

    for (c = 0; c < 10; c++) {
        room[c] = 3;
    }
    for (i = 0; i < count; i++) {
        room[0] += 22;
        room[1] += 22;
        room[2] += quoted_room(visits[i].orphan_type);
        room[3] += quoted_room(visits[i].referrer);
        room[4] += quoted_room(visits[i].user_agent);
        room[5] += 3;
        room[6] += quoted_room(visits[i].redirect_url);
        room[7] += quoted_room(visits[i].visited_path);
        room[8] += quoted_room(visits[i].country);
        room[9] += quoted_room(visits[i].ip);
    }
    for (c = 0; c < 10; c++) {
        start[c] = end[c] = apr_palloc(pool, room[c]);
    }
    for (i = 0; i < count; i++) {
        const ml_store_visit *v = &visits[i];
        if (v->link_id) {
            end[0] = append_value(end[0], i, v->link_id);
        }
        else {
            end[0] = append_text_element(end[0], i, NULL);
        }
        end[1] = append_value(end[1], i, v->visited_at);
        end[2] = append_text_element(end[2], i, v->orphan_type);
        end[3] = append_text_element(end[3], i, v->referrer);
        end[4] = append_text_element(end[4], i, v->user_agent);
        end[5] = append_value(end[5], i, v->bot != 0);
        end[6] = append_text_element(end[6], i, v->redirect_url);
        end[7] = append_text_element(end[7], i, v->visited_path);
        end[8] = append_text_element(end[8], i, v->country);
        end[9] = append_text_element(end[9], i, v->ip);
    }
    for (c = 0; c < 10; c++) {
        strcpy(end[c], "}");
        arrays[c] = start[c];
    }
}

static apr_status_t pg_add_visits(ml_store *store, const ml_store_visit *visits,
                                  apr_size_t count)
{
    apr_pool_t *pool;
    const char *args[10];
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    visit_arrays(pool, visits, count, args);
    rv = run(store, Q_ADD_VISITS, "adding visits", NULL, 10, args, pool);
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_add_visit_days(ml_store *store,
                                      const ml_store_visit_day *days,
                                      apr_size_t count)
{
    apr_size_t room = count * 21 + 2, i;
    char *start[4], *end[4];
    const char *args[4];
    apr_pool_t *pool;
    apr_status_t rv;
    int c;

    apr_pool_create(&pool, DB(store)->pool);
    for (c = 0; c < 4; c++) {
        start[c] = end[c] = apr_palloc(pool, room);
    }
    for (i = 0; i < count; i++) {
        end[0] = append_value(end[0], i, days[i].link_id);
        end[1] = append_value(end[1], i, days[i].day);
        end[2] = append_value(end[2], i, days[i].clicks);
        end[3] = append_value(end[3], i, days[i].bots);
    }
    for (c = 0; c < 4; c++) {
        strcpy(end[c], "}");
        args[c] = start[c];
    }
    rv = run(store, Q_ADD_VISIT_DAYS, "adding to the daily visits", NULL, 4,
             args, pool);
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_prune_visits(ml_store *store, apr_int64_t before,
                                    int limit, apr_uint64_t *deleted)
{
    apr_pool_t *pool;
    apr_status_t rv;
    int changed = 0;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[] = { int_arg(pool, before), int_arg(pool, limit) };
        rv = run(store, Q_PRUNE_VISITS, "deleting old visits", &changed, 2,
                 args, pool);
    }
    apr_pool_destroy(pool);
    *deleted = rv == APR_SUCCESS ? (apr_uint64_t)changed : 0;
    return rv;
}

/* NULL for an empty column: what SQLite's reader gives too. */
static const char *column_or_null(ml_store *store, apr_dbd_row_t *row,
                                  int column)
{
    const char *text = column_text(store, row, column);

    return text && *text ? text : NULL;
}

static apr_status_t pg_each_visit(ml_store *store, const ml_store_visit_query *q,
                                  ml_store_visit_fn *fn, void *ctx)
{
    query_id which = q->slug ? (q->newest_first ? Q_VISITS_OF_LINK_NEWEST
                                                : Q_VISITS_OF_LINK)
                             : (q->newest_first ? Q_ORPHAN_VISITS_NEWEST
                                                : Q_ORPHAN_VISITS);
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[] = { q->slug, int_arg(pool, q->since),
                               q->limit > 0 ? int_arg(pool, q->limit) : NULL,
                               int_arg(pool, q->offset) };
        rv = q->slug ? rows(store, which, "reading visits", &results, 4, args,
                            pool)
                     : rows(store, which, "reading visits", &results, 3,
                            args + 1, pool);
    }
    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        ml_store_visit visit;
        visit.link_id = column_int(store, row, 0);
        visit.visited_at = column_int(store, row, 1);
        visit.orphan_type = column_or_null(store, row, 2);
        visit.referrer = column_or_null(store, row, 3);
        visit.user_agent = column_or_null(store, row, 4);
        visit.bot = (int)column_int(store, row, 5);
        visit.redirect_url = column_or_null(store, row, 6);
        visit.visited_path = column_text(store, row, 7);
        visit.country = column_or_null(store, row, 8);
        visit.ip = column_or_null(store, row, 9);
        rv = fn(ctx, &visit);
    }
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_count_visits(ml_store *store,
                                    const ml_store_visit_query *q,
                                    apr_uint64_t *count)
{
    apr_int64_t value = 0;
    apr_pool_t *pool;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[] = { q->slug, int_arg(pool, q->since) };
        rv = q->slug ? query_int(store, Q_COUNT_VISITS_OF_LINK,
                                 "counting visits", 2, args, &value)
                     : query_int(store, Q_COUNT_ORPHAN_VISITS,
                                 "counting visits", 1, args + 1, &value);
    }
    apr_pool_destroy(pool);
    *count = (apr_uint64_t)value;
    return rv;
}

static apr_status_t pg_each_visit_day(ml_store *store, const char *slug,
                                      apr_int64_t since,
                                      ml_store_visit_day_fn *fn, void *ctx)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    {
        const char *args[] = { slug, int_arg(pool, since) };
        rv = slug ? rows(store, Q_VISIT_DAYS, "reading daily visits",
                         &results, 2, args, pool)
                  : rows(store, Q_ALL_VISIT_DAYS, "reading daily visits",
                         &results, 1, args + 1, pool);
    }
    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        ml_store_visit_day day;
        day.link_id = column_int(store, row, 0);
        day.day = column_int(store, row, 1);
        day.clicks = column_int(store, row, 2);
        day.bots = column_int(store, row, 3);
        rv = fn(ctx, &day);
    }
    apr_pool_destroy(pool);
    return rv;
}

/* ---- listing ------------------------------------------------------------- */

/* ORDER BY for each ml_store_list_order, ascending and descending, each
 * an index's order (see the schema), so a page reads its rows and stops.
 * Titles: links without one first, as SQLite sorts NULL.  URLs by their
 * first 1024 characters (a B-tree entry cannot hold a 4096-byte
 * URL), then by id. */
#define ML_URL_ORDER "left(url, 1024) COLLATE \"C\""
static const char *const list_order_sql[ML_LIST_ORDERS][2] = {
    [ML_LIST_BY_CREATED] = { "created_at, id", "created_at DESC, id DESC" },
    [ML_LIST_BY_SLUG] = { "slug", "slug DESC" },
    [ML_LIST_BY_URL] = { ML_URL_ORDER ", id", ML_URL_ORDER " DESC, id DESC" },
    [ML_LIST_BY_TITLE] = { "title NULLS FIRST, id", "title DESC NULLS LAST, id DESC" },
    [ML_LIST_BY_CLICKS] = { "clicks, id", "clicks DESC, id DESC" },
};

/* The listing's SQL in apr_dbd's notation ('?' -> %s) and its values as
 * the text parameters apr_dbd passes; *nargs gets how many. */
static const char *list_sql(const char *sql, const ml_store_list_sql *list,
                            const char ***args, apr_pool_t *pool)
{
    apr_size_t marks = 0;
    const char *p;
    char *converted, *out;
    int i;

    for (p = sql; *p; p++) {
        marks += *p == '?';
    }
    out = converted = apr_palloc(pool, strlen(sql) + marks + 1);
    for (p = sql; *p; p++) {
        if (*p == '?') {
            *out++ = '%';
            *out++ = 's';
        }
        else {
            *out++ = *p;
        }
    }
    *out = '\0';
    *args = apr_palloc(pool, sizeof(const char *) * (apr_size_t)(list->nparams + 1));
    for (i = 0; i < list->nparams; i++) {
        (*args)[i] = list->params[i].text ? list->params[i].text
                                          : int_arg(pool, list->params[i].number);
    }
    return converted;
}

/* A listing's query (with list's parameters), its whole result in pool. */
static apr_status_t list_select(ml_store *store, const char *sql,
                                const ml_store_list_sql *list,
                                apr_dbd_results_t **results, apr_pool_t *pool)
{
    pg_store *db = DB(store);
    apr_dbd_prepared_t *prepared = NULL;
    const char **args;
    const char *converted = list_sql(sql, list, &args, pool);
    int rc;

    if (apr_dbd_prepare(db->driver, pool, db->handle, converted, NULL,
                        &prepared) != 0) {
        return pg_failed(store, "preparing a listing", 0);
    }
    *results = NULL;
    rc = apr_dbd_pselect(db->driver, pool, db->handle, results, prepared, 1,
                         list->nparams, args);
    return rc ? pg_failed(store, "listing links", rc) : APR_SUCCESS;
}

static const char *list_where_sql(const ml_store_list_sql *list,
                                  apr_pool_t *pool)
{
    return *list->where ? apr_pstrcat(pool, " WHERE ", list->where, NULL) : "";
}

static apr_status_t pg_list(ml_store *store, const ml_store_list_sql *list,
                            ml_store_row_fn *row_fn, void *ctx)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results, *tags, *rules;
    apr_dbd_row_t *row = NULL;
    apr_array_header_t *links, *ids;
    apr_status_t rv;
    int i;

    apr_pool_create(&pool, DB(store)->pool);
    rv = list_select(store, apr_pstrcat(pool, "SELECT ",
        link_columns(store), " FROM links",
        list_where_sql(list, pool), " ORDER BY ",
        list_order_sql[list->order][list->descending],
        list->limit >= 0 ? apr_psprintf(pool, " LIMIT %" APR_INT64_T_FMT,
                                        list->limit) : "",
        apr_psprintf(pool, " OFFSET %" APR_INT64_T_FMT, list->offset), NULL),
        list, &results, pool);
    links = apr_array_make(pool, 64, sizeof(ml_link));
    ids = apr_array_make(pool, 64, sizeof(const char *));
    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        ml_link *link = apr_array_push(links);
        read_row(store, row, link);
        APR_ARRAY_PUSH(ids, const char *) = int_arg(pool, link->id);
    }
    /* The page's tags and rules in two queries (ids are our numbers). */
    if (rv == APR_SUCCESS && links->nelts > 0 && store->schema >= 2) {
        ml_link_extras *extras = ml_extras_make(pool);
        const char *in = apr_array_pstrcat(pool, ids, ',');
        rv = select_sql(store, apr_pstrcat(pool, TAGS_SELECT " WHERE lt.link_id"
                        " IN (", in, ") ORDER BY lt.link_id, t.name", NULL),
                        "reading the tags", &tags, pool);
        if (rv == APR_SUCCESS) {
            rv = select_sql(store, apr_pstrcat(pool, RULES_SELECT " WHERE"
                            " r.link_id IN (", in, ") ORDER BY r.link_id,"
                            " r.priority, c.position", NULL),
                            "reading the rules", &rules, pool);
        }
        if (rv == APR_SUCCESS) {
            add_extras(store, tags, EXTRAS_TAGS, extras, pool);
            add_extras(store, rules, EXTRAS_RULES, extras, pool);
            for (i = 0; i < links->nelts; i++) {
                ml_extras_attach(extras, &APR_ARRAY_IDX(links, i, ml_link));
            }
        }
    }
    for (i = 0; rv == APR_SUCCESS && i < links->nelts; i++) {
        ml_link *link = &APR_ARRAY_IDX(links, i, ml_link);
        rv = row_fn(ctx, link, ml_link_problem(link));
    }
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_query(ml_store *store, const char *sql,
                             const ml_store_param *params, int nparams,
                             ml_store_values_fn *fn, void *ctx,
                             const char *doing)
{
    ml_store_list_sql bound = { "", params, nparams, 0, 0, 0, 0 };
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    (void)doing;                  /* list_select() says what failed */
    rv = list_select(store, sql, &bound, &results, pool);
    while (rv == APR_SUCCESS && next_row(store, results, &row, pool)) {
        const char *values[16];
        int n = apr_dbd_num_cols(DB(store)->driver, results), i;
        n = n > 16 ? 16 : n;
        for (i = 0; i < n; i++) {
            values[i] = column_optional(store, row, i);
        }
        rv = fn(ctx, values, n);
    }
    apr_pool_destroy(pool);
    return rv;
}

static apr_status_t pg_execute(ml_store *store, const char *sql,
                               const ml_store_param *params, int nparams,
                               int *changed, const char *doing)
{
    ml_store_list_sql bound = { "", params, nparams, 0, 0, 0, 0 };
    pg_store *db = DB(store);
    apr_dbd_prepared_t *prepared = NULL;
    apr_pool_t *pool;
    const char **args;
    const char *converted;
    int nrows = 0, rc;

    apr_pool_create(&pool, db->pool);
    converted = list_sql(sql, &bound, &args, pool);
    if (apr_dbd_prepare(db->driver, pool, db->handle, converted, NULL,
                        &prepared) != 0) {
        apr_pool_destroy(pool);
        return pg_failed(store, doing, 0);
    }
    rc = apr_dbd_pquery(db->driver, pool, db->handle, &nrows, prepared,
                        nparams, args);
    apr_pool_destroy(pool);
    if (rc) {
        return pg_failed(store, doing, rc);
    }
    if (changed) {
        *changed = nrows;
    }
    return APR_SUCCESS;
}

static apr_status_t pg_count_list(ml_store *store, const ml_store_list_sql *list,
                                  apr_uint64_t *count)
{
    apr_pool_t *pool;
    apr_dbd_results_t *results;
    apr_status_t rv;

    apr_pool_create(&pool, DB(store)->pool);
    rv = list_select(store, apr_pstrcat(pool, "SELECT count(*) FROM links",
                                        list_where_sql(list, pool), NULL),
                     list, &results, pool);
    *count = rv == APR_SUCCESS ? (apr_uint64_t)first_int(store, results, pool) : 0;
    apr_pool_destroy(pool);
    return rv;
}

const ml_store_engine ml_store_pgsql = {
    .open = pg_open,
    .check = pg_check,
    .init = pg_init,
    .schema_version = pg_schema_version,
    .steps = schema_steps,
    .exec_sql = exec,
    .forget_prepared = pg_forget_prepared,
    .insert = pg_insert,
    .insert_group = pg_insert_group,
    .set_history = pg_set_history,
    .write_extras = pg_write_extras,
    .update = pg_update,
    .remove = pg_remove,
    .get = pg_get,
    .find_url = pg_find_url,
    .each = pg_each,
    .each_served = pg_each_served,
    .top = pg_top,
    .each_limited = pg_each_limited,
    .summary = pg_summary,
    .change_seq = pg_change_seq,
    .oldest_change = pg_oldest_change,
    .changes_after = pg_changes_after,
    .add_clicks = pg_add_clicks,
    .click_total = pg_click_total,
    .meta_get = pg_meta_get,
    .meta_set = pg_meta_set,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .add_visits = pg_add_visits,
    .add_visit_days = pg_add_visit_days,
    .prune_visits = pg_prune_visits,
    .each_visit = pg_each_visit,
    .count_visits = pg_count_visits,
    .each_visit_day = pg_each_visit_day,
    .list = pg_list,
    .count_list = pg_count_list,
    .query = pg_query,
    .execute = pg_execute,
};
