/*
 * test_drain.c - visits from the ring to SQLite (sync/ml_visits_drain.h and
 * the store's visits): every field written as recorded, the daily roll-up,
 * orphan visits, a failed drain that keeps its visits, a drainer that died
 * after its commit (nothing written twice), the visits of a deleted link,
 * retention in batches with the roll-up kept, and the queries the CLI and
 * the admin pages read.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include <apr_strings.h>
#include "../../sync/ml_visits_drain.h"
#include "unit_helpers.h"
#include "unit_suites.h"

#define DAY 86400
#define T0 (1700000000 - 1700000000 % DAY)   /* a midnight, UTC */

static const char *const chrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/120.0.0.0 Safari/537.36";
static const char *const googlebot =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/* A database with links a and b (ids 1, 2), a ring, the classifier. */
typedef struct {
    ut_scratch scratch;
    const char *path;
    ml_store *store;
    ml_visits *ring;
    ml_agents *agents;
} fixture;

static int fixture_open(fixture *f, apr_uint32_t slots)
{
    const char *slugs[] = {"a", "b"}, *error;
    int i;

    if (!ut_scratch_open(&f->scratch)) {
        return 0;
    }
    f->path = ut_path(&f->scratch, "visits.db");
    if (ml_store_open(&f->store, f->path, ML_STORE_CREATE, f->scratch.pool)
        || ml_store_init(f->store)
        || ml_visits_create(&f->ring, slots, f->scratch.pool)
        || ml_agents_load(&f->agents, ML_AGENT_REGEXES, f->scratch.pool,
                          &error)) {
        return 0;
    }
    for (i = 0; i < 2; i++) {
        ml_link link = {0};
        link.slug = slugs[i];
        link.url = "https://example.com/";
        if (ml_store_add(f->store, &link, f->scratch.pool) != APR_SUCCESS
            || link.id != i + 1) {
            return 0;
        }
    }
    return 1;
}

static void click(fixture *f, apr_int64_t link_id, apr_int64_t at,
                  const char *agent)
{
    ml_visit visit = {0};

    visit.kind = ML_VISIT_LINK;
    visit.link_id = link_id;
    visit.visited_at = at;
    visit.path = link_id == 1 ? "/l/a" : "/l/b";
    visit.referrer = "https://news.example.org/story?utm=x";
    visit.user_agent = agent;
    visit.redirect_url = "https://example.com/?q=1";
    visit.country = "nl";
    CU_ASSERT_TRUE(ml_visits_record(f->ring, 1, &visit));
}

static apr_uint64_t drain(fixture *f, ml_store *store)
{
    apr_uint64_t written = 0;

    CU_ASSERT_EQUAL(ml_visits_drain(f->ring, store, f->agents, T0 + 5 * DAY,
                                    &written, f->scratch.pool), APR_SUCCESS);
    return written;
}

static long sql_int(fixture *f, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *query;
    long value = -1;

    if (sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, sql, -1, &query, NULL) == SQLITE_OK) {
        if (sqlite3_step(query) == SQLITE_ROW) {
            value = (long)sqlite3_column_int64(query, 0);
        }
        sqlite3_finalize(query);
    }
    sqlite3_close(db);
    return value;
}

typedef struct {
    int count;
    ml_store_visit first;
    char referrer[256], agent[300], url[400], path[200], country[3], type[32];
} seen_visits;

static apr_status_t see(void *ctx, const ml_store_visit *visit)
{
    seen_visits *seen = ctx;

    if (seen->count++ == 0) {
        seen->first = *visit;
        snprintf(seen->referrer, sizeof(seen->referrer), "%s",
                 visit->referrer ? visit->referrer : "(null)");
        snprintf(seen->agent, sizeof(seen->agent), "%s",
                 visit->user_agent ? visit->user_agent : "(null)");
        snprintf(seen->url, sizeof(seen->url), "%s",
                 visit->redirect_url ? visit->redirect_url : "(null)");
        snprintf(seen->path, sizeof(seen->path), "%s", visit->visited_path);
        snprintf(seen->country, sizeof(seen->country), "%s",
                 visit->country ? visit->country : "");
        snprintf(seen->type, sizeof(seen->type), "%s",
                 visit->orphan_type ? visit->orphan_type : "(null)");
    }
    return APR_SUCCESS;
}

typedef struct {
    int count;
    ml_store_visit_day days[8];
} seen_days;

static apr_status_t see_day(void *ctx, const ml_store_visit_day *day)
{
    seen_days *seen = ctx;

    if (seen->count < 8) {
        seen->days[seen->count] = *day;
    }
    seen->count++;
    return APR_SUCCESS;
}

