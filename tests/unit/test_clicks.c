/*
 * test_clicks.c - the click table (cache/ml_clicks.h, sync/ml_flush.h): exact counts, a
 * flush that loses nothing and counts nothing twice when a write fails or
 * its writer dies between commit and clearing, and cells of links that are
 * gone reused without a click ever landing in another link's count.
 */
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <CUnit/CUnit.h>
#include <apr_strings.h>
#include "../../cache/ml_clicks.h"
#include "../../sync/ml_flush.h"
#include "unit_helpers.h"
#include "unit_suites.h"

/* A database with links a, b, c (ids 1, 2, 3) and a click table whose
 * cells 0, 1, 2 count for them. */
typedef struct {
    ut_scratch scratch;
    const char *path;
    ml_store *store;
    ml_clicks *clicks;
} fixture;

static int fixture_open(fixture *f, apr_uint32_t cells)
{
    const char *slugs[] = {"a", "b", "c"};
    int i;

    if (!ut_scratch_open(&f->scratch)) {
        return 0;
    }
    f->path = ut_path(&f->scratch, "clicks.db");
    if (ml_store_open(&f->store, f->path, ML_STORE_CREATE, f->scratch.pool)
        || ml_store_init(f->store)
        || ml_clicks_create(&f->clicks, cells, f->scratch.pool)) {
        return 0;
    }
    for (i = 0; i < 3; i++) {
        ml_link link = {0};
        link.slug = slugs[i];
        link.url = "https://example.com/";
        if (ml_store_add(f->store, &link, f->scratch.pool) != APR_SUCCESS
            || ml_clicks_new_cell(f->clicks, link.id, 0) != (apr_uint32_t)i) {
            return 0;
        }
    }
    return 1;
}

static apr_int64_t stored_clicks(fixture *f, const char *slug)
{
    ml_link link;

    if (ml_store_get(f->store, slug, &link, NULL, f->scratch.pool)) {
        return -1;
    }
    return link.clicks;
}

static void count(fixture *f, apr_uint32_t cell, int times)
{
    while (times-- > 0) {
        ml_clicks_count(f->clicks, cell, 1700000000);
    }
}

static void test_flush_writes_exact_counts(void)
{
    fixture f;
    apr_uint64_t flushed = 0;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    count(&f, 0, 5);
    count(&f, 1, 3);
    CU_ASSERT_EQUAL(ml_clicks_pending(f.clicks, 0), 5);
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000001, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(flushed, 8);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a"), 5);
    CU_ASSERT_EQUAL(stored_clicks(&f, "b"), 3);
    CU_ASSERT_EQUAL(stored_clicks(&f, "c"), 0);
    CU_ASSERT_EQUAL(ml_clicks_pending(f.clicks, 0), 0);
    /* A second flush with nothing new adds nothing. */
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000002, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(flushed, 0);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a"), 5);
    ut_scratch_close(&f.scratch);
}

/* More clicked links than the flush hands the store at once (512): each
 * hand-over must land, the last partial one too. */
static void test_flush_of_many_links_is_exact(void)
{
    enum { LINKS = 1300 };
    fixture f;
    apr_uint64_t flushed = 0, total = 0, stored = 0;
    int i, wrong = 0;

    CU_ASSERT_FATAL(fixture_open(&f, 2 * LINKS));
    for (i = 0; i < LINKS; i++) {
        ml_link link = {0};
        link.slug = apr_psprintf(f.scratch.pool, "many%d", i);
        link.url = "https://example.com/many";
        CU_ASSERT_FATAL(ml_store_add(f.store, &link, f.scratch.pool) == APR_SUCCESS);
        count(&f, ml_clicks_new_cell(f.clicks, link.id, 0), i % 7);
        total += (apr_uint64_t)(i % 7);
    }
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000001, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(flushed, total);
    for (i = 0; i < LINKS; i++) {
        wrong += stored_clicks(&f, apr_psprintf(f.scratch.pool, "many%d", i)) != i % 7;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(ml_store_click_total(f.store, &stored), APR_SUCCESS);
    CU_ASSERT_EQUAL(stored, total);
    ut_scratch_close(&f.scratch);
}

static void test_failed_write_keeps_counts(void)
{
    fixture f;
    ml_store *read_only;
    apr_uint64_t flushed = 0;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    count(&f, 0, 4);
    /* A read-only connection cannot write: the counts must stay. */
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&read_only, f.path, ML_STORE_READ,
                                        f.scratch.pool), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(ml_flush(f.clicks, read_only, 1700000001,
                                        &flushed), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_clicks_pending(f.clicks, 0), 4);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a"), 0);
    count(&f, 0, 2);                       /* counted while it was failing */
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000002, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(flushed, 6);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a"), 6);
    ut_scratch_close(&f.scratch);
}

