/*
 * test_clicks.c - click counting, and where the counts are shown.
 *
 * Suites "clicks-event", "clicks-worker" and "clicks-prefork" (MinilinkFlushInterval 1, mod_status,
 * a minilink-admin location, an access log with the slug note and variable).  A suite-wide tally
 * (g_clicks) holds the clicks, hits and misses its requests made; each view (database,
 * /server-status?auto, admin JSON, /metrics, the CLI) must show exactly that.  The database is read
 * after a forced flush (GET /admin/links/SLUG flushes before answering) or polled (bounded).
 *
 * The kill test: the database gains at least the GETs that got a complete 302, and at most those
 * plus the requests cut off without a complete answer.  The module counts a click when it decides
 * to redirect, so a request the killed child had counted but not answered is one click more than
 * its client saw (measured: 7 of 150 rounds, each +1, each with a request closed before any byte of
 * its answer); counting after the answer would lose delivered clicks instead.  Raw clients (never
 * resending) tell those requests apart.  MINILINK_CLICKS_KILL_ROUNDS=N (default 1) repeats it.
 */

#include "ml_test.h"

#define MAX_SLUGS 32
#define LOAD_SLUG_COUNT 5
#define GRACEFUL_CLIENTS 4      /* the graceful test: 4 threads of 600 GETs */
#define GRACEFUL_REQUESTS 600

/* <Directory /> denies everything in the base configuration: the status and admin pages grant
 * access themselves.  pids.log tells which child served what (the kill test's victim). */
#define CLICKS_SITE \
    "LogLevel minilink:debug\nMinilinkDatabase @DIR@/links.db\n" \
    ACCESS_LOG("access", "%>s %U %{minilink-slug}n %{MINILINK_SLUG}e") PIDS_LOG \
    HANDLER_AT("/server-status", "server-status") MINILINK_AT("/l", "") \
    MINILINK_AT("/quiet", "MinilinkClicks Off\n") HANDLER_AT("/admin", "minilink-admin")

static const char *const graceful_slugs[] = { "g0", "g1", "g2", "g3", "g4" };
static const char *const kill_slugs[] = { "k0", "k1", "k2", "k3", "k4" };
static const char *const refresher_slugs[] = { "r0", "r1", "r2", "r3", "r4" };

/* ---- the suite's tally of what its requests did --------------------- */

typedef struct {
    char slug[16];
    long clicks;              /* redirects answered (GET) */
    long last_lo, last_hi;    /* Unix seconds around the last one */
} slug_tally;

static struct {
    slug_tally slug[MAX_SLUGS];
    int slugs;
    long hits, misses;        /* lookups the module must have counted */
    int links;                /* links in the database at startup */
    long started;             /* Unix seconds just before the start */
    long created_lo, created_hi;   /* around creating the links */
    int cli_links;            /* links added with the CLI (refresher pid) */
    long since_flush;         /* clicks since the last forced flush */
} g_clicks;

static slug_tally *tally_of(const char *slug)
{
    int i;
    for (i = 0; i < g_clicks.slugs && strcmp(g_clicks.slug[i].slug, slug) != 0; i++) {
    }
    if (i == g_clicks.slugs) {
        snprintf(g_clicks.slug[g_clicks.slugs++].slug, sizeof g_clicks.slug[0].slug, "%s", slug);
    }
    return &g_clicks.slug[i];
}

static void tally_clicks(const char *slug, long n, long lo, long hi)
{
    slug_tally *t = tally_of(slug);
    t->clicks += n;
    g_clicks.since_flush += n;
    g_clicks.hits += n;
    if (n > 0) {
        t->last_lo = lo;
        t->last_hi = hi;
    }
}

static long tally_total(void)
{
    long total = 0;
    int i;
    for (i = 0; i < g_clicks.slugs; i++) {
        total += g_clicks.slug[i].clicks;
    }
    return total;
}

static int by_clicks_then_slug(const void *a, const void *b)
{
    const slug_tally *x = a, *y = b;
    return x->clicks != y->clicks ? (y->clicks > x->clicks) - (y->clicks < x->clicks)
                                  : strcmp(x->slug, y->slug);
}

/* The tally, most clicked first (then by slug); [0] and [1] are the top 2. */
static slug_tally *tally_sorted(void)
{
    slug_tally *sorted = talloc(sizeof g_clicks.slug);
    memcpy(sorted, g_clicks.slug, sizeof g_clicks.slug);
    qsort(sorted, (size_t)g_clicks.slugs, sizeof *sorted, by_clicks_then_slug);
    return sorted;
}

/* ---- what the database and the pages say ---------------------------- */

#define db_clicks(slug) \
    db_int(tpath("links.db"), "SELECT clicks FROM links WHERE slug = '%s'", (slug))
#define db_last_click(slug) db_int(tpath("links.db"), \
    "SELECT coalesce(last_click_at, 0) FROM links WHERE slug = '%s'", (slug))
#define db_click_total() db_int(tpath("links.db"), "SELECT coalesce(sum(clicks), 0) FROM links")

/* A time field must lie in [lo, hi] (Unix seconds). */
#define CHECK_TIME(what, value, lo, hi) \
    CHECK((value) >= (lo) && (value) <= (hi), "%s: %ld, expected between %ld and %ld " \
          "(now %ld)", (what), (long)(value), (long)(lo), (long)(hi), wall_seconds())

/* Polls until each slug has its expected clicks in the database (bounded); the ms waited, or -1 (a
 * failure naming every slug that differs). */
