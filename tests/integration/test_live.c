/*
 * test_live.c - a running mod_minilink keeps up with its database, and creates links over HTTP.
 *
 * Suites "live-event", "live-worker" and "live-prefork", with MinilinkRefreshInterval 1: changes
 * made with the minilink command or plain SQL are served without a restart; the form and the JSON
 * API create links (CSRF, validation, the rate limit, Basic auth on POST); previews; a killed
 * refresher is replaced; graceful restarts under load while links are being added.  Suite
 * "live-overflow" (event MPM) fills a table past its room and checks that no link is lost.
 *
 * "Served within the refresh interval" is checked by polling, never a fixed sleep and one look;
 * each wait prints what it took, e.g. "[CLI add -> 302: 612 ms]".
 */
#include <pthread.h>

#include "ml_test.h"

#define RATE_LIMIT 5        /* MinilinkCreateRateLimit on /l */
#define RATE_PERIOD 60
#define AUTH_USER "alice"
#define AUTH_PASSWORD "wonderland"
#define SERVER_NAME "go.live.test"

/* The default vhost of 127.0.0.1:PORT.  /l creates links for anyone, with a blocked host and a
 * rate limit; /auth needs Basic credentials for POST only.  LogLevel minilink:debug makes the
 * refresher log ML00009 lines, whose [pid N] tells which process it is. */
static const char live_config[] =
    "MinilinkRefreshInterval 1\n"
    "LogLevel minilink:debug\n"
    VHOST(SERVER_NAME,
          "MinilinkDatabase links.db\n"
          MINILINK_AT("/l", "MinilinkCreate On\nMinilinkCreateBlockHosts blocked.example\n"
                            "MinilinkCreateRateLimit 5 60\n")
          MINILINK_AT("/auth", "MinilinkCreate On\n<Limit POST>\n" BASIC_AUTH "</Limit>\n"));

/* A change is served within WAIT_FOR's bounded poll. */
#define WAIT_FOR(what, since, path, status, location) \
    wait_answer_at(HERE, (what), g_srv, "GET", NULL, (path), (status), (location), (since), 100)

#define SQL(...) CHECK(db_exec(tpath("links.db"), tfmt(__VA_ARGS__)) == 0, "SQL: " __VA_ARGS__)

/* The rate limit counts, per client address and across the server, every creation that passed
 * validation: 201 (created), 200 (a URL that had a link) and 409 (slug taken) alike.  Every POST
 * here goes through post_at(), which counts those, so the rate-limit test knows how many are left.
 */
static int g_rate_counted;
static long g_rate_window_ms;   /* when the first counted POST was sent */

/* POSTs body to path with headers (and credentials), counted, its status checked. */
static http_response *post_at(int line, const char *path, const char *const *headers,
                              const char *body, const char *userpwd, long status)
{
    http_request_spec req = { "POST", NULL, path, headers, body, strlen(body), userpwd };
    long sent = now_ms();
    http_response *r = ask_spec(g_srv, &req);

    if ((r->status == 200 || r->status == 201 || r->status == 409) && g_rate_counted++ == 0) {
        g_rate_window_ms = sent;
    }
    if (check_at(line, r->curl_code == 0, "POST %s %.200s: transport error: %s", path, body,
                 r->error)) {
        check_at(line, r->status == status, "POST %s %.200s: status %ld, expected %ld; "
                 "body:\n%.600s", path, body, r->status, status, r->body);
    }
    return r;
}

static const char *const json_headers[] = { "Content-Type: application/json", NULL };
#define POST_JSON(path, json, status) post_at(__LINE__, (path), json_headers, (json), NULL, status)

