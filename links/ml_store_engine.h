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

typedef struct {
    /* Connects to target (a path, or libpq parameters); engine state goes
     * into store->data.  Registers the disconnect on pool. */
    apr_status_t (*open)(ml_store *store, const char *target,
                         ml_store_mode mode, apr_pool_t *pool);
    apr_status_t (*check)(ml_store *store);
    apr_status_t (*init)(ml_store *store);
    /* The version the database's schema is marked with. */
    apr_status_t (*schema_version)(ml_store *store, apr_int64_t *version);
    /* Inserts the (validated) link with its slug as given; APR_EEXIST,
     * with the error set, when the slug is taken. */
    apr_status_t (*insert)(ml_store *store, ml_link *link);
    /* Inserts count (validated) links, as fast as the engine can take
     * them, inside the caller's write transaction; APR_EEXIST with *failed
     * the first whose slug was taken (in the database or earlier in the
     * group), with the error set.  ids and times are not read back. */
    apr_status_t (*insert_group)(ml_store *store, const ml_link *links,
                                 apr_size_t count, apr_size_t *failed);
    /* Updates the (validated) link; APR_ENOENT when there is no such slug. */
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
    /* Brings a database at schema version `from` (older) to
     * ML_STORE_SCHEMA_VERSION and marks it so, in the caller's write
     * transaction. */
    apr_status_t (*migrate)(ml_store *store, apr_int64_t from);
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
} ml_store_engine;

struct ml_store {
    const ml_store_engine *engine;
    void *data;                  /* the engine's connection and statements */
    const char *label;           /* names the database in messages */
    int refuse_symlinks;         /* ml_store_open_no_symlinks() (SQLite) */
    apr_int64_t schema_version;  /* as marked when opened (or initialised) */
    char error[1024];
};

extern const ml_store_engine ml_store_sqlite;
extern const ml_store_engine ml_store_pgsql;

/*
 * Whether a database marked with this schema version can be used: up to
 * ML_STORE_SCHEMA_VERSION APR_SUCCESS (an older one until upgrade is
 * asked: what needs the newer tables says so), and store->schema_version
 * is set; a newer one APR_EGENERAL with the error set, saying what to do.
 */
apr_status_t ml_store_schema_usable(ml_store *store, apr_int64_t version);

/* Sets the store's error (a printf format); returns APR_EGENERAL. */
apr_status_t ml_store_fail(ml_store *store, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* ML_STORE_ENGINE_H */
