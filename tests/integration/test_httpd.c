/*
 * test_httpd.c - redirects and every status, on a server that loads its databases at startup (no
 * live refresh: what a graceful restart picks up).
 *
 * Suites "event", "worker" and "prefork"; suite "configtest" checks that `apache2 -t` refuses bad
 * directives (no server started).
 *
 * The main vhost (the default one for 127.0.0.1) has several locations, and two name-based vhosts
 * map the same slug differently.  links.db is named in the main server (relative: ServerRoot),
 * inherited by the main vhost, and again with its absolute path in /shared; missing.db is never
 * made. The main vhost's <Location /> matters to the hostile-path tests: httpd normalises
 * /l/%2e%2e to /, which would otherwise hit <Directory /> Require all denied (403) instead of the
 * module.
 */

#include "ml_test.h"

#define SLUG_64 "a123456789b123456789c123456789d123456789e123456789f123456789g123"

static const char http_config[] =
    "MinilinkRefreshInterval 0\n"
    "MinilinkDatabase links.db\n"
    VHOST("main.test",
          "ErrorDocument 404 \"No such short link\"\n"
          MINILINK_AT("/", "")
          MINILINK_AT("/l", "")
          MINILINK_AT("/p", "MinilinkRedirectStatus 301\nMinilinkQueryString drop\n")
          MINILINK_AT("/t", "MinilinkRedirectStatus 308\nMinilinkQueryString append\n")
          MINILINK_AT("/shared", "MinilinkDatabase @DIR@/links.db\n")
          MINILINK_AT("/missing", "MinilinkDatabase @DIR@/missing.db\n")
          MINILINK_AT("/garbage", "MinilinkDatabase @DIR@/garbage.db\n")
          MINILINK_AT("/foreign", "MinilinkDatabase @DIR@/foreign.db\n"))
    VHOST("a.test", "MinilinkDatabase a.db\n" MINILINK_AT("/", ""))
    VHOST("b.test", "MinilinkDatabase b.db\n" MINILINK_AT("/", ""));

static const link_spec main_links[] = {
    { "abc", "https://example.com/abc", 0, 0, 0 },
    { "q", "https://example.com/search?lang=en#top", 0, 0, 0 },
    { "frag", "https://example.com/page#section", 0, 0, 0 },
    { "enc", "https://example.com:8443/a%20b/c?d=e%26f", 0, 0, 0 },
    { "perm", "https://example.com/permanent", 301, 0, 0 },
    { "see", "https://example.com/see-other", 303, 0, 0 },
    { "temp", "https://example.com/temporary", 307, 0, 0 },
    { "perm8", "https://example.com/permanent-308", 308, 0, 0 },
    { "gone", "https://example.com/gone", 0, 0, 1 },
    { "expired", "https://example.com/expired", 0, 1000000000, 0 },   /* 2001 */
    { "future", "https://example.com/future", 0, 4102444800, 0 },     /* 2100 */
    { "CaseSlug", "https://example.com/upper", 0, 0, 0 },
    { "caseslug", "https://example.com/lower", 0, 0, 0 },
    { "dash_under-1", "https://example.com/dash", 0, 0, 0 },
    { SLUG_64, "https://example.com/long", 0, 0, 0 },
};

/* Rows the schema's CHECK constraints accept but ml_link_problem() refuses: the module must skip
 * (and log) them rather than serve them. */
#define BROKEN_ROW(slug, url) " (" slug ", " url ", NULL, NULL, 0, 1700000000, 1700000000)"
static const char broken_rows_sql[] =
    "INSERT INTO links (slug, url, status, expires_at, disabled, created_at, updated_at) VALUES"
    BROKEN_ROW("'evil'", "'javascript:alert(1)'") ","
    BROKEN_ROW("'crlf'", "'https://example.com/x' || char(13) || char(10) || 'Set-Cookie: x=1'") ","
    BROKEN_ROW("'userinfo'", "'https://user:pw@evil.example/'") ","
    BROKEN_ROW("'relative'", "'/relative/path'") ";";

static const char *const broken_slugs[] = { "evil", "crlf", "userinfo", "relative" };

/* The other databases: two vhosts', text that is not SQLite, and an SQLite file that is not ours.
 */
