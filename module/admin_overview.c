/*
 * module/admin_overview.c - <root>: the database at a glance.
 *
 * Totals (links, clicks, visits), every link's clicks per day for 30, 90
 * or 365 days (the daily roll-up summed by day), the most clicked links,
 * orphan visits by type, and the cache and refresh health that
 * /server-status shows - the same figures (ml_database_figures_gather),
 * so the pages cannot disagree.  An author sees only their own links
 * among the most clicked; the figures of the whole database are for
 * admins.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "admin.h"

#define TOP_LINKS 10

static void figure(ml_admin *a, const char *id, const char *label,
                   apr_uint64_t value)
{
    ap_rprintf(a->r, "<div><b id=\"%s\">%" APR_UINT64_T_FMT "</b>%s</div>\n",
               id, value, label);
}

/* The most clicked links (the query's: an author's own), each a link to
 * its page. */
static void top_links(ml_admin *a, ml_store *store,
                      const ml_store_list_query *most_clicked)
{
    ap_rputs("<section aria-labelledby=\"top-h\"><h2 id=\"top-h\">"
             "Most clicked</h2>\n<table id=\"top\">", a->r);
    /* ml_store_list reads them from the clicks' index (ml_store_top sorts
     * every link: most of a second at a million). */
    ml_admin_link_rows(a, store, most_clicked);
    ap_rputs("</table>\n</section>\n", a->r);
}

static void health(ml_admin *a, const ml_database_figures *f)
{
    ap_rprintf(a->r, "<section aria-labelledby=\"health-h\"><h2 id=\"health-h\">"
               "Cache and refresh</h2>\n<table id=\"health\">\n"
               "<tr><th>Database</th><td>%s</td></tr>\n"
               "<tr><th>Links cached</th><td>%u of %u</td></tr>\n"
               "<tr><th>Cache bytes used</th><td>%" APR_UINT64_T_FMT " of %"
               APR_SIZE_T_FMT "</td></tr>\n"
               "<tr><th>Lookups / hits / misses</th><td>%" APR_UINT64_T_FMT
               " / %" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT "</td></tr>\n"
               "<tr><th>Last refresh</th><td>%s</td></tr>\n"
               "<tr><th>Last flush of clicks</th><td>%s</td></tr>\n"
               "<tr><th>Refresh / flush errors</th><td>%" APR_UINT64_T_FMT
               " / %" APR_UINT64_T_FMT "</td></tr>\n"
               "<tr><th>Visits recorded / pending / dropped</th><td>%"
               APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT
               "</td></tr>\n</table>\n</section>\n",
               ml_admin_html(a, f->path), f->cache.links, f->cache.link_capacity,
               ml_cache_bytes_used(&f->cache), f->cache.segment_bytes,
               f->clicks.lookups, f->clicks.hits, f->clicks.misses,
               f->cache.last_refresh_at
               ? ml_admin_time(a, f->cache.last_refresh_at) : "never",
               f->clicks.last_flush_at
               ? ml_admin_time(a, f->clicks.last_flush_at) : "never",
               f->cache.refresh_errors, f->clicks.flush_errors,
               f->visits.recorded, f->visits.pending, f->visits.dropped);
}

static void orphans(ml_admin *a, ml_store *store, const ml_database_figures *f)
{
    ml_store_visit_query query;     /* zero: the orphan visits */
    apr_uint64_t stored = 0;
    int kind;

    memset(&query, 0, sizeof(query));
    ml_store_count_visits(store, &query, &stored);
    ap_rprintf(a->r, "<section aria-labelledby=\"orphans-h\"><h2 "
               "id=\"orphans-h\">Orphan visits</h2>\n<p>Requests under a "
               "links location that found no link: %" APR_UINT64_T_FMT " kept "
               "in the database.</p>\n<table id=\"orphans\"><thead><tr><th>Type"
               "</th><th class=\"n\">Since httpd started</th></tr></thead>"
               "<tbody>\n", stored);
    for (kind = 1; kind < ML_VISIT_KINDS; kind++) {
        ap_rprintf(a->r, "<tr><td>%s</td><td class=\"n\">%" APR_UINT64_T_FMT
                   "</td></tr>\n", ml_visit_kind_names[kind],
                   f->visits.orphans[kind]);
    }
    ap_rputs("</tbody></table>\n</section>\n", a->r);
}

int ml_admin_overview(ml_admin *a)
{
    int days = ml_admin_period(a);
    apr_int64_t today = ml_store_day_of(apr_time_sec(a->r->request_time));
    apr_int64_t first = today - (apr_int64_t)(days - 1) * 86400;
    apr_array_header_t *stored = apr_array_make(a->r->pool, days,
                                                sizeof(ml_store_visit_day));
    ml_store_list_query most_clicked;
    ml_database_figures f;
    ml_store *store;

    /* Every click and visit so far, in the database before it is read. */
    ml_database_flush(a->database, a->r->pool);
    ml_database_drain_visits(a->database, ml_database_agents(a->r->pool),
                             a->r->pool);
    ml_database_figures_gather(a->database, &f, a->r->pool);
    if ((store = ml_admin_store(a)) == NULL) {
        return ml_admin_failure(a, HTTP_SERVICE_UNAVAILABLE, "the database "
                                "cannot be read right now; try again");
    }
    memset(&most_clicked, 0, sizeof(most_clicked));
    most_clicked.order = ML_LIST_BY_CLICKS;
    most_clicked.descending = 1;
    most_clicked.page = 1;
    most_clicked.items_per_page = TOP_LINKS;
    most_clicked.owner = a->owner;
    ml_admin_start(a, HTTP_OK, "Overview");
    if (a->owner) {
        top_links(a, store, &most_clicked);
        ap_rputs("<p class=\"hint\">The figures of the whole database are "
                 "for admins.</p>\n", a->r);
        return ml_admin_end(a);
    }
    ml_admin_notice(a, "done", ml_admin_query_text(a, "done") ? "Done." : NULL);
    ap_rputs("<section aria-label=\"totals\"><div class=\"figures\">\n", a->r);
    figure(a, "links", "links", f.cache.links);
    figure(a, "clicks", "clicks", ml_database_figures_clicks(&f));
    figure(a, "visits", "visits recorded since httpd started",
           f.visits.recorded);
    ap_rputs("</div></section>\n<section id=\"visits\" aria-labelledby="
             "\"all-h\"><h2 id=\"all-h\">All clicks</h2>\n", a->r);
    ml_admin_period_links(a, a->root, days);
    if (ml_store_each_visit_day(store, NULL, first, ml_admin_collect_day,
                                stored) == APR_SUCCESS) {
        ml_admin_chart(a, ml_admin_days_fill(a->r->pool, first, days, stored),
                       days, "Clicks per day, every link");
    }
    else {
        ml_admin_notice(a, "error", "the daily clicks cannot be read now");
    }
    ap_rputs("</section>\n", a->r);
    top_links(a, store, &most_clicked);
    orphans(a, store, &f);
    health(a, &f);
    return ml_admin_end(a);
}
