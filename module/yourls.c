/*
 * module/yourls.c - SetHandler minilink-yourls: YOURLS' yourls-api.php,
 * which ShareX and many other share-to-shorten clients speak.
 *
 *   action=shorturl   url, keyword, title: a new link (an URL that has one
 *                     already gets it back, as YOURLS does by default)
 *   action=expand     shorturl (the keyword or the whole short URL)
 *   action=url-stats  shorturl: one link's clicks
 *   action=stats      filter=top|bottom|last|rand, limit: links, and totals
 *   action=db-stats   the totals
 *   action=version    YOURLS' version these answers follow
 *
 * By GET or POST (urlencoded or multipart/form-data, as ShareX posts), in
 * format=json, xml or simple (YOURLS' default is xml).  The caller is an
 * API key given as signature (minilink apikey add), else the user Apache
 * authenticated; the roles are the management API's (api.c).  YOURLS'
 * timestamped signature (an MD5 of the time and the token) needs the
 * token itself on the server, and only a hash of each key is kept here,
 * so it is refused; so are username and password (use Apache's own
 * authentication).  Links go through the same store, policy and owners as
 * minilink-api (ml_api_store_link).
 */
#include <stdlib.h>
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_escape.h"
#include "apr_strings.h"

#include "ml_api.h"
#include "../links/ml_multipart.h"

APLOG_USE_MODULE(minilink);

/* The YOURLS release whose answers these follow. */
#define YOURLS_VERSION "1.9.2"
#define YOURLS_DB_VERSION "505"
#define BODY_MOST 65536
#define STATS_LIMIT_DEFAULT 10
#define STATS_LIMIT_MOST 1000
#define KEYWORD_LENGTH 6

typedef enum { FORMAT_XML, FORMAT_JSON, FORMAT_SIMPLE } answer_format;

typedef struct {
    ml_api_call call;
    apr_table_t *params;         /* the query string's and the body's */
    answer_format format;
} yourls_request;

/* ---- answers ------------------------------------------------------------------ */

/* value as XML inside <name>: objects' members as elements, scalars as
 * escaped text (YOURLS' own output is that shape). */
static void put_xml(request_rec *r, const char *name, json_t *value)
{
    const char *key;
    json_t *member;

    ap_rprintf(r, "<%s>", name);
    if (json_is_object(value)) {
        json_object_foreach(value, key, member) {
            put_xml(r, ap_escape_html(r->pool, key), member);
        }
    }
    else if (json_is_string(value)) {
        ap_rputs(ap_escape_html(r->pool, json_string_value(value)), r);
    }
    else if (json_is_integer(value)) {
        ap_rprintf(r, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    }
    ap_rprintf(r, "</%s>", name);
}

/* Sends the answer (taken) in the request's format; simple is the text
 * of the member `simple` (the short URL, the long URL...), else the
 * message.  The HTTP status is the answer's statusCode, as YOURLS'. */
static int answer(yourls_request *y, int status, json_t *value,
                  const char *simple)
{
    request_rec *r = y->call.r;
    json_t *text = json_object_get(value, simple ? simple : "message");
    char *json;

    r->status = status;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (y->format == FORMAT_SIMPLE) {
        ap_set_content_type(r, "text/plain; charset=utf-8");
        if (json_is_string(text)) {
            ap_rputs(json_string_value(text), r);
        }
    }
    else if (y->format == FORMAT_XML) {
        ap_set_content_type(r, "application/xml; charset=utf-8");
        ap_rputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", r);
        put_xml(r, "result", value);
    }
    else {
        ap_set_content_type(r, "application/json; charset=utf-8");
        json = json_dumps(value, JSON_COMPACT);
        ap_rputs(json ? json : "{}", r);
        free(json);
    }
    json_decref(value);
    return OK;
}

static int error_answer(yourls_request *y, int status, const char *message)
{
    return answer(y, status, json_pack("{s:i, s:s}", "errorCode", status,
                                       "message", message), NULL);
}

/* ---- what was asked ------------------------------------------------------------ */

/* The query string's and the body's fields (the body's win, as PHP's
 * $_REQUEST puts POST after GET by default); NULL, or what is wrong. */
static const char *read_params(yourls_request *y)
{
    request_rec *r = y->call.r;
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    const char *problem;
    apr_table_t *form;
    char *at, *next;
    int status;

    y->params = apr_table_make(r->pool, 8);
    for (at = r->args ? apr_pstrdup(r->pool, r->args) : NULL; at && *at;
         at = next) {
        char *equals;
        next = strchr(at, '&');
        if (next) {
            *next++ = '\0';
        }
        equals = strchr(at, '=');
        if (equals) {
            *equals++ = '\0';
        }
        if (ap_unescape_urlencoded(at) == OK
            && (equals == NULL || ap_unescape_urlencoded(equals) == OK)) {
            apr_table_set(y->params, at, equals ? equals : "");
        }
    }
    if (r->method_number != M_POST) {
        return NULL;
    }
    if (type && strncasecmp(type, "multipart/form-data", 19) == 0) {
        char *body = apr_palloc(r->pool, BODY_MOST + 1);
        apr_size_t total = 0;
        long got = 0;
        if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
            return "the body cannot be read";
        }
        if (ap_should_client_block(r)) {
            while (total <= BODY_MOST
                   && (got = ap_get_client_block(r, body + total,
                                                 BODY_MOST + 1 - total)) > 0) {
                total += (apr_size_t)got;
            }
        }
        if (got < 0 || total > BODY_MOST) {
            return "the body is too large or cannot be read";
        }
        return ml_multipart_fields(type, body, total, y->params, r->pool);
    }
    if ((problem = ml_read_form(r, &form, &status)) != NULL) {
        return problem;
    }
    apr_table_overlap(y->params, form, APR_OVERLAP_TABLES_SET);
    return NULL;
}

