/*
 * test_visits.c - visits: what each click and each orphan 404 records, and that nothing published
 * is lost.
 *
 * Suites "visits-event", "visits-worker" and "visits-prefork" (MinilinkFlushInterval 1, the load
 * links): /l records every visit, /ip keeps the address anonymised, /quiet records none
 * (MinilinkVisits Off), /orphans only orphan visits, /geo reads the country from another variable;
 * a server-wide SetEnvIf sets MM_COUNTRY_CODE (and TEST_GEO) from a request header, as a GeoIP
 * module would.  The database is read with sqlite3 after a forced drain (the admin visits pages
 * drain the ring before they answer) or polled (bounded).
 *
 * The invariant behind the restart tests: every click counted leaves exactly one visit, or one
 * counted as dropped by a full ring (the load tests' clients are as fast as the machine, and a
 * killed refresher writes nothing until the parent starts another), so after any graceful
 * restart, stop or killed refresher, the visits in the database and those dropped add up to the
 * clicks there - and those to the 302s the clients got where no request was cut off; with no drop,
 * each link's visits equal its clicks.  The overflow test stops the refresher (SIGSTOP) to fill a 16-slot ring.
 */

#include "ml_test.h"

#define VISITS_SITE \
    "LogLevel minilink:debug\nMinilinkDatabase @DIR@/links.db\nMinilinkFlushInterval 1\n" \
    "SetEnvIf X-Test-Country \"^(.+)$\" MM_COUNTRY_CODE=$1\n" \
    "SetEnvIf X-Test-Geo \"^(.+)$\" TEST_GEO=$1\n" \
    MINILINK_AT("/l", "") MINILINK_AT("/ip", "MinilinkVisitsIP Anonymized\n") \
    MINILINK_AT("/quiet", "MinilinkVisits Off\n") \
    MINILINK_AT("/orphans", "MinilinkVisits Orphans\n") \
    MINILINK_AT("/geo", "MinilinkCountryVariable TEST_GEO\n") \
    HANDLER_AT("/admin", "minilink-admin")

static const char *const chrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";
static const char *const iphone =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
static const char *const googlebot =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

static const link_spec visit_links[] = {
    { "a", "https://example.com/a", 0, 0, 0 }, { "b", "https://example.com/b?x=1", 301, 0, 0 },
    { "off", "https://example.com/off", 0, 0, 1 },
};

/* ---- what the database says ---------------------------------------- */

#define DB tpath("links.db")
#define LINK_ID(slug) "(SELECT id FROM links WHERE slug = '" slug "')"

static long visits_of(const char *slug)
{
    return db_int(DB, "SELECT count(*) FROM visits WHERE link_id = (SELECT id FROM links WHERE "
                  "slug = '%s')", slug);
}

static long clicks_of(const char *slug)
{
    return db_int(DB, "SELECT clicks FROM links WHERE slug = '%s'", slug);
}

static apr_status_t decref(void *json)
{
    json_decref(json);
    return APR_SUCCESS;
}

/* GET path on srv: its JSON (freed with the test), checked. */
static json_t *json_at(int line, const httpd_server *srv, const char *path)
{
    char *body = fetch_page_at(__FILE__, line, srv, path, "application/json");
    json_t *value = body ? json_loads(body, 0, NULL) : NULL;
    if (check_at(line, value != NULL, "GET %s: not JSON: %.300s", path, str_or_null(body))) {
        at_test_end(decref, value);
    }
    return value;
}

