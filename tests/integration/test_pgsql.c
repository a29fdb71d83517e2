/*
 * test_pgsql.c - two Apache hosts sharing one PostgreSQL database.
 *
 * Suite "pgsql": its init starts a real PostgreSQL (pg_harness.h: initdb in
 * a temporary folder, as the postgres account, on a free 127.0.0.1 port,
 * password authentication over TCP), creates the role and database
 * "minilink" with a password made up for the run, runs
 * `minilink --db postgresql://... init` and adds a few links with the CLI,
 * then starts two Apache hosts on the same module and database:
 *
 *   host A  event MPM    MinilinkDatabase pgsql "host=... password=..."
 *   host B  prefork MPM  MinilinkDatabase postgresql://minilink:...@.../minilink
 *
 * (the two forms the directive takes; prefork on B because it has the most
 * children, hence connections and log writers, for the same work).  Both
 * have MinilinkRefreshInterval 1, MinilinkFlushInterval 1, creation on
 * /l, mod_status and a minilink-admin location.  The tests then check,
 * in order, on the state the previous ones left:
 *
 *   - both hosts serve the links stored before they started;
 *   - a link created over HTTP on one host is served by the other; the
 *     other host re-shortens its URL to the same slug and refuses the slug;
 *   - `minilink set` and `rm` are followed by both hosts;
 *   - a SQLite database moved to PostgreSQL with export and import (the
 *     README's way) is served by both hosts, and exports the same rows;
 *   - N clicks on A and M on B make exactly N+M in the shared table;
 *   - how long a link created on A takes to be served by B: measured over
 *     PROPAGATION_ROUNDS links and printed (the bound is the only assertion);
 *   - PostgreSQL stopped: both hosts keep serving every stored link (and
 *     404 for the deleted ones), creation answers 503 with a message, the
 *     CLI fails with exit status 5 without showing the password, and each
 *     host's error log has exactly one ML00007 (refresher) and one ML00019
 *     (creation) line, after several refresh attempts
 *     (MinilinkRefreshErrors) and creations.  Lines are counted as a
 *     server at LogLevel info would show them: the hosts log at debug, where
 *     ML00019 repeats for every refused creation (the README says so);
 *   - PostgreSQL started again: creation works again by itself on both
 *     hosts, each serves what the other created, ML00008 (refresher) and
 *     ML00032 (creation) are logged once;
 *   - a second outage is reported again (one more of each line); a
 *     graceful restart of both hosts in it serves the last table that
 *     loaded (ML00033), with no second ML00007 or ML00019 for the outage;
 *   - PostgreSQL frozen (SIGSTOP: connections accepted, never answered):
 *     every redirect is still answered, creation answers 503 (within
 *     curl's 15 s), each refresher gives up waiting (ML00034) and its
 *     successor logs ML00007; a graceful restart meanwhile serves the
 *     last table; the CLI's changes are served again once it is thawed;
 *   - every click made on either host during the whole suite, outages
 *     included, is in the shared table exactly;
 *   - the password appears in neither error log nor startup output, nor
 *     in /server-status (?auto and HTML), nor in the admin JSON or metrics;
 *   - error logs clean, both hosts stop cleanly.
 *
 * Waits are bounded polls (WAIT_MS, RECOVER_MS), never a sleep and one
 * look.  Each wait prints what it took, e.g. "[A -> B froma: 612 ms]".
 * When PostgreSQL is not installed the suite's init fails saying so, and
 * its tests count as failed, not skipped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <jansson.h>

#include "harness.h"
#include "ml_test.h"
#include "pg_harness.h"

/* A change is served by every host within a refresh (1 s); the slack
 * covers a loaded 2-core machine. */
#define WAIT_MS 10000
#define POLL_MS 100
/* After PostgreSQL comes back: reconnecting may wait for a refresh or a
 * flush cycle of its own. */
#define RECOVER_MS 30000
/* The propagation measurement polls faster, to see the delay. */
#define PROPAGATION_ROUNDS 10
#define PROPAGATION_POLL_MS 10

#define ROLE "minilink"
#define DBNAME "minilink"
#define CLICKS_ON_A 7
#define CLICKS_ON_B 5
#define OUTAGE_POSTS 3          /* creation attempts per host, twice */
#define REFRESH_RETRIES 3       /* failed refreshes seen before counting lines */

#define MAX_LINKS 64

/* PostgreSQL frozen: creation attempts per host, all at once, and how long
 * each refresher has to notice (connect_timeout 5 s, then the interval). */
#define FROZEN_POSTS 3
/* The refresher gives up on a database that stopped answering after 15 s
 * (ML00034), and its successor's connect after 5 s (connect_timeout). */
#define FROZEN_WAIT_MS 40000

/*
 * The hosts' configuration; %s is MinilinkDatabase's arguments.  <Directory
 * /> denies everything in the harness's base configuration: /server-status
 * and /minilink-admin grant access themselves.  No rate limit: the tests
 * retry creation while PostgreSQL comes back.
 */
static const char *const host_config_format =
    "MinilinkRefreshInterval 1\n"
    "MinilinkFlushInterval 1\n"
    "LogLevel minilink:debug\n"
    "MinilinkDatabase %s\n"
    "<Location /l>\n"
    "    SetHandler minilink\n"
    "    MinilinkCreate On\n"
    "    MinilinkCreateRateLimit off\n"
    "</Location>\n"
    "<Location /server-status>\n"
    "    SetHandler server-status\n"
    "    Require all granted\n"
    "</Location>\n"
    "<Location /minilink-admin>\n"
    "    SetHandler minilink-admin\n"
    "    Require all granted\n"
    "</Location>\n";

/* A link as both hosts must answer it: its redirect status and URL, 410
 * (disabled or expired) or 404 (deleted). */
typedef struct {
    char slug[65];
    char url[256];
    long status;
    long clicks;        /* GETs answered with a redirect, on either host */
} stored_link;

static struct {
    pg_server *pg;
    httpd_server *a, *b;
    char password[40];
    char *url;          /* postgresql://minilink:<password>@127.0.0.1:<port>/minilink */
    char *params;       /* host=127.0.0.1 port=... password=... */
    stored_link links[MAX_LINKS];
    int nlinks;
    char init_problem[1024];
    int outages;        /* PostgreSQL stops so far: the lines expected */
} P;

/* ------------------------------------------------------------------ */
/* bookkeeping of what the hosts must serve                           */
/* ------------------------------------------------------------------ */

static stored_link *link_of(const char *slug)
{
    int i;

    for (i = 0; i < P.nlinks; i++) {
        if (strcmp(P.links[i].slug, slug) == 0) {
            return &P.links[i];
        }
    }
    if (P.nlinks == MAX_LINKS) {
        abort();
    }
    memset(&P.links[P.nlinks], 0, sizeof P.links[0]);
    snprintf(P.links[P.nlinks].slug, sizeof P.links[0].slug, "%s", slug);
    P.links[P.nlinks].status = 404;
    return &P.links[P.nlinks++];
}

/* What the hosts must answer for slug from now on. */
static void expect_link(const char *slug, long status, const char *url)
{
    stored_link *link = link_of(slug);

    link->status = status;
    snprintf(link->url, sizeof link->url, "%s", url ? url : "");
}

