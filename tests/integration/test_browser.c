/*
 * test_browser.c - the shortening form in a real browser.
 *
 * Suite "browser": its init starts one httpd (event MPM) with a creation
 * location on a fresh database; its test runs tests/browser/shorten.mjs,
 * which drives Debian's chromium through playwright-core: it shortens a
 * URL with the form, follows the short link (the browser reads the 302;
 * example.com is answered inside the browser, nothing leaves the machine),
 * and has a link to the shortener itself refused.  The script's output is
 * shown, and is the failure message when it fails.  Then the link it made
 * is checked over plain HTTP, and the error log.
 *
 * Registered by add_browser_suites(), called from main() in test_httpd.c.
 *
 * Environment, besides the harness's:
 *   MINILINK_CLI            the minilink command (default ./minilink)
 *   MINILINK_BROWSER_DIR    tests/browser, with node_modules (npm ci)
 *                           (default tests/browser)
 *   MINILINK_NODE           node (default: node on the PATH)
 *   MINILINK_SCREENSHOT_DIR where the screenshots go
 *                           (default <MINILINK_BROWSER_DIR>/screenshots)
 *
 * When the suite cannot start its server, its init still succeeds and
 * every test fails with the reason: the failure is then counted like any
 * other in the totals main() prints.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"


#define TARGET_URL "https://example.com/from-the-browser?x=1"
#define CLI_TIMEOUT_MS 30000L
#ifndef BROWSER_TIMEOUT_MS
#define BROWSER_TIMEOUT_MS 120000L   /* the script gives up after 90 s */
#endif
#define TERM_GRACE_MS 10000L         /* SIGTERM to SIGKILL: it closes chromium */

static httpd_server *b_srv;
static char b_problem[4096];           /* why there is no server */
static unsigned int b_failures_at_init;
static char *b_slug;                   /* the slug the browser created */

/* ------------------------------------------------------------------ */
/* assertions that report the caller's line and what was seen         */
/* ------------------------------------------------------------------ */

static int check_at(int line, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int check_at(int line, int ok, const char *fmt, ...)
{
    char msg[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!ok) {
        fprintf(stderr, "\n    FAILED (line %d): %s\n", line, msg);
    }
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned int)line, msg,
                            __FILE__, "", CU_FALSE);
    return ok;
}

#define CHECK(ok, ...) check_at(__LINE__, (ok), __VA_ARGS__)

static const char *str_or_null(const char *s)
{
    return s ? s : "(none)";
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *s = getenv(name);
    return s && *s ? s : fallback;
}

/* ------------------------------------------------------------------ */
/* subprocesses                                                       */
/* ------------------------------------------------------------------ */

typedef struct {
    int status;         /* exit status; 128+N for signal N; -1: not run */
    int timed_out;
    long elapsed_ms;
    char *output;       /* stdout and stderr together, malloc'd */
} run_result;

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        if (*buf == NULL) {
            abort();
        }
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/*
 * Runs argv (execvp) with stdin from /dev/null, its stdout and stderr
 * captured, and TMPDIR set to tmp if not NULL.  The child gets SIGTERM if
 * this process dies.  Past timeout_ms it gets SIGTERM, then SIGKILL after
 * TERM_GRACE_MS.
 */
static run_result run_captured(char *const argv[], const char *tmp, long timeout_ms)
{
    run_result res = { -1, 0, 0, NULL };
    size_t len = 0, cap = 0;
    long start = now_ms(), term_at = 0, reaped_at = 0;
    int fds[2], status = 0, reaped = 0;
    pid_t pid, parent = getpid();

    append(&res.output, &len, &cap, "", 0);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        res.output = xasprintf("pipe: %s", strerror(errno));
        return res;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free(res.output);
        res.output = xasprintf("fork: %s", strerror(errno));
        return res;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(127);
        }
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        if (devnull >= 0) {
            dup2(devnull, 0);
        }
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        if (tmp) {
            setenv("TMPDIR", tmp, 1);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    /* Until EOF; once the child is gone, at most 2 s more for what else
     * holds the pipe (a stray grandchild must not hang the test). */
    for (;;) {
        struct pollfd p = { fds[0], POLLIN, 0 };
        long now = now_ms();
        char chunk[4096];
        ssize_t n;
        int rc;

        if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
            reaped = 1;
            reaped_at = now;
        }
        if (reaped && now - reaped_at > 2000) {
            break;
        }
        if (!reaped && !res.timed_out && now - start > timeout_ms) {
            res.timed_out = 1;
            term_at = now;
            kill(pid, SIGTERM);
        }
        if (!reaped && res.timed_out && term_at && now - term_at > TERM_GRACE_MS) {
            kill(pid, SIGKILL);
            term_at = 0;
        }
        rc = poll(&p, 1, 200);
        if (rc < 0 && errno != EINTR) {
            break;
        }
        if (rc <= 0) {
            continue;
        }
        n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        append(&res.output, &len, &cap, chunk, (size_t)n);
    }
    close(fds[0]);
    /* EOF can come before the exit: that wait is bounded too. */
    while (!reaped) {
        long now = now_ms();

        if (waitpid(pid, &status, WNOHANG) == pid) {
            break;
        }
        if (!res.timed_out && now - start > timeout_ms) {
            res.timed_out = 1;
            term_at = now;
            kill(pid, SIGTERM);
        }
        if (res.timed_out && term_at && now - term_at > TERM_GRACE_MS) {
            kill(pid, SIGKILL);
            term_at = 0;
        }
        sleep_ms(50);
    }
    res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    res.elapsed_ms = now_ms() - start;
    return res;
}