static long json_path_int(json_t *value, const char *a, const char *b)
{
    json_t *v = json_object_get(value, a);
    v = b ? json_object_get(v, b) : v;
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* Writes the ring out now: the admin visits pages drain it first. */
#define DRAIN() json_at(__LINE__, g_srv, "/admin/links/a/visits?itemsPerPage=1")
/* And the clicks: the admin link page flushes them first. */
#define FLUSH() json_at(__LINE__, g_srv, "/admin/links/a")

/* GET path with a User-Agent, Referer and test country (NULL: none sent); its status. */
static long visit_at(int line, const httpd_server *srv, const char *path, const char *agent,
                     const char *referrer, const char *country)
{
    const char *headers[4];
    http_request_spec req = { "GET", NULL, path, headers, NULL, 0, NULL };
    http_response *r;
    int n = 0;

    headers[n++] = agent ? tfmt("User-Agent: %s", agent) : "User-Agent:";
    if (referrer) {
        headers[n++] = tfmt("Referer: %s", referrer);
    }
    if (country) {
        headers[n++] = tfmt("X-Test-Country: %s", country);
    }
    headers[n] = NULL;
    r = ask_spec(srv, &req);
    check_at(line, r->curl_code == 0, "GET %s: %s", path, r->error);
    return r->status;
}

#define VISIT(path, agent, referrer, country) \
    visit_at(__LINE__, g_srv, (path), (agent), (referrer), (country))

/* ---- a click's visit: every field ----------------------------------- */

typedef struct {
    const char *agent, *referrer, *country;   /* sent */
    const char *stored_referrer, *stored_country;   /* kept (NULL: none) */
    int bot;
    const char *device;                       /* minilink visits --by device */
    int times;
} visit_case;

static const visit_case click_cases[] = {
    { NULL, NULL, NULL, NULL, NULL, 1, "bot", 2 },   /* no User-Agent: a bot */
    { NULL, "https://news.example.org/story?id=7#top", "de", "news.example.org/story", "DE", 1,
      "bot", 1 },
    { NULL, "https://user:secret@mail.example.net:8443/inbox", "FR", "mail.example.net:8443/inbox",
      "FR", 1, "bot", 1 },
    { NULL, "android-app://com.example.reader/", "xyz", "com.example.reader/", NULL, 1, "bot", 1 },
    { NULL, NULL, NULL, NULL, NULL, 0, "desktop", 5 },   /* agents filled in below */
    { NULL, "https://www.google.com/", "NL", "www.google.com/", "NL", 0, "mobile", 3 },
    { NULL, NULL, "US", NULL, "US", 1, "bot", 2 },
};

static const char *agent_of(int i)
{
    return i == 4 ? chrome : i == 5 ? iphone : i == 6 ? googlebot : NULL;
}

static int total_clicks(void)
{
    size_t i;
    int n = 0;
    for (i = 0; i < ARRAY_LEN(click_cases); i++) {
        n += click_cases[i].times;
    }
    return n;
}

static void test_clicks_give_their_visits(void)
{
    long since = wall_seconds();
    json_t *page, *first;
    char *output;
    size_t i;
    int t, n = total_clicks();

    for (i = 0; i < ARRAY_LEN(click_cases); i++) {
        for (t = 0; t < click_cases[i].times; t++) {
            EXPECT_EQ(VISIT(tfmt("/l/a?n=%d", t), agent_of((int)i), click_cases[i].referrer,
                            click_cases[i].country), 302, "GET /l/a (case %zu)", i);
        }
    }
    DRAIN();
    EXPECT_EQ(visits_of("a"), n, "visits of a after %d clicks", n);
    EXPECT_EQ(json_path_int(FLUSH(), "clicks", NULL), n, "clicks of a");
    for (i = 0; i < ARRAY_LEN(click_cases); i++) {
        const visit_case *c = &click_cases[i];
        const char *agent = agent_of((int)i);
        /* Each case's rows, every field as sent: referrer host and path, the agent, the country,
         * the redirect URL with its query, the path, no address. */
        EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE link_id = " LINK_ID("a")
                         " AND orphan_type IS NULL AND referrer IS %s AND user_agent IS %s"
                         " AND country IS %s AND bot = %d AND visited_path = '/l/a'"
                         " AND redirect_url GLOB 'https://example.com/a?n=[0-9]'"
                         " AND ip IS NULL AND visited_at BETWEEN %ld AND %ld",
                         c->stored_referrer ? tfmt("'%s'", c->stored_referrer) : "NULL",
                         agent ? tfmt("'%s'", agent) : "NULL",
                         c->stored_country ? tfmt("'%s'", c->stored_country) : "NULL", c->bot,
                         since, wall_seconds()),
                  c->times, "visits of case %zu (agent %s, referrer %s, country %s)", i,
                  str_or_null(agent), str_or_null(c->referrer), str_or_null(c->country));
    }
    /* The admin page: newest first, a page at a time, Shlink's fields. */
    page = json_object_get(json_at(__LINE__, g_srv, "/admin/links/a/visits?itemsPerPage=2"),
                           "visits");
    EXPECT_EQ(json_path_int(page, "pagination", "totalItems"), n,
              "/admin/links/a/visits: totalItems");
    EXPECT_EQ(json_path_int(page, "pagination", "pagesCount"), (n + 1) / 2,
              "/admin/links/a/visits: pagesCount");
    EXPECT_EQ(json_path_int(page, "pagination", "itemsInCurrentPage"), 2,
              "/admin/links/a/visits: itemsInCurrentPage");
    first = json_array_get(json_object_get(page, "data"), 0);
    EXPECT_STR(json_string_value(json_object_get(first, "userAgent")), googlebot,
               "newest visit's userAgent");
    CHECK(json_is_true(json_object_get(first, "potentialBot")), "newest visit: potentialBot");
    EXPECT_STR(json_string_value(json_object_get(json_object_get(first, "visitLocation"),
                                                 "countryCode")), "US", "its countryCode");
    EXPECT_STR(json_string_value(json_object_get(first, "type")), "valid_short_url", "its type");
    EXPECT_STR(json_string_value(json_object_get(first, "redirectUrl")),
               "https://example.com/a?n=1", "its redirectUrl");
    EXPECT_STR(json_string_value(json_object_get(first, "device")), "bot", "its device");
    CHECK(json_is_null(json_object_get(first, "ip")), "its ip is not null");
    /* The CLI: classified on the way out. */
    if (CLI_EXPECT(0, &output, "visits", "a", "--by", "device")) {
        EXPECT_STR(output, "7\tbot\n5\tdesktop\n3\tmobile\n", "minilink visits a --by device");
    }
    if (CLI_EXPECT(0, &output, "visits", "a", "--by", "country")) {
        EXPECT_STR(output, "8\t-\n3\tNL\n2\tUS\n1\tDE\n1\tFR\n", "minilink visits a --by country");
    }
    if (CLI_EXPECT(0, &output, "visits", "a", "--by", "browser")) {
        EXPECT_HAS(output, "5\tChrome\n", "minilink visits a --by browser");
        EXPECT_HAS(output, "3\tMobile Safari\n", "minilink visits a --by browser");
        EXPECT_HAS(output, "2\tGooglebot\n", "minilink visits a --by browser");
    }
}