static long wait_db_clicks_at(int line, const char *what, const char *const *slugs,
                              const long *expected, int n)
{
    long start = now_ms(), got[MAX_SLUGS];
    char *text = "";
    int i, differ;

    do {
        for (i = differ = 0; i < n; i++) {
            got[i] = db_clicks(slugs[i]);
            differ |= got[i] != expected[i];
        }
    } while (differ && now_ms() - start < BOUNDED_WAIT_MS && (sleep_ms(100), 1));
    for (i = 0; differ && i < n; i++) {
        text = tfmt("%s%s%s: %ld (expected %ld)", text, i ? ", " : "", slugs[i], got[i],
                    expected[i]);
    }
    return check_at(line, !differ, "%s: links.clicks after %d ms: %s", what, BOUNDED_WAIT_MS,
                    text) ? now_ms() - start : -1;
}

static apr_status_t decref(void *json)
{
    json_decref(json);
    return APR_SUCCESS;
}

/* GET path: 200, application/json; the parsed value (freed with the test). */
static json_t *get_json_at(int line, const char *path)
{
    char *body = fetch_page_at(__FILE__, line, g_srv, path, "application/json");
    json_t *value = body ? json_loads(body, 0, NULL) : NULL;
    if (body && check_at(line, value != NULL, "GET %s: not JSON: %.500s", path, body)) {
        at_test_end(decref, value);
    }
    return value;
}

/* An integer (-1 if absent) or string ("" if absent) field, checked. */
static long json_int_at(int line, const char *what, json_t *object, const char *name)
{
    json_t *v = json_object_get(object, name);
    return check_at(line, json_is_integer(v), "%s: no integer \"%s\"", what, name)
           ? (long)json_integer_value(v) : -1;
}

static const char *json_str_at(int line, const char *what, json_t *object, const char *name)
{
    json_t *v = json_object_get(object, name);
    return check_at(line, json_is_string(v), "%s: no string \"%s\"", what, name)
           ? json_string_value(v) : "";
}

#define JSON_INT(what, object, name) json_int_at(__LINE__, (what), (object), (name))
#define JSON_STR(what, object, name) json_str_at(__LINE__, (what), (object), (name))

/* GET /admin/links/<slug>, which writes what is in memory before it answers: a forced flush.  The
 * link's JSON. */
static json_t *admin_link_at(int line, const char *slug)
{
    g_clicks.since_flush = 0;
    return get_json_at(line, tfmt("/admin/links/%s", slug));
}

#define FORCE_FLUSH() admin_link_at(__LINE__, "a")

/* A numeric "Key: value" line of a ?auto status page, checked; -1 if absent. */
static long status_int_at(int line, const char *body, const char *key)
{
    char *needle = tfmt("\n%s: ", key), *end = NULL;
    const char *p = body ? strstr(body, needle) : NULL;
    long n = -1;

    p = p ? p + strlen(needle) : body && strncmp(body, needle + 1, strlen(needle) - 1) == 0
            ? body + strlen(needle) - 1 : NULL;
    if (check_at(line, p != NULL, "/server-status?auto has no \"%s:\" line", key)) {
        n = strtol(p, &end, 10);
        check_at(line, end > p && (*end == '\r' || *end == '\n' || *end == '\0'),
                 "/server-status?auto: %s: not a number", key);
    }
    return n;
}

/* ---- requests ------------------------------------------------------- */

/* GET /l/<slug> on client (a new connection if NULL), expecting the redirect to
 * https://example.com/<slug>; a redirect is a click. */
static void click_at(int line, http_client *client, const char *slug)
{
    char *path = tfmt("/l/%s", slug), *url = tfmt("https://example.com/%s", slug);
    long lo = wall_seconds();
    http_response r;

    if (client) {
        http_client_request(client, "GET", NULL, path, &r);
    }
    else {
        http_request(g_srv->port, "GET", NULL, path, &r);
    }
    check_at(line, response_is(&r, 302, url), "GET %s: %ld, Location \"%s\" (transport: "
             "%s); expected 302 %s", path, r.status, str_or_null(r.location),
             r.curl_code ? r.error : "ok", url);
    if (r.curl_code == 0 && r.status == 302) {
        tally_clicks(slug, 1, lo, wall_seconds());
    }
    http_response_free(&r);
}

#define CLICK(client, slug) click_at(__LINE__, (client), (slug))

/* Load on five slugs: raw clients (they know which requests may or may not have been served)
 * unless use_curl (resends, as a browser does). */
static load_run *load_on(const char *const *slugs, int clients, long per_client,
                         long think_us, int use_curl)
{
    load_spec spec = { .port = g_srv->port, .status = 302, .npaths = LOAD_SLUG_COUNT,
                       .clients = clients, .per_client = per_client, .think_us = think_us,
                       .use_curl = use_curl };
    int i;

    for (i = 0; i < LOAD_SLUG_COUNT; i++) {
        spec.paths[i] = tfmt("/l/%s", slugs[i]);
        spec.urls[i] = tfmt("https://example.com/%s", slugs[i]);
    }
    return load_begin(&spec);
}

/* The links' clicks in the database, after a forced flush. */
static void db_baseline_at(int line, const char *const *slugs, long *baseline)
{
    int i;
    admin_link_at(line, slugs[0]);
    for (i = 0; i < LOAD_SLUG_COUNT; i++) {
        baseline[i] = db_clicks(slugs[i]);
        check_at(line, baseline[i] >= 0, "cannot read links.clicks of %s", slugs[i]);
    }
}

/* ---- what counts ---------------------------------------------------- */

#define RULE_CLICKS 7

