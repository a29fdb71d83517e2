/*
 * module/database.c - what Apache's children do with the database files.
 *
 * The parent loads each file into a shared table at startup and at every
 * graceful restart (mod_minilink.c).  Between those, one child at a time -
 * a mod_watchdog singleton: a process mutex elects it, and another child
 * takes over if it dies - looks at each file every MinilinkRefreshInterval
 * and applies what changed (cache/ml_refresh.c).
 *
 * Every write to a shared table goes through ml_database_refresh(), under the
 * "minilink-cache" mutex, so there is one writer at a time however many
 * processes and threads want to write.  Readers never take that lock.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "util_mutex.h"
#include "apr_global_mutex.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "mod_watchdog.h"

#include "../mod_minilink.h"
#include "../cache/ml_refresh.h"

APLOG_USE_MODULE(minilink);

#define CACHE_LOCK "minilink-cache"
#define WATCHDOG_NAME "minilink-refresh"
/* A table this full gets a warning, while there is still time to act. */
#define NEARLY_FULL_PERCENT 90

/* A child's read connection, kept between refreshes. */
struct ml_connection {
    apr_pool_t *pool;            /* destroying it closes the store */
    ml_store *store;
    apr_ino_t inode;             /* the file it has open, to notice when */
    apr_dev_t device;            /* another file is put in its place */
};

static apr_global_mutex_t *cache_lock;
static apr_hash_t *watched_databases;
static apr_pool_t *connections_pool;     /* in each child */

void ml_database_pre_config(apr_pool_t *pconf)
{
    /* Registered so that httpd's Mutex directive can configure it. */
    ap_mutex_register(pconf, CACHE_LOCK, NULL, APR_LOCK_DEFAULT, 0);
}

void ml_log_skipped_row(void *data, const char *slug, apr_int64_t id,
                        const char *problem)
{
    ml_database *database = data;

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                 "ML00003: %s: link '%s' (row %" APR_INT64_T_FMT ") is not "
                 "served: %s", database->path, slug ? slug : "(null)", id,
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
 * Makes sure database->connection reads the file now at database->path: a
 * file that was replaced (restored from a backup, say) is reopened.
 */
static apr_status_t open_current_file(ml_database *database, const char **error,
                                      apr_pool_t *scratch)
{
    ml_connection *connection = database->connection;
    apr_finfo_t info;
    apr_pool_t *pool;
    apr_status_t rv;

    rv = apr_stat(&info, database->path, APR_FINFO_IDENT, scratch);
    if (rv != APR_SUCCESS) {
        char reason[120];
        disconnect(database);
        *error = apr_psprintf(scratch, "%s: %s", database->path,
                              apr_strerror(rv, reason, sizeof(reason)));
        return rv;
    }
    if (connection && (connection->inode != info.inode
                       || connection->device != info.device)) {
        disconnect(database);
    }
    if (database->connection) {
        return APR_SUCCESS;
    }
    apr_pool_create(&pool, connections_pool);
    connection = apr_pcalloc(pool, sizeof(*connection));
    connection->pool = pool;
    connection->inode = info.inode;
    connection->device = info.device;
    rv = ml_store_open(&connection->store, database->path, ML_STORE_READ, pool);
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
        if (!ml_cache_swap_failing(database->cache, 1)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                         "ML00007: cannot refresh links from %s; still "
                         "serving the links loaded before", error);
        }
        return;
    }
    if (ml_cache_swap_failing(database->cache, 0)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "ML00008: %s can be read again; changes are applied",
                     database->path);
    }
    if (counts->changed || counts->compared_all) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     "ML00009: %s: %u links changed%s", database->path,
                     counts->changed, counts->compared_all
                     ? " (compared every link: the change log did not reach back)"
                     : "");
    }
    if (counts->no_room) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "ML00021: %u new or changed links did not fit in the "
                     "cache for %s; they are served from the database until "
                     "'apachectl graceful' rebuilds the cache",
                     counts->no_room, database->path);
    }
    ml_cache_usage_get(database->cache, &usage);
    if (full_before < NEARLY_FULL_PERCENT
        && percent_used(&usage) >= NEARLY_FULL_PERCENT) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "ML00010: the cache for %s is %d%% full (%u links); "
                     "'apachectl graceful' rebuilds it with room to grow",
                     database->path, percent_used(&usage), usage.links);
    }
}

