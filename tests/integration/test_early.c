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
#include "ml_test.h"

#define USER "dana"
#define PASSWORD "p4ss"

/* Ports B and C, picked when the server is configured (port A is g_srv's). */
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
    /* Links with redirect rules: what they read is the same on both paths (and Vary says it). */
    { "GET", "@/dev", { "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
                        NULL }, NULL },
    { "GET", "@/dev", { "User-Agent: BadBot/1.0", NULL }, NULL },
    { "GET", "@/lang", { "Accept-Language: fr-FR, en;q=0.5", NULL }, NULL },
    { "GET", "@/lang", { "Accept-Language: fr;q=0.5", NULL }, NULL },
    { "GET", "@/qp?utm=mail&x=1", { NULL }, NULL },
    { "GET", "@/ipr", { "X-Forwarded-For: 10.1.2.3", NULL }, NULL },
    { "GET", "@/ipr", { "X-Forwarded-For: 192.0.2.9", NULL }, NULL },
    { "GET", "@/cc", { "X-Country: FR", NULL }, NULL },
    { "GET", "@/fwd/more/path?x=1", { NULL }, NULL },
    { "HEAD", "@/soon", { NULL }, NULL },
};

static const link_spec early_links[] = {
    { "abc", "https://example.com/abc", 0, 0, 0 },
    { "gone", "https://example.com/gone", 0, 0, 1 },
};

/* Their answers may be early (dev, lang, qp, ipr, fwd, soon) or never (pw: a password; cc: the
 * country's variable).  pw's form carries a CSRF token of its own each time: it is not in the
 * byte-for-byte table, only asked who answered. */
static const rich_link_spec early_rule_links[] = {
    { "dev", "https://example.com/dev", { "redirect_rules=--device ios https://example.com/ios" } },
    { "lang", "https://example.com/lang", { "redirect_rules="
      "--language fr https://example.com/fr" } },
    { "qp", "https://example.com/qp", { "redirect_rules=--query utm=mail https://example.com/mail" } },
    { "ipr", "https://example.com/ipr", { "redirect_rules=--ip 10.0.0.0/8 https://example.com/in" } },
    { "cc", "https://example.com/cc", { "redirect_rules=--country FR https://example.com/fr" } },
    { "fwd", "https://example.com/fwd", { "forward_path=on" } },
    { "soon", "https://example.com/soon", { "valid_since=2099-01-01",
                                            "fallback_url=https://example.com/wait" } },
    { "pw", "https://example.com/pw", { "password=letmein" } },
};


/*
 * The response as one comparable text: status line, the headers sorted and without Date (and
 * Keep-Alive, which counts down per connection), then the body; each port number replaced by
 * "PORT", as previews and error pages name the host they were asked on.
 */
static char *normalized(const http_response *resp, int port)
{
    char *copy = tfmt("%s", resp->headers ? resp->headers : ""), *save = NULL;
    char *lines[64], *line, *text, *port_text = tfmt(":%d", port), *at;
    size_t n = 0, i, j, size = 2 + resp->body_len;

    for (line = strtok_r(copy, "\r\n", &save); line && n < ARRAY_LEN(lines);
         line = strtok_r(NULL, "\r\n", &save)) {
        if (strncasecmp(line, "Date:", 5) != 0 && strncasecmp(line, "Keep-Alive:", 11) != 0) {
            lines[n++] = line;
            size += strlen(line) + 1;
        }
    }
    /* The status line first; the rest in a fixed order. */
    for (i = 2; i < n; i++) {
        for (j = i; j > 1 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
            char *swap = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = swap;
        }
    }
    text = talloc(size);
    text[0] = '\0';
    for (i = 0; i < n; i++) {
        strcat(strcat(text, lines[i]), "\n");
    }
    strcat(strcat(text, "\n"), resp->body ? resp->body : "");
    while ((at = strstr(text, port_text)) != NULL) {
        memmove(at + 5, at + strlen(port_text), strlen(at + strlen(port_text)) + 1);
        memcpy(at, ":PORT", 5);
    }
    return text;
}

/* Request q of the table at a location, on port: its normalized answer. */
static char *answer(int port, size_t q, const char *mount)
{
    http_request_spec req = { requests[q].method, NULL,
                              tfmt("%s%s", mount, requests[q].path + 1),
                              requests[q].headers, NULL, 0, requests[q].userpwd };
    http_response resp;
    char *text = http_send(port, &req, &resp) == 0 ? normalized(&resp, port)
                 : tfmt("transport error: %s", resp.error);

    http_response_free(&resp);
    return text;
}

static void test_same_answer_early_or_not(void)
{
    size_t m, q;
    int differences = 0;

    for (m = 0; m < ARRAY_LEN(mounts); m++) {
        for (q = 0; q < ARRAY_LEN(requests); q++) {
            char *early = answer(g_srv->port, q, mounts[m].path);
            char *ordinary = answer(port_b, q, mounts[m].path);
            differences += !CHECK(strcmp(early, ordinary) == 0, "%s %s%s (%s%s): early and "
                                  "ordinary answers differ:\n--- early ---\n%s\n--- ordinary "
                                  "---\n%s", requests[q].method, mounts[m].path,
                                  requests[q].path + 1, str_or_null(requests[q].headers[0]),
                                  requests[q].userpwd ? ", with credentials" : "", early,
                                  ordinary);
        }
    }
    printf("[%u requests x 2 ports, %d different] ",
           (unsigned)(ARRAY_LEN(mounts) * ARRAY_LEN(requests)), differences);
}