static int prepare_databases(void)
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

    return db_store_links(tpath("a.db"), a_links, 2) | db_store_links(tpath("b.db"), b_links, 2)
        | write_file(tpath("garbage.db"), garbage, sizeof garbage - 1)
        | httpd_chown(g_srv, tpath("garbage.db"))
        | db_exec(tpath("foreign.db"), "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                  "INSERT INTO notes (body) VALUES ('not a minilink database');");
}

/* ---- HTTP tests (run once per MPM) ---------------------------------- */

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
    http_response *r;
    char *cookie;

    GET("/l/abc?x=1", 302, "https://example.com/abc?x=1");
    GET("/l/abc?a=1&b=2", 302, "https://example.com/abc?a=1&b=2");
    GET("/l/q?x=1", 302, "https://example.com/search?lang=en&x=1#top");
    GET("/l/frag?x=1", 302, "https://example.com/page?x=1#section");
    GET("/l/s01?x=1", 302, "https://example.com/load/01?n=1&x=1");
    GET("/l/perm?x=1", 301, "https://example.com/permanent?x=1");
    /* An encoded CRLF in the query stays encoded: no header is injected. */
    r = GET("/l/abc?x=%0d%0aSet-Cookie:%20y=1", 302,
            "https://example.com/abc?x=%0d%0aSet-Cookie:%20y=1");
    cookie = tkeep(http_header(r, "Set-Cookie"));
    CHECK(cookie == NULL, "query CRLF: injected Set-Cookie header \"%s\"; headers:\n%s",
          str_or_null(cookie), r->headers);
}

static void test_head(void)
{
    static const http_case cases[] = {
        { "HEAD", NULL, "/l/abc?x=1", 302, "https://example.com/abc?x=1" },
        { "HEAD", NULL, "/l/perm", 301, "https://example.com/permanent" },
        { "HEAD", NULL, "/l/nosuch", 404, NULL },
        { "HEAD", NULL, "/l/gone", 410, NULL },
    };
    http_response *r = EXPECT("HEAD", NULL, "/l/abc", 302, "https://example.com/abc");

    CHECK(r->body_len == 0, "HEAD /l/abc: %zu body bytes", r->body_len);
    EXPECT_CASES(cases);
}

static void test_unknown_slug(void)
{
    http_response *r = GET("/l/nosuch", 404, NULL);

    CHECK(strstr(r->body, "No such short link") != NULL, "GET /l/nosuch: the "
          "ErrorDocument text is not in the body: \"%.300s\"", r->body);
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
    http_response *r = ask(g_srv, "GET", NULL, path);
    char *cookie, *injected;

    if (!check_at(line, r->curl_code == 0, "GET %s: transport error: %s", path, r->error)) {
        return;
    }
    check_at(line, r->status == 404 || (allow_400 && r->status == 400), "GET %s: status "
             "%ld, expected 404%s", path, r->status, allow_400 ? " (or 400)" : "");
    check_at(line, r->location == NULL, "GET %s: Location \"%s\"", path, str_or_null(r->location));
    cookie = tkeep(http_header(r, "Set-Cookie"));
    injected = tkeep(http_header(r, "X-Injected"));
    check_at(line, cookie == NULL && injected == NULL, "GET %s: injected header; "
             "headers:\n%s", path, r->headers);
}

static void test_malformed_slugs(void)
{
    /* The module sees these and must answer 404 itself. */
    expect_refused_path(__LINE__, "/l/a.b", 0);
    expect_refused_path(__LINE__, "/l/" SLUG_64 "x", 0);   /* 65 characters */
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
    for (i = 0; i < ARRAY_LEN(methods); i++) {
        http_response *r = EXPECT(methods[i], NULL, "/l/abc", 405, NULL);

        CHECK(r->allow && strstr(r->allow, "GET") != NULL, "%s /l/abc: Allow \"%s\" does "
              "not contain GET", methods[i], str_or_null(r->allow));
    }
}

