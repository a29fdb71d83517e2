/*
 * test_upgrade.c - a database of schema version 1 under a running httpd: suites "upgrade-event",
 * "upgrade-worker" and "upgrade-prefork".
 *
 * The server starts on a copy of tests/fixtures/v1.db (made by the code that wrote version 1):
 * every link is served as before, one ML00042 line says to run upgrade, links cannot be created
 * in it.  Then "minilink upgrade" while the server runs, and the rules of version 2 set on its
 * links with the CLI are served within the refresh interval, no graceful restart: the refresher
 * notices the new schema and reads the new columns.
 */
#include "ml_test.h"

static const char upgrade_config[] =
    "MinilinkRefreshInterval 1\n"
    "MinilinkDatabase links.db\n"
    MINILINK_AT("/l", "MinilinkCreate On\nMinilinkCreateRateLimit off\n");

/* The fixture in place of the empty database the harness made. */
static int copy_fixture(void)
{
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    char *db = tpath("links.db"), *data = file_read("tests/fixtures/v1.db");
    long size = file_size("tests/fixtures/v1.db");
    size_t i;

    for (i = 0; i < ARRAY_LEN(suffixes); i++) {
        unlink(tfmt("%s%s", db, suffixes[i]));
    }
    if (size <= 0 || write_file(db, data, (size_t)size) != 0) {
        fprintf(stderr, "cannot copy tests/fixtures/v1.db (run from the checkout's top)\n");
        free(data);
        return -1;
    }
    free(data);
    chown_database(db);
    return 0;
}

static void test_version_1_served_as_before(void)
{
    static const http_case cases[] = {
        { "GET", NULL, "/l/plain", 302, "https://example.com/plain" },
        { "GET", NULL, "/l/moved", 301, "https://example.com/moved" },
        { "GET", NULL, "/l/other", 303, "https://example.com/see-other" },
        { "GET", NULL, "/l/temp", 307, "https://example.com/temporary" },
        { "GET", NULL, "/l/perm", 308, "https://example.com/permanent" },
        { "GET", NULL, "/l/gone", 410, NULL },
        { "GET", NULL, "/l/expired", 410, NULL },
        { "GET", NULL, "/l/query?x=1", 302, "https://example.com/search?q=a,b&lang=en&x=1#top" },
        { "GET", NULL, "/l/v6", 302, "https://[2001:db8::1]:8443/v6" },
        { "GET", NULL, "/l/-old", 302, "https://example.com/dash" },
        { "GET", NULL, "/l/bad", 404, NULL },
        { "GET", NULL, "/l/deleted", 404, NULL },
        { "GET", NULL, "/l/later", 302, "https://example.com/later" },
    };

    EXPECT_CASES(cases);
    EXPECT_EQ(ml_log_lines_naming("upgrade"), 1, "ML00042 lines saying to run upgrade");
    CHECK(httpd_error_log_count(g_srv, "ML00042") == 1, "one ML00042 line");
}

static void test_no_links_created_in_version_1(void)
{
    http_response *r = post_json(g_srv, "/l/", "{\"url\": \"https://example.com/new\"}", NULL);
    char *out;

    EXPECT_EQ(r->status, 503, "creation in a version-1 database");
    CLI_EXPECT(5, &out, "add", "https://example.com/new", "new");
    EXPECT_HAS(out, "upgrade", "why minilink add refuses");
    CLI_EXPECT(0, &out, "show", "plain");
    EXPECT_HAS(out, "clicks: 42\n", "minilink show reads version 1");
}

#define WAIT_FOR(what, since, path, status, location) \
    wait_answer_at(HERE, (what), g_srv, "GET", NULL, (path), (status), (location), (since), 100)

static void test_upgraded_live(void)
{
    char *out;
    long since;

    CLI_EXPECT(0, &out, "upgrade");
    EXPECT_STR(out, "upgraded from schema version 1 to 3\n", "minilink upgrade");
    GET("/l/plain", 302, "https://example.com/plain");
    since = now_ms();
    CLI_EXPECT(0, NULL, "set", "moved", "--valid-since", "2099-01-01", "--fallback",
               "https://example.com/soon");
    WAIT_FOR("a rule set after the upgrade", since, "/l/moved", 302, "https://example.com/soon");
    since = now_ms();
    CLI_EXPECT(0, NULL, "rule", "add", "temp", "https://example.com/temp-q", "--query", "q");
    WAIT_FOR("a redirect rule after the upgrade", since, "/l/temp?q", 307,
             "https://example.com/temp-q?q");
    /* 42 clicks were stored for plain before the upgrade: a limit of 42 is spent. */
    since = now_ms();
    CLI_EXPECT(0, NULL, "set", "plain", "--max-visits", "42");
    WAIT_FOR("a visit limit counting the clicks kept", since, "/l/plain", 410, NULL);
    since = now_ms();
    CHECK(post_json(g_srv, "/l/", "{\"url\": \"https://example.com/new\", \"slug\": \"new\"}",
                    NULL)->status == 201, "creation after the upgrade");
    GET("/l/new", 302, "https://example.com/new");
    /* A graceful restart loads version 2: no second ML00042. */
    CHECK(httpd_graceful(g_srv) == 0, "graceful restart");
    GET("/l/moved", 302, "https://example.com/soon");
    EXPECT_EQ(httpd_error_log_count(g_srv, "ML00042"), 1, "ML00042 lines after the graceful");
}

static CU_TestInfo upgrade_tests[] = {
    { "version 1: every link served as before, ML00042 once", test_version_1_served_as_before },
    { "version 1: no link created in it, read by the CLI", test_no_links_created_in_version_1 },
    { "upgraded while served: the new rules live", test_upgraded_live },
    CU_TEST_INFO_NULL,
};

static const suite_group upgrade_group = {
    .name = "upgrade", .tests = upgrade_tests, .config = upgrade_config,
    .modules = "slotmem_shm", .prepare = copy_fixture,
};

void add_upgrade_suites(void)
{
    add_group(&upgrade_group);
}
