/*
 * test_drills.c - failure drills: the database taken away, broken, locked,
 * full; processes killed; graceful restarts under load.  Nothing is lost.
 *
 * Suites "drills-event", "drills-worker" and "drills-prefork" each run the
 * drills (drill_tests) on a server of their own with MinilinkRefreshInterval
 * 1, MinilinkFlushInterval 1 and LogLevel minilink:debug:
 *
 *   main.drill (the default vhost)  /l     links.db (the load links + abc)
 *                                   /full  full/links.db, MinilinkCreate On;
 *                                          full/ is a 128k tmpfs when mount
 *                                          works (else the drill makes the
 *                                          file read-only)
 *   one.drill, two.drill            /      shared.db
 *   three.drill                     /      other.db
 *
 *   a. links.db deleted while serving      e. kill -9 of serving children
 *   b. links.db replaced by garbage           and of the refresher, under load
 *   c. links.db made unreadable (chmod 000) f. 10 graceful restarts under load
 *   c2. the same across a graceful restart  g. full/links.db cannot be written
 *   d. links.db locked (BEGIN EXCLUSIVE)    h. two vhosts on one database
 *
 * a, b, c and c2 expect the README's outage story: the cached links keep
 * being served, exactly one ML00007 (and one ML00025: clicks wait in
 * memory), then one ML00008 and one ML00026 once the file is back, and
 * every click in it.  In c the running refresher keeps reading (and
 * writing) the file through descriptors it opened before the chmod - SQLite
 * reuses a closed connection's descriptor while another connection of the
 * process holds a lock on the file - so no outage is ever seen there; c
 * prints a probe (a link added meanwhile is served) to show it.  c2 makes
 * a refresher start afresh (graceful restart) while the file is unreadable.
 *
 * Clicks are checked exactly: every GET the tests make that answers 3xx is
 * a click (README "Clicks"), so the test keeps the number each database
 * must hold (g_expect_*) and, after each drill, polls the file until it
 * holds exactly that, then looks again a little later (no extra click
 * written late).  The database is read and written with the sqlite3 command
 * run as the server's user (httpd_run_as_user), so that no file next to a
 * database ever belongs to root.
 *
 * All waits are bounded polls (WAIT_MS), never one look after a fixed
 * sleep; each prints what it took.
 *
 * MINILINK_DRILL_KILL_RUNS=N repeats drill e N times (default 1) and prints
 * how often, and by how much, the database held more clicks than 302s were
 * received (requests in flight at a kill that were counted before their
 * answer was lost).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "harness.h"
#include "ml_test.h"

/* Bounded waits: refreshes and flushes come every second; the slack covers
 * a loaded 2-core machine. */
#define WAIT_MS 10000
#define POLL_MS 100
/* How long an outage is watched (redirects from the cache, one log line). */
#define OUTAGE_MS 3000
/* After the expected clicks are in the file, look again this much later. */
#define RECHECK_MS 1500
#define LOAD_CLIENTS 4
#define KILLS 5
#define LOCK_MS 3000
#define GRACEFUL_LOAD_MS 30000
#define GRACEFULS 10

static const char *const drills_config =
    "MinilinkRefreshInterval 1\n"
    "MinilinkFlushInterval 1\n"
    "LogLevel minilink:debug\n"
    "LogFormat \"%P %>s %m %U %{Host}i\" drill\n"
    "CustomLog @DIR@/access.log drill\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName main.drill\n"
    "    MinilinkDatabase links.db\n"
    "    <Location /l>\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "    <Location /full>\n"
    "        SetHandler minilink\n"
    "        MinilinkDatabase @DIR@/full/links.db\n"
    "        MinilinkCreate On\n"
    "        MinilinkCreateRateLimit off\n"
    "    </Location>\n"
    "</VirtualHost>\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName one.drill\n"
    "    MinilinkDatabase shared.db\n"
    "    <Location />\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "</VirtualHost>\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName two.drill\n"
    "    MinilinkDatabase shared.db\n"
    "    <Location />\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "</VirtualHost>\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName three.drill\n"
    "    MinilinkDatabase other.db\n"
    "    <Location />\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "</VirtualHost>\n";

static const link_spec main_links[] = {
    { "abc", "https://example.com/abc", 0, 0, 0 },
};
static const link_spec shared_links[] = {
    { "same", "https://shared.example/same", 0, 0, 0 },
    { "sh1", "https://shared.example/1", 0, 0, 0 },
};
static const link_spec other_links[] = {
    { "same", "https://other.example/same", 0, 0, 0 },
    { "ot1", "https://other.example/1", 0, 0, 0 },
};
static const link_spec full_links[] = {
    { "fa", "https://example.com/full/a", 0, 0, 0 },
};

/* Clicks each database must hold: every 3xx GET the tests received. */
static long g_expect_main, g_expect_shared, g_expect_other, g_expect_full;

/* How full/ was made unwritable: a tmpfs filled up, or permissions. */
static int g_full_tmpfs;
static char *g_full_dir;   /* malloc'd; unmounted by the suite cleanup */

/* ------------------------------------------------------------------ */
/* databases, through the sqlite3 command as the server's user        */
/* ------------------------------------------------------------------ */

/* Runs sql on db with `sqlite3` as the children's user.  Returns the exit
 * status; the output (trimmed) goes to *out if not NULL. */
static int sql_run(const char *db, const char *sql, char **out)
{
    char *argv[] = { "sqlite3", "-bail", "-init", "/dev/null", "-cmd", ".timeout 5000",
                     (char *)db, (char *)sql, NULL };
    char *output = NULL;
    int rc = httpd_run_as_user(g_srv, argv, &output);

    if (output) {
        size_t n = strlen(output);
        while (n > 0 && isspace((unsigned char)output[n - 1])) {
            output[--n] = '\0';
        }
    }
    if (out) {
        *out = output;
    }
    else {
        free(output);
    }
    return rc;
}

static int sql_at(int line, const char *db, const char *sql)
{
    char *out = NULL;
    int rc = sql_run(db, sql, &out);

    check_at(line, rc == 0, "sqlite3 %s \"%s\" exited %d: %s", db, sql, rc,
             str_or_null(out));
    free(out);
    return rc == 0;
}

#define SQL(db, sql) sql_at(__LINE__, (db), (sql))

