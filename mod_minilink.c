/*
 * mod_minilink.c - short links answered from shared memory.
 *
 *   LoadModule minilink_module modules/mod_minilink.so
 *   MinilinkDatabase /var/lib/minilink/links.db
 *   <Location /l>
 *       SetHandler minilink
 *   </Location>
 *
 * GET /l/abc answers 302 with the stored URL as Location, from a table in
 * shared memory that every child reads without a lock; the parent fills it
 * from the database at each start and graceful restart, and a refresher
 * process keeps it up to date (module/lifecycle.c tells that story).
 *
 * This file holds what httpd sees first: the directives, where a request
 * goes (routing, shared by translate_name and the handler), the redirect
 * itself, and the hooks.  The rules are in links/, the tables in cache/,
 * what moves between them in sync/, the rest of the glue in module/.
 */
#include <stdlib.h>
#include <limits.h>
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_expr.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include "module/ml_module.h"

module AP_MODULE_DECLARE_DATA minilink_module;

/* Marks a request this module answers, for map_to_storage (as "proxy:"
 * does for mod_proxy). */
static const char filename_prefix[] = "minilink:";

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static void *create_dir_config(apr_pool_t *pool, char *context)
{
    (void)context;
    return apr_pcalloc(pool, sizeof(ml_dir_config));
}

static void *create_server_config(apr_pool_t *pool, server_rec *s)
{
    (void)s;
    return apr_pcalloc(pool, sizeof(ml_server_config));
}

/* Each virtual host gets a struct of its own (AP_MODULE_FLAG_ALWAYS_MERGE):
 * without a directive of ours in it, it would share the main server's. */
static void *merge_server_config(apr_pool_t *pool, void *base, void *add)
{
    (void)base;
    (void)add;
    return apr_pcalloc(pool, sizeof(ml_server_config));
}

ml_server_config *ml_server_config_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &minilink_module);
}

static void *merge_dir_config(apr_pool_t *pool, void *base_conf, void *add_conf)
{
    ml_dir_config *base = base_conf, *add = add_conf;
    ml_dir_config *merged = apr_palloc(pool, sizeof(*merged));

/* Every field's "unset" is 0 or NULL: the inner section wins if it set it. */
#define MERGE(field) merged->field = add->field ? add->field : base->field
    MERGE(database);
    MERGE(redirect_status);
    MERGE(query_mode);
    MERGE(create);
    MERGE(preview);
    MERGE(clicks);
    MERGE(create_schemes);
    MERGE(create_max_url);
    MERGE(blocked_hosts);
    MERGE(rate_limit);
    MERGE(rate_period);
    MERGE(early_answer);
    MERGE(forward_path);
    MERGE(any_case);
    MERGE(visits);
    MERGE(visits_ip);
    MERGE(country_variable);
    MERGE(short_base);
    MERGE(admin_users);
    MERGE(cors_origins);
#undef MERGE
    return merged;
}

/*
 * MinilinkDatabase PATH, or a PostgreSQL URI, or (as mod_dbd's DBDriver and
 * DBDParams name one) "pgsql" and libpq parameters.
 */
static const char *set_database(cmd_parms *cmd, void *dir_conf,
                                const char *first, const char *params)
{
    ml_dir_config *conf = dir_conf;
    const char *location = first;

    if (params != NULL) {
        if (strcmp(first, "pgsql") != 0 || *params == '\0') {
            return "MinilinkDatabase takes a path, a postgresql:// URI, or "
                   "pgsql followed by PostgreSQL parameters in quotes";
        }
        location = apr_pstrcat(cmd->pool, ML_STORE_PGSQL_PREFIX, params, NULL);
    }
    else if (*first == '\0') {
        return "MinilinkDatabase needs the path of a SQLite file";
    }
    else if (ml_store_location_is_file(first)
             && (location = ap_server_root_relative(cmd->pool, first)) == NULL) {
        return apr_psprintf(cmd->pool, "MinilinkDatabase: invalid path '%s'",
                            first);
    }
    conf->database = ml_database_for(cmd->pool, location);
    return NULL;
}

/* MinilinkShortBase URL: the public prefix of short URLs, an absolute
 * http(s) URL ending in '/' (a missing one is added). */
static const char *set_short_base(cmd_parms *cmd, void *dir_conf,
                                  const char *arg)
{
    const char *base = arg[0] && arg[strlen(arg) - 1] == '/'
                       ? arg : apr_pstrcat(cmd->pool, arg, "/", NULL);

    if (ml_url_problem(base, strlen(base)) != NULL || strchr(base, '?')
        || strchr(base, '#')) {
        return apr_psprintf(cmd->pool, "MinilinkShortBase needs an http:// or "
                            "https:// URL without a query, such as "
                            "https://go.example.org/l/, not '%s'", arg);
    }
    ((ml_dir_config *)dir_conf)->short_base = base;
    return NULL;
}

