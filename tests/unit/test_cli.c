/*
 * test_cli.c - the minilink command, run as a program.
 *
 * The binary is $MINILINK_CLI (the Makefile sets it).  Each run captures
 * stdout, stderr and the exit status; MINILINK_DB is set or unset in the
 * child only.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_store.h"
#include "unit_helpers.h"
#include "unit_suites.h"

#define CLI_TIMEOUT_SECONDS 30

typedef struct {
    int status;        /* exit status; 128 + signal if killed */
    const char *out;
    const char *err;
} cli_result;

/* Set by a test that needs the CLI to run as someone other than root
 * (permissions bind root to nothing): the user "nobody", when we are root. */
static int run_as_nobody;

static const char *cli_path(void)
{
    const char *path = getenv("MINILINK_CLI");

    return path && *path ? path : NULL;
}

static const char *read_all(const char *path, apr_pool_t *pool)
{
    apr_file_t *file;
    apr_finfo_t info;
    char *text;
    apr_size_t len;

    if (apr_file_open(&file, path, APR_FOPEN_READ, 0, pool) != APR_SUCCESS
        || apr_file_info_get(&info, APR_FINFO_SIZE, file) != APR_SUCCESS) {
        return "<unreadable>";
    }
    len = (apr_size_t)info.size;
    text = apr_palloc(pool, len + 1);
    if (len > 0 && apr_file_read_full(file, text, len, &len) != APR_SUCCESS) {
        len = 0;
    }
    text[len] = '\0';
    apr_file_close(file);
    return text;
}

/*
 * Runs the CLI with the NULL-terminated arguments after `env_db`.  env_db:
 * the child's MINILINK_DB, or NULL for none.  Returns 0 if it could not be
 * run at all (then the test has already failed).
 */
static int run_cli(ut_scratch *scratch, cli_result *result,
                   const char *env_db, ...)
{
    const char *cli = cli_path();
    const char *out_path = ut_path(scratch, "cli.out");
    const char *err_path = ut_path(scratch, "cli.err");
    const char *argv[16];
    int argc = 0, wstatus;
    va_list args;
    pid_t pid;

    result->status = -1;
    result->out = result->err = "";
    if (cli == NULL) {
        CU_FAIL("MINILINK_CLI is not set to the minilink binary");
        return 0;
    }
    argv[argc++] = cli;
    va_start(args, env_db);
    while (argc < 15 && (argv[argc] = va_arg(args, const char *)) != NULL) {
        argc++;
    }
    va_end(args);
    argv[argc] = NULL;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        CU_FAIL("fork failed");
        return 0;
    }
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || in < 0 || dup2(out, 1) < 0
            || dup2(err, 2) < 0 || dup2(in, 0) < 0) {
            _exit(126);
        }
        if (run_as_nobody && geteuid() == 0) {
            struct passwd *nobody = getpwnam("nobody");
            if (nobody == NULL || setgroups(0, NULL) != 0
                || setgid(nobody->pw_gid) != 0 || setuid(nobody->pw_uid) != 0) {
                _exit(125);
            }
        }
        if (env_db) {
            setenv("MINILINK_DB", env_db, 1);
        }
        else {
            unsetenv("MINILINK_DB");
        }
        alarm(CLI_TIMEOUT_SECONDS);   /* survives exec: a hang is a failure */
        execv(cli, (char *const *)argv);
        _exit(127);
    }
    if (waitpid(pid, &wstatus, 0) != pid) {
        CU_FAIL("waitpid failed");
        return 0;
    }
    result->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
                                        : 128 + WTERMSIG(wstatus);
    result->out = read_all(out_path, scratch->pool);
    result->err = read_all(err_path, scratch->pool);
    CU_ASSERT_NOT_EQUAL(result->status, 127);   /* exec failed */
    return 1;
}

/* A scratch directory with an initialised database in it; NULL if not. */
static const char *cli_db(ut_scratch *scratch)
{
    const char *db = ut_path(scratch, "links.db");
    cli_result r;

    if (!run_cli(scratch, &r, NULL, "--db", db, "init", NULL)) {
        return NULL;
    }
    CU_ASSERT_EQUAL(r.status, 0);
    return r.status == 0 ? db : NULL;
}

