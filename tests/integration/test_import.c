/*
 * test_import.c - links imported from other shorteners into a database a running httpd serves:
 * suites "import-event", "import-worker" and "import-prefork".
 *
 * A Shlink export (its web client's CSV) and a YOURLS dump (yourls_url as phpMyAdmin writes it)
 * are imported with "minilink import --from" while the server runs; their links are redirected
 * within the refresh interval, no restart.  The visits Shlink counted reach the server too: a
 * link whose visit limit its imported visits have spent answers 410 at once.  A dump with a row
 * that does not fit is refused whole, and the server never serves its other rows.
 */
#include "ml_test.h"

static const char import_config[] =
    "MinilinkRefreshInterval 1\n"
    "MinilinkDatabase links.db\n"
    MINILINK_AT("/l", "");

/* Shlink's web client export: papaparse's CSV, tags joined with '|'. */
static const char shlink_export[] =
    "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\r\n"
    "2023-05-01T10:20:30+02:00,s.test,abc,https://s.test/abc,"
    "https://example.com/a?x=1,\"Prices, new\",news|sale,42\r\n"
    "2024-01-02T00:00:00+00:00,s.test,xyz,https://s.test/xyz,https://example.com/x,,,0\r\n";

/* Its REST API's list: what the export lacks (validity, visit limit) is here. */
static const char shlink_api_list[] =
    "{\"shortUrls\":{\"data\":["
    "{\"shortCode\":\"spent\",\"longUrl\":\"https://example.com/spent\","
    "\"dateCreated\":\"2023-01-01T00:00:00+00:00\",\"visitsSummary\":{\"total\":5},"
    "\"tags\":[],\"meta\":{\"validSince\":null,\"validUntil\":null,\"maxVisits\":5}},"
    "{\"shortCode\":\"onemore\",\"longUrl\":\"https://example.com/onemore\","
    "\"dateCreated\":\"2023-01-01T00:00:00+00:00\",\"visitsSummary\":{\"total\":5},"
    "\"tags\":[],\"meta\":{\"validSince\":null,\"validUntil\":null,\"maxVisits\":6}},"
    "{\"shortCode\":\"over\",\"longUrl\":\"https://example.com/over\","
    "\"dateCreated\":\"2020-01-01T00:00:00+00:00\",\"visitsSummary\":{\"total\":0},"
    "\"tags\":[],\"meta\":{\"validUntil\":\"2021-01-01T00:00:00+00:00\"}}]}}";

/* yourls_url as phpMyAdmin's CSV export writes it, with the column names. */
static const char yourls_dump[] =
    "\"keyword\",\"url\",\"title\",\"timestamp\",\"ip\",\"clicks\"\n"
    "\"ozh\",\"http://ozh.org/\",\"NULL\",\"2009-10-01 12:34:56\",\"127.0.0.1\",\"12\"\n"
    "\"yourls\",\"https://yourls.org/?a=b\",\"YOURLS\",\"2024-03-05 06:07:08\",\"::1\",\"3\"\n";

#define WAIT_FOR(what, since, path, status, location) \
    wait_answer_at(HERE, (what), g_srv, "GET", NULL, (path), (status), (location), (since), 100)

/* Writes text to name in the server's folder and imports it as peer's; true if it exited
 * with status, *output (unless NULL) what it printed. */
static int import_file(const char *peer, const char *name, const char *text, int status,
                       char **output)
{
    char *path = tpath(name);

    CHECK(write_file(path, text, strlen(text)) == 0, "writing %s", path);
    return CLI_EXPECT(status, output, "import", "--from", peer, path);
}

static void test_shlink_and_yourls_served_live(void)
{
    char *out;
    long since = now_ms();

    GET("/l/abc", 404, NULL);
    import_file("shlink", "short_urls.csv", shlink_export, 0, &out);
    EXPECT_STR(out, "imported 2 links\n", "minilink import --from shlink");
    import_file("yourls", "yourls_url.csv", yourls_dump, 0, &out);
    EXPECT_STR(out, "imported 2 links\n", "minilink import --from yourls");
    WAIT_FOR("a Shlink link imported while served", since, "/l/abc", 302,
             "https://example.com/a?x=1");
    WAIT_FOR("a YOURLS link imported while served", since, "/l/ozh", 302, "http://ozh.org/");
    GET("/l/xyz", 302, "https://example.com/x");
    GET("/l/yourls?c=d", 302, "https://yourls.org/?a=b&c=d");
    /* The visits they counted are the links' clicks; a redirect adds to them. */
    CLI_EXPECT(0, &out, "stats", "abc");
    EXPECT_HAS(out, "clicks: 42\n", "minilink stats of an imported Shlink link");
    CLI_EXPECT(0, &out, "show", "ozh");
    EXPECT_HAS(out, "created: 2009-10-01T12:34:56Z\n", "YOURLS' timestamp, as created");
}

static void test_imported_visits_count_toward_limits(void)
{
    long since = now_ms();

    import_file("shlink", "short_urls.json", shlink_api_list, 0, NULL);
    /* Waited for on a link that answers the same every time: each redirect is a visit. */
    WAIT_FOR("a link whose imported visits spent its limit", since, "/l/spent", 410, NULL);
    GET("/l/onemore", 302, "https://example.com/onemore");
    GET("/l/onemore", 410, NULL);
    GET("/l/over", 410, NULL);
}

static void test_refused_dump_serves_nothing(void)
{
    static const char bad_dump[] =
        "\"keyword\",\"url\",\"title\",\"timestamp\",\"ip\",\"clicks\"\n"
        "\"fine\",\"https://example.com/fine\",\"\",\"2024-01-01 00:00:00\",\"\",\"1\"\n"
        "\"evil\",\"javascript:alert(1)\",\"\",\"2024-01-01 00:00:00\",\"\",\"1\"\n";
    char *out;
    long since = now_ms();

    import_file("yourls", "bad.csv", bad_dump, 2, &out);
    EXPECT_HAS(out, "bad.csv:3:", "the message names the row's line");
    /* A link added after it is served: the refresher has looked since, and "fine" is absent. */
    CLI_EXPECT(0, NULL, "add", "https://example.com/marker", "marker");
    WAIT_FOR("a link added after the refused import", since, "/l/marker", 302,
             "https://example.com/marker");
    GET("/l/fine", 404, NULL);
    GET("/l/evil", 404, NULL);
}

static CU_TestInfo import_tests[] = {
    { "a Shlink export and a YOURLS dump, served live", test_shlink_and_yourls_served_live },
    { "Shlink's visits count toward its visit limits", test_imported_visits_count_toward_limits },
    { "a dump with a bad row: refused whole, nothing served", test_refused_dump_serves_nothing },
    CU_TEST_INFO_NULL,
};

static const suite_group import_group = {
    .name = "import", .tests = import_tests, .config = import_config,
    .modules = "slotmem_shm",
};

void add_import_suites(void)
{
    add_group(&import_group);
}
