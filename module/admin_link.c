/*
 * module/admin_link.c - one link's page, <root>links/SLUG, and its edits:
 *
 *   GET  links/SLUG          its short URL and QR code, a form of every
 *                            field, its redirect rules, its visits
 *                            (admin_link_visits.c)
 *   POST links/SLUG          saves the form's fields
 *   POST links/SLUG/rules    op=add (rule=TEXT), or op=up|down|remove N
 *   GET  links/SLUG/delete   asks; POST deletes
 *   GET  links/SLUG/qr.svg   the QR code of its short URL (?size=N)
 *
 * Every write reads the link again, changes what the form says, and
 * stores it with ml_store_update() or ml_store_remove() - the checks of
 * ml_link.c, ml_rules.c and the store, as for the minilink command - after
 * the URLs passed the location's creation policy (ml_policy.c); then the
 * shared table is refreshed, so the change is live on this host before
 * the answer (a 303 back to the page) leaves.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_escape.h"
#include "apr_strings.h"

#include "admin.h"
#include "../links/ml_fields.h"
#include "../links/ml_time.h"

APLOG_USE_MODULE(minilink);

/* ---- the fields' form (also the creation page's) ------------------------ */

/* What a field shows: what was typed (after an error), else the link's. */
static const char *shown(ml_admin *a, apr_table_t *values, const char *name,
                         const char *own)
{
    const char *typed = values ? apr_table_get(values, name) : NULL;

    return ml_admin_html(a, typed ? typed : values ? "" : own);
}

static void text_field(ml_admin *a, const char *name, const char *type,
                       const char *label, const char *hint, const char *value,
                       const char *extra)
{
    ap_rprintf(a->r, "<div><label for=\"%s\">%s <span class=\"hint\">%s</span>"
               "</label>\n<input id=\"%s\" name=\"%s\" type=\"%s\" value=\"%s\""
               "%s></div>\n", name, label, hint, name, name, type, value, extra);
}

/* A checkbox: checked when typed so, else (no values) when the link is. */
static void check_field(ml_admin *a, apr_table_t *values, const char *name,
                        const char *label, int own)
{
    const char *typed = values ? apr_table_get(values, name) : NULL;
    int checked = values ? typed && strcmp(typed, "on") == 0 : own;

    ap_rprintf(a->r, "<div><label class=\"check\"><input type=\"checkbox\" "
               "id=\"%s\" name=\"%s\" value=\"on\"%s>%s</label></div>\n", name,
               name, checked ? " checked" : "", label);
}

static void select_field(ml_admin *a, const char *name, const char *label,
                         const char *value, const char *const *options)
{
    int i;

    ap_rprintf(a->r, "<div><label for=\"%s\">%s</label>\n<select id=\"%s\" "
               "name=\"%s\">", name, label, name, name);
    for (i = 0; options[i]; i += 2) {
        ap_rprintf(a->r, "<option value=\"%s\"%s>%s</option>", options[i],
                   strcmp(value, options[i]) == 0 ? " selected" : "",
                   options[i + 1]);
    }
    ap_rputs("</select></div>\n", a->r);
}

static const char *const status_options[] = {
    "", "the location's", "301", "301 Moved Permanently", "302", "302 Found",
    "303", "303 See Other", "307", "307 Temporary Redirect", "308",
    "308 Permanent Redirect", NULL
};
static const char *const choice_options[] = {
    "", "as the location says", "on", "yes", "off", "no", NULL
};

static const char *time_text(const ml_admin *a, apr_int64_t seconds)
{
    return seconds ? ml_time_format(seconds, a->r->pool) : "";
}

static const char *choice_text(ml_choice choice)
{
    return choice == ML_CHOICE_ON ? "on" : choice == ML_CHOICE_OFF ? "off" : "";
}

