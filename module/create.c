/*
 * module/create.c - shortening over HTTP, and previews.
 *
 *   GET  <prefix>/         the form (MinilinkCreate On)
 *   POST <prefix>/         a form post or JSON {"url": ..., "slug": ...},
 *                          with the link's rules under Shlink's names
 *                          ("title", "tags", "validSince", "maxVisits",
 *                          "crawlable", "forwardQuery", "redirectRules"...)
 *   GET  <prefix>/<slug>+  where the link goes, without going (MinilinkPreview)
 *
 * Who may create is Apache's business (<Limit POST> Require ...); what may
 * be created is ml_policy.h's; how often, ratelimit.c's.  A new link is in
 * the shared table before the answer leaves, so it works at once.
 *
 * CSRF: the form carries a token that must equal a cookie set with it
 * (SameSite=Strict, HttpOnly) and that the server can verify: an HMAC made
 * with a key only the server knows (made once and retained across
 * graceful restarts: lifecycle.c), which expires (ml_form_token.h).  A
 * value another site planted as a cookie (from a sibling subdomain, or
 * over plain http) is not one.  An attacker who plants a token the server
 * made (fetched from the form) is stopped by the browser: a form posted
 * from another site's page carries that site's Origin, which is refused.
 * (With no user's session to bind the token to, a browser that sent no
 * Origin would let such a sibling through; current browsers send it.)
 * JSON needs no token: a cross-site page cannot send Content-Type:
 * application/json without a CORS preflight, which we never grant.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_cookies.h"
#include "ap_listen.h"
#include "apr_escape.h"
#include "apr_fnmatch.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>

#include "ml_module.h"
#include "../links/ml_fields.h"

APLOG_USE_MODULE(minilink);

#define MAX_BODY_BYTES 16384
#define CSRF_COOKIE "minilink_csrf"

/* What a creation request asked for. */
typedef struct {
    const char *url;
    const char *slug;            /* NULL: make one up */
    const char *csrf;            /* form posts only */
    int json;                    /* it came as JSON */
    ml_link rules;               /* its rules (the fields after
                                  * last_click_at; the password in clear
                                  * in password_hash until it is hashed) */
    apr_table_t *values;         /* the form's fields, to show again */
} creation_request;

/*
 * <prefix>/ : the request path up to and including its last '/', as a URL
 * path: the form's action, the CSRF cookie's Path, the start of short
 * URLs.  r->uri is decoded, so it is percent-encoded again (apr's path
 * escaping): request text in a header attribute must not bring a ';' of
 * its own ("/l/;Domain=x/" would add a Domain to the cookie), a line break
 * or a space.
 */
const char *ml_prefix_of(request_rec *r)
{
    const char *last = strrchr(r->uri, '/');

    return apr_pescape_path(r->pool, apr_pstrmemdup(r->pool, r->uri,
                            last ? (apr_size_t)(last - r->uri) + 1 : 0), 1);
}

const char *ml_short_url_for(request_rec *r, const char *slug)
{
    const ml_dir_config *conf = ap_get_module_config(r->per_dir_config,
                                                     &minilink_module);

    if (conf->short_base) {         /* MinilinkShortBase (slugs need no escape) */
        return apr_pstrcat(r->pool, conf->short_base, slug, NULL);
    }
    return ap_construct_url(r->pool, apr_pstrcat(r->pool, ml_prefix_of(r), slug,
                                                 NULL), r);
}

/*
 * The visitor's CSRF token: the one their cookie holds while it has half
 * its life left (so that a second tab keeps the first tab's form valid),
 * else a new one, sent as the cookie, for the URL paths under path.
 */
const char *ml_form_token(request_rec *r)
{
    return ml_form_token_under(r, ml_prefix_of(r));
}

const char *ml_form_token_under(request_rec *r, const char *path)
{
    apr_int64_t now = apr_time_sec(r->request_time), made_at;
    const char *token = NULL;
    char *made;

    if (ap_cookie_read(r, CSRF_COOKIE, &token, 0) == APR_SUCCESS && token
        && ml_form_token_check(ml_retained_now()->form_key, token, now, &made_at)
           == ML_FORM_TOKEN_VALID
        && now - made_at < ML_FORM_LIFETIME / 2) {
        return token;
    }
    made = apr_palloc(r->pool, ML_FORM_TOKEN_CHARS + 1);
    if (ml_form_token_make(ml_retained_now()->form_key, now, made) != APR_SUCCESS) {
        return "";
    }
    /* err_headers_out: kept on error pages too. */
    ap_cookie_write(r, CSRF_COOKIE, made,
                    apr_pstrcat(r->pool, "Path=", path,
                                ";HttpOnly;SameSite=Strict",
                                ap_http_scheme(r)[4] == 's' ? ";Secure" : "",
                                NULL), 0, r->err_headers_out, NULL);
    return made;
}

