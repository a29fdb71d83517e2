/*
 * test_pgsql.c - two Apache hosts sharing one PostgreSQL database.
 *
 * Suite "pgsql": a real PostgreSQL (pg_harness.h), a role and database "minilink" with a password
 * made up for the run, links stored with `minilink --db postgresql://...`, then two hosts on it:
 * A (event MPM) names it with libpq's parameters, B (prefork: the most children, hence connections
 * and log writers) with a URL.  The tests run in order, each on the state the previous ones left:
 * what a host creates or the CLI changes is served by both; clicks on both add up exactly;
 * PostgreSQL stopped, started again, stopped across a graceful restart and frozen (SIGSTOP) -
 * redirects keep coming from the cache, creation answers 503, one log line per outage; the
 * password is shown nowhere.  Log lines are counted as a server at LogLevel info would show them:
 * the hosts log at debug, where ML00019 repeats for every refused creation (the README says so).
 */
#include <sys/random.h>

#include "ml_test.h"
#include "pg_harness.h"
#include "../../links/ml_apikey.h"
#include "../../links/ml_store.h"

#define POLL_MS 100
#define RECOVER_MS 30000        /* PostgreSQL back: reconnecting may wait a cycle */
#define PROPAGATION_ROUNDS 10   /* polled every 10 ms, to see the delay */
#define CLICKS_ON_A 7
#define CLICKS_ON_B 5
#define OUTAGE_POSTS 3          /* creation attempts per host, twice */
#define REFRESH_RETRIES 3       /* failed refreshes seen before counting lines */
#define MAX_LINKS 64
/* PostgreSQL frozen: creation attempts per host, all at once; the refresher gives up on a database
 * that stopped answering after 15 s (ML00034), and its successor's connect after 5 s
 * (connect_timeout). */
#define FROZEN_POSTS 3
#define FROZEN_WAIT_MS 40000

/* The hosts' configuration after their MinilinkDatabase.  No rate limit: the tests retry creation
 * while PostgreSQL comes back. */
#define HOST_SITE \
    "MinilinkRefreshInterval 1\nMinilinkFlushInterval 1\nLogLevel minilink:debug\n" \
    MINILINK_AT("/l", "MinilinkCreate On\nMinilinkCreateRateLimit off\n") \
    HANDLER_AT("/server-status", "server-status") \
    HANDLER_AT("/minilink-admin", "minilink-admin")

/* A link as both hosts must answer it: its redirect status and URL, 410 (disabled or expired) or
 * 404 (deleted). */
typedef struct {
    char slug[65];
    char url[256];
    long status;
    long clicks;        /* GETs answered with a redirect, on either host */
} stored_link;

static struct {
    pg_server *pg;
    httpd_server *a, *b;   /* a is g_srv */
    char password[40];
    char *url;             /* postgresql://minilink:<password>@127.0.0.1:<port>/minilink */
    char *params;          /* host=127.0.0.1 port=... password=... */
    stored_link links[MAX_LINKS];
    int nlinks;
    int outages;           /* PostgreSQL stops so far: the lines expected */
} P;

/* ---- what the hosts must serve -------------------------------------- */

static stored_link *link_of(const char *slug)
{
    int i;
    for (i = 0; i < P.nlinks && strcmp(P.links[i].slug, slug) != 0; i++) {
    }
    if (i == P.nlinks) {
        memset(&P.links[i], 0, sizeof P.links[i]);
        snprintf(P.links[i].slug, sizeof P.links[i].slug, "%s", slug);
        P.links[P.nlinks++].status = 404;
    }
    return &P.links[i];
}

/* What the hosts must answer for slug from now on (a change made now: returns now_ms()). */
static long expect_link(const char *slug, long status, const char *url)
{
    stored_link *link = link_of(slug);
    link->status = status;
    snprintf(link->url, sizeof link->url, "%s", url ? url : "");
    return now_ms();
}

/* Every GET on /l/<slug> answered with a redirect is a click (a query string aside). */
static void count_click(const httpd_server *srv, const char *host, const char *path)
{
    (void)srv, (void)host;
    if (strncmp(path, "/l/", 3) == 0) {
        link_of(tfmt("%.*s", (int)strcspn(path + 3, "?"), path + 3))->clicks++;
    }
}

static const char *host_name(const httpd_server *srv)
{
    return srv == P.a ? "A" : "B";
}

/* GET /l/<slug> on srv (a new connection: any child) answers as expected. */
static int expect_served_at(int line, const char *when, const httpd_server *srv, const char *slug)
{
    const stored_link *link = link_of(slug);
    http_response *r = ask(srv, "GET", NULL, tfmt("/l/%s", slug));
    return check_at(line, response_is(r, link->status, link->url), "%s: GET /l/%s on host "
                    "%s: %ld, Location \"%s\" (transport: %s); expected %ld, Location \"%s\"",
                    when, slug, host_name(srv), r->status, str_or_null(r->location),
                    r->curl_code ? r->error : "ok", link->status, link->url);
}

#define EXPECT_SERVED(when, srv, slug) expect_served_at(__LINE__, (when), (srv), (slug))

/* Polls HEAD /l/<slug> on srv until it answers as expected (then 3 more asks must agree), then one
 * GET (a click): the ms since `since`, or -1. */
static long wait_served_at(int line, const char *what, const httpd_server *srv,
                           const char *slug, long since, long poll_ms)
{
    const stored_link *link = link_of(slug);
    long delay = wait_answer_at(__FILE__, line, tfmt("%s %s on host %s", what, slug,
                                                     host_name(srv)), srv, "HEAD", NULL,
                                tfmt("/l/%s", slug), link->status, link->url, since, poll_ms);

    return delay >= 0 && expect_served_at(line, what, srv, slug) ? delay : -1;
}

#define WAIT_SERVED(what, srv, slug, since) \
    wait_served_at(__LINE__, (what), (srv), (slug), (since), POLL_MS)
#define WAIT_BOTH(what, slug, since) \
    (WAIT_SERVED(what " -> A", P.a, slug, since), WAIT_SERVED(what " -> B", P.b, slug, since))

/* Every link of the bookkeeping, on both hosts. */
static void expect_all_served_at(int line, const char *when)
{
    int i;
    for (i = 0; i < 2 * P.nlinks; i++) {
        expect_served_at(line, when, i % 2 ? P.b : P.a, P.links[i / 2].slug);
    }
}

/* "clicks: N" from `minilink stats SLUG`; -1 if it failed. */
static long stored_clicks(const char *slug)
{
    const char *args[] = { "stats", slug, NULL };
    char *out = NULL, *p;
    long clicks = cli_run(args, &out) == 0 && (p = strstr(out, "clicks: ")) ? atol(p + 8) : -1;

    free(out);
    return clicks;
}

/* Lines of `minilink visits SLUG`: the visits stored; -1 if it failed. */
static long stored_visits(const char *slug)
{
    const char *args[] = { "visits", slug, NULL };
    char *out = NULL, *p;
    long lines = 0;

    if (cli_run(args, &out) != 0) {
        free(out);
        return -1;
    }
    for (p = out; (p = strchr(p, '\n')) != NULL; p++) {
        lines++;
    }
    free(out);
    return lines;
}

/* ---- creation over HTTP --------------------------------------------- */

/* POST {"url": url[, "slug": slug]} to /l/ on srv. */
static http_response *post_create(const httpd_server *srv, const char *url, const char *slug)
{
    static const char *const headers[] = { "Content-Type: application/json",
                                           "Accept: application/json", NULL };
    json_t *body = slug ? json_pack("{s:s, s:s}", "url", url, "slug", slug)
                        : json_pack("{s:s}", "url", url);
    char *text = tkeep(json_dumps(body, JSON_COMPACT));
    http_request_spec req = { "POST", NULL, "/l/", headers, text, strlen(text), NULL };

    json_decref(body);
    return ask_spec(srv, &req);
}

/* A creation on srv answers status (and, for 200/201, this slug). */
static int create_at(int line, const httpd_server *srv, const char *url, const char *slug,
                     long status, const char *answer_slug)
{
    http_response *r = post_create(srv, url, slug);
    if (!check_at(line, r->curl_code == 0 && r->status == status, "POST /l/ {url %s, slug %s} "
                  "on host %s: %ld (transport: %s), expected %ld; body: %.400s", url,
                  str_or_null(slug), host_name(srv), r->status, r->curl_code ? r->error : "ok",
                  status, r->body) || answer_slug == NULL) {
        return r->curl_code == 0 && r->status == status;
    }
    return expect_str_at(__FILE__, line, json_text(r->body, "slug"), answer_slug,
                         "POST /l/ {url %s} on host %s: the slug", url, host_name(srv));
}

