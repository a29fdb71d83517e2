/*
 * ml_store.h - the database that holds the links: a SQLite file, or a
 * PostgreSQL database shared by several hosts (through apr_dbd).
 *
 * The schema is created by ml_store_init() and documented in the README.
 * Every statement takes its values as parameters; every write is one
 * transaction.  Depends on APR, APR-util's apr_dbd and SQLite only.
 */
#ifndef ML_STORE_H
#define ML_STORE_H

#include <apr_pools.h>
#include "ml_link.h"

typedef struct ml_store ml_store;

typedef enum {
    ML_STORE_READ,    /* read-only; the file must exist */
    ML_STORE_WRITE,   /* read-write; the file must exist */
    ML_STORE_CREATE   /* read-write; the file is created if missing */
} ml_store_mode;

/*
 * A database is named by one string, its location, the same for the CLI's
 * --db and the module's MinilinkDatabase:
 *   postgresql://...  or  postgres://...   PostgreSQL: a libpq URI
 *   pgsql:PARAMS                           PostgreSQL: libpq "key=value" parameters
 *   anything else                          the path of a SQLite file
 * PostgreSQL connections get connect_timeout=ML_STORE_CONNECT_TIMEOUT
 * unless the location sets one, so an unreachable server cannot hold a
 * request for minutes.
 */
#define ML_STORE_PGSQL_PREFIX "pgsql:"
#define ML_STORE_CONNECT_TIMEOUT 5

/* True if the location names a SQLite file (a path). */
int ml_store_location_is_file(const char *location);

/* The location as it may be shown in logs and on status pages: any
 * password replaced by "***". */
const char *ml_store_location_label(const char *location, apr_pool_t *pool);

/*
 * Opens the database at location.  On failure *store is still set so that
 * ml_store_error() can say why; it is closed with the pool.  A database
 * that is not a minilink database (a SQLite file with another
 * application_id, tables of another program, a schema version newer than
 * ML_STORE_SCHEMA_VERSION) is refused, except in ML_STORE_CREATE mode on
 * an empty one.  One of an older schema version is opened: it can be
 * read (its links have none of the newer fields), its clicks written and
 * it can be upgraded; writing links to it is refused, saying to run
 * "minilink upgrade".  A SQLite file is created in ML_STORE_CREATE mode; a
 * PostgreSQL database must exist.
 */
apr_status_t ml_store_open(ml_store **store, const char *location,
                           ml_store_mode mode, apr_pool_t *pool);

/*
 * ml_store_open() for a person's command: a SQLite path that is, or goes
 * through, a symbolic link is refused (SQLite's SQLITE_OPEN_NOFOLLOW), so
 * that root running the minilink command cannot be led by a link someone
 * else planted to create or write a file elsewhere ("init" on a dangling
 * link would create its target).  PostgreSQL is opened as ever.
 */
apr_status_t ml_store_open_no_symlinks(ml_store **store, const char *location,
                                       ml_store_mode mode, apr_pool_t *pool);

/*
 * Whether the open store still reaches the database its location names
 * now: for SQLite, the same file, still readable (a file replaced or made
 * unreadable fails); for PostgreSQL, a live connection.  An older schema
 * that has been upgraded since it was opened fails too, so that its new
 * fields are read.  A store that fails should be closed and opened again.
 */
apr_status_t ml_store_check(ml_store *store);

/* The last error, as a sentence naming the database; "" when none. */
const char *ml_store_error(const ml_store *store);

/* Creates the schema in an empty database; a no-op on one of ours. */
apr_status_t ml_store_init(ml_store *store);

/*
 * The schema version init creates.  A database marked with a newer one is
 * refused by ml_store_open() with a message saying so (exit status 5 in
 * the CLI), as the code cannot know what it would break.  Version 1 was
 * the first; version 2 added the rules of a link (ml_link.h) and its tags,
 * and never reuses a link's id; version 3 added who made a link (its
 * owner), an index for each order of ml_store_list(), and API keys.
 */
#define ML_STORE_SCHEMA_VERSION 3

/* The schema version of the open database (1 to ML_STORE_SCHEMA_VERSION). */
int ml_store_schema(const ml_store *store);

/*
 * Brings the database's schema to ML_STORE_SCHEMA_VERSION, in one write
 * transaction, keeping every link, click count, change and meta row:
 * each version's step from the one before, in order (the steps are listed
 * in each engine).  *from gets the version it had.  The version is read
 * again inside the transaction: a schema made newer since ml_store_open()
 * (by a newer minilink) is refused and left alone.
 */