/* POSTs the form with url (encoded here), and a csrf field and cookie unless NULL. */
static http_response *post_form_at(int line, const char *url, const char *csrf_field,
                                   const char *csrf_cookie, long status)
{
    char *encoded = tfmt("%s", ""), *body;
    const char *headers[] = { "Content-Type: application/x-www-form-urlencoded",
                              csrf_cookie ? tfmt("Cookie: minilink_csrf=%s", csrf_cookie) : NULL,
                              NULL };

    for (; *url; url++) {
        encoded = isalnum((unsigned char)*url) || strchr("-._~", *url)
                  ? tfmt("%s%c", encoded, *url) : tfmt("%s%%%02X", encoded, (unsigned char)*url);
    }
    body = csrf_field ? tfmt("url=%s&csrf=%s", encoded, csrf_field) : tfmt("url=%s", encoded);
    return post_at(line, "/l/", headers, body, NULL, status);
}

/* A JSON answer with an "error" (a 4xx). */
static void expect_json_error_at(int line, const char *what, const http_response *r)
{
    char *type = tkeep(http_header(r, "Content-Type")), *error = json_text(r->body, "error");
    check_at(line, type && strncmp(type, "application/json", 16) == 0,
             "%s: Content-Type \"%s\", expected application/json", what, str_or_null(type));
    check_at(line, error && *error, "%s: no \"error\" in the JSON answer: %.300s", what, r->body);
}

/* "http://127.0.0.1:PORT<path>": what the module builds short URLs from. */
static char *own_url(const char *path)
{
    return tfmt("http://127.0.0.1:%d%s", g_srv->port, path);
}

/* ---- live refresh, no graceful restart ------------------------------ */

static void test_cli_link_served_live(void)
{
    GET("/l/cli1", 404, NULL);
    if (CLI_EXPECT(0, NULL, "add", "https://example.com/cli/1", "cli1")) {
        WAIT_FOR("CLI add", now_ms(), "/l/cli1", 302, "https://example.com/cli/1");
    }
}

static void test_sql_changes_served_live(void)
{
    const char *changed = "https://example.com/sql/1-changed";

    GET("/l/sql1", 404, NULL);
    if (!SQL("INSERT INTO links (slug, url) VALUES ('sql1', 'https://example.com/sql/1')")) {
        return;
    }
    WAIT_FOR("SQL insert", now_ms(), "/l/sql1", 302, "https://example.com/sql/1");
    SQL("UPDATE links SET url = '%s' WHERE slug = 'sql1'", changed);
    WAIT_FOR("SQL url", now_ms(), "/l/sql1", 302, changed);
    SQL("UPDATE links SET status = 301 WHERE slug = 'sql1'");
    WAIT_FOR("SQL status=301", now_ms(), "/l/sql1", 301, changed);
    SQL("UPDATE links SET disabled = 1 WHERE slug = 'sql1'");
    WAIT_FOR("SQL disabled=1", now_ms(), "/l/sql1", 410, NULL);
    /* Enabled again, so that the expiry below is what makes it 410. */
    SQL("UPDATE links SET disabled = 0 WHERE slug = 'sql1'");
    WAIT_FOR("SQL disabled=0", now_ms(), "/l/sql1", 301, changed);
    SQL("UPDATE links SET expires_at = %lld WHERE slug = 'sql1'", (long long)time(NULL) - 60);
    WAIT_FOR("SQL expired", now_ms(), "/l/sql1", 410, NULL);
    SQL("DELETE FROM links WHERE slug = 'sql1'");
    WAIT_FOR("SQL delete", now_ms(), "/l/sql1", 404, NULL);
}

/* ---- creation over HTTP --------------------------------------------- */

static void test_form_page(void)
{
    form_token_at(HERE, "/l");
}

static void test_form_post_creates(void)
{
    const char *target = "https://example.com/form/1";
    char *token = form_token_at(HERE, "/l"), *prefix = own_url("/l/"), *type, *slug;
    http_response *r;
    long t;

    if (token == NULL) {
        return;
    }
    r = post_form_at(__LINE__, target, token, token, 201);
    t = now_ms();
    type = tkeep(http_header(r, "Content-Type"));
    CHECK(type && strncmp(type, "text/html", 9) == 0, "form POST: Content-Type \"%s\", "
          "expected text/html", str_or_null(type));
    if (CHECK(r->location && strncmp(r->location, prefix, strlen(prefix)) == 0,
              "form POST: Location \"%s\", expected %s<slug>", str_or_null(r->location),
              prefix)) {
        slug = r->location + strlen(prefix);
        CHECK(strlen(slug) >= 6 && strspn(slug, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
              "rstuvwxyz0123456789-_") == strlen(slug), "form POST: the made-up slug \"%s\" "
              "is not 6+ slug characters", slug);
        EXPECT_HAS(r->body, r->location, "form POST: the page showing the short URL");
        /* In the shared table before the answer: no wait should be needed. */
        WAIT_FOR("form-created link", t, tfmt("/l/%s", slug), 302, target);
    }
}

