/*
 * test_visits.c - the visits ring (cache/ml_visits.h): what a visit keeps
 * of each field, a full ring that drops and counts, visits read again
 * until they are released, a writer that died halfway through a slot (or
 * hangs there) given up without stopping the drain, and writers on four
 * threads against a drainer: every visit published is read exactly once,
 * whole, and every other one was counted as dropped (also run under
 * ThreadSanitizer: make unit-tsan).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <CUnit/CUnit.h>
#include <apr_strings.h>
#include "../../cache/ml_visits.h"
#include "unit_suites.h"

#define NOW 1700000000
#define GRACE 10

static apr_pool_t *new_pool(void)
{
    apr_pool_t *pool = NULL;

    apr_pool_create(&pool, NULL);
    return pool;
}

static ml_visit click(apr_int64_t link_id, const char *path)
{
    ml_visit visit = {0};

    visit.kind = ML_VISIT_LINK;
    visit.link_id = link_id;
    visit.visited_at = NOW;
    visit.path = path;
    visit.redirect_url = "https://example.com/";
    return visit;
}

/* Reads everything published from the head, and releases it. */
static apr_size_t drain(ml_visits *ring, ml_visit_record *out, apr_size_t max)
{
    apr_uint64_t next;
    apr_size_t n = ml_visits_read(ring, ml_visits_head(ring), out, max, &next,
                                  NOW, GRACE);

    ml_visits_release(ring, next, NOW);
    return n;
}

static void test_fields_kept_as_documented(void)
{
    static const unsigned char v4[4] = { 203, 0, 113, 77 };
    static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x85, 0xa3,
                                          1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    static const unsigned char mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                              0xff, 0xff, 192, 0, 2, 33 };
    apr_pool_t *pool = new_pool();
    ml_visits *ring;
    ml_visit_record *got = apr_pcalloc(pool, 8 * sizeof(*got));
    char long_agent[400];
    ml_visit visit;

    CU_ASSERT_EQUAL_FATAL(ml_visits_create(&ring, 16, pool), APR_SUCCESS);
    memset(long_agent, 'A', sizeof(long_agent) - 1);
    long_agent[sizeof(long_agent) - 1] = '\0';
    /* The UTF-8 "é" (2 bytes) straddles the cut at 256. */
    long_agent[ML_VISIT_USER_AGENT_MAX - 1] = (char)0xC3;
    long_agent[ML_VISIT_USER_AGENT_MAX] = (char)0xA9;

    visit = click(42, "/l/abc");
    visit.referrer = "https://user:pw@news.example.org:8443/a/b?q=secret#frag";
    visit.user_agent = long_agent;
    visit.country = "de";
    visit.ip_family = 4;
    visit.ip = v4;
    CU_ASSERT_TRUE(ml_visits_record(ring, 1, &visit));
    visit = click(0, "/l/x");
    visit.kind = ML_VISIT_INVALID_SHORT_URL;
    visit.redirect_url = NULL;
    visit.referrer = "android-app://com.example/path";
    visit.user_agent = "bad \x01 \xff bytes \xe2\x82";
    visit.country = "DEU";                 /* not two letters: none */
    visit.ip_family = 6;
    visit.ip = v6;
    CU_ASSERT_TRUE(ml_visits_record(ring, 1, &visit));
    visit = click(7, "/l/y");
    visit.referrer = "example.net/page";   /* no scheme */
    visit.ip_family = 6;
    visit.ip = mapped;
    CU_ASSERT_TRUE(ml_visits_record(ring, 1, &visit));

    CU_ASSERT_EQUAL_FATAL(drain(ring, got, 8), 3);
    CU_ASSERT_EQUAL(got[0].kind, ML_VISIT_LINK);
    CU_ASSERT_EQUAL(got[0].link_id, 42);
    CU_ASSERT_EQUAL(got[0].visited_at, NOW);
    CU_ASSERT_STRING_EQUAL(got[0].path, "/l/abc");
    CU_ASSERT_STRING_EQUAL(got[0].referrer, "news.example.org:8443/a/b");
    CU_ASSERT_EQUAL(strlen(got[0].user_agent), ML_VISIT_USER_AGENT_MAX - 1);
    CU_ASSERT_STRING_EQUAL(got[0].country, "DE");
    CU_ASSERT_STRING_EQUAL(got[0].ip, "203.0.113.0");
    CU_ASSERT_STRING_EQUAL(got[0].redirect_url, "https://example.com/");

    CU_ASSERT_EQUAL(got[1].kind, ML_VISIT_INVALID_SHORT_URL);
    CU_ASSERT_EQUAL(got[1].link_id, 0);
    CU_ASSERT_STRING_EQUAL(got[1].referrer, "com.example/path");
    CU_ASSERT_STRING_EQUAL(got[1].user_agent, "bad ? ? bytes ");
    CU_ASSERT_STRING_EQUAL(got[1].country, "");
    CU_ASSERT_STRING_EQUAL(got[1].ip, "2001:db8:85a3::");
    CU_ASSERT_STRING_EQUAL(got[1].redirect_url, "");

    CU_ASSERT_STRING_EQUAL(got[2].referrer, "example.net/page");
    CU_ASSERT_STRING_EQUAL(got[2].ip, "192.0.2.0");
    CU_ASSERT_STRING_EQUAL(got[2].user_agent, "");
    apr_pool_destroy(pool);
}

