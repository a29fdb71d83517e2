/*
 * test_clicks.c - click counting, and where the counts are shown.
 *
 * Suites "clicks-event", "clicks-worker" and "clicks-prefork" run the same
 * tests (clicks_tests), each on a server of its own with
 * MinilinkFlushInterval 1, LogLevel minilink:debug, mod_status, a
 * minilink-admin location and an access log that records the slug note
 * and variable.  Every test counts the requests it makes and asserts exact
 * numbers: a suite-wide tally (g_clicks) holds the clicks, hits and misses
 * made so far, and each view (database, /server-status?auto, the admin
 * JSON, /metrics, the CLI) is compared with it.
 *
 *   - the counting rule: GET redirects count; HEAD, 404, 410 and previews
 *     do not;
 *   - the access log's slug note and variable;
 *   - mod_status (?auto and HTML), admin JSON, Prometheus metrics, the CLI;
 *   - exact counts across 3 graceful restarts under load, across a stop
 *     (a server of its own with MinilinkFlushInterval 60, so that only the
 *     stop can write them), across a serving child and the refresher killed
 *     with SIGKILL under load.
 *
 * The database is read with sqlite3 directly, after a forced flush (GET
 * /admin/links/SLUG flushes before answering) or by polling for the
 * expected value for up to WAIT_MS: never a fixed sleep and one look.
 *
 * The kill test asserts that no click is lost and none is made up: the
 * database gains at least the GETs that got a complete 302, and at most
 * those plus the requests cut off without a complete answer.  The module
 * counts a click when it decides to redirect, so a request the killed
 * child had counted but not yet answered is one click more than its client
 * saw (measured: 7 of 150 rounds over the three MPMs, each +1, each with a
 * request whose connection closed before any byte of its answer).
 * Counting after the answer would lose delivered clicks instead.  Each
 * round prints what the clients saw:
 * "[kill round R (mpm): ... complete 302s, U uncertain (how each ended),
 * database +D (+diff)]".  MINILINK_CLICKS_KILL_ROUNDS=N (default 1) repeats
 * it N times on one server to measure the rate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <jansson.h>
#include <sqlite3.h>

#include "harness.h"
#include "ml_test.h"

void add_clicks_suites(void);

/* Bounded waits: a flush comes every second; the slack covers a loaded
 * 2-core machine. */
#define WAIT_MS 8000
#define POLL_MS 100

/* What the suites' servers hold. */
#define MAX_SLUGS 32
#define LOAD_SLUG_COUNT 5
#define LOAD_CLIENTS 4

/* The graceful test: GRACEFUL_CLIENTS threads of GRACEFUL_REQUESTS GETs. */
#define GRACEFUL_CLIENTS 4
#define GRACEFUL_REQUESTS 600

/*
 * The suites' configuration; %d is MinilinkFlushInterval.  <Directory />
 * denies everything in the harness's base configuration: /server-status
 * and /admin map to the filesystem, so they grant access themselves.
 * pids.log tells which child served what (the kill test's victim).
 */
static const char *const clicks_config_format =
    "MinilinkFlushInterval %d\n"
    "LogLevel minilink:debug\n"
    "MinilinkDatabase @DIR@/links.db\n"
    "LogFormat \"%%>s %%U %%{minilink-slug}n %%{MINILINK_SLUG}e\" slugs\n"
    "LogFormat \"%%P %%>s %%U\" pids\n"
    "CustomLog @DIR@/access.log slugs\n"
    "CustomLog @DIR@/pids.log pids\n"
    "<Location /server-status>\n"
    "    SetHandler server-status\n"
    "    Require all granted\n"
    "</Location>\n"
    "<Location /l>\n"
    "    SetHandler minilink\n"
    "</Location>\n"
    "<Location /quiet>\n"
    "    SetHandler minilink\n"
    "    MinilinkClicks Off\n"
    "</Location>\n"
    "<Location /admin>\n"
    "    SetHandler minilink-admin\n"
    "    Require all granted\n"
    "</Location>\n";

/* ------------------------------------------------------------------ */
/* the suite's tally of what its requests did                         */
/* ------------------------------------------------------------------ */

typedef struct {
    char slug[16];
    long clicks;            /* redirects answered (GET) */
    long last_lo, last_hi;  /* Unix seconds around the last one */
} slug_tally;

static struct {
    slug_tally slug[MAX_SLUGS];
    int slugs;
    long hits, misses;        /* lookups the module must have counted */
    int links;                /* links in the database at startup */
    long started;             /* Unix seconds just before httpd_start */
    long created_lo, created_hi;   /* around creating the links */
    int cli_links;            /* links added with the CLI (refresher pid) */
    long since_flush;         /* clicks since the last forced flush */
} g_clicks;

static slug_tally *tally_of(const char *slug)
{
    int i;

    for (i = 0; i < g_clicks.slugs; i++) {
        if (strcmp(g_clicks.slug[i].slug, slug) == 0) {
            return &g_clicks.slug[i];
        }
    }
    if (g_clicks.slugs == MAX_SLUGS) {
        abort();
    }
    snprintf(g_clicks.slug[g_clicks.slugs].slug, sizeof g_clicks.slug[0].slug,
             "%s", slug);
    return &g_clicks.slug[g_clicks.slugs++];
}