static const char *host_name(const httpd_server *srv)
{
    return srv == P.a ? "A" : "B";
}

static int is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307
        || status == 308;
}

/*
 * method /l/<slug> on srv over a new connection (prefork: any child).  A
 * GET answered with a redirect is a click, added to the slug's tally.
 */
static void request_slug(const httpd_server *srv, const char *method,
                         const char *slug, http_response *r)
{
    char *path = xasprintf("/l/%s", slug);

    http_request(srv->port, method, NULL, path, r);
    if (strcmp(method, "GET") == 0 && r->curl_code == 0 && is_redirect(r->status)) {
        link_of(slug)->clicks++;
    }
    free(path);
}

/* True if r is status with this Location (NULL or "": none). */
static int answers(const http_response *r, long status, const char *location)
{
    if (r->curl_code != 0 || r->status != status) {
        return 0;
    }
    if (location == NULL || *location == '\0') {
        return r->location == NULL;
    }
    return r->location && strcmp(r->location, location) == 0;
}

/* GET /l/<slug> on srv must answer what the bookkeeping says. */
static int expect_served_at(int line, const char *when, const httpd_server *srv,
                            const char *slug)
{
    const stored_link *link = link_of(slug);
    http_response r;
    int ok;

    request_slug(srv, "GET", slug, &r);
    ok = check_at(line, answers(&r, link->status, link->url),
                  "%s: GET /l/%s on host %s: %ld, Location \"%s\" (transport: %s); "
                  "expected %ld, Location \"%s\"", when, slug, host_name(srv),
                  r.status, str_or_null(r.location), r.curl_code ? r.error : "ok",
                  link->status, link->url);
    http_response_free(&r);
    return ok;
}

#define EXPECT_SERVED(when, srv, slug) expect_served_at(__LINE__, (when), (srv), (slug))

/*
 * Polls HEAD /l/<slug> on srv every poll_ms until it answers what the
 * bookkeeping says, then asks 3 more times (new connections: other
 * children must agree) and once with GET (a click).  Returns the
 * milliseconds since `since` (when the change was committed), -1 (a
 * failure) after WAIT_MS.
 */
static long wait_served_at(int line, const char *what, const httpd_server *srv,
                           const char *slug, long since, long poll_ms)
{
    const stored_link *link = link_of(slug);
    http_response r;
    long delay = -1;
    int i;

    for (;;) {
        request_slug(srv, "HEAD", slug, &r);
        if (answers(&r, link->status, link->url)) {
            delay = now_ms() - since;
            break;
        }
        if (now_ms() - since >= WAIT_MS) {
            break;
        }
        http_response_free(&r);
        sleep_ms(poll_ms);
    }
    if (delay < 0) {
        check_at(line, 0, "%s: HEAD /l/%s on host %s still answers %ld, Location "
                 "\"%s\" (transport: %s) %ld ms after the change; expected %ld, "
                 "Location \"%s\"", what, slug, host_name(srv), r.status,
                 str_or_null(r.location), r.curl_code ? r.error : "ok",
                 now_ms() - since, link->status, link->url);
        http_response_free(&r);
        return -1;
    }
    http_response_free(&r);
    for (i = 0; i < 3; i++) {
        request_slug(srv, "HEAD", slug, &r);
        if (!answers(&r, link->status, link->url)) {
            check_at(line, 0, "%s: HEAD /l/%s on host %s answered as expected, then "
                     "%ld, Location \"%s\"", what, slug, host_name(srv), r.status,
                     str_or_null(r.location));
            http_response_free(&r);
            return -1;
        }
        http_response_free(&r);
    }
    if (!expect_served_at(line, what, srv, slug)) {
        return -1;
    }
    fprintf(stderr, "[%s %s: %ld ms] ", what, slug, delay);
    return delay;
}

#define WAIT_SERVED(what, srv, slug, since) \
    wait_served_at(__LINE__, (what), (srv), (slug), (since), POLL_MS)

/* Both hosts, after a change committed at `since`. */
#define WAIT_BOTH(what, slug, since) \
    do { \
        WAIT_SERVED(what " -> A", P.a, slug, since); \
        WAIT_SERVED(what " -> B", P.b, slug, since); \
    } while (0)

/* ------------------------------------------------------------------ */
/* the minilink command on the PostgreSQL database                    */
/* ------------------------------------------------------------------ */

/*
 * Runs `minilink --db <db> args...` as the servers' user; db NULL is the
 * PostgreSQL URL.  Returns the exit status; output as cli_run().
 */
static int cli_on(const char *db, const char *const *args, char **output)
{
    char *argv[12];
    int argc = 0;

    argv[argc++] = (char *)cli_path();
    argv[argc++] = "--db";
    argv[argc++] = (char *)(db ? db : P.url);
    while (*args && argc < 11) {
        argv[argc++] = (char *)*args++;
    }
    argv[argc] = NULL;
    return httpd_run_as_user(P.a, argv, output);
}

/* The command line, for messages, with the password hidden. */
static char *cli_text(const char *const *args)
{
    char *text = xasprintf("minilink --db postgresql://...");
    int i;

    for (i = 0; args[i]; i++) {
        char *longer = xasprintf("%s %s", text, args[i]);
        free(text);
        text = longer;
    }
    return text;
}

/* Runs the CLI on PostgreSQL and checks its exit status; the output goes
 * to *output if not NULL.  True if it exited as expected. */
static int pg_cli_expect_at(int line, int status, char **output, const char *const *args)
{
    char *out = NULL, *text = cli_text(args);
    int rc = cli_on(NULL, args, &out);
    int ok = check_at(line, rc == status, "%s exited %d, expected %d: %s", text, rc,
                      status, str_or_null(out));

    free(text);
    if (output) {
        *output = out;
    }
    else {
        free(out);
    }
    return ok;
}

#define CLI(...) pg_cli_expect_at(__LINE__, 0, NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define CLI_OUT(out, ...) \
    pg_cli_expect_at(__LINE__, 0, (out), (const char *const[]){ __VA_ARGS__, NULL })

/* "clicks: N" from `minilink stats SLUG`; -1 if it failed. */
static long stored_clicks(const char *slug)
{
    const char *args[] = { "stats", slug, NULL };
    char *out = NULL;
    const char *p;
    long clicks = -1;

    if (cli_on(NULL, args, &out) == 0 && (p = strstr(out, "clicks: ")) != NULL) {
        clicks = strtol(p + 8, NULL, 10);
    }
    free(out);
    return clicks;
}

/* ------------------------------------------------------------------ */
/* creation over HTTP                                                 */
/* ------------------------------------------------------------------ */

/* POST {"url": url[, "slug": slug]} to /l/ on srv. */
static void post_create(const httpd_server *srv, const char *url, const char *slug,
                        http_response *r)
{
    static const char *const headers[] = { "Content-Type: application/json",
                                           "Accept: application/json", NULL };
    json_t *body = slug ? json_pack("{s:s, s:s}", "url", url, "slug", slug)
                        : json_pack("{s:s}", "url", url);
    char *text = json_dumps(body, JSON_COMPACT);
    http_request_spec req;

    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.path = "/l/";
    req.headers = headers;
    req.body = text;
    req.body_len = strlen(text);
    http_send(srv->port, &req, r);
    free(text);
    json_decref(body);
}

