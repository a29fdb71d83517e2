/*
 * mod_minilink.c - short links answered from shared memory.
 *
 *   LoadModule minilink_module modules/mod_minilink.so
 *   MinilinkDatabase /var/lib/minilink/links.db
 *   <Location /l>
 *       SetHandler minilink
 *   </Location>
 *
 * GET /l/abc answers 302 with the stored URL as Location.  The parent
 * process loads each database named in the configuration into a shared-
 * memory table (cache/) at startup and at every graceful restart; children
 * inherit the tables and only read them, so no request touches SQLite or
 * takes a lock.  This file only wires the pieces into httpd: the rules are
 * in links/, the table in cache/.
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
#include "apr_strings.h"

#include "mod_minilink.h"
#include "sync/ml_load.h"

module AP_MODULE_DECLARE_DATA minilink_module;

/*
 * The databases named by this configuration generation, by resolved path.
 * Made in pre_config from pconf, so it is rebuilt with each generation (the
 * module's statics are reset anyway when httpd reloads the DSO).
 */
static apr_hash_t *databases_by_location;

/* Server-wide settings, reset with each generation in pre_config. */
static ml_server_settings settings;

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
#undef MERGE
    return merged;
}

/* One ml_database per database, however it is spelled: symlinks and
 * relative paths that name the same existing file share one cache. */
static ml_database *database_for(apr_pool_t *pool, const char *location)
{
    char resolved[PATH_MAX];
    const char *key = ml_store_location_is_file(location)
                      && realpath(location, resolved) ? resolved : location;
    ml_database *database = apr_hash_get(databases_by_location, key,
                                         APR_HASH_KEY_STRING);

    if (database == NULL) {
        database = apr_pcalloc(pool, sizeof(*database));
        database->location = apr_pstrdup(pool, key);
        database->label = ml_store_location_label(key, pool);
        apr_hash_set(databases_by_location, database->location,
                     APR_HASH_KEY_STRING, database);
    }
    return database;
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
    conf->database = database_for(cmd->pool, location);
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
 * MinilinkRefreshInterval and MinilinkFlushInterval (cmd->info says which
 * setting): a time as httpd's own timeouts take it.  Only refreshing may
 * be turned off with 0; clicks must be written some time.
 */
static const char *set_interval(cmd_parms *cmd, void *dir_conf, const char *arg)
{
    apr_interval_time_t *setting = cmd->info, interval;
    int zero_allowed = setting == &settings.refresh_interval;
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
    *setting = interval;
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
    settings.cache_headroom = (unsigned int)percent;
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
    return NULL;
}

/* MinilinkPreview, MinilinkClicks and MinilinkEarlyAnswer (cmd->info: the
 * field's offset). */
static const char *set_on_off(cmd_parms *cmd, void *dir_conf, int on)
{
    *(int *)((char *)dir_conf + (apr_uintptr_t)cmd->info) = on ? 1 : -1;
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
        settings.click_cells = (apr_uint32_t)cells;
    }
    return error;
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
                  &settings.refresh_interval, RSRC_CONF,
                  "How often changes to the databases are applied (default "
                  "1s; 0 = only at graceful restarts)"),
    AP_INIT_TAKE1("MinilinkFlushInterval", set_interval,
                  &settings.flush_interval, RSRC_CONF,
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
    {NULL}
};

/* ------------------------------------------------------------------ */
/* Loading the caches (parent process)                                 */
/* ------------------------------------------------------------------ */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    databases_by_location = apr_hash_make(pconf);
    settings.refresh_interval = ML_DEFAULT_REFRESH_INTERVAL;
    settings.flush_interval = ML_DEFAULT_FLUSH_INTERVAL;
    settings.cache_headroom = ML_CACHE_HEADROOM_DEFAULT;
    settings.click_cells = 0;
    ml_database_pre_config(pconf);
    ml_ratelimit_pre_config(pconf);
    ml_clicks_pre_config(pconf);
    return OK;
}

/*
 * Builds the database's table for this generation.  The table lives in the
 * process pool, not pconf, so that when the next generation cannot load
 * one (the database unreachable at a graceful restart) it serves this one
 * - refreshed as usual once the database is back - instead of answering
 * 503.  Only the refresher writes to a table between requests; old
 * children write to theirs only right after creating a link, which needs
 * the database that the new generation failed to reach.
 */