static void test_visits_written_as_recorded(void)
{
    fixture f;
    ml_store_visit_query query = { "a", 0, 0, 0, 0, 0, NULL, NULL };
    ml_visit orphan = {0};
    seen_visits seen;
    seen_days days;
    apr_uint64_t count;

    CU_ASSERT_FATAL(fixture_open(&f, 64));
    click(&f, 1, T0 + 10, chrome);
    click(&f, 1, T0 + 20, googlebot);
    click(&f, 1, T0 + DAY + 5, chrome);
    click(&f, 2, T0 + 30, chrome);
    orphan.kind = ML_VISIT_INVALID_SHORT_URL;
    orphan.visited_at = T0 + 40;
    orphan.path = "/l/nosuch";
    orphan.user_agent = googlebot;
    CU_ASSERT_TRUE(ml_visits_record(f.ring, 1, &orphan));
    CU_ASSERT_EQUAL(drain(&f, f.store), 5);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits"), 5);

    memset(&seen, 0, sizeof(seen));
    CU_ASSERT_EQUAL(ml_store_each_visit(f.store, &query, see, &seen),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(seen.count, 3);
    CU_ASSERT_EQUAL(seen.first.link_id, 1);
    CU_ASSERT_EQUAL(seen.first.visited_at, T0 + 10);
    CU_ASSERT_STRING_EQUAL(seen.referrer, "news.example.org/story");
    CU_ASSERT_STRING_EQUAL(seen.agent, chrome);
    CU_ASSERT_STRING_EQUAL(seen.url, "https://example.com/?q=1");
    CU_ASSERT_STRING_EQUAL(seen.path, "/l/a");
    CU_ASSERT_STRING_EQUAL(seen.country, "NL");
    CU_ASSERT_STRING_EQUAL(seen.type, "(null)");
    CU_ASSERT_EQUAL(seen.first.bot, 0);
    CU_ASSERT_PTR_NULL(seen.first.ip);
    CU_ASSERT_EQUAL(ml_store_count_visits(f.store, &query, &count), APR_SUCCESS);
    CU_ASSERT_EQUAL(count, 3);

    /* Newest first, a page of one after skipping one; since a time. */
    query.newest_first = 1;
    query.limit = 1;
    query.offset = 1;
    memset(&seen, 0, sizeof(seen));
    ml_store_each_visit(f.store, &query, see, &seen);
    CU_ASSERT_EQUAL(seen.count, 1);
    CU_ASSERT_EQUAL(seen.first.visited_at, T0 + 20);
    CU_ASSERT_EQUAL(seen.first.bot, 1);
    query.since = T0 + DAY;
    query.limit = query.offset = 0;
    CU_ASSERT_EQUAL(ml_store_count_visits(f.store, &query, &count), APR_SUCCESS);
    CU_ASSERT_EQUAL(count, 1);

    /* The orphans. */
    query.slug = NULL;
    query.since = 0;
    memset(&seen, 0, sizeof(seen));
    ml_store_each_visit(f.store, &query, see, &seen);
    CU_ASSERT_EQUAL(seen.count, 1);
    CU_ASSERT_STRING_EQUAL(seen.type, "invalid_short_url");
    CU_ASSERT_STRING_EQUAL(seen.url, "(null)");
    CU_ASSERT_EQUAL(seen.first.link_id, 0);

    /* The roll-up: a's two days, its bot counted. */
    memset(&days, 0, sizeof(days));
    CU_ASSERT_EQUAL(ml_store_each_visit_day(f.store, "a", 0, see_day, &days),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(days.count, 2);
    CU_ASSERT_EQUAL(days.days[0].day, T0);
    CU_ASSERT_EQUAL(days.days[0].clicks, 2);
    CU_ASSERT_EQUAL(days.days[0].bots, 1);
    CU_ASSERT_EQUAL(days.days[1].day, T0 + DAY);
    CU_ASSERT_EQUAL(days.days[1].clicks, 1);
    /* Added to, drain after drain. */
    click(&f, 1, T0 + 50, chrome);
    CU_ASSERT_EQUAL(drain(&f, f.store), 1);
    memset(&days, 0, sizeof(days));
    ml_store_each_visit_day(f.store, "a", T0 + 3600, see_day, &days);
    CU_ASSERT_EQUAL(days.days[0].clicks, 3);
    ut_scratch_close(&f.scratch);
}

static void test_failed_drain_keeps_visits(void)
{
    fixture f;
    ml_store *read_only;
    apr_uint64_t written = 9;
    ml_visits_stats stats;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    click(&f, 1, T0, chrome);
    click(&f, 2, T0, chrome);
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&read_only, f.path, ML_STORE_READ,
                                        f.scratch.pool), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(ml_visits_drain(f.ring, read_only, f.agents, T0,
                                        &written, f.scratch.pool),
                        APR_SUCCESS);
    CU_ASSERT_EQUAL(written, 0);
    ml_visits_stats_get(f.ring, &stats);
    CU_ASSERT_EQUAL(stats.pending, 2);
    CU_ASSERT_EQUAL(stats.drain_errors, 1);
    CU_ASSERT_EQUAL(drain(&f, f.store), 2);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits"), 2);
    ml_visits_stats_get(f.ring, &stats);
    CU_ASSERT_EQUAL(stats.pending, 0);
    ut_scratch_close(&f.scratch);
}

/* A drainer that committed and died before freeing the slots: what the
 * next one finds.  Its work is done by hand here, as it would have. */
static void test_committed_drain_not_written_twice(void)
{
    fixture f;
    ml_visit_record records[8];
    ml_store_visit visits[8];
    apr_uint64_t next;
    apr_size_t n, i;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    click(&f, 1, T0, chrome);
    click(&f, 1, T0, chrome);
    click(&f, 2, T0, chrome);
    n = ml_visits_read(f.ring, ml_visits_head(f.ring), records, 8, &next,
                       T0, ML_VISITS_GRACE_SECONDS);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    for (i = 0; i < n; i++) {
        memset(&visits[i], 0, sizeof(visits[i]));
        visits[i].link_id = records[i].link_id;
        visits[i].visited_at = records[i].visited_at;
        visits[i].visited_path = records[i].path;
    }
    CU_ASSERT_EQUAL(ml_store_write_begin(f.store), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_add_visits(f.store, visits, n, f.scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_meta_set(f.store, ml_visits_batch_key(f.ring),
                                      (apr_int64_t)next), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_write_commit(f.store), APR_SUCCESS);
    /* ... and died.  One more visit comes after. */
    click(&f, 2, T0 + 1, chrome);
    CU_ASSERT_EQUAL(drain(&f, f.store), 1);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits"), 4);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT sum(clicks) FROM visits_daily"), 4);
    CU_ASSERT_EQUAL(drain(&f, f.store), 0);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits"), 4);
    ut_scratch_close(&f.scratch);
}

