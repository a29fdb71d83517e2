/*
 * module/refresher.c - the refresher process.
 *
 * Between graceful restarts, a refresher looks at each database every
 * MinilinkRefreshInterval and applies what changed to its table
 * (database.c, sync/ml_refresh.c), and every MinilinkFlushInterval writes
 * the clicks counted in shared memory to it.  Visits are written at every
 * tick (a tenth of a second, or at once while a drain leaves some
 * behind): the ring holds seconds of a flood, not the ten of a flush
 * interval; visits older than MinilinkVisitsKeep are deleted once a
 * minute, in small batches.  Like mod_cgid's daemon, it
 * is forked by the parent in post_config, runs as the server's User, is
 * restarted by the parent if it dies, and is stopped with its
 * configuration generation (lifecycle.c).  A process of its own rather
 * than a thread in every child: exactly one process does the work, and no
 * child has a thread to stop when it exits (mod_watchdog's child threads
 * crash prefork children at restarts now and then).
 */
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <unistd.h>
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "apr_signal.h"

#include "ml_module.h"
#include "../sync/ml_visits_drain.h"

APLOG_USE_MODULE(minilink);

/* How often the refresher looks at its stop flag while waiting. */
#define SLICE apr_time_from_msec(100)
/*
 * A refresh or flush that has not finished in this long is waiting on a
 * database that took the connection and then stopped answering (a hung
 * PostgreSQL, a network that drops packets): libpq would wait for ever.
 * The refresher then exits with STUCK and the parent starts another,
 * whose connect gives up after connect_timeout, so the outage is logged
 * and retried like any other.  (Not a signal number, which is what the
 * parent would see for a refresher killed by one.)
 */
#define STUCK_SECONDS 15
#define STUCK 75
/* The refresher's nice value (see refresher_main()). */
#define REFRESHER_NICE -5
/* How often old visits are looked for. */
#define PRUNE_INTERVAL apr_time_from_sec(60)

/* In the refresher: set by SIGTERM or SIGHUP; set while it works. */
static volatile sig_atomic_t stopping;
static volatile sig_atomic_t busy;

/*
 * Stopped in the middle of a refresh or flush, the refresher goes at once
 * rather than finishing: the work may be waiting on an unreachable
 * database while a graceful restart waits for us.  Nothing is lost: the
 * parent has flushed the clicks just before (or the retained table keeps
 * them for the next generation), a flush cut short is finished by the next
 * flusher, and the next refresher reads the changes again.
 */
static void stop(int signal_number)
{
    (void)signal_number;
    if (busy) {
        _exit(0);
    }
    stopping = 1;
}

static void stuck(int signal_number)
{
    (void)signal_number;
    _exit(STUCK);
}