/* MinilinkAdminUsers and MinilinkApiCorsOrigins: a list of words. */
static const char *add_word(cmd_parms *cmd, void *dir_conf, const char *arg)
{
    ml_dir_config *conf = dir_conf;
    apr_array_header_t **list = cmd->info ? &conf->cors_origins
                                          : &conf->admin_users;

    if (cmd->info && strcmp(arg, "*") != 0
        && (ml_url_problem(arg, strlen(arg)) != NULL || strchr(arg + 8, '/'))) {
        return apr_psprintf(cmd->pool, "MinilinkApiCorsOrigins takes origins "
                            "such as https://app.shlink.io (scheme, host and "
                            "port, no path) or *, not '%s'", arg);
    }
    if (*list == NULL) {
        *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = arg;
    return NULL;
}

static const char *set_redirect_status(cmd_parms *cmd, void *dir_conf,
                                       const char *arg)
{
    ml_dir_config *conf = dir_conf;
    char *end;
    long status = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || !ml_status_valid((int)status)) {
        return apr_psprintf(cmd->pool, "MinilinkRedirectStatus must be 301, "
                            "302, 303, 307 or 308, not '%s'", arg);
    }
    conf->redirect_status = (int)status;
    return NULL;
}

/*
 * MinilinkRefreshInterval and MinilinkFlushInterval (cmd->info: the
 * setting's offset in ml_server_settings): a time as httpd's own timeouts
 * take it.  Only refreshing may be turned off with 0; clicks must
 * be written some time.
 */
static const char *set_interval(cmd_parms *cmd, void *dir_conf, const char *arg)
{
    apr_interval_time_t interval;
    int zero_allowed = (apr_uintptr_t)cmd->info
                       == APR_OFFSETOF(ml_server_settings, refresh_interval);
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dir_conf;
    if (error) {
        return error;
    }
    if (ap_timeout_parameter_parse(arg, &interval, "s") != APR_SUCCESS
        || interval < 0 || (interval == 0 && !zero_allowed)) {
        return apr_psprintf(cmd->pool, "%s must be a time such as 1, 5s or "
                            "500ms%s, not '%s'", cmd->cmd->name,
                            zero_allowed ? " (0 = off)" : "", arg);
    }
    *(apr_interval_time_t *)((char *)&ml_generation_now()->settings
                             + (apr_uintptr_t)cmd->info) = interval;
    return NULL;
}

static const char *set_cache_headroom(cmd_parms *cmd, void *dir_conf,
                                      const char *arg)
{
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long percent = strtol(arg, &end, 10);

    (void)dir_conf;
    if (error) {
        return error;
    }
    if (*arg == '\0' || *end != '\0' || percent < 0 || percent > 1000) {
        return apr_psprintf(cmd->pool, "MinilinkCacheHeadroom must be a "
                            "percentage from 0 to 1000, not '%s'", arg);
    }
    ml_generation_now()->settings.cache_headroom = (unsigned int)percent;
    return NULL;
}

static const char *set_query_string(cmd_parms *cmd, void *dir_conf,
                                    const char *arg)
{
    ml_dir_config *conf = dir_conf;

    if (strcasecmp(arg, "append") == 0) {
        conf->query_mode = ML_QUERY_APPEND;
    }
    else if (strcasecmp(arg, "drop") == 0) {
        conf->query_mode = ML_QUERY_DROP;
    }
    else {
        return apr_psprintf(cmd->pool, "MinilinkQueryString must be 'append' "
                            "or 'drop', not '%s'", arg);
    }
    return NULL;
}

static const char *set_create(cmd_parms *cmd, void *dir_conf, int on)
{
    ml_dir_config *conf = dir_conf;

    if (on) {
        /* Checked now so that configtest says what is missing. */
        const char *error = ml_ratelimit_check_provider();
        if (error) {
            return error;
        }
    }
    (void)cmd;
    conf->create = on ? 1 : -1;
    ml_generation_now()->creates_links |= on;
    return NULL;
}

/* MinilinkPreview, MinilinkClicks, MinilinkEarlyAnswer and
 * MinilinkForwardPath (cmd->info: the field's offset). */
static const char *set_on_off(cmd_parms *cmd, void *dir_conf, int on)
{
    *(int *)((char *)dir_conf + (apr_uintptr_t)cmd->info) = on ? 1 : -1;
    return NULL;
}

/* Tables are made to be looked up without regard to case as soon as one
 * scope asks for it (the flag is the generation's: a table serves every
 * location that names its database). */
