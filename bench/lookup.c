/*
 * bench/lookup.c - what the shared-memory table costs: load time, bytes per
 * link, and instructions per lookup.  Used by bench/run.sh.
 *
 *   bench-lookup load DB
 *       Loads DB into a new table five times, as the module does at each
 *       graceful restart (with the click table an untimed first load made),
 *       and prints the median load time, the table's bytes and those of
 *       the click cells in use, and the raw slug+URL bytes.
 *
 *   valgrind --tool=callgrind --instr-atstart=no \
 *            --toggle-collect=ml_cache_lookup bench-lookup lookup DB COUNT
 *       Loads DB once, picks COUNT of its slugs at random (a fixed seed, so
 *       every run asks for the same slugs) and looks each up.
 *       Instrumentation is switched on only around that loop (loading a
 *       million links instrumented would take minutes), and
 *       --toggle-collect counts only what runs inside ml_cache_lookup,
 *       callees included: callgrind's total / COUNT is the instructions of
 *       one lookup.  Exits 1 if a slug was not found.
 *
 *   bench-lookup flush DB LINKS
 *       Counts one click on each of LINKS links spread over DB, in a click
 *       table of the module's own kind, and times the flush that writes
 *       them (ml_flush, as the refresher runs it); prints the median
 *       of three.  DB may be PostgreSQL (any MinilinkDatabase form): what a
 *       flush costs there is its round trips.
 *
 *   bench-lookup visits DB VISITS
 *       Records VISITS clicks' visits (a browser's user agent, a referrer,
 *       a country, the link's URL) spread over DB's links in a visits ring
 *       of the module's own kind, and times the drains that write them all
 *       (ml_visits_drain, as the refresher runs them: at most 16,384 a
 *       transaction); prints the time, the drains, and for SQLite the
 *       bytes the file grew by per visit (its pages before and after).
 *
 * DB holds the slugs bench/run.sh makes: s0000001 to sNNNNNNN, with ids
 * 1 to N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_time.h>
#include <sqlite3.h>
#include <valgrind/callgrind.h>
#include "../sync/ml_load.h"
#include "../sync/ml_flush.h"
#include "../sync/ml_visits_drain.h"
#include "../links/ml_store.h"

#define LOAD_ROUNDS 5
#define FLUSH_ROUNDS 3

static void skip_none(void *ctx, const char *slug, apr_int64_t id,
                      const char *problem)
{
    (void)ctx;
    fprintf(stderr, "bench-lookup: skipped row %s (%" APR_INT64_T_FMT "): %s\n",
            slug, id, problem);
}

/* Loads path into a new table in pool; clicks as ml_load() takes it. */
static ml_cache *load(const char *path, ml_clicks **clicks,
                      apr_pool_t *clicks_pool, apr_pool_t *pool,
                      apr_uint32_t *links)
{
    ml_cache *cache = NULL;
    ml_load_counts counts;
    const char *error;

    if (ml_load(&cache, path, ML_CACHE_HEADROOM_DEFAULT, 0, clicks, clicks_pool,
                pool, skip_none, NULL, &counts, &error) != APR_SUCCESS) {
        fprintf(stderr, "bench-lookup: %s\n", error);
        exit(1);
    }
    if (counts.loaded == 0 || counts.skipped != 0) {
        fprintf(stderr, "bench-lookup: %s: %u links loaded, %u skipped\n",
                path, counts.loaded, counts.skipped);
        exit(1);
    }
    *links = counts.loaded;
    return cache;
}

static int compare_times(const void *a, const void *b)
{
    apr_interval_time_t x = *(const apr_interval_time_t *)a;
    apr_interval_time_t y = *(const apr_interval_time_t *)b;
    return (x > y) - (x < y);
}

