/*
 * module/lifecycle.c - what lives as long as a configuration generation,
 * and what outlives them all.
 *
 * A start.  httpd reads its configuration twice: the first pass only
 * checks it, and post_config then does nothing here.  On the second,
 * real pass, in the parent (root):
 *   - each database named by MinilinkDatabase is loaded into a new table
 *     in shared memory (sync/ml_load.c), and gets a click table and a
 *     visits ring, made the first time and then retained;
 *   - the mutexes are made: "minilink-cache" (one writer per table, this
 *     generation's), "minilink-clicks" (one flusher at a time, retained),
 *     "minilink-ratelimit" with the rate limit's slots (this generation's,
 *     when something creates links);
 *   - the form's CSRF key is made, once, and retained;
 *   - every server's early-answer plan is made (early.c);
 *   - the refresher process is forked (refresher.c).
 * Each child, in child_init (as the server's User), attaches the mutexes,
 * gets its own database connections, and maps the tables' pages in.
 *
 * A graceful restart.  httpd clears pconf, and with it this generation:
 * the parent flushes every database's clicks and visits
 * (flush_at_generation_end),
 * SIGTERM stops the refresher (which flushes too), the mutexes and the
 * rate limit's slots of this generation go.  Then the next generation's
 * post_config loads new tables.  The retained data - click tables, the
 * newest table that loaded, the flushers' mutex, the form key - is not
 * touched: the old children, which keep serving until their connections
 * end, and the new ones count clicks into the same cells and write
 * visits into the same ring.  The old
 * children keep their mapping of the old table; the parent unmaps its own
 * (destroying the table's pool) once the new one loaded.
 *
 * A stop.  The children exit first; then pconf is cleared, and the
 * parent's flush writes the very last clicks and visits.  The process pool, and the
 * retained data in it, goes with the parent.
 *
 * An outage.  A database that cannot be read when a generation starts
 * (missing, locked, a PostgreSQL server down): if a table of it loaded
 * before, the new generation serves that one (ML00033), refreshed once the
 * database answers again; if none ever did, its locations answer 503
 * (ML00001).  A PostgreSQL server the refresher already found failing is
 * not even asked at a graceful restart, nor flushed to on the way out: the
 * restart would wait connect_timeout for nothing, and the clicks stay in
 * the retained table for the next generation's refresher.
 */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "util_mutex.h"
#include "ap_provider.h"
#include "apr_strings.h"

#include "ml_module.h"
#include "../sync/ml_load.h"

APLOG_USE_MODULE(minilink);

#define CACHE_LOCK "minilink-cache"
#define FLUSH_LOCK "minilink-clicks"
#define RATE_LOCK "minilink-ratelimit"
#define RETAINED_KEY "mod_minilink-retained"

static ml_generation *generation;
static ml_retained *retained;

ml_generation *ml_generation_now(void)
{
    return generation;
}

const ml_retained *ml_retained_now(void)
{
    return retained;
}

/* One ml_database per database, however it is spelled: symlinks and
 * relative paths that name the same existing file share one table. */
ml_database *ml_database_for(apr_pool_t *pool, const char *location)
{
    char resolved[PATH_MAX];
    const char *key = ml_store_location_is_file(location)
                      && realpath(location, resolved) ? resolved : location;
    ml_database *database = apr_hash_get(generation->databases, key,
                                         APR_HASH_KEY_STRING);

    if (database == NULL) {
        database = apr_pcalloc(pool, sizeof(*database));
        database->location = apr_pstrdup(pool, key);
        database->label = ml_store_location_label(key, pool);
        apr_hash_set(generation->databases, database->location,
                     APR_HASH_KEY_STRING, database);
    }
    return database;
}