/* SUM(clicks) of the links matching where ("1" for all); -1 on error. */
static long db_clicks(const char *db, const char *where)
{
    char *sql = xasprintf("SELECT COALESCE(SUM(clicks), 0) FROM links WHERE %s;", where);
    char *out = NULL, *end;
    long n = -1;

    if (sql_run(db, sql, &out) == 0 && out && *out) {
        n = strtol(out, &end, 10);
        if (*end != '\0') {
            n = -1;
        }
    }
    free(out);
    free(sql);
    return n;
}

/*
 * Polls db until SUM(clicks) over `where` is exactly expected (bounded),
 * then looks again RECHECK_MS later: nothing may be written twice.
 */
static int expect_clicks_at(int line, const char *what, const char *db,
                            const char *where, long expected, int recheck)
{
    long start = now_ms(), seen = -1;

    for (;;) {
        seen = db_clicks(db, where);
        if (seen == expected || now_ms() - start > WAIT_MS) {
            break;
        }
        sleep_ms(200);
    }
    if (!check_at(line, seen == expected, "%s: the database holds %ld clicks %ld ms "
                  "after, expected exactly %ld", what, seen, now_ms() - start,
                  expected)) {
        return 0;
    }
    fprintf(stderr, "[%s: %ld clicks in the file after %ld ms] ", what, expected,
            now_ms() - start);
    if (!recheck) {
        return 1;
    }
    sleep_ms(RECHECK_MS);
    seen = db_clicks(db, where);
    return check_at(line, seen == expected, "%s: the database held the expected %ld "
                    "clicks, then %ld %d ms later", what, expected, seen, RECHECK_MS);
}

#define EXPECT_CLICKS(what, db, where, expected) \
    expect_clicks_at(__LINE__, (what), (db), (where), (expected), 1)
/* Before a drill: everything counted so far is in the file (no recheck). */
#define SYNC_CLICKS(what, db, where, expected) \
    expect_clicks_at(__LINE__, (what), (db), (where), (expected), 0)

/* Copies a database (sqlite3's .backup, as the server's user). */
static int db_copy_at(int line, const char *from, const char *to)
{
    char *cmd = xasprintf(".backup '%s'", to);
    int ok;

    unlink(to);
    ok = sql_at(line, from, cmd);
    chown_database(to);
    free(cmd);
    return ok;
}

/* Removes a database's -wal, -shm and -journal. */
static void remove_sidecars(const char *db)
{
    static const char *const suffixes[] = { "-wal", "-shm", "-journal" };
    size_t i;

    for (i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char *p = xasprintf("%s%s", db, suffixes[i]);
        unlink(p);
        free(p);
    }
}

/* ------------------------------------------------------------------ */
/* requests                                                           */
/* ------------------------------------------------------------------ */

static int answers(const http_response *r, long status, const char *location)
{
    if (r->curl_code != 0 || r->status != status) {
        return 0;
    }
    return location ? r->location && strcmp(r->location, location) == 0
                    : r->location == NULL;
}

/* GET (new connection) checked; a 3xx answer adds one to *clicks. */
static int get_at(int line, long *clicks, const char *host, const char *path,
                  long status, const char *location)
{
    http_response r;
    int ok;

    http_request(g_srv->port, "GET", host, path, &r);
    if (clicks && r.curl_code == 0 && r.status >= 300 && r.status < 400) {
        (*clicks)++;
    }
    ok = answers(&r, status, location);
    check_at(line, ok, "GET %s (Host %s): %ld, Location \"%s\" (transport: %s); "
             "expected %ld, Location \"%s\"", path, str_or_null(host), r.status,
             str_or_null(r.location), r.curl_code ? r.error : "ok", status,
             str_or_null(location));
    http_response_free(&r);
    return ok;
}

#define GET_MAIN(path, status, location) \
    get_at(__LINE__, &g_expect_main, NULL, (path), (status), (location))

/*
 * Polls GET host path (new connections) every POLL_MS for up to WAIT_MS
 * until it answers status and location, then asks 3 more times.  3xx
 * answers are clicks on *clicks.  Returns the ms it took, -1 on timeout.
 */
static long served_within_at(int line, const char *what, long *clicks, const char *host,
                             const char *path, long status, const char *location)
{
    long start = now_ms(), took = -1;
    http_response r;
    int i;

    for (;;) {
        http_request(g_srv->port, "GET", host, path, &r);
        if (clicks && r.curl_code == 0 && r.status >= 300 && r.status < 400) {
            (*clicks)++;
        }
        if (answers(&r, status, location)) {
            took = now_ms() - start;
            break;
        }
        if (now_ms() - start > WAIT_MS) {
            break;
        }
        http_response_free(&r);
        sleep_ms(POLL_MS);
    }
    if (took < 0) {
        check_at(line, 0, "%s: GET %s (Host %s) still answers %ld, Location \"%s\" "
                 "(transport: %s) after %d ms; expected %ld, Location \"%s\"", what,
                 path, str_or_null(host), r.status, str_or_null(r.location),
                 r.curl_code ? r.error : "ok", WAIT_MS, status, str_or_null(location));
        http_response_free(&r);
        return -1;
    }
    http_response_free(&r);
    for (i = 0; i < 3; i++) {
        get_at(line, clicks, host, path, status, location);
    }
    fprintf(stderr, "[%s: %ld ms] ", what, took);
    return took;
}

#define SERVED_WITHIN(what, clicks, host, path, status, location) \
    served_within_at(__LINE__, (what), (clicks), (host), (path), (status), (location))

/*
 * For ms milliseconds, every load link and a miss, each on a new
 * connection (so that every child gets asked): the answers must be the
 * cached ones.  Returns the number of wrong answers (each reported).
 */
static int serve_from_cache_at(int line, const char *what, long ms)
{
    long start = now_ms();
    int i = 0, wrong = 0, asked = 0;

    while (now_ms() - start < ms) {
        char *slug = load_slug(i % LOAD_SLUGS), *url = load_url(i % LOAD_SLUGS);
        char *path = xasprintf("/l/%s", slug);
        http_response r;

        http_request(g_srv->port, "GET", NULL, path, &r);
        asked++;
        if (r.curl_code == 0 && r.status >= 300 && r.status < 400) {
            g_expect_main++;
        }
        if (!answers(&r, 302, url) && wrong++ < 3) {
            check_at(line, 0, "%s: GET %s: %ld, Location \"%s\" (transport: %s); "
                     "expected 302 %s", what, path, r.status, str_or_null(r.location),
                     r.curl_code ? r.error : "ok", url);
        }
        http_response_free(&r);
        http_request(g_srv->port, "GET", NULL, "/l/nosuch", &r);
        asked++;
        if (!answers(&r, 404, NULL) && wrong++ < 3) {
            check_at(line, 0, "%s: GET /l/nosuch: %ld (transport: %s); expected 404",
                     what, r.status, r.curl_code ? r.error : "ok");
        }
        http_response_free(&r);
        free(slug);
        free(url);
        free(path);
        i++;
        sleep_ms(50);
    }
    check_at(line, wrong == 0, "%s: %d of %d answers wrong", what, wrong, asked);
    fprintf(stderr, "[%s: %d requests over %ld ms, %d wrong] ", what, asked, ms, wrong);
    return wrong;
}