apr_status_t ml_store_upgrade(ml_store *store, int *from);

/*
 * Stores a new link after validating it (and its slug as a new one:
 * ml_slug_new_problem).  A NULL link->slug gets a random
 * one (retried on collision) written back into link->slug from pool.
 * APR_EINVAL: invalid link; APR_EEXIST: slug taken; both set the error.
 */
apr_status_t ml_store_add(ml_store *store, ml_link *link, apr_pool_t *pool);

/*
 * Stores a link copied from another minilink database (an import of an
 * export): like ml_store_add() with a slug, which it needs, but the slug
 * is checked as a stored row's is (ml_slug_valid), so that one made before
 * new slugs had to start otherwise is copied too.  Sets link->id and the
 * times, as ml_store_add() does.
 */
apr_status_t ml_store_restore(ml_store *store, ml_link *link);

/*
 * Stores many links at once, as an import does: each validated as
 * ml_store_add() with a slug (a new slug) or, where restored[i] is set
 * (restored may be NULL), as ml_store_restore() would, and stored as fast
 * as the engine takes them: SQLite with a page cache large enough that a
 * million rows do not spill pages into the WAL mid-transaction, PostgreSQL
 * one statement per group instead of a round trip per link.  Inside a
 * write transaction, which the caller rolls back on failure.  APR_EINVAL
 * or APR_EEXIST: *failed is the index of the first link at fault (its
 * slug taken in the database or earlier in the group, or a rule broken),
 * and the error says why.
 */
apr_status_t ml_store_add_group(ml_store *store, const ml_link *links,
                                const int *restored, apr_size_t count,
                                apr_size_t *failed);

/*
 * What links copied from another shortener had there (an import from
 * Shlink, YOURLS or Kutt): when each was created (0: keep the time it was
 * stored here) and the visits counted for it, which become its clicks.
 */
typedef struct {
    const char *slug;
    apr_int64_t created_at;       /* Unix seconds; 0: now, as stored */
    apr_int64_t clicks;
} ml_store_history;

/*
 * Writes the history of count links that ml_store_add_group() stored in
 * the caller's write transaction.  created_at and clicks are not served,
 * so this logs no change: the links' own inserts already did, and a
 * server reloading them after the commit reads the clicks a visit limit
 * needs.  PostgreSQL gets one statement for them all.
 */
apr_status_t ml_store_set_history(ml_store *store,
                                  const ml_store_history *history,
                                  apr_size_t count);

/*
 * Replaces every field of the link with this slug by link's (validated
 * first), its tags and redirect rules included (written only when they
 * differ).  APR_ENOENT when there is no such slug, APR_EINVAL when invalid.
 */
apr_status_t ml_store_update(ml_store *store, const ml_link *link);

/*
 * The newest link to exactly this URL that is neither disabled nor expired
 * at `now` (Unix seconds), for answering a re-shortened URL with the link
 * it already has.  APR_ENOENT when there is none.
 */
apr_status_t ml_store_find_url(ml_store *store, const char *url,
                               apr_int64_t now, ml_link *link,
                               apr_pool_t *pool);

/*
 * A write transaction around several calls, so they all happen or none
 * does (the CLI's import).  Single calls are their own transaction.
 */
apr_status_t ml_store_write_begin(ml_store *store);
apr_status_t ml_store_write_commit(ml_store *store);
void ml_store_write_rollback(ml_store *store);

/* Deletes a link.  APR_ENOENT when there is no such slug. */
apr_status_t ml_store_remove(ml_store *store, const char *slug);

/*
 * Reads one link.  APR_ENOENT when there is no such slug.  If problem is
 * not NULL it gets why the row cannot be served, or NULL for a valid row.
 */
apr_status_t ml_store_get(ml_store *store, const char *slug, ml_link *link,
                          const char **problem, apr_pool_t *pool);

/*
 * Calls row() for every link, ordered by slug.  problem is NULL for a valid
 * row, otherwise why the row cannot be served (the link's fields are then
 * as read, possibly NULL).  The link's strings live until row() returns.
 * A non-zero return from row() stops the walk and is returned as the status.
 */
typedef apr_status_t ml_store_row_fn(void *ctx, const ml_link *link,
                                     const char *problem);
apr_status_t ml_store_each(ml_store *store, ml_store_row_fn *row, void *ctx);

/*
 * A page of links for people and their tools (the admin pages, Shlink's
 * GET /short-urls): filtered, ordered and cut into pages by the database,
 * so a page of 50 out of a million reads about 50 rows (an index for each
 * order: README, "The database").  Every filter given must hold.
 */
