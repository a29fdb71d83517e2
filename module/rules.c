/*
 * module/rules.c - what a link's own rules make of a request.
 *
 * Only links whose record has an extension come here (answer_slug() sends
 * the rest straight to the redirect), so a plain link pays nothing for
 * any of it.  In order:
 *   - early, in translate_name: a password, or a redirect rule on the
 *     visitor's country, sends the request the ordinary way (ML_LATER): a
 *     password is asked after httpd's access control, and the country
 *     variable may be set by a module in a later phase (mod_maxminddb sets
 *     it in header_parser);
 *   - not yet valid: as if absent (404), or the fallback URL;
 *   - disabled: 410; expired: 410 or the fallback URL;
 *   - a forwarded path the link (or the location) does not forward: 404;
 *   - a password: its form, or its answer (password.c);
 *   - the redirect rules: the first that matches gives the URL;
 *   - out of visits: 410 or the fallback URL (ml_redirect() asks
 *     ml_visit_allowed() once the redirect is otherwise settled, so that a
 *     request refused for another reason takes no visit).
 * Every answer of a link whose rules read User-Agent or Accept-Language
 * carries Vary with them, on both paths alike.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "ml_module.h"

APLOG_USE_MODULE(minilink);

/* A link that is not there yet (404) or any more (410): its fallback URL
 * instead, with the location's status, when it has one. */
static int unavailable(request_rec *r, const ml_dir_config *conf,
                       const ml_cache_rules *rules, int status)
{
    if (rules->fallback_url == NULL) {
        return status;
    }
    /* In place, as a link's URL is: records are never changed. */
    apr_table_setn(r->headers_out, "Location", rules->fallback_url);
    return conf->redirect_status ? conf->redirect_status
                                 : ML_DEFAULT_REDIRECT_STATUS;
}

/* The URL of the first redirect rule the request matches, into plan;
 * reads: what the rules read (ml_rules_reads()), the only tables looked
 * up. */
static void choose_url(request_rec *r, const ml_dir_config *conf,
                       const unsigned char *compiled, unsigned int reads,
                       ml_redirect_plan *plan)
{
    ml_request_facts facts;
    apr_size_t url_len;
    const char *url;

    memset(&facts, 0, sizeof(facts));
    if (reads & ML_RULES_READ_USER_AGENT) {
        facts.user_agent = apr_table_get(r->headers_in, "User-Agent");
    }
    if (reads & ML_RULES_READ_LANGUAGE) {
        facts.accept_language = apr_table_get(r->headers_in, "Accept-Language");
    }
    if (reads & ML_RULES_READ_COUNTRY) {
        facts.country = apr_table_get(r->subprocess_env, conf->country_variable
                                      ? conf->country_variable
                                      : ML_DEFAULT_COUNTRY_VARIABLE);
    }
    facts.query = r->args;
    facts.client_ip = r->useragent_ip;
    facts.now = apr_time_sec(r->request_time);
    if ((url = ml_rules_choose(compiled, &facts, &url_len)) != NULL) {
        plan->url = url;
        plan->url_len = url_len;
    }
}

int ml_answer_with_rules(request_rec *r, const ml_dir_config *conf,
                         const char *slug, const char *more,
                         const ml_cache_entry *entry, int early)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    unsigned int reads = 0;
    ml_redirect_plan plan;
    ml_cache_rules rules;
    int status;

    ml_cache_rules_of(entry, &rules);
    if (rules.rules) {
        reads = ml_rules_reads(rules.rules);
    }
    if (early && (rules.password_hash || (reads & ML_RULES_READ_COUNTRY))) {
        /* The handler notes these again. */
        apr_table_unset(r->notes, "minilink-slug");
        apr_table_unset(r->subprocess_env, "MINILINK_SLUG");
        return ML_LATER;
    }
    ml_clicks_note_lookup(conf->database->clicks, ML_LOOKUP_HIT);
    /* err_headers_out: a redirect's answer keeps only those.  Added, not
     * merged: httpd's header filter merges every Vary into one. */
    switch (reads & (ML_RULES_READ_USER_AGENT | ML_RULES_READ_LANGUAGE)) {
    case ML_RULES_READ_USER_AGENT:
        apr_table_addn(r->err_headers_out, "Vary", "User-Agent");
        break;
    case ML_RULES_READ_LANGUAGE:
        apr_table_addn(r->err_headers_out, "Vary", "Accept-Language");
        break;
    case ML_RULES_READ_USER_AGENT | ML_RULES_READ_LANGUAGE:
        apr_table_addn(r->err_headers_out, "Vary", "User-Agent, Accept-Language");
        break;
    default:
        break;
    }
    /* An answer that depends on what Vary cannot name (the address, the
     * country, the day) must not be kept by a shared cache nor reused
     * without asking: a 301, heuristically cacheable, would otherwise
     * outlive the condition. */
    if (reads & (ML_RULES_READ_ADDRESS | ML_RULES_READ_COUNTRY
                 | ML_RULES_READ_TIME)) {
        apr_table_setn(r->err_headers_out, "Cache-Control", "private, no-cache");
    }
    if (r->method_number != M_GET && rules.password_hash == NULL) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (rules.valid_since && now < rules.valid_since) {
        return unavailable(r, conf, &rules, HTTP_NOT_FOUND);
    }
    if (entry->disabled) {
        return HTTP_GONE;
    }
    if (entry->expires_at && now >= entry->expires_at) {
        return unavailable(r, conf, &rules, HTTP_GONE);
    }
    if (more && !(rules.forward_path == ML_CHOICE_ON
                  || (rules.forward_path == ML_CHOICE_DEFAULT
                      && conf->forward_path == 1))) {
        return HTTP_NOT_FOUND;
    }
    ml_plan_from_entry(&plan, slug, more, entry);
    plan.forward_query = rules.forward_query;
    plan.max_visits = rules.max_visits;
    if (rules.password_hash) {
        status = ml_password_gate(r, conf, slug, rules.password_hash);
        if (status != ML_PASSWORD_RIGHT) {
            return status;
        }
        /* The answer to a POST: the browser GETs the target. */
        plan.status = HTTP_SEE_OTHER;
    }
    if (rules.rules) {
        choose_url(r, conf, rules.rules, reads, &plan);
    }
    status = ml_redirect(r, conf, &plan);
    return status == ML_EXHAUSTED ? unavailable(r, conf, &rules, HTTP_GONE)
                                  : status;
}

int ml_visit_allowed(request_rec *r, const ml_dir_config *conf,
                     const ml_redirect_plan *plan, int counts)
{
    ml_clicks *clicks = conf->database->clicks;

    /* No cell (the click table was full): the count stored is all there
     * is, and clicks go to the database one by one anyway. */
    if (plan->click_cell == ML_CACHE_NO_CELL) {
        return ml_database_clicks(conf->database, plan->slug, r)
               < (apr_int64_t)plan->max_visits;
    }
    return counts ? ml_clicks_take_visit(clicks, plan->click_cell,
                                         plan->max_visits)
                  : ml_clicks_visits(clicks, plan->click_cell)
                    < plan->max_visits;
}
