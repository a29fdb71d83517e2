/*
 * test_findings.c - what an outside probe found (issue 12, parts 2 and 3),
 * each checked through a real httpd: suites "findings-event",
 * "findings-worker" and "findings-prefork" run the same tests, each on a
 * server of its own.
 *
 * The server: one virtual host, the only one on 127.0.0.1:PORT, with names
 * and aliases of its own, and one more Listen on every address (so that
 * the machine's own addresses count as the server's).  /l creates links
 * with blocked hosts; / creates links too, beside other <Location>s and a
 * file in the DocumentRoot (htdocs/existing-file) that slugs must not
 * shadow.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <CUnit/CUnit.h>
#include <jansson.h>
#include <sqlite3.h>

#include "harness.h"
#include "ml_test.h"

#define SERVER_NAME "go.findings.test"

/* After a "Listen PORT" on every address (start_findings_server).  Clicks
 * are written only when asked (the admin page) or at a graceful restart,
 * and click tables are small (CLICK_CELLS). */
static const char *const findings_config =
    "MinilinkRefreshInterval 1\n"
    "MinilinkFlushInterval 3600\n"
    "MinilinkClickCells 32\n"
    "<VirtualHost 127.0.0.1:@PORT@>\n"
    "    ServerName " SERVER_NAME "\n"
    "    ServerAlias alias.findings.test *.wild.findings.test\n"
    "    MinilinkDatabase links.db\n"
    "    <Location />\n"
    "        SetHandler minilink\n"
    "        MinilinkCreate On\n"
    "        MinilinkCreateRateLimit off\n"
    "    </Location>\n"
    "    <Location /server-status>\n"
    "        SetHandler server-status\n"
    "        Require all granted\n"
    "    </Location>\n"
    "    <LocationMatch \"^/l/adm\">\n"
    "        Require all granted\n"
    "    </LocationMatch>\n"
    "    <Location /c>\n"
    "        SetHandler minilink\n"
    "        MinilinkDatabase clicks.db\n"
    "    </Location>\n"
    "    <Location /cadmin>\n"
    "        SetHandler minilink-admin\n"
    "        MinilinkDatabase clicks.db\n"
    "        Require all granted\n"
    "    </Location>\n"
    "    <Location /l>\n"
    "        SetHandler minilink\n"
    "        MinilinkCreate On\n"
    "        MinilinkCreateRateLimit off\n"
    "        MinilinkCreateBlockHosts evil.example 10.0.0.1 2001:db8::bad\n"
    "    </Location>\n"
    "</VirtualHost>\n";

static const link_spec findings_links[] = {
    { "abc", "https://example.com/abc", 0, 0, 0 },
};
static const link_spec click_links[] = {
    { "keep1", "https://example.com/keep1", 0, 0, 0 },
    { "keep2", "https://example.com/keep2", 0, 0, 0 },
};

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

/* POSTs body to path with these headers (NULL-terminated); the response
 * goes to *out (the caller frees it). */
static void post(const char *path, const char *const *headers,
                 const char *body, http_response *out)
{
    http_request_spec req;

    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.path = path;
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    http_send(g_srv->port, &req, out);
}

static void post_json(const char *path, const char *json, http_response *out)
{
    static const char *const headers[] = { "Content-Type: application/json", NULL };

    post(path, headers, json, out);
}

/* Creating url at /l/ over JSON must be refused with 400 and an error that
 * contains `reason`. */
static void expect_refused_at(int line, const char *url, const char *reason)
{
    char *json = xasprintf("{\"url\": \"%s\"}", url);
    http_response r;

    post_json("/l/", json, &r);
    check_at(line, r.status == 400 && r.body && strstr(r.body, reason),
             "POST /l/ %s: %ld %.300s; expected 400 saying \"%s\"", json,
             r.status, str_or_null(r.body), reason);
    http_response_free(&r);
    free(json);
}

/* The token of GET <prefix>/'s CSRF cookie (malloc'd), or NULL. */
static char *form_token(const char *prefix)
{
    char *path = xasprintf("%s/", prefix), *cookie, *token = NULL;
    http_response r;

    http_request(g_srv->port, "GET", NULL, path, &r);
    cookie = http_header(&r, "Set-Cookie");
    if (r.status == 200 && cookie && strncmp(cookie, "minilink_csrf=", 14) == 0) {
        token = xasprintf("%.*s", (int)strcspn(cookie + 14, ";"), cookie + 14);
    }
    CHECK(token != NULL, "GET %s: %ld, no CSRF cookie; headers:\n%s", path,
          r.status, str_or_null(r.headers));
    free(cookie);
    free(path);
    http_response_free(&r);
    return token;
}

