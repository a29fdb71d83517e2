/*
 * module/admin_link_visits.c - the visits part of a link's page: its
 * clicks per day for 30, 90 or 365 days (?days=N) from the daily roll-up,
 * and the referrers, countries, browsers, operating systems and devices
 * its visits came with, most first.
 *
 * The roll-up outlives the visits (MinilinkVisitsKeep), so the chart can
 * reach further back than the lists; these count the newest
 * SAMPLE_VISITS visits of the period, read newest first with the store's
 * index, and say so when there were more: a page must not read a million
 * rows.  The visits ring is written to the database first, so both show
 * every visit made until the request.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "admin.h"

#define SAMPLE_VISITS 10000
#define TOP_ROWS 10

/* What the visits are tallied by. */
enum { REFERRER, COUNTRY, BROWSER, OS, DEVICE, TALLIES };
static const char *const tally_names[TALLIES] = {
    "Referrers", "Countries", "Browsers", "Operating systems", "Devices"
};

typedef struct {
    apr_pool_t *pool;
    ml_agents *agents;           /* NULL: the agents' lists are left empty */
    apr_hash_t *counts[TALLIES]; /* name -> apr_uint64_t * */
    apr_uint64_t visits;
} visit_tally;

static void count(visit_tally *tally, int which, const char *name,
                  apr_size_t len)
{
    apr_uint64_t *n = apr_hash_get(tally->counts[which], name, (apr_ssize_t)len);

    if (n == NULL) {
        n = apr_pcalloc(tally->pool, sizeof(*n));
        apr_hash_set(tally->counts[which], apr_pstrmemdup(tally->pool, name, len),
                     (apr_ssize_t)len, n);
    }
    (*n)++;
}

static apr_status_t tally_visit(void *ctx, const ml_store_visit *visit)
{
    visit_tally *tally = ctx;
    const char *referrer = visit->referrer ? visit->referrer : "(none)";
    const char *country = visit->country ? visit->country : "(unknown)";

    tally->visits++;
    /* A referrer is kept as host and path: the host says where from. */
    count(tally, REFERRER, referrer, strcspn(referrer, "/"));
    count(tally, COUNTRY, country, strlen(country));
    if (tally->agents) {
        ml_agent agent;
        ml_agents_classify(tally->agents, visit->user_agent, &agent);
        count(tally, BROWSER, agent.browser, strlen(agent.browser));
        count(tally, OS, agent.os, strlen(agent.os));
        count(tally, DEVICE, agent.device, strlen(agent.device));
    }
    return APR_SUCCESS;
}

typedef struct {
    const char *name;
    apr_uint64_t count;
} named_count;

static int most_first(const void *left, const void *right)
{
    const named_count *a = left, *b = right;

    return a->count != b->count ? (a->count < b->count ? 1 : -1)
                                : strcmp(a->name, b->name);
}

static void top_table(ml_admin *a, const visit_tally *tally, int which)
{
    int n = (int)apr_hash_count(tally->counts[which]), i = 0;
    named_count *rows = apr_pcalloc(a->r->pool, sizeof(*rows)
                                                * (apr_size_t)(n + 1));
    apr_hash_index_t *entry;

    for (entry = apr_hash_first(a->r->pool, tally->counts[which]); entry;
         entry = apr_hash_next(entry), i++) {
        rows[i].name = apr_hash_this_key(entry);
        rows[i].count = *(apr_uint64_t *)apr_hash_this_val(entry);
    }
    qsort(rows, (size_t)n, sizeof(*rows), most_first);
    ap_rprintf(a->r, "<table id=\"top-%d\"><thead><tr><th>%s</th><th "
               "class=\"n\">Visits</th></tr></thead><tbody>\n", which,
               tally_names[which]);
    for (i = 0; i < n && i < TOP_ROWS; i++) {
        ap_rprintf(a->r, "<tr><td>%s</td><td class=\"n\">%" APR_UINT64_T_FMT
                   "</td></tr>\n", ml_admin_html(a, rows[i].name),
                   rows[i].count);
    }
    ap_rputs(n ? "" : "<tr><td colspan=\"2\">none</td></tr>\n", a->r);
    ap_rputs("</tbody></table>\n", a->r);
}

/* The period asked for: 30, 90 or 365 days. */
int ml_admin_period(const ml_admin *a)
{
    apr_int64_t days = ml_admin_query_number(a, "days", 30);

    return days == 90 || days == 365 ? (int)days : 30;
}

void ml_admin_period_links(ml_admin *a, const char *page, int days)
{
    static const int periods[] = { 30, 90, 365 };
    int i;

    ap_rputs("<p>", a->r);
    for (i = 0; i < 3; i++) {
        if (periods[i] == days) {
            ap_rprintf(a->r, "<b>%d days</b> ", days);
        }
        else {
            ap_rprintf(a->r, "<a href=\"%s?days=%d#visits\">%d days</a> ", page,
                       periods[i], periods[i]);
        }
    }
    ap_rputs("</p>\n", a->r);
}

void ml_admin_link_visits(ml_admin *a, ml_store *store, const ml_link *link)
{
    int days = ml_admin_period(a), i;
    apr_int64_t today = ml_store_day_of(apr_time_sec(a->r->request_time));
    apr_int64_t first = today - (apr_int64_t)(days - 1) * 86400;
    apr_array_header_t *stored = apr_array_make(a->r->pool, days,
                                                sizeof(ml_store_visit_day));
    ml_store_visit_query query;
    visit_tally tally = { a->r->pool, ml_database_agents(a->r->pool), {0}, 0 };
    apr_uint64_t in_period = 0;

    memset(&query, 0, sizeof(query));
    query.slug = link->slug;
    query.since = first;
    query.newest_first = 1;
    query.limit = SAMPLE_VISITS;
    ml_database_drain_visits(a->database, tally.agents, a->r->pool);
    for (i = 0; i < TALLIES; i++) {
        tally.counts[i] = apr_hash_make(a->r->pool);
    }
    ap_rputs("<section id=\"visits\" aria-labelledby=\"visits-h\"><h2 "
             "id=\"visits-h\">Visits</h2>\n", a->r);
    ml_admin_period_links(a, apr_pstrcat(a->r->pool, a->root, "links/",
                                         ml_admin_html(a, link->slug), NULL),
                          days);
    if (ml_store_each_visit_day(store, link->slug, first, ml_admin_collect_day,
                                stored) != APR_SUCCESS
        || ml_store_each_visit(store, &query, tally_visit, &tally)
           != APR_SUCCESS
        || ml_store_count_visits(store, &query, &in_period) != APR_SUCCESS) {
        ml_admin_notice(a, "error", "the visits cannot be read right now");
        ap_rputs("</section>\n", a->r);
        return;
    }
    ml_admin_chart(a, ml_admin_days_fill(a->r->pool, first, days, stored),
                   days, "Clicks per day");
    ap_rprintf(a->r, "<p class=\"hint\">From the %" APR_UINT64_T_FMT
               " newest visits of the period%s.</p>\n<div class=\"tops\">\n",
               tally.visits, in_period > tally.visits
               ? apr_psprintf(a->r->pool, " (of %" APR_UINT64_T_FMT ")",
                              in_period) : "");
    for (i = 0; i < TALLIES; i++) {
        top_table(a, &tally, i);
    }
    ap_rputs("</div>\n</section>\n", a->r);
}
