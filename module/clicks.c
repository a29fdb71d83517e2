/*
 * module/clicks.c - the click tables' life in httpd, and flushing them.
 *
 * A database's click table is made with the first generation that names
 * the database and kept in httpd's retained data (the process pool) until
 * httpd stops, so the old and new children of a graceful restart count into
 * the same cells.  The retained data also keeps each database's last table
 * of links that loaded (ml_retained_database).  Flushes are serialised by the "minilink-clicks" mutex, also
 * retained: the refresher of the old generation and that of the new one
 * may both be running for a moment.
 *
 * Who flushes, and when:
 *   - the refresher process, every MinilinkFlushInterval and when stopped;
 *   - the parent, when a generation's pool is cleared: at every graceful
 *     restart, and at stop after the children have exited - the last
 *     clicks of all.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "http_core.h"
#include "util_mutex.h"
#include "apr_global_mutex.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "../mod_minilink.h"
#include "../sync/ml_flush.h"

APLOG_USE_MODULE(minilink);

#define CLICKS_LOCK "minilink-clicks"
#define RETAINED_KEY "mod_minilink-clicks"

/* What outlives configuration generations. */
typedef struct {
    apr_pool_t *pool;                    /* the process pool */
    apr_hash_t *databases;               /* location -> ml_retained_database */
    apr_global_mutex_t *flush_lock;
} retained_clicks;

static retained_clicks *retained;

static retained_clicks *retained_get(server_rec *s)
{
    retained_clicks *found = ap_retained_data_get(RETAINED_KEY);

    if (found == NULL) {
        found = ap_retained_data_create(RETAINED_KEY, sizeof(*found));
        found->pool = s->process->pool;
        found->databases = apr_hash_make(found->pool);
    }
    return found;
}

void ml_clicks_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, CLICKS_LOCK, NULL, APR_LOCK_DEFAULT, 0);
}

ml_retained_database *ml_retained_for(server_rec *s, const char *location,
                                      apr_pool_t **pool)
{
    ml_retained_database *kept;

    retained = retained_get(s);
    kept = apr_hash_get(retained->databases, location, APR_HASH_KEY_STRING);
    if (kept == NULL) {
        kept = apr_pcalloc(retained->pool, sizeof(*kept));
        apr_hash_set(retained->databases, apr_pstrdup(retained->pool, location),
                     APR_HASH_KEY_STRING, kept);
    }
    *pool = retained->pool;
    return kept;
}

void ml_flush_database(ml_database *database, apr_pool_t *scratch)
{
    apr_uint64_t flushed = 0;
    ml_store *store;
    apr_status_t rv;
    const char *error = NULL;

    if (database->clicks == NULL || retained == NULL
        || retained->flush_lock == NULL) {
        return;
    }
    if ((rv = apr_global_mutex_lock(retained->flush_lock)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf, "ML00024: "
                     "cannot take the " CLICKS_LOCK " mutex; clicks for %s "
                     "stay in memory", database->label);
        return;
    }
    rv = ml_store_open(&store, database->location, ML_STORE_WRITE, scratch);
    if (rv == APR_SUCCESS) {
        rv = ml_flush(database->clicks, store,
                             apr_time_sec(apr_time_now()), &flushed);
    }
    if (rv != APR_SUCCESS) {
        error = apr_pstrdup(scratch, ml_store_error(store));
    }
    apr_global_mutex_unlock(retained->flush_lock);
    /* One line per outage, and one when it is over. */
    if (rv != APR_SUCCESS) {
        if (!ml_clicks_swap_failing(database->clicks, 1)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf, "ML00025: "
                         "cannot write clicks to %s; they are kept in memory "
                         "and written when it works again", error);
        }
    }
    else {
        if (ml_clicks_swap_failing(database->clicks, 0)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                         "ML00026: clicks are written to %s again",
                         database->label);
        }
        if (flushed) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                         "ML00027: %s: %" APR_UINT64_T_FMT " clicks written",
                         database->label, flushed);
        }
    }
}

/*
 * The cells of links that left their tables (deleted, say) are reusable
 * at once if they have no clicks to write, rather than at the next flush
 * (ml_clicks_reclaim): a server that makes and deletes many links between
 * flushes still has cells for new ones.  Under the flushers' lock, which
 * a flush holds while it writes to the database: when one is under way,
 * the flush does it.
 */
void ml_reclaim_all(apr_hash_t *databases, apr_pool_t *scratch)
{
    apr_hash_index_t *entry;

    if (retained == NULL || retained->flush_lock == NULL) {
        return;
    }
    for (entry = apr_hash_first(scratch, databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (database->clicks && ml_clicks_has_released(database->clicks)
            && apr_global_mutex_trylock(retained->flush_lock) == APR_SUCCESS) {
            ml_clicks_reclaim(database->clicks);
            apr_global_mutex_unlock(retained->flush_lock);
        }
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
               || (database->cache
                   && ml_cache_failing(database->cache, ML_CACHE_REFRESH)));
}

void ml_flush_all(apr_hash_t *databases, apr_pool_t *scratch, int leaving)
{
    apr_hash_index_t *entry;

    for (entry = apr_hash_first(scratch, databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (!(leaving && pointless_when_leaving(database))) {
            ml_flush_database(database, scratch);
        }
    }
}

/* The parent's flush when a generation ends: at a restart, when httpd
 * destroys the configuration to read it again, or at stop, when there is
 * no next generation and every database is tried. */
static apr_status_t flush_at_generation_end(void *data)
{
    apr_pool_t *scratch;

    apr_pool_create(&scratch, NULL);
    ml_flush_all(data, scratch,
                 ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_DESTROY_CONFIG);
    apr_pool_destroy(scratch);
    return APR_SUCCESS;
}

int ml_clicks_post_config(apr_pool_t *pconf, server_rec *s,
                          apr_hash_t *databases)
{
    apr_status_t rv;

    retained = retained_get(s);
    if (retained->flush_lock == NULL && apr_hash_count(databases) > 0) {
        rv = ap_global_mutex_create(&retained->flush_lock, NULL, CLICKS_LOCK,
                                    NULL, s, retained->pool, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "ML00028: cannot "
                         "create the " CLICKS_LOCK " mutex");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    apr_pool_cleanup_register(pconf, databases, flush_at_generation_end,
                              apr_pool_cleanup_null);
    return OK;
}

void ml_clicks_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (retained == NULL || retained->flush_lock == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&retained->flush_lock,
                                     apr_global_mutex_lockfile(retained->flush_lock),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "ML00029: cannot attach "
                     "the " CLICKS_LOCK " mutex in a child");
    }
}