/* The string "name" of a JSON object body, malloc'd; NULL if none. */
static char *json_field(const char *body, const char *name)
{
    json_t *root = json_loads(body ? body : "", 0, NULL);
    const char *value = json_string_value(json_object_get(root, name));
    char *copy = value ? xasprintf("%s", value) : NULL;

    json_decref(root);
    return copy;
}

/* POSTs a creation on srv and checks the status (and, for 200/201, the
 * slug answered).  True if as expected. */
static int create_at(int line, const httpd_server *srv, const char *url,
                     const char *slug, long status, const char *answer_slug)
{
    http_response r;
    char *got = NULL;
    int ok;

    post_create(srv, url, slug, &r);
    ok = check_at(line, r.curl_code == 0 && r.status == status,
                  "POST /l/ {url %s, slug %s} on host %s: %ld (transport: %s), "
                  "expected %ld; body: %.400s", url, str_or_null(slug),
                  host_name(srv), r.status, r.curl_code ? r.error : "ok", status,
                  str_or_null(r.body));
    if (ok && answer_slug) {
        got = json_field(r.body, "slug");
        ok = check_at(line, got && strcmp(got, answer_slug) == 0,
                      "POST /l/ {url %s} on host %s: slug \"%s\", expected \"%s\"",
                      url, host_name(srv), str_or_null(got), answer_slug);
    }
    free(got);
    http_response_free(&r);
    return ok;
}

#define CREATE(srv, url, slug, status, answer_slug) \
    create_at(__LINE__, (srv), (url), (slug), (status), (answer_slug))

/*
 * Polls creation on srv every POLL_MS until it answers 201 (each answer
 * before must be 503), for up to RECOVER_MS.  Returns the milliseconds
 * since `since`, -1 on failure.
 */
static long wait_create_at(int line, const httpd_server *srv, const char *url,
                           const char *slug, long since)
{
    http_response r;
    long status = 0;

    for (;;) {
        post_create(srv, url, slug, &r);
        status = r.curl_code ? 0 : r.status;
        if (status != 503) {
            break;
        }
        http_response_free(&r);
        if (now_ms() - since >= RECOVER_MS) {
            check_at(line, 0, "host %s still answers 503 to creation %ld ms after "
                     "PostgreSQL was started again", host_name(srv), now_ms() - since);
            return -1;
        }
        sleep_ms(POLL_MS);
    }
    if (!check_at(line, status == 201, "creation of %s on host %s after PostgreSQL "
                  "came back: %ld (transport: %s), expected 503 then 201; body: "
                  "%.400s", slug, host_name(srv), r.status,
                  r.curl_code ? r.error : "ok", str_or_null(r.body))) {
        http_response_free(&r);
        return -1;
    }
    http_response_free(&r);
    fprintf(stderr, "[creation on %s works again: %ld ms] ", host_name(srv),
            now_ms() - since);
    return now_ms() - since;
}

/* ------------------------------------------------------------------ */
/* the hosts' pages and logs                                          */
/* ------------------------------------------------------------------ */

/* GET path on srv: the body (malloc'd), or NULL unless it answered 200. */
static char *page_at(int line, const httpd_server *srv, const char *path)
{
    http_response r;
    char *body = NULL;

    http_request(srv->port, "GET", NULL, path, &r);
    if (check_at(line, r.curl_code == 0 && r.status == 200,
                 "GET %s on host %s: %ld (transport: %s), expected 200", path,
                 host_name(srv), r.status, r.curl_code ? r.error : "ok")) {
        body = xasprintf("%s", r.body);
    }
    http_response_free(&r);
    return body;
}

/* "MinilinkRefreshErrors: N" of srv's /server-status?auto; -1 if none. */
static long refresh_errors(const httpd_server *srv)
{
    http_response r;
    const char *p;
    long n = -1;

    http_request(srv->port, "GET", NULL, "/server-status?auto", &r);
    if (r.status == 200 && (p = strstr(r.body, "MinilinkRefreshErrors: ")) != NULL) {
        n = strtol(p + 23, NULL, 10);
    }
    http_response_free(&r);
    return n;
}

/*
 * An error-log line carrying this ML tag at a level other than debug: what
 * a server at LogLevel info shows (the hosts log at debug for diagnosis,
 * and the README's ML00019 repeats itself at debug by design).
 */
static int ml_line_not_debug(const char *line, void *tag)
{
    return ml_line_names(line, tag) && strstr(line, "[minilink:debug]") == NULL;
}

static int ml_lines(const httpd_server *srv, const char *tag)
{
    return httpd_error_log_count_if(srv, ml_line_not_debug, (void *)tag);
}

/* Checks that srv's error log has exactly `expected` lines tagged tag
 * (debug ones aside). */
static void expect_lines_at(int line, const httpd_server *srv, const char *tag,
                            int expected, const char *why)
{
    int n = ml_lines(srv, tag);

    if (!check_at(line, n == expected, "host %s: %d %s lines in the error log "
                  "(debug aside), expected %d (%s)", host_name(srv), n, tag,
                  expected, why)) {
        char *last = httpd_error_log_last_line(srv, tag);
        fprintf(stderr, "    last %s line: %s\n", tag, str_or_null(last));
        free(last);
    }
}

#define EXPECT_LINES(srv, tag, expected, why) \
    expect_lines_at(__LINE__, (srv), (tag), (expected), (why))

/* Waits up to WAIT_MS until srv has more than `before` lines tagged tag
 * (debug ones aside). */
static void wait_line_at(int line, const httpd_server *srv, const char *tag,
                         int before, const char *why)
{
    long start = now_ms();

    while (ml_lines(srv, tag) <= before && now_ms() - start < WAIT_MS) {
        sleep_ms(POLL_MS);
    }
    check_at(line, ml_lines(srv, tag) > before, "host %s: no new %s line (%s) "
             "within %d ms", host_name(srv), tag, why, WAIT_MS);
}

/* ------------------------------------------------------------------ */
/* 1. links stored before the hosts started                           */
/* ------------------------------------------------------------------ */

static void test_stored_links_served(void)
{
    static const char *const slugs[] = { "seed1", "seed2", "seed3", "gone1" };
    size_t i;

    for (i = 0; i < sizeof slugs / sizeof *slugs; i++) {
        EXPECT_SERVED("at startup", P.a, slugs[i]);
        EXPECT_SERVED("at startup", P.b, slugs[i]);
    }
    EXPECT_SERVED("never stored", P.a, "nosuch");
    EXPECT_SERVED("never stored", P.b, "nosuch");
}

/* ------------------------------------------------------------------ */
/* 2. created on one host, served by the other                        */
/* ------------------------------------------------------------------ */