void ml_admin_link_fields(ml_admin *a, const ml_link *link,
                          apr_table_t *values, int with_rules)
{
    apr_pool_t *pool = a->r->pool;
    const char *typed_status = values ? apr_table_get(values, "status") : NULL;

    text_field(a, "url", "url", "Long URL", "", shown(a, values, "url",
               link->url), " required");
    text_field(a, "title", "text", "Title", "", shown(a, values, "title",
               link->title), " maxlength=\"512\"");
    text_field(a, "tags", "text", "Tags", "(separated by spaces)",
               shown(a, values, "tags", ml_field_write(link, ML_FIELD_TAGS,
                                                       pool)), "");
    select_field(a, "status", "Redirect status", typed_status ? typed_status
                 : link->status ? apr_itoa(pool, link->status) : "",
                 status_options);
    text_field(a, "validSince", "text", "Valid since",
               "(UTC: 2030-12-31T08:00:00Z, 2030-12-31, or empty)",
               shown(a, values, "validSince", time_text(a, link->valid_since)),
               "");
    text_field(a, "validUntil", "text", "Valid until",
               "(then 410 Gone, or the fallback)",
               shown(a, values, "validUntil", time_text(a, link->expires_at)),
               "");
    text_field(a, "maxVisits", "number", "Visits at most", "(empty: no limit)",
               shown(a, values, "maxVisits", link->max_visits
                     ? apr_ltoa(pool, (long)link->max_visits) : ""),
               " min=\"1\" max=\"2147483647\"");
    text_field(a, "fallbackUrl", "url", "Fallback URL",
               "(when not yet valid, expired, disabled or out of visits)",
               shown(a, values, "fallbackUrl", link->fallback_url), "");
    text_field(a, "password", "password", "Password",
               link->password_hash ? "(set; type a new one to change it)"
                                   : "(visitors must give it; empty: none)",
               "", " autocomplete=\"new-password\" maxlength=\"72\"");
    if (link->password_hash) {
        check_field(a, values, "clearPassword", "Remove the password", 0);
    }
    select_field(a, "forwardQuery", "Add the visitor's query string",
                 values ? apr_pstrdup(pool, shown(a, values, "forwardQuery", ""))
                        : choice_text(link->forward_query), choice_options);
    select_field(a, "forwardPath", "Add the path after the slug",
                 values ? apr_pstrdup(pool, shown(a, values, "forwardPath", ""))
                        : choice_text(link->forward_path), choice_options);
    check_field(a, values, "crawlable", "Crawlers may follow it (robots.txt)",
                link->crawlable);
    check_field(a, values, "disabled", "Disabled (answers 410 Gone)",
                link->disabled);
    if (with_rules) {
        ap_rprintf(a->r, "<div><label for=\"redirectRules\">Redirect rules <span "
                   "class=\"hint\">(one a line: conditions, then the URL, as "
                   "<code>--device ios https://example.com/ios</code>)</span>"
                   "</label>\n<textarea id=\"redirectRules\" "
                   "name=\"redirectRules\">%s</textarea></div>\n",
                   shown(a, values, "redirectRules", ""));
    }
}

const char *ml_admin_urls_problem(ml_admin *a, const ml_link *link)
{
    int status;

    return ml_creation_problem(a->r, a->conf, "/", link->url, NULL, link,
                               &status);
}

const char *ml_admin_link_read(ml_admin *a, apr_table_t *fields,
                               ml_link *link)
{
    apr_pool_t *pool = a->r->pool;
    const char *text, *problem, *password = apr_table_get(fields, "password");

    link->url = apr_table_get(fields, "url");
    if (link->url == NULL || *link->url == '\0') {
        return "give the long URL";
    }
    /* A checkbox left unchecked sends nothing. */
    if (apr_table_get(fields, "crawlable") == NULL) {
        apr_table_setn(fields, "crawlable", "off");
    }
    /* A field the form had not (the rules, on a link's page) is kept. */
    if ((problem = ml_read_link_fields(link, fields, pool))) {
        return problem;
    }
    link->disabled = apr_table_get(fields, "disabled") != NULL;
    text = apr_table_get(fields, "status");
    link->status = text && *text ? (int)ml_decimal(text) : 0;
    if (text && *text && !ml_status_valid(link->status)) {
        return "status: choose 301, 302, 303, 307 or 308";
    }
    text = apr_table_get(fields, "validUntil");
    link->expires_at = 0;
    if (text && *text && (problem = ml_time_parse(text, "valid until",
                                                  &link->expires_at, pool))) {
        return problem;
    }
    if ((problem = ml_admin_urls_problem(a, link))) {
        return problem;
    }
    if (apr_table_get(fields, "clearPassword")) {
        link->password_hash = NULL;
    }
    /* Hashed last, after every cheap check: bcrypt takes its time. */
    else if (password && *password
             && (problem = ml_password_hash(password, &link->password_hash,
                                            pool))) {
        return apr_pstrcat(pool, "password: ", problem, NULL);
    }
    return NULL;
}

/* ---- the page ------------------------------------------------------------ */

static const char *done_text(const char *done)
{
    static const char *const texts[] = {
        "saved", "Saved: live now.",
        "rules", "Redirect rules saved: live now.",
        "created", "Created: live now.",
        NULL
    };
    int i;

    for (i = 0; done && texts[i]; i += 2) {
        if (strcmp(done, texts[i]) == 0) {
            return texts[i + 1];
        }
    }
    return NULL;
}

