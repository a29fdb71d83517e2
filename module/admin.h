/*
 * module/admin.h - what the admin pages (SetHandler minilink-admin, for a
 * browser) share:
 *
 *   admin_pages.c     routing, the page frame, forms (CSRF), the store
 *   admin_overview.c  <root>/            totals, all clicks, top links,
 *                                        orphans, cache and refresh health
 *   admin_table.c     <root>/links       the links, searched, sorted, paged
 *   admin_link.c      <root>/links/SLUG  one link: its fields, rules, QR
 *                                        code, visits; delete
 *   admin_create.c    <root>/new         a new link with every field
 *   admin_chart.c     the SVG chart of clicks per day
 *
 * <root> is the admin location's path ("/admin/"), worked out from the
 * request's path (admin_pages.c says how).  No page has script; every
 * value is escaped with ml_admin_html(); every POST carries the verifiable
 * CSRF token of the creation form (create.c) and a foreign Origin is
 * refused, before anything is read or written.
 */
#ifndef ML_ADMIN_H
#define ML_ADMIN_H

#include "ml_module.h"

/* The request being answered, and what every page needs of it. */
typedef struct {
    request_rec *r;
    const ml_dir_config *conf;
    ml_database *database;
    const char *root;            /* the admin location's path, with its
                                  * trailing '/', URL-encoded */
    const char *csrf;            /* the token for this page's forms */
    const char *user;            /* who Apache authenticated (r->user), or
                                  * NULL: a new link's owner */
    const char *owner;           /* an author's name: only their links are
                                  * shown; NULL for an admin (see
                                  * admin_pages.c) */
} ml_admin;

/* ---- admin_pages.c ---------------------------------------------------- */

/* text escaped for HTML, quotes included ("" for NULL). */
const char *ml_admin_html(const ml_admin *a, const char *text);
/* Starts a page: headers (ml_page_headers), head, navigation; title is
 * escaped here. */
void ml_admin_start(ml_admin *a, int status, const char *title);
int ml_admin_end(ml_admin *a);
/* The hidden CSRF field of a form. */
void ml_admin_csrf_field(ml_admin *a);
/* A message box: kind "error" or "done"; NULL text: nothing. */
void ml_admin_notice(ml_admin *a, const char *kind, const char *text);
/* 303 See Other to <root>path (path already URL-encoded). */
int ml_admin_see_other(ml_admin *a, const char *path);
/* Reads a POSTed form into *fields and checks its token and Origin:
 * NULL (*status untouched), or why not with *status set (403 for the
 * token). */
const char *ml_admin_read_form(ml_admin *a, apr_table_t **fields, int *status);
/* A read-write store for the request (ml_database_request_store), or
 * for a GET a read-only one if that fails; NULL (logged, ML00095) if
 * there is none. */
ml_store *ml_admin_store(ml_admin *a);
/* A whole page saying what went wrong, with the status; OK. */
int ml_admin_failure(ml_admin *a, int status, const char *text);
/* The number after name= in the query string, or fallback. */
apr_int64_t ml_admin_query_number(const ml_admin *a, const char *name,
                                  apr_int64_t fallback);
/* The decoded value after name= in the query string, or NULL. */
const char *ml_admin_query_text(const ml_admin *a, const char *name);
/* A time as people read it: "2030-12-31 08:00 UTC"; "" for 0. */
const char *ml_admin_time(const ml_admin *a, apr_int64_t seconds);
/* Where the database's links are served: the path (decoded, with its
 * '/') of the first <Location> of this host with SetHandler minilink and
 * the same database; NULL if none. */
const char *ml_admin_links_prefix(const ml_admin *a);
/* The short URL of a slug: MinilinkShortBase's, else under
 * ml_admin_links_prefix(); NULL when there is neither. */
const char *ml_admin_short_url(const ml_admin *a, const char *slug);
/* Whether the one asking may see and change the link: an admin, or the
 * author who made it. */
int ml_admin_may_see(const ml_admin *a, const ml_link *link);
/* The clicks of a link, stored and still counted in memory. */
apr_uint64_t ml_admin_clicks_of(const ml_admin *a, const ml_link *link);

/* ---- the pages -------------------------------------------------------- */

int ml_admin_overview(ml_admin *a);
int ml_admin_table(ml_admin *a);
/* The head and rows of a table of the query's links, as the links table
 * has them (admin_table.c): the overview's most clicked. */
void ml_admin_link_rows(ml_admin *a, ml_store *store,
                        const ml_store_list_query *query);
/* action: NULL (the page; POST saves its fields), "rules" (POST),
 * "delete" (GET asks, POST deletes), "qr.svg" (GET: its QR code). */
int ml_admin_link(ml_admin *a, const char *slug, const char *action);
int ml_admin_create(ml_admin *a);

/* The fields of a link's form (admin_link.c); values: what was typed, to
 * show again after an error, else the link's own. */
void ml_admin_link_fields(ml_admin *a, const ml_link *link,
                          apr_table_t *values, int with_rules);
/* NULL if every URL of the link (its own, fallback, rules') may be
 * shortened under the location's creation policy (ml_policy.h), as the
 * form's and the API's are; else why not. */
const char *ml_admin_urls_problem(ml_admin *a, const ml_link *link);
/* Reads those fields into *link (which has its other fields already);
 * NULL, or what is wrong. */
const char *ml_admin_link_read(ml_admin *a, apr_table_t *fields,
                               ml_link *link);

/* ---- admin_link_visits.c ------------------------------------------------ */

/* The visits section of a link's page (its chart, where its visits came
 * from). */
void ml_admin_link_visits(ml_admin *a, ml_store *store, const ml_link *link);
/* The period a chart shows (?days=30, 90 or 365; 30 otherwise), and the
 * links to the others, page being the URL path of the page showing it. */
int ml_admin_period(const ml_admin *a);
void ml_admin_period_links(ml_admin *a, const char *page, int days);

/* ---- admin_chart.c ---------------------------------------------------- */

/* One day of a chart: its 00:00 UTC, its clicks, how many were bots. */
typedef struct {
    apr_int64_t day;
    apr_int64_t clicks;
    apr_int64_t bots;
} ml_admin_day;

/* The days from `first` (a day's 00:00 UTC) on, `count` of them, zero
 * where days has none (days: sorted, from ml_store_each_visit_day). */
ml_admin_day *ml_admin_days_fill(apr_pool_t *pool, apr_int64_t first,
                                 int count, const apr_array_header_t *days);
/* Writes the chart: an SVG (bars of people, bots stacked in another
 * shade, a value axis with its ticks, dates below) and the same figures
 * as a table for a text browser or a screen reader. */
void ml_admin_chart(ml_admin *a, const ml_admin_day *days, int count,
                    const char *caption);
/* An ml_store_visit_day_fn: appends each day to an apr_array_header_t of
 * ml_store_visit_day (ctx). */
apr_status_t ml_admin_collect_day(void *ctx, const ml_store_visit_day *day);

#endif /* ML_ADMIN_H */
