/*
 * test_rules.c - a link's own rules through a real httpd: suites "rules-event", "rules-worker" and
 * "rules-prefork", each on a server of its own.
 *
 * Every rule of schema 2 answered from shared memory: title and tags, valid since and expiry with
 * a fallback URL, visit limits (exact under concurrent clients), passwords (the form, CSRF, wrong
 * guesses limited), redirect rules of each condition type (the client address through
 * mod_remoteip, the country through an environment variable another module sets), forwarding of
 * the query and the path, slugs without regard to case, robots.txt, QR codes (read back with
 * zbarimg).  Then links created with their rules over JSON and the form, and changes made with
 * the minilink command and plain SQL served within the refresh interval, no graceful restart.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "ml_test.h"
#include "../../links/ml_link.h"

#define PASSWORD "open sesame"
#define IPHONE "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) " \
               "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
#define FIREFOX "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"
/* Wrong guesses a client may make at a link's password (module/ml_module.h's ML_GUESSES). */
#define GUESSES 5
#define RACE_LIMIT 40
#define RACE_THREADS 8
#define RACE_PER_THREAD 10

/* /l: plain settings; /fp forwards paths and drops query strings unless a link says; /ci finds
 * slugs in any case (and creates links); /geo reads the country from a variable of its own.
 * mod_remoteip takes the client address from X-Client (from 127.0.0.1 only), and SetEnvIf sets the
 * GeoIP variables from test headers, as mod_maxminddb would from the address. */
static const char rules_config[] =
    "MinilinkRefreshInterval 1\n"
    "LogLevel minilink:info\n"
    "MinilinkDatabase links.db\n"
    "RemoteIPHeader X-Client\n"
    "RemoteIPInternalProxy 127.0.0.1\n"
    "SetEnvIf X-Test-Country \"^([A-Za-z]{2})$\" MM_COUNTRY_CODE=$1\n"
    "SetEnvIf X-Test-Geo \"^([A-Za-z]{2})$\" GEO_CC=$1\n"
    ANSWERED_LOG("answered")
    MINILINK_AT("/l", "MinilinkCreate On\nMinilinkCreateRateLimit off\n")
    MINILINK_AT("/fp", "MinilinkForwardPath On\nMinilinkQueryString drop\n")
    MINILINK_AT("/ci", "MinilinkSlugCase insensitive\nMinilinkCreate On\n"
                       "MinilinkCreateRateLimit off\n")
    MINILINK_AT("/geo", "MinilinkCountryVariable GEO_CC\n");

static const rich_link_spec rule_links[] = {
    { "titled", "https://example.com/titled", { "title=A title", "tags=sale news" } },
    { "soon", "https://example.com/soon", { "valid_since=2099-01-01" } },
    { "soonfb", "https://example.com/soon", { "valid_since=2099-01-01",
                                              "fallback_url=https://example.com/wait" } },
    { "started", "https://example.com/started", { "valid_since=2000-01-01" } },
    { "limited", "https://example.com/limited", { "max_visits=3" } },
    { "limitedfb", "https://example.com/limitedfb", { "max_visits=1",
                                                      "fallback_url=https://example.com/over" } },
    { "race", "https://example.com/race", { "max_visits=40" } },
    { "pw", "https://example.com/secret", { "password=" PASSWORD, "title=Hidden" } },
    { "pw2", "https://example.com/secret2", { "password=" PASSWORD } },
    { "device", "https://example.com/default", { "redirect_rules="
      "--device ios https://example.com/ios\n--device android https://example.com/android\n"
      "--device desktop https://example.com/desktop" } },
    { "browser", "https://example.com/default", { "redirect_rules="
      "--browser firefox https://example.com/firefox" } },
    { "lang", "https://example.com/default", { "redirect_rules="
      "--language fr-CA https://example.com/fr-ca\n--language fr https://example.com/fr" } },
    { "query", "https://example.com/default", { "redirect_rules="
      "--query utm=mail https://example.com/mail\n--query debug https://example.com/debug\n"
      "--query ref=* https://example.com/ref" } },
    { "ip", "https://example.com/default", { "redirect_rules="
      "--ip 10.0.0.0/8 https://example.com/internal\n--ip 192.0.2.*"
      " https://example.com/wild\n--ip 2001:db8::/32 https://example.com/v6" } },
    { "country", "https://example.com/default", { "redirect_rules="
      "--country FR https://example.com/fr" } },
    { "dates", "https://example.com/default", { "redirect_rules="
      "--before 2000-01-01 https://example.com/past\n--after 2000-01-01"
      " https://example.com/now" } },
    { "order", "https://example.com/default", { "redirect_rules="
      "--query a https://example.com/first\n--query a --query b https://example.com/second" } },
    { "fqoff", "https://example.com/fqoff", { "forward_query=off" } },
    { "fqon", "https://example.com/fqon", { "forward_query=on" } },
    { "fpon", "https://example.com/base/", { "forward_path=on" } },
    { "fpoff", "https://example.com/fpoff", { "forward_path=off" } },
    { "crawl1", "https://example.com/c1", { "crawlable=on" } },
    { "crawl2", "https://example.com/c2", { "crawlable=on", "title=Crawl" } },
    { "MixedCase", "https://example.com/mixed", { "title=Mixed" } },
    { "live", "https://example.com/live", { "title=Live" } },
    { "livelimit", "https://example.com/livelimit", { "title=Live" } },
};

