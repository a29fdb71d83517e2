/*
 * test_early.c - an early answer is exactly the ordinary path's answer.
 *
 * One httpd, two virtual hosts with the same locations: on port A
 * redirects may be answered from translate_name, on port B
 * "MinilinkEarlyAnswer Off" sends every request down the ordinary path to
 * the handler, through httpd's access control.  Every request of a table
 * (user agents, headers that access rules test, client addresses through
 * mod_remoteip, credentials, methods) is sent to every location on both
 * ports, and the answers must be the same to the byte: status, every
 * header but Date, body.  Then the access log says which path answered on
 * port A: early only where the location has no access rule at all.
 *
 * A third host, C, sets a header server-wide on a condition the ordinary
 * path's fixups could change (env=): early.c must notice it from the
 * configuration and answer every request there after access control.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "ml_test.h"

#define USER "dana"
#define PASSWORD "p4ss"

static int port_b, port_c;

/* The locations, the same in each virtual host.  @LOC@ is the name each
 * is mounted at (so one table serves every location's requests). */
static const char *const locations =
    "    <Location /plain>\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "    <Location /envonly>\n"
    "        SetHandler minilink\n"
    "        SetEnv SEEN_BY_FIXUPS 1\n"
    "    </Location>\n"
    "    <Location /multiviews>\n"
    "        SetHandler minilink\n"
    "        Options +MultiViews\n"
    "    </Location>\n"
    "    <Location /setenvif>\n"
    "        SetHandler minilink\n"
    "        SetEnvIf User-Agent \"BadBot\" block_it\n"
    "        <RequireAll>\n"
    "            Require all granted\n"
    "            Require not env block_it\n"
    "        </RequireAll>\n"
    "    </Location>\n"
    "    <Location /browsermatch>\n"
    "        SetHandler minilink\n"
    "        BrowserMatch \"^BadBot\" block_it\n"
    "        Order allow,deny\n"
    "        Allow from all\n"
    "        Deny from env=block_it\n"
    "    </Location>\n"
    "    <Location /expr>\n"
    "        SetHandler minilink\n"
    "        Require expr \"%{HTTP:X-Token} == 'letmein'\"\n"
    "    </Location>\n"
    "    <Location /remoteip>\n"
    "        SetHandler minilink\n"
    "        Require ip 10.0.0.0/8\n"
    "    </Location>\n"
    "    <Location /host>\n"
    "        SetHandler minilink\n"
    "        Require host localhost\n"
    "    </Location>\n"
    "    <Location /basic>\n"
    "        SetHandler minilink\n"
    "        AuthType Basic\n"
    "        AuthName \"early test\"\n"
    "        AuthUserFile @DIR@/passwd\n"
    "        Require valid-user\n"
    "    </Location>\n"
    "    <Location /satisfy>\n"
    "        SetHandler minilink\n"
    "        AuthType Basic\n"
    "        AuthName \"early test\"\n"
    "        AuthUserFile @DIR@/passwd\n"
    "        Require valid-user\n"
    "        Order deny,allow\n"
    "        Deny from all\n"
    "        Allow from 10.0.0.0/8\n"
    "        Satisfy Any\n"
    "    </Location>\n"
    "    <Location /if>\n"
    "        SetHandler minilink\n"
    "        <If \"%{HTTP:X-Block} == '1'\">\n"
    "            Require all denied\n"
    "        </If>\n"
    "    </Location>\n"
    "    <Location /rewrite>\n"
    "        SetHandler minilink\n"
    "        RewriteEngine On\n"
    "        RewriteCond %{HTTP_USER_AGENT} BadBot\n"
    "        RewriteRule ^ - [F]\n"
    "    </Location>\n"
    "    <Location /alias>\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "    <Location /alias/abc>\n"
    "        Redirect 301 https://moved.example/\n"
    "    </Location>\n"
    "    <Location /headers>\n"
    "        SetHandler minilink\n"
    "        Header always set X-Location-Header here\n"
    "    </Location>\n"
    "    <Location /formauth>\n"
    "        SetHandler minilink\n"
    "    </Location>\n"
    "    <LocationMatch \"^/formauth/(.*/)?$\">\n"
    "        AuthType Basic\n"
    "        AuthName \"early test\"\n"
    "        AuthUserFile @DIR@/passwd\n"
    "        Require valid-user\n"
    "    </LocationMatch>\n"
    "    <Location /limit>\n"
    "        SetHandler minilink\n"
    "        AuthType Basic\n"
    "        AuthName \"early test\"\n"
    "        AuthUserFile @DIR@/passwd\n"
    "        <Limit POST>\n"
    "            Require valid-user\n"
    "        </Limit>\n"
    "    </Location>\n";

