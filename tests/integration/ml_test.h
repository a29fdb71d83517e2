/*
 * ml_test.h - the mod_minilink integration tests' layer on harness.h:
 *
 *   suites.c    suite groups (defined once, run once per MPM, each on a server of its own,
 *               closed by one epilogue: error log clean, clean stop), test memory, main()
 *   checks.c    assertions that say what was seen (and name every running server's config and
 *               error log), requests and the answers they must get, tables of them, bounded
 *               waits, the error log
 *   fixtures.c  databases, the minilink command, the load links, pages, JSON, the creation form,
 *               the refresher
 *
 * A test talks to g_srv, the server of the suite running.  What it gets from here (tfmt, ask,
 * GET...) is freed when the test ends.
 */
#ifndef ML_TEST_H
#define ML_TEST_H

#include <apr_pools.h>
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <sqlite3.h>

#include "conf.h"
#include "harness.h"

/* How long a change may take to show (a refresh, a flush, a log line): the intervals are 1 s, the
 * rest is slack for a loaded 2-core machine. */
#define BOUNDED_WAIT_MS 10000
#define ARRAY_LEN(array) (sizeof(array) / sizeof *(array))

/* ---- suites.c ------------------------------------------------------- */

extern httpd_server *g_srv;            /* the running suite's server */
extern apr_pool_t *g_pool;             /* made by main() */
extern unsigned int g_failures_at_init;
extern unsigned int g_tests_not_run;   /* tests of suites whose init failed */

typedef struct {
    const char *slug;
    const char *url;
    int status;
    apr_int64_t expires_at;
    int disabled;
} link_spec;

/* A link with rules of schema 2: "name=value" each, the names of
 * links/ml_fields.h ("title=...", "redirect_rules=..."), and
 * "password=CLEAR" (hashed when stored). */
#define RICH_FIELDS 12
typedef struct {
    const char *slug;
    const char *url;
    const char *fields[RICH_FIELDS];
} rich_link_spec;

/* A suite group: what its server has, and its tests (only name and tests are required); the
 * epilogue test follows the tests. */
typedef struct suite_group {
    const char *name;           /* suites "<name>-<mpm>" ("" : "<mpm>") */
    const char *mpm;            /* NULL: event, worker, prefork; else this
                                   MPM only, suite "<name>" */
    CU_TestInfo *tests;
    const char *modules;        /* httpd modules, e.g. "status slotmem_shm" */
    const char *config;         /* after the base configuration (conf.h) */
    char *(*config_of)(void);   /* or: made at the start, after prepare */
    const link_spec *links;     /* links.db */
    size_t nlinks;
    const rich_link_spec *rich_links;   /* links.db too, with their rules */
    size_t nrich_links;
    const char *links_sql;      /* then run on links.db (rows the store refuses) */
    int load_links;             /* links.db also holds the load links */
    const char *passwd;         /* "user:password": <dir>/passwd (htpasswd) */
    int (*prepare)(void);       /* more files, before the start; 0 on success */
    const char *const *bad_lines;   /* lines the epilogue refuses in the error
                                       log (NULL-terminated); NULL: crash_lines */
    void (*after_stop)(void);   /* the epilogue's last checks */
    int (*cleanup)(void);       /* before the server is freed */
    int configure_only;         /* never started (configtest) */
} suite_group;

/* A crash or a core error: "[core:error]", AH00051/AH00052 (a child died of a signal), AH00060
 * (the parent did), "Segmentation fault". */
extern const char *const crash_lines[];

void add_group(const suite_group *group);   /* after those registered */

/* A server on mpm as the group says, started (unless configure_only) and g_srv; NULL (and g_srv
 * NULL) on failure, the reason on stderr. */
httpd_server *start_minilink_server(const char *mpm, const suite_group *group);

/* The groups, in the order main() runs them. */
void add_httpd_suites(void);    /* configtest; event, worker, prefork */
void add_live_suites(void);     /* live-*, live-overflow */
void add_clicks_suites(void);   /* clicks-* */
void add_access_suites(void);   /* access-* */
void add_early_suites(void);    /* early-*: early and ordinary answers compared */
void add_findings_suites(void); /* findings-*: hosts, CSRF, shadowed slugs, cells */
void add_browser_suites(void);  /* browser */
void add_hostile_suites(void);  /* hostile-* */
void add_drill_suites(void);    /* drills-* */
void add_visits_suites(void);   /* visits-*: what each click and 404 records */
void add_pgsql_suites(void);    /* pgsql */
void add_rules_suites(void);    /* rules-*: a link's own rules, live */
void add_upgrade_suites(void);  /* upgrade-*: a version-1 database served, upgraded live */
void add_import_suites(void);   /* import-*: the peers' exports imported while served */
void add_api_suites(void);      /* api-*: Shlink's REST API (minilink-api) */
void add_admin_pages_suites(void);  /* admin-pages-*: the admin pages over HTTP */

/* A suite's cleanup: the error log if it had failures; g_srv freed. */
int suite_cleanup(void);
unsigned int count_tests(const CU_TestInfo *tests);

