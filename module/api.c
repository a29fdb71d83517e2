/*
 * module/api.c - SetHandler minilink-api: Shlink's REST API v3, which its
 * clients (the JS SDK, the web client, integrations) already speak.
 *
 *   <location>/health, /v3/health      {"status": "pass", "version"} (no key)
 *   <location>/v3/short-urls...         the links (api_short_urls.c)
 *   <location>/v3/tags..., /domains, /visits...   (api_stats.c)
 *   (/v2/ is answered the same: the shapes these clients read did not change)
 *
 * Who asks: an API key in X-Api-Key (minilink apikey; only its SHA-256 is
 * stored) with its role; else the user Apache authenticated (any auth
 * module, r->user): an admin if MinilinkAdminUsers names them, else an
 * author; else 401.  An author sees and changes only the links it made
 * (links.owner); read-only changes nothing.
 *
 * CORS: a page served from another origin (the Shlink web client) may call
 * the API: the key is the credential, never a cookie, so any origin is
 * allowed unless MinilinkApiCorsOrigins names some.  A preflight (OPTIONS)
 * is answered 204 before anything else, with the headers it asked for.
 *
 * Every error this handler answers is application/problem+json with
 * Shlink's type URIs, which its SDK reads.
 */
#include <stdlib.h>
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_expr.h"
#include "util_filter.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "ml_api.h"
#include "../links/ml_apikey.h"
#include "../links/ml_visit_json.h"

APLOG_USE_MODULE(minilink);

#define PROBLEM_BASE "https://shlink.io/api/error/"
#define MAX_BODY_BYTES 65536
#define CORS_MAX_AGE "3600"
#define CORS_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"

/* ---- answers ------------------------------------------------------------- */

static int send_json(request_rec *r, int status, json_t *value,
                     const char *content_type)
{
    char *text = json_dumps(value, JSON_COMPACT);

    r->status = status;
    ap_set_content_type(r, content_type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (status != HTTP_NO_CONTENT) {
        ap_rprintf(r, "%s\n", text ? text : "null");
    }
    free(text);
    json_decref(value);
    return OK;
}

int ml_api_json(ml_api_call *call, int status, json_t *value)
{
    return send_json(call->r, status, value, "application/json");
}

int ml_api_problem(ml_api_call *call, int status, const char *type,
                   const char *title, const char *detail, json_t *extra)
{
    json_t *problem = json_pack("{s:s, s:s, s:s, s:i}", "type",
                                apr_pstrcat(call->r->pool, PROBLEM_BASE, type,
                                            NULL),
                                "title", title, "detail", detail,
                                "status", status);

    if (extra) {
        json_object_update(problem, extra);
        json_decref(extra);
    }
    return send_json(call->r, status, problem, "application/problem+json");
}

int ml_api_invalid(ml_api_call *call, const char *field, const char *detail)
{
    return ml_api_problem(call, HTTP_BAD_REQUEST, ML_PROBLEM_INVALID_DATA,
                          "Invalid data", detail,
                          json_pack("{s:[s]}", "invalidElements", field));
}

int ml_api_store_failed(ml_api_call *call)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, call->r, MLLOGNO(00080)
                  "the API cannot use the database: %s",
                  call->store ? ml_store_error(call->store) : "not opened");
    return ml_api_problem(call, HTTP_SERVICE_UNAVAILABLE,
                          ML_PROBLEM_UNAVAILABLE, "Service unavailable",
                          "The database cannot be used right now; try again"
                          " later", NULL);
}

/* ---- what the request says ------------------------------------------------ */

/* Decodes a query string's key or value: %XX, and '+' as a space
 * (httpd's own for form data, which keeps %2F as '/'). */
static const char *decoded(apr_pool_t *pool, const char *value, apr_size_t len)
{
    char *text = apr_pstrmemdup(pool, value, len);

    return ap_unescape_urlencoded(text) == OK ? text : NULL;
}

apr_array_header_t *ml_api_args(const ml_api_call *call, const char *name)
{
    apr_array_header_t *values = apr_array_make(call->r->pool, 4,
                                                sizeof(const char *));
    apr_size_t name_len = strlen(name);
    const char *at = call->r->args;

    while (at && *at) {
        apr_size_t len = strcspn(at, "&");
        const char *equals = memchr(at, '=', len);
        apr_size_t key_len = equals ? (apr_size_t)(equals - at) : len;
        const char *key = decoded(call->r->pool, at, key_len);
        if (key && strncmp(key, name, name_len) == 0
            && (key[name_len] == '\0' || strcmp(key + name_len, "[]") == 0)) {
            const char *value = equals ? decoded(call->r->pool, equals + 1,
                                                 len - key_len - 1) : "";
            if (value) {
                APR_ARRAY_PUSH(values, const char *) = value;
            }
        }
        at += len + (at[len] == '&');
    }
    return values;
}

