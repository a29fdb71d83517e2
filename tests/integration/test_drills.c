/*
 * test_drills.c - failure drills: the database taken away, broken, locked, full; processes killed;
 * graceful restarts under load.  Nothing is lost.
 *
 * Suites "drills-event", "drills-worker" and "drills-prefork" (MinilinkRefreshInterval 1,
 * MinilinkFlushInterval 1): vhost main.drill serves links.db (the load links + abc) on /l and
 * full/links.db on /full (creation on, visits off: their rows would fill the 256k again as soon as
 * it is freed; full/ is a 256k tmpfs when mount works - schema 3 and its WAL outgrew 128k -, else
 * the drill makes the file read-only);
 * one.drill and two.drill share shared.db, three.drill has other.db.
 *
 *   a. links.db deleted while serving       e. kill -9 of serving children and of the refresher
 *   b. links.db replaced by garbage            under load
 *   c. links.db made unreadable (chmod 000) f. 10 graceful restarts under load
 *   c2. the same across a graceful restart  g. full/links.db cannot be written
 *   d. links.db locked (BEGIN EXCLUSIVE)    h. two vhosts on one database
 *
 * a to c2 expect the README's outage story: the cached links keep being served, exactly one ML00007
 * (and one ML00025: clicks wait in memory), then one ML00008 and one ML00026 once the file is back,
 * and every click in it.  Clicks are checked exactly: every GET answered 3xx is a click (README
 * "Clicks"), counted per database (g_count_click); after each drill the file is polled until it
 * holds exactly that, then looked at again a little later (no extra click written late).
 *
 * MINILINK_DRILL_KILL_RUNS=N repeats drill e N times (default 1) and prints how often, and by how
 * much, the database held more clicks than 302s were received (requests in flight at a kill).
 */
#include <sys/mount.h>

#include "ml_test.h"

#define OUTAGE_MS 3000          /* how long an outage is watched */
#define RECHECK_MS 1500         /* clicks in the file: look again this much later */
#define KILLS 5
#define LOCK_MS 3000
#define GRACEFUL_LOAD_MS 30000
#define GRACEFULS 10
#define LOAD_WHERE "slug GLOB 's[0-9][0-9]'"

static const char drills_config[] =
    "MinilinkRefreshInterval 1\nMinilinkFlushInterval 1\nLogLevel minilink:debug\n"
    PIDS_LOG
    VHOST("main.drill", "MinilinkDatabase links.db\n" MINILINK_AT("/l", "")
          MINILINK_AT("/full", "MinilinkDatabase @DIR@/full/links.db\nMinilinkCreate On\n"
                               "MinilinkCreateRateLimit off\nMinilinkVisits Off\n"))
    VHOST("one.drill", "MinilinkDatabase shared.db\n" MINILINK_AT("/", ""))
    VHOST("two.drill", "MinilinkDatabase shared.db\n" MINILINK_AT("/", ""))
    VHOST("three.drill", "MinilinkDatabase other.db\n" MINILINK_AT("/", ""));

static const link_spec main_links[] = { { "abc", "https://example.com/abc", 0, 0, 0 } };

/* Clicks each database must hold: every 3xx GET the tests received. */
static long g_expect_main, g_expect_shared, g_expect_other, g_expect_full;

static void count_click(const httpd_server *srv, const char *host, const char *path)
{
    (void)srv;
    if (host && (strcmp(host, "one.drill") == 0 || strcmp(host, "two.drill") == 0)) {
        g_expect_shared++;
    }
    else if (host && strcmp(host, "three.drill") == 0) {
        g_expect_other++;
    }
    else {
        (*(strncmp(path, "/full/", 6) == 0 ? &g_expect_full : &g_expect_main))++;
    }
}

/* How full/ was made unwritable: a tmpfs filled up, or permissions. */
static int g_full_tmpfs;
static char g_full_dir[256];

/* ---- databases ------------------------------------------------------ */

#define SQL(db, sql) CHECK(db_exec((db), (sql)) == 0, "sqlite3 %s \"%s\" failed", (db), (sql))
#define db_clicks(db, where) db_int((db), "SELECT COALESCE(SUM(clicks), 0) FROM links WHERE %s", \
                                    (where))

/* Polls db until SUM(clicks) over where is exactly expected (bounded); then, with recheck, looks
 * again RECHECK_MS later: nothing written twice. */