/* Applies the database's changes to its table, as the only writer. */
void ml_database_refresh(ml_database *database, apr_pool_t *scratch)
{
    ml_refresh_counts counts = {0};
    ml_cache_usage usage;
    const char *error = NULL;
    apr_status_t rv;
    int full_before;

    if ((rv = apr_global_mutex_lock(cache_lock)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                     "ML00011: cannot take the " CACHE_LOCK " mutex; links "
                     "from %s are not refreshed", database->path);
        return;
    }
    ml_cache_usage_get(database->cache, &usage);
    full_before = percent_used(&usage);
    rv = open_current_file(database, &error, scratch);
    if (rv == APR_SUCCESS) {
        rv = ml_refresh(database->cache, database->connection->store, scratch,
                        ml_log_skipped_row, database, &counts);
        if (rv != APR_SUCCESS) {
            /* Reopen next time: the failure may be the file's, not ours. */
            error = apr_pstrdup(scratch,
                                ml_store_error(database->connection->store));
            disconnect(database);
        }
    }
    apr_global_mutex_unlock(cache_lock);
    report(database, rv, error, &counts, full_before);
}

/* Runs in the elected child's watchdog thread, every refresh interval. */
static apr_status_t refresh_all(int state, void *data, apr_pool_t *scratch)
{
    apr_hash_index_t *entry;

    (void)data;
    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    for (entry = apr_hash_first(scratch, watched_databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (database->cache) {
            ml_database_refresh(database, scratch);
        }
    }
    /* Anything but success would stop mod_watchdog calling us. */
    return APR_SUCCESS;
}

int ml_database_post_config(apr_pool_t *pconf, server_rec *s,
                            apr_hash_t *databases,
                            const ml_server_settings *settings)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_watchdog;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback;
    ap_watchdog_t *watchdog;
    apr_status_t rv;

    cache_lock = NULL;
    watched_databases = databases;
    if (apr_hash_count(databases) == 0) {
        return OK;
    }
    rv = ap_global_mutex_create(&cache_lock, NULL, CACHE_LOCK, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "ML00012: cannot create "
                     "the " CACHE_LOCK " mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (settings->refresh_interval == 0) {
        return OK;
    }
    get_watchdog = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_watchdog || !register_callback) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "ML00013: mod_watchdog "
                     "is not loaded, so links change only at graceful restarts");
        return OK;
    }
    /* A child watchdog (0), and a singleton (1): one child at a time. */
    if ((rv = get_watchdog(&watchdog, WATCHDOG_NAME, 0, 1, pconf))
        || (rv = register_callback(watchdog, settings->refresh_interval, NULL,
                                   refresh_all))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "ML00014: cannot start "
                     "the refresh watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void ml_database_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    apr_pool_create(&connections_pool, pchild);
    if (cache_lock == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&cache_lock,
                                     apr_global_mutex_lockfile(cache_lock),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "ML00015: cannot attach "
                     "the " CACHE_LOCK " mutex in a child");
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
    if (ml_store_open(&store, database->path, ML_STORE_READ, r->pool)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "ML00016: cannot look up "
                      "'%s' in %s", slug, ml_store_error(store));
        return 0;
    }
    if (ml_store_get(store, slug, &link, &problem, r->pool) != APR_SUCCESS
        || problem != NULL) {
        return 0;
    }
    entry->url = link.url;
    entry->url_len = strlen(link.url);
    entry->status = link.status;
    entry->expires_at = link.expires_at;
    entry->disabled = link.disabled;
    return 1;
}