/* POSTs the form to <prefix>/ with this url, csrf field, cookie and
 * Origin (each NULL: not sent); returns the status. */
static long post_form(const char *prefix, const char *url, const char *field,
                      const char *cookie, const char *origin)
{
    char *path = xasprintf("%s/", prefix);
    char *body = xasprintf("url=%s&csrf=%s", url, field ? field : "");
    char *cookie_line = cookie ? xasprintf("Cookie: minilink_csrf=%s", cookie) : NULL;
    char *origin_line = origin ? xasprintf("Origin: %s", origin) : NULL;
    const char *headers[4] = { "Content-Type: application/x-www-form-urlencoded" };
    http_response r;
    long status;
    int n = 1;

    if (cookie_line) {
        headers[n++] = cookie_line;
    }
    if (origin_line) {
        headers[n++] = origin_line;
    }
    headers[n] = NULL;
    post(path, headers, body, &r);
    status = r.status;
    http_response_free(&r);
    free(path);
    free(body);
    free(cookie_line);
    free(origin_line);
    return status;
}

/* ------------------------------------------------------------------ */
/* hosts compared as browsers see them                                */
/* ------------------------------------------------------------------ */

#define LOOP "itself"

static void test_blocked_hosts_in_any_spelling(void)
{
    static const char *const blocked[] = {
        "https://evil.example/", "https://%65vil.example/",
        "https://evil%2eexample/", "https://evil.example./",
        "https://EVIL.example/x", "https://www.evil%2Eexample/",
        "http://10.0.0.1/", "http://10.1/", "http://167772161/",
        "http://0xa000001/", "http://012.0.0.1/", "http://[::ffff:10.0.0.1]/",
        "http://[2001:DB8:0:0::BAD]/",     /* blocked without brackets */
    };
    http_response r;
    size_t i;

    for (i = 0; i < sizeof blocked / sizeof *blocked; i++) {
        expect_refused_at(__LINE__, blocked[i], "are not accepted here");
    }
    /* Neighbours of the blocked ones are fine. */
    post_json("/l/", "{\"url\": \"https://notevil.example/\"}", &r);
    CHECK(r.status == 201, "notevil.example: %ld %.300s", r.status,
          str_or_null(r.body));
    http_response_free(&r);
    post_json("/l/", "{\"url\": \"http://10.0.0.2/\"}", &r);
    CHECK(r.status == 201, "10.0.0.2: %ld %.300s", r.status, str_or_null(r.body));
    http_response_free(&r);
}

/* Every spelling of the server's own names and addresses, and of the
 * local host's, is a loop. */
static void test_own_hosts_in_any_spelling(void)
{
    const char *const own[] = {
        "http://localhost:@P/l/abc", "http://127.1:@P/l/abc",
        "http://[::1]:@P/l/abc", "http://2130706433:@P/l/abc",
        "http://127.0.0.1%2e:@P/l/abc", "http://0x7f.1:@P/l/abc",
        "http://0.0.0.0:@P/l/abc", "http://0:@P/l/abc",
        "http://[::ffff:127.0.0.1]:@P/l/abc", "http://127.9.9.9:@P/l/abc",
        "http://" SERVER_NAME "/l/abc", "http://GO.findings.test./l/abc",
        "http://g%6F.findings.test/l/abc", "http://alias.findings.test/l/abc",
        "http://x.wild.findings.test/l/abc",
    };
    struct ifaddrs *interfaces, *at;
    char port[16], address[INET6_ADDRSTRLEN];
    size_t i;
    int others = 0;

    snprintf(port, sizeof port, "%d", g_srv->port);
    for (i = 0; i < sizeof own / sizeof *own; i++) {
        char *url = strdup(own[i]), *p = strstr(url, "@P");
        if (p) {
            char *whole = xasprintf("%.*s%s%s", (int)(p - url), url, port, p + 2);
            free(url);
            url = whole;
        }
        expect_refused_at(__LINE__, url, LOOP);
        free(url);
    }
    /* The wildcard Listen makes each of the machine's addresses ours. */
    CHECK(getifaddrs(&interfaces) == 0, "getifaddrs failed");
    for (at = interfaces; at; at = at->ifa_next) {
        char *url = NULL;
        if (at->ifa_addr && at->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)at->ifa_addr)->sin_addr,
                      address, sizeof address);
            url = xasprintf("http://%s/l/abc", address);
        }
        else if (at->ifa_addr && at->ifa_addr->sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)at->ifa_addr)->sin6_addr,
                      address, sizeof address);
            url = xasprintf("http://[%s]/l/abc", address);
        }
        if (url) {
            others += strcmp(address, "127.0.0.1") != 0 && strcmp(address, "::1") != 0;
            expect_refused_at(__LINE__, url, LOOP);
            free(url);
        }
    }
    freeifaddrs(interfaces);
    if (others == 0) {
        fprintf(stderr, "\n    note: this machine has no address but loopback; "
                        "only those were checked\n");
    }
}

