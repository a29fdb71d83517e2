/*
 * test_rules.c - redirect rules (links/ml_rules.h), a link's rules of
 * schema 2 as text (links/ml_fields.h) and their checks (ml_link.h).
 * Tables of cases: what each parser takes and refuses, how requests are
 * read (User-Agent tokens, Accept-Language q-values, addresses, query
 * strings), and which rule the compiled form chooses.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_fields.h"
#include "../../links/ml_link.h"
#include "../../links/ml_rules.h"
#include "unit_suites.h"

static apr_pool_t *pool;

static int suite_init(void)
{
    return apr_pool_create(&pool, NULL) != APR_SUCCESS;
}

static int suite_clean(void)
{
    apr_pool_destroy(pool);
    return 0;
}

static int contains(const char *text, const char *needle)
{
    return text && strstr(text, needle) != NULL;
}

/* ---- text ------------------------------------------------------------- */

/* What each rule's text reads as, written back the canonical way. */
static void test_parse_and_format(void)
{
    static const struct {
        const char *text, *canonical;
    } cases[] = {
        {"--device ios https://example.com/ios",
         "--device ios https://example.com/ios"},
        {"  --language   fr_CA\thttps://example.com/fr  ",
         "--language fr-ca https://example.com/fr"},
        {"--country fr --browser firefox https://example.com/x",
         "--country FR --browser firefox https://example.com/x"},
        {"--query utm=mail https://e.example/", "--query utm=mail https://e.example/"},
        {"--query debug https://e.example/", "--query debug https://e.example/"},
        {"--query ref=* https://e.example/", "--query ref=* https://e.example/"},
        /* A literal '*', and a space, survive as escapes. */
        {"--query q=%2A https://e.example/", "--query q=%2A https://e.example/"},
        {"--query q=a%20b https://e.example/", "--query q=a%20b https://e.example/"},
        {"--query a%3Db=1 https://e.example/", NULL},   /* '=' in a name */
        {"--ip 10.0.0.0/8 --ip 2001:db8::/32 https://e.example/",
         "--ip 10.0.0.0/8 --ip 2001:db8::/32 https://e.example/"},
        {"--ip 10.*.*.1 https://e.example/", "--ip 10.*.*.1 https://e.example/"},
        {"--before 2030-01-01 --after 1700000000 https://e.example/",
         "--before 2030-01-01T00:00:00Z --after 2023-11-14T22:13:20Z "
         "https://e.example/"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_rule rule;
        const char *problem = ml_rule_parse(cases[i].text, &rule, pool);
        if (cases[i].canonical == NULL) {
            CU_ASSERT_PTR_NOT_NULL(problem);
            continue;
        }
        CU_ASSERT_PTR_NULL(problem);
        if (problem == NULL) {
            const char *text = ml_rule_format(&rule, pool);
            ml_rule again;
            CU_ASSERT_STRING_EQUAL(text, cases[i].canonical);
            /* The canonical text reads back as itself. */
            CU_ASSERT_PTR_NULL(ml_rule_parse(text, &again, pool));
            CU_ASSERT_STRING_EQUAL(ml_rule_format(&again, pool), text);
        }
    }
}

static void test_parse_refuses(void)
{
    static const struct {
        const char *text, *reason;
    } cases[] = {
        {"", "needs conditions"},
        {"https://example.com/", "1 to 16 conditions"},
        {"--device ios", "followed by the URL"},
        {"--device phone https://e.example/", "android, ios"},
        {"--browser lynx https://e.example/", "chrome, firefox"},
        {"--language 12 https://e.example/", "language code"},
        {"--language toolonglanguage https://e.example/", "language code"},
        {"--language en-US-x https://e.example/", "language code"},
        {"--country FRA https://e.example/", "two-letter"},
        {"--ip 10.0.0.0/33 https://e.example/", "CIDR"},
        {"--ip 10.0.0.256 https://e.example/", "CIDR"},
        {"--ip 10.*.0.0/8 https://e.example/", "CIDR"},
        {"--ip fe80::*/10 https://e.example/", "CIDR"},
        {"--before tomorrow https://e.example/", "the date"},
        {"--query =x https://e.example/", "name must be"},
        {"--query q= https://e.example/", "value must be"},
        {"--query q=%zz https://e.example/", "%XX"},
        {"--query q=%00 https://e.example/", "%XX"},
        {"--device ios javascript:alert(1)", "http:// or https://"},
        {"--device ios https://e.example/ extra", "not a condition"},
        {"--colour red https://e.example/", "not a condition"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_rule rule;
        const char *problem = ml_rule_parse(cases[i].text, &rule, pool);
        CU_ASSERT_TRUE(contains(problem, cases[i].reason));
        if (!contains(problem, cases[i].reason)) {
            fprintf(stderr, "\n'%s': %s\n", cases[i].text, problem);
        }
    }
}

static void test_rules_list(void)
{
    ml_rule *rules;
    int count, which;
    char *many = "";
    int i;

    CU_ASSERT_PTR_NULL(ml_rules_parse("\r\n--device ios https://a.example/\r\n"
                                      "\n--device android https://b.example/\n",
                                      &rules, &count, pool));
    CU_ASSERT_EQUAL_FATAL(count, 2);
    CU_ASSERT_STRING_EQUAL(ml_rules_format(rules, count, pool),
                           "--device ios https://a.example/\n"
                           "--device android https://b.example/");
    CU_ASSERT_TRUE(contains(ml_rules_parse("--device ios https://a.example/\n"
                                           "--device x https://b.example/",
                                           &rules, &count, pool), "rule 2:"));
    for (i = 0; i <= ML_RULES_MAX; i++) {
        many = apr_pstrcat(pool, many, "--device ios https://a.example/\n", NULL);
    }
    CU_ASSERT_TRUE(contains(ml_rules_parse(many, &rules, &count, pool),
                            "at most 32"));
    CU_ASSERT_PTR_NULL(ml_rules_problem(NULL, 0, &which));
}

/* ---- reading requests --------------------------------------------------- */

static unsigned int bits(const char *a, const char *b)
{
    unsigned int result = 0;
    int i;

    for (i = 0; ml_device_names[i]; i++) {
        if ((a && strcmp(ml_device_names[i], a) == 0)
            || (b && strcmp(ml_device_names[i], b) == 0)) {
            result |= 1u << i;
        }
    }
    return result;
}

static int browser(const char *name)
{
    int i;

    for (i = 0; name && ml_browser_names[i]; i++) {
        if (strcmp(ml_browser_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static void test_user_agents(void)
{
    static const struct {
        const char *ua, *device, *kind, *browser;
    } cases[] = {
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
         "ios", "mobile", "safari"},
        {"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) CriOS/118.0.5993.92 Mobile/15E148 Safari/604.1",
         "ios", "mobile", "chrome"},
        {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/119.0.0.0 Mobile Safari/537.36", "android", "mobile", "chrome"},
        {"Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) "
         "AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
         "android", "mobile", "android_browser"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.58", "windows", "desktop", "edge"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0", "windows", "desktop", "opera"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 "
         "Firefox/120.0", "macos", "desktop", "firefox"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/17.1 Safari/605.1.15", "macos", "desktop", "safari"},
        {"Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
         "linux", "desktop", "firefox"},
        {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like "
         "Gecko) Chrome/119.0.0.0 Safari/537.36", "chromeos", "desktop", "chrome"},
        {"curl/7.88.1", NULL, NULL, NULL},
        {"", NULL, NULL, NULL},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CU_ASSERT_EQUAL(ml_user_agent_devices(cases[i].ua),
                        bits(cases[i].device, cases[i].kind));
        CU_ASSERT_EQUAL(ml_user_agent_browser(cases[i].ua),
                        browser(cases[i].browser));
    }
    CU_ASSERT_EQUAL(ml_user_agent_devices(NULL), 0);
    CU_ASSERT_EQUAL(ml_user_agent_browser(NULL), -1);
}

static void test_accept_language(void)
{
    static const struct {
        const char *header, *language;
        int matches;
    } cases[] = {
        {"fr", "fr", 1},
        {"fr-CA", "fr", 1},
        {"fr-CA", "fr-ca", 1},
        {"fr", "fr-ca", 0},
        {"fr-FR", "fr-ca", 0},
        {"en-US,en;q=0.9,fr;q=0.8", "fr", 0},      /* below Shlink's 0.9 */
        {"en-US,en;q=0.9,fr;q=0.8", "en", 1},
        {"de;q=0.5, fr ; q=0.95", "fr", 1},
        {"fr;q=0.9", "fr", 1},
        {"fr;q=0.899", "fr", 0},
        {"fr;q=1.0", "fr", 1},
        {"fr;q=1.001", "fr", 0},                   /* no such weight */
        {"fr;q=", "fr", 0},
        {"fr;q=x", "fr", 0},
        {"*", "fr", 0},
        {"", "fr", 0},
        {"FR_ca", "fr-ca", 1},
        {"zh-Hant-TW", "zh-hant", 1},
        {"frx", "fr", 0},
        {",,,fr,,,", "fr", 1},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CU_ASSERT_EQUAL(ml_accept_language_matches(cases[i].header,
                                                   cases[i].language),
                        cases[i].matches);
    }
    CU_ASSERT_FALSE(ml_accept_language_matches(NULL, "fr"));
}

static void test_ip_patterns(void)
{
    static const struct {
        const char *pattern, *address;
        int matches;
    } cases[] = {
        {"10.0.0.1", "10.0.0.1", 1},
        {"10.0.0.1", "10.0.0.2", 0},
        {"10.0.0.0/8", "10.255.3.4", 1},
        {"10.0.0.0/8", "11.0.0.1", 0},
        {"10.1.2.3/8", "10.9.9.9", 1},        /* host bits ignored */
        {"0.0.0.0/0", "203.0.113.7", 1},
        {"192.168.1.128/25", "192.168.1.127", 0},
        {"192.168.1.128/25", "192.168.1.200", 1},
        {"10.*.*.1", "10.20.30.1", 1},
        {"10.*.*.1", "10.20.30.2", 0},
        {"*.*.*.*", "1.2.3.4", 1},
        {"10.0.0.1", "::ffff:10.0.0.1", 1},   /* mapped IPv6 is IPv4 */
        {"10.0.0.1", "2001:db8::1", 0},
        {"2001:db8::/32", "2001:db8:1::5", 1},
        {"2001:db8::/32", "2001:db9::5", 0},
        {"::1", "::1", 1},
        {"::1", "127.0.0.1", 0},
        {"10.0.0.1", "not an address", 0},
    };
    static const char *const refused[] = {
        "", "10", "10.0.0", "10.0.0.0.0", "10.0.0.0/", "10.0.0.0/-1",
        "10.0.0.0/33", "::/129", "10.**.0.1", "1*.0.0.1", "10.*.0.1/8",
        "example.com", "10.0.0.1 ",
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_ip_pattern pattern;
        unsigned char address[16];
        int family;
        CU_ASSERT_PTR_NULL_FATAL(ml_ip_pattern_parse(cases[i].pattern, &pattern));
        family = ml_ip_address_parse(cases[i].address, address);
        CU_ASSERT_EQUAL(ml_ip_pattern_matches(&pattern, family, address),
                        cases[i].matches);
    }
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ml_ip_pattern pattern;
        CU_ASSERT_PTR_NOT_NULL(ml_ip_pattern_parse(refused[i], &pattern));
    }
}

static void test_query_params(void)
{
    static const struct {
        const char *query, *key, *value;
        int valueless, has;
    } cases[] = {
        {"utm=mail", "utm", "mail", 0, 1},
        {"a=1&utm=mail&b=2", "utm", "mail", 0, 1},
        {"utm=web", "utm", "mail", 0, 0},
        {"utm=mail&utm=web", "utm", "mail", 0, 0},    /* the last counts */
        {"q=a+b", "q", "a b", 0, 1},
        {"q=a%20b", "q", "a b", 0, 1},
        {"q=%2A", "q", "*", 0, 1},
        {"%75tm=mail", "utm", "mail", 0, 1},
        {"q=50%", "q", "50%", 0, 1},                 /* a broken escape as is */
        {"ref=x", "ref", NULL, 0, 1},
        {"ref", "ref", NULL, 0, 1},
        {"refx=1", "ref", NULL, 0, 0},
        {"debug", "debug", NULL, 1, 1},
        {"debug=", "debug", NULL, 1, 1},
        {"debug=1", "debug", NULL, 1, 0},
        {"", "debug", NULL, 1, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CU_ASSERT_EQUAL(ml_query_has(cases[i].query, cases[i].key,
                                     strlen(cases[i].key), cases[i].value,
                                     cases[i].value ? strlen(cases[i].value) : 0,
                                     cases[i].valueless), cases[i].has);
    }
    CU_ASSERT_FALSE(ml_query_has(NULL, "q", 1, NULL, 0, 0));
}

/* ---- the compiled form -------------------------------------------------- */

static const unsigned char *compile(const char *text)
{
    ml_rule *rules;
    int count;
    unsigned char *compiled;

    if (ml_rules_parse(text, &rules, &count, pool) != NULL) {
        return NULL;
    }
    compiled = apr_palloc(pool, ml_rules_compiled_size(rules, count));
    ml_rules_compile(rules, count, compiled);
    return compiled;
}

/* The URL the rules choose for facts, "" for none. */
static const char *choose(const unsigned char *compiled, ml_request_facts facts)
{
    apr_size_t len;
    const char *url = ml_rules_choose(compiled, &facts, &len);

    CU_ASSERT_TRUE(url == NULL || strlen(url) == len);
    return url ? url : "";
}

static void test_choose(void)
{
    const unsigned char *rules = compile(
        "--device ios --language fr https://e.example/ios-fr\n"
        "--device ios https://e.example/ios\n"
        "--browser firefox --query utm=mail https://e.example/ff-mail\n"
        "--ip 10.0.0.0/8 https://e.example/internal\n"
        "--country DE https://e.example/de\n"
        "--before 2000-01-01 https://e.example/past\n"
        "--after 2000-01-01 --query late https://e.example/late\n");
    static const char iphone[] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like "
                                 "Mac OS X) Safari/604.1";
    static const char firefox[] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/115.0";
    ml_request_facts none;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rules);
    memset(&none, 0, sizeof(none));
    none.now = 1700000000;
    CU_ASSERT_EQUAL(ml_rules_reads(rules), ML_RULES_READ_USER_AGENT
                    | ML_RULES_READ_LANGUAGE | ML_RULES_READ_COUNTRY
                    | ML_RULES_READ_ADDRESS | ML_RULES_READ_TIME);
    CU_ASSERT_STRING_EQUAL(choose(rules, none), "");
    {
        ml_request_facts f = none;
        f.user_agent = iphone;
        f.accept_language = "fr-FR";
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "https://e.example/ios-fr");
        f.accept_language = "de";
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "https://e.example/ios");
    }
    {
        ml_request_facts f = none;
        f.user_agent = firefox;
        f.query = "utm=mail";
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "https://e.example/ff-mail");
        f.query = "utm=web";
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "");
    }
    {
        ml_request_facts f = none;
        f.client_ip = "10.1.2.3";
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "https://e.example/internal");
        f.client_ip = "192.0.2.1";
        f.country = "de";
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "https://e.example/de");
    }
    {
        ml_request_facts f = none;
        f.query = "late";
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "https://e.example/late");
        f.now = 900000000;           /* 1998: before 2000 */
        CU_ASSERT_STRING_EQUAL(choose(rules, f), "https://e.example/past");
    }
    CU_ASSERT_EQUAL(ml_rules_reads(compile("--query a https://e.example/")), 0);
}