static const char *set_slug_case(cmd_parms *cmd, void *dir_conf,
                                 const char *arg)
{
    ml_dir_config *conf = dir_conf;

    if (strcasecmp(arg, "insensitive") == 0) {
        conf->any_case = 1;
        ml_generation_now()->any_case = 1;
    }
    else if (strcasecmp(arg, "sensitive") == 0) {
        conf->any_case = -1;
    }
    else {
        return apr_psprintf(cmd->pool, "MinilinkSlugCase must be 'sensitive' "
                            "or 'insensitive', not '%s'", arg);
    }
    return NULL;
}

/* The name of the environment variable a GeoIP module sets to the
 * visitor's country (for geolocation-country-code conditions). */
static const char *set_country_variable(cmd_parms *cmd, void *dir_conf,
                                        const char *arg)
{
    const char *at;

    for (at = arg; *at && (apr_isalnum(*at) || *at == '_'); at++) {
    }
    if (*arg == '\0' || *at != '\0') {
        return apr_psprintf(cmd->pool, "MinilinkCountryVariable needs the name "
                            "of an environment variable (letters, digits, _), "
                            "not '%s'", arg);
    }
    ((ml_dir_config *)dir_conf)->country_variable = arg;
    return NULL;
}

static const char *add_create_scheme(cmd_parms *cmd, void *dir_conf,
                                     const char *arg)
{
    ml_dir_config *conf = dir_conf;

    if (strcasecmp(arg, "http") == 0) {
        conf->create_schemes |= ML_SCHEME_HTTP;
    }
    else if (strcasecmp(arg, "https") == 0) {
        conf->create_schemes |= ML_SCHEME_HTTPS;
    }
    else {
        return apr_psprintf(cmd->pool, "MinilinkCreateSchemes takes http "
                            "and/or https (the only targets ever served), "
                            "not '%s'", arg);
    }
    return NULL;
}

/* A whole number from min to max, or an error naming the directive. */
static const char *parse_count(cmd_parms *cmd, const char *arg, long min,
                               long max, int *value)
{
    char *end;
    long number = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || number < min || number > max) {
        return apr_psprintf(cmd->pool, "%s needs a whole number from %ld to "
                            "%ld, not '%s'", cmd->cmd->name, min, max, arg);
    }
    *value = (int)number;
    return NULL;
}

/* How many click counters each database's table gets, when it is made:
 * at the first start, since a table outlives graceful restarts.  Set
 * small, it shows how cells are reused (the tests do). */
static const char *set_click_cells(cmd_parms *cmd, void *dir_conf,
                                   const char *arg)
{
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int cells;

    (void)dir_conf;
    if (error == NULL) {
        error = parse_count(cmd, arg, ML_CLICKS_FEWEST_CELLS,
                            ML_CLICKS_MOST_CELLS, &cells);
    }
    if (error == NULL) {
        ml_generation_now()->settings.click_cells = (apr_uint32_t)cells;
    }
    return error;
}

/* MinilinkVisitsRing: slots in each database's visits ring, made at the
 * first start (it outlives graceful restarts, as the click table does);
 * 0 makes none, and no visit is recorded. */
static const char *set_visits_ring(cmd_parms *cmd, void *dir_conf,
                                   const char *arg)
{
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int slots = 0;

    (void)dir_conf;
    if (error == NULL && strcmp(arg, "0") != 0) {
        error = parse_count(cmd, arg, ML_VISITS_FEWEST_SLOTS,
                            ML_VISITS_MOST_SLOTS, &slots);
    }
    if (error == NULL) {
        ml_generation_now()->settings.visits_slots = (apr_uint32_t)slots;
        ml_generation_now()->settings.no_visits_ring = slots == 0;
    }
    return error;
}

/* MinilinkVisitsKeep: how long visits are kept, in days ("90d"), or
 * "forever"; the daily roll-up is kept either way. */
static const char *set_visits_keep(cmd_parms *cmd, void *dir_conf,
                                   const char *arg)
{
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long days;

    (void)dir_conf;
    if (error) {
        return error;
    }
    if (strcasecmp(arg, "forever") == 0) {
        ml_generation_now()->settings.visits_keep = 0;
        return NULL;
    }
    days = strtol(arg, &end, 10);
    if (!apr_isdigit(*arg) || strcmp(end, "d") != 0 || days < 1
        || days > 36500) {
        return apr_psprintf(cmd->pool, "MinilinkVisitsKeep takes a number "
                            "of days from 1d to 36500d, or forever, not '%s'",
                            arg);
    }
    ml_generation_now()->settings.visits_keep = days * APR_INT64_C(86400);
    return NULL;
}

static const char *set_visits(cmd_parms *cmd, void *dir_conf, const char *arg)
{
    ml_dir_config *conf = dir_conf;

    if (strcasecmp(arg, "on") == 0) {
        conf->visits = ML_VISITS_ON;
    }
    else if (strcasecmp(arg, "off") == 0) {
        conf->visits = ML_VISITS_OFF;
    }
    else if (strcasecmp(arg, "orphans") == 0) {
        conf->visits = ML_VISITS_ORPHANS;
    }
    else {
        return apr_psprintf(cmd->pool, "MinilinkVisits must be On, Off or "
                            "Orphans, not '%s'", arg);
    }
    return NULL;
}