/*
 * NULL if the form post may go on, else why not.  Browsers send Origin
 * with a form POST: a page of another site posting here sends its own
 * (or "null", from a sandboxed frame or a privacy-minded context), so one
 * that is present must be this server's, as its short URLs start.  The
 * token must be in the field and in the cookie, the same, and one this
 * server made less than ML_FORM_LIFETIME ago.
 */
const char *ml_form_post_problem(request_rec *r, const char *field)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *cookie = NULL;
    apr_int64_t made_at;
    apr_size_t i;
    int difference = 0;

    if (origin && strcasecmp(origin, ap_construct_url(r->pool, "", r)) != 0) {
        return "this form was posted from another site";
    }
    if (field == NULL || ap_cookie_read(r, CSRF_COOKIE, &cookie, 0)
        != APR_SUCCESS || cookie == NULL || strlen(field) != strlen(cookie)) {
        return "this form has expired or came from another site; reload the "
               "page and try again";
    }
    /* Compared in constant time. */
    for (i = 0; cookie[i]; i++) {
        difference |= cookie[i] ^ field[i];
    }
    switch (difference ? ML_FORM_TOKEN_FORGED
            : ml_form_token_check(ml_retained_now()->form_key, field,
                                  apr_time_sec(r->request_time), &made_at)) {
    case ML_FORM_TOKEN_VALID:
        return NULL;
    case ML_FORM_TOKEN_EXPIRED:
        return "this form has expired (a form lasts two hours); reload the "
               "page and try again";
    default:
        return "this form has expired or came from another site; reload the "
               "page and try again";
    }
}

