/*
 * test_api.c - SetHandler minilink-api: Shlink's REST API v3.
 *
 * Suites api-event, api-worker, api-prefork.  One server with four API
 * locations (and YOURLS') on one database: /rest (API keys; Shlink's clients put
 * /rest/v3 after the server URL themselves), /team (Basic auth: alice and
 * bob are authors, carol is named by MinilinkAdminUsers), /cors (only
 * https://app.example may call it from a page), and /l where the links
 * redirect.  Keys are made with "minilink apikey add" before the start:
 * an admin's, an author's and a read-only one.
 *
 * What is checked: Shlink's official JS SDK (tests/api/sdk.mjs, its npm
 * package pinned in tests/api/package-lock.json) through every call this
 * server answers, and the links it made redirecting; then with curl, the
 * problem+json bodies and their types, 401 without or with a wrong key, a
 * CORS preflight and the origins allowed, and who sees and changes what:
 * an author only its own links, an admin all, read-only nothing to write.
 * And YOURLS' API at /yourls-api.php (minilink-yourls): exactly what
 * ShareX's uploader posts, and each action in each format.
 *
 * Environment, besides the harness's:
 *   MINILINK_API_DIR   tests/api, with node_modules (npm ci)
 *   MINILINK_NODE      node (default: node on the PATH)
 */

#include "ml_test.h"

#define SDK_TIMEOUT_MS 90000L
#define KEY_CHARS 64

static struct {
    char admin[KEY_CHARS + 1];
    char author[KEY_CHARS + 1];
    char reader[KEY_CHARS + 1];
} K;

/* ---- requests -------------------------------------------------------- */

/* A request with an optional key, user, JSON body and extra header. */
static http_response *call(const char *method, const char *path, const char *key,
                           const char *userpwd, const char *json, const char *extra)
{
    const char *headers[4] = { NULL, NULL, NULL, NULL };
    http_request_spec req = { 0 };
    int n = 0;

    if (key) {
        headers[n++] = tfmt("X-Api-Key: %s", key);
    }
    if (json) {
        headers[n++] = "Content-Type: application/json";
    }
    if (extra) {
        headers[n++] = extra;
    }
    req.method = method;
    req.path = path;
    req.headers = headers;
    req.body = json;
    req.body_len = json ? strlen(json) : 0;
    req.userpwd = userpwd;
    return ask_spec(g_srv, &req);
}

/* The answer is status with a problem+json body of Shlink's type. */
static void expect_problem_at(const char *file, int line, http_response *r, long status,
                              const char *type)
{
    char *content_type = tkeep(http_header(r, "Content-Type"));
    char *got = json_text(r->body, "type");

    check_file_line(file, line, r->status == status, "status %ld, expected %ld: %s", r->status,
                    status, r->body);
    check_file_line(file, line, content_type
                    && strcmp(content_type, "application/problem+json") == 0,
                    "Content-Type %s, expected application/problem+json", str_or_null(content_type));
    check_file_line(file, line, got && strcmp(got, tfmt("https://shlink.io/api/error/%s", type))
                    == 0, "problem type %s, expected %s", str_or_null(got), type);
}
#define EXPECT_PROBLEM(r, status, type) expect_problem_at(HERE, (r), (status), (type))

/* ---- the SDK ------------------------------------------------------------ */

static void test_sdk_every_call(void)
{
    const char *dir = env_or("MINILINK_API_DIR", "tests/api");
    char *script = tfmt("%s/sdk.mjs", dir);
    char *sdk = tfmt("%s/node_modules/@shlinkio/shlink-js-sdk/package.json", dir);
    run_spec spec = { .timeout_ms = SDK_TIMEOUT_MS };
    run_result r;
    const char *at;

    /* npm ci installs it (make integration); no node or no package is a failure. */
    if (!CHECK(access(script, R_OK) == 0, "no SDK script %s", script)
        || !CHECK(access(sdk, R_OK) == 0, "no %s: run npm ci --prefix %s", sdk, dir)) {
        return;
    }
    spec.argv = (char *[]){ (char *)env_or("MINILINK_NODE", "node"), script,
                            tfmt("http://127.0.0.1:%d", g_srv->port), K.admin, NULL };
    r = run_captured(&spec);
    tkeep(r.output);
    fprintf(stderr, "\n    [sdk.mjs took %ld ms]\n%s", r.elapsed_ms, r.output);
    CHECK(!r.timed_out, "the SDK script did not finish in %ld s", SDK_TIMEOUT_MS / 1000);
    if (!CHECK(r.status == 0, "the SDK script exited %d:\n%s", r.status, r.output)) {
        return;
    }
    /* The links it left redirect at once (the shared table was refreshed). */
    for (at = strstr(r.output, "slug: "); at; at = strstr(at + 1, "slug: ")) {
        char *slug = tfmt("%.*s", (int)strspn(at + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                              "rstuvwxyz0123456789-_"), at + 6);
        GET(tfmt("/l/%s", slug), 302, "https://example.com/sdk/two");
    }
    GET("/l/sdk1", 404, NULL);          /* deleted at the end */
}