static void test_created_on_one_served_by_other(void)
{
    long t;

    if (CREATE(P.a, "https://example.com/from-a", "froma", 201, "froma")) {
        t = now_ms();
        expect_link("froma", 302, "https://example.com/from-a");
        EXPECT_SERVED("on the host that made it, at once", P.a, "froma");
        WAIT_SERVED("A -> B", P.b, "froma", t);
    }
    if (CREATE(P.b, "https://example.com/from-b?x=1", "fromb", 201, "fromb")) {
        t = now_ms();
        expect_link("fromb", 302, "https://example.com/from-b?x=1");
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

/* ------------------------------------------------------------------ */
/* 3. changed and deleted with the CLI                                */
/* ------------------------------------------------------------------ */

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
    const char *url = "https://example.com/cli/1", *changed = CLI_CHANGED_URL;
    char *out = NULL;
    size_t i;
    long t;

    if (!CLI("add", url, "cli1")) {
        return;
    }
    t = now_ms();
    expect_link("cli1", 302, url);
    WAIT_BOTH("CLI add", "cli1", t);

    for (i = 0; i < sizeof(cli_set_steps) / sizeof(cli_set_steps[0]); i++) {
        const struct cli_set_step *step = &cli_set_steps[i];
        const char *args[] = { "set", "cli1", step->option, step->value, NULL };
        char *what = xasprintf("CLI set %s%s%s", step->option,
                               step->value ? " " : "", step->value ? step->value : "");
        char *to_a = xasprintf("%s -> A", what), *to_b = xasprintf("%s -> B", what);

        if (pg_cli_expect_at(__LINE__, 0, NULL, args)) {
            t = now_ms();
            expect_link("cli1", step->status, step->status == 410 ? NULL : changed);
            wait_served_at(__LINE__, to_a, P.a, "cli1", t, POLL_MS);
            wait_served_at(__LINE__, to_b, P.b, "cli1", t, POLL_MS);
        }
        free(what);
        free(to_a);
        free(to_b);
    }
    if (CLI_OUT(&out, "show", "cli1")) {
        CHECK(strstr(out, changed) != NULL && strstr(out, "308") != NULL,
              "minilink show cli1 does not show its URL %s and status 308:\n%s",
              changed, out);
    }
    free(out);
    out = NULL;
    if (CLI_OUT(&out, "list")) {
        char *row = xasprintf("cli1\t%s\n", changed);
        CHECK(strstr(out, row) != NULL && strstr(out, "froma\thttps://example.com/from-a\n"),
              "minilink list lacks \"cli1<TAB>%s\" or froma:\n%s", changed, out);
        free(row);
    }
    free(out);
    if (CLI("rm", "cli1")) {
        t = now_ms();
        expect_link("cli1", 404, NULL);
        WAIT_BOTH("CLI rm", "cli1", t);
    }
    pg_cli_expect_at(__LINE__, 3, NULL, (const char *const[]){ "rm", "cli1", NULL });
    pg_cli_expect_at(__LINE__, 4, NULL, (const char *const[]){
                  "add", "https://example.com/taken", "froma", NULL });
}

/* ------------------------------------------------------------------ */
/* 4. a SQLite database moved to PostgreSQL                           */
/* ------------------------------------------------------------------ */

static void test_sqlite_moved_to_postgresql(void)
{
    char *old_db = httpd_path(P.a, "old.db"), *csv = httpd_path(P.a, "old.csv");
    char *sqlite_export = NULL, *pg_export = NULL, *out = NULL, *line, *end;
    const char *add1[] = { "add", "https://example.com/moved/1", "moved1", NULL };
    const char *add2[] = { "add", "https://example.com/?tags=a,b", "moved2", NULL };
    const char *add3[] = { "add", "https://example.com/moved/3", "moved3", NULL };
    const char *set2[] = { "set", "moved2", "--status", "301", NULL };
    const char *set3[] = { "set", "moved3", "--disable", NULL };
    const char *init[] = { "init", NULL }, *export[] = { "export", NULL };
    const char *const *steps[] = { init, add1, add2, add3, set2, set3, export };
    size_t i;
    int rc = 0;
    long t;

    /* The old server's file, filled with the CLI on SQLite. */
    for (i = 0; i < sizeof steps / sizeof *steps && rc == 0; i++) {
        free(out);
        out = NULL;
        rc = cli_on(old_db, steps[i], &out);
        CHECK(rc == 0, "minilink --db %s %s exited %d: %s", old_db, steps[i][0], rc,
              str_or_null(out));
    }
    if (rc != 0) {
        goto out;
    }
    sqlite_export = out;
    out = NULL;
    if (!CHECK(write_file(csv, sqlite_export, strlen(sqlite_export)) == 0
               && httpd_chown(P.a, csv) == 0, "cannot write %s", csv)) {
        goto out;
    }
    if (!CLI_OUT(&out, "import", csv)) {
        goto out;
    }
    CHECK(strstr(out, "imported 3 links") != NULL,
          "import into PostgreSQL said \"%s\", expected \"imported 3 links\"", out);
    t = now_ms();
    expect_link("moved1", 302, "https://example.com/moved/1");
    expect_link("moved2", 301, "https://example.com/?tags=a,b");
    expect_link("moved3", 410, NULL);
    WAIT_BOTH("imported", "moved1", t);
    WAIT_BOTH("imported", "moved2", t);
    WAIT_BOTH("imported", "moved3", t);

    /* Every row exported from SQLite comes back the same from PostgreSQL. */
    if (CLI_OUT(&pg_export, "export")) {
        for (line = sqlite_export; *line; line = end) {
            char *row;

            end = strstr(line, "\r\n");
            end = end ? end + 2 : line + strlen(line);
            row = xasprintf("%.*s", (int)(end - line), line);
            CHECK(strstr(pg_export, row) != NULL,
                  "the SQLite export's row \"%.*s\" is not in PostgreSQL's export:\n%s",
                  (int)strcspn(row, "\r\n"), row, pg_export);
            free(row);
        }
    }
out:
    free(sqlite_export);
    free(pg_export);
    free(out);
    free(old_db);
    free(csv);
}

/* ------------------------------------------------------------------ */
/* 5. clicks on both hosts add up                                     */
/* ------------------------------------------------------------------ */

/*
 * Polls `minilink stats slug` until it shows at least `expected` clicks,
 * for up to WAIT_MS after a flush on each host could have run; returns the
 * last count seen.
 */
static long wait_clicks(const char *slug, long expected)
{
    long start = now_ms(), clicks;

    while ((clicks = stored_clicks(slug)) < expected && now_ms() - start < WAIT_MS) {
        sleep_ms(POLL_MS);
    }
    fprintf(stderr, "[%s: %ld clicks stored after %ld ms] ", slug, clicks,
            now_ms() - start);
    return clicks;
}

static void test_clicks_add_up(void)
{
    long t, base, clicks;
    int i;
    char *page;

    if (!CLI("add", "https://example.com/clicky", "clicky")) {
        return;
    }
    t = now_ms();
    expect_link("clicky", 302, "https://example.com/clicky");
    if (WAIT_SERVED("CLI add -> A", P.a, "clicky", t) < 0
        || WAIT_SERVED("CLI add -> B", P.b, "clicky", t) < 0) {
        return;
    }
    /* The waits ended with one GET on each host: start from those. */
    base = link_of("clicky")->clicks;
    clicks = wait_clicks("clicky", base);
    if (!CHECK(clicks == base, "clicky: %ld clicks in the shared table after one GET "
               "on each host, expected %ld", clicks, base)) {
        return;
    }
    for (i = 0; i < CLICKS_ON_A; i++) {
        EXPECT_SERVED("click on A", P.a, "clicky");
    }
    for (i = 0; i < CLICKS_ON_B; i++) {
        EXPECT_SERVED("click on B", P.b, "clicky");
    }
    clicks = wait_clicks("clicky", base + CLICKS_ON_A + CLICKS_ON_B);
    CHECK(clicks == base + CLICKS_ON_A + CLICKS_ON_B,
          "clicky: %ld clicks in the shared table, expected %ld + %d on A + %d on B",
          clicks, base, CLICKS_ON_A, CLICKS_ON_B);

    /* The admin page flushes before answering: nothing is left to add. */
    page = page_at(__LINE__, P.a, "/minilink-admin/links/clicky");
    free(page);
    page = page_at(__LINE__, P.b, "/minilink-admin/links/clicky");
    free(page);
    clicks = stored_clicks("clicky");
    CHECK(clicks == base + CLICKS_ON_A + CLICKS_ON_B,
          "clicky: %ld clicks after both hosts flushed again, expected %ld",
          clicks, base + CLICKS_ON_A + CLICKS_ON_B);
}

/* ------------------------------------------------------------------ */
/* 6. how long a link made on A takes to reach B                      */
/* ------------------------------------------------------------------ */

static int compare_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static void test_propagation_measured(void)
{
    long delays[PROPAGATION_ROUNDS];
    int i, n = 0;

    for (i = 0; i < PROPAGATION_ROUNDS; i++) {
        char *slug = xasprintf("prop%d", i);
        char *url = xasprintf("https://example.com/propagation/%d", i);
        long t, delay;

        if (CREATE(P.a, url, slug, 201, slug)) {
            t = now_ms();
            expect_link(slug, 302, url);
            delay = wait_served_at(__LINE__, "A -> B", P.b, slug, t,
                                   PROPAGATION_POLL_MS);
            if (delay >= 0) {
                delays[n++] = delay;
            }
        }
        free(slug);
        free(url);
        /* Out of step with the refresher: a round takes about one refresh
         * interval, so without this every change would land at the same
         * point of it.  Real changes land anywhere. */
        sleep_ms((i * 379) % 1000);
    }
    if (n > 0) {
        qsort(delays, (size_t)n, sizeof *delays, compare_long);
        fprintf(stderr, "\n    [propagation, created on A (event) -> served by B "
                        "(prefork), MinilinkRefreshInterval 1: median %ld ms, min %ld, "
                        "max %ld, over %d links] ",
                n % 2 ? delays[n / 2] : (delays[n / 2 - 1] + delays[n / 2]) / 2,
                delays[0], delays[n - 1], n);
    }
}

/* ------------------------------------------------------------------ */
/* 7. PostgreSQL stopped                                              */
/* ------------------------------------------------------------------ */

/* Every link of the bookkeeping, on both hosts. */
static void expect_all_served_at(int line, const char *when)
{
    int i;

    for (i = 0; i < P.nlinks; i++) {
        expect_served_at(line, when, P.a, P.links[i].slug);
        expect_served_at(line, when, P.b, P.links[i].slug);
    }
}

/* OUTAGE_POSTS creations on srv, each must answer 503 with a message. */
static void expect_creation_refused_at(int line, const httpd_server *srv, int round)
{
    int i;

    for (i = 0; i < OUTAGE_POSTS; i++) {
        char *url = xasprintf("https://example.com/outage/%d/%s/%d", P.outages,
                              host_name(srv), round * OUTAGE_POSTS + i);
        http_response r;
        char *error;

        post_create(srv, url, i % 2 ? NULL : "outage", &r);
        error = json_field(r.body, "error");
        check_at(line, r.curl_code == 0 && r.status == 503,
                 "POST /l/ on host %s while PostgreSQL is down: %ld (transport: %s), "
                 "expected 503; body: %.300s", host_name(srv), r.status,
                 r.curl_code ? r.error : "ok", str_or_null(r.body));
        check_at(line, error && *error, "the 503 of host %s has no \"error\" "
                 "message: %.300s", host_name(srv), str_or_null(r.body));
        free(error);
        free(url);
        http_response_free(&r);
    }
}

/*
 * Waits until srv's MinilinkRefreshErrors has grown by REFRESH_RETRIES
 * since `from`: the refresher has failed that many more times.
 */
static void wait_refresh_retries_at(int line, const httpd_server *srv, long from)
{
    long start = now_ms(), n;

    while ((n = refresh_errors(srv)) < from + REFRESH_RETRIES
           && now_ms() - start < WAIT_MS + REFRESH_RETRIES * 1000) {
        sleep_ms(POLL_MS);
    }
    check_at(line, n >= from + REFRESH_RETRIES, "host %s: MinilinkRefreshErrors "
             "went from %ld to %ld; expected %d more failed refreshes while "
             "PostgreSQL is down", host_name(srv), from, n, REFRESH_RETRIES);
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
        check_at(line, errors_before[h] >= 0, "host %s: no MinilinkRefreshErrors "
                 "in /server-status?auto", host_name(hosts[h]));
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
        wait_line_at(line, hosts[h], "ML00007", P.outages - 1, "refresher: outage");
        wait_refresh_retries_at(line, hosts[h], errors_before[h]);
    }
    rc = cli_on(NULL, args, &out);
    check_at(line, rc == 5, "minilink list while PostgreSQL is down exited %d, "
             "expected 5: %s", rc, str_or_null(out));
    check_at(line, out && strstr(out, P.password) == NULL,
             "minilink's error message shows the password: %s", str_or_null(out));
    free(out);
    for (h = 0; h < 2; h++) {
        expect_creation_refused_at(line, hosts[h], 1);
    }
    expect_all_served_at(line, "PostgreSQL still down");
    for (h = 0; h < 2; h++) {
        expect_lines_at(line, hosts[h], "ML00007", P.outages,
                        "one per outage, from the refresher");
        expect_lines_at(line, hosts[h], "ML00019", P.outages,
                        "one per outage, however many creations failed");
        check_at(line, ml_lines(hosts[h], "ML00025") <= P.outages,
                 "host %s: %d ML00025 lines (clicks cannot be written), expected at "
                 "most one per outage", host_name(hosts[h]),
                 ml_lines(hosts[h], "ML00025"));
    }
}