static void test_counting_rule(void)
{
    http_client *client = http_client_new(g_srv->port);
    long before = tally_of("a")->clicks, t, last_flush, flush = -1;
    int i;

    CHECK(client != NULL, "cannot make a curl client");
    EXPECT_EQ(db_clicks("a"), before, "links.clicks of a before the test");
    for (i = 0; i < RULE_CLICKS; i++) {
        CLICK(client, "a");   /* one keep-alive connection */
    }
    http_client_free(client);
    /* Not clicks. */
    for (i = 0; i < 3; i++, g_clicks.hits++) {
        EXPECT("HEAD", NULL, "/l/a", 302, "https://example.com/a");
    }
    for (i = 0; i < 2; i++, g_clicks.misses++, g_clicks.hits++) {
        GET("/l/nosuch", 404, NULL);
        GET("/l/off", 410, NULL);
    }
    GET("/l/a+", 200, NULL);      /* the preview reads the file: no lookup */
    GET("/l/a.b", 404, NULL);     /* not a slug: no lookup either */

    /* Flushed by the admin page before it answers. */
    EXPECT_EQ(JSON_INT("/admin/links/a", admin_link_at(__LINE__, "a"), "clicks"),
              before + RULE_CLICKS, "/admin/links/a: clicks (GETs %d; HEADs, 404s, 410s and "
              "a preview must not count)", RULE_CLICKS);
    EXPECT_EQ(db_clicks("a"), before + RULE_CLICKS, "links.clicks of a after a forced flush");
    EXPECT_EQ(db_clicks("off"), 0, "links.clicks of the disabled link (410s are not clicks)");
    EXPECT_EQ(db_click_total(), tally_total(), "sum of links.clicks");

    /* Nothing more arrives with the refresher's next flushes. */
    last_flush = JSON_INT("/admin/", get_json_at(__LINE__, "/admin/"), "last_flush");
    t = POLL_UNTIL((flush = JSON_INT("/admin/", get_json_at(__LINE__, "/admin/"),
                                     "last_flush")) > last_flush, BOUNDED_WAIT_MS, 100);
    CHECK(flush > last_flush, "last_flush still %ld after %d ms (MinilinkFlushInterval 1)",
          last_flush, BOUNDED_WAIT_MS);
    EXPECT_EQ(db_clicks("a"), before + RULE_CLICKS, "links.clicks of a after the next flushes");
    EXPECT_EQ(db_clicks("off"), 0, "links.clicks of off");
    fprintf(stderr, "[next flushes seen after %ld ms] ", t);
}

#define QUIET_GETS 5

static void test_clicks_off(void)
{
    long before = tally_of("q")->clicks;
    int i;

    for (i = 0; i < QUIET_GETS; i++, g_clicks.hits++) {   /* a lookup all the same */
        GET("/quiet/q", 302, "https://example.com/q");
    }
    CLICK(NULL, "q");                   /* where counting is on, it counts */
    EXPECT_EQ(JSON_INT("/admin/links/q", admin_link_at(__LINE__, "q"), "clicks"), before + 1,
              "/admin/links/q: clicks (%d GETs under MinilinkClicks Off must not count, 1 "
              "under /l must)", QUIET_GETS);
    EXPECT_EQ(db_clicks("q"), before + 1, "links.clicks of q after a forced flush");
}

/* ---- the access log's slug note and variable ------------------------ */

/* Lines of access.log equal to text. */
static int access_lines(const char *text)
{
    char *log = tkeep(file_read(tpath("access.log"))), *line;
    int n = 0;
    for (line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        n += strcmp(line, text) == 0;
    }
    return n;
}

static void test_log_note(void)
{
    static const char *const lines[] = {
        "302 /l/a a a", "404 /l/nosuch nosuch nosuch", "404 /l/a.b - -"
    };
    int before[3], now[3], i, done = 0;
    long t;

    for (i = 0; i < 3; i++) {
        before[i] = access_lines(lines[i]);
    }
    CHECK(before[0] >= RULE_CLICKS, "access.log has %d lines \"%s\" before this test; the "
          "counting test made %d such requests", before[0], lines[0], RULE_CLICKS);
    CLICK(NULL, "a");
    GET("/l/nosuch", 404, NULL);
    g_clicks.misses++;
    GET("/l/a.b", 404, NULL);
    /* Logged after the answer is sent: wait for the lines. */
    for (t = now_ms(); !done && now_ms() - t < BOUNDED_WAIT_MS; sleep_ms(done ? 0 : 50)) {
        for (i = 0, done = 1; i < 3; i++) {
            now[i] = access_lines(lines[i]);
            done &= now[i] >= before[i] + 1;
        }
    }
    for (i = 0; i < 3; i++) {
        EXPECT_EQ(now[i], before[i] + 1, "access.log: lines \"%s\" after the request", lines[i]);
    }
    if (!done) {
        fprintf(stderr, "\n---- access.log ----\n%s---- end ----\n",
                (char *)tkeep(file_read(tpath("access.log"))));
    }
}

/* ---- mod_status ----------------------------------------------------- */