static void test_deleted_link_takes_its_visits(void)
{
    fixture f;

    CU_ASSERT_FATAL(fixture_open(&f, 16));
    click(&f, 1, T0, chrome);
    click(&f, 2, T0, chrome);
    CU_ASSERT_EQUAL(drain(&f, f.store), 2);
    CU_ASSERT_EQUAL(ml_store_remove(f.store, "a"), APR_SUCCESS);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits WHERE link_id = 1"), 0);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits_daily WHERE link_id = 1"), 0);
    /* A click made before the deletion and drained after it: left out. */
    click(&f, 1, T0, chrome);
    click(&f, 2, T0, chrome);
    CU_ASSERT_EQUAL(drain(&f, f.store), 2);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits WHERE link_id = 1"), 0);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits_daily WHERE link_id = 1"), 0);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits WHERE link_id = 2"), 2);
    ut_scratch_close(&f.scratch);
}

static void test_retention_in_batches_keeps_the_roll_up(void)
{
    fixture f;
    apr_uint64_t deleted = 0, total = 0;
    int i, batches = 0;

    CU_ASSERT_FATAL(fixture_open(&f, 4096));
    for (i = 0; i < 2500; i++) {
        click(&f, 1, T0 + i, chrome);          /* old */
    }
    for (i = 0; i < 10; i++) {
        click(&f, 1, T0 + 2 * DAY + i, chrome);   /* recent */
    }
    CU_ASSERT_EQUAL(drain(&f, f.store), 2510);
    do {
        CU_ASSERT_EQUAL_FATAL(ml_store_prune_visits(f.store, T0 + DAY, 1000,
                                                    &deleted), APR_SUCCESS);
        total += deleted;
        batches++;
    } while (deleted == 1000);
    CU_ASSERT_EQUAL(total, 2500);
    CU_ASSERT_EQUAL(batches, 3);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT count(*) FROM visits"), 10);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT clicks FROM visits_daily WHERE day = "
                                "1699920000"), 2500);
    CU_ASSERT_EQUAL(sql_int(&f, "SELECT sum(clicks) FROM visits_daily"), 2510);
    ut_scratch_close(&f.scratch);
}

void add_drain_suite(void)
{
    CU_pSuite suite = CU_add_suite("drain", NULL, NULL);

    CU_add_test(suite, "visits written as recorded; queries; the roll-up",
                test_visits_written_as_recorded);
    CU_add_test(suite, "a failed drain keeps its visits", test_failed_drain_keeps_visits);
    CU_add_test(suite, "a drain committed before its drainer died: not twice",
                test_committed_drain_not_written_twice);
    CU_add_test(suite, "a deleted link takes its visits and roll-up",
                test_deleted_link_takes_its_visits);
    CU_add_test(suite, "retention: batches, the roll-up kept",
                test_retention_in_batches_keeps_the_roll_up);
}