/* Never the whole address: with Anonymized, its last octet (IPv4) or last
 * 80 bits (IPv6) are zeroed before it is written anywhere. */
static const char *set_visits_ip(cmd_parms *cmd, void *dir_conf,
                                 const char *arg)
{
    ml_dir_config *conf = dir_conf;

    if (strcasecmp(arg, "anonymized") == 0 || strcasecmp(arg, "anonymised") == 0) {
        conf->visits_ip = 1;
    }
    else if (strcasecmp(arg, "off") == 0) {
        conf->visits_ip = -1;
    }
    else {
        return apr_psprintf(cmd->pool, "MinilinkVisitsIP must be Off or "
                            "Anonymized (the address is never kept whole), "
                            "not '%s'", arg);
    }
    return NULL;
}

static const char *set_create_max_url(cmd_parms *cmd, void *dir_conf,
                                      const char *arg)
{
    return parse_count(cmd, arg, 1, ML_URL_MAX,
                       &((ml_dir_config *)dir_conf)->create_max_url);
}

/* Kept as browsers read hosts ("EVIL.example." is evil.example, "10.1" is
 * 10.0.0.1: ml_host.h), as the URLs compared with them are.  An IPv6
 * address may come with or without its brackets. */
static const char *add_blocked_host(cmd_parms *cmd, void *dir_conf,
                                    const char *arg)
{
    ml_dir_config *conf = dir_conf;
    const char *host_text = strchr(arg, ':') && *arg != '['
                            ? apr_pstrcat(cmd->pool, "[", arg, "]", NULL) : arg;
    const char *problem;
    ml_host host;

    problem = ml_host_parse(cmd->pool, host_text, strlen(host_text), &host);
    if (problem) {
        return apr_psprintf(cmd->pool, "MinilinkCreateBlockHosts: '%s' is not "
                            "a host name or address (%s)", arg, problem);
    }
    if (conf->blocked_hosts == NULL) {
        conf->blocked_hosts = apr_array_make(cmd->pool, 4, sizeof(ml_host));
    }
    APR_ARRAY_PUSH(conf->blocked_hosts, ml_host) = host;
    return NULL;
}

static const char *set_rate_limit(cmd_parms *cmd, void *dir_conf,
                                  const char *count, const char *seconds)
{
    ml_dir_config *conf = dir_conf;
    const char *error;

    if (strcasecmp(count, "off") == 0 && seconds == NULL) {
        conf->rate_limit = -1;
        return NULL;
    }
    if (seconds == NULL) {
        return "MinilinkCreateRateLimit takes a count and a number of "
               "seconds (e.g. 20 60), or off";
    }
    error = parse_count(cmd, count, 1, 1000000, &conf->rate_limit);
    return error ? error : parse_count(cmd, seconds, 1, 86400,
                                       &conf->rate_period);
}

/* Server, virtual host and <Location>/<Directory> context; never .htaccess,
 * which must not be able to point the module at another file. */