static void check_status_page(int line)
{
    char *body = fetch_page_at(__FILE__, line, g_srv, "/server-status?auto", "text/plain");
    char *db = tpath("links.db"), *database = body ? strstr(body, "MinilinkDatabase: ") : NULL;
    unsigned int failures = CU_get_number_of_failures();
    long lookups, hits, misses, used, total, refresh, flush, now;

    database = database ? tfmt("%.*s", (int)strcspn(database + 18, "\r\n"), database + 18) : NULL;
    expect_str_at(__FILE__, line, database, db, "MinilinkDatabase");
    expect_long_at(__FILE__, line, status_int_at(line, body, "MinilinkLinksCached"),
                   g_clicks.links, "MinilinkLinksCached");
    lookups = status_int_at(line, body, "MinilinkLookups");
    hits = status_int_at(line, body, "MinilinkHits");
    misses = status_int_at(line, body, "MinilinkMisses");
    used = status_int_at(line, body, "MinilinkCacheBytesUsed");
    total = status_int_at(line, body, "MinilinkCacheBytesTotal");
    refresh = status_int_at(line, body, "MinilinkLastRefresh");
    flush = status_int_at(line, body, "MinilinkLastFlush");
    now = wall_seconds();
    check_at(line, lookups == hits + misses, "MinilinkLookups %ld != MinilinkHits %ld + "
             "MinilinkMisses %ld", lookups, hits, misses);
    expect_long_at(__FILE__, line, hits, g_clicks.hits, "MinilinkHits (lookups of "
                   "existing slugs made by this suite)");
    expect_long_at(__FILE__, line, misses, g_clicks.misses, "MinilinkMisses (lookups of "
                   "valid slugs that do not exist)");
    expect_long_at(__FILE__, line, status_int_at(line, body, "MinilinkClicks"),
                   tally_total(), "MinilinkClicks");
    check_at(line, used > 0 && total > 0 && used <= total, "MinilinkCacheBytesUsed %ld, "
             "MinilinkCacheBytesTotal %ld: expected 0 < used <= total", used, total);
    check_at(line, refresh >= now - 10 && refresh <= now, "MinilinkLastRefresh: %ld, "
             "expected within 10 s of now (%ld); the refresher looks every second",
             refresh, now);
    check_at(line, flush >= g_clicks.started && flush >= now - 10 && flush <= now,
             "MinilinkLastFlush: %ld, expected within 10 s of now (%ld) and after the "
             "start (%ld)", flush, now, g_clicks.started);
    expect_long_at(__FILE__, line, status_int_at(line, body, "MinilinkRefreshErrors"), 0,
                   "MinilinkRefreshErrors");
    expect_long_at(__FILE__, line, status_int_at(line, body, "MinilinkFlushErrors"), 0,
                   "MinilinkFlushErrors");
    if (CU_get_number_of_failures() != failures) {
        fprintf(stderr, "\n---- /server-status?auto ----\n%s---- end ----\n", str_or_null(body));
    }
}

static void test_status(void)
{
    char *html;

    EXPECT_EQ(db_int(tpath("links.db"), "SELECT count(*) FROM links"), g_clicks.links,
              "links in the database");
    check_status_page(__LINE__);
    /* One more hit (a click) and one more miss, and the page follows. */
    CLICK(NULL, "c");
    GET("/l/nosuch2", 404, NULL);
    g_clicks.misses++;
    check_status_page(__LINE__);
    html = fetch_page_at(HERE, g_srv, "/server-status", "text/html");
    EXPECT_HAS(html, tfmt("<h2>minilink: %s</h2>", tpath("links.db")),
               "/server-status: the minilink section");
    EXPECT_HAS(html, "lookups / hits / misses", "/server-status: the lookups row");
}

/* ---- the admin JSON ------------------------------------------------- */

