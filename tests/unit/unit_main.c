/*
 * unit_main.c - the CUnit runner for every unit suite.
 *
 * Prints CUnit's verbose run and its "Run Summary".  If $TEST_TALLY names a
 * file, appends "<passed> <failed>\n" to it (the Makefile's "test" target
 * adds the runners' lines up).  Exits non-zero when a test failed, a suite
 * could not be set up, or CUnit itself reported an error.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <apr_general.h>
#include <CUnit/Basic.h>
#include "unit_helpers.h"
#include "unit_suites.h"

/*
 * UNIT_SUITES="cache,clicks" runs only the suites whose names start with
 * one of those words (the sanitizer and valgrind runs use it); unset, all.
 */
static void select_suites(const char *wanted)
{
    CU_pSuite suite;

    if (wanted == NULL || *wanted == '\0') {
        return;
    }
    CU_set_fail_on_inactive(CU_FALSE);     /* left out on purpose */
    for (suite = CU_get_registry()->pSuite; suite; suite = suite->pNext) {
        const char *at = wanted;
        int chosen = 0;
        while (*at && !chosen) {
            size_t len = strcspn(at, ",");
            chosen = strncmp(suite->pName, at, len) == 0
                     && (suite->pName[len] == '\0' || suite->pName[len] == ' ');
            at += len + (at[len] == ',');
        }
        CU_set_suite_active(suite, chosen);
    }
}

int main(void)
{
    unsigned int run, failed, suites_failed;
    CU_ErrorCode error;
    const char *tally;
    int status;

    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "unit_tests: apr_initialize failed\n");
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "unit_tests: %s\n", CU_get_error_msg());
        apr_terminate();
        return 2;
    }
    add_link_suite();
    add_rules_suite();
    add_host_suite();
    add_form_token_suite();
    add_cache_suite();
    add_store_suite();
    add_list_suite();
    add_apikey_suite();
    add_multipart_suite();
    add_store_api_suite();
    add_upgrade_suite();
    add_load_suite();
    add_clicks_suite();
    add_visits_suite();
    add_agent_suite();
    add_drain_suite();
    add_cli_suite();
    add_cli_edit_suite();
    add_cli_import_suite();
    add_chart_suite();
    add_tags_suite();
    error = CU_get_error();
    if (error == CUE_SUCCESS) {
        select_suites(getenv("UNIT_SUITES"));
    }
    if (error != CUE_SUCCESS) {
        fprintf(stderr, "unit_tests: registering the tests: %s\n",
                CU_get_error_msg());
    }
    else {
        CU_basic_set_mode(CU_BRM_VERBOSE);
        error = CU_basic_run_tests();
    }
    ut_scratch_close_leftovers();

    run = CU_get_number_of_tests_run();
    failed = CU_get_number_of_tests_failed();
    suites_failed = CU_get_number_of_suites_failed();
    tally = getenv("TEST_TALLY");
    if (tally != NULL && *tally != '\0') {
        FILE *file = fopen(tally, "a");
        if (file == NULL || fprintf(file, "%u %u\n", run - failed, failed) < 0) {
            perror(tally);
            error = error != CUE_SUCCESS ? error : CUE_FOPEN_FAILED;
        }
        if (file != NULL) {
            fclose(file);
        }
    }
    status = failed > 0 || suites_failed > 0 || error != CUE_SUCCESS;
    CU_cleanup_registry();
    apr_terminate();
    return status;
}
