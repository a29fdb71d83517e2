/*
 * test_httpd.c - mod_minilink inside a real Apache httpd.
 *
 * The HTTP tests run three times, once per MPM (suites "event", "worker",
 * "prefork"); each suite's init creates its databases and starts its own
 * server, reachable through g_srv, and its cleanup stops it.  The suite
 * "configtest" checks that `apache2 -t` refuses bad directives.  The
 * suites of test_live.c ("live-event", "live-worker", "live-prefork",
 * "live-overflow": live refresh and creation over HTTP) are registered here
 * too, and so are those of test_clicks.c, test_access.c, test_browser.c,
 * test_hostile.c, test_drills.c, test_findings.c and test_pgsql.c ("pgsql": two hosts sharing
 * a PostgreSQL that pg_harness.h starts); shared helpers are in ml_test.h,
 * the generic harness in harness.h.
 *
 *   MINILINK_MODULE=/abs/.libs/mod_minilink.so APACHE2=/usr/sbin/apache2 \
 *     tests/integration/httpd_tests
 *
 * TEST_TALLY=<file> appends "<tests passed> <tests failed>" to that file.
 * MINILINK_KEEP_TMP=1 keeps the servers' temporary directories.
 * MINILINK_SUITES=prefork,configtest runs only the suites named.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "harness.h"
#include "ml_test.h"
#include "../../links/ml_link.h"
#include "../../links/ml_store.h"

/* ------------------------------------------------------------------ */
/* the server under test and its databases                            */
/* ------------------------------------------------------------------ */

#define SLUG_64 "a123456789b123456789c123456789d123456789e123456789f123456789g123"

/*
 * Rows the schema's CHECK constraints accept but ml_link_problem() refuses:
 * the module must skip (and log) them rather than serve them.
 */
#define BROKEN_ROW(slug, url) \
    " (" slug ", " url ", NULL, NULL, 0, 1700000000, 1700000000)"
static const char *const main_links_sql_broken =
    "INSERT INTO links (slug, url, status, expires_at, disabled, created_at, updated_at) VALUES"
    BROKEN_ROW("'evil'", "'javascript:alert(1)'") ","
    BROKEN_ROW("'crlf'", "'https://example.com/x' || char(13) || char(10) || 'Set-Cookie: x=1'") ","
    BROKEN_ROW("'userinfo'", "'https://user:pw@evil.example/'") ","
    BROKEN_ROW("'relative'", "'/relative/path'") ";";

static const char *const broken_slugs[] = { "evil", "crlf", "userinfo", "relative" };

static int create_main_database(const char *path)
{
    apr_int64_t now = (apr_int64_t)time(NULL);
    link_spec links[] = {
        { "abc", "https://example.com/abc", 0, 0, 0 },
        { "q", "https://example.com/search?lang=en#top", 0, 0, 0 },
        { "frag", "https://example.com/page#section", 0, 0, 0 },
        { "enc", "https://example.com:8443/a%20b/c?d=e%26f", 0, 0, 0 },
        { "perm", "https://example.com/permanent", 301, 0, 0 },
        { "see", "https://example.com/see-other", 303, 0, 0 },
        { "temp", "https://example.com/temporary", 307, 0, 0 },
        { "perm8", "https://example.com/permanent-308", 308, 0, 0 },
        { "gone", "https://example.com/gone", 0, 0, 1 },
        { "expired", "https://example.com/expired", 0, now - 3600, 0 },
        { "future", "https://example.com/future", 0, now + 86400, 0 },
        { "CaseSlug", "https://example.com/upper", 0, 0, 0 },
        { "caseslug", "https://example.com/lower", 0, 0, 0 },
        { "dash_under-1", "https://example.com/dash", 0, 0, 0 },
        { SLUG_64, "https://example.com/long", 0, 0, 0 },
    };
    int rc = db_store_links(path, links, sizeof links / sizeof *links);

    if (rc == 0) {
        rc = db_store_load_links(path);
    }
    if (rc == 0) {
        rc = db_exec(path, main_links_sql_broken);
    }
    return rc;
}