typedef enum {
    ML_LIST_BY_CREATED,          /* created_at (Shlink: dateCreated) */
    ML_LIST_BY_SLUG,             /* shortCode */
    ML_LIST_BY_URL,              /* longUrl */
    ML_LIST_BY_TITLE,            /* title; links without one first */
    ML_LIST_BY_CLICKS,           /* the clicks stored (visits) */
    ML_LIST_ORDERS
} ml_store_list_order;

typedef enum {
    ML_LIST_TAGS_ANY,            /* a link with at least one of the tags */
    ML_LIST_TAGS_ALL             /* a link with every one of them */
} ml_store_tags_mode;

typedef struct {
    const char *search;          /* in the slug, URL, title or a tag name,
                                  * without regard to ASCII case; NULL or
                                  * "": no filter */
    const char *const *tags;     /* ntags tag names; none: no filter */
    int ntags;
    ml_store_tags_mode tags_mode;
    ml_store_list_order order;   /* ties go by id, in the same direction */
    int descending;
    apr_int64_t created_from;    /* created_at >= it (Unix seconds); 0: any */
    apr_int64_t created_until;   /* created_at <= it; 0: any */
    int exclude_max_visits_reached;  /* leave out links whose stored clicks
                                      * reached their visit limit */
    int exclude_past_valid_until;    /* leave out links that expired */
    apr_int64_t now;             /* for the two above; 0: the current time */
    const char *owner;           /* only links this API key or user made
                                  * (schema 3's links.owner); NULL: anyone's,
                                  * admins' (owner NULL) included */
    apr_int64_t page;            /* from 1; below 1 is 1 */
    apr_int64_t items_per_page;  /* -1 (or below 1): all, in one page */
} ml_store_list_query;

/*
 * Calls row() for each link of the query's page, in its order, with its
 * tags and redirect rules (strings valid until row() returns; problem as
 * ml_store_each() gives it).  *total (if not NULL: counting costs a pass
 * over the matching index entries) gets how many links match, pages
 * aside.  APR_EINVAL for a query out of range (an order or tags mode that
 * does not exist, more than ML_TAGS_MAX tags).
 */
apr_status_t ml_store_list(ml_store *store, const ml_store_list_query *query,
                           ml_store_row_fn *row, void *ctx,
                           apr_uint64_t *total);

/* Shlink's pagination object, for a listing of `total` links: pages of
 * items_per_page (all at once: one page of total items). */
typedef struct {
    apr_int64_t current_page;
    apr_int64_t pages_count;
    apr_int64_t items_per_page;
    apr_int64_t items_in_current_page;
    apr_int64_t total_items;
} ml_store_pagination;
void ml_store_paginate(const ml_store_list_query *query, apr_uint64_t total,
                       ml_store_pagination *pagination);

/*
 * The cache loader's ml_store_each(): in storage order, not by slug, and
 * only the fields a redirect needs (created_at, updated_at and
 * last_click_at are 0; clicks is there, for visit limits).
 */
apr_status_t ml_store_each_served(ml_store *store, ml_store_row_fn *row,
                                  void *ctx);

/*
 * Calls limited() with the slug and stored clicks of every link that has a
 * visit limit (none before schema 2): what other hosts sharing the
 * database have counted reaches this one's limits this way (ml_refresh).
 */
typedef apr_status_t ml_store_limited_fn(void *ctx, const char *slug,
                                         apr_int64_t clicks);
apr_status_t ml_store_each_limited(ml_store *store, ml_store_limited_fn *limited,
                                   void *ctx);

/* Counts the rows and the bytes of their slugs and URLs, plus, for links
 * with rules of schema version 2, a generous estimate of what those take
 * in shared memory (so a table sized from it holds them). */
apr_status_t ml_store_summary(ml_store *store, apr_uint32_t *links,
                              apr_uint64_t *text_bytes);

/*
 * Changes.  Every insert, update or delete of a link - by this code or by
 * hand with sqlite3 or psql - appends the slug it touched to a change log,
 * numbered by an increasing sequence, committed in that order.  The log keeps the last ML_STORE_CHANGES_KEPT
 * entries; a reader that fell further behind must compare everything.
 */
#define ML_STORE_CHANGES_KEPT 100000

/* The number of the newest change ever committed; 0 if none. */
apr_status_t ml_store_change_seq(ml_store *store, apr_uint64_t *seq);

/*
 * Calls changed() for each slug changed after change number `after`, oldest
 * first (a slug may come more than once).  *complete is set to 0 when the
 * log no longer reaches back to `after` (pruned, or the file was replaced),
 * in which case changed() is not called.
 */
