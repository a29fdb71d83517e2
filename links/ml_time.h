/*
 * ml_time.h - times as people write them and as links keep them.
 *
 * A TIME is Unix seconds (1924991999), a UTC time (2030-12-31T23:59:59Z)
 * or one with its offset from UTC (2031-01-01T01:59:59+02:00, as ISO 8601
 * and Shlink's API write it), or a date (2030-12-31, its midnight UTC).
 * The minilink command reads
 * expiry and "valid since" times and redirect rules' dates this way, the
 * module reads rules' dates from the database with it, and CSV and the
 * database keep rule dates in the UTC form ml_time_format() writes.
 * Depends on APR only.
 */
#ifndef ML_TIME_H
#define ML_TIME_H

#include <apr_pools.h>

/* The last second a TIME may name: 9999-12-31T23:59:59Z. */
#define ML_TIME_MAX APR_INT64_C(253402300799)

/*
 * Reads text as a TIME into *seconds (1 to ML_TIME_MAX).  Returns NULL, or
 * a sentence saying what is wrong that starts with `what` ("the expiry
 * time"), from pool.
 */
const char *ml_time_parse(const char *text, const char *what,
                          apr_int64_t *seconds, apr_pool_t *pool);

/* ml_time_parse() without the message: 1 and *seconds, or 0. */
int ml_time_read(const char *text, apr_int64_t *seconds);

/* seconds as YYYY-MM-DDTHH:MM:SSZ (UTC), from pool; or into out (1, or 0
 * if it cannot be written so). */
#define ML_TIME_TEXT 32
const char *ml_time_format(apr_int64_t seconds, apr_pool_t *pool);
int ml_time_write(apr_int64_t seconds, char out[ML_TIME_TEXT]);

/* The value of 1 to 15 decimal digits (so no overflow), else -1. */
apr_int64_t ml_decimal(const char *text);

#endif /* ML_TIME_H */
