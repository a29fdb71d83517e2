/*
 * mod_minilink.h - what the module declares as a whole: its handler names
 * and its configuration, as httpd keeps it.  (What the module's own files
 * share is module/ml_module.h.)
 *
 * mod_minilink.c and module/ wire the link rules (links/), the
 * shared-memory tables (cache/) and what moves between them (sync/) into
 * httpd; nothing else includes httpd's headers.
 */
#ifndef MOD_MINILINK_H
#define MOD_MINILINK_H

#include "httpd.h"
#include "apr_hash.h"
#include "cache/ml_cache.h"
#include "cache/ml_clicks.h"
#include "cache/ml_visits.h"
#include "links/ml_store.h"
#include "links/ml_policy.h"

/* The handler names given to SetHandler. */
#define ML_HANDLER "minilink"
#define ML_ADMIN_HANDLER "minilink-admin"
#define ML_API_HANDLER "minilink-api"
#define ML_YOURLS_HANDLER "minilink-yourls"

/* A process's own connection to a database (module/database.c). */
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
    ml_connection *connection;   /* this process's, opened on first use */
    ml_connection *writer;       /* the visits drain's, the same */
    void *lender;                /* apr_reslist_t of this process's
                                  * connections for requests (database.c) */
    ml_clicks *clicks;           /* outlives the generation (lifecycle.c) */
    ml_visits *visits;           /* the visits ring, the same; NULL: none */
} ml_database;

/* Settings that apply to the whole server (main server context only). */
typedef struct {
    apr_interval_time_t refresh_interval;  /* MinilinkRefreshInterval; 0 = off */
    apr_interval_time_t flush_interval;    /* MinilinkFlushInterval */
    unsigned int cache_headroom;           /* MinilinkCacheHeadroom, percent */
    apr_uint32_t click_cells;              /* MinilinkClickCells; 0 = sized
                                            * from the first load */
    apr_uint32_t visits_slots;             /* MinilinkVisitsRing; 0 = sized
                                            * from the first load */
    int no_visits_ring;                    /* MinilinkVisitsRing 0 */
    apr_int64_t visits_keep;               /* MinilinkVisitsKeep, seconds;
                                            * 0 = forever */
} ml_server_settings;

#define ML_DEFAULT_REFRESH_INTERVAL apr_time_from_sec(1)
#define ML_DEFAULT_FLUSH_INTERVAL apr_time_from_sec(10)
#define ML_DEFAULT_VISITS_KEEP (90 * APR_INT64_C(86400))
/* MinilinkVisits: which requests leave a visit. */
typedef enum {
    ML_VISITS_UNSET = 0,
    ML_VISITS_ON,                /* clicks and orphan 404s */
    ML_VISITS_OFF,
    ML_VISITS_ORPHANS            /* orphan 404s only */
} ml_visits_mode;

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
    int forward_path;            /* MinilinkForwardPath: 1 on, -1 off */
    int any_case;                /* MinilinkSlugCase: 1 insensitive, -1 not */
    const char *country_variable;   /* MinilinkCountryVariable */
    ml_visits_mode visits;       /* MinilinkVisits */
    int visits_ip;               /* MinilinkVisitsIP: 1 anonymized, -1 off */
    const char *short_base;      /* MinilinkShortBase: "https://host/l/" */
    apr_array_header_t *admin_users;   /* MinilinkAdminUsers: const char * */
    apr_array_header_t *cors_origins;  /* MinilinkApiCorsOrigins: const char *;
                                        * NULL: any origin */
} ml_dir_config;

/* module/early.c: what a server's requests are checked against before a
 * redirect is answered from translate_name. */
typedef struct ml_early_plan ml_early_plan;

/* Per-server configuration, filled in post_config (no directive sets it). */
typedef struct {
    ml_early_plan *early;
} ml_server_config;

#define ML_DEFAULT_CREATE_SCHEMES (ML_SCHEME_HTTP | ML_SCHEME_HTTPS)
#define ML_DEFAULT_CREATE_MAX_URL 2048
#define ML_DEFAULT_RATE_LIMIT 20
#define ML_DEFAULT_RATE_PERIOD 60

#define ML_DEFAULT_REDIRECT_STATUS HTTP_MOVED_TEMPORARILY
#define ML_DEFAULT_QUERY_MODE ML_QUERY_APPEND
/* What mod_maxminddb's usual configuration sets (MaxMindDBEnv
 * MM_COUNTRY_CODE COUNTRY_DB/country/iso_code). */
#define ML_DEFAULT_COUNTRY_VARIABLE "MM_COUNTRY_CODE"

#endif /* MOD_MINILINK_H */
