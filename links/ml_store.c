/*
 * ml_store.c - what every database engine shares: naming a database by its
 * location, validating links before they are written, random slugs, and
 * reading the change log.  The SQL is the engines' (ml_store_engine.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "ml_store_engine.h"

#define RANDOM_SLUG_LEN 6
#define RANDOM_SLUG_TRIES 12

static const char *const uri_schemes[] = { "postgresql://", "postgres://" };

static int is_uri(const char *location)
{
    apr_size_t i;

    for (i = 0; i < sizeof(uri_schemes) / sizeof(uri_schemes[0]); i++) {
        if (strncmp(location, uri_schemes[i], strlen(uri_schemes[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

static int is_params(const char *location)
{
    return strncmp(location, ML_STORE_PGSQL_PREFIX,
                   strlen(ML_STORE_PGSQL_PREFIX)) == 0;
}

int ml_store_location_is_file(const char *location)
{
    return !is_uri(location) && !is_params(location);
}

/* Appends `n` bytes of text to out. */
static char *append(char *out, const char *text, apr_size_t n)
{
    memcpy(out, text, n);
    return out + n;
}

/*
 * A URI's password is in "user:password@" before the host, or in a
 * "password=" query parameter.  Everything else is copied.
 */
static void hide_in_uri(const char *uri, char *out)
{
    const char *authority = strstr(uri, "://") + 3;
    const char *end = authority + strcspn(authority, "/?");
    const char *at = memchr(authority, '@', (apr_size_t)(end - authority));
    const char *colon = at ? memchr(authority, ':', (apr_size_t)(at - authority))
                           : NULL;
    const char *query = strchr(end, '?');
    const char *p = uri;

    if (colon) {
        out = append(out, p, (apr_size_t)(colon + 1 - p));
        out = append(out, "***", 3);
        p = at;
    }
    while (query && (query = strstr(query + 1, "password=")) != NULL) {
        if (query[-1] != '?' && query[-1] != '&') {
            continue;
        }
        query += strlen("password=");
        out = append(out, p, (apr_size_t)(query - p));
        out = append(out, "***", 3);
        p = query + strcspn(query, "&");
    }
    strcpy(out, p);
}

/*
 * libpq's "key = value" parameters: a value is a run of non-space
 * characters or a single-quoted string with backslash escapes.  Only the
 * password's value is replaced; the rest is copied as written.
 */
static void hide_in_params(const char *params, char *out)
{
    const char *p = params;

    while (*p) {
        const char *key = p + strspn(p, " \t\n\r\f\v");
        apr_size_t key_len = strcspn(key, "= \t\n\r\f\v");
        const char *value = key + key_len;
        const char *value_end;

        value += strspn(value, " \t\n\r\f\v");
        if (*value == '=') {
            value++;
            value += strspn(value, " \t\n\r\f\v");
        }
        if (*value == '\'') {
            for (value_end = value + 1; *value_end && *value_end != '\''; value_end++) {
                if (*value_end == '\\' && value_end[1]) {
                    value_end++;
                }
            }
            value_end += *value_end == '\'';
        }
        else {
            value_end = value + strcspn(value, " \t\n\r\f\v");
        }
        if (value_end == p) {           /* nothing left but spaces */
            break;
        }
        out = append(out, p, (apr_size_t)(value - p));
        if (key_len == 8 && strncmp(key, "password", 8) == 0) {
            out = append(out, "***", 3);
        }
        else {
            out = append(out, value, (apr_size_t)(value_end - value));
        }
        p = value_end;
    }
    strcpy(out, p);
}

const char *ml_store_location_label(const char *location, apr_pool_t *pool)
{
    /* A hidden value grows by at most 3 bytes (an empty one becomes
     * "***"), and each takes at least 2 bytes of the location. */
    char *label = apr_palloc(pool, strlen(location) * 2 + 8);

    if (is_uri(location)) {
        hide_in_uri(location, label);
    }
    else if (is_params(location)) {
        strcpy(label, ML_STORE_PGSQL_PREFIX);
        hide_in_params(location + strlen(ML_STORE_PGSQL_PREFIX),
                       label + strlen(ML_STORE_PGSQL_PREFIX));
    }
    else {
        strcpy(label, location);
    }
    return label;
}

