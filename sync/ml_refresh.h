/*
 * ml_refresh.h - brings a live cache up to date with its database.
 *
 * Applies only the links changed since the cache's change number (the
 * database's change log says which), so one change to a million-link
 * database costs one row, not a million.  When the log no longer reaches
 * back that far, every row is compared instead, and only the links that
 * differ are rewritten.  Depends on APR and the store (links/) only.
 */
#ifndef ML_REFRESH_H
#define ML_REFRESH_H

#include "ml_load.h"
#include "../links/ml_store.h"

typedef struct {
    apr_uint32_t changed;    /* links added, replaced or removed */
    apr_uint32_t refused;    /* rows that break a rule (no longer served) */
    apr_uint32_t no_room;    /* links that did not fit in the table */
    int compared_all;        /* the change log did not reach back: full pass */
} ml_refresh_counts;

/*
 * One refresh, in one read snapshot of store.  A changed link keeps its
 * click cell; a new one (or a slug whose row was replaced) gets a new cell
 * in clicks, which may be NULL for no counting.  The caller must be the only
 * writer of cache for the duration (it holds the writers' lock).  Readers
 * keep being served throughout.  On error the cache keeps every link it
 * had (some changes may already be applied; they are re-checked next time).
 * A link that does not fit is removed from the table, which is then marked
 * overflowed (see ml_cache_overflowed), and counted in counts->no_room.
 * Rows that break a rule are reported through skipped().  Every refresh
 * also raises the visit counts of links with a limit to the clicks the
 * database holds for them (other hosts' included).
 */
apr_status_t ml_refresh(ml_cache *cache, ml_store *store, ml_clicks *clicks,
                        apr_pool_t *pool, ml_load_skip_fn *skipped, void *ctx,
                        ml_refresh_counts *counts);

#endif /* ML_REFRESH_H */
