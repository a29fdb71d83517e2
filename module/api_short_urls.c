/*
 * module/api_short_urls.c - Shlink's short URLs (REST API v3):
 *
 *   GET    /short-urls                   a page (ml_store_list), filtered
 *   POST   /short-urls                   a new link
 *   GET    /short-urls/{code}            one
 *   PATCH  /short-urls/{code}            changed (null clears a field)
 *   DELETE /short-urls/{code}            gone (204)
 *   GET    /short-urls/{code}/redirect-rules   its rules
 *   POST   /short-urls/{code}/redirect-rules   its rules replaced
 *
 * A write goes through what the form's does: the creation policy
 * (ml_creation_problem: schemes, blocked hosts, no link to this server,
 * no slug that hides a page), the link's own checks in the store, and the
 * shared table refreshed before the answer, so the link works at once.
 * An author sees and changes only its own links; for another's it gets
 * 404, as if there were none.
 */
#include <stdlib.h>
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include "ml_api.h"
#include "../links/ml_shlink_fields.h"
#include "../links/ml_time.h"

APLOG_USE_MODULE(minilink);

/* Shlink's default page and its default short code length. */
#define PAGE_DEFAULT 10
#define CODE_LENGTH_DEFAULT 5
#define CODE_LENGTH_MIN 4
#define RANDOM_TRIES 12

/* ---- a link as Shlink's ShortUrl ------------------------------------------ */

typedef struct {
    apr_int64_t bots;
} bot_count;

static apr_status_t add_bots(void *ctx, const ml_store_visit_day *day)
{
    ((bot_count *)ctx)->bots += day->bots;
    return APR_SUCCESS;
}

static json_t *optional_time(ml_api_call *call, apr_int64_t seconds)
{
    return seconds ? json_string(ml_api_time(call, seconds)) : json_null();
}

static json_t *short_url_json(ml_api_call *call, const ml_link *link)
{
    json_t *tags = json_array();
    bot_count counted = { 0 };
    int i;

    for (i = 0; link->tags && i < link->tags->nelts; i++) {
        json_array_append_new(tags, json_string(APR_ARRAY_IDX(link->tags, i,
                                                               const char *)));
    }
    /* Bots from the daily roll-up (the visits' own flag, kept for ever);
     * the total is the link's clicks, which the roll-up may not hold all
     * of (a scope with MinilinkVisits Off). */
    if (ml_store_each_visit_day(call->store, link->slug, 0, add_bots,
                                &counted) != APR_SUCCESS) {
        counted.bots = 0;
    }
    counted.bots = counted.bots > link->clicks ? link->clicks : counted.bots;
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:o,"
                     " s:{s:o, s:o, s:o}, s:n, s:o, s:b, s:b, s:b}",
        "shortCode", link->slug,
        "shortUrl", ml_short_url_for(call->r, link->slug),
        "longUrl", link->url,
        "dateCreated", ml_api_time(call, link->created_at),
        "visitsCount", (json_int_t)link->clicks,
        "visitsSummary", "total", (json_int_t)link->clicks,
          "nonBots", (json_int_t)(link->clicks - counted.bots),
          "bots", (json_int_t)counted.bots,
        "tags", tags,
        "meta", "validSince", optional_time(call, link->valid_since),
          "validUntil", optional_time(call, link->expires_at),
          "maxVisits", link->max_visits ? json_integer(link->max_visits)
                                        : json_null(),
        "domain",
        "title", link->title ? json_string(link->title) : json_null(),
        "crawlable", link->crawlable != 0,
        "forwardQuery", link->forward_query != ML_CHOICE_OFF,
        "hasRedirectRules", link->nrules > 0);
}

/* ---- finding a link ---------------------------------------------------------- */

static int short_url_not_found(ml_api_call *call, const char *code)
{
    return ml_api_problem(call, HTTP_NOT_FOUND, ML_PROBLEM_SHORT_URL_NOT_FOUND,
                          "Short URL not found", apr_psprintf(call->r->pool,
                          "No URL found with short code \"%s\"", code),
                          json_pack("{s:s}", "shortCode", code));
}

const ml_link *ml_api_find_link(ml_api_call *call, const char *code,
                                int *status)
{
    ml_link *link = apr_pcalloc(call->r->pool, sizeof(*link));
    apr_status_t rv = ml_slug_valid(code, strlen(code))
                      ? ml_store_get(call->store, code, link, NULL, call->r->pool)
                      : APR_ENOENT;

    if (rv == APR_SUCCESS && ml_api_may_see(call, link)) {
        return link;
    }
    *status = rv == APR_SUCCESS || rv == APR_ENOENT
              ? short_url_not_found(call, code) : ml_api_store_failed(call);
    return NULL;
}

