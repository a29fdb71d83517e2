/*
 * module/ml_module.h - what the module's own files share; private to the
 * module (mod_minilink.h is what the module as a whole declares).
 *
 * The files, and what each holds:
 *   lifecycle.c  what a configuration generation owns and what outlives
 *                generations: created in post_config, attached in
 *                child_init, let go at a restart or a stop
 *   refresher.c  the refresher process: refreshes tables, flushes clicks
 *   database.c   what a process does with one database: refresh its table,
 *                flush its clicks, look a slug up or count a click in the
 *                database itself
 *   early.c      when a redirect may be answered from translate_name
 *   rules.c      what a link's own rules make of a request: valid since,
 *                expiry and fallback, visit limits, redirect rules
 *   password.c   links behind a password: the form and its answer
 *   create.c     the form and JSON creation, previews
 *   pages.c      the HTML pages
 *   qrcode.c     a link's QR code, SVG or PNG
 *   robots.c     robots.txt: which links crawlers may follow
 *   ratelimit.c  links created, and passwords guessed, per client address
 *   status.c     mod_status's section and SetHandler minilink-admin
 *   admin_visits.c  visits as JSON under minilink-admin
 *   api.c, api_short_urls.c, api_stats.c  SetHandler minilink-api:
 *                Shlink's REST API v3 (module/ml_api.h)
 *   yourls.c     SetHandler minilink-yourls: YOURLS' API, for ShareX
 *   visits.c     what a request leaves in the visits ring
 */
#ifndef ML_MODULE_H
#define ML_MODULE_H

#include "httpd.h"
#include "http_config.h"
#include "ap_slotmem.h"
#include "apr_global_mutex.h"
#include "apr_hash.h"

#include "../mod_minilink.h"
#include "../util/ml_siphash.h"
#include "../links/ml_form_token.h"
#include "../links/ml_agent.h"
#include <jansson.h>

extern module AP_MODULE_DECLARE_DATA minilink_module;

/*
 * Our error-log tag, as httpd's APLOGNO() makes its AH numbers:
 * MLLOGNO(00007) "cannot refresh ..." logs "ML00007: cannot refresh ...".
 * Each number is used once, and the README's table lists each
 * (tests/unit/test_tags.c checks both).
 */
#define MLLOGNO(n) "ML" #n ": "

/* ------------------------------------------------------------------ */
/* lifecycle.c                                                         */
/* ------------------------------------------------------------------ */

/* What one configuration generation owns: made in pre_config (the
 * directives fill it in), completed in post_config, gone with pconf at the
 * next restart or at stop. */
typedef struct {
    apr_pool_t *pconf;
    apr_hash_t *databases;          /* resolved location -> ml_database */
    ml_server_settings settings;    /* the server-wide directives */
    int creates_links;              /* some scope says MinilinkCreate On */
    int any_case;                   /* some scope says MinilinkSlugCase
                                     * insensitive: tables are made so */
    /* One writer at a time for each table ("minilink-cache"). */
    apr_global_mutex_t *cache_lock;
    /* The creation rate limit: windows per client address in slotmem,
     * updated under "minilink-ratelimit", found by a keyed hash.  NULL
     * when nothing creates links. */
    const ap_slotmem_provider_t *slotmem;
    ap_slotmem_instance_t *rate_windows;
    apr_global_mutex_t *rate_lock;
    unsigned char rate_key[ML_SIPHASH_KEY_BYTES];
    apr_proc_t *refresher;          /* this generation's (refresher.c) */
} ml_generation;

/* What a database keeps across generations. */
typedef struct {
    ml_clicks *clicks;              /* counted into by old and new children */
    ml_visits *visits;              /* written into by them too */
    int visits_tried;               /* made, or failed to (said once) */
    ml_cache *table;                /* the newest table that loaded */
    apr_pool_t *table_pool;         /* destroying it unmaps it (here only) */
} ml_retained_database;

