/*
 * module/admin_pages.c - the admin pages' routing and what every page
 * shares: the frame, the forms' CSRF check, the store, small readers.
 *
 * Which answer: a POST is always for a page (the JSON is read-only); a GET
 * gets a page when its Accept names text/html (browsers, lynx, w3m), else
 * the JSON of status.c as before (curl, scripts, Prometheus).
 *
 * Where the admin location starts is not known to a handler, so it is read
 * from the end of the request's path, segment by segment:
 *
 *   <root>links/SLUG/ACTION   ACTION: rules, delete, qr.svg (an image:
 *                             answered whatever the Accept)
 *   <root>links/SLUG
 *   <root>links
 *   <root>new
 *   <root>                    (the path ends in '/')
 *
 * tried in this order, so a slug named "new", "links" or "delete" is still
 * a link's page.  The CSRF cookie is sent for <root>, so every page's
 * forms share one token.
 *
 * Who asks, as the management API has it: where the location
 * authenticates users (any auth module), a user MinilinkAdminUsers names
 * is an admin and any other an author, who sees and changes only the links
 * they made (links.owner) on every page; with no user (a location guarded
 * by Require ip, say) the one asking is an admin.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_expr.h"
#include "apr_escape.h"
#include "apr_strings.h"

#include "admin.h"
#include "../links/ml_time.h"

APLOG_USE_MODULE(minilink);

/* Pages for a phone (360 px) as for a desk: one column that wraps, tables
 * that scroll sideways inside their box rather than widen the page. */
static const char style[] =
    "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;"
    "margin:0}"
    "header{background:#1d2330;padding:.6rem 1rem}"
    "header{color:#5b6475}header a{color:#fff;margin:0 .6rem;text-decoration:none}"
    "header a:focus,header a:hover{text-decoration:underline}"
    "main{max-width:72rem;margin:0 auto;padding:1rem}"
    "section{background:#fff;border-radius:8px;padding:1rem;margin:1rem 0;"
    "box-shadow:0 1px 6px rgba(0,0,0,.07);overflow-x:auto}"
    "h1{font-size:1.4rem;word-break:break-all}h2{font-size:1.1rem;margin-top:0}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6eb;"
    "vertical-align:top}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.url{word-break:break-all;min-width:10rem}"
    "label{display:block;font-weight:600;margin:.8rem 0 .25rem}"
    "input,select,textarea{box-sizing:border-box;width:100%;max-width:40rem;"
    "padding:.45rem .6rem;font-size:1rem;border:1px solid #c5cad3;"
    "border-radius:6px}"
    "textarea{font-family:monospace;min-height:4rem}"
    ".check input{width:auto;margin-right:.5rem}"
    "button,.button{padding:.45rem 1rem;font-size:1rem;border:0;border-radius:6px;"
    "background:#2b59c3;color:#fff;cursor:pointer;margin:.6rem .4rem 0 0;"
    "display:inline-block;text-decoration:none}"
    "button.small{padding:.2rem .6rem;font-size:.9rem;margin:0 .2rem 0 0;"
    "background:#5b6475}"
    "button.danger,.button.danger{background:#b3261e}"
    "button:focus,.button:focus,a:focus,input:focus,select:focus,"
    "textarea:focus{outline:3px solid #f3b300;outline-offset:1px}"
    ".error{background:#fdecec;border:1px solid #f0a6a6;padding:.6rem 1rem;"
    "border-radius:6px}"
    ".done{background:#eaf6ec;border:1px solid #9fd3a8;padding:.6rem 1rem;"
    "border-radius:6px}"
    ".hint{color:#5b6475;font-size:.9rem;font-weight:400}"
    ".state{font-size:.85rem;padding:.1rem .45rem;border-radius:4px;"
    "background:#e3e6eb;white-space:nowrap}"
    ".figures{display:flex;flex-wrap:wrap;gap:1rem}"
    ".figures div{min-width:9rem}.figures b{display:block;font-size:1.4rem}"
    ".tops{display:flex;flex-wrap:wrap;gap:1rem}.tops table{width:auto;"
    "min-width:14rem}"
    "figure{margin:0}svg.chart{width:100%;height:auto;max-height:20rem}"
    /* The chart's labels in its own units: larger when it is drawn small. */
    "@media (max-width:600px){svg.chart text{font-size:22px}}"
    ".qr{width:10rem;height:10rem}"
    "ol.rules li{margin:.4rem 0;word-break:break-all}"
    "code{font-size:.9rem}";