static void test_broken_rows(void)
{
    size_t i;
    for (i = 0; i < ARRAY_LEN(broken_slugs); i++) {
        expect_refused_path(__LINE__, tfmt("/l/%s", broken_slugs[i]), 0);
        CHECK(ml_log_lines_naming(broken_slugs[i]) >= 1, "no ML-tagged error-log line "
              "names the broken row \"%s\"", broken_slugs[i]);
    }
    /* the other links of the same database still work */
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/l/s00", 302, "https://example.com/load/00");
}

static void test_name_based_vhosts(void)
{
    static const http_case cases[] = {
        { "GET", "a.test", "/same", 302, "https://a.example/same" },
        { "GET", "b.test", "/same", 302, "https://b.example/same" },
        { "GET", "a.test", "/only-a", 302, "https://a.example/only" },
        { "GET", "b.test", "/only-b", 302, "https://b.example/only" },
        { "GET", "a.test", "/only-b", 404, NULL },
        { "GET", "b.test", "/only-a", 404, NULL },
        { "GET", "b.test", "/abc", 404, NULL },
        { "GET", "main.test", "/l/same", 404, NULL },
        { "GET", "main.test", "/l/abc", 302, "https://example.com/abc" },
        { "HEAD", "a.test", "/same", 302, "https://a.example/same" },
    };

    EXPECT_CASES(cases);
}

static void test_database_errors(void)
{
    static const char *const names[] = { "missing", "garbage", "foreign" };
    size_t i;

    for (i = 0; i < ARRAY_LEN(names); i++) {
        char *file = tpath(tfmt("%s.db", names[i]));
        int lines = ml_log_lines_naming(file);

        GET(tfmt("/%s/abc", names[i]), 503, NULL);
        CHECK(lines == 1, "%d ML-tagged error-log lines name %s, expected 1", lines, file);
    }
    /* the other locations keep working */
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/shared/abc", 302, "https://example.com/abc");
    EXPECT("GET", "a.test", "/same", 302, "https://a.example/same");
}

/* links.db is named twice (relative in the main server, inherited by the main vhost's locations;
 * absolute in /shared) but loaded into one cache: each of its broken rows is reported once at
 * startup, not once per location.  Must run before the graceful restarts, which load it again. */
static void test_one_cache_per_file(void)
{
    size_t i;
    for (i = 0; i < ARRAY_LEN(broken_slugs); i++) {
        char *quoted = tfmt("'%s'", broken_slugs[i]);
        int lines = log_lines(g_srv, (log_filter){ quoted, tpath("links.db"), 1, 0 });

        CHECK(lines == 1, "%d ML-tagged lines report %s in %s at startup, expected 1 (one "
              "load per file)", lines, quoted, tpath("links.db"));
    }
    GET("/shared/perm", 301, "https://example.com/permanent");
    GET("/perm", 301, "https://example.com/permanent");
}

static void test_cache_survives_rename(void)
{
    char *db = tpath("links.db"), *away = tpath("links.db.away");
    if (!CHECK(rename(db, away) == 0, "rename %s: %s", db, strerror(errno))) {
        return;
    }
    GET("/l/abc", 302, "https://example.com/abc");
    GET("/shared/q?x=1", 302, "https://example.com/search?lang=en&x=1#top");
    GET("/l/s05", 302, "https://example.com/load/05?n=5");
    GET("/l/nosuch", 404, NULL);
    GET("/l/gone", 410, NULL);
    CHECK(rename(away, db) == 0, "rename back %s: %s", away, strerror(errno));
    GET("/l/abc", 302, "https://example.com/abc");
}

static void test_cache_ignores_exclusive_lock(void)
{
    char *path = tpath("links.db");
    sqlite3 *db = db_open_as_root(path);
    int rc = db ? sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) : SQLITE_CANTOPEN;

    if (CHECK(rc == SQLITE_OK, "BEGIN EXCLUSIVE on %s: %s", path,
              db ? sqlite3_errmsg(db) : "cannot open")) {
        GET("/l/abc", 302, "https://example.com/abc");
        GET("/l/s07?x=2", 302, "https://example.com/load/07?n=7&x=2");
        GET("/l/nosuch", 404, NULL);
        EXPECT("GET", "a.test", "/same", 302, "https://a.example/same");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    db_close_as_root(db, path);
}