/* ---- problem bodies, keys, CORS ----------------------------------------- */

static void test_health_without_key(void)
{
    http_response *r = call("GET", "/rest/health", NULL, NULL, NULL, NULL);

    EXPECT_EQ(r->status, 200, "GET /rest/health");
    EXPECT_HAS(r->body, "\"status\":\"pass\"", "health");
    r = call("GET", "/rest/v3/health", NULL, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 200, "GET /rest/v3/health");
}

static void test_problems(void)
{
    http_response *r = call("GET", "/rest/v3/short-urls", NULL, NULL, NULL, NULL);

    EXPECT_PROBLEM(r, 401, "missing-authentication");
    r = call("GET", "/rest/v3/short-urls", "0123456789abcdef", NULL, NULL, NULL);
    EXPECT_PROBLEM(r, 401, "invalid-api-key");
    r = call("GET", "/rest/v3/short-urls/nosuch", K.admin, NULL, NULL, NULL);
    EXPECT_PROBLEM(r, 404, "short-url-not-found");
    EXPECT_HAS(r->body, "\"shortCode\":\"nosuch\"", "the short code");
    r = call("POST", "/rest/v3/short-urls", K.admin, NULL,
             "{\"longUrl\": \"https://example.com/x\", \"maxVisits\": \"many\"}", NULL);
    EXPECT_PROBLEM(r, 400, "invalid-data");
    EXPECT_HAS(r->body, "\"invalidElements\":[\"maxVisits\"]", "the field named");
    r = call("POST", "/rest/v3/short-urls", K.admin, NULL, "not json", NULL);
    EXPECT_PROBLEM(r, 400, "invalid-data");
    r = call("POST", "/rest/v3/short-urls", K.admin, NULL,
             tfmt("{\"longUrl\": \"http://127.0.0.1:%d/l/loop\"}", g_srv->port), NULL);
    EXPECT_PROBLEM(r, 400, "invalid-data");        /* a link to this server: a loop */
    r = call("POST", "/rest/v3/short-urls", K.admin, NULL,
             "{\"longUrl\": \"https://example.com/x\", \"customSlug\": \"server-status\"}",
             NULL);
    EXPECT_PROBLEM(r, 400, "non-unique-slug");     /* a name the server keeps */
    {
        /* Over LimitRequestBody: httpd's 413, as a problem. */
        char *big = talloc(10001);
        memset(big, ' ', 10000);
        big[0] = '{', big[9999] = '}', big[10000] = '\0';
        r = call("POST", "/rest/v3/short-urls", K.admin, NULL, big, NULL);
        EXPECT_PROBLEM(r, 413, "invalid-data");
    }
    r = call("GET", "/rest/v3/nothing-here", K.admin, NULL, NULL, NULL);
    EXPECT_PROBLEM(r, 404, "not-found");
    r = call("PUT", "/rest/v3/short-urls", K.admin, NULL, "{}", NULL);
    EXPECT_PROBLEM(r, 405, "not-found");
    EXPECT_STR(r->allow, "GET, POST", "Allow");
    /* Numbers as strings, unknown keys, + and tags[] in the query. */
    r = call("POST", "/rest/v3/short-urls", K.admin, NULL,
             "{\"longUrl\": \"https://example.com/numbers\", \"customSlug\": \"nums\","
             " \"maxVisits\": \"3\", \"domain\": null, \"somethingNew\": 1, \"tags\": [\"x y\"]}",
             NULL);
    EXPECT_PROBLEM(r, 400, "invalid-data");        /* a tag with a space */
    r = call("POST", "/rest/v3/short-urls", K.admin, NULL,
             "{\"longUrl\": \"https://example.com/numbers\", \"customSlug\": \"nums\","
             " \"maxVisits\": \"3\", \"domain\": null, \"somethingNew\": 1, \"tags\": [\"n\"]}",
             NULL);
    EXPECT_EQ(r->status, 200, "numbers as strings, unknown keys: %s", r->body);
    EXPECT_HAS(r->body, "\"maxVisits\":3", "maxVisits read from a string");
    r = call("GET", "/rest/v3/short-urls?searchTerm=example.com%2Fnum+&tags%5B%5D=n", K.admin,
             NULL, NULL, NULL);
    EXPECT_EQ(r->status, 200, "search: %s", r->body);
    EXPECT_HAS(r->body, "\"totalItems\":0", "'+' is a space: 'numbers ' is no URL");
    r = call("GET", "/rest/v3/short-urls?searchTerm=example.com%2Fnum&tags%5B%5D=n", K.admin,
             NULL, NULL, NULL);
    EXPECT_HAS(r->body, "\"totalItems\":1", "tags[] and a search");
    r = call("GET", "/rest/v3/short-urls?tags%5B%5D=n&tags%5B%5D=n&tagsMode=all", K.admin, NULL,
             NULL, NULL);
    EXPECT_HAS(r->body, "\"totalItems\":1", "a tag named twice, all of them");
    GET("/l/nums", 302, "https://example.com/numbers");
}