/* What outlives generations, in the process pool, until httpd stops. */
typedef struct {
    apr_pool_t *pool;
    apr_hash_t *databases;          /* location -> ml_retained_database */
    /* Flushers take turns ("minilink-clicks"): the refreshers of the old
     * and new generation may both run for a moment at a graceful restart. */
    apr_global_mutex_t *flush_lock;
    /* The form's CSRF key: a form loaded before a graceful restart is
     * still good after it. */
    unsigned char form_key[ML_FORM_KEY_BYTES];
    int form_key_made;
} ml_retained;

/* The generation being configured or serving; what is retained.  Set by
 * pre_config and post_config; processes forked later inherit them. */
ml_generation *ml_generation_now(void);
const ml_retained *ml_retained_now(void);

/* The server's own configuration (early-answer plans). */
ml_server_config *ml_server_config_of(server_rec *s);

/* The one ml_database for a location, however spelled (a directive's). */
ml_database *ml_database_for(apr_pool_t *pool, const char *location);

void ml_lifecycle_pre_config(apr_pool_t *pconf);
int ml_lifecycle_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s);
/* In each child, and in the refresher: attaches the mutexes (the first
 * failure is returned, and logged), makes the process's connections, maps
 * the tables in. */
apr_status_t ml_lifecycle_child_init(apr_pool_t *pchild, server_rec *s);

/* ------------------------------------------------------------------ */
/* mod_minilink.c: the redirect                                        */
/* ------------------------------------------------------------------ */

/* What ml_redirect() sends. */
typedef struct {
    const char *slug;
    const char *more;            /* a path to add (decoded), or NULL */
    const char *url;             /* the URL chosen (NUL-terminated) */
    apr_size_t url_len;
    int status;                  /* 0: the location's */
    apr_uint32_t click_cell;
    ml_choice forward_query;     /* the link's; DEFAULT: the location's */
    apr_uint32_t max_visits;     /* 0: no limit */
} ml_redirect_plan;

/* Statuses of our own, never sent: a link out of visits (ml_redirect), and
 * "not answered early, take the ordinary path" (rules.c). */
#define ML_EXHAUSTED (-2)
#define ML_LATER (-3)

/* The plan for a link as its record has it (no choices, no limit). */
void ml_plan_from_entry(ml_redirect_plan *plan, const char *slug,
                        const char *more, const ml_cache_entry *entry);
/* Sets Location (the URL, the path, the query string), counts the click,
 * returns the status; 400 for an unsafe query string; ML_EXHAUSTED, with
 * nothing set, for a link with no visit left. */
int ml_redirect(request_rec *r, const ml_dir_config *conf,
                const ml_redirect_plan *plan);

/* ------------------------------------------------------------------ */
/* rules.c, password.c                                                 */
/* ------------------------------------------------------------------ */

/* The answer for a link whose record has an extension (any rule of its
 * own): as answer_slug() but with the rules; early: ML_LATER when only the
 * ordinary path may answer (a password, a country condition). */
int ml_answer_with_rules(request_rec *r, const ml_dir_config *conf,
                         const char *slug, const char *more,
                         const ml_cache_entry *entry, int early);
/* For ml_redirect(): whether the link may have one more visit; counts it
 * when counts (a GET in a scope that counts clicks), else only looks. */
int ml_visit_allowed(request_rec *r, const ml_dir_config *conf,
                     const ml_redirect_plan *plan, int counts);

/* A link behind a password: GET shows the form (OK), POST checks the
 * password: OK if it is right (then the caller redirects, with 303),
 * else the answer already sent (its status). */
#define ML_PASSWORD_RIGHT (-4)
int ml_password_gate(request_rec *r, const ml_dir_config *conf,
                     const char *slug, const char *hash);

/* ------------------------------------------------------------------ */
/* refresher.c                                                         */
/* ------------------------------------------------------------------ */

/* Forks this generation's refresher; the parent restarts it if it dies. */
void ml_refresher_start(ml_generation *generation);

