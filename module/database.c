/*
 * module/database.c - what a process does with one database.
 *
 *   refresh  apply the database's changes to its table (the refresher,
 *            every MinilinkRefreshInterval; a child, right after it wrote
 *            a link)
 *   flush    write the clicks counted in shared memory to it (the
 *            refresher, the parent at the end of a generation, the admin
 *            page before it shows the top links)
 *   reclaim  make the click cells of links that left the table reusable
 *   lookup   find a slug in the database itself (a table that overflowed)
 *   click    count a click straight into it (a link with no cell), or
 *            read the clicks it has (a visit limit without a cell)
 *   request  lend a request thread a read-write connection, kept for the
 *            next request (the management APIs)
 *
 * Each says once when the database stops answering and once when it
 * answers again (one log line per outage, however many processes see it:
 * the flags are in shared memory).  Every write to a shared table goes
 * through ml_database_refresh(), under the "minilink-cache" mutex, so
 * there is one writer at a time; readers never take it.  Flushes take
 * turns under "minilink-clicks".
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "apr_global_mutex.h"
#include "apr_reslist.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include "ml_module.h"
#include "../sync/ml_flush.h"
#include "../sync/ml_refresh.h"
#include "../sync/ml_visits_drain.h"

APLOG_USE_MODULE(minilink);

/* A table this full gets a warning, while there is still time to act. */
#define NEARLY_FULL_PERCENT 90

/* A process's read connection, kept between refreshes. */
struct ml_connection {
    apr_pool_t *pool;            /* destroying it closes the store */
    ml_store *store;
};

static apr_pool_t *connections_pool;     /* in each process */
static apr_thread_mutex_t *lenders_lock; /* makes each database's lender once */

void ml_database_child_init(apr_pool_t *pchild)
{
    apr_pool_create(&connections_pool, pchild);
    apr_thread_mutex_create(&lenders_lock, APR_THREAD_MUTEX_DEFAULT,
                            pchild);
}

/* ---- connections lent to requests ----------------------------------------- */

/* Connections a process keeps for its request threads: a page of links
 * on a fresh connection read its indexes from the file again (46 ms for
 * a page of 50 at a million links, 4 ms on one that stays open:
 * bench/RESULTS.md).  Each is used by one thread at a time. */
#define LENT_KEPT 4
#define LENT_MOST 64
#define LENT_IDLE apr_time_from_sec(60)

typedef struct {
    apr_pool_t *pool;            /* destroying it closes the store */
    ml_store *store;
} lent_store;

static apr_status_t lent_open(void **resource, void *params, apr_pool_t *pool)
{
    ml_database *database = params;
    apr_pool_t *own;
    lent_store *lent;
    apr_status_t rv;

    /* Not a child of pool: at a process's exit APR destroys a pool's
     * children before it runs its cleanups, so the reslist's cleanup
     * would close (destroy) pools already gone and corrupt the
     * allocator (a prefork child died of it leaving at a graceful
     * restart).  Each is destroyed by lent_close(), or with the process. */
    (void)pool;
    apr_pool_create(&own, NULL);
    lent = apr_pcalloc(own, sizeof(*lent));
    lent->pool = own;
    rv = ml_store_open(&lent->store, database->location, ML_STORE_WRITE, own);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(own);
        return rv;
    }
    *resource = lent;
    return APR_SUCCESS;
}

static apr_status_t lent_close(void *resource, void *params, apr_pool_t *pool)
{
    (void)params;
    (void)pool;
    apr_pool_destroy(((lent_store *)resource)->pool);
    return APR_SUCCESS;
}

typedef struct {
    apr_reslist_t *lender;
    lent_store *lent;
} lent_to_request;

static apr_status_t give_back(void *data)
{
    lent_to_request *loan = data;

    apr_reslist_release(loan->lender, loan->lent);
    return APR_SUCCESS;
}

