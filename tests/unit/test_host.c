/*
 * test_host.c - hosts compared as browsers see them (links/ml_host.h) and
 * the creation policy's host rules and reserved slugs (links/ml_policy.h),
 * from tables.
 */
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_host.h"
#include "../../links/ml_policy.h"
#include "unit_suites.h"

/* A host as typed, and what it must canonicalise to (NULL: refused). */
typedef struct {
    const char *raw;
    ml_host_kind kind;
    const char *canonical;
} host_case;

static const host_case host_cases[] = {
    { "example.com", ML_HOST_NAME, "example.com" },
    { "EXAMPLE.Com", ML_HOST_NAME, "example.com" },
    { "example.com.", ML_HOST_NAME, "example.com" },
    { "%65vil.example", ML_HOST_NAME, "evil.example" },
    { "evil%2eexample", ML_HOST_NAME, "evil.example" },
    { "evil%2Eexample", ML_HOST_NAME, "evil.example" },
    { "evil.example%2e", ML_HOST_NAME, "evil.example" },
    { "%45%56%49%4C.example", ML_HOST_NAME, "evil.example" },
    { "under_score.example", ML_HOST_NAME, "under_score.example" },
    { "a.0x1g", ML_HOST_NAME, "a.0x1g" },        /* not a number: a name */
    /* IPv4 in every numeric form WHATWG reads */
    { "10.0.0.1", ML_HOST_IPV4, "10.0.0.1" },
    { "10.1", ML_HOST_IPV4, "10.0.0.1" },
    { "10.0.1", ML_HOST_IPV4, "10.0.0.1" },
    { "167772161", ML_HOST_IPV4, "10.0.0.1" },
    { "0xa000001", ML_HOST_IPV4, "10.0.0.1" },
    { "0XA000001", ML_HOST_IPV4, "10.0.0.1" },
    { "012.0.0.01", ML_HOST_IPV4, "10.0.0.1" },  /* octal */
    { "0x0a.0.0.1", ML_HOST_IPV4, "10.0.0.1" },
    { "0xa.0.1", ML_HOST_IPV4, "10.0.0.1" },     /* mixed */
    { "10.0.0.1.", ML_HOST_IPV4, "10.0.0.1" },
    { "127.1", ML_HOST_IPV4, "127.0.0.1" },
    { "2130706433", ML_HOST_IPV4, "127.0.0.1" },
    { "127.0.0.1%2e", ML_HOST_IPV4, "127.0.0.1" },
    { "%31%32%37.0.0.1", ML_HOST_IPV4, "127.0.0.1" },
    { "0", ML_HOST_IPV4, "0.0.0.0" },
    { "0x", ML_HOST_IPV4, "0.0.0.0" },
    { "4294967295", ML_HOST_IPV4, "255.255.255.255" },
    /* IPv6, and IPv4-mapped IPv6 as its IPv4 address */
    { "[::ffff:10.0.0.1]", ML_HOST_IPV4, "10.0.0.1" },
    { "[::FFFF:a00:1]", ML_HOST_IPV4, "10.0.0.1" },
    { "[0:0:0:0:0:ffff:10.0.0.1]", ML_HOST_IPV4, "10.0.0.1" },
    { "[::1]", ML_HOST_IPV6, "::1" },
    { "[0:0:0:0:0:0:0:1]", ML_HOST_IPV6, "::1" },
    { "[2001:DB8:0:0::0:1]", ML_HOST_IPV6, "2001:db8::1" },
    /* what a browser refuses, or what would need IDNA */
    { "256.0.0.1", ML_HOST_NAME, NULL },
    { "1.2.3.4.5", ML_HOST_NAME, NULL },
    { "08", ML_HOST_NAME, NULL },
    { "4294967296", ML_HOST_NAME, NULL },
    { "10.0.0.256.", ML_HOST_NAME, NULL },
    { "foo.1", ML_HOST_NAME, NULL },
    { "%zz.example", ML_HOST_NAME, NULL },
    { "a%00b", ML_HOST_NAME, NULL },
    { "%C3%A9vil.example", ML_HOST_NAME, NULL },
    { "%EF%BD%85vil.example", ML_HOST_NAME, NULL },  /* fullwidth e */
    { "evil%2fexample", ML_HOST_NAME, NULL },
    { "evil%20example", ML_HOST_NAME, NULL },
    { "a|b", ML_HOST_NAME, NULL },
    { "a..b", ML_HOST_NAME, NULL },
    { ".a", ML_HOST_NAME, NULL },
    { "a..", ML_HOST_NAME, NULL },
    { ".", ML_HOST_NAME, NULL },
    { "[zz]", ML_HOST_NAME, NULL },
    { "[fe80::1%25eth0]", ML_HOST_NAME, NULL },
};