/*
 * Processes whose command line contains needle, SIGKILLed if kill_them.
 * Zombies have no command line and are not counted.
 */
static int processes_naming(const char *needle, int kill_them)
{
    DIR *proc = opendir("/proc");
    struct dirent *de;
    int found = 0;

    if (proc == NULL) {
        return 0;
    }
    while ((de = readdir(proc)) != NULL) {
        char path[64], cmdline[8192];
        pid_t pid = (pid_t)atoi(de->d_name);
        ssize_t n, i;
        int fd;

        if (pid <= 0 || pid == getpid()) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        if ((fd = open(path, O_RDONLY)) < 0) {
            continue;
        }
        n = read(fd, cmdline, sizeof cmdline - 1);
        close(fd);
        if (n <= 0) {
            continue;
        }
        for (i = 0; i < n; i++) {
            cmdline[i] = cmdline[i] ? cmdline[i] : ' ';
        }
        cmdline[n] = '\0';
        if (strstr(cmdline, needle)) {
            if (kill_them) {
                kill(pid, SIGKILL);
            }
            found++;
        }
    }
    closedir(proc);
    return found;
}

/*
 * Chromium runs in a process group of its own, so a script that was killed
 * can leave it behind; needle is a directory only this run uses.  Gives
 * what is still exiting 2 s, then SIGKILLs the rest and waits (up to 2 s)
 * for them to go.  Returns how many had to be killed.
 */
static int kill_processes_naming(const char *needle)
{
    long deadline = now_ms() + 2000;
    int left;

    while ((left = processes_naming(needle, 0)) > 0 && now_ms() < deadline) {
        sleep_ms(50);
    }
    if (left == 0) {
        return 0;
    }
    fprintf(stderr, "\n    killing %d process(es) left behind by the browser\n", left);
    deadline = now_ms() + 2000;
    while (processes_naming(needle, 1) > 0 && now_ms() < deadline) {
        sleep_ms(50);
    }
    return left;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Prints text with every line indented (the script's steps). */
static void print_indented(FILE *f, const char *text)
{
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "      %.*s\n", (int)n, p);
        p += n + (nl != NULL);
    }
}

/* ------------------------------------------------------------------ */
/* the server                                                         */
/* ------------------------------------------------------------------ */

static void set_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void set_problem(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b_problem, sizeof b_problem, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nsuite browser: %s\n", b_problem);
}

/* `minilink --db path init`, and the file given to the server's user. */
static int create_database(const char *path)
{
    char *argv[] = { (char *)env_or("MINILINK_CLI", "./minilink"), "--db",
                     (char *)path, "init", NULL };
    static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
    run_result r = run_captured(argv, NULL, CLI_TIMEOUT_MS);
    size_t i;
    int rc = 0;

    if (r.status != 0) {
        set_problem("%s --db %s init exited %d%s:\n%s", argv[0], path, r.status,
                    r.timed_out ? " (timed out)" : "", r.output);
        rc = -1;
    }
    free(r.output);
    for (i = 0; rc == 0 && i < sizeof suffixes / sizeof *suffixes; i++) {
        char *p = xasprintf("%s%s", path, suffixes[i]);
        if (access(p, F_OK) == 0 && httpd_chown(b_srv, p) != 0) {
            set_problem("cannot give %s to the server's user", p);
            rc = -1;
        }
        free(p);
    }
    return rc;
}

