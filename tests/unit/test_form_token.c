/*
 * test_form_token.c - the creation form's CSRF tokens
 * (links/ml_form_token.h): made and checked at given times, so expiry is
 * tested without waiting.
 */
#include <string.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_form_token.h"
#include "unit_suites.h"

#define NOW APR_INT64_C(1700000000)

static const unsigned char key[ML_FORM_KEY_BYTES] = "0123456789abcdef0123456789abcde";
static const unsigned char other_key[ML_FORM_KEY_BYTES] = "another key, another server....";

static ml_form_token_state check(const unsigned char *with, const char *token,
                                 apr_int64_t now)
{
    apr_int64_t made_at = -1;
    ml_form_token_state state = ml_form_token_check(with, token, now, &made_at);

    if (state != ML_FORM_TOKEN_FORGED) {
        CU_ASSERT_EQUAL(made_at, NOW);
    }
    return state;
}

static void test_token_valid_until_it_expires(void)
{
    char token[ML_FORM_TOKEN_CHARS + 1];

    CU_ASSERT_EQUAL_FATAL(ml_form_token_make(key, NOW, token), APR_SUCCESS);
    CU_ASSERT_EQUAL(strlen(token), ML_FORM_TOKEN_CHARS);
    CU_ASSERT_EQUAL(check(key, token, NOW), ML_FORM_TOKEN_VALID);
    CU_ASSERT_EQUAL(check(key, token, NOW + ML_FORM_LIFETIME), ML_FORM_TOKEN_VALID);
    CU_ASSERT_EQUAL(check(key, token, NOW + ML_FORM_LIFETIME + 1),
                    ML_FORM_TOKEN_EXPIRED);
    /* Made "later" than now: the clock was set back since. */
    CU_ASSERT_EQUAL(check(key, token, NOW - 3600), ML_FORM_TOKEN_EXPIRED);
}

static void test_token_of_another_key_is_forged(void)
{
    char token[ML_FORM_TOKEN_CHARS + 1];

    CU_ASSERT_EQUAL_FATAL(ml_form_token_make(other_key, NOW, token), APR_SUCCESS);
    CU_ASSERT_EQUAL(check(key, token, NOW), ML_FORM_TOKEN_FORGED);
    CU_ASSERT_EQUAL(check(other_key, token, NOW), ML_FORM_TOKEN_VALID);
}

/* Any one character changed - the time, the nonce or the MAC - and the
 * token is no longer ours. */
static void test_token_changed_anywhere_is_forged(void)
{
    char token[ML_FORM_TOKEN_CHARS + 1], changed[ML_FORM_TOKEN_CHARS + 1];
    int i, forged = 0;

    CU_ASSERT_EQUAL_FATAL(ml_form_token_make(key, NOW, token), APR_SUCCESS);
    for (i = 0; i < ML_FORM_TOKEN_CHARS; i++) {
        memcpy(changed, token, sizeof(token));
        changed[i] = changed[i] == '0' ? '1' : '0';
        forged += check(key, changed, NOW) == ML_FORM_TOKEN_FORGED;
    }
    CU_ASSERT_EQUAL(forged, ML_FORM_TOKEN_CHARS);
}

/* What a site could plant as a cookie: the old tokens' shape, or
 * anything else. */
static void test_planted_values_are_forged(void)
{
    char token[ML_FORM_TOKEN_CHARS + 1], upper[ML_FORM_TOKEN_CHARS + 1];
    size_t i;

    CU_ASSERT_EQUAL(check(key, "00000000000000000000000000000000", NOW),
                    ML_FORM_TOKEN_FORGED);
    CU_ASSERT_EQUAL(check(key, "000000000000000000000000000000000000000000000000",
                          NOW), ML_FORM_TOKEN_FORGED);
    CU_ASSERT_EQUAL(check(key, "", NOW), ML_FORM_TOKEN_FORGED);
    CU_ASSERT_EQUAL(check(key, NULL, NOW), ML_FORM_TOKEN_FORGED);
    CU_ASSERT_EQUAL_FATAL(ml_form_token_make(key, NOW, token), APR_SUCCESS);
    for (i = 0; i <= ML_FORM_TOKEN_CHARS; i++) {
        upper[i] = token[i] >= 'a' && token[i] <= 'f' ? (char)(token[i] - 32)
                                                       : token[i];
    }
    if (strcmp(upper, token) != 0) {
        CU_ASSERT_EQUAL(check(key, upper, NOW), ML_FORM_TOKEN_FORGED);
    }
    token[ML_FORM_TOKEN_CHARS - 1] = '\0';        /* one character short */
    CU_ASSERT_EQUAL(check(key, token, NOW), ML_FORM_TOKEN_FORGED);
}

static void test_tokens_of_one_second_differ(void)
{
    char one[ML_FORM_TOKEN_CHARS + 1], two[ML_FORM_TOKEN_CHARS + 1];

    CU_ASSERT_EQUAL_FATAL(ml_form_token_make(key, NOW, one), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_form_token_make(key, NOW, two), APR_SUCCESS);
    CU_ASSERT_STRING_NOT_EQUAL(one, two);
}

void add_form_token_suite(void)
{
    CU_pSuite suite = CU_add_suite("form_token", NULL, NULL);

    CU_add_test(suite, "a token is valid for ML_FORM_LIFETIME, then expired",
                test_token_valid_until_it_expires);
    CU_add_test(suite, "another key's token is forged",
                test_token_of_another_key_is_forged);
    CU_add_test(suite, "a token changed anywhere is forged",
                test_token_changed_anywhere_is_forged);
    CU_add_test(suite, "planted values are forged", test_planted_values_are_forged);
    CU_add_test(suite, "two tokens of one second differ",
                test_tokens_of_one_second_differ);
}
