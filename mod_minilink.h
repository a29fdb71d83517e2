/*
 * mod_minilink.h - the module's configuration as httpd sees it.
 *
 * mod_minilink.c wires the link rules (links/) and the shared-memory cache
 * (cache/) into httpd; nothing else includes httpd's headers.
 */
#ifndef MOD_MINILINK_H
#define MOD_MINILINK_H

#include "httpd.h"
#include "cache/ml_cache.h"

/* The handler name given to SetHandler. */
#define ML_HANDLER "minilink"

/* A child's own connection to a database (module/database.c). */
typedef struct ml_connection ml_connection;

/*
 * One per distinct database file in the configuration, however many
 * locations or virtual hosts name it: they share its cache.  Lives in pconf,
 * so each configuration generation has its own; each child has its own copy
 * of the struct (but the cache it points to is shared).
 */
typedef struct {
    const char *path;            /* as resolved against ServerRoot */
    ml_cache *cache;             /* NULL while unloaded or when loading failed */
    const char *load_error;      /* why cache is NULL after post_config */
    ml_connection *connection;   /* this child's, opened on first use */
} ml_database;

/* Settings that apply to the whole server (main server context only). */
typedef struct {
    apr_interval_time_t refresh_interval;  /* MinilinkRefreshInterval; 0 = off */
    unsigned int cache_headroom;           /* MinilinkCacheHeadroom, percent */
} ml_server_settings;

#define ML_DEFAULT_REFRESH_INTERVAL apr_time_from_sec(1)

typedef enum {
    ML_QUERY_UNSET = 0,
    ML_QUERY_APPEND,
    ML_QUERY_DROP
} ml_query_mode;

/* Per-directory (and, through lookup_defaults, per-server) settings. */
typedef struct {
    ml_database *database;       /* MinilinkDatabase; NULL = inherit */
    int redirect_status;         /* MinilinkRedirectStatus; 0 = inherit */
    ml_query_mode query_mode;    /* MinilinkQueryString */
} ml_dir_config;

#define ML_DEFAULT_REDIRECT_STATUS HTTP_MOVED_TEMPORARILY
#define ML_DEFAULT_QUERY_MODE ML_QUERY_APPEND

/* module/database.c: what children do with the database files. */
void ml_database_pre_config(apr_pool_t *pconf);
int ml_database_post_config(apr_pool_t *pconf, server_rec *s,
                            apr_hash_t *databases,
                            const ml_server_settings *settings);
void ml_database_child_init(apr_pool_t *pchild, server_rec *s);
/* A lookup in the file itself, for a table that overflowed.  1 if found. */
int ml_database_lookup(ml_database *database, const char *slug,
                       ml_cache_entry *entry, request_rec *r);
/* Logs (ML00003) a row that is not served. */
void ml_log_skipped_row(void *database, const char *slug, apr_int64_t id,
                        const char *problem);

#endif /* MOD_MINILINK_H */