/* ------------------------------------------------------------------ */
/* database.c                                                          */
/* ------------------------------------------------------------------ */

/* This process's connections, opened on first use (in child_init and in
 * the refresher). */
void ml_database_child_init(apr_pool_t *pchild);
/* A read-write connection for the request (the management APIs): one
 * this process keeps, given back when the request ends, else one opened
 * for it; its error says why when it fails. */
apr_status_t ml_database_request_store(ml_database *database, request_rec *r,
                                       ml_store **store);
/* Applies the database's changes to its table now, as the only writer. */
void ml_database_refresh(ml_database *database, apr_pool_t *scratch);
/* Writes the clicks counted for the database, under the flushers' lock. */
void ml_database_flush(ml_database *database, apr_pool_t *scratch);
/* The same for each, and their visits written (agents: see
 * ml_database_drain_visits()); leaving: a generation is ending
 * (lifecycle.c says why some are then skipped). */
void ml_database_flush_all(apr_hash_t *databases, ml_agents *agents,
                           apr_pool_t *scratch, int leaving);
/* Makes the click cells of links that left the table reusable, if no
 * flush is under way. */
void ml_database_reclaim(ml_database *database);
/* A lookup in the database itself, for a table that overflowed.  1 if
 * found. */
int ml_database_lookup(ml_database *database, const char *slug,
                       ml_cache_entry *entry, request_rec *r);
/* The clicks a link has in the database (for a visit limit without a
 * counter in shared memory); APR_INT64_MAX when they cannot be read. */
apr_int64_t ml_database_clicks(ml_database *database, const char *slug,
                               request_rec *r);
/* A click on a link with no counter in shared memory, straight to the
 * database; the link's id, or 0 if it could not be counted. */
apr_int64_t ml_database_add_click(ml_database *database, const char *slug,
                                  request_rec *r);
/* Writes the visits in the database's ring, under the flushers' lock:
 * the refresher every tick, the parent at the end of a generation, an
 * admin page before it reads them.  agents (ml_database_agents(); may be
 * NULL) decides which are bots; a classifier is for one thread.  Returns
 * how many were written. */
apr_uint64_t ml_database_drain_visits(ml_database *database,
                                      ml_agents *agents, apr_pool_t *scratch);
/* A user-agent classifier (uap-core's regexes) in pool, for one thread;
 * NULL if they cannot be read (logged once a process). */
ml_agents *ml_database_agents(apr_pool_t *pool);
/* Deletes visits older than MinilinkVisitsKeep, a small batch at a time. */
void ml_database_prune_visits(ml_database *database, apr_pool_t *scratch);
/* Logs (ML00003) a row that is not served; ctx is its ml_database. */
void ml_log_skipped_row(void *ctx, const char *slug, apr_int64_t id,
                        const char *problem);

/* ------------------------------------------------------------------ */
/* early.c, create.c, pages.c, ratelimit.c, status.c                   */
/* ------------------------------------------------------------------ */

/* Makes every server's plan (post_config). */
void ml_early_post_config(apr_pool_t *pconf, server_rec *main_server);
/* True if nothing between translate_name and the handler could change the
 * answer to this request (see early.c's top comment). */
int ml_early_allowed(request_rec *r);

/* <prefix>/ (the form, and POST) and <prefix>/<slug>+ (the preview); the
 * caller has checked that conf->database is set. */
int ml_handle_create(request_rec *r, const ml_dir_config *conf);
int ml_handle_preview(request_rec *r, const ml_dir_config *conf,
                      const char *slug);
/* <prefix>/<slug>.svg and .png (qrcode.c); <prefix>/robots.txt (robots.c). */
int ml_handle_qr(request_rec *r, const ml_dir_config *conf, const char *slug,
                 int png);
int ml_handle_robots(request_rec *r, const ml_dir_config *conf);
/* Sends the QR code of url, at ?size=N, as a PNG or an SVG (qrcode.c). */
int ml_send_qr(request_rec *r, const char *url, int png);