static void test_host_parse_table(void)
{
    apr_pool_t *pool;
    size_t i;

    apr_pool_create(&pool, NULL);
    for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
        const host_case *c = &host_cases[i];
        ml_host host;
        const char *problem = ml_host_parse(pool, c->raw, strlen(c->raw), &host);

        if (c->canonical == NULL) {
            CU_ASSERT_PTR_NOT_NULL(problem);
            if (problem == NULL) {
                fprintf(stderr, "\n    %s: accepted as %s\n", c->raw, host.text);
            }
            continue;
        }
        CU_ASSERT_PTR_NULL(problem);
        if (problem != NULL) {
            fprintf(stderr, "\n    %s: refused: %s\n", c->raw, problem);
            continue;
        }
        CU_ASSERT_EQUAL(host.kind, c->kind);
        CU_ASSERT_STRING_EQUAL(host.text, c->canonical);
        if (host.kind != c->kind || strcmp(host.text, c->canonical) != 0) {
            fprintf(stderr, "\n    %s: %s, expected %s\n", c->raw, host.text,
                    c->canonical);
        }
    }
    apr_pool_destroy(pool);
}

/* A canonical host parses to itself (the fuzz target checks this for any
 * input; here for the table's). */
static void test_host_canonical_is_stable(void)
{
    apr_pool_t *pool;
    size_t i;

    apr_pool_create(&pool, NULL);
    for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
        ml_host once, twice;
        const char *again;

        if (host_cases[i].canonical == NULL) {
            continue;
        }
        CU_ASSERT_PTR_NULL_FATAL(ml_host_parse(pool, host_cases[i].raw,
                                               strlen(host_cases[i].raw), &once));
        again = once.kind == ML_HOST_IPV6
                ? apr_pstrcat(pool, "[", once.text, "]", NULL) : once.text;
        CU_ASSERT_PTR_NULL(ml_host_parse(pool, again, strlen(again), &twice));
        CU_ASSERT_STRING_EQUAL(twice.text, once.text);
        CU_ASSERT_EQUAL(memcmp(twice.address, once.address, 16), 0);
    }
    apr_pool_destroy(pool);
}

static int local(apr_pool_t *pool, const char *raw)
{
    ml_host host;

    return ml_host_parse(pool, raw, strlen(raw), &host) == NULL
           && ml_host_is_local(&host);
}

static void test_host_local(void)
{
    apr_pool_t *pool;

    apr_pool_create(&pool, NULL);
    CU_ASSERT_TRUE(local(pool, "127.0.0.1"));
    CU_ASSERT_TRUE(local(pool, "127.5.6.7"));
    CU_ASSERT_TRUE(local(pool, "0.0.0.0"));
    CU_ASSERT_TRUE(local(pool, "0"));
    CU_ASSERT_TRUE(local(pool, "localhost"));
    CU_ASSERT_TRUE(local(pool, "LocalHost."));
    CU_ASSERT_TRUE(local(pool, "app.localhost"));
    CU_ASSERT_TRUE(local(pool, "[::1]"));
    CU_ASSERT_TRUE(local(pool, "[::]"));
    CU_ASSERT_TRUE(local(pool, "[::ffff:127.0.0.1]"));
    CU_ASSERT_FALSE(local(pool, "128.0.0.1"));
    CU_ASSERT_FALSE(local(pool, "example.com"));
    CU_ASSERT_FALSE(local(pool, "localhost.example"));
    CU_ASSERT_FALSE(local(pool, "notlocalhost"));
    CU_ASSERT_FALSE(local(pool, "[::2]"));
    apr_pool_destroy(pool);
}

