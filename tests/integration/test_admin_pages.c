/*
 * test_admin_pages.c - the admin pages under SetHandler minilink-admin, over plain HTTP.
 *
 * Suites "admin-pages-<mpm>": links under /l and the admin pages under /admin on one database.  A
 * browser's Accept gets pages, anything else the JSON of before; every page is escaped (hostile
 * titles, URLs and referrers never come back as markup) and carries the strict
 * Content-Security-Policy; every POST needs the form token of its cookie and no foreign Origin;
 * each edit (fields, rules, delete, create) is live on /l at once; the chart's figures are the
 * database's.  Under /team (Basic auth), authors see and change only their own links.
 */

#include "ml_test.h"

#define HTML_ACCEPT BROWSER_ACCEPT
#define CSP "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; " \
            "form-action 'self'; frame-ancestors 'none'"
#define HOSTILE_TITLE "<script>alert(1)</script>\"' onmouseover=\"x"
/* A stored URL cannot hold " < > (ml_link.c): what is left is ' and &. */
#define HOSTILE_URL "https://example.com/it's?a=1&b='x'"
#define SEEDED_DAYS 30
#define ALICE "alice:apw"
#define BOB "bob:bpw"
#define CAROL "carol:cpw"

static const link_spec plain_links[] = {
    { "a", "https://example.com/a", 0, 0, 0 },
    { "b", "https://example.com/b", 0, 0, 0 },
    { "gone", "https://example.com/gone", 0, 0, 0 },
};

static const rich_link_spec rich_links[] = {
    { "hostile", HOSTILE_URL, { "title=" HOSTILE_TITLE, "tags=sale news" } },
    { "ruled", "https://example.com/default", { "redirect_rules=--query k=1 "
      "https://example.com/one\n--query k=2 https://example.com/two" } },
    { "seeded", "https://example.com/seeded", { "title=Seeded month" } },
};

/* ---- requests ------------------------------------------------------- */

/* GET path as a browser asks: 200, HTML, the strict policy; the body. */
static char *page_at(int line, const char *path, long status)
{
    const char *headers[] = { HTML_ACCEPT, NULL };
    http_request_spec req = { "GET", NULL, path, headers, NULL, 0, NULL };
    http_response *r = ask_spec(g_srv, &req);
    char *type = tkeep(http_header(r, "Content-Type"));
    char *csp = tkeep(http_header(r, "Content-Security-Policy"));

    check_at(line, r->status == status, "GET %s: %ld, expected %ld:\n%.400s", path, r->status,
             status, r->body);
    check_at(line, type && strncmp(type, "text/html", 9) == 0, "GET %s: Content-Type %s", path,
             str_or_null(type));
    check_at(line, csp && strcmp(csp, CSP) == 0, "GET %s: Content-Security-Policy %s", path,
             str_or_null(csp));
    check_at(line, strstr(r->body, "<script") == NULL, "GET %s: a <script in the page", path);
    return r->body;
}
#define PAGE(path) page_at(__LINE__, (path), 200)

#define token_at(line) admin_token_at(__FILE__, (line), g_srv, "/admin/", NULL)
#define post_form(path, body, field, cookie, origin) \
    admin_post(g_srv, (path), (body), (field), (cookie), (origin), NULL)

/* GET path as user ("name:password") and as a browser. */
static http_response *page_as(const char *path, const char *user)
{
    const char *headers[] = { HTML_ACCEPT, NULL };
    http_request_spec req = { "GET", NULL, path, headers, NULL, 0, user };
    return ask_spec(g_srv, &req);
}

/* POSTs a form to /team as user, with a good token: the status. */
static long post_as(const char *path, const char *body, const char *user)
{
    admin_token token = admin_token_at(HERE, g_srv, "/team/", user);
    return admin_post(g_srv, path, body, token.field, token.cookie,
                      tfmt("http://127.0.0.1:%d", g_srv->port), user)->status;
}

/* POSTs with a good token and this server's Origin: expects status (a 303 goes to location, a path
 * under the server). */
