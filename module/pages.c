/*
 * module/pages.c - the HTML a person sees: the shortening form, its
 * result, a link's preview, a password form.
 *
 * Every value that came from a visitor or the database goes through
 * ap_escape_html2() (quotes included, as values sit in attributes).  The
 * pages need no script, so the Content-Security-Policy allows none.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_time.h"

#include "ml_module.h"

static const char style[] =
    "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;"
    "margin:0;display:flex;justify-content:center}"
    "main{background:#fff;margin:3rem 1rem;padding:2rem 2.5rem;max-width:36rem;"
    "width:100%;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.08)}"
    "h1{font-size:1.4rem;margin-top:0}"
    "label{display:block;font-weight:600;margin:1rem 0 .3rem}"
    "input{box-sizing:border-box;width:100%;padding:.55rem .7rem;font-size:1rem;"
    "border:1px solid #c5cad3;border-radius:6px}"
    "button{margin-top:1.2rem;padding:.6rem 1.4rem;font-size:1rem;border:0;"
    "border-radius:6px;background:#2b59c3;color:#fff;cursor:pointer}"
    ".result{background:#eaf6ec;border:1px solid #9fd3a8;padding:.8rem 1rem;"
    "border-radius:6px;word-break:break-all}"
    ".error{background:#fdecec;border:1px solid #f0a6a6;padding:.8rem 1rem;"
    "border-radius:6px}"
    "dt{font-weight:600;margin-top:.8rem}dd{margin:0;word-break:break-all}"
    ".hint{color:#5b6475;font-size:.9rem;font-weight:400}"
    "select,textarea{box-sizing:border-box;width:100%;padding:.55rem .7rem;"
    "font-size:1rem;border:1px solid #c5cad3;border-radius:6px}"
    "textarea{font-family:monospace;min-height:5rem}"
    "summary{margin-top:1rem;cursor:pointer;font-weight:600}"
    ".check input{width:auto;margin-right:.5rem}"
    ".qr{display:block;width:10rem;height:10rem;margin-top:1rem}";

const char *ml_html_escape(apr_pool_t *pool, const char *text)
{
    /* Not toasc: it writes each byte of a UTF-8 character as an entity of
     * its own ("&#195;&#169;" for an é), which a page in UTF-8 would show
     * as two wrong characters. */
    return ap_escape_html2(pool, text ? text : "", 0);
}

static const char *escape(request_rec *r, const char *text)
{
    return ml_html_escape(r->pool, text);
}

void ml_page_headers(request_rec *r, int status)
{
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; "
                   "img-src 'self'; form-action 'self'; "
                   "frame-ancestors 'none'");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    /* Pages carry a CSRF token or per-link data: never from a cache. */
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
}

static void page_start(request_rec *r, int status, const char *title)
{
    ml_page_headers(r, status);
    ap_rprintf(r, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
               "<title>%s</title><style>%s</style></head><body><main>\n"
               "<h1>%s</h1>\n", escape(r, title), style, escape(r, title));
}

static int page_end(request_rec *r)
{
    ap_rputs("</main></body></html>\n", r);
    return OK;
}

/* A field typed earlier, to show again ("" when none). */
static const char *typed(const ml_form_page *page, const char *name)
{
    const char *value = page->values ? apr_table_get(page->values, name) : NULL;

    return value ? value : "";
}

/* A one-line input with its label; extra: more attributes. */
static void input_field(request_rec *r, const ml_form_page *page,
                        const char *name, const char *type, const char *label,
                        const char *hint, const char *extra)
{
    ap_rprintf(r, "<label for=\"%s\">%s <span class=\"hint\">%s</span></label>\n"
               "<input id=\"%s\" name=\"%s\" type=\"%s\" %s value=\"%s\">\n",
               name, label, hint, name, name, type, extra,
               escape(r, typed(page, name)));
}

/* The location's default, on or off, for a link's forwarding choice. */
static void choice_field(request_rec *r, const ml_form_page *page,
                         const char *name, const char *label)
{
    const char *value = typed(page, name);

    ap_rprintf(r, "<label for=\"%s\">%s</label>\n<select id=\"%s\" name=\"%s\">"
               "<option value=\"\">as the location says</option>"
               "<option value=\"on\"%s>yes</option>"
               "<option value=\"off\"%s>no</option></select>\n",
               name, label, name, name,
               strcmp(value, "on") == 0 ? " selected" : "",
               strcmp(value, "off") == 0 ? " selected" : "");
}

