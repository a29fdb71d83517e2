/*
 * module/admin_visits.c - visits as JSON, under SetHandler minilink-admin:
 *
 *   <loc>/links/SLUG/visits        a link's visits, newest first, a page at
 *                                  a time (?page=N&itemsPerPage=M, and
 *                                  ?startDate=TIME for those since)
 *   <loc>/links/SLUG/visits/days   its daily clicks and bots (the roll-up,
 *                                  kept beyond the visits' retention)
 *   <loc>/visits/orphan            orphan visits, paginated the same way
 *
 * The shapes are Shlink's (REST API v3: visits.data[] as
 * links/ml_visit_json.c writes each, and visits.pagination), so its
 * clients read them as they are; each visit also says the browser, OS
 * and device its user agent is classified as.  The ring is drained first,
 * so the answer holds every visit made until the request.
 */
#include <stdlib.h>
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include <jansson.h>

#include "ml_module.h"
#include "../links/ml_visit_json.h"

APLOG_USE_MODULE(minilink);

#define PAGE_DEFAULT 100
#define PAGE_MOST 1000

/* The number after "name=" in the query string (at its start or after an
 * "&"), or fallback; a time (Unix seconds or YYYY-MM-DD) for startDate. */
static apr_int64_t query_number(const request_rec *r, const char *name,
                                apr_int64_t fallback)
{
    apr_size_t len = strlen(name);
    const char *at = r->args;

    while (at && *at) {
        if (strncmp(at, name, len) == 0 && at[len] == '=') {
            const char *value = at + len + 1;
            char *end;
            apr_int64_t number = apr_strtoi64(value, &end, 10);
            apr_time_exp_t day = {0};
            apr_time_t when;
            if (end != value && (*end == '\0' || *end == '&')) {
                return number;
            }
            /* A date: YYYY-MM-DD, its midnight UTC. */
            if (sscanf(value, "%4d-%2d-%2d", &day.tm_year, &day.tm_mon,
                       &day.tm_mday) == 3) {
                day.tm_year -= 1900;
                day.tm_mon -= 1;
                if (apr_time_exp_gmt_get(&when, &day) == APR_SUCCESS) {
                    return apr_time_sec(when);
                }
            }
            return fallback;
        }
        at = strchr(at, '&');
        at = at ? at + 1 : NULL;
    }
    return fallback;
}

typedef struct {
    apr_pool_t *pool;
    json_t *data;
    ml_agents *agents;            /* the request's own: one per thread */
} visits_page;

static apr_status_t add_visit(void *ctx, const ml_store_visit *visit)
{
    visits_page *page = ctx;
    ml_agent agent;

    if (page->agents) {
        ml_agents_classify(page->agents, visit->user_agent, &agent);
    }
    json_array_append_new(page->data,
                          ml_visit_json(visit, page->agents ? &agent : NULL));
    return APR_SUCCESS;
}

static int store_failed(request_rec *r, ml_store *store)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00068) "cannot read "
                  "visits: %s", ml_store_error(store));
    return HTTP_SERVICE_UNAVAILABLE;
}

int ml_send_visits(request_rec *r, ml_store *store,
                   const ml_store_visit_query *which, ml_agents *agents)
{
    apr_int64_t page = query_number(r, "page", 1);
    apr_int64_t per_page = query_number(r, "itemsPerPage", PAGE_DEFAULT);
    ml_store_visit_query query = *which;
    visits_page found = { r->pool, json_array(), agents };
    apr_uint64_t total = 0;

    page = page < 1 ? 1 : page;
    per_page = per_page < 1 ? 1 : per_page > PAGE_MOST ? PAGE_MOST : per_page;
    query.newest_first = 1;
    query.since = query_number(r, "startDate", 0);
    query.limit = per_page;
    query.offset = (page - 1) * per_page;
    if (ml_store_count_visits(store, &query, &total) != APR_SUCCESS
        || ml_store_each_visit(store, &query, add_visit, &found)
           != APR_SUCCESS) {
        json_decref(found.data);
        return store_failed(r, store);
    }
    return ml_send_json(r, json_pack(
        "{s:{s:o, s:{s:I, s:I, s:I, s:I, s:I}}}", "visits",
        "data", found.data,
        "pagination",
          "currentPage", (json_int_t)page,
          "pagesCount", (json_int_t)((total + (apr_uint64_t)per_page - 1)
                                     / (apr_uint64_t)per_page),
          "itemsPerPage", (json_int_t)per_page,
          "itemsInCurrentPage", (json_int_t)json_array_size(found.data),
          "totalItems", (json_int_t)total));
}

static apr_status_t add_day(void *ctx, const ml_store_visit_day *day)
{
    visits_page *days = ctx;
    char date[26];

    ml_visit_time(date, day->day, 1);
    json_array_append_new(days->data, json_pack(
        "{s:s, s:I, s:I}", "date", date, "clicks", (json_int_t)day->clicks,
        "bots", (json_int_t)day->bots));
    return APR_SUCCESS;
}

static int send_days(request_rec *r, ml_store *store, const char *slug)
{
    visits_page days = { r->pool, json_array(), NULL };

    if (ml_store_each_visit_day(store, slug, query_number(r, "startDate", 0),
                                add_day, &days) != APR_SUCCESS) {
        json_decref(days.data);
        return store_failed(r, store);
    }
    return ml_send_json(r, json_pack("{s:s, s:o}", "slug", slug,
                                     "days", days.data));
}

int ml_admin_visits(request_rec *r, ml_database *database, const char *slug,
                    int days)
{
    ml_agents *agents = ml_database_agents(r->pool);
    ml_store *store;
    ml_link link;
    apr_status_t rv;

    ml_database_drain_visits(database, agents, r->pool);
    if (ml_store_open(&store, database->location, ML_STORE_READ, r->pool)
        != APR_SUCCESS) {
        return store_failed(r, store);
    }
    if (slug) {
        rv = ml_store_get(store, slug, &link, NULL, r->pool);
        if (rv == APR_ENOENT) {
            return HTTP_NOT_FOUND;
        }
        if (rv != APR_SUCCESS) {
            return store_failed(r, store);
        }
    }
    if (days) {
        return send_days(r, store, slug);
    }
    {
        ml_store_visit_query which;
        memset(&which, 0, sizeof(which));
        which.slug = slug;
        return ml_send_visits(r, store, &which, agents);
    }
}
