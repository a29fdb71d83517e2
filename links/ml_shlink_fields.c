/*
 * ml_shlink_fields.c - a link's fields as Shlink's REST API sends them
 * (longUrl, title, tags, validSince, validUntil, maxVisits, crawlable,
 * forwardQuery): what minilink-api reads from a creation or an edition.
 * Kinds are read as Shlink's clients send them, numbers and flags as
 * strings too.  Depends on APR, jansson and links/ only (tests/fuzz
 * fuzz_api runs it).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "ml_shlink_fields.h"
#include "ml_time.h"

/* A whole number given as a number or as a string of digits (clients send
 * either); 1 and *number if so. */
int ml_shlink_whole(json_t *value, apr_int64_t *number)
{
    char *end;

    if (json_is_integer(value)) {
        *number = (apr_int64_t)json_integer_value(value);
        return 1;
    }
    if (json_is_string(value) && *json_string_value(value)) {
        *number = apr_strtoi64(json_string_value(value), &end, 10);
        return *end == '\0';
    }
    return 0;
}

/* true/false, or "true"/"false" as a query string would send them. */
int ml_shlink_flag(json_t *value, int *flag)
{
    if (json_is_boolean(value)) {
        *flag = json_is_true(value);
        return 1;
    }
    if (json_is_string(value) && (strcmp(json_string_value(value), "true") == 0
                                  || strcmp(json_string_value(value), "false") == 0)) {
        *flag = strcmp(json_string_value(value), "true") == 0;
        return 1;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void ml_shlink_sort_names(apr_array_header_t *names)
{
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), by_name);
}

/* Tags: a list of tag names, sorted, each once. */
static const char *read_tags(json_t *list, ml_link *link, apr_pool_t *pool)
{
    apr_array_header_t *tags = apr_array_make(pool, 4, sizeof(const char *));
    apr_array_header_t *unique;
    size_t i;
    int k;

    if (!json_is_array(list)) {
        return "tags must be a list of tag names";
    }
    for (i = 0; i < json_array_size(list); i++) {
        json_t *tag = json_array_get(list, i);
        const char *problem = json_is_string(tag)
                              ? ml_tag_problem(json_string_value(tag))
                              : "a tag is a string";
        if (problem) {
            return problem;
        }
        APR_ARRAY_PUSH(tags, const char *) = apr_pstrdup(pool,
                                                         json_string_value(tag));
    }
    ml_shlink_sort_names(tags);
    unique = apr_array_make(pool, tags->nelts, sizeof(const char *));
    for (k = 0; k < tags->nelts; k++) {
        const char *tag = APR_ARRAY_IDX(tags, k, const char *);
        if (k == 0 || strcmp(tag, APR_ARRAY_IDX(tags, k - 1, const char *))) {
            APR_ARRAY_PUSH(unique, const char *) = tag;
        }
    }
    link->tags = unique->nelts ? unique : NULL;
    return NULL;
}

/* A time field: a string ml_time_parse() reads, or null for none. */
static const char *read_time(json_t *value, apr_int64_t *seconds,
                             apr_pool_t *pool)
{
    if (json_is_null(value)) {
        *seconds = 0;
        return NULL;
    }
    if (!json_is_string(value)) {
        return "a time is a string such as 2030-01-01T00:00:00+00:00";
    }
    return ml_time_parse(json_string_value(value), "the time", seconds, pool);
}

/*
 * The fields of a ShortUrl's creation or edition (Shlink's names) into
 * link; null clears one.  Fields not Shlink's or not ours are ignored.
 * NULL, or what is wrong with *field naming it.
 */
const char *ml_shlink_read_fields(json_t *body, ml_link *link, const char **field,
                               apr_pool_t *pool)
{
    const char *problem = NULL;
    json_t *value;
    apr_int64_t number;
    int flag;

    if ((value = json_object_get(body, *field = "longUrl")) != NULL) {
        problem = json_is_string(value) ? NULL : "longUrl must be a URL";
        link->url = problem ? link->url : json_string_value(value);
    }
    if (!problem && (value = json_object_get(body, *field = "title")) != NULL) {
        if (json_is_null(value) || (json_is_string(value)
                                    && !*json_string_value(value))) {
            link->title = NULL;
        }
        else if (!json_is_string(value)
                 || (problem = ml_title_problem(json_string_value(value)))) {
            problem = problem ? problem : "title must be a string";
        }
        else {
            link->title = json_string_value(value);
        }
    }
    if (!problem && (value = json_object_get(body, *field = "tags")) != NULL) {
        problem = json_is_null(value) ? (link->tags = NULL, NULL)
                                      : read_tags(value, link, pool);
    }
    if (!problem && (value = json_object_get(body, *field = "validSince"))) {
        problem = read_time(value, &link->valid_since, pool);
    }
    if (!problem && (value = json_object_get(body, *field = "validUntil"))) {
        problem = read_time(value, &link->expires_at, pool);
    }
    if (!problem && (value = json_object_get(body, *field = "maxVisits"))) {
        if (json_is_null(value)) {
            link->max_visits = 0;
        }
        else if (!ml_shlink_whole(value, &number) || number < 1
                 || number > ML_MAX_VISITS_MAX) {
            problem = "maxVisits must be a whole number from 1";
        }
        else {
            link->max_visits = number;
        }
    }
    if (!problem && (value = json_object_get(body, *field = "crawlable"))) {
        problem = ml_shlink_flag(value, &flag) ? NULL : "crawlable must be true or false";
        link->crawlable = problem ? link->crawlable : flag;
    }
    if (!problem && (value = json_object_get(body, *field = "forwardQuery"))) {
        problem = ml_shlink_flag(value, &flag) ? NULL
                  : "forwardQuery must be true or false";
        link->forward_query = problem ? link->forward_query
                               : flag ? ML_CHOICE_ON : ML_CHOICE_OFF;
    }
    return problem;
}
