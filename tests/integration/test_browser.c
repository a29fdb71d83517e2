/*
 * test_browser.c - the shortening form and the admin pages in a real browser.
 *
 * Suite "browser" (event MPM, a creation location and the admin pages on one database): the
 * scripts of tests/browser drive Debian's chromium through playwright-core.  shorten.mjs shortens a
 * URL with the form, follows the short link (the browser reads the 302; example.com is answered
 * inside the browser, nothing leaves the machine), and has a link to the shortener itself refused.
 * admin.mjs creates, searches, edits, adds a rule and deletes on the admin pages, checks the bars
 * of a seeded month's chart against their figures (which this file compares with the database),
 * and screenshots each page at 1280 and 360 px.  A script's output is shown, and is the failure
 * message when it fails.  Then what the form made is checked over plain HTTP.
 *
 * Environment, besides the harness's:
 *   MINILINK_BROWSER_DIR    tests/browser, with node_modules (npm ci)
 *   MINILINK_NODE           node (default: node on the PATH)
 *   MINILINK_SCREENSHOT_DIR where the screenshots go, printed
 *                           (default <MINILINK_BROWSER_DIR>/screenshots; not committed)
 */

#include "ml_test.h"

#define TARGET_URL "https://example.com/from-the-browser?x=1"
#define BROWSER_TIMEOUT_MS 180000L   /* the scripts give up after 90 s and 150 s */

static char g_slug[65];   /* the slug the browser created */

static const rich_link_spec seeded_links[] = {
    { "seeded", "https://example.com/seeded", { "title=A seeded month" } },
};

static int is_png(const char *path, long *size)
{
    static const char magic[8] = { '\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n' };
    char *data = tkeep(file_read(path));
    *size = file_size(path);
    return *size >= 8 && memcmp(data, magic, sizeof magic) == 0;
}

/* The slug after "slug: " at a line's start in the script's output, or "". */
static void slug_from(const char *output, char *slug, size_t size)
{
    const char *p = strncmp(output, "slug: ", 6) == 0 ? output : strstr(output, "\nslug: ");
    size_t n = 0;
    if (p) {
        p += *p == '\n' ? 7 : 6;
        n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    }
    snprintf(slug, size, "%.*s", (int)n, p ? p : "");
}

/* Runs node <dir>/<script> with args (NULL-terminated, at most 4) and a TMPDIR of its own: the
 * output, shown a line a step, and checked to have exited 0; NULL when it could not run. */
static char *run_script(const char *script_name, char *const *args)
{
    const char *dir = env_or("MINILINK_BROWSER_DIR", "tests/browser");
    char *script = tfmt("%s/%s", dir, script_name), *line, *next;
    char *playwright = tfmt("%s/node_modules/playwright-core/package.json", dir);
    char tmp[] = "/tmp/minilink-browser-XXXXXX";
    char *argv[8] = { (char *)env_or("MINILINK_NODE", "node"), script };
    run_spec spec = { .timeout_ms = BROWSER_TIMEOUT_MS, .argv = argv };
    run_result r;
    int leftovers, i;

    for (i = 0; args[i] && i < 4; i++) {
        argv[i + 2] = args[i];
    }
    if (!CHECK(access(script, R_OK) == 0, "no browser script %s", script)
        || !CHECK(access(playwright, R_OK) == 0, "no %s: run npm ci --prefix %s", playwright, dir)
        || !CHECK(mkdtemp(tmp) != NULL, "mkdtemp: %s", strerror(errno))) {
        return NULL;
    }
    setenv("TMPDIR", tmp, 1);   /* the browser's profile and files: removed below */
    r = run_captured(&spec);
    unsetenv("TMPDIR");
    tkeep(r.output);
    /* Chromium runs in a process group of its own: a script that was killed can leave it behind
     * (tmp is this run's only). */
    if ((leftovers = kill_processes(tmp, 2000)) > 0) {
        fprintf(stderr, "\n    killed %d process(es) left behind by the browser\n", leftovers);
    }
    remove_tree(tmp);
    fprintf(stderr, "\n    [browser: node %s %s took %ld ms]\n", script, args[0], r.elapsed_ms);
    for (line = r.status == 0 ? r.output : ""; *line; line = next) {
        next = line + strcspn(line, "\n");
        fprintf(stderr, "      %.*s\n", (int)(next - line), line);   /* a line a step */
        next += *next == '\n';
    }
    CHECK(!r.timed_out, "the browser script did not finish in %ld s", BROWSER_TIMEOUT_MS / 1000);
    CHECK(r.status == 0, "the browser script exited %d:\n%s", r.status, r.output);
    CHECK(leftovers == 0, "%d browser process(es) outlived the script", leftovers);
    return r.status == 0 ? r.output : NULL;
}

/* Where screenshots go (made if missing), or NULL. */
static char *screenshot_dir(void)
{
    const char *dir = env_or("MINILINK_BROWSER_DIR", "tests/browser");
    char *shots = tfmt("%s", env_or("MINILINK_SCREENSHOT_DIR", tfmt("%s/screenshots", dir)));

    return CHECK(mkdir(shots, 0755) == 0 || errno == EEXIST, "cannot make %s: %s", shots,
                 strerror(errno)) ? shots : NULL;
}

