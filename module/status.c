/*
 * module/status.c - where admins see what the module does.
 *
 *   /server-status (mod_status)      a "minilink" section per database,
 *                                    and key: value lines in ?auto
 *   SetHandler minilink-admin        JSON: <loc>/ totals, <loc>/links/SLUG,
 *                                    <loc>/top?n=N; <loc>/metrics for
 *                                    Prometheus; visits (admin_visits.c)
 *
 * Every figure comes from ml_database_figures_gather(), so the views
 * (and the admin overview) cannot disagree.
 * Clicks shown are those in the database plus those counted in memory and
 * not yet flushed, so they are current to the request.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ml_module.h"

APLOG_USE_MODULE(minilink);

#define TOP_DEFAULT 10
#define TOP_MAX 1000


void ml_database_figures_gather(const ml_database *database,
                                ml_database_figures *figures, apr_pool_t *pool)
{
    ml_store *store;

    memset(figures, 0, sizeof(*figures));
    figures->path = database->label;
    figures->loaded = database->cache != NULL;
    figures->clicks_stored = (apr_uint64_t)-1;
    if (database->cache) {
        ml_cache_usage_get(database->cache, &figures->cache);
    }
    if (database->clicks) {
        ml_clicks_stats_get(database->clicks, &figures->clicks);
        figures->clicks_pending = ml_clicks_pending_total(database->clicks);
    }
    if (database->visits) {
        figures->has_visits = 1;
        ml_visits_stats_get(database->visits, &figures->visits);
    }
    if (ml_store_open(&store, database->location, ML_STORE_READ, pool) == APR_SUCCESS) {
        ml_store_click_total(store, &figures->clicks_stored);
    }
}

apr_uint64_t ml_cache_bytes_used(const ml_cache_usage *usage)
{
    return usage->segment_bytes - (usage->arena_bytes - usage->arena_used);
}

apr_uint64_t ml_database_figures_clicks(const ml_database_figures *figures)
{
    return (figures->clicks_stored == (apr_uint64_t)-1 ? 0 : figures->clicks_stored)
           + figures->clicks_pending;
}

/* ------------------------------------------------------------------ */
/* mod_status                                                          */
/* ------------------------------------------------------------------ */

static const char *timestamp(request_rec *r, apr_int64_t seconds)
{
    char text[APR_RFC822_DATE_LEN];

    if (seconds == 0) {
        return "never";
    }
    apr_rfc822_date(text, apr_time_from_sec(seconds));
    return apr_pstrdup(r->pool, text);
}

/* This generation's databases; NULL before the first configuration. */
static apr_hash_t *configured_databases(void)
{
    return ml_generation_now() ? ml_generation_now()->databases : NULL;
}

