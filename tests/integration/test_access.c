/*
 * test_access.c - redirects answered early never get past access control.
 *
 * The module answers a redirect from translate_name when httpd's own access checkers let the
 * request through without a user, and takes the ordinary path otherwise.  Each location here has
 * different access rules; the access log's %{minilink-answered}n says which path answered.
 */

#include "ml_test.h"

#define USER "carol"
#define PASSWORD "s3cret"
#define ABC "https://example.com/abc"

static const char access_config[] =
    "MinilinkRefreshInterval 0\n"
    "MinilinkDatabase links.db\n"
    ACCESS_LOG("access", "%>s %m %U %{minilink-answered}n")
    "ErrorDocument 404 \"No such short link\"\n"
    MINILINK_AT("/open", "")
    MINILINK_AT("/granted", "Require all granted\n")
    MINILINK_AT("/intranet", "Require ip 127.0.0.0/8\n")
    MINILINK_AT("/private", BASIC_AUTH)
    MINILINK_AT("/elsewhere", "Require ip 192.0.2.1\n");

static const link_spec access_links[] = { { "abc", ABC, 0, 0, 0 } };

/* A request, its answer, and who must have answered it: "translate", "handler", "-" (access
 * control refused it first), NULL (not looked at). */
typedef struct {
    const char *method, *path, *userpwd;
    long status;
    const char *location, *answered;
} access_case;

/* How the access log says path was answered, for its last line about path with this status and
 * method; NULL if there is none within 2 s (the line is written after the response). */
static const char *answered(const char *method, const char *path, long status)
{
    char *prefix = tfmt("%ld %s %s ", status, method, path), *log, *line, *found = NULL;
    long start = now_ms();

    while (found == NULL && now_ms() - start < 2000) {
        log = tkeep(file_read(tpath("access.log")));
        for (line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
            found = strncmp(line, prefix, strlen(prefix)) == 0 ? line + strlen(prefix) : found;
        }
        if (found == NULL) {
            sleep_ms(50);
        }
    }
    return found;
}

static void expect_access_cases_at(int line, const access_case *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const access_case *c = &cases[i];
        http_request_spec req = { c->method, NULL, c->path, NULL, NULL, 0, c->userpwd };
        const char *how;

        expect_request_at(__FILE__, line, &req, c->status, c->location);
        if (c->answered) {
            how = answered(c->method, c->path, c->status);
            check_at(line, how && strcmp(how, c->answered) == 0, "%s %s (%ld) answered by "
                     "%s, expected %s", c->method, c->path, c->status, str_or_null(how),
                     c->answered);
        }
    }
}

#define EXPECT_ACCESS_CASES(cases) expect_access_cases_at(__LINE__, (cases), ARRAY_LEN(cases))

static void test_open_location_answers_early(void)
{
    static const access_case cases[] = {
        { "GET", "/open/abc", NULL, 302, ABC, "translate" },
        { "HEAD", "/open/abc", NULL, 302, ABC, "translate" },
        { "GET", "/granted/abc", NULL, 302, ABC, "translate" },
        /* The rule bench/run.sh measures: it grants this client anonymously. */
        { "GET", "/intranet/abc", NULL, 302, ABC, "translate" },
        /* An early 404 still goes through httpd's error path (below). */
        { "GET", "/open/nosuch", NULL, 404, NULL, "translate" },
        /* Not a redirect: the ordinary path answers the 405. */
        { "POST", "/open/abc", NULL, 405, NULL, "handler" },
    };
    http_response *r = GET("/open/nosuch", 404, NULL);

    EXPECT_HAS(r->body, "No such short link", "GET /open/nosuch: the ErrorDocument text");
    EXPECT_ACCESS_CASES(cases);
}

static void test_authentication_is_not_bypassed(void)
{
    static const access_case cases[] = {
        { "GET", "/private/abc", NULL, 401, NULL, "-" },
        { "GET", "/private/abc", USER ":" PASSWORD, 302, ABC, "handler" },
        { "GET", "/private/abc", USER ":wrong", 401, NULL, NULL },
    };

    EXPECT_ACCESS_CASES(cases);
}

static void test_denied_client_is_not_bypassed(void)
{
    static const access_case cases[] = {
        { "GET", "/elsewhere/abc", NULL, 403, NULL, "-" },
        { "HEAD", "/elsewhere/abc", NULL, 403, NULL, NULL },
    };

    EXPECT_ACCESS_CASES(cases);
}

static CU_TestInfo access_tests[] = {
    { "no Require, Require all granted, or a granting Require ip: answered early",
      test_open_location_answers_early },
    { "Require valid-user: 401, then the handler answers", test_authentication_is_not_bypassed },
    { "Require ip of another client: 403", test_denied_client_is_not_bypassed },
    CU_TEST_INFO_NULL,
};

static const suite_group access_group = {
    .name = "access", .tests = access_tests, .config = access_config,
    .modules = "auth_basic authn_file authz_user authz_host", .links = access_links,
    .nlinks = ARRAY_LEN(access_links), .passwd = USER ":" PASSWORD,
};

void add_access_suites(void)
{
    add_group(&access_group);
}