/* The batch number this table last wrote, and under which key. */
static int last_batch(fixture *f, char *key, size_t key_size,
                      apr_int64_t *batch)
{
    sqlite3 *db;
    sqlite3_stmt *query;
    int found = 0;

    if (sqlite3_open(f->path, &db) != SQLITE_OK) {
        return 0;
    }
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM minilink_meta", -1,
                           &query, NULL) == SQLITE_OK
        && sqlite3_step(query) == SQLITE_ROW) {
        snprintf(key, key_size, "%s", (const char *)sqlite3_column_text(query, 0));
        *batch = sqlite3_column_int64(query, 1);
        found = 1;
    }
    sqlite3_finalize(query);
    sqlite3_close(db);
    return found;
}

static void test_committed_batch_is_not_written_twice(void)
{
    fixture f;
    ml_store *read_only;
    apr_uint64_t flushed = 0;
    char key[64], *sql;
    apr_int64_t batch = 0;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    count(&f, 1, 1);
    CU_ASSERT_EQUAL_FATAL(ml_flush(f.clicks, f.store, 1700000001,
                                          &flushed), APR_SUCCESS);
    CU_ASSERT_FATAL(last_batch(&f, key, sizeof(key), &batch));
    /* The next batch (batch + 1) carries 7 clicks but its writer "dies"
     * after committing and before clearing: we make the failed attempt
     * leave it open, then commit its effect by hand, as the dead writer
     * would have. */
    count(&f, 0, 7);
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&read_only, f.path, ML_STORE_READ,
                                        f.scratch.pool), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(ml_flush(f.clicks, read_only, 1700000002,
                                        &flushed), APR_SUCCESS);
    sql = apr_psprintf(f.scratch.pool,
                       "UPDATE links SET clicks = clicks + 7 WHERE slug = 'a';"
                       "UPDATE minilink_meta SET value = %" APR_INT64_T_FMT
                       " WHERE key = '%s'", batch + 1, key);
    CU_ASSERT_EQUAL_FATAL(ut_sql(f.path, sql, NULL), SQLITE_OK);
    count(&f, 0, 2);                       /* new clicks after the "crash" */
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000003, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(flushed, 2);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a"), 9);     /* 7 once, then 2 */
    CU_ASSERT_EQUAL(stored_clicks(&f, "b"), 1);
    ut_scratch_close(&f.scratch);
}

#define COUNTING_THREADS 4
#define CLICKS_PER_THREAD 200000

typedef struct {
    fixture *f;
    atomic_int done;             /* set by the main thread when counting ends */
} flusher_state;

static void *count_many(void *data)
{
    fixture *f = data;
    int i;

    for (i = 0; i < CLICKS_PER_THREAD; i++) {
        ml_clicks_count(f->clicks, (apr_uint32_t)(i % 3), 1700000000);
        ml_clicks_note_lookup(f->clicks, i % 2 ? ML_LOOKUP_HIT : ML_LOOKUP_MISS);
    }
    return NULL;
}

static void *flush_while_counting(void *data)
{
    flusher_state *state = data;
    ml_store *store;
    apr_uint64_t flushed;

    /* Its own connection, as the refresher process has. */
    if (ml_store_open(&store, state->f->path, ML_STORE_WRITE,
                      state->f->scratch.pool) != APR_SUCCESS) {
        return NULL;
    }
    while (!atomic_load(&state->done)) {
        ml_flush(state->f->clicks, store, 1700000001, &flushed);
    }
    return NULL;
}