/* ------------------------------------------------------------------ */
/* the error log                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *tag;
    const char *path;
} tag_and_path;

static int line_has_tag_and_path(const char *line, void *ctx)
{
    const tag_and_path *t = ctx;
    const char *p = strstr(line, t->path);

    /* The path whole: "<dir>/links.db" is not "<dir>/links.db.copy". */
    while (p && (isalnum((unsigned char)p[strlen(t->path)]) || p[strlen(t->path)] == '.'
                 || p[strlen(t->path)] == '/')) {
        p = strstr(p + 1, t->path);
    }
    return strstr(line, t->tag) != NULL && p != NULL;
}

/* Error-log lines with tag (e.g. "ML00007") that name the file path. */
static int log_count(const char *tag, const char *path)
{
    tag_and_path t = { tag, path };

    return httpd_error_log_count_if(g_srv, line_has_tag_and_path, &t);
}

/* Waits (bounded) for more than `before` such lines; ms waited, or -1. */
static long log_wait(const char *tag, const char *path, int before, long timeout_ms)
{
    long start = now_ms();

    for (;;) {
        if (log_count(tag, path) > before) {
            return now_ms() - start;
        }
        if (now_ms() - start > timeout_ms) {
            return -1;
        }
        sleep_ms(POLL_MS);
    }
}

/* Expects exactly `lines` new lines with tag naming path (after `before`),
 * waiting for them first if lines > 0. */
static void expect_log_lines_at(int line, const char *what, const char *tag,
                                const char *path, int before, int lines, long timeout_ms)
{
    long waited = 0;
    int now;

    if (lines > 0) {
        waited = log_wait(tag, path, before + lines - 1, timeout_ms);
    }
    now = log_count(tag, path) - before;
    check_at(line, now == lines, "%s: %d new %s lines naming %s, expected %d%s", what,
             now, tag, path, lines, waited < 0 ? " (waited for it)" : "");
    if (lines > 0 && waited >= 0) {
        fprintf(stderr, "[%s: %s after %ld ms] ", what, tag, waited);
    }
}

#define EXPECT_LOG_LINES(what, tag, path, before, lines) \
    expect_log_lines_at(__LINE__, (what), (tag), (path), (before), (lines), WAIT_MS)
/* The same with a shorter wait: after the drill has failed once already. */
#define EXPECT_LOG_LINES_T(what, tag, path, before, lines, timeout_ms) \
    expect_log_lines_at(__LINE__, (what), (tag), (path), (before), (lines), (timeout_ms))

/* The pid in an error-log line's "[pid N" prefix, or -1. */
static pid_t line_pid(const char *line)
{
    const char *p = line ? strstr(line, "[pid ") : NULL;

    return p ? (pid_t)atoi(p + 5) : -1;
}

/* ------------------------------------------------------------------ */
/* a. b. c. the database taken away, and given back                   */
/* ------------------------------------------------------------------ */

typedef enum {
    OUTAGE_DELETED, OUTAGE_GARBAGE, OUTAGE_UNREADABLE, OUTAGE_UNREADABLE_RESTART
} outage_kind;

static const char *const outage_names[] = {
    "deleted", "garbage", "chmod 000", "chmod 000 + graceful"
};

/*
 * While the file is chmod 000: a link added by root - is it served?  Says
 * whether the server still reads the file (through descriptors opened
 * before the chmod).  Reported, not asserted.
 */
static void probe_unreadable(const char *db)
{
    long start = now_ms(), took = -1;

    if (db_exec(db, "INSERT INTO links (slug, url) VALUES "
                    "('probe', 'https://example.com/probe');") != 0) {
        fprintf(stderr, "[chmod 000: could not add the probe link as root] ");
        return;
    }
    while (took < 0 && now_ms() - start < 3000) {
        http_response r;

        http_request(g_srv->port, "GET", NULL, "/l/probe", &r);
        if (r.curl_code == 0 && r.status >= 300 && r.status < 400) {
            g_expect_main++;
        }
        if (answers(&r, 302, "https://example.com/probe")) {
            took = now_ms() - start;
        }
        http_response_free(&r);
        sleep_ms(POLL_MS);
    }
    if (took >= 0) {
        fprintf(stderr, "[chmod 000: a link added meanwhile (by root) was served %ld ms "
                "later: the server still reads the file] ", took);
    }
    else {
        fprintf(stderr, "[chmod 000: a link added meanwhile (by root) was not served "
                "within 3 s] ");
    }
}

/*
 * The drill for a, b, c: all clicks so far are in the file; a copy is made;
 * the file is broken; the cache keeps answering for OUTAGE_MS; exactly one
 * ML00007 (and one ML00025: clicks cannot be written meanwhile); the file
 * is given back; a link added to it is served; exactly one ML00008 and one
 * ML00026; every click made during the outage is in the file.
 */