#define CREATE(srv, url, slug, status, answer_slug) \
    create_at(__LINE__, (srv), (url), (slug), (status), (answer_slug))

/* Polls creation on srv until it answers 201 (each answer before must be 503), for up to
 * RECOVER_MS: the ms since `since`, or -1. */
static long wait_create_at(int line, const httpd_server *srv, const char *url,
                           const char *slug, long since)
{
    http_response *r;

    while ((r = post_create(srv, url, slug))->curl_code == 0 && r->status == 503
           && now_ms() - since < RECOVER_MS) {
        sleep_ms(POLL_MS);
    }
    if (!check_at(line, r->curl_code == 0 && r->status == 201, "creation of %s on host %s "
                  "after PostgreSQL came back: %ld (transport: %s) %ld ms after it was "
                  "started, expected 503 then 201; body: %.400s", slug, host_name(srv),
                  r->status, r->curl_code ? r->error : "ok", now_ms() - since, r->body)) {
        return -1;
    }
    fprintf(stderr, "[creation on %s works again: %ld ms] ", host_name(srv), now_ms() - since);
    return now_ms() - since;
}

/* ---- the hosts' pages and logs -------------------------------------- */

/* "MinilinkRefreshErrors: N" of srv's /server-status?auto; -1 if none. */
static long refresh_errors(const httpd_server *srv)
{
    http_response *r = ask(srv, "GET", NULL, "/server-status?auto");
    const char *p = r->status == 200 ? strstr(r->body, "MinilinkRefreshErrors: ") : NULL;
    return p ? atol(p + 23) : -1;
}

/* srv's error-log lines with this ML tag at a level other than debug: what a server at LogLevel
 * info shows (the hosts log at debug for diagnosis, and the README's ML00019 repeats itself at
 * debug by design). */
#define ml_lines(srv, tag) log_lines((srv), (log_filter){ (tag), NULL, 1, 1 })

/* srv's error log has exactly `expected` such lines. */
static void expect_lines_at(int line, const httpd_server *srv, const char *tag, int expected,
                            const char *why)
{
    if (!expect_long_at(__FILE__, line, ml_lines(srv, tag), expected, "host %s: %s lines in "
                        "the error log (debug aside; %s)", host_name(srv), tag, why)) {
        fprintf(stderr, "    last %s line: %s\n", tag,
                str_or_null(tkeep(httpd_error_log_last_line(srv, tag))));
    }
}

#define EXPECT_LINES(srv, tag, expected, why) \
    expect_lines_at(__LINE__, (srv), (tag), (expected), (why))

/* Waits (bounded) until srv has more than `before` such lines. */
static void wait_line_at(int line, const httpd_server *srv, const char *tag, int before,
                         const char *why)
{
    check_at(line, log_wait_lines(srv, (log_filter){ tag, NULL, 1, 1 }, before,
                                  BOUNDED_WAIT_MS) >= 0,
             "host %s: no new %s line (%s) within %d ms", host_name(srv), tag, why,
             BOUNDED_WAIT_MS);
}

/* ---- stored before the start; created on one host; changed with the CLI -- */

static void test_stored_links_served(void)
{
    static const char *const slugs[] = { "seed1", "seed2", "seed3", "gone1", "nosuch" };
    size_t i;
    for (i = 0; i < ARRAY_LEN(slugs); i++) {
        EXPECT_SERVED(i < 4 ? "at startup" : "never stored", P.a, slugs[i]);
        EXPECT_SERVED(i < 4 ? "at startup" : "never stored", P.b, slugs[i]);
    }
}

static void test_created_on_one_served_by_other(void)
{
    if (CREATE(P.a, "https://example.com/from-a", "froma", 201, "froma")) {
        long t = expect_link("froma", 302, "https://example.com/from-a");
        EXPECT_SERVED("on the host that made it, at once", P.a, "froma");
        WAIT_SERVED("A -> B", P.b, "froma", t);
    }
    if (CREATE(P.b, "https://example.com/from-b?x=1", "fromb", 201, "fromb")) {
        long t = expect_link("fromb", 302, "https://example.com/from-b?x=1");
        EXPECT_SERVED("on the host that made it, at once", P.b, "fromb");
        WAIT_SERVED("B -> A", P.a, "fromb", t);
    }
    /* The database is shared: B knows A's link, and its slug. */
    CREATE(P.b, "https://example.com/from-a", NULL, 200, "froma");
    CREATE(P.b, "https://example.com/elsewhere", "froma", 409, NULL);
    CREATE(P.a, "https://example.com/elsewhere", "fromb", 409, NULL);
    EXPECT_SERVED("after a refused slug", P.a, "froma");
    EXPECT_SERVED("after a refused slug", P.b, "fromb");
}

#define CLI_CHANGED_URL "https://example.com/cli/1-b"

/* Each `minilink set cli1 ...` in turn, then what both hosts must answer. */
static const struct cli_set_step {
    const char *option, *value;     /* value NULL for a flag */
    long status;                    /* 410: no Location */
} cli_set_steps[] = {
    { "--url", CLI_CHANGED_URL, 302 },
    { "--status", "308", 308 },
    { "--disable", NULL, 410 },
    { "--enable", NULL, 308 },
    { "--expires", "2001-01-01", 410 },
    { "--expires", "never", 308 },
};

static void test_cli_changes_followed(void)
{
    char *out;
    size_t i;
    long t;

    if (!CLI_EXPECT(0, NULL, "add", "https://example.com/cli/1", "cli1")) {
        return;
    }
    t = expect_link("cli1", 302, "https://example.com/cli/1");
    WAIT_BOTH("CLI add", "cli1", t);
    for (i = 0; i < ARRAY_LEN(cli_set_steps); i++) {
        const struct cli_set_step *step = &cli_set_steps[i];
        const char *args[] = { "set", "cli1", step->option, step->value, NULL };
        char *what = tfmt("CLI set %s%s%s", step->option, step->value ? " " : "",
                          step->value ? step->value : "");

        if (cli_expect_at(HERE, 0, NULL, args)) {
            t = expect_link("cli1", step->status, step->status == 410 ? NULL : CLI_CHANGED_URL);
            wait_served_at(__LINE__, tfmt("%s -> A", what), P.a, "cli1", t, POLL_MS);
            wait_served_at(__LINE__, tfmt("%s -> B", what), P.b, "cli1", t, POLL_MS);
        }
    }
    if (CLI_EXPECT(0, &out, "show", "cli1")) {
        CHECK(strstr(out, CLI_CHANGED_URL) && strstr(out, "308"), "minilink show cli1 does "
              "not show its URL %s and status 308:\n%s", CLI_CHANGED_URL, out);
    }
    if (CLI_EXPECT(0, &out, "list")) {
        CHECK(strstr(out, "cli1\t" CLI_CHANGED_URL "\n")
              && strstr(out, "froma\thttps://example.com/from-a\n"), "minilink list lacks "
              "\"cli1<TAB>%s\" or froma:\n%s", CLI_CHANGED_URL, out);
    }
    if (CLI_EXPECT(0, NULL, "rm", "cli1")) {
        t = expect_link("cli1", 404, NULL);
        WAIT_BOTH("CLI rm", "cli1", t);
    }
    CLI_EXPECT(3, NULL, "rm", "cli1");
    CLI_EXPECT(4, NULL, "add", "https://example.com/taken", "froma");
}

/* ---- a big import, in groups of 512 -------------------------------- */

/* A CSV of n links "bulkN" (row n - 40, if dup > 0, repeating slug dup). */
static char *bulk_csv(int n, int dup)
{
    char *csv = tfmt("slug,url,status,expires_at,disabled\n");
    int i;

    for (i = 1; i <= n; i++) {
        csv = tfmt("%sbulk%d,https://example.com/bulk/%d,,,0\n", csv, i == n - 40 && dup
                   ? dup : i, i);
    }
    return csv;
}

static void test_import_in_groups(void)
{
    char *csv = tpath("bulk.csv"), *out;

    /* Row 560, in the second group of 512, repeats bulk5 of the first: refused by the database.
     * (600 links: the hosts' tables have room for 1024 more than they loaded.) */
    if (CHECK(write_file(csv, bulk_csv(600, 5), strlen(bulk_csv(600, 5))) == 0
              && httpd_chown(P.a, csv) == 0, "cannot write %s", csv)
        && CLI_EXPECT(4, &out, "import", csv)) {
        EXPECT_HAS(out, "bulk.csv:561:", "the refused row's line");
        EXPECT_HAS(out, "'bulk5'", "the refused slug");
    }
    CLI_EXPECT(3, NULL, "show", "bulk1");     /* nothing of it stored */
    if (CHECK(write_file(csv, bulk_csv(600, 0), strlen(bulk_csv(600, 0))) == 0,
              "cannot write %s", csv)
        && CLI_EXPECT(0, &out, "import", csv)) {
        EXPECT_HAS(out, "imported 600 links", "the whole import");
        WAIT_BOTH("bulk import", "bulk600", expect_link("bulk600", 302,
                                                        "https://example.com/bulk/600"));
    }
}