static int expect_clicks_at(int line, const char *what, const char *db, const char *where,
                            long expected, int recheck)
{
    long seen, waited = POLL_UNTIL((seen = db_clicks(db, where)) == expected, BOUNDED_WAIT_MS, 200);

    if (!check_at(line, seen == expected, "%s: the database holds %ld clicks %ld ms after, "
                  "expected exactly %ld", what, seen, waited, expected)) {
        return 0;
    }
    fprintf(stderr, "[%s: %ld clicks in the file after %ld ms] ", what, expected, waited);
    if (recheck) {
        sleep_ms(RECHECK_MS);
        seen = db_clicks(db, where);
        return check_at(line, seen == expected, "%s: the database held the expected %ld "
                        "clicks, then %ld %d ms later", what, expected, seen, RECHECK_MS);
    }
    return 1;
}

#define EXPECT_CLICKS(what, db, where, expected) \
    expect_clicks_at(__LINE__, (what), (db), (where), (expected), 1)

/* Before a drill: everything counted so far is in the file (else the expected clicks are re-based
 * on it). */
static void sync_clicks_at(int line, const char *what, const char *db, long *expected)
{
    if (!expect_clicks_at(line, what, db, "1", *expected, 0)) {
        fprintf(stderr, "    (re-basing the expected clicks on the file)\n");
        *expected = db_clicks(db, "1");
    }
}

static void remove_sidecars(const char *db)
{
    unlink(tfmt("%s-wal", db));
    unlink(tfmt("%s-shm", db));
    unlink(tfmt("%s-journal", db));
}

/* ---- requests and the error log ------------------------------------- */

#define SERVED_WITHIN(what, host, path, status, location) \
    wait_answer_at(HERE, (what), g_srv, "GET", (host), (path), (status), (location), now_ms(), 100)

/* For ms, every load link and a miss, each on a new connection (so every child gets asked): the
 * answers must be the cached ones. */
static void serve_from_cache_at(int line, const char *what, long ms)
{
    long start = now_ms();
    int i, wrong = 0, asked = 0;

    for (i = 0; now_ms() - start < ms; i++, asked += 2, sleep_ms(50)) {
        char *path = tfmt("/l/%s", (char *)tkeep(load_slug(i % LOAD_SLUGS)));
        char *url = tkeep(load_url(i % LOAD_SLUGS));
        http_response *r = ask(g_srv, "GET", NULL, path);

        if (!response_is(r, 302, url) && wrong++ < 3) {
            check_at(line, 0, "%s: GET %s: %ld, Location \"%s\" (transport: %s); expected "
                     "302 %s", what, path, r->status, str_or_null(r->location),
                     r->curl_code ? r->error : "ok", url);
        }
        r = ask(g_srv, "GET", NULL, "/l/nosuch");
        if (!response_is(r, 404, NULL) && wrong++ < 3) {
            check_at(line, 0, "%s: GET /l/nosuch: %ld (transport: %s); expected 404", what,
                     r->status, r->curl_code ? r->error : "ok");
        }
    }
    check_at(line, wrong == 0, "%s: %d of %d answers wrong", what, wrong, asked);
    fprintf(stderr, "[%s: %d requests over %ld ms, %d wrong] ", what, asked, ms, wrong);
}

/* Error-log lines with tag (e.g. "ML00007") that name the file path. */
#define log_count(tag, path) log_lines(g_srv, (log_filter){ (tag), (path), 0, 0 })

/* Expects exactly `lines` new lines with tag naming path (after before), waiting up to timeout_ms
 * for them first if lines > 0. */
static void expect_log_lines_at(int line, const char *what, const char *tag,
                                const char *path, int before, int lines, long timeout_ms)
{
    long waited = lines > 0 ? log_wait_lines(g_srv, (log_filter){ tag, path, 0, 0 },
                                             before + lines - 1, timeout_ms) : 0;
    int now = log_count(tag, path) - before;

    check_at(line, now == lines, "%s: %d new %s lines naming %s, expected %d%s", what, now,
             tag, path, lines, waited < 0 ? " (waited for it)" : "");
    if (lines > 0 && waited >= 0) {
        fprintf(stderr, "[%s: %s after %ld ms] ", what, tag, waited);
    }
}

