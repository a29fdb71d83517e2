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
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ml_test.h"

#define SERVER_NAME "go.findings.test"

/* After a "Listen PORT" on every address (findings_config_of).  Clicks
 * are written only when asked (the admin page) or at a graceful restart,
 * and click tables are small (CLICK_CELLS). */
static const char findings_config[] =
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

/* Creating url at /l/ over JSON must be refused with 400 and an error that
 * contains `reason`. */
static void expect_refused_at(int line, const char *url, const char *reason)
{
    char *json = tfmt("{\"url\": \"%s\"}", url);
    http_response *r = post_json(g_srv, "/l/", json, NULL);

    check_at(line, r->status == 400 && strstr(r->body, reason),
             "POST /l/ %s: %ld %.300s; expected 400 saying \"%s\"", json, r->status, r->body,
             reason);
}

/* Creating url (or url with slug) at <prefix>/ over JSON must answer status. */
static void expect_created_at(int line, const char *prefix, const char *url, const char *slug,
                              long status)
{
    char *json = slug ? tfmt("{\"url\": \"%s\", \"slug\": \"%s\"}", url, slug)
                      : tfmt("{\"url\": \"%s\"}", url);
    http_response *r = post_json(g_srv, tfmt("%s/", prefix), json, NULL);

    check_at(line, r->status == status, "POST %s/ %s: %ld %.300s; expected %ld", prefix, json,
             r->status, r->body, status);
}

/* POSTs the form to <prefix>/ with this url, csrf field, cookie and
 * Origin (each NULL: not sent); returns the status. */
static long post_form(const char *prefix, const char *url, const char *field,
                      const char *cookie, const char *origin)
{
    const char *headers[4] = { "Content-Type: application/x-www-form-urlencoded" };
    char *body = tfmt("url=%s&csrf=%s", url, field ? field : "");
    http_request_spec req = { "POST", NULL, tfmt("%s/", prefix), headers, body,
                              strlen(body), NULL };
    int n = 1;

    if (cookie) {
        headers[n++] = tfmt("Cookie: minilink_csrf=%s", cookie);
    }
    if (origin) {
        headers[n++] = tfmt("Origin: %s", origin);
    }
    return ask_spec(g_srv, &req)->status;
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
    size_t i;

    for (i = 0; i < ARRAY_LEN(blocked); i++) {
        expect_refused_at(__LINE__, blocked[i], "are not accepted here");
    }
    /* Neighbours of the blocked ones are fine. */
    expect_created_at(__LINE__, "/l", "https://notevil.example/", NULL, 201);
    expect_created_at(__LINE__, "/l", "http://10.0.0.2/", NULL, 201);
}

/* Every spelling of the server's own names and addresses, and of the
 * local host's, is a loop. */
static void test_own_hosts_in_any_spelling(void)
{
    const char *const own[] = {
        "http://localhost:%d/l/abc", "http://127.1:%d/l/abc",
        "http://[::1]:%d/l/abc", "http://2130706433:%d/l/abc",
        "http://127.0.0.1%%2e:%d/l/abc", "http://0x7f.1:%d/l/abc",
        "http://0.0.0.0:%d/l/abc", "http://0:%d/l/abc",
        "http://[::ffff:127.0.0.1]:%d/l/abc", "http://127.9.9.9:%d/l/abc",
        "http://" SERVER_NAME "/l/abc", "http://GO.findings.test./l/abc",
        "http://g%%6F.findings.test/l/abc", "http://alias.findings.test/l/abc",
        "http://x.wild.findings.test/l/abc",
    };
    struct ifaddrs *interfaces, *at;
    char address[INET6_ADDRSTRLEN];
    size_t i;
    int others = 0;

    for (i = 0; i < ARRAY_LEN(own); i++) {
        expect_refused_at(__LINE__, tfmt(own[i], g_srv->port), LOOP);
    }
    /* The wildcard Listen makes each of the machine's addresses ours. */
    CHECK(getifaddrs(&interfaces) == 0, "getifaddrs failed");
    for (at = interfaces; at; at = at->ifa_next) {
        const char *url = NULL;
        if (at->ifa_addr && at->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)at->ifa_addr)->sin_addr,
                      address, sizeof address);
            url = tfmt("http://%s/l/abc", address);
        }
        else if (at->ifa_addr && at->ifa_addr->sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)at->ifa_addr)->sin6_addr,
                      address, sizeof address);
            url = tfmt("http://[%s]/l/abc", address);
        }
        if (url) {
            others += strcmp(address, "127.0.0.1") != 0 && strcmp(address, "::1") != 0;
            expect_refused_at(__LINE__, url, LOOP);
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
    http_response *r;

    GET("/l/-old", 302, "https://example.com/old-dash");
    r = post_json(g_srv, "/l/", "{\"url\": \"https://example.com/dash\", \"slug\": \"-h\"}",
                  NULL);
    CHECK(r->status == 400 && strstr(r->body, "must not start with '-'"),
          "slug -h: %ld %.300s", r->status, r->body);
    GET("/l/-h", 404, NULL);
    expect_created_at(__LINE__, "/l", "https://example.com/dash", "a-h", 201);
}