/* Kutt's API list, imported into PostgreSQL: the visits and creation times it had are written
 * for the whole group in one statement (ml_store_set_history), and both hosts serve the links. */
static void test_peer_history_kept(void)
{
    static const char kutt[] =
        "{\"total\":2,\"data\":[{\"address\":\"kutt1\",\"target\":\"https://example.com/k1\","
        "\"created_at\":\"2024-01-01T12:00:00.000Z\",\"visit_count\":17,\"banned\":false},"
        "{\"address\":\"kutt2\",\"target\":\"https://example.com/k2\",\"created_at\":"
        "\"2024-02-01T00:00:00.000Z\",\"visit_count\":0,\"banned\":true}]}";
    char *json = tpath("kutt.json"), *out;
    long t;

    if (!CHECK(write_file(json, kutt, strlen(kutt)) == 0 && httpd_chown(P.a, json) == 0,
               "cannot write %s", json)
        || !CLI_EXPECT(0, &out, "import", "--from", "kutt", json)) {
        return;
    }
    EXPECT_HAS(out, "imported 2 links", "import --from kutt into PostgreSQL");
    EXPECT_EQ(stored_clicks("kutt1"), 17, "Kutt's visit_count, as the clicks stored");
    if (CLI_EXPECT(0, &out, "show", "kutt1")) {
        EXPECT_HAS(out, "created: 2024-01-01T12:00:00Z\n", "Kutt's created_at");
    }
    t = expect_link("kutt1", 302, "https://example.com/k1");
    expect_link("kutt2", 410, NULL);
    WAIT_BOTH("imported from Kutt", "kutt1", t);
    WAIT_BOTH("imported from Kutt, banned", "kutt2", t);
    /* Gone again: the clicks Kutt counted are no visits of ours, which the last tests compare. */
    CLI_EXPECT(0, NULL, "rm", "kutt1");
    CLI_EXPECT(0, NULL, "rm", "kutt2");
    t = expect_link("kutt1", 404, NULL);
    expect_link("kutt2", 404, NULL);
    WAIT_BOTH("removed", "kutt1", t);
    WAIT_BOTH("removed", "kutt2", t);
}

/* ---- a SQLite database moved to PostgreSQL -------------------------- */

static void test_sqlite_moved_to_postgresql(void)
{
    char *old_db = tpath("old.db"), *csv = tpath("old.csv"), *sqlite_export = NULL, *pg_export;
    char *line, *end;
    static const char *const steps[][6] = {
        { "init" }, { "add", "https://example.com/moved/1", "moved1" },
        { "add", "https://example.com/?tags=a,b", "moved2" },
        { "add", "https://example.com/moved/3", "moved3" },
        { "set", "moved2", "--status", "301" }, { "set", "moved3", "--disable" }, { "export" },
    };
    size_t i;
    int rc = 0;
    long t;

    /* The old server's file, filled with the CLI on SQLite. */
    for (i = 0; i < ARRAY_LEN(steps) && rc == 0; i++) {
        rc = cli_run_on(old_db, steps[i], &sqlite_export);
        CHECK(rc == 0, "minilink --db %s %s exited %d: %s", old_db, steps[i][0], rc,
              (char *)tkeep(sqlite_export));
    }
    if (rc != 0 || !CHECK(write_file(csv, sqlite_export, strlen(sqlite_export)) == 0
                          && httpd_chown(P.a, csv) == 0, "cannot write %s", csv)
        || !CLI_EXPECT(0, &line, "import", csv)) {
        return;
    }
    EXPECT_HAS(line, "imported 3 links", "import into PostgreSQL");
    t = expect_link("moved1", 302, "https://example.com/moved/1");
    expect_link("moved2", 301, "https://example.com/?tags=a,b");
    expect_link("moved3", 410, NULL);
    WAIT_BOTH("imported", "moved1", t);
    WAIT_BOTH("imported", "moved2", t);
    WAIT_BOTH("imported", "moved3", t);
    /* Every row exported from SQLite comes back the same from PostgreSQL. */
    if (CLI_EXPECT(0, &pg_export, "export")) {
        for (line = sqlite_export; *line; line = end) {
            end = strstr(line, "\r\n");
            end = end ? end + 2 : line + strlen(line);
            EXPECT_HAS(pg_export, tfmt("%.*s", (int)(end - line), line),
                       "PostgreSQL's export, for a row of SQLite's");
        }
    }
}

/* ---- clicks on both hosts add up; propagation measured -------------- */

/* Polls `minilink stats slug` until it shows expected clicks or more (bounded): the last count. */
static long wait_clicks(const char *slug, long expected)
{
    long clicks, waited = POLL_UNTIL((clicks = stored_clicks(slug)) >= expected, BOUNDED_WAIT_MS,
                                     POLL_MS);
    fprintf(stderr, "[%s: %ld clicks stored after %ld ms] ", slug, clicks, waited);
    return clicks;
}

static void test_clicks_add_up(void)
{
    long t, base;
    int i;

    if (!CLI_EXPECT(0, NULL, "add", "https://example.com/clicky", "clicky")) {
        return;
    }
    t = expect_link("clicky", 302, "https://example.com/clicky");
    if (WAIT_SERVED("CLI add -> A", P.a, "clicky", t) < 0
        || WAIT_SERVED("CLI add -> B", P.b, "clicky", t) < 0) {
        return;
    }
    /* The waits ended with one GET on each host: start from those. */
    base = link_of("clicky")->clicks;
    if (!EXPECT_EQ(wait_clicks("clicky", base), base, "clicky: clicks in the shared table "
                   "after one GET on each host")) {
        return;
    }
    for (i = 0; i < CLICKS_ON_A + CLICKS_ON_B; i++) {
        EXPECT_SERVED(i < CLICKS_ON_A ? "click on A" : "click on B",
                      i < CLICKS_ON_A ? P.a : P.b, "clicky");
    }
    EXPECT_EQ(wait_clicks("clicky", base + CLICKS_ON_A + CLICKS_ON_B),
              base + CLICKS_ON_A + CLICKS_ON_B, "clicky: clicks in the shared table (%d on "
              "A, %d on B)", CLICKS_ON_A, CLICKS_ON_B);
    /* The admin page flushes before answering: nothing is left to add. */
    fetch_page_at(HERE, P.a, "/minilink-admin/links/clicky", NULL);
    fetch_page_at(HERE, P.b, "/minilink-admin/links/clicky", NULL);
    EXPECT_EQ(stored_clicks("clicky"), base + CLICKS_ON_A + CLICKS_ON_B,
              "clicky: clicks after both hosts flushed again");
}

static int compare_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Every click on either host left a visit in the shared table; each host's ring is written
 * out by its admin visits page, which answers from the shared table. */
static void test_visits_add_up(void)
{
    const char *args[] = { "visits", "clicky", "--by", "day", NULL };
    long clicks = stored_clicks("clicky"), day_clicks = 0;
    char *out = NULL, *line;
    json_t *a, *b;

    fetch_page_at(HERE, P.a, "/minilink-admin/links/clicky", NULL);
    fetch_page_at(HERE, P.b, "/minilink-admin/links/clicky", NULL);
    clicks = stored_clicks("clicky");
    a = json_loads(str_or_null(fetch_page_at(HERE, P.a, "/minilink-admin/links/clicky/visits",
                                             "application/json")), 0, NULL);
    b = json_loads(str_or_null(fetch_page_at(HERE, P.b, "/minilink-admin/links/clicky/visits",
                                             "application/json")), 0, NULL);
    EXPECT_EQ((long)json_integer_value(json_object_get(json_object_get(json_object_get(b,
              "visits"), "pagination"), "totalItems")), clicks, "clicky: visits host B "
              "shows, against the clicks of both hosts (%d on A, %d on B, and the GETs before)",
              CLICKS_ON_A, CLICKS_ON_B);
    json_decref(a);
    json_decref(b);
    EXPECT_EQ(stored_visits("clicky"), clicks, "clicky: minilink visits, against the clicks");
    if (cli_run(args, &out) == 0) {
        for (line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1
                                                                 : NULL) {
            day_clicks += atol(strchr(line, '\t') ? strchr(line, '\t') + 1 : "0");
        }
    }
    free(out);
    EXPECT_EQ(day_clicks, clicks, "clicky: the daily roll-up, summed");
    /* An orphan visit on A is in the shared table for B's page too. */
    GET("/l/orphan-on-a", 404, NULL);
    fetch_page_at(HERE, P.a, "/minilink-admin/visits/orphan", NULL);
    EXPECT_HAS(fetch_page_at(HERE, P.b, "/minilink-admin/visits/orphan", "application/json"),
               "\"visitedUrl\":\"/l/orphan-on-a\"", "host B's orphan visits");
}