/* Starts PostgreSQL again; creation must work again on both hosts. */
static void recovery_at(int line, const char *slug_a, const char *slug_b)
{
    char *url_a = xasprintf("https://example.com/after/%s", slug_a);
    char *url_b = xasprintf("https://example.com/after/%s", slug_b);
    long t;
    int h;

    if (!check_at(line, pg_start(P.pg) == 0, "PostgreSQL did not start again")) {
        goto out;
    }
    t = now_ms();
    fprintf(stderr, "[PostgreSQL started again] ");
    if (wait_create_at(line, P.a, url_a, slug_a, t) >= 0) {
        expect_link(slug_a, 302, url_a);
        wait_served_at(line, "made on A after the outage -> B", P.b, slug_a, now_ms(),
                       POLL_MS);
    }
    if (wait_create_at(line, P.b, url_b, slug_b, t) >= 0) {
        expect_link(slug_b, 302, url_b);
        wait_served_at(line, "made on B after the outage -> A", P.a, slug_b, now_ms(),
                       POLL_MS);
    }
    wait_line_at(line, P.a, "ML00008", P.outages - 1, "refresher: recovered");
    wait_line_at(line, P.b, "ML00008", P.outages - 1, "refresher: recovered");
    for (h = 0; h < 2; h++) {
        const httpd_server *srv = h ? P.b : P.a;
        expect_lines_at(line, srv, "ML00007", P.outages, "no more after recovery");
        expect_lines_at(line, srv, "ML00019", P.outages, "no more after recovery");
        expect_lines_at(line, srv, "ML00008", P.outages, "one per recovery");
        expect_lines_at(line, srv, "ML00032", P.outages,
                        "creation works again: one per recovery");
    }
out:
    free(url_a);
    free(url_b);
}