/* ------------------------------------------------------------------ */
/* the CSRF cookie                                                    */
/* ------------------------------------------------------------------ */

/* The request path goes into the CSRF cookie's Path and the form's
 * action: attributes of its own in it must not become the cookie's. */
static void test_cookie_path_carries_no_request_attributes(void)
{
    static const char expected_path[] = "/l/%3bDomain=x%3bMax-Age=9%3bPath=/%3bx/";
    http_response *r = GET("/l/;Domain=x;Max-Age=9;Path=/;x/", 200, NULL);
    char *cookie = tkeep(http_header(r, "Set-Cookie")), *attribute, *saveptr = NULL;
    int paths = 0;

    CHECK(cookie != NULL, "no Set-Cookie; headers:\n%s", r->headers);
    for (attribute = cookie ? strtok_r(cookie, ";", &saveptr) : NULL; attribute;
         attribute = strtok_r(NULL, ";", &saveptr)) {
        attribute += strspn(attribute, " ");
        CHECK(strncasecmp(attribute, "Domain", 6) != 0
              && strncasecmp(attribute, "Max-Age", 7) != 0
              && strncasecmp(attribute, "Expires", 7) != 0,
              "the cookie took the attribute \"%s\" from the request path", attribute);
        if (strncasecmp(attribute, "Path=", 5) == 0) {
            paths++;
            EXPECT_STR(attribute + 5, expected_path, "the cookie's Path");
        }
    }
    EXPECT_EQ(paths, 1, "Path attributes in the cookie");
    EXPECT_HAS(r->body, "action=\"/l/%3bDomain=x%3bMax-Age=9%3bPath=/%3bx/\"",
               "the form's action: the escaped path");
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

    for (i = 0; i < ARRAY_LEN(planted); i++) {
        EXPECT_EQ(post_form("/l", "https%3A%2F%2Fexample.com%2Fplanted", planted[i],
                            planted[i], NULL), 403, "a planted token %s", planted[i]);
    }
}

/* A form posted from a page of another site carries that site's Origin. */
static void test_foreign_origin_refused(void)
{
    static const struct {
        const char *origin;     /* "own": this server's */
        long status;
    } origins[] = {
        { "https://evil.example", 403 }, { "null", 403 }, { "http://127.0.0.1:1", 403 },
        { "own", 201 }, { NULL, 201 },
    };
    char *token = form_token_at(HERE, "/l");
    size_t i;

    for (i = 0; token && i < ARRAY_LEN(origins); i++) {
        const char *origin = origins[i].origin && strcmp(origins[i].origin, "own") == 0
                             ? tfmt("http://127.0.0.1:%d", g_srv->port) : origins[i].origin;
        EXPECT_EQ(post_form("/l", tfmt("https%%3A%%2F%%2Fexample.com%%2Forigin%zu", i), token,
                            token, origin), origins[i].status, "a form with Origin %s",
                  str_or_null(origin));
    }
}

/* The key is kept across a graceful restart: a form loaded before it can
 * be posted after it. */
static void test_form_survives_graceful_restart(void)
{
    char *token = form_token_at(HERE, "/l");

    if (token) {
        CHECK(httpd_graceful(g_srv) == 0, "graceful restart failed");
        EXPECT_EQ(post_form("/l", "https%3A%2F%2Fexample.com%2Fgraceful", token, token, NULL),
                  201, "a form from before the graceful restart");
    }
}

/* ------------------------------------------------------------------ */
/* slugs that would shadow another page                               */
/* ------------------------------------------------------------------ */