static int read_body(request_rec *r, char **body, apr_size_t *length)
{
    char *buffer = apr_palloc(r->pool, MAX_BODY_BYTES + 1);
    apr_size_t total = 0;
    long got;
    int rc;

    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rc;
    }
    if (ap_should_client_block(r)) {
        while ((got = ap_get_client_block(r, buffer + total,
                                          MAX_BODY_BYTES + 1 - total)) > 0) {
            total += (apr_size_t)got;
            if (total > MAX_BODY_BYTES) {
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (got < 0) {
            return HTTP_BAD_REQUEST;
        }
    }
    buffer[total] = '\0';
    *body = buffer;
    *length = total;
    return OK;
}

/* The request's fields that are a link's rules, by the names the form
 * and JSON give them (Shlink's, where it has one). */
static const struct {
    const char *name;
    ml_field field;
} rule_fields[] = {
    {"title", ML_FIELD_TITLE},
    {"tags", ML_FIELD_TAGS},
    {"validSince", ML_FIELD_VALID_SINCE},
    {"maxVisits", ML_FIELD_MAX_VISITS},
    {"fallbackUrl", ML_FIELD_FALLBACK_URL},
    {"forwardQuery", ML_FIELD_FORWARD_QUERY},
    {"forwardPath", ML_FIELD_FORWARD_PATH},
    {"crawlable", ML_FIELD_CRAWLABLE},
    {"redirectRules", ML_FIELD_RULES},
};

const char *ml_read_link_fields(ml_link *link, apr_table_t *fields,
                                apr_pool_t *pool)
{
    const char *problem;
    size_t i;

    for (i = 0; i < sizeof(rule_fields) / sizeof(rule_fields[0]); i++) {
        const char *text = apr_table_get(fields, rule_fields[i].name);
        if (text && (problem = ml_field_read(link, rule_fields[i].field,
                                             text, NULL, pool))) {
            return apr_psprintf(pool, "%s: %s", rule_fields[i].name, problem);
        }
    }
    return NULL;
}

/* Reads the rules given as text (the form's fields, JSON's scalars) into
 * in->rules; the password stays in clear until create_link() hashes it. */
static const char *read_rules(creation_request *in, apr_table_t *fields,
                              apr_pool_t *pool)
{
    const char *password = apr_table_get(fields, "password");
    const char *problem = ml_read_link_fields(&in->rules, fields, pool);

    in->rules.password_hash = password && *password ? password : NULL;
    return problem;
}

/* A JSON value as the form would have sent it: a string as it is, a whole
 * number in decimal, true/false as on/off, an array of strings (tags)
 * separated by spaces, null as nothing; NULL for anything else. */
static const char *json_as_text(json_t *value, apr_pool_t *pool)
{
    const char *text = "";
    size_t i;

    if (json_is_string(value)) {
        text = apr_pstrmemdup(pool, json_string_value(value),
                              json_string_length(value));
        return strlen(text) == json_string_length(value) ? text : NULL;
    }
    if (json_is_integer(value)) {
        return apr_psprintf(pool, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(value));
    }
    if (json_is_boolean(value)) {
        return json_is_true(value) ? "on" : "off";
    }
    if (json_is_null(value)) {
        return "";
    }
    if (!json_is_array(value)) {
        return NULL;
    }
    /* Tags: each one a tag, so that "a b" is not taken for two. */
    for (i = 0; i < json_array_size(value); i++) {
        const char *item = json_as_text(json_array_get(value, i), pool);
        if (item == NULL || !json_is_string(json_array_get(value, i))
            || ml_tag_problem(item)) {
            return NULL;
        }
        text = apr_pstrcat(pool, text, i ? " " : "", item, NULL);
    }
    return text;
}

const char *ml_json_redirect_rules(json_t *list, ml_link *link,
                                   apr_pool_t *pool)
{
    ml_rule *rules;
    size_t i, k;
    int which;

    if (!json_is_array(list) || json_array_size(list) > ML_RULES_MAX) {
        return "\"redirectRules\" must be a list of at most 32 rules";
    }
    rules = apr_pcalloc(pool, sizeof(*rules) * (json_array_size(list) + 1));
    for (i = 0; i < json_array_size(list); i++) {
        json_t *rule = json_array_get(list, i);
        json_t *conditions = json_object_get(rule, "conditions");
        ml_condition *made;
        if (!json_is_array(conditions)
            || json_array_size(conditions) > ML_RULE_CONDITIONS_MAX
            || (rules[i].url = json_as_text(json_object_get(rule, "longUrl"),
                                            pool)) == NULL) {
            return "each redirect rule needs a \"longUrl\" and a list of at "
                   "most 16 \"conditions\"";
        }
        made = apr_pcalloc(pool, sizeof(*made) * (json_array_size(conditions) + 1));
        for (k = 0; k < json_array_size(conditions); k++) {
            json_t *c = json_array_get(conditions, k);
            const char *type = json_as_text(json_object_get(c, "type"), pool);
            const char *key = json_as_text(json_object_get(c, "matchKey"), pool);
            const char *value = json_as_text(json_object_get(c, "matchValue"),
                                             pool);
            int kind = type ? ml_condition_type_of(type) : -1;
            const char *problem;
            /* Shlink has kept the parameter of the two query types without a
             * value in matchValue, as well as in matchKey. */
            if ((kind == ML_CONDITION_ANY_VALUE_QUERY_PARAM
                 || kind == ML_CONDITION_VALUELESS_QUERY_PARAM)) {
                key = key && *key ? key : value;
                value = NULL;
            }
            if (kind < 0) {
                return apr_psprintf(pool, "redirect rule %" APR_SIZE_T_FMT
                                    ": unknown condition type '%s'", i + 1,
                                    type ? type : "");
            }
            if ((problem = ml_condition_from((ml_condition_type)kind,
                                             key && *key ? key : NULL,
                                             value && *value ? value : NULL,
                                             &made[k], pool))) {
                return apr_psprintf(pool, "redirect rule %" APR_SIZE_T_FMT
                                    ": %s", i + 1, problem);
            }
        }
        rules[i].conditions = made;
        rules[i].nconditions = (int)json_array_size(conditions);
    }
    link->rules = rules;
    link->nrules = (int)json_array_size(list);
    if ((link->nrules
         && ml_rules_problem(rules, link->nrules, &which) != NULL)) {
        return apr_psprintf(pool, "redirect rule %d: %s", which,
                            ml_rules_problem(rules, link->nrules, &which));
    }
    return NULL;
}

/* What JSON may give each field (null is always nothing). */
enum { KIND_STRING = 1, KIND_INTEGER = 2, KIND_BOOLEAN = 4, KIND_LIST = 8 };
static const struct {
    const char *name;
    int kinds;
} json_fields[] = {
    {"url", KIND_STRING},
    {"slug", KIND_STRING},
    {"title", KIND_STRING},
    {"tags", KIND_LIST},
    {"validSince", KIND_STRING},
    {"maxVisits", KIND_INTEGER},
    {"fallbackUrl", KIND_STRING},
    {"password", KIND_STRING},
    {"forwardQuery", KIND_BOOLEAN},
    {"forwardPath", KIND_BOOLEAN},
    {"crawlable", KIND_BOOLEAN},
    {"redirectRules", KIND_LIST | KIND_STRING},
};

/* The kinds a field may be, or 0 for a field that is not ours. */
static int json_kinds_of(const char *key)
{
    size_t i;

    for (i = 0; i < sizeof(json_fields) / sizeof(json_fields[0]); i++) {
        if (strcmp(json_fields[i].name, key) == 0) {
            return json_fields[i].kinds;
        }
    }
    return 0;
}

static int json_kind_allowed(json_t *value, int kinds)
{
    return json_is_null(value)
           || (json_is_string(value) && (kinds & KIND_STRING))
           || (json_is_integer(value) && (kinds & KIND_INTEGER))
           || (json_is_boolean(value) && (kinds & KIND_BOOLEAN))
           || (json_is_array(value) && (kinds & KIND_LIST));
}

static const char *json_kinds_text(int kinds)
{
    switch (kinds) {
    case KIND_STRING:
        return "a string";
    case KIND_INTEGER:
        return "a whole number";
    case KIND_BOOLEAN:
        return "true or false";
    case KIND_LIST:
        return "a list of strings";
    default:
        return "a list of rules or their text";
    }
}

static const char *read_json(request_rec *r, creation_request *in, int *status)
{
    apr_table_t *fields = apr_table_make(r->pool, 8);
    const char *problem = NULL, *key;
    char *body;
    apr_size_t length;
    json_error_t error;
    json_t *root, *value;

    if ((*status = read_body(r, &body, &length)) != OK) {
        return "the request body could not be read (at most 16 KiB)";
    }
    root = json_loadb(body, length, 0, &error);
    if (root == NULL || !json_is_object(root)) {
        problem = "the body is not a JSON object such as "
                  "{\"url\": \"https://example.com/\"}";
    }
    json_object_foreach(problem ? NULL : root, key, value) {
        const char *text;
        int kinds = json_kinds_of(key);
        if (kinds == 0) {
            continue;           /* not ours (Shlink's "domain"...) */
        }
        if (strcmp(key, "redirectRules") == 0 && json_is_array(value)) {
            problem = ml_json_redirect_rules(value, &in->rules, r->pool);
        }
        else if (!json_kind_allowed(value, kinds)
                 || (text = json_as_text(value, r->pool)) == NULL) {
            problem = apr_psprintf(r->pool, "\"%s\" must be %s", key,
                                   json_kinds_text(kinds));
        }
        else {
            apr_table_setn(fields, apr_pstrdup(r->pool, key), text);
        }
        if (problem) {
            break;
        }
    }
    if (problem == NULL) {
        in->url = apr_table_get(fields, "url");
        in->slug = apr_table_get(fields, "slug");
        in->slug = in->slug && *in->slug ? in->slug : NULL;
        problem = read_rules(in, fields, r->pool);
    }
    json_decref(root);
    *status = problem ? HTTP_BAD_REQUEST : OK;
    return problem;
}

const char *ml_read_form(request_rec *r, apr_table_t **fields, int *status)
{
    apr_array_header_t *pairs = NULL;
    int i;

    *fields = apr_table_make(r->pool, ML_FORM_FIELDS);
    *status = ap_parse_form_data(r, NULL, &pairs, ML_FORM_FIELDS,
                                 MAX_BODY_BYTES);
    if (*status != OK) {
        return "the form could not be read (at most 16 KiB)";
    }
    for (i = 0; pairs && i < pairs->nelts; i++) {
        ap_form_pair_t *pair = &APR_ARRAY_IDX(pairs, i, ap_form_pair_t);
        char *value;
        apr_size_t length;
        apr_brigade_pflatten(pair->value, &value, &length, r->pool);
        value = apr_pstrmemdup(r->pool, value, length);
        if (strlen(value) == length) {   /* a NUL inside: left out */
            apr_table_setn(*fields, pair->name, value);
        }
    }
    return NULL;
}

static const char *read_form(request_rec *r, creation_request *in, int *status)
{
    const char *problem = ml_read_form(r, &in->values, status);

    if (problem) {
        return problem;
    }
    in->url = apr_table_get(in->values, "url");
    in->slug = apr_table_get(in->values, "slug");
    in->slug = in->slug && *in->slug ? in->slug : NULL;
    in->csrf = apr_table_get(in->values, "csrf");
    /* An unchecked box sends nothing: not crawlable. */
    if (apr_table_get(in->values, "crawlable") == NULL) {
        apr_table_setn(in->values, "crawlable", "off");
    }
    if ((problem = read_rules(in, in->values, r->pool)) != NULL) {
        *status = HTTP_BAD_REQUEST;
    }
    return problem;
}

static int has_type(const char *content_type, const char *type)
{
    return content_type && strncasecmp(content_type, type, strlen(type)) == 0;
}

/* Adds a name this server answers to, as browsers would read it (a name
 * that is no host - say a ServerName with a typo - cannot be reached). */
static void add_name(apr_array_header_t *hosts, apr_pool_t *pool,
                     const char *name)
{
    ml_host host;

    if (name && ml_host_parse(pool, name, strlen(name), &host) == NULL) {
        APR_ARRAY_PUSH(hosts, ml_host) = host;
    }
}

/* Adds an address this server listens on; says whether it is a wildcard
 * (0.0.0.0 or ::), which listens on every address of the machine. */
static int add_address(apr_array_header_t *hosts, apr_pool_t *pool,
                       const apr_sockaddr_t *address)
{
    ml_host *host;

    if (address == NULL
        || (address->family != APR_INET && address->family != APR_INET6)) {
        return 0;
    }
    host = apr_array_push(hosts);
    ml_host_from_address(pool, address->family, address->ipaddr_ptr, host);
    return strcmp(host->text, "0.0.0.0") == 0 || strcmp(host->text, "::") == 0;
}

/* Adds every address of the machine's interfaces (getifaddrs). */
static void add_machine_addresses(apr_array_header_t *hosts, apr_pool_t *pool)
{
    struct ifaddrs *interfaces, *at;

    if (getifaddrs(&interfaces) != 0) {
        return;
    }
    for (at = interfaces; at; at = at->ifa_next) {
        if (at->ifa_addr && at->ifa_addr->sa_family == AF_INET) {
            ml_host_from_address(pool, AF_INET, &((struct sockaddr_in *)
                                 (void *)at->ifa_addr)->sin_addr,
                                 apr_array_push(hosts));
        }
        else if (at->ifa_addr && at->ifa_addr->sa_family == AF_INET6) {
            ml_host_from_address(pool, AF_INET6, &((struct sockaddr_in6 *)
                                 (void *)at->ifa_addr)->sin6_addr,
                                 apr_array_push(hosts));
        }
    }
    freeifaddrs(interfaces);
}

/*
 * The names and addresses this virtual host answers to: links to them
 * would loop.  Its ServerName and every ServerAlias (patterns included),
 * the Host of this request, its <VirtualHost> addresses and every Listen
 * address - for a wildcard one, each address of the machine.  The local
 * host's own (127.0.0.0/8, ::1, localhost...) are ml_policy's to add.
 * Gathered per creation request, which is rare, so that an address the
 * machine gains later counts too.
 */
static apr_array_header_t *own_hosts(request_rec *r)
{
    apr_array_header_t *hosts = apr_array_make(r->pool, 16, sizeof(ml_host));
    const server_rec *s = r->server;
    const server_addr_rec *vhost_address;
    const ap_listen_rec *listener;
    int wildcard = 0, i;

    add_name(hosts, r->pool, r->hostname);
    add_name(hosts, r->pool, s->server_hostname);
    for (i = 0; s->names && i < s->names->nelts; i++) {
        add_name(hosts, r->pool, APR_ARRAY_IDX(s->names, i, const char *));
    }
    for (i = 0; s->wild_names && i < s->wild_names->nelts; i++) {
        ml_host_pattern(r->pool, APR_ARRAY_IDX(s->wild_names, i, const char *),
                        apr_array_push(hosts));
    }
    for (vhost_address = s->addrs; vhost_address;
         vhost_address = vhost_address->next) {
        wildcard |= add_address(hosts, r->pool, vhost_address->host_addr);
    }
    for (listener = ap_listeners; listener; listener = listener->next) {
        wildcard |= add_address(hosts, r->pool, listener->bind_addr);
    }
    if (wildcard) {
        add_machine_addresses(hosts, r->pool);
    }
    return hosts;
}

/* Whether a <Location> section applies to path, as httpd's location walk
 * decides (server/request.c): its regex, its wildcard pattern, or its
 * path as a prefix that ends at a '/' or at the end of path. */
static int location_matches(const core_dir_config *section, const char *path)
{
    apr_size_t len;

    if (section->r) {
        return ap_regexec(section->r, path, 0, NULL, 0) == 0;
    }
    if (section->d_is_fnmatch) {
        return apr_fnmatch(section->d, path, APR_FNM_PATHNAME) == APR_SUCCESS;
    }
    len = strlen(section->d);
    return strncmp(section->d, path, len) == 0
           && (len == 0 || section->d[len - 1] == '/' || path[len] == '/'
               || path[len] == '\0');
}

/*
 * NULL if a visitor may have this slug here, else what its short URL
 * <prefix><slug> would hide: a <Location> of this server that applies to
 * that path and not to the form's own (mod_status's /server-status under
 * a <Location />), a file in the DocumentRoot, or a reserved name
 * (ml_slug_reserved).  The minilink command, used by admins, is not
 * bound by it.
 */
static const char *shadowed_by(request_rec *r, const char *prefix,
                               const char *slug)
{
    const core_server_config *core =
        ap_get_core_module_config(r->server->module_config);
    ap_conf_vector_t **sections = (ap_conf_vector_t **)core->sec_url->elts;
    const char *path = apr_pstrcat(r->pool, prefix, slug, NULL);
    apr_finfo_t info;
    apr_status_t rv;
    int i;

    if (ml_slug_reserved(slug)) {
        return "a name this server keeps for itself";
    }
    for (i = 0; i < core->sec_url->nelts; i++) {
        const core_dir_config *section = ap_get_core_module_config(sections[i]);
        if (location_matches(section, path) && !location_matches(section, prefix)) {
            return "another <Location> of this server";
        }
    }
    rv = apr_stat(&info, apr_pstrcat(r->pool, ap_document_root(r), path, NULL),
                  APR_FINFO_TYPE, r->pool);
    if (rv == APR_SUCCESS || rv == APR_INCOMPLETE) {
        return "a file of this server";
    }
    return NULL;
}

static ml_create_policy policy_of(const ml_dir_config *conf)
{
    ml_create_policy policy;

    policy.schemes = conf->create_schemes ? conf->create_schemes
                                          : ML_DEFAULT_CREATE_SCHEMES;
    policy.max_url_length = conf->create_max_url ? (apr_size_t)conf->create_max_url
                                                 : ML_DEFAULT_CREATE_MAX_URL;
    policy.blocked_hosts = conf->blocked_hosts;
    return policy;
}

/*
 * Answers a creation request: JSON to JSON requests (and to clients that
 * ask for JSON), the form page otherwise.  link NULL: an error.
 */
static int respond(request_rec *r, const creation_request *in, int status,
                   const char *error, const ml_link *link)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    const char *short_url = link ? ml_short_url_for(r, link->slug) : NULL;
    const char *qr_url = short_url ? apr_pstrcat(r->pool, short_url, ".svg",
                                                 NULL) : NULL;

    if (short_url) {
        apr_table_setn(r->headers_out, "Location", short_url);
    }
    if (in->json || (accept && strstr(accept, "application/json")
                     && !strstr(accept, "text/html"))) {
        json_t *answer = link
            ? json_pack("{s:s, s:s, s:s, s:s}", "slug", link->slug,
                        "short_url", short_url, "url", link->url,
                        "qr_code", qr_url)
            : json_pack("{s:s}", "error", error);
        char *text = json_dumps(answer, JSON_COMPACT);
        r->status = status;
        ap_set_content_type(r, "application/json");
        ap_rprintf(r, "%s\n", text ? text : "{}");
        free(text);
        json_decref(answer);
        return OK;
    }
    {
        ml_form_page page = {0};
        page.action = ml_prefix_of(r);
        page.csrf_token = ml_form_token(r);
        page.error = error;
        page.short_url = short_url;
        page.target_url = link ? link->url : NULL;
        /* Relative: the form is at <prefix>/, where the link is. */
        page.qr_url = link ? apr_pstrcat(r->pool, link->slug, ".svg", NULL)
                           : NULL;
        if (link == NULL) {    /* let them correct what they typed */
            page.values = in->values;
        }
        return ml_page_form(r, status, &page);
    }
}