typedef apr_status_t ml_store_change_fn(void *ctx, const char *slug);
apr_status_t ml_store_changes_since(ml_store *store, apr_uint64_t after,
                                    ml_store_change_fn *changed, void *ctx,
                                    int *complete);

/*
 * Clicks.  The module counts them in shared memory and adds them here in
 * batches (ml_clicks.h); increments, never overwrites, so several servers
 * may count into one file.
 */
typedef struct {
    apr_int64_t link_id;
    apr_uint64_t clicks;          /* added to the stored count */
    apr_int64_t last_click_at;    /* kept if later than the stored one */
} ml_store_clicks;

/* Adds `count` links' clicks; a flush hands many at once so that a
 * database across the network is not asked once per link. */
apr_status_t ml_store_add_clicks(ml_store *store, const ml_store_clicks *adds,
                                 apr_size_t count);

/* The `count` most clicked links, most first (ties by slug). */
apr_status_t ml_store_top(ml_store *store, int count, ml_store_row_fn *row,
                          void *ctx);

/* The sum of every link's stored clicks. */
apr_status_t ml_store_click_total(ml_store *store, apr_uint64_t *clicks);

/* minilink_meta: small named integers (0 when absent). */
apr_status_t ml_store_meta_get(ml_store *store, const char *key,
                               apr_int64_t *value);
apr_status_t ml_store_meta_set(ml_store *store, const char *key,
                               apr_int64_t value);

/*
 * Visits (schema version 2): one per click, and one per orphan 404 - a
 * slug not stored, the location's base URL, any other 404 under it - as
 * the module's ring hands them over (cache/ml_visits.h), plus a daily
 * roll-up per link (clicks, bots) that outlives the visits' retention.
 * Deleting a link deletes its visits and its roll-up.
 */
typedef struct {
    apr_int64_t link_id;          /* 0: an orphan visit */
    apr_int64_t visited_at;       /* Unix seconds */
    const char *orphan_type;      /* NULL for a visit to a link, else
                                   * invalid_short_url, base_url, regular_404 */
    const char *referrer;         /* host and path; NULL: none */
    const char *user_agent;       /* NULL: none */
    int bot;                      /* classified when it was written */
    const char *redirect_url;     /* NULL for an orphan visit */
    const char *visited_path;
    const char *country;          /* ISO 3166 alpha-2; NULL: unknown */
    const char *ip;               /* anonymised; NULL: not kept */
} ml_store_visit;

/* One day of a link's roll-up; day is the Unix time of its 00:00 UTC. */
typedef struct {
    apr_int64_t link_id;
    apr_int64_t day;
    apr_int64_t clicks;
    apr_int64_t bots;
} ml_store_visit_day;

/* The Unix time of 00:00 UTC of the day `seconds` falls in. */
apr_int64_t ml_store_day_of(apr_int64_t seconds);

/*
 * Adds visits and adds them to their links' roll-up, inside the caller's
 * write transaction (a drain: one transaction, whatever its size; the
 * caller hands a few hundred at a time so PostgreSQL gets one statement
 * each).  A visit to a link that no longer exists is left out.
 */
apr_status_t ml_store_add_visits(ml_store *store, const ml_store_visit *visits,
                                 apr_size_t count, apr_pool_t *scratch);

/* Deletes up to `limit` of the oldest visits made before `before` (Unix
 * seconds), in a transaction of its own; *deleted gets how many. */
apr_status_t ml_store_prune_visits(ml_store *store, apr_int64_t before,
                                   int limit, apr_uint64_t *deleted);

/* Which visits to read. */
typedef struct {
    const char *slug;             /* a link's visits; NULL: orphan visits */
    apr_int64_t since;            /* made at or after (Unix seconds; 0: all) */
    int newest_first;             /* else oldest first */
    apr_int64_t limit;            /* at most this many (0: all), */
    apr_int64_t offset;           /*   after skipping this many */
    /* Schema 3, with slug NULL: the visits of every link (links) or of
     * the links with this tag (tag) instead of the orphans; owner: only
     * links this one made (with either). */
    int links;
    const char *tag;
    const char *owner;
} ml_store_visit_query;

/* Calls fn for each visit (strings valid until it returns); a non-zero
 * return stops the walk and is returned. */
typedef apr_status_t ml_store_visit_fn(void *ctx, const ml_store_visit *visit);
apr_status_t ml_store_each_visit(ml_store *store,
                                 const ml_store_visit_query *query,
                                 ml_store_visit_fn *fn, void *ctx);