static int create_databases(void)
{
    static const link_spec a_links[] = {
        { "same", "https://a.example/same", 0, 0, 0 },
        { "only-a", "https://a.example/only", 0, 0, 0 },
    };
    static const link_spec b_links[] = {
        { "same", "https://b.example/same", 0, 0, 0 },
        { "only-b", "https://b.example/only", 0, 0, 0 },
    };
    static const char garbage[] =
        "This is not an SQLite database: just some text pretending to be one.\n";
    char *links = path_of("links.db"), *a = path_of("a.db"), *b = path_of("b.db");
    char *bad = path_of("garbage.db"), *foreign = path_of("foreign.db");
    int rc = 0;

    rc |= create_main_database(links);
    rc |= db_store_links(a, a_links, 2);
    rc |= db_store_links(b, b_links, 2);
    rc |= write_file(bad, garbage, sizeof garbage - 1);
    rc |= httpd_chown(g_srv, bad);
    rc |= db_exec(foreign, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                           "INSERT INTO notes (body) VALUES ('not a minilink database');");
    free(links);
    free(a);
    free(b);
    free(bad);
    free(foreign);
    return rc;
}

/*
 * Main vhost (the default one for 127.0.0.1) with several locations, and
 * two name-based vhosts whose databases map the same slug differently.
 * links.db is named in the main server (relative: ServerRoot), inherited by
 * the main vhost, and named again with its absolute path in /shared.
 * missing.db is never created.  The main vhost's <Location /> matters to
 * the hostile-path tests: httpd normalises /l/%2e%2e to /, which would
 * otherwise hit <Directory /> Require all denied (403) instead of the module.
 * Live refresh is off here: these suites test what a graceful restart
 * picks up (the live-refresh tests have their own server).
 */
static const char *const http_config =
    "MinilinkRefreshInterval 0\n"
    "MinilinkDatabase links.db\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName main.test\n"
    "    ErrorDocument 404 \"No such short link\"\n"
    "    <Location />\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "    <Location /l>\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "    <Location /p>\n"
    "        SetHandler minilink\n"
    "        MinilinkRedirectStatus 301\n"
    "        MinilinkQueryString drop\n"
    "    </Location>\n"
    "    <Location /t>\n"
    "        SetHandler minilink\n"
    "        MinilinkRedirectStatus 308\n"
    "        MinilinkQueryString append\n"
    "    </Location>\n"
    "    <Location /shared>\n"
    "        SetHandler minilink\n"
    "        MinilinkDatabase @DIR@/links.db\n"
    "    </Location>\n"
    "    <Location /missing>\n"
    "        SetHandler minilink\n"
    "        MinilinkDatabase @DIR@/missing.db\n"
    "    </Location>\n"
    "    <Location /garbage>\n"
    "        SetHandler minilink\n"
    "        MinilinkDatabase @DIR@/garbage.db\n"
    "    </Location>\n"
    "    <Location /foreign>\n"
    "        SetHandler minilink\n"
    "        MinilinkDatabase @DIR@/foreign.db\n"
    "    </Location>\n"
    "</VirtualHost>\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName a.test\n"
    "    MinilinkDatabase a.db\n"
    "    <Location />\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "</VirtualHost>\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName b.test\n"
    "    MinilinkDatabase b.db\n"
    "    <Location />\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "</VirtualHost>\n";

/* ------------------------------------------------------------------ */
/* HTTP tests (run once per MPM)                                      */
/* ------------------------------------------------------------------ */

static void test_redirect_default_status(void)
{
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/abc", 302, "https://example.com/abc");          /* <Location /> */
    GET("/shared/abc", 302, "https://example.com/abc");   /* same file, absolute */
    GET("/l/dash_under-1", 302, "https://example.com/dash");
    GET("/l/" SLUG_64, 302, "https://example.com/long");
    GET("/l/enc", 302, "https://example.com:8443/a%20b/c?d=e%26f");
    GET("/l/q", 302, "https://example.com/search?lang=en#top");
}