static void test_form_without_token_refused(void)
{
    const char *target = "https://example.com/form/refused";
    char *token = form_token_at(HERE, "/l");
    post_form_at(__LINE__, target, NULL, NULL, 403);
    if (token) {
        post_form_at(__LINE__, target, token, NULL, 403);   /* no cookie */
        post_form_at(__LINE__, target, NULL, token, 403);   /* no field */
        post_form_at(__LINE__, target, "0123456789abcdef0123456789abcdef", token, 403);
    }
}

static void test_json_create(void)
{
    const char *target = "https://example.com/json/1";
    char *short_url = own_url("/l/myslug");
    http_response *r;
    long t;

    r = POST_JSON("/l/", tfmt("{\"url\": \"%s\", \"slug\": \"myslug\"}", target), 201);
    t = now_ms();
    CHECK(strncmp(str_or_null(tkeep(http_header(r, "Content-Type"))), "application/json", 16)
          == 0, "JSON POST: Content-Type is not application/json: %s", r->headers);
    EXPECT_STR(json_text(r->body, "slug"), "myslug", "JSON POST: slug (body %s)", r->body);
    EXPECT_STR(json_text(r->body, "short_url"), short_url, "JSON POST: short_url");
    EXPECT_STR(json_text(r->body, "url"), target, "JSON POST: url");
    EXPECT_STR(r->location, short_url, "JSON POST: Location");
    WAIT_FOR("JSON-created link", t, "/l/myslug", 302, target);

    /* The same URL again, no slug asked for: the link it already has. */
    r = POST_JSON("/l/", tfmt("{\"url\": \"%s\"}", target), 200);
    EXPECT_STR(json_text(r->body, "slug"), "myslug", "re-shortening %s: the slug (body %s)",
               target, r->body);
    EXPECT_STR(r->location, short_url, "re-shortening: Location");

    /* The same slug for another URL. */
    r = POST_JSON("/l/", "{\"url\": \"https://example.com/json/other\", \"slug\": \"myslug\"}",
                  409);
    expect_json_error_at(__LINE__, "slug taken", r);
    GET("/l/myslug", 302, target);
}

static void test_create_refusals(void)
{
    const char *refused[] = {
        "{\"url\": \"javascript:alert(1)\"}",
        "{\"url\": \"https://x.blocked.example/\"}",
        "{\"url\": \"https://blocked.example/page\"}",
        tfmt("{\"url\": \"http://127.0.0.1:%d/l/abc\"}", g_srv->port),
        "{\"url\": \"http://" SERVER_NAME "/l/abc\"}",
        "{\"url\": \"ftp://example.com/file\"}",
        "{\"url\": \"\"}",
        "{\"url\": \"https://example.com/\", \"slug\": \"bad slug!\"}",
        "not json",
    };
    static const char *const text_plain[] = { "Content-Type: text/plain", NULL };
    http_request_spec put = { "PUT", NULL, "/l/", text_plain, "https://example.com/put", 23, NULL };
    http_response *r;
    size_t i;

    for (i = 0; i < ARRAY_LEN(refused); i++) {
        expect_json_error_at(__LINE__, refused[i], POST_JSON("/l/", refused[i], 400));
    }
    /* MinilinkCreateMaxURLLength defaults to 2048 bytes: 20 + 2080 here. */
    r = POST_JSON("/l/", tfmt("{\"url\": \"https://example.com/%02080d\"}", 0), 400);
    expect_json_error_at(__LINE__, "a 2100-byte URL", r);
    post_at(__LINE__, "/l/", text_plain, "url=https://example.com/plain", NULL, 415);
    r = ask_spec(g_srv, &put);
    CHECK(r->curl_code == 0 && r->status == 405, "PUT /l/: status %ld (%s), expected 405",
          r->status, r->curl_code ? r->error : "ok");
    CHECK(r->allow && strstr(r->allow, "POST") && strstr(r->allow, "GET"),
          "PUT /l/: Allow \"%s\" does not name GET and POST", str_or_null(r->allow));
}

