/*
 * test_cli_import.c - "minilink import --from shlink|yourls|kutt", and our
 * own CSV with some of its columns, run as the real program
 * ($MINILINK_CLI) on databases in a scratch directory.
 *
 * The peers' files are written here, each shaped as the peer writes it:
 * Shlink's web client export (papaparse: CRLF, quotes only where needed,
 * tags joined with '|') and its REST API's list; YOURLS' yourls_url table
 * as phpMyAdmin's CSV export writes it, with and without the header line;
 * Kutt's GET /api/v2/links pages (ml_import_peers.c names the sources).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "cli_runner.h"
#include "unit_helpers.h"

void add_cli_import_suite(void);

static ut_scratch scratch;
static const char *db_path;
static ut_cli_result last;

/* Runs the command on db_path, into last; its exit status. */
#define cmd(...) ut_cli(&scratch, db_path, NULL, &last, __VA_ARGS__, NULL)

/* A new database called name. */
static void fresh_db(const char *name)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(getenv("MINILINK_CLI"));
    db_path = ut_path(&scratch, apr_pstrcat(scratch.pool, name, ".db", NULL));
    CU_ASSERT_EQUAL_FATAL(cmd("init"), 0);
}

/* Writes text into the file name; "import --from peer" of it into a new
 * database called name.  The exit status. */
static int import_as(const char *peer, const char *name, const char *text,
                     size_t len)
{
    const char *path = ut_path(&scratch, name);

    fresh_db(name);
    CU_ASSERT_FATAL(ut_write_file(path, text, len));
    return cmd("import", "--from", peer, path);
}

#define IMPORT(peer, name, text) import_as(peer, name, text, strlen(text))

/* What export prints for the database, after its header line. */
static const char *exported(void)
{
    const char *rows;

    CU_ASSERT_EQUAL(cmd("export"), 0);
    rows = strstr(last.out, "\r\n");
    return rows ? rows + 2 : "";
}

#define OUT_HAS(text) CU_ASSERT_PTR_NOT_NULL(strstr(last.out, text))
#define ERR_HAS(text) CU_ASSERT_PTR_NOT_NULL(strstr(last.err, text))
/* What export writes after "disabled" for a link with no rules. */
#define NO_RULES ",,,,,,,,,0,"

/* The creation time ("": any) and clicks "show" prints for slug. */
static void shows_history(const char *slug, const char *created,
                          const char *clicks)
{
    CU_ASSERT_EQUAL(cmd("show", slug), 0);
    OUT_HAS(apr_pstrcat(scratch.pool, "created: ", created, NULL));
    OUT_HAS(apr_pstrcat(scratch.pool, "clicks: ", clicks, "\n", NULL));
}

/* The import failed with status, a message naming where and why, and
 * wrote nothing. */
