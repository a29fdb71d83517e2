/*
 * mod_minilink.h - the module's configuration as httpd sees it.
 *
 * mod_minilink.c wires the link rules (links/) and the shared-memory cache
 * (cache/) into httpd; nothing else includes httpd's headers.
 */
#ifndef MOD_MINILINK_H
#define MOD_MINILINK_H

#include "httpd.h"
#include "apr_hash.h"
#include "cache/ml_cache.h"
#include "cache/ml_clicks.h"
#include "links/ml_store.h"
#include "links/ml_policy.h"

/* The handler name given to SetHandler. */
#define ML_HANDLER "minilink"

/* A child's own connection to a database (module/database.c). */
typedef struct ml_connection ml_connection;

/*
 * One per distinct database in the configuration (a SQLite file, or a
 * PostgreSQL database), however many locations or virtual hosts name it:
 * they share its cache.  Lives in pconf,
 * so each configuration generation has its own; each child has its own copy
 * of the struct (but the cache it points to is shared).
 */
typedef struct {
    const char *location;        /* for ml_store_open(); a path is resolved
                                  * against ServerRoot */
    const char *label;           /* the location for logs: no password */
    ml_cache *cache;             /* NULL while unloaded or when loading failed */
    const char *load_error;      /* why cache is NULL after post_config */
    ml_connection *connection;   /* this child's, opened on first use */
    ml_clicks *clicks;           /* outlives the generation (module/clicks.c) */
} ml_database;

/* Settings that apply to the whole server (main server context only). */
typedef struct {
    apr_interval_time_t refresh_interval;  /* MinilinkRefreshInterval; 0 = off */
    apr_interval_time_t flush_interval;    /* MinilinkFlushInterval */
    unsigned int cache_headroom;           /* MinilinkCacheHeadroom, percent */
    apr_uint32_t click_cells;              /* MinilinkClickCells; 0 = sized
                                            * from the first load */
} ml_server_settings;

#define ML_DEFAULT_REFRESH_INTERVAL apr_time_from_sec(1)
#define ML_DEFAULT_FLUSH_INTERVAL apr_time_from_sec(10)

typedef enum {
    ML_QUERY_UNSET = 0,
    ML_QUERY_APPEND,
    ML_QUERY_DROP
} ml_query_mode;

/*
 * Per-directory (and, through lookup_defaults, per-server) settings.
 * 0 or NULL means "inherit" for every field, so merging is uniform.
 */
typedef struct {
    ml_database *database;       /* MinilinkDatabase */
    int redirect_status;         /* MinilinkRedirectStatus */
    ml_query_mode query_mode;    /* MinilinkQueryString */
    int create;                  /* MinilinkCreate: 1 on, -1 off */
    int preview;                 /* MinilinkPreview: 1 on, -1 off */
    int clicks;                  /* MinilinkClicks: 1 on, -1 off */
    int create_schemes;          /* MinilinkCreateSchemes: ML_SCHEME_* bits */
    int create_max_url;          /* MinilinkCreateMaxURLLength */
    apr_array_header_t *blocked_hosts;  /* MinilinkCreateBlockHosts: ml_host */
    int rate_limit;              /* MinilinkCreateRateLimit count, -1 = none */
    int rate_period;             /*   ... per this many seconds */
    int early_answer;            /* MinilinkEarlyAnswer: 1 on, -1 off */
} ml_dir_config;

/* module/early.c: what a server's requests are checked against before a
 * redirect is answered from translate_name. */
typedef struct ml_early_plan ml_early_plan;

/* Per-server configuration, filled in post_config (no directive sets it). */
typedef struct {
    ml_early_plan *early;
} ml_server_config;

ml_server_config *ml_server_config_of(server_rec *s);

#define ML_DEFAULT_CREATE_SCHEMES (ML_SCHEME_HTTP | ML_SCHEME_HTTPS)
#define ML_DEFAULT_CREATE_MAX_URL 2048
#define ML_DEFAULT_RATE_LIMIT 20
#define ML_DEFAULT_RATE_PERIOD 60

#define ML_DEFAULT_REDIRECT_STATUS HTTP_MOVED_TEMPORARILY
#define ML_DEFAULT_QUERY_MODE ML_QUERY_APPEND