const char *ml_api_arg(const ml_api_call *call, const char *name)
{
    apr_array_header_t *values = ml_api_args(call, name);

    return values->nelts ? APR_ARRAY_IDX(values, values->nelts - 1,
                                         const char *) : NULL;
}

static apr_status_t release_json(void *value)
{
    json_decref(value);
    return APR_SUCCESS;
}

json_t *ml_api_body(ml_api_call *call, int *status)
{
    request_rec *r = call->r;
    char *buffer = apr_palloc(r->pool, MAX_BODY_BYTES + 1);
    apr_size_t total = 0;
    json_error_t error;
    json_t *body;
    long got = 0;
    int rc;

    /* httpd refuses a body over LimitRequestBody (413), or one it cannot
     * read (400), here or while it is read: as problems too. */
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        *status = ml_api_problem(call, rc, ML_PROBLEM_INVALID_DATA,
                                 "Request refused", "The body is larger than"
                                 " this server takes, or not readable", NULL);
        return NULL;
    }
    if (ap_should_client_block(r)) {
        while ((got = ap_get_client_block(r, buffer + total,
                                          MAX_BODY_BYTES + 1 - total)) > 0) {
            total += (apr_size_t)got;
            if (total > MAX_BODY_BYTES) {
                break;
            }
        }
        if (got < 0 || total > MAX_BODY_BYTES) {
            *status = ml_api_problem(call, HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     ML_PROBLEM_INVALID_DATA,
                                     "Request too large", "The body may be at"
                                     " most 64 KiB, and LimitRequestBody", NULL);
            return NULL;
        }
    }
    body = json_loadb(buffer, total, 0, &error);
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        *status = ml_api_invalid(call, "body", "The body must be a JSON object");
        return NULL;
    }
    apr_pool_cleanup_register(r->pool, body, release_json,
                              apr_pool_cleanup_null);
    *status = OK;
    return body;
}

const char *ml_api_time(ml_api_call *call, apr_int64_t seconds)
{
    char *text = apr_palloc(call->r->pool, 26);

    ml_visit_time(text, seconds, 0);
    return text;
}

/* ---- who asks --------------------------------------------------------------- */

int ml_api_may_write(const ml_api_call *call)
{
    return call->role != ML_ROLE_READ_ONLY;
}

int ml_api_may_see(const ml_api_call *call, const ml_link *link)
{
    return call->role != ML_ROLE_AUTHOR
           || (link->owner && strcmp(link->owner, call->owner) == 0);
}

static int is_listed(const apr_array_header_t *list, const char *word)
{
    int i;

    for (i = 0; list && i < list->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(list, i, const char *), word) == 0) {
            return 1;
        }
    }
    return 0;
}

ml_api_who ml_api_identify(ml_api_call *call, const char *key)
{
    ml_store_api_key found;
    apr_status_t rv;

    if (key && *key) {
        rv = ml_store_api_key_find(call->store,
                                   ml_api_key_hash(key, call->r->pool),
                                   &found, call->r->pool);
        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            return ML_API_FAILED;
        }
        if (rv == APR_ENOENT || (found.expires_at
                                 && found.expires_at <= apr_time_sec(call->now))) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, call->r, MLLOGNO(00081)
                          "an API request with a key that is %s",
                          rv == APR_ENOENT ? "unknown" : "expired");
            return ML_API_BAD_KEY;
        }
        call->role = found.role;
        call->owner = found.name;
        return ML_API_KNOWN;
    }
    if (call->r->user && *call->r->user) {
        call->owner = call->r->user;
        call->role = is_listed(call->conf->admin_users, call->r->user)
                     ? ML_ROLE_ADMIN : ML_ROLE_AUTHOR;
        return ML_API_KNOWN;
    }
    return ML_API_NOBODY;
}

ml_api_who ml_api_open(ml_api_call *call, request_rec *r)
{
    memset(call, 0, sizeof(*call));
    call->r = r;
    call->conf = ap_get_module_config(r->per_dir_config, &minilink_module);
    call->now = r->request_time;
    if (call->conf->database == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00082) "SetHandler "
                      "%s at %s, but no MinilinkDatabase applies here",
                      r->handler, r->uri);
        return ML_API_FAILED;
    }
    if (ml_database_request_store(call->conf->database, r, &call->store)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00084) "the API "
                      "cannot open its database: %s", ml_store_error(call->store));
        return ML_API_FAILED;
    }
    /* Keys and owners came with schema 3. */
    if (ml_store_schema(call->store) < ML_STORE_SCHEMA_VERSION) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00083) "the API "
                      "needs schema version %d: run 'minilink upgrade' on %s",
                      ML_STORE_SCHEMA_VERSION, call->conf->database->label);
        return ML_API_FAILED;
    }
    return ML_API_KNOWN;
}

