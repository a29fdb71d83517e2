/*
 * suites.c - suite groups: one definition, a suite per MPM, each on a server of its own that the
 * same epilogue closes; memory that lives as long as a test; main().
 *
 *   MINILINK_MODULE=/abs/.libs/mod_minilink.so APACHE2=/usr/sbin/apache2 \
 *     tests/integration/httpd_tests
 *
 * MINILINK_SUITES=prefork,access-event runs only the suites named. TEST_TALLY=<file> appends
 * "<tests passed> <tests failed>" to that file.
 */

#include <apr_general.h>
#include <apr_strings.h>
#include <CUnit/Basic.h>
#include <curl/curl.h>

#include "ml_test.h"

httpd_server *g_srv;
apr_pool_t *g_pool;
unsigned int g_failures_at_init;
unsigned int g_tests_not_run;

const char *const crash_lines[] = {
    "[core:error]", "AH00051", "AH00052", "AH00060", "Segmentation fault", NULL
};

static const char *const all_mpms[] = { "event", "worker", "prefork", NULL };

/* ---- memory for one test -------------------------------------------- */

static apr_pool_t *test_pool;

static apr_pool_t *tpool(void)
{
    if (test_pool == NULL) {
        apr_pool_create(&test_pool, g_pool);
    }
    return test_pool;
}

static void test_teardown(void)
{
    apr_pool_clear(tpool());
}

/* glibc's printf, not APR's (which knows no %lld). */
char *tvfmt(const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) {
        abort();
    }
    return tkeep(s);
}

char *tfmt(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = tvfmt(fmt, ap);
    va_end(ap);
    return s;
}

void *talloc(size_t size)
{
    return apr_pcalloc(tpool(), size);
}

void at_test_end(apr_status_t (*fn)(void *), void *obj)
{
    apr_pool_cleanup_register(tpool(), obj, fn, apr_pool_cleanup_null);
}

static apr_status_t free_block(void *p)
{
    free(p);
    return APR_SUCCESS;
}

void *tkeep(void *malloced)
{
    if (malloced) {
        at_test_end(free_block, malloced);
    }
    return malloced;
}

/* ---- the server of a group ------------------------------------------ */

/* links.db (maybe empty) and passwd as the group says; 0 on success. */
static int store_links(const suite_group *group)
{
    char *db = tpath("links.db");
    int rc = db_store_links(db, group->links, group->nlinks);
    if (rc == 0 && group->nrich_links) {
        rc = db_store_rich_links(db, group->rich_links, group->nrich_links);
    }
    if (rc == 0 && group->load_links) {
        rc = db_store_load_links(db);
    }
    if (rc == 0 && group->links_sql) {
        rc = db_exec(db, group->links_sql);
    }
    if (rc == 0 && group->passwd) {
        char *user = tfmt("%.*s", (int)strcspn(group->passwd, ":"), group->passwd);
        char *argv[] = { "htpasswd", "-bc", tpath("passwd"), user,
                         strchr(group->passwd, ':') + 1, NULL };
        char *output = NULL;

        if ((rc = httpd_run_as_user(g_srv, argv, &output)) != 0) {
            fprintf(stderr, "htpasswd -bc %s exited %d: %s\n", argv[2], rc, output);
        }
        free(output);
    }
    return rc;
}

httpd_server *start_minilink_server(const char *mpm, const suite_group *group)
{
    if ((g_srv = httpd_new(mpm)) == NULL) {
        return NULL;
    }
    httpd_load_modules(g_srv, group->modules);
    if (store_links(group) != 0 || (group->prepare && group->prepare() != 0)
        || (!group->configure_only
            && (httpd_write_config(g_srv, group->config_of ? group->config_of()
                                                            : group->config) != 0
                || httpd_start(g_srv) != 0
                || httpd_error_log_wait(g_srv, "resuming normal operations", 0,
                                        BOUNDED_WAIT_MS) < 0))) {
        fprintf(stderr, "suite %s (%s): cannot start httpd\n", group->name, mpm);
        if (group->cleanup) {
            group->cleanup();
        }
        httpd_free(g_srv);
        g_srv = NULL;
    }
    return g_srv;
}

/* ---- the suites of a group ------------------------------------------ */

#define MAX_SUITES 64

static struct {
    CU_pSuite suite;
    const suite_group *group;
    const char *mpm;
} suites[MAX_SUITES], *now;   /* now: the suite running */
static int nsuites;

static int group_init(void)
{
    for (now = suites; now->suite != CU_get_current_suite(); now++) {   /* registered below */
    }
    g_failures_at_init = CU_get_number_of_failures();
    if (start_minilink_server(now->mpm, now->group) == NULL) {
        g_tests_not_run += count_tests(now->group->tests) + !now->group->configure_only;
        return -1;
    }
    return 0;
}