/* The answer when the database cannot take the link: a 503, and one log
 * line per outage (every process shares the flag), not one per request. */
static int unavailable(request_rec *r, const creation_request *in,
                       ml_database *database, const ml_store *store)
{
    int already_failing = ml_cache_swap_failing(database->cache,
                                                ML_CACHE_CREATE, 1);

    ap_log_rerror(APLOG_MARK, already_failing ? APLOG_DEBUG : APLOG_ERR, 0, r,
                  MLLOGNO(00019) "cannot create a link: %s", ml_store_error(store));
    return respond(r, in, HTTP_SERVICE_UNAVAILABLE, "links cannot be created "
                   "right now; try again later", NULL);
}

/* After a write that worked: says so once if writes were failing. */
static void available(request_rec *r, ml_database *database)
{
    if (ml_cache_swap_failing(database->cache, ML_CACHE_CREATE, 0)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, MLLOGNO(00032) "links can be "
                      "created in %s again", database->label);
    }
}

/* A slug that another link already has but for case, where slugs are
 * compared without regard to it; NULL if none.  Read from the shared
 * table: a link made a moment ago on another host is missed (README). */
static const char *case_twin(const ml_dir_config *conf, const char *slug)
{
    ml_cache_entry entry;

    if (conf->any_case != 1
        || !ml_cache_lookup_any_case(conf->database->cache, slug, strlen(slug),
                                     &entry)) {
        return NULL;
    }
    /* An exact match is the store's to refuse (409 too). */
    return ml_cache_lookup(conf->database->cache, slug, strlen(slug), &entry)
           ? NULL : slug;
}