static const char *param(const yourls_request *y, const char *name)
{
    const char *value = apr_table_get(y->params, name);

    return value && *value ? value : NULL;
}

/* A keyword, or the short URL it ends: the part after the last '/'. */
static const char *keyword_of(const char *short_url)
{
    const char *slash = short_url ? strrchr(short_url, '/') : NULL;

    return slash ? slash + 1 : short_url;
}

/* ---- links as YOURLS shows them --------------------------------------------- */

/* "YYYY-MM-DD HH:MM:SS" (UTC), YOURLS' timestamp. */
static const char *yourls_time(yourls_request *y, apr_int64_t seconds)
{
    char *text = apr_pstrdup(y->call.r->pool, ml_api_time(&y->call, seconds));

    text[10] = ' ';
    text[19] = '\0';
    return text;
}

static json_t *link_json(yourls_request *y, const ml_link *link)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
                     "shorturl", ml_short_url_for(y->call.r, link->slug),
                     "url", link->url,
                     "title", link->title ? link->title : "",
                     "timestamp", yourls_time(y, link->created_at),
                     "ip", "",
                     "clicks", apr_psprintf(y->call.r->pool, "%" APR_INT64_T_FMT,
                                            link->clicks));
}

/* The link of a keyword the caller may see; NULL if none. */
static const ml_link *find(yourls_request *y, const char *keyword)
{
    ml_link *link = apr_pcalloc(y->call.r->pool, sizeof(*link));

    if (keyword && ml_slug_valid(keyword, strlen(keyword))
        && ml_store_get(y->call.store, keyword, link, NULL, y->call.r->pool)
           == APR_SUCCESS && ml_api_may_see(&y->call, link)) {
        return link;
    }
    return NULL;
}

/* ---- the actions ------------------------------------------------------------- */

static int shorten(yourls_request *y)
{
    const char *url = param(y, "url"), *keyword = param(y, "keyword");
    const char *title = param(y, "title"), *detail;
    ml_link link, made;

    if (!ml_api_may_write(&y->call)) {
        return error_answer(y, HTTP_FORBIDDEN, "This key may not add links");
    }
    if (url == NULL) {
        return answer(y, HTTP_BAD_REQUEST, json_pack("{s:s, s:s, s:s, s:i}",
                      "status", "fail", "code", "error:nourl", "message",
                      "Missing or malformed URL", "statusCode", 400), NULL);
    }
    /* YOURLS' default: one link per URL; the one there is comes back. */
    if (keyword == NULL
        && ml_store_find_url(y->call.store, url, apr_time_sec(y->call.now),
                             &made, y->call.r->pool) == APR_SUCCESS
        && ml_store_get(y->call.store, made.slug, &made, NULL, y->call.r->pool)
           == APR_SUCCESS && ml_api_may_see(&y->call, &made)) {
        return answer(y, HTTP_OK, json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:i}",
                      "status", "fail", "code", "error:url",
                      "url", link_json(y, &made),
                      "message", apr_psprintf(y->call.r->pool, "%s already "
                                              "exists in database", url),
                      "title", made.title ? made.title : "",
                      "shorturl", ml_short_url_for(y->call.r, made.slug),
                      "statusCode", 200), "shorturl");
    }
    memset(&link, 0, sizeof(link));
    link.url = url;
    link.title = title;
    switch (ml_api_store_link(&y->call, &link, keyword, KEYWORD_LENGTH, &made,
                              &detail)) {
    case ML_API_STORED:
        break;
    case ML_API_SLUG_REFUSED:
        return answer(y, HTTP_BAD_REQUEST, json_pack("{s:s, s:s, s:s, s:i}",
                      "status", "fail", "code", "error:keyword", "message",
                      apr_psprintf(y->call.r->pool, "Short URL %s already "
                                   "exists in database or is reserved",
                                   keyword ? keyword : ""),
                      "statusCode", 400), NULL);
    case ML_API_URL_REFUSED:
        return answer(y, HTTP_BAD_REQUEST, json_pack("{s:s, s:s, s:s, s:i}",
                      "status", "fail", "code", "error:nourl", "message",
                      detail, "statusCode", 400), NULL);
    default:
        return error_answer(y, HTTP_SERVICE_UNAVAILABLE, "The database cannot "
                            "be used right now");
    }
    return answer(y, HTTP_OK, json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s,"
                  " s:s, s:s, s:i}",
                  "url", "keyword", made.slug, "url", made.url,
                  "title", made.title ? made.title : "",
                  "date", yourls_time(y, made.created_at), "ip", "",
                  "status", "success",
                  "message", apr_psprintf(y->call.r->pool, "%s added to "
                                          "database", made.url),
                  "title", made.title ? made.title : "",
                  "shorturl", ml_short_url_for(y->call.r, made.slug),
                  "statusCode", 200), "shorturl");
}

