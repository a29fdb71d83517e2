/*
 * test_access.c - redirects answered early never get past access control.
 *
 * The module answers a redirect from translate_name when httpd's own access
 * checkers let the request through without a user, and takes the ordinary
 * path otherwise.  Each location here has different access rules; the
 * access log's %{minilink-answered}n says which path answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "ml_test.h"

#define USER "carol"
#define PASSWORD "s3cret"

static const char *const access_config =
    "MinilinkRefreshInterval 0\n"
    "MinilinkDatabase links.db\n"
    "LogFormat \"%>s %m %U %{minilink-answered}n\" answered\n"
    "CustomLog @DIR@/access.log answered\n"
    "ErrorDocument 404 \"No such short link\"\n"
    "<Location /open>\n"
    "    SetHandler minilink\n"
    "</Location>\n"
    "<Location /granted>\n"
    "    SetHandler minilink\n"
    "    Require all granted\n"
    "</Location>\n"
    "<Location /intranet>\n"
    "    SetHandler minilink\n"
    "    Require ip 127.0.0.0/8\n"
    "</Location>\n"
    "<Location /private>\n"
    "    SetHandler minilink\n"
    "    AuthType Basic\n"
    "    AuthName \"minilink test\"\n"
    "    AuthUserFile @DIR@/passwd\n"
    "    Require valid-user\n"
    "</Location>\n"
    "<Location /elsewhere>\n"
    "    SetHandler minilink\n"
    "    Require ip 192.0.2.1\n"
    "</Location>\n";

static const link_spec access_links[] = {
    { "abc", "https://example.com/abc", 0, 0, 0 },
};

/* How the access log says path was answered ("translate", "handler" or
 * "-"), for its last line about path with this status and method. */
static char *answered(const char *method, const char *path, long status)
{
    char *log_path = path_of("access.log"), *found = NULL, line[512];
    char *prefix = xasprintf("%ld %s %s ", status, method, path);
    FILE *log;
    long waited;

    /* The log line is written after the response: wait for it a little. */
    for (waited = 0; waited < 2000 && found == NULL; waited += 50) {
        if ((log = fopen(log_path, "r")) != NULL) {
            while (fgets(line, sizeof(line), log)) {
                if (strncmp(line, prefix, strlen(prefix)) == 0) {
                    free(found);
                    line[strcspn(line, "\n")] = '\0';
                    found = strdup(line + strlen(prefix));
                }
            }
            fclose(log);
        }
        if (found == NULL) {
            sleep_ms(50);
        }
    }
    free(prefix);
    free(log_path);
    return found;
}

#define EXPECT_ANSWERED(method, path, status, how)                          \
    do {                                                                    \
        char *how_seen = answered(method, path, status);                    \
        CHECK(how_seen && strcmp(how_seen, how) == 0,                       \
              "%s %s (%ld) answered by %s, expected %s", method, path,      \
              (long)(status), str_or_null(how_seen), how);                  \
        free(how_seen);                                                     \
    } while (0)

static void test_open_location_answers_early(void)
{
    http_response resp;

    GET("/open/abc", 302, "https://example.com/abc");
    EXPECT_ANSWERED("GET", "/open/abc", 302, "translate");
    EXPECT("HEAD", NULL, "/open/abc", 302, "https://example.com/abc");
    EXPECT_ANSWERED("HEAD", "/open/abc", 302, "translate");
    GET("/granted/abc", 302, "https://example.com/abc");
    EXPECT_ANSWERED("GET", "/granted/abc", 302, "handler");
    /* Any access rule, even one that grants this client, means the
     * ordinary path: httpd's access control decides (test_early.c). */
    GET("/intranet/abc", 302, "https://example.com/abc");
    EXPECT_ANSWERED("GET", "/intranet/abc", 302, "handler");
    /* An early 404 still goes through httpd's error path. */
    expect_at(__LINE__, "GET", NULL, "/open/nosuch", 404, NULL, &resp);
    CHECK(resp.body && strstr(resp.body, "No such short link"),
          "the ErrorDocument text, got: %s", str_or_null(resp.body));
    http_response_free(&resp);
    EXPECT_ANSWERED("GET", "/open/nosuch", 404, "translate");
    /* Not a redirect: the ordinary path answers the 405. */
    EXPECT("POST", NULL, "/open/abc", 405, NULL);
    EXPECT_ANSWERED("POST", "/open/abc", 405, "handler");
}