/* ---- the list --------------------------------------------------------------- */

typedef struct {
    ml_api_call *call;
    json_t *data;
} page_of_links;

static apr_status_t add_link(void *ctx, const ml_link *link, const char *problem)
{
    page_of_links *page = ctx;

    (void)problem;              /* listed as it is, as minilink list does */
    json_array_append_new(page->data, short_url_json(page->call, link));
    return APR_SUCCESS;
}

static const struct {
    const char *name;
    ml_store_list_order order;
} orders[] = {
    { "dateCreated", ML_LIST_BY_CREATED }, { "shortCode", ML_LIST_BY_SLUG },
    { "longUrl", ML_LIST_BY_URL }, { "title", ML_LIST_BY_TITLE },
    { "visits", ML_LIST_BY_CLICKS },
    /* Bots are not told apart per link in the links table: all visits. */
    { "nonBotVisits", ML_LIST_BY_CLICKS },
};

/* orderBy=FIELD-DIR (Shlink's; FIELD alone is ascending). */
static int read_order(const char *text, ml_store_list_query *query)
{
    size_t i;

    for (i = 0; text && i < sizeof(orders) / sizeof(orders[0]); i++) {
        apr_size_t len = strlen(orders[i].name);
        if (strncmp(text, orders[i].name, len) == 0
            && (text[len] == '\0' || strcmp(text + len, "-ASC") == 0
                || strcmp(text + len, "-DESC") == 0)) {
            query->order = orders[i].order;
            query->descending = strcmp(text + len, "-DESC") == 0;
            return 1;
        }
    }
    return text == NULL;
}

/* A number of the query string; fallback if absent, 0 if not a number. */
static int query_whole(ml_api_call *call, const char *name,
                       apr_int64_t fallback, apr_int64_t *number)
{
    const char *text = ml_api_arg(call, name);
    char *end;

    if (text == NULL) {
        *number = fallback;
        return 1;
    }
    *number = apr_strtoi64(text, &end, 10);
    return *text && *end == '\0';
}

static int query_time(ml_api_call *call, const char *name, apr_int64_t *seconds)
{
    const char *text = ml_api_arg(call, name);

    *seconds = 0;
    return text == NULL || *text == '\0'
           || ml_time_parse(text, name, seconds, call->r->pool) == NULL;
}