#define EXPECT_LOG_LINES(what, tag, path, before, lines, timeout_ms) \
    expect_log_lines_at(__LINE__, (what), (tag), (path), (before), (lines), (timeout_ms))

/* ---- a. b. c. the database taken away, and given back --------------- */

typedef enum {
    OUTAGE_DELETED, OUTAGE_GARBAGE, OUTAGE_UNREADABLE, OUTAGE_UNREADABLE_RESTART
} outage_kind;

static const char *const outage_names[] = {
    "deleted", "garbage", "chmod 000", "chmod 000 + graceful"
};

/* a, b, c: all clicks so far are in the file; a copy is made; the file is broken; the cache keeps
 * answering for OUTAGE_MS; exactly one ML00007 (and one ML00025: clicks cannot be written
 * meanwhile); the file is given back; a link added to it is served; exactly one ML00008 and one
 * ML00026; every click made during the outage is in the file. */
static void outage_drill(outage_kind kind)
{
    static const char garbage[] = "SQLite format 2\n... not really: garbage where links were.\n";
    const char *name = outage_names[kind];
    char *db = tpath("links.db"), *copy = tpath("links.db.copy"), *tmp = tpath("links.db.tmp");
    char *slug = tfmt("back%d", (int)kind), *url = tfmt("https://example.com/back/%d", (int)kind);
    int ml7 = log_count("ML00007", db), ml8 = log_count("ML00008", db);
    int ml25 = log_count("ML00025", db), ml26 = log_count("ML00026", db);
    long t, wait_ms = BOUNDED_WAIT_MS;

    sync_clicks_at(__LINE__, tfmt("before (%s)", name), db, &g_expect_main);
    unlink(copy);
    if (kind <= OUTAGE_GARBAGE && !SQL(db, tfmt(".backup '%s'", copy))) {
        return;
    }
    chown_database(copy);
    switch (kind) {   /* break it */
    case OUTAGE_DELETED:
        CHECK(unlink(db) == 0, "rm %s: %s", db, strerror(errno));
        remove_sidecars(db);
        break;
    case OUTAGE_GARBAGE:
        CHECK(write_file(tmp, garbage, sizeof garbage - 1) == 0, "cannot write %s", tmp);
        httpd_chown(g_srv, tmp);
        remove_sidecars(db);
        CHECK(rename(tmp, db) == 0, "mv %s %s: %s", tmp, db, strerror(errno));
        break;
    case OUTAGE_UNREADABLE:
        CHECK(chmod(db, 0) == 0, "chmod 000 %s: %s", db, strerror(errno));
        break;
    case OUTAGE_UNREADABLE_RESTART:
        /* The new generation's refresher opens the file afresh; the parent loads it as root, which
         * the mode does not stop. */
        CHECK(chmod(db, 0) == 0, "chmod 000 %s: %s", db, strerror(errno));
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart failed");
        break;
    }
    /* Noticed, once; served from the cache all along. */
    t = log_wait_lines(g_srv, (log_filter){ "ML00007", db, 0, 0 }, ml7, BOUNDED_WAIT_MS);
    if (CHECK(t >= 0, "%s: no ML00007 line naming %s within %d ms", name, db, BOUNDED_WAIT_MS)) {
        fprintf(stderr, "[%s: ML00007 after %ld ms] ", name, t);
    }
    wait_ms = t >= 0 ? wait_ms : 2000;   /* not noticed: the lines below will not come either */
    serve_from_cache_at(__LINE__, name, OUTAGE_MS);
    EXPECT_LOG_LINES(tfmt("%s, clicks kept in memory", name), "ML00025", db, ml25, 1, wait_ms);
    EXPECT_LOG_LINES(name, "ML00007", db, ml7, 1, wait_ms);

    if (kind <= OUTAGE_GARBAGE) {   /* given back */
        remove_sidecars(db);
        CHECK(rename(copy, db) == 0, "mv %s %s: %s", copy, db, strerror(errno));
        chown_database(db);
    }
    else {
        CHECK(chmod(db, 0644) == 0, "chmod 644 %s: %s", db, strerror(errno));
    }
    if (SQL(db, tfmt("INSERT INTO links (slug, url) VALUES ('%s', '%s');", slug, url))) {
        SERVED_WITHIN(tfmt("%s, given back: a new link", name), NULL, tfmt("/l/%s", slug), 302,
                      url);
    }
    name = tfmt("%s, given back", name);
    EXPECT_LOG_LINES(name, "ML00008", db, ml8, 1, wait_ms);
    EXPECT_LOG_LINES(name, "ML00026", db, ml26, 1, wait_ms);
    EXPECT_CLICKS(name, db, "1", g_expect_main);
    EXPECT_LOG_LINES(name, "ML00007", db, ml7, 1, wait_ms);
    GET("/l/abc", 302, "https://example.com/abc");
    unlink(copy);
}