apr_status_t ml_database_request_store(ml_database *database, request_rec *r,
                                       ml_store **store)
{
    apr_reslist_t *lender = NULL;
    lent_to_request *loan = apr_pcalloc(r->pool, sizeof(*loan));
    apr_status_t rv = APR_EGENERAL;
    int tries;

    apr_thread_mutex_lock(lenders_lock);
    if (database->lender == NULL
        && apr_reslist_create(&lender, 0, LENT_KEPT, LENT_MOST, LENT_IDLE,
                              lent_open, lent_close, database,
                              connections_pool) == APR_SUCCESS) {
        database->lender = lender;
    }
    lender = database->lender;
    apr_thread_mutex_unlock(lenders_lock);
    /* One kept since the file was replaced or upgraded is let go. */
    for (tries = 0; lender && tries < 2; tries++) {
        void *resource;
        if ((rv = apr_reslist_acquire(lender, &resource)) != APR_SUCCESS) {
            break;
        }
        loan->lent = resource;
        if (ml_store_check(loan->lent->store) == APR_SUCCESS) {
            loan->lender = lender;
            apr_pool_cleanup_register(r->pool, loan, give_back,
                                      apr_pool_cleanup_null);
            *store = loan->lent->store;
            return APR_SUCCESS;
        }
        apr_reslist_invalidate(lender, resource);
        rv = APR_EGENERAL;
    }
    /* A connection of the request's own, if only to say why not. */
    rv = ml_store_open(store, database->location, ML_STORE_WRITE, r->pool);
    return rv;
}

void ml_log_skipped_row(void *ctx, const char *slug, apr_int64_t id,
                        const char *problem)
{
    ml_database *database = ctx;

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                 MLLOGNO(00003) "%s: link '%s' (row %" APR_INT64_T_FMT ") is not "
                 "served: %s", database->label, slug ? slug : "(null)", id,
                 problem);
}

static void disconnect(ml_database *database)
{
    if (database->connection) {
        apr_pool_destroy(database->connection->pool);
        database->connection = NULL;
    }
}

/*
 * Makes sure database->connection reaches the database its location names
 * now: a SQLite file that was replaced (restored from a backup, say) or
 * made unreadable, or a PostgreSQL connection that was lost, is reopened.
 */
static apr_status_t open_connection(ml_database *database, const char **error,
                                    apr_pool_t *scratch)
{
    ml_connection *connection = database->connection;
    apr_pool_t *pool;
    apr_status_t rv;

    if (connection && ml_store_check(connection->store) != APR_SUCCESS) {
        disconnect(database);
    }
    if (database->connection) {
        return APR_SUCCESS;
    }
    apr_pool_create(&pool, connections_pool);
    connection = apr_pcalloc(pool, sizeof(*connection));
    connection->pool = pool;
    rv = ml_store_open(&connection->store, database->location, ML_STORE_READ,
                       pool);
    if (rv != APR_SUCCESS) {
        *error = apr_pstrdup(scratch, ml_store_error(connection->store));
        apr_pool_destroy(pool);
        return rv;
    }
    database->connection = connection;
    return APR_SUCCESS;
}

static int percent_used(const ml_cache_usage *usage)
{
    apr_uint64_t links = (apr_uint64_t)usage->links * 100 / usage->link_capacity;
    apr_uint64_t bytes = usage->arena_used * 100 / usage->arena_bytes;

    return (int)(links > bytes ? links : bytes);
}

/* One line per outage, one per recovery, one when the table gets full. */
static void report(ml_database *database, apr_status_t rv, const char *error,
                   const ml_refresh_counts *counts, int full_before)
{
    ml_cache_usage usage;

    if (rv != APR_SUCCESS) {
        if (!ml_cache_swap_failing(database->cache, ML_CACHE_REFRESH, 1)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                         MLLOGNO(00007) "cannot refresh links from %s; still "
                         "serving the links loaded before", error);
        }
        return;
    }
    if (ml_cache_swap_failing(database->cache, ML_CACHE_REFRESH, 0)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     MLLOGNO(00008) "%s can be read again; changes are applied",
                     database->label);
    }
    if (counts->changed || counts->compared_all) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     MLLOGNO(00009) "%s: %u links changed%s", database->label,
                     counts->changed, counts->compared_all
                     ? " (compared every link: the change log did not reach back)"
                     : "");
    }
    /* Once a table: every refresh after it would say it again (each API
     * write refreshes too), until a graceful restart makes a new table. */
    if (counts->no_room
        && !ml_cache_swap_failing(database->cache, ML_CACHE_FIT, 1)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     MLLOGNO(00021) "%u new or changed links did not fit in the "
                     "cache for %s; they, and any more until 'apachectl "
                     "graceful' rebuilds the cache, are served from the "
                     "database (said once)", counts->no_room, database->label);
    }
    ml_cache_usage_get(database->cache, &usage);
    if (full_before < NEARLY_FULL_PERCENT
        && percent_used(&usage) >= NEARLY_FULL_PERCENT) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     MLLOGNO(00010) "the cache for %s is %d%% full (%u links); "
                     "'apachectl graceful' rebuilds it with room to grow",
                     database->label, percent_used(&usage), usage.links);
    }
}