static http_response *post_ok_at(int line, const char *path, const char *body, long status,
                                 const char *location)
{
    admin_token token = token_at(line);
    http_response *r = post_form(path, body, token.field, token.cookie,
                                 tfmt("http://127.0.0.1:%d", g_srv->port));

    check_at(line, r->status == status, "POST %s %s: %ld, expected %ld:\n%.600s", path, body,
             r->status, status, r->body);
    if (location) {
        char *expected = tfmt("http://127.0.0.1:%d%s", g_srv->port, location);
        check_at(line, r->location && strcmp(r->location, expected) == 0,
                 "POST %s: Location %s, expected %s", path, str_or_null(r->location), expected);
    }
    return r;
}
#define POST_OK(path, body, status, location) post_ok_at(__LINE__, path, body, status, location)

/* ---- the JSON stays ------------------------------------------------- */

static void test_json_for_other_clients(void)
{
    const char *json_accept[] = { "Accept: application/json", NULL };
    const char *html_accept[] = { HTML_ACCEPT, NULL };
    http_request_spec req = { "GET", NULL, "/admin/links/a", json_accept, NULL, 0, NULL };
    http_response *r = ask(g_srv, "GET", NULL, "/admin/");
    char *type = tkeep(http_header(r, "Content-Type"));

    EXPECT_STR(type, "application/json", "GET /admin/ without Accept: Content-Type");
    EXPECT_HAS(r->body, "\"links_cached\"", "GET /admin/ without Accept");
    r = ask_spec(g_srv, &req);
    EXPECT_EQ(r->status, 200, "GET /admin/links/a, Accept: application/json");
    EXPECT_HAS(r->body, "\"slug\":\"a\"", "GET /admin/links/a as JSON");
    req.path = "/admin/metrics";
    req.headers = html_accept;
    r = ask_spec(g_srv, &req);
    EXPECT_HAS(r->body, "# TYPE minilink_clicks_total counter", "/admin/metrics for a browser");
    req.path = "/admin/links/a/visits/days";
    req.headers = json_accept;
    EXPECT_EQ(ask_spec(g_srv, &req)->status, 200, "the visits JSON");
    EXPECT_EQ(ask(g_srv, "DELETE", NULL, "/admin/links/a")->status, 405, "DELETE");
}

/* ---- each page, escaped --------------------------------------------- */

static void test_pages_render(void)
{
    char *body = PAGE("/admin/");

    EXPECT_HAS(body, "<h1>Overview</h1>", "the overview");
    EXPECT_HAS(body, "<svg class=\"chart\"", "the overview's chart");
    EXPECT_HAS(body, "id=\"health\"", "the cache and refresh health");
    EXPECT_HAS(body, "invalid_short_url", "the orphan visits by type");
    EXPECT_HAS(PAGE("/admin/?days=365"), "in 365 days", "the overview for a year");
    body = PAGE("/admin/links");
    EXPECT_HAS(body, "href=\"/admin/links/a\"", "the links table");
    EXPECT_HAS(body, "<p id=\"count\">6 links</p>", "the links table's count");
    body = PAGE("/admin/links/a");
    EXPECT_HAS(body, "name=\"url\" type=\"url\" value=\"https://example.com/a\"", "the edit form");
    EXPECT_HAS(body, "href=\"http://127.0.0.1:", "the short link");
    EXPECT_HAS(body, "src=\"/admin/links/a/qr.svg\"", "the QR code");
    EXPECT_HAS(PAGE("/admin/links/a/delete"), "id=\"confirm\"", "the confirmation");
    EXPECT_HAS(PAGE("/admin/new"), "id=\"create\"", "the creation form");
    page_at(__LINE__, "/admin/links/nothere", 404);
    EXPECT_EQ(ask(g_srv, "GET", NULL, "/admin/links/a/qr.svg")->status, 200, "the QR code");
    EXPECT_HAS(ask(g_srv, "GET", NULL, "/admin/links/a/qr.svg")->body, "<svg",
               "the QR code is an SVG");
}