static int status_section(request_rec *r, int flags)
{
    apr_hash_t *databases = configured_databases();
    apr_hash_index_t *entry;

    if (databases == NULL) {
        return OK;
    }
    for (entry = apr_hash_first(r->pool, databases); entry;
         entry = apr_hash_next(entry)) {
        ml_database_figures f;
        ml_database_figures_gather(apr_hash_this_val(entry), &f, r->pool);
        if (flags & AP_STATUS_SHORT) {
            ap_rprintf(r, "MinilinkDatabase: %s\nMinilinkLinksCached: %u\n"
                       "MinilinkCacheBytesUsed: %" APR_UINT64_T_FMT "\n"
                       "MinilinkCacheBytesTotal: %" APR_SIZE_T_FMT "\n"
                       "MinilinkLookups: %" APR_UINT64_T_FMT "\n"
                       "MinilinkHits: %" APR_UINT64_T_FMT "\n"
                       "MinilinkMisses: %" APR_UINT64_T_FMT "\n"
                       "MinilinkClicks: %" APR_UINT64_T_FMT "\n"
                       "MinilinkLastRefresh: %" APR_INT64_T_FMT "\n"
                       "MinilinkLastFlush: %" APR_INT64_T_FMT "\n"
                       "MinilinkRefreshErrors: %" APR_UINT64_T_FMT "\n"
                       "MinilinkFlushErrors: %" APR_UINT64_T_FMT "\n"
                       "MinilinkVisitsRecorded: %" APR_UINT64_T_FMT "\n"
                       "MinilinkVisitsPending: %" APR_UINT64_T_FMT "\n"
                       "MinilinkVisitsDropped: %" APR_UINT64_T_FMT "\n",
                       f.path, f.cache.links, ml_cache_bytes_used(&f.cache),
                       f.cache.segment_bytes, f.clicks.lookups, f.clicks.hits,
                       f.clicks.misses, ml_database_figures_clicks(&f),
                       f.cache.last_refresh_at,
                       f.clicks.last_flush_at, f.cache.refresh_errors,
                       f.clicks.flush_errors, f.visits.recorded,
                       f.visits.pending, f.visits.dropped);
            continue;
        }
        ap_rprintf(r, "<hr>\n<h2>minilink: %s</h2>\n<table>\n",
                   ap_escape_html(r->pool, f.path));
        if (!f.loaded) {
            ap_rputs("<tr><td>state</td><td>not loaded (answers 503)</td></tr>\n", r);
        }
        ap_rprintf(r, "<tr><td>links cached</td><td>%u of %u</td></tr>\n"
                   "<tr><td>cache bytes used</td><td>%" APR_UINT64_T_FMT
                   " of %" APR_SIZE_T_FMT "</td></tr>\n"
                   "<tr><td>lookups / hits / misses</td><td>%" APR_UINT64_T_FMT
                   " / %" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT "</td></tr>\n"
                   "<tr><td>clicks (pending in memory)</td><td>%" APR_UINT64_T_FMT
                   " (%" APR_UINT64_T_FMT ")</td></tr>\n"
                   "<tr><td>click cells counting</td><td>%u of %u</td></tr>\n"
                   "<tr><td>clicks dropped (old records of links gone)</td><td>%"
                   APR_UINT64_T_FMT "</td></tr>\n"
                   "<tr><td>last refresh</td><td>%s</td></tr>\n"
                   "<tr><td>last flush</td><td>%s</td></tr>\n"
                   "<tr><td>refresh / flush errors</td><td>%" APR_UINT64_T_FMT
                   " / %" APR_UINT64_T_FMT "</td></tr>\n"
                   "<tr><td>visits recorded / pending / dropped</td><td>%"
                   APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %"
                   APR_UINT64_T_FMT "</td></tr>\n</table>\n",
                   f.cache.links, f.cache.link_capacity,
                   ml_cache_bytes_used(&f.cache), f.cache.segment_bytes,
                   f.clicks.lookups, f.clicks.hits, f.clicks.misses,
                   ml_database_figures_clicks(&f), f.clicks_pending,
                   f.clicks.cells_live,
                   f.clicks.cells, f.clicks.stale_clicks,
                   timestamp(r, f.cache.last_refresh_at),
                   timestamp(r, f.clicks.last_flush_at),
                   f.cache.refresh_errors, f.clicks.flush_errors,
                   f.visits.recorded, f.visits.pending, f.visits.dropped);
    }
    return OK;
}


/* ------------------------------------------------------------------ */
/* minilink-admin                                                      */
/* ------------------------------------------------------------------ */

int ml_send_json(request_rec *r, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);

    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rprintf(r, "%s\n", text ? text : "null");
    free(text);
    json_decref(value);
    return OK;
}