static void test_echo_escaped(void)
{
    char *token = form_token_at(HERE, "/l");
    http_response *r;

    if (token == NULL) {
        return;
    }
    r = post_form_at(__LINE__, "https://example.com/?q=\"><script>alert(1)</script>", token,
                     token, 400);
    EXPECT_HAS(r->body, "&lt;script&gt;", "the refused URL echoed HTML-escaped");
    EXPECT_LACKS(r->body, "<script>alert", "the refused URL echoed unescaped");
    EXPECT_LACKS(r->body, "\"><script", "a quote of the URL breaking out of its attribute");
    EXPECT_HAS(tkeep(http_header(r, "Content-Security-Policy")), "default-src 'none'",
               "the error page's script-free Content-Security-Policy");
}

/* ---- Basic auth on POST only ---------------------------------------- */

static void test_auth(void)
{
    const char *target = "https://example.com/auth/1";
    char *json = tfmt("{\"url\": \"%s\"}", target), *prefix = own_url("/auth/");
    http_response *r;

    form_token_at(HERE, "/auth");   /* the form needs no login */
    r = post_at(__LINE__, "/auth/", json_headers, json, NULL, 401);
    CHECK(http_headers_contain(r, "WWW-Authenticate: Basic"), "anonymous POST /auth/: no "
          "WWW-Authenticate: Basic; headers:\n%s", r->headers);
    post_at(__LINE__, "/auth/", json_headers, json, AUTH_USER ":wrong", 401);
    r = post_at(__LINE__, "/auth/", json_headers, json, AUTH_USER ":" AUTH_PASSWORD, 201);
    if (CHECK(r->location && strncmp(r->location, prefix, strlen(prefix)) == 0,
              "POST /auth/ with credentials: Location \"%s\", expected %s<slug>",
              str_or_null(r->location), prefix)) {
        /* Redirects need no login. */
        WAIT_FOR("auth-created link", now_ms(), tfmt("/auth/%s", r->location + strlen(prefix)),
                 302, target);
    }
    GET("/auth/s03", 302, "https://example.com/load/03?n=3");
}

/* ---- the rate limit (after every other creation of the suite) ------- */

static void test_rate_limit(void)
{
    http_response *r;
    char *retry;
    int i, left;

    /* The window opened with the suite's first counted POST: near its end, wait for a fresh one
     * rather than guess where the server's count is. */
    if (g_rate_counted > 0 && now_ms() - g_rate_window_ms > (RATE_PERIOD - 10) * 1000L) {
        long wait = g_rate_window_ms + (RATE_PERIOD + 1) * 1000L - now_ms();
        fprintf(stderr, "[rate-limit window nearly over: waiting %ld ms] ", wait);
        sleep_ms(wait > 0 ? wait : 0);
        g_rate_counted = 0;
    }
    left = RATE_LIMIT - g_rate_counted;
    CHECK(left >= 0, "%d creations counted already, more than the limit of %d",
          g_rate_counted, RATE_LIMIT);
    for (i = 0; i < left; i++) {
        POST_JSON("/l/", tfmt("{\"url\": \"https://example.com/rate/%d\"}", i), 201);
    }
    r = POST_JSON("/l/", "{\"url\": \"https://example.com/rate/over\"}", 429);
    expect_json_error_at(__LINE__, "over the rate limit", r);
    retry = tkeep(http_header(r, "Retry-After"));
    CHECK(retry && atol(retry) >= 1 && atol(retry) <= RATE_PERIOD, "429: Retry-After "
          "\"%s\", expected 1 to %d seconds", str_or_null(retry), RATE_PERIOD);
    /* Refused before any lookup: an existing URL is refused as well. */
    POST_JSON("/l/", "{\"url\": \"https://example.com/json/1\"}", 429);
    GET("/l/myslug", 302, "https://example.com/json/1");   /* redirects are not limited */
}