static int list_links(ml_api_call *call)
{
    ml_store_list_query query;
    ml_store_pagination pagination;
    apr_array_header_t *tags = ml_api_args(call, "tags");
    const char *mode = ml_api_arg(call, "tagsMode");
    page_of_links page = { call, json_array() };
    apr_uint64_t total = 0;
    const char *bad = NULL;

    memset(&query, 0, sizeof(query));
    if (!query_whole(call, "page", 1, &query.page)) {
        bad = "page";
    }
    else if (!query_whole(call, "itemsPerPage", PAGE_DEFAULT,
                          &query.items_per_page)) {
        bad = "itemsPerPage";
    }
    else if (!read_order(ml_api_arg(call, "orderBy"), &query)) {
        bad = "orderBy";
    }
    else if (mode && strcmp(mode, "any") != 0 && strcmp(mode, "all") != 0) {
        bad = "tagsMode";
    }
    else if (!query_time(call, "startDate", &query.created_from)) {
        bad = "startDate";
    }
    else if (!query_time(call, "endDate", &query.created_until)) {
        bad = "endDate";
    }
    else if (tags->nelts > ML_TAGS_MAX) {
        bad = "tags";
    }
    if (bad) {
        json_decref(page.data);
        return ml_api_invalid(call, bad, apr_psprintf(call->r->pool,
                              "%s is not valid", bad));
    }
    query.search = ml_api_arg(call, "searchTerm");
    query.tags = (const char *const *)tags->elts;
    query.ntags = tags->nelts;
    query.tags_mode = mode && strcmp(mode, "all") == 0 ? ML_LIST_TAGS_ALL
                                                       : ML_LIST_TAGS_ANY;
    if (query.tags_mode == ML_LIST_TAGS_ALL) {     /* each counted once */
        apr_array_header_t *unique = apr_array_make(call->r->pool, tags->nelts,
                                                    sizeof(const char *));
        int i;
        ml_shlink_sort_names(tags);
        for (i = 0; i < tags->nelts; i++) {
            const char *tag = APR_ARRAY_IDX(tags, i, const char *);
            if (i == 0 || strcmp(tag, APR_ARRAY_IDX(tags, i - 1, const char *))) {
                APR_ARRAY_PUSH(unique, const char *) = tag;
            }
        }
        query.tags = (const char *const *)unique->elts;
        query.ntags = unique->nelts;
    }
    query.exclude_max_visits_reached =
        ml_api_arg(call, "excludeMaxVisitsReached")
        && strcmp(ml_api_arg(call, "excludeMaxVisitsReached"), "true") == 0;
    query.exclude_past_valid_until =
        ml_api_arg(call, "excludePastValidUntil")
        && strcmp(ml_api_arg(call, "excludePastValidUntil"), "true") == 0;
    query.now = apr_time_sec(call->now);
    query.owner = call->role == ML_ROLE_AUTHOR ? call->owner : NULL;
    if (ml_store_list(call->store, &query, add_link, &page, &total)
        != APR_SUCCESS) {
        json_decref(page.data);
        return ml_api_store_failed(call);
    }
    ml_store_paginate(&query, total, &pagination);
    return ml_api_json(call, HTTP_OK, json_pack(
        "{s:{s:o, s:{s:I, s:I, s:I, s:I, s:I}}}", "shortUrls",
        "data", page.data, "pagination",
        "currentPage", (json_int_t)pagination.current_page,
        "pagesCount", (json_int_t)pagination.pages_count,
        "itemsPerPage", (json_int_t)pagination.items_per_page,
        "itemsInCurrentPage", (json_int_t)pagination.items_in_current_page,
        "totalItems", (json_int_t)pagination.total_items));
}

/* ---- writes ------------------------------------------------------------------ */

static int forbidden(ml_api_call *call)
{
    return ml_api_problem(call, HTTP_FORBIDDEN, ML_PROBLEM_FORBIDDEN,
                          "Forbidden", "This API key may not change links",
                          NULL);
}

/* The body of a write; NULL after answering 403 (read-only) or 400 (no
 * JSON object), with *status what to return. */
static json_t *body_to_write(ml_api_call *call, int *status)
{
    if (!ml_api_may_write(call)) {
        *status = forbidden(call);
        return NULL;
    }
    return ml_api_body(call, status);
}

/* The decoded path short URLs start with (MinilinkShortBase's, else "/"),
 * for the creation policy's check of pages a slug would hide. */
static const char *short_prefix(ml_api_call *call)
{
    apr_uri_t uri;
    char *path;

    if (call->conf->short_base == NULL
        || apr_uri_parse(call->r->pool, call->conf->short_base, &uri)
           != APR_SUCCESS || uri.path == NULL) {
        return "/";
    }
    path = apr_pstrdup(call->r->pool, uri.path);
    return ap_unescape_url(path) == OK ? path : "/";
}

void ml_api_make_live(ml_api_call *call)
{
    if (call->conf->database->cache) {
        ml_database_refresh(call->conf->database, call->r->pool);
    }
}

/* A custom slug that is taken, or would hide a page: Shlink's 400. */
static int slug_refused(ml_api_call *call, const char *slug, const char *detail)
{
    return ml_api_problem(call, HTTP_BAD_REQUEST, ML_PROBLEM_NON_UNIQUE_SLUG,
                          "Invalid custom slug", detail,
                          json_pack("{s:s}", "customSlug", slug));
}

