/*
 * ml_link.h - what a short link is, and the rules that make one valid.
 *
 * One copy of each rule: the Apache module, the minilink CLI, the cache
 * loader and the tests all call these functions.  Depends on APR only.
 */
#ifndef ML_LINK_H
#define ML_LINK_H

#include <apr_pools.h>

/* Slugs are 1..ML_SLUG_MAX bytes of [A-Za-z0-9_-], compared case-sensitively. */
#define ML_SLUG_MAX 64
/* Stored URLs are absolute http/https URLs of at most ML_URL_MAX bytes. */
#define ML_URL_MAX 4096

/* A link as stored in the database.  Strings are NUL-terminated. */
typedef struct ml_link {
    apr_int64_t id;          /* the row's id in its database; 0 before it is stored */
    const char *slug;
    const char *url;
    int status;              /* 301/302/303/307/308, or 0 for the location's default */
    apr_int64_t expires_at;  /* Unix seconds; 0 = never expires */
    int disabled;            /* 1 = answered with 410 Gone */
    apr_int64_t created_at;  /* Unix seconds */
    apr_int64_t updated_at;  /* Unix seconds */
    apr_int64_t clicks;      /* redirects counted and flushed to the database */
    apr_int64_t last_click_at;  /* Unix seconds; 0 = never clicked */
} ml_link;

/* True if slug[0..len) is a well-formed slug. */
int ml_slug_valid(const char *slug, apr_size_t len);

/*
 * NULL if slug may name a new link, otherwise a sentence saying why not.
 * Stricter than ml_slug_valid(), which every stored row meets: a new slug
 * may not start with '-', which the minilink command would read as an
 * option.  (Rows that already do are still served, listed and removable:
 * "minilink rm -- -h".)
 */
const char *ml_slug_new_problem(const char *slug);

/* True for the redirect statuses a link or a location may use. */
int ml_status_valid(int status);

/*
 * NULL if url[0..len) may be stored and sent as a Location, otherwise a
 * sentence saying what is wrong that a person can act on.
 */
const char *ml_url_problem(const char *url, apr_size_t len);

/*
 * The host of a valid URL, lower-cased, without a trailing dot; an IPv6
 * literal keeps its brackets.  NULL if the URL is not valid.
 */
const char *ml_url_host(apr_pool_t *pool, const char *url);

/* NULL if every field of the link is valid, otherwise the first problem. */
const char *ml_link_problem(const ml_link *link);

/* True if s[0..len) is printable ASCII without spaces (safe in a header). */
int ml_header_safe(const char *s, apr_size_t len);

/*
 * The stored URL with a request's query string added: after the URL's own
 * query with '&' (or '?' if it has none), and before its #fragment.
 * query may be NULL or empty, in which case the URL is copied unchanged.
 */
char *ml_url_with_query(apr_pool_t *pool, const char *url, apr_size_t url_len,
                        const char *query);

/*
 * Writes a random slug of `len` characters from the slug alphabet into
 * out[0..len] (NUL-terminated).  Uses the system's random source.
 */
apr_status_t ml_slug_random(char *out, apr_size_t len);

#endif /* ML_LINK_H */
