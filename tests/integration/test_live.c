/*
 * test_live.c - a running mod_minilink keeps up with its database, and
 * creates links over HTTP.
 *
 * Suites "live-event", "live-worker" and "live-prefork" run the same tests
 * (live_tests), each on a server of its own with MinilinkRefreshInterval 1:
 * changes made with the minilink command or plain SQL are served without a
 * restart; the form and the JSON API create links (CSRF, validation, the
 * rate limit, Basic auth on POST); previews; a killed refresher is
 * replaced; graceful restarts under load while links are being added.
 * Suite "live-overflow" (event MPM) fills a table past its room and checks
 * that no link is lost.
 *
 * "Served within the refresh interval" is checked by polling: up to
 * WAIT_MS, every POLL_MS, never a fixed sleep and one look; each wait
 * prints what it took, e.g. "[CLI add -> 302: 612 ms]".
 *
 * The minilink command is run with cli_run() (ml_test.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "ml_test.h"

/* The bounded wait for a change to be served.  The refresher looks every
 * second; the slack covers a loaded 2-core machine. */
#define WAIT_MS 5000
#define POLL_MS 100

/* MinilinkCreateRateLimit on /l, in the configuration below. */
#define RATE_LIMIT 5
#define RATE_PERIOD 60

#define AUTH_USER "alice"
#define AUTH_PASSWORD "wonderland"
#define SERVER_NAME "go.live.test"

/*
 * One virtual host (the default one for 127.0.0.1:PORT, so requests
 * without a Host header land here).  /l creates links for anyone, with a
 * blocked host and a rate limit of RATE_LIMIT per RATE_PERIOD; /auth needs
 * Basic credentials for POST only.  LogLevel minilink:debug makes the
 * refresher log ML00009 lines, whose [pid N] tells which process it is.
 */
static const char *const live_config =
    "MinilinkRefreshInterval 1\n"
    "LogLevel minilink:debug\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName " SERVER_NAME "\n"
    "    MinilinkDatabase links.db\n"
    "    <Location /l>\n"
    "        SetHandler minilink\n"
    "        MinilinkCreate On\n"
    "        MinilinkCreateBlockHosts blocked.example\n"
    "        MinilinkCreateRateLimit 5 60\n"
    "    </Location>\n"
    "    <Location /auth>\n"
    "        SetHandler minilink\n"
    "        MinilinkCreate On\n"
    "        <Limit POST>\n"
    "            AuthType Basic\n"
    "            AuthName \"minilink test\"\n"
    "            AuthUserFile @DIR@/passwd\n"
    "            Require valid-user\n"
    "        </Limit>\n"
    "    </Location>\n"
    "</VirtualHost>\n";

/* An empty database and no headroom: the table holds 1024 links. */
static const char *const overflow_config =
    "MinilinkRefreshInterval 1\n"
    "MinilinkCacheHeadroom 0\n"
    "LogLevel minilink:debug\n"
    "MinilinkDatabase links.db\n"
    "<Location /l>\n"
    "    SetHandler minilink\n"
    "</Location>\n";

#define OVERFLOW_LINKS 1100

/*
 * The rate limit counts, per client address and across the whole server,
 * every creation request that passed validation: 201 (created), 200 (a URL
 * that already had a link) and 409 (slug taken) alike.  Every POST of this
 * file goes through post_at(), which counts those, so the rate-limit test
 * knows how many creations are left in the window.
 */
static int g_rate_counted;
static long g_rate_window_ms;   /* when the first counted POST was sent */

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

/* `minilink add url slug`, checked. */
static int cli_add_at(int line, const char *url, const char *slug)
{
    const char *args[] = { "add", url, slug, NULL };
    char *output = NULL;
    int rc = cli_run(args, &output);

    check_at(line, rc == 0, "%s add %s %s exited %d: %s", cli_path(), url, slug,
             rc, str_or_null(output));
    free(output);
    return rc == 0;
}

#define CLI_ADD(url, slug) cli_add_at(__LINE__, (url), (slug))

/* Runs printf-style SQL on the server's links.db through sqlite3, checked. */
static int sql_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int sql_at(int line, const char *fmt, ...)
{
    char *db = path_of("links.db"), *sql;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    if (vasprintf(&sql, fmt, ap) < 0) {
        abort();
    }
    va_end(ap);
    rc = db_exec(db, sql);
    check_at(line, rc == 0, "SQL failed on %s: %s", db, sql);
    free(sql);
    free(db);
    return rc == 0;
}

#define SQL(...) sql_at(__LINE__, __VA_ARGS__)

/* True if r is status with exactly this Location (NULL: none). */
static int answers(const http_response *r, long status, const char *location)
{
    if (r->curl_code != 0 || r->status != status) {
        return 0;
    }
    return location ? r->location && strcmp(r->location, location) == 0
                    : r->location == NULL;
}

/*
 * Polls GET path (a new connection each time, so prefork and worker answer
 * from different children) every POLL_MS for up to WAIT_MS until it
 * answers status with this Location, then asks 3 more times to see that
 * every child agrees.  Prints and returns how long it took after `since`
 * (now_ms() when the change was committed); -1 (a failure) on timeout.
 */
static long wait_for_at(int line, const char *what, long since, const char *path,
                        long status, const char *location)
{
    http_response r;
    long delay = -1;
    int i, agree = 1;

    for (;;) {
        http_request(g_srv->port, "GET", NULL, path, &r);
        if (answers(&r, status, location)) {
            delay = now_ms() - since;
            break;
        }
        if (now_ms() - since >= WAIT_MS) {
            break;
        }
        http_response_free(&r);
        sleep_ms(POLL_MS);
    }
    if (delay < 0) {
        check_at(line, 0, "%s: GET %s still answers %ld, Location \"%s\" (transport: "
                 "%s) %ld ms after the change; expected %ld, Location \"%s\"",
                 what, path, r.status, str_or_null(r.location),
                 r.curl_code ? r.error : "ok", now_ms() - since, status,
                 str_or_null(location));
        http_response_free(&r);
        return -1;
    }
    http_response_free(&r);
    for (i = 0; i < 3; i++) {
        http_request(g_srv->port, "GET", NULL, path, &r);
        if (!answers(&r, status, location) && agree) {
            agree = 0;
            check_at(line, 0, "%s: GET %s answered as expected once, then %ld, "
                     "Location \"%s\"", what, path, r.status, str_or_null(r.location));
        }
        http_response_free(&r);
    }
    fprintf(stderr, "[%s -> %ld: %ld ms] ", what, status, delay);
    return delay;
}