static void test_outage_served_from_cache(void)
{
    outage_at(__LINE__);
}

static void test_recovery_by_itself(void)
{
    long t;

    recovery_at(__LINE__, "aftera", "afterb");
    /* The refresher follows the CLI again too. */
    if (CLI("add", "https://example.com/after/cli", "aftercli")) {
        t = now_ms();
        expect_link("aftercli", 302, "https://example.com/after/cli");
        WAIT_BOTH("CLI add after the outage", "aftercli", t);
    }
    expect_all_served_at(__LINE__, "after the outage");
}

/*
 * A second outage, with a graceful restart of both hosts in it (logrotate
 * does one daily): the new generation cannot load from PostgreSQL, so it
 * serves the last table that loaded (one ML00033 line), and the outage
 * still has one ML00007 line.
 */
static void test_second_outage(void)
{
    httpd_server *hosts[2] = { P.a, P.b };
    int h, before[2];

    outage_at(__LINE__);
    for (h = 0; h < 2; h++) {
        before[h] = ml_lines(hosts[h], "ML00033");
        CHECK(httpd_graceful(hosts[h]) == 0, "graceful restart of host %s while "
              "PostgreSQL is down failed", host_name(hosts[h]));
    }
    expect_all_served_at(__LINE__, "graceful restart while PostgreSQL is down");
    for (h = 0; h < 2; h++) {
        EXPECT_LINES(hosts[h], "ML00033", before[h] + 1,
                     "the restart serves the last table that loaded");
        EXPECT_LINES(hosts[h], "ML00001", 0, "no host answers 503 for its links");
        expect_creation_refused_at(__LINE__, hosts[h], 2);
        EXPECT_LINES(hosts[h], "ML00007", P.outages, "still one for this outage");
        EXPECT_LINES(hosts[h], "ML00019", P.outages, "still one for this outage");
    }
    recovery_at(__LINE__, "aftera2", "afterb2");
}

/* One creation attempt of the frozen test, in a thread of its own. */
typedef struct {
    const httpd_server *srv;
    char url[128];
    pthread_t thread;
    int started;
    long status;        /* 0: transport error (curl's 15 s timeout...) */
    char error[256];
    long took_ms;
} frozen_post;

static void *frozen_post_run(void *arg)
{
    frozen_post *post = arg;
    http_response r;
    long t = now_ms();

    post_create(post->srv, post->url, NULL, &r);
    post->took_ms = now_ms() - t;
    post->status = r.curl_code ? 0 : r.status;
    snprintf(post->error, sizeof post->error, "%s", r.curl_code ? r.error : "");
    http_response_free(&r);
    return NULL;
}

/* GETs of one link, each on a new connection, until told to stop: how a
 * visitor sees a graceful restart. */
typedef struct {
    int port;
    const char *path, *location;
    int stop;
    pthread_t thread;
    long answered, failed, slowest_ms;
    char first_problem[300];
} prober;

static void *prober_run(void *arg)
{
    prober *p = arg;

    while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        http_response r;
        long t = now_ms(), took;

        http_request(p->port, "GET", NULL, p->path, &r);
        took = now_ms() - t;
        p->slowest_ms = took > p->slowest_ms ? took : p->slowest_ms;
        if (answers(&r, 302, p->location)) {
            p->answered++;
        }
        else if (p->failed++ == 0) {
            snprintf(p->first_problem, sizeof p->first_problem, "%ld, Location \"%s\" "
                     "(transport: %s) after %ld ms", r.status, str_or_null(r.location),
                     r.curl_code ? r.error : "ok", took);
        }
        http_response_free(&r);
        sleep_ms(20);
    }
    return NULL;
}

/*
 * PostgreSQL unreachable rather than down: frozen (SIGSTOP), it accepts
 * connections (the kernel does) and never answers, as a hung server or a
 * network that drops packets.  Redirects must not wait for it; creation
 * must still answer 503 (the README: connecting gives up after 5 s, so a
 * request is not held for minutes), and each refresher must log its
 * ML00007.  Creation is tried FROZEN_POSTS times per host at once, so that
 * children with and without a kept connection are both likely asked.
 */