static const char *state_of(const ml_admin *a, const ml_link *link)
{
    apr_int64_t now = apr_time_sec(a->r->request_time);

    if (link->disabled) {
        return "disabled";
    }
    if (link->expires_at && now >= link->expires_at) {
        return "expired";
    }
    if (link->valid_since && now < link->valid_since) {
        return "not yet valid";
    }
    if (link->max_visits && link->clicks >= link->max_visits) {
        return "out of visits";
    }
    return "active";
}

static void rules_section(ml_admin *a, const ml_link *link, const char *here)
{
    int i;

    ap_rputs("<section id=\"rules\" aria-labelledby=\"rules-h\"><h2 "
             "id=\"rules-h\">Redirect rules</h2>\n<p class=\"hint\">The first "
             "rule whose conditions all hold gives the URL; when none does, "
             "the long URL.</p>\n", a->r);
    if (link->nrules) {
        ap_rprintf(a->r, "<form method=\"post\" action=\"%s/rules\">\n", here);
        ml_admin_csrf_field(a);
        ap_rputs("<ol class=\"rules\">\n", a->r);
        for (i = 0; i < link->nrules; i++) {
            ap_rprintf(a->r, "<li><code>%s</code><br>",
                       ml_admin_html(a, ml_rule_format(&link->rules[i],
                                                       a->r->pool)));
            if (i > 0) {
                ap_rprintf(a->r, "<button class=\"small\" name=\"op\" "
                           "value=\"up %d\">Move up</button>", i + 1);
            }
            if (i + 1 < link->nrules) {
                ap_rprintf(a->r, "<button class=\"small\" name=\"op\" "
                           "value=\"down %d\">Move down</button>", i + 1);
            }
            ap_rprintf(a->r, "<button class=\"small danger\" name=\"op\" "
                       "value=\"remove %d\">Remove</button></li>\n", i + 1);
        }
        ap_rputs("</ol>\n</form>\n", a->r);
    }
    /* A form of its own: Enter in its field must add, not move a rule. */
    ap_rprintf(a->r, "<form method=\"post\" action=\"%s/rules\">\n", here);
    ml_admin_csrf_field(a);
    ap_rputs("<label for=\"rule\">Add a rule <span class=\"hint\">(conditions, "
             "then the URL: <code>--language fr https://example.com/fr</code>; "
             "--device, --language, --query, --ip, --country, --before, "
             "--after, --browser)</span></label>\n<div><input id=\"rule\" "
             "name=\"rule\" required></div>\n<p><button name=\"op\" "
             "value=\"add\">Add the rule</button></p>\n</form>\n</section>\n",
             a->r);
}

static int show_link(ml_admin *a, ml_store *store, const ml_link *link,
                     int status, const char *error, apr_table_t *values)
{
    const char *short_url = ml_admin_short_url(a, link->slug);
    const char *slug = ml_admin_html(a, link->slug);
    const char *here = apr_pstrcat(a->r->pool, a->root, "links/", slug, NULL);
    int i;

    ml_admin_start(a, status, apr_pstrcat(a->r->pool, "Link ", link->slug,
                                          NULL));
    ml_admin_notice(a, "error", error);
    ml_admin_notice(a, "done", done_text(ml_admin_query_text(a, "done")));
    ap_rprintf(a->r, "<section aria-label=\"summary\"><p><span class=\"state\" "
               "id=\"state\">%s</span> %s</p>\n<p>Goes to <a id=\"target\" "
               "rel=\"noreferrer\" href=\"%s\">%s</a></p>\n",
               state_of(a, link), ml_admin_html(a, link->title),
               ml_admin_html(a, link->url), ml_admin_html(a, link->url));
    ap_rprintf(a->r, "<p>%" APR_UINT64_T_FMT " clicks; created %s; changed "
               "%s; last clicked %s</p>\n", ml_admin_clicks_of(a, link),
               ml_admin_time(a, link->created_at),
               ml_admin_time(a, link->updated_at),
               link->last_click_at ? ml_admin_time(a, link->last_click_at)
                                   : "never");
    if (link->tags && link->tags->nelts) {
        ap_rputs("<p>Tags:", a->r);
        for (i = 0; i < link->tags->nelts; i++) {
            const char *tag = APR_ARRAY_IDX(link->tags, i, const char *);
            ap_rprintf(a->r, " <a href=\"%slinks?tag=%s\">%s</a>", a->root,
                       ml_admin_html(a, apr_pescape_urlencoded(a->r->pool, tag)),
                       ml_admin_html(a, tag));
        }
        ap_rputs("</p>\n", a->r);
    }
    if (short_url) {
        ap_rprintf(a->r, "<p>Short link: <a id=\"short-link\" href=\"%s\">%s"
                   "</a></p>\n<p><img class=\"qr\" id=\"qr\" alt=\"QR code of "
                   "the short link\" src=\"%s/qr.svg\"> <a href=\"%s/qr.svg?"
                   "size=1000\">The QR code, large</a></p>\n",
                   ml_admin_html(a, short_url), ml_admin_html(a, short_url),
                   here, here);
    }
    ap_rputs("</section>\n", a->r);
    ap_rprintf(a->r, "<section aria-labelledby=\"edit-h\"><h2 id=\"edit-h\">"
               "Edit</h2>\n<form method=\"post\" action=\"%s\" id=\"edit\">\n",
               here);
    ml_admin_csrf_field(a);
    ml_admin_link_fields(a, link, values, 0);
    ap_rprintf(a->r, "<p><button type=\"submit\">Save</button> <a class=\"button "
               "danger\" id=\"delete\" href=\"%s/delete\">Delete...</a></p>\n"
               "</form>\n</section>\n", here);
    rules_section(a, link, here);
    ml_admin_link_visits(a, store, link);
    return ml_admin_end(a);
}