#define WAIT_FOR(what, since, path, status, location) \
    wait_for_at(__LINE__, (what), (since), (path), (status), (location))

/* application/x-www-form-urlencoded encoding of s, malloc'd. */
static char *form_encode(const char *s)
{
    char *out = malloc(strlen(s) * 3 + 1), *o = out;

    if (out == NULL) {
        abort();
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        }
        else {
            o += sprintf(o, "%%%02X", c);
        }
    }
    *o = '\0';
    return out;
}

/*
 * The string value of "name" in a compact JSON object such as the module
 * sends ({"a":"b",...}), unescaped, malloc'd; NULL if absent.  Enough for
 * these answers; the test binary does not link a JSON library.
 */
static char *json_string_field(const char *json, const char *name)
{
    char *key = xasprintf("\"%s\":", name), *value, *v;
    const char *p = json ? strstr(json, key) : NULL;

    free(key);
    if (p == NULL) {
        return NULL;
    }
    p += strlen(name) + 3;
    while (*p == ' ') {
        p++;
    }
    if (*p++ != '"') {
        return NULL;
    }
    value = v = malloc(strlen(p) + 1);
    if (value == NULL) {
        abort();
    }
    for (; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        }
        *v++ = *p;
    }
    *v = '\0';
    return value;
}

/* The value of cookie `name` in the Set-Cookie header, malloc'd, or NULL. */
static char *set_cookie_value(const http_response *r, const char *name)
{
    char *header = http_header(r, "Set-Cookie"), *value = NULL;
    size_t len = strlen(name);

    if (header && strncmp(header, name, len) == 0 && header[len] == '=') {
        size_t end = strcspn(header + len + 1, ";");
        value = xasprintf("%.*s", (int)end, header + len + 1);
    }
    free(header);
    return value;
}

/* The value attribute of the hidden csrf input in a form page, or NULL. */
static char *form_csrf_value(const char *body)
{
    static const char marker[] = "name=\"csrf\" value=\"";
    const char *p = body ? strstr(body, marker) : NULL;

    if (p == NULL) {
        return NULL;
    }
    p += sizeof marker - 1;
    return xasprintf("%.*s", (int)strcspn(p, "\""), p);
}

/*
 * GET <prefix>/: the form and its CSRF cookie.  Checks the page and returns
 * the token (malloc'd; NULL on failure).
 */
static char *get_form_token_at(int line, const char *prefix)
{
    char *path = xasprintf("%s/", prefix), *cookie, *field, *type;
    http_response r;

    expect_at(line, "GET", NULL, path, 200, NULL, &r);
    type = http_header(&r, "Content-Type");
    cookie = set_cookie_value(&r, "minilink_csrf");
    field = form_csrf_value(r.body);
    check_at(line, type && strncmp(type, "text/html", 9) == 0,
             "GET %s: Content-Type \"%s\", expected text/html", path, str_or_null(type));
    check_at(line, r.body && strstr(r.body, "<form") != NULL
                   && strstr(r.body, "<input type=\"hidden\" name=\"csrf\"") != NULL,
             "GET %s: no form with a hidden csrf input in:\n%.600s", path,
             str_or_null(r.body));
    check_at(line, cookie && strlen(cookie) == 48,
             "GET %s: no 48-character minilink_csrf cookie; headers:\n%s", path,
             r.headers);
    check_at(line, cookie && field && strcmp(cookie, field) == 0,
             "GET %s: the form's token \"%s\" is not the cookie's \"%s\"", path,
             str_or_null(field), str_or_null(cookie));
    check_at(line, http_headers_contain(&r, "HttpOnly")
                   && http_headers_contain(&r, "SameSite=Strict"),
             "GET %s: the CSRF cookie is not HttpOnly and SameSite=Strict:\n%s",
             path, r.headers);
    free(type);
    free(field);
    free(path);
    http_response_free(&r);
    return cookie;
}

/*
 * POSTs body to path with the given extra headers (and credentials), counts
 * the creations the rate limit counts (see g_rate_counted), and checks the
 * status.  The response goes to *out (the caller frees it).
 */
static void post_at(int line, const char *path, const char *const *headers,
                    const char *body, const char *userpwd, long status,
                    http_response *out)
{
    http_request_spec req;
    long sent = now_ms();

    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.path = path;
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    req.userpwd = userpwd;
    http_send(g_srv->port, &req, out);
    if (out->status == 200 || out->status == 201 || out->status == 409) {
        if (g_rate_counted++ == 0) {
            g_rate_window_ms = sent;
        }
    }
    if (check_at(line, out->curl_code == 0, "POST %s %.200s: transport error: %s",
                 path, body, out->error)) {
        check_at(line, out->status == status,
                 "POST %s %.200s: status %ld, expected %ld; body:\n%.600s",
                 path, body, out->status, status, str_or_null(out->body));
    }
}

/* POST JSON to path (optionally with Basic credentials). */
static void post_json_at(int line, const char *path, const char *json,
                         const char *userpwd, long status, http_response *out)
{
    static const char *const headers[] = { "Content-Type: application/json", NULL };

    post_at(line, path, headers, json, userpwd, status, out);
}

#define POST_JSON(path, json, status, out) \
    post_json_at(__LINE__, (path), (json), NULL, (status), (out))