static int group_cleanup(void)
{
    if (now->group->cleanup) {
        now->group->cleanup();
    }
    return suite_cleanup();
}

/* Last in every suite of a group: nothing crashed, and the server stops cleanly (then the group's
 * checks of what the stop left). */
static void test_epilogue(void)
{
    const suite_group *group = now->group;
    int left;

    expect_log_clean_at(__FILE__, __LINE__, g_srv,
                        group->bad_lines ? group->bad_lines : crash_lines);
    left = httpd_stop_clean(g_srv);
    CHECK(left == 0, "stopping httpd: %d process(es) did not stop on SIGTERM (the "
          "parent counts as one)", left);
    CHECK(httpd_process_count(g_srv) == 0, "httpd processes still running after stop");
    if (group->after_stop) {
        group->after_stop();
    }
}

void add_group(const suite_group *group)
{
    const char *one[] = { group->mpm, NULL };
    const char *const *mpms = group->mpm ? one : all_mpms;
    int i, k;

    for (i = 0; mpms[i] && nsuites < MAX_SUITES; i++) {
        char *name = group->mpm ? xstrdup(group->name)
                     : group->name[0] ? xasprintf("%s-%s", group->name, mpms[i])
                     : xstrdup(mpms[i]);
        CU_pSuite suite = CU_add_suite_with_setup_and_teardown(
            name, group_init, group_cleanup, NULL, test_teardown);

        free(name);   /* CUnit keeps a copy */
        for (k = 0; suite && group->tests[k].pName; k++) {
            CU_add_test(suite, group->tests[k].pName, group->tests[k].pTestFunc);
        }
        if (suite == NULL || (!group->configure_only
                              && CU_add_test(suite, "error log clean, clean stop",
                                             test_epilogue) == NULL)) {
            fprintf(stderr, "CUnit: cannot register %s: %s\n", group->name, CU_get_error_msg());
            return;
        }
        suites[nsuites].suite = suite;
        suites[nsuites].group = group;
        suites[nsuites++].mpm = mpms[i];
    }
}

unsigned int count_tests(const CU_TestInfo *tests)
{
    unsigned int n;
    for (n = 0; tests[n].pName; n++) {
    }
    return n;
}

int suite_cleanup(void)
{
    if (g_srv && CU_get_number_of_failures() != g_failures_at_init) {
        fprintf(stderr, "\nsuite had failures; error log of the %s server:\n", g_srv->mpm);
        httpd_error_log_dump(g_srv);
    }
    httpd_free(g_srv);   /* stops the server */
    g_srv = NULL;
    g_count_click = NULL;
    g_cli_db = NULL;
    apr_pool_clear(tpool());
    return 0;
}

/* ---- main ----------------------------------------------------------- */

/* MINILINK_SUITES="event,configtest" runs only those suites. */
static void select_suites(const char *names)
{
    CU_pSuite suite;

    for (suite = CU_get_registry()->pSuite; names && *names && suite; suite = suite->pNext) {
        char *list = xasprintf(",%s,", names), *name = xasprintf(",%s,", suite->pName);

        CU_set_suite_active(suite, strstr(list, name) ? CU_TRUE : CU_FALSE);
        free(list);
        free(name);
    }
}

int main(void)
{
    const char *tally = getenv("TEST_TALLY");
    unsigned int failed, passed;
    int status;
    FILE *f;

    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK || apr_initialize() != APR_SUCCESS
        || apr_pool_create(&g_pool, NULL) != APR_SUCCESS
        || CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "cannot initialise curl, APR or CUnit\n");
        return 2;
    }
    add_httpd_suites();
    add_live_suites();
    add_clicks_suites();
    add_access_suites();
    add_early_suites();
    add_findings_suites();
    add_browser_suites();
    add_hostile_suites();
    add_drill_suites();
    add_visits_suites();
    add_pgsql_suites();
    add_rules_suites();
    add_upgrade_suites();
    add_import_suites();
    add_api_suites();
    add_admin_pages_suites();
    select_suites(getenv("MINILINK_SUITES"));
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();

    failed = CU_get_number_of_tests_failed() + g_tests_not_run;
    passed = CU_get_number_of_tests_run() - CU_get_number_of_tests_failed();
    status = failed || CU_get_number_of_suites_failed() || CU_get_run_summary()->nAssertsFailed;
    printf("\nintegration: %u tests passed, %u failed (%u not run: suite init failed)\n",
           passed, failed, g_tests_not_run);
    if (tally && *tally && (f = fopen(tally, "a")) != NULL) {
        fprintf(f, "%u %u\n", passed, failed);
        fclose(f);
    }
    CU_cleanup_registry();
    apr_pool_destroy(g_pool);
    apr_terminate();
    curl_global_cleanup();
    return status;
}