static void test_cors(void)
{
    http_response *r;
    const char *preflight[] = { "Origin: https://web.example", "Access-Control-Request-Method: POST",
                                "Access-Control-Request-Headers: x-api-key, content-type", NULL };
    http_request_spec req = { .method = "OPTIONS", .path = "/rest/v3/short-urls",
                              .headers = preflight };
    char *value;

    r = ask_spec(g_srv, &req);
    EXPECT_EQ(r->status, 204, "a preflight");
    value = tkeep(http_header(r, "Access-Control-Allow-Origin"));
    EXPECT_STR(value, "*", "any origin by default");
    value = tkeep(http_header(r, "Access-Control-Allow-Headers"));
    EXPECT_STR(value, "x-api-key, content-type", "the headers asked for");
    value = tkeep(http_header(r, "Access-Control-Allow-Methods"));
    EXPECT_HAS(value, "PATCH", "methods");
    /* MinilinkApiCorsOrigins: one origin may, another may not. */
    req.path = "/cors/v3/short-urls";
    r = ask_spec(g_srv, &req);
    EXPECT_EQ(r->status, 204, "a preflight from an origin not named");
    EXPECT_EQ(http_headers_contain(r, "Access-Control-Allow-Origin"), 0, "not allowed");
    r = call("GET", "/cors/v3/short-urls", K.admin, NULL, NULL, "Origin: https://web.example");
    EXPECT_PROBLEM(r, 403, "forbidden-operation");
    r = call("GET", "/cors/v3/short-urls", K.admin, NULL, NULL, "Origin: https://app.example");
    EXPECT_EQ(r->status, 200, "the origin named");
    value = tkeep(http_header(r, "Access-Control-Allow-Origin"));
    EXPECT_STR(value, "https://app.example", "the origin echoed");
    r = call("GET", "/cors/v3/short-urls", K.admin, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 200, "no Origin: not a browser's cross-site call");
}

/* ---- who may do what ------------------------------------------------------- */

