/*
 * test_list.c - a page of links (ml_store_list in links/ml_store.h):
 * every order both ways, pages and Shlink's pagination object, the search
 * term, tags in either mode, dates, visit limits, expiry and owners.
 */
#include <string.h>
#include <apr_strings.h>
#include <CUnit/CUnit.h>
#include "../../links/ml_store.h"
#include "unit_helpers.h"
#include "unit_suites.h"

/* The links every test lists: slug, URL, title, tags (space-separated),
 * created_at, clicks, max_visits, expires_at. */
typedef struct {
    const char *slug, *url, *title, *tags;
    apr_int64_t created_at, clicks, max_visits, expires_at;
} listed_link;

static const listed_link fixture[] = {
    { "alpha", "https://b.example/one", "Zebra crossing", "news sale",
      1000, 5, 0, 0 },
    { "Bravo", "https://a.example/two", NULL, "news", 3000, 50, 0, 0 },
    { "charlie", "https://c.example/100%_off", "apple pie", "", 2000, 7, 7,
      0 },
    { "delta", "https://d.example/x", "Mango", "sale", 5000, 1, 10, 1500 },
    { "echo", "https://e.example/echo", NULL, "", 4000, 0, 0, 4102444800 },
};
#define NFIXTURE ((int)(sizeof(fixture) / sizeof(fixture[0])))

typedef struct {
    ml_store *store;
    ut_scratch scratch;
    const char *path;
} listing;

/* A fresh database holding the fixture (created_at and clicks set behind
 * the store's back, as time and Apache would). */