static void load_database(ml_database *database, server_rec *s,
                          apr_pool_t *pconf)
{
    apr_pool_t *retained_pool, *table_pool;
    ml_retained_database *kept = ml_retained_for(s, database->location,
                                                 &retained_pool);
    ml_load_counts counts;
    ml_cache_usage usage;
    apr_status_t rv;

    /* A PostgreSQL server the refresher could not reach a moment ago is not
     * waited for (connect_timeout) while a graceful restart holds up new
     * connections: the last table is served and refreshed when it is back. */
    if (kept->table && !ml_store_location_is_file(database->location)
        && ml_cache_failing(kept->table, ML_CACHE_REFRESH)) {
        database->clicks = kept->clicks;
        database->load_error = apr_psprintf(pconf, "%s (it could not be "
                                            "read at the last refresh)",
                                            database->label);
        rv = APR_EGENERAL;
    }
    else {
        apr_pool_create(&table_pool, retained_pool);
        /* A size given: the table is made here, else ml_load() sizes it. */
        if (kept->clicks == NULL && settings.click_cells
            && ml_clicks_create(&kept->clicks, settings.click_cells,
                                retained_pool) != APR_SUCCESS) {
            kept->clicks = NULL;
        }
        rv = ml_load(&database->cache, database->location,
                     settings.cache_headroom, &kept->clicks, retained_pool,
                     table_pool, ml_log_skipped_row, database, &counts,
                     &database->load_error);
        database->clicks = kept->clicks;
        if (rv != APR_SUCCESS) {
            database->load_error = apr_pstrdup(pconf, database->load_error);
            apr_pool_destroy(table_pool);
        }
    }
    if (rv != APR_SUCCESS) {
        if (kept->table) {
            database->cache = kept->table;
            ml_cache_usage_get(database->cache, &usage);
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                         "ML00033: cannot load links from %s; serving the %u "
                         "links of the last table that loaded, refreshed "
                         "once the database can be read", database->load_error,
                         usage.links);
            return;
        }
        /* Apache still starts: the locations using this database answer 503. */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     "ML00001: cannot load links from %s; its locations "
                     "answer 503 until it is fixed and Apache is reloaded",
                     database->load_error);
        return;
    }
    /* The old children keep their own mapping of the table they serve. */
    if (kept->table_pool) {
        apr_pool_destroy(kept->table_pool);
    }
    kept->table = database->cache;
    kept->table_pool = table_pool;
    ml_cache_usage_get(database->cache, &usage);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                 "ML00002: %s: %u links loaded, %u skipped; cache of %"
                 APR_SIZE_T_FMT " bytes holds up to %u links",
                 database->label, counts.loaded, counts.skipped,
                 usage.segment_bytes, usage.link_capacity);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
    apr_hash_index_t *entry;

    (void)plog;
    /* httpd reads its configuration twice at startup; the first pass only
     * checks it, so loading then would double the startup work. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (entry = apr_hash_first(ptemp, databases_by_location); entry;
         entry = apr_hash_next(entry)) {
        load_database(apr_hash_this_val(entry), s, pconf);
    }
    if (ml_clicks_post_config(pconf, s, databases_by_location) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ml_status_register(databases_by_location);
    ml_early_post_config(pconf, s);
    if (ml_ratelimit_post_config(pconf, s) != OK
        || ml_create_post_config(s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return ml_database_post_config(pconf, s, databases_by_location, &settings);
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_index_t *entry;

    ml_database_child_init(pchild, s);
    ml_ratelimit_child_init(pchild, s);
    ml_clicks_child_init(pchild, s);
    /* Warm from the first request: the tables' pages mapped now, not one
     * fault at a time under the first minutes' load. */
    for (entry = apr_hash_first(pchild, databases_by_location); entry;
         entry = apr_hash_next(entry)) {
        ml_database *database = apr_hash_this_val(entry);
        if (database->cache) {
            ml_cache_prefault(database->cache);
        }
        if (database->clicks) {
            ml_clicks_prefault(database->clicks);
        }
    }
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

static int expired(const ml_cache_entry *entry, const request_rec *r)
{
    return entry->expires_at != 0
           && apr_time_sec(r->request_time) >= entry->expires_at;
}