ml_api_stored ml_api_store_link(ml_api_call *call, ml_link *link,
                                const char *slug, apr_int64_t length,
                                ml_link *made, const char **detail)
{
    apr_status_t rv = APR_EEXIST;
    int status, tries;

    link->owner = call->owner;
    if ((*detail = ml_creation_problem(call->r, call->conf, short_prefix(call),
                                       link->url, slug, link, &status))) {
        return status == HTTP_CONFLICT ? ML_API_SLUG_REFUSED
                                       : ML_API_URL_REFUSED;
    }
    for (tries = 0; rv == APR_EEXIST && tries < (slug ? 1 : RANDOM_TRIES);
         tries++) {
        char random[ML_SLUG_MAX + 1];
        if (slug == NULL) {
            /* Longer every few collisions, so a crowded length cannot stall. */
            if (ml_slug_random(random, (apr_size_t)length + (apr_size_t)tries / 3)
                != APR_SUCCESS) {
                break;
            }
            link->slug = random;
        }
        else {
            link->slug = slug;
        }
        rv = ml_store_add(call->store, link, call->r->pool);
    }
    if (rv == APR_EEXIST && slug) {
        *detail = apr_psprintf(call->r->pool, "Provided slug \"%s\" is already"
                               " in use.", slug);
        return ML_API_SLUG_REFUSED;
    }
    if (rv == APR_EINVAL) {
        *detail = ml_store_error(call->store);
        return ML_API_URL_REFUSED;
    }
    if (rv != APR_SUCCESS) {
        return ML_API_STORE_FAILED;
    }
    ml_api_make_live(call);
    /* Read back: times and tags as stored. */
    return ml_store_get(call->store, link->slug, made, NULL, call->r->pool)
           == APR_SUCCESS ? ML_API_STORED : ML_API_STORE_FAILED;
}

static int create_link(ml_api_call *call)
{
    json_t *body, *value;
    ml_link link, found;
    const char *field, *problem, *slug = NULL;
    apr_int64_t length = CODE_LENGTH_DEFAULT;
    int status, find_existing = 0;

    if ((body = body_to_write(call, &status)) == NULL) {
        return status;
    }
    memset(&link, 0, sizeof(link));
    problem = ml_shlink_read_fields(body, &link, &field, call->r->pool);
    if (!problem && (link.url == NULL || *link.url == '\0')) {
        problem = "longUrl is required", field = "longUrl";
    }
    if (!problem && (value = json_object_get(body, "customSlug")) != NULL
        && !json_is_null(value)) {
        field = "customSlug";
        problem = json_is_string(value) ? NULL : "customSlug must be a string";
        slug = problem ? NULL : json_string_value(value);
    }
    if (!problem && (value = json_object_get(body, "shortCodeLength")) != NULL
        && !json_is_null(value)
        && (!ml_shlink_whole(value, &length) || length < CODE_LENGTH_MIN
            || length > ML_SLUG_MAX)) {
        field = "shortCodeLength";
        problem = "shortCodeLength must be a whole number from 4 to 64";
    }
    if (!problem && (value = json_object_get(body, "findIfExists")) != NULL
        && !json_is_null(value) && !ml_shlink_flag(value, &find_existing)) {
        field = "findIfExists";
        problem = "findIfExists must be true or false";
    }
    if (problem) {
        return ml_api_invalid(call, field, problem);
    }
    link.owner = call->owner;        /* a link it may then see */
    /* Shlink: the same long URL (and slug, if one is asked for) gives the
     * link it has; only one this caller may see. */
    if (find_existing
        && ml_store_find_url(call->store, link.url, apr_time_sec(call->now),
                             &found, call->r->pool) == APR_SUCCESS
        && (slug == NULL || strcmp(found.slug, slug) == 0)
        && ml_store_get(call->store, found.slug, &found, NULL, call->r->pool)
           == APR_SUCCESS
        && ml_api_may_see(call, &found)) {
        return ml_api_json(call, HTTP_OK, short_url_json(call, &found));
    }
    switch (ml_api_store_link(call, &link, slug, length, &found, &problem)) {
    case ML_API_STORED:
        break;
    case ML_API_SLUG_REFUSED:
        return slug_refused(call, slug, problem);
    case ML_API_URL_REFUSED:
        return ml_api_invalid(call, slug && ml_slug_new_problem(slug)
                              ? "customSlug" : "longUrl", problem);
    default:
        return ml_api_store_failed(call);
    }
    return ml_api_json(call, HTTP_OK, short_url_json(call, &found));
}