static void test_redirect_link_status(void)
{
    GET("/l/perm", 301, "https://example.com/permanent");
    GET("/l/see", 303, "https://example.com/see-other");
    GET("/l/temp", 307, "https://example.com/temporary");
    GET("/l/perm8", 308, "https://example.com/permanent-308");
}

static void test_location_status_and_query_mode(void)
{
    /* /p: MinilinkRedirectStatus 301, MinilinkQueryString drop */
    GET("/p/abc", 301, "https://example.com/abc");
    GET("/p/abc?x=1", 301, "https://example.com/abc");
    GET("/p/q?x=1", 301, "https://example.com/search?lang=en#top");
    GET("/p/temp", 307, "https://example.com/temporary");   /* the link's own */
    /* /t: MinilinkRedirectStatus 308, MinilinkQueryString append */
    GET("/t/abc", 308, "https://example.com/abc");
    GET("/t/abc?x=1", 308, "https://example.com/abc?x=1");
    GET("/t/see", 303, "https://example.com/see-other");
}

static void test_query_append(void)
{
    http_response r;
    char *cookie;

    GET("/l/abc?x=1", 302, "https://example.com/abc?x=1");
    GET("/l/abc?a=1&b=2", 302, "https://example.com/abc?a=1&b=2");
    GET("/l/q?x=1", 302, "https://example.com/search?lang=en&x=1#top");
    GET("/l/frag?x=1", 302, "https://example.com/page?x=1#section");
    GET("/l/s01?x=1", 302, "https://example.com/load/01?n=1&x=1");
    GET("/l/perm?x=1", 301, "https://example.com/permanent?x=1");

    /* An encoded CRLF in the query stays encoded: no header is injected. */
    expect_at(__LINE__, "GET", NULL, "/l/abc?x=%0d%0aSet-Cookie:%20y=1", 302,
              "https://example.com/abc?x=%0d%0aSet-Cookie:%20y=1", &r);
    cookie = http_header(&r, "Set-Cookie");
    CHECK(cookie == NULL, "query CRLF: injected Set-Cookie header \"%s\"; headers:\n%s",
          str_or_null(cookie), str_or_null(r.headers));
    free(cookie);
    http_response_free(&r);
}

static void test_head(void)
{
    http_response r;

    expect_at(__LINE__, "HEAD", NULL, "/l/abc", 302, "https://example.com/abc", &r);
    CHECK(r.body_len == 0, "HEAD /l/abc: %zu body bytes", r.body_len);
    http_response_free(&r);
    EXPECT("HEAD", NULL, "/l/abc?x=1", 302, "https://example.com/abc?x=1");
    EXPECT("HEAD", NULL, "/l/perm", 301, "https://example.com/permanent");
    EXPECT("HEAD", NULL, "/l/nosuch", 404, NULL);
    EXPECT("HEAD", NULL, "/l/gone", 410, NULL);
}

static void test_unknown_slug(void)
{
    http_response r;

    expect_at(__LINE__, "GET", NULL, "/l/nosuch", 404, NULL, &r);
    CHECK(r.body && strstr(r.body, "No such short link") != NULL,
          "GET /l/nosuch: the ErrorDocument text is not in the body: \"%.300s\"",
          str_or_null(r.body));
    http_response_free(&r);
    GET("/nosuch", 404, NULL);
    GET("/shared/nosuch", 404, NULL);
    /* case-sensitive */
    GET("/l/ABC", 404, NULL);
    GET("/l/CaseSlug", 302, "https://example.com/upper");
    GET("/l/caseslug", 302, "https://example.com/lower");
    GET("/l/caseSlug", 404, NULL);
    /* the slug must match whole */
    GET("/l/ab", 404, NULL);
    GET("/l/abcd", 404, NULL);
}