static void test_admin_json(void)
{
    const slug_tally *a = tally_of("a"), *top;
    json_t *totals, *link, *links;
    long now, v;
    int i;

    for (i = 0; i < 3; i++) {
        CLICK(NULL, "b");   /* b: the second most clicked, fewer clicks than a */
    }
    totals = get_json_at(__LINE__, "/admin/");
    now = wall_seconds();
    EXPECT_STR(JSON_STR("/admin/", totals, "database"), tpath("links.db"), "/admin/: database");
    EXPECT_EQ(JSON_INT("/admin/", totals, "links_cached"), g_clicks.links, "/admin/: links_cached");
    /* 25% headroom of 19 links is less than the least spare room, 1024. */
    EXPECT_EQ(JSON_INT("/admin/", totals, "link_capacity"), g_clicks.links + 1024,
              "/admin/: link_capacity (the links + 1024 spare)");
    v = JSON_INT("/admin/", totals, "cache_bytes_used");
    CHECK(v > 0 && v <= JSON_INT("/admin/", totals, "cache_bytes_total"), "/admin/: "
          "cache_bytes_used %ld, cache_bytes_total %ld", v,
          JSON_INT("/admin/", totals, "cache_bytes_total"));
    EXPECT_EQ(JSON_INT("/admin/", totals, "hits"), g_clicks.hits, "/admin/: hits");
    EXPECT_EQ(JSON_INT("/admin/", totals, "misses"), g_clicks.misses, "/admin/: misses");
    EXPECT_EQ(JSON_INT("/admin/", totals, "lookups"), g_clicks.hits + g_clicks.misses,
              "/admin/: lookups");
    EXPECT_EQ(JSON_INT("/admin/", totals, "clicks"), tally_total(), "/admin/: clicks");
    v = JSON_INT("/admin/", totals, "clicks_pending");
    CHECK(v >= 0 && v <= g_clicks.since_flush, "/admin/: clicks_pending %ld, expected 0 to "
          "%ld (the clicks since the last forced flush)", v, g_clicks.since_flush);
    CHECK_TIME("/admin/: last_refresh", JSON_INT("/admin/", totals, "last_refresh"), now - 10, now);
    CHECK_TIME("/admin/: last_flush", JSON_INT("/admin/", totals, "last_flush"), now - 10, now);
    EXPECT_EQ(JSON_INT("/admin/", totals, "errors"), 0, "/admin/: errors");

    link = admin_link_at(__LINE__, "a");
    EXPECT_STR(JSON_STR("/admin/links/a", link, "slug"), "a", "/admin/links/a: slug");
    EXPECT_STR(JSON_STR("/admin/links/a", link, "url"), "https://example.com/a",
               "/admin/links/a: url");
    EXPECT_EQ(JSON_INT("/admin/links/a", link, "status"), 0, "/admin/links/a: status (the "
              "location's)");
    EXPECT_EQ(JSON_INT("/admin/links/a", link, "expires_at"), 0, "/admin/links/a: expires_at");
    CHECK(json_is_false(json_object_get(link, "disabled")), "/admin/links/a: disabled is not "
          "false");
    CHECK_TIME("/admin/links/a: created_at", JSON_INT("/admin/links/a", link, "created_at"),
               g_clicks.created_lo, g_clicks.created_hi);
    EXPECT_EQ(JSON_INT("/admin/links/a", link, "clicks"), a->clicks, "/admin/links/a: clicks");
    v = JSON_INT("/admin/links/a", link, "last_click_at");
    CHECK_TIME("/admin/links/a: last_click_at (the time of the last GET)", v, a->last_lo,
               a->last_hi);
    EXPECT_EQ(v, db_last_click("a"), "/admin/links/a: last_click_at, against the database's");

    link = admin_link_at(__LINE__, "off");
    CHECK(json_is_true(json_object_get(link, "disabled")), "/admin/links/off: disabled is "
          "not true");
    EXPECT_EQ(JSON_INT("/admin/links/off", link, "clicks"), 0, "/admin/links/off: clicks");
    EXPECT_EQ(JSON_INT("/admin/links/off", link, "last_click_at"), 0,
              "/admin/links/off: last_click_at");

    top = tally_sorted();
    links = json_object_get(get_json_at(__LINE__, "/admin/top?n=2"), "links");
    if (CHECK(json_is_array(links) && json_array_size(links) == 2, "/admin/top?n=2: "
              "\"links\" is not an array of 2")) {
        for (i = 0; i < 2; i++) {
            json_t *entry = json_array_get(links, (size_t)i);
            const char *slug = JSON_STR("/admin/top?n=2", entry, "slug");
            long clicks = JSON_INT("/admin/top?n=2", entry, "clicks");
            CHECK(strcmp(slug, top[i].slug) == 0 && clicks == top[i].clicks,
                  "/admin/top?n=2: #%d is %s with %ld clicks, expected %s with %ld", i + 1,
                  slug, clicks, top[i].slug, top[i].clicks);
        }
    }
    GET("/admin/links/nosuch", 404, NULL);
    EXPECT_HAS(EXPECT("POST", NULL, "/admin/", 405, NULL)->allow, "GET", "POST /admin/: Allow");
}

/* ---- metrics -------------------------------------------------------- */

/* The sample of metric name for links.db, checked with its HELP and TYPE lines; -1 if missing. */
static long metric_at(int line, const char *body, const char *name, const char *type)
{
    char *sample = tfmt("%s{database=\"%s\"} ", name, tpath("links.db")), *end;
    const char *p = body ? strstr(body, sample) : NULL;
    long value = -1;

    expect_has_at(__FILE__, line, body, tfmt("# HELP %s ", name), 1, "/admin/metrics");
    expect_has_at(__FILE__, line, body, tfmt("# TYPE %s %s\n", name, type), 1, "/admin/metrics");
    if (check_at(line, p != NULL && (p == body || p[-1] == '\n'), "/admin/metrics: no "
                 "sample \"%s...\"", sample)) {
        value = strtol(p + strlen(sample), &end, 10);
        check_at(line, *end == '\n', "/admin/metrics: %s: not an integer", name);
    }
    return value;
}

#define METRIC(name, type) metric_at(__LINE__, body, (name), (type))

static void test_metrics(void)
{
    json_t *totals = get_json_at(__LINE__, "/admin/");
    long used = JSON_INT("/admin/", totals, "cache_bytes_used");
    long total = JSON_INT("/admin/", totals, "cache_bytes_total"), now, v;
    char *body = fetch_page_at(HERE, g_srv, "/admin/metrics", "text/plain");
    unsigned int failures = CU_get_number_of_failures();

    now = wall_seconds();
    EXPECT_EQ(METRIC("minilink_links_cached", "gauge"), g_clicks.links, "minilink_links_cached");
    EXPECT_EQ(METRIC("minilink_cache_bytes_used", "gauge"), used,
              "minilink_cache_bytes_used, against /admin/");
    v = METRIC("minilink_cache_bytes", "gauge");
    CHECK(v == total && v >= used, "minilink_cache_bytes %ld, /admin/ says %ld", v, total);
    EXPECT_EQ(METRIC("minilink_lookups_total", "counter"), g_clicks.hits + g_clicks.misses,
              "minilink_lookups_total");
    EXPECT_EQ(METRIC("minilink_hits_total", "counter"), g_clicks.hits, "minilink_hits_total");
    EXPECT_EQ(METRIC("minilink_misses_total", "counter"), g_clicks.misses, "minilink_misses_total");
    EXPECT_EQ(METRIC("minilink_clicks_total", "counter"), tally_total(), "minilink_clicks_total");
    CHECK_TIME("minilink_last_refresh_timestamp_seconds",
               METRIC("minilink_last_refresh_timestamp_seconds", "gauge"), now - 10, now);
    CHECK_TIME("minilink_last_flush_timestamp_seconds",
               METRIC("minilink_last_flush_timestamp_seconds", "gauge"), now - 10, now);
    EXPECT_EQ(METRIC("minilink_refresh_errors_total", "counter"), 0,
              "minilink_refresh_errors_total");
    EXPECT_EQ(METRIC("minilink_flush_errors_total", "counter"), 0, "minilink_flush_errors_total");
    if (CU_get_number_of_failures() != failures) {
        fprintf(stderr, "\n---- /admin/metrics ----\n%s---- end ----\n", str_or_null(body));
    }
}