static void refused(int status, int got, const char *where, const char *why)
{
    CU_ASSERT_EQUAL(got, status);
    ERR_HAS(where);
    ERR_HAS(why);
    CU_ASSERT_STRING_EQUAL(last.out, "");
    CU_ASSERT_EQUAL(cmd("list"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "");
}

static int suite_init(void)
{
    return ut_scratch_open(&scratch) ? 0 : -1;
}

static int suite_cleanup(void)
{
    ut_cli_result_free(&last);
    ut_scratch_close(&scratch);
    return 0;
}

/* ---- Shlink ----------------------------------------------------------- */

static const char shlink_csv[] =
    "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\r\n"
    "2023-05-01T10:20:30+02:00,s.test,abc,https://s.test/abc,"
    "https://example.com/a?x=1&y=2,\"Prices, \"\"new\"\"\",news|sale,42\r\n"
    "2024-01-02T00:00:00+00:00,,xyz,https://s.test/xyz,https://example.com/x"
    ",,,0\r\n";

static const char shlink_json[] =
    "{\"shortUrls\":{\"data\":[{\"shortCode\":\"s1\",\"shortUrl\":"
    "\"https://s.test/s1\",\"longUrl\":\"https://example.com/s1\","
    "\"deviceLongUrls\":{\"android\":\"https://example.com/s1/android\","
    "\"ios\":null,\"desktop\":null},"
    "\"dateCreated\":\"2023-01-01T10:00:00+01:00\",\"visitsSummary\":"
    "{\"total\":10,\"nonBots\":9,\"bots\":1},\"tags\":[\"a\",\"b\"],"
    "\"meta\":{\"validSince\":\"2023-01-02T00:00:00+00:00\",\"validUntil\":"
    "\"2031-01-01T00:00:00+00:00\",\"maxVisits\":100},\"domain\":null,"
    "\"title\":\"S one\",\"crawlable\":true,\"forwardQuery\":false,"
    "\"hasRedirectRules\":false},"
    "{\"shortCode\":\"s2\",\"longUrl\":\"https://example.com/s2\","
    "\"dateCreated\":\"2023-02-01T00:00:00+00:00\",\"visitsCount\":3,"
    "\"tags\":[],\"meta\":{\"validSince\":null,\"validUntil\":null,"
    "\"maxVisits\":null},\"title\":null,\"crawlable\":false,"
    "\"forwardQuery\":true,\"hasRedirectRules\":true}]},"
    "\"pagination\":{\"currentPage\":1,\"pagesCount\":1,\"itemsPerPage\":-1,"
    "\"itemsInCurrentPage\":2,\"totalItems\":2}}";

/* ---- Kutt ------------------------------------------------------------- */

/* Two pages of GET /api/v2/links, one after the other, as a loop of curl
 * calls appends them. */
static const char kutt_json[] =
    "{\"total\":3,\"limit\":2,\"skip\":0,\"data\":["
    "{\"id\":\"u1\",\"address\":\"k1\",\"banned\":false,\"created_at\":"
    "\"2024-01-01T12:00:00.000Z\",\"updated_at\":\"2024-01-01T12:00:00.000Z\","
    "\"password\":false,\"description\":\"Kutt one\",\"expire_in\":"
    "\"2030-01-01 00:00:00\",\"target\":\"https://kutt.example/1\","
    "\"visit_count\":7,\"domain\":null,\"link\":\"https://kutt.it/k1\"},\n"
    "{\"id\":\"u2\",\"address\":\"k2\",\"banned\":true,\"created_at\":"
    "\"2024-01-02T12:00:00.000Z\",\"password\":true,\"description\":null,"
    "\"expire_in\":null,\"target\":\"https://kutt.example/2\","
    "\"visit_count\":0}]}\n"
    "{\"total\":3,\"limit\":2,\"skip\":2,\"data\":[{\"address\":\"k3\","
    "\"target\":\"https://kutt.example/3\",\"created_at\":"
    "\"2024-01-03T12:00:00.000Z\",\"visit_count\":1,\"banned\":false,"
    "\"password\":true}]}\n";

/* ---- each peer's sample ---------------------------------------------- */

/* A link's creation time and clicks, as "show" prints them. */
typedef struct {
    const char *slug, *created, *clicks;
} history;

/* A peer's file, what export prints after importing it, and the history
 * two of its links keep. */
typedef struct {
    const char *peer, *file, *text;
    const char *exported;
    history kept[2];
} sample;

static const sample samples[] = {
    { "shlink", "shlink.csv", shlink_csv,
      "abc,https://example.com/a?x=1&y=2,,,0,\"Prices, \"\"new\"\"\","
      "news sale,,,,,,,0,\r\n"
      "xyz,https://example.com/x,,,0" NO_RULES "\r\n",
      { { "abc", "2023-05-01T08:20:30Z", "42" },
        { "xyz", "2024-01-02T00:00:00Z", "0" } } },
    /* Shlink's own importer matches header names without case or spaces
     * and leaves the columns it does not know alone; so do we. */
    { "shlink", "names.csv",
      "Long URL,Short Code,Notes,Visits\nhttps://example.com/n,n1,x,4\n",
      "n1,https://example.com/n,,,0" NO_RULES "\r\n",
      { { "n1", "", "4" }, { NULL, NULL, NULL } } },
    /* validUntil is the expiry; forwardQuery false is the link's own
     * "off", true the location's default; a long URL for a device is a
     * redirect rule on it; visitsCount is Shlink 2's. */
    { "shlink", "shlink.json", shlink_json,
      "s1,https://example.com/s1,,1924992000,0,S one,a b,1672617600,100,"
      ",,0,,1,'--device android https://example.com/s1/android\r\n"
      "s2,https://example.com/s2,,,0" NO_RULES "\r\n",
      { { "s1", "2023-01-01T09:00:00Z", "10" },
        { "s2", "2023-02-01T00:00:00Z", "3" } } },
    /* phpMyAdmin: every field quoted, NULL as NULL; a page's title with
     * its tab and line break, each a space here. */
    { "yourls", "yourls.csv",
      "\"keyword\",\"url\",\"title\",\"timestamp\",\"ip\",\"clicks\"\n"
      "\"ozh\",\"http://ozh.org/\",\"NULL\",\"2009-10-01 12:34:56\","
      "\"127.0.0.1\",\"12\"\n"
      "\"yourls\",\"https://yourls.org/\",\"YOURLS:\tYour Own\nURL Shortener\","
      "\"2024-03-05 06:07:08\",\"::1\",\"3\"\n",
      "ozh,http://ozh.org/,,,0" NO_RULES "\r\n"
      "yourls,https://yourls.org/,,,0,YOURLS: Your Own URL Shortener"
      ",,,,,,,,0,\r\n",
      { { "ozh", "2009-10-01T12:34:56Z", "12" },
        { "yourls", "2024-03-05T06:07:08Z", "3" } } },
    /* Without the names (phpMyAdmin's default), the table's order; NULL
     * as mysqldump --tab writes it. */
    { "yourls", "bare.csv",
      "\"a1\",\"https://a.example/\",\"\\N\",\"2020-01-01 00:00:00\","
      "\"1.2.3.4\",\"5\"\n",
      "a1,https://a.example/,,,0" NO_RULES "\r\n",
      { { "a1", "2020-01-01T00:00:00Z", "5" }, { NULL, NULL, NULL } } },
    /* Banned, or with a password Kutt does not give out: disabled. */
    { "kutt", "kutt.json", kutt_json,
      "k1,https://kutt.example/1,,1893456000,0,Kutt one,,,,,,,,0,\r\n"
      "k2,https://kutt.example/2,,,1" NO_RULES "\r\n"
      "k3,https://kutt.example/3,,,1" NO_RULES "\r\n",
      { { "k1", "2024-01-01T12:00:00Z", "7" },
        { "k3", "2024-01-03T12:00:00Z", "1" } } },
};

static void test_samples(void)
{
    size_t i, k;

    for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const sample *c = &samples[i];
        CU_ASSERT_EQUAL(IMPORT(c->peer, c->file, c->text), 0);
        CU_ASSERT_STRING_EQUAL(exported(), c->exported);
        for (k = 0; k < 2 && c->kept[k].slug; k++) {
            shows_history(c->kept[k].slug, c->kept[k].created,
                          c->kept[k].clicks);
        }
    }
}

