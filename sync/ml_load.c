/*
 * ml_load.c - builds a cache from a database, in one read snapshot.
 *
 * The snapshot matters: the table is sized from a count of the rows, and
 * the rows are then copied in; a link added between the two by the CLI
 * must not overflow the size just computed.
 */
#include <apr_strings.h>
#include "ml_load.h"
#include "../links/ml_store.h"

/*
 * Which cell each link already counts in: the click table outlives cache
 * generations, so a link keeps its cell across graceful restarts.  Built
 * from the table's cells (which name their link) into a scratch open-
 * addressing map for the load, then dropped.  A cell no row claimed is
 * that of a link gone since the last table was built: it is released.
 */
typedef struct {
    apr_int64_t *ids;            /* 0 = empty (row ids start at 1); NULL
                                  * when no cell is in use yet */
    apr_uint32_t *cells;         /* handles (ml_clicks.h) */
    unsigned char *claimed;      /* a row took the cell */
    apr_uint32_t bits;           /* size = 1 << bits */
    apr_uint32_t mask;           /* size - 1 */
} cell_map;

static apr_uint32_t map_slot(const cell_map *map, apr_int64_t id)
{
    /* Row ids are mostly dense and the loader reads them in order, so the
     * low bits index the map as they are: consecutive ids use consecutive
     * slots, a cache miss per line rather than per id (a hash that spread
     * them cost 1M misses for 1M links).  The bits above are mixed in, so
     * ids that agree in their low bits do not pile up in one run. */
    apr_uint64_t high = (apr_uint64_t)id >> map->bits;

    return (apr_uint32_t)((apr_uint64_t)id
                          + ((high * 0x9E3779B97F4A7C15ULL) >> 32))
           & map->mask;
}

static void map_add(void *data, apr_uint32_t cell, apr_int64_t id)
{
    cell_map *map = data;
    apr_uint32_t slot = map_slot(map, id);

    while (map->ids[slot] != 0 && map->ids[slot] != id) {
        slot = (slot + 1) & map->mask;
    }
    map->ids[slot] = id;          /* a later cell for the same id wins */
    map->cells[slot] = cell;
}

/* The cell the link counts in, now claimed; ML_CLICKS_NO_CELL if none. */
static apr_uint32_t map_claim(const cell_map *map, apr_int64_t id)
{
    apr_uint32_t slot;

    if (map->ids == NULL) {
        return ML_CLICKS_NO_CELL;
    }
    slot = map_slot(map, id);
    while (map->ids[slot] != 0) {
        if (map->ids[slot] == id) {
            map->claimed[slot] = 1;
            return map->cells[slot];
        }
        slot = (slot + 1) & map->mask;
    }
    return ML_CLICKS_NO_CELL;
}

/* Releases the cells no row claimed: their links are gone.  (Of two cells
 * with one link, the one not in the map is one of those.) */
static void release_unclaimed(const cell_map *map, ml_clicks *clicks)
{
    apr_uint32_t slot;

    for (slot = 0; map->ids && slot <= map->mask; slot++) {
        if (map->ids[slot] != 0 && !map->claimed[slot]) {
            ml_clicks_release(clicks, map->cells[slot]);
        }
    }
}

static void map_build(cell_map *map, const ml_clicks *clicks,
                      apr_uint32_t links, apr_pool_t *pool)
{
    apr_uint32_t cells = ml_clicks_cells_used(clicks), size = 16;

    if (cells == 0) {            /* a new table: every link gets a new cell */
        map->ids = NULL;
        return;
    }
    for (map->bits = 4; size < 2 * (cells > links ? cells : links);
         map->bits++) {
        size *= 2;
    }
    map->ids = apr_pcalloc(pool, size * sizeof(*map->ids));
    map->cells = apr_palloc(pool, size * sizeof(*map->cells));
    map->claimed = apr_pcalloc(pool, size);
    map->mask = size - 1;
    ml_clicks_each_cell(clicks, map_add, map);
}

typedef struct {
    ml_cache *cache;
    ml_clicks *clicks;
    cell_map map;
    ml_load_counts *counts;
    ml_load_skip_fn *skipped;
    void *ctx;
} fill_state;