/* A 404 (or Apache's own 400) with nothing injected into the headers. */
static void expect_refused_path(int line, const char *path, int allow_400)
{
    http_response r;
    char *cookie, *injected;

    http_request(g_srv->port, "GET", NULL, path, &r);
    if (check_at(line, r.curl_code == 0, "GET %s: transport error: %s", path, r.error)) {
        check_at(line, r.status == 404 || (allow_400 && r.status == 400),
                 "GET %s: status %ld, expected 404%s", path, r.status,
                 allow_400 ? " (or 400)" : "");
        check_at(line, r.location == NULL, "GET %s: Location \"%s\"", path,
                 str_or_null(r.location));
        cookie = http_header(&r, "Set-Cookie");
        injected = http_header(&r, "X-Injected");
        check_at(line, cookie == NULL && injected == NULL,
                 "GET %s: injected header; headers:\n%s", path, r.headers);
        free(cookie);
        free(injected);
    }
    http_response_free(&r);
}

static void test_malformed_slugs(void)
{
    /* The module sees these and must answer 404 itself. */
    expect_refused_path(__LINE__, "/l/a.b", 0);
    expect_refused_path(__LINE__, "/l/" SLUG_64 "x", 0);         /* 65 chars */
    expect_refused_path(__LINE__, "/l/abc%20def", 0);
    expect_refused_path(__LINE__, "/l/ab%c3%a9", 0);
    expect_refused_path(__LINE__, "/l/abc~", 0);
    expect_refused_path(__LINE__, "/l/abc%09", 0);
    /* Apache's parser may step in first. */
    expect_refused_path(__LINE__, "/l/%2e%2e", 1);
    expect_refused_path(__LINE__, "/l/..", 1);
    expect_refused_path(__LINE__, "/l/abc%0d%0aSet-Cookie:%20x=1", 1);
    expect_refused_path(__LINE__, "/l/abc%0aX-Injected:%201", 1);
    expect_refused_path(__LINE__, "/l/abc%0d%0a%0d%0a<html>", 1);
}

static void test_percent_decoding(void)
{
    GET("/l/%61bc", 302, "https://example.com/abc");
    GET("/l/%61%62%63", 302, "https://example.com/abc");
    GET("/l/%43aseSlug", 302, "https://example.com/upper");
    GET("/l/dash%5Funder%2D1", 302, "https://example.com/dash");
}

static void test_gone(void)
{
    GET("/l/gone", 410, NULL);
    GET("/l/expired", 410, NULL);
    GET("/p/gone", 410, NULL);
    GET("/l/future", 302, "https://example.com/future");
}

static void test_methods_not_allowed(void)
{
    static const char *const methods[] = { "POST", "PUT", "DELETE", "OPTIONS" };
    size_t i;

    for (i = 0; i < sizeof methods / sizeof *methods; i++) {
        http_response r;

        expect_at(__LINE__, methods[i], NULL, "/l/abc", 405, NULL, &r);
        CHECK(r.allow && strstr(r.allow, "GET") != NULL,
              "%s /l/abc: Allow \"%s\" does not contain GET", methods[i],
              str_or_null(r.allow));
        http_response_free(&r);
    }
}

static void test_broken_rows(void)
{
    size_t i;

    for (i = 0; i < sizeof broken_slugs / sizeof *broken_slugs; i++) {
        char *path = xasprintf("/l/%s", broken_slugs[i]);
        expect_refused_path(__LINE__, path, 0);
        CHECK(ml_log_lines_naming(broken_slugs[i]) >= 1,
              "no ML-tagged error-log line names the broken row \"%s\"",
              broken_slugs[i]);
        free(path);
    }
    /* the other links of the same database still work */
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/l/s00", 302, "https://example.com/load/00");
}

