/*
 * ml_store_engine.h - what a database engine provides behind ml_store.h.
 *
 * Private to links/: ml_store.c holds what every engine shares (naming a
 * database, validating links, random slugs, reading the change log) and
 * calls an engine for the SQL.  Two engines: SQLite, called directly
 * (ml_store_sqlite.c), and PostgreSQL through APR's apr_dbd
 * (ml_store_pgsql.c).
 *
 * Each function returns APR_SUCCESS or an error with the store's error set
 * (ml_store_fail), and behaves as the ml_store_* function of the same name
 * documents unless said otherwise here.
 */
#ifndef ML_STORE_ENGINE_H
#define ML_STORE_ENGINE_H

#include "ml_store.h"

typedef enum { ML_TXN_READ, ML_TXN_WRITE } ml_store_txn;

/* A value for a statement's parameter: a text, or (text NULL) a number. */
typedef struct {
    const char *text;
    apr_int64_t number;
} ml_store_param;

/*
 * A listing as SQL both engines run (ml_store_list): `where` is a
 * condition on the links table - columns by name, functions both
 * SQLite and PostgreSQL have, one '?' for each of params in order and no
 * other '?' or '%' - or "" for every link.  The engine adds the columns,
 * its own ORDER BY for order (an index's order: ml_store_list_order), and
 * LIMIT and OFFSET.
 */
typedef struct {
    const char *where;
    const ml_store_param *params;
    int nparams;
    ml_store_list_order order;
    int descending;
    apr_int64_t limit;           /* -1: no limit */
    apr_int64_t offset;
} ml_store_list_sql;

/* A row of ml_store_engine.query(): ncolumns texts (NULL for NULL),
 * valid until it returns. */
typedef apr_status_t ml_store_values_fn(void *ctx, const char *const *values,
                                        int ncolumns);

typedef struct {
    /* Connects to target (a path, or libpq parameters); engine state goes
     * into store->data.  Registers the disconnect on pool. */
    apr_status_t (*open)(ml_store *store, const char *target,
                         ml_store_mode mode, apr_pool_t *pool);
    apr_status_t (*check)(ml_store *store);
    apr_status_t (*init)(ml_store *store);
    /* The version the database's schema is marked with. */
    apr_status_t (*schema_version)(ml_store *store, apr_int64_t *version);
    /* The schema's history, which ml_store_upgrade() replays:
     * steps[v - 1] takes version v to v + 1 (marking it), as groups of
     * SQL statements ending with NULL; ML_STORE_SCHEMA_VERSION - 1 of
     * them.  A new version adds its step to each engine's list. */
    const char *const *const *steps;
    /* Runs a group of SQL statements (in the open transaction). */
    apr_status_t (*exec_sql)(ml_store *store, const char *sql,
                             const char *doing);
    /* Forgets the statements prepared for the schema being replaced. */
    void (*forget_prepared)(ml_store *store);
    /* Inserts the (validated) link's row with its slug as given (not its
     * tags and rules: write_extras), reading back id and times; APR_EEXIST,
     * with the error set, when the slug is taken. */
    apr_status_t (*insert)(ml_store *store, ml_link *link);
    /* Inserts count (validated) links' rows, as fast as the engine can
     * take them, inside the caller's write transaction; APR_EEXIST with
     * *failed the first whose slug was taken (in the database or earlier
     * in the group), with the error set.  ids[i] gets each link's id;
     * times are not read back. */
    apr_status_t (*insert_group)(ml_store *store, const ml_link *links,
                                 apr_size_t count, apr_int64_t *ids,
                                 apr_size_t *failed);
    /* Replaces the tags and redirect rules of the link with link->id by
     * link's, inside the caller's write transaction.  fresh: the link was
     * inserted in this transaction, so it has none to replace (an import
     * writes a million links' this way: the deletes, and pruning the
     * change log after each link, were most of its time). */
    apr_status_t (*write_extras)(ml_store *store, const ml_link *link,
                                 int fresh);
    /* Updates the (validated) link's row; APR_ENOENT when there is no such
     * slug. */
    apr_status_t (*update)(ml_store *store, const ml_link *link);
    apr_status_t (*remove)(ml_store *store, const char *slug);
    apr_status_t (*get)(ml_store *store, const char *slug, ml_link *link,
                        const char **problem, apr_pool_t *pool);
    apr_status_t (*find_url)(ml_store *store, const char *url,
                             apr_int64_t now, ml_link *link, apr_pool_t *pool);
    apr_status_t (*each)(ml_store *store, ml_store_row_fn *row, void *ctx);
    apr_status_t (*each_served)(ml_store *store, ml_store_row_fn *row,
                                void *ctx);
    apr_status_t (*top)(ml_store *store, int count, ml_store_row_fn *row,
                        void *ctx);
    /* Schema 2 or later only. */
    apr_status_t (*each_limited)(ml_store *store, ml_store_limited_fn *limited,
                                 void *ctx);
    apr_status_t (*summary)(ml_store *store, apr_uint32_t *links,
                            apr_uint64_t *text_bytes);
    apr_status_t (*change_seq)(ml_store *store, apr_uint64_t *seq);
    /* The number of the oldest change still in the log; 0 if it is empty. */
    apr_status_t (*oldest_change)(ml_store *store, apr_uint64_t *seq);
    /* Calls changed() for each change numbered above `after`, oldest first. */
    apr_status_t (*changes_after)(ml_store *store, apr_uint64_t after,
                                  ml_store_change_fn *changed, void *ctx);
    /* count > 0 */
    apr_status_t (*add_clicks)(ml_store *store, const ml_store_clicks *adds,
                               apr_size_t count);
    apr_status_t (*click_total)(ml_store *store, apr_uint64_t *clicks);
    apr_status_t (*meta_get)(ml_store *store, const char *key,
                             apr_int64_t *value);
    apr_status_t (*meta_set)(ml_store *store, const char *key,
                             apr_int64_t value);
    apr_status_t (*begin)(ml_store *store, ml_store_txn kind);
    apr_status_t (*commit)(ml_store *store);
    void (*rollback)(ml_store *store);
    /* Visits (count > 0), in the caller's write transaction; days is the
     * visits' roll-up, sorted by link and day. */
    apr_status_t (*add_visits)(ml_store *store, const ml_store_visit *visits,
                               apr_size_t count);
    apr_status_t (*add_visit_days)(ml_store *store,
                                   const ml_store_visit_day *days,
                                   apr_size_t count);
    apr_status_t (*prune_visits)(ml_store *store, apr_int64_t before,
                                 int limit, apr_uint64_t *deleted);
    apr_status_t (*each_visit)(ml_store *store, const ml_store_visit_query *q,
                               ml_store_visit_fn *fn, void *ctx);
    apr_status_t (*count_visits)(ml_store *store,
                                 const ml_store_visit_query *q,
                                 apr_uint64_t *count);
    apr_status_t (*each_visit_day)(ml_store *store, const char *slug,
                                   apr_int64_t since,
                                   ml_store_visit_day_fn *fn, void *ctx);
    /* A page of a listing (ml_store_list), and how many links its
     * filter matches, from the SQL ml_store.c built for both engines. */
    apr_status_t (*list)(ml_store *store, const ml_store_list_sql *sql,
                         ml_store_row_fn *row, void *ctx);
    apr_status_t (*count_list)(ml_store *store, const ml_store_list_sql *sql,
                               apr_uint64_t *count);
    /* A statement of ml_store.c's own, in the notation of
     * ml_store_list_sql's `where` ('?' for each of params): query() calls
     * fn with each row's columns as text (NULL for NULL); execute() sets
     * *changed (may be NULL) to the rows it touched.  For the small
     * tables whose SQL both engines share (api_keys). */
    apr_status_t (*query)(ml_store *store, const char *sql,
                          const ml_store_param *params, int nparams,
                          ml_store_values_fn *fn, void *ctx,
                          const char *doing);
    apr_status_t (*execute)(ml_store *store, const char *sql,
                            const ml_store_param *params, int nparams,
                            int *changed, const char *doing);
} ml_store_engine;