/* Each location, and whether port A may answer its redirects early. */
static const struct {
    const char *path;
    int early;
} mounts[] = {
    { "/plain", 1 },
    { "/envonly", 1 },       /* mod_env sets variables nothing here reads */
    { "/multiviews", 1 },    /* a core option: no access rule */
    { "/setenvif", 0 },
    { "/browsermatch", 0 },
    { "/expr", 0 },
    { "/remoteip", 0 },
    { "/host", 0 },
    { "/basic", 0 },
    { "/satisfy", 0 },
    { "/if", 0 },
    { "/rewrite", 0 },
    { "/alias", 0 },         /* /alias/abc has its own Redirect */
    { "/headers", 0 },
    { "/limit", 0 },
    /* the README's way to guard the form and keep early redirects */
    { "/formauth", 1 },
};

/* The requests sent to every location; "@" stands for the location. */
static const struct {
    const char *method;
    const char *path;
    const char *headers[3];
    const char *userpwd;
} requests[] = {
    { "GET", "@/abc", { NULL }, NULL },
    { "HEAD", "@/abc", { NULL }, NULL },
    { "GET", "@/abc?x=1&y=%20", { NULL }, NULL },
    { "GET", "@/abc", { "User-Agent: BadBot/1.0", NULL }, NULL },
    { "GET", "@/abc", { "User-Agent: Mozilla/5.0 (compatible; BadBot)", NULL }, NULL },
    { "GET", "@/abc", { "X-Token: letmein", NULL }, NULL },
    { "GET", "@/abc", { "X-Token: wrong", NULL }, NULL },
    { "GET", "@/abc", { "X-Block: 1", NULL }, NULL },
    { "GET", "@/abc", { "X-Forwarded-For: 10.1.2.3", NULL }, NULL },
    { "GET", "@/abc", { "X-Forwarded-For: 192.0.2.9", NULL }, NULL },
    { "GET", "@/abc", { "X-Forwarded-For: 10.1.2.3", "User-Agent: BadBot", NULL }, NULL },
    { "GET", "@/abc", { NULL }, USER ":" PASSWORD },
    { "GET", "@/abc", { NULL }, USER ":wrong" },
    { "GET", "@/abc", { "X-Forwarded-For: 10.9.9.9", NULL }, USER ":wrong" },
    { "GET", "@/nosuch", { NULL }, NULL },
    { "GET", "@/no.such", { NULL }, NULL },
    { "GET", "@/gone", { NULL }, NULL },
    { "GET", "@/abc+", { NULL }, NULL },
    { "GET", "@/", { NULL }, NULL },
    { "POST", "@/abc", { NULL }, NULL },
    { "PUT", "@/abc", { NULL }, USER ":" PASSWORD },
    { "OPTIONS", "@/abc", { NULL }, NULL },
};

static const link_spec early_links[] = {
    { "abc", "https://example.com/abc", 0, 0, 0 },
    { "gone", "https://example.com/gone", 0, 0, 1 },
};

#define NMOUNTS (sizeof mounts / sizeof *mounts)
#define NREQUESTS (sizeof requests / sizeof *requests)

/*
 * The response as one comparable text: status line, the headers sorted
 * and without Date (and Keep-Alive, which counts down per connection),
 * then the body; each port number replaced by "PORT", as previews and
 * error pages name the host they were asked on.
 */
static char *normalized(const http_response *resp, int port)
{
    char *copy = strdup(resp->headers ? resp->headers : ""), *save = NULL;
    char *lines[64], *line, *text, *port_text = xasprintf(":%d", port), *at;
    size_t n = 0, i, j, size = 1;

    for (line = strtok_r(copy, "\r\n", &save); line && n < 64;
         line = strtok_r(NULL, "\r\n", &save)) {
        if (strncasecmp(line, "Date:", 5) != 0
            && strncasecmp(line, "Keep-Alive:", 11) != 0) {
            lines[n++] = line;
        }
    }
    /* Status line first; the rest in a fixed order. */
    for (i = 2; i < n; i++) {
        for (j = i; j > 1 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
            char *swap = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = swap;
        }
    }
    for (i = 0; i < n; i++) {
        size += strlen(lines[i]) + 1;
    }
    size += resp->body_len + 1;
    text = calloc(1, size);
    for (i = 0; i < n; i++) {
        strcat(strcat(text, lines[i]), "\n");
    }
    strcat(text, "\n");
    if (resp->body) {
        strcat(text, resp->body);
    }
    while ((at = strstr(text, port_text)) != NULL) {
        memmove(at + 5, at + strlen(port_text), strlen(at + strlen(port_text)) + 1);
        memcpy(at, ":PORT", 5);
    }
    free(port_text);
    free(copy);
    return text;
}