static void test_name_based_vhosts(void)
{
    EXPECT("GET", "a.test", "/same", 302, "https://a.example/same");
    EXPECT("GET", "b.test", "/same", 302, "https://b.example/same");
    EXPECT("GET", "a.test", "/only-a", 302, "https://a.example/only");
    EXPECT("GET", "b.test", "/only-b", 302, "https://b.example/only");
    EXPECT("GET", "a.test", "/only-b", 404, NULL);
    EXPECT("GET", "b.test", "/only-a", 404, NULL);
    EXPECT("GET", "b.test", "/abc", 404, NULL);
    EXPECT("GET", "main.test", "/l/same", 404, NULL);
    EXPECT("GET", "main.test", "/l/abc", 302, "https://example.com/abc");
    EXPECT("HEAD", "a.test", "/same", 302, "https://a.example/same");
}

static void test_database_errors(void)
{
    static const char *const names[] = { "missing.db", "garbage.db", "foreign.db" };
    size_t i;

    for (i = 0; i < sizeof names / sizeof *names; i++) {
        char *file = path_of(names[i]);
        char *slash = strchr(names[i], '.');
        char *location = xasprintf("/%.*s/abc", (int)(slash - names[i]), names[i]);
        int lines = ml_log_lines_naming(file);

        GET(location, 503, NULL);
        CHECK(lines == 1, "%d ML-tagged error-log lines name %s, expected 1",
              lines, file);
        free(file);
        free(location);
    }
    /* the other locations keep working */
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/shared/abc", 302, "https://example.com/abc");
    EXPECT("GET", "a.test", "/same", 302, "https://a.example/same");
}

/* Two substrings that a line must both contain. */
typedef struct {
    const char *a;
    const char *b;
} two_needles;

static int ml_line_names_both(const char *line, void *ctx)
{
    const two_needles *n = ctx;
    return ml_line_names(line, (void *)n->a) && strstr(line, n->b) != NULL;
}

/*
 * links.db is named twice (relative in the main server, inherited by the
 * main vhost's locations; absolute in /shared) but loaded into one cache:
 * each of its broken rows is reported once at startup, not once per
 * location.  Must run before the graceful restarts, which load it again.
 */
static void test_one_cache_per_file(void)
{
    char *file = path_of("links.db");
    size_t i;

    for (i = 0; i < sizeof broken_slugs / sizeof *broken_slugs; i++) {
        char *quoted = xasprintf("'%s'", broken_slugs[i]);
        two_needles n = { file, quoted };
        int lines = httpd_error_log_count_if(g_srv, ml_line_names_both, &n);

        CHECK(lines == 1, "%d ML-tagged lines report %s in %s at startup, "
              "expected 1 (one load per file)", lines, quoted, file);
        free(quoted);
    }
    GET("/shared/perm", 301, "https://example.com/permanent");
    GET("/perm", 301, "https://example.com/permanent");
    free(file);
}

static void test_cache_survives_rename(void)
{
    char *db = path_of("links.db"), *away = path_of("links.db.away");

    if (!CHECK(rename(db, away) == 0, "rename %s: %s", db, strerror(errno))) {
        goto out;
    }
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/shared/q?x=1", 302, "https://example.com/search?lang=en&x=1#top");
    GET("/l/s05", 302, "https://example.com/load/05?n=5");
    GET("/l/nosuch", 404, NULL);
    GET("/l/gone", 410, NULL);
    CHECK(rename(away, db) == 0, "rename back %s: %s", away, strerror(errno));
    GET("/l/abc", 302, "https://example.com/abc");
out:
    free(db);
    free(away);
}

static void test_cache_ignores_exclusive_lock(void)
{
    char *path = path_of("links.db");
    sqlite3 *db = NULL;
    char *error = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 0);
        rc = sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, &error);
    }
    if (CHECK(rc == SQLITE_OK, "BEGIN EXCLUSIVE on %s: %s", path,
              error ? error : sqlite3_errmsg(db))) {
        GET("/l/abc", 302, "https://example.com/abc");
        GET("/l/s07?x=2", 302, "https://example.com/load/07?n=7&x=2");
        GET("/l/nosuch", 404, NULL);
        EXPECT("GET", "a.test", "/same", 302, "https://a.example/same");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_free(error);
    sqlite3_close(db);
    free(path);
}