/* One YOURLS file without a header but a row too short for the table. */
static void test_yourls_row_too_short(void)
{
    refused(2, IMPORT("yourls", "short.csv", "\"a1\",\"https://a.example/\"\n"),
            "short.csv:1:", "2 fields, but a file without a header must have"
            " the 6 columns");
}

/* What a link could not keep is said: a password Kutt does not give out
 * (the link is not served open), Shlink 4's redirect rules, which its
 * list leaves out. */
static void test_what_was_left_is_said(void)
{
    CU_ASSERT_EQUAL(IMPORT("kutt", "kutt_pw.json", kutt_json), 0);
    ERR_HAS("kutt_pw.json: link 2: 'k2' has a password in Kutt");
    ERR_HAS("kutt_pw.json: link 3: 'k3' has a password in Kutt");
    ERR_HAS("minilink set k3 --password --enable");
    CU_ASSERT_EQUAL(IMPORT("shlink", "rules.json", shlink_json), 0);
    ERR_HAS("rules.json: link 2: 's2' has redirect rules in Shlink");
    ERR_HAS("/rest/v3/short-urls/s2/redirect-rules");
}

/* ---- what does not fit ------------------------------------------------ */

static const char shlink_header[] =
    "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\r\n";

/* A row of Shlink's CSV export with these slug, URL, title and tags. */
static const char *shlink_row(const char *slug, const char *url,
                              const char *title, const char *tags)
{
    return apr_psprintf(scratch.pool, "2024-01-01T00:00:00+00:00,,%s,,%s,%s,"
                        "%s,1\r\n", slug, url, title, tags);
}