/* Prints: links N load_ms_median T table_bytes B click_bytes C raw_bytes R */
static int measure_load(const char *path, apr_pool_t *pool)
{
    apr_interval_time_t times[LOAD_ROUNDS];
    ml_cache_usage usage;
    ml_clicks *clicks = NULL;
    ml_store *store;
    apr_uint32_t links = 0, stored;
    apr_uint64_t text_bytes;
    apr_pool_t *first;
    int round;

    apr_pool_create(&first, pool);
    load(path, &clicks, pool, first, &links);
    apr_pool_destroy(first);
    for (round = 0; round < LOAD_ROUNDS; round++) {
        apr_pool_t *generation;
        apr_time_t start = apr_time_now();

        apr_pool_create(&generation, pool);
        ml_cache_usage_get(load(path, &clicks, pool, generation, &links),
                           &usage);
        times[round] = apr_time_now() - start;
        apr_pool_destroy(generation);
    }
    if (ml_store_open(&store, path, ML_STORE_READ, pool) != APR_SUCCESS
        || ml_store_summary(store, &stored, &text_bytes) != APR_SUCCESS) {
        fprintf(stderr, "bench-lookup: %s\n", ml_store_error(store));
        return 1;
    }
    qsort(times, LOAD_ROUNDS, sizeof(times[0]), compare_times);
    printf("links %u load_ms_median %.2f table_bytes %zu click_bytes %"
           APR_UINT64_T_FMT " raw_bytes %" APR_UINT64_T_FMT "\n", links,
           times[LOAD_ROUNDS / 2] / 1000.0, usage.segment_bytes,
           (apr_uint64_t)ml_clicks_cells_used(clicks) * ML_CLICKS_CELL_BYTES,
           text_bytes);
    return 0;
}

static int measure_lookups(const char *path, long count, apr_pool_t *pool)
{
    apr_uint32_t links;
    ml_cache *cache = load(path, NULL, NULL, pool, &links);
    ml_cache_entry entry;
    char (*slugs)[16];
    long found = 0, i;

    /* The slugs first, so the loop below does nothing but look up. */
    slugs = malloc((size_t)count * sizeof(*slugs));
    if (slugs == NULL) {
        return 1;
    }
    srandom(42);
    for (i = 0; i < count; i++) {
        snprintf(slugs[i], sizeof(slugs[i]), "s%07ld",
                 1 + random() % (long)links);
    }

    CALLGRIND_START_INSTRUMENTATION;
    for (i = 0; i < count; i++) {
        found += ml_cache_lookup(cache, slugs[i], strlen(slugs[i]), &entry);
    }
    CALLGRIND_STOP_INSTRUMENTATION;

    printf("links %u lookups %ld found %ld\n", links, count, found);
    free(slugs);
    return found == count ? 0 : 1;
}

/* Prints: flushed N flush_ms_median T */
static int measure_flush(const char *location, long count, apr_pool_t *pool)
{
    apr_interval_time_t times[FLUSH_ROUNDS];
    ml_store *store;
    ml_clicks *clicks;
    apr_uint32_t links = 0;
    apr_uint64_t text_bytes, flushed = 0;
    apr_int64_t now = apr_time_sec(apr_time_now());
    int round;
    long i;

    if (ml_store_open(&store, location, ML_STORE_WRITE, pool) != APR_SUCCESS
        || ml_store_summary(store, &links, &text_bytes) != APR_SUCCESS) {
        fprintf(stderr, "bench-lookup: %s\n", ml_store_error(store));
        return 1;
    }
    if (count > (long)links
        || ml_clicks_create(&clicks, (apr_uint32_t)count, pool) != APR_SUCCESS) {
        fprintf(stderr, "bench-lookup: %s: no room for %ld click cells\n",
                location, count);
        return 1;
    }
    /* Cells are handed out in order: cell i counts the i-th of them. */
    for (i = 0; i < count; i++) {
        ml_clicks_new_cell(clicks, 1 + i * ((long)links / count), 0);
    }
    for (round = 0; round < FLUSH_ROUNDS; round++) {
        apr_time_t start;
        for (i = 0; i < count; i++) {
            ml_clicks_count(clicks, (apr_uint32_t)i, now);
        }
        start = apr_time_now();
        if (ml_flush(clicks, store, now, &flushed) != APR_SUCCESS
            || flushed != (apr_uint64_t)count) {
            fprintf(stderr, "bench-lookup: flushing %ld clicks: %s\n", count,
                    ml_store_error(store));
            return 1;
        }
        times[round] = apr_time_now() - start;
    }
    qsort(times, FLUSH_ROUNDS, sizeof(times[0]), compare_times);
    printf("flushed %ld flush_ms_median %.1f\n", count,
           times[FLUSH_ROUNDS / 2] / 1000.0);
    return 0;
}

/* A SQLite file's pages (as a reader sees them, the WAL's included) and
 * page size; 0s if it cannot be read. */