/* ---- the CLI -------------------------------------------------------- */

static void test_cli_stats(void)
{
    slug_tally *top = tally_sorted();
    char *output;

    FORCE_FLUSH();
    if (CLI_EXPECT(0, &output, "stats", "a")) {
        EXPECT_HAS(output, tfmt("clicks: %ld\n", tally_of("a")->clicks), "minilink stats a");
    }
    if (CLI_EXPECT(0, &output, "stats", "--top", "2")) {
        EXPECT_STR(output, tfmt("%ld\t%s\thttps://example.com/%s\n%ld\t%s\thttps://example.com/"
                                "%s\n", top[0].clicks, top[0].slug, top[0].slug, top[1].clicks,
                                top[1].slug, top[1].slug), "minilink stats --top 2");
    }
}

/* ---- across graceful restarts --------------------------------------- */

static void test_graceful(void)
{
    long baseline[LOAD_SLUG_COUNT], expected[LOAD_SLUG_COUNT];
    long graceful_ms[3] = { 0, 0, 0 }, at_start[3] = { 0, 0, 0 }, t, think_us, waited;
    long total_requests = (long)GRACEFUL_CLIENTS * GRACEFUL_REQUESTS;
    load_totals res;
    load_run *load;
    int g, s;

    db_baseline_at(__LINE__, graceful_slugs, baseline);
    /* Paced so that the load lasts about twice as long as three graceful restarts, whatever this
     * machine's speed: one restart is timed first. */
    t = now_ms();
    CHECK(httpd_graceful(g_srv) == 0, "the timing graceful restart failed");
    think_us = (now_ms() - t) * 6 * 1000 / GRACEFUL_REQUESTS;
    think_us = think_us > 20000 ? 20000 : think_us;
    load = load_on(graceful_slugs, GRACEFUL_CLIENTS, GRACEFUL_REQUESTS, think_us, 1);
    load_wait_answered(load, 0, total_requests / 10, BOUNDED_WAIT_MS);
    for (g = 0; g < 3; g++) {
        at_start[g] = load_attempts(load);
        t = now_ms();
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1);
        graceful_ms[g] = now_ms() - t;
    }
    load_end(load, 0, &res);
    fprintf(stderr, "[%s: %ld GETs, paced %ld us; graceful restarts %ld, %ld, %ld ms, began "
            "after %ld, %ld, %ld GETs] ", g_srv->mpm, res.ok_total, think_us, graceful_ms[0],
            graceful_ms[1], graceful_ms[2], at_start[0], at_start[1], at_start[2]);
    EXPECT_EQ(res.not_started, 0, "clients that could not start");
    for (g = 0; g < 3; g++) {
        CHECK(at_start[g] < total_requests, "the load was over before graceful restart %d "
              "began: the restarts were not under load", g + 1);
    }
    CHECK(res.ok_total == total_requests, "%ld of %ld GETs answered 302 with the right "
          "Location (%ld failed, %ld wrong)", res.ok_total, total_requests,
          res.uncertain_total + res.not_sent, res.wrong_status + res.wrong_location);
    for (s = 0; s < LOAD_SLUG_COUNT; s++) {
        expected[s] = baseline[s] + res.ok[s];
        tally_clicks(graceful_slugs[s], res.ok[s], 0, 0);
    }
    /* Written by the refresher within a second or so: no forced flush. */
    waited = wait_db_clicks_at(__LINE__, "after 3 graceful restarts", graceful_slugs,
                               expected, LOAD_SLUG_COUNT);
    if (waited >= 0) {
        fprintf(stderr, "[all %ld in the database %ld ms after the load] ", res.ok_total, waited);
    }
    EXPECT_EQ(db_click_total(), tally_total(), "sum of links.clicks");
}

/* ---- a serving child killed with SIGKILL ---------------------------- */

/* How the requests without a whole answer ended, for messages. */
static char *endings(const long *ended)
{
    char *text = "";
    int e;
    for (e = RAW_CLOSED_UNANSWERED; e <= RAW_OTHER; e++) {
        text = tfmt("%s%s%ld %s", text, *text ? ", " : "", ended[e], raw_outcome_names[e]);
    }
    return text;
}

/* Load on the kill slugs, SIGKILL to the child that served one of them last (from pids.log, so
 * never the refresher, which serves nothing), more load on the children left and the one the
 * parent starts, then a forced flush: the database must gain every complete 302, plus at most the
 * requests the kill cut off (see the top of the file). */