static int send_totals(request_rec *r, const ml_database *database)
{
    ml_database_figures f;

    ml_database_figures_gather(database, &f, r->pool);
    return ml_send_json(r, json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:{s:I, s:I, s:I}}}",
        "database", f.path,
        "links_cached", (json_int_t)f.cache.links,
        "link_capacity", (json_int_t)f.cache.link_capacity,
        "cache_bytes_used", (json_int_t)ml_cache_bytes_used(&f.cache),
        "cache_bytes_total", (json_int_t)f.cache.segment_bytes,
        "lookups", (json_int_t)f.clicks.lookups,
        "hits", (json_int_t)f.clicks.hits,
        "misses", (json_int_t)f.clicks.misses,
        "clicks", (json_int_t)ml_database_figures_clicks(&f),
        "clicks_pending", (json_int_t)f.clicks_pending,
        "click_cells", (json_int_t)f.clicks.cells,
        "click_cells_counting", (json_int_t)f.clicks.cells_live,
        "clicks_dropped", (json_int_t)f.clicks.stale_clicks,
        "last_refresh", (json_int_t)f.cache.last_refresh_at,
        "last_flush", (json_int_t)f.clicks.last_flush_at,
        "errors", (json_int_t)(f.cache.refresh_errors + f.clicks.flush_errors),
        "visits",
          "ring_slots", (json_int_t)f.visits.slots,
          "recorded", (json_int_t)f.visits.recorded,
          "pending", (json_int_t)f.visits.pending,
          "written", (json_int_t)f.visits.written,
          "dropped", (json_int_t)f.visits.dropped,
          "lost", (json_int_t)f.visits.lost,
          "last_drain", (json_int_t)f.visits.last_drain_at,
          "orphans",
            "invalid_short_url",
            (json_int_t)f.visits.orphans[ML_VISIT_INVALID_SHORT_URL],
            "base_url", (json_int_t)f.visits.orphans[ML_VISIT_BASE_URL],
            "regular_404", (json_int_t)f.visits.orphans[ML_VISIT_REGULAR_404]));
}

apr_uint64_t ml_database_pending_for(const ml_database *database,
                                     const ml_link *link)
{
    apr_uint32_t cell = ml_cache_click_cell(database->cache, link->slug);

    return database->clicks
           && ml_clicks_counts_for(database->clicks, cell, link->id)
           ? ml_clicks_pending(database->clicks, cell) : 0;
}

static json_t *link_json(const ml_database *database, const ml_link *link)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:b, s:I, s:I, s:I}",
                     "slug", link->slug, "url", link->url,
                     "status", (json_int_t)link->status,
                     "expires_at", (json_int_t)link->expires_at,
                     "disabled", link->disabled,
                     "created_at", (json_int_t)link->created_at,
                     "clicks", (json_int_t)(link->clicks
                                            + ml_database_pending_for(database,
                                                                      link)),
                     "last_click_at", (json_int_t)link->last_click_at);
}

typedef struct {
    const ml_database *database;
    json_t *links;
} top_state;

static apr_status_t add_top_row(void *data, const ml_link *link,
                                const char *problem)
{
    top_state *state = data;

    if (problem == NULL) {
        json_array_append_new(state->links, link_json(state->database, link));
    }
    return APR_SUCCESS;
}

static int query_count(request_rec *r)
{
    const char *n = r->args ? strstr(r->args, "n=") : NULL;
    long count = n ? strtol(n + 2, NULL, 10) : TOP_DEFAULT;

    return count < 1 ? 1 : count > TOP_MAX ? TOP_MAX : (int)count;
}