static void test_hostile_values_escaped(void)
{
    const char *referer[] = { "Referer: https://evil.example/<b>x</b>\"'",
                              "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) "
                              "Gecko/20100101 Firefox/120.0", NULL };
    http_request_spec visit = { "GET", NULL, "/l/hostile", referer, NULL, 0, NULL };
    char *body;

    EXPECT_EQ(ask_spec(g_srv, &visit)->status, 302, "a visit with a hostile Referer");
    body = PAGE("/admin/links/hostile");
    EXPECT_LACKS(body, HOSTILE_TITLE, "the title as markup");
    /* Every attribute is in double quotes: a ' needs no escaping. */
    EXPECT_HAS(body, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;", "the title escaped");
    EXPECT_LACKS(body, "onmouseover=\"x", "the title's attribute");
    EXPECT_LACKS(body, HOSTILE_URL, "the URL unescaped");
    EXPECT_HAS(body, "?a=1&amp;b=", "the URL escaped");
    EXPECT_LACKS(body, "<b>x</b>", "the referrer as markup");
    /* Where the visit came from, in the lists below the chart. */
    EXPECT_HAS(body, "<td>evil.example</td><td class=\"n\">1</td>", "the referrer's host");
    EXPECT_HAS(body, "<td>Firefox</td><td class=\"n\">1</td>", "the browser");
    EXPECT_HAS(body, "<td>Windows</td><td class=\"n\">1</td>", "the operating system");
    EXPECT_HAS(body, "<td>desktop</td><td class=\"n\">1</td>", "the device");
    EXPECT_HAS(body, "data-clicks=\"1\"", "today's click in the chart");
    body = PAGE("/admin/links?q=%3Cscript%3E");
    EXPECT_HAS(body, "value=\"&lt;script&gt;\"", "the search term escaped");
    EXPECT_HAS(body, "href=\"/admin/links/hostile\"", "a title found by search");
    body = PAGE("/admin/links?tag=%22%3E%3Cx");
    EXPECT_HAS(body, "value=\"&quot;&gt;&lt;x\"", "the tag filter escaped");
    EXPECT_LACKS(body, "\"><x", "the tag filter as markup");
    EXPECT_LACKS(PAGE("/admin/"), HOSTILE_TITLE, "the overview");
}

/* ---- a text browser ---------------------------------------------------- */

/* w3m fetches each page as a text browser does (its own Accept: text/html) and renders it: what a
 * person reads there must say what the graphical page shows - the fields, the buttons, the chart's
 * figures as a table, the links table. */
static void test_text_browser(void)
{
    static const struct {
        const char *path;
        const char *needles[4];
    } pages[] = {
        { "/admin/", { "Overview | Links | New link", "Most clicked", "Cache and refresh",
                       "Orphan visits" } },
        { "/admin/links", { "\nSearch (slug, URL, title or tag) [", "\nTag [",
                            "example.com/b", "Page 1 of 1" } },
        /* A field a line, its value in its box. */
        { "/admin/links/seeded", { "\nLong URL [https://", "\nTitle [Seeded month",
                                   "\nSave Delete...", "The figures, day by day" } },
        { "/admin/new", { "\nSlug (letters", "\nVisits at most", "\nRedirect rules",
                          "\nCreate" } },
    };
    size_t i, k;

    for (i = 0; i < ARRAY_LEN(pages); i++) {
        char *url = tfmt("http://127.0.0.1:%d%s", g_srv->port, pages[i].path), *out = NULL;
        run_spec spec = { .argv = (char *[]){ "w3m", "-dump", "-cols", "80", url, NULL },
                          .timeout_ms = 20000 };
        int status = run_program(&spec, &out);
        tkeep(out);
        if (!CHECK(status == 0, "w3m -dump %s exited %d:\n%s", url, status, str_or_null(out))) {
            continue;
        }
        for (k = 0; k < ARRAY_LEN(pages[i].needles) && pages[i].needles[k]; k++) {
            EXPECT_HAS(out, pages[i].needles[k], "w3m's %s", pages[i].path);
        }
    }
}

/* ---- CSRF ------------------------------------------------------------ */

static void test_csrf_refused(void)
{
    admin_token token = token_at(__LINE__), other = token_at(__LINE__);
    const char *self = tfmt("http://127.0.0.1:%d", g_srv->port);
    static const char body[] = "url=https%3A%2F%2Fevil.example%2F";
    char forged[49];

    EXPECT_EQ(post_form("/admin/links/a", body, NULL, NULL, NULL)->status, 403, "no token");
    EXPECT_EQ(post_form("/admin/links/a", body, token.field, NULL, NULL)->status, 403,
              "no cookie");
    EXPECT_EQ(post_form("/admin/links/a", body, NULL, token.cookie, NULL)->status, 403,
              "no field");
    snprintf(forged, sizeof forged, "%.47s%c", token.field,
             token.field[47] == '0' ? '1' : '0');
    EXPECT_EQ(post_form("/admin/links/a", body, forged, forged, self)->status, 403,
              "a changed token in field and cookie");
    if (strcmp(token.field, other.field) != 0) {
        EXPECT_EQ(post_form("/admin/links/a", body, token.field, other.cookie, self)->status, 403,
                  "field and cookie of two tokens");
    }
    EXPECT_EQ(post_form("/admin/links/a", body, token.field, token.cookie,
                        "https://evil.example")->status, 403, "a foreign Origin");
    EXPECT_EQ(post_form("/admin/links/a/delete", "", token.field, token.cookie,
                        "null")->status, 403, "Origin null, delete");
    EXPECT_EQ(post_form("/admin/new", "slug=csrf&url=https%3A%2F%2Fexample.com%2F", NULL, NULL,
                        NULL)->status, 403, "create without token");
    EXPECT_EQ(post_form("/admin/links/ruled/rules", "op=remove+1", NULL, NULL, NULL)->status, 403,
              "rules without token");
    GET("/l/a", 302, "https://example.com/a");
    GET("/l/csrf", 404, NULL);
    GET("/l/ruled?k=1", 302, "https://example.com/one?k=1");
    GET("/l/gone", 302, "https://example.com/gone");
    EXPECT_EQ(ask(g_srv, "POST", NULL, "/admin/")->status, 405, "POST to the overview");
}

/* ---- edits, live ------------------------------------------------------ */

static void test_edit_fields_live(void)
{
    char *body;

    POST_OK("/admin/links/a", "url=https%3A%2F%2Fexample.com%2Fchanged&title=New+title"
            "&tags=one+two&status=301", 303, "/admin/links/a?done=saved");
    GET("/l/a", 301, "https://example.com/changed");
    body = PAGE("/admin/links/a?done=saved");
    EXPECT_HAS(body, "Saved: live now.", "the notice");
    EXPECT_HAS(body, "value=\"New title\"", "the title");
    EXPECT_HAS(body, "value=\"one two\"", "the tags");
    /* UTF-8 comes back as it went: characters, not one entity a byte. */
    POST_OK("/admin/links/a", "url=https%3A%2F%2Fexample.com%2Fchanged&title=Caf%C3%A9+%E6%9D%B1"
            "%E4%BA%AC&status=301", 303, NULL);
    EXPECT_HAS(PAGE("/admin/links/a"), "value=\"Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac\"",
               "a UTF-8 title");
    EXPECT_HAS(ask(g_srv, "GET", NULL, "/l/a+")->body, "Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac",
               "the UTF-8 title in the public preview");
    POST_OK("/admin/links/a", "url=https%3A%2F%2Fexample.com%2Fchanged&disabled=on", 303, NULL);
    GET("/l/a", 410, NULL);
    POST_OK("/admin/links/a", "url=https%3A%2F%2Fexample.com%2Fchanged&validUntil=2001-01-01"
            "&fallbackUrl=https%3A%2F%2Fexample.com%2Ffallback", 303, NULL);
    GET("/l/a", 302, "https://example.com/fallback");
    POST_OK("/admin/links/a", "url=https%3A%2F%2Fexample.com%2Fchanged&password=sesame", 303,
            NULL);
    EXPECT_HAS(ask(g_srv, "GET", NULL, "/l/a")->body, "name=\"password\"", "a password form");
    EXPECT_HAS(PAGE("/admin/links/a"), "id=\"clearPassword\"", "the password's clear box");
    POST_OK("/admin/links/a", "url=https%3A%2F%2Fexample.com%2Fagain&clearPassword=on"
            "&maxVisits=1000", 303, NULL);
    GET("/l/a", 302, "https://example.com/again");
    /* Refused, saying why, and nothing changes. */
    body = post_ok_at(__LINE__, "/admin/links/a", "url=ftp%3A%2F%2Fexample.com%2F", 400,
                      NULL)->body;
    EXPECT_HAS(body, "id=\"error\"", "an error for an ftp URL");
    EXPECT_HAS(body, "value=\"ftp://example.com/\"", "what was typed, shown again");
    post_ok_at(__LINE__, "/admin/links/a", "url=https%3A%2F%2Fexample.com%2F&status=200", 400,
               NULL);
    post_ok_at(__LINE__, "/admin/links/a", "url=https%3A%2F%2Fexample.com%2F&validSince=soon",
               400, NULL);
    post_ok_at(__LINE__, "/admin/links/a", tfmt("url=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fl%%2Fb",
                                                g_srv->port), 400, NULL);
    GET("/l/a", 302, "https://example.com/again");
}

static void test_rules_live(void)
{
    POST_OK("/admin/links/ruled/rules", "op=add&rule=--query+k%3D3+https%3A%2F%2Fexample.com"
            "%2Fthree", 303, "/admin/links/ruled?done=rules#rules");
    GET("/l/ruled?k=3", 302, "https://example.com/three?k=3");
    POST_OK("/admin/links/ruled/rules", "op=up+3", 303, NULL);
    EXPECT_HAS(PAGE("/admin/links/ruled"), "<li><code>--query k=1 https://example.com/one</code>"
               "<br><button class=\"small\" name=\"op\" value=\"down 1\">", "rule 1 stays first");
    EXPECT_HAS(PAGE("/admin/links/ruled"), "<li><code>--query k=3 https://example.com/three"
               "</code><br><button class=\"small\" name=\"op\" value=\"up 2\">",
               "rule 3 moved up to 2");
    POST_OK("/admin/links/ruled/rules", "op=remove+1", 303, NULL);
    GET("/l/ruled?k=1", 302, "https://example.com/default?k=1");
    GET("/l/ruled?k=2", 302, "https://example.com/two?k=2");
    post_ok_at(__LINE__, "/admin/links/ruled/rules", "op=add&rule=--colour+red+https%3A%2F%2F"
               "example.com%2F", 400, NULL);
    post_ok_at(__LINE__, "/admin/links/ruled/rules", "op=remove+9", 400, NULL);
    {
        const char *headers[] = { HTML_ACCEPT, NULL };
        http_request_spec req = { "GET", NULL, "/admin/links/ruled/rules", headers, NULL, 0,
                                  NULL };
        EXPECT_EQ(ask_spec(g_srv, &req)->status, 405, "GET rules");
    }
}

static void test_create_and_delete_live(void)
{
    char *body;

    POST_OK("/admin/new", "slug=fresh&url=https%3A%2F%2Fexample.com%2Ffresh&title=Fresh"
            "&tags=new&maxVisits=5&crawlable=on&redirectRules=--query+x%3D1+https%3A%2F%2F"
            "example.com%2Fx", 303, "/admin/links/fresh?done=created");
    GET("/l/fresh", 302, "https://example.com/fresh");
    GET("/l/fresh?x=1", 302, "https://example.com/x?x=1");
    body = PAGE("/admin/links/fresh?done=created");
    EXPECT_HAS(body, "Created: live now.", "the notice");
    EXPECT_HAS(body, "value=\"Fresh\"", "the title");
    body = post_ok_at(__LINE__, "/admin/new", "slug=fresh&url=https%3A%2F%2Fexample.com%2F", 409,
                      NULL)->body;
    EXPECT_HAS(body, "id=\"error\"", "a taken slug");
    post_ok_at(__LINE__, "/admin/new", "slug=-x&url=https%3A%2F%2Fexample.com%2F", 400, NULL);
    /* A name the server keeps, or one that would hide another page under /l: 409, as the form. */
    post_ok_at(__LINE__, "/admin/new", "slug=robots&url=https%3A%2F%2Fexample.com%2F", 409, NULL);
    body = POST_OK("/admin/new", "url=https%3A%2F%2Fexample.com%2Frandom", 303, NULL)->location;
    CHECK(body && strstr(body, "/admin/links/"), "a random slug: %s", str_or_null(body));
    POST_OK("/admin/links/gone/delete", "", 303, "/admin/links?done=deleted");
    GET("/l/gone", 404, NULL);
    page_at(__LINE__, "/admin/links/gone", 404);
}

/* ---- the chart -------------------------------------------------------- */

/* A month of days for "seeded", from 0 to two million clicks a day, some bots. */
static void test_chart_matches_database(void)
{
    long today = (long)time(NULL) / 86400 * 86400, clicks, bots, day;
    char *sql = tfmt("DELETE FROM visits_daily WHERE link_id = "
                     "(SELECT id FROM links WHERE slug = 'seeded');");
    char *body, *at;
    int i, matched = 0;

    for (i = 0; i < SEEDED_DAYS; i++) {
        clicks = i == 3 ? 2000000 : (i * 37) % 100;
        sql = tfmt("%sINSERT INTO visits_daily (link_id, day, clicks, bots) SELECT id, %ld, %ld, "
                   "%ld FROM links WHERE slug = 'seeded';", sql, today - i * 86400L, clicks,
                   clicks / 4);
    }
    CHECK(db_exec(tpath("links.db"), sql) == 0, "seeding visits_daily");
    body = PAGE("/admin/links/seeded?days=30");
    EXPECT_HAS(body, "data-top=\"2000000\"", "the scale's top: two million");
    EXPECT_HAS(body, ">2M</text>", "the top tick says 2M");
    for (at = strstr(body, "<g class=\"day\" data-day=\""); at;
         at = strstr(at + 1, "<g class=\"day\" data-day=\"")) {
        struct tm tm = {0};
        char date[11];
        sscanf(at + 25, "%10s", date);
        if (sscanf(at, "<g class=\"day\" data-day=\"%*10s\" data-clicks=\"%ld\" data-bots=\"%ld\"",
                   &clicks, &bots) != 2 || strptime(date, "%Y-%m-%d", &tm) == NULL) {
            CHECK(0, "a day the test cannot read: %.120s", at);
            break;
        }
        day = (long)timegm(&tm);
        EXPECT_EQ(clicks, db_int(tpath("links.db"), "SELECT COALESCE(SUM(d.clicks), 0) FROM "
                  "visits_daily d JOIN links l ON l.id = d.link_id WHERE slug = 'seeded' AND "
                  "day = %ld", day), "%s: clicks", date);
        EXPECT_EQ(bots, db_int(tpath("links.db"), "SELECT COALESCE(SUM(d.bots), 0) FROM "
                  "visits_daily d JOIN links l ON l.id = d.link_id WHERE slug = 'seeded' AND "
                  "day = %ld", day), "%s: bots", date);
        matched++;
    }
    EXPECT_EQ(matched, SEEDED_DAYS, "days drawn");
    EXPECT_HAS(PAGE("/admin/?days=30"), "data-clicks=\"2000000\"", "the overview's chart");
}

/* ---- ownership ------------------------------------------------------- */

/* /team authenticates alice and bob (authors) and carol (MinilinkAdminUsers): an author sees and
 * changes only the links they made, on every page; the admin all of them. */
static void test_authors_see_their_own(void)
{
    http_response *r;

    EXPECT_EQ(post_as("/team/new", "slug=alices&url=https%3A%2F%2Fexample.com%2Falice",
                      ALICE), 303, "alice creates");
    EXPECT_EQ(post_as("/team/new", "slug=bobs&url=https%3A%2F%2Fexample.com%2Fbob", BOB), 303,
              "bob creates");
    GET("/l/alices", 302, "https://example.com/alice");
    EXPECT_EQ(db_int(tpath("links.db"), "SELECT count(*) FROM links WHERE slug = 'alices' AND "
                     "owner = 'alice'"), 1, "alices: owned by alice");
    r = page_as("/team/links", ALICE);
    EXPECT_HAS(r->body, "href=\"/team/links/alices\"", "alice's table");
    EXPECT_LACKS(r->body, "href=\"/team/links/bobs\"", "bob's link in alice's table");
    EXPECT_LACKS(r->body, "href=\"/team/links/b\"", "an admin's link in alice's table");
    EXPECT_LACKS(r->body, "id=\"count\"", "the database's count for an author");
    EXPECT_EQ(page_as("/team/links/bobs", ALICE)->status, 404, "bob's link's page for alice");
    EXPECT_EQ(page_as("/team/links/bobs/qr.svg", ALICE)->status, 404, "bob's QR code for alice");
    EXPECT_EQ(post_as("/team/links/bobs", "url=https%3A%2F%2Fexample.com%2Fstolen", ALICE), 404,
              "alice edits bob's link");
    EXPECT_EQ(post_as("/team/links/bobs/delete", "", ALICE), 404, "alice deletes bob's link");
    EXPECT_EQ(post_as("/team/links/bobs/rules", "op=add&rule=--language+fr+https%3A%2F%2F"
                      "example.com%2Ffr", ALICE), 404, "alice adds a rule to bob's link");
    GET("/l/bobs", 302, "https://example.com/bob");
    r = page_as("/team/", ALICE);
    EXPECT_HAS(r->body, "href=\"/team/links/alices\"", "alice's overview");
    EXPECT_LACKS(r->body, "/team/links/bobs", "bob's link in alice's overview");
    EXPECT_LACKS(r->body, "id=\"health\"", "the database's health for an author");
    EXPECT_EQ(post_as("/team/links/alices", "url=https%3A%2F%2Fexample.com%2Falice2", ALICE),
              303, "alice edits her link");
    GET("/l/alices", 302, "https://example.com/alice2");
    r = page_as("/team/links", CAROL);
    EXPECT_HAS(r->body, "href=\"/team/links/alices\"", "carol's table: alice's");
    EXPECT_HAS(r->body, "href=\"/team/links/bobs\"", "carol's table: bob's");
    EXPECT_EQ(page_as("/team/links/bobs", CAROL)->status, 200, "bob's link's page for carol");
    EXPECT_EQ(page_as("/team/", NULL)->status, 401, "no user");
}

static CU_TestInfo admin_pages_tests[] = {
    { "JSON for other clients, as before", test_json_for_other_clients },
    { "every page renders, with the strict policy", test_pages_render },
    { "hostile titles, URLs, referrers, searches escaped; where visits came from",
      test_hostile_values_escaped },
    { "a text browser (w3m) reads every page", test_text_browser },
    { "CSRF: no token, a forged one, a foreign Origin refused", test_csrf_refused },
    { "fields edited, live at once; bad ones refused", test_edit_fields_live },
    { "rules added, moved, removed, live", test_rules_live },
    { "create and delete, live", test_create_and_delete_live },
    { "the chart's days are the database's", test_chart_matches_database },
    { "authors see and change only their own links; admins all", test_authors_see_their_own },
    CU_TEST_INFO_NULL,
};

/* bob and carol in <dir>/passwd beside the group's alice. */
static int add_users(void)
{
    static const char *const users[][2] = { { "bob", "bpw" }, { "carol", "cpw" } };
    char *output = NULL;
    size_t i;

    for (i = 0; i < ARRAY_LEN(users); i++) {
        char *argv[] = { "htpasswd", "-b", tpath("passwd"), (char *)users[i][0],
                         (char *)users[i][1], NULL };
        int rc = httpd_run_as_user(g_srv, argv, &output);
        if (rc != 0) {
            fprintf(stderr, "htpasswd -b: %s\n", output);
        }
        free(output);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static const suite_group admin_pages_group = {
    .name = "admin-pages", .tests = admin_pages_tests,
    .modules = "auth_basic authn_file authz_user",
    .passwd = "alice:apw", .prepare = add_users,
    .config = "MinilinkDatabase @DIR@/links.db\n" MINILINK_AT("/l", "")
              HANDLER_AT("/admin", "minilink-admin")
              LOCATION("/team", "SetHandler minilink-admin\n" BASIC_AUTH
                       "MinilinkAdminUsers carol\n"),
    .links = plain_links, .nlinks = ARRAY_LEN(plain_links),
    .rich_links = rich_links, .nrich_links = ARRAY_LEN(rich_links),
};

void add_admin_pages_suites(void)
{
    add_group(&admin_pages_group);
}