static void test_concurrent_counting_is_exact(void)
{
    fixture f;
    flusher_state state;
    pthread_t counters[COUNTING_THREADS], flusher;
    ml_clicks_stats stats;
    apr_uint64_t flushed;
    int i;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    state.f = &f;
    atomic_init(&state.done, 0);
    pthread_create(&flusher, NULL, flush_while_counting, &state);
    for (i = 0; i < COUNTING_THREADS; i++) {
        pthread_create(&counters[i], NULL, count_many, &f);
    }
    for (i = 0; i < COUNTING_THREADS; i++) {
        pthread_join(counters[i], NULL);
    }
    atomic_store(&state.done, 1);
    pthread_join(flusher, NULL);
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000002, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a") + stored_clicks(&f, "b")
                    + stored_clicks(&f, "c"),
                    (apr_int64_t)COUNTING_THREADS * CLICKS_PER_THREAD);
    ml_clicks_stats_get(f.clicks, &stats);
    CU_ASSERT_EQUAL(stats.lookups, (apr_uint64_t)COUNTING_THREADS * CLICKS_PER_THREAD);
    CU_ASSERT_EQUAL(stats.hits + stats.misses, stats.lookups);
    CU_ASSERT_EQUAL(stats.hits, (apr_uint64_t)COUNTING_THREADS * CLICKS_PER_THREAD / 2);
    ut_scratch_close(&f.scratch);
}

static void test_full_table_has_no_cell(void)
{
    fixture f;

    CU_ASSERT_FATAL(fixture_open(&f, 3));          /* a, b, c take them all */
    CU_ASSERT_EQUAL(ml_clicks_cells_used(f.clicks), 3);
    CU_ASSERT_EQUAL(ml_clicks_new_cell(f.clicks, 99, 0), ML_CLICKS_NO_CELL);
    CU_ASSERT_TRUE(ml_clicks_counts_for(f.clicks, 2, 3));
    ut_scratch_close(&f.scratch);
}

/* ---- reusing the cells of links that are gone ------------------------- */

/* Adds a link to the fixture's database; its id. */
static apr_int64_t add_link(fixture *f, const char *slug)
{
    ml_link link = {0};

    link.slug = slug;
    link.url = "https://example.com/";
    return ml_store_add(f->store, &link, f->scratch.pool) == APR_SUCCESS
           ? link.id : -1;
}

/*
 * A released cell takes no more clicks through its old handle, keeps those
 * it had for its link until a flush writes them, and only then counts for
 * another link - through a new handle.
 */
static void test_released_cell_reused_after_its_clicks_are_written(void)
{
    fixture f;
    apr_uint64_t flushed = 0;
    apr_uint32_t d_cell, e_cell;
    apr_int64_t d, e;

    CU_ASSERT_FATAL(fixture_open(&f, 4));          /* a, b, c: cells 0-2 */
    d = add_link(&f, "d");
    e = add_link(&f, "e");
    count(&f, 0, 2);
    ml_clicks_release(f.clicks, 0);                /* "a" left its table */
    CU_ASSERT_FALSE(ml_clicks_counts_for(f.clicks, 0, 1));
    CU_ASSERT_EQUAL(ml_clicks_count(f.clicks, 0, 1700000000), 0);
    ml_clicks_release(f.clicks, 0);                /* twice: no harm */
    /* Its clicks are not written yet: it is not handed out. */
    ml_clicks_reclaim(f.clicks);
    d_cell = ml_clicks_new_cell(f.clicks, d, 0);
    CU_ASSERT_EQUAL(d_cell, 3);                    /* the last unused one */
    CU_ASSERT_EQUAL(ml_clicks_new_cell(f.clicks, e, 0), ML_CLICKS_NO_CELL);
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000001, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(flushed, 2);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a"), 2);
    /* Now it is, with a handle of its own. */
    e_cell = ml_clicks_new_cell(f.clicks, e, 0);
    CU_ASSERT_NOT_EQUAL_FATAL(e_cell, ML_CLICKS_NO_CELL);
    CU_ASSERT_NOT_EQUAL(e_cell, 0);
    CU_ASSERT_TRUE(ml_clicks_counts_for(f.clicks, e_cell, e));
    CU_ASSERT_EQUAL(ml_clicks_cells_used(f.clicks), 4);
    CU_ASSERT_EQUAL(ml_clicks_count(f.clicks, 0, 1700000002), 0);   /* old */
    CU_ASSERT_EQUAL(ml_clicks_count(f.clicks, e_cell, 1700000002), 1);
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000003, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(stored_clicks(&f, "a"), 2);
    CU_ASSERT_EQUAL(stored_clicks(&f, "e"), 1);
    ut_scratch_close(&f.scratch);
}

