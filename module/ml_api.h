/*
 * module/ml_api.h - what the files of SetHandler minilink-api share
 * (Shlink's REST API v3): api.c answers a request (who asks, CORS, where
 * it goes, problems), api_short_urls.c the short URLs and their redirect
 * rules, api_stats.c tags, domains and visits.  Private to them.
 */
#ifndef ML_API_H
#define ML_API_H

#include "httpd.h"
#include <jansson.h>
#include "ml_module.h"

/* The Shlink version /health reports: the one whose API (v3, with
 * redirect rules and visitsSummary) these files speak, so its web client
 * shows the controls that work. */
#define ML_API_SHLINK_VERSION "4.3.0"

/* A request to the API, once its caller is known. */
typedef struct {
    request_rec *r;
    const ml_dir_config *conf;
    ml_store *store;             /* opened for this request (read-write) */
    ml_role role;
    const char *owner;           /* the key's name or the Apache user */
    apr_time_t now;
} ml_api_call;

/* What is known of a caller. */
typedef enum {
    ML_API_KNOWN,                /* call->role and owner are set */
    ML_API_NOBODY,               /* no key, no user Apache authenticated */
    ML_API_BAD_KEY,              /* a key unknown or expired (ML00081) */
    ML_API_FAILED                /* the database cannot be used (logged) */
} ml_api_who;

/* Sets up call for r and opens the location's database (schema 3 or
 * later); ML_API_KNOWN (so far), or ML_API_FAILED, logged (ML00082,
 * ML00083, ML00084). */
ml_api_who ml_api_open(ml_api_call *call, request_rec *r);
/* Who calls: the API key given (X-Api-Key, YOURLS' signature) if any,
 * else the user Apache authenticated (an admin if MinilinkAdminUsers
 * names them, else an author). */
ml_api_who ml_api_identify(ml_api_call *call, const char *key);

/* Shlink's problem types: https://shlink.io/api/error/<type>. */
#define ML_PROBLEM_INVALID_DATA "invalid-data"
#define ML_PROBLEM_NOT_FOUND "not-found"
#define ML_PROBLEM_SHORT_URL_NOT_FOUND "short-url-not-found"
#define ML_PROBLEM_NON_UNIQUE_SLUG "non-unique-slug"
#define ML_PROBLEM_TAG_NOT_FOUND "tag-not-found"
#define ML_PROBLEM_FORBIDDEN "forbidden-operation"
#define ML_PROBLEM_UNAVAILABLE "service-unavailable"

/* Answers with an application/problem+json body: {"type", "title",
 * "detail", "status"} and extra's members (taken; may be NULL).  OK. */
int ml_api_problem(ml_api_call *call, int status, const char *type,
                   const char *title, const char *detail, json_t *extra);
/* 400 invalid-data naming the fields at fault (invalidElements). */
int ml_api_invalid(ml_api_call *call, const char *field, const char *detail);
/* 503 when the database failed (logged with ML00080). */
int ml_api_store_failed(ml_api_call *call);
/* Answers value (taken) as JSON with the status. */
int ml_api_json(ml_api_call *call, int status, json_t *value);

/* A query parameter, decoded ('+' a space), the last of its name (as PHP
 * reads a query string); NULL if absent.  Also "name[]". */
const char *ml_api_arg(const ml_api_call *call, const char *name);
/* Every value of name[] (or name) in order. */
apr_array_header_t *ml_api_args(const ml_api_call *call, const char *name);
/* The request body as JSON (an object, freed with the request); NULL
 * after answering 400 or 413 (*status then holds what to return). */
json_t *ml_api_body(ml_api_call *call, int *status);
/* A time as Shlink writes it: 2030-01-02T03:04:05+00:00. */
const char *ml_api_time(ml_api_call *call, apr_int64_t seconds);

/* Whether the caller may change anything, or see or change this link. */
int ml_api_may_write(const ml_api_call *call);
int ml_api_may_see(const ml_api_call *call, const ml_link *link);

/* api_short_urls.c: /short-urls and /short-urls/{code}[/redirect-rules];
 * rest is what follows /short-urls ("", "/abc", "/abc/redirect-rules"). */
int ml_api_short_urls(ml_api_call *call, const char *rest);
/* The link of a short code the caller may see; NULL after answering
 * (404 short-url-not-found, 503) with *status what to return. */
const ml_link *ml_api_find_link(ml_api_call *call, const char *code,
                                int *status);

/* Stores a new link (url, rules) owned by the caller under slug (NULL: a
 * random one of length characters), after the creation policy, and makes
 * it live; *made is the link as stored.  Else why not in *detail. */
typedef enum {
    ML_API_STORED,
    ML_API_URL_REFUSED,          /* the policy or the link's checks */
    ML_API_SLUG_REFUSED,         /* taken, reserved, or it hides a page */
    ML_API_STORE_FAILED          /* ml_api_store_failed() says why */
} ml_api_stored;
ml_api_stored ml_api_store_link(ml_api_call *call, ml_link *link,
                                const char *slug, apr_int64_t length,
                                ml_link *made, const char **detail);

/* After a write: the shared table has the change before the answer
 * leaves, so it works at once here. */
void ml_api_make_live(ml_api_call *call);

/* api_stats.c: /tags..., /domains, /visits..., /short-urls/{code}/visits. */
int ml_api_tags(ml_api_call *call, const char *rest);
int ml_api_domains(ml_api_call *call);
int ml_api_visits(ml_api_call *call, const char *rest);
int ml_api_link_visits(ml_api_call *call, const char *code);

#endif /* ML_API_H */
