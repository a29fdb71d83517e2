/*
 * ml_clicks.c - click counters in shared memory, and reusing those of
 * links that are gone.
 *
 * Layout of one segment (offsets from its base; no pointers):
 *
 *   0              +----------------------------------------+
 *                  | ml_clicks_header (128 bytes)           |  capacity, next cell,
 *                  |                                        |  flush batch, key,
 *                  |                                        |  the two cell stacks
 *   128            +----------------------------------------+
 *                  | stats stripes: 16 x 64 bytes           |  lookups/hits/misses,
 *                  |                                        |  one cache line each
 *   1152           +----------------------------------------+
 *                  | cells[capacity]: 40 bytes each         |  handed out in order,
 *                  |   link_id | stamp:pending |          |  then reused
 *                  |   in_flight | last_click_at |        |
 *                  |   next | state | stamp:visits        |
 *                  +----------------------------------------+
 *
 * pending: clicks counted and not yet flushed (added by any process).
 * visits: for a link with a visit limit, the clicks stored when the cell
 * was handed out plus every click taken since; never lowered by a flush,
 * so checking and counting one is one compare-and-swap.  It carries the
 * stamp too, so a visit taken through an old handle cannot land on the
 * cell's next link.
 * in_flight: clicks taken from pending by a flush that has not yet been
 * confirmed committed (only the flusher touches it, under its lock).
 * Statistics are striped: with one counter, every request on every core
 * would write the same cache line; with 16, processes and threads mostly
 * write their own.
 *
 * Reusing cells.  A long-running server makes and deletes links; if cells
 * were never reused, the table would fill and every click of a new link
 * would be written to the database on the request path.  So the cell of a
 * link that leaves its table (deleted, or its slug now names another row)
 * is released, and handed to a new link once its last clicks are written.
 * The hazard: a reader may still hold the old link's cell - a thread
 * descheduled between its lookup and its count, or a child of the previous
 * generation still serving from the table it was forked with - and its
 * click must never land in the new link's counter.
 *
 * What makes that impossible is the stamp, the high half of the 64-bit
 * word whose low half is pending.  A link's handle (what its cache record
 * holds) is the cell's index and a number k in the bits the index leaves
 * free; the cell is live for that handle while its stamp is 2k.  Then:
 *
 *   - Counting is a compare-and-swap that adds 1 only if the stamp is 2k,
 *     so it is all-or-nothing against any change of the stamp: lock-free,
 *     and a click lands either in the link's own counter or nowhere.
 *   - Releasing turns the stamp to 2k+1 (keeping pending): from then on
 *     every click made through that handle is dropped (and counted as
 *     stale).  Such a click was served from a record of a link that is
 *     gone; it is never given to another link.
 *   - A released cell is reused only when it is "drained": the flusher,
 *     under its lock, has written the clicks counted before the release
 *     (pending and in_flight both 0, so link_id, which a flush writes to,
 *     can change).  It then goes on the free stack, and the next link
 *     that gets it turns the stamp to 2k+2: handle k+1.  Stamps only grow,
 *     and a cell whose k reaches the largest its handle bits can hold is
 *     retired instead of reused, so no handle is ever given out twice -
 *     however long a reader sleeps, its k can never match again.
 *
 * Cell states (state): UNUSED (never handed out), LIVE, QUEUED (released,
 * on the released stack), WAITING (released, not drained), FREE (on the
 * free stack), RETIRED.  Writers (under the writers' lock of their
 * generation - several generations may write at once) hand out, release
 * and push released cells; only the flusher, under its lock, drains them
 * and pushes free ones.  Both stacks are lock-free stacks (a version in
 * the head word: a cell popped and pushed again changes it).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_portable.h>
#include "ml_clicks.h"
#include "../util/ml_prefault.h"

#define HEADER_BYTES 128u
#define STRIPES 16u
#define STRIPE_BYTES 64u
#define CELLS_AT (HEADER_BYTES + STRIPES * STRIPE_BYTES)
#define KEY_BYTES 8u

#define PENDING_MASK APR_UINT64_C(0xFFFFFFFF)
#define STAMP(word) ((apr_uint32_t)((word) >> 32))
#define WORD(stamp, pending) ((apr_uint64_t)(stamp) << 32 | (pending))
/* A stack head: a version (changed by every push and pop) and the top
 * cell + 1 (0: empty). */