static void test_graceful_under_load(void)
{
    static const link_spec fresh = { "fresh", "https://example.com/fresh", 0, 0, 0 };
    GET("/l/fresh", 404, NULL);
    CHECK(db_store_links(tpath("links.db"), &fresh, 1) == 0, "cannot add \"fresh\"");
    GET("/l/fresh", 404, NULL);   /* not served before a graceful restart */
    gracefuls_under_load_at(HERE, 3, 1000, 0, NULL);
    GET("/l/fresh", 302, "https://example.com/fresh");
    GET("/l/abc", 302, "https://example.com/abc");
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
    CU_TEST_INFO_NULL,
};

static const suite_group http_group = {
    .name = "", .tests = http_tests, .config = http_config, .links = main_links,
    .nlinks = ARRAY_LEN(main_links), .load_links = 1, .links_sql = broken_rows_sql,
    .prepare = prepare_databases,
};

/* ---- configtest suite (no server started) --------------------------- */

/* apache2 -t on a vhost with one minilink location holding directives. */
static int configtest_with(const char *directives, char **output)
{
    int rc = httpd_write_config(g_srv, tfmt(VHOST("configtest", "MinilinkDatabase links.db\n"
                                                  MINILINK_AT("/l", "%s")), directives));
    *output = "cannot write the configuration";
    if (rc == 0) {
        rc = httpd_configtest(g_srv, output);
        tkeep(*output);
    }
    return rc;
}

static void expect_refused_at(int line, const char *directives, const char *directive)
{
    char *output;
    int rc = configtest_with(directives, &output);
    check_at(line, rc > 0, "apache2 -t with \"%s\" exited %d, expected non-zero; "
             "output:\n%s", directives, rc, output);
    check_at(line, strstr(output, directive) != NULL, "apache2 -t with \"%s\": output "
             "does not name %s:\n%s", directives, directive, output);
}

static void test_configtest_good(void)
{
    char *output;
    int rc = configtest_with("MinilinkRedirectStatus 301\nMinilinkQueryString drop\n"
                             "</Location>\n"
                             MINILINK_AT("/a", "MinilinkRedirectStatus 302\n"
                                               "MinilinkQueryString append\n")
                             MINILINK_AT("/b", "MinilinkRedirectStatus 303\n")
                             MINILINK_AT("/c", "MinilinkRedirectStatus 307\n"
                                               "MinilinkDatabase @DIR@/links.db\n")
                             "<Location /d>\nSetHandler minilink\n"
                             "MinilinkRedirectStatus 308\n", &output);

    CHECK(rc == 0, "apache2 -t on a good configuration exited %d:\n%s", rc, output);
    CHECK(strstr(output, "Syntax OK") != NULL, "no \"Syntax OK\" in:\n%s", output);
}

/* A test that apache2 -t refuses a directive with a bad value. */
#define REFUSED_TEST(name, directives, directive) \
    static void name(void) { expect_refused_at(__LINE__, directives, directive); }

REFUSED_TEST(test_configtest_status_404, "MinilinkRedirectStatus 404\n", "MinilinkRedirectStatus")
REFUSED_TEST(test_configtest_status_abc, "MinilinkRedirectStatus abc\n", "MinilinkRedirectStatus")
REFUSED_TEST(test_configtest_query_maybe, "MinilinkQueryString maybe\n", "MinilinkQueryString")
REFUSED_TEST(test_configtest_empty_database, "MinilinkDatabase \"\"\n", "MinilinkDatabase")

/* A blocked host is read as browsers read hosts: one no browser would reach is a mistake to say
 * at once. */
static void test_configtest_block_hosts_not_hosts(void)
{
    expect_refused_at(__LINE__, "MinilinkCreateBlockHosts foo.1\n", "MinilinkCreateBlockHosts");
    expect_refused_at(__LINE__, "MinilinkCreateBlockHosts 10.0.0.0/8\n",
                      "MinilinkCreateBlockHosts");
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

static const link_spec configtest_links[] = { { "abc", "https://example.com/abc", 0, 0, 0 } };

static const suite_group configtest_group = {
    .name = "configtest", .mpm = "event", .tests = configtest_tests, .configure_only = 1,
    .links = configtest_links, .nlinks = 1,
};

void add_httpd_suites(void)
{
    add_group(&configtest_group);
    add_group(&http_group);
}