/* Asserts a refused command: the status, nothing on stdout, a message. */
#define ASSERT_CLI_ERROR(r, expected) do { \
        CU_ASSERT_EQUAL((r).status, (expected)); \
        CU_ASSERT_STRING_EQUAL((r).out, ""); \
        CU_ASSERT_NSTRING_EQUAL((r).err, "minilink: ", 10); \
    } while (0)

static void test_cli_help(void)
{
    ut_scratch scratch;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    if (run_cli(&scratch, &r, NULL, "--help", NULL)) {
        CU_ASSERT_EQUAL(r.status, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "usage"));
        CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "add"));
    }
    if (run_cli(&scratch, &r, NULL, "help", NULL)) {
        CU_ASSERT_EQUAL(r.status, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "usage"));
    }
    ut_scratch_close(&scratch);
}

static void test_cli_init_idempotent(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;
    ml_store *store = NULL;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_EQUAL(ml_store_open(&store, db, ML_STORE_READ, scratch.pool),
                    APR_SUCCESS);
    if (run_cli(&scratch, &r, NULL, "--db", db, "add",
                "https://example.com/", "kept", NULL)) {
        CU_ASSERT_EQUAL(r.status, 0);
    }
    if (run_cli(&scratch, &r, NULL, "--db", db, "init", NULL)) {
        CU_ASSERT_EQUAL(r.status, 0);
    }
    if (run_cli(&scratch, &r, NULL, "--db", db, "list", NULL)) {
        CU_ASSERT_EQUAL(r.status, 0);
        CU_ASSERT_STRING_EQUAL(r.out, "kept\thttps://example.com/\n");
    }
    ut_scratch_close(&scratch);
}

static void test_cli_add_list_show(void)
{
    ut_scratch scratch;
    const char *db, *random_slug, *first, *second;
    char *line_end;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/mine", "mine", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "mine\n");

    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "http://example.org/random?x=1", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    line_end = strchr(r.out, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(line_end);
    CU_ASSERT_EQUAL(line_end[1], '\0');   /* exactly one line */
    random_slug = apr_pstrmemdup(scratch.pool, r.out,
                                 (apr_size_t)(line_end - r.out));
    CU_ASSERT_TRUE(ml_slug_valid(random_slug, strlen(random_slug)));

    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    first = strcmp(random_slug, "mine") < 0 ? random_slug : "mine";
    second = first == random_slug ? "mine" : random_slug;
    CU_ASSERT_STRING_EQUAL(r.out, apr_psprintf(scratch.pool, "%s\t%s\n%s\t%s\n",
        first, first == random_slug ? "http://example.org/random?x=1"
                                    : "https://example.com/mine",
        second, second == random_slug ? "http://example.org/random?x=1"
                                      : "https://example.com/mine"));

    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show",
                            random_slug, NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\nurl: http://example.org/random?x=1\n"));
    ut_scratch_close(&scratch);
}

/* The value of the "key: value" line in show's output, or NULL. */
static const char *show_value(const char *out, const char *key,
                              apr_pool_t *pool)
{
    const char *line = out;
    apr_size_t key_len = strlen(key);

    while (line && *line) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, key, key_len) == 0 && line[key_len] == ':'
            && line[key_len + 1] == ' ') {
            return apr_pstrmemdup(pool, line + key_len + 2,
                                  (apr_size_t)((end ? end : line + strlen(line))
                                               - (line + key_len + 2)));
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Asserts show's line for key has this value. */
#define ASSERT_SHOWS(out, key, expected) do { \
        const char *value_ = show_value((out), (key), scratch.pool); \
        CU_ASSERT_PTR_NOT_NULL(value_); \
        if (value_) { CU_ASSERT_STRING_EQUAL(value_, (expected)); } \
    } while (0)