/* Applies the database's changes to its table, as the only writer. */
void ml_database_refresh(ml_database *database, apr_pool_t *scratch)
{
    apr_global_mutex_t *cache_lock = ml_generation_now()->cache_lock;
    ml_refresh_counts counts = {0};
    ml_cache_usage usage;
    const char *error = NULL;
    apr_status_t rv;
    int full_before;

    if ((rv = apr_global_mutex_lock(cache_lock)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                     MLLOGNO(00011) "cannot take the minilink-cache mutex; links "
                     "from %s are not refreshed", database->label);
        return;
    }
    ml_cache_usage_get(database->cache, &usage);
    full_before = percent_used(&usage);
    /* A connection kept from before may have died with its server (a
     * PostgreSQL restart) without knowing it yet: a failure on a kept
     * connection is tried once more on a new one before it counts. */
    for (;;) {
        int kept = database->connection != NULL;
        if ((rv = open_connection(database, &error, scratch)) != APR_SUCCESS) {
            break;
        }
        rv = ml_refresh(database->cache, database->connection->store,
                        database->clicks, scratch, ml_log_skipped_row, database,
                        &counts);
        if (rv == APR_SUCCESS) {
            break;
        }
        error = apr_pstrdup(scratch,
                            ml_store_error(database->connection->store));
        disconnect(database);
        if (!kept) {
            break;
        }
    }
    apr_global_mutex_unlock(cache_lock);
    ml_cache_note_refresh(database->cache, rv == APR_SUCCESS,
                          apr_time_sec(apr_time_now()));
    report(database, rv, error, &counts, full_before);
}

void ml_database_flush(ml_database *database, apr_pool_t *scratch)
{
    apr_global_mutex_t *flush_lock = ml_retained_now()
                                     ? ml_retained_now()->flush_lock : NULL;
    apr_uint64_t flushed = 0;
    ml_store *store;
    apr_status_t rv;
    const char *error = NULL;

    if (database->clicks == NULL || flush_lock == NULL) {
        return;
    }
    if ((rv = apr_global_mutex_lock(flush_lock)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                     MLLOGNO(00024) "cannot take the minilink-clicks mutex; "
                     "clicks for %s stay in memory", database->label);
        return;
    }
    rv = ml_store_open(&store, database->location, ML_STORE_WRITE, scratch);
    if (rv == APR_SUCCESS) {
        rv = ml_flush(database->clicks, store, apr_time_sec(apr_time_now()),
                      &flushed);
    }
    if (rv != APR_SUCCESS) {
        error = apr_pstrdup(scratch, ml_store_error(store));
    }
    apr_global_mutex_unlock(flush_lock);
    if (rv != APR_SUCCESS) {
        if (!ml_clicks_swap_failing(database->clicks, 1)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                         MLLOGNO(00025) "cannot write clicks to %s; they are "
                         "kept in memory and written when it works again",
                         error);
        }
        return;
    }
    if (ml_clicks_swap_failing(database->clicks, 0)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     MLLOGNO(00026) "clicks are written to %s again",
                     database->label);
    }
    if (flushed) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     MLLOGNO(00027) "%s: %" APR_UINT64_T_FMT " clicks written",
                     database->label, flushed);
    }
}

/*
 * On the way out of a generation, a flush to a PostgreSQL server that
 * already failed to take clicks or to be read would only hold a graceful
 * restart up for connect_timeout while new connections queue: its counts
 * are retained, and the next generation's refresher writes them.  (SQLite
 * answers at once either way.)
 */
static int pointless_when_leaving(const ml_database *database)
{
    return !ml_store_location_is_file(database->location) && database->clicks
           && (ml_clicks_failing(database->clicks)
               || (database->visits && ml_visits_failing(database->visits))
               || (database->cache
                   && ml_cache_failing(database->cache, ML_CACHE_REFRESH)));
}