static int open_listing(listing *l)
{
    int i;

    if (!ut_scratch_open(&l->scratch)) {
        return 0;
    }
    l->path = ut_path(&l->scratch, "links.db");
    CU_ASSERT_EQUAL_FATAL(ml_store_open(&l->store, l->path, ML_STORE_CREATE,
                                        l->scratch.pool), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(ml_store_init(l->store), APR_SUCCESS);
    for (i = 0; i < NFIXTURE; i++) {
        const listed_link *f = &fixture[i];
        ml_link link = ut_link(f->slug, f->url, 0, f->expires_at, 0);
        apr_array_header_t *tags = apr_array_make(l->scratch.pool, 2,
                                                  sizeof(const char *));
        char *names = apr_pstrdup(l->scratch.pool, f->tags), *last;
        const char *name;

        for (name = apr_strtok(names, " ", &last); name;
             name = apr_strtok(NULL, " ", &last)) {
            APR_ARRAY_PUSH(tags, const char *) = name;
        }
        link.tags = tags->nelts ? tags : NULL;
        link.title = f->title;
        link.max_visits = f->max_visits;
        CU_ASSERT_EQUAL_FATAL(ml_store_add(l->store, &link, l->scratch.pool),
                              APR_SUCCESS);
        CU_ASSERT_EQUAL_FATAL(ut_sql(l->path, apr_psprintf(l->scratch.pool,
            "UPDATE links SET created_at = %" APR_INT64_T_FMT ", clicks = %"
            APR_INT64_T_FMT " WHERE slug = '%s'", f->created_at, f->clicks,
            f->slug), NULL), 0);
    }
    return 1;
}

/* What row() saw: the slugs in order, space-separated, and the tags of
 * the first link seen. */
typedef struct {
    apr_pool_t *pool;
    const char *slugs;
    const char *first_tags;
    int problems;
} seen_rows;

static apr_status_t see_row(void *ctx, const ml_link *link, const char *problem)
{
    seen_rows *seen = ctx;

    if (*seen->slugs == '\0' && link->tags) {
        seen->first_tags = apr_array_pstrcat(seen->pool, link->tags, ' ');
    }
    seen->slugs = *seen->slugs ? apr_pstrcat(seen->pool, seen->slugs, " ",
                                             link->slug, NULL)
                               : apr_pstrdup(seen->pool, link->slug);
    seen->problems += problem != NULL;
    return APR_SUCCESS;
}

/* The slugs a query lists (all pages), and its total in *total. */
static const char *slugs_of(listing *l, const ml_store_list_query *query,
                            apr_uint64_t *total)
{
    seen_rows seen = { l->scratch.pool, "", "", 0 };

    CU_ASSERT_EQUAL(ml_store_list(l->store, query, see_row, &seen, total),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(seen.problems, 0);
    return seen.slugs;
}

static ml_store_list_query all_links(ml_store_list_order order, int descending)
{
    ml_store_list_query query;

    memset(&query, 0, sizeof(query));
    query.order = order;
    query.descending = descending;
    query.items_per_page = -1;
    query.now = 3000;
    return query;
}

static void test_every_order_both_ways(void)
{
    static const struct {
        ml_store_list_order order;
        const char *ascending, *descending;
    } cases[] = {
        { ML_LIST_BY_CREATED, "alpha charlie Bravo echo delta",
          "delta echo Bravo charlie alpha" },
        /* Slugs sort as bytes: upper case first. */
        { ML_LIST_BY_SLUG, "Bravo alpha charlie delta echo",
          "echo delta charlie alpha Bravo" },
        { ML_LIST_BY_URL, "Bravo alpha charlie delta echo",
          "echo delta charlie alpha Bravo" },
        /* No title first, ties by id. */
        { ML_LIST_BY_TITLE, "Bravo echo delta alpha charlie",
          "charlie alpha delta echo Bravo" },
        { ML_LIST_BY_CLICKS, "echo delta alpha charlie Bravo",
          "Bravo charlie alpha delta echo" },
    };
    listing l;
    size_t i;

    CU_ASSERT_FATAL(open_listing(&l));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_store_list_query up = all_links(cases[i].order, 0);
        ml_store_list_query down = all_links(cases[i].order, 1);
        apr_uint64_t total = 0;
        CU_ASSERT_STRING_EQUAL(slugs_of(&l, &up, &total), cases[i].ascending);
        CU_ASSERT_EQUAL(total, NFIXTURE);
        CU_ASSERT_STRING_EQUAL(slugs_of(&l, &down, NULL), cases[i].descending);
    }
    ut_scratch_close(&l.scratch);
}

static void test_pages_and_pagination(void)
{
    static const struct {
        apr_int64_t page, per_page;
        const char *slugs;
        apr_int64_t current, pages, per_page_shown, in_page;
    } cases[] = {
        { 1, 2, "alpha charlie", 1, 3, 2, 2 },
        { 2, 2, "Bravo echo", 2, 3, 2, 2 },
        { 3, 2, "delta", 3, 3, 2, 1 },
        { 4, 2, "", 4, 3, 2, 0 },                 /* past the last: empty */
        { 0, 5, "alpha charlie Bravo echo delta", 1, 1, 5, 5 },
        /* All at once: one page as long as the list (Shlink's -1). */
        { 3, -1, "alpha charlie Bravo echo delta", 1, 1, 5, 5 },
    };
    listing l;
    size_t i;

    CU_ASSERT_FATAL(open_listing(&l));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_store_list_query query = all_links(ML_LIST_BY_CREATED, 0);
        ml_store_pagination pagination;
        apr_uint64_t total = 0;
        query.page = cases[i].page;
        query.items_per_page = cases[i].per_page;
        CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), cases[i].slugs);
        CU_ASSERT_EQUAL(total, NFIXTURE);
        ml_store_paginate(&query, total, &pagination);
        CU_ASSERT_EQUAL(pagination.current_page, cases[i].current);
        CU_ASSERT_EQUAL(pagination.pages_count, cases[i].pages);
        CU_ASSERT_EQUAL(pagination.items_per_page, cases[i].per_page_shown);
        CU_ASSERT_EQUAL(pagination.items_in_current_page, cases[i].in_page);
        CU_ASSERT_EQUAL(pagination.total_items, NFIXTURE);
    }
    ut_scratch_close(&l.scratch);
}

