/*
 * ml_load.h - builds a cache from a database, in one read snapshot.
 *
 * Used by the module in post_config (startup and every graceful restart).
 * Depends on APR and the store (links/) only: problems are passed to a
 * callback, which the module turns into error-log lines.
 */
#ifndef ML_LOAD_H
#define ML_LOAD_H

#include "../cache/ml_cache.h"
#include "../cache/ml_clicks.h"

/* Told about each row that cannot be served; the load goes on without it. */
typedef void ml_load_skip_fn(void *ctx, const char *slug, apr_int64_t id,
                             const char *problem);

typedef struct {
    apr_uint32_t loaded;
    apr_uint32_t skipped;
    int schema;              /* the database's schema version */
} ml_load_counts;

/*
 * Opens db_path read-only, sizes a new cache from it (with headroom_percent
 * spare; any_case: looked up without regard to case, ml_cache.h) and
 * fills it.  Each link counts its clicks in its cell of *clicks
 * (the one it had, or a new one).  If *clicks is NULL a click table is made
 * in clicks_pool, with room for ML_CLICKS_MIN_CELLS or four times the links
 * loaded, whichever is more; clicks itself may be NULL for no counting.
 * On failure returns non-zero, sets *cache to NULL and *error to one
 * sentence naming the file and the reason.
 */
apr_status_t ml_load(ml_cache **cache, const char *db_path,
                     unsigned int headroom_percent, int any_case,
                     ml_clicks **clicks,
                     apr_pool_t *clicks_pool, apr_pool_t *pool,
                     ml_load_skip_fn *skipped, void *ctx,
                     ml_load_counts *counts, const char **error);

#endif /* ML_LOAD_H */
