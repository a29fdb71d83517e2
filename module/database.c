/*
 * module/database.c - what Apache's children do with the database files.
 *
 * The parent loads each file into a shared table at startup and at every
 * graceful restart (mod_minilink.c).  Between those, a refresher process
 * looks at each file every MinilinkRefreshInterval and applies what changed
 * (cache/ml_refresh.c), and every MinilinkFlushInterval writes the clicks
 * counted in shared memory to the file (module/clicks.c).  Like mod_cgid's
 * daemon, it is forked by the parent
 * in post_config, runs as the server's User, is restarted by the parent if
 * it dies, and is stopped with its configuration generation.  A process of
 * its own rather than a thread in every child: exactly one process does the
 * work, and no child has a thread to stop when it exits (mod_watchdog's
 * child threads crash prefork children at restarts now and then).
 *
 * Every write to a shared table goes through ml_database_refresh(), under the
 * "minilink-cache" mutex, so there is one writer at a time however many
 * processes and threads want to write.  Readers never take that lock.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "http_main.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "util_mutex.h"
#include "apr_global_mutex.h"
#include "apr_hash.h"
#include "apr_signal.h"
#include "apr_strings.h"
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "../mod_minilink.h"
#include "../sync/ml_refresh.h"

APLOG_USE_MODULE(minilink);

#define CACHE_LOCK "minilink-cache"
/* How often the refresher looks at its stop flag while waiting. */
#define REFRESHER_SLICE apr_time_from_msec(100)
/* A table this full gets a warning, while there is still time to act. */
#define NEARLY_FULL_PERCENT 90
/*
 * A refresh or flush that has not finished in this long is waiting on a
 * database that took the connection and then stopped answering (a hung
 * PostgreSQL, a network that drops packets): libpq would wait for ever.
 * The refresher then exits with REFRESHER_STUCK and the parent starts
 * another, whose connect gives up after connect_timeout, so the outage is
 * logged and retried like any other.  (Not a signal number, which is what
 * the parent would see for a refresher killed by one.)
 */
#define STUCK_SECONDS 15
#define REFRESHER_STUCK 75

/* A child's read connection, kept between refreshes. */
struct ml_connection {
    apr_pool_t *pool;            /* destroying it closes the store */
    ml_store *store;
};

static apr_global_mutex_t *cache_lock;
static apr_hash_t *watched_databases;
static apr_pool_t *connections_pool;     /* in each child */

/* In the parent: the refresher of this generation and what restarts it.
 * The apr_proc_t lives in pconf, not here: APR kills a pool's subprocesses
 * after its cleanups, and one of pconf's cleanups unloads this module. */
static apr_proc_t *refresher;
static apr_pool_t *refresher_pconf;
static apr_interval_time_t refresh_interval;
static apr_interval_time_t flush_interval;
/* In the refresher: set by SIGTERM or SIGHUP. */
static volatile sig_atomic_t refresher_stopping;
/* In the refresher: set while it refreshes or flushes. */
static volatile sig_atomic_t refresher_busy;

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
                         "ML00007: cannot refresh links from %s; still "
                         "serving the links loaded before", error);
        }
        return;
    }
    if (ml_cache_swap_failing(database->cache, ML_CACHE_REFRESH, 0)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "ML00008: %s can be read again; changes are applied",
                     database->label);
    }
    if (counts->changed || counts->compared_all) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     "ML00009: %s: %u links changed%s", database->label,
                     counts->changed, counts->compared_all
                     ? " (compared every link: the change log did not reach back)"
                     : "");
    }
    if (counts->no_room) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "ML00021: %u new or changed links did not fit in the "
                     "cache for %s; they are served from the database until "
                     "'apachectl graceful' rebuilds the cache",
                     counts->no_room, database->label);
    }
    ml_cache_usage_get(database->cache, &usage);
    if (full_before < NEARLY_FULL_PERCENT
        && percent_used(&usage) >= NEARLY_FULL_PERCENT) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "ML00010: the cache for %s is %d%% full (%u links); "
                     "'apachectl graceful' rebuilds it with room to grow",
                     database->label, percent_used(&usage), usage.links);
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