static void test_host_from_address(void)
{
    apr_pool_t *pool;
    unsigned char v4[4], v6[16];
    ml_host host;

    apr_pool_create(&pool, NULL);
    CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET, "192.0.2.7", v4), 1);
    ml_host_from_address(pool, AF_INET, v4, &host);
    CU_ASSERT_EQUAL(host.kind, ML_HOST_IPV4);
    CU_ASSERT_STRING_EQUAL(host.text, "192.0.2.7");
    CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET6, "::ffff:192.0.2.7", v6), 1);
    ml_host_from_address(pool, AF_INET6, v6, &host);
    CU_ASSERT_EQUAL(host.kind, ML_HOST_IPV4);
    CU_ASSERT_STRING_EQUAL(host.text, "192.0.2.7");
    CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET6, "2001:db8::7", v6), 1);
    ml_host_from_address(pool, AF_INET6, v6, &host);
    CU_ASSERT_EQUAL(host.kind, ML_HOST_IPV6);
    CU_ASSERT_STRING_EQUAL(host.text, "2001:db8::7");
    apr_pool_destroy(pool);
}

/* ---- the creation policy ------------------------------------------- */

/* A URL, and the start of the problem ml_create_problem must give (NULL:
 * accepted). */
typedef struct {
    const char *url;
    const char *problem;
} policy_case;

#define LOOP "links to this shortener itself"
#define BLOCKED_EVIL "links to evil.example are not accepted"
#define BLOCKED_TEN "links to 10.0.0.1 are not accepted"

static const policy_case policy_cases[] = {
    { "https://example.com/", NULL },
    { "https://notevil.example/", NULL },
    { "https://evil.example.org/", NULL },
    { "http://10.0.0.2/", NULL },
    { "http://[2001:db8::1]/", NULL },
    /* MinilinkCreateBlockHosts evil.example 10.0.0.1 */
    { "https://evil.example/", BLOCKED_EVIL },
    { "https://%65vil.example/", BLOCKED_EVIL },
    { "https://evil%2eexample/", BLOCKED_EVIL },
    { "https://evil.example./x", BLOCKED_EVIL },
    { "https://EVIL.EXAMPLE:443/", BLOCKED_EVIL },
    { "https://sub.evil.example/", BLOCKED_EVIL },
    { "https://sub%2Eevil.example/", BLOCKED_EVIL },
    { "http://10.0.0.1/", BLOCKED_TEN },
    { "http://10.1/", BLOCKED_TEN },
    { "http://167772161/", BLOCKED_TEN },
    { "http://0xa000001/", BLOCKED_TEN },
    { "http://012.0.0.1/", BLOCKED_TEN },
    { "http://[::ffff:10.0.0.1]/", BLOCKED_TEN },
    { "http://[::ffff:a00:1]:8080/", BLOCKED_TEN },
    /* the server's own names and addresses, and the local host's */
    { "http://localhost:8080/x", LOOP },
    { "http://LOCALHOST./x", LOOP },
    { "http://a.localhost/", LOOP },
    { "http://127.0.0.1:8080/l/x", LOOP },
    { "http://127.1:8080/l/x", LOOP },
    { "http://2130706433:8080/", LOOP },
    { "http://127.0.0.1%2e:8080/", LOOP },
    { "http://0x7f000001/", LOOP },
    { "http://[::1]:8080/", LOOP },
    { "http://[::ffff:127.0.0.1]/", LOOP },
    { "http://0.0.0.0:8080/", LOOP },
    { "http://0:8080/", LOOP },
    { "http://go.example.org/x", LOOP },
    { "http://GO.example.org./x", LOOP },
    { "http://g%6F.example.org/x", LOOP },
    { "http://www.go.example.org/x", LOOP },
    { "http://192.0.2.10/", LOOP },
    { "http://3221225994/", LOOP },             /* 192.0.2.10 */
    { "http://[2001:db8::10]/", LOOP },
    { "http://[2001:db8:0::0:10]/", LOOP },
    { "http://a.short.example/", LOOP },        /* ServerAlias *.short.example */
    /* hosts no browser would reach, or that would need IDNA */
    { "http://foo.1/", "the URL's host ends in a number" },
    { "http://256.1.1.1/", "the URL's host ends in a number" },
    { "http://%C3%A9vil.example/", "the URL's host is not ASCII" },
    { "http://evil%2fexample/", "the URL's host holds a character" },
    { "http://%zz/", "the URL's host has a percent-escape" },
    { "http://a..b/", "the URL's host has an empty label" },
};