static void test_empty_list_pagination(void)
{
    ml_store_list_query query = all_links(ML_LIST_BY_CREATED, 0);
    ml_store_pagination pagination;

    query.items_per_page = 10;
    ml_store_paginate(&query, 0, &pagination);
    CU_ASSERT_EQUAL(pagination.current_page, 1);
    CU_ASSERT_EQUAL(pagination.pages_count, 1);
    CU_ASSERT_EQUAL(pagination.items_per_page, 10);
    CU_ASSERT_EQUAL(pagination.items_in_current_page, 0);
    CU_ASSERT_EQUAL(pagination.total_items, 0);
    query.items_per_page = -1;
    ml_store_paginate(&query, 0, &pagination);
    CU_ASSERT_EQUAL(pagination.items_per_page, 1);
}

/* How many space-separated words. */
static apr_uint64_t words(const char *text)
{
    apr_uint64_t count = *text != '\0';

    for (; *text; text++) {
        count += *text == ' ';
    }
    return count;
}

static void test_search_term(void)
{
    static const struct {
        const char *term, *slugs;
    } cases[] = {
        { "bravo", "Bravo" },                     /* slug, any case */
        { "A.EXAMPLE", "Bravo" },                 /* URL */
        { "zebra", "alpha" },                     /* title */
        { "sal", "alpha delta" },                 /* a tag's name */
        { "100%_", "charlie" },                   /* % and _ as themselves */
        { "%", "charlie" },
        { "_", "charlie" },
        { "ex_mple", "" },                        /* _ is no wildcard */
        { "example", "alpha charlie Bravo echo delta" },
        { "nothing", "" },
        { "", "alpha charlie Bravo echo delta" },  /* no filter */
    };
    listing l;
    size_t i;

    CU_ASSERT_FATAL(open_listing(&l));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ml_store_list_query query = all_links(ML_LIST_BY_CREATED, 0);
        apr_uint64_t total = 99;
        query.search = cases[i].term;
        CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), cases[i].slugs);
        CU_ASSERT_EQUAL(total, words(cases[i].slugs));
    }
    ut_scratch_close(&l.scratch);
}

static void test_tags_any_and_all(void)
{
    static const char *const news_sale[] = { "news", "sale" };
    static const char *const missing[] = { "nope" };
    listing l;
    ml_store_list_query query;
    apr_uint64_t total = 0;
    seen_rows seen;

    CU_ASSERT_FATAL(open_listing(&l));
    query = all_links(ML_LIST_BY_CREATED, 0);
    query.tags = news_sale;
    query.ntags = 2;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), "alpha Bravo delta");
    CU_ASSERT_EQUAL(total, 3);
    query.tags_mode = ML_LIST_TAGS_ALL;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), "alpha");
    CU_ASSERT_EQUAL(total, 1);
    query.tags = missing;
    query.ntags = 1;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), "");
    CU_ASSERT_EQUAL(total, 0);
    /* Each row comes with its own tags. */
    query = all_links(ML_LIST_BY_CREATED, 0);
    memset(&seen, 0, sizeof(seen));
    seen.pool = l.scratch.pool;
    seen.slugs = "";
    CU_ASSERT_EQUAL(ml_store_list(l.store, &query, see_row, &seen, NULL),
                    APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(seen.first_tags, "news sale");
    ut_scratch_close(&l.scratch);
}