/* A released cell with no clicks to write is reusable at once. */
static void test_released_cell_without_clicks_reclaimed_at_once(void)
{
    fixture f;
    ml_clicks_stats stats;
    apr_uint32_t cell;
    apr_int64_t d;

    CU_ASSERT_FATAL(fixture_open(&f, 3));
    d = add_link(&f, "d");
    CU_ASSERT_EQUAL(ml_clicks_new_cell(f.clicks, d, 0), ML_CLICKS_NO_CELL);
    ml_clicks_release(f.clicks, 1);
    CU_ASSERT_EQUAL(ml_clicks_count(f.clicks, 1, 1700000000), 0);
    ml_clicks_stats_get(f.clicks, &stats);
    CU_ASSERT_EQUAL(stats.cells, 3);
    CU_ASSERT_EQUAL(stats.cells_live, 2);
    CU_ASSERT_EQUAL(stats.stale_clicks, 1);
    CU_ASSERT_TRUE(ml_clicks_has_released(f.clicks));
    ml_clicks_reclaim(f.clicks);
    CU_ASSERT_FALSE(ml_clicks_has_released(f.clicks));
    cell = ml_clicks_new_cell(f.clicks, d, 0);
    CU_ASSERT_NOT_EQUAL(cell, ML_CLICKS_NO_CELL);
    CU_ASSERT_TRUE(ml_clicks_counts_for(f.clicks, cell, d));
    CU_ASSERT_FALSE(ml_clicks_counts_for(f.clicks, 1, 2));
    ml_clicks_stats_get(f.clicks, &stats);
    CU_ASSERT_EQUAL(stats.cells_live, 3);
    ut_scratch_close(&f.scratch);
}

/* Clicks a failed flush left in flight keep the cell for its link until
 * a flush writes them. */
static void test_cell_with_clicks_in_flight_waits(void)
{
    fixture f;
    ml_store *read_only;
    apr_uint64_t flushed = 0;
    apr_int64_t d;

    CU_ASSERT_FATAL(fixture_open(&f, 3));
    d = add_link(&f, "d");
    count(&f, 2, 3);
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&read_only, f.path, ML_STORE_READ,
                                        f.scratch.pool), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(ml_flush(f.clicks, read_only, 1700000001,
                                        &flushed), APR_SUCCESS);
    ml_clicks_release(f.clicks, 2);
    ml_clicks_reclaim(f.clicks);
    CU_ASSERT_EQUAL(ml_clicks_new_cell(f.clicks, d, 0), ML_CLICKS_NO_CELL);
    CU_ASSERT_NOT_EQUAL(ml_flush(f.clicks, read_only, 1700000002,
                                        &flushed), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_clicks_new_cell(f.clicks, d, 0), ML_CLICKS_NO_CELL);
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000003, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(stored_clicks(&f, "c"), 3);
    CU_ASSERT_NOT_EQUAL(ml_clicks_new_cell(f.clicks, d, 0), ML_CLICKS_NO_CELL);
    ut_scratch_close(&f.scratch);
}

/* One cell handed out a thousand times: never the same handle twice, and
 * a click through any earlier one is dropped. */