static void test_database_deleted(void) { outage_drill(OUTAGE_DELETED); }
static void test_database_garbage(void) { outage_drill(OUTAGE_GARBAGE); }
static void test_database_unreadable(void) { outage_drill(OUTAGE_UNREADABLE); }
static void test_database_unreadable_restart(void) { outage_drill(OUTAGE_UNREADABLE_RESTART); }

/* ---- d. a long write transaction ------------------------------------ */

static void test_database_locked(void)
{
    char *path = tpath("links.db");
    int ml25 = log_count("ML00025", path), rc;
    long before, start, held;
    sqlite3 *db;

    sync_clicks_at(__LINE__, "before the lock", path, &g_expect_main);
    before = g_expect_main;
    /* Root's connection: the server's -wal and -shm exist already (its refresher keeps a
     * connection open); they are chowned again after. */
    db = db_open_as_root(path);
    rc = db ? sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) : SQLITE_CANTOPEN;
    if (CHECK(rc == SQLITE_OK, "BEGIN EXCLUSIVE on %s: %s", path,
              db ? sqlite3_errmsg(db) : "cannot open")) {
        start = now_ms();
        serve_from_cache_at(__LINE__, "locked", LOCK_MS);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        held = now_ms() - start;
        db_close_as_root(db, path);
        db = NULL;
        fprintf(stderr, "[lock held %ld ms; %ld clicks made meanwhile] ", held,
                g_expect_main - before);
        EXPECT_CLICKS("after the lock", path, "1", g_expect_main);
        if (log_count("ML00025", path) != ml25) {
            fprintf(stderr, "[note: %d ML00025 lines during the lock: the flush gave up "
                    "waiting] ", log_count("ML00025", path) - ml25);
        }
    }
    if (db) {
        db_close_as_root(db, path);
    }
}

/* ---- e. kill -9 under load ------------------------------------------ */

/* What drill e saw in one run. */
typedef struct {
    long requests, failures, received, in_db;
    long excess;        /* clicks in the file beyond the 302s received */
    int kills;          /* serving children killed */
} kill_run;

/* Load requests in the pids log not answered 302; the first (oldest) one. */
struct non_302 {
    int count;
    char first[600];
};

static int note_non_302(const pids_line *line, void *ctx)
{
    struct non_302 *n = ctx;
    if (line->status != 302) {   /* newest first: the last one seen is the first */
        n->count++;
        snprintf(n->first, sizeof n->first, "%d %ld %s %s", (int)line->pid, line->status,
                 line->method, line->path);
    }
    return 0;
}