/* ---- orphan visits -------------------------------------------------- */

static long orphans(const char *type, const char *path)
{
    return db_int(DB, "SELECT count(*) FROM visits WHERE link_id IS NULL AND orphan_type = '%s'"
                  " AND visited_path = '%s' AND redirect_url IS NULL", type, path);
}

static void test_orphan_visits_of_each_type(void)
{
    static const struct {
        const char *path;
        long status;
        const char *type;    /* NULL: no visit */
    } cases[] = {
        { "/l/nosuch", 404, "invalid_short_url" },   /* a slug not stored */
        { "/l/off", 410, "invalid_short_url" },      /* disabled */
        { "/l/", 404, "base_url" },                  /* the location (no MinilinkCreate) */
        { "/l", 404, "base_url" },
        { "/l/a.b", 404, "regular_404" },            /* not a slug */
        { "/l/x/y/", 404, "regular_404" },
        { "/l/nosuch+", 404, "regular_404" },        /* a preview of nothing */
        { "/orphans/nosuch", 404, "invalid_short_url" },   /* MinilinkVisits Orphans */
        { "/quiet/nosuch", 404, NULL },              /* MinilinkVisits Off */
    };
    long clicks_a = clicks_of("a"), visits_a;
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        EXPECT_EQ(VISIT(cases[i].path, chrome, NULL, NULL), cases[i].status, "GET %s",
                  cases[i].path);
    }
    EXPECT("HEAD", NULL, "/l/nosuch2", 404, NULL);        /* HEAD: no visit */
    GET("/orphans/a", 302, "https://example.com/a");     /* Orphans: a click, no visit */
    GET("/quiet/a", 302, "https://example.com/a");       /* Off: a click, no visit */
    visits_a = visits_of("a");
    DRAIN();
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        if (cases[i].type) {
            EXPECT_EQ(orphans(cases[i].type, cases[i].path), 1, "%s visits of %s",
                      cases[i].type, cases[i].path);
        }
        else {
            EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE visited_path = '%s'",
                             cases[i].path), 0, "visits of %s (MinilinkVisits Off)",
                      cases[i].path);
        }
    }
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE visited_path = '/l/nosuch2'"), 0,
              "visits of a HEAD");
    EXPECT_EQ(visits_of("a"), visits_a, "visits of a (the clicks under Orphans and Off leave "
              "none)");
    EXPECT_EQ(json_path_int(FLUSH(), "clicks", NULL), clicks_a + 2,
              "clicks of a (counted under Orphans and Off all the same)");
    EXPECT_EQ(json_path_int(json_object_get(json_at(__LINE__, g_srv, "/admin/visits/orphan"),
                                            "visits"), "pagination", "totalItems"),
              db_int(DB, "SELECT count(*) FROM visits WHERE link_id IS NULL"),
              "/admin/visits/orphan: totalItems");
}