/* libpq parameters for a PostgreSQL location, with a connect timeout. */
static const char *pgsql_target(const char *location, apr_pool_t *pool)
{
    const char *params = is_uri(location)
                         ? location : location + strlen(ML_STORE_PGSQL_PREFIX);

    if (strstr(params, "connect_timeout") != NULL) {
        return params;
    }
    if (is_uri(location)) {
        return apr_psprintf(pool, "%s%cconnect_timeout=%d", params,
                            strchr(params, '?') ? '&' : '?',
                            ML_STORE_CONNECT_TIMEOUT);
    }
    return apr_psprintf(pool, "%s connect_timeout=%d", params,
                        ML_STORE_CONNECT_TIMEOUT);
}

apr_status_t ml_store_fail(ml_store *store, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    apr_vsnprintf(store->error, sizeof(store->error), format, args);
    va_end(args);
    return APR_EGENERAL;
}

static apr_status_t open_store(ml_store **result, const char *location,
                               ml_store_mode mode, int refuse_symlinks,
                               apr_pool_t *pool)
{
    ml_store *store = apr_pcalloc(pool, sizeof(*store));

    *result = store;
    store->label = ml_store_location_label(location, pool);
    store->refuse_symlinks = refuse_symlinks;
    if (ml_store_location_is_file(location)) {
        store->engine = &ml_store_sqlite;
        return store->engine->open(store, location, mode, pool);
    }
    store->engine = &ml_store_pgsql;
    return store->engine->open(store, pgsql_target(location, pool), mode, pool);
}

apr_status_t ml_store_open(ml_store **store, const char *location,
                           ml_store_mode mode, apr_pool_t *pool)
{
    return open_store(store, location, mode, 0, pool);
}

apr_status_t ml_store_open_no_symlinks(ml_store **store, const char *location,
                                       ml_store_mode mode, apr_pool_t *pool)
{
    return open_store(store, location, mode, 1, pool);
}

apr_status_t ml_store_check(ml_store *store)
{
    return store->engine->check(store);
}

const char *ml_store_error(const ml_store *store)
{
    return store->error;
}

apr_status_t ml_store_init(ml_store *store)
{
    return store->engine->init(store);
}

apr_status_t ml_store_schema_usable(ml_store *store, apr_int64_t version)
{
    if (version > ML_STORE_SCHEMA_VERSION) {
        return ml_store_fail(store, "%s: schema version %" APR_INT64_T_FMT
                             " is newer than the %d this minilink understands;"
                             " a newer minilink made it, use that one",
                             store->label, version, ML_STORE_SCHEMA_VERSION);
    }
    store->schema_version = version;
    return APR_SUCCESS;
}

apr_int64_t ml_store_schema_version(const ml_store *store)
{
    return store->schema_version;
}

apr_status_t ml_store_upgrade(ml_store *store, apr_int64_t *from)
{
    apr_int64_t version = 0;
    apr_status_t rv = store->engine->begin(store, ML_TXN_WRITE);

    *from = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = store->engine->schema_version(store, &version)) == APR_SUCCESS) {
        rv = ml_store_schema_usable(store, version);
    }
    if (rv == APR_SUCCESS && version < ML_STORE_SCHEMA_VERSION) {
        rv = store->engine->migrate(store, version);
    }
    if (rv == APR_SUCCESS) {
        rv = store->engine->commit(store);
    }
    else {
        store->engine->rollback(store);
    }
    if (rv == APR_SUCCESS) {
        *from = version;
        store->schema_version = ML_STORE_SCHEMA_VERSION;
    }
    return rv;
}