static void test_frozen_not_waited_for(void)
{
    const httpd_server *hosts[2] = { P.a, P.b };
    frozen_post posts[2 * FROZEN_POSTS];
    prober probe;
    long slowest = 0, t, start;
    int round, i, h, n, asked = 0, ok = 1, before_07[2], before_34[2], probing, restarted;

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
            /* Two refresh intervals: both refreshers are stuck on it now. */
            sleep_ms(2500);
        }
        for (i = 0; i < P.nlinks && ok; i++) {
            for (h = 0; h < 2 && ok; h++) {
                t = now_ms();
                /* Stop at the first failure: each would wait out curl's
                 * 15 s timeout. */
                ok = expect_served_at(__LINE__, "PostgreSQL frozen", hosts[h],
                                      P.links[i].slug);
                asked++;
                slowest = now_ms() - t > slowest ? now_ms() - t : slowest;
            }
        }
    }
    fprintf(stderr, "[%d requests while frozen, slowest %ld ms] ", asked, slowest);

    for (i = 0; i < 2 * FROZEN_POSTS; i++) {
        frozen_post *post = &posts[i];

        memset(post, 0, sizeof *post);
        post->srv = hosts[i % 2];
        snprintf(post->url, sizeof post->url, "https://example.com/frozen/%d", i);
        post->started = pthread_create(&post->thread, NULL, frozen_post_run, post) == 0;
    }
    slowest = 0;
    for (i = 0; i < 2 * FROZEN_POSTS; i++) {
        frozen_post *post = &posts[i];

        if (!CHECK(post->started, "cannot start a thread")) {
            continue;
        }
        pthread_join(post->thread, NULL);
        CHECK(post->status == 503, "POST /l/ on host %s while PostgreSQL is frozen: "
              "%ld after %ld ms (transport: %s), expected 503",
              host_name(post->srv), post->status, post->took_ms,
              post->status ? "ok" : post->error);
        slowest = post->took_ms > slowest ? post->took_ms : slowest;
    }
    fprintf(stderr, "[%d creations while frozen, slowest answer %ld ms] ",
            2 * FROZEN_POSTS, slowest);
    for (h = 0; h < 2; h++) {
        while (ml_lines(hosts[h], "ML00007") <= before_07[h]
               && now_ms() - start < FROZEN_WAIT_MS) {
            sleep_ms(POLL_MS);
        }
        CHECK(ml_lines(hosts[h], "ML00007") > before_07[h], "host %s: no ML00007 "
              "line (cannot refresh) %ld ms after PostgreSQL froze", host_name(hosts[h]),
              now_ms() - start);
        CHECK(ml_lines(hosts[h], "ML00034") > before_34[h], "host %s: no ML00034 "
              "line (the refresher gave up waiting) %ld ms after PostgreSQL froze",
              host_name(hosts[h]), now_ms() - start);
    }

    /* logrotate's graceful restart, while it is frozen: the new
     * generation's load gives up (connect_timeout) and serves the last
     * table; the old generation's refresher, stuck or not, must not hold
     * the restart up. */
    t = now_ms();
    memset(&probe, 0, sizeof probe);
    probe.port = P.a->port;
    probe.path = "/l/seed1";
    probe.location = link_of("seed1")->url;
    probing = pthread_create(&probe.thread, NULL, prober_run, &probe) == 0;
    restarted = httpd_graceful(P.a) == 0;
    if (probing) {
        sleep_ms(200);   /* a few requests to the new generation too */
        __atomic_store_n(&probe.stop, 1, __ATOMIC_RELEASE);
        pthread_join(probe.thread, NULL);
        link_of("seed1")->clicks += probe.answered;
        fprintf(stderr, "[graceful restart of A while frozen: %ld ms; %ld GETs meanwhile, "
                "slowest %ld ms] ", now_ms() - t, probe.answered + probe.failed,
                probe.slowest_ms);
        CHECK(probe.failed == 0, "%ld of %ld GET /l/seed1 on host A during its graceful "
              "restart while PostgreSQL is frozen were not answered 302; the first: %s",
              probe.failed, probe.answered + probe.failed, probe.first_problem);
    }
    if (CHECK(restarted, "graceful restart of host A while PostgreSQL is frozen "
              "failed")) {
        for (i = 0; i < P.nlinks; i++) {
            if (!expect_served_at(__LINE__, "restarted while PostgreSQL is frozen", P.a,
                                  P.links[i].slug)) {
                break;
            }
        }
    }

    CHECK(pg_freeze(P.pg, 0) > 0, "cannot thaw PostgreSQL");
    fprintf(stderr, "[PostgreSQL thawed after %ld ms] ", now_ms() - start);
    if (CLI("add", "https://example.com/after/freeze", "afterfreeze")) {
        t = now_ms();
        expect_link("afterfreeze", 302, "https://example.com/after/freeze");
        WAIT_BOTH("CLI add after the freeze", "afterfreeze", t);
    }
}

/* ------------------------------------------------------------------ */
/* 8. every click of the suite is stored                              */
/* ------------------------------------------------------------------ */

static void test_all_clicks_stored(void)
{
    long start = now_ms();
    int i, wrong;

    /* Clicks made while PostgreSQL was down waited in memory. */
    do {
        wrong = 0;
        for (i = 0; i < P.nlinks; i++) {
            if (P.links[i].status != 404
                && stored_clicks(P.links[i].slug) != P.links[i].clicks) {
                wrong++;
            }
        }
        if (wrong) {
            sleep_ms(POLL_MS);
        }
    } while (wrong && now_ms() - start < WAIT_MS);
    for (i = 0; i < P.nlinks; i++) {
        if (P.links[i].status != 404) {
            long stored = stored_clicks(P.links[i].slug);
            CHECK(stored == P.links[i].clicks, "%s: %ld clicks in the shared table, "
                  "expected %ld (GETs answered with a redirect on A and B)",
                  P.links[i].slug, stored, P.links[i].clicks);
        }
    }
    fprintf(stderr, "[%d links' clicks checked after %ld ms] ", P.nlinks,
            now_ms() - start);
}

/* ------------------------------------------------------------------ */
/* 9. the password is never shown                                     */
/* ------------------------------------------------------------------ */

static void expect_no_password_at(int line, const char *what, const char *text)
{
    const char *hit = text ? strstr(text, P.password) : NULL;

    check_at(line, hit == NULL, "%s shows the PostgreSQL password: ...%.120s",
             what, hit ? (hit - text > 60 ? hit - 60 : text) : "");
}

static void test_password_never_shown(void)
{
    const httpd_server *hosts[2] = { P.a, P.b };
    static const char *const pages[] = { "/server-status?auto", "/server-status",
                                         "/minilink-admin/", "/minilink-admin/metrics",
                                         "/minilink-admin/links/froma" };
    int h;
    size_t i;

    for (h = 0; h < 2; h++) {
        const httpd_server *srv = hosts[h];
        char *log = httpd_error_log_read(srv), *what;
        FILE *f = fopen(srv->startup_log, "r");
        char startup[8192] = "";

        what = xasprintf("host %s's error log", host_name(srv));
        CHECK(strstr(log, "ML00007") != NULL, "%s has no ML00007 line: the outages "
              "were not logged, so this check sees nothing", what);
        expect_no_password_at(__LINE__, what, log);
        free(what);
        free(log);
        if (f) {
            startup[fread(startup, 1, sizeof startup - 1, f)] = '\0';
            fclose(f);
        }
        what = xasprintf("host %s's startup output", host_name(srv));
        expect_no_password_at(__LINE__, what, startup);
        free(what);

        for (i = 0; i < sizeof pages / sizeof *pages; i++) {
            char *body = page_at(__LINE__, srv, pages[i]);

            what = xasprintf("GET %s on host %s", pages[i], host_name(srv));
            if (body && i == 0) {
                const char *db = strstr(body, "MinilinkDatabase: ");
                if (CHECK(db != NULL, "%s has no MinilinkDatabase line:\n%s", what, body)) {
                    fprintf(stderr, "[host %s: %.*s] ", host_name(srv),
                            (int)strcspn(db, "\n"), db);
                }
            }
            expect_no_password_at(__LINE__, what, body);
            free(what);
            free(body);
        }
    }
}

/* ------------------------------------------------------------------ */
/* 10. last: nothing crashed, both stop cleanly                       */
/* ------------------------------------------------------------------ */

static void test_clean_logs_and_stop(void)
{
    httpd_server *hosts[2] = { P.a, P.b };
    int h;

    for (h = 0; h < 2; h++) {
        int left;

        g_srv = hosts[h];
        EXPECT_ERROR_LOG_CLEAN();
        g_srv = NULL;
        left = httpd_stop_clean(hosts[h]);
        CHECK(left == 0, "stopping host %s: %d process(es) did not stop on SIGTERM "
              "(the parent counts as one)", host_name(hosts[h]), left);
    }
}

