/*
 * test_multipart.c - multipart/form-data bodies (links/ml_multipart.h),
 * as ShareX posts them to a YOURLS API, and broken ones.
 */
#include <string.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_multipart.h"
#include "unit_suites.h"

/* What ShareX's uploader sends: .NET's boundary, CRLF everywhere. */
static const char sharex_type[] =
    "multipart/form-data; boundary=--------------------8dc1a2b3c4d5e6f";
static const char sharex_body[] =
    "----------------------8dc1a2b3c4d5e6f\r\n"
    "Content-Disposition: form-data; name=\"signature\"\r\n\r\n"
    "abc123\r\n"
    "----------------------8dc1a2b3c4d5e6f\r\n"
    "Content-Disposition: form-data; name=\"action\"\r\n\r\n"
    "shorturl\r\n"
    "----------------------8dc1a2b3c4d5e6f\r\n"
    "Content-Disposition: form-data; name=\"url\"\r\n\r\n"
    "https://example.com/a?b=c&d=e\r\n"
    "----------------------8dc1a2b3c4d5e6f\r\n"
    "Content-Disposition: form-data; name=\"format\"\r\n\r\n"
    "simple\r\n"
    "----------------------8dc1a2b3c4d5e6f--\r\n";

static void test_sharex_body(void)
{
    apr_pool_t *pool;
    apr_table_t *fields;

    apr_pool_create(&pool, NULL);
    fields = apr_table_make(pool, 4);
    CU_ASSERT_PTR_NULL(ml_multipart_fields(sharex_type, sharex_body,
                                           strlen(sharex_body), fields, pool));
    CU_ASSERT_STRING_EQUAL(apr_table_get(fields, "signature"), "abc123");
    CU_ASSERT_STRING_EQUAL(apr_table_get(fields, "action"), "shorturl");
    CU_ASSERT_STRING_EQUAL(apr_table_get(fields, "url"),
                           "https://example.com/a?b=c&d=e");
    CU_ASSERT_STRING_EQUAL(apr_table_get(fields, "format"), "simple");
    apr_pool_destroy(pool);
}

static void test_quoted_boundary_and_odd_values(void)
{
    static const char body[] =
        "preamble to ignore\r\n--b b\r\n"
        "content-disposition: form-data; filename=\"x.txt\"; name=\"title\"\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "two\r\nlines\r\n--b b\r\n"
        "Content-Disposition: form-data; name=empty\r\n\r\n"
        "\r\n--b b--";
    static const char with_nul[] =
        "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\na\0b\r\n--b--";
    apr_pool_t *pool;
    apr_table_t *fields;

    apr_pool_create(&pool, NULL);
    fields = apr_table_make(pool, 4);
    CU_ASSERT_PTR_NULL(ml_multipart_fields("multipart/form-data; boundary=\"b b\"",
                                           body, sizeof(body) - 1, fields, pool));
    CU_ASSERT_STRING_EQUAL(apr_table_get(fields, "title"), "two\r\nlines");
    CU_ASSERT_STRING_EQUAL(apr_table_get(fields, "empty"), "");
    fields = apr_table_make(pool, 4);
    CU_ASSERT_PTR_NULL(ml_multipart_fields("multipart/form-data; boundary=b",
                                           with_nul, sizeof(with_nul) - 1,
                                           fields, pool));
    CU_ASSERT_PTR_NULL(apr_table_get(fields, "x"));   /* a NUL: left out */
    apr_pool_destroy(pool);
}

static void test_broken_bodies(void)
{
    static const struct {
        const char *type, *body;
    } cases[] = {
        { "multipart/form-data", "--b\r\n\r\n--b--" },          /* no boundary */
        { "multipart/form-data; boundary=", "--\r\n" },
        { "multipart/form-data; boundary=b", "no delimiter at all" },
        { "multipart/form-data; boundary=b",                     /* not closed */
          "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue" },
        { "multipart/form-data; boundary=b",                     /* no blank line */
          "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n--b--" },
        { "multipart/form-data; boundary=b",                     /* no name */
          "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--" },
        { "multipart/form-data; boundary=b", "--bX" },
        { "multipart/form-data; boundary=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "--x" },           /* 71 */
    };
    apr_pool_t *pool;
    size_t i;

    apr_pool_create(&pool, NULL);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        apr_table_t *fields = apr_table_make(pool, 4);
        CU_ASSERT_PTR_NOT_NULL(ml_multipart_fields(cases[i].type, cases[i].body,
                                                   strlen(cases[i].body),
                                                   fields, pool));
    }
    CU_ASSERT_PTR_NOT_NULL(ml_multipart_fields(NULL, "", 0,
                                               apr_table_make(pool, 1), pool));
    apr_pool_destroy(pool);
}

void add_multipart_suite(void)
{
    CU_pSuite suite = CU_add_suite("multipart", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "what ShareX posts", test_sharex_body);
    CU_add_test(suite, "a quoted boundary, multi-line and empty values, a NUL",
                test_quoted_boundary_and_odd_values);
    CU_add_test(suite, "broken bodies are refused", test_broken_bodies);
}