static int expand(yourls_request *y, int stats)
{
    const ml_link *link = find(y, keyword_of(param(y, "shorturl")));

    if (link == NULL) {
        return error_answer(y, HTTP_NOT_FOUND, "Error: short URL not found");
    }
    if (stats) {
        return answer(y, HTTP_OK, json_pack("{s:i, s:s, s:o}", "statusCode", 200,
                      "message", "success", "link", link_json(y, link)), NULL);
    }
    return answer(y, HTTP_OK, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}",
                  "keyword", link->slug,
                  "shorturl", ml_short_url_for(y->call.r, link->slug),
                  "longurl", link->url, "title", link->title ? link->title : "",
                  "message", "success", "statusCode", 200), "longurl");
}

typedef struct {
    yourls_request *y;
    json_t *links;
} stats_page;

static apr_status_t add_stats_link(void *ctx, const ml_link *link,
                                   const char *problem)
{
    stats_page *page = ctx;

    (void)problem;
    json_object_set_new(page->links, apr_psprintf(page->y->call.r->pool,
                        "link_%d", (int)json_object_size(page->links) + 1),
                        link_json(page->y, link));
    return APR_SUCCESS;
}

typedef struct {
    apr_int64_t links, clicks;
} link_totals;

static apr_status_t add_to_totals(void *ctx, const ml_link *link,
                                  const char *problem)
{
    link_totals *sums = ctx;

    (void)problem;
    sums->links++;
    sums->clicks += link->clicks;
    return APR_SUCCESS;
}

/* Totals of what the caller may see: every link, or an author's own
 * (added up one by one: an author has few). */
static int totals(yourls_request *y, apr_int64_t *links, apr_int64_t *clicks)
{
    ml_store_list_query query;
    link_totals sums = { 0, 0 };
    apr_uint32_t count = 0;
    apr_uint64_t text_bytes, sum = 0;

    if (y->call.role == ML_ROLE_AUTHOR) {
        memset(&query, 0, sizeof(query));
        query.owner = y->call.owner;
        query.items_per_page = -1;
        if (ml_store_list(y->call.store, &query, add_to_totals, &sums, NULL)
            != APR_SUCCESS) {
            return 0;
        }
        *links = sums.links;
        *clicks = sums.clicks;
        return 1;
    }
    if (ml_store_summary(y->call.store, &count, &text_bytes) != APR_SUCCESS
        || ml_store_click_total(y->call.store, &sum) != APR_SUCCESS) {
        return 0;
    }
    *links = count;
    *clicks = (apr_int64_t)sum;
    return 1;
}