/* ---- preview -------------------------------------------------------- */

static void test_preview(void)
{
    const char *escaped = "https://example.com/preview?a=1&amp;b=2";
    http_response *r;
    char *type;

    /* created_at 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT. */
    SQL("INSERT INTO links (slug, url, created_at) VALUES "
        "('prev1', 'https://example.com/preview?a=1&b=2', 1700000000)");
    /* A preview reads the file itself: no wait for the refresher. */
    r = GET("/l/prev1+", 200, NULL);
    type = tkeep(http_header(r, "Content-Type"));
    CHECK(type && strncmp(type, "text/html", 9) == 0, "preview: Content-Type \"%s\", "
          "expected text/html", str_or_null(type));
    EXPECT_HAS(r->body, escaped, "preview: the target HTML-escaped");
    EXPECT_LACKS(r->body, "a=1&b=2", "preview: the target unescaped");
    EXPECT_HAS(r->body, "14 Nov 2023 22:13:20", "preview: the creation time");
    EXPECT_HAS(r->body, tfmt("href=\"%s\"", escaped), "preview: a link to follow");
    GET("/l/nosuch+", 404, NULL);
    /* The link itself redirects once the refresher has it. */
    WAIT_FOR("SQL insert (preview)", now_ms(), "/l/prev1", 302,
             "https://example.com/preview?a=1&b=2");
}

/* ---- the refresher is replaced when it dies ------------------------- */

static void test_refresher_killed(void)
{
    pid_t old_pid = refresher_pid_after_cli_at(HERE, "rf1", "https://example.com/refresher/1");
    pid_t new_pid;

    WAIT_FOR("CLI add", now_ms(), "/l/rf1", 302, "https://example.com/refresher/1");
    if (old_pid <= 0) {
        return;
    }
    fprintf(stderr, "[refresher %d killed; ML00023 after %ld ms] ", (int)old_pid,
            kill_refresher_at(HERE, old_pid));
    new_pid = refresher_pid_after_cli_at(HERE, "rf2", "https://example.com/refresher/2");
    WAIT_FOR("CLI add after the kill", now_ms(), "/l/rf2", 302, "https://example.com/refresher/2");
    CHECK(new_pid != old_pid, "the refresher after the kill has the old pid %d", (int)old_pid);
    GET("/l/rf1", 302, "https://example.com/refresher/1");
}

/* ---- graceful restarts under load while links are added ------------- */

#define MAX_ADDED 200
#define ADD_EVERY_MS 250

/* The thread that adds links with the CLI during the graceful restarts.  No CUnit calls nor the
 * test's memory (this is not the test's thread): the test checks the counts. */
typedef struct {
    int port;
    int stop;                  /* atomic */
    int added;                 /* links the CLI added: gl000 .. */
    long committed[MAX_ADDED]; /* now_ms() when each add returned */
    int served[MAX_ADDED];     /* seen served, or given up on */
    int cli_failures;
    int not_served;            /* added, not served within BOUNDED_WAIT_MS */
    long max_delay, max_cli_ms;
    char first_problem[512];
} link_adder;

/* Adds gl000, gl001... every ADD_EVERY_MS, and GETs each added link until it is served (or
 * BOUNDED_WAIT_MS passed), so that links are added just before, during and after each restart;
 * once stopped, waits for the last ones.  A link is asked before it is given up on: this thread
 * also runs the CLI, and one slow add must not count as a link nobody looked for. */