static const command_rec minilink_directives[] = {
    AP_INIT_TAKE12("MinilinkDatabase", set_database, NULL, RSRC_CONF | ACCESS_CONF,
                  "The database of links: a SQLite file's path (relative to "
                  "ServerRoot), a postgresql:// URI, or pgsql \"PARAMS\""),
    AP_INIT_TAKE1("MinilinkRedirectStatus", set_redirect_status, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Status of redirects for links without their own: 301, 302 "
                  "(default), 303, 307 or 308"),
    AP_INIT_TAKE1("MinilinkQueryString", set_query_string, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "'append' (default) adds the request's query string to the "
                  "target URL; 'drop' ignores it"),
    AP_INIT_TAKE1("MinilinkRefreshInterval", set_interval,
                  (void *)APR_OFFSETOF(ml_server_settings, refresh_interval),
                  RSRC_CONF,
                  "How often changes to the databases are applied (default "
                  "1s; 0 = only at graceful restarts)"),
    AP_INIT_TAKE1("MinilinkFlushInterval", set_interval,
                  (void *)APR_OFFSETOF(ml_server_settings, flush_interval),
                  RSRC_CONF,
                  "How often counted clicks are written to the databases "
                  "(default 10s)"),
    AP_INIT_TAKE1("MinilinkCacheHeadroom", set_cache_headroom, NULL, RSRC_CONF,
                  "Room for new links in each cache, in percent of the links "
                  "loaded (default 25)"),
    AP_INIT_TAKE1("MinilinkClickCells", set_click_cells, NULL, RSRC_CONF,
                  "Click counters in each database's table, fixed when it is "
                  "made at the first start (default: 4 per link loaded, at "
                  "least 1048576)"),
    AP_INIT_FLAG("MinilinkCreate", set_create, NULL, RSRC_CONF | ACCESS_CONF,
                 "On: a form at <location>/ and POST there create links "
                 "(default Off)"),
    AP_INIT_FLAG("MinilinkPreview", set_on_off,
                 (void *)APR_OFFSETOF(ml_dir_config, preview),
                 RSRC_CONF | ACCESS_CONF,
                 "On (default): <location>/<slug>+ shows where a link goes"),
    AP_INIT_FLAG("MinilinkClicks", set_on_off,
                 (void *)APR_OFFSETOF(ml_dir_config, clicks),
                 RSRC_CONF | ACCESS_CONF,
                 "On (default): redirects answered here count as clicks"),
    AP_INIT_FLAG("MinilinkEarlyAnswer", set_on_off,
                 (void *)APR_OFFSETOF(ml_dir_config, early_answer),
                 RSRC_CONF | ACCESS_CONF,
                 "On (default): redirects are answered from translate_name "
                 "where nothing later could change the answer"),
    AP_INIT_FLAG("MinilinkForwardPath", set_on_off,
                 (void *)APR_OFFSETOF(ml_dir_config, forward_path),
                 RSRC_CONF | ACCESS_CONF,
                 "On: <location>/<slug>/more redirects to the link's URL with "
                 "/more added, for links that do not say (default Off)"),
    AP_INIT_TAKE1("MinilinkSlugCase", set_slug_case, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "'sensitive' (default) or 'insensitive': whether /l/ABC "
                  "finds the link abc"),
    AP_INIT_TAKE1("MinilinkCountryVariable", set_country_variable, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "The environment variable holding the visitor's country "
                  "code, for redirect rules and visits (default MM_COUNTRY_CODE, as "
                  "mod_maxminddb is usually set up)"),
    AP_INIT_ITERATE("MinilinkCreateSchemes", add_create_scheme, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "Schemes visitors may shorten: http, https (default both)"),
    AP_INIT_TAKE1("MinilinkCreateMaxURLLength", set_create_max_url, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Longest URL visitors may shorten, in bytes (default 2048)"),
    AP_INIT_ITERATE("MinilinkCreateBlockHosts", add_blocked_host, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "Hosts (and their subdomains) visitors may not link to"),
    AP_INIT_TAKE12("MinilinkCreateRateLimit", set_rate_limit, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "Links one client address may create: COUNT SECONDS "
                   "(default 20 60), or off"),
    AP_INIT_TAKE1("MinilinkVisits", set_visits, NULL, RSRC_CONF | ACCESS_CONF,
                  "On (default): each click and each 404 here is recorded as "
                  "a visit; Orphans: only the 404s; Off: none"),
    AP_INIT_TAKE1("MinilinkVisitsIP", set_visits_ip, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Off (default): visits keep no address; Anonymized: the "
                  "address with its last octet (last 80 bits) zeroed"),
    AP_INIT_TAKE1("MinilinkShortBase", set_short_base, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "The public prefix of short URLs: https://go.example.org/l/"),
    AP_INIT_ITERATE("MinilinkAdminUsers", add_word, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "Users Apache authenticates who are admins of the API"),
    AP_INIT_ITERATE("MinilinkApiCorsOrigins", add_word, (void *)1,
                    RSRC_CONF | ACCESS_CONF,
                    "Origins whose pages may call the API (default: any)"),
    AP_INIT_TAKE1("MinilinkVisitsKeep", set_visits_keep, NULL, RSRC_CONF,
                  "How long visits are kept: e.g. 90d (default), or forever; "
                  "the daily counts are kept either way"),
    AP_INIT_TAKE1("MinilinkVisitsRing", set_visits_ring, NULL, RSRC_CONF,
                  "Slots of each database's visits ring (1 KiB each), fixed "
                  "when it is made at the first start (default: one per 4 "
                  "links loaded, at least 32768; 0: no visits)"),
    {NULL}
};

/* ------------------------------------------------------------------ */
/* A generation's life (module/lifecycle.c)                            */
/* ------------------------------------------------------------------ */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    ml_lifecycle_pre_config(pconf);
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    (void)plog;
    return ml_lifecycle_post_config(pconf, ptemp, s);
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    ml_lifecycle_child_init(pchild, s);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* True when the location this request falls in says "SetHandler minilink". */
static int location_is_ours(request_rec *r)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const char *error = NULL, *handler;

    if (core->expr_handler == NULL) {
        return 0;
    }
    handler = ap_expr_str_exec(r, core->expr_handler, &error);
    /* core_override_type() lower-cases the name before it sets r->handler. */
    return error == NULL && handler && strcasecmp(handler, ML_HANDLER) == 0;
}

/* "minilink:" and the URI: the name that marks a request as ours (one
 * copy, without apr_pstrcat's second pass over its arguments). */