static void kill_drill_once(int run, kill_run *out)
{
    char *db = tpath("links.db"), *pids = tpath("pids.log");
    char *slug = tfmt("afterkill%d", run), *url = tfmt("https://example.com/afterkill/%d", run);
    long base, offset, run_offset, t, in_db = -1, stable_since;
    int k, n;
    struct non_302 non_302 = { 0, "" };
    pid_t refresher, killed[KILLS];
    load_totals totals;
    load_run *load;

    memset(out, 0, sizeof *out);
    sync_clicks_at(__LINE__, "before the kills", db, &g_expect_main);
    base = db_clicks(db, LOAD_WHERE);
    offset = run_offset = file_size(pids);
    load = load_start(g_srv->port, LOAD_CLIENTS);
    CHECK(load != NULL, "cannot start the load clients");
    sleep_ms(1000);

    for (k = 0; k < KILLS; k++) {   /* five serving children, one at a time */
        pid_t children[64];

        refresher = refresher_pid_from_log(g_srv);
        /* Bounded: some child must have answered since the last kill. */
        POLL_UNTIL((n = children_serving(g_srv, offset, "/l/s", refresher, children, 64)) > 0,
                   BOUNDED_WAIT_MS, 100);
        if (!CHECK(n > 0, "run %d kill %d: no serving child in the pids log", run, k + 1)) {
            break;
        }
        /* A random one; one that has just exited on its own (prefork's spare-server upkeep) is not
         * an error: another is tried. */
        while (n > 0) {
            int pick = rand() % n;
            if (kill(children[pick], SIGKILL) == 0) {
                killed[out->kills++] = children[pick];
                break;
            }
            CHECK(errno == ESRCH, "kill -9 %d: %s", (int)children[pick], strerror(errno));
            children[pick] = children[--n];
        }
        CHECK(n > 0, "run %d kill %d: every serving child had exited", run, k + 1);
        offset = file_size(pids);
        sleep_ms(700);
    }
    /* And the refresher, still under load. */
    refresher = refresher_pid_from_log(g_srv);
    if (CHECK(refresher > 0, "run %d: no refresher pid in the ML00027/ML00009 lines", run)) {
        t = kill_refresher_at(HERE, refresher);
        fprintf(stderr, "[run %d: killed children", run);
        for (k = 0; k < out->kills; k++) {
            fprintf(stderr, " %d", (int)killed[k]);
        }
        fprintf(stderr, ", refresher %d; ML00023 after %ld ms] ", (int)refresher, t);
    }
    sleep_ms(1500);
    load_stop(load, &totals);

    /* The refresh still happens. */
    if (SQL(db, tfmt("INSERT INTO links (slug, url) VALUES ('%s', '%s');", slug, url))) {
        SERVED_WITHIN("link added after the kills", NULL, tfmt("/l/%s", slug), 302, url);
    }
    out->requests = totals.requests;
    out->failures = totals.failures;
    out->received = totals.requests - totals.failures;   /* 302s, right or wrong */
    EXPECT_EQ(totals.not_started, 0, "load clients that could not start");
    CHECK(totals.requests > 100, "run %d: only %ld requests under load", run, totals.requests);
    CHECK(totals.wrong == 0, "run %d: %ld of %ld answers had a wrong Location", run,
          totals.wrong, totals.requests);
    CHECK(totals.failures <= (long)out->kills * LOAD_CLIENTS, "run %d: %ld of %ld requests "
          "failed; at most %d (one per client per kill) can have been on a killed "
          "connection", run, totals.failures, totals.requests, out->kills * LOAD_CLIENTS);
    pids_log_scan(g_srv, run_offset, "/l/s", note_non_302, &non_302);
    CHECK(non_302.count == 0, "%d load requests were answered with another status than 302 "
          "(pids log), e.g. \"%s\"", non_302.count, non_302.first);

    /* Clicks: wait until the file holds at least every 302 received and stays unchanged for
     * RECHECK_MS. */
    for (t = stable_since = now_ms(); now_ms() - t <= BOUNDED_WAIT_MS + RECHECK_MS; sleep_ms(200)) {
        long now = db_clicks(db, LOAD_WHERE);
        if (now != in_db) {
            in_db = now;
            stable_since = now_ms();
        }
        if (in_db >= base + out->received && now_ms() - stable_since >= RECHECK_MS) {
            break;
        }
    }
    out->in_db = in_db - base;
    out->excess = out->in_db - out->received;
    fprintf(stderr, "[run %d: %ld requests, %ld failed, %ld 302s received, %ld clicks "
            "written: %+ld] ", run, out->requests, out->failures, out->received, out->in_db,
            out->excess);
    CHECK(out->excess >= 0, "run %d: clicks lost: %ld 302s received, the database has %ld "
          "more clicks on the load links", run, out->received, out->in_db);
    CHECK(out->excess <= (long)out->kills * LOAD_CLIENTS, "run %d: %ld clicks more than the "
          "%ld 302s received; at most %d requests can have been in flight at the kills", run,
          out->excess, out->received, out->kills * LOAD_CLIENTS);
    /* Whatever the in-flight requests did, the rest is exact from here. */
    g_expect_main = db_clicks(db, "1");
}