/* How port's access log says its last GET of path was answered. */
static const char *answered_on(int port, const char *path)
{
    http_response resp;
    long status = http_request(port, "GET", NULL, path, &resp) == 0 ? resp.status : 0;

    http_response_free(&resp);
    return log_answered(port == g_srv->port ? "answered-a" : port == port_b ? "answered-b"
                        : "answered-c", "GET", path, status);
}

static void test_early_only_without_access_rules(void)
{
    size_t m;

    for (m = 0; m < ARRAY_LEN(mounts); m++) {
        const char *path = tfmt("%s/abc", mounts[m].path);
        const char *on_a = answered_on(g_srv->port, path), *on_b = answered_on(port_b, path);

        if (mounts[m].early) {
            EXPECT_STR(on_a, "translate", "GET %s on port A: who answered", path);
        }
        else {
            CHECK(on_a && strcmp(on_a, "translate") != 0, "GET %s on port A answered by %s, "
                  "despite its access rules", path, str_or_null(on_a));
        }
        CHECK(on_b && strcmp(on_b, "translate") != 0, "GET %s on port B (MinilinkEarlyAnswer "
              "Off) answered by %s", path, str_or_null(on_b));
    }
    /* A link's own rules: early as a plain link's, but for a password and a country. */
    EXPECT_STR(answered_on(g_srv->port, "/plain/dev"), "translate", "GET /plain/dev: who answered");
    EXPECT_STR(answered_on(g_srv->port, "/plain/pw"), "handler", "GET /plain/pw: who answered");
    EXPECT_STR(answered_on(g_srv->port, "/plain/cc"), "handler", "GET /plain/cc: who answered");
    /* The LocationMatch still guards the form under /formauth. */
    GET("/formauth/", 401, NULL);
    EXPECT("POST", NULL, "/formauth/x/", 401, NULL);
}

static void test_denied_request_logged_once(void)
{
    int before = httpd_error_log_count(g_srv, "AH01630");

    GET("/remoteip/abc", 403, NULL);
    CHECK(httpd_error_log_wait(g_srv, "AH01630", before, BOUNDED_WAIT_MS) >= 0,
          "the denial is logged (AH01630)");
    sleep_ms(300);
    EXPECT_EQ(httpd_error_log_count(g_srv, "AH01630") - before, 1,
              "AH01630 lines for one denied request");
}

static void test_server_level_condition_turns_early_off(void)
{
    EXPECT_HAS(answer(port_c, 0, "/plain"), "X-Seen-By-Fixups: yes",
               "host C's header set on a variable its fixups set");
    EXPECT_STR(answered_on(port_c, "/plain/abc"), "handler", "GET /plain/abc on host C: who "
               "answered");
    EXPECT_EQ(httpd_error_log_count(g_srv, "ML00035"), 1, "ML00035 lines at startup");
    EXPECT_EQ(httpd_error_log_count(g_srv, "ML00035: redirects for c.test"), 1,
              "ML00035 lines naming host C");
    EXPECT_EQ(httpd_error_log_count(g_srv, "Header at "), 1, "ML00035 lines naming its Header");
}

static CU_TestInfo early_tests[] = {
    { "every request: the early answer is the ordinary path's, to the byte",
      test_same_answer_early_or_not },
    { "answered early only where the location has no access rule",
      test_early_only_without_access_rules },
    { "a denied request: one AH01630 line", test_denied_request_logged_once },
    { "a server-wide Header on env=: that host answers after access control",
      test_server_level_condition_turns_early_off },
    CU_TEST_INFO_NULL,
};

/* Three virtual hosts with the same locations, on ports of their own. */
static char *early_config(void)
{
    port_b = free_port();
    do {
        port_c = free_port();
    } while (port_c == port_b);
    return tfmt("Listen 127.0.0.1:%d\n"
                "Listen 127.0.0.1:%d\n"
                "TypesConfig /etc/mime.types\n"
                "MinilinkRefreshInterval 0\n"
                "MinilinkDatabase links.db\n"
                "RemoteIPHeader X-Forwarded-For\n"
                "RemoteIPTrustedProxy 127.0.0.1\n"
                "SetEnvIf X-Country \"^(..)$\" MM_COUNTRY_CODE=$1\n"
                "Header always set X-Frame-Options DENY\n"
                "ErrorDocument 404 \"No such short link\"\n"
                "<VirtualHost 127.0.0.1:@PORT@>\nServerName a.test\n%s%s</VirtualHost>\n"
                "<VirtualHost 127.0.0.1:%d>\nServerName b.test\nMinilinkEarlyAnswer Off\n"
                "%s%s</VirtualHost>\n"
                "<VirtualHost 127.0.0.1:%d>\nServerName c.test\n"
                "SetEnv SEEN_BY_FIXUPS 1\n"
                "Header always set X-Seen-By-Fixups yes env=SEEN_BY_FIXUPS\n"
                "%s%s</VirtualHost>\n",
                port_b, port_c, ANSWERED_LOG("answered-a"), locations, port_b,
                ANSWERED_LOG("answered-b"), locations, port_c, ANSWERED_LOG("answered-c"),
                locations);
}

static const suite_group early_group = {
    .name = "early", .tests = early_tests, .config_of = early_config,
    .modules = "setenvif remoteip authz_host auth_basic authn_file authz_user access_compat "
               "rewrite alias headers env mime negotiation dir",
    .links = early_links, .nlinks = ARRAY_LEN(early_links), .passwd = USER ":" PASSWORD,
    .rich_links = early_rule_links, .nrich_links = ARRAY_LEN(early_rule_links),
};

void add_early_suites(void)
{
    add_group(&early_group);
}