static void refresh_all(apr_pool_t *scratch)
{
    apr_hash_index_t *entry;

    for (entry = apr_hash_first(scratch, watched_databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (database->cache) {
            ml_database_refresh(database, scratch);
        }
    }
}

/*
 * Stopped in the middle of a refresh or flush, the refresher goes at once
 * rather than finishing: the work may be waiting on an unreachable
 * database while a graceful restart waits for us.  Nothing is lost: the
 * parent has flushed the clicks just before (or the retained table keeps
 * them for the next generation), a flush cut short is finished by the next
 * flusher, and the next refresher reads the changes again.
 */
static void stop_refresher(int signal_number)
{
    (void)signal_number;
    if (refresher_busy) {
        _exit(0);
    }
    refresher_stopping = 1;
}

static void refresher_stuck(int signal_number)
{
    (void)signal_number;
    _exit(REFRESHER_STUCK);
}

/* The refresher process, from fork to exit. */
static void refresher_main(apr_pool_t *pool)
{
    apr_pool_t *scratch;
    apr_time_t next_refresh, next_flush;
    apr_status_t rv;

    apr_signal(SIGTERM, stop_refresher);
    apr_signal(SIGHUP, stop_refresher);
    /* httpd signals its whole process group at graceful restarts; those
     * signals are for the children, and the parent stops us itself. */
    apr_signal(AP_SIG_GRACEFUL, SIG_IGN);
    apr_signal(AP_SIG_GRACEFUL_STOP, SIG_IGN);
    apr_signal(SIGCHLD, SIG_DFL);
    apr_signal(SIGALRM, refresher_stuck);
    ap_close_listeners();
    if (ap_run_drop_privileges(pool, ap_server_conf) != 0) {
        exit(APEXIT_CHILDFATAL);
    }
    rv = apr_global_mutex_child_init(&cache_lock,
                                     apr_global_mutex_lockfile(cache_lock), pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ap_server_conf, "ML00015: "
                     "cannot attach the " CACHE_LOCK " mutex in the refresher");
        exit(APEXIT_CHILDFATAL);
    }
    ml_clicks_child_init(pool, ap_server_conf);
    apr_pool_create(&connections_pool, pool);
    apr_pool_create(&scratch, pool);
    next_refresh = apr_time_now();
    next_flush = next_refresh + flush_interval;
    /* Wake every slice and do what is due: a stop is seen within one. */
    while (!refresher_stopping) {
        apr_time_t now = apr_time_now();
        refresher_busy = 1;
        alarm(STUCK_SECONDS);
        if (refresh_interval > 0 && now >= next_refresh) {
            refresh_all(scratch);
            next_refresh = now + refresh_interval;
        }
        if (now >= next_flush) {
            ml_flush_all(watched_databases, scratch, 0);
            next_flush = now + flush_interval;
        }
        ml_reclaim_all(watched_databases, scratch);
        alarm(0);
        refresher_busy = 0;
        apr_pool_clear(scratch);
        apr_sleep(REFRESHER_SLICE);
    }
    /* Stopped: at a graceful restart or stop.  What the children counted
     * until now goes to the database before we go. */
    alarm(STUCK_SECONDS);
    ml_flush_all(watched_databases, scratch, 1);
    exit(0);
}

static void start_refresher(void);

/* Told by the parent's process maintenance what became of the refresher. */
static void refresher_event(int reason, void *data, apr_wait_t status)
{
    int mpm_state = AP_MPMQ_STOPPING;

    (void)data;
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST) {
        if (reason == APR_OC_REASON_RESTART) {
            apr_proc_other_child_unregister(refresher);
        }
        return;
    }
    apr_proc_other_child_unregister(refresher);
    ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state);
    if (mpm_state == AP_MPMQ_STOPPING) {
        return;
    }
    if (status == REFRESHER_STUCK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf, "ML00034: the "
                     "refresher waited %d s for a database that does not "
                     "answer; starting another", STUCK_SECONDS);
        start_refresher();
        return;
    }
    if (status == APEXIT_CHILDFATAL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, ap_server_conf, "ML00022: "
                     "the refresher cannot start; links change only at "
                     "graceful restarts");
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf, "ML00023: the "
                 "refresher process died (status %d); starting another",
                 status);
    start_refresher();
}

static void start_refresher(void)
{
    apr_status_t rv;

    refresher = apr_pcalloc(refresher_pconf, sizeof(*refresher));
    rv = apr_proc_fork(refresher, refresher_pconf);

    if (rv == APR_INCHILD) {
        refresher_main(refresher_pconf);
    }
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ap_server_conf, "ML00014: "
                     "cannot start the refresher process; links change only "
                     "at graceful restarts");
        return;
    }
    /* Stopped (SIGTERM, then SIGKILL after 3 s) when this generation's
     * pool goes, at the next restart or at stop. */
    apr_pool_note_subprocess(refresher_pconf, refresher, APR_KILL_AFTER_TIMEOUT);
    /* The data pointer is what apr_proc_other_child_unregister() finds
     * the registration by. */
    apr_proc_other_child_register(refresher, refresher_event, refresher,
                                  NULL, refresher_pconf);
}

int ml_database_post_config(apr_pool_t *pconf, server_rec *s,
                            apr_hash_t *databases,
                            const ml_server_settings *settings)
{
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
    refresh_interval = settings->refresh_interval;
    flush_interval = settings->flush_interval;
    refresher_pconf = pconf;
    refresher_stopping = 0;
    /* Even with refreshing off, the refresher flushes the clicks. */
    start_refresher();
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
    if (ml_store_open(&store, database->location, ML_STORE_READ, r->pool)
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
    entry->click_cell = ML_CACHE_NO_CELL;
    return 1;
}

void ml_database_add_click(ml_database *database, const char *slug,
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
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "ML00030: a click on '%s' "
                      "could not be counted: %s", slug, ml_store_error(store));
    }
}