static char *claim_name(request_rec *r)
{
    apr_size_t uri_len = strlen(r->uri);
    char *name = apr_palloc(r->pool, sizeof(filename_prefix) + uri_len);

    memcpy(name, filename_prefix, sizeof(filename_prefix) - 1);
    memcpy(name + sizeof(filename_prefix) - 1, r->uri, uri_len + 1);
    return name;
}

/* True for a request translate_name claimed. */
static int claimed(const request_rec *r)
{
    return r->filename
           && strncmp(r->filename, filename_prefix,
                      sizeof(filename_prefix) - 1) == 0;
}

static int map_to_storage(request_rec *r)
{
    return claimed(r) ? OK : DECLINED;   /* no <Directory> walk, no stat() */
}

/*
 * A short link has no file type to find: answering first keeps mod_mime and
 * mod_negotiation away from a name that is not a file (with MultiViews on,
 * mod_negotiation would try to read "minilink:/l" as a directory and answer
 * 403), and it is one reason early.c may ignore those modules.
 */
static int type_checker(request_rec *r)
{
    return claimed(r) ? OK : DECLINED;
}

/* Where a request under a "SetHandler minilink" location goes. */
typedef enum {
    ROUTE_FORM,                  /* <location>/ (any path ending in '/') */
    ROUTE_PREVIEW,               /* <location>/<slug>+ */
    ROUTE_QR,                    /* <location>/<slug>.svg or .png */
    ROUTE_ROBOTS,                /* <location>/robots.txt */
    ROUTE_SLUG                   /* <location>/<slug>[/more]: the redirect */
} route_kind;

typedef struct {
    route_kind kind;
    const char *slug;            /* PREVIEW, QR and SLUG: as httpd decoded it */
    const char *more;            /* SLUG: the path after the slug, or NULL */
    int qr_png;                  /* QR: PNG, else SVG */
} route;

/*
 * The end of every redirect: the forwarded path and query string added to
 * the URL chosen, a visit taken for a link with a limit, the Location set,
 * the click counted.  The status, or 400 for an unsafe query string, or
 * ML_EXHAUSTED when the link has no visit left (nothing is set then).
 */
int ml_redirect(request_rec *r, const ml_dir_config *conf,
                const ml_redirect_plan *plan)
{
    int counts = !r->header_only && conf->clicks != -1;
    const char *query = NULL, *more = NULL, *location;

    if (plan->more) {
        /* The path httpd decoded, encoded again for the Location. */
        more = ap_escape_uri(r->pool, plan->more);
    }
    if ((plan->forward_query == ML_CHOICE_DEFAULT
         ? conf->query_mode != ML_QUERY_DROP
         : plan->forward_query == ML_CHOICE_ON) && r->args && *r->args) {
        /* httpd's request-line parser already refuses control characters;
         * checking again keeps the Location header safe whatever it allows. */
        if (!ml_header_safe(r->args, strlen(r->args))) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MLLOGNO(00006) "query "
                          "string with unsafe characters refused");
            return HTTP_BAD_REQUEST;
        }
        query = r->args;
    }
    if (plan->max_visits && !ml_visit_allowed(r, conf, plan, counts)) {
        return ML_EXHAUSTED;
    }
    /* Without a query or a path, the URL in shared memory is the Location
     * as it stands: records are never changed, and this table outlives the
     * request in this process. */
    location = query || more
               ? ml_url_forwarded(r->pool, plan->url, plan->url_len, more, query)
               : plan->url;
    apr_table_addn(r->headers_out, "Location", location);
    /* A click is a redirect sent with a body a browser follows: not HEAD.
     * Its visit names the link its click counted for. */
    if (counts) {
        apr_int64_t link_id = 0;
        if (plan->click_cell == ML_CACHE_NO_CELL) {
            link_id = ml_database_add_click(conf->database, plan->slug, r);
        }
        else if (ml_clicks_count(conf->database->clicks, plan->click_cell,
                                 apr_time_sec(r->request_time))) {
            link_id = ml_clicks_link_of(conf->database->clicks,
                                        plan->click_cell);
        }
        ml_visits_note_click(r, conf, link_id, location);
    }
    if (plan->status) {
        return plan->status;
    }
    return conf->redirect_status ? conf->redirect_status
                                 : ML_DEFAULT_REDIRECT_STATUS;
}

static int expired(const ml_cache_entry *entry, const request_rec *r)
{
    return entry->expires_at != 0
           && apr_time_sec(r->request_time) >= entry->expires_at;
}

/*
 * The hot path: a slug's answer from the shared table - the redirect, or
 * 404 (no such link), 405 (not GET or HEAD), 410 (disabled or expired),
 * 503 (no table), 400 (an unsafe query string).  A link with rules of its
 * own (an extension in its record) is answered by rules.c; early, that
 * may be ML_LATER: "take the ordinary path".
 */