static const link_spec plain_links[] = {
    { "plain", "https://example.com/plain", 0, 0, 0 },
    { "old", "https://example.com/old", 0, 978307200, 0 },
};

/* A GET with header lines (NULL-terminated) that must answer status and Location. */
static http_response *get_with_at(int line, const char *path, const char *const *headers,
                                  long status, const char *location)
{
    http_request_spec req = { "GET", NULL, path, headers, NULL, 0, NULL };

    return expect_request_at(__FILE__, line, &req, status, location);
}
#define GET_WITH(path, status, location, ...) \
    get_with_at(__LINE__, (path), (const char *const[]){ __VA_ARGS__, NULL }, (status), (location))

/* ---- title, tags, valid since, expiry, fallback ----------------------- */

static void test_title_and_tags(void)
{
    char *page;

    GET("/l/titled", 302, "https://example.com/titled");
    page = fetch_page_at(HERE, g_srv, "/l/titled+", "text/html");
    EXPECT_HAS(page, "<dd id=\"title\">A title</dd>", "the preview's title");
    EXPECT_HAS(page, "<dd id=\"tags\">news sale</dd>", "the preview's tags");
    EXPECT_HAS(page, "src=\"titled.svg\"", "the preview's QR code");
}

static void test_valid_since_expiry_fallback(void)
{
    static const http_case cases[] = {
        { "GET", NULL, "/l/soon", 404, NULL },
        { "GET", NULL, "/l/soon+", 404, NULL },
        { "GET", NULL, "/l/soon.svg", 404, NULL },
        { "GET", NULL, "/l/soonfb", 302, "https://example.com/wait" },
        { "HEAD", NULL, "/l/soonfb", 302, "https://example.com/wait" },
        { "GET", NULL, "/l/started", 302, "https://example.com/started" },
        { "GET", NULL, "/l/old", 410, NULL },
    };

    EXPECT_CASES(cases);
}

/* ---- visit limits -------------------------------------------------------- */

static void test_visit_limit(void)
{
    /* HEAD takes no visit; each GET one; then 410, or the fallback. */
    EXPECT("HEAD", NULL, "/l/limited", 302, "https://example.com/limited");
    GET("/l/limited", 302, "https://example.com/limited");
    GET("/l/limited", 302, "https://example.com/limited");
    EXPECT("HEAD", NULL, "/l/limited", 302, "https://example.com/limited");
    GET("/l/limited", 302, "https://example.com/limited");
    GET("/l/limited", 410, NULL);
    EXPECT("HEAD", NULL, "/l/limited", 410, NULL);
    GET("/l/limitedfb", 302, "https://example.com/limitedfb");
    GET("/l/limitedfb", 302, "https://example.com/over");
}

static atomic_int race_redirects, race_gone, race_other;

static void *race_client(void *unused)
{
    int i;

    (void)unused;
    for (i = 0; i < RACE_PER_THREAD; i++) {
        http_response r;
        /* A new connection each time: any child, any process. */
        if (http_request(g_srv->port, "GET", NULL, "/l/race", &r) == 0) {
            atomic_fetch_add(r.status == 302 ? &race_redirects
                             : r.status == 410 ? &race_gone : &race_other, 1);
        }
        http_response_free(&r);
    }
    return NULL;
}