static void test_cli_show_fields(void)
{
    ut_scratch scratch;
    const char *db, *value;
    cli_result r;
    ml_store *store = NULL;
    ml_link link = {0};

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/p", "plain", NULL));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", "plain",
                            NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    ASSERT_SHOWS(r.out, "slug", "plain");
    ASSERT_SHOWS(r.out, "url", "https://example.com/p");
    ASSERT_SHOWS(r.out, "status", "default");
    ASSERT_SHOWS(r.out, "expires", "never");
    ASSERT_SHOWS(r.out, "disabled", "no");
    value = show_value(r.out, "created", scratch.pool);
    CU_ASSERT_TRUE(value != NULL && strlen(value) > 0);
    value = show_value(r.out, "updated", scratch.pool);
    CU_ASSERT_TRUE(value != NULL && strlen(value) > 0);

    /* The other values, for a link the CLI cannot make with add. */
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, db, ML_STORE_WRITE,
                                        scratch.pool), APR_SUCCESS);
    link.slug = "special";
    link.url = "http://example.org/s";
    link.status = 301;
    link.expires_at = 1900000000;
    link.disabled = 1;
    CU_ASSERT_EQUAL_FATAL(ml_store_add(store, &link, scratch.pool), APR_SUCCESS);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", "special",
                            NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_SHOWS(r.out, "slug", "special");
    ASSERT_SHOWS(r.out, "status", "301");
    ASSERT_SHOWS(r.out, "disabled", "yes");
    value = show_value(r.out, "expires", scratch.pool);
    CU_ASSERT_TRUE(value != NULL && strlen(value) > 0
                   && strcmp(value, "never") != 0);
    ut_scratch_close(&scratch);
}

static void test_cli_add_duplicate(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/original", "dup", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/other", "dup", NULL));
    ASSERT_CLI_ERROR(r, 4);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", "dup",
                            NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    ASSERT_SHOWS(r.out, "url", "https://example.com/original");
    ut_scratch_close(&scratch);
}

static void test_cli_add_invalid(void)
{
    ut_scratch scratch;
    const char *db, *before;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/", "ok", NULL));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    before = r.out;
    CU_ASSERT_STRING_EQUAL(before, "ok\thttps://example.com/\n");

    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "javascript:alert(1)", NULL));
    ASSERT_CLI_ERROR(r, 2);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "javascript:alert(1)", "js", NULL));
    ASSERT_CLI_ERROR(r, 2);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/", "a/b", NULL));
    ASSERT_CLI_ERROR(r, 2);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, before);
    ut_scratch_close(&scratch);
}

static void test_cli_rm(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/", "gone", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", "gone",
                            NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", "gone",
                            NULL));
    ASSERT_CLI_ERROR(r, 3);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", "gone",
                            NULL));
    ASSERT_CLI_ERROR(r, 3);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", "never",
                            NULL));
    ASSERT_CLI_ERROR(r, 3);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    ut_scratch_close(&scratch);
}

static void test_cli_usage_errors(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "frobnicate",
                            NULL));
    ASSERT_CLI_ERROR(r, 1);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add", NULL));
    ASSERT_CLI_ERROR(r, 1);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", NULL));
    ASSERT_CLI_ERROR(r, 1);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", NULL));
    ASSERT_CLI_ERROR(r, 1);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, NULL));
    ASSERT_CLI_ERROR(r, 1);
    ut_scratch_close(&scratch);
}

static void test_cli_no_database_given(void)
{
    ut_scratch scratch;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "list", NULL));
    ASSERT_CLI_ERROR(r, 1);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "init", NULL));
    ASSERT_CLI_ERROR(r, 1);
    ut_scratch_close(&scratch);
}

static void test_cli_database_from_environment(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = ut_path(&scratch, "env.db");
    CU_ASSERT_FATAL(run_cli(&scratch, &r, db, "init", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, db, "add", "https://example.com/e",
                            "fromenv", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "fromenv\n");
    /* The same file through --db: the environment named it. */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "fromenv\thttps://example.com/e\n");
    /* --db wins over the environment. */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, ut_path(&scratch, "nowhere.db"),
                            "--db", db, "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "fromenv\thttps://example.com/e\n");
    ut_scratch_close(&scratch);
}