static int answer_slug(request_rec *r, const ml_dir_config *conf,
                       const route *to, int early)
{
    apr_size_t slug_len = strlen(to->slug);
    ml_redirect_plan plan;
    ml_cache_entry entry;
    int found;

    /* GET covers HEAD too: httpd sends the headers and drops the body.
     * POST is only for a password (rules.c says 405 to the rest).
     * allowed_methods is what httpd puts in a 405's Allow header. */
    if (r->method_number != M_GET && r->method_number != M_POST) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (conf->database->cache == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MLLOGNO(00005) "503 because %s",
                      conf->database->load_error);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!ml_slug_valid(to->slug, slug_len)) {
        return HTTP_NOT_FOUND;
    }
    /* For logs: LogFormat "... %{minilink-slug}n", or %{MINILINK_SLUG}e.
     * addn, here and below: no module has set these yet, and setn would
     * search the table first (a tenth of this function's instructions). */
    apr_table_addn(r->notes, "minilink-slug", to->slug);
    apr_table_addn(r->subprocess_env, "MINILINK_SLUG", to->slug);
    found = conf->any_case == 1
            ? ml_cache_lookup_any_case(conf->database->cache, to->slug,
                                       slug_len, &entry)
            : ml_cache_lookup(conf->database->cache, to->slug, slug_len,
                              &entry);
    if (!found && !(ml_cache_overflowed(conf->database->cache)
                    && ml_database_lookup(conf->database, to->slug, &entry, r))) {
        ml_clicks_note_lookup(conf->database->clicks, ML_LOOKUP_MISS);
        return HTTP_NOT_FOUND;
    }
    if (entry.extension) {
        return ml_answer_with_rules(r, conf, to->slug, to->more, &entry, early);
    }
    ml_clicks_note_lookup(conf->database->clicks, ML_LOOKUP_HIT);
    if (r->method_number != M_GET) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (entry.disabled || expired(&entry, r)) {
        return HTTP_GONE;
    }
    if (to->more && conf->forward_path != 1) {
        return HTTP_NOT_FOUND;
    }
    ml_plan_from_entry(&plan, to->slug, to->more, &entry);
    return ml_redirect(r, conf, &plan);
}

void ml_plan_from_entry(ml_redirect_plan *plan, const char *slug,
                        const char *more, const ml_cache_entry *entry)
{
    memset(plan, 0, sizeof(*plan));
    plan->slug = slug;
    plan->more = more;
    plan->url = entry->url;
    plan->url_len = entry->url_len;
    plan->status = entry->status;
    plan->click_cell = entry->click_cell;
}

/* The length of the literal <Location> path this request was matched by,
 * if it is a prefix of the URI (of uri_len bytes) ending at a segment:
 * where the slug starts.  -1 for a <LocationMatch>, a wildcard, or the
 * server's own configuration. */
static long location_length(const request_rec *r, apr_size_t uri_len)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    apr_size_t len;

    if (core->d == NULL || core->r || core->d_is_fnmatch) {
        return -1;
    }
    len = strlen(core->d);
    if (len == 0 || len > uri_len || memcmp(core->d, r->uri, len) != 0
        || !(core->d[len - 1] == '/' || r->uri[len] == '/')) {
        return -1;
    }
    return (long)len;
}

/* What a lone segment (no '/' in it, len bytes) asks for. */
static void classify(route *to, const char *segment, apr_size_t len,
                     apr_pool_t *pool)
{
    to->slug = segment;
    to->kind = ROUTE_SLUG;              /* also with no slug: 404 */
    if (len == 0) {
        return;
    }
    if (segment[len - 1] == '+') {
        to->kind = ROUTE_PREVIEW;
        to->slug = apr_pstrmemdup(pool, segment, len - 1);
    }
    /* '.' is outside the slug alphabet: never a slug, nor a forwarded path
     * (that needs a '/'); a slug costs this one test. */
    else if (len > 4 && segment[len - 4] == '.') {
        if (len == 10 && memcmp(segment, "robots.txt", 10) == 0) {
            to->kind = ROUTE_ROBOTS;
        }
        else if (memcmp(segment + len - 3, "svg", 3) == 0
                 || memcmp(segment + len - 3, "png", 3) == 0) {
            to->kind = ROUTE_QR;
            to->qr_png = segment[len - 3] == 'p';
            to->slug = apr_pstrmemdup(pool, segment, len - 4);
        }
    }
}

/*
 * Where a request goes.  A path ending in '/' is the form.  Under a
 * literal <Location PATH>, the first segment after PATH is the slug and
 * the rest, if any, a path to forward ("/l/abc/more": "abc", "/more");
 * elsewhere (<LocationMatch>) the last segment is.  A lone segment may
 * also be robots.txt, "<slug>+" (the preview) or "<slug>.svg"/".png" (its
 * QR code).
 */