const char *ml_admin_html(const ml_admin *a, const char *text)
{
    return ml_html_escape(a->r->pool, text);
}

void ml_admin_start(ml_admin *a, int status, const char *title)
{
    ml_page_headers(a->r, status);
    ap_rprintf(a->r, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
               "<meta charset=\"utf-8\"><meta name=\"viewport\" "
               "content=\"width=device-width,initial-scale=1\">"
               "<title>%s - minilink</title><style>%s</style></head><body>\n"
               "<header><nav aria-label=\"admin\"><a href=\"%s\">Overview</a> "
               "| <a href=\"%slinks\">Links</a> | <a href=\"%snew\">New link</a>"
               "</nav></header>\n<main>\n<h1>%s</h1>\n",
               ml_admin_html(a, title), style, a->root, a->root, a->root,
               ml_admin_html(a, title));
}

int ml_admin_end(ml_admin *a)
{
    ap_rputs("</main></body></html>\n", a->r);
    return OK;
}

void ml_admin_csrf_field(ml_admin *a)
{
    ap_rprintf(a->r, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n",
               ml_admin_html(a, a->csrf));
}

void ml_admin_notice(ml_admin *a, const char *kind, const char *text)
{
    if (text) {
        ap_rprintf(a->r, "<p class=\"%s\" id=\"%s\" role=\"status\">%s</p>\n",
                   kind, kind, ml_admin_html(a, text));
    }
}

int ml_admin_see_other(ml_admin *a, const char *path)
{
    apr_table_setn(a->r->headers_out, "Location",
                   ap_construct_url(a->r->pool, apr_pstrcat(a->r->pool, a->root,
                                                            path, NULL), a->r));
    return HTTP_SEE_OTHER;
}

const char *ml_admin_read_form(ml_admin *a, apr_table_t **fields, int *status)
{
    const char *type = apr_table_get(a->r->headers_in, "Content-Type");
    const char *problem;
    int read_status;

    if (type == NULL
        || strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0) {
        *status = HTTP_UNSUPPORTED_MEDIA_TYPE;
        return "send a form (application/x-www-form-urlencoded)";
    }
    if ((problem = ml_read_form(a->r, fields, &read_status)) != NULL) {
        *status = read_status;
        return problem;
    }
    if ((problem = ml_form_post_problem(a->r, apr_table_get(*fields, "csrf")))) {
        *status = HTTP_FORBIDDEN;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, a->r, MLLOGNO(00096) "admin "
                      "form refused: %s", problem);
    }
    return problem;
}

ml_store *ml_admin_store(ml_admin *a)
{
    ml_store *store;

    /* A connection this process keeps, as the API's requests get: one
     * opened per request reads the indexes from the file again.  Those
     * write; a page that only reads is still shown from a database the
     * server may not write. */
    if (ml_database_request_store(a->database, a->r, &store) != APR_SUCCESS
        && (a->r->method_number == M_POST
            || ml_store_open(&store, a->database->location, ML_STORE_READ,
                             a->r->pool) != APR_SUCCESS)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, a->r, MLLOGNO(00095) "admin "
                      "page cannot use the database: %s", ml_store_error(store));
        return NULL;
    }
    return store;
}

int ml_admin_failure(ml_admin *a, int status, const char *text)
{
    ml_admin_start(a, status, status == HTTP_NOT_FOUND ? "Not found"
                              : "This did not work");
    ml_admin_notice(a, "error", text);
    return ml_admin_end(a);
}

/* The value of name= in the query string (at its start or after '&'),
 * undecoded, its length in *len; NULL if absent. */
static const char *query_value(const ml_admin *a, const char *name,
                               apr_size_t *len)
{
    apr_size_t name_len = strlen(name);
    const char *at = a->r->args;

    while (at && *at) {
        if (strncmp(at, name, name_len) == 0 && at[name_len] == '=') {
            *len = strcspn(at + name_len + 1, "&");
            return at + name_len + 1;
        }
        at = strchr(at, '&');
        at = at ? at + 1 : NULL;
    }
    return NULL;
}