/* ---- a link's fields as text -------------------------------------------- */

static void test_fields_round_trip(void)
{
    static const struct {
        ml_field field;
        const char *text, *written;
    } cases[] = {
        {ML_FIELD_TITLE, "Caf\xc3\xa9 \xe2\x82\xac", "Caf\xc3\xa9 \xe2\x82\xac"},
        {ML_FIELD_TAGS, "b, a a c", "a b c"},
        {ML_FIELD_VALID_SINCE, "2030-01-01", "1893456000"},
        {ML_FIELD_VALID_SINCE, "1893456000", "1893456000"},
        {ML_FIELD_MAX_VISITS, "2147483647", "2147483647"},
        {ML_FIELD_FALLBACK_URL, "https://e.example/fb", "https://e.example/fb"},
        {ML_FIELD_FORWARD_QUERY, "on", "1"},
        {ML_FIELD_FORWARD_PATH, "0", "0"},
        {ML_FIELD_CRAWLABLE, "ON", "1"},
        {ML_FIELD_RULES, "--device ios https://e.example/", "--device ios https://e.example/"},
        {ML_FIELD_PASSWORD_HASH,
         "$2y$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
         "$2y$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_link link;
        memset(&link, 0, sizeof(link));
        CU_ASSERT_PTR_NULL(ml_field_read(&link, cases[i].field, cases[i].text,
                                         "none", pool));
        CU_ASSERT_STRING_EQUAL(ml_field_write(&link, cases[i].field, pool),
                               cases[i].written);
        /* "none" and "" clear it again. */
        CU_ASSERT_PTR_NULL(ml_field_read(&link, cases[i].field, "none", "none",
                                         pool));
        CU_ASSERT_STRING_EQUAL(ml_field_write(&link, cases[i].field, pool),
                               cases[i].field == ML_FIELD_CRAWLABLE ? "0" : "");
        CU_ASSERT_FALSE(ml_link_has_rules(&link));
    }
}

static void test_fields_refused(void)
{
    static const struct {
        ml_field field;
        const char *text, *reason;
    } cases[] = {
        {ML_FIELD_TITLE, "bad \x01 byte", "UTF-8"},
        {ML_FIELD_TITLE, "\xc3\x28", "UTF-8"},
        {ML_FIELD_TITLE, "\xed\xa0\x80", "UTF-8"},          /* a surrogate */
        {ML_FIELD_TITLE, "\xc0\xaf", "UTF-8"},              /* overlong */
        {ML_FIELD_TAGS, "ok b/d", "a tag must be"},
        {ML_FIELD_VALID_SINCE, "soon", "valid-since time"},
        {ML_FIELD_MAX_VISITS, "0", "visit limit"},
        {ML_FIELD_MAX_VISITS, "2147483648", "visit limit"},
        {ML_FIELD_FALLBACK_URL, "ftp://e.example/", "fallback URL"},
        {ML_FIELD_PASSWORD_HASH, "secret", "bcrypt"},
        {ML_FIELD_FORWARD_QUERY, "maybe", "on or off"},
        {ML_FIELD_CRAWLABLE, "2", "on or off"},
        {ML_FIELD_RULES, "--device phone https://e.example/", "android"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_link link;
        memset(&link, 0, sizeof(link));
        CU_ASSERT_TRUE(contains(ml_field_read(&link, cases[i].field,
                                              cases[i].text, NULL, pool),
                                cases[i].reason));
    }
}

static void test_link_problem_of_rules(void)
{
    ml_link link;
    const char *hash;
    char title[ML_TITLE_MAX + 2];

    memset(&link, 0, sizeof(link));
    link.slug = "abc";
    link.url = "https://example.com/";
    CU_ASSERT_PTR_NULL(ml_link_problem(&link));
    link.valid_since = 2000;
    link.expires_at = 1000;
    CU_ASSERT_TRUE(contains(ml_link_problem(&link), "never be valid"));
    link.expires_at = 0;
    memset(title, 'x', sizeof(title) - 1);
    title[sizeof(title) - 1] = '\0';
    link.title = title;
    CU_ASSERT_TRUE(contains(ml_link_problem(&link), "512"));
    link.title = NULL;
    link.max_visits = -1;
    CU_ASSERT_PTR_NOT_NULL(ml_link_problem(&link));
    link.max_visits = 5;
    CU_ASSERT_PTR_NULL(ml_password_hash("secret", &hash, pool));
    link.password_hash = hash;
    CU_ASSERT_PTR_NULL(ml_link_problem(&link));
    CU_ASSERT_TRUE(ml_link_has_rules(&link));
    CU_ASSERT_PTR_NOT_NULL(ml_password_hash("", &hash, pool));
}

void add_rules_suite(void)
{
    CU_pSuite suite = CU_add_suite("rules (ml_rules.h, ml_fields.h)", suite_init,
                                   suite_clean);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "rule text: parsed, written canonically", test_parse_and_format);
    CU_add_test(suite, "rule text: refusals say why", test_parse_refuses);
    CU_add_test(suite, "a list of rules, one a line", test_rules_list);
    CU_add_test(suite, "User-Agent: devices and browsers by token", test_user_agents);
    CU_add_test(suite, "Accept-Language with q-values", test_accept_language);
    CU_add_test(suite, "IP conditions: exact, CIDR, wildcard, IPv6", test_ip_patterns);
    CU_add_test(suite, "query conditions: value, any, none", test_query_params);
    CU_add_test(suite, "compiled rules: the first match wins", test_choose);
    CU_add_test(suite, "fields: read and written back", test_fields_round_trip);
    CU_add_test(suite, "fields: refusals say why", test_fields_refused);
    CU_add_test(suite, "link_problem checks the rules", test_link_problem_of_rules);
}
