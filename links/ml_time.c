/*
 * ml_time.c - reading and writing TIMEs (ml_time.h).
 */
#include <string.h>
#include <time.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "ml_time.h"

apr_int64_t ml_decimal(const char *text)
{
    apr_int64_t value = 0;
    size_t i, len = strlen(text);

    if (len == 0 || len > 15) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isdigit(text[i])) {
            return -1;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* True if text has the shape of pattern, where 'd' stands for a digit. */
static int shaped(const char *text, const char *pattern)
{
    for (; *pattern; text++, pattern++) {
        if (*pattern == 'd' ? !apr_isdigit(*text) : *text != *pattern) {
            return 0;
        }
    }
    return *text == '\0';
}

/* The number in the count digits at text + at (checked by shaped()). */
static int digits_at(const char *text, size_t at, size_t count)
{
    int value = 0;

    while (count-- > 0) {
        value = value * 10 + (text[at++] - '0');
    }
    return value;
}

/* The ISO-8601 forms a TIME may take, 'd' standing for a digit: a date,
 * a UTC time, and a time with its offset from UTC (what Shlink's clients
 * send: 2030-12-31T23:59:59+02:00), the sign at ZONE_SIGN. */
static const char iso_date[] = "dddd-dd-dd";
static const char iso_full[] = "dddd-dd-ddTdd:dd:ddZ";
static const char iso_zoned[] = "dddd-dd-ddTdd:dd:dd+dd:dd";
#define ZONE_SIGN 19

/* True if text is shaped as iso_zoned, with either sign. */
static int zoned(const char *text)
{
    char copy[sizeof(iso_zoned)];

    if (strlen(text) != sizeof(iso_zoned) - 1
        || (text[ZONE_SIGN] != '+' && text[ZONE_SIGN] != '-')) {
        return 0;
    }
    memcpy(copy, text, sizeof(copy));
    copy[ZONE_SIGN] = '+';
    return shaped(copy, iso_zoned);
}

/* A TIME's ISO form, any of the three. */
static int iso_shaped(const char *text)
{
    return shaped(text, iso_date) || shaped(text, iso_full) || zoned(text);
}

/*
 * Reads text, shaped as iso_date, iso_full or iso_zoned, as a time into
 * *seconds.  Returns 0 if there is no such time (February 30, 24:00, an
 * offset of 24 hours or 60 minutes).
 */
static int iso_time(const char *text, apr_int64_t *seconds)
{
    struct tm fields = {0}, normal;
    int offset = 0;

    fields.tm_year = digits_at(text, 0, 4) - 1900;
    fields.tm_mon = digits_at(text, 5, 2) - 1;
    fields.tm_mday = digits_at(text, 8, 2);
    if (text[10] != '\0') {
        fields.tm_hour = digits_at(text, 11, 2);
        fields.tm_min = digits_at(text, 14, 2);
        fields.tm_sec = digits_at(text, 17, 2);
        if (text[ZONE_SIGN] != 'Z') {
            int hours = digits_at(text, ZONE_SIGN + 1, 2);
            int minutes = digits_at(text, ZONE_SIGN + 4, 2);
            if (hours > 23 || minutes > 59) {
                return 0;
            }
            offset = (hours * 60 + minutes) * 60
                     * (text[ZONE_SIGN] == '-' ? -1 : 1);
        }
    }
    /* timegm() moves out-of-range fields along (February 30 becomes
     * March 2): a time that comes back changed does not exist. */
    normal = fields;
    /* 10:00+02:00 is 08:00Z. */
    *seconds = timegm(&normal) - offset;
    return normal.tm_year == fields.tm_year && normal.tm_mon == fields.tm_mon
        && normal.tm_mday == fields.tm_mday && normal.tm_hour == fields.tm_hour
        && normal.tm_min == fields.tm_min && normal.tm_sec == fields.tm_sec;
}

int ml_time_read(const char *text, apr_int64_t *seconds)
{
    apr_int64_t value = ml_decimal(text);

    if (value < 0 && !(iso_shaped(text) && iso_time(text, &value))) {
        return 0;
    }
    if (value < 1 || value > ML_TIME_MAX) {
        return 0;
    }
    *seconds = value;
    return 1;
}

const char *ml_time_parse(const char *text, const char *what,
                          apr_int64_t *seconds, apr_pool_t *pool)
{
    apr_int64_t value;

    if (ml_time_read(text, seconds)) {
        return NULL;
    }
    if (ml_decimal(text) < 0 && !iso_shaped(text)) {
        return apr_psprintf(pool, "%s '%s' is not Unix seconds, YYYY-MM-DD or "
                            "YYYY-MM-DDTHH:MM:SSZ (UTC; or +HH:MM from it)",
                            what, text);
    }
    if (ml_decimal(text) < 0 && !iso_time(text, &value)) {
        return apr_psprintf(pool, "%s '%s' does not exist (no such day, hour, "
                            "minute, second or offset)", what, text);
    }
    /* Time 0 is refused too: the store reads 0 as "not set". */
    return apr_psprintf(pool, "%s '%s' is not between 1970-01-01T00:00:01Z "
                        "and 9999-12-31T23:59:59Z", what, text);
}

int ml_time_write(apr_int64_t seconds, char out[ML_TIME_TEXT])
{
    time_t when = (time_t)seconds;
    struct tm utc;

    return gmtime_r(&when, &utc) != NULL
           && strftime(out, ML_TIME_TEXT, "%Y-%m-%dT%H:%M:%SZ", &utc) != 0;
}

const char *ml_time_format(apr_int64_t seconds, apr_pool_t *pool)
{
    char text[ML_TIME_TEXT];

    return ml_time_write(seconds, text)
           ? apr_pstrdup(pool, text)
           : apr_psprintf(pool, "%" APR_INT64_T_FMT, seconds);
}
