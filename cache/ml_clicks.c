/*
 * ml_clicks.c - click counters in shared memory.
 *
 * Layout of one segment (offsets from its base; no pointers):
 *
 *   0              +----------------------------------------+
 *                  | ml_clicks_header (128 bytes)           |  capacity, next cell,
 *                  |                                        |  flush batch, key
 *   128            +----------------------------------------+
 *                  | stats stripes: 16 x 64 bytes           |  lookups/hits/misses,
 *                  |                                        |  one cache line each
 *   1152           +----------------------------------------+
 *                  | cells[capacity]: 24 bytes each         |  handed out in order,
 *                  |   link_id | pending | in_flight |      |  never reused
 *                  |   last_click_at | unused               |
 *                  +----------------------------------------+
 *
 * pending: clicks counted and not yet flushed (atomic add by any process).
 * in_flight: clicks taken from pending by a flush that has not yet been
 * confirmed committed (only the flusher touches it, under a lock).
 *
 * Statistics are striped: with one counter, every request on every core
 * would write the same cache line; with 16, processes and threads mostly
 * write their own.
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
#include "ml_prefault.h"

#define HEADER_BYTES 128u
#define STRIPES 16u
#define STRIPE_BYTES 64u
#define CELLS_AT (HEADER_BYTES + STRIPES * STRIPE_BYTES)
#define KEY_BYTES 8u

typedef struct {
    apr_uint32_t capacity;
    _Atomic apr_uint32_t next_cell;      /* cells below are in use */
    apr_uint64_t batch;                  /* the flusher's: current batch */
    apr_uint32_t batch_open;             /* a batch is in flight */
    _Atomic apr_uint32_t failing;
    _Atomic apr_int64_t last_flush_at;
    _Atomic apr_uint64_t flush_errors;
    char meta_key[32];                   /* "clicks:" + 16 hex digits */
} ml_clicks_header;

typedef struct {
    _Atomic apr_uint64_t lookups;
    _Atomic apr_uint64_t hits;
    _Atomic apr_uint64_t misses;
} stats_stripe;

typedef struct {
    apr_int64_t link_id;
    _Atomic apr_uint32_t pending;        /* 32 bits: a flush comes every few
                                          * seconds, long before 4 billion */
    apr_uint32_t in_flight;
    _Atomic apr_uint32_t last_click_at;  /* Unix seconds (to 2106) */
    apr_uint32_t unused;
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
    apr_size_t size = CELLS_AT + (apr_size_t)cells * sizeof(click_cell);
    ml_clicks *clicks;
    apr_shm_t *shm;
    char *base;
    apr_status_t rv;

    *result = NULL;
    if ((rv = apr_generate_random_bytes(key, sizeof(key))) != APR_SUCCESS
        || (rv = apr_shm_create(&shm, size, NULL, pool)) != APR_SUCCESS) {
        return rv;
    }
    /* Anonymous mappings start zeroed: every counter is 0, no cell used. */
    base = apr_shm_baseaddr_get(shm);
    clicks = apr_pcalloc(pool, sizeof(*clicks));
    clicks->header = (ml_clicks_header *)base;
    clicks->stripes = base + HEADER_BYTES;
    clicks->cells = (click_cell *)(base + CELLS_AT);
    clicks->header->capacity = cells;
    /* The database remembers the last batch under a key of this table's
     * own, so two servers sharing a file do not confuse their batches. */
    write_meta_key(clicks->header->meta_key, key);
    *result = clicks;
    return APR_SUCCESS;
}

apr_uint32_t ml_clicks_new_cell(ml_clicks *clicks, apr_int64_t link_id)
{
    apr_uint32_t cell = atomic_load_explicit(&clicks->header->next_cell,
                                             memory_order_relaxed);

    if (cell >= clicks->header->capacity) {
        return ML_CLICKS_NO_CELL;
    }
    clicks->cells[cell].link_id = link_id;
    /* Release: a flusher that sees the new count sees the link id. */
    atomic_store_explicit(&clicks->header->next_cell, cell + 1,
                          memory_order_release);
    return cell;
}