/* --- graceful restart under load ---------------------------------- */

static void test_graceful_under_load(void)
{
    static const link_spec fresh = { "fresh", "https://example.com/fresh", 0, 0, 0 };
    load_run *load;
    load_totals totals;
    char *db = path_of("links.db");
    int g;
    long t0, t1, t2, t3, graceful_ms[3] = { 0, 0, 0 };
    http_response r;

    GET("/l/fresh", 404, NULL);
    load = load_start(g_srv->port, LOAD_CLIENTS);
    CHECK(load != NULL, "cannot start the load clients");
    sleep_ms(500);

    /* Not served before a graceful restart. */
    t0 = now_ms();
    CHECK(db_store_links(db, &fresh, 1) == 0, "cannot add \"fresh\" to %s", db);
    t1 = now_ms();
    expect_at(__LINE__, "GET", NULL, "/l/fresh", 404, NULL, &r);
    t2 = now_ms();
    if (r.status != 404) {
        fprintf(stderr, "    (adding \"fresh\" took %ld ms; the GET was answered "
                        "%ld ms after that)\n", t1 - t0, t2 - t1);
    }
    http_response_free(&r);

    for (g = 0; g < 3; g++) {
        long t = now_ms();
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1);
        graceful_ms[g] = now_ms() - t;
        sleep_ms(1000);
    }

    t3 = now_ms();
    load_stop(load, &totals);
    fprintf(stderr, "[%s: %ld requests; add %ld ms, GET %ld ms, graceful restarts "
                    "%ld, %ld, %ld ms, stopping clients %ld ms] ", g_srv->mpm,
            totals.requests, t1 - t0, t2 - t1, graceful_ms[0], graceful_ms[1],
            graceful_ms[2], now_ms() - t3);
    CHECK(totals.not_started == 0, "%d load clients could not start",
          totals.not_started);
    CHECK(totals.requests > 100, "only %ld requests during the graceful restarts",
          totals.requests);
    CHECK(totals.failures == 0, "%ld of %ld requests failed (transport error or "
          "wrong status)", totals.failures, totals.requests);
    CHECK(totals.wrong == 0, "%ld of %ld requests had a wrong Location",
          totals.wrong, totals.requests);

    GET("/l/fresh", 302, "https://example.com/fresh");
    GET("/l/abc", 302, "https://example.com/abc");
    free(db);
}

/* --- last: nothing crashed ---------------------------------------- */

static void test_error_log_clean(void)
{
    EXPECT_ERROR_LOG_CLEAN();
}