/* Validates the link; APR_EINVAL with the problem as the error. */
static apr_status_t validate(ml_store *store, const ml_link *link)
{
    const char *problem = ml_link_problem(link);

    if (problem) {
        ml_store_fail(store, "%s", problem);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t ml_store_add(ml_store *store, ml_link *link, apr_pool_t *pool)
{
    char slug[ML_SLUG_MAX + 1];
    apr_size_t length = RANDOM_SLUG_LEN;
    apr_status_t rv;
    int tries;

    if (link->slug != NULL) {
        /* A link that breaks a rule is told so by ml_store_restore(). */
        const char *problem = ml_link_problem(link) ? NULL
                              : ml_slug_new_problem(link->slug);
        if (problem) {
            ml_store_fail(store, "%s", problem);
            return APR_EINVAL;
        }
        return ml_store_restore(store, link);
    }
    /* A random slug: the UNIQUE index settles collisions, and every few
     * collisions the slug grows so a crowded length cannot stall us. */
    for (tries = 0; tries < RANDOM_SLUG_TRIES; tries++) {
        if ((rv = ml_slug_random(slug, length)) != APR_SUCCESS) {
            ml_store_fail(store, "no random bytes for a slug");
            return rv;
        }
        link->slug = slug;
        if ((rv = validate(store, link)) == APR_SUCCESS) {
            rv = store->engine->insert(store, link);
        }
        link->slug = NULL;
        if (rv != APR_EEXIST) {
            if (rv == APR_SUCCESS) {
                link->slug = apr_pstrdup(pool, slug);
            }
            return rv;
        }
        if (tries % 3 == 2) {
            length++;
        }
    }
    ml_store_fail(store, "could not find a free random slug");
    return APR_EEXIST;
}

apr_status_t ml_store_restore(ml_store *store, ml_link *link)
{
    apr_status_t rv = validate(store, link);

    return rv ? rv : store->engine->insert(store, link);
}

apr_status_t ml_store_add_group(ml_store *store, const ml_link *links,
                                const int *restored, apr_size_t count,
                                apr_size_t *failed)
{
    apr_size_t i;

    for (i = 0; i < count; i++) {
        const char *problem = ml_link_problem(&links[i]);
        if (problem == NULL && !(restored && restored[i])) {
            problem = ml_slug_new_problem(links[i].slug);
        }
        if (problem) {
            *failed = i;
            ml_store_fail(store, "%s", problem);
            return APR_EINVAL;
        }
    }
    return count ? store->engine->insert_group(store, links, count, failed)
                 : APR_SUCCESS;
}

apr_status_t ml_store_update(ml_store *store, const ml_link *link)
{
    apr_status_t rv = validate(store, link);

    return rv ? rv : store->engine->update(store, link);
}

apr_status_t ml_store_find_url(ml_store *store, const char *url,
                               apr_int64_t now, ml_link *link,
                               apr_pool_t *pool)
{
    return store->engine->find_url(store, url, now, link, pool);
}

apr_status_t ml_store_write_begin(ml_store *store)
{
    return store->engine->begin(store, ML_TXN_WRITE);
}

apr_status_t ml_store_write_commit(ml_store *store)
{
    return store->engine->commit(store);
}

void ml_store_write_rollback(ml_store *store)
{
    store->engine->rollback(store);
}

apr_status_t ml_store_remove(ml_store *store, const char *slug)
{
    return store->engine->remove(store, slug);
}

apr_status_t ml_store_get(ml_store *store, const char *slug, ml_link *link,
                          const char **problem, apr_pool_t *pool)
{
    return store->engine->get(store, slug, link, problem, pool);
}

apr_status_t ml_store_each(ml_store *store, ml_store_row_fn *row, void *ctx)
{
    return store->engine->each(store, row, ctx);
}

apr_status_t ml_store_each_served(ml_store *store, ml_store_row_fn *row,
                                  void *ctx)
{
    return store->engine->each_served(store, row, ctx);
}

apr_status_t ml_store_summary(ml_store *store, apr_uint32_t *links,
                              apr_uint64_t *text_bytes)
{
    return store->engine->summary(store, links, text_bytes);
}

apr_status_t ml_store_change_seq(ml_store *store, apr_uint64_t *seq)
{
    return store->engine->change_seq(store, seq);
}

apr_status_t ml_store_changes_since(ml_store *store, apr_uint64_t after,
                                    ml_store_change_fn *changed, void *ctx,
                                    int *complete)
{
    apr_uint64_t newest, oldest;
    apr_status_t rv;

    *complete = 0;
    if ((rv = store->engine->change_seq(store, &newest))
        || (rv = store->engine->oldest_change(store, &oldest))) {
        return rv;
    }
    /* A newest number below ours means another database now has this
     * name; an oldest kept entry past ours (or none) means entries we need
     * were pruned or deleted. */
    if (newest < after
        || (newest > after && (oldest == 0 || oldest > after + 1))) {
        return APR_SUCCESS;
    }
    *complete = 1;
    return store->engine->changes_after(store, after, changed, ctx);
}

apr_status_t ml_store_add_clicks(ml_store *store, const ml_store_clicks *adds,
                                 apr_size_t count)
{
    return count ? store->engine->add_clicks(store, adds, count) : APR_SUCCESS;
}

apr_status_t ml_store_top(ml_store *store, int count, ml_store_row_fn *row,
                          void *ctx)
{
    return store->engine->top(store, count, row, ctx);
}

apr_status_t ml_store_click_total(ml_store *store, apr_uint64_t *clicks)
{
    return store->engine->click_total(store, clicks);
}

apr_status_t ml_store_meta_get(ml_store *store, const char *key,
                               apr_int64_t *value)
{
    return store->engine->meta_get(store, key, value);
}

apr_status_t ml_store_meta_set(ml_store *store, const char *key,
                               apr_int64_t value)
{
    return store->engine->meta_set(store, key, value);
}

apr_status_t ml_store_read_begin(ml_store *store)
{
    return store->engine->begin(store, ML_TXN_READ);
}

apr_status_t ml_store_read_end(ml_store *store)
{
    return store->engine->commit(store);
}

/* ---- visits -------------------------------------------------------------- */

/* Visits need schema version 2: an older database says what to do. */
static apr_status_t visits_usable(ml_store *store)
{
    if (store->schema_version >= 2) {
        return APR_SUCCESS;
    }
    return ml_store_fail(store, "%s: schema version %" APR_INT64_T_FMT
                         " has no visits table; run 'minilink --db ... "
                         "upgrade' to add it", store->label,
                         store->schema_version);
}

static int by_link_and_day(const void *a, const void *b)
{
    const ml_store_visit_day *x = a, *y = b;

    return x->link_id != y->link_id ? (x->link_id > y->link_id) - (x->link_id < y->link_id)
                                    : (x->day > y->day) - (x->day < y->day);
}

/*
 * The visits to links, counted by link and day: sorted, so that hosts
 * adding to the same days at once lock their rows in one order (and
 * cannot deadlock).  Returns how many days, in days[] (room for count).
 */
static apr_size_t roll_up(const ml_store_visit *visits, apr_size_t count,
                          ml_store_visit_day *days)
{
    apr_size_t i, n = 0, kept = 0;

    for (i = 0; i < count; i++) {
        if (visits[i].link_id != 0) {
            days[n].link_id = visits[i].link_id;
            days[n].day = ml_store_day_of(visits[i].visited_at);
            days[n].clicks = 1;
            days[n].bots = visits[i].bot != 0;
            n++;
        }
    }
    qsort(days, n, sizeof(*days), by_link_and_day);
    for (i = 0; i < n; i++) {
        if (kept > 0 && days[kept - 1].link_id == days[i].link_id
            && days[kept - 1].day == days[i].day) {
            days[kept - 1].clicks += days[i].clicks;
            days[kept - 1].bots += days[i].bots;
        }
        else {
            days[kept++] = days[i];
        }
    }
    return kept;
}

apr_int64_t ml_store_day_of(apr_int64_t seconds)
{
    apr_int64_t day = seconds - seconds % 86400;

    return seconds < 0 && seconds % 86400 ? day - 86400 : day;
}

apr_status_t ml_store_add_visits(ml_store *store, const ml_store_visit *visits,
                                 apr_size_t count, apr_pool_t *scratch)
{
    ml_store_visit_day *days;
    apr_size_t ndays;
    apr_status_t rv;

    if (count == 0) {
        return APR_SUCCESS;
    }
    if ((rv = visits_usable(store)) != APR_SUCCESS
        || (rv = store->engine->add_visits(store, visits, count))
           != APR_SUCCESS) {
        return rv;
    }
    days = apr_palloc(scratch, count * sizeof(*days));
    ndays = roll_up(visits, count, days);
    return ndays ? store->engine->add_visit_days(store, days, ndays)
                 : APR_SUCCESS;
}

apr_status_t ml_store_prune_visits(ml_store *store, apr_int64_t before,
                                   int limit, apr_uint64_t *deleted)
{
    apr_status_t rv = visits_usable(store);

    *deleted = 0;
    return rv ? rv : store->engine->prune_visits(store, before, limit, deleted);
}

apr_status_t ml_store_each_visit(ml_store *store,
                                 const ml_store_visit_query *query,
                                 ml_store_visit_fn *fn, void *ctx)
{
    apr_status_t rv = visits_usable(store);

    return rv ? rv : store->engine->each_visit(store, query, fn, ctx);
}

apr_status_t ml_store_count_visits(ml_store *store,
                                   const ml_store_visit_query *query,
                                   apr_uint64_t *count)
{
    apr_status_t rv = visits_usable(store);

    *count = 0;
    return rv ? rv : store->engine->count_visits(store, query, count);
}

apr_status_t ml_store_each_visit_day(ml_store *store, const char *slug,
                                     apr_int64_t since,
                                     ml_store_visit_day_fn *fn, void *ctx)
{
    apr_status_t rv = visits_usable(store);

    return rv ? rv : store->engine->each_visit_day(store, slug,
                                                   ml_store_day_of(since),
                                                   fn, ctx);
}
