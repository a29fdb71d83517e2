/*
 * ml_fields.c - a link's rules of schema version 2 as text (ml_fields.h).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "ml_fields.h"
#include "ml_time.h"

static const char *const names[ML_FIELDS] = {
    [ML_FIELD_TITLE] = "title",
    [ML_FIELD_TAGS] = "tags",
    [ML_FIELD_VALID_SINCE] = "valid_since",
    [ML_FIELD_MAX_VISITS] = "max_visits",
    [ML_FIELD_FALLBACK_URL] = "fallback_url",
    [ML_FIELD_PASSWORD_HASH] = "password_hash",
    [ML_FIELD_FORWARD_QUERY] = "forward_query",
    [ML_FIELD_FORWARD_PATH] = "forward_path",
    [ML_FIELD_CRAWLABLE] = "crawlable",
    [ML_FIELD_RULES] = "redirect_rules",
};

const char *ml_field_name(ml_field field)
{
    return (unsigned)field < ML_FIELDS ? names[field] : "?";
}

static int compare_tags(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Tags separated by spaces or commas, sorted, each once. */
static const char *read_tags(ml_link *link, const char *text, apr_pool_t *pool)
{
    apr_array_header_t *tags = apr_array_make(pool, 4, sizeof(const char *));
    const char *at = text, *problem;
    int i, kept = 0;

    while (*(at += strspn(at, " \t,"))) {
        apr_size_t len = strcspn(at, " \t,");
        const char *tag = apr_pstrmemdup(pool, at, len);
        if ((problem = ml_tag_problem(tag)) != NULL) {
            return apr_psprintf(pool, "'%s': %s", tag, problem);
        }
        APR_ARRAY_PUSH(tags, const char *) = tag;
        at += len;
    }
    qsort(tags->elts, (size_t)tags->nelts, sizeof(const char *), compare_tags);
    for (i = 0; i < tags->nelts; i++) {
        if (kept == 0 || strcmp(APR_ARRAY_IDX(tags, i, const char *),
                                APR_ARRAY_IDX(tags, kept - 1, const char *))) {
            APR_ARRAY_IDX(tags, kept++, const char *) =
                APR_ARRAY_IDX(tags, i, const char *);
        }
    }
    tags->nelts = kept;
    if (kept > ML_TAGS_MAX) {
        return "a link may have at most 32 tags";
    }
    link->tags = kept ? tags : NULL;
    return NULL;
}

/* on/1, off/0: 1 or 0; -1 for anything else. */
static int on_off(const char *text)
{
    if (strcasecmp(text, "on") == 0 || strcmp(text, "1") == 0) {
        return 1;
    }
    if (strcasecmp(text, "off") == 0 || strcmp(text, "0") == 0) {
        return 0;
    }
    return -1;
}

/* Clears the field (its "not set"). */
static void clear(ml_link *link, ml_field field)
{
    switch (field) {
    case ML_FIELD_TITLE:
        link->title = NULL;
        break;
    case ML_FIELD_TAGS:
        link->tags = NULL;
        break;
    case ML_FIELD_VALID_SINCE:
        link->valid_since = 0;
        break;
    case ML_FIELD_MAX_VISITS:
        link->max_visits = 0;
        break;
    case ML_FIELD_FALLBACK_URL:
        link->fallback_url = NULL;
        break;
    case ML_FIELD_PASSWORD_HASH:
        link->password_hash = NULL;
        break;
    case ML_FIELD_FORWARD_QUERY:
        link->forward_query = ML_CHOICE_DEFAULT;
        break;
    case ML_FIELD_FORWARD_PATH:
        link->forward_path = ML_CHOICE_DEFAULT;
        break;
    case ML_FIELD_CRAWLABLE:
        link->crawlable = 0;
        break;
    default:
        link->rules = NULL;
        link->nrules = 0;
    }
}