static void tally_clicks(const char *slug, long n, long lo, long hi)
{
    slug_tally *t = tally_of(slug);

    t->clicks += n;
    g_clicks.since_flush += n;
    if (n > 0) {
        t->last_lo = lo;
        t->last_hi = hi;
    }
    g_clicks.hits += n;
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

static long now_sec(void)
{
    return (long)time(NULL);
}

/* ------------------------------------------------------------------ */
/* the database, read with sqlite3                                    */
/* ------------------------------------------------------------------ */

/*
 * Runs a one-value query on the server's links.db; *value gets the
 * integer (NULL reads as 0).  0 on success.  The database is opened
 * read-write (a WAL file without its -shm needs that) by root, so the
 * files are given back to the server's user afterwards.
 */
static int db_query_int(const char *sql, const char *slug, long *value)
{
    char *path = path_of("links.db");
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

    *value = -1;
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    }
    if (rc == SQLITE_OK && slug) {
        rc = sqlite3_bind_text(stmt, 1, slug, -1, SQLITE_TRANSIENT);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            *value = (long)sqlite3_column_int64(stmt, 0);
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK) {
        fprintf(stderr, "\n    sqlite3 on %s: %s: %s\n", path, sql,
                db ? sqlite3_errmsg(db) : "cannot open");
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    chown_database(path);
    free(path);
    return rc == SQLITE_OK ? 0 : -1;
}

/* links.clicks of slug; -1 if it cannot be read or there is no such row. */
static long db_clicks(const char *slug)
{
    long v;

    return db_query_int("SELECT clicks FROM links WHERE slug = ?1", slug, &v) == 0
           ? v : -1;
}

static long db_last_click(const char *slug)
{
    long v;

    return db_query_int("SELECT coalesce(last_click_at, 0) FROM links WHERE slug = ?1",
                        slug, &v) == 0 ? v : -1;
}

static long db_click_total(void)
{
    long v;

    return db_query_int("SELECT coalesce(sum(clicks), 0) FROM links", NULL, &v) == 0
           ? v : -1;
}

static long db_link_count(void)
{
    long v;

    return db_query_int("SELECT count(*) FROM links", NULL, &v) == 0 ? v : -1;
}

/*
 * Polls the database every POLL_MS for up to WAIT_MS until each slug has
 * its expected clicks.  Returns the milliseconds waited, or -1 (a failure
 * naming every slug that differs) on timeout.
 */
static long wait_db_clicks_at(int line, const char *what, const char *const *slugs,
                              const long *expected, int n)
{
    long start = now_ms(), got[MAX_SLUGS];
    int i, differ;
    char text[1024];
    size_t used = 0;

    for (;;) {
        differ = 0;
        for (i = 0; i < n; i++) {
            got[i] = db_clicks(slugs[i]);
            differ |= got[i] != expected[i];
        }
        if (!differ) {
            return now_ms() - start;
        }
        if (now_ms() - start >= WAIT_MS) {
            break;
        }
        sleep_ms(POLL_MS);
    }
    text[0] = '\0';
    for (i = 0; i < n && used < sizeof text - 64; i++) {
        used += (size_t)snprintf(text + used, sizeof text - used,
                                 "%s%s: %ld (expected %ld)", i ? ", " : "",
                                 slugs[i], got[i], expected[i]);
    }
    check_at(line, 0, "%s: links.clicks after %d ms: %s", what, WAIT_MS, text);
    return -1;
}

/* ------------------------------------------------------------------ */
/* small helpers                                                      */
/* ------------------------------------------------------------------ */

/* The pid in an error-log line's "[pid N" prefix, or -1. */
static pid_t line_pid(const char *line)
{
    const char *p = line ? strstr(line, "[pid ") : NULL;

    return p ? (pid_t)atoi(p + 5) : -1;
}

/* GET /l/<slug> on client (a new connection if NULL), expecting the
 * redirect to https://example.com/<slug>; tallied as a click. */
static void click_at(int line, http_client *client, const char *slug)
{
    char *path = xasprintf("/l/%s", slug);
    char *url = xasprintf("https://example.com/%s", slug);
    long lo = now_sec(), hi;
    http_response r;

    if (client) {
        http_client_request(client, "GET", NULL, path, &r);
    }
    else {
        http_request(g_srv->port, "GET", NULL, path, &r);
    }
    hi = now_sec();
    if (check_at(line, r.curl_code == 0 && r.status == 302 && r.location
                 && strcmp(r.location, url) == 0,
                 "GET %s: %ld, Location \"%s\" (transport: %s); expected 302 %s",
                 path, r.status, str_or_null(r.location),
                 r.curl_code ? r.error : "ok", url)) {
        tally_clicks(slug, 1, lo, hi);
    }
    else if (r.curl_code == 0 && r.status == 302) {
        tally_clicks(slug, 1, lo, hi);   /* counted all the same */
    }
    http_response_free(&r);
    free(path);
    free(url);
}

#define CLICK(client, slug) click_at(__LINE__, (client), (slug))

/*
 * GET path, expecting 200 and Content-Type type (a prefix); the body is
 * returned (malloc'd), or NULL.
 */
static char *get_body_at(int line, const char *path, const char *type)
{
    http_response r;
    char *got_type, *body = NULL;

    expect_at(line, "GET", NULL, path, 200, NULL, &r);
    got_type = http_header(&r, "Content-Type");
    check_at(line, got_type && strncmp(got_type, type, strlen(type)) == 0,
             "GET %s: Content-Type \"%s\", expected %s", path,
             str_or_null(got_type), type);
    if (r.curl_code == 0 && r.status == 200) {
        body = r.body;
        r.body = NULL;
    }
    free(got_type);
    http_response_free(&r);
    return body;
}

/* GET path as JSON (200, application/json); the parsed value or NULL. */
static json_t *get_json_at(int line, const char *path)
{
    char *body = get_body_at(line, path, "application/json");
    json_error_t error;
    json_t *value = NULL;

    if (body) {
        value = json_loads(body, 0, &error);
        check_at(line, value != NULL, "GET %s: not JSON (%s): %.500s", path,
                 error.text, body);
    }
    free(body);
    return value;
}

/* An integer field of a JSON object; checked; -1 if absent. */
static long json_int_at(int line, const char *what, json_t *object, const char *name)
{
    json_t *v = object ? json_object_get(object, name) : NULL;

    if (!check_at(line, v && json_is_integer(v), "%s: no integer \"%s\"", what, name)) {
        return -1;
    }
    return (long)json_integer_value(v);
}

#define JSON_INT(what, object, name) json_int_at(__LINE__, (what), (object), (name))

/* A string field of a JSON object; checked; "" if absent. */
static const char *json_str_at(int line, const char *what, json_t *object,
                               const char *name)
{
    json_t *v = object ? json_object_get(object, name) : NULL;

    if (!check_at(line, v && json_is_string(v), "%s: no string \"%s\"", what, name)) {
        return "";
    }
    return json_string_value(v);
}

#define JSON_STR(what, object, name) json_str_at(__LINE__, (what), (object), (name))

/*
 * Forces a flush: GET /admin/links/<slug> writes what is in memory before
 * answering.  Returns the link's JSON (the caller frees it), or NULL.
 */
static json_t *admin_link_at(int line, const char *slug)
{
    char *path = xasprintf("/admin/links/%s", slug);
    json_t *value = get_json_at(line, path);

    g_clicks.since_flush = 0;

    free(path);
    return value;
}

#define FORCE_FLUSH() json_decref(admin_link_at(__LINE__, "a"))

/* The value of "Key: value" in a ?auto status page, malloc'd, or NULL. */
static char *status_field(const char *body, const char *key)
{
    char *needle = xasprintf("\n%s: ", key);
    const char *p = body ? strstr(body, needle) : NULL;
    char *value = NULL;

    if (p) {
        p += strlen(needle);
    }
    else if (body && strncmp(body, needle + 1, strlen(needle) - 1) == 0) {
        p = body + strlen(needle) - 1;
    }
    if (p) {
        value = xasprintf("%.*s", (int)strcspn(p, "\r\n"), p);
    }
    free(needle);
    return value;
}

/* A numeric status field, checked to be present; -1 if absent. */
static long status_int_at(int line, const char *body, const char *key)
{
    char *v = status_field(body, key), *end = NULL;
    long n = -1;

    if (check_at(line, v != NULL, "/server-status?auto has no \"%s:\" line", key)) {
        n = strtol(v, &end, 10);
        check_at(line, *v && *end == '\0', "/server-status?auto: %s: \"%s\" is not "
                 "a number", key, v);
    }
    free(v);
    return n;
}

/* A time field must lie in [lo, hi] (Unix seconds). */
#define CHECK_TIME(what, value, lo, hi) \
    CHECK((value) >= (lo) && (value) <= (hi), "%s: %ld, expected between %ld and %ld " \
          "(now %ld)", (what), (long)(value), (long)(lo), (long)(hi), now_sec())

/* ------------------------------------------------------------------ */
/* the refresher and the children                                    */
/* ------------------------------------------------------------------ */

/*
 * The refresher's pid: a link added with the CLI is applied by the
 * refresher alone, which logs ML00009 with its pid.  -1 on failure.
 */
static pid_t refresher_pid_at(int line)
{
    int before = httpd_error_log_count(g_srv, "ML00009");
    char *slug = xasprintf("cli%d", g_clicks.cli_links++);
    char *url = xasprintf("https://example.com/cli/%s", slug), *output = NULL, *text;
    const char *args[] = { "add", url, slug, NULL };
    int rc = cli_run(args, &output);
    long waited;
    pid_t pid = -1, parent;

    if (!check_at(line, rc == 0, "%s add %s %s exited %d: %s", cli_path(), url, slug,
                  rc, str_or_null(output))) {
        goto out;
    }
    waited = httpd_error_log_wait(g_srv, "ML00009", before, WAIT_MS);
    if (!check_at(line, waited >= 0, "no ML00009 line within %d ms of adding %s "
                  "with the CLI", WAIT_MS, slug)) {
        goto out;
    }
    text = httpd_error_log_last_line(g_srv, "ML00009");
    pid = line_pid(text);
    parent = pid > 0 ? process_parent(pid) : -1;
    if (!check_at(line, pid > 0 && pid != g_srv->pid && parent == g_srv->pid,
                  "the ML00009 line's pid %d is not a child of httpd %d (its "
                  "parent: %d): %s", (int)pid, (int)g_srv->pid, (int)parent,
                  str_or_null(text))) {
        pid = -1;
    }
    free(text);
out:
    free(output);
    free(slug);
    free(url);
    return pid;
}

/*
 * A child that served a request for one of the load slugs (prefix, e.g.
 * "/l/k") most recently, from pids.log ("%P %>s %U"), alive, a child of
 * the httpd parent, and not `exclude` (the refresher).  -1 if none.
 */
static pid_t serving_child(const char *prefix, pid_t exclude)
{
    char *path = path_of("pids.log"), *log = file_read(path), *line;
    pid_t found = -1;

    /* From the end: the newest line first. */
    line = log + strlen(log);
    while (line > log && found < 0) {
        char *start = line - 1, uri[256];
        int pid, status;

        while (start > log && start[-1] != '\n') {
            start--;
        }
        if (sscanf(start, "%d %d %255s", &pid, &status, uri) == 3
            && strncmp(uri, prefix, strlen(prefix)) == 0 && pid > 0
            && (pid_t)pid != exclude && (pid_t)pid != g_srv->pid
            && process_parent((pid_t)pid) == g_srv->pid) {
            found = (pid_t)pid;
        }
        if (start > log) {
            start[-1] = '\0';
        }
        line = start > log ? start - 1 : log;
    }
    free(log);
    free(path);
    return found;
}

/* ------------------------------------------------------------------ */
/* load clients: raw HTTP/1.1 keep-alive, or curl                     */
/* ------------------------------------------------------------------ */

/*
 * The kill tests need to know which requests got their whole answer, and
 * curl silently sends a request again on a fresh connection when a reused
 * one dies before any answer (which is right for a browser, and would
 * count twice here).  So these clients speak HTTP/1.1 on a plain socket:
 * one request at a time on a keep-alive connection, and a request whose
 * answer did not arrive complete is "uncertain" (httpd may or may not
 * have counted it) and is not sent again.
 */
typedef struct {
    int fd;
    int port;
    size_t len;
    char buf[16384];
} raw_conn;

enum { RAW_COMPLETE, RAW_NOT_SENT, RAW_UNCERTAIN };

/* How an uncertain request ended. */
enum { END_EOF,        /* connection closed before any byte of the answer */
       END_RESET,      /* reset before any byte of the answer */
       END_PARTIAL,    /* part of the answer arrived */
       END_OTHER,
       END_KINDS };

static const char *const end_names[END_KINDS] = {
    "closed before any answer byte", "reset before any answer byte",
    "answer cut short", "other"
};

static int raw_connect(raw_conn *c)
{
    struct sockaddr_in addr;
    struct timeval timeout = { 10, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)c->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->len = 0;
    return 0;
}

static void raw_close(raw_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->len = 0;
}

/* Reads more of the answer: bytes read, 0 at EOF, -1 on error. */
static ssize_t raw_fill(raw_conn *c)
{
    ssize_t n;

    if (c->len == sizeof c->buf) {
        errno = EMSGSIZE;
        return -1;
    }
    do {
        n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->len += (size_t)n;
    }
    return n;
}

/* Makes sure `need` bytes are buffered; 0, or -1 with why set. */
static int raw_need(raw_conn *c, size_t need, char *why, size_t why_size)
{
    while (c->len < need) {
        ssize_t n = raw_fill(c);
        if (n <= 0) {
            snprintf(why, why_size, "%s", n == 0 ? "connection closed mid-answer"
                                                 : strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* The value of header name in head (NUL-terminated), into out; 1 if found. */
static int raw_header(const char *head, const char *name, char *out, size_t size)
{
    size_t len = strlen(name);
    const char *line = strstr(head, "\r\n");

    while (line && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            snprintf(out, size, "%.*s", (int)strcspn(v, "\r\n"), v);
            return 1;
        }
        line = strstr(line, "\r\n");
    }
    return 0;
}

/*
 * GET path on c (connecting if needed).  RAW_COMPLETE with *status and
 * location when the whole answer arrived; RAW_NOT_SENT when no connection
 * could be made; RAW_UNCERTAIN (why says what happened) when the request
 * went out, or may have, and the answer did not arrive complete.
 */
static int raw_get(raw_conn *c, const char *path, long *status, char *location,
                   size_t location_size, char *why, size_t why_size, int *kind)
{
    char request[512], head[8192], value[64];
    size_t sent = 0, head_len, total;
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d"
                     "\r\nUser-Agent: test_clicks\r\n\r\n", path, c->port);
    char *end;
    int close_after;

    *status = 0;
    *kind = END_PARTIAL;
    location[0] = '\0';
    if (c->fd < 0 && raw_connect(c) != 0) {
        snprintf(why, why_size, "connect: %s", strerror(errno));
        return RAW_NOT_SENT;
    }
    while (sent < (size_t)n) {
        ssize_t w = send(c->fd, request + sent, (size_t)n - sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(why, why_size, "send: %s", strerror(errno));
            *kind = END_OTHER;
            raw_close(c);
            return RAW_UNCERTAIN;
        }
        sent += (size_t)w;
    }
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
        ssize_t got = raw_fill(c);
        if (got <= 0) {
            snprintf(why, why_size, "%s", got == 0 ? (c->len ? "connection closed "
                     "mid-headers" : "connection closed before any answer")
                     : strerror(errno));
            if (c->len == 0) {
                *kind = got == 0 ? END_EOF : errno == ECONNRESET ? END_RESET
                                                                : END_OTHER;
            }
            raw_close(c);
            return RAW_UNCERTAIN;
        }
    }
    head_len = (size_t)(end - c->buf) + 4;
    if (head_len >= sizeof head) {
        snprintf(why, why_size, "answer headers too long");
        raw_close(c);
        return RAW_UNCERTAIN;
    }
    memcpy(head, c->buf, head_len);
    head[head_len] = '\0';
    if (sscanf(head, "HTTP/1.%*d %ld", status) != 1) {
        snprintf(why, why_size, "bad status line: %.60s", head);
        raw_close(c);
        return RAW_UNCERTAIN;
    }
    raw_header(head, "Location", location, location_size);
    close_after = raw_header(head, "Connection", value, sizeof value)
                  && strcasestr(value, "close") != NULL;
    if (raw_header(head, "Content-Length", value, sizeof value)) {
        total = head_len + (size_t)strtoul(value, NULL, 10);
        if (raw_need(c, total, why, why_size) != 0) {
            raw_close(c);
            return RAW_UNCERTAIN;
        }
    }
    else if (raw_header(head, "Transfer-Encoding", value, sizeof value)
             && strcasestr(value, "chunked")) {
        size_t at = head_len;
        for (;;) {
            char *line_end;
            unsigned long size;

            while ((line_end = memmem(c->buf + at, c->len - at, "\r\n", 2)) == NULL) {
                if (raw_need(c, c->len + 1, why, why_size) != 0) {
                    raw_close(c);
                    return RAW_UNCERTAIN;
                }
            }
            size = strtoul(c->buf + at, NULL, 16);
            at = (size_t)(line_end - c->buf) + 2 + size + 2;
            if (raw_need(c, at, why, why_size) != 0) {
                raw_close(c);
                return RAW_UNCERTAIN;
            }
            if (size == 0) {
                break;
            }
        }
        total = at;
    }
    else {
        /* No length: the answer ends with the connection. */
        ssize_t got;
        while ((got = raw_fill(c)) > 0) {
        }
        if (got < 0) {
            snprintf(why, why_size, "%s", strerror(errno));
            raw_close(c);
            return RAW_UNCERTAIN;
        }
        total = c->len;
        close_after = 1;
    }
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    if (close_after) {
        raw_close(c);
    }
    return RAW_COMPLETE;
}

typedef struct load_set load_set;

typedef struct {
    load_set *set;
    int id;
    int started;
    pthread_t thread;
    long ok[LOAD_SLUG_COUNT];         /* complete 302s, right Location */
    long uncertain[LOAD_SLUG_COUNT];  /* sent; no complete answer */
    long not_sent;                    /* no connection: never reached httpd */
    long wrong;                       /* complete, but not the right 302 */
    long ended[LOAD_SLUG_COUNT][END_KINDS];   /* how the uncertain ones ended */
    char first_problem[512];
} load_client;

struct load_set {
    int port;
    int use_curl;           /* curl: resends like a browser (graceful test) */
    long per_client;        /* requests per client; 0: until stopped */
    long think_us;          /* pause between requests */
    const char *slugs[LOAD_SLUG_COUNT];
    char *paths[LOAD_SLUG_COUNT];
    char *urls[LOAD_SLUG_COUNT];
    int stop;               /* atomic */
    long progress;          /* atomic: complete 302s so far */
    long attempts;          /* atomic: requests so far */
    int clients;
    load_client client[8];
};

static void note_problem(load_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_problem(load_client *c, const char *fmt, ...)
{
    va_list ap;

    if (c->first_problem[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(c->first_problem, sizeof c->first_problem, fmt, ap);
        va_end(ap);
    }
}

static void *load_client_main(void *arg)
{
    load_client *c = arg;
    load_set *set = c->set;
    raw_conn *conn = calloc(1, sizeof *conn);
    http_client *curl = set->use_curl ? http_client_new(set->port) : NULL;
    long done = 0;
    int k = c->id;

    if (conn == NULL || (set->use_curl && curl == NULL)) {
        note_problem(c, "cannot make a client");
        c->not_sent++;
        free(conn);
        return NULL;
    }
    conn->fd = -1;
    conn->port = set->port;
    while (!__atomic_load_n(&set->stop, __ATOMIC_ACQUIRE)
           && (set->per_client == 0 || done < set->per_client)) {
        int s = k++ % LOAD_SLUG_COUNT;

        __atomic_add_fetch(&set->attempts, 1, __ATOMIC_RELAXED);
        if (curl) {
            http_response r;

            http_client_request(curl, "GET", NULL, set->paths[s], &r);
            if (r.curl_code == 0 && r.status == 302 && r.location
                && strcmp(r.location, set->urls[s]) == 0) {
                c->ok[s]++;
                __atomic_add_fetch(&set->progress, 1, __ATOMIC_RELAXED);
            }
            else {
                if (r.curl_code == 0) {
                    c->wrong++;
                }
                else {
                    c->uncertain[s]++;
                }
                note_problem(c, "GET %s: %ld, Location \"%s\" (transport: %s)",
                             set->paths[s], r.status, str_or_null(r.location),
                             r.curl_code ? r.error : "ok");
            }
            http_response_free(&r);
        }
        else {
            char location[512], why[160];
            long status;
            int kind;
            int rc = raw_get(conn, set->paths[s], &status, location, sizeof location,
                             why, sizeof why, &kind);

            if (rc == RAW_COMPLETE && status == 302
                && strcmp(location, set->urls[s]) == 0) {
                c->ok[s]++;
                __atomic_add_fetch(&set->progress, 1, __ATOMIC_RELAXED);
            }
            else if (rc == RAW_COMPLETE) {
                c->wrong++;
                note_problem(c, "GET %s: %ld, Location \"%s\"", set->paths[s],
                             status, location);
            }
            else if (rc == RAW_NOT_SENT) {
                c->not_sent++;
                note_problem(c, "GET %s: %s", set->paths[s], why);
                sleep_ms(10);
            }
            else {
                c->uncertain[s]++;
                c->ended[s][kind]++;
                note_problem(c, "GET %s: %s", set->paths[s], why);
            }
        }
        done++;
        if (set->think_us > 0) {
            sleep_ms(set->think_us / 1000);
            if (set->think_us % 1000) {
                usleep((useconds_t)(set->think_us % 1000));
            }
        }
    }
    raw_close(conn);
    free(conn);
    http_client_free(curl);
    return NULL;
}

static load_set *load_set_start(const char *const *slugs, int clients, long per_client,
                                long think_us, int use_curl)
{
    load_set *set = calloc(1, sizeof *set);
    int i;

    if (set == NULL) {
        abort();
    }
    set->port = g_srv->port;
    set->use_curl = use_curl;
    set->per_client = per_client;
    set->think_us = think_us;
    set->clients = clients;
    for (i = 0; i < LOAD_SLUG_COUNT; i++) {
        set->slugs[i] = slugs[i];
        set->paths[i] = xasprintf("/l/%s", slugs[i]);
        set->urls[i] = xasprintf("https://example.com/%s", slugs[i]);
    }
    for (i = 0; i < clients; i++) {
        load_client *c = &set->client[i];
        c->set = set;
        c->id = i;
        c->started = pthread_create(&c->thread, NULL, load_client_main, c) == 0;
    }
    return set;
}

static long load_progress(load_set *set)
{
    return __atomic_load_n(&set->progress, __ATOMIC_RELAXED);
}

/* Waits up to WAIT_MS until `count` more complete 302s than `from`. */
static int load_wait_progress(load_set *set, long from, long count)
{
    long start = now_ms();

    while (load_progress(set) < from + count) {
        if (now_ms() - start > WAIT_MS) {
            return 0;
        }
        sleep_ms(20);
    }
    return 1;
}

typedef struct {
    long ok[LOAD_SLUG_COUNT];
    long uncertain[LOAD_SLUG_COUNT];
    long ok_total, uncertain_total, not_sent, wrong;
    long ended[END_KINDS];
    long slug_ended[LOAD_SLUG_COUNT][END_KINDS];
    int not_started;
} load_result;

/* Stops (or waits for) the clients, adds up their counts, prints each
 * client's first problem, frees set. */
static void load_set_finish(load_set *set, int stop, load_result *res)
{
    int i, s;

    memset(res, 0, sizeof *res);
    if (stop) {
        __atomic_store_n(&set->stop, 1, __ATOMIC_RELEASE);
    }
    for (i = 0; i < set->clients; i++) {
        load_client *c = &set->client[i];

        if (c->started) {
            pthread_join(c->thread, NULL);
        }
        else {
            res->not_started++;
        }
        for (s = 0; s < LOAD_SLUG_COUNT; s++) {
            res->ok[s] += c->ok[s];
            res->uncertain[s] += c->uncertain[s];
            res->ok_total += c->ok[s];
            res->uncertain_total += c->uncertain[s];
        }
        res->not_sent += c->not_sent;
        res->wrong += c->wrong;
        for (s = 0; s < LOAD_SLUG_COUNT; s++) {
            int k;
            for (k = 0; k < END_KINDS; k++) {
                res->ended[k] += c->ended[s][k];
                res->slug_ended[s][k] += c->ended[s][k];
            }
        }
        if (c->first_problem[0]) {
            fprintf(stderr, "\n    load client %d: first problem: %s\n", i,
                    c->first_problem);
        }
    }
    for (s = 0; s < LOAD_SLUG_COUNT; s++) {
        free(set->paths[s]);
        free(set->urls[s]);
    }
    free(set);
}

/* The links' current clicks in the database, after a forced flush. */
static void db_baseline_at(int line, const char *const *slugs, long *baseline, int n)
{
    int i;

    json_decref(admin_link_at(line, slugs[0]));
    for (i = 0; i < n; i++) {
        baseline[i] = db_clicks(slugs[i]);
        check_at(line, baseline[i] >= 0, "cannot read links.clicks of %s", slugs[i]);
    }
}

/* ------------------------------------------------------------------ */
/* the servers                                                        */
/* ------------------------------------------------------------------ */

static const char *const graceful_slugs[LOAD_SLUG_COUNT] = { "g0", "g1", "g2", "g3", "g4" };
static const char *const kill_slugs[LOAD_SLUG_COUNT] = { "k0", "k1", "k2", "k3", "k4" };
static const char *const refresher_slugs[LOAD_SLUG_COUNT] = { "r0", "r1", "r2", "r3", "r4" };

/*
 * A server on mpm with MinilinkFlushInterval flush and the links given
 * (slug -> https://example.com/<slug>; those named in disabled are
 * disabled).  Sets g_srv to it; NULL (g_srv NULL) on failure.
 */
static httpd_server *start_clicks_server(const char *mpm, int flush,
                                         const char *const *slugs, int n,
                                         const char *disabled)
{
    link_spec links[MAX_SLUGS];
    char *urls[MAX_SLUGS], *config, *db;
    int i, rc;

    g_srv = httpd_new(mpm);
    if (g_srv == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        urls[i] = xasprintf("https://example.com/%s", slugs[i]);
        links[i] = (link_spec){ slugs[i], urls[i], 0, 0,
                                disabled && strcmp(disabled, slugs[i]) == 0 };
    }
    db = path_of("links.db");
    g_clicks.created_lo = now_sec();
    rc = db_store_links(db, links, (size_t)n);
    g_clicks.created_hi = now_sec();
    for (i = 0; i < n; i++) {
        free(urls[i]);
    }
    free(db);
    httpd_load_module(g_srv, "status_module", "mod_status.so");
    config = xasprintf(clicks_config_format, flush);
    g_clicks.started = now_sec();
    if (rc != 0 || httpd_write_config(g_srv, config) != 0 || httpd_start(g_srv) != 0) {
        fprintf(stderr, "clicks (%s): cannot start httpd\n", mpm);
        httpd_free(g_srv);
        g_srv = NULL;
    }
    free(config);
    return g_srv;
}

/* ------------------------------------------------------------------ */
/* 1. what counts                                                     */
/* ------------------------------------------------------------------ */

#define RULE_CLICKS 7

static void test_counting_rule(void)
{
    http_client *client = http_client_new(g_srv->port);
    long before = tally_of("a")->clicks, t, last_flush, waited;
    json_t *link, *totals;
    int i;

    CHECK(client != NULL, "cannot make a curl client");
    CHECK(db_clicks("a") == before, "links.clicks of a is %ld before the test, "
          "expected %ld", db_clicks("a"), before);
    for (i = 0; client && i < RULE_CLICKS; i++) {
        CLICK(client, "a");   /* one keep-alive connection */
    }
    http_client_free(client);

    /* Not clicks. */
    for (i = 0; i < 3; i++) {
        EXPECT("HEAD", NULL, "/l/a", 302, "https://example.com/a");
        g_clicks.hits++;
    }
    for (i = 0; i < 2; i++) {
        GET("/l/nosuch", 404, NULL);
        g_clicks.misses++;
        GET("/l/off", 410, NULL);
        g_clicks.hits++;
    }
    GET("/l/a+", 200, NULL);      /* the preview reads the file: no lookup */
    GET("/l/a.b", 404, NULL);     /* not a slug: no lookup either */

    /* Flushed by the admin page before it answers. */
    link = admin_link_at(__LINE__, "a");
    CHECK(JSON_INT("/admin/links/a", link, "clicks") == before + RULE_CLICKS,
          "/admin/links/a: clicks %ld, expected %ld (GETs %d, HEADs, 404s, 410s "
          "and a preview that must not count)",
          JSON_INT("/admin/links/a", link, "clicks"), before + RULE_CLICKS, RULE_CLICKS);
    json_decref(link);
    CHECK(db_clicks("a") == before + RULE_CLICKS, "links.clicks of a: %ld after a "
          "forced flush, expected %ld", db_clicks("a"), before + RULE_CLICKS);
    CHECK(db_clicks("off") == 0, "links.clicks of the disabled link: %ld, "
          "expected 0 (410s are not clicks)", db_clicks("off"));
    CHECK(db_click_total() == tally_total(), "sum of links.clicks: %ld, expected %ld",
          db_click_total(), tally_total());

    /* Nothing more arrives with the refresher's next flushes. */
    totals = get_json_at(__LINE__, "/admin/");
    last_flush = JSON_INT("/admin/", totals, "last_flush");
    json_decref(totals);
    t = now_ms();
    for (waited = -1; now_ms() - t < WAIT_MS; sleep_ms(POLL_MS)) {
        long flush;
        totals = get_json_at(__LINE__, "/admin/");
        flush = JSON_INT("/admin/", totals, "last_flush");
        json_decref(totals);
        if (flush > last_flush) {
            waited = now_ms() - t;
            break;
        }
    }
    CHECK(waited >= 0, "last_flush still %ld after %d ms (MinilinkFlushInterval 1)",
          last_flush, WAIT_MS);
    CHECK(db_clicks("a") == before + RULE_CLICKS, "links.clicks of a: %ld after "
          "the refresher's next flushes, expected %ld", db_clicks("a"),
          before + RULE_CLICKS);
    CHECK(db_clicks("off") == 0, "links.clicks of off: %ld, expected 0",
          db_clicks("off"));
    fprintf(stderr, "[next flushes seen after %ld ms] ", waited);
}

/* ------------------------------------------------------------------ */
/* 1b. MinilinkClicks Off                                             */
/* ------------------------------------------------------------------ */

#define QUIET_GETS 5

static void test_clicks_off(void)
{
    long before = tally_of("q")->clicks;
    json_t *link;
    int i;

    for (i = 0; i < QUIET_GETS; i++) {
        GET("/quiet/q", 302, "https://example.com/q");
        g_clicks.hits++;                /* a lookup all the same */
    }
    CLICK(NULL, "q");                   /* where counting is on, it counts */

    /* Flushed by the admin page before it answers. */
    link = admin_link_at(__LINE__, "q");
    CHECK(JSON_INT("/admin/links/q", link, "clicks") == before + 1,
          "/admin/links/q: clicks %ld, expected %ld (%d GETs under "
          "MinilinkClicks Off must not count, 1 under /l must)",
          JSON_INT("/admin/links/q", link, "clicks"), before + 1, QUIET_GETS);
    json_decref(link);
    CHECK(db_clicks("q") == before + 1, "links.clicks of q: %ld after a forced "
          "flush, expected %ld", db_clicks("q"), before + 1);
}

/* ------------------------------------------------------------------ */
/* 9. the access log's slug note and variable                         */
/* ------------------------------------------------------------------ */

/* Lines of access.log equal to text. */
static int access_lines(const char *text)
{
    char *path = path_of("access.log"), *log = file_read(path), *line = log;
    size_t len = strlen(text);
    int n = 0;

    while (*line) {
        char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t)(end - line) : strlen(line);
        if (line_len == len && strncmp(line, text, len) == 0) {
            n++;
        }
        if (end == NULL) {
            break;
        }
        line = end + 1;
    }
    free(log);
    free(path);
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
    CHECK(before[0] >= RULE_CLICKS, "access.log has %d lines \"%s\" before this "
          "test; the counting test made %d such requests", before[0], lines[0],
          RULE_CLICKS);
    CLICK(NULL, "a");
    GET("/l/nosuch", 404, NULL);
    g_clicks.misses++;
    GET("/l/a.b", 404, NULL);
    /* Logged after the answer is sent: wait for the lines. */
    for (t = now_ms(); !done && now_ms() - t < WAIT_MS; ) {
        done = 1;
        for (i = 0; i < 3; i++) {
            now[i] = access_lines(lines[i]);
            done &= now[i] >= before[i] + 1;
        }
        if (!done) {
            sleep_ms(50);
        }
    }
    for (i = 0; i < 3; i++) {
        CHECK(now[i] == before[i] + 1, "access.log: %d lines \"%s\" after the "
              "request, expected %d", now[i], lines[i], before[i] + 1);
    }
    if (!done) {
        char *path = path_of("access.log"), *log = file_read(path);
        fprintf(stderr, "\n---- %s ----\n%s---- end ----\n", path, log);
        free(log);
        free(path);
    }
}

/* ------------------------------------------------------------------ */
/* 6. mod_status                                                      */
/* ------------------------------------------------------------------ */

static void check_status_page(int line, long links_cached)
{
    char *body = get_body_at(line, "/server-status?auto", "text/plain");
    char *db = path_of("links.db"), *database = status_field(body, "MinilinkDatabase");
    long lookups, hits, misses, clicks, used, total, refresh, flush, now;
    unsigned int failures = CU_get_number_of_failures();

    check_at(line, database && strcmp(database, db) == 0,
             "MinilinkDatabase: \"%s\", expected \"%s\"", str_or_null(database), db);
    check_at(line, status_int_at(line, body, "MinilinkLinksCached") == links_cached,
             "MinilinkLinksCached: %ld, expected %ld", status_int_at(line, body,
             "MinilinkLinksCached"), links_cached);
    lookups = status_int_at(line, body, "MinilinkLookups");
    hits = status_int_at(line, body, "MinilinkHits");
    misses = status_int_at(line, body, "MinilinkMisses");
    clicks = status_int_at(line, body, "MinilinkClicks");
    used = status_int_at(line, body, "MinilinkCacheBytesUsed");
    total = status_int_at(line, body, "MinilinkCacheBytesTotal");
    refresh = status_int_at(line, body, "MinilinkLastRefresh");
    flush = status_int_at(line, body, "MinilinkLastFlush");
    now = now_sec();
    check_at(line, lookups == hits + misses, "MinilinkLookups %ld != MinilinkHits "
             "%ld + MinilinkMisses %ld", lookups, hits, misses);
    check_at(line, hits == g_clicks.hits, "MinilinkHits: %ld, expected %ld (lookups "
             "of existing slugs made by this suite)", hits, g_clicks.hits);
    check_at(line, misses == g_clicks.misses, "MinilinkMisses: %ld, expected %ld "
             "(lookups of valid slugs that do not exist)", misses, g_clicks.misses);
    check_at(line, clicks == tally_total(), "MinilinkClicks: %ld, expected %ld",
             clicks, tally_total());
    check_at(line, used > 0 && total > 0 && used <= total, "MinilinkCacheBytesUsed "
             "%ld, MinilinkCacheBytesTotal %ld: expected 0 < used <= total", used, total);
    check_at(line, refresh >= now - 10 && refresh <= now, "MinilinkLastRefresh: %ld, "
             "expected within 10 s of now (%ld); the refresher looks every second",
             refresh, now);
    check_at(line, flush >= g_clicks.started && flush >= now - 10 && flush <= now,
             "MinilinkLastFlush: %ld, expected within 10 s of now (%ld) and after the "
             "start (%ld)", flush, now, g_clicks.started);
    check_at(line, status_int_at(line, body, "MinilinkRefreshErrors") == 0,
             "MinilinkRefreshErrors: %ld, expected 0",
             status_int_at(line, body, "MinilinkRefreshErrors"));
    check_at(line, status_int_at(line, body, "MinilinkFlushErrors") == 0,
             "MinilinkFlushErrors: %ld, expected 0",
             status_int_at(line, body, "MinilinkFlushErrors"));
    if (CU_get_number_of_failures() != failures) {
        fprintf(stderr, "\n---- /server-status?auto ----\n%s---- end ----\n",
                str_or_null(body));
    }
    free(database);
    free(db);
    free(body);
}

static void test_status(void)
{
    char *html, *db = path_of("links.db"), *heading;
    long links = db_link_count();

    CHECK(links == g_clicks.links, "the database holds %ld links, expected %d",
          links, g_clicks.links);
    check_status_page(__LINE__, g_clicks.links);

    /* One more hit (a click) and one more miss, and the page follows. */
    CLICK(NULL, "c");
    GET("/l/nosuch2", 404, NULL);
    g_clicks.misses++;
    check_status_page(__LINE__, g_clicks.links);

    html = get_body_at(__LINE__, "/server-status", "text/html");
    heading = xasprintf("<h2>minilink: %s</h2>", db);
    CHECK(html && strstr(html, heading) != NULL, "/server-status has no \"%s\" "
          "section:\n%.3000s", heading, str_or_null(html));
    CHECK(html && strstr(html, "lookups / hits / misses") != NULL,
          "/server-status: the minilink section has no lookups row");
    free(heading);
    free(html);
    free(db);
}

/* ------------------------------------------------------------------ */
/* 7. the admin JSON                                                  */
/* ------------------------------------------------------------------ */

/* The two most clicked slugs by the tally (clicks, then slug). */
static void tally_top2(const slug_tally **first, const slug_tally **second)
{
    int i;

    *first = *second = NULL;
    for (i = 0; i < g_clicks.slugs; i++) {
        const slug_tally *t = &g_clicks.slug[i];
        if (*first == NULL || t->clicks > (*first)->clicks
            || (t->clicks == (*first)->clicks && strcmp(t->slug, (*first)->slug) < 0)) {
            *second = *first;
            *first = t;
        }
        else if (*second == NULL || t->clicks > (*second)->clicks
                 || (t->clicks == (*second)->clicks
                     && strcmp(t->slug, (*second)->slug) < 0)) {
            *second = t;
        }
    }
}

static void test_admin_json(void)
{
    char *db = path_of("links.db");
    const slug_tally *first, *second;
    const slug_tally *a;
    json_t *totals, *link, *top, *links;
    http_response r;
    long now, v;
    int i;

    /* b becomes the second most clicked, with fewer clicks than a. */
    for (i = 0; i < 3; i++) {
        CLICK(NULL, "b");
    }
    a = tally_of("a");

    totals = get_json_at(__LINE__, "/admin/");
    now = now_sec();
    CHECK(strcmp(JSON_STR("/admin/", totals, "database"), db) == 0,
          "/admin/: database \"%s\", expected \"%s\"",
          JSON_STR("/admin/", totals, "database"), db);
    CHECK(JSON_INT("/admin/", totals, "links_cached") == g_clicks.links,
          "/admin/: links_cached %ld, expected %d",
          JSON_INT("/admin/", totals, "links_cached"), g_clicks.links);
    /* 25% headroom of 19 links is less than the least spare room, 1024. */
    CHECK(JSON_INT("/admin/", totals, "link_capacity") == g_clicks.links + 1024,
          "/admin/: link_capacity %ld, expected %d (the links + 1024 spare)",
          JSON_INT("/admin/", totals, "link_capacity"), g_clicks.links + 1024);
    v = JSON_INT("/admin/", totals, "cache_bytes_used");
    CHECK(v > 0 && v <= JSON_INT("/admin/", totals, "cache_bytes_total"),
          "/admin/: cache_bytes_used %ld, cache_bytes_total %ld", v,
          JSON_INT("/admin/", totals, "cache_bytes_total"));
    CHECK(JSON_INT("/admin/", totals, "hits") == g_clicks.hits,
          "/admin/: hits %ld, expected %ld", JSON_INT("/admin/", totals, "hits"),
          g_clicks.hits);
    CHECK(JSON_INT("/admin/", totals, "misses") == g_clicks.misses,
          "/admin/: misses %ld, expected %ld", JSON_INT("/admin/", totals, "misses"),
          g_clicks.misses);
    CHECK(JSON_INT("/admin/", totals, "lookups") == g_clicks.hits + g_clicks.misses,
          "/admin/: lookups %ld, expected %ld", JSON_INT("/admin/", totals, "lookups"),
          g_clicks.hits + g_clicks.misses);
    CHECK(JSON_INT("/admin/", totals, "clicks") == tally_total(),
          "/admin/: clicks %ld, expected %ld", JSON_INT("/admin/", totals, "clicks"),
          tally_total());
    v = JSON_INT("/admin/", totals, "clicks_pending");
    CHECK(v >= 0 && v <= g_clicks.since_flush, "/admin/: clicks_pending %ld, "
          "expected 0 to %ld (the clicks since the last forced flush)", v,
          g_clicks.since_flush);
    v = JSON_INT("/admin/", totals, "last_refresh");
    CHECK_TIME("/admin/: last_refresh", v, now - 10, now);
    v = JSON_INT("/admin/", totals, "last_flush");
    CHECK_TIME("/admin/: last_flush", v, now - 10, now);
    CHECK(JSON_INT("/admin/", totals, "errors") == 0, "/admin/: errors %ld",
          JSON_INT("/admin/", totals, "errors"));
    json_decref(totals);

    link = admin_link_at(__LINE__, "a");
    CHECK(strcmp(JSON_STR("/admin/links/a", link, "slug"), "a") == 0,
          "/admin/links/a: slug \"%s\"", JSON_STR("/admin/links/a", link, "slug"));
    CHECK(strcmp(JSON_STR("/admin/links/a", link, "url"), "https://example.com/a") == 0,
          "/admin/links/a: url \"%s\"", JSON_STR("/admin/links/a", link, "url"));
    CHECK(JSON_INT("/admin/links/a", link, "status") == 0, "/admin/links/a: status "
          "%ld, expected 0 (the location's)", JSON_INT("/admin/links/a", link, "status"));
    CHECK(JSON_INT("/admin/links/a", link, "expires_at") == 0, "/admin/links/a: "
          "expires_at %ld, expected 0", JSON_INT("/admin/links/a", link, "expires_at"));
    CHECK(link && json_is_false(json_object_get(link, "disabled")),
          "/admin/links/a: disabled is not false");
    v = JSON_INT("/admin/links/a", link, "created_at");
    CHECK_TIME("/admin/links/a: created_at", v, g_clicks.created_lo, g_clicks.created_hi);
    CHECK(JSON_INT("/admin/links/a", link, "clicks") == a->clicks,
          "/admin/links/a: clicks %ld, expected %ld",
          JSON_INT("/admin/links/a", link, "clicks"), a->clicks);
    v = JSON_INT("/admin/links/a", link, "last_click_at");
    CHECK_TIME("/admin/links/a: last_click_at (the time of the last GET)", v,
               a->last_lo, a->last_hi);
    CHECK(v == db_last_click("a"), "/admin/links/a: last_click_at %ld, the "
          "database's %ld", v, db_last_click("a"));
    json_decref(link);

    link = admin_link_at(__LINE__, "off");
    CHECK(link && json_is_true(json_object_get(link, "disabled")),
          "/admin/links/off: disabled is not true");
    CHECK(JSON_INT("/admin/links/off", link, "clicks") == 0,
          "/admin/links/off: clicks %ld", JSON_INT("/admin/links/off", link, "clicks"));
    CHECK(JSON_INT("/admin/links/off", link, "last_click_at") == 0,
          "/admin/links/off: last_click_at %ld",
          JSON_INT("/admin/links/off", link, "last_click_at"));
    json_decref(link);

    tally_top2(&first, &second);
    top = get_json_at(__LINE__, "/admin/top?n=2");
    links = top ? json_object_get(top, "links") : NULL;
    if (CHECK(links && json_is_array(links) && json_array_size(links) == 2,
              "/admin/top?n=2: \"links\" is not an array of 2")) {
        const slug_tally *want[2] = { first, second };
        for (i = 0; i < 2; i++) {
            json_t *entry = json_array_get(links, (size_t)i);
            const char *slug = JSON_STR("/admin/top?n=2", entry, "slug");
            long clicks = JSON_INT("/admin/top?n=2", entry, "clicks");
            CHECK(strcmp(slug, want[i]->slug) == 0 && clicks == want[i]->clicks,
                  "/admin/top?n=2: #%d is %s with %ld clicks, expected %s with %ld",
                  i + 1, slug, clicks, want[i]->slug, want[i]->clicks);
        }
    }
    json_decref(top);

    GET("/admin/links/nosuch", 404, NULL);
    expect_at(__LINE__, "POST", NULL, "/admin/", 405, NULL, &r);
    CHECK(r.allow && strstr(r.allow, "GET") != NULL, "POST /admin/: Allow \"%s\"",
          str_or_null(r.allow));
    http_response_free(&r);
    free(db);
}

/* ------------------------------------------------------------------ */
/* 8. metrics                                                         */
/* ------------------------------------------------------------------ */

/* The sample of metric name for this database, checked with its HELP and
 * TYPE lines; -1 if missing. */
static long metric_at(int line, const char *body, const char *name, const char *type,
                      const char *db)
{
    char *help = xasprintf("# HELP %s ", name);
    char *type_line = xasprintf("# TYPE %s %s\n", name, type);
    char *sample = xasprintf("%s{database=\"%s\"} ", name, db);
    const char *p;
    long value = -1;

    check_at(line, body && strstr(body, help) != NULL,
             "/admin/metrics: no \"%s\" line", help);
    check_at(line, body && strstr(body, type_line) != NULL,
             "/admin/metrics: no \"%.*s\" line", (int)strlen(type_line) - 1, type_line);
    p = body ? strstr(body, sample) : NULL;
    if (check_at(line, p != NULL && (p == body || p[-1] == '\n'),
                 "/admin/metrics: no sample \"%s...\"", sample)) {
        char *end;
        value = strtol(p + strlen(sample), &end, 10);
        check_at(line, *end == '\n', "/admin/metrics: %s: not an integer", name);
    }
    free(help);
    free(type_line);
    free(sample);
    return value;
}

#define METRIC(body, name, type) metric_at(__LINE__, (body), (name), (type), db)

static void test_metrics(void)
{
    char *db = path_of("links.db"), *body;
    json_t *totals = get_json_at(__LINE__, "/admin/");
    long used = JSON_INT("/admin/", totals, "cache_bytes_used");
    long total = JSON_INT("/admin/", totals, "cache_bytes_total");
    long now, v;
    unsigned int failures = CU_get_number_of_failures();

    json_decref(totals);
    body = get_body_at(__LINE__, "/admin/metrics", "text/plain");
    now = now_sec();
    v = METRIC(body, "minilink_links_cached", "gauge");
    CHECK(v == g_clicks.links, "minilink_links_cached %ld, expected %d", v,
          g_clicks.links);
    v = METRIC(body, "minilink_cache_bytes_used", "gauge");
    CHECK(v == used, "minilink_cache_bytes_used %ld, /admin/ says %ld", v, used);
    v = METRIC(body, "minilink_cache_bytes_total", "gauge");
    CHECK(v == total && v >= used, "minilink_cache_bytes_total %ld, /admin/ says %ld",
          v, total);
    v = METRIC(body, "minilink_lookups_total", "counter");
    CHECK(v == g_clicks.hits + g_clicks.misses, "minilink_lookups_total %ld, "
          "expected %ld", v, g_clicks.hits + g_clicks.misses);
    v = METRIC(body, "minilink_hits_total", "counter");
    CHECK(v == g_clicks.hits, "minilink_hits_total %ld, expected %ld", v, g_clicks.hits);
    v = METRIC(body, "minilink_misses_total", "counter");
    CHECK(v == g_clicks.misses, "minilink_misses_total %ld, expected %ld", v,
          g_clicks.misses);
    v = METRIC(body, "minilink_clicks_total", "counter");
    CHECK(v == tally_total(), "minilink_clicks_total %ld, expected %ld", v,
          tally_total());
    v = METRIC(body, "minilink_last_refresh_timestamp_seconds", "gauge");
    CHECK_TIME("minilink_last_refresh_timestamp_seconds", v, now - 10, now);
    v = METRIC(body, "minilink_last_flush_timestamp_seconds", "gauge");
    CHECK_TIME("minilink_last_flush_timestamp_seconds", v, now - 10, now);
    v = METRIC(body, "minilink_refresh_errors_total", "counter");
    CHECK(v == 0, "minilink_refresh_errors_total %ld", v);
    v = METRIC(body, "minilink_flush_errors_total", "counter");
    CHECK(v == 0, "minilink_flush_errors_total %ld", v);
    if (CU_get_number_of_failures() != failures) {
        fprintf(stderr, "\n---- /admin/metrics ----\n%s---- end ----\n",
                str_or_null(body));
    }
    free(body);
    free(db);
}

/* ------------------------------------------------------------------ */
/* 10. the CLI                                                        */
/* ------------------------------------------------------------------ */

static void test_cli_stats(void)
{
    const char *stats_a[] = { "stats", "a", NULL };
    const char *stats_top[] = { "stats", "--top", "2", NULL };
    const slug_tally *first, *second;
    char *output = NULL, *want, *want_top;
    int rc;

    FORCE_FLUSH();
    rc = cli_run(stats_a, &output);
    want = xasprintf("clicks: %ld\n", tally_of("a")->clicks);
    CHECK(rc == 0 && output && strstr(output, want) != NULL,
          "minilink stats a exited %d: \"%s\"; expected a line \"%.*s\"", rc,
          str_or_null(output), (int)strlen(want) - 1, want);
    free(want);
    free(output);

    tally_top2(&first, &second);
    rc = cli_run(stats_top, &output);
    want_top = xasprintf("%ld\t%s\thttps://example.com/%s\n%ld\t%s\thttps://example.com/%s\n",
                         first->clicks, first->slug, first->slug,
                         second->clicks, second->slug, second->slug);
    CHECK(rc == 0 && output && strcmp(output, want_top) == 0,
          "minilink stats --top 2 exited %d:\n%s\nexpected:\n%s", rc,
          str_or_null(output), want_top);
    free(want_top);
    free(output);
}

/* ------------------------------------------------------------------ */
/* 2. across graceful restarts                                        */
/* ------------------------------------------------------------------ */

static void test_graceful(void)
{
    long baseline[LOAD_SLUG_COUNT], expected[LOAD_SLUG_COUNT];
    long graceful_ms[3] = { 0, 0, 0 }, at_start[3] = { 0, 0, 0 }, t, think_us, waited;
    long total_requests = (long)GRACEFUL_CLIENTS * GRACEFUL_REQUESTS;
    load_result res;
    load_set *set;
    int g, s;

    db_baseline_at(__LINE__, graceful_slugs, baseline, LOAD_SLUG_COUNT);
    /*
     * Paced so that the load lasts about twice as long as three graceful
     * restarts, whatever this machine's speed: one restart is timed first.
     */
    t = now_ms();
    CHECK(httpd_graceful(g_srv) == 0, "the timing graceful restart failed");
    t = now_ms() - t;
    think_us = t * 6 * 1000 / GRACEFUL_REQUESTS;
    if (think_us > 20000) {
        think_us = 20000;
    }

    set = load_set_start(graceful_slugs, GRACEFUL_CLIENTS, GRACEFUL_REQUESTS, think_us, 1);
    load_wait_progress(set, 0, total_requests / 10);
    for (g = 0; g < 3; g++) {
        at_start[g] = __atomic_load_n(&set->attempts, __ATOMIC_RELAXED);
        t = now_ms();
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1);
        graceful_ms[g] = now_ms() - t;
    }
    load_set_finish(set, 0, &res);
    fprintf(stderr, "[%s: %ld GETs, paced %ld us; graceful restarts %ld, %ld, %ld ms, "
            "began after %ld, %ld, %ld GETs] ", g_srv->mpm, res.ok_total, think_us,
            graceful_ms[0], graceful_ms[1], graceful_ms[2], at_start[0], at_start[1],
            at_start[2]);
    CHECK(res.not_started == 0, "%d clients could not start", res.not_started);
    for (g = 0; g < 3; g++) {
        CHECK(at_start[g] < total_requests, "the load was over before graceful "
              "restart %d began: the restarts were not under load", g + 1);
    }
    CHECK(res.ok_total == total_requests, "%ld of %ld GETs answered 302 with the "
          "right Location (%ld failed, %ld wrong)", res.ok_total, total_requests,
          res.uncertain_total + res.not_sent, res.wrong);
    for (s = 0; s < LOAD_SLUG_COUNT; s++) {
        expected[s] = baseline[s] + res.ok[s];
        tally_clicks(graceful_slugs[s], res.ok[s], 0, 0);
    }
    /* Written by the refresher within a second or so: no forced flush. */
    waited = wait_db_clicks_at(__LINE__, "after 3 graceful restarts", graceful_slugs,
                               expected, LOAD_SLUG_COUNT);
    if (waited >= 0) {
        fprintf(stderr, "[all %ld in the database %ld ms after the load] ",
                res.ok_total, waited);
    }
    CHECK(db_click_total() == tally_total(), "sum of links.clicks %ld, expected %ld",
          db_click_total(), tally_total());
}

/* ------------------------------------------------------------------ */
/* 4. a serving child killed with SIGKILL                             */
/* ------------------------------------------------------------------ */

static int kill_rounds(void)
{
    const char *env = getenv("MINILINK_CLICKS_KILL_ROUNDS");
    int n = env ? atoi(env) : 1;

    return n < 1 ? 1 : n > 100 ? 100 : n;
}

/*
 * Load on the kill slugs, SIGKILL to the child that served one of them
 * last (from pids.log, so never the refresher, which serves nothing), more
 * load on the children left and the one the parent starts, then a forced
 * flush: the database must gain every complete 302, plus at most the
 * requests the kill cut off (see the top of the file).
 */
static void test_child_killed(void)
{
    long baseline[LOAD_SLUG_COUNT], got[LOAD_SLUG_COUNT];
    pid_t refresher = refresher_pid_at(__LINE__);
    int rounds = kill_rounds(), round, s, exact_rounds = 0;
    long over_total = 0, uncertain_total = 0;

    for (round = 1; round <= rounds; round++) {
        long start, after_kill, diff = 0;
        load_result res;
        load_set *set;
        pid_t victim;
        int killed = 0;

        db_baseline_at(__LINE__, kill_slugs, baseline, LOAD_SLUG_COUNT);
        set = load_set_start(kill_slugs, LOAD_CLIENTS, 0, 0, 0);
        CHECK(load_wait_progress(set, 0, 300), "the load made fewer than 300 "
              "requests in %d ms", WAIT_MS);
        /* The child that served a /l/k* request last (pids.log is written
         * after each answer, so wait for one to show up there). */
        start = now_ms();
        while ((victim = serving_child("/l/k", refresher)) < 0
               && now_ms() - start < WAIT_MS) {
            sleep_ms(20);
        }
        if (CHECK(victim > 0, "no child of httpd %d in pids.log served /l/k*",
                  (int)g_srv->pid)) {
            killed = kill(victim, SIGKILL) == 0;
            CHECK(killed, "kill -9 %d: %s", (int)victim, strerror(errno));
        }
        after_kill = load_progress(set);
        CHECK(load_wait_progress(set, after_kill, 300), "fewer than 300 requests "
              "answered in %d ms after the kill", WAIT_MS);
        load_set_finish(set, 1, &res);
        CHECK(res.not_started == 0, "%d clients could not start", res.not_started);
        CHECK(res.wrong == 0, "%ld complete answers were not the right 302", res.wrong);

        /* After a forced flush: every complete 302, and nothing beyond the
         * requests cut off by the kill. */
        db_baseline_at(__LINE__, kill_slugs, got, LOAD_SLUG_COUNT);
        for (s = 0; s < LOAD_SLUG_COUNT; s++) {
            long delta = got[s] - baseline[s];
            CHECK(delta >= res.ok[s] && delta <= res.ok[s] + res.uncertain[s],
                  "kill round %d: links.clicks of %s went up by "
                  "%ld; %ld GETs got a complete 302 (%ld more were sent and got no "
                  "complete answer: %ld %s, %ld %s, %ld %s, %ld %s)", round,
                  kill_slugs[s], delta, res.ok[s], res.uncertain[s],
                  res.slug_ended[s][END_EOF], end_names[END_EOF],
                  res.slug_ended[s][END_RESET], end_names[END_RESET],
                  res.slug_ended[s][END_PARTIAL], end_names[END_PARTIAL],
                  res.slug_ended[s][END_OTHER], end_names[END_OTHER]);
            diff += delta - res.ok[s];
            /* The tally follows the database, so later tests stay exact. */
            tally_clicks(kill_slugs[s], delta, 0, 0);
        }
        exact_rounds += diff == 0;
        over_total += diff;
        uncertain_total += res.uncertain_total;
        fprintf(stderr, "[kill round %d (%s): child %d killed; %ld complete 302s, "
                "%ld uncertain (%ld %s, %ld %s, %ld %s, %ld %s), %ld not sent; "
                "database +%ld (%+ld)] ", round, g_srv->mpm, (int)victim,
                res.ok_total, res.uncertain_total, res.ended[END_EOF],
                end_names[END_EOF], res.ended[END_RESET], end_names[END_RESET],
                res.ended[END_PARTIAL], end_names[END_PARTIAL], res.ended[END_OTHER],
                end_names[END_OTHER], res.not_sent, res.ok_total + diff, diff);
    }
    if (rounds > 1) {
        fprintf(stderr, "[kill rounds (%s): %d of %d exact; %ld counted clicks "
                "without a complete answer, of %ld uncertain requests] ", g_srv->mpm,
                exact_rounds, rounds, over_total, uncertain_total);
    }
}

/* ------------------------------------------------------------------ */
/* 5. the refresher killed with SIGKILL                               */
/* ------------------------------------------------------------------ */

static void test_refresher_killed(void)
{
    long baseline[LOAD_SLUG_COUNT], expected[LOAD_SLUG_COUNT], after, t, waited;
    int deaths = httpd_error_log_count(g_srv, "ML00023"), s;
    pid_t old_pid = refresher_pid_at(__LINE__), new_pid, parent;
    load_result res;
    load_set *set;
    char *line;

    db_baseline_at(__LINE__, refresher_slugs, baseline, LOAD_SLUG_COUNT);
    set = load_set_start(refresher_slugs, LOAD_CLIENTS, 0, 0, 0);
    CHECK(load_wait_progress(set, 0, 300), "the load made fewer than 300 requests "
          "in %d ms", WAIT_MS);
    if (old_pid > 0) {
        CHECK(kill(old_pid, SIGKILL) == 0, "kill -9 %d: %s", (int)old_pid,
              strerror(errno));
    }
    t = now_ms();
    waited = httpd_error_log_wait(g_srv, "ML00023", deaths, WAIT_MS);
    CHECK(waited >= 0, "no ML00023 line within %d ms of killing the refresher %d",
          WAIT_MS, (int)old_pid);
    after = load_progress(set);
    CHECK(load_wait_progress(set, after, 300), "fewer than 300 requests answered "
          "in %d ms after the refresher came back", WAIT_MS);
    load_set_finish(set, 1, &res);
    CHECK(res.not_started == 0, "%d clients could not start", res.not_started);
    CHECK(res.uncertain_total == 0 && res.not_sent == 0 && res.wrong == 0,
          "with only the refresher killed: %ld requests without a complete answer, "
          "%ld not sent, %ld wrong", res.uncertain_total, res.not_sent, res.wrong);

    /* No forced flush: the new refresher writes them. */
    for (s = 0; s < LOAD_SLUG_COUNT; s++) {
        expected[s] = baseline[s] + res.ok[s];
        tally_clicks(refresher_slugs[s], res.ok[s], 0, 0);
    }
    waited = wait_db_clicks_at(__LINE__, "refresher killed", refresher_slugs,
                               expected, LOAD_SLUG_COUNT);
    line = httpd_error_log_last_line(g_srv, "ML00027");
    new_pid = line_pid(line);
    parent = new_pid > 0 ? process_parent(new_pid) : -1;
    CHECK(new_pid > 0 && new_pid != old_pid && new_pid != g_srv->pid
          && parent == g_srv->pid, "the last ML00027 (clicks written) line is not "
          "from a new refresher (old %d, parent %d): %s", (int)old_pid,
          (int)g_srv->pid, str_or_null(line));
    fprintf(stderr, "[refresher %d killed; ML00023 after %ld ms; %ld GETs; written "
            "by %d %ld ms after the load] ", (int)old_pid, now_ms() - t, res.ok_total,
            (int)new_pid, waited);
    free(line);
}

/* ------------------------------------------------------------------ */
/* 3. across a stop (a server of its own)                             */
/* ------------------------------------------------------------------ */

#define STOP_X 15
#define STOP_Y 10

static void test_stop(void)
{
    static const char *const slugs[] = { "x", "y" };
    httpd_server *main_srv = g_srv, *srv;
    unsigned int failures = g_failures_at_init;
    long created_lo = g_clicks.created_lo, created_hi = g_clicks.created_hi;
    long started = g_clicks.started;
    http_client *client;
    json_t *totals;
    long lo, hi;
    int i, left;

    g_failures_at_init = CU_get_number_of_failures();
    srv = start_clicks_server(main_srv->mpm, 60, slugs, 2, NULL);
    g_clicks.created_lo = created_lo;
    g_clicks.created_hi = created_hi;
    g_clicks.started = started;
    if (!CHECK(srv != NULL, "cannot start a server with MinilinkFlushInterval 60")) {
        g_srv = main_srv;
        g_failures_at_init = failures;
        return;
    }
    client = http_client_new(srv->port);
    lo = now_sec();
    for (i = 0; i < STOP_X + STOP_Y; i++) {
        http_response r;
        const char *slug = i < STOP_X ? "x" : "y";
        char *path = xasprintf("/l/%s", slug);

        http_client_request(client, "GET", NULL, path, &r);
        CHECK(r.curl_code == 0 && r.status == 302, "GET %s: %ld (%s)", path, r.status,
              r.curl_code ? r.error : "ok");
        http_response_free(&r);
        free(path);
    }
    hi = now_sec();
    http_client_free(client);

    /* In memory only: no flush before 60 s. */
    totals = get_json_at(__LINE__, "/admin/");
    CHECK(JSON_INT("/admin/", totals, "clicks") == STOP_X + STOP_Y
          && JSON_INT("/admin/", totals, "clicks_pending") == STOP_X + STOP_Y,
          "/admin/: clicks %ld, clicks_pending %ld; expected %d and %d",
          JSON_INT("/admin/", totals, "clicks"),
          JSON_INT("/admin/", totals, "clicks_pending"), STOP_X + STOP_Y,
          STOP_X + STOP_Y);
    json_decref(totals);
    CHECK(db_click_total() == 0, "links.clicks add up to %ld before the stop, "
          "expected 0 (MinilinkFlushInterval 60)", db_click_total());

    left = httpd_stop_clean(srv);
    CHECK(left == 0, "stopping httpd: %d process(es) did not stop on SIGTERM", left);
    CHECK(db_clicks("x") == STOP_X && db_clicks("y") == STOP_Y,
          "after the stop: links.clicks x %ld, y %ld; expected %d and %d",
          db_clicks("x"), db_clicks("y"), STOP_X, STOP_Y);
    CHECK_TIME("after the stop: last_click_at of y", db_last_click("y"), lo, hi);
    CHECK(httpd_error_log_count(srv, "ML00027") >= 1, "no ML00027 (clicks written) "
          "line at the stop");
    CHECK(httpd_error_log_count(srv, "ML00025") == 0, "ML00025 (clicks cannot be "
          "written) at the stop");
    EXPECT_ERROR_LOG_CLEAN();
    if (CU_get_number_of_failures() != g_failures_at_init) {
        httpd_error_log_dump(srv);
    }
    httpd_free(srv);
    g_srv = main_srv;
    g_failures_at_init = failures;
}

/* ------------------------------------------------------------------ */
/* 11. last: nothing crashed, and the stop writes every click         */
/* ------------------------------------------------------------------ */

static void test_clean_log_and_stop(void)
{
    int left;

    EXPECT_ERROR_LOG_CLEAN();
    CHECK(httpd_error_log_count(g_srv, "ML00025") == 0, "%d ML00025 lines (clicks "
          "cannot be written)", httpd_error_log_count(g_srv, "ML00025"));
    left = httpd_stop_clean(g_srv);
    CHECK(left == 0, "stopping httpd: %d process(es) did not stop on SIGTERM", left);
    CHECK(db_click_total() == tally_total(), "after the stop the links' clicks add "
          "up to %ld, expected %ld", db_click_total(), tally_total());
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
    { "error log clean; the stop writes every click", test_clean_log_and_stop },
    CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* suites                                                             */
/* ------------------------------------------------------------------ */

static int clicks_init(const char *mpm)
{
    const char *slugs[MAX_SLUGS];
    int n = 0, i;

    memset(&g_clicks, 0, sizeof g_clicks);
    g_failures_at_init = CU_get_number_of_failures();
    slugs[n++] = "a";
    slugs[n++] = "b";
    slugs[n++] = "c";
    slugs[n++] = "off";
    slugs[n++] = "q";
    for (i = 0; i < LOAD_SLUG_COUNT; i++) {
        slugs[n++] = graceful_slugs[i];
        slugs[n++] = kill_slugs[i];
        slugs[n++] = refresher_slugs[i];
    }
    g_clicks.links = n;
    if (start_clicks_server(mpm, 1, slugs, n, "off") == NULL) {
        g_tests_not_run += count_tests(clicks_tests);
        return -1;
    }
    for (i = 0; i < n; i++) {
        tally_of(slugs[i]);
    }
    return 0;
}

static int init_clicks_event(void) { return clicks_init("event"); }
static int init_clicks_worker(void) { return clicks_init("worker"); }
static int init_clicks_prefork(void) { return clicks_init("prefork"); }

static CU_SuiteInfo clicks_suites[] = {
    { "clicks-event", init_clicks_event, suite_cleanup, NULL, NULL, clicks_tests },
    { "clicks-worker", init_clicks_worker, suite_cleanup, NULL, NULL, clicks_tests },
    { "clicks-prefork", init_clicks_prefork, suite_cleanup, NULL, NULL, clicks_tests },
    CU_SUITE_INFO_NULL,
};

void add_clicks_suites(void)
{
    if (CU_register_suites(clicks_suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot register the clicks suites: %s\n",
                CU_get_error_msg());
    }
}
