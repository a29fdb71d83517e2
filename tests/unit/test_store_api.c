/*
 * test_store_api.c - what the management APIs ask of the store beyond a
 * listing (links/ml_store.h, schema 3): tags with their links and visits,
 * a tag renamed or deleted, the visits of every link or of a tag's (an
 * owner's only, when asked), visits deleted, the totals.
 */
#include <string.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_store.h"
#include "unit_helpers.h"
#include "unit_suites.h"

typedef struct {
    ut_scratch scratch;
    ml_store *store;
    const char *path;
} api_store;

/* Links a (tags x y, alice's), b (tag y, bob's), c (no tag, an admin's),
 * with 3, 2 and 0 visits (one of a's a bot) and one orphan visit. */
static int open_api_store(api_store *s)
{
    static const struct { const char *slug, *tags, *owner; } rows[] = {
        { "a", "x y", "alice" }, { "b", "y", "bob" }, { "c", "", NULL } };
    ml_store_visit visits[6];
    size_t i;

    if (!ut_scratch_open(&s->scratch)) {
        return 0;
    }
    s->path = ut_path(&s->scratch, "links.db");
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&s->store, s->path, ML_STORE_CREATE,
                                        s->scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_init(s->store), APR_SUCCESS);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ml_link link = ut_link(rows[i].slug, apr_pstrcat(s->scratch.pool,
                               "https://example.com/", rows[i].slug, NULL),
                               0, 0, 0);
        apr_array_header_t *tags = apr_array_make(s->scratch.pool, 2,
                                                  sizeof(const char *));
        char *names = apr_pstrdup(s->scratch.pool, rows[i].tags), *last;
        const char *name;
        for (name = apr_strtok(names, " ", &last); name;
             name = apr_strtok(NULL, " ", &last)) {
            APR_ARRAY_PUSH(tags, const char *) = name;
        }
        link.tags = tags->nelts ? tags : NULL;
        link.owner = rows[i].owner;
        CU_ASSERT_EQUAL_FATAL(ml_store_add(s->store, &link, s->scratch.pool),
                              APR_SUCCESS);
    }
    memset(visits, 0, sizeof(visits));
    for (i = 0; i < 6; i++) {
        visits[i].link_id = i < 3 ? 1 : i < 5 ? 2 : 0;
        visits[i].visited_at = 1700000000 + (apr_int64_t)i;
        visits[i].orphan_type = i == 5 ? "invalid_short_url" : NULL;
        visits[i].bot = i == 0;
        visits[i].redirect_url = i == 5 ? NULL : "https://example.com/";
        visits[i].visited_path = "/l/x";
    }
    CU_ASSERT_EQUAL_FATAL(ml_store_write_begin(s->store), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_add_visits(s->store, visits, 6,
                                              s->scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_write_commit(s->store), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ut_sql(s->path, "UPDATE links SET clicks = CASE slug"
                                 " WHEN 'a' THEN 3 WHEN 'b' THEN 2 ELSE 0 END",
                                 NULL), 0);
    return 1;
}

typedef struct {
    apr_pool_t *pool;
    const char *text;
} seen_text;

static apr_status_t see_tag(void *ctx, const ml_store_tag *tag)
{
    seen_text *seen = ctx;

    seen->text = apr_psprintf(seen->pool, "%s%s:%" APR_INT64_T_FMT ":%"
                              APR_INT64_T_FMT ":%" APR_INT64_T_FMT " ",
                              seen->text, tag->name, tag->links, tag->clicks,
                              tag->bots);
    return APR_SUCCESS;
}

static apr_status_t see_visit(void *ctx, const ml_store_visit *visit)
{
    seen_text *seen = ctx;

    seen->text = apr_psprintf(seen->pool, "%s%" APR_INT64_T_FMT "@%"
                              APR_INT64_T_FMT " ", seen->text, visit->link_id,
                              visit->visited_at - 1700000000);
    return APR_SUCCESS;
}

static const char *tags_of(api_store *s, const char *owner)
{
    seen_text seen = { s->scratch.pool, "" };

    CU_ASSERT_EQUAL(ml_store_each_tag(s->store, owner, see_tag, &seen),
                    APR_SUCCESS);
    return seen.text;
}

static void test_tag_stats(void)
{
    api_store s;

    CU_ASSERT_FATAL(open_api_store(&s));
    CU_ASSERT_STRING_EQUAL(tags_of(&s, NULL), "x:1:3:1 y:2:5:1 ");
    CU_ASSERT_STRING_EQUAL(tags_of(&s, "bob"), "y:1:2:0 ");
    CU_ASSERT_STRING_EQUAL(tags_of(&s, "nobody"), "");
    ut_scratch_close(&s.scratch);
}

