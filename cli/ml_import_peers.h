/*
 * ml_import_peers.h - the links other shorteners export, read as ours.
 *
 *   shlink  the CSV its web client's "Export" button writes (createdAt,
 *           domain, shortCode, shortUrl, longUrl, title, tags, visits), or
 *           the JSON of its REST API's list (GET /rest/v3/short-urls), which
 *           has the validity dates, the visit limit and Shlink 3's long
 *           URLs by device (as redirect rules) too
 *   yourls  the yourls_url table as CSV (keyword, url, title, timestamp,
 *           ip, clicks), with or without phpMyAdmin's header line
 *   kutt    the JSON of its API's list (GET /api/v2/links), one page or
 *           several pages one after the other; Kutt has no export of its own
 *
 * Each link comes as an ml_link: slug, URL, title, tags, valid since,
 * expiry, visit limit and the flags the peer has, plus created_at and
 * clicks (the visits the peer counted).  The links are not validated here:
 * the store checks them as it checks every link.  Depends on libcsv (through
 * ml_csv.h), jansson and APR.
 */
#ifndef ML_IMPORT_PEERS_H
#define ML_IMPORT_PEERS_H

#include <stdio.h>
#include <apr_pools.h>
#include "../links/ml_link.h"

typedef struct ml_peer ml_peer;

/* The format called name, or NULL. */
const ml_peer *ml_peer_find(const char *name);

/* The names, for a usage message: "shlink, yourls or kutt". */
extern const char ml_peer_names[];

/*
 * Called for each link.  place is where it is in the file: a CSV record's
 * first line, or a JSON link's number counting from 1 (see
 * ml_peer_place_word).  note is NULL, or a sentence about something the
 * peer had that the link could not keep (Kutt's passwords, Shlink's
 * redirect rules).  The link's
 * strings are in the link_pool given to ml_peer_read(), which the callback
 * may clear between calls.  A non-zero return stops the reading and is
 * returned.
 */
typedef apr_status_t ml_peer_link_fn(void *ctx, const ml_link *link,
                                     apr_uint64_t place, const char *note);

/* NULL if places in a file of that form (ml_peer_is_json) are line
 * numbers (FILE:LINE: says one), else the word before the number
 * ("link": FILE: link 3:). */
const char *ml_peer_place_word(int json);

/*
 * Whether in holds the JSON form of peer's export (else its CSV form), by
 * peeking at its first bytes; a UTF-8 byte order mark is read past.  Call
 * it first, before ml_peer_read().
 */
int ml_peer_is_json(const ml_peer *peer, FILE *in);

/*
 * Reads in to its end as peer's export in the form given, calling take()
 * for each link.  Returns APR_SUCCESS; or take()'s non-zero status with
 * *problem NULL; or, when the file is at fault, APR_EINVAL (or the read
 * error) with *problem a sentence saying what is wrong and *place where.
 * Scratch memory comes from pool.
 */
apr_status_t ml_peer_read(const ml_peer *peer, int json, FILE *in,
                          ml_peer_link_fn *take, void *ctx,
                          apr_pool_t *link_pool, const char **problem,
                          apr_uint64_t *place, apr_pool_t *pool);

#endif /* ML_IMPORT_PEERS_H */