static void outage_drill(outage_kind kind)
{
    const char *name = outage_names[kind];
    char *db = path_of("links.db"), *copy = path_of("links.db.copy");
    char *tmp = path_of("links.db.tmp"), *what, *slug, *url, *path, *sql;
    int ml7 = log_count("ML00007", db), ml8 = log_count("ML00008", db);
    int ml25 = log_count("ML00025", db), ml26 = log_count("ML00026", db);
    long waited, t, wait_ms = WAIT_MS;

    what = xasprintf("before (%s)", name);
    if (!SYNC_CLICKS(what, db, "1", g_expect_main)) {
        fprintf(stderr, "    (re-basing the expected clicks on the file)\n");
        g_expect_main = db_clicks(db, "1");
    }
    free(what);
    if ((kind == OUTAGE_DELETED || kind == OUTAGE_GARBAGE)
        && !db_copy_at(__LINE__, db, copy)) {
        goto out;
    }

    /* Break it. */
    switch (kind) {
    case OUTAGE_DELETED:
        CHECK(unlink(db) == 0, "rm %s: %s", db, strerror(errno));
        remove_sidecars(db);
        break;
    case OUTAGE_GARBAGE: {
        static const char garbage[] =
            "SQLite format 2\n... not really: garbage where the links were.\n";
        CHECK(write_file(tmp, garbage, sizeof garbage - 1) == 0, "cannot write %s", tmp);
        httpd_chown(g_srv, tmp);
        remove_sidecars(db);
        CHECK(rename(tmp, db) == 0, "mv %s %s: %s", tmp, db, strerror(errno));
        break;
    }
    case OUTAGE_UNREADABLE:
        CHECK(chmod(db, 0) == 0, "chmod 000 %s: %s", db, strerror(errno));
        break;
    case OUTAGE_UNREADABLE_RESTART:
        /* The new generation's refresher opens the file afresh; the parent
         * loads it as root, which the mode does not stop. */
        CHECK(chmod(db, 0) == 0, "chmod 000 %s: %s", db, strerror(errno));
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart failed");
        break;
    }
    t = now_ms();

    /* Noticed, once; served from the cache all along. */
    waited = log_wait("ML00007", db, ml7, WAIT_MS);
    CHECK(waited >= 0, "%s: no ML00007 line naming %s within %d ms", name, db, WAIT_MS);
    if (waited >= 0) {
        fprintf(stderr, "[%s: ML00007 after %ld ms] ", name, now_ms() - t);
    }
    else {
        wait_ms = 2000;   /* not noticed: the lines below will not come either */
    }
    serve_from_cache_at(__LINE__, name, OUTAGE_MS);
    if (kind == OUTAGE_UNREADABLE) {
        probe_unreadable(db);
    }
    what = xasprintf("%s, clicks kept in memory", name);
    EXPECT_LOG_LINES_T(what, "ML00025", db, ml25, 1, wait_ms);
    free(what);
    EXPECT_LOG_LINES_T(name, "ML00007", db, ml7, 1, wait_ms);

    /* Given back. */
    switch (kind) {
    case OUTAGE_DELETED:
    case OUTAGE_GARBAGE:
        remove_sidecars(db);
        CHECK(rename(copy, db) == 0, "mv %s %s: %s", copy, db, strerror(errno));
        chown_database(db);
        break;
    case OUTAGE_UNREADABLE:
    case OUTAGE_UNREADABLE_RESTART:
        CHECK(chmod(db, 0644) == 0, "chmod 644 %s: %s", db, strerror(errno));
        break;
    }
    slug = xasprintf("back%d", (int)kind);
    url = xasprintf("https://example.com/back/%d", (int)kind);
    path = xasprintf("/l/%s", slug);
    sql = xasprintf("INSERT INTO links (slug, url) VALUES ('%s', '%s');", slug, url);
    if (SQL(db, sql)) {
        what = xasprintf("%s, given back: a new link", name);
        SERVED_WITHIN(what, &g_expect_main, NULL, path, 302, url);
        free(what);
    }
    what = xasprintf("%s, given back", name);
    EXPECT_LOG_LINES_T(what, "ML00008", db, ml8, 1, wait_ms);
    EXPECT_LOG_LINES_T(what, "ML00026", db, ml26, 1, wait_ms);
    EXPECT_CLICKS(what, db, "1", g_expect_main);
    EXPECT_LOG_LINES_T(what, "ML00007", db, ml7, 1, wait_ms);
    free(what);
    GET_MAIN("/l/abc", 302, "https://example.com/abc");
    free(slug);
    free(url);
    free(path);
    free(sql);
out:
    unlink(copy);
    free(db);
    free(copy);
    free(tmp);
}

static void test_database_deleted(void) { outage_drill(OUTAGE_DELETED); }
static void test_database_garbage(void) { outage_drill(OUTAGE_GARBAGE); }
static void test_database_unreadable(void) { outage_drill(OUTAGE_UNREADABLE); }
static void test_database_unreadable_restart(void)
{
    outage_drill(OUTAGE_UNREADABLE_RESTART);
}

/* ------------------------------------------------------------------ */
/* d. a long write transaction                                        */
/* ------------------------------------------------------------------ */

static void test_database_locked(void)
{
    char *path = path_of("links.db");
    int ml25 = log_count("ML00025", path);
    long before, start, held;
    sqlite3 *db = NULL;
    char *error = NULL;
    int rc;

    if (!SYNC_CLICKS("before the lock", path, "1", g_expect_main)) {
        g_expect_main = db_clicks(path, "1");
    }
    before = g_expect_main;
    /* Root's connection: the server's -wal and -shm exist already (its
     * refresher keeps a connection open); they are chowned again after. */
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, &error);
    }
    if (!CHECK(rc == SQLITE_OK, "BEGIN EXCLUSIVE on %s: %s", path,
               error ? error : sqlite3_errmsg(db))) {
        goto out;
    }
    start = now_ms();
    serve_from_cache_at(__LINE__, "locked", LOCK_MS);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    held = now_ms() - start;
    sqlite3_close(db);
    db = NULL;
    chown_database(path);
    fprintf(stderr, "[lock held %ld ms; %ld clicks made meanwhile] ", held,
            g_expect_main - before);
    EXPECT_CLICKS("after the lock", path, "1", g_expect_main);
    if (log_count("ML00025", path) != ml25) {
        fprintf(stderr, "[note: %d ML00025 lines during the lock: the flush gave up "
                "waiting] ", log_count("ML00025", path) - ml25);
    }
out:
    sqlite3_free(error);
    if (db) {
        sqlite3_close(db);
        chown_database(path);
    }
    free(path);
}

/* ------------------------------------------------------------------ */
/* e. kill -9 under load                                              */
/* ------------------------------------------------------------------ */

/* The refresher: the newest ML00027/ML00009 line's pid, if it is a live
 * child of the parent.  -1 if none. */
static pid_t refresher_pid(void)
{
    static const char *const tags[] = { "ML00027", "ML00009" };
    pid_t found = -1;
    size_t i;

    for (i = 0; i < 2 && found < 0; i++) {
        char *line = httpd_error_log_last_line(g_srv, tags[i]);
        pid_t pid = line_pid(line);

        if (pid > 0 && pid != g_srv->pid && process_parent(pid) == g_srv->pid) {
            found = pid;
        }
        free(line);
    }
    return found;
}