apr_int64_t ml_clicks_link_of(const ml_clicks *clicks, apr_uint32_t cell)
{
    return clicks->cells[cell].link_id;
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
        fn(ctx, cell, clicks->cells[cell].link_id);
    }
}

void ml_clicks_count(ml_clicks *clicks, apr_uint32_t cell, apr_int64_t now)
{
    click_cell *counter = &clicks->cells[cell];

    /* Relaxed: a count needs no ordering with anything else; the flusher's
     * exchange takes every increment exactly once. */
    atomic_fetch_add_explicit(&counter->pending, 1, memory_order_relaxed);
    atomic_store_explicit(&counter->last_click_at, (apr_uint32_t)now,
                          memory_order_relaxed);
}

apr_uint64_t ml_clicks_pending(const ml_clicks *clicks, apr_uint32_t cell)
{
    const click_cell *counter = &clicks->cells[cell];

    return atomic_load_explicit(&counter->pending, memory_order_relaxed)
           + counter->in_flight;
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

/* Writes every in-flight count and the batch number in one transaction,
 * handing the store the counts a few hundred at a time. */
static apr_status_t commit_in_flight(ml_clicks *clicks, ml_store *store,
                                     apr_uint32_t used)
{
    ml_store_clicks adds[512];
    apr_size_t count = 0;
    apr_status_t rv = ml_store_write_begin(store);
    apr_uint32_t cell;

    for (cell = 0; rv == APR_SUCCESS && cell < used; cell++) {
        click_cell *counter = &clicks->cells[cell];
        if (counter->in_flight) {
            adds[count].link_id = counter->link_id;
            adds[count].clicks = counter->in_flight;
            adds[count].last_click_at =
                atomic_load_explicit(&counter->last_click_at, memory_order_relaxed);
            if (++count == sizeof(adds) / sizeof(adds[0])) {
                rv = ml_store_add_clicks(store, adds, count);
                count = 0;
            }
        }
    }
    if (rv == APR_SUCCESS) {
        rv = ml_store_add_clicks(store, adds, count);
    }
    if (rv == APR_SUCCESS) {
        rv = ml_store_meta_set(store, clicks->header->meta_key,
                               (apr_int64_t)clicks->header->batch);
    }
    if (rv == APR_SUCCESS) {
        rv = ml_store_write_commit(store);
    }
    if (rv != APR_SUCCESS) {
        ml_store_write_rollback(store);
    }
    return rv;
}

static void clear_in_flight(ml_clicks *clicks, apr_uint32_t used)
{
    apr_uint32_t cell;

    for (cell = 0; cell < used; cell++) {
        clicks->cells[cell].in_flight = 0;
    }
    clicks->header->batch_open = 0;
}

apr_status_t ml_clicks_flush(ml_clicks *clicks, ml_store *store,
                             apr_int64_t now, apr_uint64_t *flushed)
{
    ml_clicks_header *header = clicks->header;
    apr_uint32_t used = ml_clicks_cells_used(clicks), cell;
    apr_uint64_t total = 0;
    apr_status_t rv;

    *flushed = 0;
    /* A batch left open: its flusher died or failed.  If the database has
     * its number, it was committed and only the clearing was missed. */
    if (header->batch_open) {
        apr_int64_t committed = 0;
        if ((rv = ml_store_meta_get(store, header->meta_key, &committed))) {
            atomic_fetch_add_explicit(&header->flush_errors, 1, memory_order_relaxed);
            return rv;
        }
        if ((apr_uint64_t)committed == header->batch) {
            clear_in_flight(clicks, used);
        }
    }
    if (!header->batch_open) {
        header->batch++;
        header->batch_open = 1;
    }
    for (cell = 0; cell < used; cell++) {
        click_cell *counter = &clicks->cells[cell];
        counter->in_flight += atomic_exchange_explicit(&counter->pending, 0,
                                                       memory_order_relaxed);
        total += counter->in_flight;
    }
    if (total > 0 && (rv = commit_in_flight(clicks, store, used))) {
        atomic_fetch_add_explicit(&header->flush_errors, 1, memory_order_relaxed);
        return rv;
    }
    clear_in_flight(clicks, used);
    atomic_store_explicit(&header->last_flush_at, now, memory_order_relaxed);
    *flushed = total;
    return APR_SUCCESS;
}
