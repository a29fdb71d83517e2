/*
 * ml_test.h - what the mod_minilink integration tests share: assertions
 * that say what was seen, request checks, the databases, the load clients
 * and the suite bookkeeping.  harness.h stays generic (any httpd); this
 * knows about links.
 *
 * A suite's init sets g_srv to its server; the helpers below talk to it.
 */
#ifndef ML_TEST_H
#define ML_TEST_H

#include <apr_pools.h>
#include <CUnit/CUnit.h>

#include "harness.h"

/* ------------------------------------------------------------------ */
/* suite bookkeeping                                                  */
/* ------------------------------------------------------------------ */

extern httpd_server *g_srv;            /* the running suite's server */
extern apr_pool_t *g_pool;             /* made by main() */
extern unsigned int g_failures_at_init;
extern unsigned int g_tests_not_run;   /* tests of suites whose init failed */

unsigned int count_tests(const CU_TestInfo *tests);

/* test_live.c: registers its suites (live-event, live-worker, live-prefork,
 * live-overflow) after those already registered. */
void add_live_suites(void);

/* test_access.c: access-event, access-worker, access-prefork. */
void add_access_suites(void);

/* test_early.c: early-event, early-worker, early-prefork. */
void add_early_suites(void);

/* test_clicks.c: clicks-event, clicks-worker, clicks-prefork. */
void add_clicks_suites(void);

/* test_hostile.c: hostile-event, hostile-worker, hostile-prefork. */
void add_hostile_suites(void);

/* test_drills.c: drills-event, drills-worker, drills-prefork. */
void add_drill_suites(void);

/* test_browser.c: "browser", the form in Debian's chromium. */
void add_browser_suites(void);

/* test_pgsql.c: "pgsql", two hosts (event, prefork) sharing one PostgreSQL. */
void add_pgsql_suites(void);

/* test_findings.c: findings-event, findings-worker, findings-prefork. */
void add_findings_suites(void);

/* Suite cleanup: dumps the error log if the suite had failures, then
 * stops and frees g_srv. */
int suite_cleanup(void);

/* ------------------------------------------------------------------ */
/* assertions that report the caller's line and what was seen         */
/* ------------------------------------------------------------------ */

int check_file_line(const char *file, int line, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define check_at(line, ok, ...) check_file_line(__FILE__, (line), (ok), __VA_ARGS__)
#define CHECK(ok, ...) check_at(__LINE__, (ok), __VA_ARGS__)

const char *str_or_null(const char *s);

/*
 * Sends a request to g_srv and checks the status and the Location header
 * (NULL: there must be none).  The response is returned in *out if out is
 * not NULL (the caller frees it), else freed.
 */
void expect_file_line(const char *file, int line, const char *method,
                      const char *host, const char *path, long status,
                      const char *location, http_response *out);

#define expect_at(line, ...) expect_file_line(__FILE__, (line), __VA_ARGS__)
#define EXPECT(method, host, path, status, location) \
    expect_at(__LINE__, method, host, path, status, location, NULL)
#define GET(path, status, location) EXPECT("GET", NULL, path, status, location)

/*
 * Checks that g_srv's error log has no line of a crash or a core error:
 * "[core:error]", AH00051/AH00052 (a child died of a signal), AH00060 (the
 * parent did), "Segmentation fault".  Dumps the log if it has.
 */
void expect_error_log_clean_at(const char *file, int line);
#define EXPECT_ERROR_LOG_CLEAN() expect_error_log_clean_at(__FILE__, __LINE__)

/* True if line carries a module tag "ML" + 5 digits + ':' and names needle. */
int ml_line_names(const char *line, void *needle);

/* g_srv's error-log lines that ml_line_names(needle). */
int ml_log_lines_naming(const char *needle);

/* ------------------------------------------------------------------ */
/* databases                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *slug;
    const char *url;
    int status;
    apr_int64_t expires_at;
    int disabled;
} link_spec;

/* "<g_srv dir>/<name>", malloc'd: the files the configuration names. */
char *path_of(const char *name);

/* Gives a database file (and any -wal, -shm, -journal next to it) to the
 * user g_srv's children run as. */
void chown_database(const char *path);

/*
 * Adds links to the database at path (created if missing) through a fresh
 * ml_store handle that is closed before returning.  n may be 0 (an empty
 * database).  0 on success.
 */
int db_store_links(const char *path, const link_spec *links, size_t n);

/* Runs SQL on a database file directly (sqlite3, bypassing ml_store),
 * closes it and chowns it.  0 on success. */
int db_exec(const char *path, const char *sql);

/* ------------------------------------------------------------------ */
/* load clients: keep-alive GETs of /l/s00 .. /l/s19                  */
/* ------------------------------------------------------------------ */

#define LOAD_SLUGS 20

/* How many load clients the graceful-restart tests run. */
#define LOAD_CLIENTS 4

/* The load links: slug i and its URL, malloc'd. */
char *load_slug(int i);
char *load_url(int i);

/* Adds the LOAD_SLUGS load links to the database at path.  0 on success. */
int db_store_load_links(const char *path);

typedef struct load_run load_run;

typedef struct {
    long requests;
    long failures;      /* transport errors and wrong statuses */
    long wrong;         /* right status, wrong Location */
    int not_started;    /* clients whose thread could not start */
} load_totals;

/*
 * Starts `clients` threads, each on its own keep-alive connection to port,
 * asking for the load links in turn and expecting 302 and the right
 * Location.  NULL if nothing could be started.
 */
load_run *load_start(int port, int clients);

/* Stops and joins the clients, adds up their counts, prints the first
 * problem each one saw, and frees run. */
void load_stop(load_run *run, load_totals *totals);

/* ------------------------------------------------------------------ */
/* the minilink command                                               */
/* ------------------------------------------------------------------ */

/* $MINILINK_CLI (the Makefile sets it), else ./minilink. */
const char *cli_path(void);

/*
 * Runs `minilink --db <g_srv's links.db> args...` as the server's user (as
 * the README says to: files SQLite creates then belong to the server), then
 * chowns the database files anyway.  Returns the exit status; the output
 * goes to *output (malloc'd) if not NULL.  Safe from any thread.
 */
int cli_run(const char *const *args, char **output);

#endif /* ML_TEST_H */