static void test_handles_never_repeat(void)
{
    enum { ROUNDS = 1000 };
    fixture f;
    apr_uint32_t handles[ROUNDS];
    apr_uint64_t flushed;
    apr_int64_t d;
    int i, j, repeated = 0, landed = 0;

    CU_ASSERT_FATAL(fixture_open(&f, 4));
    d = add_link(&f, "d");
    handles[0] = ml_clicks_new_cell(f.clicks, d, 0);
    for (i = 1; i < ROUNDS; i++) {
        ml_clicks_release(f.clicks, handles[i - 1]);
        CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000000 + i,
                                        &flushed), APR_SUCCESS);
        handles[i] = ml_clicks_new_cell(f.clicks, d, 0);
    }
    for (i = 0; i < ROUNDS; i++) {
        for (j = 0; j < i; j++) {
            repeated += handles[i] == handles[j];
        }
        landed += ml_clicks_count(f.clicks, handles[i], 1700009999);
    }
    CU_ASSERT_EQUAL(repeated, 0);
    CU_ASSERT_EQUAL(landed, 1);                    /* the last one only */
    CU_ASSERT_TRUE(ml_clicks_counts_for(f.clicks, handles[ROUNDS - 1], d));
    ut_scratch_close(&f.scratch);
}

/*
 * Readers count through the handle they last looked up - some of them
 * long after, as a descheduled thread or a child of the last generation
 * would - while a writer keeps giving the table's few cells to new links
 * and releasing the old ones, and a flusher writes and reclaims.  Every
 * click a reader was told landed is in its own link's row, and no other.
 */
#define REUSE_SLOTS 4              /* slugs the readers look up */
#define REUSE_CELLS 8
#define REUSE_LINKS 600            /* links the writer goes through */
#define REUSE_READERS 3
#define REUSE_LOOKUPS 60000

typedef struct {
    fixture *f;
    apr_int64_t first_id;          /* links first_id .. + REUSE_LINKS - 1 */
    _Atomic apr_uint64_t current[REUSE_SLOTS];   /* id << 32 | handle */
    atomic_int writing_done;
    atomic_int reading_done;
} reuse_state;

typedef struct {
    reuse_state *state;
    int seed;
    apr_uint64_t landed[REUSE_LINKS];
} reuse_reader;

static void *read_and_count(void *data)
{
    reuse_reader *reader = data;
    reuse_state *state = reader->state;
    int i;

    for (i = 0; i < REUSE_LOOKUPS; i++) {
        apr_uint64_t seen = atomic_load(&state->current[(i + reader->seed)
                                                        % REUSE_SLOTS]);
        apr_int64_t id = (apr_int64_t)(seen >> 32);
        /* Now and then the count comes much later than the lookup. */
        if (i % 97 == 0) {
            sched_yield();
        }
        if (ml_clicks_count(state->f->clicks, (apr_uint32_t)seen, 1700000000)) {
            reader->landed[id - state->first_id]++;
        }
    }
    return NULL;
}

static void *give_cells_to_new_links(void *data)
{
    reuse_state *state = data;
    int n;

    for (n = REUSE_SLOTS; n < REUSE_LINKS; n++) {
        apr_int64_t id = state->first_id + n;
        apr_uint32_t handle;
        apr_uint64_t old;
        while ((handle = ml_clicks_new_cell(state->f->clicks, id, 0))
               == ML_CLICKS_NO_CELL) {
            sched_yield();                /* until a flush drains one */
        }
        old = atomic_exchange(&state->current[n % REUSE_SLOTS],
                              (apr_uint64_t)id << 32 | handle);
        ml_clicks_release(state->f->clicks, (apr_uint32_t)old);
    }
    atomic_store(&state->writing_done, 1);
    return NULL;
}

static void *flush_and_reclaim(void *data)
{
    reuse_state *state = data;
    ml_store *store;
    apr_uint64_t flushed;

    if (ml_store_open(&store, state->f->path, ML_STORE_WRITE,
                      state->f->scratch.pool) != APR_SUCCESS) {
        return NULL;
    }
    while (!atomic_load(&state->writing_done)
           || !atomic_load(&state->reading_done)) {
        ml_flush(state->f->clicks, store, 1700000001, &flushed);
    }
    return NULL;
}