/* The 401 of a request the API cannot tell the caller of. */
static int unauthorized(ml_api_call *call, ml_api_who who)
{
    if (who == ML_API_BAD_KEY) {
        return ml_api_problem(call, HTTP_UNAUTHORIZED, "invalid-api-key",
                              "Invalid API key", "Provided API key does not "
                              "exist or is invalid.", NULL);
    }
    return ml_api_problem(call, HTTP_UNAUTHORIZED, "missing-authentication",
                          "Invalid authorization", "Expected one of the "
                          "following authentication headers, [\"X-Api-Key\"],"
                          " but none were provided", NULL);
}

/* ---- CORS ------------------------------------------------------------------ */

/* True if a header's value may be echoed: header names and commas only. */
static int header_list_safe(const char *value)
{
    for (; *value; value++) {
        if (!apr_isalnum(*value) && !strchr("-_, ", *value)) {
            return 0;
        }
    }
    return 1;
}

/* Adds the CORS headers for an allowed Origin; 1 if it is allowed (or
 * none was sent). */
static int cors(ml_api_call *call)
{
    const char *origin = apr_table_get(call->r->headers_in, "Origin");
    const apr_array_header_t *allowed = call->conf->cors_origins;

    apr_table_mergen(call->r->err_headers_out, "Vary", "Origin");
    if (origin == NULL) {
        return 1;
    }
    if (allowed && !is_listed(allowed, "*") && !is_listed(allowed, origin)) {
        return 0;
    }
    apr_table_setn(call->r->err_headers_out, "Access-Control-Allow-Origin",
                   allowed && !is_listed(allowed, "*") ? origin : "*");
    return 1;
}

/* A preflight: 204 with what it asked for, if its origin is allowed. */
static int preflight(ml_api_call *call)
{
    const char *headers = apr_table_get(call->r->headers_in,
                                        "Access-Control-Request-Headers");

    if (cors(call)) {
        apr_table_setn(call->r->err_headers_out, "Access-Control-Allow-Methods",
                       CORS_METHODS);
        apr_table_setn(call->r->err_headers_out, "Access-Control-Allow-Headers",
                       headers && header_list_safe(headers)
                       ? headers : "Content-Type, X-Api-Key, Accept");
        apr_table_setn(call->r->err_headers_out, "Access-Control-Max-Age",
                       CORS_MAX_AGE);
    }
    apr_table_setn(call->r->headers_out, "Allow", CORS_METHODS);
    call->r->status = HTTP_NO_CONTENT;
    return OK;
}

/* ---- where it goes ----------------------------------------------------------- */

/* The path after the location's version: "/short-urls" of
 * ".../rest/v3/short-urls"; "/health" for ".../rest/health"; NULL if the
 * path has neither. */
static const char *route_of(const char *uri)
{
    const char *at = uri, *last = NULL;
    apr_size_t len = strlen(uri);

    while ((at = strstr(at, "/v")) != NULL) {
        const char *digits = at + 2;
        apr_size_t n = strspn(digits, "0123456789");
        if (n > 0 && (digits[n] == '/' || digits[n] == '\0')) {
            last = digits + n;
        }
        at += 2;
    }
    if (last) {
        return last;
    }
    return len >= 7 && strcmp(uri + len - 7, "/health") == 0 ? "/health" : NULL;
}

static int health(ml_api_call *call)
{
    return ml_api_json(call, HTTP_OK, json_pack("{s:s, s:s, s:{s:s, s:s}}",
        "status", "pass", "version", ML_API_SHLINK_VERSION,
        "links", "about", "https://shlink.io",
        "project", "https://github.com/shlinkio/shlink"));
}

static int not_found(ml_api_call *call)
{
    return ml_api_problem(call, HTTP_NOT_FOUND, ML_PROBLEM_NOT_FOUND,
                          "Not found", "Requested route does not exist.",
                          NULL);
}