/* The admin pages read PostgreSQL as they read SQLite: a link's fields edited on A's pages are
 * served by B within its refresh, and B's pages show the change and the day's clicks. */
static void test_admin_pages_edit(void)
{
    const char *headers[] = { BROWSER_ACCEPT, NULL };
    http_request_spec req = { "GET", NULL, "/minilink-admin/", headers, NULL, 0, NULL };
    admin_token token = admin_token_at(HERE, P.a, "/minilink-admin/", NULL);
    http_response *r;
    stored_link *link = link_of("clicky");
    long t;

    r = ask_spec(P.b, &req);
    EXPECT_EQ(r->status, 200, "B's overview");
    EXPECT_HAS(r->body, "data-clicks=\"", "B's overview chart");
    req.path = "/minilink-admin/links?q=click";
    EXPECT_HAS(ask_spec(P.a, &req)->body, "href=\"/minilink-admin/links/clicky\"",
               "A's links table, searched");
    r = admin_post(P.a, "/minilink-admin/links/clicky", "url=https%3A%2F%2Fexample.com%2F"
                   "admin-edit&title=Edited+on+A&tags=pg", token.field, token.cookie,
                   tfmt("http://127.0.0.1:%d", P.a->port), NULL);
    EXPECT_EQ(r->status, 303, "the edit on A's page");
    snprintf(link->url, sizeof link->url, "https://example.com/admin-edit");
    t = now_ms();
    EXPECT_SERVED("edited on A's admin page, on A at once", P.a, "clicky");
    WAIT_SERVED("A's admin page -> B", P.b, "clicky", t);
    req.path = "/minilink-admin/links/clicky";
    r = ask_spec(P.b, &req);
    EXPECT_HAS(r->body, "value=\"Edited on A\"", "B's page of the link");
    /* curl's clicks count as bots or people, as uap-core says: a bar either way. */
    EXPECT_HAS(r->body, "<rect class=\"", "B's chart of the link's clicks");
}

static void test_propagation_measured(void)
{
    long delays[PROPAGATION_ROUNDS];
    int i, n = 0;

    for (i = 0; i < PROPAGATION_ROUNDS; i++) {
        char *slug = tfmt("prop%d", i), *url = tfmt("https://example.com/propagation/%d", i);

        if (CREATE(P.a, url, slug, 201, slug)) {
            long t = expect_link(slug, 302, url);
            delays[n] = wait_served_at(__LINE__, "A -> B", P.b, slug, t, 10);
            n += delays[n] >= 0;
        }
        /* Out of step with the refresher: a round takes about one refresh interval, so without
         * this every change would land at the same point of it.  Real changes land anywhere. */
        sleep_ms((i * 379) % 1000);
    }
    if (n > 0) {
        qsort(delays, (size_t)n, sizeof *delays, compare_long);
        fprintf(stderr, "\n    [propagation, created on A (event) -> served by B (prefork), "
                "MinilinkRefreshInterval 1: median %ld ms, min %ld, max %ld, over %d links] ",
                n % 2 ? delays[n / 2] : (delays[n / 2 - 1] + delays[n / 2]) / 2, delays[0],
                delays[n - 1], n);
    }
}

/* ---- PostgreSQL stopped, and started again -------------------------- */

/* OUTAGE_POSTS creations on srv, each must answer 503 with a message. */
static void expect_creation_refused_at(int line, const httpd_server *srv, int round)
{
    int i;

    for (i = 0; i < OUTAGE_POSTS; i++) {
        http_response *r = post_create(srv, tfmt("https://example.com/outage/%d/%s/%d",
                                                 P.outages, host_name(srv),
                                                 round * OUTAGE_POSTS + i),
                                       i % 2 ? NULL : "outage");
        char *error = json_text(r->body, "error");

        check_at(line, r->curl_code == 0 && r->status == 503, "POST /l/ on host %s while "
                 "PostgreSQL is down: %ld (transport: %s), expected 503; body: %.300s",
                 host_name(srv), r->status, r->curl_code ? r->error : "ok", r->body);
        check_at(line, error && *error, "the 503 of host %s has no \"error\" message: %.300s",
                 host_name(srv), r->body);
    }
}

/* Stops PostgreSQL and checks what both hosts do; lines as of outage n. */
static void outage_at(int line)
{
    const httpd_server *hosts[2] = { P.a, P.b };
    const char *args[] = { "list", NULL };
    long errors_before[2];
    char *out = NULL;
    int h, rc;

    for (h = 0; h < 2; h++) {
        errors_before[h] = refresh_errors(hosts[h]);
        check_at(line, errors_before[h] >= 0, "host %s: no MinilinkRefreshErrors in "
                 "/server-status?auto", host_name(hosts[h]));
    }
    P.outages++;
    if (!check_at(line, pg_stop(P.pg) == 0, "pg_ctl stop -m fast failed")) {
        return;
    }
    fprintf(stderr, "[PostgreSQL stopped (outage %d)] ", P.outages);
    expect_all_served_at(line, "PostgreSQL down");
    for (h = 0; h < 2; h++) {
        expect_creation_refused_at(line, hosts[h], 0);
    }
    for (h = 0; h < 2; h++) {
        long n = -1;
        wait_line_at(line, hosts[h], "ML00007", P.outages - 1, "refresher: outage");
        /* The refresher has failed REFRESH_RETRIES more times. */
        POLL_UNTIL((n = refresh_errors(hosts[h])) >= errors_before[h] + REFRESH_RETRIES,
                   BOUNDED_WAIT_MS + REFRESH_RETRIES * 1000, POLL_MS);
        check_at(line, n >= errors_before[h] + REFRESH_RETRIES, "host %s: "
                 "MinilinkRefreshErrors went from %ld to %ld; expected %d more failed "
                 "refreshes while PostgreSQL is down", host_name(hosts[h]), errors_before[h],
                 n, REFRESH_RETRIES);
    }
    rc = cli_run(args, &out);
    check_at(line, rc == 5, "minilink list while PostgreSQL is down exited %d, expected 5: %s",
             rc, str_or_null(tkeep(out)));
    check_at(line, out && strstr(out, P.password) == NULL, "minilink's error message shows "
             "the password: %s", str_or_null(out));
    for (h = 0; h < 2; h++) {
        expect_creation_refused_at(line, hosts[h], 1);
    }
    expect_all_served_at(line, "PostgreSQL still down");
    for (h = 0; h < 2; h++) {
        expect_lines_at(line, hosts[h], "ML00007", P.outages, "one per outage, from the refresher");
        expect_lines_at(line, hosts[h], "ML00019", P.outages, "one per outage, however many "
                        "creations failed");
        check_at(line, ml_lines(hosts[h], "ML00025") <= P.outages, "host %s: %d ML00025 "
                 "lines (clicks cannot be written), expected at most one per outage",
                 host_name(hosts[h]), ml_lines(hosts[h], "ML00025"));
    }
}

/* Starts PostgreSQL again; creation must work again on both hosts. */
static void recovery_at(int line, const char *slug_a, const char *slug_b)
{
    const char *slugs[2] = { slug_a, slug_b };
    httpd_server *hosts[2] = { P.a, P.b };
    long t;
    int h;

    if (!check_at(line, pg_start(P.pg) == 0, "PostgreSQL did not start again")) {
        return;
    }
    t = now_ms();
    fprintf(stderr, "[PostgreSQL started again] ");
    for (h = 0; h < 2; h++) {
        char *url = tfmt("https://example.com/after/%s", slugs[h]);
        if (wait_create_at(line, hosts[h], url, slugs[h], t) >= 0) {
            expect_link(slugs[h], 302, url);
            wait_served_at(line, h ? "made on B after the outage -> A"
                                   : "made on A after the outage -> B", hosts[1 - h],
                           slugs[h], now_ms(), POLL_MS);
        }
    }
    for (h = 0; h < 2; h++) {
        wait_line_at(line, hosts[h], "ML00008", P.outages - 1, "refresher: recovered");
    }
    for (h = 0; h < 2; h++) {
        expect_lines_at(line, hosts[h], "ML00007", P.outages, "no more after recovery");
        expect_lines_at(line, hosts[h], "ML00019", P.outages, "no more after recovery");
        expect_lines_at(line, hosts[h], "ML00008", P.outages, "one per recovery");
        expect_lines_at(line, hosts[h], "ML00032", P.outages, "creation works again: one per "
                        "recovery");
    }
}