static void test_reuse_never_misattributes_a_click(void)
{
    static reuse_reader readers[REUSE_READERS];
    static reuse_state state;
    pthread_t reader_threads[REUSE_READERS], writer, flusher;
    apr_uint64_t flushed, total = 0;
    fixture f;
    int i, n, wrong = 0;

    CU_ASSERT_FATAL(fixture_open(&f, REUSE_CELLS));
    memset(&state, 0, sizeof(state));
    state.f = &f;
    CU_ASSERT_EQUAL_FATAL(ml_store_write_begin(f.store), APR_SUCCESS);
    for (n = 0; n < REUSE_LINKS; n++) {
        apr_int64_t id = add_link(&f, apr_psprintf(f.scratch.pool, "r%d", n));
        CU_ASSERT_FATAL(id > 0);
        if (n == 0) {
            state.first_id = id;
        }
        CU_ASSERT_EQUAL_FATAL(id, state.first_id + n);
    }
    CU_ASSERT_EQUAL_FATAL(ml_store_write_commit(f.store), APR_SUCCESS);
    for (i = 0; i < REUSE_SLOTS; i++) {
        apr_uint32_t handle = ml_clicks_new_cell(f.clicks, state.first_id + i, 0);
        CU_ASSERT_NOT_EQUAL_FATAL(handle, ML_CLICKS_NO_CELL);
        atomic_init(&state.current[i],
                    (apr_uint64_t)(state.first_id + i) << 32 | handle);
    }
    pthread_create(&flusher, NULL, flush_and_reclaim, &state);
    pthread_create(&writer, NULL, give_cells_to_new_links, &state);
    for (i = 0; i < REUSE_READERS; i++) {
        memset(&readers[i], 0, sizeof(readers[i]));
        readers[i].state = &state;
        readers[i].seed = i;
        pthread_create(&reader_threads[i], NULL, read_and_count, &readers[i]);
    }
    for (i = 0; i < REUSE_READERS; i++) {
        pthread_join(reader_threads[i], NULL);
    }
    atomic_store(&state.reading_done, 1);
    pthread_join(writer, NULL);
    pthread_join(flusher, NULL);
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000002, &flushed),
                    APR_SUCCESS);
    for (n = 0; n < REUSE_LINKS; n++) {
        apr_uint64_t landed = 0;
        for (i = 0; i < REUSE_READERS; i++) {
            landed += readers[i].landed[n];
        }
        total += landed;
        wrong += stored_clicks(&f, apr_psprintf(f.scratch.pool, "r%d", n))
                 != (apr_int64_t)landed;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_TRUE(total > 0);
    ut_scratch_close(&f.scratch);
}


/* ---- visit limits ------------------------------------------------------ */

#define VISITING_THREADS 4
#define VISIT_LIMIT 1000

typedef struct {
    ml_clicks *clicks;
    apr_uint32_t cell;
    atomic_int taken;
} visitors;

static void *visit_many(void *data)
{
    visitors *v = data;
    int i;

    for (i = 0; i < VISIT_LIMIT; i++) {
        if (ml_clicks_take_visit(v->clicks, v->cell, VISIT_LIMIT)) {
            atomic_fetch_add(&v->taken, 1);
            ml_clicks_count(v->clicks, v->cell, 1700000000);
        }
    }
    return NULL;
}

/* Four threads asking for visits of a link limited to 1000, 250 of them
 * stored already: exactly 750 are taken. */