static void *link_adder_run(void *arg)
{
    link_adder *a = arg;
    http_client *http = http_client_new(a->port);
    long next_add = now_ms(), t;
    int i, pending = 1;
    char *output, url[64], slug[16];

    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE) || pending) {
        if (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE) && now_ms() >= next_add
            && a->added < MAX_ADDED) {
            const char *args[] = { "add", url, slug, NULL };
            int rc;

            snprintf(slug, sizeof slug, "gl%03d", a->added);
            snprintf(url, sizeof url, "https://example.com/graceful/%03d", a->added);
            t = now_ms();
            rc = cli_run(args, &output);
            a->max_cli_ms = now_ms() - t > a->max_cli_ms ? now_ms() - t : a->max_cli_ms;
            if (rc == 0) {
                a->committed[a->added++] = now_ms();
            }
            else if (a->cli_failures++ == 0) {
                snprintf(a->first_problem, sizeof a->first_problem, "minilink add %s %s exited "
                         "%d: %s", url, slug, rc, output);
            }
            free(output);
            next_add = now_ms() + ADD_EVERY_MS;
        }
        for (i = pending = 0; i < a->added; i++) {
            char path[16];
            http_response r;

            if (a->served[i]) {
                continue;
            }
            snprintf(path, sizeof path, "/l/gl%03d", i);
            snprintf(url, sizeof url, "https://example.com/graceful/%03d", i);
            http_client_request(http, "GET", NULL, path, &r);
            t = now_ms() - a->committed[i];
            if (response_is(&r, 302, url)) {
                a->served[i] = 1;
                a->max_delay = t > a->max_delay ? t : a->max_delay;
            }
            else if (t > BOUNDED_WAIT_MS) {   /* given up on: counted once */
                a->served[i] = 1;
                if (a->not_served++ == 0) {
                    snprintf(a->first_problem, sizeof a->first_problem, "%s was not served "
                             "within %d ms of its CLI add", path, BOUNDED_WAIT_MS);
                }
            }
            pending += !a->served[i];
            http_response_free(&r);
        }
        sleep_ms(50);
    }
    http_client_free(http);
    return NULL;
}

static void test_graceful_under_load_live(void)
{
    static link_adder adder;   /* static: a few KB of arrays */
    pthread_t adder_thread;
    int adder_started, i;

    memset(&adder, 0, sizeof adder);
    adder.port = g_srv->port;
    adder_started = pthread_create(&adder_thread, NULL, link_adder_run, &adder) == 0;
    CHECK(adder_started, "cannot start the link adder");
    gracefuls_under_load_at(HERE, 3, 1000, 0, NULL);
    __atomic_store_n(&adder.stop, 1, __ATOMIC_RELEASE);
    if (adder_started) {
        pthread_join(adder_thread, NULL);
    }
    fprintf(stderr, "[%d links added, slowest CLI %ld ms, slowest served %ld ms after commit%s%s] ",
            adder.added, adder.max_cli_ms, adder.max_delay,
            adder.first_problem[0] ? "; first problem: " : "", adder.first_problem);
    CHECK(adder.added >= 3, "only %d links added during the graceful restarts", adder.added);
    CHECK(adder.cli_failures == 0, "%d CLI runs failed", adder.cli_failures);
    CHECK(adder.not_served == 0, "%d of %d links added during the graceful restarts were "
          "not served within %d ms", adder.not_served, adder.added, BOUNDED_WAIT_MS);
    for (i = 0; i < adder.added; i++) {   /* all of them, now the restarts are over */
        GET(tfmt("/l/gl%03d", i), 302, tfmt("https://example.com/graceful/%03d", i));
    }
    expect_log_clean_at(HERE, g_srv, (const char *const[]){ "AH00052", "AH00060",
                                                             "Segmentation fault", NULL });
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
    CU_TEST_INFO_NULL,
};

static int reset_rate_count(void)
{
    g_rate_counted = 0;
    return 0;
}

static const suite_group live_group = {
    .name = "live", .tests = live_tests, .config = live_config, .load_links = 1,
    .modules = "slotmem_shm auth_basic authn_file authz_user",   /* slotmem: the rate limit */
    .passwd = AUTH_USER ":" AUTH_PASSWORD, .prepare = reset_rate_count,
};

/* ---- cache overflow (suite live-overflow) --------------------------- */

#define OVERFLOW_LINKS 1100