static void test_child_killed(void)
{
    const char *env = getenv("MINILINK_CLICKS_KILL_ROUNDS");
    long baseline[LOAD_SLUG_COUNT], got[LOAD_SLUG_COUNT], over_total = 0, uncertain_total = 0;
    pid_t refresher = refresher_pid_after_cli_at(HERE, tfmt("cli%d", g_clicks.cli_links++),
                                                 "https://example.com/cli/k");
    int rounds = env && atoi(env) > 1 ? (atoi(env) > 100 ? 100 : atoi(env)) : 1;
    int round, s, exact_rounds = 0;

    for (round = 1; round <= rounds; round++) {
        long after_kill, diff = 0;
        load_totals res;
        load_run *load;
        pid_t victim = -1;

        db_baseline_at(__LINE__, kill_slugs, baseline);
        load = load_on(kill_slugs, LOAD_CLIENTS, 0, 0, 0);
        CHECK(load_wait_answered(load, 0, 300, BOUNDED_WAIT_MS), "the load made fewer than "
              "300 requests in %d ms", BOUNDED_WAIT_MS);
        /* pids.log is written after each answer: wait for a line. */
        POLL_UNTIL(children_serving(g_srv, 0, "/l/k", refresher, &victim, 1) > 0,
                   BOUNDED_WAIT_MS, 20);
        if (CHECK(victim > 0, "no child of httpd %d in pids.log served /l/k*", (int)g_srv->pid)) {
            CHECK(kill(victim, SIGKILL) == 0, "kill -9 %d: %s", (int)victim, strerror(errno));
        }
        after_kill = load_answered(load);
        CHECK(load_wait_answered(load, after_kill, 300, BOUNDED_WAIT_MS), "fewer than 300 "
              "requests answered in %d ms after the kill", BOUNDED_WAIT_MS);
        load_end(load, 1, &res);
        EXPECT_EQ(res.not_started, 0, "clients that could not start");
        EXPECT_EQ(res.wrong_status + res.wrong_location, 0, "complete answers that were not "
                  "the right 302");
        /* After a forced flush: every complete 302, and nothing beyond the requests cut off by the
         * kill. */
        db_baseline_at(__LINE__, kill_slugs, got);
        for (s = 0; s < LOAD_SLUG_COUNT; s++) {
            long delta = got[s] - baseline[s];
            CHECK(delta >= res.ok[s] && delta <= res.ok[s] + res.uncertain[s], "kill round "
                  "%d: links.clicks of %s went up by %ld; %ld GETs got a complete 302 (%ld "
                  "more were sent and got no complete answer: %s)", round, kill_slugs[s],
                  delta, res.ok[s], res.uncertain[s], endings(res.path_ended[s]));
            diff += delta - res.ok[s];
            tally_clicks(kill_slugs[s], delta, 0, 0);   /* later tests stay exact */
        }
        exact_rounds += diff == 0;
        over_total += diff;
        uncertain_total += res.uncertain_total;
        fprintf(stderr, "[kill round %d (%s): child %d killed; %ld complete 302s, %ld "
                "uncertain (%s), %ld not sent; database +%ld (%+ld)] ", round, g_srv->mpm,
                (int)victim, res.ok_total, res.uncertain_total, endings(res.ended),
                res.not_sent, res.ok_total + diff, diff);
    }
    if (rounds > 1) {
        fprintf(stderr, "[kill rounds (%s): %d of %d exact; %ld counted clicks without a "
                "complete answer, of %ld uncertain requests] ", g_srv->mpm, exact_rounds,
                rounds, over_total, uncertain_total);
    }
}

/* ---- the refresher killed with SIGKILL ------------------------------ */

static void test_refresher_killed(void)
{
    long baseline[LOAD_SLUG_COUNT], expected[LOAD_SLUG_COUNT], killed, waited;
    pid_t old_pid = refresher_pid_after_cli_at(HERE, tfmt("cli%d", g_clicks.cli_links++),
                                               "https://example.com/cli/r");
    int s;
    pid_t new_pid, parent;
    load_totals res;
    load_run *load;
    char *line;

    db_baseline_at(__LINE__, refresher_slugs, baseline);
    load = load_on(refresher_slugs, LOAD_CLIENTS, 0, 0, 0);
    CHECK(load_wait_answered(load, 0, 300, BOUNDED_WAIT_MS), "the load made fewer than 300 "
          "requests in %d ms", BOUNDED_WAIT_MS);
    killed = kill_refresher_at(HERE, old_pid);
    CHECK(load_wait_answered(load, load_answered(load), 300, BOUNDED_WAIT_MS), "fewer than "
          "300 requests answered in %d ms after the refresher came back", BOUNDED_WAIT_MS);
    load_end(load, 1, &res);
    EXPECT_EQ(res.not_started, 0, "clients that could not start");
    CHECK(res.uncertain_total == 0 && res.not_sent == 0 && res.wrong == 0
          && res.wrong_status == 0, "with only the refresher killed: %ld requests without a "
          "complete answer, %ld not sent, %ld wrong", res.uncertain_total, res.not_sent,
          res.wrong + res.wrong_status);
    /* No forced flush: the new refresher writes them. */
    for (s = 0; s < LOAD_SLUG_COUNT; s++) {
        expected[s] = baseline[s] + res.ok[s];
        tally_clicks(refresher_slugs[s], res.ok[s], 0, 0);
    }
    waited = wait_db_clicks_at(__LINE__, "refresher killed", refresher_slugs, expected,
                               LOAD_SLUG_COUNT);
    line = tkeep(httpd_error_log_last_line(g_srv, "ML00027"));
    new_pid = log_line_pid(line);
    parent = new_pid > 0 ? process_parent(new_pid) : -1;
    CHECK(new_pid > 0 && new_pid != old_pid && new_pid != g_srv->pid && parent == g_srv->pid,
          "the last ML00027 (clicks written) line is not from a new refresher (old %d, "
          "parent %d): %s", (int)old_pid, (int)g_srv->pid, str_or_null(line));
    fprintf(stderr, "[refresher %d killed; ML00023 after %ld ms; %ld GETs; written by %d %ld "
            "ms after the load] ", (int)old_pid, killed, res.ok_total, (int)new_pid, waited);
}

/* ---- across a stop (a server of its own) ---------------------------- */

#define STOP_X 15
#define STOP_Y 10

