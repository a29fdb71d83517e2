/*
 * module/admin_table.c - <root>links: the links, PAGE_ROWS a page.
 *
 *   ?q=TEXT      in the slug, URL, title or a tag (ml_store_list's search)
 *   ?tag=NAME    only links with this tag
 *   ?order=created|slug|url|title|clicks  &dir=asc|desc  (default: the
 *                newest first); each column's heading links to its order
 *   ?page=N
 *
 * The page is ml_store_list()'s: the database filters, orders and cuts it
 * with an index for each order, so a page costs the same at a million
 * links.  Counting every match would not (a pass over the index), so the
 * table counts only when there is no filter - the shared table knows how
 * many links there are - and otherwise asks for the first row of the next
 * page to know whether there is one.  An author's table is filtered to
 * their own links.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_escape.h"
#include "apr_strings.h"

#include "admin.h"

#define PAGE_ROWS 50

static const struct {
    const char *name;            /* ?order= */
    const char *heading;
    ml_store_list_order order;
    int newest_first;            /* its default direction is descending */
} columns[] = {
    { "slug", "Slug", ML_LIST_BY_SLUG, 0 },
    { "title", "Title", ML_LIST_BY_TITLE, 0 },
    { "url", "Target", ML_LIST_BY_URL, 0 },
    { NULL, "Tags", 0, 0 },
    { "clicks", "Clicks", ML_LIST_BY_CLICKS, 1 },
    { "created", "Created", ML_LIST_BY_CREATED, 1 },
    { NULL, "State", 0, 0 },
};
#define COLUMNS (int)(sizeof(columns) / sizeof(columns[0]))
#define CREATED_COLUMN 5

/* What the table shows. */
typedef struct {
    const char *search;          /* NULL: none */
    const char *tag;             /* NULL: none */
    int column;                  /* the index in columns[] it is ordered by */
    int descending;
    apr_int64_t page;
} table_view;

static const char *encoded(ml_admin *a, const char *text)
{
    return ml_admin_html(a, apr_pescape_urlencoded(a->r->pool, text));
}

/* <root>links with the view's parameters, for an href. */
static const char *view_url(ml_admin *a, const table_view *view)
{
    return apr_psprintf(a->r->pool, "%slinks?order=%s&amp;dir=%s%s%s%s%s"
                        "&amp;page=%" APR_INT64_T_FMT, a->root,
                        columns[view->column].name,
                        view->descending ? "desc" : "asc",
                        view->search ? "&amp;q=" : "",
                        view->search ? encoded(a, view->search) : "",
                        view->tag ? "&amp;tag=" : "",
                        view->tag ? encoded(a, view->tag) : "", view->page);
}

static table_view view_asked(ml_admin *a)
{
    const char *order = ml_admin_query_text(a, "order");
    const char *dir = ml_admin_query_text(a, "dir");
    table_view view;
    int i;

    view.search = ml_admin_query_text(a, "q");
    view.search = view.search && *view.search ? view.search : NULL;
    view.tag = ml_admin_query_text(a, "tag");
    view.tag = view.tag && *view.tag ? view.tag : NULL;
    view.column = CREATED_COLUMN;
    for (i = 0; order && i < COLUMNS; i++) {
        if (columns[i].name && strcmp(order, columns[i].name) == 0) {
            view.column = i;
        }
    }
    view.descending = dir ? strcmp(dir, "desc") == 0
                          : columns[view.column].newest_first;
    view.page = ml_admin_query_number(a, "page", 1);
    view.page = view.page < 1 ? 1 : view.page;
    return view;
}

static const char *state_of(const ml_admin *a, const ml_link *link)
{
    apr_int64_t now = apr_time_sec(a->r->request_time);

    return link->disabled ? "disabled"
           : link->expires_at && now >= link->expires_at ? "expired"
           : link->valid_since && now < link->valid_since ? "not yet valid"
           : link->max_visits && link->clicks >= link->max_visits
             ? "out of visits"
           : link->password_hash ? "password" : "active";
}

typedef struct {
    ml_admin *a;
    int rows;
} table_rows;

static apr_status_t table_row(void *ctx, const ml_link *link,
                              const char *problem)
{
    table_rows *rows = ctx;
    ml_admin *a = rows->a;
    int i;

    rows->rows++;
    ap_rprintf(a->r, "<tr><td><a href=\"%slinks/%s\">%s</a></td><td>%s</td>"
               "<td class=\"url\">%s</td><td>", a->root,
               ml_admin_html(a, link->slug), ml_admin_html(a, link->slug),
               ml_admin_html(a, link->title), ml_admin_html(a, link->url));
    for (i = 0; link->tags && i < link->tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(link->tags, i, const char *);
        ap_rprintf(a->r, "%s<a href=\"%slinks?tag=%s\">%s</a>", i ? " " : "",
                   a->root, encoded(a, tag), ml_admin_html(a, tag));
    }
    ap_rprintf(a->r, "</td><td class=\"n\">%" APR_UINT64_T_FMT "</td><td>%s"
               "</td><td>%s</td></tr>\n", ml_admin_clicks_of(a, link),
               ml_admin_time(a, link->created_at),
               problem ? "not served" : state_of(a, link));
    return APR_SUCCESS;
}

/* The first row of the next page: whether there is one. */
static apr_status_t seen(void *ctx, const ml_link *link, const char *problem)
{
    (void)link;
    (void)problem;
    *(int *)ctx = 1;
    return APR_SUCCESS;
}

/* The columns' headings; with a view, each of an order a link to the
 * table in that order (the other way, for the view's own). */