/* <prefix>/ of a request, percent-encoded as a URL path; the short URL of
 * a slug there (create.c). */
const char *ml_prefix_of(request_rec *r);
const char *ml_short_url_for(request_rec *r, const char *slug);
/* NULL if a link to url (NULL: not changed) with rules' fallback URL and
 * redirect rules, under slug (NULL: a random one) at prefix (a decoded
 * path ending in '/', where its short URL is), may be made by a visitor
 * or an API client: the creation policy (ml_policy.h), a new slug, no
 * page it would hide, no twin but for case where case is not told apart.
 * Else why not, with *status 400 or 409 (create.c). */
const char *ml_creation_problem(request_rec *r, const ml_dir_config *conf,
                                const char *prefix, const char *url,
                                const char *slug, const ml_link *rules,
                                int *status);
/* Shlink's redirect rules as JSON ([{"longUrl", "conditions": [{"type",
 * "matchKey", "matchValue"}]}]) into link->rules; NULL, or what is wrong. */
const char *ml_json_redirect_rules(json_t *list, ml_link *link,
                                   apr_pool_t *pool);
/* The form's CSRF token (sent as its cookie too), and NULL if a form post
 * with this token field may go on, else why not (create.c). */
const char *ml_form_token(request_rec *r);
/* The same token, its cookie sent for the URL paths under path (the admin
 * pages' location, whatever page of it is asked). */
const char *ml_form_token_under(request_rec *r, const char *path);
const char *ml_form_post_problem(request_rec *r, const char *field);
/* Reads a link's rules from the fields of a form (or JSON's scalars) by
 * their names - Shlink's: title, tags, validSince, maxVisits, fallbackUrl,
 * forwardQuery, forwardPath, crawlable, redirectRules - into link; a
 * field absent is left as it is, "" clears it.  NULL, or what is wrong,
 * naming the field. */
const char *ml_read_link_fields(ml_link *link, apr_table_t *fields,
                                apr_pool_t *pool);
/* Reads a form post's fields (at most ML_FORM_FIELDS, 16 KiB) into a
 * table; NULL, or why not with *status set. */
#define ML_FORM_FIELDS 16
const char *ml_read_form(request_rec *r, apr_table_t **fields, int *status);

/* What the shortening form shows; NULL fields are left out. */
typedef struct {
    const char *action;          /* where the form posts */
    const char *csrf_token;
    apr_table_t *values;         /* fields to show again after an error */
    const char *error;
    const char *short_url;       /* the result, after a success */
    const char *target_url;
    const char *qr_url;          /* its QR code (an SVG) */
} ml_form_page;

/* text escaped for HTML, quotes included, UTF-8 kept as it is ("" for
 * NULL) (pages.c). */
const char *ml_html_escape(apr_pool_t *pool, const char *text);
/* The status and the headers of every HTML page of ours: its type, a
 * Content-Security-Policy that allows no script, no caching. */
void ml_page_headers(request_rec *r, int status);
/* Each writes a whole page with the status and returns OK. */
int ml_page_form(request_rec *r, int status, const ml_form_page *page);
int ml_page_preview(request_rec *r, const ml_link *link, const char *short_url,
                    const char *qr_url);
/* The password form of a link: action the link's own URL; error NULL or
 * what went wrong. */
int ml_page_password(request_rec *r, int status, const char *action,
                     const char *csrf_token, const char *error);

/* NULL if mod_slotmem_shm is loaded (MinilinkCreate needs it), else what
 * to do about it. */
const char *ml_ratelimit_check_provider(void);
/* The rate limit's windows: fixed-size slots (what slotmem is for), found
 * by a keyed hash of the client's address. */
#define ML_RATE_WINDOWS 4096
/* The size of a client's window, a slot of generation->rate_windows. */
apr_size_t ml_ratelimit_window_bytes(void);
/* 1 if the client may create one more link now (and counts it); else 0
 * with *retry_after set to the seconds until it may. */