static void test_kill_under_load(void)
{
    const char *env = getenv("MINILINK_DRILL_KILL_RUNS");
    int runs = env && atoi(env) > 0 ? atoi(env) : 1, r, off = 0;
    long max_excess = 0, total_excess = 0, total_failures = 0;

    srand((unsigned int)time(NULL) ^ (unsigned int)getpid());
    for (r = 0; r < runs; r++) {
        kill_run run;

        kill_drill_once(r + 1, &run);
        off += run.excess != 0;
        max_excess = run.excess > max_excess ? run.excess : max_excess;
        total_excess += run.excess;
        total_failures += run.failures;
    }
    fprintf(stderr, "[%s: %d run(s): clicks off in %d, by at most %ld (total %ld); %ld "
            "failed requests in all] ", g_srv->mpm, runs, off, max_excess, total_excess,
            total_failures);
}

/* ---- f. graceful restarts under load -------------------------------- */

static void test_graceful_under_load(void)
{
    char *db = tpath("links.db");
    load_totals totals;
    long base;

    sync_clicks_at(__LINE__, "before the graceful restarts", db, &g_expect_main);
    base = db_clicks(db, LOAD_WHERE);
    gracefuls_under_load_at(HERE, GRACEFULS, (GRACEFUL_LOAD_MS - 3000) / GRACEFULS,
                            GRACEFUL_LOAD_MS, &totals);
    g_expect_main += totals.requests - totals.failures;
    EXPECT_CLICKS("after 10 graceful restarts", db, LOAD_WHERE,
                  base + totals.requests - totals.failures);
    GET("/l/abc", 302, "https://example.com/abc");
}

/* ---- g. the database cannot be written ------------------------------ */

/* Fills the file system of filler: 4 KiB blocks until ENOSPC, then smaller ones to the end. */
static long fill_up(const char *filler)
{
    char block[4096];
    long written = 0;
    size_t size;
    ssize_t n;
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    memset(block, 'x', sizeof block);
    for (size = sizeof block; fd >= 0 && size > 0; size /= 2) {
        while ((n = write(fd, block, size)) > 0) {
            written += n;
        }
    }
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return fd >= 0 ? written : -1;
}

static void test_database_unwritable(void)
{
    char *db = tfmt("%s/links.db", g_full_dir), *filler = tfmt("%s/filler", g_full_dir);
    const char *json = "{\"url\": \"https://example.com/full/new\"}";
    int ml19 = log_count("ML00019", db), ml25 = log_count("ML00025", db);
    int ml26 = log_count("ML00026", db), i;
    long clicks_before;
    http_response *r;
    char *type;

    sync_clicks_at(__LINE__, "full/links.db before", db, &g_expect_full);
    clicks_before = g_expect_full;
    if (g_full_tmpfs) {
        long filled = fill_up(filler);
        CHECK(filled >= 0, "cannot fill %s: %s", filler, strerror(errno));
        fprintf(stderr, "[tmpfs filled with %ld bytes] ", filled);
    }
    else {
        CHECK(chmod(db, 0444) == 0 && chmod(g_full_dir, 0555) == 0, "chmod 444 %s / 555 %s: "
              "%s", db, g_full_dir, strerror(errno));
        fprintf(stderr, "[no tmpfs (mount refused): the file is read-only instead] ");
    }
    /* Creation: 503 with a JSON error, one ML00019. */
    r = post_json(g_srv, "/full/", json, NULL);
    type = tkeep(http_header(r, "Content-Type"));
    CHECK(r->curl_code == 0 && r->status == 503, "POST /full/ on an unwritable database: %ld "
          "(%s), expected 503; body: %.300s", r->status, r->curl_code ? r->error : "ok", r->body);
    CHECK(type && strncmp(type, "application/json", 16) == 0 && strstr(r->body, "\"error\""),
          "POST /full/ 503: not a JSON error: Content-Type \"%s\", body %.300s",
          str_or_null(type), r->body);
    CHECK(r->location == NULL, "POST /full/ 503 with a Location \"%s\"", r->location);
    EXPECT_LOG_LINES("creation refused", "ML00019", db, ml19, 1, BOUNDED_WAIT_MS);

    /* Redirects keep working; their clicks wait in memory. */
    for (i = 0; i < 10; i++) {
        GET("/full/fa", 302, "https://example.com/full/a");
        GET("/l/abc", 302, "https://example.com/abc");
    }
    GET("/full/nosuch", 404, NULL);
    EXPECT_LOG_LINES("clicks not written", "ML00025", db, ml25, 1, BOUNDED_WAIT_MS);
    sleep_ms(2000);   /* a few more failed flushes: still one line */
    for (i = 0; i < 5; i++) {
        GET("/full/fa", 302, "https://example.com/full/a");
    }
    EXPECT_EQ(db_clicks(db, "1"), clicks_before, "full/links.db's clicks while it could not "
              "be written (still those from before)");

    /* Writable again. */
    if (g_full_tmpfs) {
        CHECK(unlink(filler) == 0, "rm %s: %s", filler, strerror(errno));
    }
    else {
        chmod(g_full_dir, 0755);
        chmod(db, 0644);
    }
    EXPECT_LOG_LINES("writable again", "ML00026", db, ml26, 1, BOUNDED_WAIT_MS);
    EXPECT_CLICKS("clicks kept while full", db, "1", g_expect_full);
    EXPECT_LOG_LINES("writable again", "ML00025", db, ml25, 1, BOUNDED_WAIT_MS);
    EXPECT_LOG_LINES("writable again", "ML00019", db, ml19, 1, BOUNDED_WAIT_MS);
    /* And creation works again. */
    r = post_json(g_srv, "/full/", json, NULL);
    CHECK(r->curl_code == 0 && r->status == 201, "POST /full/ once writable: %ld (%s), "
          "expected 201; body %.300s", r->status, r->curl_code ? r->error : "ok", r->body);
}