static char *answer(int port, size_t request, const char *mount)
{
    http_request_spec req;
    http_response resp;
    char *path = xasprintf("%s%s", mount, requests[request].path + 1), *text;

    memset(&req, 0, sizeof req);
    req.method = requests[request].method;
    req.path = path;
    req.headers = requests[request].headers;
    req.userpwd = requests[request].userpwd;
    if (http_send(port, &req, &resp) != 0) {
        text = xasprintf("transport error: %s", resp.error);
    }
    else {
        text = normalized(&resp, port);
    }
    http_response_free(&resp);
    free(path);
    return text;
}

static void test_same_answer_early_or_not(void)
{
    size_t m, q;
    int differences = 0;

    for (m = 0; m < NMOUNTS; m++) {
        for (q = 0; q < NREQUESTS; q++) {
            char *early = answer(g_srv->port, q, mounts[m].path);
            char *ordinary = answer(port_b, q, mounts[m].path);
            if (!CHECK(strcmp(early, ordinary) == 0, "%s %s%s (%s%s): early "
                       "and ordinary answers differ:\n--- early ---\n%s\n"
                       "--- ordinary ---\n%s", requests[q].method,
                       mounts[m].path, requests[q].path + 1,
                       str_or_null(requests[q].headers[0]),
                       requests[q].userpwd ? ", with credentials" : "", early,
                       ordinary)) {
                differences++;
            }
            free(early);
            free(ordinary);
        }
    }
    printf("[%u requests x 2 ports, %d different] ",
           (unsigned)(NMOUNTS * NREQUESTS), differences);
}

/* Port A's access log: "<port> <method> <path> <status> <how>" lines. */
static int answered_on(int port, const char *method, const char *path,
                       const char *how)
{
    char *log = file_read(path_of("access.log"));
    char *needle = xasprintf("%d %s %s ", port, method, path), *at;
    int found = 0;

    for (at = strstr(log, needle); at; at = strstr(at + 1, needle)) {
        const char *end = strchr(at, '\n');
        const char *last = end ? end : at + strlen(at);
        while (last > at && last[-1] != ' ') {
            last--;
        }
        if (strncmp(last, how, strlen(how)) == 0) {
            found = 1;
        }
    }
    free(needle);
    free(log);
    return found;
}

static void test_early_only_without_access_rules(void)
{
    size_t m;

    /* The log line is written after the response. */
    sleep_ms(300);
    for (m = 0; m < NMOUNTS; m++) {
        char *path = xasprintf("%s/abc", mounts[m].path);
        if (mounts[m].early) {
            CHECK(answered_on(g_srv->port, "GET", path, "translate"),
                  "GET %s on port A: not answered early", path);
            CHECK(!answered_on(g_srv->port, "GET", path, "handler"),
                  "GET %s on port A: answered by the handler", path);
        }
        else {
            CHECK(!answered_on(g_srv->port, "GET", path, "translate"),
                  "GET %s on port A: answered early despite its access rules",
                  path);
        }
        CHECK(!answered_on(port_b, "GET", path, "translate"),
              "GET %s on port B (MinilinkEarlyAnswer Off): answered early", path);
        free(path);
    }
    /* The LocationMatch still guards the form under /formauth. */
    GET("/formauth/", 401, NULL);
    EXPECT("POST", NULL, "/formauth/x/", 401, NULL);
}

static void test_denied_request_logged_once(void)
{
    int before = httpd_error_log_count(g_srv, "AH01630");
    http_response resp;

    CHECK(http_request(g_srv->port, "GET", NULL, "/remoteip/abc", &resp) == 0
          && resp.status == 403, "GET /remoteip/abc from 127.0.0.1: %ld",
          resp.status);
    http_response_free(&resp);
    CHECK(httpd_error_log_wait(g_srv, "AH01630", before, 2000) >= 0,
          "the denial is logged (AH01630)");
    sleep_ms(300);
    CHECK(httpd_error_log_count(g_srv, "AH01630") == before + 1,
          "one AH01630 line for one denied request, got %d",
          httpd_error_log_count(g_srv, "AH01630") - before);
}

static void test_server_level_condition_turns_early_off(void)
{
    char *on_c = answer(port_c, 0, "/plain");

    CHECK(strstr(on_c, "X-Seen-By-Fixups: yes") != NULL, "host C's header "
          "set on a variable its fixups set: %s", on_c);
    sleep_ms(300);
    CHECK(answered_on(port_c, "GET", "/plain/abc", "handler"),
          "GET /plain/abc on host C: not answered by the handler");
    CHECK(httpd_error_log_count(g_srv, "ML00035") == 1,
          "one ML00035 line at startup, for host C, got %d",
          httpd_error_log_count(g_srv, "ML00035"));
    CHECK(httpd_error_log_count(g_srv, "ML00035: redirects for c.test") == 1
          && httpd_error_log_count(g_srv, "Header at ") == 1,
          "the ML00035 line names host C and the Header directive");
    free(on_c);
}

