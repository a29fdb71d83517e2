/*
 * ml_clicks.h - click counters in shared memory, one table per database,
 * kept for the life of the httpd parent (across graceful restarts).
 *
 * A link's counter is a "cell", found by the handle its cache record
 * holds, so counting a click is one compare-and-swap with no lookup and no
 * lock.  The table outlives configuration generations so that the
 * children of the old and the new generation count into the same cells
 * during a graceful restart, and nothing is lost between them.  The cell
 * of a link that leaves its table is released and, once its clicks are
 * written, reused; a handle is never given out twice, so a click made
 * through an old one is dropped, never counted for another link (why that
 * is safe is told at the top of ml_clicks.c).
 *
 * Flushing (sync/ml_flush.h) moves counts to the database exactly once,
 * even when the process doing it is killed halfway, through this table's
 * batches.  Depends on APR only.
 */
#ifndef ML_CLICKS_H
#define ML_CLICKS_H

#include <apr_pools.h>

typedef struct ml_clicks ml_clicks;

/* The handle of a link that has no cell (the table was full). */
#define ML_CLICKS_NO_CELL 0xFFFFFFFFu

/* Bytes of shared memory one cell takes (ml_clicks.c): what counting adds
 * to every link loaded, in the click table's own segment. */
#define ML_CLICKS_CELL_BYTES 40

/* The least number of cells a table is made with by default. */
#define ML_CLICKS_MIN_CELLS (1u << 20)
/* The range of sizes a table may be given (MinilinkClickCells). */
#define ML_CLICKS_FEWEST_CELLS 16u
#define ML_CLICKS_MOST_CELLS 0x7FFFFFFFu

/*
 * A table of `cells` counters in a new anonymous segment (inherited by
 * every child forked later), destroyed with pool.  Pages are only touched
 * as cells are used, so an unused cell costs address space, not memory.
 */
apr_status_t ml_clicks_create(ml_clicks **clicks, apr_uint32_t cells,
                              apr_pool_t *pool);

/* The handle of a cell for link_id - a drained one of a link that is gone,
 * else one never used - or ML_CLICKS_NO_CELL when there is none; its
 * visit count starts at stored, the clicks the database holds for the
 * link.  Writers (any number, in any process). */
apr_uint32_t ml_clicks_new_cell(ml_clicks *clicks, apr_int64_t link_id,
                                apr_int64_t stored);

/* The link with this handle no longer counts here (it left its table):
 * clicks made through the handle from now on are dropped, and the cell is
 * reused once its clicks are written.  A handle released already is
 * ignored.  Writers. */
void ml_clicks_release(ml_clicks *clicks, apr_uint32_t handle);

/* Maps the pages of the cells in use into this process now (ml_prefault.h). */
void ml_clicks_prefault(const ml_clicks *clicks);

/* True if the handle still counts, and for this link. */
int ml_clicks_counts_for(const ml_clicks *clicks, apr_uint32_t handle,
                         apr_int64_t link_id);

/* How many cells were ever handed out (those below are looked at). */
apr_uint32_t ml_clicks_cells_used(const ml_clicks *clicks);

/* Every cell that counts for a link, for building a link -> handle map. */
typedef void ml_clicks_cell_fn(void *ctx, apr_uint32_t handle,
                               apr_int64_t link_id);
void ml_clicks_each_cell(const ml_clicks *clicks, ml_clicks_cell_fn *fn,
                         void *ctx);

/* One click through this handle at `now` (Unix seconds): 1 if counted, 0
 * if dropped (the handle was released).  Lock-free; any process. */
int ml_clicks_count(ml_clicks *clicks, apr_uint32_t handle, apr_int64_t now);

/*
 * Visits, for links with a limit (max visits).  A cell's visit count is the
 * clicks stored when it was handed out plus every one counted through it
 * since, flushed or not: it only grows, so the limit holds exactly across
 * every process that counts into the table.
 *
 * ml_clicks_take_visit() adds one if the count is below max, in one
 * compare-and-swap: 1 if it did, 0 when the limit is reached (nothing
 * counted).  A released handle (its link left the table) takes no visit
 * and gets 1, as its click is dropped anyway.  Lock-free; any process.
 */