static int send_link_or_top(request_rec *r, ml_database *database,
                            const char *slug)
{
    ml_store *store;
    ml_link link;
    apr_status_t rv;

    /* Flushed first, so the top list is ordered by every click so far. */
    ml_database_flush(database, r->pool);
    if (ml_store_open(&store, database->location, ML_STORE_READ, r->pool)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00031) "cannot read "
                      "statistics: %s", ml_store_error(store));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (slug == NULL) {
        top_state state = {database, json_array()};
        if (ml_store_top(store, query_count(r), add_top_row, &state)
            != APR_SUCCESS) {
            json_decref(state.links);
            return HTTP_SERVICE_UNAVAILABLE;
        }
        return ml_send_json(r, json_pack("{s:o}", "links", state.links));
    }
    rv = ml_store_get(store, slug, &link, NULL, r->pool);
    if (rv == APR_ENOENT) {
        return HTTP_NOT_FOUND;
    }
    if (rv != APR_SUCCESS) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return ml_send_json(r, link_json(database, &link));
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static const char *label(apr_pool_t *pool, const char *value)
{
    char *escaped = apr_palloc(pool, strlen(value) * 2 + 1), *at = escaped;

    for (; *value; value++) {
        if (*value == '\\' || *value == '"' || *value == '\n') {
            *at++ = '\\';
        }
        *at++ = *value == '\n' ? 'n' : *value;
    }
    *at = '\0';
    return escaped;
}

/* A metric family of every database: its figure of one database. */
typedef struct {
    const char *name;
    const char *type;
    const char *help;
    apr_uint64_t (*value)(const ml_database_figures *f);
} metric_family;

#define FIGURE(fn, expr) \
    static apr_uint64_t fn(const ml_database_figures *f) { return (apr_uint64_t)(expr); }
FIGURE(links_cached, f->cache.links)
FIGURE(cache_used, ml_cache_bytes_used(&f->cache))
FIGURE(cache_size, f->cache.segment_bytes)
FIGURE(lookups, f->clicks.lookups)
FIGURE(hits, f->clicks.hits)
FIGURE(misses, f->clicks.misses)
FIGURE(clicks, ml_database_figures_clicks(f))
FIGURE(last_refresh, f->cache.last_refresh_at)
FIGURE(last_flush, f->clicks.last_flush_at)
FIGURE(refresh_errors, f->cache.refresh_errors)
FIGURE(flush_errors, f->clicks.flush_errors)
FIGURE(visits_recorded, f->visits.recorded)
FIGURE(visits_written, f->visits.written)
FIGURE(visits_pending, f->visits.pending)
FIGURE(visits_dropped, f->visits.dropped)
FIGURE(visits_lost, f->visits.lost)
FIGURE(visits_drain_errors, f->visits.drain_errors)
#undef FIGURE

static const metric_family families[] = {
    { "minilink_links_cached", "gauge", "Links in the shared-memory cache.",
      links_cached },
    { "minilink_cache_bytes_used", "gauge", "Bytes of the cache in use.",
      cache_used },
    { "minilink_cache_bytes", "gauge", "Bytes of the cache.", cache_size },
    { "minilink_lookups_total", "counter", "Slug lookups since httpd started.",
      lookups },
    { "minilink_hits_total", "counter", "Lookups that found a link.", hits },
    { "minilink_misses_total", "counter", "Lookups that found none.", misses },
    { "minilink_clicks_total", "counter",
      "Redirects counted, stored and pending.", clicks },
    { "minilink_last_refresh_timestamp_seconds", "gauge",
      "When the cache was last refreshed.", last_refresh },
    { "minilink_last_flush_timestamp_seconds", "gauge",
      "When clicks were last written.", last_flush },
    { "minilink_refresh_errors_total", "counter", "Refreshes that failed.",
      refresh_errors },
    { "minilink_flush_errors_total", "counter", "Click flushes that failed.",
      flush_errors },
    { "minilink_visits_recorded_total", "counter",
      "Visits recorded (clicks and orphan visits) since httpd started.",
      visits_recorded },
    { "minilink_visits_written_total", "counter",
      "Visits written to the database.", visits_written },
    { "minilink_visits_pending", "gauge",
      "Visits in the ring, not yet written.", visits_pending },
    { "minilink_visits_dropped_total", "counter",
      "Visits dropped because the ring was full (clicks still counted).",
      visits_dropped },
    { "minilink_visits_lost_total", "counter",
      "Visits whose writer died while writing them.", visits_lost },
    { "minilink_visits_drain_errors_total", "counter",
      "Drains of visits that failed.", visits_drain_errors },
};