static CU_TestInfo pgsql_tests[] = {
    { "both hosts serve the links stored before they started", test_stored_links_served },
    { "created on one host, served by the other", test_created_on_one_served_by_other },
    { "CLI set and rm: both hosts follow", test_cli_changes_followed },
    { "SQLite export, PostgreSQL import: both hosts serve it",
      test_sqlite_moved_to_postgresql },
    { "clicks on A and B add up exactly", test_clicks_add_up },
    { "propagation A -> B measured", test_propagation_measured },
    { "PostgreSQL stopped: cache serves, 503, one line per outage",
      test_outage_served_from_cache },
    { "PostgreSQL back: creation works again by itself", test_recovery_by_itself },
    { "a second outage, with a graceful restart in it", test_second_outage },
    { "PostgreSQL frozen: redirects do not wait for it, creation 503",
      test_frozen_not_waited_for },
    { "every click on either host is stored exactly", test_all_clicks_stored },
    { "the password is never shown", test_password_never_shown },
    { "error logs clean, clean stop", test_clean_logs_and_stop },
    CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* the suite                                                          */
/* ------------------------------------------------------------------ */

/* A password made up for the run: hex, so no quoting is needed anywhere,
 * and found in no log by chance. */
static int make_password(char *out, size_t size)
{
    unsigned char bytes[12];
    int fd = open("/dev/urandom", O_RDONLY), ok;
    size_t i;

    ok = fd >= 0 && read(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes;
    if (fd >= 0) {
        close(fd);
    }
    snprintf(out, size, "pw");
    for (i = 0; ok && i < sizeof bytes; i++) {
        snprintf(out + 2 + 2 * i, size - 2 - 2 * i, "%02x", bytes[i]);
    }
    return ok ? 0 : -1;
}

/* The links stored before the hosts start, with the CLI. */
static int store_seed_links(void)
{
    static const char *const steps[][6] = {
        { "init" },
        { "add", "https://example.com/seed/1", "seed1" },
        { "add", "https://example.com/seed/2?q=1#top", "seed2" },
        { "add", "https://example.com/seed/3", "seed3" },
        { "set", "seed3", "--status", "301" },
        { "add", "https://example.com/gone/1", "gone1" },
        { "set", "gone1", "--disable" },
    };
    size_t i;

    for (i = 0; i < sizeof steps / sizeof *steps; i++) {
        char *out = NULL, *text = cli_text(steps[i]);
        int rc = cli_on(NULL, steps[i], &out);

        if (rc != 0) {
            snprintf(P.init_problem, sizeof P.init_problem, "%s exited %d: %s",
                     text, rc, str_or_null(out));
        }
        free(text);
        free(out);
        if (rc != 0) {
            return -1;
        }
    }
    expect_link("seed1", 302, "https://example.com/seed/1");
    expect_link("seed2", 302, "https://example.com/seed/2?q=1#top");
    expect_link("seed3", 301, "https://example.com/seed/3");
    expect_link("gone1", 410, NULL);
    expect_link("nosuch", 404, NULL);
    return 0;
}

static httpd_server *new_host(const char *mpm, const char *database)
{
    httpd_server *srv = httpd_new(mpm);
    char *config;
    int rc;

    /* Three free ports asked for one after the other: make sure they
     * differ. */
    while (srv && ((P.a && srv->port == P.a->port) || srv->port == P.pg->port)) {
        httpd_free(srv);
        srv = httpd_new(mpm);
    }
    if (srv == NULL) {
        return NULL;
    }
    httpd_load_module(srv, "slotmem_shm_module", "mod_slotmem_shm.so");
    httpd_load_module(srv, "status_module", "mod_status.so");
    config = xasprintf(host_config_format, database);
    rc = httpd_write_config(srv, config);
    free(config);
    if (rc != 0) {
        httpd_free(srv);
        return NULL;
    }
    return srv;
}

static int pgsql_cleanup(void)
{
    int failed = CU_get_number_of_failures() != g_failures_at_init;

    if (failed && P.a) {
        fprintf(stderr, "\nsuite pgsql had failures; error log of host A:\n");
        httpd_error_log_dump(P.a);
    }
    if (failed && P.b) {
        fprintf(stderr, "error log of host B:\n");
        httpd_error_log_dump(P.b);
    }
    if (failed && P.pg) {
        pg_log_dump(P.pg);
    }
    httpd_free(P.a);
    httpd_free(P.b);
    pg_free(P.pg);
    free(P.url);
    free(P.params);
    memset(&P, 0, sizeof P);
    return 0;
}

static int pgsql_init(void)
{
    char *database_a = NULL, *database_b = NULL;

    memset(&P, 0, sizeof P);
    g_failures_at_init = CU_get_number_of_failures();
    /* The module must use the password of its configuration, not one
     * the environment would give libpq. */
    unsetenv("PGPASSWORD");
    unsetenv("PGPASSFILE");
    unsetenv("PGSERVICE");

    P.pg = pg_new();
    if (P.pg == NULL) {
        snprintf(P.init_problem, sizeof P.init_problem, "cannot set up PostgreSQL "
                 "(see above)");
        goto fail;
    }
    if (make_password(P.password, sizeof P.password) != 0) {
        snprintf(P.init_problem, sizeof P.init_problem, "cannot read /dev/urandom");
        goto fail;
    }
    if (pg_start(P.pg) != 0
        || pg_create_user_database(P.pg, ROLE, P.password, DBNAME) != 0) {
        snprintf(P.init_problem, sizeof P.init_problem, "cannot start PostgreSQL "
                 "%s from %s, or create its role and database (see above)",
                 P.pg->version, P.pg->bin_dir);
        goto fail;
    }
    fprintf(stderr, "[PostgreSQL %s on 127.0.0.1:%d, as %s] ", P.pg->version,
            P.pg->port, P.pg->user);
    P.url = xasprintf("postgresql://" ROLE ":%s@127.0.0.1:%d/" DBNAME, P.password,
                      P.pg->port);
    P.params = xasprintf("host=127.0.0.1 port=%d dbname=" DBNAME " user=" ROLE
                         " password=%s", P.pg->port, P.password);

    /* The CLI runs as the hosts' user: A must exist first. */
    database_a = xasprintf("pgsql \"%s\"", P.params);
    database_b = xasprintf("%s", P.url);
    P.a = new_host("event", database_a);
    if (P.a == NULL) {
        snprintf(P.init_problem, sizeof P.init_problem, "cannot prepare host A");
        goto fail;
    }
    if (store_seed_links() != 0) {
        goto fail;
    }
    P.b = new_host("prefork", database_b);
    if (P.b == NULL) {
        snprintf(P.init_problem, sizeof P.init_problem, "cannot prepare host B");
        goto fail;
    }
    if (httpd_start(P.a) != 0 || httpd_start(P.b) != 0) {
        snprintf(P.init_problem, sizeof P.init_problem, "cannot start host %s "
                 "(its logs are above)", P.a->pid > 0 ? "B" : "A");
        goto fail;
    }
    free(database_a);
    free(database_b);
    return 0;

fail:
    fprintf(stderr, "\nsuite pgsql: %s\n", P.init_problem);
    free(database_a);
    free(database_b);
    g_tests_not_run += count_tests(pgsql_tests);
    pgsql_cleanup();
    return -1;
}

static CU_SuiteInfo pgsql_suites[] = {
    { "pgsql", pgsql_init, pgsql_cleanup, NULL, NULL, pgsql_tests },
    CU_SUITE_INFO_NULL,
};

void add_pgsql_suites(void)
{
    if (CU_register_suites(pgsql_suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot register the pgsql suite: %s\n",
                CU_get_error_msg());
    }
}
