/*
 * ml_shlink_fields.h - a link's fields as Shlink's REST API sends them.
 * Depends on APR, jansson and links/ml_link.h.
 */
#ifndef ML_SHLINK_FIELDS_H
#define ML_SHLINK_FIELDS_H

#include <apr_tables.h>
#include <jansson.h>
#include "ml_link.h"

/*
 * The fields of a ShortUrl's creation or edition in body (Shlink's names)
 * into link: longUrl, title, tags (sorted, each once), validSince,
 * validUntil (the expiry), maxVisits, crawlable, forwardQuery; null
 * clears one, other keys are ignored.  Strings point into body.  NULL, or
 * what is wrong with *field naming it.
 */
const char *ml_shlink_read_fields(json_t *body, ml_link *link,
                                  const char **field, apr_pool_t *pool);

/* A whole number given as a number or as a string of digits: 1 and
 * *number if so.  true/false, or "true"/"false": 1 and *flag if so. */
int ml_shlink_whole(json_t *value, apr_int64_t *number);
int ml_shlink_flag(json_t *value, int *flag);

/* Sorts an array of const char * by byte value. */
void ml_shlink_sort_names(apr_array_header_t *names);

#endif /* ML_SHLINK_FIELDS_H */