/* ------------------------------------------------------------------ */
/* slugs that start with '-'                                          */
/* ------------------------------------------------------------------ */

/* "-old" was put in with sqlite3 before new slugs had to start otherwise:
 * it is still served; a new one is refused over HTTP. */
static void test_slug_with_a_dash_first(void)
{
    http_response r;

    GET("/l/-old", 302, "https://example.com/old-dash");
    post_json("/l/", "{\"url\": \"https://example.com/dash\", \"slug\": \"-h\"}", &r);
    CHECK(r.status == 400 && r.body && strstr(r.body, "must not start with '-'"),
          "slug -h: %ld %.300s", r.status, str_or_null(r.body));
    http_response_free(&r);
    GET("/l/-h", 404, NULL);
    post_json("/l/", "{\"url\": \"https://example.com/dash\", \"slug\": \"a-h\"}", &r);
    CHECK(r.status == 201, "slug a-h: %ld %.300s", r.status, str_or_null(r.body));
    http_response_free(&r);
}

/* ------------------------------------------------------------------ */
/* the CSRF cookie                                                    */
/* ------------------------------------------------------------------ */

/* The request path goes into the CSRF cookie's Path and the form's
 * action: attributes of its own in it must not become the cookie's. */
static void test_cookie_path_carries_no_request_attributes(void)
{
    static const char expected_path[] = "/l/%3bDomain=x%3bMax-Age=9%3bPath=/%3bx/";
    http_response r;
    char *cookie, *attribute, *saveptr = NULL;
    int paths = 0;

    expect_at(__LINE__, "GET", NULL, "/l/;Domain=x;Max-Age=9;Path=/;x/", 200,
              NULL, &r);
    cookie = http_header(&r, "Set-Cookie");
    CHECK(cookie != NULL, "no Set-Cookie; headers:\n%s", r.headers);
    for (attribute = cookie ? strtok_r(cookie, ";", &saveptr) : NULL; attribute;
         attribute = strtok_r(NULL, ";", &saveptr)) {
        while (*attribute == ' ') {
            attribute++;
        }
        CHECK(strncasecmp(attribute, "Domain", 6) != 0
              && strncasecmp(attribute, "Max-Age", 7) != 0
              && strncasecmp(attribute, "Expires", 7) != 0,
              "the cookie took the attribute \"%s\" from the request path",
              attribute);
        if (strncasecmp(attribute, "Path=", 5) == 0) {
            paths++;
            CHECK(strcmp(attribute + 5, expected_path) == 0,
                  "cookie Path \"%s\", expected \"%s\"", attribute + 5,
                  expected_path);
        }
    }
    CHECK(paths == 1, "%d Path attributes in the cookie", paths);
    CHECK(r.body && strstr(r.body, "action=\"/l/%3bDomain=x%3bMax-Age=9%3bPath=/%3bx/\""),
          "the form's action is not the escaped path:\n%.800s", str_or_null(r.body));
    free(cookie);
    http_response_free(&r);
}

/* A cookie another site could plant (a sibling subdomain, plain http)
 * with the same value in the field: not a token this server made. */