static void test_visits_exact_under_threads(void)
{
    fixture f;
    visitors v;
    pthread_t threads[VISITING_THREADS];
    int i;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    v.clicks = f.clicks;
    v.cell = ml_clicks_new_cell(f.clicks, 99, 250);
    atomic_init(&v.taken, 0);
    for (i = 0; i < VISITING_THREADS; i++) {
        pthread_create(&threads[i], NULL, visit_many, &v);
    }
    for (i = 0; i < VISITING_THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    CU_ASSERT_EQUAL(atomic_load(&v.taken), VISIT_LIMIT - 250);
    CU_ASSERT_EQUAL(ml_clicks_visits(f.clicks, v.cell), VISIT_LIMIT);
    CU_ASSERT_EQUAL(ml_clicks_pending(f.clicks, v.cell), VISIT_LIMIT - 250);
    ut_scratch_close(&f.scratch);
}

/* A flush does not lower the count; stored clicks of other hosts raise
 * it (plus what is pending here), never lower it; an old handle takes
 * nothing from the cell's next link. */
static void test_visits_raised_never_lowered(void)
{
    fixture f;
    apr_uint32_t cell, reused;
    apr_uint64_t flushed;
    ml_link link = {0};

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    link.slug = "limited";
    link.url = "https://example.com/";
    CU_ASSERT_EQUAL_FATAL(ml_store_add(f.store, &link, f.scratch.pool),
                          APR_SUCCESS);
    cell = ml_clicks_new_cell(f.clicks, link.id, 5);
    CU_ASSERT_TRUE(ml_clicks_take_visit(f.clicks, cell, 10));
    ml_clicks_count(f.clicks, cell, 1700000000);
    CU_ASSERT_EQUAL(ml_clicks_visits(f.clicks, cell), 6);
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000001, &flushed),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_clicks_visits(f.clicks, cell), 6);
    /* Another host stored 3 more: 1 + 3 on top of the 5 we started from,
     * and one pending here. */
    CU_ASSERT_TRUE(ml_clicks_take_visit(f.clicks, cell, 10));
    ml_clicks_count(f.clicks, cell, 1700000000);
    ml_clicks_raise_visits(f.clicks, cell, 5 + 1 + 3);
    CU_ASSERT_EQUAL(ml_clicks_visits(f.clicks, cell), 10);
    CU_ASSERT_FALSE(ml_clicks_take_visit(f.clicks, cell, 10));
    ml_clicks_raise_visits(f.clicks, cell, 2);
    CU_ASSERT_EQUAL(ml_clicks_visits(f.clicks, cell), 10);
    /* Released and written: reused for another link, which starts from
     * its own count; the old handle takes none of its visits. */
    ml_clicks_release(f.clicks, cell);
    CU_ASSERT_TRUE(ml_clicks_take_visit(f.clicks, cell, 1));
    CU_ASSERT_EQUAL(ml_flush(f.clicks, f.store, 1700000002, &flushed),
                    APR_SUCCESS);
    reused = ml_clicks_new_cell(f.clicks, 4242, 0);
    CU_ASSERT_EQUAL(reused & 0xF, cell & 0xF);
    CU_ASSERT_NOT_EQUAL(reused, cell);
    CU_ASSERT_TRUE(ml_clicks_take_visit(f.clicks, cell, 1));
    CU_ASSERT_EQUAL(ml_clicks_visits(f.clicks, reused), 0);
    CU_ASSERT_TRUE(ml_clicks_take_visit(f.clicks, reused, 1));
    CU_ASSERT_FALSE(ml_clicks_take_visit(f.clicks, reused, 1));
    ut_scratch_close(&f.scratch);
}

void add_clicks_suite(void)
{
    CU_pSuite suite = CU_add_suite("clicks", NULL, NULL);

    CU_add_test(suite, "flush writes exact counts", test_flush_writes_exact_counts);
    CU_add_test(suite, "a flush of 1300 links (several hand-overs) is exact",
                test_flush_of_many_links_is_exact);
    CU_add_test(suite, "a failed write keeps the counts",
                test_failed_write_keeps_counts);
    CU_add_test(suite, "a committed batch is not written twice",
                test_committed_batch_is_not_written_twice);
    CU_add_test(suite, "counting from 4 threads while flushing is exact",
                test_concurrent_counting_is_exact);
    CU_add_test(suite, "a full table gives no cell", test_full_table_has_no_cell);
    CU_add_test(suite, "a released cell is reused once its clicks are written",
                test_released_cell_reused_after_its_clicks_are_written);
    CU_add_test(suite, "a released cell without clicks is reclaimed at once",
                test_released_cell_without_clicks_reclaimed_at_once);
    CU_add_test(suite, "a cell with clicks in flight waits for them",
                test_cell_with_clicks_in_flight_waits);
    CU_add_test(suite, "a cell reused 1000 times: no handle twice",
                test_handles_never_repeat);
    CU_add_test(suite, "visits under a limit from 4 threads: exact",
                test_visits_exact_under_threads);
    CU_add_test(suite, "visits: raised by other hosts, never lowered",
                test_visits_raised_never_lowered);
    CU_add_test(suite, "reuse under readers, a writer and a flusher: exact",
                test_reuse_never_misattributes_a_click);
}