static CU_TestInfo http_tests[] = {
    { "redirect with the default status", test_redirect_default_status },
    { "redirect with the link's status", test_redirect_link_status },
    { "location status and query mode", test_location_status_and_query_mode },
    { "query string appended", test_query_append },
    { "HEAD", test_head },
    { "unknown slug -> 404", test_unknown_slug },
    { "malformed slugs -> 404, nothing injected", test_malformed_slugs },
    { "percent-decoded slug", test_percent_decoding },
    { "disabled and expired -> 410", test_gone },
    { "other methods -> 405 with Allow", test_methods_not_allowed },
    { "broken rows skipped and logged", test_broken_rows },
    { "name-based virtual hosts", test_name_based_vhosts },
    { "missing/garbage/foreign database -> 503", test_database_errors },
    { "one cache per database file", test_one_cache_per_file },
    { "redirects survive renaming the database", test_cache_survives_rename },
    { "redirects while the database is locked", test_cache_ignores_exclusive_lock },
    { "graceful restarts under load", test_graceful_under_load },
    { "error log: no crash, no core error", test_error_log_clean },
    CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* configtest suite (no server started)                               */
/* ------------------------------------------------------------------ */

/* A vhost with one minilink location holding the given directives. */
static int configtest_with(const char *directives, char **output)
{
    char *text = xasprintf(
        "<VirtualHost 127.0.0.1:@PORT@>\n"
        "    MinilinkDatabase links.db\n"
        "    <Location /l>\n"
        "        SetHandler minilink\n"
        "%s"
        "    </Location>\n"
        "</VirtualHost>\n", directives);
    int rc = httpd_write_config(g_srv, text);

    free(text);
    if (rc != 0) {
        *output = xasprintf("cannot write the configuration");
        return -1;
    }
    return httpd_configtest(g_srv, output);
}

static void expect_refused_at(int line, const char *directives, const char *directive)
{
    char *output = NULL;
    int rc = configtest_with(directives, &output);

    check_at(line, rc > 0, "apache2 -t with \"%s\" exited %d, expected non-zero; "
             "output:\n%s", directives, rc, output);
    check_at(line, strstr(output, directive) != NULL,
             "apache2 -t with \"%s\": output does not name %s:\n%s",
             directives, directive, output);
    free(output);
}

#define EXPECT_REFUSED(directives, directive) \
    expect_refused_at(__LINE__, directives, directive)

static void test_configtest_good(void)
{
    char *output = NULL;
    int rc = configtest_with(
        "        MinilinkRedirectStatus 301\n"
        "        MinilinkQueryString drop\n"
        "    </Location>\n"
        "    <Location /a>\n"
        "        SetHandler minilink\n"
        "        MinilinkRedirectStatus 302\n"
        "        MinilinkQueryString append\n"
        "    </Location>\n"
        "    <Location /b>\n"
        "        SetHandler minilink\n"
        "        MinilinkRedirectStatus 303\n"
        "    </Location>\n"
        "    <Location /c>\n"
        "        SetHandler minilink\n"
        "        MinilinkRedirectStatus 307\n"
        "        MinilinkDatabase @DIR@/links.db\n"
        "    </Location>\n"
        "    <Location /d>\n"
        "        SetHandler minilink\n"
        "        MinilinkRedirectStatus 308\n", &output);

    CHECK(rc == 0, "apache2 -t on a good configuration exited %d:\n%s", rc, output);
    CHECK(strstr(output, "Syntax OK") != NULL, "no \"Syntax OK\" in:\n%s", output);
    free(output);
}

static void test_configtest_status_404(void)
{
    EXPECT_REFUSED("        MinilinkRedirectStatus 404\n", "MinilinkRedirectStatus");
}

static void test_configtest_status_abc(void)
{
    EXPECT_REFUSED("        MinilinkRedirectStatus abc\n", "MinilinkRedirectStatus");
}

static void test_configtest_query_maybe(void)
{
    EXPECT_REFUSED("        MinilinkQueryString maybe\n", "MinilinkQueryString");
}

static void test_configtest_empty_database(void)
{
    EXPECT_REFUSED("        MinilinkDatabase \"\"\n", "MinilinkDatabase");
}

/* A blocked host is read as browsers read hosts: one no browser would
 * reach is a mistake to say at once. */
static void test_configtest_block_hosts_not_hosts(void)
{
    EXPECT_REFUSED("        MinilinkCreateBlockHosts foo.1\n", "MinilinkCreateBlockHosts");
    EXPECT_REFUSED("        MinilinkCreateBlockHosts 10.0.0.0/8\n", "MinilinkCreateBlockHosts");
}

static CU_TestInfo configtest_tests[] = {
    { "good configuration -> Syntax OK", test_configtest_good },
    { "MinilinkRedirectStatus 404 refused", test_configtest_status_404 },
    { "MinilinkRedirectStatus abc refused", test_configtest_status_abc },
    { "MinilinkQueryString maybe refused", test_configtest_query_maybe },
    { "MinilinkDatabase \"\" refused", test_configtest_empty_database },
    { "MinilinkCreateBlockHosts foo.1 and 10.0.0.0/8 refused", test_configtest_block_hosts_not_hosts },
    CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* suites                                                             */
/* ------------------------------------------------------------------ */

static int http_suite_init(const char *mpm)
{
    g_failures_at_init = CU_get_number_of_failures();
    g_srv = httpd_new(mpm);
    if (g_srv == NULL) {
        g_tests_not_run += count_tests(http_tests);
        return -1;
    }
    if (create_databases() != 0 || httpd_write_config(g_srv, http_config) != 0
        || httpd_start(g_srv) != 0) {
        fprintf(stderr, "suite %s: cannot start httpd\n", mpm);
        httpd_free(g_srv);
        g_srv = NULL;
        g_tests_not_run += count_tests(http_tests);
        return -1;
    }
    return 0;
}

static int init_event(void) { return http_suite_init("event"); }
static int init_worker(void) { return http_suite_init("worker"); }
static int init_prefork(void) { return http_suite_init("prefork"); }

static int configtest_init(void)
{
    static const link_spec one = { "abc", "https://example.com/abc", 0, 0, 0 };
    char *db;
    int rc;

    g_failures_at_init = CU_get_number_of_failures();
    g_srv = httpd_new("event");
    if (g_srv == NULL) {
        g_tests_not_run += count_tests(configtest_tests);
        return -1;
    }
    db = path_of("links.db");
    rc = db_store_links(db, &one, 1);
    free(db);
    if (rc != 0) {
        httpd_free(g_srv);
        g_srv = NULL;
        g_tests_not_run += count_tests(configtest_tests);
    }
    return rc;
}

static CU_SuiteInfo suites[] = {
    { "configtest", configtest_init, suite_cleanup, NULL, NULL, configtest_tests },
    { "event", init_event, suite_cleanup, NULL, NULL, http_tests },
    { "worker", init_worker, suite_cleanup, NULL, NULL, http_tests },
    { "prefork", init_prefork, suite_cleanup, NULL, NULL, http_tests },
    CU_SUITE_INFO_NULL,
};

/* MINILINK_SUITES="event,configtest" runs only those suites. */
static void select_suites(const char *names)
{
    CU_pSuite suite;

    if (names == NULL || *names == '\0') {
        return;
    }
    for (suite = CU_get_registry()->pSuite; suite; suite = suite->pNext) {
        size_t len = strlen(suite->pName);
        const char *p = names;
        int wanted = 0;

        while ((p = strstr(p, suite->pName)) != NULL) {
            if ((p == names || p[-1] == ',') && (p[len] == '\0' || p[len] == ',')) {
                wanted = 1;
                break;
            }
            p += len;
        }
        CU_set_suite_active(suite, wanted ? CU_TRUE : CU_FALSE);
    }
}

int main(void)
{
    const char *tally = getenv("TEST_TALLY");
    unsigned int run, failed, passed;
    int status;

    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK || apr_initialize() != APR_SUCCESS
        || apr_pool_create(&g_pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "cannot initialise curl or APR\n");
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS || CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
    add_live_suites();
    add_clicks_suites();
    add_access_suites();
    add_early_suites();
    add_browser_suites();
    add_hostile_suites();
    add_drill_suites();
    add_pgsql_suites();
    add_findings_suites();
    select_suites(getenv("MINILINK_SUITES"));
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();

    run = CU_get_number_of_tests_run();
    failed = CU_get_number_of_tests_failed() + g_tests_not_run;
    passed = run - CU_get_number_of_tests_failed();
    status = (failed || CU_get_number_of_suites_failed()
              || CU_get_run_summary()->nAssertsFailed) ? 1 : 0;
    printf("\nintegration: %u tests passed, %u failed (%u not run: suite init failed)\n",
           passed, failed, g_tests_not_run);
    if (tally && *tally) {
        FILE *f = fopen(tally, "a");
        if (f) {
            fprintf(f, "%u %u\n", passed, failed);
            fclose(f);
        }
    }
    CU_cleanup_registry();
    apr_pool_destroy(g_pool);
    apr_terminate();
    curl_global_cleanup();
    return status;
}