/* How many visits the query means, limit and offset aside. */
apr_status_t ml_store_count_visits(ml_store *store,
                                   const ml_store_visit_query *query,
                                   apr_uint64_t *count);

/* A link's roll-up from the day of `since` on, oldest first; with a NULL
 * slug every link's, summed by day (link_id 0). */
typedef apr_status_t ml_store_visit_day_fn(void *ctx,
                                           const ml_store_visit_day *day);
apr_status_t ml_store_each_visit_day(ml_store *store, const char *slug,
                                     apr_int64_t since,
                                     ml_store_visit_day_fn *fn, void *ctx);

/*
 * API keys (schema version 3): what a client of the management API sends
 * (X-Api-Key, or YOURLS' signature), kept only as a hash (ml_apikey.h
 * makes keys and hashes them), under a name that also names the links the
 * key makes (ml_link.owner), with a role and an optional expiry.
 */
typedef enum {
    ML_ROLE_ADMIN,               /* everything */
    ML_ROLE_AUTHOR,              /* creates links; sees and changes its own */
    ML_ROLE_READ_ONLY,           /* reads everything, changes nothing */
    ML_ROLES
} ml_role;

/* "admin", "author", "read-only"; and back (-1 for none of them). */
const char *ml_role_name(ml_role role);
int ml_role_of(const char *name);

/* A key's name: 1 to 64 of A-Z a-z 0-9 _ . @ -.  NULL if valid, else why
 * not. */
const char *ml_api_key_name_problem(const char *name);

typedef struct {
    const char *name;
    ml_role role;
    apr_int64_t expires_at;      /* Unix seconds; 0: never */
    apr_int64_t created_at;
} ml_store_api_key;

/* Stores a key's hash (64 hex digits) under key->name (created_at is set
 * by the database).  APR_EEXIST: the name is taken; APR_EINVAL: a bad
 * name, role or hash. */
apr_status_t ml_store_api_key_add(ml_store *store, const ml_store_api_key *key,
                                  const char *key_hash);
/* The key whose hash this is, expired or not (the caller decides);
 * strings from pool.  APR_ENOENT when none. */
apr_status_t ml_store_api_key_find(ml_store *store, const char *key_hash,
                                   ml_store_api_key *key, apr_pool_t *pool);
/* Calls fn for each key, by name (strings valid until it returns). */
typedef apr_status_t ml_store_api_key_fn(void *ctx, const ml_store_api_key *key);
apr_status_t ml_store_api_key_each(ml_store *store, ml_store_api_key_fn *fn,
                                   void *ctx);
/* APR_ENOENT when no key has the name. */
apr_status_t ml_store_api_key_remove(ml_store *store, const char *name);

/*
 * Tags with what they are on (the API's /tags/stats): the links that have
 * each, and those links' stored clicks and bots (the daily roll-up's).
 * owner: only links this one made, and only tags on any of them; NULL:
 * every tag.  By name.
 */
typedef struct {
    const char *name;
    apr_int64_t links;
    apr_int64_t clicks;
    apr_int64_t bots;
} ml_store_tag;
typedef apr_status_t ml_store_tag_fn(void *ctx, const ml_store_tag *tag);
apr_status_t ml_store_each_tag(ml_store *store, const char *owner,
                               ml_store_tag_fn *fn, void *ctx);

/* Every visit counted (the API's /visits): links' stored clicks and the
 * roll-up's bots; orphan visits and how many were bots. */
typedef struct {
    apr_int64_t clicks, bots;
    apr_int64_t orphans, orphan_bots;
} ml_store_visit_totals;
apr_status_t ml_store_visit_totals_of(ml_store *store,
                                      ml_store_visit_totals *totals);

/*
 * Tags and visits changed through the management API (schema 3):
 * renaming a tag (APR_ENOENT: no such tag; APR_EEXIST: the new name is
 * one already), deleting tags from every link (*deleted: how many
 * existed), deleting a link's visits or the orphan ones (slug NULL) with
 * their daily roll-up (a link's clicks stay: they count redirects).
 */
apr_status_t ml_store_rename_tag(ml_store *store, const char *from,
                                 const char *to);
apr_status_t ml_store_delete_tags(ml_store *store, const char *const *names,
                                  int count, int *deleted);
apr_status_t ml_store_delete_visits(ml_store *store, const char *slug,
                                    apr_uint64_t *deleted);

/*
 * A read snapshot: between begin and end, ml_store_summary() and
 * ml_store_each() see the same committed state.
 */
apr_status_t ml_store_read_begin(ml_store *store);
apr_status_t ml_store_read_end(ml_store *store);

#endif /* ML_STORE_H */
