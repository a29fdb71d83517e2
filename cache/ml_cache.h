/*
 * ml_cache.h - the slug table in shared memory that every Apache child reads.
 *
 * One writer at a time (the parent at startup and graceful restart; the
 * caller serialises writers), any number of lock-free readers in any
 * process.  The layout is drawn at the top of ml_cache.c.  Depends on APR
 * only.
 */
#ifndef ML_CACHE_H
#define ML_CACHE_H

#include <apr_pools.h>
#include "../links/ml_link.h"

typedef struct ml_cache ml_cache;

/* How big a table to make, and how it finds slugs: fixed for the life of
 * the segment. */
typedef struct {
    apr_uint32_t link_capacity;  /* links it can hold at once */
    apr_uint64_t arena_bytes;    /* room for link records, updates included */
    int any_case;                /* slugs are hashed lower-cased, so that
                                  * ml_cache_lookup_any_case() works */
} ml_cache_geometry;

/* What a lookup found: a view into shared memory, valid while the cache is. */
typedef struct {
    const char *url;             /* NUL-terminated */
    apr_size_t url_len;
    int status;                  /* 0 = the location's default */
    apr_int64_t expires_at;      /* Unix seconds, 0 = never */
    int disabled;
    apr_uint32_t click_cell;     /* its click counter (ml_clicks.h) */
    const void *extension;       /* the rules of schema 2 (ml_cache_rules_of);
                                  * NULL for a link without any */
} ml_cache_entry;

/* The rules of a link with an extension, read in place (0 or NULL for
 * those it does not have). */
typedef struct {
    apr_int64_t valid_since;     /* Unix seconds */
    apr_uint32_t max_visits;
    const char *fallback_url;    /* NUL-terminated */
    apr_size_t fallback_len;
    const char *password_hash;   /* bcrypt */
    ml_choice forward_query;
    ml_choice forward_path;
    int crawlable;
    const char *title;
    const char *tags;            /* each NUL-terminated, one after another */
    apr_size_t ntags;
    const unsigned char *rules;  /* compiled redirect rules (ml_rules.h) */
} ml_cache_rules;

/* An entry for a valid link that is in no table (read from the database:
 * a table that overflowed), its record made in pool; no click cell. */
void ml_cache_entry_of(const ml_link *link, apr_pool_t *pool,
                       ml_cache_entry *entry);

/* The rules kept in an entry's extension (entry->extension not NULL). */
void ml_cache_rules_of(const ml_cache_entry *entry, ml_cache_rules *rules);

/* A record's click cell when it has none (ml_clicks.h's ML_CLICKS_NO_CELL). */
#define ML_CACHE_NO_CELL 0xFFFFFFFFu

typedef struct {
    apr_uint32_t links;          /* links the table holds now */
    apr_uint32_t link_capacity;
    apr_uint64_t arena_used;     /* record bytes written, replaced ones included */
    apr_uint64_t arena_bytes;
    apr_size_t segment_bytes;    /* the whole shared-memory segment */
    apr_int64_t last_refresh_at; /* Unix seconds of the last good refresh */
    apr_uint64_t refresh_errors; /* refreshes that failed */
} ml_cache_usage;

/* Headroom added to what the database holds at load, in percent. */
#define ML_CACHE_HEADROOM_DEFAULT 25
/* The least room for new links, so an empty database can still grow. */
#define ML_CACHE_MIN_SPARE_LINKS 1024

/*
 * The geometry for `links` links whose slugs and URLs total `text_bytes`,
 * plus headroom_percent (and at least ML_CACHE_MIN_SPARE_LINKS links of
 * average size) for links added or changed before the next rebuild.
 */
ml_cache_geometry ml_cache_plan(apr_uint32_t links, apr_uint64_t text_bytes,
                                unsigned int headroom_percent);

/* Bytes of shared memory a table of this geometry takes. */
apr_size_t ml_cache_segment_size(const ml_cache_geometry *geometry);

/*
 * Creates an empty table in a new anonymous shared-memory segment, which
 * child processes forked later inherit.  Destroyed (in this process) with
 * the pool; processes that inherited it keep their mapping.
 */
apr_status_t ml_cache_create(ml_cache **cache, const ml_cache_geometry *geometry,
                             apr_pool_t *pool);

