/*
 * ml_link.h - what a short link is, and the rules that make one valid.
 *
 * One copy of each rule: the Apache module, the minilink CLI, the cache
 * loader and the tests all call these functions.  Depends on APR only.
 */
#ifndef ML_LINK_H
#define ML_LINK_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "ml_rules.h"

/* Slugs are 1..ML_SLUG_MAX bytes of [A-Za-z0-9_-], compared case-sensitively
 * (or without regard to case where MinilinkSlugCase says so). */
#define ML_SLUG_MAX 64
/* Stored URLs are absolute http/https URLs of at most ML_URL_MAX bytes. */
#define ML_URL_MAX 4096

/* A title is at most this many bytes of UTF-8; a tag 1 to ML_TAG_MAX
 * bytes, a link at most ML_TAGS_MAX of them; a visit limit at most
 * ML_MAX_VISITS_MAX. */
#define ML_TITLE_MAX 512
#define ML_TAG_MAX 64
#define ML_TAGS_MAX 32
#define ML_MAX_VISITS_MAX 2147483647

/* The per-link choices that fall back to the location's setting. */
typedef enum {
    ML_CHOICE_DEFAULT = 0,   /* the location's (NULL in the database) */
    ML_CHOICE_ON = 1,
    ML_CHOICE_OFF = 2
} ml_choice;

/*
 * A link as stored in the database.  Strings are NUL-terminated.  Every
 * field zeroed is a plain link: the fields after last_click_at are the
 * rules of schema version 2 (README: "Rules"), each "not set" when 0 or
 * NULL.
 */
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
    const char *title;       /* NULL: none */
    const apr_array_header_t *tags;  /* const char *, sorted; NULL: none */
    apr_int64_t valid_since; /* Unix seconds; before it, as if absent; 0 = always */
    apr_int64_t max_visits;  /* redirects it gives; 0 = no limit */
    const char *fallback_url;   /* instead of 404/410 when not yet valid,
                                 * expired or exhausted; NULL: none */
    const char *password_hash;  /* bcrypt (apr_bcrypt_encode); NULL: none */
    ml_choice forward_query; /* the request's query string added to the URL */
    ml_choice forward_path;  /* <location>/<slug>/more: "/more" added */
    int crawlable;           /* 1: robots.txt allows it */
    const ml_rule *rules;    /* redirect rules, first match wins */
    int nrules;
    const char *owner;       /* schema 3: the API key's name or the Apache
                              * user that made it; NULL: an admin (the CLI) */
} ml_link;

/* True if the link has any of the rules of schema version 2. */
int ml_link_has_rules(const ml_link *link);

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

/* NULL if a title may be stored: at most ML_TITLE_MAX bytes of UTF-8
 * without control characters.  Else why not. */
const char *ml_title_problem(const char *title);
/* NULL if a tag may be stored: 1 to ML_TAG_MAX letters, digits and
 * - _ . : (no space: the CSV column and the CLI's output separate tags
 * with one).  Else why not. */
const char *ml_tag_problem(const char *tag);
/* NULL if hash looks like what apr_bcrypt_encode() makes:
 * $2y$NN$ and 53 characters of bcrypt's base64. */
const char *ml_password_hash_problem(const char *hash);

/* bcrypt's cost for the passwords links are given: 2^10 rounds, about a
 * twentieth of a second of one core to check one. */
#define ML_BCRYPT_COST 10
/* bcrypt reads no more of a password than this. */
#define ML_PASSWORD_MAX 72

/* The bcrypt hash of password (apr_bcrypt_encode, a random salt), into
 * *hash from pool; NULL, or what is wrong (an empty or too long one). */
const char *ml_password_hash(const char *password, const char **hash,
                             apr_pool_t *pool);

/* True if s[0..len) is printable ASCII without spaces (safe in a header). */
int ml_header_safe(const char *s, apr_size_t len);

/*
 * The stored URL with a request's path and query string added: path (a
 * URL path, "/more", encoded) at the end of the URL's path, before its own
 * query (one '/' where both have one), and the query after the URL's own
 * with '&' (or '?' if it has none), both before its #fragment.  path and
 * query may be NULL or empty; with neither, the URL is copied unchanged.
 */
char *ml_url_forwarded(apr_pool_t *pool, const char *url, apr_size_t url_len,
                       const char *path, const char *query);

/*
 * Writes a random slug of `len` characters from the slug alphabet into
 * out[0..len] (NUL-terminated).  Uses the system's random source.
 */
apr_status_t ml_slug_random(char *out, apr_size_t len);

#endif /* ML_LINK_H */