static apr_array_header_t *hosts_of(apr_pool_t *pool, const char *const *raw,
                                    int count)
{
    apr_array_header_t *hosts = apr_array_make(pool, count, sizeof(ml_host));
    int i;

    for (i = 0; i < count; i++) {
        ml_host *host = apr_array_push(hosts);
        if (strchr(raw[i], '*')) {
            ml_host_pattern(pool, raw[i], host);
        }
        else {
            CU_ASSERT_PTR_NULL(ml_host_parse(pool, raw[i], strlen(raw[i]), host));
        }
    }
    return hosts;
}

static void test_policy_host_table(void)
{
    static const char *const blocked[] = { "evil.example", "10.0.0.1" };
    static const char *const own[] = { "go.example.org", "192.0.2.10",
                                       "[2001:db8::10]", "*.short.example" };
    ml_create_policy policy = { ML_SCHEME_HTTP | ML_SCHEME_HTTPS, 2048, NULL };
    apr_array_header_t *own_hosts;
    apr_pool_t *pool;
    size_t i;

    apr_pool_create(&pool, NULL);
    policy.blocked_hosts = hosts_of(pool, blocked, 2);
    own_hosts = hosts_of(pool, own, 4);
    for (i = 0; i < sizeof(policy_cases) / sizeof(policy_cases[0]); i++) {
        const policy_case *c = &policy_cases[i];
        const char *problem = ml_create_problem(&policy, c->url, own_hosts, pool);
        int ok = c->problem == NULL
                 ? problem == NULL
                 : problem != NULL
                   && strncmp(problem, c->problem, strlen(c->problem)) == 0;

        CU_ASSERT_TRUE(ok);
        if (!ok) {
            fprintf(stderr, "\n    %s: \"%s\", expected \"%s\"\n", c->url,
                    problem ? problem : "(accepted)",
                    c->problem ? c->problem : "(accepted)");
        }
    }
    apr_pool_destroy(pool);
}

static void test_policy_reserved_slugs(void)
{
    CU_ASSERT_TRUE(ml_slug_reserved("server-status"));
    CU_ASSERT_TRUE(ml_slug_reserved("Server-Status"));
    CU_ASSERT_TRUE(ml_slug_reserved("server-info"));
    CU_ASSERT_TRUE(ml_slug_reserved("balancer-manager"));
    CU_ASSERT_TRUE(ml_slug_reserved("minilink-admin"));
    CU_ASSERT_TRUE(ml_slug_reserved("robots"));
    CU_ASSERT_TRUE(ml_slug_reserved("favicon"));
    CU_ASSERT_FALSE(ml_slug_reserved("server"));
    CU_ASSERT_FALSE(ml_slug_reserved("server-statuses"));
    CU_ASSERT_FALSE(ml_slug_reserved("abc"));
}

void add_host_suite(void)
{
    CU_pSuite suite = CU_add_suite("host", NULL, NULL);

    CU_add_test(suite, "hosts canonicalise as browsers read them (table)",
                test_host_parse_table);
    CU_add_test(suite, "a canonical host parses to itself",
                test_host_canonical_is_stable);
    CU_add_test(suite, "the local host's names and addresses",
                test_host_local);
    CU_add_test(suite, "addresses (IPv4-mapped IPv6 as IPv4)",
                test_host_from_address);
    CU_add_test(suite, "blocked and own hosts in any spelling (table)",
                test_policy_host_table);
    CU_add_test(suite, "reserved slugs", test_policy_reserved_slugs);
}