static void test_early_error_log_clean(void)
{
    EXPECT_ERROR_LOG_CLEAN();
}

static CU_TestInfo early_tests[] = {
    { "every request: the early answer is the ordinary path's, to the byte", test_same_answer_early_or_not },
    { "answered early only where the location has no access rule", test_early_only_without_access_rules },
    { "a denied request: one AH01630 line", test_denied_request_logged_once },
    { "a server-wide Header on env=: that host answers after access control", test_server_level_condition_turns_early_off },
    { "error log: no crash, no core error", test_early_error_log_clean },
    CU_TEST_INFO_NULL,
};

static const char *const early_modules[][2] = {
    { "setenvif_module", "mod_setenvif.so" },
    { "remoteip_module", "mod_remoteip.so" },
    { "authz_host_module", "mod_authz_host.so" },
    { "auth_basic_module", "mod_auth_basic.so" },
    { "authn_file_module", "mod_authn_file.so" },
    { "authz_user_module", "mod_authz_user.so" },
    { "access_compat_module", "mod_access_compat.so" },
    { "rewrite_module", "mod_rewrite.so" },
    { "alias_module", "mod_alias.so" },
    { "headers_module", "mod_headers.so" },
    { "env_module", "mod_env.so" },
    { "mime_module", "mod_mime.so" },
    { "negotiation_module", "mod_negotiation.so" },
    { "dir_module", "mod_dir.so" },
};

static int start_early_server(const char *mpm)
{
    char *passwd, *db, *output = NULL, *config = NULL;
    size_t i;
    int rc = -1;

    g_failures_at_init = CU_get_number_of_failures();
    g_srv = httpd_new(mpm);
    port_b = free_port();
    port_c = free_port();
    if (g_srv && port_b > 0 && port_c > 0 && port_c != port_b) {
        for (i = 0; i < sizeof early_modules / sizeof *early_modules; i++) {
            httpd_load_module(g_srv, early_modules[i][0], early_modules[i][1]);
        }
        passwd = path_of("passwd");
        db = path_of("links.db");
        rc = db_store_links(db, early_links,
                            sizeof early_links / sizeof *early_links);
        free(db);
        if (rc == 0) {
            char *argv[] = { "htpasswd", "-bc", passwd, USER, PASSWORD, NULL };
            rc = httpd_run_as_user(g_srv, argv, &output);
        }
        config = xasprintf(
            "Listen 127.0.0.1:%d\n"
            "Listen 127.0.0.1:%d\n"
            "TypesConfig /etc/mime.types\n"
            "MinilinkRefreshInterval 0\n"
            "MinilinkDatabase links.db\n"
            "RemoteIPHeader X-Forwarded-For\n"
            "RemoteIPTrustedProxy 127.0.0.1\n"
            "Header always set X-Frame-Options DENY\n"
            "LogFormat \"%%{local}p %%m %%U %%>s %%{minilink-answered}n\" answered\n"
            "CustomLog @DIR@/access.log answered\n"
            "ErrorDocument 404 \"No such short link\"\n"
            "<VirtualHost 127.0.0.1:@PORT@>\n    ServerName a.test\n%s"
            "</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:%d>\n    ServerName b.test\n"
            "    MinilinkEarlyAnswer Off\n%s</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:%d>\n    ServerName c.test\n"
            "    SetEnv SEEN_BY_FIXUPS 1\n"
            "    Header always set X-Seen-By-Fixups yes env=SEEN_BY_FIXUPS\n"
            "%s</VirtualHost>\n",
            port_b, port_c, locations, port_b, locations, port_c, locations);
        free(passwd);
    }
    if (rc != 0 || httpd_write_config(g_srv, config) != 0
        || httpd_start(g_srv) != 0) {
        fprintf(stderr, "early suite (%s): cannot start httpd: %s\n", mpm,
                str_or_null(output));
        httpd_free(g_srv);
        g_srv = NULL;
        g_tests_not_run += count_tests(early_tests);
        rc = -1;
    }
    free(config);
    free(output);
    return rc;
}

static int init_early_event(void) { return start_early_server("event"); }
static int init_early_worker(void) { return start_early_server("worker"); }
static int init_early_prefork(void) { return start_early_server("prefork"); }

static CU_SuiteInfo early_suites[] = {
    { "early-event", init_early_event, suite_cleanup, NULL, NULL, early_tests },
    { "early-worker", init_early_worker, suite_cleanup, NULL, NULL, early_tests },
    { "early-prefork", init_early_prefork, suite_cleanup, NULL, NULL, early_tests },
    CU_SUITE_INFO_NULL,
};

void add_early_suites(void)
{
    if (CU_register_suites(early_suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot register the early suites: %s\n",
                CU_get_error_msg());
    }
}