/* A random slug for a location that ignores case: lower case only (so
 * two random ones never differ only in case), and not the twin of a slug
 * there; NULL when none was found. */
static const char *random_any_case_slug(const ml_dir_config *conf,
                                        apr_pool_t *pool)
{
    char slug[ML_SLUG_MAX + 1];
    apr_size_t length = 6;
    int tries, i;

    for (tries = 0; tries < 12; tries++, length += tries % 3 == 0) {
        if (ml_slug_random(slug, length) != APR_SUCCESS) {
            return NULL;
        }
        for (i = 0; slug[i]; i++) {
            slug[i] = (char)apr_tolower(slug[i]);
        }
        if (case_twin(conf, slug) == NULL) {
            return apr_pstrdup(pool, slug);
        }
    }
    return NULL;
}

/* Stores the link and answers; the parts that need the database. */
static int store_and_respond(request_rec *r, const ml_dir_config *conf,
                             const creation_request *in)
{
    ml_database *database = conf->database;
    ml_store *store;
    ml_link link;
    apr_status_t rv;

    if (ml_store_open(&store, database->location, ML_STORE_WRITE, r->pool)
        != APR_SUCCESS) {
        return unavailable(r, in, database, store);
    }
    /* The same URL again gets the link it already has (documented), when
     * nothing else about it was asked for. */
    if (in->slug == NULL && !ml_link_has_rules(&in->rules)
        && ml_store_find_url(store, in->url, apr_time_sec(r->request_time),
                             &link, r->pool) == APR_SUCCESS) {
        return respond(r, in, HTTP_OK, NULL, &link);
    }
    link = in->rules;
    link.url = in->url;
    link.slug = in->slug;
    if (link.slug == NULL && conf->any_case == 1
        && (link.slug = random_any_case_slug(conf, r->pool)) == NULL) {
        return respond(r, in, HTTP_SERVICE_UNAVAILABLE, "no free slug was "
                       "found; try again", NULL);
    }
    rv = ml_store_add(store, &link, r->pool);
    if (rv == APR_EEXIST) {
        return respond(r, in, HTTP_CONFLICT, apr_psprintf(r->pool, "the slug "
                       "'%s' is taken; choose another", link.slug), NULL);
    }
    if (rv == APR_EINVAL) {
        return respond(r, in, HTTP_BAD_REQUEST, ml_store_error(store), NULL);
    }
    if (rv != APR_SUCCESS) {
        return unavailable(r, in, database, store);
    }
    available(r, database);
    ml_database_refresh(database, r->pool);
    return respond(r, in, HTTP_CREATED, NULL, &link);
}