static void test_cli_database_errors(void)
{
    ut_scratch scratch;
    const char *garbage, *foreign, *missing;
    cli_result r;
    sqlite3_int64 unused;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    garbage = ut_garbage_file(&scratch, "garbage.db");
    foreign = ut_foreign_db(&scratch, "other.db");
    missing = ut_path(&scratch, "missing.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(garbage);
    CU_ASSERT_PTR_NOT_NULL_FATAL(foreign);

    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", garbage, "list", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", foreign, "init", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", foreign, "list", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", missing, "list", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", missing, "add",
                            "https://example.com/", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_EQUAL(access(missing, F_OK), -1);   /* not created */
    /* init did not touch the other database. */
    CU_ASSERT_NOT_EQUAL(ut_sql(foreign, "SELECT slug FROM links", &unused),
                        SQLITE_OK);
    ut_scratch_close(&scratch);
}

/*
 * Slugs made before new ones had to start with a letter, digit or '_'
 * (here "-h" and "--disable", put in with sqlite3) are still listed, shown,
 * changed and removed: after "--", a word is never an option.  New slugs
 * may not start with '-'.
 */
static void test_cli_slugs_that_start_with_a_dash(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_EQUAL_FATAL(ut_insert_raw(db, "'-h'", "'https://example.com/h'",
                                        "NULL", NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(ut_insert_raw(db, "'--disable'",
                                        "'https://example.com/d'", "NULL", NULL),
                          SQLITE_OK);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "--disable\thttps://example.com/d\n"
                                  "-h\thttps://example.com/h\n");
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", "--", "-h",
                            NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_NSTRING_EQUAL(r.out, "slug: -h\n", 9);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "stats", "--", "-h",
                            NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_NSTRING_EQUAL(r.out, "slug: -h\nclicks: 0\n", 19);
    /* Before "--", -h still asks for help, and --disable is no slug of rm. */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", "-h", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "usage: minilink"));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", "--disable",
                            NULL));
    ASSERT_CLI_ERROR(r, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "rm -- --disable"));
    /* set: its options before "--", the slug after. */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "set", "--disable",
                            "--", "--disable", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", "--",
                            "--disable", NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "disabled: yes\n"));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", "--", "-h",
                            NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "rm", "--",
                            "--disable", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    CU_ASSERT_STRING_EQUAL(r.out, "");
    /* New slugs: not with a '-' first, however they are given. */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/", "--", "-new", NULL));
    ASSERT_CLI_ERROR(r, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "must not start with '-'"));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add", "--",
                            "https://example.com/", "a-b_", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "a-b_\n");
    ut_scratch_close(&scratch);
}

/* The schema version a SQLite file is marked with, or -1. */
static int marked_version(const char *db)
{
    sqlite3 *conn;
    sqlite3_stmt *query = NULL;
    int version = -1;

    if (sqlite3_open_v2(db, &conn, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &query, NULL)
           == SQLITE_OK
        && sqlite3_step(query) == SQLITE_ROW) {
        version = sqlite3_column_int(query, 0);
    }
    sqlite3_finalize(query);
    sqlite3_close(conn);
    return version;
}

/* A scratch database holding one link, "kept"; NULL if not. */
static const char *db_with_kept_link(ut_scratch *scratch)
{
    const char *db = cli_db(scratch);
    cli_result r;

    if (db == NULL || !run_cli(scratch, &r, NULL, "--db", db, "add",
                               "https://example.com/kept", "kept", NULL)) {
        return NULL;
    }
    CU_ASSERT_EQUAL(r.status, 0);
    return r.status == 0 ? db : NULL;
}

/* Asserts that list shows the one link db_with_kept_link() stored. */
static void assert_kept_link(ut_scratch *scratch, const char *db)
{
    cli_result r;

    if (run_cli(scratch, &r, NULL, "--db", db, "list", NULL)) {
        CU_ASSERT_EQUAL(r.status, 0);
        CU_ASSERT_STRING_EQUAL(r.out, "kept\thttps://example.com/kept\n");
    }
}