static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    append(&text, &len, &cap, "", 0);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        append(&text, &len, &cap, chunk, n);
    }
    fclose(f);
    return text;
}

#define SLOTMEM_LINE "LoadModule slotmem_shm_module \"%s/mod_slotmem_shm.so\"\n"
#define MINILINK_LOAD "LoadModule minilink_module "

/* The server's own part of the configuration. */
static const char *const browser_config =
    "<Location /l>\n"
    "    SetHandler minilink\n"
    "    MinilinkCreate On\n"
    "    MinilinkDatabase @DIR@/links.db\n"
    "</Location>\n";

/*
 * Writes the configuration with mod_slotmem_shm (MinilinkCreate's rate
 * limit) loaded just before mod_minilink: the harness's base configuration
 * has no place for it, so the line goes into the file it wrote.
 */
static int write_config(void)
{
    char *slotmem = xasprintf(SLOTMEM_LINE, env_or("APACHE2_MODULES",
                                                   "/usr/lib/apache2/modules"));
    char *text = NULL, *at, *patched = NULL;
    int rc = -1;

    if (httpd_write_config(b_srv, browser_config) != 0) {
        set_problem("cannot write %s", b_srv->conf);
    }
    else if ((text = read_whole(b_srv->conf)) == NULL) {
        set_problem("cannot read back %s", b_srv->conf);
    }
    else if ((at = strstr(text, MINILINK_LOAD)) != NULL) {
        patched = xasprintf("%.*s%s%s", (int)(at - text), text, slotmem, at);
        rc = write_file(b_srv->conf, patched, strlen(patched));
    }
    else {
        /* No LoadModule line for minilink to put it before: at least
         * before MinilinkCreate, which is what needs it. */
        char *extra = xasprintf("%s%s", slotmem, browser_config);
        rc = httpd_write_config(b_srv, extra);
        free(extra);
    }
    if (rc != 0 && b_problem[0] == '\0') {
        set_problem("cannot write %s", b_srv->conf);
    }
    free(slotmem);
    free(text);
    free(patched);
    return rc;
}

static int browser_init(void)
{
    char *db;
    int rc;

    b_failures_at_init = CU_get_number_of_failures();
    b_problem[0] = '\0';
    b_srv = httpd_new("event");
    if (b_srv == NULL) {
        set_problem("cannot prepare an httpd (see above)");
        return 0;
    }
    db = httpd_path(b_srv, "links.db");
    rc = create_database(db);
    free(db);
    if (rc == 0) {
        rc = write_config();
    }
    if (rc == 0 && httpd_start(b_srv) != 0) {
        set_problem("cannot start httpd (its logs are above)");
        rc = -1;
    }
    if (rc != 0) {
        httpd_free(b_srv);
        b_srv = NULL;
    }
    return 0;
}

static int browser_cleanup(void)
{
    if (b_srv && CU_get_number_of_failures() != b_failures_at_init) {
        fprintf(stderr, "\nsuite browser had failures; error log of its server:\n");
        httpd_error_log_dump(b_srv);
    }
    httpd_free(b_srv);   /* stops the server */
    b_srv = NULL;
    free(b_slug);
    b_slug = NULL;
    return 0;
}

/* ------------------------------------------------------------------ */
/* tests                                                              */
/* ------------------------------------------------------------------ */

static int server_running(int line)
{
    return check_at(line, b_srv != NULL, "no server for the browser: %s", b_problem);
}

static int is_png(const char *path, off_t *size)
{
    static const unsigned char magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    unsigned char head[8];
    struct stat st;
    FILE *f = fopen(path, "rb");
    int ok;

    *size = 0;
    if (f == NULL) {
        return 0;
    }
    ok = fread(head, 1, sizeof head, f) == sizeof head
         && memcmp(head, magic, sizeof magic) == 0 && fstat(fileno(f), &st) == 0;
    *size = ok ? st.st_size : 0;
    fclose(f);
    return ok;
}

/* The value after "\nslug: " in the script's output, malloc'd, or NULL. */
static char *slug_from(const char *output)
{
    const char *p = strncmp(output, "slug: ", 6) == 0 ? output : strstr(output, "\nslug: ");
    size_t n;

    if (p == NULL) {
        return NULL;
    }
    p += *p == '\n' ? 7 : 6;
    n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    return n ? xasprintf("%.*s", (int)n, p) : NULL;
}

