/*
 * ml_refresh.c - applies database changes to a live cache.
 */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "ml_refresh.h"

typedef struct {
    ml_cache *cache;
    ml_store *store;
    ml_clicks *clicks;
    apr_pool_t *pool;            /* cleared after each link */
    apr_hash_t *applied;         /* slugs read this refresh: once is enough */
    ml_load_skip_fn *skipped;
    void *ctx;
    ml_refresh_counts *counts;
} refresh_state;

/* A cell no record of this table will count in again is released, to be
 * reused once its clicks are written (ml_clicks.h). */
static void release(refresh_state *state, apr_uint32_t cell)
{
    if (state->clicks && cell != ML_CLICKS_NO_CELL) {
        ml_clicks_release(state->clicks, cell);
    }
}

/* Makes the table agree with one row (link NULL: the slug has no row). */
static apr_status_t apply(refresh_state *state, const char *slug,
                          const ml_link *link, const char *problem)
{
    ml_refresh_counts *counts = state->counts;
    /* The cell the slug's record counts in now; kept if it counts for this
     * very row (not for one deleted and made again with the same slug). */
    apr_uint32_t old = ml_cache_click_cell(state->cache, slug);
    apr_status_t rv;

    if (link != NULL && problem == NULL) {
        apr_uint32_t cell = state->clicks
                            && ml_clicks_counts_for(state->clicks, old, link->id)
                            ? old : ML_CLICKS_NO_CELL;
        /* A visit limit counts other hosts' clicks once they are stored. */
        if (cell != ML_CLICKS_NO_CELL && link->max_visits) {
            ml_clicks_raise_visits(state->clicks, cell, link->clicks);
        }
        if (ml_cache_holds(state->cache, link)
            && (state->clicks == NULL || cell != ML_CLICKS_NO_CELL)) {
            return APR_SUCCESS;
        }
        if (cell == ML_CLICKS_NO_CELL && state->clicks) {
            cell = ml_clicks_new_cell(state->clicks, link->id, link->clicks);
        }
        rv = ml_cache_put(state->cache, link, cell);
        if (rv != APR_ENOSPC) {
            counts->changed += rv == APR_SUCCESS;
            /* The cell the table no longer uses: the old record's, or the
             * new one that found no record. */
            if (cell != old) {
                release(state, rv == APR_SUCCESS ? old : cell);
            }
            return rv;
        }
        /* No room: an older version must not go on being served, and the
         * overflow mark sends lookups that miss to the database.  The
         * caller reports the count. */
        counts->no_room++;
        ml_cache_set_overflowed(state->cache);
        if (cell != old) {
            release(state, cell);
        }
    }
    else if (problem != NULL) {
        counts->refused++;
        state->skipped(state->ctx, slug, link ? link->id : 0, problem);
    }
    if (ml_cache_remove(state->cache, slug, strlen(slug)) == APR_SUCCESS) {
        counts->changed++;
        release(state, old);
    }
    return APR_SUCCESS;
}

/* A slug from the change log: read its row now, whatever the change was
 * (once a refresh: a change to a link's rules logs it several times). */
static apr_status_t apply_change(void *data, const char *slug)
{
    refresh_state *state = data;
    const char *problem = NULL;
    ml_link link;
    apr_status_t rv;

    if (apr_hash_get(state->applied, slug, APR_HASH_KEY_STRING)) {
        return APR_SUCCESS;
    }
    apr_hash_set(state->applied,
                 apr_pstrdup(apr_hash_pool_get(state->applied), slug),
                 APR_HASH_KEY_STRING, "");
    apr_pool_clear(state->pool);
    rv = ml_store_get(state->store, slug, &link, &problem, state->pool);
    if (rv == APR_ENOENT) {
        return apply(state, slug, NULL, NULL);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return apply(state, slug, &link, problem);
}

static apr_status_t apply_row(void *data, const ml_link *link,
                              const char *problem)
{
    refresh_state *state = data;

    if (link->slug == NULL) {
        return APR_SUCCESS;     /* cannot be in the table either */
    }
    return apply(state, link->slug, link, problem);
}

/* Second half of a full pass: drop what the database no longer has. */
static apr_status_t drop_if_gone(void *data, const char *slug, apr_size_t len,
                                 const ml_cache_entry *entry)
{
    char copy[ML_SLUG_MAX + 1];

    (void)entry;
    memcpy(copy, slug, len);
    copy[len] = '\0';
    return apply_change(data, copy);
}

/* A link with a visit limit: the clicks other hosts stored count here too
 * (ml_clicks_raise_visits()). */
static apr_status_t raise_visits(void *data, const char *slug,
                                 apr_int64_t stored)
{
    refresh_state *state = data;
    apr_uint32_t cell = ml_cache_click_cell(state->cache, slug);

    if (cell != ML_CACHE_NO_CELL) {
        ml_clicks_raise_visits(state->clicks, cell, stored);
    }
    return APR_SUCCESS;
}

apr_status_t ml_refresh(ml_cache *cache, ml_store *store, ml_clicks *clicks,
                        apr_pool_t *pool, ml_load_skip_fn *skipped, void *ctx,
                        ml_refresh_counts *counts)
{
    refresh_state state = {cache, store, clicks, NULL, NULL, skipped, ctx,
                           counts};
    apr_uint64_t seen = ml_cache_changes_seen(cache), newest = 0;
    int complete = 1;
    apr_status_t rv;

    memset(counts, 0, sizeof(*counts));
    if ((rv = ml_store_read_begin(store)) != APR_SUCCESS) {
        return rv;
    }
    rv = ml_store_change_seq(store, &newest);
    if (rv == APR_SUCCESS && newest != seen) {
        apr_pool_create(&state.pool, pool);
        state.applied = apr_hash_make(pool);
        rv = ml_store_changes_since(store, seen, apply_change, &state,
                                    &complete);
        if (rv == APR_SUCCESS && !complete) {
            counts->compared_all = 1;
            rv = ml_store_each(store, apply_row, &state);
            if (rv == APR_SUCCESS) {
                rv = ml_cache_each_link(cache, drop_if_gone, &state);
            }
        }
        apr_pool_destroy(state.pool);
    }
    /* Every time, changes or not: clicks are no changes. */
    if (rv == APR_SUCCESS && clicks) {
        rv = ml_store_each_limited(store, raise_visits, &state);
    }
    ml_store_read_end(store);
    if (rv == APR_SUCCESS) {
        ml_cache_set_changes_seen(cache, newest);
    }
    return rv;
}