/* Memory freed when the test ends: printf into it, allocate it, hand it a malloc'd block
 * (returned), have fn(obj) run then, keep a response. */
char *tfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *tvfmt(const char *fmt, va_list ap);
void *talloc(size_t size);
void *tkeep(void *malloced);
void at_test_end(apr_status_t (*fn)(void *), void *obj);
http_response *tkeep_response(const http_response *r);   /* a copy; r's fields taken */

/* ---- checks.c ------------------------------------------------------- */

/* An assertion at file:line; a failure prints msg with the config and error log of every server
 * running (whose directories are then kept). */
int check_file_line(const char *file, int line, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define check_at(line, ok, ...) check_file_line(__FILE__, (line), (ok), __VA_ARGS__)
#define CHECK(ok, ...) check_at(__LINE__, (ok), __VA_ARGS__)
#define HERE __FILE__, __LINE__   /* for the helpers that take (file, line), */
#define check_here(ok, ...) check_file_line(file, line, (ok), __VA_ARGS__)   /* which check so */
const char *str_or_null(const char *s);

/* Checks that write their own message: "<what>: <actual>, expected ..." (what is printf-style);
 * EXPECT_HAS/LACKS: text contains needle or not. */
int expect_long_at(const char *file, int line, long actual, long expected,
                   const char *what, ...) __attribute__((format(printf, 5, 6)));
int expect_str_at(const char *file, int line, const char *actual, const char *expected,
                  const char *what, ...) __attribute__((format(printf, 5, 6)));
int expect_has_at(const char *file, int line, const char *text, const char *needle,
                  int has, const char *what, ...) __attribute__((format(printf, 6, 7)));
#define EXPECT_EQ(actual, expected, ...) expect_long_at(HERE, (actual), (expected), __VA_ARGS__)
#define EXPECT_STR(actual, expected, ...) expect_str_at(HERE, (actual), (expected), __VA_ARGS__)
#define EXPECT_HAS(text, needle, ...) expect_has_at(HERE, (text), (needle), 1, __VA_ARGS__)
#define EXPECT_LACKS(text, needle, ...) expect_has_at(HERE, (text), (needle), 0, __VA_ARGS__)

/* Called for every GET that ask() (and all below) got answered with a redirect: suites that count
 * clicks set it; NULL by default. */
extern void (*g_count_click)(const httpd_server *srv, const char *host, const char *path);

/* A request on srv over a new connection (Host host unless NULL). */
http_response *ask(const httpd_server *srv, const char *method, const char *host, const char *path);
http_response *ask_spec(const httpd_server *srv, const http_request_spec *req);
http_response *post_json(const httpd_server *srv, const char *path, const char *json,
                         const char *userpwd);

/* Asks g_srv and checks the status and the Location (NULL: none); the response, or with out a copy
 * there that the caller frees. */
http_response *expect_file_line(const char *file, int line, const char *method,
                                const char *host, const char *path, long status,
                                const char *location, http_response *out);
#define expect_at(line, ...) expect_file_line(__FILE__, (line), __VA_ARGS__)
#define EXPECT(method, host, path, status, location) \
    expect_at(__LINE__, method, host, path, status, location, NULL)
#define GET(path, status, location) EXPECT("GET", NULL, path, status, location)
http_response *expect_request_at(const char *file, int line, const http_request_spec *req,
                                 long status, const char *location);   /* any request */

/* A table of requests and their answers, each checked like EXPECT. */
typedef struct {
    const char *method;
    const char *host;          /* NULL: none */
    const char *path;
    long status;
    const char *location;      /* NULL: none */
} http_case;
void expect_cases_at(const char *file, int line, const http_case *cases, size_t n);
#define EXPECT_CASES(cases) expect_cases_at(__FILE__, __LINE__, (cases), ARRAY_LEN(cases))

/* Polls method path on srv (a new connection each time, so that any child answers) every poll_ms
 * until it answers status and location, up to BOUNDED_WAIT_MS after since (when the change was
 * made); then 3 more asks must agree.  Prints "[what -> status: N ms]"; N, or -1 on failure. */
long wait_answer_at(const char *file, int line, const char *what, const httpd_server *srv,
                    const char *method, const char *host, const char *path, long status,
                    const char *location, long since, long poll_ms);

/* Error-log lines with every field given (0 / NULL: any). */
typedef struct {
    const char *text;          /* contains it */
    const char *file;          /* names this path whole, not a longer one */
    int tagged;                /* carries an ML00000: tag */
    int not_debug;             /* not at [minilink:debug] */
} log_filter;
int log_lines(const httpd_server *srv, log_filter filter);
long log_wait_lines(const httpd_server *srv, log_filter filter, int before,
                    long timeout_ms);   /* until more than before: ms, or -1 */
int ml_line_names(const char *line, void *needle);   /* ML00000: tag, names needle */
int ml_log_lines_naming(const char *needle);         /* in g_srv's error log */

/* srv's error log has no line with any of bad (NULL-terminated); else it is dumped. */
void expect_log_clean_at(const char *file, int line, const httpd_server *srv,
                         const char *const *bad);
#define EXPECT_ERROR_LOG_CLEAN() expect_log_clean_at(__FILE__, __LINE__, g_srv, crash_lines)

/* ---- fixtures.c ----------------------------------------------------- */

char *path_of(const char *name);     /* "<g_srv dir>/<name>", malloc'd */
char *tpath(const char *name);       /* the same, freed with the test */
void chown_database(const char *path);   /* with -wal, -shm, -journal */

/* Adds links to a database (made if missing) with the project's store, as root, then chowns it.  0
 * on success. */
int db_store_links(const char *path, const link_spec *links, size_t n);

/* The same for links with rules; 0 on success. */
int db_store_rich_links(const char *path, const rich_link_spec *links, size_t n);

/* SQL through the sqlite3 command as g_srv's user, so that no file next to a database ever belongs
 * to root (a refresher could not open it).  0 on success; db_int: one integer (-1 on failure or
 * none). */
int db_exec(const char *path, const char *sql);
long db_int(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A connection of our own, as root: to hold a lock, or to write a file the server's user may not;
 * closing chowns the files. */
sqlite3 *db_open_as_root(const char *path);
void db_close_as_root(sqlite3 *db, const char *path);

/* The load links: s00..s19 -> https://example.com/load/NN (odd ones with a query of their own);
 * load_slug/url are malloc'd. */
#define LOAD_SLUGS 20
#define LOAD_CLIENTS 4     /* how many clients the load tests run */
char *load_slug(int i);
char *load_url(int i);
int db_store_load_links(const char *path);
load_run *load_start(int port, int clients);   /* curl, until load_stop() */
void load_stop(load_run *run, load_totals *totals);

/* n graceful restarts of g_srv, pause_ms apart, under load on the load links (from 500 ms before
 * the first, for min_ms at least): each must succeed and every request get its redirect.  Totals
 * to *totals unless NULL. */
void gracefuls_under_load_at(const char *file, int line, int n, long pause_ms, long min_ms,
                             load_totals *totals);

/* `minilink --db DB args...` as g_srv's user (DB: g_cli_db, else g_srv's links.db; cli_run_on: db
 * unless NULL): the exit status, the output (malloc'd) to *output unless NULL.  Any thread. */
extern const char *g_cli_db;
const char *cli_path(void);   /* $MINILINK_CLI, else ./minilink */
int cli_run(const char *const *args, char **output);
int cli_run_on(const char *db, const char *const *args, char **output);

/* cli_run, checking the exit status; the output (freed with the test) to
 * *output unless NULL.  True if it exited with status. */
int cli_expect_at(const char *file, int line, int status, char **output, const char *const *args);
#define CLI_EXPECT(status, output, ...) \
    cli_expect_at(HERE, (status), (output), (const char *const[]){ __VA_ARGS__, NULL })

/* GET path on srv: 200 with a Content-Type starting with type (NULL: any); the body, or NULL. */
char *fetch_page_at(const char *file, int line, const httpd_server *srv, const char *path,
                    const char *type);
char *json_text(const char *body, const char *name);   /* a JSON string field, or NULL */

/* GET <prefix>/: the creation form, checked (HTML with a hidden csrf field equal to a 32-character
 * HttpOnly, SameSite=Strict cookie); the token. */
char *form_token_at(const char *file, int line, const char *prefix);

/* What a browser's GET sends as Accept: the admin pages answer it with HTML. */
#define BROWSER_ACCEPT "Accept: text/html,application/xhtml+xml,*/*;q=0.8"
/* The admin pages' form token: the hidden csrf field of GET <admin>new (admin: the location's
 * path with its '/'), asked as a browser (as userpwd, "user:password", unless NULL), and its
 * cookie, checked: the same, for <admin>, HttpOnly, SameSite=Strict. */
typedef struct {
    char *field;
    char *cookie;
} admin_token;
admin_token admin_token_at(const char *file, int line, const httpd_server *srv,
                           const char *admin, const char *userpwd);
/* POSTs a form (body: url-encoded fields but csrf) to srv as a browser, with the token's field
 * and cookie, an Origin and Basic credentials (each NULL: not sent). */
http_response *admin_post(const httpd_server *srv, const char *path, const char *body,
                          const char *field, const char *cookie, const char *origin,
                          const char *userpwd);
/* How the access log <dir>/<log_name>.log (written by ANSWERED_LOG) says method path was
 * answered - "translate" (early), "handler", "-" (before the module: access control) - on its last
 * line with that status; NULL if none within 2 s.  Freed with the test. */
const char *log_answered(const char *log_name, const char *method, const char *path, long status);

/* The refresher's pid: after adding slug with the CLI, from the ML00009 line it logs applying it
 * (checked: a child of g_srv's parent); or from the newest ML00027/ML00009 line (-1 if none). */
pid_t refresher_pid_after_cli_at(const char *file, int line, const char *slug, const char *url);
pid_t refresher_pid_from_log(const httpd_server *srv);

/* SIGKILLs the refresher pid; the parent must log ML00023 (and start another).  The ms that took,
 * or -1. */
long kill_refresher_at(const char *file, int line, pid_t pid);

#endif /* ML_TEST_H */