static void test_stop(void)
{
    static const link_spec links[] = {
        { "x", "https://example.com/x", 0, 0, 0 }, { "y", "https://example.com/y", 0, 0, 0 },
    };
    static const suite_group stop_server = {
        .name = "clicks (flush 60)", .modules = "status", .links = links, .nlinks = 2,
        .config = "MinilinkFlushInterval 60\n" CLICKS_SITE,
    };
    httpd_server *main_srv = g_srv, *srv = start_minilink_server(main_srv->mpm, &stop_server);
    unsigned int failures = CU_get_number_of_failures();
    http_client *client;
    json_t *totals;
    long lo, hi;
    int i;

    if (!CHECK(srv != NULL, "cannot start a server with MinilinkFlushInterval 60")) {
        g_srv = main_srv;
        return;
    }
    client = http_client_new(srv->port);
    lo = wall_seconds();
    for (i = 0; i < STOP_X + STOP_Y; i++) {
        char *path = i < STOP_X ? "/l/x" : "/l/y";
        http_response r;

        http_client_request(client, "GET", NULL, path, &r);
        CHECK(r.curl_code == 0 && r.status == 302, "GET %s: %ld (%s)", path, r.status,
              r.curl_code ? r.error : "ok");
        http_response_free(&r);
    }
    hi = wall_seconds();
    http_client_free(client);
    /* In memory only: no flush before 60 s. */
    totals = get_json_at(__LINE__, "/admin/");
    CHECK(JSON_INT("/admin/", totals, "clicks") == STOP_X + STOP_Y
          && JSON_INT("/admin/", totals, "clicks_pending") == STOP_X + STOP_Y,
          "/admin/: clicks %ld, clicks_pending %ld; expected %d and %d",
          JSON_INT("/admin/", totals, "clicks"), JSON_INT("/admin/", totals, "clicks_pending"),
          STOP_X + STOP_Y, STOP_X + STOP_Y);
    EXPECT_EQ(db_click_total(), 0, "links.clicks added up before the stop "
              "(MinilinkFlushInterval 60)");
    EXPECT_EQ(httpd_stop_clean(srv), 0, "processes that did not stop on SIGTERM");
    CHECK(db_clicks("x") == STOP_X && db_clicks("y") == STOP_Y, "after the stop: "
          "links.clicks x %ld, y %ld; expected %d and %d", db_clicks("x"), db_clicks("y"),
          STOP_X, STOP_Y);
    CHECK_TIME("after the stop: last_click_at of y", db_last_click("y"), lo, hi);
    CHECK(httpd_error_log_count(srv, "ML00027") >= 1, "no ML00027 (clicks written) line at "
          "the stop");
    EXPECT_EQ(httpd_error_log_count(srv, "ML00025"), 0, "ML00025 lines (clicks cannot be "
              "written) at the stop");
    EXPECT_ERROR_LOG_CLEAN();
    if (CU_get_number_of_failures() != failures) {
        httpd_error_log_dump(srv);
    }
    httpd_free(srv);
    g_srv = main_srv;
}

static CU_TestInfo clicks_tests[] = {
    { "GET redirects count; HEAD, 404, 410, preview do not", test_counting_rule },
    { "MinilinkClicks Off: redirects there do not count", test_clicks_off },
    { "access log: slug note and variable", test_log_note },
    { "mod_status: ?auto fields and the HTML section", test_status },
    { "admin JSON: totals, a link, top, 404, 405", test_admin_json },
    { "admin metrics (Prometheus)", test_metrics },
    { "minilink stats", test_cli_stats },
    { "exact across 3 graceful restarts under load", test_graceful },
    { "exact when a serving child is killed (SIGKILL)", test_child_killed },
    { "exact when the refresher is killed (SIGKILL)", test_refresher_killed },
    { "exact across a stop (MinilinkFlushInterval 60)", test_stop },
    CU_TEST_INFO_NULL,
};

/* links.db: a, b, c, off (disabled), q and the load slugs, each to https://example.com/<slug>; the
 * tally starts from them. */
static int store_clicks_links(void)
{
    static const char *const named[] = { "a", "b", "c", "off", "q" };
    link_spec links[MAX_SLUGS];
    int n = 0, i, rc;

    memset(&g_clicks, 0, sizeof g_clicks);
    for (i = 0; i < 5 + 3 * LOAD_SLUG_COUNT; i++) {
        const char *slug = i < 5 ? named[i] : (i - 5) % 3 == 0 ? graceful_slugs[(i - 5) / 3]
                           : (i - 5) % 3 == 1 ? kill_slugs[(i - 5) / 3]
                           : refresher_slugs[(i - 5) / 3];
        links[n++] = (link_spec){ slug, tfmt("https://example.com/%s", slug), 0, 0,
                                  strcmp(slug, "off") == 0 };
        tally_of(slug);
    }
    g_clicks.links = n;
    g_clicks.created_lo = wall_seconds();
    rc = db_store_links(tpath("links.db"), links, (size_t)n);
    g_clicks.created_hi = g_clicks.started = wall_seconds();
    return rc;
}

/* The stop writes every click. */
static void clicks_after_stop(void)
{
    EXPECT_EQ(db_click_total(), tally_total(), "after the stop the links' clicks");
}

static const char *const clicks_bad_lines[] = {
    "[core:error]", "AH00051", "AH00052", "AH00060", "Segmentation fault",
    "ML00025",   /* clicks cannot be written */
    NULL
};

static const suite_group clicks_group = {
    .name = "clicks", .tests = clicks_tests, .modules = "status", .prepare = store_clicks_links,
    .config = "MinilinkFlushInterval 1\n" CLICKS_SITE, .bad_lines = clicks_bad_lines,
    .after_stop = clicks_after_stop,
};

void add_clicks_suites(void)
{
    add_group(&clicks_group);
}