/* POST a form with url (encoded here), and csrf field and cookie if given. */
static void post_form_at(int line, const char *path, const char *url,
                         const char *csrf_field, const char *csrf_cookie,
                         long status, http_response *out)
{
    char *encoded = form_encode(url);
    char *body = csrf_field ? xasprintf("url=%s&csrf=%s", encoded, csrf_field)
                            : xasprintf("url=%s", encoded);
    char *cookie = csrf_cookie ? xasprintf("Cookie: minilink_csrf=%s", csrf_cookie)
                               : NULL;
    const char *headers[] = {
        "Content-Type: application/x-www-form-urlencoded", cookie, NULL
    };

    post_at(line, path, headers, body, NULL, status, out);
    free(encoded);
    free(body);
    free(cookie);
}

/* Checks that a JSON answer has "error" (a 4xx). */
static void expect_json_error_at(int line, const char *what, const http_response *r)
{
    char *type = http_header(r, "Content-Type");
    char *error = json_string_field(r->body, "error");

    check_at(line, type && strncmp(type, "application/json", 16) == 0,
             "%s: Content-Type \"%s\", expected application/json", what,
             str_or_null(type));
    check_at(line, error && *error, "%s: no \"error\" in the JSON answer: %.300s",
             what, str_or_null(r->body));
    free(type);
    free(error);
}

/* "http://127.0.0.1:PORT<path>": what the module builds short URLs from. */
static char *own_url(const char *path)
{
    return xasprintf("http://127.0.0.1:%d%s", g_srv->port, path);
}

/* The pid in an error-log line's "[pid N" prefix, or -1. */
static pid_t line_pid(const char *line)
{
    const char *p = line ? strstr(line, "[pid ") : NULL;

    return p ? (pid_t)atoi(p + 5) : -1;
}

/* ------------------------------------------------------------------ */
/* 1. live refresh, no graceful restart                               */
/* ------------------------------------------------------------------ */

static void test_cli_link_served_live(void)
{
    long committed;

    GET("/l/cli1", 404, NULL);
    if (CLI_ADD("https://example.com/cli/1", "cli1")) {
        committed = now_ms();
        WAIT_FOR("CLI add", committed, "/l/cli1", 302, "https://example.com/cli/1");
    }
}

static void test_sql_changes_served_live(void)
{
    const char *changed = "https://example.com/sql/1-changed";
    long t;

    GET("/l/sql1", 404, NULL);
    if (!SQL("INSERT INTO links (slug, url) VALUES ('sql1', 'https://example.com/sql/1')")) {
        return;
    }
    t = now_ms();
    WAIT_FOR("SQL insert", t, "/l/sql1", 302, "https://example.com/sql/1");

    SQL("UPDATE links SET url = '%s' WHERE slug = 'sql1'", changed);
    t = now_ms();
    WAIT_FOR("SQL url", t, "/l/sql1", 302, changed);

    SQL("UPDATE links SET status = 301 WHERE slug = 'sql1'");
    t = now_ms();
    WAIT_FOR("SQL status=301", t, "/l/sql1", 301, changed);

    SQL("UPDATE links SET disabled = 1 WHERE slug = 'sql1'");
    t = now_ms();
    WAIT_FOR("SQL disabled=1", t, "/l/sql1", 410, NULL);

    /* Enabled again, so that the expiry below is what makes it 410. */
    SQL("UPDATE links SET disabled = 0 WHERE slug = 'sql1'");
    t = now_ms();
    WAIT_FOR("SQL disabled=0", t, "/l/sql1", 301, changed);

    SQL("UPDATE links SET expires_at = %lld WHERE slug = 'sql1'",
        (long long)time(NULL) - 60);
    t = now_ms();
    WAIT_FOR("SQL expired", t, "/l/sql1", 410, NULL);

    SQL("DELETE FROM links WHERE slug = 'sql1'");
    t = now_ms();
    WAIT_FOR("SQL delete", t, "/l/sql1", 404, NULL);
}

/* ------------------------------------------------------------------ */
/* 2. creation over HTTP                                              */
/* ------------------------------------------------------------------ */

static void test_form_page(void)
{
    free(get_form_token_at(__LINE__, "/l"));
}