const char *ml_field_read(ml_link *link, ml_field field, const char *text,
                          const char *none, apr_pool_t *pool)
{
    const char *problem;
    apr_int64_t number;
    ml_rule *rules;
    int choice, count;

    if (*text == '\0' || (none && strcmp(text, none) == 0)) {
        clear(link, field);
        return NULL;
    }
    switch (field) {
    case ML_FIELD_TITLE:
        link->title = text;
        return ml_title_problem(text);
    case ML_FIELD_TAGS:
        return read_tags(link, text, pool);
    case ML_FIELD_VALID_SINCE:
        return ml_time_parse(text, "the valid-since time", &link->valid_since,
                             pool);
    case ML_FIELD_MAX_VISITS:
        number = ml_decimal(text);
        if (number < 1 || number > ML_MAX_VISITS_MAX) {
            return apr_psprintf(pool, "the visit limit '%s' is not a number "
                                "from 1 to 2147483647", text);
        }
        link->max_visits = number;
        return NULL;
    case ML_FIELD_FALLBACK_URL:
        link->fallback_url = text;
        problem = ml_url_problem(text, strlen(text));
        return problem ? apr_pstrcat(pool, "the fallback URL: ", problem, NULL)
                       : NULL;
    case ML_FIELD_PASSWORD_HASH:
        link->password_hash = text;
        return ml_password_hash_problem(text);
    case ML_FIELD_FORWARD_QUERY:
    case ML_FIELD_FORWARD_PATH:
    case ML_FIELD_CRAWLABLE:
        if ((choice = on_off(text)) < 0) {
            return apr_psprintf(pool, "%s must be on or off (or 1 or 0), not "
                                "'%s'", names[field], text);
        }
        if (field == ML_FIELD_CRAWLABLE) {
            link->crawlable = choice;
        }
        else {
            *(field == ML_FIELD_FORWARD_QUERY ? &link->forward_query
                                              : &link->forward_path) =
                choice ? ML_CHOICE_ON : ML_CHOICE_OFF;
        }
        return NULL;
    default:
        if ((problem = ml_rules_parse(text, &rules, &count, pool)) != NULL) {
            return problem;
        }
        link->rules = rules;
        link->nrules = count;
        return NULL;
    }
}

static const char *number(apr_int64_t value, apr_pool_t *pool)
{
    return value ? apr_psprintf(pool, "%" APR_INT64_T_FMT, value) : "";
}

const char *ml_field_write(const ml_link *link, ml_field field,
                           apr_pool_t *pool)
{
    const char *text = "";
    ml_choice choice;
    int i;

    switch (field) {
    case ML_FIELD_TITLE:
        return link->title ? link->title : "";
    case ML_FIELD_TAGS:
        for (i = 0; link->tags && i < link->tags->nelts; i++) {
            text = apr_pstrcat(pool, text, i ? " " : "",
                               APR_ARRAY_IDX(link->tags, i, const char *),
                               NULL);
        }
        return text;
    case ML_FIELD_VALID_SINCE:
        return number(link->valid_since, pool);
    case ML_FIELD_MAX_VISITS:
        return number(link->max_visits, pool);
    case ML_FIELD_FALLBACK_URL:
        return link->fallback_url ? link->fallback_url : "";
    case ML_FIELD_PASSWORD_HASH:
        return link->password_hash ? link->password_hash : "";
    case ML_FIELD_FORWARD_QUERY:
    case ML_FIELD_FORWARD_PATH:
        choice = field == ML_FIELD_FORWARD_QUERY ? link->forward_query
                                                 : link->forward_path;
        return choice == ML_CHOICE_ON ? "1" : choice == ML_CHOICE_OFF ? "0" : "";
    case ML_FIELD_CRAWLABLE:
        return link->crawlable ? "1" : "0";
    default:
        return link->nrules && link->rules
               ? ml_rules_format(link->rules, link->nrules, pool) : "";
    }
}
