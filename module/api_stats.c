/*
 * module/api_stats.c - what Shlink's API says about many links at once:
 *
 *   GET /tags                         {"tags": {"data": [names]}}
 *   GET /tags/stats                   each tag's links and visits
 *   GET /domains                      the one domain: MinilinkShortBase's
 *   PUT /tags, DELETE /tags           a tag renamed; tags deleted (admins)
 *   GET /tags/{tag}/visits            the visits of the links with the tag
 *   GET /visits                       the totals (links' and orphans')
 *   GET /visits/non-orphan            every link's visits, a page at a time
 *   GET, DELETE /visits/orphan        orphan visits; deleted
 *   GET, DELETE /short-urls/{code}/visits   a link's visits; deleted
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

static int not_allowed(ml_api_call *call, const char *allow)
{
    apr_table_setn(call->r->err_headers_out, "Allow", allow);
    return ml_api_problem(call, HTTP_METHOD_NOT_ALLOWED, ML_PROBLEM_NOT_FOUND,
                          "Method not allowed", apr_psprintf(call->r->pool,
                          "Use %s here", allow), NULL);
}

static int tags_forbidden(ml_api_call *call)
{
    return ml_api_problem(call, HTTP_FORBIDDEN, "forbidden-tag-operation",
                          "Forbidden tag operation", "Only an admin may "
                          "rename or delete tags", NULL);
}

/* PUT /tags {"oldName", "newName"}: 204. */
static int rename_tag(ml_api_call *call)
{
    json_t *body;
    const char *from, *to;
    apr_status_t rv;
    int status;

    if (call->role != ML_ROLE_ADMIN) {
        return tags_forbidden(call);
    }
    if ((body = ml_api_body(call, &status)) == NULL) {
        return status;
    }
    from = json_string_value(json_object_get(body, "oldName"));
    to = json_string_value(json_object_get(body, "newName"));
    if (from == NULL || to == NULL) {
        return ml_api_invalid(call, from ? "newName" : "oldName",
                              "oldName and newName are tag names");
    }
    rv = ml_store_rename_tag(call->store, from, to);
    if (rv == APR_ENOENT) {
        return ml_api_problem(call, HTTP_NOT_FOUND, ML_PROBLEM_TAG_NOT_FOUND,
                              "Tag not found", apr_psprintf(call->r->pool,
                              "Tag with name \"%s\" could not be found", from),
                              json_pack("{s:s}", "tag", from));
    }
    if (rv == APR_EEXIST) {
        return ml_api_problem(call, HTTP_CONFLICT, "tag-conflict",
                              "Tag conflict", apr_psprintf(call->r->pool,
                              "You cannot rename tag %s to %s, because it "
                              "already exists", from, to),
                              json_pack("{s:s, s:s}", "oldName", from,
                                        "newName", to));
    }
    if (rv == APR_EINVAL) {
        return ml_api_invalid(call, "newName", ml_store_error(call->store));
    }
    if (rv != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    ml_api_make_live(call);
    call->r->status = HTTP_NO_CONTENT;
    return OK;
}

/* DELETE /tags?tags[]=a&tags[]=b: 204. */
static int delete_tags(ml_api_call *call)
{
    apr_array_header_t *names = ml_api_args(call, "tags");
    int deleted = 0;

    if (call->role != ML_ROLE_ADMIN) {
        return tags_forbidden(call);
    }
    if (ml_store_delete_tags(call->store, (const char *const *)names->elts,
                             names->nelts, &deleted) != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    ml_api_make_live(call);
    call->r->status = HTTP_NO_CONTENT;
    return OK;
}

static int tag_visits(ml_api_call *call, const char *tag);

int ml_api_tags(ml_api_call *call, const char *rest)
{
    tag_list list = { NULL, strcmp(rest, "/stats") == 0 };
    int method = call->r->method_number;
    const char *slash;

    if (*rest == '\0' && method == M_PUT) {
        return rename_tag(call);
    }
    if (*rest == '\0' && method == M_DELETE) {
        return delete_tags(call);
    }
    if (*rest == '/' && (slash = strchr(rest + 1, '/')) != NULL
        && strcmp(slash, "/visits") == 0) {
        return method == M_GET
               ? tag_visits(call, apr_pstrmemdup(call->r->pool, rest + 1,
                                                 (apr_size_t)(slash - rest - 1)))
               : not_allowed(call, "GET");
    }
    if (*rest != '\0' && !list.with_stats) {
        return ml_api_problem(call, HTTP_NOT_FOUND, ML_PROBLEM_NOT_FOUND,
                              "Not found", "Requested route does not exist.",
                              NULL);
    }
    if (method != M_GET) {
        return not_allowed(call, *rest ? "GET" : "GET, PUT, DELETE");
    }
    list.data = json_array();
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
static int visits_page(ml_api_call *call, const ml_store_visit_query *which)
{
    ml_agents *agents = ml_database_agents(call->r->pool);

    ml_database_drain_visits(call->conf->database, agents, call->r->pool);
    return ml_send_visits(call->r, call->store, which, agents) == OK
           ? OK : ml_api_store_failed(call);
}

/* The visits an author may see are its own links'. */
static ml_store_visit_query visits_of(ml_api_call *call, const char *slug)
{
    ml_store_visit_query which;

    memset(&which, 0, sizeof(which));
    which.slug = slug;
    which.owner = call->role == ML_ROLE_AUTHOR ? call->owner : NULL;
    return which;
}

static int tag_visits(ml_api_call *call, const char *tag)
{
    ml_store_visit_query which = visits_of(call, NULL);

    which.tag = tag;
    return visits_page(call, &which);
}

/* {"deletedVisits": N}, Shlink's answer to a deletion of visits. */
static int delete_visits(ml_api_call *call, const char *slug)
{
    apr_uint64_t deleted = 0;

    if (!ml_api_may_write(call)) {
        return ml_api_problem(call, HTTP_FORBIDDEN, ML_PROBLEM_FORBIDDEN,
                              "Forbidden", "This API key may not delete "
                              "visits", NULL);
    }
    ml_database_drain_visits(call->conf->database, NULL, call->r->pool);
    if (ml_store_delete_visits(call->store, slug, &deleted) != APR_SUCCESS) {
        return ml_api_store_failed(call);
    }
    return ml_api_json(call, HTTP_OK, json_pack("{s:I}", "deletedVisits",
                                                (json_int_t)deleted));
}

int ml_api_visits(ml_api_call *call, const char *rest)
{
    ml_store_visit_totals totals;
    ml_store_visit_query which = visits_of(call, NULL);
    int method = call->r->method_number;

    if (strcmp(rest, "/non-orphan") == 0) {
        which.links = 1;
        return method == M_GET ? visits_page(call, &which)
                               : not_allowed(call, "GET");
    }
    if (call->role == ML_ROLE_AUTHOR) {
        return admins_only(call);
    }
    if (strcmp(rest, "/orphan") == 0) {
        return method == M_GET ? visits_page(call, &which)
               : method == M_DELETE ? delete_visits(call, NULL)
               : not_allowed(call, "GET, DELETE");
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
    ml_store_visit_query which;
    int status;

    if ((link = ml_api_find_link(call, code, &status)) == NULL) {
        return status;
    }
    if (call->r->method_number == M_DELETE) {
        return delete_visits(call, link->slug);
    }
    if (call->r->method_number != M_GET) {
        return not_allowed(call, "GET, DELETE");
    }
    which = visits_of(call, link->slug);
    which.owner = NULL;           /* the link is the caller's to see */
    return visits_page(call, &which);
}