static void test_dates_limits_and_expiry(void)
{
    listing l;
    ml_store_list_query query;
    apr_uint64_t total = 0;

    CU_ASSERT_FATAL(open_listing(&l));
    query = all_links(ML_LIST_BY_CREATED, 0);
    query.created_from = 2000;
    query.created_until = 4000;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), "charlie Bravo echo");
    CU_ASSERT_EQUAL(total, 3);
    /* charlie has used its 7 visits; delta has 9 of 10 left. */
    query = all_links(ML_LIST_BY_CREATED, 0);
    query.exclude_max_visits_reached = 1;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total),
                           "alpha Bravo echo delta");
    CU_ASSERT_EQUAL(total, 4);
    /* delta expired at 1500 (now is 3000); echo expires in 2100. */
    query = all_links(ML_LIST_BY_CREATED, 0);
    query.exclude_past_valid_until = 1;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total),
                           "alpha charlie Bravo echo");
    CU_ASSERT_EQUAL(total, 4);
    query.now = 1000;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, NULL),
                           "alpha charlie Bravo echo delta");
    ut_scratch_close(&l.scratch);
}

static void test_filters_combine_with_pages(void)
{
    static const char *const sale[] = { "sale" };
    listing l;
    ml_store_list_query query;
    apr_uint64_t total = 0;

    CU_ASSERT_FATAL(open_listing(&l));
    query = all_links(ML_LIST_BY_CLICKS, 1);
    query.search = "example";
    query.tags = sale;
    query.ntags = 1;
    query.items_per_page = 1;
    query.page = 2;
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), "delta");
    CU_ASSERT_EQUAL(total, 2);
    ut_scratch_close(&l.scratch);
}

static void test_owner_filter(void)
{
    listing l;
    ml_store_list_query query;
    apr_uint64_t total = 9;

    CU_ASSERT_FATAL(open_listing(&l));
    /* Links made by the CLI are an admin's: nobody else owns them. */
    query = all_links(ML_LIST_BY_CREATED, 0);
    query.owner = "alice";
    CU_ASSERT_STRING_EQUAL(slugs_of(&l, &query, &total), "");
    CU_ASSERT_EQUAL(total, 0);
    ut_scratch_close(&l.scratch);
}

static void test_query_out_of_range(void)
{
    static const char *const twice[] = { "news", "news" };
    listing l;
    ml_store_list_query query;
    seen_rows seen = { NULL, "", "", 0 };

    CU_ASSERT_FATAL(open_listing(&l));
    seen.pool = l.scratch.pool;
    query = all_links(ML_LIST_ORDERS, 0);
    CU_ASSERT_EQUAL(ml_store_list(l.store, &query, see_row, &seen, NULL),
                    APR_EINVAL);
    query = all_links(ML_LIST_BY_SLUG, 0);
    query.ntags = ML_TAGS_MAX + 1;
    query.tags = twice;
    CU_ASSERT_EQUAL(ml_store_list(l.store, &query, see_row, &seen, NULL),
                    APR_EINVAL);
    query.ntags = 2;
    query.tags_mode = ML_LIST_TAGS_ALL;
    CU_ASSERT_EQUAL(ml_store_list(l.store, &query, see_row, &seen, NULL),
                    APR_EINVAL);
    CU_ASSERT_STRING_EQUAL(seen.slugs, "");
    ut_scratch_close(&l.scratch);
}

void add_list_suite(void)
{
    CU_pSuite suite = CU_add_suite("list", NULL, NULL);

    if (suite == NULL) {
        return;
    }
    CU_add_test(suite, "every order, ascending and descending", test_every_order_both_ways);
    CU_add_test(suite, "pages and Shlink's pagination object", test_pages_and_pagination);
    CU_add_test(suite, "the pagination of an empty list", test_empty_list_pagination);
    CU_add_test(suite, "search term: slug, URL, title, tag; any case", test_search_term);
    CU_add_test(suite, "tags: any and all", test_tags_any_and_all);
    CU_add_test(suite, "dates, visit limits, expiry", test_dates_limits_and_expiry);
    CU_add_test(suite, "filters combine with pages", test_filters_combine_with_pages);
    CU_add_test(suite, "owner: links made by others are left out", test_owner_filter);
    CU_add_test(suite, "a query out of range is refused", test_query_out_of_range);
}