static const char *shlink_file(const char *row2, const char *row3)
{
    return apr_pstrcat(scratch.pool, shlink_header,
                       shlink_row("good", "https://example.com/", "", ""),
                       row2, row3, NULL);
}

static void test_rows_that_do_not_fit(void)
{
    const char *ok = shlink_row("later", "https://example.com/l", "", "");

    refused(2, IMPORT("shlink", "slug.csv", shlink_file(
                shlink_row("a.b", "https://example.com/", "", ""), ok)),
            "slug.csv:3:", "slug");
    refused(2, IMPORT("shlink", "url.csv", shlink_file(
                shlink_row("js", "javascript:alert(1)", "", ""), ok)),
            "url.csv:3:", "http");
    refused(2, IMPORT("shlink", "dash.csv", shlink_file(
                shlink_row("-h", "https://example.com/", "", ""), ok)),
            "dash.csv:3:", "'-'");
    refused(4, IMPORT("shlink", "twice.csv", shlink_file(
                shlink_row("good", "https://example.com/2", "", ""), ok)),
            "twice.csv:3:", "'good' is already taken");
    refused(2, IMPORT("shlink", "tag.csv", shlink_file(
                shlink_row("t", "https://example.com/", "", "ok|two words"),
                ok)),
            "tag.csv:3:", "the tag 'two words'");
    refused(2, IMPORT("shlink", "date.csv", apr_pstrcat(scratch.pool,
                shlink_header, "yesterday,,d,,https://example.com/,,,1\r\n",
                NULL)),
            "date.csv:2:", "createdAt 'yesterday' is not a date");
    refused(2, IMPORT("shlink", "visits.csv", apr_pstrcat(scratch.pool,
                shlink_header, "2024-01-01 00:00:00,,v,,https://example.com/,"
                ",,-3\r\n", NULL)),
            "visits.csv:2:", "visits '-3' is not a number");
    refused(2, IMPORT("shlink", "fields.csv", shlink_file(
                "2024-01-01T00:00:00Z,,f,,https://example.com/,,\r\n", ok)),
            "fields.csv:3:", "7 fields where the first line has 8");
    refused(2, IMPORT("shlink", "header.csv",
                      "domain,title\r\nx,y\r\n"),
            "header.csv:1:", "shortcode");
}