/* Clients racing for the visits of a link limited to 40: exactly 40 redirects, whichever
 * processes and threads answer. */
static void test_visit_limit_exact_under_load(void)
{
    pthread_t threads[RACE_THREADS];
    int i;

    atomic_init(&race_redirects, 0);
    atomic_init(&race_gone, 0);
    atomic_init(&race_other, 0);
    for (i = 0; i < RACE_THREADS; i++) {
        pthread_create(&threads[i], NULL, race_client, NULL);
    }
    for (i = 0; i < RACE_THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    EXPECT_EQ(atomic_load(&race_redirects), RACE_LIMIT, "redirects of a link limited to %d",
              RACE_LIMIT);
    EXPECT_EQ(atomic_load(&race_gone), RACE_THREADS * RACE_PER_THREAD - RACE_LIMIT,
              "410s after the last visit");
    EXPECT_EQ(atomic_load(&race_other), 0, "other answers");
}

/* ---- passwords ------------------------------------------------------------ */

/* POSTs the password form of path with this password and token (cookie and field; NULL: none). */
static http_response *post_password_at(int line, const char *path, const char *password,
                                       const char *token, long status, const char *location)
{
    char *body = tfmt("password=%s%s%s", password, token ? "&csrf=" : "", token ? token : "");
    const char *headers[] = { "Content-Type: application/x-www-form-urlencoded",
                              token ? tfmt("Cookie: minilink_csrf=%s", token) : NULL, NULL };
    http_request_spec req = { "POST", NULL, path, headers, body, strlen(body), NULL };

    for (char *at = body; *at; at++) {
        *at = *at == ' ' ? '+' : *at;
    }
    return expect_request_at(__FILE__, line, &req, status, location);
}
#define POST_PASSWORD(path, password, token, status, location) \
    post_password_at(__LINE__, (path), (password), (token), (status), (location))

/* The token of a link's password form (its cookie, checked equal to its hidden field). */
static char *password_token(const char *path)
{
    http_response *r = GET(path, 200, NULL);
    char *cookie = tkeep(http_header(r, "Set-Cookie")), *field = strstr(r->body,
                                                                         "name=\"csrf\" value=\"");
    char *token = cookie ? tfmt("%.*s", (int)strcspn(cookie + 14, ";"), cookie + 14) : NULL;

    CHECK(field && token && strncmp(field + 19, token, strlen(token)) == 0,
          "GET %s: the form's token is its cookie's:\n%s", path, r->headers);
    return token;
}

static void test_password(void)
{
    http_response *r = GET("/l/pw", 200, NULL);
    char *token;

    EXPECT_HAS(r->body, "type=\"password\"", "the password form");
    EXPECT_LACKS(r->body, "secret", "the password form names the target");
    EXPECT_LACKS(r->body, "Hidden", "the password form shows the title");
    EXPECT_LACKS(r->body, "<script", "the password form has script");
    GET("/l/pw+", 404, NULL);                      /* no preview */
    token = password_token("/l/pw");
    POST_PASSWORD("/l/pw", PASSWORD, NULL, 403, NULL);        /* no CSRF token */
    r = POST_PASSWORD("/l/pw", "wrong", token, 403, NULL);
    EXPECT_HAS(r->body, "wrong password", "the answer to a wrong password");
    POST_PASSWORD("/l/pw", PASSWORD, token, 303, "https://example.com/secret");
    POST_PASSWORD("/l/pw?x=1", PASSWORD, token, 303, "https://example.com/secret?x=1");
    EXPECT("PUT", NULL, "/l/pw", 405, NULL);
    /* Never answered early: after httpd's access control. */
    EXPECT_STR(log_answered("answered", "GET", "/l/pw", 200), "handler", "who answered GET /l/pw");
    CHECK(ml_log_lines_naming("ML00041") >= 1, "ML00041 logged for a wrong password");
}

static void test_wrong_passwords_limited(void)
{
    char *token = password_token("/l/pw2");
    http_response *r;
    int i;

    for (i = 0; i < GUESSES; i++) {
        POST_PASSWORD("/l/pw2", "wrong", token, 403, NULL);
    }
    r = POST_PASSWORD("/l/pw2", PASSWORD, token, 429, NULL);
    CHECK(http_headers_contain(r, "Retry-After: "), "429 without Retry-After:\n%s", r->headers);
    /* Per link: the other password link still answers this client. */
    POST_PASSWORD("/l/pw", PASSWORD, password_token("/l/pw"), 303, "https://example.com/secret");
}

/* ---- redirect rules -------------------------------------------------------- */

static void test_rules_device_browser(void)
{
    http_response *r = GET_WITH("/l/device", 302, "https://example.com/ios", IPHONE);

    EXPECT_HAS(r->headers, "Vary: User-Agent", "Vary of a link whose rules read User-Agent");
    GET_WITH("/l/device", 302, "https://example.com/android",
             "User-Agent: Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/119.0 Mobile");
    GET_WITH("/l/device", 302, "https://example.com/desktop", FIREFOX);
    GET_WITH("/l/device", 302, "https://example.com/default", "User-Agent: curl/7.88.1");
    GET_WITH("/l/browser", 302, "https://example.com/firefox", FIREFOX);
    GET_WITH("/l/browser", 302, "https://example.com/default", IPHONE);
    /* The rule's URL takes the query string as the link's would. */
    GET_WITH("/l/device?x=1", 302, "https://example.com/ios?x=1", IPHONE);
    /* Answered early, as a plain link: nothing in a later phase reads User-Agent. */
    EXPECT_STR(log_answered("answered", "GET", "/l/device", 302), "translate",
               "who answered GET /l/device");
}

static void test_rules_language(void)
{
    http_response *r = GET_WITH("/l/lang", 302, "https://example.com/fr-ca",
                                "Accept-Language: fr-CA,fr;q=0.9");

    EXPECT_HAS(r->headers, "Vary: Accept-Language", "Vary of a link whose rules read it");
    GET_WITH("/l/lang", 302, "https://example.com/fr", "Accept-Language: en-US;q=0.8, fr");
    GET_WITH("/l/lang", 302, "https://example.com/default", "Accept-Language: en, fr;q=0.5");
    GET_WITH("/l/lang", 302, "https://example.com/default", "Accept-Language: *");
    GET("/l/lang", 302, "https://example.com/default");
}

static void test_rules_query(void)
{
    static const http_case cases[] = {
        { "GET", NULL, "/l/query?utm=mail", 302, "https://example.com/mail?utm=mail" },
        { "GET", NULL, "/l/query?utm=web", 302, "https://example.com/default?utm=web" },
        { "GET", NULL, "/l/query?debug", 302, "https://example.com/debug?debug" },
        { "GET", NULL, "/l/query?debug=1", 302, "https://example.com/default?debug=1" },
        { "GET", NULL, "/l/query?ref=x", 302, "https://example.com/ref?ref=x" },
        { "GET", NULL, "/l/query", 302, "https://example.com/default" },
        { "GET", NULL, "/l/order?a&b", 302, "https://example.com/first?a&b" },
        { "GET", NULL, "/l/dates", 302, "https://example.com/now" },
    };

    EXPECT_CASES(cases);
}

static void test_rules_address_and_country(void)
{
    http_response *r = GET_WITH("/l/ip", 302, "https://example.com/internal",
                                "X-Client: 10.1.2.3");

    /* What Vary cannot name: no shared cache keeps it, none reuses it. */
    EXPECT_HAS(r->headers, "Cache-Control: private, no-cache",
               "Cache-Control of a link whose rules read the address");
    r = GET_WITH("/l/country", 302, "https://example.com/default", "X-Test-Country: DE");
    EXPECT_HAS(r->headers, "Cache-Control: private, no-cache",
               "Cache-Control of a link whose rules read the country");
    r = GET("/l/dates", 302, "https://example.com/now");
    EXPECT_HAS(r->headers, "Cache-Control: private, no-cache",
               "Cache-Control of a link whose rules read the date");
    r = GET_WITH("/l/device", 302, "https://example.com/ios", IPHONE);
    CHECK(!http_headers_contain(r, "Cache-Control"),
          "Cache-Control on a link whose rules Vary names:\n%s", r->headers);
    GET_WITH("/l/ip", 302, "https://example.com/wild", "X-Client: 192.0.2.77");
    GET_WITH("/l/ip", 302, "https://example.com/v6", "X-Client: 2001:db8::5");
    GET_WITH("/l/ip", 302, "https://example.com/default", "X-Client: 198.51.100.1");
    GET("/l/ip", 302, "https://example.com/default");     /* 127.0.0.1 */
    GET_WITH("/l/country", 302, "https://example.com/fr", "X-Test-Country: fr");
    GET_WITH("/l/country", 302, "https://example.com/default", "X-Test-Country: DE");
    GET("/l/country", 302, "https://example.com/default");
    /* A location that names another variable reads that one. */
    GET_WITH("/geo/country", 302, "https://example.com/fr", "X-Test-Geo: FR");
    GET_WITH("/geo/country", 302, "https://example.com/default", "X-Test-Country: FR");
    /* Never early: the variable may come from a later phase. */
    EXPECT_STR(log_answered("answered", "GET", "/l/country", 302), "handler",
               "who answered GET /l/country");
}

/* ---- forwarding ----------------------------------------------------------- */

static void test_forwarding(void)
{
    static const http_case cases[] = {
        { "GET", NULL, "/l/fqoff?x=1", 302, "https://example.com/fqoff" },
        { "GET", NULL, "/fp/fqon?x=1", 302, "https://example.com/fqon?x=1" },
        { "GET", NULL, "/fp/plain?x=1", 302, "https://example.com/plain" },
        { "GET", NULL, "/l/fpon/a/b?x=1", 302, "https://example.com/base/a/b?x=1" },
        { "GET", NULL, "/l/fpon/a%20b", 302, "https://example.com/base/a%20b" },
        { "GET", NULL, "/l/plain/more", 404, NULL },
        { "GET", NULL, "/fp/plain/more/path", 302, "https://example.com/plain/more/path" },
        { "GET", NULL, "/fp/fpoff/more", 404, NULL },
        { "GET", NULL, "/fp/fpoff", 302, "https://example.com/fpoff" },
    };

    EXPECT_CASES(cases);
}

/* ---- case, robots.txt, QR codes ------------------------------------------- */

static void test_case_insensitive(void)
{
    http_response *r;

    GET("/ci/mixedcase", 302, "https://example.com/mixed");
    GET("/ci/MIXEDCASE", 302, "https://example.com/mixed");
    GET("/ci/PLAIN", 302, "https://example.com/plain");
    GET("/l/mixedcase", 404, NULL);
    GET("/l/MixedCase", 302, "https://example.com/mixed");
    r = post_json(g_srv, "/ci/", "{\"url\": \"https://example.com/x\", \"slug\": \"mixedCASE\"}",
                  NULL);
    EXPECT_EQ(r->status, 409, "creating a twin in case where case is ignored");
    EXPECT_HAS(r->body, "only in case", "the 409's reason");
    r = post_json(g_srv, "/l/", "{\"url\": \"https://example.com/x\", \"slug\": \"mixedCASE\"}",
                  NULL);
    EXPECT_EQ(r->status, 201, "the same where case is told apart");
    r = post_json(g_srv, "/ci/", "{\"url\": \"https://example.com/random-ci\"}", NULL);
    EXPECT_EQ(r->status, 201, "a random slug where case is ignored");
    CHECK(json_text(r->body, "slug") && strspn(json_text(r->body, "slug"),
                                               "abcdefghijklmnopqrstuvwxyz0123456789") == 6,
          "a random slug there is lower case: %s", r->body);
}

static void test_robots(void)
{
    http_response *r = GET("/l/robots.txt", 200, NULL);

    EXPECT_STR(r->body, "# For more information about the robots.txt standard, see:\n"
               "# https://www.robotstxt.org/orig.html\n\nUser-agent: *\n"
               "Allow: /l/crawl1\nAllow: /l/crawl2\nDisallow: /l/\n", "robots.txt");
    EXPECT("POST", NULL, "/l/robots.txt", 405, NULL);
}

/* What zbarimg reads in a PNG ("" if nothing). */
static char *qr_text(const char *png, size_t len)
{
    char *file = tpath("qr.png"), *out = NULL;
    char *argv[] = { "zbarimg", "--quiet", "--raw", "--nodbus", file, NULL };

    if (write_file(file, png, len) != 0 || httpd_chown(g_srv, file) != 0) {
        return "";
    }
    httpd_run_as_user(g_srv, argv, &out);
    tkeep(out);
    if (out) {
        out[strcspn(out, "\n")] = '\0';
    }
    return out ? out : "";
}

static void test_qr_codes(void)
{
    http_response *png = GET("/l/titled.png", 200, NULL), *big, *svg;
    char *short_url = tfmt("http://127.0.0.1:%d/l/titled", g_srv->port);

    EXPECT_HAS(png->headers, "Content-Type: image/png", "the PNG's type");
    CHECK(png->body_len > 8 && memcmp(png->body, "\x89PNG\r\n\x1a\n", 8) == 0, "a PNG");
    EXPECT_STR(qr_text(png->body, png->body_len), short_url, "what the QR code says");
    big = GET("/l/titled.png?size=1000", 200, NULL);
    CHECK(big->body_len > png->body_len, "size=1000: %zu bytes, the default %zu", big->body_len,
          png->body_len);
    svg = GET("/l/titled.svg", 200, NULL);
    EXPECT_HAS(svg->headers, "Content-Type: image/svg+xml", "the SVG's type");
    EXPECT_HAS(svg->body, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"300\"",
               "the SVG, 300 pixels by default");
    /* A link behind a password has one too: it says only the short URL. */
    png = GET("/l/pw.png", 200, NULL);
    EXPECT_STR(qr_text(png->body, png->body_len), tfmt("http://127.0.0.1:%d/l/pw", g_srv->port),
               "the password link's QR code");
    GET("/l/titled.png?size=5", 400, NULL);
    GET("/l/nosuch.svg", 404, NULL);
    GET("/ci/MIXEDCASE.svg", 200, NULL);
}

/* ---- created with rules ------------------------------------------------------ */

static void test_create_with_rules_json(void)
{
    http_response *r = post_json(g_srv, "/l/",
        "{\"url\": \"https://example.com/made\", \"slug\": \"made\", \"title\": \"Made \\u00e9\","
        " \"tags\": [\"b\", \"a\"], \"validSince\": \"2001-01-01\", \"maxVisits\": 2,"
        " \"fallbackUrl\": \"https://example.com/made-over\", \"password\": null,"
        " \"forwardQuery\": false, \"forwardPath\": true, \"crawlable\": true,"
        " \"redirectRules\": [{\"longUrl\": \"https://example.com/made-ios\", \"conditions\":"
        " [{\"type\": \"device\", \"matchKey\": null, \"matchValue\": \"ios\"},"
        "  {\"type\": \"query-param\", \"matchKey\": \"utm\", \"matchValue\": \"x\"}]}]}", NULL);
    char *out;

    EXPECT_EQ(r->status, 201, "creating a link with rules over JSON: %s", r->body);
    EXPECT_STR(json_text(r->body, "qr_code"), tfmt("http://127.0.0.1:%d/l/made.svg",
                                                   g_srv->port), "its QR code");
    CLI_EXPECT(0, &out, "show", "made");
    EXPECT_HAS(out, "title: Made \xc3\xa9\ntags: a b\nvalid since: 2001-01-01T00:00:00Z\n"
               "max visits: 2\nfallback: https://example.com/made-over\npassword: no\n"
               "forward query: no\nforward path: yes\ncrawlable: yes\n"
               "rule 1: --device ios --query utm=x https://example.com/made-ios\n",
               "what minilink show says of it");
    GET_WITH("/l/made/p?utm=x", 302, "https://example.com/made-ios/p", IPHONE);
    GET("/l/made?utm=x", 302, "https://example.com/made");
    GET("/l/made", 302, "https://example.com/made-over");     /* two visits taken */
    r = post_json(g_srv, "/l/", "{\"url\": \"https://example.com/pwjson\", \"slug\": \"pwjson\","
                  " \"password\": \"" PASSWORD "\"}", NULL);
    EXPECT_EQ(r->status, 201, "a link with a password over JSON");
    CLI_EXPECT(0, &out, "show", "pwjson");
    EXPECT_HAS(out, "password: yes\n", "its password");
    POST_PASSWORD("/l/pwjson", PASSWORD, password_token("/l/pwjson"), 303,
                  "https://example.com/pwjson");
}

static void test_create_refuses_bad_rules(void)
{
    static const struct {
        const char *json, *reason;
    } cases[] = {
        { "{\"url\": \"https://example.com/\", \"maxVisits\": 0}", "visit limit" },
        { "{\"url\": \"https://example.com/\", \"validSince\": \"soon\"}", "valid-since" },
        { "{\"url\": \"https://example.com/\", \"tags\": [\"a b\"]}", "tag" },
        { "{\"url\": \"https://example.com/\", \"fallbackUrl\": \"http://127.0.0.1/x\"}",
          "fallback URL" },
        { "{\"url\": \"https://example.com/\", \"redirectRules\": [{\"longUrl\":"
          " \"http://localhost/\", \"conditions\": [{\"type\": \"device\", \"matchValue\":"
          " \"ios\"}]}]}", "redirect rule 1" },
        { "{\"url\": \"https://example.com/\", \"redirectRules\": [{\"longUrl\":"
          " \"https://example.com/\", \"conditions\": [{\"type\": \"city\", \"matchValue\":"
          " \"x\"}]}]}", "unknown condition" },
        { "{\"url\": \"https://example.com/\", \"redirectRules\": \"--device phone "
          "https://example.com/\"}", "android" },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        http_response *r = post_json(g_srv, "/l/", cases[i].json, NULL);
        EXPECT_EQ(r->status, 400, "%s", cases[i].json);
        EXPECT_HAS(r->body, cases[i].reason, "the reason for %s", cases[i].json);
    }
}

static void test_create_with_rules_form(void)
{
    char *token = form_token_at(HERE, "/l");
    const char *body = tfmt("csrf=%s&url=https%%3A%%2F%%2Fexample.com%%2Fformed&slug=formed"
                            "&title=Formed&tags=x+y&maxVisits=5&crawlable=on&forwardQuery=off"
                            "&redirectRules=--language+de+https%%3A%%2F%%2Fexample.com%%2Fde",
                            token);
    const char *headers[] = { "Content-Type: application/x-www-form-urlencoded",
                              tfmt("Cookie: minilink_csrf=%s", token), NULL };
    http_request_spec req = { "POST", NULL, "/l/", headers, body, strlen(body), NULL };
    http_response *r = expect_request_at(HERE, &req, 201, tfmt("http://127.0.0.1:%d/l/formed",
                                                               g_srv->port));
    char *out;

    EXPECT_HAS(r->body, "<img class=\"qr\" id=\"qr\"", "the result's QR code");
    EXPECT_HAS(r->body, "src=\"formed.svg\"", "the result's QR code's address");
    CLI_EXPECT(0, &out, "show", "formed");
    EXPECT_HAS(out, "title: Formed\ntags: x y\n", "the form's title and tags");
    EXPECT_HAS(out, "max visits: 5\n", "the form's limit");
    EXPECT_HAS(out, "crawlable: yes\n", "the form's crawlable box");
    EXPECT_HAS(out, "rule 1: --language de https://example.com/de\n", "the form's rule");
    GET_WITH("/l/formed?q=1", 302, "https://example.com/de", "Accept-Language: de");
}

/* ---- live changes ------------------------------------------------------------- */

#define WAIT_FOR(what, since, path, status, location) \
    wait_answer_at(HERE, (what), g_srv, "GET", NULL, (path), (status), (location), (since), 100)
#define SQL(...) CHECK(db_exec(tpath("links.db"), tfmt(__VA_ARGS__)) == 0, "SQL: " __VA_ARGS__)

static void test_live_changes(void)
{
    const char *hash;
    apr_pool_t *pool;
    long since;

    since = now_ms();
    CLI_EXPECT(0, NULL, "rule", "add", "live", "https://example.com/live-v2", "--query", "v=2");
    WAIT_FOR("minilink rule add", since, "/l/live?v=2", 302, "https://example.com/live-v2?v=2");
    since = now_ms();
    SQL("UPDATE redirect_rules SET long_url = 'https://example.com/live-sql' WHERE link_id ="
        " (SELECT id FROM links WHERE slug = 'live')");
    WAIT_FOR("SQL on redirect_rules", since, "/l/live?v=2", 302,
             "https://example.com/live-sql?v=2");
    since = now_ms();
    SQL("UPDATE redirect_conditions SET match_value = '3' WHERE rule_id IN (SELECT r.id FROM"
        " redirect_rules r JOIN links l ON l.id = r.link_id WHERE l.slug = 'live')");
    WAIT_FOR("SQL on redirect_conditions", since, "/l/live?v=3", 302,
             "https://example.com/live-sql?v=3");
    since = now_ms();
    CLI_EXPECT(0, NULL, "rule", "rm", "live", "1");
    WAIT_FOR("minilink rule rm", since, "/l/live?v=3", 302, "https://example.com/live?v=3");
    since = now_ms();
    CLI_EXPECT(0, NULL, "set", "live", "--valid-since", "2099-01-01", "--fallback",
               "https://example.com/later");
    WAIT_FOR("minilink set --valid-since", since, "/l/live", 302, "https://example.com/later");
    /* A limit set after clicks counts them. */
    GET("/l/livelimit", 302, "https://example.com/livelimit");
    GET("/l/livelimit", 302, "https://example.com/livelimit");
    since = now_ms();
    CLI_EXPECT(0, NULL, "set", "livelimit", "--max-visits", "2");
    WAIT_FOR("minilink set --max-visits", since, "/l/livelimit", 410, NULL);
    apr_pool_create(&pool, g_pool);
    CHECK(ml_password_hash("changed", &hash, pool) == NULL, "a hash");
    since = now_ms();
    SQL("UPDATE links SET password_hash = '%s' WHERE slug = 'crawl2'", hash);
    WAIT_FOR("a password set with SQL", since, "/l/crawl2", 200, NULL);
    apr_pool_destroy(pool);
    since = now_ms();
    SQL("UPDATE links SET crawlable = 0 WHERE slug = 'crawl1'");
    CHECK(POLL_UNTIL(!strstr(ask(g_srv, "GET", NULL, "/l/robots.txt")->body, "crawl1"),
                     BOUNDED_WAIT_MS, 100) < BOUNDED_WAIT_MS,
          "robots.txt no longer allows crawl1 within %d ms", BOUNDED_WAIT_MS);
}

static CU_TestInfo rules_tests[] = {
    { "title and tags: redirect, preview", test_title_and_tags },
    { "valid since, expiry: 404/410 or the fallback", test_valid_since_expiry_fallback },
    { "max visits: GETs counted, HEAD not, then 410 or the fallback", test_visit_limit },
    { "max visits: exact with 8 clients racing", test_visit_limit_exact_under_load },
    { "password: form, CSRF, wrong, right (303), no preview, not early", test_password },
    { "password: wrong guesses limited per client and link", test_wrong_passwords_limited },
    { "rules: device and browser, Vary, early", test_rules_device_browser },
    { "rules: Accept-Language with q-values", test_rules_language },
    { "rules: query parameters, dates, the first match wins", test_rules_query },
    { "rules: client address (mod_remoteip), country variable", test_rules_address_and_country },
    { "forwarding: query and path, per link and location", test_forwarding },
    { "MinilinkSlugCase insensitive: lookups, twins refused", test_case_insensitive },
    { "robots.txt: crawlable links allowed", test_robots },
    { "QR codes: PNG read back, SVG, size", test_qr_codes },
    { "created over JSON with every rule", test_create_with_rules_json },
    { "creation refuses bad rules, saying why", test_create_refuses_bad_rules },
    { "created with the form's fields", test_create_with_rules_form },
    { "live: CLI and SQL changes to rules, no graceful", test_live_changes },
    CU_TEST_INFO_NULL,
};

static const suite_group rules_group = {
    .name = "rules", .tests = rules_tests, .config = rules_config,
    .modules = "setenvif remoteip slotmem_shm",
    .links = plain_links, .nlinks = ARRAY_LEN(plain_links),
    .rich_links = rule_links, .nrich_links = ARRAY_LEN(rule_links),
};

void add_rules_suites(void)
{
    add_group(&rules_group);
}