static int stats(yourls_request *y, int with_links)
{
    const char *filter = param(y, "filter");
    const char *limit_text = param(y, "limit");
    apr_int64_t limit = limit_text ? apr_atoi64(limit_text) : STATS_LIMIT_DEFAULT;
    apr_int64_t links = 0, clicks = 0;
    stats_page page = { y, json_object() };
    ml_store_list_query query;
    apr_status_t rv = APR_SUCCESS;

    memset(&query, 0, sizeof(query));
    query.owner = y->call.role == ML_ROLE_AUTHOR ? y->call.owner : NULL;
    query.items_per_page = limit < 1 ? 1 : limit > STATS_LIMIT_MOST
                                            ? STATS_LIMIT_MOST : limit;
    query.page = 1;
    if (filter == NULL || strcmp(filter, "top") == 0) {
        query.order = ML_LIST_BY_CLICKS, query.descending = 1;
    }
    else if (strcmp(filter, "bottom") == 0) {
        query.order = ML_LIST_BY_CLICKS;
    }
    else if (strcmp(filter, "last") == 0) {
        query.order = ML_LIST_BY_CREATED, query.descending = 1;
    }
    else if (strcmp(filter, "rand") != 0) {
        json_decref(page.links);
        return error_answer(y, HTTP_BAD_REQUEST, "Unknown filter: top, bottom,"
                            " last or rand");
    }
    if (!totals(y, &links, &clicks)) {
        rv = APR_EGENERAL;
    }
    else if (with_links && filter && strcmp(filter, "rand") == 0) {
        /* A page of one at random places: no order of SQL is random in
         * both engines alike. */
        apr_int64_t n = query.items_per_page < links ? query.items_per_page
                                                     : links;
        query.items_per_page = 1;
        while (rv == APR_SUCCESS && n-- > 0) {
            unsigned char bytes[4];
            apr_generate_random_bytes(bytes, sizeof(bytes));
            query.page = 1 + (apr_int64_t)(((apr_uint32_t)bytes[0] << 24
                                            | (apr_uint32_t)bytes[1] << 16
                                            | (apr_uint32_t)bytes[2] << 8
                                            | bytes[3]) % (apr_uint64_t)links);
            rv = ml_store_list(y->call.store, &query, add_stats_link, &page,
                               NULL);
        }
    }
    else if (with_links) {
        rv = ml_store_list(y->call.store, &query, add_stats_link, &page, NULL);
    }
    if (rv != APR_SUCCESS) {
        json_decref(page.links);
        return error_answer(y, HTTP_SERVICE_UNAVAILABLE, "The database cannot "
                            "be used right now");
    }
    if (!with_links) {
        json_decref(page.links);
        return answer(y, HTTP_OK, json_pack("{s:{s:s, s:s}, s:i, s:s}",
                      "db-stats", "total_links",
                      apr_psprintf(y->call.r->pool, "%" APR_INT64_T_FMT, links),
                      "total_clicks",
                      apr_psprintf(y->call.r->pool, "%" APR_INT64_T_FMT, clicks),
                      "statusCode", 200, "message", "success"), NULL);
    }
    return answer(y, HTTP_OK, json_pack("{s:o, s:{s:s, s:s}, s:i, s:s}",
                  "links", page.links, "stats", "total_links",
                  apr_psprintf(y->call.r->pool, "%" APR_INT64_T_FMT, links),
                  "total_clicks",
                  apr_psprintf(y->call.r->pool, "%" APR_INT64_T_FMT, clicks),
                  "statusCode", 200, "message", "success"), NULL);
}

int ml_yourls_handler(request_rec *r)
{
    yourls_request y;
    const char *problem, *action, *format;
    ml_api_who who = ml_api_open(&y.call, r);

    y.format = FORMAT_XML;
    if ((problem = read_params(&y)) != NULL) {
        return error_answer(&y, HTTP_BAD_REQUEST, problem);
    }
    format = param(&y, "format");
    y.format = format && strcmp(format, "json") == 0 ? FORMAT_JSON
             : format && strcmp(format, "simple") == 0 ? FORMAT_SIMPLE
             : FORMAT_XML;
    action = param(&y, "action");
    if (action && strcmp(action, "version") == 0) {
        return answer(&y, HTTP_OK, json_pack("{s:s, s:s}", "version",
                      YOURLS_VERSION, "db_version", YOURLS_DB_VERSION),
                      "version");
    }
    if (who == ML_API_KNOWN) {
        if (param(&y, "timestamp")) {
            return error_answer(&y, HTTP_FORBIDDEN, "Timestamped signatures "
                                "are not supported here: send the key itself"
                                " as signature");
        }
        who = ml_api_identify(&y.call, param(&y, "signature"));
    }
    if (who == ML_API_FAILED) {
        return error_answer(&y, HTTP_SERVICE_UNAVAILABLE, "The database cannot "
                            "be used right now");
    }
    if (who != ML_API_KNOWN) {
        return error_answer(&y, HTTP_FORBIDDEN, "Please log in");
    }
    if (action == NULL) {
        return error_answer(&y, HTTP_BAD_REQUEST, "Unknown or missing "
                            "\"action\" parameter");
    }
    if (strcmp(action, "shorturl") == 0) {
        return shorten(&y);
    }
    if (strcmp(action, "expand") == 0 || strcmp(action, "url-stats") == 0) {
        return expand(&y, strcmp(action, "url-stats") == 0);
    }
    if (strcmp(action, "stats") == 0 || strcmp(action, "db-stats") == 0) {
        return stats(&y, strcmp(action, "stats") == 0);
    }
    return error_answer(&y, HTTP_BAD_REQUEST, "Unknown or missing \"action\" "
                        "parameter");
}
