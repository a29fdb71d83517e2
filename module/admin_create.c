/*
 * module/admin_create.c - <root>new: a new link with every field, for an
 * admin (the public form of create.c is for visitors: rate-limited, fewer
 * choices).
 *
 * The link is checked as an edit is (ml_admin_link_read: ml_link.c,
 * ml_rules.c, the location's creation policy), its slug as the form's and
 * the API's are (ml_creation_problem); an empty slug gets a random one
 * from the store.  Then the shared table is refreshed and the browser sent
 * to the new link's page: it works at once.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "admin.h"

APLOG_USE_MODULE(minilink);

static int show_form(ml_admin *a, int status, const char *error,
                     apr_table_t *values)
{
    ml_link empty;

    memset(&empty, 0, sizeof(empty));
    ml_admin_start(a, status, "New link");
    ml_admin_notice(a, "error", error);
    ap_rprintf(a->r, "<section><form method=\"post\" action=\"%snew\" "
               "id=\"create\">\n", a->root);
    ml_admin_csrf_field(a);
    ap_rprintf(a->r, "<div><label for=\"slug\">Slug <span class=\"hint\">"
               "(letters, digits, - and _; empty: a random one)</span></label>\n"
               "<input id=\"slug\" name=\"slug\" maxlength=\"%d\" value=\"%s\">"
               "</div>\n",
               ML_SLUG_MAX, ml_admin_html(a, values ? apr_table_get(values,
                                                                    "slug")
                                                    : NULL));
    ml_admin_link_fields(a, &empty, values, 1);
    ap_rputs("<p><button type=\"submit\">Create</button></p>\n</form>"
             "</section>\n", a->r);
    return ml_admin_end(a);
}

static int create(ml_admin *a)
{
    apr_table_t *fields;
    const char *problem, *slug, *prefix;
    int status = HTTP_BAD_REQUEST;
    ml_store *store;
    ml_link link, no_urls;
    apr_status_t rv;

    if ((problem = ml_admin_read_form(a, &fields, &status))) {
        return ml_admin_failure(a, status, problem);
    }
    memset(&link, 0, sizeof(link));
    slug = apr_table_get(fields, "slug");
    link.slug = slug && *slug ? slug : NULL;
    link.owner = a->user;         /* as the API's: whoever made it */
    if ((problem = ml_admin_link_read(a, fields, &link))) {
        return show_form(a, HTTP_BAD_REQUEST, problem, fields);
    }
    /* The slug as the form's and the API's: new, hiding no page under the
     * links' location, no twin but for case where case does not count. */
    memset(&no_urls, 0, sizeof(no_urls));
    prefix = ml_admin_links_prefix(a);
    if (link.slug
        && (problem = ml_creation_problem(a->r, a->conf, prefix ? prefix : "/",
                                          NULL, link.slug, &no_urls,
                                          &status))) {
        return show_form(a, status, problem, fields);
    }
    if ((store = ml_admin_store(a)) == NULL) {
        return show_form(a, HTTP_SERVICE_UNAVAILABLE, "the database cannot be "
                         "written right now; try again", fields);
    }
    rv = ml_store_add(store, &link, a->r->pool);
    if (rv == APR_EEXIST || rv == APR_EINVAL) {
        return show_form(a, rv == APR_EEXIST ? HTTP_CONFLICT : HTTP_BAD_REQUEST,
                         ml_store_error(store), fields);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, a->r, MLLOGNO(00099) "admin "
                      "page cannot create a link: %s", ml_store_error(store));
        return show_form(a, HTTP_SERVICE_UNAVAILABLE, "the database cannot be "
                         "written right now; try again", fields);
    }
    ml_database_refresh(a->database, a->r->pool);
    return ml_admin_see_other(a, apr_pstrcat(a->r->pool, "links/", link.slug,
                                             "?done=created", NULL));
}

int ml_admin_create(ml_admin *a)
{
    return a->r->method_number == M_POST ? create(a)
                                         : show_form(a, HTTP_OK, NULL, NULL);
}