void ml_database_flush_all(apr_hash_t *databases, ml_agents *agents,
                           apr_pool_t *scratch, int leaving)
{
    apr_hash_index_t *entry;

    for (entry = apr_hash_first(scratch, databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (!(leaving && pointless_when_leaving(database))) {
            ml_database_flush(database, scratch);
            ml_database_drain_visits(database, agents, scratch);
        }
    }
}

/* Under the flushers' lock, which a flush holds while it writes: when one
 * is under way, it does this itself when it is done. */
void ml_database_reclaim(ml_database *database)
{
    apr_global_mutex_t *flush_lock = ml_retained_now()
                                     ? ml_retained_now()->flush_lock : NULL;

    if (database->clicks && flush_lock
        && ml_clicks_has_released(database->clicks)
        && apr_global_mutex_trylock(flush_lock) == APR_SUCCESS) {
        ml_clicks_reclaim(database->clicks);
        apr_global_mutex_unlock(flush_lock);
    }
}

int ml_database_lookup(ml_database *database, const char *slug,
                       ml_cache_entry *entry, request_rec *r)
{
    const char *problem = NULL;
    ml_store *store;
    ml_link link;

    /* Rare (only once a table overflowed), so a connection per lookup,
     * closed with the request, beats sharing one between threads. */
    if (ml_store_open(&store, database->location, ML_STORE_READ, r->pool)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00016) "cannot look up "
                      "'%s' in %s", slug, ml_store_error(store));
        return 0;
    }
    if (ml_store_get(store, slug, &link, &problem, r->pool) != APR_SUCCESS
        || problem != NULL) {
        return 0;
    }
    ml_cache_entry_of(&link, r->pool, entry);
    return 1;
}

apr_int64_t ml_database_clicks(ml_database *database, const char *slug,
                               request_rec *r)
{
    ml_store *store;
    ml_link link;

    if (ml_store_open(&store, database->location, ML_STORE_READ, r->pool)
        != APR_SUCCESS
        || ml_store_get(store, slug, &link, NULL, r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00043) "the visits "
                      "of '%s' cannot be read; it answers as if it had none "
                      "left: %s", slug, ml_store_error(store));
        return APR_INT64_MAX;
    }
    return link.clicks;
}

apr_int64_t ml_database_add_click(ml_database *database, const char *slug,
                                  request_rec *r)
{
    ml_store *store;
    ml_link link;
    apr_status_t rv = ml_store_open(&store, database->location, ML_STORE_WRITE,
                                    r->pool);

    if (rv == APR_SUCCESS) {
        rv = ml_store_get(store, slug, &link, NULL, r->pool);
    }
    if (rv == APR_SUCCESS) {
        ml_store_clicks click = { link.id, 1, apr_time_sec(r->request_time) };
        rv = ml_store_add_clicks(store, &click, 1);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00030) "a click on '%s' "
                      "could not be counted: %s", slug, ml_store_error(store));
        return 0;
    }
    return link.id;
}

/* ---- visits ----------------------------------------------------------- */

ml_agents *ml_database_agents(apr_pool_t *pool)
{
    static int told;
    ml_agents *agents;
    const char *error;

    if (ml_agents_load(&agents, ML_AGENT_REGEXES, pool, &error)
        != APR_SUCCESS) {
        if (!told) {
            told = 1;
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                         MLLOGNO(00064) "cannot classify user agents: %s; "
                         "visits are written without the bot flag", error);
        }
        return NULL;
    }
    return agents;
}

/* One line when a ring starts dropping visits (an episode), however many
 * it drops until a drain finds no more. */
static void report_drops(ml_database *database)
{
    int started;
    apr_uint64_t dropped = ml_visits_dropped_since(database->visits, &started);

    if (started) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     MLLOGNO(00062) "%s: the visits ring is full (%u slots): "
                     "%" APR_UINT64_T_FMT " visits dropped, and more until it "
                     "drains (click counts stay exact; minilink_visits_dropped_"
                     "total counts them; MinilinkVisitsRing makes it larger)",
                     database->label, ml_visits_slots(database->visits),
                     dropped);
    }
}

/*
 * The store a drain writes with.  A child or the refresher keeps one (the
 * flushers' lock, which the drain holds, makes it one thread's at a time;
 * a drain every tenth of a second must not connect to PostgreSQL each
 * time), reopened when it no longer reaches its database; the parent,
 * which has no connections of its own, opens one in scratch.
 */