/* ---- h. virtual hosts sharing a database, graceful restarts --------- */

/* Asked in turn by two clients during graceful restarts; db: which database a 3xx clicks on,
 * 0 shared, 1 other. */
static const struct vhost_check {
    http_case c;
    int db;
} vhost_checks[] = {
    { { "GET", "one.drill", "/same", 302, "https://shared.example/same" }, 0 },
    { { "GET", "two.drill", "/same", 302, "https://shared.example/same" }, 0 },
    { { "GET", "three.drill", "/same", 302, "https://other.example/same" }, 1 },
    { { "GET", "one.drill", "/sh1", 302, "https://shared.example/1" }, 0 },
    { { "GET", "two.drill", "/sh1", 302, "https://shared.example/1" }, 0 },
    { { "GET", "three.drill", "/ot1", 302, "https://other.example/1" }, 1 },
    { { "GET", "three.drill", "/sh1", 404, NULL }, 1 },
    { { "GET", "one.drill", "/ot1", 404, NULL }, 0 },
    { { "GET", "two.drill", "/ot1", 404, NULL }, 0 },
    { { "GET", "main.drill", "/l/same", 404, NULL }, 0 },
};

static void test_vhosts_share_a_database(void)
{
    char *shared = tpath("shared.db"), *other = tpath("other.db");
    load_spec spec = { .port = g_srv->port, .npaths = ARRAY_LEN(vhost_checks), .clients = 1,
                       .use_curl = 1 };
    load_run *users[2];
    load_totals seen;
    int g, i, k;

    for (k = 0; k < spec.npaths; k++) {
        spec.paths[k] = vhost_checks[k].c.path;
        spec.hosts[k] = vhost_checks[k].c.host;
        spec.statuses[k] = vhost_checks[k].c.status;
        spec.urls[k] = vhost_checks[k].c.location;
    }
    for (i = 0; i < 2; i++) {   /* each on a keep-alive connection of its own */
        CHECK((users[i] = load_begin(&spec)) != NULL, "cannot start vhost client %d", i);
    }
    sleep_ms(500);
    for (g = 0; g < 4; g++, sleep_ms(700)) {
        long t = now_ms();
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1);
        fprintf(stderr, "[graceful %d: %ld ms] ", g + 1, now_ms() - t);
        if (g == 1 && SQL(shared, "INSERT INTO links (slug, url) VALUES "
                                  "('shnew', 'https://shared.example/new');")) {
            SERVED_WITHIN("shared.db link via one.drill", "one.drill", "/shnew", 302,
                          "https://shared.example/new");
            SERVED_WITHIN("shared.db link via two.drill", "two.drill", "/shnew", 302,
                          "https://shared.example/new");
            EXPECT("GET", "three.drill", "/shnew", 404, NULL);
            GET("/l/shnew", 404, NULL);
        }
    }
    for (i = 0; i < 2; i++) {
        load_end(users[i], 1, &seen);
        fprintf(stderr, "[vhost client %d: %ld requests, %ld wrong] ", i, seen.requests,
                seen.requests - seen.ok_total);
        CHECK(seen.requests > 50, "vhost client %d: only %ld requests", i, seen.requests);
        CHECK(seen.ok_total == seen.requests, "vhost client %d: %ld of %ld answers wrong (its "
              "first problem is above)", i, seen.requests - seen.ok_total, seen.requests);
        for (k = 0; k < spec.npaths; k++) {   /* a redirect is a click */
            (*(vhost_checks[k].db ? &g_expect_other : &g_expect_shared)) +=
                vhost_checks[k].c.status == 302 ? seen.ok[k] : 0;
        }
    }
    EXPECT("GET", "two.drill", "/shnew", 302, "https://shared.example/new");
    EXPECT("GET", "three.drill", "/same", 302, "https://other.example/same");
    EXPECT_CLICKS("shared.db (two vhosts)", shared, "1", g_expect_shared);
    EXPECT_CLICKS("other.db", other, "1", g_expect_other);
}