static void headings(ml_admin *a, const table_view *view)
{
    int i;

    ap_rputs("<thead><tr>", a->r);
    for (i = 0; i < COLUMNS; i++) {
        table_view sorted;
        const char *mark = "";
        if (columns[i].name == NULL || view == NULL) {
            ap_rprintf(a->r, "<th>%s</th>", columns[i].heading);
            continue;
        }
        sorted = *view;
        sorted.column = i;
        sorted.page = 1;
        sorted.descending = columns[i].newest_first;
        if (i == view->column) {
            sorted.descending = !view->descending;
            mark = view->descending ? " &#9660;" : " &#9650;";
        }
        ap_rprintf(a->r, "<th%s%s><a href=\"%s\">%s</a>%s</th>",
                   i == view->column ? " aria-sort=" : "",
                   i == view->column ? (view->descending ? "\"descending\""
                                                         : "\"ascending\"") : "",
                   view_url(a, &sorted), columns[i].heading, mark);
    }
    ap_rputs("</tr></thead>\n", a->r);
}

/* The tbody of the query's links: how many. */
static int body_rows(ml_admin *a, ml_store *store,
                     const ml_store_list_query *query)
{
    table_rows rows = { a, 0 };

    ap_rputs("<tbody>\n", a->r);
    if (ml_store_list(store, query, table_row, &rows, NULL) != APR_SUCCESS) {
        ap_rputs("<tr><td colspan=\"7\">The links cannot be read right now."
                 "</td></tr>\n", a->r);
    }
    else if (rows.rows == 0) {
        ap_rputs("<tr><td colspan=\"7\">No link matches.</td></tr>\n", a->r);
    }
    ap_rputs("</tbody>\n", a->r);
    return rows.rows;
}

void ml_admin_link_rows(ml_admin *a, ml_store *store,
                        const ml_store_list_query *query)
{
    headings(a, NULL);
    body_rows(a, store, query);
}

static void search_form(ml_admin *a, const table_view *view)
{
    ap_rprintf(a->r, "<form method=\"get\" action=\"%slinks\" role=\"search\">"
               "\n<div><label for=\"q\">Search <span class=\"hint\">(slug, URL, "
               "title or tag)</span></label>\n<input id=\"q\" name=\"q\" "
               "type=\"search\" value=\"%s\"></div>\n<div><label for=\"tag\">"
               "Tag</label>\n<input id=\"tag\" name=\"tag\" value=\"%s\"></div>\n"
               "<input type=\"hidden\" name=\"order\" value=\"%s\">"
               "<input type=\"hidden\" name=\"dir\" value=\"%s\">\n"
               "<p><button type=\"submit\">Show</button> <a href=\"%slinks\">"
               "All links</a></p>\n</form>\n", a->root,
               ml_admin_html(a, view->search), ml_admin_html(a, view->tag),
               columns[view->column].name, view->descending ? "desc" : "asc",
               a->root);
}

static void pages(ml_admin *a, const table_view *view, int more,
                  apr_int64_t pages_count)
{
    table_view other = *view;

    ap_rputs("<nav aria-label=\"pages\"><p>", a->r);
    if (view->page > 1) {
        other.page = view->page - 1;
        ap_rprintf(a->r, "<a id=\"previous\" rel=\"prev\" href=\"%s\">Previous"
                   "</a> ", view_url(a, &other));
    }
    ap_rprintf(a->r, "Page %" APR_INT64_T_FMT, view->page);
    if (pages_count > 0) {
        ap_rprintf(a->r, " of %" APR_INT64_T_FMT, pages_count);
    }
    if (more) {
        other.page = view->page + 1;
        ap_rprintf(a->r, " <a id=\"next\" rel=\"next\" href=\"%s\">Next</a>",
                   view_url(a, &other));
    }
    ap_rputs("</p></nav>\n", a->r);
}

int ml_admin_table(ml_admin *a)
{
    table_view view = view_asked(a);
    ml_store_list_query query;
    ml_store *store = ml_admin_store(a);
    apr_int64_t links = 0, pages_count = 0;
    int more = 0, rows;

    if (store == NULL) {
        return ml_admin_failure(a, HTTP_SERVICE_UNAVAILABLE, "the database "
                                "cannot be read right now; try again");
    }
    memset(&query, 0, sizeof(query));
    query.search = view.search;
    query.tags = view.tag ? &view.tag : NULL;
    query.ntags = view.tag != NULL;
    query.order = columns[view.column].order;
    query.descending = view.descending;
    query.page = view.page;
    query.items_per_page = PAGE_ROWS;
    query.owner = a->owner;
    ml_admin_start(a, HTTP_OK, "Links");
    ml_admin_notice(a, "done", ml_admin_query_text(a, "done")
                               ? "The link was deleted." : NULL);
    ap_rputs("<section>\n", a->r);
    search_form(a, &view);
    if (view.search == NULL && view.tag == NULL && a->owner == NULL) {
        ml_cache_usage usage;
        ml_cache_usage_get(a->database->cache, &usage);
        links = usage.links;
        pages_count = (links + PAGE_ROWS - 1) / PAGE_ROWS;
        ap_rprintf(a->r, "<p id=\"count\">%" APR_INT64_T_FMT " links</p>\n",
                   links);
    }
    ap_rputs("<table id=\"links\">\n", a->r);
    headings(a, &view);
    rows = body_rows(a, store, &query);
    ap_rputs("</table>\n", a->r);
    /* One more row, where the next page starts. */
    query.items_per_page = 1;
    query.page = view.page * PAGE_ROWS + 1;
    if (rows == PAGE_ROWS) {
        ml_store_list(store, &query, seen, &more, NULL);
    }
    pages(a, &view, more, pages_count);
    ap_rputs("</section>\n", a->r);
    return ml_admin_end(a);
}