/* The access log from byte `offset` on, malloc'd. */
static char *access_log_from(long offset)
{
    char *path = path_of("access.log");
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    char chunk[8192];
    size_t got;

    if (f) {
        fseek(f, offset, SEEK_SET);
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
            fwrite(chunk, 1, got, mem);
        }
        fclose(f);
    }
    fclose(mem);
    free(path);
    return data;
}

static long access_log_size(void)
{
    char *path = path_of("access.log");
    struct stat st;
    long size = stat(path, &st) == 0 ? (long)st.st_size : 0;

    free(path);
    return size;
}

/*
 * Children that answered a load request since `offset` (access log "%P"),
 * alive, children of the parent, not the refresher: up to max, in *pids.
 */
static int serving_children(long offset, pid_t refresher, pid_t *pids, int max)
{
    char *log = access_log_from(offset), *line, *save = NULL;
    int n = 0, i;

    for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int pid, status;
        char method[16], uri[256];

        if (sscanf(line, "%d %d %15s %255s", &pid, &status, method, uri) != 4
            || strncmp(uri, "/l/s", 4) != 0 || (pid_t)pid == refresher
            || (pid_t)pid == g_srv->pid || process_parent((pid_t)pid) != g_srv->pid) {
            continue;
        }
        for (i = 0; i < n && pids[i] != (pid_t)pid; i++) {
        }
        if (i == n && n < max) {
            pids[n++] = (pid_t)pid;
        }
    }
    free(log);
    return n;
}

/* Load requests in the access log since offset that did not answer 302;
 * the first one goes to first (size 256). */
static int access_log_non_302(long offset, char *first)
{
    char *log = access_log_from(offset), *line, *save = NULL;
    int bad = 0;

    first[0] = '\0';
    for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int pid, status;
        char method[16], uri[256];

        if (sscanf(line, "%d %d %15s %255s", &pid, &status, method, uri) == 4
            && strncmp(uri, "/l/s", 4) == 0 && status != 302) {
            if (bad++ == 0) {
                snprintf(first, 256, "%s", line);
            }
        }
    }
    free(log);
    return bad;
}

/* What drill e saw in one run. */
typedef struct {
    long requests, failures, wrong, received, in_db;
    long excess;        /* clicks in the file beyond the 302s received */
    int kills;          /* serving children killed */
} kill_run;

#define LOAD_WHERE "slug GLOB 's[0-9][0-9]'"

static void kill_drill_once(int run, kill_run *out)
{
    char *db = path_of("links.db"), *slug, *url, *path, *sql, first[256];
    long base, offset, run_offset, t, in_db = -1, stable_since;
    int deaths = httpd_error_log_count(g_srv, "ML00023"), k, non_302;
    pid_t refresher, killed[KILLS];
    load_totals totals;
    load_run *load;

    memset(out, 0, sizeof *out);
    if (!SYNC_CLICKS("before the kills", db, "1", g_expect_main)) {
        g_expect_main = db_clicks(db, "1");
    }
    base = db_clicks(db, LOAD_WHERE);
    offset = run_offset = access_log_size();
    load = load_start(g_srv->port, LOAD_CLIENTS);
    CHECK(load != NULL, "cannot start the load clients");
    sleep_ms(1000);

    /* Five serving children, one at a time. */
    for (k = 0; k < KILLS; k++) {
        pid_t pids[64];
        int n;
        long start = now_ms();

        refresher = refresher_pid();
        /* Bounded: some child must have answered since the last kill. */
        while ((n = serving_children(offset, refresher, pids, 64)) == 0
               && now_ms() - start < WAIT_MS) {
            sleep_ms(POLL_MS);
        }
        if (!CHECK(n > 0, "run %d kill %d: no serving child in the access log", run,
                   k + 1)) {
            break;
        }
        /* A random one; one that has just exited on its own (prefork's
         * spare-server upkeep) is not an error: another is tried. */
        killed[out->kills] = -1;
        while (n > 0) {
            int pick = rand() % n;
            if (kill(pids[pick], SIGKILL) == 0) {
                killed[out->kills++] = pids[pick];
                break;
            }
            CHECK(errno == ESRCH, "kill -9 %d: %s", (int)pids[pick], strerror(errno));
            pids[pick] = pids[--n];
        }
        CHECK(n > 0, "run %d kill %d: every serving child had exited", run, k + 1);
        offset = access_log_size();
        sleep_ms(700);
    }

    /* And the refresher, still under load. */
    refresher = refresher_pid();
    if (CHECK(refresher > 0, "run %d: no refresher pid in the ML00027/ML00009 lines",
              run)) {
        CHECK(kill(refresher, SIGKILL) == 0, "kill -9 %d (refresher): %s",
              (int)refresher, strerror(errno));
        t = now_ms();
        CHECK(httpd_error_log_wait(g_srv, "ML00023", deaths, WAIT_MS) >= 0,
              "run %d: no ML00023 line (refresher replaced) within %d ms of killing "
              "the refresher %d", run, WAIT_MS, (int)refresher);
        fprintf(stderr, "[run %d: killed children", run);
        for (k = 0; k < out->kills; k++) {
            fprintf(stderr, " %d", (int)killed[k]);
        }
        fprintf(stderr, ", refresher %d; ML00023 after %ld ms] ", (int)refresher,
                now_ms() - t);
    }
    sleep_ms(1500);
    load_stop(load, &totals);

    /* The refresh still happens. */
    slug = xasprintf("afterkill%d", run);
    url = xasprintf("https://example.com/afterkill/%d", run);
    path = xasprintf("/l/%s", slug);
    sql = xasprintf("INSERT INTO links (slug, url) VALUES ('%s', '%s');", slug, url);
    if (SQL(db, sql)) {
        SERVED_WITHIN("link added after the kills", &g_expect_main, NULL, path, 302, url);
    }

    out->requests = totals.requests;
    out->failures = totals.failures;
    out->wrong = totals.wrong;
    out->received = totals.requests - totals.failures;   /* 302s, right or wrong */
    CHECK(totals.not_started == 0, "%d load clients could not start", totals.not_started);
    CHECK(totals.requests > 100, "run %d: only %ld requests under load", run,
          totals.requests);
    CHECK(totals.wrong == 0, "run %d: %ld of %ld answers had a wrong Location", run,
          totals.wrong, totals.requests);
    CHECK(totals.failures <= (long)out->kills * LOAD_CLIENTS,
          "run %d: %ld of %ld requests failed; at most %d (one per client per "
          "kill) can have been on a killed connection", run, totals.failures,
          totals.requests, out->kills * LOAD_CLIENTS);
    non_302 = access_log_non_302(run_offset, first);
    CHECK(non_302 == 0, "%d load requests were answered with another status than 302 "
          "(access log), e.g. \"%s\"", non_302, first);

    /* Clicks: wait until the file holds at least every 302 received and
     * stays unchanged for RECHECK_MS. */
    t = now_ms();
    stable_since = now_ms();
    for (;;) {
        long now = db_clicks(db, LOAD_WHERE);
        if (now != in_db) {
            in_db = now;
            stable_since = now_ms();
        }
        if ((in_db >= base + out->received && now_ms() - stable_since >= RECHECK_MS)
            || now_ms() - t > WAIT_MS + RECHECK_MS) {
            break;
        }
        sleep_ms(200);
    }
    out->in_db = in_db - base;
    out->excess = out->in_db - out->received;
    fprintf(stderr, "[run %d: %ld requests, %ld failed, %ld 302s received, %ld clicks "
            "written: %+ld] ", run, out->requests, out->failures, out->received,
            out->in_db, out->excess);
    CHECK(out->excess >= 0, "run %d: clicks lost: %ld 302s received, the database has "
          "%ld more clicks on the load links", run, out->received, out->in_db);
    CHECK(out->excess <= (long)out->kills * LOAD_CLIENTS,
          "run %d: %ld clicks more than the %ld 302s received; at most %d requests "
          "can have been in flight at the kills", run, out->excess, out->received,
          out->kills * LOAD_CLIENTS);
    /* Whatever the in-flight requests did, the rest is exact from here. */
    g_expect_main = db_clicks(db, "1");
    free(slug);
    free(url);
    free(path);
    free(sql);
    free(db);
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
        if (run.excess != 0) {
            off++;
        }
        if (run.excess > max_excess) {
            max_excess = run.excess;
        }
        total_excess += run.excess;
        total_failures += run.failures;
    }
    fprintf(stderr, "[%s: %d run(s): clicks off in %d, by at most %ld (total %ld); "
            "%ld failed requests in all] ", g_srv->mpm, runs, off, max_excess,
            total_excess, total_failures);
}