/* NULL if every URL the link would send visitors to - its own, its
 * fallback, its rules' - may be shortened here, else why not. */
static const char *urls_problem(request_rec *r, const ml_dir_config *conf,
                                const char *url, const ml_link *rules)
{
    ml_create_policy policy = policy_of(conf);
    apr_array_header_t *hosts = own_hosts(r);
    const char *problem;
    int i;

    if (url && (problem = ml_create_problem(&policy, url, hosts, r->pool))) {
        return problem;
    }
    if (rules->fallback_url
        && (problem = ml_create_problem(&policy, rules->fallback_url, hosts,
                                        r->pool))) {
        return apr_pstrcat(r->pool, "the fallback URL: ", problem, NULL);
    }
    for (i = 0; i < rules->nrules; i++) {
        if ((problem = ml_create_problem(&policy, rules->rules[i].url, hosts,
                                         r->pool))) {
            return apr_psprintf(r->pool, "redirect rule %d: %s", i + 1,
                                problem);
        }
    }
    return NULL;
}

const char *ml_creation_problem(request_rec *r, const ml_dir_config *conf,
                                const char *prefix, const char *url,
                                const char *slug, const ml_link *rules,
                                int *status)
{
    const char *problem;

    *status = HTTP_BAD_REQUEST;
    if ((problem = urls_problem(r, conf, url, rules)) != NULL
        || (slug && (problem = ml_slug_new_problem(slug)) != NULL)) {
        return problem;
    }
    *status = HTTP_CONFLICT;
    if (slug && (problem = shadowed_by(r, prefix, slug)) != NULL) {
        return apr_psprintf(r->pool, "the slug '%s' would hide %s; choose "
                            "another", slug, problem);
    }
    if (slug && case_twin(conf, slug)) {
        return apr_psprintf(r->pool, "the slug '%s' differs only in case "
                            "from a link's here, and case is not told "
                            "apart here; choose another", slug);
    }
    *status = OK;
    return NULL;
}