int ml_ratelimit_allow(request_rec *r, int limit, int period,
                       apr_int64_t *retry_after);
/* Wrong passwords: ML_GUESSES per client address and link in
 * ML_GUESS_PERIOD seconds.  ml_ratelimit_may_guess() is 1 if the client
 * may try the link's password now (counting nothing), else 0 with
 * *retry_after; ml_ratelimit_count_guess() counts a wrong one.  -1 when
 * there are no windows to count in (mod_slotmem_shm is not loaded). */
#define ML_GUESSES 5
#define ML_GUESS_PERIOD 900
int ml_ratelimit_may_guess(request_rec *r, const char *slug,
                           apr_int64_t *retry_after);
void ml_ratelimit_count_guess(request_rec *r, const char *slug);

/* One database's figures, as /server-status, the JSON, /metrics and the
 * admin overview show them (status.c). */
typedef struct {
    const char *path;
    int loaded;
    ml_cache_usage cache;
    ml_clicks_stats clicks;
    apr_uint64_t clicks_stored;       /* -1 when the file could not be read */
    apr_uint64_t clicks_pending;
    int has_visits;                   /* the database has a visits ring */
    ml_visits_stats visits;
} ml_database_figures;
void ml_database_figures_gather(const ml_database *database,
                                ml_database_figures *figures, apr_pool_t *pool);
/* The bytes of the cache in use; the clicks, stored and pending. */
apr_uint64_t ml_cache_bytes_used(const ml_cache_usage *usage);
apr_uint64_t ml_database_figures_clicks(const ml_database_figures *figures);
/* The clicks counted in memory, not yet flushed, for this very row. */
apr_uint64_t ml_database_pending_for(const ml_database *database,
                                     const ml_link *link);

void ml_status_register_hooks(void);
int ml_admin_handler(request_rec *r);
/* admin_pages.c: the HTML pages under minilink-admin, for a browser's GET
 * (Accept: text/html) and every POST; DECLINED for the JSON and metrics. */
int ml_admin_pages(request_rec *r, const ml_dir_config *conf);
/* SetHandler minilink-api: Shlink's REST API v3 (api.c); SetHandler
 * minilink-yourls: YOURLS' yourls-api.php (yourls.c). */
int ml_api_handler(request_rec *r);
int ml_yourls_handler(request_rec *r);
/* httpd's own error pages under the API's locations as problems too. */
void ml_api_register_hooks(void);
/* Sends value (taken) as the JSON answer. */
int ml_send_json(request_rec *r, json_t *value);
/* admin_visits.c: a link's visits (days: its daily roll-up), or with a
 * NULL slug the orphan visits. */
int ml_admin_visits(request_rec *r, ml_database *database, const char *slug,
                    int days);
/* A page of the visits which says (a link's, the orphans', every
 * link's, a tag's: its slug, links, tag and owner), newest first, as
 * Shlink's {"visits": {"data", "pagination"}} (?page, ?itemsPerPage,
 * ?startDate); OK, or 503 (logged) if the store failed.  agents may be
 * NULL (no browser, OS and device). */
int ml_send_visits(request_rec *r, ml_store *store,
                   const ml_store_visit_query *which, ml_agents *agents);

/* ------------------------------------------------------------------ */
/* visits.c                                                            */
/* ------------------------------------------------------------------ */

/* In each child: what its visits say wrote them (the ring's writer id). */
void ml_visits_child_init(void);
/* The visit of a click on link_id (0: the click did not count, and no
 * visit is recorded), redirected to redirect_url. */
void ml_visits_note_click(request_rec *r, const ml_dir_config *conf,
                          apr_int64_t link_id, const char *redirect_url);
/* The orphan visit of a request of ours answered 404 or 410, if it is one
 * (r: the request as it came, before any internal redirect). */
void ml_visits_note_orphan(request_rec *r);

#endif /* ML_MODULE_H */