static void refresh_all(const ml_generation *generation, apr_pool_t *scratch)
{
    apr_hash_index_t *entry;

    for (entry = apr_hash_first(scratch, generation->databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (database->cache) {
            ml_database_refresh(database, scratch);
        }
    }
}

/* The cells of links that left their tables are reused as soon as they
 * have no clicks to write, not only at the next flush: a server that makes
 * and deletes many links between flushes still has cells for new ones. */
static void reclaim_all(const ml_generation *generation, apr_pool_t *scratch)
{
    apr_hash_index_t *entry;

    for (entry = apr_hash_first(scratch, generation->databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database_reclaim(apr_hash_this_val(entry));
    }
}

/* Visits drained at every tick; old ones pruned when due.  1 if a drain
 * left visits behind (it wrote as many as one may): no pause before the
 * next. */
static int visits_all(const ml_generation *generation, ml_agents *agents,
                      int prune, apr_pool_t *scratch)
{
    apr_hash_index_t *entry;
    int behind = 0;

    for (entry = apr_hash_first(scratch, generation->databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        behind |= ml_database_drain_visits(database, agents, scratch)
                  >= ML_VISITS_DRAIN_MOST;
        if (prune) {
            ml_database_prune_visits(database, scratch);
        }
    }
    return behind;
}

/* The refresher process, from fork to exit. */
static void refresher_main(ml_generation *generation)
{
    apr_interval_time_t refresh_interval = generation->settings.refresh_interval;
    apr_interval_time_t flush_interval = generation->settings.flush_interval;
    apr_pool_t *pool = generation->pconf, *scratch;
    ml_agents *agents;
    apr_time_t next_refresh, next_flush, next_prune;
    int behind;

    apr_signal(SIGTERM, stop);
    apr_signal(SIGHUP, stop);
    /* httpd signals its whole process group at graceful restarts; those
     * signals are for the children, and the parent stops us itself. */
    apr_signal(AP_SIG_GRACEFUL, SIG_IGN);
    apr_signal(AP_SIG_GRACEFUL_STOP, SIG_IGN);
    apr_signal(SIGCHLD, SIG_DFL);
    apr_signal(SIGALRM, stuck);
    ap_close_listeners();
    /* Ahead of the children in the scheduler's queue while we are still
     * root (a failure, as when httpd does not start as root, changes
     * nothing): our work grows with the requests, and behind a flood of
     * them on every core we would fall behind it, and the visits ring
     * would drop what we had not written. */
    setpriority(PRIO_PROCESS, 0, REFRESHER_NICE);
    if (ap_run_drop_privileges(pool, ap_server_conf) != 0
        || ml_lifecycle_child_init(pool, ap_server_conf) != APR_SUCCESS) {
        exit(APEXIT_CHILDFATAL);
    }
    apr_pool_create(&scratch, pool);
    agents = ml_database_agents(pool);
    next_refresh = apr_time_now();
    next_flush = next_refresh + flush_interval;
    next_prune = next_refresh;
    /* Wake every slice and do what is due: a stop is seen within one. */
    while (!stopping) {
        apr_time_t now = apr_time_now();
        busy = 1;
        alarm(STUCK_SECONDS);
        if (refresh_interval > 0 && now >= next_refresh) {
            refresh_all(generation, scratch);
            next_refresh = now + refresh_interval;
        }
        if (now >= next_flush) {
            ml_database_flush_all(generation->databases, agents, scratch, 0);
            next_flush = now + flush_interval;
        }
        reclaim_all(generation, scratch);
        behind = visits_all(generation, agents, now >= next_prune, scratch);
        if (now >= next_prune) {
            next_prune = now + PRUNE_INTERVAL;
        }
        alarm(0);
        busy = 0;
        apr_pool_clear(scratch);
        if (!behind) {
            apr_sleep(SLICE);
        }
    }
    /* Stopped: at a graceful restart or stop.  What the children counted
     * until now goes to the database before we go. */
    alarm(STUCK_SECONDS);
    ml_database_flush_all(generation->databases, agents, scratch, 1);
    exit(0);
}

static void start(ml_generation *generation);

/* Told by the parent's process maintenance what became of the refresher. */
static void refresher_event(int reason, void *data, apr_wait_t status)
{
    ml_generation *generation = data;
    int mpm_state = AP_MPMQ_STOPPING;

    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST) {
        if (reason == APR_OC_REASON_RESTART) {
            apr_proc_other_child_unregister(generation);
        }
        return;
    }
    apr_proc_other_child_unregister(generation);
    ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state);
    if (mpm_state == AP_MPMQ_STOPPING) {
        return;
    }
    if (status == STUCK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     MLLOGNO(00034) "the refresher waited %d s for a database "
                     "that does not answer; starting another", STUCK_SECONDS);
        start(generation);
        return;
    }
    if (status == APEXIT_CHILDFATAL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, ap_server_conf,
                     MLLOGNO(00022) "the refresher cannot start; links change "
                     "only at graceful restarts");
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf, MLLOGNO(00023)
                 "the refresher process died (status %d); starting another",
                 status);
    start(generation);
}

static void start(ml_generation *generation)
{
    apr_proc_t *refresher;
    apr_status_t rv;

    /* In pconf, not in this module's statics: APR kills a pool's
     * subprocesses after its cleanups, and one of pconf's cleanups unloads
     * this module. */
    refresher = apr_pcalloc(generation->pconf, sizeof(*refresher));
    rv = apr_proc_fork(refresher, generation->pconf);
    if (rv == APR_INCHILD) {
        refresher_main(generation);
    }
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ap_server_conf,
                     MLLOGNO(00014) "cannot start the refresher process; links "
                     "change only at graceful restarts");
        return;
    }
    generation->refresher = refresher;
    /* Stopped (SIGTERM, then SIGKILL after 3 s) when this generation's
     * pool goes, at the next restart or at stop. */
    apr_pool_note_subprocess(generation->pconf, refresher,
                             APR_KILL_AFTER_TIMEOUT);
    /* The data pointer is what apr_proc_other_child_unregister() finds
     * the registration by. */
    apr_proc_other_child_register(refresher, refresher_event, generation,
                                  NULL, generation->pconf);
}

void ml_refresher_start(ml_generation *generation)
{
    stopping = 0;
    start(generation);
}