static void test_outage_served_from_cache(void)
{
    outage_at(__LINE__);
}

static void test_recovery_by_itself(void)
{
    recovery_at(__LINE__, "aftera", "afterb");
    /* The refresher follows the CLI again too. */
    if (CLI_EXPECT(0, NULL, "add", "https://example.com/after/cli", "aftercli")) {
        long t = expect_link("aftercli", 302, "https://example.com/after/cli");
        WAIT_BOTH("CLI add after the outage", "aftercli", t);
    }
    expect_all_served_at(__LINE__, "after the outage");
}

/* A second outage, with a graceful restart of both hosts in it (logrotate does one daily): the new
 * generation cannot load from PostgreSQL, so it serves the last table that loaded (one ML00033
 * line), and the outage still has one ML00007 line. */
static void test_second_outage(void)
{
    httpd_server *hosts[2] = { P.a, P.b };
    int h, before[2];

    outage_at(__LINE__);
    for (h = 0; h < 2; h++) {
        before[h] = ml_lines(hosts[h], "ML00033");
        CHECK(httpd_graceful(hosts[h]) == 0, "graceful restart of host %s while PostgreSQL "
              "is down failed", host_name(hosts[h]));
    }
    expect_all_served_at(__LINE__, "graceful restart while PostgreSQL is down");
    for (h = 0; h < 2; h++) {
        EXPECT_LINES(hosts[h], "ML00033", before[h] + 1, "the restart serves the last table "
                     "that loaded");
        EXPECT_LINES(hosts[h], "ML00001", 0, "no host answers 503 for its links");
        expect_creation_refused_at(__LINE__, hosts[h], 2);
        EXPECT_LINES(hosts[h], "ML00007", P.outages, "still one for this outage");
        EXPECT_LINES(hosts[h], "ML00019", P.outages, "still one for this outage");
    }
    recovery_at(__LINE__, "aftera2", "afterb2");
}

/* ---- PostgreSQL frozen ---------------------------------------------- */

/* PostgreSQL unreachable rather than down: frozen (SIGSTOP), it accepts connections (the kernel
 * does) and never answers, as a hung server or a network that drops packets.  Redirects must not
 * wait for it; creation must still answer 503 (the README: connecting gives up after 5 s, so a
 * request is not held for minutes), and each refresher must log its ML00007.  Creation is tried
 * FROZEN_POSTS times per host at once, so that children with and without a kept connection are
 * both likely asked. */
static void test_frozen_not_waited_for(void)
{
    const httpd_server *hosts[2] = { P.a, P.b };
    static const char *const json[] = { "Content-Type: application/json", NULL };
    load_spec posts = { .paths = { "/l/" }, .status = 503, .npaths = 1, .clients = FROZEN_POSTS,
                        .per_client = 1, .use_curl = 1, .method = "POST", .headers = json,
                        .body = "{\"url\": \"https://example.com/frozen\"}" };
    load_run *creations[2];
    /* A visitor during the graceful restart: GETs of seed1, a new connection each, so that the new
     * generation answers too. */
    load_spec visitor = { .port = P.a->port, .paths = { "/l/seed1" },
                          .urls = { link_of("seed1")->url }, .status = 302, .npaths = 1,
                          .clients = 1, .think_us = 20000, .new_connections = 1 };
    load_totals seen;
    load_run *probe;
    long slowest = 0, t, start;
    int round, i, h, n, asked = 0, ok = 1, before_07[2], before_34[2], restarted;

    for (h = 0; h < 2; h++) {
        before_07[h] = ml_lines(hosts[h], "ML00007");
        before_34[h] = ml_lines(hosts[h], "ML00034");
    }
    n = pg_freeze(P.pg, 1);
    if (!CHECK(n > 0, "cannot freeze PostgreSQL (%d processes stopped)", n)) {
        return;
    }
    start = now_ms();
    fprintf(stderr, "[PostgreSQL frozen: %d processes] ", n);
    for (round = 0; round < 2 && ok; round++) {
        if (round == 1) {
            sleep_ms(2500);   /* two refresh intervals: both refreshers are stuck on it */
        }
        /* Stop at the first failure: each would wait out curl's 15 s. */
        for (i = 0; i < 2 * P.nlinks && ok; i++, asked++) {
            t = now_ms();
            ok = expect_served_at(__LINE__, "PostgreSQL frozen", hosts[i % 2], P.links[i / 2].slug);
            slowest = now_ms() - t > slowest ? now_ms() - t : slowest;
        }
    }
    fprintf(stderr, "[%d requests while frozen, slowest %ld ms] ", asked, slowest);
    for (h = 0; h < 2; h++) {   /* all at once */
        posts.port = hosts[h]->port;
        creations[h] = load_begin(&posts);
    }
    for (h = 0, slowest = 0; h < 2; h++) {
        load_end(creations[h], 0, &seen);
        CHECK(seen.not_started == 0 && seen.ok_total == FROZEN_POSTS, "host %s: %ld of %d POST "
              "/l/ while PostgreSQL is frozen answered 503 (the first problem is above)",
              host_name(hosts[h]), seen.ok_total, FROZEN_POSTS);
        slowest = seen.slowest_ms > slowest ? seen.slowest_ms : slowest;
    }
    fprintf(stderr, "[%d creations while frozen, slowest answer %ld ms] ", 2 * FROZEN_POSTS,
            slowest);
    for (h = 0; h < 2; h++) {
        log_wait_lines(hosts[h], (log_filter){ "ML00007", NULL, 1, 1 }, before_07[h],
                       FROZEN_WAIT_MS - (now_ms() - start));
        CHECK(ml_lines(hosts[h], "ML00007") > before_07[h], "host %s: no ML00007 line "
              "(cannot refresh) %ld ms after PostgreSQL froze", host_name(hosts[h]),
              now_ms() - start);
        CHECK(ml_lines(hosts[h], "ML00034") > before_34[h], "host %s: no ML00034 line (the "
              "refresher gave up waiting) %ld ms after PostgreSQL froze", host_name(hosts[h]),
              now_ms() - start);
    }
    /* logrotate's graceful restart, while it is frozen: the new generation's load gives up
     * (connect_timeout) and serves the last table; the old generation's refresher, stuck or not,
     * must not hold the restart up. */
    t = now_ms();
    probe = load_begin(&visitor);
    restarted = httpd_graceful(P.a) == 0;
    sleep_ms(200);   /* a few requests to the new generation too */
    load_end(probe, 1, &seen);
    link_of("seed1")->clicks += seen.ok_total;
    fprintf(stderr, "[graceful restart of A while frozen: %ld ms; %ld GETs meanwhile] ",
            now_ms() - t, seen.requests);
    CHECK(seen.not_started == 0 && seen.ok_total == seen.requests, "%ld of %ld GET /l/seed1 "
          "on host A during its graceful restart while PostgreSQL is frozen were not answered "
          "302 (see the load client's first problem above)", seen.requests - seen.ok_total,
          seen.requests);
    if (CHECK(restarted, "graceful restart of host A while PostgreSQL is frozen failed")) {
        for (i = 0; i < P.nlinks && expect_served_at(__LINE__, "restarted while PostgreSQL "
                                                     "is frozen", P.a, P.links[i].slug); i++) {
        }
    }
    CHECK(pg_freeze(P.pg, 0) > 0, "cannot thaw PostgreSQL");
    fprintf(stderr, "[PostgreSQL thawed after %ld ms] ", now_ms() - start);
    if (CLI_EXPECT(0, NULL, "add", "https://example.com/after/freeze", "afterfreeze")) {
        t = expect_link("afterfreeze", 302, "https://example.com/after/freeze");
        WAIT_BOTH("CLI add after the freeze", "afterfreeze", t);
    }
}

/* ---- every click is stored; the password is never shown ------------- */

