/*
 * test_tags.c - every ML tag is written at one place, and the README's
 * table lists each.
 *
 * An admin greps the error log for a tag and the README for what it means:
 * two places logging one number (ML00004 and ML00015 once did) make that
 * lie, and so does a tag missing from the table.  Reads the module's
 * sources from the directory the tests run in (the checkout's top, as the
 * Makefile runs them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "unit_helpers.h"
#include "unit_suites.h"

#define MOST_TAGS 100000

/* The whole file, NUL-terminated, from pool; NULL if it cannot be read. */
static char *read_whole(const char *path, apr_pool_t *pool)
{
    FILE *in = fopen(path, "rb");
    char *text = NULL;
    long size;

    if (in && fseek(in, 0, SEEK_END) == 0 && (size = ftell(in)) >= 0
        && fseek(in, 0, SEEK_SET) == 0) {
        text = apr_palloc(pool, (apr_size_t)size + 1);
        if (fread(text, 1, (apr_size_t)size, in) != (apr_size_t)size) {
            text = NULL;
        }
        else {
            text[size] = '\0';
        }
    }
    if (in) {
        fclose(in);
    }
    return text;
}

/* Adds the tags written with MLLOGNO(nnnnn) in text to uses[]. */
static void count_uses(const char *path, const char *text, int *uses,
                       const char **where, apr_pool_t *pool)
{
    const char *at;

    for (at = strstr(text, "MLLOGNO("); at; at = strstr(at + 1, "MLLOGNO(")) {
        char *end;
        long tag = strtol(at + 8, &end, 10);
        if (end != at + 13 || *end != ')' || tag <= 0 || tag >= MOST_TAGS) {
            continue;           /* the macro's own definition */
        }
        if (uses[tag]++ == 0) {
            where[tag] = apr_pstrdup(pool, path);
        }
        else {
            where[tag] = apr_pstrcat(pool, where[tag], " and ", path, NULL);
        }
    }
}

/* The module's C files: mod_minilink.c and module/ (*.c). */
static int scan_sources(int *uses, const char **where, apr_pool_t *pool)
{
    apr_dir_t *dir;
    apr_finfo_t entry;
    char *text = read_whole("mod_minilink.c", pool);
    int files = 0;

    if (text) {
        count_uses("mod_minilink.c", text, uses, where, pool);
        files++;
    }
    if (apr_dir_open(&dir, "module", pool) != APR_SUCCESS) {
        return files;
    }
    while (apr_dir_read(&entry, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        apr_size_t len = strlen(entry.name);
        char *path;
        if (len < 3 || strcmp(entry.name + len - 2, ".c") != 0) {
            continue;
        }
        path = apr_pstrcat(pool, "module/", entry.name, NULL);
        if ((text = read_whole(path, pool)) != NULL) {
            count_uses(path, text, uses, where, pool);
            files++;
        }
    }
    apr_dir_close(dir);
    return files;
}

static void test_every_tag_once_and_in_the_readme(void)
{
    ut_scratch scratch;
    int *uses, tag, found = 0;
    const char **where;
    char *readme;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    uses = apr_pcalloc(scratch.pool, MOST_TAGS * sizeof(*uses));
    where = apr_pcalloc(scratch.pool, MOST_TAGS * sizeof(*where));
    readme = read_whole("README", scratch.pool);
    if (readme == NULL || scan_sources(uses, where, scratch.pool) < 5) {
        CU_FAIL_FATAL("run the unit tests from the checkout's top directory "
                      "(README, mod_minilink.c and module/ not found)");
    }
    for (tag = 1; tag < MOST_TAGS; tag++) {
        char row[24];
        if (uses[tag] == 0) {
            continue;
        }
        found++;
        if (uses[tag] > 1) {
            fprintf(stderr, "\n    ML%05d is written %d times: %s\n", tag,
                    uses[tag], where[tag]);
        }
        CU_ASSERT_EQUAL(uses[tag], 1);
        snprintf(row, sizeof(row), "| ML%05d |", tag);
        if (strstr(readme, row) == NULL) {
            fprintf(stderr, "\n    ML%05d (%s) has no row in the README's "
                    "table of tags\n", tag, where[tag]);
            CU_FAIL("a tag missing from the README");
        }
    }
    /* The table lists no tag the code does not write. */
    {
        const char *at;
        for (at = strstr(readme, "| ML"); at; at = strstr(at + 1, "| ML")) {
            long listed = strtol(at + 4, NULL, 10);
            if (listed > 0 && listed < MOST_TAGS && uses[listed] == 0) {
                fprintf(stderr, "\n    the README lists ML%05ld, which no "
                        "code writes\n", listed);
                CU_FAIL("a README row for a tag no code writes");
            }
        }
    }
    CU_ASSERT_TRUE(found >= 30);
    ut_scratch_close(&scratch);
}

void add_tags_suite(void)
{
    CU_pSuite suite = CU_add_suite("tags", NULL, NULL);

    CU_add_test(suite, "every ML tag: written once, in the README's table",
                test_every_tag_once_and_in_the_readme);
}