#define HEAD(version, top) ((apr_uint64_t)(version) << 32 | (top))

enum { CELL_UNUSED, CELL_LIVE, CELL_QUEUED, CELL_WAITING, CELL_FREE,
       CELL_RETIRED };

typedef struct {
    apr_uint32_t capacity;
    apr_uint32_t index_bits;             /* a handle's low bits: the cell */
    _Atomic apr_uint32_t next_cell;      /* cells below were handed out */
    _Atomic apr_uint32_t cells_live;     /* counting for a link now */
    _Atomic apr_uint32_t failing;
    apr_uint64_t batch;                  /* the flusher's: current batch */
    apr_uint32_t batch_open;             /* a batch is in flight */
    _Atomic apr_int64_t last_flush_at;
    _Atomic apr_uint64_t flush_errors;
    _Atomic apr_uint64_t stale_clicks;   /* dropped: their cell was released */
    _Atomic apr_uint64_t free_head;      /* cells to hand out again */
    _Atomic apr_uint64_t released_head;  /* cells released, not yet drained */
    char meta_key[32];                   /* "clicks:" + 16 hex digits */
} ml_clicks_header;

typedef struct {
    _Atomic apr_uint64_t lookups;
    _Atomic apr_uint64_t hits;
    _Atomic apr_uint64_t misses;
} stats_stripe;

typedef struct {
    _Atomic apr_int64_t link_id;         /* changes only while FREE */
    _Atomic apr_uint64_t counter;        /* stamp << 32 | pending: 32 bits of
                                          * pending, as a flush comes every
                                          * few seconds */
    apr_uint32_t in_flight;
    _Atomic apr_uint32_t last_click_at;  /* Unix seconds (to 2106) */
    _Atomic apr_uint32_t next;           /* the cell below it on its stack, + 1 */
    _Atomic apr_uint32_t state;
    _Atomic apr_uint64_t visits;         /* stamp << 32 | visit count */
} click_cell;

struct ml_clicks {
    ml_clicks_header *header;
    char *stripes;
    click_cell *cells;
};

typedef char header_fits[sizeof(ml_clicks_header) <= HEADER_BYTES ? 1 : -1];
typedef char stripe_fits[sizeof(stats_stripe) <= STRIPE_BYTES ? 1 : -1];
typedef char cell_is_packed[sizeof(click_cell) == ML_CLICKS_CELL_BYTES ? 1 : -1];

/* "clicks:" and the key in hex. */
static void write_meta_key(char *out, const unsigned char key[KEY_BYTES])
{
    static const char hex[] = "0123456789abcdef";
    unsigned int i;

    memcpy(out, "clicks:", 7);
    for (i = 0; i < KEY_BYTES; i++) {
        out[7 + 2 * i] = hex[key[i] >> 4];
        out[8 + 2 * i] = hex[key[i] & 15];
    }
    out[7 + 2 * KEY_BYTES] = '\0';
}

apr_status_t ml_clicks_create(ml_clicks **result, apr_uint32_t cells,
                              apr_pool_t *pool)
{
    unsigned char key[KEY_BYTES];
    apr_size_t size;
    ml_clicks *clicks;
    apr_uint32_t bits = 1;
    apr_shm_t *shm;
    char *base;
    apr_status_t rv;

    *result = NULL;
    if (cells > ML_CLICKS_MOST_CELLS) {
        cells = ML_CLICKS_MOST_CELLS;
    }
    size = CELLS_AT + (apr_size_t)cells * sizeof(click_cell);
    if ((rv = apr_generate_random_bytes(key, sizeof(key))) != APR_SUCCESS
        || (rv = apr_shm_create(&shm, size, NULL, pool)) != APR_SUCCESS) {
        return rv;
    }
    /* Anonymous mappings start zeroed: every counter is 0, every cell
     * UNUSED with stamp 0, both stacks empty. */
    base = apr_shm_baseaddr_get(shm);
    clicks = apr_pcalloc(pool, sizeof(*clicks));
    clicks->header = (ml_clicks_header *)base;
    clicks->stripes = base + HEADER_BYTES;
    clicks->cells = (click_cell *)(base + CELLS_AT);
    clicks->header->capacity = cells;
    /* The index bits hold every cell and are never all ones, so no handle
     * is ML_CLICKS_NO_CELL. */
    while ((APR_UINT64_C(1) << bits) <= cells) {
        bits++;
    }
    clicks->header->index_bits = bits;
    /* The database remembers the last batch under a key of this table's
     * own, so two servers sharing a file do not confuse their batches. */
    write_meta_key(clicks->header->meta_key, key);
    *result = clicks;
    return APR_SUCCESS;
}