static void test_owners_under_basic_auth(void)
{
    http_response *r;

    r = call("POST", "/team/v3/short-urls", NULL, "alice:apw", "{\"longUrl\":"
             " \"https://example.com/alice\", \"customSlug\": \"alice1\"}", NULL);
    EXPECT_EQ(r->status, 200, "alice creates: %s", r->body);
    r = call("POST", "/team/v3/short-urls", NULL, "bob:bpw", "{\"longUrl\":"
             " \"https://example.com/bob\", \"customSlug\": \"bob1\"}", NULL);
    EXPECT_EQ(r->status, 200, "bob creates: %s", r->body);
    GET("/l/alice1", 302, "https://example.com/alice");
    /* Each author sees its own only. */
    r = call("GET", "/team/v3/short-urls", NULL, "alice:apw", NULL, NULL);
    EXPECT_HAS(r->body, "\"totalItems\":1", "alice's list");
    EXPECT_HAS(r->body, "alice1", "alice's link");
    EXPECT_LACKS(r->body, "bob1", "bob's link");
    EXPECT_PROBLEM(call("GET", "/team/v3/short-urls/alice1", NULL, "bob:bpw", NULL, NULL), 404,
                   "short-url-not-found");
    EXPECT_PROBLEM(call("PATCH", "/team/v3/short-urls/alice1", NULL, "bob:bpw",
                        "{\"longUrl\": \"https://example.com/stolen\"}", NULL), 404,
                   "short-url-not-found");
    EXPECT_PROBLEM(call("DELETE", "/team/v3/short-urls/alice1", NULL, "bob:bpw", NULL, NULL),
                   404, "short-url-not-found");
    GET("/l/alice1", 302, "https://example.com/alice");
    r = call("GET", "/team/v3/tags", NULL, "bob:bpw", NULL, NULL);
    EXPECT_EQ(r->status, 200, "bob's tags");
    EXPECT_PROBLEM(call("GET", "/team/v3/visits/orphan", NULL, "bob:bpw", NULL, NULL), 403,
                   "forbidden-operation");
    /* The admin (MinilinkAdminUsers) sees and changes anyone's. */
    r = call("GET", "/team/v3/short-urls?itemsPerPage=-1", NULL, "carol:cpw", NULL, NULL);
    EXPECT_HAS(r->body, "alice1", "carol sees alice's");
    EXPECT_HAS(r->body, "bob1", "carol sees bob's");
    r = call("PATCH", "/team/v3/short-urls/bob1", NULL, "carol:cpw",
             "{\"longUrl\": \"https://example.com/bob2\"}", NULL);
    EXPECT_EQ(r->status, 200, "carol edits bob's: %s", r->body);
    GET("/l/bob1", 302, "https://example.com/bob2");
    /* Bob keeps his own link after the admin's edit. */
    r = call("GET", "/team/v3/short-urls/bob1", NULL, "bob:bpw", NULL, NULL);
    EXPECT_EQ(r->status, 200, "bob's link is still his");
    r = call("DELETE", "/team/v3/short-urls/bob1", NULL, "bob:bpw", NULL, NULL);
    EXPECT_EQ(r->status, 204, "bob deletes his own");
    GET("/l/bob1", 404, NULL);
    /* No user, no key: 401 from Apache's own auth, before the API, as a
     * problem too (and still with its WWW-Authenticate). */
    r = call("GET", "/team/v3/short-urls", NULL, NULL, NULL, NULL);
    EXPECT_PROBLEM(r, 401, "missing-authentication");
    EXPECT_EQ(http_headers_contain(r, "WWW-Authenticate: Basic"), 1, "the challenge");
}

static void test_key_roles(void)
{
    http_response *r;

    r = call("POST", "/rest/v3/short-urls", K.author, NULL, "{\"longUrl\":"
             " \"https://example.com/by-key\", \"customSlug\": \"bykey\"}", NULL);
    EXPECT_EQ(r->status, 200, "an author key creates: %s", r->body);
    r = call("GET", "/rest/v3/short-urls?itemsPerPage=-1", K.author, NULL, NULL, NULL);
    EXPECT_HAS(r->body, "\"totalItems\":1", "an author key sees its own only");
    r = call("GET", "/rest/v3/short-urls/bykey", K.reader, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 200, "read-only reads anyone's");
    EXPECT_PROBLEM(call("DELETE", "/rest/v3/short-urls/bykey", K.reader, NULL, NULL, NULL), 403,
                   "forbidden-operation");
    EXPECT_PROBLEM(call("POST", "/rest/v3/short-urls", K.reader, NULL,
                        "{\"longUrl\": \"https://example.com/ro\"}", NULL), 403,
                   "forbidden-operation");
    GET("/l/bykey", 302, "https://example.com/by-key");
    /* Revoked: refused at once. */
    if (CLI_EXPECT(0, NULL, "apikey", "rm", "writer")) {
        EXPECT_PROBLEM(call("GET", "/rest/v3/short-urls", K.author, NULL, NULL, NULL), 401,
                       "invalid-api-key");
    }
}

/* ---- YOURLS' API (minilink-yourls) --------------------------------------- */

#define SHAREX_BOUNDARY "--------------------8dc1a2b3c4d5e6f"

/* Exactly what ShareX's YOURLS uploader sends: a multipart POST of
 * signature, action=shorturl, url and format=simple. */