static int create_link(request_rec *r, const ml_dir_config *conf)
{
    const char *content_type = apr_table_get(r->headers_in, "Content-Type");
    creation_request in;
    const char *problem;
    apr_int64_t retry_after;
    int status;

    memset(&in, 0, sizeof(in));
    if (has_type(content_type, "application/json")) {
        in.json = 1;
        problem = read_json(r, &in, &status);
    }
    else if (has_type(content_type, "application/x-www-form-urlencoded")) {
        problem = read_form(r, &in, &status);
        if (problem == NULL
            && (problem = ml_form_post_problem(r, in.csrf)) != NULL) {
            status = HTTP_FORBIDDEN;
        }
    }
    else {
        return respond(r, &in, HTTP_UNSUPPORTED_MEDIA_TYPE, "send a form "
                       "(application/x-www-form-urlencoded) or JSON "
                       "(application/json)", NULL);
    }
    if (problem == NULL && (in.url == NULL || *in.url == '\0')) {
        status = HTTP_BAD_REQUEST;
        problem = "give the URL to shorten";
    }
    if (problem == NULL) {
        const char *last = strrchr(r->uri, '/');
        problem = ml_creation_problem(r, conf, apr_pstrmemdup(r->pool, r->uri,
                                      (apr_size_t)(last - r->uri) + 1),
                                      in.url, in.slug, &in.rules, &status);
    }
    if (problem) {
        return respond(r, &in, status, problem, NULL);
    }
    if (!ml_ratelimit_allow(r, conf->rate_limit ? conf->rate_limit
                                                : ML_DEFAULT_RATE_LIMIT,
                            conf->rate_period ? conf->rate_period
                                              : ML_DEFAULT_RATE_PERIOD,
                            &retry_after)) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, retry_after));
        return respond(r, &in, HTTP_TOO_MANY_REQUESTS, apr_psprintf(r->pool,
                       "too many links from your address; try again in %"
                       APR_INT64_T_FMT " seconds", retry_after), NULL);
    }
    /* Hashed last, after everything cheap: bcrypt takes its time. */
    if (in.rules.password_hash
        && (problem = ml_password_hash(in.rules.password_hash,
                                       &in.rules.password_hash, r->pool))) {
        return respond(r, &in, HTTP_BAD_REQUEST, problem, NULL);
    }
    return store_and_respond(r, conf, &in);
}

