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

/*
 * One per distinct database file in the configuration, however many
 * locations or virtual hosts name it: they share its cache.  Lives in pconf,
 * so each configuration generation has its own.
 */
typedef struct {
    const char *path;            /* as resolved against ServerRoot */
    ml_cache *cache;             /* NULL while unloaded or when loading failed */
    const char *load_error;      /* why cache is NULL after post_config */
} ml_database;

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

#endif /* MOD_MINILINK_H */