void ml_lifecycle_pre_config(apr_pool_t *pconf)
{
    generation = apr_pcalloc(pconf, sizeof(*generation));
    generation->pconf = pconf;
    generation->databases = apr_hash_make(pconf);
    generation->settings.refresh_interval = ML_DEFAULT_REFRESH_INTERVAL;
    generation->settings.flush_interval = ML_DEFAULT_FLUSH_INTERVAL;
    generation->settings.cache_headroom = ML_CACHE_HEADROOM_DEFAULT;
    generation->settings.visits_keep = ML_DEFAULT_VISITS_KEEP;
    /* Registered so that httpd's Mutex directive can configure them. */
    ap_mutex_register(pconf, CACHE_LOCK, NULL, APR_LOCK_DEFAULT, 0);
    ap_mutex_register(pconf, FLUSH_LOCK, NULL, APR_LOCK_DEFAULT, 0);
    ap_mutex_register(pconf, RATE_LOCK, NULL, APR_LOCK_DEFAULT, 0);
}

/* The retained data, made the first time httpd's parent starts. */
static ml_retained *retained_get(server_rec *s)
{
    ml_retained *found = ap_retained_data_get(RETAINED_KEY);

    if (found == NULL) {
        found = ap_retained_data_create(RETAINED_KEY, sizeof(*found));
        found->pool = s->process->pool;
        found->databases = apr_hash_make(found->pool);
    }
    return found;
}

static ml_retained_database *retained_for(const char *location)
{
    ml_retained_database *kept = apr_hash_get(retained->databases, location,
                                              APR_HASH_KEY_STRING);

    if (kept == NULL) {
        kept = apr_pcalloc(retained->pool, sizeof(*kept));
        apr_hash_set(retained->databases, apr_pstrdup(retained->pool, location),
                     APR_HASH_KEY_STRING, kept);
    }
    return kept;
}

/*
 * Builds the database's table for this generation.  The table lives in the
 * process pool, not pconf, so that when the next generation cannot load
 * one it serves this one instead of answering 503.  Only the refresher
 * writes to a table between requests; old children write to theirs only
 * right after creating a link, which needs the database that the new
 * generation failed to reach.
 */
/*
 * The database's visits ring, made the first time (MinilinkVisitsRing 0
 * makes none); a ring that cannot be made turns visits off for it.  Its
 * default size follows the links loaded: while a click flush writes, no
 * visit is written (one writer in SQLite), and a flush after a flood of
 * clicks on N different links takes as long as N rows take, so the ring
 * must hold that long's visits: a slot per 4 links, at least
 * ML_VISITS_DEFAULT_SLOTS (bench/RESULTS.md, "Visits").
 */
static void make_visits_ring(ml_database *database, ml_retained_database *kept)
{
    apr_uint32_t slots = generation->settings.visits_slots;
    ml_cache_usage usage = {0};
    apr_status_t rv;

    if (kept->visits == NULL && !generation->settings.no_visits_ring
        && !kept->visits_tried) {
        kept->visits_tried = 1;
        if (slots == 0) {
            if (database->cache) {
                ml_cache_usage_get(database->cache, &usage);
            }
            slots = usage.links / 4 > ML_VISITS_DEFAULT_SLOTS
                    ? usage.links / 4 : ML_VISITS_DEFAULT_SLOTS;
        }
        if ((rv = ml_visits_create(&kept->visits, slots, retained->pool))
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ap_server_conf,
                         MLLOGNO(00065) "%s: cannot make a visits ring of %u "
                         "slots; no visits are recorded for it until a stop "
                         "and start", database->label, slots);
            kept->visits = NULL;
        }
    }
    database->visits = kept->visits;
}