static void test_tags_renamed_and_deleted(void)
{
    static const char *const doomed[] = { "x", "nosuch" };
    api_store s;
    ml_link link;
    int deleted = -1;

    CU_ASSERT_FATAL(open_api_store(&s));
    CU_ASSERT_EQUAL(ml_store_rename_tag(s.store, "y", "z"), APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(tags_of(&s, NULL), "x:1:3:1 z:2:5:1 ");
    CU_ASSERT_EQUAL(ml_store_rename_tag(s.store, "z", "x"), APR_EEXIST);
    CU_ASSERT_EQUAL(ml_store_rename_tag(s.store, "nosuch", "w"), APR_ENOENT);
    CU_ASSERT_EQUAL(ml_store_rename_tag(s.store, "z", "a b"), APR_EINVAL);
    CU_ASSERT_EQUAL(ml_store_delete_tags(s.store, doomed, 2, &deleted),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(deleted, 1);
    CU_ASSERT_STRING_EQUAL(tags_of(&s, NULL), "z:2:5:1 ");
    CU_ASSERT_EQUAL(ml_store_get(s.store, "a", &link, NULL, s.scratch.pool),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(link.tags->nelts, 1);
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(link.tags, 0, const char *), "z");
    /* The refresher hears of each link a rename or deletion touched. */
    /* (after c was stored: b's rename; a's rename and deletion) */
    CU_ASSERT_EQUAL(ut_sql_number(s.path, "SELECT count(*) FROM link_changes"
                                  " WHERE slug = 'b' AND seq > (SELECT"
                                  " max(seq) FROM link_changes WHERE"
                                  " slug = 'c')"), 1);
    CU_ASSERT_EQUAL(ut_sql_number(s.path, "SELECT count(*) FROM link_changes"
                                  " WHERE slug = 'a' AND seq > (SELECT"
                                  " max(seq) FROM link_changes WHERE"
                                  " slug = 'c')"), 2);
    ut_scratch_close(&s.scratch);
}

static const char *visits_of(api_store *s, ml_store_visit_query *q,
                             apr_uint64_t *count)
{
    seen_text seen = { s->scratch.pool, "" };

    CU_ASSERT_EQUAL(ml_store_each_visit(s->store, q, see_visit, &seen),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(ml_store_count_visits(s->store, q, count), APR_SUCCESS);
    return seen.text;
}

static void test_visits_of_many_links(void)
{
    api_store s;
    ml_store_visit_query q;
    ml_store_visit_totals totals;
    apr_uint64_t count = 0, deleted = 0;

    CU_ASSERT_FATAL(open_api_store(&s));
    memset(&q, 0, sizeof(q));
    q.links = 1;
    q.newest_first = 1;
    CU_ASSERT_STRING_EQUAL(visits_of(&s, &q, &count), "2@4 2@3 1@2 1@1 1@0 ");
    CU_ASSERT_EQUAL(count, 5);
    q.limit = 2;
    q.offset = 1;
    CU_ASSERT_STRING_EQUAL(visits_of(&s, &q, &count), "2@3 1@2 ");
    CU_ASSERT_EQUAL(count, 5);
    memset(&q, 0, sizeof(q));
    q.tag = "x";
    CU_ASSERT_STRING_EQUAL(visits_of(&s, &q, &count), "1@0 1@1 1@2 ");
    q.owner = "bob";
    CU_ASSERT_STRING_EQUAL(visits_of(&s, &q, &count), "");
    CU_ASSERT_EQUAL(count, 0);
    q.tag = NULL;
    q.links = 1;
    CU_ASSERT_STRING_EQUAL(visits_of(&s, &q, &count), "2@3 2@4 ");
    q.since = 1700000004;
    CU_ASSERT_STRING_EQUAL(visits_of(&s, &q, &count), "2@4 ");
    CU_ASSERT_EQUAL(ml_store_visit_totals_of(s.store, &totals), APR_SUCCESS);
    CU_ASSERT_EQUAL(totals.clicks, 5);
    CU_ASSERT_EQUAL(totals.bots, 1);
    CU_ASSERT_EQUAL(totals.orphans, 1);
    /* Deleted: a link's visits and roll-up; the orphans. */
    CU_ASSERT_EQUAL(ml_store_delete_visits(s.store, "a", &deleted), APR_SUCCESS);
    CU_ASSERT_EQUAL(deleted, 3);
    CU_ASSERT_EQUAL(ml_store_delete_visits(s.store, NULL, &deleted), APR_SUCCESS);
    CU_ASSERT_EQUAL(deleted, 1);
    CU_ASSERT_EQUAL(ml_store_visit_totals_of(s.store, &totals), APR_SUCCESS);
    CU_ASSERT_EQUAL(totals.clicks, 5);            /* clicks count redirects */
    CU_ASSERT_EQUAL(totals.bots, 0);
    CU_ASSERT_EQUAL(totals.orphans, 0);
    ut_scratch_close(&s.scratch);
}

void add_store_api_suite(void)
{
    CU_pSuite suite = CU_add_suite("store_api", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "tags with their links, clicks and bots; an owner's",
                test_tag_stats);
    CU_add_test(suite, "a tag renamed (not onto another), tags deleted",
                test_tags_renamed_and_deleted);
    CU_add_test(suite, "visits of every link, of a tag's, of an owner's; "
                "deleted; totals", test_visits_of_many_links);
}