static void test_slugs_that_would_shadow_refused(void)
{
    static const struct {
        const char *prefix, *slug;
        long status;
    } slugs[] = {
        /* A <Location> of its own under the <Location /> that creates. */
        { "", "server-status", 409 },
        /* A <LocationMatch> that takes /l/adm... but not /l/ itself. */
        { "/l", "admin", 409 }, { "/l", "ad", 201 },
        /* A file in the DocumentRoot. */
        { "", "existing-file", 409 },
        /* Reserved names, in any case, at any location. */
        { "/l", "server-info", 409 }, { "/l", "Favicon", 409 }, { "", "not-shadowing", 201 },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(slugs); i++) {
        expect_created_at(__LINE__, slugs[i].prefix,
                          tfmt("https://example.com/shadow/%s", slugs[i].slug), slugs[i].slug,
                          slugs[i].status);
    }
    EXPECT_HAS(GET("/server-status", 200, NULL)->body, "Server Status",
               "GET /server-status: mod_status's page");
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

/* Waits until the refresher applied a change to path: HEAD, which is no click. */
#define WAIT_HEAD(what, path, status, location) \
    wait_answer_at(HERE, what, g_srv, "HEAD", NULL, path, status, location, now_ms(), 100)

/* A number field of a JSON object (-1 if it is none). */
static long json_number(const char *body, const char *name)
{
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    json_t *field = root ? json_object_get(root, name) : NULL;
    long value = json_is_integer(field) ? (long)json_integer_value(field) : -1;

    json_decref(root);
    return value;
}

/*
 * A long-running server that makes and deletes more links than its click
 * table has cells still counts the clicks of a new link in shared memory:
 * after five clicks the file holds none of them (nothing was written per
 * request), the admin page's flush writes all five, exactly.
 */
static void test_click_cells_of_deleted_links_reused(void)
{
    char *db = tpath("clicks.db"), *rows;
    http_response *totals;
    int round, i;

    for (round = 0; round < CHURN_ROUNDS; round++) {
        char *last = tfmt("/c/r%d_%d", round, CHURN_LINKS - 1);
        rows = tfmt("('r%d_0', 'https://example.com/churn', 1, 1)", round);
        for (i = 1; i < CHURN_LINKS; i++) {
            rows = tfmt("%s, ('r%d_%d', 'https://example.com/churn', 1, 1)", rows, round, i);
        }
        CHECK(db_exec(db, tfmt("INSERT INTO links (slug, url, created_at, updated_at) VALUES "
                               "%s", rows)) == 0, "round %d: cannot insert", round);
        WAIT_HEAD("churn added", last, 302, "https://example.com/churn");
        CHECK(db_exec(db, tfmt("DELETE FROM links WHERE slug LIKE 'r%d\\_%%' ESCAPE '\\'",
                               round)) == 0, "round %d: cannot delete", round);
        WAIT_HEAD("churn deleted", last, 404, NULL);
    }
    CHECK(db_exec(db, "INSERT INTO links (slug, url, created_at, updated_at) "
                      "VALUES ('fresh', 'https://example.com/fresh', 1, 1)") == 0,
          "cannot insert fresh");
    WAIT_HEAD("fresh added", "/c/fresh", 302, "https://example.com/fresh");
    for (i = 0; i < 5; i++) {
        GET("/c/fresh", 302, "https://example.com/fresh");
    }
    EXPECT_EQ(db_int(db, "SELECT clicks FROM links WHERE slug = 'fresh'"), 0, "clicks of "
              "fresh in the file before any flush (written per request, not counted in shared "
              "memory?)");
    EXPECT_EQ(json_number(GET("/cadmin/links/fresh", 200, NULL)->body, "clicks"), 5,
              "the admin page's clicks of fresh");
    EXPECT_EQ(db_int(db, "SELECT clicks FROM links WHERE slug = 'fresh'"), 5, "clicks of "
              "fresh in the file after the admin page's flush");
    /* keep1, keep2 and fresh count; no click was made through an old
     * record, so none was dropped. */
    totals = GET("/cadmin/", 200, NULL);
    EXPECT_EQ(json_number(totals->body, "click_cells"), CLICK_CELLS, "click cells");
    EXPECT_EQ(json_number(totals->body, "click_cells_counting"), 3, "click cells counting");
    EXPECT_EQ(json_number(totals->body, "clicks_dropped"), 0, "clicks dropped");
}

/* ------------------------------------------------------------------ */
/* the suites                                                         */
/* ------------------------------------------------------------------ */

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
    CU_TEST_INFO_NULL,
};

/* A second Listen, on every address: the machine's own addresses are then the server's. */
static char *findings_config_of(void)
{
    return tfmt("Listen %d\n%s", free_port(), findings_config);
}

/* The click database, and a file in the DocumentRoot that a slug must not hide. */
static int findings_prepare(void)
{
    return db_store_links(tpath("clicks.db"), click_links, ARRAY_LEN(click_links)) == 0
           && write_file(tpath("htdocs/existing-file"), "a page\n", 7) == 0 ? 0 : -1;
}

static const suite_group findings_group = {
    .name = "findings", .tests = findings_tests, .config_of = findings_config_of,
    .modules = "slotmem_shm status", .links = findings_links,
    .nlinks = ARRAY_LEN(findings_links),
    .links_sql = "INSERT INTO links (slug, url, created_at, updated_at)"
                 " VALUES ('-old', 'https://example.com/old-dash', 1700000000, 1700000000)",
    .prepare = findings_prepare,
};

void add_findings_suites(void)
{
    add_group(&findings_group);
}