static http_response *sharex_post(const char *signature, const char *url)
{
    const char *headers[] = { "Content-Type: multipart/form-data; boundary=" SHAREX_BOUNDARY,
                              NULL };
    http_request_spec req = { 0 };
    char *body = tfmt("--" SHAREX_BOUNDARY "\r\n"
                      "Content-Disposition: form-data; name=\"signature\"\r\n\r\n%s\r\n"
                      "--" SHAREX_BOUNDARY "\r\n"
                      "Content-Disposition: form-data; name=\"action\"\r\n\r\nshorturl\r\n"
                      "--" SHAREX_BOUNDARY "\r\n"
                      "Content-Disposition: form-data; name=\"url\"\r\n\r\n%s\r\n"
                      "--" SHAREX_BOUNDARY "\r\n"
                      "Content-Disposition: form-data; name=\"format\"\r\n\r\nsimple\r\n"
                      "--" SHAREX_BOUNDARY "--\r\n", signature, url);

    req.method = "POST";
    req.path = "/yourls-api.php";
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    return ask_spec(g_srv, &req);
}

static void test_yourls_sharex(void)
{
    char *prefix = tfmt("http://127.0.0.1:%d/l/", g_srv->port);
    http_response *r = sharex_post(K.admin, "https://example.com/shared/image.png?x=1");
    char *first;

    EXPECT_EQ(r->status, 200, "ShareX's request: %s", r->body);
    if (!CHECK(strncmp(r->body, prefix, strlen(prefix)) == 0,
               "the answer is the short URL alone: \"%s\"", r->body)) {
        return;
    }
    first = tfmt("%s", r->body);
    GET(tfmt("/l/%s", first + strlen(prefix)), 302, "https://example.com/shared/image.png?x=1");
    /* The same URL again: the link it has, as YOURLS answers. */
    r = sharex_post(K.admin, "https://example.com/shared/image.png?x=1");
    EXPECT_STR(r->body, first, "the same URL shortened again");
    r = sharex_post("not-a-key", "https://example.com/other");
    EXPECT_EQ(r->status, 403, "a wrong signature");
    EXPECT_HAS(r->body, "Please log in", "YOURLS' message");
}

static void test_yourls_actions(void)
{
    char *base = tfmt("/yourls-api.php?signature=%s", K.admin);
    http_response *r;

    r = call("GET", tfmt("%s&action=shorturl&url=https%%3A%%2F%%2Fexample.com%%2Fy&keyword=yk"
                         "&title=Hello+there&format=json", base), NULL, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 200, "shorturl: %s", r->body);
    EXPECT_HAS(r->body, "\"status\":\"success\"", "shorturl");
    EXPECT_HAS(r->body, tfmt("\"shorturl\":\"http://127.0.0.1:%d/l/yk\"", g_srv->port),
               "its short URL");
    EXPECT_HAS(r->body, "\"title\":\"Hello there\"", "its title");
    GET("/l/yk", 302, "https://example.com/y");
    r = call("GET", tfmt("%s&action=shorturl&url=https%%3A%%2F%%2Fexample.com%%2Fz&keyword=yk"
                         "&format=json", base), NULL, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 400, "a keyword taken");
    EXPECT_HAS(r->body, "\"code\":\"error:keyword\"", "YOURLS' code");
    r = call("GET", tfmt("%s&action=expand&shorturl=yk&format=json", base), NULL, NULL, NULL,
             NULL);
    EXPECT_HAS(r->body, "\"longurl\":\"https://example.com/y\"", "expand");
    r = call("GET", tfmt("%s&action=expand&shorturl=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fl%%2Fyk",
                         base, g_srv->port), NULL, NULL, NULL, NULL);
    EXPECT_HAS(r->body, "<longurl>https://example.com/y</longurl>", "expand, XML by default");
    r = call("GET", tfmt("%s&action=url-stats&shorturl=yk&format=json", base), NULL, NULL,
             NULL, NULL);
    EXPECT_HAS(r->body, "\"clicks\":\"", "url-stats");
    r = call("POST", "/yourls-api.php", NULL, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 403, "no signature");
    {
        const char *form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
        http_request_spec req = { .method = "POST", .path = "/yourls-api.php", .headers = form };
        req.body = tfmt("signature=%s&action=stats&filter=last&limit=1&format=json", K.admin);
        req.body_len = strlen(req.body);
        r = ask_spec(g_srv, &req);
        EXPECT_HAS(r->body, "\"link_1\":{", "stats by POST");
        EXPECT_LACKS(r->body, "\"link_2\"", "limit 1");
    }
    r = call("GET", tfmt("%s&action=db-stats&format=json", base), NULL, NULL, NULL, NULL);
    EXPECT_HAS(r->body, "\"db-stats\":{\"total_links\":\"", "db-stats");
    r = call("GET", "/yourls-api.php?action=version&format=simple", NULL, NULL, NULL, NULL);
    EXPECT_STR(r->body, "1.9.2", "version, without a signature");
    r = call("GET", tfmt("%s&action=nothing&format=json", base), NULL, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 400, "an unknown action");
    r = call("GET", tfmt("/yourls-api.php?timestamp=1&signature=%s&action=db-stats", K.admin),
             NULL, NULL, NULL, NULL);
    EXPECT_EQ(r->status, 403, "a timestamped signature: not supported");
}