/* Prometheus' text format: each family once (HELP, TYPE), with a sample
 * per database; promtool check metrics passes it (a test runs it). */
static int send_metrics(request_rec *r)
{
    apr_hash_t *databases = configured_databases();
    int count = databases ? (int)apr_hash_count(databases) : 0, i = 0, d;
    ml_database_figures *figures = apr_pcalloc(r->pool, (apr_size_t)(count + 1)
                                                     * sizeof(*figures));
    const char **labels = apr_pcalloc(r->pool, (apr_size_t)(count + 1)
                                               * sizeof(*labels));
    apr_hash_index_t *entry;
    apr_size_t f;
    int kind;

    ap_set_content_type(r, "text/plain; version=0.0.4");
    for (entry = databases ? apr_hash_first(r->pool, databases) : NULL;
         entry; entry = apr_hash_next(entry), i++) {
        ml_database_figures_gather(apr_hash_this_val(entry), &figures[i],
                                   r->pool);
        labels[i] = label(r->pool, figures[i].path);
    }
    for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                   families[f].help, families[f].name, families[f].type);
        for (d = 0; d < count; d++) {
            ap_rprintf(r, "%s{database=\"%s\"} %" APR_UINT64_T_FMT "\n",
                       families[f].name, labels[d],
                       families[f].value(&figures[d]));
        }
    }
    ap_rputs("# HELP minilink_orphan_visits_total Orphan visits recorded, by "
             "type.\n# TYPE minilink_orphan_visits_total counter\n", r);
    for (d = 0; d < count; d++) {
        for (kind = 1; kind < ML_VISIT_KINDS; kind++) {
            ap_rprintf(r, "minilink_orphan_visits_total{database=\"%s\","
                       "type=\"%s\"} %" APR_UINT64_T_FMT "\n", labels[d],
                       ml_visit_kind_names[kind],
                       figures[d].visits.orphans[kind]);
        }
    }
    return OK;
}

int ml_admin_handler(request_rec *r)
{
    const ml_dir_config *conf = ap_get_module_config(r->per_dir_config,
                                                     &minilink_module);
    const char *last = strrchr(r->uri, '/');
    const char *links = strstr(r->uri, "/links/");
    const char *slug = links ? links + 7 : NULL;
    apr_size_t slug_len = slug ? strcspn(slug, "/") : 0;

    int page = ml_admin_pages(r, conf);

    if (page != DECLINED) {
        return page;
    }
    if (r->method_number != M_GET) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    last = last ? last + 1 : r->uri;
    if (strcmp(last, "metrics") == 0) {
        return send_metrics(r);
    }
    if (conf->database == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00037) "SetHandler "
                      "minilink-admin at %s, but no MinilinkDatabase applies "
                      "here", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (conf->database->cache == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (slug && ml_slug_valid(slug, slug_len)) {
        const char *rest = slug + slug_len;
        slug = apr_pstrmemdup(r->pool, slug, slug_len);
        if (*rest == '\0') {
            return send_link_or_top(r, conf->database, slug);
        }
        if (strcmp(rest, "/visits") == 0 || strcmp(rest, "/visits/days") == 0) {
            return ml_admin_visits(r, conf->database, slug,
                                   strcmp(rest, "/visits/days") == 0);
        }
        return HTTP_NOT_FOUND;
    }
    if (strlen(r->uri) >= 14
        && strcmp(r->uri + strlen(r->uri) - 14, "/visits/orphan") == 0) {
        return ml_admin_visits(r, conf->database, NULL, 0);
    }
    if (strcmp(last, "top") == 0) {
        return send_link_or_top(r, conf->database, NULL);
    }
    if (*last == '\0') {
        return send_totals(r, conf->database);
    }
    return HTTP_NOT_FOUND;
}

void ml_status_register_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