/* ------------------------------------------------------------------ */
/* f. graceful restarts under load                                    */
/* ------------------------------------------------------------------ */

static void test_graceful_under_load(void)
{
    char *db = path_of("links.db");
    long base, start, slowest = 0;
    load_totals totals;
    load_run *load;
    int g, done = 0;

    if (!SYNC_CLICKS("before the graceful restarts", db, "1", g_expect_main)) {
        g_expect_main = db_clicks(db, "1");
    }
    base = db_clicks(db, LOAD_WHERE);
    load = load_start(g_srv->port, LOAD_CLIENTS);
    CHECK(load != NULL, "cannot start the load clients");
    start = now_ms();
    for (g = 0; g < GRACEFULS; g++) {
        long at = start + 1000 + g * (GRACEFUL_LOAD_MS - 3000) / GRACEFULS, t;

        while (now_ms() < at) {
            sleep_ms(50);
        }
        t = now_ms();
        if (CHECK(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1)) {
            done++;
        }
        if (now_ms() - t > slowest) {
            slowest = now_ms() - t;
        }
    }
    while (now_ms() - start < GRACEFUL_LOAD_MS) {
        sleep_ms(100);
    }
    load_stop(load, &totals);
    fprintf(stderr, "[%s: %ld requests in %ld ms, %d graceful restarts (slowest %ld "
            "ms), %ld failed, %ld wrong] ", g_srv->mpm, totals.requests,
            now_ms() - start, done, slowest, totals.failures, totals.wrong);
    CHECK(totals.not_started == 0, "%d load clients could not start", totals.not_started);
    CHECK(totals.requests > 100, "only %ld requests in %d ms", totals.requests,
          GRACEFUL_LOAD_MS);
    CHECK(totals.failures == 0, "%ld of %ld requests failed (transport error or wrong "
          "status) during the graceful restarts", totals.failures, totals.requests);
    CHECK(totals.wrong == 0, "%ld of %ld answers had a wrong Location", totals.wrong,
          totals.requests);
    g_expect_main += totals.requests - totals.failures;
    EXPECT_CLICKS("after 10 graceful restarts", db, LOAD_WHERE,
                  base + totals.requests - totals.failures);
    GET_MAIN("/l/abc", 302, "https://example.com/abc");
    free(db);
}

/* ------------------------------------------------------------------ */
/* g. the database cannot be written                                  */
/* ------------------------------------------------------------------ */

/* Fills the file system of dir: a file of 4 KiB blocks until ENOSPC. */
static long fill_up(const char *filler)
{
    char block[4096];
    long written = 0;
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    memset(block, 'x', sizeof block);
    if (fd < 0) {
        return -1;
    }
    for (;;) {
        ssize_t n = write(fd, block, sizeof block);
        if (n <= 0) {
            break;
        }
        written += n;
    }
    /* The last partial page too. */
    while (write(fd, block, 1) == 1) {
        written++;
    }
    fsync(fd);
    close(fd);
    return written;
}