/* ---- no address unless asked; the country's variable ----------------- */

static void test_no_ip_unless_asked(void)
{
    EXPECT_EQ(VISIT("/ip/a", chrome, NULL, NULL), 302, "GET /ip/a");
    EXPECT_EQ(VISIT("/ip/nosuch", chrome, NULL, NULL), 404, "GET /ip/nosuch");
    DRAIN();
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE ip IS NOT NULL"), 2,
              "visits with an address (only /ip's, MinilinkVisitsIP Anonymized)");
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE ip = '127.0.0.0'"), 2,
              "visits with 127.0.0.1 anonymised to 127.0.0.0");
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE ip LIKE '%%.1' OR ip LIKE '::1'"),
              0, "visits with a whole address");
}

static void test_country_variable(void)
{
    const char *headers[] = { "X-Test-Geo: se", "X-Test-Country: DE", NULL };
    http_request_spec req = { "GET", NULL, "/geo/b", headers, NULL, 0, NULL };

    expect_request_at(HERE, &req, 301, "https://example.com/b?x=1");
    headers[0] = "X-Test-Country: DE";
    headers[1] = NULL;
    expect_request_at(HERE, &req, 301, "https://example.com/b?x=1");
    DRAIN();
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE visited_path = '/geo/b' AND "
                     "country = 'SE'"), 1, "the visit with TEST_GEO set (MinilinkCountryVariable)");
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE visited_path = '/geo/b' AND "
                     "country IS NULL"), 1, "the visit with only MM_COUNTRY_CODE set");
}

/* ---- the daily roll-up ---------------------------------------------- */

static void test_daily_roll_up(void)
{
    json_t *days;
    char *output, *expected = "";
    long clicks = 0, bots = 0;
    size_t i;

    DRAIN();
    /* Summed over the days, in case the suite ran across midnight (UTC). */
    EXPECT_EQ(db_int(DB, "SELECT sum(clicks) FROM visits_daily WHERE link_id = " LINK_ID("a")),
              visits_of("a"), "visits_daily: clicks of a");
    EXPECT_EQ(db_int(DB, "SELECT sum(bots) FROM visits_daily WHERE link_id = " LINK_ID("a")),
              db_int(DB, "SELECT count(*) FROM visits WHERE bot = 1 AND link_id = "
                     LINK_ID("a")), "visits_daily: bots of a");
    days = json_object_get(json_at(__LINE__, g_srv, "/admin/links/a/visits/days"), "days");
    for (i = 0; i < json_array_size(days); i++) {
        json_t *day = json_array_get(days, i);
        clicks += json_path_int(day, "clicks", NULL);
        bots += json_path_int(day, "bots", NULL);
        expected = tfmt("%s%s\t%ld\t%ld\n", expected,
                        json_string_value(json_object_get(day, "date")),
                        json_path_int(day, "clicks", NULL), json_path_int(day, "bots", NULL));
    }
    EXPECT_EQ(clicks, visits_of("a"), "/admin/links/a/visits/days: clicks");
    CHECK(bots > 0 && bots < clicks, "/admin/links/a/visits/days: %ld bots of %ld", bots, clicks);
    if (CLI_EXPECT(0, &output, "visits", "a", "--by", "day")) {
        EXPECT_STR(output, expected, "minilink visits a --by day");
    }
    GET("/admin/links/nosuch/visits", 404, NULL);
    GET("/admin/links/nosuch/visits/days", 404, NULL);
}