struct ml_store {
    const ml_store_engine *engine;
    void *data;                  /* the engine's connection and statements */
    const char *label;           /* names the database in messages */
    int refuse_symlinks;         /* ml_store_open_no_symlinks() (SQLite) */
    int schema;                  /* the version opened (set by open) */
    int in_write;                /* a write transaction of the caller's */
    char error[1024];
};

extern const ml_store_engine ml_store_sqlite;
extern const ml_store_engine ml_store_pgsql;

/*
 * Whether a database marked with this schema version can be opened: from
 * 1 to ML_STORE_SCHEMA_VERSION APR_SUCCESS (and store->schema set),
 * otherwise APR_EGENERAL with the error set, saying what to do about a
 * newer schema.
 */
apr_status_t ml_store_schema_usable(ml_store *store, apr_int64_t version);

/*
 * The tags and rules of links, gathered from the rows of the engines' two
 * queries (ordered by link, then by name or by priority and position) and
 * handed to each link as it is read: a walk reads them all first, a get
 * the link's own.  Strings are copied into the pool given.
 */
typedef struct ml_link_extras ml_link_extras;
ml_link_extras *ml_extras_make(apr_pool_t *pool);
void ml_extras_add_tag(ml_link_extras *extras, apr_int64_t link_id,
                       const char *name);
/* A row of a rule and one of its conditions (type NULL: a rule whose
 * conditions are all gone, which the link's check then refuses). */
void ml_extras_add_condition(ml_link_extras *extras, apr_int64_t link_id,
                             apr_int64_t rule_id, const char *url,
                             const char *type, const char *key,
                             const char *value);
/* The rule columns of links (title to crawlable) and the clicks stored
 * (for a visit limit) as a row has them, for a walk that reads only the
 * served columns of every row: only links that have any rule column are
 * gathered (an index holds them), so a million plain links pay nothing
 * for the columns they leave empty.  problem: what only the raw row shows
 * to be wrong (a NUL in a text), or NULL. */
void ml_extras_add_scalars(ml_link_extras *extras, const ml_link *row,
                           const char *problem);
/* Sets link->tags, ->rules and ->nrules from what was gathered for
 * link->id (none if nothing was), and its rule columns and clicks if they
 * were;
 * returns what the rule columns' raw row showed to be wrong, or NULL. */
const char *ml_extras_attach(const ml_link_extras *extras, ml_link *link);

/* Which links have a rule column set: what links_extended indexes. */
#define ML_STORE_EXTENDED \
    "title IS NOT NULL OR valid_since IS NOT NULL OR max_visits IS NOT NULL" \
    " OR fallback_url IS NOT NULL OR password_hash IS NOT NULL" \
    " OR forward_query IS NOT NULL OR forward_path IS NOT NULL OR crawlable <> 0"
/* The clicks and the rule columns, in ml_link's order: what a whole row
 * has after the served columns, and what ml_extras_add_scalars() takes
 * after the id. */
#define ML_STORE_RULE_COLUMNS \
    "clicks, title, valid_since, max_visits, fallback_url, password_hash," \
    " forward_query, forward_path, crawlable"

/* Sets the store's error (a printf format); returns APR_EGENERAL. */
apr_status_t ml_store_fail(ml_store *store, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* ML_STORE_ENGINE_H */