apr_int64_t ml_admin_query_number(const ml_admin *a, const char *name,
                                  apr_int64_t fallback)
{
    apr_size_t len;
    const char *value = query_value(a, name, &len);
    apr_int64_t number;

    if (value == NULL || len == 0 || len > 15) {
        return fallback;
    }
    number = ml_decimal(apr_pstrmemdup(a->r->pool, value, len));
    return number < 0 ? fallback : number;
}

const char *ml_admin_query_text(const ml_admin *a, const char *name)
{
    apr_size_t len;
    const char *value = query_value(a, name, &len);

    /* '+' is a space in a form's query string; a bad %XX: absent. */
    return value ? apr_punescape_url(a->r->pool, apr_pstrmemdup(a->r->pool,
                                     value, len), NULL, NULL, 1)
                 : NULL;
}

const char *ml_admin_time(const ml_admin *a, apr_int64_t seconds)
{
    apr_time_exp_t t;
    char text[32];
    apr_size_t len;

    if (seconds == 0) {
        return "";
    }
    apr_time_exp_gmt(&t, apr_time_from_sec(seconds));
    apr_strftime(text, &len, sizeof(text), "%Y-%m-%d %H:%M UTC", &t);
    return apr_pstrdup(a->r->pool, text);
}

/* NULL for an admin (no user, or one MinilinkAdminUsers names), else the
 * author's name. */
static const char *author_of(const request_rec *r, const ml_dir_config *conf)
{
    const char *const *admins = conf->admin_users
                                ? (const char *const *)conf->admin_users->elts
                                : NULL;
    int n = conf->admin_users ? conf->admin_users->nelts : 0;

    if (r->user == NULL || *r->user == '\0') {
        return NULL;
    }
    while (n-- > 0) {
        if (strcmp(admins[n], r->user) == 0) {
            return NULL;
        }
    }
    return r->user;
}

int ml_admin_may_see(const ml_admin *a, const ml_link *link)
{
    return a->owner == NULL
           || (link->owner && strcmp(link->owner, a->owner) == 0);
}

apr_uint64_t ml_admin_clicks_of(const ml_admin *a, const ml_link *link)
{
    return (apr_uint64_t)link->clicks
           + (a->database->cache ? ml_database_pending_for(a->database, link)
                                 : 0);
}

/*
 * Where the database's links are served: the first <Location> of this
 * virtual host with SetHandler minilink whose database (its own, else the
 * server's) is this one (a plain path; a pattern cannot be a prefix).
 * NULL if none.  The handler is an expression; a plain name evaluates to
 * itself, with any request.
 */
const char *ml_admin_links_prefix(const ml_admin *a)
{
    const core_server_config *core =
        ap_get_core_module_config(a->r->server->module_config);
    const ml_dir_config *server = ap_get_module_config(
        a->r->server->lookup_defaults, &minilink_module);
    ap_conf_vector_t **sections = (ap_conf_vector_t **)core->sec_url->elts;
    int i;

    for (i = 0; i < core->sec_url->nelts; i++) {
        const core_dir_config *section = ap_get_core_module_config(sections[i]);
        const ml_dir_config *conf = ap_get_module_config(sections[i],
                                                         &minilink_module);
        const char *handler = NULL, *error = NULL, *path = section->d;
        if (section->expr_handler) {
            handler = ap_expr_str_exec(a->r, section->expr_handler, &error);
        }
        if (handler && strcmp(handler, ML_HANDLER) == 0 && path
            && section->r == NULL && !section->d_is_fnmatch
            && (conf && conf->database ? conf->database
                : server ? server->database : NULL) == a->database) {
            return path[0] && path[strlen(path) - 1] == '/'
                   ? path : apr_pstrcat(a->r->pool, path, "/", NULL);
        }
    }
    return NULL;
}