static apr_status_t fill_row(void *data, const ml_link *link,
                             const char *problem)
{
    fill_state *state = data;
    apr_uint32_t cell = ML_CLICKS_NO_CELL;

    if (problem == NULL && state->clicks) {
        cell = map_claim(&state->map, link->id);
        /* Released meanwhile (by a child of the last generation that saw
         * the row go and come back): a new one. */
        if (!ml_clicks_counts_for(state->clicks, cell, link->id)) {
            cell = ml_clicks_new_cell(state->clicks, link->id, link->clicks);
        }
        /* Kept: other hosts' clicks may be stored since it was made. */
        else if (link->max_visits) {
            ml_clicks_raise_visits(state->clicks, cell, link->clicks);
        }
    }
    if (problem == NULL
        && ml_cache_append(state->cache, link, cell) != APR_SUCCESS) {
        problem = "no room left in the cache";   /* cannot happen when sized */
    }
    if (problem) {
        state->counts->skipped++;
        state->skipped(state->ctx, link->slug, link->id, problem);
    }
    else {
        state->counts->loaded++;
    }
    return APR_SUCCESS;
}

apr_status_t ml_load(ml_cache **cache, const char *db_path,
                     unsigned int headroom_percent, int any_case,
                     ml_clicks **clicks,
                     apr_pool_t *clicks_pool, apr_pool_t *pool,
                     ml_load_skip_fn *skipped, void *ctx,
                     ml_load_counts *counts, const char **error)
{
    apr_pool_t *scratch, *segment_pool;
    ml_store *store;
    ml_cache_geometry geometry;
    apr_uint32_t links = 0;
    apr_uint64_t text_bytes = 0, changes_seen = 0;
    fill_state state;
    apr_status_t rv;

    *cache = NULL;
    *error = NULL;
    counts->loaded = counts->skipped = 0;
    counts->schema = 0;
    /* The store lives in a scratch pool: destroying it closes the file.
     * The segment gets a pool of its own so a failed load frees it now
     * rather than at the next restart. */
    apr_pool_create(&scratch, pool);
    apr_pool_create(&segment_pool, pool);
    rv = ml_store_open(&store, db_path, ML_STORE_READ, scratch);
    if (rv == APR_SUCCESS && (rv = ml_store_read_begin(store)) == APR_SUCCESS) {
        rv = ml_store_summary(store, &links, &text_bytes);
        if (rv == APR_SUCCESS) {
            rv = ml_store_change_seq(store, &changes_seen);
        }
        if (rv == APR_SUCCESS) {
            counts->schema = ml_store_schema(store);
            geometry = ml_cache_plan(links, text_bytes, headroom_percent);
            geometry.any_case = any_case;
            rv = ml_cache_create(&state.cache, &geometry, segment_pool);
            if (rv != APR_SUCCESS) {
                char reason[120];
                *error = apr_psprintf(pool, "%s: cannot create %" APR_SIZE_T_FMT
                                      " bytes of shared memory for %u links: %s",
                                      ml_store_location_label(db_path, pool),
                                      ml_cache_segment_size(&geometry),
                                      links, apr_strerror(rv, reason,
                                                          sizeof(reason)));
            }
        }
        if (rv == APR_SUCCESS && clicks && *clicks == NULL) {
            apr_uint64_t cells = (apr_uint64_t)links * 4;
            rv = ml_clicks_create(clicks, cells < ML_CLICKS_MIN_CELLS
                                          ? ML_CLICKS_MIN_CELLS
                                          : cells > 0xFFFFFFF0u ? 0xFFFFFFF0u
                                          : (apr_uint32_t)cells, clicks_pool);
            if (rv != APR_SUCCESS) {
                *error = apr_psprintf(pool, "%s: cannot create the shared "
                                      "click counters",
                                      ml_store_location_label(db_path, pool));
            }
        }
        if (rv == APR_SUCCESS) {
            state.clicks = clicks ? *clicks : NULL;
            if (state.clicks) {
                map_build(&state.map, state.clicks, links, scratch);
            }
            state.counts = counts;
            state.skipped = skipped;
            state.ctx = ctx;
            rv = ml_store_each_served(store, fill_row, &state);
            if (rv == APR_SUCCESS && state.clicks) {
                release_unclaimed(&state.map, state.clicks);
            }
        }
        /* Appended row by row, indexed in one pass (ml_cache.h: faster). */
        if (rv == APR_SUCCESS
            && (rv = ml_cache_index(state.cache)) != APR_SUCCESS) {
            *error = apr_psprintf(pool, "%s: no room in the cache for every "
                                  "link read", db_path);
        }
        ml_store_read_end(store);
    }
    if (rv != APR_SUCCESS && *error == NULL) {
        *error = apr_pstrdup(pool, ml_store_error(store));
    }
    apr_pool_destroy(scratch);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(segment_pool);
        return rv;
    }
    /* Refreshes go on from the change this snapshot included. */
    ml_cache_set_changes_seen(state.cache, changes_seen);
    *cache = state.cache;
    return APR_SUCCESS;
}