static int route(ml_api_call *call, const char *path)
{
    if (strcmp(path, "/mercure-info") == 0) {
        return ml_api_problem(call, HTTP_NOT_IMPLEMENTED,
                              "mercure-not-configured", "Mercure not "
                              "configured", "This Shlink instance is not "
                              "integrated with a mercure hub.", NULL);
    }
    if (strncmp(path, "/short-urls", 11) == 0
        && (path[11] == '\0' || path[11] == '/')) {
        const char *code = path + 11 + (path[11] == '/');
        const char *slash = strchr(code, '/');
        if (slash && strcmp(slash, "/visits") == 0) {
            return ml_api_link_visits(call, apr_pstrmemdup(call->r->pool, code,
                                      (apr_size_t)(slash - code)));
        }
        return ml_api_short_urls(call, path + 11);
    }
    if (strncmp(path, "/tags", 5) == 0 && (path[5] == '\0' || path[5] == '/')) {
        return ml_api_tags(call, path + 5);
    }
    if (strcmp(path, "/domains") == 0) {
        return ml_api_domains(call);
    }
    if (strncmp(path, "/visits", 7) == 0 && (path[7] == '\0' || path[7] == '/')) {
        return ml_api_visits(call, path + 7);
    }
    return not_found(call);
}

/* ---- httpd's own errors ------------------------------------------------------ */

#define PROBLEM_FILTER "MINILINK_PROBLEM"

/* Whether r is under a "SetHandler minilink-api" location: asked of the
 * section itself, since r->handler is set only after access control, and
 * a 401 of Basic auth comes before. */
static int under_api(request_rec *r)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const char *error = NULL, *handler;

    if (core == NULL || core->expr_handler == NULL) {
        return 0;
    }
    handler = ap_expr_str_exec(r, core->expr_handler, &error);
    return error == NULL && handler && strcmp(handler, ML_API_HANDLER) == 0;
}

/* The error page httpd is about to send under an API location (its own:
 * a 401 before the handler, a 405 of TRACE, a 413...) becomes a problem,
 * as every answer of the API: its clients read no HTML.  The body is the
 * response text httpd sends for the status; the filter below gives it
 * its type. */
static void problem_for_error(request_rec *r)
{
    const char *type = r->status == HTTP_UNAUTHORIZED ? "missing-authentication"
                     : r->status == HTTP_FORBIDDEN ? ML_PROBLEM_FORBIDDEN
                     : r->status == HTTP_REQUEST_ENTITY_TOO_LARGE
                       || r->status == HTTP_BAD_REQUEST ? ML_PROBLEM_INVALID_DATA
                     : r->status >= 500 ? ML_PROBLEM_UNAVAILABLE
                     : ML_PROBLEM_NOT_FOUND;
    json_t *problem;
    char *text;

    if (!ap_is_HTTP_ERROR(r->status) || !under_api(r)) {
        return;
    }
    problem = json_pack("{s:s, s:s, s:s, s:i}", "type",
                        apr_pstrcat(r->pool, PROBLEM_BASE, type, NULL),
                        "title", ap_get_status_line(r->status) + 4,
                        "detail", "Answered by the web server before the API",
                        "status", r->status);
    text = json_dumps(problem, JSON_COMPACT);
    json_decref(problem);
    if (text) {
        ap_custom_response(r, r->status, apr_pstrdup(r->pool, text));
        free(text);
        ap_add_output_filter(PROBLEM_FILTER, NULL, r, r->connection);
    }
}

/* Gives the error page its type before httpd's headers go out. */
static apr_status_t problem_type(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/problem+json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void ml_api_register_hooks(void)
{
    ap_hook_insert_error_filter(problem_for_error, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter(PROBLEM_FILTER, problem_type, NULL,
                              AP_FTYPE_RESOURCE);
}

int ml_api_handler(request_rec *r)
{
    ml_api_call call;
    const char *path = route_of(r->uri);
    ml_api_who who = ml_api_open(&call, r);

    if (r->method_number == M_OPTIONS) {
        return preflight(&call);
    }
    if (!cors(&call)) {
        return ml_api_problem(&call, HTTP_FORBIDDEN, ML_PROBLEM_FORBIDDEN,
                              "Origin not allowed", "This origin may not "
                              "call the API (MinilinkApiCorsOrigins)", NULL);
    }
    if (path && strcmp(path, "/health") == 0) {
        return health(&call);
    }
    if (who == ML_API_KNOWN) {
        who = ml_api_identify(&call, apr_table_get(r->headers_in, "X-Api-Key"));
    }
    if (who == ML_API_FAILED) {
        return ml_api_store_failed(&call);
    }
    if (who != ML_API_KNOWN) {
        return unauthorized(&call, who);
    }
    return path ? route(&call, path) : not_found(&call);
}