static void test_database_unwritable(void)
{
    char *db = xasprintf("%s/links.db", g_full_dir);
    char *filler = xasprintf("%s/filler", g_full_dir);
    int ml19 = log_count("ML00019", db), ml25 = log_count("ML00025", db);
    int ml26 = log_count("ML00026", db), i;
    long clicks_before, filled = 0;
    http_request_spec req;
    http_response r;
    static const char *const json[] = { "Content-Type: application/json", NULL };
    char *type;

    SYNC_CLICKS("full/links.db before", db, "1", g_expect_full);
    clicks_before = g_expect_full;
    if (g_full_tmpfs) {
        filled = fill_up(filler);
        CHECK(filled >= 0, "cannot fill %s: %s", filler, strerror(errno));
        fprintf(stderr, "[tmpfs filled with %ld bytes] ", filled);
    }
    else {
        CHECK(chmod(db, 0444) == 0 && chmod(g_full_dir, 0555) == 0,
              "chmod 444 %s / 555 %s: %s", db, g_full_dir, strerror(errno));
        fprintf(stderr, "[no tmpfs (mount refused): the file is read-only instead] ");
    }

    /* Creation: 503 with a JSON error, one ML00019. */
    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.path = "/full/";
    req.headers = json;
    req.body = "{\"url\": \"https://example.com/full/new\"}";
    req.body_len = strlen(req.body);
    http_send(g_srv->port, &req, &r);
    type = http_header(&r, "Content-Type");
    CHECK(r.curl_code == 0 && r.status == 503, "POST /full/ on an unwritable database: "
          "%ld (%s), expected 503; body: %.300s", r.status, r.curl_code ? r.error : "ok",
          str_or_null(r.body));
    CHECK(type && strncmp(type, "application/json", 16) == 0 && r.body
          && strstr(r.body, "\"error\"") != NULL,
          "POST /full/ 503: not a JSON error: Content-Type \"%s\", body %.300s",
          str_or_null(type), str_or_null(r.body));
    CHECK(r.location == NULL, "POST /full/ 503 with a Location \"%s\"",
          str_or_null(r.location));
    free(type);
    http_response_free(&r);
    EXPECT_LOG_LINES("creation refused", "ML00019", db, ml19, 1);

    /* Redirects keep working; their clicks wait in memory. */
    for (i = 0; i < 10; i++) {
        get_at(__LINE__, &g_expect_full, NULL, "/full/fa", 302, "https://example.com/full/a");
        GET_MAIN("/l/abc", 302, "https://example.com/abc");
    }
    get_at(__LINE__, NULL, NULL, "/full/nosuch", 404, NULL);
    EXPECT_LOG_LINES("clicks not written", "ML00025", db, ml25, 1);
    sleep_ms(2000);   /* a few more failed flushes: still one line */
    for (i = 0; i < 5; i++) {
        get_at(__LINE__, &g_expect_full, NULL, "/full/fa", 302, "https://example.com/full/a");
    }
    CHECK(db_clicks(db, "1") == clicks_before, "full/links.db took clicks while it "
          "could not be written: %ld, expected still %ld", db_clicks(db, "1"),
          clicks_before);

    /* Writable again. */
    if (g_full_tmpfs) {
        CHECK(unlink(filler) == 0, "rm %s: %s", filler, strerror(errno));
    }
    else {
        chmod(g_full_dir, 0755);
        chmod(db, 0644);
    }
    EXPECT_LOG_LINES("writable again", "ML00026", db, ml26, 1);
    EXPECT_CLICKS("clicks kept while full", db, "1", g_expect_full);
    EXPECT_LOG_LINES("writable again", "ML00025", db, ml25, 1);
    EXPECT_LOG_LINES("writable again", "ML00019", db, ml19, 1);

    /* And creation works again. */
    http_send(g_srv->port, &req, &r);
    CHECK(r.curl_code == 0 && r.status == 201, "POST /full/ once writable: %ld (%s), "
          "expected 201; body %.300s", r.status, r.curl_code ? r.error : "ok",
          str_or_null(r.body));
    http_response_free(&r);
    free(db);
    free(filler);
}

/* ------------------------------------------------------------------ */
/* h. virtual hosts sharing a database, graceful restarts             */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *host;
    const char *path;
    long status;
    const char *location;
    int db;             /* which counter a 3xx adds to: 0 shared, 1 other */
} vhost_check;

static const vhost_check vhost_checks[] = {
    { "one.drill", "/same", 302, "https://shared.example/same", 0 },
    { "two.drill", "/same", 302, "https://shared.example/same", 0 },
    { "three.drill", "/same", 302, "https://other.example/same", 1 },
    { "one.drill", "/sh1", 302, "https://shared.example/1", 0 },
    { "two.drill", "/sh1", 302, "https://shared.example/1", 0 },
    { "three.drill", "/ot1", 302, "https://other.example/1", 1 },
    { "three.drill", "/sh1", 404, NULL, 1 },
    { "one.drill", "/ot1", 404, NULL, 0 },
    { "two.drill", "/ot1", 404, NULL, 0 },
    { "main.drill", "/l/same", 404, NULL, 0 },
};

typedef struct {
    int port;
    int stop;
    long requests, failures, clicks[2];
    char first_problem[512];
} vhost_user;

/* Asks vhost_checks in turn on one keep-alive connection until stopped.
 * No CUnit calls (not thread-safe): the main thread checks the counts. */
static void *vhost_user_run(void *arg)
{
    vhost_user *u = arg;
    http_client *http = http_client_new(u->port);
    size_t n = sizeof vhost_checks / sizeof *vhost_checks, i = 0;

    while (http && !__atomic_load_n(&u->stop, __ATOMIC_ACQUIRE)) {
        const vhost_check *c = &vhost_checks[i++ % n];
        http_response r;

        http_client_request(http, "GET", c->host, c->path, &r);
        u->requests++;
        if (r.curl_code == 0 && r.status >= 300 && r.status < 400) {
            u->clicks[c->db]++;
        }
        if (!answers(&r, c->status, c->location)) {
            if (u->failures++ == 0) {
                snprintf(u->first_problem, sizeof u->first_problem,
                         "GET %s (Host %s): %ld, Location \"%s\" (transport: %s); "
                         "expected %ld \"%s\"", c->path, c->host, r.status,
                         str_or_null(r.location), r.curl_code ? r.error : "ok",
                         c->status, str_or_null(c->location));
            }
        }
        http_response_free(&r);
    }
    if (http == NULL) {
        u->failures++;
        snprintf(u->first_problem, sizeof u->first_problem, "curl_easy_init failed");
    }
    http_client_free(http);
    return NULL;
}