static void test_all_clicks_stored(void)
{
    long start = now_ms();
    int i, wrong;

    /* Clicks made while PostgreSQL was down waited in memory. */
    do {
        for (i = wrong = 0; i < P.nlinks; i++) {
            wrong += P.links[i].status != 404 && stored_clicks(P.links[i].slug)
                                                 != P.links[i].clicks;
        }
    } while (wrong && now_ms() - start < BOUNDED_WAIT_MS && (sleep_ms(POLL_MS), 1));
    for (i = 0; i < P.nlinks; i++) {
        if (P.links[i].status != 404) {
            EXPECT_EQ(stored_clicks(P.links[i].slug), P.links[i].clicks, "%s: clicks in the "
                      "shared table (GETs answered with a redirect on A and B)",
                      P.links[i].slug);
        }
    }
    /* And their visits, those made in the outages included (they waited in the rings). */
    fetch_page_at(HERE, P.a, "/minilink-admin/visits/orphan", NULL);
    fetch_page_at(HERE, P.b, "/minilink-admin/visits/orphan", NULL);
    for (i = 0; i < P.nlinks; i++) {
        if (P.links[i].status != 404) {
            EXPECT_EQ(stored_visits(P.links[i].slug), P.links[i].clicks, "%s: visits in the "
                      "shared table (one a click, on A and B)", P.links[i].slug);
        }
    }
    fprintf(stderr, "[%d links' clicks checked after %ld ms] ", P.nlinks, now_ms() - start);
}

static void expect_no_password_at(int line, const char *what, const char *text)
{
    const char *hit = text ? strstr(text, P.password) : NULL;
    check_at(line, hit == NULL, "%s shows the PostgreSQL password: ...%.120s", what,
             hit ? (hit - text > 60 ? hit - 60 : text) : "");
}

static void test_password_never_shown(void)
{
    const httpd_server *hosts[2] = { P.a, P.b };
    static const char *const pages[] = { "/server-status?auto", "/server-status",
                                         "/minilink-admin/", "/minilink-admin/metrics",
                                         "/minilink-admin/links/froma" };
    size_t i;
    int h;

    for (h = 0; h < 2; h++) {
        const httpd_server *srv = hosts[h];
        char *log = tkeep(httpd_error_log_read(srv)), *db;

        EXPECT_HAS(log, "ML00007", "host %s's error log (the outages were not logged, so "
                   "this check sees nothing)", host_name(srv));
        expect_no_password_at(__LINE__, tfmt("host %s's error log", host_name(srv)), log);
        expect_no_password_at(__LINE__, tfmt("host %s's startup output", host_name(srv)),
                              tkeep(file_read(srv->startup_log)));
        for (i = 0; i < ARRAY_LEN(pages); i++) {
            char *what = tfmt("GET %s on host %s", pages[i], host_name(srv));
            char *body = fetch_page_at(HERE, srv, pages[i], NULL);

            if (body && i == 0 && EXPECT_HAS(body, "MinilinkDatabase: ", "%s", what)) {
                db = strstr(body, "MinilinkDatabase: ");
                fprintf(stderr, "[host %s: %.*s] ", host_name(srv), (int)strcspn(db, "\n"), db);
            }
            expect_no_password_at(__LINE__, what, body);
        }
    }
}


/* ---- schema version 1, upgraded; rules and visit limits on both hosts --- */

/* The columns of version 1's tables, every row, in order. */
static const char *const v1_tables[] = {
    "SELECT id, slug, url, status, expires_at, disabled, created_at, updated_at, clicks,"
    " last_click_at FROM links ORDER BY id",
    "SELECT seq, slug, changed_at FROM link_changes ORDER BY seq",
    "SELECT key, value FROM minilink_meta WHERE key <> 'schema_version' ORDER BY key",
    "SELECT last_value FROM link_changes_seq_seq",
};

/* tests/fixtures/v1-pgsql.sql (pg_dump of a database version-1 code made) in a database of its
 * own, upgraded with the CLI: every row of every table the same, the new columns empty. */
static void test_v1_upgraded_every_row_kept(void)
{
    char *fixture = realpath("tests/fixtures/v1-pgsql.sql", NULL), *out = NULL, *before[4];
    const char *db = tfmt("postgresql://minilink:%s@127.0.0.1:%d/minilinkv1", P.password,
                          P.pg->port);
    const char *args[] = { "upgrade", NULL };
    size_t i;
    int rc;

    tkeep(fixture);
    if (!CHECK(fixture && pg_psql(P.pg, "postgres", "postgres", "CREATE DATABASE minilinkv1 "
                                  "OWNER minilink", NULL, NULL) == 0
               && pg_psql(P.pg, "minilink", "minilinkv1", NULL, fixture, &out) == 0,
               "loading tests/fixtures/v1-pgsql.sql: %s", str_or_null(tkeep(out)))) {
        return;
    }
    for (i = 0; i < ARRAY_LEN(v1_tables); i++) {
        pg_psql(P.pg, "minilink", "minilinkv1", v1_tables[i], NULL, &before[i]);
        tkeep(before[i]);
    }
    CHECK(strstr(before[0], "|plain|") && strstr(before[1], "|deleted|"), "the fixture's rows:"
          "\n%s", before[0]);
    rc = cli_run_on(db, args, &out);
    EXPECT_EQ(rc, 0, "minilink upgrade of version 1: %s", (char *)tkeep(out));
    EXPECT_STR(out, "upgraded from schema version 1 to 3\n", "minilink upgrade");
    for (i = 0; i < ARRAY_LEN(v1_tables); i++) {
        pg_psql(P.pg, "minilink", "minilinkv1", v1_tables[i], NULL, &out);
        EXPECT_STR(tkeep(out), before[i], "after the upgrade: %s", v1_tables[i]);
    }
    pg_psql(P.pg, "minilink", "minilinkv1", "SELECT value FROM minilink_meta WHERE key ="
            " 'schema_version'", NULL, &out);
    EXPECT_STR(tkeep(out), "3\n", "schema_version after the upgrade");
    pg_psql(P.pg, "minilink", "minilinkv1", "SELECT count(*) FROM links WHERE title IS NOT NULL"
            " OR valid_since IS NOT NULL OR max_visits IS NOT NULL OR fallback_url IS NOT NULL"
            " OR password_hash IS NOT NULL OR forward_query IS NOT NULL OR forward_path IS NOT"
            " NULL OR crawlable <> 0", NULL, &out);
    EXPECT_STR(tkeep(out), "0\n", "links with a new field set by the upgrade");
    {
        const char *rule[] = { "rule", "add", "plain", "https://example.com/p", "--device", "ios",
                               NULL };
        const char *show[] = { "show", "plain", NULL };
        rc = cli_run_on(db, rule, &out);
        EXPECT_EQ(rc, 0, "a rule on an upgraded link: %s", (char *)tkeep(out));
        rc = cli_run_on(db, show, &out);
        EXPECT_EQ(rc, 0, "minilink show: %s", (char *)tkeep(out));
        EXPECT_HAS(out, "clicks: 42\n", "the clicks kept");
        EXPECT_HAS(out, "rule 1: --device ios https://example.com/p\n", "the rule");
    }
    rc = cli_run_on(db, args, &out);
    EXPECT_EQ(rc, 0, "a second upgrade");
    EXPECT_STR(tkeep(out), "already at schema version 3\n", "a second upgrade");
}

/* Redirect rules set with the CLI on one database: both hosts choose by them. */
static void test_rules_shared(void)
{
    http_response *r;
    long t;

    if (CLI_EXPECT(0, NULL, "rule", "add", "seed1", "https://example.com/seed/1-shared",
                   "--query", "shared")) {
        t = now_ms();
        wait_answer_at(HERE, "CLI rule add -> A", P.a, "GET", NULL, "/l/seed1?shared", 302,
                       "https://example.com/seed/1-shared?shared", t, POLL_MS);
        wait_answer_at(HERE, "CLI rule add -> B", P.b, "GET", NULL, "/l/seed1?shared", 302,
                       "https://example.com/seed/1-shared?shared", t, POLL_MS);
    }
    r = post_json(P.a, "/l/", "{\"url\": \"https://example.com/ruled\", \"slug\": \"ruled\","
                  " \"redirectRules\": [{\"longUrl\": \"https://example.com/ruled-fr\","
                  " \"conditions\": [{\"type\": \"language\", \"matchValue\": \"fr\"}]}]}", NULL);
    if (EXPECT_EQ(r->status, 201, "creating a link with a rule on A: %s", r->body)) {
        static const char *const french[] = { "Accept-Language: fr", NULL };
        http_request_spec req = { "GET", NULL, "/l/ruled", french, NULL, 0, NULL };
        t = expect_link("ruled", 302, "https://example.com/ruled");
        WAIT_SERVED("created on A with a rule -> B", P.b, "ruled", t);
        r = ask_spec(P.b, &req);
        CHECK(response_is(r, 302, "https://example.com/ruled-fr"), "GET /l/ruled on B in "
              "French: %ld %s", r->status, str_or_null(r->location));
    }
}

/* `count` GETs of slug on srv must redirect; each a click in the bookkeeping. */
static void visits_at(int line, const httpd_server *srv, const char *slug, int count)
{
    int i;

    for (i = 0; i < count; i++) {
        expect_served_at(line, tfmt("visit %d of %d", i + 1, count), srv, slug);
    }
}