static void test_planted_csrf_cookie_refused(void)
{
    static const char *const planted[] = {
        "0123456789abcdef0123456789abcdef",                 /* the old shape */
        "000000000000000000000000000000000000000000000000", /* the new one */
    };
    size_t i;

    for (i = 0; i < sizeof planted / sizeof *planted; i++) {
        long status = post_form("/l", "https%3A%2F%2Fexample.com%2Fplanted",
                                planted[i], planted[i], NULL);
        CHECK(status == 403, "planted token %s: %ld, expected 403", planted[i],
              status);
    }
}

/* A form posted from a page of another site carries that site's Origin. */
static void test_foreign_origin_refused(void)
{
    char *token = form_token("/l"), *own = xasprintf("http://127.0.0.1:%d", g_srv->port);
    long status;

    if (token == NULL) {
        free(own);
        return;
    }
    status = post_form("/l", "https%3A%2F%2Fexample.com%2Forigin1", token, token,
                       "https://evil.example");
    CHECK(status == 403, "Origin https://evil.example: %ld, expected 403", status);
    status = post_form("/l", "https%3A%2F%2Fexample.com%2Forigin2", token, token,
                       "null");
    CHECK(status == 403, "Origin null: %ld, expected 403", status);
    status = post_form("/l", "https%3A%2F%2Fexample.com%2Forigin3", token, token,
                       "http://127.0.0.1:1");
    CHECK(status == 403, "Origin of another port: %ld, expected 403", status);
    status = post_form("/l", "https%3A%2F%2Fexample.com%2Forigin4", token, token, own);
    CHECK(status == 201, "Origin %s: %ld, expected 201", own, status);
    status = post_form("/l", "https%3A%2F%2Fexample.com%2Forigin5", token, token, NULL);
    CHECK(status == 201, "no Origin: %ld, expected 201", status);
    free(token);
    free(own);
}

/* The key is kept across a graceful restart: a form loaded before it can
 * be posted after it. */
static void test_form_survives_graceful_restart(void)
{
    char *token = form_token("/l");
    long status;

    if (token == NULL) {
        return;
    }
    CHECK(httpd_graceful(g_srv) == 0, "graceful restart failed");
    status = post_form("/l", "https%3A%2F%2Fexample.com%2Fgraceful", token, token,
                       NULL);
    CHECK(status == 201, "a form from before the graceful restart: %ld, "
          "expected 201", status);
    free(token);
}

/* ------------------------------------------------------------------ */
/* slugs that would shadow another page                               */
/* ------------------------------------------------------------------ */

/* Creating slug at <prefix>/ over JSON must answer status. */
static void expect_slug_at(int line, const char *prefix, const char *slug,
                           long status)
{
    char *json = xasprintf("{\"url\": \"https://example.com/shadow/%s\", "
                           "\"slug\": \"%s\"}", slug, slug);
    char *path = xasprintf("%s/", prefix);
    http_response r;

    post_json(path, json, &r);
    check_at(line, r.status == status, "POST %s slug %s: %ld %.300s; expected %ld",
             path, slug, r.status, str_or_null(r.body), status);
    http_response_free(&r);
    free(json);
    free(path);
}

static void test_slugs_that_would_shadow_refused(void)
{
    http_response r;

    /* A <Location> of its own under the <Location /> that creates. */
    expect_slug_at(__LINE__, "", "server-status", 409);
    expect_at(__LINE__, "GET", NULL, "/server-status", 200, NULL, &r);
    CHECK(r.body && strstr(r.body, "Server Status"), "GET /server-status is "
          "not mod_status's page:\n%.300s", str_or_null(r.body));
    http_response_free(&r);
    /* A <LocationMatch> that takes /l/adm... but not /l/ itself. */
    expect_slug_at(__LINE__, "/l", "admin", 409);
    expect_slug_at(__LINE__, "/l", "ad", 201);
    /* A file in the DocumentRoot. */
    expect_slug_at(__LINE__, "", "existing-file", 409);
    /* Reserved names, in any case, at any location. */
    expect_slug_at(__LINE__, "/l", "server-info", 409);
    expect_slug_at(__LINE__, "/l", "Favicon", 409);
    expect_slug_at(__LINE__, "", "not-shadowing", 201);
}

/* ------------------------------------------------------------------ */
/* click cells of deleted links are reused                            */
/* ------------------------------------------------------------------ */

/* MinilinkClickCells in findings_config, and the links made and deleted
 * per round: four rounds make and delete three times as many links as
 * the table has cells. */
