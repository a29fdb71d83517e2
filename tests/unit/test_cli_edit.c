/*
 * test_cli_edit.c - the minilink command's set, export, import and help,
 * run as the real program ($MINILINK_CLI) on databases in a scratch
 * directory under /tmp, removed when the suite ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "unit_helpers.h"

void add_cli_edit_suite(void);

#define MAX_ARGS 16

/* What the last run of the command left: freed by the next run. */
typedef struct {
    int status;     /* exit status; -1 if it did not exit normally */
    char *out;      /* standard output, NUL-terminated */
    char *err;      /* standard error, NUL-terminated */
} cli_result;

static ut_scratch scratch;      /* the suite's directory under /tmp */
static const char *db_path;    /* the database the command is run on */
static cli_result last;

static const char header[] =
    "slug,url,status,expires_at,disabled,title,tags,valid_since,max_visits,"
    "fallback_url,password_hash,forward_query,forward_path,crawlable,"
    "redirect_rules\r\n";
/* What export writes after "disabled" for a link without rules. */
#define NO_RULES ",,,,,,,,,0,"

/* ---- Running the command ---------------------------------------------- */

/* A growing NUL-terminated buffer that a pipe is read into. */
typedef struct {
    char *data;
    size_t len;
} buffer;

/* Reads what fd has; returns 0 at its end (or on an error). */
static int drain(int fd, buffer *into)
{
    char chunk[4096];
    ssize_t got = read(fd, chunk, sizeof(chunk));

    if (got < 0 && errno == EINTR) {
        return 1;
    }
    if (got <= 0) {
        return 0;
    }
    into->data = realloc(into->data, into->len + (size_t)got + 1);
    memcpy(into->data + into->len, chunk, (size_t)got);
    into->len += (size_t)got;
    into->data[into->len] = '\0';
    return 1;
}

/* Reads both pipes to their ends together, so that neither can fill up
 * and block the child while we wait on the other. */
static void read_both(int out_fd, int err_fd, buffer *out, buffer *err)
{
    struct pollfd fds[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
    buffer *into[2] = { out, err };
    int open_fds = 2, i;

    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && fds[i].revents && !drain(fds[i].fd, into[i])) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
}

/* The file the child reads as standard input: input, or nothing.  A file,
 * not a pipe, so that writing it cannot block on a child that is not
 * reading. */
static int open_stdin(const char *input)
{
    const char *path = ut_path(&scratch, "stdin.txt");

    if (input == NULL) {
        return open("/dev/null", O_RDONLY);
    }
    if (!ut_write_file(path, input, strlen(input))) {
        return -1;
    }
    return open(path, O_RDONLY);
}