static void test_vhosts_share_a_database(void)
{
    char *shared = path_of("shared.db"), *other = path_of("other.db");
    static vhost_user users[2];
    pthread_t threads[2];
    int started[2], g, i;
    long t;

    for (i = 0; i < 2; i++) {
        memset(&users[i], 0, sizeof users[i]);
        users[i].port = g_srv->port;
        started[i] = pthread_create(&threads[i], NULL, vhost_user_run, &users[i]) == 0;
        CHECK(started[i], "cannot start vhost client %d", i);
    }
    sleep_ms(500);
    for (g = 0; g < 4; g++) {
        t = now_ms();
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1);
        fprintf(stderr, "[graceful %d: %ld ms] ", g + 1, now_ms() - t);
        if (g == 1 && SQL(shared, "INSERT INTO links (slug, url) VALUES "
                                  "('shnew', 'https://shared.example/new');")) {
            SERVED_WITHIN("shared.db link via one.drill", &g_expect_shared, "one.drill",
                          "/shnew", 302, "https://shared.example/new");
            SERVED_WITHIN("shared.db link via two.drill", &g_expect_shared, "two.drill",
                          "/shnew", 302, "https://shared.example/new");
            get_at(__LINE__, &g_expect_other, "three.drill", "/shnew", 404, NULL);
            get_at(__LINE__, NULL, NULL, "/l/shnew", 404, NULL);
        }
        sleep_ms(700);
    }
    for (i = 0; i < 2; i++) {
        __atomic_store_n(&users[i].stop, 1, __ATOMIC_RELEASE);
    }
    for (i = 0; i < 2; i++) {
        if (started[i]) {
            pthread_join(threads[i], NULL);
        }
        fprintf(stderr, "[vhost client %d: %ld requests, %ld wrong] ", i,
                users[i].requests, users[i].failures);
        CHECK(users[i].requests > 50, "vhost client %d: only %ld requests", i,
              users[i].requests);
        CHECK(users[i].failures == 0, "vhost client %d: %ld of %ld answers wrong; "
              "first: %s", i, users[i].failures, users[i].requests,
              users[i].first_problem);
        g_expect_shared += users[i].clicks[0];
        g_expect_other += users[i].clicks[1];
    }
    get_at(__LINE__, &g_expect_shared, "two.drill", "/shnew", 302,
           "https://shared.example/new");
    get_at(__LINE__, &g_expect_other, "three.drill", "/same", 302,
           "https://other.example/same");
    EXPECT_CLICKS("shared.db (two vhosts)", shared, "1", g_expect_shared);
    EXPECT_CLICKS("other.db", other, "1", g_expect_other);
    free(shared);
    free(other);
}

/* ------------------------------------------------------------------ */
/* last                                                               */
/* ------------------------------------------------------------------ */

static void test_drills_log_clean(void)
{
    char *db = path_of("links.db");

    EXPECT_ERROR_LOG_CLEAN();
    /* And everything counted is in the files. */
    EXPECT_CLICKS("links.db at the end", db, "1", g_expect_main);
    free(db);
}

static CU_TestInfo drill_tests[] = {
    { "a. database deleted while serving", test_database_deleted },
    { "b. database replaced by garbage", test_database_garbage },
    { "c. database unreadable (chmod 000)", test_database_unreadable },
    { "c2. database unreadable (chmod 000) at a graceful restart",
      test_database_unreadable_restart },
    { "d. database locked by a long write transaction", test_database_locked },
    { "e. kill -9 of serving children and the refresher under load",
      test_kill_under_load },
    { "f. 10 graceful restarts under load", test_graceful_under_load },
    { "g. database cannot be written (disk full)", test_database_unwritable },
    { "h. vhosts sharing a database, graceful restarts", test_vhosts_share_a_database },
    { "error log: no crash; clicks all written", test_drills_log_clean },
    CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* suites                                                             */
/* ------------------------------------------------------------------ */

/* full/: a 128k tmpfs owned by the server's user if mount works here. */
static int prepare_full_dir(void)
{
    char *options;
    int rc;

    g_full_dir = path_of("full");
    if (mkdir(g_full_dir, 0755) != 0) {
        return -1;
    }
    options = xasprintf("size=128k,mode=0755,uid=%d,gid=%d", (int)g_srv->uid,
                        (int)g_srv->gid);
    g_full_tmpfs = mount("tmpfs", g_full_dir, "tmpfs", MS_NOSUID | MS_NODEV, options) == 0;
    if (!g_full_tmpfs) {
        fprintf(stderr, "drills: mount -t tmpfs on %s refused (%s); the disk-full "
                "drill makes the file read-only instead\n", g_full_dir, strerror(errno));
    }
    free(options);
    rc = httpd_chown(g_srv, g_full_dir);
    return rc;
}

static int drills_cleanup(void)
{
    if (g_full_dir) {
        chmod(g_full_dir, 0755);
        if (g_full_tmpfs && umount2(g_full_dir, MNT_DETACH) != 0) {
            fprintf(stderr, "drills: umount %s: %s\n", g_full_dir, strerror(errno));
        }
        free(g_full_dir);
        g_full_dir = NULL;
        g_full_tmpfs = 0;
    }
    return suite_cleanup();
}

static int start_drills_server(const char *mpm)
{
    char *links, *shared, *other, *full;
    int rc;

    g_failures_at_init = CU_get_number_of_failures();
    g_expect_main = g_expect_shared = g_expect_other = g_expect_full = 0;
    g_srv = httpd_new(mpm);
    if (g_srv == NULL) {
        g_tests_not_run += count_tests(drill_tests);
        return -1;
    }
    /* MinilinkCreate needs mod_slotmem_shm loaded before it. */
    httpd_load_module(g_srv, "slotmem_shm_module", "mod_slotmem_shm.so");
    links = path_of("links.db");
    shared = path_of("shared.db");
    other = path_of("other.db");
    rc = prepare_full_dir();
    full = xasprintf("%s/links.db", g_full_dir);
    rc |= db_store_load_links(links);
    rc |= db_store_links(links, main_links, 1);
    rc |= db_store_links(shared, shared_links, 2);
    rc |= db_store_links(other, other_links, 2);
    rc |= db_store_links(full, full_links, 1);
    if (rc != 0 || httpd_write_config(g_srv, drills_config) != 0
        || httpd_start(g_srv) != 0
        || httpd_error_log_wait(g_srv, "resuming normal operations", 0, WAIT_MS) < 0) {
        fprintf(stderr, "drills suite (%s): cannot start httpd\n", mpm);
        drills_cleanup();
        g_tests_not_run += count_tests(drill_tests);
        rc = -1;
    }
    free(links);
    free(shared);
    free(other);
    free(full);
    return rc;
}

static int init_drills_event(void) { return start_drills_server("event"); }
static int init_drills_worker(void) { return start_drills_server("worker"); }
static int init_drills_prefork(void) { return start_drills_server("prefork"); }

static CU_SuiteInfo drill_suites[] = {
    { "drills-event", init_drills_event, drills_cleanup, NULL, NULL, drill_tests },
    { "drills-worker", init_drills_worker, drills_cleanup, NULL, NULL, drill_tests },
    { "drills-prefork", init_drills_prefork, drills_cleanup, NULL, NULL, drill_tests },
    CU_SUITE_INFO_NULL,
};

void add_drill_suites(void)
{
    if (CU_register_suites(drill_suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot register the drill suites: %s\n",
                CU_get_error_msg());
    }
}