int ml_handle_create(request_rec *r, const ml_dir_config *conf)
{
    if (conf->create != 1) {
        return HTTP_NOT_FOUND;
    }
    if (r->method_number != M_GET && r->method_number != M_POST) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, M_POST, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (conf->database->cache == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (r->method_number == M_GET) {
        ml_form_page page = {0};
        page.action = ml_prefix_of(r);
        page.csrf_token = ml_form_token(r);
        return ml_page_form(r, HTTP_OK, &page);
    }
    return create_link(r, conf);
}

int ml_handle_preview(request_rec *r, const ml_dir_config *conf,
                      const char *slug)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    const char *problem = NULL, *short_url;
    ml_store *store;
    ml_link link;
    apr_status_t rv;

    if (conf->preview == -1 || !ml_slug_valid(slug, strlen(slug))) {
        return HTTP_NOT_FOUND;
    }
    if (r->method_number != M_GET) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (conf->database->cache == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    /* A preview shows what the redirect path does not keep (when it was
     * made), so it reads the file: it is not on the hot path. */
    if (ml_store_open(&store, conf->database->location, ML_STORE_READ, r->pool)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00020) "cannot show a "
                      "preview: %s", ml_store_error(store));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    rv = ml_store_get(store, slug, &link, &problem, r->pool);
    /* Behind a password, where it goes is the secret: no preview.  Not
     * yet valid, it is not there. */
    if (rv == APR_ENOENT || (rv == APR_SUCCESS
                             && (problem || link.password_hash
                                 || (link.valid_since
                                     && now < link.valid_since)))) {
        return HTTP_NOT_FOUND;
    }
    if (rv != APR_SUCCESS) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (link.disabled || (link.expires_at && now >= link.expires_at)) {
        return HTTP_GONE;
    }
    short_url = ml_short_url_for(r, slug);
    return ml_page_preview(r, &link, short_url,
                           apr_pstrcat(r->pool, slug, ".svg", NULL));
}