/* ---- the writes ----------------------------------------------------------- */

/* Stores the changed link and refreshes the shared table: NULL, or what
 * went wrong (*status set). */
static const char *store_change(ml_admin *a, ml_store *store,
                                const ml_link *link, int *status)
{
    apr_status_t rv = ml_store_update(store, link);

    if (rv == APR_EINVAL) {
        *status = HTTP_BAD_REQUEST;
        return ml_store_error(store);
    }
    if (rv == APR_ENOENT) {
        *status = HTTP_NOT_FOUND;
        return "this link was deleted meanwhile";
    }
    if (rv != APR_SUCCESS) {
        *status = HTTP_SERVICE_UNAVAILABLE;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, a->r, MLLOGNO(00097) "admin "
                      "page cannot change '%s': %s", link->slug,
                      ml_store_error(store));
        return "the database cannot be written right now; try again";
    }
    ml_database_refresh(a->database, a->r->pool);
    return NULL;
}

/* op: "add" (the rule's text in rule), or "up N", "down N", "remove N". */
static const char *change_rules(ml_admin *a, apr_table_t *fields,
                                ml_link *link)
{
    const char *op = apr_table_get(fields, "op");
    ml_rule *rules = apr_pcalloc(a->r->pool, sizeof(*rules)
                                             * (apr_size_t)(link->nrules + 1));
    int n = op && strchr(op, ' ') ? atoi(strchr(op, ' ') + 1) : 0, which;
    const char *problem;

    memcpy(rules, link->rules, sizeof(*rules) * (apr_size_t)link->nrules);
    if (op && strcmp(op, "add") == 0) {
        const char *text = apr_table_get(fields, "rule");
        if (link->nrules >= ML_RULES_MAX) {
            return "a link has at most 32 rules";
        }
        if ((problem = ml_rule_parse(text ? text : "", &rules[link->nrules],
                                     a->r->pool))) {
            return problem;
        }
        link->nrules++;
    }
    else if (n < 1 || n > link->nrules) {
        return "that rule is no longer there; look again";
    }
    else if (strncmp(op, "remove ", 7) == 0) {
        memmove(&rules[n - 1], &rules[n], sizeof(*rules)
                                          * (apr_size_t)(link->nrules - n));
        link->nrules--;
    }
    else if ((strncmp(op, "up ", 3) == 0 && n > 1)
             || (strncmp(op, "down ", 5) == 0 && n < link->nrules)) {
        int other = op[0] == 'u' ? n - 2 : n;
        ml_rule moved = rules[n - 1];
        rules[n - 1] = rules[other];
        rules[other] = moved;
    }
    else {
        return "say add, up, down or remove";
    }
    link->rules = rules;
    if (link->nrules && (problem = ml_rules_problem(rules, link->nrules,
                                                    &which))) {
        return apr_psprintf(a->r->pool, "redirect rule %d: %s", which, problem);
    }
    return ml_admin_urls_problem(a, link);
}

/* Reads fields into a changed copy of link; NULL, or what is wrong. */
typedef const char *link_change_fn(ml_admin *a, apr_table_t *fields,
                                   ml_link *link);

