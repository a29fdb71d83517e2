/*
 * test_browser.c - the shortening form in a real browser.
 *
 * Suite "browser" (event MPM, a creation location on an empty database): tests/browser/shorten.mjs
 * drives Debian's chromium through playwright-core: it shortens a URL with the form, follows the
 * short link (the browser reads the 302; example.com is answered inside the browser, nothing
 * leaves the machine), and has a link to the shortener itself refused.  The script's output is
 * shown, and is the failure message when it fails.  Then the link it made is checked over plain
 * HTTP.
 *
 * Environment, besides the harness's:
 *   MINILINK_BROWSER_DIR    tests/browser, with node_modules (npm ci)
 *   MINILINK_NODE           node (default: node on the PATH)
 *   MINILINK_SCREENSHOT_DIR where the screenshots go
 *                           (default <MINILINK_BROWSER_DIR>/screenshots)
 */

#include "ml_test.h"

#define TARGET_URL "https://example.com/from-the-browser?x=1"
#define BROWSER_TIMEOUT_MS 120000L   /* the script gives up after 90 s */

static char g_slug[65];   /* the slug the browser created */

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

static void test_form_in_chromium(void)
{
    const char *dir = env_or("MINILINK_BROWSER_DIR", "tests/browser");
    char *script = tfmt("%s/shorten.mjs", dir), *shots, *shot, *shot_error;
    char *playwright = tfmt("%s/node_modules/playwright-core/package.json", dir);
    char *base = tfmt("http://127.0.0.1:%d/l/", g_srv->port), *line, *next;
    char tmp[] = "/tmp/minilink-browser-XXXXXX";
    run_spec spec = { .timeout_ms = BROWSER_TIMEOUT_MS };
    run_result r;
    long size = 0;
    int leftovers;

    shots = tfmt("%s", env_or("MINILINK_SCREENSHOT_DIR", tfmt("%s/screenshots", dir)));
    shot = tfmt("%s/form-result.png", shots);
    shot_error = tfmt("%s/form-result-error.png", shots);
    if (!CHECK(access(script, R_OK) == 0, "no browser script %s", script)
        || !CHECK(access(playwright, R_OK) == 0, "no %s: run npm ci --prefix %s", playwright, dir)
        || !CHECK(mkdir(shots, 0755) == 0 || errno == EEXIST, "cannot make %s: %s", shots,
                  strerror(errno))
        || !CHECK(mkdtemp(tmp) != NULL, "mkdtemp: %s", strerror(errno))) {
        return;
    }
    unlink(shot);
    unlink(shot_error);
    spec.argv = (char *[]){ (char *)env_or("MINILINK_NODE", "node"), script, base, shot, NULL };
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
    fprintf(stderr, "\n    [browser: node %s %s took %ld ms]\n", script, base, r.elapsed_ms);
    for (line = r.status == 0 ? r.output : ""; *line; line = next) {
        next = line + strcspn(line, "\n");
        fprintf(stderr, "      %.*s\n", (int)(next - line), line);   /* a line a step */
        next += *next == '\n';
    }
    CHECK(!r.timed_out, "the browser script did not finish in %ld s", BROWSER_TIMEOUT_MS / 1000);
    CHECK(r.status == 0, "the browser script exited %d:\n%s", r.status, r.output);
    CHECK(leftovers == 0, "%d browser process(es) outlived the script", leftovers);
    if (r.status == 0) {
        CHECK(is_png(shot, &size) && size > 2000, "%s: not a PNG screenshot (%ld bytes)",
              shot, size);
        CHECK(is_png(shot_error, &size) && size > 2000,
              "%s: not a PNG screenshot (%ld bytes)", shot_error, size);
        slug_from(r.output, g_slug, sizeof g_slug);
        CHECK(g_slug[0] != '\0', "no \"slug: \" line in the script's output");
    }
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
    { "the link works over HTTP", test_server_side },
    CU_TEST_INFO_NULL,
};

static const suite_group browser_group = {
    .name = "browser", .mpm = "event", .tests = browser_tests, .modules = "slotmem_shm",
    .config = MINILINK_AT("/l", "MinilinkCreate On\nMinilinkDatabase @DIR@/links.db\n"),
};

void add_browser_suites(void)
{
    g_slug[0] = '\0';
    add_group(&browser_group);
}