static void test_full_ring_drops_and_counts(void)
{
    apr_pool_t *pool = new_pool();
    ml_visit_record *got = apr_pcalloc(pool, 32 * sizeof(*got));
    ml_visits_stats stats;
    ml_visits *ring;
    ml_visit visit = click(1, "/l/a");
    apr_uint64_t next;
    int i, published = 0, started;

    CU_ASSERT_EQUAL_FATAL(ml_visits_create(&ring, 16, pool), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_visits_slots(ring), 16);
    for (i = 0; i < 20; i++) {
        visit.link_id = i + 1;
        published += ml_visits_record(ring, 1, &visit);
    }
    CU_ASSERT_EQUAL(published, 16);
    ml_visits_stats_get(ring, &stats);
    CU_ASSERT_EQUAL(stats.dropped, 4);
    CU_ASSERT_EQUAL(stats.recorded, 16);
    CU_ASSERT_EQUAL(stats.pending, 16);
    CU_ASSERT_EQUAL(ml_visits_dropped_since(ring, &started), 4);
    CU_ASSERT_TRUE(started);

    /* Read but not released (the commit failed): the slots stay taken,
     * and the same visits are read again. */
    CU_ASSERT_EQUAL(ml_visits_read(ring, ml_visits_head(ring), got, 32, &next,
                                   NOW, GRACE), 16);
    CU_ASSERT_FALSE(ml_visits_record(ring, 1, &visit));
    CU_ASSERT_EQUAL(ml_visits_read(ring, ml_visits_head(ring), got, 32, &next,
                                   NOW, GRACE), 16);
    CU_ASSERT_EQUAL(got[0].link_id, 1);
    CU_ASSERT_EQUAL(got[15].link_id, 16);
    /* Still dropping at the next look: the same episode. */
    CU_ASSERT_EQUAL(ml_visits_dropped_since(ring, &started), 1);
    CU_ASSERT_FALSE(started);

    /* Half released: room for 8 more, and the rest is read again. */
    ml_visits_release(ring, got[7].position + 1, NOW);
    for (i = 0; i < 9; i++) {
        visit.link_id = 100 + i;
        published += ml_visits_record(ring, 1, &visit);
    }
    CU_ASSERT_EQUAL(published, 24);
    CU_ASSERT_EQUAL(drain(ring, got, 32), 16);
    CU_ASSERT_EQUAL(got[0].link_id, 9);
    CU_ASSERT_EQUAL(got[8].link_id, 100);
    CU_ASSERT_EQUAL(got[15].link_id, 107);
    ml_visits_stats_get(ring, &stats);
    CU_ASSERT_EQUAL(stats.dropped, 6);
    CU_ASSERT_EQUAL(stats.written, 24);
    CU_ASSERT_EQUAL(stats.pending, 0);
    CU_ASSERT_EQUAL(stats.last_drain_at, NOW);
    /* The episode ended: the next drops start another. */
    CU_ASSERT_EQUAL(ml_visits_dropped_since(ring, &started), 1);
    CU_ASSERT_EQUAL(ml_visits_dropped_since(ring, &started), 0);
    CU_ASSERT_FALSE(started);
    for (i = 0; i < 17; i++) {
        ml_visits_record(ring, 1, &visit);
    }
    CU_ASSERT_EQUAL(ml_visits_dropped_since(ring, &started), 1);
    CU_ASSERT_TRUE(started);
    apr_pool_destroy(pool);
}