static void test_form_in_chromium(void)
{
    const char *dir = env_or("MINILINK_BROWSER_DIR", "tests/browser");
    const char *shots_env = getenv("MINILINK_SCREENSHOT_DIR");
    char *script = xasprintf("%s/shorten.mjs", dir);
    char *playwright = xasprintf("%s/node_modules/playwright-core/package.json", dir);
    char *shots = shots_env && *shots_env ? xasprintf("%s", shots_env)
                                          : xasprintf("%s/screenshots", dir);
    char *shot = xasprintf("%s/form-result.png", shots);
    char *shot_error = xasprintf("%s/form-result-error.png", shots);
    char tmp[] = "/tmp/minilink-browser-XXXXXX";
    char *base = NULL;
    run_result r = { -1, 0, 0, NULL };
    off_t size = 0;
    int leftovers;

    if (!server_running(__LINE__)
        || !CHECK(access(script, R_OK) == 0, "no browser script %s", script)
        || !CHECK(access(playwright, R_OK) == 0, "no %s: run npm ci --prefix %s",
                  playwright, dir)
        || !CHECK(mkdir(shots, 0755) == 0 || errno == EEXIST, "cannot make %s: %s",
                  shots, strerror(errno))
        || !CHECK(mkdtemp(tmp) != NULL, "mkdtemp: %s", strerror(errno))) {
        goto out;
    }
    unlink(shot);
    unlink(shot_error);
    base = xasprintf("http://127.0.0.1:%d/l/", b_srv->port);
    {
        char *argv[] = { (char *)env_or("MINILINK_NODE", "node"), script, base,
                         shot, NULL };
        r = run_captured(argv, tmp, BROWSER_TIMEOUT_MS);
    }
    leftovers = kill_processes_naming(tmp);
    remove_tree(tmp);
    fprintf(stderr, "\n    [browser: node %s %s took %ld ms]\n", script, base,
            r.elapsed_ms);
    if (r.status == 0) {
        print_indented(stderr, r.output);   /* a line per step */
    }
    CHECK(!r.timed_out, "the browser script did not finish in %ld s", BROWSER_TIMEOUT_MS / 1000);
    CHECK(r.status == 0, "the browser script exited %d:\n%s", r.status, r.output);
    CHECK(leftovers == 0, "%d browser process(es) outlived the script", leftovers);
    if (r.status == 0) {
        CHECK(is_png(shot, &size) && size > 2000, "%s: not a PNG screenshot (%ld bytes)",
              shot, (long)size);
        CHECK(is_png(shot_error, &size) && size > 2000,
              "%s: not a PNG screenshot (%ld bytes)", shot_error, (long)size);
        b_slug = slug_from(r.output);
        CHECK(b_slug != NULL, "no \"slug: \" line in the script's output");
    }
out:
    free(r.output);
    free(base);
    free(script);
    free(playwright);
    free(shots);
    free(shot);
    free(shot_error);
}

/* What the browser made, seen over plain HTTP; and nothing went wrong. */
static void test_server_side(void)
{
    static const char *const bad[] = {
        "[core:error]", "AH00051", "AH00052", "Segmentation fault"
    };
    http_response r;
    char *path;
    size_t i;

    if (!server_running(__LINE__)) {
        return;
    }
    if (CHECK(b_slug != NULL, "the browser created no link (see the test before)")) {
        path = xasprintf("/l/%s", b_slug);
        http_request(b_srv->port, "GET", NULL, path, &r);
        CHECK(r.status == 302 && r.location && strcmp(r.location, TARGET_URL) == 0,
              "GET %s: status %ld, Location \"%s\"; expected 302 \"%s\" (%s)", path,
              r.status, str_or_null(r.location), TARGET_URL,
              r.curl_code ? r.error : "no transport error");
        http_response_free(&r);
        free(path);
    }
    http_request(b_srv->port, "GET", NULL, "/l/loop", &r);
    CHECK(r.status == 404, "GET /l/loop: status %ld, expected 404 (never created)",
          r.status);
    http_response_free(&r);
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        int n = httpd_error_log_count(b_srv, bad[i]);
        CHECK(n == 0, "%d error-log lines contain \"%s\"", n, bad[i]);
    }
}

void add_browser_suites(void)
{
    CU_pSuite suite = CU_add_suite("browser", browser_init, browser_cleanup);

    if (suite == NULL
        || CU_add_test(suite, "form in chromium: shorten, follow, refuse a loop",
                       test_form_in_chromium) == NULL
        || CU_add_test(suite, "the link works over HTTP; error log clean",
                       test_server_side) == NULL) {
        fprintf(stderr, "CUnit: cannot add the browser suite: %s\n", CU_get_error_msg());
    }
}