static void load_table(ml_database *database, ml_retained_database *kept,
                       apr_pool_t *pconf)
{
    apr_uint32_t cells = generation->settings.click_cells;
    apr_pool_t *table_pool;
    ml_load_counts counts;
    ml_cache_usage usage;
    apr_status_t rv;

    if (kept->table && !ml_store_location_is_file(database->location)
        && ml_cache_failing(kept->table, ML_CACHE_REFRESH)) {
        database->clicks = kept->clicks;
        database->load_error = apr_psprintf(pconf, "%s (it could not be "
                                            "read at the last refresh)",
                                            database->label);
        rv = APR_EGENERAL;
    }
    else {
        apr_pool_create(&table_pool, retained->pool);
        /* A size given: the table is made here, else ml_load() sizes it. */
        if (kept->clicks == NULL && cells
            && ml_clicks_create(&kept->clicks, cells, retained->pool)
               != APR_SUCCESS) {
            kept->clicks = NULL;
        }
        rv = ml_load(&database->cache, database->location,
                     generation->settings.cache_headroom,
                     generation->any_case, &kept->clicks,
                     retained->pool, table_pool, ml_log_skipped_row, database,
                     &counts, &database->load_error);
        database->clicks = kept->clicks;
        if (rv != APR_SUCCESS) {
            database->load_error = apr_pstrdup(pconf, database->load_error);
            apr_pool_destroy(table_pool);
        }
    }
    if (rv != APR_SUCCESS) {
        if (kept->table) {
            database->cache = kept->table;
            ml_cache_usage_get(database->cache, &usage);
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                         MLLOGNO(00033) "cannot load links from %s; serving "
                         "the %u links of the last table that loaded, "
                         "refreshed once the database can be read",
                         database->load_error, usage.links);
            return;
        }
        /* Apache still starts: the locations using this database answer 503. */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     MLLOGNO(00001) "cannot load links from %s; its locations "
                     "answer 503 until it is fixed and Apache is reloaded",
                     database->load_error);
        return;
    }
    if (kept->table_pool) {
        apr_pool_destroy(kept->table_pool);
    }
    kept->table = database->cache;
    kept->table_pool = table_pool;
    ml_cache_usage_get(database->cache, &usage);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                 MLLOGNO(00002) "%s: %u links loaded, %u skipped; cache of %"
                 APR_SIZE_T_FMT " bytes holds up to %u links",
                 database->label, counts.loaded, counts.skipped,
                 usage.segment_bytes, usage.link_capacity);
    /* Served as it is; never upgraded behind the admin's back. */
    if (counts.schema < ML_STORE_SCHEMA_VERSION) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     MLLOGNO(00042) "%s has schema version %d: its links are "
                     "served, but links cannot be created in it and its "
                     "links have none of the rules of version %d; run "
                     "'minilink --db %s upgrade'", database->label,
                     counts.schema, ML_STORE_SCHEMA_VERSION, database->label);
    }
}

/* The table, then (sized from it, the first time) the visits ring. */
static void load_database(ml_database *database, apr_pool_t *pconf)
{
    ml_retained_database *kept = retained_for(database->location);

    load_table(database, kept, pconf);
    make_visits_ring(database, kept);
}

/* The parent's flush when a generation ends: at a restart, when httpd
 * destroys the configuration to read it again, or at stop, when there is
 * no next generation and every database is tried. */
static apr_status_t flush_at_generation_end(void *data)
{
    ml_generation *ending = data;
    apr_pool_t *scratch;

    apr_pool_create(&scratch, NULL);
    ml_database_flush_all(ending->databases, ml_database_agents(scratch),
                          scratch,
                          ap_state_query(AP_SQ_MAIN_STATE)
                          == AP_SQ_MS_DESTROY_CONFIG);
    apr_pool_destroy(scratch);
    return APR_SUCCESS;
}

/* The rate limit's windows, lock and key, for creations and password
 * guesses: this generation's (losing the counts at a restart only forgives
 * a few clients early). */