static void test_orphans_counted_by_kind(void)
{
    apr_pool_t *pool = new_pool();
    ml_visits_stats stats;
    ml_visits *ring;
    ml_visit visit = click(0, "/l/");
    int kind;

    CU_ASSERT_EQUAL_FATAL(ml_visits_create(&ring, 64, pool), APR_SUCCESS);
    for (kind = 1; kind < ML_VISIT_KINDS; kind++) {
        int n;
        visit.kind = (ml_visit_kind)kind;
        for (n = 0; n < kind; n++) {
            ml_visits_record(ring, 1, &visit);
        }
    }
    ml_visits_stats_get(ring, &stats);
    CU_ASSERT_EQUAL(stats.orphans[ML_VISIT_INVALID_SHORT_URL], 1);
    CU_ASSERT_EQUAL(stats.orphans[ML_VISIT_BASE_URL], 2);
    CU_ASSERT_EQUAL(stats.orphans[ML_VISIT_REGULAR_404], 3);
    CU_ASSERT_STRING_EQUAL(ml_visit_kind_names[ML_VISIT_BASE_URL], "base_url");
    apr_pool_destroy(pool);
}

/* Where the fault leaves a hanging writer: in its slot, alive. */
static void wait_forever(int signal_number)
{
    (void)signal_number;
    for (;;) {
        pause();
    }
}

/*
 * A writer that dies halfway through its slot: its user agent is a page
 * it may not read, so it is killed by SIGSEGV after it claimed the slot
 * and before it published it.  With hang set, it catches the signal and
 * waits there instead, alive: a writer that stopped.
 */
static pid_t writer_stuck_in_a_slot(ml_visits *ring, int hang)
{
    char *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    pid_t pid;

    if (page == MAP_FAILED) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        struct sigaction action;
        ml_visit visit = click(99, "/l/dies");
        memset(&action, 0, sizeof(action));
        action.sa_handler = SIG_DFL;
        if (hang) {
            action.sa_handler = wait_forever;
        }
        sigaction(SIGSEGV, &action, NULL);
        visit.user_agent = page;
        ml_visits_record(ring, (apr_uint32_t)getpid(), &visit);
        _exit(0);
    }
    munmap(page, 4096);
    return pid;
}

static void test_writer_dead_in_a_slot_is_given_up(void)
{
    apr_pool_t *pool = new_pool();
    ml_visit_record *got = apr_pcalloc(pool, 8 * sizeof(*got));
    ml_visits_stats stats;
    ml_visit visit = click(1, "/l/before");
    ml_visits *ring;
    apr_uint64_t next;
    int status = 0;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(ml_visits_create(&ring, 16, pool), APR_SUCCESS);
    CU_ASSERT_TRUE(ml_visits_record(ring, 1, &visit));
    pid = writer_stuck_in_a_slot(ring, 0);
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    visit = click(2, "/l/after");
    CU_ASSERT_TRUE(ml_visits_record(ring, 1, &visit));

    /* Its writer is gone: given up at once, the visit after it read. */
    CU_ASSERT_EQUAL(ml_visits_read(ring, ml_visits_head(ring), got, 8, &next,
                                   NOW, GRACE), 2);
    CU_ASSERT_EQUAL(got[0].link_id, 1);
    CU_ASSERT_EQUAL(got[1].link_id, 2);
    CU_ASSERT_EQUAL(next, 3);
    ml_visits_release(ring, next, NOW);
    ml_visits_stats_get(ring, &stats);
    CU_ASSERT_EQUAL(stats.lost, 1);
    CU_ASSERT_EQUAL(stats.written, 2);
    CU_ASSERT_EQUAL(stats.recorded, 2);
    CU_ASSERT_EQUAL(stats.pending, 0);
    apr_pool_destroy(pool);
}

