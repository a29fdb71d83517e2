/*
 * module/api_stats.c - what Shlink's API says about many links at once:
 *
 *   GET /tags                         {"tags": {"data": [names]}}
 *   GET /tags/stats                   each tag's links and visits
 *   GET /domains                      the one domain: MinilinkShortBase's
 *   GET /visits                       the totals (links' and orphans')
 *   GET /visits/orphan                orphan visits, a page at a time
 *   GET /short-urls/{code}/visits     a link's visits, a page at a time
 *
 * Visits are the admin handler's (ml_send_visits: Shlink's shapes, the
 * ring drained first so a page holds every visit made before it).  An
 * author sees its own links' tags and visits; the server-wide totals and
 * orphan visits are for admins and read-only keys.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include "ml_api.h"

typedef struct {
    json_t *data;
    int with_stats;
} tag_list;

static apr_status_t add_tag(void *ctx, const ml_store_tag *tag)
{
    tag_list *list = ctx;

    json_array_append_new(list->data, list->with_stats
        ? json_pack("{s:s, s:I, s:I, s:{s:I, s:I, s:I}}", "tag", tag->name,
                    "shortUrlsCount", (json_int_t)tag->links,
                    "visitsCount", (json_int_t)tag->clicks,
                    "visitsSummary", "total", (json_int_t)tag->clicks,
                    "nonBots", (json_int_t)(tag->clicks - tag->bots),
                    "bots", (json_int_t)tag->bots)
        : json_string(tag->name));
    return APR_SUCCESS;
}

int ml_api_tags(ml_api_call *call, const char *rest)
{
    tag_list list = { json_array(), strcmp(rest, "/stats") == 0 };

    if (*rest != '\0' && !list.with_stats) {
        json_decref(list.data);
        return ml_api_problem(call, HTTP_NOT_FOUND, ML_PROBLEM_NOT_FOUND,
                              "Not found", "Requested route does not exist.",
                              NULL);
    }
    if (call->r->method_number != M_GET) {
        json_decref(list.data);
        apr_table_setn(call->r->err_headers_out, "Allow", "GET");
        return ml_api_problem(call, HTTP_METHOD_NOT_ALLOWED,
                              ML_PROBLEM_NOT_FOUND, "Method not allowed",
                              "Use GET here", NULL);
    }
    if (ml_store_each_tag(call->store, call->role == ML_ROLE_AUTHOR
                          ? call->owner : NULL, add_tag, &list)
        != APR_SUCCESS) {
        json_decref(list.data);
        return ml_api_store_failed(call);
    }
    return ml_api_json(call, HTTP_OK, json_pack("{s:{s:o}}", "tags", "data",
                                                list.data));
}

static json_t *no_redirects(void)
{
    return json_pack("{s:n, s:n, s:n}", "baseUrlRedirect", "regular404Redirect",
                     "invalidShortUrlRedirect");
}

int ml_api_domains(ml_api_call *call)
{
    const char *host = call->r->hostname ? call->r->hostname : "";
    apr_uri_t uri;

    if (call->conf->short_base
        && apr_uri_parse(call->r->pool, call->conf->short_base, &uri)
           == APR_SUCCESS && uri.hostinfo) {
        host = uri.hostinfo;
    }
    return ml_api_json(call, HTTP_OK, json_pack(
        "{s:{s:[{s:s, s:b, s:o}], s:o}}", "domains", "data", "domain", host,
        "isDefault", 1, "redirects", no_redirects(),
        "defaultRedirects", no_redirects()));
}

static int admins_only(ml_api_call *call)
{
    return ml_api_problem(call, HTTP_FORBIDDEN, ML_PROBLEM_FORBIDDEN,
                          "Forbidden", "Only an admin or read-only key sees "
                          "visits beyond its own links", NULL);
}

/* A page of visits, after the ring is written out. */
static int visits_page(ml_api_call *call, const char *slug)
{
    ml_agents *agents = ml_database_agents(call->r->pool);

    ml_database_drain_visits(call->conf->database, agents, call->r->pool);
    return ml_send_visits(call->r, call->store, slug, agents) == OK
           ? OK : ml_api_store_failed(call);
}

int ml_api_visits(ml_api_call *call, const char *rest)
{
    ml_store_visit_totals totals;

    if (call->role == ML_ROLE_AUTHOR) {
        return admins_only(call);
    }
    if (strcmp(rest, "/orphan") == 0) {
        return visits_page(call, NULL);
    }
    if (*rest != '\0') {
        return ml_api_problem(call, HTTP_NOT_FOUND, ML_PROBLEM_NOT_FOUND,
                              "Not found", "Requested route does not exist.",
                              NULL);
    }
    ml_database_drain_visits(call->conf->database, NULL, call->r->pool);
    if (ml_store_visit_totals_of(call->store, &totals) != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    return ml_api_json(call, HTTP_OK, json_pack(
        "{s:{s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:I, s:I}}", "visits",
        "nonOrphanVisits", "total", (json_int_t)totals.clicks,
        "nonBots", (json_int_t)(totals.clicks - totals.bots),
        "bots", (json_int_t)totals.bots,
        "orphanVisits", "total", (json_int_t)totals.orphans,
        "nonBots", (json_int_t)(totals.orphans - totals.orphan_bots),
        "bots", (json_int_t)totals.orphan_bots,
        "visitsCount", (json_int_t)totals.clicks,
        "orphanVisitsCount", (json_int_t)totals.orphans));
}

int ml_api_link_visits(ml_api_call *call, const char *code)
{
    const ml_link *link;
    int status;

    if ((link = ml_api_find_link(call, code, &status)) == NULL) {
        return status;
    }
    if (call->r->method_number != M_GET) {
        apr_table_setn(call->r->err_headers_out, "Allow", "GET");
        return ml_api_problem(call, HTTP_METHOD_NOT_ALLOWED,
                              ML_PROBLEM_NOT_FOUND, "Method not allowed",
                              "Use GET here", NULL);
    }
    return visits_page(call, link->slug);
}