static int edit_link(ml_api_call *call, const ml_link *current)
{
    ml_link link = *current;
    const char *field = "", *problem;
    json_t *body;
    int status;
    apr_status_t rv;

    if ((body = body_to_write(call, &status)) == NULL) {
        return status;
    }
    if ((problem = ml_shlink_read_fields(body, &link, &field, call->r->pool))) {
        return ml_api_invalid(call, field, problem);
    }
    if ((problem = ml_creation_problem(call->r, call->conf, short_prefix(call),
                                       json_object_get(body, "longUrl")
                                       ? link.url : NULL, NULL, &link,
                                       &status))) {
        return ml_api_invalid(call, "longUrl", problem);
    }
    rv = ml_store_update(call->store, &link);
    if (rv == APR_EINVAL) {
        return ml_api_invalid(call, "longUrl", ml_store_error(call->store));
    }
    if (rv != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    ml_api_make_live(call);
    if (ml_store_get(call->store, link.slug, &link, NULL, call->r->pool)
        != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    return ml_api_json(call, HTTP_OK, short_url_json(call, &link));
}

static int delete_link(ml_api_call *call, const ml_link *link)
{
    if (!ml_api_may_write(call)) {
        return forbidden(call);
    }
    if (ml_store_remove(call->store, link->slug) != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    ml_api_make_live(call);
    call->r->status = HTTP_NO_CONTENT;
    return OK;
}

/* ---- redirect rules ------------------------------------------------------------ */

static int send_rules(ml_api_call *call, const ml_link *link)
{
    json_t *rules = json_array();
    int i, k;

    for (i = 0; i < link->nrules; i++) {
        const ml_rule *rule = &link->rules[i];
        json_t *conditions = json_array();
        for (k = 0; k < rule->nconditions; k++) {
            const ml_condition *c = &rule->conditions[k];
            json_array_append_new(conditions, json_pack("{s:s, s:o, s:o}",
                "type", ml_condition_type_name(c->type),
                "matchKey", c->key ? json_string(c->key) : json_null(),
                "matchValue", c->value ? json_string(c->value) : json_null()));
        }
        json_array_append_new(rules, json_pack("{s:s, s:i, s:o}", "longUrl",
                                               rule->url, "priority", i + 1,
                                               "conditions", conditions));
    }
    return ml_api_json(call, HTTP_OK, json_pack("{s:s, s:o}", "defaultLongUrl",
                                                link->url, "redirectRules",
                                                rules));
}

static int set_rules(ml_api_call *call, const ml_link *current)
{
    ml_link link = *current;
    const char *problem;
    json_t *body;
    int status;

    if ((body = body_to_write(call, &status)) == NULL) {
        return status;
    }
    link.rules = NULL;
    link.nrules = 0;
    if (json_object_get(body, "redirectRules") == NULL) {
        return ml_api_invalid(call, "redirectRules", "redirectRules is a list"
                              " of rules ([] for none)");
    }
    if ((problem = ml_json_redirect_rules(json_object_get(body, "redirectRules"),
                                          &link, call->r->pool))
        || (problem = ml_creation_problem(call->r, call->conf, "/", NULL, NULL,
                                          &link, &status))) {
        return ml_api_invalid(call, "redirectRules", problem);
    }
    if (ml_store_update(call->store, &link) != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    ml_api_make_live(call);
    return send_rules(call, &link);
}

/* ---- where a request goes ------------------------------------------------------ */

static int not_allowed(ml_api_call *call, const char *allow)
{
    apr_table_setn(call->r->err_headers_out, "Allow", allow);
    return ml_api_problem(call, HTTP_METHOD_NOT_ALLOWED, ML_PROBLEM_NOT_FOUND,
                          "Method not allowed", apr_psprintf(call->r->pool,
                          "Use %s here", allow), NULL);
}

int ml_api_short_urls(ml_api_call *call, const char *rest)
{
    int method = call->r->method_number, status;
    const char *code, *slash;
    const ml_link *link;

    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        return method == M_GET ? list_links(call)
               : method == M_POST ? create_link(call)
               : not_allowed(call, "GET, POST");
    }
    code = rest + 1;
    slash = strchr(code, '/');
    if (slash && strcmp(slash, "/redirect-rules") != 0) {
        return ml_api_problem(call, HTTP_NOT_FOUND, ML_PROBLEM_NOT_FOUND,
                              "Not found", "Requested route does not exist.",
                              NULL);
    }
    code = slash ? apr_pstrmemdup(call->r->pool, code,
                                  (apr_size_t)(slash - code)) : code;
    if ((link = ml_api_find_link(call, code, &status)) == NULL) {
        return status;
    }
    if (slash) {
        return method == M_GET ? send_rules(call, link)
               : method == M_POST ? set_rules(call, link)
               : not_allowed(call, "GET, POST");
    }
    return method == M_GET ? ml_api_json(call, HTTP_OK,
                                         short_url_json(call, link))
           : method == M_PATCH ? edit_link(call, link)
           : method == M_DELETE ? delete_link(call, link)
           : not_allowed(call, "GET, PATCH, DELETE");
}