static void test_writer_hanging_in_a_slot_is_waited_for_then_given_up(void)
{
    apr_pool_t *pool = new_pool();
    ml_visit_record *got = apr_pcalloc(pool, 8 * sizeof(*got));
    ml_visits_stats stats;
    ml_visit visit = click(1, "/l/before");
    ml_visits *ring;
    apr_uint64_t next;
    pid_t pid;
    int i;

    CU_ASSERT_EQUAL_FATAL(ml_visits_create(&ring, 16, pool), APR_SUCCESS);
    CU_ASSERT_TRUE(ml_visits_record(ring, 1, &visit));
    pid = writer_stuck_in_a_slot(ring, 1);
    CU_ASSERT_FATAL(pid > 0);
    /* Until it has claimed its slot: the tail moves to 2. */
    for (i = 0; i < 500; i++) {
        ml_visits_stats_get(ring, &stats);
        if (stats.recorded == 2) {
            break;
        }
        usleep(10000);
    }
    CU_ASSERT_EQUAL(stats.recorded, 2);
    visit = click(2, "/l/after");
    CU_ASSERT_TRUE(ml_visits_record(ring, 1, &visit));

    /* Alive: the drain waits at its slot... */
    CU_ASSERT_EQUAL(ml_visits_read(ring, 0, got, 8, &next, NOW, GRACE), 1);
    CU_ASSERT_EQUAL(next, 1);
    CU_ASSERT_EQUAL(ml_visits_read(ring, 0, got, 8, &next, NOW + GRACE - 1,
                                   GRACE), 1);
    /* ... for grace seconds, then gives it up. */
    CU_ASSERT_EQUAL(ml_visits_read(ring, 0, got, 8, &next, NOW + GRACE,
                                   GRACE), 2);
    CU_ASSERT_EQUAL(got[1].link_id, 2);
    ml_visits_release(ring, next, NOW + GRACE);
    ml_visits_stats_get(ring, &stats);
    CU_ASSERT_EQUAL(stats.lost, 1);
    CU_ASSERT_EQUAL(stats.written, 2);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    apr_pool_destroy(pool);
}

/*
 * Four writer threads record visits whose link id names the thread and a
 * sequence number and whose path repeats it, while a drainer reads and
 * releases in small groups.  The ring is small, so it is often full: a
 * writer whose visit was dropped (and counted) yields and records it
 * again, so every visit is published in the end and the ring goes round
 * many times, however the threads are scheduled.
 */
#define RACE_WRITERS 4
#define RACE_VISITS 20000
#define RACE_SLOTS 64

typedef struct {
    ml_visits *ring;
    atomic_int writers_done;
    apr_uint64_t dropped[RACE_WRITERS];
    unsigned char *seen;              /* [writer * RACE_VISITS + n] */
    apr_uint64_t read, torn, twice;
    int thread;
} race_state;

typedef struct {
    race_state *state;
    int writer;
} race_writer;

static void *write_visits(void *data)
{
    race_writer *me = data;
    char path[32];
    int n;

    for (n = 0; n < RACE_VISITS; n++) {
        ml_visit visit = click((apr_int64_t)me->writer << 32 | n, path);
        snprintf(path, sizeof(path), "/l/%d-%d", me->writer, n);
        while (!ml_visits_record(me->state->ring, (apr_uint32_t)getpid(),
                                 &visit)) {
            me->state->dropped[me->writer]++;
            sched_yield();
        }
    }
    atomic_fetch_add(&me->state->writers_done, 1);
    return NULL;
}

