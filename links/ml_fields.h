/*
 * ml_fields.h - a link's rules of schema version 2 as text: what the CSV
 * columns hold, what the minilink command's options and the creation form
 * take, and what "show" prints.  One copy of each reading, for all three.
 * Depends on APR only.
 */
#ifndef ML_FIELDS_H
#define ML_FIELDS_H

#include "ml_link.h"

typedef enum {
    ML_FIELD_TITLE,
    ML_FIELD_TAGS,               /* "a b c": separated by spaces (or commas) */
    ML_FIELD_VALID_SINCE,        /* a TIME (ml_time.h); written as Unix seconds */
    ML_FIELD_MAX_VISITS,         /* 1 to 2147483647 */
    ML_FIELD_FALLBACK_URL,
    ML_FIELD_PASSWORD_HASH,      /* a bcrypt hash, never a password */
    ML_FIELD_FORWARD_QUERY,      /* on or 1, off or 0; none: the location's */
    ML_FIELD_FORWARD_PATH,       /* the same */
    ML_FIELD_CRAWLABLE,          /* on or 1, off or 0 */
    ML_FIELD_RULES,              /* one redirect rule a line (ml_rules.h) */
    ML_FIELDS
} ml_field;

/* The field's name: its CSV column and database column ("valid_since"). */
const char *ml_field_name(ml_field field);

/*
 * Reads text into the field of link (strings from pool).  "" and none
 * (say "none", or NULL) clear it.  NULL, or a sentence saying what is
 * wrong; the whole link is checked later, by the store.
 */
const char *ml_field_read(ml_link *link, ml_field field, const char *text,
                          const char *none, apr_pool_t *pool);

/* The field as text, as ml_field_read() reads it back ("" when not set;
 * choices and crawlable as 1 or 0). */
const char *ml_field_write(const ml_link *link, ml_field field,
                           apr_pool_t *pool);

#endif /* ML_FIELDS_H */