/* ---- metrics, checked by promtool ------------------------------------ */

static long metric(const char *body, const char *sample)
{
    const char *p = body ? strstr(body, sample) : NULL;
    return p && (p == body || p[-1] == '\n') ? atol(p + strlen(sample)) : -1;
}

static void test_metrics_pass_promtool(void)
{
    char *body, *file, *output = NULL;
    char *argv[] = { "sh", "-c", NULL, NULL };
    char *db = tfmt("{database=\"%s\"} ", DB);
    run_spec spec = { .argv = argv, .timeout_ms = 30000 };
    int status;

    DRAIN();
    body = fetch_page_at(HERE, g_srv, "/admin/metrics", "text/plain");
    file = tpath("metrics.txt");
    CHECK(body && write_file(file, body, strlen(body)) == 0, "cannot write %s", file);
    argv[2] = tfmt("promtool check metrics < %s", file);
    status = run_program(&spec, &output);
    tkeep(output);
    EXPECT_EQ(status, 0, "promtool check metrics on /admin/metrics (Debian package prometheus): "
              "%s", str_or_null(output));
    EXPECT_EQ(metric(body, tfmt("minilink_visits_recorded_total%s", db)),
              db_int(DB, "SELECT count(*) FROM visits"), "minilink_visits_recorded_total");
    EXPECT_EQ(metric(body, tfmt("minilink_visits_written_total%s", db)),
              db_int(DB, "SELECT count(*) FROM visits"), "minilink_visits_written_total");
    EXPECT_EQ(metric(body, tfmt("minilink_visits_pending%s", db)), 0, "minilink_visits_pending");
    EXPECT_EQ(metric(body, tfmt("minilink_visits_dropped_total%s", db)), 0,
              "minilink_visits_dropped_total");
    EXPECT_EQ(metric(body, tfmt("minilink_visits_lost_total%s", db)), 0,
              "minilink_visits_lost_total");
    EXPECT_EQ(metric(body, tfmt("minilink_orphan_visits_total{database=\"%s\","
                                "type=\"base_url\"} ", DB)),
              db_int(DB, "SELECT count(*) FROM visits WHERE orphan_type = 'base_url'"),
              "minilink_orphan_visits_total, base_url");
    EXPECT_EQ(metric(body, tfmt("minilink_orphan_visits_total{database=\"%s\","
                                "type=\"invalid_short_url\"} ", DB)),
              db_int(DB, "SELECT count(*) FROM visits WHERE orphan_type = 'invalid_short_url'"),
              "minilink_orphan_visits_total, invalid_short_url");
    EXPECT_LACKS(body, "minilink_cache_bytes_total", "/admin/metrics (a gauge with _total)");
}

/* ---- exact across graceful restarts and a killed refresher ----------- */

/* Visits the ring dropped since the server started (it was full). */
static long dropped(void)
{
    return json_path_int(json_object_get(json_at(__LINE__, g_srv, "/admin/"), "visits"),
                         "dropped", NULL);
}

/* Clicks of the load links whose visits an earlier test of this server saw dropped: they never
 * reach the database, and the tests after it must not wait for them. */
static long g_dropped_before;

static int forget_dropped(void)
{
    g_dropped_before = 0;
    return 0;
}

/* Polls until the load links' visits in the database and the visits dropped since dropped_before
 * (a full ring; -1: none may be) and by earlier tests add up to their clicks there, and those to
 * expected (-1: any); with no drops, each link's visits must equal its clicks.  The clicks, or
 * -1. */