/* The hot path: a slug to a redirect, from the shared table. */
static int redirect(request_rec *r, const ml_dir_config *conf, const char *slug)
{
    apr_size_t slug_len = strlen(slug);
    const char *query = NULL;
    ml_cache_entry entry;

    /* GET covers HEAD too: httpd sends the headers and drops the body.
     * allowed_methods is what httpd puts in a 405's Allow header. */
    if (r->method_number != M_GET) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (conf->database->cache == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "ML00005: 503 because %s",
                      conf->database->load_error);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!ml_slug_valid(slug, slug_len)) {
        return HTTP_NOT_FOUND;
    }
    /* For logs: LogFormat "... %{minilink-slug}n", or %{MINILINK_SLUG}e.
     * addn, here and below: no module has set these yet, and setn would
     * search the table first (a tenth of this function's instructions). */
    apr_table_addn(r->notes, "minilink-slug", slug);
    apr_table_addn(r->subprocess_env, "MINILINK_SLUG", slug);
    if (!ml_cache_lookup(conf->database->cache, slug, slug_len, &entry)
        && !(ml_cache_overflowed(conf->database->cache)
             && ml_database_lookup(conf->database, slug, &entry, r))) {
        ml_clicks_note_lookup(conf->database->clicks, ML_LOOKUP_MISS);
        return HTTP_NOT_FOUND;
    }
    ml_clicks_note_lookup(conf->database->clicks, ML_LOOKUP_HIT);
    if (entry.disabled || expired(&entry, r)) {
        return HTTP_GONE;
    }
    if (conf->query_mode != ML_QUERY_DROP && r->args && *r->args) {
        /* httpd's request-line parser already refuses control characters;
         * checking again keeps the Location header safe whatever it allows. */
        if (!ml_header_safe(r->args, strlen(r->args))) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "ML00006: query "
                          "string with unsafe characters refused");
            return HTTP_BAD_REQUEST;
        }
        query = r->args;
    }
    /* Without a query, the URL in shared memory is the Location as it
     * stands: records are never changed, and this table outlives the
     * request in this process. */
    apr_table_addn(r->headers_out, "Location", query
                   ? ml_url_with_query(r->pool, entry.url, entry.url_len, query)
                   : entry.url);
    /* A click is a redirect sent with a body a browser follows: not HEAD. */
    if (!r->header_only && conf->clicks != -1) {
        if (entry.click_cell != ML_CACHE_NO_CELL) {
            ml_clicks_count(conf->database->clicks, entry.click_cell,
                            apr_time_sec(r->request_time));
        }
        else {
            ml_database_add_click(conf->database, slug, r);
        }
    }
    if (entry.status) {
        return entry.status;
    }
    return conf->redirect_status ? conf->redirect_status
                                 : ML_DEFAULT_REDIRECT_STATUS;
}

/* The slug: the last path segment, as decoded by httpd ("" for the form,
 * "abc+" for the preview of "abc"). */
static const char *last_segment(const char *uri)
{
    const char *slash = strrchr(uri, '/');

    return slash ? slash + 1 : uri;
}

/*
 * A short link is not a file: claim the URI here (after the <Location> walk,
 * before the directory walk) so map_to_storage can skip the filesystem.
 * Runs late, so mod_rewrite and mod_alias rules still apply first.
 *
 * A redirect is answered right here, as mod_alias answers Redirect, when
 * nothing between here and the handler could change the answer: a GET or
 * HEAD of a slug, not a subrequest or internal redirect, where early.c
 * finds no access rule, <If> or other late-acting configuration in scope.
 * Anything else - a location with any access rule, the form, a preview -
 * takes the ordinary path to the handler, with httpd's access control in
 * front of it.
 */
static int translate_name(request_rec *r)
{
    const ml_dir_config *conf;
    const char *slug;

    if (r->uri[0] != '/' || !location_is_ours(r)) {
        return DECLINED;
    }
    r->filename = claim_name(r);
    conf = ap_get_module_config(r->per_dir_config, &minilink_module);
    slug = last_segment(r->uri);
    if (r->main == NULL && r->prev == NULL && r->method_number == M_GET
        && conf->database && conf->early_answer != -1 && *slug
        && slug[strlen(slug) - 1] != '+' && ml_early_allowed(r)) {
        apr_table_addn(r->notes, "minilink-answered", "translate");
        return redirect(r, conf, slug);
    }
    return OK;
}

static int minilink_handler(request_rec *r)
{
    const ml_dir_config *conf;
    const char *slug;
    apr_size_t slug_len;

    if (r->handler && strcmp(r->handler, ML_ADMIN_HANDLER) == 0) {
        return ml_admin_handler(r);
    }
    if (r->handler == NULL || strcmp(r->handler, ML_HANDLER) != 0) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &minilink_module);
    if (conf->database == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "ML00004: SetHandler "
                      "minilink at %s, but no MinilinkDatabase applies here",
                      r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    slug = last_segment(r->uri);
    slug_len = strlen(slug);
    if (slug_len == 0) {
        return ml_handle_create(r, conf);
    }
    if (slug[slug_len - 1] == '+') {
        return ml_handle_preview(r, conf,
                                 apr_pstrmemdup(r->pool, slug, slug_len - 1));
    }
    apr_table_addn(r->notes, "minilink-answered", "handler");
    return redirect(r, conf, slug);
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
    ml_status_register_hooks();
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