/*
 * Inserts or replaces the link with link->slug, counting its clicks in
 * click_cell (or ML_CACHE_NO_CELL); the link must be valid
 * (ml_link_problem() == NULL), else APR_EINVAL.  APR_ENOSPC when the table
 * has no room left; the table is then unchanged.  Writers only.
 */
apr_status_t ml_cache_put(ml_cache *cache, const ml_link *link,
                          apr_uint32_t click_cell);

/*
 * Loading a whole table: ml_cache_append() writes the link's record but no
 * slot, so readers do not see it yet (the same checks and results as
 * ml_cache_put(), for the arena); ml_cache_index() then gives every record
 * appended since the last index a slot (a slug appended twice: the later
 * record), APR_ENOSPC if a slug finds no room (the records from that one
 * on stay unseen).  Faster than a put each for many links: indexing knows
 * the slugs to come and fetches their slots' memory ahead.  Writers only;
 * index before any other write.
 */
apr_status_t ml_cache_append(ml_cache *cache, const ml_link *link,
                             apr_uint32_t click_cell);
apr_status_t ml_cache_index(ml_cache *cache);

/* The click cell of the slug's record; ML_CACHE_NO_CELL if absent. */
apr_uint32_t ml_cache_click_cell(const ml_cache *cache, const char *slug);

/* Removes the slug's link.  APR_ENOENT if absent.  Writers only. */
apr_status_t ml_cache_remove(ml_cache *cache, const char *slug, apr_size_t len);

/* Finds a slug.  Lock-free, safe against a concurrent writer.  1 if found. */
int ml_cache_lookup(const ml_cache *cache, const char *slug, apr_size_t len,
                    ml_cache_entry *entry);

/* Finds a slug without regard to case (A-Z as a-z): the link with exactly
 * this slug if there is one, else one whose slug differs only in case.
 * Only a table made with any_case can; any other is asked as
 * ml_cache_lookup(). */
int ml_cache_lookup_any_case(const ml_cache *cache, const char *slug,
                             apr_size_t len, ml_cache_entry *entry);

void ml_cache_usage_get(const ml_cache *cache, ml_cache_usage *usage);

/* Maps the table's pages into this process now (see ml_prefault.h), so the
 * first requests after a start or a graceful restart do not fault them in
 * one by one. */
void ml_cache_prefault(const ml_cache *cache);

/* True if the table holds exactly this link (same URL, status, expiry,
 * flag and rules), so a refresh can skip rewriting it. */
int ml_cache_holds(const ml_cache *cache, const ml_link *link);

/* Calls fn for every link in the table, its slug (not NUL-terminated)
 * and entry; stops at a non-zero return. */
typedef apr_status_t ml_cache_link_fn(void *ctx, const char *slug,
                                      apr_size_t len,
                                      const ml_cache_entry *entry);
apr_status_t ml_cache_each_link(const ml_cache *cache, ml_cache_link_fn *fn,
                                void *ctx);

/* The database change number the table reflects (see ml_store.h). */
apr_uint64_t ml_cache_changes_seen(const ml_cache *cache);
void ml_cache_set_changes_seen(ml_cache *cache, apr_uint64_t seq);

/* Set once a link did not fit: from then until the table is rebuilt, a
 * slug missing from it may still be in the database. */
int ml_cache_overflowed(const ml_cache *cache);
void ml_cache_set_overflowed(ml_cache *cache);

/* Whether refreshing from the database, writing new links to it, or
 * fitting changed links into this table (it is full) is failing: shared by
 * every process so that an episode is logged once.  Returns the previous
 * value. */
typedef enum {
    ML_CACHE_REFRESH, ML_CACHE_CREATE, ML_CACHE_FIT, ML_CACHE_ACTIVITIES
} ml_cache_activity;
int ml_cache_swap_failing(ml_cache *cache, ml_cache_activity activity,
                          int failing);
int ml_cache_failing(const ml_cache *cache, ml_cache_activity activity);

/* Records a refresh's outcome for the statistics. */
void ml_cache_note_refresh(ml_cache *cache, int succeeded, apr_int64_t now);

#endif /* ML_CACHE_H */