static void test_cli_upgrade_current(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = db_with_kept_link(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    /* Twice, --db and $MINILINK_DB: a second upgrade has nothing to do
     * either. */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "upgrade", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "already at schema version 3\n");
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_FATAL(run_cli(&scratch, &r, db, "upgrade", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "already at schema version 3\n");
    CU_ASSERT_EQUAL(marked_version(db), ML_STORE_SCHEMA_VERSION);
    assert_kept_link(&scratch, db);
    ut_scratch_close(&scratch);
}

static void test_cli_upgrade_refuses_newer(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = db_with_kept_link(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    /* What a later minilink with a fourth schema version would leave. */
    CU_ASSERT_EQUAL_FATAL(ut_sql(db, "PRAGMA user_version = 4", NULL),
                          SQLITE_OK);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "upgrade", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "schema version 4 is newer than "
                                  "the 3 this minilink understands"));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    ASSERT_CLI_ERROR(r, 5);
    /* Left as it was: still marked 4, and marked back, the link is there. */
    CU_ASSERT_EQUAL(marked_version(db), 4);
    CU_ASSERT_EQUAL(ut_sql(db, "PRAGMA user_version = 3", NULL), SQLITE_OK);
    assert_kept_link(&scratch, db);
    ut_scratch_close(&scratch);
}

/*
 * A version-1 database (tests/fixtures/v1.db, made by the minilink of
 * schema 1) gets schema 2's visits tables, and their trigger.
 */
static void test_cli_upgrade_adds_visits(void)
{
    ut_scratch scratch;
    const char *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = ut_path(&scratch, "v1.db");
    CU_ASSERT_EQUAL_FATAL(apr_file_copy("tests/fixtures/v1.db", db,
                                        APR_FPROT_FILE_SOURCE_PERMS,
                                        scratch.pool), APR_SUCCESS);
    /* Until then, visits are refused with what to do. */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "visits", "plain",
                            NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "upgrade"));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "upgrade", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "upgraded from schema version 1 to 3\n");
    CU_ASSERT_EQUAL(marked_version(db), ML_STORE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(ut_sql(db, "INSERT INTO visits (link_id, visited_at,"
                           " visited_path) SELECT id, 1700000000, '/l/plain'"
                           " FROM links WHERE slug = 'plain';"
                           "DELETE FROM links WHERE slug = 'plain'", NULL),
                    SQLITE_OK);
    /* The trigger came too: the link's visits went with it. */
    CU_ASSERT_EQUAL(ut_sql(db, "INSERT INTO links (slug, url) SELECT 'x', 'y'"
                           " WHERE (SELECT count(*) FROM visits) = 0", NULL),
                    SQLITE_OK);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "show", "x", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    ut_scratch_close(&scratch);
}

static void test_cli_upgrade_errors(void)
{
    ut_scratch scratch;
    const char *db, *foreign, *missing;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    db = cli_db(&scratch);
    foreign = ut_foreign_db(&scratch, "other.db");
    missing = ut_path(&scratch, "missing.db");
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    CU_ASSERT_PTR_NOT_NULL_FATAL(foreign);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "upgrade", "now",
                            NULL));
    ASSERT_CLI_ERROR(r, 1);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", foreign, "upgrade",
                            NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", missing, "upgrade",
                            NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_EQUAL(access(missing, F_OK), -1);   /* not created */
    ut_scratch_close(&scratch);
}


/* A database path that is, or goes through, a symbolic link is used only
 * when asked: "init" as root on a dangling link would create its target. */
