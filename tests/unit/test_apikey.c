/*
 * test_apikey.c - API keys: made at random, stored as a SHA-256 only
 * (links/ml_apikey.h), and kept in the store (ml_store_api_key_*).
 */
#include <string.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_apikey.h"
#include "../../links/ml_store.h"
#include "unit_helpers.h"
#include "unit_suites.h"

static void test_key_and_hash(void)
{
    apr_pool_t *pool;
    const char *one, *two;

    apr_pool_create(&pool, NULL);
    /* FIPS 180-2's example: SHA-256("abc"). */
    CU_ASSERT_STRING_EQUAL(ml_api_key_hash("abc", pool),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    one = ml_api_key_new(pool);
    two = ml_api_key_new(pool);
    CU_ASSERT_PTR_NOT_NULL_FATAL(one);
    CU_ASSERT_PTR_NOT_NULL_FATAL(two);
    CU_ASSERT_EQUAL(strlen(one), ML_API_KEY_CHARS);
    CU_ASSERT_EQUAL(strspn(one, "0123456789abcdef"), ML_API_KEY_CHARS);
    CU_ASSERT_STRING_NOT_EQUAL(one, two);
    CU_ASSERT_EQUAL(strlen(ml_api_key_hash(one, pool)), ML_API_KEY_HASH_CHARS);
    apr_pool_destroy(pool);
}

static void test_roles_and_names(void)
{
    int role;

    for (role = 0; role < ML_ROLES; role++) {
        CU_ASSERT_EQUAL(ml_role_of(ml_role_name((ml_role)role)), role);
    }
    CU_ASSERT_EQUAL(ml_role_of("root"), -1);
    CU_ASSERT_EQUAL(ml_role_of(NULL), -1);
    CU_ASSERT_PTR_NULL(ml_api_key_name_problem("share-X_1.a@b"));
    CU_ASSERT_PTR_NOT_NULL(ml_api_key_name_problem(""));
    CU_ASSERT_PTR_NOT_NULL(ml_api_key_name_problem("a b"));
    CU_ASSERT_PTR_NOT_NULL(ml_api_key_name_problem("a'b"));
    CU_ASSERT_PTR_NOT_NULL(ml_api_key_name_problem(
        "x123456789x123456789x123456789x123456789x123456789x123456789x1234"));
}

typedef struct {
    apr_pool_t *pool;
    const char *seen;
} listed_keys;

static apr_status_t list_key(void *ctx, const ml_store_api_key *key)
{
    listed_keys *listed = ctx;

    listed->seen = apr_psprintf(listed->pool, "%s%s:%s:%" APR_INT64_T_FMT " ",
                                listed->seen, key->name,
                                ml_role_name(key->role), key->expires_at);
    return APR_SUCCESS;
}

static void test_store_keeps_hashes(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_store_api_key key = { "alice", ML_ROLE_AUTHOR, 0, 0 }, found;
    ml_store_api_key ops = { "ops", ML_ROLE_READ_ONLY, 1900000000, 0 };
    listed_keys listed;
    const char *secret, *hash, *path;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_path(&scratch, "links.db");
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_CREATE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_init(store), APR_SUCCESS);
    secret = ml_api_key_new(scratch.pool);
    hash = ml_api_key_hash(secret, scratch.pool);
    CU_ASSERT_EQUAL(ml_store_api_key_add(store, &key, hash), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_api_key_add(store, &ops,
                    ml_api_key_hash("other", scratch.pool)), APR_SUCCESS);
    /* The hash is stored, the key itself nowhere. */
    CU_ASSERT_EQUAL(ut_sql_number(path, apr_psprintf(scratch.pool,
        "SELECT count(*) FROM api_keys WHERE key_hash = '%s'", hash)), 1);
    CU_ASSERT_EQUAL(ut_sql_number(path, apr_psprintf(scratch.pool,
        "SELECT count(*) FROM api_keys WHERE instr(name || key_hash || role,"
        " '%s') > 0", secret)), 0);
    memset(&found, 0, sizeof(found));
    CU_ASSERT_EQUAL(ml_store_api_key_find(store, hash, &found, scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(found.name, "alice");
    CU_ASSERT_EQUAL(found.role, ML_ROLE_AUTHOR);
    CU_ASSERT_EQUAL(found.expires_at, 0);
    CU_ASSERT(found.created_at > 1700000000);
    CU_ASSERT_EQUAL(ml_store_api_key_find(store, ml_api_key_hash(secret + 1,
                    scratch.pool), &found, scratch.pool), APR_ENOENT);
    /* A name is given once; a bad name, role or hash is refused. */
    CU_ASSERT_EQUAL(ml_store_api_key_add(store, &key,
                    ml_api_key_hash("third", scratch.pool)), APR_EEXIST);
    key.name = "bad name";
    CU_ASSERT_EQUAL(ml_store_api_key_add(store, &key, hash), APR_EINVAL);
    key.name = "carol";
    CU_ASSERT_EQUAL(ml_store_api_key_add(store, &key, secret + 1), APR_EINVAL);
    key.role = ML_ROLES;
    CU_ASSERT_EQUAL(ml_store_api_key_add(store, &key, hash), APR_EINVAL);
    listed.pool = scratch.pool;
    listed.seen = "";
    CU_ASSERT_EQUAL(ml_store_api_key_each(store, list_key, &listed), APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(listed.seen, "alice:author:0 ops:read-only:1900000000 ");
    CU_ASSERT_EQUAL(ml_store_api_key_remove(store, "alice"), APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_api_key_remove(store, "alice"), APR_ENOENT);
    CU_ASSERT_EQUAL(ml_store_api_key_find(store, hash, &found, scratch.pool),
                    APR_ENOENT);
    ut_scratch_close(&scratch);
}

/* A version-2 database has no keys yet: what to do is said. */
static void test_version_2_says_upgrade(void)
{
    ut_scratch scratch;
    ml_store *store;
    ml_store_api_key key = { "alice", ML_ROLE_ADMIN, 0, 0 };
    const char *path;

    CU_ASSERT_FATAL(ut_scratch_open(&scratch));
    path = ut_path(&scratch, "v2.db");
    CU_ASSERT_EQUAL_FATAL(apr_file_copy("tests/fixtures/v2.db", path,
                                        APR_FPROT_FILE_SOURCE_PERMS,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&store, path, ML_STORE_WRITE,
                                        scratch.pool), APR_SUCCESS);
    CU_ASSERT_NOT_EQUAL(ml_store_api_key_add(store, &key,
                        ml_api_key_hash("k", scratch.pool)), APR_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(ml_store_error(store), "upgrade"));
    ut_scratch_close(&scratch);
}

void add_apikey_suite(void)
{
    CU_pSuite suite = CU_add_suite("apikey", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "keys are random hex; the hash is SHA-256", test_key_and_hash);
    CU_add_test(suite, "roles and names", test_roles_and_names);
    CU_add_test(suite, "the store keeps names, roles, expiry and hashes only",
                test_store_keeps_hashes);
    CU_add_test(suite, "a version-2 database: run upgrade", test_version_2_says_upgrade);
}