static apr_status_t make_rate_limit(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv;

    generation->slotmem = ap_lookup_provider(AP_SLOTMEM_PROVIDER_GROUP, "shm",
                                             AP_SLOTMEM_PROVIDER_VERSION);
    if (generation->slotmem == NULL) {
        return APR_ENOTIMPL;       /* set_create() made configtest say so */
    }
    /* No name: an anonymous segment, inherited by the children. */
    if ((rv = generation->slotmem->create(&generation->rate_windows, NULL,
                                          ml_ratelimit_window_bytes(),
                                          ML_RATE_WINDOWS,
                                          AP_SLOTMEM_TYPE_PREGRAB, pconf))
        || (rv = ap_global_mutex_create(&generation->rate_lock, NULL,
                                        RATE_LOCK, NULL, s, pconf, 0))) {
        return rv;
    }
    return apr_generate_random_bytes(generation->rate_key,
                                     sizeof(generation->rate_key));
}

/* What is retained is made the first time only. */
static int make_retained(server_rec *s)
{
    apr_status_t rv;

    retained = retained_get(s);
    if (retained->flush_lock == NULL
        && (rv = ap_global_mutex_create(&retained->flush_lock, NULL,
                                        FLUSH_LOCK, NULL, s, retained->pool,
                                        0)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MLLOGNO(00028) "cannot "
                     "create the " FLUSH_LOCK " mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!retained->form_key_made) {
        if ((rv = apr_generate_random_bytes(retained->form_key,
                                            sizeof(retained->form_key)))
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MLLOGNO(00036) "no "
                         "random bytes for the key of the form's CSRF tokens");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        retained->form_key_made = 1;
    }
    return OK;
}

int ml_lifecycle_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s)
{
    apr_hash_index_t *entry;
    apr_status_t rv;

    /* httpd reads its configuration twice at startup; the first pass only
     * checks it, so loading then would double the startup work. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (make_retained(s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (entry = apr_hash_first(ptemp, generation->databases); entry;
         entry = apr_hash_next(entry)) {
        load_database(apr_hash_this_val(entry), pconf);
    }
    apr_pool_cleanup_register(pconf, generation, flush_at_generation_end,
                              apr_pool_cleanup_null);
    ml_early_post_config(pconf, s);
    /* Needed to create links (configtest said so), and to check links'
     * passwords, which any database may hold: made whenever it can be. */
    if ((generation->creates_links
         || ap_lookup_provider(AP_SLOTMEM_PROVIDER_GROUP, "shm",
                               AP_SLOTMEM_PROVIDER_VERSION))
        && (rv = make_rate_limit(pconf, s)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MLLOGNO(00017) "cannot set "
                     "up the rate limit of creations and password guesses");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apr_hash_count(generation->databases) == 0) {
        return OK;
    }
    rv = ap_global_mutex_create(&generation->cache_lock, NULL, CACHE_LOCK,
                                NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MLLOGNO(00012) "cannot "
                     "create the " CACHE_LOCK " mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Even with refreshing off, the refresher flushes the clicks. */
    ml_refresher_start(generation);
    return OK;
}

static apr_status_t attach(apr_global_mutex_t **lock, const char *name,
                           apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (*lock == NULL) {
        return APR_SUCCESS;
    }
    rv = apr_global_mutex_child_init(lock, apr_global_mutex_lockfile(*lock),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, MLLOGNO(00015) "cannot "
                     "attach the %s mutex in process %" APR_PID_T_FMT, name,
                     getpid());
    }
    return rv;
}

apr_status_t ml_lifecycle_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_index_t *entry;
    apr_status_t rv, first;

    first = attach(&generation->cache_lock, CACHE_LOCK, pchild, s);
    rv = attach(&generation->rate_lock, RATE_LOCK, pchild, s);
    first = first ? first : rv;
    if (retained) {
        rv = attach(&retained->flush_lock, FLUSH_LOCK, pchild, s);
        first = first ? first : rv;
    }
    ml_database_child_init(pchild);
    ml_visits_child_init();
    /* Warm from the first request: the tables' pages mapped now, not one
     * fault at a time under the first minutes' load. */
    for (entry = apr_hash_first(pchild, generation->databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (database->cache) {
            ml_cache_prefault(database->cache);
        }
        if (database->clicks) {
            ml_clicks_prefault(database->clicks);
        }
    }
    return first;
}