/* A link limited to 6 visits: 6 on A, and B knows it once A's flush and B's refresh have passed
 * (a HEAD takes no visit, so the waits take none); raised to 10, B gives exactly the 4 left, and
 * A then knows them too. */
static void test_visit_limit_across_hosts(void)
{
    long t;

    if (!CLI_EXPECT(0, NULL, "add", "https://example.com/lim", "lim", "--max-visits", "6")) {
        return;
    }
    t = expect_link("lim", 302, "https://example.com/lim");
    wait_answer_at(HERE, "CLI add, limited -> A", P.a, "HEAD", NULL, "/l/lim", 302,
                   "https://example.com/lim", t, POLL_MS);
    wait_answer_at(HERE, "CLI add, limited -> B", P.b, "HEAD", NULL, "/l/lim", 302,
                   "https://example.com/lim", t, POLL_MS);
    visits_at(__LINE__, P.a, "lim", 6);
    expect_link("lim", 410, NULL);
    EXPECT_SERVED("its 6 visits taken", P.a, "lim");
    t = now_ms();
    wait_answer_at(HERE, "A's visits -> B (A's flush, B's refresh)", P.b, "HEAD", NULL, "/l/lim",
                   410, NULL, t, POLL_MS);
    EXPECT_SERVED("A's visits known", P.b, "lim");
    if (CLI_EXPECT(0, NULL, "set", "lim", "--max-visits", "10")) {
        t = now_ms();
        wait_answer_at(HERE, "limit raised to 10 -> B", P.b, "HEAD", NULL, "/l/lim", 302,
                       "https://example.com/lim", t, POLL_MS);
        expect_link("lim", 302, "https://example.com/lim");
        visits_at(__LINE__, P.b, "lim", 4);
        expect_link("lim", 410, NULL);
        EXPECT_SERVED("the 10th visit was the last", P.b, "lim");
        t = now_ms();
        wait_answer_at(HERE, "B's visits -> A", P.a, "HEAD", NULL, "/l/lim", 410, NULL, t,
                       POLL_MS);
    }
}

/* ---- the listing and API keys (schema 3) in PostgreSQL ---------------- */

static apr_status_t listed_slug(void *ctx, const ml_link *link, const char *problem)
{
    char *slugs = ctx;
    if (problem == NULL && strlen(slugs) + strlen(link->slug) + 2 < 512) {
        strcat(strcat(slugs, *slugs ? " " : ""), link->slug);
    }
    return APR_SUCCESS;
}

static apr_status_t listed_tag(void *ctx, const ml_store_tag *tag)
{
    char *text = ctx;
    if (strlen(text) + strlen(tag->name) + 24 < 512) {
        sprintf(text + strlen(text), "%s%s:%ld", *text ? " " : "", tag->name, (long)tag->links);
    }
    return APR_SUCCESS;
}

/* ml_store_list and the API keys through the PostgreSQL engine, in a database of their own:
 * each order both ways, a page and its total, search, tags, owners; a key found by its hash. */
static void test_listing_and_keys(void)
{
    static const char *const sale[] = { "sale" };
    static const struct { ml_store_list_order order; int desc; const char *slugs; } orders[] = {
        { ML_LIST_BY_CREATED, 0, "la lb lc" }, { ML_LIST_BY_CREATED, 1, "lc lb la" },
        { ML_LIST_BY_SLUG, 1, "lc lb la" }, { ML_LIST_BY_URL, 0, "lb lc la" },
        { ML_LIST_BY_TITLE, 0, "lc lb la" }, { ML_LIST_BY_TITLE, 1, "la lb lc" },
        { ML_LIST_BY_CLICKS, 1, "lb la lc" },
    };
    const char *url = tfmt("postgresql://minilink:%s@127.0.0.1:%d/minilinklist", P.password,
                           P.pg->port);
    apr_pool_t *pool;
    ml_store *store = NULL;
    ml_store_list_query query;
    ml_store_api_key key = { "alice", ML_ROLE_AUTHOR, 0, 0 }, found;
    apr_uint64_t total = 0;
    char slugs[512];
    size_t i;
    int ok;

    if (!CHECK(pg_psql(P.pg, "postgres", "postgres", "CREATE DATABASE minilinklist OWNER minilink",
                       NULL, NULL) == 0, "cannot create the database minilinklist")) {
        return;
    }
    apr_pool_create(&pool, NULL);
    ok = ml_store_open(&store, url, ML_STORE_CREATE, pool) == APR_SUCCESS
         && ml_store_init(store) == APR_SUCCESS;
    if (CHECK(ok, "init: %s", ml_store_error(store))) {
        static const char *const rows[][4] = {   /* slug, url, title, owner */
            { "la", "https://c.example/", "Zed", NULL },
            { "lb", "https://a.example/", "Mid", "alice" },
            { "lc", "https://b.example/100%_", NULL, "bob" },
        };
        for (i = 0; i < ARRAY_LEN(rows); i++) {
            ml_link link;
            apr_array_header_t *tags = apr_array_make(pool, 1, sizeof(const char *));
            memset(&link, 0, sizeof link);
            link.slug = rows[i][0], link.url = rows[i][1], link.title = rows[i][2];
            link.owner = rows[i][3];
            APR_ARRAY_PUSH(tags, const char *) = i == 1 ? "news" : "sale";
            link.tags = tags;
            EXPECT_EQ(ml_store_add(store, &link, pool), APR_SUCCESS, "add %s: %s", rows[i][0],
                      ml_store_error(store));
        }
        pg_psql(P.pg, "minilink", "minilinklist", "UPDATE links SET created_at = 1000 + id,"
                " clicks = CASE slug WHEN 'lb' THEN 9 WHEN 'la' THEN 5 ELSE 1 END", NULL, NULL);
        for (i = 0; i < ARRAY_LEN(orders); i++) {
            memset(&query, 0, sizeof query);
            query.order = orders[i].order, query.descending = orders[i].desc;
            query.items_per_page = -1;
            slugs[0] = '\0';
            EXPECT_EQ(ml_store_list(store, &query, listed_slug, slugs, &total), APR_SUCCESS,
                      "list: %s", ml_store_error(store));
            EXPECT_STR(slugs, orders[i].slugs, "order %d desc %d", (int)orders[i].order,
                       orders[i].desc);
            EXPECT_EQ((long)total, 3, "total");
        }
        memset(&query, 0, sizeof query);
        query.items_per_page = 1, query.page = 2;
        query.tags = sale, query.ntags = 1;
        slugs[0] = '\0';
        EXPECT_EQ(ml_store_list(store, &query, listed_slug, slugs, &total), APR_SUCCESS, "list");
        EXPECT_STR(slugs, "lc", "page 2 of the tag sale");
        EXPECT_EQ((long)total, 2, "links tagged sale");
        memset(&query, 0, sizeof query);
        query.items_per_page = -1, query.search = "%_", query.owner = "bob";
        slugs[0] = '\0';
        EXPECT_EQ(ml_store_list(store, &query, listed_slug, slugs, &total), APR_SUCCESS, "list");
        EXPECT_STR(slugs, "lc", "bob's links with '%%_' in them");
        query.search = "ZED", query.owner = NULL;
        slugs[0] = '\0';
        EXPECT_EQ(ml_store_list(store, &query, listed_slug, slugs, &total), APR_SUCCESS, "list");
        EXPECT_STR(slugs, "la", "a title in another case");
        EXPECT_EQ(ml_store_api_key_add(store, &key, ml_api_key_hash("k1", pool)), APR_SUCCESS,
                  "key: %s", ml_store_error(store));
        EXPECT_EQ(ml_store_api_key_add(store, &key, ml_api_key_hash("k2", pool)), APR_EEXIST,
                  "a name twice");
        memset(&found, 0, sizeof found);
        EXPECT_EQ(ml_store_api_key_find(store, ml_api_key_hash("k1", pool), &found, pool),
                  APR_SUCCESS, "find: %s", ml_store_error(store));
        EXPECT_STR(found.name ? found.name : "(none)", "alice", "the key found by its hash");
        EXPECT_EQ(ml_store_api_key_remove(store, "alice"), APR_SUCCESS, "rm");
        /* What the APIs ask beyond a listing, in this engine's SQL too. */
        {
            static const char *const doomed[] = { "news" };
            ml_store_visit_query q;
            ml_store_visit_totals totals;
            apr_uint64_t count = 9;
            int deleted = 0;
            slugs[0] = '\0';
            EXPECT_EQ(ml_store_each_tag(store, "bob", listed_tag, slugs), APR_SUCCESS,
                      "tags: %s", ml_store_error(store));
            EXPECT_STR(slugs, "sale:1", "bob's tags, with his links");
            EXPECT_EQ(ml_store_rename_tag(store, "sale", "news"), APR_EEXIST, "onto another");
            EXPECT_EQ(ml_store_rename_tag(store, "sale", "promo"), APR_SUCCESS, "rename: %s",
                      ml_store_error(store));
            EXPECT_EQ(ml_store_delete_tags(store, doomed, 1, &deleted), APR_SUCCESS,
                      "delete: %s", ml_store_error(store));
            EXPECT_EQ(deleted, 1, "tags deleted");
            slugs[0] = '\0';
            EXPECT_EQ(ml_store_each_tag(store, NULL, listed_tag, slugs), APR_SUCCESS, "tags");
            EXPECT_STR(slugs, "promo:2", "the tags left");
            memset(&q, 0, sizeof q);
            q.links = 1, q.owner = "bob", q.limit = 10;
            EXPECT_EQ(ml_store_count_visits(store, &q, &count), APR_SUCCESS, "visits: %s",
                      ml_store_error(store));
            EXPECT_EQ((long)count, 0, "bob's visits");
            q.owner = NULL, q.links = 0, q.tag = "promo";
            EXPECT_EQ(ml_store_each_visit(store, &q, NULL, NULL), APR_SUCCESS,
                      "a tag's visits: %s", ml_store_error(store));
            EXPECT_EQ(ml_store_visit_totals_of(store, &totals), APR_SUCCESS, "totals: %s",
                      ml_store_error(store));
            EXPECT_EQ((long)totals.clicks, 15, "the clicks of all links");
            EXPECT_EQ(ml_store_delete_visits(store, "la", &count), APR_SUCCESS,
                      "delete visits: %s", ml_store_error(store));
        }
        EXPECT_EQ(ml_store_api_key_find(store, ml_api_key_hash("k1", pool), &found, pool),
                  APR_ENOENT, "a removed key");
    }
    apr_pool_destroy(pool);
}