static void test_authentication_is_not_bypassed(void)
{
    http_request_spec req = { "GET", NULL, "/private/abc", NULL, NULL, 0, NULL };
    http_response resp;

    EXPECT("GET", NULL, "/private/abc", 401, NULL);
    EXPECT_ANSWERED("GET", "/private/abc", 401, "-");
    req.userpwd = USER ":" PASSWORD;
    CHECK(http_send(g_srv->port, &req, &resp) == 0 && resp.status == 302
          && resp.location && strcmp(resp.location, "https://example.com/abc") == 0,
          "with credentials: %ld %s", resp.status, str_or_null(resp.location));
    http_response_free(&resp);
    EXPECT_ANSWERED("GET", "/private/abc", 302, "handler");
    req.userpwd = USER ":wrong";
    CHECK(http_send(g_srv->port, &req, &resp) == 0 && resp.status == 401
          && resp.location == NULL, "wrong password: %ld %s", resp.status,
          str_or_null(resp.location));
    http_response_free(&resp);
}

static void test_denied_client_is_not_bypassed(void)
{
    EXPECT("GET", NULL, "/elsewhere/abc", 403, NULL);
    EXPECT_ANSWERED("GET", "/elsewhere/abc", 403, "-");
    EXPECT("HEAD", NULL, "/elsewhere/abc", 403, NULL);
}

static void test_access_error_log_clean(void)
{
    EXPECT_ERROR_LOG_CLEAN();
}

static CU_TestInfo access_tests[] = {
    { "no access rule: answered early; any Require: by the handler", test_open_location_answers_early },
    { "Require valid-user: 401, then the handler answers", test_authentication_is_not_bypassed },
    { "Require ip of another client: 403", test_denied_client_is_not_bypassed },
    { "error log: no crash, no core error", test_access_error_log_clean },
    CU_TEST_INFO_NULL,
};

static int start_access_server(const char *mpm)
{
    char *db, *passwd, *output = NULL;
    int rc;

    g_failures_at_init = CU_get_number_of_failures();
    g_srv = httpd_new(mpm);
    if (g_srv == NULL) {
        g_tests_not_run += count_tests(access_tests);
        return -1;
    }
    httpd_load_module(g_srv, "auth_basic_module", "mod_auth_basic.so");
    httpd_load_module(g_srv, "authn_file_module", "mod_authn_file.so");
    httpd_load_module(g_srv, "authz_user_module", "mod_authz_user.so");
    httpd_load_module(g_srv, "authz_host_module", "mod_authz_host.so");
    db = path_of("links.db");
    passwd = path_of("passwd");
    rc = db_store_links(db, access_links, 1);
    if (rc == 0) {
        char *argv[] = { "htpasswd", "-bc", passwd, USER, PASSWORD, NULL };
        rc = httpd_run_as_user(g_srv, argv, &output);
    }
    if (rc != 0 || httpd_write_config(g_srv, access_config) != 0
        || httpd_start(g_srv) != 0) {
        fprintf(stderr, "access suite (%s): cannot start httpd: %s\n", mpm,
                str_or_null(output));
        httpd_free(g_srv);
        g_srv = NULL;
        g_tests_not_run += count_tests(access_tests);
        rc = -1;
    }
    free(output);
    free(db);
    free(passwd);
    return rc;
}

static int init_access_event(void) { return start_access_server("event"); }
static int init_access_worker(void) { return start_access_server("worker"); }
static int init_access_prefork(void) { return start_access_server("prefork"); }

static CU_SuiteInfo access_suites[] = {
    { "access-event", init_access_event, suite_cleanup, NULL, NULL, access_tests },
    { "access-worker", init_access_worker, suite_cleanup, NULL, NULL, access_tests },
    { "access-prefork", init_access_prefork, suite_cleanup, NULL, NULL, access_tests },
    CU_SUITE_INFO_NULL,
};

void add_access_suites(void)
{
    if (CU_register_suites(access_suites) != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: cannot register the access suites: %s\n",
                CU_get_error_msg());
    }
}