/* What the shortening form shows (module/pages.c); NULL fields are left out. */
typedef struct {
    const char *action;          /* where the form posts */
    const char *csrf_token;
    const char *url;             /* values to show again after an error */
    const char *slug;
    const char *error;
    const char *short_url;       /* the result, after a success */
    const char *target_url;
} ml_form_page;

/* module/pages.c: each writes a whole page with the status and returns OK. */
int ml_page_form(request_rec *r, int status, const ml_form_page *page);
int ml_page_preview(request_rec *r, const ml_link *link, const char *short_url);

/* module/create.c: the form's CSRF key, made once and kept across
 * generations (post_config); then the requests for <prefix>/ and
 * <prefix>/<slug>+ (the caller has checked that conf->database is set). */
int ml_create_post_config(server_rec *s);
int ml_handle_create(request_rec *r, const ml_dir_config *conf);
int ml_handle_preview(request_rec *r, const ml_dir_config *conf,
                      const char *slug);

/* module/ratelimit.c: links created per client address. */
const char *ml_ratelimit_check_provider(void);
void ml_ratelimit_pre_config(apr_pool_t *pconf);
int ml_ratelimit_post_config(apr_pool_t *pconf, server_rec *s);
void ml_ratelimit_child_init(apr_pool_t *pchild, server_rec *s);
/* 1 if the client may create one more link now (and counts it); else 0
 * with *retry_after set to the seconds until it may. */
int ml_ratelimit_allow(request_rec *r, int limit, int period,
                       apr_int64_t *retry_after);

/* module/clicks.c: click tables across generations, and flushing them. */
void ml_clicks_pre_config(apr_pool_t *pconf);
/*
 * What a database keeps across generations, in the process pool (*pool):
 * its click table, and the newest table of links that loaded, which a
 * generation whose load fails (the database down at a graceful restart)
 * serves instead of answering 503.
 */
typedef struct {
    ml_clicks *clicks;
    ml_cache *table;
    apr_pool_t *table_pool;      /* destroying it unmaps the table here only */
} ml_retained_database;
ml_retained_database *ml_retained_for(server_rec *s, const char *location,
                                      apr_pool_t **pool);
int ml_clicks_post_config(apr_pool_t *pconf, server_rec *s,
                          apr_hash_t *databases);
void ml_clicks_child_init(apr_pool_t *pchild, server_rec *s);
void ml_flush_database(ml_database *database, apr_pool_t *scratch);
/* leaving: a generation is ending, and another follows (see clicks.c). */
void ml_flush_all(apr_hash_t *databases, apr_pool_t *scratch, int leaving);
/* Makes the cells of links just removed reusable when they have no clicks
 * left to write (the refresher, after refreshing). */
void ml_reclaim_all(apr_hash_t *databases, apr_pool_t *scratch);

/* module/early.c: makes every server's plan (at each generation). */
void ml_early_post_config(apr_pool_t *pconf, server_rec *main_server);
/* True if nothing between translate_name and the handler could change the
 * answer to this request (see early.c's top comment). */
int ml_early_allowed(request_rec *r);

/* module/status.c: mod_status's section, and SetHandler minilink-admin. */
#define ML_ADMIN_HANDLER "minilink-admin"
void ml_status_register(apr_hash_t *databases);
void ml_status_register_hooks(void);
int ml_admin_handler(request_rec *r);

/* module/database.c: what children do with the database files. */
void ml_database_pre_config(apr_pool_t *pconf);
int ml_database_post_config(apr_pool_t *pconf, server_rec *s,
                            apr_hash_t *databases,
                            const ml_server_settings *settings);
void ml_database_child_init(apr_pool_t *pchild, server_rec *s);
/* Applies the file's changes to its table now (after a write of our own). */
void ml_database_refresh(ml_database *database, apr_pool_t *scratch);
/* A lookup in the file itself, for a table that overflowed.  1 if found. */
int ml_database_lookup(ml_database *database, const char *slug,
                       ml_cache_entry *entry, request_rec *r);
/* A click on a link with no counter in shared memory, straight to the file. */
void ml_database_add_click(ml_database *database, const char *slug,
                           request_rec *r);
/* Logs (ML00003) a row that is not served. */
void ml_log_skipped_row(void *database, const char *slug, apr_int64_t id,
                        const char *problem);

#endif /* MOD_MINILINK_H */
