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
    ANSWERED_LOG("access")
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

static void expect_access_cases_at(int line, const access_case *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const access_case *c = &cases[i];
        http_request_spec req = { c->method, NULL, c->path, NULL, NULL, 0, c->userpwd };
        const char *how;

        expect_request_at(__FILE__, line, &req, c->status, c->location);
        if (c->answered) {
            how = log_answered("access", c->method, c->path, c->status);
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
        /* Any access rule, even one that grants this client, means the ordinary path:
         * httpd's access control decides (test_early.c). */
        { "GET", "/granted/abc", NULL, 302, ABC, "handler" },
        { "GET", "/intranet/abc", NULL, 302, ABC, "handler" },
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
    { "no access rule: answered early; any Require: by the handler",
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