static long wait_visits_equal_clicks_at(int line, const char *what, long expected,
                                        long dropped_before)
{
    const char *sum_visits = "SELECT count(*) FROM visits WHERE link_id IN (SELECT id FROM links"
                             " WHERE slug GLOB 's[0-9][0-9]')";
    const char *sum_clicks = "SELECT sum(clicks) FROM links WHERE slug GLOB 's[0-9][0-9]'";
    const char *differ = "SELECT count(*) FROM links l WHERE slug GLOB 's[0-9][0-9]' AND clicks"
                         " <> (SELECT count(*) FROM visits v WHERE v.link_id = l.id)";
    long visits = -1, clicks = -1, unequal = -1, lost = 0;
    int exact;

    POLL_UNTIL((visits = db_int(DB, "%s", sum_visits)) >= 0
               && (clicks = db_int(DB, "%s", sum_clicks)) >= 0
               && (lost = dropped_before < 0 ? 0 : dropped() - dropped_before) >= 0
               && (unequal = lost + g_dropped_before ? 0 : db_int(DB, "%s", differ)) == 0
               && visits + g_dropped_before + lost == clicks
               && (expected < 0 || clicks == expected),
               BOUNDED_WAIT_MS, 100);
    exact = unequal == 0 && visits + g_dropped_before + lost == clicks
            && (expected < 0 || clicks == expected);
    check_at(line, exact, "%s: after %d ms, the load links have %ld visits and %ld clicks (%ld "
             "links differ), %ld visits dropped by a full ring (and %ld before); expected %ld "
             "clicks, each with its visit or dropped", what, BOUNDED_WAIT_MS, visits, clicks,
             unequal, lost, g_dropped_before, expected);
    if (lost) {
        fprintf(stderr, "[%s: %ld visits dropped by a full ring, counted] ", what, lost);
    }
    if (exact) {
        g_dropped_before += lost;
    }
    return exact ? clicks : -1;
}

static void test_graceful_restarts_lose_no_visit(void)
{
    long drops = dropped(), total;
    long before = wait_visits_equal_clicks_at(__LINE__, "before", -1, -1);
    load_totals res;

    gracefuls_under_load_at(HERE, 3, 300, 2000, &res);
    total = wait_visits_equal_clicks_at(__LINE__, "after 3 graceful restarts under load",
                                        before + res.ok_total, drops);
    fprintf(stderr, "[%ld clicks = %ld 302s, each a visit or a drop counted] ", total - before,
            res.ok_total);
}

static void test_killed_refresher_loses_no_visit(void)
{
    pid_t pid = refresher_pid_after_cli_at(HERE, "cli1", "https://example.com/cli/1");
    long drops = dropped();
    long before = wait_visits_equal_clicks_at(__LINE__, "before", -1, drops);
    load_run *load = load_start(g_srv->port, LOAD_CLIENTS);
    load_totals res;

    CHECK(load_wait_answered(load, 0, 300, BOUNDED_WAIT_MS), "fewer than 300 answers");
    kill_refresher_at(HERE, pid);
    CHECK(load_wait_answered(load, load_answered(load), 300, BOUNDED_WAIT_MS), "fewer than 300 "
          "answers after the refresher was killed");
    load_stop(load, &res);
    EXPECT_EQ(res.failures + res.wrong, 0, "failed or wrong answers");
    /* Until the new refresher runs, the ring fills: what it drops is counted, never lost. */
    wait_visits_equal_clicks_at(__LINE__, "after the refresher was killed under load",
                                before + res.ok_total, drops);
}

/* ---- retention ------------------------------------------------------- */

static void test_retention_deletes_old_visits_keeps_the_roll_up(void)
{
    long now = wall_seconds(), old_day = (now - 100 * 86400) - (now - 100 * 86400) % 86400;
    long recent = db_int(DB, "SELECT count(*) FROM visits");
    int deleted_lines = httpd_error_log_count(g_srv, "ML00066");

    /* 2,500 visits a hundred days old (MinilinkVisitsKeep 90d), with their roll-up. */
    CHECK(db_exec(DB, tfmt("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 2500) INSERT INTO visits (link_id, visited_at, "
                           "visited_path, redirect_url) SELECT " LINK_ID("b") ", %ld + i, "
                           "'/l/b', 'https://example.com/b?x=1' FROM n;"
                           "INSERT INTO visits_daily VALUES (" LINK_ID("b") ", %ld, 2500, 0)",
                           old_day, old_day)) == 0, "cannot insert old visits");
    /* A new refresher looks at once (then once a minute). */
    CHECK(httpd_graceful(g_srv) == 0, "graceful restart failed");
    POLL_UNTIL(db_int(DB, "SELECT count(*) FROM visits WHERE visited_at < %ld", now - 90 * 86400)
               == 0, BOUNDED_WAIT_MS, 200);
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits WHERE visited_at < %ld", now - 90 * 86400),
              0, "visits older than 90 days");
    EXPECT_EQ(db_int(DB, "SELECT count(*) FROM visits"), recent, "recent visits kept");
    EXPECT_EQ(db_int(DB, "SELECT clicks FROM visits_daily WHERE day = %ld", old_day), 2500,
              "the old day's roll-up kept");
    CHECK(log_wait_lines(g_srv, (log_filter){ "ML00066", NULL, 1, 0 }, deleted_lines,
                         BOUNDED_WAIT_MS) >= 0, "no ML00066 line (old visits deleted)");
}