static apr_status_t drain_store(ml_database *database, ml_store **store,
                                const char **error, apr_pool_t *scratch)
{
    ml_connection *writer = database->writer;
    apr_pool_t *pool = scratch;
    apr_status_t rv;

    if (writer && ml_store_check(writer->store) != APR_SUCCESS) {
        apr_pool_destroy(writer->pool);
        database->writer = writer = NULL;
    }
    if (writer) {
        *store = writer->store;
        return APR_SUCCESS;
    }
    if (connections_pool) {
        apr_pool_create(&pool, connections_pool);
    }
    if ((rv = ml_store_open(store, database->location, ML_STORE_WRITE, pool))
        != APR_SUCCESS) {
        *error = apr_pstrdup(scratch, ml_store_error(*store));
        if (pool != scratch) {
            apr_pool_destroy(pool);
        }
        return rv;
    }
    if (pool != scratch) {
        writer = apr_pcalloc(pool, sizeof(*writer));
        writer->pool = pool;
        writer->store = *store;
        database->writer = writer;
    }
    return APR_SUCCESS;
}

apr_uint64_t ml_database_drain_visits(ml_database *database,
                                      ml_agents *agents, apr_pool_t *scratch)
{
    apr_global_mutex_t *flush_lock = ml_retained_now()
                                     ? ml_retained_now()->flush_lock : NULL;
    apr_uint64_t written = 0;
    const char *error = NULL;
    ml_visits_stats stats;
    ml_store *store;
    apr_status_t rv;

    if (database->visits == NULL || flush_lock == NULL) {
        return 0;
    }
    report_drops(database);
    ml_visits_stats_get(database->visits, &stats);
    if (stats.pending == 0) {
        return 0;
    }
    if ((rv = apr_global_mutex_lock(flush_lock)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                     MLLOGNO(00069) "cannot take the minilink-clicks mutex; "
                     "visits for %s stay in the ring", database->label);
        return 0;
    }
    rv = drain_store(database, &store, &error, scratch);
    if (rv == APR_SUCCESS
        && (rv = ml_visits_drain(database->visits, store, agents,
                                 apr_time_sec(apr_time_now()), &written,
                                 scratch)) != APR_SUCCESS) {
        error = apr_pstrdup(scratch, ml_store_error(store));
        /* Connect again next time: a connection that failed may be dead. */
        if (database->writer) {
            apr_pool_destroy(database->writer->pool);
            database->writer = NULL;
        }
    }
    apr_global_mutex_unlock(flush_lock);
    if (rv != APR_SUCCESS) {
        if (!ml_visits_swap_failing(database->visits, 1)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                         MLLOGNO(00060) "cannot write visits to %s; they wait "
                         "in the visits ring (dropped if it fills) until it "
                         "works again", error);
        }
        return 0;
    }
    if (ml_visits_swap_failing(database->visits, 0)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     MLLOGNO(00061) "visits are written to %s again",
                     database->label);
    }
    if (written) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     MLLOGNO(00063) "%s: %" APR_UINT64_T_FMT " visits written",
                     database->label, written);
    }
    return written;
}

/* Batches of this many old visits, each its own short transaction, at
 * most PRUNE_BATCHES of them at a time: a long retention catch-up never
 * holds the database for long. */
#define PRUNE_BATCH 1000
#define PRUNE_BATCHES 20

void ml_database_prune_visits(ml_database *database, apr_pool_t *scratch)
{
    apr_int64_t keep = ml_generation_now()->settings.visits_keep;
    apr_uint64_t deleted = 0, total = 0;
    apr_status_t rv = APR_SUCCESS;
    ml_store *store;
    int batches;

    /* Not while the database cannot be written: the drain says so. */
    if (database->visits == NULL || keep == 0
        || ml_visits_failing(database->visits)) {
        return;
    }
    rv = ml_store_open(&store, database->location, ML_STORE_WRITE, scratch);
    for (batches = 0; rv == APR_SUCCESS && batches < PRUNE_BATCHES; batches++) {
        rv = ml_store_prune_visits(store, apr_time_sec(apr_time_now()) - keep,
                                   PRUNE_BATCH, &deleted);
        total += deleted;
        if (deleted < PRUNE_BATCH) {
            break;
        }
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     MLLOGNO(00067) "cannot delete old visits from %s",
                     ml_store_error(store));
    }
    else if (total) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     MLLOGNO(00066) "%s: %" APR_UINT64_T_FMT " visits older "
                     "than %" APR_INT64_T_FMT " days deleted", database->label,
                     total, keep / 86400);
    }
}