static void test_cli_refuses_symlinks(void)
{
    ut_scratch scratch;
    const char *link, *target, *db, *db_link;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    link = ut_path(&scratch, "dangling.db");
    target = ut_path(&scratch, "elsewhere.db");
    CU_ASSERT_EQUAL_FATAL(symlink(target, link), 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", link, "init", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "symbolic link"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "--allow-symlinks"));
    CU_ASSERT_EQUAL(access(target, F_OK), -1);          /* not created */
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--allow-symlinks", "--db", link,
                            "init", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_EQUAL(access(target, F_OK), 0);
    /* A link to a database, and a directory link on the way to one. */
    db = cli_db(&scratch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    db_link = ut_path(&scratch, "link.db");
    CU_ASSERT_EQUAL_FATAL(symlink(db, db_link), 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db_link, "list", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_EQUAL_FATAL(symlink(scratch.dir, ut_path(&scratch, "dir")), 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, ut_path(&scratch, "dir/links.db"),
                            "add", "https://example.com/", "x", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db_link,
                            "--allow-symlinks", "list", NULL));
    CU_ASSERT_EQUAL(r.status, 0);
    ut_scratch_close(&scratch);
}

/*
 * A WAL database in a directory its reader may not write: SQLite cannot
 * make the -wal and -shm files it needs, and the message says so and what
 * to do, instead of "attempt to write a readonly database".
 */
static void test_cli_read_only_directory(void)
{
    ut_scratch scratch;
    const char *dir, *db;
    cli_result r;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    dir = ut_path(&scratch, "ro");
    db = ut_path(&scratch, "ro/links.db");
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "init", NULL));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "add",
                            "https://example.com/", "x", NULL));
    CU_ASSERT_EQUAL_FATAL(r.status, 0);
    CU_ASSERT_EQUAL(access(ut_path(&scratch, "ro/links.db-shm"), F_OK), -1);
    CU_ASSERT_EQUAL_FATAL(chmod(scratch.dir, 0711), 0);
    CU_ASSERT_EQUAL_FATAL(chmod(dir, 0555), 0);
    run_as_nobody = 1;
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "list", NULL));
    ASSERT_CLI_ERROR(r, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "links.db-wal"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "may not write in"));
    CU_ASSERT_FATAL(run_cli(&scratch, &r, NULL, "--db", db, "export", NULL));
    CU_ASSERT_EQUAL(r.status, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "may not write in"));
    run_as_nobody = 0;
    CU_ASSERT_EQUAL(chmod(dir, 0755), 0);
    ut_scratch_close(&scratch);
}

void add_cli_suite(void)
{
    CU_pSuite suite = CU_add_suite("cli (minilink)", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "--help and help print usage", test_cli_help);
    CU_add_test(suite, "init is idempotent", test_cli_init_idempotent);
    CU_add_test(suite, "add (with/without slug), list, show", test_cli_add_list_show);
    CU_add_test(suite, "show prints every field", test_cli_show_fields);
    CU_add_test(suite, "add of a taken slug: 4, URL kept", test_cli_add_duplicate);
    CU_add_test(suite, "add of a bad URL or slug: 2, nothing added", test_cli_add_invalid);
    CU_add_test(suite, "rm, then show/rm: 3", test_cli_rm);
    CU_add_test(suite, "slugs that start with '-': after --; none new",
                test_cli_slugs_that_start_with_a_dash);
    CU_add_test(suite, "usage errors: 1", test_cli_usage_errors);
    CU_add_test(suite, "no database given: 1", test_cli_no_database_given);
    CU_add_test(suite, "MINILINK_DB names the database", test_cli_database_from_environment);
    CU_add_test(suite, "garbage, foreign, missing files: 5", test_cli_database_errors);
    CU_add_test(suite, "a symbolic link is followed only with --allow-symlinks",
                test_cli_refuses_symlinks);
    CU_add_test(suite, "a directory the reader may not write: what to do",
                test_cli_read_only_directory);
    CU_add_test(suite, "upgrade at the newest version: said so, links kept", test_cli_upgrade_current);
    CU_add_test(suite, "upgrade from version 1: the visits tables", test_cli_upgrade_adds_visits);
    CU_add_test(suite, "upgrade of a newer schema: 5, left alone", test_cli_upgrade_refuses_newer);
    CU_add_test(suite, "upgrade: usage, foreign and missing files", test_cli_upgrade_errors);
}