/* ---- a ring that overflows (a server of its own) ---------------------- */

#define RING_SLOTS 16
#define OVERFLOW_CLICKS 40

static void test_full_ring_drops_counts_exact(void)
{
    static const suite_group small_ring = {
        .name = "visits (16-slot ring)", .modules = "setenvif", .links = visit_links, .nlinks = ARRAY_LEN(visit_links),
        .config = "MinilinkVisitsRing 16\nMinilinkFlushInterval 60\n" VISITS_SITE,
    };
    httpd_server *main_srv = g_srv, *srv = start_minilink_server(main_srv->mpm, &small_ring);
    unsigned int failures = CU_get_number_of_failures();
    http_client *client;
    json_t *totals;
    pid_t refresher;
    int i;

    if (!CHECK(srv != NULL, "cannot start a server with MinilinkVisitsRing 16")) {
        g_srv = main_srv;
        return;
    }
    /* The refresher stopped: nothing drains while the clicks come. */
    refresher = refresher_pid_after_cli_at(HERE, "cli1", "https://example.com/cli/1");
    CHECK(refresher > 0 && kill(refresher, SIGSTOP) == 0, "cannot stop the refresher %d",
          (int)refresher);
    client = http_client_new(srv->port);
    for (i = 0; i < OVERFLOW_CLICKS; i++) {
        http_response r;
        http_client_request(client, "GET", NULL, "/l/a", &r);
        CHECK(r.curl_code == 0 && r.status == 302, "GET /l/a: %ld (%s)", r.status, r.error);
        http_response_free(&r);
    }
    http_client_free(client);
    CHECK(kill(refresher, SIGCONT) == 0, "cannot continue the refresher");
    totals = json_at(__LINE__, srv, "/admin/");
    EXPECT_EQ(json_path_int(json_object_get(totals, "visits"), "dropped", NULL),
              OVERFLOW_CLICKS - RING_SLOTS, "/admin/: visits dropped");
    EXPECT_EQ(json_path_int(json_object_get(totals, "visits"), "recorded", NULL), RING_SLOTS,
              "/admin/: visits recorded");
    DRAIN();
    EXPECT_EQ(visits_of("a"), RING_SLOTS, "visits of a (the ring's slots)");
    EXPECT_EQ(json_path_int(FLUSH(), "clicks", NULL), OVERFLOW_CLICKS,
              "clicks of a (exact, whatever the ring dropped)");
    EXPECT_EQ(clicks_of("a"), OVERFLOW_CLICKS, "links.clicks of a");
    CHECK(log_wait_lines(srv, (log_filter){ "ML00062", NULL, 1, 0 }, 0, BOUNDED_WAIT_MS) >= 0,
          "no ML00062 line (ring full)");
    EXPECT_EQ(httpd_error_log_count(srv, "ML00062"), 1, "ML00062 lines: one per episode");
    /* Draining again, room again. */
    GET("/l/a", 302, "https://example.com/a");
    DRAIN();
    EXPECT_EQ(visits_of("a"), RING_SLOTS + 1, "visits of a after the ring drained");
    EXPECT_EQ(httpd_stop_clean(srv), 0, "processes that did not stop on SIGTERM");
    EXPECT_ERROR_LOG_CLEAN();
    if (CU_get_number_of_failures() != failures) {
        httpd_error_log_dump(srv);
    }
    httpd_free(srv);
    g_srv = main_srv;
}

/* ---- a stop in the middle of a stream (a server of its own) ----------- */