static CU_TestInfo drill_tests[] = {
    { "a. database deleted while serving", test_database_deleted },
    { "b. database replaced by garbage", test_database_garbage },
    { "c. database unreadable (chmod 000)", test_database_unreadable },
    { "c2. database unreadable (chmod 000) at a graceful restart",
      test_database_unreadable_restart },
    { "d. database locked by a long write transaction", test_database_locked },
    { "e. kill -9 of serving children and the refresher under load", test_kill_under_load },
    { "f. 10 graceful restarts under load", test_graceful_under_load },
    { "g. database cannot be written (disk full)", test_database_unwritable },
    { "h. vhosts sharing a database, graceful restarts", test_vhosts_share_a_database },
    CU_TEST_INFO_NULL,
};

/* ---- the suites ----------------------------------------------------- */

/* The other databases; full/ a 256k tmpfs of the server's user if mount works here. */
static int prepare_drills(void)
{
    static const link_spec shared_links[] = {
        { "same", "https://shared.example/same", 0, 0, 0 },
        { "sh1", "https://shared.example/1", 0, 0, 0 },
    };
    static const link_spec other_links[] = {
        { "same", "https://other.example/same", 0, 0, 0 },
        { "ot1", "https://other.example/1", 0, 0, 0 },
    };
    static const link_spec full_links[] = { { "fa", "https://example.com/full/a", 0, 0, 0 } };

    g_expect_main = g_expect_shared = g_expect_other = g_expect_full = 0;
    g_count_click = count_click;
    snprintf(g_full_dir, sizeof g_full_dir, "%s/full", g_srv->dir);
    if (mkdir(g_full_dir, 0755) != 0) {
        return -1;
    }
    g_full_tmpfs = mount("tmpfs", g_full_dir, "tmpfs", MS_NOSUID | MS_NODEV,
                         tfmt("size=256k,mode=0755,uid=%d,gid=%d", (int)g_srv->uid,
                              (int)g_srv->gid)) == 0;
    if (!g_full_tmpfs) {
        fprintf(stderr, "drills: mount -t tmpfs on %s refused (%s); the disk-full drill makes "
                "the file read-only instead\n", g_full_dir, strerror(errno));
    }
    return httpd_chown(g_srv, g_full_dir) | db_store_links(tpath("shared.db"), shared_links, 2)
        | db_store_links(tpath("other.db"), other_links, 2)
        | db_store_links(tfmt("%s/links.db", g_full_dir), full_links, 1);
}

static int drills_cleanup(void)
{
    chmod(g_full_dir, 0755);
    if (g_full_tmpfs && umount2(g_full_dir, MNT_DETACH) != 0) {
        fprintf(stderr, "drills: umount %s: %s\n", g_full_dir, strerror(errno));
    }
    g_full_tmpfs = 0;
    return 0;
}

/* And everything counted is in the files (the stop writes what is left). */
static void drills_after_stop(void)
{
    EXPECT_CLICKS("links.db at the end", tpath("links.db"), "1", g_expect_main);
}

static const suite_group drills_group = {
    .name = "drills", .tests = drill_tests, .config = drills_config,
    .modules = "slotmem_shm",   /* MinilinkCreate's rate limit */
    .links = main_links, .nlinks = ARRAY_LEN(main_links), .load_links = 1,
    .prepare = prepare_drills, .after_stop = drills_after_stop, .cleanup = drills_cleanup,
};

void add_drill_suites(void)
{
    add_group(&drills_group);
}