static CU_TestInfo pgsql_tests[] = {
    { "both hosts serve the links stored before they started", test_stored_links_served },
    { "created on one host, served by the other", test_created_on_one_served_by_other },
    { "CLI set and rm: both hosts follow", test_cli_changes_followed },
    { "a version-1 database (the fixture) upgraded: every row kept",
      test_v1_upgraded_every_row_kept },
    { "redirect rules from the CLI and from A: both hosts choose by them", test_rules_shared },
    { "a visit limit: A's visits count on B, B's on A", test_visit_limit_across_hosts },
    { "SQLite export, PostgreSQL import: both hosts serve it", test_sqlite_moved_to_postgresql },
    { "import in groups: a row refused in a later group by its line; 600 stored",
      test_import_in_groups },
    { "import --from kutt: its visits and times kept in PostgreSQL", test_peer_history_kept },
    { "clicks on A and B add up exactly", test_clicks_add_up },
    { "visits on A and B add up, roll-up included", test_visits_add_up },
    { "admin pages: edited on A's, served by B, shown by B's", test_admin_pages_edit },
    { "propagation A -> B measured", test_propagation_measured },
    { "PostgreSQL stopped: cache serves, 503, one line per outage", test_outage_served_from_cache },
    { "PostgreSQL back: creation works again by itself", test_recovery_by_itself },
    { "a second outage, with a graceful restart in it", test_second_outage },
    { "PostgreSQL frozen: redirects do not wait for it, creation 503", test_frozen_not_waited_for },
    { "every click on either host is stored exactly", test_all_clicks_stored },
    { "the password is never shown", test_password_never_shown },
    { "listing (every order, pages, tags, search, owner), API keys, tags and visits in "
      "PostgreSQL",
      test_listing_and_keys },
    CU_TEST_INFO_NULL,
};

/* ---- the suite ------------------------------------------------------ */

/* A password made up for the run: hex, so no quoting is needed anywhere, and found in no log by
 * chance. */
static int make_password(char *out)
{
    unsigned char bytes[12];
    size_t i;
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        return -1;
    }
    for (i = 0, strcpy(out, "pw"); i < sizeof bytes; i++) {
        sprintf(out + 2 + 2 * i, "%02x", bytes[i]);
    }
    return 0;
}

/* Host A (g_srv) names the database with libpq's parameters, B with a URL. */
static char *host_a_config(void)
{
    return tfmt("MinilinkDatabase pgsql \"%s\"\n" HOST_SITE, P.params);
}

/* Before host A starts: PostgreSQL (with a role and database of its own), the links stored with
 * the CLI (as A's user: A exists now), host B started.  The reason on stderr on failure. */
static int pgsql_prepare(void)
{
    static const char *const seeds[][6] = {
        { "init" }, { "upgrade" },   /* a no-op at the newest version, as in SQLite */
        { "add", "https://example.com/seed/1", "seed1" },
        { "add", "https://example.com/seed/2?q=1#top", "seed2" },
        { "add", "https://example.com/seed/3", "seed3" }, { "set", "seed3", "--status", "301" },
        { "add", "https://example.com/gone/1", "gone1" }, { "set", "gone1", "--disable" },
    };
    char *out = NULL;
    size_t i;

    memset(&P, 0, sizeof P);
    P.a = g_srv;
    g_count_click = count_click;
    /* The module must use its configuration's password, not one the environment gives libpq. */
    unsetenv("PGPASSWORD");
    unsetenv("PGPASSFILE");
    unsetenv("PGSERVICE");
    if ((P.pg = pg_new()) == NULL || make_password(P.password) != 0
        || pg_start(P.pg) != 0
        || pg_create_user_database(P.pg, "minilink", P.password, "minilink") != 0) {
        fprintf(stderr, "\nsuite pgsql: cannot set up PostgreSQL, or make a password (see "
                "above)\n");
        return -1;
    }
    fprintf(stderr, "[PostgreSQL %s on 127.0.0.1:%d, as %s] ", P.pg->version, P.pg->port,
            P.pg->user);
    P.url = xasprintf("postgresql://minilink:%s@127.0.0.1:%d/minilink", P.password, P.pg->port);
    P.params = xasprintf("host=127.0.0.1 port=%d dbname=minilink user=minilink password=%s",
                         P.pg->port, P.password);
    g_cli_db = P.url;
    for (i = 0; i < ARRAY_LEN(seeds); i++) {
        if (cli_run(seeds[i], &out) != 0) {
            fprintf(stderr, "\nsuite pgsql: minilink %s failed: %s\n", seeds[i][0], out);
            free(out);
            return -1;
        }
        free(out);
    }
    expect_link("seed1", 302, "https://example.com/seed/1");
    expect_link("seed2", 302, "https://example.com/seed/2?q=1#top");
    expect_link("seed3", 301, "https://example.com/seed/3");
    expect_link("gone1", 410, NULL);
    expect_link("nosuch", 404, NULL);
    /* Three free ports asked for one after the other: make sure they differ. */
    do {
        httpd_free(P.b);
        P.b = httpd_new("prefork");
    } while (P.b && (P.b->port == P.a->port || P.b->port == P.pg->port));
    if (P.b == NULL) {
        return -1;
    }
    httpd_load_modules(P.b, "slotmem_shm status");
    return httpd_write_config(P.b, tfmt("MinilinkDatabase %s\n" HOST_SITE, P.url))
        | httpd_start(P.b);
}

/* The epilogue stopped A: B too, as cleanly, and nothing crashed. */
static void pgsql_after_stop(void)
{
    expect_log_clean_at(HERE, P.b, crash_lines);
    EXPECT_EQ(httpd_stop_clean(P.b), 0, "stopping host B: processes that did not stop on "
              "SIGTERM (the parent counts as one)");
}

static int pgsql_cleanup(void)
{
    if (CU_get_number_of_failures() != g_failures_at_init) {
        if (P.b) {
            fprintf(stderr, "\nerror log of host B:\n");
            httpd_error_log_dump(P.b);
        }
        if (P.pg) {
            pg_log_dump(P.pg);
        }
    }
    httpd_free(P.b);
    pg_free(P.pg);
    free(P.url);
    free(P.params);
    memset(&P, 0, sizeof P);
    return 0;
}

static const suite_group pgsql_group = {
    .name = "pgsql", .mpm = "event", .tests = pgsql_tests, .config_of = host_a_config,
    .modules = "slotmem_shm status", .prepare = pgsql_prepare, .after_stop = pgsql_after_stop,
    .cleanup = pgsql_cleanup,
};

void add_pgsql_suites(void)
{
    add_group(&pgsql_group);
}