static CU_TestInfo api_tests[] = {
    { "Shlink's JS SDK: every call, the links redirect", test_sdk_every_call },
    { "health without a key", test_health_without_key },
    { "problem+json with Shlink's types; numbers as strings, + and tags[]", test_problems },
    { "CORS: preflight 204, origins allowed and not", test_cors },
    { "Basic auth: authors see and change their own, the admin all", test_owners_under_basic_auth },
    { "YOURLS: exactly what ShareX sends", test_yourls_sharex },
    { "YOURLS: shorturl, expand, url-stats, stats, db-stats, version; json, xml, simple",
      test_yourls_actions },
    { "keys: author, read-only, revoked", test_key_roles },
    CU_TEST_INFO_NULL,
};

/* ---- the server ------------------------------------------------------------- */

/* Three users in <dir>/passwd (alice from the group; bob and carol here) and three keys. */
static int api_prepare(void)
{
    static const char *const users[][2] = { { "bob", "bpw" }, { "carol", "cpw" } };
    static const struct { const char *name, *role; char *out; } keys[] = {
        { "sdk", "admin", K.admin }, { "writer", "author", K.author },
        { "board", "read-only", K.reader },
    };
    char *output = NULL;
    size_t i;

    for (i = 0; i < ARRAY_LEN(users); i++) {
        char *argv[] = { "htpasswd", "-b", tpath("passwd"), (char *)users[i][0],
                         (char *)users[i][1], NULL };
        if (httpd_run_as_user(g_srv, argv, &output) != 0) {
            fprintf(stderr, "htpasswd -b: %s\n", output);
            free(output);
            return -1;
        }
        free(output);
    }
    for (i = 0; i < ARRAY_LEN(keys); i++) {
        const char *args[] = { "apikey", "add", keys[i].name, "--role", keys[i].role, NULL };
        if (cli_run_on(tpath("links.db"), args, &output) != 0
            || strspn(output, "0123456789abcdef") != KEY_CHARS) {
            fprintf(stderr, "minilink apikey add %s: %s\n", keys[i].name, output);
            free(output);
            return -1;
        }
        memcpy(keys[i].out, output, KEY_CHARS);
        keys[i].out[KEY_CHARS] = '\0';
        free(output);
    }
    return 0;
}

#define API_AT(path, directives) \
    LOCATION(path, "SetHandler minilink-api\n" \
             "MinilinkShortBase http://127.0.0.1:@PORT@/l/\n" directives)

static const suite_group api_group = {
    .name = "api", .tests = api_tests, .modules = "auth_basic authn_file authz_user",
    .passwd = "alice:apw", .prepare = api_prepare,
    .config = "MinilinkDatabase @DIR@/links.db\n"
              MINILINK_AT("/l", "")
              API_AT("/rest", "Require all granted\nLimitRequestBody 8192\n")
              API_AT("/team", BASIC_AUTH "MinilinkAdminUsers carol\n")
              API_AT("/cors", "MinilinkApiCorsOrigins https://app.example\n"
                     "Require all granted\n")
              LOCATION("/yourls-api.php", "SetHandler minilink-yourls\n"
                       "MinilinkShortBase http://127.0.0.1:@PORT@/l/\n"
                       "Require all granted\n"),
};

void add_api_suites(void)
{
    add_group(&api_group);
}