int ml_page_form(request_rec *r, int status, const ml_form_page *page)
{
    page_start(r, status, "Shorten a link");
    if (page->short_url) {
        ap_rprintf(r, "<p class=\"result\" id=\"result\">Your short link: "
                   "<a id=\"short-link\" href=\"%s\">%s</a><br>"
                   "<span class=\"hint\">to %s</span></p>\n",
                   escape(r, page->short_url), escape(r, page->short_url),
                   escape(r, page->target_url));
        if (page->qr_url) {
            ap_rprintf(r, "<img class=\"qr\" id=\"qr\" alt=\"QR code of the "
                       "short link\" src=\"%s\">\n", escape(r, page->qr_url));
        }
    }
    if (page->error) {
        ap_rprintf(r, "<p class=\"error\" id=\"error\">%s</p>\n",
                   escape(r, page->error));
    }
    ap_rprintf(r,
        "<form method=\"post\" action=\"%s\">\n"
        "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n"
        "<label for=\"url\">Long URL</label>\n"
        "<input id=\"url\" name=\"url\" type=\"url\" required "
        "placeholder=\"https://example.com/a/long/address\" value=\"%s\">\n"
        "<label for=\"slug\">Custom slug <span class=\"hint\">(optional: "
        "letters, digits, - and _)</span></label>\n"
        "<input id=\"slug\" name=\"slug\" maxlength=\"%d\" "
        "pattern=\"[A-Za-z0-9_\\-]+\" value=\"%s\">\n"
        "<details id=\"more\"%s><summary>More: title, tags, limits, password, "
        "rules</summary>\n",
        escape(r, page->action), escape(r, page->csrf_token),
        escape(r, typed(page, "url")), ML_SLUG_MAX,
        escape(r, typed(page, "slug")), page->values ? " open" : "");
    input_field(r, page, "title", "text", "Title", "", "maxlength=\"512\"");
    input_field(r, page, "tags", "text", "Tags", "(separated by spaces)", "");
    input_field(r, page, "validSince", "text", "Valid since",
                "(UTC: 2030-12-31T08:00:00Z or 2030-12-31)", "");
    input_field(r, page, "maxVisits", "number", "Visits at most", "",
                "min=\"1\" max=\"2147483647\"");
    input_field(r, page, "fallbackUrl", "url", "Fallback URL",
                "(when not yet valid, expired or out of visits)", "");
    ap_rputs("<label for=\"password\">Password <span class=\"hint\">(visitors "
             "must give it)</span></label>\n<input id=\"password\" "
             "name=\"password\" type=\"password\" autocomplete=\"new-password\" "
             "maxlength=\"72\">\n", r);
    choice_field(r, page, "forwardQuery", "Add the visitor's query string");
    choice_field(r, page, "forwardPath", "Add the path after the slug");
    ap_rprintf(r, "<label class=\"check\"><input type=\"checkbox\" "
               "name=\"crawlable\" value=\"on\"%s>Crawlers may follow it "
               "(robots.txt)</label>\n",
               strcmp(typed(page, "crawlable"), "on") == 0 ? " checked" : "");
    ap_rprintf(r, "<label for=\"redirectRules\">Redirect rules <span "
               "class=\"hint\">(one a line: conditions, then the URL; the "
               "first that matches wins)</span></label>\n<textarea "
               "id=\"redirectRules\" name=\"redirectRules\" placeholder=\""
               "--device ios https://example.com/ios&#10;--language fr "
               "https://example.com/fr\">%s</textarea>\n",
               escape(r, typed(page, "redirectRules")));
    ap_rputs("</details>\n<button type=\"submit\">Shorten</button>\n</form>\n",
             r);
    return page_end(r);
}

int ml_page_password(request_rec *r, int status, const char *action,
                     const char *csrf_token, const char *error)
{
    page_start(r, status, "This link needs a password");
    if (error) {
        ap_rprintf(r, "<p class=\"error\" id=\"error\">%s</p>\n",
                   escape(r, error));
    }
    ap_rprintf(r,
        "<form method=\"post\" action=\"%s\">\n"
        "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n"
        "<label for=\"password\">Password</label>\n"
        "<input id=\"password\" name=\"password\" type=\"password\" required "
        "autocomplete=\"current-password\" autofocus>\n"
        "<button type=\"submit\">Go</button>\n</form>\n",
        escape(r, action), escape(r, csrf_token));
    return page_end(r);
}

static const char *format_time(request_rec *r, apr_int64_t seconds)
{
    char text[APR_RFC822_DATE_LEN];

    apr_rfc822_date(text, apr_time_from_sec(seconds));
    return apr_pstrdup(r->pool, text);
}

int ml_page_preview(request_rec *r, const ml_link *link, const char *short_url,
                    const char *qr_url)
{
    int i;

    /* The visitor came to see where the link goes, not to tell its target
     * where they came from. */
    apr_table_setn(r->headers_out, "Referrer-Policy", "no-referrer");
    page_start(r, HTTP_OK, "Where this link goes");
    ap_rprintf(r, "<dl>\n<dt>Short link</dt><dd id=\"short-link\">%s</dd>\n",
               escape(r, short_url));
    if (link->title) {
        ap_rprintf(r, "<dt>Title</dt><dd id=\"title\">%s</dd>\n",
                   escape(r, link->title));
    }
    ap_rprintf(r, "<dt>Goes to</dt><dd id=\"target\">%s</dd>\n",
               escape(r, link->url));
    if (link->nrules) {
        ap_rprintf(r, "<dt>Or, by its redirect rules</dt><dd id=\"rules\">");
        for (i = 0; i < link->nrules; i++) {
            ap_rprintf(r, "%s%s", i ? "<br>" : "",
                       escape(r, ml_rule_format(&link->rules[i], r->pool)));
        }
        ap_rputs("</dd>\n", r);
    }
    if (link->tags && link->tags->nelts) {
        ap_rputs("<dt>Tags</dt><dd id=\"tags\">", r);
        for (i = 0; i < link->tags->nelts; i++) {
            ap_rprintf(r, "%s%s", i ? " " : "",
                       escape(r, APR_ARRAY_IDX(link->tags, i, const char *)));
        }
        ap_rputs("</dd>\n", r);
    }
    ap_rprintf(r, "<dt>Created</dt><dd id=\"created\">%s</dd>\n",
               format_time(r, link->created_at));
    if (link->expires_at) {
        ap_rprintf(r, "<dt>Expires</dt><dd id=\"expires\">%s</dd>\n",
                   format_time(r, link->expires_at));
    }
    ap_rprintf(r, "</dl>\n<p><a id=\"follow\" rel=\"noreferrer\" href=\"%s\">"
               "Follow the link</a></p>\n<img class=\"qr\" id=\"qr\" alt=\"QR "
               "code of the short link\" src=\"%s\">\n", escape(r, link->url),
               escape(r, qr_url));
    return page_end(r);
}