/* ---- handles ----------------------------------------------------------- */

/* A handle is cell | k << index_bits; index_bits is at most 31, as a
 * table has at most ML_CLICKS_MOST_CELLS cells. */
static apr_uint32_t index_of(const ml_clicks *clicks, apr_uint32_t handle)
{
    return handle & ((1u << clicks->header->index_bits) - 1);
}

static apr_uint32_t k_of(const ml_clicks *clicks, apr_uint32_t handle)
{
    return handle >> clicks->header->index_bits;
}

/* The largest k a handle can hold: a cell that had it is not reused. */
static apr_uint32_t k_most(const ml_clicks *clicks)
{
    return (1u << (32 - clicks->header->index_bits)) - 1;
}

static apr_uint32_t handle_of(const ml_clicks *clicks, apr_uint32_t cell,
                              apr_uint32_t k)
{
    return cell | k << clicks->header->index_bits;
}

/* ---- the two stacks ---------------------------------------------------- */

static void push(ml_clicks *clicks, _Atomic apr_uint64_t *head,
                 apr_uint32_t cell)
{
    apr_uint64_t old = atomic_load_explicit(head, memory_order_relaxed);

    do {
        atomic_store_explicit(&clicks->cells[cell].next,
                              (apr_uint32_t)(old & PENDING_MASK),
                              memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(
                 head, &old, HEAD(STAMP(old) + 1, cell + 1),
                 memory_order_release, memory_order_relaxed));
}

/* The top cell, or ML_CLICKS_NO_CELL when empty. */
static apr_uint32_t pop(ml_clicks *clicks, _Atomic apr_uint64_t *head)
{
    apr_uint64_t old = atomic_load_explicit(head, memory_order_acquire);
    apr_uint32_t top, next;

    do {
        top = (apr_uint32_t)(old & PENDING_MASK);
        if (top == 0) {
            return ML_CLICKS_NO_CELL;
        }
        /* May be read after another process popped it: the version in
         * the head then differs, and the exchange fails. */
        next = atomic_load_explicit(&clicks->cells[top - 1].next,
                                    memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(
                 head, &old, HEAD(STAMP(old) + 1, next),
                 memory_order_acquire, memory_order_acquire));
    return top - 1;
}

/* ---- writers: handing out and releasing -------------------------------- */

/* A cell never handed out, or ML_CLICKS_NO_CELL when there is none left. */
static apr_uint32_t unused_cell(ml_clicks *clicks)
{
    apr_uint32_t cell = atomic_load_explicit(&clicks->header->next_cell,
                                             memory_order_relaxed);

    do {
        if (cell >= clicks->header->capacity) {
            return ML_CLICKS_NO_CELL;
        }
    } while (!atomic_compare_exchange_weak_explicit(
                 &clicks->header->next_cell, &cell, cell + 1,
                 memory_order_relaxed, memory_order_relaxed));
    return cell;
}

/* A visit count as the low half of a word holds it. */
static apr_uint32_t visit_count(apr_int64_t visits)
{
    return visits < 0 ? 0 : visits > 0xFFFFFFFF ? 0xFFFFFFFFu
                                                : (apr_uint32_t)visits;
}

apr_uint32_t ml_clicks_new_cell(ml_clicks *clicks, apr_int64_t link_id,
                                apr_int64_t stored)
{
    apr_uint32_t cell = pop(clicks, &clicks->header->free_head);
    apr_uint32_t stamp = 0;
    click_cell *counter;

    if (cell == ML_CLICKS_NO_CELL
        && (cell = unused_cell(clicks)) == ML_CLICKS_NO_CELL) {
        return ML_CLICKS_NO_CELL;
    }
    counter = &clicks->cells[cell];
    /* A free cell is drained and released (odd stamp, pending 0): no
     * click can land in it, and no flush looks at it, while it changes
     * hands. */
    stamp = STAMP(atomic_load_explicit(&counter->counter, memory_order_relaxed));
    stamp += stamp & 1;
    atomic_store_explicit(&counter->link_id, link_id, memory_order_relaxed);
    atomic_store_explicit(&counter->last_click_at, 0, memory_order_relaxed);
    atomic_store_explicit(&counter->counter, WORD(stamp, 0),
                          memory_order_relaxed);
    atomic_store_explicit(&counter->visits, WORD(stamp, visit_count(stored)),
                          memory_order_relaxed);
    /* Release: a flusher that sees the cell live sees its link and
     * stamp. */
    atomic_store_explicit(&counter->state, CELL_LIVE, memory_order_release);
    atomic_fetch_add_explicit(&clicks->header->cells_live, 1,
                              memory_order_relaxed);
    return handle_of(clicks, cell, stamp / 2);
}

void ml_clicks_release(ml_clicks *clicks, apr_uint32_t handle)
{
    click_cell *counter;
    apr_uint32_t k;
    apr_uint64_t word;

    if (handle == ML_CLICKS_NO_CELL
        || index_of(clicks, handle) >= clicks->header->capacity) {
        return;
    }
    counter = &clicks->cells[index_of(clicks, handle)];
    k = k_of(clicks, handle);
    word = atomic_load_explicit(&counter->counter, memory_order_relaxed);
    do {
        if (STAMP(word) != 2 * k) {
            return;               /* released already, or not this handle */
        }
    } while (!atomic_compare_exchange_weak_explicit(
                 &counter->counter, &word, WORD(2 * k + 1, word & PENDING_MASK),
                 memory_order_acq_rel, memory_order_relaxed));
    /* Only the one release that turned the stamp gets here.  Visits
     * through the handle stop too (take_visit() reads only this word). */
    atomic_store_explicit(&counter->visits, WORD(2 * k + 1, 0),
                          memory_order_relaxed);
    atomic_fetch_sub_explicit(&clicks->header->cells_live, 1,
                              memory_order_relaxed);
    atomic_store_explicit(&counter->state, CELL_QUEUED, memory_order_relaxed);
    push(clicks, &clicks->header->released_head, index_of(clicks, handle));
}

int ml_clicks_counts_for(const ml_clicks *clicks, apr_uint32_t handle,
                         apr_int64_t link_id)
{
    const click_cell *counter;

    if (handle == ML_CLICKS_NO_CELL
        || index_of(clicks, handle) >= clicks->header->capacity) {
        return 0;
    }
    counter = &clicks->cells[index_of(clicks, handle)];
    return STAMP(atomic_load_explicit(&counter->counter, memory_order_acquire))
               == 2 * k_of(clicks, handle)
           && atomic_load_explicit(&counter->link_id, memory_order_relaxed)
               == link_id;
}

apr_int64_t ml_clicks_link_of(const ml_clicks *clicks, apr_uint32_t handle)
{
    const click_cell *counter = &clicks->cells[index_of(clicks, handle)];
    apr_uint32_t stamp = 2 * k_of(clicks, handle);
    apr_int64_t link_id;

    /* As a seqlock's reader: link_id changes only while the stamp is odd
     * (released and drained) and every new owner raises it, so the same
     * even stamp before and after means link_id was this handle's. */
    if (STAMP(atomic_load_explicit(&counter->counter, memory_order_acquire))
        != stamp) {
        return 0;
    }
    link_id = atomic_load_explicit(&counter->link_id, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    return STAMP(atomic_load_explicit(&counter->counter, memory_order_relaxed))
           == stamp ? link_id : 0;
}

void ml_clicks_prefault(const ml_clicks *clicks)
{
    ml_prefault(clicks->header, CELLS_AT + (apr_size_t)ml_clicks_cells_used(clicks)
                                           * sizeof(click_cell));
}

apr_uint32_t ml_clicks_cells_used(const ml_clicks *clicks)
{
    return atomic_load_explicit(&clicks->header->next_cell,
                                memory_order_acquire);
}

void ml_clicks_each_cell(const ml_clicks *clicks, ml_clicks_cell_fn *fn,
                         void *ctx)
{
    apr_uint32_t used = ml_clicks_cells_used(clicks), cell;

    for (cell = 0; cell < used; cell++) {
        const click_cell *counter = &clicks->cells[cell];
        apr_uint32_t stamp;
        if (atomic_load_explicit(&counter->state, memory_order_acquire)
            != CELL_LIVE) {
            continue;
        }
        stamp = STAMP(atomic_load_explicit(&counter->counter,
                                           memory_order_relaxed));
        if (stamp % 2 == 0) {
            fn(ctx, handle_of(clicks, cell, stamp / 2),
               atomic_load_explicit(&counter->link_id, memory_order_relaxed));
        }
    }
}

/* ---- readers ----------------------------------------------------------- */

int ml_clicks_count(ml_clicks *clicks, apr_uint32_t handle, apr_int64_t now)
{
    click_cell *counter = &clicks->cells[index_of(clicks, handle)];
    apr_uint32_t stamp = 2 * k_of(clicks, handle);
    apr_uint64_t word = atomic_load_explicit(&counter->counter,
                                             memory_order_relaxed);

    /* Relaxed: the count needs no ordering with anything else; the
     * compare-and-swap makes it land with this stamp or not at all, and
     * the flusher's fetch-and takes every count exactly once.  A pending
     * count of 2^32 - 1 (a database unwritable for days) stops counting
     * rather than spill into the stamp. */
    do {
        if (STAMP(word) != stamp || (word & PENDING_MASK) == PENDING_MASK) {
            atomic_fetch_add_explicit(&clicks->header->stale_clicks, 1,
                                      memory_order_relaxed);
            return 0;
        }
    } while (!atomic_compare_exchange_weak_explicit(
                 &counter->counter, &word, word + 1,
                 memory_order_relaxed, memory_order_relaxed));
    atomic_store_explicit(&counter->last_click_at, (apr_uint32_t)now,
                          memory_order_relaxed);
    return 1;
}

int ml_clicks_take_visit(ml_clicks *clicks, apr_uint32_t handle,
                         apr_uint32_t max)
{
    click_cell *counter = &clicks->cells[index_of(clicks, handle)];
    apr_uint32_t stamp = 2 * k_of(clicks, handle);
    apr_uint64_t word = atomic_load_explicit(&counter->visits,
                                             memory_order_relaxed);

    /* Relaxed, as counting: the compare-and-swap alone decides, and the
     * Nth taker is the last one that gets 1. */
    do {
        if (STAMP(word) != stamp) {
            return 1;
        }
        if ((word & PENDING_MASK) >= max) {
            return 0;
        }
    } while (!atomic_compare_exchange_weak_explicit(
                 &counter->visits, &word, word + 1,
                 memory_order_relaxed, memory_order_relaxed));
    return 1;
}

apr_uint32_t ml_clicks_visits(const ml_clicks *clicks, apr_uint32_t handle)
{
    const click_cell *counter = &clicks->cells[index_of(clicks, handle)];
    apr_uint64_t word = atomic_load_explicit(&counter->visits,
                                             memory_order_relaxed);

    return STAMP(word) == 2 * k_of(clicks, handle)
           ? (apr_uint32_t)(word & PENDING_MASK) : 0;
}

void ml_clicks_raise_visits(ml_clicks *clicks, apr_uint32_t handle,
                            apr_int64_t stored)
{
    click_cell *counter = &clicks->cells[index_of(clicks, handle)];
    apr_uint32_t stamp = 2 * k_of(clicks, handle);
    apr_uint64_t word = atomic_load_explicit(&counter->visits,
                                             memory_order_relaxed);
    /* Pending only: clicks taken by a flush (in_flight) may already be in
     * stored, and counting them twice would close the link early. */
    apr_uint32_t at_least = visit_count(
        stored + (apr_int64_t)(atomic_load_explicit(&counter->counter,
                                                    memory_order_relaxed)
                               & PENDING_MASK));

    do {
        if (STAMP(word) != stamp || (word & PENDING_MASK) >= at_least) {
            return;
        }
    } while (!atomic_compare_exchange_weak_explicit(
                 &counter->visits, &word, WORD(stamp, at_least),
                 memory_order_relaxed, memory_order_relaxed));
}

apr_uint64_t ml_clicks_pending(const ml_clicks *clicks, apr_uint32_t handle)
{
    const click_cell *counter = &clicks->cells[index_of(clicks, handle)];

    return (atomic_load_explicit(&counter->counter, memory_order_relaxed)
            & PENDING_MASK) + counter->in_flight;
}

apr_uint64_t ml_clicks_pending_total(const ml_clicks *clicks)
{
    apr_uint32_t used = ml_clicks_cells_used(clicks), cell;
    apr_uint64_t total = 0;

    for (cell = 0; cell < used; cell++) {
        total += ml_clicks_pending(clicks, cell);
    }
    return total;
}

static stats_stripe *my_stripe(ml_clicks *clicks)
{
    /* Any spread will do; the thread id separates threads of one process,
     * the pid processes of prefork. */
    apr_uint64_t who = (apr_uint64_t)(apr_uintptr_t)apr_os_thread_current()
                       ^ ((apr_uint64_t)getpid() * 0x9E3779B97F4A7C15ULL);
    unsigned int stripe = (unsigned int)((who >> 7) ^ (who >> 29)) % STRIPES;

    return (stats_stripe *)(clicks->stripes + stripe * STRIPE_BYTES);
}

void ml_clicks_note_lookup(ml_clicks *clicks, ml_lookup_outcome outcome)
{
    stats_stripe *stripe = my_stripe(clicks);

    atomic_fetch_add_explicit(&stripe->lookups, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(outcome == ML_LOOKUP_HIT ? &stripe->hits
                                                       : &stripe->misses,
                              1, memory_order_relaxed);
}

void ml_clicks_stats_get(const ml_clicks *clicks, ml_clicks_stats *stats)
{
    unsigned int i;

    memset(stats, 0, sizeof(*stats));
    for (i = 0; i < STRIPES; i++) {
        stats_stripe *stripe = (stats_stripe *)(clicks->stripes + i * STRIPE_BYTES);
        stats->lookups += atomic_load_explicit(&stripe->lookups, memory_order_relaxed);
        stats->hits += atomic_load_explicit(&stripe->hits, memory_order_relaxed);
        stats->misses += atomic_load_explicit(&stripe->misses, memory_order_relaxed);
    }
    stats->cells_live = atomic_load_explicit(&clicks->header->cells_live,
                                             memory_order_relaxed);
    stats->cells = clicks->header->capacity;
    stats->stale_clicks = atomic_load_explicit(&clicks->header->stale_clicks,
                                               memory_order_relaxed);
    stats->flush_errors = atomic_load_explicit(&clicks->header->flush_errors,
                                               memory_order_relaxed);
    stats->last_flush_at = atomic_load_explicit(&clicks->header->last_flush_at,
                                                memory_order_relaxed);
}

int ml_clicks_failing(const ml_clicks *clicks)
{
    return (int)atomic_load_explicit(&clicks->header->failing,
                                     memory_order_acquire);
}

int ml_clicks_swap_failing(ml_clicks *clicks, int failing)
{
    return (int)atomic_exchange_explicit(&clicks->header->failing,
                                         (apr_uint32_t)failing,
                                         memory_order_acq_rel);
}

/* ---- the flusher: draining released cells ------------------------------ */

/* A released cell whose clicks are all written goes on the free stack (or
 * retires, its last handle used); one with clicks still to write waits for
 * the next flush.  Flusher only. */
static void drain(ml_clicks *clicks, apr_uint32_t cell)
{
    click_cell *counter = &clicks->cells[cell];
    apr_uint64_t word = atomic_load_explicit(&counter->counter,
                                             memory_order_acquire);

    if ((word & PENDING_MASK) != 0 || counter->in_flight != 0) {
        atomic_store_explicit(&counter->state, CELL_WAITING,
                              memory_order_relaxed);
        return;
    }
    if (STAMP(word) / 2 >= k_most(clicks)) {
        atomic_store_explicit(&counter->state, CELL_RETIRED,
                              memory_order_relaxed);
        return;
    }
    atomic_store_explicit(&counter->state, CELL_FREE, memory_order_relaxed);
    push(clicks, &clicks->header->free_head, cell);
}

int ml_clicks_has_released(const ml_clicks *clicks)
{
    return (atomic_load_explicit(&clicks->header->released_head,
                                 memory_order_relaxed) & PENDING_MASK) != 0;
}

void ml_clicks_reclaim(ml_clicks *clicks)
{
    apr_uint32_t cell;

    while ((cell = pop(clicks, &clicks->header->released_head))
           != ML_CLICKS_NO_CELL) {
        drain(clicks, cell);
    }
}

/* ---- the flusher: batches ----------------------------------------------- */

/* Whether the flusher looks at a cell: one that counts for a link, or did
 * and may still hold its clicks.  (A free cell may be changing hands.) */
static int flushed_state(const click_cell *counter)
{
    apr_uint32_t state = atomic_load_explicit(&counter->state,
                                              memory_order_acquire);

    return state != CELL_UNUSED && state != CELL_FREE;
}

const char *ml_clicks_batch_key(const ml_clicks *clicks)
{
    return clicks->header->meta_key;
}

int ml_clicks_open_batch(const ml_clicks *clicks, apr_uint64_t *batch)
{
    *batch = clicks->header->batch;
    return clicks->header->batch_open != 0;
}

apr_uint64_t ml_clicks_batch_take(ml_clicks *clicks, apr_uint64_t *total)
{
    ml_clicks_header *header = clicks->header;
    apr_uint32_t used = ml_clicks_cells_used(clicks), cell;

    if (!header->batch_open) {
        header->batch++;
        header->batch_open = 1;
    }
    *total = 0;
    for (cell = 0; cell < used; cell++) {
        click_cell *counter = &clicks->cells[cell];
        if (flushed_state(counter)) {
            /* Takes pending and keeps the stamp, in one step. */
            counter->in_flight += (apr_uint32_t)(atomic_fetch_and_explicit(
                &counter->counter, ~PENDING_MASK, memory_order_acquire)
                & PENDING_MASK);
        }
        *total += counter->in_flight;
    }
    return header->batch;
}

apr_status_t ml_clicks_batch_each(const ml_clicks *clicks,
                                  ml_clicks_batch_fn *fn, void *ctx)
{
    apr_uint32_t used = ml_clicks_cells_used(clicks), cell;
    apr_status_t rv = APR_SUCCESS;

    for (cell = 0; rv == APR_SUCCESS && cell < used; cell++) {
        const click_cell *counter = &clicks->cells[cell];
        if (counter->in_flight) {
            rv = fn(ctx, atomic_load_explicit(&counter->link_id,
                                              memory_order_relaxed),
                    counter->in_flight,
                    atomic_load_explicit(&counter->last_click_at,
                                         memory_order_relaxed));
        }
    }
    return rv;
}

void ml_clicks_batch_done(ml_clicks *clicks, apr_int64_t now)
{
    apr_uint32_t used = ml_clicks_cells_used(clicks), cell;

    for (cell = 0; cell < used; cell++) {
        clicks->cells[cell].in_flight = 0;
    }
    clicks->header->batch_open = 0;
    /* Every click counted so far is written: released cells are drained. */
    ml_clicks_reclaim(clicks);
    for (cell = 0; cell < used; cell++) {
        if (atomic_load_explicit(&clicks->cells[cell].state,
                                 memory_order_relaxed) == CELL_WAITING) {
            drain(clicks, cell);
        }
    }
    atomic_store_explicit(&clicks->header->last_flush_at, now,
                          memory_order_relaxed);
}

void ml_clicks_note_flush_error(ml_clicks *clicks)
{
    atomic_fetch_add_explicit(&clicks->header->flush_errors, 1,
                              memory_order_relaxed);
}