/* A POST that changes the link: read, checked, changed, stored, then 303
 * to the page with done (a query string and fragment); else the page
 * again with why (and, if keep_typed, what was typed). */
static int save(ml_admin *a, ml_store *store, ml_link *link,
                link_change_fn *change, const char *done, int keep_typed)
{
    apr_table_t *fields;
    const char *problem;
    ml_link changed = *link;
    int status = HTTP_BAD_REQUEST;

    if ((problem = ml_admin_read_form(a, &fields, &status))) {
        return ml_admin_failure(a, status, problem);
    }
    if ((problem = change(a, fields, &changed)) == NULL
        && (problem = store_change(a, store, &changed, &status)) == NULL) {
        return ml_admin_see_other(a, apr_pstrcat(a->r->pool, "links/",
                                                 link->slug, done, NULL));
    }
    return show_link(a, store, link, status, problem,
                     keep_typed ? fields : NULL);
}

static int delete_link(ml_admin *a, ml_store *store, const ml_link *link)
{
    apr_table_t *fields;
    const char *problem;
    int status;

    if (a->r->method_number == M_GET) {
        ml_admin_start(a, HTTP_OK, apr_pstrcat(a->r->pool, "Delete ",
                                               link->slug, "?", NULL));
        ap_rprintf(a->r, "<section><p>The short link <b>%s</b> to %s, with its "
                   "%" APR_UINT64_T_FMT " clicks, its visits and its rules, "
                   "goes for good; visitors then get 404 Not Found.</p>\n"
                   "<form method=\"post\" action=\"%slinks/%s/delete\">\n",
                   ml_admin_html(a, link->slug), ml_admin_html(a, link->url),
                   ml_admin_clicks_of(a, link), a->root,
                   ml_admin_html(a, link->slug));
        ml_admin_csrf_field(a);
        ap_rprintf(a->r, "<button class=\"danger\" type=\"submit\" "
                   "id=\"confirm\">Delete it</button> <a href=\"%slinks/%s\">"
                   "Keep it</a>\n</form></section>\n", a->root,
                   ml_admin_html(a, link->slug));
        return ml_admin_end(a);
    }
    if ((problem = ml_admin_read_form(a, &fields, &status))) {
        return ml_admin_failure(a, status, problem);
    }
    if (ml_store_remove(store, link->slug) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, a->r, MLLOGNO(00098) "admin "
                      "page cannot delete '%s': %s", link->slug,
                      ml_store_error(store));
        return ml_admin_failure(a, HTTP_SERVICE_UNAVAILABLE, "the link could "
                                "not be deleted; try again");
    }
    ml_database_refresh(a->database, a->r->pool);
    return ml_admin_see_other(a, "links?done=deleted");
}

int ml_admin_link(ml_admin *a, const char *slug, const char *action)
{
    ml_store *store = ml_admin_store(a);
    ml_link link;
    apr_status_t rv;

    const char *short_url = ml_admin_short_url(a, slug);

    if (action && strcmp(action, "qr.svg") == 0
        && a->r->method_number != M_GET) {
        ap_allow_standard_methods(a->r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (action && strcmp(action, "rules") == 0
        && a->r->method_number != M_POST) {
        ap_allow_standard_methods(a->r, REPLACE_ALLOW, M_POST, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (store == NULL) {
        return ml_admin_failure(a, HTTP_SERVICE_UNAVAILABLE, "the database "
                                "cannot be read right now; try again");
    }
    rv = ml_store_get(store, slug, &link, NULL, a->r->pool);
    /* Another author's link is, for an author, not there. */
    if (rv == APR_ENOENT || (rv == APR_SUCCESS && !ml_admin_may_see(a, &link))) {
        return ml_admin_failure(a, HTTP_NOT_FOUND, apr_psprintf(a->r->pool,
                                "there is no link '%s'", slug));
    }
    if (rv != APR_SUCCESS) {
        return ml_admin_failure(a, HTTP_SERVICE_UNAVAILABLE, "the database "
                                "cannot be read right now; try again");
    }
    if (action && strcmp(action, "delete") == 0) {
        return delete_link(a, store, &link);
    }
    if (action && strcmp(action, "qr.svg") == 0) {
        return short_url ? ml_send_qr(a->r, short_url, 0) : HTTP_NOT_FOUND;
    }
    if (action) {
        return save(a, store, &link, change_rules, "?done=rules#rules", 0);
    }
    if (a->r->method_number == M_POST) {
        return save(a, store, &link, ml_admin_link_read, "?done=saved", 1);
    }
    return show_link(a, store, &link, HTTP_OK, NULL, NULL);
}