static void sqlite_pages(const char *path, apr_int64_t *pages,
                         apr_int64_t *page_bytes)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *query;

    *pages = *page_bytes = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, "SELECT page_count, page_size FROM "
                              "pragma_page_count(), pragma_page_size()", -1,
                              &query, NULL) == SQLITE_OK) {
        if (sqlite3_step(query) == SQLITE_ROW) {
            *pages = sqlite3_column_int64(query, 0);
            *page_bytes = sqlite3_column_int64(query, 1);
        }
        sqlite3_finalize(query);
    }
    sqlite3_close(db);
}

/* Prints: visits N drain_ms T drains D bytes_per_visit B (B 0: not SQLite) */
static int measure_visits(const char *location, long count, apr_pool_t *pool)
{
    static const char agent[] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_uint64_t written, total = 0;
    apr_uint32_t links = 0;
    apr_uint64_t text_bytes;
    apr_int64_t pages_before = 0, pages_after = 0, page_bytes = 0;
    ml_visits *ring;
    ml_agents *agents;
    ml_store *store;
    const char *error;
    apr_time_t start;
    apr_pool_t *scratch;
    int drains = 0;
    long i;

    if (ml_store_open(&store, location, ML_STORE_WRITE, pool) != APR_SUCCESS
        || ml_store_summary(store, &links, &text_bytes) != APR_SUCCESS) {
        fprintf(stderr, "bench-lookup: %s\n", ml_store_error(store));
        return 1;
    }
    if (ml_visits_create(&ring, (apr_uint32_t)count, pool) != APR_SUCCESS
        || ml_agents_load(&agents, ML_AGENT_REGEXES, pool, &error)
           != APR_SUCCESS) {
        fprintf(stderr, "bench-lookup: no ring of %ld visits, or no user-agent "
                "regexes\n", count);
        return 1;
    }
    for (i = 0; i < count; i++) {
        long n = 1 + i * ((long)links / count);
        char path[32], url[96];
        ml_visit visit;
        snprintf(path, sizeof(path), "/ml/s%07ld", n);
        snprintf(url, sizeof(url),
                 "https://news.example.com/2026/11/%ld/a-longer-story-title", n);
        memset(&visit, 0, sizeof(visit));
        visit.kind = ML_VISIT_LINK;
        visit.link_id = n;
        visit.visited_at = now;
        visit.path = path;
        visit.referrer = "https://news.example.org/2026/11/30/a-story-that-links-here";
        visit.user_agent = agent;
        visit.redirect_url = url;
        visit.country = "DE";
        if (!ml_visits_record(ring, 1, &visit)) {
            fprintf(stderr, "bench-lookup: the ring is full\n");
            return 1;
        }
    }
    if (ml_store_location_is_file(location)) {
        sqlite_pages(location, &pages_before, &page_bytes);
    }
    apr_pool_create(&scratch, pool);
    start = apr_time_now();
    do {
        if (ml_visits_drain(ring, store, agents, now, &written, scratch)
            != APR_SUCCESS) {
            fprintf(stderr, "bench-lookup: draining: %s\n",
                    ml_store_error(store));
            return 1;
        }
        total += written;
        drains += written > 0;
        apr_pool_clear(scratch);
    } while (written > 0);
    printf("visits %" APR_UINT64_T_FMT " drain_ms %.1f drains %d",
           total, (apr_time_now() - start) / 1000.0, drains);
    if (ml_store_location_is_file(location)) {
        sqlite_pages(location, &pages_after, &page_bytes);
    }
    printf(" bytes_per_visit %.1f\n", total ? (double)(pages_after - pages_before)
                                              * (double)page_bytes / (double)total
                                            : 0.0);
    return total == (apr_uint64_t)count ? 0 : 1;
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    int status;

    if (!(argc == 3 && strcmp(argv[1], "load") == 0)
        && !(argc == 4 && strcmp(argv[1], "lookup") == 0 && atol(argv[3]) > 0)
        && !(argc == 4 && strcmp(argv[1], "flush") == 0 && atol(argv[3]) > 0)
        && !(argc == 4 && strcmp(argv[1], "visits") == 0 && atol(argv[3]) > 0)) {
        fprintf(stderr, "usage: %s load DB | lookup DB COUNT | flush DB LINKS"
                " | visits DB VISITS\n", argv[0]);
        return 2;
    }
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&pool, NULL);
    status = argc == 3 ? measure_load(argv[2], pool)
           : strcmp(argv[1], "flush") == 0 ? measure_flush(argv[2], atol(argv[3]), pool)
           : strcmp(argv[1], "visits") == 0 ? measure_visits(argv[2], atol(argv[3]), pool)
           : measure_lookups(argv[2], atol(argv[3]), pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return status;
}
