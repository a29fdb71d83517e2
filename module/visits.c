/*
 * module/visits.c - what a request leaves in its database's visits ring
 * (cache/ml_visits.h): a visit for each click, an orphan visit for each
 * 404 under a "SetHandler minilink" location.
 *
 * A click's visit is written as its click is counted, on the redirect
 * path, so it costs no lock and no system call: the request's own fields
 * (its path, Referer, User-Agent, the GeoIP variable, the address when
 * asked for) are copied into a slot, and the refresher writes them to the
 * database later (database.c).  Orphan visits are noted after the answer,
 * in log_transaction, where the status is final (a 404 sent through an
 * ErrorDocument included).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include <unistd.h>

#include "ml_module.h"

/* This process's id, so that writing a visit needs no getpid() (a system
 * call); set in child_init. */
static apr_uint32_t writer_id;

void ml_visits_child_init(void)
{
    writer_id = (apr_uint32_t)getpid();
}

static int records(ml_visits_mode mode, ml_visit_kind kind)
{
    return mode == ML_VISITS_UNSET || mode == ML_VISITS_ON
           || (mode == ML_VISITS_ORPHANS && kind != ML_VISIT_LINK);
}

/* The client's address as the ring takes it (it anonymises it). */
static void visitor_address(request_rec *r, ml_visit *visit)
{
    const apr_sockaddr_t *address = r->useragent_addr;

    if (address == NULL) {
        return;
    }
    if (address->family == APR_INET) {
        visit->ip_family = 4;
        visit->ip = (const unsigned char *)&address->sa.sin.sin_addr;
    }
#if APR_HAVE_IPV6
    else if (address->family == APR_INET6) {
        visit->ip_family = 6;
        visit->ip = (const unsigned char *)&address->sa.sin6.sin6_addr;
    }
#endif
}

static void record(request_rec *r, const ml_dir_config *conf,
                   ml_visit_kind kind, apr_int64_t link_id,
                   const char *redirect_url)
{
    ml_visit visit;

    visit.kind = kind;
    visit.link_id = link_id;
    visit.visited_at = apr_time_sec(r->request_time);
    visit.path = r->uri;
    visit.referrer = apr_table_get(r->headers_in, "Referer");
    visit.user_agent = apr_table_get(r->headers_in, "User-Agent");
    visit.redirect_url = redirect_url;
    visit.country = apr_table_get(r->subprocess_env, conf->country_variable
                                  ? conf->country_variable
                                  : ML_DEFAULT_COUNTRY_VARIABLE);
    visit.ip_family = 0;
    visit.ip = NULL;
    if (conf->visits_ip == 1) {
        visitor_address(r, &visit);
    }
    ml_visits_record(conf->database->visits, writer_id, &visit);
}

void ml_visits_note_click(request_rec *r, const ml_dir_config *conf,
                          apr_int64_t link_id, const char *redirect_url)
{
    if (conf->database->visits && link_id && records(conf->visits,
                                                     ML_VISIT_LINK)) {
        record(r, conf, ML_VISIT_LINK, link_id, redirect_url);
    }
}

/* True if uri is the location's own path, with or without its slash. */
static int is_base(const request_rec *r)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const char *location = core->d;
    apr_size_t len;

    if (location == NULL || core->r || *location != '/') {
        return strcmp(r->uri, "/") == 0;
    }
    len = strlen(location);
    while (len > 0 && location[len - 1] == '/') {
        len--;
    }
    return strncmp(r->uri, location, len) == 0
           && (r->uri[len] == '\0' || strcmp(r->uri + len, "/") == 0);
}

void ml_visits_note_orphan(request_rec *r)
{
    const ml_dir_config *conf;
    ml_visit_kind kind;

    if (r->method_number != M_GET || r->header_only
        || (r->status != HTTP_NOT_FOUND && r->status != HTTP_GONE)) {
        return;
    }
    conf = ap_get_module_config(r->per_dir_config, &minilink_module);
    if (conf->database == NULL || conf->database->visits == NULL) {
        return;
    }
    /* answer_slug() notes a slug it looked up ("/l" is looked up as "l",
     * but is the location itself). */
    kind = is_base(r) ? ML_VISIT_BASE_URL
         : apr_table_get(r->notes, "minilink-slug") ? ML_VISIT_INVALID_SHORT_URL
         : ML_VISIT_REGULAR_404;
    if (records(conf->visits, kind)) {
        record(r, conf, kind, 0, NULL);
    }
}