static void test_stop_mid_stream_loses_no_visit(void)
{
    static const suite_group stopped = {
        .name = "visits (stopped)", .modules = "setenvif", .links = visit_links, .nlinks = ARRAY_LEN(visit_links),
        .load_links = 1, .config = "MinilinkFlushInterval 60\n" VISITS_SITE,
    };
    httpd_server *main_srv = g_srv, *srv = start_minilink_server(main_srv->mpm, &stopped);
    unsigned int failures = CU_get_number_of_failures();
    load_totals res;
    load_run *load;
    long visits, clicks;

    if (!CHECK(srv != NULL, "cannot start a server to stop")) {
        g_srv = main_srv;
        return;
    }
    load = load_start(srv->port, LOAD_CLIENTS);
    CHECK(load_wait_answered(load, 0, 500, BOUNDED_WAIT_MS), "fewer than 500 answers");
    /* Stopped while the clients keep asking: the children's last visits and clicks are written
     * by the parent once they have exited.  A child stopped in the middle of a request (prefork's
     * do at once) may have counted its click and not yet written its visit: the one thing a stop
     * can lose, at most one a client's request in flight. */
    EXPECT_EQ(httpd_stop_clean(srv), 0, "processes that did not stop on SIGTERM");
    load_stop(load, &res);
    visits = db_int(DB, "SELECT count(*) FROM visits WHERE link_id IN (SELECT id FROM links WHERE "
                    "slug GLOB 's[0-9][0-9]')");
    clicks = db_int(DB, "SELECT sum(clicks) FROM links WHERE slug GLOB 's[0-9][0-9]'");
    CHECK(visits >= 0 && visits <= clicks && clicks - visits <= LOAD_CLIENTS
          && clicks >= res.ok_total, "after a stop under load: %ld visits, %ld clicks, %ld 302s "
          "received; expected the clicks at least the 302s, and a visit each but for at most "
          "the %d requests in flight", visits, clicks, res.ok_total, LOAD_CLIENTS);
    fprintf(stderr, "[stopped under load: %ld 302s, %ld clicks, %ld visits] ", res.ok_total,
            clicks, visits);
    EXPECT_EQ(httpd_error_log_count(srv, "ML00060"), 0, "ML00060 lines");
    EXPECT_ERROR_LOG_CLEAN();
    if (CU_get_number_of_failures() != failures) {
        httpd_error_log_dump(srv);
    }
    httpd_free(srv);
    g_srv = main_srv;
}

static CU_TestInfo visits_tests[] = {
    { "N clicks from known agents and referrers: N visits, every field", test_clicks_give_their_visits },
    { "orphan visits of each type; Orphans and Off", test_orphan_visits_of_each_type },
    { "no IP address unless MinilinkVisitsIP Anonymized", test_no_ip_unless_asked },
    { "MinilinkCountryVariable", test_country_variable },
    { "the daily roll-up: admin and CLI", test_daily_roll_up },
    { "metrics: visits, orphans by type; promtool check metrics", test_metrics_pass_promtool },
    { "graceful restarts under load: visits = clicks = 302s", test_graceful_restarts_lose_no_visit },
    { "refresher killed under load: visits = clicks = 302s", test_killed_refresher_loses_no_visit },
    { "retention: old visits deleted in batches, the roll-up kept",
      test_retention_deletes_old_visits_keeps_the_roll_up },
    { "a full ring: drops counted, one line, clicks exact", test_full_ring_drops_counts_exact },
    { "a stop under load: a visit a click, but for requests cut off", test_stop_mid_stream_loses_no_visit },
    CU_TEST_INFO_NULL,
};

static const char *const visits_bad_lines[] = {
    "[core:error]", "AH00051", "AH00052", "AH00060", "Segmentation fault",
    "ML00060",   /* visits cannot be written */
    "ML00064",   /* no user-agent regexes */
    "ML00065",   /* no ring */
    NULL
};

static const suite_group visits_group = {
    .name = "visits", .tests = visits_tests, .modules = "setenvif", .links = visit_links,
    .nlinks = ARRAY_LEN(visit_links), .load_links = 1, .config = VISITS_SITE,
    .bad_lines = visits_bad_lines, .prepare = forget_dropped,
};

void add_visits_suites(void)
{
    add_group(&visits_group);
}