/* Starts argv with in_fd as stdin; returns the child's pid, or -1. */
static pid_t start(char **argv, int in_fd, int out_pipe[2], int err_pipe[2])
{
    pid_t pid = fork();

    if (pid == 0) {
        dup2(in_fd, STDIN_FILENO);
        dup2(out_pipe[1], STDOUT_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        close(out_pipe[0]), close(err_pipe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/*
 * Runs "$MINILINK_CLI --db <db_path> args..." with input (or nothing) on
 * its standard input, and returns its exit status; its output is in last.
 */
static int run_argv(const char *input, const char *const *args)
{
    char *argv[MAX_ARGS + 4] = { getenv("MINILINK_CLI"), "--db",
                                 (char *)db_path };
    int out_pipe[2], err_pipe[2], in_fd, wait_status, argc = 3;
    buffer out = { calloc(1, 1), 0 }, err = { calloc(1, 1), 0 };
    pid_t pid;

    while (*args && argc < MAX_ARGS + 3) {
        argv[argc++] = (char *)*args++;
    }
    free(last.out), free(last.err);
    last.status = -1;
    in_fd = open_stdin(input);
    if (in_fd < 0 || pipe(out_pipe) != 0 || pipe(err_pipe) != 0
        || (pid = start(argv, in_fd, out_pipe, err_pipe)) < 0) {
        last.out = out.data, last.err = err.data;
        return -1;
    }
    close(in_fd), close(out_pipe[1]), close(err_pipe[1]);
    read_both(out_pipe[0], err_pipe[0], &out, &err);
    last.out = out.data, last.err = err.data;
    if (waitpid(pid, &wait_status, 0) == pid && WIFEXITED(wait_status)) {
        last.status = WEXITSTATUS(wait_status);
    }
    return last.status;
}

/* run_argv() with the arguments listed, NULL last. */
static int cli_in(const char *input, ...)
{
    const char *args[MAX_ARGS + 1];
    va_list list;
    int n = 0;

    va_start(list, input);
    while (n < MAX_ARGS && (args[n] = va_arg(list, const char *)) != NULL) {
        n++;
    }
    va_end(list);
    args[n] = NULL;
    return run_argv(input, args);
}

#define cli(...) cli_in(NULL, __VA_ARGS__, NULL)

/* Whether the last run's output (or error output) holds text. */
#define OUT_HAS(text) CU_ASSERT_PTR_NOT_NULL(strstr(last.out, text))
#define ERR_HAS(text) CU_ASSERT_PTR_NOT_NULL(strstr(last.err, text))
/* An error message is one line or more, each from "minilink: ". */
#define ERR_IS_MESSAGE() CU_ASSERT_EQUAL(strncmp(last.err, "minilink: ", 10), 0)

/* Whether "show SLUG" prints the line. */
#define SHOWS(slug, line) do {                           \
        CU_ASSERT_EQUAL(cli("show", slug), 0);           \
        OUT_HAS(line);                                   \
    } while (0)

/* ---- Fixtures --------------------------------------------------------- */

/* Makes db_path a new, empty database called name. */
static void use_db(const char *name)
{
    /* Set by the Makefile's unit targets; a test cannot run without it. */
    CU_ASSERT_PTR_NOT_NULL_FATAL(getenv("MINILINK_CLI"));
    db_path = ut_path(&scratch, apr_pstrcat(scratch.pool, name, ".db", NULL));
    CU_ASSERT_EQUAL_FATAL(cli("init"), 0);
}

/* Writes text to a file called name in the scratch directory; its path. */
static const char *write_file(const char *name, const char *text)
{
    const char *path = ut_path(&scratch, name);

    CU_ASSERT_FATAL(ut_write_file(path, text, strlen(text)));
    return path;
}

/* A database with three links, one with every field set. */
static void use_sample_db(const char *name)
{
    use_db(name);
    CU_ASSERT_EQUAL(cli("add", "https://example.com/a", "a"), 0);
    CU_ASSERT_EQUAL(cli("add", "https://example.com/search?tags=x,y", "b"), 0);
    CU_ASSERT_EQUAL(cli("set", "b", "--status", "301", "--expires",
                        "2000000000", "--disable"), 0);
    CU_ASSERT_EQUAL(cli("add", "https://example.com/c", "c-2_x"), 0);
}

static const char sample_export[] =
    "slug,url,status,expires_at,disabled,title,tags,valid_since,max_visits,"
    "fallback_url,password_hash,forward_query,forward_path,crawlable,"
    "redirect_rules\r\n"
    "a,https://example.com/a,,,0" NO_RULES "\r\n"
    "b,\"https://example.com/search?tags=x,y\",301,2000000000,1" NO_RULES "\r\n"
    "c-2_x,https://example.com/c,,,0" NO_RULES "\r\n";

static int suite_init(void)
{
    return ut_scratch_open(&scratch) ? 0 : -1;
}

static int suite_cleanup(void)
{
    free(last.out), free(last.err);
    last.out = last.err = NULL;
    ut_scratch_close(&scratch);
    return 0;
}

/* ---- set -------------------------------------------------------------- */

static void test_set_each_field(void)
{
    use_db("set_each");
    CU_ASSERT_EQUAL(cli("add", "https://example.com/old", "page"), 0);

    CU_ASSERT_EQUAL(cli("set", "page", "--url", "https://example.com/new"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "");
    SHOWS("page", "url: https://example.com/new\n");
    CU_ASSERT_EQUAL(cli("set", "page", "--status", "308"), 0);
    SHOWS("page", "status: 308\n");
    CU_ASSERT_EQUAL(cli("set", "page", "--expires", "2030-01-02"), 0);
    SHOWS("page", "expires: 2030-01-02T00:00:00Z\n");
    CU_ASSERT_EQUAL(cli("set", "page", "--expires", "2031-05-06T07:08:09Z"), 0);
    SHOWS("page", "expires: 2031-05-06T07:08:09Z\n");
    CU_ASSERT_EQUAL(cli("set", "page", "--expires", "1924991999"), 0);
    SHOWS("page", "expires: 2030-12-31T23:59:59Z\n");
    CU_ASSERT_EQUAL(cli("set", "page", "--disable"), 0);
    SHOWS("page", "disabled: yes\n");
    CU_ASSERT_EQUAL(cli("set", "page", "--enable"), 0);
    SHOWS("page", "disabled: no\n");
    /* Each change kept the others. */
    OUT_HAS("url: https://example.com/new\n");
    OUT_HAS("status: 308\n");
    OUT_HAS("expires: 2030-12-31T23:59:59Z\n");
}

static void test_set_several_then_reset(void)
{
    use_db("set_reset");
    CU_ASSERT_EQUAL(cli("add", "https://example.com/", "page"), 0);
    CU_ASSERT_EQUAL(cli("set", "page", "--status", "301", "--expires",
                        "2030-01-01", "--disable"), 0);
    SHOWS("page", "status: 301\n");
    OUT_HAS("expires: 2030-01-01T00:00:00Z\n");
    OUT_HAS("disabled: yes\n");

    /* An offset from UTC, as ISO 8601 (and Shlink's API) write it. */
    CU_ASSERT_EQUAL(cli("set", "page", "--expires", "2030-01-01T02:00:00+02:00"), 0);
    SHOWS("page", "expires: 2030-01-01T00:00:00Z\n");
    CU_ASSERT_EQUAL(cli("set", "page", "--expires", "2029-12-31T18:30:00-05:30"), 0);
    SHOWS("page", "expires: 2030-01-01T00:00:00Z\n");

    CU_ASSERT_EQUAL(cli("set", "page", "--status", "default", "--expires",
                        "never"), 0);
    SHOWS("page", "status: default\n");
    OUT_HAS("expires: never\n");
    OUT_HAS("disabled: yes\n");
}

static void test_set_bad_status(void)
{
    static const char *const bad[] = { "299", "abc", "0", "3010", "" };
    size_t i;

    use_db("set_status");
    CU_ASSERT_EQUAL(cli("add", "https://example.com/", "page"), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(cli("set", "page", "--status", bad[i]), 2);
        ERR_IS_MESSAGE();
        ERR_HAS("status");
    }
    SHOWS("page", "status: default\n");
}

static void test_set_bad_time(void)
{
    static const char *const bad[] = {
        "tomorrow", "2030-02-30", "2030-01-01T00:00:00", "2030-01-01 00:00:00",
        "2030-1-1", "0", "-5", "+5", "1970-01-01", "10000-01-01", "",
        "2030-01-01T00:00:00+24:00", "2030-01-01T00:00:00+02:60",
        "2030-01-01T00:00:00+0200", "2030-01-01T00:00:00 02:00",
        "2030-01-01+02:00", "1970-01-01T00:00:00+00:01"
    };
    size_t i;

    use_db("set_time");
    CU_ASSERT_EQUAL(cli("add", "https://example.com/", "page"), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(cli("set", "page", "--expires", bad[i]), 2);
        ERR_IS_MESSAGE();
        ERR_HAS("expiry time");
    }
    SHOWS("page", "expires: never\n");
}

static void test_set_bad_url(void)
{
    use_db("set_url");
    CU_ASSERT_EQUAL(cli("add", "https://example.com/", "page"), 0);
    CU_ASSERT_EQUAL(cli("set", "page", "--url", "javascript:alert(1)"), 2);
    ERR_HAS("http://");
    SHOWS("page", "url: https://example.com/\n");
}

static void test_set_missing_slug(void)
{
    use_db("set_missing");
    CU_ASSERT_EQUAL(cli("set", "nope", "--disable"), 3);
    ERR_IS_MESSAGE();
    ERR_HAS("'nope'");
}

static void test_set_usage(void)
{
    use_db("set_usage");
    CU_ASSERT_EQUAL(cli("add", "https://example.com/", "page"), 0);
    CU_ASSERT_EQUAL(cli("set", "page"), 1);
    ERR_HAS("at least one");
    CU_ASSERT_EQUAL(cli("set", "page", "--disable", "--enable"), 1);
    CU_ASSERT_EQUAL(cli("set", "page", "--url"), 1);
    ERR_HAS("--url needs a value");
    CU_ASSERT_EQUAL(cli("set", "page", "--colour", "red"), 1);
    ERR_HAS("--colour");
    CU_ASSERT_EQUAL(cli("set", "page", "other", "--disable"), 1);
    ERR_HAS("one slug");
    CU_ASSERT_EQUAL(cli("set"), 1);
    ERR_IS_MESSAGE();
    SHOWS("page", "disabled: no\n");
    /* Options may come before the slug too. */
    CU_ASSERT_EQUAL(cli("set", "--disable", "page"), 0);
    SHOWS("page", "disabled: yes\n");
}

/* ---- export and import ------------------------------------------------ */

static void test_export_exact(void)
{
    use_db("export_empty");
    CU_ASSERT_EQUAL(cli("export"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, header);

    use_sample_db("export");
    CU_ASSERT_EQUAL(cli("export"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, sample_export);
    CU_ASSERT_STRING_EQUAL(last.err, "");
}

static void test_import_round_trip(void)
{
    const char *path;

    use_sample_db("round_trip_from");
    CU_ASSERT_EQUAL(cli("export"), 0);
    path = write_file("round_trip.csv", last.out);

    use_db("round_trip_to");
    CU_ASSERT_EQUAL(cli("import", path), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "imported 3 links\n");
    CU_ASSERT_EQUAL(cli("export"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, sample_export);
}

/*
 * Rows put in with sqlite3 whose fields a spreadsheet would run as
 * formulas: "-h" (made before new slugs had to start otherwise) and URLs
 * that break the rules, which export writes as they are (with a warning).
 */
static void use_formula_db(const char *name)
{
    static const char *const rows[] = {
        "'-h', 'https://example.com/h', 301",
        "'-', 'https://example.com/dash', NULL",
        "'at', '@SUM(1+1)', NULL",
        "'eq', '=HYPERLINK(\"http://x\",\"y\")', NULL",
        "'plus', '+cmd|'' /c calc''!A0', NULL",
        "'tab', char(9) || '=1', NULL",
        "'cr', char(13) || '=1', NULL",
        "'quote', '''x', NULL",
    };
    size_t i;

    use_db(name);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *sql = apr_psprintf(scratch.pool, "INSERT INTO links (slug, url, "
                                 "status, created_at, updated_at) VALUES (%s, "
                                 "1700000000, 1700000000)", rows[i]);
        CU_ASSERT_EQUAL(ut_sql(db_path, sql, NULL), SQLITE_OK);
    }
}

/* True if no field of the CSV text starts with what makes a spreadsheet
 * evaluate it: = + - @, a tab or a CR (its first character, or the first
 * inside its opening quote). */
static int no_field_is_a_formula(const char *csv)
{
    int at_field_start = 1, in_quotes = 0;
    const char *p;

    for (p = csv; *p; p++) {
        if (at_field_start) {
            at_field_start = 0;
            if (*p == '"') {
                in_quotes = 1;
                at_field_start = 1;       /* its first character is next */
                continue;
            }
            /* An empty last field: its record's CRLF comes next. */
            if (*p == '\r' && p[1] == '\n') {
                continue;
            }
            if (strchr("=+-@\t\r", *p)) {
                return 0;
            }
        }
        if (in_quotes && *p == '"') {
            if (p[1] == '"') {
                p++;
            }
            else {
                in_quotes = 0;
            }
        }
        else if (!in_quotes && (*p == ',' || *p == '\n')) {
            at_field_start = 1;
        }
    }
    return 1;
}

static void test_export_formulas_are_text(void)
{
    use_formula_db("formulas");
    CU_ASSERT_EQUAL(cli("export"), 0);
    CU_ASSERT_TRUE(no_field_is_a_formula(last.out));
    OUT_HAS("\r\n'-h,https://example.com/h,301,,0" NO_RULES "\r\n");
    OUT_HAS("\r\n'-,https://example.com/dash,,,0" NO_RULES "\r\n");
    OUT_HAS("\r\nat,'@SUM(1+1),,,0" NO_RULES "\r\n");
    OUT_HAS("\r\neq,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",,,0" NO_RULES "\r\n");
    OUT_HAS("\r\nplus,'+cmd|' /c calc'!A0,,,0" NO_RULES "\r\n");
    OUT_HAS("\r\ntab,'\t=1,,,0" NO_RULES "\r\n");
    OUT_HAS("\r\ncr,\"'\r=1\",,,0" NO_RULES "\r\n");
    OUT_HAS("\r\nquote,''x,,,0" NO_RULES "\r\n");
}

/* What export makes safe, import reads back exactly: the links a new
 * database gets are the same, "-h" and "-" included (copied, not new). */
static void test_import_round_trip_of_marked_slugs(void)
{
    const char *path;
    char *exported;

    use_db("marked_from");
    CU_ASSERT_EQUAL(ut_sql(db_path, "INSERT INTO links (slug, url, status, "
                           "created_at, updated_at) VALUES ('-h', "
                           "'https://example.com/h', 301, 1, 1), ('-', "
                           "'https://example.com/dash', NULL, 1, 1)", NULL),
                    SQLITE_OK);
    CU_ASSERT_EQUAL(cli("add", "https://example.com/plain", "plain"), 0);
    CU_ASSERT_EQUAL(cli("export"), 0);
    exported = apr_pstrdup(scratch.pool, last.out);
    CU_ASSERT_TRUE(no_field_is_a_formula(exported));
    path = write_file("marked.csv", exported);

    use_db("marked_to");
    CU_ASSERT_EQUAL(cli("import", path), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "imported 3 links\n");
    CU_ASSERT_EQUAL(cli("export"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, exported);
    CU_ASSERT_EQUAL(cli("show", "--", "-h"), 0);
    OUT_HAS("status: 301\n");
}

/* What spreadsheets save: a UTF-8 byte order mark before the header. */
static void test_import_after_a_byte_order_mark(void)
{
    use_db("bom");
    CU_ASSERT_EQUAL(cli_in("\xEF\xBB\xBFslug,url,status,expires_at,disabled\r\n"
                           "x,https://example.com/x,,,0\r\n",
                           "import", "-", NULL), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "imported 1 links\n");
    CU_ASSERT_EQUAL(cli("list"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "x\thttps://example.com/x\n");
}

static void test_import_from_stdin(void)
{
    use_db("stdin");
    CU_ASSERT_EQUAL(cli_in("slug,url,status,expires_at,disabled\n"
                           "x,https://example.com/x,302,,0\n"
                           "y,https://example.com/y,,2030-01-01,1\n",
                           "import", "-", NULL), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "imported 2 links\n");
    CU_ASSERT_EQUAL(cli("list"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "x\thttps://example.com/x\n"
                                     "y\thttps://example.com/y\n");
    SHOWS("y", "expires: 2030-01-01T00:00:00Z\n");
    OUT_HAS("disabled: yes\n");
}

/*
 * Imports csv from a file into a new database, expecting exit status
 * `status` and a message with `where` (FILE:LINE:) and `reason` in it;
 * then nothing may have been imported.
 */
static void import_fails(const char *csv, int status, const char *where,
                         const char *reason)
{
    static int count;
    char name[32];

    snprintf(name, sizeof(name), "refused%d", ++count);
    use_db(name);
    CU_ASSERT_EQUAL(cli("import", write_file("bad.csv", csv)), status);
    ERR_IS_MESSAGE();
    ERR_HAS(where);
    ERR_HAS(reason);
    CU_ASSERT_STRING_EQUAL(last.out, "");
    CU_ASSERT_EQUAL(cli("list"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "");
}

static void test_import_bad_url_on_line_3(void)
{
    import_fails("slug,url,status,expires_at,disabled\n"
                 "good,https://example.com/,,,0\n"
                 "bad,ftp://example.com/,,,0\n"
                 "later,https://example.com/later,,,0\n", 2, "bad.csv:3:",
                 "http://");
}

static void test_import_line_numbers(void)
{
    /* Blank lines count, CRLF counts once, and a record is named by the
     * line it starts on even when a quoted field spans several. */
    import_fails("slug,url,status,expires_at,disabled\r\n"
                 "\r\n"
                 "good,https://example.com/,,,0\r\n"
                 "\r\n"
                 "bad,\"https://example.com/\nsecond line\",,,0\r\n",
                 2, "bad.csv:5:", "URL");
}

static void test_import_slug_with_a_dash_first(void)
{
    import_fails("slug,url,status,expires_at,disabled\n"
                 "fine,https://example.com/,,,0\n"
                 "-x,https://example.com/x,,,0\n", 2, "bad.csv:3:",
                 "must not start with '-'");
}

static void test_import_duplicate_in_file(void)
{
    import_fails("slug,url,status,expires_at,disabled\n"
                 "twice,https://example.com/1,,,0\n"
                 "other,https://example.com/2,,,0\n"
                 "twice,https://example.com/3,,,0\n", 4, "bad.csv:4:",
                 "'twice'");
}

/*
 * Links go to the store 512 at a time: a row refused in a later group is
 * still named by its line, a slug taken in an earlier group is still
 * refused, and nothing of the earlier groups is kept.
 */
static void test_import_across_groups(void)
{
    char *csv = malloc(1300 * 64 + 64), *at = csv;
    int i;

    at += sprintf(at, "slug,url,status,expires_at,disabled\n");
    for (i = 1; i <= 1300; i++) {
        /* line i + 1: the row of slug i */
        at += sprintf(at, "s%d,https://example.com/%d,,,0\n",
                      i == 1200 ? 5 : i, i);
    }
    import_fails(csv, 4, "bad.csv:1201:", "'s5'");
    at = csv + sprintf(csv, "slug,url,status,expires_at,disabled\n");
    for (i = 1; i <= 1300; i++) {
        at += sprintf(at, "s%d,%s://example.com/%d,,,0\n", i,
                      i == 1000 ? "gopher" : "https", i);
    }
    import_fails(csv, 2, "bad.csv:1001:", "http");
    free(csv);
}

static void test_import_duplicate_in_database(void)
{
    const char *path;

    use_db("taken");
    CU_ASSERT_EQUAL(cli("add", "https://example.com/old", "old"), 0);
    path = write_file("taken.csv", "slug,url,status,expires_at,disabled\n"
                                   "new,https://example.com/new,,,0\n"
                                   "old,https://example.com/other,,,0\n");
    CU_ASSERT_EQUAL(cli("import", path), 4);
    ERR_HAS("taken.csv:3:");
    CU_ASSERT_EQUAL(cli("list"), 0);
    CU_ASSERT_STRING_EQUAL(last.out, "old\thttps://example.com/old\n");
}

static void test_import_malformed_csv(void)
{
    import_fails("slug,url,status,expires_at,disabled\n"
                 "a,https://example.com/a,,,0\n"
                 "b,\"https://example.com/b,,,0\n"
                 "c,https://example.com/c,,,0\n", 2, "bad.csv:3:",
                 "quote");
    import_fails("slug,url,status,expires_at,disabled\n"
                 "a,https://example.com/a\"b,,,0\n", 2, "bad.csv:2:",
                 "quote");
}

static void test_import_bad_rows(void)
{
    import_fails("", 2, "bad.csv:1:", "header");
    import_fails("slug,url\na,https://example.com/\n", 2, "bad.csv:1:",
                 "header");
    import_fails("slug,url,status,expires_at,disabled\n"
                 "a,https://example.com/,,,0,extra\n", 2, "bad.csv:2:",
                 "6 fields");
    import_fails("slug,url,status,expires_at,disabled\n"
                 "a,https://example.com/,300,,0\n", 2, "bad.csv:2:",
                 "status");
    import_fails("slug,url,status,expires_at,disabled\n"
                 "a,https://example.com/,,soon,0\n", 2, "bad.csv:2:",
                 "expiry time");
    import_fails("slug,url,status,expires_at,disabled\n"
                 "a,https://example.com/,,,yes\n", 2, "bad.csv:2:",
                 "disabled");
    import_fails("slug,url,status,expires_at,disabled\n"
                 "not a slug,https://example.com/,,,0\n", 2, "bad.csv:2:",
                 "slug");
}

static void test_import_missing_file(void)
{
    use_db("no_file");
    CU_ASSERT_EQUAL(cli("import", "/nonexistent/links.csv"), 2);
    ERR_HAS("/nonexistent/links.csv");
    CU_ASSERT_EQUAL(cli("import"), 1);
}

/* ---- help ------------------------------------------------------------- */

static const char *const command_names[] = {
    "init", "add", "set", "rm", "list", "show", "export", "import", "upgrade",
    "help"
};

static void test_general_help(void)
{
    static const char *const asks[] = { "help", "--help" };
    size_t i, j;

    use_db("help");
    for (i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(cli(asks[i]), 0);
        OUT_HAS("usage: minilink");
        OUT_HAS("exit status");
        for (j = 0; j < sizeof(command_names) / sizeof(command_names[0]); j++) {
            OUT_HAS(command_names[j]);
        }
    }
    CU_ASSERT_EQUAL(cli("help", "nosuch"), 1);
    ERR_HAS("nosuch");
}

static void test_command_help(void)
{
    size_t i;

    use_db("command_help");
    for (i = 0; i < sizeof(command_names) / sizeof(command_names[0]); i++) {
        char *help_text, usage[64];

        snprintf(usage, sizeof(usage), "usage: minilink [--db DATABASE] %s",
                 command_names[i]);
        CU_ASSERT_EQUAL(cli("help", command_names[i]), 0);
        OUT_HAS(usage);
        help_text = strdup(last.out);
        CU_ASSERT_EQUAL(cli(command_names[i], "--help"), 0);
        CU_ASSERT_STRING_EQUAL(last.out, help_text);
        free(help_text);
    }
    CU_ASSERT_EQUAL(cli("help", "set"), 0);
    OUT_HAS("--expires TIME|never");
    OUT_HAS("example");
}

/* ---- apikey ----------------------------------------------------------- */

static void test_apikey_add_list_rm(void)
{
    char key[80];

    use_db("apikeys");
    CU_ASSERT_EQUAL(cli("apikey", "add", "sharex", "--role", "author"), 0);
    /* The key, once, on a line of its own: 64 hex digits. */
    CU_ASSERT_EQUAL(strlen(last.out), 65);
    CU_ASSERT_EQUAL(strspn(last.out, "0123456789abcdef"), 64);
    snprintf(key, sizeof(key), "%s", last.out);
    CU_ASSERT_EQUAL(cli("apikey", "add", "board", "--role", "read-only",
                        "--expires", "2030-01-01"), 0);
    CU_ASSERT_STRING_NOT_EQUAL(last.out, key);
    CU_ASSERT_EQUAL(cli("apikey", "add", "root"), 0);
    CU_ASSERT_EQUAL(cli("apikey", "list"), 0);
    OUT_HAS("board\tread-only\t2030-01-01T00:00:00Z\t");
    OUT_HAS("root\tadmin\tnever\t");
    OUT_HAS("sharex\tauthor\tnever\t");
    CU_ASSERT_PTR_NULL(strstr(last.out, key));
    CU_ASSERT_EQUAL(cli("apikey", "rm", "board"), 0);
    CU_ASSERT_EQUAL(cli("apikey", "list"), 0);
    CU_ASSERT_PTR_NULL(strstr(last.out, "board"));
    CU_ASSERT_EQUAL(cli("apikey", "rm", "board"), 3);
    ERR_HAS("no API key is named 'board'");
}

static void test_apikey_refusals(void)
{
    use_db("apikeys_bad");
    CU_ASSERT_EQUAL(cli("apikey", "add", "x", "--role", "root"), 2);
    ERR_IS_MESSAGE();
    CU_ASSERT_STRING_EQUAL(last.out, "");
    CU_ASSERT_EQUAL(cli("apikey", "add", "x", "--expires", "soon"), 2);
    CU_ASSERT_EQUAL(cli("apikey", "add", "a b"), 2);
    CU_ASSERT_EQUAL(cli("apikey", "add", "x"), 0);
    CU_ASSERT_EQUAL(cli("apikey", "add", "x"), 4);
    ERR_HAS("exists already");
    CU_ASSERT_EQUAL(cli("apikey"), 1);
    CU_ASSERT_EQUAL(cli("apikey", "list", "--role", "admin"), 1);
    CU_ASSERT_EQUAL(cli("apikey", "rm"), 1);
}

void add_cli_edit_suite(void)
{
    CU_pSuite suite = CU_add_suite("cli_edit", suite_init, suite_cleanup);

    CU_add_test(suite, "set changes each field", test_set_each_field);
    CU_add_test(suite, "apikey add prints the key once; list; rm",
                test_apikey_add_list_rm);
    CU_add_test(suite, "apikey refuses a bad role, time, name; a name twice",
                test_apikey_refusals);
    CU_add_test(suite, "set several, then default and never",
                test_set_several_then_reset);
    CU_add_test(suite, "set refuses a bad status", test_set_bad_status);
    CU_add_test(suite, "set refuses a bad time", test_set_bad_time);
    CU_add_test(suite, "set refuses a bad URL", test_set_bad_url);
    CU_add_test(suite, "set on a missing slug", test_set_missing_slug);
    CU_add_test(suite, "set usage errors", test_set_usage);
    CU_add_test(suite, "export is exact CSV", test_export_exact);
    CU_add_test(suite, "export, import, export round-trips",
                test_import_round_trip);
    CU_add_test(suite, "import from stdin", test_import_from_stdin);
    CU_add_test(suite, "export writes formula-like fields as text",
                test_export_formulas_are_text);
    CU_add_test(suite, "import undoes it: \"-h\" round-trips",
                test_import_round_trip_of_marked_slugs);
    CU_add_test(suite, "import skips a UTF-8 byte order mark",
                test_import_after_a_byte_order_mark);
    CU_add_test(suite, "import stops at a bad URL on line 3",
                test_import_bad_url_on_line_3);
    CU_add_test(suite, "import names the line a record starts on",
                test_import_line_numbers);
    CU_add_test(suite, "import refuses a new slug with a '-' first",
                test_import_slug_with_a_dash_first);
    CU_add_test(suite, "import refuses a slug twice in the file",
                test_import_duplicate_in_file);
    CU_add_test(suite, "import refuses a slug in the database",
                test_import_duplicate_in_database);
    CU_add_test(suite, "import of 1300 rows: refused in a later group, by line",
                test_import_across_groups);
    CU_add_test(suite, "import refuses malformed CSV",
                test_import_malformed_csv);
    CU_add_test(suite, "import refuses bad headers and rows",
                test_import_bad_rows);
    CU_add_test(suite, "import of a missing file", test_import_missing_file);
    CU_add_test(suite, "help lists every command", test_general_help);
    CU_add_test(suite, "help for each command", test_command_help);
}