int ml_clicks_take_visit(ml_clicks *clicks, apr_uint32_t handle,
                         apr_uint32_t max);
/* The handle's visit count (0 for a released handle). */
apr_uint32_t ml_clicks_visits(const ml_clicks *clicks, apr_uint32_t handle);
/* Clicks stored in the database that the count may not know of (other
 * hosts' flushed): the count becomes at least stored plus the clicks
 * still pending here.  Writers. */
void ml_clicks_raise_visits(ml_clicks *clicks, apr_uint32_t handle,
                            apr_int64_t stored);
/* The link a live handle counts for (its visit's link), or 0 if the
 * handle was released.  Lock-free; any process. */
apr_int64_t ml_clicks_link_of(const ml_clicks *clicks, apr_uint32_t handle);

/* Clicks counted in the handle's cell and not yet in the database. */
apr_uint64_t ml_clicks_pending(const ml_clicks *clicks, apr_uint32_t handle);

/* The same for every cell. */
apr_uint64_t ml_clicks_pending_total(const ml_clicks *clicks);

/* Lookup outcomes for the status page, summed over all processes. */
typedef struct {
    apr_uint64_t lookups, hits, misses;
    apr_uint64_t flush_errors;
    apr_int64_t last_flush_at;           /* Unix seconds; 0 = never */
    apr_uint32_t cells, cells_live;      /* the table's, and those counting */
    apr_uint64_t stale_clicks;           /* dropped: made through a released
                                          * handle */
} ml_clicks_stats;

typedef enum { ML_LOOKUP_HIT, ML_LOOKUP_MISS } ml_lookup_outcome;
void ml_clicks_note_lookup(ml_clicks *clicks, ml_lookup_outcome outcome);
void ml_clicks_stats_get(const ml_clicks *clicks, ml_clicks_stats *stats);

/*
 * The flusher's side (sync/ml_flush.c writes the counts; one flusher at a
 * time, under a lock).  Counts are moved into a numbered batch before they
 * are written, and stay there until the batch is known to be in the
 * database, which keeps the number under ml_clicks_batch_key(): if the
 * flusher dies between the commit and ml_clicks_batch_done(), the next one
 * finds the batch open and, seeing its number stored, does not write it
 * twice.
 */
const char *ml_clicks_batch_key(const ml_clicks *clicks);
/* 1 and the batch's number if a batch is open (its flusher died or failed). */
int ml_clicks_open_batch(const ml_clicks *clicks, apr_uint64_t *batch);
/* Opens a batch (or adds to the one left open) with every pending count;
 * returns its number and sets *total to the clicks in it. */
apr_uint64_t ml_clicks_batch_take(ml_clicks *clicks, apr_uint64_t *total);
/* Calls fn for each link with clicks in the open batch; stops at an error. */
typedef apr_status_t ml_clicks_batch_fn(void *ctx, apr_int64_t link_id,
                                        apr_uint32_t clicks,
                                        apr_uint32_t last_click_at);
apr_status_t ml_clicks_batch_each(const ml_clicks *clicks,
                                  ml_clicks_batch_fn *fn, void *ctx);
/* The open batch is in the database: it is closed, released cells without
 * clicks become reusable, and `now` is the last flush. */
void ml_clicks_batch_done(ml_clicks *clicks, apr_int64_t now);
/* A flush failed; the batch stays open for the next try. */
void ml_clicks_note_flush_error(ml_clicks *clicks);

/* Makes the cells released since the last flush or reclaim reusable now
 * if they have no clicks to write (the rest wait for the next flush).
 * Under the same lock as flushes; cheap when ml_clicks_has_released() is
 * false. */
int ml_clicks_has_released(const ml_clicks *clicks);
void ml_clicks_reclaim(ml_clicks *clicks);

/* Whether flushing is failing, shared by all processes so an outage is
 * logged once; returns the previous value. */
int ml_clicks_swap_failing(ml_clicks *clicks, int failing);
int ml_clicks_failing(const ml_clicks *clicks);

#endif /* ML_CLICKS_H */