static void *drain_visits(void *data)
{
    race_state *state = data;
    ml_visit_record got[8];
    int last_round = 0;

    for (;;) {
        apr_size_t n, i;
        int done = atomic_load(&state->writers_done) == RACE_WRITERS;
        apr_uint64_t next;
        n = ml_visits_read(state->ring, ml_visits_head(state->ring), got, 8,
                           &next, NOW, GRACE);
        for (i = 0; i < n; i++) {
            int writer = (int)(got[i].link_id >> 32);
            int seq = (int)(got[i].link_id & 0xFFFFFFFF);
            char path[32];
            snprintf(path, sizeof(path), "/l/%d-%d", writer, seq);
            if (writer < 0 || writer >= RACE_WRITERS || seq < 0
                || seq >= RACE_VISITS || strcmp(path, got[i].path) != 0) {
                state->torn++;
                continue;
            }
            state->twice += state->seen[writer * RACE_VISITS + seq]++ > 0;
            state->read++;
        }
        ml_visits_release(state->ring, next, NOW);
        if (n == 0 && done) {
            /* One more look after the writers finished. */
            if (last_round++) {
                break;
            }
        }
    }
    return NULL;
}

static void test_writers_and_drainer_race(void)
{
    apr_pool_t *pool = new_pool();
    pthread_t writers[RACE_WRITERS], drainer;
    race_writer me[RACE_WRITERS];
    race_state state;
    ml_visits_stats stats;
    apr_uint64_t published = (apr_uint64_t)RACE_WRITERS * RACE_VISITS;
    apr_uint64_t dropped = 0;
    int i;

    memset(&state, 0, sizeof(state));
    CU_ASSERT_EQUAL_FATAL(ml_visits_create(&state.ring, RACE_SLOTS, pool),
                          APR_SUCCESS);
    state.seen = apr_pcalloc(pool, RACE_WRITERS * RACE_VISITS);
    pthread_create(&drainer, NULL, drain_visits, &state);
    for (i = 0; i < RACE_WRITERS; i++) {
        me[i].state = &state;
        me[i].writer = i;
        pthread_create(&writers[i], NULL, write_visits, &me[i]);
    }
    for (i = 0; i < RACE_WRITERS; i++) {
        pthread_join(writers[i], NULL);
        dropped += state.dropped[i];
    }
    pthread_join(drainer, NULL);
    ml_visits_stats_get(state.ring, &stats);
    CU_ASSERT_EQUAL(state.torn, 0);
    CU_ASSERT_EQUAL(state.twice, 0);
    CU_ASSERT_EQUAL(state.read, published);
    CU_ASSERT_EQUAL(stats.written, published);
    CU_ASSERT_EQUAL(stats.dropped, dropped);
    CU_ASSERT_EQUAL(stats.lost, 0);
    CU_ASSERT_EQUAL(stats.pending, 0);
    fprintf(stderr, "[%" APR_UINT64_T_FMT " published through %d slots, %"
            APR_UINT64_T_FMT " dropped and recorded again] ", published,
            RACE_SLOTS, stats.dropped);
    apr_pool_destroy(pool);
}

void add_visits_suite(void)
{
    CU_pSuite suite = CU_add_suite("visits", NULL, NULL);

    CU_add_test(suite, "each field kept as documented", test_fields_kept_as_documented);
    CU_add_test(suite, "a full ring drops and counts; unreleased visits are read again",
                test_full_ring_drops_and_counts);
    CU_add_test(suite, "orphan visits counted by kind", test_orphans_counted_by_kind);
    CU_add_test(suite, "a writer dead in its slot is given up at once",
                test_writer_dead_in_a_slot_is_given_up);
    CU_add_test(suite, "a writer hanging in its slot: waited for, then given up",
                test_writer_hanging_in_a_slot_is_waited_for_then_given_up);
    CU_add_test(suite, "4 writers and a drainer: each visit read once, whole",
                test_writers_and_drainer_race);
}