/* A slug taken in the database already: 4, and the file adds nothing. */
static void test_taken_in_the_database(void)
{
    const char *path = ut_path(&scratch, "taken.csv");

    fresh_db("taken");
    CU_ASSERT_EQUAL(cmd("add", "https://example.com/mine", "xyz"), 0);
    CU_ASSERT_FATAL(ut_write_file(path, shlink_csv, strlen(shlink_csv)));
    CU_ASSERT_EQUAL(cmd("import", "--from", "shlink", path), 4);
    ERR_HAS("taken.csv:3:");
    CU_ASSERT_EQUAL(cmd("list"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "xyz\thttps://example.com/mine\n");
}

/* A field of more than a megabyte (ML_CSV_RECORD_MAX) is refused before
 * it fills the memory; a JSON title too long for a link, by the check. */
static void test_huge_fields(void)
{
    size_t size = 1100000;
    char *huge = apr_palloc(scratch.pool, size + 1);
    const char *csv, *json;

    memset(huge, 'a', size);
    huge[size] = '\0';
    csv = shlink_file(shlink_row("big", "https://example.com/", huge, ""), "");
    refused(2, IMPORT("shlink", "huge.csv", csv), "huge.csv:3:",
            "longer than 1048576 bytes");
    json = apr_psprintf(scratch.pool, "[{\"address\":\"big\",\"target\":"
                        "\"https://example.com/\",\"description\":\"%s\"}]",
                        huge);
    refused(2, IMPORT("kutt", "huge.json", json), "huge.json: link 1:",
            "title");
    /* A cell of 300,000 tags, all the same: one tag (read in one pass). */
    memset(huge, 0, size);
    for (size = 0; size < 600000; size += 2) {
        memcpy(huge + size, "a|", 2);
    }
    CU_ASSERT_EQUAL(IMPORT("shlink", "tags.csv", apr_pstrcat(scratch.pool,
        "shortCode,longUrl,tags\nt,https://example.com/,", huge, "\n", NULL)),
        0);
    CU_ASSERT_STRING_EQUAL(exported(), "t,https://example.com/,,,0,,a,,,,,,,0,"
                                       "\r\n");
    refused(2, IMPORT("shlink", "33tags.csv", "shortCode,longUrl,tags\nt,"
                      "https://example.com/,a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|"
                      "r|s|t|u|v|w|x|y|z|A|B|C|D|E|F|G\n"),
            "33tags.csv:2:", "at most 32 tags");
}

/* Cells a spreadsheet would run are text to us: a title keeps it (and
 * our export marks it), a URL is no http URL and is refused. */
static void test_formula_cells(void)
{
    CU_ASSERT_EQUAL(IMPORT("shlink", "formula.csv", shlink_file(
        shlink_row("f", "https://example.com/f", "\"=HYPERLINK(\"\"x\"\")\"",
                   ""),
        "")), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(exported(),
                           "f,https://example.com/f,,,0,\"'=HYPERLINK("));
    refused(2, IMPORT("shlink", "formula_url.csv", shlink_file(
                shlink_row("g", "=cmd|'/C calc'!A0", "", ""), "")),
            "formula_url.csv:3:", "URL");
}

/* What spreadsheets and Windows tools save: a byte order mark and CRLF;
 * a JSON file with a mark before it, too. */
static void test_byte_order_mark_and_crlf(void)
{
    const char *csv = apr_pstrcat(scratch.pool, "\xEF\xBB\xBF", shlink_csv,
                                  NULL);
    const char *json = apr_pstrcat(scratch.pool, "\xEF\xBB\xBF", shlink_json,
                                   NULL);

    CU_ASSERT_EQUAL(IMPORT("shlink", "bom.csv", csv), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "imported 2 links\n");
    CU_ASSERT_EQUAL(IMPORT("shlink", "bom.json", json), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "imported 2 links\n");
    CU_ASSERT_EQUAL(IMPORT("yourls", "crlf.csv",
                           "keyword,url,title,timestamp,ip,clicks\r\n"
                           "c,https://example.com/c,T,,,\r\n"), 0);
}

static void test_bad_json(void)
{
    refused(2, IMPORT("kutt", "cut.json", "{\"data\":[{\"address\":\"a\""),
            "cut.json: link 1:", "not JSON");
    refused(2, IMPORT("kutt", "nolist.json", "{\"links\":[]}"),
            "nolist.json: link 1:", "no list of links");
    refused(2, IMPORT("kutt", "item.json", "[{\"address\":\"a\",\"target\":"
                      "\"https://example.com/\"}, 7]"),
            "item.json: link 2:", "not an object");
    refused(2, IMPORT("shlink", "tags.json", "[{\"shortCode\":\"a\","
                      "\"longUrl\":\"https://example.com/\",\"tags\":[1]}]"),
            "tags.json: link 1:", "tags");
    refused(2, IMPORT("shlink", "device.json", "[{\"shortCode\":\"a\","
                      "\"longUrl\":\"https://example.com/\",\"deviceLongUrls\":"
                      "{\"tv\":\"https://example.com/tv\"}}]"),
            "device.json: link 1:", "the device must be one of");
}

static void test_usage(void)
{
    fresh_db("usage");
    CU_ASSERT_EQUAL(cmd("import", "--from", "bitly", "x.csv"), 1);
    ERR_HAS("shlink, yourls or kutt");
    CU_ASSERT_EQUAL(cmd("import", "--from"), 1);
}

/* More links than a group (512): their history is written group by
 * group, and a bad row in a later group still names its line. */
static void test_many_links(void)
{
    const char *csv = "\"keyword\",\"url\",\"title\",\"timestamp\",\"ip\","
                      "\"clicks\"\n";
    int i;

    for (i = 0; i < 1300; i++) {
        csv = apr_psprintf(scratch.pool, "%s\"y%d\",\"https://example.com/%d\","
                           "\"\",\"2020-02-02 02:02:02\",\"\",\"2\"\n",
                           csv, i, i);
    }
    CU_ASSERT_EQUAL(IMPORT("yourls", "many.csv", csv), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "imported 1300 links\n");
    CU_ASSERT_EQUAL(cmd("stats"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "links: 1300\nclicks: 2600\n");
    shows_history("y1299", "2020-02-02T02:02:02Z", "2");
    csv = apr_pstrcat(scratch.pool, csv, "\"y5\",\"https://example.com/\","
                      "\"\",\"\",\"\",\"\"\n", NULL);
    refused(4, IMPORT("yourls", "many_twice.csv", csv), "many_twice.csv:1302:",
            "'y5'");
}

/* ---- our CSV, some of its columns ------------------------------------- */

static void test_our_csv_some_columns(void)
{
    const char *path = ut_path(&scratch, "some.csv");
    static const char some[] =
        "tags,url,slug,disabled,max_visits\n"
        "a b,https://example.com/1,one,,\n"
        ",https://example.com/2,two,1,5\n";

    fresh_db("some");
    CU_ASSERT_FATAL(ut_write_file(path, some, strlen(some)));
    CU_ASSERT_EQUAL(cmd("import", path), 0);
    CU_ASSERT_STRING_EQUAL(exported(),
        "one,https://example.com/1,,,0,,a b,,,,,,,0,\r\n"
        "two,https://example.com/2,,,1,,,,5,,,,,0,\r\n");
    CU_ASSERT_EQUAL(cmd("import", "--from", "csv", path), 4);
}

void add_cli_import_suite(void)
{
    CU_pSuite suite = CU_add_suite("cli_import", suite_init, suite_cleanup);

    CU_add_test(suite, "each peer's sample: links, times, visits",
                test_samples);
    CU_add_test(suite, "YOURLS without a header: the table's columns",
                test_yourls_row_too_short);
    CU_add_test(suite, "what a link could not keep is said", test_what_was_left_is_said);
    CU_add_test(suite, "rows that do not fit: by line, nothing written",
                test_rows_that_do_not_fit);
    CU_add_test(suite, "a slug taken in the database", test_taken_in_the_database);
    CU_add_test(suite, "huge fields", test_huge_fields);
    CU_add_test(suite, "formula cells", test_formula_cells);
    CU_add_test(suite, "byte order mark, CRLF", test_byte_order_mark_and_crlf);
    CU_add_test(suite, "JSON that is cut, or holds no list", test_bad_json);
    CU_add_test(suite, "--from usage errors", test_usage);
    CU_add_test(suite, "1300 links across groups", test_many_links);
    CU_add_test(suite, "our CSV with some columns, in any order",
                test_our_csv_some_columns);
}