#define CLICK_CELLS 32
#define CHURN_LINKS 24
#define CHURN_ROUNDS 4
/* The bounded wait for the refresher (every second) to apply a change. */
#define CHANGE_WAIT_MS 10000

/* Polls path until it answers status; checked.  HEAD, which is no click. */
static void wait_status_at(int line, const char *path, long status)
{
    long start = now_ms();
    http_response r;
    long seen = 0;

    do {
        http_request(g_srv->port, "HEAD", NULL, path, &r);
        seen = r.status;
        http_response_free(&r);
        if (seen == status) {
            return;
        }
        sleep_ms(100);
    } while (now_ms() - start < CHANGE_WAIT_MS);
    check_at(line, 0, "GET %s still answers %ld after %d ms, expected %ld",
             path, seen, CHANGE_WAIT_MS, status);
}

/* The clicks column of slug in the file itself (-1 if none), read with a
 * connection of our own, whose files are then given back to the server. */
static long stored_clicks(const char *db, const char *slug)
{
    sqlite3 *handle = NULL;
    sqlite3_stmt *query = NULL;
    long clicks = -1;

    if (sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(handle, "SELECT clicks FROM links WHERE slug = ?1",
                              -1, &query, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(handle, 5000);
        sqlite3_bind_text(query, 1, slug, -1, SQLITE_STATIC);
        if (sqlite3_step(query) == SQLITE_ROW) {
            clicks = (long)sqlite3_column_int64(query, 0);
        }
    }
    sqlite3_finalize(query);
    sqlite3_close(handle);
    chown_database(db);
    return clicks;
}

/*
 * A long-running server that makes and deletes more links than its click
 * table has cells still counts the clicks of a new link in shared memory:
 * after five clicks the file holds none of them (nothing was written per
 * request), the admin page's flush writes all five, exactly.
 */
static void test_click_cells_of_deleted_links_reused(void)
{
    char *db = path_of("clicks.db"), *sql, *last;
    json_error_t error;
    json_t *link;
    http_response r;
    int round, i;

    for (round = 0; round < CHURN_ROUNDS; round++) {
        sql = xasprintf("INSERT INTO links (slug, url, created_at, updated_at) "
                        "VALUES ('r%d_0', 'https://example.com/churn', 1, 1)",
                        round);
        for (i = 1; i < CHURN_LINKS; i++) {
            char *more = xasprintf("%s, ('r%d_%d', 'https://example.com/churn', 1, 1)",
                                   sql, round, i);
            free(sql);
            sql = more;
        }
        CHECK(db_exec(db, sql) == 0, "round %d: cannot insert", round);
        free(sql);
        last = xasprintf("/c/r%d_%d", round, CHURN_LINKS - 1);
        wait_status_at(__LINE__, last, 302);
        sql = xasprintf("DELETE FROM links WHERE slug LIKE 'r%d\\_%%' ESCAPE '\\'",
                        round);
        CHECK(db_exec(db, sql) == 0, "round %d: cannot delete", round);
        wait_status_at(__LINE__, last, 404);
        free(sql);
        free(last);
    }
    CHECK(db_exec(db, "INSERT INTO links (slug, url, created_at, updated_at) "
                      "VALUES ('fresh', 'https://example.com/fresh', 1, 1)") == 0,
          "cannot insert fresh");
    wait_status_at(__LINE__, "/c/fresh", 302);
    for (i = 0; i < 5; i++) {
        GET("/c/fresh", 302, "https://example.com/fresh");
    }
    CHECK(stored_clicks(db, "fresh") == 0, "the file holds %ld clicks of fresh "
          "before any flush: they were written per request, not counted in "
          "shared memory", stored_clicks(db, "fresh"));
    expect_at(__LINE__, "GET", NULL, "/cadmin/links/fresh", 200, NULL, &r);
    link = r.body ? json_loads(r.body, 0, &error) : NULL;
    CHECK(link && json_integer_value(json_object_get(link, "clicks")) == 5,
          "admin: %s", str_or_null(r.body));
    json_decref(link);
    http_response_free(&r);
    CHECK(stored_clicks(db, "fresh") == 5, "after the flush the file holds %ld "
          "clicks of fresh, expected 5", stored_clicks(db, "fresh"));
    /* keep1, keep2 and fresh count; no click was made through an old
     * record, so none was dropped. */
    expect_at(__LINE__, "GET", NULL, "/cadmin/", 200, NULL, &r);
    link = r.body ? json_loads(r.body, 0, &error) : NULL;
    CHECK(link && json_integer_value(json_object_get(link, "click_cells")) == CLICK_CELLS
          && json_integer_value(json_object_get(link, "click_cells_counting")) == 3
          && json_integer_value(json_object_get(link, "clicks_dropped")) == 0,
          "admin totals: %s", str_or_null(r.body));
    json_decref(link);
    http_response_free(&r);
    free(db);
}

/* ------------------------------------------------------------------ */
/* the suites                                                         */
/* ------------------------------------------------------------------ */

static void test_findings_error_log_clean(void)
{
    EXPECT_ERROR_LOG_CLEAN();
}

static CU_TestInfo findings_tests[] = {
    { "blocked hosts in any spelling a browser reads are refused", test_blocked_hosts_in_any_spelling },
    { "the server's own names and addresses in any spelling are refused", test_own_hosts_in_any_spelling },
    { "a slug with '-' first: an old one is served, a new one refused", test_slug_with_a_dash_first },
    { "the CSRF cookie takes no attribute from the request path", test_cookie_path_carries_no_request_attributes },
    { "a planted CSRF cookie and field are refused", test_planted_csrf_cookie_refused },
    { "a form posted with another site's Origin is refused", test_foreign_origin_refused },
    { "a form loaded before a graceful restart is accepted after it", test_form_survives_graceful_restart },
    { "slugs that would hide a <Location>, a file or a reserved name are refused", test_slugs_that_would_shadow_refused },
    { "clicks of new links are counted in memory after more links than cells came and went", test_click_cells_of_deleted_links_reused },
    { "error log: no crash, no core error", test_findings_error_log_clean },
    CU_TEST_INFO_NULL,
};

static int start_findings_server(const char *mpm)
{
    char *db = NULL, *clicks_db = NULL, *config = NULL, *file = NULL;
    int rc = -1, wild_port;

    g_failures_at_init = CU_get_number_of_failures();
    g_srv = httpd_new(mpm);
    if (g_srv != NULL && (wild_port = free_port()) > 0) {
        httpd_load_module(g_srv, "slotmem_shm_module", "mod_slotmem_shm.so");
        httpd_load_module(g_srv, "status_module", "mod_status.so");
        config = xasprintf("Listen %d\n%s", wild_port, findings_config);
        db = path_of("links.db");
        clicks_db = path_of("clicks.db");
        file = path_of("htdocs/existing-file");
        rc = db_store_links(db, findings_links,
                            sizeof findings_links / sizeof *findings_links) == 0
             && db_exec(db, "INSERT INTO links (slug, url, created_at, updated_at)"
                            " VALUES ('-old', 'https://example.com/old-dash',"
                            " 1700000000, 1700000000)") == 0
             && db_store_links(clicks_db, click_links,
                               sizeof click_links / sizeof *click_links) == 0
             && write_file(file, "a page\n", 7) == 0
             && httpd_write_config(g_srv, config) == 0
             && httpd_start(g_srv) == 0 ? 0 : -1;
    }
    if (rc != 0) {
        fprintf(stderr, "findings suite (%s): cannot start httpd\n", mpm);
        httpd_free(g_srv);
        g_srv = NULL;
        g_tests_not_run += count_tests(findings_tests);
    }
    free(db);
    free(clicks_db);
    free(config);
    free(file);
    return rc;
}

static int init_findings_event(void) { return start_findings_server("event"); }
static int init_findings_worker(void) { return start_findings_server("worker"); }
static int init_findings_prefork(void) { return start_findings_server("prefork"); }

static CU_SuiteInfo findings_suites[] = {
    { "findings-event", init_findings_event, suite_cleanup, NULL, NULL, findings_tests },
    { "findings-worker", init_findings_worker, suite_cleanup, NULL, NULL, findings_tests },
    { "findings-prefork", init_findings_prefork, suite_cleanup, NULL, NULL, findings_tests },
    CU_SUITE_INFO_NULL,
};

void add_findings_suites(void)
{
    if (CU_register_suites(findings_suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot register the findings suites: %s\n",
                CU_get_error_msg());
    }
}
