/*
 * ml_visits_drain.c - moves published visits from the ring to the
 * database, exactly once.
 */
#include <stdlib.h>
#include "ml_visits_drain.h"

/* Visits handed to the store at once: PostgreSQL gets each group as one
 * statement (ml_store_pgsql.c), not a round trip per visit. */
#define GROUP 512

/* A record as the store takes it; its strings stay in the record. */
static void store_visit(const ml_visit_record *record, ml_agents *agents,
                        ml_store_visit *visit)
{
    ml_agent agent = { NULL, NULL, NULL, 0 };

    if (agents) {
        ml_agents_classify(agents, record->user_agent, &agent);
    }
    visit->link_id = record->link_id;
    visit->visited_at = record->visited_at;
    visit->orphan_type = record->kind == ML_VISIT_LINK
                         ? NULL : ml_visit_kind_names[record->kind];
    visit->referrer = record->referrer;
    visit->user_agent = record->user_agent;
    visit->bot = agent.bot;
    visit->redirect_url = record->kind == ML_VISIT_LINK
                          ? record->redirect_url : NULL;
    visit->visited_path = record->path;
    visit->country = record->country;
    visit->ip = record->ip;
}

/* By link (orphans first), then time: a group written in this order
 * touches each page of the visits-by-link index and of the roll-up once,
 * in order, where the ring's order would touch pages all over them. */
static int by_link(const void *a, const void *b)
{
    const ml_store_visit *x = a, *y = b;

    return x->link_id != y->link_id ? (x->link_id > y->link_id) - (x->link_id < y->link_id)
                                    : (x->visited_at > y->visited_at)
                                      - (x->visited_at < y->visited_at);
}

/* Reads and writes from the head on, in the open transaction; *end gets
 * the position after the last visit read. */
static apr_status_t write_visits(ml_visits *ring, ml_store *store,
                                 ml_agents *agents, apr_int64_t now,
                                 apr_uint64_t *end, apr_uint64_t *written,
                                 apr_pool_t *scratch)
{
    ml_visit_record *records = apr_palloc(scratch, GROUP * sizeof(*records));
    ml_store_visit *visits = apr_palloc(scratch, GROUP * sizeof(*visits));
    apr_uint64_t position = ml_visits_head(ring), next;
    apr_status_t rv = APR_SUCCESS;
    apr_size_t n, i;

    *written = 0;
    while (rv == APR_SUCCESS && *written < ML_VISITS_DRAIN_MOST) {
        n = ml_visits_read(ring, position, records, GROUP, &next, now,
                           ML_VISITS_GRACE_SECONDS);
        if (next == position) {
            break;
        }
        for (i = 0; i < n; i++) {
            store_visit(&records[i], agents, &visits[i]);
        }
        qsort(visits, n, sizeof(*visits), by_link);
        rv = ml_store_add_visits(store, visits, n, scratch);
        position = next;
        *written += n;
    }
    *end = position;
    return rv;
}

apr_status_t ml_visits_drain(ml_visits *ring, ml_store *store,
                             ml_agents *agents, apr_int64_t now,
                             apr_uint64_t *written, apr_pool_t *scratch)
{
    const char *key = ml_visits_batch_key(ring);
    apr_int64_t committed = 0;
    apr_uint64_t end;
    ml_visits_stats stats;
    apr_status_t rv;

    *written = 0;
    ml_visits_stats_get(ring, &stats);
    if (stats.pending == 0) {
        return APR_SUCCESS;
    }
    /* A drainer that died between its commit and freeing the slots: the
     * database has the position it reached. */
    if ((rv = ml_store_meta_get(store, key, &committed)) != APR_SUCCESS) {
        ml_visits_note_drain_error(ring);
        return rv;
    }
    ml_visits_release(ring, (apr_uint64_t)committed, now);
    if ((rv = ml_store_write_begin(store)) == APR_SUCCESS) {
        rv = write_visits(ring, store, agents, now, &end, written, scratch);
        if (rv == APR_SUCCESS && *written > 0) {
            rv = ml_store_meta_set(store, key, (apr_int64_t)end);
        }
        if (rv == APR_SUCCESS) {
            rv = ml_store_write_commit(store);
        }
        if (rv != APR_SUCCESS) {
            ml_store_write_rollback(store);
        }
    }
    if (rv != APR_SUCCESS) {
        *written = 0;
        ml_visits_note_drain_error(ring);
        return rv;
    }
    ml_visits_release(ring, end, now);
    return APR_SUCCESS;
}