static void test_form_post_creates(void)
{
    const char *target = "https://example.com/form/1";
    char *token = get_form_token_at(__LINE__, "/l"), *prefix = own_url("/l/");
    char *type, *slug;
    http_response r;
    long t;

    if (token == NULL) {
        free(prefix);
        return;
    }
    post_form_at(__LINE__, "/l/", target, token, token, 201, &r);
    t = now_ms();
    type = http_header(&r, "Content-Type");
    CHECK(type && strncmp(type, "text/html", 9) == 0,
          "form POST: Content-Type \"%s\", expected text/html", str_or_null(type));
    if (CHECK(r.location && strncmp(r.location, prefix, strlen(prefix)) == 0,
              "form POST: Location \"%s\", expected %s<slug>",
              str_or_null(r.location), prefix)) {
        char *path;

        slug = r.location + strlen(prefix);
        CHECK(strlen(slug) >= 6 && strspn(slug, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
              "abcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(slug),
              "form POST: the made-up slug \"%s\" is not 6+ slug characters", slug);
        CHECK(strstr(r.body, r.location) != NULL,
              "form POST: the page does not show the short URL %s:\n%.800s",
              r.location, r.body);
        /* In the shared table before the answer: no wait should be needed. */
        path = xasprintf("/l/%s", slug);
        WAIT_FOR("form-created link", t, path, 302, target);
        free(path);
    }
    free(type);
    http_response_free(&r);
    free(token);
    free(prefix);
}

static void test_form_without_token_refused(void)
{
    const char *target = "https://example.com/form/refused";
    const char *other = "0123456789abcdef0123456789abcdef";
    char *token = get_form_token_at(__LINE__, "/l");
    http_response r;

    post_form_at(__LINE__, "/l/", target, NULL, NULL, 403, &r);
    http_response_free(&r);
    if (token) {
        post_form_at(__LINE__, "/l/", target, token, NULL, 403, &r);   /* no cookie */
        http_response_free(&r);
        post_form_at(__LINE__, "/l/", target, NULL, token, 403, &r);   /* no field */
        http_response_free(&r);
        post_form_at(__LINE__, "/l/", target, other, token, 403, &r);  /* mismatch */
        http_response_free(&r);
    }
    free(token);
}

static void test_json_create(void)
{
    const char *target = "https://example.com/json/1";
    char *short_url = own_url("/l/myslug"), *body, *type, *slug, *field_short, *url;
    http_response r;
    long t;

    body = xasprintf("{\"url\": \"%s\", \"slug\": \"myslug\"}", target);
    POST_JSON("/l/", body, 201, &r);
    t = now_ms();
    free(body);
    type = http_header(&r, "Content-Type");
    slug = json_string_field(r.body, "slug");
    field_short = json_string_field(r.body, "short_url");
    url = json_string_field(r.body, "url");
    CHECK(type && strncmp(type, "application/json", 16) == 0,
          "JSON POST: Content-Type \"%s\", expected application/json", str_or_null(type));
    CHECK(slug && strcmp(slug, "myslug") == 0, "JSON POST: slug \"%s\", expected "
          "\"myslug\"; body %s", str_or_null(slug), r.body);
    CHECK(field_short && strcmp(field_short, short_url) == 0,
          "JSON POST: short_url \"%s\", expected \"%s\"", str_or_null(field_short),
          short_url);
    CHECK(url && strcmp(url, target) == 0, "JSON POST: url \"%s\", expected \"%s\"",
          str_or_null(url), target);
    CHECK(r.location && strcmp(r.location, short_url) == 0,
          "JSON POST: Location \"%s\", expected \"%s\"", str_or_null(r.location),
          short_url);
    WAIT_FOR("JSON-created link", t, "/l/myslug", 302, target);
    free(type);
    free(slug);
    free(field_short);
    free(url);
    http_response_free(&r);

    /* The same URL again, no slug asked for: the link it already has. */
    body = xasprintf("{\"url\": \"%s\"}", target);
    POST_JSON("/l/", body, 200, &r);
    free(body);
    slug = json_string_field(r.body, "slug");
    CHECK(slug && strcmp(slug, "myslug") == 0, "re-shortening %s: slug \"%s\", "
          "expected the existing \"myslug\"; body %s", target, str_or_null(slug), r.body);
    CHECK(r.location && strcmp(r.location, short_url) == 0,
          "re-shortening: Location \"%s\", expected \"%s\"", str_or_null(r.location),
          short_url);
    free(slug);
    http_response_free(&r);

    /* The same slug for another URL. */
    POST_JSON("/l/", "{\"url\": \"https://example.com/json/other\", \"slug\": \"myslug\"}",
              409, &r);
    expect_json_error_at(__LINE__, "slug taken", &r);
    http_response_free(&r);
    GET("/l/myslug", 302, target);
    free(short_url);
}

static void test_create_refusals(void)
{
    char *long_url, *json;
    char *self_ip = xasprintf("{\"url\": \"http://127.0.0.1:%d/l/abc\"}", g_srv->port);
    char *self_name = xasprintf("{\"url\": \"http://%s/l/abc\"}", SERVER_NAME);
    const char *refused[] = {
        "{\"url\": \"javascript:alert(1)\"}",
        "{\"url\": \"https://x.blocked.example/\"}",
        "{\"url\": \"https://blocked.example/page\"}",
        self_ip,
        self_name,
        "{\"url\": \"ftp://example.com/file\"}",
        "{\"url\": \"\"}",
        "{\"url\": \"https://example.com/\", \"slug\": \"bad slug!\"}",
        "not json",
    };
    static const char *const text_plain[] = { "Content-Type: text/plain", NULL };
    http_request_spec req;
    http_response r;
    size_t i;

    for (i = 0; i < sizeof refused / sizeof *refused; i++) {
        POST_JSON("/l/", refused[i], 400, &r);
        expect_json_error_at(__LINE__, refused[i], &r);
        http_response_free(&r);
    }

    /* MinilinkCreateMaxURLLength defaults to 2048 bytes: 20 + 2080 here. */
    long_url = xasprintf("https://example.com/%02080d", 0);
    json = xasprintf("{\"url\": \"%s\"}", long_url);
    POST_JSON("/l/", json, 400, &r);
    expect_json_error_at(__LINE__, "a 2100-byte URL", &r);
    http_response_free(&r);
    free(json);
    free(long_url);

    post_at(__LINE__, "/l/", text_plain, "url=https://example.com/plain", NULL, 415, &r);
    http_response_free(&r);

    memset(&req, 0, sizeof req);
    req.method = "PUT";
    req.path = "/l/";
    req.headers = text_plain;
    req.body = "https://example.com/put";
    req.body_len = strlen(req.body);
    http_send(g_srv->port, &req, &r);
    CHECK(r.curl_code == 0 && r.status == 405, "PUT /l/: status %ld (%s), expected 405",
          r.status, r.curl_code ? r.error : "ok");
    CHECK(r.allow && strstr(r.allow, "POST") && strstr(r.allow, "GET"),
          "PUT /l/: Allow \"%s\" does not name GET and POST", str_or_null(r.allow));
    http_response_free(&r);

    free(self_ip);
    free(self_name);
}

static void test_echo_escaped(void)
{
    const char *evil = "https://example.com/?q=\"><script>alert(1)</script>";
    char *token = get_form_token_at(__LINE__, "/l"), *csp;
    http_response r;

    if (token == NULL) {
        return;
    }
    post_form_at(__LINE__, "/l/", evil, token, token, 400, &r);
    CHECK(r.body && strstr(r.body, "&lt;script&gt;") != NULL,
          "the refused URL is not echoed HTML-escaped (&lt;script&gt;):\n%.1500s",
          str_or_null(r.body));
    CHECK(r.body && strstr(r.body, "<script>alert") == NULL,
          "the refused URL is echoed unescaped:\n%.1500s", str_or_null(r.body));
    CHECK(r.body && strstr(r.body, "\"><script") == NULL,
          "a quote of the URL breaks out of its attribute:\n%.1500s", str_or_null(r.body));
    csp = http_header(&r, "Content-Security-Policy");
    CHECK(csp && strstr(csp, "default-src 'none'"),
          "the error page has no script-free Content-Security-Policy: \"%s\"",
          str_or_null(csp));
    free(csp);
    http_response_free(&r);
    free(token);
}

/* ------------------------------------------------------------------ */
/* 3. Basic auth on POST only                                         */
/* ------------------------------------------------------------------ */

static void test_auth(void)
{
    const char *target = "https://example.com/auth/1";
    char *json = xasprintf("{\"url\": \"%s\"}", target), *prefix = own_url("/auth/");
    http_response r;
    long t;

    free(get_form_token_at(__LINE__, "/auth"));   /* the form needs no login */

    post_json_at(__LINE__, "/auth/", json, NULL, 401, &r);
    CHECK(http_headers_contain(&r, "WWW-Authenticate: Basic"),
          "anonymous POST /auth/: no WWW-Authenticate: Basic; headers:\n%s", r.headers);
    http_response_free(&r);
    post_json_at(__LINE__, "/auth/", json, AUTH_USER ":wrong", 401, &r);
    http_response_free(&r);

    post_json_at(__LINE__, "/auth/", json, AUTH_USER ":" AUTH_PASSWORD, 201, &r);
    t = now_ms();
    if (CHECK(r.location && strncmp(r.location, prefix, strlen(prefix)) == 0,
              "POST /auth/ with credentials: Location \"%s\", expected %s<slug>",
              str_or_null(r.location), prefix)) {
        char *path = xasprintf("/auth/%s", r.location + strlen(prefix));
        /* Redirects need no login. */
        WAIT_FOR("auth-created link", t, path, 302, target);
        free(path);
    }
    http_response_free(&r);
    GET("/auth/s03", 302, "https://example.com/load/03?n=3");
    free(json);
    free(prefix);
}

/* ------------------------------------------------------------------ */
/* rate limit (after every other creation of the suite but the load)  */
/* ------------------------------------------------------------------ */

static void test_rate_limit(void)
{
    http_response r;
    char *retry;
    long retry_after;
    int i, left;

    /*
     * The window opened with the suite's first counted POST.  Should the
     * suite have been slow enough for it to be near its end, wait for a
     * fresh window rather than guess where the server's count is.
     */
    if (g_rate_counted > 0 && now_ms() - g_rate_window_ms > (RATE_PERIOD - 10) * 1000L) {
        long wait = g_rate_window_ms + (RATE_PERIOD + 1) * 1000L - now_ms();
        fprintf(stderr, "[rate-limit window nearly over: waiting %ld ms] ", wait);
        if (wait > 0) {
            sleep_ms(wait);
        }
        g_rate_counted = 0;
    }
    left = RATE_LIMIT - g_rate_counted;
    CHECK(left >= 0, "%d creations counted already, more than the limit of %d",
          g_rate_counted, RATE_LIMIT);
    for (i = 0; i < left; i++) {
        char *json = xasprintf("{\"url\": \"https://example.com/rate/%d\"}", i);
        POST_JSON("/l/", json, 201, &r);
        http_response_free(&r);
        free(json);
    }
    POST_JSON("/l/", "{\"url\": \"https://example.com/rate/over\"}", 429, &r);
    expect_json_error_at(__LINE__, "over the rate limit", &r);
    retry = http_header(&r, "Retry-After");
    retry_after = retry ? strtol(retry, NULL, 10) : -1;
    CHECK(retry_after >= 1 && retry_after <= RATE_PERIOD,
          "429: Retry-After \"%s\", expected 1 to %d seconds", str_or_null(retry),
          RATE_PERIOD);
    free(retry);
    http_response_free(&r);
    /* Refused before any lookup: an existing URL is refused as well. */
    POST_JSON("/l/", "{\"url\": \"https://example.com/json/1\"}", 429, &r);
    http_response_free(&r);
    /* Redirects are not limited. */
    GET("/l/myslug", 302, "https://example.com/json/1");
}

/* ------------------------------------------------------------------ */
/* 4. preview                                                          */
/* ------------------------------------------------------------------ */

static void test_preview(void)
{
    const char *escaped = "https://example.com/preview?a=1&amp;b=2";
    char *type, *href;
    http_response r;

    /* created_at 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT. */
    SQL("INSERT INTO links (slug, url, created_at) VALUES "
        "('prev1', 'https://example.com/preview?a=1&b=2', 1700000000)");
    /* A preview reads the file itself: no wait for the refresher. */
    expect_at(__LINE__, "GET", NULL, "/l/prev1+", 200, NULL, &r);
    type = http_header(&r, "Content-Type");
    href = xasprintf("href=\"%s\"", escaped);
    CHECK(type && strncmp(type, "text/html", 9) == 0,
          "preview: Content-Type \"%s\", expected text/html", str_or_null(type));
    CHECK(strstr(r.body, escaped) != NULL,
          "preview: the target is not shown HTML-escaped (%s):\n%.1500s", escaped, r.body);
    CHECK(strstr(r.body, "a=1&b=2") == NULL,
          "preview: the target is shown unescaped:\n%.1500s", r.body);
    CHECK(strstr(r.body, "14 Nov 2023 22:13:20") != NULL,
          "preview: no creation time (14 Nov 2023 22:13:20):\n%.1500s", r.body);
    CHECK(strstr(r.body, href) != NULL,
          "preview: no link to follow (%s):\n%.1500s", href, r.body);
    free(type);
    free(href);
    http_response_free(&r);
    GET("/l/nosuch+", 404, NULL);
    /* The link itself redirects once the refresher has it. */
    WAIT_FOR("SQL insert (preview)", now_ms(), "/l/prev1", 302,
             "https://example.com/preview?a=1&b=2");
}

/* ------------------------------------------------------------------ */
/* 6. the refresher is replaced when it dies                          */
/* ------------------------------------------------------------------ */

/*
 * The refresher's pid, from the newest ML00009 line: after a change made
 * outside the server (CLI), only the refresher applies it and logs it.
 * Waits for that line (up to WAIT_MS) after `before` such lines.
 */
static pid_t refresher_pid_at(int line, int before)
{
    long waited = httpd_error_log_wait(g_srv, "ML00009", before, WAIT_MS);
    char *text;
    pid_t pid, parent;

    if (!check_at(line, waited >= 0, "no new ML00009 line within %d ms of a change "
                  "that was served", WAIT_MS)) {
        return -1;
    }
    text = httpd_error_log_last_line(g_srv, "ML00009");
    pid = line_pid(text);
    parent = pid > 0 ? process_parent(pid) : -1;
    check_at(line, pid > 0 && pid != g_srv->pid && parent == g_srv->pid,
             "the ML00009 line's pid %d is not a child of httpd %d (its parent: %d): %s",
             (int)pid, (int)g_srv->pid, (int)parent, str_or_null(text));
    free(text);
    return pid > 0 && parent == g_srv->pid ? pid : -1;
}

static void test_refresher_killed(void)
{
    int before = httpd_error_log_count(g_srv, "ML00009");
    int deaths = httpd_error_log_count(g_srv, "ML00023");
    pid_t old_pid, new_pid;
    long t, waited;

    if (!CLI_ADD("https://example.com/refresher/1", "rf1")) {
        return;
    }
    WAIT_FOR("CLI add", now_ms(), "/l/rf1", 302, "https://example.com/refresher/1");
    old_pid = refresher_pid_at(__LINE__, before);
    if (old_pid <= 0) {
        return;
    }
    CHECK(kill(old_pid, SIGKILL) == 0, "kill -9 %d failed", (int)old_pid);
    t = now_ms();
    waited = httpd_error_log_wait(g_srv, "ML00023", deaths, WAIT_MS);
    CHECK(waited >= 0, "no ML00023 line within %d ms of killing the refresher %d",
          WAIT_MS, (int)old_pid);
    if (waited >= 0) {
        fprintf(stderr, "[refresher %d killed; ML00023 after %ld ms] ", (int)old_pid,
                now_ms() - t);
    }

    before = httpd_error_log_count(g_srv, "ML00009");
    if (CLI_ADD("https://example.com/refresher/2", "rf2")) {
        WAIT_FOR("CLI add after the kill", now_ms(), "/l/rf2", 302,
                 "https://example.com/refresher/2");
        new_pid = refresher_pid_at(__LINE__, before);
        CHECK(new_pid != old_pid, "the refresher after the kill has the old pid %d",
              (int)old_pid);
    }
    GET("/l/rf1", 302, "https://example.com/refresher/1");
}

/* ------------------------------------------------------------------ */
/* 7. graceful restarts under load while links are added              */
/* ------------------------------------------------------------------ */

#define MAX_ADDED 200
#define ADD_EVERY_MS 250

/* The thread that adds links with the CLI during the graceful restarts. */
typedef struct {
    int port;
    int stop;
    int added;                 /* links the CLI added: gl000 .. */
    long committed[MAX_ADDED]; /* now_ms() when each add returned */
    long served[MAX_ADDED];    /* ms from commit to first served; -1 not yet */
    int cli_failures;
    int not_served;            /* added, but not served within WAIT_MS */
    long max_delay;            /* the slowest to be served, ms */
    long max_cli_ms;           /* the slowest CLI run */
    char first_problem[512];
} link_adder;

static char *adder_slug(int i) { return xasprintf("gl%03d", i); }
static char *adder_url(int i) { return xasprintf("https://example.com/graceful/%03d", i); }

/* Adds the next link with the CLI. */
static void adder_add(link_adder *a)
{
    char *slug = adder_slug(a->added), *url = adder_url(a->added), *output = NULL;
    const char *args[] = { "add", url, slug, NULL };
    long t0 = now_ms();
    int rc = cli_run(args, &output);

    if (now_ms() - t0 > a->max_cli_ms) {
        a->max_cli_ms = now_ms() - t0;
    }
    if (rc == 0) {
        a->committed[a->added] = now_ms();
        a->served[a->added] = -1;
        a->added++;
    }
    else {
        a->cli_failures++;
        if (a->first_problem[0] == '\0') {
            snprintf(a->first_problem, sizeof a->first_problem,
                     "minilink add %s %s exited %d: %s", url, slug, rc,
                     str_or_null(output));
        }
    }
    free(output);
    free(slug);
    free(url);
}

/* GETs every added link not yet seen served; returns how many are pending. */
static int adder_poll(link_adder *a, http_client *http)
{
    int i, pending = 0;

    for (i = 0; i < a->added; i++) {
        char *path, *url;
        http_response r;
        long age;

        if (a->served[i] >= 0) {
            continue;
        }
        /* Asked before giving up: this thread also runs the CLI, and one
         * slow add (fsync on a busy machine) must not count as a link
         * nobody looked for. */
        age = now_ms() - a->committed[i];
        path = xasprintf("/l/gl%03d", i);
        url = adder_url(i);
        http_client_request(http, "GET", NULL, path, &r);
        if (answers(&r, 302, url)) {
            a->served[i] = now_ms() - a->committed[i];
            if (a->served[i] > a->max_delay) {
                a->max_delay = a->served[i];
            }
        }
        else if (age > WAIT_MS) {
            a->served[i] = WAIT_MS + 1;   /* given up on: counted once */
            a->not_served++;
            if (a->first_problem[0] == '\0') {
                snprintf(a->first_problem, sizeof a->first_problem,
                         "/l/gl%03d (added with the CLI) not served within %d ms",
                         i, WAIT_MS);
            }
        }
        else {
            pending++;
        }
        http_response_free(&r);
        free(path);
        free(url);
    }
    return pending;
}

/*
 * Adds gl000, gl001... every ADD_EVERY_MS and polls each until it is served
 * (or WAIT_MS passed), so that links are added just before, during and
 * after each restart.  No CUnit calls here (CUnit is not thread-safe); the
 * main thread checks the counts.
 */
static void *link_adder_run(void *arg)
{
    link_adder *a = arg;
    http_client *http = http_client_new(a->port);
    long next_add = now_ms();

    while (http && !__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        if (now_ms() >= next_add && a->added < MAX_ADDED) {
            adder_add(a);
            next_add = now_ms() + ADD_EVERY_MS;
        }
        adder_poll(a, http);
        sleep_ms(50);
    }
    /* Stopped: wait (bounded by WAIT_MS each) for the last ones. */
    while (http && adder_poll(a, http) > 0) {
        sleep_ms(POLL_MS);
    }
    if (http == NULL) {
        snprintf(a->first_problem, sizeof a->first_problem, "curl_easy_init failed");
        a->cli_failures++;
    }
    http_client_free(http);
    return NULL;
}

static void test_graceful_under_load_live(void)
{
    static const char *const crashes[] = { "AH00052", "AH00060", "Segmentation fault" };
    static link_adder adder;   /* static: a few KB of arrays */
    pthread_t adder_thread;
    load_run *load;
    load_totals totals;
    long graceful_ms[3] = { 0, 0, 0 };
    int adder_started, g, i;
    size_t k;

    memset(&adder, 0, sizeof adder);
    adder.port = g_srv->port;
    load = load_start(g_srv->port, LOAD_CLIENTS);
    CHECK(load != NULL, "cannot start the load clients");
    adder_started = pthread_create(&adder_thread, NULL, link_adder_run, &adder) == 0;
    CHECK(adder_started, "cannot start the link adder");
    sleep_ms(500);

    for (g = 0; g < 3; g++) {
        long t = now_ms();
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart %d failed", g + 1);
        graceful_ms[g] = now_ms() - t;
        sleep_ms(1000);
    }

    __atomic_store_n(&adder.stop, 1, __ATOMIC_RELEASE);
    if (adder_started) {
        pthread_join(adder_thread, NULL);
    }
    load_stop(load, &totals);
    fprintf(stderr, "[%s: %ld requests; graceful restarts %ld, %ld, %ld ms; %d links "
                    "added, slowest CLI %ld ms, slowest served %ld ms after commit] ",
            g_srv->mpm, totals.requests, graceful_ms[0], graceful_ms[1],
            graceful_ms[2], adder.added, adder.max_cli_ms, adder.max_delay);
    if (adder.first_problem[0]) {
        fprintf(stderr, "\n    link adder: first problem: %s\n", adder.first_problem);
    }
    CHECK(totals.not_started == 0, "%d load clients could not start", totals.not_started);
    CHECK(totals.requests > 100, "only %ld requests during the graceful restarts",
          totals.requests);
    CHECK(totals.failures == 0, "%ld of %ld requests failed (transport error or wrong "
          "status)", totals.failures, totals.requests);
    CHECK(totals.wrong == 0, "%ld of %ld requests had a wrong Location", totals.wrong,
          totals.requests);
    CHECK(adder.added >= 3, "only %d links added during the graceful restarts",
          adder.added);
    CHECK(adder.cli_failures == 0, "%d CLI runs failed", adder.cli_failures);
    CHECK(adder.not_served == 0, "%d of %d links added during the graceful restarts "
          "were not served within %d ms", adder.not_served, adder.added, WAIT_MS);

    /* All of them, now that the restarts are over. */
    for (i = 0; i < adder.added; i++) {
        char *path = xasprintf("/l/gl%03d", i), *url = adder_url(i);
        GET(path, 302, url);
        free(path);
        free(url);
    }
    for (k = 0; k < sizeof crashes / sizeof *crashes; k++) {
        int n = httpd_error_log_count(g_srv, crashes[k]);
        CHECK(n == 0, "%d error-log lines contain \"%s\"", n, crashes[k]);
    }
}

/* ------------------------------------------------------------------ */
/* 8. last: nothing crashed, nothing left running                     */
/* ------------------------------------------------------------------ */

static void test_clean_log_and_stop(void)
{
    int left;

    EXPECT_ERROR_LOG_CLEAN();
    left = httpd_stop_clean(g_srv);
    CHECK(left == 0, "stopping httpd: %d process(es) did not stop on SIGTERM "
          "(the parent counts as one)", left);
    CHECK(httpd_process_count(g_srv) == 0, "httpd processes still running after stop");
}

static CU_TestInfo live_tests[] = {
    { "CLI-added link served without a restart", test_cli_link_served_live },
    { "SQL insert/update/delete served without a restart", test_sql_changes_served_live },
    { "GET form: CSRF token and cookie", test_form_page },
    { "form POST creates a link (201)", test_form_post_creates },
    { "form POST without CSRF token -> 403", test_form_without_token_refused },
    { "JSON create, re-shorten (200), slug taken (409)", test_json_create },
    { "refused URLs (400), 415, 405", test_create_refusals },
    { "echoed values HTML-escaped", test_echo_escaped },
    { "Basic auth on POST only", test_auth },
    { "rate limit -> 429 with Retry-After", test_rate_limit },
    { "preview page", test_preview },
    { "killed refresher is replaced", test_refresher_killed },
    { "graceful restarts under load while adding links", test_graceful_under_load_live },
    { "error log clean, clean stop", test_clean_log_and_stop },
    CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* 5. cache overflow (suite live-overflow)                            */
/* ------------------------------------------------------------------ */

/* "holds up to N links" in the newest ML00002 line; -1 if none. */
static long cache_capacity(void)
{
    char *line = httpd_error_log_last_line(g_srv, "ML00002");
    const char *p = line ? strstr(line, "holds up to ") : NULL;
    long n = p ? strtol(p + 12, NULL, 10) : -1;

    free(line);
    return n;
}

/* GETs every overflow link on one keep-alive connection; returns how many
 * answered wrong (the first few are reported). */
static int check_overflow_links_at(int line, const char *when)
{
    http_client *http = http_client_new(g_srv->port);
    long t = now_ms();
    int i, wrong = 0;

    for (i = 0; http && i < OVERFLOW_LINKS; i++) {
        char *path = xasprintf("/l/ov%04d", i);
        char *url = xasprintf("https://example.com/overflow/%04d", i);
        http_response r;

        http_client_request(http, "GET", NULL, path, &r);
        if (!answers(&r, 302, url)) {
            if (wrong++ < 5) {
                check_at(line, 0, "%s: GET %s: %ld, Location \"%s\" (%s); expected "
                         "302 %s", when, path, r.status, str_or_null(r.location),
                         r.curl_code ? r.error : "ok", url);
            }
        }
        http_response_free(&r);
        free(path);
        free(url);
    }
    http_client_free(http);
    check_at(line, http != NULL && wrong == 0, "%s: %d of %d links answered wrong",
             when, wrong, OVERFLOW_LINKS);
    fprintf(stderr, "[%s: %d links checked in %ld ms] ", when, OVERFLOW_LINKS,
            now_ms() - t);
    return wrong;
}

static void test_overflow_never_drops(void)
{
    char *db = path_of("links.db"), *sql = xasprintf("BEGIN;"), *next;
    long capacity = cache_capacity(), t, waited;
    int i;

    CHECK(capacity > 0 && capacity < OVERFLOW_LINKS,
          "the empty database's table holds %ld links; expected fewer than %d "
          "(MinilinkCacheHeadroom 0)", capacity, OVERFLOW_LINKS);
    fprintf(stderr, "[table holds %ld links] ", capacity);
    for (i = 0; i < OVERFLOW_LINKS; i++) {
        next = xasprintf("%sINSERT INTO links (slug, url) VALUES "
                         "('ov%04d', 'https://example.com/overflow/%04d');", sql, i, i);
        free(sql);
        sql = next;
    }
    next = xasprintf("%sCOMMIT;", sql);
    free(sql);
    sql = next;
    /* One transaction: the refresher sees all of them at once. */
    if (!CHECK(db_exec(db, sql) == 0, "inserting %d links into %s failed",
               OVERFLOW_LINKS, db)) {
        goto out;
    }
    t = now_ms();
    WAIT_FOR("last of 1100 inserted", t, "/l/ov1099", 302, "https://example.com/overflow/1099");
    WAIT_FOR("first of 1100 inserted", t, "/l/ov0000", 302, "https://example.com/overflow/0000");
    check_overflow_links_at(__LINE__, "overflowed table");
    waited = httpd_error_log_wait(g_srv, "ML00021", 0, WAIT_MS);
    CHECK(waited >= 0, "no ML00021 line (links did not fit) in the error log");

    CHECK(httpd_graceful(g_srv) == 0, "graceful restart failed");
    check_overflow_links_at(__LINE__, "after a graceful restart");
    capacity = cache_capacity();
    CHECK(capacity >= OVERFLOW_LINKS, "after the graceful restart the table holds "
          "%ld links, fewer than the %d in the database", capacity, OVERFLOW_LINKS);
out:
    free(sql);
    free(db);
}

static CU_TestInfo overflow_tests[] = {
    { "cache overflow never drops a link", test_overflow_never_drops },
    { "error log clean, clean stop", test_clean_log_and_stop },
    CU_TEST_INFO_NULL,
};

/* ------------------------------------------------------------------ */
/* suites                                                             */
/* ------------------------------------------------------------------ */

/*
 * A suite's init: g_srv on this MPM with config.  with_create: the modules
 * and files the live configuration needs, and the load links; otherwise an
 * empty database.  On failure the suite's tests count as not run.
 */
static int start_server(const char *suite, const char *mpm, const CU_TestInfo *tests,
                        const char *config, int with_create)
{
    char *db, *passwd;
    int rc = 0;

    g_failures_at_init = CU_get_number_of_failures();
    g_rate_counted = 0;
    g_srv = httpd_new(mpm);
    if (g_srv == NULL) {
        g_tests_not_run += count_tests(tests);
        return -1;
    }
    db = path_of("links.db");
    passwd = path_of("passwd");
    if (with_create) {
        /* MinilinkCreate needs mod_slotmem_shm loaded before it. */
        httpd_load_module(g_srv, "slotmem_shm_module", "mod_slotmem_shm.so");
        httpd_load_module(g_srv, "auth_basic_module", "mod_auth_basic.so");
        httpd_load_module(g_srv, "authn_file_module", "mod_authn_file.so");
        httpd_load_module(g_srv, "authz_user_module", "mod_authz_user.so");
        /* The load links, for the graceful test's clients. */
        rc = db_store_load_links(db);
        if (rc == 0) {
            char *argv[] = { "htpasswd", "-bc", passwd, AUTH_USER, AUTH_PASSWORD, NULL };
            char *output = NULL;

            rc = httpd_run_as_user(g_srv, argv, &output);
            if (rc != 0) {
                fprintf(stderr, "htpasswd -bc %s exited %d: %s\n", passwd, rc,
                        str_or_null(output));
            }
            free(output);
        }
    }
    else {
        rc = db_store_links(db, NULL, 0);   /* empty */
    }
    if (rc != 0 || httpd_write_config(g_srv, config) != 0 || httpd_start(g_srv) != 0) {
        fprintf(stderr, "suite %s: cannot start httpd\n", suite);
        httpd_free(g_srv);
        g_srv = NULL;
        g_tests_not_run += count_tests(tests);
        rc = -1;
    }
    free(db);
    free(passwd);
    return rc;
}

static int init_live_event(void)
{
    return start_server("live-event", "event", live_tests, live_config, 1);
}

static int init_live_worker(void)
{
    return start_server("live-worker", "worker", live_tests, live_config, 1);
}

static int init_live_prefork(void)
{
    return start_server("live-prefork", "prefork", live_tests, live_config, 1);
}

static int init_live_overflow(void)
{
    return start_server("live-overflow", "event", overflow_tests, overflow_config, 0);
}

static CU_SuiteInfo live_suites[] = {
    { "live-event", init_live_event, suite_cleanup, NULL, NULL, live_tests },
    { "live-worker", init_live_worker, suite_cleanup, NULL, NULL, live_tests },
    { "live-prefork", init_live_prefork, suite_cleanup, NULL, NULL, live_tests },
    { "live-overflow", init_live_overflow, suite_cleanup, NULL, NULL, overflow_tests },
    CU_SUITE_INFO_NULL,
};

void add_live_suites(void)
{
    if (CU_register_suites(live_suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot register the live suites: %s\n",
                CU_get_error_msg());
    }
}