const char *ml_admin_short_url(const ml_admin *a, const char *slug)
{
    const char *prefix = ml_admin_links_prefix(a);

    if (a->conf->short_base) {        /* MinilinkShortBase says */
        return ml_short_url_for(a->r, slug);
    }
    return prefix ? ap_construct_url(a->r->pool, apr_pstrcat(a->r->pool,
                                     apr_pescape_path(a->r->pool, prefix, 1),
                                     slug, NULL), a->r)
                  : NULL;
}

/* ---- routing ------------------------------------------------------------ */

/* Whether the request asks for a page rather than JSON. */
static int wants_page(const request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    return r->method_number == M_POST
           || (accept && ap_strcasestr(accept, "text/html") != NULL);
}

/* The segment of path that ends at end (exclusive): its start. */
static const char *segment_before(const char *path, const char *end)
{
    const char *start = end;

    while (start > path && start[-1] != '/') {
        start--;
    }
    return start;
}

static int segment_is(const char *start, const char *end, const char *name)
{
    return (apr_size_t)(end - start) == strlen(name)
           && strncmp(start, name, (apr_size_t)(end - start)) == 0;
}

/* What a path asks for (see the top of the file); *root_end: where
 * <root> ends in it.  0 if no page. */
enum { NO_PAGE, OVERVIEW, TABLE, CREATE, LINK };
static int route(const char *uri, const char **root_end, const char **slug,
                 apr_size_t *slug_len, const char **action)
{
    const char *end = uri + strlen(uri);
    const char *last = segment_before(uri, end);
    const char *second = last > uri ? segment_before(uri, last - 1) : NULL;
    const char *third = second && second > uri
                        ? segment_before(uri, second - 1) : NULL;

    *action = NULL;
    if (third && segment_is(third, second - 1, "links")
        && ml_slug_valid(second, (apr_size_t)(last - 1 - second))
        && (segment_is(last, end, "rules") || segment_is(last, end, "delete")
            || segment_is(last, end, "qr.svg"))) {
        *root_end = third;
        *slug = second;
        *slug_len = (apr_size_t)(last - 1 - second);
        *action = last;
        return LINK;
    }
    if (second && segment_is(second, last - 1, "links")
        && ml_slug_valid(last, (apr_size_t)(end - last))) {
        *root_end = second;
        *slug = last;
        *slug_len = (apr_size_t)(end - last);
        return LINK;
    }
    *root_end = last;
    if (segment_is(last, end, "links")) {
        return TABLE;
    }
    if (segment_is(last, end, "new")) {
        return CREATE;
    }
    return last == end ? OVERVIEW : NO_PAGE;
}

/* 405 unless the method is one of the page's (GET, and POST if posts). */
static int method_refused(request_rec *r, int posts)
{
    if (r->method_number == M_GET || (posts && r->method_number == M_POST)) {
        return 0;
    }
    if (posts) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, M_POST, -1);
    }
    else {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    }
    return 1;
}

int ml_admin_pages(request_rec *r, const ml_dir_config *conf)
{
    const char *root_end, *slug = NULL, *action;
    apr_size_t slug_len = 0;
    int page;
    ml_admin a;

    if (conf->database == NULL) {
        return DECLINED;        /* status.c logs it */
    }
    page = route(r->uri, &root_end, &slug, &slug_len, &action);
    if (page == NO_PAGE || (!wants_page(r) && !(action && strcmp(action,
                                                                 "qr.svg") == 0))) {
        return DECLINED;
    }
    if (method_refused(r, page == CREATE || page == LINK)) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (conf->database->cache == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    a.r = r;
    a.conf = conf;
    a.database = conf->database;
    a.root = apr_pescape_path(r->pool, apr_pstrmemdup(r->pool, r->uri,
                              (apr_size_t)(root_end - r->uri)), 1);
    a.csrf = ml_form_token_under(r, a.root);
    a.user = r->user && *r->user ? r->user : NULL;
    a.owner = author_of(r, conf);
    switch (page) {
    case OVERVIEW:
        return ml_admin_overview(&a);
    case TABLE:
        return ml_admin_table(&a);
    case CREATE:
        return ml_admin_create(&a);
    default:
        return ml_admin_link(&a, apr_pstrmemdup(r->pool, slug, slug_len),
                             action);
    }
}