static route route_of(request_rec *r)
{
    apr_size_t uri_len = strlen(r->uri);
    const char *uri_end = r->uri + uri_len, *rest, *end;
    long location;
    route found;

    memset(&found, 0, sizeof(found));
    if (uri_len == 0 || uri_end[-1] == '/') {
        found.kind = ROUTE_FORM;
        return found;
    }
    if ((location = location_length(r, uri_len)) < 0) {
        rest = strrchr(r->uri, '/');
        rest = rest ? rest + 1 : r->uri;
        classify(&found, rest, (apr_size_t)(uri_end - rest), r->pool);
        return found;
    }
    for (rest = r->uri + location; *rest == '/'; rest++) {
    }
    if ((end = memchr(rest, '/', (apr_size_t)(uri_end - rest))) == NULL) {
        classify(&found, rest, (apr_size_t)(uri_end - rest), r->pool);
        return found;
    }
    found.kind = ROUTE_SLUG;
    found.slug = apr_pstrmemdup(r->pool, rest, (apr_size_t)(end - rest));
    found.more = end;
    return found;
}

/*
 * A short link is not a file: claim the URI here (after the <Location> walk,
 * before the directory walk) so map_to_storage can skip the filesystem.
 * Runs late, so mod_rewrite and mod_alias rules still apply first.
 *
 * A redirect is answered right here, as mod_alias answers Redirect, when
 * nothing between here and the handler could change the answer: a GET or
 * HEAD of a slug, not a subrequest or internal redirect, where early.c
 * finds no access rule, <If> or other late-acting configuration in scope,
 * and for a link whose rules allow it (rules.c: not a password, not a
 * country).  Anything else - a location with any access rule, the form, a
 * preview - takes the ordinary path to the handler, with httpd's access
 * control in front of it.
 */
static int translate_name(request_rec *r)
{
    const ml_dir_config *conf;
    route to;
    int status;

    if (r->uri[0] != '/' || !location_is_ours(r)) {
        return DECLINED;
    }
    r->filename = claim_name(r);
    conf = ap_get_module_config(r->per_dir_config, &minilink_module);
    if (r->main || r->prev || r->method_number != M_GET || !conf->database
        || conf->early_answer == -1) {
        return OK;
    }
    to = route_of(r);
    if (to.kind != ROUTE_SLUG || !ml_early_allowed(r)) {
        return OK;
    }
    status = answer_slug(r, conf, &to, 1);
    if (status == ML_LATER) {
        return OK;
    }
    apr_table_addn(r->notes, "minilink-answered", "translate");
    return status;
}

static int minilink_handler(request_rec *r)
{
    const ml_dir_config *conf;
    route to;

    if (r->handler && strcmp(r->handler, ML_ADMIN_HANDLER) == 0) {
        return ml_admin_handler(r);
    }
    if (r->handler && strcmp(r->handler, ML_API_HANDLER) == 0) {
        return ml_api_handler(r);
    }
    if (r->handler && strcmp(r->handler, ML_YOURLS_HANDLER) == 0) {
        return ml_yourls_handler(r);
    }
    if (r->handler == NULL || strcmp(r->handler, ML_HANDLER) != 0) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &minilink_module);
    if (conf->database == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00004) "SetHandler "
                      "minilink at %s, but no MinilinkDatabase applies here",
                      r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    to = route_of(r);
    switch (to.kind) {
    case ROUTE_FORM:
        return ml_handle_create(r, conf);
    case ROUTE_PREVIEW:
        return ml_handle_preview(r, conf, to.slug);
    case ROUTE_QR:
        return ml_handle_qr(r, conf, to.slug, to.qr_png);
    case ROUTE_ROBOTS:
        return ml_handle_robots(r, conf);
    case ROUTE_SLUG:
        break;
    }
    apr_table_addn(r->notes, "minilink-answered", "handler");
    return answer_slug(r, conf, &to, 0);
}

/* Orphan visits (module/visits.c): a 404 or 410 of ours, once sent. */
static int log_transaction(request_rec *r)
{
    while (r->prev) {
        r = r->prev;                 /* the request as it came */
    }
    if (claimed(r)) {
        ml_visits_note_orphan(r);
    }
    return DECLINED;
}

static void register_hooks(apr_pool_t *pool)
{
    (void)pool;
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(translate_name, NULL, NULL, APR_HOOK_LAST);
    ap_hook_map_to_storage(map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_type_checker(type_checker, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(minilink_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
    ml_status_register_hooks();
    ml_api_register_hooks();
}

AP_DECLARE_MODULE(minilink) = {
    STANDARD20_MODULE_STUFF,
    create_dir_config,
    merge_dir_config,
    create_server_config,       /* filled in post_config */
    merge_server_config,
    minilink_directives,
    register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE
};