/* "holds up to N links" in the newest ML00002 line; -1 if none. */
static long cache_capacity(void)
{
    char *line = tkeep(httpd_error_log_last_line(g_srv, "ML00002"));
    const char *p = line ? strstr(line, "holds up to ") : NULL;
    return p ? strtol(p + 12, NULL, 10) : -1;
}

/* GETs every overflow link on one keep-alive connection; reports the first few wrong ones. */
static void check_overflow_links_at(int line, const char *when)
{
    http_client *http = http_client_new(g_srv->port);
    long t = now_ms();
    int i, wrong = 0;

    for (i = 0; i < OVERFLOW_LINKS; i++) {
        char *path = tfmt("/l/ov%04d", i), *url = tfmt("https://example.com/overflow/%04d", i);
        http_response r;

        http_client_request(http, "GET", NULL, path, &r);
        if (!response_is(&r, 302, url) && wrong++ < 5) {
            check_at(line, 0, "%s: GET %s: %ld, Location \"%s\" (%s); expected 302 %s", when,
                     path, r.status, str_or_null(r.location), r.curl_code ? r.error : "ok",
                     url);
        }
        http_response_free(&r);
    }
    http_client_free(http);
    check_at(line, wrong == 0, "%s: %d of %d links answered wrong", when, wrong, OVERFLOW_LINKS);
    fprintf(stderr, "[%s: %d links checked in %ld ms] ", when, OVERFLOW_LINKS, now_ms() - t);
}

static void test_overflow_never_drops(void)
{
    long capacity = cache_capacity(), t;

    CHECK(capacity > 0 && capacity < OVERFLOW_LINKS, "the empty database's table holds %ld "
          "links; expected fewer than %d (MinilinkCacheHeadroom 0)", capacity, OVERFLOW_LINKS);
    fprintf(stderr, "[table holds %ld links] ", capacity);
    /* One statement: the refresher sees all of them at once. */
    if (!SQL("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO links (slug, url) SELECT printf('ov%%04d', i), "
             "printf('https://example.com/overflow/%%04d', i) FROM n", OVERFLOW_LINKS - 1)) {
        return;
    }
    t = now_ms();
    WAIT_FOR("last of 1100 inserted", t, "/l/ov1099", 302, "https://example.com/overflow/1099");
    WAIT_FOR("first of 1100 inserted", t, "/l/ov0000", 302, "https://example.com/overflow/0000");
    check_overflow_links_at(__LINE__, "overflowed table");
    CHECK(httpd_error_log_wait(g_srv, "ML00021", 0, BOUNDED_WAIT_MS) >= 0,
          "no ML00021 line (links did not fit) in the error log");
    /* One more that does not fit is served too, and not said again. */
    if (SQL("INSERT INTO links (slug, url) VALUES ('ovmore', 'https://example.com/overflow/more')")) {
        t = now_ms();
        WAIT_FOR("one more after the overflow", t, "/l/ovmore", 302,
                 "https://example.com/overflow/more");
    }
    EXPECT_EQ(httpd_error_log_count(g_srv, "ML00021"), 1, "ML00021 lines for one full table");
    CHECK(httpd_graceful(g_srv) == 0, "graceful restart failed");
    check_overflow_links_at(__LINE__, "after a graceful restart");
    capacity = cache_capacity();
    CHECK(capacity >= OVERFLOW_LINKS, "after the graceful restart the table holds %ld "
          "links, fewer than the %d in the database", capacity, OVERFLOW_LINKS);
}

static CU_TestInfo overflow_tests[] = {
    { "cache overflow never drops a link", test_overflow_never_drops },
    CU_TEST_INFO_NULL,
};

/* An empty database and no headroom: the table holds 1024 links. */
static const suite_group overflow_group = {
    .name = "live-overflow", .mpm = "event", .tests = overflow_tests,
    .config = "MinilinkRefreshInterval 1\nMinilinkCacheHeadroom 0\nLogLevel minilink:debug\n"
              "MinilinkDatabase links.db\n" MINILINK_AT("/l", ""),
};

void add_live_suites(void)
{
    add_group(&live_group);
    add_group(&overflow_group);
}