static void test_form_in_chromium(void)
{
    char *shots = screenshot_dir(), *shot, *shot_error, *output;
    char *base = tfmt("http://127.0.0.1:%d/l/", g_srv->port);
    long size = 0;

    if (shots == NULL) {
        return;
    }
    shot = tfmt("%s/form-result.png", shots);
    shot_error = tfmt("%s/form-result-error.png", shots);
    unlink(shot);
    unlink(shot_error);
    if ((output = run_script("shorten.mjs", (char *[]){ base, shot, NULL })) != NULL) {
        CHECK(is_png(shot, &size) && size > 2000, "%s: not a PNG screenshot (%ld bytes)",
              shot, size);
        CHECK(is_png(shot_error, &size) && size > 2000,
              "%s: not a PNG screenshot (%ld bytes)", shot_error, size);
        slug_from(output, g_slug, sizeof g_slug);
        CHECK(g_slug[0] != '\0', "no \"slug: \" line in the script's output");
    }
}

/* The admin pages: the script's checks, its screenshots, and the chart's figures it printed
 * ("chart DAY CLICKS BOTS") compared with the database's roll-up. */
static void test_admin_in_chromium(void)
{
    static const char *const pages[] = { "overview", "new", "links", "links-search", "link",
                                         "chart", "delete" };
    char *shots = screenshot_dir(), *output, *line;
    char *base = tfmt("http://127.0.0.1:%d/admin/", g_srv->port);
    int days = 0;
    size_t i;

    if (shots == NULL || (output = run_script("admin.mjs", (char *[]){ base, shots, NULL }))
                         == NULL) {
        return;
    }
    fprintf(stderr, "    [screenshots of the admin pages: %s/<page>-1280.png, -360.png]\n", shots);
    for (i = 0; i < ARRAY_LEN(pages); i++) {
        long size = 0;
        char *shot = tfmt("%s/%s-360.png", shots, pages[i]);
        CHECK(is_png(shot, &size) && size > 2000, "%s: not a PNG (%ld bytes)", shot, size);
        shot = tfmt("%s/%s-1280.png", shots, pages[i]);
        CHECK(is_png(shot, &size) && size > 2000, "%s: not a PNG (%ld bytes)", shot, size);
    }
    for (line = strstr(output, "\nchart "); line; line = strstr(line + 1, "\nchart ")) {
        char date[11];
        long clicks, bots;
        struct tm tm = {0};
        if (!CHECK(sscanf(line, "\nchart %10s %ld %ld", date, &clicks, &bots) == 3
                   && strptime(date, "%Y-%m-%d", &tm), "a chart line: %.40s", line + 1)) {
            break;
        }
        EXPECT_EQ(clicks, db_int(tpath("links.db"), "SELECT COALESCE(SUM(d.clicks), 0) FROM "
                  "visits_daily d JOIN links l ON l.id = d.link_id WHERE l.slug = 'seeded' "
                  "AND d.day = %ld", (long)timegm(&tm)), "the bar of %s: clicks", date);
        EXPECT_EQ(bots, db_int(tpath("links.db"), "SELECT COALESCE(SUM(d.bots), 0) FROM "
                  "visits_daily d JOIN links l ON l.id = d.link_id WHERE l.slug = 'seeded' "
                  "AND d.day = %ld", (long)timegm(&tm)), "the bar of %s: bots", date);
        days++;
    }
    EXPECT_EQ(days, 30, "chart lines");
}

/* What the browser made, seen over plain HTTP. */
static void test_server_side(void)
{
    if (CHECK(g_slug[0] != '\0', "the browser created no link (see the test before)")) {
        GET(tfmt("/l/%s", g_slug), 302, TARGET_URL);
    }
    GET("/l/loop", 404, NULL);   /* never created */
}

static CU_TestInfo browser_tests[] = {
    { "form in chromium: shorten, follow, refuse a loop", test_form_in_chromium },
    { "admin pages in chromium: create, search, edit, rule, chart, delete",
      test_admin_in_chromium },
    { "the link works over HTTP", test_server_side },
    CU_TEST_INFO_NULL,
};

static const suite_group browser_group = {
    .name = "browser", .mpm = "event", .tests = browser_tests, .modules = "slotmem_shm",
    .config = MINILINK_AT("/l", "MinilinkCreate On\nMinilinkDatabase @DIR@/links.db\n")
              LOCATION("/admin", "SetHandler minilink-admin\nMinilinkDatabase @DIR@/links.db\n"
                       "Require all granted\n"),
    .rich_links = seeded_links, .nrich_links = ARRAY_LEN(seeded_links),
    /* A month of days for "seeded", the newest today: 0 to 2,000,000 clicks, a quarter bots. */
    .links_sql = "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 29) "
                 "INSERT INTO visits_daily (link_id, day, clicks, bots) "
                 "SELECT l.id, CAST(strftime('%s', 'now') AS INTEGER) / 86400 * 86400 - n * 86400,"
                 " CASE n WHEN 3 THEN 2000000 ELSE n * 37 % 100 END,"
                 " CASE n WHEN 3 THEN 500000 ELSE n * 37 % 100 / 4 END"
                 " FROM k, links l WHERE l.slug = 'seeded';",
};

void add_browser_suites(void)
{
    g_slug[0] = '\0';
    add_group(&browser_group);
}
