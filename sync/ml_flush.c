/*
 * ml_flush.c - writes the clicks counted in shared memory to the database.
 */
#include "ml_flush.h"

/* The store takes counts a few hundred at a time: PostgreSQL gets each
 * group as one statement (ml_store_pgsql.c), not a round trip per link. */
#define GROUP 512

typedef struct {
    ml_store *store;
    ml_store_clicks adds[GROUP];
    apr_size_t count;
} grouping;

static apr_status_t add_to_group(void *ctx, apr_int64_t link_id,
                                 apr_uint32_t clicks,
                                 apr_uint32_t last_click_at)
{
    grouping *group = ctx;
    ml_store_clicks *add = &group->adds[group->count++];

    add->link_id = link_id;
    add->clicks = clicks;
    add->last_click_at = last_click_at;
    if (group->count < GROUP) {
        return APR_SUCCESS;
    }
    group->count = 0;
    return ml_store_add_clicks(group->store, group->adds, GROUP);
}

/* The open batch's counts and its number, in one transaction. */
static apr_status_t commit_batch(ml_clicks *clicks, ml_store *store,
                                 apr_uint64_t batch)
{
    grouping group;
    apr_status_t rv = ml_store_write_begin(store);

    group.store = store;
    group.count = 0;
    if (rv == APR_SUCCESS) {
        rv = ml_clicks_batch_each(clicks, add_to_group, &group);
    }
    if (rv == APR_SUCCESS && group.count > 0) {
        rv = ml_store_add_clicks(store, group.adds, group.count);
    }
    if (rv == APR_SUCCESS) {
        rv = ml_store_meta_set(store, ml_clicks_batch_key(clicks),
                               (apr_int64_t)batch);
    }
    if (rv == APR_SUCCESS) {
        rv = ml_store_write_commit(store);
    }
    if (rv != APR_SUCCESS) {
        ml_store_write_rollback(store);
    }
    return rv;
}

apr_status_t ml_flush(ml_clicks *clicks, ml_store *store, apr_int64_t now,
                      apr_uint64_t *flushed)
{
    apr_uint64_t batch, total;
    apr_status_t rv;

    *flushed = 0;
    /* A batch left open: its flusher died or failed.  If the database has
     * its number, it was committed and only the clearing was missed. */
    if (ml_clicks_open_batch(clicks, &batch)) {
        apr_int64_t committed = 0;
        if ((rv = ml_store_meta_get(store, ml_clicks_batch_key(clicks),
                                    &committed)) != APR_SUCCESS) {
            ml_clicks_note_flush_error(clicks);
            return rv;
        }
        if ((apr_uint64_t)committed == batch) {
            ml_clicks_batch_done(clicks, now);
        }
    }
    batch = ml_clicks_batch_take(clicks, &total);
    if (total > 0 && (rv = commit_batch(clicks, store, batch)) != APR_SUCCESS) {
        ml_clicks_note_flush_error(clicks);
        return rv;
    }
    ml_clicks_batch_done(clicks, now);
    *flushed = total;
    return APR_SUCCESS;
}
